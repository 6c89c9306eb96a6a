// plugins/common's table machinery: FlatTable (against std::map oracles),
// TableRecycler, the radix sort (against std::sort) and the merge of sorted
// runs.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <random>
#include <span>
#include <thread>
#include <tuple>
#include <vector>

#include "plugins/common/flat_table.hpp"
#include "plugins/common/radix_sort.hpp"
#include "plugins/common/sorted_runs.hpp"
#include "plugins/common/table_recycler.hpp"

using namespace privateer;

namespace {

// A TaskRunner on three plain threads (the control plane's is its output
// pool; the plugins' pieces only need the contract).
class ThreadsRunner : public TaskRunner {
 public:
  void run(size_t n, const std::function<void(size_t)>& task) override {
    std::atomic<size_t> next{0};
    auto loop = [&] {
      for (size_t i; (i = next.fetch_add(1)) < n;) task(i);
    };
    std::thread a(loop), b(loop);
    loop();
    a.join();
    b.join();
  }
};

// A key, a value set by the first insertion, a count. Sorts by (key, val).
struct KSlot {
  uint64_t key;
  uint64_t val;
  uint64_t count;
  bool same_key(const KSlot& o) const { return key == o.key; }
  uint64_t hash(const uint64_t* s) const { return hash_mum(key ^ s[0], s[1]); }
  static constexpr unsigned kKeyWords = 2;
  uint64_t key_word(unsigned i) const { return i == 0 ? key : val; }
};
using KTable = FlatTable<KSlot>;

// A slot whose hash puts every key on one of a few home slots, the last one
// included (probe chains that wrap around the end of the table).
struct BadSlot {
  uint64_t key;
  uint64_t count;
  bool same_key(const BadSlot& o) const { return key == o.key; }
  uint64_t hash(const uint64_t*) const { return key % 4 == 0 ? ~uint64_t{0} : key % 3; }
};

KSlot kslot(uint64_t key, uint64_t val = 0) { return KSlot{key, val, 0}; }

// What a table should hold: key -> (first value, count).
using Oracle = std::map<uint64_t, std::pair<uint64_t, uint64_t>>;

Oracle contents(const KTable& t) {
  Oracle m;
  t.for_each([&](const KSlot& s) {
    EXPECT_TRUE(m.emplace(s.key, std::make_pair(s.val, s.count)).second) << "key twice: " << s.key;
  });
  return m;
}

void expect_table_shape(const KTable& t) {
  const size_t cap = t.capacity();
  EXPECT_EQ(cap & (cap - 1), 0u);
  EXPECT_GE(cap, KTable::kMinCapacity);
  EXPECT_LE(t.size(), cap / 2 + cap / 8);   // at most 5/8 full
}

// Random keys from a universe of `universe` values (so with repeats).
std::vector<uint64_t> random_keys(size_t n, uint64_t universe, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint64_t> ks(n);
  for (auto& k : ks) k = (rng() % universe) * 0x9e3779b97f4a7c15ULL;   // spread over all bits
  return ks;
}

}  // namespace

// ================================================================ FlatTable

TEST(FlatTable, CapacityRoundsUpToPowersOfTwo) {
  EXPECT_EQ(KTable().capacity(), 1024u);
  EXPECT_EQ(KTable(0).capacity(), 1024u);
  EXPECT_EQ(KTable(1025).capacity(), 2048u);
  EXPECT_EQ(KTable(4096).capacity(), 4096u);
  EXPECT_EQ(KTable::capacity_for(0), 1024u);
  EXPECT_EQ(KTable::capacity_for(640), 1024u);
  EXPECT_EQ(KTable::capacity_for(641), 2048u);
  EXPECT_EQ(KTable::capacity_for(1280), 2048u);
  EXPECT_EQ(KTable::capacity_for(1281), 4096u);
  KTable t;
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.find(kslot(1), t.hash(kslot(1))), nullptr);
}

