// privateer-read (control/avro/reader.hpp, control/read/): files written by
// Privateer's own writer (every codec) and by python3-avro (corsaro3's dos
// and report schemas, a schema of every Avro type) read record for record
// as python3-avro reads them (tests/reader_check.py: --json parsed back by
// Python's json module; the text, ft2ascii and summary formats rendered
// again in Python from python3-avro's records); damaged files give exit
// status 3 and every complete record before the damage; every truncation
// and random byte flips never crash the reader.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "control/avro/container.hpp"
#include "control/avro/reader.hpp"
#include "control/read/printers.hpp"
#include "plugins/common/avro_encode.hpp"
#include "plugins/flowtuple/flowtuple.hpp"
#include "tests/avro_files.hpp"
#include "tests/test_support.hpp"

namespace fs = std::filesystem;
using namespace privateer;
using test::lines_of;
using test::TempDir;

namespace {

std::string q(const fs::path& p) {
  std::string s = "'";   // (appending, not operator+: GCC 12 warns falsely about that one)
  s.append(p.string()).push_back('\'');
  return s;
}
std::string reader_bin() {
  const char* env = std::getenv("PRIVATEER_READ_BIN");
  return q(env ? fs::path(env) : test::source_root() / "build" / "control" / "privateer-read");
}
std::string check_py() { return "/usr/bin/python3 " + q(test::source_root() / "tests" / "reader_check.py"); }
fs::path schema_file(const std::string& name) { return test::source_root() / "tests" / "schemas" / (name + ".avsc"); }

bool have(const std::string& check) { return test::run_command(check) == 0; }
bool python_reads(AvroCodec c) { return test::python_avro_lacks(codec_name(c)).empty(); }
#define REQUIRE_PYTHON(c) \
  if (!python_reads(c)) GTEST_SKIP() << test::python_avro_lacks(codec_name(c)) << " missing (to read " << codec_name(c) << " files)"

const AvroCodec kCodecs[] = {AvroCodec::null, AvroCodec::deflate, AvroCodec::snappy, AvroCodec::zstandard};

// stdout of a command, its exit status checked.
std::string output_of(const std::string& cmd, int want_rc = 0) {
  std::string out;
  const int rc = test::run_stdout(cmd, &out);
  EXPECT_EQ(rc, want_rc) << cmd;
  return out;
}

std::vector<FlowtupleRecord> random_v4(size_t n, uint64_t seed) {
  std::mt19937_64 g(seed);
  std::vector<FlowtupleRecord> v(n);
  for (size_t i = 0; i < n; ++i) {
    FlowtupleRecord& r = v[i];
    r.time = 1700000040 + 60 * (i * 4 / n);   // four intervals
    r.src_ip = static_cast<uint32_t>(g() % 64) * 0x01010101u;   // repeated sources: real top lists
    r.dst_ip = 0x2c000000u | static_cast<uint32_t>(g() & 0xffffff);
    r.src_port = static_cast<uint16_t>(g());
    r.dst_port = static_cast<uint16_t>(g() % 40);
    r.protocol = (g() & 1) ? 6 : 17;
    r.ttl = static_cast<uint8_t>(g());
    r.tcp_flags = static_cast<uint8_t>(g() % 3 == 0 ? g() : 2);
    r.ip_len = static_cast<uint16_t>(40 + g() % 1460);
    r.tcp_synlen = r.protocol == 6 ? 20 : 0;
    r.tcp_synwinlen = r.protocol == 6 ? static_cast<uint16_t>(g()) : 0;
    r.packet_cnt = 1 + g() % 5;
  }
  return v;
}

std::vector<Flowtuple6Record> random_v6(size_t n, uint64_t seed) {
  std::mt19937_64 g(seed);
  std::vector<Flowtuple6Record> v(n);
  for (size_t i = 0; i < n; ++i) {
    Flowtuple6Record& r = v[i];
    r.time = 1700000040 + 60 * (i * 3 / n);
    r.src_ip = {0x20, 0x01, 0x0d, 0xb8};   // 2001:db8::..., runs of zero groups
    r.src_ip[15] = static_cast<uint8_t>(g() % 20);
    if (g() % 4 == 0) r.src_ip[8] = static_cast<uint8_t>(g());
    for (auto& b : r.dst_ip) b = static_cast<uint8_t>(g() % 3 ? 0 : g());
    r.src_port = static_cast<uint16_t>(g());
    r.dst_port = static_cast<uint16_t>(g() % 30);
    r.protocol = 58;
    r.ttl = 64;
    r.ip_len = static_cast<uint16_t>(40 + g() % 1000);
    r.packet_cnt = 1 + g() % 9;
  }
  return v;
}

// Writes records through Privateer's container writer, small blocks.
template <class Rec>
void write_ours(const fs::path& path, const std::string& schema, AvroCodec c, const std::vector<Rec>& recs,
                size_t block = 2048) {
  CodecSettings s;
  s.codec = c;
  AvroContainerFile f(schema, s, block);
  test::write_records(f, path, recs, {{"privateer.monitorid", "test"}});
}

// privateer-read --json agrees with python3-avro, record for record.
void expect_json_agrees(const fs::path& f) {
  TempDir t("reader-json");
  const std::string jsonl = t / "out.jsonl";
  ASSERT_EQ(test::run_command(reader_bin() + " --json " + q(f) + " > " + q(jsonl)), 0) << f;
  std::string why;
  EXPECT_EQ(test::run_command(check_py() + " json " + q(f) + " " + q(jsonl), &why), 0) << f << ": " << why;
}

// privateer-read [FLAG] output equals reader_check.py MODE output.
void expect_same(const std::string& flag, const std::string& mode, const std::vector<fs::path>& files) {
  std::string args;
  for (const auto& f : files) args.append(" ").append(q(f));
  const std::string ours = output_of(reader_bin() + " " + flag + args);
  const std::string theirs = output_of(check_py() + " " + mode + args);
  ASSERT_FALSE(theirs.empty());
  EXPECT_EQ(ours, theirs) << mode << args;
}

}  // namespace

