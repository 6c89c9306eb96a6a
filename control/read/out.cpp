#include "control/read/out.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>

namespace privateer::read {

void Out::flush() {
  if (len_ == 0) return;
  if (f_ && !failed_) {
    if (std::fwrite(buf_.data(), 1, len_, f_) != len_ || std::fflush(f_) != 0) {
      failed_ = true;
      errno_ = errno;
    }
  }
  len_ = 0;
}

void Out::put_double(double d) {
  if (std::isnan(d)) return put("nan");
  if (std::isinf(d)) return put(d > 0 ? "inf" : "-inf");
  // Python's repr(): the shortest digits that read back as d, in fixed
  // notation (with ".0" when integral) for exponents -4..15, else as
  // d.ddde+XX.
  char t[40];
  const char* e = std::to_chars(t, t + sizeof t, d, std::chars_format::scientific).ptr;
  const char* x = std::find(static_cast<const char*>(t), e, 'e');
  int exp = 0;
  std::from_chars(x + 1 + (x[1] == '+'), e, exp);
  if (exp < -4 || exp >= 16) return put(std::string_view(t, static_cast<size_t>(e - t)));
  std::string_view mant(t, static_cast<size_t>(x - t));
  if (mant[0] == '-') {
    put('-');
    mant.remove_prefix(1);
  }
  std::string digits(1, mant[0]);
  if (mant.size() > 2) digits.append(mant.substr(2));   // without the '.'
  const int point = exp + 1;                          // digits before the point
  if (point <= 0) {
    put("0.");
    put(std::string(static_cast<size_t>(-point), '0'));
    put(digits);
  } else if (static_cast<size_t>(point) >= digits.size()) {
    put(digits);
    put(std::string(static_cast<size_t>(point) - digits.size(), '0'));
    put(".0");
  } else {
    put(std::string_view(digits).substr(0, static_cast<size_t>(point)));
    put('.');
    put(std::string_view(digits).substr(static_cast<size_t>(point)));
  }
}

void Out::put_hex(const uint8_t* p, size_t n) {
  static const char kHex[] = "0123456789abcdef";
  char* o = room(2 * n);
  for (size_t i = 0; i < n; ++i) {
    o[2 * i] = kHex[p[i] >> 4];
    o[2 * i + 1] = kHex[p[i] & 15];
  }
  len_ += 2 * n;
}

void Out::put_ipv4(uint32_t a) {
  char t[16];
  size_t n = 0;
  for (int shift = 24; shift >= 0; shift -= 8) {
    const unsigned b = (a >> shift) & 255;
    if (b >= 100) t[n++] = static_cast<char>('0' + b / 100);
    if (b >= 10) t[n++] = static_cast<char>('0' + b / 10 % 10);
    t[n++] = static_cast<char>('0' + b % 10);
    if (shift) t[n++] = '.';
  }
  put(std::string_view(t, n));
}

void Out::put_ipv6(const uint8_t* a) {
  uint16_t g[8];
  for (int i = 0; i < 8; ++i) g[i] = static_cast<uint16_t>((a[2 * i] << 8) | a[2 * i + 1]);
  int best = -1, best_len = 0;   // the first longest run of zero groups
  for (int i = 0; i < 8;) {
    if (g[i] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && g[j] == 0) ++j;
    if (j - i > best_len) {
      best = i;
      best_len = j - i;
    }
    i = j;
  }
  if (best_len < 2) best = -1;
  char t[48];
  char* o = t;
  for (int i = 0; i < 8; ++i) {
    if (i == best) {
      *o++ = ':';
      if (i == 0) *o++ = ':';
      i += best_len - 1;
      continue;
    }
    o = std::to_chars(o, t + sizeof t, g[i], 16).ptr;
    if (i < 7) *o++ = ':';
  }
  put(std::string_view(t, static_cast<size_t>(o - t)));
}

void Out::put_ip_number(int64_t v) {
  if (v < 0) return put_int(v);
  if (v <= static_cast<int64_t>(UINT32_MAX)) return put_ipv4(static_cast<uint32_t>(v));
  uint8_t a[16] = {};
  for (int i = 0; i < 8; ++i) a[15 - i] = static_cast<uint8_t>(static_cast<uint64_t>(v) >> (8 * i));
  put_ipv6(a);
}

namespace {

// Length of the valid UTF-8 sequence at p (1..4), or 0 when invalid.
size_t utf8_len(const uint8_t* p, size_t n) {
  const uint8_t c = p[0];
  size_t len;
  uint32_t cp;
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) len = 2, cp = c & 0x1f;
  else if (c >= 0xe0 && c <= 0xef) len = 3, cp = c & 0x0f;
  else if (c >= 0xf0 && c <= 0xf4) len = 4, cp = c & 0x07;
  else return 0;
  if (n < len) return 0;
  for (size_t i = 1; i < len; ++i) {
    if ((p[i] & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (p[i] & 0x3f);
  }
  if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp < 0xe000))) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff))) {
    return 0;
  }
  return len;
}

}  // namespace

void Out::put_json_string(const uint8_t* p, size_t n) {
  static const char kHex[] = "0123456789abcdef";
  put('"');
  size_t run = 0;   // bytes copied as they are, pending
  auto copy_run = [&](size_t i) {
    put(std::string_view(reinterpret_cast<const char*>(p + i - run), run));
    run = 0;
  };
  for (size_t i = 0; i < n;) {
    const uint8_t c = p[i];
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      ++run;
      ++i;
      continue;
    }
    if (c >= 0x80) {
      const size_t len = utf8_len(p + i, n - i);
      if (len) {
        run += len;
        i += len;
        continue;
      }
      copy_run(i);
      put("\\ufffd");
      ++i;
      continue;
    }
    copy_run(i);
    switch (c) {
      case '"': put("\\\""); break;
      case '\\': put("\\\\"); break;
      case '\n': put("\\n"); break;
      case '\t': put("\\t"); break;
      case '\r': put("\\r"); break;
      case '\b': put("\\b"); break;
      case '\f': put("\\f"); break;
      default: {
        const char u[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
        put(std::string_view(u, 6));
      }
    }
    ++i;
  }
  copy_run(n);
  put('"');
}

void Out::put_logfmt_string(const uint8_t* p, size_t n) {
  bool quote = n == 0 || std::string_view(reinterpret_cast<const char*>(p), n) == "null";
  for (size_t i = 0; i < n && !quote; ++i) {
    quote = p[i] <= ' ' || p[i] == '=' || p[i] == '"' || p[i] == '\\' || p[i] == 0x7f;
  }
  if (quote) return put_json_string(p, n);
  put(std::string_view(reinterpret_cast<const char*>(p), n));
}

bool is_address_field(std::string_view name) {
  return name == "ip" || (name.size() > 3 && name.substr(name.size() - 3) == "_ip");
}

}  // namespace privateer::read
