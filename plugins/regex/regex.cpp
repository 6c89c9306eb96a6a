#include "plugins/regex/regex.hpp"

#include <algorithm>
#include <stdexcept>

#include "dataplane/flow_table.hpp"
#include "plugins/common/options.hpp"
#include "plugins/regex/stream_pool.hpp"

namespace privateer {
namespace {

class RegexResult : public IntervalResult {};

// What the match callback needs about the packet being scanned.
struct ScanContext {
  const RegexSet* set;
  const PacketView* view;
  std::atomic<uint64_t>* matches;
  FlowTable* flows;    // where `alarm` rules raise their alarm; null without alarm rules
  unsigned alarm;
  // Stream mode: a stream reports every match end, so a rule counts a
  // packet once by the packet number it last counted (seen[rule index]).
  uint64_t* seen;
  uint64_t packet;
};

int on_match(unsigned int id, unsigned long long, unsigned long long, unsigned int, void* ctx) {
  auto* c = static_cast<ScanContext*>(ctx);
  if (c->seen) {
    if (c->seen[id] == c->packet) return 0;
    c->seen[id] = c->packet;
  }
  const RegexRule& r = c->set->db->rules[id];
  const PacketView& v = *c->view;
  const bool ports = (v.flags & pflag::has_ports) != 0;
  if (r.wants(v.proto, ports ? v.sport : 0, ports ? v.dport : 0) && (r.ports.empty() || ports)) {
    // Block mode: HS_FLAG_SINGLEMATCH, at most one call per rule and scan.
    std::atomic<uint64_t>& n = c->matches[c->set->slot[id]];
    n.store(n.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    if (r.alarm && c->flows) c->flows->raise(v.flow, c->alarm);
  }
  return 0;
}

// The transport payload's bytes: up to the end of the IP datagram where its
// length is known (not the link layer's padding), else to the captured end.
// TCP and UDP only: the rules' protocols (ICMP's "ports" are type and code).
uint32_t payload_bytes(const PacketView& v) {
  if (v.proto != 6 && v.proto != 17) return 0;
  uint32_t end = v.caplen;
  if (v.l3_offset != kNoOffset && v.ip_len != 0) end = std::min<uint32_t>(end, uint32_t{v.l3_offset} + v.ip_len);
  return v.payload_offset == kNoOffset || v.payload_offset >= end ? 0 : end - v.payload_offset;
}

void bump(std::atomic<uint64_t>& c, uint64_t n) { c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }

class RegexWorker : public WorkerProcessor {
 public:
  RegexWorker(RegexPlugin& plugin, unsigned worker, RegexPlugin::Counters& counters)
      : plugin_(plugin), worker_(worker), counters_(counters), pool_(plugin.stream_mode() ? plugin.stream_flows() : 1) {}

  void process(const PacketView* views, const uint8_t* const* data, size_t n) override {
    // The rules set is taken once per burst: a reload takes effect at a
    // burst boundary.
    const RegexSet* set = plugin_.acquire(worker_);
    const bool stream = set->db->stream;
    if (stream && set != last_) {   // new rules, new streams: every flow starts over
      pool_.clear();
      seen_.assign(set->db->rules.size(), 0);
      last_ = set;
    }
    ScanContext ctx{set, nullptr, counters_.matches.get(), flows_, alarm_, stream ? seen_.data() : nullptr, 0};
    hs_scratch_t* scratch = set->scratch[worker_];
    uint64_t bytes = 0, packets = 0, streams = 0, evictions = 0;
    for (size_t i = 0; i < n; ++i) {
      const PacketView& v = views[i];
      const uint32_t len = payload_bytes(v);
      if (len == 0) continue;
      ctx.view = &v;
      ctx.packet = ++packet_;
      const char* p = reinterpret_cast<const char*>(data[i] + v.payload_offset);
      bytes += len;
      ++packets;
      if (!stream) {
        hs_scan(set->db->db, p, len, 0, scratch, on_match, &ctx);
      } else if (v.proto == 6 && v.flow && table_) {
        const uint64_t first = table_->record(v.flow)->first_ns;
        const auto e = pool_.get(v.flow - 1, v.flow_dir, first, [&](uint32_t slot, uint64_t f) {
          return table_->record(slot + 1)->first_ns == f;
        });
        hs_stream_t* s = set->streams[worker_][e.entry];
        if (e.fresh) {
          hs_reset_stream(s, 0, nullptr, nullptr, nullptr);   // the last owner's end-of-stream matches dropped
          ++streams;
          evictions += e.evicted;
        }
        hs_scan_stream(s, p, len, 0, scratch, on_match, &ctx);
      } else {   // alone: scanned, then its end (a `$`) matched, as a block
        hs_stream_t* s = set->datagram[worker_];
        hs_scan_stream(s, p, len, 0, scratch, on_match, &ctx);
        hs_reset_stream(s, 0, scratch, on_match, &ctx);
      }
    }
    bump(counters_.bytes, bytes);
    bump(counters_.packets, packets);
    if (streams) bump(counters_.streams, streams);
    if (evictions) bump(counters_.evictions, evictions);
  }
  // The counters are cumulative and read by the metrics thread; the
  // interval result carries nothing.
  std::unique_ptr<IntervalResult> end_interval(uint64_t) override { return std::make_unique<RegexResult>(); }
  void attach_flows(FlowTable& table, unsigned first_alarm) override {
    table_ = &table;
    if (plugin_.stream_mode()) pool_.attach(table.slots());
    if (!plugin_.alarm_reasons().empty()) {
      flows_ = &table;
      alarm_ = first_alarm;
    }
  }

 private:
  FlowTable* table_ = nullptr;
  FlowTable* flows_ = nullptr;   // set where rules raise alarms
  unsigned alarm_ = 0;
  RegexPlugin& plugin_;
  unsigned worker_;
  RegexPlugin::Counters& counters_;
  StreamPool pool_;
  const RegexSet* last_ = nullptr;
  std::vector<uint64_t> seen_;   // [rule index]: the packet number the rule last counted
  uint64_t packet_ = 0;
};

}  // namespace

RegexSet::~RegexSet() {
  for (const auto& w : streams) {
    for (hs_stream_t* s : w) hs_close_stream(s, nullptr, nullptr, nullptr);
  }
  for (hs_stream_t* s : datagram) hs_close_stream(s, nullptr, nullptr, nullptr);
  for (hs_scratch_t* s : scratch) hs_free_scratch(s);
}

RegexPlugin::RegexPlugin(const YAML::Node& options, const std::string& path) {
  if (!options.IsDefined() || options.IsNull() || !options.IsMap()) {
    throw ConfigError(join_key(path, "rules"), yaml_line(options), "the regex plugin needs `rules: FILE`");
  }
  reject_unknown_keys(options, path, {"rules", "mode", "stream_flows"});
  const auto file = get_opt<std::string>(options, path, "rules");
  if (!file || file->empty()) throw ConfigError(join_key(path, "rules"), yaml_line(options), "missing (a rules file)");
  file_ = *file;
  if (const auto m = get_opt<std::string>(options, path, "mode")) {
    if (*m != "block" && *m != "stream") {
      throw ConfigError(join_key(path, "mode"), yaml_line(options["mode"]),
                        "'" + *m + "': give block (each payload alone) or stream (each TCP flow direction as one stream)");
    }
    stream_ = *m == "stream";
  }
  if (const auto n = get_opt<uint32_t>(options, path, "stream_flows")) {
    if (!stream_) throw ConfigError(join_key(path, "stream_flows"), yaml_line(options["stream_flows"]), "only with mode: stream");
    if (*n < 1 || *n > kMaxStreamFlows) {
      throw ConfigError(join_key(path, "stream_flows"), yaml_line(options["stream_flows"]),
                        "must be 1.." + std::to_string(kMaxStreamFlows));
    }
    stream_flows_ = *n;
  }
  std::lock_guard<std::mutex> lock(mu_);
  try {
    publish(make_set(compile_rules(read_rules_file(file_), file_, stream_), 0));
    for (const RegexRule& r : owner_->db->rules) alarms_ = alarms_ || r.alarm;
  } catch (const RuleError& e) {
    // Reads: config key 'plugins.regex.rules' (line N): FILE:LINE: why
    throw ConfigError(join_key(path, "rules"), yaml_line(options["rules"]), e.what());
  }
}

RegexPlugin::~RegexPlugin() = default;

const std::string& RegexPlugin::name() const {
  static const std::string n = "regex";
  return n;
}

std::unique_ptr<RegexSet> RegexPlugin::make_set(std::shared_ptr<const RegexDatabase> db, unsigned workers) {
  std::vector<uint32_t> slots;
  size_t fresh = 0;
  for (const RegexRule& r : db->rules) fresh += slot_of_.count(r.id) == 0;
  if (slot_ids_.size() + fresh > kMaxRuleIds) {
    throw RuleError(file_, db->rules.back().line, "more than " + std::to_string(kMaxRuleIds) + " rule IDs in this run");
  }
  for (const RegexRule& r : db->rules) {
    auto [it, added] = slot_of_.emplace(r.id, static_cast<uint32_t>(slot_ids_.size()));
    if (added) slot_ids_.push_back(r.id);
    slots.push_back(it->second);
  }
  auto set = std::make_unique<RegexSet>();
  set->db = std::move(db);
  set->slot = std::move(slots);
  for (unsigned w = 0; w < workers; ++w) add_worker(*set);
  return set;
}

// Workers' scratches and streams are made on the control plane (at start,
// on a reload), never on the packet path.
void RegexPlugin::add_worker(RegexSet& set) {
  auto fail = [&](const char* what, hs_error_t e) {
    throw std::runtime_error(file_ + ": cannot allocate Hyperscan " + what + " (error " + std::to_string(e) + ")");
  };
  hs_scratch_t* s = nullptr;
  hs_error_t e = set.scratch.empty() ? hs_alloc_scratch(set.db->db, &s) : hs_clone_scratch(set.scratch[0], &s);
  if (e != HS_SUCCESS) fail("scratch", e);
  set.scratch.push_back(s);
  if (!set.db->stream) return;
  hs_stream_t* d = nullptr;
  if ((e = hs_open_stream(set.db->db, 0, &d)) != HS_SUCCESS) fail("stream", e);
  set.datagram.push_back(d);
  auto& pool = set.streams.emplace_back();
  pool.reserve(stream_flows_);
  for (uint32_t i = 0; i < stream_flows_; ++i) {
    hs_stream_t* st = nullptr;
    if ((e = hs_open_stream(set.db->db, 0, &st)) != HS_SUCCESS) fail("stream", e);
    pool.push_back(st);
  }
}

void RegexPlugin::publish(std::unique_ptr<RegexSet> next) {
  next->generation = owner_ ? owner_->generation + 1 : 1;
  if (owner_) retired_.push_back(std::move(owner_));
  owner_ = std::move(next);
  cur_.store(owner_.get(), std::memory_order_seq_cst);
  gen_.store(owner_->generation, std::memory_order_seq_cst);
}

// As TagTablesHandle::acquire: the generation is announced before the set
// is read, so reclaim() never frees a set a worker may still read.
const RegexSet* RegexPlugin::acquire(unsigned worker) {
  Held& h = *held_[worker];
  const uint64_t g = gen_.load(std::memory_order_acquire);
  if (h.generation.load(std::memory_order_relaxed) == g) return h.set;
  h.generation.store(g, std::memory_order_seq_cst);
  h.set = cur_.load(std::memory_order_seq_cst);
  return h.set;
}

std::unique_ptr<WorkerProcessor> RegexPlugin::make_worker(unsigned worker_id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (worker_id != held_.size()) throw std::logic_error("regex: workers made out of order");
  add_worker(*owner_);
  held_.push_back(std::make_unique<Held>());
  counters_.push_back(std::make_unique<Counters>());
  return std::make_unique<RegexWorker>(*this, worker_id, *counters_.back());
}

MergeStats RegexPlugin::merge(const IntervalInfo&, std::vector<std::unique_ptr<IntervalResult>>& results) {
  for (const auto& r : results) {
    if (r && !dynamic_cast<const RegexResult*>(r.get())) throw std::logic_error("regex merge: result of another plugin");
  }
  return {};
}

std::string RegexPlugin::reload() {
  // Parse and compile without the lock: a bad file throws here and changes nothing.
  auto db = compile_rules(read_rules_file(file_), file_, stream_);
  const size_t rules = db->rules.size();
  uint64_t g;
  {
    std::lock_guard<std::mutex> lock(mu_);
    publish(make_set(std::move(db), static_cast<unsigned>(held_.size())));
    g = owner_->generation;
  }
  reclaim();
  return "regex: rules reloaded from " + file_ + ": " + std::to_string(rules) + " rules, generation " +
         std::to_string(g) + "; the workers take them at their next burst";
}

void RegexPlugin::reclaim() {
  std::lock_guard<std::mutex> lock(mu_);
  if (retired_.empty()) return;
  uint64_t oldest = kNone;
  for (const auto& h : held_) oldest = std::min(oldest, h->generation.load(std::memory_order_seq_cst));
  std::erase_if(retired_, [&](const std::unique_ptr<RegexSet>& s) { return s->generation < oldest; });
}

void RegexPlugin::metrics(PluginMetrics& out) const {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t bytes = 0, packets = 0;
  for (const auto& c : counters_) {
    bytes += c->bytes.load(std::memory_order_relaxed);
    packets += c->packets.load(std::memory_order_relaxed);
  }
  out.counter("privateer_regex_scanned_bytes_total", "Transport payload bytes scanned by the regex plugin", bytes);
  out.counter("privateer_regex_scanned_packets_total", "Packets with a transport payload scanned by the regex plugin",
              packets);
  if (stream_) {
    uint64_t streams = 0, evictions = 0;
    for (const auto& c : counters_) {
      streams += c->streams.load(std::memory_order_relaxed);
      evictions += c->evictions.load(std::memory_order_relaxed);
    }
    out.counter("privateer_regex_streams_total", "TCP flow directions the regex plugin gave a stream state (stream mode)",
                streams);
    out.counter("privateer_regex_stream_evictions_total",
                "Stream states taken from a flow still in the table for another (stream mode; its earlier bytes forgotten)",
                evictions);
  }
  for (size_t s = 0; s < slot_ids_.size(); ++s) {
    uint64_t n = 0;
    for (const auto& c : counters_) n += c->matches[s].load(std::memory_order_relaxed);
    out.counter("privateer_regex_matches_total", "Packets whose payload matched a regex rule, by rule ID", n,
                {{"rule", slot_ids_[s]}});
  }
}

}  // namespace privateer
