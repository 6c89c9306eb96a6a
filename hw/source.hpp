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
  // Human-readable name for logs and the metric label `source`.
  virtual std::string name() const = 0;
  // True for live captures (interfaces, DAG cards, streams): time goes on
  // while no packet arrives.
  virtual bool live() const { return false; }
};

// Opens one packet source URI:
//  - a plain path or `pcapfile:PATH`: pcap (µs or ns, either byte order) or
//    pcapng, chosen by the file's magic number after transparent
//    decompression (gzip, bzip2, xz, ... through wandio); a directory is read
//    file by file in name order; other magic numbers are handed to libtrace's
//    format detection (ERF, ...);
//  - any other libtrace URI (`erf:`, `int:`, `ring:`, `pcapint:`, `dag:` ...)
//    through libtrace.
// Throws SourceError with a message naming the URI on failure.
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
