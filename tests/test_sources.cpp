// Capture sources: our pcap/pcapng/ERF readers, libtrace (live), directory
// and list chaining, errors. Packets are checked against tshark (timestamps,
// lengths, link types and an MD5 of the captured bytes of every packet) and
// against synthetic files whose contents the test wrote itself.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "hw/file_source.hpp"
#include "hw/libtrace_source.hpp"
#include "hw/source.hpp"
#include "tests/test_support.hpp"

namespace fs = std::filesystem;
using namespace privateer;
using privateer::test::corpus_dir;
using privateer::test::TempDir;
using privateer::test::read_manifest;
using privateer::test::run_command;

namespace {

// ------------------------------------------------------------------ helpers

// One packet as read, with its bytes copied out.
struct Pkt {
  uint64_t ts_ns = 0;
  uint32_t caplen = 0;
  uint32_t wirelen = 0;
  uint16_t linktype = 0;
  std::string bytes;
};

std::vector<Pkt> read_all(PacketSource& s, size_t burst = 256) {
  std::vector<Pkt> out;
  std::vector<RawPacket> b(burst);
  int idle = 0;
  for (;;) {
    const size_t n = s.read_burst(b.data(), burst);
    if (n == 0) {
      if (s.eof()) break;
      if (++idle > 1000) {
        ADD_FAILURE() << s.name() << ": read_burst returned 0 without eof 1000 times";
        break;
      }
      continue;
    }
    for (size_t i = 0; i < n; ++i) {
      out.push_back(Pkt{b[i].ts_ns, b[i].caplen, b[i].wirelen, b[i].linktype,
                        std::string(reinterpret_cast<const char*>(b[i].data), b[i].caplen)});
    }
  }
  EXPECT_EQ(s.read_burst(b.data(), burst), 0u) << s.name() << ": read after eof";
  EXPECT_TRUE(s.eof());
  return out;
}

std::vector<Pkt> read_uri(const std::string& uri, size_t burst = 256) {
  auto s = open_source(uri);
  return read_all(*s, burst);
}

std::string shq(const std::string& s) {  // shell quoting
  std::string r = "'";
  for (char c : s) r += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return r + "'";
}


void write_file(const std::string& path, const std::string& data) {
  std::ofstream o(path, std::ios::binary);
  o.write(data.data(), static_cast<std::streamsize>(data.size()));
}

bool have_tool(const std::string& name) { return run_command("command -v " + name + " >/dev/null") == 0; }

// ---- MD5 (RFC 1321), to compare packet bytes with tshark's frame.md5_hash.
std::string md5_hex(const std::string& msg) {
  static const uint32_t K[64] = {
      0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
      0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
      0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
      0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
      0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
      0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
      0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
      0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391};
  static const uint32_t R[64] = {7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
                                 5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20,
                                 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
                                 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21};
  uint32_t h[4] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
  std::string m = msg;
  const uint64_t bits = uint64_t{msg.size()} * 8;
  m += static_cast<char>(0x80);
  while (m.size() % 64 != 56) m += '\0';
  for (int i = 0; i < 8; ++i) m += static_cast<char>((bits >> (8 * i)) & 0xff);
  for (size_t off = 0; off < m.size(); off += 64) {
    uint32_t w[16];
    for (int i = 0; i < 16; ++i) {
      const auto* p = reinterpret_cast<const uint8_t*>(m.data() + off + 4 * i);
      w[i] = p[0] | (p[1] << 8) | (p[2] << 16) | (uint32_t{p[3]} << 24);
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
    for (int i = 0; i < 64; ++i) {
      uint32_t f, g;
      if (i < 16) {
        f = (b & c) | (~b & d);
        g = i;
      } else if (i < 32) {
        f = (d & b) | (~d & c);
        g = (5 * i + 1) % 16;
      } else if (i < 48) {
        f = b ^ c ^ d;
        g = (3 * i + 5) % 16;
      } else {
        f = c ^ (b | ~d);
        g = (7 * i) % 16;
      }
      const uint32_t t = d;
      d = c;
      c = b;
      const uint32_t x = a + f + K[i] + w[g];
      b = b + ((x << R[i]) | (x >> (32 - R[i])));
      a = t;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
  }
  std::string out;
  char buf[3];
  for (uint32_t v : h) {
    for (int i = 0; i < 4; ++i) {
      std::snprintf(buf, sizeof buf, "%02x", (v >> (8 * i)) & 0xff);
      out += buf;
    }
  }
  return out;
}

// ---- tshark as the independent reader.
struct SharkPkt {
  bool has_ts = false;
  uint64_t ts_ns = 0;
  uint32_t caplen = 0;
  uint32_t wirelen = 0;
  int encap = -1;
  std::string md5;
};

// Wireshark's WTAP_ENCAP_* numbers (frame.encap_type) to pcap LINKTYPE_*.
int wtap_encap_to_linktype(int encap) {
  static const std::map<int, int> m = {{1, 1},     // ETHERNET
                                       {7, 101},   // RAW_IP
                                       {15, 0},    // NULL
                                       {25, 113},  // SLL
                                       {98, 197},  // ERF
                                       {210, 276}, // SLL2
                                       {129, 228}, // RAW_IP4
                                       {130, 229}, // RAW_IP6
                                       {20, 105}}; // IEEE_802_11
  const auto it = m.find(encap);
  return it == m.end() ? -1 : it->second;
}

uint64_t parse_epoch_ns(const std::string& s) {
  const auto dot = s.find('.');
  uint64_t sec = std::stoull(s.substr(0, dot));
  uint64_t ns = 0;
  if (dot != std::string::npos) {
    std::string frac = s.substr(dot + 1);
    frac.resize(9, '0');
    ns = std::stoull(frac);
  }
  return sec * 1000000000ull + ns;
}

// Every record of a capture that tshark shows as a packet (records without an
// encapsulation, such as pcapng custom blocks, are filtered out).
bool tshark_packets(const std::string& file, std::vector<SharkPkt>* out, std::string* err) {
  std::string text;
  const std::string cmd = "(tshark -n -r " + shq(file) +
                          " -o frame.generate_md5_hash:TRUE -Y frame.encap_type -T fields -E separator=/t"
                          " -e frame.time_epoch -e frame.cap_len -e frame.len -e frame.encap_type"
                          " -e frame.md5_hash 2>/dev/null)";
  const int rc = run_command(cmd, &text);
  if (rc != 0 && text.empty()) {
    *err = "tshark failed (" + std::to_string(rc) + ")";
    return false;
  }
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    std::string x;
    while (std::getline(ss, x, '\t')) f.push_back(x);
    if (f.size() < 5) {
      *err = "unexpected tshark line: " + line;
      return false;
    }
    SharkPkt p;
    p.has_ts = !f[0].empty();
    p.ts_ns = p.has_ts ? parse_epoch_ns(f[0]) : 0;
    p.caplen = static_cast<uint32_t>(std::stoul(f[1]));
    p.wirelen = static_cast<uint32_t>(std::stoul(f[2]));
    p.encap = std::stoi(f[3]);
    p.md5 = f[4];
    out->push_back(p);
  }
  return true;
}

// Length of an ERF record's framing (header, extension headers, Ethernet pad).
size_t erf_framing(const std::string& rec) {
  if (rec.size() < 16) return rec.size();
  const auto type = static_cast<uint8_t>(rec[8]);
  size_t off = 16;
  uint8_t t = type;
  while ((t & 0x80) && off + 8 <= rec.size()) {
    t = static_cast<uint8_t>(rec[off]);
    off += 8;
  }
  const uint8_t base = type & 0x7f;
  if (base == 2 || base == 11 || base == 16 || base == 20) {
    off += 2;  // Ethernet variants carry 2 bytes of offset and pad
  }
  return off;
}

// Compares our packets with tshark's, one by one.
void expect_matches_tshark(const std::string& file, const std::vector<Pkt>& ours,
                           const std::vector<SharkPkt>& ref) {
  ASSERT_EQ(ours.size(), ref.size()) << file << ": packet count vs tshark";
  int bad = 0;
  for (size_t i = 0; i < ours.size() && bad < 5; ++i) {
    const Pkt& o = ours[i];
    const SharkPkt& r = ref[i];
    const int lt = wtap_encap_to_linktype(r.encap);
    ASSERT_GE(lt, 0) << file << ": extend wtap_encap_to_linktype for encap " << r.encap;
    std::string payload = o.bytes;
    if (o.linktype == linktype::erf) payload = o.bytes.substr(std::min(erf_framing(o.bytes), o.bytes.size()));
    const bool ok = o.ts_ns == r.ts_ns && o.linktype == lt && payload.size() == r.caplen && o.wirelen == r.wirelen &&
                    md5_hex(payload) == r.md5;
    if (!ok) {
      ++bad;
      ADD_FAILURE() << file << " packet " << i + 1 << ": ours ts=" << o.ts_ns << " caplen=" << payload.size()
                    << " wirelen=" << o.wirelen << " linktype=" << o.linktype << " md5=" << md5_hex(payload)
                    << "; tshark ts=" << r.ts_ns << " caplen=" << r.caplen << " wirelen=" << r.wirelen
                    << " linktype=" << lt << " md5=" << r.md5;
    }
  }
}

void expect_matches_tshark(const std::string& file, const std::vector<Pkt>& ours) {
  std::vector<SharkPkt> ref;
  std::string err;
  ASSERT_TRUE(tshark_packets(file, &ref, &err)) << file << ": " << err;
  expect_matches_tshark(file, ours, ref);
}

#define REQUIRE_TSHARK() \
  do {                   \
    if (!have_tool("tshark")) GTEST_SKIP() << "tshark not installed"; \
  } while (0)

// ---- writers for synthetic captures.
struct Writer {
  bool big = false;
  std::string s;
  void u8(uint8_t v) { s += static_cast<char>(v); }
  void u16(uint16_t v) {
    for (int i = 0; i < 2; ++i) u8(static_cast<uint8_t>(big ? v >> (8 * (1 - i)) : v >> (8 * i)));
  }
  void u32(uint32_t v) {
    for (int i = 0; i < 4; ++i) u8(static_cast<uint8_t>(big ? v >> (8 * (3 - i)) : v >> (8 * i)));
  }
  void u64(uint64_t v) {
    for (int i = 0; i < 8; ++i) u8(static_cast<uint8_t>(big ? v >> (8 * (7 - i)) : v >> (8 * i)));
  }
  void bytes(const std::string& b) { s += b; }
  void pad4() {
    while (s.size() % 4) u8(0);
  }
};

std::string pattern(size_t n, uint32_t seed) {
  std::string b(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1103515245u + 12345u;
    b[i] = static_cast<char>(x >> 24);
  }
  return b;
}

struct SynPkt {
  uint32_t sec, frac;
  std::string data;
  uint32_t wirelen;
};

std::string make_pcap(bool big, bool nano, uint32_t network, uint32_t snaplen, const std::vector<SynPkt>& pk) {
  Writer w;
  w.big = big;
  w.u32(nano ? 0xa1b23c4d : 0xa1b2c3d4);
  w.u16(2);
  w.u16(4);
  w.u32(0);
  w.u32(0);
  w.u32(snaplen);
  w.u32(network);
  for (const auto& p : pk) {
    w.u32(p.sec);
    w.u32(p.frac);
    w.u32(static_cast<uint32_t>(p.data.size()));
    w.u32(p.wirelen);
    w.bytes(p.data);
  }
  return w.s;
}

// pcapng block writer: body built by f, then wrapped with type and lengths.
template <typename F>
void ng_block(Writer& w, uint32_t type, F&& f) {
  Writer body;
  body.big = w.big;
  f(body);
  body.pad4();
  w.u32(type);
  w.u32(static_cast<uint32_t>(body.s.size() + 12));
  w.bytes(body.s);
  w.u32(static_cast<uint32_t>(body.s.size() + 12));
}
void ng_shb(Writer& w) {
  ng_block(w, 0x0a0d0d0a, [](Writer& b) {
    b.u32(0x1a2b3c4d);
    b.u16(1);
    b.u16(0);
    b.u64(~uint64_t{0});
  });
}
void ng_idb(Writer& w, uint16_t lt, uint32_t snaplen, int tsresol, int64_t tsoffset) {
  ng_block(w, 1, [&](Writer& b) {
    b.u16(lt);
    b.u16(0);
    b.u32(snaplen);
    b.u16(2);  // if_name, to have an option before the ones we read
    b.u16(3);
    b.bytes("lo0");
    b.pad4();
    if (tsresol >= 0) {
      b.u16(9);
      b.u16(1);
      b.u8(static_cast<uint8_t>(tsresol));
      b.pad4();
    }
    if (tsoffset != 0) {
      b.u16(14);
      b.u16(8);
      b.u64(static_cast<uint64_t>(tsoffset));
    }
    b.u16(0);
    b.u16(0);
  });
}
void ng_epb(Writer& w, uint32_t iface, uint64_t ts, const std::string& data, uint32_t wirelen) {
  ng_block(w, 6, [&](Writer& b) {
    b.u32(iface);
    b.u32(static_cast<uint32_t>(ts >> 32));
    b.u32(static_cast<uint32_t>(ts));
    b.u32(static_cast<uint32_t>(data.size()));
    b.u32(wirelen);
    b.bytes(data);
    b.pad4();
    b.u16(1);  // opt_comment
    b.u16(5);
    b.bytes("hello");
    b.pad4();
    b.u16(0);
    b.u16(0);
  });
}

std::string prefix_of(const std::vector<Pkt>& v, size_t n) {
  std::string s;
  for (size_t i = 0; i < n && i < v.size(); ++i) s += std::to_string(v[i].ts_ns) + ",";
  return s;
}

}  // namespace

// ------------------------------------------------------------------- corpus

TEST(Sources, EveryCorpusCaptureHasTheManifestPacketCount) {
  PRIVATEER_REQUIRE_CORPUS();
  const auto rows = read_manifest();
  ASSERT_FALSE(rows.empty());
  for (const auto& row : rows) {
    const std::string file = row.at("file");
    const std::string path = (*corpus_dir() / file).string();
    const std::string uri = row.at("file_format") == "erf" ? "erf:" + path : path;
    SCOPED_TRACE(uri);
    std::unique_ptr<PacketSource> s;
    ASSERT_NO_THROW(s = open_source(uri));
    const auto pk = read_all(*s);
    EXPECT_EQ(pk.size(), std::stoull(row.at("packets"))) << file;
    const auto prog = s->progress();
    const uint64_t size = fs::file_size(path);
    EXPECT_EQ(prog.bytes_total, size);
    EXPECT_EQ(prog.bytes_read, size);
    EXPECT_TRUE(s->damage().empty()) << s->damage().front().message;
    if (row.at("link_type") == "ether") {
      for (const auto& p : pk) ASSERT_EQ(p.linktype, linktype::ethernet);
    } else if (row.at("link_type") == "erf") {
      for (const auto& p : pk) ASSERT_EQ(p.linktype, linktype::erf);
    } else if (row.at("link_type") == "linux-sll") {
      for (const auto& p : pk) ASSERT_EQ(p.linktype, linktype::linux_sll);
    } else if (row.at("link_type") == "linux-sll2") {
      for (const auto& p : pk) ASSERT_EQ(p.linktype, linktype::linux_sll2);
    }
  }
}

TEST(Sources, EveryCorpusCaptureMatchesTsharkPacketByPacket) {
  PRIVATEER_REQUIRE_CORPUS();
  REQUIRE_TSHARK();
  struct Job {
    std::string file, path;
    bool erf = false;
    bool ok = false;
    std::vector<SharkPkt> ref;
    std::string err;
  };
  std::vector<Job> jobs;
  for (const auto& row : read_manifest()) {
    Job j;
    j.file = row.at("file");
    j.path = (*corpus_dir() / j.file).string();
    j.erf = row.at("file_format") == "erf";
    jobs.push_back(std::move(j));
  }
  // tshark takes most of a second to start: run one per CPU side by side.
  std::atomic<size_t> next{0};
  std::vector<std::thread> pool;
  const unsigned n = std::max(1u, std::min(8u, std::thread::hardware_concurrency()));
  for (unsigned i = 0; i < n; ++i) {
    pool.emplace_back([&] {
      for (size_t k; (k = next.fetch_add(1)) < jobs.size();) jobs[k].ok = tshark_packets(jobs[k].path, &jobs[k].ref, &jobs[k].err);
    });
  }
  for (auto& t : pool) t.join();
  for (auto& j : jobs) {
    SCOPED_TRACE(j.file);
    ASSERT_TRUE(j.ok) << j.err;
    expect_matches_tshark(j.path, read_uri(j.erf ? "erf:" + j.path : j.path), j.ref);
  }
}

TEST(Sources, ComplexPcapngHasMixedLinkTypesAndATimelessSimplePacket) {
  PRIVATEER_REQUIRE_CORPUS();
  // 3 interfaces (Ethernet, Ethernet, NULL), 2 custom blocks, an SPB.
  const auto pk = read_uri((*corpus_dir() / "libtrace__complex.pcapng").string());
  ASSERT_EQ(pk.size(), 5u);
  EXPECT_EQ(pk[4].linktype, linktype::null);
  EXPECT_EQ(pk[0].linktype, linktype::ethernet);
  EXPECT_EQ(pk[2].ts_ns, 0u);  // the simple packet block
  EXPECT_EQ(pk[2].caplen, 96u);
  EXPECT_EQ(pk[2].wirelen, 314u);
  auto s = open_capture_file((*corpus_dir() / "libtrace__complex.pcapng").string());
  ASSERT_TRUE(s);
  EXPECT_EQ(s->format(), CaptureFileFormat::pcapng);
  read_all(*s);
  EXPECT_EQ(s->stats().packets, 5u);
  EXPECT_EQ(s->stats().truncated_records, 0u);
  EXPECT_GE(s->stats().skipped_blocks, 2u);  // the custom blocks at least
}

TEST(Sources, SameTraceInEveryFormatGivesTheSamePackets) {
  PRIVATEER_REQUIRE_CORPUS();
  const auto c = *corpus_dir();
  const auto pcap = read_uri((c / "libtrace__100_packets.pcap").string());
  const auto pcapng = read_uri((c / "libtrace__100_packets.pcapng").string());
  const auto ns = read_uri((c / "libtrace__100_packetsns.pcap").string());
  const auto viaprefix = read_uri("pcapfile:" + (c / "libtrace__100_packets.pcap").string());
  ASSERT_EQ(pcap.size(), 100u);
  ASSERT_EQ(pcapng.size(), 100u);
  ASSERT_EQ(ns.size(), 100u);
  ASSERT_EQ(viaprefix.size(), 100u);
  for (size_t i = 0; i < 100; ++i) {
    EXPECT_EQ(pcap[i].bytes, pcapng[i].bytes) << i;
    EXPECT_EQ(pcap[i].ts_ns, pcapng[i].ts_ns) << i;
    EXPECT_EQ(pcap[i].ts_ns, ns[i].ts_ns) << i;
    EXPECT_EQ(pcap[i].bytes, ns[i].bytes) << i;
    EXPECT_EQ(pcap[i].ts_ns, viaprefix[i].ts_ns) << i;
  }
  // The ERF version (whole ERF records) was converted separately:
  // a few timestamps differ by a few µs, 8 TCP ports differ (see MANIFEST).
  const auto erf = read_uri("erf:" + (c / "libtrace__100_packets.erf").string());
  const auto erf_plain = read_uri((c / "libtrace__100_packets.erf").string());  // found by its first header
  ASSERT_EQ(erf.size(), 100u);
  ASSERT_EQ(erf_plain.size(), 100u);
  for (size_t i = 0; i < 100; ++i) {
    EXPECT_EQ(erf[i].linktype, linktype::erf);
    EXPECT_EQ(erf[i].bytes, erf_plain[i].bytes);
    EXPECT_LT(std::max(erf[i].ts_ns, pcap[i].ts_ns) - std::min(erf[i].ts_ns, pcap[i].ts_ns), 10000u) << i;
    // ERF header: rlen (bytes 10-11, big-endian) is the record length.
    const auto* h = reinterpret_cast<const uint8_t*>(erf[i].bytes.data());
    EXPECT_EQ(erf[i].caplen, static_cast<uint32_t>((h[10] << 8) | h[11])) << i;
  }
}

// --------------------------------------------------------------- compressed

TEST(Sources, CompressedCapturesAreDecompressed) {
  PRIVATEER_REQUIRE_CORPUS();
  const auto c = *corpus_dir();
  TempDir t;
  const std::string pcap = (c / "stopddos__amp.UDP.isakmp.pcap").string();
  const std::string ng = (c / "libtrace__100_packets.pcapng").string();
  const auto ref = read_uri(pcap);
  const auto ref_ng = read_uri(ng);
  std::vector<std::pair<std::string, std::string>> tools = {
      {"gzip", "gz"}, {"bzip2", "bz2"}, {"xz", "xz"}, {"zstd -q", "zst"}};
  int tried = 0;
  for (const auto& [tool, ext] : tools) {
    const std::string name = tool.substr(0, tool.find(' '));
    if (!have_tool(name)) {
      privateer::test::skip_part(name + " missing: ." + ext + " captures not checked");
      continue;
    }
    ++tried;
    const std::string a = t / ("amp.pcap." + ext), b = t / ("ng.pcapng." + ext);
    ASSERT_EQ(run_command(tool + " -c " + shq(pcap) + " > " + shq(a)), 0);
    ASSERT_EQ(run_command(tool + " -c " + shq(ng) + " > " + shq(b)), 0);
    SCOPED_TRACE(tool);
    auto s = open_source(a);
    const auto got = read_all(*s);
    ASSERT_EQ(got.size(), ref.size());
    for (size_t i = 0; i < ref.size(); ++i) {
      ASSERT_EQ(got[i].bytes, ref[i].bytes) << i;
      ASSERT_EQ(got[i].ts_ns, ref[i].ts_ns) << i;
    }
    const auto p = s->progress();
    EXPECT_EQ(p.bytes_total, fs::file_size(a));  // compressed bytes
    EXPECT_EQ(p.bytes_read, p.bytes_total);
    EXPECT_TRUE(s->damage().empty());
    const auto got_ng = read_uri(b);
    ASSERT_EQ(got_ng.size(), ref_ng.size());
    for (size_t i = 0; i < ref_ng.size(); ++i) ASSERT_EQ(got_ng[i].bytes, ref_ng[i].bytes) << i;
  }
  EXPECT_GT(tried, 0);
  // The file's bytes split at an odd offset into two gzip members, one after
  // the other (as `cat a.gz b.gz` makes them): zcat reads both, so do we.
  if (have_tool("gzip")) {
    const std::string data = privateer::test::read_file(pcap);
    write_file(t / "part1", data.substr(0, 1001));
    write_file(t / "part2", data.substr(1001));
    ASSERT_EQ(run_command("gzip -c " + shq(t / "part1") + " > " + shq(t / "m.gz") + " && gzip -c " +
                          shq(t / "part2") + " >> " + shq(t / "m.gz")),
              0);
    auto m = open_source(t / "m.gz");
    const auto got = read_all(*m);
    ASSERT_EQ(got.size(), ref.size());
    for (size_t i = 0; i < ref.size(); ++i) ASSERT_EQ(got[i].bytes, ref[i].bytes) << i;
    EXPECT_TRUE(m->damage().empty());
  }
  // gzip ERF, by prefix and by its first record header.
  EXPECT_EQ(read_uri("erf:" + (c / "libtrace__5_packets.erf.gz").string()).size(), 5u);
  EXPECT_EQ(read_uri((c / "libtrace__5_packets.erf.gz").string()).size(), 5u);
}

TEST(Sources, CompressedProgressCountsCompressedBytes) {
  // A compressed file big enough that wandio cannot have read all of it at
  // the first packet: progress counts compressed bytes of the file size.
  TempDir t;
  std::vector<SynPkt> pk;
  for (uint32_t i = 0; i < 60000; ++i) pk.push_back({i, 0, pattern(200 + i % 1000, i), 1500});
  write_file(t / "big.pcap", make_pcap(false, false, 1, 65535, pk));
  ASSERT_EQ(run_command("gzip -1 " + shq(t / "big.pcap")), 0);
  const uint64_t size = fs::file_size(t / "big.pcap.gz");
  auto s = open_source(t / "big.pcap.gz");
  RawPacket b[16];
  ASSERT_EQ(s->read_burst(b, 16), 16u);
  auto p = s->progress();
  ASSERT_EQ(p.bytes_total, size);
  EXPECT_GT(p.bytes_read, 0u);
  EXPECT_LE(p.bytes_read, size);
  const auto rest = read_all(*s);
  EXPECT_EQ(rest.size() + 16, pk.size());
  p = s->progress();
  EXPECT_EQ(p.bytes_read, size);

  // The same file cut in half: every packet that decompresses whole, then the
  // damage, no exception.
  const std::string gz = privateer::test::read_file(t / "big.pcap.gz");
  write_file(t / "cut.pcap.gz", gz.substr(0, gz.size() / 2));
  auto c = open_capture_file(t / "cut.pcap.gz");
  ASSERT_TRUE(c);
  std::vector<Pkt> part;
  ASSERT_NO_THROW(part = read_all(*c));
  std::string zcat;
  // One line per packet: those starting with the time (-tt: seconds.µs).
  ASSERT_EQ(run_command("zcat " + shq(t / "cut.pcap.gz") +
                            " 2>/dev/null | tcpdump -n -tt -r - 2>/dev/null | grep -cE '^[0-9]+\\.[0-9]{6} ' || true",
                        &zcat),
            0);
  EXPECT_EQ(part.size(), std::stoull(zcat)) << "tcpdump's count on zcat's output";
  EXPECT_LT(part.size(), pk.size());
  for (size_t i = 0; i < part.size(); ++i) ASSERT_EQ(part[i].bytes, pk[i].data) << i;
  EXPECT_EQ(c->stats().truncated_records, 1u);
  ASSERT_EQ(c->damage().size(), 1u);
  EXPECT_EQ(c->damage()[0].reason, "compressed_stream_error");
}

// ---------------------------------------------------------------- synthetic

TEST(Sources, PcapBothByteOrdersBothResolutionsAndFcsBitsMasked) {
  std::vector<SynPkt> pk;
  for (uint32_t i = 0; i < 50; ++i) pk.push_back({1700000000u + i, i * 12345u, pattern(20 + i * 7, i), 1000 + i});
  TempDir t;
  for (int big = 0; big < 2; ++big) {
    for (int nano = 0; nano < 2; ++nano) {
      // Link type Ethernet with the FCS-present bit and an FCS length of 4.
      const std::string f = t / ("s" + std::to_string(big) + std::to_string(nano) + ".pcap");
      write_file(f, make_pcap(big, nano, 0x84000001u | (1u << 26), 65535, pk));
      SCOPED_TRACE(f);
      auto s = open_capture_file(f);
      ASSERT_TRUE(s);
      EXPECT_EQ(s->format(), CaptureFileFormat::pcap);
      const auto got = read_all(*s, 7);
      ASSERT_EQ(got.size(), pk.size());
      for (size_t i = 0; i < pk.size(); ++i) {
        EXPECT_EQ(got[i].linktype, linktype::ethernet);
        EXPECT_EQ(got[i].bytes, pk[i].data);
        EXPECT_EQ(got[i].wirelen, pk[i].wirelen);
        EXPECT_EQ(got[i].ts_ns, uint64_t{pk[i].sec} * 1000000000u + uint64_t{pk[i].frac} * (nano ? 1 : 1000));
      }
    }
  }
  // The same through tshark, for the big-endian nanosecond one (without FCS bits).
  if (!have_tool("tshark")) privateer::test::skip_part("tshark missing: not compared with tshark");
  if (have_tool("tshark")) {
    write_file(t / "be.pcap", make_pcap(true, true, 1, 65535, pk));
    expect_matches_tshark(t / "be.pcap", read_uri(t / "be.pcap"));
  }
}

TEST(Sources, PcapngSectionsInterfacesResolutionsAndBlockTypes) {
  TempDir t;
  const std::string d1 = pattern(60, 1), d2 = pattern(41, 2), d3 = pattern(100, 3), d4 = pattern(77, 4),
                    d5 = pattern(33, 5), d6 = pattern(100, 6);
  Writer w;
  // Section 1, big-endian.
  w.big = true;
  ng_shb(w);
  ng_idb(w, 1, 0, 9, 0);              // if 0: Ethernet, ns resolution
  ng_idb(w, 101, 0, 0x80 | 20, 0);    // if 1: raw IP, 2^-20 s
  ng_idb(w, 113, 64, -1, 0);          // if 2: Linux SLL, default µs, snaplen 64
  ng_idb(w, 1, 0, 3, 1000);           // if 3: ms, if_tsoffset 1000 s
  ng_epb(w, 0, 1700000000123456789ull, d1, 60);
  ng_block(w, 0x40000BAD, [](Writer& b) {  // custom block, copiable
    b.u32(32473);
    b.bytes("custom data");
  });
  ng_epb(w, 1, (uint64_t{1700000001} << 20) | (uint64_t{1} << 19), d2, 41);  // .5 s
  ng_block(w, 4, [](Writer& b) {  // name resolution block
    b.u16(0);
    b.u16(0);
  });
  ng_block(w, 3, [&](Writer& b) {  // simple packet block: interface 0
    b.u32(100);
    b.bytes(d3);
  });
  ng_block(w, 2, [&](Writer& b) {  // obsolete packet block on interface 2
    b.u16(2);
    b.u16(0);
    const uint64_t ts = 1700000002000003ull;
    b.u32(static_cast<uint32_t>(ts >> 32));
    b.u32(static_cast<uint32_t>(ts));
    b.u32(static_cast<uint32_t>(d4.size()));
    b.u32(77);
    b.bytes(d4);
  });
  ng_block(w, 5, [](Writer& b) {  // interface statistics block
    b.u32(0);
    b.u32(0);
    b.u32(0);
  });
  ng_epb(w, 3, 1700000003500ull, d5, 33);
  // Section 2, little-endian, new interfaces.
  Writer w2;
  w2.big = false;
  ng_shb(w2);
  ng_idb(w2, 0, 32, 6, 0);  // if 0: NULL, µs, snaplen 32
  ng_epb(w2, 0, 1700000004000001ull, d5, 33);
  ng_block(w2, 3, [&](Writer& b) {  // SPB limited by the snaplen: 32 of 100 bytes stored
    b.u32(100);
    b.bytes(d6.substr(0, 32));
  });
  const std::string file = t / "syn.pcapng";
  write_file(file, w.s + w2.s);

  auto s = open_capture_file(file);
  ASSERT_TRUE(s);
  const auto got = read_all(*s, 3);
  ASSERT_EQ(got.size(), 7u);
  EXPECT_EQ(s->stats().sections, 2u);
  EXPECT_EQ(s->stats().skipped_blocks, 3u);
  // EPB, ns resolution.
  EXPECT_EQ(got[0].ts_ns, 1700000000123456789ull);
  EXPECT_EQ(got[0].linktype, 1);
  EXPECT_EQ(got[0].bytes, d1);
  // EPB, 2^-20 resolution.
  EXPECT_EQ(got[1].ts_ns, 1700000001500000000ull);
  EXPECT_EQ(got[1].linktype, linktype::raw);
  EXPECT_EQ(got[1].bytes, d2);
  // SPB: interface 0, no timestamp.
  EXPECT_EQ(got[2].ts_ns, 0u);
  EXPECT_EQ(got[2].linktype, 1);
  EXPECT_EQ(got[2].bytes, d3);
  EXPECT_EQ(got[2].wirelen, 100u);
  // Obsolete packet block, µs.
  EXPECT_EQ(got[3].ts_ns, 1700000002000003000ull);
  EXPECT_EQ(got[3].linktype, linktype::linux_sll);
  EXPECT_EQ(got[3].bytes, d4);
  // ms resolution plus if_tsoffset.
  EXPECT_EQ(got[4].ts_ns, 1700000003500000000ull + 1000000000000ull);
  EXPECT_EQ(got[4].bytes, d5);
  // Second section, little-endian.
  EXPECT_EQ(got[5].ts_ns, 1700000004000001000ull);
  EXPECT_EQ(got[5].linktype, linktype::null);
  EXPECT_EQ(got[6].caplen, 32u);
  EXPECT_EQ(got[6].bytes, d6.substr(0, 32));
  EXPECT_EQ(got[6].wirelen, 100u);

  // tshark agrees.
  if (!have_tool("tshark")) privateer::test::skip_part("tshark missing: not compared with tshark");
  if (have_tool("tshark")) {
    std::vector<SharkPkt> ref;
    std::string err;
    ASSERT_TRUE(tshark_packets(file, &ref, &err)) << err;
    ASSERT_EQ(ref.size(), got.size());
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(wtap_encap_to_linktype(ref[i].encap), got[i].linktype) << i;
      EXPECT_EQ(ref[i].caplen, got[i].caplen) << i;
      EXPECT_EQ(ref[i].md5, md5_hex(got[i].bytes)) << i;
      EXPECT_EQ(ref[i].ts_ns, got[i].ts_ns) << i;
    }
  }
}

