// Output streams handed to plugins: named by the output template (FileNamer,
// control/naming.hpp: ".avro" appended, names kept apart within a run), rotated
// every `rotatefreq` intervals (aligned to multiples of rotatefreq x interval
// from the epoch), written under a temporary name and renamed when complete,
// then followed by a `.done` marker describing the intervals in the file.
// Every stream's blocks are compressed on one CompressionPool; each stream's
// blocks are in its file at the end of every interval (a SIGKILL loses none
// of the intervals closed before it: privateer-recover saves them).
//
// A file that cannot be written (a full disk, an I/O error) or whose .tmp
// was removed is given up: closed, its .tmp kept with the blocks it has, its
// records counted as dropped (by reason), and the stream goes on without a
// file. A live capture keeps analysing and tries a new file at the next
// rotation (with rotatefreq 0, the next interval; after a removal, the next
// interval, under the same name, its directory made again); a file run is
// stopped by the control plane at the first failure (failed()).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "control/avro/compress_pool.hpp"
#include "control/avro/container.hpp"
#include "control/avro/done.hpp"
#include "control/metrics.hpp"
#include "control/naming.hpp"
#include "control/pcap/packet_stream.hpp"
#include "control/socket/line_sender.hpp"
#include "plugins/plugin_api.hpp"

namespace privateer {

// Why records did not reach a complete file.
enum class DropReason : uint8_t { no_space, io_error, file_removed };
constexpr size_t kDropReasons = 3;
const char* drop_reason_name(DropReason r);   // no_space, io_error, file_removed

struct OutputSettings {
  std::string outtemplate;
  std::string monitorid;
  uint32_t interval_seconds = 60;
  uint32_t rotatefreq = 0;       // intervals per file; 0: one file for the whole run
  AvroOutputSettings avro;       // avro.threads resolved (>= 1) by OutputManager
  bool live = false;             // a live capture: a failed file never ends the stream
};

// One plugin stream across its rotated files.
class RotatingAvroStream : public AvroStream {
 public:
  // `codec`: the stream's, which may differ from s.avro.codec's codec.
  RotatingAvroStream(const OutputSettings& s, std::string stream, std::string schema_json, AvroCodec codec,
                     CompressionPool* pool, FileNamer* namer);
  void append_encoded(const void* buf, size_t len) override;

  void begin_interval(const IntervalInfo& iv);
  void end_interval(const IntervalInfo& iv);
  void set_live(bool live) { s_.live = live; }
  // Closes the open file (rename + .done).
  void finish();

  const std::string& stream() const { return stream_; }
  // Records in the files, in blocks written whole (a failed file's .tmp included).
  uint64_t records() const { return records_total_.load(std::memory_order_relaxed); }
  uint64_t dropped(DropReason r) const { return dropped_[static_cast<size_t>(r)].load(std::memory_order_relaxed); }
  uint64_t dropped_total() const;
  // A file of this stream failed; the first failure in words (merge thread only).
  bool failed() const { return !failure_.empty(); }
  const std::string& failure() const { return failure_; }
  // The .tmp files given up (merge thread only).
  const std::vector<std::string>& kept_tmp_paths() const { return kept_tmp_; }
  uint64_t bytes() const { return bytes_total_.load(std::memory_order_relaxed); }
  uint64_t rotations() const { return rotations_.load(std::memory_order_relaxed); }
  uint64_t files() const { return files_.load(std::memory_order_relaxed); }
  const std::vector<std::string>& written_paths() const { return paths_; }

 private:
  void open_file(const IntervalInfo& iv, uint64_t period);
  void close_file();
  // Gives the open file up after `why`: counts what is lost, logs.
  void give_up(DropReason reason, const std::string& why);
  void drop(uint64_t n) { dropped_[static_cast<size_t>(reason_)].fetch_add(n, std::memory_order_relaxed); }

