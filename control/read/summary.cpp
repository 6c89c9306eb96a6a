// --summary: per file, then per interval (the `time`, `bin_timestamp` or
// `timestamp` field, whichever the schema has), the records, the packets
// (`packet_cnt`, `packets` or `pkt_cnt`), the bytes (`byte_cnt` or `bytes`;
// for flowtuples, whose ip_len is part of the tuple, ip_len x packet_cnt),
// and the top 10 sources (`src_ip`, else `target_ip`: dos records name the
// victim whose backscatter is seen) and destination ports (`dst_port`) by
// packets (by records where there is no packet field), ties by the smaller
// value. Records with a `metric_name` (corsaro3's report) count packets and
// bytes from the "overall" metric only: every other metric counts the same
// packets again. Lines are logfmt:
//
//   file=F schema=NAME codec=C records=N packets=P bytes=B intervals=I
//   interval=T records=N packets=P bytes=B
//   top_src_ip rank=1 value=44.0.0.1 packets=P
//   top_dst_port rank=1 value=23 packets=P
#include <algorithm>
#include <map>
#include <unordered_map>
#include <vector>

#include "control/read/printers.hpp"

namespace privateer::read {
namespace {

constexpr size_t kTop = 10;

struct SourceKey {
  uint64_t hi = 0, lo = 0;
  bool v6 = false;   // a 16-byte address (else a number)
  bool operator==(const SourceKey&) const = default;
  bool operator<(const SourceKey& o) const {   // numbers as signed, addresses as unsigned
    if (v6 != o.v6) return v6 < o.v6;
    if (!v6) return static_cast<int64_t>(lo) < static_cast<int64_t>(o.lo);
    return hi != o.hi ? hi < o.hi : lo < o.lo;
  }
};
struct SourceHash {
  size_t operator()(const SourceKey& k) const {
    uint64_t h = (k.hi * 0x9e3779b97f4a7c15ull) ^ (k.lo + (k.v6 ? 0x632be59bd9b4e019ull : 0));
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    return static_cast<size_t>(h ^ (h >> 32));
  }
};

// Sums of 64-bit fields, exact (a corrupt or odd file must not wrap them).
using Sum = __int128;

struct Totals {
  uint64_t records = 0;
  Sum packets = 0, bytes = 0;
};
struct Interval : Totals {
  std::unordered_map<SourceKey, Sum, SourceHash> sources;
  std::unordered_map<int64_t, Sum> ports;
};

int first_field(const RecordDecoder& dec, std::initializer_list<const char*> names) {
  for (const char* n : names) {
    if (int k = dec.find(n); k >= 0) return k;
  }
  return -1;
}

bool integer(const AvroValue& v) { return v.kind == AvroKind::int32 || v.kind == AvroKind::int64; }
uint64_t be64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

class SummaryPrinter : public Printer {
 public:
  explicit SummaryPrinter(Out& out) : out_(out) {}

  void begin_file(const std::string& path, AvroCodec codec, const RecordDecoder& dec) override {
    path_ = path;
    codec_ = codec;
    schema_ = dec.schema().root_node().name.empty() ? kind_name(dec.schema().root_node().kind)
                                                    : dec.schema().root_node().name;
    time_ = first_field(dec, {"time", "bin_timestamp", "timestamp"});
    packets_ = first_field(dec, {"packet_cnt", "packets", "pkt_cnt"});
    bytes_ = first_field(dec, {"byte_cnt", "bytes"});
    ip_len_ = bytes_ < 0 && packets_ >= 0 ? dec.find("ip_len") : -1;
    src_ = first_field(dec, {"src_ip", "target_ip"});
    src_name_ = src_ >= 0 ? dec.field_name(static_cast<size_t>(src_)) : "";
    port_ = dec.find("dst_port");
    metric_ = dec.find("metric_name");
    intervals_.clear();
    cur_ = nullptr;
  }

