// libFuzzer harness for capture files, the outside input read most: the
// input is written to a memory file and opened with open_source()
// (hw/source.hpp) as any path is, so whatever hw/ reads it with is fuzzed:
// pcap and pcapng, ERF and the other formats libtrace recognises, each also
// compressed (gzip, bzip2, xz, ... through wandio). Every packet is read to
// the source's end, every captured byte touched (so that a packet pointing
// past its buffer is an AddressSanitizer report) and decoded with the
// dataplane decoder, as the workers do.
// SourceError is the expected failure; any other exception escapes and
// libFuzzer reports it, as it does a crash, a hang or a sanitizer report.
// Built by meson with -Dfuzz=true and run by scripts/fuzz.sh capture.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "dataplane/decode.hpp"
#include "hw/source.hpp"

using namespace privateer;

namespace {

// One memory file for all inputs, rewritten for each.
int memory_file() {
  static const int fd = [] {
    const int f = ::memfd_create("fuzz_capture", 0);
    if (f < 0) {
      std::perror("memfd_create");
      std::abort();
    }
    return f;
  }();
  return fd;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const int fd = memory_file();
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) {
    std::perror("memory file");
    std::abort();
  }
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  RawPacket burst[64];
  PacketView view;
  volatile uint8_t sink = 0;
  try {
    const auto src = open_source(path);
    while (!src->eof()) {
      const size_t n = src->read_burst(burst, 64);
      for (size_t i = 0; i < n; ++i) {
        uint8_t x = 0;
        for (uint32_t b = 0; b < burst[i].caplen; ++b) x ^= burst[i].data[b];
        sink = sink ^ x;
        decode_packet(burst[i], view);
      }
    }
  } catch (const SourceError&) {
  }
  return 0;
}
