#include "plugins/report/report.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>
#include <unordered_map>

#include "dataplane/filters.hpp"
#include "plugins/common/flat_table.hpp"
#include "plugins/common/hll.hpp"
#include "plugins/report/report_uniq.hpp"

namespace privateer {

using namespace report_detail;

namespace {

constexpr char kSchema[] =
    R"({"type": "record", "namespace": "org.caida.corsaro", "name": "report", )"
    R"("doc": "A Corsaro report result containing statistics describing the range of traffic that was assigned to each supported tag by corsarotrace.", )"
    R"("fields": [)"
    R"({"name": "bin_timestamp", "type": "long"}, )"
    R"({"name": "source_label", "type": "string"}, )"
    R"({"name": "metric_name", "type": "string"}, )"
    R"({"name": "metric_value", "type": "string"}, )"
    R"({"name": "src_ip_cnt", "type": "long"}, )"
    R"({"name": "dest_ip_cnt", "type": "long"}, )"
    R"({"name": "pkt_cnt", "type": "long"}, )"
    R"({"name": "byte_cnt", "type": "long"}, )"
    R"({"name": "src_asn_cnt", "type": "long"}]})";

// Built-in filters reported as filter-criteria: ids abnormal_protocol .. not_ip.
constexpr uint32_t kFirstFilter = builtin::abnormal_protocol;
constexpr uint32_t kEndFilter = builtin::not_ip + 1;
const char* const kFilterNames[kEndFilter - kFirstFilter] = {
    "non-spoofed.abnormal-protocol", "non-spoofed.ttl-200", "scan.no-tcp-options", "scan.tcp-win-1024",
    "non-spoofed.fragmented-v2", "non-spoofed.last-byte-src-0", "non-spoofed.last-byte-src-255",
    "non-spoofed.same-src-dst", "non-spoofed.udp-port-0", "non-spoofed.tcp-port-0",
    "non-spoofed.udp-destport-80", "non-routed.rfc5735", "non-erratic.backscatter", "non-erratic.bittorrent",
    "non-erratic.udp-0x31", "non-erratic.sip-status", "non-erratic.udp-ip-len-96",
    "non-erratic.udp-ip-len-1500", "non-erratic.port-53", "non-erratic.tcp-port-23",
    "non-erratic.tcp-port-80", "non-erratic.tcp-port-5000", "non-erratic.dns-resp-non-standard-v2",
    "non-erratic.netbios-query-name", "not-ip"};

const uint32_t kPortClass[4] = {kTcpSrcPort, kTcpDstPort, kUdpSrcPort, kUdpDstPort};

std::string letters(uint32_t v) { return {static_cast<char>(v & 0xff), static_cast<char>((v >> 8) & 0xff)}; }

// Packets and bytes per metric id.
struct CountSlot {
  uint64_t metric;
  uint64_t bytes;
  uint64_t count;
  bool same_key(const CountSlot& o) const { return metric == o.metric; }
  uint64_t hash(const uint64_t* seed) const { return hash_mum(metric ^ seed[0], seed[1]); }
};

// One member of a metric's set of `kind` (0 source IP, 1 destination IP, 2
// source ASN); with uniq: hll, `item` is a register and `rank` its value.
struct UniqSlot {
  uint64_t metric;
  uint32_t item;
  uint8_t kind;
  uint8_t rank;
  uint32_t count;
  bool same_key(const UniqSlot& o) const { return metric == o.metric && item == o.item && kind == o.kind; }
  uint64_t hash(const uint64_t* seed) const {
    return hash_mum(metric ^ seed[0], (uint64_t{item} << 8 | kind) ^ seed[1]);
  }
};

struct ReportResult : IntervalResult {
  FlatTable<CountSlot> counts;
  FlatTable<UniqSlot> uniq;
  std::vector<MaskRec> masks;
  std::vector<PairKey> pairs;
  ReportResult(FlatTable<CountSlot>&& c, FlatTable<UniqSlot>&& u, std::vector<MaskRec>&& m, std::vector<PairKey>&& p)
      : counts(std::move(c)), uniq(std::move(u)), masks(std::move(m)), pairs(std::move(p)) {}
};

class ReportWorker : public WorkerProcessor {
 public:
  explicit ReportWorker(const ReportOptions& o) : opt_(o) {}

  void process(const PacketView* views, const uint8_t* const*, size_t n) override {
    for (size_t i = 0; i < n; ++i) packet(views[i]);
  }

  std::unique_ptr<IntervalResult> end_interval(uint64_t) override {
    auto r = std::make_unique<ReportResult>(std::move(counts_), std::move(uniq_), std::move(masks_), std::move(pairs_));
    pairs_ = {};
    pairs_.reserve(r->pairs.size());
    recent_.fill(0);
    recent_mask_.fill(MaskRec{0, 0});
    counts_ = FlatTable<CountSlot>(FlatTable<CountSlot>::capacity_for(r->counts.size()));
    uniq_ = FlatTable<UniqSlot>(FlatTable<UniqSlot>::capacity_for(r->uniq.size()));
    masks_ = {};
    masks_.reserve(r->masks.size());
    return r;
  }

