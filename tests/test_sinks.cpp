// The timeseries sinks against real servers on loopback: carbon-cache
// (read back from its whisper files with python3-whisper), influxd (read back
// with /query), librdkafka's mock cluster (read back with a consumer, the
// payload checked by an influxd), the ascii files (gzip read by python3); and
// a run of the binary with its sinks down.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fcntl.h>
#include <fstream>
#include <random>
#include <set>

#include "control/metrics.hpp"
#include "control/sinks/sinks.hpp"
#include "plugins/common/options.hpp"
#include "tests/test_support.hpp"

namespace fs = std::filesystem;
using namespace privateer;

namespace {

const char* kFields[] = {"uniq_src_ip", "uniq_dst_ip", "uniq_src_asn", "pkt_cnt", "ip_len"};

// A free TCP port below the ephemeral range (32768 and up on Linux), so that
// no client connection of this machine takes it between here and the
// server's bind.
uint16_t free_port() {
  static std::mt19937 rng(static_cast<uint32_t>(::getpid()) * 2654435761u ^ static_cast<uint32_t>(::time(nullptr)));
  for (;;) {
    const uint16_t port = static_cast<uint16_t>(20000 + rng() % 12000);
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    if (ok) return port;
  }
}

bool port_open(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// `n` rows over the report's metric kinds, with random counts.
std::vector<TimeseriesRow> make_rows(size_t n, uint32_t seed, bool odd_values = false) {
  std::mt19937_64 rng(seed);
  std::vector<TimeseriesRow> rows;
  for (size_t i = 0; i < n; ++i) {
    TimeseriesRow r;
    if (i == 0) {
      r.metric = "overall";
    } else if (i % 3 == 0) {
      r.metric = "geo.maxmind.EU";
      r.value = "C" + std::to_string(i);
    } else {
      r.metric = i % 3 == 1 ? "traffic.protocol" : "traffic.port.tcp.dst_port";
      r.value = std::to_string(i);
      if (odd_values && i % 4 == 1) r.value = "a b,c=d" + std::to_string(i);
    }
    r.uniq_src_ip = rng() % 100000;
    r.uniq_dst_ip = rng() % 100000;
    r.uniq_src_asn = rng() % 1000;
    r.pkt_cnt = rng() % 10000000;
    r.byte_cnt = rng() % 1000000000000ULL;
    rows.push_back(r);
  }
  return rows;
}

// libtimeseries' `key value ts` lines of rows [from, to).
std::vector<std::string> key_lines(const std::string& label, uint64_t ts, const std::vector<TimeseriesRow>& rows,
                                   size_t from = 0, size_t to = SIZE_MAX) {
  std::vector<std::string> out;
  for (size_t i = from; i < std::min(to, rows.size()); ++i) {
    const auto& r = rows[i];
    const uint64_t v[] = {r.uniq_src_ip, r.uniq_dst_ip, r.uniq_src_asn, r.pkt_cnt, r.byte_cnt};
    for (int f = 0; f < 5; ++f) {
      out.push_back(label + "." + r.metric + (r.value.empty() ? "" : "." + r.value) + "." + kFields[f] + " " +
                    std::to_string(v[f]) + " " + std::to_string(ts));
    }
  }
  return out;
}

// The tab-separated lines sinks_read.py prints for InfluxDB points.
std::vector<std::string> influx_rows(const std::string& label, uint64_t ts, const std::vector<TimeseriesRow>& rows,
                                     size_t from = 0, size_t to = SIZE_MAX) {
  std::vector<std::string> out;
  for (size_t i = from; i < std::min(to, rows.size()); ++i) {
    const auto& r = rows[i];
    out.push_back(r.metric + "\t" + (r.value.empty() ? "-" : r.value) + "\t" + label + "\t" + std::to_string(ts) +
                  "\t" + std::to_string(r.uniq_src_ip) + "\t" + std::to_string(r.uniq_dst_ip) + "\t" +
                  std::to_string(r.uniq_src_asn) + "\t" + std::to_string(r.pkt_cnt) + "\t" +
                  std::to_string(r.byte_cnt));
  }
  return out;
}

std::multiset<std::string> as_set(const std::vector<std::string>& v) { return {v.begin(), v.end()}; }

// privateer_sink_points_total{sink=NAME,result=RESULT} from the registry.
double points_metric(const MetricsRegistry& reg, const std::string& sink, const std::string& result) {
  for (const auto& fam : reg.snapshot()) {
    if (fam.name != "privateer_sink_points_total") continue;
    for (const auto& m : fam.metric) {
      bool s = false, r = false;
      for (const auto& l : m.label) {
        s |= l.name == "sink" && l.value == sink;
        r |= l.name == "result" && l.value == result;
      }
      if (s && r) return m.counter.value;
    }
  }
  return -1;
}

TimeseriesBackendSpec spec_of(const std::string& yaml) {
  const auto v = parse_timeseries_backends(YAML::Load("libtimeseriesbackends:\n" + yaml));
  if (v.size() != 1) throw std::runtime_error("want one backend");
  return v[0];
}

// A server process of the test's own, its output in `log`.
class Server {
 public:
  Server(std::vector<std::string> argv, fs::path log) : argv_(std::move(argv)), log_(std::move(log)) {}
  ~Server() { stop(); }
  void start() {
    pid_ = ::fork();
    if (pid_ == 0) {
      const int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      std::vector<char*> a;
      for (auto& s : argv_) a.push_back(s.data());
      a.push_back(nullptr);
      ::execvp(a[0], a.data());
      ::_exit(127);
    }
  }
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int st = 0;
    if (!test::wait_until([&] { return ::waitpid(pid_, &st, WNOHANG) == pid_; }, 20)) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &st, 0);
    }
    pid_ = -1;
  }

 private:
  std::vector<std::string> argv_;
  fs::path log_;
  pid_t pid_ = -1;
};

