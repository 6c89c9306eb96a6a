// End to end, the run's own numbers and the README's input and output forms,
// each against an independent result: the summary's packets and bytes
// against capinfos, decode errors by reason, skipped and truncated packets
// (summary and metrics) against captures made with editcap/mergecap whose
// counts tshark and capinfos give, the IPv6 stream against a tshark oracle
// (tests/oracle6.py), every output codec read back by python3-avro, every
// compressed input against the uncompressed run, and --check-config on a
// valid config.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tests/test_support.hpp"

namespace fs = std::filesystem;
using namespace privateer::test;

namespace {

fs::path gen_telescope() { return privateer_bin().parent_path().parent_path() / "perf" / "gen_telescope"; }

// A config for one run: `source`, 60 s intervals, one output file per stream,
// the flowtuple plugin with `plugin_options` (YAML lines under it), and
// `extra` top-level lines.
fs::path write_config(const fs::path& dir, const std::string& source, const std::string& extra = "",
                      const std::string& plugin_options = "") {
  const fs::path p = dir / "privateer.yaml";
  std::ofstream(p) << "packetsource: " << source << "\ninterval: 60\nrotatefreq: 0\nthreads: 2\n"
                   << "outtemplate: " << (dir / "%P-%s.avro").string() << "\nmonitorid: oracles\nprogress: no\n"
                   << (extra.find("prometheus") == std::string::npos ? "prometheus: {enabled: no}\n" : "") << extra
                   << "plugins:\n  - flowtuple:" << (plugin_options.empty() ? " {}\n" : "\n" + plugin_options);
  return p;
}

std::vector<std::string> sorted_lines(const std::string& text) {
  std::vector<std::string> v;
  for (auto& l : lines_of(text)) {
    if (!l.empty()) v.push_back(l);
  }
  std::sort(v.begin(), v.end());
  return v;
}

// Every record of the complete `stream` files in `dir`, read by python3-avro
// (tests/read_avro.py), as sorted lines.
std::vector<std::string> records(const fs::path& dir, const std::string& stream) {
  std::string all;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(stream + "-", 0) != 0 || e.path().extension() != ".avro") continue;
    std::string out;
    EXPECT_EQ(run_stdout("timeout 300 /usr/bin/python3 " + quote(source_root() / "tests" / "read_avro.py") + " " +
                             quote(e.path()),
                         &out),
              0)
        << e.path();
    all += out;
  }
  return sorted_lines(all);
}

std::string first_difference(const std::vector<std::string>& got, const std::vector<std::string>& want) {
  std::vector<std::string> missing, extra;
  std::set_difference(want.begin(), want.end(), got.begin(), got.end(), std::back_inserter(missing));
  std::set_difference(got.begin(), got.end(), want.begin(), want.end(), std::back_inserter(extra));
  std::ostringstream s;
  s << missing.size() << " expected lines missing, " << extra.size() << " unexpected";
  for (size_t i = 0; i < std::min<size_t>(5, missing.size()); ++i) s << "\n  missing: " << missing[i];
  for (size_t i = 0; i < std::min<size_t>(5, extra.size()); ++i) s << "\n  extra:   " << extra[i];
  return s.str();
}

// capinfos' packet count and data size (the sum of the packets' wire lengths).
std::pair<uint64_t, uint64_t> capinfos(const fs::path& capture) {
  std::string out;
  EXPECT_EQ(run_stdout("capinfos -M -c -d " + quote(capture), &out), 0) << capture;
  std::smatch m;
  uint64_t packets = 0, bytes = 0;
  if (std::regex_search(out, m, std::regex("Number of packets: +([0-9]+)"))) packets = std::stoull(m[1]);
  if (std::regex_search(out, m, std::regex("Data size: +([0-9]+) bytes"))) bytes = std::stoull(m[1]);
  return {packets, bytes};
}

// The summary's first line: "privateer: N packets (B bytes) from ...".
std::pair<uint64_t, uint64_t> summary_counts(const std::string& out) {
  std::smatch m;
  if (!std::regex_search(out, m, std::regex("privateer: ([0-9]+) packets \\(([0-9]+) bytes\\)"))) return {0, 0};
  return {std::stoull(m[1]), std::stoull(m[2])};
}

