#include "plugins/dos/dos.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "plugins/common/options.hpp"

namespace privateer {
namespace {

using dos_detail::ItemSlot;
using dos_detail::VectorSlot;

constexpr uint8_t kIcmp = 1, kTcp = 6, kUdp = 17;
constexpr uint8_t kSyn = 0x02, kRst = 0x04, kAck = 0x10;
// corsaro3 gives up on a vector whose first packet has more captured bytes.
constexpr uint32_t kMaxInitialPacket = 10000;

// corsaro3's latest schema; kMaxmindFields is cut out of it for `schema: stardust`.
constexpr const char* kMaxmindFields = R"(
  {"name": "maxmind_continent", "type": "string"},
  {"name": "maxmind_country", "type": "string"},)";
constexpr const char* kSchema = R"({"type": "record", "namespace": "org.caida.corsaro", "name": "dos",
 "doc": "A Corsaro Dos record. All byte fields are in host byte order, except for the initial packet which is as it appeared on the wire.",
 "fields": [
  {"name": "bin_timestamp", "type": "long"},
  {"name": "initial_packet_len", "type": "int"},
  {"name": "target_ip", "type": "long"},
  {"name": "target_protocol", "type": "int"},
  {"name": "attacker_ip_cnt", "type": "long"},
  {"name": "attack_port_cnt", "type": "long"},
  {"name": "target_port_cnt", "type": "long"},
  {"name": "packet_cnt", "type": "long"},
  {"name": "icmp_mismatches", "type": "long"},
  {"name": "byte_cnt", "type": "long"},
  {"name": "max_ppm_interval", "type": "long"},
  {"name": "start_time_sec", "type": "long"},
  {"name": "start_time_usec", "type": "int"},
  {"name": "latest_time_sec", "type": "long"},
  {"name": "latest_time_usec", "type": "int"},
  {"name": "first_attack_port", "type": "int"},
  {"name": "first_target_port", "type": "int"},
  {"name": "maxmind_continent", "type": "string"},
  {"name": "maxmind_country", "type": "string"},
  {"name": "initial_packet", "type": "bytes"}
 ]})";

inline uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline uint32_t be32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}

bool backscatter_icmp_type(uint8_t t) {
  return t == 0 || t == 3 || t == 4 || t == 5 || t == 11 || t == 12 || t == 14 || t == 16 || t == 18;
}

// Whether packet a (time, captured bytes) comes before b: by time, then by
// bytes, so that the first packet does not depend on which worker saw what.
bool before(uint64_t ta, const uint8_t* a, size_t la, uint64_t tb, const uint8_t* b, size_t lb) {
  if (ta != tb) return ta < tb;
  return std::lexicographical_compare(a, a + la, b, b + lb);
}

// A two-letter tag as written: the code when both are letters A-Z, else "??".
std::string code(const char* c) {
  const auto letter = [](char x) { return x >= 'A' && x <= 'Z'; };
  return letter(c[0]) && letter(c[1]) ? std::string(c, 2) : std::string("??");
}

uint32_t proto_rank(uint8_t proto) { return proto == kTcp ? 0 : proto == kUdp ? 1 : 2; }
uint8_t rank_proto(uint64_t rank) { return rank == 0 ? kTcp : rank == 1 ? kUdp : kIcmp; }

}  // namespace

// ---- worker ----

DosWorker::DosWorker(uint32_t rate_window_slide) : slide_(rate_window_slide), cur_(std::make_unique<DosResult>()) {}

void DosWorker::process(const PacketView* views, const uint8_t* const* data, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const PacketView& v = views[i];
    if (!v.is_ipv4() || (v.flags & pflag::later_fragment) || v.l4_offset == kNoOffset) continue;
    if (v.caplen > kMaxInitialPacket || v.l4_offset >= v.caplen) continue;
    const uint8_t* l4 = data[i] + v.l4_offset;
    const size_t rem = v.caplen - v.l4_offset;
    if (v.proto == kTcp) {
      if (!(v.flags & pflag::has_tcp_flags) || !(v.flags & pflag::has_ports)) continue;
      const bool synack = (v.tcp_flags & (kSyn | kAck)) == (kSyn | kAck);
      if (!synack && !(v.tcp_flags & kRst)) continue;
      if (v.src.v4 == 0) continue;
      add(v, data[i], v.src.v4, kTcp, v.dport, v.sport, false);
      continue;
    }
    if (v.proto != kIcmp || rem < 2) continue;
    const uint8_t type = l4[0], icmp_code = l4[1];
    if (!backscatter_icmp_type(type)) continue;
    uint32_t target = 0, quoted_src = 0;
    uint8_t proto = kIcmp;
    uint16_t aport = 0, tport = 0;
    const bool error = type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
    if (error && rem >= 8 + 20 && (l4[8] >> 4) == 4) {
      const uint8_t* q = l4 + 8;   // the quoted IPv4 header
      const size_t qrem = rem - 8;
      quoted_src = be32(q + 12);
      target = be32(q + 16);
      proto = q[9];
      const size_t ihl = size_t{q[0] & 0x0fu} * 4;
      if ((be16(q + 6) & 0x1fff) == 0 && qrem >= ihl + 4) {
        aport = be16(q + ihl);
        tport = be16(q + ihl + 2);
      }
    } else {
      // corsaro3 stores the one-byte code and type through ntohs().
      aport = static_cast<uint16_t>(icmp_code << 8);
      tport = static_cast<uint16_t>(type << 8);
    }
    if (target == 0) target = v.src.v4;
    if (target == 0 || (proto != kIcmp && proto != kTcp && proto != kUdp)) continue;
    add(v, data[i], target, proto, aport, tport, quoted_src != 0 && quoted_src != v.dst.v4);
  }
}

