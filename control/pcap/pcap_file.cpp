#include "control/pcap/pcap_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace privateer {
namespace {

template <typename T>
void put_le(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

std::string errno_text(int e) { return std::strerror(e); }

}  // namespace

const char* packet_drop_name(PacketDrop r) {
  switch (r) {
    case PacketDrop::buffer_full: return "buffer_full";
    case PacketDrop::no_space: return "no_space";
    case PacketDrop::io_error: return "io_error";
    case PacketDrop::linktype: return "linktype";
  }
  return "io_error";
}

std::string packet_file_extension(PacketFormat f, PacketCompression c) {
  std::string e = f == PacketFormat::pcap ? ".pcap" : ".pcapng";
  if (c == PacketCompression::gzip) e += ".gz";
  if (c == PacketCompression::zstd) e += ".zst";
  return e;
}

bool PcapEncoder::encode(std::string& out, uint64_t ts_ns, uint32_t caplen, uint32_t wirelen, uint16_t linktype,
                         const uint8_t* bytes) {
  if (format_ == PacketFormat::pcap) {
    if (!started_) {
      put_le<uint32_t>(out, ns_ ? 0xa1b23c4d : 0xa1b2c3d4);
      put_le<uint16_t>(out, 2);
      put_le<uint16_t>(out, 4);
      put_le<int32_t>(out, 0);
      put_le<uint32_t>(out, 0);
      put_le<uint32_t>(out, snaplen_);
      put_le<uint32_t>(out, linktype);
      ifaces_.assign(1, linktype);
      started_ = true;
    } else if (ifaces_[0] != linktype) {
      return false;
    }
    put_le<uint32_t>(out, static_cast<uint32_t>(ts_ns / 1000000000u));
    put_le<uint32_t>(out, static_cast<uint32_t>(ns_ ? ts_ns % 1000000000u : ts_ns % 1000000000u / 1000u));
    put_le<uint32_t>(out, caplen);
    put_le<uint32_t>(out, wirelen);
    out.append(reinterpret_cast<const char*>(bytes), caplen);
    return true;
  }
  if (!started_) {  // Section Header Block, no options
    put_le<uint32_t>(out, 0x0A0D0D0A);
    put_le<uint32_t>(out, 28);
    put_le<uint32_t>(out, 0x1A2B3C4D);
    put_le<uint16_t>(out, 1);
    put_le<uint16_t>(out, 0);
    put_le<int64_t>(out, -1);
    put_le<uint32_t>(out, 28);
    started_ = true;
  }
  uint32_t iface = 0;
  while (iface < ifaces_.size() && ifaces_[iface] != linktype) ++iface;
  if (iface == ifaces_.size()) {  // Interface Description Block
    const uint32_t len = ns_ ? 32 : 20;
    put_le<uint32_t>(out, 1);
    put_le<uint32_t>(out, len);
    put_le<uint16_t>(out, linktype);
    put_le<uint16_t>(out, 0);
    put_le<uint32_t>(out, snaplen_);
    if (ns_) {
      put_le<uint16_t>(out, 9);   // if_tsresol
      put_le<uint16_t>(out, 1);
      put_le<uint32_t>(out, 9);   // 10^-9, then 3 bytes of padding (little-endian)
      put_le<uint32_t>(out, 0);   // opt_endofopt
    }
    put_le<uint32_t>(out, len);
    ifaces_.push_back(linktype);
  }
  const uint32_t pad = (4 - caplen % 4) % 4;
  const uint32_t len = 32 + caplen + pad;
  const uint64_t ts = ns_ ? ts_ns : ts_ns / 1000u;
  put_le<uint32_t>(out, 6);
  put_le<uint32_t>(out, len);
  put_le<uint32_t>(out, iface);
  put_le<uint32_t>(out, static_cast<uint32_t>(ts >> 32));
  put_le<uint32_t>(out, static_cast<uint32_t>(ts));
  put_le<uint32_t>(out, caplen);
  put_le<uint32_t>(out, wirelen);
  out.append(reinterpret_cast<const char*>(bytes), caplen);
  out.append(pad, '\0');
  put_le<uint32_t>(out, len);
  return true;
}

PacketFile::~PacketFile() { abandon(); }

void PacketFile::open(const std::string& path) {
  path_ = path;
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    const int e = errno;
    throw PacketWriteError("cannot create " + path + ": " + errno_text(e), e);
  }
  written_ = 0;
  out_.clear();
  out_.reserve(2 * write_bytes_);
  if (c_ == PacketCompression::gzip) {
    z_ = z_stream{};
    // 15 + 16: a gzip header and trailer around the deflate stream.
    if (deflateInit2(&z_, level_ ? level_ : Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
      throw PacketWriteError("zlib: deflateInit2 failed", EINVAL);
    }
    z_open_ = true;
  } else if (c_ == PacketCompression::zstd) {
    zc_ = ZSTD_createCCtx();
    if (!zc_) throw PacketWriteError("zstd: out of memory", ENOMEM);
    ZSTD_CCtx_setParameter(zc_, ZSTD_c_compressionLevel, level_ ? level_ : ZSTD_CLEVEL_DEFAULT);
    ZSTD_CCtx_setParameter(zc_, ZSTD_c_checksumFlag, 1);
  }
}

void PacketFile::flush_out() {
  size_t off = 0;
  while (off < out_.size()) {
    const ssize_t n = ::write(fd_, out_.data() + off, out_.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int e = errno;
      throw PacketWriteError("cannot write " + path_ + ": " + errno_text(e), e);
    }
    off += static_cast<size_t>(n);
  }
  written_ += out_.size();
  out_.clear();
}

void PacketFile::put(const void* data, size_t len) {
  out_.append(static_cast<const char*>(data), len);
  if (out_.size() >= write_bytes_) flush_out();
}

void PacketFile::write(const void* data, size_t len) {
  if (c_ == PacketCompression::none) {
    put(data, len);
    return;
  }
  char chunk[64 * 1024];
  if (c_ == PacketCompression::gzip) {
    z_.next_in = static_cast<Bytef*>(const_cast<void*>(data));
    z_.avail_in = static_cast<uInt>(len);
    while (z_.avail_in) {
      z_.next_out = reinterpret_cast<Bytef*>(chunk);
      z_.avail_out = sizeof chunk;
      deflate(&z_, Z_NO_FLUSH);
      put(chunk, sizeof chunk - z_.avail_out);
    }
    return;
  }
  ZSTD_inBuffer in{data, len, 0};
  while (in.pos < in.size) {
    ZSTD_outBuffer o{chunk, sizeof chunk, 0};
    const size_t r = ZSTD_compressStream2(zc_, &o, &in, ZSTD_e_continue);
    if (ZSTD_isError(r)) throw PacketWriteError(std::string("zstd: ") + ZSTD_getErrorName(r), EIO);
    put(chunk, o.pos);
  }
}

void PacketFile::close() {
  char chunk[64 * 1024];
  if (c_ == PacketCompression::gzip) {
    z_.next_in = nullptr;
    z_.avail_in = 0;
    int r;
    do {
      z_.next_out = reinterpret_cast<Bytef*>(chunk);
      z_.avail_out = sizeof chunk;
      r = deflate(&z_, Z_FINISH);
      put(chunk, sizeof chunk - z_.avail_out);
    } while (r == Z_OK);
  } else if (c_ == PacketCompression::zstd) {
    ZSTD_inBuffer in{nullptr, 0, 0};
    size_t left;
    do {
      ZSTD_outBuffer o{chunk, sizeof chunk, 0};
      left = ZSTD_compressStream2(zc_, &o, &in, ZSTD_e_end);
      if (ZSTD_isError(left)) throw PacketWriteError(std::string("zstd: ") + ZSTD_getErrorName(left), EIO);
      put(chunk, o.pos);
    } while (left);
  }
  flush_out();
  if (::fsync(fd_) != 0 && errno != EINVAL) {
    const int e = errno;
    throw PacketWriteError("cannot fsync " + path_ + ": " + errno_text(e), e);
  }
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) {
    const int e = errno;
    throw PacketWriteError("cannot close " + path_ + ": " + errno_text(e), e);
  }
  abandon();
}

void PacketFile::abandon() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (z_open_) deflateEnd(&z_);
  z_open_ = false;
  if (zc_) ZSTD_freeCCtx(zc_);
  zc_ = nullptr;
  out_.clear();
}

}  // namespace privateer
