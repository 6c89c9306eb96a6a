#include "control/config.hpp"

#include <algorithm>
#include <charconv>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include "control/naming.hpp"
#include "dataplane/filters.hpp"
#include "dataplane/runtime.hpp"
#include "hw/source.hpp"
#include "plugins/registry.hpp"

namespace privateer {

namespace {

// corsarotrace keys (any version's, see config.hpp) that mean nothing here.
// Each is accepted and ignored with a warning: ignoring it cannot change what
// the plugins compute.
struct KeyReason {
  const char* key;
  const char* why;
};
constexpr KeyReason kIgnoredKeys[] = {
    // Where a corsarotagger takes meta-data requests, and the sockets and
    // queue sizes of the corsarotagger/corsarofanner packet feed. There is
    // no tagger here; packets are read (untagged) from packetsource.
    {"controlsocketname", "there is no corsarotagger; packets are read from packetsource"},
    {"subqueuename", "there is no corsarotagger; packets are read from packetsource"},
    {"tagsock", "there is no corsarotagger; packets are read from packetsource"},
    {"inputhwm", "there is no corsarotagger queue; packets are read from packetsource"},
    // Per-thread statistics files: the Prometheus endpoint and the run
    // summary report the same counters.
    {"statfilename", "per-thread statistics are served by the prometheus endpoint instead"},
    // corsaro3's first versions wrote their own file formats through wandio;
    // later ones, and Privateer, write Avro containers.
    {"outputmode", "output is always Avro (corsaro3's ascii/binary formats were dropped with its move to Avro)"},
    {"compressmethod", "the Avro blocks are compressed as output.avro_codec says (default deflate, as corsaro3's Avro files)"},
    {"compresslevel", "the Avro deflate level is output.deflate_level"},
    // Worker results are merged before output, always.
    {"mergeoutput", "worker results are always merged into one file per output"},
    // corsaro3's exampleconfigs/dosplugin.yaml misspells removeerratic, and
    // corsarotrace ignores the key it does not know.
    {"removederratic", "a misspelling of 'removeerratic' (in corsaro3's dosplugin.yaml) that corsarotrace ignores too"},
};

// corsarotrace keys whose feature is not built here: ignoring them would
// change the results, so a config setting them is refused.
constexpr KeyReason kRefusedKeys[] = {
    {"filterfile", "is not built yet: corsarotrace's filter file is not implemented, and ignoring it would "
                   "analyse the packets it drops; remove it"},
};

// The corsaro3 tag filters, and older corsarotrace's switch for tagging
// (parse_tag_filters).
constexpr const char* kTagFilters[] = {"removespoofed", "removeerratic", "removerouted",
                                       "removenotscan", "tagging"};

// Keys read below: corsarotrace's (inputuri is its older packetsource,
// promisc its libtrace promiscuous mode, libtimeseriesbackends the report
// plugin's outputs) and Privateer's own.
constexpr const char* kKnownKeys[] = {
    "packetsource", "inputuri", "outtemplate", "monitorid", "logfilename", "interval",
    "rotatefreq", "threads", "startboundaryts", "endboundaryts", "plugins", "promisc",
    "libtimeseriesbackends",
    "prometheus", "output", "progress", "ring_size", "max_gap_intervals", "live_lateness", "log", "dpdk", "user",
    "filter", "basicfilter", "filters", "remove",
    "tagproviders", "flows",
};

// corsaro3 plugins that are not built here, for a clear refusal.
constexpr const char* kCorsaro3Plugins[] = {"filteringstats"};

// Every top-level key either program knows, for "did you mean".
std::vector<std::string> all_top_level_keys() {
  std::vector<std::string> out(std::begin(kKnownKeys), std::end(kKnownKeys));
  for (const char* k : kTagFilters) out.emplace_back(k);
  for (const auto& k : kIgnoredKeys) out.emplace_back(k.key);
  for (const auto& k : kRefusedKeys) out.emplace_back(k.key);
  return out;
}

template <size_t N>
bool listed(const char* const (&list)[N], const std::string& k) {
  return std::find_if(std::begin(list), std::end(list), [&](const char* n) { return k == n; }) != std::end(list);
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

int line_of(const YAML::Node& map, const char* key) { return yaml_line(map[key]); }

// The line of `key` itself (its value may start on a later line).
int key_line(const YAML::Node& map, const char* key) {
  for (const auto& kv : map) {
    if (kv.first.IsScalar() && kv.first.Scalar() == key) return yaml_line(kv.first);
  }
  return 0;
}

// An unsigned integer option checked against [lo, hi].
template <typename T>
std::optional<T> get_ranged(const YAML::Node& map, const std::string& path, const char* key,
                            uint64_t lo, uint64_t hi, const char* what) {
  const YAML::Node n = map[key];
  if (n.IsDefined() && n.IsScalar()) {
    // A number too large even for 64 bits: say the range, not "must be an integer".
    const std::string& s = n.Scalar();
    uint64_t big = 0;
    if (std::from_chars(s.data(), s.data() + s.size(), big).ec == std::errc::result_out_of_range) {
      throw ConfigError(join_key(path, key), yaml_line(n), std::string("must be ") + what + ", got " + s + " (out of range)");
    }
  }
  const auto v = get_opt<uint64_t>(map, path, key);
  if (!v) return std::nullopt;
  if (*v < lo || *v > hi) {
    throw ConfigError(join_key(path, key), line_of(map, key),
                      std::string("must be ") + what + ", got " + std::to_string(*v));
  }
  return static_cast<T>(*v);
}

void check_top_level_keys(const YAML::Node& root, Config& cfg) {
  std::vector<std::string> seen;
  for (const auto& kv : root) {
    if (!kv.first.IsScalar()) {
      throw ConfigError("(top level)", yaml_line(kv.first), "a key must be a plain name");
    }
    const std::string k = kv.first.Scalar();
    const int line = yaml_line(kv.first);
    // Older corsarotrace read every inputuri line as one more input.
    if (k != "inputuri" && std::find(seen.begin(), seen.end(), k) != seen.end()) {
      throw ConfigError(k, line, "appears twice");
    }
    seen.push_back(k);
    cfg.key_lines.emplace(k, line);
    if (listed(kKnownKeys, k) || listed(kTagFilters, k)) continue;
    bool handled = false;
    for (const auto& ig : kIgnoredKeys) {
      if (k == ig.key) {
        cfg.warnings.push_back("config key '" + k + "' (line " + std::to_string(line) +
                               ") is ignored: " + ig.why);
        handled = true;
      }
    }
    if (handled) continue;
    for (const auto& r : kRefusedKeys) {
      if (k == r.key && !kv.second.IsNull() && !(kv.second.IsScalar() && kv.second.Scalar().empty())) {
        throw ConfigError(k, line, r.why);
      }
      if (k == r.key) handled = true;
    }
    if (handled) continue;
    // corsaro3's flowtuple options, put at top level by mistake.
    for (const char* opt : {"sorttuples", "mergethreads", "avrooutput", "usesnappy"}) {
      if (k == opt) {
        throw ConfigError(k, line, "unknown key: it is an option of the flowtuple plugin (plugins: - flowtuple: " + k +
                                       ": ...)");
      }
    }
    throw ConfigError(k, line, unknown_key_message(k, all_top_level_keys()));
  }
}

// The input URIs under `key` (packetsource, or every inputuri line): a URI
// or a list of URIs each.
void collect_uris(const YAML::Node& root, const char* key, std::vector<std::string>& out) {
  for (const auto& kv : root) {
    if (kv.first.Scalar() != key) continue;
    const YAML::Node& n = kv.second;
    const int line = yaml_line(n.IsDefined() && !n.IsNull() ? n : kv.first);
    if (n.IsScalar()) {
      if (n.Scalar().empty()) throw ConfigError(key, line, "must not be empty");
      out.push_back(n.Scalar());
    } else if (n.IsSequence()) {
      if (n.size() == 0) throw ConfigError(key, line, "must name at least one URI");
      for (size_t i = 0; i < n.size(); ++i) {
        const std::string at = std::string(key) + "[" + std::to_string(i) + "]";
        if (!n[i].IsScalar()) throw ConfigError(at, yaml_line(n[i]), "must be a libtrace URI (a string)");
        if (n[i].Scalar().empty()) throw ConfigError(at, yaml_line(n[i]), "must not be empty");
        out.push_back(n[i].Scalar());
      }
    } else if (n.IsNull()) {
      throw ConfigError(key, line, "is required but missing");
    } else {
      throw ConfigError(key, line, "must be a libtrace URI or a list of them");
    }
  }
}

// packetsource, or corsarotrace's older name for it, inputuri (not both).
std::vector<std::string> parse_packetsource(const YAML::Node& root) {
  const bool has_ps = root["packetsource"].IsDefined();
  const bool has_in = root["inputuri"].IsDefined();
  if (has_ps && has_in) {
    throw ConfigError("inputuri", key_line(root, "inputuri"),
                      "is corsarotrace's older name of 'packetsource' (line " +
                          std::to_string(key_line(root, "packetsource")) + "): give one of them, not both");
  }
  if (!has_ps && !has_in) {
    throw ConfigError("packetsource", yaml_line(root), "is required but missing");
  }
  std::vector<std::string> out;
  collect_uris(root, has_ps ? "packetsource" : "inputuri", out);
  return out;
}

// tagproviders: corsarotagger's list of one-key maps, provider -> options
// (corsarotagger/configparser.c). The files are read by build_tag_tables.
void parse_tagproviders(const YAML::Node& root, Config& cfg) {
  const YAML::Node n = root["tagproviders"];
  if (!n.IsDefined() || n.IsNull()) return;
  if (!n.IsSequence()) {
    throw ConfigError("tagproviders", key_line(root, "tagproviders"),
                      "must be a list of providers, e.g. [pfx2as: {prefixfile: FILE}, maxmind: {directory: DIR}]");
  }
  for (size_t i = 0; i < n.size(); ++i) {
    const YAML::Node item = n[i];
    if (!item.IsMap() || item.size() != 1 || !item.begin()->first.IsScalar()) {
      throw ConfigError("tagproviders[" + std::to_string(i) + "]", yaml_line(item),
                        "must be a one-key map: provider name (pfx2as, maxmind) -> options");
    }
    const std::string name = item.begin()->first.Scalar();
    const YAML::Node opts = item.begin()->second;
    const std::string key = "tagproviders." + name;
    const int at = yaml_line(item.begin()->first);
    if (name == "netacq-edge") {
      throw ConfigError(key, at, "is not built: Net Acuity Edge data is commercial and cannot be tested here "
                                 "(flowtuple's netacq_continent and netacq_country stay \"??\"); remove it");
    }
    if (name != "pfx2as" && name != "maxmind") {
      throw ConfigError(key, at, "unknown tag provider: corsaro3's are pfx2as, maxmind and netacq-edge" +
                                     (closest_key(name, {"pfx2as", "maxmind", "netacq-edge"}).empty()
                                          ? std::string()
                                          : "; did you mean '" + closest_key(name, {"pfx2as", "maxmind", "netacq-edge"}) + "'?"));
    }
    if ((name == "pfx2as" && !cfg.tagproviders.pfx2as.empty()) || (name == "maxmind" && !cfg.tagproviders.maxmind.empty())) {
      throw ConfigError(key, at, "appears twice");
    }
    if (!opts.IsMap()) {
      throw ConfigError(key, at, name == "pfx2as" ? "must be a map: {prefixfile: FILE}" : "must be a map: {directory: DIR}");
    }
    if (name == "pfx2as") {
      reject_unknown_keys(opts, key, {"prefixfile"});
      const auto f = get_opt<std::string>(opts, key, "prefixfile");
      if (!f || f->empty()) {
        throw ConfigError(key + ".prefixfile", f ? line_of(opts, "prefixfile") : at,
                          "is required: a CAIDA pfx2as file (ADDRESS<TAB>LENGTH<TAB>AS lines, plain or gzip)");
      }
      cfg.tagproviders.pfx2as = *f;
      cfg.tagproviders.pfx2as_line = line_of(opts, "prefixfile");
      continue;
    }
    reject_unknown_keys(opts, key, {"directory", "blocksfile", "locationsfile"});
    for (const char* csv : {"blocksfile", "locationsfile"}) {
      if (opts[csv].IsDefined()) {
        throw ConfigError(key + "." + csv, key_line(opts, csv),
                          "MaxMind's CSV files (libipmeta's format) are not read: set directory to a directory "
                          "holding a GeoIP2 or GeoLite2 Country or City .mmdb file, or to the file");
      }
    }
    const auto d = get_opt<std::string>(opts, key, "directory");
    if (!d || d->empty()) {
      throw ConfigError(key + ".directory", d ? line_of(opts, "directory") : at,
                        "is required: a directory holding a GeoIP2 or GeoLite2 Country or City .mmdb file, or the file");
    }
    cfg.tagproviders.maxmind = *d;
    cfg.tagproviders.maxmind_line = line_of(opts, "directory");
  }
}

// promisc: corsarotrace's libtrace promiscuous mode. Nothing to do for
// trace files; on live libtrace inputs it is not built.
// corsarotrace's remove* options, as corsarotrace applies them to its tags'
// four high-level bits: removespoofed and removeerratic drop the packets
// with the bit, removerouted and removenotscan the packets WITHOUT it
// (routed: an RFC 5735 source; corsarotrace keeps only those). corsarotrace
// tags every packet, so the built-in filters are computed in every run;
// `tagging: no` (older corsarotrace's switch) leaves packets untagged.
void parse_tag_filters(const YAML::Node& root, Config& cfg) {
  struct Option {
    const char* key;
    builtin::Filter filter;
    bool keep;   // removes the packets lacking the filter
  };
  constexpr Option kOptions[] = {{"removespoofed", builtin::spoofed, false},
                                 {"removeerratic", builtin::erratic, false},
                                 {"removerouted", builtin::routed, true},
                                 {"removenotscan", builtin::large_scale_scan, true}};
  cfg.tags.builtin_filters = get_onoff(root, "", "tagging").value_or(true);
  for (const Option& o : kOptions) {
    if (!get_onoff(root, "", o.key).value_or(false)) continue;
    if (!cfg.tags.builtin_filters) {
      throw ConfigError(o.key, line_of(root, o.key),
                        "needs the packets tagged, and 'tagging' (line " + std::to_string(line_of(root, "tagging")) +
                            ") is no; remove one of them");
    }
    (o.keep ? cfg.tags.keep_builtin : cfg.tags.remove_builtin) |= uint64_t{1} << o.filter;
  }
}

void parse_promisc(const YAML::Node& root, Config& cfg) {
  const auto v = get_onoff(root, "", "promisc");
  if (!v || !*v) return;
  const int line = key_line(root, "promisc");
  if (cfg.packetsources.size() == 1 && cfg.packetsources[0] == "dpdk") {
    cfg.warnings.push_back("config key 'promisc' (line " + std::to_string(line) +
                           ") is ignored: DPDK ports use dpdk.ports[].promiscuous (default yes)");
    return;
  }
  for (const auto& uri : cfg.packetsources) {
    if (is_live_uri(uri)) {
      throw ConfigError("promisc", line,
                        "is not built yet for libtrace live inputs ('" + uri +
                            "'): set the interface promiscuous (ip link set dev IF promisc on) and remove it");
    }
  }
  cfg.warnings.push_back("config key 'promisc' (line " + std::to_string(line) +
                         ") is ignored: it means nothing for trace files");
}

// What a filter name in `remove:` or a plugin's `filter:` stands for: a
// custom filter (`filters:`, its index: bit of custom_bits) or one of
// corsaro3's built-in filters (its id: bit of filter_bits). Every such name
// is resolved here.
struct FilterRef {
  bool builtin = false;
  int index = -1;
};

FilterRef resolve_filter_name(const Config& cfg, const YAML::Node& n, const std::string& key) {
  if (!n.IsScalar() || n.Scalar().empty()) throw ConfigError(key, yaml_line(n), "must be a filter name");
  const std::string& name = n.Scalar();
  for (size_t i = 0; i < cfg.filters.size(); ++i) {
    if (cfg.filters[i].name == name) return FilterRef{false, static_cast<int>(i)};
  }
  if (const auto b = builtin_filter_index(name)) {
    if (!cfg.tags.builtin_filters) {
      throw ConfigError(key, yaml_line(n),
                        "'" + name + "' is one of corsaro3's built-in filters, which 'tagging: no' turns off");
    }
    return FilterRef{true, *b};
  }
  std::vector<std::string> names;
  for (size_t b = 0; b < kBuiltinFilterCount; ++b) names.emplace_back(builtin_filter_name(b));
  for (const auto& f : cfg.filters) names.push_back(f.name);
  const std::string near = closest_key(name, names);
  throw ConfigError(key, yaml_line(n),
                    "unknown filter '" + name + "'" + (near.empty() ? "" : ", did you mean '" + near + "'?") +
                        " (custom filters are defined under 'filters:')");
}

bool valid_filter_name(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

// filters: {NAME: "bpf expression", ...}, in file order. The expressions
// are compiled by build_tag_tables (control/tagging.cpp).
void parse_filters(const YAML::Node& root, Config& cfg) {
  const YAML::Node f = root["filters"];
  if (!f.IsDefined() || f.IsNull()) return;
  if (!f.IsMap()) throw ConfigError("filters", key_line(root, "filters"), "must be a map of NAME: \"bpf expression\"");
  for (const auto& kv : f) {
    const int line = yaml_line(kv.first);
    if (!kv.first.IsScalar()) throw ConfigError("filters", line, "a filter name must be a plain name");
    const std::string name = kv.first.Scalar();
    const std::string key = "filters." + name;
    if (!valid_filter_name(name)) {
      throw ConfigError(key, line, "a filter name may have only a-z, 0-9, '_' and '-'");
    }
    if (builtin_filter_index(name)) {
      throw ConfigError(key, line, "'" + name + "' is the name of one of corsaro3's built-in filters; choose another");
    }
    for (const auto& prev : cfg.filters) {
      if (prev.name == name) {
        throw ConfigError(key, line, "appears twice (first at line " + std::to_string(prev.line) + ")");
      }
    }
    if (!kv.second.IsScalar() || kv.second.Scalar().empty()) {
      throw ConfigError(key, line, "must be a BPF expression (a string in tcpdump's filter syntax)");
    }
    if (cfg.filters.size() == kMaxCustomFilters) {
      throw ConfigError(key, line, "more than " + std::to_string(kMaxCustomFilters) + " custom filters");
    }
    cfg.filters.push_back(Config::CustomFilter{name, kv.second.Scalar(), line});
    cfg.tags.custom_names.push_back(name);
  }
}

// remove: [NAME, ...]: packets any of these filters matches are removed
// before the plugins see them.
void parse_remove(const YAML::Node& root, Config& cfg) {
  const YAML::Node r = root["remove"];
  if (!r.IsDefined() || r.IsNull()) return;
  if (!r.IsSequence()) throw ConfigError("remove", key_line(root, "remove"), "must be a list of filter names");
  for (size_t i = 0; i < r.size(); ++i) {
    const std::string key = "remove[" + std::to_string(i) + "]";
    const FilterRef f = resolve_filter_name(cfg, r[i], key);
    (f.builtin ? cfg.tags.remove_builtin : cfg.tags.remove_custom) |= uint64_t{1} << f.index;
  }
}

// corsarotrace's `filter` (older corsarotrace: `basicfilter`): one BPF
// expression libtrace applied to all input. Empty: no filter.
void parse_input_filter(const YAML::Node& root, Config& cfg) {
  for (const char* key : {"filter", "basicfilter"}) {
    const YAML::Node n = root[key];
    if (!n.IsDefined() || n.IsNull()) continue;
    const int line = key_line(root, key);
    if (!n.IsScalar()) throw ConfigError(key, line, "must be a BPF expression (a string in tcpdump's filter syntax)");
    if (n.Scalar().empty()) continue;
    if (!cfg.input_filter.key.empty()) {
      throw ConfigError(key, line, "and '" + cfg.input_filter.key + "' (line " + std::to_string(cfg.input_filter.line) +
                                       ") are corsarotrace's names of one input filter: give one of them");
    }
    cfg.input_filter = Config::InputFilter{key, n.Scalar(), line};
  }
}

// A plugin's `filter: NAME`, accepted for every plugin: the runtime hands
// the plugin only the packets that custom filter matches. Taken out of the
// options the plugin itself parses.
void take_plugin_filter(const Config& cfg, PluginSpec& spec) {
  if (!spec.options.IsMap()) return;
  const std::string key = spec.path + ".filter";
  bool seen = false;
  for (const auto& kv : spec.options) {
    if (!kv.first.IsScalar() || kv.first.Scalar() != "filter") continue;
    if (seen) throw ConfigError(key, yaml_line(kv.first), "appears twice");
    seen = true;
    const FilterRef f = resolve_filter_name(cfg, kv.second, key);
    spec.filter = f.builtin ? kBuiltinPluginFilter + f.index : f.index;
  }
  if (seen) spec.options.remove("filter");
}

std::string canonical_plugin_name(const std::string& name) {
  // corsarotrace matches plugin names without regard to case.
  for (const auto& known : plugin_names()) {
    if (lower(known) == lower(name)) return known;
  }
  return {};
}

std::vector<PluginSpec> parse_plugins(const YAML::Node& root, const Config& cfg) {
  const YAML::Node list = root["plugins"];
  if (!list.IsSequence()) {
    throw ConfigError("plugins", yaml_line(list),
                      "must be a list of plugin names or one-key maps (name: options)");
  }
  std::vector<PluginSpec> out;
  size_t index = 0;
  for (const auto& item : list) {
    const int line = yaml_line(item);
    const std::string at = "plugins[" + std::to_string(index) + "]";
    std::string name;
    YAML::Node options;
    // YAML reads corsaro3's `- null` / `- null:` (the null plugin) as a null
    // node, not as the string "null".
    if (item.IsScalar() || item.IsNull()) {
      name = item.IsNull() ? "null" : item.Scalar();
    } else if (item.IsMap()) {
      if (item.size() != 1) {
        throw ConfigError(at, line,
                          "must be a plugin name or a map with exactly one key (the plugin name), "
                          "has " + std::to_string(item.size()) + " keys");
      }
      const auto kv = *item.begin();
      if (!kv.first.IsScalar() && !kv.first.IsNull()) throw ConfigError(at, line, "the plugin name must be a string");
      name = kv.first.IsNull() ? "null" : kv.first.Scalar();
      options = kv.second;
    } else {
      throw ConfigError(at, line, "must be a plugin name or a one-key map (name: options)");
    }
    const std::string canonical = canonical_plugin_name(name);
    const std::string path = "plugins." + (canonical.empty() ? name : canonical);
    if (canonical.empty()) {
      std::string avail;
      for (const auto& n : plugin_names()) avail += (avail.empty() ? "" : ", ") + n;
      if (avail.empty()) avail = "none";
      if (listed(kCorsaro3Plugins, lower(name))) {
        throw ConfigError(path, line,
                          "corsaro3's " + lower(name) + " plugin is not built in Privateer yet (built: " + avail + ")");
      }
      std::vector<std::string> names = plugin_names();
      names.insert(names.end(), std::begin(kCorsaro3Plugins), std::end(kCorsaro3Plugins));
      const std::string near = closest_key(name, names);
      throw ConfigError(path, line,
                        "unknown plugin '" + name + "'" + (near.empty() ? "" : ", did you mean '" + near + "'?") +
                            " (available: " + avail + ")");
    }
    for (const auto& prev : out) {
      if (prev.name == canonical) {
        throw ConfigError(path, line,
                          "plugin listed twice (first at line " + std::to_string(prev.line) +
                              "); its outputs would share file names");
      }
    }
    if (!options.IsDefined() || options.IsNull()) {
      options = YAML::Node(YAML::NodeType::Map);
    } else if (!options.IsMap()) {
      throw ConfigError(path, yaml_line(options), "plugin options must be a mapping (key: value)");
    }
    PluginSpec spec{canonical, options, path, line};
    take_plugin_filter(cfg, spec);
    out.push_back(std::move(spec));
    ++index;
  }
  if (out.empty()) throw ConfigError("plugins", yaml_line(list), "must list at least one plugin");
  return out;
}

void check_listen(const std::string& listen, int line) {
  const char* key = "prometheus.listen";
  std::string host, port;
  if (!listen.empty() && listen[0] == '[') {
    const size_t close = listen.find("]:");
    if (close == std::string::npos) {
      throw ConfigError(key, line, "must be host:port or [ipv6]:port, got '" + listen + "'");
    }
    host = listen.substr(1, close - 1);
    port = listen.substr(close + 2);
  } else {
    const size_t colon = listen.rfind(':');
    if (colon == std::string::npos || listen.find(':') != colon) {
      throw ConfigError(key, line, "must be host:port or [ipv6]:port, got '" + listen + "'");
    }
    host = listen.substr(0, colon);
    port = listen.substr(colon + 1);
  }
  if (host.empty()) {
    throw ConfigError(key, line, "needs a host (0.0.0.0 for every interface), got '" + listen + "'");
  }
  if (port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](unsigned char c) { return std::isdigit(c); }) ||
      std::stoul(port) > 65535) {
    throw ConfigError(key, line, "port must be 0..65535, got '" + port + "'");
  }
}

void parse_prometheus(const YAML::Node& root, Config& cfg) {
  const YAML::Node p = root["prometheus"];
  if (!p.IsDefined() || p.IsNull()) return;
  reject_unknown_keys(p, "prometheus", {"enabled", "listen"});
  if (auto v = get_onoff(p, "prometheus", "enabled")) cfg.prometheus.enabled = *v;
  if (auto v = get_opt<std::string>(p, "prometheus", "listen")) {
    check_listen(*v, line_of(p, "listen"));
    cfg.prometheus.listen = *v;
    cfg.prometheus.listen_line = line_of(p, "listen");
  }
}

void parse_flows(const YAML::Node& root, Config& cfg) {
  const YAML::Node f = root["flows"];
  if (!f.IsDefined() || f.IsNull()) return;
  if (!f.IsMap()) throw ConfigError("flows", yaml_line(f), "must be a mapping (enabled, max, idle_timeout, active_timeout)");
  reject_unknown_keys(f, "flows", {"enabled", "max", "idle_timeout", "active_timeout"});
  if (auto v = get_onoff(f, "flows", "enabled")) cfg.flows.enabled = *v;
  if (auto v = get_ranged<uint32_t>(f, "flows", "max", 8, 1u << 28, "8..268435456 (flows per worker)")) cfg.flows.max = *v;
  if (auto v = get_ranged<uint32_t>(f, "flows", "idle_timeout", 1, 86400, "1..86400 (seconds)")) cfg.flows.idle_timeout = *v;
  if (auto v = get_ranged<uint32_t>(f, "flows", "active_timeout", 1, 604800, "1..604800 (seconds)")) {
    cfg.flows.active_timeout = *v;
  }
}

void parse_output(const YAML::Node& root, Config& cfg) {
  const YAML::Node o = root["output"];
  if (!o.IsDefined() || o.IsNull()) return;
  reject_unknown_keys(o, "output", {"avro_codec", "deflate_level", "zstd_level", "avro_block_size", "threads"});
  CodecSettings& c = cfg.output.codec;
  const YAML::Node codec = o["avro_codec"];
  if (codec.IsDefined() && codec.IsNull()) {
    c.codec = AvroCodec::null;   // `avro_codec: null` unquoted is YAML's null: the null codec
  } else if (auto v = get_opt<std::string>(o, "output", "avro_codec")) {
    const auto parsed = parse_codec(lower(*v));
    if (!parsed) {
      throw ConfigError("output.avro_codec", line_of(o, "avro_codec"),
                        "must be deflate, snappy, zstandard or null, got '" + *v + "'");
    }
    c.codec = *parsed;
  }
  if (c.codec != AvroCodec::deflate) {
    cfg.warnings.push_back(std::string("config key 'output.avro_codec' (line ") +
                           std::to_string(line_of(o, "avro_codec")) + ") is " + codec_name(c.codec) +
                           ": corsaro3 readers (pyavro-stardust) read only deflate files");
  }
  if (auto v = get_ranged<int>(o, "output", "deflate_level", kDeflateLevelMin, kDeflateLevelMax,
                               "0..3 (ISA-L igzip levels)")) {
    c.deflate_level = *v;
  }
  if (auto v = get_ranged<int>(o, "output", "zstd_level", kZstdLevelMin, kZstdLevelMax, "1..22")) {
    c.zstd_level = *v;
  }
  if (auto v = get_ranged<uint32_t>(o, "output", "avro_block_size", 1024, 64u << 20,
                                    "1024..67108864 bytes")) {
    cfg.output.block_size = *v;
  }
  if (auto v = get_ranged<unsigned>(o, "output", "threads", 1, 64, "1..64")) cfg.output.threads = *v;
}

void parse_progress(const YAML::Node& root, Config& cfg) {
  const auto v = get_opt<std::string>(root, "", "progress");
  if (!v) return;
  const std::string s = lower(*v);
  if (s == "auto") {
    cfg.progress = ProgressMode::auto_detect;
  } else if (s == "yes" || s == "true" || s == "on" || s == "y") {
    cfg.progress = ProgressMode::yes;
  } else if (s == "no" || s == "false" || s == "off" || s == "n") {
    cfg.progress = ProgressMode::no;
  } else {
    throw ConfigError("progress", line_of(root, "progress"), "must be auto, yes or no, got '" + *v + "'");
  }
}

void parse_log(const YAML::Node& root, Config& cfg) {
  const YAML::Node l = root["log"];
  if (!l.IsDefined() || l.IsNull()) return;
  reject_unknown_keys(l, "log", {"level"});
  const auto v = get_opt<std::string>(l, "log", "level");
  if (!v) return;
  const std::string s = lower(*v);
  if (s == "debug") {
    cfg.log_level = LogLevel::debug;
  } else if (s == "info") {
    cfg.log_level = LogLevel::info;
  } else if (s == "warning" || s == "warn") {
    cfg.log_level = LogLevel::warning;
  } else if (s == "error") {
    cfg.log_level = LogLevel::error;
  } else {
    throw ConfigError("log.level", line_of(l, "level"),
                      "must be debug, info, warning or error, got '" + *v + "'");
  }
}

// The output template. corsaro3 takes any template and lets files that get
// the same name overwrite each other; here FileNamer (control/naming.hpp)
// keeps them apart, and each case that needs it gets a warning saying how.
void check_template(const YAML::Node& root, Config& cfg) {
  const int line = key_line(root, "outtemplate");
  const std::string& t = cfg.outtemplate;
  const std::string at = "config key 'outtemplate' (line " + std::to_string(line) + ") ";
  if (t.empty()) throw ConfigError("outtemplate", line, "must not be empty");
  if (template_has_monitor(t) && cfg.monitorid.empty()) {
    throw ConfigError("outtemplate", line, "uses %N but monitorid is not set");
  }
  // A file of a longer name cannot be opened (corsaro3 cuts its names at
  // 1023 bytes); refused before the checks below expand it a hundred times.
  std::string plugin;
  for (const auto& p : cfg.plugins) plugin = p.name.size() > plugin.size() ? p.name : plugin;
  const std::string name = avro_file_name(expand_template(t, plugin, cfg.monitorid, 1577836800));
  if (name.size() > kMaxPathBytes) {
    throw ConfigError("outtemplate", line,
                      "gives file names of " + std::to_string(name.size()) + " bytes ('" + name.substr(0, 40) +
                          "...'), longer than a path can be (" + std::to_string(kMaxPathBytes) + ")");
  }
  if (!template_has_plugin(t)) {
    cfg.warnings.push_back(at + "has no %P, so all outputs would share one file name: when a run writes more "
                           "than one output, the output's name is added: '" + avro_file_name(t, {"<output>"}) + "'");
  }
  if (cfg.rotatefreq == 0) return;
  if (!template_has_time(t)) {
    cfg.warnings.push_back(at + "has no time conversion (%s or strftime), so every rotated file would get the "
                           "same name: files are numbered in rotation order: '" + avro_file_name(t) + "', '" +
                           avro_file_name(t, {"1"}) + "', '" + avro_file_name(t, {"2"}) + "', ...");
    return;
  }
  // Consecutive files should differ (%Y%m%d with hourly files does not).
  const uint64_t period = uint64_t{cfg.interval} * cfg.rotatefreq;
  for (uint64_t base : {uint64_t{1577836800} /* 2020-01-01 */, uint64_t{1709164800} /* 2024-02-29 */}) {
    const uint64_t t0 = base - base % period;
    std::string prev = expand_template(t, "p", cfg.monitorid, t0);
    for (int k = 1; k <= 48; ++k) {
      const std::string next = expand_template(t, "p", cfg.monitorid, t0 + k * period);
      if (next == prev) {
        cfg.warnings.push_back(at + "gives consecutive files (every " + std::to_string(period) +
                               " s) the same name: a name already written in this run gets the count of its "
                               "repeats added: '" + avro_file_name(t) + "', then '" + avro_file_name(t, {"1"}) +
                               "', ...");
        return;
      }
      prev = next;
    }
  }
}

void parse_dpdk(const YAML::Node& root, Config& cfg) {
  const YAML::Node d = root["dpdk"];
  const bool wanted = cfg.packetsources.size() == 1 && cfg.packetsources[0] == "dpdk";
  if (!d.IsDefined() || d.IsNull()) {
    if (wanted) {
      // packetsource, or its older name inputuri (line_of would throw for an absent key).
      throw ConfigError("dpdk", std::max(key_line(root, "packetsource"), key_line(root, "inputuri")),
                        "packetsource: dpdk needs a 'dpdk:' section with its ports");
    }
    return;
  }
  if (!wanted) {
    throw ConfigError("dpdk", yaml_line(d), "is only read with 'packetsource: dpdk'");
  }
  reject_unknown_keys(d, "dpdk", {"eal", "ports", "mbuf_pool_size", "burst_size"});
  cfg.dpdk.enabled = true;
  const YAML::Node eal = d["eal"];
  if (eal.IsDefined() && !eal.IsNull()) {
    if (!eal.IsSequence()) throw ConfigError("dpdk.eal", yaml_line(eal), "must be a list of EAL arguments");
    for (size_t i = 0; i < eal.size(); ++i) {
      if (!eal[i].IsScalar()) {
        throw ConfigError("dpdk.eal[" + std::to_string(i) + "]", yaml_line(eal[i]), "must be a string");
      }
      cfg.dpdk.eal.push_back(eal[i].Scalar());
    }
  }
  const YAML::Node ports = d["ports"];
  if (!ports.IsDefined() || !ports.IsSequence() || ports.size() == 0) {
    throw ConfigError("dpdk.ports", ports.IsDefined() ? yaml_line(ports) : yaml_line(d), "must list at least one port");
  }
  for (size_t i = 0; i < ports.size(); ++i) {
    const std::string path = "dpdk.ports[" + std::to_string(i) + "]";
    const YAML::Node p = ports[i];
    reject_unknown_keys(p, path, {"device", "rx_queues", "rx_descriptors", "promiscuous", "mtu"});
    Config::Dpdk::Port port;
    const auto dev = get_opt<std::string>(p, path, "device");
    if (!dev || dev->empty()) throw ConfigError(path + ".device", yaml_line(p), "is required (a PCI address or vdev name)");
    port.device = *dev;
    if (auto v = get_ranged<uint32_t>(p, path, "rx_queues", 1, 1024, "1..1024")) port.rx_queues = *v;
    if (auto v = get_ranged<uint32_t>(p, path, "rx_descriptors", 64, 65536, "64..65536")) port.rx_descriptors = *v;
    if (auto v = get_opt<bool>(p, path, "promiscuous")) port.promiscuous = *v;
    if (auto v = get_ranged<uint32_t>(p, path, "mtu", 0, 65535, "0..65535 (0: leave as is)")) port.mtu = *v;
    cfg.dpdk.ports.push_back(port);
  }
  if (auto v = get_ranged<uint32_t>(d, "dpdk", "mbuf_pool_size", 0, 1u << 26, "0..67108864 (0: sized from the rings)")) {
    cfg.dpdk.mbuf_pool_size = *v;
  }
  if (auto v = get_ranged<uint32_t>(d, "dpdk", "burst_size", 1, 512, "1..512")) cfg.dpdk.burst_size = *v;
}

Config parse_root(const YAML::Node& root) {
  Config cfg;
  if (!root.IsDefined() || root.IsNull()) throw ConfigError("(file)", 0, "is empty");
  if (!root.IsMap()) throw ConfigError("(top level)", yaml_line(root), "must be a mapping (key: value)");
  check_top_level_keys(root, cfg);

  const int root_line = yaml_line(root);
  for (const char* req : {"outtemplate", "plugins"}) {
    const YAML::Node n = root[req];
    if (!n.IsDefined() || n.IsNull()) {
      throw ConfigError(req, n.IsDefined() ? yaml_line(n) : root_line,
                        "is required but missing");
    }
  }

  cfg.packetsources = parse_packetsource(root);
  cfg.outtemplate = *get_opt<std::string>(root, "", "outtemplate");
  if (auto v = get_opt<std::string>(root, "", "monitorid")) cfg.monitorid = *v;
  if (auto v = get_opt<std::string>(root, "", "logfilename")) cfg.logfilename = *v;

  if (auto v = get_ranged<uint32_t>(root, "", "interval", 1, 366 * 86400, "1..31622400 seconds")) {
    cfg.interval = *v;
  }
  if (auto v = get_ranged<uint32_t>(root, "", "rotatefreq", 0, 1000000,
                                    "0..1000000 intervals (0: one file for the run)")) {
    cfg.rotatefreq = *v;
  }
  if (auto v = get_ranged<unsigned>(root, "", "threads", 1, 64, "1..64")) cfg.threads = *v;
  if (auto v = get_opt<uint64_t>(root, "", "startboundaryts")) cfg.startboundaryts = *v;
  if (auto v = get_opt<uint64_t>(root, "", "endboundaryts")) cfg.endboundaryts = *v;
  if (cfg.endboundaryts != 0 && cfg.endboundaryts <= cfg.startboundaryts) {
    throw ConfigError("endboundaryts", line_of(root, "endboundaryts"),
                      "must be after startboundaryts (" + std::to_string(cfg.startboundaryts) +
                          "), got " + std::to_string(cfg.endboundaryts));
  }
  parse_tag_filters(root, cfg);
  parse_promisc(root, cfg);
  cfg.timeseries = parse_timeseries_backends(root);
  parse_tagproviders(root, cfg);

  parse_prometheus(root, cfg);
  parse_flows(root, cfg);
  parse_output(root, cfg);
  parse_progress(root, cfg);
  if (auto v = get_ranged<uint32_t>(root, "", "ring_size", 2, 65536, "a power of two, 2..65536")) {
    if ((*v & (*v - 1)) != 0) {
      throw ConfigError("ring_size", line_of(root, "ring_size"),
                        "must be a power of two, 2..65536, got " + std::to_string(*v));
    }
    cfg.ring_size = *v;
  }
  if (auto v = get_ranged<uint32_t>(root, "", "max_gap_intervals", 0,
                                    std::numeric_limits<uint32_t>::max(), "0..4294967295")) {
    cfg.max_gap_intervals = *v;
  }
  if (auto v = get_ranged<uint32_t>(root, "", "live_lateness", 0, 3600, "0..3600 seconds")) cfg.live_lateness = *v;
  parse_log(root, cfg);
  parse_dpdk(root, cfg);
  if (auto v = get_opt<std::string>(root, "", "user")) {
    if (v->empty()) throw ConfigError("user", line_of(root, "user"), "must name a user");
    cfg.user = *v;
  }

  parse_filters(root, cfg);
  parse_remove(root, cfg);
  parse_input_filter(root, cfg);
  cfg.plugins = parse_plugins(root, cfg);
  check_template(root, cfg);
  return cfg;
}

// A hint for a YAML syntax error on line `line` (0-based): an unquoted
// "[v6]:port" (YAML reads the brackets as a list) is the usual one.
std::string syntax_hint(const std::string& text, int line) {
  if (line < 0) return {};
  size_t at = 0;
  for (int i = 0; i < line && at != std::string::npos; ++i) {
    at = text.find('\n', at);
    if (at != std::string::npos) ++at;
  }
  if (at == std::string::npos) return {};
  const std::string l = text.substr(at, text.find('\n', at) - at);
  const size_t open = l.find(": [");
  const size_t close = l.find("]:", open == std::string::npos ? 0 : open);
  if (open == std::string::npos || close == std::string::npos) return {};
  const std::string value = l.substr(open + 2, l.find_first_of(" #", close) - open - 2);
  return " (an IPv6 address in brackets must be quoted: \"" + value + "\")";
}

}  // namespace

Config parse_config(const std::string& yaml_text) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::ParserException& e) {
    throw ConfigError("(file)", e.mark.line >= 0 ? e.mark.line + 1 : 0,
                      "YAML syntax error: " + e.msg + syntax_hint(yaml_text, e.mark.line));
  } catch (const YAML::Exception& e) {
    throw ConfigError("(file)", e.mark.line >= 0 ? e.mark.line + 1 : 0, "YAML error: " + e.msg);
  }
  try {
    return parse_root(root);
  } catch (const YAML::Exception& e) {
    // A yaml-cpp exception past the checks (an absent node's line, a
    // conversion not made by the typed getters) is a bug: the error should
    // name its key. The fuzz harness (tests/fuzz/fuzz_config.cpp) sees it
    // escape; a run still gets a ConfigError with the line where known.
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
    throw;
#endif
    throw ConfigError("(file)", e.mark.line >= 0 ? e.mark.line + 1 : 0, e.msg);
  }
}

Config load_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError("(file)", 0, "cannot read '" + path + "': " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw ConfigError("(file)", 0, "cannot read '" + path + "': " + std::strerror(errno));
  Config cfg = parse_config(text.str());
  cfg.source_path = path;
  return cfg;
}

}  // namespace privateer