TEST(Sources, RecordsStraddlingTheBufferAndLargerThanIt) {
  // ~10 MiB of records of random sizes plus records larger than the 2 MiB
  // buffer, read with several burst sizes: records cross chunk boundaries.
  TempDir t;
  std::mt19937 rng(42);
  std::vector<SynPkt> pk;
  size_t total = 0;
  for (uint32_t i = 0; total < (10u << 20); ++i) {
    size_t len = rng() % 3000;
    if (i == 700) len = 3u << 20;
    if (i == 2000) len = (5u << 20) + 3;
    pk.push_back({i, i, pattern(len, i), static_cast<uint32_t>(len)});
    total += len + 16;
  }
  write_file(t / "big.pcap", make_pcap(false, false, 1, 8u << 20, pk));
  Writer w;
  ng_shb(w);
  ng_idb(w, 1, 0, -1, 0);
  for (uint32_t i = 0; i < pk.size(); ++i) ng_epb(w, 0, i, pk[i].data, pk[i].wirelen);
  write_file(t / "big.pcapng", w.s);
  for (const std::string& f : {t / "big.pcap", t / "big.pcapng"}) {
    for (size_t burst : {1, 5, 64, 1024}) {
      SCOPED_TRACE(f + " burst " + std::to_string(burst));
      auto s = open_source(f);
      const auto got = read_all(*s, burst);
      ASSERT_EQ(got.size(), pk.size());
      for (size_t i = 0; i < pk.size(); ++i) {
        ASSERT_EQ(got[i].caplen, pk[i].data.size()) << i;
        ASSERT_EQ(got[i].bytes, pk[i].data) << i;
        // pcap: sec i, µs i; pcapng: i µs (default resolution).
        ASSERT_EQ(got[i].ts_ns, f.ends_with("ng") ? i * 1000u : uint64_t{i} * 1000000000u + i * 1000u) << i;
      }
      EXPECT_EQ(s->progress().bytes_read, fs::file_size(f));
    }
  }
}