struct Carbon {
  explicit Carbon(const fs::path& dir) : dir(dir), port(free_port()) {
    fs::create_directories(dir / "conf");
    std::ofstream(dir / "conf" / "storage-schemas.conf") << "[all]\npattern = .*\nretentions = 60s:7d\n";
    const std::string s = (dir / "storage").string();
    std::ofstream(dir / "conf" / "carbon.conf")
        << "[cache]\nSTORAGE_DIR = " << s << "/\nLOCAL_DATA_DIR = " << s << "/whisper/\nWHITELISTS_DIR = " << s
        << "/lists/\nCONF_DIR = " << (dir / "conf").string() << "/\nLOG_DIR = " << s << "/log/\nPID_DIR = " << s
        << "/\nENABLE_LOGROTATION = False\nUSER =\nMAX_CACHE_SIZE = inf\nMAX_UPDATES_PER_SECOND = inf\n"
        << "MAX_CREATES_PER_MINUTE = inf\nLINE_RECEIVER_INTERFACE = 127.0.0.1\nLINE_RECEIVER_PORT = " << port
        << "\nENABLE_UDP_LISTENER = False\nPICKLE_RECEIVER_INTERFACE = 127.0.0.1\nPICKLE_RECEIVER_PORT = "
        << free_port() << "\nCACHE_QUERY_INTERFACE = 127.0.0.1\nCACHE_QUERY_PORT = " << free_port()
        << "\nLOG_LISTENER_CONNECTIONS = False\nWHISPER_AUTOFLUSH = True\n";
  }
  bool start() {
    server.start();
    return test::wait_until([&] { return port_open(port); }, 60);
  }
  // The `key value ts` lines in the whisper files for times [from, until].
  std::vector<std::string> points(uint64_t from, uint64_t until) const {
    std::string out;
    test::run_stdout("/usr/bin/python3 " + test::quote(test::source_root() / "tests" / "sinks_read.py") +
                         " whisper " + test::quote(dir / "storage" / "whisper") + " " + std::to_string(from) + " " +
                         std::to_string(until),
                     &out);
    return test::lines_of(out);
  }
  fs::path dir;
  uint16_t port;
  Server server{{"carbon-cache", "--config=" + (dir / "conf" / "carbon.conf").string(), "--nodaemon", "start"},
                dir / "carbon.out"};
};

