#include "dataplane/tags.hpp"

#include <algorithm>

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
    : settings_(settings), tables_(tables), worker_(worker) {}

size_t TagStage::process(PacketView* views, const uint8_t** data, size_t n) {
  const TagTables* tables = tables_ ? tables_->acquire(worker_) : nullptr;
  holding_ = tables != nullptr;
  (void)tables;
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
