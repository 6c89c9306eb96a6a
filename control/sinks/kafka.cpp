// Kafka (librdkafka): InfluxDB line protocol, one message per batch, to the
// topic TOPICPREFIX.CHANNELNAME (libtimeseries' naming), for a Telegraf
// Kafka consumer. Timestamps in nanoseconds, the line protocol's default.
#include <librdkafka/rdkafka.h>

#include <stdexcept>

#include "control/log.hpp"
#include "control/sinks/format.hpp"
#include "control/sinks/sinks.hpp"

namespace privateer {

namespace {

// The delivery report of the message in flight (one at a time); a late
// report of a message taken back is told apart by its number.
struct Report {
  uint64_t seq = 0;
  bool done = false;
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
};

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* r = static_cast<Report*>(opaque);
  if (reinterpret_cast<uintptr_t>(m->_private) != r->seq) return;
  r->err = m->err;
  r->done = true;
}

void on_log(const rd_kafka_t*, int, const char* fac, const char* buf) {
  log_debug(std::string("librdkafka ") + fac + ": " + buf);
}

void on_error(rd_kafka_t*, int, const char* reason, void*) { log_debug(std::string("librdkafka: ") + reason); }

class KafkaSink : public Sink {
 public:
  explicit KafkaSink(const TimeseriesBackendSpec& s)
      : Sink(s.name, s.queue_points, 2000, s.flush_timeout),
        topic_(s.topicprefix + "." + s.channelname),
        measurement_(s.measurement) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    char err[512];
    const std::pair<const char*, std::string> settings[] = {
        {"bootstrap.servers", s.brokeruri},
        {"compression.codec", s.compresscodec},
        // A delivery report (success or failure) well before our 15 s per
        // delivery, so a broker that is down is retried at our backoff.
        {"message.timeout.ms", "4000"},
        {"socket.keepalive.enable", "true"},
        {"log.connection.close", "false"},
    };
    for (const auto& [k, v] : settings) {
      if (rd_kafka_conf_set(conf, k, v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        throw std::runtime_error(s.key + " (line " + std::to_string(s.line) + "): librdkafka refuses " + k + "=" +
                                 v + ": " + err);
      }
    }
    rd_kafka_conf_set_opaque(conf, &report_);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_log_cb(conf, on_log);
    rd_kafka_conf_set_error_cb(conf, on_error);
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk_) {
      throw std::runtime_error(s.key + " (line " + std::to_string(s.line) + "): cannot create a Kafka producer: " +
                               err);
    }
  }
  ~KafkaSink() override {
    close();
    rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_destroy(rk_);
  }

 protected:
  void format(const TimeseriesInterval& iv, const TimeseriesRow& row, std::string& out) override {
    append_line_protocol(measurement_, iv.label, std::to_string(iv.ts) + "000000000", row, out);
  }

  Delivery deliver(const std::string& payload, size_t, Clock::time_point deadline, std::string& error) override {
    Report& r = report_;
    r.seq++;
    r.done = false;
    const rd_kafka_resp_err_t rc =
        rd_kafka_producev(rk_, RD_KAFKA_V_TOPIC(topic_.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_VALUE(const_cast<char*>(payload.data()), payload.size()),
                          RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<uintptr_t>(r.seq))), RD_KAFKA_V_END);
    if (rc != RD_KAFKA_RESP_ERR_NO_ERROR) {
      error = "producing to topic " + topic_ + ": " + rd_kafka_err2str(rc);
      return rc == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ? Delivery::refused : Delivery::retry;
    }
    while (!r.done && Clock::now() < deadline) rd_kafka_poll(rk_, 50);
    if (!r.done) {
      // Out of time (the end-of-run flush): take the message back.
      rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
      rd_kafka_poll(rk_, 0);
      error = "topic " + topic_ + ": no delivery report in time";
      return Delivery::retry;
    }
    if (r.err == RD_KAFKA_RESP_ERR_NO_ERROR) return Delivery::sent;
    error = "delivering to topic " + topic_ + ": " + rd_kafka_err2str(r.err);
    return r.err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ? Delivery::refused : Delivery::retry;
  }

 private:
  const std::string topic_, measurement_;
  Report report_;
  rd_kafka_t* rk_ = nullptr;
};

}  // namespace

std::unique_ptr<Sink> make_kafka_sink(const TimeseriesBackendSpec& spec) { return std::make_unique<KafkaSink>(spec); }

}  // namespace privateer
