// Tagging: each packet is tagged once, in its worker, right after decoding
// and before any plugin sees it. The tags land in the PacketView (filter
// bits, custom-filter bits, origin AS, geolocation), packets the run removes
// are dropped from the burst, and every plugin reads the same tags.
//
// The lookup tables (prefix-to-AS, MaxMind database, compiled BPF filters)
// are built on the control plane and published to the workers through a
// TagTablesHandle: a worker picks the newest tables up at the start of a
// burst, and tables no worker uses any more are freed on the control plane.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "dataplane/packet.hpp"

namespace privateer {

class PrefixTable;   // prefix-to-AS
class GeoDatabase;   // MaxMind database
class BpfProgram;    // one compiled custom filter
class GeoCache;      // one worker's geolocation answers (dataplane/geo.hpp)

constexpr size_t kMaxCustomFilters = 64;   // one bit each in PacketView::custom_bits

// What the run tags and removes. Fixed for the run; the config fills it.
struct TagSettings {
  bool builtin_filters = false;          // compute filter_bits and filter_summary
  std::vector<std::string> custom_names; // custom filters, bit i of custom_bits named custom_names[i]
  uint64_t remove_builtin = 0;           // remove a packet with any of these filter_bits
  uint64_t remove_custom = 0;            // remove a packet with any of these custom_bits
  bool remove_notscan = false;           // remove a packet that is not a large-scale scan
  bool any() const { return builtin_filters || !custom_names.empty(); }
};

// The tables tags are looked up in. Never changed once published; a reload
// publishes a whole new one.
struct TagTables {
  std::shared_ptr<const PrefixTable> pfx2as;              // null: not configured
  std::shared_ptr<const GeoDatabase> geo;                 // null: not configured
  std::vector<std::shared_ptr<const BpfProgram>> custom;  // TagSettings::custom_names order
  uint64_t generation = 0;                                // set by TagTablesHandle::publish
};

// Hands the newest tables to the workers (RCU-like): workers read a pointer
// and say which generation they hold; the control plane frees a retired
// generation once every worker holds a newer one or is idle.
class TagTablesHandle {
 public:
  TagTablesHandle(std::shared_ptr<const TagTables> initial, unsigned workers);
  // Worker side, between bursts: the tables to use for the next burst.
  const TagTables* acquire(unsigned worker) {
    const TagTables* t = cur_.load(std::memory_order_acquire);
    held_[worker].generation.store(t->generation, std::memory_order_release);
    return t;
  }
  // Worker side: holds no tables until the next acquire (idle or done).
  void release(unsigned worker) { held_[worker].generation.store(kNone, std::memory_order_release); }
  // Control side: makes `next` the tables for every burst from now on.
  void publish(std::shared_ptr<const TagTables> next);
  // Control side: frees retired tables no worker holds any more.
  void reclaim();
  std::shared_ptr<const TagTables> current() const;

 private:
  static constexpr uint64_t kNone = UINT64_MAX;
  struct alignas(64) Held {
    std::atomic<uint64_t> generation{kNone};
  };
  std::atomic<const TagTables*> cur_{nullptr};
  std::unique_ptr<Held[]> held_;
  unsigned workers_ = 0;
  mutable std::mutex mu_;                                // control side only
  std::shared_ptr<const TagTables> owner_;               // what cur_ points at
  std::vector<std::shared_ptr<const TagTables>> retired_;
};

// Per-worker counts, written by the worker, read by the metrics.
struct alignas(64) TagCounters {
  std::array<std::atomic<uint64_t>, 64> builtin{};   // IPv4 packets for which built-in filter b is true
  std::array<std::atomic<uint64_t>, kMaxCustomFilters> custom{};  // packets custom filter i matched
  std::atomic<uint64_t> removed{0};                 // packets removed before the plugins
};

// One worker's tagger.
class TagStage {
 public:
  TagStage(const TagSettings& settings, TagTablesHandle* tables, unsigned worker);
  ~TagStage();
  // Tags views[0..n), counts them, and removes the packets the settings
  // remove by moving the kept ones (views and data alike) to the front, in
  // order. Returns how many are kept.
  size_t process(PacketView* views, const uint8_t** data, size_t n);
  const TagCounters& counters() const { return counters_; }

 private:
  const TagSettings& settings_;
  TagTablesHandle* tables_;   // null: no tables configured
  unsigned worker_;
  TagCounters counters_;
  // Made with the first tables that hold a geolocation database; cleared
  // whenever the worker picks up tables of another generation.
  std::unique_ptr<GeoCache> geo_cache_;
  uint64_t geo_generation_ = 0;
  void tag_geolocation(const TagTables& tables, PacketView* views, size_t n);
};

}  // namespace privateer
