#include "control/avro/decompress.hpp"

#include <isa-l/igzip_lib.h>
#include <snappy-c.h>
#include <zstd.h>

#include <algorithm>
#include <cstdio>
#include <string>

namespace privateer {

struct BlockDecompressor::State {
  inflate_state inflate;
  ZSTD_DCtx* zstd = nullptr;
  ~State() { ZSTD_freeDCtx(zstd); }
};

BlockDecompressor::BlockDecompressor(size_t max_out)
    : st_(std::make_unique<State>()), max_out_(std::min<size_t>(max_out, UINT32_MAX)) {}
BlockDecompressor::~BlockDecompressor() = default;

void BlockDecompressor::grow(std::vector<uint8_t>& out, size_t used, const char* codec) {
  if (used >= max_out_) {
    throw BlockDecompressError(std::string(codec) + " block decompresses to more than " + std::to_string(max_out_) +
                               " bytes");
  }
  out.resize(std::min(max_out_, std::max<size_t>(out.size() * 2, 64 * 1024)));
}

void BlockDecompressor::decompress(AvroCodec c, const uint8_t* in, size_t n, std::vector<uint8_t>& out) {
  switch (c) {
    case AvroCodec::null:
      out.assign(in, in + n);
      return;
    case AvroCodec::deflate: inflate(in, n, out); return;
    case AvroCodec::snappy: unsnappy(in, n, out); return;
    case AvroCodec::zstandard: unzstd(in, n, out); return;
  }
  throw BlockDecompressError("unknown codec");
}

void BlockDecompressor::inflate(const uint8_t* in, size_t n, std::vector<uint8_t>& out) {
  if (n > UINT32_MAX) throw BlockDecompressError("deflate block too large");
  inflate_state& z = st_->inflate;
  isal_inflate_init(&z);
  z.crc_flag = ISAL_DEFLATE;   // raw deflate, as the Avro specification says
  z.next_in = const_cast<uint8_t*>(in);
  z.avail_in = static_cast<uint32_t>(n);
  if (out.size() < std::min(max_out_, 4 * n + 1024)) out.resize(std::min(max_out_, 4 * n + 1024));
  size_t used = 0;
  for (;;) {
    z.next_out = out.data() + used;
    z.avail_out = static_cast<uint32_t>(out.size() - used);
    const int rc = isal_inflate(&z);
    used = static_cast<size_t>(z.next_out - out.data());
    if (rc != ISAL_DECOMP_OK) {
      throw BlockDecompressError("deflate data is corrupt (ISA-L error " + std::to_string(rc) + ")");
    }
    if (z.block_state == ISAL_BLOCK_FINISH) break;
    if (z.avail_out == 0) {
      grow(out, used, "deflate");
      continue;
    }
    // Output room left but not finished: the input ran out.
    throw BlockDecompressError("deflate data ends before the end of its stream");
  }
  out.resize(used);
}

void BlockDecompressor::unsnappy(const uint8_t* in, size_t n, std::vector<uint8_t>& out) {
  if (n < 4) throw BlockDecompressError("snappy block shorter than its 4-byte CRC");
  const char* src = reinterpret_cast<const char*>(in);
  size_t len = 0;
  if (snappy_uncompressed_length(src, n - 4, &len) != SNAPPY_OK) {
    throw BlockDecompressError("snappy data is corrupt (bad length preamble)");
  }
  if (len > max_out_) {
    throw BlockDecompressError("snappy block decompresses to " + std::to_string(len) + " bytes, more than " +
                               std::to_string(max_out_));
  }
  out.resize(len);
  if (snappy_uncompress(src, n - 4, reinterpret_cast<char*>(out.data()), &len) != SNAPPY_OK || len != out.size()) {
    throw BlockDecompressError("snappy data is corrupt");
  }
  const uint32_t want = (uint32_t{in[n - 4]} << 24) | (uint32_t{in[n - 3]} << 16) | (uint32_t{in[n - 2]} << 8) |
                        uint32_t{in[n - 1]};
  const uint32_t got = crc32_ieee(out.data(), out.size());
  if (got != want) {
    char msg[96];
    std::snprintf(msg, sizeof msg, "snappy block CRC32 mismatch (stored %08x, data %08x)", want, got);
    throw BlockDecompressError(msg);
  }
}

void BlockDecompressor::unzstd(const uint8_t* in, size_t n, std::vector<uint8_t>& out) {
  if (!st_->zstd && !(st_->zstd = ZSTD_createDCtx())) throw std::bad_alloc();
  ZSTD_DCtx_reset(st_->zstd, ZSTD_reset_session_only);
  // Windows larger than 2^27 (128 MiB, zstd's default limit) are refused.
  ZSTD_inBuffer ib{in, n, 0};
  if (out.size() < std::min(max_out_, 4 * n + 1024)) out.resize(std::min(max_out_, 4 * n + 1024));
  size_t used = 0;
  size_t rc = 1;
  while (ib.pos < ib.size || rc != 0) {
    if (used == out.size()) grow(out, used, "zstandard");
    ZSTD_outBuffer ob{out.data(), out.size(), used};
    const size_t before_in = ib.pos;
    rc = ZSTD_decompressStream(st_->zstd, &ob, &ib);
    if (ZSTD_isError(rc)) {
      throw BlockDecompressError(std::string("zstandard data is corrupt: ") + ZSTD_getErrorName(rc));
    }
    const bool progress = ob.pos != used || ib.pos != before_in;
    used = ob.pos;
    if (rc != 0 && ib.pos == ib.size && used < out.size() && !progress) {
      throw BlockDecompressError("zstandard data ends before the end of its frame");
    }
  }
  out.resize(used);
}

}  // namespace privateer
