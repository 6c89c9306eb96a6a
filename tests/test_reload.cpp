// Reload of the tag tables on SIGHUP during a run, end to end: a run reads
// a capture through a FIFO the test feeds chunk by chunk; between chunks the
// test swaps the configured pfx2as file (a rename over the path, as an
// operator's cron job would) and sends SIGHUP, 20 times, alternating two
// tables that give different origin ASes for the same sources. Every packet
// must be counted exactly once (the run's total and the flowtuple
// packet_cnt sum against capinfos), every record must carry the origin AS of
// its source under one of the two tables (pyasn, python3-pyasn, is the
// oracle for the longest-prefix match), and records of intervals read after
// the last swap that of the last table. A bad file keeps the old tables.
// Also flowtuple's geo and AS fields through the binary with real tables.
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <set>
#include <utility>
#include <string>
#include <vector>

#include "tests/test_support.hpp"

namespace fs = std::filesystem;
using namespace privateer::test;

namespace {

// A capture of 200 s at 400 pps (perf/gen_telescope); empty when not built.
fs::path make_capture(const fs::path& dir) {
  const fs::path gen = privateer_bin().parent_path().parent_path() / "perf" / "gen_telescope";
  if (!fs::exists(gen)) return {};
  const fs::path cap = dir / "capture.pcap";
  if (run_command(quote(gen) + " -q -o " + quote(cap) + " -n 80000 --pps 400 --seed 5") != 0) return {};
  return cap;
}

// Byte offset and timestamp (s) of every packet record of a classic pcap file.
struct PcapIndex {
  std::vector<size_t> offset;
  std::vector<uint32_t> sec;
};
PcapIndex index_pcap(const fs::path& f) {
  const std::string b = read_file(f);
  PcapIndex ix;
  size_t p = 24;
  while (p + 16 <= b.size()) {
    uint32_t ts, incl;
    std::memcpy(&ts, b.data() + p, 4);
    std::memcpy(&incl, b.data() + p + 8, 4);
    ix.offset.push_back(p);
    ix.sec.push_back(ts);
    p += 16 + incl;
  }
  ix.offset.push_back(b.size());
  return ix;
}

// Two prefix tables over the same prefixes with different origins, in the
// pfx2as format (prefix, length, AS; tab separated) and in pyasn's
// (prefix/length, AS), from a seeded generator: /1 covers, then /8 to /20
// more specifics.
void write_tables(const fs::path& dir, unsigned variant, uint64_t seed) {
  std::ofstream pfx(dir / ("pfx2as-" + std::to_string(variant) + ".txt"));
  std::ofstream ipasn(dir / ("ipasn-" + std::to_string(variant) + ".txt"));
  uint64_t s = seed;
  auto next = [&s] {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    return s >> 17;
  };
  auto put = [&](uint32_t net, unsigned len, uint32_t asn) {
    const std::string dotted = std::to_string(net >> 24) + "." + std::to_string((net >> 16) & 255) + "." +
                               std::to_string((net >> 8) & 255) + "." + std::to_string(net & 255);
    pfx << dotted << "\t" << len << "\t" << asn << "\n";
    ipasn << dotted << "/" << len << "\t" << asn << "\n";
  };
  const uint32_t base = variant == 0 ? 100000 : 200000;   // disjoint ASN ranges
  put(0, 1, base);
  put(0x80000000u, 1, base + 1);
  std::set<std::pair<uint32_t, unsigned>> seen;
  for (unsigned i = 0; i < 3000; ++i) {
    const unsigned len = 8 + next() % 13;
    const uint32_t net = static_cast<uint32_t>(next()) & ~((1u << (32 - len)) - 1);
    if (seen.insert({net, len}).second) put(net, len, base + 2 + i);
  }
}

fs::path write_config(const fs::path& dir, const fs::path& source, const fs::path& pfx2as,
                      const std::string& prometheus = "{enabled: no}") {
  const fs::path p = dir / "privateer.yaml";
  std::ofstream(p) << "packetsource: " << source.string() << "\ninterval: 60\nrotatefreq: 0\nthreads: 2\n"
                   << "outtemplate: " << (dir / "%P-%s.avro").string() << "\nprogress: no\n"
                   << "prometheus: " << prometheus << "\n"
                   << "tagproviders:\n  - pfx2as:\n      prefixfile: " << pfx2as.string() << "\n"
                   << "plugins:\n  - flowtuple\n";
  return p;
}

// The value of the sample `name{labels}` on the run's endpoint (-1: none).
double scrape_value(const fs::path& log, const std::string& sample) {
  std::smatch m;
  const std::string text = read_file(log);
  if (!std::regex_search(text, m, std::regex("metrics on http://127\\.0\\.0\\.1:([0-9]+)/metrics"))) return -1;
  std::string page;
  if (run_stdout("curl -s http://127.0.0.1:" + m[1].str() + "/metrics", &page) != 0) return -1;
  for (const auto& l : lines_of(page)) {
    if (l.rfind(sample + " ", 0) == 0) return std::stod(l.substr(sample.size() + 1));
  }
  return -1;
}

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

// Checks every record of the flowtuple files in `dir` with pyasn: prints
// "records=N bad=B late_bad=L packets_table0=P0 packets_table1=P1" (late:
// time >= `after`, which must match table `final_variant`; Pv: packets of
// records whose AS only table v gives).
std::string check_records(const fs::path& dir, unsigned after, unsigned final_variant) {
  const fs::path script = dir / "check.py";
  std::ofstream(script) << R"py(
import glob, sys, ipaddress
import avro.datafile, avro.io
import pyasn
d, after, final = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
tables = [pyasn.pyasn(d + "/ipasn-0.txt"), pyasn.pyasn(d + "/ipasn-1.txt")]
n = bad = late_bad = 0
seen = [0, 0]
for f in sorted(glob.glob(d + "/flowtuple-*.avro")):
    with avro.datafile.DataFileReader(open(f, "rb"), avro.io.DatumReader()) as r:
        for rec in r:
            n += 1
            src = str(ipaddress.IPv4Address(rec["src_ip"]))
            want = [t.lookup(src)[0] or 0 for t in tables]
            if rec["prefix2asn"] not in want:
                bad += 1
            for v in (0, 1):
                if rec["prefix2asn"] == want[v] != want[1 - v]:
                    seen[v] += rec["packet_cnt"]
            if rec["time"] >= after and rec["prefix2asn"] != want[final]:
                late_bad += 1
print("records=%d bad=%d late_bad=%d packets_table0=%d packets_table1=%d" % (n, bad, late_bad, seen[0], seen[1]))
)py";
  std::string out;
  run_stdout("/usr/bin/python3 " + quote(script) + " " + quote(dir) + " " + std::to_string(after) + " " +
                 std::to_string(final_variant),
             &out);
  return out;
}

