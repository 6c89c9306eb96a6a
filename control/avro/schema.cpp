#include "control/avro/schema.hpp"

#include <charconv>
#include <cmath>
#include <map>
#include <memory>
#include <utility>

namespace privateer {

const char* kind_name(AvroKind k) {
  switch (k) {
    case AvroKind::null: return "null";
    case AvroKind::boolean: return "boolean";
    case AvroKind::int32: return "int";
    case AvroKind::int64: return "long";
    case AvroKind::float32: return "float";
    case AvroKind::float64: return "double";
    case AvroKind::bytes: return "bytes";
    case AvroKind::string: return "string";
    case AvroKind::fixed: return "fixed";
    case AvroKind::enumeration: return "enum";
    case AvroKind::array: return "array";
    case AvroKind::map: return "map";
    case AvroKind::union_: return "union";
    case AvroKind::record: return "record";
  }
  return "?";
}

namespace {

constexpr int kMaxJsonDepth = 100;

// A JSON value (RFC 8259), as much as a schema needs: numbers as doubles.
struct Json {
  enum Type { null, boolean, number, string, array, object } type = null;
  bool b = false;
  double num = 0;
  std::string str;
  std::vector<Json> items;        // array; object: the member values
  std::vector<std::string> keys;  // object: the member names, in text order

  const Json* get(std::string_view key) const {
    for (size_t i = 0; i < keys.size(); ++i) {
      if (keys[i] == key) return &items[i];
    }
    return nullptr;
  }
};

class JsonParser {
 public:
  explicit JsonParser(std::string_view s) : s_(s) {}

  Json parse_document() {
    Json v = value(0);
    ws();
    if (i_ != s_.size()) fail("text after the JSON value");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw SchemaError("schema JSON, byte " + std::to_string(i_) + ": " + why);
  }
  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  bool literal(std::string_view w) {
    if (s_.substr(i_, w.size()) != w) return false;
    i_ += w.size();
    return true;
  }

  Json value(int depth) {
    if (depth > kMaxJsonDepth) fail("nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    ws();
    if (i_ >= s_.size()) fail("unexpected end");
    Json v;
    const char c = s_[i_];
    if (c == '{') {
      v.type = Json::object;
      ++i_;
      ws();
      if (i_ < s_.size() && s_[i_] == '}') {
        ++i_;
        return v;
      }
      for (;;) {
        ws();
        if (i_ >= s_.size() || s_[i_] != '"') fail("expected a member name");
        std::string key = string();
        ws();
        if (i_ >= s_.size() || s_[i_] != ':') fail("expected ':'");
        ++i_;
        v.keys.push_back(std::move(key));
        v.items.push_back(value(depth + 1));
        ws();
        if (i_ < s_.size() && s_[i_] == ',') {
          ++i_;
          continue;
        }
        if (i_ < s_.size() && s_[i_] == '}') {
          ++i_;
          return v;
        }
        fail("expected ',' or '}'");
      }
    }
    if (c == '[') {
      v.type = Json::array;
      ++i_;
      ws();
      if (i_ < s_.size() && s_[i_] == ']') {
        ++i_;
        return v;
      }
      for (;;) {
        v.items.push_back(value(depth + 1));
        ws();
        if (i_ < s_.size() && s_[i_] == ',') {
          ++i_;
          continue;
        }
        if (i_ < s_.size() && s_[i_] == ']') {
          ++i_;
          return v;
        }
        fail("expected ',' or ']'");
      }
    }
    if (c == '"') {
      v.type = Json::string;
      v.str = string();
      return v;
    }
    if (literal("true")) {
      v.type = Json::boolean;
      v.b = true;
      return v;
    }
    if (literal("false")) {
      v.type = Json::boolean;
      return v;
    }
    if (literal("null")) return v;
    if (c == '-' || (c >= '0' && c <= '9')) {
      v.type = Json::number;
      v.num = number();
      return v;
    }
    fail(std::string("unexpected character '") + c + "'");
  }

  double number() {
    const size_t start = i_;
    auto digits = [&] {
      const size_t d = i_;
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
      return i_ > d;
    };
    if (s_[i_] == '-') ++i_;
    if (!digits()) fail("bad number");
    if (i_ < s_.size() && s_[i_] == '.') {
      ++i_;
      if (!digits()) fail("bad number");
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
      if (!digits()) fail("bad number");
    }
    double d = 0;
    const auto r = std::from_chars(s_.data() + start, s_.data() + i_, d);
    if (r.ec != std::errc()) d = s_[start] == '-' ? -HUGE_VAL : HUGE_VAL;   // out of range
    return d;
  }

  unsigned hex4() {
    if (s_.size() - i_ < 4) fail("bad \\u escape");
    unsigned u = 0;
    for (int k = 0; k < 4; ++k) {
      const char h = s_[i_++];
      u <<= 4;
      if (h >= '0' && h <= '9') u |= static_cast<unsigned>(h - '0');
      else if (h >= 'a' && h <= 'f') u |= static_cast<unsigned>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F') u |= static_cast<unsigned>(h - 'A' + 10);
      else fail("bad \\u escape");
    }
    return u;
  }

  static void put_utf8(std::string& o, unsigned cp) {
    if (cp < 0x80) {
      o += static_cast<char>(cp);
    } else if (cp < 0x800) {
      o += static_cast<char>(0xc0 | (cp >> 6));
      o += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      o += static_cast<char>(0xe0 | (cp >> 12));
      o += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      o += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      o += static_cast<char>(0xf0 | (cp >> 18));
      o += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
      o += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      o += static_cast<char>(0x80 | (cp & 0x3f));
    }
  }

  std::string string() {
    ++i_;   // the opening quote
    std::string o;
    for (;;) {
      if (i_ >= s_.size()) fail("unterminated string");
      const char c = s_[i_++];
      if (c == '"') return o;
      if (static_cast<unsigned char>(c) < 0x20) fail("control character in a string");
      if (c != '\\') {
        o += c;
        continue;
      }
      if (i_ >= s_.size()) fail("unterminated string");
      switch (s_[i_++]) {
        case '"': o += '"'; break;
        case '\\': o += '\\'; break;
        case '/': o += '/'; break;
        case 'b': o += '\b'; break;
        case 'f': o += '\f'; break;
        case 'n': o += '\n'; break;
        case 'r': o += '\r'; break;
        case 't': o += '\t'; break;
        case 'u': {
          unsigned cp = hex4();
          if (cp >= 0xd800 && cp < 0xdc00 && s_.substr(i_, 2) == "\\u") {
            const size_t save = i_;
            i_ += 2;
            const unsigned lo = hex4();
            if (lo >= 0xdc00 && lo < 0xe000) cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            else i_ = save;
          }
          put_utf8(o, cp);
          break;
        }
        default: fail("bad escape");
      }
    }
  }

  std::string_view s_;
  size_t i_ = 0;
};

}  // namespace

// Turns the JSON document into nodes (a friend of AvroSchema).
class SchemaBuilder {
 public:
  AvroSchema build(const Json& doc) {
    out_.root_ = type(doc, "", 0);
    return std::move(out_);
  }

