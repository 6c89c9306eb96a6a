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
    uint16_t skip;       // 1: filler up to the ring's end, no packet
  };
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

  // Copies one packet (its bytes: a then b) into the ring; false (and a
  // buffer_full drop counted) when it does not fit.
  bool append(uint64_t ts_ns, uint32_t wirelen, uint16_t linktype, const uint8_t* a, uint32_t alen,
              const uint8_t* b = nullptr, uint32_t blen = 0) {
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
      drops_.store(drops_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);   // one writer
      return false;
    }
    if (to_end < size) {
      Header f{0, 0, 0, static_cast<uint32_t>(to_end), 0, 1};
      std::memcpy(buf_.get() + pos, &f, sizeof f);
      pos = 0;
    }
    Header h{ts_ns, caplen, wirelen, static_cast<uint32_t>(size), linktype, 0};
    std::memcpy(buf_.get() + pos, &h, sizeof h);
    if (alen) std::memcpy(buf_.get() + pos + sizeof h, a, alen);
    if (blen) std::memcpy(buf_.get() + pos + sizeof h + alen, b, blen);
    head_ += need;
    head_pub_.store(head_, std::memory_order_release);
    watermark_.store(ts_ns, std::memory_order_release);
    appended_.store(appended_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);   // one writer
    return true;
  }
  bool append(uint64_t ts_ns, uint32_t caplen, uint32_t wirelen, uint16_t linktype, const uint8_t* bytes) {
    return append(ts_ns, wirelen, linktype, bytes, caplen);
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
  // The next record, or null when the ring is empty (fillers skipped). The
  // producer's head is read again only once the records seen are used up.
  const Header* peek() {
    for (;;) {
      if (ctail_ == head_seen_ && ctail_ == (head_seen_ = head_pub_.load(std::memory_order_acquire))) return nullptr;
      const auto* h = reinterpret_cast<const Header*>(buf_.get() + (ctail_ & (cap_ - 1)));
      if (!h->skip) return h;
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
