// pcap and pcapng readers over wandio. See file_source.hpp.
//
// The input is read in large chunks into one buffer and the records are parsed
// out of it in place: no per-packet allocation, copy or system call. Packets
// handed out point into the buffer, so the buffer is only compacted (the
// unread tail moved to the front) or grown at the start of a read_burst()
// call, before any packet of that call has been handed out; a burst that runs
// into a record straddling the end of the buffer returns early instead.
#include "hw/file_source.hpp"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

extern "C" {
#include <wandio.h>
}

namespace privateer {

namespace {

constexpr size_t kChunk = size_t{2} << 20;         // read size and initial buffer size
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

// The (decompressed) input stream and the buffer records are parsed from.
// Compressed input (and standard input) is read through wandio. Uncompressed
// files are read with plain read() calls instead: wandio's read-ahead thread
// copies everything once more through its own 1 MiB buffers, which here made
// reading 5-10x slower than read() straight into our buffer.
class Input {
 public:
  Input(const std::string& path, io_t* io) : path_(path), io_(io) {}
  Input(const std::string& path, int fd) : path_(path), fd_(fd) {}
  ~Input() { close(); }
  Input(const Input&) = delete;
  Input& operator=(const Input&) = delete;

  const uint8_t* data() const { return buf_.get() + pos_; }
  size_t avail() const { return end_ - pos_; }
  void consume(size_t n) { pos_ += n; }
  // Uncompressed bytes consumed so far (offset of data() in the stream).
  uint64_t offset() const { return base_ + pos_; }
  // The decompressor failed (damaged or cut-off compressed stream).
  bool stream_error() const { return stream_error_; }

  // Makes at least n bytes available at data(), moving the unread bytes to
  // the front of the buffer (or into a larger one) and reading. Invalidates
  // earlier data() pointers. False when the input ends first (what there is
  // stays available).
  bool fill(size_t n) {
    if (end_ - pos_ >= n) return true;
    if (n > cap_ || !buf_) {
      size_t cap = std::max({n, cap_ * 2, kChunk});
      std::unique_ptr<uint8_t[]> nb(new uint8_t[cap]);
      if (end_ > pos_) std::memcpy(nb.get(), buf_.get() + pos_, end_ - pos_);
      buf_ = std::move(nb);
      cap_ = cap;
    } else if (pos_ > 0 && end_ > pos_) {
      std::memmove(buf_.get(), buf_.get() + pos_, end_ - pos_);
    }
    base_ += pos_;
    end_ -= pos_;
    pos_ = 0;
    while (end_ < n && !input_end_) {
      const int64_t r = read_some(buf_.get() + end_, cap_ - end_);
      if (r == 0) {
        input_end_ = true;
        break;
      }
      end_ += static_cast<size_t>(r);
    }
    return end_ - pos_ >= n;
  }

  // Releases the file (and wandio's read-ahead thread and buffers).
  void close() {
    if (io_) {
      wandio_destroy(io_);
      io_ = nullptr;
    }
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }

 private:
  int64_t read_some(uint8_t* dst, size_t len) {
    if (io_) {
      errno = 0;
      const off_t r = wandio_read(io_, dst, static_cast<off_t>(len));
      if (r < 0) {
        // wandio reports a compressed stream that ends early (a file cut
        // short, still being written) as an error, after printing "Unexpected
        // EOF while reading compressed file". Like a truncated final record,
        // that ends the input: the packets before it are kept.
        stream_error_ = true;
        return 0;
      }
      return r;
    }
    if (fd_ < 0) return 0;
    for (;;) {
      const ssize_t r = ::read(fd_, dst, len);
      if (r >= 0) return r;
      if (errno != EINTR) throw SourceError(path_ + ": read error: " + std::strerror(errno));
    }
  }

  std::string path_;
  io_t* io_ = nullptr;
  int fd_ = -1;
  std::unique_ptr<uint8_t[]> buf_;
  size_t cap_ = 0;
  size_t pos_ = 0;
  size_t end_ = 0;
  uint64_t base_ = 0;   // stream offset of buf_[0]
  bool input_end_ = false;
  bool stream_error_ = false;
};

// What pcap and pcapng readers share: the input, end of file, progress.
class FileReaderBase : public FileSource {
 public:
  struct Opened {
    std::unique_ptr<Input> in;
    uint64_t total = 0;       // file size, 0 if unknown (stdin, pipes)
    bool compressed = false;
    int wandio_fd = -1;       // wandio's descriptor for a compressed file, -1 if unknown
    FileId id;
  };

