#include "control/avro/done.hpp"

namespace privateer {

std::string done_json(const DoneInfo& d) {
  std::string j = "{";
  if (d.stream) j += "\"stream\":" + json_quote(*d.stream) + ",";
  j += "\"monitorid\":" + json_quote(d.monitorid) + ",\"interval_seconds\":" + std::to_string(d.interval_seconds) +
       ",\"records\":" + std::to_string(d.records) + ",\"intervals\":[";
  const char* sep = "";
  for (const auto& iv : d.intervals) {
    j += sep;
    sep = ",";
    j += "{\"start\":" + std::to_string(iv.start) + ",\"end\":" + std::to_string(iv.end) +
         ",\"partial\":" + (iv.partial ? "true" : "false") + ",\"records\":" + std::to_string(iv.records) + "}";
  }
  j += "]";
  if (d.salvage) {
    const DoneSalvage& s = *d.salvage;
    j += ",\"salvaged\":true,\"source\":" + json_quote(s.source) + ",\"blocks\":" + std::to_string(s.blocks) +
         ",\"bytes_kept\":" + std::to_string(s.bytes_kept) + ",\"bytes_dropped\":" + std::to_string(s.bytes_dropped) +
         ",\"lost\":" + json_quote(s.lost);
  }
  return j + "}\n";
}

}  // namespace privateer
