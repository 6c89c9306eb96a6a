// A packet stream (plugins/packet_output.hpp) on the control plane: one
// PacketAppender per worker, a merge thread (`pvt-pkt-merge`) that drains
// them into timestamp order (ties to the lower worker, as corsarowdcap) and
// encodes pcap/pcapng into 1 MiB buffers, and a file thread (`pvt-pkt-file`)
// that compresses and writes them. A worker is known to have nothing older
// than its watermark (its last packet, or the end of its last interval), so
// the merge never waits on an idle worker beyond its next interval end; and
// not at all once a busy worker's ring is half full (its oldest packet is
// written then, so a quiet worker neither stalls a file run nor makes a live
// one drop; a packet the quiet worker still holds that is older is the only
// one out of order).
//
// Files are named by FileNamer with the format's extension, one per
// rotation period (rotatefreq x interval, epoch-aligned; rotatefreq 0: one
// file for the run), opened at the period's first packet and named for the
// start of that packet's interval, as the Avro files (a period without
// packets has no file), written as NAME.tmp, renamed to NAME when complete,
// then NAME.stats (corsarowdcap's stats, our fields) and the NAME.done
// marker. A packet older than the open file's period (a capture out of
// order) goes in the open file.
//
// Per-flow files (PacketStreamOptions::per_flow, pcapextract's `files:
// per_flow`): the merge routes each packet by its (worker, flow id) to that
// flow's own file, named as the period's file with the flow's label before
// the extension (flow_file_label(): PROTO-A-APORT-B-BPORT, `a` the flow's
// first sender, IPv6 with `_` for `:`), e.g.
// pcapextract-1700000040.tcp-10.0.0.1-1000-10.0.0.2-80.pcap; a flow whose
// key was not seen (its key record dropped) gets `wW-flowN`. Each file
// has its own encoder and buffer (flushed at 64 KiB) and is opened at the
// flow's first packet of the period. At most max_open_files are open: to
// open one more, the least recently written one is finished (.tmp renamed,
// .stats, .done), and a later packet of that flow opens a new file with the
// namer's repeat count (NAME.1.pcap, NAME.2.pcap, ...; the same for a new
// flow of the same 5-tuple in the period). Every open file is finished at
// the period's end and at the run's end. A flow's key is forgotten once its
// file is closed and it had no packet for a whole interval (the worker
// sends the key again at the flow's first packet of every interval).
//
// A file that cannot be written (a full disk, an I/O error) is given up: its
// .tmp kept as far as written, the rest of its packets counted as dropped
// (no_space / io_error); the next period's file is tried anew and the run
// goes on.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "control/avro/done.hpp"
#include "control/naming.hpp"
#include "control/pcap/pcap_file.hpp"
#include "plugins/packet_output.hpp"

namespace privateer {

struct PacketStreamSettings {
  std::string outtemplate;
  std::string monitorid;
  uint32_t interval_seconds = 60;
  uint32_t rotatefreq = 0;
};

class RotatingPacketStream : public PacketStream {
 public:
  RotatingPacketStream(const PacketStreamSettings& s, std::string stream, const PacketStreamOptions& o,
                       unsigned workers);
  // Without finish(): the open file stays a .tmp.
  ~RotatingPacketStream() override;
  PacketAppender& worker(unsigned id) override { return *appenders_.at(id); }
  void set_live(bool live) override {
    for (auto& a : appenders_) a->set_wait_when_full(!live);
  }

  // Once every worker has stopped: writes what is buffered, closes the file.
  void finish();

  const std::string& stream() const { return stream_; }
  uint64_t packets() const { return packets_.load(std::memory_order_relaxed); }   // in completed files
  uint64_t bytes() const { return bytes_.load(std::memory_order_relaxed); }       // of completed files
  uint64_t files() const { return files_.load(std::memory_order_relaxed); }
  uint64_t failed_files() const { return failed_files_.load(std::memory_order_relaxed); }
  uint64_t dropped(PacketDrop r) const;
  uint64_t dropped_total() const;
  // Paths of the completed files (after finish()); per_flow: the first 32
  // (files() counts them all).
  const std::vector<std::string>& written_paths() const { return paths_; }