TEST(FlatTable, AddGrowsAndMatchesMapOracle) {
  const auto keys = random_keys(400000, 150000, 1);
  KTable t;
  Oracle want;
  uint64_t val = 0;
  for (uint64_t k : keys) {
    const KSlot s = kslot(k, ++val);
    t.add(s, t.hash(s));
    auto [it, fresh] = want.emplace(k, std::make_pair(val, 0));
    ++it->second.second;
  }
  EXPECT_EQ(t.size(), want.size());
  expect_table_shape(t);
  // Grown by doubling from the minimum only as far as needed.
  EXPECT_EQ(t.capacity(), KTable::capacity_for(t.size()));
  EXPECT_EQ(contents(t), want);
  for (const auto& [k, vc] : want) {
    const KSlot* s = t.find(kslot(k), t.hash(kslot(k)));
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->val, vc.first);
    EXPECT_EQ(s->count, vc.second);
  }
  for (uint64_t k = 1; k < 1000; ++k) {   // absent keys (not multiples of the spreading constant)
    EXPECT_EQ(t.find(kslot(k), t.hash(kslot(k))), nullptr);
  }
}

TEST(FlatTable, FindOrInsertAcrossGrowth) {
  const auto keys = random_keys(100000, 30000, 2);
  KTable t;
  Oracle want;
  for (size_t i = 0; i < keys.size(); ++i) {
    const KSlot k = kslot(keys[i], i);
    bool inserted = false;
    const size_t cap_before = t.capacity();
    KSlot& s = t.find_or_insert(k, t.hash(k), inserted);
    // The reference is good even when this insertion grew the table.
    EXPECT_EQ(s.key, keys[i]);
    auto [it, fresh] = want.emplace(keys[i], std::make_pair(i, 0));
    ASSERT_EQ(inserted, fresh);
    if (inserted) {
      EXPECT_EQ(s.count, 1u);
      EXPECT_EQ(s.val, i);
      s.count = 10;   // callers may store any non-zero count
      it->second.second = 10;
    } else {
      s.count += 2;
      it->second.second += 2;
      EXPECT_EQ(cap_before, t.capacity());
    }
    if (i % 7 == 0) {   // mixed with add()
      t.add(k, t.hash(k));
      ++it->second.second;
    }
  }
  EXPECT_EQ(t.size(), want.size());
  expect_table_shape(t);
  EXPECT_EQ(t.capacity(), KTable::capacity_for(t.size()));
  EXPECT_EQ(contents(t), want);
}

TEST(FlatTable, CollidingHashesWrapAroundTheEnd) {
  FlatTable<BadSlot> t;
  std::map<uint64_t, uint64_t> want;
  std::mt19937_64 rng(3);
  for (int i = 0; i < 3000; ++i) {   // grows twice, all on a few probe chains
    const BadSlot k{rng() % 2000, 0};
    t.add(k, t.hash(k));
    ++want[k.key];
  }
  EXPECT_EQ(t.size(), want.size());
  std::map<uint64_t, uint64_t> got;
  t.for_each([&](const BadSlot& s) { got[s.key] = s.count; });
  EXPECT_EQ(got, want);
  for (const auto& [k, c] : want) {
    const BadSlot* s = t.find(BadSlot{k, 0}, t.hash(BadSlot{k, 0}));
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->count, c);
  }
  EXPECT_EQ(t.find(BadSlot{4000, 0}, ~uint64_t{0}), nullptr);
  EXPECT_EQ(t.find(BadSlot{4001, 0}, 1), nullptr);
}

// Every occupied slot once, and another table of the same seed filled in
// that order grows as usual (in slot order the merge of two 2M-key tables
// took minutes: probe chains over whole stretches of the table).
TEST(FlatTable, ScatteredVisitMergesTwoBigTablesFast) {
  KTable a, b;
  for (uint64_t k = 0; k < 2000000; ++k) {
    const KSlot s = kslot(k * 2 + 1, 0), u = kslot(k * 2 + 2, 0);
    a.add(s, a.hash(s));
    b.add(u, b.hash(u));
  }
  size_t visited = 0;
  b.for_each_scattered([&](const KSlot&) { ++visited; });
  EXPECT_EQ(visited, b.size());
  const auto t0 = std::chrono::steady_clock::now();
  b.for_each_scattered([&](const KSlot& s) { a.add(s, a.hash(s)); });
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(a.size(), 4000000u);
  EXPECT_LT(secs, 10.0);
}

