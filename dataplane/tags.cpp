#include "dataplane/tags.hpp"

#include <algorithm>
#include <cstring>

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

namespace {

// The origin AS of each packet's source address (PacketView::asn).
void tag_origin_as(const PrefixTable& table, PacketView* views, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    PacketView& v = views[i];
    if (v.is_ipv4()) v.asn = table.lookup_v4(v.src.v4);
    else if (v.is_ipv6()) v.asn = table.lookup_v6(v.src.v6);
  }
}

}  // namespace

TagStage::TagStage(const TagSettings& settings, TagTablesHandle* tables, unsigned worker)
    : settings_(settings), tables_(tables), worker_(worker) {
  if (tables_ && tables_->current()->geo) geo_cache_ = std::make_unique<GeoCache>();
}

TagStage::~TagStage() = default;

// The continent and country of each packet's source address, through the
// worker's cache.
void TagStage::tag_geolocation(const TagTables& tables, PacketView* views, size_t n) {
  if (!geo_cache_) geo_cache_ = std::make_unique<GeoCache>();   // once: tables with a database came with a reload
  if (tables.generation != geo_generation_) {
    geo_cache_->clear();
    geo_generation_ = tables.generation;
  }
  const GeoDatabase& db = *tables.geo;
  for (size_t i = 0; i < n; ++i) {
    PacketView& v = views[i];
    GeoAnswer a;
    if (v.is_ipv4()) a = geo_cache_->lookup_v4(db, v.src.v4);
    else if (v.is_ipv6()) a = geo_cache_->lookup_v6(db, v.src.v6);
    else continue;
    std::memcpy(v.continent, a.continent, 2);
    std::memcpy(v.country, a.country, 2);
  }
}

size_t TagStage::process(PacketView* views, const uint8_t** data, size_t n) {
  const TagTables* tables = tables_ ? tables_->acquire(worker_) : nullptr;
  holding_ = tables != nullptr;
  if (tables && tables->pfx2as) tag_origin_as(*tables->pfx2as, views, n);
  if (tables && tables->geo) tag_geolocation(*tables, views, n);
  size_t kept = 0;
  uint64_t removed = 0;
  for (size_t i = 0; i < n; ++i) {
    PacketView& v = views[i];
    for (uint64_t bits = v.custom_bits; bits; bits &= bits - 1) {
      auto& c = counters_.custom[__builtin_ctzll(bits)];
      c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }
    const bool remove = (v.filter_bits & settings_.remove_builtin) || (v.custom_bits & settings_.remove_custom);
    if (remove) {
      ++removed;
      continue;
    }
    if (kept != i) {
      views[kept] = v;
      data[kept] = data[i];
    }
    ++kept;
  }
  if (removed) counters_.removed.store(counters_.removed.load(std::memory_order_relaxed) + removed, std::memory_order_relaxed);
  return kept;
}

}  // namespace privateer
