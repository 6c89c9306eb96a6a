// The regex plugin: the rules parser and Hyperscan compile errors
// (FILE:LINE), block mode through the binary against tshark's PCRE `matches`
// over the same TCP/UDP payloads, a bad rules file at start, 20 SIGHUPs
// rewriting the rules file while a FIFO feeds a looped capture; stream mode
// (matches split across a flow's packets, the stream states' pool) against
// tests/regex_stream_oracle.py on a scapy capture and the corpus.
#include <gtest/gtest.h>
#include <signal.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include "plugins/common/options.hpp"
#include "plugins/regex/regex.hpp"
#include "plugins/regex/rules.hpp"
#include "plugins/registry.hpp"
#include "tests/test_support.hpp"

namespace fs = std::filesystem;
using namespace privateer;
using namespace privateer::test;

namespace {

// The message parse_rules throws for `text`, or "" when it parses.
std::string parse_error(const std::string& text) {
  try {
    parse_rules(text, "r.txt");
  } catch (const RuleError& e) {
    return e.what();
  }
  return "";
}

std::string compile_error(const std::string& text) {
  try {
    compile_rules(parse_rules(text, "r.txt"), "r.txt");
  } catch (const RuleError& e) {
    return e.what();
  }
  return "";
}

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

// The display filter string literal for a pattern: backslashes and quotes escaped.
std::string dfilter_string(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"') out += '\\';
    out += c;
  }
  return out;
}

// tshark's count of the packets of `cap` whose TCP/UDP payload (each packet
// on its own: no reassembly) matches rule `r`, with PCRE.
uint64_t tshark_count(const fs::path& cap, const RegexRule& r) {
  std::string re = r.caseless ? "(?i)" : "(?-i)";
  if (r.dotall) re += "(?s)";
  if (r.multiline) re += "(?m)";
  re = "\"" + dfilter_string(re + r.compiled_pattern()) + "\"";
  std::string f;
  if (r.proto != 17) f = "tcp.payload matches " + re;
  if (r.proto != 6) f += std::string(f.empty() ? "" : " || ") + "udp.payload matches " + re;
  // Not the TCP/UDP headers an ICMP error quotes: those are no payload of ours.
  f = "(" + f + ") && !icmp && !icmpv6";
  if (!r.ports.empty()) {
    std::string p;
    for (uint16_t n : r.ports) {
      p += std::string(p.empty() ? "" : " || ") + "tcp.port == " + std::to_string(n) + " || udp.port == " + std::to_string(n);
    }
    f += " && (" + p + ")";
  }
  std::string out;
  EXPECT_EQ(run_stdout("tshark -r " + quote(cap) + " -o tcp.desegment_tcp_streams:FALSE -Y '" + f + "' 2>/dev/null | wc -l",
                       &out), 0) << f;
  return std::stoull(out);
}

// Packets of `cap` with a TCP or UDP payload, as tshark counts them (not
// counting the TCP/UDP headers quoted inside ICMP errors).
uint64_t tshark_payload_packets(const fs::path& cap) {
  std::string out;
  EXPECT_EQ(run_stdout("tshark -r " + quote(cap) + " -Y '(tcp.len > 0 || udp.length > 8) && !icmp && !icmpv6' 2>/dev/null | wc -l", &out), 0);
  return std::stoull(out);
}

// `more`: further regex options, each line indented as an option.
void write_config(const fs::path& cfg, const fs::path& source, const fs::path& rules, const fs::path& dir,
                  const std::string& prometheus, const std::string& more = "", unsigned threads = 2) {
  std::ofstream(cfg) << "packetsource: " << source.string() << "\ninterval: 60\nthreads: " << threads << "\n"
                     << "outtemplate: " << (dir / "%P-%s").string() << "\nprogress: no\n"
                     << "prometheus: " << prometheus << "\n"
                     << "plugins:\n  - regex:\n      rules: " << rules.string() << "\n" << more;
}

