// The report plugin (plugins/report/): every row of its Avro output, read
// back with python3-avro, against tests/report_oracle.py's independent
// computation from tshark's fields (../shared/tools/oracle.sh and
// tests/filters_oracle.py), through the privateer binary; the options and
// their errors; the timeseries rows; uniq: hll against exact counting.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "plugins/common/options.hpp"
#include "plugins/registry.hpp"
#include "plugins/report/report.hpp"
#include "tests/test_support.hpp"

namespace fs = std::filesystem;
using namespace privateer;
using namespace privateer::test;

namespace {

constexpr const char* kPython = "/usr/bin/python3";

std::string oracle_py() { return quote(source_root() / "tests" / "report_oracle.py"); }

bool have_tools(std::string* why) {
  if (!have("command -v tshark")) *why = "tshark";
  else if (!have(std::string(kPython) + " -c 'import avro'")) *why = "python3-avro";
  else if (!have(std::string(kPython) + " -c 'import maxminddb'")) *why = "python3-maxminddb";
  else return true;
  return false;
}

#define REQUIRE_REPORT_TOOLS()                          \
  do {                                                  \
    std::string why_;                                   \
    if (!have_tools(&why_)) GTEST_SKIP() << why_ << " missing"; \
  } while (0)

struct ReportRun {
  TempDir dir{"privateer-report"};
  // Runs privateer on `capture` with the report plugin's `options` (YAML
  // lines indented by 6) and `extra` top-level lines; the rows it wrote.
  std::vector<std::string> run(const fs::path& capture, unsigned workers, const std::string& options,
                               const std::string& extra = "", uint32_t interval = 60) {
    fs::remove_all(dir.path / "out");
    const fs::path cfg = dir.path / "c.yaml";
    std::ofstream(cfg) << "packetsource: " << capture.string() << "\nouttemplate: " << (dir.path / "out" / "%P-%s").string()
                       << "\nmonitorid: m\nthreads: " << workers << "\ninterval: " << interval
                       << "\nprometheus: {enabled: no}\n" << extra << "plugins:\n  - report:\n"
                       << (options.empty() ? "      {}\n" : options);
    std::string out;
    EXPECT_EQ(run_command(quote(privateer_bin()) + " -c " + quote(cfg), &out), 0) << out;
    std::string files;
    if (fs::exists(dir.path / "out")) {
      for (const auto& e : fs::directory_iterator(dir.path / "out")) {
        if (e.path().extension() == ".avro") files += " " + quote(e.path());
      }
    }
    if (files.empty()) return {};
    std::string rows;
    EXPECT_EQ(run_stdout(std::string(kPython) + " " + oracle_py() + " read" + files, &rows), 0);
    return lines_of(rows);
  }
};

std::vector<std::string> expected(const fs::path& capture, const std::string& args, uint32_t interval = 60) {
  std::string rows;
  const std::string cmd = std::string(kPython) + " " + oracle_py() + " expect " + quote(capture) + " " +
                          std::to_string(interval) + " --oracle-sh " +
                          quote(*shared_dir() / "tools" / "oracle.sh") + " " + args;
  EXPECT_EQ(run_stdout(cmd, &rows), 0) << cmd;
  return lines_of(rows);
}

// Equal row sets, or the first differences.
void expect_same_rows(const std::vector<std::string>& got, const std::vector<std::string>& want,
                      const std::string& what) {
  std::set<std::string> g(got.begin(), got.end()), w(want.begin(), want.end());
  g.erase("");
  w.erase("");
  if (g == w && got.size() == want.size()) return;
  std::ostringstream msg;
  int shown = 0;
  for (const auto& r : w) {
    if (!g.count(r) && shown++ < 8) msg << "\n  missing: " << r;
  }
  shown = 0;
  for (const auto& r : g) {
    if (!w.count(r) && shown++ < 8) msg << "\n  extra:   " << r;
  }
  ADD_FAILURE() << what << ": " << got.size() << " rows, oracle " << want.size() << msg.str();
}

// The smaller port ranges of the corpus sweep (fewer zero rows), the same for both sides.
const char* kRangeOptions =
    "      tcp_source_port_range: 0-1023\n      tcp_dest_port_range: 20-8080\n"
    "      udp_source_port_range: 0-1023\n      udp_dest_port_range: 53-600\n";
const char* kRangeArgs =
    "--range tcp_source=0-1023 --range tcp_dest=20-8080 --range udp_source=0-1023 --range udp_dest=53-600";

}  // namespace

