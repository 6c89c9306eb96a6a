// Custom BPF filters (dataplane/bpf.hpp; config keys filters, remove, a
// plugin's filter, corsarotrace's filter/basicfilter), against tcpdump:
// its count of the packets an expression matches in a capture is the oracle.
// ERF captures are turned into Ethernet pcap by editcap for tcpdump; raw-IP
// captures are written by scapy from a corpus capture; captures of several
// link types in one file (pcapng), which tcpdump does not read, against
// tshark's display filters.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "control/config.hpp"
#include "dataplane/bpf.hpp"
#include "dataplane/decode.hpp"
#include "dataplane/filters.hpp"
#include "dataplane/runtime.hpp"
#include "hw/source.hpp"
#include "tests/test_support.hpp"

namespace fs = std::filesystem;
using namespace privateer;
using namespace privateer::test;

namespace {

// Expressions every capture is checked with: protocols, ports, TCP flags,
// lengths (wire length), addresses, VLAN and MPLS encapsulation, IPv6.
const std::vector<std::string> kExpressions = {
    "tcp",
    "udp",
    "udp port 53 or tcp port 80",
    "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn",
    "ip and len > 100",
    "greater 200",
    "net 192.168.0.0/16 or net 10.0.0.0/8",
    "ip[8] < 64",
    "ip6",
    "vlan",
    "vlan and tcp",
    "mpls and ip",
    "icmp",
    "ether broadcast",
};

fs::path corpus(const std::string& name) { return *corpus_dir() / name; }

// Packets of `file` (a capture tcpdump reads) that tcpdump's filter `expr`
// matches, counted by capinfos in what tcpdump writes. -1 when tcpdump
// refuses the expression for the file's link type.
int64_t tcpdump_count(const fs::path& file, const std::string& expr, const TempDir& tmp) {
  const std::string out = tmp / "tcpdump-out.pcap";
  fs::remove(out);
  if (run_command("tcpdump -n -r " + quote(file) + " -w " + quote(out) + " '" + expr + "'") != 0) return -1;
  return static_cast<int64_t>(capture_packets(out));
}

// The same count through our reader, decoder and BpfProgram.
int64_t our_count(const fs::path& file, const BpfProgram& prog) {
  auto src = open_source(file.string());
  std::vector<RawPacket> raw(256);
  int64_t n = 0;
  for (;;) {
    const size_t got = src->read_burst(raw.data(), raw.size());
    if (got == 0 && src->eof()) break;
    for (size_t i = 0; i < got; ++i) {
      PacketView v;
      decode_packet(raw[i], v);
      n += prog.matches(v, raw[i].data);
    }
  }
  return n;
}

// Raw-IP (LINKTYPE_RAW) copy of an Ethernet capture, written by scapy.
fs::path raw_ip_copy(const fs::path& ethernet, const TempDir& tmp) {
  const fs::path out = tmp.path / "raw-ip.pcap";
  const std::string py =
      "import sys\n"
      "from scapy.all import rdpcap, wrpcap, Raw\n"
      "out = []\n"
      "for p in rdpcap(sys.argv[1]):\n"
      "    r = Raw(bytes(p)[14:])\n"
      "    r.time = p.time\n"
      "    r.wirelen = p.wirelen - 14\n"
      "    out.append(r)\n"
      "wrpcap(sys.argv[2], out, linktype=101)\n";
  std::ofstream(tmp / "raw.py") << py;
  EXPECT_EQ(run_command("/usr/bin/python3 " + quote(tmp / "raw.py") + " " + quote(ethernet) + " " + quote(out)), 0);
  return out;
}

// The Ethernet frames of an ERF capture as pcap (editcap drops the ERF headers).
fs::path erf_as_pcap(const fs::path& erf, const TempDir& tmp) {
  const fs::path out = tmp.path / (erf.stem().string() + "-eth.pcap");
  EXPECT_EQ(run_command("editcap -T ether -F pcap " + quote(erf) + " " + quote(out)), 0);
  return out;
}

struct Case {
  std::string what;
  fs::path ours;     // what privateer reads
  fs::path oracle;   // what tcpdump reads (the same packets)
};

}  // namespace