TEST(ReaderOurFiles, FlowtupleEveryCodec) {
  TempDir t("reader-ft");
  const auto recs = random_v4(4000, 11);
  for (AvroCodec c : kCodecs) {
    SCOPED_TRACE(codec_name(c));
    REQUIRE_PYTHON(c);
    const fs::path f = t.path / (std::string("flowtuple-") + codec_name(c) + ".avro");
    write_ours(f, FlowtuplePlugin::schema_json(), c, recs);
    ASSERT_GT(test::avro_blocks(test::read_file(f)).start.size(), 10u);
    expect_json_agrees(f);
    expect_same("", "ft2ascii", {f});
    expect_same("--summary", "summary", {f});
  }
}

TEST(ReaderOurFiles, Ipv6StreamEveryCodec) {
  TempDir t("reader-ft6");
  const auto recs = random_v6(3000, 12);
  for (AvroCodec c : kCodecs) {
    SCOPED_TRACE(codec_name(c));
    REQUIRE_PYTHON(c);
    const fs::path f = t.path / (std::string("flowtuple6-") + codec_name(c) + ".avro");
    write_ours(f, FlowtuplePlugin::schema6_json(), c, recs);
    expect_json_agrees(f);
    expect_same("", "text", {f});
    expect_same("--summary", "summary", {f});
  }
  // The text names addresses as python's ipaddress does.
  const std::string out = output_of(reader_bin() + " " + q(t.path / "flowtuple6-null.avro") + " | head -1");
  EXPECT_NE(out.find(" src_ip=2001:db8::"), std::string::npos) << out;
}

// corsavro_ft2ascii.py keeps its state across the files of one run.
TEST(ReaderOurFiles, Ft2asciiAcrossFiles) {
  REQUIRE_PYTHON(AvroCodec::deflate);
  TempDir t("reader-ft2");
  auto a = random_v4(500, 1), b = random_v4(300, 2);
  for (auto& r : b) r.time += 240;
  write_ours(t.path / "a.avro", FlowtuplePlugin::schema_json(), AvroCodec::deflate, a);
  write_ours(t.path / "b.avro", FlowtuplePlugin::schema_json(), AvroCodec::deflate, b);
  expect_same("", "ft2ascii", {t.path / "a.avro", t.path / "b.avro"});
  const auto lines = lines_of(output_of(reader_bin() + " " + q(t.path / "a.avro") + " " + q(t.path / "b.avro")));
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.front(), "# CORSARO_INTERVAL_START 0 1700000040");
  EXPECT_EQ(lines.back(), "# CORSARO_INTERVAL_END 7 1700000460");
}

