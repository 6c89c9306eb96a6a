// The flow table (dataplane/flow_table.hpp): directions, timeouts, TCP ends,
// eviction and its memory bound on crafted views; then `flows: {enabled:
// yes}` through the binary on corpus captures with 1, 2 and 4 workers, the
// flows created equal to tests/flows_oracle.py's count from tshark's fields,
// and every created flow either active or ended.
#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <string>

#include "dataplane/flow_table.hpp"
#include "tests/test_support.hpp"

namespace fs = std::filesystem;
using namespace privateer;
using namespace privateer::test;

namespace {

constexpr uint64_t kS = 1000000000u;

PacketView tcp(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport, uint64_t ts, uint8_t flags = 0x10) {
  PacketView v;
  v.ts_ns = ts;
  v.ip_version = 4;
  v.proto = 6;
  v.src.v4 = src;
  v.dst.v4 = dst;
  v.sport = sport;
  v.dport = dport;
  v.wirelen = 60;
  v.flags = pflag::has_ports | pflag::has_tcp_flags;
  v.tcp_flags = flags;
  return v;
}

uint64_t events(const FlowTable& t, FlowEvent e) { return t.counters().events[static_cast<size_t>(e)].load(); }

FlowSettings settings(uint32_t max, uint32_t idle = 60, uint32_t active = 600) {
  FlowSettings s;
  s.enabled = true;
  s.max = max;
  s.idle_timeout = idle;
  s.active_timeout = active;
  return s;
}

TEST(FlowTable, BothDirectionsAreOneFlow) {
  FlowTable t(settings(1024));
  PacketView v[3] = {tcp(1, 2, 1000, 80, 1 * kS, 0x02), tcp(2, 1, 80, 1000, 1 * kS + 5, 0x12),
                     tcp(1, 2, 1000, 80, 2 * kS)};
  t.update(v, 3);
  ASSERT_NE(v[0].flow, 0u);
  EXPECT_EQ(v[0].flow, v[1].flow);
  EXPECT_EQ(v[0].flow, v[2].flow);
  EXPECT_EQ(v[0].flow_dir, 0);
  EXPECT_EQ(v[1].flow_dir, 1);
  EXPECT_EQ(v[2].flow_dir, 0);
  const FlowRecord* r = t.record(v[0].flow);
  EXPECT_EQ(r->packets[0], 2u);
  EXPECT_EQ(r->packets[1], 1u);
  EXPECT_EQ(r->bytes[0], 120u);
  EXPECT_EQ(r->first_ns, 1 * kS);
  EXPECT_EQ(r->last_ns, 2 * kS);
  EXPECT_EQ(events(t, FlowEvent::created), 1u);
  EXPECT_EQ(t.counters().active.load(), 1u);
}

TEST(FlowTable, Ipv6AndNonIp) {
  FlowTable t(settings(64));
  PacketView a, b, n;
  for (PacketView* p : {&a, &b}) {
    p->ip_version = 6;
    p->proto = 17;
    p->ts_ns = kS;
  }
  inet_pton(AF_INET6, "2001:db8::1", a.src.v6);
  inet_pton(AF_INET6, "2001:db8::2", a.dst.v6);
  inet_pton(AF_INET6, "2001:db8::2", b.src.v6);
  inet_pton(AF_INET6, "2001:db8::1", b.dst.v6);
  a.sport = b.dport = 5353;
  a.dport = b.sport = 53;
  PacketView v[3] = {a, b, n};
  t.update(v, 3);
  EXPECT_NE(v[0].flow, 0u);
  EXPECT_EQ(v[0].flow, v[1].flow);
  EXPECT_EQ(v[1].flow_dir, 1);
  EXPECT_EQ(v[2].flow, 0u);   // no IP: no flow
  EXPECT_EQ(events(t, FlowEvent::created), 1u);
}

TEST(FlowTable, IdleAndActiveTimeoutsStartNewFlows) {
  FlowTable t(settings(1024, 10, 30));
  PacketView v[1] = {tcp(1, 2, 1, 2, 0 * kS + 1)};
  t.update(v, 1);
  v[0] = tcp(1, 2, 1, 2, 10 * kS + 1);   // exactly idle_timeout later: same flow
  t.update(v, 1);
  EXPECT_EQ(events(t, FlowEvent::created), 1u);
  v[0] = tcp(2, 1, 2, 1, 20 * kS + 2);   // 10 s and 1 ns: a new flow, this side its first sender
  t.update(v, 1);
  EXPECT_EQ(events(t, FlowEvent::idle_timeout), 1u);
  EXPECT_EQ(v[0].flow_dir, 0);
  for (uint64_t s = 25; s < 50; s += 5) {
    v[0] = tcp(1, 2, 1, 2, s * kS);
    t.update(v, 1);
  }
  EXPECT_EQ(events(t, FlowEvent::active_timeout), 0u);   // 25..45 s: within 30 s of 20 s
  v[0] = tcp(1, 2, 1, 2, 50 * kS + 2);
  t.update(v, 1);
  EXPECT_EQ(events(t, FlowEvent::active_timeout), 1u);
  EXPECT_EQ(events(t, FlowEvent::created), 3u);
  EXPECT_EQ(t.counters().active.load(), 1u);
}

TEST(FlowTable, TcpEndsAtRstOrBothFinsAndANewSynStartsAgain) {
  FlowTable t(settings(1024));
  PacketView v[4] = {tcp(1, 2, 9, 80, 1 * kS, 0x02), tcp(2, 1, 80, 9, 2 * kS, 0x11), tcp(1, 2, 9, 80, 3 * kS, 0x11),
                     tcp(2, 1, 80, 9, 4 * kS, 0x10)};   // the last ACK after both FINs: same flow
  t.update(v, 4);
  EXPECT_EQ(v[3].flow, v[0].flow);
  EXPECT_TRUE(t.record(v[0].flow)->closed);
  EXPECT_EQ(events(t, FlowEvent::created), 1u);
  PacketView syn[1] = {tcp(1, 2, 9, 80, 5 * kS, 0x02)};
  t.update(syn, 1);
  EXPECT_EQ(events(t, FlowEvent::tcp_end), 1u);
  EXPECT_EQ(events(t, FlowEvent::created), 2u);
  EXPECT_FALSE(t.record(syn[0].flow)->closed);
  PacketView rst[2] = {tcp(2, 1, 80, 9, 6 * kS, 0x04), tcp(1, 2, 9, 80, 7 * kS, 0x02)};
  t.update(rst, 2);
  EXPECT_EQ(events(t, FlowEvent::tcp_end), 2u);
  EXPECT_EQ(events(t, FlowEvent::created), 3u);
}

TEST(FlowTable, FixedMemoryEvictsTheLeastRecentlyUsedButNeverAFlowOfTheBurst) {
  FlowTable t(settings(8));   // one bucket of 8
  EXPECT_EQ(t.slots(), 8u);
  const size_t bytes = t.memory_bytes();
  PacketView v[9];
  for (uint32_t i = 0; i < 9; ++i) v[i] = tcp(100 + i, 2, 1, 2, (i + 1) * kS);
  t.update(v, 9);   // the 9th finds 8 flows of its own burst
  EXPECT_EQ(events(t, FlowEvent::not_tracked), 1u);
  EXPECT_EQ(v[8].flow, 0u);
  PacketView w[1] = {tcp(200, 2, 1, 2, 20 * kS)};
  t.update(w, 1);   // evicts the oldest (100)
  EXPECT_EQ(events(t, FlowEvent::evicted), 1u);
  PacketView again[1] = {tcp(101, 2, 1, 2, 21 * kS)};
  t.update(again, 1);   // 101 is still there
  EXPECT_EQ(events(t, FlowEvent::created), 9u);
  EXPECT_EQ(t.counters().active.load(), 8u);
  EXPECT_EQ(t.memory_bytes(), bytes);
}

TEST(FlowTable, AlarmsAreKeptPerFlowAndCountedOncePerReason) {
  FlowTable t(settings(1024, 10));
  PacketView v[2] = {tcp(1, 2, 1, 2, kS), tcp(2, 1, 2, 1, kS + 1)};
  t.update(v, 2);
  EXPECT_TRUE(t.raise(v[0].flow, 3));
  EXPECT_FALSE(t.raise(v[1].flow, 3));   // the same flow, the other way
  EXPECT_TRUE(t.raise(v[1].flow, 0));
  EXPECT_FALSE(t.raise(0, 1));           // not tracked
  EXPECT_FALSE(t.raise(v[0].flow, kMaxAlarmReasons));
  EXPECT_EQ(t.alarms(v[0].flow), (1u << 3) | 1u);
  EXPECT_EQ(t.counters().alarms[3].load(), 1u);
  EXPECT_EQ(t.counters().alarms[0].load(), 1u);
  PacketView later[1] = {tcp(1, 2, 1, 2, 30 * kS)};   // idle: a new flow, no alarms
  t.update(later, 1);
  EXPECT_EQ(t.alarms(later[0].flow), 0u);
  EXPECT_TRUE(t.raise(later[0].flow, 3));
  EXPECT_EQ(t.counters().alarms[3].load(), 2u);
}

TEST(FlowTable, SweepReclaimsIdleFlows) {
  FlowTable t(settings(64, 5));
  PacketView v[1];
  for (uint32_t i = 0; i < 10; ++i) {
    v[0] = tcp(100 + i, 2, 1, 2, kS);
    t.update(v, 1);
  }
  for (uint64_t s = 10; s < 14; ++s) {   // other traffic moves time on; the sweep visits every slot
    v[0] = tcp(7, 8, 1, 2, s * kS);
    t.update(v, 1);
  }
  EXPECT_EQ(events(t, FlowEvent::idle_timeout), 10u);
  EXPECT_EQ(t.counters().active.load(), 1u);
}

// A bad `flows:` value fails at start, naming the key and its line.
TEST(Flows, BadSettingsNameTheKey) {
  TempDir tmp("privateer-flows");
  for (const auto& [text, key] : std::vector<std::pair<std::string, std::string>>{
           {"flows: {max: 3}", "flows.max"}, {"flows: {idle_timeout: 0}", "flows.idle_timeout"},
           {"flows: {enabled: maybe}", "flows.enabled"}, {"flows: {size: 4}", "flows.size"}}) {
    const fs::path cfg = tmp.path / "f.yaml";
    std::ofstream(cfg) << "packetsource: x.pcap\nouttemplate: " << (tmp.path / "%P").string() << "\n"
                       << text << "\nplugins:\n  - null\n";
    std::string out;
    EXPECT_NE(run_command(quote(privateer_bin()) + " -c " + quote(cfg) + " --check-config", &out), 0) << text;
    EXPECT_NE(out.find(key), std::string::npos) << text << ": " << out;
    EXPECT_NE(out.find("line 3"), std::string::npos) << text << ": " << out;
  }
}

// Through the binary: the count of flows created equals the oracle's.
class FlowsCorpus : public ::testing::TestWithParam<std::string> {};

TEST_P(FlowsCorpus, CreatedFlowsEqualTheOracle) {
  PRIVATEER_REQUIRE_CORPUS();
  PRIVATEER_REQUIRE_TOOL("command -v tshark", "tshark");
  const fs::path cap = *corpus_dir() / GetParam();
  for (const auto& [idle, active] : std::vector<std::pair<int, int>>{{120, 1800}, {2, 5}}) {
    std::string want;
    ASSERT_EQ(run_stdout("/usr/bin/python3 " + quote(source_root() / "tests" / "flows_oracle.py") + " " + quote(cap) +
                             " " + std::to_string(idle) + " " + std::to_string(active),
                         &want),
              0);
    for (unsigned workers : {1u, 2u, 4u}) {
      TempDir tmp("privateer-flows");
      const fs::path cfg = tmp.path / "f.yaml";
      std::ofstream(cfg) << "packetsource: " << cap.string() << "\nthreads: " << workers << "\nouttemplate: "
                         << (tmp.path / "%P-%s").string() << "\nprogress: no\nprometheus: {enabled: no}\n"
                         << "flows: {enabled: yes, max: 1000000, idle_timeout: " << idle << ", active_timeout: " << active
                         << "}\nplugins:\n  - null\n";
      std::string out;
      ASSERT_EQ(run_command(quote(privateer_bin()) + " -c " + quote(cfg), &out), 0) << out;
      std::smatch m;
      ASSERT_TRUE(std::regex_search(out, m,
                                    std::regex("flows: created=([0-9]+) idle_timeout=([0-9]+) active_timeout=([0-9]+) "
                                               "tcp_end=([0-9]+) evicted=([0-9]+) not_tracked=([0-9]+) active=([0-9]+)")))
          << out;
      EXPECT_EQ(m[1].str() + "\n", want) << GetParam() << " idle " << idle << " workers " << workers;
      uint64_t ended = 0;
      for (int i = 2; i <= 5; ++i) ended += std::stoull(m[i]);
      EXPECT_EQ(std::stoull(m[1]), ended + std::stoull(m[7])) << out;
      EXPECT_EQ(m[5].str(), "0");
      EXPECT_EQ(m[6].str(), "0");
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Corpus, FlowsCorpus,
                         ::testing::Values("zeek__http-methods.pcap", "zeek__wikipedia.pcap", "zeek__ftp-bruteforce.pcap",
                                           "zeek__nmap-vsn.pcap", "pcaphunt__ps-tcp_syn.pcap",
                                           "pcaphunt__hs-icmpScan.pcap", "stopddos__amp.UDP.isakmp.pcap",
                                           "tcpdump__afs.pcap", "zeek__ipv6-fragmented-dns.pcap",
                                           "libtrace__100_seconds.pcap", "suricata__syn-flood-drop-precedence.pcap"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n) {
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return n;
                         });

}  // namespace
