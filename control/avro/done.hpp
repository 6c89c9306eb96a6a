// The `.done` marker beside a published output file: one line of JSON
// describing what the file holds. Privateer writes it when it closes a file
// (control/outputs.cpp); privateer-recover writes one for a file it salvaged
// from a `.tmp` (control/recover/), with `salvaged` and what was lost.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "plugins/common/json.hpp"

namespace privateer {

struct DoneInterval {
  uint64_t start = 0;
  uint64_t end = 0;
  bool partial = false;
  uint64_t records = 0;
};

// What privateer-recover adds.
struct DoneSalvage {
  std::string source;          // the .tmp it was salvaged from
  uint64_t blocks = 0;         // complete blocks kept
  uint64_t bytes_kept = 0;
  uint64_t bytes_dropped = 0;  // of the .tmp, after the last complete block
  std::string lost;            // what was lost, in words ("" when nothing)
};

struct DoneInfo {
  std::optional<std::string> stream;   // absent where unknown (a salvaged file without privateer.stream)
  std::string monitorid;
  uint64_t interval_seconds = 0;
  uint64_t records = 0;
  std::vector<DoneInterval> intervals;
  std::optional<DoneSalvage> salvage;
};

// The marker's text, one JSON object and a newline:
// {"stream":...,"monitorid":...,"interval_seconds":...,"records":...,"intervals":[...]}
// then, for a salvaged file, "salvaged":true,"source":...,"blocks":...,
// "bytes_kept":...,"bytes_dropped":...,"lost":...
std::string done_json(const DoneInfo& d);

}  // namespace privateer
