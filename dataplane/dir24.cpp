#include "dataplane/dir24.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <new>
#include <stdexcept>

namespace privateer {

namespace {
constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kBytes = (size_t{1} << 24) * sizeof(uint32_t);
}  // namespace

Dir24::Dir24() {
  // Over-map by one huge page and trim, so that the table starts on a 2 MiB
  // boundary and every page of it can be a huge one.
  void* p = ::mmap(nullptr, kBytes + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  const uintptr_t raw = reinterpret_cast<uintptr_t>(p);
  const uintptr_t aligned = (raw + kHugePage - 1) & ~(kHugePage - 1);
  if (aligned > raw) ::munmap(p, aligned - raw);
  const size_t tail = raw + kBytes + kHugePage - (aligned + kBytes);
  if (tail) ::munmap(reinterpret_cast<void*>(aligned + kBytes), tail);
  tbl24_ = reinterpret_cast<uint32_t*>(aligned);
  ::madvise(tbl24_, kBytes, MADV_HUGEPAGE);   // advice only: a kernel without THP ignores it
}

Dir24::~Dir24() { ::munmap(tbl24_, kBytes); }

void Dir24::insert(uint32_t addr, unsigned len, uint32_t value) {
  if (len > 32 || value > kMaxValue) throw std::invalid_argument("Dir24::insert: bad prefix length or value");
  if (len <= 24) {
    const size_t first = len == 0 ? 0 : addr >> 8;
    std::fill_n(tbl24_ + first, size_t{1} << (24 - len), value);
    return;
  }
  uint32_t& slot = tbl24_[addr >> 8];
  if (!(slot & kExtended)) {
    const size_t group = tbl8_.size() >> 8;
    tbl8_.resize(tbl8_.size() + 256, slot);
    slot = kExtended | static_cast<uint32_t>(group);
  }
  const size_t base = (static_cast<size_t>(slot & ~kExtended) << 8) | (addr & 0xFF);
  std::fill_n(tbl8_.begin() + static_cast<ptrdiff_t>(base), size_t{1} << (32 - len), value);
}

}  // namespace privateer
