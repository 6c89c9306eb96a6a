#include "control/app.hpp"

#include <array>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <map>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "control/log.hpp"
#include "control/metrics.hpp"
#include "control/outputs.hpp"
#include "control/preflight.hpp"
#include "control/signals.hpp"
#include "control/sinks/sinks.hpp"
#include "control/reload.hpp"
#include "control/tagging.hpp"
#include "dataplane/filters.hpp"
#include "dataplane/runtime.hpp"
#include "hw/dpdk_source.hpp"
#include "hw/source.hpp"
#include "plugins/registry.hpp"

namespace privateer {
namespace {

using Clock = std::chrono::steady_clock;

// Nice value of the merge/output thread relative to the packet path.
constexpr int kMergeNice = 5;

// An input that is a stream (a FIFO, standard input): the output side treats
// it as a live capture, whatever its reader says (a full disk never stops it).
bool streamed_input(const std::vector<std::string>& sources) {
  for (const auto& s : sources) {
    struct stat st{};
    if (s == "-" || (::stat(s.c_str(), &st) == 0 && S_ISFIFO(st.st_mode))) return true;
  }
  return false;
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Per-plugin control-plane figures, read by the metrics endpoint.
struct PluginStats {
  std::atomic<uint64_t> intervals{0};
  std::atomic<uint64_t> merge_ns{0};
  std::atomic<uint64_t> last_merge_ns{0};
};

// Gathers the workers' results per interval and merges an interval once all
// workers have handed theirs in. Intervals complete in time order because
// every worker closes every interval in order.
class Merger {
 public:
  Merger(std::vector<std::unique_ptr<Plugin>>& plugins, OutputManager& out, unsigned workers, uint32_t interval)
      : plugins_(plugins), out_(out), workers_(workers), interval_(interval), stats_(plugins.size()),
        latest_(workers, 0), delivered_(workers, false) {
    for (auto& s : stats_) s = std::make_unique<PluginStats>();
  }

  void add(std::unique_ptr<IntervalDone> d) {
    Pending& p = pending_[d->interval_start];
    if (p.results.empty()) {
      p.results.resize(plugins_.size());
      for (auto& r : p.results) r.resize(workers_);
    }
    for (size_t i = 0; i < d->results.size() && i < plugins_.size(); ++i) p.results[i][d->worker] = std::move(d->results[i]);
    p.partial = p.partial || d->partial;
    latest_[d->worker] = d->interval_start;
    delivered_[d->worker] = true;
    // An interval is complete once every worker has delivered it or a later
    // one (each worker's intervals come in order; one that jumped over an
    // interval in a long time gap has no result for it).
    while (!pending_.empty()) {
      auto it = pending_.begin();
      for (unsigned w = 0; w < workers_; ++w) {
        if (!delivered_[w] || latest_[w] < it->first) {
          pending_count_.store(pending_.size(), std::memory_order_relaxed);
          return;
        }
      }
      write(it->first, it->second);
      pending_.erase(it);
    }
    pending_count_.store(pending_.size(), std::memory_order_relaxed);
  }

  const PluginStats& stats(size_t i) const { return *stats_[i]; }
  uint64_t intervals() const { return intervals_.load(std::memory_order_relaxed); }
  uint64_t partial_intervals() const { return partial_intervals_.load(std::memory_order_relaxed); }
  uint64_t last_closed_end() const { return last_closed_end_.load(std::memory_order_relaxed); }
  size_t pending() const { return pending_count_.load(std::memory_order_relaxed); }

 private:
  struct Pending {
    bool partial = false;
    std::vector<std::vector<std::unique_ptr<IntervalResult>>> results;  // [plugin][worker]
  };

  void write(uint64_t start, Pending& p) {
    IntervalInfo info{start, start + interval_, p.partial};
    out_.begin_interval(info);
    for (size_t i = 0; i < plugins_.size(); ++i) {
      const auto t0 = Clock::now();
      const MergeStats st = plugins_[i]->merge(info, p.results[i]);
      if (!st.log_line.empty()) log_info(st.log_line);
      const uint64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
      stats_[i]->merge_ns.fetch_add(ns, std::memory_order_relaxed);
      stats_[i]->last_merge_ns.store(ns, std::memory_order_relaxed);
      stats_[i]->intervals.fetch_add(1, std::memory_order_relaxed);
    }
    out_.end_interval(info);
    last_closed_end_.store(info.end, std::memory_order_relaxed);
    intervals_.fetch_add(1, std::memory_order_relaxed);
    if (info.partial) partial_intervals_.fetch_add(1, std::memory_order_relaxed);
  }
  std::vector<std::unique_ptr<Plugin>>& plugins_;
  OutputManager& out_;
  unsigned workers_;
  uint32_t interval_;
  std::vector<std::unique_ptr<PluginStats>> stats_;
  std::map<uint64_t, Pending> pending_;
  std::vector<uint64_t> latest_;    // per worker: the newest interval it delivered
  std::vector<bool> delivered_;     // per worker: delivered any yet
  std::atomic<size_t> pending_count_{0};
  std::atomic<uint64_t> intervals_{0};
  std::atomic<uint64_t> partial_intervals_{0};
  std::atomic<uint64_t> last_closed_end_{0};
};

std::string human_rate(double v) {
  char buf[32];
  if (v >= 1e6) std::snprintf(buf, sizeof buf, "%.2fM", v / 1e6);
  else if (v >= 1e3) std::snprintf(buf, sizeof buf, "%.1fk", v / 1e3);
  else std::snprintf(buf, sizeof buf, "%.0f", v);
  return buf;
}

void register_dpdk_metrics(MetricsRegistry& reg, const DpdkContext& dpdk) {
  reg.add([&dpdk](MetricsWriter& w) {
    for (size_t p = 0; p < dpdk.ports(); ++p) {
      const std::string port = dpdk.port_name(p);
      for (uint16_t q = 0; q < dpdk.queues(p); ++q) {
        w.counter("privateer_nic_rx_packets_total", "Packets a DPDK rx queue delivered, per port and queue",
                  dpdk.queue_stat_packets(p, q), {{"port", port}, {"queue", std::to_string(q)}});
      }
      const DpdkPortStats st = dpdk.port_stats(p);
      w.counter("privateer_rx_port_packets_total", "Packets the port received (NIC counter)", st.ipackets, {{"port", port}});
      w.counter("privateer_rx_port_bytes_total", "Bytes the port received (NIC counter)", st.ibytes, {{"port", port}});
      const char* help = "Packets the port lost before analysis, by reason (NIC counters)";
      w.counter("privateer_rx_dropped_packets_total", help, st.imissed, {{"port", port}, {"reason", "imissed"}});
      w.counter("privateer_rx_dropped_packets_total", help, st.rx_nombuf, {{"port", port}, {"reason", "no_mbuf"}});
      w.counter("privateer_rx_dropped_packets_total", help, st.ierrors, {{"port", port}, {"reason", "rx_error"}});
    }
  });
}

// Input damage by reason, in kInputDamageReasons order.
std::vector<uint64_t> damage_by_reason(const std::vector<InputDamage>& damage) {
  std::vector<uint64_t> n(std::size(kInputDamageReasons));
  for (const auto& d : damage) {
    for (size_t i = 0; i < n.size(); ++i) n[i] += d.reason == kInputDamageReasons[i];
  }
  return n;
}

// The damage of a capture source and the packets it left out (files and
// libtrace sources; not DPDK ports).
void register_input_metrics(MetricsRegistry& reg, const PacketSource& src) {
  reg.add([&src](MetricsWriter& w) {
    const std::vector<uint64_t> n = damage_by_reason(src.damage());
    for (size_t i = 0; i < n.size(); ++i) {
      w.counter("privateer_input_errors_total",
                "Input files that could not be read to their end, by reason (each stops at its damage; the "
                "packets before it are analysed)",
                n[i], {{"reason", kInputDamageReasons[i]}});
    }
    w.counter("privateer_skipped_packets_total", "Packets not analysed, by reason", src.bad_timestamps(),
              {{"reason", "bad_timestamp"}});
  });
}

// The flow tables' counters of every worker, summed.
struct FlowTotals {
  std::array<uint64_t, kFlowEvents> events{};
  std::array<uint64_t, kMaxAlarmReasons> alarms{};
  uint64_t active = 0, bytes = 0;
};
FlowTotals flow_totals(const Runtime& rt) {
  FlowTotals t;
  for (unsigned w = 0; w < rt.workers(); ++w) {
    const FlowTable* f = rt.flow_table(w);
    if (!f) continue;
    for (size_t e = 0; e < kFlowEvents; ++e) t.events[e] += f->counters().events[e].load(std::memory_order_relaxed);
    for (size_t a = 0; a < kMaxAlarmReasons; ++a) t.alarms[a] += f->counters().alarms[a].load(std::memory_order_relaxed);
    t.active += f->counters().active.load(std::memory_order_relaxed);
    t.bytes += f->memory_bytes();
  }
  return t;
}

// The tag counters of every worker, summed.
struct TagTotals {
  std::array<uint64_t, 64> builtin{}, custom{}, removed_builtin{}, removed_custom{};
  uint64_t input_filtered = 0;
};
TagTotals tag_totals(const Runtime& rt) {
  TagTotals t;
  for (unsigned w = 0; w < rt.workers(); ++w) {
    const TagCounters* c = rt.tag_counters(w);
    if (!c) continue;
    t.input_filtered += c->input_filtered.load(std::memory_order_relaxed);
    for (size_t i = 0; i < 64; ++i) {
      t.builtin[i] += c->builtin[i].load(std::memory_order_relaxed);
      t.removed_builtin[i] += c->removed_builtin[i].load(std::memory_order_relaxed);
    }
    for (size_t i = 0; i < kMaxCustomFilters; ++i) {
      t.custom[i] += c->custom[i].load(std::memory_order_relaxed);
      t.removed_custom[i] += c->removed_custom[i].load(std::memory_order_relaxed);
    }
  }
  return t;
}

// Per-filter and per-removal-reason counts (name, count), in id order:
// every built-in filter when they are computed, every custom filter, and
// every reason the run removes packets for.
std::vector<std::pair<std::string, uint64_t>> filter_counts(const TagSettings& s, const TagTotals& t) {
  std::vector<std::pair<std::string, uint64_t>> out;
  for (size_t b = 0; s.builtin_filters && b < kBuiltinFilterCount; ++b) out.emplace_back(builtin_filter_name(b), t.builtin[b]);
  for (size_t i = 0; i < s.custom_names.size(); ++i) out.emplace_back(s.custom_names[i], t.custom[i]);
  return out;
}
std::vector<std::pair<std::string, uint64_t>> removal_counts(const TagSettings& s, const TagTotals& t) {
  std::vector<std::pair<std::string, uint64_t>> out;
  for (uint64_t bits = s.remove_builtin | s.keep_builtin; bits; bits &= bits - 1) {
    const size_t b = static_cast<size_t>(__builtin_ctzll(bits));
    out.emplace_back(removal_reason_name(s, b), t.removed_builtin[b]);
  }
  for (uint64_t bits = s.remove_custom; bits; bits &= bits - 1) {
    const size_t i = static_cast<size_t>(__builtin_ctzll(bits));
    if (i < s.custom_names.size()) out.emplace_back(s.custom_names[i], t.removed_custom[i]);
  }
  return out;
}

// `input_filter`: the run has corsarotrace's `filter`; its drops are
// removals for reason "filter".
void register_tag_metrics(MetricsRegistry& reg, const Runtime& rt, const TagSettings& settings, bool input_filter) {
  reg.add([&rt, &settings, input_filter](MetricsWriter& w) {
    const TagTotals t = tag_totals(rt);
    for (const auto& [name, n] : filter_counts(settings, t)) {
      w.counter("privateer_filter_packets_total",
                "Packets a filter matched (built-in: corsaro3's filters on IPv4 packets; not-ip: the others)", n,
                {{"filter", name}});
    }
    for (const auto& [reason, n] : removal_counts(settings, t)) {
      w.counter("privateer_removed_packets_total",
                "Packets removed before the plugins, by the first removing filter that matched", n,
                {{"reason", reason}});
    }
    if (input_filter) {
      w.counter("privateer_removed_packets_total",
                "Packets removed before the plugins, by the first removing filter that matched", t.input_filtered,
                {{"reason", "filter"}});
    }
  });
}

// `files`: the source has input progress (files, libtrace; not DPDK ports).
void register_metrics(MetricsRegistry& reg, const std::string& source_name, bool files, const Runtime& rt,
                      const std::vector<std::unique_ptr<Plugin>>& plugins, const Merger& merger,
                      const OutputManager& outputs, const std::vector<std::pair<std::string, std::string>>& alarms) {
  reg.add(write_process_metrics);
  reg.add([&rt, source_name, files, alarms](MetricsWriter& w) {
    const DispatcherCounters& d = rt.dispatcher_counters();
    const MetricLabels src{{"source", source_name}};
    w.gauge("privateer_build_info", "Build information", 1, {{"version", PRIVATEER_VERSION}});
    w.counter("privateer_rx_packets_total", "Packets read from the capture source (all DPDK queues together)",
              d.packets.load(), src);
    w.counter("privateer_rx_bytes_total", "Wire bytes of the packets read from the capture source", d.bytes.load(), src);
    if (files) {
      w.counter("privateer_source_read_bytes_total", "Bytes of the input files consumed so far",
                d.source_bytes_read.load(), src);
      w.gauge("privateer_source_size_bytes", "Total bytes of the input files (0 where unknown)",
              d.source_bytes_total.load(), src);
    }
    for (size_t e = 1; e < kDecodeErrorCount; ++e) {
      w.counter("privateer_decode_errors_total", "Packets that could not be decoded completely, by reason",
                d.decode_errors[e].load(), {{"reason", decode_error_name(static_cast<DecodeError>(e))}});
    }
    w.counter("privateer_skipped_packets_total", "Packets not analysed, by reason", d.before_start.load(),
              {{"reason", "before_startboundaryts"}});
    w.counter("privateer_late_packets_total", "Packets older than the open interval (counted with their own interval time)", d.late_packets.load());
    w.counter("privateer_time_jumps_total", "Forward time jumps too long to fill with empty intervals", d.time_jumps.load());
    w.counter("privateer_idle_closed_intervals_total", "Intervals a live source closed by the clock while no packet arrived", d.idle_closed_intervals.load());
    w.counter("privateer_truncated_packets_total", "Packets cut to fit a batch buffer", d.truncated_to_batch.load(),
              {{"reason", "batch_arena"}});
    w.counter("privateer_dispatch_ring_full_waits_total", "Times the dispatcher waited for a worker ring with room (files are never dropped)", d.ring_full_waits.load());
    w.counter("privateer_dispatch_merge_waits_total", "Times the dispatcher waited for the control plane to merge older intervals", d.merge_waits.load());
    if (rt.workers() && rt.flow_table(0)) {
      const auto f = flow_totals(rt);
      for (size_t e = 0; e < kFlowEvents; ++e) {
        w.counter("privateer_flows_total",
                  "Flow table events: created, ended (idle_timeout, active_timeout, tcp_end, evicted) and packets not_tracked (a bucket of flows all in use)",
                  f.events[e], {{"event", flow_event_name(static_cast<FlowEvent>(e))}});
      }
      w.gauge("privateer_flows_active", "Flows in the workers' flow tables", f.active);
      for (size_t a = 0; a < alarms.size(); ++a) {
        w.counter("privateer_alarms_total", "Flows a plugin raised an alarm on, by plugin and reason", f.alarms[a],
                  {{"plugin", alarms[a].first}, {"reason", alarms[a].second}});
      }
      w.gauge("privateer_flow_table_bytes", "Memory of the workers' flow tables", f.bytes);
    }
    for (unsigned i = 0; i < rt.workers(); ++i) {
      const WorkerCounters& c = rt.worker_counters(i);
      const MetricLabels wl{{"worker", std::to_string(i)}};
      w.counter("privateer_worker_packets_total", "Packets processed by a worker", c.packets.load(), wl);
      w.counter("privateer_worker_bytes_total", "Wire bytes processed by a worker", c.bytes.load(), wl);
      w.counter("privateer_worker_busy_polls_total", "Worker ring polls that found work", c.busy_polls.load(), wl);
      w.counter("privateer_worker_idle_polls_total", "Worker ring polls that found nothing", c.idle_polls.load(), wl);
      w.counter("privateer_worker_intervals_total", "Intervals a worker closed", c.intervals.load(), wl);
      w.counter("privateer_ring_dropped_packets_total", "Live input dropped because this worker's ring was full", c.ring_drops.load(), wl);
    }
  });
  reg.add([&rt, &plugins, &merger](MetricsWriter& w) {
    // Packets removed by the tag filters never reach the plugins (read
    // first: a worker counts a packet before it can remove it).
    const TagTotals t = tag_totals(rt);
    uint64_t removed = t.input_filtered;
    for (size_t i = 0; i < 64; ++i) removed += t.removed_builtin[i] + t.removed_custom[i];
    uint64_t pkts = 0;
    for (unsigned i = 0; i < rt.workers(); ++i) pkts += rt.worker_counters(i).packets.load();
    pkts = pkts > removed ? pkts - removed : 0;
    for (size_t i = 0; i < plugins.size(); ++i) {
      const MetricLabels pl{{"plugin", plugins[i]->name()}};
      const PluginStats& s = merger.stats(i);
      w.counter("privateer_plugin_packets_total", "Packets a plugin was fed", pkts, pl);
      w.counter("privateer_plugin_intervals_total", "Intervals a plugin merged and wrote", s.intervals.load(), pl);
      w.counter("privateer_interval_merge_seconds_total", "Time spent merging and writing intervals", s.merge_ns.load() / 1e9, pl);
      w.gauge("privateer_interval_merge_last_seconds", "Time the last interval's merge and write took", s.last_merge_ns.load() / 1e9, pl);
    }
    w.counter("privateer_intervals_total", "Intervals closed and written", merger.intervals());
    w.gauge("privateer_unmerged_intervals", "Intervals closed by the workers and not yet merged and written", merger.pending());
    w.counter("privateer_partial_intervals_total", "Intervals closed as partial (start or end of the run, or a signal)", merger.partial_intervals());
    w.gauge("privateer_last_interval_end_timestamp_seconds", "End of the last completed interval, unix time", merger.last_closed_end());
  });
  // Each plugin's own counters (Plugin::metrics).
  reg.add([&plugins](MetricsWriter& w) {
    struct Adapter : PluginMetrics {
      MetricsWriter& w;
      explicit Adapter(MetricsWriter& w) : w(w) {}
      void counter(const std::string& name, const std::string& help, double value,
                   const std::vector<std::pair<std::string, std::string>>& labels) override {
        w.counter(name, help, value, labels);
      }
    } a(w);
    for (const auto& p : plugins) p->metrics(a);
  });
  reg.add([&outputs](MetricsWriter& w) {
    for (const auto& s : outputs.streams()) {
      const MetricLabels sl{{"stream", s->stream()}};
      w.counter("privateer_output_records_total", "Records written", s->records(), sl);
      w.counter("privateer_output_bytes_total", "Bytes of completed output files", s->bytes(), sl);
      w.counter("privateer_output_files_total", "Output files completed (renamed and marked done)", s->files(), sl);
      w.counter("privateer_output_rotations_total", "Output file rotations", s->rotations(), sl);
    }
    for (const auto& s : outputs.streams()) {
      for (size_t r = 0; r < kDropReasons; ++r) {
        w.counter("privateer_output_dropped_records_total",
                  "Records that did not reach a complete output file, by reason (no_space, io_error, file_removed)",
                  s->dropped(static_cast<DropReason>(r)),
                  {{"stream", s->stream()}, {"reason", drop_reason_name(static_cast<DropReason>(r))}});
      }
    }
    for (const auto& s : outputs.packet_streams()) {
      const MetricLabels sl{{"stream", s->stream()}};
      w.counter("privateer_packet_output_packets_total", "Packets in completed packet files", s->packets(), sl);
      w.counter("privateer_packet_output_bytes_total", "Bytes of completed packet files (as on disk)", s->bytes(), sl);
      w.counter("privateer_packet_output_files_total", "Packet files completed (renamed and marked done)", s->files(), sl);
      w.counter("privateer_packet_output_failed_files_total", "Packet files given up (a write failed; the .tmp kept)",
                s->failed_files(), sl);
    }
    for (const auto& s : outputs.packet_streams()) {
      for (size_t r = 0; r < kPacketDropReasons; ++r) {
        w.counter("privateer_packet_output_dropped_packets_total",
                  "Packets that did not reach a complete packet file, by reason (buffer_full, no_space, io_error, linktype)",
                  s->dropped(static_cast<PacketDrop>(r)),
                  {{"stream", s->stream()}, {"reason", packet_drop_name(static_cast<PacketDrop>(r))}});
      }
    }
    for (const auto& s : outputs.line_sinks()) {
      for (const char* r : {"sent", "dropped"}) {
        w.counter("privateer_socket_lines_total", "Lines to a socket sink: sent, or dropped (queue full, a failed UDP send, left at the end)",
                  r[0] == 's' ? s->sent() : s->dropped(), {{"sink", s->name()}, {"result", r}});
      }
    }
    for (const auto& s : outputs.line_sinks()) {
      w.counter("privateer_socket_connects_total", "Connections a socket sink made (TCP: every reconnection)", s->connects(),
                {{"sink", s->name()}});
      w.gauge("privateer_socket_connected", "Whether a socket sink is connected now", s->connected() ? 1 : 0,
              {{"sink", s->name()}});
    }
    w.counter("privateer_output_compressed_blocks_total", "Avro blocks compressed by the output threads",
              outputs.blocks_compressed());
    w.gauge("privateer_output_threads", "Output threads (block compression and merge tasks)", outputs.output_threads());
  });
}

// SIGUSR1: the main counters, as two log lines.
void log_counters(const std::string& source_name, const Runtime& rt, const Merger& merger,
                  const OutputManager& outputs) {
  const DispatcherCounters& d = rt.dispatcher_counters();
  std::ostringstream a;
  a << "counters: " << d.packets.load() << " packets (" << d.bytes.load() << " bytes) read from " << source_name
    << "; per worker:";
  uint64_t drops = 0;
  for (unsigned w = 0; w < rt.workers(); ++w) {
    a << " " << w << "=" << rt.worker_counters(w).packets.load();
    drops += rt.worker_counters(w).ring_drops.load();
  }
  if (drops) a << " (" << drops << " dropped, rings full)";
  a << "; intervals: " << merger.intervals() << " written (" << merger.partial_intervals() << " partial), "
    << merger.pending() << " waiting to be merged";
  log_info(a.str());
  std::ostringstream b;
  b << "counters: output";
  const char* sep = " ";
  for (const auto& s : outputs.streams()) {
    b << sep << s->stream() << " " << s->records() << " records in " << s->files() << " completed file(s)";
    sep = ", ";
  }
  log_info(b.str());
}

}  // namespace

// Switches to `user` (its group and supplementary groups too) for good.
void drop_privileges(const std::string& user) {
  switch_user(user);
  log_info("running as user " + user + " (uid " + std::to_string(getuid()) + ")");
}

int run_appliance(const Config& cfg, const RunOptions& opt) {
  // Before any other thread: they all inherit its blocked signal mask.
  SignalWatcher signals;

  // Made while still root; new directories go to the user the run drops to.
  make_output_directory(cfg);

  // Tag tables before anything is opened: a bad file stops the run here.
  std::unique_ptr<TagTablesHandle> tag_tables;
  const auto tables_t0 = Clock::now();
  if (auto tables = build_tag_tables(cfg)) {
    for (const auto& l : describe_tag_tables(cfg, *tables)) log_info(l);
    char took[64];
    std::snprintf(took, sizeof took, "tag tables built in %.3f s", seconds_since(tables_t0));
    log_info(took);
    tag_tables = std::make_unique<TagTablesHandle>(tables, cfg.threads);
  }
  // SIGHUP rebuilds them from the same files on the reloader's thread.
  std::unique_ptr<TagReloader> reloader;
  if (tag_tables) reloader = std::make_unique<TagReloader>(*tag_tables, [&cfg] { return build_tag_tables(cfg); });
  // However this function is left, the watcher lets go of the reloaders first.
  struct DropReloadOnExit {
    SignalWatcher& s;
    ~DropReloadOnExit() { s.on_reload(nullptr); }
  } drop_reload{signals};

  std::vector<std::unique_ptr<Plugin>> plugins;
  for (const auto& spec : cfg.plugins) {
    plugins.push_back(make_plugin(spec.name, spec.options, spec.path, cfg.interval,
                                  PluginContext{!cfg.tagproviders.maxmind.empty(), !cfg.tagproviders.pfx2as.empty(), cfg.tags.custom_names}));
  }
  // Plugins with files of their own (regex rules) reload them on SIGHUP too,
  // on a thread of their own; it stops before the plugins are destroyed.
  std::vector<Plugin*> reloading;
  for (auto& p : plugins) {
    if (p->reloads()) reloading.push_back(p.get());
  }
  std::unique_ptr<PluginReloader> plugin_reloader;
  if (!reloading.empty()) plugin_reloader = std::make_unique<PluginReloader>(reloading);
  if (reloader || plugin_reloader) {
    signals.on_reload([&reloader, &plugin_reloader] {
      if (reloader) reloader->request();
      if (plugin_reloader) plugin_reloader->request();
    });
  } else {
    signals.on_reload([] { log_info("received SIGHUP: the run has no tag tables (no tagproviders, no filters) and no plugin with files to reload: nothing to reload"); });
  }
  DropReloadOnExit drop_plugin_reload{signals};
  OutputSettings os;
  os.outtemplate = cfg.outtemplate;
  os.monitorid = cfg.monitorid;
  os.interval_seconds = cfg.interval;
  os.rotatefreq = cfg.rotatefreq;
  os.avro = cfg.output;
  OutputManager outputs(os, cfg.threads);
  log_info(std::string("output: Avro codec ") + codec_name(cfg.output.codec.codec) + ", " +
           std::to_string(cfg.output.block_size) + "-byte blocks, " + std::to_string(outputs.output_threads()) +
           " output thread(s)");
  // The timeseries sinks (libtimeseriesbackends): owned by the outputs, sending
  // on their own threads from now on; a server that is down is retried.
  SinkHub* sinks = nullptr;
  if (!cfg.timeseries.empty()) {
    auto hub = std::make_unique<SinkHub>(cfg.timeseries);
    sinks = hub.get();
    for (const auto& t : cfg.timeseries) {
      log_info("timeseries sink " + t.name + " (" + t.key + "): queue " + std::to_string(t.queue_points) +
               " points, flush_timeout " + std::to_string(t.flush_timeout) + " s");
    }
    outputs.set_timeseries(std::move(hub));
  }
  for (auto& p : plugins) {
    p->open_outputs(outputs);
    p->set_task_runner(&outputs.task_runner());
  }
  outputs.report_leftovers();

  // Sources. Declared before the runtime so that they outlive its threads;
  // the DPDK context outlives its queue sources (their mbufs).
  std::unique_ptr<DpdkContext> dpdk;
  std::vector<std::unique_ptr<PacketSource>> queue_sources;
  std::unique_ptr<PacketSource> source;
  std::string source_name;
  if (cfg.dpdk.enabled) {
    DpdkConfig dcfg;
    dcfg.eal = cfg.dpdk.eal;
    for (const auto& p : cfg.dpdk.ports) {
      DpdkPortConfig pc;
      pc.device = p.device;
      pc.rx_queues = static_cast<uint16_t>(p.rx_queues);
      pc.rx_descriptors = static_cast<uint16_t>(p.rx_descriptors);
      pc.promiscuous = p.promiscuous;
      pc.mtu = static_cast<uint16_t>(p.mtu);
      dcfg.ports.push_back(pc);
    }
    dcfg.mbuf_pool_size = cfg.dpdk.mbuf_pool_size;
    dcfg.burst_size = static_cast<uint16_t>(cfg.dpdk.burst_size);
    dpdk = DpdkContext::start(dcfg);
    log_info(dpdk->describe());
    queue_sources = dpdk->take_queue_sources();
    source_name = "dpdk";
  } else {
    // A stop signal while a FIFO waits for its writer ends the wait.
    signals.on_run([] { interrupt_sources(); }, nullptr);
    try {
      source = open_sources(cfg.packetsources);
    } catch (const SourceInterrupted& e) {
      log_info(std::string("stopped before any input came: ") + e.what());
      return 0;
    }
    source_name = source->name();
  }

  RuntimeOptions ro;
  ro.workers = cfg.threads;
  ro.interval_seconds = cfg.interval;
  ro.start_boundary = cfg.startboundaryts;
  ro.end_boundary = cfg.endboundaryts;
  ro.batches_per_worker = cfg.ring_size;
  ro.max_gap_intervals = cfg.max_gap_intervals;
  ro.live = dpdk ? true : source->live();
  const bool live_outputs = ro.live || (!dpdk && streamed_input(cfg.packetsources));
  outputs.set_live(live_outputs);
  // A live capture never waits for the output side (its NIC queue would
  // overflow); file input is paced by the merges so memory stays bounded.
  ro.max_unmerged_intervals = ro.live ? 0 : 2;
  if (dpdk) {
    // Each polling worker on its own EAL worker lcore, where there are enough.
    const std::vector<int> cpus = dpdk->worker_cpus();
    if (cpus.size() >= cfg.threads) {
      ro.worker_cpus.assign(cpus.begin(), cpus.begin() + cfg.threads);
      std::string list;
      for (int c : ro.worker_cpus) list += (list.empty() ? "" : ",") + std::to_string(c);
      log_info("polling workers pinned to CPUs " + list + " (EAL worker lcores)");
    } else {
      log_warning("the EAL has " + std::to_string(cpus.size()) + " worker lcore(s) for " + std::to_string(cfg.threads) +
                  " worker(s): workers not pinned (give -l with one core per worker plus the main one)");
    }
  }
  ro.live_lateness_seconds = cfg.live_lateness;
  ro.tags = &cfg.tags;
  // Flow tables where the config or a plugin asks for them; each plugin's
  // alarm reasons get consecutive ids.
  FlowSettings flows = cfg.flows;
  std::vector<std::pair<std::string, std::string>> alarm_names;   // (plugin, reason) by id
  for (const auto& p : plugins) {
    flows.enabled = flows.enabled || p->wants_flows();
    ro.first_alarm.push_back(static_cast<unsigned>(alarm_names.size()));
    for (const auto& r : p->alarm_reasons()) alarm_names.emplace_back(p->name(), r);
  }
  if (alarm_names.size() > kMaxAlarmReasons) {
    throw std::runtime_error("the plugins raise alarms for " + std::to_string(alarm_names.size()) + " reasons; at most " +
                             std::to_string(kMaxAlarmReasons) + " are counted");
  }
  if (flows.enabled) ro.flows = &flows;
  ro.tag_tables = tag_tables.get();
  for (const auto& spec : cfg.plugins) ro.plugin_filters.push_back(spec.filter);
  std::vector<std::vector<std::unique_ptr<WorkerProcessor>>> procs(cfg.threads);
  for (unsigned w = 0; w < cfg.threads; ++w) {
    for (auto& p : plugins) procs[w].push_back(p->make_worker(w));
  }
  Runtime rt(ro, std::move(procs));
  Merger merger(plugins, outputs, cfg.threads, cfg.interval);

  auto registry = std::make_shared<MetricsRegistry>();
  // The samplers read rt, plugins, merger, outputs and dpdk: however this
  // function is left, they are dropped before those objects die (and after
  // the endpoint, declared below, has stopped scraping).
  struct CloseOnExit {
    MetricsRegistry& reg;
    ~CloseOnExit() { reg.close(); }
  } close_registry{*registry};
  register_metrics(*registry, source_name, !dpdk, rt, plugins, merger, outputs, alarm_names);
  outputs.set_counter_registry(registry);
  register_tag_metrics(*registry, rt, cfg.tags, !cfg.input_filter.key.empty());
  if (source) register_input_metrics(*registry, *source);
  if (dpdk) register_dpdk_metrics(*registry, *dpdk);
  if (sinks) register_sink_metrics(*registry, *sinks);
  if (plugin_reloader) {
    registry->add([&r = *plugin_reloader](MetricsWriter& w) {
      const char* help = "Reloads of plugins' own files (regex rules) asked for by SIGHUP, by result";
      w.counter("privateer_plugin_reloads_total", help, r.ok(), {{"result", "ok"}});
      w.counter("privateer_plugin_reloads_total", help, r.failed(), {{"result", "failed"}});
    });
  }
  if (reloader) {
    registry->add([&r = *reloader](MetricsWriter& w) {
      const char* help = "Reloads of the tag tables asked for by SIGHUP, by result (source: all tables at once)";
      w.counter("privateer_tag_reloads_total", help, r.ok(), {{"source", "all"}, {"result", "ok"}});
      w.counter("privateer_tag_reloads_total", help, r.failed(), {{"source", "all"}, {"result", "failed"}});
    });
  }
  std::unique_ptr<MetricsEndpoint> endpoint;
  if (cfg.prometheus.enabled) {
    try {
      endpoint = std::make_unique<MetricsEndpoint>(cfg.prometheus.listen, registry);
      const std::string host = cfg.prometheus.listen.substr(0, cfg.prometheus.listen.rfind(':'));
      log_info("metrics on http://" + host + ":" + std::to_string(endpoint->port()) + "/metrics");
    } catch (const std::runtime_error& e) {
      // A live capture is watched through its endpoint: it does not start
      // without it. File runs are often many at once on one config (one
      // process per file): the endpoint is a convenience there.
      if (ro.live) {
        throw ConfigError("prometheus.listen", cfg.prometheus.listen_line,
                          std::string(e.what()) + " (a live capture does not start without its metrics endpoint)");
      }
      log_warning(std::string(e.what()) + " Reading the file(s) without a metrics endpoint (prometheus.listen " +
                  "with port 0 picks a free port)");
    }
  }

  // Ports, input files and the endpoint are open: root is not needed any more.
  if (!cfg.user.empty()) drop_privileges(cfg.user);

  const bool show_progress =
      cfg.progress == ProgressMode::yes || (cfg.progress == ProgressMode::auto_detect && isatty(STDERR_FILENO));

  log_info("reading " + source_name + " with " + std::to_string(cfg.threads) + " worker(s), " +
           std::to_string(cfg.interval) + " s intervals");
  const auto t0 = Clock::now();
  if (dpdk) {
    // Queue q of every port goes to worker q % threads.
    std::vector<std::vector<BurstReader>> readers(cfg.threads);
    size_t k = 0;
    for (size_t p = 0; p < dpdk->ports(); ++p) {
      for (uint16_t q = 0; q < dpdk->queues(p); ++q, ++k) {
        PacketSource* qs = queue_sources[k].get();
        readers[q % cfg.threads].push_back([qs](RawPacket* out, size_t max, bool* eof) {
          *eof = false;
          return qs->read_burst(out, max);
        });
      }
    }
    for (unsigned w = 0; w < cfg.threads; ++w) {
      if (readers[w].empty()) log_warning("worker " + std::to_string(w) + " has no NIC queue to poll: more threads than rx_queues");
    }
    rt.start_polling(std::move(readers));
  } else {
    PacketSource* src = source.get();
    DispatcherCounters* dc = const_cast<DispatcherCounters*>(&rt.dispatcher_counters());
    rt.start([src, dc, bursts = uint64_t{0}](RawPacket* out, size_t max, bool* eof) mutable {
      const size_t n = src->read_burst(out, max);
      *eof = n == 0 && src->eof();
      // Progress of compressed input costs system calls: look every 64 bursts.
      if ((bursts++ & 63) == 0 || *eof) {
        const SourceProgress p = src->progress();
        dc->source_bytes_read.store(p.bytes_read, std::memory_order_relaxed);
        dc->source_bytes_total.store(p.bytes_total, std::memory_order_relaxed);
      }
      return n;
    });
  }

  // Interval merges and output writing run on their own thread at a lower
  // CPU priority than the dispatcher and the workers: the packet path is
  // never starved by output work, which can wait for idle time.
  std::atomic<bool> merge_done{false};
  std::exception_ptr merge_error;
  std::thread merge_thread([&] {
    pthread_setname_np(pthread_self(), "pvt-merge");
    setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), kMergeNice);
    try {
      for (;;) {
        if (auto d = rt.poll_result()) {
          merger.add(std::move(d));
          rt.set_merged_intervals(merger.intervals());
          // A file run stops reading at its first output failure.
          if (!live_outputs && outputs.failed()) rt.request_stop();
        } else if (rt.finished()) {
          auto last = rt.poll_result();
          if (!last) break;
          merger.add(std::move(last));
        } else {
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
      }
    } catch (...) {
      merge_error = std::current_exception();
      rt.request_stop();
      // Keep the workers' result ring drained so that they can finish.
      while (!rt.finished() || rt.poll_result()) {
        while (rt.poll_result()) {
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
    merge_done.store(true, std::memory_order_release);
  });

  // From here a stop signal closes the open interval as partial; the
  // watcher lets go of rt, merger and outputs before they are destroyed.
  struct ClearOnExit {
    SignalWatcher& s;
    ~ClearOnExit() { s.clear(); }
  } clear_signals{signals};
  signals.on_run(
      [&rt] {
        rt.request_stop();
        interrupt_sources();  // a reader waiting for a FIFO's next bytes
      },
      [&source_name, &rt, &merger, &outputs] { log_counters(source_name, rt, merger, outputs); });
  if (signals.stop_signal()) rt.request_stop();  // one came while the source was opened
  // Damage is logged as the reader meets it (looked at every tick).
  size_t damage_logged = 0;
  auto log_new_damage = [&] {
    if (!source) return;
    const std::vector<InputDamage> dmg = source->damage();
    for (; damage_logged < dmg.size(); ++damage_logged) {
      const InputDamage& d = dmg[damage_logged];
      log_warning("input damaged: " + d.path + ": " + d.reason + " at byte " + std::to_string(d.offset) + ": " +
                  d.message + "; the packets before it are kept, the rest of this file is not read");
    }
  };
  int exit_status = 0;
  auto last_progress = Clock::now();
  const timespec tick{0, 50 * 1000 * 1000};  // 50 ms
  while (!merge_done.load(std::memory_order_acquire)) {
    nanosleep(&tick, nullptr);
    log_new_damage();
    if (reloader) reloader->reclaim();
    if (plugin_reloader) plugin_reloader->reclaim();
    if (show_progress && seconds_since(last_progress) >= 0.5) {
      last_progress = Clock::now();
      const DispatcherCounters& d = rt.dispatcher_counters();
      const double el = seconds_since(t0);
      const uint64_t total = d.source_bytes_total.load();
      char pct[32] = "";
      if (total) std::snprintf(pct, sizeof pct, "  %5.1f%%", 100.0 * d.source_bytes_read.load() / total);
      std::fprintf(stderr, "\r\033[K%llu packets  %s pkt/s%s", static_cast<unsigned long long>(d.packets.load()),
                   human_rate(d.packets.load() / (el > 0 ? el : 1)).c_str(), pct);
      std::fflush(stderr);
    }
  }
  merge_thread.join();
  const bool stopped_by_signal = signals.stop_signal() != 0;
  try {
    rt.join();
    if (merge_error) std::rethrow_exception(merge_error);
  } catch (const std::exception& e) {
    if (show_progress) std::fprintf(stderr, "\n");
    log_error(std::string("run failed: ") + e.what());
    // Files still open keep their temporary names: no .done marker is written.
    return 1;
  }
  if (show_progress) std::fprintf(stderr, "\r\033[K");
  log_new_damage();
  outputs.finish();
  if (sinks) sinks->close();
  const double elapsed = seconds_since(t0);

  // The run summary.
  const DispatcherCounters& d = rt.dispatcher_counters();
  std::ostringstream sum;
  sum << "privateer: " << d.packets.load() << " packets (" << d.bytes.load() << " bytes) from " << source_name
      << " in " << std::fixed;
  sum.precision(2);
  sum << elapsed << " s (" << human_rate(d.packets.load() / (elapsed > 0 ? elapsed : 1)) << " pkt/s), "
      << cfg.threads << " worker(s)\n";
  const double proc = rt.processing_seconds();
  sum.precision(3);
  sum << "  analysis (read, decode, plugins) done after " << proc << " s ("
      << human_rate(d.packets.load() / (proc > 0 ? proc : 1)) << " pkt/s); the last merge and write took "
      << (elapsed - proc) << " s\n";
  sum.precision(2);
  uint64_t errors = 0;
  std::ostringstream errs;
  for (size_t e = 1; e < kDecodeErrorCount; ++e) {
    const uint64_t n = d.decode_errors[e].load();
    if (n) errs << " " << decode_error_name(static_cast<DecodeError>(e)) << "=" << n;
    errors += n;
  }
  sum << "  decode errors: " << errors << (errors ? " (" + errs.str().substr(1) + ")" : std::string()) << "\n";
  const std::vector<InputDamage> damage = source ? source->damage() : std::vector<InputDamage>{};
  if (source) {
    sum << "  input damaged: " << damage.size() << " file(s)";
    const std::vector<uint64_t> by = damage_by_reason(damage);
    std::string list;
    for (size_t i = 0; i < by.size(); ++i) {
      if (by[i]) list += (list.empty() ? "" : " ") + std::string(kInputDamageReasons[i]) + "=" + std::to_string(by[i]);
    }
    sum << (list.empty() ? std::string() : " (" + list + ")") << "; bad timestamps skipped: "
        << source->bad_timestamps() << "\n";
    for (const auto& dm : damage) {
      sum << "    " << dm.path << ": " << dm.reason << " at byte " << dm.offset << ": " << dm.message << "\n";
    }
    if (!damage.empty()) exit_status = 3;
  }
  for (unsigned w = 0; w < rt.workers(); ++w) {
    sum << "  worker " << w << ": " << rt.worker_counters(w).packets.load() << " packets";
    if (const uint64_t drops = rt.worker_counters(w).ring_drops.load()) sum << ", " << drops << " dropped (ring full)";
    sum << "\n";
  }
  for (size_t p = 0; dpdk && p < dpdk->ports(); ++p) {
    const DpdkPortStats st = dpdk->port_stats(p);
    sum << "  port " << dpdk->port_name(p) << ": " << st.ipackets << " received; dropped: imissed=" << st.imissed
        << " no_mbuf=" << st.rx_nombuf << " rx_errors=" << st.ierrors << "\n";
  }
  {
    const TagTotals t = tag_totals(rt);
    const auto line = [&sum](const char* title, const std::vector<std::pair<std::string, uint64_t>>& counts,
                             bool nonzero_only) {
      if (counts.empty()) return;
      sum << "  " << title << ":";
      size_t shown = 0;
      for (const auto& [name, n] : counts) {
        if (nonzero_only && n == 0) continue;
        sum << " " << name << "=" << n;
        ++shown;
      }
      sum << (shown ? "" : " none") << "\n";
    };
    if (!cfg.input_filter.key.empty()) {
      sum << "  input filter (" << cfg.input_filter.key << ": \"" << cfg.input_filter.expression
          << "\"): " << t.input_filtered << " packets dropped\n";
    }
    line("filters matched", filter_counts(cfg.tags, t), true);
    line("removed before the plugins", removal_counts(cfg.tags, t), false);
  }
  if (rt.workers() && rt.flow_table(0)) {
    const auto f = flow_totals(rt);
    sum << "  flows:";
    for (size_t e = 0; e < kFlowEvents; ++e) sum << " " << flow_event_name(static_cast<FlowEvent>(e)) << "=" << f.events[e];
    sum << " active=" << f.active << "\n";
    if (!alarm_names.empty()) {
      sum << "  alarms (flows):";
      for (size_t a = 0; a < alarm_names.size(); ++a) {
        sum << " " << alarm_names[a].first << "/" << alarm_names[a].second << "=" << f.alarms[a];
      }
      sum << "\n";
    }
  }
  sum << "  intervals: " << merger.intervals() << " (" << merger.partial_intervals() << " partial)";
  if (d.late_packets.load()) sum << ", late packets: " << d.late_packets.load();
  if (d.time_jumps.load()) sum << ", time jumps skipped: " << d.time_jumps.load();
  if (d.before_start.load()) sum << ", before startboundaryts: " << d.before_start.load();
  sum << "\n";
  for (const auto& s : outputs.streams()) {
    sum << "  " << s->stream() << ": " << s->records() << " records in " << s->files() << " file(s)";
    if (const uint64_t n = s->dropped_total()) {
      sum << ", " << n << " dropped (";
      const char* sep = "";
      for (size_t r = 0; r < kDropReasons; ++r) {
        if (const uint64_t k = s->dropped(static_cast<DropReason>(r))) {
          sum << sep << drop_reason_name(static_cast<DropReason>(r)) << "=" << k;
          sep = " ";
        }
      }
      sum << ")";
    }
    sum << "\n";
    for (const auto& p : s->written_paths()) sum << "    " << p << "\n";
    for (const auto& p : s->kept_tmp_paths()) sum << "    " << p << " (not finished: privateer-recover saves its complete blocks)\n";
  }
  for (const auto& s : outputs.packet_streams()) {
    sum << "  " << s->stream() << ": " << s->packets() << " packets in " << s->files() << " file(s)";
    if (const uint64_t n = s->dropped_total()) {
      sum << ", " << n << " dropped (";
      const char* sep = "";
      for (size_t r = 0; r < kPacketDropReasons; ++r) {
        if (const uint64_t k = s->dropped(static_cast<PacketDrop>(r))) {
          sum << sep << packet_drop_name(static_cast<PacketDrop>(r)) << "=" << k;
          sep = " ";
        }
      }
      sum << ")";
    }
    if (s->failed_files()) sum << ", " << s->failed_files() << " file(s) given up";
    sum << "\n";
    for (const auto& p : s->written_paths()) sum << "    " << p << "\n";
  }
  for (const auto& s : outputs.line_sinks()) {
    sum << "  socket sink " << s->name() << ": " << s->sent() << " lines sent, " << s->dropped() << " dropped, "
        << s->connects() << " connection(s)\n";
  }
  if (sinks) {
    for (const auto& k : sinks->all()) {
      sum << "  timeseries sink " << k->name() << ": " << k->sent() << " points sent, " << k->retried()
          << " retried, " << k->dropped() << " dropped\n";
    }
  }
  if (stopped_by_signal) sum << "  stopped by signal: the last interval is marked partial\n";
  std::fputs(sum.str().c_str(), stdout);
  std::fflush(stdout);
  if (!live_outputs && outputs.failed()) {
    log_error("run failed: " + outputs.failure() + " (reading stopped there; what was written is kept)");
    return 1;
  }

  if (endpoint && opt.hold_metrics_seconds > 0 && !stopped_by_signal) {
    log_info("input done; serving metrics for " + std::to_string(opt.hold_metrics_seconds) + " s more");
    signals.wait_for_stop(opt.hold_metrics_seconds);
  }
  return exit_status;
}

}  // namespace privateer