// Every corpus capture with an oracle answer, 1 and 2 workers, all
// intervals (report_partial), no tag providers: every row as the oracle's.
TEST(ReportCorpus, EveryRowMatchesTheOracle) {
  PRIVATEER_REQUIRE_CORPUS();
  REQUIRE_REPORT_TOOLS();
  ReportRun r;
  int files = 0;
  for (const std::string& name : corpus_captures()) {
    const fs::path capture = *corpus_dir() / name;
    if (!fs::exists(capture)) continue;
    SCOPED_TRACE(name);
    const auto want = expected(capture, std::string(kRangeArgs) + " --partial");
    for (unsigned workers : {1u, 2u}) {
      expect_same_rows(r.run(capture, workers, std::string(kRangeOptions) + "      report_partial: yes\n"), want,
                       name + ", " + std::to_string(workers) + " worker(s)");
    }
    ++files;
  }
  EXPECT_GT(files, 20);
}

// corsaro3's defaults: every port 0-65535 gets a row in an interval with
// TCP (UDP) traffic, and the partial first and last intervals are left out.
TEST(ReportCorpus, FullPortRangesAndNoPartialIntervals) {
  PRIVATEER_REQUIRE_CORPUS();
  REQUIRE_REPORT_TOOLS();
  ReportRun r;
  for (const char* name : {"stopddos__amp.UDP.isakmp.pcap", "libtrace__100_seconds.pcap"}) {
    const fs::path capture = *corpus_dir() / name;
    SCOPED_TRACE(name);
    const auto partial = expected(capture, "--partial", 30);
    const auto want = expected(capture, "", 30);
    EXPECT_LT(want.size(), partial.size());
    for (unsigned workers : {1u, 2u}) {
      expect_same_rows(r.run(capture, workers, "", "", 30), want, std::string(name) + " without partial intervals");
    }
    expect_same_rows(r.run(capture, 2, "      report_partial: yes\n", "", 30), partial, std::string(name) + " with them");
  }
}

// With both tag providers: a pfx2as file made from the capture's sources
// (nested prefixes, 32-bit and multi-origin ASes) and a synthetic MaxMind
// database (perf/gen_mmdb.py), looked up by the oracle with python3-maxminddb.
TEST(ReportCorpus, GeoAndAsnWithTagProviders) {
  PRIVATEER_REQUIRE_CORPUS();
  REQUIRE_REPORT_TOOLS();
  ReportRun r;
  const fs::path mmdb = r.dir.path / "geo.mmdb";
  ASSERT_EQ(run_command(std::string(kPython) + " " + quote(source_root() / "perf" / "gen_mmdb.py") + " " + quote(mmdb) +
                        " --networks 200000 --seed 7"),
            0);
  for (const char* name : {"stopddos__pkt.TCP.synflood.spoofed.pcap", "stopddos__amp.UDP.isakmp.pcap",
                           "zeek__wikipedia.pcap"}) {
    const fs::path capture = *corpus_dir() / name;
    SCOPED_TRACE(name);
    const fs::path pfx = r.dir.path / "t.pfx2as";
    ASSERT_EQ(run_command(std::string(kPython) + " " + oracle_py() + " pfx2as " + quote(capture) + " " + quote(pfx)), 0);
    const auto want = expected(capture, std::string(kRangeArgs) + " --partial --pfx2as " + quote(pfx) + " --mmdb " + quote(mmdb));
    const std::string tags = "tagproviders:\n  - pfx2as: {prefixfile: " + pfx.string() + "}\n  - maxmind: {directory: " +
                             mmdb.string() + "}\n";
    size_t geo_rows = 0, asn_rows = 0;
    for (const auto& row : want) {
      geo_rows += row.find("\tgeo.maxmind") != std::string::npos;
      asn_rows += row.find("\trouting.asn\t") != std::string::npos;
    }
    EXPECT_GT(geo_rows, 8u);
    EXPECT_GT(asn_rows, 1u);
    for (unsigned workers : {1u, 2u}) {
      expect_same_rows(r.run(capture, workers, std::string(kRangeOptions) + "      report_partial: yes\n", tags), want,
                       std::string(name) + ", " + std::to_string(workers) + " worker(s), tagged");
    }
  }
}

