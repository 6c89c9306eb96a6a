// Reading Avro object container files (Avro 1.11 specification, "Object
// Container Files"), whoever wrote them: the header (magic "Obj\1", the
// metadata map with avro.schema and avro.codec, the 16-byte sync marker),
// then blocks of (record count, byte size, data, sync marker), each block's
// data decompressed (control/avro/decompress.hpp) and its records decoded
// against the file's own schema (control/avro/schema.hpp).
//
// Damage never crashes it nor makes it loop: every length and count is
// checked against the bytes left before anything is allocated or repeated,
// and the first problem ends the file with an AvroReadError giving the byte
// offset and why. Records are handed out block by block as they decode, so
// everything before the damage is read; a block is the unit of integrity (a
// block cut short, failing to decompress or to check is lost as a whole;
// in a block that decompresses, records before a bad one are kept).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "control/avro/codec.hpp"
#include "control/avro/decompress.hpp"
#include "control/avro/schema.hpp"

namespace privateer {

class AvroReadError : public std::runtime_error {
 public:
  enum class Kind {
    unreadable,   // not an Avro container file, an unsupported codec, a read error
    damaged,      // cut short or corrupt after a valid magic
  };
  AvroReadError(Kind k, uint64_t offset, const std::string& why)
      : std::runtime_error(why), kind(k), offset(offset) {}
  Kind kind;
  uint64_t offset;   // where in the file the problem is
};

// Reads up to n bytes into buf; 0 at the end of the input. May throw.
using AvroReadFn = std::function<size_t(uint8_t* buf, size_t n)>;

// One block, decompressed.
struct AvroBlock {
  uint64_t index = 0;         // 0 for the first block of the file
  uint64_t offset = 0;        // file offset of its record count
  uint64_t data_offset = 0;   // file offset of its (compressed) data
  uint64_t end = 0;           // file offset after its data, where its sync marker starts
  int64_t records = 0;
  const uint8_t* data = nullptr;   // the uncompressed records, valid until the next next_block()
  size_t size = 0;
};

class AvroContainerReader {
 public:
  static constexpr size_t kDefaultMaxBlock = size_t{1} << 30;   // 1 GiB, compressed or not

  // Reads the header through `read`. AvroReadError (unreadable: no Avro
  // magic, an unsupported codec; damaged: anything else).
  explicit AvroContainerReader(AvroReadFn read, size_t max_block_bytes = kDefaultMaxBlock);

  const AvroSchema& schema() const { return schema_; }
  const std::string& schema_json() const { return schema_json_; }
  AvroCodec codec() const { return codec_; }
  const std::vector<std::pair<std::string, std::string>>& metadata() const { return meta_; }
  // Bytes of the header (magic, metadata, sync marker): the first block's offset.
  uint64_t header_size() const { return header_size_; }

  // Checks the previous block's sync marker, then reads the next block.
  // false at a clean end of the file; AvroReadError(damaged) otherwise.
  bool next_block(AvroBlock& b);

 private:
  [[noreturn]] void damaged(uint64_t offset, const std::string& why) const;
  bool fill(size_t need);   // at least `need` bytes at pos_ unless the input ends first
  uint64_t offset() const { return base_ + pos_; }
  int64_t read_long(const char* what);
  std::string read_bytes(const char* what);

  AvroReadFn read_;
  size_t max_block_;
  std::vector<uint8_t> buf_;
  size_t pos_ = 0, end_ = 0;   // unread bytes: buf_[pos_, end_)
  uint64_t base_ = 0;          // file offset of buf_[0]
  bool eof_ = false;
  AvroSchema schema_;
  std::string schema_json_;
  AvroCodec codec_ = AvroCodec::null;
  std::vector<std::pair<std::string, std::string>> meta_;
  uint8_t sync_[16] = {};
  uint64_t header_size_ = 0;
  bool sync_pending_ = false;   // a block was handed out; its sync marker is next
  uint64_t blocks_ = 0;
  BlockDecompressor decompressor_;
  std::vector<uint8_t> plain_;
};

// A decoded value: a scalar's contents, or where a complex value's encoding is.
struct AvroValue {
  uint32_t node = 0;                  // its schema node (a union's chosen branch)
  AvroKind kind = AvroKind::null;
  int64_t i = 0;                      // boolean (0, 1), int, long, enum symbol index
  double d = 0;                       // float, double
  const uint8_t* p = nullptr;         // bytes, string, fixed: the contents;
  size_t n = 0;                       // array, map, record: its encoding
};

// Why decoding stopped, and where.
struct AvroDecodeError {
  const char* why = nullptr;
  const uint8_t* at = nullptr;
  const uint8_t* fail(const char* w, const uint8_t* a) {
    why = w;
    at = a;
    return nullptr;
  }
};

namespace avro_detail {

constexpr int kMaxDepth = 100;
// Array or map items that take no bytes (nulls, empty records): at most this
// many per value, so a corrupt count cannot make output without end.
constexpr uint64_t kMaxEmptyItems = uint64_t{1} << 24;

// A zigzag varint long; nullptr (and err) when cut short or longer than 10 bytes.
inline const uint8_t* read_long(const uint8_t* p, const uint8_t* end, int64_t& v, AvroDecodeError& err) {
  const uint8_t* start = p;
  uint64_t u = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    if (p == end) return err.fail("data ends inside a number", start);
    const uint8_t b = *p++;
    u |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      if (shift == 63 && b > 1) break;
      v = static_cast<int64_t>(u >> 1) ^ -static_cast<int64_t>(u & 1);
      return p;
    }
  }
  return err.fail("number longer than a 64-bit varint", start);
}