// Lines of a shell command's stdout (stderr dropped), counted.
uint64_t count_lines(const std::string& cmd) {
  std::string out;
  EXPECT_EQ(run_stdout(cmd + " 2>/dev/null", &out), 0) << cmd;
  return lines_of(out).size();
}


std::string manifest_format(const std::string& file) {
  for (const auto& row : read_manifest()) {
    if (row.at("file") == file && row.count("file_format")) return row.at("file_format");
  }
  return "";
}

std::string case_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string n = info.param;
  for (char& ch : n) {
    if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return n;
}

}  // namespace

// ---------------------------------------------------------------- every corpus capture

// Every corpus capture with the flowtuple plugin's `ipv6: yes`: the
// ipv6tuple stream equals the tshark IPv6 oracle (tests/oracle6.py) tuple for
// tuple, the IPv4 stream is still the corpus' expected answer, and the
// summary's packets and bytes are capinfos'.
class CorpusRun : public ::testing::TestWithParam<std::string> {};

TEST_P(CorpusRun, Ipv6StreamSummaryAndIpv4Stream) {
  PRIVATEER_REQUIRE_CORPUS();
  const std::string lacks = python_avro_lacks("deflate");
  if (!lacks.empty()) GTEST_SKIP() << lacks << " missing";
  PRIVATEER_REQUIRE_TOOL("command -v tshark && command -v capinfos", "tshark or capinfos (tshark, wireshark-common)");
  const std::string file = GetParam();
  const fs::path capture = *corpus_dir() / file;
  TempDir tmp;
  const fs::path cfg =
      write_config(tmp.path, (manifest_format(file) == "erf" ? "erf:" : "") + capture.string(), "", "      ipv6: yes\n");
  std::string out;
  ASSERT_EQ(run_command(quote(privateer_bin()) + " -c " + quote(cfg), &out), 0) << out;

  std::string oracle;
  ASSERT_EQ(run_stdout("/usr/bin/python3 " + quote(source_root() / "tests" / "oracle6.py") + " " + quote(capture) +
                           " 60",
                       &oracle),
            0);
  const auto want6 = sorted_lines(oracle);
  const auto got6 = records(tmp.path, "ipv6tuple");
  EXPECT_TRUE(got6 == want6) << first_difference(got6, want6);

  const auto want4 = sorted_lines(read_file(*corpus_dir() / "expected" / (file + ".ft60.tsv")));
  const auto got4 = records(tmp.path, "flowtuple");
  EXPECT_TRUE(got4 == want4) << first_difference(got4, want4);

  EXPECT_EQ(summary_counts(out), capinfos(capture)) << out;

  // Intervals and late packets from tshark's packet times: every interval
  // from the first packet's to the newest one's (none of these captures
  // jumps by more than max_gap_intervals), the first and last partial; a
  // packet older than the newest interval so far is late, and so is one
  // without a time (a pcapng Simple Packet Block). Records without an
  // encapsulation are not packets (other pcapng blocks).
  std::string times;
  ASSERT_EQ(run_stdout("tshark -n -r " + quote(capture) +
                           " -T fields -E separator=, -e frame.encap_type -e frame.time_epoch 2>/dev/null",
                       &times),
            0);
  bool any = false;
  uint64_t first = 0, newest = 0, late = 0;
  for (const auto& l : lines_of(times)) {
    const size_t comma = l.find(',');
    if (comma == 0 || comma == std::string::npos) continue;  // not a packet
    if (comma + 1 == l.size()) {                              // no time
      ++late;
      continue;
    }
    const uint64_t iv = std::stoull(l.substr(comma + 1, l.find('.') - comma - 1)) / 60 * 60;
    if (!any) first = newest = iv;
    if (any && iv < newest) ++late;
    newest = std::max(newest, iv);
    any = true;
  }
  const uint64_t intervals = any ? (newest - first) / 60 + 1 : 0;
  ASSERT_LE(intervals, 1441u);
  EXPECT_NE(out.find("  intervals: " + std::to_string(intervals) + " (" + std::to_string(std::min<uint64_t>(intervals, 2)) +
                     " partial)" + (late ? ", late packets: " + std::to_string(late) : std::string()) + "\n"),
            std::string::npos)
      << out;
}

