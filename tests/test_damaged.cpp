// Damaged input through the binary: every complete packet is analysed (the
// count compared with tcpdump's on the same bytes), the damage is logged with
// file, offset and reason, counted in privateer_input_errors_total{reason},
// the results are written and renamed with their .done files, and the exit
// status is 3. FIFOs and standard input: opened once, never hang, and a stop
// signal ends a run waiting for a writer.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/test_support.hpp"

namespace fs = std::filesystem;
using namespace privateer::test;

namespace {

std::optional<fs::path> defect(const std::string& name) {
  const auto s = shared_dir();
  if (!s || !fs::exists(*s / "defects" / name)) return std::nullopt;
  return *s / "defects" / name;
}

#define REQUIRE_DEFECT(var, name)                                              \
  const auto var = defect(name);                                              \
  if (!var) GTEST_SKIP() << "../shared/defects/" << (name) << " absent"

fs::path config(const fs::path& dir, const std::string& source, const std::string& extra = "") {
  const fs::path p = dir / "privateer.yaml";
  std::ofstream(p) << "packetsource: " << source << "\ninterval: 60\nrotatefreq: 0\nthreads: 2\n"
                   << "outtemplate: " << (dir / "out" / "%P-%s.avro").string() << "\nmonitorid: dmg\n"
                   << "progress: no\n"
                   << (extra.empty() ? "prometheus:\n  enabled: no\n" : extra) << "plugins:\n  - flowtuple\n";
  fs::create_directories(dir / "out");
  return p;
}

struct Result {
  int rc = -1;
  std::string out;
  uint64_t packets = 0;  // from the summary
};

Result run_privateer(const TempDir& t, const std::string& source, const std::string& stdin_from = "") {
  Result r;
  const fs::path cfg = config(t.path, source);
  r.rc = run_command(quote(privateer_bin()) + " -c " + quote(cfg) + (stdin_from.empty() ? "" : " < " + stdin_from),
                     &r.out);
  std::smatch m;
  if (std::regex_search(r.out, m, std::regex("privateer: ([0-9]+) packets"))) r.packets = std::stoull(m[1]);
  return r;
}

// tcpdump's packet count for the output of a shell command that writes a capture.
uint64_t tcpdump_count(const std::string& producer) {
  std::string n;
  // One line per packet: those starting with the time (-tt: seconds.µs).
  EXPECT_EQ(run_stdout("(" + producer +
                           ") 2>/dev/null | tcpdump -n -tt -r - 2>/dev/null | grep -cE '^[0-9]+\\.[0-9]{6} ' || true",
                       &n),
            0);
  return std::stoull(n);
}

// Every output file completed: renamed, with its .done marker, none left .tmp.
void expect_outputs_complete(const fs::path& dir) {
  size_t avro = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    EXPECT_EQ(name.find(".tmp"), std::string::npos) << "temporary file left: " << name;
    if (e.path().extension() == ".avro") {
      ++avro;
      EXPECT_TRUE(fs::exists(e.path().string() + ".done")) << name << " has no .done";
    }
  }
  EXPECT_GT(avro, 0u) << "no output written";
}

// The flowtuple files count every IPv4 packet there is (tshark's count).
void expect_flowtuples_count_ipv4(const fs::path& out, const std::string& capture_producer) {
  std::string n;
  ASSERT_EQ(run_stdout("(" + capture_producer + ") 2>/dev/null | tshark -n -r - -Y ip 2>/dev/null | wc -l", &n), 0);
  EXPECT_EQ(flowtuple_packets(out), std::stoull(n));
}

std::string cat(const fs::path& p) { return "cat " + quote(p); }

}  // namespace

// tcpdump: "truncated dump file"; it reads 0 packets, and so do we.
TEST(Damaged, CaplenPastEndOfFileIsATruncatedRecord) {
  REQUIRE_DEFECT(f, "pcap-caplen-past-eof.pcap");
  std::string td;
  run_command("tcpdump -n -r " + quote(*f), &td);
  EXPECT_NE(td.find("truncated dump file"), std::string::npos) << td;
  TempDir t;
  const Result r = run_privateer(t, f->string());
  EXPECT_EQ(r.rc, 3) << r.out;
  EXPECT_EQ(r.packets, tcpdump_count(cat(*f))) << r.out;
  EXPECT_NE(r.out.find("truncated_record at byte 24"), std::string::npos) << r.out;
}

