// InfluxDB 1.x: line protocol POSTed to URL/write?db=DATABASE&precision=s,
// with libcurl (keep-alive, https, proxies from the environment).
#include <curl/curl.h>

#include <mutex>

#include "control/sinks/format.hpp"
#include "control/sinks/sinks.hpp"

namespace privateer {

namespace {

size_t keep_body(char* p, size_t size, size_t n, void* out) {
  auto* s = static_cast<std::string*>(out);
  if (s->size() < 512) s->append(p, std::min<size_t>(size * n, 512 - s->size()));
  return size * n;
}

class InfluxSink : public Sink {
 public:
  explicit InfluxSink(const TimeseriesBackendSpec& s)
      : Sink(s.name, s.queue_points, 5000, s.flush_timeout), measurement_(s.measurement) {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    curl_ = curl_easy_init();
    if (!curl_) throw std::runtime_error("timeseries sink " + s.name + ": curl_easy_init failed");
    char* db = curl_easy_escape(curl_, s.database.c_str(), static_cast<int>(s.database.size()));
    url_ = s.url + "/write?db=" + db + "&precision=s";
    curl_free(db);
    headers_ = curl_slist_append(nullptr, "Content-Type: text/plain; charset=utf-8");
  }
  ~InfluxSink() override {
    close();
    curl_slist_free_all(headers_);
    curl_easy_cleanup(curl_);
  }

 protected:
  void format(const TimeseriesInterval& iv, const TimeseriesRow& row, std::string& out) override {
    append_line_protocol(measurement_, iv.label, std::to_string(iv.ts), row, out);
  }

  Delivery deliver(const std::string& payload, size_t, Clock::time_point deadline, std::string& error) override {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    std::string body;
    curl_easy_setopt(curl_, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(curl_, CURLOPT_POST, 1L);
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers_);
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, payload.data());
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(payload.size()));
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, static_cast<long>(ms > 1 ? ms : 1));
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, keep_body);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &body);
    const CURLcode rc = curl_easy_perform(curl_);
    if (rc != CURLE_OK) {
      error = "POST " + url_ + ": " + curl_easy_strerror(rc);
      return Delivery::retry;
    }
    long status = 0;
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &status);
    if (status / 100 == 2) return Delivery::sent;
    while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
    error = "POST " + url_ + ": HTTP " + std::to_string(status) + " " + body;
    // A 4xx other than 404 (database not created yet), 408 and 429 would
    // fail the same way again (a bad point, no permission): not retried.
    const bool again = status >= 500 || status == 404 || status == 408 || status == 429 || status < 400;
    return again ? Delivery::retry : Delivery::refused;
  }

 private:
  const std::string measurement_;
  std::string url_;
  CURL* curl_ = nullptr;
  curl_slist* headers_ = nullptr;
};

}  // namespace

std::unique_ptr<Sink> make_influxdb_sink(const TimeseriesBackendSpec& spec) {
  return std::make_unique<InfluxSink>(spec);
}

}  // namespace privateer
