#include "control/avro/container.hpp"

#include <avro.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <stdexcept>

#include "plugins/common/avro_encode.hpp"

namespace privateer {
namespace {

std::string errno_text(int e) { return std::strerror(e); }

void fsync_dir_of(const std::string& path) {
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) dir = ".";
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    (void)::fsync(fd);   // best effort: some file systems refuse fsync on directories
    ::close(fd);
  }
}

// Writes `text` to `path` through path.tmp + fsync + rename.
void write_file_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw OutputWriteError("cannot create " + tmp + ": " + errno_text(errno), errno);
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size() && std::fflush(f) == 0 &&
                  ::fsync(fileno(f)) == 0;
  const int e = errno;
  if (std::fclose(f) != 0 || !ok) {
    const int e2 = ok ? errno : e;
    std::remove(tmp.c_str());
    throw OutputWriteError("cannot write " + tmp + ": " + errno_text(e2), e2);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e2 = errno;
    std::remove(tmp.c_str());
    throw OutputWriteError("cannot rename " + tmp + " to " + path + ": " + errno_text(e2), e2);
  }
}

void random_bytes(uint8_t* p, size_t n) {
  size_t got = 0;
  while (got < n) {
    const ssize_t r = getrandom(p + got, n - got, 0);
    if (r > 0) {
      got += static_cast<size_t>(r);
    } else if (r < 0 && errno != EINTR) {
      std::random_device rd;   // no getrandom(2): the library's source
      for (; got < n; ++got) p[got] = static_cast<uint8_t>(rd());
    }
  }
}

}  // namespace

AvroContainerFile::AvroContainerFile(std::string schema_json, CodecSettings codec, size_t block_size,
                                     CompressionPool* pool, size_t max_blocks_in_flight)
    : schema_json_(std::move(schema_json)), codec_(codec), block_size_(block_size), pool_(pool),
      max_in_flight_(max_blocks_in_flight ? max_blocks_in_flight : 1) {
  check_levels(codec_);
  if (block_size_ == 0) throw std::invalid_argument("avro output: block size 0");
  avro_schema_t s = nullptr;
  if (avro_schema_from_json_length(schema_json_.data(), schema_json_.size(), &s) != 0 || !s) {
    const char* e = avro_strerror();
    throw std::runtime_error(std::string("invalid Avro schema: ") + (e && *e ? e : "unknown avro-c error"));
  }
  avro_schema_decref(s);
}

AvroContainerFile::~AvroContainerFile() { abandon(); }

void AvroContainerFile::abandon() noexcept {
  // The pool may still be reading or writing our jobs' buffers.
  if (pool_) {
    for (auto& j : in_flight_) pool_->wait(j.get());
  }
  in_flight_.clear();
  cur_.reset();
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

bool AvroContainerFile::removed() const {
  struct stat st{};
  return fd_ >= 0 && ::fstat(fd_, &st) == 0 && st.st_nlink == 0;
}

void AvroContainerFile::write_failed(const std::string& what, int err) {
  abandon();
  throw OutputWriteError(what + ": " + errno_text(err), err);
}

void AvroContainerFile::write_all(const void* p, size_t n) {
  const auto* b = static_cast<const uint8_t*>(p);
  while (n) {
    const ssize_t w = ::write(fd_, b, n);
    if (w < 0) {
      const int e = errno;
      if (e == EINTR) continue;
      write_failed("cannot write " + tmp_path_, e);
    }
    b += w;
    n -= static_cast<size_t>(w);
    file_bytes_ += static_cast<uint64_t>(w);
  }
}

void AvroContainerFile::open(const std::string& final_path, const AvroMetadata& metadata) {
  if (fd_ >= 0) throw std::logic_error("avro output: open(" + final_path + ") while " + final_path_ + " is open");
  if (final_path.empty()) throw std::invalid_argument("avro output: empty path");
  final_path_ = final_path;
  tmp_path_ = final_path + ".tmp";
  records_ = records_written_ = blocks_ = file_bytes_ = 0;

  // Created again when it was removed since the last file (mkdir -p).
  const std::filesystem::path dir = std::filesystem::path(final_path).parent_path();
  if (!dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      throw OutputWriteError("cannot create directory " + dir.string() + ": " + ec.message(), ec.value());
    }
  }
  fd_ = ::open(tmp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) throw OutputWriteError("cannot create " + tmp_path_ + ": " + errno_text(errno), errno);
  (void)::flock(fd_, LOCK_EX | LOCK_NB);   // advisory, for privateer-recover; none on some file systems

  AvroEncoder h(1024 + schema_json_.size());
  h.put_raw("Obj\x01", 4);
  h.put_long(static_cast<int64_t>(2 + metadata.size()));   // one map block
  h.put_string("avro.schema");
  h.put_bytes(schema_json_.data(), schema_json_.size());
  h.put_string("avro.codec");
  h.put_string(codec_name(codec_.codec));
  for (const auto& [k, v] : metadata) {
    h.put_string(k);
    h.put_bytes(v.data(), v.size());
  }
  h.put_long(0);   // end of the map
  random_bytes(sync_, sizeof sync_);
  h.put_fixed(sync_, sizeof sync_);
  try {
    write_all(h.data(), h.size());
  } catch (...) {
    ::unlink(tmp_path_.c_str());   // not even a header: nothing to salvage
    throw;
  }
}

