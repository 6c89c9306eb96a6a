// The Avro container block codecs, by name: what the config's
// output.avro_codec and a plugin's own codec option (flowtuple's
// `avrooutput`) name. control/avro/codec.hpp compresses with them.
#pragma once

#include <optional>
#include <string_view>

namespace privateer {

enum class AvroCodec { null, deflate, snappy, zstandard };

// "null", "deflate", "snappy", "zstandard" (also "zstd"); nullopt otherwise.
inline std::optional<AvroCodec> parse_codec(std::string_view name) {
  if (name == "null") return AvroCodec::null;
  if (name == "deflate") return AvroCodec::deflate;
  if (name == "snappy") return AvroCodec::snappy;
  if (name == "zstandard" || name == "zstd") return AvroCodec::zstandard;
  return std::nullopt;
}

}  // namespace privateer
