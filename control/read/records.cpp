// The text (field=value) and JSON-lines formats, and the value renderings
// they share with the other formats.
#include <array>
#include <cmath>
#include <cstring>

#include "control/read/printers.hpp"

namespace privateer::read {
namespace {

void put_scalar(Out& out, const AvroSchema& s, const AvroValue& v, bool json, bool address) {
  switch (v.kind) {
    case AvroKind::null: return out.put("null");
    case AvroKind::boolean: return out.put(v.i ? "true" : "false");
    case AvroKind::int32:
    case AvroKind::int64:
      if (address && !json) return out.put_ip_number(v.i);
      return out.put_int(v.i);
    case AvroKind::float32:
    case AvroKind::float64:
      if (json && !std::isfinite(v.d)) return out.put("null");   // JSON has no NaN or infinities
      return out.put_double(v.d);
    case AvroKind::string:
      return json ? out.put_json_string(v.p, v.n) : out.put_logfmt_string(v.p, v.n);
    case AvroKind::fixed:
    case AvroKind::bytes:
      if (address && !json && v.n == 16) return out.put_ipv6(v.p);
      if (address && !json && v.n == 4) {
        return out.put_ipv4((uint32_t{v.p[0]} << 24) | (uint32_t{v.p[1]} << 16) | (uint32_t{v.p[2]} << 8) | v.p[3]);
      }
      if (json) out.put('"');
      out.put_hex(v.p, v.n);
      if (json) out.put('"');
      return;
    case AvroKind::enumeration: {
      const std::string& sym = s.node(v.node).names[static_cast<size_t>(v.i)];
      const auto* p = reinterpret_cast<const uint8_t*>(sym.data());
      return json ? out.put_json_string(p, sym.size()) : out.put_logfmt_string(p, sym.size());
    }
    default: return;
  }
}

// Renders a complex value as compact JSON (in the text format too).
class JsonWriter {
 public:
  JsonWriter(Out& out, const AvroSchema& s) : out_(out), s_(s) {}
  void scalar(const AvroValue& v) { put_scalar(out_, s_, v, true, false); }
  void begin_record(const SchemaNode&) { open('{'); }
  void field(size_t, const std::string& name) {
    sep();
    out_.put_json_string(reinterpret_cast<const uint8_t*>(name.data()), name.size());
    out_.put(':');
  }
  void end_record() { close('}'); }
  void begin_array() { open('['); }
  void item() { sep(); }
  void end_array() { close(']'); }
  void begin_map() { open('{'); }
  void key(const uint8_t* p, size_t n) {
    sep();
    out_.put_json_string(p, n);
    out_.put(':');
  }
  void end_map() { close('}'); }

 private:
  void open(char c) {
    out_.put(c);
    if (++level_ < first_.size()) first_[level_] = true;
  }
  void close(char c) {
    out_.put(c);
    --level_;
  }
  void sep() {
    if (level_ < first_.size() && !first_[level_]) out_.put(',');
    if (level_ < first_.size()) first_[level_] = false;
  }
  Out& out_;
  const AvroSchema& s_;
  std::array<bool, avro_detail::kMaxDepth + 8> first_{};
  size_t level_ = 0;
};

class RecordPrinter : public Printer {
 public:
  RecordPrinter(Out& out, bool json) : out_(out), json_(json) {}

  void begin_file(const std::string&, AvroCodec, const RecordDecoder& dec) override {
    dec_ = &dec;
    address_.assign(dec.fields(), false);
    prefix_.assign(dec.fields(), std::string());
    // What goes before each value: `{"name":` / `,"name":`, or `name=` / ` name=`.
    Out o(nullptr);
    for (size_t k = 0; k < dec.fields(); ++k) {
      const std::string& name = dec.field_name(k);
      address_[k] = is_address_field(name);
      if (k) o.put(json_ ? ',' : ' ');
      if (json_ && dec.is_record()) {
        if (!k) o.put('{');
        o.put_json_string(reinterpret_cast<const uint8_t*>(name.data()), name.size());
        o.put(':');
      } else if (!json_) {
        o.put(name);
        o.put('=');
      }
      prefix_[k] = o.buffered();
      o.flush();
    }
  }

  void record(const AvroValue* v) override {
    const RecordDecoder& dec = *dec_;
    for (size_t k = 0; k < dec.fields(); ++k) {
      out_.put(prefix_[k]);
      put_value(out_, dec, v[k], json_, address_[k]);
    }
    out_.put(json_ && dec.is_record() ? "}\n" : "\n");
    out_.maybe_flush();
  }

  void end_file() override { dec_ = nullptr; }

 private:
  Out& out_;
  bool json_;
  const RecordDecoder* dec_ = nullptr;
  std::vector<bool> address_;
  std::vector<std::string> prefix_;
};

}  // namespace

void put_value(Out& out, const RecordDecoder& dec, const AvroValue& v, bool json, bool address) {
  switch (v.kind) {
    case AvroKind::array:
    case AvroKind::map:
    case AvroKind::record: {
      JsonWriter w(out, dec.schema());
      dec.visit(v, w);
      return;
    }
    default: put_scalar(out, dec.schema(), v, json, address);
  }
}

std::unique_ptr<Printer> make_text_printer(Out& out) { return std::make_unique<RecordPrinter>(out, false); }
std::unique_ptr<Printer> make_json_printer(Out& out) { return std::make_unique<RecordPrinter>(out, true); }

}  // namespace privateer::read
