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

// Hands the newest tables to the workers (RCU-like). Each worker announces
// the generation it holds; the control plane frees a retired generation once
// no worker holds it or an older one. Worker side (acquire, release): a few
// loads per burst, one sequentially consistent store when the tables
// changed; no lock, no allocation. Control side (publish, reclaim, current):
// under a mutex, from any control thread.
//
// Why acquire() is safe: it announces generation g (read from gen_) before
// it reads cur_, and publish() stores cur_ before gen_, so the tables read
// are of generation g or newer. reclaim() reads the announcements after the
// publish() that retired them; with both sides sequentially consistent,
// either reclaim() sees g (and keeps every generation >= g) or the worker's
// read of cur_ comes after that publish() and gets tables not retired.
class TagTablesHandle {
 public:
  TagTablesHandle(std::shared_ptr<const TagTables> initial, unsigned workers);
  // Worker side, between bursts: the tables to use for the next burst. They
  // stay valid until this worker's next acquire() or release().
  const TagTables* acquire(unsigned worker) {
    Held& h = held_[worker];
    const uint64_t g = gen_.load(std::memory_order_acquire);
    if (h.generation.load(std::memory_order_relaxed) == g) return h.tables;
    h.generation.store(g, std::memory_order_seq_cst);
    h.tables = cur_.load(std::memory_order_seq_cst);
    return h.tables;
  }
  // Worker side: holds no tables until the next acquire() (call it when the
  // worker goes idle or finishes, so that it pins no old tables meanwhile).
  void release(unsigned worker) {
    held_[worker].tables = nullptr;
    held_[worker].generation.store(kNone, std::memory_order_release);
  }
  // Control side: makes `next` the tables of every burst from now on; the
  // ones before are retired. Returns the new generation.
  uint64_t publish(std::shared_ptr<const TagTables> next);
  // Control side: frees the retired tables no worker holds any more; returns
  // how many retired ones are still held.
  size_t reclaim();
  std::shared_ptr<const TagTables> current() const;
  unsigned workers() const { return workers_; }

 private:
  static constexpr uint64_t kNone = UINT64_MAX;
  struct alignas(64) Held {
    std::atomic<uint64_t> generation{kNone};   // announced; kNone: holds nothing
    const TagTables* tables = nullptr;         // the worker's own copy of what it read
  };
  std::atomic<const TagTables*> cur_{nullptr};
  std::atomic<uint64_t> gen_{0};                         // cur_'s generation, stored after cur_
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
  // The worker has no burst to tag for now (idle, or done): it lets go of
  // the tables, so that a reload can free the old ones.
  void idle() {
    if (holding_) tables_->release(worker_);
    holding_ = false;
  }
  const TagCounters& counters() const { return counters_; }

 private:
  void count(const PacketView* views, size_t n);
  size_t remove(PacketView* views, const uint8_t** data, size_t n);

  const TagSettings& settings_;
  TagTablesHandle* tables_;   // null: no tables configured
  unsigned worker_;
  bool holding_ = false;      // acquired tables since the last idle()
  TagCounters counters_;
  // IPv6 geolocation answers (and IPv4 ones for a database without an IPv4
  // index). Made with the first tables that hold a database; cleared
  // whenever the worker picks up tables of another generation.
  std::unique_ptr<GeoCache> geo_cache_;
  uint64_t geo_generation_ = 0;
  void tag_sources(const TagTables& tables, PacketView* views, size_t n);
};

}  // namespace privateer
