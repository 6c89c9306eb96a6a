// The socketsink plugin through the binary, to receivers the test starts on
// loopback (tests/socket_listener.py): over UDP, one well-formed JSON line
// per interval whose packets, top sources and top destination ports equal
// what tests/socketsink_oracle.py computes from tshark's fields; over TCP,
// a listener killed and started again mid-run: the sink reconnects, lines
// arrive again, the ones that could not wait are counted as dropped.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <thread>

#include "tests/test_support.hpp"

namespace fs = std::filesystem;
using namespace privateer::test;

namespace {

// Every line of `file` checked as one JSON object by python3's json module;
// returns how many there are.
size_t check_json_lines(const fs::path& file) {
  std::string out;
  const std::string cmd = "/usr/bin/python3 -c 'import json,sys\n"
                          "n=0\n"
                          "for l in open(sys.argv[1]):\n"
                          "  o=json.loads(l)\n"
                          "  assert isinstance(o, dict) and \"packets\" in o and \"top_sources\" in o, l\n"
                          "  n+=1\n"
                          "print(n)' " +
                          quote(file);
  EXPECT_EQ(run_stdout(cmd + " 2>&1", &out), 0) << out;
  return out.empty() ? 0 : std::stoul(out);
}

// libtrace__100_seconds.pcap through socketsink over UDP to a receiver in
// `dir` (10 s intervals, the custom filter `web`, `options` added to the
// plugin's `port` and `top: 3`): every line is JSON, there are `period`-s
// periods' worth of them, and each agrees with tests/socketsink_oracle.py.
// The lines are left in dir/udp.lines.
void udp_lines_match_the_oracle(const fs::path& dir, const std::string& options, unsigned period) {
  const fs::path cap = *corpus_dir() / "libtrace__100_seconds.pcap";
  LineListener l("udp", 0, dir / "udp.lines");
  ASSERT_GT(l.port, 0);
  const fs::path cfg = dir / "s.yaml";
  std::ofstream(cfg) << "packetsource: " << cap.string() << "\ninterval: 10\nthreads: 2\nouttemplate: "
                     << (dir / "%P-%s").string() << "\nprogress: no\nprometheus: {enabled: no}\n"
                     << "filters:\n  web: \"tcp port 80\"\n"
                     << "plugins:\n  - socketsink: {port: " << l.port << ", top: 3" << options << "}\n";
  std::string log;
  ASSERT_EQ(run_command(quote(privateer_bin()) + " -c " + quote(cfg), &log), 0) << log;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(log, m, std::regex("intervals: ([0-9]+)"))) << log;
  const size_t want_lines = 10 / period * std::stoul(m[1]);
  ASSERT_TRUE(wait_until([&] { return lines_of(read_file(dir / "udp.lines")).size() >= want_lines; }, 10))
      << read_file(dir / "udp.lines");
  EXPECT_EQ(check_json_lines(dir / "udp.lines"), want_lines);
  std::string diff;
  EXPECT_EQ(run_stdout("/usr/bin/python3 " + quote(source_root() / "tests" / "socketsink_oracle.py") + " " + quote(cap) +
                           " " + std::to_string(period) + " 3 web=tcp:80 " + quote(dir / "udp.lines") + " 2>&1",
                       &diff),
            0)
      << diff;
}

TEST(SocketSink, UdpLinesMatchTheOracle) {
  PRIVATEER_REQUIRE_CORPUS();
  PRIVATEER_REQUIRE_TOOL("command -v tshark", "tshark");
  TempDir tmp("privateer-socketsink");
  udp_lines_match_the_oracle(tmp.path, "", 10);
}

// period: 2 s periods of 10 s intervals: five lines an interval, each
// period's counts equal the oracle's for 2 s; `counters` carries the run's
// counters: the fed-packets counter goes up line by line and, at the last
// interval's merge, equals every packet.
TEST(SocketSink, PeriodsShorterThanTheIntervalAndTheRunsCounters) {
  PRIVATEER_REQUIRE_CORPUS();
  PRIVATEER_REQUIRE_TOOL("command -v tshark", "tshark");
  TempDir tmp("privateer-socketsink");
  ASSERT_NO_FATAL_FAILURE(udp_lines_match_the_oracle(
      tmp.path, ", period: 2, counters: [privateer_plugin_packets_total, privateer_alarms_total]", 2));
  std::string out;
  EXPECT_EQ(run_stdout("/usr/bin/python3 -c 'import json,sys\nls=[json.loads(l) for l in open(sys.argv[1])]\n"
                       "fed=[[c[\"value\"] for c in o[\"counters\"] if c[\"name\"]==\"privateer_plugin_packets_total\" "
                       "and c[\"labels\"]=={\"plugin\":\"socketsink\"}][0] for o in ls]\n"
                       "assert fed==sorted(fed), fed\n"
                       "assert fed[-1]==sum(o[\"packets\"] for o in ls), (fed[-1], sum(o[\"packets\"] for o in ls))\n"
                       "print(\"ok\")' " + quote(tmp.path / "udp.lines") + " 2>&1",
                       &out),
            0)
      << out;
  // A period that does not divide the interval is refused, naming the key.
  const fs::path cfg = tmp.path / "bad.yaml";
  std::ofstream(cfg) << "packetsource: " << (*corpus_dir() / "libtrace__100_seconds.pcap").string()
                     << "\ninterval: 10\nouttemplate: " << (tmp.path / "%P-%s").string()
                     << "\nprometheus: {enabled: no}\nplugins:\n  - socketsink: {port: 9, period: 3}\n";
  std::string log;
  EXPECT_NE(run_command(quote(privateer_bin()) + " -c " + quote(cfg), &log), 0);
  EXPECT_NE(log.find("plugins.socketsink.period"), std::string::npos) << log;
}