// tests/regex_stream_oracle.py's counts: rule ID (and "streams",
// "evictions") -> number.
std::map<std::string, double> stream_oracle(const fs::path& cap, const fs::path& rules, uint32_t pool) {
  std::string out;
  EXPECT_EQ(run_stdout("/usr/bin/python3 " + quote(source_root() / "tests" / "regex_stream_oracle.py") + " " +
                           quote(cap) + " " + quote(rules) + " " + std::to_string(pool) + " 120 1800",
                       &out),
            0) << out;
  std::map<std::string, double> m;
  for (const std::string& l : lines_of(out)) {
    const auto sp = l.find(' ');
    if (sp != std::string::npos) m[l.substr(0, sp)] = std::stod(l.substr(sp + 1));
  }
  return m;
}

const char* const kCorpusRules = R"(# corpus rules: one per kind of constraint
get tcp /^GET /
ok /HTTP\/1\.[01] 200/
host /host:/i
user port=21 /USER /
dns-std-query udp /^..\x01\x00\x00\x01/s
ctype port=80,8080 /content-type:\s*text\/(html|xml)/i
ext-get tcp /^ G E T \x20 # the method, spaced out/x
)";

}  // namespace

TEST(RegexRules, GoodLines) {
  const auto rules = parse_rules(
      "# a comment\n\n   \n"
      "a.b_c-1 /abc/\n"
      "t tcp port=80,8080 /^GET /i alarm\n"
      "u udp /x\\/y/smx\n"
      "  any1   any   port=0   /a b # c/x   \n",
      "r.txt");
  ASSERT_EQ(rules.size(), 4u);
  EXPECT_EQ(rules[0].id, "a.b_c-1");
  EXPECT_EQ(rules[0].proto, 0);
  EXPECT_TRUE(rules[0].ports.empty());
  EXPECT_EQ(rules[0].pattern, "abc");
  EXPECT_EQ(rules[0].line, 4);
  EXPECT_FALSE(rules[0].alarm);
  EXPECT_EQ(rules[0].hs_flags(), unsigned(HS_FLAG_SINGLEMATCH));
  EXPECT_EQ(rules[1].proto, 6);
  EXPECT_EQ(rules[1].ports, (std::vector<uint16_t>{80, 8080}));
  EXPECT_TRUE(rules[1].alarm);
  EXPECT_EQ(rules[1].hs_flags(), unsigned(HS_FLAG_SINGLEMATCH | HS_FLAG_CASELESS));
  EXPECT_TRUE(rules[1].wants(6, 1234, 8080));
  EXPECT_TRUE(rules[1].wants(6, 80, 1234));
  EXPECT_FALSE(rules[1].wants(6, 1234, 1235));
  EXPECT_FALSE(rules[1].wants(17, 80, 80));
  EXPECT_EQ(rules[2].proto, 17);
  EXPECT_EQ(rules[2].pattern, "x\\/y");
  EXPECT_EQ(rules[2].hs_flags(), unsigned(HS_FLAG_SINGLEMATCH | HS_FLAG_DOTALL | HS_FLAG_MULTILINE));
  EXPECT_EQ(rules[3].id, "any1");
  EXPECT_EQ(rules[3].ports, (std::vector<uint16_t>{0}));
  EXPECT_EQ(rules[3].compiled_pattern(), "ab");
  EXPECT_EQ(rules[3].line, 7);
  EXPECT_EQ(strip_extended("a\\ b [ #x] c # d"), "a\\ b[ #x]c");
  EXPECT_EQ(strip_extended("[]# ]x"), "[]# ]x");
  EXPECT_EQ(compile_error("a /abc/\nb tcp /^GET /i\n"), "");
}

