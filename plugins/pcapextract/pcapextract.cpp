#include "plugins/pcapextract/pcapextract.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "dataplane/flow_table.hpp"
#include "plugins/common/options.hpp"
#include "plugins/common/packet_options.hpp"

namespace privateer {
namespace {

constexpr uint64_t kNs = 1000000000u;
constexpr uint32_t kMaxPretrigger = 100000;

// Nothing to hand over: the packets went to the stream.
struct ExtractResult : IntervalResult {};

// The recent packets of every flow not (yet) alarmed, in arrival order in
// one byte ring; each record links to its flow's previous one by absolute
// position, so a flow's last packets are found by walking back. A record is
// intact while the writer has not come round to it again.
class PretriggerRing {
 public:
  struct Header {
    uint64_t prev;      // absolute position + 1 of the flow's previous record; 0: none
    uint64_t ts_ns;
    uint32_t caplen, wirelen, size;
    uint16_t linktype;
    uint8_t dir;
  };
  explicit PretriggerRing(size_t bytes) {
    cap_ = 64 * 1024;
    while (cap_ < bytes) cap_ <<= 1;
    buf_ = std::make_unique<uint8_t[]>(cap_);
  }
  // Stores a packet; its position + 1 (0 when larger than a quarter of the ring).
  uint64_t put(uint64_t prev, const PacketView& v, const uint8_t* d, uint32_t caplen) {
    const size_t size = (sizeof(Header) + caplen + 7) & ~size_t{7};
    if (size > cap_ / 4) return 0;
    size_t pos = head_ & (cap_ - 1);
    if (cap_ - pos < size) {   // records are read by link only: the end's rest stays unused
      head_ += cap_ - pos;
      pos = 0;
    }
    const Header h{prev, v.ts_ns, caplen, v.wirelen, static_cast<uint32_t>(size), v.linktype, v.flow_dir};
    std::memcpy(buf_.get() + pos, &h, sizeof h);
    std::memcpy(buf_.get() + pos + sizeof h, d, caplen);
    const uint64_t at = head_;
    head_ += size;
    return at + 1;
  }
  // The record at `ref` (a put() result), or null once overwritten.
  const Header* get(uint64_t ref) const {
    if (!ref) return nullptr;
    const uint64_t at = ref - 1;
    if (at + cap_ < head_) return nullptr;
    return reinterpret_cast<const Header*>(buf_.get() + (at & (cap_ - 1)));
  }
  static const uint8_t* bytes(const Header* h) { return reinterpret_cast<const uint8_t*>(h) + sizeof(Header); }

 private:
  size_t cap_ = 0;
  std::unique_ptr<uint8_t[]> buf_;
  uint64_t head_ = 0;
};

class ExtractWorker : public WorkerProcessor {
 public:
  ExtractWorker(const PcapExtractOptions& o, uint32_t interval, PacketAppender& out, int filter_reason,
                int list_reason)
      : o_(o), interval_(interval), out_(out), filter_reason_(filter_reason), list_reason_(list_reason), ring_(o.pretrigger_packets ? o.pretrigger_bytes : 0) {
    chain_.resize(o.pretrigger_packets);
  }

  void attach_flows(FlowTable& table, unsigned first_alarm) override {
    table_ = &table;
    first_alarm_ = first_alarm;
    state_.assign(table.slots(), FlowState{});
  }

  void process(const PacketView* views, const uint8_t* const* data, size_t n) override {
    for (size_t i = 0; i < n; ++i) one(views[i], data[i]);
  }

  std::unique_ptr<IntervalResult> end_interval(uint64_t start) override {
    out_.advance((start + interval_) * kNs);
    ++epoch_;   // per_flow: each flow's key again at its next packet
    return std::make_unique<ExtractResult>();
  }
  // An idle worker's time (as wdcap's): the merge need not wait for it.
  void idle(uint64_t ts_ns) override { out_.advance(ts_ns); }

 private:
  struct FlowState {
    uint64_t first_ns = 0;   // the flow instance the state is for
    uint64_t last = 0;       // its newest record in the ring (PretriggerRing ref)
    bool extracting = false;
    uint32_t id = 0;         // per_flow: the stream's flow id, once extracting
    uint32_t epoch = 0;      // per_flow: the interval its key was last sent in (epoch_ + 1)
  };