struct Influx {
  explicit Influx(const fs::path& dir) : dir(dir), port(free_port()) {
    std::ofstream(dir / "influxdb.conf")
        << "reporting-disabled = true\nbind-address = \"127.0.0.1:" << free_port() << "\"\n[meta]\n  dir = \""
        << (dir / "meta").string() << "\"\n[data]\n  dir = \"" << (dir / "data").string() << "\"\n  wal-dir = \""
        << (dir / "wal").string() << "\"\n  query-log-enabled = false\n  max-values-per-tag = 0\n[http]\n  bind-address = \"127.0.0.1:" << port
        << "\"\n  log-enabled = false\n  max-body-size = 0\n[monitor]\n  store-enabled = false\n[continuous_queries]\n  enabled = false\n";
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
  bool start() {
    server.start();
    return test::wait_until([&] { return test::run_command("curl -sf " + url() + "/ping") == 0; }, 60);
  }
  bool create(const std::string& db) {
    return test::run_command("curl -sf -XPOST " + url() + "/query --data-urlencode 'q=CREATE DATABASE " + db + "'") ==
           0;
  }
  std::vector<std::string> points(const std::string& db, const std::string& measurement) const {
    std::string out;
    test::run_stdout("/usr/bin/python3 " + test::quote(test::source_root() / "tests" / "sinks_read.py") +
                         " influx " + url() + " " + db + " " + test::quote(measurement),
                     &out);
    return test::lines_of(out);
  }
  fs::path dir;
  uint16_t port;
  Server server{{"influxd", "-config", (dir / "influxdb.conf").string()}, dir / "influxd.out"};
};

// The stop-and-restart scenario every networked sink goes through, with a
// queue of 30 points: A (15 rows) while the server is up, then B and C (20
// rows each) while it is down, so that 10 of B (the oldest) are dropped,
// then the server back. `have` reads what the server holds.
template <typename Srv>
void stop_and_restart(Srv& server, const TimeseriesBackendSpec& spec, uint64_t ts0,
                      const std::function<std::vector<std::string>(const std::string&, uint64_t,
                                                                   const std::vector<TimeseriesRow>&, size_t, size_t)>&
                          expect,
                      const std::function<std::vector<std::string>()>& have) {
  const auto a = make_rows(15, 1), b = make_rows(20, 2), c = make_rows(20, 3);
  SinkHub hub({spec});
  MetricsRegistry reg;
  register_sink_metrics(reg, hub);
  const Sink& sink = *hub.all()[0];
  hub.write_interval("report.test", ts0, a);
  const auto want_a = as_set(expect("report.test", ts0, a, 0, SIZE_MAX));
  ASSERT_TRUE(test::wait_until([&] { return as_set(have()) == want_a; }, 60)) << "A never arrived: sent " << sink.sent() << ", have " << have().size() << " of " << want_a.size();
  EXPECT_EQ(sink.sent(), 15u);

  server.server.stop();
  hub.write_interval("report.test", ts0 + 60, b);
  ASSERT_TRUE(test::wait_until([&] { return sink.retried() > 0; }, 30)) << "no retry while the server is down";
  hub.write_interval("report.test", ts0 + 120, c);
  ASSERT_TRUE(test::wait_until([&] { return sink.dropped() == 10; }, 30)) << sink.dropped();
  EXPECT_EQ(points_metric(reg, spec.name, "dropped"), 10);
  EXPECT_EQ(sink.sent(), 15u);

  ASSERT_TRUE(server.start());
  ASSERT_TRUE(test::wait_until([&] { return sink.sent() == 45; }, 90)) << sink.sent();
  hub.close();
  auto want = expect("report.test", ts0, a, 0, SIZE_MAX);
  for (const auto& l : expect("report.test", ts0 + 60, b, 10, SIZE_MAX)) want.push_back(l);
  for (const auto& l : expect("report.test", ts0 + 120, c, 0, SIZE_MAX)) want.push_back(l);
  std::multiset<std::string> got;
  test::wait_until([&] { return (got = as_set(have())) == as_set(want); }, 60);
  EXPECT_EQ(got, as_set(want));
  EXPECT_EQ(points_metric(reg, spec.name, "sent"), 45);
  EXPECT_EQ(points_metric(reg, spec.name, "dropped"), 10);
  EXPECT_GE(points_metric(reg, spec.name, "retried"), 20);
  std::printf("%s: sent %llu, retried %llu, dropped %llu\n", spec.name.c_str(),
              static_cast<unsigned long long>(sink.sent()), static_cast<unsigned long long>(sink.retried()),
              static_cast<unsigned long long>(sink.dropped()));
}

uint64_t recent_minute() { return static_cast<uint64_t>(::time(nullptr)) / 60 * 60 - 3600; }

}  // namespace

