// corsaro3's dos plugin through the binary: crafted backscatter around each
// threshold (tests/dos_craft.py), real captures of the corpus, and the
// answers of a real Linux stack to a spoofed flood in network namespaces
// (tests/dos_backscatter.py). Every output file is read with python3-avro
// and compared with an independent oracle computing the vectors from the
// capture with scapy (tests/dos_oracle.py), for 1, 2 and 4 workers.
#include <gtest/gtest.h>

#include <algorithm>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <tuple>

#include "dataplane/decode.hpp"
#include "plugins/common/options.hpp"
#include "plugins/dos/dos.hpp"
#include "plugins/registry.hpp"
#include "tests/test_support.hpp"

namespace fs = std::filesystem;
using namespace privateer;
using namespace privateer::test;

namespace {

const char* kPython = "/usr/bin/python3";

// (option, its value): the dos options of a run, also given to the oracle.
using Options = std::vector<std::pair<std::string, uint32_t>>;

std::string script(const char* name) { return quote(source_root() / "tests" / name); }

std::string oracle_flag(const std::string& option) {
  if (option == "min_attack_packets") return "--min-packets";
  if (option == "min_attack_duration") return "--min-duration";
  if (option == "min_attack_packet_rate") return "--min-rate";
  if (option == "rate_window_size") return "--window";
  return "--slide";
}

bool have_tools() { return have(std::string(kPython) + " -c 'import scapy.all, avro.datafile'"); }

// The oracle's records for `capture`.
// `mmdb`: the MaxMind database the run tags with (none: empty).
std::string expected(const fs::path& capture, uint32_t interval, const Options& opts, const fs::path& mmdb) {
  std::string cmd = std::string(kPython) + " " + script("dos_oracle.py") + " expect " + quote(capture) +
                    " --interval " + std::to_string(interval) + (mmdb.empty() ? "" : " --mmdb " + quote(mmdb));
  for (const auto& [k, v] : opts) cmd += " " + oracle_flag(k) + " " + std::to_string(v);
  std::string out;
  EXPECT_EQ(run_stdout(cmd, &out), 0) << cmd;
  return out;
}

// The records privateer writes for `capture` with `threads` workers, read
// back with python3-avro, or with `schema: stardust` as pyavro-stardust
// reads them (`reader` "stardust").
std::string privateer_records(const fs::path& capture, uint32_t interval, const Options& opts, unsigned threads,
                              const fs::path& mmdb, const std::string& reader = "read") {
  TempDir tmp("privateer-dos");
  std::ofstream cfg(tmp.path / "c.yaml");
  cfg << "packetsource: " << capture.string() << "\ninterval: " << interval << "\nthreads: " << threads
      << "\nouttemplate: " << (tmp.path / "out" / "%P-%s").string()
      << "\nprometheus: {enabled: no}\nprogress: no\n";
  if (!mmdb.empty()) cfg << "tagproviders:\n  - maxmind:\n      directory: " << mmdb.string() << "\n";
  cfg << "plugins:\n  - dos:\n";
  if (reader == "stardust") cfg << "      schema: stardust\n";
  for (const auto& [k, v] : opts) cfg << "      " << k << ": " << v << "\n";
  cfg.close();
  std::string log;
  EXPECT_EQ(run_command(privateer_bin().string() + " -c " + quote(tmp.path / "c.yaml"), &log), 0) << log;
  // In time order: the names end in the interval start (%s), all of one length.
  std::vector<fs::path> paths;
  for (const auto& e : fs::directory_iterator(tmp.path / "out")) {
    if (e.path().extension() == ".avro") paths.push_back(e.path());
  }
  std::sort(paths.begin(), paths.end());
  std::string files;
  for (const auto& f : paths) files += " " + quote(f);
  std::string out;
  EXPECT_EQ(run_stdout(std::string(kPython) + " " + script("dos_oracle.py") + " " + reader + files, &out), 0) << log;
  return out;
}

// The TAB-separated fields of one record line.
std::vector<std::string> fields_of(const std::string& line) {
  std::vector<std::string> f;
  std::stringstream ss(line);
  for (std::string x; std::getline(ss, x, '\t');) f.push_back(x);
  return f;
}

// Runs `capture` with 1, 2 and 4 workers, each against the oracle; returns
// the records as fields.
std::vector<std::vector<std::string>> check_capture(const fs::path& capture, uint32_t interval,
                                                    const Options& opts, const fs::path& mmdb = {}) {
  const std::string want = expected(capture, interval, opts, mmdb);
  for (unsigned threads : {1u, 2u, 4u}) {
    EXPECT_EQ(privateer_records(capture, interval, opts, threads, mmdb), want)
        << capture << " with " << threads << " workers";
  }
  std::vector<std::vector<std::string>> recs;
  for (const auto& l : lines_of(want)) recs.push_back(fields_of(l));
  return recs;
}

// (bin, target, protocol) of each record.
std::set<std::tuple<std::string, std::string, std::string>> keys(const std::vector<std::vector<std::string>>& r) {
  std::set<std::tuple<std::string, std::string, std::string>> s;
  for (const auto& f : r) s.emplace(f[0], f[2], f[3]);
  return s;
}

constexpr const char* kBin1 = "1699999980";   // the crafted capture's intervals
constexpr const char* kBin2 = "1700000040";
constexpr const char* kBin3 = "1700000100";

}  // namespace