TEST(FlatTable, DrainEmptiesAndKeepsCapacity) {
  const auto keys = random_keys(50000, 20000, 4);
  KTable t;
  for (uint64_t k : keys) t.add(kslot(k, k + 1), t.hash(kslot(k)));
  const Oracle want = contents(t);
  const size_t cap = t.capacity();
  const KSlot* mem = t.slots();
  Oracle got;
  t.drain([&](const KSlot& s) { got.emplace(s.key, std::make_pair(s.val, s.count)); });
  EXPECT_EQ(got, want);
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.capacity(), cap);
  EXPECT_EQ(t.slots(), mem);
  size_t visited = 0;
  t.for_each([&](const KSlot&) { ++visited; });
  EXPECT_EQ(visited, 0u);
  // As new: a second round gives the same contents.
  for (uint64_t k : keys) t.add(kslot(k, k + 1), t.hash(kslot(k)));
  EXPECT_EQ(contents(t), want);
  EXPECT_EQ(t.capacity(), cap);
}

TEST(FlatTable, CompactThenMarkEmptied) {
  const auto keys = random_keys(30000, 12000, 5);
  KTable t;
  for (uint64_t k : keys) t.add(kslot(k), t.hash(kslot(k)));
  const Oracle want = contents(t);
  const size_t n = t.size();
  KSlot* a = t.compact();
  ASSERT_NE(a, nullptr);
  Oracle got;
  for (size_t i = 0; i < n; ++i) {
    ASSERT_NE(a[i].count, 0u) << i;
    got.emplace(a[i].key, std::make_pair(a[i].val, a[i].count));
  }
  for (size_t i = n; i < t.capacity(); ++i) ASSERT_EQ(a[i].count, 0u) << i;
  EXPECT_EQ(got, want);
  // The caller may reorder the front freely, e.g. sort it.
  std::vector<KSlot> scratch(std::min(n, kRadixScratchSlots<KSlot>));
  radix_sort(a, n, scratch.data());
  EXPECT_TRUE(std::is_sorted(a, a + n, key_less<KSlot>));
  for (size_t i = 0; i < n; ++i) a[i].count = 0;
  t.mark_emptied();
  EXPECT_EQ(t.size(), 0u);
  for (uint64_t k : keys) t.add(kslot(k), t.hash(kslot(k)));
  EXPECT_EQ(contents(t), want);
}

TEST(FlatTable, MoveLeavesAnEmptyShell) {
  KTable a;
  for (uint64_t k = 0; k < 2000; ++k) a.add(kslot(k), a.hash(kslot(k)));
  const Oracle want = contents(a);
  KTable b(std::move(a));
  EXPECT_EQ(a.capacity(), 0u);
  EXPECT_EQ(a.size(), 0u);
  EXPECT_EQ(a.slots(), nullptr);
  EXPECT_EQ(a.compact(), nullptr);
  EXPECT_EQ(a.find(kslot(1), 1), nullptr);
  EXPECT_EQ(contents(a), Oracle{});
  EXPECT_EQ(contents(b), want);
  KTable c;
  c = std::move(b);
  EXPECT_EQ(contents(c), want);
  EXPECT_EQ(b.capacity(), 0u);
  // Same process seed: hashes agree between tables.
  EXPECT_EQ(c.hash(kslot(77)), KTable().hash(kslot(77)));
}

TEST(FlatTable, LargeTableIsHugePageAligned) {
  KTable t(size_t{1} << 18);   // 6 MiB of slots
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.slots()) % (size_t{2} << 20), 0u);
  for (uint64_t k = 0; k < 100000; ++k) t.add(kslot(k), t.hash(kslot(k)));
  EXPECT_EQ(t.size(), 100000u);
  EXPECT_EQ(t.capacity(), size_t{1} << 18);
  uint64_t sum = 0;
  for (size_t i = 0; i < t.capacity(); ++i) sum += t.slots()[i].count;   // all of it mapped
  EXPECT_EQ(sum, 100000u);
}

// ================================================================ TableRecycler

