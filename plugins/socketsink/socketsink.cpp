#include "plugins/socketsink/socketsink.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <array>
#include <cstring>
#include <map>
#include <stdexcept>

#include "dataplane/filters.hpp"
#include "dataplane/flow_table.hpp"
#include "plugins/common/flat_table.hpp"
#include "plugins/common/json.hpp"
#include "plugins/common/options.hpp"

namespace privateer {

// The source addresses a worker counts.
struct SocketSource {
  uint8_t addr[16];
  uint8_t version;
  uint64_t count;
  bool same_key(const SocketSource& o) const { return version == o.version && !std::memcmp(addr, o.addr, 16); }
  uint64_t hash(const uint64_t* seed) const {
    uint64_t a, b;
    std::memcpy(&a, addr, 8);
    std::memcpy(&b, addr + 8, 8);
    return hash_mum(a ^ seed[0], b ^ seed[1] ^ version);
  }
};

// One period's summary of one worker.
struct SocketSummary {
  uint64_t start = 0;   // the period's start, unix seconds
  uint64_t packets = 0, bytes = 0, alarmed = 0;
  std::vector<SocketSource> sources;
  std::vector<std::pair<uint16_t, uint64_t>> ports;   // nonzero only
  std::array<uint64_t, 64> custom{}, builtin{};
};

namespace {

constexpr uint64_t kNs = 1000000000u;

// A worker's summaries of the periods of one interval that had packets.
struct SummaryResult : IntervalResult {
  std::vector<SocketSummary> periods;
};

class SummaryWorker : public WorkerProcessor {
 public:
  explicit SummaryWorker(uint32_t period) : period_(period), ports_(std::make_unique<std::array<uint64_t, 65536>>()) {
    ports_->fill(0);
  }

  void process(const PacketView* views, const uint8_t* const*, size_t n) override {
    for (size_t i = 0; i < n; ++i) {
      const PacketView& v = views[i];
      // A packet of a later period closes the open one (an older packet is
      // counted in the open period, as the intervals count late packets).
      if (v.ts_ns >= period_end_ns_) {
        if (packets_) cut();
        const uint64_t sec = v.ts_ns / kNs;
        start_ = sec - sec % period_;
        period_end_ns_ = (start_ + period_) * kNs;
      }
      ++packets_;
      bytes_ += v.wirelen;
      for (uint64_t b = v.custom_bits; b; b &= b - 1) ++custom_[__builtin_ctzll(b)];
      for (uint64_t b = v.filter_bits; b; b &= b - 1) ++builtin_[__builtin_ctzll(b)];
      if (v.ip_version != 4 && v.ip_version != 6) continue;
      SocketSource k{};
      k.version = v.ip_version;
      if (v.ip_version == 4) {
        const uint32_t a = htonl(v.src.v4);
        std::memcpy(k.addr, &a, 4);
      } else {
        std::memcpy(k.addr, v.src.v6, 16);
      }
      sources_.add(k, sources_.hash(k));
      if ((v.proto == 6 || v.proto == 17) && (v.flags & pflag::has_ports)) ++(*ports_)[v.dport];
    }
  }

  std::unique_ptr<IntervalResult> end_interval(uint64_t) override {
    if (packets_) cut();
    auto r = std::make_unique<SummaryResult>();
    r->periods.swap(done_);
    return r;
  }

  void attach_flows(FlowTable& table, unsigned) override { table_ = &table; }

 private:
  // The open period's summary to done_, the counts zeroed.
  void cut() {
    SocketSummary* r = &done_.emplace_back();
    r->start = start_;
    r->packets = packets_;
    r->bytes = bytes_;
    r->custom = custom_;
    r->builtin = builtin_;
    sources_.drain([&](const SocketSource& s) { r->sources.push_back(s); });
    for (size_t p = 0; p < ports_->size(); ++p) {
      if ((*ports_)[p]) r->ports.emplace_back(static_cast<uint16_t>(p), (*ports_)[p]);
    }
    if (table_) {
      uint64_t now = 0;
      for (const auto& a : table_->counters().alarms) now += a.load(std::memory_order_relaxed);
      r->alarmed = now - alarmed_seen_;
      alarmed_seen_ = now;
    }
    packets_ = bytes_ = 0;
    custom_.fill(0);
    builtin_.fill(0);
    ports_->fill(0);
  }

