#include "control/avro_output.hpp"

#include <avro.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace privateer {
namespace {

constexpr size_t kStdioBuffer = size_t{1} << 20;

std::string avro_error() {
  const char* e = avro_strerror();
  return e && *e ? std::string(e) : std::string("unknown avro-c error");
}

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
  if (!f) throw std::runtime_error("cannot create " + tmp + ": " + errno_text(errno));
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size() && std::fflush(f) == 0 &&
                  ::fsync(fileno(f)) == 0;
  const int e = errno;
  if (std::fclose(f) != 0 || !ok) {
    const int e2 = ok ? errno : e;
    std::remove(tmp.c_str());
    throw std::runtime_error("cannot write " + tmp + ": " + errno_text(e2));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e2 = errno;
    std::remove(tmp.c_str());
    throw std::runtime_error("cannot rename " + tmp + " to " + path + ": " + errno_text(e2));
  }
}

}  // namespace

AvroFileStream::AvroFileStream(std::string schema_json, std::string codec, size_t block_size)
    : schema_json_(std::move(schema_json)), codec_(std::move(codec)), block_size_(block_size) {
  if (codec_ != "deflate" && codec_ != "snappy" && codec_ != "null" && codec_ != "lzma") {
    throw std::invalid_argument("avro codec '" + codec_ + "' unknown (deflate, snappy, null, lzma)");
  }
  avro_schema_t s = nullptr;
  if (avro_schema_from_json_length(schema_json_.data(), schema_json_.size(), &s) != 0 || !s) {
    throw std::runtime_error("invalid Avro schema: " + avro_error());
  }
  schema_ = s;
}

AvroFileStream::~AvroFileStream() {
  abandon();
  if (schema_) avro_schema_decref(static_cast<avro_schema_t>(schema_));
}

void AvroFileStream::abandon() noexcept {
  if (writer_) {
    // avro-c frees the writer only when its final flush works; either way the
    // FILE is ours (should_close = 0) and closed here.
    (void)avro_file_writer_close(static_cast<avro_file_writer_t>(writer_));
    writer_ = nullptr;
  }
  if (fp_) {
    std::fclose(static_cast<FILE*>(fp_));
    fp_ = nullptr;
  }
  iobuf_.reset();
}

void AvroFileStream::open(const std::string& final_path) {
  if (writer_) throw std::logic_error("avro output: open(" + final_path + ") while " + final_path_ + " is open");
  if (final_path.empty()) throw std::invalid_argument("avro output: empty path");
  final_path_ = final_path;
  tmp_path_ = final_path + ".tmp";
  records_ = 0;

  const std::filesystem::path dir = std::filesystem::path(final_path).parent_path();
  if (!dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) throw std::runtime_error("cannot create directory " + dir.string() + ": " + ec.message());
  }
  FILE* fp = std::fopen(tmp_path_.c_str(), "wb");
  if (!fp) throw std::runtime_error("cannot create " + tmp_path_ + ": " + errno_text(errno));
  iobuf_.reset(new char[kStdioBuffer]);
  std::setvbuf(fp, iobuf_.get(), _IOFBF, kStdioBuffer);

  avro_file_writer_t w = nullptr;
  // should_close = 0: the FILE stays ours, so that close() can see write,
  // flush and fsync errors (avro-c ignores the results of fflush/fclose).
  if (avro_file_writer_create_with_codec_fp(fp, tmp_path_.c_str(), 0, static_cast<avro_schema_t>(schema_), &w,
                                            codec_.c_str(), block_size_) != 0) {
    const std::string err = avro_error();
    std::fclose(fp);
    iobuf_.reset();
    std::remove(tmp_path_.c_str());
    throw std::runtime_error("avro-c cannot create " + tmp_path_ + " (codec " + codec_ + "): " + err);
  }
  writer_ = w;
  fp_ = fp;
}

void AvroFileStream::append_encoded(const void* buf, size_t len) {
  if (!writer_) throw std::logic_error("avro output: record appended while no file is open");
  if (avro_file_writer_append_encoded(static_cast<avro_file_writer_t>(writer_), buf,
                                      static_cast<int64_t>(len)) != 0) {
    throw std::runtime_error("avro-c cannot append a record of " + std::to_string(len) + " bytes to " +
                             tmp_path_ + ": " + avro_error());
  }
  ++records_;
}

void AvroFileStream::close(const std::string& done_json) {
  if (!writer_) throw std::logic_error("avro output: close() while no file is open");
  FILE* fp = static_cast<FILE*>(fp_);
  const int rc = avro_file_writer_close(static_cast<avro_file_writer_t>(writer_));
  writer_ = nullptr;   // freed by avro-c on success; unusable on failure
  if (rc != 0) {
    const std::string err = avro_error();
    std::fclose(fp);
    fp_ = nullptr;
    iobuf_.reset();
    std::remove(tmp_path_.c_str());
    throw std::runtime_error("avro-c cannot close " + tmp_path_ + ": " + err);
  }
  int err = 0;
  if (std::fflush(fp) != 0 || std::ferror(fp)) err = errno ? errno : EIO;
  if (!err && ::fsync(fileno(fp)) != 0) err = errno;
  if (std::fclose(fp) != 0 && !err) err = errno;
  fp_ = nullptr;
  iobuf_.reset();
  if (err) {
    std::remove(tmp_path_.c_str());
    throw std::runtime_error("cannot write " + tmp_path_ + ": " + errno_text(err));
  }
  struct stat st {};
  if (::stat(tmp_path_.c_str(), &st) != 0) {
    throw std::runtime_error("cannot stat " + tmp_path_ + ": " + errno_text(errno));
  }
  if (std::rename(tmp_path_.c_str(), final_path_.c_str()) != 0) {
    const int e = errno;
    std::remove(tmp_path_.c_str());
    throw std::runtime_error("cannot rename " + tmp_path_ + " to " + final_path_ + ": " + errno_text(e));
  }
  last_bytes_ = static_cast<uint64_t>(st.st_size);
  total_bytes_ += last_bytes_;
  write_file_atomically(final_path_ + ".done", done_json);
  fsync_dir_of(final_path_);
}

}  // namespace privateer