  bool wanted(uint8_t dir) const {
    return o_.direction == PcapExtractOptions::Direction::both ||
           (o_.direction == PcapExtractOptions::Direction::forward) == (dir == 0);
  }
  void write(uint64_t ts, uint32_t wirelen, uint16_t linktype, const uint8_t* d, uint32_t caplen,
             FlowState* st = nullptr, uint32_t flow = 0) {
    uint32_t id = 0;
    if (o_.out.per_flow && st) {   // the flow's key before its first packet of each interval
      if (!st->id) st->id = ++next_id_ ? next_id_ : ++next_id_;
      if (st->epoch != epoch_ + 1) {
        const FlowRecord& r = *table_->record(flow);
        PacketFlowKey k;
        std::memcpy(k.a, r.a, 16);
        std::memcpy(k.b, r.b, 16);
        k.aport = r.aport;
        k.bport = r.bport;
        k.proto = r.proto;
        k.ip_version = r.ip_version;
        if (out_.append_flow_key(ts, st->id, k)) st->epoch = epoch_ + 1;
      }
      id = st->id;
    }
    out_.append(ts, wirelen, linktype, d, std::min(caplen, o_.out.snaplen), nullptr, 0, id);
  }

  void one(const PacketView& v, const uint8_t* d) {
    if (!table_) throw std::logic_error("pcapextract: no flow table");
    if (!v.flow) {   // not IP, or not tracked: never alarmed
      if (o_.not_alarmed) write(v.ts_ns, v.wirelen, v.linktype, d, v.caplen);
      return;
    }
    FlowState& st = state_[v.flow - 1];
    const uint64_t first = table_->record(v.flow)->first_ns;
    if (st.first_ns != first) {   // a new flow instance: looked up in the list once
      st = FlowState{first, 0, false, 0, 0};
      if (list_reason_ >= 0 && o_.flows.contains(*table_->record(v.flow))) {
        table_->raise(v.flow, first_alarm_ + static_cast<unsigned>(list_reason_));
      }
    }
    if (o_.trigger_filter >= 0 && (v.custom_bits >> o_.trigger_filter & 1)) {
      table_->raise(v.flow, first_alarm_ + static_cast<unsigned>(filter_reason_));
    }
    const bool alarmed = table_->alarms(v.flow) != 0;
    if (o_.not_alarmed) {
      if (!alarmed && wanted(v.flow_dir)) write(v.ts_ns, v.wirelen, v.linktype, d, v.caplen);
      return;
    }
    if (alarmed) {
      if (!st.extracting) {
        st.extracting = true;
        flush_pretrigger(st, v.flow, v.ts_ns);
      }
      if (wanted(v.flow_dir)) write(v.ts_ns, v.wirelen, v.linktype, d, v.caplen, &st, v.flow);
    } else if (o_.pretrigger_packets) {
      st.last = ring_.put(st.last, v, d, std::min(v.caplen, o_.out.snaplen));
    }
  }

  // The flow's last packets still in the ring, oldest first.
  void flush_pretrigger(FlowState& st, uint32_t flow, uint64_t now_ns) {
    size_t k = 0;
    const uint64_t oldest = o_.pretrigger_seconds && now_ns > uint64_t{o_.pretrigger_seconds} * kNs
                                ? now_ns - uint64_t{o_.pretrigger_seconds} * kNs
                                : 0;
    for (const PretriggerRing::Header* h = ring_.get(st.last); h && k < chain_.size(); h = ring_.get(h->prev)) {
      if (h->ts_ns < oldest) break;
      chain_[k++] = h;
    }
    while (k--) {
      const PretriggerRing::Header* h = chain_[k];
      if (wanted(h->dir)) write(h->ts_ns, h->wirelen, h->linktype, PretriggerRing::bytes(h), h->caplen, &st, flow);
    }
    st.last = 0;
  }

