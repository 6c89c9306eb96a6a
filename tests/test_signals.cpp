// The signals operators send to a running privateer: SIGHUP reopens the log
// file (logrotate), SIGUSR1 logs the counters, SIGINT/SIGTERM stop it in
// every state. Runs are kept going by a FIFO the test feeds, so each signal
// lands where the test wants it; what the run wrote is read back with
// avrocat and the input counted with capinfos.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "tests/test_support.hpp"

namespace fs = std::filesystem;
using namespace privateer::test;

namespace {

// Enough bytes for the run to be past its start (wandio fills about 2 MiB of
// a FIFO before it hands over the first packets).
constexpr size_t kStartBytes = 3u << 20;

// A 6 MB capture over 200 s (four 60 s intervals) from perf/gen_telescope;
// empty when the generator is not built.
fs::path make_capture(const fs::path& dir) {
  const fs::path gen = privateer_bin().parent_path().parent_path() / "perf" / "gen_telescope";
  if (!fs::exists(gen)) return {};
  const fs::path cap = dir / "capture.pcap";
  if (run_command(quote(gen) + " -q -o " + quote(cap) + " -n 80000 --pps 400 --seed 11") != 0) return {};
  return cap;
}

fs::path write_config(const fs::path& dir, const fs::path& source, const std::string& extra) {
  const fs::path p = dir / "privateer.yaml";
  std::ofstream(p) << "packetsource: " << source.string() << "\ninterval: 60\nrotatefreq: 0\nthreads: 2\n"
                   << "outtemplate: " << (dir / "%P-%s.avro").string() << "\nprogress: no\n"
                   << extra << "plugins:\n  - flowtuple\n";
  return p;
}

bool has(const fs::path& file, const std::string& text) {
  return fs::exists(file) && read_file(file).find(text) != std::string::npos;
}

// The number after "counters: " in the last counters line of `log` (-1 if none).
long long logged_packets(const std::string& log) {
  const std::regex re("counters: ([0-9]+) packets");
  long long n = -1;
  for (std::sregex_iterator it(log.begin(), log.end(), re), end; it != end; ++it) n = std::stoll((*it)[1]);
  return n;
}

// Per interval start, the packets of the complete flowtuple files in `dir`
// (the records' packet_cnt summed by their time, read with avrocat).
std::map<uint64_t, uint64_t> packets_per_interval(const fs::path& dir) {
  std::map<uint64_t, uint64_t> per;
  const std::regex rec_re("\"time\": ([0-9]+),.*\"packet_cnt\": ([0-9]+)");
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("flowtuple-", 0) != 0 || e.path().extension() != ".avro") continue;
    std::string out;
    EXPECT_EQ(run_stdout("avrocat " + quote(e.path()), &out), 0) << e.path();
    std::smatch m;
    for (const auto& l : lines_of(out)) {
      if (std::regex_search(l, m, rec_re)) per[std::stoull(m[1])] += std::stoull(m[2]);
    }
  }
  return per;
}

}  // namespace

