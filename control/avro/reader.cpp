#include "control/avro/reader.hpp"

#include <algorithm>
#include <cstring>

namespace privateer {

namespace avro_detail {

const uint8_t* read_scalar(const SchemaNode& n, uint32_t ni, const uint8_t* p, const uint8_t* end, AvroValue& out,
                           AvroDecodeError& err) {
  out.node = ni;
  out.kind = n.kind;
  const uint8_t* at = p;
  switch (n.kind) {
    case AvroKind::null: return p;
    case AvroKind::boolean:
      if (p == end) return err.fail("data ends inside a boolean", at);
      if (*p > 1) return err.fail("boolean byte neither 0 nor 1", at);
      out.i = *p;
      return p + 1;
    case AvroKind::int32:
      if (!(p = read_long(p, end, out.i, err))) return nullptr;
      if (out.i < INT32_MIN || out.i > INT32_MAX) return err.fail("int out of the 32-bit range", at);
      return p;
    case AvroKind::int64: return read_long(p, end, out.i, err);
    case AvroKind::float32: {
      if (end - p < 4) return err.fail("data ends inside a float", at);
      float f;
      std::memcpy(&f, p, 4);   // little-endian IEEE 754, as the hosts we build for
      out.d = f;
      return p + 4;
    }
    case AvroKind::float64:
      if (end - p < 8) return err.fail("data ends inside a double", at);
      std::memcpy(&out.d, p, 8);
      return p + 8;
    case AvroKind::bytes:
    case AvroKind::string: {
      int64_t len;
      if (!(p = read_length(p, end, len, err))) return nullptr;
      out.p = p;
      out.n = static_cast<size_t>(len);
      return p + len;
    }
    case AvroKind::fixed:
      if (static_cast<uint64_t>(end - p) < n.size) return err.fail("data ends inside a fixed", at);
      out.p = p;
      out.n = n.size;
      return p + n.size;
    case AvroKind::enumeration:
      if (!(p = read_long(p, end, out.i, err))) return nullptr;
      if (out.i < 0 || static_cast<uint64_t>(out.i) >= n.names.size()) return err.fail("enum index out of range", at);
      return p;
    default: return err.fail("not a scalar type", at);
  }
}

}  // namespace avro_detail

// ---- the container ----

namespace {
constexpr uint8_t kMagic[4] = {'O', 'b', 'j', 1};
constexpr size_t kReadChunk = 64 << 10;   // bytes asked of each read()
}  // namespace

void AvroContainerReader::damaged(uint64_t offset, const std::string& why) const {
  throw AvroReadError(AvroReadError::Kind::damaged, offset, why);
}

bool AvroContainerReader::fill(size_t need) {
  while (end_ - pos_ < need && !eof_) {
    if (pos_ > 0 && pos_ == end_) {   // nothing unread: start over
      base_ += pos_;
      pos_ = end_ = 0;
    } else if (pos_ > buf_.size() / 2) {   // move the unread tail to the front
      std::memmove(buf_.data(), buf_.data() + pos_, end_ - pos_);
      base_ += pos_;
      end_ -= pos_;
      pos_ = 0;
    }
    // Grow only as data arrives, so a corrupt length cannot allocate much
    // more than the input holds.
    if (buf_.size() - end_ < kReadChunk) buf_.resize(std::max(buf_.size() * 2, end_ + kReadChunk));
    const size_t got = read_(buf_.data() + end_, kReadChunk);
    if (got == 0) eof_ = true;
    end_ += got;
  }
  return end_ - pos_ >= need;
}

int64_t AvroContainerReader::read_long(const char* what) {
  fill(10);
  const uint64_t at = offset();
  AvroDecodeError e;
  int64_t v;
  const uint8_t* p = buf_.data() + pos_;
  const uint8_t* q = avro_detail::read_long(p, buf_.data() + end_, v, e);
  if (!q) damaged(at, std::string(what) + ": " + e.why);
  pos_ += static_cast<size_t>(q - p);
  return v;
}

std::string AvroContainerReader::read_bytes(const char* what) {
  const uint64_t at = offset();
  const int64_t len = read_long(what);
  if (len < 0) damaged(at, std::string(what) + ": negative length");
  if (static_cast<uint64_t>(len) > max_block_) damaged(at, std::string(what) + ": length " + std::to_string(len) + " too large");
  if (!fill(static_cast<size_t>(len))) damaged(at, std::string(what) + ": file ends inside it");
  std::string s(reinterpret_cast<const char*>(buf_.data() + pos_), static_cast<size_t>(len));
  pos_ += static_cast<size_t>(len);
  return s;
}

AvroContainerReader::AvroContainerReader(AvroReadFn read, size_t max_block_bytes)
    : read_(std::move(read)), max_block_(max_block_bytes), decompressor_(max_block_bytes) {
  fill(4);
  const size_t have = std::min<size_t>(end_ - pos_, 4);
  if (std::memcmp(buf_.data() + pos_, kMagic, have) != 0) {
    throw AvroReadError(AvroReadError::Kind::unreadable, 0, "not an Avro object container file (no \"Obj\\x01\" magic)");
  }
  if (have < 4) damaged(have, have == 0 ? "empty file" : "file ends inside the magic");
  pos_ += 4;

  bool have_schema = false;
  std::string codec_name = "null";   // absent: null, the specification's default
  for (;;) {   // the metadata map: blocks of entries, a zero count ends it
    const uint64_t at = offset();
    int64_t count = read_long("header metadata");
    if (count == 0) break;
    if (count < 0) {
      if (count == INT64_MIN) damaged(at, "header metadata: bad entry count");
      count = -count;
      (void)read_long("header metadata block size");
    }
    for (int64_t i = 0; i < count; ++i) {
      std::string key = read_bytes("header metadata key");
      std::string value = read_bytes("header metadata value");
      if (key == "avro.schema") {
        have_schema = true;
        schema_json_ = value;
      } else if (key == "avro.codec") {
        codec_name = value;
      }
      meta_.emplace_back(std::move(key), std::move(value));
    }
  }
  if (!have_schema) damaged(offset(), "header has no avro.schema");
  if (!fill(16)) damaged(offset(), "file ends inside the header's sync marker");
  std::memcpy(sync_, buf_.data() + pos_, 16);
  const uint64_t data_start = offset() + 16;
  header_size_ = data_start;
  pos_ += 16;

  const auto c = parse_codec(codec_name);
  if (!c) {
    throw AvroReadError(AvroReadError::Kind::unreadable, 0,
                        "codec '" + codec_name + "' not supported (null, deflate, snappy, zstandard are)");
  }
  codec_ = *c;
  try {
    schema_ = AvroSchema::parse(schema_json_);
  } catch (const SchemaError& e) {
    damaged(data_start, std::string("bad avro.schema: ") + e.what());
  }
}

bool AvroContainerReader::next_block(AvroBlock& b) {
  if (sync_pending_) {
    const uint64_t at = offset();
    if (!fill(16)) damaged(at, "file ends inside the sync marker after block " + std::to_string(blocks_ - 1));
    if (std::memcmp(buf_.data() + pos_, sync_, 16) != 0) {
      damaged(at, "sync marker after block " + std::to_string(blocks_ - 1) + " does not match the header's");
    }
    pos_ += 16;
    sync_pending_ = false;
  }
  if (!fill(1)) return false;   // a clean end: right after a sync marker

  b.index = blocks_;
  b.offset = offset();
  const int64_t count = read_long("block record count");
  if (count < 0) damaged(b.offset, "negative block record count");
  const uint64_t size_at = offset();
  const int64_t size = read_long("block size");
  if (size < 0) damaged(size_at, "negative block size");
  if (static_cast<uint64_t>(size) > max_block_) {
    damaged(size_at, "block size " + std::to_string(size) + " larger than the limit of " + std::to_string(max_block_));
  }
  b.data_offset = offset();
  if (!fill(static_cast<size_t>(size))) {
    damaged(b.data_offset, "file ends inside block " + std::to_string(b.index) + " (" + std::to_string(size) +
                               " bytes announced, " + std::to_string(end_ - pos_) + " present)");
  }
  const uint8_t* data = buf_.data() + pos_;
  if (codec_ == AvroCodec::null) {
    b.data = data;
  } else {
    try {
      decompressor_.decompress(codec_, data, static_cast<size_t>(size), plain_);
    } catch (const BlockDecompressError& e) {
      damaged(b.data_offset, "block " + std::to_string(b.index) + ": " + e.what());
    }
    b.data = plain_.data();
  }
  b.size = codec_ == AvroCodec::null ? static_cast<size_t>(size) : plain_.size();
  // Every record takes a byte or more unless the schema's records are empty.
  const uint32_t min = schema_.root_node().min_bytes;
  if (min ? static_cast<uint64_t>(count) > b.size / min : static_cast<uint64_t>(count) > avro_detail::kMaxEmptyItems) {
    damaged(b.offset, "block " + std::to_string(b.index) + " announces " + std::to_string(count) +
                          " records, more than its " + std::to_string(b.size) + " bytes can hold");
  }
  b.records = count;
  b.end = b.data_offset + static_cast<uint64_t>(size);
  pos_ += static_cast<size_t>(size);
  sync_pending_ = true;
  ++blocks_;
  return true;
}

// ---- records ----

RecordDecoder::RecordDecoder(const AvroSchema& s) : s_(s) {
  const SchemaNode& root = s.root_node();
  is_record_ = root.kind == AvroKind::record;
  if (is_record_) {
    plan_ = root.children;
    names_ = root.names;
  } else {
    plan_ = {s.root()};
    names_ = {"value"};
  }
}

int RecordDecoder::find(std::string_view name) const {
  for (size_t k = 0; k < names_.size(); ++k) {
    if (names_[k] == name) return static_cast<int>(k);
  }
  return -1;
}

const uint8_t* RecordDecoder::decode(const uint8_t* p, const uint8_t* end, AvroValue* values) {
  for (size_t k = 0; k < plan_.size(); ++k) {
    uint32_t ni = plan_[k];
    const SchemaNode* n = &s_.node(ni);
    if (n->kind == AvroKind::union_) {
      const uint8_t* at = p;
      int64_t b;
      if (!(p = avro_detail::read_long(p, end, b, err_))) return nullptr;
      if (b < 0 || static_cast<uint64_t>(b) >= n->children.size()) return err_.fail("union branch index out of range", at);
      ni = n->children[static_cast<size_t>(b)];
      n = &s_.node(ni);
    }
    AvroValue& v = values[k];
    switch (n->kind) {
      case AvroKind::array:
      case AvroKind::map:
      case AvroKind::record: {
        const uint8_t* start = p;
        avro_detail::CheckOnly check;
        if (!(p = avro_detail::walk(s_, ni, p, end, 2, check, err_))) return nullptr;
        v.node = ni;
        v.kind = n->kind;
        v.p = start;
        v.n = static_cast<size_t>(p - start);
        break;
      }
      default:
        if (!(p = avro_detail::read_scalar(*n, ni, p, end, v, err_))) return nullptr;
    }
  }
  return p;
}

}  // namespace privateer
