// The Avro container writer (control/avro/): every codec, through the
// compression pool and inline, read back record for record by independent
// readers (python3-avro through tests/read_avro.py, and avro-c's avrocat),
// its header metadata, atomic publication, and files cut short.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "control/avro/codec.hpp"
#include "control/avro/compress_pool.hpp"
#include "control/avro/container.hpp"
#include "plugins/common/avro_encode.hpp"
#include "plugins/flowtuple/flowtuple.hpp"
#include "tests/avro_files.hpp"
#include "tests/test_support.hpp"

namespace fs = std::filesystem;
using namespace privateer;
using test::lines_of;
using test::TempDir;

namespace {


std::string q(const fs::path& p) { return "'" + p.string() + "'"; }
std::string read_avro_py() { return q(test::source_root() / "tests" / "read_avro.py"); }

bool have(const std::string& check) { return test::run_command(check) == 0; }
// Whether python3-avro reads files of codec `c`; where it cannot, the test
// is marked skipped (its other checks go on).
bool python_reads(AvroCodec c) {
  const std::string lacks = test::python_avro_lacks(codec_name(c));
  if (!lacks.empty()) test::skip_part(lacks + " missing: " + codec_name(c) + " files not read by python3-avro");
  return lacks.empty();
}
// avro-c has no zstandard codec; a missing avrocat marks the test skipped.
bool avrocat_reads(AvroCodec c) {
  if (c == AvroCodec::zstandard) return false;
  if (!have("command -v avrocat")) test::skip_part("avro-bin (avrocat) missing");
  return have("command -v avrocat");
}

std::string dotted(uint32_t ip) {
  return std::to_string(ip >> 24) + "." + std::to_string((ip >> 16) & 255) + "." + std::to_string((ip >> 8) & 255) +
         "." + std::to_string(ip & 255);
}

// Random flowtuple records (the writer does not care what the bytes are;
// these are real records of the schema the readers check).
std::vector<FlowtupleRecord> random_records(size_t n, uint64_t seed) {
  std::mt19937_64 g(seed);
  std::vector<FlowtupleRecord> v(n);
  for (size_t i = 0; i < n; ++i) {
    FlowtupleRecord& r = v[i];
    r.time = 1700000000 + 60 * (i * 10 / (n ? n : 1));
    r.src_ip = static_cast<uint32_t>(g());
    r.dst_ip = 0x2c000000u | static_cast<uint32_t>(g() & 0xffffff);
    r.src_port = static_cast<uint16_t>(g());
    r.dst_port = static_cast<uint16_t>(g() % 1024);
    r.protocol = (g() & 1) ? 6 : 17;
    r.ttl = static_cast<uint8_t>(g());
    r.tcp_flags = r.protocol == 6 ? 2 : 0;
    r.ip_len = static_cast<uint16_t>(40 + g() % 1460);
    r.tcp_synlen = r.protocol == 6 ? 20 : 0;
    r.tcp_synwinlen = r.protocol == 6 ? static_cast<uint16_t>(g()) : 0;
    r.packet_cnt = 1 + g() % 5;
  }
  return v;
}

// What read_avro.py --all-fields prints for r.
std::string tsv(const FlowtupleRecord& r) {
  std::ostringstream o;
  o << r.time << '\t' << dotted(r.src_ip) << '\t' << dotted(r.dst_ip) << '\t' << r.src_port << '\t' << r.dst_port
    << '\t' << unsigned(r.protocol) << '\t' << unsigned(r.ttl) << '\t' << unsigned(r.tcp_flags) << '\t' << r.ip_len
    << '\t' << unsigned(r.tcp_synlen) << '\t' << r.tcp_synwinlen << '\t' << r.packet_cnt << "\t0\t0\t??\t??\t??\t??\t0";
  return o.str();
}

// What avrocat prints for r.
std::string json(const FlowtupleRecord& r) {
  std::ostringstream o;
  o << "{\"time\": " << r.time << ", \"src_ip\": " << r.src_ip << ", \"dst_ip\": " << r.dst_ip
    << ", \"src_port\": " << r.src_port << ", \"dst_port\": " << r.dst_port << ", \"protocol\": " << unsigned(r.protocol)
    << ", \"ttl\": " << unsigned(r.ttl) << ", \"tcp_flags\": " << unsigned(r.tcp_flags) << ", \"ip_len\": " << r.ip_len
    << ", \"tcp_synlen\": " << unsigned(r.tcp_synlen) << ", \"tcp_synwinlen\": " << r.tcp_synwinlen
    << ", \"packet_cnt\": " << r.packet_cnt
    << ", \"is_spoofed\": 0, \"is_masscan\": 0, \"maxmind_continent\": \"??\", \"maxmind_country\": \"??\", "
       "\"netacq_continent\": \"??\", \"netacq_country\": \"??\", \"prefix2asn\": 0}";
  return o.str();
}

CodecSettings codec(AvroCodec c) {
  CodecSettings s;
  s.codec = c;
  return s;
}

const AvroCodec kCodecs[] = {AvroCodec::null, AvroCodec::deflate, AvroCodec::snappy, AvroCodec::zstandard};

const AvroMetadata kMeta = {{"privateer.monitorid", "telescope-1"},
                            {"privateer.interval_seconds", "60"},
                            {"privateer.first_interval", "1700000000"},
                            {"privateer.version", PRIVATEER_VERSION}};

// Writes `recs` to `path` and closes it (published).
void write_records(AvroContainerFile& f, const fs::path& path, const std::vector<FlowtupleRecord>& recs) {
  test::write_records(f, path, recs, kMeta);
}

// Both readers (where they read this codec) give exactly `recs`.
void expect_readers_agree(const fs::path& path, AvroCodec c, const std::vector<FlowtupleRecord>& recs) {
  if (python_reads(c)) {
    std::string out;
    ASSERT_EQ(test::run_stdout("/usr/bin/python3 " + read_avro_py() + " --all-fields " + q(path), &out), 0) << out;
    const auto got = lines_of(out);
    ASSERT_EQ(got.size(), recs.size());
    for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], tsv(recs[i])) << "python3-avro, record " << i;
  }
  if (avrocat_reads(c)) {
    std::string out;
    ASSERT_EQ(test::run_stdout("avrocat " + q(path), &out), 0) << out;
    const auto got = lines_of(out);
    ASSERT_EQ(got.size(), recs.size());
    for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], json(recs[i])) << "avrocat, record " << i;
  }
}

}  // namespace

