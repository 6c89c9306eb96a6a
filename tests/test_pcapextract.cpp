// The pcapextract plugin through the binary (and the issue's end to end:
// a regex rule's alarm, beside wdcap and flowtuple): a capture made by scapy with
// interleaved TCP and UDP flows, one of them carrying "TRIGGER" in one
// payload; a custom BPF filter on the payload alarms that flow. The
// extracted pcap, read by tshark, holds exactly that flow's packets (the
// ones before the trigger included, as many as pretrigger_packets asks),
// one direction of it, or every packet but the alarmed flow's from the
// trigger on (select: not_alarmed); the expected packets are picked from
// the input by tshark display filters on the flow's 5-tuple.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/test_support.hpp"

namespace fs = std::filesystem;
using namespace privateer::test;

namespace {

const char* kCraft = R"(
import sys
from scapy.all import Ether, IP, TCP, UDP, Raw, wrpcap
pkts = []
t = 1700000000.0
def add(p):
    global t
    t += 0.01
    p.time = t
    pkts.append(p)
E = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
for i in range(12):
    # the alarmed flow: client 10.0.0.1:1000 <-> 10.0.0.2:80; packet 7 (from the client) carries TRIGGER
    if i % 2 == 0:
        pay = b"TRIGGER here" if i == 6 else b"client %d" % i
        add(E / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=1000, dport=80, flags="PA", seq=i) / Raw(pay))
    else:
        add(E / IP(src="10.0.0.2", dst="10.0.0.1") / TCP(sport=80, dport=1000, flags="PA", seq=i) / Raw(b"server %d" % i))
    # other flows, never alarmed; one payload says TRIGGER without being at the payload's start
    add(E / IP(src="10.0.1.%d" % (i % 3 + 1), dst="10.0.0.2") / TCP(sport=2000 + i % 3, dport=80, flags="PA") / Raw(b"x TRIGGER"))
    add(E / IP(src="10.0.2.1", dst="10.0.2.2") / UDP(sport=53, dport=5353) / Raw(b"udp %d" % i))
wrpcap(sys.argv[1], pkts)
)";

const char* kFlowA = "ip.addr==10.0.0.1 && ip.addr==10.0.0.2 && tcp.port==1000 && tcp.port==80";

// tshark's (time, md5) of the packets of `f` that `filter` keeps, in file order.
std::vector<std::string> frames(const fs::path& f, const std::string& filter) {
  std::string out;
  EXPECT_EQ(run_stdout("tshark -n -r " + quote(f) + " -o frame.generate_md5_hash:TRUE -T fields -E separator=/t " +
                           "-e frame.time_epoch -e frame.md5_hash" + (filter.empty() ? "" : " -Y '" + filter + "'") +
                           " 2>/dev/null",
                       &out),
            0);
  return lines_of(out);
}

struct Extracted {
  std::string log;
  std::vector<std::string> got;
};