  FileReaderBase(std::string path, Opened o)
      : path_(std::move(path)), in_(std::move(o.in)), total_(o.total), compressed_(o.compressed),
        wandio_fd_(o.wandio_fd), id_(o.id) {}

  bool eof() const override { return eof_; }
  std::string name() const override { return path_; }
  const FileSourceStats& stats() const override { return stats_; }

  // Uncompressed files: bytes parsed so far of the file size. Compressed
  // files: wandio's file position (compressed bytes it has read, which runs
  // ahead of the packets handed out by wandio's read-ahead, up to ~100 MiB of
  // decompressed data) of the file size; both 0 when wandio's descriptor could
  // not be identified. At the end, bytes_read == bytes_total.
  SourceProgress progress() const override {
    SourceProgress p;
    if (compressed_ && wandio_fd_ < 0) return p;  // unknown
    p.bytes_total = total_;
    if (done_.load(std::memory_order_acquire)) {
      p.bytes_read = total_ ? total_ : consumed_.load(std::memory_order_relaxed);
    } else if (!compressed_) {
      p.bytes_read = consumed_.load(std::memory_order_relaxed);
    } else {
      p.bytes_read = wandio_position(wandio_fd_, id_, total_);
    }
    if (p.bytes_total && p.bytes_read > p.bytes_total) p.bytes_read = p.bytes_total;
    return p;
  }

 protected:
  // End of input reached at a record boundary, or inside a record (truncated).
  void finish() {
    if (in_->avail() > 0 || in_->stream_error()) stats_.truncated_records = 1;
    in_->consume(in_->avail());
    consumed_.store(in_->offset(), std::memory_order_relaxed);
    eof_ = true;
    done_.store(true, std::memory_order_release);
    in_->close();
  }
  void note_progress() { consumed_.store(in_->offset(), std::memory_order_relaxed); }
  [[noreturn]] void corrupt(const std::string& what) const {
    throw SourceError(path_ + ": corrupt " + what + " at offset " + std::to_string(in_->offset()));
  }

  std::string path_;
  std::unique_ptr<Input> in_;
  FileSourceStats stats_;
  bool eof_ = false;
  uint64_t total_;
  bool compressed_;
  int wandio_fd_;
  FileId id_;
  std::atomic<uint64_t> consumed_{0};
  std::atomic<bool> done_{false};
};

// ---------------------------------------------------------------- classic pcap

class PcapReader final : public FileReaderBase {
 public:
  PcapReader(std::string path, Opened o, bool swap, bool nano, uint16_t linktype, uint32_t snaplen)
      : FileReaderBase(std::move(path), std::move(o)), swap_(swap), nano_(nano), linktype_(linktype),
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
          in_->consume(static_cast<size_t>(p - in_->data()));
          corrupt("pcap record (capture length " + std::to_string(caplen) + ")");
        }
        if (static_cast<size_t>(e - p) - 16 < caplen) break;
        RawPacket& r = out[n++];
        r.data = p + 16;
        r.caplen = caplen;
        r.wirelen = ld32<Swap>(p + 12);
        const uint64_t frac = ld32<Swap>(p + 4);
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
  PcapngReader(std::string path, Opened o) : FileReaderBase(std::move(path), std::move(o)) {
    ifaces_.reserve(8);
  }

  CaptureFileFormat format() const override { return CaptureFileFormat::pcapng; }

