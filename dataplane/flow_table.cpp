#include "dataplane/flow_table.hpp"

#include <algorithm>
#include <cstring>

#include "dataplane/flow_hash.hpp"

namespace privateer {
namespace {

constexpr size_t kWays = 8;
constexpr size_t kChunk = 64;        // packets hashed and prefetched ahead of their lookups
constexpr size_t kSweepSlots = 32;   // slots the sweep visits per burst
constexpr uint64_t kNs = 1000000000u;
constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kAck = 0x10;

uint32_t signature(uint32_t h) {
  uint32_t x = h * 0x9e3779b1u;
  x ^= x >> 15;
  return x | 1u;   // 0 marks a free slot
}

}  // namespace

const char* flow_event_name(FlowEvent e) {
  switch (e) {
    case FlowEvent::created: return "created";
    case FlowEvent::idle_timeout: return "idle_timeout";
    case FlowEvent::active_timeout: return "active_timeout";
    case FlowEvent::tcp_end: return "tcp_end";
    case FlowEvent::evicted: return "evicted";
    case FlowEvent::not_tracked: return "not_tracked";
    case FlowEvent::count_: break;
  }
  return "?";
}

// A packet's endpoints, as the record keeps them.
struct FlowTable::Key {
  uint8_t src[16] = {};
  uint8_t dst[16] = {};
  uint16_t sport, dport;
  uint8_t proto, ip_version;