TEST(RegexRules, EveryBadFormNamesFileAndLine) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"ok /a/\nb@d /x/\n", "r.txt:2: bad rule id 'b@d'"},
      {"# c\nlonely\n", "r.txt:2: rule 'lonely' has no /PATTERN/"},
      {"x tcp\n", "r.txt:1: rule 'x' has no /PATTERN/"},
      {"x /abc\n", "r.txt:1: pattern of rule 'x' has no closing /"},
      {"x //\n", "r.txt:1: empty pattern"},
      {"x /a/q\n", "r.txt:1: unknown flag 'q'"},
      {"x /a/ii\n", "r.txt:1: flag 'i' given twice"},
      {"x /a/ loud\n", "r.txt:1: unexpected 'loud' after the pattern"},
      {"x /a/ alarm now\n", "r.txt:1: unexpected 'now' after 'alarm'"},
      {"x sctp /a/\n", "r.txt:1: unexpected 'sctp'"},
      {"x port=80 tcp /a/\n", "r.txt:1: unexpected 'tcp'"},
      {"x port=70000 /a/\n", "r.txt:1: bad port '70000'"},
      {"x port= /a/\n", "r.txt:1: bad port ''"},
      {"x port=80,,81 /a/\n", "r.txt:1: bad port ''"},
      {"x port=http /a/\n", "r.txt:1: bad port 'http'"},
      {"x /a/\n\nx /b/\n", "r.txt:3: duplicate rule id 'x'"},
      {"x /  # only a comment/x\n", "r.txt:1: pattern of rule 'x' is empty once extended"},
      {"# nothing\n\n", "r.txt:2: no rules in the file"},
  };
  for (const auto& [text, want] : bad) {
    const std::string got = parse_error(text);
    EXPECT_EQ(got.rfind(want, 0), 0u) << "rules:\n" << text << "got: " << got << "\nwant: " << want;
  }
  // Patterns Hyperscan refuses: its message, on the rule's own line.
  std::string e = compile_error("ok /a/\n# c\nback /(a)\\1/\n");
  EXPECT_EQ(e.rfind("r.txt:3: rule 'back': Hyperscan refuses /(a)\\1/: ", 0), 0u) << e;
  e = compile_error("ok /a/\nparen /(abc/\n");
  EXPECT_EQ(e.rfind("r.txt:2: rule 'paren': Hyperscan refuses /(abc/: ", 0), 0u) << e;
  try {
    read_rules_file("/nonexistent/rules.txt");
    ADD_FAILURE() << "read a file that does not exist";
  } catch (const RuleError& err) {
    EXPECT_EQ(std::string(err.what()), "/nonexistent/rules.txt:0: cannot read the rules file: " + std::string(std::strerror(ENOENT)));
  }
  try {
    read_rules_file("/dev/zero");
    ADD_FAILURE() << "read a device";
  } catch (const RuleError& err) {
    EXPECT_EQ(std::string(err.what()), "/dev/zero:0: cannot read the rules file (not a regular file)");
  }
}

// The plugin through its API: a worker scans a TCP payload; reload() swaps
// the rules (a rule kept keeps its count), a bad file throws and keeps them.
TEST(RegexPlugin, ReloadKeepsCountsPerRuleId) {
  struct Collect : PluginMetrics {
    std::map<std::string, double> v;
    void counter(const std::string& name, const std::string&, double value,
                 const std::vector<std::pair<std::string, std::string>>& labels) override {
      v[labels.empty() ? name : name + "{" + labels[0].second + "}"] = value;
    }
  };
  TempDir tmp("privateer-regex");
  const fs::path rules = tmp.path / "rules.txt";
  std::ofstream(rules) << "a tcp /abc/\nu udp /abc/\n";
  auto p = make_plugin("regex", YAML::Load("rules: " + rules.string()), "plugins.regex", 60);
  ASSERT_TRUE(p->reloads());
  auto w = p->make_worker(0);
  const std::string bytes = "HEADERxxabcxx";   // 6 bytes of "headers", then the payload
  const uint8_t* data = reinterpret_cast<const uint8_t*>(bytes.data());
  PacketView v;
  v.caplen = static_cast<uint32_t>(bytes.size());
  v.proto = 6;
  v.payload_offset = 6;
  v.flags = pflag::has_ports;
  w->process(&v, &data, 1);
  std::ofstream(rules) << "b /xx/\na tcp /abc/\n";
  EXPECT_NE(p->reload().find("2 rules, generation 2"), std::string::npos);
  w->process(&v, &data, 1);
  std::ofstream(rules) << "a tcp /abc/\nbad /(abc/\n";
  try {
    p->reload();
    ADD_FAILURE() << "a bad file reloaded";
  } catch (const RuleError& e) {
    EXPECT_EQ(std::string(e.what()).rfind(rules.string() + ":2: rule 'bad': Hyperscan refuses", 0), 0u) << e.what();
  }
  w->process(&v, &data, 1);   // still generation 2
  p->reclaim();
  Collect c;
  p->metrics(c);
  EXPECT_EQ(c.v["privateer_regex_matches_total{a}"], 3);
  EXPECT_EQ(c.v["privateer_regex_matches_total{u}"], 0);   // udp only: not a TCP packet's
  EXPECT_EQ(c.v["privateer_regex_matches_total{b}"], 2);
  EXPECT_EQ(c.v["privateer_regex_scanned_packets_total"], 3);
  EXPECT_EQ(c.v["privateer_regex_scanned_bytes_total"], 3 * 7);
  EXPECT_THROW(make_plugin("regex", YAML::Load("rules: " + rules.string()), "plugins.regex", 60), ConfigError);
  EXPECT_THROW(make_plugin("regex", YAML::Load("rulez: x"), "plugins.regex", 60), ConfigError);
}

