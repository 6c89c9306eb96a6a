#include "plugins/common/avro_encode.hpp"

#include <cstdlib>
#include <limits>
#include <new>
#include <stdexcept>

namespace privateer {

AvroEncoder::AvroEncoder(size_t initial_capacity) {
  if (initial_capacity) grow(initial_capacity);
}

AvroEncoder::~AvroEncoder() { std::free(buf_); }

AvroEncoder::AvroEncoder(AvroEncoder&& o) noexcept : buf_(o.buf_), size_(o.size_), cap_(o.cap_) {
  o.buf_ = nullptr;
  o.size_ = o.cap_ = 0;
}

AvroEncoder& AvroEncoder::operator=(AvroEncoder&& o) noexcept {
  if (this != &o) {
    std::free(buf_);
    buf_ = o.buf_;
    size_ = o.size_;
    cap_ = o.cap_;
    o.buf_ = nullptr;
    o.size_ = o.cap_ = 0;
  }
  return *this;
}

void AvroEncoder::grow(size_t need) {
  size_t cap = cap_ ? cap_ : 64;
  while (cap - size_ < need) {
    if (cap > std::numeric_limits<size_t>::max() / 2) throw std::bad_alloc();
    cap *= 2;
  }
  void* p = std::realloc(buf_, cap);
  if (!p) throw std::bad_alloc();
  buf_ = static_cast<uint8_t*>(p);
  cap_ = cap;
}

int64_t AvroDecoder::get_long() {
  uint64_t u = 0;
  for (unsigned shift = 0; shift < 70; shift += 7) {
    if (p_ == end_) throw std::runtime_error("avro: truncated varint");
    const uint8_t b = *p_++;
    u |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return AvroEncoder::unzigzag64(u);
  }
  throw std::runtime_error("avro: varint longer than 10 bytes");
}

int32_t AvroDecoder::get_int() {
  const int64_t v = get_long();
  if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max()) {
    throw std::runtime_error("avro: int out of range");
  }
  return static_cast<int32_t>(v);
}

bool AvroDecoder::get_bool() {
  if (p_ == end_) throw std::runtime_error("avro: truncated boolean");
  const uint8_t b = *p_++;
  if (b > 1) throw std::runtime_error("avro: bad boolean");
  return b == 1;
}

std::string_view AvroDecoder::get_bytes() {
  const int64_t n = get_long();
  if (n < 0 || static_cast<uint64_t>(n) > remaining()) throw std::runtime_error("avro: bad bytes length");
  std::string_view s(reinterpret_cast<const char*>(p_), static_cast<size_t>(n));
  p_ += n;
  return s;
}

const uint8_t* AvroDecoder::get_fixed(size_t n) {
  if (n > remaining()) throw std::runtime_error("avro: truncated fixed");
  const uint8_t* r = p_;
  p_ += n;
  return r;
}

}  // namespace privateer
