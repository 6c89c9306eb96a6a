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
  bool builtin_filters = false;          // compute filter_bits and filter_summary (dataplane/filters.hpp)
  std::vector<std::string> custom_names; // custom filters, bit i of custom_bits named custom_names[i]
  uint64_t remove_builtin = 0;           // remove a packet with any of these filter_bits (removespoofed: spoofed)
  uint64_t keep_builtin = 0;             // remove a packet lacking any of these filter_bits
                                         // (removerouted: routed, removenotscan: large-scale-scan)
  uint64_t remove_custom = 0;            // remove a packet with any of these custom_bits
  bool any() const { return builtin_filters || !custom_names.empty(); }
  bool removes() const { return (remove_builtin | keep_builtin | remove_custom) != 0; }
};

// The metric label / summary name of the removal reason counted in
// TagCounters::removed_builtin[b]: the corsarotrace option's name for the
// keep_builtin bits ("routed", "notscan"), else the filter's name.
std::string removal_reason_name(const TagSettings& settings, size_t b);

// The tables tags are looked up in. Never changed once published; a reload
// publishes a whole new one.
struct TagTables {
  std::shared_ptr<const PrefixTable> pfx2as;              // null: not configured
  std::shared_ptr<const GeoDatabase> geo;                 // null: not configured
  std::vector<std::shared_ptr<const BpfProgram>> custom;  // TagSettings::custom_names order
  std::shared_ptr<const BpfProgram> input;                // corsarotrace's `filter`: packets it does not
                                                          // match are dropped before any tagging (null: none)
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
// A removed packet is counted once, under the first removing filter in
// corsarotrace's order: not a large-scale scan, spoofed, erratic, routed;
// then the other built-in filters by id, then the custom ones by index.
struct alignas(64) TagCounters {
  std::array<std::atomic<uint64_t>, 64> builtin{};   // packets for which built-in filter b is true
                                                    // (IPv4 packets; not-ip: the others)
  std::array<std::atomic<uint64_t>, kMaxCustomFilters> custom{};  // packets custom filter i matched
  std::array<std::atomic<uint64_t>, 64> removed_builtin{};        // packets removed for built-in filter b
  std::array<std::atomic<uint64_t>, kMaxCustomFilters> removed_custom{};  // ... for custom filter i
  std::atomic<uint64_t> input_filtered{0};          // packets the input filter (`filter`) dropped
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
  void count(const PacketView* views, size_t n);
  size_t remove(PacketView* views, const uint8_t** data, size_t n);

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
