// TagTablesHandle (dataplane/tags.hpp): the RCU-like hand-over of the tag
// tables to the workers, under concurrency. Workers acquire in a loop while
// the control side publishes and reclaims; every table a worker holds must
// still be alive (checked by a destructor counter and, under ASan, by the
// sanitizer), generations never go back, and retired tables are freed once
// no worker holds them.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "dataplane/tags.hpp"

using namespace privateer;

namespace {

// Tables whose pfx2as member carries a deleter: it marks the tables' token
// dead when the last TagTables sharing it is gone. The tests publish tokens
// 0, 1, 2, ... in order, so tables of generation g carry token g - 1.
struct Tokens {
  explicit Tokens(size_t n) : alive(n) {}
  std::vector<std::atomic<int>> alive;   // 1 while the token's tables exist
  std::atomic<uint64_t> destroyed{0};
  std::shared_ptr<const TagTables> make(size_t token) {
    alive[token].store(1);
    auto t = std::make_shared<TagTables>();
    t->pfx2as = std::shared_ptr<const PrefixTable>(nullptr, [this, token](const PrefixTable*) {
      alive[token].store(0);
      destroyed.fetch_add(1);
    });
    return t;
  }
};

}  // namespace

TEST(TagTablesHandle, GenerationsStartAtOneAndCount) {
  Tokens tok(4);
  TagTablesHandle h(tok.make(0), 2);
  EXPECT_EQ(h.current()->generation, 1u);
  EXPECT_EQ(h.acquire(0)->generation, 1u);
  EXPECT_EQ(h.publish(tok.make(1)), 2u);
  EXPECT_EQ(h.current()->generation, 2u);
  // Worker 0 holds generation 1, worker 1 nothing: 1 stays.
  EXPECT_EQ(h.reclaim(), 1u);
  EXPECT_EQ(tok.alive[0].load(), 1);
  EXPECT_EQ(h.acquire(0)->generation, 2u);
  EXPECT_EQ(h.reclaim(), 0u);
  EXPECT_EQ(tok.alive[0].load(), 0);
  // An idle worker pins nothing.
  h.publish(tok.make(2));
  h.release(0);
  EXPECT_EQ(h.reclaim(), 0u);
  EXPECT_EQ(tok.alive[1].load(), 0);
  EXPECT_EQ((h.acquire(1)->generation - 1), 2u);
}

TEST(TagTablesHandle, NoTablesFreedWhileHeldUnderConcurrentPublishes) {
  constexpr unsigned kWorkers = 4;
  constexpr size_t kPublishes = 1000;
  Tokens tok(kPublishes + 1);
  TagTablesHandle h(tok.make(0), kWorkers);
  std::atomic<bool> done{false};
  std::atomic<uint64_t> violations{0}, backwards{0}, bursts{0};
  std::vector<std::thread> workers;
  for (unsigned w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&, w] {
      uint64_t last = 0;
      unsigned n = 0;
      while (!done.load(std::memory_order_relaxed)) {
        const TagTables* t = h.acquire(w);
        if (t->generation < last) backwards.fetch_add(1);
        last = t->generation;
        const size_t token = (t->generation - 1);
        // "A burst": the tables must stay alive all through it.
        for (int i = 0; i < 50; ++i) {
          if (tok.alive[token].load(std::memory_order_acquire) != 1) violations.fetch_add(1);
        }
        bursts.fetch_add(1, std::memory_order_relaxed);
        // Now and then idle for a while (the runtime releases then).
        if (++n % (7 + w) == 0) {
          h.release(w);
          std::this_thread::yield();
        }
      }
      h.release(w);
    });
  }
  size_t max_retired = 0;
  for (size_t i = 1; i <= kPublishes; ++i) {
    h.publish(tok.make(i));
    max_retired = std::max(max_retired, h.reclaim());
    if (i % 16 == 0) std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  // Let every worker pick up the last one, then stop them.
  const auto t0 = std::chrono::steady_clock::now();
  while (h.reclaim() != 0 && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10)) {
    std::this_thread::yield();
  }
  EXPECT_EQ(h.reclaim(), 0u) << "retired tables still held by busy workers after 10 s";
  done.store(true);
  for (auto& t : workers) t.join();
  EXPECT_EQ(h.reclaim(), 0u);
  EXPECT_EQ(violations.load(), 0u) << "a worker used tables already freed";
  EXPECT_EQ(backwards.load(), 0u) << "a worker saw an older generation after a newer one";
  EXPECT_GT(bursts.load(), kWorkers);   // the workers ran alongside
  // Everything but the current tables is freed, exactly once each.
  EXPECT_EQ(tok.destroyed.load(), kPublishes);
  for (size_t i = 0; i < kPublishes; ++i) EXPECT_EQ(tok.alive[i].load(), 0) << i;
  EXPECT_EQ(tok.alive[kPublishes].load(), 1);
  EXPECT_EQ(h.current()->generation, kPublishes + 1);
  RecordProperty("max_retired_held", static_cast<int>(max_retired));
}

