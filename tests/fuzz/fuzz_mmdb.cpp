// libFuzzer harness for MaxMind databases through GeoDatabase
// (dataplane/geo.hpp): the input is the .mmdb file, written to a memfd that
// libmaxminddb opens by its /proc/self/fd path. What opens is indexed
// (GeoDatabase::index_ipv4) and looked up at a few IPv4 and IPv6 addresses,
// directly and through a GeoCache; an answer's codes must be two letters or
// digits, or unknown, and an IPv4 answer of the index must be libmaxminddb's. Built by meson with -Dfuzz=true and run by
// scripts/fuzz.sh mmdb.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "dataplane/geo.hpp"
#include "tests/fuzz/fuzz_common.hpp"

using namespace privateer;

namespace {

bool alnum(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

bool valid(const char c[2]) { return (c[0] == 0 && c[1] == 0) || (alnum(c[0]) && alnum(c[1])); }

void check(const GeoAnswer& a) {
  REQUIRE(valid(a.continent));
  REQUIRE(valid(a.country));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const int fd = memfd_create("fuzz_mmdb", 0);
  static const std::string path = "/proc/self/fd/" + std::to_string(fd);
  REQUIRE(fd >= 0);
  REQUIRE(ftruncate(fd, 0) == 0);
  for (size_t off = 0; off < size;) {
    const ssize_t w = pwrite(fd, data + off, size - off, static_cast<off_t>(off));
    REQUIRE(w > 0);
    off += static_cast<size_t>(w);
  }
  try {
    GeoDatabase db(path);
    db.index_ipv4();
    static GeoCache cache;   // allocated once, as in a worker
    cache.clear();
    for (uint32_t a : {0u, 0x027DA0D8u /* 2.125.160.216 */, 0x51024590u, 0xFFFFFFFFu, 0x0A000001u, 0x0A000081u}) {
      const GeoAnswer got = db.lookup_v4(a), tree = db.lookup_v4_tree(a);
      check(got);
      REQUIRE(std::memcmp(&got, &tree, sizeof got) == 0);
      check(cache.lookup_v4(db, a));
    }
    const uint8_t v6[][16] = {{0},
                              {0x20, 0x01, 0x02, 0x18, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
                              {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
                              {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 2, 125, 160, 216}};
    for (const auto& a : v6) {
      check(db.lookup_v6(a));
      check(cache.lookup_v6(db, a));
    }
  } catch (const GeoError&) {
  }
  return 0;
}