INSTANTIATE_TEST_SUITE_P(Corpus, CorpusRun, ::testing::ValuesIn(corpus_captures()), case_name);

// ---------------------------------------------------------------- several inputs

// A directory source is read in name order as one run, and a list of
// sources in list order: three corpus captures, years apart, named in time
// order. The records are their expected answers together, the summary's
// packets capinfos' sum, and the two forward jumps between them (longer
// than max_gap_intervals) are not filled with empty intervals but counted.
class SeveralInputs : public ::testing::TestWithParam<std::string> {};

TEST_P(SeveralInputs, ReadInOrderAsOneRun) {
  PRIVATEER_REQUIRE_CORPUS();
  const std::string lacks = python_avro_lacks("deflate");
  if (!lacks.empty()) GTEST_SKIP() << lacks << " missing";
  PRIVATEER_REQUIRE_TOOL("command -v capinfos", "capinfos (wireshark-common)");
  const std::vector<std::string> files = {"tcpdump__afs.pcap", "zeek__wikipedia.pcap", "stopddos__amp.UDP.isakmp.pcap"};
  TempDir tmp;
  const fs::path in = tmp.path / "in";
  fs::create_directories(in);
  std::string list = "[";
  std::vector<std::string> want;
  uint64_t packets = 0, bytes = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    const fs::path link = in / (std::to_string(i + 1) + "-" + files[i]);
    fs::create_symlink(*corpus_dir() / files[i], link);
    list += (i ? ", " : "") + link.string();
    for (const auto& l : sorted_lines(read_file(*corpus_dir() / "expected" / (files[i] + ".ft60.tsv")))) {
      want.push_back(l);
    }
    const auto [p, b] = capinfos(link);
    packets += p;
    bytes += b;
  }
  std::sort(want.begin(), want.end());
  const fs::path out = tmp.path / "out";
  fs::create_directories(out);
  const fs::path cfg = write_config(out, GetParam() == "directory" ? in.string() : list + "]");
  std::string text;
  ASSERT_EQ(run_command(quote(privateer_bin()) + " -c " + quote(cfg), &text), 0) << text;
  const auto got = records(out, "flowtuple");
  EXPECT_TRUE(got == want) << first_difference(got, want);
  EXPECT_EQ(summary_counts(text), std::make_pair(packets, bytes)) << text;
  EXPECT_NE(text.find("time jumps skipped: 2"), std::string::npos) << text;
}

INSTANTIATE_TEST_SUITE_P(Sources, SeveralInputs, ::testing::Values("directory", "list"), case_name);

// ---------------------------------------------------------------- file names

// A template without a time conversion, one file per interval: the files
// are NAME.avro, NAME.1.avro, NAME.2.avro, ... in rotation order, each with
// its .done marker, and file k holds the oracle's answer (10 s intervals,
// ../shared/tools/oracle.sh) for the k-th interval of the capture.
TEST(FileNames, RepeatedNamesGetTheirRepeatCount) {
  PRIVATEER_REQUIRE_CORPUS();
  const std::string lacks = python_avro_lacks("deflate");
  if (!lacks.empty()) GTEST_SKIP() << lacks << " missing";
  PRIVATEER_REQUIRE_TOOL("command -v tshark", "tshark");
  const fs::path capture = *corpus_dir() / "libtrace__100_seconds.pcap";
  TempDir tmp;
  const fs::path cfg = tmp.path / "privateer.yaml";
  std::ofstream(cfg) << "packetsource: " << capture.string() << "\ninterval: 10\nrotatefreq: 1\nthreads: 1\n"
                     << "outtemplate: " << (tmp.path / "run").string() << "\nprogress: no\n"
                     << "prometheus: {enabled: no}\nplugins:\n  - flowtuple\n";
  std::string out;
  ASSERT_EQ(run_command(quote(privateer_bin()) + " -c " + quote(cfg), &out), 0) << out;
  std::string oracle;
  ASSERT_EQ(run_stdout(quote(*shared_dir() / "tools" / "oracle.sh") + " " + quote(capture) + " 10 2>/dev/null", &oracle),
            0);
  std::map<uint64_t, std::vector<std::string>> by_interval;   // oracle lines by interval start
  for (const auto& l : sorted_lines(oracle)) by_interval[std::stoull(l.substr(0, l.find('\t')))].push_back(l);
  ASSERT_GT(by_interval.size(), 5u);
  // Oracle intervals are those with packets: here every interval has some.
  size_t k = 0;
  for (const auto& [start, want] : by_interval) {
    SCOPED_TRACE("interval " + std::to_string(start));
    const fs::path f = tmp.path / (k ? "run." + std::to_string(k) + ".avro" : std::string("run.avro"));
    ASSERT_TRUE(fs::exists(f)) << f << "\n" << out;
    EXPECT_TRUE(fs::exists(f.string() + ".done")) << f;
    std::string got;
    EXPECT_EQ(run_stdout("timeout 60 /usr/bin/python3 " + quote(source_root() / "tests" / "read_avro.py") + " " + quote(f),
                         &got),
              0);
    EXPECT_EQ(sorted_lines(got), want);
    ++k;
  }
  EXPECT_FALSE(fs::exists(tmp.path / ("run." + std::to_string(k) + ".avro"))) << "no file more than intervals";
  EXPECT_NE(out.find("run.1.avro"), std::string::npos) << "the start-up warning names the files";
}

