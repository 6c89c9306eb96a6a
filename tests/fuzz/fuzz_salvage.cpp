// libFuzzer harness for privateer-recover's scan (control/avro/salvage.hpp):
// privateer-read's container reader and record decoder (fuzzed on their own
// by fuzz_avro_reader.cpp) plus the salvage logic on top. Besides not
// crashing, it checks what recover relies on: the bytes kept are a prefix of
// the input that scans again as a whole file with the same blocks, records
// and intervals.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "control/avro/salvage.hpp"

using namespace privateer;

namespace {

SalvageScan scan(const uint8_t* data, size_t size) {
  size_t pos = 0;
  // A small block limit keeps decompression bombs within the fuzzer's memory.
  return salvage_scan(
      [&](uint8_t* buf, size_t n) {
        const size_t k = std::min(n, size - pos);
        if (k) std::memcpy(buf, data + pos, k);
        pos += k;
        return k;
      },
      size_t{16} << 20);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const SalvageScan s = scan(data, size);
  if (s.input_bytes != size) std::abort();
  if (!s.header_ok) return 0;
  if (s.kept_bytes < s.header_bytes || s.kept_bytes > size) std::abort();
  if (s.whole != (s.kept_bytes == size && s.why.empty())) std::abort();
  const SalvageScan again = scan(data, static_cast<size_t>(s.kept_bytes));
  if (!again.header_ok || !again.whole || again.blocks != s.blocks || again.records != s.records ||
      again.intervals.size() != s.intervals.size()) {
    std::abort();
  }
  for (size_t i = 0; i < s.intervals.size(); ++i) {
    if (again.intervals[i].start != s.intervals[i].start || again.intervals[i].records != s.intervals[i].records) {
      std::abort();
    }
  }
  return 0;
}