TEST(Damaged, CutMidRecordKeepsEveryCompletePacket) {
  REQUIRE_DEFECT(f, "pcap-cut-mid-record.pcap");
  TempDir t;
  const Result r = run_privateer(t, f->string());
  EXPECT_EQ(r.rc, 3) << r.out;
  const uint64_t want = tcpdump_count(cat(*f));
  EXPECT_GT(want, 0u);
  EXPECT_EQ(r.packets, want) << r.out;
  EXPECT_NE(r.out.find("input damaged: " + f->string() + ": truncated_record"), std::string::npos) << r.out;
  expect_outputs_complete(t.path / "out");
  expect_flowtuples_count_ipv4(t.path / "out", cat(*f));
}

TEST(Damaged, TruncatedGzipKeepsEverythingThatDecompresses) {
  REQUIRE_DEFECT(f, "pcap-gz-truncated.pcap.gz");
  TempDir t;
  const Result r = run_privateer(t, f->string());
  EXPECT_EQ(r.rc, 3) << r.out;
  const uint64_t want = tcpdump_count("zcat " + quote(*f));
  EXPECT_GT(want, 0u);
  EXPECT_EQ(r.packets, want) << r.out;
  EXPECT_NE(r.out.find("compressed_stream_error"), std::string::npos) << r.out;
  expect_outputs_complete(t.path / "out");
}

// Cuts of a corpus capture compressed with each tool, at several offsets:
// our count equals tcpdump's on the tool's own decompressed output.
TEST(Damaged, CompressedCutsGiveWhatTheToolDecompresses) {
  PRIVATEER_REQUIRE_CORPUS();
  TempDir t;
  const fs::path gz = *corpus_dir() / "libtrace__ip-in-mpls.pcap.gz";
  ASSERT_EQ(run_command("zcat " + quote(gz) + " > " + quote(t.path / "plain.pcap")), 0);
  const std::vector<std::pair<std::string, std::string>> tools = {
      {"gzip", "zcat"}, {"xz", "xz -dc"}, {"zstd -q", "zstd -qdc"},
      // bzcat drops the last part of its output buffer when the input ends
      // early; Python's streaming decompressor gives every complete block.
      {"bzip2", "python3 -c 'import bz2,sys; sys.stdout.buffer.write(bz2.BZ2Decompressor().decompress("
                "open(sys.argv[1],\"rb\").read()))'"}};
  int checked = 0;
  for (const auto& [comp, decomp] : tools) {
    const fs::path whole = t.path / "whole.z";
    if (run_command(comp + " -c " + quote(t.path / "plain.pcap") + " > " + quote(whole)) != 0) continue;
    const uint64_t size = fs::file_size(whole);
    for (const double frac : {0.001, 0.05, 0.31, 0.5, 0.77, 0.999}) {
      const uint64_t cut = std::max<uint64_t>(1, static_cast<uint64_t>(frac * static_cast<double>(size)));
      const fs::path f = t.path / ("cut-" + std::to_string(cut));
      ASSERT_EQ(run_command("head -c " + std::to_string(cut) + " " + quote(whole) + " > " + quote(f)), 0);
      SCOPED_TRACE(comp + " cut at " + std::to_string(cut) + " of " + std::to_string(size));
      const uint64_t want = tcpdump_count(decomp + " " + quote(f));
      TempDir run;
      const Result r = run_privateer(run, f.string());
      if (want == 0 && r.rc == 1) continue;  // not even the pcap header decompresses: an error, as for tcpdump
      EXPECT_EQ(r.rc, 3) << r.out;
      EXPECT_EQ(r.packets, want) << r.out;
      ++checked;
    }
  }
  EXPECT_GE(checked, 12);
}

// The case: one impossible caplen near the end of a file.
TEST(Damaged, BadCaplenStopsTheFileAndKeepsWhatCameBefore) {
  PRIVATEER_REQUIRE_CORPUS();
  TempDir t;
  std::string data = read_file(*corpus_dir() / "pcaphunt__ps-tcp_syn.pcap");
  // Walk the records to the 900th and give it caplen 0x7fffffff.
  size_t off = 24;
  for (int i = 0; i < 900; ++i) {
    uint32_t caplen;
    std::memcpy(&caplen, data.data() + off + 8, 4);
    off += 16 + caplen;
  }
  const uint32_t bad = 0x7fffffff;
  std::memcpy(data.data() + off + 8, &bad, 4);
  std::ofstream(t.path / "bad.pcap", std::ios::binary) << data;
  const Result r = run_privateer(t, (t.path / "bad.pcap").string());
  EXPECT_EQ(r.rc, 3) << r.out;
  EXPECT_EQ(r.packets, 900u) << r.out;
  EXPECT_EQ(r.packets, tcpdump_count(cat(t.path / "bad.pcap"))) << r.out;
  EXPECT_NE(r.out.find("bad_caplen at byte " + std::to_string(off)), std::string::npos) << r.out;
  expect_outputs_complete(t.path / "out");
}

