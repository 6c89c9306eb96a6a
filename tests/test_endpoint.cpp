// The metrics endpoint of real runs: many file runs on one config at once
// (a busy port is only a warning for files, an error for live capture), a
// file run ends right after its summary, and a scrape taken during a run
// (curl, then promtool's linter) has one label-name set per metric family
// and counters named *_total.
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "tests/test_support.hpp"

namespace fs = std::filesystem;
using namespace privateer::test;

namespace {

constexpr size_t kStartBytes = 3u << 20;  // past wandio's first FIFO fill (see test_signals.cpp)

fs::path make_capture(const fs::path& dir) {
  const fs::path gen = privateer_bin().parent_path().parent_path() / "perf" / "gen_telescope";
  if (!fs::exists(gen)) return {};
  const fs::path cap = dir / "capture.pcap";
  if (run_command(quote(gen) + " -q -o " + quote(cap) + " -n 80000 --pps 400 --seed 12") != 0) return {};
  return cap;
}

// The defaults for everything but the input and the output names (so the
// metrics endpoint is on, at 127.0.0.1:9761).
std::string default_config(const std::string& source, const std::string& extra = "") {
  return "packetsource: " + source + "\nouttemplate: \"%P-%s.avro\"\n" + extra + "plugins:\n  - flowtuple\n";
}

bool has(const fs::path& file, const std::string& text) {
  return fs::exists(file) && read_file(file).find(text) != std::string::npos;
}

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

// The port in the run's "metrics on http://127.0.0.1:PORT/metrics" line (0: none).
int served_port(const fs::path& out) {
  std::smatch m;
  const std::string text = read_file(out);
  return std::regex_search(text, m, std::regex("metrics on http://127\\.0\\.0\\.1:([0-9]+)/metrics")) ? std::stoi(m[1])
                                                                                                         : 0;
}

std::string scrape(int port) {
  std::string m;
  run_stdout("curl -s http://127.0.0.1:" + std::to_string(port) + "/metrics", &m);
  return m;
}

// One scrape in the text exposition format: per family its type and the
// label-name sets of its samples (names joined by ',').
struct Exposition {
  std::map<std::string, std::string> types;
  std::map<std::string, std::set<std::string>> label_sets;
  std::map<std::string, double> first_value;
};

Exposition parse_exposition(const std::string& text) {
  Exposition e;
  for (const auto& line : lines_of(text)) {
    if (line.empty()) continue;
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream in(line.substr(7));
      std::string name, type;
      in >> name >> type;
      e.types[name] = type;
      continue;
    }
    if (line[0] == '#') continue;
    size_t i = line.find_first_of("{ ");
    const std::string name = line.substr(0, i);
    std::string names;
    if (i != std::string::npos && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        const size_t eq = line.find('=', i);
        if (!names.empty()) names += ',';
        names.append(line, i, eq - i);
        i = eq + 2;  // past ="
        while (i < line.size() && line[i] != '"') i += line[i] == '\\' ? 2 : 1;
        ++i;  // past the closing quote
        if (i < line.size() && line[i] == ',') ++i;
      }
      ++i;
    }
    if (!e.first_value.count(name)) e.first_value[name] = std::stod(line.substr(line.find(' ', i) + 1));
    // A summary's (prometheus-cpp's own exposer_request_latencies) samples
    // are NAME{quantile}, NAME_sum and NAME_count: one family, one label set
    // besides the quantile.
    std::string family = name;
    for (const char* suffix : {"_sum", "_count"}) {
      const size_t n = std::strlen(suffix);
      if (name.size() > n && name.compare(name.size() - n, n, suffix) == 0 &&
          e.types.count(name.substr(0, name.size() - n)) && e.types.at(name.substr(0, name.size() - n)) == "summary") {
        family = name.substr(0, name.size() - n);
      }
    }
    if (e.types.count(family) && e.types.at(family) == "summary") {
      names = std::regex_replace(names, std::regex("(^|,)quantile(,|$)"), "$1");
      if (!names.empty() && names.back() == ',') names.pop_back();
    }
    e.label_sets[family].insert(names);
  }
  return e;
}

