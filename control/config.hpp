// The run configuration: a corsarotrace-compatible YAML file plus Privateer's
// own sections. Every error is a ConfigError naming the dotted key and its
// line (plugins/common/options.hpp).
//
// corsarotrace keys, of every corsarotrace version (same meaning and
// defaults unless noted):
//   packetsource     libtrace URI, or a YAML list of URIs read one after the other (required)
//   inputuri         older corsarotrace's name of packetsource (every inputuri line one
//                    more URI); an error together with packetsource
//   outtemplate      output file name template, see control/naming.hpp (required; %N
//                    needs monitorid). ".avro" is appended as corsaro3 does (not when the
//                    name already ends in it); a template without %P or without a time
//                    conversion is taken with a warning, and FileNamer keeps the names apart;
//                    one giving names longer than kMaxPathBytes (4095) is refused
//   monitorid        fills %N
//   logfilename      log file, used when logging to a file
//   interval         seconds per interval (default 60)
//   rotatefreq       intervals per output file (default 4, as corsarotrace; 0: one
//                    file for the whole run)
//   threads          worker threads, 1..64 (default 1; corsarotrace's default differed
//                    between its versions, 2 or 4)
//   startboundaryts  unix seconds; packets before it are skipped (0 / absent: none)
//   endboundaryts    unix seconds; the run stops at the first packet at or after it
//                    (0 / absent: none)
//   removespoofed    yes: drop packets tagged spoofed before the plugins (default no)
//   removeerratic    yes: drop packets tagged erratic (spoofed ones are erratic too)
//   removerouted     yes: drop packets from routable sources, keeping only RFC 5735
//                    ones (corsarotrace's meaning: its "routed" tag marks RFC 5735)
//   removenotscan    yes: keep only packets tagged large-scale-scan
//   tagging          older corsarotrace's switch (default yes): no leaves the built-in
//                    filters uncomputed (flowtuple's is_spoofed/is_masscan 0) and is an
//                    error together with a remove* option set to yes
//                    (cfg.tags; dataplane/filters.hpp has every filter)
//   promisc          yes: a warning for trace files and DPDK, refused for libtrace live inputs
//   tagproviders     corsarotagger's list of one-key maps (control/tagging.hpp reads the files):
//                      - pfx2as: {prefixfile: FILE}   CAIDA pfx2as (IPv4 and IPv6 lines), plain or gzip
//                      - maxmind: {directory: DIR}    a directory holding a GeoIP2/GeoLite2 Country or
//                                                     City .mmdb, or the .mmdb file itself
//                    refused: netacq-edge (commercial data), maxmind's blocksfile/locationsfile
//                    (libipmeta's CSV format)
//   libtimeseriesbackends  the timeseries sinks (control/sinks/sink_config.hpp): ascii
//                    {file, compress} and kafka {brokeruri, channelname, compresscodec,
//                    topicprefix} as corsarotrace, our graphite {host, port} and influxdb
//                    {url, database, measurement}; dbats refused (not packaged)
//   plugins          list; each item a plugin name or a one-key map name -> options (required);
//                    corsaro3's dos, report, filteringstats: refused while not built.
//                    Every plugin takes `filter: NAME` (a custom filter, see filters):
//                    it sees only the packets that filter matches (PluginSpec::filter)
//   filter           BPF expression applied to all input: packets it does not match are
//                    dropped before anything else ("" : none). basicfilter: older
//                    corsarotrace's name of it (not both)
// Accepted and ignored, each adding one line to Config::warnings: controlsocketname,
// subqueuename, tagsock, inputhwm, statfilename, outputmode, compressmethod,
// compresslevel, mergeoutput. Refused, as ignoring them would change results:
// filterfile, a libtimeseriesbackends dbats backend. Any other unknown key
// is an error naming the closest known key (closest_key in plugins/common/options.hpp).
//
// Privateer's own keys:
//   prometheus: {enabled: yes, listen: "127.0.0.1:9761"}
//   output: {avro_codec: deflate|snappy|zstandard|null, deflate_level: 0..3,
//            zstd_level: 1..22, avro_block_size: bytes, threads: N}
//            (a YAML null, `avro_codec: null` unquoted, is the null codec; any
//            codec but deflate adds a warning: pyavro-stardust reads only deflate)
//   progress: auto|yes|no
//   ring_size: per-worker ring slots (batches in flight), a power of two
//   max_gap_intervals: a forward time jump over more intervals than this is not
//                      filled with empty intervals (default 1440)
//   dpdk: {eal: [...], ports: [{device, rx_queues, rx_descriptors, promiscuous, mtu}],
//          mbuf_pool_size, burst_size}   with packetsource: dpdk
//   user: NAME      switch to this unprivileged user once the ports and the
//                   metrics endpoint are up
//   live_lateness: seconds after an interval's end at which an idle live
//                  source closes it (default 10)
//   log: {level: debug|info|warning|error}
//   filters: {NAME: "bpf expression", ...}
//                   custom filters, at most 64, in file order: filter i sets bit i of
//                   PacketView::custom_bits; NAME of a-z 0-9 _ -, not one of corsaro3's
//                   built-in filters' names. Compiled by build_tag_tables (control/tagging.hpp)
//   remove: [NAME, ...]
//                   custom filters whose matching packets no plugin sees (tags.remove_custom)
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "control/avro/container.hpp"
#include "control/log.hpp"
#include "control/sinks/sink_config.hpp"
#include "dataplane/flow_table.hpp"
#include "dataplane/tags.hpp"
#include "plugins/common/options.hpp"

