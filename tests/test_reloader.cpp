// TagReloader (control/reload.hpp): rebuilds on request on its own thread,
// publishes good tables, keeps the old ones when the build throws (a
// ConfigError from a bad file), counts both, and serves requests made
// during a rebuild with one more; workers acquiring all along see only
// live tables.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "control/reload.hpp"
#include "plugins/common/options.hpp"
#include "tests/test_support.hpp"

using namespace privateer;

namespace {

std::shared_ptr<const TagTables> tables_with(size_t token) {
  auto t = std::make_shared<TagTables>();
  t->custom.resize(token);   // which build made it
  return t;
}

bool wait_done(const TagReloader& r, uint64_t n) {
  return test::wait_until([&] { return r.done() >= n; }, 10);
}

}  // namespace

TEST(TagReloader, GoodBuildsPublishBadOnesKeepTheOldTables) {
  TagTablesHandle h(tables_with(0), 2);
  std::atomic<int> builds{0};
  std::atomic<bool> fail{false};
  TagReloader r(h, [&]() -> std::shared_ptr<const TagTables> {
    const int n = ++builds;
    if (fail.load()) throw ConfigError("tagproviders.pfx2as.prefixfile", 7, "not a prefix table");
    return tables_with(static_cast<size_t>(n));
  });
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> bad{0};
  std::vector<std::thread> workers;
  for (unsigned w = 0; w < 2; ++w) {
    workers.emplace_back([&, w] {
      uint64_t last = 0;
      while (!stop.load()) {
        const TagTables* t = h.acquire(w);
        if (t->generation < last || t->custom.size() > 100) bad.fetch_add(1);
        last = t->generation;
        r.reclaim();   // from any thread: under the handle's mutex
      }
      h.release(w);
    });
  }
  r.request();
  ASSERT_TRUE(wait_done(r, 1));
  EXPECT_EQ(r.ok(), 1u);
  EXPECT_EQ(h.current()->generation, 2u);
  EXPECT_EQ(h.current()->custom.size(), 1u);

  fail.store(true);
  r.request();
  ASSERT_TRUE(wait_done(r, 2));
  EXPECT_EQ(r.failed(), 1u);
  EXPECT_EQ(h.current()->generation, 2u);   // kept
  EXPECT_EQ(h.current()->custom.size(), 1u);

  fail.store(false);
  for (int i = 0; i < 50; ++i) r.request();
  ASSERT_TRUE(wait_done(r, 52));
  EXPECT_EQ(r.requested(), 52u);
  EXPECT_EQ(r.ok(), 51u);
  EXPECT_EQ(r.failed(), 1u);
  // Requests made while one ran were served together: at most one build each.
  EXPECT_LE(builds.load(), 52);
  EXPECT_EQ(h.current()->generation, static_cast<uint64_t>(builds.load()));   // every good build published
  stop.store(true);
  for (auto& t : workers) t.join();
  EXPECT_EQ(bad.load(), 0u);
  EXPECT_EQ(h.reclaim(), 0u);
}

// Destroying the reloader while a rebuild runs waits for it.
TEST(TagReloader, DestructionWaitsForTheRebuild) {
  TagTablesHandle h(tables_with(0), 1);
  std::atomic<bool> finished{false};
  {
    TagReloader r(h, [&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      finished.store(true);
      return tables_with(1);
    });
    r.request();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(finished.load());
}
