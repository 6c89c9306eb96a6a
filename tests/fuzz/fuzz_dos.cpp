// libFuzzer harness for the dos plugin's reading of packet bytes (its ICMP
// quote parsing included) and its merge: the input's first byte chooses the
// link type (fuzz::kLinkTypes), the rest is one captured packet, caplen bytes
// exactly, so a read past it is an AddressSanitizer report. The packet is
// decoded and fed to two workers at two times, their results merged with
// every threshold at its lowest, and each record written is checked: a
// backscatter protocol, a target, at most two packets, the first packet as
// captured, and an Avro encoding.
// Built by meson with -Dfuzz=true and run by scripts/fuzz.sh dos.
#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "dataplane/decode.hpp"
#include "plugins/dos/dos.hpp"
#include "tests/fuzz/fuzz_common.hpp"

using namespace privateer;

namespace {
struct Sink : AvroStream {
  void append_encoded(const void*, size_t len) override { REQUIRE(len > 0); }
};
struct Outputs : OutputProvider {
  AvroStream& avro_stream(const std::string&, const std::string&, const AvroStreamOptions&) override { return sink; }
  Sink sink;
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  RawPacket p = fuzz::packet_of(data, size);
  p.ts_ns = 1700000000ull * 1000000000ull;
  PacketView v[2];
  decode_packet(p, v[0]);
  v[1] = v[0];
  v[1].ts_ns += 1500000000ull;
  const uint8_t* bytes[2] = {p.data, p.data};

  DosPlugin plugin(YAML::Load("{min_attack_packets: 0, min_attack_duration: 0, min_attack_packet_rate: 0}"),
                   "plugins.dos");
  Outputs out;
  plugin.open_outputs(out);
  auto w0 = plugin.make_worker(0), w1 = plugin.make_worker(1);
  w0->process(&v[0], &bytes[0], 1);
  w1->process(&v[1], &bytes[1], 1);
  std::vector<std::unique_ptr<IntervalResult>> rs;
  rs.push_back(w0->end_interval(1699999980));
  rs.push_back(w1->end_interval(1699999980));
  const std::vector<DosRecord> recs = plugin.merge_records(IntervalInfo{1699999980, 1700000040, false}, rs);
  REQUIRE(recs.size() <= 1);
  AvroEncoder enc;
  for (const DosRecord& r : recs) {
    REQUIRE(r.target_protocol == 1 || r.target_protocol == 6 || r.target_protocol == 17);
    REQUIRE(r.target_ip != 0);
    REQUIRE(r.packet_cnt == 2 && r.max_ppm_interval == 2);
    REQUIRE(r.attacker_ip_cnt == 1 && r.attack_port_cnt == 1 && r.target_port_cnt == 1);
    REQUIRE(r.icmp_mismatches <= 2 && (r.icmp_mismatches == 0 || r.icmp_mismatches == 2));
    REQUIRE(r.initial_packet.size() == p.caplen && r.initial_packet.size() <= 10000);
    REQUIRE(r.initial_packet.empty() || std::memcmp(r.initial_packet.data(), p.data, p.caplen) == 0);
    REQUIRE(r.start_time_sec == 1700000000 && r.latest_time_sec == 1700000001 && r.latest_time_usec == 500000);
    enc.clear();
    DosPlugin::encode(r, enc);
    REQUIRE(enc.size() >= p.caplen);
  }
  rs.clear();
  rs.push_back(w0->end_interval(1700000040));
  REQUIRE(plugin.merge(IntervalInfo{1700000040, 1700000100, false}, rs).records == 0);   // expired
  REQUIRE(plugin.vectors_kept() == 0);
  return 0;
}
