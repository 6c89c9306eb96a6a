// The worker runtime with a counting plugin on packets we build here: the
// same intervals and totals for any number of workers, empty intervals in a
// gap closed, late packets kept, flows kept on one worker.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <thread>
#include <set>
#include <vector>

#include "dataplane/runtime.hpp"

using namespace privateer;

namespace {

struct CountResult : IntervalResult {
  uint64_t packets = 0;
  std::map<uint32_t, uint64_t> per_src;
};

class CountingProcessor : public WorkerProcessor {
 public:
  void process(const PacketView* v, const uint8_t* const*, size_t n) override {
    for (size_t i = 0; i < n; ++i) {
      ++cur_.packets;
      ++cur_.per_src[v[i].src.v4];
    }
  }
  std::unique_ptr<IntervalResult> end_interval(uint64_t) override {
    auto r = std::make_unique<CountResult>(cur_);
    cur_ = CountResult();
    return r;
  }

 private:
  CountResult cur_;
};

// One CountingProcessor for each of `workers` workers.
std::vector<std::vector<std::unique_ptr<WorkerProcessor>>> counting_processors(unsigned workers) {
  std::vector<std::vector<std::unique_ptr<WorkerProcessor>>> procs(workers);
  for (auto& p : procs) p.push_back(std::make_unique<CountingProcessor>());
  return procs;
}

// An Ethernet/IPv4/UDP packet from src to dst.
std::vector<uint8_t> udp_packet(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport) {
  std::vector<uint8_t> p(14 + 20 + 8, 0);
  p[12] = 0x08;
  uint8_t* ip = p.data() + 14;
  ip[0] = 0x45;
  ip[3] = 28;
  ip[8] = 64;
  ip[9] = 17;
  for (int i = 0; i < 4; ++i) {
    ip[12 + i] = static_cast<uint8_t>(src >> (24 - 8 * i));
    ip[16 + i] = static_cast<uint8_t>(dst >> (24 - 8 * i));
  }
  uint8_t* udp = ip + 20;
  udp[0] = sport >> 8;
  udp[1] = sport & 0xff;
  udp[2] = dport >> 8;
  udp[3] = dport & 0xff;
  return p;
}

using Packets = std::vector<std::pair<uint64_t, std::vector<uint8_t>>>;

// A BurstReader handing out (timestamp in seconds, bytes) pairs in order.
BurstReader reader_for(const Packets& pkts) {
  auto next = std::make_shared<size_t>(0);
  return [&pkts, next](RawPacket* out, size_t max, bool* eof) {
    size_t n = 0;
    while (n < max && *next < pkts.size()) {
      const auto& [sec, bytes] = pkts[*next];
      out[n].data = bytes.data();
      out[n].caplen = out[n].wirelen = static_cast<uint32_t>(bytes.size());
      out[n].ts_ns = sec * 1000000000ULL;
      out[n].linktype = linktype::ethernet;
      ++n;
      ++*next;
    }
    *eof = *next == pkts.size();
    return n;
  };
}

struct RunResult {
  std::map<uint64_t, uint64_t> packets_per_interval;
  std::map<uint64_t, std::map<uint32_t, uint64_t>> per_src;
  std::map<uint64_t, std::set<unsigned>> workers_seen;
  std::vector<uint64_t> order;
  uint64_t late = 0;
};

RunResult run_runtime(unsigned workers, const std::vector<std::pair<uint64_t, std::vector<uint8_t>>>& pkts,
        uint32_t max_gap = 1440) {
  RuntimeOptions o;
  o.workers = workers;
  o.interval_seconds = 60;
  o.max_gap_intervals = max_gap;
  Runtime rt(o, counting_processors(workers));
  rt.start(reader_for(pkts));
  RunResult r;
  std::map<uint64_t, unsigned> arrivals;
  for (;;) {
    auto d = rt.poll_result();
    if (!d) {
      if (rt.finished()) {
        d = rt.poll_result();
        if (!d) break;
      } else {
        continue;
      }
    }
    auto* c = static_cast<CountResult*>(d->results.at(0).get());
    r.packets_per_interval[d->interval_start] += c->packets;
    for (auto& [s, n] : c->per_src) {
      r.per_src[d->interval_start][s] += n;
      if (n) r.workers_seen[s].insert(d->worker);
    }
    if (++arrivals[d->interval_start] == workers) {
      r.order.push_back(d->interval_start);
      rt.set_merged_intervals(r.order.size());
    }
  }
  rt.join();
  r.late = rt.dispatcher_counters().late_packets.load();
  return r;
}

}  // namespace

