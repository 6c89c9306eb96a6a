// privateer-recover: saves what can be saved of output files Privateer never
// closed (NAME.tmp, left by a SIGKILL, a power loss, a full disk): the header
// and every complete block (control/avro/salvage.hpp) become NAME, published
// as Privateer publishes its files (a temporary name, fsync, then a link that
// never replaces an existing NAME), followed by NAME.done saying
// "salvaged": true and what was lost. The .tmp is removed once both are on
// disk (kept with --keep).
#include <fcntl.h>
#include <getopt.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "control/avro/done.hpp"
#include "control/avro/salvage.hpp"

namespace {

using namespace privateer;

constexpr int kSalvaged = 0, kFailed = 1, kUsage = 2, kNothing = 3;

void usage(FILE* out) {
  std::fprintf(out,
               "usage: privateer-recover [--keep] [--dry-run] NAME.tmp...\n"
               "\n"
               "Saves the complete Avro blocks of output files a run never closed\n"
               "(NAME.tmp) as NAME, with a NAME.done marker saying \"salvaged\": true and\n"
               "what was lost, then removes NAME.tmp. An existing NAME is never replaced.\n"
               "\n"
               "      --keep      keep NAME.tmp after saving NAME\n"
               "  -n, --dry-run   only say what would be kept\n"
               "  -h, --help      this help\n"
               "\n"
               "Exit status: 0 every file saved (some records may have been lost: see\n"
               "NAME.done); 1 a file that cannot be read or written, is being written by a\n"
               "running privateer, or whose NAME or NAME.done exists already; 2 bad usage\n"
               "(an argument not ending in .tmp); 3 a file with nothing to save (not an\n"
               "Avro container file, or its header is cut). With several files each is\n"
               "tried and the highest status is returned.\n");
}

struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string errno_text() { return std::strerror(errno); }

uint64_t parse_u64(const std::string& s) {
  uint64_t v = 0;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  return r.ec == std::errc() && r.ptr == s.data() + s.size() ? v : 0;
}

void fsync_dir_of(const std::string& path) {
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) dir = ".";
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    (void)::fsync(fd);
    ::close(fd);
  }
}

// Writes `path` through path.recover-tmp, fsync and link(): never replaces
// an existing `path`. `fill(fd)` writes the contents.
template <class Fill>
void publish(const std::string& path, Fill fill) {
  const std::string tmp = path + ".recover-tmp";   // a name privateer's leftover scan does not match
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0 && errno == EEXIST) {   // left by an earlier privateer-recover that died
    ::unlink(tmp.c_str());
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  }
  if (fd < 0) throw Failure("cannot create " + tmp + ": " + errno_text());
  try {
    fill(fd, tmp);
    if (::fsync(fd) != 0) throw Failure("cannot write " + tmp + ": " + errno_text());
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  const bool closed = ::close(fd) == 0;
  const int e = errno;
  if (!closed) {
    ::unlink(tmp.c_str());
    throw Failure("cannot write " + tmp + ": " + std::strerror(e));
  }
  if (::link(tmp.c_str(), path.c_str()) != 0) {
    const int e2 = errno;
    ::unlink(tmp.c_str());
    throw Failure(e2 == EEXIST ? path + " exists: not replaced"
                               : "cannot link " + tmp + " to " + path + ": " + std::strerror(e2));
  }
  ::unlink(tmp.c_str());
}

void write_all(int fd, const std::string& path, const void* p, size_t n) {
  const auto* b = static_cast<const uint8_t*>(p);
  while (n) {
    const ssize_t w = ::write(fd, b, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) throw Failure("cannot write " + path + ": " + errno_text());
    b += w;
    n -= static_cast<size_t>(w);
  }
}

