// What the libFuzzer harnesses share: the check that stops a run on a broken
// invariant (a trap, so libFuzzer saves the input as a crash), and the link
// types a harness draws a packet's from.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>

#include "dataplane/packet.hpp"

// Traps, naming the harness's file and the condition, unless `cond` holds.
#define REQUIRE(cond)                                                     \
  do {                                                                    \
    if (!(cond)) {                                                        \
      std::fprintf(stderr, "%s: broken: %s\n", __FILE__, #cond);         \
      __builtin_trap();                                                   \
    }                                                                     \
  } while (0)

namespace privateer::fuzz {

// Every link type the decoder reads, and one it does not (9, PPP); a packet
// input's first byte picks one, modulo their number (link_type_of).
// tests/fuzz/decode_seeds.py writes its seeds with this table, in this order.
inline constexpr uint16_t kLinkTypes[] = {linktype::ethernet, linktype::linux_sll, linktype::linux_sll2,
                                          linktype::raw,      linktype::raw_12,    linktype::raw_14,
                                          linktype::ipv4,     linktype::ipv6,      linktype::null,
                                          linktype::loop,     linktype::erf,       9};

inline uint16_t link_type_of(uint8_t selector) {
  return kLinkTypes[selector % (sizeof kLinkTypes / sizeof kLinkTypes[0])];
}

// The packet of a non-empty input: the first byte picks the link type, the
// rest is the captured packet, caplen bytes exactly (so that a read past it
// is an AddressSanitizer report).
inline RawPacket packet_of(const uint8_t* data, size_t size) {
  RawPacket p;
  p.linktype = link_type_of(data[0]);
  p.data = size > 1 ? data + 1 : nullptr;
  p.caplen = static_cast<uint32_t>(size - 1);
  p.wirelen = p.caplen;
  return p;
}

}  // namespace privateer::fuzz