// What each reload test starts from: the tools it needs, a generated capture
// and its packet index, a FIFO the run will read it from and, with tables,
// the two prefix tables of `seed` with table 0 at the configured path.
struct ReloadRun {
  TempDir tmp;
  fs::path cap, live;
  uint64_t want = 0;
  PcapIndex ix;
  std::unique_ptr<FifoWriter> fifo;

  // The reason to skip the test, or "" once everything is set up.
  std::string setup(bool tables, uint64_t seed = 0) {
    if (run_command("command -v avrocat && command -v capinfos") != 0) return "avrocat or capinfos missing";
    if (tables && run_command("/usr/bin/python3 -c 'import pyasn, avro.datafile'") != 0) {
      return "python3-pyasn or python3-avro missing";
    }
    cap = make_capture(tmp.path);
    if (cap.empty()) return "perf/gen_telescope not built";
    want = capture_packets(cap);
    ix = index_pcap(cap);
    if (tables) {
      write_tables(tmp.path, 0, seed);
      write_tables(tmp.path, 1, seed);
      live = tmp.path / "pfx2as.txt";
      fs::copy_file(tmp.path / "pfx2as-0.txt", live);
    }
    fifo = std::make_unique<FifoWriter>(tmp.path / "in.pcap");
    return "";
  }
  // The config reading the FIFO, tagging with the live table.
  fs::path config(const std::string& prometheus = "{enabled: no}") const {
    return write_config(tmp.path, tmp.path / "in.pcap", live, prometheus);
  }
};

