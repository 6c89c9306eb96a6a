#include "plugins/report/report_uniq.hpp"

#include <array>

#include "plugins/common/radix_sort.hpp"

namespace privateer::report_detail {

namespace {

constexpr int kProtoBit = 32, kContinentBit = 40;
constexpr uint32_t kMaskProtos[3] = {1, 6, 17};

uint64_t metric_of_bit(int b) {
  if (b == 0) return metric_id(kCombined, 0);
  if (b < kProtoBit) return metric_id(kFilterCriteria, static_cast<uint32_t>(b));
  if (b < kContinentBit) return metric_id(kIpProtocol, kMaskProtos[b - kProtoBit]);
  return metric_id(kMaxmindContinent, code2(kContinents[b - kContinentBit]));
}

uint64_t& side_count(ReportRow& r, unsigned side) {
  return side == 0 ? r.src_ip_cnt : side == 1 ? r.dest_ip_cnt : r.src_asn_cnt;
}

}  // namespace

int mask_bit(uint64_t metric) {
  const uint32_t v = static_cast<uint32_t>(metric);
  switch (metric >> 32) {
    case kCombined: return 0;
    case kFilterCriteria: return static_cast<int>(v);
    case kIpProtocol:
      for (int i = 0; i < 3; ++i) {
        if (v == kMaskProtos[i]) return kProtoBit + i;
      }
      return -1;
    case kMaxmindContinent:
      for (int i = 0; i < 8; ++i) {
        if (code2(kContinents[i]) == v) return kContinentBit + i;
      }
      return -1;
  }
  return -1;
}

void count_masks(std::vector<MaskRec>& all, std::vector<ReportRow>& rows,
                 const std::unordered_map<uint64_t, size_t>& index, TaskRunner* runner) {
  radix_sort_parallel(all.data(), all.size(), runner);
  std::array<std::array<uint64_t, 3>, 64> per_bit{};   // addresses (ASNs) per mask bit and side
  for (size_t i = 0; i < all.size();) {
    uint64_t mask = 0;
    size_t j = i;
    for (; j < all.size() && all[j].key == all[i].key; ++j) mask |= all[j].mask;
    const unsigned side = static_cast<unsigned>(all[i].key >> 32);
    for (; mask; mask &= mask - 1) ++per_bit[__builtin_ctzll(mask)][side];
    i = j;
  }
  for (int b = 0; b < 64; ++b) {
    for (unsigned side = 0; side < 3; ++side) {
      if (per_bit[b][side]) side_count(rows[index.at(metric_of_bit(b))], side) += per_bit[b][side];
    }
  }
  std::vector<MaskRec>().swap(all);
}

void count_pairs(std::vector<PairKey>& all, std::vector<ReportRow>& rows,
                 const std::unordered_map<uint64_t, size_t>& index, TaskRunner* runner) {
  radix_sort_parallel(all.data(), all.size(), runner);
  for (size_t i = 0; i < all.size();) {
    const uint64_t group = all[i].key >> 32;   // class, port, side
    uint64_t distinct = 0;
    size_t j = i;
    for (; j < all.size() && all[j].key >> 32 == group; ++j) distinct += j == i || all[j].key != all[j - 1].key;
    const uint64_t metric = metric_id(kFirstPortClass + static_cast<uint32_t>(group >> 18),
                                      static_cast<uint32_t>(group >> 2) & 0xffff);
    side_count(rows[index.at(metric)], group & 3) += distinct;
    i = j;
  }
  std::vector<PairKey>().swap(all);
}

}  // namespace privateer::report_detail