// logrotate's pattern: the log file is renamed, then SIGHUP. The renamed file
// keeps every line from before, a new file at logfilename gets every line
// after; SIGUSR1's counters go to the new one; no packet is lost; exit 0.
TEST(Signals, SighupReopensTheLogFileMidRun) {
  if (run_command("command -v avrocat && command -v capinfos") != 0) GTEST_SKIP() << "avrocat or capinfos missing";
  TempDir tmp;
  const fs::path cap = make_capture(tmp.path);
  if (cap.empty()) GTEST_SKIP() << "perf/gen_telescope not built";
  const uint64_t want = capture_packets(cap);
  ASSERT_GT(want, 0u);
  const fs::path log = tmp.path / "privateer.log", rotated = tmp.path / "privateer.log.1";
  FifoWriter fifo(tmp.path / "in.pcap");
  const fs::path cfg =
      write_config(tmp.path, tmp.path / "in.pcap", "logfilename: " + log.string() + "\nprometheus: {enabled: no}\n");
  BackgroundRun run({"-c", cfg.string(), "-l", "file"}, tmp.path / "run.out");
  ASSERT_TRUE(fifo.open_when_read()) << read_file(tmp.path / "run.out");
  ASSERT_TRUE(fifo.write_part(cap, 0, kStartBytes));
  ASSERT_TRUE(wait_until([&] { return has(log, "reading "); }, 30)) << read_file(log);

  fs::rename(log, rotated);
  run.signal(SIGHUP);
  ASSERT_TRUE(wait_until([&] { return has(log, "log file reopened"); }, 10)) << read_file(rotated);
  run.signal(SIGUSR1);
  ASSERT_TRUE(wait_until([&] { return has(log, "counters: output"); }, 10)) << read_file(log);
  ASSERT_TRUE(run.running());
  ASSERT_TRUE(fifo.write_part(cap, kStartBytes, SIZE_MAX));
  fifo.close();
  const int rc = run.wait(120);
  const std::string out = read_file(tmp.path / "run.out");
  ASSERT_EQ(rc, 0) << out;

  const std::string before = read_file(rotated), after = read_file(log);
  EXPECT_NE(before.find("reading "), std::string::npos) << before;
  EXPECT_NE(before.find("received SIGHUP: reopening the log file"), std::string::npos) << before;
  EXPECT_EQ(before.find("log file reopened"), std::string::npos) << before;
  EXPECT_EQ(before.find("counters:"), std::string::npos) << before;
  EXPECT_EQ(after.find("reading "), std::string::npos) << after;
  const long long mid = logged_packets(after);
  EXPECT_GE(mid, 0) << after;
  EXPECT_LE(mid, static_cast<long long>(want)) << after;
  // No line written twice, none dropped between the two files.
  std::set<std::string> a, b;
  for (const auto& l : lines_of(before)) a.insert(l);
  for (const auto& l : lines_of(after)) b.insert(l);
  for (const auto& l : b) EXPECT_EQ(a.count(l), 0u) << "in both files: " << l;

  EXPECT_NE(out.find("privateer: " + std::to_string(want) + " packets"), std::string::npos) << out;
  EXPECT_EQ(flowtuple_packets(tmp.path), want);
}

// After a file run, while --hold-metrics keeps it serving: SIGHUP without a
// log file is logged and ignored, SIGUSR1 logs the final counters (those of
// the run summary), and SIGTERM then ends the run at once with exit 0.
TEST(Signals, HupAndUsr1WhileHoldingThenSigterm) {
  if (run_command("command -v capinfos") != 0) GTEST_SKIP() << "capinfos missing";
  TempDir tmp;
  const fs::path cap = source_root() / "configs" / "quickstart" / "telescope.pcap";
  const uint64_t want = capture_packets(cap);
  ASSERT_GT(want, 0u);
  const fs::path cfg = write_config(tmp.path, cap, "prometheus: {listen: \"127.0.0.1:0\"}\n");
  const fs::path out = tmp.path / "run.out";
  BackgroundRun run({"-c", cfg.string(), "--hold-metrics", "60"}, out);
  ASSERT_TRUE(wait_until([&] { return has(out, "serving metrics for 60 s more"); }, 30)) << read_file(out);

  run.signal(SIGHUP);
  ASSERT_TRUE(wait_until([&] { return has(out, "received SIGHUP: not logging to a file"); }, 10)) << read_file(out);
  run.signal(SIGUSR1);
  ASSERT_TRUE(wait_until([&] { return has(out, "counters: output"); }, 10)) << read_file(out);
  EXPECT_TRUE(run.running());
  const std::string text = read_file(out);
  EXPECT_EQ(logged_packets(text), static_cast<long long>(want)) << text;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(text, m, std::regex("\n  flowtuple: ([0-9]+) records in 1 file"))) << text;
  EXPECT_NE(text.find("counters: output flowtuple " + m[1].str() + " records in 1 completed file(s)"),
            std::string::npos)
      << text;

  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(5), 0) << read_file(out);
}

