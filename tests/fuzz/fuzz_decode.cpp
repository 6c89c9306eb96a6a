// libFuzzer harness for the packet decoder (dataplane/decode.hpp) and the
// built-in filters run on what it decoded (dataplane/filters.hpp): the
// input's first byte chooses the link type (fuzz::kLinkTypes, modulo their
// number), the rest is the captured packet, caplen bytes exactly, so a read
// past it is an AddressSanitizer report. Besides crashes, the view must hold
// together: offsets inside the capture and in layer order, an IP version
// only with an IP header offset, the error one of the reasons; the filters
// read only the captured bytes, set only corsaro3's ids, not-ip alone
// exactly when there is no IPv4 header, and the summary is the low 4 bits.
// Built by meson with -Dfuzz=true and run by scripts/fuzz.sh decode.
#include <cstddef>
#include <cstdint>
#include <cstdio>

#include "dataplane/decode.hpp"
#include "dataplane/filters.hpp"
#include "tests/fuzz/fuzz_common.hpp"

using namespace privateer;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  RawPacket p = fuzz::packet_of(data, size);
  PacketView v;
  const DecodeError e = decode_packet(p, v);
  REQUIRE(e == v.error);
  REQUIRE(static_cast<size_t>(v.error) < kDecodeErrorCount);
  REQUIRE(v.caplen == p.caplen && v.linktype == p.linktype);
  REQUIRE(v.ip_version == 0 || v.ip_version == 4 || v.ip_version == 6);
  REQUIRE((v.ip_version != 0) == (v.l3_offset != kNoOffset));
  if (v.l3_offset != kNoOffset) REQUIRE(v.l3_offset < v.caplen);
  if (v.l4_offset != kNoOffset) REQUIRE(v.l3_offset != kNoOffset && v.l4_offset > v.l3_offset && v.l4_offset <= v.caplen);
  if (v.payload_offset != kNoOffset)
    REQUIRE(v.l4_offset != kNoOffset && v.payload_offset > v.l4_offset && v.payload_offset <= v.caplen);
  REQUIRE(v.payload_len() <= v.caplen);

  const uint8_t* bytes = p.data;
  apply_builtin_filters(&v, &bytes, 1);
  REQUIRE((v.filter_bits & ~kBuiltinFilterMask) == 0);
  REQUIRE(v.filter_summary == (v.filter_bits & 0x0F));
  const uint64_t not_ip = uint64_t{1} << builtin::not_ip;
  REQUIRE(v.ip_version == 4 ? !(v.filter_bits & not_ip) : v.filter_bits == not_ip);
  return 0;
}
