#include "control/sinks/sink.hpp"

#include <algorithm>

#include "control/log.hpp"

namespace privateer {

namespace {
// One delivery waits at most this long (connect, write, the server's answer):
// InfluxDB's own write timeout is 10 s.
constexpr auto kDeliveryTimeout = std::chrono::seconds(15);
}  // namespace

Sink::Sink(std::string name, uint64_t queue_points, size_t batch_points, double flush_timeout)
    : name_(std::move(name)),
      bound_(std::max<uint64_t>(queue_points, 1)),
      batch_(static_cast<size_t>(std::max<uint64_t>(1, std::min<uint64_t>(batch_points, bound_)))),
      flush_timeout_(flush_timeout) {}

Sink::~Sink() { close(); }

void Sink::start() { thread_ = std::thread([this] { run(); }); }

uint64_t Sink::queued() const {
  std::lock_guard<std::mutex> lk(mu_);
  return queued_ + in_flight_;
}

void Sink::push(const std::shared_ptr<const TimeseriesInterval>& iv) {
  if (iv->rows.empty()) return;
  std::lock_guard<std::mutex> lk(mu_);
  if (closing_) {
    dropped_ += iv->rows.size();
    return;
  }
  queue_.push_back({iv, 0, iv->rows.size()});
  queued_ += iv->rows.size();
  trim_locked();
  cv_.notify_one();
}

void Sink::trim_locked() {
  while (queued_ > bound_ && !queue_.empty()) {
    Span& s = queue_.front();
    const uint64_t k = std::min<uint64_t>(s.end - s.begin, queued_ - bound_);
    s.begin += k;
    queued_ -= k;
    dropped_ += k;
    if (s.begin == s.end) queue_.pop_front();
  }
}

void Sink::close() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (!closing_) {
      closing_ = true;
      flush_deadline_ = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(flush_timeout_));
    }
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void Sink::run() {
  double backoff = kSinkBackoffFirst;
  uint64_t failures = 0;
  std::vector<Span> batch;
  std::string payload;
  std::unique_lock<std::mutex> lk(mu_);
  for (;;) {
    cv_.wait(lk, [&] { return queued_ > 0 || closing_; });
    if (queued_ == 0 || (closing_ && Clock::now() >= flush_deadline_)) break;
    batch.clear();
    size_t n = 0;
    while (n < batch_ && !queue_.empty()) {
      Span& s = queue_.front();
      const size_t k = std::min(batch_ - n, s.end - s.begin);
      batch.push_back({s.iv, s.begin, s.begin + k});
      s.begin += k;
      n += k;
      if (s.begin == s.end) queue_.pop_front();
    }
    queued_ -= n;
    in_flight_ = n;
    Clock::time_point deadline = Clock::now() + kDeliveryTimeout;
    if (closing_) deadline = std::min(deadline, flush_deadline_);
    lk.unlock();

    payload.clear();
    for (const Span& s : batch) {
      for (size_t i = s.begin; i < s.end; ++i) format(*s.iv, s.iv->rows[i], payload);
    }
    std::string error;
    const Delivery d = deliver(payload, n, deadline, error);

    lk.lock();
    in_flight_ = 0;
    if (d == Delivery::refused) {
      dropped_ += n;
      log_warning("timeseries sink " + name_ + ": " + error + "; " + std::to_string(n) + " point(s) dropped");
      continue;
    }
    if (d == Delivery::sent) {
      sent_ += n;
      if (failures) log_info("timeseries sink " + name_ + ": delivering again after " + std::to_string(failures) +
                             " failed attempt(s)");
      failures = 0;
      backoff = kSinkBackoffFirst;
      continue;
    }
    retried_ += n;
    if (failures++ == 0) log_warning("timeseries sink " + name_ + ": " + error + "; retrying with backoff");
    for (auto it = batch.rbegin(); it != batch.rend(); ++it) queue_.push_front(*it);
    queued_ += n;
    trim_locked();
    auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(backoff));
    while (Clock::now() < until) {
      if (closing_) until = std::min(until, flush_deadline_);
      cv_.wait_until(lk, until);
    }
    backoff = std::min(backoff * 2, kSinkBackoffMax);
  }
  const uint64_t left = queued_;
  dropped_ += left;
  queue_.clear();
  queued_ = 0;
  lk.unlock();
  if (left) {
    log_warning("timeseries sink " + name_ + ": " + std::to_string(left) +
                " point(s) not delivered before flush_timeout: counted as dropped");
  }
  shutdown();
}

}  // namespace privateer
