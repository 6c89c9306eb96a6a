// The plugin API. A plugin gives the worker runtime one WorkerProcessor per
// worker, and the control plane merges the workers' interval results and
// writes them through the writers the control plane hands it. A plugin never
// touches threads, rings or files itself.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "dataplane/processor.hpp"
#include "plugins/common/avro_codec.hpp"
#include "plugins/packet_output.hpp"

namespace privateer {

struct IntervalInfo {
  uint64_t start = 0;     // unix seconds, a multiple of the interval length
  uint64_t end = 0;       // start + interval length
  bool partial = false;   // first or last interval of the run, or cut by a signal
};

// An Avro container stream opened for a plugin by the control plane, which
// rotates and names the underlying files. Records are appended already
// encoded in Avro binary (see plugins/common/avro_encode.hpp) against the
// schema the stream was opened with.
class AvroStream {
 public:
  virtual ~AvroStream() = default;
  virtual void append_encoded(const void* buf, size_t len) = 0;
};

struct AvroStreamOptions {
  // Unset: the run's codec (config key output.avro_codec). A plugin sets it
  // from an option of its own (corsaro3's flowtuple `avrooutput`).
  std::optional<AvroCodec> codec;
};

// One metric's tallies in one interval, as corsaro3's report plugin has
// them. A timeseries sink writes it as libtimeseries keys
// (`<label>.<metric>[.<value>].<field>`, fields uniq_src_ip, uniq_dst_ip,
// uniq_src_asn, pkt_cnt, ip_len), an InfluxDB point, and so on.
struct TimeseriesRow {
  std::string metric;   // corsaro3's metric name: "overall", "traffic.protocol", "geo.maxmind.EU" ...
  std::string value;    // the metric's value in its class: "6", "DE" ...; empty for "overall"
  uint64_t uniq_src_ip = 0;
  uint64_t uniq_dst_ip = 0;
  uint64_t uniq_src_asn = 0;
  uint64_t pkt_cnt = 0;
  uint64_t byte_cnt = 0;   // IP bytes (libtimeseries field "ip_len")
};

// The run's timeseries sinks (config key `libtimeseriesbackends`) behind one
// writer. write_interval hands over one interval's rows and returns at once:
// each sink queues them (bounded) and sends them on its own thread, so a slow
// or dead sink never holds up the merge.
class TimeseriesWriter {
 public:
  virtual ~TimeseriesWriter() = default;
  // `label`: the plugin's output_row_label; `ts`: the interval's start, unix seconds.
  virtual void write_interval(const std::string& label, uint64_t ts, std::vector<TimeseriesRow> rows) = 0;
  // The number of sinks configured; with none, write_interval sends nothing.
  virtual size_t sinks() const = 0;
};

// Lines of text (a JSON object each, say) to a socket the control plane
// keeps; send() queues the line and returns at once (a full queue drops
// the oldest line, counted).
struct LineSinkOptions {
  enum class Protocol : uint8_t { udp, tcp } protocol = Protocol::udp;
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  size_t queue = 256;   // lines waiting, at most
};
class LineSink {
 public:
  virtual ~LineSink() = default;
  virtual void send(std::string line) = 0;   // without its newline
};

// The run's counters as the metrics endpoint has them at the moment of the
// call (cumulative), for a plugin that reports them (socketsink).
struct CounterSample {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;
  double value = 0;
};
class CounterReader {
 public:
  virtual ~CounterReader() = default;
  // Every sample of the metric families named in `names`, in the
  // endpoint's order; a name the run has no family of gives nothing.
  virtual std::vector<CounterSample> read(const std::vector<std::string>& names) const = 0;
};

// What the control plane offers a plugin at start-up.
class OutputProvider {
 public:
  virtual ~OutputProvider() = default;
  // `stream` names the output (it fills %P in the output template).
  virtual AvroStream& avro_stream(const std::string& stream, const std::string& schema_json,
                                  const AvroStreamOptions& options) = 0;
  // A packet output (plugins/packet_output.hpp): pcap or pcapng files named
  // from the output template (`stream` fills %P), rotated as the Avro files,
  // written by control-plane threads. Opened once per stream, before any packet.
  virtual PacketStream& packet_stream(const std::string& stream, const PacketStreamOptions& options) {
    (void)options;
    throw std::logic_error("output stream '" + stream + "': this output provider writes no packets");
  }
  // A line sink named `name` (in metrics and logs), opened once, before any packet.
  virtual LineSink& line_sink(const std::string& name, const LineSinkOptions& options) {
    (void)options;
    throw std::logic_error("line sink '" + name + "': this output provider has no sockets");
  }
  // The run's counters, readable from merge() on (default: none).
  virtual const CounterReader& counters() {
    struct None : CounterReader {
      std::vector<CounterSample> read(const std::vector<std::string>&) const override { return {}; }
    };
    static None none;
    return none;
  }
  // The run's timeseries sinks, shared by every plugin that writes rows
  // (default: none).
  virtual TimeseriesWriter& timeseries() {
    struct None : TimeseriesWriter {
      void write_interval(const std::string&, uint64_t, std::vector<TimeseriesRow>) override {}
      size_t sinks() const override { return 0; }
    };
    static None none;
    return none;
  }
};

// Runs independent pieces of a merge side by side on the control plane's
// output threads (a big sort split by its top radix byte, say). A plugin is
// handed one before any packet and never starts threads itself.
class TaskRunner {
 public:
  virtual ~TaskRunner() = default;
  // Calls task(i) once for every i in [0, n), on any thread (the caller's
  // included), and returns when all have returned. An exception from a task
  // is rethrown here once all are done.
  virtual void run(size_t n, const std::function<void(size_t)>& task) = 0;
};

// Per-interval counts a plugin reports for metrics and the run summary.
struct MergeStats {
  uint64_t records = 0;
  std::string log_line;   // logged by the control plane at info level when not empty
};

// Where a plugin writes its own counters when the metrics endpoint is
// scraped (and for the run summary); the control plane adapts it to the
// Prometheus exposition. Called on the metrics thread: read only.
class PluginMetrics {
 public:
  virtual ~PluginMetrics() = default;
  virtual void counter(const std::string& name, const std::string& help, double value,
                       const std::vector<std::pair<std::string, std::string>>& labels = {}) = 0;
};

class Plugin {
 public:
  virtual ~Plugin() = default;
  virtual const std::string& name() const = 0;
  // One-line notes about options that were accepted but change nothing
  // here (corsaro3 options without a meaning in Privateer), logged at start.
  virtual std::vector<std::string> config_warnings() const { return {}; }
  // The reasons the plugin raises alarms on flows for (at most 32 in a run,
  // all plugins together; counted as privateer_alarms_total{plugin,reason}).
  virtual std::vector<std::string> alarm_reasons() const { return {}; }
  // Whether the plugin's workers read flows: the run then keeps a flow
  // table per worker and calls WorkerProcessor::attach_flows.
  virtual bool wants_flows() const { return !alarm_reasons().empty(); }
  // Called once before any packet, on the control plane.
  virtual void open_outputs(OutputProvider& out) = 0;
  // Where merge() may run work in parallel (null, the default: it runs on
  // the merge thread alone). Called before any packet.
  virtual void set_task_runner(TaskRunner* runner) { (void)runner; }
  // One per worker, called before the workers start.
  virtual std::unique_ptr<WorkerProcessor> make_worker(unsigned worker_id) = 0;
  // All workers' results for one interval, in worker-id order (null for a
  // worker that jumped over the interval in a long time gap); writes the
  // merged result to the streams opened in open_outputs. Runs on the control
  // plane, never on a worker.
  virtual MergeStats merge(const IntervalInfo& interval,
                           std::vector<std::unique_ptr<IntervalResult>>& results) = 0;
  // The plugin's counters (default: none), on the metrics thread.
  virtual void metrics(PluginMetrics& out) const { (void)out; }
  // True for a plugin that re-reads files of its own on SIGHUP.
  virtual bool reloads() const { return false; }
  // On SIGHUP, on the reloader's thread (never a worker): re-reads the
  // plugin's files and publishes the result to the workers, which take it
  // at a burst boundary. Returns a line for the log; throws (keeping what
  // the plugin had) when the new files are bad.
  virtual std::string reload() { return {}; }
  // Frees what reload() retired and no worker holds (every control tick).
  virtual void reclaim() {}
};

}  // namespace privateer
