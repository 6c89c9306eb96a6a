// One Avro object container file written with avro-c, published atomically:
// written as FINAL.tmp, then on close() fsync'd, renamed to FINAL and followed
// by FINAL.done (a small JSON description, itself written via a temporary name).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "plugins/plugin_api.hpp"

namespace privateer {

class AvroFileStream : public AvroStream {
 public:
  // Parses `schema_json` (std::runtime_error with avro-c's message if it is
  // not a valid schema). `codec`: "deflate", "snappy", "null" (or "lzma");
  // std::invalid_argument otherwise. `block_size`: bytes of records per
  // container block before compression, 0 for avro-c's default (16 KiB); a
  // record larger than the block cannot be written (runtime_error).
  explicit AvroFileStream(std::string schema_json, std::string codec = "deflate",
                          size_t block_size = 0);
  // A file still open is closed as FINAL.tmp and left there (never published).
  ~AvroFileStream() override;
  AvroFileStream(const AvroFileStream&) = delete;
  AvroFileStream& operator=(const AvroFileStream&) = delete;

  // Creates FINAL.tmp (and missing directories), truncating a stale one.
  // std::logic_error if a file is already open; runtime_error on failure.
  void open(const std::string& final_path);
  // One record, already Avro-binary encoded against the schema.
  // std::logic_error when no file is open; runtime_error on avro-c errors.
  void append_encoded(const void* buf, size_t len) override;
  // Flushes, fsyncs and closes the file, renames FINAL.tmp to FINAL and writes
  // FINAL.done containing `done_json`. On failure the .tmp is removed and
  // runtime_error thrown. std::logic_error if no file is open.
  void close(const std::string& done_json);

  bool is_open() const { return writer_ != nullptr; }
  // The open (or last) file's final path.
  const std::string& path() const { return final_path_; }
  // Records appended to the open (or last closed) file.
  uint64_t records() const { return records_; }
  // Size in bytes of the last file closed (0 before the first close).
  uint64_t bytes_written() const { return last_bytes_; }
  // Sum of bytes_written() over every file this stream closed.
  uint64_t total_bytes_written() const { return total_bytes_; }
  const std::string& codec() const { return codec_; }
  size_t block_size() const { return block_size_; }

 private:
  void abandon() noexcept;   // closes whatever is open, keeps nothing published

  std::string schema_json_;
  std::string codec_;
  size_t block_size_;
  void* schema_ = nullptr;   // avro_schema_t
  void* writer_ = nullptr;   // avro_file_writer_t
  void* fp_ = nullptr;       // FILE*
  std::unique_ptr<char[]> iobuf_;   // fp_'s stdio buffer
  std::string final_path_;
  std::string tmp_path_;
  uint64_t records_ = 0;
  uint64_t last_bytes_ = 0;
  uint64_t total_bytes_ = 0;
};

}  // namespace privateer