TEST(SinkConfig, CorsaroKeysAndOurs) {
  const auto v = parse_timeseries_backends(YAML::Load(
      "libtimeseriesbackends:\n"
      " - ascii: {file: /tmp/x, compress: 1}\n"
      " - kafka: {brokeruri: \"localhost:9092\", compresscodec: uncompressed, topicprefix: corsaroreport}\n"
      " - kafka: {brokeruri: \"b:9092\"}\n"
      " - graphite: {host: localhost}\n"
      " - influxdb: {url: \"http://h:8086/\", database: d, queue_points: 5, flush_timeout: 2.5}\n"));
  ASSERT_EQ(v.size(), 5u);
  EXPECT_EQ(v[0].name, "ascii");
  EXPECT_EQ(v[0].compress, 1);
  EXPECT_EQ(v[1].name, "kafka-1");
  EXPECT_EQ(v[1].compresscodec, "none");
  EXPECT_EQ(v[1].topicprefix + "." + v[1].channelname, "corsaroreport.default");
  EXPECT_EQ(v[2].compresscodec, "snappy");   // corsarotrace's defaults
  EXPECT_EQ(v[2].topicprefix, "");
  EXPECT_EQ(v[3].port, 2003);
  EXPECT_EQ(v[4].url, "http://h:8086");
  EXPECT_EQ(v[4].queue_points, 5u);
  EXPECT_DOUBLE_EQ(v[4].flush_timeout, 2.5);
}

TEST(SinkConfig, ErrorsNameKeyAndLine) {
  const std::pair<const char*, const char*> bad[] = {
      {"x: 1\nlibtimeseriesbackends:\n - dbats: {path: /x}\n", "libtimeseriesbackends[0].dbats' (line 3)"},
      {"libtimeseriesbackends:\n - ascii:\n     file: f\n     compress: 12\n",
       "libtimeseriesbackends[0].ascii.compress' (line 4)"},
      {"libtimeseriesbackends:\n - ascii: {compress: 1}\n", "libtimeseriesbackends[0].ascii.file' (line 2)"},
      {"libtimeseriesbackends:\n - graphite: {host: h, prot: 1}\n", "did you mean 'port'"},
      {"libtimeseriesbackends:\n - influxdb: {url: h:8086, database: d}\n", "influxdb.url' (line 2)"},
      {"libtimeseriesbackends:\n - kafka: {brokeruri: b, compresscodec: brotli}\n", "kafka.compresscodec"},
      {"libtimeseriesbackends:\n - kafka: {brokeruri: b, channelname: \"a b\"}\n", "kafka.channelname"},
      {"libtimeseriesbackends:\n - influx: {}\n", "libtimeseriesbackends[0].influx' (line 2)"},
      {"libtimeseriesbackends:\n - graphite: {host: h, queue_points: 0}\n", "graphite.queue_points' (line 2)"},
  };
  for (const auto& [yaml, want] : bad) {
    try {
      parse_timeseries_backends(YAML::Load(yaml));
      ADD_FAILURE() << "accepted: " << yaml;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
    }
  }
}

TEST(Sinks, AsciiPlainAndGzip) {
  test::TempDir tmp("privateer-sinks");
  const auto a = make_rows(40, 7), b = make_rows(25, 8);
  {
    SinkHub hub({spec_of(" - ascii: {file: " + tmp / "ts.txt" + "}\n"),
                 spec_of(" - ascii: {file: " + tmp / "ts.gz" + ", compress: 6}\n")});
    EXPECT_EQ(hub.sinks(), 2u);
    hub.write_interval("report.x", 1700000000, a);
    hub.write_interval("report.x", 1700000060, b);
    hub.close();
    for (const auto& s : hub.all()) {
      EXPECT_EQ(s->sent(), 65u);
      EXPECT_EQ(s->dropped(), 0u);
    }
  }
  auto want = key_lines("report.x", 1700000000, a);
  for (const auto& l : key_lines("report.x", 1700000060, b)) want.push_back(l);
  EXPECT_EQ(test::lines_of(test::read_file(tmp.path / "ts.txt")), want);
  std::string gz;
  ASSERT_EQ(test::run_stdout("/usr/bin/python3 -c 'import gzip,sys; sys.stdout.write(gzip.open(sys.argv[1],\"rt\").read())' " +
                                 test::quote(tmp.path / "ts.gz"),
                             &gz),
            0);
  EXPECT_EQ(test::lines_of(gz), want);
}