TEST(Runtime, SameResultsForAnyWorkerCount) {
  std::vector<std::pair<uint64_t, std::vector<uint8_t>>> pkts;
  // 3 busy intervals, then a gap of 4 empty intervals, then one more.
  for (uint64_t t = 1700000000; t < 1700000180; ++t) {
    for (uint32_t k = 0; k < 50; ++k) pkts.push_back({t, udp_packet(0x0a000000 + k, 0x2c000001 + (t % 7), 1000 + k, 53)});
  }
  for (uint32_t k = 0; k < 10; ++k) pkts.push_back({1700000480, udp_packet(0x0b000000 + k, 0x2c000001, 1, 2)});
  const RunResult one = run_runtime(1, pkts);
  for (unsigned w : {2u, 3u, 4u}) {
    const RunResult many = run_runtime(w, pkts);
    EXPECT_EQ(many.packets_per_interval, one.packets_per_interval) << w << " workers";
    EXPECT_EQ(many.per_src, one.per_src) << w << " workers";
    EXPECT_EQ(many.order, one.order);
  }
  // Intervals closed in order, the empty ones of the gap too.
  std::vector<uint64_t> want;
  for (uint64_t iv = 1699999980; iv <= 1700000460; iv += 60) want.push_back(iv);
  EXPECT_EQ(one.order, want);
  EXPECT_EQ(one.packets_per_interval.at(1700000220), 0u);
  uint64_t total = 0;
  for (auto& [iv, n] : one.packets_per_interval) total += n;
  EXPECT_EQ(total, pkts.size());
}

TEST(Runtime, BothDirectionsOfAFlowReachOneWorker) {
  std::vector<std::pair<uint64_t, std::vector<uint8_t>>> pkts;
  for (uint32_t k = 0; k < 200; ++k) {
    pkts.push_back({1700000000, udp_packet(0x0a000000 + k, 0x2c000000 + k, 1000 + k, 53)});
    pkts.push_back({1700000000, udp_packet(0x2c000000 + k, 0x0a000000 + k, 53, 1000 + k)});
  }
  const RunResult r = run_runtime(4, pkts);
  for (uint32_t k = 0; k < 200; ++k) {
    const auto& a = r.workers_seen.at(0x0a000000 + k);
    const auto& b = r.workers_seen.at(0x2c000000 + k);
    EXPECT_EQ(a, b);
  }
}

TEST(Runtime, LatePacketsAndTimeJumps) {
  std::vector<std::pair<uint64_t, std::vector<uint8_t>>> pkts;
  pkts.push_back({1700000000, udp_packet(1, 2, 3, 4)});
  pkts.push_back({0, udp_packet(1, 2, 3, 4)});              // no timestamp: late
  pkts.push_back({1700000040, udp_packet(1, 2, 3, 4)});             // the next interval
  pkts.push_back({1700000040 + 60 * 5000, udp_packet(1, 2, 3, 4)});  // a jump over 5000 intervals  // a jump over 5000 intervals
  const RunResult r = run_runtime(2, pkts, 1440);
  EXPECT_EQ(r.late, 1u);
  EXPECT_EQ(r.order.size(), 3u) << "the jump is not filled with 5000 empty intervals";
  uint64_t total = 0;
  for (auto& [iv, n] : r.packets_per_interval) total += n;
  EXPECT_EQ(total, 4u);
}

