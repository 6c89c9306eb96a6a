// The report plugin's options (corsaro3's keys and a few of Privateer's),
// read with errors that name the key and its line.
#include <cctype>
#include <cstdio>

#include "plugins/common/options.hpp"
#include "plugins/report/report.hpp"

namespace privateer {

using namespace report_detail;

namespace {

// One entry of a port range list: "LOW-HIGH" or "PORT".
bool parse_one_range(const std::string& v, PortSet& set) {
  unsigned lo = 0, hi = 0;
  char extra = 0;
  if (v.empty() || v.find_first_not_of("0123456789- ") != std::string::npos) return false;
  const int got = std::sscanf(v.c_str(), "%u - %u %c", &lo, &hi, &extra);
  if (got == 1 && v.find('-') == std::string::npos) hi = lo;
  else if (got != 2) return false;
  if (lo > hi || hi > 65535) return false;
  for (unsigned p = lo; p <= hi; ++p) set.set(p);
  return true;
}

PortSet parse_range(const YAML::Node& options, const std::string& path, const char* key) {
  PortSet set;
  const YAML::Node n = options[key];
  if (!n.IsDefined() || n.IsNull()) return set.set();
  std::vector<YAML::Node> items;
  if (n.IsSequence()) {
    for (const auto& i : n) items.push_back(i);
  } else {
    items.push_back(n);
  }
  if (items.empty()) throw ConfigError(join_key(path, key), yaml_line(n), "must list at least one port or range");
  for (const auto& i : items) {
    if (!i.IsScalar() || !parse_one_range(i.Scalar(), set)) {
      throw ConfigError(join_key(path, key), yaml_line(i),
                        "must be a port range LOW-HIGH or a port within 0-65535 (or a list of them), got '" +
                            (i.IsScalar() ? i.Scalar() : std::string("a non-scalar")) + "'");
    }
  }
  return set;
}

uint64_t parse_limits(const YAML::Node& list, const std::string& path, std::vector<std::string>& warnings) {
  const std::string key = join_key(path, "limitmetrics");
  if (!list.IsSequence()) throw ConfigError(key, yaml_line(list), "must be a list of metric groups");
  const auto bit = [](uint32_t c) { return uint64_t{1} << c; };
  uint64_t mask = 0;
  for (const auto& item : list) {
    if (!item.IsScalar()) throw ConfigError(key, yaml_line(item), "each entry must be a metric group name");
    std::string s = item.Scalar();
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (s == "basic") mask |= bit(kCombined) | bit(kIpProtocol);
    else if (s == "tcpports") mask |= bit(kTcpSrcPort) | bit(kTcpDstPort);
    else if (s == "udpports") mask |= bit(kUdpSrcPort) | bit(kUdpDstPort);
    else if (s == "icmp") mask |= bit(kIcmpTypeCode);
    else if (s == "maxmind") mask |= bit(kMaxmindContinent) | bit(kMaxmindCountry);
    else if (s == "pfx2asn") mask |= bit(kPrefixAsn);
    else if (s == "filter") mask |= bit(kFilterCriteria);
    else if (s == "netacq") {
      mask |= bit(kNetacqContinent);   // keeps the list non-empty: netacq alone tracks nothing here
      warnings.push_back(key + " (line " + std::to_string(yaml_line(item)) +
                         "): netacq: Net Acuity tagging is not built, so no netacq metrics are written");
    } else {
      throw ConfigError(key, yaml_line(item),
                        "unknown metric group '" + item.Scalar() +
                            "' (known: basic, tcpports, udpports, icmp, maxmind, netacq, pfx2asn, filter)");
    }
  }
  return mask;
}


}  // namespace

ReportPlugin::ReportPlugin(const YAML::Node& options, const std::string& path, uint32_t interval_seconds,
                           const PluginContext& context) {
  const std::string p = path.empty() ? std::string("plugins.report") : path;
  if (interval_seconds == 0) throw ConfigError(p, yaml_line(options), "interval length must be > 0");
  opt_.maxmind = context.maxmind;
  opt_.pfx2as = context.pfx2as;
  if (!options.IsDefined() || options.IsNull()) return;
  if (!options.IsMap()) throw ConfigError(p, yaml_line(options), "must be a mapping of report options");
  reject_unknown_keys(options, p,
                      {"output_row_label", "limitmetrics", "tcp_source_port_range", "tcp_dest_port_range",
                       "udp_source_port_range", "udp_dest_port_range", "output_format", "iptracker_threads",
                       "internalhwm", "querytaggerlabels", "report_partial", "uniq"});
  const auto line = [&](const char* k) { return std::to_string(yaml_line(options[k])); };
  if (auto v = get_opt<std::string>(options, p, "output_row_label")) {
    if (v->empty()) throw ConfigError(join_key(p, "output_row_label"), yaml_line(options["output_row_label"]),
                                      "must not be empty");
    opt_.label = *v;
  }
  if (options["limitmetrics"].IsDefined()) opt_.allowed = parse_limits(options["limitmetrics"], p, warnings_);
  const char* range_keys[4] = {"tcp_source_port_range", "tcp_dest_port_range", "udp_source_port_range",
                               "udp_dest_port_range"};
  for (int i = 0; i < 4; ++i) opt_.ports[i] = parse_range(options, p, range_keys[i]);
  if (auto v = get_opt<std::string>(options, p, "output_format")) {
    if (*v == "libtimeseries") opt_.timeseries = true;
    else if (*v != "avro") {
      throw ConfigError(join_key(p, "output_format"), yaml_line(options["output_format"]),
                        "must be avro or libtimeseries, got '" + *v + "'");
    }
  }
  if (auto v = get_opt<uint32_t>(options, p, "iptracker_threads")) {
    warnings_.push_back(p + ".iptracker_threads (line " + line("iptracker_threads") + "): " +
                        std::to_string(*v) +
                        " accepted without effect: unique addresses are gathered by the workers and "
                        "merged on the control plane's merge thread");
  }
  for (const char* k : {"internalhwm", "querytaggerlabels"}) {
    if (options[k].IsDefined()) {
      warnings_.push_back(p + "." + k + " (line " + line(k) + ") accepted without effect (no internal queues, " +
                          "no tagger to query)");
    }
  }
  if (auto v = get_onoff(options, p, "report_partial")) opt_.partial = *v;
  if (auto v = get_opt<std::string>(options, p, "uniq")) {
    if (*v == "hll") opt_.hll = true;
    else if (*v != "exact") {
      throw ConfigError(join_key(p, "uniq"), yaml_line(options["uniq"]), "must be exact or hll, got '" + *v + "'");
    }
  }
}

}  // namespace privateer
