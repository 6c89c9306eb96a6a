// The regex plugin: every packet's transport payload is scanned against a
// Hyperscan database of the rules file (option `rules: FILE`, see
// rules.hpp); a rule whose protocol and port constraints hold counts the
// packet once. `mode: block` (the default) scans each payload as one block.
// `mode: stream` scans each direction of a TCP flow as one byte stream, the
// payloads in arrival order (no reassembly: what came, as it came), so a
// match split across packets is found and counted on the packet where it
// ends (`^` anchors at the stream's start); UDP payloads, and TCP ones of
// packets without a flow, are scanned each alone. A worker keeps
// `stream_flows` stream states, the least recently used given to a new
// flow direction (privateer_regex_stream_evictions_total counts those
// taken from a flow still in the table). Counters only, no files:
// privateer_regex_matches_total{rule="ID"}, privateer_regex_scanned_bytes_total
// and privateer_regex_scanned_packets_total. SIGHUP recompiles the file on
// the reloader's thread and publishes the database and fresh per-worker
// scratches together; a bad file keeps the old rules. Counters are per rule
// ID, so a rule kept across a reload goes on counting.
// A match of a rule marked `alarm` raises the alarm "match" on the packet's
// flow (where the run keeps flows: the plugin asks for them when its rules
// file has such a rule at start, and in stream mode).
#pragma once

#include <yaml-cpp/yaml.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "plugins/plugin_api.hpp"
#include "plugins/regex/rules.hpp"

namespace privateer {

// One generation of rules: the database, a scratch per worker and, per rule,
// its counter slot; in stream mode the workers' streams.
struct RegexSet {
  std::shared_ptr<const RegexDatabase> db;
  std::vector<hs_scratch_t*> scratch;   // [worker]
  std::vector<std::vector<hs_stream_t*>> streams;   // [worker][StreamPool entry]
  std::vector<hs_stream_t*> datagram;   // [worker]: for a payload scanned alone
  std::vector<uint32_t> slot;           // [rule index]
  uint64_t generation = 0;
  RegexSet() = default;
  RegexSet(const RegexSet&) = delete;
  RegexSet& operator=(const RegexSet&) = delete;
  ~RegexSet();
};

class RegexPlugin : public Plugin {
 public:
  // The most rule IDs a run counts (reloads included).
  static constexpr uint32_t kMaxRuleIds = 1u << 16;
  static constexpr uint32_t kMaxStreamFlows = 1u << 22;   // per worker
  // Throws ConfigError for bad options, RuleError for a bad rules file.
  RegexPlugin(const YAML::Node& options, const std::string& path);
  ~RegexPlugin() override;

  const std::string& name() const override;
  std::vector<std::string> alarm_reasons() const override {
    if (!alarms_) return {};
    return {"match"};
  }
  bool wants_flows() const override { return alarms_ || stream_; }
  void open_outputs(OutputProvider&) override {}
  std::unique_ptr<WorkerProcessor> make_worker(unsigned worker_id) override;
  MergeStats merge(const IntervalInfo& interval, std::vector<std::unique_ptr<IntervalResult>>& results) override;
  void metrics(PluginMetrics& out) const override;
  bool reloads() const override { return true; }
  std::string reload() override;
  void reclaim() override;

  // Worker side (RegexWorker).
  struct alignas(64) Counters {
    std::unique_ptr<std::atomic<uint64_t>[]> matches{new std::atomic<uint64_t>[kMaxRuleIds]()};
    std::atomic<uint64_t> bytes{0}, packets{0};
    std::atomic<uint64_t> streams{0}, evictions{0};   // stream mode
  };
  bool stream_mode() const { return stream_; }
  uint32_t stream_flows() const { return stream_flows_; }
  const RegexSet* acquire(unsigned worker);

 private:
  static constexpr uint64_t kNone = UINT64_MAX;
  struct alignas(64) Held {
    std::atomic<uint64_t> generation{kNone};
    const RegexSet* set = nullptr;
  };
  // Scratches for `workers` workers and counter slots (under mu_).
  std::unique_ptr<RegexSet> make_set(std::shared_ptr<const RegexDatabase> db, unsigned workers);
  void add_worker(RegexSet& set);                 // a scratch (and streams) for one more worker
  void publish(std::unique_ptr<RegexSet> next);   // under mu_

  std::string file_;
  bool alarms_ = false;   // the rules at start have an `alarm` rule
  bool stream_ = false;   // mode: stream
  uint32_t stream_flows_ = 16384;
  mutable std::mutex mu_;                         // control side: all below but cur_/gen_/held_ reads
  std::map<std::string, uint32_t> slot_of_;
  std::vector<std::string> slot_ids_;             // [slot]
  std::unique_ptr<RegexSet> owner_;               // what cur_ points at
  std::vector<std::unique_ptr<RegexSet>> retired_;
  std::atomic<const RegexSet*> cur_{nullptr};
  std::atomic<uint64_t> gen_{0};
  std::vector<std::unique_ptr<Held>> held_;       // [worker]
  std::vector<std::unique_ptr<Counters>> counters_;   // [worker]
};

}  // namespace privateer