Extracted extract(const fs::path& dir, const fs::path& cap, unsigned workers, const std::string& opts) {
  Extracted r;
  const fs::path out = dir / ("out-" + std::to_string(workers));
  fs::remove_all(out);
  fs::create_directories(out);
  const fs::path cfg = dir / "x.yaml";
  std::ofstream(cfg) << "packetsource: " << cap.string() << "\nthreads: " << workers << "\nrotatefreq: 0\n"
                     << "outtemplate: " << (out / "%P-%s").string() << "\nprogress: no\n"
                     << "filters:\n  trig: \"tcp and tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x54524947\"\n"
                     << "plugins:\n  - flowtuple\n  - pcapextract:\n" << opts;
  EXPECT_EQ(run_command(quote(privateer_bin()) + " -c " + quote(cfg), &r.log), 0) << r.log;
  for (const auto& e : fs::directory_iterator(out)) {
    if (e.path().extension() == ".pcap") {
      EXPECT_TRUE(fs::exists(e.path().string() + ".done"));
      for (auto& l : frames(e.path(), "")) r.got.push_back(l);
    }
  }
  return r;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

class PcapExtract : public ::testing::Test {
 protected:
  void SetUp() override {
    PRIVATEER_REQUIRE_TOOL("command -v tshark", "tshark");
    PRIVATEER_REQUIRE_TOOL("/usr/bin/python3 -c 'import scapy'", "python3-scapy");
    std::ofstream(tmp_.path / "craft.py") << kCraft;
    ASSERT_EQ(run_command("/usr/bin/python3 " + quote(tmp_.path / "craft.py") + " " + quote(cap_)), 0);
    flow_ = frames(cap_, kFlowA);
    ASSERT_EQ(flow_.size(), 12u);
    trigger_ = 6;   // the 7th packet of the flow
    ASSERT_EQ(frames(cap_, std::string(kFlowA) + " && tcp.payload contains \"TRIGGER\"").at(0), flow_[trigger_]);
  }
  TempDir tmp_{"privateer-extract"};
  fs::path cap_ = tmp_.path / "flows.pcap";
  std::vector<std::string> flow_;
  size_t trigger_ = 0;
};

TEST_F(PcapExtract, AlarmedFlowWithEveryPacketBeforeTheTrigger) {
  for (unsigned w : {1u, 2u}) {
    const Extracted r = extract(tmp_.path, cap_, w, "      trigger_filter: trig\n      pretrigger_packets: 100\n");
    EXPECT_EQ(sorted(r.got), sorted(flow_)) << r.log;
    EXPECT_NE(r.log.find("alarms (flows): pcapextract/filter=1"), std::string::npos) << r.log;
  }
}

TEST_F(PcapExtract, PretriggerKeepsTheLastNPackets) {
  const Extracted r = extract(tmp_.path, cap_, 2, "      trigger_filter: trig\n      pretrigger_packets: 3\n");
  const std::vector<std::string> want(flow_.begin() + static_cast<long>(trigger_ - 3), flow_.end());
  EXPECT_EQ(sorted(r.got), sorted(want)) << r.log;
  const Extracted none = extract(tmp_.path, cap_, 1, "      trigger_filter: trig\n");
  EXPECT_EQ(sorted(none.got), sorted(std::vector<std::string>(flow_.begin() + static_cast<long>(trigger_), flow_.end())))
      << none.log;
}

TEST_F(PcapExtract, OneDirection) {
  const Extracted r = extract(tmp_.path, cap_, 2,
                        "      trigger_filter: trig\n      pretrigger_packets: 100\n      direction: backward\n");
  EXPECT_EQ(sorted(r.got), sorted(frames(cap_, std::string(kFlowA) + " && ip.src==10.0.0.2"))) << r.log;
}

TEST_F(PcapExtract, NotAlarmedWritesEverythingElse) {
  const Extracted r = extract(tmp_.path, cap_, 2, "      trigger_filter: trig\n      select: not_alarmed\n");
  auto want = frames(cap_, "");
  for (size_t i = trigger_; i < flow_.size(); ++i) want.erase(std::find(want.begin(), want.end(), flow_[i]));
  EXPECT_EQ(sorted(r.got), sorted(want)) << r.log;
}

// The issue's end to end: flowtuple, wdcap, regex, pcapextract and
// socketsink in one run; a regex rule marked `alarm` fires on the flow, and
// its packets, the ones before the match included, land in the extracted
// pcap; wdcap has every packet; python3-avro reads the flowtuple file; the
// UDP summaries count every packet and the alarmed flow.
TEST_F(PcapExtract, RegexAlarmExtractsTheFlowBesideWdcapAndFlowtuple) {
  std::ofstream(tmp_.path / "rules") << "# the trigger, at the payload's start\ntrig tcp /^TRIGGER/ alarm\nother /server/\n";
  const fs::path out = tmp_.path / "all";
  fs::create_directories(out);
  LineListener summaries("udp", 0, tmp_.path / "summaries");
  ASSERT_GT(summaries.port, 0);
  const fs::path cfg = tmp_.path / "all.yaml";
  std::ofstream(cfg) << "packetsource: " << cap_.string() << "\nthreads: 2\nrotatefreq: 0\nouttemplate: "
                     << (out / "%P-%s.avro").string() << "\nprogress: no\nplugins:\n  - flowtuple\n  - wdcap\n"
                     << "  - regex:\n      rules: " << (tmp_.path / "rules").string()
                     << "\n  - pcapextract:\n      pretrigger_packets: 100\n"
                     << "  - socketsink: {port: " << summaries.port << "}\n";
  std::string log;
  ASSERT_EQ(run_command(quote(privateer_bin()) + " -c " + quote(cfg), &log), 0) << log;
  EXPECT_NE(log.find("alarms (flows): regex/match=1"), std::string::npos) << log;
  std::vector<std::string> extracted, captured;
  fs::path flowtuple;
  for (const auto& e : fs::directory_iterator(out)) {
    const std::string n = e.path().filename().string();
    if (n.starts_with("pcapextract-") && n.ends_with(".pcap")) extracted = frames(e.path(), "");
    if (n.starts_with("wdcap-") && n.ends_with(".pcap")) captured = frames(e.path(), "");
    if (n.starts_with("flowtuple-") && n.ends_with(".avro")) flowtuple = e.path();
  }
  EXPECT_EQ(sorted(extracted), sorted(flow_)) << log;
  EXPECT_EQ(sorted(captured), sorted(frames(cap_, ""))) << log;
  ASSERT_FALSE(flowtuple.empty()) << log;
  std::string rows;
  EXPECT_EQ(run_stdout("/usr/bin/python3 " + quote(source_root() / "tests" / "read_avro.py") + " " + quote(flowtuple), &rows),
            0);
  EXPECT_FALSE(rows.empty());
  // socketsink's summary: JSON (python3), every packet, the alarmed flow.
  ASSERT_TRUE(wait_until([&] { return !lines_of(read_file(tmp_.path / "summaries")).empty(); }, 10)) << log;
  std::string sum;
  EXPECT_EQ(run_stdout("/usr/bin/python3 -c 'import json,sys\nls=[json.loads(l) for l in open(sys.argv[1])]\n"
                       "print(sum(o[\"packets\"] for o in ls), sum(o[\"alarmed_flows\"] for o in ls))' " +
                           quote(tmp_.path / "summaries"),
                       &sum),
            0);
  EXPECT_EQ(sum, std::to_string(frames(cap_, "").size()) + " 1\n");
}

TEST_F(PcapExtract, BadOptionsNameTheKey) {
  for (const auto& [opt, key] : std::vector<std::pair<std::string, std::string>>{
           {"      trigger_filter: nosuch\n", "plugins.pcapextract.trigger_filter"},
           {"      direction: up\n", "plugins.pcapextract.direction"},
           {"      pretrigger_mib: 0\n", "plugins.pcapextract.pretrigger_mib"},
           {"      select: all\n", "plugins.pcapextract.select"}}) {
    const fs::path cfg = tmp_.path / "bad.yaml";
    std::ofstream(cfg) << "packetsource: " << cap_.string() << "\nouttemplate: " << (tmp_.path / "%P").string()
                       << "\nfilters:\n  trig: tcp\nplugins:\n  - pcapextract:\n" << opt;
    std::string out;
    EXPECT_NE(run_command(quote(privateer_bin()) + " -c " + quote(cfg) + " --check-config", &out), 0) << opt;
    EXPECT_NE(out.find(key), std::string::npos) << opt << ": " << out;
  }
}

}  // namespace
