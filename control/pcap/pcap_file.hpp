// pcap and pcapng encoding, and the (optionally compressed) file a packet
// stream writes: the pieces of control/pcap/packet_stream.hpp.
//
// pcap: the 24-byte header (magic a1b2c3d4 for microseconds, a1b23c4d for
// nanoseconds, version 2.4) with the link type of the file's first packet;
// a packet of another link type cannot go in that file. pcapng: a Section
// Header Block, an Interface Description Block for each link type as it
// first appears (with if_tsresol 9 for nanoseconds), an Enhanced Packet
// Block per packet. Both in the host's byte order (little-endian here).
#pragma once

#include <zlib.h>
#include <zstd.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "plugins/packet_output.hpp"

namespace privateer {

class PcapEncoder {
 public:
  PcapEncoder(PacketFormat format, bool nanoseconds, uint32_t snaplen)
      : format_(format), ns_(nanoseconds), snaplen_(snaplen) {}
  // A new file: its header goes in front of its first packet.
  void start_file() {
    started_ = false;
    ifaces_.clear();
  }
  // Appends the packet's record (the file's headers first where due) to
  // `out`; false when a pcap file of another link type cannot take it.
  bool encode(std::string& out, uint64_t ts_ns, uint32_t caplen, uint32_t wirelen, uint16_t linktype,
              const uint8_t* bytes);

 private:
  PacketFormat format_;
  bool ns_;
  uint32_t snaplen_;
  bool started_ = false;
  std::vector<uint16_t> ifaces_;   // pcapng: interface i has link type ifaces_[i]; pcap: the one
};

// A write that failed, with its errno (ENOSPC: the disk is full).
class PacketWriteError : public std::runtime_error {
 public:
  PacketWriteError(const std::string& what, int err) : std::runtime_error(what), err(err) {}
  int err;
};

// One output file: bytes in, compressed (gzip through zlib, zstd through
// libzstd) or not, written in pieces of at least 1 MiB (`write_bytes`
// where given: the per-flow files' 64 KiB).
class PacketFile {
 public:
  PacketFile(PacketCompression c, int level, size_t write_bytes = 0)
      : c_(c), level_(level), write_bytes_(write_bytes ? write_bytes : size_t{1} << 20) {}
  ~PacketFile();
  PacketFile(const PacketFile&) = delete;
  PacketFile& operator=(const PacketFile&) = delete;
  // Creates `path` (truncating it). Throws PacketWriteError.
  void open(const std::string& path);
  void write(const void* data, size_t len);
  // Flushes the compressor and the last bytes, fsyncs and closes.
  void close();
  // Closes without flushing (after a failure).
  void abandon();
  uint64_t bytes_written() const { return written_; }

 private:
  void put(const void* data, size_t len);   // into out_, written out when large
  void flush_out();
  PacketCompression c_;
  int level_;
  size_t write_bytes_;
  int fd_ = -1;
  std::string path_;
  std::string out_;
  uint64_t written_ = 0;
  z_stream z_{};
  bool z_open_ = false;
  ZSTD_CCtx* zc_ = nullptr;
};

// The extension a packet file gets: ".pcap"/".pcapng", then ".gz"/".zst".
std::string packet_file_extension(PacketFormat f, PacketCompression c);

}  // namespace privateer
