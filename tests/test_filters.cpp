// corsaro3's built-in filters (dataplane/filters.hpp), the remove* options
// and their counters, through the binary: against packets crafted per filter
// (tests/filters_craft.py, scapy), an independent count of every filter from
// tshark's dissection (tests/filters_oracle.py) on the corpus, real masscan
// and zmap scans captured in network namespaces, and flowtuple output of
// corsarotrace's own config with each remove option.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include "control/config.hpp"
#include "dataplane/filters.hpp"
#include "dataplane/tags.hpp"
#include "tests/test_support.hpp"

namespace fs = std::filesystem;
using namespace privateer;
using namespace privateer::test;

namespace {

using Counts = std::map<std::string, uint64_t>;

const char* const kPython = "/usr/bin/python3";   // Debian's, with python3-scapy

fs::path helper(const char* name) { return source_root() / "tests" / name; }

struct RunResult {
  int status = -1;
  std::string output;
  Counts matched, removed;
};

// privateer on `capture` with `threads` workers, the plugin given, and the
// extra top-level YAML lines.
RunResult run_on(const fs::path& capture, unsigned threads, const fs::path& dir, const std::string& extra = "",
           const std::string& plugin = "null") {
  const fs::path cfg = dir / "c.yaml";
  std::ofstream(cfg) << "packetsource: " << capture.string() << "\nthreads: " << threads << "\ninterval: 60\n"
                     << "outtemplate: " << (dir / "%P-%s").string() << "\nprometheus: {enabled: no}\nprogress: no\n"
                     << extra << "plugins:\n  - " << plugin << ":\n";
  RunResult r;
  r.status = run_command(quote(privateer_bin()) + " -c " + quote(cfg), &r.output);
  r.matched = summary_counts(r.output, "filters matched");
  r.removed = summary_counts(r.output, "removed before the plugins");
  return r;
}

// filters_oracle.py's counts: every filter (zeros too), "removed:OPT" and
// "removed_ipv4:OPT".
Counts oracle(const fs::path& capture) {
  std::string out;
  EXPECT_EQ(run_stdout(std::string(kPython) + " " + quote(helper("filters_oracle.py")) + " " + quote(capture), &out),
            0)
      << capture;
  Counts c;
  for (const auto& l : lines_of(out)) {
    const size_t sp = l.find(' ');
    if (sp != std::string::npos) c[l.substr(0, sp)] = std::stoull(l.substr(sp + 1));
  }
  return c;
}

// The oracle's filter counts in the summary's form (nonzero ones).
Counts nonzero_filters(const Counts& oracle_counts) {
  Counts c;
  for (size_t b = 0; b < kBuiltinFilterCount; ++b) {
    const auto it = oracle_counts.find(builtin_filter_name(b));
    if (it != oracle_counts.end() && it->second) c[it->first] = it->second;
  }
  return c;
}

bool have_tshark_and_scapy() {
  return have("command -v tshark") && have(std::string(kPython) + " -c 'import scapy.all'");
}

}  // namespace

// --- names, ids, settings ----------------------------------------------------

TEST(BuiltinFilters, NamesAndIds) {
  // corsaro_get_builtin_filter_name's names in corsaro3's id order; ids 3,
  // 6, 7 and 28 it leaves unnamed.
  const char* const want[] = {"spoofed", "erratic", "routed", "large-scale-scan", "abnormal-protocol", "ttl-200",
                              "no-tcp-options", "tcpwin-1024", "fragmented", "last-byte-src-0", "last-byte-src-255",
                              "same-src-dst", "udp-port-0", "tcp-port-0", "udp-destport-80", "rfc5735",
                              "backscatter", "bittorrent", "udp-0x31", "sip-status", "udp-ip-len-96",
                              "udp-ip-len-1500", "port-53", "tcp-port-23", "tcp-port-80", "tcp-port-5000",
                              "dns-resp-non-standard", "netbios-query-name", "not-ip", "ttl-200-nonspoofed"};
  ASSERT_EQ(std::size(want), kBuiltinFilterCount);
  for (size_t b = 0; b < kBuiltinFilterCount; ++b) {
    EXPECT_STREQ(builtin_filter_name(b), want[b]);
    EXPECT_EQ(builtin_filter_index(want[b]), b);
  }
  EXPECT_EQ(builtin_filter_name(kBuiltinFilterCount), nullptr);
  EXPECT_FALSE(builtin_filter_index("ttl200").has_value());
  // A view without IPv4 is not-ip alone; the summary is the low four bits.
  PacketView v;
  v.ip_version = 6;
  const uint8_t byte = 0;
  const uint8_t* data = &byte;
  apply_builtin_filters(&v, &data, 1);
  EXPECT_EQ(v.filter_bits, uint64_t{1} << builtin::not_ip);
  EXPECT_EQ(v.filter_summary, 0);
}