// A second SIGINT while the first one's orderly stop is still going ends
// the process at once (exit 128 + signal), saying so. The stop is held up
// for flush_timeout (30 s) by a timeseries sink that cannot connect (port 1
// on loopback refuses) and the report's rows for it: the run is still
// stopping when the second signal comes.
TEST(Signals, SecondSigintEndsARunThatIsStillStopping) {
  TempDir tmp;
  const fs::path cap = source_root() / "configs" / "quickstart" / "telescope.pcap";
  FifoWriter fifo(tmp.path / "in.pcap");
  const fs::path cfg = tmp.path / "privateer.yaml";
  std::ofstream(cfg) << "packetsource: " << (tmp.path / "in.pcap").string() << "\ninterval: 60\nthreads: 2\n"
                     << "outtemplate: " << (tmp.path / "%P-%s.avro").string() << "\nprogress: no\n"
                     << "prometheus: {enabled: no}\n"
                     << "libtimeseriesbackends:\n  - graphite: {host: 127.0.0.1, port: 1, flush_timeout: 30}\n"
                     << "plugins:\n  - report: {output_format: libtimeseries, report_partial: yes}\n";
  const fs::path out = tmp.path / "run.out";
  BackgroundRun run({"-c", cfg.string()}, out);
  ASSERT_TRUE(fifo.open_when_read()) << read_file(out);
  ASSERT_TRUE(fifo.write_part(cap, 0, 100000));
  ASSERT_TRUE(wait_until([&] { return has(out, "reading "); }, 10)) << read_file(out);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  run.signal(SIGINT);
  ASSERT_TRUE(wait_until([&] { return has(out, "received SIGINT: stopping"); }, 10)) << read_file(out);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_TRUE(run.running()) << read_file(out);
  run.signal(SIGINT);
  EXPECT_EQ(run.wait(10), 128 + SIGINT) << read_file(out);
  EXPECT_TRUE(has(out, "exiting at once")) << read_file(out);
}

// SIGINT or SIGTERM in the middle of an interval: a FIFO is fed a generated
// capture (200 s, four 60 s intervals) up to 45 s into its third interval;
// once the run has counted packets of that interval, the signal, while the
// rest flows in. Against the capture's packet times (tshark): exit 0; the
// two intervals before the cut hold every one of their packets (the first
// marked partial, as a run's first interval is, the second not); the third,
// marked partial, holds exactly the packets the summary counts past the
// first two, fewer than the whole interval; nothing after it.
class StopSignal : public ::testing::TestWithParam<int> {};

