// FlatTable<Slot>: a flat open-addressing hash table for per-worker,
// per-interval aggregation (flowtuple's tuples, attack vectors by target,
// report counters).
//
// Linear probing, power-of-two capacity (at least kMinCapacity), growth by
// doubling when more than 5/8 full. The slots live in anonymous mmap'd memory
// (zeroed by the kernel; tables of 4 MiB and more are 2 MiB aligned and
// advised for transparent huge pages, as random probes into hundreds of MiB
// otherwise miss the TLB). Each table hashes with a seed random per process,
// so that nobody can aim packets at one probe chain.
//
// The Slot contract:
//  - trivially copyable, and a slot of all zero bytes is empty;
//  - an integer member `count`: 0 marks an empty slot, anything else an
//    occupied one (the table sets it to 1 on insertion and adds to it;
//    callers may store any non-zero value there);
//  - `bool same_key(const Slot& o) const`: whether o has the same key. A slot
//    may carry value fields besides count that same_key ignores;
//  - `uint64_t hash(const uint64_t* seed) const`: a hash of the key alone
//    (slots that are same_key must hash equal), mixed with the 4 words of
//    `seed`. hash_mum() below is a good building block.
//
// There is no erase: a table is filled during an interval, then read and
// emptied as a whole (drain(), or compact() + mark_emptied()) and reused,
// its memory already faulted in (see TableRecycler).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

namespace privateer {

// 64x64 -> 128 bit multiply, folded: the mixing step of wyhash/mum hashes.
inline uint64_t hash_mum(uint64_t a, uint64_t b) {
  const unsigned __int128 r = static_cast<unsigned __int128>(a) * b;
  return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}

namespace flat_table_detail {
// Zeroed anonymous memory of `bytes` (page-rounded by the kernel); 2 MiB
// aligned and MADV_HUGEPAGE'd when large. Throws std::bad_alloc.
void* map_zeroed(size_t bytes);
void unmap(void* p, size_t bytes);
// The process's random table seed (4 odd words, drawn once).
const uint64_t* process_seed();
}  // namespace flat_table_detail

template <class Slot>
class FlatTable {
  static_assert(std::is_trivially_copyable_v<Slot>, "FlatTable slots are copied as bytes");

 public:
  static constexpr size_t kMinCapacity = 1024;

  // A table of at least `capacity` slots (rounded up to a power of two).
  explicit FlatTable(size_t capacity = kMinCapacity) {
    size_t cap = kMinCapacity;
    while (cap < capacity) cap *= 2;
    slots_ = map_slots(cap);
    mask_ = cap - 1;
    grow_at_ = grow_threshold(cap);
    std::memcpy(seed_, flat_table_detail::process_seed(), sizeof seed_);
  }
  ~FlatTable() { unmap_slots(slots_, mask_ + 1); }
  FlatTable(FlatTable&& o) noexcept { take(o); }
  FlatTable& operator=(FlatTable&& o) noexcept {
    if (this != &o) {
      unmap_slots(slots_, mask_ + 1);
      take(o);
    }
    return *this;
  }
  FlatTable(const FlatTable&) = delete;
  FlatTable& operator=(const FlatTable&) = delete;

  // Occupied slots. A moved-from table has size 0 and capacity 0 and takes
  // no keys.
  size_t size() const { return size_; }
  size_t capacity() const { return slots_ ? mask_ + 1 : 0; }
  uint64_t hash(const Slot& k) const { return k.hash(seed_); }

  // Prefetches the home slot of hash `h` for writing (hash a burst of keys,
  // prefetch each, then insert them).
  void prefetch(uint64_t h) const { __builtin_prefetch(&slots_[h & mask_], 1, 3); }

  // Counts one occurrence of k's key (k.count is ignored); `h` = hash(k). A
  // new entry is a copy of k (so keeps k's value fields) with count 1; an
  // existing one only gets its count incremented.
  void add(const Slot& k, uint64_t h) {
    size_t i = h & mask_;
    for (;;) {
      Slot& s = slots_[i];
      if (s.count == 0) {
        s = k;
        s.count = 1;
        if (++size_ > grow_at_) grow();
        return;
      }
      if (s.same_key(k)) {
        ++s.count;
        return;
      }
      i = (i + 1) & mask_;
    }
  }

  // The entry of k's key, inserted when absent as a copy of k with count 1
  // (`inserted` says which); `h` = hash(k). The reference stays valid until
  // the next insertion (which may grow the table).
  Slot& find_or_insert(const Slot& k, uint64_t h, bool& inserted) {
    for (;;) {
      size_t i = h & mask_;
      for (;;) {
        Slot& s = slots_[i];
        if (s.count == 0) break;
        if (s.same_key(k)) {
          inserted = false;
          return s;
        }
        i = (i + 1) & mask_;
      }
      if (size_ + 1 > grow_at_) {
        grow();   // then probe again in the bigger table
        continue;
      }
      Slot& s = slots_[i];
      s = k;
      s.count = 1;
      ++size_;
      inserted = true;
      return s;
    }
  }