// Files python3-avro writes: corsaro3's dos and report schemas, and one of
// every Avro type (nested and recursive records, unions, maps, enums, ...).
TEST(ReaderPythonFiles, DosReportAndEveryType) {
  TempDir t("reader-py");
  for (const char* schema : {"corsaro_dos", "corsaro_report", "all_types"}) {
    for (AvroCodec c : kCodecs) {
      SCOPED_TRACE(std::string(schema) + " " + codec_name(c));
      REQUIRE_PYTHON(c);
      const fs::path f = t.path / (std::string(schema) + "-" + codec_name(c) + ".avro");
      ASSERT_EQ(test::run_command(check_py() + " write " + q(schema_file(schema)) + " " + codec_name(c) + " 5 400 " +
                                  q(f) + " 37"),
                0);
      expect_json_agrees(f);
      expect_same("", "text", {f});
      expect_same("--summary", "summary", {f});
    }
  }
}

// A file cut anywhere: exit 3, stderr names the file and the byte offset,
// stdout has every record of the blocks wholly before the cut.
TEST(ReaderDamage, TruncatedFiles) {
  TempDir t("reader-cut");
  const auto recs = random_v4(1500, 3);
  for (AvroCodec c : {AvroCodec::null, AvroCodec::deflate, AvroCodec::snappy}) {
    SCOPED_TRACE(codec_name(c));
    REQUIRE_PYTHON(c);
    const fs::path whole = t.path / "whole.avro";
    write_ours(whole, FlowtuplePlugin::schema_json(), c, recs);
    const std::string bytes = test::read_file(whole);
    const test::AvroBlocks b = test::avro_blocks(bytes);
    ASSERT_GT(b.start.size(), 5u);
    const auto all = lines_of(output_of(reader_bin() + " --json " + q(whole)));
    ASSERT_EQ(all.size(), recs.size());
    const size_t k = b.start.size() / 2;
    // Cuts: in the header, inside block k's count, in its data, in its sync
    // marker, right after its sync marker (a clean end), at the end.
    for (size_t cut : {size_t{0}, size_t{3}, size_t{40}, b.start[k] + 1, (b.start[k] + b.data_end[k]) / 2,
                       b.data_end[k] + 7, b.data_end[k] + 16, bytes.size()}) {
      SCOPED_TRACE("cut at " + std::to_string(cut));
      const fs::path f = t.path / "cut.avro";
      std::ofstream(f, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(cut));
      size_t complete = 0;   // records of the blocks whose data the cut keeps
      for (size_t i = 0; i < b.start.size(); ++i) {
        if (b.data_end[i] <= cut) complete += static_cast<size_t>(b.records[i]);
      }
      const bool clean = cut == bytes.size() || cut == b.data_end[k] + 16;
      std::string out, err;
      const int rc = test::run_stdout(reader_bin() + " --json " + q(f) + " 2>" + q(t / "err"), &out);
      err = test::read_file(t.path / "err");
      EXPECT_EQ(rc, clean ? 0 : 3) << err;
      const auto got = lines_of(out);
      ASSERT_EQ(got.size(), complete) << err;
      EXPECT_TRUE(std::equal(got.begin(), got.end(), all.begin()));
      if (!clean) {
        EXPECT_NE(err.find(f.string() + ": byte "), std::string::npos) << err;
      }
    }
  }
}

