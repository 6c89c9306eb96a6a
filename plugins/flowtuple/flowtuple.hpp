// The flowtuple plugin: per interval, one record per distinct
// (time, src_ip, dst_ip, src_port, dst_port, protocol, ttl, tcp_flags, ip_len)
// with its packet count, as corsaro3's flowtuple plugin writes it.
//
// Semantics (tests/../shared/corpus/README.md):
//  - IPv4 packets go to stream "flowtuple" (schema org.caida.corsaro.flowtuple,
//    field for field corsaro3's). IPv6 packets, only with option `ipv6: yes`
//    (corsaro3 has no IPv6 output), to stream "ipv6tuple"
//    (org.privateer.flowtuple6, addresses as fixed(16)), a name no
//    `*flowtuple*` glob picks up by accident. Anything else is ignored.
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
//    window; else 0 (summed entries: see the tags below).
//  - is_spoofed, is_masscan, maxmind_continent, maxmind_country, prefix2asn:
//    the tags of the tuple's first packet in the interval, as corsaro3 takes
//    them (they are not part of the key): is_spoofed = filter_summary bit 1
//    (corsaro3's spoofed filter), is_masscan = bit 8 (its large-scale-scan
//    filter); the source's continent and country codes ("??" unknown, also
//    for a code that is not two letters A-Z); the origin AS (0 none). 0 and
//    "??" where the run does not tag. netacq_continent/country are always
//    "??" (Net Acuity is commercial and not built). When workers' entries of
//    one tuple are summed, the values (tcp_syn* and tags) of one entry are
//    kept, the one whose value bits are smallest (tcp_synlen first), so the
//    output does not depend on the order the workers' results come in (and
//    the symmetric flow hash sends every packet of a tuple to one worker).
//  - output order: corsaro3's, sorted by (time, proto, ttl, tcp_flags, src, dst,
//    sport, dport, ip_len), identical for any number of workers.
//
// Options: ipv6 (yes|no, default no); avrooutput (corsaro3's: deflate, snappy,
// or none for no flowtuple file; also zstandard/null; default: output.avro_codec);
// usesnappy (older corsaro3's yes = avrooutput snappy); sorttuples and
// mergethreads (corsaro3's; accepted with a warning: the output is always
// sorted, and merge tasks run on the output threads).
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

#include "dataplane/packet.hpp"
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
  uint8_t is_spoofed = 0;
  uint8_t is_masscan = 0;
  std::string maxmind_continent = "??";
  std::string maxmind_country = "??";
  uint32_t prefix2asn = 0;
  bool operator==(const FlowtupleRecord&) const = default;
};

// One output record of stream "ipv6tuple" (addresses as the 16 wire bytes).
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
  uint8_t is_spoofed = 0;
  uint8_t is_masscan = 0;
  std::string maxmind_continent = "??";
  std::string maxmind_country = "??";
  uint32_t prefix2asn = 0;
  bool operator==(const Flowtuple6Record&) const = default;
};

struct FlowtupleMerged {
  std::vector<FlowtupleRecord> v4;
  std::vector<Flowtuple6Record> v6;
};

