#include "dataplane/bpf.hpp"

#include <pcap/pcap.h>

#include <stdexcept>

namespace privateer {

namespace {

constexpr int kSnaplen = 262144;

// The DLT each slot is compiled for, and its name in messages.
struct SlotDlt {
  int dlt;
  const char* name;
};
constexpr SlotDlt kSlotDlts[] = {
    {DLT_NULL, "null"},       {DLT_EN10MB, "ethernet"}, {DLT_RAW, "raw"},     {DLT_LOOP, "loop"},
    {DLT_LINUX_SLL, "linux_sll"}, {DLT_IPV4, "ipv4"},   {DLT_IPV6, "ipv6"},   {DLT_LINUX_SLL2, "linux_sll2"},
};

}  // namespace

BpfProgram::Slot BpfProgram::slot_of(uint16_t linktype) {
  switch (linktype) {
    case linktype::ethernet: return kEthernet;
    case linktype::raw:
    case linktype::raw_12:
    case linktype::raw_14: return kRaw;
    case linktype::null: return kNull;
    case linktype::loop: return kLoop;
    case linktype::linux_sll: return kSll;
    case linktype::ipv4: return kIpv4;
    case linktype::ipv6: return kIpv6;
    case linktype::linux_sll2: return kSll2;
    default: return kNone;
  }
}

BpfProgram::BpfProgram(std::string name, std::string expression)
    : name_(std::move(name)), expression_(std::move(expression)) {
  static_assert(sizeof(kSlotDlts) / sizeof(kSlotDlts[0]) == kSlots);
  std::string first_error;
  bool any = false;
  for (size_t s = 0; s < kSlots; ++s) {
    pcap_t* p = pcap_open_dead(kSlotDlts[s].dlt, kSnaplen);
    if (!p) {
      free_code();
      throw std::runtime_error("pcap_open_dead failed");
    }
    bpf_program prog{};
    if (pcap_compile(p, &prog, expression_.c_str(), 1, PCAP_NETMASK_UNKNOWN) == 0) {
      code_[s] = Code{prog.bf_insns, prog.bf_len};
      any = true;
    } else {
      const std::string msg = pcap_geterr(p);
      if (s == kEthernet || first_error.empty()) first_error = msg;
      unsupported_.push_back(std::string(kSlotDlts[s].name) + ": " + msg);
    }
    pcap_close(p);
  }
  if (!any) throw std::invalid_argument(first_error);
}

BpfProgram::~BpfProgram() { free_code(); }

void BpfProgram::free_code() {
  for (Code& c : code_) {
    if (!c.insns) continue;
    bpf_program prog{c.len, const_cast<bpf_insn*>(c.insns)};
    pcap_freecode(&prog);
    c = Code{};
  }
}

bool BpfProgram::matches(const PacketView& v, const uint8_t* data) const {
  Slot slot = slot_of(v.linktype);
  const uint8_t* p = data;
  uint32_t cap = p ? v.caplen : 0;
  if (v.linktype == linktype::erf) {
    // The record header (16 bytes), extension headers (8 each while the top
    // bit of the previous type byte is set), then for the Ethernet types 2
    // bytes of offset and pad before the frame.
    if (cap < 16) return false;
    const uint8_t type = p[8];
    uint32_t off = 16;
    if (type & 0x80) {
      for (;;) {
        if (cap - off < 8) return false;
        const uint8_t h = p[off];
        off += 8;
        if (!(h & 0x80)) break;
      }
    }
    switch (type & 0x7F) {
      case 2: case 11: case 16: case 20:   // ETH, COLOR_ETH, DSM_COLOR_ETH, COLOR_HASH_ETH
        off += 2;
        slot = kEthernet;
        break;
      case 22: case 23:                    // IPV4, IPV6
        slot = kRaw;
        break;
      default:
        return false;
    }
    if (off > cap) return false;
    p += off;
    cap -= off;
  }
  if (slot == kNone) return false;
  const Code& c = code_[slot];
  if (!c.insns) return false;
  return bpf_filter(c.insns, p, v.wirelen, cap) != 0;
}

size_t filter_input(const TagTables* tables, PacketView* views, const uint8_t** data, size_t n,
                    TagCounters& counters) {
  if (!tables || !tables->input) return n;
  const BpfProgram& filter = *tables->input;
  size_t kept = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!filter.matches(views[i], data[i])) continue;
    if (kept != i) {
      views[kept] = views[i];
      data[kept] = data[i];
    }
    ++kept;
  }
  auto& c = counters.input_filtered;
  c.store(c.load(std::memory_order_relaxed) + (n - kept), std::memory_order_relaxed);
  return kept;
}

void tag_custom(const TagTables* tables, PacketView* views, const uint8_t* const* data, size_t n) {
  if (!tables) return;
  const auto& filters = tables->custom;
  const size_t nf = filters.size() < kMaxCustomFilters ? filters.size() : kMaxCustomFilters;
  for (size_t f = 0; f < nf; ++f) {
    const BpfProgram& prog = *filters[f];
    const uint64_t bit = uint64_t{1} << f;
    for (size_t i = 0; i < n; ++i) {
      if (prog.matches(views[i], data[i])) views[i].custom_bits |= bit;
    }
  }
}

}  // namespace privateer
