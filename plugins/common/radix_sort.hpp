// MSD radix sort of table slots (see flat_table.hpp) by a key of 64-bit
// words compared as unsigned numbers, most significant word first: the
// order of the big-endian bytes of (key_word(0), key_word(1), ...).
//
// The Slot contract (RadixSortable):
//  - trivially copyable;
//  - `static constexpr unsigned kKeyWords`: number of sort key words (>= 1);
//  - `uint64_t key_word(unsigned i) const` for i < kKeyWords; cheap (it is
//    read once per slot per byte examined).
//
// radix_sort() sorts a range of any size with a scratch of at most
// kRadixScratchBytes: ranges larger than the scratch are split in place
// (American flag sort: one histogram pass, then swaps along the bucket
// cycles), smaller ones out of place (each bucket distributed into the
// scratch, sorted there recursively with the range as its scratch, and copied
// back while still in cache), ranges of up to kRadixSmall slots with
// std::sort. Key bytes equal across a range (e.g. the time of one interval,
// a shared prefix) cost one histogram pass and no distribution; the bytes
// common to the whole input are skipped without one. Not stable.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>
#include <vector>

#include "plugins/plugin_api.hpp"

namespace privateer {

template <class Slot>
concept RadixSortable = std::is_trivially_copyable_v<Slot> && (Slot::kKeyWords >= 1) &&
                        requires(const Slot& s, unsigned i) {
                          { s.key_word(i) } -> std::same_as<uint64_t>;
                        };

// Key order: the key words compared as unsigned numbers, the first one most
// significant.
template <RadixSortable Slot>
inline bool key_less(const Slot& a, const Slot& b) {
  for (unsigned i = 0; i < Slot::kKeyWords; ++i) {
    const uint64_t x = a.key_word(i), y = b.key_word(i);
    if (x != y) return x < y;
  }
  return false;
}

// Ranges up to this many slots go to std::sort.
inline constexpr size_t kRadixSmall = 256;
// The out-of-place scratch: ranges of up to this many bytes of slots are
// sorted out of place, larger ones split in place first.
inline constexpr size_t kRadixScratchBytes = size_t{1} << 20;
template <class Slot>
inline constexpr size_t kRadixScratchSlots =
    sizeof(Slot) >= kRadixScratchBytes ? 1 : kRadixScratchBytes / sizeof(Slot);

namespace radix_detail {

template <class Slot>
inline constexpr unsigned kKeyBytes = 8 * Slot::kKeyWords;

// Byte `d` (0 = most significant) of the key.
template <class Slot>
inline unsigned key_byte(const Slot& s, unsigned d) {
  return static_cast<unsigned>(s.key_word(d / 8) >> (56 - 8 * (d & 7))) & 0xff;
}

// Histogram of key byte `d` on into count[256], skipping bytes equal across
// the range (they order nothing). Returns the byte to split on, kKeyBytes
// when none is left (all keys equal).
template <class Slot>
unsigned split_byte(const Slot* a, size_t n, unsigned d, size_t* count) {
  for (; d < kKeyBytes<Slot>; ++d) {
    std::fill(count, count + 256, size_t{0});
    for (size_t i = 0; i < n; ++i) ++count[key_byte(a[i], d)];
    bool single = false;
    for (unsigned b = 0; b < 256; ++b) {
      if (count[b]) {
        single = count[b] == n;
        break;
      }
    }
    if (!single) break;
  }
  return d;
}

// Out-of-place MSD radix sort on the key bytes from `d` on; `tmp` has room
// for n; the result ends up in `a`.
template <class Slot>
void sort_out_of_place(Slot* a, Slot* tmp, size_t n, unsigned d) {
  if (n <= kRadixSmall) {
    std::sort(a, a + n, [](const Slot& x, const Slot& y) { return key_less(x, y); });
    return;
  }
  size_t count[256];
  if ((d = split_byte(a, n, d, count)) >= kKeyBytes<Slot>) return;   // all keys equal
  size_t pos[256];
  size_t sum = 0;
  for (unsigned b = 0; b < 256; ++b) {
    pos[b] = sum;
    sum += count[b];
  }
  for (size_t i = 0; i < n; ++i) tmp[pos[key_byte(a[i], d)]++] = a[i];
  size_t off = 0;
  for (unsigned b = 0; b < 256; ++b) {
    const size_t c = count[b];
    if (c > 1) sort_out_of_place(tmp + off, a + off, c, d + 1);
    if (c) std::memcpy(static_cast<void*>(a + off), tmp + off, c * sizeof(Slot));
    off += c;
  }
}

// In-place MSD radix sort (American flag sort) down to ranges that fit the
// scratch `tmp` (kRadixScratchSlots), which go to sort_out_of_place().
// One in-place American-flag pass on key byte `d` on (bytes equal across
// the range skipped): afterwards a[] is grouped by that byte, count[b]
// slots of byte value b in order. Returns the byte split on, kKeyBytes when
// all keys are equal (nothing moved).
template <class Slot>
unsigned partition_in_place(Slot* a, size_t n, unsigned d, size_t* count) {
  if ((d = split_byte(a, n, d, count)) >= kKeyBytes<Slot>) return d;
  size_t head[256], end[256];
  size_t sum = 0;
  for (unsigned b = 0; b < 256; ++b) {
    head[b] = sum;
    sum += count[b];
    end[b] = sum;
  }
  for (unsigned b = 0; b < 256; ++b) {
    while (head[b] < end[b]) {
      Slot v = a[head[b]];
      unsigned k = key_byte(v, d);
      while (k != b) {
        std::swap(v, a[head[k]++]);
        k = key_byte(v, d);
      }
      a[head[b]++] = v;
    }
  }
  return d;
}

template <class Slot>
void sort_in_place(Slot* a, size_t n, unsigned d, Slot* tmp) {
  if (n <= kRadixScratchSlots<Slot>) {
    sort_out_of_place(a, tmp, n, d);
    return;
  }
  size_t count[256];
  if ((d = partition_in_place(a, n, d, count)) >= kKeyBytes<Slot>) return;   // all keys equal
  size_t off = 0;
  for (unsigned b = 0; b < 256; ++b) {
    if (count[b] > 1) sort_in_place(a + off, count[b], d + 1, tmp);
    off += count[b];
  }
}

// A scratch of kRadixScratchSlots per thread, for sorts run as tasks.
template <class Slot>
Slot* thread_scratch() {
  thread_local std::vector<Slot> s(kRadixScratchSlots<Slot>);
  return s.data();
}

}  // namespace radix_detail

// Number of leading key bytes shared by all of a[0..n) (0 when n < 2;
// 8 * kKeyWords when all keys are equal).
template <RadixSortable Slot>
unsigned common_prefix_bytes(const Slot* a, size_t n) {
  if (n < 2) return 0;
  uint64_t diff[Slot::kKeyWords] = {};
  for (size_t i = 1; i < n; ++i) {
    for (unsigned w = 0; w < Slot::kKeyWords; ++w) diff[w] |= a[i].key_word(w) ^ a[0].key_word(w);
  }
  for (unsigned w = 0; w < Slot::kKeyWords; ++w) {
    if (diff[w]) return 8 * w + static_cast<unsigned>(__builtin_clzll(diff[w])) / 8;
  }
  return radix_detail::kKeyBytes<Slot>;
}

// Sorts a[0..n) by key_less. `scratch` has room for
// min(n, kRadixScratchSlots<Slot>) slots (its contents are clobbered).
template <RadixSortable Slot>
void radix_sort(Slot* a, size_t n, Slot* scratch) {
  if (n < 2) return;
  const unsigned d = common_prefix_bytes(a, n);
  if (d >= radix_detail::kKeyBytes<Slot>) return;   // all keys equal
  radix_detail::sort_in_place(a, n, d, scratch);
}

// Ranges at least this long are split for a TaskRunner.
inline constexpr size_t kRadixParallelMin = size_t{1} << 16;

// radix_sort() whose first passes run on the caller, then the ranges they
// made are sorted as tasks of `runner` (several at once). The caller splits
// again every range longer than 1/32 of the input (and kRadixParallelMin):
// a leading key byte with few values (a protocol, a TTL) makes a few big
// buckets, which would leave the other threads idle. Without a runner, or
// for short ranges, radix_sort() with a scratch of the caller's thread.
template <RadixSortable Slot>
void radix_sort_parallel(Slot* a, size_t n, TaskRunner* runner) {
  if (n < 2) return;
  if (!runner || n < kRadixParallelMin) {
    radix_sort(a, n, radix_detail::thread_scratch<Slot>());
    return;
  }
  struct Range {
    Slot* a;
    size_t n;
    unsigned d;   // the first key byte not known to be equal across the range
  };
  const size_t limit = std::max(kRadixParallelMin, n / 32);
  std::vector<Range> split{{a, n, common_prefix_bytes(a, n)}};
  std::vector<Range> tasks;
  while (!split.empty()) {
    const Range r = split.back();
    split.pop_back();
    if (r.n <= limit) {
      tasks.push_back(r);
      continue;
    }
    size_t count[256];
    const unsigned d = radix_detail::partition_in_place(r.a, r.n, r.d, count);
    if (d >= radix_detail::kKeyBytes<Slot>) continue;   // all keys equal
    size_t off = 0;
    for (unsigned b = 0; b < 256; off += count[b], ++b) {
      if (count[b] > 1) split.push_back({r.a + off, count[b], d + 1});
    }
  }
  runner->run(tasks.size(), [&](size_t i) {
    radix_detail::sort_in_place(tasks[i].a, tasks[i].n, tasks[i].d, radix_detail::thread_scratch<Slot>());
  });
}

}  // namespace privateer
