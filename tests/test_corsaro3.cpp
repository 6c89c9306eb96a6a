// A corsaro3 user's configs and file names: corsaro3's example configs (ours,
// rewritten for local paths, in configs/corsaro3/) run with `privateer -c`
// and write the files corsaro3 would name; corsarotrace's keys are accepted,
// warned about or refused as README "Configuration" says; templates corsaro3
// takes but whose files would overwrite each other give distinct names.
// Files are read back with python3-avro (tests/read_avro.py); packet counts
// come from tshark.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "tests/test_support.hpp"

namespace fs = std::filesystem;
using namespace privateer::test;

namespace {

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

fs::path telescope_pcap() { return source_root() / "configs" / "quickstart" / "telescope.pcap"; }

bool have_python_avro() { return run_command("/usr/bin/python3 -c 'import avro'") == 0; }

// A run directory laid out as the example configs expect: the configs' own
// relative paths (configs/quickstart/telescope.pcap in, out/... out) resolve
// inside it.
struct RunDir {
  RunDir() {
    fs::create_directories(dir.path / "configs" / "quickstart");
    fs::create_symlink(telescope_pcap(), dir.path / "configs" / "quickstart" / "telescope.pcap");
  }
  // Runs privateer in the run directory; stdout+stderr into *out.
  int run(const fs::path& config, const std::string& args, std::string* out) const {
    return run_command("cd " + q(dir.path) + " && " + q(privateer_bin()) + " -c " + q(config) + " " + args, out);
  }
  TempDir dir{"privateer-corsaro3"};
};

// A copy of configs/corsaro3/NAME with one Privateer key appended: the
// metrics endpoint on a free port, so that runs in parallel do not collide.
// Nothing else of corsaro3's config changes.
fs::path example_copy(const RunDir& rd, const std::string& name) {
  const std::string text = read_file(source_root() / "configs" / "corsaro3" / name);
  const fs::path p = rd.dir.path / name;
  std::ofstream(p) << text << "\nprometheus:\n  listen: 127.0.0.1:0\n";
  return p;
}

// The scalar value of a top-level "key: value" line of a YAML file (quotes
// removed): what the test derives corsaro3's file names from.
std::string top_level_value(const fs::path& config, const std::string& key) {
  const std::regex re("^" + key + ":\\s*\"?([^\"#]*?)\"?\\s*(#.*)?$");
  for (const auto& line : lines_of(read_file(config))) {
    std::smatch m;
    if (std::regex_match(line, m, re)) return m[1];
  }
  ADD_FAILURE() << key << " not in " << config;
  return {};
}

// corsaro3's name for a file (libcorsaro_avro.c corsaro_generate_avro_file_name):
// %P, %N and %s substituted, ".avro" appended. (Only what these templates use.)
std::string corsaro3_name(std::string tmpl, const std::string& plugin, const std::string& monitor, uint64_t t) {
  for (const auto& [conv, value] : std::vector<std::pair<std::string, std::string>>{
           {"%P", plugin}, {"%N", monitor}, {"%s", std::to_string(t)}}) {
    for (size_t at; (at = tmpl.find(conv)) != std::string::npos;) tmpl.replace(at, 2, value);
  }
  return tmpl + ".avro";
}

uint64_t first_packet_second() {
  std::string out;
  EXPECT_EQ(run_stdout("tshark -n -r " + q(telescope_pcap()) + " -c 1 -T fields -e frame.time_epoch", &out), 0);
  return std::stoull(out);
}

uint64_t last_packet_second() {
  std::string out;
  EXPECT_EQ(run_stdout("tshark -n -r " + q(telescope_pcap()) + " -T fields -e frame.time_epoch | tail -1", &out), 0);
  return std::stoull(out);
}

uint64_t ipv4_packets() {
  std::string out;
  EXPECT_EQ(run_stdout("tshark -n -r " + q(telescope_pcap()) + " -Y ip -T fields -e frame.number | wc -l", &out), 0);
  return std::stoull(out);
}

// Sum of packet_cnt (the last default column of read_avro.py) over a file's records.
uint64_t packets_in(const fs::path& avro, uint64_t* records = nullptr) {
  std::string out;
  EXPECT_EQ(run_stdout("timeout 120 /usr/bin/python3 " + q(source_root() / "tests" / "read_avro.py") + " " + q(avro),
                       &out),
            0)
      << avro;
  uint64_t sum = 0, n = 0;
  for (const auto& l : lines_of(out)) {
    sum += std::stoull(l.substr(l.rfind('\t') + 1));
    ++n;
  }
  if (records) *records = n;
  return sum;
}

// 1-based line of the first line of `text` that contains `needle`.
int line_in(const std::string& text, const std::string& needle) {
  const size_t at = text.find(needle);
  EXPECT_NE(at, std::string::npos) << needle;
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<long>(at), '\n'));
}