// The checks every scrape passes: one label-name set per family, counters
// (and only counters) end in _total, promtool finds nothing to lint.
void check_exposition(const std::string& text, const fs::path& dir) {
  const Exposition e = parse_exposition(text);
  ASSERT_FALSE(e.label_sets.empty()) << text;
  for (const auto& [name, sets] : e.label_sets) {
    EXPECT_EQ(sets.size(), 1u) << name << " has " << sets.size() << " label sets";
    ASSERT_TRUE(e.types.count(name)) << name << " has no TYPE line";
    const bool total = name.size() > 6 && name.compare(name.size() - 6, 6, "_total") == 0;
    EXPECT_EQ(e.types.at(name) == "counter", total) << name << " is a " << e.types.at(name);
  }
  if (run_command("command -v promtool") != 0) skip_part("promtool (prometheus) missing: exposition not linted");
  if (run_command("command -v promtool") == 0) {
    std::ofstream(dir / "scrape.txt") << text;
    std::string lint;
    EXPECT_EQ(run_command("promtool check metrics < " + quote(dir / "scrape.txt"), &lint), 0) << lint;
  }
}

}  // namespace

// One process per capture, all on the same default config (corsaro3's docker
// recipes do this): the run that finds the metrics port taken warns once and
// goes on; both finish with exit 0 and every packet in their output.
TEST(Endpoint, TwoRunsOnTheDefaultConfigAtOnce) {
  if (run_command("command -v avrocat && command -v capinfos") != 0) GTEST_SKIP() << "avrocat or capinfos missing";
  TempDir tmp;
  const fs::path cap = make_capture(tmp.path);
  if (cap.empty()) GTEST_SKIP() << "perf/gen_telescope not built";
  const uint64_t want = capture_packets(cap);
  const fs::path dir_a = tmp.path / "a", dir_b = tmp.path / "b";
  fs::create_directories(dir_a);
  fs::create_directories(dir_b);
  std::ofstream(dir_a / "privateer.yaml") << default_config((tmp.path / "in.pcap").string());
  std::ofstream(dir_b / "privateer.yaml") << default_config(cap.string());

  // A: held in the middle of its input by the FIFO.
  FifoWriter fifo(tmp.path / "in.pcap");
  BackgroundRun a({"-c", "privateer.yaml"}, tmp.path / "a.out", dir_a);
  ASSERT_TRUE(fifo.open_when_read()) << read_file(tmp.path / "a.out");
  ASSERT_TRUE(fifo.write_part(cap, 0, kStartBytes));
  ASSERT_TRUE(wait_until([&] { return has(tmp.path / "a.out", "reading "); }, 30)) << read_file(tmp.path / "a.out");

  // B, start to end while A runs.
  std::string out_b;
  EXPECT_EQ(run_command("cd " + quote(dir_b) + " && " + quote(privateer_bin()) + " -c privateer.yaml", &out_b), 0)
      << out_b;
  EXPECT_EQ(count_of(out_b, "cannot serve metrics on 127.0.0.1:9761"), 1u) << out_b;
  EXPECT_NE(out_b.find("without a metrics endpoint"), std::string::npos) << out_b;

  ASSERT_TRUE(fifo.write_part(cap, kStartBytes, SIZE_MAX));
  fifo.close();
  EXPECT_EQ(a.wait(120), 0) << read_file(tmp.path / "a.out");
  EXPECT_EQ(flowtuple_packets(dir_a), want);
  EXPECT_EQ(flowtuple_packets(dir_b), want);
}

// A live capture is watched through its endpoint: a taken port stops it at
// start, naming the key. (Capturing on lo needs root.)
TEST(Endpoint, BusyPortStopsALiveCaptureAtStart) {
  if (geteuid() != 0) GTEST_SKIP() << "capturing on lo needs root";
  const int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(s, 1), 0);
  ASSERT_EQ(getsockname(s, reinterpret_cast<sockaddr*>(&a), &len), 0);
  const int port = ntohs(a.sin_port);
  TempDir tmp;
  std::ofstream(tmp.path / "privateer.yaml")
      << default_config("int:lo", "prometheus:\n  listen: 127.0.0.1:" + std::to_string(port) + "\n");
  std::string out;
  const int rc = run_command("cd " + quote(tmp.path) + " && " + quote(privateer_bin()) + " -c privateer.yaml", &out);
  close(s);
  if (out.find("packet source:") != std::string::npos) GTEST_SKIP() << "cannot capture on lo here: " << out;
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("config key 'prometheus.listen' (line 4): cannot serve metrics on 127.0.0.1:" +
                     std::to_string(port)),
            std::string::npos)
      << out;
}