TEST(TableRecycler, HandsBackTheSameMemory) {
  TableRecycler<KTable> r;
  EXPECT_FALSE(r.has_spare());
  KTable t = r.take(4096);   // nothing spare: a new one
  EXPECT_EQ(t.capacity(), 4096u);
  for (uint64_t k = 0; k < 100; ++k) t.add(kslot(k), t.hash(kslot(k)));
  t.drain([](const KSlot&) {});
  const KSlot* mem = t.slots();
  r.put(std::move(t));
  EXPECT_TRUE(r.has_spare());
  KTable u = r.take(4096);
  EXPECT_FALSE(r.has_spare());
  EXPECT_EQ(u.slots(), mem);
  EXPECT_EQ(u.size(), 0u);
  EXPECT_EQ(contents(u), Oracle{});
  // Spare of another capacity: freed, a new table instead.
  r.put(std::move(u));
  KTable v = r.take(8192);
  EXPECT_EQ(v.capacity(), 8192u);
  EXPECT_FALSE(r.has_spare());
}

TEST(TableRecycler, RefusesFullOrEmptyShellTablesAndKeepsTheLatest) {
  TableRecycler<KTable> r;
  KTable full;
  full.add(kslot(1), full.hash(kslot(1)));
  r.put(std::move(full));
  EXPECT_FALSE(r.has_spare());   // not emptied: freed
  KTable shell;
  KTable taken(std::move(shell));
  r.put(std::move(shell));       // no slots: freed
  EXPECT_FALSE(r.has_spare());
  KTable a(2048), b(2048);
  const KSlot* mem_b = b.slots();
  r.put(std::move(a));
  r.put(std::move(b));           // replaces a
  EXPECT_EQ(r.take(2048).slots(), mem_b);
}

TEST(TableRecycler, PutAndTakeOnTwoThreads) {
  auto r = std::make_shared<TableRecycler<KTable>>();
  std::atomic<bool> done{false};
  std::atomic<size_t> handed{0};
  std::thread merger([&] {
    for (int i = 0; i < 2000; ++i) {
      KTable t(1024);
      t.add(kslot(i), t.hash(kslot(i)));
      t.drain([](const KSlot&) {});
      r->put(std::move(t));
      ++handed;
    }
    done = true;
  });
  size_t reused = 0;
  while (!done) {
    KTable t = r->take(1024);
    EXPECT_EQ(t.size(), 0u);
    EXPECT_EQ(t.capacity(), 1024u);
    t.add(kslot(5), t.hash(kslot(5)));
    EXPECT_EQ(t.size(), 1u);
    reused += 1;
  }
  merger.join();
  EXPECT_EQ(handed.load(), 2000u);
  EXPECT_GT(reused, 0u);
}

// ================================================================ radix sort

