// gen_telescope: a fast, deterministic generator of network-telescope
// ("darknet") traffic, written as a classic pcap file (microsecond
// timestamps, Ethernet link type).
//
//   gen_telescope -o FILE -n PACKETS [--pps RATE] [--start UNIX_TS]
//                 [--seed N] [--darknet A.B.C.D/LEN] [--small] [--quiet]
//   gen_telescope -o FILE --small      (quickstart: 10000 packets, 100 pps)
//
// Traffic mix (by packet, approximate):
//   85%  TCP SYN scans, IP length 40..60: zmap/masscan style (no options),
//        nmap style (MSS), Mirai (seq == destination address), Linux and
//        Windows connect() SYNs with their usual option layouts. Sources are
//        a Zipf-distributed set of heavy scanners, a pool of bots each sending
//        a few probes, and one-off random sources.
//    7%  UDP probes: DNS queries (53), NTP client/monlist (123), SNMP v2c
//        GetRequest (161), SSDP M-SEARCH (1900) and empty probes to random
//        high ports (an opaque payload there would be mis-dissected as
//        whatever protocol is registered on the port).
//    3%  ICMP echo requests (zmap, Linux ping and Windows ping payloads).
//    5%  backscatter: SYN-ACK, RST and RST-ACK from "victims" of spoofed
//        floods, ICMP destination-unreachable and time-exceeded carrying the
//        quoted IP header plus 8 bytes of the offending packet.
// All destinations (and, for backscatter, the addressees) lie in the darknet
// prefix. IPv4 header, TCP, UDP and ICMP checksums are all valid.
//
// The output is a pure function of the arguments: the same seed gives the
// same bytes (only integer arithmetic goes into the packet contents).
// Packets are assembled in 1 MiB memory buffers (cache-sized), each handed to a writer
// thread that fwrite()s it in one call while the next one is filled; there is
// no per-packet system call.

#include <bit>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

// ---------------------------------------------------------------- RNG

inline uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 33)) * 0xff51afd7ed558ccdULL;
  z = (z ^ (z >> 33)) * 0xc4ceb9fe1a85ec53ULL;
  return z ^ (z >> 33);
}

inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

// xoshiro256**: fast and good enough; seeded through splitmix64.
struct Rng {
  uint64_t s[4];
  explicit Rng(uint64_t seed) {
    uint64_t x = seed;
    for (auto& v : s) v = splitmix64(x);
  }
  uint64_t next() {
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
  }
  uint32_t u32() { return static_cast<uint32_t>(next() >> 32); }
  uint16_t u16() { return static_cast<uint16_t>(next() >> 48); }
  // Uniform in [0, n) (multiply-shift; the bias is irrelevant here).
  uint32_t below(uint32_t n) { return static_cast<uint32_t>((static_cast<uint64_t>(u32()) * n) >> 32); }
  uint32_t range(uint32_t lo, uint32_t hi_incl) { return lo + below(hi_incl - lo + 1); }
};

// ---------------------------------------------------------------- bytes

inline void be16(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void be32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}
inline void le16(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}
inline void le32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
  p[2] = static_cast<uint8_t>(v >> 16);
  p[3] = static_cast<uint8_t>(v >> 24);
}

// One's-complement sum of big-endian 16-bit words (odd tail padded with 0),
// added to `acc` (also a sum of big-endian words). The words are summed 32 bits
// at a time in host order and the folded result byte-swapped on little-endian
// hosts; one's-complement addition commutes with both (RFC 1071).
inline uint32_t sum16(const uint8_t* p, size_t n, uint32_t acc = 0) {
  uint64_t s = 0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    uint32_t w;
    std::memcpy(&w, p + i, 4);
    s += w;
  }
  if (i + 2 <= n) {
    uint16_t w;
    std::memcpy(&w, p + i, 2);
    s += w;
    i += 2;
  }
  if constexpr (std::endian::native == std::endian::little) {
    if (i < n) s += p[i];
  } else {
    if (i < n) s += static_cast<uint32_t>(p[i]) << 8;
  }
  s = (s & 0xffffffffu) + (s >> 32);
  s = (s & 0xffffffffu) + (s >> 32);
  s = (s & 0xffffu) + (s >> 16);
  s = (s & 0xffffu) + (s >> 16);
  uint32_t w = static_cast<uint32_t>(s);
  if constexpr (std::endian::native == std::endian::little) w = ((w & 0xff) << 8) | (w >> 8);
  return acc + w;
}
inline uint16_t fold(uint32_t acc) {
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return static_cast<uint16_t>(~acc & 0xffff);
}
inline uint32_t pseudo_sum(uint32_t src, uint32_t dst, uint8_t proto, uint32_t len) {
  return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto + len;
}

constexpr uint8_t kProtoIcmp = 1, kProtoTcp = 6, kProtoUdp = 17;
constexpr size_t kEth = 14, kIp = 20;

