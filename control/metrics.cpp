#include "control/metrics.hpp"

#include <prometheus/exposer.h>

#include <stdexcept>

namespace privateer {

prometheus::MetricFamily& MetricsWriter::family(const std::string& name, const std::string& help,
                                                prometheus::MetricType type) {
  for (auto& f : families_) {
    if (f.name == name) return f;
  }
  prometheus::MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  families_.push_back(std::move(f));
  return families_.back();
}

static prometheus::ClientMetric make_metric(const MetricLabels& labels) {
  prometheus::ClientMetric m;
  for (const auto& [k, v] : labels) m.label.push_back({k, v});
  return m;
}

void MetricsWriter::counter(const std::string& name, const std::string& help, double value,
                            const MetricLabels& labels) {
  auto m = make_metric(labels);
  m.counter.value = value;
  family(name, help, prometheus::MetricType::Counter).metric.push_back(std::move(m));
}

void MetricsWriter::gauge(const std::string& name, const std::string& help, double value,
                          const MetricLabels& labels) {
  auto m = make_metric(labels);
  m.gauge.value = value;
  family(name, help, prometheus::MetricType::Gauge).metric.push_back(std::move(m));
}

void MetricsRegistry::add(Sampler s) {
  std::lock_guard<std::mutex> lock(mu_);
  samplers_.push_back(std::move(s));
}

std::vector<prometheus::MetricFamily> MetricsRegistry::Collect() const {
  std::lock_guard<std::mutex> lock(mu_);
  MetricsWriter w;
  for (const auto& s : samplers_) s(w);
  return w.take();
}

MetricsEndpoint::MetricsEndpoint(const std::string& listen, std::shared_ptr<MetricsRegistry> registry)
    : registry_(std::move(registry)) {
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(listen, 2);
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot serve metrics on " + listen + ": " + e.what());
  }
  exposer_->RegisterCollectable(registry_);
}

MetricsEndpoint::~MetricsEndpoint() = default;

int MetricsEndpoint::port() const {
  const auto ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

}  // namespace privateer