int recover(const std::string& tmp_path, bool keep, bool dry_run) {
  static const std::string kTmp = ".tmp";
  if (tmp_path.size() <= kTmp.size() || tmp_path.compare(tmp_path.size() - kTmp.size(), kTmp.size(), kTmp) != 0) {
    std::fprintf(stderr, "privateer-recover: %s: not a .tmp file name (NAME.tmp becomes NAME)\n", tmp_path.c_str());
    return kUsage;
  }
  const std::string final_path = tmp_path.substr(0, tmp_path.size() - kTmp.size());
  const std::string done_path = final_path + ".done";
  const int fd = ::open(tmp_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Failure("cannot open " + tmp_path + ": " + errno_text());
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st{};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) throw Failure(tmp_path + ": not a regular file");
  // Privateer holds this lock while it writes the file.
  if (::flock(fd, LOCK_SH | LOCK_NB) != 0) {
    throw Failure(tmp_path + ": being written by a running privateer (it is locked): not touched");
  }

  const SalvageScan s = salvage_scan([fd, &tmp_path](uint8_t* buf, size_t n) -> size_t {
    for (;;) {
      const ssize_t r = ::read(fd, buf, n);
      if (r >= 0) return static_cast<size_t>(r);
      if (errno != EINTR) throw Failure("cannot read " + tmp_path + ": " + errno_text());
    }
  });
  if (!s.header_ok) {
    std::fprintf(stderr, "privateer-recover: %s: nothing to save: byte %llu: %s\n", tmp_path.c_str(),
                 static_cast<unsigned long long>(s.damage_offset), s.why.c_str());
    return kNothing;
  }
  struct stat ex{};
  if (::lstat(final_path.c_str(), &ex) == 0) throw Failure(final_path + " exists: not replaced (" + tmp_path + " kept)");
  if (::lstat(done_path.c_str(), &ex) == 0) throw Failure(done_path + " exists: not replaced (" + tmp_path + " kept)");

  DoneInfo d;
  for (const auto& [k, v] : s.metadata) {
    if (k == "privateer.stream") d.stream = v;
  }
  d.monitorid = s.meta("privateer.monitorid");
  d.interval_seconds = parse_u64(s.meta("privateer.interval_seconds"));
  d.records = s.records;
  d.intervals = s.intervals;
  DoneSalvage sv;
  sv.source = std::filesystem::path(tmp_path).filename().string();
  sv.blocks = s.blocks;
  sv.bytes_kept = s.kept_bytes;
  sv.bytes_dropped = s.input_bytes - s.kept_bytes;
  if (!s.whole) {
    sv.lost = "the records after byte " + std::to_string(s.kept_bytes) + " (byte " + std::to_string(s.damage_offset) +
              ": " + s.why + ")";
  }
  d.salvage = sv;

  const std::string what = std::to_string(s.records) + " records in " + std::to_string(s.blocks) + " blocks (" +
                           std::to_string(s.kept_bytes) + " bytes)";
  const std::string lost = s.whole ? "nothing dropped"
                                   : "dropped " + std::to_string(sv.bytes_dropped) + " bytes: " + sv.lost;
  if (dry_run) {
    std::printf("%s: would save %s as %s; %s\n", tmp_path.c_str(), what.c_str(), final_path.c_str(), lost.c_str());
    return kSalvaged;
  }

  publish(final_path, [fd, &s](int out, const std::string& out_path) {
    std::vector<uint8_t> buf(1 << 20);
    uint64_t off = 0;
    while (off < s.kept_bytes) {
      const size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), s.kept_bytes - off));
      const ssize_t r = ::pread(fd, buf.data(), want, static_cast<off_t>(off));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) throw Failure("cannot read the kept bytes again: " + (r < 0 ? errno_text() : std::string("file shrank")));
      write_all(out, out_path, buf.data(), static_cast<size_t>(r));
      off += static_cast<uint64_t>(r);
    }
  });
  const std::string json = done_json(d);
  publish(done_path, [&json](int out, const std::string& out_path) { write_all(out, out_path, json.data(), json.size()); });
  fsync_dir_of(final_path);
  if (!keep) {
    if (::unlink(tmp_path.c_str()) != 0) throw Failure("saved " + final_path + " but cannot remove " + tmp_path + ": " + errno_text());
    fsync_dir_of(tmp_path);
  }
  std::printf("%s: saved %s as %s; %s\n", tmp_path.c_str(), what.c_str(), final_path.c_str(), lost.c_str());
  return kSalvaged;
}

}  // namespace

int main(int argc, char** argv) {
  bool keep = false, dry_run = false;
  static const option longopts[] = {
      {"keep", no_argument, nullptr, 'k'},
      {"dry-run", no_argument, nullptr, 'n'},
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0},
  };
  int c;
  while ((c = getopt_long(argc, argv, "nh", longopts, nullptr)) != -1) {
    switch (c) {
      case 'k': keep = true; break;
      case 'n': dry_run = true; break;
      case 'h': usage(stdout); return 0;
      default: usage(stderr); return kUsage;
    }
  }
  if (optind >= argc) {
    usage(stderr);
    return kUsage;
  }
  int status = kSalvaged;
  for (int i = optind; i < argc; ++i) {
    int st;
    try {
      st = recover(argv[i], keep, dry_run);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "privateer-recover: %s\n", e.what());
      st = kFailed;
    }
    if (st > status) status = st;
  }
  return status;
}
