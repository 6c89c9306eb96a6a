#include "hw/dpdk_source.hpp"

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <pthread.h>
#include <sched.h>

#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_mempool.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <mutex>

namespace privateer {

namespace {

// Process-wide EAL state: rte_eal_init() may run only once per process.
enum class EalState { down, idle, in_use, cleaned };
std::mutex g_eal_mutex;
EalState g_eal_state = EalState::down;
std::vector<std::string> g_eal_args;  // the arguments the EAL came up with
// CPUs of the EAL's worker lcores (-l / --lcores), in lcore order.
std::vector<int> g_worker_cpus;

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& a : v) {
    if (!s.empty()) s += ' ';
    s += a;
  }
  return s;
}

std::string err_text(int err) {
  if (err < 0) err = -err;
  return std::string(rte_strerror(err)) + " (" + std::to_string(err) + ")";
}

// The ethdev name of a device argument: what precedes the first ','.
std::string base_name(const std::string& device) { return device.substr(0, device.find(',')); }

uint64_t wall_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

// Unit of the Rx timestamp dynfield, per driver: nanoseconds per tick.
// net_pcap (DPDK 22.11 drivers/net/pcap/pcap_ethdev.c, eth_pcap_rx) stores
// tv_sec * 1000000 + tv_usec: MICROseconds since the epoch. Later DPDK
// releases switched net_pcap to nanoseconds, so a net_pcap value above 1e17
// (µs: year 5138; ns: 1973) is taken as nanoseconds (see to_ns()).
// Real NICs vary (free-running clocks, PTP-synchronised ns); an unknown
// driver's value is taken as nanoseconds.
uint64_t timestamp_unit_ns(const std::string& driver) {
  if (driver == "net_pcap") return 1000;
  return 1;
}

}  // namespace

struct DpdkContext::Port {
  DpdkPortConfig cfg;
  std::string name;           // ethdev name (device without devargs)
  std::string driver;
  uint16_t port_id = 0;
  uint16_t tx_queues = 0;
  bool configured = false;
  bool started = false;
  rte_mempool* pool = nullptr;
  std::string rss;            // applied RSS, in words
  std::string timestamp;      // timestamp source, in words
  bool ts_offload = false;
  uint64_t ts_unit_ns = 1;
  std::vector<std::unique_ptr<DpdkQueueCounters>> counters;  // one per rx queue

  void close() {
    if (started) rte_eth_dev_stop(port_id);
    if (configured) rte_eth_dev_close(port_id);
    started = configured = false;
    if (pool) rte_mempool_free(pool);
    pool = nullptr;
  }
};

// ---------------------------------------------------------------------------

class DpdkQueueSource final : public PacketSource {
 public:
  DpdkQueueSource(const DpdkContext::Port& port, uint16_t queue, uint16_t burst_size)
      : port_id_(port.port_id),
        queue_(queue),
        burst_(std::max<uint16_t>(burst_size, 1)),
        counters_(*port.counters[queue]),
        name_("dpdk:" + port.name + "/q" + std::to_string(queue)),
        mbufs_(burst_, nullptr),
        ts_unit_ns_(port.ts_unit_ns),
        ts_accept_ns_(port.driver == "net_pcap") {
    int bit = rte_mbuf_dynflag_lookup(RTE_MBUF_DYNFLAG_RX_TIMESTAMP_NAME, nullptr);
    int off = rte_mbuf_dynfield_lookup(RTE_MBUF_DYNFIELD_TIMESTAMP_NAME, nullptr);
    if (bit >= 0 && off >= 0) {
      ts_flag_ = 1ULL << bit;
      ts_off_ = off;
    }
    tsc_hz_ = rte_get_tsc_hz();
    if (tsc_hz_ == 0) tsc_hz_ = 1;
    tsc0_ = rte_rdtsc();
    wall0_ = wall_ns();
  }

  ~DpdkQueueSource() override {
    if (held_) rte_pktmbuf_free_bulk(mbufs_.data(), held_);
  }

