// The sinks' text formats.
#pragma once

#include <cstdint>
#include <string>

#include "plugins/plugin_api.hpp"

namespace privateer {

// libtimeseries' ascii lines, one per field:
// `<label>.<metric>[.<value>].<field> <count> <ts>\n`, fields uniq_src_ip,
// uniq_dst_ip, uniq_src_asn, pkt_cnt, ip_len. Whitespace in a key becomes
// '_' (it would split the line). Graphite's plaintext protocol is the same.
void append_key_lines(const std::string& label, uint64_t ts, const TimeseriesRow& row, std::string& out);

// One InfluxDB line-protocol point: `MEASUREMENT,class=..,label=..[,value=..]
// uniq_src_ip=Ni,... TS\n` (tags sorted by key, as InfluxDB prefers; an
// empty value tag left out). `ts` is written as given (seconds or ns).
void append_line_protocol(const std::string& measurement, const std::string& label, const std::string& ts,
                          const TimeseriesRow& row, std::string& out);

}  // namespace privateer
