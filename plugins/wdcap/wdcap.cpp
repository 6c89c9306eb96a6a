#include "plugins/wdcap/wdcap.hpp"

#include <algorithm>
#include <stdexcept>

#include "plugins/common/options.hpp"
#include "plugins/common/packet_options.hpp"

namespace privateer {
namespace {

constexpr uint64_t kNs = 1000000000u;

uint16_t rd16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

bool is_vlan_type(uint16_t t) { return t == 0x8100 || t == 0x88a8 || t == 0x9100; }

// An ERF record: skips its header (and extension headers, and the
// Ethernet pad), as libtrace does when corsarowdcap writes pcap; the
// Ethernet FCS is left out of both lengths. Other record types are
// written whole as LINKTYPE_ERF.
void from_erf(const WdcapOptions& o, const uint8_t*& d, uint32_t& cap, uint32_t& wire, uint16_t& lt) {
  if (cap < 16) return;   // written as it came (LINKTYPE_ERF)
  const uint8_t type = d[8];
  uint32_t off = 16;
  if (type & 0x80) {
    for (;;) {
      if (cap - off < 8) return;
      const uint8_t h = d[off];
      off += 8;
      if (!(h & 0x80)) break;
    }
  }
  const uint32_t wlen = rd16(d + 14);
  switch (type & 0x7F) {
    case 2: case 11: case 16: case 20:   // Ethernet variants
      if (cap - off < 2) return;
      off += 2;
      lt = linktype::ethernet;
      wire = wlen >= o.erf_fcs ? wlen - o.erf_fcs : 0;
      break;
    case 22: case 23:   // IPv4, IPv6
      lt = linktype::raw;
      wire = wlen;
      break;
    default:
      return;
  }
  d += off;
  cap = std::min(cap - off, wire);
}

// Nothing to hand over: the packets went to the stream.
struct WdcapResult : IntervalResult {};

class WdcapWorker : public WorkerProcessor {
 public:
  WdcapWorker(const WdcapOptions& o, uint32_t interval, PacketAppender& out) : o_(o), interval_(interval), out_(out) {}

  void process(const PacketView* views, const uint8_t* const* data, size_t n) override {
    for (size_t i = 0; i < n; ++i) one(views[i], data[i]);
  }

  std::unique_ptr<IntervalResult> end_interval(uint64_t start) override {
    out_.advance((start + interval_) * kNs);
    return std::make_unique<WdcapResult>();
  }
  // An idle worker's time: the merge need not wait for its packets.
  void idle(uint64_t ts_ns) override { out_.advance(ts_ns); }

 private:
  void one(const PacketView& v, const uint8_t* d) {
    const WdcapFrame f = wdcap_frame(o_, v, d);
    out_.append(v.ts_ns, f.wirelen, f.linktype, f.head, f.head_len, f.tail, f.tail_len);
  }

  const WdcapOptions& o_;
  uint32_t interval_;
  PacketAppender& out_;
};

}  // namespace

WdcapFrame wdcap_frame(const WdcapOptions& o, const PacketView& v, const uint8_t* d) {
  uint32_t cap = v.caplen;
  uint32_t wire = v.wirelen;
  uint16_t lt = v.linktype;
  if (lt == linktype::erf) from_erf(o, d, cap, wire, lt);
  // Head: the bytes before the VLAN tags (all of them without tags); tail:
  // the bytes after them.
  uint32_t head = cap;
  const uint8_t* tail = nullptr;
  uint32_t tail_len = 0;
  if (o.strip_vlans && lt == linktype::ethernet && cap >= 14) {
    uint32_t off = 12;
    while (cap - off >= 6 && is_vlan_type(rd16(d + off))) off += 4;
    if (off > 12) {
      head = 12;
      tail = d + off;
      tail_len = cap - off;
      cap -= off - 12;
      wire = wire >= off - 12 ? wire - (off - 12) : 0;
    }
  }
  if (cap > o.out.snaplen) {  // cut to snaplen
    const uint32_t keep = o.out.snaplen;
    if (head >= keep) {
      head = keep;
      tail_len = 0;
    } else {
      tail_len = keep - head;
    }
  }
  return WdcapFrame{d, head, tail, tail_len, wire, lt};
}

WdcapOptions parse_wdcap_options(const YAML::Node& options, const std::string& p) {
  WdcapOptions o;
  if (!options.IsDefined() || options.IsNull()) return o;
  if (!options.IsMap()) throw ConfigError(p, yaml_line(options), "must be a mapping of wdcap options");
  std::vector<std::string> keys = packet_stream_option_keys();
  keys.insert(keys.end(), {"stripvlans", "strip_vlans", "erffcs"});
  reject_unknown_keys(options, p, keys);
  parse_packet_stream_options(options, p, o.out);
  if (options["stripvlans"] && options["strip_vlans"]) {
    throw ConfigError(join_key(p, "strip_vlans"), yaml_line(options["strip_vlans"]), "give stripvlans or strip_vlans, not both");
  }
  o.strip_vlans = get_onoff(options, p, options["strip_vlans"] ? "strip_vlans" : "stripvlans").value_or(false);
  if (const auto f = get_opt<uint32_t>(options, p, "erffcs")) {
    if (*f > 4) throw ConfigError(join_key(p, "erffcs"), yaml_line(options["erffcs"]), "must be 0..4 (bytes)");
    o.erf_fcs = *f;
  }
  return o;
}

WdcapPlugin::WdcapPlugin(const YAML::Node& options, const std::string& path, uint32_t interval_seconds)
    : o_(parse_wdcap_options(options, path)), interval_(interval_seconds) {}

const std::string& WdcapPlugin::name() const {
  static const std::string n = "wdcap";
  return n;
}

void WdcapPlugin::open_outputs(OutputProvider& out) { stream_ = &out.packet_stream("wdcap", o_.out); }

std::unique_ptr<WorkerProcessor> WdcapPlugin::make_worker(unsigned worker_id) {
  if (!stream_) throw std::logic_error("wdcap: make_worker before open_outputs");
  return std::make_unique<WdcapWorker>(o_, interval_, stream_->worker(worker_id));
}

MergeStats WdcapPlugin::merge(const IntervalInfo&, std::vector<std::unique_ptr<IntervalResult>>&) { return {}; }

}  // namespace privateer
