#include "plugins/flowtuple/flowtuple.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <span>
#include <stdexcept>

#include "plugins/common/options.hpp"
#include "plugins/common/sorted_runs.hpp"

namespace privateer {
namespace {
constexpr uint8_t kTcp = 6, kUdp = 17, kIcmp = 1, kIcmp6 = 58;
constexpr uint8_t kSyn = 0x02;
}  // namespace

namespace ft_detail {
namespace {
inline uint64_t load_be64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return __builtin_bswap64(v);
}

inline void store_be64(uint8_t* p, uint64_t v) {
  v = __builtin_bswap64(v);
  std::memcpy(p, &v, 8);
}

}  // namespace

uint64_t Slot4::hash(const uint64_t* s) const {
  return hash_mum(w0 ^ s[0], w1 ^ s[1]) ^ hash_mum((w2 >> kValueBits) ^ s[2], s[3]);
}

uint64_t Slot6::hash(const uint64_t* s) const {
  const uint64_t a = hash_mum(src[0] ^ s[0], src[1] ^ s[1]);
  const uint64_t b = hash_mum(dst[0] ^ s[2], dst[1] ^ s[3]);
  const uint64_t c = hash_mum((w1 >> kValueBits) ^ s[1], w0 ^ s[2]);
  return hash_mum(a ^ c, b ^ s[0]);
}

}  // namespace ft_detail

using ft_detail::Slot4;
using ft_detail::Slot6;
using ft_detail::Table4;
using ft_detail::Table6;

void FlowtupleResult::release() {
  Table4 a(std::move(v4_));
  Table6 b(std::move(v6_));
  if (recycler_) {
    recycler_->t4.put(std::move(a));
    recycler_->t6.put(std::move(b));
  }
}

// ---------------------------------------------------------------- worker

FlowtupleWorker::FlowtupleWorker(uint32_t interval_seconds, bool ipv6)
    : interval_(interval_seconds),
      ipv6_(ipv6),
      span_ns_(static_cast<uint64_t>(interval_seconds) * 1000000000ULL),
      recycler_(std::make_shared<ft_detail::Recyclers>()) {
  if (interval_seconds == 0) throw std::invalid_argument("flowtuple: interval length must be > 0");
}

uint32_t FlowtupleWorker::time_index_slow(uint64_t ts_ns) {
  const uint64_t idx = ts_ns / 1000000000ULL / interval_;
  cur_lo_ns_ = idx * span_ns_;
  // Times beyond 2^32 intervals (past the year 2106 at 1 s intervals) saturate.
  cur_idx_ = idx > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(idx);
  return cur_idx_;
}

size_t FlowtupleWorker::next_capacity(size_t capacity, size_t used) {
  const size_t need = Table4::capacity_for(used);
  if (capacity > (size_t{1} << 20) && capacity > 4 * need) return 2 * need;
  return capacity;
}

