#include "dataplane/pfx2as.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace privateer {

namespace {

using u128 = unsigned __int128;

bool is_sep(char c) { return c == '\t' || c == ' '; }

// Decimal digits only, at most `max`.
bool parse_uint(std::string_view s, uint64_t max, uint64_t& out) {
  if (s.empty() || s.size() > 10) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > max) return false;
  out = v;
  return true;
}

// One AS: asplain (0..4294967295) or asdot (HIGH.LOW, each 0..65535).
bool parse_one_as(std::string_view s, uint32_t& out) {
  const size_t dot = s.find('.');
  uint64_t hi = 0, lo = 0;
  if (dot == std::string_view::npos) {
    if (!parse_uint(s, 0xFFFFFFFFull, lo)) return false;
    out = static_cast<uint32_t>(lo);
    return true;
  }
  if (!parse_uint(s.substr(0, dot), 0xFFFF, hi) || !parse_uint(s.substr(dot + 1), 0xFFFF, lo)) return false;
  out = static_cast<uint32_t>(hi << 16 | lo);
  return true;
}

std::string shown(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 64)) out += c == '\t' ? ' ' : (c >= 0x20 && c < 0x7F) ? c : '?';
  if (s.size() > 64) out += "...";
  return out;
}

Pfx2asPrefix parse_line(std::string_view line, size_t lineno) {
  std::string_view fields[3];
  size_t n = 0;
  for (size_t i = 0; i < line.size();) {
    while (i < line.size() && is_sep(line[i])) ++i;
    if (i == line.size()) break;
    size_t j = i;
    while (j < line.size() && !is_sep(line[j])) ++j;
    if (n == 3) throw Pfx2asError(lineno, "more than three fields (ADDRESS LENGTH AS): '" + shown(line) + "'");
    fields[n++] = line.substr(i, j - i);
    i = j;
  }
  if (n != 3) throw Pfx2asError(lineno, "not ADDRESS<TAB>LENGTH<TAB>AS: '" + shown(line) + "'");

  Pfx2asPrefix p;
  char buf[INET6_ADDRSTRLEN + 1];
  if (fields[0].size() >= sizeof buf) throw Pfx2asError(lineno, "not an IP address: '" + shown(fields[0]) + "'");
  std::memcpy(buf, fields[0].data(), fields[0].size());
  buf[fields[0].size()] = '\0';
  if (inet_pton(AF_INET, buf, p.addr.data()) == 1) {
    p.v6 = false;
  } else if (inet_pton(AF_INET6, buf, p.addr.data()) == 1) {
    p.v6 = true;
  } else {
    throw Pfx2asError(lineno, "not an IP address: '" + shown(fields[0]) + "'");
  }
  uint64_t len = 0;
  if (!parse_uint(fields[1], p.v6 ? 128 : 32, len)) {
    throw Pfx2asError(lineno, "prefix length must be 0.." + std::string(p.v6 ? "128" : "32") + ", got '" +
                                  shown(fields[1]) + "'");
  }
  p.len = static_cast<uint8_t>(len);
  // Host bits are not part of the prefix.
  const size_t bytes = p.v6 ? 16 : 4;
  for (size_t b = 0; b < bytes; ++b) {
    const int keep = static_cast<int>(len) - static_cast<int>(b * 8);
    if (keep <= 0) p.addr[b] = 0;
    else if (keep < 8) p.addr[b] &= static_cast<uint8_t>(0xFF << (8 - keep));
  }

  // Origins joined by '_' (multi-origin) or ',' (AS set).
  size_t count = 0;
  uint32_t asn = 0;
  const std::string_view as = fields[2];
  for (size_t i = 0;;) {
    const size_t j = std::min(as.find('_', i), as.find(',', i));
    const std::string_view tok = as.substr(i, j == std::string_view::npos ? std::string_view::npos : j - i);
    if (!parse_one_as(tok, asn)) {
      throw Pfx2asError(lineno, "not an AS number, or AS numbers joined by '_' or ',': '" + shown(as) + "'");
    }
    ++count;
    if (j == std::string_view::npos) break;
    i = j + 1;
  }
  p.asn = count == 1 ? asn : 0;
  return p;
}

u128 to_u128(const std::array<uint8_t, 16>& a) {
  u128 v = 0;
  for (uint8_t b : a) v = v << 8 | b;
  return v;
}

