// Avro container block codecs (Avro 1.11 specification, "Required Codecs"
// and "Optional Codecs"), each through a well-kept library:
//   null       the serialized records as they are
//   deflate    raw RFC 1951 deflate, no zlib header, through ISA-L's igzip
//              (levels 0..3; chosen over libdeflate and zlib by
//              perf/bench_output.sh: level 1 compresses flowtuple blocks
//              ~2.5x faster than libdeflate's level 1 and ~30x faster than
//              zlib's level 9, to files ~1.04x zlib 9's size)
//   snappy     libsnappy, followed by the 4-byte big-endian CRC32 of the
//              uncompressed block
//   zstandard  libzstd, level configurable
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "plugins/common/avro_codec.hpp"

namespace privateer {

struct CodecSettings {
  AvroCodec codec = AvroCodec::deflate;
  int deflate_level = 1;    // ISA-L igzip level, 0..3
  int zstd_level = 3;       // libzstd level, 1..22
  bool operator==(const CodecSettings&) const = default;
};

constexpr int kDeflateLevelMin = 0, kDeflateLevelMax = 3;
constexpr int kZstdLevelMin = 1, kZstdLevelMax = 22;

// std::invalid_argument naming the level when one of `s` is out of range.
void check_levels(const CodecSettings& s);

// The codec's name as written in the file's avro.codec metadata.
const char* codec_name(AvroCodec c);

// Compresses blocks for one thread at a time (it keeps per-codec state:
// ISA-L level buffers, a zstd context), reusing its memory across calls.
class BlockCompressor {
 public:
  BlockCompressor();
  ~BlockCompressor();
  BlockCompressor(const BlockCompressor&) = delete;
  BlockCompressor& operator=(const BlockCompressor&) = delete;

  // Replaces `out` with the block data of `in` under `s` (for null: a copy).
  // std::invalid_argument for a level out of range; std::runtime_error when
  // the library fails.
  void compress(const CodecSettings& s, const uint8_t* in, size_t n, std::vector<uint8_t>& out);

 private:
  struct State;
  std::unique_ptr<State> st_;
};

// CRC-32 (IEEE 802.3, as java.util.zip.CRC32 and gzip), as snappy blocks carry it.
uint32_t crc32_ieee(const uint8_t* p, size_t n);

}  // namespace privateer