namespace privateer {

struct PluginSpec {
  std::string name;      // as in plugins/registry.hpp (canonical spelling)
  YAML::Node options;    // the plugin's option map; an empty map when none given
  std::string path;      // dotted key prefix for the plugin's errors: "plugins.flowtuple"
  int line = 0;          // line of the plugin's item in the file
  // `filter: NAME` among the options (taken out of `options`): the plugin
  // sees only the packets that filter matches, coded as in
  // RuntimeOptions::plugin_filters; -1: every packet.
  int filter = -1;
};

enum class ProgressMode { auto_detect, yes, no };

struct Config {
  // corsarotrace keys
  std::vector<std::string> packetsources;   // at least one, in reading order
  std::string outtemplate;
  std::string monitorid;                    // "" when not set
  std::string logfilename;                  // "" when not set
  uint32_t interval = 60;                   // seconds, >= 1
  uint32_t rotatefreq = 4;                  // intervals per output file; 0: never rotate
  unsigned threads = 1;                     // 1..64
  uint64_t startboundaryts = 0;             // 0: none
  uint64_t endboundaryts = 0;               // 0: none; else > startboundaryts

  // Privateer's own
  struct Prometheus {
    bool enabled = true;
    std::string listen = "127.0.0.1:9761";  // host:port or [v6]:port; port 0: any free port
    int listen_line = 0;                    // line of `listen`, 0 when not given
  } prometheus;
  AvroOutputSettings output;                // codec, levels, block size, output threads
  FlowSettings flows;                       // the workers' flow tables (dataplane/flow_table.hpp)
  ProgressMode progress = ProgressMode::auto_detect;
  uint32_t ring_size = 16;                  // power of two, 2..65536
  uint32_t max_gap_intervals = 1440;        // 0: never fill a gap
  uint32_t live_lateness = 10;              // seconds: on an idle live source an interval
                                            // closes this long after its end
  LogLevel log_level = LogLevel::info;
  std::string user;                         // drop to this user once capture is set up ("": stay)
  // packetsource: dpdk reads the NIC queues of these ports, one polling
  // worker per queue set (queue q of all ports goes to worker q % threads).
  struct Dpdk {
    bool enabled = false;
    std::vector<std::string> eal;           // EAL arguments (cores, memory, --no-huge, --vdev, -a PCI ...)
    struct Port {
      std::string device;                   // PCI address or vdev name
      uint32_t rx_queues = 1;
      uint32_t rx_descriptors = 1024;
      bool promiscuous = true;
      uint32_t mtu = 0;                     // 0: leave as is
    };
    std::vector<Port> ports;
    uint32_t mbuf_pool_size = 0;            // 0: sized from descriptors x queues
    uint32_t burst_size = 32;
  } dpdk;

  // Tagging (dataplane/tags.hpp; tables built by control/tagging.hpp)
  TagSettings tags;                         // filters computed and packets removed
  struct TagProviders {
    std::string pfx2as;                     // tagproviders.pfx2as.prefixfile ("" : none)
    int pfx2as_line = 0;
    std::string maxmind;                    // tagproviders.maxmind.directory: mmdb file, or a
    int maxmind_line = 0;                   //   directory holding one ("": none)
  } tagproviders;
  struct CustomFilter {
    std::string name;                       // bit i of custom_bits is filters[i]
    std::string expression;                 // BPF syntax
    int line = 0;
  };
  std::vector<CustomFilter> filters;        // in file order; names in tags.custom_names
  // corsarotrace's `filter` (older `basicfilter`): a BPF expression applied
  // to all input, packets it does not match dropped before anything else.
  struct InputFilter {
    std::string key;                        // "filter" or "basicfilter"; "" : none
    std::string expression;
    int line = 0;
  } input_filter;

  std::vector<TimeseriesBackendSpec> timeseries;   // libtimeseriesbackends, in file order
  std::vector<PluginSpec> plugins;          // at least one, no name twice, in file order
  std::vector<std::string> warnings;        // one line each: ignored keys, name keeping, codec;
                                            // logged at start, printed by --check-config
  std::string source_path;                  // the file load_config read; "" for parse_config
  std::map<std::string, int> key_lines;     // line of each top-level key in the file (for
                                            // errors found after parsing: control/preflight)
};

// Reads and checks a config file. Throws ConfigError: key "(file)" when the
// file cannot be read or is not valid YAML (with the parser's line).
Config load_config(const std::string& path);
// The same from YAML text.
Config parse_config(const std::string& yaml_text);

}  // namespace privateer
