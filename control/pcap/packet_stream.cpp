#include "control/pcap/packet_stream.hpp"

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
constexpr size_t kQueuedBuffers = 8;        // buffers waiting for the file thread, at most
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
      span_(static_cast<uint64_t>(s.rotatefreq) * s.interval_seconds), enc_(o.format, o.nanoseconds, o.snaplen),
      file_accepted_(workers, 0), drops_at_open_(workers, 0) {
  namer_.set_stream_count(1);
  for (unsigned w = 0; w < workers; ++w) appenders_.push_back(std::make_unique<PacketAppender>(o.buffer_bytes));
  buf_.reserve(kBufferBytes + 256 * 1024);
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

void RotatingPacketStream::flush_buffer() {
  if (buf_.empty()) return;
  Command c{Command::data, {}, std::move(buf_), buf_packets_, {}, {}};
  buf_ = std::string();
  buf_.reserve(kBufferBytes + 256 * 1024);
  buf_packets_ = 0;
  send(std::move(c));
}

void RotatingPacketStream::open_file(uint64_t ts_s, uint64_t period) {
  // Named, as the Avro files, for the start of its first interval.
  file_start_ = ts_s - ts_s % s_.interval_seconds;
  file_period_ = period;
  file_open_ = true;
  enc_.start_file();
  intervals_.clear();
  file_packets_ = 0;
  for (size_t w = 0; w < appenders_.size(); ++w) {
    file_accepted_[w] = 0;
    drops_at_open_[w] = appenders_[w]->drops();
  }
  send(Command{Command::open, namer_.name(stream_, file_start_), {}, 0, {}, {}});
}

void RotatingPacketStream::close_file() {
  if (!file_open_) return;
  flush_buffer();
  Command c{Command::close, {}, {}, 0, {}, {}};
  if (o_.write_stats) {
    // corsarowdcap's .stats lines (time:, then thread:N FIELD_pkts:V per
    // worker and thread:-1 for all), with what Privateer knows per worker.
    std::string st = "time:" + std::to_string(file_start_) + "\n";
    uint64_t acc = 0, drp = 0;
    for (size_t w = 0; w < appenders_.size(); ++w) {
      const uint64_t d = appenders_[w]->drops() - drops_at_open_[w];
      st += "thread:" + std::to_string(w) + " accepted_pkts:" + std::to_string(file_accepted_[w]) + "\n";
      st += "thread:" + std::to_string(w) + " dropped_pkts:" + std::to_string(d) + "\n";
      acc += file_accepted_[w];
      drp += d;
    }
    st += "thread:-1 accepted_pkts:" + std::to_string(acc) + "\nthread:-1 dropped_pkts:" + std::to_string(drp) + "\n";
    c.stats = std::move(st);
  }
  c.done.stream = stream_;
  c.done.monitorid = s_.monitorid;
  c.done.interval_seconds = s_.interval_seconds;
  c.done.records = file_packets_;
  c.done.intervals = intervals_;
  send(std::move(c));
  file_open_ = false;
}

void RotatingPacketStream::emit(unsigned w, const PacketAppender::Header* h) {
  const uint64_t ts_s = h->ts_ns / kNs;
  const uint64_t period = span_ ? ts_s / span_ : 0;
  if (file_open_ && period > file_period_) close_file();
  if (!file_open_) open_file(ts_s, period);
  if (!enc_.encode(buf_, h->ts_ns, h->caplen, h->wirelen, h->linktype, PacketAppender::bytes(h))) {
    drop(PacketDrop::linktype, 1);
    return;
  }
  ++buf_packets_;
  ++file_packets_;
  ++file_accepted_[w];
  const uint64_t iv = ts_s - ts_s % s_.interval_seconds;
  if (intervals_.empty() || iv > intervals_.back().start) {
    intervals_.push_back({iv, iv + s_.interval_seconds, false, 0});
  }
  ++intervals_.back().records;
  if (buf_.size() >= kBufferBytes) flush_buffer();
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
    // Every worker is past the open file's period: close it now.
    if (file_open_ && span_) {
      uint64_t low = UINT64_MAX;
      for (size_t w = 0; w < n; ++w) low = std::min(low, hd[w] ? hd[w]->ts_ns : wm[w]);
      if (low / kNs >= (file_period_ + 1) * span_) close_file();
    }
    if (!progress) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!abort_.load(std::memory_order_acquire)) close_file();
  std::lock_guard<std::mutex> lock(mu_);
  merge_ended_ = true;
  cv_.notify_all();
}

void RotatingPacketStream::file_loop() {
  PacketFile file(o_.compression, o_.level);
  std::string path;
  bool failed = false;
  bool open = false;
  uint64_t packets = 0;
  PacketDrop reason = PacketDrop::io_error;
  auto fail = [&](const PacketWriteError& e) {
    reason = e.err == ENOSPC || e.err == EDQUOT ? PacketDrop::no_space : PacketDrop::io_error;
    file.abandon();
    failed = true;
    drop(reason, packets);
    log_error("output " + stream_ + ": " + e.what() + "; " + path + ".tmp kept as far as written, the rest of its " +
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
    switch (c.kind) {
      case Command::open:
        path = c.path;
        failed = false;
        open = true;
        packets = 0;
        try {
          file.open(path + ".tmp");
        } catch (const PacketWriteError& e) {
          fail(e);
        }
        break;
      case Command::data:
        if (failed) {
          drop(reason, c.packets);
          break;
        }
        packets += c.packets;
        try {
          file.write(c.bytes.data(), c.bytes.size());
        } catch (const PacketWriteError& e) {
          fail(e);
        }
        break;
      case Command::close:
        open = false;
        if (!failed) {
          try {
            file.close();
            if (std::rename((path + ".tmp").c_str(), path.c_str()) != 0) {
              const int e = errno;
              throw PacketWriteError("cannot rename " + path + ".tmp: " + std::strerror(e), e);
            }
          } catch (const PacketWriteError& e) {
            fail(e);
          }
        }
        if (failed) {
          failed_files_.fetch_add(1, std::memory_order_relaxed);
          break;
        }
        if (!c.stats.empty() && !write_text(path + ".stats", c.stats)) {
          log_error("output " + stream_ + ": cannot write " + path + ".stats");
        }
        if (!write_text(path + ".done", done_json(c.done))) {
          log_error("output " + stream_ + ": cannot write " + path + ".done");
        }
        packets_.fetch_add(packets, std::memory_order_relaxed);
        bytes_.fetch_add(file.bytes_written(), std::memory_order_relaxed);
        files_.fetch_add(1, std::memory_order_relaxed);
        paths_.push_back(path);
        break;
    }
  }
  if (open) file.abandon();   // aborted: the .tmp stays
}

}  // namespace privateer