// Writes a 20-byte IPv4 header with a valid checksum.
inline void put_ip(uint8_t* ip, uint32_t total_len, uint32_t id, bool df, uint32_t ttl, uint8_t proto,
                   uint32_t src, uint32_t dst) {
  ip[0] = 0x45;
  ip[1] = 0;
  be16(ip + 2, total_len);
  be16(ip + 4, id);
  be16(ip + 6, df ? 0x4000 : 0);
  ip[8] = static_cast<uint8_t>(ttl);
  ip[9] = proto;
  ip[10] = ip[11] = 0;
  be32(ip + 12, src);
  be32(ip + 16, dst);
  be16(ip + 10, fold(sum16(ip, kIp)));
}

// ---------------------------------------------------------------- addresses

struct Prefix {
  uint32_t base = 0;
  uint32_t mask = 0;  // network mask
  bool contains(uint32_t a) const { return (a & mask) == base; }
};

bool parse_prefix(const std::string& s, Prefix& out) {
  unsigned a, b, c, d, len;
  char tail;
  if (std::sscanf(s.c_str(), "%u.%u.%u.%u/%u%c", &a, &b, &c, &d, &len, &tail) != 5) return false;
  if (a > 255 || b > 255 || c > 255 || d > 255 || len < 1 || len > 32) return false;
  out.mask = len == 32 ? 0xffffffffu : ~(0xffffffffu >> len);
  out.base = ((a << 24) | (b << 16) | (c << 8) | d) & out.mask;
  return true;
}

// Addresses that never appear as sources on the Internet.
inline bool is_bogon(uint32_t a) {
  const uint32_t o1 = a >> 24;
  if (o1 == 0 || o1 == 10 || o1 == 127 || o1 >= 224) return true;
  if ((a & 0xffc00000u) == 0x64400000u) return true;  // 100.64/10
  if ((a & 0xffff0000u) == 0xa9fe0000u) return true;  // 169.254/16
  if ((a & 0xfff00000u) == 0xac100000u) return true;  // 172.16/12
  if ((a & 0xffff0000u) == 0xc0a80000u) return true;  // 192.168/16
  if ((a & 0xffffff00u) == 0xc0000200u) return true;  // 192.0.2/24
  if ((a & 0xfffe0000u) == 0xc6120000u) return true;  // 198.18/15
  return false;
}

// ---------------------------------------------------------------- population

enum class Persona : uint8_t { Zmap, Masscan, Mirai, Nmap, Linux, Windows };
enum class PortPolicy : uint8_t { Single, Few, Horizontal, Mix };

struct Scanner {
  uint32_t ip;
  Persona persona;
  PortPolicy policy;
  uint8_t ttl;          // TTL as seen at the telescope
  uint16_t fixed_sport;  // masscan / nmap keep one source port
  uint16_t ports[4];     // Single uses ports[0], Few uses all four
  uint16_t window;       // for personas with a fixed window
};

struct Victim {
  uint32_t ip;
  uint16_t port;     // service port that was flooded
  uint8_t ttl;       // TTL as seen at the telescope
  uint8_t proto;     // protocol of the flood (TCP or UDP)
  uint16_t window;   // SYN-ACK window
};

// Destination-port mix for TCP SYN scans, as a 1000-entry lookup table built
// from integer weights (per mille). 0 stands for "random port".
constexpr struct {
  uint16_t port;
  uint16_t weight;
} kTcpPortMix[] = {
    {23, 200},  {445, 120}, {22, 100},   {80, 100},   {443, 60},  {8080, 60}, {3389, 60}, {2323, 30},
    {8443, 20}, {5555, 20}, {1433, 20},  {3306, 20},  {6379, 10}, {21, 10},   {25, 10},   {81, 10},
    {8081, 10}, {37215, 5}, {52869, 5},  {0, 130},
};

// TTL hop distance derived from an address, so that one source always shows
// the same TTL.
inline uint32_t hops_for(uint32_t ip) { return 6 + static_cast<uint32_t>(mix64(ip) % 20); }

inline uint8_t initial_ttl(Persona p) {
  switch (p) {
    case Persona::Zmap:
    case Persona::Masscan:
      return 255;
    case Persona::Windows:
      return 128;
    default:
      return 64;
  }
}

class Generator {
 public:
  Generator(uint64_t seed, Prefix darknet) : rng_(seed), dark_(darknet) {
    dark_hostmask_ = ~dark_.mask;
    for (const auto& e : kTcpPortMix)
      for (int i = 0; i < e.weight; ++i) tcp_port_table_.push_back(e.port);

    // Heavy scanners: Zipf (s = 1) over kHeavy sources, integer weights.
    heavy_.resize(kHeavy);
    for (auto& s : heavy_) s = make_scanner();
    build_zipf(heavy_table_, kHeavy);
    // Bots: each sends a handful of probes over the capture.
    // Bots only need an address (the rest is derived from it, which keeps
    // the table small enough for the cache): 256 KiB.
    bot_ips_.resize(kBots);
    for (auto& a : bot_ips_) a = random_source();
    // UDP scanners and pingers share a smaller Zipf pool of their own.
    udp_scanners_.resize(kUdp);
    for (auto& a : udp_scanners_) a = random_source();
    build_zipf(udp_table_, kUdp);
    // DoS victims (backscatter sources), also Zipf.
    victims_.resize(kVictims);
    for (auto& v : victims_) v = make_victim();
    build_zipf(victim_table_, kVictims);
  }

