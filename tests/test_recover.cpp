// privateer-recover on the .tmp files a run leaves: real Privateer output
// (privateer on a perf/gen_telescope capture) cut at every block boundary and
// inside every part of every block, damaged, locked, and left by a SIGKILL'd
// live run. The oracle is the original file's first K blocks (K the complete
// blocks before the cut, from tests/avro_files.hpp's walk of the framing),
// read with python3-avro and avrocat; .done markers are read with Python's
// json module.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/avro_files.hpp"
#include "tests/test_support.hpp"

namespace fs = std::filesystem;
using namespace privateer::test;

namespace {

fs::path recover_bin() {
  const char* env = std::getenv("PRIVATEER_RECOVER_BIN");
  return env ? fs::path(env) : privateer_bin().parent_path() / "privateer-recover";
}

fs::path gen_bin() { return privateer_bin().parent_path().parent_path() / "perf" / "gen_telescope"; }

std::string py() { return "timeout 120 /usr/bin/python3 " + quote(source_root() / "tests" / "read_avro.py") + " "; }

bool python_avro() { return run_command("/usr/bin/python3 -c 'import avro'") == 0; }

// Whether python3-avro reads this codec here (snappy and zstandard need modules).
bool python_reads(const std::string& codec) {
  if (codec == "snappy") return run_command("/usr/bin/python3 -c 'import snappy'") == 0;
  if (codec == "zstandard") return run_command("/usr/bin/python3 -c 'import zstandard'") == 0;
  return true;
}

void write_bytes(const fs::path& p, const std::string& bytes) { std::ofstream(p, std::ios::binary) << bytes; }

fs::path write_config(const fs::path& dir, const fs::path& source, const std::string& tmpl, const std::string& extra) {
  const fs::path p = dir / "privateer.yaml";
  std::ofstream(p) << "packetsource: " << source.string() << "\ninterval: 60\nrotatefreq: 0\nthreads: 1\n"
                   << "outtemplate: " << tmpl << "\nprogress: no\nprometheus: {enabled: no}\n"
                   << extra << "plugins:\n  - flowtuple\n";
  return p;
}

// One flowtuple file of `codec` in small blocks from a 150 s capture (three
// intervals, so three or more blocks even where a block holds an interval).
fs::path make_output(const fs::path& dir, const std::string& codec) {
  const fs::path cap = dir / "cap.pcap";
  if (run_command(quote(gen_bin()) + " -q -o " + quote(cap) + " -n 600 --pps 4 --seed 5") != 0) return {};
  const fs::path cfg = write_config(dir, cap, (dir / "out" / "%P.avro").string(),
                                    "output:\n  avro_codec: " + codec + "\n  avro_block_size: 2048\n");
  std::string out;
  if (run_command(quote(privateer_bin()) + " -c " + quote(cfg), &out) != 0) {
    ADD_FAILURE() << out;
    return {};
  }
  return dir / "out" / "flowtuple.avro";
}

// The .done marker's fields, through Python's json module.
std::map<std::string, std::string> done_fields(const fs::path& done) {
  std::string out;
  run_stdout("/usr/bin/python3 -c 'import json,sys\nd=json.load(open(sys.argv[1]))\n"
             "for k,v in d.items():\n  print(k, json.dumps(v) if k != \"intervals\" else sum(i[\"records\"] for i in v))' " +
                 quote(done),
             &out);
  std::map<std::string, std::string> f;
  for (const auto& l : lines_of(out)) {
    const size_t sp = l.find(' ');
    if (sp != std::string::npos) f[l.substr(0, sp)] = l.substr(sp + 1);
  }
  return f;
}

size_t avrocat_records(const fs::path& f) {
  std::string out;
  if (run_stdout("avrocat " + quote(f) + " 2>/dev/null", &out) != 0) return SIZE_MAX;
  return lines_of(out).size();
}

class RecoverCut : public ::testing::TestWithParam<std::string> {};

}  // namespace