  void record(const AvroValue* v) override {
    const int64_t t = time_ >= 0 && integer(v[time_]) ? v[time_].i : 0;
    if (!cur_ || t != cur_time_) {   // records of one interval mostly come together
      cur_ = &intervals_[t];
      cur_time_ = t;
    }
    Interval& iv = *cur_;
    ++iv.records;
    const Sum pk = packets_ >= 0 && integer(v[packets_]) ? v[packets_].i : 1;
    const AvroValue* m = metric_ >= 0 ? &v[metric_] : nullptr;
    const bool counts = !m || (m->kind == AvroKind::string && std::string_view(reinterpret_cast<const char*>(m->p), m->n) == "overall");
    if (counts) {
      iv.packets += pk;
      if (bytes_ >= 0 && integer(v[bytes_])) iv.bytes += v[bytes_].i;
      if (ip_len_ >= 0 && integer(v[ip_len_])) iv.bytes += Sum{v[ip_len_].i} * pk;
    }
    if (src_ >= 0) {
      const AvroValue& s = v[src_];
      SourceKey k;
      bool ok = true;
      if (integer(s)) {
        k.lo = static_cast<uint64_t>(s.i);
      } else if (s.kind == AvroKind::fixed && s.n == 16) {
        k.hi = be64(s.p);
        k.lo = be64(s.p + 8);
        k.v6 = true;
      } else {
        ok = false;
      }
      if (ok) iv.sources[k] += pk;
    }
    if (port_ >= 0 && integer(v[port_])) iv.ports[v[port_].i] += pk;
  }

  void end_file() override {
    Totals all;
    for (const auto& [t, iv] : intervals_) {
      all.records += iv.records;
      all.packets += iv.packets;
      all.bytes += iv.bytes;
    }
    out_.put("file=");
    out_.put_logfmt_string(reinterpret_cast<const uint8_t*>(path_.data()), path_.size());
    out_.put(" schema=");
    out_.put_logfmt_string(reinterpret_cast<const uint8_t*>(schema_.data()), schema_.size());
    out_.put(" codec=");
    out_.put(codec_name(codec_));
    put_totals(all);
    out_.put(" intervals=");
    out_.put_uint(intervals_.size());
    out_.put('\n');
    for (const auto& [t, iv] : intervals_) {
      out_.put("interval=");
      if (time_ >= 0) out_.put_int(t);
      else out_.put("all");
      put_totals(iv);
      out_.put('\n');
      if (src_ >= 0) put_top(iv.sources, "top_" + src_name_);
      if (port_ >= 0) put_top(iv.ports, "top_dst_port");
      out_.maybe_flush();
    }
    intervals_.clear();
    cur_ = nullptr;
  }

 private:
  void put_totals(const Totals& t) {
    out_.put(" records=");
    out_.put_uint(t.records);
    if (packets_ >= 0) {
      out_.put(" packets=");
      put_sum(t.packets);
    }
    if (bytes_ >= 0 || ip_len_ >= 0) {
      out_.put(" bytes=");
      put_sum(t.bytes);
    }
  }

  void put_sum(Sum v) {
    char t[48];
    int n = 0;
    const bool neg = v < 0;
    unsigned __int128 u = neg ? 0 - static_cast<unsigned __int128>(v) : static_cast<unsigned __int128>(v);
    do {
      t[47 - n++] = static_cast<char>('0' + static_cast<int>(u % 10));
      u /= 10;
    } while (u);
    if (neg) t[47 - n++] = '-';
    out_.put(std::string_view(t + 48 - n, static_cast<size_t>(n)));
  }

  void put_key(const SourceKey& k) {
    if (!k.v6) return out_.put_ip_number(static_cast<int64_t>(k.lo));
    uint8_t a[16];
    for (int i = 0; i < 8; ++i) {
      a[i] = static_cast<uint8_t>(k.hi >> (56 - 8 * i));
      a[8 + i] = static_cast<uint8_t>(k.lo >> (56 - 8 * i));
    }
    out_.put_ipv6(a);
  }
  void put_key(int64_t port) { out_.put_int(port); }

  template <class Map>
  void put_top(const Map& m, const std::string& label) {
    using Item = std::pair<typename Map::key_type, Sum>;
    std::vector<Item> v(m.begin(), m.end());
    const size_t n = std::min(kTop, v.size());
    std::partial_sort(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(n), v.end(), [](const Item& a, const Item& b) {
      return a.second != b.second ? a.second > b.second : a.first < b.first;
    });
    for (size_t i = 0; i < n; ++i) {
      out_.put(label);
      out_.put(" rank=");
      out_.put_uint(i + 1);
      out_.put(" value=");
      put_key(v[i].first);
      out_.put(packets_ >= 0 ? " packets=" : " records=");
      put_sum(v[i].second);
      out_.put('\n');
    }
  }

  Out& out_;
  std::string path_, schema_, src_name_;
  AvroCodec codec_ = AvroCodec::null;
  int time_ = -1, packets_ = -1, bytes_ = -1, ip_len_ = -1, src_ = -1, port_ = -1, metric_ = -1;
  std::map<int64_t, Interval> intervals_;
  Interval* cur_ = nullptr;
  int64_t cur_time_ = 0;
};

}  // namespace

std::unique_ptr<Printer> make_summary_printer(Out& out) { return std::make_unique<SummaryPrinter>(out); }

}  // namespace privateer::read