TEST(BuiltinFilters, RemoveOptionsFillTagSettings) {
  const std::string base = "packetsource: a.pcap\nouttemplate: /o/%P-%s\nplugins: [flowtuple]\n";
  Config c = parse_config(base);
  EXPECT_TRUE(c.tags.builtin_filters);   // corsarotrace tags every packet
  EXPECT_FALSE(c.tags.removes());
  c = parse_config(base + "removespoofed: yes\nremoveerratic: yes\nremoverouted: yes\nremovenotscan: yes\n");
  EXPECT_EQ(c.tags.remove_builtin, (uint64_t{1} << builtin::spoofed) | (uint64_t{1} << builtin::erratic));
  EXPECT_EQ(c.tags.keep_builtin, (uint64_t{1} << builtin::routed) | (uint64_t{1} << builtin::large_scale_scan));
  EXPECT_EQ(removal_reason_name(c.tags, builtin::spoofed), "spoofed");
  EXPECT_EQ(removal_reason_name(c.tags, builtin::routed), "routed");
  EXPECT_EQ(removal_reason_name(c.tags, builtin::large_scale_scan), "notscan");
  c = parse_config(base + "tagging: no\n");
  EXPECT_FALSE(c.tags.builtin_filters);
  EXPECT_THROW(parse_config(base + "tagging: no\nremovenotscan: yes\n"), ConfigError);
}

// The tag stage counts every filter of every packet and removes by the
// first removing filter in corsarotrace's order, keeping the rest in order.
TEST(BuiltinFilters, TagStageCountsAndRemovesInCorsarotraceOrder) {
  TagSettings s;   // bits preset below: no filter computed here
  s.remove_builtin = (uint64_t{1} << builtin::spoofed) | (uint64_t{1} << builtin::erratic);
  s.keep_builtin = (uint64_t{1} << builtin::routed) | (uint64_t{1} << builtin::large_scale_scan);
  TagStage stage(s, nullptr, 0);
  const uint64_t scan = uint64_t{1} << builtin::large_scale_scan, routed = uint64_t{1} << builtin::routed;
  const uint64_t spoofed = 1, erratic = 2;
  const uint64_t bits[] = {scan | routed,               // kept
                           routed,                      // not a scan: notscan
                           scan | routed | spoofed | erratic,  // spoofed
                           scan | routed | erratic,     // erratic
                           scan,                        // routable source: routed
                           scan | routed};              // kept
  PacketView v[6];
  const uint8_t* data[6];
  uint8_t bytes[6];
  for (int i = 0; i < 6; ++i) {
    v[i].filter_bits = bits[i];
    v[i].ts_ns = static_cast<uint64_t>(i);
    data[i] = &bytes[i];
  }
  ASSERT_EQ(stage.process(v, data, 6), 2u);
  EXPECT_EQ(v[0].ts_ns, 0u);
  EXPECT_EQ(v[1].ts_ns, 5u);
  EXPECT_EQ(data[1], &bytes[5]);
  const TagCounters& c = stage.counters();
  EXPECT_EQ(c.removed_builtin[builtin::large_scale_scan].load(), 1u);
  EXPECT_EQ(c.removed_builtin[builtin::spoofed].load(), 1u);
  EXPECT_EQ(c.removed_builtin[builtin::erratic].load(), 1u);
  EXPECT_EQ(c.removed_builtin[builtin::routed].load(), 1u);
  EXPECT_EQ(c.builtin[builtin::large_scale_scan].load(), 5u);   // counted before removal
  EXPECT_EQ(c.builtin[builtin::routed].load(), 5u);
  EXPECT_EQ(c.builtin[builtin::erratic].load(), 2u);
}

