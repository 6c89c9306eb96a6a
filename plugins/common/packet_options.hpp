// The options of a plugin that writes packet files (wdcap, pcapextract):
// corsarowdcap's names for the file format, compression and snap length,
// parsed into PacketStreamOptions (plugins/packet_output.hpp).
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "plugins/packet_output.hpp"

namespace privateer {

// The keys parse_packet_stream_options reads, for reject_unknown_keys.
const std::vector<std::string>& packet_stream_option_keys();

// fileformat, nanoseconds, compressmethod, compresslevel, snaplen,
// buffer_mib, writestats of `options` (a mapping) into `o`. Throws
// ConfigError naming the key.
void parse_packet_stream_options(const YAML::Node& options, const std::string& path, PacketStreamOptions& o);

}  // namespace privateer
