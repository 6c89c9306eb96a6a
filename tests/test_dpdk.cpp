// DPDK capture source, on the net_pcap PMD reading corpus files: one file per
// rx queue. A process can initialise the EAL only once, so everything that
// needs the EAL runs in one test, in order.
#include <gtest/gtest.h>

#include <filesystem>

#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "hw/dpdk_source.hpp"
#include "hw/source.hpp"
#include "tests/test_support.hpp"

using namespace privateer;

namespace {

struct Pkt {
  uint64_t ts_ns;
  std::vector<uint8_t> data;
};

std::vector<Pkt> read_all(PacketSource& src) {
  std::vector<Pkt> out;
  RawPacket burst[64];
  while (true) {
    size_t n = src.read_burst(burst, 64);
    if (n == 0) {
      if (src.eof()) break;
      continue;
    }
    for (size_t i = 0; i < n; ++i)
      out.push_back({burst[i].ts_ns, std::vector<uint8_t>(burst[i].data, burst[i].data + burst[i].caplen)});
  }
  return out;
}

std::string file_prefix() { return "privateer_test_dpdk_" + std::to_string(getpid()); }

std::vector<std::string> eal_args(const std::string& vdev) {
  return {"--no-huge", "--no-pci", "-m", "512", "--log-level", "lib.eal:error",
          "--file-prefix", file_prefix(), "--vdev", vdev};
}

// The EAL leaves its runtime directory behind: remove ours at the end.
class DpdkRuntimeDir : public ::testing::Environment {
 public:
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(std::filesystem::path("/var/run/dpdk") / file_prefix(), ec);
  }
};
const auto* const kDpdkRuntimeDir = ::testing::AddGlobalTestEnvironment(new DpdkRuntimeDir);

}  // namespace

