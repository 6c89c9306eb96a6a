// Our own streaming readers for pcap, pcapng and ERF trace files. One
// descriptor per file, opened once (FIFOs and standard input work); read with
// plain read() calls in 2 MiB chunks, records parsed in place. Compressed
// files (gzip, bzip2, xz, zstd) are decompressed on the way, on the reading
// thread, straight into the parse buffer. libtrace is not on this path: it
// reads pcap at about half libpcap's speed, and this reader is several times
// faster than libpcap.
//
// A damaged file (a record that cannot be right, a cut-off last record, a
// compressed stream that fails or ends early) ends at the damage: every
// complete packet before it is handed out and damage() says where and why.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "hw/source.hpp"

namespace privateer {

struct FileSourceStats {
  uint64_t packets = 0;            // packets handed out
  uint64_t truncated_records = 0;  // a cut-off final record, or a compressed stream that ends early
                                   // (0 or 1): reading stops there, the packets before it are kept
  uint64_t skipped_blocks = 0;     // pcapng blocks that are neither packets nor SHB/IDB (NRB, ISB,
                                   // custom ...); ERF records that are no packets (pad, meta)
  uint64_t sections = 0;           // pcapng section header blocks seen (0 for pcap)
};

enum class CaptureFileFormat : uint8_t { pcap, pcapng, erf };

// A pcap, pcapng or ERF file being read. read_burst() hands out packets that point
// into the reader's buffer; they stay valid until the next read_burst().
class FileSource : public PacketSource {
 public:
  virtual const FileSourceStats& stats() const = 0;
  virtual CaptureFileFormat format() const = 0;
};

// Opens PATH ("-" reads standard input) and looks at the magic number after
// decompression. Returns the reader for pcap (µs or ns, either byte order),
// pcapng and ERF (no magic number: a first record header that passes the
// tests libtrace's erf_probe_magic makes); returns nullptr when the file opens
// fine but holds another format (then *magic, if given, gets its first bytes as
// a big-endian number, 0 if shorter than 4 bytes). Throws SourceError naming
// PATH when the file cannot be opened or read, is empty, is compressed in a way
// not read here (compress, lzop, lz4), or has a pcap/pcapng magic but a corrupt
// header; SourceInterrupted when interrupt_sources() ended the wait for a
// FIFO's first bytes.
std::unique_ptr<FileSource> open_capture_file(const std::string& path, uint32_t* magic = nullptr);

// The same for a file known to be ERF (an erf: URI): no plausibility test of
// the first record; a pcap or pcapng file is refused.
std::unique_ptr<FileSource> open_erf_file(const std::string& path);

}  // namespace privateer