void DosWorker::add(const PacketView& v, const uint8_t* data, uint32_t target, uint8_t proto, uint16_t aport,
                    uint16_t tport, bool mismatch) {
  DosResult& r = *cur_;
  VectorSlot k{};
  k.target = target;
  k.proto = proto;
  bool inserted = false;
  VectorSlot& s = r.vectors.find_or_insert(k, r.vectors.hash(k), inserted);
  const bool first = inserted || before(v.ts_ns, data, v.caplen, s.first_ns, r.arena.data() + s.initial_off,
                                        s.initial_len);
  if (!inserted) {
    ++s.count;
    s.latest_ns = std::max(s.latest_ns, v.ts_ns);
  } else {
    s.latest_ns = v.ts_ns;
  }
  s.bytes += v.ip_len;
  s.mismatches += mismatch;
  if (first) {
    s.first_ns = v.ts_ns;
    s.initial_off = static_cast<uint32_t>(r.arena.size());
    s.initial_len = v.caplen;
    r.arena.insert(r.arena.end(), data, data + v.caplen);
    s.first_aport = aport;
    s.first_tport = tport;
    std::memcpy(s.continent, v.continent, 2);
    std::memcpy(s.country, v.country, 2);
  }
  const uint64_t vec = uint64_t{proto} << 32 | target;
  const uint64_t sec = v.ts_ns / 1000000000u;
  const ItemSlot items[] = {{vec, dos_detail::kAttacker << 56 | v.dst.v4, 0},
                            {vec, dos_detail::kAttackPort << 56 | aport, 0},
                            {vec, dos_detail::kTargetPort << 56 | tport, 0},
                            {vec, dos_detail::kBucket << 56 | (sec - sec % slide_), 0}};
  for (const ItemSlot& it : items) r.items.add(it, r.items.hash(it));
}

std::unique_ptr<IntervalResult> DosWorker::end_interval(uint64_t) {
  auto next = std::make_unique<DosResult>();
  next->vectors = FlatTable<VectorSlot>(FlatTable<VectorSlot>::capacity_for(cur_->vectors.size()));
  next->items = FlatTable<ItemSlot>(FlatTable<ItemSlot>::capacity_for(cur_->items.size()));
  next->arena.reserve(cur_->arena.size());
  std::unique_ptr<IntervalResult> done = std::move(cur_);
  cur_ = std::move(next);
  return done;
}

// ---- plugin ----