// One bad file in a directory does not strand the others: each is read, the
// damage counted by reason in the metric (scraped with curl after the input).
TEST(Damaged, DirectoryGoesOnAfterABadFile) {
  PRIVATEER_REQUIRE_CORPUS();
  REQUIRE_DEFECT(cut, "pcap-cut-mid-record.pcap");
  TempDir t;
  const fs::path dir = t.path / "caps";
  fs::create_directory(dir);
  fs::copy_file(*corpus_dir() / "libtrace__100_packets.pcap", dir / "a.pcap");
  std::ofstream(dir / "b.pcap") << "not a capture file, just some text of some length\n";
  fs::copy_file(*cut, dir / "c.pcap");
  fs::copy_file(*corpus_dir() / "zeek__wikipedia.pcap", dir / "d.pcap");
  const fs::path cfg = config(t.path, dir.string(), "prometheus:\n  enabled: yes\n  listen: 127.0.0.1:0\n");
  BackgroundRun run({"-c", cfg.string(), "--hold-metrics", "30"}, t.path / "log");
  std::smatch m;
  std::string log;
  ASSERT_TRUE(wait_until(
      [&] {
        log = read_file(t.path / "log");
        return log.find("serving metrics for") != std::string::npos;
      },
      60))
      << log;
  ASSERT_TRUE(std::regex_search(log, m, std::regex("metrics on (http://[0-9.:]+/metrics)"))) << log;
  std::string metrics;
  ASSERT_EQ(run_stdout("curl -s " + m[1].str(), &metrics), 0);
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(10), 3) << log;
  log = read_file(t.path / "log");
  EXPECT_NE(metrics.find("privateer_input_errors_total{reason=\"open_failed\"} 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("privateer_input_errors_total{reason=\"truncated_record\"} 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("privateer_input_errors_total{reason=\"bad_caplen\"} 0"), std::string::npos) << metrics;
  uint64_t want = 0;
  for (const char* f : {"a.pcap", "c.pcap", "d.pcap"}) want += tcpdump_count(cat(dir / f));
  ASSERT_TRUE(std::regex_search(log, m, std::regex("privateer: ([0-9]+) packets"))) << log;
  EXPECT_EQ(std::stoull(m[1]), want) << log;
  EXPECT_NE(log.find((dir / "b.pcap").string() + ": open_failed"), std::string::npos) << log;
  expect_outputs_complete(t.path / "out");
}

TEST(Damaged, ErfCutInRecordHeaderKeepsTheCompleteRecord) {
  REQUIRE_DEFECT(f, "erf-cut-in-record-header.erf");
  TempDir t;
  const Result r = run_privateer(t, f->string());
  EXPECT_EQ(r.rc, 3) << r.out;
  EXPECT_EQ(r.packets, 1u) << r.out;
  EXPECT_NE(r.out.find("truncated_record at byte 72"), std::string::npos) << r.out;
  expect_outputs_complete(t.path / "out");
}

TEST(Damaged, MutatedErfDoesNotCrash) {
  REQUIRE_DEFECT(f, "erf-mutated-segv.erf");
  for (const std::string& src : {f->string(), "erf:" + f->string()}) {
    TempDir t;
    const Result r = run_privateer(t, src);
    EXPECT_TRUE(r.rc == 0 || r.rc == 3) << r.out;
    std::string n;
    ASSERT_EQ(run_stdout("tshark -n -r " + quote(*f) + " 2>/dev/null | wc -l", &n), 0);
    EXPECT_EQ(r.packets, std::stoull(n)) << r.out;
  }
}

TEST(Damaged, OutOfRangeTimestampsAreCountedNotMisdated) {
  REQUIRE_DEFECT(f, "pcapng-ts-max64.pcapng");
  REQUIRE_DEFECT(g, "pcapng-ts-2p40s.pcapng");
  for (const auto& p : {*f, *g}) {
    TempDir t;
    const Result r = run_privateer(t, p.string());
    EXPECT_EQ(r.rc, 0) << r.out;
    EXPECT_EQ(r.packets, 0u) << r.out;
    // Every packet of these files is past 2^64 ns (tshark shows their times).
    EXPECT_NE(r.out.find("bad timestamps skipped: " + std::to_string(capture_packets(p))), std::string::npos)
        << r.out;
    for (const auto& e : fs::directory_iterator(t.path / "out")) ADD_FAILURE() << "output for no packet: " << e.path();
  }
}

// --------------------------------------------------------- FIFOs, stdin

// A short writer, 20 times: the run reads it all and ends each time.
TEST(Damaged, FifoFedByAShortWriterNeverHangs) {
  PRIVATEER_REQUIRE_CORPUS();
  const fs::path cap = *corpus_dir() / "libtrace__100_packets.pcap";
  for (int i = 0; i < 20; ++i) {
    TempDir t;
    FifoWriter w(t.path / "in.fifo");
    BackgroundRun run({"-c", config(t.path, (t.path / "in.fifo").string()).string()}, t.path / "log");
    ASSERT_TRUE(w.open_when_read()) << i;
    ASSERT_TRUE(w.write_part(cap, 0, SIZE_MAX)) << i;
    w.close();
    const int rc = run.wait(20);
    const std::string log = read_file(t.path / "log");
    ASSERT_EQ(rc, 0) << "try " << i << ": " << log;
    ASSERT_NE(log.find("privateer: 100 packets"), std::string::npos) << log;
  }
}

// A writer that opens and closes at once, before the run has read: not a hang either.
TEST(Damaged, FifoWhoseWriterLeftAtOnceEnds) {
  TempDir t;
  FifoWriter w(t.path / "in.fifo");
  BackgroundRun run({"-c", config(t.path, (t.path / "in.fifo").string()).string()}, t.path / "log");
  ASSERT_TRUE(w.open_when_read());
  w.close();
  const int rc = run.wait(10);
  EXPECT_EQ(rc, 1) << read_file(t.path / "log");  // an empty input: no capture file header
  EXPECT_NE(read_file(t.path / "log").find("empty file"), std::string::npos) << read_file(t.path / "log");
}

// SIGTERM while the run waits for a FIFO's writer (in open and in read).
TEST(Damaged, SigtermEndsARunBlockedOnAFifo) {
  PRIVATEER_REQUIRE_CORPUS();
  for (const bool some_data : {false, true}) {
    SCOPED_TRACE(some_data ? "blocked reading after a first part" : "no writer at all");
    TempDir t;
    const fs::path fifo = t.path / "in.fifo";
    FifoWriter w(fifo);
    BackgroundRun run({"-c", config(t.path, fifo.string()).string()}, t.path / "log");
    if (some_data) {
      ASSERT_TRUE(w.open_when_read());
      ASSERT_TRUE(w.write_part(*corpus_dir() / "libtrace__100_packets.pcap", 0, 5000));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    ASSERT_TRUE(run.running()) << read_file(t.path / "log");
    const auto t0 = std::chrono::steady_clock::now();
    run.signal(SIGTERM);
    const int rc = run.wait(5);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const std::string log = read_file(t.path / "log");
    EXPECT_EQ(rc, 0) << log;
    EXPECT_LT(s, 2.0) << log;
    if (some_data) {
      // The packets complete in the first 5000 bytes were analysed.
      std::string n;
      const uint64_t want = tcpdump_count("head -c 5000 " + quote(*corpus_dir() / "libtrace__100_packets.pcap"));
      EXPECT_NE(log.find("privateer: " + std::to_string(want) + " packets"), std::string::npos) << log;
      EXPECT_EQ(log.find("WARNING input damaged"), std::string::npos) << "a stop is no damage: " << log;
      EXPECT_NE(log.find("input damaged: 0 file(s)"), std::string::npos) << log;
    }
  }
}

// `-` reads standard input: pcap, pcapng and ERF, compressed or not.
TEST(Damaged, StandardInputInEveryFormat) {
  PRIVATEER_REQUIRE_CORPUS();
  const fs::path c = *corpus_dir();
  TempDir z;
  ASSERT_EQ(run_command("xz -c " + quote(c / "libtrace__100_packets.pcapng") + " > " + quote(z.path / "ng.xz")), 0);
  const std::vector<std::pair<fs::path, uint64_t>> inputs = {
      {c / "libtrace__100_packets.pcap", 100}, {c / "libtrace__ip-in-mpls.pcap.gz", capture_packets(c / "libtrace__ip-in-mpls.pcap.gz")},
      {z.path / "ng.xz", 100}, {c / "libtrace__100_packets.erf", 100}, {c / "libtrace__5_packets.erf.gz", 5}};
  for (const auto& [f, n] : inputs) {
    SCOPED_TRACE(f.string());
    TempDir t;
    const Result r = run_privateer(t, "\"-\"", quote(f));
    EXPECT_EQ(r.rc, 0) << r.out;
    EXPECT_EQ(r.packets, n) << r.out;
    expect_outputs_complete(t.path / "out");
  }
}
