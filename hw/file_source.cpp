// pcap and pcapng readers, and the format sniff. See file_source.hpp.
//
// The input is read in large chunks into one buffer and the records are parsed
// out of it in place: no per-packet allocation, copy or system call. Packets
// handed out point into the buffer, so the buffer is only compacted (the
// unread tail moved to the front) or grown at the start of a read_burst()
// call, before any packet of that call has been handed out; a burst that runs
// into a record straddling the end of the buffer returns early instead.
#include "hw/file_source.hpp"

#include "hw/file_input.hpp"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>


namespace privateer {

namespace {

using detail::Damage;
using detail::FileReaderBase;
using detail::Input;

constexpr uint32_t kMaxRecord = uint32_t{64} << 20;  // larger records/blocks: corrupt file
constexpr uint32_t kMinMaxCaplen = 262144;         // libpcap's usual maximum snaplen

constexpr uint32_t kPcapMagicUs = 0xa1b2c3d4;
constexpr uint32_t kPcapMagicNs = 0xa1b23c4d;
constexpr uint32_t kPcapngShb = 0x0a0d0d0a;
constexpr uint32_t kPcapngByteOrder = 0x1a2b3c4d;

// pcapng block types we read; everything else is skipped.
constexpr uint32_t kIdb = 1;
constexpr uint32_t kObsoletePb = 2;
constexpr uint32_t kSpb = 3;
constexpr uint32_t kEpb = 6;

constexpr bool kHostBig = std::endian::native == std::endian::big;

inline uint32_t raw32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline uint16_t raw16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
template <bool Swap>
inline uint32_t ld32(const uint8_t* p) {
  const uint32_t v = raw32(p);
  return Swap ? __builtin_bswap32(v) : v;
}
inline uint32_t ld32(const uint8_t* p, bool swap) { return swap ? __builtin_bswap32(raw32(p)) : raw32(p); }
inline uint16_t ld16(const uint8_t* p, bool swap) { return swap ? __builtin_bswap16(raw16(p)) : raw16(p); }
inline uint64_t ld64(const uint8_t* p, bool swap) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return swap ? __builtin_bswap64(v) : v;
}
inline uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

std::string hex32(uint32_t v) {
  char b[16];
  std::snprintf(b, sizeof b, "0x%08x", v);
  return b;
}

// ---------------------------------------------------------------- classic pcap

class PcapReader final : public FileReaderBase {
 public:
  PcapReader(std::string path, std::unique_ptr<Input> in, uint64_t total, bool swap, bool nano, uint16_t linktype,
             uint32_t snaplen)
      : FileReaderBase(std::move(path), std::move(in), total), swap_(swap), nano_(nano), linktype_(linktype),
        max_caplen_(std::min(std::max(snaplen, kMinMaxCaplen), kMaxRecord)) {}

  CaptureFileFormat format() const override { return CaptureFileFormat::pcap; }

  size_t read_burst(RawPacket* out, size_t max) override {
    if (eof_ || max == 0) return 0;
    size_t n;
    if (swap_) {
      n = nano_ ? burst<true, true>(out, max) : burst<true, false>(out, max);
    } else {
      n = nano_ ? burst<false, true>(out, max) : burst<false, false>(out, max);
    }
    stats_.packets += n;
    note_progress();
    return n;
  }

 private:
  template <bool Swap, bool Nano>
  size_t burst(RawPacket* out, size_t max) {
    size_t n = 0;
    for (;;) {
      const uint8_t* p = in_->data();
      const uint8_t* const e = p + in_->avail();
      while (n < max && e - p >= 16) {
        const uint32_t caplen = ld32<Swap>(p + 8);
        if (caplen > max_caplen_) [[unlikely]] {
          // libpcap stops here too ("invalid packet capture length").
          in_->consume(static_cast<size_t>(p - in_->data()));
          damaged(Damage{"bad_caplen", "pcap record with capture length " + std::to_string(caplen) + " (at most " +
                                           std::to_string(max_caplen_) + " for this file)"});
          return n;
        }
        if (static_cast<size_t>(e - p) - 16 < caplen) break;
        const uint64_t frac = ld32<Swap>(p + 4);
        if (frac >= (Nano ? 1000000000u : 1000000u)) [[unlikely]] {
          // A fraction of a second of a second or more: skipped, not misdated.
          bad_timestamp();
          p += 16 + static_cast<size_t>(caplen);
          continue;
        }
        RawPacket& r = out[n++];
        r.data = p + 16;
        r.caplen = caplen;
        r.wirelen = ld32<Swap>(p + 12);
        r.ts_ns = uint64_t{ld32<Swap>(p)} * 1000000000u + (Nano ? frac : frac * 1000u);
        r.linktype = linktype_;
        p += 16 + static_cast<size_t>(caplen);
      }
      in_->consume(static_cast<size_t>(p - in_->data()));
      // Full burst, or a record straddles the buffer end: the buffer must not
      // move under the packets already handed out.
      if (n > 0) return n;
      const size_t need = in_->avail() < 16 ? 16 : 16 + static_cast<size_t>(ld32<Swap>(in_->data() + 8));
      if (!in_->fill(need)) {
        finish();
        return 0;
      }
    }
  }