#define SETUP_OR_SKIP(run, ...)                            \
  do {                                                     \
    const std::string why_ = (run).setup(__VA_ARGS__);     \
    if (!why_.empty()) GTEST_SKIP() << why_;               \
  } while (0)

}  // namespace

TEST(Reload, TwentySighupsSwapPfx2asWithoutLoss) {
  ReloadRun r;
  SETUP_OR_SKIP(r, true, 1);
  const TempDir& tmp = r.tmp;
  const fs::path &cap = r.cap, &live = r.live;
  const uint64_t want = r.want;
  const PcapIndex& ix = r.ix;
  FifoWriter& fifo = *r.fifo;
  ASSERT_EQ(ix.sec.size(), want);
  const fs::path cfg = r.config();

  const fs::path log = tmp.path / "run.out";
  BackgroundRun run({"-c", cfg.string()}, log);
  ASSERT_TRUE(fifo.open_when_read()) << read_file(log);
  // The first half of the capture in 21 chunks with a swap after each of the
  // first 20; then the rest, read with the last table only.
  const size_t half = want / 2;
  constexpr int kSwaps = 20;
  unsigned variant = 0;
  for (int i = 0; i <= kSwaps; ++i) {
    const size_t from = half * i / (kSwaps + 1), to = half * (i + 1) / (kSwaps + 1);
    ASSERT_TRUE(fifo.write_part(cap, i == 0 ? 0 : ix.offset[from], ix.offset[to])) << read_file(log);
    if (i == kSwaps) break;
    variant ^= 1;
    const fs::path next = tmp.path / "pfx2as.next";
    fs::copy_file(tmp.path / ("pfx2as-" + std::to_string(variant) + ".txt"), next,
                  fs::copy_options::overwrite_existing);
    fs::rename(next, live);
    run.signal(SIGHUP);
    ASSERT_TRUE(wait_until([&] { return count_of(read_file(log), "tag tables reloaded") == size_t(i + 1); }, 30))
        << "reload " << i + 1 << ":\n" << read_file(log);
  }
  ASSERT_TRUE(run.running());
  ASSERT_TRUE(fifo.write_part(cap, ix.offset[half], SIZE_MAX));
  fifo.close();
  ASSERT_EQ(run.wait(120), 0) << read_file(log);
  const std::string out = read_file(log);
  EXPECT_EQ(count_of(out, "tag tables reloaded"), size_t(kSwaps)) << out;
  EXPECT_EQ(count_of(out, "tag tables not reloaded"), 0u) << out;
  EXPECT_NE(out.find("privateer: " + std::to_string(want) + " packets"), std::string::npos) << out;
  EXPECT_EQ(flowtuple_packets(tmp.path), want);
  // Intervals wholly after the last swap: from the first interval start after
  // the last packet written before it.
  const unsigned after = (ix.sec[half - 1] / 60 + 1) * 60;
  ASSERT_LT(after, ix.sec.back());
  const std::string res = check_records(tmp.path, after, variant);
  EXPECT_NE(res.find(" bad=0 late_bad=0"), std::string::npos) << res;
  EXPECT_EQ(res.find("records=0 "), std::string::npos) << res;
  // Both tables were in use.
  EXPECT_EQ(res.find("packets_table0=0 "), std::string::npos) << res;
  EXPECT_EQ(res.find("packets_table1=0"), std::string::npos) << res;
  RecordProperty("check", res);
}