// ---------------------------------------------------------------- output codecs

// Every codec of output.avro_codec, in small blocks (many of them), read
// back by python3-avro (snappy through python3-snappy, zstandard through
// python3-zstandard): the records are the corpus' expected answer and the
// header names the codec.
class OutputCodec : public ::testing::TestWithParam<std::string> {};

TEST_P(OutputCodec, ReadByPythonAvro) {
  PRIVATEER_REQUIRE_CORPUS();
  const std::string codec = GetParam();
  const std::string lacks = python_avro_lacks(codec);
  if (!lacks.empty()) GTEST_SKIP() << lacks << " missing: " << codec << " files not read";
  const std::string file = "stopddos__pkt.TCP.synflood.spoofed.pcap";
  TempDir tmp;
  const fs::path cfg = write_config(tmp.path, (*corpus_dir() / file).string(),
                                    "output:\n  avro_codec: " + codec + "\n  avro_block_size: 4096\n");
  std::string out;
  ASSERT_EQ(run_command(quote(privateer_bin()) + " -c " + quote(cfg), &out), 0) << out;
  const auto want = sorted_lines(read_file(*corpus_dir() / "expected" / (file + ".ft60.tsv")));
  const auto got = records(tmp.path, "flowtuple");
  EXPECT_TRUE(got == want) << first_difference(got, want);
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(tmp.path)) {
    if (e.path().extension() != ".avro") continue;
    ++files;
    std::string meta;
    ASSERT_EQ(run_stdout("/usr/bin/python3 " + quote(source_root() / "tests" / "read_avro.py") + " --meta " +
                             quote(e.path()),
                         &meta),
              0);
    EXPECT_NE(meta.find("avro.codec\t" + codec + "\n"), std::string::npos) << meta;
    EXPECT_NE(meta.find("privateer.monitorid\toracles\n"), std::string::npos) << meta;
    EXPECT_NE(meta.find("privateer.interval_seconds\t60\n"), std::string::npos) << meta;
  }
  EXPECT_GE(files, 1u);
}

INSTANTIATE_TEST_SUITE_P(Codecs, OutputCodec, ::testing::Values("deflate", "snappy", "zstandard", "null"), case_name);

// ---------------------------------------------------------------- compressed input

// A capture compressed with each tool wandio reads gives what the
// uncompressed capture gives: the same files, the same records (avrocat),
// the same summary counts.
class CompressedInput : public ::testing::TestWithParam<std::string> {};

