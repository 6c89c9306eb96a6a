// corsaro3's null plugin: per-interval packet counts, merged over workers,
// logged; no file. Checked against tcpdump's count of the same capture.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "plugins/common/options.hpp"
#include "plugins/null/null.hpp"
#include "plugins/registry.hpp"
#include "tests/test_support.hpp"

namespace fs = std::filesystem;
using namespace privateer;

TEST(NullPlugin, SumsWorkersAndWritesNothing) {
  auto p = make_plugin("null", YAML::Node(), "plugins.null", 60);
  std::vector<PacketView> vs(5);
  std::vector<std::unique_ptr<WorkerProcessor>> ws;
  for (unsigned i = 0; i < 3; ++i) ws.push_back(p->make_worker(i));
  ws[0]->process(vs.data(), nullptr, 2);
  ws[2]->process(vs.data(), nullptr, 3);
  std::vector<std::unique_ptr<IntervalResult>> rs;
  for (auto& w : ws) rs.push_back(w->end_interval(120));
  rs.push_back(nullptr);   // a worker that jumped over the interval
  const MergeStats st = p->merge(IntervalInfo{120, 180, true}, rs);
  EXPECT_EQ(st.records, 0u);
  EXPECT_EQ(st.log_line, "null: interval 120..180 (partial): 5 packets");
  // The next interval starts from zero.
  rs.clear();
  for (auto& w : ws) rs.push_back(w->end_interval(180));
  EXPECT_EQ(p->merge(IntervalInfo{180, 240, false}, rs).log_line, "null: interval 180..240: 0 packets");
  EXPECT_THROW(make_plugin("null", YAML::Load("x: 1"), "plugins.null", 60), ConfigError);
}

TEST(NullPlugin, RunLogsEveryPacketOfTheCapture) {
  const fs::path pcap = test::source_root() / "configs" / "quickstart" / "telescope.pcap";
  std::string count;
  ASSERT_EQ(test::run_stdout("tcpdump -n -r " + pcap.string() + " 2>/dev/null | wc -l", &count), 0);
  const uint64_t want = std::stoull(count);
  ASSERT_GT(want, 0u);
  test::TempDir tmp("privateer-null");
  std::ofstream(tmp.path / "c.yaml") << "packetsource: " << pcap.string() << "\ninterval: 60\nthreads: 2\n"
                                     << "outtemplate: " << (tmp.path / "%P-%s").string() << "\n"
                                     << "prometheus: {enabled: no}\nprogress: no\nplugins:\n  - null:\n";
  std::string out;
  ASSERT_EQ(test::run_command(test::privateer_bin().string() + " -c " + (tmp.path / "c.yaml").string(), &out), 0)
      << out;
  const std::regex line(R"(null: interval (\d+)\.\.(\d+)( \(partial\))?: (\d+) packets)");
  uint64_t sum = 0, intervals = 0;
  for (auto it = std::sregex_iterator(out.begin(), out.end(), line); it != std::sregex_iterator(); ++it) {
    EXPECT_EQ(std::stoull((*it)[2]) - std::stoull((*it)[1]), 60u);
    sum += std::stoull((*it)[4]);
    ++intervals;
  }
  EXPECT_GT(intervals, 1u) << out;
  EXPECT_EQ(sum, want) << out;
  // No output file: only the config is in the directory.
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(tmp.path)) files += e.path().filename() != "c.yaml";
  EXPECT_EQ(files, 0u);
}