  // Builds one Ethernet frame at `p`, returns its length.
  size_t packet(uint8_t* p) {
    const uint32_t r = rng_.below(1000);
    if (r < 850) {
      ++n_syn_;
      return tcp_syn(p);
    }
    if (r < 920) {
      ++n_udp_;
      return udp_probe(p);
    }
    if (r < 950) {
      ++n_icmp_;
      return icmp_echo(p);
    }
    ++n_backscatter_;
    return backscatter(p);
  }

  uint64_t n_syn_ = 0, n_udp_ = 0, n_icmp_ = 0, n_backscatter_ = 0;

 private:
  static constexpr uint32_t kHeavy = 2048, kBots = 65536, kUdp = 512, kVictims = 1024;
  static constexpr uint32_t kZipfBits = 16;  // 128 KiB tables: stay in L2

  Rng rng_;
  Prefix dark_;
  uint32_t dark_hostmask_;
  std::vector<uint16_t> tcp_port_table_;
  std::vector<Scanner> heavy_;
  std::vector<uint32_t> bot_ips_;
  std::vector<uint32_t> udp_scanners_;
  std::vector<Victim> victims_;
  std::vector<uint16_t> heavy_table_, udp_table_, victim_table_;

  static void build_zipf(std::vector<uint16_t>& table, uint32_t n) {
    // weight(k) = floor(2^32 / (k + 1)); table slot j maps to the first k
    // whose cumulative weight exceeds j * total / 2^kZipfBits.
    std::vector<uint64_t> cum(n);
    uint64_t total = 0;
    for (uint32_t k = 0; k < n; ++k) {
      total += 0xffffffffULL / (k + 1);
      cum[k] = total;
    }
    const uint32_t slots = 1u << kZipfBits;
    table.resize(slots);
    uint32_t k = 0;
    for (uint32_t j = 0; j < slots; ++j) {
      const uint64_t target = (total * j) >> kZipfBits;  // total < 2^45, j < 2^16
      while (k + 1 < n && cum[k] <= target) ++k;
      table[j] = static_cast<uint16_t>(k);
    }
  }
  uint32_t zipf(const std::vector<uint16_t>& table) { return table[rng_.u32() >> (32 - kZipfBits)]; }

  uint32_t dark_addr() { return dark_.base | (rng_.u32() & dark_hostmask_); }

  uint32_t random_source() {
    for (;;) {
      const uint32_t a = rng_.u32();
      if (!is_bogon(a) && !dark_.contains(a)) return a;
    }
  }

  uint16_t mix_port() {
    const uint16_t p = tcp_port_table_[rng_.below(static_cast<uint32_t>(tcp_port_table_.size()))];
    return p ? p : static_cast<uint16_t>(rng_.range(1024, 65535));
  }

  Scanner make_scanner() {
    Scanner s{};
    s.ip = random_source();
    const uint32_t r = rng_.below(100);
    s.persona = r < 35 ? Persona::Zmap
                : r < 65 ? Persona::Masscan
                : r < 75 ? Persona::Nmap
                : r < 85 ? Persona::Linux
                : r < 95 ? Persona::Mirai
                         : Persona::Windows;
    const uint32_t q = rng_.below(100);
    s.policy = q < 60 ? PortPolicy::Single : q < 85 ? PortPolicy::Few : PortPolicy::Horizontal;
    s.ttl = static_cast<uint8_t>(initial_ttl(s.persona) - hops_for(s.ip));
    s.fixed_sport = static_cast<uint16_t>(rng_.range(32768, 61000));
    for (auto& p : s.ports) p = mix_port();
    if (s.persona == Persona::Mirai && s.policy == PortPolicy::Single) s.ports[0] = 23;
    static constexpr uint16_t kWin[] = {65535, 1024, 14600, 29200, 64240, 8192};
    s.window = kWin[rng_.below(6)];
    return s;
  }

  Victim make_victim() {
    Victim v{};
    v.ip = random_source();
    static constexpr uint16_t kTcpSvc[] = {80, 443, 443, 80, 22, 25, 8080, 3074, 27015, 6667};
    static constexpr uint16_t kUdpSvc[] = {53, 123, 27015, 3074, 9987, 30120};
    static constexpr uint8_t kInit[] = {64, 64, 128, 255};
    v.proto = rng_.below(100) < 80 ? kProtoTcp : kProtoUdp;
    v.port = v.proto == kProtoTcp ? kTcpSvc[rng_.below(10)] : kUdpSvc[rng_.below(6)];
    v.ttl = static_cast<uint8_t>(kInit[rng_.below(4)] - hops_for(v.ip));
    static constexpr uint16_t kWin[] = {65535, 29200, 64240, 28960, 14480, 8192};
    v.window = kWin[rng_.below(6)];
    return v;
  }

