#include "plugins/pcapextract/flow_list.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace privateer {
namespace {

bool space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

bool number(const std::string& w, unsigned max, unsigned& out) {
  if (w.empty() || w.size() > 5) return false;
  unsigned v = 0;
  for (char c : w) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v > max) return false;
  out = v;
  return true;
}

int proto_of(const std::string& w) {
  if (w == "tcp") return 6;
  if (w == "udp") return 17;
  if (w == "sctp") return 132;
  if (w == "icmp") return 1;
  if (w == "icmp6") return 58;
  unsigned n = 0;
  return number(w, 255, n) ? static_cast<int>(n) : -1;
}

// The address as the flow table keeps it; its IP version, 0 when not an address.
int address(const std::string& w, uint8_t out[16]) {
  std::memset(out, 0, 16);
  in_addr a4{};
  if (inet_pton(AF_INET, w.c_str(), &a4) == 1) {
    const uint32_t host = ntohl(a4.s_addr);
    std::memcpy(out, &host, 4);
    return 4;
  }
  if (inet_pton(AF_INET6, w.c_str(), out) == 1) return 6;
  return 0;
}

// Orders the two ends: the lower (address, port) first.
void set_ends(FlowListKey& k, const uint8_t* a, uint16_t ap, const uint8_t* b, uint16_t bp) {
  const int c = std::memcmp(a, b, 16);
  if (c < 0 || (c == 0 && ap <= bp)) {
    std::memcpy(k.lo, a, 16);
    std::memcpy(k.hi, b, 16);
    k.lo_port = ap;
    k.hi_port = bp;
  } else {
    std::memcpy(k.lo, b, 16);
    std::memcpy(k.hi, a, 16);
    k.lo_port = bp;
    k.hi_port = ap;
  }
}

int compare(const FlowListKey& x, const FlowListKey& y) {
  if (x.proto != y.proto) return x.proto < y.proto ? -1 : 1;
  if (x.ip_version != y.ip_version) return x.ip_version < y.ip_version ? -1 : 1;
  if (const int c = std::memcmp(x.lo, y.lo, 16)) return c;
  if (x.lo_port != y.lo_port) return x.lo_port < y.lo_port ? -1 : 1;
  if (const int c = std::memcmp(x.hi, y.hi, 16)) return c;
  if (x.hi_port != y.hi_port) return x.hi_port < y.hi_port ? -1 : 1;
  return 0;
}

FlowListKey parse_line(const std::string& s, const std::string& file, int line) {
  std::vector<std::string> w;
  size_t p = 0;
  while (p < s.size() && w.size() <= 5) {
    while (p < s.size() && space(s[p])) ++p;
    if (p == s.size() || s[p] == '#') break;
    const size_t b = p;
    while (p < s.size() && !space(s[p]) && s[p] != '#') ++p;
    w.push_back(s.substr(b, p - b));
  }
  static const char* kForm = " (want PROTO SRC_IP SRC_PORT DST_IP DST_PORT)";
  if (w.size() != 5) {
    throw FlowListError(file, line, (w.size() < 5 ? "too few fields" : "too many fields") + std::string(kForm));
  }
  FlowListKey k;
  k.line = line;
  const int proto = proto_of(w[0]);
  if (proto < 0) throw FlowListError(file, line, "bad protocol '" + w[0] + "' (tcp, udp, sctp, icmp, icmp6 or 0..255)");
  k.proto = static_cast<uint8_t>(proto);
  uint8_t a[16], b[16];
  const int va = address(w[1], a), vb = address(w[3], b);
  if (!va) throw FlowListError(file, line, "bad source address '" + w[1] + "' (IPv4 or IPv6)");
  if (!vb) throw FlowListError(file, line, "bad destination address '" + w[3] + "' (IPv4 or IPv6)");
  if (va != vb) throw FlowListError(file, line, "'" + w[1] + "' and '" + w[3] + "' are not of one IP version");
  k.ip_version = static_cast<uint8_t>(va);
  unsigned ap = 0, bp = 0;
  if (!number(w[2], 65535, ap)) throw FlowListError(file, line, "bad source port '" + w[2] + "' (0..65535)");
  if (!number(w[4], 65535, bp)) throw FlowListError(file, line, "bad destination port '" + w[4] + "' (0..65535)");
  set_ends(k, a, static_cast<uint16_t>(ap), b, static_cast<uint16_t>(bp));
  return k;
}

}  // namespace

FlowListKey FlowListKey::of(const FlowRecord& r) {
  FlowListKey k;
  k.proto = r.proto;
  k.ip_version = r.ip_version;
  set_ends(k, r.a, r.aport, r.b, r.bport);
  return k;
}

bool FlowListKey::operator<(const FlowListKey& o) const { return compare(*this, o) < 0; }
bool FlowListKey::operator==(const FlowListKey& o) const { return compare(*this, o) == 0; }

FlowList FlowList::parse(const std::string& text, const std::string& file) {
  FlowList l;
  const int lines = for_each_line(text, file, [&](int line, const std::string& s) { l.keys_.push_back(parse_line(s, file, line)); });
  if (l.keys_.empty()) throw FlowListError(file, lines, "no flows in the file");
  std::stable_sort(l.keys_.begin(), l.keys_.end());
  for (size_t i = 1; i < l.keys_.size(); ++i) {
    if (l.keys_[i] == l.keys_[i - 1]) {
      const int first = std::min(l.keys_[i].line, l.keys_[i - 1].line);
      const int again = std::max(l.keys_[i].line, l.keys_[i - 1].line);
      throw FlowListError(file, again, "the flow of line " + std::to_string(first) + " again (either direction)");
    }
  }
  return l;
}

FlowList FlowList::read(const std::string& file) { return parse(read_line_file(file, "the flows file"), file); }

bool FlowList::contains(const FlowRecord& r) const {
  const FlowListKey k = FlowListKey::of(r);
  return std::binary_search(keys_.begin(), keys_.end(), k);
}

}  // namespace privateer