  size_t read_burst(RawPacket* out, size_t max) override {
    // Contract: the previous burst's data stays valid until this call.
    if (held_) {
      rte_pktmbuf_free_bulk(mbufs_.data(), held_);
      held_ = 0;
    }
    const uint16_t want = static_cast<uint16_t>(std::min<size_t>(max, burst_));
    if (want == 0) return 0;
    const uint16_t n = rte_eth_rx_burst(port_id_, queue_, mbufs_.data(), want);
    if (n == 0) return 0;
    held_ = n;

    uint64_t tsc_time = 0;  // computed once per burst, only when needed
    uint64_t bytes = 0;
    for (uint16_t i = 0; i < n; ++i) {
      rte_mbuf* m = mbufs_[i];
      RawPacket& p = out[i];
      p.data = rte_pktmbuf_mtod(m, const uint8_t*);
      // Multi-segment mbufs: only the first segment is handed over (caplen is
      // its length, wirelen the whole packet's). At our MTU chained mbufs
      // (jumbo frames) are rare and decoding needs only the headers.
      p.caplen = rte_pktmbuf_data_len(m);
      p.wirelen = rte_pktmbuf_pkt_len(m);
      p.linktype = linktype::ethernet;
      if (ts_flag_ && (m->ol_flags & ts_flag_)) {
        p.ts_ns = to_ns(*RTE_MBUF_DYNFIELD(m, ts_off_, const rte_mbuf_timestamp_t*));
      } else {
        if (tsc_time == 0) tsc_time = tsc_now_ns();
        p.ts_ns = tsc_time;
      }
      bytes += p.wirelen;
    }
    counters_.packets.store(counters_.packets.load(std::memory_order_relaxed) + n,
                            std::memory_order_relaxed);
    counters_.bytes.store(counters_.bytes.load(std::memory_order_relaxed) + bytes,
                          std::memory_order_relaxed);
    return n;
  }

  bool eof() const override { return false; }
  SourceProgress progress() const override { return {0, 0}; }
  std::string name() const override { return name_; }
  bool live() const override { return true; }

 private:
  uint64_t to_ns(uint64_t v) const {
    if (ts_unit_ns_ == 1 || (ts_accept_ns_ && v > 100000000000000000ULL)) return v;
    return v * ts_unit_ns_;
  }

  // Wall clock at start + TSC cycles since then.
  uint64_t tsc_now_ns() const {
    const uint64_t d = rte_rdtsc() - tsc0_;
    return wall0_ + (d / tsc_hz_) * 1000000000ULL + (d % tsc_hz_) * 1000000000ULL / tsc_hz_;
  }

  uint16_t port_id_;
  uint16_t queue_;
  uint16_t burst_;
  DpdkQueueCounters& counters_;
  std::string name_;
  std::vector<rte_mbuf*> mbufs_;
  unsigned held_ = 0;
  uint64_t ts_flag_ = 0;
  int ts_off_ = -1;
  uint64_t ts_unit_ns_ = 1;
  bool ts_accept_ns_ = false;
  uint64_t tsc_hz_ = 1, tsc0_ = 0, wall0_ = 0;
};

// ---------------------------------------------------------------------------