// Every expression on captures of each link type: our matches equal
// tcpdump's. An expression libpcap compiles for no link type of ours is
// one tcpdump refuses too.
TEST(BpfProgram, MatchesTcpdumpOnEveryLinkType) {
  PRIVATEER_REQUIRE_CORPUS();
  PRIVATEER_REQUIRE_TOOL("command -v tcpdump && command -v capinfos && command -v editcap", "tcpdump/wireshark-common");
  PRIVATEER_REQUIRE_TOOL("/usr/bin/python3 -c 'import scapy'", "python3-scapy");
  TempDir tmp("privateer-bpf");
  std::vector<Case> cases;
  for (const char* f : {"libtrace__100_packets.pcap", "zeek__wikipedia.pcap", "zeek__nmap-vsn.pcap",
                        "libtrace__vlan.pcap", "libtrace__qinq.pcap", "libtrace__10_mpls_ip.pcap",
                        "zeek__linux_dlt_sll2.pcap", "tcpdump__tcp-handshake-nano.pcap", "pcaphunt__hs-icmpScan.pcap",
                        "zeek__ipv6-fragmented-dns.pcap", "pcaphunt__hs-arpScan.pcap"}) {
    cases.push_back({f, corpus(f), corpus(f)});
  }
  cases.push_back({"libtrace__100_packets.erf", corpus("libtrace__100_packets.erf"),
                   erf_as_pcap(corpus("libtrace__100_packets.erf"), tmp)});
  const fs::path raw = raw_ip_copy(corpus("libtrace__100_packets.pcap"), tmp);
  cases.push_back({"raw IP (scapy copy of libtrace__100_packets.pcap)", raw, raw});

  for (const auto& expr : kExpressions) {
    const BpfProgram prog("t", expr);
    int64_t total = 0;
    for (const auto& c : cases) {
      const int64_t want = tcpdump_count(c.oracle, expr, tmp);
      const int64_t got = our_count(c.ours, prog);
      // tcpdump refuses an expression it cannot compile for the link type
      // ("vlan" on SLL2); we then match nothing.
      EXPECT_EQ(got, want < 0 ? 0 : want) << c.what << ": '" << expr << "'";
      total += got;
    }
    EXPECT_GT(total, 0) << "'" << expr << "' matches nothing in these captures: it tests nothing";
  }
}

// ERF records with an extension header, and ERF IPV4 records (the IP packet
// alone), written by the test from an Ethernet capture: IP-level
// expressions match them as tcpdump matches the original frames.
TEST(BpfProgram, ErfExtensionHeadersAndIpRecords) {
  PRIVATEER_REQUIRE_CORPUS();
  PRIVATEER_REQUIRE_TOOL("command -v tcpdump && command -v capinfos", "tcpdump/wireshark-common");
  PRIVATEER_REQUIRE_TOOL("/usr/bin/python3 -c 'import scapy'", "python3-scapy");
  TempDir tmp("privateer-bpf");
  const fs::path src = corpus("libtrace__100_packets.pcap");
  const fs::path erf = tmp.path / "mixed.erf";
  // Even packets: type ETH (2) with the extension bit and one 8-byte
  // extension header, 2 pad bytes, the frame. Odd ones: type IPV4 (22), the
  // IP packet. Records padded to 8 bytes; wlen the wire length of what follows.
  std::ofstream(tmp / "erf.py") << "import struct, sys\n"
                                   "from scapy.all import rdpcap\n"
                                   "out = open(sys.argv[2], 'wb')\n"
                                   "for i, p in enumerate(rdpcap(sys.argv[1])):\n"
                                   "    b = bytes(p)\n"
                                   "    ts = int(p.time * (1 << 32))\n"
                                   "    if i % 2 == 0:\n"
                                   "        head, body, wlen = bytes([0x82]), b'\\x05' + bytes(7) + bytes(2) + b, p.wirelen\n"
                                   "    else:\n"
                                   "        head, body, wlen = bytes([22]), b[14:], p.wirelen - 14\n"
                                   "    rlen = 16 + len(body)\n"
                                   "    pad = (-rlen) % 8\n"
                                   "    out.write(struct.pack('<Q', ts) + head + bytes([4]) + struct.pack('>HHH', rlen + pad, 0, wlen)"
                                   " + body + bytes(pad))\n";
  ASSERT_EQ(run_command("/usr/bin/python3 " + quote(tmp / "erf.py") + " " + quote(src) + " " + quote(erf)), 0);
  for (const std::string expr : {"tcp", "udp", "tcp[tcpflags] & tcp-syn != 0", "ip[8] < 64", "dst net 97.89.0.0/16",
                                 "tcp src port 80 or tcp dst port 25", "ip proto 50"}) {
    const int64_t want = tcpdump_count(src, expr, tmp);
    ASSERT_GT(want, 0) << expr;
    EXPECT_EQ(our_count(erf, BpfProgram("t", expr)), want) << expr;
  }
}