TEST(RegexRun, BadRulesFileStopsTheStart) {
  TempDir tmp("privateer-regex");
  const fs::path pcap = source_root() / "configs" / "quickstart" / "telescope.pcap";
  for (const auto& [rules, want] : std::vector<std::pair<std::string, std::string>>{
           {"ok /a/\n\nbad tcp port=99999 /x/\n", ":3: bad port '99999'"},
           {"ok /a/\nlook /(?<=a)b/\n", ":2: rule 'look': Hyperscan refuses"}}) {
    std::ofstream(tmp.path / "rules.txt") << rules;
    write_config(tmp.path / "c.yaml", pcap, tmp.path / "rules.txt", tmp.path, "{enabled: no}");
    std::string out;
    const int rc = run_command(privateer_bin().string() + " -c " + quote(tmp.path / "c.yaml"), &out);
    EXPECT_NE(rc, 0) << out;
    EXPECT_NE(out.find((tmp.path / "rules.txt").string() + want), std::string::npos) << out;
  }
  // Without `rules:` the config is refused naming the key.
  std::ofstream(tmp.path / "c.yaml") << "packetsource: " << pcap.string() << "\nprometheus: {enabled: no}\nprogress: no\n"
                                     << "outtemplate: " << (tmp.path / "%P-%s").string() << "\n"
                                     << "plugins:\n  - regex:\n";
  std::string out;
  EXPECT_NE(run_command(privateer_bin().string() + " -c " + quote(tmp.path / "c.yaml"), &out), 0);
  EXPECT_NE(out.find("plugins.regex.rules"), std::string::npos) << out;
}

// The quickstart capture has ICMP with data (quoted packets) beside TCP and
// UDP: only TCP and UDP payloads are scanned, and an ICMP type is no port.
TEST(RegexRun, ScansTcpAndUdpPayloadsOnly) {
  PRIVATEER_REQUIRE_TOOL("command -v tshark && command -v curl", "tshark or curl");
  const fs::path cap = source_root() / "configs" / "quickstart" / "telescope.pcap";
  TempDir tmp("privateer-regex");
  const std::string text = "every /./s\nport3 port=3,0 /./s\nudp-any udp /./s\n";
  std::ofstream(tmp.path / "rules.txt") << text;
  write_config(tmp.path / "c.yaml", cap, tmp.path / "rules.txt", tmp.path, "{listen: \"127.0.0.1:0\"}");
  const HeldRun run = run_and_scrape(tmp.path / "c.yaml", tmp.path);
  ASSERT_EQ(run.status, 0) << run.output;
  std::string icmp;
  ASSERT_EQ(run_stdout("tshark -r " + quote(cap) + " -Y 'icmp && data' 2>/dev/null | wc -l", &icmp), 0);
  ASSERT_GT(std::stoull(icmp), 0u) << "the capture has no ICMP with data any more";
  const uint64_t payload = tshark_payload_packets(cap);
  EXPECT_EQ(sample(run.metrics, "privateer_regex_scanned_packets_total"), double(payload));
  for (const RegexRule& r : parse_rules(text, "rules.txt")) {
    EXPECT_EQ(sample(run.metrics, "privateer_regex_matches_total{rule=\"" + r.id + "\"}"), double(tshark_count(cap, r)))
        << r.id;
  }
  EXPECT_EQ(sample(run.metrics, "privateer_regex_matches_total{rule=\"every\"}"), double(payload));
}