// Every cut of a real file: at each block's first byte, inside its count,
// inside its data, just before and inside its sync marker, and inside the
// header. Past the header recover exits 0 and NAME is byte for byte the
// original's first K blocks (K complete before the cut), read by python3-avro
// and avrocat as those blocks' records; the .done says so. Inside the
// header: exit 3, nothing written.
TEST_P(RecoverCut, EveryBlockBoundaryAndInsideBlocks) {
  const std::string codec = GetParam();
  if (!fs::exists(gen_bin())) GTEST_SKIP() << "perf/gen_telescope not built";
  if (!python_avro()) GTEST_SKIP() << "python3-avro missing";
  TempDir tmp;
  const fs::path orig_path = make_output(tmp.path, codec);
  ASSERT_FALSE(orig_path.empty());
  const std::string orig = read_file(orig_path);
  const AvroBlocks b = avro_blocks(orig);
  const size_t nb = b.start.size();
  ASSERT_GE(nb, 4u) << "too few blocks to cut";
  const size_t header = b.start[0];
  auto prefix_len = [&](size_t k) { return k == 0 ? header : b.data_end[k - 1] + 16; };

  // The oracle: each prefix of K whole blocks, its records by python3-avro
  // where it reads the codec, else counted from the framing.
  const bool independent = python_reads(codec);
  std::vector<std::string> expected(nb + 1);
  std::vector<size_t> expected_n(nb + 1, 0);
  for (size_t k = 0; k <= nb; ++k) {
    for (size_t i = 0; i < k; ++i) expected_n[k] += static_cast<size_t>(b.records[i]);
    if (!independent) continue;
    const fs::path p = tmp.path / ("prefix-" + std::to_string(k) + ".avro");
    write_bytes(p, orig.substr(0, prefix_len(k)));
    ASSERT_EQ(run_stdout(py() + quote(p), &expected[k]), 0) << p;
    ASSERT_EQ(lines_of(expected[k]).size(), expected_n[k]) << "python3-avro and the framing disagree on " << p;
  }

  std::vector<size_t> cuts = {0, 3, header / 2, header - 1, orig.size()};
  for (size_t k = 0; k < nb; ++k) {
    for (size_t c : {b.start[k], b.start[k] + 1, (b.start[k] + b.data_end[k]) / 2, b.data_end[k], b.data_end[k] + 15}) {
      cuts.push_back(c);
    }
  }
  const bool avrocat = run_command("command -v avrocat") == 0 && (codec == "deflate" || codec == "null");
  const fs::path cutdir = tmp.path / "cuts";
  fs::create_directories(cutdir);
  size_t checked = 0;
  for (const size_t p : cuts) {
    SCOPED_TRACE("cut at byte " + std::to_string(p) + " of " + std::to_string(orig.size()));
    const fs::path name = cutdir / ("c" + std::to_string(p) + ".avro");
    const fs::path tmpf = name.string() + ".tmp";
    write_bytes(tmpf, orig.substr(0, p));
    std::string out;
    const int rc = run_command(quote(recover_bin()) + " " + quote(tmpf), &out);
    if (p < header) {
      EXPECT_EQ(rc, 3) << out;
      EXPECT_NE(out.find("nothing to save"), std::string::npos) << out;
      EXPECT_FALSE(fs::exists(name));
      EXPECT_TRUE(fs::exists(tmpf));
      continue;
    }
    ASSERT_EQ(rc, 0) << out;
    size_t k = 0;
    while (k < nb && prefix_len(k + 1) <= p) ++k;
    EXPECT_FALSE(fs::exists(tmpf)) << "the .tmp is removed once NAME is saved";
    ASSERT_TRUE(fs::exists(name));
    EXPECT_TRUE(read_file(name) == orig.substr(0, prefix_len(k))) << "not the first " << k << " blocks";
    if (independent) {
      std::string got;
      EXPECT_EQ(run_stdout(py() + quote(name), &got), 0) << name;
      EXPECT_EQ(got, expected[k]);
    }
    if (avrocat) {
      EXPECT_EQ(avrocat_records(name), expected_n[k]);
    }
    const auto d = done_fields(name.string() + ".done");
    EXPECT_EQ(d.at("salvaged"), "true");
    EXPECT_EQ(d.at("stream"), "\"flowtuple\"");
    EXPECT_EQ(d.at("records"), std::to_string(expected_n[k]));
    EXPECT_EQ(d.at("intervals"), std::to_string(expected_n[k]));
    EXPECT_EQ(d.at("blocks"), std::to_string(k));
    EXPECT_EQ(d.at("bytes_kept"), std::to_string(prefix_len(k)));
    EXPECT_EQ(d.at("bytes_dropped"), std::to_string(p - prefix_len(k)));
    if (p == prefix_len(k)) {
      EXPECT_EQ(d.at("lost"), "\"\"");
      EXPECT_NE(out.find("nothing dropped"), std::string::npos) << out;
    } else {
      EXPECT_NE(d.at("lost").find("the records after byte " + std::to_string(prefix_len(k))), std::string::npos)
          << d.at("lost");
    }
    ++checked;
  }
  EXPECT_GE(checked, 5 * nb);
  if (!independent) {
    GTEST_SKIP() << "python3-avro cannot read " << codec << " here (python3-" << (codec == "snappy" ? "snappy" : "zstandard")
                 << " missing): recovered files checked against the original's bytes and block framing only";
  }
}

