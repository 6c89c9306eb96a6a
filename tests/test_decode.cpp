// Tests of the packet decoder (dataplane/decode.cpp), all on real packets from
// ../shared/corpus (read at run time, never pasted in here).
//
// 1. CorpusFlowtuple: decode every packet of every capture that has an
//    expected/NAME.ft60.tsv, build corsaro-style flowtuples from the
//    PacketView only, compare with the expected file (tshark, oracle.sh).
//    Where tshark and a raw-byte parser disagree, we follow tshark (oracle.sh):
//     - MPLS pseudowire with a control word: tshark decodes the inner Ethernet
//       frame and so does the decoder (first nibble 0 after bottom of stack);
//     - IPv4 IHL claiming more than was captured (zeek__ipv4-truncated-broken-
//       header.pcap): tshark drops that packet. Precisely, tshark drops an IPv4
//       header whose IHL < 5 or whose non-zero total length is below IHL*4
//       (that file: IHL 15, total length 20); an IHL beyond the captured bytes
//       with a sane total length keeps the IP fields, without ports. The
//       decoder does the same (ip_version 0 for a dropped header).
// 2. Truncations: every prefix of real packets of several link types.
// 3. Targeted tests on real packets (VLAN, QinQ, MPLS, SLL, SLL2, ERF, ns
//    timestamps, TSO length 0, fragments, broken headers) and on real IP
//    packets re-wrapped in link layers the corpus lacks (PPPoE, NULL, LOOP,
//    raw, MPLS pseudowire, LLC/SNAP, ERF IPv4/colour/extension headers).
//
// Captures are read with the project's capture source, privateer::open_source()
// (hw/), which hands ERF records over whole with link type 197.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "dataplane/decode.hpp"
#include "hw/source.hpp"
#include "tests/test_support.hpp"

namespace privateer {
namespace {

namespace fs = std::filesystem;

// ---------------------------------------------------------------- reading

struct Pkt {
  std::vector<uint8_t> bytes;
  uint32_t wirelen = 0;
  uint64_t ts_ns = 0;
  uint16_t linktype = 0;

