// The output side when the disk fills up or the output directory goes away,
// on a small tmpfs the test mounts (root only: skipped with the reason
// otherwise). A live run (a FIFO the test feeds) keeps reading and counting
// every packet, drops the output it cannot write with
// privateer_output_dropped_records_total{reason="no_space"} and writes files
// again once there is room; a file run stops with the path and "No space
// left on device" and exits 1, its .tmp salvageable; a deleted output
// directory is made again.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <thread>

#include "tests/test_support.hpp"

namespace fs = std::filesystem;
using namespace privateer::test;

namespace {

fs::path gen_bin() { return privateer_bin().parent_path().parent_path() / "perf" / "gen_telescope"; }

fs::path recover_bin() {
  const char* env = std::getenv("PRIVATEER_RECOVER_BIN");
  return env ? fs::path(env) : privateer_bin().parent_path() / "privateer-recover";
}

// A tmpfs of `size` mounted at `dir` for the scope; ok() false (and why())
// where mounting is not permitted.
class Tmpfs {
 public:
  Tmpfs(const fs::path& dir, const std::string& size) : dir_(dir) {
    fs::create_directories(dir);
    mounted_ = run_command("mount -t tmpfs -o size=" + size + " tmpfs " + quote(dir), &why_) == 0;
  }
  ~Tmpfs() {
    if (mounted_) run_command("umount -l " + quote(dir_));
  }
  bool ok() const { return mounted_; }
  const std::string& why() const { return why_; }
  // Fills it up but `room` bytes with dir/filler.
  void fill_but(size_t room) {
    run_command("dd if=/dev/zero of=" + quote(dir_ / "filler") + " bs=4k 2>/dev/null");
    run_command("truncate -s -" + std::to_string(room) + " " + quote(dir_ / "filler"));
  }

 private:
  fs::path dir_;
  bool mounted_ = false;
  std::string why_;
};

fs::path make_capture(const fs::path& dir) {
  const fs::path cap = dir / "capture.pcap";
  if (run_command(quote(gen_bin()) + " -q -o " + quote(cap) + " -n 80000 --pps 400 --seed 11") != 0) return {};
  return cap;
}

fs::path write_config(const fs::path& dir, const fs::path& source, const std::string& tmpl, const std::string& extra) {
  const fs::path p = dir / "privateer.yaml";
  std::ofstream(p) << "packetsource: " << source.string() << "\ninterval: 10\nthreads: 1\n"
                   << "outtemplate: " << tmpl << "\nprogress: no\n" << extra << "plugins:\n  - flowtuple\n";
  return p;
}

bool has(const fs::path& file, const std::string& text) {
  return fs::exists(file) && read_file(file).find(text) != std::string::npos;
}

size_t count_done(const fs::path& dir) {
  size_t n = 0;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return 0;
  for (const auto& e : fs::directory_iterator(dir, ec)) n += e.path().extension() == ".done";
  return n;
}

int metrics_port(const std::string& text) {
  std::smatch m;
  return std::regex_search(text, m, std::regex("metrics on http://127\\.0\\.0\\.1:([0-9]+)/metrics")) ? std::stoi(m[1])
                                                                                                    : 0;
}

}  // namespace

// A live run on a full disk: every packet read and counted (the summary's
// count is capinfos'), the output dropped with the counter and the log
// naming the path and "No space left on device"; once room is made, the
// next rotation's files are written whole (python3-avro reads them).
TEST(FullDisk, LiveRunKeepsCountingAndDropsOutput) {
  if (!fs::exists(gen_bin())) GTEST_SKIP() << "perf/gen_telescope not built";
  if (run_command("command -v capinfos && command -v curl") != 0) GTEST_SKIP() << "capinfos or curl missing";
  TempDir tmp;
  Tmpfs disk(tmp.path / "disk", "2m");
  if (!disk.ok()) GTEST_SKIP() << "cannot mount a tmpfs here: " << disk.why();
  const fs::path cap = make_capture(tmp.path);
  ASSERT_FALSE(cap.empty());
  const uint64_t want = capture_packets(cap);
  disk.fill_but(6000);   // a header fits, blocks do not
  const fs::path outdir = tmp.path / "disk" / "out";
  FifoWriter fifo(tmp.path / "in.pcap");
  const fs::path cfg = write_config(tmp.path, tmp.path / "in.pcap", (outdir / "%P-%s.avro").string(),
                                    "rotatefreq: 1\nprometheus: {listen: \"127.0.0.1:0\"}\n");
  const fs::path log = tmp.path / "run.out";
  BackgroundRun run({"-c", cfg.string(), "--hold-metrics", "60"}, log);
  ASSERT_TRUE(fifo.open_when_read()) << read_file(log);
  const size_t half = fs::file_size(cap) / 2;
  ASSERT_TRUE(fifo.write_part(cap, 0, half));
  ASSERT_TRUE(wait_until([&] { return has(log, "No space left on device"); }, 60)) << read_file(log);
  EXPECT_TRUE(run.running()) << read_file(log);
  fs::remove(tmp.path / "disk" / "filler");   // room again
  ASSERT_TRUE(fifo.write_part(cap, half, SIZE_MAX));
  fifo.close();
  ASSERT_TRUE(wait_until([&] { return has(log, "serving metrics for 60 s more"); }, 120)) << read_file(log);
  std::string metrics;
  run_stdout("curl -s http://127.0.0.1:" + std::to_string(metrics_port(read_file(log))) + "/metrics", &metrics);
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(10), 0);
  const std::string text = read_file(log);

  EXPECT_NE(text.find("privateer: " + std::to_string(want) + " packets"), std::string::npos) << text;
  EXPECT_TRUE(std::regex_search(text, std::regex("cannot write " + outdir.string() +
                                                 "/flowtuple-[0-9]+\\.avro\\.tmp: No space left on device")))
      << text;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(metrics, m,
                                std::regex("privateer_output_dropped_records_total\\{[^}]*reason=\"no_space\"[^}]*\\} ([0-9]+)")))
      << metrics;
  EXPECT_GT(std::stoull(m[1]), 0u) << metrics;
  EXPECT_NE(text.find("dropped (no_space=" + m[1].str() + ")"), std::string::npos) << text;
  // Files after the room was made: complete, with .done, read by python3-avro.
  ASSERT_GT(count_done(outdir), 0u) << text;
  for (const auto& e : fs::directory_iterator(outdir)) {
    if (e.path().extension() != ".done") continue;
    const fs::path f = e.path().parent_path() / e.path().stem();
    std::string rows;
    EXPECT_EQ(run_stdout("timeout 60 /usr/bin/python3 " + quote(source_root() / "tests" / "read_avro.py") + " " + quote(f),
                         &rows),
              0)
        << f;
  }
}