  uint32_t period_;
  uint64_t start_ = 0, period_end_ns_ = 0;
  std::vector<SocketSummary> done_;
  uint64_t packets_ = 0, bytes_ = 0;
  std::array<uint64_t, 64> custom_{}, builtin_{};
  FlatTable<SocketSource> sources_;
  std::unique_ptr<std::array<uint64_t, 65536>> ports_;
  const FlowTable* table_ = nullptr;
  uint64_t alarmed_seen_ = 0;
};

std::string address(const SocketSource& s) {
  char b[INET6_ADDRSTRLEN] = {0};
  inet_ntop(s.version == 4 ? AF_INET : AF_INET6, s.addr, b, sizeof b);
  return b;
}

}  // namespace

SocketSinkPlugin::SocketSinkPlugin(const YAML::Node& options, const std::string& p, const std::vector<std::string>& filters,
                                   uint32_t interval_seconds)
    : filters_(filters) {
  o_.period = interval_seconds;
  if (!options.IsDefined() || !options.IsMap()) {
    throw ConfigError(join_key(p, "port"), yaml_line(options), "the socketsink plugin needs at least `port:`");
  }
  reject_unknown_keys(options, p, {"protocol", "host", "port", "top", "queue", "period", "counters"});
  if (const auto pr = get_opt<std::string>(options, p, "protocol")) {
    if (*pr != "udp" && *pr != "tcp") {
      throw ConfigError(join_key(p, "protocol"), yaml_line(options["protocol"]), "'" + *pr + "': give udp or tcp");
    }
    o_.sink.protocol = *pr == "tcp" ? LineSinkOptions::Protocol::tcp : LineSinkOptions::Protocol::udp;
  }
  if (const auto h = get_opt<std::string>(options, p, "host")) {
    if (h->empty()) throw ConfigError(join_key(p, "host"), yaml_line(options["host"]), "must not be empty");
    o_.sink.host = *h;
  }
  const auto port = get_opt<uint32_t>(options, p, "port");
  if (!port || *port < 1 || *port > 65535) {
    throw ConfigError(join_key(p, "port"), yaml_line(options["port"] ? options["port"] : options), "must be 1..65535");
  }
  o_.sink.port = static_cast<uint16_t>(*port);
  if (const auto t = get_opt<uint32_t>(options, p, "top")) {
    if (*t < 1 || *t > 1000) throw ConfigError(join_key(p, "top"), yaml_line(options["top"]), "must be 1..1000");
    o_.top = *t;
  }
  if (const auto q = get_opt<uint32_t>(options, p, "queue")) {
    if (*q < 1 || *q > 100000) throw ConfigError(join_key(p, "queue"), yaml_line(options["queue"]), "must be 1..100000");
    o_.sink.queue = *q;
  }
  if (const auto per = get_opt<uint32_t>(options, p, "period")) {
    if (*per < 1 || interval_seconds % *per != 0) {
      throw ConfigError(join_key(p, "period"), yaml_line(options["period"]),
                        "must divide the interval (" + std::to_string(interval_seconds) + " s)");
    }
    o_.period = *per;
  }
  if (options["counters"]) {
    const YAML::Node c = options["counters"];
    if (!c.IsSequence()) {
      throw ConfigError(join_key(p, "counters"), yaml_line(c), "must be a list of metric names");
    }
    o_.counters.clear();
    for (const auto& n : c) {
      const std::string name = n.IsScalar() ? n.as<std::string>() : "";
      const bool ok = !name.empty() && !std::isdigit(static_cast<unsigned char>(name[0])) &&
                      std::all_of(name.begin(), name.end(), [](char ch) {
                        return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == ':';
                      });
      if (!ok) throw ConfigError(join_key(p, "counters"), yaml_line(n), "'" + name + "' is not a metric name");
      o_.counters.push_back(name);
    }
  }
}

const std::string& SocketSinkPlugin::name() const {
  static const std::string n = "socketsink";
  return n;
}

void SocketSinkPlugin::open_outputs(OutputProvider& out) {
  sink_ = &out.line_sink("socketsink", o_.sink);
  counters_ = &out.counters();
}

std::unique_ptr<WorkerProcessor> SocketSinkPlugin::make_worker(unsigned) {
  return std::make_unique<SummaryWorker>(o_.period);
}

MergeStats SocketSinkPlugin::merge(const IntervalInfo& iv, std::vector<std::unique_ptr<IntervalResult>>& results) {
  if (!sink_) throw std::logic_error("socketsink: merge before open_outputs");
  // The workers' summaries by period; one line for every period of the interval.
  std::map<uint64_t, std::vector<const SocketSummary*>> by_start;
  for (auto& r : results) {
    const auto* s = static_cast<const SummaryResult*>(r.get());
    if (!s) continue;
    for (const SocketSummary& p : s->periods) by_start[p.start].push_back(&p);
  }
  const std::vector<CounterSample> counters = counters_ ? counters_->read(o_.counters) : std::vector<CounterSample>{};
  uint64_t lines = 0;
  for (uint64_t start = iv.start; start < iv.end; start += o_.period, ++lines) {
    sink_->send(line(iv, start, by_start[start], counters));
  }
  return {lines, ""};
}

std::string SocketSinkPlugin::line(const IntervalInfo& iv, uint64_t start, const std::vector<const SocketSummary*>& parts,
                                   const std::vector<CounterSample>& counters) const {
  SocketSummary all;
  FlatTable<SocketSource> sources;
  std::map<uint16_t, uint64_t> ports;
  for (const SocketSummary* s : parts) {
    all.packets += s->packets;
    all.bytes += s->bytes;
    all.alarmed += s->alarmed;
    for (size_t i = 0; i < 64; ++i) {
      all.custom[i] += s->custom[i];
      all.builtin[i] += s->builtin[i];
    }
    for (const SocketSource& x : s->sources) {
      bool inserted = false;
      SocketSource& e = sources.find_or_insert(x, sources.hash(x), inserted);
      e.count = inserted ? x.count : e.count + x.count;
    }
    for (const auto& [p, n] : s->ports) ports[p] += n;
  }
  std::vector<SocketSource> top;
  sources.for_each([&](const SocketSource& s) { top.push_back(s); });
  auto by_count = [](const SocketSource& a, const SocketSource& b) {
    return a.count != b.count ? a.count > b.count : std::memcmp(a.addr, b.addr, 16) < 0;
  };
  const size_t ns = std::min<size_t>(o_.top, top.size());
  std::partial_sort(top.begin(), top.begin() + static_cast<long>(ns), top.end(), by_count);
  std::vector<std::pair<uint16_t, uint64_t>> tp(ports.begin(), ports.end());
  const size_t np = std::min<size_t>(o_.top, tp.size());
  std::partial_sort(tp.begin(), tp.begin() + static_cast<long>(np), tp.end(),
                    [](const auto& a, const auto& b) { return a.second != b.second ? a.second > b.second : a.first < b.first; });

  std::string j = "{\"interval_start\":" + std::to_string(iv.start) + ",\"interval_end\":" + std::to_string(iv.end) +
                  ",\"period_start\":" + std::to_string(start) + ",\"period_end\":" + std::to_string(start + o_.period) +
                  ",\"partial\":" + (iv.partial ? "true" : "false") + ",\"packets\":" + std::to_string(all.packets) +
                  ",\"bytes\":" + std::to_string(all.bytes) + ",\"top_sources\":[";
  for (size_t i = 0; i < ns; ++i) {
    j += (i ? "," : "") + std::string("{\"address\":\"") + address(top[i]) + "\",\"packets\":" + std::to_string(top[i].count) + "}";
  }
  j += "],\"top_dst_ports\":[";
  for (size_t i = 0; i < np; ++i) {
    j += (i ? "," : "") + std::string("{\"port\":") + std::to_string(tp[i].first) + ",\"packets\":" +
         std::to_string(tp[i].second) + "}";
  }
  j += "],\"filters\":{";
  const char* sep = "";
  for (size_t i = 0; i < filters_.size() && i < 64; ++i, sep = ",") {
    j += sep + json_quote(filters_[i]) + ":" + std::to_string(all.custom[i]);
  }
  for (size_t b = 0; b < kBuiltinFilterCount; ++b) {
    if (!all.builtin[b]) continue;
    j += sep + json_quote(builtin_filter_name(b)) + ":" + std::to_string(all.builtin[b]);
    sep = ",";
  }
  j += "},\"alarmed_flows\":" + std::to_string(all.alarmed);
  if (!o_.counters.empty()) {
    j += ",\"counters\":[";
    for (size_t i = 0; i < counters.size(); ++i) {
      const CounterSample& c = counters[i];
      j += (i ? "," : "") + std::string("{\"name\":") + json_quote(c.name) + ",\"labels\":{";
      for (size_t k = 0; k < c.labels.size(); ++k) {
        j += (k ? "," : "") + json_quote(c.labels[k].first) + ":" + json_quote(c.labels[k].second);
      }
      j += "},\"value\":" + json_number(c.value) + "}";
    }
    j += "]";
  }
  return j + "}";
}

}  // namespace privateer
