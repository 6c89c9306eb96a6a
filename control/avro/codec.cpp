#include "control/avro/codec.hpp"

#include <isa-l/crc.h>
#include <isa-l/igzip_lib.h>
#include <snappy-c.h>
#include <zstd.h>

#include <array>
#include <cstring>
#include <stdexcept>
#include <string>

namespace privateer {

const char* codec_name(AvroCodec c) {
  switch (c) {
    case AvroCodec::null: return "null";
    case AvroCodec::deflate: return "deflate";
    case AvroCodec::snappy: return "snappy";
    case AvroCodec::zstandard: return "zstandard";
  }
  return "null";
}

void check_levels(const CodecSettings& s) {
  if (s.deflate_level < kDeflateLevelMin || s.deflate_level > kDeflateLevelMax) {
    throw std::invalid_argument("deflate level " + std::to_string(s.deflate_level) + " out of range 0..3");
  }
  if (s.zstd_level < kZstdLevelMin || s.zstd_level > kZstdLevelMax) {
    throw std::invalid_argument("zstandard level " + std::to_string(s.zstd_level) + " out of range 1..22");
  }
}

uint32_t crc32_ieee(const uint8_t* p, size_t n) {
  // ISA-L's gzip CRC: reflected IEEE polynomial, initial value 0 here means
  // the standard ~0 pre- and post-conditioning is applied by the function.
  return crc32_gzip_refl(0, p, n);
}

struct BlockCompressor::State {
  std::array<std::vector<uint8_t>, kDeflateLevelMax + 1> isal_level_buf;
  ZSTD_CCtx* zstd = nullptr;
  ~State() { ZSTD_freeCCtx(zstd); }
};

BlockCompressor::BlockCompressor() : st_(std::make_unique<State>()) {}
BlockCompressor::~BlockCompressor() = default;

namespace {

constexpr size_t kIsalLevelBufSize[kDeflateLevelMax + 1] = {ISAL_DEF_LVL0_DEFAULT, ISAL_DEF_LVL1_DEFAULT,
                                                            ISAL_DEF_LVL2_DEFAULT, ISAL_DEF_LVL3_DEFAULT};

// Raw deflate of in[0..n) into out, ISA-L stateless (one call per block).
// Returns false when `out` was too small.
bool isal_deflate(std::vector<uint8_t>& level_buf, int level, const uint8_t* in, size_t n,
                  std::vector<uint8_t>& out) {
  isal_zstream z;
  isal_deflate_stateless_init(&z);
  z.level = static_cast<uint32_t>(level);
  if (level_buf.size() != kIsalLevelBufSize[level]) level_buf.resize(kIsalLevelBufSize[level]);
  z.level_buf = level_buf.data();
  z.level_buf_size = static_cast<uint32_t>(level_buf.size());
  z.next_in = const_cast<uint8_t*>(in);
  z.avail_in = static_cast<uint32_t>(n);
  z.next_out = out.data();
  z.avail_out = static_cast<uint32_t>(out.size());
  z.end_of_stream = 1;
  z.flush = NO_FLUSH;
  z.gzip_flag = IGZIP_DEFLATE;
  const int rc = isal_deflate_stateless(&z);
  if (rc == STATELESS_OVERFLOW) return false;
  if (rc != COMP_OK) throw std::runtime_error("ISA-L deflate failed (error " + std::to_string(rc) + ")");
  out.resize(z.total_out);
  return true;
}

}  // namespace

void BlockCompressor::compress(const CodecSettings& s, const uint8_t* in, size_t n, std::vector<uint8_t>& out) {
  check_levels(s);
  switch (s.codec) {
    case AvroCodec::null:
      out.assign(in, in + n);
      return;
    case AvroCodec::deflate: {
      if (n > UINT32_MAX / 2) throw std::invalid_argument("deflate block too large");
      // Stored blocks cost 5 bytes per 64 KiB; the header and the end block
      // a few more. A first try with that bound cannot overflow, but ISA-L
      // only promises it with room to spare: retry larger if it says so.
      size_t bound = n + n / 1024 + 5 * (n / 65535 + 1) + ISAL_DEF_MAX_HDR_SIZE + 64;
      for (int attempt = 0;; ++attempt) {
        out.resize(bound);
        if (isal_deflate(st_->isal_level_buf[s.deflate_level], s.deflate_level, in, n, out)) return;
        if (attempt == 2) throw std::runtime_error("ISA-L deflate: output larger than " + std::to_string(bound));
        bound *= 2;
      }
    }
    case AvroCodec::snappy: {
      size_t len = snappy_max_compressed_length(n);
      out.resize(len + 4);
      if (snappy_compress(reinterpret_cast<const char*>(in), n, reinterpret_cast<char*>(out.data()), &len) !=
          SNAPPY_OK) {
        throw std::runtime_error("snappy compression failed");
      }
      const uint32_t crc = crc32_ieee(in, n);
      out[len] = static_cast<uint8_t>(crc >> 24);
      out[len + 1] = static_cast<uint8_t>(crc >> 16);
      out[len + 2] = static_cast<uint8_t>(crc >> 8);
      out[len + 3] = static_cast<uint8_t>(crc);
      out.resize(len + 4);
      return;
    }
    case AvroCodec::zstandard: {
      if (!st_->zstd && !(st_->zstd = ZSTD_createCCtx())) throw std::bad_alloc();
      out.resize(ZSTD_compressBound(n));
      const size_t r = ZSTD_compressCCtx(st_->zstd, out.data(), out.size(), in, n, s.zstd_level);
      if (ZSTD_isError(r)) throw std::runtime_error(std::string("zstandard compression failed: ") + ZSTD_getErrorName(r));
      out.resize(r);
      return;
    }
  }
  throw std::invalid_argument("unknown codec");
}

}  // namespace privateer