class RegexCorpus : public ::testing::TestWithParam<std::string> {};

TEST_P(RegexCorpus, CountsAgreeWithTshark) {
  PRIVATEER_REQUIRE_CORPUS();
  PRIVATEER_REQUIRE_TOOL("command -v tshark && command -v curl", "tshark or curl");
  const fs::path cap = *corpus_dir() / GetParam();
  if (!fs::exists(cap)) GTEST_SKIP() << cap << " absent";
  TempDir tmp("privateer-regex");
  std::ofstream(tmp.path / "rules.txt") << kCorpusRules;
  const auto rules = parse_rules(kCorpusRules, "rules.txt");
  write_config(tmp.path / "c.yaml", cap, tmp.path / "rules.txt", tmp.path, "{listen: \"127.0.0.1:0\"}");
  const HeldRun run = run_and_scrape(tmp.path / "c.yaml", tmp.path);
  ASSERT_EQ(run.status, 0) << run.output;
  ASSERT_FALSE(run.metrics.empty()) << run.output;
  uint64_t matched = 0;
  for (const RegexRule& r : rules) {
    const uint64_t want = tshark_count(cap, r);
    matched += want;
    EXPECT_EQ(sample(run.metrics, "privateer_regex_matches_total{rule=\"" + r.id + "\"}"), double(want))
        << GetParam() << " rule " << r.id;
  }
  EXPECT_EQ(sample(run.metrics, "privateer_regex_scanned_packets_total"), double(tshark_payload_packets(cap)));
  EXPECT_GT(sample(run.metrics, "privateer_regex_scanned_bytes_total"), 0);
  RecordProperty("tshark_matches", std::to_string(matched));
}

INSTANTIATE_TEST_SUITE_P(Http, RegexCorpus,
                         ::testing::Values("zeek__http-methods.pcap", "zeek__wikipedia.pcap",
                                           "tcpdump__ipv4_tcp_http_xml_tso.pcap", "zeek__ftp-bruteforce.pcap"),
                         [](const auto& info) {
                           std::string n = info.param.substr(0, info.param.find('.'));
                           for (char& c : n) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return n;
                         });

