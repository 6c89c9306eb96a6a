// Internal to hw/: the byte input under the capture-file readers (pcap,
// pcapng, ERF) and what they share. Not for use outside hw/.
//
// One descriptor per file, opened once: the first bytes are sniffed from the
// same stream (a FIFO or standard input cannot be opened twice or rewound).
// Compressed input is decompressed here (zlib, libbz2, liblzma, libzstd,
// streaming, every member/stream of a concatenated file), straight into the
// reader's buffer, so every byte that decompresses before a damaged or cut-off
// part reaches the parser.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "hw/file_source.hpp"

namespace privateer::detail {

// A stream of decompressed bytes from a file descriptor.
class Decoder;

// Raw bytes of one open file. Regular files are read with plain read();
// FIFOs, pipes and terminals are polled first, so that interrupt_sources()
// ends a wait for data within ~100 ms.
class FdReader {
 public:
  FdReader(std::string path, int fd, bool regular);
  ~FdReader();
  FdReader(const FdReader&) = delete;
  FdReader& operator=(const FdReader&) = delete;

  // Up to `len` bytes; 0 at the end of the file, on a read error (error()
  // set) or when interrupted (interrupted() set).
  size_t read(uint8_t* dst, size_t len);
  // Makes the first `n` bytes available in *head without consuming them
  // (read() hands them out again); fewer at the end of the file.
  const std::string& peek(size_t n);

  uint64_t bytes_read() const { return raw_.load(std::memory_order_relaxed); }
  const std::string& error() const { return error_; }
  bool interrupted() const { return interrupted_; }
  void close();

 private:
  bool wait_readable();
  std::string path_;
  int fd_;
  bool regular_;
  std::string head_;       // peeked bytes not handed out yet
  size_t head_pos_ = 0;
  std::atomic<uint64_t> raw_{0};
  std::string error_;
  bool interrupted_ = false;
};

// The compression of a stream, from its first bytes.
enum class Compression : uint8_t { none, gzip, bzip2, xz, zstd, unsupported };
Compression compression_of(const std::string& head, std::string* name);

// The decompressed input and the buffer records are parsed from.
class Input {
 public:
  Input(std::string path, std::unique_ptr<FdReader> fd, Compression c);
  ~Input();
  Input(const Input&) = delete;
  Input& operator=(const Input&) = delete;

  const uint8_t* data() const { return buf_.get() + pos_; }
  size_t avail() const { return end_ - pos_; }
  void consume(size_t n) { pos_ += n; }
  // Uncompressed bytes consumed so far (offset of data() in the stream).
  uint64_t offset() const { return base_ + pos_; }
  // Compressed bytes read from the file so far (raw bytes when uncompressed).
  uint64_t raw_bytes() const { return fd_->bytes_read(); }
  bool compressed() const { return dec_ != nullptr; }

  // Makes at least n bytes available at data(), moving the unread bytes to
  // the front of the buffer (or into a larger one) and reading. Invalidates
  // earlier data() pointers. False when the input ends first (what there is
  // stays available): then error() says why if it was not a clean end.
  bool fill(size_t n);

  // Set once the input has ended other than cleanly: the damage reason
  // (compressed_stream_error, read_error) and a message; empty otherwise.
  const std::string& error_reason() const { return error_reason_; }
  const std::string& error() const { return error_; }
  bool interrupted() const;

  // Releases the file (the buffer stays: packets handed out point into it).
  void close();

 private:
  size_t read_some(uint8_t* dst, size_t len);

  std::string path_;
  std::unique_ptr<FdReader> fd_;
  std::unique_ptr<Decoder> dec_;
  std::unique_ptr<uint8_t[]> buf_;
  size_t cap_ = 0;
  size_t pos_ = 0;
  size_t end_ = 0;
  uint64_t base_ = 0;  // stream offset of buf_[0]
  bool input_end_ = false;
  std::string error_reason_, error_;
};

// A record that cannot be right: thrown inside a reader, caught by its
// read_burst(), which records it as the file's damage and ends the file.
struct Damage {
  const char* reason;
  std::string message;
};

// What the pcap, pcapng and ERF readers share: the input, end of file,
// progress, damage and the bad-timestamp count.
class FileReaderBase : public FileSource {
 public:
  FileReaderBase(std::string path, std::unique_ptr<Input> in, uint64_t total)
      : path_(std::move(path)), in_(std::move(in)), total_(total) {}

  bool eof() const override { return eof_; }
  std::string name() const override { return path_; }
  const FileSourceStats& stats() const override { return stats_; }
  std::vector<InputDamage> damage() const override;
  uint64_t bad_timestamps() const override { return bad_ts_.load(std::memory_order_relaxed); }

  // Uncompressed files: bytes parsed so far of the file size; compressed
  // files: compressed bytes read so far (ahead of the packets by at most one
  // 256 KiB input chunk). At the end, bytes_read == bytes_total.
  SourceProgress progress() const override;

 protected:
  // End of input reached at a record boundary, or inside a record (damage:
  // truncated_record, or the input's own error).
  void finish();
  // A record that cannot be right at the current offset: recorded, file ended.
  void damaged(const Damage& d);
  void note_progress() { consumed_.store(in_->offset(), std::memory_order_relaxed); }
  void bad_timestamp() { bad_ts_.fetch_add(1, std::memory_order_relaxed); }
  [[noreturn]] void corrupt(const char* reason, const std::string& what) const { throw Damage{reason, what}; }

  std::string path_;
  std::unique_ptr<Input> in_;
  FileSourceStats stats_;
  bool eof_ = false;
  uint64_t total_;  // file size, 0 if unknown (pipes)

 private:
  void record(InputDamage d);
  std::atomic<uint64_t> consumed_{0};
  std::atomic<bool> done_{false};
  std::atomic<uint64_t> bad_ts_{0};
  mutable std::mutex mu_;
  std::vector<InputDamage> damage_;
};

// An ERF timestamp (upper 32 bits seconds, lower 32 bits binary fraction) in
// ns, rounded to the nearest ns as Wireshark does. Always fits: seconds < 2^32.
inline uint64_t erf_ts_to_ns(uint64_t erf) {
  const uint64_t frac = ((erf & 0xffffffffu) * 1000000000u + 0x80000000u) >> 32;
  return (erf >> 32) * 1000000000u + frac;
}

// ERF (erf_reader.cpp): true when `head` (the first bytes of the decompressed
// stream) looks like an ERF record header, by the tests libtrace's
// erf_probe_magic() makes.
bool looks_like_erf(const std::string& head);
std::unique_ptr<FileSource> make_erf_reader(std::string path, std::unique_ptr<Input> in, uint64_t total);

}  // namespace privateer::detail
