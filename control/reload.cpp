#include "control/reload.hpp"

#include <pthread.h>

#include <chrono>
#include <exception>
#include <sstream>

#include "control/log.hpp"

namespace privateer {

TagReloader::TagReloader(TagTablesHandle& handle, Builder build) : handle_(handle), build_(std::move(build)) {
  thread_ = std::thread([this] { loop(); });
}

TagReloader::~TagReloader() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void TagReloader::request() {
  requested_.fetch_add(1, std::memory_order_acq_rel);
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++pending_;
  }
  cv_.notify_all();
}

void TagReloader::loop() {
  pthread_setname_np(pthread_self(), "pvt-reload");
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stop_ || pending_ > 0; });
    if (stop_) return;
    // Every request made so far is served by this one rebuild: it reads the
    // files as they are now.
    const uint64_t served = pending_;
    pending_ = 0;
    lock.unlock();
    const auto t0 = std::chrono::steady_clock::now();
    std::string error;
    std::shared_ptr<const TagTables> next;
    try {
      next = build_();
    } catch (const std::exception& e) {
      error = e.what();
    }
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::ostringstream m;
    m.precision(1);
    m << std::fixed;
    if (error.empty()) {
      const uint64_t g = handle_.publish(std::move(next));
      m << "tag tables reloaded (SIGHUP): generation " << g << ", built in " << ms
        << " ms; the workers take them at their next burst";
      log_info(m.str());
      ok_.fetch_add(served, std::memory_order_acq_rel);
    } else {
      m << "tag tables not reloaded (SIGHUP): " << error << "; the run keeps the tables of generation "
        << (handle_.current() ? handle_.current()->generation : 0);
      log_error(m.str());
      failed_.fetch_add(served, std::memory_order_acq_rel);
    }
    lock.lock();
  }
}

PluginReloader::PluginReloader(std::vector<Plugin*> plugins) : plugins_(std::move(plugins)) {
  thread_ = std::thread([this] { loop(); });
}

PluginReloader::~PluginReloader() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void PluginReloader::request() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++pending_;
  }
  cv_.notify_all();
}

void PluginReloader::reclaim() {
  for (Plugin* p : plugins_) p->reclaim();
}

void PluginReloader::loop() {
  pthread_setname_np(pthread_self(), "pvt-reload-pl");
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stop_ || pending_ > 0; });
    if (stop_) return;
    pending_ = 0;   // one reload serves every request made so far
    lock.unlock();
    for (Plugin* p : plugins_) {
      try {
        const std::string line = p->reload();
        if (!line.empty()) log_info(line + " (SIGHUP)");
        ok_.fetch_add(1, std::memory_order_acq_rel);
      } catch (const std::exception& e) {
        log_error(p->name() + ": not reloaded (SIGHUP): " + e.what() + "; the run keeps what it had");
        failed_.fetch_add(1, std::memory_order_acq_rel);
      }
    }
    lock.lock();
  }
}

}  // namespace privateer
