// libFuzzer harness for privateer-read's parser of outside input: the Avro
// container reader (header, metadata, blocks, every codec's decompressor),
// the schema JSON parser, the record decoder and every output format.
// Built and run by scripts/fuzz.sh (clang++ -fsanitize=fuzzer,address,undefined).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "control/avro/reader.hpp"
#include "control/read/printers.hpp"

using namespace privateer;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  size_t pos = 0;
  read::Out out(nullptr);
  auto text = read::make_text_printer(out), json = read::make_json_printer(out), ft = read::make_ft2ascii_printer(out),
       sum = read::make_summary_printer(out);
  try {
    // A small block limit keeps decompression bombs within the fuzzer's memory.
    AvroContainerReader r(
        [&](uint8_t* buf, size_t n) {
          const size_t k = std::min(n, size - pos);
          if (k) std::memcpy(buf, data + pos, k);
          pos += k;
          return k;
        },
        size_t{16} << 20);
    RecordDecoder dec(r.schema());
    std::vector<read::Printer*> printers = {text.get(), json.get(), sum.get()};
    if (read::is_flowtuple(dec)) printers.push_back(ft.get());
    for (auto* p : printers) p->begin_file("fuzz", r.codec(), dec);
    std::vector<AvroValue> v(dec.fields());
    AvroBlock b;
    bool ok = true;
    while (ok && r.next_block(b)) {
      const uint8_t* at = b.data;
      for (int64_t i = 0; i < b.records; ++i) {
        if (!(at = dec.decode(at, b.data + b.size, v.data()))) {
          ok = false;
          break;
        }
        for (auto* p : printers) p->record(v.data());
        out.maybe_flush();
      }
    }
    for (auto* p : printers) p->end_file();
  } catch (const AvroReadError&) {
  }
  ft->finish();
  return 0;
}
