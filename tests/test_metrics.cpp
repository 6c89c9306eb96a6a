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

#include <fcntl.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <ctime>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "control/metrics.hpp"
#include "tests/test_support.hpp"

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

// The process_* metrics of this process, by name.
std::map<std::string, double> process_metrics() {
  MetricsWriter w;
  write_process_metrics(w);
  std::map<std::string, double> m;
  for (const auto& f : w.take()) {
    const auto& c = f.metric.at(0);
    m[f.name] = f.type == prometheus::MetricType::Counter ? c.counter.value : c.gauge.value;
  }
  return m;
}

// One ps(1) field of this process, as a number.
double ps_field(const std::string& field) {
  std::string out;
  EXPECT_EQ(privateer::test::run_stdout("ps -o " + field + "= -p " + std::to_string(getpid()), &out), 0);
  return std::stod(out);
}

}  // namespace

// process_* against ps(1) and the shell's ulimit, read a moment apart.
TEST(ProcessMetrics, AgreeWithPs) {
  // Some CPU time and memory to see.
  std::vector<char> touched(32 << 20, 1);
  volatile double x = 0;
  for (int i = 0; i < 20000000; ++i) x = x + std::sqrt(static_cast<double>(i));
  const auto m = process_metrics();
  for (const char* name : {"process_start_time_seconds", "process_cpu_seconds_total", "process_resident_memory_bytes",
                           "process_virtual_memory_bytes", "process_open_fds", "process_max_fds"}) {
    ASSERT_TRUE(m.count(name)) << name;
  }
  const double rss = ps_field("rss") * 1024, vsz = ps_field("vsz") * 1024;
  EXPECT_NEAR(m.at("process_resident_memory_bytes"), rss, 0.1 * rss);
  EXPECT_NEAR(m.at("process_virtual_memory_bytes"), vsz, 0.05 * vsz);
  EXPECT_NEAR(m.at("process_start_time_seconds"), static_cast<double>(std::time(nullptr)) - ps_field("etimes"), 2);
  EXPECT_NEAR(m.at("process_cpu_seconds_total"), ps_field("times"), 1.5);
  EXPECT_GT(m.at("process_cpu_seconds_total"), 0);
  std::string limit;
  ASSERT_EQ(privateer::test::run_stdout("ulimit -n", &limit), 0);
  EXPECT_EQ(m.at("process_max_fds"), std::stod(limit));
  // One more open file, one more fd.
  const int fd = open("/dev/null", O_RDONLY);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(process_metrics().at("process_open_fds"), m.at("process_open_fds") + 1);
  close(fd);
  EXPECT_EQ(touched[12345], 1);
}

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
