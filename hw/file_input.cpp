// The byte input of the capture-file readers. See file_input.hpp.
#include "hw/file_input.hpp"

#include <bzlib.h>
#include <lzma.h>
#include <poll.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace privateer {

namespace {
std::atomic<bool> g_interrupted{false};
constexpr int kPollMs = 100;                     // longest wait between looks at the interrupt flag
constexpr size_t kChunk = size_t{2} << 20;       // read size and initial buffer size
constexpr size_t kInChunk = size_t{256} << 10;   // compressed bytes read at a time
}  // namespace

void interrupt_sources() { g_interrupted.store(true, std::memory_order_release); }

namespace detail {

// ------------------------------------------------------------------ FdReader

FdReader::FdReader(std::string path, int fd, bool regular) : path_(std::move(path)), fd_(fd), regular_(regular) {}
FdReader::~FdReader() { close(); }

void FdReader::close() {
  if (fd_ > STDIN_FILENO) ::close(fd_);  // standard input stays open
  fd_ = -1;
}

bool FdReader::wait_readable() {
  for (;;) {
    if (g_interrupted.load(std::memory_order_acquire)) {
      interrupted_ = true;
      return false;
    }
    pollfd p{fd_, POLLIN, 0};
    const int r = ::poll(&p, 1, kPollMs);
    if (r > 0) return true;  // data, end (POLLHUP) or an error: read() tells
    if (r < 0 && errno != EINTR) return true;
  }
}

size_t FdReader::read(uint8_t* dst, size_t len) {
  if (head_pos_ < head_.size()) {
    const size_t n = std::min(len, head_.size() - head_pos_);
    std::memcpy(dst, head_.data() + head_pos_, n);
    head_pos_ += n;
    if (head_pos_ == head_.size()) {
      head_.clear();
      head_pos_ = 0;
    }
    return n;
  }
  if (fd_ < 0 || len == 0) return 0;
  for (;;) {
    if (!regular_ && !wait_readable()) return 0;
    const ssize_t r = ::read(fd_, dst, len);
    if (r >= 0) {
      raw_.fetch_add(static_cast<uint64_t>(r), std::memory_order_relaxed);
      return static_cast<size_t>(r);
    }
    if (errno == EINTR || errno == EAGAIN) continue;
    error_ = std::string("read error: ") + std::strerror(errno);
    return 0;
  }
}

const std::string& FdReader::peek(size_t n) {
  while (head_.size() < n) {
    uint8_t b[64];
    const size_t want = std::min(sizeof b, n - head_.size());
    size_t r = 0;
    if (fd_ >= 0) {
      for (;;) {
        if (!regular_ && !wait_readable()) break;
        const ssize_t k = ::read(fd_, b, want);
        if (k >= 0) {
          r = static_cast<size_t>(k);
          break;
        }
        if (errno == EINTR || errno == EAGAIN) continue;
        error_ = std::string("read error: ") + std::strerror(errno);
        break;
      }
    }
    if (r == 0) break;
    raw_.fetch_add(r, std::memory_order_relaxed);
    head_.append(reinterpret_cast<const char*>(b), r);
  }
  return head_;
}

Compression compression_of(const std::string& h, std::string* name) {
  const auto* u = reinterpret_cast<const uint8_t*>(h.data());
  const size_t n = h.size();
  auto is = [&](const char* magic, size_t len) { return n >= len && std::memcmp(u, magic, len) == 0; };
  if (is("\x1f\x8b", 2)) return *name = "gzip", Compression::gzip;
  if (is("BZh", 3)) return *name = "bzip2", Compression::bzip2;
  if (is("\xfd" "7zXZ", 5)) return *name = "xz", Compression::xz;
  if (is("\x28\xb5\x2f\xfd", 4)) return *name = "zstd", Compression::zstd;
  if (is("\x1f\x9d", 2)) return *name = "compress (.Z)", Compression::unsupported;
  if (is("\x89LZO", 4)) return *name = "lzop", Compression::unsupported;
  if (is("\x04\x22\x4d\x18", 4)) return *name = "lz4", Compression::unsupported;
  name->clear();
  return Compression::none;
}

// ------------------------------------------------------------------ Decoder

// A streaming decompressor over an FdReader. step() decompresses what it can
// of the compressed bytes in [in, in + avail) into [out, out + len).
class Decoder {
 public:
  enum class Step : uint8_t { progress, need_input, end, error };