  static uint8_t* eth(uint8_t* p) {
    // dst: the telescope capture port; src: the upstream router.
    static constexpr uint8_t kHdr[kEth] = {0x00, 0x1b, 0x21, 0x3c, 0x9d, 0x01, 0x00, 0x00,
                                           0x5e, 0x00, 0x01, 0x01, 0x08, 0x00};
    std::memcpy(p, kHdr, kEth);
    return p + kEth;
  }

  // TCP header (+ options) with a valid checksum. `opt` holds `optlen` bytes.
  static void put_tcp(uint8_t* t, uint32_t src, uint32_t dst, uint32_t sport, uint32_t dport, uint32_t seq,
                      uint32_t ack, uint8_t flags, uint32_t win, const uint8_t* opt, size_t optlen) {
    be16(t, sport);
    be16(t + 2, dport);
    be32(t + 4, seq);
    be32(t + 8, ack);
    t[12] = static_cast<uint8_t>(((20 + optlen) / 4) << 4);
    t[13] = flags;
    be16(t + 14, win);
    t[16] = t[17] = 0;
    t[18] = t[19] = 0;
    if (optlen) std::memcpy(t + 20, opt, optlen);
    const size_t len = 20 + optlen;
    be16(t + 16, fold(sum16(t, len, pseudo_sum(src, dst, kProtoTcp, static_cast<uint32_t>(len)))));
  }

  size_t tcp_syn(uint8_t* frame) {
    // Who sends: 55% heavy scanners (Zipf), 25% bots, 20% one-off sources.
    const uint32_t who = rng_.below(100);
    Scanner tmp;
    const Scanner* s;
    if (who < 55) {
      s = &heavy_[zipf(heavy_table_)];
    } else {
      // Bots (infected hosts: mostly Mirai, some Windows worms and Linux
      // bots) and one-off sources; everything but the address is derived
      // from the address.
      const bool bot = who < 80;
      tmp.ip = bot ? bot_ips_[rng_.below(kBots)] : random_source();
      const uint64_t h = mix64(tmp.ip);
      static constexpr Persona kBot[5] = {Persona::Mirai, Persona::Mirai, Persona::Mirai, Persona::Windows,
                                          Persona::Linux};
      static constexpr Persona kOneOff[8] = {Persona::Mirai, Persona::Mirai,   Persona::Linux, Persona::Windows,
                                             Persona::Zmap,  Persona::Masscan, Persona::Nmap,  Persona::Linux};
      tmp.persona = bot ? kBot[h % 5] : kOneOff[h & 7];
      tmp.policy = PortPolicy::Mix;
      tmp.ttl = static_cast<uint8_t>(initial_ttl(tmp.persona) - hops_for(tmp.ip));
      tmp.fixed_sport = static_cast<uint16_t>(32768 + ((h >> 8) % 28000));
      tmp.window = (h >> 40) & 1 ? 8192 : 64240;
      s = &tmp;
    }

    const uint32_t dst = dark_addr();
    uint32_t dport;
    switch (s->policy) {
      case PortPolicy::Single: dport = s->ports[0]; break;
      case PortPolicy::Few: dport = s->ports[rng_.below(4)]; break;
      case PortPolicy::Horizontal: dport = rng_.range(1, 65535); break;
      default:
        if (s->persona == Persona::Mirai) {
          const uint32_t q = rng_.below(100);
          dport = q < 80 ? 23 : q < 90 ? 2323 : mix_port();
        } else if (s->persona == Persona::Windows) {
          const uint32_t q = rng_.below(100);
          dport = q < 60 ? 445 : q < 80 ? 3389 : mix_port();
        } else {
          dport = mix_port();
        }
    }

    static constexpr uint8_t kMss[4] = {0x02, 0x04, 0x05, 0xb4};
    // Linux: MSS, SACK_PERM, TS, NOP, WS 7 (TS values patched below).
    uint8_t linux_opt[20] = {0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0, 0,
                             0,    0,    0,    0,    0,    0,    0x01, 0x03, 0x03, 0x07};
    // Windows: MSS, NOP, WS 8, NOP, NOP, SACK_PERM.
    static constexpr uint8_t kWinOpt[12] = {0x02, 0x04, 0x05, 0xb4, 0x01, 0x03, 0x03, 0x08, 0x01, 0x01, 0x04, 0x02};

    const uint8_t* opt = nullptr;
    size_t optlen = 0;
    uint32_t id = rng_.u16(), sport, seq = rng_.u32(), win = s->window;
    bool df = false;
    switch (s->persona) {
      case Persona::Zmap:
        id = 54321;
        sport = rng_.range(32768, 61000);
        win = 65535;
        if ((s->ip & 3) == 0) opt = kMss, optlen = 4;  // newer zmap sends MSS
        break;
      case Persona::Masscan:
        sport = s->fixed_sport;
        win = 1024;
        break;
      case Persona::Mirai:
        sport = rng_.range(1024, 65535);
        seq = dst;
        win = rng_.u16() | 1;
        break;
      case Persona::Nmap:
        sport = s->fixed_sport;
        win = 1024;
        opt = kMss, optlen = 4;
        break;
      case Persona::Linux:
        sport = rng_.range(32768, 60999);
        win = 64240;
        df = true;
        be32(linux_opt + 8, rng_.u32());
        opt = linux_opt, optlen = 20;
        break;
      default:  // Windows
        sport = rng_.range(49152, 65535);
        win = win == 8192 ? 8192 : 64240;
        df = true;
        opt = kWinOpt, optlen = 12;
        break;
    }
    uint8_t* ip = eth(frame);
    const uint32_t tcp_len = static_cast<uint32_t>(20 + optlen);
    put_ip(ip, kIp + tcp_len, id, df, s->ttl, kProtoTcp, s->ip, dst);
    put_tcp(ip + kIp, s->ip, dst, sport, dport, seq, 0, 0x02, win, opt, optlen);
    return kEth + kIp + tcp_len;
  }

