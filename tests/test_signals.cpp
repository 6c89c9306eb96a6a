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

// SIGINT/SIGTERM while the run cannot stop by itself (here start-up, blocked
// on a FIFO that sends too little): the first asks it to stop, a second one
// ends the process at once (exit 128 + signal), saying so.
TEST(Signals, SecondSigintEndsARunThatCannotStop) {
  TempDir tmp;
  const fs::path cap = source_root() / "configs" / "quickstart" / "telescope.pcap";
  FifoWriter fifo(tmp.path / "in.pcap");
  const fs::path cfg = write_config(tmp.path, tmp.path / "in.pcap", "prometheus: {enabled: no}\n");
  const fs::path out = tmp.path / "run.out";
  BackgroundRun run({"-c", cfg.string()}, out);
  ASSERT_TRUE(fifo.open_when_read()) << read_file(out);
  ASSERT_TRUE(fifo.write_part(cap, 0, 100000));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  run.signal(SIGINT);
  ASSERT_TRUE(wait_until([&] { return has(out, "received SIGINT: stopping"); }, 10)) << read_file(out);
  EXPECT_TRUE(run.running()) << read_file(out);
  run.signal(SIGINT);
  EXPECT_EQ(run.wait(10), 128 + SIGINT) << read_file(out);
  EXPECT_TRUE(has(out, "exiting at once")) << read_file(out);
}
