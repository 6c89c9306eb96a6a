// The worker runtime: one dispatcher feeds N worker threads through
// lock-free rings (DPDK rte_ring) in batches; each worker runs every plugin's
// WorkerProcessor on its packets and hands interval results to the control
// plane through another ring. The dispatcher keeps interval time from packet
// timestamps, so every worker closes every interval, busy or idle.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "dataplane/packet.hpp"
#include "dataplane/flow_table.hpp"
#include "dataplane/processor.hpp"
#include "dataplane/tags.hpp"

struct rte_ring;

namespace privateer {

struct RuntimeOptions {
  unsigned workers = 1;
  uint32_t interval_seconds = 60;
  uint64_t start_boundary = 0;      // unix seconds; packets before it are skipped (0: none)
  uint64_t end_boundary = 0;        // unix seconds; reading stops at the first packet at/after it (0: none)
  uint32_t batches_per_worker = 16; // batches in flight per worker (ring depth)
  uint32_t max_gap_intervals = 1440;  // a bigger forward time jump is not filled with empty intervals
  // Closed intervals the control plane may have still to merge before the
  // dispatcher waits: bounds the memory held by unmerged results (0: no bound).
  uint32_t max_unmerged_intervals = 2;
  // Live sources: while no packet arrives, packet time is taken to go on at
  // the wall clock's pace from the last packet, and an interval closes
  // `live_lateness_seconds` after its end. Files (live = false) wait for packets.
  bool live = false;
  uint32_t live_lateness_seconds = 10;
  // Polling model: worker w runs on CPU worker_cpus[w] where given.
  std::vector<int> worker_cpus;
  // Tagging (dataplane/tags.hpp): null settings, or settings with nothing
  // to do, and no tables: packets reach the plugins untagged. Both outlive
  // the runtime.
  const TagSettings* tags = nullptr;
  TagTablesHandle* tag_tables = nullptr;
  // Per plugin (in processor order): the filter whose matching packets
  // alone the plugin sees: i < kBuiltinPluginFilter is custom filter i (bit
  // of PacketView::custom_bits), kBuiltinPluginFilter + b corsaro3's
  // built-in filter b (bit of filter_bits); -1 for all packets. Shorter
  // than the plugin list: -1 for the rest.
  std::vector<int> plugin_filters;
  // Flow tables, one per worker, updated after tagging and before the
  // plugins (null: the run keeps no flows). Outlives the runtime.
  const FlowSettings* flows = nullptr;
  // Per processor (in order): the id of its first alarm reason (missing: 0).
  std::vector<unsigned> first_alarm;
};
constexpr int kBuiltinPluginFilter = 64;

// Counters written by one thread and read by any (relaxed atomics, one cache
// line each so writers do not share lines).
struct alignas(64) WorkerCounters {
  std::atomic<uint64_t> packets{0};
  std::atomic<uint64_t> bytes{0};        // wire bytes
  std::atomic<uint64_t> busy_polls{0};   // ring polls that returned work
  std::atomic<uint64_t> idle_polls{0};
  std::atomic<uint64_t> intervals{0};
  std::atomic<uint64_t> ring_drops{0};   // live input: packets dropped, this worker's ring being full
};

struct alignas(64) DispatcherCounters {
  std::atomic<uint64_t> packets{0};        // read from the source
  std::atomic<uint64_t> bytes{0};          // wire bytes read
  std::atomic<uint64_t> truncated_to_batch{0};  // packets longer than a batch arena, cut to fit
  std::atomic<uint64_t> before_start{0};   // skipped: before startboundaryts
  std::atomic<uint64_t> late_packets{0};   // timestamp before the open interval
  std::atomic<uint64_t> time_jumps{0};     // forward jumps over more than max_gap_intervals
  std::atomic<uint64_t> idle_closed_intervals{0};  // live: intervals closed by the wall clock while idle
  std::atomic<uint64_t> ring_full_waits{0};  // times the dispatcher waited for a free batch
  std::atomic<uint64_t> merge_waits{0};      // times the dispatcher waited for the control plane to merge
  std::array<std::atomic<uint64_t>, kDecodeErrorCount> decode_errors{};
  std::atomic<uint64_t> source_bytes_read{0};
  std::atomic<uint64_t> source_bytes_total{0};
};

// One worker's results for one interval: one entry per plugin, in plugin order.
struct IntervalDone {
  unsigned worker = 0;
  uint64_t interval_start = 0;
  bool last = false;        // the last interval of the run
  bool partial = false;     // the run started or stopped inside it
  std::vector<std::unique_ptr<IntervalResult>> results;
};

// Where packets come from: the runtime calls it from the dispatcher thread.
// Returns the number of packets put in `out` (<= max); 0 with *eof set at the end.
using BurstReader = std::function<size_t(RawPacket* out, size_t max, bool* eof)>;

class Runtime {
 public:
  // processors[w][p]: plugin p's state for worker w.
  Runtime(const RuntimeOptions& opt, std::vector<std::vector<std::unique_ptr<WorkerProcessor>>> processors);
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Starts the workers and the dispatcher reading from `reader`.
  void start(BurstReader reader);
  // The NIC-queue model: no dispatcher; worker w polls its own readers
  // (e.g. one per NIC queue spread by RSS), decodes in place and runs the
  // plugins. readers.size() must equal the number of workers. Each worker
  // keeps interval time from its packets; a worker idle for a short while
  // catches up with the others' packet time, and when all are idle intervals
  // close by the clock (live_lateness_seconds). Runs until request_stop().
  void start_polling(std::vector<std::vector<BurstReader>> readers);
  // Asks the dispatcher to stop reading; the open interval is closed as partial.
  void request_stop() { stop_requested_.store(true, std::memory_order_relaxed); }
  // Takes one finished interval result, if any (control plane side).
  std::unique_ptr<IntervalDone> poll_result();
  // The control plane has merged `n` intervals in all (lets the dispatcher
  // close more, see RuntimeOptions::max_unmerged_intervals).
  void set_merged_intervals(uint64_t n) { merged_intervals_.store(n, std::memory_order_release); }
  // True once the dispatcher and all workers have exited (results may remain to poll).
  bool finished() const { return finished_workers_.load(std::memory_order_acquire) == workers_.size() && dispatcher_done_.load(std::memory_order_acquire); }
  // Waits for all threads; rethrows a source error raised in the dispatcher.
  void join();