void FlowtupleWorker::process(const PacketView* views, const uint8_t* const*, size_t n) {
  constexpr size_t kBatch = 32;
  Slot4 k4[kBatch];
  uint64_t h4[kBatch];
  Slot6 k6[kBatch];
  uint64_t h6[kBatch];

  for (size_t base = 0; base < n; base += kBatch) {
    const size_t m = std::min(kBatch, n - base);
    size_t n4 = 0, n6 = 0;
    // Pass 1: keys, hashes, prefetch of the home slots.
    for (size_t i = 0; i < m; ++i) {
      const PacketView& p = views[base + i];
      const uint8_t ver = p.ip_version;
      if (ver != 4 && (ver != 6 || !ipv6_)) continue;
      const uint16_t f = p.flags;
      const bool whole = !(f & pflag::later_fragment);
      const uint8_t proto = p.proto;
      const bool port_proto = proto == kTcp || proto == kUdp || proto == kIcmp ||
                              (ver == 6 && proto == kIcmp6);
      const bool ports = (f & pflag::has_ports) && whole && port_proto;
      const uint64_t sport = ports ? p.sport : 0;
      const uint64_t dport = ports ? p.dport : 0;
      const uint64_t flags =
          (proto == kTcp && (f & pflag::has_tcp_flags) && whole) ? p.tcp_flags : 0;
      uint64_t synlen = 0, synwin = 0;
      if (flags & kSyn) {
        synlen = p.tcp_hdr_len;
        synwin = (f & pflag::tcp_window) ? p.tcp_window : 0;
      }
      const uint64_t tidx = time_index(p.ts_ns);
      const uint64_t tags = ft_detail::PackedTags::pack(p);
      if (ver == 4) {
        Slot4& k = k4[n4];
        k = Slot4::make(static_cast<uint32_t>(tidx), proto, p.ttl, static_cast<uint8_t>(flags), p.src.v4,
                        p.dst.v4, static_cast<uint16_t>(sport), static_cast<uint16_t>(dport), p.ip_len,
                        static_cast<uint8_t>(synlen), static_cast<uint16_t>(synwin), tags);
        h4[n4] = t4_.hash(k);
        t4_.prefetch(h4[n4]);
        ++n4;
      } else {
        Slot6& k = k6[n6];
        k.w0 = tidx << 32 | static_cast<uint64_t>(proto) << 24 | static_cast<uint64_t>(p.ttl) << 16 |
               flags << 8;
        k.src[0] = ft_detail::load_be64(p.src.v6);
        k.src[1] = ft_detail::load_be64(p.src.v6 + 8);
        k.dst[0] = ft_detail::load_be64(p.dst.v6);
        k.dst[1] = ft_detail::load_be64(p.dst.v6 + 8);
        k.w1 = sport << 48 | dport << 32 | static_cast<uint64_t>(p.ip_len) << 16 | synlen << 8 | Slot6::tags_w1(tags);
        k.w2 = synwin << 48 | Slot6::tags_w2(tags);
        k.count = 0;
        h6[n6] = t6_.hash(k);
        t6_.prefetch(h6[n6]);
        ++n6;
      }
    }
    // Pass 2: count, in packet order (the first packet of a tuple sets its values).
    for (size_t j = 0; j < n4; ++j) t4_.add(k4[j], h4[j]);
    for (size_t j = 0; j < n6; ++j) t6_.add(k6[j], h6[j]);
  }
}

std::unique_ptr<IntervalResult> FlowtupleWorker::end_interval(uint64_t interval_start) {
  const size_t cap4 = next_capacity(t4_.capacity(), t4_.size());
  const size_t cap6 = next_capacity(t6_.capacity(), t6_.size());
  auto r = std::make_unique<FlowtupleResult>(interval_start, std::move(t4_), std::move(t6_), recycler_);
  t4_ = recycler_->t4.take(cap4);
  t6_ = recycler_->t6.take(cap6);
  return r;
}

// ---------------------------------------------------------------- plugin

namespace {

// Field order and types are corsaro3's flowtuple record (org.caida.corsaro.flowtuple),
// so existing corsaro3 consumers read the files unchanged.
const char* const kSchema4 = R"json({
  "type": "record",
  "namespace": "org.caida.corsaro",
  "name": "flowtuple",
  "doc": "Packets per distinct IPv4 flowtuple per interval (privateer; corsaro3 layout)",
  "fields": [
    {"name": "time", "type": "long"},
    {"name": "src_ip", "type": "long"},
    {"name": "dst_ip", "type": "long"},
    {"name": "src_port", "type": "int"},
    {"name": "dst_port", "type": "int"},
    {"name": "protocol", "type": "int"},
    {"name": "ttl", "type": "int"},
    {"name": "tcp_flags", "type": "int"},
    {"name": "ip_len", "type": "int"},
    {"name": "tcp_synlen", "type": "int"},
    {"name": "tcp_synwinlen", "type": "int"},
    {"name": "packet_cnt", "type": "long"},
    {"name": "is_spoofed", "type": "int"},
    {"name": "is_masscan", "type": "int"},
    {"name": "maxmind_continent", "type": "string"},
    {"name": "maxmind_country", "type": "string"},
    {"name": "netacq_continent", "type": "string"},
    {"name": "netacq_country", "type": "string"},
    {"name": "prefix2asn", "type": "long"}
  ]
})json";