DosPlugin::DosPlugin(const YAML::Node& options, const std::string& path) : enc_(1024) {
  const std::string p = path.empty() ? std::string("plugins.dos") : path;
  if (!options.IsDefined() || options.IsNull()) return;
  if (!options.IsMap()) throw ConfigError(p, yaml_line(options), "must be a mapping of dos options");
  reject_unknown_keys(options, p,
                      {"min_attack_packets", "min_attack_duration", "min_attack_packet_rate", "rate_window_size",
                       "rate_window_slide", "schema"});
  if (auto v = get_opt<std::string>(options, p, "schema")) {
    if (*v == "stardust") opt_.schema = DosSchema::stardust;
    else if (*v != "latest") {
      throw ConfigError(join_key(p, "schema"), yaml_line(options["schema"]),
                        "must be latest or stardust, got '" + *v + "'");
    }
  }
  struct Opt {
    const char* key;
    uint32_t* to;
  };
  const Opt opts[] = {{"min_attack_packets", &opt_.min_attack_packets},
                      {"min_attack_duration", &opt_.min_attack_duration},
                      {"min_attack_packet_rate", &opt_.min_attack_packet_rate},
                      {"rate_window_size", &opt_.rate_window_size},
                      {"rate_window_slide", &opt_.rate_window_slide}};
  for (const Opt& o : opts) {
    const auto v = get_opt<uint32_t>(options, p, o.key);
    if (!v) continue;
    if (*v > 65535) {
      throw ConfigError(join_key(p, o.key), yaml_line(options[o.key]),
                        "must be at most 65535 (corsaro3 keeps it in 16 bits), got " + std::to_string(*v));
    }
    *o.to = *v;
  }
  for (const Opt& o : {opts[3], opts[4]}) {   // the window and its slide
    if (*o.to == 0) throw ConfigError(join_key(p, o.key), yaml_line(options[o.key]), "must be larger than zero");
  }
  if (opt_.rate_window_slide > opt_.rate_window_size) {
    warnings_.push_back("config key '" + join_key(p, "rate_window_slide") + "' (line " +
                        std::to_string(yaml_line(options["rate_window_slide"])) + ") is larger than " +
                        "rate_window_size: shrunk to " + std::to_string(opt_.rate_window_size) +
                        " as corsaro3 does");
    opt_.rate_window_slide = opt_.rate_window_size;
  }
}

const std::string& DosPlugin::schema_json(DosSchema schema) {
  static const std::string latest = kSchema;
  static const std::string stardust = [] {
    std::string s = kSchema;
    return s.erase(s.find(kMaxmindFields), std::strlen(kMaxmindFields));
  }();
  return schema == DosSchema::latest ? latest : stardust;
}

const std::string& DosPlugin::name() const {
  static const std::string n = "dos";
  return n;
}

void DosPlugin::open_outputs(OutputProvider& out) { out_ = &out.avro_stream(kStream, schema_json(opt_.schema), {}); }

std::unique_ptr<WorkerProcessor> DosPlugin::make_worker(unsigned) {
  return std::make_unique<DosWorker>(opt_.rate_window_slide);
}

void DosPlugin::fold(const DosResult& r) {
  r.vectors.for_each([&](const VectorSlot& s) {
    const uint64_t key = uint64_t{proto_rank(s.proto)} << 32 | s.target;
    auto [it, fresh] = vectors_.try_emplace(key);
    Vector& v = it->second;
    const uint8_t* pkt = r.arena.data() + s.initial_off;
    if (fresh || before(s.first_ns, pkt, s.initial_len, v.start_ns, v.initial.data(), v.initial.size())) {
      v.start_ns = s.first_ns;
      v.initial.assign(pkt, pkt + s.initial_len);
      v.first_aport = s.first_aport;
      v.first_tport = s.first_tport;
      std::memcpy(v.continent, s.continent, 2);
      std::memcpy(v.country, s.country, 2);
    }
    v.latest_ns = std::max(v.latest_ns, s.latest_ns);
    v.packets += s.count;
    v.bytes += s.bytes;
    v.mismatches += s.mismatches;
  });
  r.items.for_each([&](const ItemSlot& s) {
    const uint64_t key = uint64_t{proto_rank(static_cast<uint8_t>(s.vec >> 32))} << 32 | (s.vec & 0xffffffffu);
    Vector& v = vectors_.at(key);
    const uint64_t value = s.value & ((uint64_t{1} << 56) - 1);
    switch (s.value >> 56) {
      case dos_detail::kBucket: v.buckets[value] += s.count; break;
      default: v.items[s.value >> 56].push_back(static_cast<uint32_t>(value)); break;
    }
  });
}

// Merges the items appended in this interval into the sorted ones, once
// each (a worker's are distinct, but several workers may have one).
void DosPlugin::unite(Vector& v) {
  for (int k = 0; k < 3; ++k) {
    std::vector<uint32_t>& x = v.items[k];
    if (v.sorted[k] == x.size()) continue;
    const auto mid = x.begin() + static_cast<std::ptrdiff_t>(v.sorted[k]);
    std::sort(mid, x.end());
    std::inplace_merge(x.begin(), mid, x.end());
    x.erase(std::unique(x.begin(), x.end()), x.end());
    v.sorted[k] = x.size();
  }
}

// corsaro3's max rate at the end of the interval starting at `start`: buckets
// before the first window that can still grow are dropped, then every
// window of rate_window_size seconds starting at a bucket is summed.
uint64_t DosPlugin::window_max(Vector& v, uint64_t start) const {
  const uint64_t keep = uint64_t{opt_.rate_window_size / opt_.rate_window_slide - 1} * opt_.rate_window_slide;
  const uint64_t prune = start > keep ? start - keep : 0;
  v.buckets.erase(v.buckets.begin(), v.buckets.lower_bound(prune));
  uint64_t best = 0, sum = 0;
  auto end = v.buckets.begin();
  for (auto b = v.buckets.begin(); b != v.buckets.end(); ++b) {
    while (end != v.buckets.end() && end->first < b->first + opt_.rate_window_size) sum += (end++)->second;
    best = std::max(best, sum);
    sum -= b->second;
  }
  return best;
}