TEST_P(CompressedInput, SameResultsAsUncompressed) {
  const std::string tool = GetParam();
  PRIVATEER_REQUIRE_TOOL("command -v " + tool, tool);
  PRIVATEER_REQUIRE_TOOL("command -v avrocat && command -v capinfos", "avrocat or capinfos (avro-bin, wireshark-common)");
  TempDir tmp;
  const fs::path plain = tmp.path / "in.pcap", packed = tmp.path / ("in.pcap." + tool);
  ASSERT_EQ(run_command(quote(gen_telescope()) + " -q -o " + quote(plain) + " -n 60k --pps 500 --seed 17"), 0);
  ASSERT_EQ(run_command(tool + " -c " + quote(plain) + " > " + quote(packed)), 0);
  auto run_on = [&](const fs::path& input, const std::string& sub, std::string* summary) {
    const fs::path dir = tmp.path / sub;
    fs::create_directories(dir);
    const fs::path cfg = write_config(dir, input.string());
    EXPECT_EQ(run_command(quote(privateer_bin()) + " -c " + quote(cfg), summary), 0) << *summary;
    std::string all;
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir)) {
      if (e.path().extension() == ".avro") files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      std::string cat;
      EXPECT_EQ(run_stdout("avrocat " + quote(f), &cat), 0) << f;
      all += f.filename().string() + "\n" + cat;
    }
    return all;
  };
  std::string plain_out, packed_out;
  const std::string want = run_on(plain, "plain", &plain_out);
  const std::string got = run_on(packed, "packed", &packed_out);
  ASSERT_GT(want.size(), 1000u);
  EXPECT_TRUE(got == want) << "records differ from the uncompressed run";
  EXPECT_EQ(summary_counts(packed_out), capinfos(plain)) << packed_out;
}

INSTANTIATE_TEST_SUITE_P(Tools, CompressedInput, ::testing::Values("gzip", "bzip2", "xz", "zstd"), case_name);

// lzop files are not read: one is refused at start, naming it,
// before anything is written (README, "Inputs").
TEST(CompressedInput, LzopIsRefused) {
  PRIVATEER_REQUIRE_TOOL("command -v lzop", "lzop");
  TempDir tmp;
  const fs::path plain = tmp.path / "in.pcap", packed = tmp.path / "in.pcap.lzo";
  ASSERT_EQ(run_command(quote(gen_telescope()) + " -q -o " + quote(plain) + " -n 1000 --seed 17"), 0);
  ASSERT_EQ(run_command("lzop -c " + quote(plain) + " > " + quote(packed)), 0);
  std::string out;
  EXPECT_NE(run_command(quote(privateer_bin()) + " -c " + quote(write_config(tmp.path, packed.string())), &out), 0);
  EXPECT_NE(out.find(packed.string()), std::string::npos) << out;
  for (const auto& e : fs::directory_iterator(tmp.path)) {
    EXPECT_NE(e.path().extension(), ".avro") << e.path();
  }
}

// ---------------------------------------------------------------- the run's counters

