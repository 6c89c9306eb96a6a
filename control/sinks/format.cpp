#include "control/sinks/format.hpp"

namespace privateer {

namespace {

void append_key_part(const std::string& s, std::string& out) {
  for (char c : s) out.push_back(c == ' ' || c == '\t' || c == '\n' || c == '\r' ? '_' : c);
}

// Line protocol: measurements escape ',' and ' '; tag keys, tag values and
// field keys also '='. A newline cannot be escaped: it becomes a space.
void append_escaped(const std::string& s, bool measurement, std::string& out) {
  for (char c : s) {
    if (c == '\n' || c == '\r') c = ' ';
    if (c == ',' || c == ' ' || (!measurement && c == '=')) out.push_back('\\');
    out.push_back(c);
  }
}

}  // namespace

void append_key_lines(const std::string& label, uint64_t ts, const TimeseriesRow& row, std::string& out) {
  const std::pair<const char*, uint64_t> fields[] = {{"uniq_src_ip", row.uniq_src_ip},
                                                     {"uniq_dst_ip", row.uniq_dst_ip},
                                                     {"uniq_src_asn", row.uniq_src_asn},
                                                     {"pkt_cnt", row.pkt_cnt},
                                                     {"ip_len", row.byte_cnt}};
  std::string tail(1, ' ');
  tail += std::to_string(ts);
  tail.push_back('\n');
  for (const auto& [field, value] : fields) {
    append_key_part(label, out);
    out.push_back('.');
    append_key_part(row.metric, out);
    if (!row.value.empty()) {
      out.push_back('.');
      append_key_part(row.value, out);
    }
    out.push_back('.');
    out += field;
    out.push_back(' ');
    out += std::to_string(value);
    out += tail;
  }
}

void append_line_protocol(const std::string& measurement, const std::string& label, const std::string& ts,
                          const TimeseriesRow& row, std::string& out) {
  append_escaped(measurement, true, out);
  out += ",class=";
  append_escaped(row.metric, false, out);
  if (!label.empty()) {   // an empty tag value is not allowed
    out += ",label=";
    append_escaped(label, false, out);
  }
  if (!row.value.empty()) {
    out += ",value=";
    append_escaped(row.value, false, out);
  }
  const std::pair<const char*, uint64_t> fields[] = {{" uniq_src_ip=", row.uniq_src_ip},
                                                     {",uniq_dst_ip=", row.uniq_dst_ip},
                                                     {",uniq_src_asn=", row.uniq_src_asn},
                                                     {",pkt_cnt=", row.pkt_cnt},
                                                     {",ip_len=", row.byte_cnt}};
  for (const auto& [field, value] : fields) {
    out += field;
    out += std::to_string(value);
    out.push_back('i');
  }
  out.push_back(' ');
  out += ts;
  out.push_back('\n');
}

}  // namespace privateer
