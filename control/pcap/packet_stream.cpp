#include "control/pcap/packet_stream.hpp"

#include <arpa/inet.h>
#include <pthread.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <fstream>

#include "control/log.hpp"

namespace privateer {
namespace {

constexpr size_t kBufferBytes = 1u << 20;   // encoded bytes handed to the file thread at once
constexpr size_t kFlowBufferBytes = 64u << 10;   // the same for each per-flow file
constexpr size_t kQueuedBuffers = 8;             // buffers waiting for the file thread, at most
constexpr size_t kListedFlowFiles = 32;          // per_flow: written_paths() keeps the first ones
constexpr uint64_t kNs = 1000000000u;

bool write_text(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  f.flush();
  return static_cast<bool>(f);
}

}  // namespace

RotatingPacketStream::RotatingPacketStream(const PacketStreamSettings& s, std::string stream,
                                           const PacketStreamOptions& o, unsigned workers)
    : s_(s), stream_(std::move(stream)), o_(o),
      namer_(s.outtemplate, s.monitorid, packet_file_extension(o.format, o.compression)),
      span_(static_cast<uint64_t>(s.rotatefreq) * s.interval_seconds),
      buffer_bytes_(o.per_flow ? kFlowBufferBytes : kBufferBytes) {
  namer_.set_stream_count(1);
  for (unsigned w = 0; w < workers; ++w) appenders_.push_back(std::make_unique<PacketAppender>(o.buffer_bytes));
  const size_t files = o.per_flow ? std::max<uint32_t>(1, o.max_open_files) : 1;
  outs_.reserve(files);
  for (size_t i = 0; i < files; ++i) outs_.emplace_back(o, workers);
  merge_thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "pvt-pkt-merge");
    merge_loop();
  });
  file_thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "pvt-pkt-file");
    file_loop();
  });
}

RotatingPacketStream::~RotatingPacketStream() {
  if (!finished_) {
    abort_.store(true, std::memory_order_release);
    {
      std::lock_guard<std::mutex> lock(mu_);
      cv_.notify_all();
    }
    merge_thread_.join();
    file_thread_.join();
  }
}

void RotatingPacketStream::finish() {
  if (finished_) return;
  finishing_.store(true, std::memory_order_release);
  merge_thread_.join();
  file_thread_.join();
  finished_ = true;
}

uint64_t RotatingPacketStream::dropped(PacketDrop r) const {
  uint64_t n = dropped_[static_cast<size_t>(r)].load(std::memory_order_relaxed);
  if (r == PacketDrop::buffer_full) {
    for (const auto& a : appenders_) n += a->drops();
  }
  return n;
}

uint64_t RotatingPacketStream::dropped_total() const {
  uint64_t n = 0;
  for (size_t r = 0; r < kPacketDropReasons; ++r) n += dropped(static_cast<PacketDrop>(r));
  return n;
}

void RotatingPacketStream::send(Command c) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return queue_.size() < kQueuedBuffers || abort_.load(); });
  if (abort_.load()) return;
  queue_.push_back(std::move(c));
  cv_.notify_all();
}

void RotatingPacketStream::flush_buffer(Out& f, unsigned slot) {
  if (f.buf.empty()) return;
  Command c{Command::data, slot, {}, std::move(f.buf), f.buf_packets, {}, {}};
  f.buf = std::string();
  f.buf.reserve(buffer_bytes_ + (o_.per_flow ? 0 : 256 * 1024));
  f.buf_packets = 0;
  send(std::move(c));
}

void RotatingPacketStream::open_file(Out& f, unsigned slot, uint64_t ts_s, const std::string& extra) {
  // Named, as the Avro files, for the start of its first interval.
  f.start = ts_s - ts_s % s_.interval_seconds;
  f.open = true;
  f.enc.start_file();
  f.buf.reserve(buffer_bytes_ + (o_.per_flow ? 0 : 256 * 1024));
  f.intervals.clear();
  f.packets = 0;
  for (size_t w = 0; w < appenders_.size(); ++w) {
    f.accepted[w] = 0;
    f.drops_at_open[w] = appenders_[w]->drops();
  }
  send(Command{Command::open, slot, namer_.name(stream_, f.start, extra), {}, 0, {}, {}});
}

