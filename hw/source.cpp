// open_source() / open_sources(): URI handling, directories and lists.
#include "hw/source.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <mutex>
#include <sys/stat.h>

#include "hw/file_source.hpp"
#include "hw/libtrace_source.hpp"

namespace privateer {

namespace {

// "scheme:rest" where scheme is a libtrace-style format name; "" otherwise.
std::string scheme_of(const std::string& uri) {
  const auto c = uri.find(':');
  if (c == std::string::npos || c == 0) return {};
  for (size_t i = 0; i < c; ++i) {
    const char ch = uri[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-')) return {};
  }
  return uri.substr(0, c);
}

// Schemes read by our own file readers instead of libtrace.
bool is_pcap_scheme(const std::string& s) { return s == "pcapfile" || s == "pcap" || s == "pcapng"; }
bool is_erf_scheme(const std::string& s) { return s == "erf" || s == "rawerf"; }
bool is_file_scheme(const std::string& s) { return is_pcap_scheme(s) || is_erf_scheme(s); }

// Bytes of input a URI stands for, for progress over a chain; 0 if unknown.
uint64_t input_size(const std::string& uri) {
  std::string path = uri;
  const std::string s = scheme_of(uri);
  struct stat st {};
  if (!s.empty() && ::stat(uri.c_str(), &st) != 0) path = uri.substr(s.size() + 1);
  if (::stat(path.c_str(), &st) != 0) return 0;
  if (S_ISREG(st.st_mode)) return static_cast<uint64_t>(st.st_size);
  return 0;
}

std::vector<std::string> directory_files(const std::string& dir);

uint64_t input_size_any(const std::string& uri) {
  struct stat st {};
  if (::stat(uri.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    uint64_t sum = 0;
    for (const auto& f : directory_files(uri)) {
      const uint64_t s = input_size(f);
      if (s == 0) return 0;
      sum += s;
    }
    return sum;
  }
  return input_size(uri);
}

// The regular files of a directory (symbolic links to regular files
// included), in byte-wise name order. Hidden files (names starting with a
// dot, such as partial downloads) and subdirectories are left out.
std::vector<std::string> directory_files(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) throw SourceError(dir + ": cannot read directory: " + std::strerror(errno));
  std::vector<std::string> names;
  while (const dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    names.emplace_back(e->d_name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  std::vector<std::string> files;
  const std::string prefix = dir.empty() || dir.back() == '/' ? dir : dir + "/";
  for (const auto& n : names) {
    const std::string p = prefix + n;
    struct stat st {};
    if (::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode)) files.push_back(p);
  }
  return files;
}

// Several sources read one after another; each is opened when the previous
// one has ended, so a long list or large directory holds one file open. A
// file that cannot be opened (unreadable, no capture file header) or is
// damaged is recorded as damage and the next one is read.
class ChainSource final : public PacketSource {
 public:
  using Opener = std::unique_ptr<PacketSource> (*)(const std::string&);

  ChainSource(std::string name, std::vector<std::string> uris, Opener opener)
      : name_(std::move(name)), uris_(std::move(uris)), opener_(opener) {
    sizes_.reserve(uris_.size());
    for (const auto& u : uris_) {
      const uint64_t s = input_size_any(u);
      sizes_.push_back(s);
      if (s == 0) total_known_ = false;
      total_ += s;
    }
    // Open the first one now: its damage is known before the run starts.
    open_next();
  }

  size_t read_burst(RawPacket* out, size_t max) override {
    for (;;) {
      if (!cur_) {
        if (next_ >= uris_.size()) {
          eof_ = true;
          return 0;
        }
        open_next();
        continue;
      }
      const size_t n = cur_->read_burst(out, max);
      if (n > 0 || !cur_->eof()) return n;
      std::unique_ptr<PacketSource> old;
      {
        std::lock_guard lk(mu_);
        done_bytes_ += sizes_[next_ - 1];
        for (auto& d : cur_->damage()) damage_.push_back(std::move(d));
        bad_ts_ += cur_->bad_timestamps();
        old = std::move(cur_);
      }
    }
  }

  std::vector<InputDamage> damage() const override {
    std::lock_guard lk(mu_);
    std::vector<InputDamage> v = damage_;
    if (cur_) {
      for (auto& d : cur_->damage()) v.push_back(std::move(d));
    }
    return v;
  }
  uint64_t bad_timestamps() const override {
    std::lock_guard lk(mu_);
    return bad_ts_ + (cur_ ? cur_->bad_timestamps() : 0);
  }

  bool eof() const override { return eof_; }
  std::string name() const override { return name_; }
  bool live() const override {
    std::lock_guard lk(mu_);
    return cur_ && cur_->live();
  }

  SourceProgress progress() const override {
    std::lock_guard lk(mu_);
    SourceProgress p;
    p.bytes_read = done_bytes_;
    if (cur_) {
      const SourceProgress c = cur_->progress();
      p.bytes_read += c.bytes_total ? c.bytes_read : 0;
    }
    p.bytes_total = total_known_ ? total_ : 0;
    if (!total_known_) p.bytes_read = 0;
    return p;
  }

 private:
  std::string name_;
  std::vector<std::string> uris_;
  std::vector<uint64_t> sizes_;
  Opener opener_;
  size_t next_ = 0;
  std::unique_ptr<PacketSource> cur_;
  bool eof_ = false;
  uint64_t total_ = 0;
  bool total_known_ = true;
  uint64_t done_bytes_ = 0;
  std::vector<InputDamage> damage_;  // of the sources done, and the opens that failed
  uint64_t bad_ts_ = 0;              // of the sources done
  mutable std::mutex mu_;

  // Opens uris_[next_] (and on, past those that fail to open).
  void open_next() {
    while (next_ < uris_.size()) {
      const size_t i = next_++;
      try {
        auto src = opener_(uris_[i]);
        std::lock_guard lk(mu_);
        cur_ = std::move(src);
        return;
      } catch (const SourceInterrupted&) {
        throw;
      } catch (const SourceError& e) {
        std::lock_guard lk(mu_);
        done_bytes_ += sizes_[i];
        damage_.push_back(InputDamage{uris_[i], 0, "open_failed", e.what()});
      }
    }
  }
};

std::string hex_magic(uint32_t m) {
  char b[16];
  std::snprintf(b, sizeof b, "0x%08x", m);
  return b;
}

std::unique_ptr<PacketSource> open_path_any(const std::string& path);
std::unique_ptr<PacketSource> open_path_erf(const std::string& path);

// A path: a directory (its files read with `erf` the same way), else a
// pcap, pcapng or ERF file, or (`erf`) an ERF file without the
// plausibility test of its first record.
std::unique_ptr<PacketSource> open_path(const std::string& path, bool erf) {
  if (path.empty()) throw SourceError("empty capture file path");
  struct stat st {};
  if (path != "-" && ::stat(path.c_str(), &st) != 0) {
    throw SourceError(path + ": cannot open: " + std::strerror(errno));
  }
  if (path != "-" && S_ISDIR(st.st_mode)) {
    auto files = directory_files(path);
    if (files.empty()) throw SourceError(path + ": directory holds no capture files");
    return std::make_unique<ChainSource>(path, std::move(files), erf ? &open_path_erf : &open_path_any);
  }
  if (erf) return open_erf_file(path);
  uint32_t magic = 0;
  if (auto f = open_capture_file(path, &magic)) return f;
  throw SourceError(path + ": unknown capture file format (magic " + hex_magic(magic) +
                    "): neither pcap, pcapng nor ERF");
}

SourceError unknown_scheme(const std::string& uri, const std::string& scheme) {
  return SourceError(uri + ": unknown source format '" + scheme +
                     ":' (files: a path, pcapfile:, erf:; live: int:, ring:, pcapint:, bpf:, dag:, rt:, dpdk:)");
}

std::unique_ptr<PacketSource> open_path_any(const std::string& path) { return open_path(path, false); }
std::unique_ptr<PacketSource> open_path_erf(const std::string& path) { return open_path(path, true); }

std::string chain_name(const std::vector<std::string>& uris) {
  if (uris.size() <= 3) {
    std::string s;
    for (const auto& u : uris) s += (s.empty() ? "" : ",") + u;
    return s;
  }
  return uris.front() + ",...," + uris.back() + " (" + std::to_string(uris.size()) + " sources)";
}

}  // namespace

std::unique_ptr<PacketSource> open_source(const std::string& uri) {
  if (uri.empty()) throw SourceError("empty source URI");
  std::string scheme = scheme_of(uri);
  // A path that exists is a path, even if it looks like "name:rest".
  struct stat st {};
  if (!scheme.empty() && ::stat(uri.c_str(), &st) == 0) scheme.clear();
  if (scheme.empty()) return open_path(uri, false);
  if (is_file_scheme(scheme)) return open_path(uri.substr(scheme.size() + 1), is_erf_scheme(scheme));
  if (is_live_uri(uri)) return open_libtrace_source(uri);
  throw unknown_scheme(uri, scheme);
}

std::vector<std::string> check_source(const std::string& uri) {
  if (uri.empty()) throw SourceError("empty source URI");
  std::string scheme = scheme_of(uri);
  struct stat st {};
  if (!scheme.empty() && ::stat(uri.c_str(), &st) == 0) scheme.clear();
  if (!scheme.empty() && !is_file_scheme(scheme)) {
    if (!is_live_uri(uri)) throw unknown_scheme(uri, scheme);
    probe_libtrace_uri(uri);
    return {};
  }
  const std::string path = scheme.empty() ? uri : uri.substr(scheme.size() + 1);
  if (path == "-") return {};
  if (path.empty()) throw SourceError("empty capture file path");
  if (::stat(path.c_str(), &st) != 0) throw SourceError(path + ": cannot open: " + std::strerror(errno));
  std::vector<std::string> files;
  if (S_ISDIR(st.st_mode)) {
    files = directory_files(path);
    if (files.empty()) throw SourceError(path + ": directory holds no capture files");
  } else {
    files.push_back(path);
  }
  return files;
}

std::unique_ptr<PacketSource> open_sources(const std::vector<std::string>& uris) {
  if (uris.empty()) throw SourceError("no source URIs given");
  if (uris.size() == 1) return open_source(uris.front());
  // Fail now, not in the middle of the run, when a listed file is missing.
  for (const auto& u : uris) {
    const std::string scheme = scheme_of(u);
    struct stat st {};
    if (::stat(u.c_str(), &st) == 0) continue;
    if (scheme.empty()) throw SourceError(u + ": cannot open: " + std::strerror(errno));
    if (is_file_scheme(scheme)) {
      const std::string path = u.substr(scheme.size() + 1);
      if (::stat(path.c_str(), &st) != 0) throw SourceError(path + ": cannot open: " + std::strerror(errno));
    }
  }
  return std::make_unique<ChainSource>(chain_name(uris), uris, &open_source);
}

}  // namespace privateer
