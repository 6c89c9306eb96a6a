#include "control/avro/salvage.hpp"

#include <charconv>
#include <memory>

namespace privateer {

std::string SalvageScan::meta(const std::string& key) const {
  for (const auto& [k, v] : metadata) {
    if (k == key) return v;
  }
  return {};
}

namespace {

uint64_t parse_u64(const std::string& s) {
  uint64_t v = 0;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  return r.ec == std::errc() && r.ptr == s.data() + s.size() ? v : 0;
}

// A block read and checked, whose sync marker is not yet.
struct PendingBlock {
  uint64_t end = 0;   // where its sync marker starts
  uint64_t records = 0;
  std::vector<std::pair<int64_t, uint64_t>> times;   // (time, records) runs
};

}  // namespace

SalvageScan salvage_scan(const AvroReadFn& read, size_t max_block_bytes) {
  SalvageScan s;
  const AvroReadFn counted = [&s, &read](uint8_t* buf, size_t n) {
    const size_t got = read(buf, n);
    s.input_bytes += got;
    return got;
  };
  auto drain = [&s, &counted] {   // the rest of the input, for input_bytes
    std::vector<uint8_t> sink(64 << 10);
    while (counted(sink.data(), sink.size()) > 0) {
    }
  };
  std::unique_ptr<AvroContainerReader> r;
  try {
    r = std::make_unique<AvroContainerReader>(counted, max_block_bytes);
  } catch (const AvroReadError& e) {
    s.damage_offset = e.offset;
    s.why = e.what();
    drain();
    return s;
  }
  s.header_ok = true;
  s.metadata = r->metadata();
  s.header_bytes = s.kept_bytes = r->header_size();
  const uint64_t interval = parse_u64(s.meta("privateer.interval_seconds"));

  RecordDecoder dec(r->schema());
  const int time_field = dec.find("time");
  const bool has_time = time_field >= 0 && (r->schema().node(dec.field_node(static_cast<size_t>(time_field))).kind ==
                                                AvroKind::int64 ||
                                            r->schema().node(dec.field_node(static_cast<size_t>(time_field))).kind ==
                                                AvroKind::int32);
  std::vector<AvroValue> values(dec.fields());

  auto keep = [&s, interval](const PendingBlock& p) {
    s.kept_bytes = p.end + 16;
    ++s.blocks;
    s.records += p.records;
    for (const auto& [t, n] : p.times) {
      if (!s.intervals.empty() && s.intervals.back().start == static_cast<uint64_t>(t)) {
        s.intervals.back().records += n;
      } else {
        s.intervals.push_back({static_cast<uint64_t>(t), static_cast<uint64_t>(t) + interval, false, n});
      }
    }
  };
  bool pending = false;
  PendingBlock p;
  for (;;) {
    AvroBlock b;
    bool more = false;
    try {
      more = r->next_block(b);
    } catch (const AvroReadError& e) {
      // The pending block's sync marker is checked first: a problem past it
      // is the next block's.
      if (pending && e.offset >= p.end + 16) keep(p);
      s.damage_offset = e.offset;
      s.why = e.what();
      break;
    }
    if (pending) keep(p);
    pending = false;
    if (!more) {
      s.whole = true;
      break;
    }
    p = PendingBlock{b.end, static_cast<uint64_t>(b.records), {}};
    const uint8_t* q = b.data;
    const uint8_t* end = b.data + b.size;
    bool bad = false;
    for (int64_t i = 0; i < b.records; ++i) {
      q = dec.decode(q, end, values.data());
      if (!q) {
        s.damage_offset = b.offset;
        s.why = "block " + std::to_string(b.index) + ": record " + std::to_string(i) + " does not decode (" +
                dec.error().why + " at byte " + std::to_string(dec.error().at - b.data) + " of its " +
                std::to_string(b.size) + " uncompressed bytes)";
        bad = true;
        break;
      }
      if (has_time) {
        const int64_t t = values[static_cast<size_t>(time_field)].i;
        if (!p.times.empty() && p.times.back().first == t) {
          ++p.times.back().second;
        } else {
          p.times.emplace_back(t, 1);
        }
      }
    }
    if (!bad && q != end) {
      s.damage_offset = b.offset;
      s.why = "block " + std::to_string(b.index) + ": " + std::to_string(end - q) + " bytes left after its " +
              std::to_string(b.records) + " records";
      bad = true;
    }
    if (bad) break;
    pending = true;
  }
  drain();
  if (s.whole) s.whole = s.kept_bytes == s.input_bytes;
  if (!s.intervals.empty()) s.intervals.back().partial = true;
  return s;
}

}  // namespace privateer
