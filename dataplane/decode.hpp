// Decode a captured packet once into a PacketView.
#pragma once

#include "dataplane/packet.hpp"

namespace privateer {

// Fills `out` from `pkt`. Never reads beyond pkt.caplen. Returns the first
// problem met (also stored in out.error); fields decoded before it are kept.
DecodeError decode_packet(const RawPacket& pkt, PacketView& out);

}  // namespace privateer