// limitmetrics (filter-criteria only when named), port ranges and the label.
TEST(ReportCorpus, LimitmetricsFiltersAndLabel) {
  PRIVATEER_REQUIRE_CORPUS();
  REQUIRE_REPORT_TOOLS();
  ReportRun r;
  struct Case {
    const char* capture;
    std::vector<const char*> groups;
  };
  const Case cases[] = {
      {"stopddos__pkt.TCP.synflood.spoofed.pcap", {"basic", "filter", "tcpports"}},
      {"stopddos__amp.UDP.isakmp.pcap", {"filter", "udpports", "icmp"}},
      {"pcaphunt__hs-icmpScan.pcap", {"icmp", "pfx2asn", "maxmind"}},
      {"tcpreplay__test_fragroute.pcap", {"basic", "filter", "icmp", "tcpports", "udpports"}},
  };
  for (const Case& c : cases) {
    const fs::path capture = *corpus_dir() / c.capture;
    SCOPED_TRACE(c.capture);
    std::string yaml = "      output_row_label: tel-1\n      report_partial: yes\n"
                       "      tcp_dest_port_range: [1-100, 443, 8000-8080]\n"
                       "      udp_source_port_range: 400-600\n      limitmetrics:\n";
    std::string groups;
    for (const char* g : c.groups) {
      yaml += std::string("        - ") + g + "\n";
      groups += (groups.empty() ? "" : ",") + std::string(g);
    }
    const auto want = expected(capture, "--partial --label tel-1 --filters --limit " + groups +
                                            " --range tcp_dest=1-100,443,8000-8080 --range udp_source=400-600");
    EXPECT_FALSE(want.empty());
    expect_same_rows(r.run(capture, 2, yaml), want, std::string(c.capture) + " limited to " + groups);
  }
}

// ---- options -----------------------------------------------------------------

TEST(ReportOptions, Corsaro3KeysAcceptedBadValuesNamed) {
  const YAML::Node ok = YAML::Load(
      "output_row_label: x\nlimitmetrics: [basic, netacq]\ntcp_source_port_range: [10-20, 30]\n"
      "output_format: libtimeseries\niptracker_threads: 8\ninternalhwm: 30\nquerytaggerlabels: no\n"
      "report_partial: yes\nuniq: hll\n");
  auto p = make_plugin("report", ok, "plugins.report", 60);
  auto& rp = static_cast<ReportPlugin&>(*p);
  EXPECT_EQ(rp.options().label, "x");
  EXPECT_TRUE(rp.options().timeseries && rp.options().partial && rp.options().hll);
  EXPECT_EQ(rp.options().ports[0].count(), 12u);
  EXPECT_TRUE(rp.options().ports[0].test(10) && rp.options().ports[0].test(20) && rp.options().ports[0].test(30));
  EXPECT_EQ(rp.options().ports[1].count(), 65536u);
  EXPECT_TRUE(rp.options().allows(report_detail::kIpProtocol));
  EXPECT_FALSE(rp.options().allows(report_detail::kTcpSrcPort));
  const auto warnings = p->config_warnings();
  ASSERT_EQ(warnings.size(), 4u);   // netacq, iptracker_threads, internalhwm, querytaggerlabels
  EXPECT_NE(warnings[1].find("iptracker_threads (line 5)"), std::string::npos) << warnings[1];
  // Without limitmetrics all classes but filter-criteria, as corsaro3.
  auto d = make_plugin("report", YAML::Node(), "plugins.report", 60);
  EXPECT_FALSE(static_cast<ReportPlugin&>(*d).options().allows(report_detail::kFilterCriteria));
  EXPECT_TRUE(static_cast<ReportPlugin&>(*d).options().allows(report_detail::kIcmpTypeCode));

  const std::pair<const char*, const char*> bad[] = {
      {"limitmetrics: [basic, ports]", "config key 'plugins.report.limitmetrics' (line 1): unknown metric group 'ports'"},
      {"limitmetrics: basic", "config key 'plugins.report.limitmetrics' (line 1): must be a list"},
      {"output_row_label: a\ntcp_dest_port_range: 5-1", "config key 'plugins.report.tcp_dest_port_range' (line 2): must be a port range"},
      {"udp_source_port_range: 1-70000", "config key 'plugins.report.udp_source_port_range' (line 1)"},
      {"udp_dest_port_range:\n  - 1-5\n  - x", "config key 'plugins.report.udp_dest_port_range' (line 3): must be a port"},
      {"udp_dest_port_range: []", "config key 'plugins.report.udp_dest_port_range' (line 1): must list at least one"},
      {"output_format: kafka", "config key 'plugins.report.output_format' (line 1): must be avro or libtimeseries"},
      {"uniq: approx", "config key 'plugins.report.uniq' (line 1): must be exact or hll"},
      {"report_partial: maybe", "config key 'plugins.report.report_partial' (line 1)"},
      {"outputrowlabel: a", "config key 'plugins.report.outputrowlabel' (line 1): unknown key"},
      {"iptracker_threads: -2", "config key 'plugins.report.iptracker_threads' (line 1)"},
  };
  for (const auto& [yaml, msg] : bad) {
    try {
      make_plugin("report", YAML::Load(yaml), "plugins.report", 60);
      ADD_FAILURE() << "accepted: " << yaml;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(msg), std::string::npos) << yaml << " -> " << e.what();
    }
  }
}