namespace {

// K key words and a payload (count), 8 * (K + 1) bytes: K = 3 is the
// flowtuple slot's size (32768 slots in the 1 MiB scratch).
template <unsigned K>
struct WSlot {
  uint64_t w[K];
  uint64_t count;
  static constexpr unsigned kKeyWords = K;
  uint64_t key_word(unsigned i) const { return w[i]; }
  bool same_key(const WSlot& o) const { return std::equal(w, w + K, o.w); }
};

template <unsigned K>
bool whole_less(const WSlot<K>& a, const WSlot<K>& b) {
  if (key_less(a, b)) return true;
  if (key_less(b, a)) return false;
  return a.count < b.count;
}

// Sorts `in` with radix_sort (scratch exactly as small as allowed, guarded)
// and checks it against std::sort: same key sequence, same slots.
template <unsigned K>
void check_sort(std::vector<WSlot<K>> in, const char* what) {
  SCOPED_TRACE(what);
  SCOPED_TRACE("n = " + std::to_string(in.size()));
  const size_t n = in.size();
  for (size_t i = 0; i < n; ++i) in[i].count = i;   // payload: where it came from
  std::vector<WSlot<K>> want = in;
  std::sort(want.begin(), want.end(), whole_less<K>);

  const size_t need = std::min(n, kRadixScratchSlots<WSlot<K>>);
  constexpr size_t kGuard = 64;
  std::vector<WSlot<K>> scratch(need + kGuard);
  std::vector<WSlot<K>> guard(kGuard);
  for (size_t i = 0; i < kGuard; ++i) {
    for (unsigned w = 0; w < K; ++w) guard[i].w[w] = 0xa5a5a5a5a5a5a5a5ULL + i;
    guard[i].count = i;
  }
  std::memcpy(static_cast<void*>(scratch.data() + need), guard.data(), kGuard * sizeof(WSlot<K>));
  std::vector<WSlot<K>> got = in;
  radix_sort(got.data(), n, scratch.data());
  EXPECT_EQ(std::memcmp(scratch.data() + need, guard.data(), kGuard * sizeof(WSlot<K>)), 0)
      << "wrote past the scratch";

  ASSERT_TRUE(std::is_sorted(got.begin(), got.end(), key_less<WSlot<K>>));
  for (size_t i = 0; i < n; ++i) {
    ASSERT_FALSE(key_less(got[i], want[i]) || key_less(want[i], got[i])) << "key differs at " << i;
  }
  // A permutation of the input (the radix sort is not stable).
  std::sort(got.begin(), got.end(), whole_less<K>);
  EXPECT_TRUE(n == 0 || std::memcmp(got.data(), want.data(), n * sizeof(WSlot<K>)) == 0);  // no memcmp on null data

  // radix_sort_parallel, without a runner and split over threads: the same
  // keys in the same order.
  for (bool threads : {false, true}) {
    std::vector<WSlot<K>> again = in;
    ThreadsRunner runner;
    radix_sort_parallel(again.data(), n, threads ? &runner : nullptr);
    ASSERT_TRUE(std::is_sorted(again.begin(), again.end(), key_less<WSlot<K>>));
    std::sort(again.begin(), again.end(), whole_less<K>);
    EXPECT_TRUE(n == 0 || std::memcmp(again.data(), want.data(), n * sizeof(WSlot<K>)) == 0);
  }
}

template <unsigned K, class Gen>
std::vector<WSlot<K>> make(size_t n, Gen&& gen) {
  std::vector<WSlot<K>> v(n);
  for (size_t i = 0; i < n; ++i) {
    for (unsigned w = 0; w < K; ++w) v[i].w[w] = gen(i, w);
  }
  return v;
}

// Around the std::sort threshold (256) and the out-of-place limit (32768
// slots of 32 bytes), and well past them.
const size_t kSizes[] = {0, 1, 2, 3, 100, 255, 256, 257, 1000, 32767, 32768, 32769, 65539, 200003};

}  // namespace

TEST(RadixSort, KeyOrderIsUnsignedWordsMostSignificantFirst) {
  using S = WSlot<2>;
  EXPECT_TRUE(key_less(S{{0, ~uint64_t{0}}, 0}, S{{1, 0}, 0}));
  EXPECT_TRUE(key_less(S{{5, 1}, 0}, S{{5, uint64_t{1} << 63}, 0}));
  EXPECT_FALSE(key_less(S{{5, 1}, 9}, S{{5, 1}, 0}));   // count is no key
  EXPECT_FALSE(key_less(S{{5, 1}, 0}, S{{5, 1}, 9}));
}

TEST(RadixSort, CommonPrefixBytes) {
  using S = WSlot<3>;
  std::vector<S> v = {S{{1, 2, 3}, 0}, S{{1, 2, 3}, 0}};
  EXPECT_EQ(common_prefix_bytes(v.data(), 0), 0u);
  EXPECT_EQ(common_prefix_bytes(v.data(), 1), 0u);
  EXPECT_EQ(common_prefix_bytes(v.data(), 2), 24u);
  v[1].w[2] = 0x103;   // differs in byte 6 of word 2
  EXPECT_EQ(common_prefix_bytes(v.data(), 2), 22u);
  v[1].w[1] = uint64_t{0x80} << 56 | 2;
  EXPECT_EQ(common_prefix_bytes(v.data(), 2), 8u);
  v[1].w[0] = 0x0100000000000001ULL;
  EXPECT_EQ(common_prefix_bytes(v.data(), 2), 0u);
}