// A file run on a full disk stops there, saying which file and "No space
// left on device", exits 1 (no crash, no hang); its .tmp keeps the complete
// blocks, which privateer-recover saves.
TEST(FullDisk, FileRunStopsWithThePathAndKeepsWhatWasWritten) {
  if (!fs::exists(gen_bin())) GTEST_SKIP() << "perf/gen_telescope not built";
  TempDir tmp;
  Tmpfs disk(tmp.path / "disk", "1m");
  if (!disk.ok()) GTEST_SKIP() << "cannot mount a tmpfs here: " << disk.why();
  const fs::path cap = make_capture(tmp.path);
  ASSERT_FALSE(cap.empty());
  disk.fill_but(40000);
  const fs::path outdir = tmp.path / "disk" / "out";
  const fs::path cfg = write_config(tmp.path, cap, (outdir / "%P.avro").string(),
                                    "rotatefreq: 0\nprometheus: {enabled: no}\noutput:\n  avro_block_size: 4096\n");
  std::string out;
  const int rc = run_command("timeout 120 " + quote(privateer_bin()) + " -c " + quote(cfg), &out);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("cannot write " + (outdir / "flowtuple.avro.tmp").string() + ": No space left on device"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("run failed: output flowtuple"), std::string::npos) << out;
  EXPECT_NE(out.find("privateer-recover " + (outdir / "flowtuple.avro.tmp").string()), std::string::npos) << out;
  ASSERT_TRUE(fs::exists(outdir / "flowtuple.avro.tmp")) << out;
  EXPECT_FALSE(fs::exists(outdir / "flowtuple.avro"));
  fs::remove(tmp.path / "disk" / "filler");
  std::string rec;
  ASSERT_EQ(run_command(quote(recover_bin()) + " " + quote(outdir / "flowtuple.avro.tmp"), &rec), 0) << rec;
  std::string rows;
  EXPECT_EQ(run_stdout("timeout 60 /usr/bin/python3 " + quote(source_root() / "tests" / "read_avro.py") + " " +
                           quote(outdir / "flowtuple.avro"),
                       &rows),
            0);
  EXPECT_GT(lines_of(rows).size(), 0u) << rec;
}

// rm -rf of the output directory while a live run writes into it: the run
// goes on, says the open file was removed, counts its records as dropped
// (file_removed) and makes the directory again for the next file.
TEST(FullDisk, DeletedOutputDirectoryIsMadeAgain) {
  if (!fs::exists(gen_bin())) GTEST_SKIP() << "perf/gen_telescope not built";
  TempDir tmp;
  const fs::path cap = make_capture(tmp.path);
  ASSERT_FALSE(cap.empty());
  const fs::path outdir = tmp.path / "out" / "sub";
  FifoWriter fifo(tmp.path / "in.pcap");
  const fs::path cfg = write_config(tmp.path, tmp.path / "in.pcap", (outdir / "%P-%s.avro").string(),
                                    "rotatefreq: 6\nprometheus: {enabled: no}\n");
  const fs::path log = tmp.path / "run.out";
  BackgroundRun run({"-c", cfg.string()}, log);
  ASSERT_TRUE(fifo.open_when_read()) << read_file(log);
  const size_t half = fs::file_size(cap) / 2;
  ASSERT_TRUE(fifo.write_part(cap, 0, half));
  ASSERT_TRUE(wait_until([&] { return count_done(outdir) > 0; }, 60)) << read_file(log);
  fs::remove_all(tmp.path / "out");
  ASSERT_TRUE(fifo.write_part(cap, half, SIZE_MAX));
  fifo.close();
  EXPECT_EQ(run.wait(120), 0) << read_file(log);
  const std::string text = read_file(log);
  EXPECT_NE(text.find(".tmp was removed while it was written"), std::string::npos) << text;
  EXPECT_TRUE(std::regex_search(text, std::regex("dropped \\(file_removed=[0-9]+\\)"))) << text;
  EXPECT_GT(count_done(outdir), 0u) << "no complete file in the directory made again\n" << text;
}
