// HyperLogLog (Flajolet et al. 2007) kept sparse: a sketch is the set of its
// non-zero registers, stored by the caller (e.g. as FlatTable slots keyed by
// (sketch, register)), so that a sketch of a few items costs a few slots and
// two workers' sketches merge by taking the larger rank register by register.
//
// hll_place() maps an item to its register and rank; hll_estimate() turns a
// sketch's registers back into a count. With kHllPrecision = 14 (16384
// registers) the standard error is 1.04 / sqrt(16384) = 0.81%; small counts
// use linear counting (nearly exact below a few thousand).
#pragma once

#include <cmath>
#include <cstdint>

namespace privateer {

constexpr unsigned kHllPrecision = 14;
constexpr uint32_t kHllRegisters = 1u << kHllPrecision;

// A fixed 64-bit mix (the same in every worker and every run).
inline uint64_t hll_hash(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

struct HllPlace {
  uint32_t reg;   // [0, kHllRegisters)
  uint8_t rank;   // 1 + leading zeros of the remaining bits, in [1, 64 - precision + 1]
};

inline HllPlace hll_place(uint64_t item) {
  const uint64_t h = hll_hash(item);
  const uint64_t rest = (h << kHllPrecision) | (uint64_t{1} << (kHllPrecision - 1));
  return {static_cast<uint32_t>(h >> (64 - kHllPrecision)), static_cast<uint8_t>(__builtin_clzll(rest) + 1)};
}

// Accumulates one sketch's non-zero registers, then estimates its count.
class HllEstimator {
 public:
  void add_register(uint8_t rank) {
    sum_ += std::ldexp(1.0, -static_cast<int>(rank));
    ++present_;
  }
  uint64_t estimate() const {
    const double m = kHllRegisters;
    const double zeros = m - static_cast<double>(present_);
    const double sum = sum_ + zeros;   // a zero register adds 2^0
    const double alpha = 0.7213 / (1.0 + 1.079 / m);
    double e = alpha * m * m / sum;
    if (e <= 2.5 * m && zeros > 0) e = m * std::log(m / zeros);
    return static_cast<uint64_t>(std::llround(e));
  }

 private:
  double sum_ = 0;
  uint32_t present_ = 0;
};

}  // namespace privateer