// 21 passes of a capture through a FIFO; after each of the first 20 the
// rules file is rewritten (two rule sets in turn, the 8th time a bad file)
// and SIGHUP sent. Every payload packet fed is scanned exactly once, a rule
// in both sets counts every pass, the bad file is refused with its line.
TEST(RegexRun, TwentySighupsRewriteRulesWithoutLoss) {
  PRIVATEER_REQUIRE_CORPUS();
  PRIVATEER_REQUIRE_TOOL("command -v tshark && command -v curl", "tshark or curl");
  const fs::path cap = *corpus_dir() / "zeek__http-methods.pcap";
  if (!fs::exists(cap)) GTEST_SKIP() << cap << " absent";
  TempDir tmp("privateer-regex");
  const std::string set_a = "get tcp /^GET /\nok /HTTP\\/1\\.[01] 200/\n";
  const std::string set_b = "# set b\nget tcp /^GET /\nhost /host:/i\npost /^POST /\n";
  const std::string bad = "get tcp /^GET /\n\n\nbroken /(unclosed/\n";
  const fs::path rules = tmp.path / "rules.txt";
  std::ofstream(rules) << set_a;
  write_config(tmp.path / "c.yaml", tmp.path / "in.pcap", rules, tmp.path, "{listen: \"127.0.0.1:0\"}");
  const uint64_t per_pass = tshark_payload_packets(cap);
  const uint64_t get_per_pass = tshark_count(cap, parse_rules("get tcp /^GET /", "x")[0]);
  ASSERT_GT(per_pass, 0u);
  FifoWriter fifo(tmp.path / "in.pcap");
  const fs::path log = tmp.path / "run.out";
  BackgroundRun run({"-c", (tmp.path / "c.yaml").string(), "--hold-metrics", "60"}, log);
  ASSERT_TRUE(fifo.open_when_read()) << read_file(log);
  constexpr int kSwaps = 20, kBad = 7;
  size_t ok = 0, failed = 0;
  for (int i = 0; i <= kSwaps; ++i) {
    ASSERT_TRUE(fifo.write_part(cap, i == 0 ? 0 : 24, SIZE_MAX)) << read_file(log);   // records after the header
    if (i == kSwaps) break;
    const fs::path next = tmp.path / "rules.next";
    std::ofstream(next) << (i == kBad ? bad : i % 2 == 0 ? set_b : set_a);
    fs::rename(next, rules);
    (i == kBad ? failed : ok) += 1;
    run.signal(SIGHUP);
    ASSERT_TRUE(wait_until([&] {
      const std::string t = read_file(log);
      return count_of(t, "regex: rules reloaded") == ok && count_of(t, "regex: not reloaded") == failed;
    }, 30)) << "reload " << i + 1 << ":\n" << read_file(log);
  }
  fifo.close();
  ASSERT_TRUE(wait_until([&] { return count_of(read_file(log), "serving metrics for 60 s more") == 1 || !run.running(); }, 120))
      << read_file(log);
  std::smatch m;
  const std::string text = read_file(log);
  ASSERT_TRUE(std::regex_search(text, m, std::regex("metrics on (http://127\\.0\\.0\\.1:[0-9]+/metrics)"))) << text;
  std::string metrics;
  ASSERT_EQ(run_stdout("curl -s " + m[1].str(), &metrics), 0);
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(20), 0) << read_file(log);
  const std::string out = read_file(log);
  EXPECT_EQ(sample(metrics, "privateer_regex_scanned_packets_total"), double(per_pass * (kSwaps + 1))) << out;
  EXPECT_EQ(sample(metrics, "privateer_regex_matches_total{rule=\"get\"}"), double(get_per_pass * (kSwaps + 1)));
  EXPECT_GE(sample(metrics, "privateer_regex_matches_total{rule=\"post\"}"), 0);   // set b's rules were counted
  EXPECT_EQ(sample(metrics, "privateer_plugin_reloads_total{result=\"ok\"}"), double(kSwaps - 1));
  EXPECT_EQ(sample(metrics, "privateer_plugin_reloads_total{result=\"failed\"}"), 1.0);
  EXPECT_NE(out.find("regex: not reloaded (SIGHUP): " + rules.string() + ":4: rule 'broken': Hyperscan refuses"),
            std::string::npos) << out;
  EXPECT_EQ(count_of(out, "regex: rules reloaded"), size_t(kSwaps - 1)) << out;
}

namespace {

// Stream mode. A scapy capture: a request whose "evil" is split over two
// segments, a response whose "secret" is split, two flows interleaved each
// with a split "evil", a flow with "ev" one way and "il" the other (two
// streams: no match), UDP datagrams "ev" then "il" (scanned alone: no
// match), one packet with "evil" twice (counted once).
const char* kStreamCraft = R"(
import sys
from scapy.all import Ether, IP, TCP, UDP, Raw, wrpcap
pkts = []
t = 1700000000.0
def add(src, dst, l4, pay):
    global t
    t += 0.01
    p = Ether() / IP(src=src, dst=dst) / l4 / Raw(pay)
    p.time = t
    pkts.append(p)
def tcp(sp, dp):
    return TCP(sport=sp, dport=dp, flags="PA")
add("10.0.0.1", "10.0.0.2", tcp(1000, 80), b"GET /ev")
add("10.0.0.1", "10.0.0.2", tcp(1000, 80), b"il.html HTTP/1.1\r\n")
add("10.0.0.2", "10.0.0.1", tcp(80, 1000), b"HTTP/1.1 200 OK\r\nX: SEC")
add("10.0.0.2", "10.0.0.1", tcp(80, 1000), b"ret\r\n\r\n")
add("10.0.1.1", "10.0.0.2", tcp(1001, 80), b"ev")
add("10.0.1.2", "10.0.0.2", tcp(1002, 80), b"ev")
add("10.0.1.1", "10.0.0.2", tcp(1001, 80), b"il")
add("10.0.1.2", "10.0.0.2", tcp(1002, 80), b"il")
add("10.0.2.1", "10.0.0.2", tcp(1003, 80), b"xx ev")
add("10.0.0.2", "10.0.2.1", tcp(80, 1003), b"il yy")
add("10.0.3.1", "10.0.3.2", UDP(sport=5000, dport=53), b"ev")
add("10.0.3.1", "10.0.3.2", UDP(sport=5000, dport=53), b"il")
add("10.0.4.1", "10.0.0.2", tcp(1004, 80), b"evil and evil")
add("10.0.0.1", "10.0.0.2", tcp(1000, 80), b"GET /x HTTP/1.1\r\n")
wrpcap(sys.argv[1], pkts)
)";

