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

}  // namespace privateer