// Decode errors by reason, in the summary and on the metrics endpoint, for a
// capture made to hold them: packets of a generated capture (every one
// Ethernet + a 20-byte IPv4 header + a whole TCP, UDP or ICMP header, as
// tshark checks) cut by editcap inside the Ethernet header (10 bytes:
// truncated_link), inside the IPv4 header (24: truncated_ip) and inside the
// transport header (36: truncated_transport), then whole ones, concatenated
// by mergecap. Each reason's count is the number of packets capinfos counts
// in its part; tshark finds exactly those packets cut short.
TEST(RunCounters, DecodeErrorsByReason) {
  PRIVATEER_REQUIRE_TOOL("command -v tshark && command -v editcap && command -v mergecap && command -v capinfos",
                         "tshark, editcap, mergecap or capinfos (tshark, wireshark-common)");
  PRIVATEER_REQUIRE_TOOL("command -v curl", "curl");
  TempDir tmp;
  const fs::path base = tmp.path / "base.pcap";
  ASSERT_EQ(run_command(quote(gen_telescope()) + " -q -o " + quote(base) + " -n 4000 --pps 1000 --seed 23"), 0);
  // The premise: every packet IPv4 with a 20-byte header, none cut short.
  EXPECT_EQ(count_lines("tshark -n -r " + quote(base) + " -Y 'eth.type == 0x0800 && ip.hdr_len == 20 && "
                        "(tcp || udp || icmp) && !_ws.short && !_ws.malformed'"),
            4000u);
  struct Part {
    const char* reason;
    const char* range;
    int snap;
  };
  const Part parts[] = {{"truncated_link", "1-700", 10}, {"truncated_ip", "701-1500", 24},
                        {"truncated_transport", "1501-2400", 36}, {nullptr, "2401-4000", 0}};
  std::string files;
  std::map<std::string, uint64_t> want;
  for (size_t i = 0; i < std::size(parts); ++i) {
    const fs::path whole = tmp.path / ("part" + std::to_string(i) + ".pcap");
    const fs::path cut = tmp.path / ("cut" + std::to_string(i) + ".pcap");
    ASSERT_EQ(run_command("editcap -r " + quote(base) + " " + quote(whole) + " " + parts[i].range), 0);
    if (parts[i].snap) {
      ASSERT_EQ(run_command("editcap -s " + std::to_string(parts[i].snap) + " " + quote(whole) + " " + quote(cut)), 0);
      want[parts[i].reason] = capinfos(cut).first;
      files += " " + quote(cut);
    } else {
      files += " " + quote(whole);
    }
  }
  const fs::path capture = tmp.path / "mixed.pcap";
  ASSERT_EQ(run_command("mergecap -a -F pcap -w " + quote(capture) + files), 0);
  const uint64_t cut_total = want["truncated_link"] + want["truncated_ip"] + want["truncated_transport"];
  EXPECT_EQ(count_lines("tshark -n -r " + quote(capture) + " -Y _ws.short"), cut_total);

  const fs::path cfg = write_config(tmp.path, capture.string(), "prometheus:\n  listen: \"127.0.0.1:0\"\n");
  const HeldRun r = run_and_scrape(cfg, tmp.path);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(summary_counts(r.output), capinfos(capture)) << r.output;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.output, m, std::regex("decode errors: ([0-9]+)"))) << r.output;
  EXPECT_EQ(std::stoull(m[1]), cut_total) << r.output;
  for (const auto& [reason, n] : want) {
    SCOPED_TRACE(reason);
    EXPECT_TRUE(std::regex_search(r.output, m, std::regex(reason + "=([0-9]+)"))) << r.output;
    EXPECT_EQ(std::stoull(m[1]), n) << r.output;
    EXPECT_EQ(sample(r.metrics, "privateer_decode_errors_total{reason=\"" + reason + "\"}"), static_cast<double>(n))
        << r.metrics;
  }
  // No other reason counts anything.
  const std::regex any("privateer_decode_errors_total\\{reason=\"([a-z_0-9]+)\"\\} ([0-9.e+]+)");
  size_t reasons = 0;
  for (std::sregex_iterator it(r.metrics.begin(), r.metrics.end(), any), end; it != end; ++it, ++reasons) {
    if (!want.count((*it)[1].str())) {
      EXPECT_EQ(std::stod((*it)[2]), 0.0) << (*it)[0];
    }
  }
  EXPECT_GT(reasons, want.size()) << r.metrics;
}

// startboundaryts: the packets before it are counted as skipped (summary
// and privateer_skipped_packets_total{reason="before_startboundaryts"}),
// as many as tshark finds before that time, and only the others are in the
// flowtuples.
TEST(RunCounters, PacketsBeforeStartBoundaryAreSkipped) {
  PRIVATEER_REQUIRE_TOOL("command -v tshark && command -v capinfos && command -v avrocat && command -v curl",
                         "tshark, capinfos, avrocat or curl");
  TempDir tmp;
  const fs::path capture = tmp.path / "in.pcap";
  // From 1700000000 at 100 packets/s: 100 s.
  ASSERT_EQ(run_command(quote(gen_telescope()) + " -q -o " + quote(capture) + " -n 10000 --pps 100 --seed 29"), 0);
  const uint64_t start = 1700000040;
  const uint64_t before = count_lines("tshark -n -r " + quote(capture) + " -Y 'frame.time_epoch < " +
                                      std::to_string(start) + "'");
  const uint64_t total = capinfos(capture).first;
  ASSERT_GT(before, 0u);
  ASSERT_LT(before, total);
  const fs::path cfg = write_config(tmp.path, capture.string(),
                                    "startboundaryts: " + std::to_string(start) +
                                        "\nprometheus:\n  listen: \"127.0.0.1:0\"\n");
  const HeldRun r = run_and_scrape(cfg, tmp.path);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("before startboundaryts: " + std::to_string(before) + "\n"), std::string::npos) << r.output;
  EXPECT_EQ(sample(r.metrics, "privateer_skipped_packets_total{reason=\"before_startboundaryts\"}"),
            static_cast<double>(before))
      << r.metrics;
  EXPECT_EQ(flowtuple_packets(tmp.path), total - before);
}

