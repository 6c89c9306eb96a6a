// The report plugin: per interval, one row per metric with its packets, IP
// bytes and unique source IPs, destination IPs and source ASNs, as
// corsaro3's report plugin writes them (Avro org.caida.corsaro.report, or
// the run's timeseries sinks with output_format: libtimeseries).
//
// Row rules (corsaro3's processing and IP tracker threads):
//  - IPv4 packets only; every other packet is ignored (not even "overall").
//  - A packet counts for: overall; traffic.protocol (its protocol);
//    traffic.icmp (ICMP: "type.T.code.C"); traffic.port.{tcp,udp}.{src_port,
//    dst_port} (TCP/UDP, ports 0 where the packet has none, within the
//    configured ranges); with a MaxMind tag provider geo.maxmind (source's
//    continent) and geo.maxmind.<continent> (its country), "??" unknown; with
//    a pfx2as tag provider routing.asn (origin AS, 0 included); and, only when
//    limitmetrics names `filter`, filter-criteria once per built-in filter
//    (ids abnormal-protocol .. not-ip) that matched.
//  - For each of its metrics a packet adds 1 packet, its IP length (header
//    field) as bytes, its source to the metric's source IPs and its origin AS
//    (non-zero only) to the source ASNs: the source half of the packet; the
//    destination half adds its destination to the destination IPs only.
//  - Zero rows: in an interval where a metric class counted any packet
//    (corsaro3's subtree mask), every protocol 0-255, every port of the
//    class's range, the 8 continent codes and each (continent, country) seen
//    earlier in the run get a row; "overall" always does. ICMP, ASN and
//    filter metrics get rows only when seen.
//  - Partial first/last intervals are not written unless report_partial: yes.
//  - Rows are in corsaro3's metric-id order (class, then value).
// Unique counts are exact (per-worker sets, deduplicated in the merge) or,
// with uniq: hll, HyperLogLog sketches (plugins/common/hll.hpp).
#pragma once

#include <yaml-cpp/yaml.h>

#include <bitset>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "plugins/common/avro_encode.hpp"
#include "plugins/plugin_api.hpp"
#include "plugins/registry.hpp"

namespace privateer {

namespace report_detail {
// corsaro3's metric classes (the high 32 bits of a metric id).
enum Class : uint32_t {
  kCombined = 0,
  kMaxmindContinent = 1,
  kMaxmindCountry = 2,
  kNetacqContinent = 3,
  kNetacqCountry = 4,
  kPrefixAsn = 5,
  kTcpSrcPort = 6,
  kTcpDstPort = 7,
  kUdpSrcPort = 8,
  kUdpDstPort = 9,
  kIpProtocol = 10,
  kIcmpTypeCode = 11,
  kNetacqRegion = 12,
  kNetacqPolygon = 13,
  kFilterCriteria = 14,
};
inline uint64_t metric_id(uint32_t cls, uint32_t value) { return (uint64_t{cls} << 32) | value; }
// metric_name and metric_value of a metric id.
std::string metric_name(uint64_t id);
std::string metric_value(uint64_t id);
}  // namespace report_detail

struct ReportRow {
  uint64_t metric = 0;
  uint64_t pkt_cnt = 0;
  uint64_t byte_cnt = 0;
  uint64_t src_ip_cnt = 0;
  uint64_t dest_ip_cnt = 0;
  uint64_t src_asn_cnt = 0;
};

// The ports of one port class that get metrics (corsaro3's
// {tcp,udp}_{source,dest}_port_range: a list of LOW-HIGH ranges and ports).
using PortSet = std::bitset<65536>;

struct ReportOptions {
  std::string label = "unlabeled";   // output_row_label
  uint64_t allowed = 0;              // limitmetrics as corsaro3's class bits; 0: all but filter-criteria
  PortSet ports[4];                  // tcp src, tcp dst, udp src, udp dst (default: all)
  bool timeseries = false;           // output_format: libtimeseries
  bool partial = false;              // report_partial
  bool hll = false;                  // uniq: hll
  bool maxmind = false;              // the run tags geolocation
  bool pfx2as = false;               // the run tags origin ASes
  bool allows(uint32_t cls) const {
    return allowed == 0 ? cls != report_detail::kFilterCriteria : (allowed >> cls) & 1;
  }
};

class ReportPlugin : public Plugin {
 public:
  ReportPlugin(const YAML::Node& options, const std::string& path, uint32_t interval_seconds,
               const PluginContext& context);
  const std::string& name() const override;
  std::vector<std::string> config_warnings() const override { return warnings_; }
  void set_task_runner(TaskRunner* runner) override { runner_ = runner; }
  void open_outputs(OutputProvider& out) override;
  std::unique_ptr<WorkerProcessor> make_worker(unsigned worker_id) override;
  MergeStats merge(const IntervalInfo& interval, std::vector<std::unique_ptr<IntervalResult>>& results) override;

  const ReportOptions& options() const { return opt_; }
  static const std::string& schema_json();

 private:
  // The metric ids that get a row even when no packet counted for them.
  void add_zero_rows(uint64_t seen_classes, std::vector<uint64_t>& ids) const;
  void write(const IntervalInfo& interval, const std::vector<ReportRow>& rows);

  ReportOptions opt_;
  std::vector<std::string> warnings_;
  std::set<uint32_t> countries_;   // (continent, country) values seen so far in the run
  AvroStream* stream_ = nullptr;
  TimeseriesWriter* ts_ = nullptr;
  TaskRunner* runner_ = nullptr;   // the control plane's, for the sort of the port pairs
  AvroEncoder enc_;
};

}  // namespace privateer