// --------------------------------------------------------- truncated, errors

TEST(Sources, TruncatedFinalRecordStopsCleanly) {
  PRIVATEER_REQUIRE_CORPUS();
  TempDir t;
  const auto c = *corpus_dir();
  const std::string src = (c / "pcaphunt__ps-tcp_syn.pcap").string();
  const auto full = read_uri(src);
  ASSERT_GT(full.size(), 100u);
  const std::string data = privateer::test::read_file(src);
  size_t off = 24;
  for (size_t i = 0; i < 100; ++i) off += 16 + full[i].caplen;
  // Cut inside the 101st record's data, inside its header, and exactly after it.
  const std::vector<std::pair<size_t, size_t>> cuts = {
      {off + 16 + full[100].caplen / 2, 100}, {off + 5, 100}, {off + 16 + full[100].caplen, 101}};
  for (const auto& [cut, expect] : cuts) {
    const std::string f = t / ("cut" + std::to_string(cut) + ".pcap");
    write_file(f, data.substr(0, cut));
    SCOPED_TRACE(f);
    auto s = open_capture_file(f);
    ASSERT_TRUE(s);
    std::vector<Pkt> got;
    ASSERT_NO_THROW(got = read_all(*s));
    ASSERT_EQ(got.size(), expect);
    EXPECT_EQ(prefix_of(got, expect), prefix_of(full, expect));
    EXPECT_EQ(s->stats().truncated_records, expect == 100 ? 1u : 0u);
    EXPECT_EQ(s->progress().bytes_read, cut);
    if (expect == 100) {
      ASSERT_EQ(s->damage().size(), 1u);
      EXPECT_EQ(s->damage()[0].reason, "truncated_record");
      EXPECT_EQ(s->damage()[0].offset, off);
      EXPECT_EQ(s->damage()[0].path, f);
    } else {
      EXPECT_TRUE(s->damage().empty());
    }
  }
  // pcapng cut in the middle of an enhanced packet block.
  const std::string ng = (c / "libtrace__100_packets.pcapng").string();
  const std::string ngdata = privateer::test::read_file(ng);
  const std::string f = t / "cut.pcapng";
  write_file(f, ngdata.substr(0, ngdata.size() - 30));
  auto s = open_capture_file(f);
  ASSERT_TRUE(s);
  std::vector<Pkt> got;
  ASSERT_NO_THROW(got = read_all(*s));
  EXPECT_EQ(got.size(), 99u);
  EXPECT_EQ(s->stats().truncated_records, 1u);
  // ERF cut inside the 91st record: 90 packets, no exception.
  const std::string erf = privateer::test::read_file((c / "libtrace__100_packets.erf").string());
  write_file(t / "cut.erf", erf.substr(0, 7000));
  for (const std::string& u : {"erf:" + (t / "cut.erf"), t / "cut.erf"}) {
    std::vector<Pkt> e;
    ASSERT_NO_THROW(e = read_uri(u)) << u;
    EXPECT_EQ(e.size(), 90u) << u;
  }
  // A small gzip file cut short: every packet that decompresses whole.
  if (!have_tool("gzip")) privateer::test::skip_part("gzip missing: no cut gzip file checked");
  if (have_tool("gzip")) {
    ASSERT_EQ(run_command("gzip -c " + shq(src) + " > " + shq(t / "whole.gz")), 0);
    const std::string gz = privateer::test::read_file(t / "whole.gz");
    write_file(t / "cut.pcap.gz", gz.substr(0, gz.size() / 2));
    auto g = open_source(t / "cut.pcap.gz");
    const auto part = read_all(*g);
    EXPECT_LT(part.size(), full.size());
    EXPECT_GT(part.size(), 0u);
    EXPECT_EQ(prefix_of(part, part.size()), prefix_of(full, part.size()));
    ASSERT_EQ(g->damage().size(), 1u);
    EXPECT_EQ(g->damage()[0].reason, "compressed_stream_error");
  }
}