// Corrupt bytes: a sync marker, compressed data, a record's union index.
TEST(ReaderDamage, CorruptBlocks) {
  TempDir t("reader-corrupt");
  const auto recs = random_v4(1500, 4);
  for (AvroCodec c : kCodecs) {
    SCOPED_TRACE(codec_name(c));
    const fs::path whole = t.path / "whole.avro";
    write_ours(whole, FlowtuplePlugin::schema_json(), c, recs);
    const std::string bytes = test::read_file(whole);
    const test::AvroBlocks b = test::avro_blocks(bytes);
    const auto all = lines_of(output_of(reader_bin() + " --json " + q(whole)));
    size_t before = 0;   // records of blocks 0 and 1
    for (size_t i = 0; i < 2; ++i) before += static_cast<size_t>(b.records[i]);
    struct Flip {
      size_t at;
      size_t records;   // what must still be printed
      const char* why;
    };
    std::vector<Flip> flips = {{b.data_end[1] + 5, before, "sync marker"}};
    if (c == AvroCodec::snappy) flips.push_back({b.data_end[2] - 2, before, "CRC32 mismatch"});
    if (c == AvroCodec::null) {
      // Block 2's first record's 15th field is a string length: make it negative.
      flips.push_back({0, 0, "negative length"});
    }
    for (const Flip& fl : flips) {
      std::string bad = bytes;
      size_t at = fl.at;
      size_t want = fl.records;
      if (!at) {   // find record 0 of block 2: its string "??" length byte 0x04
        at = bad.find(std::string("\x04??\x04??", 6), b.start[2]);
        ASSERT_NE(at, std::string::npos);
        bad[at] = 0x03;   // zigzag -2
        want = before;
      } else {
        bad[at] = static_cast<char>(bad[at] ^ 0x55);
      }
      const fs::path f = t.path / "bad.avro";
      std::ofstream(f, std::ios::binary) << bad;
      std::string out;
      const int rc = test::run_stdout(reader_bin() + " --json " + q(f) + " 2>" + q(t / "err"), &out);
      const std::string err = test::read_file(t.path / "err");
      EXPECT_EQ(rc, 3) << fl.why << ": " << err;
      EXPECT_NE(err.find(fl.why), std::string::npos) << err;
      const auto got = lines_of(out);
      ASSERT_EQ(got.size(), want) << fl.why << ": " << err;
      EXPECT_TRUE(std::equal(got.begin(), got.end(), all.begin()));
    }
  }
}

// Every truncation of a small file of every codec, and random byte flips,
// through the library and every format: no crash, no endless loop; a cut
// file reports damage after a prefix of the records.
TEST(ReaderDamage, EveryTruncationAndRandomFlips) {
  TempDir t("reader-fuzzlike");
  const auto recs = random_v4(60, 5);
  std::mt19937_64 g(99);
  for (AvroCodec c : kCodecs) {
    SCOPED_TRACE(codec_name(c));
    const fs::path whole = t.path / "small.avro";
    write_ours(whole, FlowtuplePlugin::schema_json(), c, recs, 600);
    const std::string bytes = test::read_file(whole);
    auto read_all = [](const std::string& data, size_t& records) -> int {   // 0 clean, 1 unreadable, 3 damaged
      size_t pos = 0;
      records = 0;
      read::Out out(nullptr);
      auto text = read::make_text_printer(out), json = read::make_json_printer(out),
           ft = read::make_ft2ascii_printer(out), sum = read::make_summary_printer(out);
      read::Printer* printers[] = {text.get(), json.get(), ft.get(), sum.get()};
      try {
        AvroContainerReader r([&](uint8_t* buf, size_t n) {
          const size_t k = std::min(n, data.size() - pos);
          std::memcpy(buf, data.data() + pos, k);
          pos += k;
          return k;
        });
        RecordDecoder dec(r.schema());
        const bool ft_ok = read::is_flowtuple(dec);
        for (auto* p : printers) {
          if (p != ft.get() || ft_ok) p->begin_file("x", r.codec(), dec);
        }
        std::vector<AvroValue> v(dec.fields());
        AvroBlock b;
        int status = 0;
        while (status == 0 && r.next_block(b)) {
          const uint8_t* at = b.data;
          for (int64_t i = 0; i < b.records; ++i) {
            if (!(at = dec.decode(at, b.data + b.size, v.data()))) {
              status = 3;
              break;
            }
            for (auto* p : printers) {
              if (p != ft.get() || ft_ok) p->record(v.data());
            }
            ++records;
          }
          if (status == 0 && at != b.data + b.size) status = 3;
        }
        for (auto* p : printers) {
          if (p != ft.get() || ft_ok) p->end_file();
          p->finish();
        }
        return status;
      } catch (const AvroReadError& e) {
        return e.kind == AvroReadError::Kind::damaged ? 3 : 1;
      }
    };
    size_t n;
    ASSERT_EQ(read_all(bytes, n), 0);
    ASSERT_EQ(n, recs.size());
    const test::AvroBlocks b = test::avro_blocks(bytes);
    size_t last = 0;
    for (size_t cut = 0; cut < bytes.size(); ++cut) {
      const int st = read_all(bytes.substr(0, cut), n);
      const bool at_block_end = std::find(b.start.begin(), b.start.end(), cut) != b.start.end();
      EXPECT_EQ(st, at_block_end ? 0 : 3) << "cut " << cut;
      EXPECT_GE(n, last) << "cut " << cut;
      EXPECT_LE(n, recs.size());
      last = n;
    }
    for (int round = 0; round < 3000; ++round) {
      std::string bad = bytes;
      const int flips = 1 + static_cast<int>(g() % 3);
      for (int i = 0; i < flips; ++i) bad[g() % bad.size()] = static_cast<char>(g());
      const int st = read_all(bad, n);
      EXPECT_TRUE(st == 0 || st == 1 || st == 3);
      EXPECT_LE(n, 64u * bad.size());
    }
  }
}

