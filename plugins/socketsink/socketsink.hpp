// The `socketsink` plugin (Tranalyzer2's socketSink, as a periodic summary):
// one JSON object a line for every `period` seconds of packet time (default:
// the interval; the period divides it), sent to a UDP or TCP endpoint at the
// interval's end through a line sink the control plane keeps (a queue and a
// sender thread of its own: the plugin never waits on the network). The
// object: the interval and the period, packets and wire bytes, the top-N
// sources and TCP/UDP destination ports by packets, the packets each filter
// matched (the custom filters by name, the built-in ones that matched), the
// flows alarmed where the run keeps flows, and the run's counters named in
// `counters` (cumulative, as the metrics endpoint has them at the merge).
// Options: see README.md ("socketsink").
#pragma once

#include <yaml-cpp/yaml.h>

#include <memory>
#include <string>
#include <vector>

#include "plugins/plugin_api.hpp"

namespace privateer {

struct SocketSinkOptions {
  LineSinkOptions sink;
  uint32_t top = 10;
  uint32_t period = 60;   // seconds; divides the interval (default: the interval)
  std::vector<std::string> counters{"privateer_alarms_total"};   // metric families in each line
};

struct SocketSummary;

class SocketSinkPlugin : public Plugin {
 public:
  // `filters`: the run's custom filter names (bit i named filters[i]).
  SocketSinkPlugin(const YAML::Node& options, const std::string& path, const std::vector<std::string>& filters,
                   uint32_t interval_seconds);
  const std::string& name() const override;
  void open_outputs(OutputProvider& out) override;
  std::unique_ptr<WorkerProcessor> make_worker(unsigned worker_id) override;
  MergeStats merge(const IntervalInfo& interval, std::vector<std::unique_ptr<IntervalResult>>& results) override;

 private:
  // The JSON line of period `start` of interval `iv`.
  std::string line(const IntervalInfo& iv, uint64_t start, const std::vector<const SocketSummary*>& parts,
                   const std::vector<CounterSample>& counters) const;

  SocketSinkOptions o_;
  std::vector<std::string> filters_;
  LineSink* sink_ = nullptr;
  const CounterReader* counters_ = nullptr;
};

}  // namespace privateer