void RotatingPacketStream::close_file(Out& f, unsigned slot) {
  if (!f.open) return;
  flush_buffer(f, slot);
  Command c{Command::close, slot, {}, {}, 0, {}, {}};
  if (o_.write_stats) {
    // corsarowdcap's .stats lines (time:, then thread:N FIELD_pkts:V per
    // worker and thread:-1 for all), with what Privateer knows per worker
    // (dropped: the worker's ring drops while the file was open).
    std::string st = "time:" + std::to_string(f.start) + "\n";
    uint64_t acc = 0, drp = 0;
    for (size_t w = 0; w < appenders_.size(); ++w) {
      const uint64_t d = appenders_[w]->drops() - f.drops_at_open[w];
      st += "thread:" + std::to_string(w) + " accepted_pkts:" + std::to_string(f.accepted[w]) + "\n";
      st += "thread:" + std::to_string(w) + " dropped_pkts:" + std::to_string(d) + "\n";
      acc += f.accepted[w];
      drp += d;
    }
    st += "thread:-1 accepted_pkts:" + std::to_string(acc) + "\nthread:-1 dropped_pkts:" + std::to_string(drp) + "\n";
    c.stats = std::move(st);
  }
  c.done.stream = stream_;
  c.done.monitorid = s_.monitorid;
  c.done.interval_seconds = s_.interval_seconds;
  c.done.records = f.packets;
  c.done.intervals = f.intervals;
  send(std::move(c));
  f.open = false;
  f.buf = std::string();   // per_flow: no memory kept by closed files
  if (o_.per_flow) {
    const auto it = flows_.find(f.flow);
    if (it != flows_.end()) it->second.out = -1;
  }
}

void RotatingPacketStream::close_all() {
  for (size_t i = 0; i < outs_.size(); ++i) close_file(outs_[i], static_cast<unsigned>(i));
  file_open_ = false;
}

// The open file of worker w's flow id, opened (the least recently written
// one finished first when all are open) where it has none.
RotatingPacketStream::Out& RotatingPacketStream::flow_file(unsigned w, uint32_t flow, uint64_t ts_s, uint64_t iv) {
  const uint64_t key = uint64_t{w} << 32 | flow;
  FlowEntry& e = flows_[key];
  if (e.label.empty()) e.label = "w" + std::to_string(w) + "-flow" + std::to_string(flow);
  e.last_interval = iv;
  if (e.out >= 0) return outs_[static_cast<size_t>(e.out)];
  size_t slot = outs_.size();
  for (size_t i = 0; i < outs_.size() && slot == outs_.size(); ++i) {
    if (!outs_[i].open) slot = i;
  }
  if (slot == outs_.size()) {
    slot = 0;
    for (size_t i = 1; i < outs_.size(); ++i) {
      if (outs_[i].last_use < outs_[slot].last_use) slot = i;
    }
    close_file(outs_[slot], static_cast<unsigned>(slot));
  }
  Out& f = outs_[slot];
  f.flow = key;
  e.out = static_cast<int>(slot);   // after close_file, which clears the evicted flow's
  open_file(f, static_cast<unsigned>(slot), ts_s, e.label);
  return f;
}

// A new interval: the flows without an open file and without a record for
// a whole interval are forgotten (a live one's key comes again).
void RotatingPacketStream::forget_flows(uint64_t iv) {
  for (auto it = flows_.begin(); it != flows_.end();) {
    if (it->second.out < 0 && it->second.last_interval + s_.interval_seconds < iv) {
      it = flows_.erase(it);
    } else {
      ++it;
    }
  }
}

