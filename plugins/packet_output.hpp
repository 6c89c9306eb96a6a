// Packet output for plugins (wdcap, a later pcapextract): each worker hands
// whole packets to its own PacketAppender, a bounded single-producer /
// single-consumer byte ring; a control-plane writer thread drains every
// worker's ring, merges the packets into timestamp order and writes them to
// pcap or pcapng files (control/pcap/). On a live capture a worker never
// waits: a packet that does not fit is counted as a drop and forgotten. A
// file run loses nothing: the worker waits for room (and so paces the
// reader), up to kMaxWaitSeconds of a stalled output before it drops.
// Nothing is allocated, locked or system-called per packet while there is
// room.
//
// Per-flow files (pcapextract's `files: per_flow`): each packet carries the
// plugin's flow id (per worker, 0: none), and a worker announces an id's
// flow key (append_flow_key) before the id's first packet and again at its
// first packet of every interval; the writer routes by (worker, id).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

namespace privateer {

enum class PacketFormat : uint8_t { pcap, pcapng };
enum class PacketCompression : uint8_t { none, gzip, zstd };

struct PacketStreamOptions {
  PacketFormat format = PacketFormat::pcap;
  bool nanoseconds = false;          // pcap: the ns magic; pcapng: if_tsresol 9
  PacketCompression compression = PacketCompression::none;
  int level = 0;                     // 0: the library's default
  uint32_t snaplen = 262144;         // written in the file header (packets are cut by the plugin)
  size_t buffer_bytes = 16u << 20;   // per worker ring
  bool write_stats = true;           // NAME.stats beside each finished file
  bool per_flow = false;             // one file per flow id (see PacketAppender::append_flow_key)
  uint32_t max_open_files = 64;      // per_flow: files open at once; the least recently written is finished
};

// The flow a per-flow file is for, as the flow table keeps it (FlowRecord):
// `a` the flow's first sender; IPv4 addresses as 4 bytes of the host-order
// value, then zeros.
struct PacketFlowKey {
  uint8_t a[16];
  uint8_t b[16];
  uint16_t aport, bport;
  uint8_t proto, ip_version;
};

// Why a packet did not reach a complete file.
enum class PacketDrop : uint8_t { buffer_full, no_space, io_error, linktype };
constexpr size_t kPacketDropReasons = 4;
const char* packet_drop_name(PacketDrop r);   // buffer_full, no_space, io_error, linktype

// One worker's ring. Records are 32-byte aligned: a header, then the bytes.
class PacketAppender {
 public:
  struct Header {
    uint64_t ts_ns;
    uint32_t caplen;
    uint32_t wirelen;
    uint32_t size;       // whole record, header and padding included
    uint16_t linktype;
    uint16_t skip;       // 0: a packet; kFiller: up to the ring's end; kFlowKey: the bytes are a PacketFlowKey
    uint32_t flow;       // the plugin's flow id (0: none)
  };
  static constexpr uint16_t kFiller = 1, kFlowKey = 2;
  static constexpr size_t kAlign = 32;
  static constexpr int kMaxWaitSeconds = 30;

  // `bytes` is rounded up to a power of two of at least 64 KiB.
  explicit PacketAppender(size_t bytes) {
    size_t cap = 64 * 1024;
    while (cap < bytes) cap <<= 1;
    cap_ = cap;
    buf_ = std::make_unique<uint8_t[]>(cap_);
  }

  // Set before the worker starts: wait for room instead of dropping (file runs).
  void set_wait_when_full(bool wait) { wait_ = wait; }

  // Copies one packet (its bytes: a then b; `flow`: the plugin's flow id,
  // for per-flow files) into the ring; false (and a buffer_full drop
  // counted) when it does not fit.
  bool append(uint64_t ts_ns, uint32_t wirelen, uint16_t linktype, const uint8_t* a, uint32_t alen,
              const uint8_t* b = nullptr, uint32_t blen = 0, uint32_t flow = 0) {
    return put(0, flow, ts_ns, wirelen, linktype, a, alen, b, blen);
  }
  bool append(uint64_t ts_ns, uint32_t caplen, uint32_t wirelen, uint16_t linktype, const uint8_t* bytes) {
    return append(ts_ns, wirelen, linktype, bytes, caplen);
  }
  // Flow `flow`'s key, for the packets of that id that follow (per-flow
  // files); `ts_ns` is the next packet's. False when it does not fit (not
  // a packet drop: the id's packets then go to a file named for the id).
  bool append_flow_key(uint64_t ts_ns, uint32_t flow, const PacketFlowKey& k) {
    return put(kFlowKey, flow, ts_ns, 0, 0, reinterpret_cast<const uint8_t*>(&k), sizeof k, nullptr, 0);
  }
  // The worker has nothing older than `ts_ns` to come (an interval's end).
  void advance(uint64_t ts_ns) {
    if (ts_ns > watermark_.load(std::memory_order_relaxed)) watermark_.store(ts_ns, std::memory_order_release);
  }

