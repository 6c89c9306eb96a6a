#include "plugins/common/flat_table.hpp"

#include <sys/mman.h>

#include <array>
#include <new>
#include <random>

namespace privateer::flat_table_detail {
namespace {
constexpr size_t kHugePage = size_t{2} << 20;
}  // namespace

void* map_zeroed(size_t bytes) {
  if (bytes < 2 * kHugePage) {
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    return p;
  }
  // Large: align to 2 MiB so that transparent huge pages cover all of it
  // (random probes into a table of hundreds of MiB otherwise miss the TLB).
  // (Whole pages, so that the tail trimmed below starts on a page.)
  bytes = (bytes + 4095) & ~size_t{4095};
  void* raw = mmap(nullptr, bytes + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  const uintptr_t start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (start + kHugePage - 1) & ~(uintptr_t{kHugePage} - 1);
  if (aligned > start) munmap(raw, aligned - start);
  const uintptr_t end = start + bytes + kHugePage;
  if (end > aligned + bytes) munmap(reinterpret_cast<void*>(aligned + bytes), end - (aligned + bytes));
  madvise(reinterpret_cast<void*>(aligned), bytes, MADV_HUGEPAGE);
  return reinterpret_cast<void*>(aligned);
}

void unmap(void* p, size_t bytes) {
  if (p) munmap(p, bytes);
}

const uint64_t* process_seed() {
  static const std::array<uint64_t, 4> seed = [] {
    std::random_device rd;
    std::array<uint64_t, 4> s{};
    for (auto& w : s) w = (static_cast<uint64_t>(rd()) << 32 | rd()) | 1;
    return s;
  }();
  return seed.data();
}

}  // namespace privateer::flat_table_detail
