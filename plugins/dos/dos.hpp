// corsaro3's `dos` plugin: RS-DoS attack vectors found in backscatter (the
// replies of hosts under a spoofed-source attack that reach the telescope),
// one vector per (target IP, protocol), kept across intervals, written to
// stream "dos" (schema org.caida.corsaro.dos, field for field corsaro3's
// latest) at every interval end for each vector over the thresholds.
//
// Semantics (README "dos plugin" lists each corsaro3 quirk followed or fixed):
//  - backscatter: IPv4 TCP with SYN+ACK or RST (target: the source; attack
//    port: the destination port, target port: the source port); ICMP types
//    0, 3, 4, 5, 11, 12, 14, 16, 18. ICMP errors (3, 4, 5, 11, 12) that
//    quote a complete IPv4 header: the target is the quoted destination, the
//    protocol the quoted one (ICMP, TCP or UDP; anything else is ignored),
//    the ports the quoted first four bytes, and a mismatch is counted when
//    the quoted source is not 0 and differs from the outer destination.
//    Other ICMP: the target is the source, ports code<<8 and type<<8 (as
//    corsaro3's byte-swapped values on x86). Never outer UDP.
//  - a vector counts packets, IP-length bytes, mismatches, distinct attacker
//    addresses (outer destinations, whole addresses as corsaro3 counts),
//    distinct attack and target ports, start/latest time, the first packet
//    (its captured bytes, first ports and tags) and the packets per
//    `rate_window_slide` bucket; the max rate is the largest sum over
//    `rate_window_size` seconds of buckets, buckets aligned to multiples of
//    the slide and kept across interval ends, max taken over the vector's
//    life.
//  - at an interval end a vector without packets in it expires (not
//    written); the others are written when packets >= min_attack_packets,
//    latest - start >= min_attack_duration seconds and max rate >=
//    min_attack_packet_rate. Output order: TCP, UDP then ICMP vectors
//    (corsaro3's table order), each by target address.
//
// Workers keep only the interval's partial vectors (flat tables: one of
// vectors, one of their distinct items: attacker addresses, ports and rate
// buckets with counts); the merge on the control plane sums them into the
// vectors it keeps, so the result is that of one worker seeing every packet,
// for any number of workers.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "plugins/common/avro_encode.hpp"
#include "plugins/common/flat_table.hpp"
#include "plugins/plugin_api.hpp"

namespace privateer {

// The record layout written. latest: corsaro3's latest schema (the
// maxmind_* strings before initial_packet); stardust: the one before them,
// which pyavro-stardust's AvroRsdosReader reads (17 numbers, then the packet).
enum class DosSchema : uint8_t { latest, stardust };

// The plugin's options, corsaro3's names and defaults (`schema` is ours).
struct DosOptions {
  uint32_t min_attack_packets = 25;
  uint32_t min_attack_duration = 60;      // seconds
  uint32_t min_attack_packet_rate = 30;   // packets in one rate window
  uint32_t rate_window_size = 60;         // seconds
  uint32_t rate_window_slide = 10;        // seconds
  DosSchema schema = DosSchema::latest;
};

// One output record (org.caida.corsaro.dos).
struct DosRecord {
  uint64_t bin_timestamp = 0;
  uint32_t target_ip = 0;
  uint8_t target_protocol = 0;
  uint64_t attacker_ip_cnt = 0;
  uint64_t attack_port_cnt = 0;
  uint64_t target_port_cnt = 0;
  uint64_t packet_cnt = 0;
  uint64_t icmp_mismatches = 0;
  uint64_t byte_cnt = 0;
  uint64_t max_ppm_interval = 0;
  uint64_t start_time_sec = 0;
  uint32_t start_time_usec = 0;
  uint64_t latest_time_sec = 0;
  uint32_t latest_time_usec = 0;
  uint16_t first_attack_port = 0;
  uint16_t first_target_port = 0;
  std::string maxmind_continent = "??";
  std::string maxmind_country = "??";
  std::vector<uint8_t> initial_packet;
};

namespace dos_detail {

// A worker's partial vector for one interval. Key: (target, proto).
struct VectorSlot {
  uint64_t count;   // packets
  uint64_t bytes;
  uint64_t mismatches;
  uint64_t first_ns;
  uint64_t latest_ns;
  uint32_t target;
  uint32_t initial_off;   // the first packet's bytes in the result's arena
  uint32_t initial_len;
  uint16_t first_aport;
  uint16_t first_tport;
  uint8_t proto;
  char continent[2];   // tags of the first packet; {0,0} unknown
  char country[2];
  bool same_key(const VectorSlot& o) const { return target == o.target && proto == o.proto; }
  uint64_t hash(const uint64_t* seed) const { return hash_mum((uint64_t{proto} << 32 | target) ^ seed[0], seed[1]); }
};

// One distinct item of a vector: kind 0 an attacker address, 1 an attack
// port, 2 a target port, 3 a rate bucket (value: its start, unix seconds;
// count: its packets).
struct ItemSlot {
  uint64_t vec;     // proto << 32 | target
  uint64_t value;   // kind << 56 | value
  uint64_t count;
  bool same_key(const ItemSlot& o) const { return vec == o.vec && value == o.value; }
  uint64_t hash(const uint64_t* seed) const { return hash_mum(vec ^ seed[0], value ^ seed[1]); }
};

enum ItemKind : uint64_t { kAttacker = 0, kAttackPort = 1, kTargetPort = 2, kBucket = 3 };

}  // namespace dos_detail

// One worker's partial vectors of one interval.
class DosResult : public IntervalResult {
 public:
  FlatTable<dos_detail::VectorSlot> vectors;
  FlatTable<dos_detail::ItemSlot> items;
  std::vector<uint8_t> arena;   // the vectors' first packets
};

class DosWorker : public WorkerProcessor {
 public:
  explicit DosWorker(uint32_t rate_window_slide);
  void process(const PacketView* views, const uint8_t* const* data, size_t n) override;
  std::unique_ptr<IntervalResult> end_interval(uint64_t interval_start) override;