  size_t udp_probe(uint8_t* frame) {
    const uint32_t src = rng_.below(100) < 75 ? udp_scanners_[zipf(udp_table_)] : random_source();
    const uint32_t dst = dark_addr();
    const uint8_t ttl = static_cast<uint8_t>((mix64(src) & 1 ? 64 : 255) - hops_for(src));
    uint8_t* ip = eth(frame);
    uint8_t* u = ip + kIp;
    uint8_t* pl = u + 8;
    uint32_t sport = rng_.range(32768, 60999), dport;
    size_t plen;
    const uint32_t r = rng_.below(100);
    if (r < 25) {  // DNS
      dport = 53;
      static constexpr uint8_t kA[] = {0, 0, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 6, 'g', 'o', 'o', 'g',
                                       'l', 'e', 3, 'c', 'o', 'm', 0, 0, 1, 0, 1};
      // ANY for isc.org with an EDNS0 OPT record (classic amplification probe).
      static constexpr uint8_t kAny[] = {0, 0,   0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1, 3,    'i', 's', 'c', 3,
                                         'o', 'r', 'g',  0,    0, 0xff, 0, 1, 0, 0, 0x29, 0x10, 0,   0,   0, 0,
                                         0,   0,   0};
      if (rng_.below(2)) {
        std::memcpy(pl, kA, sizeof kA);
        plen = sizeof kA;
      } else {
        std::memcpy(pl, kAny, sizeof kAny);
        plen = sizeof kAny;
      }
      be16(pl, rng_.u16());  // transaction id
    } else if (r < 45) {     // NTP
      dport = 123;
      if (rng_.below(2)) {  // mode 3 client request
        std::memset(pl, 0, 48);
        pl[0] = 0xe3;
        pl[2] = 6;
        pl[3] = 0xe9;
        be32(pl + 40, 0xe9000000u + (rng_.u32() >> 8));  // transmit timestamp
        be32(pl + 44, rng_.u32());
        plen = 48;
      } else {  // mode 7 MON_GETLIST_1
        static constexpr uint8_t kMon[8] = {0x17, 0x00, 0x03, 0x2a, 0, 0, 0, 0};
        std::memcpy(pl, kMon, 8);
        plen = 8;
      }
    } else if (r < 60) {  // SNMP v2c GetRequest public sysDescr.0
      dport = 161;
      static constexpr uint8_t kSnmp[] = {0x30, 0x29, 0x02, 0x01, 0x01, 0x04, 0x06, 'p',  'u',  'b',  'l',
                                          'i',  'c',  0xa0, 0x1c, 0x02, 0x04, 0,    0,    0,    0,    0x02,
                                          0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x0e, 0x30, 0x0c, 0x06, 0x08,
                                          0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x01, 0x00, 0x05, 0x00};
      std::memcpy(pl, kSnmp, sizeof kSnmp);
      be32(pl + 17, rng_.u32() & 0x7fffffff);  // request id
      plen = sizeof kSnmp;
    } else if (r < 75) {  // SSDP
      dport = 1900;
      static constexpr char kSsdp[] =
          "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: ssdp:all\r\n\r\n";
      plen = sizeof kSsdp - 1;
      std::memcpy(pl, kSsdp, plen);
    } else {  // random high port, empty payload (what nmap -sU sends to ports it has no probe for)
      dport = rng_.range(1024, 65535);
      plen = 0;
    }
    const uint32_t ulen = static_cast<uint32_t>(8 + plen);
    put_ip(ip, kIp + ulen, rng_.u16(), false, ttl, kProtoUdp, src, dst);
    be16(u, sport);
    be16(u + 2, dport);
    be16(u + 4, ulen);
    u[6] = u[7] = 0;
    uint16_t c = fold(sum16(u, ulen, pseudo_sum(src, dst, kProtoUdp, ulen)));
    be16(u + 6, c ? c : 0xffff);
    return kEth + kIp + ulen;
  }