const char* const kSchema6 = R"json({
  "type": "record",
  "namespace": "org.privateer",
  "name": "flowtuple6",
  "doc": "Packets per distinct IPv6 flowtuple per interval (fields as org.caida.corsaro.flowtuple)",
  "fields": [
    {"name": "time", "type": "long"},
    {"name": "src_ip", "type": {"type": "fixed", "name": "ipv6addr", "size": 16}},
    {"name": "dst_ip", "type": "ipv6addr"},
    {"name": "src_port", "type": "int"},
    {"name": "dst_port", "type": "int"},
    {"name": "protocol", "type": "int"},
    {"name": "ttl", "type": "int"},
    {"name": "tcp_flags", "type": "int"},
    {"name": "ip_len", "type": "int"},
    {"name": "tcp_synlen", "type": "int"},
    {"name": "tcp_synwinlen", "type": "int"},
    {"name": "packet_cnt", "type": "long"},
    {"name": "is_spoofed", "type": "int"},
    {"name": "is_masscan", "type": "int"},
    {"name": "maxmind_continent", "type": "string"},
    {"name": "maxmind_country", "type": "string"},
    {"name": "netacq_continent", "type": "string"},
    {"name": "netacq_country", "type": "string"},
    {"name": "prefix2asn", "type": "long"}
  ]
})json";

// The fields after packet_cnt from packed tags, written at p (at most
// 2 + 4 * 3 + 10 bytes); returns the end.
inline uint8_t* put_tags(uint8_t* p, uint64_t tags) {
  using ft_detail::PackedTags;
  *p++ = static_cast<uint8_t>(PackedTags::spoofed(tags) << 1);   // zigzag int 0 or 1
  *p++ = static_cast<uint8_t>(PackedTags::masscan(tags) << 1);
  *p++ = 4;   // string length 2
  PackedTags::continent(tags, reinterpret_cast<char*>(p));
  p += 2;
  *p++ = 4;
  PackedTags::country(tags, reinterpret_cast<char*>(p));
  p += 2;
  for (int i = 0; i < 2; ++i) {   // netacq continent, country
    *p++ = 4;
    *p++ = '?';
    *p++ = '?';
  }
  p += AvroEncoder::write_varint(p, AvroEncoder::zigzag64(PackedTags::asn(tags)));
  return p;
}

template <class R>
void fill_tags(R& r, uint64_t tags) {
  using ft_detail::PackedTags;
  r.is_spoofed = PackedTags::spoofed(tags);
  r.is_masscan = PackedTags::masscan(tags);
  char c[2];
  PackedTags::continent(tags, c);
  r.maxmind_continent.assign(c, 2);
  PackedTags::country(tags, c);
  r.maxmind_country.assign(c, 2);
  r.prefix2asn = PackedTags::asn(tags);
}

// A record's own tag fields packed (codes that are not two letters A-Z as unknown).
template <class R>
uint64_t record_tags(const R& r) {
  PacketView v;
  v.asn = r.prefix2asn;
  v.filter_summary = static_cast<uint8_t>((r.is_spoofed ? 1 : 0) | (r.is_masscan ? 8 : 0));
  for (int i = 0; i < 2; ++i) {
    v.country[i] = r.maxmind_country.size() == 2 ? r.maxmind_country[i] : '?';
    v.continent[i] = r.maxmind_continent.size() == 2 ? r.maxmind_continent[i] : '?';
  }
  return ft_detail::PackedTags::pack(v);
}

