// Graphite's plaintext protocol over TCP: the ascii backend's lines.
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "control/sinks/format.hpp"
#include "control/sinks/sinks.hpp"

namespace privateer {

namespace {

int ms_until(Sink::Clock::time_point deadline) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Sink::Clock::now()).count();
  return ms < 0 ? 0 : static_cast<int>(ms);
}

class GraphiteSink : public Sink {
 public:
  explicit GraphiteSink(const TimeseriesBackendSpec& s)
      : Sink(s.name, s.queue_points, 10000, s.flush_timeout), host_(s.host), port_(std::to_string(s.port)) {}
  ~GraphiteSink() override { close(); }

 protected:
  void format(const TimeseriesInterval& iv, const TimeseriesRow& row, std::string& out) override {
    append_key_lines(iv.label, iv.ts, row, out);
  }

  Delivery deliver(const std::string& payload, size_t, Clock::time_point deadline, std::string& error) override {
    if (fd_ >= 0 && peer_closed()) disconnect();
    if (fd_ < 0 && !connect_to(deadline, error)) return Delivery::retry;
    size_t off = 0;
    while (off < payload.size()) {
      const ssize_t n = ::send(fd_, payload.data() + off, payload.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        off += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        pollfd p{fd_, POLLOUT, 0};
        if (::poll(&p, 1, ms_until(deadline)) > 0) continue;
        error = "sending to " + where() + " timed out";
      } else {
        error = "sending to " + where() + ": " + std::strerror(errno);
      }
      // Part of the batch may have reached carbon: the whole batch is sent
      // again (carbon keeps the last value of a key and time).
      disconnect();
      return Delivery::retry;
    }
    return Delivery::sent;
  }

  void shutdown() override { disconnect(); }

 private:
  std::string where() const { return host_ + ":" + port_; }
  // carbon never writes to us: readable means it closed the connection.
  bool peer_closed() const {
    char c;
    const ssize_t n = ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
  }
  void disconnect() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  bool connect_to(Clock::time_point deadline, std::string& error) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    const int rc = ::getaddrinfo(host_.c_str(), port_.c_str(), &hints, &res);
    if (rc != 0) {
      error = "cannot resolve " + host_ + ": " + gai_strerror(rc);
      return false;
    }
    error = "cannot connect to " + where();
    for (addrinfo* a = res; a && fd_ < 0; a = a->ai_next) {
      const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
      if (fd < 0) continue;
      int err = 0;
      if (::connect(fd, a->ai_addr, a->ai_addrlen) < 0) {
        err = errno;
        if (err == EINPROGRESS) {
          pollfd p{fd, POLLOUT, 0};
          socklen_t len = sizeof err;
          if (::poll(&p, 1, ms_until(deadline)) == 1) {
            ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
          } else {
            err = ETIMEDOUT;
          }
        }
      }
      if (err == 0) {
        fd_ = fd;
      } else {
        error = "cannot connect to " + where() + ": " + std::strerror(err);
        ::close(fd);
      }
    }
    ::freeaddrinfo(res);
    return fd_ >= 0;
  }

  const std::string host_, port_;
  int fd_ = -1;
};

}  // namespace

std::unique_ptr<Sink> make_graphite_sink(const TimeseriesBackendSpec& spec) {
  return std::make_unique<GraphiteSink>(spec);
}

}  // namespace privateer