 private:
  void packet(const PacketView& v) {
    if (v.ip_version != 4) return;
    uint64_t ids[8 + (kEndFilter - kFirstFilter)];
    size_t k = 0;
    const auto add = [&](uint32_t cls, uint32_t value) {
      if (opt_.allows(cls)) ids[k++] = metric_id(cls, value);
    };
    add(kCombined, 0);
    add(kIpProtocol, v.proto);
    if (opt_.allows(kFilterCriteria)) {
      for (uint32_t b = kFirstFilter; b < kEndFilter; ++b) {
        if ((v.filter_bits >> b) & 1) ids[k++] = metric_id(kFilterCriteria, b);
      }
    }
    const bool ports = (v.flags & pflag::has_ports) && !(v.flags & pflag::later_fragment);
    const uint16_t sport = ports ? v.sport : 0, dport = ports ? v.dport : 0;
    if (v.proto == 1) {
      add(kIcmpTypeCode, (uint32_t{sport & 0xffu} << 8) | (dport & 0xffu));
    } else if (v.proto == 6 || v.proto == 17) {
      const size_t c = v.proto == 6 ? 0 : 2;
      if (opt_.ports[c].test(sport)) add(kPortClass[c], sport);
      if (opt_.ports[c + 1].test(dport)) add(kPortClass[c + 1], dport);
    }
    if (opt_.maxmind) {
      const uint32_t cont = code2(v.continent);
      add(kMaxmindContinent, cont);
      add(kMaxmindCountry, code2(v.country) | (cont << 16));
    }
    if (opt_.pfx2as) add(kPrefixAsn, v.asn);
    uint64_t mask = 0;
    for (size_t j = 0; j < k; ++j) {
      CountSlot c{ids[j], 0, 0};
      bool inserted;
      CountSlot& s = counts_.find_or_insert(c, counts_.hash(c), inserted);
      if (!inserted) ++s.count;
      s.bytes += v.ip_len;
      if (const int b = opt_.hll ? -1 : mask_bit(ids[j]); b >= 0) {
        mask |= uint64_t{1} << b;
        continue;
      }
      if (!opt_.hll && is_port_metric(ids[j])) {
        const uint64_t at = ((ids[j] >> 32) - kFirstPortClass) << 50 | (ids[j] & 0xffff) << 34;
        pair(at, v.src.v4);
        pair(at | uint64_t{1} << 32, v.dst.v4);
        if (v.asn != 0) pair(at | uint64_t{2} << 32, v.asn);
        continue;
      }
      member(ids[j], v.src.v4, 0);
      member(ids[j], v.dst.v4, 1);
      if (v.asn != 0) member(ids[j], v.asn, 2);
    }
    if (mask) {
      add_mask(v.src.v4, 0, mask);
      add_mask(v.dst.v4, 1, mask);
      if (v.asn != 0) add_mask(v.asn, 2, mask);
    }
  }

  // Appends a port metric's member; a repeat of one of the last members
  // that hashed to the same place (a scanner's next packet) is skipped.
  void pair(uint64_t at, uint32_t item) {
    const uint64_t key = at | item;
    uint64_t& r = recent_[(key * 0x9E3779B97F4A7C15ull) >> (64 - 12)];
    if (r == key + 1) return;
    r = key + 1;
    pairs_.push_back(PairKey{key});
  }

  // Appends an address's mask; the same address with the same mask as one
  // of the last that hashed to the same place is skipped.
  void add_mask(uint32_t item, uint64_t kind, uint64_t mask) {
    const uint64_t key = kind << 32 | item;
    MaskRec& r = recent_mask_[((key ^ mask) * 0x9E3779B97F4A7C15ull) >> (64 - 12)];
    if (r.key == key + 1 && r.mask == mask) return;
    r = MaskRec{key + 1, mask};
    masks_.push_back(MaskRec{key, mask});
  }

  void member(uint64_t metric, uint32_t item, uint8_t kind) {
    if (!opt_.hll) {
      const UniqSlot u{metric, item, kind, 0, 0};
      uniq_.add(u, uniq_.hash(u));
      return;
    }
    const HllPlace p = hll_place(uint64_t{item} | (uint64_t{kind} << 32));
    const UniqSlot u{metric, p.reg, kind, p.rank, 0};
    bool inserted;
    UniqSlot& s = uniq_.find_or_insert(u, uniq_.hash(u), inserted);
    s.rank = std::max(s.rank, p.rank);
  }