  explicit Decoder(FdReader& src) : src_(src), in_(new uint8_t[kInChunk]) {}
  virtual ~Decoder() = default;

  // Decompressed bytes; 0 at the end of the data, or when it ended early or
  // failed (then error() says why).
  size_t read(uint8_t* dst, size_t len) {
    while (!done_) {
      size_t used = 0, made = 0;
      const Step st = step(in_.get() + in_pos_, in_len_ - in_pos_, eof_, dst, len, &used, &made);
      in_pos_ += used;
      if (st == Step::error) {
        done_ = true;
        if (error_.empty()) error_ = name() + " data is corrupt";
      } else if (st == Step::end) {
        done_ = true;
      } else if (made == 0 && (st == Step::need_input || used == 0)) {
        if (eof_) {
          done_ = true;
          if (error_.empty()) error_ = name() + " data ends early (the file is cut short)";
        } else {
          refill();
        }
      }
      if (made > 0) return made;
    }
    return 0;
  }
  const std::string& error() const { return error_; }

 protected:
  virtual Step step(const uint8_t* in, size_t avail, bool eof, uint8_t* out, size_t len, size_t* used,
                    size_t* made) = 0;
  virtual std::string name() const = 0;
  void fail(const std::string& msg) { error_ = name() + ": " + msg; }

 private:
  void refill() {
    if (in_pos_ > 0) {
      std::memmove(in_.get(), in_.get() + in_pos_, in_len_ - in_pos_);
      in_len_ -= in_pos_;
      in_pos_ = 0;
    }
    const size_t r = src_.read(in_.get() + in_len_, kInChunk - in_len_);
    if (r == 0) {
      eof_ = true;
      if (!src_.error().empty()) error_ = src_.error();
    }
    in_len_ += r;
  }

  FdReader& src_;
  std::unique_ptr<uint8_t[]> in_;
  size_t in_pos_ = 0, in_len_ = 0;
  bool eof_ = false;
  bool done_ = false;
  std::string error_;
};

namespace {

// gzip, every member of a concatenated file (as zcat reads them). Bytes after
// a member that start no new member are ignored, as gzip does.
class GzipDecoder final : public Decoder {
 public:
  explicit GzipDecoder(FdReader& src) : Decoder(src) {
    if (inflateInit2(&z_, 15 + 16) != Z_OK) throw SourceError("zlib: cannot initialise inflate");
  }
  ~GzipDecoder() override { inflateEnd(&z_); }

 private:
  std::string name() const override { return "gzip"; }
  Step step(const uint8_t* in, size_t avail, bool eof, uint8_t* out, size_t len, size_t* used,
            size_t* made) override {
    if (between_) {
      if (avail < 2) return eof ? Step::end : Step::need_input;
      if (in[0] != 0x1f || in[1] != 0x8b) return Step::end;
      inflateReset(&z_);
      between_ = false;
    }
    z_.next_in = const_cast<uint8_t*>(in);
    z_.avail_in = static_cast<uInt>(std::min<size_t>(avail, UINT32_MAX));
    z_.next_out = out;
    z_.avail_out = static_cast<uInt>(std::min<size_t>(len, UINT32_MAX));
    const int r = inflate(&z_, Z_NO_FLUSH);
    *used = avail - z_.avail_in;
    *made = len - z_.avail_out;
    if (r == Z_STREAM_END) {
      between_ = true;
      return Step::progress;
    }
    if (r == Z_OK) return Step::progress;
    if (r == Z_BUF_ERROR) return Step::need_input;
    fail(z_.msg ? z_.msg : "inflate error " + std::to_string(r));
    return Step::error;
  }
  z_stream z_{};
  bool between_ = false;
};

// bzip2, every stream of a concatenated file (as bzcat reads them).
class Bzip2Decoder final : public Decoder {
 public:
  explicit Bzip2Decoder(FdReader& src) : Decoder(src) {}
  ~Bzip2Decoder() override {
    if (open_) BZ2_bzDecompressEnd(&b_);
  }

