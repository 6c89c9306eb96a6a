#include "control/metrics.hpp"

#include <dirent.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <prometheus/exposer.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>

namespace privateer {

prometheus::MetricFamily& MetricsWriter::family(const std::string& name, const std::string& help,
                                                prometheus::MetricType type) {
  for (auto& f : families_) {
    if (f.name == name) return f;
  }
  prometheus::MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  families_.push_back(std::move(f));
  return families_.back();
}

static prometheus::ClientMetric make_metric(const MetricLabels& labels) {
  prometheus::ClientMetric m;
  for (const auto& [k, v] : labels) m.label.push_back({k, v});
  return m;
}

void MetricsWriter::counter(const std::string& name, const std::string& help, double value,
                            const MetricLabels& labels) {
  auto m = make_metric(labels);
  m.counter.value = value;
  family(name, help, prometheus::MetricType::Counter).metric.push_back(std::move(m));
}

void MetricsWriter::gauge(const std::string& name, const std::string& help, double value,
                          const MetricLabels& labels) {
  auto m = make_metric(labels);
  m.gauge.value = value;
  family(name, help, prometheus::MetricType::Gauge).metric.push_back(std::move(m));
}

void MetricsRegistry::add(Sampler s) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!closed_) samplers_.push_back(std::move(s));
}

void MetricsRegistry::close() {
  std::vector<Sampler> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    dropped.swap(samplers_);
  }
  // (The samplers' captures are destroyed outside the lock.)
}

std::vector<prometheus::MetricFamily> MetricsRegistry::Collect() const {
  std::lock_guard<std::mutex> lock(mu_);
  MetricsWriter w;
  for (const auto& s : samplers_) s(w);
  return w.take();
}

std::vector<CounterSample> RegistryCounters::read(const std::vector<std::string>& names) const {
  std::vector<CounterSample> out;
  if (!reg_ || names.empty()) return out;
  for (const prometheus::MetricFamily& f : reg_->snapshot()) {
    if (std::find(names.begin(), names.end(), f.name) == names.end()) continue;
    for (const prometheus::ClientMetric& m : f.metric) {
      CounterSample c{f.name, {}, f.type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value};
      for (const auto& l : m.label) c.labels.emplace_back(l.name, l.value);
      out.push_back(std::move(c));
    }
  }
  return out;
}

namespace {

// The process's open file descriptors (from /proc/self/fd; empty without it).
std::set<int> open_fds() {
  std::set<int> fds;
  DIR* d = opendir("/proc/self/fd");
  if (!d) return fds;
  const int own = dirfd(d);
  while (const dirent* e = readdir(d)) {
    char* end = nullptr;
    const long fd = std::strtol(e->d_name, &end, 10);
    if (end != e->d_name && *end == '\0' && fd != own) fds.insert(static_cast<int>(fd));
  }
  closedir(d);
  return fds;
}

// The local port of TCP/IP socket `fd` and whether it listens; false when
// `fd` is no such socket.
bool tcp_socket_port(int fd, int* port, bool* listening) {
  sockaddr_storage sa{};
  socklen_t salen = sizeof sa;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &salen) != 0) return false;
  if (sa.ss_family == AF_INET) {
    *port = ntohs(reinterpret_cast<const sockaddr_in&>(sa).sin_port);
  } else if (sa.ss_family == AF_INET6) {
    *port = ntohs(reinterpret_cast<const sockaddr_in6&>(sa).sin6_port);
  } else {
    return false;
  }
  int type = 0, acc = 0;
  socklen_t len = sizeof type;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM) return false;
  len = sizeof acc;
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) != 0) return false;
  *listening = acc != 0;
  return true;
}

// The TCP sockets among `fds` on one of `ports`, listening or not.
std::vector<int> tcp_sockets_on(const std::set<int>& fds, const std::vector<int>& ports, bool listening) {
  std::vector<int> out;
  for (int fd : fds) {
    int port = -1;
    bool l = false;
    if (tcp_socket_port(fd, &port, &l) && l == listening &&
        std::find(ports.begin(), ports.end(), port) != ports.end()) {
      out.push_back(fd);
    }
  }
  return out;
}

}  // namespace