  size_t icmp_echo(uint8_t* frame) {
    const uint32_t src = rng_.below(100) < 70 ? udp_scanners_[zipf(udp_table_)] : random_source();
    const uint32_t dst = dark_addr();
    uint8_t* ip = eth(frame);
    uint8_t* ic = ip + kIp;
    uint8_t* pl = ic + 8;
    size_t plen;
    uint32_t ttl, id = rng_.u16();
    bool df = false;
    const uint32_t kind = static_cast<uint32_t>(mix64(src ^ 0x1c) % 3);
    if (kind == 0) {  // zmap icmp_echoscan: no payload
      ttl = 255;
      id = 54321;
      plen = 0;
    } else if (kind == 1) {  // Linux ping: 8-byte timeval + 0x10..0x37
      ttl = 64;
      df = true;
      be32(pl, 1700000000u + rng_.below(1u << 20));
      be32(pl + 4, rng_.below(1000000));
      for (int i = 8; i < 56; ++i) pl[i] = static_cast<uint8_t>(i + 8);
      plen = 56;
    } else {  // Windows ping
      ttl = 128;
      std::memcpy(pl, "abcdefghijklmnopqrstuvwabcdefghi", 32);
      plen = 32;
    }
    ttl -= hops_for(src);
    ic[0] = 8;
    ic[1] = 0;
    ic[2] = ic[3] = 0;
    be16(ic + 4, static_cast<uint16_t>(mix64(src)));  // identifier fixed per source
    be16(ic + 6, rng_.u16());                         // sequence
    const uint32_t ilen = static_cast<uint32_t>(8 + plen);
    be16(ic + 2, fold(sum16(ic, ilen)));
    put_ip(ip, kIp + ilen, id, df, ttl, kProtoIcmp, src, dst);
    return kEth + kIp + ilen;
  }

  size_t backscatter(uint8_t* frame) {
    const Victim& v = victims_[zipf(victim_table_)];
    const uint32_t dst = dark_addr();  // the spoofed source of the attack
    const uint32_t dport = rng_.range(1024, 65535);
    uint8_t* ip = eth(frame);
    const uint32_t r = rng_.below(100);
    if (r < 80 && v.proto == kProtoTcp) {
      uint8_t flags;
      uint32_t seq = rng_.u32(), ack = rng_.u32(), win = v.window;
      static constexpr uint8_t kMss[4] = {0x02, 0x04, 0x05, 0xb4};
      const uint8_t* opt = nullptr;
      size_t optlen = 0;
      if (r < 45) {
        flags = 0x12;  // SYN-ACK
        if ((v.ip & 7) != 0) opt = kMss, optlen = 4;
      } else if (r < 60) {
        flags = 0x04;  // RST
        ack = 0;
        win = 0;
      } else {
        flags = 0x14;  // RST-ACK
        seq = 0;
        win = 0;
      }
      const uint32_t tcp_len = static_cast<uint32_t>(20 + optlen);
      put_ip(ip, kIp + tcp_len, rng_.u16(), v.ttl <= 64, v.ttl, kProtoTcp, v.ip, dst);
      put_tcp(ip + kIp, v.ip, dst, v.port, dport, seq, ack, flags, win, opt, optlen);
      return kEth + kIp + tcp_len;
    }
    // ICMP error quoting the spoofed packet (dst -> victim).
    uint8_t* ic = ip + kIp;
    uint8_t* q = ic + 8;
    uint32_t src, ttl;
    uint8_t type, code;
    if (r < 95) {
      type = 3;  // destination unreachable
      if (v.proto == kProtoUdp) {
        code = 3;  // port unreachable, from the victim itself
        src = v.ip;
        ttl = v.ttl;
      } else {
        code = rng_.below(2) ? 1 : 13;  // host unreachable / administratively prohibited, from a router
        src = (v.ip & 0xffffff00u) | 1;
        ttl = 255 - hops_for(src);
      }
    } else {
      type = 11;  // time exceeded in transit, from a router on the way
      code = 0;
      src = random_source();
      ttl = 255 - hops_for(src);
    }
    const uint32_t qttl = type == 11 ? 1 : 30 + rng_.below(30);
    if (v.proto == kProtoUdp) {
      const uint32_t qlen = 8 + 20 + rng_.below(400);
      put_ip(q, kIp + qlen, rng_.u16(), false, qttl, kProtoUdp, dst, v.ip);
      be16(q + kIp, dport);
      be16(q + kIp + 2, v.port);
      be16(q + kIp + 4, qlen);
      be16(q + kIp + 6, rng_.u16() | 1);
    } else {
      put_ip(q, kIp + 20, rng_.u16(), false, qttl, kProtoTcp, dst, v.ip);
      be16(q + kIp, dport);
      be16(q + kIp + 2, v.port);
      be32(q + kIp + 4, rng_.u32());
    }
    ic[0] = type;
    ic[1] = code;
    ic[2] = ic[3] = 0;
    be32(ic + 4, 0);
    const uint32_t ilen = 8 + kIp + 8;
    be16(ic + 2, fold(sum16(ic, ilen)));
    put_ip(ip, kIp + ilen, rng_.u16(), false, ttl, kProtoIcmp, src, dst);
    return kEth + kIp + ilen;
  }
};

