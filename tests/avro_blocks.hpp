// The block framing of an Avro container file, from our own walk of it
// (header, then count, size, data, sync marker per block): for tests that
// cut or damage files at block boundaries.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "plugins/common/avro_encode.hpp"

namespace privateer::test {

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