 private:
  std::string name() const override { return "bzip2"; }
  Step step(const uint8_t* in, size_t avail, bool eof, uint8_t* out, size_t len, size_t* used,
            size_t* made) override {
    if (!open_) {
      if (avail < 3) return eof ? (started_ ? Step::end : Step::need_input) : Step::need_input;
      if (std::memcmp(in, "BZh", 3) != 0) return Step::end;
      if (BZ2_bzDecompressInit(&b_, 0, 0) != BZ_OK) throw SourceError("libbz2: cannot initialise");
      open_ = started_ = true;
    }
    b_.next_in = reinterpret_cast<char*>(const_cast<uint8_t*>(in));
    b_.avail_in = static_cast<unsigned>(std::min<size_t>(avail, UINT32_MAX));
    b_.next_out = reinterpret_cast<char*>(out);
    b_.avail_out = static_cast<unsigned>(std::min<size_t>(len, UINT32_MAX));
    const int r = BZ2_bzDecompress(&b_);
    *used = avail - b_.avail_in;
    *made = len - b_.avail_out;
    if (r == BZ_STREAM_END) {
      BZ2_bzDecompressEnd(&b_);
      b_ = bz_stream{};
      open_ = false;
      return Step::progress;
    }
    if (r == BZ_OK) return Step::progress;
    fail(r == BZ_DATA_ERROR_MAGIC ? "not bzip2 data" : r == BZ_MEM_ERROR ? "out of memory" : "data is corrupt");
    return Step::error;
  }
  bz_stream b_{};
  bool open_ = false;
  bool started_ = false;
};

// xz, concatenated streams and stream padding included.
class XzDecoder final : public Decoder {
 public:
  explicit XzDecoder(FdReader& src) : Decoder(src) {
    if (lzma_stream_decoder(&s_, UINT64_MAX, LZMA_CONCATENATED) != LZMA_OK) {
      throw SourceError("liblzma: cannot initialise");
    }
  }
  ~XzDecoder() override { lzma_end(&s_); }

 private:
  std::string name() const override { return "xz"; }
  Step step(const uint8_t* in, size_t avail, bool eof, uint8_t* out, size_t len, size_t* used,
            size_t* made) override {
    s_.next_in = in;
    s_.avail_in = avail;
    s_.next_out = out;
    s_.avail_out = len;
    const lzma_ret r = lzma_code(&s_, eof ? LZMA_FINISH : LZMA_RUN);
    *used = avail - s_.avail_in;
    *made = len - s_.avail_out;
    switch (r) {
      case LZMA_OK: return Step::progress;
      case LZMA_STREAM_END: return Step::end;
      case LZMA_BUF_ERROR: return Step::need_input;
      case LZMA_MEM_ERROR: fail("out of memory"); return Step::error;
      case LZMA_FORMAT_ERROR: fail("not xz data"); return Step::error;
      case LZMA_OPTIONS_ERROR: fail("unsupported options"); return Step::error;
      default: fail("data is corrupt"); return Step::error;
    }
  }
  lzma_stream s_ = LZMA_STREAM_INIT;
};

// zstd, every frame of the file (skippable frames skipped).
class ZstdDecoder final : public Decoder {
 public:
  explicit ZstdDecoder(FdReader& src) : Decoder(src), d_(ZSTD_createDStream()) {
    if (!d_) throw SourceError("libzstd: cannot initialise");
  }
  ~ZstdDecoder() override { ZSTD_freeDStream(d_); }