 private:
  [[noreturn]] static void fail(const std::string& why) { throw SchemaError(why); }

  uint32_t add(SchemaNode n) {
    out_.nodes_.push_back(std::move(n));
    return static_cast<uint32_t>(out_.nodes_.size() - 1);
  }

  static bool primitive(std::string_view s, AvroKind& k) {
    static const std::pair<std::string_view, AvroKind> kPrims[] = {
        {"null", AvroKind::null},      {"boolean", AvroKind::boolean}, {"int", AvroKind::int32},
        {"long", AvroKind::int64},     {"float", AvroKind::float32},   {"double", AvroKind::float64},
        {"bytes", AvroKind::bytes},    {"string", AvroKind::string}};
    for (const auto& [n, kk] : kPrims) {
      if (s == n) {
        k = kk;
        return true;
      }
    }
    return false;
  }
  static uint32_t primitive_min(AvroKind k) {
    switch (k) {
      case AvroKind::null: return 0;
      case AvroKind::float32: return 4;
      case AvroKind::float64: return 8;
      default: return 1;   // boolean, varints, a length, an index, a block count
    }
  }

  static std::string full_name(const std::string& name, const std::string& ns) {
    if (name.find('.') != std::string::npos || ns.empty()) return name;
    return ns + "." + name;
  }

  // A type given by name: a primitive or a named type defined earlier.
  uint32_t named(const std::string& s, const std::string& ns) {
    AvroKind k;
    if (primitive(s, k)) {
      SchemaNode n;
      n.kind = k;
      n.min_bytes = primitive_min(k);
      return add(std::move(n));
    }
    auto it = names_.find(full_name(s, ns));
    if (it == names_.end() && s.find('.') == std::string::npos) it = names_.find(s);   // the null namespace
    if (it == names_.end()) fail("unknown type '" + s + "'");
    return it->second;
  }

  const std::string& string_attr(const Json& o, const char* key, const char* what) {
    const Json* v = o.get(key);
    if (!v || v->type != Json::string) fail(std::string(what) + " needs a string \"" + key + "\"");
    return v->str;
  }

  // Registers a named type's full name; returns it and the namespace its
  // members are resolved in.
  std::pair<std::string, std::string> define(const Json& o, const std::string& ns, uint32_t index, const char* what) {
    const std::string& name = string_attr(o, "name", what);
    if (name.empty()) fail(std::string(what) + " with an empty name");
    std::string own_ns = ns;
    if (const Json* n = o.get("namespace"); n && n->type == Json::string) own_ns = n->str;
    std::string full = full_name(name, own_ns);
    const size_t dot = full.rfind('.');
    std::string member_ns = dot == std::string::npos ? std::string() : full.substr(0, dot);
    AvroKind k;
    if (primitive(full, k)) fail("a named type may not be called '" + full + "'");
    if (!names_.emplace(full, index).second) fail("type '" + full + "' defined twice");
    return {std::move(full), std::move(member_ns)};
  }

