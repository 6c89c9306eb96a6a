// libFuzzer harness for the pfx2as parser and table (dataplane/pfx2as.hpp):
// the input is the text of a pfx2as file. Besides crashes, what parses must
// hold together (lengths in range, host bits clear), and the built table must
// answer like a naive longest-prefix match over the parsed lines at each of
// the first prefixes' first and last addresses and just outside them.
// Built by meson with -Dfuzz=true and run by scripts/fuzz.sh pfx2as.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string_view>

#include "dataplane/pfx2as.hpp"
#include "tests/fuzz/fuzz_common.hpp"

using namespace privateer;

namespace {

using u128 = unsigned __int128;

u128 value(const Pfx2asPrefix& p) {
  u128 v = 0;
  for (size_t i = 0; i < (p.v6 ? 16u : 4u); ++i) v = v << 8 | p.addr[i];
  return v;
}

// The host bits of a prefix of `len` in a `bits`-bit family.
u128 host_mask(unsigned bits, unsigned len) {
  const u128 top = bits == 128 ? ~u128{0} : (u128{1} << bits) - 1;
  return len == 0 ? top : (u128{1} << (bits - len)) - 1;
}

bool holds(const Pfx2asPrefix& p, u128 a) {
  const unsigned bits = p.v6 ? 128 : 32;
  if (p.len == 0) return true;
  const unsigned shift = bits - p.len;
  return (a >> shift) == (value(p) >> shift);
}

// The AS of the longest prefix of the family holding `a`; the last line wins a tie.
uint32_t naive(const std::vector<Pfx2asPrefix>& ps, bool v6, u128 a) {
  int best = -1;
  uint32_t asn = 0;
  for (const auto& p : ps) {
    if (p.v6 == v6 && holds(p, a) && p.len >= best) {
      best = p.len;
      asn = p.asn;
    }
  }
  return asn;
}

uint32_t table(const PrefixTable& t, bool v6, u128 a) {
  if (!v6) return t.lookup_v4(static_cast<uint32_t>(a));
  uint8_t b[16];
  for (int i = 15; i >= 0; --i, a >>= 8) b[i] = static_cast<uint8_t>(a);
  return t.lookup_v6(b);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<Pfx2asPrefix> ps;
  try {
    ps = parse_pfx2as(std::string_view(reinterpret_cast<const char*>(data), size));
  } catch (const Pfx2asError& e) {
    REQUIRE(e.line() >= 1);
    return 0;
  }
  for (const auto& p : ps) {
    REQUIRE(p.len <= (p.v6 ? 128 : 32));
    REQUIRE(holds(p, value(p)));
    const unsigned bits = p.v6 ? 128 : 32;
    REQUIRE((value(p) & host_mask(bits, p.len)) == 0);  // host bits clear
    if (!p.v6) REQUIRE(p.addr[4] == 0 && p.addr[15] == 0);
  }
  const PrefixTable t(ps);
  for (size_t i = 0; i < ps.size() && i < 32; ++i) {
    const auto& p = ps[i];
    const unsigned bits = p.v6 ? 128 : 32;
    const u128 first = value(p);
    const u128 last = first + host_mask(bits, p.len);
    const u128 top = host_mask(bits, 0);
    for (const u128 a : {first, last, first - 1, last + 1}) {
      if (a > top) continue;   // wrapped past either end of the family's addresses
      REQUIRE(table(t, p.v6, a) == naive(ps, p.v6, a));
    }
  }
  return 0;
}