TEST(DosOptions, Corsaro3NamesDefaultsAndErrors) {
  auto p = make_plugin("dos", YAML::Node(), "plugins.dos", 60);
  const DosOptions& d = dynamic_cast<DosPlugin&>(*p).options();
  EXPECT_EQ(std::tie(d.min_attack_packets, d.min_attack_duration, d.min_attack_packet_rate, d.rate_window_size,
                     d.rate_window_slide),
            std::make_tuple(25u, 60u, 30u, 60u, 10u));
  const auto error = [](const std::string& yaml) -> std::string {
    try {
      make_plugin("dos", YAML::Load(yaml), "plugins.dos", 60);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(error("min_attack_pakets: 3").find("config key 'plugins.dos.min_attack_pakets' (line 1): unknown key: "
                                               "did you mean 'min_attack_packets'?"),
            std::string::npos);
  EXPECT_NE(error("rate_window_size: 60\nrate_window_slide: 0").find(
                "config key 'plugins.dos.rate_window_slide' (line 2): must be larger than zero"),
            std::string::npos);
  EXPECT_NE(error("min_attack_packets: 70000").find("'plugins.dos.min_attack_packets' (line 1): must be at most 65535"),
            std::string::npos);
  EXPECT_NE(error("min_attack_duration: -1").find("'plugins.dos.min_attack_duration' (line 1)"), std::string::npos);
  EXPECT_NE(error("[1, 2]").find("'plugins.dos' (line 1): must be a mapping"), std::string::npos);
  EXPECT_NE(error("schema: v3").find("'plugins.dos.schema' (line 1): must be latest or stardust, got 'v3'"),
            std::string::npos);
  // A slide longer than the window is shrunk to it, as corsaro3 does, saying so.
  auto q = make_plugin("dos", YAML::Load("rate_window_size: 20\nrate_window_slide: 30"), "plugins.dos", 60);
  EXPECT_EQ(dynamic_cast<DosPlugin&>(*q).options().rate_window_slide, 20u);
  ASSERT_EQ(q->config_warnings().size(), 1u);
  EXPECT_NE(q->config_warnings()[0].find("'plugins.dos.rate_window_slide' (line 2)"), std::string::npos);
}

// Any split of a target's packets over workers gives one worker's records:
// packets dealt round robin over 3 workers (so even one flow is split) and
// all to one worker, over intervals with an idle one between.
TEST(DosMerge, AnySplitOverWorkersGivesOneWorkersRecords) {
  // Ethernet + IPv4 + TCP SYN-ACK from 192.0.2.(1 + i % 3) to 10.99.0.(i % 200).
  std::vector<std::vector<uint8_t>> frames;
  std::vector<uint64_t> times;
  for (int i = 0; i < 600; ++i) {
    std::vector<uint8_t> f(54, 0);
    f[12] = 0x08;
    uint8_t* ip = f.data() + 14;
    ip[0] = 0x45;
    ip[3] = 40;
    ip[8] = 64;
    ip[9] = 6;
    const uint8_t src[4] = {192, 0, 2, static_cast<uint8_t>(1 + i % 3)};
    const uint8_t dst[4] = {10, 99, 0, static_cast<uint8_t>(i % 200)};
    std::memcpy(ip + 12, src, 4);
    std::memcpy(ip + 16, dst, 4);
    uint8_t* tcp = ip + 20;
    tcp[0] = 0, tcp[1] = 80;
    tcp[2] = static_cast<uint8_t>(i >> 8), tcp[3] = static_cast<uint8_t>(i);
    tcp[12] = 0x50;
    tcp[13] = i % 7 ? 0x12 : 0x04;
    frames.push_back(f);
    // 0-199 s, then nothing for 70 s, then 270-...: packets out of order in places.
    const uint64_t sec = i < 400 ? static_cast<uint64_t>(i / 2) : 270 + static_cast<uint64_t>(i - 400) / 3;
    times.push_back((1700000040 + sec) * 1000000000ull + static_cast<uint64_t>((i * 7919) % 1000) * 1000000);
  }
  const auto run = [&](unsigned workers) {
    DosPlugin plugin(YAML::Load("{min_attack_packets: 30, min_attack_duration: 20, min_attack_packet_rate: 10, "
                                "rate_window_size: 30, rate_window_slide: 5}"),
                     "plugins.dos");
    std::vector<std::unique_ptr<WorkerProcessor>> ws;
    for (unsigned w = 0; w < workers; ++w) ws.push_back(plugin.make_worker(w));
    std::string out;
    size_t next = 0;
    for (uint64_t start = 1700000040; start < 1700000040 + 420; start += 60) {
      for (; next < frames.size() && times[next] / 1000000000ull < start + 60; ++next) {
        RawPacket raw;
        raw.data = frames[next].data();
        raw.caplen = raw.wirelen = static_cast<uint32_t>(frames[next].size());
        raw.ts_ns = times[next];
        PacketView v;
        decode_packet(raw, v);
        const uint8_t* d = raw.data;
        ws[next % workers]->process(&v, &d, 1);
      }
      std::vector<std::unique_ptr<IntervalResult>> rs;
      for (auto& w : ws) rs.push_back(w->end_interval(start));
      for (const DosRecord& r : plugin.merge_records(IntervalInfo{start, start + 60, false}, rs)) {
        AvroEncoder enc;
        DosPlugin::encode(r, enc);
        out += std::string(reinterpret_cast<const char*>(enc.data()), enc.size()) + "\n";
      }
    }
    return out;
  };
  const std::string one = run(1);
  EXPECT_FALSE(one.empty());
  EXPECT_EQ(run(2), one);
  EXPECT_EQ(run(3), one);
}

// Each threshold just met and just missed, each kind of ICMP quote, traffic
// that is not backscatter, a vector idle for an interval.
TEST(DosCrafted, ThresholdsQuotesAndExpiryForAnyWorkerCount) {
  if (!have_tools()) GTEST_SKIP() << "python3-scapy or python3-avro not installed";
  TempDir tmp("privateer-dos-craft");
  const fs::path pcap = tmp.path / "crafted.pcap";
  ASSERT_EQ(run_command(std::string(kPython) + " " + script("dos_craft.py") + " " + quote(pcap)), 0);

  // corsaro3's defaults: rate 30 and 60 s, each just met (.1, .3) and just
  // missed (.2, .4); .17 goes on for three intervals.
  const auto a = keys(check_capture(pcap, 60, {}));
  const decltype(a) want_a = {{kBin2, "192.0.2.1", "6"}, {kBin2, "192.0.2.3", "6"}, {kBin2, "192.0.2.17", "6"},
                              {kBin3, "192.0.2.17", "6"}};
  EXPECT_EQ(a, want_a);

  // Without rate and duration thresholds: 25 packets met (.5), 24 missed (.6);
  // the quotes' targets and protocols; nothing for .13; .16 twice.
  const Options low = {{"min_attack_packet_rate", 1}, {"min_attack_duration", 0}};
  const auto recs = check_capture(pcap, 60, low);
  const auto b = keys(recs);
  for (const auto& [ip, proto] : std::vector<std::pair<std::string, std::string>>{
           {"192.0.2.5", "6"}, {"192.0.2.7", "17"}, {"192.0.2.8", "6"}, {"192.0.2.9", "1"}, {"192.0.2.10", "1"},
           {"192.0.2.11", "1"}, {"192.0.2.12", "1"}, {"192.0.2.16", "6"}, {"192.0.2.18", "6"}}) {
    EXPECT_TRUE(b.count({kBin1, ip, proto})) << ip << " proto " << proto;
  }
  EXPECT_TRUE(b.count({kBin3, "192.0.2.16", "6"}));
  EXPECT_FALSE(b.count({kBin2, "192.0.2.16", "6"}));   // idle interval: expired
  for (const auto& f : recs) {
    EXPECT_NE(f[2], "192.0.2.6");
    EXPECT_NE(f[2], "192.0.2.13");
    if (f[2] == "192.0.2.8") {
      EXPECT_EQ(f[8], "15");   // half of .8's quotes mismatch
    }
    if (f[2] == "192.0.2.7") {
      EXPECT_EQ(f[8], "0");
    }
    if (f[2] == "192.0.2.16" && f[0] == kBin3) {
      EXPECT_EQ(f[7], "30");   // a new vector
    }
  }
}

// maxmind_continent and maxmind_country: the tags of the source of the
// vector's first packet (the victim, or the router of an ICMP error).
TEST(DosCrafted, MaxmindTagsOfTheFirstPacket) {
  if (!have_tools() || !have("command -v mmdblookup")) GTEST_SKIP() << "scapy, python3-avro or mmdb-bin missing";
  const auto shared = shared_dir();
  if (!shared || !fs::exists(*shared / "geo" / "GeoLite2-Country-Test.mmdb")) {
    GTEST_SKIP() << "../shared/geo/GeoLite2-Country-Test.mmdb not present";
  }
  TempDir tmp("privateer-dos-geo");
  const fs::path pcap = tmp.path / "crafted.pcap";
  ASSERT_EQ(run_command(std::string(kPython) + " " + script("dos_craft.py") + " " + quote(pcap)), 0);
  const auto recs = check_capture(pcap, 60, {{"min_attack_packet_rate", 1}, {"min_attack_duration", 0}},
                                  *shared / "geo" / "GeoLite2-Country-Test.mmdb");
  std::set<std::tuple<std::string, std::string, std::string>> tags;
  for (const auto& f : recs) {
    if (f[2] == "89.160.20.112" || f[2] == "192.0.2.20" || f[2] == "192.0.2.5") tags.emplace(f[2], f[17], f[18]);
  }
  const decltype(tags) want = {{"89.160.20.112", "EU", "SE"}, {"192.0.2.20", "NA", "US"}, {"192.0.2.5", "??", "??"}};
  EXPECT_EQ(tags, want);
}

// `schema: stardust`: the layout without maxmind_*, read positionally as
// pyavro-stardust's AvroRsdosReader reads it, gives the oracle's records
// less those two fields.
TEST(DosCrafted, StardustSchemaReadAsPyavroStardustReadsIt) {
  if (!have_tools()) GTEST_SKIP() << "python3-scapy or python3-avro not installed";
  TempDir tmp("privateer-dos-stardust");
  const fs::path pcap = tmp.path / "crafted.pcap";
  ASSERT_EQ(run_command(std::string(kPython) + " " + script("dos_craft.py") + " " + quote(pcap)), 0);
  const Options low = {{"min_attack_packet_rate", 1}, {"min_attack_duration", 0}};
  std::string want;
  for (const auto& l : lines_of(expected(pcap, 60, low, {}))) {
    std::vector<std::string> f = fields_of(l);
    ASSERT_EQ(f.size(), 20u) << l;
    f.erase(f.begin() + 17, f.begin() + 19);   // maxmind_continent, maxmind_country
    for (size_t i = 0; i < f.size(); ++i) want += (i ? "\t" : "") + f[i];
    want += "\n";
  }
  EXPECT_GT(want.size(), 0u);
  for (unsigned threads : {1u, 2u}) {
    EXPECT_EQ(privateer_records(pcap, 60, low, threads, {}, "stardust"), want) << threads << " workers";
  }
}

// Real captures of the corpus with every vector written (thresholds 1, 0, 1).
TEST(DosCorpus, RealCapturesMatchTheOracle) {
  const auto dir = corpus_dir();
  if (!dir) GTEST_SKIP() << "../shared/corpus not present";
  if (!have_tools()) GTEST_SKIP() << "python3-scapy or python3-avro not installed";
  const Options all = {{"min_attack_packets", 1}, {"min_attack_packet_rate", 1}, {"min_attack_duration", 0}};
  size_t records = 0, files = 0;
  for (const char* name : {"zeek__icmp-timeexceeded.pcap", "tcpdump__afs.pcap", "zeek__nmap-vsn.pcap",
                           "libtrace__100_seconds.pcap", "libtrace__100_packets.pcap", "zeek__linux_dlt_sll2.pcap",
                           "tcpdump__tcp-handshake-nano.pcap", "zeek__tcp-truncated-header.pcap",
                           "pcaphunt__ps-tcp_syn.pcap", "pcaphunt__hs-icmpScan.pcap",
                           "stopddos__pkt.TCP.synflood.spoofed.pcap"}) {
    if (!fs::exists(*dir / name)) continue;
    records += check_capture(*dir / name, 60, all).size();
    ++files;
  }
  if (files == 0) GTEST_SKIP() << "none of the captures is in ../shared/corpus";
  EXPECT_GT(records, 0u);
}

// The corpus's SYN-ACK reflection capture, the one whose manifest note
// says so: every vector written, against the oracle.
TEST(DosCorpus, SynAckReflectionCapture) {
  const auto dir = corpus_dir();
  if (!dir) GTEST_SKIP() << "../shared/corpus not present";
  if (!have_tools()) GTEST_SKIP() << "python3-scapy or python3-avro not installed";
  std::vector<fs::path> found;
  for (const auto& row : read_manifest()) {
    std::string note = row.count("note") ? row.at("note") : "";
    for (char& c : note) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const bool reflection = note.find("reflect") != std::string::npos &&
                            (note.find("syn-ack") != std::string::npos || note.find("synack") != std::string::npos);
    if (reflection && fs::exists(*dir / row.at("file"))) found.push_back(*dir / row.at("file"));
  }
  if (found.empty()) GTEST_SKIP() << "no SYN-ACK reflection capture in ../shared/corpus/MANIFEST.tsv";
  const Options all = {{"min_attack_packets", 1}, {"min_attack_packet_rate", 1}, {"min_attack_duration", 0}};
  for (const auto& f : found) EXPECT_FALSE(check_capture(f, 60, all).empty()) << f;
}

// A victim's Linux stack answers a flood with darknet sources: SYN-ACKs,
// RSTs, port unreachables and echo replies, captured at the telescope.
TEST(DosBackscatter, LinuxStackAnsweringASpoofedFlood) {
  if (!have_tools()) GTEST_SKIP() << "python3-scapy or python3-avro not installed";
  TempDir tmp("privateer-dos-netns");
  const fs::path pcap = tmp.path / "backscatter.pcap";
  std::string out;
  const int rc = run_command(std::string(kPython) + " " + script("dos_backscatter.py") + " " + quote(pcap) + " 6",
                             &out);
  if (rc == 2) GTEST_SKIP() << out;
  ASSERT_EQ(rc, 0) << out;
  const Options opts = {{"min_attack_duration", 3}, {"min_attack_packet_rate", 20}, {"rate_window_size", 2},
                        {"rate_window_slide", 1}};
  const auto recs = check_capture(pcap, 10, opts);
  std::set<std::pair<std::string, std::string>> vectors;
  for (const auto& f : recs) vectors.emplace(f[2], f[3]);
  // One target, three vectors: TCP (SYN-ACK and RST), UDP (quoted by the
  // port unreachables), ICMP (echo replies).
  const decltype(vectors) want = {{"10.200.1.2", "6"}, {"10.200.1.2", "17"}, {"10.200.1.2", "1"}};
  EXPECT_EQ(vectors, want);
}