// A capture of Ethernet and BSD-loopback packets in one pcapng file
// (tcpdump stops at the second link type): each packet with its own link
// type's program, against tshark's display filters.
TEST(BpfProgram, PerPacketLinkTypesAgainstTshark) {
  PRIVATEER_REQUIRE_CORPUS();
  PRIVATEER_REQUIRE_TOOL("command -v tshark", "tshark");
  const fs::path f = corpus("libtrace__complex.pcapng");
  for (const auto& [bpf, display] : std::map<std::string, std::string>{
           {"udp", "udp"}, {"udp port 67 or udp port 68", "udp.port == 67 || udp.port == 68"},
           {"ip", "ip"}, {"ip6", "ipv6"}, {"udp port 17500", "udp.port == 17500"}}) {
    std::string n;
    ASSERT_EQ(run_stdout("tshark -n -r " + quote(f) + " -Y '" + display + "' 2>/dev/null | wc -l", &n), 0);
    EXPECT_EQ(our_count(f, BpfProgram("t", bpf)), std::stoll(n)) << bpf;
  }
}

// libpcap's message for an expression that compiles for no link type is
// what tcpdump prints for it (after "tcpdump: ").
std::string tcpdump_error(const fs::path& file, const std::string& expr) {
  std::string td;
  run_command("tcpdump -n -r " + quote(file) + " '" + expr + "'", &td);
  const std::vector<std::string> lines = lines_of(td);
  const std::string last = lines.empty() ? "" : lines.back();
  return last.rfind("tcpdump: ", 0) == 0 ? last.substr(9) : "";
}

TEST(BpfProgram, BadExpressionThrowsLibpcapsMessage) {
  PRIVATEER_REQUIRE_CORPUS();
  PRIVATEER_REQUIRE_TOOL("command -v tcpdump", "tcpdump");
  for (const std::string expr : {"tcp port", "udp port 99999", "ip and (", "tcp and and", "ip[8 < 64"}) {
    const std::string want = tcpdump_error(corpus("zeek__wikipedia.pcap"), expr);
    ASSERT_FALSE(want.empty()) << expr;
    try {
      BpfProgram p("t", expr);
      ADD_FAILURE() << "'" << expr << "' compiled";
    } catch (const std::invalid_argument& e) {
      EXPECT_EQ(std::string(e.what()), want) << expr;
    }
  }
}

