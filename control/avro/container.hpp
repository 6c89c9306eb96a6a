// One Avro object container file (Avro 1.11 specification, "Object Container
// Files"), written by us: the header (magic "Obj\1", the metadata map with
// avro.schema, avro.codec and the caller's keys, a random 16-byte sync
// marker), then blocks of (record count, byte size, data, sync marker).
//
// Records arrive already encoded (plugins/common/avro_encode.hpp) and are
// gathered into blocks of about `block_size` bytes; a record larger than
// that gets a block of its own. Full blocks are compressed on a
// CompressionPool (several at once) and written in order; at most
// `max_blocks_in_flight` blocks wait for compression at any time, so the
// memory in flight is bounded by about 2 x block_size x max_blocks_in_flight.
//
// Published atomically: written as FINAL.tmp; close() writes the last block,
// fsyncs, renames FINAL.tmp to FINAL and then writes FINAL.done (a small JSON
// description, itself written through a temporary name). A file that is not
// closed keeps its .tmp name: every block written before the failure is whole
// and readable, the cut one is not (privateer-recover saves the whole ones).
// The .tmp is flock(2)ed while it is open, so that privateer-recover and the
// start-up scan for leftovers leave a file being written alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "control/avro/codec.hpp"
#include "control/avro/compress_pool.hpp"
#include "plugins/plugin_api.hpp"

namespace privateer {

// The writer settings of config key `output` (control/config.hpp fills it).
struct AvroOutputSettings {
  CodecSettings codec;
  uint32_t block_size = 64 * 1024;   // bytes of records per block before compression
  unsigned threads = 0;              // output (compression) threads; 0: the cores left
                                     // after the workers, at least 1
};

using AvroMetadata = std::vector<std::pair<std::string, std::string>>;

// A write, fsync, rename or create that failed: the system's errno (ENOSPC
// for a full disk) and the path, both in what().
class OutputWriteError : public std::runtime_error {
 public:
  OutputWriteError(const std::string& what, int err) : std::runtime_error(what), err(err) {}
  int err;
};

class AvroContainerFile : public AvroStream {
 public:
  // Checks `schema_json` with avro-c's schema parser (std::runtime_error with
  // its message if invalid). `pool`: where blocks are compressed; null to
  // compress on the caller's thread. std::invalid_argument for levels out of
  // range or block_size 0.
  AvroContainerFile(std::string schema_json, CodecSettings codec, size_t block_size,
                    CompressionPool* pool = nullptr, size_t max_blocks_in_flight = 4);
  // A file still open keeps its .tmp name (never published).
  ~AvroContainerFile() override;
  AvroContainerFile(const AvroContainerFile&) = delete;
  AvroContainerFile& operator=(const AvroContainerFile&) = delete;

  // Creates FINAL.tmp (and missing directories), truncating a stale one, and
  // writes the header with `metadata` after avro.schema and avro.codec.
  // std::logic_error if a file is already open; OutputWriteError on failure
  // (a .tmp whose header could not be written is removed).
  void open(const std::string& final_path, const AvroMetadata& metadata = {});
  // One record, already Avro-binary encoded against the schema.
  // std::logic_error when no file is open; OutputWriteError on write errors
  // (the file is then abandoned: closed, its .tmp kept).
  void append_encoded(const void* buf, size_t len) override;
  // Writes the block being filled and waits until every block is in the
  // file (not fsynced): what was appended so far survives a SIGKILL.
  // OutputWriteError as append_encoded.
  void flush();
  // Writes the last block, fsyncs, renames FINAL.tmp to FINAL and writes
  // FINAL.done containing `done_json`. On failure OutputWriteError; the .tmp
  // stays (its complete blocks can be salvaged). logic_error if none is open.
  void close(const std::string& done_json);
  // Closes the open file without publishing it: its .tmp stays, with every
  // block written so far. Nothing when none is open.
  void abandon() noexcept;
  // True when the open file's .tmp has no name any more (removed, or its
  // directory was): what is written goes nowhere.
  bool removed() const;

  bool is_open() const { return fd_ >= 0; }
  const std::string& path() const { return final_path_; }
  uint64_t records() const { return records_; }
  // Records of the open file in blocks written whole (in the file, not in memory).
  uint64_t records_written() const { return records_written_; }
  uint64_t blocks() const { return blocks_; }
  uint64_t bytes_written() const { return last_bytes_; }
  uint64_t total_bytes_written() const { return total_bytes_; }
  const CodecSettings& codec() const { return codec_; }
  size_t block_size() const { return block_size_; }

 private:
  void flush_block();                     // the current block goes out
  void write_done_blocks(bool wait_all);  // in order, as far as they are compressed
  void write_block(const std::vector<uint8_t>& data, uint64_t records);
  void write_all(const void* p, size_t n);
  [[noreturn]] void write_failed(const std::string& what, int err);   // abandons, throws

  std::string schema_json_;
  CodecSettings codec_;
  size_t block_size_;
  CompressionPool* pool_;
  size_t max_in_flight_;
  BlockCompressor inline_compressor_;
  std::unique_ptr<BlockJob> cur_;                    // the block being filled
  std::deque<std::unique_ptr<BlockJob>> in_flight_;  // submitted, in file order
  std::vector<std::unique_ptr<BlockJob>> free_;      // spares, memory kept
  std::vector<uint8_t> scratch_;
  uint8_t sync_[16] = {};
  int fd_ = -1;
  std::string final_path_;
  std::string tmp_path_;
  uint64_t records_ = 0;
  uint64_t records_written_ = 0;
  uint64_t blocks_ = 0;
  uint64_t file_bytes_ = 0;
  uint64_t last_bytes_ = 0;
  uint64_t total_bytes_ = 0;
};

}  // namespace privateer