// ---- the two outputs ---------------------------------------------------------

namespace {

struct Capture : OutputProvider, AvroStream, TimeseriesWriter {
  std::vector<std::string> records;   // encoded Avro records
  std::vector<std::pair<std::string, std::vector<TimeseriesRow>>> intervals;
  AvroStream& avro_stream(const std::string&, const std::string&, const AvroStreamOptions&) override { return *this; }
  TimeseriesWriter& timeseries() override { return *this; }
  void append_encoded(const void* buf, size_t len) override {
    records.emplace_back(static_cast<const char*>(buf), len);
  }
  void write_interval(const std::string& label, uint64_t ts, std::vector<TimeseriesRow> rows) override {
    intervals.emplace_back(label + "@" + std::to_string(ts), std::move(rows));
  }
  size_t sinks() const override { return 1; }
};

PacketView v4(uint32_t src, uint32_t dst, uint8_t proto, uint16_t sport, uint16_t dport, uint16_t len) {
  PacketView v;
  v.ip_version = 4;
  v.src.v4 = src;
  v.dst.v4 = dst;
  v.proto = proto;
  v.sport = sport;
  v.dport = dport;
  v.ip_len = len;
  v.flags = pflag::has_ports;
  return v;
}

}  // namespace

// The same rows reach the timeseries writer as the Avro stream, zero rows
// included, with the label and the interval's start.
TEST(ReportOutputs, TimeseriesRowsEqualAvroRows) {
  std::vector<PacketView> views = {v4(1, 2, 6, 1000, 80, 40), v4(1, 3, 6, 1001, 80, 44), v4(5, 2, 17, 53, 9, 100),
                                   v4(7, 2, 1, 8, 0, 84)};
  views[0].asn = 64500;
  std::map<std::string, std::vector<std::string>> out;
  for (const char* format : {"avro", "libtimeseries"}) {
    auto p = make_plugin("report",
                         YAML::Load(std::string("output_format: ") + format + "\noutput_row_label: L\n"
                                    "tcp_source_port_range: 999-1001\ntcp_dest_port_range: 80-80\n"
                                    "udp_source_port_range: 53-53\nudp_dest_port_range: 0-9\n"),
                         "plugins.report", 60, PluginContext{false, true});
    Capture c;
    p->open_outputs(c);
    auto w0 = p->make_worker(0), w1 = p->make_worker(1);
    for (size_t i = 0; i < views.size(); ++i) (i % 2 ? w1 : w0)->process(&views[i], nullptr, 1);
    std::vector<std::unique_ptr<IntervalResult>> rs;
    rs.push_back(w0->end_interval(120));
    rs.push_back(w1->end_interval(120));
    p->merge(IntervalInfo{120, 180, false}, rs);
    auto& rows = out[format];
    for (const auto& rec : c.records) {
      AvroDecoder d(rec.data(), rec.size());
      std::string row = std::to_string(d.get_long());
      for (int i = 0; i < 3; ++i) row += "|" + std::string(d.get_bytes());
      const int64_t src = d.get_long(), dst = d.get_long(), pkts = d.get_long(), bytes = d.get_long(), asn = d.get_long();
      row += "|" + std::to_string(src) + "|" + std::to_string(dst) + "|" + std::to_string(pkts) + "|" +
             std::to_string(bytes) + "|" + std::to_string(asn);
      EXPECT_TRUE(d.at_end());
      rows.push_back(row);
    }
    for (const auto& [key, trows] : c.intervals) {
      EXPECT_EQ(key, "L@120");
      for (const auto& t : trows) {
        rows.push_back("120|L|" + t.metric + "|" + t.value + "|" + std::to_string(t.uniq_src_ip) + "|" +
                       std::to_string(t.uniq_dst_ip) + "|" + std::to_string(t.pkt_cnt) + "|" +
                       std::to_string(t.byte_cnt) + "|" + std::to_string(t.uniq_src_asn));
      }
    }
  }
  EXPECT_EQ(out["avro"], out["libtimeseries"]);
  const auto& rows = out["avro"];
  // overall, 256 protocols, 3 + 1 + 1 + 10 ports, one ICMP type/code, 2 ASes (0 and 64500).
  EXPECT_EQ(rows.size(), 1u + 256 + 15 + 1 + 2);
  EXPECT_EQ(rows[0], "120|L|overall||3|2|4|268|1");
  auto has = [&](const std::string& r) { return std::find(rows.begin(), rows.end(), r) != rows.end(); };
  EXPECT_TRUE(has("120|L|traffic.protocol|6|1|2|2|84|1"));
  EXPECT_TRUE(has("120|L|traffic.protocol|2|0|0|0|0|0"));
  EXPECT_TRUE(has("120|L|traffic.port.tcp.dst_port|80|1|2|2|84|1"));
  EXPECT_TRUE(has("120|L|traffic.port.tcp.src_port|999|0|0|0|0|0"));
  EXPECT_TRUE(has("120|L|traffic.port.udp.dst_port|9|1|1|1|100|0"));
  EXPECT_TRUE(has("120|L|traffic.icmp|type.8.code.0|1|1|1|84|0"));
  EXPECT_TRUE(has("120|L|routing.asn|64500|1|1|1|40|1"));
  EXPECT_TRUE(has("120|L|routing.asn|0|3|2|3|228|0"));
}