// The dispatcher closes no more than max_unmerged_intervals intervals ahead
// of what the control plane has merged, so unmerged results cannot pile up.
TEST(Runtime, WaitsForMergesBeforeClosingMore) {
  std::vector<std::pair<uint64_t, std::vector<uint8_t>>> pkts;
  for (uint64_t iv = 0; iv < 6; ++iv) pkts.push_back({1700000040 + 60 * iv, udp_packet(1, 2, 3, 4)});
  RuntimeOptions o;
  o.workers = 2;
  o.max_unmerged_intervals = 2;
  Runtime rt(o, counting_processors(2));
  rt.start(reader_for(pkts));
  std::map<uint64_t, unsigned> arrivals;
  auto drain = [&] {
    while (auto d = rt.poll_result()) ++arrivals[d->interval_start];
  };
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  drain();
  EXPECT_EQ(arrivals.size(), 2u) << "only two intervals closed while none was merged";
  EXPECT_GE(rt.dispatcher_counters().merge_waits.load(), 1u);
  uint64_t merged = 0;
  for (;;) {
    const bool finished = rt.finished();  // read before draining: all results are in the ring
    drain();
    for (auto it = arrivals.begin(); it != arrivals.end() && it->second == 2;) {
      it = arrivals.erase(it);
      rt.set_merged_intervals(++merged);
    }
    if (finished && arrivals.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  rt.join();
  EXPECT_EQ(merged, 6u);
}

// A live source that goes quiet: the open interval closes by the clock once
// its end plus the lateness has passed, counted from the last packet's time.
TEST(Runtime, IdleLiveSourceClosesIntervalsByTheClock) {
  const Packets pkts = {{1700000099, udp_packet(1, 2, 3, 4)}};  // 1 s before the interval ends
  RuntimeOptions o;
  o.workers = 2;
  o.live = true;
  o.live_lateness_seconds = 1;
  Runtime rt(o, counting_processors(2));
  auto files = reader_for(pkts);
  rt.start([&](RawPacket* out, size_t max, bool* eof) {
    const size_t n = files(out, max, eof);
    *eof = false;  // live: never ends by itself
    return n;
  });
  std::map<uint64_t, unsigned> arrivals;
  const auto t0 = std::chrono::steady_clock::now();
  while (arrivals[1700000040] < 2 && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10)) {
    while (auto d = rt.poll_result()) {
      ++arrivals[d->interval_start];
      EXPECT_FALSE(d->last);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(arrivals[1700000040], 2u) << "both workers closed the interval while the source was idle";
  EXPECT_GE(waited, 1.5) << "not before its end (1 s after the packet) plus 1 s lateness";
  EXPECT_EQ(rt.dispatcher_counters().idle_closed_intervals.load(), 1u);
  rt.set_merged_intervals(1);
  rt.request_stop();
  for (;;) {
    const bool finished = rt.finished();
    while (rt.poll_result()) {
    }
    if (finished) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  rt.join();
}

// The NIC-queue model: each worker polls its own reader. Per-interval totals
// equal those of the dispatcher model over the same packets, and a worker
// whose queue runs dry still closes every interval.
TEST(Runtime, PollingWorkersGiveTheSameIntervals) {
  Packets q0, q1, all;
  for (uint64_t t = 1700000000; t < 1700000300; t += 3) {
    q0.push_back({t, udp_packet(0x0a000001, 0x2c000000 + static_cast<uint32_t>(t % 97), 1000, 53)});
    all.push_back(q0.back());
  }
  for (uint64_t t = 1700000000; t < 1700000100; t += 2) {  // this queue stops early
    q1.push_back({t, udp_packet(0x0b000001, 0x2c000000 + static_cast<uint32_t>(t % 89), 2000, 80)});
    all.push_back(q1.back());
  }
  std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  const RunResult want = run_runtime(1, all);

  RuntimeOptions o;
  o.workers = 2;
  o.live = true;
  Runtime rt(o, counting_processors(2));
  std::vector<std::vector<BurstReader>> readers(2);
  readers[0].push_back(reader_for(q0));
  readers[1].push_back(reader_for(q1));
  rt.start_polling(std::move(readers));
  std::map<uint64_t, uint64_t> packets;
  std::map<uint64_t, unsigned> arrivals;
  uint64_t merged = 0;
  bool stop_sent = false;
  const auto t0 = std::chrono::steady_clock::now();
  for (;;) {
    const bool finished = rt.finished();
    while (auto d = rt.poll_result()) {
      packets[d->interval_start] += static_cast<CountResult*>(d->results.at(0).get())->packets;
      if (++arrivals[d->interval_start] == 2) rt.set_merged_intervals(++merged);
    }
    if (finished) break;
    if (!stop_sent && rt.dispatcher_counters().packets.load() == all.size() &&
        std::chrono::steady_clock::now() - t0 > std::chrono::milliseconds(300)) {
      rt.request_stop();
      stop_sent = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  rt.join();
  EXPECT_EQ(packets, want.packets_per_interval);
  for (auto& [iv, n] : arrivals) EXPECT_EQ(n, 2u) << "interval " << iv << " closed by both workers";
}

// A live source is never held up by a slow worker: what does not fit in the
// worker's ring is dropped and counted, and nothing goes missing uncounted.
TEST(Runtime, LiveInputDropsAndCountsWhenAWorkerFallsBehind) {
  class SlowProcessor : public CountingProcessor {
   public:
    void process(const PacketView* v, const uint8_t* const* d, size_t n) override {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      CountingProcessor::process(v, d, n);
    }
  };
  Packets pkts;
  for (uint32_t k = 0; k < 20000; ++k) pkts.push_back({1700000000, udp_packet(0x0a000000 + k, 0x2c000001, 1000, 53)});
  RuntimeOptions o;
  o.workers = 1;
  o.live = true;
  o.batches_per_worker = 2;
  std::vector<std::vector<std::unique_ptr<WorkerProcessor>>> procs(1);
  procs[0].push_back(std::make_unique<SlowProcessor>());
  Runtime rt(o, std::move(procs));
  auto files = reader_for(pkts);
  rt.start([&](RawPacket* out, size_t max, bool* eof) {
    const size_t n = files(out, max, eof);
    *eof = false;  // live
    return n;
  });
  while (rt.dispatcher_counters().packets.load() < pkts.size()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  rt.request_stop();
  uint64_t processed = 0;
  for (;;) {
    const bool finished = rt.finished();
    while (auto d = rt.poll_result()) processed += static_cast<CountResult*>(d->results.at(0).get())->packets;
    if (finished) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  rt.join();
  const uint64_t drops = rt.worker_counters(0).ring_drops.load();
  EXPECT_GT(drops, 0u);
  EXPECT_EQ(processed + drops, pkts.size());
  EXPECT_EQ(rt.worker_counters(0).packets.load(), processed);
}

// Queues years apart in packet time: a worker jumps over the gap instead of
// closing every empty interval in it, and every packet is still counted.
TEST(Runtime, PollingWorkersJumpLongTimeGaps) {
  Packets q0, q1;
  for (uint32_t k = 0; k < 100; ++k) q0.push_back({1300000000 + k, udp_packet(0x0a000001, 0x2c000000 + k, 1000, 53)});
  for (uint32_t k = 0; k < 100; ++k) q1.push_back({1600000000 + k, udp_packet(0x0b000001, 0x2c000000 + k, 2000, 80)});
  RuntimeOptions o;
  o.workers = 2;
  o.live = true;
  o.max_unmerged_intervals = 0;  // as for live input: this test merges nothing
  Runtime rt(o, counting_processors(2));
  std::vector<std::vector<BurstReader>> readers(2);
  readers[0].push_back(reader_for(q0));
  readers[1].push_back(reader_for(q1));
  const auto t0 = std::chrono::steady_clock::now();
  rt.start_polling(std::move(readers));
  uint64_t packets = 0, results = 0;
  bool stop_sent = false;
  for (;;) {
    const bool finished = rt.finished();
    while (auto d = rt.poll_result()) {
      packets += static_cast<CountResult*>(d->results.at(0).get())->packets;
      ++results;
    }
    if (finished) break;
    if (!stop_sent && rt.dispatcher_counters().packets.load() == q0.size() + q1.size() &&
        std::chrono::steady_clock::now() - t0 > std::chrono::milliseconds(200)) {
      rt.request_stop();
      stop_sent = true;
    }
    ASSERT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(20)) << "stuck closing empty intervals";
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  rt.join();
  EXPECT_EQ(packets, q0.size() + q1.size());
  EXPECT_LT(results, 20u);
  // Whichever queue was read first set the start: either the newer queue
  // jumped the gap, or the older one's packets are late.
  const auto& dc = rt.dispatcher_counters();
  EXPECT_TRUE(dc.time_jumps.load() >= 1 || dc.late_packets.load() == q0.size())
      << "jumps " << dc.time_jumps.load() << ", late " << dc.late_packets.load();
}

namespace {

// Records the times idle() gave it, up to the interval's end.
struct IdleResult : IntervalResult {
  uint64_t packets = 0, last_idle_ns = 0;
  bool monotone = true;
};
class IdleRecorder : public WorkerProcessor {
 public:
  void process(const PacketView*, const uint8_t* const*, size_t n) override { cur_.packets += n; }
  void idle(uint64_t ts_ns) override {
    if (ts_ns < cur_.last_idle_ns) cur_.monotone = false;
    cur_.last_idle_ns = ts_ns;
  }
  std::unique_ptr<IntervalResult> end_interval(uint64_t) override {
    auto r = std::make_unique<IdleResult>(cur_);
    cur_ = IdleResult();
    return r;
  }

 private:
  IdleResult cur_;
};

}  // namespace

// One flow (one worker) read slowly, a packet every 10 ms of packet time:
// the three workers without packets are told the time as it goes (close
// to the newest packet read), never going back, never past the newest.
TEST(Runtime, IdleWorkersAreToldThePacketTime) {
  constexpr unsigned kWorkers = 4;
  constexpr uint64_t kT0 = 1700000000ull * 1000000000ull, kStep = 10 * 1000 * 1000;
  constexpr size_t kPackets = 1000;
  const std::vector<uint8_t> pkt = udp_packet(0x0a000001, 0x2c000001, 1000, 53);
  auto next = std::make_shared<size_t>(0);
  BurstReader reader = [&pkt, next](RawPacket* out, size_t, bool* eof) -> size_t {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    out[0].data = pkt.data();
    out[0].caplen = out[0].wirelen = static_cast<uint32_t>(pkt.size());
    out[0].ts_ns = kT0 + *next * kStep;
    out[0].linktype = linktype::ethernet;
    *eof = ++*next == kPackets;
    return 1;
  };
  std::vector<std::vector<std::unique_ptr<WorkerProcessor>>> procs(kWorkers);
  for (auto& p : procs) p.push_back(std::make_unique<IdleRecorder>());
  RuntimeOptions o;
  o.workers = kWorkers;
  o.interval_seconds = 60;
  Runtime rt(o, std::move(procs));
  rt.start(std::move(reader));
  std::vector<IdleResult> got(kWorkers);
  for (;;) {
    auto d = rt.poll_result();
    if (!d) {
      if (rt.finished() && !(d = rt.poll_result())) break;
      if (!d) continue;
    }
    const auto* r = static_cast<const IdleResult*>(d->results.at(0).get());
    got[d->worker].packets += r->packets;
    got[d->worker].last_idle_ns = std::max(got[d->worker].last_idle_ns, r->last_idle_ns);
    got[d->worker].monotone = got[d->worker].monotone && r->monotone;
    rt.set_merged_intervals(1);
  }
  rt.join();
  const uint64_t newest = kT0 + (kPackets - 1) * kStep;
  unsigned quiet = 0;
  for (unsigned w = 0; w < kWorkers; ++w) {
    EXPECT_TRUE(got[w].monotone) << "worker " << w;
    EXPECT_LE(got[w].last_idle_ns, newest) << "worker " << w;
    if (got[w].packets) continue;
    ++quiet;
    // Told within a second of packet time of the end (the last told may
    // precede the last packet read by a few polls).
    EXPECT_GE(got[w].last_idle_ns + 1000000000ull, newest) << "worker " << w;
  }
  EXPECT_EQ(quiet, kWorkers - 1);
}