  explicit Key(const PacketView& v) : sport(v.sport), dport(v.dport), proto(v.proto), ip_version(v.ip_version) {
    if (v.ip_version == 4) {
      std::memcpy(src, &v.src.v4, 4);
      std::memcpy(dst, &v.dst.v4, 4);
    } else {
      std::memcpy(src, v.src.v6, 16);
      std::memcpy(dst, v.dst.v6, 16);
    }
  }
  // -1: not this flow; else the packet's direction in it.
  int direction_in(const FlowRecord& r) const {
    if (r.proto != proto || r.ip_version != ip_version) return -1;
    if (r.aport == sport && r.bport == dport && !std::memcmp(r.a, src, 16) && !std::memcmp(r.b, dst, 16)) return 0;
    if (r.aport == dport && r.bport == sport && !std::memcmp(r.a, dst, 16) && !std::memcmp(r.b, src, 16)) return 1;
    return -1;
  }
};

FlowTable::FlowTable(const FlowSettings& s)
    : s_(s), idle_ns_(uint64_t{s.idle_timeout} * kNs), active_ns_(uint64_t{s.active_timeout} * kNs) {
  nbuckets_ = 1;
  while (nbuckets_ * kWays < std::max<uint32_t>(s.max, kWays)) nbuckets_ <<= 1;
  nslots_ = nbuckets_ * kWays;
  bkt_ = std::make_unique<Bucket[]>(nbuckets_);   // zeroed: every slot free
  rec_ = std::make_unique<FlowRecord[]>(nslots_);
}

void FlowTable::end(size_t slot, FlowEvent why) {
  count(why);
  bkt_[slot / kWays].sig[slot % kWays] = 0;
  c_.active.store(--active_, std::memory_order_relaxed);
}

void FlowTable::start(size_t slot, uint32_t sig, const Key& k, const PacketView& v) {
  FlowRecord& r = rec_[slot];
  std::memcpy(r.a, k.src, 16);
  std::memcpy(r.b, k.dst, 16);
  r.aport = k.sport;
  r.bport = k.dport;
  r.proto = k.proto;
  r.ip_version = k.ip_version;
  r.tcp_fin = 0;
  r.closed = false;
  r.alarms = 0;
  r.first_ns = r.last_ns = v.ts_ns;
  r.packets[0] = r.packets[1] = 0;
  r.bytes[0] = r.bytes[1] = 0;
  bkt_[slot / kWays].sig[slot % kWays] = sig;
  count(FlowEvent::created);
  c_.active.store(++active_, std::memory_order_relaxed);
}

void FlowTable::update(PacketView* views, size_t n) {
  ++burst_;
  uint32_t hashes[kChunk];
  uint64_t now = 0;
  for (size_t base = 0; base < n; base += kChunk) {
    const size_t m = std::min(kChunk, n - base);
    // Hash every packet and prefetch its bucket; then prefetch the record
    // of its signature's way (or of the way a new flow would take).
    for (size_t i = 0; i < m; ++i) {
      const PacketView& v = views[base + i];
      if (v.ip_version != 4 && v.ip_version != 6) continue;
      hashes[i] = symmetric_flow_hash(v);
      __builtin_prefetch(&bkt_[hashes[i] & (nbuckets_ - 1)]);
    }
    for (size_t i = 0; i < m; ++i) {
      const PacketView& v = views[base + i];
      if (v.ip_version != 4 && v.ip_version != 6) continue;
      const size_t bi = hashes[i] & (nbuckets_ - 1);
      const Bucket& bk = bkt_[bi];
      const uint32_t sig = signature(hashes[i]);
      size_t way = 0, oldest = 0;
      while (way < kWays && bk.sig[way] != sig) {
        if (static_cast<uint32_t>(burst_ - bk.stamp[way]) > static_cast<uint32_t>(burst_ - bk.stamp[oldest])) oldest = way;
        ++way;
      }
      const FlowRecord* r = &rec_[bi * kWays + (way < kWays ? way : oldest)];
      __builtin_prefetch(r, 1);
      __builtin_prefetch(reinterpret_cast<const char*>(r) + 64, 1);
    }
    for (size_t i = 0; i < m; ++i) {
      PacketView& v = views[base + i];
      v.flow = 0;
      v.flow_dir = 0;
      if (v.ip_version != 4 && v.ip_version != 6) continue;
      now = std::max(now, v.ts_ns);
      const Key k(v);
      const uint32_t sig = signature(hashes[i]);
      const size_t bi = hashes[i] & (nbuckets_ - 1);
      Bucket& bk = bkt_[bi];
      size_t slot = SIZE_MAX;
      int dir = -1;
      for (size_t w = 0; w < kWays; ++w) {
        if (bk.sig[w] == sig && (dir = k.direction_in(rec_[bi * kWays + w])) >= 0) {
          slot = bi * kWays + w;
          break;
        }
      }
      const bool syn_only = v.proto == 6 && (v.flags & pflag::has_tcp_flags) && (v.tcp_flags & (kSyn | kAck)) == kSyn;
      if (slot != SIZE_MAX) {
        const FlowRecord& r = rec_[slot];
        FlowEvent why = FlowEvent::count_;
        if (v.ts_ns > r.last_ns + idle_ns_) {
          why = r.closed ? FlowEvent::tcp_end : FlowEvent::idle_timeout;
        } else if (v.ts_ns >= r.first_ns + active_ns_) {
          why = FlowEvent::active_timeout;
        } else if (r.closed && syn_only) {
          why = FlowEvent::tcp_end;
        }
        if (why != FlowEvent::count_) {
          end(slot, why);
          start(slot, sig, k, v);
          dir = 0;
        }
      } else {
        // A free way, else the least recently used one not used in this burst.
        size_t victim = kWays;
        for (size_t w = 0; w < kWays; ++w) {
          if (!bk.sig[w]) {
            victim = w;
            break;
          }
          if (bk.stamp[w] == burst_) continue;
          if (victim == kWays || static_cast<uint32_t>(burst_ - bk.stamp[w]) > static_cast<uint32_t>(burst_ - bk.stamp[victim])) {
            victim = w;
          }
        }
        if (victim == kWays) {
          count(FlowEvent::not_tracked);
          continue;
        }
        slot = bi * kWays + victim;
        if (bk.sig[victim]) {
          const FlowRecord& r = rec_[slot];
          end(slot, now > r.last_ns + idle_ns_ ? (r.closed ? FlowEvent::tcp_end : FlowEvent::idle_timeout)
                    : r.closed                 ? FlowEvent::tcp_end
                                               : FlowEvent::evicted);
        }
        start(slot, sig, k, v);
        dir = 0;
      }
      bk.stamp[slot % kWays] = burst_;
      FlowRecord& r = rec_[slot];
      r.last_ns = std::max(r.last_ns, v.ts_ns);
      ++r.packets[dir];
      r.bytes[dir] += v.wirelen;
      if (v.proto == 6 && (v.flags & pflag::has_tcp_flags)) {
        if (v.tcp_flags & kFin) r.tcp_fin |= static_cast<uint8_t>(1u << dir);
        if ((v.tcp_flags & kRst) || r.tcp_fin == 3) r.closed = true;
      }
      v.flow = static_cast<uint32_t>(slot + 1);
      v.flow_dir = static_cast<uint8_t>(dir);
    }
  }
  if (now) sweep(now);
}

void FlowTable::sweep(uint64_t now_ns) {
  for (size_t k = 0; k < kSweepSlots; ++k) {
    const size_t s = hand_;
    hand_ = (hand_ + 1) & (nslots_ - 1);
    const Bucket& bk = bkt_[s / kWays];
    if (bk.sig[s % kWays] && bk.stamp[s % kWays] != burst_ && now_ns > rec_[s].last_ns + idle_ns_) {
      end(s, rec_[s].closed ? FlowEvent::tcp_end : FlowEvent::idle_timeout);
    }
  }
}

}  // namespace privateer