// Workers that go idle after every burst and come back (the slow path of
// acquire() each time) while the control side publishes and reclaims in a
// tight loop: the hand-over from idle is where a worker could read tables
// being freed (an acquire() that read cur_ before announcing its generation
// fails this under ASan within a second).
TEST(TagTablesHandle, IdleWorkersComingBackNeverSeeFreedTables) {
  constexpr unsigned kWorkers = 3;
  constexpr size_t kPublishes = 200000;
  Tokens tok(kPublishes + 1);
  TagTablesHandle h(tok.make(0), kWorkers);
  std::atomic<bool> done{false};
  std::atomic<uint64_t> violations{0}, bursts{0};
  std::vector<std::thread> workers;
  for (unsigned w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&, w] {
      uint64_t n = 0;
      while (!done.load(std::memory_order_relaxed)) {
        const TagTables* t = h.acquire(w);
        if (tok.alive[(t->generation - 1)].load(std::memory_order_acquire) != 1) violations.fetch_add(1);
        h.release(w);
        ++n;
      }
      bursts.fetch_add(n);
    });
  }
  for (size_t i = 1; i <= kPublishes; ++i) {
    h.publish(tok.make(i));
    h.reclaim();
  }
  done.store(true);
  for (auto& t : workers) t.join();
  EXPECT_EQ(violations.load(), 0u);
  EXPECT_GT(bursts.load(), 0u);
  EXPECT_EQ(h.reclaim(), 0u);
  EXPECT_EQ(tok.destroyed.load(), kPublishes);
}

// A worker that stops acquiring while holding tables keeps exactly those
// (and newer) alive; once it releases, all retired ones go.
TEST(TagTablesHandle, StalledWorkerPinsItsGenerationOnly) {
  Tokens tok(10);
  TagTablesHandle h(tok.make(0), 3);
  h.acquire(0);                 // holds 1
  for (size_t i = 1; i < 10; ++i) {
    h.publish(tok.make(i));
    h.acquire(1);               // follows
    h.reclaim();
  }
  EXPECT_EQ(tok.alive[0].load(), 1);
  EXPECT_EQ(h.reclaim(), 9u);   // generations 1..9 kept: worker 0 holds 1
  h.release(0);
  EXPECT_EQ(h.reclaim(), 0u);
  for (size_t i = 0; i < 9; ++i) EXPECT_EQ(tok.alive[i].load(), 0) << i;
}

// The handle's destructor frees whatever is left (ASan/LSan: no leak).
TEST(TagTablesHandle, DestructionFreesAll) {
  Tokens tok(3);
  {
    TagTablesHandle h(tok.make(0), 1);
    h.acquire(0);
    h.publish(tok.make(1));
    h.publish(tok.make(2));
  }
  EXPECT_EQ(tok.destroyed.load(), 3u);
}
