#include <thread>

#include "control/metrics.hpp"
#include "control/sinks/sinks.hpp"

namespace privateer {

SinkHub::SinkHub(const std::vector<TimeseriesBackendSpec>& specs) {
  for (const auto& s : specs) {
    switch (s.kind) {
      case TimeseriesBackendSpec::Kind::ascii: sinks_.push_back(make_ascii_sink(s)); break;
      case TimeseriesBackendSpec::Kind::graphite: sinks_.push_back(make_graphite_sink(s)); break;
      case TimeseriesBackendSpec::Kind::influxdb: sinks_.push_back(make_influxdb_sink(s)); break;
      case TimeseriesBackendSpec::Kind::kafka: sinks_.push_back(make_kafka_sink(s)); break;
    }
  }
  for (auto& s : sinks_) s->start();
}

SinkHub::~SinkHub() { close(); }

void SinkHub::write_interval(const std::string& label, uint64_t ts, std::vector<TimeseriesRow> rows) {
  if (sinks_.empty() || rows.empty()) return;
  auto iv = std::make_shared<TimeseriesInterval>();
  iv->label = label;
  iv->ts = ts;
  iv->rows = std::move(rows);
  std::shared_ptr<const TimeseriesInterval> shared = std::move(iv);
  for (auto& s : sinks_) s->push(shared);
}

void SinkHub::close() {
  std::vector<std::thread> closers;
  for (auto& s : sinks_) closers.emplace_back([&s] { s->close(); });
  for (auto& t : closers) t.join();
}

void register_sink_metrics(MetricsRegistry& registry, const SinkHub& hub) {
  if (hub.sinks() == 0) return;
  registry.add([&hub](MetricsWriter& w) {
    const char* help = "Timeseries points (rows) per sink: sent, retried (a failed delivery to try again), "
                       "dropped (queue full, or left at the end of flush_timeout)";
    for (const auto& s : hub.all()) {
      w.counter("privateer_sink_points_total", help, static_cast<double>(s->sent()),
                {{"sink", s->name()}, {"result", "sent"}});
      w.counter("privateer_sink_points_total", help, static_cast<double>(s->retried()),
                {{"sink", s->name()}, {"result", "retried"}});
      w.counter("privateer_sink_points_total", help, static_cast<double>(s->dropped()),
                {{"sink", s->name()}, {"result", "dropped"}});
    }
  });
}

}  // namespace privateer
