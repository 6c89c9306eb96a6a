// The `socketsink` plugin (Tranalyzer2's socketSink, as a periodic summary):
// at each interval end, one JSON object a line to a UDP or TCP endpoint
// through a line sink the control plane keeps (a queue and a sender thread
// of its own: the plugin never waits on the network). The object: the
// interval, packets and wire bytes, the top-N sources and TCP/UDP
// destination ports by packets, the packets each filter matched (the custom
// filters by name, the built-in ones that matched), the flows alarmed in
// the interval where the run keeps flows. Options: see README.md ("socketsink").
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
};

class SocketSinkPlugin : public Plugin {
 public:
  // `filters`: the run's custom filter names (bit i named filters[i]).
  SocketSinkPlugin(const YAML::Node& options, const std::string& path, const std::vector<std::string>& filters);
  const std::string& name() const override;
  void open_outputs(OutputProvider& out) override;
  std::unique_ptr<WorkerProcessor> make_worker(unsigned worker_id) override;
  MergeStats merge(const IntervalInfo& interval, std::vector<std::unique_ptr<IntervalResult>>& results) override;

 private:
  SocketSinkOptions o_;
  std::vector<std::string> filters_;
  LineSink* sink_ = nullptr;
};

}  // namespace privateer