TEST(Sinks, FlushTimeoutBoundsTheEndAndCountsTheRest) {
  const uint16_t port = free_port();   // nothing listens there
  SinkHub hub({spec_of(" - graphite: {host: 127.0.0.1, port: " + std::to_string(port) + ", flush_timeout: 1}\n")});
  hub.write_interval("l", 1700000000, make_rows(10, 1));
  const auto t0 = std::chrono::steady_clock::now();
  hub.close();
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(took, 2.5);
  EXPECT_EQ(hub.all()[0]->sent(), 0u);
  EXPECT_EQ(hub.all()[0]->dropped(), 10u);
  EXPECT_GT(hub.all()[0]->retried(), 0u);
  hub.write_interval("l", 1700000060, make_rows(3, 2));   // after close: dropped
  EXPECT_EQ(hub.all()[0]->dropped(), 13u);
  std::printf("flush of an unreachable sink with flush_timeout 1: %.2f s\n", took);
}

TEST(Sinks, GraphiteCarbonStoppedAndRestarted) {
  PRIVATEER_REQUIRE_TOOL("command -v carbon-cache", "carbon-cache (graphite-carbon)");
  PRIVATEER_REQUIRE_TOOL("/usr/bin/python3 -c 'import whisper'", "python3-whisper");
  test::TempDir tmp("privateer-carbon");
  Carbon carbon(tmp.path);
  ASSERT_TRUE(carbon.start()) << test::read_file(tmp.path / "carbon.out");
  const uint64_t ts0 = recent_minute();
  stop_and_restart(
      carbon,
      spec_of(" - graphite: {host: 127.0.0.1, port: " + std::to_string(carbon.port) + ", queue_points: 30}\n"), ts0,
      key_lines, [&] { return carbon.points(ts0 - 60, ts0 + 180); });
}

TEST(Sinks, InfluxdbStoppedAndRestarted) {
  PRIVATEER_REQUIRE_TOOL("command -v influxd", "influxd (influxdb)");
  test::TempDir tmp("privateer-influx");
  Influx influx(tmp.path);
  ASSERT_TRUE(influx.start()) << test::read_file(tmp.path / "influxd.out");
  ASSERT_TRUE(influx.create("telescope"));
  stop_and_restart(influx,
                   spec_of(" - influxdb: {url: \"" + influx.url() +
                           "\", database: telescope, measurement: \"rep ort\", queue_points: 30}\n"),
                   1700000000, influx_rows, [&] { return influx.points("telescope", "rep ort"); });
}

TEST(Sinks, InfluxdbEscapesTagValues) {
  PRIVATEER_REQUIRE_TOOL("command -v influxd", "influxd (influxdb)");
  test::TempDir tmp("privateer-influx");
  Influx influx(tmp.path);
  ASSERT_TRUE(influx.start()) << test::read_file(tmp.path / "influxd.out");
  ASSERT_TRUE(influx.create("t"));
  const auto rows = make_rows(30, 5, true);
  SinkHub hub({spec_of(" - influxdb: {url: \"" + influx.url() + "\", database: t}\n")});
  hub.write_interval("report.a=b c", 1700000000, rows);
  hub.close();
  EXPECT_EQ(hub.all()[0]->sent(), 30u);
  EXPECT_EQ(as_set(influx.points("t", "privateer")), as_set(influx_rows("report.a=b c", 1700000000, rows)));
}