// ---------------------------------------------------------------- main

// Writes buffers on a thread of its own so that the copy into the kernel
// overlaps with generating the next buffer. One buffer in flight at a time.
class AsyncWriter {
 public:
  AsyncWriter(FILE* f, const std::string& name) : f_(f), name_(name), th_([this] { run(); }) {}
  ~AsyncWriter() { finish(); }
  void submit(const uint8_t* p, size_t n) {
    std::unique_lock lk(m_);
    cv_.wait(lk, [&] { return pending_ == nullptr; });
    if (failed_) fail_exit();
    pending_ = p;
    pending_len_ = n;
    cv_.notify_all();
  }
  // Waits for the last buffer and stops the thread; false on a write error.
  bool finish() {
    if (!th_.joinable()) return !failed_;
    {
      std::unique_lock lk(m_);
      cv_.wait(lk, [&] { return pending_ == nullptr; });
      done_ = true;
      cv_.notify_all();
    }
    th_.join();
    if (failed_) std::fprintf(stderr, "gen_telescope: write to %s failed: %s\n", name_.c_str(), std::strerror(err_));
    return !failed_;
  }

 private:
  void run() {
    std::unique_lock lk(m_);
    for (;;) {
      cv_.wait(lk, [&] { return pending_ != nullptr || done_; });
      if (pending_ == nullptr) return;
      const uint8_t* p = pending_;
      const size_t n = pending_len_;
      lk.unlock();
      const bool ok = n == 0 || std::fwrite(p, 1, n, f_) == n;
      const int err = errno;
      lk.lock();
      if (!ok && !failed_) failed_ = true, err_ = err;
      pending_ = nullptr;
      cv_.notify_all();
    }
  }
  [[noreturn]] void fail_exit() {
    std::fprintf(stderr, "gen_telescope: write to %s failed: %s\n", name_.c_str(), std::strerror(err_));
    std::_Exit(1);
  }

  FILE* f_;
  std::string name_;
  std::mutex m_;
  std::condition_variable cv_;
  const uint8_t* pending_ = nullptr;
  size_t pending_len_ = 0;
  bool done_ = false, failed_ = false;
  int err_ = 0;
  std::thread th_;  // last: started once the members above exist
};

void usage(FILE* f) {
  std::fputs(
      "usage: gen_telescope -o FILE -n PACKETS [options]\n"
      "Writes synthetic network-telescope traffic as a classic pcap (us, Ethernet).\n"
      "  -o, --output FILE     output file ('-' for stdout)\n"
      "  -n, --packets N       number of packets (suffixes k, M, G accepted)\n"
      "      --pps RATE        packet timestamps advance at RATE packets/s (default 100000)\n"
      "      --start UNIX_TS   timestamp of the first packet (default 1700000000)\n"
      "      --seed N          random seed (default 1); same seed, same bytes\n"
      "      --darknet PFX     telescope prefix (default 44.0.0.0/8)\n"
      "      --small           quickstart capture: -n defaults to 10000 and --pps to 100\n"
      "                        (100 s from the default start: a partial and a full 60 s interval)\n"
      "  -q, --quiet           no summary on stderr\n",
      f);
}

