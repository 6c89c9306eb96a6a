// DPDK ethdev capture: one PacketSource per (port, rx queue).
//
// DpdkContext::start() initialises the DPDK EAL, configures and starts the
// ports; take_queue_sources() hands one source per rx queue to the worker
// threads. No DPDK header is needed to use this interface.
//
// Lifetime: destroy every queue source before the DpdkContext (the sources
// hold mbufs of the context's pools and poll its ports).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "hw/source.hpp"

namespace privateer {

struct DpdkPortConfig {
  // Ethdev name (e.g. "net_pcap0", a vdev given with --vdev) or PCI address
  // ("0000:01:00.0"). A name not found after EAL probing is hot-plugged with
  // rte_dev_probe(device), so "net_pcap0,rx_pcap=x.pcap" also works here.
  std::string device;
  uint16_t rx_queues = 1;
  uint16_t rx_descriptors = 1024;
  bool promiscuous = true;
  uint16_t mtu = 0;  // 0: leave the device's MTU
};

struct DpdkConfig {
  std::vector<std::string> eal;       // EAL arguments (argv[0] is added)
  std::vector<DpdkPortConfig> ports;
  uint32_t mbuf_pool_size = 0;        // per port; 0: sized from descriptors x queues
  uint16_t burst_size = 32;
};

// Written by the polling thread only (relaxed stores once per burst); read by
// anyone.
struct DpdkQueueCounters {
  std::atomic<uint64_t> packets{0}, bytes{0};
};

struct DpdkPortStats {
  uint64_t ipackets = 0, ibytes = 0, imissed = 0, ierrors = 0, rx_nombuf = 0;
};

class DpdkQueueSource;  // : public PacketSource, one (port, queue); in dpdk_source.cpp

class DpdkContext {
 public:
  // Initialises the EAL with argv = {"privateer", eal...}, then configures and
  // starts every port: rx_queues rx queues (0 tx queues, or 1 where the PMD
  // insists), symmetric-Toeplitz RSS over IP/TCP/UDP where the device offers
  // RSS and rx_queues > 1, Rx timestamp offload where offered, promiscuous
  // mode and MTU as configured.
  // Throws SourceError naming the device / EAL arguments on any failure.
  // The EAL can be initialised only once per process: a start() while or
  // after a context has lived throws. (When a start() fails after the EAL
  // came up, the EAL is kept and a later start() with the same EAL arguments
  // reuses it.)
  static std::unique_ptr<DpdkContext> start(const DpdkConfig& cfg);
  ~DpdkContext();  // stops and closes the ports, frees the pools, rte_eal_cleanup()

  DpdkContext(const DpdkContext&) = delete;
  DpdkContext& operator=(const DpdkContext&) = delete;

  // One source per (port, queue), in port then queue order. Ownership moves
  // to the caller; each source must be polled by exactly one thread. A second
  // call returns an empty vector.
  std::vector<std::unique_ptr<PacketSource>> take_queue_sources();

  size_t ports() const;
  std::string port_name(size_t i) const;
  uint16_t queues(size_t i) const;
  DpdkPortStats port_stats(size_t i) const;                    // rte_eth_stats_get
  uint64_t queue_stat_packets(size_t port, uint16_t q) const;  // our own counters
  uint64_t queue_stat_bytes(size_t port, uint16_t q) const;
  // One line: ports, queues, RSS applied, timestamp source.
  std::string describe() const;
  // CPUs of the EAL's worker lcores, in order: where polling workers go.
  std::vector<int> worker_cpus() const;

  struct Port;  // implementation detail

 private:
  DpdkContext();
  std::vector<std::unique_ptr<Port>> ports_;
  uint16_t burst_size_ = 32;
  bool sources_taken_ = false;
  bool eal_owner_ = false;  // a fully started context: cleans the EAL up
};

}  // namespace privateer