const char* const kStreamRules = R"(evil /evil/
secret tcp /secret/i
get tcp /^GET /
udp-evil udp /evil/
)";

class RegexStream : public ::testing::Test {
 protected:
  void SetUp() override {
    PRIVATEER_REQUIRE_TOOL("command -v tshark && command -v curl && /usr/bin/python3 -c 'import scapy'",
                           "tshark, curl or python3-scapy");
    std::ofstream(tmp_.path / "craft.py") << kStreamCraft;
    ASSERT_EQ(run_command("/usr/bin/python3 " + quote(tmp_.path / "craft.py") + " " + quote(cap_)), 0);
    std::ofstream(rules_) << kStreamRules;
  }
  // Each run in a directory of its own (its log, its files).
  HeldRun run(const std::string& more, unsigned threads) {
    const fs::path dir = tmp_.path / ("run" + std::to_string(++runs_));
    fs::create_directories(dir);
    write_config(dir / "c.yaml", cap_, rules_, dir, "{listen: \"127.0.0.1:0\"}", more, threads);
    return run_and_scrape(dir / "c.yaml", dir);
  }
  int runs_ = 0;
  TempDir tmp_{"privateer-regex-stream"};
  fs::path cap_ = tmp_.path / "stream.pcap";
  fs::path rules_ = tmp_.path / "rules.txt";
};

TEST_F(RegexStream, MatchesSplitAcrossPacketsOfAFlowDirection) {
  const auto want = stream_oracle(cap_, rules_, 16384);
  // The capture is what it says: block mode (tshark) sees fewer.
  const auto rules = parse_rules(kStreamRules, "rules.txt");
  ASSERT_GT(want.at("evil"), double(tshark_count(cap_, rules[0])));
  ASSERT_GT(want.at("secret"), double(tshark_count(cap_, rules[1])));
  for (unsigned threads : {1u, 2u}) {
    const HeldRun r = run("      mode: stream\n", threads);
    ASSERT_EQ(r.status, 0) << r.output;
    for (const RegexRule& rule : rules) {
      EXPECT_EQ(sample(r.metrics, "privateer_regex_matches_total{rule=\"" + rule.id + "\"}"), want.at(rule.id))
          << rule.id << " threads " << threads;
    }
    EXPECT_EQ(sample(r.metrics, "privateer_regex_streams_total"), want.at("streams"));
    EXPECT_EQ(sample(r.metrics, "privateer_regex_stream_evictions_total"), 0);
    const HeldRun b = run("", threads);   // block mode on the same capture: tshark's counts
    ASSERT_EQ(b.status, 0) << b.output;
    for (const RegexRule& rule : rules) {
      EXPECT_EQ(sample(b.metrics, "privateer_regex_matches_total{rule=\"" + rule.id + "\"}"), double(tshark_count(cap_, rule)))
          << rule.id;
    }
  }
}