  uint64_t appended() const { return appended_.load(std::memory_order_relaxed); }
  // Bytes waiting in the ring (either side).
  size_t used() const { return head_pub_.load(std::memory_order_acquire) - tail_.load(std::memory_order_acquire); }
  size_t capacity() const { return cap_; }
  uint64_t drops() const { return drops_.load(std::memory_order_relaxed); }

  // Consumer side (the writer thread). watermark() must be read before peek().
  uint64_t watermark() const { return watermark_.load(std::memory_order_acquire); }
  // The next record (a packet or a flow key), or null when the ring is
  // empty (fillers skipped). The producer's head is read again only once
  // the records seen are used up.
  const Header* peek() {
    for (;;) {
      if (ctail_ == head_seen_ && ctail_ == (head_seen_ = head_pub_.load(std::memory_order_acquire))) return nullptr;
      const auto* h = reinterpret_cast<const Header*>(buf_.get() + (ctail_ & (cap_ - 1)));
      if (h->skip != kFiller) return h;
      ctail_ += h->size;
    }
  }
  static const uint8_t* bytes(const Header* h) { return reinterpret_cast<const uint8_t*>(h) + sizeof(Header); }
  // Frees the record peek() returned (the room is handed back in pieces of
  // an eighth of the ring, and by release()).
  void pop() {
    ctail_ += reinterpret_cast<const Header*>(buf_.get() + (ctail_ & (cap_ - 1)))->size;
    if (ctail_ - tail_pub_ >= cap_ / 8) release();
  }
  // Hands the room of every popped record back to the producer.
  void release() {
    if (tail_pub_ == ctail_) return;
    tail_pub_ = ctail_;
    tail_.store(ctail_, std::memory_order_release);
  }

 private:
  bool put(uint16_t kind, uint32_t flow, uint64_t ts_ns, uint32_t wirelen, uint16_t linktype, const uint8_t* a,
           uint32_t alen, const uint8_t* b, uint32_t blen) {
    const uint32_t caplen = alen + blen;
    const size_t size = (sizeof(Header) + caplen + kAlign - 1) & ~(kAlign - 1);
    size_t pos = head_ & (cap_ - 1);
    size_t need = size;
    const size_t to_end = cap_ - pos;
    if (to_end < size) need += to_end;   // a filler, then the record at the start
    // The consumer's tail is read again only when the cached one says full.
    if (size > cap_ / 2 ||
        (head_ + need - tail_seen_ > cap_ && head_ + need - (tail_seen_ = tail_.load(std::memory_order_acquire)) > cap_ &&
         !wait_for(need))) {
      if (kind == 0) drops_.store(drops_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);   // one writer
      return false;
    }
    if (to_end < size) {
      Header f{0, 0, 0, static_cast<uint32_t>(to_end), 0, kFiller, 0};
      std::memcpy(buf_.get() + pos, &f, sizeof f);
      pos = 0;
    }
    Header h{ts_ns, caplen, wirelen, static_cast<uint32_t>(size), linktype, kind, flow};
    std::memcpy(buf_.get() + pos, &h, sizeof h);
    if (alen) std::memcpy(buf_.get() + pos + sizeof h, a, alen);
    if (blen) std::memcpy(buf_.get() + pos + sizeof h + alen, b, blen);
    head_ += need;
    head_pub_.store(head_, std::memory_order_release);
    watermark_.store(ts_ns, std::memory_order_release);
    if (kind == 0) appended_.store(appended_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);   // one writer
    return true;
  }

  // The slow path of a file run: until the consumer has made room for
  // `need` bytes, or kMaxWaitSeconds have passed (false).
  bool wait_for(size_t need) {
    if (!wait_) return false;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(kMaxWaitSeconds);
    for (unsigned spins = 0; head_ + need - tail_.load(std::memory_order_acquire) > cap_; ++spins) {
      if (spins < 64) {
        std::this_thread::yield();
      } else {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        if (std::chrono::steady_clock::now() > until) return false;
      }
    }
    return true;
  }

  bool wait_ = false;
  size_t cap_ = 0;
  std::unique_ptr<uint8_t[]> buf_;
  uint64_t head_ = 0;        // producer's own
  uint64_t tail_seen_ = 0;   // producer's last read of tail_
  alignas(64) std::atomic<uint64_t> head_pub_{0};
  std::atomic<uint64_t> watermark_{0};
  std::atomic<uint64_t> appended_{0};
  std::atomic<uint64_t> drops_{0};
  alignas(64) std::atomic<uint64_t> tail_{0};
  uint64_t ctail_ = 0;       // consumer's own
  uint64_t head_seen_ = 0;   // consumer's last read of head_pub_
  uint64_t tail_pub_ = 0;    // consumer's last store to tail_
};

static_assert(sizeof(PacketAppender::Header) == 32, "records stay 32-byte aligned and the header one of them");

// A named packet output across its rotated files.
class PacketStream {
 public:
  virtual ~PacketStream() = default;
  // Worker `id`'s appender (ids 0 .. workers-1), for that worker's thread only.
  virtual PacketAppender& worker(unsigned id) = 0;
  // Live capture (drop when a ring is full) or not (wait); before the workers start.
  virtual void set_live(bool live) = 0;
};

}  // namespace privateer
