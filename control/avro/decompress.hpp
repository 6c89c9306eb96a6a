// Decompression of Avro container blocks, the reader's side of
// control/avro/codec.hpp: deflate (raw RFC 1951, ISA-L's isal_inflate),
// snappy (libsnappy; the 4-byte big-endian CRC32 of the uncompressed data
// that follows the compressed bytes is checked) and zstandard (libzstd,
// streaming, so frames with or without a content size read alike).
// Damaged input never crashes it: every failure is a BlockDecompressError
// saying why.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <vector>

#include "control/avro/codec.hpp"

namespace privateer {

class BlockDecompressError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Decompresses blocks for one thread at a time, reusing its memory.
class BlockDecompressor {
 public:
  // `max_out`: a block that would decompress to more bytes than this is an
  // error (a corrupt or hostile block cannot exhaust memory).
  explicit BlockDecompressor(size_t max_out);
  ~BlockDecompressor();
  BlockDecompressor(const BlockDecompressor&) = delete;
  BlockDecompressor& operator=(const BlockDecompressor&) = delete;

  // Replaces `out` with the uncompressed data of block `in[0..n)` under
  // codec `c` (for null: a copy). BlockDecompressError on damage.
  void decompress(AvroCodec c, const uint8_t* in, size_t n, std::vector<uint8_t>& out);

 private:
  void inflate(const uint8_t* in, size_t n, std::vector<uint8_t>& out);
  void unsnappy(const uint8_t* in, size_t n, std::vector<uint8_t>& out);
  void unzstd(const uint8_t* in, size_t n, std::vector<uint8_t>& out);
  // Grows `out` (doubling, at most to max_out_) when `used` bytes fill it.
  void grow(std::vector<uint8_t>& out, size_t used, const char* codec);

  struct State;
  std::unique_ptr<State> st_;
  size_t max_out_;
};

}  // namespace privateer
