// The flowtuple plugin: per interval, one record per distinct
// (time, src_ip, dst_ip, src_port, dst_port, protocol, ttl, tcp_flags, ip_len)
// with its packet count, as corsaro3's flowtuple plugin writes it.
//
// Semantics (tests/../shared/corpus/README.md):
//  - IPv4 packets go to stream "flowtuple" (schema org.caida.corsaro.flowtuple,
//    field for field corsaro3's); IPv6 packets to stream "flowtuple6"
//    (org.privateer.flowtuple6, addresses as fixed(16)); anything else is ignored.
//  - ports: the view's sport/dport when the decoder found them (pflag::has_ports),
//    the protocol is TCP, UDP or ICMP (ICMPv6 too for IPv6; ICMP: type, code)
//    and the packet is not a non-initial fragment; otherwise 0 (SCTP included).
//  - tcp_flags: TCP only, when captured, not for non-initial fragments; else 0.
//  - ttl, ip_len: as in the view (ip_len raw, even 0).
//  - time: the packet's own interval, floor(ts_sec / interval) * interval. A
//    packet from before the open interval (clock stepped back, pcapng simple
//    packet blocks with ts 0) is counted in the open interval's result under
//    its own time.
//  - tcp_synlen / tcp_synwinlen: from the first packet of the tuple in the
//    interval: for TCP with SYN set, the TCP header length in bytes and the
//    window; else 0. (When workers' results are summed, the smallest pair
//    among the workers' entries is kept, so the output does not depend on the
//    number of workers.)
//  - is_spoofed, is_masscan 0; the four geo strings "??"; prefix2asn 0 (corsaro3's
//    values for "not filled").
//  - output order: sorted by (time, src, dst, sport, dport, proto, ttl, flags, ip_len),
//    identical for any number of workers.
//
// Per-worker state is a flat open-addressing table (linear probing,
// power-of-two capacity, doubling at 62.5% load) in anonymous memory. At the
// end of an interval the table itself moves into the result (O(1) on the
// worker) and the worker goes on with an empty table of the same capacity
// (smaller when the last interval used far less of a huge one): the one the
// merge emptied and handed back (TableRecycler), a new one until then.
// The table, the recycler and the radix sort are plugins/common's.
#pragma once

#include <yaml-cpp/yaml.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "plugins/common/avro_encode.hpp"
#include "plugins/common/flat_table.hpp"
#include "plugins/common/radix_sort.hpp"
#include "plugins/common/table_recycler.hpp"
#include "plugins/plugin_api.hpp"