TEST(Sources, ErrorsNameTheFile) {
  TempDir t;
  auto expect_error = [](const std::string& uri, const std::vector<std::string>& parts) {
    try {
      auto s = open_source(uri);
      read_all(*s);
      ADD_FAILURE() << uri << ": no SourceError";
    } catch (const SourceError& e) {
      for (const auto& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
    }
  };
  // Nonexistent file.
  expect_error(t / "nope.pcap", {t / "nope.pcap", "No such file or directory"});
  expect_error("pcapfile:" + (t / "nope.pcap"), {t / "nope.pcap", "No such file or directory"});
  expect_error("erf:" + (t / "nope.erf"), {t / "nope.erf", "No such file or directory"});
  // Empty file.
  write_file(t / "empty.pcap", "");
  expect_error(t / "empty.pcap", {t / "empty.pcap", "empty"});
  // Unknown format.
  write_file(t / "text.pcap", "this is not a capture file at all, just text\n");
  expect_error(t / "text.pcap", {t / "text.pcap", "unknown capture file format"});
  expect_error("pcapfile:" + (t / "text.pcap"), {t / "text.pcap", "unknown capture file format"});
  // pcap header cut short, wrong version.
  std::string hdr = make_pcap(false, false, 1, 65535, {});
  write_file(t / "short.pcap", hdr.substr(0, 10));
  expect_error(t / "short.pcap", {t / "short.pcap", "corrupt pcap file header"});
  std::string v9 = hdr;
  v9[4] = 9;
  write_file(t / "v9.pcap", v9);
  expect_error(t / "v9.pcap", {t / "v9.pcap", "corrupt pcap file header"});
  // A record with an absurd capture length.
  Writer r;
  r.u32(1);
  r.u32(0);
  r.u32(0xfffffff0u);
  r.u32(60);
  r.bytes(std::string(100, 'x'));
  write_file(t / "badrec.pcap", hdr + r.s);
  auto expect_damage = [](const std::string& path, const std::string& reason, uint64_t offset,
                          const std::string& part) {
    auto s = open_source(path);
    EXPECT_TRUE(read_all(*s).empty()) << path;
    ASSERT_EQ(s->damage().size(), 1u) << path;
    EXPECT_EQ(s->damage()[0].reason, reason) << path;
    EXPECT_EQ(s->damage()[0].offset, offset) << path;
    EXPECT_NE(s->damage()[0].message.find(part), std::string::npos) << s->damage()[0].message;
  };
  expect_damage(t / "badrec.pcap", "bad_caplen", 24, "capture length 4294967280");
  // pcapng with a bad byte-order magic, and a packet for an undescribed interface.
  Writer ng;
  ng_shb(ng);
  std::string badbom = ng.s;
  badbom[8] = 0x55;
  write_file(t / "bom.pcapng", badbom);
  expect_error(t / "bom.pcapng", {t / "bom.pcapng", "byte-order magic"});
  ng_idb(ng, 1, 0, -1, 0);
  const size_t epb_at = ng.s.size();
  ng_epb(ng, 3, 1, "abcd", 4);
  write_file(t / "iface.pcapng", ng.s);
  expect_damage(t / "iface.pcapng", "bad_block", epb_at, "interface 3");
  // A directory with nothing in it.
  fs::create_directory(t / "emptydir");
  expect_error(t / "emptydir", {t / "emptydir", "no capture files"});
  // Unknown format prefix; libtrace's file formats other than ERF are not read.
  expect_error("nosuchformat:/x", {"nosuchformat:/x", "unknown source format"});
  expect_error("tsh:/x", {"tsh:/x", "unknown source format"});
  // Compressions not read.
  write_file(t / "x.pcap.lz4", std::string("\x04\x22\x4d\x18", 4) + std::string(40, 'x'));
  expect_error(t / "x.pcap.lz4", {t / "x.pcap.lz4", "lz4-compressed files are not read"});
  // A pcap file given as erf:.
  expect_error("erf:" + (t / "v9.pcap"), {t / "v9.pcap", "not an ERF file"});
}

TEST(Sources, DagNeedsLibtraceWithDagSupport) {
  try {
    auto s = open_source("dag:/dev/dag0");
    GTEST_SKIP() << "this libtrace has DAG support";
  } catch (const SourceError& e) {
    EXPECT_NE(std::string(e.what()).find(
                  "dag: capture needs libtrace built with DAG support (Endace DAG software); this libtrace has none"),
              std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("dag:/dev/dag0"), std::string::npos) << e.what();
  }
}

// ---------------------------------------------------------------------- ERF

namespace {

// One ERF record: little-endian timestamp, type, flags, big-endian rlen,
// lctr, wlen, extension headers, body, `pad` zero bytes.
std::string erf_record(uint64_t ts, uint8_t type, const std::string& body, uint16_t wlen,
                       const std::string& exts = "", size_t pad = 0) {
  std::string r;
  for (int i = 0; i < 8; ++i) r += static_cast<char>((ts >> (8 * i)) & 0xff);
  const size_t rlen = 16 + exts.size() + body.size() + pad;
  r += static_cast<char>(type);
  r += static_cast<char>(4);  // flags: varying length
  for (const uint16_t v : {static_cast<uint16_t>(rlen), uint16_t{0}, wlen}) {
    r += static_cast<char>(v >> 8);
    r += static_cast<char>(v & 0xff);
  }
  return r + exts + body + std::string(pad, '\0');
}

std::string ext_header(uint8_t type) { return std::string(1, static_cast<char>(type)) + std::string(7, '\x11'); }

}  // namespace

TEST(Sources, ErfExtensionHeadersPaddingAndPadRecordsAsTsharkReadsThem) {
  TempDir t;
  const std::string frame = pattern(12, 1) + std::string("\x08\x00\x45\x00\x00\x2e", 6) + pattern(42, 2);
  const uint64_t ts = (uint64_t{1700000000} << 32) | (uint64_t{1} << 31);
  const std::string eth = std::string(2, '\0') + frame;
  std::string f;
  f += erf_record(ts, 2, eth, 60, "", 2);                                          // padded past wlen
  f += erf_record(ts + 1000, 0x82, eth, 64, ext_header(0x03));                     // one extension header
  f += erf_record(ts + 2000, 48, std::string(16, '\0'), 0);                        // pad record: no packet
  f += erf_record(ts + 3000, 0x82, eth, 60, ext_header(0x83) + ext_header(3), 4);  // two, and padding
  f += erf_record(ts + 4000, 22, frame.substr(14), 46);                            // raw IPv4
  write_file(t / "syn.erf", f);
  for (const std::string& u : {t / "syn.erf", "erf:" + (t / "syn.erf")}) {
    SCOPED_TRACE(u);
    auto s = open_source(u);
    const auto got = read_all(*s, 2);
    ASSERT_EQ(got.size(), 4u);
    EXPECT_EQ(got[0].caplen, 16u + 2 + 60);  // the padding left out
    EXPECT_EQ(got[1].caplen, 16u + 8 + 2 + 60);
    EXPECT_EQ(got[2].caplen, 16u + 16 + 2 + 60);
    EXPECT_EQ(got[3].caplen, 16u + 46);
    EXPECT_TRUE(s->damage().empty());
    auto* fs_ = dynamic_cast<FileSource*>(s.get());
    ASSERT_NE(fs_, nullptr);
    EXPECT_EQ(fs_->format(), CaptureFileFormat::erf);
    EXPECT_EQ(fs_->stats().skipped_blocks, 1u);
    if (have_tool("tshark")) expect_matches_tshark(t / "syn.erf", got);
  }
}

TEST(Sources, ErfImpossibleRecordLengthsAreDamage) {
  TempDir t;
  const uint64_t ts = uint64_t{1700000000} << 32;
  const std::string good = erf_record(ts, 22, pattern(40, 3), 40);
  // rlen 12, below the header's own 16 bytes.
  std::string bad = erf_record(ts, 22, "", 0);
  bad[11] = 12;
  write_file(t / "rlen.erf", good + good + bad + good);
  // Extension headers that run past rlen (the last one says another follows).
  write_file(t / "ext.erf", good + erf_record(ts, 0x96, ext_header(0x80), 0) + good);
  // An Ethernet record with no room for its offset and pad bytes.
  write_file(t / "eth.erf", good + erf_record(ts, 2, "", 0) + good);
  for (const auto& [file, packets] : std::vector<std::pair<std::string, size_t>>{
           {"rlen.erf", 2}, {"ext.erf", 1}, {"eth.erf", 1}}) {
    SCOPED_TRACE(file);
    auto s = open_source("erf:" + (t / file));
    EXPECT_EQ(read_all(*s).size(), packets);
    ASSERT_EQ(s->damage().size(), 1u);
    EXPECT_EQ(s->damage()[0].reason, "bad_rlen");
    EXPECT_EQ(s->damage()[0].offset, packets * good.size());
  }
}

TEST(Sources, ErfDefectsKeepTheCompletePackets) {
  if (!privateer::test::shared_dir()) GTEST_SKIP() << "../shared absent";
  const fs::path d = *privateer::test::shared_dir() / "defects";
  if (!fs::exists(d / "erf-cut-in-record-header.erf")) GTEST_SKIP() << "../shared/defects absent";
  // One complete 72-byte record and 8 bytes of the next header.
  auto s = open_source((d / "erf-cut-in-record-header.erf").string());
  EXPECT_EQ(read_all(*s).size(), 1u);
  ASSERT_EQ(s->damage().size(), 1u);
  EXPECT_EQ(s->damage()[0].reason, "truncated_record");
  EXPECT_EQ(s->damage()[0].offset, 72u);
  // Random bytes changed (libtrace crashed on it): tshark's packets, then the damage.
  const std::string m = (d / "erf-mutated-segv.erf").string();
  for (const std::string& u : {m, "erf:" + m}) {
    auto e = open_source(u);
    const auto got = read_all(*e);
    std::string n;
    ASSERT_EQ(run_command("tshark -n -r " + shq(m) + " 2>/dev/null | wc -l", &n), 0);
    EXPECT_EQ(got.size(), std::stoull(n)) << u;
  }
}

// ------------------------------------------------------------ timestamps

TEST(Sources, OutOfRangeTimestampsAreSkippedAndCounted) {
  TempDir t;
  // µs pcap with a ts_usec of 10^6, ns pcap with a ts_nsec of 10^9: both
  // skipped; the fractions just below are kept.
  for (int nano = 0; nano < 2; ++nano) {
    const uint32_t one = nano ? 1000000000u : 1000000u;
    std::vector<SynPkt> pk = {{1700000000u, one - 1, pattern(60, 1), 60},
                              {1700000001u, one, pattern(60, 2), 60},
                              {1700000002u, 0xffffffffu, pattern(60, 3), 60},
                              {1700000003u, 0, pattern(60, 4), 60}};
    const std::string f = t / ("ts" + std::to_string(nano) + ".pcap");
    write_file(f, make_pcap(false, nano, 1, 65535, pk));
    auto s = open_source(f);
    const auto got = read_all(*s);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].ts_ns, 1700000000ull * 1000000000u + (nano ? one - 1 : (one - 1) * 1000ull));
    EXPECT_EQ(got[1].ts_ns, 1700000003ull * 1000000000u);
    EXPECT_EQ(got[1].bytes, pk[3].data);
    EXPECT_EQ(s->bad_timestamps(), 2u);
    EXPECT_TRUE(s->damage().empty());
  }
  // pcapng: past 2^64 ns, by the value or by if_tsoffset, and before 1970 by
  // a negative if_tsoffset; the largest time that fits is kept.
  Writer w;
  ng_shb(w);
  ng_idb(w, 1, 0, 9, 0);                 // 0: ns
  ng_idb(w, 1, 0, 6, 0);                 // 1: µs
  ng_idb(w, 1, 0, 9, -1700000000);       // 2: ns, offset -1700000000 s
  ng_idb(w, 1, 0, 9, 1);                 // 3: ns, offset +1 s
  ng_epb(w, 0, UINT64_MAX, "a", 1);                   // 2^64-1 ns: kept
  ng_epb(w, 1, UINT64_MAX, "b", 1);                   // 2^64-1 µs: too late
  ng_epb(w, 1, uint64_t{1} << 63, "c", 1);            // 2^63 µs: too late
  ng_epb(w, 1, (uint64_t{1} << 40) * 1000000, "d", 1);  // 2^40 s: too late
  ng_epb(w, 2, 1000, "e", 1);                         // before 1970
  ng_epb(w, 3, UINT64_MAX - 5, "f", 1);               // past 2^64 ns with the offset
  ng_epb(w, 2, 1700000000ull * 1000000000u + 7, "g", 1);  // 7 ns
  write_file(t / "ts.pcapng", w.s);
  auto s = open_source(t / "ts.pcapng");
  const auto got = read_all(*s);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].ts_ns, UINT64_MAX);
  EXPECT_EQ(got[0].bytes, "a");
  EXPECT_EQ(got[1].ts_ns, 7u);
  EXPECT_EQ(s->bad_timestamps(), 5u);
}

