// Helpers shared by the tests: where ../shared/ is, and the corpus manifest.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace privateer::test {

// ../shared/ beside the checkout, or nullopt when absent (tests then GTEST_SKIP).
std::optional<std::filesystem::path> shared_dir();
std::optional<std::filesystem::path> corpus_dir();

// One row of ../shared/corpus/MANIFEST.tsv, keyed by column name.
using ManifestRow = std::map<std::string, std::string>;
std::vector<ManifestRow> read_manifest();

// The corpus captures that have an oracle answer (expected/NAME.ft60.tsv),
// in manifest order: read from the manifest where ../shared/corpus is present,
// else from tests/corpus_files.txt, so that every corpus case of a
// parameterized test exists (and is reported as skipped) without the data.
std::vector<std::string> corpus_captures();
// The names in tests/corpus_files.txt (checked against the manifest by a test).
std::vector<std::string> listed_corpus_captures();

// Source checkout root and the built binary (from the test environment).
std::filesystem::path source_root();
std::filesystem::path privateer_bin();

// True when the shell command `shell_check` (e.g. "command -v tshark",
// "/usr/bin/python3 -c 'import snappy'") succeeds; its output is discarded.
bool have(const std::string& shell_check);

// Marks the running test as skipped, saying why, and lets it go on: for a
// test that checks with several tools and finds one of them missing. Its
// other checks still run, and a failure among them still fails the test.
void skip_part(const std::string& why);

// What python3-avro (Debian's /usr/bin/python3) lacks to read Avro files of
// `codec` ("null", "deflate", "snappy", "zstandard"): "" when it reads them,
// else the Debian package to install ("python3-avro", "python3-snappy", ...).
std::string python_avro_lacks(const std::string& codec);

// Runs a shell command, returns exit status; stdout+stderr into *output if given.
int run_command(const std::string& cmd, std::string* output = nullptr);

// Runs a shell command, returns exit status; only its stdout into *output
// (stderr goes to the test's own stderr).
int run_stdout(const std::string& cmd, std::string* output);

// A fresh directory under the system's temporary directory (named
// PREFIX-XXXXXX), removed with everything in it at the end of its scope.
struct TempDir {
  explicit TempDir(const std::string& prefix = "privateer-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string operator/(const std::string& name) const { return (path / name).string(); }
  std::filesystem::path path;
};

// The lines of `s`, without their newlines.
std::vector<std::string> lines_of(const std::string& s);

// The `name=N name=N ...` counts of the run-summary line `  TITLE: ...`
// ("filters matched", "removed before the plugins"); empty without it.
std::map<std::string, uint64_t> summary_counts(const std::string& out, const std::string& title);

// Reads a whole file.
std::string read_file(const std::filesystem::path& p);

// A path quoted for the shell (single quotes; the tests' paths have none).
std::string quote(const std::filesystem::path& p);

// Polls `done` every 20 ms for up to `seconds`; true once it holds.
bool wait_until(const std::function<bool()>& done, double seconds);

// The privateer binary running in the background with `args`, in directory
// `cwd` (the test's own when empty), stdout and stderr into `output`.
// Killed (SIGKILL) at the end of its scope if still running.
class BackgroundRun {
 public:
  BackgroundRun(const std::vector<std::string>& args, const std::filesystem::path& output,
                const std::filesystem::path& cwd = {});
  ~BackgroundRun();
  BackgroundRun(const BackgroundRun&) = delete;
  BackgroundRun& operator=(const BackgroundRun&) = delete;
  void signal(int signo) const;
  bool running();
  // Waits up to `seconds` for the exit: its status (128 + N when killed by
  // signal N), or -1 when it still runs.
  int wait(double seconds);
  int pid() const { return pid_; }

 private:
  int pid_ = -1;
  int status_ = -1;
};

// The writing end of a FIFO a run reads as its packet source: opened once
// the reader has opened the FIFO (up to 30 s; false after that). SIGPIPE is
// ignored in the test process from then on, so a reader that dies fails the
// writes instead of killing the test.
class FifoWriter {
 public:
  explicit FifoWriter(const std::filesystem::path& fifo);  // makes the FIFO
  ~FifoWriter();
  bool open_when_read();
  // Writes bytes [from, to) of `file` (to past the end: up to the end);
  // false once the reader is gone for good.
  bool write_part(const std::filesystem::path& file, size_t from, size_t to);
  // Writes what the pipe takes at once of `data` from byte `from`, without
  // waiting; returns the offset reached (`from` when the pipe is full or
  // the reader gone).
  size_t write_nowait(const std::string& data, size_t from);
  void close();

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

// Packets in a capture file, as capinfos (wireshark) counts them.
uint64_t capture_packets(const std::filesystem::path& capture);

// Sum of packet_cnt over the records of every complete flowtuple file
// (flowtuple-*.avro, IPv4) in `dir`, read with avrocat (avro-c).
uint64_t flowtuple_packets(const std::filesystem::path& dir);

// A run of `cfg` with the metrics endpoint held after the input
// (--hold-metrics): the whole output (log and summary), one scrape of
// /metrics taken then, and the exit status after SIGTERM (-1: it never got
// that far; the output says why).
struct HeldRun {
  std::string output, metrics;
  int status = -1;
};
HeldRun run_and_scrape(const std::filesystem::path& cfg, const std::filesystem::path& dir);

// tests/socket_listener.py in the background ("udp" or "tcp", on
// 127.0.0.1:`port`, 0: any free one), appending the lines it receives to
// `out`; stopped (SIGTERM) by stop() or at the end of its scope.
struct LineListener {
  LineListener(const std::string& proto, int port, const std::filesystem::path& out);
  ~LineListener() { stop(); }
  LineListener(const LineListener&) = delete;
  LineListener& operator=(const LineListener&) = delete;
  void stop();
  int pid = -1;
  int port = 0;   // the port it listens on (0: it did not start)
};

// The value of the sample `name{labels}` in an exposition (-1 if absent).
double sample(const std::string& metrics, const std::string& name_and_labels);

}  // namespace privateer::test

// Skips the current test, naming the missing prerequisite, unless the shell
// command `check` succeeds: PRIVATEER_REQUIRE_TOOL("command -v tshark", "tshark").
#define PRIVATEER_REQUIRE_TOOL(check, what)                                     \
  do {                                                                          \
    if (!::privateer::test::have(check)) GTEST_SKIP() << (what) << " missing";  \
  } while (0)

// Skips the current test when ../shared/corpus is absent.
#define PRIVATEER_REQUIRE_CORPUS()                                              \
  do {                                                                          \
    if (!::privateer::test::corpus_dir()) GTEST_SKIP() << "../shared/corpus absent"; \
  } while (0)