// --- crafted packets, one capture per filter ------------------------------------

// Each filter's count on its capture is its number of hits: the misses (one
// field off, or a quirk of corsaro3's rule) leave it alone. The tshark
// oracle agrees on every filter of every capture.
TEST(BuiltinFilters, CraftedHitsAndMisses) {
  if (!have_tshark_and_scapy()) GTEST_SKIP() << "tshark or python3-scapy missing";
  TempDir tmp("privateer-filters");
  std::string list;
  ASSERT_EQ(run_stdout(std::string(kPython) + " " + quote(helper("filters_craft.py")) + " " + quote(tmp.path), &list), 0);
  size_t cases = 0;
  for (const auto& l : lines_of(list)) {
    std::istringstream in(l);
    std::string name;
    uint64_t hits = 0, misses = 0;
    in >> name >> hits >> misses;
    ASSERT_TRUE(builtin_filter_index(name).has_value()) << l;
    ASSERT_GT(hits, 0u);
    ASSERT_GT(misses, 0u);
    ++cases;
    const fs::path pcap = tmp.path / (name + ".pcap");
    TempDir out("privateer-filters-run");
    const RunResult r = run_on(pcap, 1, out.path);
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(r.matched.count(name) ? r.matched.at(name) : 0, hits) << name << "\n" << r.output;
    const Counts o = oracle(pcap);
    EXPECT_EQ(o.at(name), hits) << name << ": the tshark oracle";
    EXPECT_EQ(r.matched, nonzero_filters(o)) << name << ": every other filter too";
  }
  EXPECT_EQ(cases, kBuiltinFilterCount);
}

// --- the corpus against the tshark oracle ---------------------------------------

class FiltersCorpus : public ::testing::TestWithParam<std::string> {};

TEST_P(FiltersCorpus, EveryFilterEqualsTheTsharkOracle) {
  PRIVATEER_REQUIRE_CORPUS();
  if (!have_tshark_and_scapy()) GTEST_SKIP() << "tshark missing";
  const fs::path capture = *corpus_dir() / GetParam();
  const Counts want = nonzero_filters(oracle(capture));
  for (unsigned threads : {1u, 2u}) {
    TempDir out("privateer-filters-corpus");
    const RunResult r = run_on(capture, threads, out.path);
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(r.matched, want) << GetParam() << " with " << threads << " worker(s)\n" << r.output;
  }
}

