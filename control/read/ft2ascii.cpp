// corsaro3's corsavro_ft2ascii.py output (its default mode, with flow
// counts), itself the cors2ascii format of corsaro2 flowtuple files:
//
//   # CORSARO_INTERVAL_START <n> <time>
//   START flowtuple_backscatter 0
//   END flowtuple_backscatter
//   START flowtuple_icmpreq 0
//   END flowtuple_icmpreq
//   START flowtuple_other <flows in the interval>
//   <src>|<dst>|<src_port>|<dst_port>|<protocol>|<ttl>|0x<tcp_flags, 2 hex digits>|<ip_len>,<packet_cnt>
//   ...
//   END flowtuple_other
//   # CORSARO_INTERVAL_END <n> <time>
//
// An interval starts at the first record and whenever a record's time is
// greater than the interval's (a smaller time stays in the open interval);
// intervals are numbered from 0 across all the files of one run, as the
// script's state spans its files. Unlike the script, the last interval is
// written out too (the script drops its flows and footer), and nothing
// goes to stderr.
#include <array>

#include "control/read/printers.hpp"

namespace privateer::read {
namespace {

enum Field { kTime, kSrc, kDst, kSport, kDport, kProto, kTtl, kFlags, kLen, kPkts, kFields };
constexpr std::array<const char*, kFields> kNames = {"time",     "src_ip", "dst_ip",    "src_port", "dst_port",
                                                     "protocol", "ttl",    "tcp_flags", "ip_len",   "packet_cnt"};

class Ft2AsciiPrinter : public Printer {
 public:
  explicit Ft2AsciiPrinter(Out& out) : out_(out) {}

  void begin_file(const std::string&, AvroCodec, const RecordDecoder& dec) override {
    for (int f = 0; f < kFields; ++f) idx_[f] = dec.find(kNames[f]);
  }

  void record(const AvroValue* v) override {
    const int64_t t = v[idx_[kTime]].i;
    if (!open_ || t > time_) {
      close_interval();
      out_.put("# CORSARO_INTERVAL_START ");
      out_.put_uint(number_);
      out_.put(' ');
      out_.put_int(t);
      out_.put('\n');
      open_ = true;
      time_ = t;
      flows_ = 0;
    }
    Out& o = lines_;
    o.put_ip_number(v[idx_[kSrc]].i);
    o.put('|');
    o.put_ip_number(v[idx_[kDst]].i);
    for (int f : {kSport, kDport, kProto, kTtl}) {
      o.put('|');
      o.put_int(v[idx_[f]].i);
    }
    o.put("|0x");
    put_hex2(o, v[idx_[kFlags]].i);
    o.put('|');
    o.put_int(v[idx_[kLen]].i);
    o.put(',');
    o.put_int(v[idx_[kPkts]].i);
    o.put('\n');
    ++flows_;
  }

  void end_file() override {}
  void finish() override { close_interval(); }

 private:
  // Python's "%02x" (a negative value keeps its sign: "-5").
  static void put_hex2(Out& o, int64_t v) {
    static const char kHex[] = "0123456789abcdef";
    if (v < 0) o.put('-');
    const uint64_t u = v < 0 ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
    char t[17];
    int n = 0;
    for (uint64_t x = u; n == 0 || x; x >>= 4) t[16 - n++] = kHex[x & 15];
    if (v >= 0 && n < 2) t[16 - n++] = '0';
    o.put(std::string_view(t + 17 - n, static_cast<size_t>(n)));
  }

  void close_interval() {
    if (!open_) return;
    out_.put("START flowtuple_backscatter 0\nEND flowtuple_backscatter\nSTART flowtuple_icmpreq 0\n"
             "END flowtuple_icmpreq\nSTART flowtuple_other ");
    out_.put_uint(flows_);
    out_.put('\n');
    out_.put(lines_.buffered());
    out_.put("END flowtuple_other\n# CORSARO_INTERVAL_END ");
    out_.put_uint(number_);
    out_.put(' ');
    out_.put_int(time_);
    out_.put('\n');
    out_.maybe_flush();
    lines_.flush();
    open_ = false;
    ++number_;
  }

  Out& out_;
  Out lines_{nullptr};   // the open interval's flows: its header needs their count first
  std::array<int, kFields> idx_{};
  bool open_ = false;
  int64_t time_ = 0;
  uint64_t number_ = 0;
  uint64_t flows_ = 0;
};

}  // namespace

bool is_flowtuple(const RecordDecoder& dec) {
  if (!dec.is_record() || dec.schema().root_node().name != "org.caida.corsaro.flowtuple") return false;
  for (const char* name : kNames) {
    const int k = dec.find(name);
    if (k < 0) return false;
    const AvroKind kind = dec.schema().node(dec.field_node(static_cast<size_t>(k))).kind;
    if (kind != AvroKind::int32 && kind != AvroKind::int64) return false;
  }
  return true;
}

std::unique_ptr<Printer> make_ft2ascii_printer(Out& out) { return std::make_unique<Ft2AsciiPrinter>(out); }

}  // namespace privateer::read
