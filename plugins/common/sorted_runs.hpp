// Reading sorted table slots (see radix_sort.hpp) with their counts summed
// per key: over one sorted range, and as a k-way merge of several sorted
// runs (one per worker), e.g. to write one interval's merged result in key
// order.
//
// Besides RadixSortable (key_word, kKeyWords) and the FlatTable slot contract
// (count, same_key), these need slots that are same_key to be adjacent in
// key_less order: the key compared by same_key is a prefix of the sort key
// (value fields, if any, come after it). Among the slots of one key the
// first one read is then the one with the smallest values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "plugins/common/radix_sort.hpp"

namespace privateer {

// Calls f(slot, summed_count) once per distinct key of the sorted range
// a[0..n), in order; `slot` is the first of its key.
template <class Slot, class F>
void for_each_summed(const Slot* a, size_t n, F&& f) {
  size_t i = 0;
  while (i < n) {
    uint64_t c = a[i].count;
    size_t j = i + 1;
    while (j < n && a[j].same_key(a[i])) c += a[j++].count;
    f(a[i], c);
    i = j;
  }
}

// A sorted range [cur, end) still to be read.
template <class Slot>
struct SortedRun {
  Slot* cur;
  Slot* end;
};

// Merges the sorted runs: calls f(slot, summed_count) once per distinct key
// over all of them, in key order, `slot` being the first of its key (the
// smallest values; between equal whole sort keys, the lowest run's). Sets the
// count of every slot read to 0, so that tables compacted for the sort are
// empty afterwards (FlatTable::mark_emptied()). The runs are consumed.
// The merge scans the runs for each slot: meant for a few runs (workers).
template <class Slot, class F>
void drain_sorted_runs(std::span<SortedRun<Slot>> runs, F&& f) {
  size_t k = 0;
  for (const SortedRun<Slot>& r : runs) {
    if (r.cur != r.end) runs[k++] = r;
  }
  runs = runs.first(k);
  if (runs.empty()) return;
  if (runs.size() == 1) {
    Slot* s = runs[0].cur;
    Slot* const end = runs[0].end;
    while (s != end) {
      uint64_t c = s->count;
      Slot* t = s + 1;
      while (t != end && t->same_key(*s)) {
        c += t->count;
        t->count = 0;
        ++t;
      }
      f(static_cast<const Slot&>(*s), c);
      s->count = 0;
      s = t;
    }
    runs[0].cur = end;
    return;
  }
  auto next = [&runs]() -> Slot* {
    size_t best = runs.size();
    for (size_t r = 0; r < runs.size(); ++r) {
      if (runs[r].cur == runs[r].end) continue;
      if (best == runs.size() || key_less(*runs[r].cur, *runs[best].cur)) best = r;
    }
    return best == runs.size() ? nullptr : runs[best].cur++;
  };
  Slot* s = next();
  while (s) {
    uint64_t c = s->count;
    Slot* t = next();
    while (t && t->same_key(*s)) {
      c += t->count;
      t->count = 0;
      t = next();
    }
    f(static_cast<const Slot&>(*s), c);
    s->count = 0;
    s = t;
  }
}

}  // namespace privateer
