// The `pcapextract` plugin (Tranalyzer2's pcapd with liveXtr's ring): the
// packets of alarmed flows to pcap/pcapng files (the packet stream
// "pcapextract", one file per rotation period). A flow is alarmed when any
// plugin raised an alarm on it (regex rules marked `alarm`, ...) or, with
// `trigger_filter: NAME`, when one of its packets matches the custom filter
// NAME (reason "filter"), or, with `flows_file: FILE`, when it is one of
// the file's flows (reason "list", raised at its first packet). Each worker keeps the recent packets of every flow
// in a ring of bounded memory (`pretrigger_mib`); when a flow is first seen
// alarmed, its last `pretrigger_packets` packets (no older than
// `pretrigger_seconds`, where set) still in the ring are written before the
// packet that found the alarm, then every later packet of the flow.
// `direction` keeps both directions, or only the flow's first sender's
// (`forward`) or the other (`backward`); `select: not_alarmed` writes the
// packets of flows not alarmed (when they pass) instead (pcapd's inverted
// mode). `files: per_flow` gives each extracted flow its own file (the
// worker tags each packet with a flow id and sends the flow's key first;
// control/pcap routes them, at most `max_open_files` open). Options: see
// README.md ("pcapextract").
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "plugins/pcapextract/flow_list.hpp"
#include "plugins/plugin_api.hpp"

namespace privateer {

struct PcapExtractOptions {
  PacketStreamOptions out;
  enum class Direction : uint8_t { both, forward, backward } direction = Direction::both;
  bool not_alarmed = false;
  int trigger_filter = -1;            // custom filter bit; -1: none
  uint32_t pretrigger_packets = 0;    // per flow
  uint32_t pretrigger_seconds = 0;    // 0: no age limit
  size_t pretrigger_bytes = 16u << 20;   // per worker ring
  FlowList flows;                     // flows_file; empty: none
};

class PcapExtractPlugin : public Plugin {
 public:
  // `filters`: the run's custom filter names (bit i named filters[i]).
  PcapExtractPlugin(const YAML::Node& options, const std::string& path, const std::vector<std::string>& filters,
                    uint32_t interval_seconds);
  const std::string& name() const override;
  std::vector<std::string> alarm_reasons() const override;
  bool wants_flows() const override { return true; }
  void open_outputs(OutputProvider& out) override;
  std::unique_ptr<WorkerProcessor> make_worker(unsigned worker_id) override;
  MergeStats merge(const IntervalInfo& interval, std::vector<std::unique_ptr<IntervalResult>>& results) override;

 private:
  PcapExtractOptions o_;
  uint32_t interval_;
  int filter_reason_ = -1, list_reason_ = -1;   // in alarm_reasons(); -1: not raised
  PacketStream* stream_ = nullptr;
};

}  // namespace privateer
