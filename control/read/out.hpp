// privateer-read's output: a growing buffer written to a FILE in large
// pieces, and the renderings of values every format shares (numbers, IP
// addresses, hex, JSON and logfmt strings).
#pragma once

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

namespace privateer::read {

class Out {
 public:
  // `f` null: output is kept until flush() and then dropped (the fuzzer).
  explicit Out(std::FILE* f) : f_(f) {
    if (f_) buf_.resize(kFlushAt + 4096);
  }
  ~Out() { flush(); }
  Out(const Out&) = delete;
  Out& operator=(const Out&) = delete;

  void put(std::string_view s) {
    char* o = room(s.size());
    std::memcpy(o, s.data(), s.size());
    len_ += s.size();
  }
  void put(char c) {
    *room(1) = c;
    ++len_;
  }
  void put_int(int64_t v) {
    char t[24];
    put(std::string_view(t, static_cast<size_t>(std::to_chars(t, t + sizeof t, v).ptr - t)));
  }
  void put_uint(uint64_t v) {
    char t[24];
    put(std::string_view(t, static_cast<size_t>(std::to_chars(t, t + sizeof t, v).ptr - t)));
  }
  // As Python's repr() (the shortest text that reads back as the same
  // double); nan, inf, -inf.
  void put_double(double d);
  void put_hex(const uint8_t* p, size_t n);
  // Dotted quad.
  void put_ipv4(uint32_t a);
  // RFC 5952 text (lowercase, the longest run of two or more zero groups as
  // "::"), as Python's ipaddress prints it.
  void put_ipv6(const uint8_t* a16);
  // What Python's ipaddress.ip_address(v) prints: IPv4 below 2^32, IPv6
  // above; a negative number as the number.
  void put_ip_number(int64_t v);
  // A JSON string: quotes, escapes, invalid UTF-8 as U+FFFD.
  void put_json_string(const uint8_t* p, size_t n);
  // A logfmt value: as is, or JSON-quoted when empty, "null", or holding
  // spaces, control characters, '=', '"' or '\\'.
  void put_logfmt_string(const uint8_t* p, size_t n);

  // Writes out what is buffered once there is a lot of it.
  void maybe_flush() {
    if (len_ >= kFlushAt) flush();
  }
  void flush();
  // A write failed (reported once at the end), and its errno.
  bool failed() const { return failed_; }
  int write_errno() const { return errno_; }
  // What is buffered (for tests without a FILE).
  std::string_view buffered() const { return {buf_.data(), len_}; }

 private:
  // Where n more bytes go (the caller then adds n to len_).
  char* room(size_t n) {
    if (buf_.size() - len_ < n) buf_.resize(std::max(2 * buf_.size(), len_ + n + 4096));
    return buf_.data() + len_;
  }

  static constexpr size_t kFlushAt = 1 << 20;
  std::FILE* f_;
  std::string buf_;   // its first len_ bytes are the output
  size_t len_ = 0;
  bool failed_ = false;
  int errno_ = 0;
};

// The field names that hold addresses: "ip" and names ending in "_ip".
bool is_address_field(std::string_view name);

}  // namespace privateer::read
