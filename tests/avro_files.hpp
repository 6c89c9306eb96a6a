// Avro container files for the writer and reader tests: writing flowtuple
// records through our writer, and the block framing of a file from our own
// walk of it (header, then count, size, data, sync marker per block), for
// tests that cut or damage files at block boundaries.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "control/avro/container.hpp"
#include "plugins/common/avro_encode.hpp"
#include "plugins/flowtuple/flowtuple.hpp"

namespace privateer::test {

// Opens `path` with `metadata`, appends `recs` (flowtuple records, IPv4 or
// IPv6) and closes it (published).
template <class Rec>
void write_records(AvroContainerFile& f, const std::filesystem::path& path, const std::vector<Rec>& recs,
                   const AvroMetadata& metadata) {
  f.open(path.string(), metadata);
  AvroEncoder e;
  for (const auto& r : recs) {
    e.clear();
    FlowtuplePlugin::encode(r, e);
    f.append_encoded(e.data(), e.size());
  }
  f.close("{}\n");
}

struct AvroBlocks {
  std::vector<size_t> start;      // file offset of each block's record count
  std::vector<size_t> data_end;   // the end of its data (its sync marker follows)
  std::vector<int64_t> records;   // its record count
};

inline AvroBlocks avro_blocks(const std::string& file) {
  AvroDecoder d(file.data(), file.size());
  d.get_fixed(4);
  for (int64_t n = d.get_long(); n != 0; n = d.get_long()) {
    for (int64_t i = 0; i < (n < 0 ? -n : n); ++i) {
      d.get_bytes();
      d.get_bytes();
    }
  }
  d.get_fixed(16);
  AvroBlocks b;
  while (!d.at_end()) {
    b.start.push_back(file.size() - d.remaining());
    b.records.push_back(d.get_long());
    d.get_fixed(static_cast<size_t>(d.get_long()));
    b.data_end.push_back(file.size() - d.remaining());
    d.get_fixed(16);
  }
  return b;
}

}  // namespace privateer::test
