#include "dataplane/flow_hash.hpp"

#include <algorithm>
#include <cstring>

namespace privateer {
namespace {

inline uint64_t mix64(uint64_t x) {
  // splitmix64 finaliser
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

}  // namespace

uint32_t symmetric_flow_hash(const PacketView& v) {
  uint64_t lo = 0, hi = 0;
  if (v.ip_version == 4) {
    lo = std::min(v.src.v4, v.dst.v4);
    hi = std::max(v.src.v4, v.dst.v4);
  } else if (v.ip_version == 6) {
    uint64_t s[2], d[2];
    std::memcpy(s, v.src.v6, 16);
    std::memcpy(d, v.dst.v6, 16);
    uint64_t sa = mix64(s[0] ^ mix64(s[1]));
    uint64_t da = mix64(d[0] ^ mix64(d[1]));
    lo = std::min(sa, da);
    hi = std::max(sa, da);
  }
  const uint64_t plo = std::min(v.sport, v.dport);
  const uint64_t phi = std::max(v.sport, v.dport);
  uint64_t h = mix64(lo * 0x9e3779b97f4a7c15ULL ^ hi);
  h = mix64(h ^ (plo << 32 | phi << 16 | v.proto));
  return static_cast<uint32_t>(h ^ (h >> 32));
}

}  // namespace privateer