// A primitive, fixed or enum value of node `ni` at p into `out`.
const uint8_t* read_scalar(const SchemaNode& n, uint32_t ni, const uint8_t* p, const uint8_t* end, AvroValue& out,
                           AvroDecodeError& err);

// A length (of bytes, a string, a block of items) checked against what is left.
inline const uint8_t* read_length(const uint8_t* p, const uint8_t* end, int64_t& len, AvroDecodeError& err) {
  const uint8_t* start = p;
  if (!(p = read_long(p, end, len, err))) return nullptr;
  if (len < 0) return err.fail("negative length", start);
  if (static_cast<uint64_t>(len) > static_cast<uint64_t>(end - p)) return err.fail("length past the end of the data", start);
  return p;
}

// Visits (and checks) the value of node `ni` encoded at p: V gets scalar(),
// begin_record/field/end_record, begin_array/item/end_array,
// begin_map/key/end_map (a union is its branch's value).
template <class V>
const uint8_t* walk(const AvroSchema& s, uint32_t ni, const uint8_t* p, const uint8_t* end, int depth, V& v,
                    AvroDecodeError& err) {
  if (depth > kMaxDepth) return err.fail("values nested deeper than 100 levels", p);
  const SchemaNode& n = s.node(ni);
  switch (n.kind) {
    case AvroKind::union_: {
      const uint8_t* at = p;
      int64_t b;
      if (!(p = read_long(p, end, b, err))) return nullptr;
      if (b < 0 || static_cast<uint64_t>(b) >= n.children.size()) return err.fail("union branch index out of range", at);
      return walk(s, n.children[static_cast<size_t>(b)], p, end, depth + 1, v, err);
    }
    case AvroKind::record:
      v.begin_record(n);
      for (size_t k = 0; k < n.children.size(); ++k) {
        v.field(k, n.names[k]);
        if (!(p = walk(s, n.children[k], p, end, depth + 1, v, err))) return nullptr;
      }
      v.end_record();
      return p;
    case AvroKind::array:
    case AvroKind::map: {
      const bool is_map = n.kind == AvroKind::map;
      const uint64_t item_min = s.node(n.children[0]).min_bytes + (is_map ? 1 : 0);
      uint64_t empty_items = 0;
      is_map ? v.begin_map() : v.begin_array();
      for (;;) {
        const uint8_t* at = p;
        int64_t count;
        if (!(p = read_long(p, end, count, err))) return nullptr;
        if (count == 0) break;
        if (count < 0) {
          if (count == INT64_MIN) return err.fail("bad item count", at);
          count = -count;
          int64_t bytes;   // the block's byte size: checked, not needed
          if (!(p = read_length(p, end, bytes, err))) return nullptr;
        }
        if (item_min ? static_cast<uint64_t>(count) > static_cast<uint64_t>(end - p) / item_min
                     : (empty_items += static_cast<uint64_t>(count)) > kMaxEmptyItems) {
          return err.fail("item count larger than the data left", at);
        }
        for (int64_t i = 0; i < count; ++i) {
          if (is_map) {
            int64_t len;
            if (!(p = read_length(p, end, len, err))) return nullptr;
            v.key(p, static_cast<size_t>(len));
            p += len;
          } else {
            v.item();
          }
          if (!(p = walk(s, n.children[0], p, end, depth + 1, v, err))) return nullptr;
        }
      }
      is_map ? v.end_map() : v.end_array();
      return p;
    }
    default: {
      AvroValue val;
      if (!(p = read_scalar(n, ni, p, end, val, err))) return nullptr;
      v.scalar(val);
      return p;
    }
  }
}

// A visitor that only checks.
struct CheckOnly {
  void scalar(const AvroValue&) {}
  void begin_record(const SchemaNode&) {}
  void field(size_t, const std::string&) {}
  void end_record() {}
  void begin_array() {}
  void item() {}
  void end_array() {}
  void begin_map() {}
  void key(const uint8_t*, size_t) {}
  void end_map() {}
};

}  // namespace avro_detail

// Decodes records of one schema into their top-level values (a record
// schema's fields; any other schema is one value named "value"), without
// allocating: scalars in place, complex values as spans to walk() later.
class RecordDecoder {
 public:
  explicit RecordDecoder(const AvroSchema& s);

  size_t fields() const { return plan_.size(); }
  const std::string& field_name(size_t k) const { return names_[k]; }
  uint32_t field_node(size_t k) const { return plan_[k]; }
  // Index of the field called `name`, or -1.
  int find(std::string_view name) const;
  bool is_record() const { return is_record_; }
  const AvroSchema& schema() const { return s_; }

  // One record at p into values[0..fields()); the byte after it, or nullptr
  // with error() saying why and where.
  const uint8_t* decode(const uint8_t* p, const uint8_t* end, AvroValue* values);
  const AvroDecodeError& error() const { return err_; }

  // Visits a complex value decoded before.
  template <class V>
  bool visit(const AvroValue& val, V& v) const {
    AvroDecodeError e;
    return avro_detail::walk(s_, val.node, val.p, val.p + val.n, 1, v, e) != nullptr;
  }

 private:
  const AvroSchema& s_;
  std::vector<uint32_t> plan_;   // each top-level value's schema node
  std::vector<std::string> names_;
  bool is_record_ = false;
  AvroDecodeError err_;
};

}  // namespace privateer
