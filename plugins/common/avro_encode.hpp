// Avro binary encoding (https://avro.apache.org/docs/current/specification/#binary-encoding)
// into a growable byte buffer. A plugin encodes one record at a time and hands
// data()/size() to AvroStream::append_encoded(); clear() keeps the capacity,
// so a reused encoder stops allocating once it has seen its largest record.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace privateer {

class AvroEncoder {
 public:
  explicit AvroEncoder(size_t initial_capacity = 256);
  ~AvroEncoder();
  AvroEncoder(const AvroEncoder&) = delete;
  AvroEncoder& operator=(const AvroEncoder&) = delete;
  AvroEncoder(AvroEncoder&& o) noexcept;
  AvroEncoder& operator=(AvroEncoder&& o) noexcept;

  // Forgets the contents, keeps the capacity.
  void clear() { size_ = 0; }
  const uint8_t* data() const { return buf_; }
  size_t size() const { return size_; }
  size_t capacity() const { return cap_; }
  // Makes room for `n` more bytes (one allocation at most).
  void reserve_more(size_t n) {
    if (cap_ - size_ < n) grow(n);
  }

  // long and int: zigzag, then base-128 varint, low group first.
  void put_long(int64_t v) {
    reserve_more(10);
    size_ += write_varint(buf_ + size_, zigzag64(v));
  }
  void put_int(int32_t v) { put_long(v); }
  void put_bool(bool b) {
    reserve_more(1);
    buf_[size_++] = b ? 1 : 0;
  }
  // bytes and string: long length, then the bytes.
  void put_bytes(const void* p, size_t n) {
    reserve_more(10 + n);
    size_ += write_varint(buf_ + size_, zigzag64(static_cast<int64_t>(n)));
    if (n) std::memcpy(buf_ + size_, p, n);
    size_ += n;
  }
  void put_string(std::string_view s) { put_bytes(s.data(), s.size()); }
  // fixed: the bytes alone (the size lives in the schema).
  void put_fixed(const void* p, size_t n) { put_raw(p, n); }
  // Already-encoded Avro bytes (e.g. a pre-encoded constant tail of a record).
  void put_raw(const void* p, size_t n) {
    reserve_more(n);
    if (n) std::memcpy(buf_ + size_, p, n);
    size_ += n;
  }
  void put_float(float f) {
    static_assert(sizeof(float) == 4);
    put_raw(&f, 4);   // little-endian IEEE 754 (x86, arm64 little-endian)
  }
  void put_double(double d) {
    static_assert(sizeof(double) == 8);
    put_raw(&d, 8);
  }
  // Union branch index (then the value of that branch).
  void put_union_index(int64_t i) { put_long(i); }

  static constexpr uint64_t zigzag64(int64_t v) {
    return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
  }
  static constexpr int64_t unzigzag64(uint64_t u) {
    return static_cast<int64_t>(u >> 1) ^ -static_cast<int64_t>(u & 1);
  }
  // Writes the varint of `u` at `p` (room for 10 bytes needed); returns its length.
  static size_t write_varint(uint8_t* p, uint64_t u) {
    size_t i = 0;
    while (u >= 0x80) {
      p[i++] = static_cast<uint8_t>(u | 0x80);
      u >>= 7;
    }
    p[i++] = static_cast<uint8_t>(u);
    return i;
  }

 private:
  void grow(size_t need);

  uint8_t* buf_ = nullptr;
  size_t size_ = 0;
  size_t cap_ = 0;
};

// Reads Avro binary back (for tests and tools): each get_* throws
// std::runtime_error on truncated or malformed input.
class AvroDecoder {
 public:
  AvroDecoder(const void* p, size_t n) : p_(static_cast<const uint8_t*>(p)), end_(p_ + n) {}
  int64_t get_long();
  int32_t get_int();
  bool get_bool();
  std::string_view get_bytes();   // also strings; points into the input
  const uint8_t* get_fixed(size_t n);
  bool at_end() const { return p_ == end_; }
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

}  // namespace privateer