bool parse_count(const char* s, uint64_t& out) {
  char* end = nullptr;
  const double v = std::strtod(s, &end);
  if (end == s || v < 0) return false;
  double mult = 1;
  if (*end == 'k' || *end == 'K') mult = 1e3, ++end;
  else if (*end == 'm' || *end == 'M') mult = 1e6, ++end;
  else if (*end == 'g' || *end == 'G') mult = 1e9, ++end;
  if (*end) return false;
  out = static_cast<uint64_t>(v * mult + 0.5);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string out_path, darknet_str = "44.0.0.0/8";
  uint64_t packets = 0, seed = 1, start = 1700000000;
  double pps = 100000;
  bool have_n = false, have_pps = false, small = false, quiet = false;

  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    std::string val;
    bool inline_val = false;
    if (a.rfind("--", 0) == 0) {
      const auto eq = a.find('=');
      if (eq != std::string_view::npos) {
        val = std::string(a.substr(eq + 1));
        a = a.substr(0, eq);
        inline_val = true;
      }
    }
    auto need = [&](const char* name) -> const char* {
      if (inline_val) return val.c_str();
      if (i + 1 >= argc) {
        std::fprintf(stderr, "gen_telescope: %s needs a value\n", name);
        std::exit(2);
      }
      return argv[++i];
    };
    auto bad = [&](const char* name, const char* v) {
      std::fprintf(stderr, "gen_telescope: bad value for %s: '%s'\n", name, v);
      std::exit(2);
    };
    if (a == "-h" || a == "--help") {
      usage(stdout);
      return 0;
    } else if (a == "-o" || a == "--output") {
      out_path = need("-o");
    } else if (a == "-n" || a == "--packets") {
      const char* v = need("-n");
      if (!parse_count(v, packets)) bad("-n", v);
      have_n = true;
    } else if (a == "--pps") {
      const char* v = need("--pps");
      char* end;
      pps = std::strtod(v, &end);
      if (*end || !(pps > 0)) bad("--pps", v);
      have_pps = true;
    } else if (a == "--start") {
      const char* v = need("--start");
      char* end;
      start = std::strtoull(v, &end, 10);
      if (*end || *v == '-' || start > 0xffffffffULL) bad("--start", v);
    } else if (a == "--seed") {
      const char* v = need("--seed");
      char* end;
      seed = std::strtoull(v, &end, 0);
      if (*end || !*v) bad("--seed", v);
    } else if (a == "--darknet") {
      darknet_str = need("--darknet");
    } else if (a == "--small") {
      small = true;
    } else if (a == "-q" || a == "--quiet") {
      quiet = true;
    } else {
      std::fprintf(stderr, "gen_telescope: unknown argument '%s'\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }
  if (small) {
    if (!have_n) packets = 10000, have_n = true;
    if (!have_pps) pps = 100;
  }
  if (out_path.empty() || !have_n) {
    usage(stderr);
    return 2;
  }
  Prefix darknet;
  if (!parse_prefix(darknet_str, darknet)) {
    std::fprintf(stderr, "gen_telescope: bad --darknet '%s' (want A.B.C.D/LEN)\n", darknet_str.c_str());
    return 2;
  }
  // The last timestamp must fit the 32-bit seconds field.
  const double last_s = static_cast<double>(start) + static_cast<double>(packets) / pps;
  if (last_s >= 4294967295.0) {
    std::fprintf(stderr, "gen_telescope: timestamps would overflow 32-bit seconds\n");
    return 2;
  }

  FILE* f = out_path == "-" ? stdout : std::fopen(out_path.c_str(), "wb");
  if (!f) {
    std::fprintf(stderr, "gen_telescope: cannot open %s: %s\n", out_path.c_str(), std::strerror(errno));
    return 1;
  }
  std::setvbuf(f, nullptr, _IONBF, 0);  // we do our own (large) buffering

  constexpr size_t kBuf = 1u << 20, kMaxRecord = 16 + 1600;
  std::vector<uint8_t> bufs[2] = {std::vector<uint8_t>(kBuf), std::vector<uint8_t>(kBuf)};
  int cur = 0;
  uint8_t* buf = bufs[cur].data();
  size_t pos = 0;
  uint64_t bytes = 0;
  AsyncWriter writer(f, out_path);
  // Hands the full buffer to the writer thread and continues in the other one
  // (which the writer has finished with by the time submit() returns).
  auto flush = [&]() {
    bytes += pos;
    writer.submit(buf, pos);
    cur ^= 1;
    buf = bufs[cur].data();
    pos = 0;
  };

  // Global header: magic, v2.4, thiszone 0, sigfigs 0, snaplen, LINKTYPE_ETHERNET.
  uint8_t* g = buf;
  le32(g, 0xa1b2c3d4u);
  le16(g + 4, 2);
  le16(g + 6, 4);
  le32(g + 8, 0);
  le32(g + 12, 0);
  le32(g + 16, 262144);
  le32(g + 20, 1);
  pos = 24;

  Generator gen(seed, darknet);
  const auto t0 = std::chrono::steady_clock::now();
  const uint64_t start_us = start * 1000000ULL;
  const double us_per_pkt = 1e6 / pps;
  for (uint64_t i = 0; i < packets; ++i) {
    if (kBuf - pos < kMaxRecord) flush();
    uint8_t* rec = buf + pos;
    const uint32_t len = static_cast<uint32_t>(gen.packet(rec + 16));
    const uint64_t ts = start_us + static_cast<uint64_t>(static_cast<double>(i) * us_per_pkt);
    le32(rec, static_cast<uint32_t>(ts / 1000000));
    le32(rec + 4, static_cast<uint32_t>(ts % 1000000));
    le32(rec + 8, len);
    le32(rec + 12, len);
    pos += 16 + len;
  }
  flush();
  if (!writer.finish()) return 1;
  if (f != stdout ? std::fclose(f) != 0 : std::fflush(f) != 0) {
    std::fprintf(stderr, "gen_telescope: closing %s failed: %s\n", out_path.c_str(), std::strerror(errno));
    return 1;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!quiet) {
    std::fprintf(stderr,
                 "gen_telescope: wrote %" PRIu64 " packets (%" PRIu64
                 " bytes) to %s in %.3f s: %.0f pps, %.1f MB/s; "
                 "syn=%" PRIu64 " udp=%" PRIu64 " icmp_echo=%" PRIu64 " backscatter=%" PRIu64 "\n",
                 packets, bytes, out_path.c_str(), secs, secs > 0 ? static_cast<double>(packets) / secs : 0.0,
                 secs > 0 ? static_cast<double>(bytes) / secs / 1e6 : 0.0, gen.n_syn_, gen.n_udp_, gen.n_icmp_,
                 gen.n_backscatter_);
  }
  return 0;
}
