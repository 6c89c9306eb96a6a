// corsaro3's `null` plugin: counts the packets it is fed per interval and
// writes no file. The merged count goes to the log, one line per interval
// ("null: interval START..END: N packets"), which makes it a quick check of
// a source or a config, and a baseline for the cost of the other plugins.
// It takes no options.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "plugins/plugin_api.hpp"

namespace privateer {

class NullResult : public IntervalResult {
 public:
  explicit NullResult(uint64_t packets) : packets(packets) {}
  uint64_t packets;
};

class NullPlugin : public Plugin {
 public:
  // Throws ConfigError for any option.
  NullPlugin(const YAML::Node& options, const std::string& path);

  const std::string& name() const override;
  void open_outputs(OutputProvider&) override {}
  std::unique_ptr<WorkerProcessor> make_worker(unsigned worker_id) override;
  MergeStats merge(const IntervalInfo& interval, std::vector<std::unique_ptr<IntervalResult>>& results) override;
};

}  // namespace privateer