inline void encode_common_tail(AvroEncoder& enc, uint16_t sport, uint16_t dport, uint8_t proto, uint8_t ttl,
                               uint8_t flags, uint16_t ip_len, uint8_t synlen, uint16_t synwin,
                               uint64_t count, uint64_t tags) {
  enc.put_int(sport);
  enc.put_int(dport);
  enc.put_int(proto);
  enc.put_int(ttl);
  enc.put_int(flags);
  enc.put_int(ip_len);
  enc.put_int(synlen);
  enc.put_int(synwin);
  enc.put_long(static_cast<int64_t>(count));
  uint8_t buf[48];
  enc.put_raw(buf, static_cast<size_t>(put_tags(buf, tags) - buf));
}

FlowtupleRecord to_record(const Slot4& s, uint64_t count, uint32_t interval) {
  FlowtupleRecord r;
  r.time = uint64_t{s.time_index()} * interval;
  r.src_ip = s.src();
  r.dst_ip = s.dst();
  r.src_port = s.sport();
  r.dst_port = s.dport();
  r.protocol = s.proto();
  r.ttl = s.ttl();
  r.tcp_flags = s.tcp_flags();
  r.ip_len = s.ip_len();
  r.tcp_synlen = s.synlen();
  r.tcp_synwinlen = s.synwin();
  r.packet_cnt = count;
  fill_tags(r, s.tags);
  return r;
}

Flowtuple6Record to_record(const Slot6& s, uint64_t count, uint32_t interval) {
  Flowtuple6Record r;
  r.time = (s.w0 >> 32) * interval;
  ft_detail::store_be64(r.src_ip.data(), s.src[0]);
  ft_detail::store_be64(r.src_ip.data() + 8, s.src[1]);
  ft_detail::store_be64(r.dst_ip.data(), s.dst[0]);
  ft_detail::store_be64(r.dst_ip.data() + 8, s.dst[1]);
  r.protocol = static_cast<uint8_t>(s.w0 >> 24);
  r.ttl = static_cast<uint8_t>(s.w0 >> 16);
  r.tcp_flags = static_cast<uint8_t>(s.w0 >> 8);
  r.src_port = static_cast<uint16_t>(s.w1 >> 48);
  r.dst_port = static_cast<uint16_t>(s.w1 >> 32);
  r.ip_len = static_cast<uint16_t>(s.w1 >> 16);
  r.tcp_synlen = static_cast<uint8_t>(s.w1 >> 8);
  r.tcp_synwinlen = static_cast<uint16_t>(s.w2 >> 48);
  r.packet_cnt = count;
  fill_tags(r, s.tags());
  return r;
}

}  // namespace

FlowtuplePlugin::FlowtuplePlugin(const YAML::Node& options, const std::string& path,
                                 uint32_t interval_seconds)
    : interval_(interval_seconds), enc_(256) {
  const std::string p = path.empty() ? std::string("plugins.flowtuple") : path;
  if (interval_seconds == 0) throw ConfigError(p, yaml_line(options), "interval length must be > 0");
  if (!options.IsDefined() || options.IsNull()) return;
  reject_unknown_keys(options, p, {"ipv6", "avrooutput", "usesnappy", "sorttuples", "mergethreads"});
  if (auto v = get_onoff(options, p, "ipv6")) ipv6_ = *v;
  const auto line = [&](const char* k) { return std::to_string(yaml_line(options[k])); };
  if (auto v = get_opt<std::string>(options, p, "avrooutput")) {
    std::string s = *v;
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (s == "none") {
      write_file_ = false;
      warnings_.push_back(p + ".avrooutput (line " + line("avrooutput") +
                          "): none: no flowtuple file is written (corsaro3 then publishes flowtuples to "
                          "Kafka, which is not built here)");
    } else if (const auto c = parse_codec(s)) {
      stream_options_.codec = *c;
    } else {
      throw ConfigError(join_key(p, "avrooutput"), yaml_line(options["avrooutput"]),
                        "must be deflate, snappy or none (or zstandard, null), got '" + *v + "'");
    }
  }
  if (auto v = get_onoff(options, p, "usesnappy")) {
    if (options["avrooutput"].IsDefined()) {
      throw ConfigError(join_key(p, "usesnappy"), yaml_line(options["usesnappy"]),
                        "conflicts with avrooutput (line " + line("avrooutput") + "): set only one");
    }
    if (*v) stream_options_.codec = AvroCodec::snappy;
  }
  if (stream_options_.codec && *stream_options_.codec != AvroCodec::deflate) {
    const char* key = options["usesnappy"].IsDefined() ? "usesnappy" : "avrooutput";
    warnings_.push_back(p + "." + key + " (line " + line(key) + "): writes " +
                        (*stream_options_.codec == AvroCodec::snappy ? "snappy" : "non-deflate") +
                        " files: corsaro3 readers (pyavro-stardust) read only deflate files");
  }
  if (auto v = get_onoff(options, p, "sorttuples"); v && !*v) {
    warnings_.push_back(p + ".sorttuples (line " + line("sorttuples") +
                        "): no: the output is sorted anyway (in corsaro3's order), so that it is the same "
                        "for any number of workers");
  }
  if (options["mergethreads"].IsDefined()) {
    get_opt<uint32_t>(options, p, "mergethreads");   // checked, no effect
    warnings_.push_back(p + ".mergethreads (line " + line("mergethreads") +
                        ") is ignored: merge tasks run on the output threads (output.threads)");
  }
}