// ---- uniq: hll on a telescope-sized capture ------------------------------------

// A generated 10M-packet telescope capture (perf/gen_telescope, a /8
// darknet): uniq: hll gives every row of the exact run with the same
// packets and bytes, and unique counts within the README's bound
// (|hll - exact| <= 2% of exact + 2).
TEST(ReportHll, TenMillionPacketsWithinTheStatedError) {
  std::string why;
  if (!have(std::string(kPython) + " -c 'import avro'")) GTEST_SKIP() << "python3-avro missing";
  const fs::path gen = privateer_bin().parent_path().parent_path() / "perf" / "gen_telescope";
  ReportRun r;
  const fs::path capture = r.dir.path / "t10m.pcap";
  ASSERT_EQ(run_command(quote(gen) + " -o " + quote(capture) + " -n 10000000 --quiet"), 0);
  const std::string opts = "      report_partial: yes\n      limitmetrics: [basic, tcpports, udpports, icmp]\n"
                           "      tcp_source_port_range: 0-2000\n      tcp_dest_port_range: 0-2000\n"
                           "      udp_source_port_range: 0-2000\n      udp_dest_port_range: 0-2000\n";
  const auto exact = r.run(capture, 2, opts);
  const auto hll = r.run(capture, 2, opts + "      uniq: hll\n");
  fs::remove(capture);
  ASSERT_EQ(exact.size(), hll.size());
  ASSERT_GT(exact.size(), 1000u);
  double worst = 0;
  uint64_t biggest = 0;
  for (size_t i = 0; i < exact.size(); ++i) {
    std::vector<std::string> e, h;
    std::stringstream se(exact[i]), sh(hll[i]);
    for (std::string f; std::getline(se, f, '\t');) e.push_back(f);
    for (std::string f; std::getline(sh, f, '\t');) h.push_back(f);
    ASSERT_EQ(e.size(), 9u);
    ASSERT_EQ(h.size(), 9u);
    for (int k : {0, 1, 2, 3, 6, 7}) ASSERT_EQ(e[k], h[k]) << exact[i] << " vs " << hll[i];
    for (int k : {4, 5, 8}) {
      const double x = std::stod(e[k]), y = std::stod(h[k]);
      EXPECT_LE(std::fabs(x - y), 0.02 * x + 2) << "column " << k << ": " << exact[i] << " vs " << hll[i];
      if (x >= 1000) worst = std::max(worst, std::fabs(x - y) / x);
      biggest = std::max<uint64_t>(biggest, static_cast<uint64_t>(x));
    }
  }
  RecordProperty("hll_worst_relative_error_at_1000_plus", std::to_string(worst));
  std::printf("hll: %zu rows, largest exact count %llu, worst relative error (counts >= 1000) %.4f\n", exact.size(),
              static_cast<unsigned long long>(biggest), worst);
  EXPECT_GT(biggest, 100000u);
}