TEST(ReaderCli, UsageAndExitStatuses) {
  TempDir t("reader-cli");
  std::string out;
  EXPECT_EQ(test::run_command(reader_bin(), &out), 1);
  EXPECT_NE(out.find("usage: privateer-read"), std::string::npos) << out;
  EXPECT_EQ(test::run_command(reader_bin() + " --frobnicate x", &out), 1);
  EXPECT_EQ(test::run_command(reader_bin() + " --json --summary x", &out), 1);
  out.clear();
  EXPECT_EQ(test::run_command(reader_bin() + " --help", &out), 0);
  EXPECT_NE(out.find("Exit status"), std::string::npos);
  out.clear();
  EXPECT_EQ(test::run_command(reader_bin() + " " + q(t.path / "missing.avro"), &out), 1);
  EXPECT_NE(out.find("missing.avro: cannot open"), std::string::npos) << out;
  std::ofstream(t.path / "not.avro") << "PK\x03\x04 certainly not avro";
  out.clear();
  EXPECT_EQ(test::run_command(reader_bin() + " " + q(t.path / "not.avro"), &out), 1);
  EXPECT_NE(out.find("not an Avro object container file"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(test::run_command(reader_bin() + " " + q(t.path), &out), 1) << out;   // a directory
  std::ofstream(t.path / "empty.avro").close();
  EXPECT_EQ(test::run_command(reader_bin() + " " + q(t.path / "empty.avro"), &out), 3);
  // A codec we do not have (python3-avro writes bzip2).
  if (!python_reads(AvroCodec::null) || !have("/usr/bin/python3 -c 'import bz2'")) {
    test::skip_part("python3-avro or python3's bz2 missing: no bzip2 file to check the unsupported codec with");
  } else {
    const fs::path f = t.path / "bz.avro";
    ASSERT_EQ(test::run_command(check_py() + " write " + q(schema_file("corsaro_report")) + " bzip2 1 10 " + q(f)), 0);
    out.clear();
    EXPECT_EQ(test::run_command(reader_bin() + " " + q(f), &out), 1);
    EXPECT_NE(out.find("codec 'bzip2' not supported"), std::string::npos) << out;
  }
  // Several files: each is read, the highest status wins; stdin as "-".
  write_ours(t.path / "ok.avro", FlowtuplePlugin::schema_json(), AvroCodec::deflate, random_v4(100, 8));
  out.clear();
  EXPECT_EQ(test::run_stdout(reader_bin() + " --json " + q(t.path / "not.avro") + " " + q(t.path / "ok.avro") +
                                 " 2>/dev/null",
                             &out),
            1);
  EXPECT_EQ(lines_of(out).size(), 100u);
  out.clear();
  EXPECT_EQ(test::run_stdout(reader_bin() + " --json - < " + q(t.path / "ok.avro"), &out), 0);
  EXPECT_EQ(lines_of(out).size(), 100u);
  EXPECT_EQ(test::run_command(reader_bin() + " " + q(t.path / "empty.avro") + " " + q(t.path / "not.avro"), &out), 3);
}