const std::string& FlowtuplePlugin::schema_json() {
  static const std::string s = kSchema4;
  return s;
}

const std::string& FlowtuplePlugin::schema6_json() {
  static const std::string s = kSchema6;
  return s;
}

const std::string& FlowtuplePlugin::name() const {
  static const std::string n = "flowtuple";
  return n;
}

void FlowtuplePlugin::open_outputs(OutputProvider& out) {
  opened_ = true;
  if (!write_file_) return;
  out4_ = &out.avro_stream(kStream, schema_json(), stream_options_);
  if (ipv6_) out6_ = &out.avro_stream(kStream6, schema6_json(), stream_options_);
}

std::unique_ptr<WorkerProcessor> FlowtuplePlugin::make_worker(unsigned) {
  return std::make_unique<FlowtupleWorker>(interval_, ipv6_);
}

void FlowtuplePlugin::encode(const FlowtupleRecord& r, AvroEncoder& enc) {
  enc.put_long(static_cast<int64_t>(r.time));
  enc.put_long(r.src_ip);
  enc.put_long(r.dst_ip);
  encode_common_tail(enc, r.src_port, r.dst_port, r.protocol, r.ttl, r.tcp_flags, r.ip_len,
                     r.tcp_synlen, r.tcp_synwinlen, r.packet_cnt, record_tags(r));
}

void FlowtuplePlugin::encode(const Flowtuple6Record& r, AvroEncoder& enc) {
  enc.put_long(static_cast<int64_t>(r.time));
  enc.put_fixed(r.src_ip.data(), 16);
  enc.put_fixed(r.dst_ip.data(), 16);
  encode_common_tail(enc, r.src_port, r.dst_port, r.protocol, r.ttl, r.tcp_flags, r.ip_len,
                     r.tcp_synlen, r.tcp_synwinlen, r.packet_cnt, record_tags(r));
}

// Sorts every worker's IPv4 entries inside its table (compacted to the
// front; the tables stay in pending_ until emit4()), copies the IPv6 entries
// into buf6_ (draining those tables) and sorts them. No memory the size of
// the IPv4 entries is allocated: fresh memory costs more in page faults than
// the sort itself.
void FlowtuplePlugin::gather(std::vector<std::unique_ptr<IntervalResult>>& results) {
  size_t n6 = 0;
  pending_.clear();
  for (auto& r : results) {
    if (!r) continue;
    auto* fr = dynamic_cast<FlowtupleResult*>(r.get());
    if (!fr) throw std::logic_error("flowtuple merge: result of another plugin");
    pending_.push_back(fr);
    n6 += fr->v6().size();
  }
  buf6_.clear();
  if (buf6_.capacity() > (size_t{1} << 16) && buf6_.capacity() > 4 * n6) buf6_.shrink_to_fit();
  buf6_.reserve(n6);
  for (FlowtupleResult* fr : pending_) {
    fr->v6().drain([&](const Slot6& s) { buf6_.push_back(s); });
  }
  std::sort(buf6_.begin(), buf6_.end(), [](const Slot6& a, const Slot6& b) { return key_less(a, b); });

  for (FlowtupleResult* fr : pending_) {
    const size_t n = fr->v4().size();
    Slot4* a = fr->v4().compact();
    radix_sort_parallel(a, n, runner_);
  }
}

