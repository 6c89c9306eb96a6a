// libtrace-based capture sources. See libtrace_source.hpp.
#include "hw/libtrace_source.hpp"

#include <libtrace.h>

#include <algorithm>
#include <atomic>
#include <poll.h>
#include <time.h>
#include <vector>

#include "hw/file_input.hpp"

namespace privateer {

namespace {

constexpr size_t kMaxBurst = 1024;   // libtrace packet objects kept (each owns a 64 KiB buffer)
constexpr int kLiveWaitMs = 100;     // longest wait for a live packet per read_burst()

std::string scheme_of(const std::string& uri) {
  const auto c = uri.find(':');
  return c == std::string::npos ? std::string() : uri.substr(0, c);
}

// Formats that capture from an interface or a network stream: read with
// trace_event() so that an idle input does not block read_burst().
bool is_live_scheme(const std::string& s) {
  static const char* const live[] = {"int", "ring", "pcapint", "bpf", "dag", "rt", "dpdk"};
  return std::any_of(std::begin(live), std::end(live), [&](const char* l) { return s == l; });
}

std::string libtrace_error(libtrace_t* t) {
  const libtrace_err_t e = trace_get_err(t);
  std::string msg = e.problem[0] ? std::string(e.problem) : std::string("libtrace error");
  return msg + " (libtrace error " + std::to_string(e.err_num) + ")";
}

bool is_erf_format(libtrace_packet_t* p) {
  const int f = static_cast<int>(trace_get_format(p));
  return f == TRACE_FORMAT_ERF || f == TRACE_FORMAT_RAWERF;
}

class LibtraceSource final : public PacketSource {
 public:
  LibtraceSource(std::string uri, libtrace_t* trace) : uri_(std::move(uri)), trace_(trace) {}

  ~LibtraceSource() override {
    for (auto* p : pkts_) trace_destroy_packet(p);
    if (trace_) trace_destroy(trace_);
  }

  void start() {
    if (trace_start(trace_) < 0) throw SourceError(uri_ + ": " + libtrace_error(trace_));
  }

  size_t read_burst(RawPacket* out, size_t max) override {
    if (eof_ || max == 0) return 0;
    max = std::min(max, kMaxBurst);
    while (pkts_.size() < max) {
      libtrace_packet_t* p = trace_create_packet();
      if (!p) throw SourceError(uri_ + ": out of memory for libtrace packets");
      pkts_.push_back(p);
    }
    return burst_live(out, max);
  }

  bool eof() const override { return eof_; }
  std::string name() const override { return uri_; }
  bool live() const override { return true; }

  // Live sources: bytes read, total unknown (0).
  SourceProgress progress() const override {
    SourceProgress s;
    s.bytes_read = bytes_read_.load(std::memory_order_relaxed);
    return s;
  }

 private:
  size_t burst_live(RawPacket* out, size_t max) {
    size_t n = 0;
    uint64_t bytes = 0;
    bool waited = false;
    while (n < max) {
      const libtrace_eventobj_t ev = trace_event(trace_, pkts_[n]);
      if (ev.type == TRACE_EVENT_PACKET) {
        if (ev.size < 0) throw SourceError(uri_ + ": " + libtrace_error(trace_));
        bytes += static_cast<uint64_t>(ev.size);
        if (convert(pkts_[n], out[n])) ++n;
        continue;
      }
      if (ev.type == TRACE_EVENT_TERMINATE) {
        if (trace_is_err(trace_)) throw SourceError(uri_ + ": " + libtrace_error(trace_));
        eof_ = true;
        break;
      }
      if (n > 0 || waited) break;
      waited = true;
      if (ev.type == TRACE_EVENT_IOWAIT) {
        pollfd pfd{ev.fd, POLLIN, 0};
        (void)::poll(&pfd, 1, kLiveWaitMs);
      } else {  // TRACE_EVENT_SLEEP
        const double s = std::min(ev.seconds, kLiveWaitMs / 1000.0);
        if (s > 0) {
          timespec ts{static_cast<time_t>(s), static_cast<long>((s - static_cast<double>(static_cast<time_t>(s))) * 1e9)};
          ::nanosleep(&ts, nullptr);
        }
      }
    }
    bytes_read_.fetch_add(bytes, std::memory_order_relaxed);
    return n;
  }