// With the endpoint on, a file run's process ends right after its summary
// (stopping the endpoint used to add 1.4-2 s). The fastest of three runs.
TEST(Endpoint, FileRunEndsRightAfterItsSummary) {
  TempDir tmp;
  const fs::path cap = source_root() / "configs" / "quickstart" / "telescope.pcap";
  std::ofstream(tmp.path / "privateer.yaml")
      << default_config(cap.string(), "prometheus: {listen: \"127.0.0.1:0\"}\n");
  double best = 1e9;
  for (int i = 0; i < 3; ++i) {
    FILE* p = popen(("cd " + quote(tmp.path) + " && " + quote(privateer_bin()) + " -c privateer.yaml 2>&1").c_str(), "r");
    ASSERT_NE(p, nullptr);
    char line[4096];
    std::string out;
    auto summary = std::chrono::steady_clock::time_point::max();
    while (fgets(line, sizeof line, p)) {
      if (std::string(line).rfind("privateer: ", 0) == 0) summary = std::chrono::steady_clock::now();
      out += line;
    }
    const int st = pclose(p);
    const auto end = std::chrono::steady_clock::now();
    ASSERT_EQ(st, 0) << out;
    ASSERT_NE(out.find("metrics on http://127.0.0.1:"), std::string::npos) << out;  // the endpoint was up
    ASSERT_NE(summary, std::chrono::steady_clock::time_point::max()) << out;
    best = std::min(best, std::chrono::duration<double>(end - summary).count());
  }
  EXPECT_LT(best, 0.3) << "seconds from the summary to the exit";
}

// A scrape taken in the middle of a file run: every family has one label
// set, counters end in _total, promtool lints nothing; the renamed metrics
// and the process_* ones are there with plausible values.
TEST(Endpoint, ScrapeDuringAFileRunIsConsistent) {
  TempDir tmp;
  const fs::path cap = make_capture(tmp.path);
  if (cap.empty()) GTEST_SKIP() << "perf/gen_telescope not built";
  std::ofstream(tmp.path / "privateer.yaml")
      << default_config((tmp.path / "in.pcap").string(), "threads: 2\nprometheus: {listen: \"127.0.0.1:0\"}\n");
  const fs::path out = tmp.path / "run.out";
  FifoWriter fifo(tmp.path / "in.pcap");
  BackgroundRun run({"-c", "privateer.yaml"}, out, tmp.path);
  ASSERT_TRUE(fifo.open_when_read()) << read_file(out);
  ASSERT_TRUE(fifo.write_part(cap, 0, kStartBytes));
  ASSERT_TRUE(wait_until([&] { return has(out, "reading "); }, 30)) << read_file(out);
  const int port = served_port(out);
  ASSERT_GT(port, 0) << read_file(out);
  std::string text;
  ASSERT_TRUE(wait_until(
      [&] {
        text = scrape(port);
        const Exposition e = parse_exposition(text);
        return e.first_value.count("privateer_worker_packets_total") &&
               e.first_value.at("privateer_worker_packets_total") > 0;
      },
      30))
      << text;
  check_exposition(text, tmp.path);
  const Exposition e = parse_exposition(text);
  for (const char* name : {"privateer_rx_packets_total", "privateer_rx_bytes_total", "privateer_source_read_bytes_total",
                           "privateer_source_size_bytes", "privateer_worker_intervals_total", "process_cpu_seconds_total",
                           "process_start_time_seconds", "process_resident_memory_bytes", "process_virtual_memory_bytes",
                           "process_open_fds", "process_max_fds"}) {
    EXPECT_TRUE(e.label_sets.count(name)) << name << " missing:\n" << text;
  }
  EXPECT_EQ(*e.label_sets.at("privateer_rx_packets_total").begin(), "source");
  EXPECT_FALSE(e.label_sets.count("privateer_source_read_bytes")) << "renamed to _total";
  const double start = e.first_value.at("process_start_time_seconds");
  EXPECT_LE(start, static_cast<double>(std::time(nullptr)) + 1);
  EXPECT_GE(start, static_cast<double>(std::time(nullptr)) - 120);
  EXPECT_GT(e.first_value.at("process_open_fds"), 3);
  EXPECT_GE(e.first_value.at("process_max_fds"), e.first_value.at("process_open_fds"));
  EXPECT_GE(e.first_value.at("process_virtual_memory_bytes"), e.first_value.at("process_resident_memory_bytes"));

  ASSERT_TRUE(fifo.write_part(cap, kStartBytes, SIZE_MAX));
  fifo.close();
  EXPECT_EQ(run.wait(120), 0) << read_file(out);
}