TEST(AvroCodec, NamesAndCrc) {
  for (AvroCodec c : kCodecs) EXPECT_EQ(parse_codec(codec_name(c)), c);
  EXPECT_EQ(parse_codec("zstd"), AvroCodec::zstandard);
  EXPECT_FALSE(parse_codec("lzma"));
  // The CRC-32 check value of the standard (IEEE 802.3, as snappy blocks carry it).
  EXPECT_EQ(crc32_ieee(reinterpret_cast<const uint8_t*>("123456789"), 9), 0xCBF43926u);
  EXPECT_EQ(crc32_ieee(nullptr, 0), 0u);
  BlockCompressor bc;
  std::vector<uint8_t> out;
  CodecSettings s = codec(AvroCodec::deflate);
  s.deflate_level = 4;
  EXPECT_THROW(bc.compress(s, nullptr, 0, out), std::invalid_argument);
  s = codec(AvroCodec::zstandard);
  s.zstd_level = 23;
  EXPECT_THROW(bc.compress(s, nullptr, 0, out), std::invalid_argument);
  EXPECT_THROW(AvroContainerFile(FlowtuplePlugin::schema_json(), s, 1024), std::invalid_argument);
}

// Incompressible input does not overflow any codec's output bound.
TEST(AvroCodec, RandomDataFitsItsBound) {
  std::mt19937_64 g(7);
  std::vector<uint8_t> in(300000);
  for (auto& b : in) b = static_cast<uint8_t>(g());
  BlockCompressor bc;
  for (AvroCodec c : kCodecs) {
    for (int level = 0; level <= 3; ++level) {
      CodecSettings s = codec(c);
      s.deflate_level = level;
      for (size_t n : {size_t{0}, size_t{1}, size_t{65535}, size_t{65536}, in.size()}) {
        std::vector<uint8_t> out;
        ASSERT_NO_THROW(bc.compress(s, in.data(), n, out)) << codec_name(c) << " " << n;
        if (c == AvroCodec::null) {
          EXPECT_EQ(out.size(), n);
        }
        if (c == AvroCodec::snappy) {
          EXPECT_GE(out.size(), 4u);
        }
      }
    }
  }
}