template <class F>
void FlowtuplePlugin::emit4(F&& f) {
  // Each worker's keys are distinct; equal keys from different workers come
  // out of the merge adjacent, the one with the smallest values first.
  std::vector<SortedRun<Slot4>> runs;
  for (FlowtupleResult* fr : pending_) {
    Slot4* a = const_cast<Slot4*>(fr->v4().slots());
    runs.push_back({a, a + fr->v4().size()});
  }
  drain_sorted_runs(std::span<SortedRun<Slot4>>(runs), f);
  for (FlowtupleResult* fr : pending_) {
    fr->v4().mark_emptied();
    fr->release();   // the emptied tables go back to their worker
  }
  pending_.clear();
}

FlowtupleMerged FlowtuplePlugin::merge_records(std::vector<std::unique_ptr<IntervalResult>>& results) {
  gather(results);
  size_t n4 = 0;
  for (FlowtupleResult* fr : pending_) n4 += fr->v4().size();
  FlowtupleMerged m;
  m.v4.reserve(n4);
  emit4([&](const Slot4& s, uint64_t c) { m.v4.push_back(to_record(s, c, interval_)); });
  for_each_summed(buf6_.data(), buf6_.size(),
                  [&](const Slot6& s, uint64_t c) { m.v6.push_back(to_record(s, c, interval_)); });
  return m;
}

MergeStats FlowtuplePlugin::merge(const IntervalInfo&, std::vector<std::unique_ptr<IntervalResult>>& results) {
  if (!opened_) throw std::logic_error("flowtuple merge before open_outputs");
  if (!out4_) {   // avrooutput: none
    for (auto& r : results) {
      auto* fr = dynamic_cast<FlowtupleResult*>(r.get());
      if (!fr) continue;
      fr->v4().drain([](const Slot4&) {});   // emptied, so that the worker reuses them
      fr->v6().drain([](const Slot6&) {});
      fr->release();
    }
    return {};
  }
  gather(results);
  MergeStats st;
  AvroStream& o4 = *out4_;
  const uint64_t interval = interval_;
  emit4([&](const Slot4& s, uint64_t c) {
    // At most 12 * 10 bytes before the tags (24 at most).
    uint8_t buf[160];
    uint8_t* p = buf;
    auto put = [&p](uint64_t v) { p += AvroEncoder::write_varint(p, AvroEncoder::zigzag64(static_cast<int64_t>(v))); };
    put(uint64_t{s.time_index()} * interval);
    put(s.src());
    put(s.dst());
    put(s.sport());
    put(s.dport());
    put(s.proto());
    put(s.ttl());
    put(s.tcp_flags());
    put(s.ip_len());
    put(s.synlen());
    put(s.synwin());
    put(c);
    p = put_tags(p, s.tags);
    o4.append_encoded(buf, static_cast<size_t>(p - buf));
    ++st.records;
  });
  if (!out6_) return st;   // the workers counted no IPv6 packet
  AvroEncoder& enc = enc_;
  AvroStream& o6 = *out6_;
  for_each_summed(buf6_.data(), buf6_.size(), [&](const Slot6& s, uint64_t c) {
    enc.clear();
    encode(to_record(s, c, interval_), enc);
    o6.append_encoded(enc.data(), enc.size());
    ++st.records;
  });
  return st;
}

}  // namespace privateer