void write_process_metrics(MetricsWriter& w) {
  // /proc/self/stat: the fields after the command name (in parentheses, and
  // free to hold spaces and parentheses itself) start with field 3, state.
  std::string stat;
  {
    std::ifstream in("/proc/self/stat");  // closed before the fds are counted
    stat.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const size_t paren = stat.rfind(')');
  std::vector<std::string> f;  // f[i] is field i + 3 of proc(5)
  if (paren != std::string::npos) {
    std::istringstream in(stat.substr(paren + 1));
    for (std::string t; in >> t;) f.push_back(t);
  }
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  if (f.size() > 21 && tick > 0) {
    const double utime = std::strtod(f[11].c_str(), nullptr), stime = std::strtod(f[12].c_str(), nullptr);
    w.counter("process_cpu_seconds_total", "User and system CPU time spent in seconds", (utime + stime) / tick);
    // Start time in ticks after boot; boot time from /proc/stat's btime.
    std::ifstream sys("/proc/stat");
    for (std::string line; std::getline(sys, line);) {
      if (line.rfind("btime ", 0) == 0) {
        w.gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds",
                std::strtod(line.c_str() + 6, nullptr) + std::strtod(f[19].c_str(), nullptr) / tick);
        break;
      }
    }
    w.gauge("process_virtual_memory_bytes", "Virtual memory size in bytes", std::strtod(f[20].c_str(), nullptr));
    w.gauge("process_resident_memory_bytes", "Resident memory size in bytes",
            std::strtod(f[21].c_str(), nullptr) * static_cast<double>(sysconf(_SC_PAGESIZE)));
  }
  const std::set<int> fds = open_fds();
  if (!fds.empty()) w.gauge("process_open_fds", "Number of open file descriptors", static_cast<double>(fds.size()));
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0) {
    w.gauge("process_max_fds", "Maximum number of open file descriptors", static_cast<double>(lim.rlim_cur));
  }
}

std::string listen_problem(const std::string& listen) {
  std::string host, port;
  if (!listen.empty() && listen[0] == '[' && listen.find("]:") != std::string::npos) {
    host = listen.substr(1, listen.find("]:") - 1);
    port = listen.substr(listen.find("]:") + 2);
  } else if (listen.rfind(':') != std::string::npos) {
    host = listen.substr(0, listen.rfind(':'));
    port = listen.substr(listen.rfind(':') + 1);
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
  addrinfo* res = nullptr;
  if (const int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    return gai_strerror(rc);
  }
  std::string problem;
  for (const addrinfo* a = res; a; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      problem = std::strerror(errno);
      continue;
    }
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);  // as civetweb does
    const bool ok = ::bind(fd, a->ai_addr, a->ai_addrlen) == 0;
    if (!ok) problem = std::strerror(errno);
    ::close(fd);
    if (ok) {
      problem.clear();
      break;
    }
  }
  freeaddrinfo(res);
  return problem;
}

MetricsEndpoint::MetricsEndpoint(const std::string& listen, std::shared_ptr<MetricsRegistry> registry)
    : registry_(std::move(registry)) {
  // civetweb's own message for a port it cannot bind is "null context when
  // constructing CivetServer": find out why first.
  if (const std::string why = listen_problem(listen); !why.empty()) {
    throw std::runtime_error("cannot serve metrics on " + listen + ": " + why + ".");
  }
  const std::set<int> before = open_fds();
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(listen, 2);
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot serve metrics on " + listen + ": " + e.what());
  }
  exposer_->RegisterCollectable(registry_);
  // The listening sockets civetweb just opened, for the destructor.
  std::set<int> opened;
  for (int fd : open_fds()) {
    if (!before.count(fd)) opened.insert(fd);
  }
  ports_ = exposer_->GetListeningPorts();
  listen_fds_ = tcp_sockets_on(opened, ports_, true);
}

MetricsEndpoint::~MetricsEndpoint() {
  // ~Exposer ends in civetweb's mg_stop(), which raises a stop flag and waits
  // for the listener thread; that thread looks at the flag only between
  // poll()s of the listening sockets of up to 2 s (SOCKET_TIMEOUT_QUANTUM), so
  // a short run would wait out the rest of that. Shutting the listening
  // sockets down first ends the poll at once (Linux reports POLLHUP on them
  // from then on; accept() would fail, so no connection is taken any more):
  // the thread loops on the poll until mg_stop() raises the flag a moment
  // later, then closes the sockets and joins the workers as usual. The fds
  // are still civetweb's and open here; only it closes them.
  for (int fd : listen_fds_) ::shutdown(fd, SHUT_RDWR);
  // Likewise a worker serving a client that sends nothing (or slowly) polls
  // its connection in 2 s quanta: end the connections still open on our
  // port(s) (a scrape under way at exit fails). No new connection can be
  // accepted now, so these fds are civetweb's too.
  if (!listen_fds_.empty()) {
    for (int fd : tcp_sockets_on(open_fds(), ports_, false)) ::shutdown(fd, SHUT_RDWR);
  }
  exposer_.reset();
}

int MetricsEndpoint::port() const {
  const auto ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

}  // namespace privateer
