// pcapextract's `flows_file`: the flows to extract, one a line
//   PROTO SRC_IP SRC_PORT DST_IP DST_PORT
// PROTO: tcp, udp, sctp, icmp, icmp6 or a number 0..255; IPv4 or IPv6
// addresses (both of one family); ports 0..65535 (ICMP: type and code, as
// the flow table keys ICMP flows). `#` starts a comment (a whole line or the
// rest of one); blank lines are ignored. A key matches its flow in either
// direction. Every error reads FILE:LINE: why.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "dataplane/flow_table.hpp"
#include "plugins/common/line_file.hpp"

namespace privateer {

// A flow key with its two ends in a fixed order (the lower address and port
// first), so that both directions give the same key. Addresses as the flow
// table keeps them (IPv4: 4 bytes of the host-order value, then zeros).
struct FlowListKey {
  uint8_t proto = 0;
  uint8_t ip_version = 0;
  uint16_t lo_port = 0, hi_port = 0;
  uint8_t lo[16] = {}, hi[16] = {};
  int line = 0;   // in the file; not part of the key

  // The key of a flow table record.
  static FlowListKey of(const FlowRecord& r);
  bool operator<(const FlowListKey& o) const;
  bool operator==(const FlowListKey& o) const;
};

// what() reads FILE:LINE: MESSAGE.
using FlowListError = LineFileError;

// The keys of a flows file, sorted, duplicates (either direction) refused.
class FlowList {
 public:
  FlowList() = default;
  // Parses `text` (the contents of `file`, named in errors). Throws FlowListError.
  static FlowList parse(const std::string& text, const std::string& file);
  // Reads and parses `file` (a regular file of at most kMaxLineFileBytes).
  static FlowList read(const std::string& file);

  // True when the record's flow is in the list. Allocates nothing.
  bool contains(const FlowRecord& r) const;
  size_t size() const { return keys_.size(); }
  bool empty() const { return keys_.empty(); }
  const std::vector<FlowListKey>& keys() const { return keys_; }

 private:
  std::vector<FlowListKey> keys_;
};

}  // namespace privateer