// A file that is not a prefix table: the reload fails, is logged with the
// config key, and the run goes on with the tables it had (and the next good
// file loads).
TEST(Reload, BadFileKeepsTheOldTables) {
  ReloadRun r;
  SETUP_OR_SKIP(r, true, 2);
  const TempDir& tmp = r.tmp;
  const fs::path &cap = r.cap, &live = r.live;
  const uint64_t want = r.want;
  const PcapIndex& ix = r.ix;
  FifoWriter& fifo = *r.fifo;
  const fs::path cfg = r.config("{listen: \"127.0.0.1:0\"}");
  const bool have_curl = run_command("command -v curl") == 0;
  const fs::path log = tmp.path / "run.out";
  BackgroundRun run({"-c", cfg.string()}, log);
  ASSERT_TRUE(fifo.open_when_read()) << read_file(log);
  ASSERT_TRUE(fifo.write_part(cap, 0, ix.offset[want / 4]));
  const std::string ok = "privateer_tag_reloads_total{source=\"all\",result=\"ok\"}";
  const std::string failed = "privateer_tag_reloads_total{source=\"all\",result=\"failed\"}";
  if (have_curl) {
    ASSERT_TRUE(wait_until([&] { return scrape_value(log, ok) == 0; }, 30)) << read_file(log);
    EXPECT_EQ(scrape_value(log, failed), 0);
  }
  std::ofstream(tmp.path / "bad.txt") << "this is not\ta prefix table\n";
  fs::rename(tmp.path / "bad.txt", live);
  run.signal(SIGHUP);
  ASSERT_TRUE(wait_until([&] { return count_of(read_file(log), "tag tables not reloaded") == 1; }, 30)) << read_file(log);
  const std::string mid = read_file(log);
  EXPECT_NE(mid.find("tagproviders"), std::string::npos) << mid;   // the ConfigError names the key
  if (have_curl) {
    EXPECT_EQ(scrape_value(log, failed), 1);
    EXPECT_EQ(scrape_value(log, ok), 0);
  }
  // Everything after that is still tagged with table 0.
  ASSERT_TRUE(fifo.write_part(cap, ix.offset[want / 4], SIZE_MAX));
  fifo.close();
  ASSERT_EQ(run.wait(120), 0) << read_file(log);
  EXPECT_EQ(flowtuple_packets(tmp.path), want);
  const std::string res = check_records(tmp.path, 0, 0);
  EXPECT_NE(res.find(" bad=0 late_bad=0"), std::string::npos) << res;
  EXPECT_NE(res.find(" packets_table1=0"), std::string::npos) << res;
}

// Without tag tables SIGHUP only reopens the log and says there is nothing
// to reload; the run goes on and loses nothing.
TEST(Reload, SighupWithoutTagTablesChangesNothing) {
  ReloadRun r;
  SETUP_OR_SKIP(r, false);
  const TempDir& tmp = r.tmp;
  const fs::path& cap = r.cap;
  const uint64_t want = r.want;
  const PcapIndex& ix = r.ix;
  FifoWriter& fifo = *r.fifo;
  const fs::path cfg = tmp.path / "privateer.yaml";
  std::ofstream(cfg) << "packetsource: " << (tmp.path / "in.pcap").string()
                     << "\ninterval: 60\nrotatefreq: 0\nthreads: 2\nouttemplate: " << (tmp.path / "%P-%s.avro").string()
                     << "\nprogress: no\nprometheus: {enabled: no}\nplugins:\n  - flowtuple\n";
  const fs::path log = tmp.path / "run.out";
  BackgroundRun run({"-c", cfg.string()}, log);
  ASSERT_TRUE(fifo.open_when_read()) << read_file(log);
  constexpr int kHups = 20;
  for (int i = 0; i < kHups; ++i) {
    const size_t from = want * i / kHups, to = want * (i + 1) / kHups;
    ASSERT_TRUE(fifo.write_part(cap, i == 0 ? 0 : ix.offset[from], ix.offset[to]));
    run.signal(SIGHUP);
    ASSERT_TRUE(wait_until([&] { return count_of(read_file(log), "nothing to reload") == size_t(i + 1); }, 30))
        << read_file(log);
  }
  fifo.close();
  ASSERT_EQ(run.wait(120), 0) << read_file(log);
  const std::string out = read_file(log);
  EXPECT_NE(out.find("privateer: " + std::to_string(want) + " packets"), std::string::npos) << out;
  EXPECT_EQ(flowtuple_packets(tmp.path), want);
}

