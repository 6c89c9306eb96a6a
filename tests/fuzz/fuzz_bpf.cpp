// libFuzzer harness for the custom BPF filters (dataplane/bpf.hpp): the
// input up to its first newline is a filter expression, compiled as a config
// would have it; the rest is one more packet, its first byte choosing the
// link type (fuzz::kLinkTypes, modulo their number), caplen bytes exactly so
// that a read past it is an AddressSanitizer report. A compiled expression
// runs over a few fixed packets of different link types and that one, through
// both TagStage steps. Besides crashes: an expression either compiles for a
// link type or says why, and filter_input keeps exactly the matching packets.
// Built by meson with -Dfuzz=true and run by scripts/fuzz.sh bpf.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "dataplane/bpf.hpp"
#include "dataplane/decode.hpp"
#include "tests/fuzz/fuzz_common.hpp"

using namespace privateer;

namespace {

// An IPv4 TCP SYN 10.0.0.1:1234 -> 192.168.1.2:80, TTL 64, no options.
const uint8_t kIpTcp[] = {0x45, 0, 0, 40, 0, 1, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 192, 168, 1, 2,
                          0x04, 0xd2, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0x20, 0, 0, 0, 0, 0};
// An IPv6 UDP packet ::1 -> ::2, ports 53 -> 53, no payload.
const uint8_t kIp6Udp[] = {0x60, 0, 0, 0, 0, 8, 17, 64, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
                           0,    0, 0, 0, 0, 0, 0,  0,  0, 0, 0, 0, 0, 0, 0, 2, 0, 53, 0, 53, 0, 8, 0, 0};

std::vector<uint8_t> cat(std::initializer_list<uint8_t> head, const uint8_t* body, size_t n) {
  std::vector<uint8_t> v(head);
  v.insert(v.end(), body, body + n);
  return v;
}

struct Fixed {
  uint16_t linktype;
  std::vector<uint8_t> bytes;
};

const std::vector<Fixed>& fixed_packets() {
  static const std::vector<Fixed> f = {
      {linktype::ethernet, cat({2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00}, kIpTcp, sizeof kIpTcp)},
      {linktype::ethernet, cat({2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x81, 0x00, 0x00, 0x07, 0x86, 0xdd}, kIp6Udp,
                               sizeof kIp6Udp)},
      {linktype::linux_sll2, cat({0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0}, kIpTcp,
                                 sizeof kIpTcp)},
      {linktype::raw, cat({}, kIp6Udp, sizeof kIp6Udp)},
      // ERF type ETH with one extension header, then 2 pad bytes and the frame.
      {linktype::erf, cat({0, 0, 0, 0, 0, 0, 0, 0, 0x82, 0, 0, 80, 0, 0, 0, 54, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                           2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00},
                          kIpTcp, sizeof kIpTcp)},
  };
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const uint8_t* nl = static_cast<const uint8_t*>(std::memchr(data, '\n', size));
  const size_t expr_len = nl ? static_cast<size_t>(nl - data) : size;
  // libpcap reads the expression as a C string.
  if (std::memchr(data, 0, expr_len)) return 0;
  const std::string expr(reinterpret_cast<const char*>(data), expr_len);

  auto tables = std::make_shared<TagTables>();
  try {
    tables->custom.push_back(std::make_shared<const BpfProgram>("f", expr));
  } catch (const std::invalid_argument& e) {
    REQUIRE(std::strlen(e.what()) > 0);
    return 0;
  }
  const BpfProgram& prog = *tables->custom[0];
  for (const auto& u : prog.unsupported()) REQUIRE(u.find(": ") != std::string::npos);
  tables->input = tables->custom[0];

  // The fixed packets, then the input's own one (its bytes copied so that
  // the buffer ends where the capture does).
  std::vector<RawPacket> raw;
  for (const auto& f : fixed_packets()) {
    RawPacket p;
    p.data = f.bytes.data();
    p.caplen = p.wirelen = static_cast<uint32_t>(f.bytes.size());
    p.linktype = f.linktype;
    raw.push_back(p);
  }
  std::unique_ptr<uint8_t[]> own;
  if (nl && static_cast<size_t>(nl - data) + 1 < size) {
    const uint8_t* p = nl + 1;
    const size_t n = size - static_cast<size_t>(p - data) - 1;
    RawPacket r;
    r.linktype = fuzz::link_type_of(p[0]);
    if (n) {
      own = std::make_unique<uint8_t[]>(n);
      std::memcpy(own.get(), p + 1, n);
    }
    r.data = own.get();
    r.caplen = static_cast<uint32_t>(n);
    r.wirelen = r.caplen + (p[0] & 0x80 ? 100 : 0);
    raw.push_back(r);
  }

  std::vector<PacketView> views(raw.size());
  std::vector<const uint8_t*> ptrs(raw.size());
  std::vector<bool> want(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    decode_packet(raw[i], views[i]);
    ptrs[i] = raw[i].data;
    want[i] = prog.matches(views[i], ptrs[i]);
  }
  tag_custom(tables.get(), views.data(), ptrs.data(), views.size());
  size_t matched = 0;
  for (size_t i = 0; i < raw.size(); ++i) {
    REQUIRE(((views[i].custom_bits & 1) != 0) == want[i]);
    matched += want[i];
  }
  TagCounters counters;
  const size_t kept = filter_input(tables.get(), views.data(), ptrs.data(), views.size(), counters);
  REQUIRE(kept == matched);
  REQUIRE(counters.input_filtered.load() == raw.size() - matched);
  for (size_t i = 0; i < kept; ++i) REQUIRE(views[i].custom_bits & 1);
  return 0;
}
