// Capture sources: everything that delivers bursts of packets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "dataplane/packet.hpp"

namespace privateer {

class SourceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Opening or reading a FIFO, a pipe or standard input was given up because
// interrupt_sources() was called (a stop signal) before any data came.
class SourceInterrupted : public SourceError {
 public:
  using SourceError::SourceError;
};

// Makes every wait for input on a FIFO, pipe or standard input (in open and
// in read_burst) give up within ~100 ms, for good: a run stopped by a signal
// ends even when its input never sends anything. Regular files are not
// affected (their reads do not block). Safe to call from any thread.
void interrupt_sources();

// Where and why a capture file could not be read to its end. The reader
// stops that file there; every complete packet before `offset` was handed out.
struct InputDamage {
  std::string path;
  uint64_t offset = 0;   // byte offset of the bad or cut-off record, counted in
                         // the uncompressed data for compressed files
  std::string reason;    // one of kInputDamageReasons
  std::string message;   // what was wrong, for the log
};

// The reasons an InputDamage gives (the metric label of
// privateer_input_errors_total):
//  truncated_record         the file ends inside a record (cut short)
//  bad_caplen               a pcap record or pcapng packet block longer than possible
//  bad_block_length         a pcapng block length below 12, not a multiple of 4 or above 64 MiB
//  bad_block                another impossible pcapng block (section version, interface ...)
//  bad_rlen                 an ERF record length below 16 or shorter than its headers
//  compressed_stream_error  the decompressor failed or the compressed data ends early
//  read_error               read() failed
//  open_failed              a file of a directory or list could not be opened or
//                           has no capture file header (the next file is read)
inline constexpr const char* kInputDamageReasons[] = {
    "truncated_record", "bad_caplen", "bad_block_length", "bad_block",
    "bad_rlen", "compressed_stream_error", "read_error", "open_failed"};

struct SourceProgress {
  uint64_t bytes_read = 0;    // bytes of input consumed so far (compressed bytes for compressed files)
  uint64_t bytes_total = 0;   // total input bytes, 0 where unknown (live sources)
};

class PacketSource {
 public:
  virtual ~PacketSource() = default;
  // Fills up to `max` packets into `out`. Their data stays valid until the
  // next call. Returns 0 at the end of the input (then eof() is true) or when
  // a live source has nothing yet. Throws SourceError on a read error.
  virtual size_t read_burst(RawPacket* out, size_t max) = 0;
  virtual bool eof() const = 0;
  virtual SourceProgress progress() const = 0;
  // The damage met so far, in the order met (a file stops at its first).
  // Safe to call from any thread while another reads.
  virtual std::vector<InputDamage> damage() const { return {}; }
  // Packets left out because their timestamp cannot be right (a fraction of
  // a second of 10^6 µs or more, a time past 2^64 ns since 1970 or before
  // 1970). Safe to call from any thread.
  virtual uint64_t bad_timestamps() const { return 0; }
  // Human-readable name for logs and the metric label `source`.
  virtual std::string name() const = 0;
  // True for live captures (interfaces, DAG cards, streams): time goes on
  // while no packet arrives.
  virtual bool live() const { return false; }
};

// Opens one packet source URI:
//  - a plain path, `-` (standard input), `pcapfile:PATH`, `erf:PATH`: pcap
//    (µs or ns, either byte order), pcapng or ERF, read by our own readers,
//    chosen by the magic number (ERF: a plausible first record header) after
//    transparent decompression (gzip, bzip2, xz, zstd); a directory is read
//    file by file in name order;
//  - a live libtrace URI (`int:`, `ring:`, `pcapint:`, `bpf:`, `dag:`,
//    `rt:`, `dpdk:`) through libtrace.
// Throws SourceError with a message naming the URI on failure, and
// SourceInterrupted when interrupt_sources() ended a wait for a FIFO.
std::unique_ptr<PacketSource> open_source(const std::string& uri);

// True when `uri` names a live capture read through libtrace (int:, ring:,
// pcapint:, bpf:, dag:, rt:, dpdk:), false for trace files.
bool is_live_uri(const std::string& uri);

// Checks what `uri` points at without reading packets: a path exists and is
// readable, a directory holds capture files, libtrace knows a live URI's
// format (see probe_libtrace_uri). Returns the files it stands for, in
// reading order (none for standard input and live URIs). Throws SourceError
// with the message open_source() would give.
std::vector<std::string> check_source(const std::string& uri);

// Several URIs read one after another, in the given order.
std::unique_ptr<PacketSource> open_sources(const std::vector<std::string>& uris);

}  // namespace privateer