// A packet longer than a batch buffer (256 KiB, README "Metrics") is cut to
// fit and counted in privateer_truncated_packets_total: a classic pcap made
// here (snaplen 1 MiB) with packets of a generated capture, two of them
// padded to 300000 bytes. All are counted in the flowtuples.
TEST(RunCounters, PacketsLongerThanABatchBufferAreTruncated) {
  PRIVATEER_REQUIRE_TOOL("command -v avrocat && command -v curl", "avrocat or curl");
  TempDir tmp;
  const fs::path small = tmp.path / "small.pcap";
  ASSERT_EQ(run_command(quote(gen_telescope()) + " -q -o " + quote(small) + " -n 6 --seed 31"), 0);
  std::string bytes = read_file(small);
  ASSERT_GE(bytes.size(), 24u);
  auto put32 = [](std::string& s, size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) s[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);   // gen_telescope: little-endian
  };
  auto get32 = [](const std::string& s, size_t at) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = v << 8 | static_cast<uint8_t>(s[at + i]);
    return v;
  };
  ASSERT_EQ(get32(bytes, 0), 0xa1b2c3d4u) << "a little-endian microsecond pcap";
  std::string big = bytes.substr(0, 24);
  put32(big, 16, 1u << 20);  // snaplen
  const uint32_t kBig = 300000;
  size_t packets = 0, padded = 0;
  for (size_t off = 24; off + 16 <= bytes.size(); ++packets) {
    const uint32_t caplen = get32(bytes, off + 8);
    std::string rec = bytes.substr(off, 16 + caplen);
    if (packets % 3 == 1) {
      rec.resize(16 + kBig, '\0');
      put32(rec, 8, kBig);
      put32(rec, 12, kBig);
      ++padded;
    }
    big += rec;
    off += 16 + caplen;
  }
  ASSERT_EQ(packets, 6u);
  ASSERT_EQ(padded, 2u);
  const fs::path capture = tmp.path / "big.pcap";
  std::ofstream(capture, std::ios::binary) << big;
  const fs::path cfg = write_config(tmp.path, capture.string(), "prometheus:\n  listen: \"127.0.0.1:0\"\n");
  const HeldRun r = run_and_scrape(cfg, tmp.path);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(sample(r.metrics, "privateer_truncated_packets_total{reason=\"batch_arena\"}"), static_cast<double>(padded))
      << r.metrics;
  EXPECT_EQ(summary_counts(r.output).first, packets) << r.output;
  EXPECT_EQ(flowtuple_packets(tmp.path), packets);
}

// ---------------------------------------------------------------- --check-config

// --check-config on a valid config: exit 0 saying so, no packet read, no
// output written; the same config then runs.
TEST(CheckConfig, ValidConfigPassesWithoutRunning) {
  TempDir tmp;
  const fs::path capture = source_root() / "configs" / "quickstart" / "telescope.pcap";
  const fs::path cfg = write_config(tmp.path, capture.string());
  std::string out;
  EXPECT_EQ(run_command(quote(privateer_bin()) + " -c " + quote(cfg) + " --check-config", &out), 0) << out;
  EXPECT_NE(out.find("configuration is valid"), std::string::npos) << out;
  EXPECT_EQ(out.find(" packets"), std::string::npos) << out;
  for (const auto& e : fs::recursive_directory_iterator(tmp.path)) {
    EXPECT_EQ(e.path().filename().string().find(".avro"), std::string::npos) << e.path();
  }
  out.clear();
  EXPECT_EQ(run_command(quote(privateer_bin()) + " -c " + quote(cfg), &out), 0) << out;
  EXPECT_GT(summary_counts(out).first, 0u) << out;
}