  const PcapExtractOptions& o_;
  uint32_t interval_;
  PacketAppender& out_;
  int filter_reason_, list_reason_;
  PretriggerRing ring_;
  std::vector<const PretriggerRing::Header*> chain_;
  FlowTable* table_ = nullptr;
  unsigned first_alarm_ = 0;
  std::vector<FlowState> state_;
  uint32_t next_id_ = 0;   // per_flow: the last flow id given
  uint32_t epoch_ = 0;     // intervals ended
};

}  // namespace

PcapExtractPlugin::PcapExtractPlugin(const YAML::Node& options, const std::string& p,
                                     const std::vector<std::string>& filters, uint32_t interval_seconds)
    : interval_(interval_seconds) {
  if (!options.IsDefined() || options.IsNull()) return;
  if (!options.IsMap()) throw ConfigError(p, yaml_line(options), "must be a mapping of pcapextract options");
  std::vector<std::string> keys = packet_stream_option_keys();
  keys.insert(keys.end(), {"direction", "select", "trigger_filter", "pretrigger_packets", "pretrigger_seconds",
                           "pretrigger_mib", "flows_file", "files", "max_open_files"});
  reject_unknown_keys(options, p, keys);
  parse_packet_stream_options(options, p, o_.out);
  if (const auto d = get_opt<std::string>(options, p, "direction")) {
    if (*d == "both") {
      o_.direction = PcapExtractOptions::Direction::both;
    } else if (*d == "forward") {
      o_.direction = PcapExtractOptions::Direction::forward;
    } else if (*d == "backward") {
      o_.direction = PcapExtractOptions::Direction::backward;
    } else {
      throw ConfigError(join_key(p, "direction"), yaml_line(options["direction"]),
                        "'" + *d + "': give both, forward (from the flow's first sender) or backward");
    }
  }
  if (const auto s = get_opt<std::string>(options, p, "select")) {
    if (*s != "alarmed" && *s != "not_alarmed") {
      throw ConfigError(join_key(p, "select"), yaml_line(options["select"]), "'" + *s + "': give alarmed or not_alarmed");
    }
    o_.not_alarmed = *s == "not_alarmed";
  }
  if (const auto f = get_opt<std::string>(options, p, "trigger_filter")) {
    const auto it = std::find(filters.begin(), filters.end(), *f);
    if (it == filters.end()) {
      throw ConfigError(join_key(p, "trigger_filter"), yaml_line(options["trigger_filter"]),
                        "'" + *f + "' is not a filter of the top-level filters: list");
    }
    o_.trigger_filter = static_cast<int>(it - filters.begin());
  }
  if (const auto n = get_opt<uint32_t>(options, p, "pretrigger_packets")) {
    if (*n > kMaxPretrigger) {
      throw ConfigError(join_key(p, "pretrigger_packets"), yaml_line(options["pretrigger_packets"]),
                        "must be 0.." + std::to_string(kMaxPretrigger));
    }
    o_.pretrigger_packets = *n;
  }
  o_.pretrigger_seconds = get_opt<uint32_t>(options, p, "pretrigger_seconds").value_or(0);
  if (const auto m = get_opt<uint32_t>(options, p, "pretrigger_mib")) {
    if (*m < 1 || *m > 4096) {
      throw ConfigError(join_key(p, "pretrigger_mib"), yaml_line(options["pretrigger_mib"]), "must be 1..4096");
    }
    o_.pretrigger_bytes = static_cast<size_t>(*m) << 20;
  }
  if (const auto f = get_opt<std::string>(options, p, "flows_file")) {
    if (f->empty()) throw ConfigError(join_key(p, "flows_file"), yaml_line(options["flows_file"]), "empty (a file name)");
    try {
      o_.flows = FlowList::read(*f);
    } catch (const FlowListError& e) {
      // Reads: config key 'plugins.pcapextract.flows_file' (line N): FILE:LINE: why
      throw ConfigError(join_key(p, "flows_file"), yaml_line(options["flows_file"]), e.what());
    }
  }
  if (const auto f = get_opt<std::string>(options, p, "files")) {
    if (*f != "per_rotation" && *f != "per_flow") {
      throw ConfigError(join_key(p, "files"), yaml_line(options["files"]), "'" + *f + "': give per_rotation or per_flow");
    }
    o_.out.per_flow = *f == "per_flow";
    if (o_.out.per_flow && o_.not_alarmed) {
      throw ConfigError(join_key(p, "files"), yaml_line(options["files"]),
                        "per_flow with select: not_alarmed is not built (alarmed flows only)");
    }
  }
  if (const auto n = get_opt<uint32_t>(options, p, "max_open_files")) {
    if (*n < 1 || *n > 4096) {
      throw ConfigError(join_key(p, "max_open_files"), yaml_line(options["max_open_files"]), "must be 1..4096");
    }
    if (!o_.out.per_flow) {
      throw ConfigError(join_key(p, "max_open_files"), yaml_line(options["max_open_files"]),
                        "only with files: per_flow");
    }
    o_.out.max_open_files = *n;
  }
  int n = 0;
  if (o_.trigger_filter >= 0) filter_reason_ = n++;
  if (!o_.flows.empty()) list_reason_ = n++;
}

const std::string& PcapExtractPlugin::name() const {
  static const std::string n = "pcapextract";
  return n;
}

std::vector<std::string> PcapExtractPlugin::alarm_reasons() const {
  std::vector<std::string> r;
  if (filter_reason_ >= 0) r.push_back("filter");
  if (list_reason_ >= 0) r.push_back("list");
  return r;
}

void PcapExtractPlugin::open_outputs(OutputProvider& out) { stream_ = &out.packet_stream("pcapextract", o_.out); }

std::unique_ptr<WorkerProcessor> PcapExtractPlugin::make_worker(unsigned worker_id) {
  if (!stream_) throw std::logic_error("pcapextract: make_worker before open_outputs");
  return std::make_unique<ExtractWorker>(o_, interval_, stream_->worker(worker_id), filter_reason_, list_reason_);
}

MergeStats PcapExtractPlugin::merge(const IntervalInfo&, std::vector<std::unique_ptr<IntervalResult>>&) { return {}; }

}  // namespace privateer