TEST(Dpdk, NetPcapQueues) {
  PRIVATEER_REQUIRE_CORPUS();
  const auto corpus = *test::corpus_dir();
  const std::vector<std::string> files = {"zeek__wikipedia.pcap", "libtrace__vlan.pcap"};

  std::map<std::string, uint64_t> manifest_packets;
  for (const auto& row : test::read_manifest()) {
    auto f = row.find("file");
    auto p = row.find("packets");
    if (f != row.end() && p != row.end()) manifest_packets[f->second] = std::stoull(p->second);
  }

  // Reference: the project's own file reader.
  std::vector<std::vector<Pkt>> expected;
  for (const auto& f : files) {
    ASSERT_TRUE(manifest_packets.count(f)) << f << " missing from the manifest";
    auto src = open_source((corpus / f).string());
    expected.push_back(read_all(*src));
    ASSERT_EQ(expected.back().size(), manifest_packets[f]) << f;
  }

  const std::string vdev = "net_pcap0,rx_pcap=" + (corpus / files[0]).string() +
                           ",rx_pcap=" + (corpus / files[1]).string();
  DpdkConfig cfg;
  cfg.eal = eal_args(vdev);

  // 1. An unknown device: SourceError naming it. The EAL comes up for it and
  //    stays up for the next start() with the same EAL arguments.
  {
    DpdkConfig bad = cfg;
    bad.ports.push_back({.device = "net_nosuchdev7"});
    try {
      DpdkContext::start(bad);
      FAIL() << "start() with an unknown device did not throw";
    } catch (const SourceError& e) {
      std::string msg = e.what();
      if (msg.find("rte_eal_init failed") != std::string::npos)
        GTEST_SKIP() << "DPDK EAL cannot be initialised here: " << msg;
      EXPECT_NE(msg.find("net_nosuchdev7"), std::string::npos) << msg;
      EXPECT_NE(msg.find("unknown device"), std::string::npos) << msg;
    }
  }

  // 2. Too many queues for the device.
  {
    DpdkConfig bad = cfg;
    bad.ports.push_back({.device = "net_pcap0", .rx_queues = 1000});
    try {
      DpdkContext::start(bad);
      FAIL() << "start() with 1000 rx queues did not throw";
    } catch (const SourceError& e) {
      std::string msg = e.what();
      EXPECT_NE(msg.find("net_pcap0"), std::string::npos) << msg;
      EXPECT_NE(msg.find("1000 rx queues"), std::string::npos) << msg;
    }
  }

  // 3. The real thing: one port, 2 rx queues, queue i reading file i.
  cfg.ports.push_back({.device = "net_pcap0", .rx_queues = 2, .rx_descriptors = 256});
  std::unique_ptr<DpdkContext> ctx = DpdkContext::start(cfg);
  ASSERT_EQ(ctx->ports(), 1u);
  EXPECT_EQ(ctx->port_name(0), "net_pcap0");
  EXPECT_EQ(ctx->queues(0), 2);
  const std::string desc = ctx->describe();
  std::cerr << "describe(): " << desc << "\n";
  EXPECT_NE(desc.find("RSS not available for net_pcap"), std::string::npos) << desc;

  // 4. A second start() in this process: the 'only once' error.
  try {
    DpdkContext::start(cfg);
    FAIL() << "second start() did not throw";
  } catch (const SourceError& e) {
    EXPECT_NE(std::string(e.what()).find("only once"), std::string::npos) << e.what();
  }

  {
    auto sources = ctx->take_queue_sources();
    ASSERT_EQ(sources.size(), 2u);
    EXPECT_TRUE(ctx->take_queue_sources().empty());
    std::vector<std::vector<Pkt>> got(2);
    std::vector<uint64_t> caplen_bytes(2, 0), wire_bytes(2, 0);
    for (size_t q = 0; q < 2; ++q) {
      PacketSource& s = *sources[q];
      EXPECT_EQ(s.name(), "dpdk:net_pcap0/q" + std::to_string(q));
      EXPECT_TRUE(s.live());
      EXPECT_FALSE(s.eof());
      RawPacket burst[32];
      auto idle_since = std::chrono::steady_clock::now();
      while (std::chrono::steady_clock::now() - idle_since < std::chrono::milliseconds(200)) {
        size_t n = s.read_burst(burst, 32);
        if (n == 0) {
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
          continue;
        }
        idle_since = std::chrono::steady_clock::now();
        for (size_t i = 0; i < n; ++i) {
          EXPECT_EQ(burst[i].linktype, linktype::ethernet);
          caplen_bytes[q] += burst[i].caplen;
          wire_bytes[q] += burst[i].wirelen;
          got[q].push_back({burst[i].ts_ns, std::vector<uint8_t>(burst[i].data, burst[i].data + burst[i].caplen)});
        }
      }
      EXPECT_FALSE(s.eof());
    }

    uint64_t total = 0;
    for (size_t q = 0; q < 2; ++q) {
      SCOPED_TRACE(files[q]);
      const auto& exp = expected[q];
      ASSERT_EQ(got[q].size(), manifest_packets[files[q]]);
      EXPECT_EQ(ctx->queue_stat_packets(0, q), got[q].size());
      EXPECT_EQ(ctx->queue_stat_bytes(0, q), wire_bytes[q]);
      uint64_t exp_bytes = 0;
      for (const auto& p : exp) exp_bytes += p.data.size();
      EXPECT_EQ(caplen_bytes[q], exp_bytes);
      // First and last timestamps, then every packet's time and bytes.
      EXPECT_EQ(got[q].front().ts_ns, exp.front().ts_ns);
      EXPECT_EQ(got[q].back().ts_ns, exp.back().ts_ns);
      size_t mismatches = 0;
      for (size_t i = 0; i < exp.size(); ++i)
        if (got[q][i].ts_ns != exp[i].ts_ns || got[q][i].data != exp[i].data) ++mismatches;
      EXPECT_EQ(mismatches, 0u);
      total += got[q].size();
    }
    DpdkPortStats st = ctx->port_stats(0);
    EXPECT_EQ(st.ipackets, total);
    EXPECT_EQ(st.ibytes, caplen_bytes[0] + caplen_bytes[1]);
    EXPECT_EQ(st.rx_nombuf, 0u);
    // Sources go before the context.
  }
  ctx.reset();
}