  size_t read_burst(RawPacket* out, size_t max) override {
    if (eof_ || max == 0) return 0;
    size_t n = 0;
    while (n < max) {
      const size_t avail = in_->avail();
      size_t need = 12;
      if (avail >= 12) {
        const uint8_t* p = in_->data();
        if (raw32(p) == kPcapngShb) set_byte_order(p);
        const uint32_t len = ld32(p + 4, swap_);
        if (len < 12 || (len & 3) != 0 || len > kMaxRecord) corrupt("pcapng block (length " + std::to_string(len) + ")");
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
    int64_t offset_ns = 0;   // if_tsoffset
  };

  void set_byte_order(const uint8_t* p) {
    const uint32_t bom = raw32(p + 8);
    if (bom == kPcapngByteOrder) {
      swap_ = false;
    } else if (bom == __builtin_bswap32(kPcapngByteOrder)) {
      swap_ = true;
    } else {
      corrupt("pcapng section header (byte-order magic " + hex32(bom) + ")");
    }
  }

  uint64_t ts_ns(const Iface& f, uint64_t ts) const {
    uint64_t ns;
    if (f.pow2) {
      using u128 = unsigned __int128;
      const uint64_t sec = f.shift >= 64 ? 0 : ts >> f.shift;
      const u128 frac = f.shift >= 64 ? u128{ts} : u128{ts & ((uint64_t{1} << f.shift) - 1)};
      ns = sec * 1000000000u + static_cast<uint64_t>((frac * 1000000000u) >> f.shift);
    } else {
      ns = f.divide ? ts / f.factor : ts * f.factor;
    }
    return ns + static_cast<uint64_t>(f.offset_ns);
  }

  // Handles one complete block; true when it filled `pkt`.
  bool block(const uint8_t* p, uint32_t len, RawPacket& pkt) {
    const uint32_t type = ld32(p, swap_);
    switch (type) {
      case kPcapngShb: {
        if (len < 28) corrupt("pcapng section header block");
        const uint16_t major = ld16(p + 12, swap_);
        if (major != 1) corrupt("pcapng section header (version " + std::to_string(major) + ")");
        ifaces_.clear();
        ++stats_.sections;
        return false;
      }
      case kIdb: {
        if (len < 20) corrupt("pcapng interface description block");
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
        if (len < 32) corrupt(epb ? "pcapng enhanced packet block" : "pcapng packet block");
        const uint32_t id = epb ? ld32(p + 8, swap_) : ld16(p + 8, swap_);
        const uint32_t caplen = ld32(p + 20, swap_);
        if (caplen > len - 32) {
          corrupt(std::string(epb ? "pcapng enhanced packet block" : "pcapng packet block") + " (capture length " +
                  std::to_string(caplen) + ")");
        }
        const Iface& f = iface(id);
        pkt.data = p + 28;
        pkt.caplen = caplen;
        pkt.wirelen = ld32(p + 24, swap_);
        pkt.ts_ns = ts_ns(f, (uint64_t{ld32(p + 12, swap_)} << 32) | ld32(p + 16, swap_));
        pkt.linktype = f.linktype;
        return true;
      }
      case kSpb: {
        if (len < 16) corrupt("pcapng simple packet block");
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
      corrupt("pcapng packet block (interface " + std::to_string(id) + " not described in this section)");
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
          if (e > 28) corrupt("pcapng interface description block (if_tsresol 10^-" + std::to_string(e) + ")");
          uint64_t k = 1;
          for (unsigned i = 0; i < (e <= 9 ? 9 - e : e - 9); ++i) k *= 10;
          f.divide = e > 9;
          f.factor = k;
        }
      } else if (code == 14 && olen >= 8) {  // if_tsoffset, seconds
        f.offset_ns = static_cast<int64_t>(ld64(v, swap_)) * 1000000000;
      }
      o = v + ((static_cast<size_t>(olen) + 3) & ~size_t{3});
    }
  }

  bool swap_ = false;
  std::vector<Iface> ifaces_;
};

}  // namespace

bool looks_compressed(const uint8_t* h, size_t n) {
  if (n >= 2 && h[0] == 0x1f && (h[1] == 0x8b || h[1] == 0x9d)) return true;        // gzip, compress
  if (n >= 3 && h[0] == 'B' && h[1] == 'Z' && h[2] == 'h') return true;              // bzip2
  if (n >= 5 && h[0] == 0xfd && h[1] == '7' && h[2] == 'z' && h[3] == 'X' && h[4] == 'Z') return true;  // xz
  if (n >= 4 && h[0] == 0x89 && h[1] == 'L' && h[2] == 'Z' && h[3] == 'O') return true;  // lzop
  return false;
}

std::vector<int> open_fds_of(const FileId& id) {
  std::vector<int> out;
  DIR* d = ::opendir("/proc/self/fd");
  if (!d) return out;
  const int own = ::dirfd(d);
  while (const dirent* e = ::readdir(d)) {
    char* endp = nullptr;
    const long fd = std::strtol(e->d_name, &endp, 10);
    if (endp == e->d_name || *endp != '\0' || fd == own) continue;
    struct stat st {};
    if (::fstat(static_cast<int>(fd), &st) == 0 && st.st_dev == id.dev && st.st_ino == id.ino) {
      out.push_back(static_cast<int>(fd));
    }
  }
  ::closedir(d);
  return out;
}

uint64_t wandio_position(int fd, const FileId& id, uint64_t total) {
  struct stat st {};
  if (::fstat(fd, &st) != 0 || st.st_dev != id.dev || st.st_ino != id.ino) return total;
  const off_t pos = ::lseek(fd, 0, SEEK_CUR);
  if (pos <= 0) return 0;
  return std::min<uint64_t>(static_cast<uint64_t>(pos), total);
}

int new_fd_of(const FileId& id, const std::vector<int>& before) {
  int found = -1;
  for (int fd : open_fds_of(id)) {
    if (std::find(before.begin(), before.end(), fd) != before.end()) continue;
    if (found >= 0) return -1;  // ambiguous
    found = fd;
  }
  return found;
}

std::unique_ptr<FileSource> open_capture_file(const std::string& path, uint32_t* magic_out) {
  if (magic_out) *magic_out = 0;
  FileReaderBase::Opened o;
  int fd = -1;
  if (path != "-") {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw SourceError(path + ": cannot open: " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      const int e = errno;
      ::close(fd);
      throw SourceError(path + ": cannot stat: " + std::strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
      ::close(fd);
      throw SourceError(path + ": is a directory");
    }
    if (S_ISREG(st.st_mode)) {
      o.total = static_cast<uint64_t>(st.st_size);
      uint8_t head[8];
      const ssize_t r = ::pread(fd, head, sizeof head, 0);
      o.compressed = r > 0 && looks_compressed(head, static_cast<size_t>(r));
      o.id = FileId{st.st_dev, st.st_ino};
      if (!o.compressed) ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    } else {
      // FIFO, character device ...: let wandio sort out compression.
      o.compressed = true;
    }
  }

  if (fd >= 0 && !o.compressed) {
    o.in = std::make_unique<Input>(path, fd);
  } else {
    if (fd >= 0) ::close(fd);
    std::vector<int> before;
    const bool track = o.compressed && o.total > 0;
    if (track) before = open_fds_of(o.id);
    errno = 0;
    io_t* io = wandio_create(path.c_str());
    if (!io) {
      throw SourceError(path + ": cannot open" + (errno ? std::string(": ") + std::strerror(errno) : std::string()));
    }
    o.in = std::make_unique<Input>(path, io);
    if (track) o.wandio_fd = new_fd_of(o.id, before);
  }

  Input& in = *o.in;
  if (!in.fill(4)) {
    if (in.stream_error() && in.avail() == 0) {
      throw SourceError(path + ": damaged or truncated compressed file (nothing could be decompressed)");
    }
    if (in.avail() == 0) throw SourceError(path + ": empty file (no capture file header)");
    return nullptr;  // 1-3 bytes: not pcap/pcapng
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
  if (pcap) {
    if (!in.fill(24)) throw SourceError(path + ": corrupt pcap file header (truncated: " + std::to_string(in.avail()) + " of 24 bytes)");
    h = in.data();
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
    return std::make_unique<PcapReader>(path, std::move(o), swap, nano, lt, snaplen);
  }
  if (be == kPcapngShb) {
    if (!in.fill(12)) throw SourceError(path + ": corrupt pcapng section header (truncated)");
    const uint32_t bom = raw32(in.data() + 8);
    if (bom != kPcapngByteOrder && bom != __builtin_bswap32(kPcapngByteOrder)) {
      throw SourceError(path + ": corrupt pcapng section header (byte-order magic " + hex32(bom) + ")");
    }
    return std::make_unique<PcapngReader>(path, std::move(o));
  }
  return nullptr;
}

}  // namespace privateer