// One stream state for a worker: the interleaved flows take it from each
// other, and their split matches are lost as the oracle's LRU says.
TEST_F(RegexStream, APoolOfOneEvictsAndCountsIt) {
  const auto want = stream_oracle(cap_, rules_, 1);
  ASSERT_GT(want.at("evictions"), 0);
  const HeldRun r = run("      mode: stream\n      stream_flows: 1\n", 1);
  ASSERT_EQ(r.status, 0) << r.output;
  for (const RegexRule& rule : parse_rules(kStreamRules, "rules.txt")) {
    EXPECT_EQ(sample(r.metrics, "privateer_regex_matches_total{rule=\"" + rule.id + "\"}"), want.at(rule.id)) << rule.id;
  }
  EXPECT_EQ(sample(r.metrics, "privateer_regex_streams_total"), want.at("streams"));
  EXPECT_EQ(sample(r.metrics, "privateer_regex_stream_evictions_total"), want.at("evictions"));
}

TEST_F(RegexStream, BadStreamOptionsNameTheirKey) {
  for (const auto& [more, key] : std::vector<std::pair<std::string, std::string>>{
           {"      mode: streams\n", "plugins.regex.mode"},
           {"      stream_flows: 10\n", "plugins.regex.stream_flows"},
           {"      mode: stream\n      stream_flows: 0\n", "plugins.regex.stream_flows"}}) {
    write_config(tmp_.path / "c.yaml", cap_, rules_, tmp_.path, "{enabled: no}", more);
    std::string out;
    EXPECT_NE(run_command(privateer_bin().string() + " -c " + quote(tmp_.path / "c.yaml"), &out), 0) << more;
    EXPECT_NE(out.find(key), std::string::npos) << out;
  }
}

// Literal rules over the corpus's HTTP captures in stream mode: the oracle
// concatenates each flow direction's payloads from tshark's fields.
const char* const kStreamCorpusRules = R"(http11 /HTTP\/1\.1/
host /host: /i
crlf2 tcp /\r\n\r\n/
get tcp /^GET /
html /<html/i
)";

class RegexStreamCorpus : public ::testing::TestWithParam<std::string> {};

TEST_P(RegexStreamCorpus, CountsAgreeWithTheStreamOracle) {
  PRIVATEER_REQUIRE_CORPUS();
  PRIVATEER_REQUIRE_TOOL("command -v tshark && command -v curl", "tshark or curl");
  const fs::path cap = *corpus_dir() / GetParam();
  if (!fs::exists(cap)) GTEST_SKIP() << cap << " absent";
  TempDir tmp("privateer-regex-stream");
  std::ofstream(tmp.path / "rules.txt") << kStreamCorpusRules;
  const auto want = stream_oracle(cap, tmp.path / "rules.txt", 1u << 16);
  write_config(tmp.path / "c.yaml", cap, tmp.path / "rules.txt", tmp.path, "{listen: \"127.0.0.1:0\"}",
               "      mode: stream\n      stream_flows: 65536\n", 2);
  const HeldRun run = run_and_scrape(tmp.path / "c.yaml", tmp.path);
  ASSERT_EQ(run.status, 0) << run.output;
  double matched = 0;
  for (const RegexRule& r : parse_rules(kStreamCorpusRules, "rules.txt")) {
    matched += want.at(r.id);
    EXPECT_EQ(sample(run.metrics, "privateer_regex_matches_total{rule=\"" + r.id + "\"}"), want.at(r.id))
        << GetParam() << " rule " << r.id;
  }
  EXPECT_EQ(sample(run.metrics, "privateer_regex_streams_total"), want.at("streams"));
  EXPECT_GT(matched, 0);
  RecordProperty("oracle_matches", std::to_string(static_cast<uint64_t>(matched)));
}

INSTANTIATE_TEST_SUITE_P(Http, RegexStreamCorpus,
                         ::testing::Values("zeek__http-methods.pcap", "zeek__wikipedia.pcap",
                                           "tcpdump__ipv4_tcp_http_xml_tso.pcap"),
                         [](const auto& info) {
                           std::string n = info.param.substr(0, info.param.find('.'));
                           for (char& c : n) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return n;
                         });

}  // namespace
