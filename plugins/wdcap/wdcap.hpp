// The `wdcap` plugin (corsarowdcap's job inside the pipeline): every packet
// it is fed (after the run's removals and its own `filter:`) goes to the
// packet stream "wdcap" (plugins/packet_output.hpp), which the control plane
// writes as pcap or pcapng files, one per rotation period, in timestamp
// order across the workers. On the worker a packet is only cut to
// `snaplen`, stripped of its VLAN tags (`stripvlans`) and, for ERF input,
// turned into the Ethernet or raw IP frame it carries without its FCS, then
// copied into the worker's ring. Options: see README.md ("wdcap").
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "plugins/plugin_api.hpp"

namespace privateer {

struct WdcapOptions {
  PacketStreamOptions out;
  bool strip_vlans = false;
  uint32_t erf_fcs = 4;   // bytes of FCS at the end of an ERF Ethernet record
};

// Throws ConfigError naming the key.
WdcapOptions parse_wdcap_options(const YAML::Node& options, const std::string& path);

// What wdcap writes of a packet (`d`: its captured bytes): `head`, then
// `tail` (the bytes after the VLAN tags it strips), both inside the
// captured bytes, cut to snaplen; the lengths and link type to write.
struct WdcapFrame {
  const uint8_t* head;
  uint32_t head_len;
  const uint8_t* tail;
  uint32_t tail_len;
  uint32_t wirelen;
  uint16_t linktype;
};
WdcapFrame wdcap_frame(const WdcapOptions& o, const PacketView& v, const uint8_t* d);

class WdcapPlugin : public Plugin {
 public:
  WdcapPlugin(const YAML::Node& options, const std::string& path, uint32_t interval_seconds);
  const std::string& name() const override;
  void open_outputs(OutputProvider& out) override;
  std::unique_ptr<WorkerProcessor> make_worker(unsigned worker_id) override;
  MergeStats merge(const IntervalInfo& interval, std::vector<std::unique_ptr<IntervalResult>>& results) override;

 private:
  WdcapOptions o_;
  uint32_t interval_;
  PacketStream* stream_ = nullptr;
};

}  // namespace privateer
