// Prefix-to-AS tagging: CAIDA RouteViews pfx2as files and the longest-prefix
// match of a packet's source address against them.
//
// A pfx2as line is `ADDRESS<TAB>LENGTH<TAB>AS`, IPv4 (routeviews-prefix2as)
// or IPv6 (routeviews6), where AS is one origin (`3356`, or asdot `1.10`),
// several origins of a multi-origin prefix joined by `_`, or an AS set
// joined by `,` (or both). As in corsaro3 (libcorsaro_tagging.c with
// libipmeta's pfx2as provider), a prefix names its AS only when it lists
// exactly one; a longest match on a multi-origin or AS-set prefix tags 0.
//
// The table is immutable once built, and a lookup neither allocates nor
// locks. IPv4 is a DIR-24-8 table (dataplane/dir24.hpp); IPv6 is a sorted
// array of disjoint address ranges, binary searched.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/dir24.hpp"

namespace privateer {

// One pfx2as line.
struct Pfx2asPrefix {
  std::array<uint8_t, 16> addr{};   // network order; IPv4 in the first 4 bytes; host bits cleared
  uint8_t len = 0;                  // 0..32 (IPv4), 0..128 (IPv6)
  bool v6 = false;
  uint32_t asn = 0;                 // the origin AS; 0 when the line lists more than one
};

// A line that is not a pfx2as line: `line` is 1-based.
class Pfx2asError : public std::runtime_error {
 public:
  Pfx2asError(size_t line, const std::string& message);
  size_t line() const { return line_; }

 private:
  size_t line_;
};

// Parses the text of a pfx2as file (already decompressed). Empty lines are
// skipped; anything else that is not ADDRESS LENGTH AS (separated by tabs or
// spaces, a trailing CR allowed) throws Pfx2asError naming the line.
std::vector<Pfx2asPrefix> parse_pfx2as(std::string_view text);

class PrefixTable {
 public:
  // Builds the table; a prefix listed twice keeps its last line.
  explicit PrefixTable(const std::vector<Pfx2asPrefix>& prefixes);

  // The origin AS of the longest prefix holding the address; 0 when none
  // does or that prefix has more than one origin.
  uint32_t lookup_v4(uint32_t addr_host_order) const {
    uint32_t e = v4_.lookup(addr_host_order);
    if (e >= kLarge) [[unlikely]] e = large_[e - kLarge];
    return e;
  }
  void prefetch_v4(uint32_t addr_host_order) const { v4_.prefetch(addr_host_order); }
  uint32_t lookup_v6(const uint8_t addr[16]) const;

  size_t v4_prefixes() const { return v4_count_; }
  size_t v6_prefixes() const { return v6_count_; }

 private:
  // An IPv4 entry is the AS itself, or kLarge + i for an AS of 2^30 or more
  // (large_[i]: none is allocated yet but the 4-byte private-use range).
  static constexpr uint32_t kLarge = 0x40000000u;
  Dir24 v4_;
  std::vector<uint32_t> large_;
  size_t v4_count_ = 0;
  size_t v6_count_ = 0;

  // IPv6: range i is [v6_start_[i], v6_start_[i+1]) with AS v6_asn_[i].
  std::vector<unsigned __int128> v6_start_;
  std::vector<uint32_t> v6_asn_;
};

}  // namespace privateer
