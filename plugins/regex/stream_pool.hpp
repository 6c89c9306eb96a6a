// The regex plugin's stream states in stream mode: a fixed pool of entries
// per worker, one per (flow, direction) being scanned, handed out least
// recently used first. An entry remembers the flow instance it belongs to
// (the flow table's slot and the flow's start), so a flow that ended, or an
// entry taken for another flow, is recognised without hearing of flow ends.
// The Hyperscan streams themselves belong to the rules generation (a reload
// brings fresh ones); the pool only says which stream index a packet's
// direction of its flow scans with. Nothing is allocated after construction.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace privateer {

class StreamPool {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;
  explicit StreamPool(uint32_t entries) : e_(entries) {
    for (uint32_t i = 0; i < entries; ++i) {
      e_[i].prev = i == 0 ? kNone : i - 1;
      e_[i].next = i + 1 == entries ? kNone : i + 1;
    }
    head_ = 0;
    tail_ = entries - 1;
  }
  // Sized for the flow table's slots (before any packet).
  void attach(size_t flow_slots) { of_.assign(flow_slots, {kNone, kNone}); }

  struct Lookup {
    uint32_t entry;
    bool fresh;       // the entry was (re)assigned: its stream must be reset
    bool evicted;     // it was taken from a flow still in the table (`live`)
  };
  // The entry of direction `dir` of the flow in `slot` that started at
  // `first_ns`; `live(slot, first_ns)` says whether an entry's flow is still
  // the one in its slot.
  template <class Live>
  Lookup get(uint32_t slot, uint8_t dir, uint64_t first_ns, Live&& live) {
    uint32_t i = of_[slot][dir];
    if (i != kNone && e_[i].slot == slot && e_[i].dir == dir && e_[i].first_ns == first_ns) {
      touch(i);
      return {i, false, false};
    }
    i = tail_;
    Entry& e = e_[i];
    const bool evicted = e.slot != kNone && live(e.slot, e.first_ns);
    e.slot = slot;
    e.dir = dir;
    e.first_ns = first_ns;
    of_[slot][dir] = i;
    touch(i);
    return {i, true, evicted};
  }
  // Every entry free again (the rules changed: their streams are new).
  void clear() {
    for (Entry& e : e_) e.slot = kNone;
  }

 private:
  struct Entry {
    uint64_t first_ns = 0;
    uint32_t slot = kNone;   // flow table slot (flow - 1); kNone: free
    uint32_t prev = kNone, next = kNone;
    uint8_t dir = 0;
  };
  // To the front of the use order.
  void touch(uint32_t i) {
    if (i == head_) return;
    Entry& e = e_[i];
    e_[e.prev].next = e.next;   // i is not the head: it has a prev
    if (e.next != kNone) e_[e.next].prev = e.prev; else tail_ = e.prev;
    e.prev = kNone;
    e.next = head_;
    e_[head_].prev = i;
    head_ = i;
  }

  std::vector<Entry> e_;
  std::vector<std::array<uint32_t, 2>> of_;   // [flow slot][direction]: entry or kNone
  uint32_t head_ = kNone, tail_ = kNone;      // most and least recently used
};

}  // namespace privateer