  RawPacket raw() const {
    RawPacket r;
    r.data = bytes.data();
    r.caplen = static_cast<uint32_t>(bytes.size());
    r.wirelen = wirelen;
    r.ts_ns = ts_ns;
    r.linktype = linktype;
    return r;
  }
};

// Reads a whole corpus capture through the project's capture source
// (hw/source.hpp: pcap, ns pcap, pcapng, ERF, compressed or not), copying
// each packet since a burst is only valid until the next read_burst().
// False with the source's error message when it cannot.
bool load_capture(const fs::path& path, std::vector<Pkt>& out, std::string& why) {
  out.clear();
  try {
    auto src = open_source(path.string());
    RawPacket burst[64];
    int idle = 0;
    for (;;) {
      const size_t n = src->read_burst(burst, 64);
      if (n == 0) {
        if (src->eof()) break;
        if (++idle > 1000) {
          why = "source returns nothing but is not at eof";
          return false;
        }
        continue;
      }
      idle = 0;
      for (size_t i = 0; i < n; ++i) {
        Pkt p;
        p.bytes.assign(burst[i].data, burst[i].data + burst[i].caplen);
        p.wirelen = burst[i].wirelen;
        p.ts_ns = burst[i].ts_ns;
        p.linktype = burst[i].linktype;
        out.push_back(std::move(p));
      }
    }
  } catch (const std::exception& e) {
    why = e.what();
    return false;
  }
  return true;
}

std::map<std::string, test::ManifestRow> manifest_by_name() {
  std::map<std::string, test::ManifestRow> m;
  for (auto& r : test::read_manifest()) m[r["file"]] = r;
  return m;
}

// Loads corpus file NAME; skips without the corpus, fails if it cannot be read.
#define LOAD_OR_SKIP(name, pkts)                                                  \
  std::vector<Pkt> pkts;                                                          \
  do {                                                                            \
    PRIVATEER_REQUIRE_CORPUS();                                                   \
    auto m_ = manifest_by_name();                                                 \
    auto it_ = m_.find(name);                                                     \
    if (it_ == m_.end()) GTEST_SKIP() << name << " not in the manifest";          \
    std::string why_;                                                             \
    if (!load_capture(*test::corpus_dir() / (name), pkts, why_))                 \
      FAIL() << "open_source(" << name << "): " << why_;                          \
  } while (0)

PacketView decode(const Pkt& p) {
  PacketView v;
  decode_packet(p.raw(), v);
  return v;
}

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

// ---------------------------------------------------------------- flowtuple

// README semantics, from the PacketView only.
struct Tuple {
  uint64_t interval;
  std::string src, dst;
  unsigned sport, dport, proto, ttl, flags, ip_len;
  auto operator<=>(const Tuple&) const = default;
};

std::string dotted(uint32_t a) {
  char b[16];
  std::snprintf(b, sizeof b, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
  return b;
}

bool flowtuple_of(const PacketView& v, Tuple& t) {
  if (!v.is_ipv4()) return false;
  const uint64_t sec = v.ts_ns / 1000000000ull;
  t.interval = sec - sec % 60;
  t.src = dotted(v.src.v4);
  t.dst = dotted(v.dst.v4);
  t.proto = v.proto;
  t.ttl = v.ttl;
  t.ip_len = v.ip_len;
  t.sport = t.dport = t.flags = 0;
  const bool first_frag = !(v.flags & pflag::later_fragment);
  // SCTP (132) ports are decoded but the flowtuple reports 0, like tshark's oracle.
  if (first_frag && (v.proto == 6 || v.proto == 17 || v.proto == 1) && (v.flags & pflag::has_ports)) {
    t.sport = v.sport;
    t.dport = v.dport;
  }
  if (first_frag && v.proto == 6 && (v.flags & pflag::has_tcp_flags)) t.flags = v.tcp_flags;
  return true;
}

std::vector<std::string> flowtuple_lines(const std::vector<Pkt>& pkts) {
  std::map<Tuple, uint64_t> counts;
  for (auto& p : pkts) {
    Tuple t;
    if (flowtuple_of(decode(p), t)) ++counts[t];
  }
  std::vector<std::string> lines;
  for (auto& [t, n] : counts) {  // std::map order == oracle.sh's sort order
    char b[256];
    std::snprintf(b, sizeof b, "%llu\t%s\t%s\t%u\t%u\t%u\t%u\t%u\t%u\t%llu",
                  static_cast<unsigned long long>(t.interval), t.src.c_str(), t.dst.c_str(), t.sport, t.dport,
                  t.proto, t.ttl, t.flags, t.ip_len, static_cast<unsigned long long>(n));
    lines.push_back(b);
  }
  return lines;
}

std::vector<std::string> read_lines(const fs::path& p) {
  std::vector<std::string> lines;
  std::ifstream in(p);
  std::string l;
  while (std::getline(in, l))
    if (!l.empty()) lines.push_back(l);
  return lines;
}

// ---------------------------------------------------------------- 1. corpus

class CorpusFlowtuple : public ::testing::TestWithParam<std::string> {};

TEST_P(CorpusFlowtuple, MatchesOracle) {
  PRIVATEER_REQUIRE_CORPUS();
  const std::string name = GetParam();
  auto m = manifest_by_name();
  const auto& row = m.at(name);
  const std::string format = row.at("file_format");
  if (format != "pcap" && format != "nsecpcap" && format != "pcapng" && format != "erf")
    GTEST_SKIP() << name << ": file format " << format << " not read here";
  std::vector<Pkt> pkts;
  std::string why;
  if (!load_capture(*test::corpus_dir() / name, pkts, why)) FAIL() << "open_source(" << name << "): " << why;

  const auto expected = read_lines(*test::corpus_dir() / "expected" / (name + ".ft60.tsv"));
  const auto actual = flowtuple_lines(pkts);
  if (expected == actual) return;

  std::ostringstream msg;
  msg << name << ": " << actual.size() << " lines, expected " << expected.size() << "\n";
  size_t i = 0;
  while (i < expected.size() && i < actual.size() && expected[i] == actual[i]) ++i;
  msg << "first difference at line " << i + 1 << ":\n";
  for (size_t k = i; k < i + 5 && (k < expected.size() || k < actual.size()); ++k) {
    msg << "  expected: " << (k < expected.size() ? expected[k] : "<none>") << "\n";
    msg << "  actual:   " << (k < actual.size() ? actual[k] : "<none>") << "\n";
  }
  ADD_FAILURE() << msg.str();
}

std::string param_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string s = info.param;
  for (auto& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return s;
}

// One case per corpus capture with an oracle answer, skipped where the
// corpus is absent (the names then come from tests/corpus_files.txt).
INSTANTIATE_TEST_SUITE_P(Corpus, CorpusFlowtuple, ::testing::ValuesIn(test::corpus_captures()), param_name);

// tests/corpus_files.txt, which names the corpus cases where the corpus is
// absent, lists exactly the manifest's captures with an oracle answer.
TEST(CorpusList, MatchesManifest) {
  PRIVATEER_REQUIRE_CORPUS();
  EXPECT_EQ(test::listed_corpus_captures(), test::corpus_captures())
      << "update tests/corpus_files.txt from ../shared/corpus/MANIFEST.tsv";
}

// The corpus files hold exactly as many IPv4 packets as the manifest says the
// oracle counted (a second, per-packet view of the same comparison).
TEST(DecodeCorpus, Ipv4PacketCountsMatchManifest) {
  PRIVATEER_REQUIRE_CORPUS();
  int checked = 0;
  for (auto& r : test::read_manifest()) {
    std::vector<Pkt> pkts;
    std::string why;
    if (r["ipv4_pkts_counted_by_oracle"].empty()) continue;
    const auto& fmt = r["file_format"];
    if (fmt != "pcap" && fmt != "nsecpcap" && fmt != "pcapng" && fmt != "erf") continue;
    if (!load_capture(*test::corpus_dir() / r["file"], pkts, why)) {
      ADD_FAILURE() << "open_source(" << r["file"] << "): " << why;
      continue;
    }
    size_t v4 = 0;
    for (auto& p : pkts) v4 += decode(p).is_ipv4();
    EXPECT_EQ(std::to_string(v4), r["ipv4_pkts_counted_by_oracle"]) << r["file"];
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

// ---------------------------------------------------------------- 2. bad input

bool same_decode(const PacketView& a, const PacketView& b) {
  return a.ip_version == b.ip_version && a.l3_offset == b.l3_offset && a.l4_offset == b.l4_offset &&
         a.payload_offset == b.payload_offset && a.proto == b.proto && a.ttl == b.ttl && a.ip_len == b.ip_len &&
         a.sport == b.sport && a.dport == b.dport && a.flags == b.flags && a.tcp_flags == b.tcp_flags &&
         a.tcp_hdr_len == b.tcp_hdr_len && a.tcp_window == b.tcp_window && a.frag_offset == b.frag_offset &&
         a.vlan_id == b.vlan_id && a.vlan_count == b.vlan_count && a.mpls_count == b.mpls_count &&
         std::memcmp(&a.src, &b.src, sizeof a.src) == 0 && std::memcmp(&a.dst, &b.dst, sizeof a.dst) == 0 &&
         a.error == b.error;
}

// Invariants every decode must keep, whatever the input.
void check_invariants(const PacketView& v, const RawPacket& r) {
  ASSERT_EQ(v.caplen, r.caplen);
  ASSERT_EQ(v.wirelen, r.wirelen);
  ASSERT_EQ(v.ts_ns, r.ts_ns);
  ASSERT_EQ(v.linktype, r.linktype);
  ASSERT_TRUE(v.l3_offset == kNoOffset || v.l3_offset <= r.caplen);
  ASSERT_TRUE(v.l4_offset == kNoOffset || v.l4_offset <= r.caplen);
  ASSERT_TRUE(v.payload_offset == kNoOffset || v.payload_offset <= r.caplen);
  ASSERT_LE(v.payload_len(), r.caplen);
  ASSERT_TRUE(v.ip_version == 0 || v.ip_version == 4 || v.ip_version == 6);
  ASSERT_LT(static_cast<size_t>(v.error), kDecodeErrorCount);
  if (v.ip_version != 0) {
    ASSERT_NE(v.l3_offset, kNoOffset);
    ASSERT_LE(v.l3_offset + 20u, r.caplen);
  } else {
    ASSERT_EQ(v.l3_offset, kNoOffset);
    ASSERT_EQ(v.l4_offset, kNoOffset);
  }
  if (v.l4_offset != kNoOffset) {
    ASSERT_GE(v.l4_offset, v.l3_offset + 20u);
  }
  if (v.payload_offset != kNoOffset) {
    ASSERT_GE(v.payload_offset, v.l4_offset);
  }
  if (!(v.flags & pflag::has_ports)) {
    ASSERT_EQ(v.sport | v.dport, 0);
  }
  if (!(v.flags & pflag::has_tcp_flags)) {
    ASSERT_EQ(v.tcp_flags, 0);
  }
  if (v.flags & pflag::later_fragment) {
    ASSERT_TRUE(v.flags & pflag::fragment);
    ASSERT_EQ(v.flags & (pflag::has_ports | pflag::has_tcp_flags), 0);
  }
}

// Bytes in front of the first IP header, per link type of the full packet.
uint32_t link_header_len(const Pkt& p) {
  switch (p.linktype) {
    case linktype::ethernet: return 14;
    case linktype::linux_sll: return 16;
    case linktype::linux_sll2: return 20;
    case linktype::null:
    case linktype::loop: return 4;
    case linktype::erf: return 16;
    default: return 1;  // raw IP: an empty packet is cut
  }
}

// Feeds every prefix (caplen 0..full) of `p`, each in a buffer of exactly that
// size (so ASan/valgrind see any over-read). Returns the number of decodes.
size_t check_all_truncations(const Pkt& p) {
  const PacketView full = decode(p);
  for (uint32_t cap = 0; cap <= p.bytes.size(); ++cap) {
    Pkt t;
    t.bytes.assign(p.bytes.begin(), p.bytes.begin() + cap);
    t.bytes.shrink_to_fit();
    t.wirelen = p.wirelen;
    t.ts_ns = p.ts_ns;
    t.linktype = p.linktype;
    const RawPacket r = t.raw();
    PacketView v;
    v.filter_bits = 0xDEADBEEF;  // stale state must not survive
    v.asn = 7;
    const DecodeError e = decode_packet(r, v);
    SCOPED_TRACE("caplen " + std::to_string(cap) + " of " + std::to_string(p.bytes.size()));
    EXPECT_EQ(e, v.error);
    EXPECT_EQ(v.filter_bits, 0u);
    EXPECT_EQ(v.asn, 0u);
    check_invariants(v, r);
    if (::testing::Test::HasFatalFailure()) return cap;

    // A cut inside a header the full packet had decoded completely is an error.
    bool cut = cap < link_header_len(p);
    if (full.l3_offset != kNoOffset) {
      cut |= cap < full.l3_offset + (full.ip_version == 4 ? 20u : 40u);
    }
    if (full.l4_offset != kNoOffset) cut |= cap < full.l4_offset;  // IPv4 options / IPv6 ext headers
    if (full.payload_offset != kNoOffset) cut |= cap < full.payload_offset;
    if (cut) {
      EXPECT_NE(v.error, DecodeError::none) << decode_error_name(v.error);
      EXPECT_LE(v.ip_version, full.ip_version);
    }
    // Past the headers, a truncation changes nothing but caplen.
    const uint32_t hdr_end = full.payload_offset != kNoOffset ? full.payload_offset
                             : full.l4_offset != kNoOffset    ? full.l4_offset + 60u
                                                              : 0xFFFFFFFFu;
    if (cap >= hdr_end) {
      EXPECT_TRUE(same_decode(v, full)) << "caplen " << cap;
    }
    // What was decoded is what the full packet says (ports may be absent).
    if (v.ip_version != 0) {
      EXPECT_EQ(v.ip_version, full.ip_version);
      EXPECT_EQ(v.l3_offset, full.l3_offset);
      EXPECT_EQ(std::memcmp(&v.src, &full.src, sizeof v.src), 0);
      EXPECT_EQ(std::memcmp(&v.dst, &full.dst, sizeof v.dst), 0);
      EXPECT_EQ(v.ip_len, full.ip_len);
      EXPECT_EQ(v.ttl, full.ttl);
      if (v.flags & pflag::has_ports) {
        EXPECT_EQ(v.sport, full.sport);
        EXPECT_EQ(v.dport, full.dport);
      }
      if (v.flags & pflag::has_tcp_flags) {
        EXPECT_EQ(v.tcp_flags, full.tcp_flags);
      }
    }
    if (::testing::Test::HasFailure()) return cap;
  }
  return p.bytes.size() + 1;
}

std::vector<Pkt> rewrapped_packets();  // section 3

TEST(DecodeTruncation, EveryPrefixOfRealPackets) {
  PRIVATEER_REQUIRE_CORPUS();
  const char* files[] = {
      "libtrace__vlan.pcap",                   // 802.1Q, IPv4 fragments, non-IP
      "libtrace__qinq.pcap",                   // 802.1ad
      "libtrace__10_mpls_ip.pcap",             // MPLS
      "libtrace__ip-in-mpls.pcap.gz",          // MPLS, TCP bulk
      "libtrace__100_packets.erf",             // ERF
      "libtrace__100_packets.pcap",            // snaplen-cut Ethernet
      "libtrace__complex.pcapng",              // BSD loopback (NULL) + Ethernet
      "zeek__linux_dlt_sll2.pcap",             // SLL2, ICMPv6
      "tcpdump__tcp-handshake-nano.pcap",      // SLL
      "zeek__wikipedia.pcap",                  // IPv6, DNS, HTTP
      "zeek__ipv6-fragmented-dns.pcap",        // IPv6 fragment headers
      "zeek__communityid-sctp.pcap",           // SCTP
      "tcpreplay__test_fragroute.pcap",        // IP options, odd fragments
      "zeek__tcp-truncated-header.pcap",       // snaplen inside TCP options
      "zeek__icmp-timeexceeded.pcap",          // ICMP with inner IP
      "zeek__ipv4-truncated-broken-header.pcap",
      "zeek__ip4-trunc.pcap",
      "tcpdump__afs.pcap",                     // fragments, ICMP
      "tcpdump__accecn_handshake.pcap",
  };
  auto m = manifest_by_name();
  size_t decodes = 0, files_done = 0;
  for (const char* f : files) {
    auto it = m.find(f);
    if (it == m.end()) continue;
    std::vector<Pkt> pkts;
    std::string why;
    if (!load_capture(*test::corpus_dir() / f, pkts, why)) {
      ADD_FAILURE() << "open_source(" << f << "): " << why;
      continue;
    }
    ++files_done;
    for (size_t i = 0; i < pkts.size(); ++i) {
      SCOPED_TRACE(std::string(f) + " packet " + std::to_string(i + 1));
      decodes += check_all_truncations(pkts[i]);
      if (HasFailure()) return;
    }
  }
  for (auto& p : rewrapped_packets()) {
    SCOPED_TRACE("re-wrapped packet, link type " + std::to_string(p.linktype));
    decodes += check_all_truncations(p);
    if (HasFailure()) return;
  }
  EXPECT_GE(files_done, 10u);
  std::cout << "[   info   ] " << decodes << " truncated decodes of " << files_done << " captures\n";
}

// Random byte damage to real packets of every link type: no crash, invariants hold.
TEST(DecodeTruncation, RandomlyDamagedRealPackets) {
  PRIVATEER_REQUIRE_CORPUS();
  std::vector<Pkt> all;
  for (const char* f : {"libtrace__vlan.pcap", "libtrace__10_mpls_ip.pcap", "libtrace__100_packets.erf",
                        "zeek__linux_dlt_sll2.pcap", "tcpdump__tcp-handshake-nano.pcap", "zeek__wikipedia.pcap",
                        "zeek__ipv6-fragmented-dns.pcap", "tcpreplay__test_fragroute.pcap"}) {
    auto m = manifest_by_name();
    std::vector<Pkt> pkts;
    std::string why;
    if (m.count(f) && load_capture(*test::corpus_dir() / f, pkts, why))
      all.insert(all.end(), pkts.begin(), pkts.end());
  }
  auto rw = rewrapped_packets();
  all.insert(all.end(), rw.begin(), rw.end());
  ASSERT_FALSE(all.empty());
  std::mt19937 rng(12345);
  for (int round = 0; round < 200000; ++round) {
    Pkt p = all[rng() % all.size()];
    const size_t n = std::min<size_t>(p.bytes.size(), 128);
    if (n == 0) continue;
    for (int k = 1 + rng() % 4; k > 0; --k) p.bytes[rng() % n] = static_cast<uint8_t>(rng());
    p.bytes.resize(rng() % (p.bytes.size() + 1));
    p.bytes.shrink_to_fit();
    PacketView v;
    decode_packet(p.raw(), v);
    check_invariants(v, p.raw());
    if (HasFatalFailure()) return;
  }
}

TEST(DecodeTruncation, NullDataAndUnknownLinkType) {
  RawPacket r;
  r.data = nullptr;
  r.caplen = 0;
  PacketView v;
  EXPECT_EQ(decode_packet(r, v), DecodeError::truncated_link);
  for (uint16_t lt : {linktype::raw, linktype::ipv4, linktype::ipv6, linktype::linux_sll, linktype::linux_sll2,
                      linktype::null, linktype::loop, linktype::erf}) {
    r.linktype = lt;
    EXPECT_NE(decode_packet(r, v), DecodeError::none) << lt;
  }
  const uint8_t byte = 0x45;
  r.data = &byte;
  r.caplen = 1;
  r.linktype = 9999;
  EXPECT_EQ(decode_packet(r, v), DecodeError::unsupported_linktype);
  EXPECT_EQ(v.ip_version, 0);
}

// ---------------------------------------------------------------- 3. targeted

TEST(DecodeErrorName, NamesAreTheEnumerators) {
  EXPECT_STREQ(decode_error_name(DecodeError::none), "none");
  EXPECT_STREQ(decode_error_name(DecodeError::unsupported_linktype), "unsupported_linktype");
  EXPECT_STREQ(decode_error_name(DecodeError::truncated_link), "truncated_link");
  EXPECT_STREQ(decode_error_name(DecodeError::truncated_vlan), "truncated_vlan");
  EXPECT_STREQ(decode_error_name(DecodeError::truncated_mpls), "truncated_mpls");
  EXPECT_STREQ(decode_error_name(DecodeError::truncated_pppoe), "truncated_pppoe");
  EXPECT_STREQ(decode_error_name(DecodeError::truncated_ip), "truncated_ip");
  EXPECT_STREQ(decode_error_name(DecodeError::bad_ip_version), "bad_ip_version");
  EXPECT_STREQ(decode_error_name(DecodeError::bad_ip_header_length), "bad_ip_header_length");
  EXPECT_STREQ(decode_error_name(DecodeError::truncated_ipv6_ext), "truncated_ipv6_ext");
  EXPECT_STREQ(decode_error_name(DecodeError::truncated_transport), "truncated_transport");
}

TEST(DecodeReal, VlanIdAndCount) {
  LOAD_OR_SKIP("libtrace__vlan.pcap", pkts);
  size_t tagged = 0, v4 = 0, frags = 0;
  for (auto& p : pkts) {
    const auto v = decode(p);
    const uint8_t* b = p.bytes.data();
    if (be16(b + 12) == 0x8100) {
      ++tagged;
      EXPECT_EQ(v.vlan_count, 1);
      EXPECT_EQ(v.vlan_id, be16(b + 14) & 0x0FFF);
      if (be16(b + 16) == 0x0800) {
        ASSERT_TRUE(v.is_ipv4());
        EXPECT_EQ(v.l3_offset, 18);
        EXPECT_EQ(v.src.v4, (uint32_t(b[30]) << 24) | (uint32_t(b[31]) << 16) | (b[32] << 8) | b[33]);
      }
    } else {
      EXPECT_EQ(v.vlan_count, 0);
    }
    v4 += v.is_ipv4();
    frags += (v.flags & pflag::fragment) != 0;
  }
  EXPECT_GT(tagged, pkts.size() / 2);
  EXPECT_GT(v4, 0u);
  EXPECT_GT(frags, 0u);
}

TEST(DecodeReal, QinQTwoTagsOuterId) {
  LOAD_OR_SKIP("libtrace__qinq.pcap", pkts);
  ASSERT_FALSE(pkts.empty());
  for (auto& p : pkts) {
    const auto v = decode(p);
    const uint8_t* b = p.bytes.data();
    size_t tags = 0, off = 12;
    while (be16(b + off) == 0x8100 || be16(b + off) == 0x88A8 || be16(b + off) == 0x9100) ++tags, off += 4;
    EXPECT_EQ(v.vlan_count, tags);
    EXPECT_GE(v.vlan_count, 2);
    EXPECT_EQ(v.vlan_id, be16(b + 14) & 0x0FFF);
    EXPECT_EQ(v.ip_version, 0);  // ARP
    EXPECT_EQ(v.error, DecodeError::none);
  }
}

TEST(DecodeReal, MplsLabelCount) {
  LOAD_OR_SKIP("libtrace__10_mpls_ip.pcap", pkts);
  ASSERT_FALSE(pkts.empty());
  for (auto& p : pkts) {
    const auto v = decode(p);
    const uint8_t* b = p.bytes.data();
    ASSERT_EQ(be16(b + 12), 0x8847);
    size_t labels = 0, off = 14;
    for (;;) {
      ++labels;
      const bool bos = b[off + 2] & 1;
      off += 4;
      if (bos) break;
    }
    EXPECT_EQ(v.mpls_count, labels);
    ASSERT_TRUE(v.is_ipv4());
    EXPECT_EQ(v.l3_offset, off);
    EXPECT_EQ(v.proto, 1);
    EXPECT_TRUE(v.flags & pflag::has_ports);
    EXPECT_EQ(v.sport, b[off + 20]);  // ICMP type
    EXPECT_EQ(v.error, DecodeError::none);
  }
}

TEST(DecodeReal, LinuxSll2) {
  LOAD_OR_SKIP("zeek__linux_dlt_sll2.pcap", pkts);
  auto m = manifest_by_name();
  size_t v4 = 0, v6 = 0;
  for (auto& p : pkts) {
    ASSERT_EQ(p.linktype, linktype::linux_sll2);
    const auto v = decode(p);
    const uint8_t* b = p.bytes.data();
    const uint16_t proto = be16(b);
    if (proto == 0x0800) {
      ASSERT_TRUE(v.is_ipv4());
      EXPECT_EQ(v.l3_offset, 20);
      EXPECT_EQ(v.ttl, b[20 + 8]);
      EXPECT_EQ(v.proto, 1);
      EXPECT_EQ(v.sport, b[v.l4_offset]);
      EXPECT_EQ(v.dport, b[v.l4_offset + 1]);
      ++v4;
    } else if (proto == 0x86DD) {
      ASSERT_TRUE(v.is_ipv6());
      EXPECT_EQ(v.l3_offset, 20);
      EXPECT_EQ(std::memcmp(v.src.v6, b + 28, 16), 0);
      EXPECT_EQ(v.proto, 58);
      EXPECT_TRUE(v.flags & pflag::has_ports);
      ++v6;
    }
  }
  EXPECT_EQ(std::to_string(v4), m["zeek__linux_dlt_sll2.pcap"]["ipv4_pkts_counted_by_oracle"]);
  EXPECT_GT(v6, 0u);
}

TEST(DecodeReal, LinuxSllAndNanosecondTimestamps) {
  LOAD_OR_SKIP("tcpdump__tcp-handshake-nano.pcap", pkts);
  ASSERT_FALSE(pkts.empty());
  bool sub_us = false;
  for (auto& p : pkts) {
    ASSERT_EQ(p.linktype, linktype::linux_sll);
    const auto v = decode(p);
    EXPECT_EQ(v.ts_ns, p.ts_ns);
    sub_us |= v.ts_ns % 1000 != 0;
    ASSERT_TRUE(v.is_ipv4());
    EXPECT_EQ(v.l3_offset, 16);
    EXPECT_EQ(v.proto, 6);
    EXPECT_TRUE(v.flags & pflag::has_tcp_flags);
    EXPECT_EQ(v.tcp_flags, p.bytes[16 + 20 + 13]);
    EXPECT_EQ(v.sport, be16(&p.bytes[36]));
  }
  EXPECT_TRUE(sub_us) << "nanosecond digits lost";
}

TEST(DecodeReal, ErfEthernet) {
  LOAD_OR_SKIP("libtrace__100_packets.erf", pkts);
  ASSERT_FALSE(pkts.empty());
  for (auto& p : pkts) {
    ASSERT_EQ(p.bytes[8] & 0x7F, 2);  // ERF_TYPE_ETH
    const auto v = decode(p);
    const size_t eth = 16 + ((p.bytes[8] & 0x80) ? 8 : 0) + 2;
    ASSERT_EQ(be16(&p.bytes[eth + 12]), 0x0800);
    ASSERT_TRUE(v.is_ipv4());
    EXPECT_EQ(v.l3_offset, eth + 14);
    EXPECT_EQ(v.ip_len, be16(&p.bytes[eth + 14 + 2]));
  }
}

TEST(DecodeReal, BsdLoopbackInMixedPcapng) {
  LOAD_OR_SKIP("libtrace__complex.pcapng", pkts);
  size_t null_pkts = 0;
  for (auto& p : pkts) {
    if (p.linktype != linktype::null) continue;
    ++null_pkts;
    const auto v = decode(p);
    uint32_t fam;
    std::memcpy(&fam, p.bytes.data(), 4);
    ASSERT_TRUE(fam == 2 || fam == 0x02000000u);  // premise: AF_INET, either byte order
    ASSERT_TRUE(v.is_ipv4());
    EXPECT_EQ(v.l3_offset, 4);
    EXPECT_EQ(v.ip_len, be16(&p.bytes[4 + 2]));
    EXPECT_EQ(v.error, DecodeError::none);
  }
  EXPECT_GT(null_pkts, 0u);
}

TEST(DecodeReal, TsoZeroLengthKept) {
  LOAD_OR_SKIP("tcpdump__ipv4_tcp_http_xml_tso.pcap", pkts);
  ASSERT_EQ(pkts.size(), 1u);
  const auto v = decode(pkts[0]);
  ASSERT_TRUE(v.is_ipv4());
  EXPECT_EQ(v.ip_len, 0);  // raw field
  EXPECT_TRUE(v.flags & pflag::has_ports);
  EXPECT_TRUE(v.flags & pflag::has_tcp_flags);
  EXPECT_NE(v.payload_offset, kNoOffset);
  EXPECT_GT(v.payload_len(), 0u);
  EXPECT_EQ(v.error, DecodeError::none);
}

TEST(DecodeReal, TcpFlagsLowEightBits) {
  LOAD_OR_SKIP("tcpdump__accecn_handshake.pcap", pkts);
  bool ae_seen = false;
  for (auto& p : pkts) {
    const auto v = decode(p);
    ASSERT_TRUE(v.is_ipv4());
    ASSERT_EQ(v.proto, 6);
    const uint8_t* t = p.bytes.data() + v.l4_offset;
    EXPECT_EQ(v.tcp_flags, t[13]);
    ae_seen |= (t[12] & 0x01) != 0;  // AE/NS: not part of tcp_flags
    EXPECT_EQ(v.tcp_hdr_len, (t[12] >> 4) * 4);
    EXPECT_EQ(v.tcp_window, be16(t + 14));
    EXPECT_EQ(bool(v.flags & pflag::tcp_options), v.tcp_hdr_len > 20);
  }
  EXPECT_TRUE(ae_seen);
}

TEST(DecodeReal, Fragments) {
  LOAD_OR_SKIP("zeek__fragmented-3.pcap", pkts);
  size_t first = 0, later = 0;
  for (auto& p : pkts) {
    const auto v = decode(p);
    ASSERT_TRUE(v.is_ipv4());
    const uint16_t fw = be16(&p.bytes[v.l3_offset + 6]);
    EXPECT_EQ(v.frag_offset, fw & 0x1FFF);
    EXPECT_TRUE(v.flags & pflag::fragment);
    EXPECT_EQ(bool(v.flags & pflag::more_fragments), bool(fw & 0x2000));
    if (fw & 0x1FFF) {
      ++later;
      EXPECT_TRUE(v.flags & pflag::later_fragment);
      EXPECT_FALSE(v.flags & pflag::has_ports);
      EXPECT_EQ(v.l4_offset, kNoOffset);
    } else {
      ++first;
      EXPECT_TRUE(v.flags & pflag::has_ports);
    }
  }
  EXPECT_EQ(first, 1u);
  EXPECT_GT(later, 0u);
}

TEST(DecodeReal, Ipv6FragmentHeader) {
  LOAD_OR_SKIP("zeek__ipv6-fragmented-dns.pcap", pkts);
  size_t later = 0, first = 0;
  for (auto& p : pkts) {
    const auto v = decode(p);
    ASSERT_TRUE(v.is_ipv6());
    EXPECT_EQ(v.ip_len, be16(&p.bytes[v.l3_offset + 4]) + 40);
    const bool has_frag_header = p.bytes[v.l3_offset + 6] == 44;
    EXPECT_EQ(bool(v.flags & pflag::fragment), has_frag_header);
    EXPECT_EQ(bool(v.flags & pflag::ip_options), has_frag_header);
    if (!has_frag_header) {
      EXPECT_EQ(v.l4_offset, v.l3_offset + 40);
    } else if (v.flags & pflag::later_fragment) {
      ++later;
      EXPECT_NE(v.frag_offset, 0);
    } else {
      ++first;
      EXPECT_EQ(v.proto, 17);
      EXPECT_TRUE(v.flags & pflag::has_ports);
      EXPECT_TRUE(v.sport == 53 || v.dport == 53);
    }
  }
  EXPECT_GT(later, 0u);
  EXPECT_GT(first, 0u);
}

TEST(DecodeReal, SctpPortsDecoded) {
  LOAD_OR_SKIP("zeek__communityid-sctp.pcap", pkts);
  size_t n = 0;
  for (auto& p : pkts) {
    const auto v = decode(p);
    if (!v.is_ipv4() || v.proto != 132) continue;
    ++n;
    EXPECT_TRUE(v.flags & pflag::has_ports);
    EXPECT_EQ(v.sport, be16(&p.bytes[v.l4_offset]));
    EXPECT_EQ(v.dport, be16(&p.bytes[v.l4_offset + 2]));
  }
  EXPECT_GT(n, 0u);
}

TEST(DecodeReal, BrokenIpv4Headers) {
  {
    LOAD_OR_SKIP("zeek__ip4-trunc.pcap", pkts);
    ASSERT_EQ(pkts.size(), 1u);
    const auto v = decode(pkts[0]);
    EXPECT_EQ(v.error, DecodeError::truncated_ip);
    EXPECT_EQ(v.ip_version, 0);
  }
  {
    LOAD_OR_SKIP("zeek__ipv4-truncated-broken-header.pcap", pkts);
    ASSERT_EQ(pkts.size(), 1u);
    const auto v = decode(pkts[0]);
    EXPECT_EQ(v.error, DecodeError::bad_ip_header_length);
    EXPECT_EQ(v.ip_version, 0);  // as tshark: total length below IHL*4
  }
}

TEST(DecodeReal, TcpOptionsCutBySnaplen) {
  LOAD_OR_SKIP("zeek__tcp-truncated-header.pcap", pkts);
  size_t cut = 0;
  for (auto& p : pkts) {
    const auto v = decode(p);
    ASSERT_TRUE(v.is_ipv4());
    EXPECT_TRUE(v.flags & pflag::has_ports);
    EXPECT_TRUE(v.flags & pflag::has_tcp_flags);
    if (v.l4_offset + v.tcp_hdr_len > p.bytes.size()) {
      ++cut;
      EXPECT_EQ(v.error, DecodeError::truncated_transport);
      EXPECT_EQ(v.payload_offset, kNoOffset);
    }
  }
  EXPECT_GT(cut, 0u);
}

// Rule derived from tshark 4.0 on truncated copies of corpus packets (the
// oracle takes fields from tshark): TCP ports from 4 bytes, flags from 16
// bytes; UDP ports from 4; ICMP type/code from 6; bounded by the IP length.
TEST(DecodeReal, TruncatedTransportFollowsTshark) {
  LOAD_OR_SKIP("suricata__syn-flood-drop-precedence.pcap", pkts);
  ASSERT_FALSE(pkts.empty());
  const Pkt& syn = pkts[0];
  const auto full = decode(syn);
  ASSERT_TRUE(full.is_ipv4());
  ASSERT_EQ(full.proto, 6);
  for (uint32_t t = 0; t <= 20; ++t) {
    Pkt p = syn;
    p.bytes.resize(full.l4_offset + t);
    const auto v = decode(p);
    ASSERT_TRUE(v.is_ipv4());
    EXPECT_EQ(bool(v.flags & pflag::has_ports), t >= 4) << t;
    EXPECT_EQ(bool(v.flags & pflag::has_tcp_flags), t >= 16) << t;
    EXPECT_EQ(v.error == DecodeError::none, t >= full.tcp_hdr_len) << t;
    // The same cut made by the IP total length instead of the snaplen.
    Pkt q = syn;
    const uint16_t il = static_cast<uint16_t>(full.l4_offset - full.l3_offset + t);
    q.bytes[full.l3_offset + 2] = il >> 8;
    q.bytes[full.l3_offset + 3] = il & 0xFF;
    const auto w = decode(q);
    ASSERT_TRUE(w.is_ipv4());
    EXPECT_EQ(w.ip_len, il);
    EXPECT_EQ(bool(w.flags & pflag::has_ports), t >= 4) << t;
    EXPECT_EQ(bool(w.flags & pflag::has_tcp_flags), t >= 16) << t;
  }
  // IHL beyond the captured bytes, total length sane: IP fields kept, no ports.
  Pkt p = syn;
  p.bytes[full.l3_offset] = 0x4F;
  p.bytes.resize(full.l3_offset + 40);
  p.bytes[full.l3_offset + 2] = 0x03;  // 1000
  p.bytes[full.l3_offset + 3] = 0xE8;
  auto v = decode(p);
  EXPECT_EQ(v.error, DecodeError::bad_ip_header_length);
  EXPECT_TRUE(v.is_ipv4());
  EXPECT_FALSE(v.flags & pflag::has_ports);
  // Data offset < 5: ports, no flags.
  p = syn;
  p.bytes[full.l4_offset + 12] = 0x40;
  v = decode(p);
  EXPECT_TRUE(v.flags & pflag::has_ports);
  EXPECT_FALSE(v.flags & pflag::has_tcp_flags);
}

TEST(DecodeReal, TruncatedIcmpFollowsTshark) {
  LOAD_OR_SKIP("zeek__icmp-timeexceeded.pcap", pkts);
  ASSERT_EQ(pkts.size(), 1u);
  const auto full = decode(pkts[0]);
  ASSERT_TRUE(full.is_ipv4());
  ASSERT_EQ(full.proto, 1);
  EXPECT_EQ(full.sport, pkts[0].bytes[full.l4_offset]);
  for (uint32_t t = 0; t <= 8; ++t) {
    Pkt p = pkts[0];
    p.bytes.resize(full.l4_offset + t);
    const auto v = decode(p);
    EXPECT_EQ(bool(v.flags & pflag::has_ports), t >= 6) << t;
    EXPECT_EQ(v.error == DecodeError::none, t >= 8) << t;
  }
}

// ---- real IP packets in link layers the corpus lacks

std::vector<uint8_t> ip_bytes(const Pkt& p) {
  const auto v = decode(p);
  return {p.bytes.begin() + v.l3_offset, p.bytes.end()};
}

Pkt wrap(uint16_t lt, std::vector<uint8_t> head, const std::vector<uint8_t>& ip, const Pkt& orig) {
  Pkt p;
  p.linktype = lt;
  p.ts_ns = orig.ts_ns;
  p.wirelen = orig.wirelen;
  p.bytes = std::move(head);
  p.bytes.insert(p.bytes.end(), ip.begin(), ip.end());
  return p;
}

struct Wrapped {
  std::string what;
  Pkt pkt;
  uint32_t l3;
  uint8_t vlans = 0, labels = 0;
};

std::vector<Wrapped> wrappings(const Pkt& orig) {
  const auto ov = decode(orig);
  const auto ip = ip_bytes(orig);
  const bool v6 = ov.is_ipv6();
  const std::vector<uint8_t> macs(orig.bytes.begin(), orig.bytes.begin() + 12);
  auto eth = [&](uint16_t et) {
    auto h = macs;
    h.push_back(et >> 8);
    h.push_back(et & 0xFF);
    return h;
  };
  const uint16_t ipet = v6 ? 0x86DD : 0x0800;
  std::vector<Wrapped> w;
  auto add = [&](std::string what, uint16_t lt, std::vector<uint8_t> head, uint8_t vl = 0, uint8_t lb = 0) {
    const auto l3 = static_cast<uint32_t>(head.size());
    w.push_back({std::move(what), wrap(lt, std::move(head), ip, orig), l3, vl, lb});
  };
  add("raw", linktype::raw, {});
  add("raw12", linktype::raw_12, {});
  add("raw14", linktype::raw_14, {});
  add(v6 ? "ipv6" : "ipv4", v6 ? linktype::ipv6 : linktype::ipv4, {});
  for (uint32_t fam : v6 ? std::vector<uint32_t>{24, 28, 30} : std::vector<uint32_t>{2}) {
    add("null-le", linktype::null, {uint8_t(fam), 0, 0, 0});
    add("null-be", linktype::null, {0, 0, 0, uint8_t(fam)});
    add("loop", linktype::loop, {0, 0, 0, uint8_t(fam)});
  }
  add("sll", linktype::linux_sll, {0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, uint8_t(ipet >> 8), uint8_t(ipet)});
  {
    std::vector<uint8_t> h = {uint8_t(ipet >> 8), uint8_t(ipet), 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0};
    add("sll2", linktype::linux_sll2, h);
  }
  {
    auto h = eth(0x8864);
    const auto len = static_cast<uint16_t>(ip.size() + 2);
    for (uint8_t b : {uint8_t(0x11), uint8_t(0), uint8_t(0x12), uint8_t(0x34), uint8_t(len >> 8), uint8_t(len),
                      uint8_t(0), uint8_t(v6 ? 0x57 : 0x21)})
      h.push_back(b);
    add("pppoe", linktype::ethernet, h);
  }
  {
    auto h = eth(0x8847);
    for (uint8_t b : {0x00, 0x3e, 0x80, 0x3f, 0x00, 0x3e, 0x81, 0x3f}) h.push_back(b);  // 2 labels
    add("mpls2", linktype::ethernet, h, 0, 2);
    auto g = eth(0x8848);
    for (uint8_t b : {0x00, 0x7d, 0x11, 0x3e}) g.push_back(b);
    for (uint8_t b : {0, 0, 0, 7}) g.push_back(b);  // pseudowire control word
    auto inner = eth(ipet);
    g.insert(g.end(), inner.begin(), inner.end());
    add("mpls-pw-cw", linktype::ethernet, g, 0, 1);
  }
  {
    auto h = eth(0x88A8);
    for (uint8_t b : {0x20, 0x0a, 0x81, 0x00, 0x00, 0x14, 0x91, 0x00, 0x0f, 0xff}) h.push_back(b);
    h.push_back(uint8_t(ipet >> 8));
    h.push_back(uint8_t(ipet));
    add("3 tags", linktype::ethernet, h, 3);
  }
  if (ip.size() + 8 <= 1500) {
    const auto len = static_cast<uint16_t>(ip.size() + 8);
    auto h = eth(len);
    for (uint8_t b : {0xAA, 0xAA, 0x03, 0, 0, 0}) h.push_back(b);
    h.push_back(uint8_t(ipet >> 8));
    h.push_back(uint8_t(ipet));
    add("llc-snap", linktype::ethernet, h);
  }
  {
    // ERF header: ts(8) type flags rlen(2) lctr(2) wlen(2)
    auto erf = [&](uint8_t type, int ext) {
      std::vector<uint8_t> h(8, 0x11);
      h.push_back(uint8_t(type | (ext ? 0x80 : 0)));
      h.push_back(0x04);
      const uint32_t rlen = static_cast<uint32_t>(16 + 8 * ext + ((type & 0x7F) == 22 || (type & 0x7F) == 23 ? 0 : 16) + ip.size());
      h.push_back(uint8_t(rlen >> 8));
      h.push_back(uint8_t(rlen));
      h.push_back(0);
      h.push_back(0);
      h.push_back(uint8_t(ip.size() >> 8));
      h.push_back(uint8_t(ip.size()));
      for (int i = 0; i < ext; ++i) {
        std::vector<uint8_t> e(8, 0);
        e[0] = uint8_t((i + 1 < ext ? 0x80 : 0) | 0x04);
        h.insert(h.end(), e.begin(), e.end());
      }
      return h;
    };
    for (uint8_t t : {2, 11, 16, 20}) {  // ETH, COLOR_ETH, DSM_COLOR_ETH, COLOR_HASH_ETH
      auto h = erf(t, t == 2 ? 2 : 0);
      h.push_back(0);
      h.push_back(0);
      auto e = eth(ipet);
      h.insert(h.end(), e.begin(), e.end());
      add("erf-eth-" + std::to_string(t), linktype::erf, h);
    }
    add("erf-ip", linktype::erf, erf(v6 ? 23 : 22, 1));
  }
  return w;
}

Pkt first_ip_packet(const std::vector<Pkt>& pkts, int version, uint8_t proto) {
  for (auto& p : pkts) {
    const auto v = decode(p);
    if (v.ip_version == version && v.proto == proto && !(v.flags & pflag::later_fragment) &&
        v.error == DecodeError::none)
      return p;
  }
  return {};
}

std::vector<Pkt> sample_ip_packets() {
  std::vector<Pkt> out;
  auto m = manifest_by_name();
  auto take = [&](const char* f, int ver, uint8_t proto) {
    std::vector<Pkt> pkts;
    std::string why;
    if (!m.count(f) || !load_capture(*test::corpus_dir() / f, pkts, why)) return;
    Pkt p = first_ip_packet(pkts, ver, proto);
    if (p.linktype == linktype::ethernet && !p.bytes.empty()) out.push_back(std::move(p));
  };
  if (!test::corpus_dir()) return out;
  take("suricata__syn-flood-drop-precedence.pcap", 4, 6);
  take("stopddos__amp.UDP.isakmp.pcap", 4, 17);
  take("pcaphunt__hs-icmpScan.pcap", 4, 1);
  take("tcpreplay__test_fragroute.pcap", 4, 6);
  take("zeek__wikipedia.pcap", 6, 17);
  take("zeek__wikipedia.pcap", 6, 6);
  return out;
}

std::vector<Pkt> rewrapped_packets() {
  std::vector<Pkt> out;
  for (auto& p : sample_ip_packets())
    for (auto& w : wrappings(p)) out.push_back(w.pkt);
  return out;
}

TEST(DecodeRewrapped, SameIpFieldsInEveryLinkLayer) {
  PRIVATEER_REQUIRE_CORPUS();
  const auto samples = sample_ip_packets();
  ASSERT_GE(samples.size(), 5u);
  size_t n = 0;
  for (auto& orig : samples) {
    const auto ov = decode(orig);
    ASSERT_NE(ov.ip_version, 0);
    for (auto& w : wrappings(orig)) {
      SCOPED_TRACE(w.what + " around IPv" + std::to_string(ov.ip_version) + " proto " + std::to_string(ov.proto));
      const auto v = decode(w.pkt);
      EXPECT_EQ(v.error, DecodeError::none) << decode_error_name(v.error);
      EXPECT_EQ(v.ip_version, ov.ip_version);
      EXPECT_EQ(v.l3_offset, w.l3);
      EXPECT_EQ(v.l4_offset - v.l3_offset, ov.l4_offset - ov.l3_offset);
      EXPECT_EQ(v.payload_len(), ov.payload_len());
      EXPECT_EQ(std::memcmp(&v.src, &ov.src, sizeof v.src), 0);
      EXPECT_EQ(std::memcmp(&v.dst, &ov.dst, sizeof v.dst), 0);
      EXPECT_EQ(v.proto, ov.proto);
      EXPECT_EQ(v.ttl, ov.ttl);
      EXPECT_EQ(v.ip_len, ov.ip_len);
      EXPECT_EQ(v.sport, ov.sport);
      EXPECT_EQ(v.dport, ov.dport);
      EXPECT_EQ(v.flags, ov.flags);
      EXPECT_EQ(v.tcp_flags, ov.tcp_flags);
      EXPECT_EQ(v.vlan_count, w.vlans);
      EXPECT_EQ(v.mpls_count, w.labels);
      if (w.vlans) {
        EXPECT_EQ(v.vlan_id, 10);
      }
      ++n;
    }
  }
  EXPECT_GT(n, 100u);
}

}  // namespace
}  // namespace privateer