  uint32_t type(const Json& j, const std::string& ns, int depth) {
    if (depth > kMaxJsonDepth) fail("schema nested too deeply");
    if (j.type == Json::string) return named(j.str, ns);
    if (j.type == Json::array) {
      SchemaNode u;
      u.kind = AvroKind::union_;
      u.min_bytes = 1;
      const uint32_t idx = add(std::move(u));
      std::vector<uint32_t> branches;
      for (const Json& b : j.items) branches.push_back(type(b, ns, depth + 1));
      if (branches.empty()) fail("a union needs at least one branch");
      for (uint32_t b : branches) {
        if (out_.nodes_[b].kind == AvroKind::union_) fail("a union may not directly contain a union");
      }
      out_.nodes_[idx].children = std::move(branches);
      return idx;
    }
    if (j.type != Json::object) fail("a schema is a string, an object or an array");
    const Json* t = j.get("type");
    if (!t) fail("schema object without \"type\"");
    if (t->type != Json::string) return type(*t, ns, depth + 1);
    const std::string& tn = t->str;
    if (tn == "record" || tn == "error") return record(j, ns, depth);
    if (tn == "enum") {
      SchemaNode n;
      n.kind = AvroKind::enumeration;
      n.min_bytes = 1;
      const uint32_t idx = add(std::move(n));
      auto [full, member_ns] = define(j, ns, idx, "an enum");
      const Json* syms = j.get("symbols");
      if (!syms || syms->type != Json::array) fail("enum '" + full + "' needs an array \"symbols\"");
      std::vector<std::string> names;
      for (const Json& s : syms->items) {
        if (s.type != Json::string) fail("enum '" + full + "': symbols are strings");
        names.push_back(s.str);
      }
      out_.nodes_[idx].name = std::move(full);
      out_.nodes_[idx].names = std::move(names);
      return idx;
    }
    if (tn == "fixed") {
      SchemaNode n;
      n.kind = AvroKind::fixed;
      const uint32_t idx = add(std::move(n));
      auto [full, member_ns] = define(j, ns, idx, "a fixed");
      const Json* sz = j.get("size");
      if (!sz || sz->type != Json::number || sz->num < 0 || sz->num > 1e9 || sz->num != std::floor(sz->num)) {
        fail("fixed '" + full + "' needs a \"size\" from 0 to 1000000000");
      }
      out_.nodes_[idx].size = out_.nodes_[idx].min_bytes = static_cast<uint32_t>(sz->num);
      out_.nodes_[idx].name = std::move(full);
      return idx;
    }
    if (tn == "array" || tn == "map") {
      const Json* item = j.get(tn == "array" ? "items" : "values");
      if (!item) fail(tn + " without \"" + (tn == "array" ? "items" : "values") + "\"");
      const uint32_t c = type(*item, ns, depth + 1);
      SchemaNode n;
      n.kind = tn == "array" ? AvroKind::array : AvroKind::map;
      n.min_bytes = 1;
      n.children = {c};
      return add(std::move(n));
    }
    return named(tn, ns);   // {"type": "long", "logicalType": ...} or a named type
  }

  uint32_t record(const Json& j, const std::string& ns, int depth) {
    SchemaNode n;
    n.kind = AvroKind::record;
    const uint32_t idx = add(std::move(n));
    auto [full, member_ns] = define(j, ns, idx, "a record");
    out_.nodes_[idx].name = full;
    const Json* fields = j.get("fields");
    if (!fields || fields->type != Json::array) fail("record '" + full + "' needs an array \"fields\"");
    defining_.push_back(idx);
    std::vector<uint32_t> types;
    std::vector<std::string> names;
    uint64_t min = 0;
    for (const Json& f : fields->items) {
      if (f.type != Json::object) fail("record '" + full + "': a field is an object");
      const std::string& fname = string_attr(f, "name", "a field");
      const Json* ft = f.get("type");
      if (!ft) fail("field '" + fname + "' of record '" + full + "' has no \"type\"");
      const uint32_t c = type(*ft, member_ns, depth + 1);
      for (uint32_t d : defining_) {
        if (c == d) fail("record '" + out_.nodes_[d].name + "' contains itself (field '" + fname + "')");
      }
      min += out_.nodes_[c].min_bytes;
      types.push_back(c);
      names.push_back(fname);
    }
    defining_.pop_back();
    // A record's size is only known once every field type is complete: each
    // field type here is either nested (complete now) or defined before.
    out_.nodes_[idx].min_bytes = min > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(min);
    out_.nodes_[idx].children = std::move(types);
    out_.nodes_[idx].names = std::move(names);
    return idx;
  }

  AvroSchema out_;
  std::map<std::string, uint32_t> names_;
  std::vector<uint32_t> defining_;   // records whose fields are being read
};

AvroSchema AvroSchema::parse(std::string_view json) {
  JsonParser p(json);
  const Json doc = p.parse_document();
  return SchemaBuilder().build(doc);
}

}  // namespace privateer
