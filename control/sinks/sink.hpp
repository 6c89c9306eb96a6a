// One timeseries sink: a bounded queue of points (rows) and a sender thread
// that formats them in batches and delivers them, retrying with exponential
// backoff. Full queue: the oldest points are dropped. The batch being
// delivered is not counted against the bound until it fails and goes back to
// the front of the queue (where, being the oldest, it is dropped first), so
// at most queue_points + one batch are held. The intervals' rows are shared
// by every sink (one copy in memory however many sinks there are).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "plugins/plugin_api.hpp"

namespace privateer {

struct TimeseriesInterval {
  std::string label;
  uint64_t ts = 0;
  std::vector<TimeseriesRow> rows;
};

class Sink {
 public:
  using Clock = std::chrono::steady_clock;
  // `queue_points` >= 1; at most `batch_points` points go in one delivery.
  Sink(std::string name, uint64_t queue_points, size_t batch_points, double flush_timeout);
  virtual ~Sink();
  Sink(const Sink&) = delete;
  Sink& operator=(const Sink&) = delete;

  // Starts the sender thread (call once, after construction).
  void start();
  // Queues every row of `iv`; never blocks on delivery.
  void push(const std::shared_ptr<const TimeseriesInterval>& iv);
  // Sends what is queued for at most flush_timeout (plus what is left of a
  // delivery under way, at most 15 s), then counts the rest as dropped and
  // joins the thread. Idempotent.
  void close();

  const std::string& name() const { return name_; }
  uint64_t sent() const { return sent_.load(std::memory_order_relaxed); }
  uint64_t retried() const { return retried_.load(std::memory_order_relaxed); }
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  uint64_t queued() const;

 protected:
  // Appends the text of one point to `out`.
  virtual void format(const TimeseriesInterval& iv, const TimeseriesRow& row, std::string& out) = 0;
  // Delivers one batch (`points` points formatted into `payload`) before
  // `deadline` where it can. `error` says why when it is not `sent`: `retry`
  // (a broken connection is dropped so the next try reconnects) or `refused`
  // (the server will never take it: counted as dropped).
  enum class Delivery { sent, retry, refused };
  virtual Delivery deliver(const std::string& payload, size_t points, Clock::time_point deadline,
                       std::string& error) = 0;
  // Called on the sender thread when it stops (close files, connections).
  virtual void shutdown() {}

 private:
  struct Span {
    std::shared_ptr<const TimeseriesInterval> iv;
    size_t begin, end;
  };
  void run();
  void trim_locked();   // drops the oldest queued points while more than the bound are queued

  const std::string name_;
  const uint64_t bound_;
  const size_t batch_;
  const double flush_timeout_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Span> queue_;
  uint64_t queued_ = 0;       // points in queue_
  uint64_t in_flight_ = 0;    // points taken by the sender, not yet sent
  bool closing_ = false;
  Clock::time_point flush_deadline_{};
  std::atomic<uint64_t> sent_{0}, retried_{0}, dropped_{0};
  std::thread thread_;
};

// Backoff between failed deliveries: 0.25 s, doubled after every failure,
// at most 30 s; back to 0.25 s after a success.
inline constexpr double kSinkBackoffFirst = 0.25;
inline constexpr double kSinkBackoffMax = 30.0;

}  // namespace privateer