 private:
  std::string name() const override { return "zstd"; }
  Step step(const uint8_t* in, size_t avail, bool eof, uint8_t* out, size_t len, size_t* used,
            size_t* made) override {
    if (frame_done_ && avail == 0) return eof ? Step::end : Step::need_input;
    ZSTD_inBuffer ib{in, avail, 0};
    ZSTD_outBuffer ob{out, len, 0};
    const size_t r = ZSTD_decompressStream(d_, &ob, &ib);
    *used = ib.pos;
    *made = ob.pos;
    if (ZSTD_isError(r)) {
      fail(ZSTD_getErrorName(r));
      return Step::error;
    }
    frame_done_ = r == 0;
    return Step::progress;
  }
  ZSTD_DStream* d_;
  bool frame_done_ = false;
};

}  // namespace

// --------------------------------------------------------------------- Input

Input::Input(std::string path, std::unique_ptr<FdReader> fd, Compression c) : path_(std::move(path)), fd_(std::move(fd)) {
  switch (c) {
    case Compression::gzip: dec_ = std::make_unique<GzipDecoder>(*fd_); break;
    case Compression::bzip2: dec_ = std::make_unique<Bzip2Decoder>(*fd_); break;
    case Compression::xz: dec_ = std::make_unique<XzDecoder>(*fd_); break;
    case Compression::zstd: dec_ = std::make_unique<ZstdDecoder>(*fd_); break;
    case Compression::none:
    case Compression::unsupported: break;
  }
}

Input::~Input() = default;

bool Input::interrupted() const { return fd_->interrupted(); }

bool Input::fill(size_t n) {
  if (end_ - pos_ >= n) return true;
  if (n > cap_ || !buf_) {
    const size_t cap = std::max({n, cap_ * 2, kChunk});
    std::unique_ptr<uint8_t[]> nb(new uint8_t[cap]);
    if (end_ > pos_) std::memcpy(nb.get(), buf_.get() + pos_, end_ - pos_);
    buf_ = std::move(nb);
    cap_ = cap;
  } else if (pos_ > 0 && end_ > pos_) {
    std::memmove(buf_.get(), buf_.get() + pos_, end_ - pos_);
  }
  base_ += pos_;
  end_ -= pos_;
  pos_ = 0;
  while (end_ < n && !input_end_) {
    const size_t r = read_some(buf_.get() + end_, cap_ - end_);
    if (r == 0) {
      input_end_ = true;
      if (dec_ && !dec_->error().empty()) {
        error_reason_ = fd_->error().empty() ? "compressed_stream_error" : "read_error";
        error_ = dec_->error();
      } else if (!fd_->error().empty()) {
        error_reason_ = "read_error";
        error_ = fd_->error();
      }
      break;
    }
    end_ += r;
  }
  return end_ - pos_ >= n;
}

size_t Input::read_some(uint8_t* dst, size_t len) { return dec_ ? dec_->read(dst, len) : fd_->read(dst, len); }

void Input::close() {
  dec_.reset();
  fd_->close();
}

// ------------------------------------------------------------ FileReaderBase

std::vector<InputDamage> FileReaderBase::damage() const {
  std::lock_guard lk(mu_);
  return damage_;
}

void FileReaderBase::record(InputDamage d) {
  std::lock_guard lk(mu_);
  damage_.push_back(std::move(d));
}

SourceProgress FileReaderBase::progress() const {
  SourceProgress p;
  p.bytes_total = total_;
  if (done_.load(std::memory_order_acquire)) {
    p.bytes_read = total_ ? total_ : consumed_.load(std::memory_order_relaxed);
  } else if (!in_->compressed()) {
    p.bytes_read = consumed_.load(std::memory_order_relaxed);
  } else {
    p.bytes_read = in_->raw_bytes();
  }
  if (p.bytes_total && p.bytes_read > p.bytes_total) p.bytes_read = p.bytes_total;
  return p;
}

void FileReaderBase::finish() {
  const size_t left = in_->avail();
  // A stop request ended the wait for more: not damage.
  if (!in_->interrupted()) {
    if (!in_->error_reason().empty()) {
      std::string msg = in_->error();
      if (left) msg += " (" + std::to_string(left) + " bytes of an incomplete record dropped)";
      record(InputDamage{path_, in_->offset(), in_->error_reason(), msg});
      stats_.truncated_records = 1;
    } else if (left > 0) {
      record(InputDamage{path_, in_->offset(), "truncated_record",
                         "the file ends inside a record (" + std::to_string(left) + " bytes of it present)"});
      stats_.truncated_records = 1;
    }
  }
  in_->consume(left);
  consumed_.store(in_->offset(), std::memory_order_relaxed);
  eof_ = true;
  done_.store(true, std::memory_order_release);
  in_->close();
}

void FileReaderBase::damaged(const Damage& d) {
  record(InputDamage{path_, in_->offset(), d.reason, d.message});
  consumed_.store(in_->offset(), std::memory_order_relaxed);
  eof_ = true;
  done_.store(true, std::memory_order_release);
  in_->close();
}

}  // namespace detail
}  // namespace privateer
