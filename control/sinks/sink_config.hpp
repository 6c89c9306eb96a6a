// The timeseries sinks' configuration: corsaro3's `libtimeseriesbackends`
// list (ascii, kafka) plus Privateer's graphite and influxdb, each with the
// queue bound and end-of-run flush time every sink has.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <string>
#include <vector>

namespace privateer {

struct TimeseriesBackendSpec {
  enum class Kind { ascii, graphite, influxdb, kafka };
  Kind kind = Kind::ascii;
  std::string name;              // metric label: the kind, or KIND-INDEX when a kind appears twice
  std::string key;               // "libtimeseriesbackends[I].KIND" (for errors found later)
  int line = 0;
  // ascii
  std::string file;
  int compress = 0;              // 0: plain text, 1..9: gzip level
  // graphite
  std::string host;
  uint16_t port = 2003;
  // influxdb
  std::string url;               // http://HOST:PORT (a path prefix allowed)
  std::string database;
  std::string measurement = "privateer";   // also kafka's (its payload is line protocol)
  // kafka
  std::string brokeruri;
  std::string channelname = "default";
  std::string compresscodec = "snappy";
  std::string topicprefix;       // the topic is TOPICPREFIX.CHANNELNAME, as libtimeseries names it
  // every sink
  uint64_t queue_points = 1000000;
  double flush_timeout = 10.0;   // seconds
};

const char* backend_kind_name(TimeseriesBackendSpec::Kind k);

// Parses root["libtimeseriesbackends"] (absent or null: no sinks). Throws
// ConfigError naming the key and line.
std::vector<TimeseriesBackendSpec> parse_timeseries_backends(const YAML::Node& root);

}  // namespace privateer