TEST(AvroContainer, Errors) {
  TempDir t;
  EXPECT_THROW(AvroContainerFile("{\"type\": \"recrd\"}", codec(AvroCodec::null), 1024), std::runtime_error);
  EXPECT_THROW(AvroContainerFile(FlowtuplePlugin::schema_json(), codec(AvroCodec::null), 0), std::invalid_argument);
  AvroContainerFile s(FlowtuplePlugin::schema_json(), codec(AvroCodec::null), 1024);
  const uint8_t rec[] = {0};
  EXPECT_THROW(s.append_encoded(rec, 1), std::logic_error);
  EXPECT_THROW(s.close("{}"), std::logic_error);
  // A directory that cannot exist (a regular file in the way).
  { std::ofstream(t.path / "file") << "x"; }
  try {
    s.open((t.path / "file" / "x.avro").string());
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find((t.path / "file").string()), std::string::npos) << e.what();
  }
  EXPECT_FALSE(s.is_open());
  s.open((t.path / "a.avro").string());
  EXPECT_THROW(s.open((t.path / "b.avro").string()), std::logic_error);
}

TEST(AvroContainer, RotationPublishesAtomically) {
  TempDir t;
  CompressionPool pool(2);
  AvroContainerFile s(FlowtuplePlugin::schema_json(), codec(AvroCodec::deflate), 4096, &pool, 3);
  uint64_t total = 0;
  for (int f = 0; f < 3; ++f) {
    const fs::path p = t.path / ("deep/er/" + std::to_string(f) + ".avro");
    s.open(p.string());
    EXPECT_TRUE(fs::exists(p.string() + ".tmp"));
    EXPECT_FALSE(fs::exists(p));
    AvroEncoder e;
    const auto recs = random_records(1000 * (f + 1), f);
    for (const auto& r : recs) {
      e.clear();
      FlowtuplePlugin::encode(r, e);
      s.append_encoded(e.data(), e.size());
    }
    EXPECT_EQ(s.records(), 1000u * (f + 1));
    s.close("{\"file\":" + std::to_string(f) + "}\n");
    EXPECT_GT(s.blocks(), 1u);
    EXPECT_FALSE(fs::exists(p.string() + ".tmp"));
    EXPECT_FALSE(fs::exists(p.string() + ".done.tmp"));
    ASSERT_TRUE(fs::exists(p));
    EXPECT_EQ(test::read_file(p.string() + ".done"), "{\"file\":" + std::to_string(f) + "}\n");
    EXPECT_EQ(s.bytes_written(), fs::file_size(p));
    EXPECT_EQ(test::read_file(p).substr(0, 4), std::string("Obj\x01", 4));
    total += s.bytes_written();
    expect_readers_agree(p, AvroCodec::deflate, recs);
  }
  EXPECT_EQ(s.total_bytes_written(), total);
  // A file destroyed while open (blocks in flight on the pool) leaves only
  // the .tmp: nothing published.
  {
    AvroContainerFile s2(FlowtuplePlugin::schema_json(), codec(AvroCodec::deflate), 1024, &pool, 8);
    s2.open((t.path / "unfinished.avro").string());
    AvroEncoder e;
    for (const auto& r : random_records(5000, 9)) {
      e.clear();
      FlowtuplePlugin::encode(r, e);
      s2.append_encoded(e.data(), e.size());
    }
  }
  EXPECT_TRUE(fs::exists(t.path / "unfinished.avro.tmp"));
  EXPECT_FALSE(fs::exists(t.path / "unfinished.avro"));
  EXPECT_FALSE(fs::exists(t.path / "unfinished.avro.done"));
}

