// Output streams handed to plugins: named by the output template (FileNamer,
// control/naming.hpp: ".avro" appended, names kept apart within a run), rotated
// every `rotatefreq` intervals (aligned to multiples of rotatefreq x interval
// from the epoch), written under a temporary name and renamed when complete,
// then followed by a `.done` marker describing the intervals in the file.
// Every stream's blocks are compressed on one CompressionPool.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "control/avro/compress_pool.hpp"
#include "control/avro/container.hpp"
#include "control/naming.hpp"
#include "plugins/plugin_api.hpp"

namespace privateer {

struct OutputSettings {
  std::string outtemplate;
  std::string monitorid;
  uint32_t interval_seconds = 60;
  uint32_t rotatefreq = 0;       // intervals per file; 0: one file for the whole run
  AvroOutputSettings avro;       // avro.threads resolved (>= 1) by OutputManager
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
  // Closes the open file (rename + .done).
  void finish();

  const std::string& stream() const { return stream_; }
  uint64_t records() const { return records_total_.load(std::memory_order_relaxed); }
  uint64_t bytes() const { return bytes_total_.load(std::memory_order_relaxed); }
  uint64_t rotations() const { return rotations_.load(std::memory_order_relaxed); }
  uint64_t files() const { return files_.load(std::memory_order_relaxed); }
  const std::vector<std::string>& written_paths() const { return paths_; }

 private:
  void close_file();

  OutputSettings s_;
  std::string stream_;
  std::string schema_;
  CompressionPool* pool_;
  FileNamer* namer_;
  std::unique_ptr<AvroContainerFile> file_;
  std::string path_;
  uint64_t file_period_ = 0;
  uint64_t interval_records_ = 0;
  std::string intervals_json_;   // entries for the open file's .done marker
  uint64_t file_records_ = 0;
  std::vector<std::string> paths_;
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
  void begin_interval(const IntervalInfo& iv);
  void end_interval(const IntervalInfo& iv);
  void finish();
  const std::vector<std::unique_ptr<RotatingAvroStream>>& streams() const { return streams_; }
  unsigned output_threads() const { return pool_->threads(); }
  // The output threads, for the plugins' merge tasks.
  TaskRunner& task_runner() { return *pool_; }
  uint64_t blocks_compressed() const { return pool_->blocks(); }

  // Output threads when `configured` is 0: the cores left after the
  // workers, at least 1.
  static unsigned default_threads(unsigned configured, unsigned workers);

 private:
  OutputSettings s_;
  std::unique_ptr<CompressionPool> pool_;
  FileNamer namer_;
  bool named_ = false;           // namer_ told the number of streams
  std::vector<std::unique_ptr<RotatingAvroStream>> streams_;
};

}  // namespace privateer