namespace {

bool find_port(const std::string& name, uint16_t* id) {
  if (rte_eth_dev_get_port_by_name(name.c_str(), id) == 0) return true;
  // A short PCI address ("01:00.0") has the domain prefixed in ethdev names.
  if (std::count(name.begin(), name.end(), ':') == 1 &&
      rte_eth_dev_get_port_by_name(("0000:" + name).c_str(), id) == 0)
    return true;
  return false;
}

std::string available_ports() {
  std::string s;
  uint16_t pid;
  RTE_ETH_FOREACH_DEV(pid) {
    char nm[RTE_ETH_NAME_MAX_LEN];
    if (rte_eth_dev_get_name_by_port(pid, nm) == 0) {
      if (!s.empty()) s += ", ";
      s += nm;
    }
  }
  return s.empty() ? "none" : s;
}

void setup_port(DpdkContext::Port& p, const DpdkConfig& cfg, size_t index) {
  const std::string dev = p.cfg.device;
  p.name = base_name(dev);
  auto fail = [&](const std::string& what) -> SourceError {
    return SourceError("dpdk: device '" + dev + "': " + what);
  };

  if (!find_port(p.name, &p.port_id)) {
    // Not probed by the EAL (no --vdev / not bound): try hot-plugging it.
    int rc = rte_dev_probe(dev.c_str());
    if (rc != 0 || !find_port(p.name, &p.port_id))
      throw fail("unknown device: no DPDK ethdev port of that name or PCI address (probe: " +
                 (rc != 0 ? err_text(rc) : std::string("no port")) +
                 "; ports available: " + available_ports() + ")");
  }
  if (p.cfg.rx_queues == 0) throw fail("rx_queues must be at least 1");

  rte_eth_dev_info info;
  std::memset(&info, 0, sizeof info);
  if (int rc = rte_eth_dev_info_get(p.port_id, &info); rc != 0)
    throw fail("rte_eth_dev_info_get failed: " + err_text(rc));
  p.driver = info.driver_name ? info.driver_name : "?";
  if (p.cfg.rx_queues > info.max_rx_queues)
    throw fail(std::to_string(p.cfg.rx_queues) + " rx queues requested, driver " + p.driver +
               " offers at most " + std::to_string(info.max_rx_queues));

  // Symmetric Toeplitz key: repeated 0x6d5a hashes (a, b) and (b, a) alike.
  const uint8_t key_len = info.hash_key_size ? info.hash_key_size : 40;
  std::vector<uint8_t> key(key_len);
  for (size_t i = 0; i < key.size(); ++i) key[i] = (i % 2 == 0) ? 0x6d : 0x5a;

  // RSS candidates, best first; the last one is "no RSS".
  std::vector<uint64_t> rss_candidates;
  if (p.cfg.rx_queues > 1 && info.flow_type_rss_offloads != 0) {
    uint64_t full = (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP) & info.flow_type_rss_offloads;
    uint64_t ip = RTE_ETH_RSS_IP & info.flow_type_rss_offloads;
    if (full) rss_candidates.push_back(full);
    if (ip && ip != full) rss_candidates.push_back(ip);
  }
  rss_candidates.push_back(0);

  const bool ts_offered = (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_TIMESTAMP) != 0;
  std::string last_err;
  for (uint64_t rss_hf : rss_candidates) {
    for (uint16_t txq : {uint16_t{0}, uint16_t{1}}) {
      rte_eth_conf conf;
      std::memset(&conf, 0, sizeof conf);
      if (ts_offered) conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_TIMESTAMP;
      if (rss_hf) {
        conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
        conf.rx_adv_conf.rss_conf.rss_key = key.data();
        conf.rx_adv_conf.rss_conf.rss_key_len = key_len;
        conf.rx_adv_conf.rss_conf.rss_hf = rss_hf;
      }
      int rc = rte_eth_dev_configure(p.port_id, p.cfg.rx_queues, txq, &conf);
      if (rc != 0) {
        last_err = "rte_eth_dev_configure(" + std::to_string(p.cfg.rx_queues) + " rx, " +
                   std::to_string(txq) + " tx" + (rss_hf ? ", RSS" : "") + "): " + err_text(rc);
        continue;
      }
      p.configured = true;
      p.tx_queues = txq;
      p.ts_offload = ts_offered;
      if (rss_hf) {
        char buf[160];
        std::snprintf(buf, sizeof buf, "RSS symmetric Toeplitz (%u-byte 0x6d5a key) rss_hf=0x%llx (%s)",
                      unsigned(key_len), static_cast<unsigned long long>(rss_hf),
                      (rss_hf & (RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP)) ? "IP+TCP+UDP" : "IP only");
        p.rss = buf;
      } else if (p.cfg.rx_queues == 1) {
        p.rss = "RSS not needed (1 queue)";
      } else if (info.flow_type_rss_offloads == 0) {
        p.rss = "RSS not available for " + p.driver + " (each queue gets what the PMD gives it)";
      } else {
        p.rss = "RSS not applied (device refused it)";
      }
      break;
    }
    if (p.configured) break;
  }
  if (!p.configured) throw fail(last_err);

  uint16_t nb_rxd = p.cfg.rx_descriptors ? p.cfg.rx_descriptors : 1024;
  uint16_t nb_txd = 64;
  if (int rc = rte_eth_dev_adjust_nb_rx_tx_desc(p.port_id, &nb_rxd, &nb_txd); rc != 0)
    throw fail("rte_eth_dev_adjust_nb_rx_tx_desc: " + err_text(rc));

  int socket = rte_eth_dev_socket_id(p.port_id);
  if (socket < 0) socket = SOCKET_ID_ANY;
  uint32_t n_mbufs = cfg.mbuf_pool_size;
  if (n_mbufs == 0) {
    // Every descriptor holds an mbuf, every queue's poller holds up to a
    // burst, plus the per-lcore caches and some slack.
    n_mbufs = uint32_t(nb_rxd) * p.cfg.rx_queues + uint32_t(nb_txd) * p.tx_queues +
              uint32_t(p.cfg.rx_queues) * cfg.burst_size * 2 + rte_lcore_count() * 256u + 1024u;
  }
  const unsigned cache = std::min<unsigned>(256, n_mbufs / 4);
  const std::string pool_name = "prv_pool" + std::to_string(index);
  p.pool = rte_pktmbuf_pool_create(pool_name.c_str(), n_mbufs, cache, 0,
                                   RTE_MBUF_DEFAULT_BUF_SIZE, socket);
  if (!p.pool)
    throw fail("rte_pktmbuf_pool_create(" + std::to_string(n_mbufs) + " mbufs): " +
               err_text(rte_errno));

  rte_eth_rxconf rxconf = info.default_rxconf;
  rxconf.offloads = p.ts_offload ? RTE_ETH_RX_OFFLOAD_TIMESTAMP : 0;
  for (uint16_t q = 0; q < p.cfg.rx_queues; ++q) {
    if (int rc = rte_eth_rx_queue_setup(p.port_id, q, nb_rxd, socket, &rxconf, p.pool); rc != 0)
      throw fail("rte_eth_rx_queue_setup(queue " + std::to_string(q) + "): " + err_text(rc));
    p.counters.push_back(std::make_unique<DpdkQueueCounters>());
  }
  for (uint16_t q = 0; q < p.tx_queues; ++q) {
    if (int rc = rte_eth_tx_queue_setup(p.port_id, q, nb_txd, socket, nullptr); rc != 0)
      throw fail("rte_eth_tx_queue_setup(queue " + std::to_string(q) + "): " + err_text(rc));
  }
  if (p.cfg.mtu) {
    if (int rc = rte_eth_dev_set_mtu(p.port_id, p.cfg.mtu); rc != 0)
      throw fail("rte_eth_dev_set_mtu(" + std::to_string(p.cfg.mtu) + "): " + err_text(rc));
  }
  if (int rc = rte_eth_dev_start(p.port_id); rc != 0) throw fail("rte_eth_dev_start: " + err_text(rc));
  p.started = true;
  if (p.cfg.promiscuous) {
    int rc = rte_eth_promiscuous_enable(p.port_id);
    if (rc != 0 && rc != -ENOTSUP) throw fail("rte_eth_promiscuous_enable: " + err_text(rc));
  }

  p.ts_unit_ns = timestamp_unit_ns(p.driver);
  if (p.ts_offload)
    p.timestamp = "Rx timestamp offload (ns)";
  else if (p.driver == "net_pcap")
    p.timestamp = "net_pcap file timestamps (us)";
  else
    p.timestamp = "TSC clock (driver timestamps used where present, as ns)";
}

}  // namespace

