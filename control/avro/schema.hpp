// An Avro schema (Avro 1.11 specification, "Schema Declaration") parsed from
// its JSON text by a small JSON parser of our own, for the reader
// (control/avro/reader.hpp): primitive types, records (and errors), enums,
// arrays, maps, unions, fixed, and references to named types by full name
// (namespaces resolved as the specification says). Attributes a reader does
// not need (doc, default, aliases, order, logicalType, ...) are skipped, so a
// logical type reads as its underlying type.
//
// Every type is a node of one vector; a node refers to others by index, so
// recursive types (a record reaching itself through a union, array or map)
// are plain cycles. A record that contains itself through record fields only
// could never end and is refused, as is JSON nested deeper than 100 levels.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace privateer {

enum class AvroKind : uint8_t {
  null, boolean, int32, int64, float32, float64, bytes, string,   // primitives
  fixed, enumeration, array, map, union_, record                 // complex
};

const char* kind_name(AvroKind k);

struct SchemaNode {
  AvroKind kind = AvroKind::null;
  uint32_t size = 0;               // fixed: its byte count
  uint32_t min_bytes = 0;          // the fewest bytes one value takes encoded
  std::string name;                // named types (record, enum, fixed): the full name
  std::vector<uint32_t> children;  // record: field types; union: branches; array, map: the item type
  std::vector<std::string> names;  // record: field names; enum: symbols
};

class SchemaError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class AvroSchema {
 public:
  // SchemaError naming what is wrong (and where in the JSON text, as a byte
  // offset, for JSON syntax errors).
  static AvroSchema parse(std::string_view json);

  const SchemaNode& node(uint32_t i) const { return nodes_[i]; }
  size_t size() const { return nodes_.size(); }
  uint32_t root() const { return root_; }
  const SchemaNode& root_node() const { return nodes_[root_]; }

 private:
  friend class SchemaBuilder;
  std::vector<SchemaNode> nodes_;
  uint32_t root_ = 0;
};

}  // namespace privateer
