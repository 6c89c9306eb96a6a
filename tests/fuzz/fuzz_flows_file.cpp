// libFuzzer harness for pcapextract's flows file parser
// (plugins/pcapextract/flow_list.cpp): FlowList::parse on any text.
// FlowListError is the expected failure and must read "f.txt:LINE: ..."; a
// parsed list must be sorted without duplicates, each key on a line within
// the text, of IP version 4 or 6 (IPv4: the address's last 12 bytes zero),
// and contains() must find every key again, from either direction.
// Built and run by scripts/fuzz.sh flows_file.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "plugins/pcapextract/flow_list.hpp"

using namespace privateer;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  size_t lines = 1;
  for (char c : text) lines += c == '\n';
  try {
    const FlowList l = FlowList::parse(text, "f.txt");
    const auto& k = l.keys();
    if (k.empty()) std::abort();
    static const uint8_t zero[12] = {};
    for (size_t i = 0; i < k.size(); ++i) {
      if (k[i].line < 1 || size_t(k[i].line) > lines) std::abort();
      if (i && !(k[i - 1] < k[i])) std::abort();
      if (k[i].ip_version != 4 && k[i].ip_version != 6) std::abort();
      if (k[i].ip_version == 4 && (std::memcmp(k[i].lo + 4, zero, 12) || std::memcmp(k[i].hi + 4, zero, 12))) std::abort();
      FlowRecord r;
      r.proto = k[i].proto;
      r.ip_version = k[i].ip_version;
      std::memcpy(r.a, k[i].hi, 16);
      std::memcpy(r.b, k[i].lo, 16);
      r.aport = k[i].hi_port;
      r.bport = k[i].lo_port;
      if (!l.contains(r)) std::abort();
      std::swap(r.a, r.b);
      std::swap(r.aport, r.bport);
      if (!l.contains(r)) std::abort();
    }
  } catch (const FlowListError& e) {
    if (std::string(e.what()).rfind("f.txt:", 0) != 0) std::abort();
  }
  return 0;
}