 private:
  // What the merge thread hands the file thread, in order.
  struct Command {
    enum Kind { open, data, close } kind;
    unsigned slot = 0;         // the file (per_flow: 0 .. max_open_files-1; else 0)
    std::string path;          // open
    std::string bytes;         // data
    uint64_t packets = 0;      // data: the packets in `bytes`
    std::string stats;         // close: the .stats text ("" when not written)
    DoneInfo done;             // close
  };
  // A file open on the merge side: its encoder, buffer and counts.
  struct Out {
    explicit Out(const PacketStreamOptions& o, size_t workers)
        : enc(o.format, o.nanoseconds, o.snaplen), accepted(workers, 0), drops_at_open(workers, 0) {}
    bool open = false;
    PcapEncoder enc;
    std::string buf;
    uint64_t buf_packets = 0;
    uint64_t start = 0;                   // the start of its first interval
    uint64_t packets = 0;
    std::vector<uint64_t> accepted;       // per worker, this file
    std::vector<uint64_t> drops_at_open;  // per worker, the ring's drops when the file opened
    std::vector<DoneInterval> intervals;
    uint64_t last_use = 0;                // per_flow: the merge's packet count at its last packet
    uint64_t flow = 0;                    // per_flow: the flows_ key it is for
  };
  // per_flow: a (worker << 32 | flow id) seen in a key record.
  struct FlowEntry {
    std::string label;
    uint64_t last_interval = 0;   // of its last record
    int out = -1;                 // its open file (outs_ index); -1: none
  };
  void merge_loop();
  void file_loop();
  void send(Command c);
  void emit(unsigned w, const PacketAppender::Header* h);
  void open_file(Out& f, unsigned slot, uint64_t ts_s, const std::string& extra);
  void close_file(Out& f, unsigned slot);
  void close_all();
  Out& flow_file(unsigned w, uint32_t flow, uint64_t ts_s, uint64_t iv);
  void forget_flows(uint64_t iv);
  void flush_buffer(Out& f, unsigned slot);
  void drop(PacketDrop r, uint64_t n) { dropped_[static_cast<size_t>(r)].fetch_add(n, std::memory_order_relaxed); }

  PacketStreamSettings s_;
  std::string stream_;
  PacketStreamOptions o_;
  FileNamer namer_;
  std::vector<std::unique_ptr<PacketAppender>> appenders_;
  uint64_t span_ = 0;   // rotation period in seconds; 0: none

  // Merge thread state: outs_[slot] (one, or max_open_files per_flow).
  std::vector<Out> outs_;
  size_t buffer_bytes_;             // a file's buffer is handed on at this size
  bool file_open_ = false;          // a file of the period is open
  uint64_t file_period_ = 0;
  uint64_t clock_ = 0;              // packets merged
  uint64_t interval_ = 0;           // the newest record's interval start
  std::unordered_map<uint64_t, FlowEntry> flows_;

  // Merge -> file thread.
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Command> queue_;
  bool merge_ended_ = false;

  std::atomic<bool> finishing_{false};
  std::atomic<bool> abort_{false};
  std::thread merge_thread_;
  std::thread file_thread_;
  bool finished_ = false;
  std::vector<std::string> paths_;   // file thread's until joined

  std::atomic<uint64_t> packets_{0};
  std::atomic<uint64_t> bytes_{0};
  std::atomic<uint64_t> files_{0};
  std::atomic<uint64_t> failed_files_{0};
  std::atomic<uint64_t> dropped_[kPacketDropReasons] = {};
};

// A per-flow file's flow in its name: PROTO-A-APORT-B-BPORT (tcp, udp,
// sctp, icmp, icmp6 or the number; IPv6 with '_' for ':').
std::string flow_file_label(const PacketFlowKey& k);

}  // namespace privateer