namespace ft_detail {

// A packet's tags as flowtuple keeps them, in 54 bits:
//   asn:32 spoofed:1 masscan:1 country:5+5 continent:5+5
// a code letter 'A'..'Z' as 1..26, anything else (unknown) as 0 ('?').
struct PackedTags {
  static constexpr unsigned kBits = 54;
  static uint64_t letter(char c) {
    const unsigned v = static_cast<unsigned char>(c) - 'A';
    return v < 26 ? v + 1 : 0;
  }
  static char unletter(uint64_t v) { return v ? static_cast<char>('A' + v - 1) : '?'; }
  static uint64_t pack(const PacketView& p) {
    return uint64_t{p.asn} << 22 | uint64_t{p.filter_summary & 1u} << 21 | uint64_t{(p.filter_summary >> 3) & 1u} << 20 |
           letter(p.country[0]) << 15 | letter(p.country[1]) << 10 | letter(p.continent[0]) << 5 |
           letter(p.continent[1]);
  }
  static uint32_t asn(uint64_t t) { return static_cast<uint32_t>(t >> 22); }
  static uint8_t spoofed(uint64_t t) { return (t >> 21) & 1; }
  static uint8_t masscan(uint64_t t) { return (t >> 20) & 1; }
  static void country(uint64_t t, char* out) { out[0] = unletter(t >> 15 & 31); out[1] = unletter(t >> 10 & 31); }
  static void continent(uint64_t t, char* out) { out[0] = unletter(t >> 5 & 31); out[1] = unletter(t & 31); }
};

// An IPv4 table slot, laid out so that comparing (w0, w1, w2) as unsigned
// numbers gives corsaro3's output order (time, protocol, ttl, tcp_flags,
// src, dst, src_port, dst_port, ip_len), the fields packed big end first:
//   w0 = time_index:32 proto:8 ttl:8 tcp_flags:8 src[31:24]:8
//   w1 = src[23:0]:24 dst:32 sport[15:8]:8
//   w2 = sport[7:0]:8 dport:16 ip_len:16 | synlen:8 synwinlen:16
//   tags = PackedTags (value)
// The key is w0, w1 and the top 40 bits of w2; the low 24 bits of w2 and
// tags are values. count == 0 marks an empty slot (the FlatTable contract);
// the sort key (radix_sort.hpp) is (w0, w1, w2, tags): among one key's
// entries the smallest values come first. 40 bytes (32 before the tags; see
// perf/README.md for what the 8 more cost).
struct Slot4 {
  uint64_t w0;
  uint64_t w1;
  uint64_t w2;
  uint64_t count;
  uint64_t tags;
  static constexpr unsigned kValueBits = 24;   // low bits of w2 that are not key
  static constexpr unsigned kKeyWords = 4;
  static Slot4 make(uint32_t time_index, uint8_t proto, uint8_t ttl, uint8_t flags, uint32_t src,
                    uint32_t dst, uint16_t sport, uint16_t dport, uint16_t ip_len, uint8_t synlen,
                    uint16_t synwin, uint64_t tags = 0) {
    Slot4 k;
    k.w0 = uint64_t{time_index} << 32 | uint64_t{proto} << 24 | uint64_t{ttl} << 16 | uint64_t{flags} << 8 |
           src >> 24;
    k.w1 = uint64_t{src & 0xffffffu} << 40 | uint64_t{dst} << 8 | sport >> 8;
    k.w2 = uint64_t{sport & 0xffu} << 56 | uint64_t{dport} << 40 | uint64_t{ip_len} << 24 |
           uint64_t{synlen} << 16 | synwin;
    k.count = 0;
    k.tags = tags;
    return k;
  }
  uint32_t time_index() const { return static_cast<uint32_t>(w0 >> 32); }
  uint8_t proto() const { return static_cast<uint8_t>(w0 >> 24); }
  uint8_t ttl() const { return static_cast<uint8_t>(w0 >> 16); }
  uint8_t tcp_flags() const { return static_cast<uint8_t>(w0 >> 8); }
  uint32_t src() const { return static_cast<uint32_t>((w0 & 0xff) << 24 | w1 >> 40); }
  uint32_t dst() const { return static_cast<uint32_t>(w1 >> 8); }
  uint16_t sport() const { return static_cast<uint16_t>((w1 & 0xff) << 8 | w2 >> 56); }
  uint16_t dport() const { return static_cast<uint16_t>(w2 >> 40); }
  uint16_t ip_len() const { return static_cast<uint16_t>(w2 >> 24); }
  uint8_t synlen() const { return static_cast<uint8_t>(w2 >> 16); }
  uint16_t synwin() const { return static_cast<uint16_t>(w2); }
  uint64_t key_word(unsigned i) const { return i == 0 ? w0 : i == 1 ? w1 : i == 2 ? w2 : tags; }
  bool same_key(const Slot4& o) const {
    return w0 == o.w0 && w1 == o.w1 && ((w2 ^ o.w2) >> kValueBits) == 0;
  }
  uint64_t hash(const uint64_t* seed) const;
};
static_assert(sizeof(Slot4) == 40);

// An IPv6 table slot (64 bytes: one cache line in the page-aligned table),
// in the same field order as Slot4. Addresses as two big-endian words each,
// so that numeric order is address order. Sort key (w0, src, dst, w1, w2).
//   w0 = time_index:32 proto:8 ttl:8 tcp_flags:8 0:8
//   w1 = sport:16 dport:16 ip_len:16 | synlen:8 tags[53:48]:8
//   w2 = synwinlen:16 tags[47:0]:48
// The key is w0, src, dst and the top 48 bits of w1; the rest are values
// (tags: PackedTags).
struct Slot6 {
  uint64_t w0;
  uint64_t src[2];
  uint64_t dst[2];
  uint64_t w1;
  uint64_t w2;
  uint64_t count;
  static constexpr unsigned kValueBits = 16;   // low bits of w1 that are not key
  static constexpr unsigned kKeyWords = 7;
  uint64_t key_word(unsigned i) const {
    switch (i) {
      case 0: return w0;
      case 1: return src[0];
      case 2: return src[1];
      case 3: return dst[0];
      case 4: return dst[1];
      case 5: return w1;
      default: return w2;
    }
  }
  bool same_key(const Slot6& o) const {
    return w0 == o.w0 && src[0] == o.src[0] && src[1] == o.src[1] && dst[0] == o.dst[0] &&
           dst[1] == o.dst[1] && ((w1 ^ o.w1) >> kValueBits) == 0;
  }
  uint64_t hash(const uint64_t* seed) const;
  uint64_t tags() const { return (w1 & 0xff) << 48 | (w2 & ((uint64_t{1} << 48) - 1)); }
  static uint64_t tags_w1(uint64_t t) { return t >> 48; }
  static uint64_t tags_w2(uint64_t t) { return t & ((uint64_t{1} << 48) - 1); }
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
  // `ipv6`: count IPv6 packets too (else they are ignored).
  FlowtupleWorker(uint32_t interval_seconds, bool ipv6);
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
  bool ipv6_;
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
  // Throws ConfigError for an unknown option or a bad value.
  FlowtuplePlugin(const YAML::Node& options, const std::string& path, uint32_t interval_seconds);

  static const std::string& schema_json();    // org.caida.corsaro.flowtuple
  static const std::string& schema6_json();   // org.privateer.flowtuple6
  static constexpr const char* kStream = "flowtuple";
  static constexpr const char* kStream6 = "ipv6tuple";

  const std::string& name() const override;
  std::vector<std::string> config_warnings() const override { return warnings_; }
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
  bool ipv6() const { return ipv6_; }
  // The files' codec (unset: the run's), and whether any file is written
  // (not with avrooutput: none).
  const AvroStreamOptions& stream_options() const { return stream_options_; }
  bool writes_file() const { return write_file_; }

 private:
  void gather(std::vector<std::unique_ptr<IntervalResult>>& results);
  // Calls f(slot, summed_count) per distinct IPv4 key in output order (a
  // merge of the sorted tables), zeroes the slots read, then hands the
  // tables gathered back to their workers.
  template <class F>
  void emit4(F&& f);

  uint32_t interval_;
  bool ipv6_ = false;
  bool write_file_ = true;          // false for avrooutput: none
  bool opened_ = false;
  AvroStreamOptions stream_options_;
  std::vector<std::string> warnings_;
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
