// Custom filters in BPF (tcpdump) syntax: an expression compiled once with
// libpcap for every link type the decoder reads, and run in the workers on
// each packet's captured bytes with the program of the packet's own link
// type. Nothing is compiled, allocated or locked per packet.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/packet.hpp"
#include "dataplane/tags.hpp"

struct bpf_insn;

namespace privateer {

class BpfProgram {
 public:
  // Compiles `expression` (optimised, netmask unknown, 262144-byte snaplen)
  // for each link type of dataplane/packet.hpp. Throws std::invalid_argument
  // with libpcap's message (pcap_geterr) when it compiles for none of them.
  BpfProgram(std::string name, std::string expression);
  ~BpfProgram();
  BpfProgram(const BpfProgram&) = delete;
  BpfProgram& operator=(const BpfProgram&) = delete;

  // True when the packet matches. A packet of a link type the expression did
  // not compile for ("vlan" on raw IP, "ether host" on SLL2), or that the
  // decoder does not read, never matches. ERF records are filtered as their
  // Ethernet frame or IP packet (past the ERF header and extension headers),
  // as libtrace does.
  bool matches(const PacketView& v, const uint8_t* data) const;

  const std::string& name() const { return name_; }
  const std::string& expression() const { return expression_; }
  // "LINKTYPE: libpcap's message" for each link type it did not compile for.
  const std::vector<std::string>& unsupported() const { return unsupported_; }

 private:
  // One program per link-layer framing libpcap compiles for.
  enum Slot : uint8_t { kNull, kEthernet, kRaw, kLoop, kSll, kIpv4, kIpv6, kSll2, kSlots, kNone = kSlots };
  static Slot slot_of(uint16_t linktype);
  void free_code();
  struct Code {
    const bpf_insn* insns = nullptr;   // null: did not compile for this slot
    unsigned len = 0;
  };
  std::string name_;
  std::string expression_;
  std::array<Code, kSlots> code_{};
  std::vector<std::string> unsupported_;
};

// The TagStage's steps (dataplane/tags.cpp); both do nothing when `tables`
// is null or has no such filter.
// corsarotrace's `filter`: keeps, in order, the packets of views/data[0..n)
// that tables->input matches, counts the others in input_filtered, and
// returns how many are kept.
size_t filter_input(const TagTables* tables, PacketView* views, const uint8_t** data, size_t n,
                    TagCounters& counters);
// Sets bit i of custom_bits of each of views[0..n) that tables->custom[i] matches.
void tag_custom(const TagTables* tables, PacketView* views, const uint8_t* const* data, size_t n);

}  // namespace privateer