namespace privateer {

// One output record of stream "flowtuple" (IPv4; addresses host-order numbers).
struct FlowtupleRecord {
  uint64_t time = 0;
  uint32_t src_ip = 0;
  uint32_t dst_ip = 0;
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  uint8_t protocol = 0;
  uint8_t ttl = 0;
  uint8_t tcp_flags = 0;
  uint16_t ip_len = 0;
  uint8_t tcp_synlen = 0;
  uint16_t tcp_synwinlen = 0;
  uint64_t packet_cnt = 0;
  bool operator==(const FlowtupleRecord&) const = default;
};

// One output record of stream "flowtuple6" (addresses as the 16 wire bytes).
struct Flowtuple6Record {
  uint64_t time = 0;
  std::array<uint8_t, 16> src_ip{};
  std::array<uint8_t, 16> dst_ip{};
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  uint8_t protocol = 0;
  uint8_t ttl = 0;
  uint8_t tcp_flags = 0;
  uint16_t ip_len = 0;
  uint8_t tcp_synlen = 0;
  uint16_t tcp_synwinlen = 0;
  uint64_t packet_cnt = 0;
  bool operator==(const Flowtuple6Record&) const = default;
};

struct FlowtupleMerged {
  std::vector<FlowtupleRecord> v4;
  std::vector<Flowtuple6Record> v6;
};

namespace ft_detail {

// An IPv4 table slot, laid out so that comparing (w0, w1, w2) as unsigned
// numbers gives the output order:
//   w0 = time_index << 32 | src
//   w1 = dst << 32 | sport << 16 | dport
//   w2 = proto << 56 | ttl << 48 | tcp_flags << 40 | ip_len << 24 | synlen << 16 | synwinlen
// The key is w0, w1 and the top 40 bits of w2. count == 0 marks an empty slot
// (the FlatTable contract); the sort key (radix_sort.hpp) is (w0, w1, w2).
struct Slot4 {
  uint64_t w0;
  uint64_t w1;
  uint64_t w2;
  uint64_t count;
  static constexpr unsigned kValueBits = 24;   // low bits of w2 that are not key
  static constexpr unsigned kKeyWords = 3;
  uint64_t key_word(unsigned i) const { return i == 0 ? w0 : i == 1 ? w1 : w2; }
  bool same_key(const Slot4& o) const {
    return w0 == o.w0 && w1 == o.w1 && ((w2 ^ o.w2) >> kValueBits) == 0;
  }
  uint64_t hash(const uint64_t* seed) const;
};
static_assert(sizeof(Slot4) == 32);

// An IPv6 table slot (64 bytes: one cache line in the page-aligned table).
// Addresses as two big-endian words each, so that numeric order is address
// order. Sort key (time, src, dst, w1, w2).
//   w1 = sport << 48 | dport << 32 | proto << 24 | ttl << 16 | tcp_flags << 8
//   w2 = ip_len << 48 | synlen << 40 | synwinlen << 24
struct Slot6 {
  uint64_t time;      // time index
  uint64_t src[2];
  uint64_t dst[2];
  uint64_t w1;
  uint64_t w2;
  uint64_t count;
  static constexpr unsigned kValueBits = 48;
  static constexpr unsigned kKeyWords = 7;
  uint64_t key_word(unsigned i) const {
    switch (i) {
      case 0: return time;
      case 1: return src[0];
      case 2: return src[1];
      case 3: return dst[0];
      case 4: return dst[1];
      case 5: return w1;
      default: return w2;
    }
  }
  bool same_key(const Slot6& o) const {
    return time == o.time && src[0] == o.src[0] && src[1] == o.src[1] && dst[0] == o.dst[0] &&
           dst[1] == o.dst[1] && w1 == o.w1 && ((w2 ^ o.w2) >> kValueBits) == 0;
  }
  uint64_t hash(const uint64_t* seed) const;
};
static_assert(sizeof(Slot6) == 64);

using Table4 = FlatTable<Slot4>;
using Table6 = FlatTable<Slot6>;

// A worker's spare tables, shared with the results it hands out.
struct Recyclers {
  TableRecycler<Table4> t4;
  TableRecycler<Table6> t6;
};

}  // namespace ft_detail

// One worker's tables for one interval.
class FlowtupleResult : public IntervalResult {
 public:
  FlowtupleResult(uint64_t interval_start, ft_detail::Table4&& v4, ft_detail::Table6&& v6,
                  std::shared_ptr<ft_detail::Recyclers> recycler = nullptr)
      : interval_start_(interval_start), v4_(std::move(v4)), v6_(std::move(v6)), recycler_(std::move(recycler)) {}
  uint64_t interval_start() const { return interval_start_; }
  const ft_detail::Table4& v4() const { return v4_; }
  const ft_detail::Table6& v6() const { return v6_; }
  ft_detail::Table4& v4() { return v4_; }
  ft_detail::Table6& v6() { return v6_; }
  // Gives the tables back to the worker once drained (frees them when the
  // worker is gone or they were not drained).
  void release();

