// The Prometheus endpoint. Values are read from the runtime's and control
// plane's counters at scrape time (no copying loop, no stale values).
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include "plugins/plugin_api.hpp"

namespace prometheus {
class Exposer;
}

namespace privateer {

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

// Builds metric families during one scrape.
class MetricsWriter {
 public:
  void counter(const std::string& name, const std::string& help, double value, const MetricLabels& labels = {});
  void gauge(const std::string& name, const std::string& help, double value, const MetricLabels& labels = {});
  std::vector<prometheus::MetricFamily> take() { return std::move(families_); }

 private:
  prometheus::MetricFamily& family(const std::string& name, const std::string& help, prometheus::MetricType type);
  std::vector<prometheus::MetricFamily> families_;
};

// The Prometheus client conventions' process_* metrics from procfs (start
// time, CPU seconds, resident and virtual memory, open and maximum fds); a
// value procfs does not give is left out.
void write_process_metrics(MetricsWriter& w);

// A Collectable whose samples come from callbacks registered by the parts of
// the appliance. Callbacks run on the endpoint's thread and must only read.
class MetricsRegistry : public prometheus::Collectable {
 public:
  using Sampler = std::function<void(MetricsWriter&)>;
  // Ignored once closed.
  void add(Sampler s);
  std::vector<prometheus::MetricFamily> Collect() const override;
  // Runs every sampler into one writer (for the end-of-run summary and tests).
  std::vector<prometheus::MetricFamily> snapshot() const { return Collect(); }
  // Drops every sampler; a scrape running now finishes first, later ones see
  // no samples. Call it before the objects the samplers read are destroyed.
  void close();

 private:
  mutable std::mutex mu_;
  std::vector<Sampler> samplers_;
  bool closed_ = false;
};

// The registry's samples of the named families, for a plugin that reports
// the run's counters (socketsink); nothing until a registry is set (once,
// before any packet) and nothing once it is closed.
class RegistryCounters : public CounterReader {
 public:
  void set(std::shared_ptr<const MetricsRegistry> reg) { reg_ = std::move(reg); }
  std::vector<CounterSample> read(const std::vector<std::string>& names) const override;

 private:
  std::shared_ptr<const MetricsRegistry> reg_;
};

// Why `listen` ("ADDRESS:PORT", "[V6]:PORT") cannot be bound now, as
// strerror() says it (e.g. "Address already in use"); "" when it can. Port 0
// always can.
std::string listen_problem(const std::string& listen);

// The HTTP endpoint serving /metrics (prometheus-cpp's Exposer on civetweb).
class MetricsEndpoint {
 public:
  // `listen` is "ADDRESS:PORT". Throws std::runtime_error when it cannot bind.
  MetricsEndpoint(const std::string& listen, std::shared_ptr<MetricsRegistry> registry);
  // Stops the server and joins its threads, without waiting out civetweb's
  // 2 s listener poll: no scrape runs after it returns.
  ~MetricsEndpoint();
  // The port actually bound (differs from the configured one for port 0).
  int port() const;

 private:
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::shared_ptr<MetricsRegistry> registry_;
  std::vector<int> ports_;        // bound
  std::vector<int> listen_fds_;   // civetweb's listening sockets (its to close)
};

}  // namespace privateer