  bool swap_;
  bool nano_;
  uint16_t linktype_;
  uint32_t max_caplen_;
};

// ---------------------------------------------------------------------- pcapng

class PcapngReader final : public FileReaderBase {
 public:
  PcapngReader(std::string path, std::unique_ptr<Input> in, uint64_t total)
      : FileReaderBase(std::move(path), std::move(in), total) {
    ifaces_.reserve(8);
  }

  CaptureFileFormat format() const override { return CaptureFileFormat::pcapng; }

  size_t read_burst(RawPacket* out, size_t max) override {
    if (eof_ || max == 0) return 0;
    size_t n = 0;
    try {
      while (n < max) {
        const size_t avail = in_->avail();
        size_t need = 12;
        if (avail >= 12) {
          const uint8_t* p = in_->data();
          if (raw32(p) == kPcapngShb) set_byte_order(p);
          const uint32_t len = ld32(p + 4, swap_);
          if (len < 12 || (len & 3) != 0 || len > kMaxRecord) {
            corrupt("bad_block_length", "pcapng block with length " + std::to_string(len));
          }
          if (avail >= len) {
            if (block(p, len, out[n])) ++n;
            in_->consume(len);
            continue;
          }
          need = len;
        }
        if (n > 0) break;  // don't move the buffer under packets handed out
        if (!in_->fill(need)) {
          finish();
          break;
        }
      }
    } catch (const Damage& d) {
      damaged(d);  // at the start of the bad block; the packets before it stay
    }
    stats_.packets += n;
    note_progress();
    return n;
  }

 private:
  struct Iface {
    uint16_t linktype = 0;
    uint32_t snaplen = 0;
    bool pow2 = false;       // if_tsresol 2^-shift, else 10^-exp10
    uint8_t shift = 0;
    bool divide = false;     // 10^-exp10 finer than ns: divide by factor
    uint64_t factor = 1000;  // multiply (or divide) to get ns
    __int128 offset_ns = 0;  // if_tsoffset
  };

  void set_byte_order(const uint8_t* p) {
    const uint32_t bom = raw32(p + 8);
    if (bom == kPcapngByteOrder) {
      swap_ = false;
    } else if (bom == __builtin_bswap32(kPcapngByteOrder)) {
      swap_ = true;
    } else {
      corrupt("bad_block", "pcapng section header with byte-order magic " + hex32(bom));
    }
  }

  // The time in ns since 1970; false when it is before 1970 or past 2^64 ns
  // (about the year 2554): such a packet is skipped, never misdated.
  static bool ts_ns(const Iface& f, uint64_t ts, uint64_t* out) {
    using u128 = unsigned __int128;
    using i128 = __int128;
    u128 ns;
    if (f.pow2) {
      const u128 sec = f.shift >= 64 ? 0 : ts >> f.shift;
      const u128 frac = f.shift >= 64 ? u128{ts} : u128{ts & ((uint64_t{1} << f.shift) - 1)};
      ns = sec * 1000000000u + ((frac * 1000000000u) >> f.shift);
    } else {
      ns = f.divide ? u128{ts / f.factor} : u128{ts} * f.factor;
    }
    const i128 t = static_cast<i128>(ns) + f.offset_ns;  // |ns| < 2^124, |offset_ns| < 2^94
    if (t < 0 || t > static_cast<i128>(UINT64_MAX)) return false;
    *out = static_cast<uint64_t>(t);
    return true;
  }