// ---- corsaro3's example config -------------------------------------------------

// configs/reportconfig.yaml passes --check-config as it is, and, with Avro
// output, writes rows labelled as it says, TCP source ports only from its
// ranges (0-1024, 10000-12000, 22444).
TEST(ReportConfig, Corsaro3ExampleChecksAndRuns) {
  if (!have(std::string(kPython) + " -c 'import avro'")) GTEST_SKIP() << "python3-avro missing";
  const fs::path example = source_root() / "configs" / "reportconfig.yaml";
  std::string out;
  ASSERT_EQ(run_command("cd " + quote(source_root()) + " && " + quote(privateer_bin()) + " -c " + quote(example) +
                        " --check-config", &out), 0) << out;
  EXPECT_NE(out.find("iptracker_threads (line"), std::string::npos) << out;
  TempDir d("privateer-reportcfg");
  std::string text = read_file(example);
  const std::string pcap = "packetsource: configs/quickstart/telescope.pcap";
  ASSERT_NE(text.find(pcap), std::string::npos);
  text.replace(text.find(pcap), pcap.size(), "packetsource: " + (source_root() / "configs/quickstart/telescope.pcap").string());
  const std::string fmt = "output_format: \"libtimeseries\"";
  ASSERT_NE(text.find(fmt), std::string::npos);
  text.replace(text.find(fmt), fmt.size(), "output_format: avro\n      report_partial: yes");
  std::ofstream(d.path / "r.yaml") << text << "prometheus: {enabled: no}\n";
  ASSERT_EQ(run_command("cd " + quote(d.path) + " && " + quote(privateer_bin()) + " -c r.yaml", &out), 0) << out;
  std::string files;
  for (const auto& e : fs::directory_iterator(d.path / "out" / "report")) {
    if (e.path().extension() != ".done" && e.path().filename().string().find("report") != std::string::npos &&
        e.path().extension() != ".log" && e.path().extension() != ".ts") {
      files += " " + quote(e.path());
    }
  }
  ASSERT_FALSE(files.empty()) << out;
  std::string rows;
  ASSERT_EQ(run_stdout(std::string(kPython) + " " + oracle_py() + " read" + files, &rows), 0);
  size_t tcp_src = 0, overall = 0;
  for (const auto& row : lines_of(rows)) {
    std::vector<std::string> f;
    std::stringstream ss(row);
    for (std::string x; std::getline(ss, x, '\t');) f.push_back(x);
    if (f.size() != 9) continue;
    EXPECT_EQ(f[1], "report.example");
    overall += f[2] == "overall";
    if (f[2] == "traffic.port.tcp.src_port") {
      ++tcp_src;
      const int port = std::stoi(f[3]);
      EXPECT_TRUE(port <= 1024 || (port >= 10000 && port <= 12000) || port == 22444) << row;
    }
  }
  EXPECT_GT(overall, 0u);
  EXPECT_EQ(tcp_src % (1025 + 2001 + 1), 0u);
  EXPECT_GT(tcp_src, 0u);
}

