#include "control/outputs.hpp"

#include <cerrno>
#include <stdexcept>
#include <thread>

#include "control/leftovers.hpp"
#include "control/log.hpp"

namespace privateer {

namespace {
// Blocks of one stream waiting for compression, per output thread: enough
// to keep every thread busy while the merge thread encodes the next ones.
constexpr size_t kBlocksInFlightPerThread = 2;
// Leftover .tmp files named one by one in the start-up log.
constexpr size_t kLeftoversListed = 20;
}  // namespace

const char* drop_reason_name(DropReason r) {
  switch (r) {
    case DropReason::no_space: return "no_space";
    case DropReason::io_error: return "io_error";
    case DropReason::file_removed: return "file_removed";
  }
  return "io_error";
}

RotatingAvroStream::RotatingAvroStream(const OutputSettings& s, std::string stream, std::string schema_json,
                                       AvroCodec codec, CompressionPool* pool, FileNamer* namer)
    : s_(s), stream_(std::move(stream)), schema_(std::move(schema_json)), pool_(pool), namer_(namer) {
  s_.avro.codec.codec = codec;
}

uint64_t RotatingAvroStream::dropped_total() const {
  uint64_t n = 0;
  for (const auto& d : dropped_) n += d.load(std::memory_order_relaxed);
  return n;
}

void RotatingAvroStream::give_up(DropReason reason, const std::string& why) {
  reason_ = reason;
  const bool removed = reason == DropReason::file_removed;
  // What is not in the file's whole blocks is lost; a removed file loses all.
  const uint64_t in_file = removed ? 0 : file_->records_written();
  const uint64_t lost = file_->records() - in_file;
  file_->abandon();
  drop(lost);
  records_done_ += file_->records_written();
  std::string msg = "output " + stream_ + ": " + why + "; " + std::to_string(lost) + " record(s) dropped";
  if (!removed) {
    msg += ", " + path_ + ".tmp keeps " + std::to_string(in_file) + " in " + std::to_string(file_->blocks()) +
           " complete block(s) (privateer-recover " + path_ + ".tmp)";
    kept_tmp_.push_back(path_ + ".tmp");
  }
  if (!s_.live) {
    msg += "; the run stops";
  } else if (removed) {
    msg += "; the file is started again at the next interval";
  } else {
    msg += s_.rotatefreq ? "; records are dropped until a new file at the next rotation"
                         : "; records are dropped until a new file at the next interval";
  }
  log_error(msg);
  if (failure_.empty()) failure_ = "output " + stream_ + ": " + why;
  file_.reset();
  dropping_ = true;
  reopen_same_ = removed;
  records_total_.store(records_done_, std::memory_order_relaxed);
}

void RotatingAvroStream::append_encoded(const void* buf, size_t len) {
  if (dropping_) {
    drop(1);
    return;
  }
  if (!file_) throw std::logic_error("output '" + stream_ + "': record written outside an interval");
  try {
    file_->append_encoded(buf, len);
  } catch (const OutputWriteError& e) {
    give_up(e.err == ENOSPC || e.err == EDQUOT ? DropReason::no_space : DropReason::io_error, e.what());
    drop(1);
    return;
  }
  ++interval_records_;
}

void RotatingAvroStream::open_file(const IntervalInfo& iv, uint64_t period) {
  if (!reopen_same_) path_ = namer_->name(stream_, iv.start);
  dropping_ = reopen_same_ = false;
  file_ = std::make_unique<AvroContainerFile>(schema_, s_.avro.codec, s_.avro.block_size, pool_,
                                              kBlocksInFlightPerThread * pool_->threads() + 1);
  // The header says what the file holds, without its .done marker.
  try {
    file_->open(path_, {{"privateer.monitorid", s_.monitorid},
                        {"privateer.stream", stream_},
                        {"privateer.interval_seconds", std::to_string(s_.interval_seconds)},
                        {"privateer.first_interval", std::to_string(iv.start)},
                        {"privateer.version", PRIVATEER_VERSION}});
  } catch (const OutputWriteError& e) {
    file_.reset();
    reason_ = e.err == ENOSPC || e.err == EDQUOT ? DropReason::no_space : DropReason::io_error;
    std::string msg = "output " + stream_ + ": " + e.what();
    msg += !s_.live ? "; the run stops"
                    : s_.rotatefreq ? "; records are dropped until a new file at the next rotation"
                                    : "; records are dropped until a new file at the next interval";
    log_error(msg);
    if (failure_.empty()) failure_ = "output " + stream_ + ": " + e.what();
    dropping_ = true;
  }
  file_period_ = period;
  intervals_.clear();
  file_records_ = 0;
}

void RotatingAvroStream::begin_interval(const IntervalInfo& iv) {
  const uint64_t span = static_cast<uint64_t>(s_.rotatefreq) * s_.interval_seconds;
  const uint64_t period = span ? iv.start / span : 0;
  if (file_ && span && period != file_period_) {
    close_file();
    rotations_.fetch_add(1, std::memory_order_relaxed);
  }
  if (!file_) {
    // After a failure a file run stays without one; a live capture tries again.
    const bool retry = dropping_ && s_.live && (reopen_same_ || !span || period != file_period_);
    if (!dropping_ || retry) open_file(iv, period);
  }
  interval_records_ = 0;
}

void RotatingAvroStream::end_interval(const IntervalInfo& iv) {
  if (!file_) return;
  if (file_->removed()) {
    give_up(DropReason::file_removed, path_ + ".tmp was removed while it was written (its directory deleted?)");
    return;
  }
  // The interval's records go to the file now, not with the next block.
  try {
    file_->flush();
  } catch (const OutputWriteError& e) {
    give_up(e.err == ENOSPC || e.err == EDQUOT ? DropReason::no_space : DropReason::io_error, e.what());
    return;
  }
  intervals_.push_back({iv.start, iv.end, iv.partial, interval_records_});
  file_records_ += interval_records_;
  interval_records_ = 0;
  records_total_.store(records_done_ + file_->records_written(), std::memory_order_relaxed);
}

void RotatingAvroStream::close_file() {
  if (!file_) return;
  DoneInfo d;
  d.stream = stream_;
  d.monitorid = s_.monitorid;
  d.interval_seconds = s_.interval_seconds;
  d.records = file_records_;
  d.intervals = intervals_;
  if (file_->removed()) {
    give_up(DropReason::file_removed, path_ + ".tmp was removed while it was written (its directory deleted?)");
    return;
  }
  try {
    file_->close(done_json(d));
  } catch (const OutputWriteError& e) {
    give_up(e.err == ENOSPC || e.err == EDQUOT ? DropReason::no_space : DropReason::io_error, e.what());
    return;
  }
  records_done_ += file_->records();
  records_total_.store(records_done_, std::memory_order_relaxed);
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
    : s_(std::move(s)), namer_(s_.outtemplate, s_.monitorid), workers_(workers) {
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

PacketStream& OutputManager::packet_stream(const std::string& stream, const PacketStreamOptions& options) {
  for (auto& s : packet_streams_) {
    if (s->stream() == stream) throw std::logic_error("packet stream '" + stream + "' opened twice");
  }
  const PacketStreamSettings ps{s_.outtemplate, s_.monitorid, s_.interval_seconds, s_.rotatefreq};
  packet_streams_.push_back(std::make_unique<RotatingPacketStream>(ps, stream, options, workers_));
  return *packet_streams_.back();
}

LineSink& OutputManager::line_sink(const std::string& name, const LineSinkOptions& options) {
  for (auto& s : line_sinks_) {
    if (s->name() == name) throw std::logic_error("line sink '" + name + "' opened twice");
  }
  line_sinks_.push_back(std::make_unique<SocketLineSender>(name, options));
  return *line_sinks_.back();
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
  for (auto& s : packet_streams_) s->finish();
  for (auto& s : line_sinks_) s->finish(std::chrono::seconds(2));
}

void OutputManager::set_live(bool live) {
  s_.live = live;
  for (auto& s : streams_) s->set_live(live);
  for (auto& s : packet_streams_) s->set_live(live);
}

bool OutputManager::failed() const {
  for (const auto& s : streams_) {
    if (s->failed()) return true;
  }
  return false;
}

std::string OutputManager::failure() const {
  for (const auto& s : streams_) {
    if (s->failed()) return s->failure();
  }
  return {};
}

void OutputManager::report_leftovers() const {
  std::vector<std::string> names;
  for (const auto& s : streams_) names.push_back(s->stream());
  const std::vector<std::string> found = find_leftovers(s_.outtemplate, s_.monitorid, names);
  if (found.empty()) return;
  log_warning(std::to_string(found.size()) + " output file(s) an earlier run did not finish (" + "NAME.tmp): " +
              "privateer-recover NAME.tmp saves their complete blocks as NAME; this run gives its own files " +
              "other names");
  for (size_t i = 0; i < found.size() && i < kLeftoversListed; ++i) log_warning("  left by an earlier run: " + found[i]);
  if (found.size() > kLeftoversListed) {
    log_warning("  and " + std::to_string(found.size() - kLeftoversListed) + " more");
  }
}

}  // namespace privateer