// The config keys: names, limits, references.
TEST(BpfConfig, KeysAreCheckedAndNamed) {
  const std::string head = "packetsource: a.pcap\nouttemplate: o-%P-%s\n";
  auto error = [&](const std::string& body) -> std::string {
    try {
      parse_config(head + body);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "(no error)";
  };
  const Config ok = parse_config(head +
                                 "filters:\n  syn: 'tcp[tcpflags] & tcp-syn != 0'\n  dns-53: udp port 53\n"
                                 "remove: [dns-53]\nplugins:\n  - flowtuple: {filter: syn}\n  - null\n");
  ASSERT_EQ(ok.filters.size(), 2u);
  EXPECT_EQ(ok.filters[1].name, "dns-53");
  EXPECT_EQ(ok.filters[1].expression, "udp port 53");
  EXPECT_EQ(ok.filters[1].line, 5);
  EXPECT_EQ(ok.tags.custom_names, (std::vector<std::string>{"syn", "dns-53"}));
  EXPECT_EQ(ok.tags.remove_custom, 2u);
  EXPECT_EQ(ok.plugins[0].filter, 0);
  EXPECT_FALSE(ok.plugins[0].options["filter"].IsDefined());
  EXPECT_EQ(ok.plugins[1].filter, -1);

  EXPECT_NE(error("filters:\n  Big: tcp\nplugins: [null]\n").find("'filters.Big' (line 4)"), std::string::npos);
  EXPECT_NE(error("filters:\n  spoofed: tcp\nplugins: [null]\n").find("built-in"), std::string::npos);
  EXPECT_NE(error("filters:\n  a: ''\nplugins: [null]\n").find("'filters.a'"), std::string::npos);
  EXPECT_NE(error("filters:\n  a: tcp\nremove: [b]\nplugins: [null]\n").find("'remove[0]' (line 5): unknown filter 'b'"),
            std::string::npos);
  // Built-in filters by name: remove: sets their bit in remove_builtin, a
  // plugin's filter: codes them after the custom ones; not with tagging: no.
  const Config bi = parse_config(head + "remove: [spoofed, bittorrent]\nplugins:\n  - flowtuple: {filter: large-scale-scan}\n");
  EXPECT_EQ(bi.tags.remove_builtin, (uint64_t{1} << *builtin_filter_index("spoofed")) |
                                        (uint64_t{1} << *builtin_filter_index("bittorrent")));
  EXPECT_EQ(bi.plugins[0].filter, kBuiltinPluginFilter + *builtin_filter_index("large-scale-scan"));
  EXPECT_NE(error("tagging: no\nremove: [spoofed]\nplugins: [null]\n").find("'tagging: no' turns off"), std::string::npos);
  EXPECT_NE(error("remove: a\nplugins: [null]\n").find("'remove'"), std::string::npos);
  EXPECT_NE(error("filters: {a: tcp}\nplugins:\n  - flowtuple: {filter: c}\n").find("'plugins.flowtuple.filter'"),
            std::string::npos);
  EXPECT_NE(error("filter: tcp\nbasicfilter: udp\nplugins: [null]\n").find("'basicfilter' (line 4)"), std::string::npos);
  std::string many = "filters:\n";
  for (int i = 0; i <= 64; ++i) many += "  f" + std::to_string(i) + ": tcp\n";
  EXPECT_NE(error(many + "plugins: [null]\n").find("'filters.f64'"), std::string::npos);

  // Values of the wrong shape: a ConfigError naming the key, never a YAML exception.
  for (const auto& [body, key] : std::vector<std::pair<std::string, std::string>>{
           {"filters: [a, b]\n", "'filters'"},
           {"filters: {? [a] : b}\n", "'filters'"},
           {"filters: {a: {b: c}}\n", "'filters.a'"},
           {"filters: {a: }\n", "'filters.a'"},
           {"filters: {a: tcp}\nremove: [[a]]\n", "'remove[0]'"},
           {"filters: {a: tcp}\nremove: [{a: b}]\n", "'remove[0]'"},
           {"filters: {a: tcp}\nremove: [~]\n", "'remove[0]'"},
           {"filter: [tcp]\n", "'filter'"},
           {"filters: {a: tcp}\nplugins_: 1\n", "'plugins_'"},
       }) {
    EXPECT_NE(error(body + "plugins: [null]\n").find("config key " + key), std::string::npos) << body;
  }
  for (const std::string opt : {"{filter: [a]}", "{filter: ~}", "{filter: a, filter: a}", "{filter: spoofd}"}) {
    const std::string what = error("filters: {a: tcp}\nplugins:\n  - flowtuple: " + opt + "\n");
    EXPECT_NE(what.find("config key 'plugins.flowtuple"), std::string::npos) << opt << ": " << what;
  }

  const Config in = parse_config(head + "basicfilter: 'not udp'\nplugins: [null]\n");
  EXPECT_EQ(in.input_filter.key, "basicfilter");
  EXPECT_EQ(in.input_filter.expression, "not udp");
  EXPECT_EQ(in.input_filter.line, 3);
  EXPECT_TRUE(parse_config(head + "filter: ''\nplugins: [null]\n").input_filter.key.empty());
}

// ---- The runtime's per-plugin filter ----

namespace {

struct Count : IntervalResult {
  uint64_t packets = 0;
  uint64_t dport53 = 0;
};

class Counter : public WorkerProcessor {
 public:
  void process(const PacketView* v, const uint8_t* const* data, size_t n) override {
    for (size_t i = 0; i < n; ++i) {
      EXPECT_EQ(v[i].caplen, 42u);
      EXPECT_NE(data[i], nullptr);
      ++cur_.packets;
      cur_.dport53 += v[i].dport == 53;
    }
  }
  std::unique_ptr<IntervalResult> end_interval(uint64_t) override { return std::make_unique<Count>(std::exchange(cur_, {})); }

 private:
  Count cur_;
};

// Ethernet/IPv4/UDP from 10.0.0.K to 44.0.0.1, destination port `dport`.
std::vector<uint8_t> udp(uint8_t k, uint16_t dport) {
  std::vector<uint8_t> p(42, 0);
  p[12] = 0x08;
  const uint8_t ip[20] = {0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, k, 44, 0, 0, 1};
  std::copy(ip, ip + 20, p.begin() + 14);
  p[34] = 0x30;
  p[36] = static_cast<uint8_t>(dport >> 8);
  p[37] = static_cast<uint8_t>(dport);
  return p;
}

}  // namespace

// Plugins, the second with `filter: dns`: the first sees every packet,
// the second only those the filter matched (the ones to port 53), with 1 and
// 2 workers; a third, filtered by a filter matching nothing, sees none; a
// fourth, filtered by the built-in udp-destport-80, the others.
TEST(BpfRuntime, FilteredPluginSeesOnlyMatchingPackets) {
  std::vector<std::vector<uint8_t>> pkts;
  uint64_t to53 = 0;
  for (unsigned i = 0; i < 3000; ++i) {
    const bool dns = (i * 7) % 3 == 0;
    pkts.push_back(udp(static_cast<uint8_t>(i), dns ? 53 : 80));
    to53 += dns;
  }
  TagSettings settings;
  settings.custom_names = {"dns", "none"};
  settings.builtin_filters = true;   // the fourth plugin takes corsaro3's udp-destport-80
  auto tables = std::make_shared<TagTables>();
  tables->custom.push_back(std::make_shared<const BpfProgram>("dns", "udp dst port 53"));
  tables->custom.push_back(std::make_shared<const BpfProgram>("none", "tcp"));
  for (unsigned workers : {1u, 2u}) {
    TagTablesHandle handle(tables, workers);
    RuntimeOptions o;
    o.workers = workers;
    o.tags = &settings;
    o.tag_tables = &handle;
    o.plugin_filters = {-1, 0, 1, kBuiltinPluginFilter + *builtin_filter_index("udp-destport-80")};
    std::vector<std::vector<std::unique_ptr<WorkerProcessor>>> procs(workers);
    for (auto& p : procs) {
      for (int k = 0; k < 4; ++k) p.push_back(std::make_unique<Counter>());
    }
    Runtime rt(o, std::move(procs));
    size_t next = 0;
    rt.start([&](RawPacket* out, size_t max, bool* eof) {
      size_t n = 0;
      for (; n < max && next < pkts.size(); ++n, ++next) {
        out[n].data = pkts[next].data();
        out[n].caplen = out[n].wirelen = 42;
        out[n].ts_ns = (1700000000ULL + next / 100) * 1000000000ULL;
        out[n].linktype = linktype::ethernet;
      }
      *eof = next == pkts.size();
      return n;
    });
    Count seen[4];
    uint64_t merged = 0;
    std::map<uint64_t, unsigned> arrivals;
    for (;;) {
      const bool finished = rt.finished();
      while (auto d = rt.poll_result()) {
        for (int k = 0; k < 4; ++k) {
          const auto* c = static_cast<const Count*>(d->results.at(k).get());
          seen[k].packets += c->packets;
          seen[k].dport53 += c->dport53;
        }
        if (++arrivals[d->interval_start] == workers) rt.set_merged_intervals(++merged);
      }
      if (finished) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    rt.join();
    EXPECT_EQ(seen[0].packets, pkts.size()) << workers;
    EXPECT_EQ(seen[0].dport53, to53) << workers;
    EXPECT_EQ(seen[1].packets, to53) << workers;
    EXPECT_EQ(seen[1].dport53, to53) << workers;
    EXPECT_EQ(seen[2].packets, 0u) << workers;
    EXPECT_EQ(seen[3].packets, pkts.size() - to53) << workers;
    EXPECT_EQ(seen[3].dport53, 0u) << workers;
    uint64_t counted = 0;
    for (unsigned w = 0; w < workers; ++w) counted += rt.tag_counters(w)->custom[0].load();
    EXPECT_EQ(counted, to53) << workers;
  }
}

// ---- Through the binary ----

namespace {

struct RunResult {
  int rc = -1;
  std::string out;
  fs::path dir;
};

RunResult run_privateer(const TempDir& t, const std::vector<fs::path>& sources, unsigned threads, const std::string& extra,
                  const std::string& plugins = "plugins:\n  - flowtuple\n", const std::string& args = "") {
  RunResult r;
  r.dir = t.path / ("out-" + std::to_string(threads));
  fs::remove_all(r.dir);
  fs::create_directories(r.dir);
  const fs::path cfg = t.path / "privateer.yaml";
  std::ofstream c(cfg);
  c << "packetsource:\n";
  for (const auto& s : sources) c << "  - " << s.string() << "\n";
  c << "interval: 60\nrotatefreq: 0\nthreads: " << threads << "\nouttemplate: " << (r.dir / "%P-%s.avro").string()
    << "\nprogress: no\nprometheus:\n  enabled: no\n"
    << extra << plugins;
  c.close();
  r.rc = run_command(quote(privateer_bin()) + " -c " + quote(cfg) + " " + args, &r.out);
  return r;
}

// A custom filter's count on the summary's "filters matched" line (which
// leaves out the filters that matched nothing); -1 without that line.
int64_t summary_count(const std::string& out, const std::string& name) {
  if (out.find("  filters matched:") == std::string::npos) return -1;
  const auto c = summary_counts(out, "filters matched");
  return c.count(name) ? static_cast<int64_t>(c.at(name)) : 0;
}

#define REQUIRE_E2E_TOOLS()                                                                              \
  PRIVATEER_REQUIRE_CORPUS();                                                                           \
  PRIVATEER_REQUIRE_TOOL("command -v tcpdump && command -v capinfos && command -v editcap", "tcpdump/wireshark-common"); \
  PRIVATEER_REQUIRE_TOOL("command -v avrocat", "avrocat (avro-c)")

}  // namespace

// Several custom filters over captures of different link types read in one
// run (Ethernet, VLAN, SLL2, SLL, ERF, raw IP): each filter's count in the
// summary is the sum of tcpdump's counts, with 1 and 2 workers.
TEST(BpfRun, SummaryCountsEqualTcpdump) {
  REQUIRE_E2E_TOOLS();
  PRIVATEER_REQUIRE_TOOL("/usr/bin/python3 -c 'import scapy'", "python3-scapy");
  TempDir t("privateer-bpf");
  std::vector<Case> cases;
  for (const char* f : {"zeek__wikipedia.pcap", "libtrace__vlan.pcap", "zeek__linux_dlt_sll2.pcap",
                        "tcpdump__tcp-handshake-nano.pcap", "pcaphunt__ps-tcp_syn.pcap"}) {
    cases.push_back({f, corpus(f), corpus(f)});
  }
  cases.push_back({"erf", corpus("libtrace__100_packets.erf"), erf_as_pcap(corpus("libtrace__100_packets.erf"), t)});
  const fs::path raw = raw_ip_copy(corpus("libtrace__100_packets.pcap"), t);
  cases.push_back({"raw", raw, raw});
  const std::map<std::string, std::string> filters = {
      {"syn", "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn"}, {"web", "tcp port 80 or tcp port 443"},
      {"dns", "udp port 53"}, {"big", "greater 500"}, {"tagged", "vlan"}};
  std::string yaml = "filters:\n";
  for (const auto& [name, expr] : filters) yaml += "  " + name + ": \"" + expr + "\"\n";
  std::vector<fs::path> sources;
  for (const auto& c : cases) sources.push_back(c.ours);
  std::map<std::string, int64_t> want;
  for (const auto& [name, expr] : filters) {
    for (const auto& c : cases) want[name] += std::max<int64_t>(0, tcpdump_count(c.oracle, expr, t));
    EXPECT_GT(want[name], 0) << name << ": the captures should exercise it";
  }
  for (unsigned threads : {1u, 2u}) {
    const RunResult r = run_privateer(t, sources, threads, yaml);
    ASSERT_EQ(r.rc, 0) << r.out;
    for (const auto& [name, expr] : filters) {
      EXPECT_EQ(summary_count(r.out, name), want[name]) << name << " with " << threads << " worker(s)\n" << r.out;
    }
  }
}

// remove: [NAME]: flowtuple counts the IPv4 packets the filter does not
// match; a plugin's `filter: NAME`: the flowtuple sees only those it
// matches; corsarotrace's `filter`: only those reach anything.
TEST(BpfRun, RemovePluginFilterAndInputFilter) {
  REQUIRE_E2E_TOOLS();
  TempDir t("privateer-bpf");
  // Plain Ethernet IPv4 captures: tcpdump's "ip" is the flowtuple's IPv4.
  const std::vector<fs::path> files = {corpus("pcaphunt__ps-tcp_syn.pcap"), corpus("zeek__http-methods.pcap"),
                                       corpus("stopddos__amp.UDP.isakmp.pcap")};
  const std::string expr = "tcp dst portrange 1-1024 or udp src port 500";
  auto want = [&](const std::string& e) {
    int64_t n = 0;
    for (const auto& f : files) n += tcpdump_count(f, e, t);
    return static_cast<uint64_t>(n);
  };
  const uint64_t all_ip = want("ip"), match_ip = want("ip and (" + expr + ")"), miss_ip = want("ip and not (" + expr + ")");
  ASSERT_GT(match_ip, 0u);
  ASSERT_GT(miss_ip, 0u);
  ASSERT_EQ(match_ip + miss_ip, all_ip);
  const std::string filters = "filters:\n  low: \"" + expr + "\"\n";
  for (unsigned threads : {1u, 2u}) {
    const RunResult removed = run_privateer(t, files, threads, filters + "remove: [low]\n");
    ASSERT_EQ(removed.rc, 0) << removed.out;
    EXPECT_EQ(flowtuple_packets(removed.dir), miss_ip) << removed.out;
    EXPECT_EQ(summary_count(removed.out, "low"), static_cast<int64_t>(match_ip)) << removed.out;
    EXPECT_EQ(summary_counts(removed.out, "removed before the plugins")["low"], match_ip) << removed.out;

    const RunResult picked = run_privateer(t, files, threads, filters, "plugins:\n  - flowtuple: {filter: low}\n");
    ASSERT_EQ(picked.rc, 0) << picked.out;
    EXPECT_EQ(flowtuple_packets(picked.dir), match_ip) << picked.out;

    const RunResult input = run_privateer(t, files, threads, "filter: \"" + expr + "\"\n");
    ASSERT_EQ(input.rc, 0) << input.out;
    EXPECT_EQ(flowtuple_packets(input.dir), match_ip) << input.out;
    const uint64_t total = want("") , dropped = total - want(expr);
    EXPECT_NE(input.out.find("input filter (filter: \"" + expr + "\"): " + std::to_string(dropped) + " packets dropped"),
              std::string::npos)
        << input.out;
  }
}

// A bad expression stops the run (and --check-config) with status 1, naming
// filters.NAME, its line and libpcap's message (as tcpdump shows it).
TEST(BpfRun, BadExpressionFailsNamingKeyLineAndLibpcapMessage) {
  REQUIRE_E2E_TOOLS();
  TempDir t("privateer-bpf");
  const std::string bad = "tcp port and udp";
  const std::string libpcap = tcpdump_error(corpus("zeek__wikipedia.pcap"), bad);
  ASSERT_FALSE(libpcap.empty());
  const std::string yaml = "filters:\n  good: tcp\n  worse: \"" + bad + "\"\n";
  for (const std::string args : {"", "--check-config"}) {
    const RunResult r = run_privateer(t, {corpus("zeek__wikipedia.pcap")}, 1, yaml, "plugins:\n  - flowtuple\n", args);
    EXPECT_EQ(r.rc, 1) << r.out;
    EXPECT_NE(r.out.find("config key 'filters.worse' (line 12)"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(libpcap), std::string::npos) << r.out;
  }
  const RunResult in = run_privateer(t, {corpus("zeek__wikipedia.pcap")}, 1, "basicfilter: \"" + bad + "\"\n");
  EXPECT_EQ(in.rc, 1) << in.out;
  EXPECT_NE(in.out.find("config key 'basicfilter' (line 10)"), std::string::npos) << in.out;
}
