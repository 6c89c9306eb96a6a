#include "dataplane/tags.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "dataplane/bpf.hpp"
#include "dataplane/filters.hpp"
#include "dataplane/geo.hpp"
#include "dataplane/pfx2as.hpp"

namespace privateer {

TagTablesHandle::TagTablesHandle(std::shared_ptr<const TagTables> initial, unsigned workers)
    : held_(std::make_unique<Held[]>(workers)), workers_(workers) {
  publish(std::move(initial));
}

uint64_t TagTablesHandle::publish(std::shared_ptr<const TagTables> next) {
  std::lock_guard<std::mutex> lock(mu_);
  auto copy = std::make_shared<TagTables>(next ? *next : TagTables{});
  copy->generation = owner_ ? owner_->generation + 1 : 1;
  if (owner_) retired_.push_back(std::move(owner_));
  owner_ = std::move(copy);
  cur_.store(owner_.get(), std::memory_order_seq_cst);
  gen_.store(owner_->generation, std::memory_order_seq_cst);
  return owner_->generation;
}

size_t TagTablesHandle::reclaim() {
  std::lock_guard<std::mutex> lock(mu_);
  if (retired_.empty()) return 0;
  uint64_t oldest = kNone;
  for (unsigned w = 0; w < workers_; ++w) {
    oldest = std::min(oldest, held_[w].generation.load(std::memory_order_seq_cst));
  }
  std::erase_if(retired_, [&](const std::shared_ptr<const TagTables>& t) { return t->generation < oldest; });
  return retired_.size();
}

std::shared_ptr<const TagTables> TagTablesHandle::current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return owner_;
}

TagStage::TagStage(const TagSettings& settings, TagTablesHandle* tables, unsigned worker)
    : settings_(settings), tables_(tables), worker_(worker) {
  if (tables_ && tables_->current()->geo) geo_cache_ = std::make_unique<GeoCache>();
}

TagStage::~TagStage() = default;

// The origin AS (PacketView::asn) and the continent and country of each
// packet's source address. The IPv4 tables' entries of the whole burst are
// prefetched first, so that their cache misses overlap instead of queueing
// (measured: twice as fast as prefetching 16 packets ahead).
// IPv6 geolocation goes through the worker's cache.
void TagStage::tag_sources(const TagTables& tables, PacketView* views, size_t n) {
  const PrefixTable* pfx = tables.pfx2as.get();
  const GeoDatabase* geo = tables.geo.get();
  if (geo) {
    if (!geo_cache_) geo_cache_ = std::make_unique<GeoCache>();   // once: tables with a database came with a reload
    if (tables.generation != geo_generation_) {
      geo_cache_->clear();
      geo_generation_ = tables.generation;
    }
  }
  const bool geo_flat = geo && geo->indexed_v4();
  for (size_t i = 0; i < n; ++i) {
    if (!views[i].is_ipv4()) continue;
    if (pfx) pfx->prefetch_v4(views[i].src.v4);
    if (geo_flat) geo->prefetch_v4(views[i].src.v4);
  }
  for (size_t i = 0; i < n; ++i) {
    PacketView& v = views[i];
    GeoAnswer a;
    if (v.is_ipv4()) {
      if (pfx) v.asn = pfx->lookup_v4(v.src.v4);
      if (!geo) continue;
      a = geo_flat ? geo->lookup_v4(v.src.v4) : geo_cache_->lookup_v4(*geo, v.src.v4);
    } else if (v.is_ipv6()) {
      if (pfx) v.asn = pfx->lookup_v6(v.src.v6);
      if (!geo) continue;
      a = geo_cache_->lookup_v6(*geo, v.src.v6);
    } else {
      continue;
    }
    std::memcpy(v.continent, a.continent, 2);
    std::memcpy(v.country, a.country, 2);
  }
}

size_t TagStage::process(PacketView* views, const uint8_t** data, size_t n) {
  const TagTables* tables = tables_ ? tables_->acquire(worker_) : nullptr;
  holding_ = tables != nullptr;
  n = filter_input(tables, views, data, n, counters_);   // corsarotrace's `filter`: always first
  if (settings_.builtin_filters) apply_builtin_filters(views, data, n);
  tag_custom(tables, views, data, n);
  count(views, n);
  if (settings_.removes()) n = remove(views, data, n);
  // The lookups only for the packets kept.
  if (tables && (tables->pfx2as || tables->geo)) tag_sources(*tables, views, n);
  return n;
}