// The same on DPDK ports (net_pcap vdev, no NIC): the per-queue counts are
// their own family; the source totals keep their {source} label.
TEST(Endpoint, ScrapeDuringADpdkRunIsConsistent) {
  TempDir tmp;
  const fs::path cap = source_root() / "configs" / "quickstart" / "telescope.pcap";
  const std::string prefix = "privateer-endpoint-" + std::to_string(getpid());
  struct RemoveRuntimeDir {
    std::string p;
    ~RemoveRuntimeDir() {
      std::error_code ec;
      fs::remove_all(fs::path("/var/run/dpdk") / p, ec);
    }
  } cleanup{prefix};
  std::ofstream(tmp.path / "privateer.yaml")
      << "packetsource: dpdk\n"
      << "dpdk:\n  eal: [--no-huge, --no-pci, -m, \"512\", --log-level, \"lib.eal:error\", --file-prefix, \"" << prefix
      << "\", --vdev, \"net_pcap0,rx_pcap=" << cap.string() << ",rx_pcap=" << cap.string() << "\"]\n"
      << "  ports:\n    - device: net_pcap0\n      rx_queues: 2\n"
      << "threads: 2\nouttemplate: \"%P-%s.avro\"\nprometheus: {listen: \"127.0.0.1:0\"}\nplugins:\n  - flowtuple\n";
  const fs::path out = tmp.path / "run.out";
  BackgroundRun run({"-c", "privateer.yaml"}, out, tmp.path);
  if (!wait_until([&] { return has(out, "reading ") || !run.running(); }, 60) || !run.running()) {
    GTEST_SKIP() << "DPDK does not start here: " << read_file(out);
  }
  const int port = served_port(out);
  ASSERT_GT(port, 0) << read_file(out);
  const uint64_t want = 2 * capture_packets(cap);
  std::string text;
  ASSERT_TRUE(wait_until(
      [&] {
        text = scrape(port);
        const Exposition e = parse_exposition(text);
        return e.first_value.count("privateer_rx_packets_total") &&
               e.first_value.at("privateer_rx_packets_total") == static_cast<double>(want);
      },
      60))
      << text;
  check_exposition(text, tmp.path);
  const Exposition e = parse_exposition(text);
  EXPECT_EQ(*e.label_sets.at("privateer_rx_packets_total").begin(), "source");
  EXPECT_EQ(*e.label_sets.at("privateer_nic_rx_packets_total").begin(), "port,queue");
  EXPECT_EQ(*e.label_sets.at("privateer_rx_dropped_packets_total").begin(), "port,reason");
  EXPECT_EQ(*e.label_sets.at("privateer_rx_port_packets_total").begin(), "port");
  // The per-queue counts add up to the source total.
  const std::regex q("privateer_nic_rx_packets_total\\{[^}]*\\} ([0-9.e+]+)");
  double sum = 0;
  for (std::sregex_iterator it(text.begin(), text.end(), q), end; it != end; ++it) sum += std::stod((*it)[1]);
  EXPECT_EQ(sum, static_cast<double>(want)) << text;
  run.signal(SIGINT);
  EXPECT_EQ(run.wait(20), 0) << read_file(out);
}