void RotatingPacketStream::emit(unsigned w, const PacketAppender::Header* h) {
  const uint64_t ts_s = h->ts_ns / kNs;
  const uint64_t period = span_ ? ts_s / span_ : 0;
  const uint64_t iv = ts_s - ts_s % s_.interval_seconds;
  if (file_open_ && period > file_period_) close_all();
  if (o_.per_flow && iv > interval_) {
    interval_ = iv;
    forget_flows(iv);
  }
  if (h->skip == PacketAppender::kFlowKey) {
    if (o_.per_flow && h->caplen == sizeof(PacketFlowKey)) {
      PacketFlowKey k;
      std::memcpy(&k, PacketAppender::bytes(h), sizeof k);
      FlowEntry& e = flows_[uint64_t{w} << 32 | h->flow];
      e.label = flow_file_label(k);
      e.last_interval = iv;
    }
    return;
  }
  if (!file_open_) {
    file_open_ = true;
    file_period_ = period;
  }
  Out* fp = &outs_[0];
  unsigned slot = 0;
  if (o_.per_flow) {
    fp = &flow_file(w, h->flow, ts_s, iv);
    slot = static_cast<unsigned>(fp - outs_.data());
  } else if (!fp->open) {
    open_file(*fp, 0, ts_s, "");
  }
  Out& f = *fp;
  if (!f.enc.encode(f.buf, h->ts_ns, h->caplen, h->wirelen, h->linktype, PacketAppender::bytes(h))) {
    drop(PacketDrop::linktype, 1);
    return;
  }
  f.last_use = ++clock_;
  ++f.buf_packets;
  ++f.packets;
  ++f.accepted[w];
  if (f.intervals.empty() || iv > f.intervals.back().start) {
    f.intervals.push_back({iv, iv + s_.interval_seconds, false, 0});
  }
  ++f.intervals.back().records;
  if (f.buf.size() >= buffer_bytes_) flush_buffer(f, slot);
}

void RotatingPacketStream::merge_loop() {
  const size_t n = appenders_.size();
  std::vector<uint64_t> wm(n);
  std::vector<const PacketAppender::Header*> hd(n);
  for (;;) {
    if (abort_.load(std::memory_order_acquire)) break;
    const bool finishing = finishing_.load(std::memory_order_acquire);
    for (size_t w = 0; w < n; ++w) {
      wm[w] = appenders_[w]->watermark();
      hd[w] = appenders_[w]->peek();
    }
    // Half-full rings are written without waiting for idle workers.
    bool pressed = finishing;
    for (size_t w = 0; w < n && !pressed; ++w) pressed = appenders_[w]->used() > appenders_[w]->capacity() / 2;
    bool progress = false;
    for (;;) {
      size_t best = n;
      for (size_t w = 0; w < n; ++w) {
        if (hd[w] && (best == n || hd[w]->ts_ns < hd[best]->ts_ns)) best = w;
      }
      if (best == n) break;
      const uint64_t ts = hd[best]->ts_ns;
      // A worker with nothing buffered may still send a packet as old as
      // its watermark: wait for it, unless the run is over or pressed.
      bool safe = true;
      for (size_t w = 0; w < n && !pressed; ++w) {
        if (!hd[w] && (w < best ? wm[w] <= ts : wm[w] < ts)) safe = false;
      }
      if (!safe) break;
      emit(static_cast<unsigned>(best), hd[best]);
      appenders_[best]->pop();
      hd[best] = appenders_[best]->peek();
      progress = true;
    }
    for (auto& a : appenders_) a->release();
    if (finishing && !progress) break;
    // Every worker is past the open files' period: close them now.
    if (file_open_ && span_) {
      uint64_t low = UINT64_MAX;
      for (size_t w = 0; w < n; ++w) low = std::min(low, hd[w] ? hd[w]->ts_ns : wm[w]);
      if (low / kNs >= (file_period_ + 1) * span_) close_all();
    }
    if (!progress) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!abort_.load(std::memory_order_acquire)) close_all();
  std::lock_guard<std::mutex> lock(mu_);
  merge_ended_ = true;
  cv_.notify_all();
}