// Every codec, on the pool and inline: 0 records, 1 record, records larger
// than the block (one block each), many blocks; the header's metadata.
TEST(AvroContainer, EveryCodecReadBackByBothReaders) {
  if (!python_reads(AvroCodec::null)) GTEST_SKIP() << "python3-avro missing (apt-get install python3-avro)";
  TempDir t;
  CompressionPool pool(3);
  struct Case {
    const char* name;
    size_t records;
    size_t block;
  };
  const Case cases[] = {{"empty", 0, 4096}, {"one", 1, 4096}, {"larger-than-block", 50, 16}, {"blocks", 20000, 4096}};
  for (AvroCodec c : kCodecs) {
    for (bool use_pool : {true, false}) {
      for (const Case& k : cases) {
        SCOPED_TRACE(std::string(codec_name(c)) + (use_pool ? " pool " : " inline ") + k.name);
        const auto recs = random_records(k.records, k.records + static_cast<int>(c));
        const fs::path p = t.path / (std::string(codec_name(c)) + (use_pool ? "-pool-" : "-inline-") + k.name + ".avro");
        AvroContainerFile f(FlowtuplePlugin::schema_json(), codec(c), k.block, use_pool ? &pool : nullptr, 4);
        write_records(f, p, recs);
        if (k.block == 16) {
          EXPECT_EQ(f.blocks(), k.records);
        }
        expect_readers_agree(p, c, recs);
      }
    }
    if (python_reads(c)) {
      std::string out;
      const fs::path p = t.path / (std::string(codec_name(c)) + "-pool-one.avro");
      ASSERT_EQ(test::run_stdout("/usr/bin/python3 " + read_avro_py() + " --meta " + q(p), &out), 0) << out;
      EXPECT_EQ(out, std::string("avro.codec\t") + codec_name(c) +
                         "\nprivateer.first_interval\t1700000000\nprivateer.interval_seconds\t60\n"
                         "privateer.monitorid\ttelescope-1\nprivateer.version\t" PRIVATEER_VERSION "\n");
    }
  }
}

// 1.68 M records (a telescope interval's worth) in 64 KiB blocks on the
// pool: python3-avro reads the default codec and zstandard (which avro-c
// cannot), avrocat every other codec, all at once.
TEST(AvroContainer, LargeFileEveryCodec) {
  if (!python_reads(AvroCodec::deflate)) GTEST_SKIP() << "python3-avro missing";
  if (!have("command -v avrocat")) GTEST_SKIP() << "avrocat (avro-bin) missing";
  TempDir t;
  CompressionPool pool(2);
  const auto recs = random_records(1680000, 42);
  std::string cmd;
  for (AvroCodec c : kCodecs) {
    const fs::path p = t.path / (std::string(codec_name(c)) + ".avro");
    AvroContainerFile f(FlowtuplePlugin::schema_json(), codec(c), 64 * 1024, &pool, 5);
    write_records(f, p, recs);
    EXPECT_GT(f.blocks(), 100u);
    const std::string n = codec_name(c);
    if (c == AvroCodec::deflate || c == AvroCodec::zstandard) {
      if (python_reads(c)) {
        cmd += "(/usr/bin/python3 " + read_avro_py() + " --all-fields " + q(p) + " > " + q(t.path / (n + ".py")) +
               "; echo $? > " + q(t.path / (n + ".py.rc")) + ") & ";
      }
    }
    if (avrocat_reads(c)) {
      cmd += "(avrocat " + q(p) + " > " + q(t.path / (n + ".cat")) + "; echo $? > " + q(t.path / (n + ".cat.rc")) +
             ") & ";
    }
  }
  ASSERT_EQ(test::run_command(cmd + "wait"), 0);
  size_t checked = 0;
  for (const auto& e : fs::directory_iterator(t.path)) {
    const std::string ext = e.path().extension().string();
    if (ext != ".py" && ext != ".cat") continue;
    SCOPED_TRACE(e.path().filename().string());
    EXPECT_EQ(test::read_file(e.path().string() + ".rc"), "0\n");
    const auto got = lines_of(test::read_file(e.path()));
    ASSERT_EQ(got.size(), recs.size());
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_EQ(got[i], ext == ".py" ? tsv(recs[i]) : json(recs[i])) << "record " << i;
    }
    ++checked;
  }
  EXPECT_EQ(checked, python_reads(AvroCodec::zstandard) ? 5u : 4u);
}