std::vector<DosRecord> DosPlugin::merge_records(const IntervalInfo& iv,
                                                std::vector<std::unique_ptr<IntervalResult>>& results) {
  for (const auto& r : results) {
    if (!r) continue;
    const auto* dr = dynamic_cast<const DosResult*>(r.get());
    if (!dr) throw std::logic_error("dos merge: result of another plugin");
    fold(*dr);
  }
  results.clear();
  std::vector<DosRecord> out;
  for (auto it = vectors_.begin(); it != vectors_.end();) {
    Vector& v = it->second;
    if (v.latest_ns / 1000000000u < iv.start) {   // no packet in this interval: expired
      it = vectors_.erase(it);
      continue;
    }
    unite(v);
    v.max_rate = std::max(v.max_rate, window_max(v, iv.start));
    const uint64_t start_us = v.start_ns / 1000, latest_us = v.latest_ns / 1000;
    if (v.max_rate >= opt_.min_attack_packet_rate && v.packets >= opt_.min_attack_packets &&
        latest_us - start_us >= uint64_t{opt_.min_attack_duration} * 1000000) {
      DosRecord r;
      r.bin_timestamp = iv.start;
      r.target_ip = static_cast<uint32_t>(it->first);
      r.target_protocol = rank_proto(it->first >> 32);
      r.attacker_ip_cnt = v.items[dos_detail::kAttacker].size();
      r.attack_port_cnt = v.items[dos_detail::kAttackPort].size();
      r.target_port_cnt = v.items[dos_detail::kTargetPort].size();
      r.packet_cnt = v.packets;
      r.icmp_mismatches = v.mismatches;
      r.byte_cnt = v.bytes;
      r.max_ppm_interval = v.max_rate;
      r.start_time_sec = start_us / 1000000;
      r.start_time_usec = static_cast<uint32_t>(start_us % 1000000);
      r.latest_time_sec = latest_us / 1000000;
      r.latest_time_usec = static_cast<uint32_t>(latest_us % 1000000);
      r.first_attack_port = v.first_aport;
      r.first_target_port = v.first_tport;
      r.maxmind_continent = code(v.continent);
      r.maxmind_country = code(v.country);
      r.initial_packet = v.initial;
      out.push_back(std::move(r));
    }
    ++it;
  }
  return out;
}

void DosPlugin::encode(const DosRecord& r, AvroEncoder& enc, DosSchema schema) {
  enc.put_long(static_cast<int64_t>(r.bin_timestamp));
  enc.put_int(static_cast<int32_t>(r.initial_packet.size()));
  enc.put_long(r.target_ip);
  enc.put_int(r.target_protocol);
  for (uint64_t n : {r.attacker_ip_cnt, r.attack_port_cnt, r.target_port_cnt, r.packet_cnt, r.icmp_mismatches,
                     r.byte_cnt, r.max_ppm_interval, r.start_time_sec}) {
    enc.put_long(static_cast<int64_t>(n));
  }
  enc.put_int(static_cast<int32_t>(r.start_time_usec));
  enc.put_long(static_cast<int64_t>(r.latest_time_sec));
  enc.put_int(static_cast<int32_t>(r.latest_time_usec));
  enc.put_int(r.first_attack_port);
  enc.put_int(r.first_target_port);
  if (schema == DosSchema::latest) {
    enc.put_string(r.maxmind_continent);
    enc.put_string(r.maxmind_country);
  }
  enc.put_bytes(r.initial_packet.data(), r.initial_packet.size());
}

MergeStats DosPlugin::merge(const IntervalInfo& iv, std::vector<std::unique_ptr<IntervalResult>>& results) {
  if (!out_) throw std::logic_error("dos merge before open_outputs");
  const std::vector<DosRecord> records = merge_records(iv, results);
  for (const DosRecord& r : records) {
    enc_.clear();
    encode(r, enc_, opt_.schema);
    out_->append_encoded(enc_.data(), enc_.size());
  }
  MergeStats st;
  st.records = records.size();
  st.log_line = "dos: interval " + std::to_string(iv.start) + ".." + std::to_string(iv.end) +
                (iv.partial ? " (partial)" : "") + ": " + std::to_string(records.size()) + " attack vectors (" +
                std::to_string(vectors_.size()) + " tracked)";
  return st;
}

}  // namespace privateer