TEST(Sources, PcapngTimestampDefectsAreSkipped) {
  if (!privateer::test::shared_dir()) GTEST_SKIP() << "../shared absent";
  const fs::path d = *privateer::test::shared_dir() / "defects";
  if (!fs::exists(d / "pcapng-ts-max64.pcapng")) GTEST_SKIP() << "../shared/defects absent";
  REQUIRE_TSHARK();
  for (const char* f : {"pcapng-ts-max64.pcapng", "pcapng-ts-2p40s.pcapng"}) {
    SCOPED_TRACE(f);
    // tshark's times (seconds, decimal): those past 2^64 ns cannot be given.
    std::string text;
    ASSERT_EQ(run_command("tshark -n -r " + shq((d / f).string()) + " -T fields -e frame.time_epoch 2>/dev/null", &text), 0);
    uint64_t late = 0, ok = 0;
    for (const auto& line : privateer::test::lines_of(text)) {
      if (line.empty() || line[0] < '0' || line[0] > '9') continue;  // tshark's notes
      const auto dot = line.find('.');
      const std::string sec = line.substr(0, dot);
      // 2^64 ns = 18446744073.709551616 s.
      const bool too_late = sec.size() > 11 || (sec.size() == 11 && sec > "18446744073") ||
                            (sec == "18446744073" && line.substr(dot + 1, 9) > "709551615");
      (too_late ? late : ok) += 1;
    }
    ASSERT_GT(late, 0u);
    auto s = open_source((d / f).string());
    EXPECT_EQ(read_all(*s).size(), ok);
    EXPECT_EQ(s->bad_timestamps(), late);
  }
}

