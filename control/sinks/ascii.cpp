// libtimeseries' ascii backend: `key value timestamp` lines to a file,
// gzip-compressed (zlib) when compress > 0.
#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "control/sinks/format.hpp"
#include "control/sinks/sinks.hpp"

namespace privateer {

namespace {

class AsciiSink : public Sink {
 public:
  explicit AsciiSink(const TimeseriesBackendSpec& s)
      : Sink(s.name, s.queue_points, 10000, s.flush_timeout), path_(s.file), level_(s.compress) {}
  ~AsciiSink() override { close(); }

 protected:
  void format(const TimeseriesInterval& iv, const TimeseriesRow& row, std::string& out) override {
    append_key_lines(iv.label, iv.ts, row, out);
  }

  Delivery deliver(const std::string& payload, size_t, Clock::time_point, std::string& error) override {
    // The file is created (truncated) once per run; after a write error it
    // is opened again for appending.
    const char* mode = opened_once_ ? "a" : "w";
    if (level_ > 0 && !gz_) {
      const std::string m = std::string(mode) + "b" + std::to_string(level_);
      gz_ = gzopen(path_.c_str(), m.c_str());
      if (!gz_) return fail("cannot open " + path_ + ": " + std::strerror(errno), error);
      opened_once_ = true;
    } else if (level_ == 0 && !file_) {
      file_ = std::fopen(path_.c_str(), mode);
      if (!file_) return fail("cannot open " + path_ + ": " + std::strerror(errno), error);
      opened_once_ = true;
    }
    if (gz_) {
      if (gzwrite(gz_, payload.data(), static_cast<unsigned>(payload.size())) != static_cast<int>(payload.size()) ||
          gzflush(gz_, Z_SYNC_FLUSH) != Z_OK) {
        int zerr = 0;
        const std::string why = gzerror(gz_, &zerr);
        gzclose(gz_);
        gz_ = nullptr;
        return fail("cannot write " + path_ + ": " + why, error);
      }
      return Delivery::sent;
    }
    if (std::fwrite(payload.data(), 1, payload.size(), file_) != payload.size() || std::fflush(file_) != 0) {
      const int e = errno;
      std::fclose(file_);
      file_ = nullptr;
      return fail("cannot write " + path_ + ": " + std::strerror(e), error);
    }
    return Delivery::sent;
  }

  void shutdown() override {
    if (gz_) gzclose(gz_);
    if (file_) std::fclose(file_);
    gz_ = nullptr;
    file_ = nullptr;
  }

 private:
  static Delivery fail(const std::string& why, std::string& error) {
    error = why;
    return Delivery::retry;
  }
  const std::string path_;
  const int level_;
  bool opened_once_ = false;
  gzFile gz_ = nullptr;
  FILE* file_ = nullptr;
};

}  // namespace

std::unique_ptr<Sink> make_ascii_sink(const TimeseriesBackendSpec& spec) { return std::make_unique<AsciiSink>(spec); }

}  // namespace privateer
