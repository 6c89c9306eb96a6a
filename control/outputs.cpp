#include "control/outputs.hpp"

#include <stdexcept>

#include "control/naming.hpp"

namespace privateer {

RotatingAvroStream::RotatingAvroStream(const OutputSettings& s, std::string stream, std::string schema_json)
    : s_(s), stream_(std::move(stream)), schema_(std::move(schema_json)) {}

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
    path_ = expand_template(s_.outtemplate, stream_, s_.monitorid, iv.start);
    file_ = std::make_unique<AvroFileStream>(schema_, s_.avro_codec, s_.avro_block_size);
    file_->open(path_);
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

AvroStream& OutputManager::avro_stream(const std::string& stream, const std::string& schema_json) {
  for (auto& s : streams_) {
    if (s->stream() == stream) throw std::logic_error("output stream '" + stream + "' opened twice");
  }
  streams_.push_back(std::make_unique<RotatingAvroStream>(s_, stream, schema_json));
  return *streams_.back();
}

void OutputManager::begin_interval(const IntervalInfo& iv) {
  for (auto& s : streams_) s->begin_interval(iv);
}

void OutputManager::end_interval(const IntervalInfo& iv) {
  for (auto& s : streams_) s->end_interval(iv);
}

void OutputManager::finish() {
  for (auto& s : streams_) s->finish();
}

}  // namespace privateer
