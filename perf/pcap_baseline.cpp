// pcap_baseline: the "libpcap alone" reference for capture-file throughput.
//
//   pcap_baseline FILE
//
// Opens FILE with pcap_open_offline, reads every packet with pcap_next_ex and
// touches one byte of each (so the data really is brought in), then prints
// one machine-readable line on stdout:
//
//   packets=N seconds=S pps=R
//
// `seconds` is wall time from just before pcap_open_offline to the end of the
// read loop (process start-up is not included). Anything else goes to stderr.

#include <pcap/pcap.h>

#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>

int main(int argc, char** argv) {
  if (argc != 2 || (argv[1][0] == '-' && argv[1][1] != '\0')) {
    std::fprintf(stderr, "usage: pcap_baseline FILE   (prints: packets=N seconds=S pps=R)\n");
    return 2;
  }
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  const auto t0 = std::chrono::steady_clock::now();
  pcap_t* p = pcap_open_offline(argv[1], errbuf);
  if (!p) {
    std::fprintf(stderr, "pcap_baseline: %s\n", errbuf);
    return 1;
  }
  uint64_t packets = 0;
  unsigned sink = 0;
  pcap_pkthdr* hdr;
  const u_char* data;
  int rc;
  while ((rc = pcap_next_ex(p, &hdr, &data)) == 1) {
    if (hdr->caplen) sink += data[0];
    ++packets;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (rc == PCAP_ERROR) {
    std::fprintf(stderr, "pcap_baseline: read error after %" PRIu64 " packets: %s\n", packets, pcap_geterr(p));
    pcap_close(p);
    return 1;
  }
  pcap_close(p);
  // Keep the touched bytes observable so the reads cannot be optimised away.
  if (sink == 0xdeadbeefu) std::fputc('\n', stderr);
  std::printf("packets=%" PRIu64 " seconds=%.6f pps=%.0f\n", packets, secs,
              secs > 0 ? static_cast<double>(packets) / secs : 0.0);
  return 0;
}
