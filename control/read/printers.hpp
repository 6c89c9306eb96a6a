// privateer-read's output formats, each a Printer fed the decoded records
// of one file after another:
//   text      one line per record, field=value pairs (logfmt), addresses as
//             IP text (control/read/records.cpp)
//   json      one JSON object per record (JSON lines; control/read/records.cpp)
//   ft2ascii  corsaro3's corsavro_ft2ascii.py format for flowtuple files
//             (control/read/ft2ascii.cpp)
//   summary   per interval: records, packets, bytes, top sources and
//             destination ports (control/read/summary.cpp)
#pragma once

#include <memory>
#include <string>

#include "control/avro/codec.hpp"
#include "control/avro/reader.hpp"
#include "control/read/out.hpp"

namespace privateer::read {

class Printer {
 public:
  virtual ~Printer() = default;
  // A file starts; `dec` stays valid until end_file().
  virtual void begin_file(const std::string& path, AvroCodec codec, const RecordDecoder& dec) = 0;
  // One record: dec.fields() values.
  virtual void record(const AvroValue* values) = 0;
  // The file ended (cleanly or at damage): what it owes is written.
  virtual void end_file() = 0;
  // No more files.
  virtual void finish() {}
};

std::unique_ptr<Printer> make_text_printer(Out& out);
std::unique_ptr<Printer> make_json_printer(Out& out);
std::unique_ptr<Printer> make_ft2ascii_printer(Out& out);
std::unique_ptr<Printer> make_summary_printer(Out& out);

// Records of org.caida.corsaro.flowtuple with the integer fields that
// corsavro_ft2ascii.py prints.
bool is_flowtuple(const RecordDecoder& dec);

// Writes the value `v` of field `name` as text (`json`: as JSON).
void put_value(Out& out, const RecordDecoder& dec, const AvroValue& v, bool json, bool address);

}  // namespace privateer::read