// Every file under `dir`, relative to it.
std::set<std::string> files_under(const fs::path& dir) {
  std::set<std::string> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) out.insert(fs::relative(e.path(), dir).string());
  }
  return out;
}

// The value of "field":... in a .done marker's JSON (first occurrence).
std::string done_field(const std::string& json, const std::string& field) {
  std::smatch m;
  const std::regex re("\"" + field + "\":\"?([^,\"}]*)");
  return std::regex_search(json, m, re) ? std::string(m[1]) : std::string();
}

// Runs one example config and checks its flowtuple file has corsaro3's name
// and holds every IPv4 packet.
void run_example(const std::string& name, const std::string& outdir) {
  if (!have_python_avro()) GTEST_SKIP() << "python3-avro not installed";
  RunDir rd;
  const fs::path cfg = example_copy(rd, name);
  std::string out;
  ASSERT_EQ(rd.run(cfg, "", &out), 0) << out;

  const uint64_t interval = std::stoull(top_level_value(cfg, "interval"));
  const uint64_t start = first_packet_second() / interval * interval;  // one file: the run is < rotatefreq x interval
  const std::string expected =
      corsaro3_name(top_level_value(cfg, "outtemplate"), "flowtuple", top_level_value(cfg, "monitorid"), start);
  ASSERT_TRUE(fs::exists(rd.dir.path / expected)) << expected << "\n" << out;
  EXPECT_TRUE(fs::exists(rd.dir.path / (expected + ".done"))) << expected;
  EXPECT_EQ(packets_in(rd.dir.path / expected), ipv4_packets());
  // Everything written is an .avro file (a *.avro glob finds it) or its marker.
  const auto files = files_under(rd.dir.path / outdir);
  EXPECT_FALSE(files.empty());
  for (const auto& f : files) {
    const bool avro = f.size() > 5 && f.compare(f.size() - 5, 5, ".avro") == 0;
    const bool done = f.size() > 10 && f.compare(f.size() - 10, 10, ".avro.done") == 0;
    EXPECT_TRUE(avro || done) << f;
    if (avro) {
      EXPECT_TRUE(files.count(f + ".done")) << f;
    }
  }
}

// corsarotrace/exampleconfig.yaml: inputuri, outputmode, compressmethod,
// compresslevel, mergeoutput; template analysis-%s-%N.%P.gz.
TEST(Corsaro3Configs, ExampleConfigRuns) {
  run_example("exampleconfig.yaml", "out/corsaro3-exampleconfig");
}

// docker/offline-flowtuple/baseconfig.yaml: template without an extension,
// flowtuple's mergethreads and avrooutput.
TEST(Corsaro3Configs, OfflineFlowtupleConfigRuns) {
  run_example("offline-flowtuple.yaml", "out/corsaro3-offline-flowtuple");
}

// exampleconfigs/reportconfig.yaml names a DBATS backend (not packaged) and
// the report plugin: refused at start, saying why, before anything is
// written.
TEST(Corsaro3Configs, ReportConfigRefusesCleanly) {
  RunDir rd;
  const fs::path cfg = example_copy(rd, "reportconfig.yaml");
  const std::string expected = "config key 'libtimeseriesbackends[2].dbats' (line " +
                               std::to_string(line_in(read_file(cfg), " - dbats:")) +
                               "): the DBATS backend is not supported";
  std::string out;
  EXPECT_EQ(rd.run(cfg, "", &out), 1) << out;
  EXPECT_NE(out.find(expected), std::string::npos) << expected << "\n" << out;
  EXPECT_FALSE(fs::exists(rd.dir.path / "out"));
}