TEST(RadixSort, RandomKeysEqualStdSort) {
  for (size_t n : kSizes) {
    std::mt19937_64 rng(n + 10);
    check_sort<3>(make<3>(n, [&](size_t, unsigned) { return rng(); }), "random 3 words");
  }
  std::mt19937_64 rng(11);
  check_sort<1>(make<1>(100000, [&](size_t, unsigned) { return rng(); }), "random 1 word");
  check_sort<7>(make<7>(70000, [&](size_t, unsigned) { return rng(); }), "random 7 words");
}

TEST(RadixSort, AllKeysEqual) {
  for (size_t n : kSizes) {
    check_sort<3>(make<3>(n, [](size_t, unsigned w) { return 0x1234567800000000ULL + w; }), "all equal");
  }
}

TEST(RadixSort, SharedPrefixes) {
  for (size_t n : kSizes) {
    std::mt19937_64 rng(n + 20);
    // The flowtuple shape: one time index, random sources, a few ports.
    check_sort<3>(make<3>(n,
                          [&](size_t, unsigned w) -> uint64_t {
                            if (w == 0) return uint64_t{28333333} << 32 | (rng() & 0xffffffff);
                            if (w == 1) return (uint64_t{44} << 56) | (rng() & 0xffffff) << 32 | (rng() % 3);
                            return uint64_t{6} << 56 | (rng() & 0xff);
                          }),
                  "flowtuple-like");
    // corsaro3's flowtuple order: after the time, bytes of few values with
    // one dominant (protocol 85% TCP, a few TTLs, SYN flags), so the first
    // split makes a few unbalanced buckets, which the parallel sort splits again.
    check_sort<3>(make<3>(n,
                          [&](size_t, unsigned w) -> uint64_t {
                            if (w != 0) return rng();
                            const uint64_t r = rng();
                            const uint64_t proto = r % 100 < 85 ? 6 : r % 100 < 95 ? 17 : 1;
                            return uint64_t{28333333} << 32 | proto << 24 | (40 + (r >> 8) % 3) << 16 |
                                   uint64_t{2} << 8 | (r >> 16 & 0xff);
                          }),
                  "corsaro3-order flowtuple");
    // Only the last byte differs.
    check_sort<3>(make<3>(n, [&](size_t, unsigned w) { return w < 2 ? ~uint64_t{0} : 0xabcdef00ULL | (rng() & 0xff); }),
                  "last byte only");
    // Only the first byte differs.
    check_sort<3>(make<3>(n, [&](size_t, unsigned w) { return w == 0 ? (rng() & 0xff) << 56 : 7; }),
                  "first byte only");
    // Every byte 0 or 255: deep recursion through two-bucket splits.
    check_sort<3>(make<3>(n,
                          [&](size_t, unsigned) {
                            uint64_t v = 0;
                            const uint64_t bits = rng();
                            for (int b = 0; b < 8; ++b) v |= ((bits >> b) & 1) ? uint64_t{0xff} << (8 * b) : 0;
                            return v;
                          }),
                  "bytes 0 or 255");
  }
}

TEST(RadixSort, DuplicatesSortedAndReversedInputs) {
  for (size_t n : kSizes) {
    std::mt19937_64 rng(n + 30);
    check_sort<3>(make<3>(n, [&](size_t, unsigned w) { return w == 1 ? rng() % 5 : 0; }), "five keys");
    check_sort<3>(make<3>(n, [&](size_t i, unsigned w) { return w == 2 ? i : 1; }), "ascending");
    check_sort<3>(make<3>(n, [&](size_t i, unsigned w) { return w == 0 ? ~uint64_t{i} : 0; }), "descending");
    // One big bucket (larger than the scratch) and singletons.
    check_sort<3>(make<3>(n, [&](size_t i, unsigned w) -> uint64_t {
                    if (i % 100 == 0) return rng();
                    return w == 0 ? 0x4242424242424242ULL : rng();
                  }),
                  "one big bucket");
  }
}

// ================================================================ sorted runs