INSTANTIATE_TEST_SUITE_P(Codecs, RecoverCut, ::testing::Values("deflate", "null", "snappy", "zstandard"));

// A sync marker that does not match loses its block and all after it; a
// snappy block whose CRC fails is lost though its framing is whole.
TEST(Recover, DamagedSyncMarkerOrBlockEndsWhatIsKept) {
  if (!fs::exists(gen_bin())) GTEST_SKIP() << "perf/gen_telescope not built";
  if (!python_avro()) GTEST_SKIP() << "python3-avro missing";
  for (const std::string codec : {"deflate", "snappy"}) {
    SCOPED_TRACE(codec);
    TempDir tmp;
    const fs::path orig_path = make_output(tmp.path, codec);
    ASSERT_FALSE(orig_path.empty());
    const std::string orig = read_file(orig_path);
    const AvroBlocks b = avro_blocks(orig);
    ASSERT_GE(b.start.size(), 4u);
    std::string bad = orig;
    if (codec == "deflate") {
      bad[b.data_end[2] + 5] ^= 0x55;   // block 2's sync marker
    } else {
      bad[(b.start[2] + b.data_end[2]) / 2] ^= 0x55;   // inside block 2's data: its CRC fails
    }
    const fs::path tmpf = tmp.path / "x.avro.tmp";
    write_bytes(tmpf, bad);
    std::string out;
    ASSERT_EQ(run_command(quote(recover_bin()) + " " + quote(tmpf), &out), 0) << out;
    EXPECT_TRUE(read_file(tmp.path / "x.avro") == orig.substr(0, b.data_end[1] + 16)) << out;
    const auto d = done_fields(tmp.path / "x.avro.done");
    EXPECT_EQ(d.at("blocks"), "2");
    EXPECT_EQ(d.at("records"), std::to_string(b.records[0] + b.records[1]));
    EXPECT_NE(d.at("lost").find(codec == "deflate" ? "sync marker" : "CRC"), std::string::npos) << d.at("lost");
    if (codec == "deflate") {
      std::string got;
      ASSERT_EQ(run_stdout(py() + quote(tmp.path / "x.avro"), &got), 0);
      EXPECT_EQ(lines_of(got).size(), static_cast<size_t>(b.records[0] + b.records[1]));
    }
  }
}