  // Handles one complete block; true when it filled `pkt`.
  bool block(const uint8_t* p, uint32_t len, RawPacket& pkt) {
    const uint32_t type = ld32(p, swap_);
    switch (type) {
      case kPcapngShb: {
        if (len < 28) corrupt("bad_block", "pcapng section header block of " + std::to_string(len) + " bytes");
        const uint16_t major = ld16(p + 12, swap_);
        if (major != 1) corrupt("bad_block", "pcapng section header with version " + std::to_string(major));
        ifaces_.clear();
        ++stats_.sections;
        return false;
      }
      case kIdb: {
        if (len < 20) corrupt("bad_block", "pcapng interface description block of " + std::to_string(len) + " bytes");
        Iface f;
        f.linktype = ld16(p + 8, swap_);
        f.snaplen = ld32(p + 12, swap_);
        parse_idb_options(p + 16, p + len - 4, f);
        ifaces_.push_back(f);
        return false;
      }
      case kEpb:
      case kObsoletePb: {
        // The obsolete Packet Block is an EPB with a 16-bit interface id
        // followed by a 16-bit drop count.
        const bool epb = type == kEpb;
        if (len < 32) corrupt("bad_block_length", std::string(epb ? "pcapng enhanced packet block" : "pcapng packet block") + " of " + std::to_string(len) + " bytes");
        const uint32_t id = epb ? ld32(p + 8, swap_) : ld16(p + 8, swap_);
        const uint32_t caplen = ld32(p + 20, swap_);
        if (caplen > len - 32) {
          corrupt("bad_caplen", std::string(epb ? "pcapng enhanced packet block" : "pcapng packet block") +
                                    " with capture length " + std::to_string(caplen) + " in a block of " +
                                    std::to_string(len) + " bytes");
        }
        const Iface& f = iface(id);
        pkt.data = p + 28;
        pkt.caplen = caplen;
        pkt.wirelen = ld32(p + 24, swap_);
        if (!ts_ns(f, (uint64_t{ld32(p + 12, swap_)} << 32) | ld32(p + 16, swap_), &pkt.ts_ns)) {
          bad_timestamp();
          return false;
        }
        pkt.linktype = f.linktype;
        return true;
      }
      case kSpb: {
        if (len < 16) corrupt("bad_block_length", "pcapng simple packet block of " + std::to_string(len) + " bytes");
        const Iface& f = iface(0);
        const uint32_t wirelen = ld32(p + 8, swap_);
        uint32_t caplen = std::min(wirelen, len - 16);
        if (f.snaplen != 0) caplen = std::min(caplen, f.snaplen);
        pkt.data = p + 12;
        pkt.caplen = caplen;
        pkt.wirelen = wirelen;
        pkt.ts_ns = 0;  // a simple packet block has no timestamp
        pkt.linktype = f.linktype;
        return true;
      }
      default:
        ++stats_.skipped_blocks;
        return false;
    }
  }

  const Iface& iface(uint32_t id) {
    if (id >= ifaces_.size()) {
      corrupt("bad_block", "pcapng packet block for interface " + std::to_string(id) + ", not described in this section");
    }
    return ifaces_[id];
  }

  void parse_idb_options(const uint8_t* o, const uint8_t* end, Iface& f) {
    while (end - o >= 4) {
      const uint16_t code = ld16(o, swap_);
      const uint16_t olen = ld16(o + 2, swap_);
      if (code == 0) break;  // opt_endofopt
      const uint8_t* v = o + 4;
      if (end - v < olen) break;  // option runs past the block: ignore the rest
      if (code == 9 && olen >= 1) {  // if_tsresol
        const uint8_t r = v[0];
        if (r & 0x80) {
          f.pow2 = true;
          f.shift = r & 0x7f;
        } else {
          f.pow2 = false;
          const unsigned e = r;
          if (e > 28) corrupt("bad_block", "pcapng interface description block with if_tsresol 10^-" + std::to_string(e));
          uint64_t k = 1;
          for (unsigned i = 0; i < (e <= 9 ? 9 - e : e - 9); ++i) k *= 10;
          f.divide = e > 9;
          f.factor = k;
        }
      } else if (code == 14 && olen >= 8) {  // if_tsoffset, seconds
        f.offset_ns = static_cast<__int128>(static_cast<int64_t>(ld64(v, swap_))) * 1000000000;
      }
      o = v + ((static_cast<size_t>(olen) + 3) & ~size_t{3});
    }
  }

  bool swap_ = false;
  std::vector<Iface> ifaces_;
};

}  // namespace