TEST(Sinks, KafkaMockBrokerDownAndUp) {
  char err[512];
  rd_kafka_t* mrk = rd_kafka_new(RD_KAFKA_PRODUCER, rd_kafka_conf_new(), err, sizeof err);
  ASSERT_NE(mrk, nullptr) << err;
  rd_kafka_mock_cluster_t* mc = rd_kafka_mock_cluster_new(mrk, 1);
  ASSERT_NE(mc, nullptr);
  const std::string brokers = rd_kafka_mock_cluster_bootstraps(mc);
  const std::string topic = "corsaroreport.telescope";
  ASSERT_EQ(rd_kafka_mock_topic_create(mc, topic.c_str(), 1, 1), RD_KAFKA_RESP_ERR_NO_ERROR);

  // Every message of the topic so far, from the start.
  auto consume_all = [&](size_t want_lines) {
    rd_kafka_conf_t* c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "bootstrap.servers", brokers.c_str(), err, sizeof err);
    rd_kafka_conf_set(c, "group.id", ("t" + std::to_string(::getpid()) + std::to_string(rand())).c_str(), err, sizeof err);
    rd_kafka_conf_set(c, "auto.offset.reset", "earliest", err, sizeof err);
    rd_kafka_t* consumer = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof err);
    rd_kafka_poll_set_consumer(consumer);
    rd_kafka_topic_partition_list_t* l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic.c_str(), RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(consumer, l);
    rd_kafka_topic_partition_list_destroy(l);
    std::string payload;
    size_t lines = 0;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (lines < want_lines && std::chrono::steady_clock::now() < until) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 200);
      if (!m) continue;
      if (!m->err) {
        payload.append(static_cast<const char*>(m->payload), m->len);
        lines = test::lines_of(payload).size();
      }
      rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(consumer);
    rd_kafka_destroy(consumer);
    return payload;
  };

  const auto a = make_rows(15, 1), b = make_rows(20, 2), c = make_rows(20, 3);
  std::string payload;
  {
    SinkHub hub({spec_of(" - kafka: {brokeruri: \"" + brokers +
                         "\", channelname: telescope, topicprefix: corsaroreport, compresscodec: snappy, "
                         "queue_points: 30}\n")});
    MetricsRegistry reg;
    register_sink_metrics(reg, hub);
    const Sink& sink = *hub.all()[0];
    hub.write_interval("report.k", 1700000000, a);
    ASSERT_TRUE(test::wait_until([&] { return sink.sent() == 15; }, 30));
    ASSERT_EQ(rd_kafka_mock_broker_set_down(mc, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
    hub.write_interval("report.k", 1700000060, b);
    ASSERT_TRUE(test::wait_until([&] { return sink.retried() > 0; }, 30)) << "no retry with the broker down";
    hub.write_interval("report.k", 1700000120, c);
    ASSERT_TRUE(test::wait_until([&] { return sink.dropped() == 10; }, 30)) << sink.dropped();
    ASSERT_EQ(rd_kafka_mock_broker_set_up(mc, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
    ASSERT_TRUE(test::wait_until([&] { return sink.sent() == 45; }, 60)) << sink.sent();
    hub.close();
    EXPECT_EQ(points_metric(reg, "kafka", "sent"), 45);
    EXPECT_EQ(points_metric(reg, "kafka", "dropped"), 10);
    EXPECT_GE(points_metric(reg, "kafka", "retried"), 20);
    std::printf("kafka: sent %llu, retried %llu, dropped %llu\n", static_cast<unsigned long long>(sink.sent()),
                static_cast<unsigned long long>(sink.retried()), static_cast<unsigned long long>(sink.dropped()));
  }
  payload = consume_all(45);
  rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(mrk);
  // A message sent again after a lost delivery report may come twice: the
  // distinct lines are what counts.
  auto lines = test::lines_of(payload);
  std::set<std::string> distinct(lines.begin(), lines.end());
  ASSERT_EQ(distinct.size(), 45u) << payload;

  // The payload is line protocol with nanosecond times: an InfluxDB takes it as is.
  if (!test::have("command -v influxd")) {
    test::skip_part("influxd (influxdb) missing: the Kafka payload is not checked by an InfluxDB");
    return;
  }
  test::TempDir tmp("privateer-kinflux");
  Influx influx(tmp.path);
  ASSERT_TRUE(influx.start());
  ASSERT_TRUE(influx.create("k"));
  std::ofstream(tmp.path / "payload.txt") << payload;
  ASSERT_EQ(test::run_command("curl -sf -XPOST '" + influx.url() + "/write?db=k' --data-binary @" +
                              test::quote(tmp.path / "payload.txt")),
            0);
  auto want = influx_rows("report.k", 1700000000, a);
  for (const auto& l : influx_rows("report.k", 1700000060, b, 10)) want.push_back(l);
  for (const auto& l : influx_rows("report.k", 1700000120, c)) want.push_back(l);
  EXPECT_EQ(as_set(influx.points("k", "privateer")), as_set(want));
}

// One interval of a full report's size (300,000 rows): handing it over takes
// no time, and both sinks get all of it.
TEST(Sinks, FullReportIntervalIsHandedOverAtOnce) {
  PRIVATEER_REQUIRE_TOOL("command -v influxd", "influxd (influxdb)");
  test::TempDir tmp("privateer-full");
  Influx influx(tmp.path);
  ASSERT_TRUE(influx.start()) << test::read_file(tmp.path / "influxd.out");
  ASSERT_TRUE(influx.create("full"));
  std::vector<TimeseriesRow> rows(300000);
  const char* classes[] = {"traffic.port.tcp.src_port", "traffic.port.tcp.dst_port", "traffic.port.udp.src_port",
                           "traffic.port.udp.dst_port", "traffic.pfx2asn"};
  for (size_t i = 0; i < rows.size(); ++i) {
    rows[i].metric = classes[i / 65536 % 5];
    rows[i].value = std::to_string(i % 65536);
    rows[i].pkt_cnt = i;
    rows[i].byte_cnt = 40 * i;
  }
  SinkHub hub({spec_of(" - ascii: {file: " + tmp / "full.gz" + ", compress: 1}\n"),
               spec_of(" - influxdb: {url: \"" + influx.url() + "\", database: full, flush_timeout: 120}\n")});
  const auto t0 = std::chrono::steady_clock::now();
  hub.write_interval("report.full", 1700000000, std::move(rows));
  const double handover = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  hub.close();
  const double all = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(handover, 0.1);
  EXPECT_EQ(hub.all()[0]->sent(), 300000u);
  EXPECT_EQ(hub.all()[1]->sent(), 300000u);
  std::string n;
  test::run_stdout("zcat " + test::quote(tmp.path / "full.gz") + " | wc -l", &n);
  EXPECT_EQ(std::stoull(n), 1500000u);
  std::string count;
  test::run_stdout("curl -s -G " + influx.url() + "/query --data-urlencode db=full --data-urlencode "
                   "'q=SELECT COUNT(pkt_cnt) FROM privateer'",
                   &count);
  EXPECT_NE(count.find(",300000]"), std::string::npos) << count;
  std::printf("300000 rows: handed over in %.4f s; ascii (gzip 1) and influxdb both done after %.2f s\n", handover,
              all);
}

// The binary with flowtuple only and two sinks whose servers are down: it
// starts, runs, stops cleanly and says what its sinks did.
TEST(Sinks, BinaryRunWithSinksDown) {
  const fs::path pcap = test::source_root() / "configs" / "quickstart" / "telescope.pcap";
  test::TempDir tmp("privateer-sinkrun");
  const uint16_t port = free_port();
  std::ofstream(tmp.path / "c.yaml") << "packetsource: " << pcap.string() << "\ninterval: 60\nthreads: 2\n"
                                     << "outtemplate: " << (tmp.path / "%P-%s").string() << "\n"
                                     << "prometheus: {listen: \"127.0.0.1:0\"}\nprogress: no\n"
                                     << "libtimeseriesbackends:\n"
                                     << "  - graphite: {host: 127.0.0.1, port: " << port << ", flush_timeout: 1}\n"
                                     << "  - kafka: {brokeruri: \"127.0.0.1:" << port
                                     << "\", channelname: c, flush_timeout: 1}\n"
                                     << "plugins:\n  - flowtuple\n";
  const auto t0 = std::chrono::steady_clock::now();
  const test::HeldRun r = test::run_and_scrape(tmp.path / "c.yaml", tmp.path);
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(r.status, 0) << "output: [" << r.output << "]";
  EXPECT_NE(r.output.find("timeseries sink graphite: 0 points sent, 0 retried, 0 dropped"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("timeseries sink kafka: 0 points sent"), std::string::npos) << r.output;
  for (const char* sink : {"graphite", "kafka"}) {
    for (const char* res : {"sent", "retried", "dropped"}) {
      EXPECT_EQ(test::sample(r.metrics, std::string("privateer_sink_points_total{sink=\"") + sink + "\",result=\"" + res +
                                            "\"}"),
                0)
          << sink << " " << res << "\n" << r.metrics;
    }
  }
  EXPECT_LT(took, 30);
}