u128 to_u128(const uint8_t* a) {
  u128 v = 0;
  for (int i = 0; i < 16; ++i) v = v << 8 | a[i];
  return v;
}

}  // namespace

Pfx2asError::Pfx2asError(size_t line, const std::string& message)
    : std::runtime_error("line " + std::to_string(line) + ": " + message), line_(line) {}

std::vector<Pfx2asPrefix> parse_pfx2as(std::string_view text) {
  std::vector<Pfx2asPrefix> out;
  size_t lineno = 0;
  for (size_t at = 0; at < text.size();) {
    size_t nl = text.find('\n', at);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(at, nl - at);
    at = nl + 1;
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    out.push_back(parse_line(line, lineno));
  }
  return out;
}

PrefixTable::PrefixTable(const std::vector<Pfx2asPrefix>& prefixes) {
  std::vector<size_t> v4, v6;
  for (size_t i = 0; i < prefixes.size(); ++i) (prefixes[i].v6 ? v6 : v4).push_back(i);
  v4_count_ = v4.size();
  v6_count_ = v6.size();

  auto encode = [&](uint32_t asn) -> uint32_t {
    if (asn < kLarge) return asn;
    auto it = std::find(large_.begin(), large_.end(), asn);
    if (it == large_.end()) it = large_.insert(large_.end(), asn);
    return kLarge + static_cast<uint32_t>(it - large_.begin());
  };

  // IPv4: shorter prefixes first, so that longer ones overwrite them; a
  // prefix listed twice keeps its last line (stable sort).
  std::stable_sort(v4.begin(), v4.end(), [&](size_t a, size_t b) { return prefixes[a].len < prefixes[b].len; });
  for (size_t i : v4) {
    const Pfx2asPrefix& p = prefixes[i];
    const uint32_t addr = uint32_t{p.addr[0]} << 24 | uint32_t{p.addr[1]} << 16 | uint32_t{p.addr[2]} << 8 | p.addr[3];
    v4_.insert(addr, p.len, encode(p.asn));
  }
  v4_.shrink();

  // IPv6: a step function over the address space. Sorted by start, then
  // shorter first, prefixes are disjoint or nested in those still open.
  std::stable_sort(v6.begin(), v6.end(), [&](size_t a, size_t b) {
    const u128 sa = to_u128(prefixes[a].addr), sb = to_u128(prefixes[b].addr);
    return sa != sb ? sa < sb : prefixes[a].len < prefixes[b].len;
  });
  struct Open {
    u128 last;
    uint32_t asn;
  };
  std::vector<Open> open;
  auto step = [&](u128 from, uint32_t asn) {
    if (!v6_start_.empty() && v6_start_.back() == from) {
      v6_asn_.back() = asn;   // a later (more specific or repeated) prefix at the same address
    } else {
      v6_start_.push_back(from);
      v6_asn_.push_back(asn);
    }
  };
  auto close_until = [&](const u128* next_start) {
    while (!open.empty() && (!next_start || open.back().last < *next_start)) {
      const u128 last = open.back().last;
      open.pop_back();
      if (last != ~u128{0}) step(last + 1, open.empty() ? 0 : open.back().asn);
    }
  };
  step(0, 0);
  for (size_t i : v6) {
    const Pfx2asPrefix& p = prefixes[i];
    const u128 start = to_u128(p.addr);
    const u128 last = p.len == 0 ? ~u128{0} : start | ((u128{1} << (128 - p.len)) - 1);
    close_until(&start);
    step(start, p.asn);
    open.push_back({last, p.asn});
  }
  close_until(nullptr);
  // Neighbouring ranges of one AS are one range.
  size_t w = 0;
  for (size_t r = 0; r < v6_start_.size(); ++r) {
    if (w > 0 && v6_asn_[w - 1] == v6_asn_[r]) continue;
    v6_start_[w] = v6_start_[r];
    v6_asn_[w] = v6_asn_[r];
    ++w;
  }
  v6_start_.resize(w);
  v6_asn_.resize(w);
  v6_start_.shrink_to_fit();
  v6_asn_.shrink_to_fit();
}

uint32_t PrefixTable::lookup_v6(const uint8_t addr[16]) const {
  const u128 a = to_u128(addr);
  // v6_start_[0] is 0: the range holding `a` is the last one starting at or before it.
  const auto it = std::upper_bound(v6_start_.begin(), v6_start_.end(), a);
  return v6_asn_[static_cast<size_t>(it - v6_start_.begin()) - 1];
}

}  // namespace privateer