  const ReportOptions& opt_;
  FlatTable<CountSlot> counts_;
  FlatTable<UniqSlot> uniq_;
  std::vector<MaskRec> masks_;
  std::vector<PairKey> pairs_;
  std::array<uint64_t, 4096> recent_{};         // key + 1 of recent pairs (0: none)
  std::array<MaskRec, 4096> recent_mask_{};     // key + 1 and mask of recent masks
};

// Every worker's records of one kind in the first worker's array.
template <class T>
std::vector<T>& gather(const std::vector<ReportResult*>& rs, std::vector<T> ReportResult::*member) {
  std::vector<T>& all = rs[0]->*member;
  for (size_t w = 1; w < rs.size(); ++w) {
    all.insert(all.end(), (rs[w]->*member).begin(), (rs[w]->*member).end());
    std::vector<T>().swap(rs[w]->*member);
  }
  return all;
}

}  // namespace

namespace report_detail {

std::string metric_name(uint64_t id) {
  const uint32_t v = static_cast<uint32_t>(id);
  switch (id >> 32) {
    case kCombined: return "overall";
    case kIpProtocol: return "traffic.protocol";
    case kIcmpTypeCode: return "traffic.icmp";
    case kTcpSrcPort: return "traffic.port.tcp.src_port";
    case kTcpDstPort: return "traffic.port.tcp.dst_port";
    case kUdpSrcPort: return "traffic.port.udp.src_port";
    case kUdpDstPort: return "traffic.port.udp.dst_port";
    case kMaxmindContinent: return "geo.maxmind";
    case kMaxmindCountry: return "geo.maxmind." + letters(v >> 16);
    case kPrefixAsn: return "routing.asn";
    case kFilterCriteria: return "filter-criteria";
  }
  return "unknown";
}

std::string metric_value(uint64_t id) {
  const uint32_t v = static_cast<uint32_t>(id);
  switch (id >> 32) {
    case kCombined: return "";
    case kIcmpTypeCode: return "type." + std::to_string(v >> 8) + ".code." + std::to_string(v & 0xff);
    case kMaxmindContinent:
    case kMaxmindCountry: return letters(v);
    case kFilterCriteria:
      return v >= kFirstFilter && v < kEndFilter ? kFilterNames[v - kFirstFilter] : "unexpected";
  }
  return std::to_string(v);
}

}  // namespace report_detail

const std::string& ReportPlugin::name() const {
  static const std::string n = "report";
  return n;
}

const std::string& ReportPlugin::schema_json() {
  static const std::string s = kSchema;
  return s;
}

void ReportPlugin::open_outputs(OutputProvider& out) {
  if (opt_.timeseries) ts_ = &out.timeseries();
  else stream_ = &out.avro_stream("report", schema_json(), AvroStreamOptions{});
}

std::unique_ptr<WorkerProcessor> ReportPlugin::make_worker(unsigned) {
  return std::make_unique<ReportWorker>(opt_);
}

void ReportPlugin::add_zero_rows(uint64_t seen, std::vector<uint64_t>& ids) const {
  const auto want = [&](uint32_t cls) { return opt_.allows(cls) && ((seen >> cls) & 1); };
  if (opt_.allows(kCombined)) ids.push_back(metric_id(kCombined, 0));
  if (want(kIpProtocol)) {
    for (uint32_t i = 0; i < 256; ++i) ids.push_back(metric_id(kIpProtocol, i));
  }
  for (int c = 0; c < 4; ++c) {
    if (!want(kPortClass[c])) continue;
    for (uint32_t i = 0; i < 65536; ++i) {
      if (opt_.ports[c].test(i)) ids.push_back(metric_id(kPortClass[c], i));
    }
  }
  if (want(kMaxmindContinent)) {
    for (const char* c : kContinents) ids.push_back(metric_id(kMaxmindContinent, code2(c)));
  }
  if (want(kMaxmindCountry)) {
    for (uint32_t v : countries_) ids.push_back(metric_id(kMaxmindCountry, v));
  }
}

MergeStats ReportPlugin::merge(const IntervalInfo& iv, std::vector<std::unique_ptr<IntervalResult>>& results) {
  if (!stream_ && !ts_) throw std::logic_error("report merge before open_outputs");
  std::vector<ReportResult*> rs;
  for (auto& r : results) {
    if (r) rs.push_back(static_cast<ReportResult*>(r.get()));
  }
  // Workers' tables summed into the biggest ones (fewer growths), read in
  // scattered order (see FlatTable::for_each_scattered).
  if (rs.size() > 1) {
    std::swap(rs[0], *std::max_element(rs.begin(), rs.end(), [](const ReportResult* a, const ReportResult* b) {
      return a->uniq.capacity() < b->uniq.capacity();
    }));
    std::swap(rs[0]->counts,
              std::max_element(rs.begin(), rs.end(), [](const ReportResult* a, const ReportResult* b) {
                return a->counts.capacity() < b->counts.capacity();
              }) [0]->counts);
    FlatTable<CountSlot>& counts = rs[0]->counts;
    FlatTable<UniqSlot>& uniq = rs[0]->uniq;
    for (size_t w = 1; w < rs.size(); ++w) {
      rs[w]->counts.for_each_scattered([&](const CountSlot& c) {
        bool inserted;
        CountSlot& s = counts.find_or_insert(c, counts.hash(c), inserted);
        if (!inserted) {
          s.count += c.count;
          s.bytes += c.bytes;
        } else {
          s.count = c.count;
        }
      });
      rs[w]->uniq.for_each_scattered([&](const UniqSlot& u) {
        bool inserted;
        UniqSlot& s = uniq.find_or_insert(u, uniq.hash(u), inserted);
        s.rank = std::max(s.rank, u.rank);
      });
    }
  }
  std::vector<ReportRow> rows;
  std::unordered_map<uint64_t, size_t> index;
  uint64_t seen = 0;
  if (!rs.empty()) {
    rows.reserve(rs[0]->counts.size());
    rs[0]->counts.for_each([&](const CountSlot& c) {
      index.emplace(c.metric, rows.size());
      rows.push_back(ReportRow{c.metric, c.count, c.bytes, 0, 0, 0});
      seen |= uint64_t{1} << (c.metric >> 32);
      if ((c.metric >> 32) == kMaxmindCountry) countries_.insert(static_cast<uint32_t>(c.metric));
    });
  }
  if (iv.partial && !opt_.partial) return {};
  if (!rs.empty()) {
    if (!opt_.hll) {
      rs[0]->uniq.for_each([&](const UniqSlot& u) {
        ReportRow& r = rows[index.at(u.metric)];
        (u.kind == 0 ? r.src_ip_cnt : u.kind == 1 ? r.dest_ip_cnt : r.src_asn_cnt) += 1;
      });
      count_masks(gather(rs, &ReportResult::masks), rows, index, runner_);
      count_pairs(gather(rs, &ReportResult::pairs), rows, index, runner_);
    } else {
      std::vector<std::array<HllEstimator, 3>> est(rows.size());
      rs[0]->uniq.for_each([&](const UniqSlot& u) { est[index.at(u.metric)][u.kind].add_register(u.rank); });
      for (size_t i = 0; i < rows.size(); ++i) {
        rows[i].src_ip_cnt = est[i][0].estimate();
        rows[i].dest_ip_cnt = est[i][1].estimate();
        rows[i].src_asn_cnt = est[i][2].estimate();
      }
    }
  }
  std::vector<uint64_t> zeros;
  add_zero_rows(seen, zeros);
  for (uint64_t id : zeros) {
    if (index.emplace(id, rows.size()).second) rows.push_back(ReportRow{id, 0, 0, 0, 0, 0});
  }
  std::sort(rows.begin(), rows.end(), [](const ReportRow& a, const ReportRow& b) { return a.metric < b.metric; });
  write(iv, rows);
  MergeStats st;
  st.records = rows.size();
  if (ts_ && ts_->sinks() == 0) {
    st.log_line = "report: output_format libtimeseries without libtimeseriesbackends: the " +
                  std::to_string(rows.size()) + " rows of interval " + std::to_string(iv.start) + " go nowhere";
  }
  return st;
}

void ReportPlugin::write(const IntervalInfo& iv, const std::vector<ReportRow>& rows) {
  if (ts_) {
    std::vector<TimeseriesRow> out;
    out.reserve(rows.size());
    for (const ReportRow& r : rows) {
      out.push_back(TimeseriesRow{metric_name(r.metric), metric_value(r.metric), r.src_ip_cnt, r.dest_ip_cnt,
                                  r.src_asn_cnt, r.pkt_cnt, r.byte_cnt});
    }
    ts_->write_interval(opt_.label, iv.start, std::move(out));
    return;
  }
  for (const ReportRow& r : rows) {
    enc_.clear();
    enc_.put_long(static_cast<int64_t>(iv.start));
    enc_.put_string(opt_.label);
    enc_.put_string(metric_name(r.metric));
    enc_.put_string(metric_value(r.metric));
    enc_.put_long(static_cast<int64_t>(r.src_ip_cnt));
    enc_.put_long(static_cast<int64_t>(r.dest_ip_cnt));
    enc_.put_long(static_cast<int64_t>(r.pkt_cnt));
    enc_.put_long(static_cast<int64_t>(r.byte_cnt));
    enc_.put_long(static_cast<int64_t>(r.src_asn_cnt));
    stream_->append_encoded(enc_.data(), enc_.size());
  }
}

}  // namespace privateer
