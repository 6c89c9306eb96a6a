// Symmetric flow hash: both directions of a flow give the same value, so they
// reach the same worker.
#pragma once

#include <cstdint>

#include "dataplane/packet.hpp"

namespace privateer {

uint32_t symmetric_flow_hash(const PacketView& v);

}  // namespace privateer