// exampleconfigs/dosplugin.yaml, its misspelt 'removederratic' included:
// runs with a warning for that key, and writes one dos file
// (%N-%y%m%d-%H%M%S.%P: example-YYMMDD-HHMMSS.dos.avro) that python3-avro
// reads, with the records tests/dos_oracle.py computes from the capture.
TEST(Corsaro3Configs, DosPluginConfigRuns) {
  if (!have_python_avro() || !have("/usr/bin/python3 -c 'import scapy.all'")) {
    GTEST_SKIP() << "python3-avro or python3-scapy not installed";
  }
  RunDir rd;
  const fs::path cfg = example_copy(rd, "dosplugin.yaml");
  const std::string text = read_file(cfg);
  std::string out;
  ASSERT_EQ(rd.run(cfg, "", &out), 0) << out;
  EXPECT_NE(out.find("config key 'removederratic' (line " +
                     std::to_string(line_in(text, "\nremovederratic:") + 1) + ") is ignored"),
            std::string::npos)
      << out;
  std::vector<fs::path> avro;
  for (const auto& f : files_under(rd.dir.path / "out" / "corsaro3-dos")) {
    if (f.ends_with(".avro")) avro.push_back(rd.dir.path / "out" / "corsaro3-dos" / f);
  }
  ASSERT_EQ(avro.size(), 1u) << out;
  EXPECT_TRUE(std::regex_match(avro[0].filename().string(), std::regex(R"(example-\d{6}-\d{6}\.dos\.avro)")))
      << avro[0];
  EXPECT_TRUE(fs::exists(avro[0].string() + ".done"));
  const std::string oracle = "/usr/bin/python3 " + q(source_root() / "tests" / "dos_oracle.py");
  std::string got, want;
  ASSERT_EQ(run_stdout(oracle + " read " + q(avro[0]), &got), 0);
  ASSERT_EQ(run_stdout(oracle + " expect " + q(telescope_pcap()) + " --interval 60", &want), 0);
  EXPECT_FALSE(want.empty());
  EXPECT_EQ(got, want);
}

