#include "control/socket/line_sender.hpp"

#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "control/log.hpp"

namespace privateer {
namespace {

constexpr auto kFirstBackoff = std::chrono::milliseconds(100);
constexpr auto kMaxBackoff = std::chrono::milliseconds(5000);

}  // namespace

SocketLineSender::SocketLineSender(std::string name, const LineSinkOptions& o) : name_(std::move(name)), o_(o) {
  thread_ = std::thread([this] {
    const std::string t = ("pvt-sock-" + name_).substr(0, 15);
    pthread_setname_np(pthread_self(), t.c_str());
    loop();
  });
}

SocketLineSender::~SocketLineSender() { finish(std::chrono::milliseconds(0)); }

void SocketLineSender::send(std::string line) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (queue_.size() >= std::max<size_t>(o_.queue, 1)) {
    queue_.pop_front();
    dropped_.fetch_add(1, std::memory_order_relaxed);
  }
  queue_.push_back(std::move(line));
  cv_.notify_all();
}

void SocketLineSender::finish(std::chrono::milliseconds timeout) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!thread_.joinable()) return;
    stopping_ = true;
    deadline_ = std::chrono::steady_clock::now() + timeout;
    cv_.notify_all();
  }
  thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  dropped_.fetch_add(queue_.size(), std::memory_order_relaxed);
  queue_.clear();
  close_fd();
}

void SocketLineSender::close_fd() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  connected_.store(false, std::memory_order_relaxed);
}

bool SocketLineSender::connect_now() {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = o_.protocol == LineSinkOptions::Protocol::tcp ? SOCK_STREAM : SOCK_DGRAM;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(o_.port);
  if (::getaddrinfo(o_.host.c_str(), port.c_str(), &hints, &res) != 0 || !res) return false;
  bool ok = false;
  for (addrinfo* a = res; a && !ok; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      int err = ETIMEDOUT;
      socklen_t len = sizeof err;
      if (::poll(&p, 1, 1000) == 1) ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      rc = err == 0 ? 0 : -1;
    }
    if (rc == 0) {
      fd_ = fd;
      ok = true;
    } else {
      ::close(fd);
    }
  }
  ::freeaddrinfo(res);
  if (ok) {
    connects_.fetch_add(1, std::memory_order_relaxed);
    connected_.store(true, std::memory_order_relaxed);
  }
  return ok;
}

bool SocketLineSender::send_udp(const std::string& line) {
  if (fd_ < 0 && !connect_now()) return false;
  if (::send(fd_, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT) == static_cast<ssize_t>(line.size())) return true;
  close_fd();   // a refused port shows as ECONNREFUSED on a connected UDP socket
  return false;
}

bool SocketLineSender::send_tcp(const std::string& line, size_t& off) {
  while (off < line.size()) {
    const ssize_t n = ::send(fd_, line.data() + off, line.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd_, POLLOUT, 0};
      if (::poll(&p, 1, 200) < 0 && errno != EINTR) return false;
      if (p.revents & (POLLERR | POLLHUP)) return false;
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_ && std::chrono::steady_clock::now() >= deadline_) return false;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return false;
  }
  return true;
}

void SocketLineSender::loop() {
  auto backoff = kFirstBackoff;
  auto next_try = std::chrono::steady_clock::now();
  bool failing = false;
  std::string line;   // the line being sent, taken off the queue
  bool have = false;
  auto past_deadline = [this] { return stopping_ && std::chrono::steady_clock::now() >= deadline_; };
  for (;;) {
    if (!have) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return !queue_.empty() || stopping_; });
      if (queue_.empty() || past_deadline()) return;
      line = std::move(queue_.front());
      queue_.pop_front();
      line += '\n';
      have = true;
    }
    if (o_.protocol == LineSinkOptions::Protocol::udp) {
      (send_udp(line) ? sent_ : dropped_).fetch_add(1, std::memory_order_relaxed);
      have = false;
      continue;
    }
    // TCP: (re)connect when due; meanwhile the queue fills (oldest dropped).
    if (fd_ < 0) {
      if (std::chrono::steady_clock::now() < next_try) {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait_until(lock, next_try, [&] { return past_deadline(); });
        if (past_deadline()) {
          dropped_.fetch_add(1, std::memory_order_relaxed);
          return;
        }
        continue;
      }
      if (!connect_now()) {
        if (!failing) {
          log_warning("socket sink " + name_ + ": cannot connect to " + o_.host + ":" + std::to_string(o_.port) +
                      "; retrying with backoff, lines queue up (the oldest dropped when full)");
        }
        failing = true;
        next_try = std::chrono::steady_clock::now() + backoff;
        backoff = std::min(backoff * 2, kMaxBackoff);
        continue;
      }
      if (failing) log_info("socket sink " + name_ + ": connected to " + o_.host + ":" + std::to_string(o_.port));
      failing = false;
      backoff = kFirstBackoff;
    }
    size_t off = 0;
    if (!send_tcp(line, off)) {   // the line goes again, whole, on the next connection
      close_fd();
      next_try = std::chrono::steady_clock::now() + backoff;
      std::lock_guard<std::mutex> lock(mu_);
      if (past_deadline()) {
        dropped_.fetch_add(1, std::memory_order_relaxed);
        return;
      }
      continue;
    }
    sent_.fetch_add(1, std::memory_order_relaxed);
    have = false;
  }
}

}  // namespace privateer
