// The wdcap plugin through the binary, read back by tcpdump and tshark: every
// corpus capture through 1, 2 and 4 workers (pcap µs, pcapng ns, pcap ns
// gzip), the multiset of (timestamp, length, captured length, MD5 of the
// bytes) of the output equal to the input's as tshark computes both,
// timestamps in order, every file complete (.done, .stats), compressed files
// passing gzip -t / zstd -t; rotation boundaries on a 100-second capture;
// snaplen and VLAN stripping against editcap; a full tmpfs: every packet
// either in a complete file or counted as dropped, the capture going on.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/test_support.hpp"

namespace fs = std::filesystem;
using namespace privateer::test;

namespace {

struct Mode {
  unsigned workers;
  std::string format;       // pcap | pcapng
  bool ns;
  std::string compression;  // none | gzip | zstd
};

const Mode kModes[] = {{1, "pcap", false, "none"}, {2, "pcapng", true, "zstd"}, {4, "pcap", true, "gzip"}};

bool is_erf(const std::string& name) { return name.find(".erf") != std::string::npos; }

// Runs privateer on `input` with the wdcap plugin; the output in `out`.
int run_wdcap(const fs::path& input, const fs::path& dir, const fs::path& out, const Mode& m,
              const std::string& top_extra, const std::string& plugin_extra, std::string* log,
              const std::string& tmpl = "%P-%s") {
  fs::create_directories(out);
  const fs::path cfg = dir / "privateer.yaml";
  std::ofstream(cfg) << "packetsource: " << input.string() << "\nthreads: " << m.workers
                     << "\nouttemplate: " << (out / tmpl).string() << "\nprogress: no\n"
                     << top_extra << "plugins:\n  - wdcap:\n      fileformat: " << m.format
                     << "\n      nanoseconds: " << (m.ns ? "yes" : "no") << "\n      compressmethod: " << m.compression
                     << "\n" << plugin_extra;
  return run_command(quote(privateer_bin()) + " -c " + quote(cfg), log);
}

// The packet files of a run (not .done, .stats, .tmp), in name order.
std::vector<fs::path> packet_files(const fs::path& out) {
  std::vector<fs::path> v;
  for (const auto& e : fs::directory_iterator(out)) {
    const std::string n = e.path().filename().string();
    if (n.ends_with(".done") || n.ends_with(".stats") || n.ends_with(".tmp")) continue;
    v.push_back(e.path());
  }
  std::sort(v.begin(), v.end());
  return v;
}

// A compressed file checked with its system tool and decompressed beside
// the test's files; a plain one as it is.
fs::path readable(const fs::path& f, const fs::path& scratch) {
  const std::string n = f.filename().string();
  std::string tool;
  if (n.ends_with(".gz")) tool = "gzip";
  if (n.ends_with(".zst")) tool = "zstd -q";
  if (tool.empty()) return f;
  std::string why;
  EXPECT_EQ(run_command(tool + " -t " + quote(f), &why), 0) << f << ": " << why;
  const fs::path plain = scratch / f.stem();
  EXPECT_EQ(run_command(tool + " -dc " + quote(f) + " > " + quote(plain), &why), 0) << why;
  return plain;
}

// tshark's fields of every packet of `f`, one tab-separated line each.
std::vector<std::string> tshark_fields(const fs::path& f, const std::vector<std::string>& fields) {
  std::string cmd = "tshark -n -r " + quote(f) + " -o frame.generate_md5_hash:TRUE -T fields -E separator=/t";
  for (const auto& x : fields) cmd += " -e " + x;
  std::string out;
  EXPECT_EQ(run_stdout(cmd + " 2>/dev/null", &out), 0) << cmd;
  return lines_of(out);
}

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> v;
  std::stringstream ss(line);
  std::string x;
  while (std::getline(ss, x, '\t')) v.push_back(x);
  while (v.size() < 8) v.emplace_back();
  return v;
}

// "S.NNNNNNNNN" cut to microseconds.
std::string to_us(const std::string& t) {
  const size_t dot = t.find('.');
  return dot == std::string::npos ? t : t.substr(0, std::min(t.size(), dot + 7));
}

long double as_time(const std::string& t) { return std::stold(t); }

// Packets tcpdump reads from `f` (its exit status must be 0): the lines
// that start with a timestamp.
size_t tcpdump_count(const fs::path& f) {
  std::string out;
  EXPECT_EQ(run_stdout("tcpdump -nn -tt -r " + quote(f) + " 2>/dev/null", &out), 0) << f;
  size_t n = 0;
  for (const auto& l : lines_of(out)) n += !l.empty() && isdigit(static_cast<unsigned char>(l[0]));
  return n;
}