// ------------------------------------------------------- directories, lists

TEST(Sources, DirectoryIsReadInNameOrder) {
  PRIVATEER_REQUIRE_CORPUS();
  const auto c = *corpus_dir();
  TempDir t;
  const std::string dir = t / "caps";
  fs::create_directory(dir);
  fs::create_symlink(c / "suricata__syn-flood-drop-precedence.pcap", dir + "/b.pcap");
  fs::create_symlink(c / "libtrace__100_packets.pcap", dir + "/a.pcap");
  fs::create_symlink(c / "README.md", dir + "/.hidden");  // left out
  fs::create_directory(dir + "/sub");                      // left out
  const auto a = read_uri((c / "libtrace__100_packets.pcap").string());
  const auto b = read_uri((c / "suricata__syn-flood-drop-precedence.pcap").string());
  auto s = open_source(dir);
  EXPECT_EQ(s->name(), dir);
  const auto got = read_all(*s, 64);
  ASSERT_EQ(got.size(), a.size() + b.size());
  EXPECT_EQ(got[0].ts_ns, a[0].ts_ns);
  EXPECT_EQ(got[99].ts_ns, a[99].ts_ns);
  EXPECT_EQ(got[100].ts_ns, b[0].ts_ns);
  EXPECT_EQ(got.back().bytes, b.back().bytes);
  const auto p = s->progress();
  const uint64_t size = fs::file_size(c / "suricata__syn-flood-drop-precedence.pcap") +
                        fs::file_size(c / "libtrace__100_packets.pcap");
  EXPECT_EQ(p.bytes_total, size);
  EXPECT_EQ(p.bytes_read, size);
}