TEST_P(StopSignal, CutMidIntervalKeepsEarlierIntervalsWhole) {
  PRIVATEER_REQUIRE_TOOL("command -v tshark && command -v editcap && command -v avrocat",
                         "tshark, editcap (tshark, wireshark-common) or avrocat (avro-bin)");
  const int signo = GetParam();
  const std::string signame = signo == SIGINT ? "SIGINT" : "SIGTERM";
  TempDir tmp;
  const fs::path gen = privateer_bin().parent_path().parent_path() / "perf" / "gen_telescope";
  const fs::path cap = tmp.path / "capture.pcap";
  ASSERT_EQ(run_command(quote(gen) + " -q -o " + quote(cap) + " -n 200k --pps 1000 --seed 13"), 0);
  std::string times;
  ASSERT_EQ(run_stdout("tshark -n -r " + quote(cap) + " -T fields -e frame.time_epoch 2>/dev/null", &times), 0);
  std::vector<uint64_t> secs;
  for (const auto& l : lines_of(times)) secs.push_back(std::stoull(l.substr(0, l.find('.'))));
  ASSERT_EQ(secs.size(), 200000u);
  std::map<uint64_t, uint64_t> whole;   // interval start -> packets in the capture
  for (uint64_t t : secs) ++whole[t / 60 * 60];
  ASSERT_GE(whole.size(), 4u);
  const uint64_t i1 = whole.begin()->first, i2 = i1 + 60, i3 = i2 + 60;
  const uint64_t before_i3 = whole[i1] + whole[i2];
  const uint64_t fed = static_cast<uint64_t>(std::count_if(secs.begin(), secs.end(), [&](uint64_t t) { return t < i3 + 45; }));
  const fs::path prefix = tmp.path / "prefix.pcap";
  ASSERT_EQ(run_command("editcap -F pcap -r " + quote(cap) + " " + quote(prefix) + " 1-" + std::to_string(fed)), 0);

  FifoWriter fifo(tmp.path / "in.pcap");
  const fs::path cfg = write_config(tmp.path, tmp.path / "in.pcap", "prometheus: {enabled: no}\n");
  const fs::path out = tmp.path / "run.out";
  BackgroundRun run({"-c", cfg.string()}, out);
  ASSERT_TRUE(fifo.open_when_read()) << read_file(out);
  ASSERT_TRUE(fifo.write_part(prefix, 0, SIZE_MAX));
  // SIGUSR1 logs the counters: wait until they are past the second interval.
  ASSERT_TRUE(wait_until(
      [&] {
        run.signal(SIGUSR1);
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        return logged_packets(read_file(out)) > static_cast<long long>(before_i3);
      },
      60))
      << read_file(out);
  // The signal, while the rest of the capture goes on flowing in (a run
  // whose input stalls is tested with the FIFO tests).
  run.signal(signo);
  const std::string data = read_file(cap);
  size_t off = fs::file_size(prefix);
  ASSERT_EQ(data.compare(24, off - 24, read_file(prefix), 24, off - 24), 0) << "the prefix is the capture's first bytes";
  wait_until([&] { return (off = fifo.write_nowait(data, off), !run.running()); }, 10);
  const int rc = run.wait(0);
  fifo.close();
  ASSERT_EQ(rc, 0) << "no exit 0 within 10 s of " << signame << ": " << read_file(out);
  const std::string text = read_file(out);
  EXPECT_NE(text.find("received " + signame), std::string::npos) << text;
  EXPECT_NE(text.find("stopped by signal"), std::string::npos) << text;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(text, m, std::regex("privateer: ([0-9]+) packets"))) << text;
  const uint64_t counted = std::stoull(m[1]);
  EXPECT_GT(counted, before_i3);
  EXPECT_LT(counted, before_i3 + whole[i3]) << "the signal cut the third interval";

  const auto got = packets_per_interval(tmp.path);
  ASSERT_EQ(got.size(), 3u) << text;
  EXPECT_EQ(got.at(i1), whole[i1]) << "first interval, whole";
  EXPECT_EQ(got.at(i2), whole[i2]) << "second interval, whole";
  EXPECT_EQ(got.at(i3), counted - before_i3) << "third interval: what was read of it";
  EXPECT_LT(got.at(i3), whole[i3]) << "third interval: cut";

  // The .done marker: three intervals, partial as said.
  std::vector<std::pair<uint64_t, bool>> marked;
  for (const auto& e : fs::directory_iterator(tmp.path)) {
    if (e.path().extension() != ".done") continue;
    const std::string done = read_file(e.path());
    const std::regex iv_re("\\{\"start\":([0-9]+),\"end\":[0-9]+,\"partial\":(true|false)");
    for (std::sregex_iterator it(done.begin(), done.end(), iv_re), end; it != end; ++it) {
      marked.emplace_back(std::stoull((*it)[1]), (*it)[2] == "true");
    }
  }
  std::sort(marked.begin(), marked.end());
  const std::vector<std::pair<uint64_t, bool>> want = {{i1, true}, {i2, false}, {i3, true}};
  EXPECT_EQ(marked, want);
  for (const auto& e : fs::directory_iterator(tmp.path)) {
    EXPECT_NE(e.path().extension(), ".tmp") << "temporary file left: " << e.path();
  }
}

INSTANTIATE_TEST_SUITE_P(Signals, StopSignal, ::testing::Values(SIGINT, SIGTERM),
                         [](const ::testing::TestParamInfo<int>& i) { return i.param == SIGINT ? "Sigint" : "Sigterm"; });
