// Cost of corsaro3's built-in filters per packet: a capture is read into
// memory and decoded once, then, over bursts of 32 packets, timed for
//   filters     apply_builtin_filters() alone
//   tag stage   TagStage::process() with the filters on: filters, per-filter
//               counting, no removal (the cost every run pays)
//   + remove    the same with removespoofed and removenotscan set (the
//               views are restored from a copy before every burst, outside
//               the timed region)
// usage: bench_filters CAPTURE [PASSES]   (default 20 passes over the capture;
// each figure is the fastest of three such timings)
#include <pcap/pcap.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "dataplane/decode.hpp"
#include "dataplane/filters.hpp"
#include "dataplane/tags.hpp"

using namespace privateer;
using Clock = std::chrono::steady_clock;

namespace {

constexpr size_t kBurst = 32;

struct Capture {
  std::vector<std::vector<uint8_t>> bytes;
  std::vector<PacketView> views;
  std::vector<const uint8_t*> data;
};

Capture load(const char* path) {
  char err[PCAP_ERRBUF_SIZE];
  pcap_t* p = pcap_open_offline(path, err);
  if (!p) {
    std::fprintf(stderr, "bench_filters: %s\n", err);
    std::exit(1);
  }
  Capture c;
  const auto lt = static_cast<uint16_t>(pcap_datalink(p));
  pcap_pkthdr* h;
  const u_char* d;
  while (pcap_next_ex(p, &h, &d) == 1) c.bytes.emplace_back(d, d + h->caplen);
  pcap_close(p);
  for (const auto& b : c.bytes) {
    RawPacket r;
    r.data = b.data();
    r.caplen = r.wirelen = static_cast<uint32_t>(b.size());
    r.linktype = lt;
    PacketView v;
    decode_packet(r, v);
    c.views.push_back(v);
    c.data.push_back(b.data());
  }
  return c;
}

// ns per packet of `step(views, data, n)` over `passes` passes in bursts.
template <typename Step>
double time_once(Capture& c, int passes, Step step) {
  const size_t n = c.views.size();
  std::vector<PacketView> views(kBurst);
  std::vector<const uint8_t*> data(kBurst);
  Clock::duration total{};
  for (int pass = 0; pass < passes; ++pass) {
    for (size_t i = 0; i < n; i += kBurst) {
      const size_t k = std::min(kBurst, n - i);
      std::copy_n(c.views.begin() + i, k, views.begin());
      std::copy_n(c.data.begin() + i, k, data.begin());
      const auto t0 = Clock::now();
      step(views.data(), data.data(), k);
      total += Clock::now() - t0;
    }
  }
  return std::chrono::duration<double, std::nano>(total).count() / (static_cast<double>(n) * passes);
}

// The fastest of three timings (the others lost time to other processes).
template <typename Step>
double time_bursts(Capture& c, int passes, Step step) {
  double best = time_once(c, passes, step);
  for (int i = 0; i < 2; ++i) best = std::min(best, time_once(c, passes, step));
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_filters CAPTURE [PASSES]\n");
    return 2;
  }
  const int passes = argc > 2 ? std::atoi(argv[2]) : 20;
  Capture c = load(argv[1]);
  if (c.views.empty()) {
    std::fprintf(stderr, "bench_filters: no packets\n");
    return 1;
  }
  // Time measurement itself, to subtract.
  const double empty = time_bursts(c, passes, [](PacketView*, const uint8_t**, size_t) {});
  const double filters = time_bursts(c, passes, [](PacketView* v, const uint8_t** d, size_t n) {
    apply_builtin_filters(v, d, n);
  });
  TagSettings s;
  s.builtin_filters = true;
  TagStage stage(s, nullptr, 0);
  const double tag = time_bursts(c, passes, [&](PacketView* v, const uint8_t** d, size_t n) { stage.process(v, d, n); });
  TagSettings r = s;
  r.remove_builtin = uint64_t{1} << builtin::spoofed;
  r.keep_builtin = uint64_t{1} << builtin::large_scale_scan;
  TagStage rstage(r, nullptr, 0);
  size_t kept = 0;
  const double rm = time_bursts(c, passes, [&](PacketView* v, const uint8_t** d, size_t n) { kept += rstage.process(v, d, n); });
  kept /= 3;   // time_bursts ran it three times
  std::printf("%zu packets x %d passes, bursts of %zu; ns/packet (timer overhead %.2f subtracted):\n", c.views.size(),
              passes, kBurst, empty);
  std::printf("  filters     %.2f\n  tag stage   %.2f\n  + remove    %.2f  (%.1f%% kept)\n", filters - empty,
              tag - empty, rm - empty, 100.0 * static_cast<double>(kept) / (static_cast<double>(c.views.size()) * passes));
  return 0;
}