  // Fills `r` from a libtrace packet; false for records that are no packets
  // (meta-data, DUCK clock records) or that cannot be given a pcap link type.
  bool convert(libtrace_packet_t* p, RawPacket& r) {
    libtrace_linktype_t lt = TRACE_TYPE_UNKNOWN;
    uint32_t remaining = 0;
    void* buf = trace_get_packet_buffer(p, &lt, &remaining);
    if (!buf || lt == TRACE_TYPE_NONDATA || lt == TRACE_TYPE_METADATA || lt == TRACE_TYPE_DUCK ||
        lt == TRACE_TYPE_UNKNOWN) {
      ++skipped_;
      return false;
    }
    const size_t caplen = trace_get_capture_length(p);
    const size_t wirelen = trace_get_wire_length(p);
    r.wirelen = static_cast<uint32_t>(wirelen);
    if (is_erf_format(p) && p->header) {
      // The whole ERF record, header and extension headers included: header,
      // framing and captured bytes are contiguous in the packet buffer.
      const size_t framing = trace_get_framing_length(p);
      if (static_cast<uint8_t*>(p->header) + framing == static_cast<uint8_t*>(buf)) {
        r.data = static_cast<const uint8_t*>(p->header);
        r.caplen = static_cast<uint32_t>(framing + caplen);
        r.ts_ns = detail::erf_ts_to_ns(trace_get_erf_timestamp(p));
        r.linktype = linktype::erf;
        return true;
      }
    }
    int pcap_lt = libtrace_linktype_to_pcap(lt);
    const uint8_t* data = static_cast<const uint8_t*>(buf);
    uint32_t len = std::min<uint32_t>(remaining, static_cast<uint32_t>(caplen));
    if (pcap_lt < 0) {
      // No pcap equivalent (ATM cells, AAL5, PoS): hand over the layer 2
      // header if libtrace knows one with a pcap type, else the IP packet.
      libtrace_linktype_t l2t = TRACE_TYPE_UNKNOWN;
      uint32_t l2rem = 0;
      void* l2 = trace_get_layer2(p, &l2t, &l2rem);
      if (l2 && libtrace_linktype_to_pcap(l2t) >= 0) {
        pcap_lt = libtrace_linktype_to_pcap(l2t);
        data = static_cast<const uint8_t*>(l2);
        len = l2rem;
      } else {
        uint16_t ethertype = 0;
        uint32_t l3rem = 0;
        void* l3 = trace_get_layer3(p, &ethertype, &l3rem);
        if (!l3 || (ethertype != 0x0800 && ethertype != 0x86DD)) {
          ++skipped_;
          return false;
        }
        pcap_lt = linktype::raw;
        data = static_cast<const uint8_t*>(l3);
        len = l3rem;
      }
    }
    r.data = data;
    r.caplen = len;
    const timespec ts = trace_get_timespec(p);
    r.ts_ns = static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
    r.linktype = static_cast<uint16_t>(pcap_lt);
    return true;
  }

  std::string uri_;
  libtrace_t* trace_;
  bool eof_ = false;
  std::vector<libtrace_packet_t*> pkts_;
  uint64_t skipped_ = 0;     // records that are no packets (meta-data, clock records)
  std::atomic<uint64_t> bytes_read_{0};
};

[[noreturn]] void throw_create_error(const std::string& uri, libtrace_t* t) {
  const libtrace_err_t e = trace_get_err(t);
  std::string msg;
  if (scheme_of(uri) == "dag" && e.err_num == TRACE_ERR_BAD_FORMAT) {
    msg = uri + ": dag: capture needs libtrace built with DAG support (Endace DAG software); this libtrace has none";
  } else {
    msg = uri + ": " + libtrace_error(t);
  }
  trace_destroy(t);
  throw SourceError(msg);
}

}  // namespace

int libtrace_linktype_to_pcap(int lt) {
  switch (lt) {
    case TRACE_TYPE_ETH: return linktype::ethernet;
    case TRACE_TYPE_NONE: return linktype::raw;
    case TRACE_TYPE_LINUX_SLL: return linktype::linux_sll;
    case TRACE_TYPE_PFLOG: return 117;          // LINKTYPE_PFLOG
    case TRACE_TYPE_80211: return 105;          // LINKTYPE_IEEE802_11
    case TRACE_TYPE_80211_PRISM: return 119;    // LINKTYPE_IEEE802_11_PRISM
    case TRACE_TYPE_80211_RADIO: return 127;    // LINKTYPE_IEEE802_11_RADIOTAP
    case TRACE_TYPE_PPP: return 9;              // LINKTYPE_PPP
    case TRACE_TYPE_HDLC_POS: return 104;       // LINKTYPE_C_HDLC (Cisco HDLC)
    case TRACE_TYPE_POS: return 50;             // LINKTYPE_PPP_HDLC (PPP in HDLC-like framing)
    case TRACE_TYPE_LLCSNAP: return 100;        // LINKTYPE_ATM_RFC1483 (LLC/SNAP)
    case TRACE_TYPE_OPENBSD_LOOP: return linktype::loop;
    default: return -1;                         // ATM cells, AAL5, DUCK, meta-data
  }
}

bool is_live_uri(const std::string& uri) { return is_live_scheme(scheme_of(uri)); }

std::unique_ptr<PacketSource> open_libtrace_source(const std::string& uri) {
  if (!is_live_uri(uri)) throw SourceError(uri + ": not a live libtrace URI (trace files are read by our own readers)");
  libtrace_t* t = trace_create(uri.c_str());
  if (!t) throw SourceError(uri + ": libtrace could not create the trace");
  if (trace_is_err(t)) throw_create_error(uri, t);
  auto src = std::make_unique<LibtraceSource>(uri, t);
  src->start();
  return src;
}

void probe_libtrace_uri(const std::string& uri) {
  libtrace_t* t = trace_create(uri.c_str());
  if (!t) throw SourceError(uri + ": libtrace could not create the trace");
  if (trace_is_err(t)) throw_create_error(uri, t);
  trace_destroy(t);
}

}  // namespace privateer
