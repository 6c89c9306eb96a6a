// libFuzzer harness for what the workers read of packet bytes past the
// decoder for the packet outputs and flows: wdcap's frame (ERF records turned
// into the frame they carry, VLAN tags stripped, the snap length cut,
// plugins/wdcap/wdcap.hpp) and the flow table's update of the decoded view
// (dataplane/flow_table.hpp). The input's first byte picks the link type
// (fuzz::kLinkTypes), its second the options (strip VLANs, FCS bytes, a snap
// length), the rest is the captured packet, caplen bytes exactly. The frame
// must lie inside the captured bytes and within snaplen; the flow is a slot
// of the table or none, its direction 0 or 1.
// Built by meson with -Dfuzz=true and run by scripts/fuzz.sh wdcap.
#include <cstddef>
#include <cstdint>

#include "dataplane/decode.hpp"
#include "dataplane/flow_table.hpp"
#include "plugins/wdcap/wdcap.hpp"
#include "tests/fuzz/fuzz_common.hpp"

using namespace privateer;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t opts = data[1];
  // packet_of reads the link type from its first byte: the options byte
  // stands in, then the link type is the input's first byte's.
  RawPacket p = fuzz::packet_of(data + 1, size - 1);
  p.linktype = fuzz::link_type_of(data[0]);
  PacketView v;
  decode_packet(p, v);

  WdcapOptions o;
  o.strip_vlans = opts & 1;
  o.erf_fcs = (opts >> 1) & 3;
  o.out.snaplen = opts & 0x80 ? 1 + ((opts >> 3) & 0x0F) * 8 : 262144;
  const WdcapFrame f = wdcap_frame(o, v, p.data);
  const uint8_t* begin = p.data;
  const uint8_t* end = p.data + p.caplen;
  REQUIRE(f.head >= begin && f.head + f.head_len <= end);
  if (f.tail_len) REQUIRE(f.tail && f.tail >= f.head + f.head_len && f.tail + f.tail_len <= end);
  REQUIRE(f.head_len + f.tail_len <= o.out.snaplen);
  REQUIRE(f.head_len + f.tail_len <= p.caplen);

  static FlowTable table([] {
    FlowSettings s;
    s.enabled = true;
    s.max = 64;
    s.idle_timeout = 1;
    s.active_timeout = 2;
    return s;
  }());
  table.update(&v, 1);
  REQUIRE(v.flow <= table.slots());
  REQUIRE(v.flow_dir <= 1);
  REQUIRE((v.flow != 0) <= (v.ip_version == 4 || v.ip_version == 6));
  return 0;
}
