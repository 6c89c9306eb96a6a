#include "control/sinks/sink_config.hpp"

#include <algorithm>
#include <cctype>
#include <map>

#include "plugins/common/options.hpp"

namespace privateer {

const char* backend_kind_name(TimeseriesBackendSpec::Kind k) {
  switch (k) {
    case TimeseriesBackendSpec::Kind::ascii: return "ascii";
    case TimeseriesBackendSpec::Kind::graphite: return "graphite";
    case TimeseriesBackendSpec::Kind::influxdb: return "influxdb";
    case TimeseriesBackendSpec::Kind::kafka: return "kafka";
  }
  return "?";
}

namespace {

int line_in(const YAML::Node& map, const char* key) {
  const YAML::Node n = map[key];
  return n.IsDefined() ? yaml_line(n) : yaml_line(map);
}

std::string required(const YAML::Node& map, const std::string& path, const char* key) {
  const auto v = get_opt<std::string>(map, path, key);
  if (!v || v->empty()) throw ConfigError(join_key(path, key), yaml_line(map), "is required but missing");
  return *v;
}

void parse_common(const YAML::Node& map, const std::string& path, TimeseriesBackendSpec& s) {
  if (auto q = get_opt<uint64_t>(map, path, "queue_points")) {
    if (*q < 1 || *q > 100000000) {
      throw ConfigError(join_key(path, "queue_points"), line_in(map, "queue_points"),
                        "must be 1..100000000 points, got " + std::to_string(*q));
    }
    s.queue_points = *q;
  }
  if (auto f = get_opt<double>(map, path, "flush_timeout")) {
    if (!(*f >= 0 && *f <= 3600)) {
      throw ConfigError(join_key(path, "flush_timeout"), line_in(map, "flush_timeout"), "must be 0..3600 seconds");
    }
    s.flush_timeout = *f;
  }
}

void parse_ascii(const YAML::Node& m, const std::string& p, TimeseriesBackendSpec& s) {
  reject_unknown_keys(m, p, {"file", "compress", "queue_points", "flush_timeout"});
  s.file = required(m, p, "file");
  if (auto c = get_opt<int64_t>(m, p, "compress")) {
    if (*c < 0 || *c > 9) {
      throw ConfigError(join_key(p, "compress"), line_in(m, "compress"),
                        "must be 0 (plain text) or a gzip level 1..9, got " + std::to_string(*c));
    }
    s.compress = static_cast<int>(*c);
  }
}

void parse_graphite(const YAML::Node& m, const std::string& p, TimeseriesBackendSpec& s) {
  reject_unknown_keys(m, p, {"host", "port", "queue_points", "flush_timeout"});
  s.host = required(m, p, "host");
  if (auto port = get_opt<uint64_t>(m, p, "port")) {
    if (*port < 1 || *port > 65535) {
      throw ConfigError(join_key(p, "port"), line_in(m, "port"), "must be a TCP port 1..65535");
    }
    s.port = static_cast<uint16_t>(*port);
  }
}

void parse_measurement(const YAML::Node& m, const std::string& p, TimeseriesBackendSpec& s) {
  if (auto meas = get_opt<std::string>(m, p, "measurement")) {
    if (meas->empty()) throw ConfigError(join_key(p, "measurement"), line_in(m, "measurement"), "must not be empty");
    s.measurement = *meas;
  }
}

void parse_influxdb(const YAML::Node& m, const std::string& p, TimeseriesBackendSpec& s) {
  reject_unknown_keys(m, p, {"url", "database", "measurement", "queue_points", "flush_timeout"});
  s.url = required(m, p, "url");
  if (s.url.rfind("http://", 0) != 0 && s.url.rfind("https://", 0) != 0) {
    throw ConfigError(join_key(p, "url"), line_in(m, "url"), "must start with http:// or https://");
  }
  while (!s.url.empty() && s.url.back() == '/') s.url.pop_back();
  s.database = required(m, p, "database");
  parse_measurement(m, p, s);
}

void parse_kafka(const YAML::Node& m, const std::string& p, TimeseriesBackendSpec& s) {
  reject_unknown_keys(m, p, {"brokeruri", "channelname", "compresscodec", "topicprefix", "measurement",
                             "queue_points", "flush_timeout"});
  parse_measurement(m, p, s);
  s.brokeruri = required(m, p, "brokeruri");
  if (auto c = get_opt<std::string>(m, p, "channelname"); c && !c->empty()) s.channelname = *c;
  if (auto t = get_opt<std::string>(m, p, "topicprefix")) s.topicprefix = *t;
  if (auto c = get_opt<std::string>(m, p, "compresscodec")) {
    std::string v = *c;
    std::transform(v.begin(), v.end(), v.begin(), [](unsigned char ch) { return std::tolower(ch); });
    if (v == "uncompressed") v = "none";
    if (v != "none" && v != "gzip" && v != "snappy" && v != "lz4" && v != "zstd") {
      throw ConfigError(join_key(p, "compresscodec"), line_in(m, "compresscodec"),
                        "must be snappy, lz4, gzip, zstd or uncompressed, got '" + *c + "'");
    }
    s.compresscodec = v;
  }
  const std::string topic = s.topicprefix + "." + s.channelname;
  const bool legal = topic.size() <= 249 && std::all_of(topic.begin(), topic.end(), [](unsigned char ch) {
    return std::isalnum(ch) || ch == '.' || ch == '_' || ch == '-';
  });
  if (!legal) {
    throw ConfigError(join_key(p, "channelname"), line_in(m, "channelname"),
                      "the Kafka topic '" + topic + "' (topicprefix.channelname) may only hold letters, digits, "
                      "'.', '_' and '-' (249 at most)");
  }
}

}  // namespace

std::vector<TimeseriesBackendSpec> parse_timeseries_backends(const YAML::Node& root) {
  std::vector<TimeseriesBackendSpec> out;
  const YAML::Node n = root["libtimeseriesbackends"];
  if (!n.IsDefined() || n.IsNull()) return out;
  if (!n.IsSequence()) {
    throw ConfigError("libtimeseriesbackends", yaml_line(n),
                      "must be a list of backends (ascii, graphite, influxdb, kafka)");
  }
  std::map<std::string, int> kinds;
  for (size_t i = 0; i < n.size(); ++i) {
    const std::string at = "libtimeseriesbackends[" + std::to_string(i) + "]";
    const YAML::Node item = n[i];
    if (!item.IsMap() || item.size() != 1 || !item.begin()->first.IsScalar()) {
      throw ConfigError(at, yaml_line(item), "must be a one-key map: backend name -> options");
    }
    std::string name = item.begin()->first.Scalar();
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char ch) { return std::tolower(ch); });
    TimeseriesBackendSpec s;
    s.key = at + "." + item.begin()->first.Scalar();
    s.line = yaml_line(item);
    YAML::Node opts = item.begin()->second;
    if (name == "dbats") {
      throw ConfigError(s.key, s.line, "the DBATS backend is not supported (DBATS is not packaged); "
                                       "use graphite, influxdb, kafka or ascii");
    }
    if (opts.IsNull() || !opts.IsDefined()) opts = YAML::Node(YAML::NodeType::Map);
    if (!opts.IsMap()) throw ConfigError(s.key, s.line, "must be a map of the backend's options");
    if (name == "ascii") {
      s.kind = TimeseriesBackendSpec::Kind::ascii;
      parse_ascii(opts, s.key, s);
    } else if (name == "graphite") {
      s.kind = TimeseriesBackendSpec::Kind::graphite;
      parse_graphite(opts, s.key, s);
    } else if (name == "influxdb") {
      s.kind = TimeseriesBackendSpec::Kind::influxdb;
      parse_influxdb(opts, s.key, s);
    } else if (name == "kafka") {
      s.kind = TimeseriesBackendSpec::Kind::kafka;
      parse_kafka(opts, s.key, s);
    } else {
      throw ConfigError(s.key, s.line, "unknown timeseries backend (ascii, graphite, influxdb, kafka)");
    }
    parse_common(opts, s.key, s);
    ++kinds[name];
    out.push_back(std::move(s));
  }
  for (size_t i = 0; i < out.size(); ++i) {
    const std::string kind = backend_kind_name(out[i].kind);
    out[i].name = kinds[kind] > 1 ? kind + "-" + std::to_string(i) : kind;
  }
  return out;
}

}  // namespace privateer