INSTANTIATE_TEST_SUITE_P(Corpus, FiltersCorpus, ::testing::ValuesIn(corpus_captures()),
                         [](const ::testing::TestParamInfo<std::string>& p) {
                           std::string n = p.param;
                           for (char& ch : n) {
                             if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return n;
                         });

// --- the remove options on corsarotrace's own config ----------------------------

namespace {

// configs/corsarotrace-flowtuple.yaml as it is, but for the input, the
// output place, a free metrics port and `option` set to yes.
fs::path corsarotrace_config(const fs::path& dir, const fs::path& capture, const std::string& option) {
  std::string text = read_file(source_root() / "configs" / "corsarotrace-flowtuple.yaml");
  auto set_line = [&text](const std::string& key, const std::string& value) {
    const size_t at = text.find("\n" + key + ":");
    ASSERT_NE(at, std::string::npos) << key;
    text.replace(at + 1, text.find('\n', at + 1) - at - 1, key + ": " + value);
  };
  set_line("packetsource", "pcapfile:" + capture.string());
  set_line("outtemplate", (dir / "%P-%s").string());
  set_line("logfilename", (dir / "corsarotrace.log").string());
  if (!option.empty()) set_line(option, "yes");
  text += "prometheus:\n  enabled: yes\n  listen: 127.0.0.1:0\nprogress: no\n";
  const fs::path cfg = dir / "corsarotrace.yaml";
  std::ofstream(cfg) << text;
  return cfg;
}


}  // namespace

// Each remove option alone: the flowtuple output lacks exactly the IPv4
// packets the oracle says corsarotrace drops for it, the summary and
// privateer_removed_packets_total{reason} count them, and
// privateer_filter_packets_total{filter} has every filter's count.
TEST(BuiltinFilters, RemoveOptionsOnCorsarotraceConfig) {
  if (!have_tshark_and_scapy()) GTEST_SKIP() << "tshark or python3-scapy missing";
  PRIVATEER_REQUIRE_TOOL("command -v avrocat && command -v curl", "avrocat or curl");
  TempDir tmp("privateer-filters-remove");
  ASSERT_EQ(run_command(std::string(kPython) + " " + quote(helper("filters_craft.py")) + " " + quote(tmp.path)), 0);
  const std::pair<const char*, const char*> options[] = {
      {"removespoofed", "spoofed"}, {"removeerratic", "erratic"}, {"removerouted", "routed"},
      {"removenotscan", "notscan"}};
  for (const fs::path& capture : {source_root() / "configs" / "quickstart" / "telescope.pcap", tmp.path / "all.pcap"}) {
    const Counts o = oracle(capture);
    TempDir base("privateer-filters-base");
    const HeldRun b = run_and_scrape(corsarotrace_config(base.path, capture, ""), base.path);
    ASSERT_EQ(b.status, 0) << b.output;
    const uint64_t all = flowtuple_packets(base.path);
    ASSERT_GT(all, 0u);
    for (size_t f = 0; f < kBuiltinFilterCount; ++f) {
      const std::string name = builtin_filter_name(f);
      EXPECT_EQ(sample(b.metrics, "privateer_filter_packets_total{filter=\"" + name + "\"}"),
                static_cast<double>(o.at(name)))
          << name << "\n" << b.metrics;
    }
    for (const auto& [option, reason] : options) {
      TempDir d("privateer-filters-opt");
      const HeldRun r = run_and_scrape(corsarotrace_config(d.path, capture, option), d.path);
      ASSERT_EQ(r.status, 0) << option << "\n" << r.output;
      EXPECT_EQ(flowtuple_packets(d.path), all - o.at(std::string("removed_ipv4:") + reason))
          << capture << " " << option;
      EXPECT_EQ(summary_counts(r.output, "removed before the plugins"),
                (Counts{{reason, o.at(std::string("removed:") + reason)}}))
          << option << "\n" << r.output;
      EXPECT_EQ(sample(r.metrics, std::string("privateer_removed_packets_total{reason=\"") + reason + "\"}"),
                static_cast<double>(o.at(std::string("removed:") + reason)))
          << option;
      // What the plugin was fed: every packet but the removed ones.
      EXPECT_EQ(sample(r.metrics, "privateer_plugin_packets_total{plugin=\"flowtuple\"}"),
                sample(b.metrics, "privateer_plugin_packets_total{plugin=\"flowtuple\"}") -
                    static_cast<double>(o.at(std::string("removed:") + reason)))
          << option;
    }
  }
}

// --- real scanners --------------------------------------------------------------

// masscan and zmap scan an address in a second network namespace over a
// veth pair; tcpdump captures what reaches it. large-scale-scan counts every
// masscan probe (TTL 255, window 1024, no options) and no zmap probe (window
// 65535), which the ttl-200 and no-tcp-options filters still see.
TEST(BuiltinFilters, MasscanIsALargeScaleScanZmapIsNot) {
  PRIVATEER_REQUIRE_TOOL("command -v masscan && command -v zmap && command -v tcpdump && command -v ip",
                         "masscan, zmap, tcpdump or iproute2");
  const std::string a = "pvt-fs-" + std::to_string(getpid()), b = "pvt-ft-" + std::to_string(getpid());
  if (run_command("ip netns add " + a + " && ip netns add " + b) != 0) {
    run_command("ip netns del " + a);
    GTEST_SKIP() << "cannot create network namespaces here";
  }
  struct Cleanup {
    std::string a, b;
    ~Cleanup() {
      for (const auto& ns : {a, b}) run_command("ip netns pids " + ns + " | xargs -r kill -9; ip netns del " + ns);
    }
  } cleanup{a, b};
  ASSERT_EQ(run_command("ip link add pvS netns " + a + " type veth peer name pvT netns " + b +
                        " && ip -n " + a + " addr add 198.51.100.1/24 dev pvS && ip -n " + b +
                        " addr add 198.51.100.2/24 dev pvT && ip netns exec " + a +
                        " sysctl -qw net.ipv6.conf.all.disable_ipv6=1 && ip netns exec " + b +
                        " sysctl -qw net.ipv6.conf.all.disable_ipv6=1 && ip -n " + a + " link set lo up && ip -n " + b +
                        " link set lo up && ip -n " + a + " link set pvS up && ip -n " + b + " link set pvT up"),
            0);
  std::string mac;
  ASSERT_EQ(run_stdout("ip -n " + b + " -br link show pvT | awk '{print $3}'", &mac), 0);
  while (!mac.empty() && isspace(static_cast<unsigned char>(mac.back()))) mac.pop_back();
  TempDir tmp("privateer-filters-scan");
  auto syns = [](const fs::path& pcap) {
    std::string n;
    run_stdout("tcpdump -nr " + quote(pcap) + " 'tcp[13] == 2' 2>/dev/null | wc -l", &n);
    return std::stoull(n);
  };
  auto background = [](const std::string& cmd) {
    std::string pid;
    run_stdout(cmd + " >/dev/null 2>&1 </dev/null & echo $!", &pid);
    while (!pid.empty() && isspace(static_cast<unsigned char>(pid.back()))) pid.pop_back();
    return pid;
  };
  // What the scanner's address sends, captured in the target's namespace,
  // until `probes` SYNs are in (or 30 s passed).
  auto capture = [&](const std::string& name, const std::string& scanner, uint64_t probes) {
    const fs::path pcap = tmp.path / (name + ".pcap");
    const std::string dump =
        background("ip netns exec " + b + " tcpdump -i pvT -U -w " + quote(pcap) + " 'tcp and src host 198.51.100.1'");
    EXPECT_TRUE(wait_until([&] { return fs::exists(pcap); }, 10));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    // masscan's receive thread can wait long after its last probe for a
    // packet to end on: it is stopped once every probe is out.
    const std::string scan = background("ip netns exec " + a + " " + scanner);
    EXPECT_TRUE(wait_until([&] { return syns(pcap) >= probes; }, 30)) << name;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    run_command("kill -9 " + scan + "; kill -INT " + dump + "; sleep 0.5");
    return pcap;
  };
  const fs::path masscan = capture("masscan", "masscan 198.51.100.2/32 -p1-150 --rate 1000 --adapter pvS "
                                              "--adapter-ip 198.51.100.1 --router-mac " + mac + " --wait 1", 150);
  const fs::path zmap = capture("zmap", "zmap -q -b /dev/null -p 80 198.51.100.2/32 -i pvS -S 198.51.100.1 -G " + mac +
                                            " --rate 200 --cooldown-time 1 -P 100", 100);
  const uint64_t masscan_probes = syns(masscan), zmap_probes = syns(zmap);
  EXPECT_EQ(masscan_probes, 150u);
  EXPECT_EQ(zmap_probes, 100u);
  TempDir out1("privateer-filters-scan-run"), out2("privateer-filters-scan-run");
  const RunResult m = run_on(masscan, 1, out1.path);
  const RunResult z = run_on(zmap, 1, out2.path);
  ASSERT_EQ(m.status, 0) << m.output;
  ASSERT_EQ(z.status, 0) << z.output;
  EXPECT_EQ(m.matched.count("large-scale-scan") ? m.matched.at("large-scale-scan") : 0, masscan_probes) << m.output;
  EXPECT_EQ(z.matched.count("large-scale-scan"), 0u) << z.output;
  EXPECT_EQ(z.matched.count("ttl-200") ? z.matched.at("ttl-200") : 0, zmap_probes) << z.output;
  EXPECT_EQ(z.matched.count("no-tcp-options") ? z.matched.at("no-tcp-options") : 0, zmap_probes) << z.output;
  // removenotscan keeps exactly masscan's probes.
  TempDir out3("privateer-filters-scan-run");
  const RunResult k = run_on(masscan, 2, out3.path, "removenotscan: yes\n");
  ASSERT_EQ(k.status, 0) << k.output;
  EXPECT_EQ(k.removed, (Counts{{"notscan", capture_packets(masscan) - masscan_probes}})) << k.output;
}