std::string first_difference(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    if (a[i] != b[i]) return "first difference at " + std::to_string(i) + ": input '" + a[i] + "' output '" + b[i] + "'";
  }
  return "input " + std::to_string(a.size()) + " packets, output " + std::to_string(b.size());
}

class WdcapCorpus : public ::testing::TestWithParam<std::tuple<std::string, int>> {};

TEST_P(WdcapCorpus, OutputHoldsEveryPacketInOrder) {
  PRIVATEER_REQUIRE_CORPUS();
  PRIVATEER_REQUIRE_TOOL("command -v tshark && command -v tcpdump && command -v zstd", "tshark, tcpdump or zstd");
  const auto& [name, mi] = GetParam();
  const Mode& m = kModes[mi];
  const fs::path input = *corpus_dir() / name;
  TempDir tmp("privateer-wdcap");
  const fs::path out = tmp.path / "out";
  std::string log;
  ASSERT_EQ(run_wdcap(input, tmp.path, out, m, "interval: 60\n", "", &log), 0) << log;

  // Input: time, length, captured length, MD5, link type; for ERF the
  // Ethernet frame inside, its length without the 4-byte FCS.
  const bool erf = is_erf(name);
  const std::vector<std::string> in_fields =
      erf ? std::vector<std::string>{"frame.time_epoch", "erf.wlen", "eth.src", "eth.dst", "eth.type", "ip.id", "ip.src",
                                     "ip.dst"}
          : std::vector<std::string>{"frame.time_epoch", "frame.len", "frame.cap_len", "frame.md5_hash",
                                     "frame.encap_type"};
  const std::vector<std::string> out_fields =
      erf ? std::vector<std::string>{"frame.time_epoch", "frame.len", "eth.src", "eth.dst", "eth.type", "ip.id", "ip.src",
                                     "ip.dst"}
          : in_fields;
  auto key = [&](const std::string& line, bool input_side) {
    auto f = split_tabs(line);
    if (!m.ns) f[0] = to_us(f[0]);
    if (erf && input_side) f[1] = std::to_string(std::stoul(f[1]) - 4);
    std::string k;
    for (size_t i = 0; i < in_fields.size(); ++i) k += f[i] + "\t";
    return k;
  };
  // pcapng blocks that are not packets have no link type; a Simple Packet
  // Block has no timestamp (read as 0).
  std::vector<std::string> in_lines;
  for (auto l : tshark_fields(input, in_fields)) {
    if (!erf && split_tabs(l)[4].empty()) continue;
    if (l.starts_with("\t")) l = "0.000000000" + l;
    in_lines.push_back(l);
  }
  std::vector<std::string> want;
  std::string first_encap;
  std::set<std::string> encaps;
  size_t other_linktype = 0;
  for (const auto& l : in_lines) {
    // A pcap file has one link type: that of its first packet.
    const std::string encap = erf ? "erf" : split_tabs(l)[4];
    if (first_encap.empty()) first_encap = encap;
    encaps.insert(encap);
    if (!erf && m.format == "pcap" && encap != first_encap) {
      ++other_linktype;
      continue;
    }
    want.push_back(key(l, true));
  }

  std::vector<std::string> got;
  long double last = 0;
  bool input_sorted = true;
  for (size_t i = 1; i < in_lines.size(); ++i) {
    input_sorted = input_sorted && as_time(split_tabs(in_lines[i - 1])[0]) <= as_time(split_tabs(in_lines[i])[0]);
  }
  const auto files = packet_files(out);
  for (const auto& f : files) {
    EXPECT_TRUE(fs::exists(f.string() + ".done")) << f;
    EXPECT_TRUE(fs::exists(f.string() + ".stats")) << f;
    const std::string suffix = "." + m.format + (m.compression == "gzip" ? ".gz" : m.compression == "zstd" ? ".zst" : "");
    EXPECT_TRUE(f.string().ends_with(suffix)) << f;
    const fs::path plain = readable(f, tmp.path);
    const auto lines = tshark_fields(plain, out_fields);
    // libpcap reads a pcapng file of one link type only.
    if (m.format == "pcap" || std::set<std::string>{first_encap} == encaps) {
      EXPECT_EQ(tcpdump_count(plain), lines.size()) << f;
    }
    for (const auto& l : lines) {
      const long double t = as_time(split_tabs(l)[0]);
      if (input_sorted) EXPECT_LE(last, t) << f << ": timestamps go back at " << l;
      last = t;
      got.push_back(key(l, false));
    }
  }
  EXPECT_TRUE(files.empty() == want.empty()) << log;
  std::sort(want.begin(), want.end());
  std::sort(got.begin(), got.end());
  EXPECT_TRUE(want == got) << first_difference(want, got) << "\n" << log;
  if (other_linktype) {
    EXPECT_NE(log.find("dropped (linktype=" + std::to_string(other_linktype) + ")"), std::string::npos) << log;
  }
}