// A TCP listener killed while the run goes on (a FIFO the test feeds), then
// started again on the same port: the sink reconnects and lines arrive.
TEST(SocketSink, TcpReconnectsAndCountsWhatItDropped) {
  const fs::path gen = privateer_bin().parent_path().parent_path() / "perf" / "gen_telescope";
  if (!fs::exists(gen)) GTEST_SKIP() << "perf/gen_telescope not built";
  TempDir tmp("privateer-socketsink");
  const fs::path cap = tmp.path / "t.pcap";
  ASSERT_EQ(run_command(quote(gen) + " -q -o " + quote(cap) + " -n 4000 --pps 100 --seed 3"), 0);   // 40 s
  const fs::path lines = tmp.path / "tcp.lines";
  auto first = std::make_unique<LineListener>("tcp", 0, lines);
  const int port = first->port;
  ASSERT_GT(port, 0);
  FifoWriter fifo(tmp.path / "in.pcap");
  const fs::path cfg = tmp.path / "s.yaml";
  std::ofstream(cfg) << "packetsource: " << (tmp.path / "in.pcap").string() << "\ninterval: 1\nouttemplate: "
                     << (tmp.path / "%P-%s").string() << "\nprogress: no\nprometheus: {listen: \"127.0.0.1:0\"}\n"
                     << "plugins:\n  - socketsink: {protocol: tcp, port: " << port << ", queue: 2}\n";
  const fs::path log = tmp.path / "run.out";
  BackgroundRun run({"-c", cfg.string()}, log);
  ASSERT_TRUE(fifo.open_when_read()) << read_file(log);
  const size_t size = fs::file_size(cap);
  ASSERT_TRUE(fifo.write_part(cap, 0, size / 4));
  ASSERT_TRUE(wait_until([&] { return lines_of(read_file(lines)).size() >= 3; }, 30)) << read_file(log);
  first->stop();
  // Ten seconds of packets while nobody listens: lines queue (2 at most).
  ASSERT_TRUE(fifo.write_part(cap, size / 4, size / 2));
  ASSERT_TRUE(wait_until([&] { return read_file(log).find("cannot connect") != std::string::npos; }, 30)) << read_file(log);
  const size_t before = lines_of(read_file(lines)).size();
  LineListener second("tcp", port, lines);
  ASSERT_EQ(second.port, port);
  // The rest, a piece a second, until lines come again.
  size_t at = size / 2;
  for (size_t k = 0; k < 9 && lines_of(read_file(lines)).size() <= before; ++k, at += size / 20) {
    ASSERT_TRUE(fifo.write_part(cap, at, at + size / 20));
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  ASSERT_TRUE(wait_until([&] { return lines_of(read_file(lines)).size() > before; }, 15)) << read_file(log);
  ASSERT_TRUE(fifo.write_part(cap, at, SIZE_MAX));
  fifo.close();
  EXPECT_EQ(run.wait(60), 0) << read_file(log);
  const std::string text = read_file(log);
  EXPECT_NE(text.find("connected to 127.0.0.1:" + std::to_string(port)), std::string::npos) << text;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(text, m, std::regex("socket sink socketsink: ([0-9]+) lines sent, ([0-9]+) dropped, ([0-9]+) connection")))
      << text;
  EXPECT_GT(std::stoul(m[2]), 0u) << text;   // the queue of 2 overflowed while nobody listened
  EXPECT_GE(std::stoul(m[3]), 2u) << text;
  // Every complete line is JSON (a line cut by the kill is marked <cut>).
  std::string whole;
  for (const auto& l : lines_of(read_file(lines))) {
    if (!l.ends_with("<cut>")) whole += l + "\n";
  }
  std::ofstream(tmp.path / "whole.lines") << whole;
  EXPECT_GT(check_json_lines(tmp.path / "whole.lines"), before);
}

}  // namespace
