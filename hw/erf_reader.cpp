// Our ERF (Endace Extensible Record Format) reader. See file_input.hpp.
//
// A record: a 16-byte header (timestamp, little-endian 32.32 fixed point;
// type, whose top bit says extension headers follow; flags; rlen, the record
// length, big-endian like the rest; lctr or color; wlen, the wire length),
// 8-byte extension headers while the top bit of the previous one's type byte
// is set, for the Ethernet types 2 bytes of offset and pad, then the captured
// bytes and padding up to rlen. Records are handed out whole, header
// included, with linktype::erf (dataplane/decode.cpp decodes them), their
// captured length trimmed to the wire length (the padding left out).
#include <algorithm>
#include <cstring>

#include "hw/file_input.hpp"

namespace privateer::detail {

namespace {

constexpr uint8_t kTypeEth = 2;
constexpr uint8_t kTypeColorEth = 11;
constexpr uint8_t kTypeDsmColorEth = 16;
constexpr uint8_t kTypeColorHashEth = 20;
constexpr uint8_t kTypeMeta = 27;  // provenance records: no packet
constexpr uint8_t kTypePad = 48;   // padding records: no packet
constexpr uint8_t kTypeMax = 48;   // highest type libtrace's probe accepts

inline uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
inline uint64_t le64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

bool ethernet_type(uint8_t t) {
  return t == kTypeEth || t == kTypeColorEth || t == kTypeDsmColorEth || t == kTypeColorHashEth;
}

class ErfReader final : public FileReaderBase {
 public:
  using FileReaderBase::FileReaderBase;

  CaptureFileFormat format() const override { return CaptureFileFormat::erf; }

  size_t read_burst(RawPacket* out, size_t max) override {
    if (eof_ || max == 0) return 0;
    size_t n = 0;
    try {
      while (n < max) {
        const size_t avail = in_->avail();
        size_t need = 16;
        if (avail >= 16) {
          const uint8_t* p = in_->data();
          const uint16_t rlen = be16(p + 10);
          if (rlen < 16) corrupt("bad_rlen", "ERF record with rlen " + std::to_string(rlen) + " (below 16)");
          if (avail >= rlen) {
            if (record(p, rlen, out[n])) ++n;
            in_->consume(rlen);
            continue;
          }
          need = rlen;
        }
        if (n > 0) break;  // don't move the buffer under packets handed out
        if (!in_->fill(need)) {
          finish();
          break;
        }
      }
    } catch (const Damage& d) {
      damaged(d);  // at the start of the bad record; the packets before it stay
    }
    stats_.packets += n;
    note_progress();
    return n;
  }

 private:
  // One complete record of rlen bytes; true when it filled `pkt`.
  bool record(const uint8_t* p, uint16_t rlen, RawPacket& pkt) {
    const uint8_t type = p[8];
    size_t off = 16;
    if (type & 0x80) {
      for (;;) {
        if (off + 8 > rlen) {
          corrupt("bad_rlen", "ERF record whose extension headers run past its rlen " + std::to_string(rlen));
        }
        const uint8_t h = p[off];
        off += 8;
        if (!(h & 0x80)) break;
      }
    }
    const uint8_t base = type & 0x7f;
    if (base == kTypePad || base == kTypeMeta) {
      ++stats_.skipped_blocks;
      return false;
    }
    if (ethernet_type(base)) off += 2;  // offset and pad bytes before the frame
    if (off > rlen) {
      corrupt("bad_rlen", "ERF record with rlen " + std::to_string(rlen) + ", shorter than its " +
                              std::to_string(off) + " bytes of headers");
    }
    const uint16_t wlen = be16(p + 14);
    pkt.data = p;
    pkt.caplen = static_cast<uint32_t>(off + std::min<size_t>(rlen - off, wlen));
    pkt.wirelen = wlen;
    pkt.ts_ns = erf_ts_to_ns(le64(p));
    pkt.linktype = linktype::erf;
    return true;
  }
};

}  // namespace

bool looks_like_erf(const std::string& head) {
  if (head.size() < 16) return false;
  const auto* h = reinterpret_cast<const uint8_t*>(head.data());
  if (be16(h + 10) < 16) return false;  // record too short
  const uint64_t ts = le64(h);
  if (ts < 0x2f0539b000000000ull) return false;  // before 1995: no ERF trace is that old
  if ((ts >> 32) == 0xa1b2c3d4u || (ts >> 32) == 0xd4c3b2a1u) return false;  // a pcap header
  return (h[8] & 0x7f) <= kTypeMax;
}

std::unique_ptr<FileSource> make_erf_reader(std::string path, std::unique_ptr<Input> in, uint64_t total) {
  return std::make_unique<ErfReader>(std::move(path), std::move(in), total);
}

}  // namespace privateer::detail