// flowtuple's geo and AS fields through the binary, with real tables: a
// synthetic City database (perf/gen_mmdb.py) read back by mmdblookup
// (libmaxminddb's tool), the pfx2as table by pyasn, for a sample of records.
TEST(FlowtupleTags, GeoAndAsFieldsMatchMmdblookupAndPyasn) {
  if (run_command("command -v mmdblookup") != 0) GTEST_SKIP() << "mmdblookup missing (apt-get install mmdb-bin)";
  if (run_command("/usr/bin/python3 -c 'import pyasn, avro.datafile'") != 0) {
    GTEST_SKIP() << "python3-pyasn or python3-avro missing";
  }
  TempDir tmp;
  const fs::path cap = make_capture(tmp.path);
  if (cap.empty()) GTEST_SKIP() << "perf/gen_telescope not built";
  const fs::path mmdb = tmp.path / "city.mmdb";
  ASSERT_EQ(run_command("/usr/bin/python3 " + quote(source_root() / "perf" / "gen_mmdb.py") + " " + quote(mmdb) +
                        " --networks 200000 --seed 3"),
            0);
  write_tables(tmp.path, 0, 3);
  const fs::path cfg = tmp.path / "privateer.yaml";
  std::ofstream(cfg) << "packetsource: " << cap.string() << "\ninterval: 60\nthreads: 2\nouttemplate: "
                     << (tmp.path / "%P-%s.avro").string() << "\nprogress: no\nprometheus: {enabled: no}\n"
                     << "tagproviders:\n  - pfx2as:\n      prefixfile: " << (tmp.path / "pfx2as-0.txt").string()
                     << "\n  - maxmind:\n      directory: " << mmdb.string() << "\nplugins:\n  - flowtuple\n";
  std::string out;
  ASSERT_EQ(run_command(quote(privateer_bin()) + " -c " + quote(cfg), &out), 0) << out;
  const fs::path script = tmp.path / "geo.py";
  std::ofstream(script) << R"py(
import glob, ipaddress, json, subprocess, sys
import avro.datafile, avro.io
import pyasn
d, mmdb = sys.argv[1], sys.argv[2]
asn = pyasn.pyasn(d + "/ipasn-0.txt")
recs = []
for f in sorted(glob.glob(d + "/flowtuple-*.avro")):
    with avro.datafile.DataFileReader(open(f, "rb"), avro.io.DatumReader()) as r:
        recs.extend(r)
def mmdb_code(ip, *path):
    p = subprocess.run(["mmdblookup", "--file", mmdb, "--ip", ip] + list(path), capture_output=True, text=True)
    for tok in p.stdout.split('"')[1::2]:
        return tok
    return "??"
n = bad = known = 0
for rec in recs[:: max(1, len(recs) // 300)]:
    ip = str(ipaddress.IPv4Address(rec["src_ip"]))
    want = (mmdb_code(ip, "continent", "code"), mmdb_code(ip, "country", "iso_code"), asn.lookup(ip)[0] or 0)
    got = (rec["maxmind_continent"], rec["maxmind_country"], rec["prefix2asn"])
    n += 1
    known += want[1] != "??"
    if got != want or rec["netacq_continent"] != "??" or rec["netacq_country"] != "??":
        bad += 1
        print("mismatch", ip, got, want)
print("checked=%d known=%d bad=%d" % (n, known, bad))
)py";
  out.clear();
  ASSERT_EQ(run_stdout("/usr/bin/python3 " + quote(script) + " " + quote(tmp.path) + " " + quote(mmdb), &out), 0) << out;
  EXPECT_NE(out.find(" bad=0"), std::string::npos) << out;
  EXPECT_EQ(out.find(" known=0 "), std::string::npos) << out;
  RecordProperty("check", out);
}
