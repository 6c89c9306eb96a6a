// A line sink (plugins/plugin_api.hpp) over a socket: lines queued by the
// merge thread (bounded: when full, the oldest line is dropped and counted)
// and sent by a thread of their own (`pvt-sock-NAME`), so a slow or dead
// receiver never holds up the merge.
//
// UDP: one datagram per line; a failed send drops the line. TCP: a
// non-blocking connect (up to 1 s), writes that handle partial sends; when
// the connection fails (refused, reset, closed), it is made again with
// exponential backoff (0.1 s doubling to 5 s) and the line that was being
// sent goes again, whole, on the new connection (the receiver may have an
// unfinished last line from the old one). Lines written into the kernel's
// buffer of a connection that the peer then drops are lost without a trace:
// TCP does not tell.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "plugins/plugin_api.hpp"

namespace privateer {

class SocketLineSender : public LineSink {
 public:
  SocketLineSender(std::string name, const LineSinkOptions& o);
  ~SocketLineSender() override;
  void send(std::string line) override;
  // Sends what is queued for up to `timeout`, then stops the thread.
  void finish(std::chrono::milliseconds timeout);

  const std::string& name() const { return name_; }
  const LineSinkOptions& options() const { return o_; }
  uint64_t sent() const { return sent_.load(std::memory_order_relaxed); }
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  uint64_t connects() const { return connects_.load(std::memory_order_relaxed); }
  bool connected() const { return connected_.load(std::memory_order_relaxed); }

 private:
  void loop();
  bool connect_now();   // TCP; true when connected
  bool send_udp(const std::string& line);
  // TCP: sends line[off..]; false when the connection failed.
  bool send_tcp(const std::string& line, size_t& off);
  void close_fd();

  std::string name_;
  LineSinkOptions o_;
  int fd_ = -1;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point deadline_{};
  std::atomic<uint64_t> sent_{0}, dropped_{0}, connects_{0};
  std::atomic<bool> connected_{false};
  std::thread thread_;
};

}  // namespace privateer
