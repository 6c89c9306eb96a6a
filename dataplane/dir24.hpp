// A DIR-24-8 table from IPv4 addresses to 31-bit values: the layout of
// DPDK's rte_lpm (one read for prefixes up to /24, two for longer ones), of
// our own since rte_lpm and rte_fib need the DPDK EAL and its memory (see
// README "Tag providers"). Prefix-to-AS (dataplane/pfx2as.hpp) and the
// MaxMind IPv4 index (dataplane/geo.hpp) are built on it.
//
// Immutable once built; a lookup is one or two loads, no branch on the
// table's size, no allocation. The 2^24-entry first level (64 MiB) is an
// anonymous mapping advised for transparent huge pages, so that a lookup at a
// random address costs one cache miss and rarely a TLB miss; pages no prefix
// reaches stay unmapped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace privateer {

class Dir24 {
 public:
  static constexpr uint32_t kMaxValue = 0x7FFFFFFFu;

  Dir24();   // every address maps to 0
  ~Dir24();
  Dir24(const Dir24&) = delete;
  Dir24& operator=(const Dir24&) = delete;

  // Maps addr/len (host order, host bits clear) to value (<= kMaxValue).
  // Overwrites what the prefix covers, so insert shorter prefixes before the
  // longer ones inside them.
  void insert(uint32_t addr, unsigned len, uint32_t value);
  // Gives back the unused capacity of the second level once built.
  void shrink() { tbl8_.shrink_to_fit(); }

  uint32_t lookup(uint32_t addr) const {
    const uint32_t e = tbl24_[addr >> 8];
    if (e & kExtended) [[unlikely]] return tbl8_[(static_cast<size_t>(e & ~kExtended) << 8) | (addr & 0xFF)];
    return e;
  }
  // Starts loading the first-level entry of addr: a burst prefetches all its
  // addresses before looking any up.
  void prefetch(uint32_t addr) const { __builtin_prefetch(&tbl24_[addr >> 8]); }

  size_t tbl8_groups() const { return tbl8_.size() >> 8; }

 private:
  // A first-level entry is the value, or kExtended | g: the 256 entries of
  // that /24 are second-level group g.
  static constexpr uint32_t kExtended = 0x80000000u;
  static constexpr size_t kEntries = size_t{1} << 24;
  uint32_t* tbl24_ = nullptr;   // kEntries, mmap'ed (zero pages until written)
  std::vector<uint32_t> tbl8_;  // 256 per group
};

}  // namespace privateer