void RotatingPacketStream::file_loop() {
  // One per slot (the merge's outs_).
  struct Slot {
    explicit Slot(const PacketStreamOptions& o) : file(o.compression, o.level, o.per_flow ? kFlowBufferBytes : 0) {}
    PacketFile file;
    std::string path;
    bool failed = false;
    bool open = false;
    uint64_t packets = 0;
    PacketDrop reason = PacketDrop::io_error;
  };
  std::vector<std::unique_ptr<Slot>> slots;
  for (size_t i = 0; i < outs_.size(); ++i) slots.push_back(std::make_unique<Slot>(o_));
  auto fail = [&](Slot& f, const PacketWriteError& e) {
    f.reason = e.err == ENOSPC || e.err == EDQUOT ? PacketDrop::no_space : PacketDrop::io_error;
    f.file.abandon();
    f.failed = true;
    drop(f.reason, f.packets);
    log_error("output " + stream_ + ": " + e.what() + "; " + f.path + ".tmp kept as far as written, the rest of its " +
              "packets dropped until the next file");
  };
  for (;;) {
    Command c;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return !queue_.empty() || merge_ended_ || abort_.load(); });
      if (queue_.empty() || abort_.load()) break;
      c = std::move(queue_.front());
      queue_.pop_front();
      cv_.notify_all();
    }
    Slot& f = *slots.at(c.slot);
    switch (c.kind) {
      case Command::open:
        f.path = c.path;
        f.failed = false;
        f.open = true;
        f.packets = 0;
        try {
          f.file.open(f.path + ".tmp");
        } catch (const PacketWriteError& e) {
          fail(f, e);
        }
        break;
      case Command::data:
        if (f.failed) {
          drop(f.reason, c.packets);
          break;
        }
        f.packets += c.packets;
        try {
          f.file.write(c.bytes.data(), c.bytes.size());
        } catch (const PacketWriteError& e) {
          fail(f, e);
        }
        break;
      case Command::close:
        f.open = false;
        if (!f.failed) {
          try {
            f.file.close();
            if (std::rename((f.path + ".tmp").c_str(), f.path.c_str()) != 0) {
              const int e = errno;
              throw PacketWriteError("cannot rename " + f.path + ".tmp: " + std::strerror(e), e);
            }
          } catch (const PacketWriteError& e) {
            fail(f, e);
          }
        }
        if (f.failed) {
          failed_files_.fetch_add(1, std::memory_order_relaxed);
          break;
        }
        if (!c.stats.empty() && !write_text(f.path + ".stats", c.stats)) {
          log_error("output " + stream_ + ": cannot write " + f.path + ".stats");
        }
        if (!write_text(f.path + ".done", done_json(c.done))) {
          log_error("output " + stream_ + ": cannot write " + f.path + ".done");
        }
        packets_.fetch_add(f.packets, std::memory_order_relaxed);
        bytes_.fetch_add(f.file.bytes_written(), std::memory_order_relaxed);
        files_.fetch_add(1, std::memory_order_relaxed);
        if (!o_.per_flow || paths_.size() < kListedFlowFiles) paths_.push_back(f.path);
        break;
    }
  }
  for (auto& f : slots) {
    if (f->open) f->file.abandon();   // aborted: the .tmp stays
  }
}

std::string flow_file_label(const PacketFlowKey& k) {
  std::string proto;
  switch (k.proto) {
    case 6: proto = "tcp"; break;
    case 17: proto = "udp"; break;
    case 132: proto = "sctp"; break;
    case 1: proto = "icmp"; break;
    case 58: proto = "icmp6"; break;
    default: proto = std::to_string(k.proto);
  }
  auto addr = [&](const uint8_t* a) {
    char t[INET6_ADDRSTRLEN] = {};
    if (k.ip_version == 4) {
      uint32_t host;
      std::memcpy(&host, a, 4);
      const in_addr n{htonl(host)};
      inet_ntop(AF_INET, &n, t, sizeof t);
    } else {
      inet_ntop(AF_INET6, a, t, sizeof t);
    }
    std::string s = t;
    std::replace(s.begin(), s.end(), ':', '_');
    return s;
  };
  return proto + "-" + addr(k.a) + "-" + std::to_string(k.aport) + "-" + addr(k.b) + "-" + std::to_string(k.bport);
}

}  // namespace privateer
