// The metrics endpoint in-process: scrapes see the samplers, a closed
// registry has none, and destroying the endpoint neither waits out
// civetweb's 2 s poll quantum (with or without a client connected) nor leaves
// a listener behind.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "control/metrics.hpp"

using namespace privateer;

namespace {

// A blocking TCP connection to 127.0.0.1:port (or ::1), -1 when refused.
int connect_to(int port, bool v6 = false) {
  const int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  int rc;
  if (v6) {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(static_cast<uint16_t>(port));
    a.sin6_addr = in6addr_loopback;
    rc = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  } else {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    rc = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  if (rc != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// GET /metrics, the whole response (empty on failure).
std::string scrape(int port, bool v6 = false) {
  const int fd = connect_to(port, v6);
  if (fd < 0) return {};
  const std::string req = "GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n";
  if (write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
    close(fd);
    return {};
  }
  std::string resp;
  char buf[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 5000) <= 0) break;
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    resp.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return resp;
}

std::shared_ptr<MetricsRegistry> registry_with_counter(std::atomic<int>* calls) {
  auto reg = std::make_shared<MetricsRegistry>();
  reg->add([calls](MetricsWriter& w) {
    ++*calls;
    w.counter("privateer_test_total", "a test counter", 42);
  });
  return reg;
}

double seconds_to_destroy(std::unique_ptr<MetricsEndpoint>& ep) {
  const auto t0 = std::chrono::steady_clock::now();
  ep.reset();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

TEST(MetricsRegistry, CloseDropsSamplers) {
  std::atomic<int> calls{0};
  auto reg = registry_with_counter(&calls);
  ASSERT_EQ(reg->snapshot().size(), 1u);
  EXPECT_EQ(reg->snapshot()[0].name, "privateer_test_total");
  EXPECT_EQ(calls.load(), 2);
  reg->close();
  EXPECT_TRUE(reg->snapshot().empty());
  reg->add([&calls](MetricsWriter& w) {
    ++calls;
    w.gauge("privateer_late", "added after close", 1);
  });
  EXPECT_TRUE(reg->snapshot().empty());   // ignored once closed
  EXPECT_EQ(calls.load(), 2);
}

TEST(MetricsEndpoint, ServesThenStopsAtOnce) {
  std::atomic<int> calls{0};
  auto reg = registry_with_counter(&calls);
  auto ep = std::make_unique<MetricsEndpoint>("127.0.0.1:0", reg);
  const int port = ep->port();
  ASSERT_GT(port, 0);
  const std::string resp = scrape(port);
  EXPECT_NE(resp.find("privateer_test_total 42"), std::string::npos) << resp;
  EXPECT_GE(calls.load(), 1);
  // Shortly after the start, when civetweb's listener has most of its 2 s
  // poll still ahead.
  const double s = seconds_to_destroy(ep);
  EXPECT_LT(s, 0.5);
  EXPECT_EQ(connect_to(port), -1) << "still listening";
  const int after = calls.load();
  EXPECT_EQ(reg->snapshot().size(), 1u);   // the registry itself lives on
  EXPECT_EQ(calls.load(), after + 1);
}

TEST(MetricsEndpoint, StopsAtOnceWithAnIdleClientConnected) {
  std::atomic<int> calls{0};
  auto reg = registry_with_counter(&calls);
  auto ep = std::make_unique<MetricsEndpoint>("127.0.0.1:0", reg);
  const int port = ep->port();
  ASSERT_GT(port, 0);
  // A client that connects and sends nothing occupies a worker, which polls
  // its connection in 2 s quanta; another one is scraped meanwhile.
  const int idle = connect_to(port);
  ASSERT_GE(idle, 0);
  EXPECT_NE(scrape(port).find("privateer_test_total 42"), std::string::npos);
  const double s = seconds_to_destroy(ep);
  EXPECT_LT(s, 0.5);
  // The server ended the idle connection.
  pollfd p{idle, POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 1000), 1);
  char c;
  EXPECT_LE(read(idle, &c, 1), 0);
  close(idle);
}

TEST(MetricsEndpoint, StopsAtOnceOnIpv6) {
  std::atomic<int> calls{0};
  auto reg = registry_with_counter(&calls);
  std::unique_ptr<MetricsEndpoint> ep;
  try {
    ep = std::make_unique<MetricsEndpoint>("[::1]:0", reg);
  } catch (const std::exception& e) {
    GTEST_SKIP() << "no IPv6 endpoint here: " << e.what();
  }
  const int port = ep->port();
  ASSERT_GT(port, 0);
  EXPECT_NE(scrape(port, true).find("privateer_test_total 42"), std::string::npos);
  EXPECT_LT(seconds_to_destroy(ep), 0.5);
  EXPECT_EQ(connect_to(port, true), -1);
}