TEST(Sources, ListIsReadInOrderAcrossFormats) {
  PRIVATEER_REQUIRE_CORPUS();
  const auto c = *corpus_dir();
  const std::vector<std::string> uris = {(c / "libtrace__100_seconds.pcap").string(),
                                         "erf:" + (c / "libtrace__100_packets.erf").string(),
                                         (c / "libtrace__complex.pcapng").string(),
                                         (c / "zeek__empty.pcap").string(),
                                         (c / "tcpdump__tcp-handshake-nano.pcap").string()};
  auto s = open_sources(uris);
  // Progress in the middle: the first file only.
  RawPacket b[10];
  ASSERT_EQ(s->read_burst(b, 10), 10u);
  uint64_t total = 0;
  for (const auto& u : uris) total += fs::file_size(u.starts_with("erf:") ? u.substr(4) : u);
  auto p = s->progress();
  EXPECT_EQ(p.bytes_total, total);
  EXPECT_GT(p.bytes_read, 0u);
  EXPECT_LT(p.bytes_read, fs::file_size(uris[0]));
  const auto rest = read_all(*s, 32);
  ASSERT_EQ(rest.size() + 10, 100u + 100u + 5u + 0u + 3u);
  EXPECT_EQ(rest[90 + 0].linktype, linktype::erf);
  EXPECT_EQ(rest[190].linktype, linktype::ethernet);
  EXPECT_EQ(rest.back().linktype, linktype::linux_sll);
  p = s->progress();
  EXPECT_EQ(p.bytes_read, total);
  // A missing file in the list fails at open, naming it.
  try {
    open_sources({uris[0], "/nonexistent/x.pcap"});
    ADD_FAILURE() << "no SourceError";
  } catch (const SourceError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/x.pcap"), std::string::npos) << e.what();
  }
}

