// Capture sources read through libtrace: live capture only (int:, ring:,
// pcapint:, bpf:, dag:, rt:, dpdk:). Trace files (pcap, pcapng, ERF) are read
// by our own readers (file_source.hpp); libtrace's other file formats (tsh,
// legacy ATM/Ethernet/PoS, DUCK) are not read.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "hw/source.hpp"

namespace privateer {

// Opens a live libtrace URI ("int:eth0", "dag:/dev/dag0", ...). ERF records
// (DAG cards, ERF over rt:) are delivered whole, ERF header included, with
// linktype::erf; other packets from their first captured byte with the
// libtrace link type mapped to a pcap LINKTYPE. read_burst() does not block
// for long: it returns 0 after ~100 ms without packets. Throws SourceError
// naming the URI when libtrace cannot open it or it is not a live URI.
std::unique_ptr<PacketSource> open_libtrace_source(const std::string& uri);

// The pcap LINKTYPE for a libtrace link type (libtrace_linktype_t), or -1
// where there is none.
int libtrace_linktype_to_pcap(int libtrace_linktype);

// Checks that libtrace can create a trace for `uri` (its format is built in:
// dag: needs DAG support) without starting the capture. Throws SourceError
// with the message open_libtrace_source() would give.
void probe_libtrace_uri(const std::string& uri);

}  // namespace privateer
