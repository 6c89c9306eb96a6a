// What can be saved of an Avro container file that was never closed (a
// `.tmp` left by a SIGKILL, a power loss, a full disk): the header, then
// every block up to the last one that is whole. A block is kept when its
// record count and size are in range, its data decompresses under the
// file's codec (snappy's CRC checked), every one of its records decodes
// against the file's schema using exactly the block's bytes, and the sync
// marker after it matches the header's. The first block that fails any of
// these ends what is kept, even if later bytes would parse: the file is read
// with privateer-read's reader (control/avro/reader.hpp), nothing of its own.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "control/avro/done.hpp"
#include "control/avro/reader.hpp"

namespace privateer {

struct SalvageScan {
  bool header_ok = false;     // false: nothing can be saved (`why` says what is wrong)
  std::vector<std::pair<std::string, std::string>> metadata;   // the header's, avro.schema included
  uint64_t header_bytes = 0;
  uint64_t kept_bytes = 0;    // bytes [0, kept_bytes) are the header and the blocks kept
  uint64_t blocks = 0;        // blocks kept
  uint64_t records = 0;       // records in them
  uint64_t input_bytes = 0;   // bytes of the input read in all
  bool whole = false;         // the input ends right after the last block kept
  uint64_t damage_offset = 0; // where the first problem is (when !whole)
  std::string why;            // what it is
  // Records of the blocks kept per value of a top-level int or long field
  // named "time" (flowtuple's interval start), in file order, each interval
  // `interval_seconds` long (from privateer.interval_seconds); empty when
  // the schema has no such field. The last is marked partial: records after
  // the cut may belong to it.
  std::vector<DoneInterval> intervals;

  // The header's value for `key`, "" when absent.
  std::string meta(const std::string& key) const;
};

// Reads the whole input through `read` (it is read to its end even past the
// damage, so input_bytes is the input's size). Never throws for bad input;
// exceptions from `read` itself pass through.
// `max_block_bytes`: the reader's limit on a block, compressed or not.
SalvageScan salvage_scan(const AvroReadFn& read, size_t max_block_bytes = AvroContainerReader::kDefaultMaxBlock);

}  // namespace privateer
