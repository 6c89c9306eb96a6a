// The pcapextract plugin through the binary (and the issue's end to end:
// a regex rule's alarm, beside wdcap and flowtuple): a capture made by scapy with
// interleaved TCP and UDP flows, one of them carrying "TRIGGER" in one
// payload; a custom BPF filter on the payload alarms that flow. The
// extracted pcap, read by tshark, holds exactly that flow's packets (the
// ones before the trigger included, as many as pretrigger_packets asks),
// one direction of it, or every packet but the alarmed flow's from the
// trigger on (select: not_alarmed); the expected packets are picked from
// the input by tshark display filters on the flow's 5-tuple. A flows file
// picks flows by 5-tuple (either direction, IPv4 and IPv6); files: per_flow
// gives each flow its own files, split by max_open_files and rotation as an
// independent simulation over tshark's packets says.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
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
  std::map<std::string, std::vector<std::string>> files;   // file name -> its packets
};

Extracted extract(const fs::path& dir, const fs::path& cap, unsigned workers, const std::string& opts,
                  const std::string& top = "rotatefreq: 0\n") {
  Extracted r;
  const fs::path out = dir / ("out-" + std::to_string(workers));
  fs::remove_all(out);
  fs::create_directories(out);
  const fs::path cfg = dir / "x.yaml";
  std::ofstream(cfg) << "packetsource: " << cap.string() << "\nthreads: " << workers << "\n" << top
                     << "outtemplate: " << (out / "%P-%s").string() << "\nprogress: no\n"
                     << "filters:\n  trig: \"tcp and tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x54524947\"\n"
                     << "plugins:\n  - flowtuple\n  - pcapextract:\n" << opts;
  EXPECT_EQ(run_command(quote(privateer_bin()) + " -c " + quote(cfg), &r.log), 0) << r.log;
  for (const auto& e : fs::directory_iterator(out)) {
    if (e.path().extension() == ".pcap") {
      EXPECT_TRUE(fs::exists(e.path().string() + ".done"));
      auto& f = r.files[e.path().filename().string()];
      f = frames(e.path(), "");
      r.got.insert(r.got.end(), f.begin(), f.end());
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

// flows_file: two of the capture's flows, one given in its reverse
// direction; the extracted packets are those of the two 5-tuples (tshark).
const char* kFlowB1 = "ip.addr==10.0.1.2 && ip.addr==10.0.0.2 && tcp.port==2001 && tcp.port==80";
const char* kFlowC = "ip.addr==10.0.2.1 && ip.addr==10.0.2.2 && udp.port==53 && udp.port==5353";

TEST_F(PcapExtract, FlowsFileExtractsTheListedFlowsEitherDirection) {
  const fs::path list = tmp_.path / "flows.txt";
  std::ofstream(list) << "# the flows to extract\n\ntcp 10.0.1.2 2001 10.0.0.2 80\n"
                      << "  udp 10.0.2.2 5353 10.0.2.1 53   # given server first\n"
                      << "tcp 10.9.9.9 1 10.9.9.8 2\n";   // not in the capture
  const auto want = frames(cap_, "(" + std::string(kFlowB1) + ") || (" + kFlowC + ")");
  ASSERT_EQ(want.size(), frames(cap_, kFlowB1).size() + frames(cap_, kFlowC).size());
  ASSERT_GT(frames(cap_, kFlowB1).size(), 0u);
  ASSERT_GT(frames(cap_, kFlowC).size(), 0u);
  for (unsigned w : {1u, 2u}) {
    const Extracted r = extract(tmp_.path, cap_, w, "      flows_file: " + list.string() + "\n");
    EXPECT_EQ(sorted(r.got), sorted(want)) << r.log;
    EXPECT_NE(r.log.find("pcapextract/list=2"), std::string::npos) << r.log;
  }
  // Beside trigger_filter: both reasons, the union of the flows.
  const Extracted both = extract(tmp_.path, cap_, 2,
                                 "      flows_file: " + list.string() + "\n      trigger_filter: trig\n"
                                 "      pretrigger_packets: 100\n");
  EXPECT_EQ(sorted(both.got), sorted(frames(cap_, "(" + std::string(kFlowB1) + ") || (" + kFlowC + ") || (" +
                                                      kFlowA + ")")))
      << both.log;
  EXPECT_NE(both.log.find("pcapextract/filter=1"), std::string::npos) << both.log;
  EXPECT_NE(both.log.find("pcapextract/list=2"), std::string::npos) << both.log;
}

// IPv6: two UDP flows; the list names one, server first; with per_flow its
// file's name carries the flow, first sender first, `_` for `:`.
TEST_F(PcapExtract, FlowsFileIpv6PerFlowName) {
  const fs::path cap6 = tmp_.path / "v6.pcap";
  std::ofstream(tmp_.path / "craft6.py") << R"(
import sys
from scapy.all import Ether, IPv6, UDP, Raw, wrpcap
pkts = []
for i in range(10):
    s, d = ("2001:db8::1", "2001:db8::2") if i % 2 == 0 else ("2001:db8::2", "2001:db8::1")
    p = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IPv6(src=s, dst=d) / UDP(sport=5000 if i % 2 == 0 else 53, dport=53 if i % 2 == 0 else 5000) / Raw(b"q%d" % i)
    p.time = 1700000000 + i * 0.1
    pkts.append(p)
    o = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IPv6(src="2001:db8::1", dst="2001:db8::3") / UDP(sport=5001, dport=53) / Raw(b"o%d" % i)
    o.time = 1700000000 + i * 0.1 + 0.05
    pkts.append(o)
wrpcap(sys.argv[1], pkts)
)";
  ASSERT_EQ(run_command("/usr/bin/python3 " + quote(tmp_.path / "craft6.py") + " " + quote(cap6)), 0);
  const std::string flow = "ipv6.addr==2001:db8::1 && ipv6.addr==2001:db8::2 && udp.port==5000 && udp.port==53";
  const auto want = frames(cap6, flow);
  ASSERT_EQ(want.size(), 10u);
  std::string first;
  ASSERT_EQ(run_stdout("tshark -n -r " + quote(cap6) + " -c 1 -T fields -E separator=- -e ipv6.src -e udp.srcport " +
                           "-e ipv6.dst -e udp.dstport -Y '" + flow + "' 2>/dev/null",
                       &first),
            0);
  first = lines_of(first).at(0);
  std::replace(first.begin(), first.end(), ':', '_');
  const fs::path list = tmp_.path / "flows6.txt";
  std::ofstream(list) << "udp 2001:db8::2 53 2001:db8::1 5000\n";
  const Extracted r = extract(tmp_.path, cap6, 1, "      flows_file: " + list.string() + "\n      files: per_flow\n");
  EXPECT_EQ(sorted(r.got), sorted(want)) << r.log;
  ASSERT_EQ(r.files.size(), 1u) << r.log;
  EXPECT_TRUE(r.files.begin()->first.ends_with(".udp-" + first + ".pcap")) << r.files.begin()->first << " " << first;
}

TEST_F(PcapExtract, BadFlowsFileLineFailsAtStartWithFileAndLine) {
  const fs::path list = tmp_.path / "bad-flows.txt";
  for (const auto& [line3, why] : std::vector<std::pair<std::string, std::string>>{
           {"tcp 10.0.0.1 1000 10.0.0.2\n", "too few fields"},
           {"tcp 10.0.0.1 70000 10.0.0.2 80\n", "bad source port"},
           {"tcp 10.0.0.1 1000 ::1 80\n", "not of one IP version"},
           {"gre 10.0.0.1 0 10.0.0.2 0\n", "bad protocol"},
           {"tcp 10.0.0.2 80 10.0.0.1 1000\n", "the flow of line 2 again"}}) {
    std::ofstream(list) << "# ok\ntcp 10.0.0.1 1000 10.0.0.2 80\n" << line3;
    const fs::path cfg = tmp_.path / "bad.yaml";
    std::ofstream(cfg) << "packetsource: " << cap_.string() << "\nouttemplate: " << (tmp_.path / "%P").string()
                       << "\nplugins:\n  - pcapextract:\n      flows_file: " << list.string() << "\n";
    std::string out;
    EXPECT_NE(run_command(quote(privateer_bin()) + " -c " + quote(cfg) + " --check-config", &out), 0) << line3;
    EXPECT_NE(out.find("plugins.pcapextract.flows_file"), std::string::npos) << out;
    EXPECT_NE(out.find(list.string() + ":3: "), std::string::npos) << out;
    EXPECT_NE(out.find(why), std::string::npos) << out;
  }
}

// files: per_flow. Each packet of a capture as tshark reads it: its
// (time, md5) line as frames() gives it, its flow's key (either direction
// the same) and the name label of the flow it starts (first sender first).
struct Pkt {
  std::string frame, flow, label;
};
std::vector<Pkt> packets_of(const fs::path& f) {
  std::string out;
  EXPECT_EQ(run_stdout("tshark -n -r " + quote(f) + " -o frame.generate_md5_hash:TRUE -T fields -E separator=/t " +
                           "-e frame.time_epoch -e frame.md5_hash -e ip.proto -e ip.src -e tcp.srcport -e udp.srcport " +
                           "-e ip.dst -e tcp.dstport -e udp.dstport 2>/dev/null",
                       &out),
            0);
  std::vector<Pkt> r;
  for (const std::string& l : lines_of(out)) {
    std::vector<std::string> c;
    size_t b = 0;
    for (size_t e; (e = l.find('\t', b)) != std::string::npos; b = e + 1) c.push_back(l.substr(b, e - b));
    c.push_back(l.substr(b));
    if (c.size() != 9) {
      ADD_FAILURE() << l;
      continue;
    }
    const std::string proto = c[2] == "6" ? "tcp" : c[2] == "17" ? "udp" : c[2];
    const std::string src = c[3] + "-" + c[4] + c[5], dst = c[6] + "-" + c[7] + c[8];
    r.push_back({c[0] + "\t" + c[1], proto + " " + std::min(src, dst) + " " + std::max(src, dst),
                 proto + "-" + src + "-" + dst});
  }
  return r;
}

// The run's .pcap files, each read by tcpdump too (as many packets as tshark's).
const std::map<std::string, std::vector<std::string>>& files_of(const fs::path& out, const Extracted& r) {
  for (const auto& [name, fr] : r.files) {
    std::string td;
    EXPECT_EQ(run_stdout("tcpdump -nn -r " + quote(out / name) + " 2>/dev/null", &td), 0) << name;
    EXPECT_EQ(lines_of(td).size(), fr.size()) << name;
  }
  return r.files;
}

TEST_F(PcapExtract, PerFlowFilesHoldOneFlowEach) {
  const fs::path list = tmp_.path / "flows.txt";
  std::ofstream(list) << "tcp 10.0.1.2 2001 10.0.0.2 80\nudp 10.0.2.2 5353 10.0.2.1 53\n";
  const auto pk = packets_of(cap_);
  ASSERT_EQ(pk.size(), frames(cap_, "").size());
  for (unsigned w : {1u, 2u}) {
    const Extracted r = extract(tmp_.path, cap_, w,
                                "      flows_file: " + list.string() + "\n      trigger_filter: trig\n"
                                "      files: per_flow\n");
    // The selection: the two listed flows whole, flow A from its trigger on.
    std::map<std::string, std::vector<std::string>> want;   // flow label -> its packets
    std::map<std::string, std::string> label;              // flow key -> label
    for (const Pkt& p : pk) {
      if (!label.count(p.flow)) label[p.flow] = p.label;
    }
    const auto a = frames(cap_, kFlowA);
    auto sel = frames(cap_, "(" + std::string(kFlowB1) + ") || (" + kFlowC + ")");
    sel.insert(sel.end(), a.begin() + static_cast<long>(trigger_), a.end());
    for (const Pkt& p : pk) {
      if (std::find(sel.begin(), sel.end(), p.frame) != sel.end()) want[label[p.flow]].push_back(p.frame);
    }
    ASSERT_EQ(want.size(), 3u);
    const auto got = files_of(tmp_.path / ("out-" + std::to_string(w)), r);
    ASSERT_EQ(got.size(), 3u) << r.log;
    for (const auto& [name, fr] : got) {
      bool found = false;
      for (const auto& [lab, pkts] : want) {
        if (name.find("." + lab + ".pcap") == std::string::npos) continue;
        found = true;
        EXPECT_EQ(sorted(fr), sorted(pkts)) << name;
      }
      EXPECT_TRUE(found) << name << "\n" << r.log;
    }
    std::vector<std::string> all;
    for (const auto& [lab, pkts] : want) all.insert(all.end(), pkts.begin(), pkts.end());
    EXPECT_EQ(sorted(r.got), sorted(all)) << r.log;
  }
}

// max_open_files: 2 with the capture's five interleaved flows (all listed):
// the files are split as README says (to open a third, the least recently
// written is finished; the flow's next file is NAME.1.pcap, NAME.2.pcap
// ...). The expected split is simulated here over tshark's packets.
TEST_F(PcapExtract, PerFlowMaxOpenFilesSplitsLeastRecentlyWritten) {
  const auto pk = packets_of(cap_);
  std::map<std::string, std::string> label;
  std::vector<std::string> order;
  for (const Pkt& p : pk) {
    if (!label.count(p.flow)) {
      label[p.flow] = p.label;
      order.push_back(p.flow);
    }
  }
  ASSERT_EQ(order.size(), 5u);
  const fs::path list = tmp_.path / "flows.txt";
  {
    std::ofstream l(list);
    for (const std::string& f : order) {
      std::string k = f;
      for (char& c : k) c = c == '-' ? ' ' : c;
      l << k << "\n";   // PROTO A APORT B BPORT
    }
  }
  std::map<std::string, std::vector<std::string>> want;   // file label (with its repeat) -> packets
  std::map<std::string, unsigned> files;                  // flow -> files opened
  std::vector<std::pair<std::string, size_t>> open;       // (flow, last use), at most 2
  for (size_t i = 0; i < pk.size(); ++i) {
    const Pkt& p = pk[i];
    auto it = std::find_if(open.begin(), open.end(), [&](const auto& o) { return o.first == p.flow; });
    if (it == open.end()) {
      if (open.size() == 2) {
        open.erase(std::min_element(open.begin(), open.end(),
                                    [](const auto& x, const auto& y) { return x.second < y.second; }));
      }
      ++files[p.flow];
      open.push_back({p.flow, i});
      it = open.end() - 1;
    }
    it->second = i;
    const unsigned n = files[p.flow];
    want[label[p.flow] + (n > 1 ? "." + std::to_string(n - 1) : "")].push_back(p.frame);
  }
  const Extracted r = extract(tmp_.path, cap_, 1,
                              "      flows_file: " + list.string() + "\n      files: per_flow\n"
                              "      max_open_files: 2\n");
  const auto got = files_of(tmp_.path / "out-1", r);
  EXPECT_GT(want.size(), 5u);
  EXPECT_EQ(got.size(), want.size()) << r.log;
  for (const auto& [lab, pkts] : want) {
    const std::string tail = "." + lab + ".pcap";   // (clang: a lambda takes no structured binding)
    const auto g = std::find_if(got.begin(), got.end(), [&](const auto& x) { return x.first.ends_with(tail); });
    ASSERT_NE(g, got.end()) << lab << "\n" << r.log;
    EXPECT_EQ(g->second, pkts) << lab;
  }
  EXPECT_EQ(sorted(r.got), sorted(frames(cap_, ""))) << r.log;
  // Two workers: every packet in exactly one file, each file one flow's.
  const Extracted r2 = extract(tmp_.path, cap_, 2,
                               "      flows_file: " + list.string() + "\n      files: per_flow\n"
                               "      max_open_files: 2\n");
  EXPECT_EQ(sorted(r2.got), sorted(frames(cap_, ""))) << r2.log;
  for (const auto& [name, fr] : files_of(tmp_.path / "out-2", r2)) {
    std::set<std::string> flows;
    for (const Pkt& p : pk) {
      if (std::find(fr.begin(), fr.end(), p.frame) != fr.end()) flows.insert(p.flow);
    }
    EXPECT_EQ(flows.size(), 1u) << name;
  }
}

// per_flow with rotation (interval 1, rotatefreq 1): two flows over three
// seconds; each flow's packets of each second in a file of its own, named
// for that second (the file of a flow still open is finished at the
// period's end).
TEST_F(PcapExtract, PerFlowFilesEndWithTheRotationPeriod) {
  const fs::path capr = tmp_.path / "rot.pcap";
  std::ofstream(tmp_.path / "craftr.py") << R"(
import sys
from scapy.all import Ether, IP, TCP, UDP, Raw, wrpcap
E = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
pkts = []
for i in range(12):
    p = E / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=1000, dport=80, flags="PA") / Raw(b"t%d" % i)
    p.time = 1700000000.1 + i * 0.25
    q = E / IP(src="10.0.0.3", dst="10.0.0.4") / UDP(sport=53, dport=5353) / Raw(b"u%d" % i)
    q.time = 1700000000.2 + i * 0.25
    pkts += [p, q]
wrpcap(sys.argv[1], pkts)
)";
  ASSERT_EQ(run_command("/usr/bin/python3 " + quote(tmp_.path / "craftr.py") + " " + quote(capr)), 0);
  const auto pk = packets_of(capr);
  std::map<std::string, std::string> label;
  for (const Pkt& p : pk) {
    if (!label.count(p.flow)) label[p.flow] = p.label;
  }
  ASSERT_EQ(label.size(), 2u);
  const fs::path list = tmp_.path / "flowsr.txt";
  {
    std::ofstream l(list);
    for (const auto& [f, lab] : label) {
      std::string k = f;
      for (char& c : k) c = c == '-' ? ' ' : c;
      l << k << "\n";
    }
  }
  std::map<std::string, std::vector<std::string>> want;   // "SECOND.LABEL" -> packets
  for (const Pkt& p : pk) want[p.frame.substr(0, p.frame.find('.')) + "." + label[p.flow]].push_back(p.frame);
  ASSERT_EQ(want.size(), 6u);
  const Extracted r = extract(tmp_.path, capr, 2, "      flows_file: " + list.string() + "\n      files: per_flow\n",
                              "interval: 1\nrotatefreq: 1\n");
  const auto got = files_of(tmp_.path / "out-2", r);
  EXPECT_EQ(got.size(), want.size()) << r.log;
  for (const auto& [key, pkts] : want) {
    const auto g = got.find("pcapextract-" + key + ".pcap");
    ASSERT_NE(g, got.end()) << key << "\n" << r.log;
    EXPECT_EQ(sorted(g->second), sorted(pkts)) << key;
  }
}