// The keys of corsarotrace's documented configs (exampleconfig.yaml and the
// keys its versions' configparser.c read), each on its own beside a minimal
// config, through --check-config: exit status and the one warning line.
TEST(Corsaro3Keys, EachKeyThroughCheckConfig) {
  struct Case {
    const char* line;
    int rc;              // 0 accepted, 1 refused
    const char* output;  // expected in the output ("" for none)
  };
  const Case cases[] = {
      {"logfilename: out/x.log", 0, ""},
      {"interval: 300", 0, ""},
      {"rotatefreq: 6", 0, ""},
      {"threads: 3", 0, ""},
      {"startboundaryts: 0", 0, ""},
      {"endboundaryts: 0", 0, ""},
      {"removespoofed: no", 0, ""},
      {"removeerratic: no", 0, ""},
      {"removederratic: no", 0, "warning: config key 'removederratic' (line 5) is ignored"},
      {"removerouted: no", 0, ""},
      {"removenotscan: no", 0, ""},
      {"outputmode: ascii", 0, "warning: config key 'outputmode' (line 5) is ignored"},
      {"compressmethod: gzip", 0, "warning: config key 'compressmethod' (line 5) is ignored"},
      {"compresslevel: 1", 0, "warning: config key 'compresslevel' (line 5) is ignored"},
      {"mergeoutput: yes", 0, "warning: config key 'mergeoutput' (line 5) is ignored"},
      {"statfilename: /tmp/stats", 0, "warning: config key 'statfilename' (line 5) is ignored"},
      {"controlsocketname: ipc:///tmp/c", 0, "warning: config key 'controlsocketname' (line 5) is ignored"},
      {"subqueuename: ipc:///tmp/q", 0, "warning: config key 'subqueuename' (line 5) is ignored"},
      {"inputhwm: 25", 0, "warning: config key 'inputhwm' (line 5) is ignored"},
      {"promisc: yes", 0, "warning: config key 'promisc' (line 5) is ignored"},
      {"libtimeseriesbackends:\n  - ascii:\n      file: ts", 0, ""},
      {"removespoofed: yes", 0, ""},
      {"removeerratic: yes", 0, ""},
      {"removerouted: yes", 0, ""},
      {"removenotscan: yes", 0, ""},
      {"tagging: yes", 0, ""},
      {"tagging: no", 0, ""},
      {"filter: \"tcp port 80\"", 0, ""},
      {"basicfilter: \"tcp port 80\"", 0, ""},
      {"filter: \"tcp port\"", 1, "config key 'filter' (line 5): BPF expression 'tcp port' does not compile"},
      {"tagproviders:\n  - netacq-edge:\n      blocksfile: /data/b", 1, "config key 'tagproviders.netacq-edge' (line 6): is not built"},
      {"libtimeseriesbackends:\n  - kafka:\n      brokeruri: h:9092", 0, ""},
      {"libtimeseriesbackends:\n  - dbats:\n      path: /db", 1,
       "config key 'libtimeseriesbackends[0].dbats' (line 6): the DBATS backend is not supported"},
  };
  for (const auto& c : cases) {
    RunDir rd;
    const fs::path cfg = rd.dir.path / "c.yaml";
    std::ofstream(cfg) << "packetsource: configs/quickstart/telescope.pcap\nouttemplate: out/%N-%P-%s\nmonitorid: m\n"
                       << "plugins: [flowtuple]\n" << c.line << "\n";
    std::string out;
    EXPECT_EQ(rd.run(cfg, "--check-config", &out), c.rc) << c.line << "\n" << out;
    const auto lines = lines_of(out);
    if (*c.output == '\0') {
      EXPECT_EQ(lines.size(), 1u) << c.line << "\n" << out;  // just "configuration is valid"
    } else {
      EXPECT_NE(out.find(c.output), std::string::npos) << c.line << "\n" << out;
      EXPECT_EQ(lines.size(), c.rc == 0 ? 2u : 1u) << c.line << "\n" << out;  // one line each
    }
  }
  // inputuri is mapped to packetsource: the run reads it.
  if (!have_python_avro()) GTEST_SKIP() << "python3-avro not installed";
  RunDir rd;
  std::ofstream(rd.dir.path / "c.yaml") << "inputuri: configs/quickstart/telescope.pcap\n"
                                           "outtemplate: out/%P-%s\nprometheus:\n  enabled: no\nplugins: [flowtuple]\n";
  std::string out;
  ASSERT_EQ(rd.run(rd.dir.path / "c.yaml", "", &out), 0) << out;
  const uint64_t start = first_packet_second() / 60 * 60;
  EXPECT_EQ(packets_in(rd.dir.path / ("out/flowtuple-" + std::to_string(start) + ".avro")), ipv4_packets());
}

// Typos of real keys stop start-up naming the key meant: top level, a
// Privateer section, a plugin option.
TEST(Corsaro3Keys, TyposNameTheClosestKey) {
  const std::tuple<const char*, const char*, const char*> cases[] = {
      {"rotatefrq: 4\n", "rotatefrq", "rotatefreq"},
      {"prometheus:\n  lisen: 127.0.0.1:0\n", "prometheus.lisen", "listen"},
      {"plugins:\n  - flowtuple:\n      sortuples: yes\n", "plugins.flowtuple.sortuples", "sorttuples"},
  };
  for (const auto& [extra, key, meant] : cases) {
    RunDir rd;
    const fs::path cfg = rd.dir.path / "c.yaml";
    std::string text = "packetsource: x.pcap\nouttemplate: out/%P-%s\nmonitorid: m\n";
    if (std::string(extra).rfind("plugins:", 0) != 0) text += "threads: 1\n";
    text += extra;
    if (std::string(extra).rfind("plugins:", 0) != 0) text += "plugins: [flowtuple]\n";
    std::ofstream(cfg) << text;
    const std::string k = key;
    const std::string why = "config key '" + k + "' (line " +
                            std::to_string(line_in(text, k.substr(k.rfind('.') + 1) + ":")) +
                            "): unknown key: did you mean '" + meant + "'?";
    std::string out;
    EXPECT_EQ(rd.run(cfg, "--check-config", &out), 1) << out;
    EXPECT_NE(out.find(why), std::string::npos) << text << "\n" << out;
  }
}