// The same example as it is (libtimeseries rows to its ascii backend, a
// gzip'd file): every row the Avro output of the same run has, as
// libtimeseries' `<label>.<metric>[.<value>].<field> value time` lines,
// and nothing else, through the binary and the sink (control/sinks/).
TEST(ReportConfig, Corsaro3ExampleAsciiBackendHasTheAvroRows) {
  if (!have(std::string(kPython) + " -c 'import avro'")) GTEST_SKIP() << "python3-avro missing";
  const fs::path example = source_root() / "configs" / "reportconfig.yaml";
  TempDir d("privateer-reportts");
  std::string text = read_file(example);
  const std::string pcap = "packetsource: configs/quickstart/telescope.pcap";
  ASSERT_NE(text.find(pcap), std::string::npos);
  text.replace(text.find(pcap), pcap.size(), "packetsource: " + (source_root() / "configs/quickstart/telescope.pcap").string());
  const std::string label = "output_row_label: \"report.example\"";
  ASSERT_NE(text.find(label), std::string::npos);
  text.replace(text.find(label), label.size(), std::string(label) + "\n      report_partial: yes");
  std::string avro_text = text;
  const std::string fmt = "output_format: \"libtimeseries\"";
  ASSERT_NE(avro_text.find(fmt), std::string::npos);
  avro_text.replace(avro_text.find(fmt), fmt.size(), "output_format: avro");
  std::ofstream(d.path / "ts.yaml") << text << "prometheus: {enabled: no}\n";
  std::ofstream(d.path / "avro.yaml") << avro_text << "prometheus: {enabled: no}\n";
  std::string out;
  ASSERT_EQ(run_command("cd " + quote(d.path) + " && " + quote(privateer_bin()) + " -c ts.yaml", &out), 0) << out;
  EXPECT_NE(out.find("timeseries sink ascii:"), std::string::npos) << out;
  fs::rename(d.path / "out", d.path / "out-ts");
  ASSERT_EQ(run_command("cd " + quote(d.path) + " && " + quote(privateer_bin()) + " -c avro.yaml", &out), 0) << out;
  std::string files;
  for (const auto& e : fs::directory_iterator(d.path / "out" / "report")) {
    const std::string n = e.path().filename().string();
    if (n.size() > 12 && n.compare(n.size() - 12, 12, ".report.avro") == 0) files += " " + quote(e.path());
  }
  ASSERT_FALSE(files.empty()) << out;
  std::string rows;
  ASSERT_EQ(run_stdout(std::string(kPython) + " " + oracle_py() + " read" + files, &rows), 0);
  std::multiset<std::string> want;
  for (const auto& row : lines_of(rows)) {
    std::vector<std::string> f;
    std::stringstream ss(row);
    for (std::string x; std::getline(ss, x, '\t');) f.push_back(x);
    ASSERT_EQ(f.size(), 9u) << row;   // bin_timestamp label metric value src dst pkt byte asn
    const std::string key = f[1] + "." + f[2] + (f[3].empty() ? "" : "." + f[3]) + ".";
    const std::pair<const char*, const std::string&> fields[] = {
        {"uniq_src_ip", f[4]}, {"uniq_dst_ip", f[5]}, {"uniq_src_asn", f[8]}, {"pkt_cnt", f[6]}, {"ip_len", f[7]}};
    for (const auto& [name, value] : fields) want.insert(key + name + " " + value + " " + f[0]);
  }
  ASSERT_GT(want.size(), 1000u);
  std::string ts;
  ASSERT_EQ(run_stdout("zcat " + quote(d.path / "out-ts" / "report" / "report.ts"), &ts), 0);
  std::multiset<std::string> got;
  for (const auto& l : lines_of(ts)) {
    if (!l.empty()) got.insert(l);
  }
  EXPECT_EQ(got.size(), want.size());
  size_t missing = 0;
  for (const auto& w : want) {
    if (!got.count(w) && missing++ < 5) ADD_FAILURE() << "not in the ascii file: " << w;
  }
  EXPECT_EQ(missing, 0u);
}