 private:
  void add(const PacketView& v, const uint8_t* data, uint32_t target, uint8_t proto, uint16_t aport,
           uint16_t tport, bool mismatch);
  uint32_t slide_;
  std::unique_ptr<DosResult> cur_;
};

class DosPlugin : public Plugin {
 public:
  static constexpr const char* kStream = "dos";
  // Throws ConfigError for an unknown option or a bad value.
  DosPlugin(const YAML::Node& options, const std::string& path);

  // org.caida.corsaro.dos in the layout `schema`.
  static const std::string& schema_json(DosSchema schema = DosSchema::latest);
  static void encode(const DosRecord& r, AvroEncoder& enc, DosSchema schema = DosSchema::latest);

  const std::string& name() const override;
  std::vector<std::string> config_warnings() const override { return warnings_; }
  void open_outputs(OutputProvider& out) override;
  std::unique_ptr<WorkerProcessor> make_worker(unsigned worker_id) override;
  MergeStats merge(const IntervalInfo& interval, std::vector<std::unique_ptr<IntervalResult>>& results) override;

  // Folds the workers' results of `interval` into the vectors kept, expires
  // the idle ones, and returns the records to write, in output order.
  std::vector<DosRecord> merge_records(const IntervalInfo& interval,
                                       std::vector<std::unique_ptr<IntervalResult>>& results);
  const DosOptions& options() const { return opt_; }
  size_t vectors_kept() const { return vectors_.size(); }

 private:
  // A vector as the merge keeps it, across intervals.
  struct Vector {
    uint64_t packets = 0, bytes = 0, mismatches = 0;
    uint64_t start_ns = 0, latest_ns = 0;
    uint64_t max_rate = 0;
    uint16_t first_aport = 0, first_tport = 0;
    char continent[2] = {0, 0}, country[2] = {0, 0};
    std::vector<uint8_t> initial;
    // Distinct attacker addresses, attack ports, target ports: sorted, and
    // the interval's new ones appended until unite() merges them in.
    std::vector<uint32_t> items[3];
    size_t sorted[3] = {0, 0, 0};
    std::map<uint64_t, uint64_t> buckets;   // bucket start (s) -> packets
  };
  void fold(const DosResult& r);
  static void unite(Vector& v);
  uint64_t window_max(Vector& v, uint64_t interval_start) const;

  DosOptions opt_;
  std::vector<std::string> warnings_;
  AvroStream* out_ = nullptr;
  AvroEncoder enc_;
  // Key: protocol rank (TCP 0, UDP 1, ICMP 2) << 32 | target: output order.
  std::map<uint64_t, Vector> vectors_;
};

}  // namespace privateer
