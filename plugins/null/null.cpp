#include "plugins/null/null.hpp"

#include <stdexcept>

#include "plugins/common/options.hpp"

namespace privateer {
namespace {

class NullWorker : public WorkerProcessor {
 public:
  void process(const PacketView*, const uint8_t* const*, size_t n) override { packets_ += n; }
  std::unique_ptr<IntervalResult> end_interval(uint64_t) override {
    auto r = std::make_unique<NullResult>(packets_);
    packets_ = 0;
    return r;
  }

 private:
  uint64_t packets_ = 0;
};

}  // namespace

NullPlugin::NullPlugin(const YAML::Node& options, const std::string& path) {
  if (options.IsDefined() && !options.IsNull()) reject_unknown_keys(options, path, {});
}

const std::string& NullPlugin::name() const {
  static const std::string n = "null";
  return n;
}

std::unique_ptr<WorkerProcessor> NullPlugin::make_worker(unsigned) { return std::make_unique<NullWorker>(); }

MergeStats NullPlugin::merge(const IntervalInfo& iv, std::vector<std::unique_ptr<IntervalResult>>& results) {
  uint64_t packets = 0;
  for (const auto& r : results) {
    if (!r) continue;
    const auto* nr = dynamic_cast<const NullResult*>(r.get());
    if (!nr) throw std::logic_error("null merge: result of another plugin");
    packets += nr->packets;
  }
  MergeStats st;
  st.log_line = "null: interval " + std::to_string(iv.start) + ".." + std::to_string(iv.end) +
                (iv.partial ? " (partial)" : "") + ": " + std::to_string(packets) + " packets";
  return st;
}

}  // namespace privateer
