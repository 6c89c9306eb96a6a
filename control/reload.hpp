// Reload of the tag tables while the run goes on (SIGHUP): the tables are
// rebuilt from the files the config names (build_tag_tables()) on a thread
// of their own, off the packet path, and published to the workers, which
// pick them up at their next burst. Capture never pauses; a packet is tagged
// with either the old tables or the new ones, never both and never none.
// A file that cannot be read or is not valid keeps the old tables and logs
// the ConfigError. The old tables are freed (reclaim(), from the control
// loop) once no worker holds them.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "control/config.hpp"
#include "dataplane/tags.hpp"
#include "plugins/plugin_api.hpp"

namespace privateer {

class TagReloader {
 public:
  // What builds new tables: build_tag_tables(cfg) in the appliance. It
  // returns null for "no tables" and throws (ConfigError) for a bad file.
  using Builder = std::function<std::shared_ptr<const TagTables>()>;
  TagReloader(TagTablesHandle& handle, Builder build);
  // Waits for a reload under way, then stops the thread.
  ~TagReloader();
  TagReloader(const TagReloader&) = delete;
  TagReloader& operator=(const TagReloader&) = delete;

  // Asks for a reload (any thread, signal watcher included; returns at
  // once). Requests made while one runs are served by one more reload.
  void request();
  // Frees retired tables no worker holds (call it every control tick).
  void reclaim() { handle_.reclaim(); }

  uint64_t requested() const { return requested_.load(std::memory_order_acquire); }
  uint64_t ok() const { return ok_.load(std::memory_order_acquire); }
  uint64_t failed() const { return failed_.load(std::memory_order_acquire); }
  // Requests served so far (ok + failed).
  uint64_t done() const { return ok() + failed(); }

 private:
  void loop();

  TagTablesHandle& handle_;
  Builder build_;
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t pending_ = 0;   // requests not yet started (under mu_)
  bool stop_ = false;
  std::atomic<uint64_t> requested_{0}, ok_{0}, failed_{0};
  std::thread thread_;
};

// The same for plugins with files of their own (Plugin::reloads()): on
// SIGHUP each one's reload() runs on this thread, off the packet path; one
// that throws keeps what it had and the error is logged.
class PluginReloader {
 public:
  explicit PluginReloader(std::vector<Plugin*> plugins);
  ~PluginReloader();
  PluginReloader(const PluginReloader&) = delete;
  PluginReloader& operator=(const PluginReloader&) = delete;

  void request();
  // Plugin::reclaim() of each (call it every control tick).
  void reclaim();

  // Plugin reloads by result, over all plugins and requests.
  uint64_t ok() const { return ok_.load(std::memory_order_acquire); }
  uint64_t failed() const { return failed_.load(std::memory_order_acquire); }

 private:
  void loop();

  std::vector<Plugin*> plugins_;
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t pending_ = 0;
  bool stop_ = false;
  std::atomic<uint64_t> ok_{0}, failed_{0};
  std::thread thread_;
};

}  // namespace privateer