  OutputSettings s_;
  std::string stream_;
  std::string schema_;
  CompressionPool* pool_;
  FileNamer* namer_;
  std::unique_ptr<AvroContainerFile> file_;
  std::string path_;
  uint64_t file_period_ = 0;
  uint64_t interval_records_ = 0;
  std::vector<DoneInterval> intervals_;   // the open file's, for its .done marker
  uint64_t file_records_ = 0;
  std::vector<std::string> paths_;
  // After a failure: no file, records dropped for `reason_`; `reopen_` says
  // when to try again: the same path at the next interval (after a removal),
  // or a new file at the next period.
  bool dropping_ = false;
  bool reopen_same_ = false;
  DropReason reason_ = DropReason::io_error;
  std::string failure_;
  std::vector<std::string> kept_tmp_;
  uint64_t records_done_ = 0;   // records in files no longer open
  std::atomic<uint64_t> dropped_[kDropReasons] = {};
  std::atomic<uint64_t> records_total_{0};
  std::atomic<uint64_t> bytes_total_{0};
  std::atomic<uint64_t> rotations_{0};
  std::atomic<uint64_t> files_{0};
};

// The OutputProvider the control plane gives plugins.
class OutputManager : public OutputProvider {
 public:
  // `workers`: the worker threads, for the default number of output threads.
  OutputManager(OutputSettings s, unsigned workers);
  AvroStream& avro_stream(const std::string& stream, const std::string& schema_json,
                          const AvroStreamOptions& options) override;
  // pcap/pcapng files written on threads of their own (control/pcap/).
  PacketStream& packet_stream(const std::string& stream, const PacketStreamOptions& options) override;
  LineSink& line_sink(const std::string& name, const LineSinkOptions& options) override;
  const std::vector<std::unique_ptr<SocketLineSender>>& line_sinks() const { return line_sinks_; }
  TimeseriesWriter& timeseries() override { return timeseries_ ? *timeseries_ : OutputProvider::timeseries(); }
  const CounterReader& counters() override { return counters_; }
  // Where counters() reads from: the metrics registry, set before any packet.
  void set_counter_registry(std::shared_ptr<const MetricsRegistry> reg) { counters_.set(std::move(reg)); }
  // The run's timeseries sinks; until set, none.
  void set_timeseries(std::unique_ptr<TimeseriesWriter> w) { timeseries_ = std::move(w); }
  void begin_interval(const IntervalInfo& iv);
  void end_interval(const IntervalInfo& iv);
  void finish();
  // Known once the source is open: before the first interval.
  void set_live(bool live);
  const std::vector<std::unique_ptr<RotatingAvroStream>>& streams() const { return streams_; }
  const std::vector<std::unique_ptr<RotatingPacketStream>>& packet_streams() const { return packet_streams_; }
  // A file of some stream failed (merge thread, or after it ended); the first failure.
  bool failed() const;
  std::string failure() const;
  // Logs the .tmp files an earlier run of this template left (found_leftovers,
  // control/leftovers.hpp), with the privateer-recover hint. Call after the
  // plugins opened their streams.
  void report_leftovers() const;
  unsigned output_threads() const { return pool_->threads(); }
  // The output threads, for the plugins' merge tasks.
  TaskRunner& task_runner() { return *pool_; }
  uint64_t blocks_compressed() const { return pool_->blocks(); }

  // Output threads when `configured` is 0: the cores left after the
  // workers, at least 1.
  static unsigned default_threads(unsigned configured, unsigned workers);

 private:
  RegistryCounters counters_;
  OutputSettings s_;
  std::unique_ptr<CompressionPool> pool_;
  FileNamer namer_;
  bool named_ = false;           // namer_ told the number of streams
  std::vector<std::unique_ptr<RotatingAvroStream>> streams_;
  std::vector<std::unique_ptr<RotatingPacketStream>> packet_streams_;
  std::vector<std::unique_ptr<SocketLineSender>> line_sinks_;
  unsigned workers_;
  std::unique_ptr<TimeseriesWriter> timeseries_;
};

}  // namespace privateer