namespace {

// `erf`: the caller said the file is ERF (an erf: URI): no plausibility test.
std::unique_ptr<FileSource> open_file(const std::string& path, uint32_t* magic_out, bool erf) {
  if (magic_out) *magic_out = 0;
  uint64_t total = 0;
  int fd = STDIN_FILENO;
  bool regular = false;
  if (path != "-") {
    // O_NONBLOCK: opening a FIFO does not wait for its writer here (the
    // first read polls for it, interruptibly); no effect on regular files.
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) throw SourceError(path + ": cannot open: " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    if (fd != STDIN_FILENO) ::close(fd);
    throw SourceError(path + ": cannot stat: " + std::strerror(e));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    throw SourceError(path + ": is a directory");
  }
  if (S_ISREG(st.st_mode)) {
    regular = true;
    total = static_cast<uint64_t>(st.st_size);
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  }
  auto raw = std::make_unique<detail::FdReader>(path, fd, regular);
  const std::string head = raw->peek(6);
  if (raw->interrupted()) throw SourceInterrupted(path + ": interrupted while waiting for input");
  std::string cname;
  const detail::Compression comp = detail::compression_of(head, &cname);
  if (comp == detail::Compression::unsupported) {
    throw SourceError(path + ": " + cname + "-compressed files are not read (gzip, bzip2, xz and zstd are)");
  }
  auto input = std::make_unique<Input>(path, std::move(raw), comp);
  Input& in = *input;
  in.fill(24);  // a pcap file header, or an ERF record header
  if (in.interrupted()) throw SourceInterrupted(path + ": interrupted while waiting for input");
  if (in.avail() < 4) {
    if (!in.error().empty() && in.avail() == 0) {
      throw SourceError(path + ": " + in.error() + " (nothing could be decompressed)");
    }
    if (in.avail() == 0) throw SourceError(path + ": empty file (no capture file header)");
    if (erf) return detail::make_erf_reader(path, std::move(input), total);  // a cut record
    return nullptr;  // 1-3 bytes: no capture file
  }
  const uint8_t* h = in.data();
  const uint32_t be = be32(h);
  if (magic_out) *magic_out = be;

  // pcap: the magic tells the byte order of the file.
  bool file_big = false, nano = false, pcap = true;
  if (be == kPcapMagicUs) {
    file_big = true;
  } else if (be == __builtin_bswap32(kPcapMagicUs)) {
    file_big = false;
  } else if (be == kPcapMagicNs) {
    file_big = true;
    nano = true;
  } else if (be == __builtin_bswap32(kPcapMagicNs)) {
    file_big = false;
    nano = true;
  } else {
    pcap = false;
  }
  if (erf && (pcap || be == kPcapngShb)) {
    throw SourceError(path + ": not an ERF file but a " + (pcap ? "pcap" : "pcapng") +
                      " file (give it without the erf: prefix)");
  }
  if (erf) return detail::make_erf_reader(path, std::move(input), total);
  if (pcap) {
    if (in.avail() < 24) {
      throw SourceError(path + ": corrupt pcap file header (truncated: " + std::to_string(in.avail()) + " of 24 bytes)");
    }
    const bool swap = file_big != kHostBig;
    const uint16_t major = ld16(h + 4, swap);
    const uint16_t minor = ld16(h + 6, swap);
    if (major != 2) {
      throw SourceError(path + ": corrupt pcap file header (version " + std::to_string(major) + "." +
                        std::to_string(minor) + ")");
    }
    const uint32_t snaplen = ld32(h + 16, swap);
    // The link-type field's upper bits carry FCS information: mask them off.
    const uint16_t lt = static_cast<uint16_t>(ld32(h + 20, swap) & 0xffff);
    in.consume(24);
    return std::make_unique<PcapReader>(path, std::move(input), total, swap, nano, lt, snaplen);
  }
  if (be == kPcapngShb) {
    if (in.avail() < 12) throw SourceError(path + ": corrupt pcapng section header (truncated)");
    const uint32_t bom = raw32(h + 8);
    if (bom != kPcapngByteOrder && bom != __builtin_bswap32(kPcapngByteOrder)) {
      throw SourceError(path + ": corrupt pcapng section header (byte-order magic " + hex32(bom) + ")");
    }
    return std::make_unique<PcapngReader>(path, std::move(input), total);
  }
  if (detail::looks_like_erf(std::string(reinterpret_cast<const char*>(h), std::min<size_t>(in.avail(), 16)))) {
    return detail::make_erf_reader(path, std::move(input), total);
  }
  return nullptr;
}

}  // namespace

std::unique_ptr<FileSource> open_capture_file(const std::string& path, uint32_t* magic) {
  return open_file(path, magic, false);
}

std::unique_ptr<FileSource> open_erf_file(const std::string& path) { return open_file(path, nullptr, true); }

}  // namespace privateer
