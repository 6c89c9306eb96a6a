// A worker's flow table: bidirectional IPv4/IPv6 5-tuple flows (the
// symmetric dispatch already puts both directions on one worker), kept in a
// fixed number of slots allocated at start: buckets of 8 ways, a bucket one
// cache line of the ways' 32-bit signatures and last-use stamps, beside the
// records; looked up a burst at a time (hashes and bucket prefetches first,
// then the records of the likely ways, then the compares, as DPDK's l3fwd).
//
// A flow ends (its slot free again) when
// - no packet came for `idle_timeout` seconds of packet time (idle_timeout);
// - it has lasted `active_timeout` seconds: its next packet starts a new one
//   (active_timeout);
// - TCP: after a RST, or a FIN from each side, it is closed; packets of the
//   same 5-tuple still belong to it, until a SYN without ACK starts a new
//   flow or its slot is reclaimed (tcp_end);
// - a new flow needs its bucket's slot: the least recently used flow of the
//   bucket gives way (evicted, or idle_timeout / tcp_end when it had
//   expired or closed anyway). A flow seen in the burst being looked up is
//   never evicted: when the bucket has only such flows, the new packet is
//   not tracked (not_tracked).
// Expired slots are reclaimed when their bucket is visited and by a sweep of
// a few slots per burst. Nothing is allocated after construction.
//
// Each packet's view gets its flow (PacketView::flow, slot + 1, 0 when not
// tracked: non-IP packets, a full bucket) and direction (flow_dir: 0 from the
// flow's first sender, 1 the other way), valid until the next burst.
//
// Alarms: a plugin raises an alarm on a flow with a reason (an id the
// control plane gave the plugin's named reasons, < kMaxAlarmReasons); the
// flow keeps the set of its reasons until it ends, and each reason counts
// the flows it was raised on.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "dataplane/packet.hpp"

namespace privateer {

// Config key `flows:` (control/config.cpp fills it directly).
struct FlowSettings {
  bool enabled = false;              // flows: {enabled: yes}; also on when a plugin asks for flows
  uint32_t max = 1u << 20;           // flows per worker (rounded up to 8 x a power of two)
  uint32_t idle_timeout = 120;       // seconds of packet time
  uint32_t active_timeout = 1800;    // seconds of packet time
};

enum class FlowEvent : uint8_t { created, idle_timeout, active_timeout, tcp_end, evicted, not_tracked, count_ };
constexpr size_t kFlowEvents = static_cast<size_t>(FlowEvent::count_);
const char* flow_event_name(FlowEvent e);   // metric label: "created", "idle_timeout", ...

// Written by the worker, read by the metrics thread.
constexpr unsigned kMaxAlarmReasons = 32;

struct alignas(64) FlowCounters {
  std::array<std::atomic<uint64_t>, kFlowEvents> events{};
  std::atomic<uint64_t> active{0};
  std::array<std::atomic<uint64_t>, kMaxAlarmReasons> alarms{};   // flows alarmed, by reason id
};

struct FlowRecord {
  uint8_t a[16];          // the first sender's address (IPv4: 4 bytes, host order, then zeros)
  uint8_t b[16];
  uint16_t aport = 0, bport = 0;
  uint8_t proto = 0;
  uint8_t ip_version = 0;
  uint8_t tcp_fin = 0;    // bit d: a FIN went in direction d
  bool closed = false;    // TCP: RST, or FIN both ways
  uint32_t alarms = 0;    // bit r: reason r was raised on the flow
  uint64_t first_ns = 0;
  uint64_t last_ns = 0;
  uint64_t packets[2] = {0, 0};
  uint64_t bytes[2] = {0, 0};   // wire bytes per direction
};

class FlowTable {
 public:
  explicit FlowTable(const FlowSettings& s);
  // Sets views[i].flow and views[i].flow_dir for a burst, updating the flows.
  void update(PacketView* views, size_t n);

  const FlowRecord* record(uint32_t flow) const { return flow ? &rec_[flow - 1] : nullptr; }

  // Raises alarm `reason` on `flow` (a view's flow of the current burst):
  // true the first time for this flow and reason; false for no flow.
  bool raise(uint32_t flow, unsigned reason) {
    if (!flow || reason >= kMaxAlarmReasons) return false;
    uint32_t& a = rec_[flow - 1].alarms;
    if (a & (1u << reason)) return false;
    a |= 1u << reason;
    auto& c = c_.alarms[reason];
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    return true;
  }
  uint32_t alarms(uint32_t flow) const { return flow ? rec_[flow - 1].alarms : 0; }
  size_t slots() const { return nslots_; }
  size_t memory_bytes() const { return nbuckets_ * sizeof(Bucket) + nslots_ * sizeof(FlowRecord); }
  const FlowCounters& counters() const { return c_; }

 private:
  struct Key;
  // Per way: signature (0: free) and the burst that last used it (low 32 bits).
  struct alignas(64) Bucket {
    uint32_t sig[8];
    uint32_t stamp[8];
  };
  void end(size_t slot, FlowEvent why);
  void start(size_t slot, uint32_t sig, const Key& k, const PacketView& v);
  void sweep(uint64_t now_ns);
  void count(FlowEvent e) {
    auto& x = c_.events[static_cast<size_t>(e)];
    x.store(x.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }

  FlowSettings s_;
  uint64_t idle_ns_, active_ns_;
  size_t nbuckets_, nslots_;
  std::unique_ptr<Bucket[]> bkt_;     // slot s: bucket s / 8, way s % 8
  std::unique_ptr<FlowRecord[]> rec_;
  uint32_t burst_ = 0;
  size_t hand_ = 0;                   // the sweep's next slot
  uint64_t active_ = 0;
  FlowCounters c_;
};

}  // namespace privateer