// --------------------------------------------------------------------- live

TEST(Sources, LiveLoopbackCaptureThroughLibtrace) {
  std::unique_ptr<PacketSource> s;
  std::string uri;
  for (const char* u : {"pcapint:lo", "int:lo"}) {
    try {
      s = open_source(u);
      uri = u;
      break;
    } catch (const SourceError&) {
    }
  }
  if (!s) GTEST_SKIP() << "cannot capture on lo here (needs CAP_NET_RAW)";
  // Idle: read_burst returns within a bounded time (others may send traffic on lo).
  RawPacket b[64];
  const auto t0 = std::chrono::steady_clock::now();
  s->read_burst(b, 64);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
  // Send UDP datagrams with a marker and find them.
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(9);  // discard
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const std::string marker = "privateer-live-test-" + std::to_string(::getpid());
  bool found = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!found && std::chrono::steady_clock::now() < deadline) {
    ::sendto(fd, marker.data(), marker.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    const size_t n = s->read_burst(b, 64);
    for (size_t i = 0; i < n && !found; ++i) {
      const std::string d(reinterpret_cast<const char*>(b[i].data), b[i].caplen);
      if (d.find(marker) != std::string::npos) {
        found = true;
        EXPECT_EQ(b[i].linktype, linktype::ethernet) << uri;
        EXPECT_GE(b[i].wirelen, b[i].caplen);
        const uint64_t now_ns = static_cast<uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
                .count());
        EXPECT_LT(now_ns - b[i].ts_ns, 10'000'000'000ull);
      }
    }
  }
  ::close(fd);
  EXPECT_TRUE(found) << uri << ": marker datagram not captured";
  EXPECT_FALSE(s->eof());
}

TEST(Sources, LibtraceLinkTypeMapping) {
  EXPECT_EQ(libtrace_linktype_to_pcap(2), linktype::ethernet);    // TRACE_TYPE_ETH
  EXPECT_EQ(libtrace_linktype_to_pcap(5), linktype::raw);         // TRACE_TYPE_NONE
  EXPECT_EQ(libtrace_linktype_to_pcap(6), linktype::linux_sll);   // TRACE_TYPE_LINUX_SLL
  EXPECT_EQ(libtrace_linktype_to_pcap(20), linktype::loop);       // TRACE_TYPE_OPENBSD_LOOP
  EXPECT_EQ(libtrace_linktype_to_pcap(3), -1);                    // ATM cells: none
}