 private:
  uint64_t interval_start_;
  ft_detail::Table4 v4_;
  ft_detail::Table6 v6_;
  std::shared_ptr<ft_detail::Recyclers> recycler_;
};

class FlowtupleWorker : public WorkerProcessor {
 public:
  explicit FlowtupleWorker(uint32_t interval_seconds);
  void process(const PacketView* views, const uint8_t* const* data, size_t n) override;
  std::unique_ptr<IntervalResult> end_interval(uint64_t interval_start) override;

  size_t size4() const { return t4_.size(); }
  size_t size6() const { return t6_.size(); }
  size_t capacity4() const { return t4_.capacity(); }
  size_t capacity6() const { return t6_.capacity(); }

  // Capacity of the next interval's table after one of `capacity` held `used`
  // entries: the same, unless it was huge (> 2^20 slots) and more than 4x what
  // `used` needs, then twice what `used` needs.
  static size_t next_capacity(size_t capacity, size_t used);

 private:
  uint32_t time_index(uint64_t ts_ns) {
    if (ts_ns - cur_lo_ns_ < span_ns_) return cur_idx_;
    return time_index_slow(ts_ns);
  }
  uint32_t time_index_slow(uint64_t ts_ns);

  uint32_t interval_;
  uint64_t span_ns_;
  uint64_t cur_lo_ns_ = 0;   // [cur_lo_ns_, cur_lo_ns_ + span_ns_) has index cur_idx_
  uint32_t cur_idx_ = 0;
  std::shared_ptr<ft_detail::Recyclers> recycler_;
  ft_detail::Table4 t4_;
  ft_detail::Table6 t6_;
};

class FlowtuplePlugin : public Plugin {
 public:
  // `options`: the plugin's mapping from the config (may be null/undefined);
  // `path`: its dotted config path for errors (e.g. "plugins.flowtuple").
  // Accepts corsarotrace's `sorttuples` (bool; output is always sorted).
  // Throws ConfigError for anything else.
  FlowtuplePlugin(const YAML::Node& options, const std::string& path, uint32_t interval_seconds);

  static const std::string& schema_json();    // org.caida.corsaro.flowtuple
  static const std::string& schema6_json();   // org.privateer.flowtuple6
  static constexpr const char* kStream = "flowtuple";
  static constexpr const char* kStream6 = "flowtuple6";

  const std::string& name() const override;
  void open_outputs(OutputProvider& out) override;
  void set_task_runner(TaskRunner* runner) override { runner_ = runner; }
  std::unique_ptr<WorkerProcessor> make_worker(unsigned worker_id) override;
  MergeStats merge(const IntervalInfo& interval,
                   std::vector<std::unique_ptr<IntervalResult>>& results) override;

  // The merged records of `results` in output order, without writing them
  // (frees the results' tables). For tests and tools.
  FlowtupleMerged merge_records(std::vector<std::unique_ptr<IntervalResult>>& results);

  // Avro binary of one record (appends to `enc`).
  static void encode(const FlowtupleRecord& r, AvroEncoder& enc);
  static void encode(const Flowtuple6Record& r, AvroEncoder& enc);

  uint32_t interval_seconds() const { return interval_; }
  bool sorttuples_option() const { return sorttuples_; }

 private:
  void gather(std::vector<std::unique_ptr<IntervalResult>>& results);
  // Calls f(slot, summed_count) per distinct IPv4 key in output order (a
  // merge of the sorted tables), zeroes the slots read, then hands the
  // tables gathered back to their workers.
  template <class F>
  void emit4(F&& f);

  uint32_t interval_;
  bool sorttuples_ = true;
  AvroStream* out4_ = nullptr;
  AvroStream* out6_ = nullptr;
  AvroEncoder enc_;
  // Merge scratch, reused across intervals (shrunk when far too big).
  // The IPv4 entries are sorted inside the workers' tables (compacted), which
  // stay in pending_ until emit4() merges and empties them.
  std::vector<FlowtupleResult*> pending_;
  TaskRunner* runner_ = nullptr;   // the control plane's, for the sort
  std::vector<ft_detail::Slot6> buf6_;
};

}  // namespace privateer