  const DispatcherCounters& dispatcher_counters() const { return dcount_; }
  const WorkerCounters& worker_counters(unsigned w) const { return *wcount_[w]; }
  // Worker w's tag counts; null when the run does not tag.
  const TagCounters* tag_counters(unsigned w) const;
  // Worker w's flow table, or null when the run keeps no flows.
  const FlowTable* flow_table(unsigned w) const;
  unsigned workers() const { return static_cast<unsigned>(workers_.size()); }
  // Interval bookkeeping, readable at the end of the run.
  uint64_t first_interval() const { return first_interval_; }
  // Seconds from start() until the last worker had processed its last
  // packet (0 while running): the analysis time without the final merge.
  double processing_seconds() const;
  bool saw_packets() const { return started_; }

 private:
  struct Batch;
  struct Worker;
  void dispatch_loop(BurstReader reader);
  void worker_loop(unsigned w);
  void polling_loop(unsigned w, std::vector<BurstReader> readers);
  void wait_for_merges(uint64_t closed);
  void worker_close(unsigned w, uint64_t start, bool last, bool partial);
  // Tags a burst, drops the packets the run removes, runs the plugins.
  void run_plugins(Worker& wk, PacketView* views, const uint8_t** data, size_t n);
  // A worker has exited; the last one records when the analysis ended.
  void worker_finished();
  Batch* get_free_batch(unsigned w);
  Batch* try_free_batch(unsigned w);
  void send(unsigned w, Batch* b);
  void flush(unsigned w);
  void close_interval(uint64_t start, bool last, bool partial);

  RuntimeOptions opt_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::unique_ptr<WorkerCounters>> wcount_;
  DispatcherCounters dcount_;
  rte_ring* results_ = nullptr;
  std::thread dispatcher_;
  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> dispatcher_done_{false};
  std::atomic<unsigned> finished_workers_{0};
  std::chrono::steady_clock::time_point started_at_;
  std::atomic<int64_t> processing_ns_{0};
  std::exception_ptr dispatch_error_;
  // dispatcher-thread interval state
  bool started_ = false;
  uint64_t closed_intervals_ = 0;
  // polling model: shared packet-time state
  std::atomic<bool> poll_started_{false};
  std::atomic<uint64_t> poll_first_interval_{0};
  std::atomic<uint64_t> poll_max_interval_{0};
  std::atomic<uint64_t> poll_last_packet_ns_{0};
  std::atomic<int64_t> poll_last_wall_ns_{0};
  std::atomic<unsigned> poll_stopped_{0};
  std::atomic<uint64_t> poll_final_interval_{0};
  std::atomic<uint64_t> merged_intervals_{0};
  uint64_t cur_interval_ = 0;
  uint64_t first_interval_ = 0;
};

// Memory helper for rings created without the EAL: rte_ring_init on
// cache-aligned memory from the C++ heap, freed by destroy_ring.
rte_ring* make_ring(const char* name, unsigned slots, unsigned flags);
void destroy_ring(rte_ring* r);

}  // namespace privateer
