// Nanoseconds per lookup of the tag providers (dataplane/pfx2as.hpp,
// dataplane/geo.hpp), and of DPDK's rte_lpm and rte_fib on the same IPv4
// prefixes for comparison (those need the EAL: started here with
// --no-huge --no-pci --no-shconf).
//
// usage: bench_tagproviders PFX2AS [MMDB]
//   PFX2AS  a CAIDA pfx2as file, plain or gzip (e.g. python3-pyasn's
//           ipasn_20140513.dat.gz converted, see perf/README.md)
//   MMDB    a GeoIP2/GeoLite2 Country or City database
// Prints one line per measurement: what, lookups, ns per lookup.
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_fib.h>
#include <rte_lpm.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "dataplane/geo.hpp"
#include "dataplane/pfx2as.hpp"

using namespace privateer;

namespace {

std::string read_all(const char* path) {
  gzFile f = gzopen(path, "rb");
  if (!f) {
    std::perror(path);
    std::exit(1);
  }
  std::string s;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) s.append(buf, static_cast<size_t>(n));
  gzclose(f);
  return s;
}

template <typename F>
void measure(const char* what, size_t n, F&& body) {
  const auto t0 = std::chrono::steady_clock::now();
  const uint64_t sink = body();
  const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%-58s %10zu lookups %8.1f ns/lookup   (checksum %llu)\n", what, n, ns / static_cast<double>(n),
              static_cast<unsigned long long>(sink));
}

// Addresses: `distinct` different ones (drawn inside the table's prefixes
// half the time, uniformly otherwise), repeated in random order to `n`.
std::vector<uint32_t> addresses(const std::vector<Pfx2asPrefix>& ps, size_t distinct, size_t n, uint32_t seed) {
  std::mt19937_64 rnd(seed);
  std::vector<const Pfx2asPrefix*> v4;
  for (const auto& p : ps) {
    if (!p.v6) v4.push_back(&p);
  }
  std::vector<uint32_t> set(distinct);
  for (size_t i = 0; i < distinct; ++i) {
    if (i % 2 || v4.empty()) {
      set[i] = static_cast<uint32_t>(rnd());
    } else {
      const Pfx2asPrefix& p = *v4[rnd() % v4.size()];
      const uint32_t base = uint32_t{p.addr[0]} << 24 | uint32_t{p.addr[1]} << 16 | uint32_t{p.addr[2]} << 8 | p.addr[3];
      const uint64_t span = uint64_t{1} << (32 - p.len);
      set[i] = base + static_cast<uint32_t>(rnd() % span);
    }
  }
  std::vector<uint32_t> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = set[rnd() % distinct];
  return out;
}

