#include "plugins/common/packet_options.hpp"

#include "plugins/common/options.hpp"

namespace privateer {

const std::vector<std::string>& packet_stream_option_keys() {
  static const std::vector<std::string> k{"fileformat", "nanoseconds", "compressmethod", "compresslevel",
                                          "snaplen",    "buffer_mib",  "writestats"};
  return k;
}

void parse_packet_stream_options(const YAML::Node& options, const std::string& p, PacketStreamOptions& o) {
  if (const auto f = get_opt<std::string>(options, p, "fileformat")) {
    if (*f == "pcap" || *f == "pcapfile") {
      o.format = PacketFormat::pcap;
    } else if (*f == "pcapng") {
      o.format = PacketFormat::pcapng;
    } else {
      throw ConfigError(join_key(p, "fileformat"), yaml_line(options["fileformat"]),
                        "'" + *f + "': give pcap (or corsarowdcap's pcapfile) or pcapng; other formats are not built");
    }
  }
  o.nanoseconds = get_onoff(options, p, "nanoseconds").value_or(false);
  if (const auto c = get_opt<std::string>(options, p, "compressmethod")) {
    if (*c == "none") {
      o.compression = PacketCompression::none;
    } else if (*c == "gzip" || *c == "gz") {
      o.compression = PacketCompression::gzip;
    } else if (*c == "zstd") {
      o.compression = PacketCompression::zstd;
    } else {
      const bool known = *c == "lz4" || *c == "bzip2" || *c == "bz2" || *c == "xz" || *c == "lzma";
      throw ConfigError(join_key(p, "compressmethod"), yaml_line(options["compressmethod"]),
                        "'" + *c + (known ? "' is not built here" : "' is not a compression method") +
                            ": give none, gzip or zstd");
    }
  }
  if (const auto l = get_opt<uint32_t>(options, p, "compresslevel")) {
    const uint32_t top = o.compression == PacketCompression::zstd ? 19 : 9;
    if (o.compression == PacketCompression::none) {
      throw ConfigError(join_key(p, "compresslevel"), yaml_line(options["compresslevel"]),
                        "needs compressmethod gzip or zstd");
    }
    if (*l < 1 || *l > top) {
      throw ConfigError(join_key(p, "compresslevel"), yaml_line(options["compresslevel"]),
                        "must be 1.." + std::to_string(top));
    }
    o.level = static_cast<int>(*l);
  }
  if (const auto s = get_opt<uint32_t>(options, p, "snaplen")) {
    if (*s < 1 || *s > 262144) throw ConfigError(join_key(p, "snaplen"), yaml_line(options["snaplen"]), "must be 1..262144");
    o.snaplen = *s;
  }
  if (const auto b = get_opt<uint32_t>(options, p, "buffer_mib")) {
    if (*b < 1 || *b > 4096) throw ConfigError(join_key(p, "buffer_mib"), yaml_line(options["buffer_mib"]), "must be 1..4096");
    o.buffer_bytes = static_cast<size_t>(*b) << 20;
  }
  o.write_stats = get_onoff(options, p, "writestats").value_or(true);
}

}  // namespace privateer