void AvroContainerFile::append_encoded(const void* buf, size_t len) {
  if (fd_ < 0) throw std::logic_error("avro output: record appended while no file is open");
  if (cur_ && !cur_->raw.empty() && cur_->raw.size() + len > block_size_) flush_block();
  if (!cur_) {
    if (!free_.empty()) {
      cur_ = std::move(free_.back());
      free_.pop_back();
    } else {
      cur_ = std::make_unique<BlockJob>();
      cur_->raw.reserve(block_size_);
    }
    cur_->raw.clear();
    cur_->records = 0;
    cur_->codec = codec_;
  }
  const auto* p = static_cast<const uint8_t*>(buf);
  cur_->raw.insert(cur_->raw.end(), p, p + len);
  ++cur_->records;
  ++records_;
}

void AvroContainerFile::write_block(const std::vector<uint8_t>& data, uint64_t records) {
  uint8_t head[20];
  size_t hn = AvroEncoder::write_varint(head, AvroEncoder::zigzag64(static_cast<int64_t>(records)));
  hn += AvroEncoder::write_varint(head + hn, AvroEncoder::zigzag64(static_cast<int64_t>(data.size())));
  iovec iov[3] = {{head, hn}, {const_cast<uint8_t*>(data.data()), data.size()}, {sync_, sizeof sync_}};
  ssize_t w;
  do {
    w = ::writev(fd_, iov, 3);
  } while (w < 0 && errno == EINTR);
  if (w < 0) {
    const int e = errno;
    write_failed("cannot write " + tmp_path_, e);
  }
  file_bytes_ += static_cast<uint64_t>(w);
  // A short write (a full disk, a signal): the rest piece by piece, which
  // reports the error if there is one.
  size_t done = static_cast<size_t>(w);
  for (const iovec& v : iov) {
    if (done >= v.iov_len) {
      done -= v.iov_len;
      continue;
    }
    write_all(static_cast<const uint8_t*>(v.iov_base) + done, v.iov_len - done);
    done = 0;
  }
  ++blocks_;
  records_written_ += records;
}

void AvroContainerFile::write_done_blocks(bool wait_all) {
  while (!in_flight_.empty()) {
    BlockJob* j = in_flight_.front().get();
    const bool must_wait = wait_all || in_flight_.size() >= max_in_flight_;
    if (must_wait) {
      pool_->wait(j);
    } else if (!pool_->done(j)) {
      return;
    }
    std::unique_ptr<BlockJob> job = std::move(in_flight_.front());
    in_flight_.pop_front();
    if (job->error) {
      abandon();
      std::rethrow_exception(job->error);
    }
    write_block(job->packed, job->records);
    free_.push_back(std::move(job));
  }
}

void AvroContainerFile::flush_block() {
  if (!cur_ || cur_->records == 0) return;
  if (codec_.codec == AvroCodec::null) {
    write_block(cur_->raw, cur_->records);   // nothing to compress: no pool round trip
    cur_->raw.clear();
    cur_->records = 0;
    return;
  }
  if (!pool_) {
    inline_compressor_.compress(codec_, cur_->raw.data(), cur_->raw.size(), scratch_);
    write_block(scratch_, cur_->records);
    cur_->raw.clear();
    cur_->records = 0;
    return;
  }
  pool_->submit(cur_.get());
  in_flight_.push_back(std::move(cur_));
  write_done_blocks(false);
}

void AvroContainerFile::flush() {
  if (fd_ < 0) throw std::logic_error("avro output: flush() while no file is open");
  flush_block();
  if (pool_) write_done_blocks(true);
}

void AvroContainerFile::close(const std::string& done_json) {
  if (fd_ < 0) throw std::logic_error("avro output: close() while no file is open");
  int err = 0;
  try {
    flush_block();
    if (pool_) write_done_blocks(true);
  } catch (...) {
    abandon();
    throw;
  }
  if (::fsync(fd_) != 0) err = errno;
  if (err) write_failed("cannot write " + tmp_path_, err);
  if (::close(fd_) != 0) err = errno;
  fd_ = -1;
  if (err) throw OutputWriteError("cannot write " + tmp_path_ + ": " + errno_text(err), err);
  if (std::rename(tmp_path_.c_str(), final_path_.c_str()) != 0) {
    const int e = errno;
    throw OutputWriteError("cannot rename " + tmp_path_ + " to " + final_path_ + ": " + errno_text(e), e);
  }
  last_bytes_ = file_bytes_;
  total_bytes_ += last_bytes_;
  write_file_atomically(final_path_ + ".done", done_json);
  fsync_dir_of(final_path_);
}

}  // namespace privateer