namespace {
inline void add(std::atomic<uint64_t>& c, uint64_t k) {
  c.store(c.load(std::memory_order_relaxed) + k, std::memory_order_relaxed);
}
}  // namespace

// Per-filter counts of the burst, summed locally and added once: filter by
// filter over a chunk of the burst's masks (a loop the compiler vectorizes),
// not bit by bit per packet, whose increments of one counter would queue.
void TagStage::count(const PacketView* views, size_t n) {
  constexpr size_t kChunk = 64;
  uint64_t builtin_bits[kChunk], custom_bits[kChunk];
  uint64_t builtin[kBuiltinFilterCount] = {};
  uint64_t custom[kMaxCustomFilters] = {};
  uint64_t any_builtin = 0, any_custom = 0;
  for (size_t at = 0; at < n; at += kChunk) {
    const size_t m = std::min(kChunk, n - at);
    uint64_t chunk_builtin = 0, chunk_custom = 0;
    for (size_t i = 0; i < m; ++i) {
      builtin_bits[i] = views[at + i].filter_bits;
      custom_bits[i] = views[at + i].custom_bits;
      chunk_builtin |= builtin_bits[i];
      chunk_custom |= custom_bits[i];
    }
    auto tally = [m](const uint64_t* bits, uint64_t present, uint64_t* counts) {
      for (; present; present &= present - 1) {
        const int b = __builtin_ctzll(present);
        uint64_t c = 0;
        for (size_t i = 0; i < m; ++i) c += (bits[i] >> b) & 1;
        counts[b] += c;
      }
    };
    tally(builtin_bits, chunk_builtin, builtin);
    tally(custom_bits, chunk_custom, custom);
    any_builtin |= chunk_builtin;
    any_custom |= chunk_custom;
  }
  for (uint64_t bits = any_builtin; bits; bits &= bits - 1) {
    const int b = __builtin_ctzll(bits);
    add(counters_.builtin[b], builtin[b]);
  }
  for (uint64_t bits = any_custom; bits; bits &= bits - 1) {
    const int i = __builtin_ctzll(bits);
    add(counters_.custom[i], custom[i]);
  }
}

// Drops the packets a removing filter matches, keeping the others in order.
size_t TagStage::remove(PacketView* views, const uint8_t** data, size_t n) {
  const uint64_t rm = settings_.remove_builtin, keep = settings_.keep_builtin, rmc = settings_.remove_custom;
  constexpr uint64_t kNotScan = uint64_t{1} << builtin::large_scale_scan;
  constexpr uint64_t kSpoofed = uint64_t{1} << builtin::spoofed;
  constexpr uint64_t kErratic = uint64_t{1} << builtin::erratic;
  constexpr uint64_t kRouted = uint64_t{1} << builtin::routed;
  size_t kept = 0;
  for (size_t i = 0; i < n; ++i) {
    const PacketView& v = views[i];
    const uint64_t hit = v.filter_bits & rm, miss = ~v.filter_bits & keep, hitc = v.custom_bits & rmc;
    if (hit | miss | hitc) [[unlikely]] {
      // corsarotrace's order: notscan, spoofed, erratic, routed.
      int b;
      if (miss & kNotScan) b = builtin::large_scale_scan;
      else if (hit & kSpoofed) b = builtin::spoofed;
      else if (hit & kErratic) b = builtin::erratic;
      else if (miss & kRouted) b = builtin::routed;
      else if (hit) b = __builtin_ctzll(hit);
      else if (miss) b = __builtin_ctzll(miss);
      else b = -1;
      if (b >= 0) add(counters_.removed_builtin[b], 1);
      else add(counters_.removed_custom[__builtin_ctzll(hitc)], 1);
      continue;
    }
    if (kept != i) {
      views[kept] = v;
      data[kept] = data[i];
    }
    ++kept;
  }
  return kept;
}

std::string removal_reason_name(const TagSettings& settings, size_t b) {
  const std::string name = builtin_filter_name(b) ? builtin_filter_name(b) : "filter-" + std::to_string(b);
  if (!((settings.keep_builtin >> b) & 1)) return name;
  if (b == builtin::routed) return "routed";
  if (b == builtin::large_scale_scan) return "notscan";
  return "not-" + name;
}

}  // namespace privateer
