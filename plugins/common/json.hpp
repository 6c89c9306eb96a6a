// JSON text helpers for the lines and markers Privateer writes.
#pragma once

#include <cstdio>
#include <string>

namespace privateer {

// `s` as a JSON string: quoted, `"` and `\` escaped, control bytes as \u00XX
// (other bytes as they are: the names Privateer writes are UTF-8 or ASCII).
inline std::string json_quote(const std::string& s) {
  std::string out = "\"";
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

// A number as JSON has it: integers without a fraction, others with up to
// 17 significant digits; NaN and infinities (no JSON number) as null.
inline std::string json_number(double v) {
  if (v != v || v - v != 0) return "null";
  char buf[32];
  if (v == static_cast<double>(static_cast<long long>(v)) && v > -9.0e15 && v < 9.0e15) {
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
  } else {
    std::snprintf(buf, sizeof buf, "%.17g", v);
  }
  return buf;
}

}  // namespace privateer
