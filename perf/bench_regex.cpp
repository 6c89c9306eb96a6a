// Block-mode scan throughput of the regex plugin's database (plugins/regex):
// HTTP-like request and response payloads generated here, a rules set of
// RULES generated rules (literals, header patterns, classes, alternations,
// caseless ones), hs_scan over every payload with HS_FLAG_SINGLEMATCH as the
// plugin does, on one core; against memchr over the same bytes (a byte no
// payload holds, so every byte is read). Prints one line:
//   rules=N packets=P bytes_per_packet=B regex_gbps=X memchr_gbps=Y ratio=X/Y matches=M
// usage: bench_regex RULES [PACKETS] [SECONDS]
#include <hs/hs.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "plugins/regex/rules.hpp"

using namespace privateer;
using Clock = std::chrono::steady_clock;

namespace {

const char* const kWords[] = {"index", "api", "v1", "users", "login", "static", "img", "search", "cart", "item",
                              "news", "video", "js", "css", "admin", "wp", "data", "feed", "auth", "home"};

std::string payload(std::mt19937_64& rng) {
  auto word = [&] { return std::string(kWords[rng() % 20]); };
  std::string p;
  if (rng() % 2) {
    static const char* const methods[] = {"GET", "POST", "HEAD", "PUT"};
    p = std::string(methods[rng() % 4]) + " /" + word() + "/" + word() + "?id=" + std::to_string(rng() % 100000) +
        " HTTP/1.1\r\nHost: www." + word() + ".example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) " + word() +
        "/" + std::to_string(rng() % 100) + "\r\nAccept: text/html,application/xhtml+xml\r\nCookie: s=" +
        std::to_string(rng()) + "\r\n\r\n";
  } else {
    p = "HTTP/1.1 " + std::string(rng() % 5 ? "200 OK" : "404 Not Found") +
        "\r\nServer: nginx\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 900\r\n\r\n<html><body>";
    const size_t body = 200 + rng() % 1000;
    while (p.size() < body) p += "<p>" + word() + " " + word() + " " + word() + "</p>\n";
  }
  return p;
}

// Rule i of the set: forms that real HTTP rule sets use, each with a
// distinct literal so that the set grows as RULES grows.
std::string rule_line(size_t i) {
  const std::string n = std::to_string(i);
  switch (i % 6) {
    case 0: return "r" + n + " tcp /^GET \\/" + kWords[i % 20] + n + "\\//";
    case 1: return "r" + n + " /user-agent:[^\\r\\n]*scan" + n + "/i";
    case 2: return "r" + n + " tcp port=80 /\\?id=" + n + "[0-9]{3}&/";
    case 3: return "r" + n + " /(cmd|exec|shell)" + n + "=/";
    case 4: return "r" + n + " /<script>[^<]{0,40}x" + n + "/i";
    default: return "r" + n + " /host: [a-z]+\\.bad" + n + "\\.example/i";
  }
}

int count_match(unsigned int, unsigned long long, unsigned long long, unsigned int, void* ctx) {
  ++*static_cast<uint64_t*>(ctx);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_regex RULES [PACKETS] [SECONDS]\n");
    return 2;
  }
  const size_t nrules = std::strtoul(argv[1], nullptr, 10);
  const size_t npackets = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 20000;
  const double seconds = argc > 3 ? std::strtod(argv[3], nullptr) : 2.0;
  std::mt19937_64 rng(1);
  std::vector<std::string> payloads;
  size_t bytes = 0;
  for (size_t i = 0; i < npackets; ++i) {
    payloads.push_back(payload(rng));
    bytes += payloads.back().size();
  }
  std::string text;
  for (size_t i = 0; i < nrules; ++i) text += rule_line(i) + "\n";
  const auto db = compile_rules(parse_rules(text, "bench"), "bench");
  hs_scratch_t* scratch = nullptr;
  if (hs_alloc_scratch(db->db, &scratch) != HS_SUCCESS) return 1;

  // Passes over all payloads until `seconds` have gone by; bits per second.
  auto measure = [&](auto&& pass) {
    size_t passes = 0;
    const auto t0 = Clock::now();
    double el = 0;
    while (el < seconds) {
      pass();
      ++passes;
      el = std::chrono::duration<double>(Clock::now() - t0).count();
    }
    return 8.0 * bytes * passes / el / 1e9;
  };
  uint64_t matches = 0;
  const double regex = measure([&] {
    for (const auto& p : payloads) hs_scan(db->db, p.data(), p.size(), 0, scratch, count_match, &matches);
  });
  // Stream mode: the payloads as flows of 4 packets, each flow a stream
  // (as the plugin's stream mode scans a TCP direction), reset each pass.
  const auto sdb = compile_rules(parse_rules(text, "bench"), "bench", true);
  hs_scratch_t* sscratch = nullptr;
  if (hs_alloc_scratch(sdb->db, &sscratch) != HS_SUCCESS) return 1;
  std::vector<hs_stream_t*> streams((npackets + 3) / 4);
  for (auto& st : streams) {
    if (hs_open_stream(sdb->db, 0, &st) != HS_SUCCESS) return 1;
  }
  uint64_t smatches = 0;
  const double stream = measure([&] {
    for (auto* st : streams) hs_reset_stream(st, 0, nullptr, nullptr, nullptr);
    for (size_t i = 0; i < payloads.size(); ++i) {
      hs_scan_stream(streams[i / 4], payloads[i].data(), payloads[i].size(), 0, sscratch, count_match, &smatches);
    }
  });
  volatile size_t found = 0;
  const double base = measure([&] {
    for (const auto& p : payloads) found = found + (std::memchr(p.data(), 1, p.size()) != nullptr);
  });
  std::printf("rules=%zu packets=%zu bytes_per_packet=%.0f regex_gbps=%.2f stream_gbps=%.2f stream_bytes=%zu "
              "memchr_gbps=%.2f ratio=%.3f matches=%llu\n",
              nrules, npackets, double(bytes) / npackets, regex, stream, [&] {
                size_t n = 0;
                hs_stream_size(sdb->db, &n);
                return n;
              }(), base, regex / base, static_cast<unsigned long long>(matches));
  for (auto* st : streams) hs_close_stream(st, nullptr, nullptr, nullptr);
  hs_free_scratch(sscratch);
  hs_free_scratch(scratch);
  return 0;
}