TEST_F(PcapExtract, BadOptionsNameTheKey) {
  for (const auto& [opt, key] : std::vector<std::pair<std::string, std::string>>{
           {"      trigger_filter: nosuch\n", "plugins.pcapextract.trigger_filter"},
           {"      direction: up\n", "plugins.pcapextract.direction"},
           {"      pretrigger_mib: 0\n", "plugins.pcapextract.pretrigger_mib"},
           {"      select: all\n", "plugins.pcapextract.select"},
           {"      flows_file: /nonexistent/flows\n", "plugins.pcapextract.flows_file"},
           {"      files: per_packet\n", "plugins.pcapextract.files"},
           {"      files: per_flow\n      max_open_files: 0\n", "plugins.pcapextract.max_open_files"},
           {"      files: per_flow\n      max_open_files: 4097\n", "plugins.pcapextract.max_open_files"},
           {"      max_open_files: 8\n", "plugins.pcapextract.max_open_files"},
           {"      select: not_alarmed\n      files: per_flow\n", "plugins.pcapextract.files"}}) {
    const fs::path cfg = tmp_.path / "bad.yaml";
    std::ofstream(cfg) << "packetsource: " << cap_.string() << "\nouttemplate: " << (tmp_.path / "%P").string()
                       << "\nfilters:\n  trig: tcp\nplugins:\n  - pcapextract:\n" << opt;
    std::string out;
    EXPECT_NE(run_command(quote(privateer_bin()) + " -c " + quote(cfg) + " --check-config", &out), 0) << opt;
    EXPECT_NE(out.find(key), std::string::npos) << opt << ": " << out;
  }
}

}  // namespace
