// The report plugin's exact unique counts (uniq: exact, the default): the
// workers append each packet's members as plain records, and the merge sorts
// them (on the output threads) and counts each distinct one once. Appending
// beats hashing here because in telescope traffic nearly every member is new.
//
// Two kinds of record:
// - MaskRec: the metrics of few values every packet has one of (overall, the
//   filter-criteria, protocols ICMP/TCP/UDP, the continents) are one bit
//   each in a mask per address (or ASN) and side: bit 0 overall, bit b
//   filter id b (4..28), bits 32..34 ICMP, TCP, UDP, bit 40 + i continent
//   kContinents[i]. The merge ORs an address's masks and counts their bits.
// - PairKey: a port metric's member as one word, (port class - kFirstPortClass)
//   << 50 | port << 34 | side << 32 | address (or ASN).
// Other metrics (other protocols, ICMP codes, countries, ASNs) keep
// ReportWorker's hash table of (metric, member) entries.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "plugins/plugin_api.hpp"
#include "plugins/report/report.hpp"

namespace privateer::report_detail {

inline const char* const kContinents[] = {"??", "AF", "AN", "AS", "EU", "NA", "OC", "SA"};

// A two-letter code as a metric value (first letter in the low byte); "??"
// for unknown or anything that is not two letters A-Z.
inline uint32_t code2(const char c[2]) {
  const auto ok = [](char x) { return x >= 'A' && x <= 'Z'; };
  if (!ok(c[0]) || !ok(c[1])) return '?' | ('?' << 8);
  return static_cast<uint8_t>(c[0]) | (static_cast<uint32_t>(static_cast<uint8_t>(c[1])) << 8);
}

struct MaskRec {
  uint64_t key;    // side (0 source, 1 destination, 2 source ASN) << 32 | address (or ASN)
  uint64_t mask;
  static constexpr unsigned kKeyWords = 1;
  uint64_t key_word(unsigned) const { return key; }
};

struct PairKey {
  uint64_t key;
  static constexpr unsigned kKeyWords = 1;
  uint64_t key_word(unsigned) const { return key; }
};
constexpr uint32_t kFirstPortClass = kTcpSrcPort;

// The mask bit of a metric, or -1 when it is not one of the few-valued ones.
int mask_bit(uint64_t metric);
// Whether a metric's members are PairKeys (the four port classes).
inline bool is_port_metric(uint64_t metric) { return (metric >> 32) - kFirstPortClass < 4; }

// Adds the distinct members of `all` (every worker's records, sorted here
// with `runner`, then freed) to the rows of their metrics (`index`: row of a
// metric id; every metric with a member has one).
void count_masks(std::vector<MaskRec>& all, std::vector<ReportRow>& rows,
                 const std::unordered_map<uint64_t, size_t>& index, TaskRunner* runner);
void count_pairs(std::vector<PairKey>& all, std::vector<ReportRow>& rows,
                 const std::unordered_map<uint64_t, size_t>& index, TaskRunner* runner);

}  // namespace privateer::report_detail
