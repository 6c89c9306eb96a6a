// Our own streaming readers for pcap and pcapng trace files. Compressed files
// (gzip, bzip2, xz ...) are decompressed by wandio; uncompressed ones are read
// with plain read() calls (wandio's read-ahead thread made them 5-10x slower).
// Either way the input is read in 2 MiB chunks and records are parsed in
// place. libtrace is not on this path: it reads pcap at about half libpcap's
// speed, and this reader is several times faster than libpcap.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <sys/types.h>
#include <vector>

#include "hw/source.hpp"

namespace privateer {

struct FileSourceStats {
  uint64_t packets = 0;            // packets handed out
  uint64_t truncated_records = 0;  // a cut-off final record, or a compressed stream that ends early
                                   // (0 or 1): reading stops there, the packets before it are kept
  uint64_t skipped_blocks = 0;     // pcapng blocks that are neither packets nor SHB/IDB (NRB, ISB, custom ...)
  uint64_t sections = 0;           // pcapng section header blocks seen (0 for pcap)
};

enum class CaptureFileFormat : uint8_t { pcap, pcapng };

// A pcap or pcapng file being read. read_burst() hands out packets that point
// into the reader's buffer; they stay valid until the next read_burst().
class FileSource : public PacketSource {
 public:
  virtual const FileSourceStats& stats() const = 0;
  virtual CaptureFileFormat format() const = 0;
};

// Opens PATH ("-" reads standard input) and looks at the magic number after
// decompression. Returns the reader for pcap (µs or ns, either byte order) and
// pcapng; returns nullptr when the file opens fine but holds another format
// (then *magic, if given, gets its first bytes as a big-endian number, 0 if
// shorter than 4 bytes). Throws SourceError naming PATH when the file cannot be
// opened or read, is empty, or has a pcap/pcapng magic but a corrupt header.
std::unique_ptr<FileSource> open_capture_file(const std::string& path, uint32_t* magic = nullptr);

// Compressed-input progress: wandio opens the file itself and does not say how
// many compressed bytes it has consumed. These find wandio's descriptor for the
// file (the one that appeared while it was opened) so that its file position,
// which counts compressed bytes read, can be reported.
struct FileId {
  dev_t dev = 0;
  ino_t ino = 0;
};
std::vector<int> open_fds_of(const FileId& id);
// The descriptor for `id` that is open now but not in `before`; -1 unless exactly one.
int new_fd_of(const FileId& id, const std::vector<int>& before);

// Compressed bytes wandio has read from the file behind `fd` (its position),
// clamped to `total`; `total` once the descriptor no longer refers to the file
// (wandio closes it when it has read everything).
uint64_t wandio_position(int fd, const FileId& id, uint64_t total);

// True when the bytes look like the start of a gzip, compress, bzip2 or xz stream.
bool looks_compressed(const uint8_t* head, size_t n);

}  // namespace privateer
