// corsaro3's built-in filters. corsaro3 reads the transport header the way
// libtrace hands it over: trace_get_payload_from_ip() gives nothing for a
// non-initial fragment or an IP header longer than the capture, and the
// bytes after the IP header up to the capture end (Ethernet padding
// included: libtrace 4's cut at the IP total length is commented out);
// trace_get_payload_from_udp/_tcp() a payload once the 8-byte UDP
// header / the data-offset TCP header fits (a present payload may be 0
// bytes long). The functions below rebuild that view from the decoded one
// and the captured bytes; where corsaro3 would read past the captured bytes
// (it does not check some lengths), the field counts as absent here.
#include "dataplane/filters.hpp"

#include <cstddef>
#include <cstring>
#include <string_view>

#include "dataplane/bytes.hpp"

namespace privateer {

namespace {

constexpr uint8_t kIcmp = 1, kTcp = 6, kUdp = 17, kIpv6 = 41;
constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10, kUrg = 0x20;

constexpr const char* kNames[kBuiltinFilterCount] = {
    "spoofed",       "erratic",         "routed",          "large-scale-scan",     "abnormal-protocol",
    "ttl-200",       "no-tcp-options",  "tcpwin-1024",     "fragmented",           "last-byte-src-0",
    "last-byte-src-255", "same-src-dst", "udp-port-0",     "tcp-port-0",           "udp-destport-80",
    "rfc5735",       "backscatter",     "bittorrent",      "udp-0x31",             "sip-status",
    "udp-ip-len-96", "udp-ip-len-1500", "port-53",         "tcp-port-23",          "tcp-port-80",
    "tcp-port-5000", "dns-resp-non-standard", "netbios-query-name", "not-ip",      "ttl-200-nonspoofed",
};

constexpr uint64_t bit(builtin::Filter f) { return uint64_t{1} << f; }
inline uint64_t bit_if(bool c, builtin::Filter f) { return static_cast<uint64_t>(c) << f; }

// corsaro3's _apply_rfc5735_filter ranges (100.64.0.0/10 is not among them).
inline bool rfc5735(uint32_t s) {
  const uint32_t a = s >> 24;
  return a == 0 || a == 10 || a == 127 || (s & 0xFFFF0000u) == 0xA9FE0000u || (s & 0xFFF00000u) == 0xAC100000u ||
         (s & 0xFFFFFF00u) == 0xC0000000u || (s & 0xFFFFFF00u) == 0xC0000200u || (s & 0xFFFFFF00u) == 0xC0586300u ||
         (s & 0xFFFF0000u) == 0xC0A80000u || (s & 0xFFFE0000u) == 0xC6120000u || (s & 0xFFFFFF00u) == 0xC6336400u ||
         (s & 0xFFFFFF00u) == 0xCB007100u || a >= 224;
}

// TCP flag combinations (FIN SYN RST PSH ACK URG) corsaro3 calls normal:
// SYN, ACK, RST, FIN, SYN-FIN, SYN-ACK, FIN-ACK, ACK-PSH, FIN-ACK-PSH.
constexpr uint64_t kNormalTcpFlags = (uint64_t{1} << kSyn) | (uint64_t{1} << kAck) | (uint64_t{1} << kRst) |
                                     (uint64_t{1} << kFin) | (uint64_t{1} << (kSyn | kFin)) |
                                     (uint64_t{1} << (kSyn | kAck)) | (uint64_t{1} << (kFin | kAck)) |
                                     (uint64_t{1} << (kAck | kPsh)) | (uint64_t{1} << (kFin | kAck | kPsh));

// The UDP payload rules (bittorrent, udp-0x31, sip-status, dns, netbios);
// `p` is the payload (plen bytes), `udp` the UDP header.
inline uint64_t udp_payload_bits(const uint8_t* udp, const uint8_t* p, uint32_t plen, uint16_t ip_len,
                                 uint16_t sport, uint16_t dport) {
  uint64_t b = 0;
  // bittorrent: five byte patterns, tried in corsaro3's order.
  const uint16_t udplen = rd16(udp + 4);
  bool bt = false;
  if (udplen >= 20 && plen >= 12) {
    const uint32_t w0 = rd32(p);
    bt = (w0 == 0x64313a61u || w0 == 0x64313a72u) && rd32(p + 4) == 0x64323a69u && rd32(p + 8) == 0x6432303au;
  }
  if (!bt && udplen >= 48 && plen >= 40) {
    bt = rd32(p + 20) == 0x13426974u && rd32(p + 24) == 0x546f7272u && rd32(p + 28) == 0x656e7420u &&
         rd32(p + 32) == 0x70726f74u && rd32(p + 36) == 0x6f636f6cu;
  }
  if (!bt && ip_len >= 0x3a && plen >= 2) {
    const uint16_t h = rd16(p);
    if ((h == 0x4102 || h == 0x2102 || h == 0x3102 || h == 0x1102) && udplen >= 8 && plen >= udplen - 8u) {
      // The last 10 bytes of the payload; for a payload under 10 bytes
      // corsaro3 compares from before its start (still captured bytes).
      static constexpr uint8_t kTail[10] = {0x00, 0x08, 0, 0, 0, 0, 0, 0, 0, 0};
      bt = std::memcmp(p + static_cast<ptrdiff_t>(plen) - 10, kTail, 10) == 0;
    }
  }
  if (!bt && ip_len == 0x30 && plen >= 2) {
    const uint16_t h = rd16(p);
    bt = h == 0x4100 || h == 0x2100 || h == 0x3102 || h == 0x1100;
  }
  if (!bt && ip_len == 61 && plen >= 32) {
    bt = rd32(p + 12) == 0x7fffffffu && rd32(p + 16) == 0xab020400u && rd32(p + 20) == 0x01000000u &&
         rd32(p + 24) == 0x08000000u && rd32(p + 28) == 0;
  }
  b |= bit_if(bt, builtin::bittorrent);

  static constexpr uint8_t k0x31[10] = {0, 0, 0, 0, 0, 0, 0, 0, 0x31, 0};
  b |= bit_if(plen >= 10 && ip_len == 58 && std::memcmp(p, k0x31, 10) == 0, builtin::udp_0x31);
  b |= bit_if(plen >= 7 && sport == 5060 && dport == 5060 && std::memcmp(p, "SIP/2.0", 7) == 0,
              builtin::sip_status);
  // A DNS response by its flags and small counts, on any port.
  b |= bit_if(ip_len > 42 && plen >= 12 && (rd16(p + 2) & 0xFFF0) == 0x8180 && rd16(p + 4) < 10 &&
                  rd16(p + 6) < 10 && rd16(p + 8) < 10 && rd16(p + 10) < 10,
              builtin::dns_resp_non_standard);
  static constexpr uint8_t kNetbios[8] = {0x20, 0x43, 0x4b, 0x41, 0x41, 0x41, 0x41, 0x41};
  b |= bit_if(sport == 137 && dport == 137 && ip_len > 48 && plen >= 20 && std::memcmp(p + 12, kNetbios, 8) == 0,
              builtin::netbios_query_name);
  return b;
}

}  // namespace

const char* builtin_filter_name(size_t b) { return b < kBuiltinFilterCount ? kNames[b] : nullptr; }

std::optional<uint8_t> builtin_filter_index(std::string_view name) {
  for (size_t b = 0; b < kBuiltinFilterCount; ++b) {
    if (name == kNames[b]) return static_cast<uint8_t>(b);
  }
  return std::nullopt;
}

uint64_t builtin_filter_bits(const PacketView& v, const uint8_t* d) {
  if (v.ip_version != 4 || d == nullptr) return bit(builtin::not_ip);
  const uint8_t* ip = d + v.l3_offset;
  const uint32_t after_l3 = v.caplen - v.l3_offset;   // >= 20: the decoder saw the header
  const uint32_t ihl = static_cast<uint32_t>(ip[0] & 0x0F) * 4;
  const uint16_t ip_off = rd16(ip + 6);
  const uint8_t ip_p = ip[9];
  const uint16_t ip_len = v.ip_len;
  const uint32_t src = v.src.v4;

  // The transport header as libtrace gives it: `rem` bytes at `t`.
  uint8_t proto = 0;
  uint32_t rem = 0;
  const uint8_t* t = nullptr;
  if ((ip_off & 0x1FFF) == 0 && after_l3 >= ihl) {
    proto = ip_p;
    t = ip + ihl;
    rem = after_l3 - ihl;
  }
  const bool tcp = proto == kTcp, udp = proto == kUdp, icmp = proto == kIcmp;
  uint16_t sport = 0, dport = 0;
  if ((tcp || udp) && rem >= 4) {
    sport = rd16(t);
    dport = rd16(t + 2);
  } else if (icmp && rem >= 2) {
    sport = t[0];   // type
    dport = t[1];   // code
  }
  uint8_t flags = 0;
  uint16_t window = 0;
  uint32_t doff = 0;
  bool tcp_payload = false;
  if (tcp) {
    if (rem >= 13) {
      doff = t[12] >> 4;
      tcp_payload = rem >= doff * 4;   // a data offset under 5 "fits" too, as in libtrace
    }
    if (rem >= 14) flags = t[13];
    if (rem >= 16) window = rd16(t + 14);
  }

  uint64_t b = 0;
  const bool ttl200 = ip_p != kIcmp && v.ttl >= 200;
  const bool syn_only = tcp && (flags & (kSyn | kAck)) == kSyn;
  const bool win1024 = syn_only && window == 1024;
  const bool no_opts = syn_only && doff == 5;
  const bool scan = ttl200 && win1024 && no_opts;
  b |= bit_if(ttl200, builtin::ttl_200);
  b |= bit_if(win1024, builtin::tcpwin_1024);
  b |= bit_if(no_opts, builtin::no_tcp_options);
  b |= bit_if(scan, builtin::large_scale_scan);
  b |= bit_if(ttl200 && !scan, builtin::ttl_200_nonspoofed);

  // abnormal-protocol: not ICMP, UDP, IPv6-in-IPv4 or TCP; or TCP (with
  // its header and payload there) with a flag combination not listed above.
  bool abnormal;
  if (ip_p == kIcmp || ip_p == kUdp || ip_p == kIpv6) {
    abnormal = false;
  } else if (ip_p != kTcp) {
    abnormal = true;
  } else {
    abnormal = tcp && tcp_payload && !((kNormalTcpFlags >> (flags & 0x3F)) & 1);
  }
  b |= bit_if(abnormal, builtin::abnormal_protocol);
  b |= bit_if((ip_off & 0x9FFF) != 0, builtin::fragmented);   // offset or reserved bit, not MF alone
  b |= bit_if((src & 0xFF) == 0, builtin::last_byte_src_0);
  b |= bit_if((src & 0xFF) == 0xFF, builtin::last_byte_src_255);
  b |= bit_if(src == v.dst.v4, builtin::same_src_dst);
  b |= bit_if(udp && rem >= 4 && (sport == 0 || dport == 0), builtin::udp_port_0);
  b |= bit_if(tcp && rem >= 4 && (sport == 0 || dport == 0), builtin::tcp_port_0);
  b |= bit_if(udp && rem >= 4 && dport == 80, builtin::udp_destport_80);
  constexpr uint64_t kSpoofedBy = bit(builtin::abnormal_protocol) | bit(builtin::ttl_200_nonspoofed) |
                                  bit(builtin::fragmented) | bit(builtin::last_byte_src_0) |
                                  bit(builtin::last_byte_src_255) | bit(builtin::same_src_dst) |
                                  bit(builtin::udp_port_0) | bit(builtin::tcp_port_0) | bit(builtin::udp_destport_80);
  if (b & kSpoofedBy) b |= bit(builtin::spoofed) | bit(builtin::erratic);

  if (rfc5735(src)) b |= bit(builtin::rfc5735) | bit(builtin::routed);

  bool backscatter = false;
  if (udp) {
    backscatter = sport == 53;
  } else if (icmp) {
    if (rem >= 1) {
      const uint8_t type = t[0];
      // Replies and errors: echo reply, unreachable, source quench, redirect,
      // time exceeded, parameter problem, timestamp/info/mask reply.
      constexpr uint32_t kReplyTypes = (1u << 0) | (1u << 3) | (1u << 4) | (1u << 5) | (1u << 11) | (1u << 12) |
                                       (1u << 14) | (1u << 16) | (1u << 18);
      backscatter = type < 32 && ((kReplyTypes >> type) & 1);
    }
  } else if (tcp && tcp_payload) {
    backscatter = (flags & (kSyn | kAck)) == (kSyn | kAck) || (flags & kRst);
  }
  b |= bit_if(backscatter, builtin::backscatter);
  if (udp && rem >= 8) b |= udp_payload_bits(t, t + 8, rem - 8, ip_len, sport, dport);
  b |= bit_if(ip_p == kUdp && ip_len == 96, builtin::udp_ip_len_96);
  b |= bit_if(ip_p == kUdp && ip_len == 1500, builtin::udp_ip_len_1500);
  b |= bit_if(sport == 53 || dport == 53, builtin::port_53);   // ICMP type/code 53 too
  b |= bit_if(tcp && (sport == 23 || dport == 23), builtin::tcp_port_23);
  b |= bit_if(tcp && (sport == 80 || dport == 80), builtin::tcp_port_80);
  b |= bit_if(tcp && (sport == 5000 || dport == 5000), builtin::tcp_port_5000);
  constexpr uint64_t kErraticBy =
      bit(builtin::ttl_200) | bit(builtin::backscatter) | bit(builtin::bittorrent) | bit(builtin::udp_0x31) |
      bit(builtin::sip_status) | bit(builtin::udp_ip_len_96) | bit(builtin::udp_ip_len_1500) | bit(builtin::port_53) |
      bit(builtin::tcp_port_23) | bit(builtin::tcp_port_80) | bit(builtin::tcp_port_5000) |
      bit(builtin::dns_resp_non_standard) | bit(builtin::netbios_query_name);
  if (b & kErraticBy) b |= bit(builtin::erratic);
  return b;
}

void apply_builtin_filters(PacketView* views, const uint8_t* const* data, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const uint64_t b = builtin_filter_bits(views[i], data[i]);
    views[i].filter_bits = b;
    views[i].filter_summary = static_cast<uint8_t>(b & 0x0F);
  }
}

}  // namespace privateer
