// The sinks behind the run's TimeseriesWriter.
#pragma once

#include <memory>
#include <vector>

#include "control/sinks/sink.hpp"
#include "control/sinks/sink_config.hpp"

namespace privateer {

class MetricsRegistry;

std::unique_ptr<Sink> make_ascii_sink(const TimeseriesBackendSpec& spec);
std::unique_ptr<Sink> make_graphite_sink(const TimeseriesBackendSpec& spec);
std::unique_ptr<Sink> make_influxdb_sink(const TimeseriesBackendSpec& spec);
std::unique_ptr<Sink> make_kafka_sink(const TimeseriesBackendSpec& spec);

// Fans each interval's rows out to every configured sink (the rows shared,
// not copied). The sinks start sending at construction.
class SinkHub : public TimeseriesWriter {
 public:
  // Throws std::runtime_error when a sink cannot be set up at all (e.g.
  // librdkafka refuses its settings); a server that is down is not an error.
  explicit SinkHub(const std::vector<TimeseriesBackendSpec>& specs);
  ~SinkHub() override;
  void write_interval(const std::string& label, uint64_t ts, std::vector<TimeseriesRow> rows) override;
  size_t sinks() const override { return sinks_.size(); }
  // Flushes every sink at once (each for at most its flush_timeout) and
  // stops them. Idempotent; later rows are counted as dropped.
  void close();
  const std::vector<std::unique_ptr<Sink>>& all() const { return sinks_; }

 private:
  std::vector<std::unique_ptr<Sink>> sinks_;
};

// privateer_sink_points_total{sink, result="sent"|"retried"|"dropped"}.
void register_sink_metrics(MetricsRegistry& registry, const SinkHub& hub);

}  // namespace privateer
