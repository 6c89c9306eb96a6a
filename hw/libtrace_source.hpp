// Capture sources read through libtrace: live capture (int:, ring:, pcapint:,
// dag:, rt: ...) and the trace file formats other than pcap/pcapng (erf: ...).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "hw/source.hpp"

namespace privateer {

// Opens a libtrace URI ("erf:PATH", "int:eth0", "dag:/dev/dag0", ...). ERF
// records (ERF files, DAG cards, ERF over rt:) are delivered whole, ERF header
// included, with linktype::erf; other packets from their first captured byte
// with the libtrace link type mapped to a pcap LINKTYPE. Live URIs do not
// block for long: read_burst() returns 0 after ~100 ms without packets.
// Throws SourceError naming the URI when libtrace cannot open it.
std::unique_ptr<PacketSource> open_libtrace_source(const std::string& uri);

// Lets libtrace guess the format of the trace file PATH (a plain path, no
// "format:" prefix). Returns nullptr when libtrace does not recognise the
// format; throws SourceError for other failures.
std::unique_ptr<PacketSource> open_libtrace_guess(const std::string& path);

// The pcap LINKTYPE for a libtrace link type (libtrace_linktype_t), or -1
// where there is none.
int libtrace_linktype_to_pcap(int libtrace_linktype);

// Checks that libtrace can create a trace for `uri` (its format is built in:
// dag: needs DAG support) without starting the capture. Throws SourceError
// with the message open_libtrace_source() would give.
void probe_libtrace_uri(const std::string& uri);

}  // namespace privateer