// Templates without %P, or without a time conversion, are taken as corsaro3
// takes them; where corsaro3's files would overwrite each other every file
// gets its own name, a warning at start says how, and no record is lost.
TEST(Corsaro3Names, TemplatesWithoutPluginOrTimeGiveDistinctNames) {
  if (!have_python_avro()) GTEST_SKIP() << "python3-avro not installed";
  struct Case {
    const char* tmpl;
    std::vector<const char*> warnings;
  };
  const Case cases[] = {
      {"out/run-%N", {"has no %P", "has no time conversion"}},
      {"out/run-%N-%s", {"has no %P"}},
      {"out/%P-%N.gz", {"has no time conversion"}},
  };
  const uint64_t v4 = ipv4_packets();
  const uint64_t first = first_packet_second(), last = last_packet_second();
  const uint64_t intervals = last / 10 - first / 10 + 1;  // interval: 10 below
  for (const auto& c : cases) {
    RunDir rd;
    const fs::path cfg = rd.dir.path / "c.yaml";
    std::ofstream(cfg) << "packetsource: configs/quickstart/telescope.pcap\nouttemplate: " << c.tmpl
                       << "\nmonitorid: m\ninterval: 10\nrotatefreq: 1\nthreads: 2\n"
                          "prometheus:\n  enabled: no\nplugins: [flowtuple]\n";
    std::string out;
    ASSERT_EQ(rd.run(cfg, "", &out), 0) << out;
    for (const char* w : c.warnings) {
      EXPECT_NE(out.find(std::string("WARNING config key 'outtemplate' (line 2) ") + w), std::string::npos)
          << c.tmpl << "\n" << out;
    }
    // One file per stream and interval (rotatefreq 1), named by the rule
    // README "Outputs" gives, computed here from each file's .done marker.
    std::map<std::string, std::vector<std::pair<uint64_t, std::string>>> by_stream;  // stream -> (start, file)
    for (const auto& f : files_under(rd.dir.path / "out")) {
      if (f.size() < 5 || f.compare(f.size() - 5, 5, ".done") != 0) continue;
      const std::string done = read_file(rd.dir.path / "out" / f);
      by_stream[done_field(done, "stream")].push_back(
          {std::stoull(done_field(done, "start")), f.substr(0, f.size() - 5)});
    }
    ASSERT_FALSE(by_stream.empty()) << out;
    const bool has_p = std::string(c.tmpl).find("%P") != std::string::npos;
    const bool has_time = std::string(c.tmpl).find("%s") != std::string::npos;
    std::set<std::string> all;
    uint64_t v4_seen = 0;
    for (auto& [stream, files] : by_stream) {
      std::sort(files.begin(), files.end());
      ASSERT_EQ(files.size(), intervals) << stream;
      for (size_t k = 0; k < files.size(); ++k) {
        std::string name = corsaro3_name(std::string(c.tmpl).substr(4), stream, "m", files[k].first);
        name.resize(name.size() - 5);  // without ".avro"
        if (!has_p && by_stream.size() > 1) name += "." + stream;
        if (!has_time && k > 0) name += "." + std::to_string(k);
        EXPECT_EQ(files[k].second, name + ".avro") << c.tmpl;
        all.insert(files[k].second);
        if (stream == "flowtuple") v4_seen += packets_in(rd.dir.path / "out" / files[k].second);
      }
    }
    EXPECT_EQ(all.size(), intervals * by_stream.size()) << c.tmpl;
    EXPECT_EQ(v4_seen, v4) << c.tmpl << ": records lost";
  }
}

}  // namespace
