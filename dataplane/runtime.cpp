#include "dataplane/runtime.hpp"

#include <pthread.h>
#include <rte_ring.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>

#include "dataplane/decode.hpp"
#include "dataplane/flow_hash.hpp"

namespace privateer {

namespace {

constexpr size_t kBatchPackets = 256;
constexpr size_t kArenaBytes = 256 * 1024;
constexpr size_t kReadBurst = 256;
constexpr size_t kMaxBurst = kBatchPackets > kReadBurst ? kBatchPackets : kReadBurst;  // most packets run_plugins gets
constexpr unsigned kResultSlots = 4096;

unsigned pow2_at_least(unsigned n) {
  unsigned p = 1;
  while (p < n) p <<= 1;
  return p;
}

// Backs off from spinning to yielding to short sleeps while a ring stays
// empty or full, so idle threads leave the cores to busy ones.
class Backoff {
 public:
  void wait() {
    ++n_;
    if (n_ < 64) {
      __builtin_ia32_pause();
    } else if (n_ < 256) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }
  void reset() { n_ = 0; }

 private:
  unsigned n_ = 0;
};

// The interval start of a packet time, dividing only when the time leaves
// the interval it computed last, instead of two 64-bit divisions a packet.
class IntervalOf {
 public:
  explicit IntervalOf(uint64_t len) : len_(len), span_ns_(len * 1000000000ULL) {}
  uint64_t operator()(uint64_t ts_ns) {
    if (ts_ns - lo_ns_ < span_ns_) return iv_;
    const uint64_t sec = ts_ns / 1000000000ULL;
    iv_ = sec - sec % len_;
    lo_ns_ = iv_ * 1000000000ULL;
    return iv_;
  }