bool start_eal() {
  // --in-memory is refused with --no-huge in DPDK 22.11 (--no-huge implies legacy memory); --no-shconf instead.
  const char* argv[] = {"bench", "--no-huge", "--no-pci", "--no-shconf", "--no-telemetry", "-m", "1024", "-l", "0",
                        "--log-level", "lib.eal:error", nullptr};
  return rte_eal_init(static_cast<int>(sizeof argv / sizeof argv[0]) - 1, const_cast<char**>(argv)) >= 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_tagproviders PFX2AS [MMDB]\n");
    return 2;
  }
  const std::string text = read_all(argv[1]);
  auto t0 = std::chrono::steady_clock::now();
  const auto prefixes = parse_pfx2as(text);
  auto t1 = std::chrono::steady_clock::now();
  const PrefixTable table(prefixes);
  auto t2 = std::chrono::steady_clock::now();
  std::printf("pfx2as: %zu IPv4 + %zu IPv6 prefixes; parse %.0f ms, build %.0f ms\n", table.v4_prefixes(),
              table.v6_prefixes(), std::chrono::duration<double, std::milli>(t1 - t0).count(),
              std::chrono::duration<double, std::milli>(t2 - t1).count());

  constexpr size_t kN = 20'000'000;
  const auto random_src = addresses(prefixes, kN, kN, 1);      // every lookup a new address
  const auto repeat_src = addresses(prefixes, 10'000, kN, 2);  // a telescope's repeat sources
  for (const auto* set : {&random_src, &repeat_src}) {
    const char* what = set == &random_src ? "pfx2as IPv4 (DIR-24-8), 20M distinct sources" : "pfx2as IPv4 (DIR-24-8), 10k repeat sources";
    measure(what, set->size(), [&] {
      uint64_t s = 0;
      for (uint32_t a : *set) s += table.lookup_v4(a);
      return s;
    });
  }
  if (table.v6_prefixes()) {
    std::vector<std::array<uint8_t, 16>> v6;
    std::mt19937_64 rnd(3);
    for (const auto& p : prefixes) {
      if (p.v6 && v6.size() < 1'000'000) {
        auto a = p.addr;
        for (size_t b = p.len / 8; b < 16; ++b) a[b] |= static_cast<uint8_t>(rnd() & (b == p.len / 8 ? (0xFFu >> (p.len % 8)) : 0xFFu));
        v6.push_back(a);
      }
    }
    std::shuffle(v6.begin(), v6.end(), rnd);
    measure("pfx2as IPv6 (range binary search)", v6.size(), [&] {
      uint64_t s = 0;
      for (const auto& a : v6) s += table.lookup_v6(a.data());
      return s;
    });
  }

  // The same IPv4 prefixes in rte_lpm and rte_fib (next hop: an index of the AS).
  if (start_eal()) {
    std::map<uint32_t, uint32_t> index{{0, 0}};   // next hop 0: AS 0 (also rte_fib's default)
    std::vector<uint32_t> asn_of{0};
    std::vector<const Pfx2asPrefix*> v4;
    for (const auto& p : prefixes) {
      if (p.v6) continue;
      v4.push_back(&p);
      if (index.emplace(p.asn, static_cast<uint32_t>(asn_of.size())).second) asn_of.push_back(p.asn);
    }
    rte_lpm_config lc{};
    lc.max_rules = static_cast<uint32_t>(v4.size() + 1);
    lc.number_tbl8s = 1 << 16;
    rte_lpm* lpm = rte_lpm_create("bench", SOCKET_ID_ANY, &lc);
    rte_fib_conf fc{};
    fc.type = RTE_FIB_DIR24_8;
    fc.default_nh = 0;
    fc.max_routes = static_cast<int>(v4.size() + 1);
    fc.dir24_8.nh_sz = RTE_FIB_DIR24_8_4B;
    fc.dir24_8.num_tbl8 = 1 << 16;
    rte_fib* fib = rte_fib_create("bench", SOCKET_ID_ANY, &fc);
    if (!lpm || !fib) {
      std::printf("rte_lpm/rte_fib: create failed: %s\n", rte_strerror(rte_errno));
    } else {
      auto b0 = std::chrono::steady_clock::now();
      for (const auto* p : v4) {
        const uint32_t a = uint32_t{p->addr[0]} << 24 | uint32_t{p->addr[1]} << 16 | uint32_t{p->addr[2]} << 8 | p->addr[3];
        rte_lpm_add(lpm, a, p->len, index[p->asn]);
      }
      auto b1 = std::chrono::steady_clock::now();
      for (const auto* p : v4) {
        const uint32_t a = uint32_t{p->addr[0]} << 24 | uint32_t{p->addr[1]} << 16 | uint32_t{p->addr[2]} << 8 | p->addr[3];
        rte_fib_add(fib, a, p->len, index[p->asn]);
      }
      auto b2 = std::chrono::steady_clock::now();
      std::printf("rte_lpm build %.0f ms, rte_fib build %.0f ms\n", std::chrono::duration<double, std::milli>(b1 - b0).count(),
                  std::chrono::duration<double, std::milli>(b2 - b1).count());
      size_t differ = 0;
      for (size_t i = 0; i < 1'000'000; ++i) {
        uint32_t nh = 0;
        const uint32_t want = rte_lpm_lookup(lpm, random_src[i], &nh) == 0 ? asn_of[nh] : 0;
        differ += want != table.lookup_v4(random_src[i]);
      }
      std::printf("rte_lpm vs PrefixTable: %zu of 1000000 answers differ\n", differ);
      differ = 0;
      for (size_t i = 0; i < 1'000'000; ++i) {
        uint64_t nh = 0;
        rte_fib_lookup_bulk(fib, const_cast<uint32_t*>(&random_src[i]), &nh, 1);
        differ += asn_of[nh] != table.lookup_v4(random_src[i]);
      }
      std::printf("rte_fib vs PrefixTable: %zu of 1000000 answers differ\n", differ);
      for (const auto* set : {&random_src, &repeat_src}) {
        const bool r = set == &random_src;
        measure(r ? "rte_lpm_lookup, 20M distinct sources" : "rte_lpm_lookup, 10k repeat sources", set->size(), [&] {
          uint64_t s = 0;
          for (uint32_t a : *set) {
            uint32_t nh = 0;
            s += rte_lpm_lookup(lpm, a, &nh) == 0 ? asn_of[nh] : 0;
          }
          return s;
        });
        measure(r ? "rte_fib_lookup_bulk (32), 20M distinct sources" : "rte_fib_lookup_bulk (32), 10k repeat sources",
                set->size(), [&] {
                  uint64_t s = 0;
                  uint64_t nh[32];
                  for (size_t i = 0; i + 32 <= set->size(); i += 32) {
                    rte_fib_lookup_bulk(fib, const_cast<uint32_t*>(set->data() + i), nh, 32);
                    for (uint64_t h : nh) s += asn_of[h];
                  }
                  return s;
                });
      }
    }
  } else {
    std::printf("rte_eal_init failed (%s): no rte_lpm / rte_fib comparison\n", rte_strerror(rte_errno));
  }

  if (argc > 2) {
    GeoDatabase db(argv[2]);
    std::printf("maxmind: %s (%s)\n", argv[2], db.type().c_str());
    constexpr size_t kG = 2'000'000;
    const auto g_random = addresses(prefixes, kG, kG, 4);
    const auto g_repeat = addresses(prefixes, 10'000, kG, 5);
    measure("geo uncached (MMDB_lookup_sockaddr + 2 MMDB_aget_value)", kG, [&] {
      uint64_t s = 0;
      for (uint32_t a : g_random) s += static_cast<uint8_t>(db.lookup_v4_tree(a).country[0]);
      return s;
    });
    GeoCache cache;
    measure("geo through GeoCache, 2M distinct sources (misses)", kG, [&] {
      uint64_t s = 0;
      for (uint32_t a : g_random) s += static_cast<uint8_t>(cache.lookup_v4(db, a).country[0]);
      return s;
    });
    cache.clear();
    const uint64_t before = cache.misses();
    measure("geo through GeoCache, 10k repeat sources", kG, [&] {
      uint64_t s = 0;
      for (uint32_t a : g_repeat) s += static_cast<uint8_t>(cache.lookup_v4(db, a).country[0]);
      return s;
    });
    std::printf("  (%llu misses of %zu)\n", static_cast<unsigned long long>(cache.misses() - before), kG);
    const auto t0 = std::chrono::steady_clock::now();
    if (!db.index_ipv4()) {
      std::printf("geo IPv4 index: not built (the IPv4 tree reaches a node twice)\n");
      return 0;
    }
    std::printf("geo IPv4 index: %zu networks in %.3f s\n", db.v4_networks(),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    measure("geo through the IPv4 index, 2M distinct sources", kG, [&] {
      uint64_t s = 0;
      for (uint32_t a : g_random) s += static_cast<uint8_t>(db.lookup_v4(a).country[0]);
      return s;
    });
    measure("geo through the IPv4 index, 10k repeat sources", kG, [&] {
      uint64_t s = 0;
      for (uint32_t a : g_repeat) s += static_cast<uint8_t>(db.lookup_v4(a).country[0]);
      return s;
    });
  }
  return 0;
}