// ---------------------------------------------------------------------------

DpdkContext::DpdkContext() = default;

std::unique_ptr<DpdkContext> DpdkContext::start(const DpdkConfig& cfg) {
  std::lock_guard<std::mutex> lock(g_eal_mutex);
  if (g_eal_state == EalState::in_use || g_eal_state == EalState::cleaned)
    throw SourceError(
        "dpdk: the EAL can be initialised only once per process (a DpdkContext was already started)");
  if (g_eal_state == EalState::idle && g_eal_args != cfg.eal)
    throw SourceError("dpdk: the EAL can be initialised only once per process; it is up with "
                      "arguments '" + join(g_eal_args) + "', not '" + join(cfg.eal) + "'");
  if (cfg.ports.empty()) throw SourceError("dpdk: no port configured");

  if (g_eal_state == EalState::down) {
    std::vector<std::string> args{"privateer"};
    args.insert(args.end(), cfg.eal.begin(), cfg.eal.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());  // rte_eal_init may permute argv
    argv.push_back(nullptr);
    // rte_eal_init pins the calling thread to the main lcore's CPU, and every
    // thread started later would inherit that: keep the process's own CPU
    // set for the control threads; polling workers are pinned one by one.
    cpu_set_t before;
    CPU_ZERO(&before);
    const bool have_before = pthread_getaffinity_np(pthread_self(), sizeof before, &before) == 0;
    int rc = rte_eal_init(static_cast<int>(args.size()), argv.data());
    if (have_before) pthread_setaffinity_np(pthread_self(), sizeof before, &before);
    if (rc < 0) {
      int err = rte_errno;
      // A failed rte_eal_init cannot be retried either.
      g_eal_state = EalState::cleaned;
      throw SourceError("dpdk: rte_eal_init failed: " + err_text(err) + " with EAL arguments '" +
                        join(cfg.eal) + "'");
    }
    g_eal_state = EalState::idle;
    g_eal_args = cfg.eal;
    g_worker_cpus.clear();
    unsigned lc;
    RTE_LCORE_FOREACH_WORKER(lc) { g_worker_cpus.push_back(static_cast<int>(rte_lcore_to_cpu_id(static_cast<int>(lc)))); }
  }

  std::unique_ptr<DpdkContext> ctx(new DpdkContext);
  ctx->burst_size_ = cfg.burst_size ? cfg.burst_size : 32;
  try {
    for (size_t i = 0; i < cfg.ports.size(); ++i) {
      auto p = std::make_unique<Port>();
      p->cfg = cfg.ports[i];
      Port& ref = *p;
      ctx->ports_.push_back(std::move(p));
      setup_port(ref, cfg, i);
    }
  } catch (...) {
    // Keep the EAL (it cannot be re-initialised) but release the ports. The
    // context is destroyed here, under the lock, without its destructor
    // (which takes the lock and cleans the EAL up).
    for (auto& p : ctx->ports_) p->close();
    ctx->ports_.clear();
    ctx->eal_owner_ = false;
    throw;
  }
  ctx->eal_owner_ = true;
  g_eal_state = EalState::in_use;
  return ctx;
}