 private:
  uint64_t len_;
  uint64_t span_ns_;
  uint64_t lo_ns_ = UINT64_MAX;  // nothing cached yet: every time misses
  uint64_t iv_ = 0;
};

}  // namespace

rte_ring* make_ring(const char* name, unsigned slots, unsigned flags) {
  const ssize_t size = rte_ring_get_memsize(slots);
  if (size < 0) throw std::invalid_argument("ring size must be a power of two");
  void* mem = std::aligned_alloc(RTE_CACHE_LINE_SIZE, (static_cast<size_t>(size) + RTE_CACHE_LINE_SIZE - 1) &
                                                          ~static_cast<size_t>(RTE_CACHE_LINE_SIZE - 1));
  if (!mem) throw std::bad_alloc();
  auto* r = static_cast<rte_ring*>(mem);
  if (rte_ring_init(r, name, slots, flags) != 0) {
    std::free(mem);
    throw std::runtime_error("rte_ring_init failed");
  }
  return r;
}

void destroy_ring(rte_ring* r) { std::free(r); }

struct Runtime::Batch {
  enum Kind : uint32_t { kPackets, kIntervalEnd, kStop };
  Kind kind = kPackets;
  uint32_t count = 0;
  uint32_t arena_used = 0;
  bool last = false;
  bool partial = false;
  uint64_t interval_start = 0;
  PacketView views[kBatchPackets];
  const uint8_t* data[kBatchPackets];
  alignas(64) uint8_t arena[kArenaBytes];
};

struct Runtime::Worker {
  rte_ring* full = nullptr;   // dispatcher -> worker
  rte_ring* free = nullptr;   // worker -> dispatcher
  std::vector<Batch*> batches;
  Batch* filling = nullptr;   // dispatcher's batch being filled
  // Packet time the dispatcher has handed this worker everything before
  // (its batch being filled starts there); stored after the sends.
  alignas(64) std::atomic<uint64_t> sent_to_ns{0};
  uint64_t idle_told_ns = 0;  // the worker's: the last time its plugins were told
  std::vector<std::unique_ptr<WorkerProcessor>> procs;
  std::unique_ptr<TagStage> tagger;   // null: the run does not tag
  std::unique_ptr<FlowTable> flows;   // null: the run keeps no flows
  // A burst's packets that a filtered plugin sees (RuntimeOptions::plugin_filters):
  // gathered here, allocated once; null when no plugin has a filter.
  std::unique_ptr<PacketView[]> picked_views;
  std::unique_ptr<const uint8_t*[]> picked_data;
  std::thread thread;
  ~Worker() {
    for (Batch* b : batches) delete b;
    if (full) destroy_ring(full);
    if (free) destroy_ring(free);
  }
};

Runtime::Runtime(const RuntimeOptions& opt,
                 std::vector<std::vector<std::unique_ptr<WorkerProcessor>>> processors)
    : opt_(opt) {
  if (opt_.workers == 0 || processors.size() != opt_.workers) {
    throw std::invalid_argument("runtime: one processor set per worker is required");
  }
  if (opt_.interval_seconds == 0) throw std::invalid_argument("runtime: interval must be > 0");
  const unsigned slots = pow2_at_least(opt_.batches_per_worker + 1);
  for (unsigned w = 0; w < opt_.workers; ++w) {
    auto wk = std::make_unique<Worker>();
    wk->full = make_ring("full", slots, RING_F_SP_ENQ | RING_F_SC_DEQ);
    wk->free = make_ring("free", slots, RING_F_SP_ENQ | RING_F_SC_DEQ);
    for (unsigned i = 0; i < opt_.batches_per_worker; ++i) {
      Batch* b = new Batch();
      wk->batches.push_back(b);
      rte_ring_enqueue(wk->free, b);
    }
    wk->procs = std::move(processors[w]);
    if ((opt_.tags && opt_.tags->any()) || opt_.tag_tables) {
      static const TagSettings kNoSettings;
      wk->tagger = std::make_unique<TagStage>(opt_.tags ? *opt_.tags : kNoSettings, opt_.tag_tables, w);
    }
    if (opt_.flows) {
      wk->flows = std::make_unique<FlowTable>(*opt_.flows);
      for (size_t p = 0; p < wk->procs.size(); ++p) {
        wk->procs[p]->attach_flows(*wk->flows, p < opt_.first_alarm.size() ? opt_.first_alarm[p] : 0);
      }
    }
    if (std::any_of(opt_.plugin_filters.begin(), opt_.plugin_filters.end(), [](int f) { return f >= 0; })) {
      wk->picked_views = std::make_unique<PacketView[]>(kMaxBurst);
      wk->picked_data = std::make_unique<const uint8_t*[]>(kMaxBurst);
    }
    workers_.push_back(std::move(wk));
    wcount_.push_back(std::make_unique<WorkerCounters>());
  }
  results_ = make_ring("results", kResultSlots, RING_F_SC_DEQ);
}

Runtime::~Runtime() {
  request_stop();
  if (dispatcher_.joinable()) dispatcher_.join();
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
  while (poll_result()) {
  }
  destroy_ring(results_);
}

void Runtime::start(BurstReader reader) {
  started_at_ = std::chrono::steady_clock::now();
  for (unsigned w = 0; w < workers_.size(); ++w) {
    workers_[w]->thread = std::thread([this, w] {
      const std::string name = "pvt-worker" + std::to_string(w);
      pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
      worker_loop(w);
    });
  }
  dispatcher_ = std::thread([this, r = std::move(reader)]() mutable {
    pthread_setname_np(pthread_self(), "pvt-dispatch");
    dispatch_loop(std::move(r));
  });
}

void Runtime::join() {
  if (dispatcher_.joinable()) dispatcher_.join();
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
  if (dispatch_error_) std::rethrow_exception(dispatch_error_);
}

std::unique_ptr<IntervalDone> Runtime::poll_result() {
  void* p = nullptr;
  if (rte_ring_dequeue(results_, &p) != 0) return nullptr;
  return std::unique_ptr<IntervalDone>(static_cast<IntervalDone*>(p));
}

Runtime::Batch* Runtime::get_free_batch(unsigned w) {
  Batch* b = try_free_batch(w);
  if (b) return b;
  dcount_.ring_full_waits.fetch_add(1, std::memory_order_relaxed);
  Backoff backoff;
  while (!(b = try_free_batch(w))) backoff.wait();
  return b;
}

Runtime::Batch* Runtime::try_free_batch(unsigned w) {
  void* p = nullptr;
  if (rte_ring_dequeue(workers_[w]->free, &p) != 0) return nullptr;
  Batch* b = static_cast<Batch*>(p);
  b->kind = Batch::kPackets;
  b->count = 0;
  b->arena_used = 0;
  b->last = false;
  b->partial = false;
  return b;
}

void Runtime::send(unsigned w, Batch* b) {
  // The full ring has room for every batch of this worker, so this never fails.
  rte_ring_enqueue(workers_[w]->full, b);
}

void Runtime::flush(unsigned w) {
  Worker& wk = *workers_[w];
  if (wk.filling && wk.filling->count > 0) {
    send(w, wk.filling);
    wk.filling = nullptr;
  }
}

void Runtime::wait_for_merges(uint64_t closed) {
  if (!opt_.max_unmerged_intervals ||
      closed < merged_intervals_.load(std::memory_order_acquire) + opt_.max_unmerged_intervals) {
    return;
  }
  dcount_.merge_waits.fetch_add(1, std::memory_order_relaxed);
  Backoff backoff;
  while (closed >= merged_intervals_.load(std::memory_order_acquire) + opt_.max_unmerged_intervals &&
         !stop_requested_.load(std::memory_order_relaxed)) {
    backoff.wait();
  }
}

void Runtime::close_interval(uint64_t start, bool last, bool partial) {
  wait_for_merges(closed_intervals_);
  ++closed_intervals_;
  for (unsigned w = 0; w < workers_.size(); ++w) {
    flush(w);
    Batch* b = get_free_batch(w);
    b->kind = Batch::kIntervalEnd;
    b->interval_start = start;
    b->last = last;
    b->partial = partial;
    send(w, b);
  }
}

constexpr uint64_t kQuietBatchNs = 100 * 1000 * 1000;

void Runtime::dispatch_loop(BurstReader reader) {
  RawPacket raw[kReadBurst];
  const uint64_t len = opt_.interval_seconds;
  const unsigned nworkers = static_cast<unsigned>(workers_.size());
  bool eof = false;
  bool cut_by_stop = false;
  uint64_t packets = 0, bytes = 0;
  std::array<uint64_t, kDecodeErrorCount> errors{};
  bool first_partial = true;
  IntervalOf interval_of(len);
  const uint64_t start_ns = opt_.start_boundary * 1000000000ULL;
  const uint64_t end_ns = opt_.end_boundary * 1000000000ULL;
  uint64_t last_packet_ns = 0;  // live: newest packet time seen, and when
  auto last_packet_wall = std::chrono::steady_clock::now();
  uint64_t newest_ns = 0;       // the last packet of each burst read, the largest
  // Each worker has been sent everything before its batch being filled (or,
  // with none, before the newest packet read). A batch filling slowly (a
  // quiet worker) is sent once its first packet is kQuietBatchNs of packet
  // time older than the newest: the worker's time keeps up.
  auto publish_sent = [&](uint64_t newest) {
    for (unsigned w = 0; w < nworkers; ++w) {
      Worker& wk = *workers_[w];
      if (wk.filling && wk.filling->count && wk.filling->views[0].ts_ns + kQuietBatchNs < newest) flush(w);
      uint64_t t = wk.filling && wk.filling->count ? wk.filling->views[0].ts_ns : newest;
      if (t > wk.sent_to_ns.load(std::memory_order_relaxed)) wk.sent_to_ns.store(t, std::memory_order_release);
    }
  };
  try {
    while (!eof) {
      if (stop_requested_.load(std::memory_order_relaxed)) {
        cut_by_stop = true;
        break;
      }
      const size_t n = reader(raw, kReadBurst, &eof);
      if (n == 0) {
        if (!eof) {
          // A live source with nothing to read: hand over what is waiting,
          // and close intervals that ended (plus lateness) by the clock.
          for (unsigned w = 0; w < nworkers; ++w) flush(w);
          publish_sent(newest_ns);
          if (opt_.live && started_) {
            const auto idle = std::chrono::steady_clock::now() - last_packet_wall;
            const uint64_t now_sec =
                (last_packet_ns + std::chrono::duration_cast<std::chrono::nanoseconds>(idle).count()) / 1000000000ULL;
            for (uint32_t k = 0; k < opt_.max_gap_intervals && now_sec >= cur_interval_ + len + opt_.live_lateness_seconds; ++k) {
              close_interval(cur_interval_, false, cur_interval_ == first_interval_ && first_partial);
              cur_interval_ += len;
              dcount_.idle_closed_intervals.fetch_add(1, std::memory_order_relaxed);
            }
          }
          std::this_thread::sleep_for(std::chrono::microseconds(100));
        }
        continue;
      }
      if (opt_.live) {
        last_packet_ns = std::max(last_packet_ns, raw[n - 1].ts_ns);
        last_packet_wall = std::chrono::steady_clock::now();
      }
      for (size_t i = 0; i < n; ++i) {
        const RawPacket& rp = raw[i];
        if (opt_.end_boundary && rp.ts_ns >= end_ns) {
          eof = true;
          break;
        }
        if (opt_.start_boundary && rp.ts_ns < start_ns) {
          dcount_.before_start.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        const uint64_t iv = interval_of(rp.ts_ns);
        if (!started_) {
          started_ = true;
          cur_interval_ = first_interval_ = iv;
          first_partial = !(opt_.start_boundary && opt_.start_boundary == iv);
        } else if (iv > cur_interval_) {
          close_interval(cur_interval_, false, cur_interval_ == first_interval_ && first_partial);
          const uint64_t gap = (iv - cur_interval_) / len - 1;
          if (gap > opt_.max_gap_intervals) {
            dcount_.time_jumps.fetch_add(1, std::memory_order_relaxed);
          } else {
            for (uint64_t k = 1; k <= gap; ++k) close_interval(cur_interval_ + k * len, false, false);
          }
          cur_interval_ = iv;
        } else if (iv < cur_interval_) {
          dcount_.late_packets.fetch_add(1, std::memory_order_relaxed);
        }

        // Decode straight into the chosen worker's batch: first into a
        // scratch view to learn the flow hash, then copy.
        PacketView view;
        decode_packet(rp, view);
        ++errors[static_cast<size_t>(view.error)];
        const unsigned w = nworkers == 1 ? 0 : symmetric_flow_hash(view) % nworkers;
        Worker& wk = *workers_[w];
        uint32_t cap = rp.caplen;
        if (cap > kArenaBytes) {
          cap = kArenaBytes;
          dcount_.truncated_to_batch.fetch_add(1, std::memory_order_relaxed);
        }
        if (wk.filling && (wk.filling->count == kBatchPackets || wk.filling->arena_used + cap > kArenaBytes)) {
          send(w, wk.filling);
          wk.filling = nullptr;
        }
        if (!wk.filling) {
          if (opt_.live) {
            // A live source is never held up by a slow worker: the packet
            // is dropped and counted instead.
            wk.filling = try_free_batch(w);
            if (!wk.filling) {
              wcount_[w]->ring_drops.fetch_add(1, std::memory_order_relaxed);
              ++packets;
              bytes += rp.wirelen;
              continue;
            }
          } else {
            wk.filling = get_free_batch(w);
          }
        }
        Batch* b = wk.filling;
        uint8_t* dst = b->arena + b->arena_used;
        std::memcpy(dst, rp.data, cap);
        b->arena_used += (cap + 7u) & ~7u;
        if (b->arena_used > kArenaBytes) b->arena_used = kArenaBytes;
        view.caplen = cap;
        b->views[b->count] = view;
        b->data[b->count] = dst;
        ++b->count;
        ++packets;
        bytes += rp.wirelen;
      }
      dcount_.packets.store(packets, std::memory_order_relaxed);
      dcount_.bytes.store(bytes, std::memory_order_relaxed);
      for (size_t e = 1; e < kDecodeErrorCount; ++e) dcount_.decode_errors[e].store(errors[e], std::memory_order_relaxed);
      newest_ns = std::max(newest_ns, raw[n - 1].ts_ns);
      publish_sent(newest_ns);
    }
  } catch (...) {
    dispatch_error_ = std::current_exception();
    cut_by_stop = true;
  }
  dcount_.packets.store(packets, std::memory_order_relaxed);
  dcount_.bytes.store(bytes, std::memory_order_relaxed);
  for (size_t e = 1; e < kDecodeErrorCount; ++e) dcount_.decode_errors[e].store(errors[e], std::memory_order_relaxed);

  if (started_) {
    const bool aligned_end = !cut_by_stop && opt_.end_boundary && opt_.end_boundary == cur_interval_ + len;
    close_interval(cur_interval_, true, !aligned_end || (cur_interval_ == first_interval_ && first_partial));
  }
  for (unsigned w = 0; w < nworkers; ++w) {
    flush(w);
    Batch* b = get_free_batch(w);
    b->kind = Batch::kStop;
    send(w, b);
  }
  dispatcher_done_.store(true, std::memory_order_release);
}

void Runtime::worker_loop(unsigned w) {
  Worker& wk = *workers_[w];
  WorkerCounters& wc = *wcount_[w];
  Backoff backoff;
  void* ptrs[8];
  uint64_t packets = 0, bytes = 0, busy = 0, idle = 0;
  bool running = true;
  while (running) {
    // Read before the ring: with the ring then empty, everything sent
    // before that time has been processed.
    const uint64_t sent_to = wk.sent_to_ns.load(std::memory_order_acquire);
    const unsigned n = rte_ring_dequeue_burst(wk.full, ptrs, 8, nullptr);
    if (n == 0) {
      if (sent_to > wk.idle_told_ns) {
        wk.idle_told_ns = sent_to;
        for (auto& p : wk.procs) p->idle(sent_to);
      }
      if (wk.tagger) wk.tagger->idle();   // pins no tables while idle
      ++idle;
      if ((idle & 63) == 0) wc.idle_polls.store(idle, std::memory_order_relaxed);
      backoff.wait();
      continue;
    }
    backoff.reset();
    ++busy;
    for (unsigned i = 0; i < n; ++i) {
      Batch* b = static_cast<Batch*>(ptrs[i]);
      switch (b->kind) {
        case Batch::kPackets:
          // Counted before the tag stage removes packets from the views.
          for (uint32_t k = 0; k < b->count; ++k) bytes += b->views[k].wirelen;
          packets += b->count;
          run_plugins(wk, b->views, b->data, b->count);
          break;
        case Batch::kIntervalEnd:
          worker_close(w, b->interval_start, b->last, b->partial);
          break;
        case Batch::kStop:
          running = false;
          break;
      }
      rte_ring_enqueue(wk.free, b);
    }
    wc.packets.store(packets, std::memory_order_relaxed);
    wc.bytes.store(bytes, std::memory_order_relaxed);
    wc.busy_polls.store(busy, std::memory_order_relaxed);
  }
  wc.idle_polls.store(idle, std::memory_order_relaxed);
  if (wk.tagger) wk.tagger->idle();
  worker_finished();
}

void Runtime::run_plugins(Worker& wk, PacketView* views, const uint8_t** data, size_t n) {
  if (wk.tagger) n = wk.tagger->process(views, data, n);
  if (wk.flows) wk.flows->update(views, n);
  for (size_t p = 0; p < wk.procs.size(); ++p) {
    const int f = p < opt_.plugin_filters.size() ? opt_.plugin_filters[p] : -1;
    if (f < 0) {
      wk.procs[p]->process(views, data, n);
      continue;
    }
    const bool builtin = f >= kBuiltinPluginFilter;
    const uint64_t bit = uint64_t{1} << (f % kBuiltinPluginFilter);
    size_t m = 0;
    for (size_t i = 0; i < n; ++i) {
      if (!((builtin ? views[i].filter_bits : views[i].custom_bits) & bit)) continue;
      wk.picked_views[m] = views[i];
      wk.picked_data[m] = data[i];
      ++m;
    }
    if (m == n) {
      wk.procs[p]->process(views, data, n);
    } else if (m) {
      wk.procs[p]->process(wk.picked_views.get(), wk.picked_data.get(), m);
    }
  }
}

const FlowTable* Runtime::flow_table(unsigned w) const { return workers_[w]->flows.get(); }

const TagCounters* Runtime::tag_counters(unsigned w) const {
  return workers_[w]->tagger ? &workers_[w]->tagger->counters() : nullptr;
}

void Runtime::worker_close(unsigned w, uint64_t start, bool last, bool partial) {
  auto done = std::make_unique<IntervalDone>();
  done->worker = w;
  done->interval_start = start;
  done->last = last;
  done->partial = partial;
  for (auto& p : workers_[w]->procs) done->results.push_back(p->end_interval(start));
  IntervalDone* raw = done.release();
  Backoff rb;
  while (rte_ring_enqueue(results_, raw) != 0) rb.wait();
  wcount_[w]->intervals.fetch_add(1, std::memory_order_relaxed);
}

void Runtime::start_polling(std::vector<std::vector<BurstReader>> readers) {
  if (readers.size() != workers_.size()) throw std::invalid_argument("runtime: one reader set per worker is required");
  started_at_ = std::chrono::steady_clock::now();
  for (unsigned w = 0; w < workers_.size(); ++w) {
    workers_[w]->thread = std::thread([this, w, r = std::move(readers[w])]() mutable {
      const std::string name = "pvt-worker" + std::to_string(w);
      pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
      if (w < opt_.worker_cpus.size()) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(opt_.worker_cpus[w], &set);
        pthread_setaffinity_np(pthread_self(), sizeof set, &set);
      }
      polling_loop(w, std::move(r));
    });
  }
  // No dispatcher in this model.
  dispatcher_done_.store(true, std::memory_order_release);
}

namespace {
inline int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
template <class T>
void atomic_max(std::atomic<T>& a, T v) {
  T cur = a.load(std::memory_order_relaxed);
  while (cur < v && !a.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
  }
}
constexpr int64_t kCatchUpIdleNs = 50 * 1000 * 1000;  // idle this long: catch up with the others
}  // namespace

void Runtime::polling_loop(unsigned w, std::vector<BurstReader> readers) {
  Worker& wk = *workers_[w];
  WorkerCounters& wc = *wcount_[w];
  const uint64_t len = opt_.interval_seconds;
  RawPacket raw[kReadBurst];
  PacketView views[kReadBurst];
  const uint8_t* data[kReadBurst];
  bool started = false;
  uint64_t cur = 0, closed = 0;
  uint64_t packets = 0, bytes = 0, busy = 0, idle = 0;
  int64_t idle_since = 0;
  IntervalOf interval_of(len);
  Backoff backoff;
  auto first_partial = [&](uint64_t iv) {
    return iv == poll_first_interval_.load(std::memory_order_relaxed) &&
           !(opt_.start_boundary && opt_.start_boundary == iv);
  };
  auto close_upto = [&](uint64_t target) {  // closes [cur, target)
    if (cur < target && (target - cur) / len > opt_.max_gap_intervals + 1) {
      // A time jump: close the open interval and go straight to the target,
      // not through every empty interval between (the merge treats the
      // skipped ones as delivered by this worker with nothing in them).
      wait_for_merges(closed);
      worker_close(w, cur, false, first_partial(cur));
      ++closed;
      dcount_.time_jumps.fetch_add(1, std::memory_order_relaxed);
      cur = target;
      return;
    }
    while (cur < target) {
      wait_for_merges(closed);
      worker_close(w, cur, false, first_partial(cur));
      ++closed;
      cur += len;
    }
  };
  auto begin = [&](uint64_t iv) {
    if (started) return;
    bool expected = false;
    if (poll_started_.compare_exchange_strong(expected, true)) {
      poll_first_interval_.store(iv, std::memory_order_relaxed);
      atomic_max(poll_max_interval_, iv);
    }
    cur = poll_first_interval_.load(std::memory_order_relaxed);
    started = true;
  };
  while (!stop_requested_.load(std::memory_order_relaxed)) {
    size_t got = 0;
    for (auto& reader : readers) {
      bool eof = false;
      const size_t n = reader(raw, kReadBurst, &eof);
      if (n == 0) continue;
      got += n;
      size_t first = 0;  // views[first..i) not yet given to the plugins
      uint64_t newest = 0, burst_bytes = 0;
      std::array<uint64_t, kDecodeErrorCount> errors{};
      for (size_t i = 0; i < n; ++i) {
        const RawPacket& rp = raw[i];
        newest = std::max(newest, rp.ts_ns);
        decode_packet(rp, views[i]);
        data[i] = rp.data;
        ++errors[static_cast<size_t>(views[i].error)];
        burst_bytes += rp.wirelen;
        const uint64_t iv = interval_of(rp.ts_ns);
        begin(iv);
        if (iv > cur) {
          run_plugins(wk, views + first, data + first, i - first);
          first = i;
          atomic_max(poll_max_interval_, iv);
          close_upto(iv);
        } else if (iv < cur) {
          dcount_.late_packets.fetch_add(1, std::memory_order_relaxed);
        }
      }
      run_plugins(wk, views + first, data + first, n - first);
      packets += n;
      bytes += burst_bytes;
      dcount_.packets.fetch_add(n, std::memory_order_relaxed);
      dcount_.bytes.fetch_add(burst_bytes, std::memory_order_relaxed);
      for (size_t e = 1; e < kDecodeErrorCount; ++e) {
        if (errors[e]) dcount_.decode_errors[e].fetch_add(errors[e], std::memory_order_relaxed);
      }
      atomic_max(poll_last_packet_ns_, newest);
      poll_last_wall_ns_.store(steady_ns(), std::memory_order_relaxed);
    }
    if (got) {
      ++busy;
      idle_since = 0;
      backoff.reset();
      wc.packets.store(packets, std::memory_order_relaxed);
      wc.bytes.store(bytes, std::memory_order_relaxed);
      wc.busy_polls.store(busy, std::memory_order_relaxed);
      continue;
    }
    ++idle;
    if (wk.tagger) wk.tagger->idle();   // pins no tables while idle
    const int64_t now = steady_ns();
    if (!idle_since) idle_since = now;
    if (now - idle_since > kCatchUpIdleNs && poll_started_.load(std::memory_order_relaxed)) {
      if (!started) begin(poll_first_interval_.load(std::memory_order_relaxed));
      // Caught up with the packet time of the others...
      close_upto(poll_max_interval_.load(std::memory_order_relaxed));
      // ...and, when everyone is quiet, with the clock.
      const uint64_t est_sec =
          (poll_last_packet_ns_.load(std::memory_order_relaxed) +
           static_cast<uint64_t>(std::max<int64_t>(0, now - poll_last_wall_ns_.load(std::memory_order_relaxed)))) /
          1000000000ULL;
      if (est_sec >= cur + len + opt_.live_lateness_seconds) {
        const uint64_t target = (est_sec - opt_.live_lateness_seconds) / len * len;
        atomic_max(poll_max_interval_, target);
        if (target > cur) dcount_.idle_closed_intervals.fetch_add((target - cur) / len, std::memory_order_relaxed);
        close_upto(target);
      }
    }
    if ((idle & 63) == 0) wc.idle_polls.store(idle, std::memory_order_relaxed);
    backoff.wait();
  }
  // Stop: every worker closes the same intervals, up to the newest any of
  // them had open, which is marked last and partial.
  if (started) atomic_max(poll_final_interval_, cur);
  poll_stopped_.fetch_add(1, std::memory_order_acq_rel);
  while (poll_stopped_.load(std::memory_order_acquire) < workers_.size()) std::this_thread::yield();
  if (poll_started_.load(std::memory_order_acquire)) {
    const uint64_t final_iv = std::max(poll_final_interval_.load(std::memory_order_acquire),
                                       poll_max_interval_.load(std::memory_order_acquire));
    if (!started) begin(poll_first_interval_.load(std::memory_order_relaxed));
    close_upto(final_iv);  // stop is requested: nothing waits for merges now
    worker_close(w, cur, true, true);
  }
  wc.packets.store(packets, std::memory_order_relaxed);
  wc.bytes.store(bytes, std::memory_order_relaxed);
  wc.idle_polls.store(idle, std::memory_order_relaxed);
  if (wk.tagger) wk.tagger->idle();
  worker_finished();
}

void Runtime::worker_finished() {
  if (finished_workers_.fetch_add(1, std::memory_order_acq_rel) + 1 == workers_.size()) {
    processing_ns_.store(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - started_at_).count(),
                         std::memory_order_release);
  }
}

double Runtime::processing_seconds() const { return processing_ns_.load(std::memory_order_acquire) / 1e9; }

}  // namespace privateer
