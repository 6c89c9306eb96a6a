// The packet as a capture source hands it over, and the decoded view of it
// that every plugin reads. Plain C++: no DPDK, no libtrace.
#pragma once

#include <cstddef>
#include <cstdint>

namespace privateer {

// Link types are pcap LINKTYPE_/DLT_ numbers.
namespace linktype {
constexpr uint16_t null = 0;         // BSD loopback, 4-byte host-order family
constexpr uint16_t ethernet = 1;
constexpr uint16_t raw_12 = 12;      // raw IP (OpenBSD numbering)
constexpr uint16_t raw_14 = 14;      // raw IP (some BSDs)
constexpr uint16_t raw = 101;        // raw IPv4/IPv6
constexpr uint16_t loop = 108;       // OpenBSD loopback, network-order family
constexpr uint16_t linux_sll = 113;
constexpr uint16_t erf = 197;        // an ERF record, header included
constexpr uint16_t ipv4 = 228;
constexpr uint16_t ipv6 = 229;
constexpr uint16_t linux_sll2 = 276;
}  // namespace linktype

// One captured packet as a source delivers it. `data` stays valid until the
// source's next read_burst() call.
struct RawPacket {
  const uint8_t* data = nullptr;
  uint32_t caplen = 0;    // bytes captured
  uint32_t wirelen = 0;   // bytes on the wire
  uint64_t ts_ns = 0;     // packet time, ns since the Unix epoch
  uint16_t linktype = linktype::ethernet;
};

// Why a packet could not be decoded completely. The packet still reaches the
// plugins with the fields decoded before the problem.
enum class DecodeError : uint8_t {
  none = 0,
  unsupported_linktype,
  truncated_link,         // link header (Ethernet, SLL, ERF, loopback) cut short
  truncated_vlan,
  truncated_mpls,
  truncated_pppoe,
  truncated_ip,           // fewer than 20 (v4) / 40 (v6) bytes of IP header
  bad_ip_version,         // version nibble neither 4 nor 6
  bad_ip_header_length,   // IHL < 5, or IHL beyond the captured bytes
  truncated_ipv6_ext,     // an IPv6 extension header cut short
  truncated_transport,    // TCP/UDP/ICMP/SCTP header cut short
  count_                  // number of reasons; not a reason
};

constexpr size_t kDecodeErrorCount = static_cast<size_t>(DecodeError::count_);

// Metric label / log name of a reason, e.g. "truncated_ip".
const char* decode_error_name(DecodeError e);

// Flags in PacketView::flags.
namespace pflag {
constexpr uint16_t has_ports = 1u << 0;        // sport/dport hold transport ports (or ICMP type/code)
constexpr uint16_t has_tcp_flags = 1u << 1;    // tcp_flags was captured
constexpr uint16_t fragment = 1u << 2;         // IP fragment (initial or not)
constexpr uint16_t later_fragment = 1u << 3;   // non-initial fragment: no transport header
constexpr uint16_t more_fragments = 1u << 4;
constexpr uint16_t ip_options = 1u << 5;       // IPv4 options / IPv6 extension headers present
constexpr uint16_t tcp_options = 1u << 6;      // TCP header longer than 20 bytes
constexpr uint16_t tcp_window = 1u << 7;       // tcp_window was captured
}  // namespace pflag

constexpr uint16_t kNoOffset = 0xFFFF;

// The result of decoding a packet once. Plugins read it, never the headers.
// Addresses: IPv4 in host byte order in v4; IPv6 as the 16 wire bytes.
struct PacketView {
  uint64_t ts_ns = 0;
  uint32_t caplen = 0;
  uint32_t wirelen = 0;
  union Addr {
    uint32_t v4;
    uint8_t v6[16];
  };
  Addr src{};
  Addr dst{};
  uint16_t linktype = 0;
  uint16_t l3_offset = kNoOffset;   // first IP header
  uint16_t l4_offset = kNoOffset;   // transport header (after IPv6 extension headers)
  uint16_t payload_offset = kNoOffset;  // transport payload
  uint16_t ip_len = 0;          // IPv4 total-length field as on the wire; IPv6 payload length + 40
  uint16_t sport = 0;           // TCP/UDP/SCTP port, ICMP type
  uint16_t dport = 0;           // TCP/UDP/SCTP port, ICMP code
  uint16_t frag_offset = 0;     // in 8-byte units
  uint16_t tcp_window = 0;
  uint16_t vlan_id = 0;         // outermost VLAN id
  uint16_t flags = 0;           // pflag::
  uint8_t ip_version = 0;       // 0: no IP found, 4 or 6
  uint8_t proto = 0;            // IPv4 protocol / final IPv6 next header
  uint8_t ttl = 0;              // TTL / hop limit
  uint8_t tcp_flags = 0;        // low 8 bits: CWR ECE URG ACK PSH RST SYN FIN
  uint8_t tcp_hdr_len = 0;      // TCP data offset in bytes
  uint8_t vlan_count = 0;
  uint8_t mpls_count = 0;
  DecodeError error = DecodeError::none;
  // Tags, set after decoding by the worker's TagStage (dataplane/tags.hpp)
  // when the run computes them; 0 / empty otherwise. The decoder clears them.
  uint8_t filter_summary = 0;   // corsaro3's high-level bits: 1 spoofed, 2 erratic, 4 non-routable, 8 large-scale scan
  char country[2] = {0, 0};     // ISO 3166 code of the source address; {0,0}: unknown (written "??")
  char continent[2] = {0, 0};   // continent code of the source address; {0,0}: unknown
  uint8_t flow_dir = 0;         // 0: from the flow's first sender; 1: towards it
  uint32_t asn = 0;             // origin AS of the source's longest prefix; 0: none, or more than one origin
  uint64_t filter_bits = 0;     // corsaro3's built-in filters: bit b set when filter b is true
  uint64_t custom_bits = 0;     // custom (BPF) filters: bit i set when filter i matched
  // The worker's flow table (dataplane/flow_table.hpp), where the run keeps
  // flows: its slot + 1; 0 without one or when not tracked.
  uint32_t flow = 0;

  bool is_ipv4() const { return ip_version == 4; }
  bool is_ipv6() const { return ip_version == 6; }
  uint32_t payload_len() const {
    return payload_offset == kNoOffset || payload_offset > caplen ? 0 : caplen - payload_offset;
  }
};

}  // namespace privateer