DpdkContext::~DpdkContext() {
  for (auto& p : ports_) p->close();
  ports_.clear();
  if (!eal_owner_) return;
  std::lock_guard<std::mutex> lock(g_eal_mutex);
  if (g_eal_state == EalState::in_use) {
    rte_eal_cleanup();
    g_eal_state = EalState::cleaned;
  }
}

std::vector<std::unique_ptr<PacketSource>> DpdkContext::take_queue_sources() {
  std::vector<std::unique_ptr<PacketSource>> out;
  if (sources_taken_) return out;
  sources_taken_ = true;
  for (auto& p : ports_)
    for (uint16_t q = 0; q < p->cfg.rx_queues; ++q)
      out.push_back(std::make_unique<DpdkQueueSource>(*p, q, burst_size_));
  return out;
}

size_t DpdkContext::ports() const { return ports_.size(); }
std::string DpdkContext::port_name(size_t i) const { return ports_.at(i)->name; }
uint16_t DpdkContext::queues(size_t i) const { return ports_.at(i)->cfg.rx_queues; }

DpdkPortStats DpdkContext::port_stats(size_t i) const {
  rte_eth_stats st;
  std::memset(&st, 0, sizeof st);
  DpdkPortStats out;
  if (rte_eth_stats_get(ports_.at(i)->port_id, &st) != 0) return out;
  out.ipackets = st.ipackets;
  out.ibytes = st.ibytes;
  out.imissed = st.imissed;
  out.ierrors = st.ierrors;
  out.rx_nombuf = st.rx_nombuf;
  return out;
}

uint64_t DpdkContext::queue_stat_packets(size_t port, uint16_t q) const {
  return ports_.at(port)->counters.at(q)->packets.load(std::memory_order_relaxed);
}

uint64_t DpdkContext::queue_stat_bytes(size_t port, uint16_t q) const {
  return ports_.at(port)->counters.at(q)->bytes.load(std::memory_order_relaxed);
}

std::vector<int> DpdkContext::worker_cpus() const { return g_worker_cpus; }

std::string DpdkContext::describe() const {
  std::string s = "dpdk:";
  for (size_t i = 0; i < ports_.size(); ++i) {
    const Port& p = *ports_[i];
    s += (i ? "; " : " ") + p.name + " (port " + std::to_string(p.port_id) + ", " + p.driver + ", " +
         std::to_string(p.cfg.rx_queues) + " rx queue" + (p.cfg.rx_queues == 1 ? "" : "s") + ", " +
         p.rss + ", timestamps: " + p.timestamp + ")";
  }
  return s;
}

}  // namespace privateer