TEST(SortedRuns, ForEachSummedGroupsAdjacentKeys) {
  std::vector<KSlot> a = {{1, 5, 2}, {1, 6, 3}, {2, 0, 1}, {4, 1, 1}, {4, 1, 7}, {4, 9, 1}};
  std::vector<std::tuple<uint64_t, uint64_t, uint64_t>> got;
  for_each_summed(a.data(), a.size(), [&](const KSlot& s, uint64_t c) { got.emplace_back(s.key, s.val, c); });
  const std::vector<std::tuple<uint64_t, uint64_t, uint64_t>> want = {{1, 5, 5}, {2, 0, 1}, {4, 1, 9}};
  EXPECT_EQ(got, want);
  got.clear();
  for_each_summed(a.data(), 0, [&](const KSlot& s, uint64_t c) { got.emplace_back(s.key, s.val, c); });
  EXPECT_TRUE(got.empty());
}

TEST(SortedRuns, MergeOfWorkerTablesMatchesOracle) {
  // Three "workers" with overlapping keys (and their own first values), one
  // worker with nothing; each table compacted and sorted in place, then
  // merged: one call per key in key order, counts summed, smallest value
  // first, all counts zeroed.
  constexpr int kWorkers = 4;
  std::vector<KTable> tables(kWorkers);
  std::map<uint64_t, std::pair<uint64_t, uint64_t>> want;   // key -> (smallest value, sum)
  std::mt19937_64 rng(40);
  for (int w = 0; w < kWorkers; ++w) {
    if (w == 2) continue;
    for (int i = 0; i < 60000; ++i) {
      const uint64_t key = rng() % 40000;
      const KSlot k = kslot(key, rng() % 1000);
      bool inserted = false;
      KSlot& s = tables[w].find_or_insert(k, tables[w].hash(k), inserted);
      if (!inserted) ++s.count;
    }
  }
  for (auto& t : tables) {
    t.for_each([&](const KSlot& s) {
      auto [it, fresh] = want.emplace(s.key, std::make_pair(s.val, s.count));
      if (!fresh) {
        it->second.first = std::min(it->second.first, s.val);
        it->second.second += s.count;
      }
    });
  }
  std::vector<SortedRun<KSlot>> runs;
  ThreadsRunner runner;
  for (auto& t : tables) {
    const size_t n = t.size();
    KSlot* a = t.compact();
    radix_sort_parallel(a, n, &runner);
    runs.push_back({a, a + n});
  }
  std::vector<std::tuple<uint64_t, uint64_t, uint64_t>> got;
  drain_sorted_runs(std::span<SortedRun<KSlot>>(runs), [&](const KSlot& s, uint64_t c) { got.emplace_back(s.key, s.val, c); });
  ASSERT_EQ(got.size(), want.size());
  size_t i = 0;
  for (const auto& [k, vc] : want) {
    EXPECT_EQ(got[i], std::make_tuple(k, vc.first, vc.second)) << i;
    ++i;
  }
  for (auto& t : tables) {
    for (size_t j = 0; j < t.capacity(); ++j) ASSERT_EQ(t.slots()[j].count, 0u);
    t.mark_emptied();
    EXPECT_EQ(t.size(), 0u);
  }
}

TEST(SortedRuns, OneRunIsGroupedAndZeroed) {
  std::vector<KSlot> a = {{1, 0, 1}, {1, 2, 1}, {3, 0, 4}};
  std::vector<KSlot> empty;
  std::vector<SortedRun<KSlot>> runs = {{empty.data(), empty.data()}, {a.data(), a.data() + a.size()}};
  std::vector<std::tuple<uint64_t, uint64_t, uint64_t>> got;
  drain_sorted_runs(std::span<SortedRun<KSlot>>(runs), [&](const KSlot& s, uint64_t c) { got.emplace_back(s.key, s.val, c); });
  const std::vector<std::tuple<uint64_t, uint64_t, uint64_t>> want = {{1, 0, 2}, {3, 0, 4}};
  EXPECT_EQ(got, want);
  for (const KSlot& s : a) EXPECT_EQ(s.count, 0u);
  std::vector<SortedRun<KSlot>> none;
  drain_sorted_runs(std::span<SortedRun<KSlot>>(none), [&](const KSlot&, uint64_t) { ADD_FAILURE(); });
}