  // The entry of k's key, or null; `h` = hash(k).
  const Slot* find(const Slot& k, uint64_t h) const {
    if (!slots_) return nullptr;
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.count == 0) return nullptr;
      if (s.same_key(k)) return &s;
    }
  }

  // Visits every occupied slot (in slot order, i.e. no useful order).
  template <class F>
  void for_each(F&& f) const {
    if (!slots_) return;
    for (size_t i = 0; i <= mask_; ++i) {
      if (slots_[i].count) f(slots_[i]);
    }
  }

  // Visits every occupied slot in an order unrelated to the hash (slot
  // i * odd constant mod capacity): for inserting one table's keys into
  // another table of the same seed. In slot (= hash) order they would land
  // on one stretch of the other table at a time, filling it far beyond the
  // table's load factor before the table grows: probe chains of millions.
  template <class F>
  void for_each_scattered(F&& f) const {
    if (!slots_) return;
    for (size_t k = 0; k <= mask_; ++k) {
      const Slot& s = slots_[(k * 0x9E3779B97F4A7C15ULL) & mask_];
      if (s.count) f(s);
    }
  }

  // Visits every occupied slot and empties it: the table is then as new,
  // capacity and memory kept (already faulted in).
  template <class F>
  void drain(F&& f) {
    if (!slots_) return;
    for (size_t i = 0; i <= mask_; ++i) {
      if (slots_[i].count) {
        f(static_cast<const Slot&>(slots_[i]));
        slots_[i].count = 0;
      }
    }
    size_ = 0;
  }

  const Slot* slots() const { return slots_; }

  // For a merge that sorts the entries inside the table: moves every
  // occupied slot to the front (slots [0, size()) occupied, in no particular
  // order; the rest empty) and returns the slots. The caller may then
  // reorder [0, size()) freely, but the table must take no keys and no
  // lookups until mark_emptied().
  Slot* compact() {
    if (!slots_) return nullptr;
    size_t k = 0;
    for (size_t i = 0; i <= mask_; ++i) {
      if (!slots_[i].count) continue;
      if (k != i) {
        slots_[k] = slots_[i];
        slots_[i].count = 0;
      }
      ++k;
    }
    return slots_;
  }
  // After compact(), once the caller zeroed the count of every slot in
  // [0, size()) itself (while it read them): the table is then as new.
  void mark_emptied() { size_ = 0; }

  // Smallest capacity that holds n entries without growing.
  static size_t capacity_for(size_t n) {
    size_t cap = kMinCapacity;
    while (n > grow_threshold(cap)) cap *= 2;
    return cap;
  }

 private:
  static constexpr size_t grow_threshold(size_t capacity) { return capacity / 2 + capacity / 8; }
  static Slot* map_slots(size_t capacity) {
    return static_cast<Slot*>(flat_table_detail::map_zeroed(capacity * sizeof(Slot)));
  }
  static void unmap_slots(Slot* p, size_t capacity) {
    if (p) flat_table_detail::unmap(p, capacity * sizeof(Slot));
  }

  void take(FlatTable& o) noexcept {
    slots_ = o.slots_;
    mask_ = o.mask_;
    size_ = o.size_;
    grow_at_ = o.grow_at_;
    std::memcpy(seed_, o.seed_, sizeof seed_);
    o.slots_ = nullptr;
    o.mask_ = o.size_ = o.grow_at_ = 0;
  }

  // Rare, and kept out of the inlined insertion paths.
  [[gnu::noinline]] void grow() {
    const size_t old_cap = mask_ + 1;
    const size_t cap = old_cap * 2;
    Slot* ns = map_slots(cap);
    const size_t nmask = cap - 1;
    // Old slot i holds keys whose home is at or shortly before i; their new
    // homes are home or home + old_cap, so this pass writes nearly sequentially.
    for (size_t i = 0; i < old_cap; ++i) {
      const Slot& s = slots_[i];
      if (!s.count) continue;
      size_t j = s.hash(seed_) & nmask;
      while (ns[j].count) j = (j + 1) & nmask;
      ns[j] = s;
    }
    unmap_slots(slots_, old_cap);
    slots_ = ns;
    mask_ = nmask;
    grow_at_ = grow_threshold(cap);
  }

  Slot* slots_ = nullptr;
  size_t mask_ = 0;
  size_t size_ = 0;
  size_t grow_at_ = 0;
  uint64_t seed_[4] = {};
};

}  // namespace privateer