std::vector<std::tuple<std::string, int>> corpus_cases() {
  std::vector<std::tuple<std::string, int>> v;
  for (const auto& c : corpus_captures()) {
    for (int m = 0; m < 3; ++m) v.emplace_back(c, m);
  }
  return v;
}

INSTANTIATE_TEST_SUITE_P(Corpus, WdcapCorpus, ::testing::ValuesIn(corpus_cases()), [](const auto& info) {
  std::string n = std::get<0>(info.param) + "_" + std::to_string(kModes[std::get<1>(info.param)].workers) + "w";
  for (char& c : n) {
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return n;
});

// Files of rotatefreq x interval seconds, epoch-aligned: each file, named
// for the start of its first packet's interval (as the Avro files), holds
// exactly the input's packets of its period.
TEST(Wdcap, RotationBoundariesAreExact) {
  PRIVATEER_REQUIRE_CORPUS();
  PRIVATEER_REQUIRE_TOOL("command -v tshark", "tshark");
  const fs::path input = *corpus_dir() / "libtrace__100_seconds.pcap";
  for (unsigned workers : {1u, 3u}) {
    TempDir tmp("privateer-wdcap");
    const fs::path out = tmp.path / "out";
    std::string log;
    // A corsarotrace template's ".avro" gives way to ".pcap".
    ASSERT_EQ(run_wdcap(input, tmp.path, out, {workers, "pcap", true, "none"}, "interval: 10\nrotatefreq: 2\n", "", &log,
                        "%P-%s.avro"),
              0)
        << log;
    std::map<uint64_t, std::vector<std::string>> want;   // period start -> times
    for (const auto& l : tshark_fields(input, {"frame.time_epoch"})) {
      const auto s = static_cast<uint64_t>(as_time(l));
      want[s - s % 20].push_back(l);
    }
    std::map<uint64_t, std::vector<std::string>> got;
    for (const auto& f : packet_files(out)) {
      std::smatch mt;
      const std::string n = f.filename().string();
      ASSERT_TRUE(std::regex_match(n, mt, std::regex("wdcap-([0-9]+)\\.pcap"))) << n;
      const uint64_t start = std::stoull(mt[1]);
      EXPECT_EQ(start % 10, 0u) << n;
      auto times = tshark_fields(f, {"frame.time_epoch"});
      ASSERT_FALSE(times.empty()) << n;
      const auto first = static_cast<uint64_t>(as_time(*std::min_element(times.begin(), times.end())));
      EXPECT_EQ(start, first - first % 10) << n;
      got[start - start % 20] = times;
      const std::string stats = read_file(f.string() + ".stats");
      EXPECT_NE(stats.find("time:" + std::to_string(start) + "\n"), std::string::npos) << stats;
      EXPECT_NE(stats.find("thread:-1 accepted_pkts:" + std::to_string(times.size()) + "\n"), std::string::npos)
          << stats;
    }
    for (auto& [k, v] : want) std::sort(v.begin(), v.end());
    for (auto& [k, v] : got) std::sort(v.begin(), v.end());
    EXPECT_EQ(want, got) << log;
    EXPECT_GT(want.size(), 3u);
  }
}

// snaplen cuts the captured bytes (as editcap -s does), stripvlans removes
// every VLAN tag (tshark then sees no vlan layer, the rest unchanged).
TEST(Wdcap, SnaplenAndStripVlansMatchEditcapAndTshark) {
  PRIVATEER_REQUIRE_CORPUS();
  PRIVATEER_REQUIRE_TOOL("command -v tshark && command -v editcap", "tshark or editcap");
  TempDir tmp("privateer-wdcap");
  {
    const fs::path input = *corpus_dir() / "zeek__http-methods.pcap";
    const fs::path cut = tmp.path / "cut.pcap";
    ASSERT_EQ(run_command("editcap -s 96 " + quote(input) + " " + quote(cut)), 0);
    std::string log;
    ASSERT_EQ(run_wdcap(input, tmp.path, tmp.path / "snap", {2, "pcap", true, "none"}, "rotatefreq: 0\n",
                        "      snaplen: 96\n", &log),
              0)
        << log;
    const auto files = packet_files(tmp.path / "snap");
    ASSERT_EQ(files.size(), 1u) << log;
    const std::vector<std::string> f{"frame.time_epoch", "frame.len", "frame.cap_len", "frame.md5_hash"};
    auto want = tshark_fields(cut, f), got = tshark_fields(files[0], f);
    std::sort(want.begin(), want.end());
    std::sort(got.begin(), got.end());
    EXPECT_TRUE(want == got) << first_difference(want, got);
    std::string snap;
    run_stdout("capinfos -l " + quote(files[0]), &snap);
    EXPECT_NE(snap.find("96 bytes"), std::string::npos) << snap;
  }
  for (const char* name : {"libtrace__vlan.pcap", "libtrace__qinq.pcap"}) {
    const fs::path input = *corpus_dir() / name;
    const fs::path out = tmp.path / (std::string("vlan-") + name);
    std::string log;
    ASSERT_EQ(run_wdcap(input, tmp.path, out, {1, "pcap", false, "none"}, "rotatefreq: 0\n", "      stripvlans: yes\n",
                        &log),
              0)
        << log;
    const auto files = packet_files(out);
    ASSERT_EQ(files.size(), 1u) << log;
    EXPECT_EQ(tshark_fields(files[0], {"vlan.id"}), std::vector<std::string>(tshark_fields(input, {"frame.number"}).size(), ""))
        << name;
    // Every layer above the tags is unchanged.
    const std::vector<std::string> above{"frame.time_epoch", "eth.src", "eth.dst", "ip.src", "ip.dst", "ip.id",
                                         "ipv6.src", "ipv6.dst", "tcp.srcport", "udp.srcport"};
    auto want = tshark_fields(input, above);
    auto got = tshark_fields(files[0], above);
    for (auto& l : want) l = to_us(l);
    for (auto& l : got) l = to_us(l);
    EXPECT_TRUE(want == got) << name << ": " << first_difference(want, got);
    // frame.len shrinks by 4 bytes per tag.
    const auto in_len = tshark_fields(input, {"frame.len", "vlan.id"});
    const auto out_len = tshark_fields(files[0], {"frame.len"});
    ASSERT_EQ(in_len.size(), out_len.size());
    for (size_t i = 0; i < in_len.size(); ++i) {
      const auto f = split_tabs(in_len[i]);
      const size_t tags = f[1].empty() ? 0 : std::count(f[1].begin(), f[1].end(), ',') + 1;
      EXPECT_EQ(std::stoul(out_len[i]), std::stoul(f[0]) - 4 * tags) << name << " packet " << i + 1;
    }
  }
}

// One flow through 4 workers with 1 MiB rings: the three idle workers hold
// nothing back (the busy ring is written once half full) and the file run
// waits for room instead of dropping: every packet, in order.
TEST(Wdcap, OneBusyFlowAmongIdleWorkersLosesNothing) {
  PRIVATEER_REQUIRE_TOOL("command -v tshark", "tshark");
  TempDir tmp("privateer-wdcap");
  const fs::path cap = tmp.path / "flow.pcap";
  // 20000 UDP packets of 1000 bytes, one flow, 1 ms apart (20 MB in one interval).
  const std::string py =
      "import struct,sys\n"
      "f=open(sys.argv[1],'wb'); f.write(struct.pack('<IHHiIII',0xa1b2c3d4,2,4,0,0,65535,1))\n"
      "ip=struct.pack('!BBHHHBBH4s4s',0x45,0,986,0,0,64,17,0,bytes([10,0,0,1]),bytes([10,0,0,2]))\n"
      "frame=b'\\x02'*6+b'\\x04'*6+b'\\x08\\x00'+ip+struct.pack('!HHHH',4000,53,966,0)+bytes(958)\n"
      "for i in range(20000):\n"
      "  t=1700000000000+i; f.write(struct.pack('<IIII',t//1000,(t%1000)*1000,len(frame),len(frame))+frame)\n";
  std::ofstream(tmp.path / "gen.py") << py;
  ASSERT_EQ(run_command("/usr/bin/python3 " + quote(tmp.path / "gen.py") + " " + quote(cap)), 0);
  std::string log;
  ASSERT_EQ(run_wdcap(cap, tmp.path, tmp.path / "out", {4, "pcap", false, "none"}, "interval: 60\n", "      buffer_mib: 1\n",
                      &log),
            0)
      << log;
  EXPECT_NE(log.find("wdcap: 20000 packets in 1 file(s)\n"), std::string::npos) << log;
  const auto files = packet_files(tmp.path / "out");
  ASSERT_EQ(files.size(), 1u) << log;
  const auto want = tshark_fields(cap, {"frame.time_epoch", "frame.md5_hash"});
  EXPECT_TRUE(want == tshark_fields(files[0], {"frame.time_epoch", "frame.md5_hash"}));
}

// A live run whose disk fills up: the capture goes on, every packet the run
// read is either in a complete file (tcpdump reads it) or counted as dropped
// (no_space), and files are written again once there is room.
TEST(Wdcap, FullDiskDropsAreCountedAndTheCaptureGoesOn) {
  const fs::path gen = privateer_bin().parent_path().parent_path() / "perf" / "gen_telescope";
  if (!fs::exists(gen)) GTEST_SKIP() << "perf/gen_telescope not built";
  PRIVATEER_REQUIRE_TOOL("command -v capinfos && command -v curl && command -v tcpdump", "capinfos, curl or tcpdump");
  TempDir tmp("privateer-wdcap");
  const fs::path disk = tmp.path / "disk";
  fs::create_directories(disk);
  std::string why;
  if (run_command("mount -t tmpfs -o size=4m tmpfs " + quote(disk), &why) != 0) GTEST_SKIP() << "cannot mount a tmpfs: " << why;
  struct Unmount {
    fs::path d;
    ~Unmount() { run_command("umount -l " + quote(d)); }
  } unmount{disk};
  const fs::path cap = tmp.path / "capture.pcap";
  ASSERT_EQ(run_command(quote(gen) + " -q -o " + quote(cap) + " -n 60000 --pps 300 --seed 5"), 0);
  const uint64_t want = capture_packets(cap);
  run_command("dd if=/dev/zero of=" + quote(disk / "filler") + " bs=4k 2>/dev/null");
  run_command("truncate -s -100000 " + quote(disk / "filler"));
  const fs::path out = disk / "out";
  fs::create_directories(out);
  FifoWriter fifo(tmp.path / "in.pcap");
  const fs::path cfg = tmp.path / "privateer.yaml";
  std::ofstream(cfg) << "packetsource: " << (tmp.path / "in.pcap").string() << "\ninterval: 10\nrotatefreq: 1\nthreads: 2\n"
                     << "outtemplate: " << (out / "%P-%s").string()
                     << "\nprogress: no\nprometheus: {listen: \"127.0.0.1:0\"}\nplugins:\n  - wdcap\n";
  const fs::path log = tmp.path / "run.out";
  BackgroundRun run({"-c", cfg.string(), "--hold-metrics", "60"}, log);
  ASSERT_TRUE(fifo.open_when_read()) << read_file(log);
  const size_t half = fs::file_size(cap) / 2;
  ASSERT_TRUE(fifo.write_part(cap, 0, half));
  ASSERT_TRUE(wait_until([&] { return read_file(log).find("No space left on device") != std::string::npos; }, 60))
      << read_file(log);
  EXPECT_TRUE(run.running()) << read_file(log);
  fs::remove(disk / "filler");
  ASSERT_TRUE(fifo.write_part(cap, half, SIZE_MAX));
  fifo.close();
  ASSERT_TRUE(wait_until([&] { return read_file(log).find("serving metrics for 60 s more") != std::string::npos; }, 120))
      << read_file(log);
  std::smatch pm;
  const std::string before = read_file(log);
  ASSERT_TRUE(std::regex_search(before, pm, std::regex("metrics on http://127\\.0\\.0\\.1:([0-9]+)/metrics")));
  std::string metrics;
  run_stdout("curl -s http://127.0.0.1:" + pm[1].str() + "/metrics", &metrics);
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(10), 0);
  const std::string text = read_file(log);
  EXPECT_NE(text.find("privateer: " + std::to_string(want) + " packets"), std::string::npos) << text;

  const double no_space = sample(metrics, "privateer_packet_output_dropped_packets_total{stream=\"wdcap\",reason=\"no_space\"}");
  const double full = sample(metrics, "privateer_packet_output_dropped_packets_total{stream=\"wdcap\",reason=\"buffer_full\"}");
  const double in_files = sample(metrics, "privateer_packet_output_packets_total{stream=\"wdcap\"}");
  EXPECT_GT(no_space, 0) << metrics;
  EXPECT_GT(sample(metrics, "privateer_packet_output_failed_files_total{stream=\"wdcap\"}"), 0) << metrics;
  EXPECT_EQ(static_cast<uint64_t>(in_files + no_space + full), want) << metrics;
  uint64_t read_back = 0;
  size_t complete = 0;
  for (const auto& f : packet_files(out)) {
    if (!fs::exists(f.string() + ".done")) continue;
    ++complete;
    read_back += tcpdump_count(f);
  }
  EXPECT_GT(complete, 0u) << text;
  EXPECT_EQ(read_back, static_cast<uint64_t>(in_files));
}

}  // namespace
