#include "control/outputs.hpp"

#include <stdexcept>
#include <thread>

namespace privateer {

namespace {
// Blocks of one stream waiting for compression, per output thread: enough
// to keep every thread busy while the merge thread encodes the next ones.
constexpr size_t kBlocksInFlightPerThread = 2;
}  // namespace

RotatingAvroStream::RotatingAvroStream(const OutputSettings& s, std::string stream, std::string schema_json,
                                       AvroCodec codec, CompressionPool* pool, FileNamer* namer)
    : s_(s), stream_(std::move(stream)), schema_(std::move(schema_json)), pool_(pool), namer_(namer) {
  s_.avro.codec.codec = codec;
}

void RotatingAvroStream::append_encoded(const void* buf, size_t len) {
  if (!file_) throw std::logic_error("output '" + stream_ + "': record written outside an interval");
  file_->append_encoded(buf, len);
  ++interval_records_;
}

void RotatingAvroStream::begin_interval(const IntervalInfo& iv) {
  const uint64_t span = static_cast<uint64_t>(s_.rotatefreq) * s_.interval_seconds;
  const uint64_t period = span ? iv.start / span : 0;
  if (file_ && span && period != file_period_) {
    close_file();
    rotations_.fetch_add(1, std::memory_order_relaxed);
  }
  if (!file_) {
    path_ = namer_->name(stream_, iv.start);
    file_ = std::make_unique<AvroContainerFile>(schema_, s_.avro.codec, s_.avro.block_size, pool_,
                                                kBlocksInFlightPerThread * pool_->threads() + 1);
    // The header says what the file holds, without its .done marker.
    file_->open(path_, {{"privateer.monitorid", s_.monitorid},
                        {"privateer.interval_seconds", std::to_string(s_.interval_seconds)},
                        {"privateer.first_interval", std::to_string(iv.start)},
                        {"privateer.version", PRIVATEER_VERSION}});
    file_period_ = period;
    intervals_json_.clear();
    file_records_ = 0;
  }
  interval_records_ = 0;
}

void RotatingAvroStream::end_interval(const IntervalInfo& iv) {
  if (!intervals_json_.empty()) intervals_json_ += ",";
  intervals_json_ += "{\"start\":" + std::to_string(iv.start) + ",\"end\":" + std::to_string(iv.end) +
                     ",\"partial\":" + (iv.partial ? "true" : "false") +
                     ",\"records\":" + std::to_string(interval_records_) + "}";
  file_records_ += interval_records_;
  records_total_.fetch_add(interval_records_, std::memory_order_relaxed);
  interval_records_ = 0;
}

void RotatingAvroStream::close_file() {
  if (!file_) return;
  const std::string done = "{\"stream\":\"" + stream_ + "\",\"monitorid\":\"" + s_.monitorid +
                           "\",\"interval_seconds\":" + std::to_string(s_.interval_seconds) +
                           ",\"records\":" + std::to_string(file_records_) + ",\"intervals\":[" +
                           intervals_json_ + "]}\n";
  file_->close(done);
  bytes_total_.fetch_add(file_->bytes_written(), std::memory_order_relaxed);
  files_.fetch_add(1, std::memory_order_relaxed);
  paths_.push_back(path_);
  file_.reset();
}

void RotatingAvroStream::finish() { close_file(); }

unsigned OutputManager::default_threads(unsigned configured, unsigned workers) {
  if (configured) return configured;
  const unsigned cores = std::thread::hardware_concurrency();
  return cores > workers ? cores - workers : 1;
}

OutputManager::OutputManager(OutputSettings s, unsigned workers)
    : s_(std::move(s)), namer_(s_.outtemplate, s_.monitorid) {
  s_.avro.threads = default_threads(s_.avro.threads, workers);
  pool_ = std::make_unique<CompressionPool>(s_.avro.threads);
}

AvroStream& OutputManager::avro_stream(const std::string& stream, const std::string& schema_json,
                                       const AvroStreamOptions& options) {
  for (auto& s : streams_) {
    if (s->stream() == stream) throw std::logic_error("output stream '" + stream + "' opened twice");
  }
  if (named_) throw std::logic_error("output stream '" + stream + "' opened after the first interval");
  streams_.push_back(std::make_unique<RotatingAvroStream>(
      s_, stream, schema_json, options.codec.value_or(s_.avro.codec.codec), pool_.get(), &namer_));
  return *streams_.back();
}

void OutputManager::begin_interval(const IntervalInfo& iv) {
  if (!named_) {
    namer_.set_stream_count(streams_.size());
    named_ = true;
  }
  for (auto& s : streams_) s->begin_interval(iv);
}

void OutputManager::end_interval(const IntervalInfo& iv) {
  for (auto& s : streams_) s->end_interval(iv);
}

void OutputManager::finish() {
  for (auto& s : streams_) s->finish();
}

}  // namespace privateer