// What recover refuses: an existing NAME is never replaced (exit 1, both
// files untouched), a name without .tmp is bad usage (2), a file that is not
// Avro has nothing to save (3), a file a running privateer holds locked is
// left alone (1); --keep keeps the .tmp, --dry-run writes nothing.
TEST(Recover, RefusesAndOptions) {
  if (!fs::exists(gen_bin())) GTEST_SKIP() << "perf/gen_telescope not built";
  TempDir tmp;
  const fs::path orig_path = make_output(tmp.path, "deflate");
  ASSERT_FALSE(orig_path.empty());
  const std::string orig = read_file(orig_path);
  const std::string cut = orig.substr(0, orig.size() - 7);
  const fs::path tmpf = tmp.path / "y.avro.tmp", name = tmp.path / "y.avro";
  write_bytes(tmpf, cut);
  write_bytes(name, "precious");
  std::string out;
  EXPECT_EQ(run_command(quote(recover_bin()) + " " + quote(tmpf), &out), 1);
  EXPECT_NE(out.find("exists: not replaced"), std::string::npos) << out;
  EXPECT_EQ(read_file(name), "precious");
  EXPECT_EQ(read_file(tmpf), cut);
  fs::remove(name);

  EXPECT_EQ(run_command(quote(recover_bin()) + " " + quote(orig_path), &out), 2) << out;
  write_bytes(tmp.path / "junk.avro.tmp", "not an avro file at all");
  EXPECT_EQ(run_command(quote(recover_bin()) + " " + quote(tmp.path / "junk.avro.tmp"), &out), 3) << out;
  EXPECT_FALSE(fs::exists(tmp.path / "junk.avro"));

  {
    const int fd = ::open(tmpf.c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::flock(fd, LOCK_EX), 0);   // as privateer holds its open .tmp
    EXPECT_EQ(run_command(quote(recover_bin()) + " " + quote(tmpf), &out), 1);
    EXPECT_NE(out.find("being written by a running privateer"), std::string::npos) << out;
    ::close(fd);
  }
  EXPECT_EQ(run_command(quote(recover_bin()) + " --dry-run " + quote(tmpf), &out), 0) << out;
  EXPECT_NE(out.find("would save"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(name));
  EXPECT_EQ(run_command(quote(recover_bin()) + " --keep " + quote(tmpf), &out), 0) << out;
  EXPECT_TRUE(fs::exists(tmpf));
  EXPECT_TRUE(fs::exists(name.string() + ".done"));
  // Several files: the highest status.
  EXPECT_EQ(run_command(quote(recover_bin()) + " " + quote(tmp.path / "junk.avro.tmp") + " " + quote(tmpf), &out), 3)
      << out;
}

// A live run (a FIFO kept open) SIGKILLed mid-capture leaves its .tmp; the
// next run reports it in its log with the privateer-recover hint and names
// its own file otherwise (the .tmp is not touched); recover saves it: every
// interval the run closed before the kill, python3-avro and avrocat read
// the records the .done counts, per interval as the .done says.
TEST(Recover, SigkilledLiveRunLeavesARecoverableTmp) {
  if (!fs::exists(gen_bin())) GTEST_SKIP() << "perf/gen_telescope not built";
  if (!python_avro()) GTEST_SKIP() << "python3-avro missing";
  if (run_command("command -v avrocat") != 0) GTEST_SKIP() << "avrocat missing";
  TempDir tmp;
  const fs::path cap = tmp.path / "capture.pcap";
  ASSERT_EQ(run_command(quote(gen_bin()) + " -q -o " + quote(cap) + " -n 80000 --pps 400 --seed 11"), 0);
  const std::string tmpl = (tmp.path / "out" / "%P.avro").string();
  FifoWriter fifo(tmp.path / "in.pcap");
  const fs::path cfg = write_config(tmp.path, tmp.path / "in.pcap", tmpl, "");
  const fs::path leftover = tmp.path / "out" / "flowtuple.avro.tmp";
  {
    BackgroundRun run({"-c", cfg.string()}, tmp.path / "run.out");
    ASSERT_TRUE(fifo.open_when_read()) << read_file(tmp.path / "run.out");
    // All but the last 200 KB: the run closes intervals and waits for more.
    ASSERT_TRUE(fifo.write_part(cap, 0, fs::file_size(cap) - 200000));
    // Two intervals (60 s each) closed: more than the header in the .tmp.
    ASSERT_TRUE(wait_until([&] { return fs::exists(leftover) && fs::file_size(leftover) > 20000; }, 60))
        << read_file(tmp.path / "run.out");
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    run.signal(SIGKILL);
    EXPECT_EQ(run.wait(10), 128 + SIGKILL);
  }
  fifo.close();
  const uintmax_t size = fs::file_size(leftover);

  // The next run, on a file, with the same template.
  const fs::path cfg2 = write_config(tmp.path, source_root() / "configs" / "quickstart" / "telescope.pcap", tmpl, "");
  std::string out2;
  ASSERT_EQ(run_command(quote(privateer_bin()) + " -c " + quote(cfg2), &out2), 0) << out2;
  EXPECT_NE(out2.find("left by an earlier run: " + leftover.string()), std::string::npos) << out2;
  EXPECT_NE(out2.find("privateer-recover"), std::string::npos) << out2;
  EXPECT_EQ(fs::file_size(leftover), size) << "the leftover was touched";
  EXPECT_TRUE(fs::exists(tmp.path / "out" / "flowtuple.1.avro.done")) << out2;

  std::string out;
  ASSERT_EQ(run_command(quote(recover_bin()) + " " + quote(leftover), &out), 0) << out;
  const fs::path name = tmp.path / "out" / "flowtuple.avro";
  const auto d = done_fields(name.string() + ".done");
  const uint64_t records = std::stoull(d.at("records"));
  EXPECT_GT(records, 0u) << out;
  EXPECT_EQ(d.at("intervals"), d.at("records"));
  std::string got;
  ASSERT_EQ(run_stdout(py() + quote(name), &got), 0);
  EXPECT_EQ(lines_of(got).size(), records);
  EXPECT_EQ(avrocat_records(name), records);
  // Per interval, as the .done lists them (python3-avro's time column).
  std::map<std::string, uint64_t> per_time;
  for (const auto& l : lines_of(got)) ++per_time[l.substr(0, l.find('\t'))];
  std::string listed;
  run_stdout("/usr/bin/python3 -c 'import json,sys\nfor i in json.load(open(sys.argv[1]))[\"intervals\"]: "
             "print(i[\"start\"], i[\"records\"])' " + quote(name.string() + ".done"),
             &listed);
  std::map<std::string, uint64_t> from_done;
  for (const auto& l : lines_of(listed)) from_done[l.substr(0, l.find(' '))] = std::stoull(l.substr(l.find(' ') + 1));
  EXPECT_EQ(per_time, from_done) << listed;
  EXPECT_GE(from_done.size(), 2u) << "intervals closed before the kill";
}
