// corsaro3's built-in filters (libcorsaro_filtering.c), rule for rule, on
// the decoded view plus the captured bytes where a rule reads the payload.
//
// Bit b of PacketView::filter_bits is corsaro3's filter id b
// (corsaro_builtin_filter_id_t), set when corsaro3's filter function returns
// 1 for the packet (its -1, "cannot tell", leaves the bit clear, as
// corsarotagger's update_filter_tags does). filter_summary is the low four
// bits, as corsarotrace takes them from its own tagger: 1 spoofed, 2 erratic,
// 4 routed (corsaro3's name for "source in an RFC 5735 range", i.e. NOT
// routable), 8 large-scale scan. A packet without an IPv4 header gets
// not-ip alone. The README's "Built-in filters" lists every rule and quirk.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "dataplane/packet.hpp"

namespace privateer {

// corsaro3's filter ids: the bit numbers of PacketView::filter_bits.
namespace builtin {
enum Filter : uint8_t {
  spoofed = 0,
  erratic = 1,
  routed = 2,               // source in an RFC 5735 range (corsaro3's name)
  large_scale_scan = 3,
  abnormal_protocol = 4,
  ttl_200 = 5,
  no_tcp_options = 6,
  tcpwin_1024 = 7,
  fragmented = 8,
  last_byte_src_0 = 9,
  last_byte_src_255 = 10,
  same_src_dst = 11,
  udp_port_0 = 12,
  tcp_port_0 = 13,
  udp_destport_80 = 14,
  rfc5735 = 15,
  backscatter = 16,
  bittorrent = 17,
  udp_0x31 = 18,
  sip_status = 19,
  udp_ip_len_96 = 20,
  udp_ip_len_1500 = 21,
  port_53 = 22,
  tcp_port_23 = 23,
  tcp_port_80 = 24,
  tcp_port_5000 = 25,
  dns_resp_non_standard = 26,
  netbios_query_name = 27,
  not_ip = 28,
  ttl_200_nonspoofed = 29,
  count = 30,               // number of filters; bits count..63 are never set
};
}  // namespace builtin

constexpr size_t kBuiltinFilterCount = builtin::count;
constexpr uint64_t kBuiltinFilterMask = (uint64_t{1} << kBuiltinFilterCount) - 1;

// The filter's name, as corsaro_get_builtin_filter_name gives it (or, for
// the ids it leaves unnamed, large-scale-scan, no-tcp-options, tcpwin-1024,
// not-ip); nullptr for b >= kBuiltinFilterCount.
const char* builtin_filter_name(size_t b);
// The id of a name builtin_filter_name gives; nullopt for any other string.
std::optional<uint8_t> builtin_filter_index(std::string_view name);

// Bits of one packet. `data` is the captured packet the view was decoded
// from (view.caplen bytes); only read within them.
uint64_t builtin_filter_bits(const PacketView& view, const uint8_t* data);

// Fills filter_bits and filter_summary of views[0..n).
void apply_builtin_filters(PacketView* views, const uint8_t* const* data, size_t n);

}  // namespace privateer