// A file cut at any block boundary reads as the blocks before the cut;
// cut inside a block, both readers fail on it, and every block before it
// still reads.
TEST(AvroContainer, CutFilesKeepEveryEarlierBlock) {
  if (!python_reads(AvroCodec::null)) GTEST_SKIP() << "python3-avro missing";
  TempDir t;
  for (AvroCodec c : {AvroCodec::null, AvroCodec::deflate}) {
    SCOPED_TRACE(codec_name(c));
    const auto recs = random_records(400, 3);
    const fs::path p = t.path / "whole.avro";
    AvroContainerFile f(FlowtuplePlugin::schema_json(), codec(c), 2048, nullptr);
    write_records(f, p, recs);
    const std::string file = test::read_file(p);
    // Where every block starts, and the end of the file.
    std::vector<size_t> offs = test::avro_blocks(file).start;
    offs.push_back(file.size());
    ASSERT_GT(offs.size(), 4u);
    // Records per block, from the writer's block size: count them by
    // reading each prefix that ends on a boundary.
    std::vector<size_t> records_before(offs.size(), 0);
    for (size_t b = 0; b < offs.size(); ++b) {
      const fs::path cut = t.path / "cut.avro";
      std::ofstream(cut, std::ios::binary).write(file.data(), static_cast<std::streamsize>(offs[b]));
      std::string out;
      ASSERT_EQ(test::run_stdout("/usr/bin/python3 " + read_avro_py() + " --all-fields " + q(cut), &out), 0) << b;
      const auto got = lines_of(out);
      records_before[b] = got.size();
      for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], tsv(recs[i]));
      if (avrocat_reads(c)) {
        std::string cat;
        ASSERT_EQ(test::run_stdout("avrocat " + q(cut), &cat), 0) << b;
        EXPECT_EQ(lines_of(cat).size(), got.size());
      }
      if (b) {
        EXPECT_GT(records_before[b], records_before[b - 1]);
      }
    }
    EXPECT_EQ(records_before.back(), recs.size());
    // Inside blocks: in the block's header, in its data, in its sync marker
    // (the last only for the first and the last block: python3-avro 1.11
    // loops forever on a cut sync marker, seeking back 16 bytes and
    // rereading, so it runs under timeout(1), whose exit counts as failing).
    for (size_t b = 0; b + 1 < offs.size(); b += 2) {
      std::vector<size_t> cuts = {offs[b] + 1, (offs[b] + offs[b + 1]) / 2};
      if (b == 0 || b + 2 >= offs.size()) cuts.push_back(offs[b + 1] - 1);
      for (size_t at : cuts) {
        SCOPED_TRACE("cut at " + std::to_string(at) + " in block " + std::to_string(b));
        // Cut in the sync marker, the block's records are all there: a
        // reader may hand them out (avrocat then even ends without error).
        const bool in_sync = at + 16 >= offs[b + 1];
        const size_t most = in_sync ? records_before[b + 1] : records_before[b + 1] - 1;
        const fs::path cut = t.path / "cut.avro";
        std::ofstream(cut, std::ios::binary).write(file.data(), static_cast<std::streamsize>(at));
        std::string out;
        EXPECT_NE(test::run_stdout("timeout 3 /usr/bin/python3 " + read_avro_py() + " --all-fields " + q(cut) +
                                       " 2>/dev/null",
                                   &out),
                  0);
        // Every earlier block reads (a reader may hand out records of the
        // cut block before it finds the cut), then the reader fails.
        const auto got = lines_of(out);
        EXPECT_GE(got.size(), records_before[b]);
        EXPECT_LE(got.size(), most);
        for (size_t i = 0; i < got.size() && i < recs.size(); ++i) ASSERT_EQ(got[i], tsv(recs[i]));
        if (avrocat_reads(c)) {
          // avrocat reports a cut block on stderr and still exits 0.
          std::string cat;
          test::run_stdout("avrocat " + q(cut) + " 2>" + q(t.path / "cat.err"), &cat);
          if (!in_sync) {
            EXPECT_NE(test::read_file(t.path / "cat.err").find("Cannot read file block"), std::string::npos)
                << test::read_file(t.path / "cat.err");
          }
          EXPECT_GE(lines_of(cat).size(), records_before[b]);
          EXPECT_LE(lines_of(cat).size(), most);
        }
      }
    }
  }
}
