#include "tests/test_support.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace privateer::test {

TempDir::TempDir(const std::string& prefix) {
  std::string t = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
  if (!::mkdtemp(t.data())) throw std::runtime_error("mkdtemp " + t + " failed");
  path = t;
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> v;
  std::stringstream ss(s);
  for (std::string l; std::getline(ss, l);) v.push_back(l);
  return v;
}

std::map<std::string, uint64_t> summary_counts(const std::string& out, const std::string& title) {
  std::map<std::string, uint64_t> c;
  const std::string key = "  " + title + ":";
  const size_t at = out.find(key);
  if (at == std::string::npos) return c;
  std::istringstream line(out.substr(at + key.size(), out.find('\n', at) - at - key.size()));
  std::string item;
  while (line >> item) {
    const size_t eq = item.find('=');
    if (eq != std::string::npos) c[item.substr(0, eq)] = std::stoull(item.substr(eq + 1));
  }
  return c;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

std::optional<std::filesystem::path> shared_dir() {
  const char* env = std::getenv("PRIVATEER_SHARED");
  std::filesystem::path p = env ? env : (source_root() / ".." / "shared");
  if (std::filesystem::is_directory(p)) return std::filesystem::canonical(p);
  return std::nullopt;
}

std::optional<std::filesystem::path> corpus_dir() {
  auto s = shared_dir();
  if (!s || !std::filesystem::is_directory(*s / "corpus")) return std::nullopt;
  return *s / "corpus";
}

std::vector<ManifestRow> read_manifest() {
  std::vector<ManifestRow> rows;
  auto c = corpus_dir();
  if (!c) return rows;
  std::ifstream in(*c / "MANIFEST.tsv");
  std::string line;
  std::vector<std::string> cols;
  auto split = [](const std::string& s) {
    std::vector<std::string> out;
    std::stringstream ss(s);
    std::string f;
    while (std::getline(ss, f, '\t')) out.push_back(f);
    return out;
  };
  if (std::getline(in, line)) cols = split(line);
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto f = split(line);
    ManifestRow r;
    for (size_t i = 0; i < cols.size() && i < f.size(); ++i) r[cols[i]] = f[i];
    rows.push_back(std::move(r));
  }
  return rows;
}

std::vector<std::string> listed_corpus_captures() {
  std::vector<std::string> names;
  std::ifstream in(source_root() / "tests" / "corpus_files.txt");
  for (std::string l; std::getline(in, l);) {
    if (!l.empty() && l[0] != '#') names.push_back(l);
  }
  return names;
}

std::vector<std::string> corpus_captures() {
  const auto c = corpus_dir();
  if (!c) return listed_corpus_captures();
  std::vector<std::string> names;
  for (const auto& r : read_manifest()) {
    const auto f = r.find("file");
    if (f != r.end() && std::filesystem::exists(*c / "expected" / (f->second + ".ft60.tsv"))) names.push_back(f->second);
  }
  return names;
}

std::filesystem::path source_root() {
  const char* env = std::getenv("PRIVATEER_SOURCE_ROOT");
  return env ? std::filesystem::path(env) : std::filesystem::current_path();
}

std::filesystem::path privateer_bin() {
  const char* env = std::getenv("PRIVATEER_BIN");
  return env ? std::filesystem::path(env) : std::filesystem::path("privateer");
}

static int run_popen(const std::string& full, std::string* output) {
  FILE* p = popen(full.c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) {
    if (output) output->append(buf, n);
  }
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

bool have(const std::string& shell_check) { return run_popen(shell_check + " >/dev/null 2>&1", nullptr) == 0; }

void skip_part(const std::string& why) { GTEST_SKIP() << why; }

std::string python_avro_lacks(const std::string& codec) {
  if (!have("/usr/bin/python3 -c 'import avro.datafile, avro.io'")) return "python3-avro";
  if (codec == "snappy" && !have("/usr/bin/python3 -c 'import snappy'")) return "python3-snappy";
  if (codec == "zstandard" && !have("/usr/bin/python3 -c 'import zstandard'")) return "python3-zstandard";
  return "";
}

int run_command(const std::string& cmd, std::string* output) { return run_popen(cmd + " 2>&1", output); }

int run_stdout(const std::string& cmd, std::string* output) { return run_popen(cmd, output); }

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string quote(const std::filesystem::path& p) {
  std::string s(1, '\'');  // (not "'" + ...: GCC 12 warns of a false -Wrestrict there)
  s += p.string();
  s += '\'';
  return s;
}

bool wait_until(const std::function<bool()>& done, double seconds) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

BackgroundRun::BackgroundRun(const std::vector<std::string>& args, const std::filesystem::path& output,
                             const std::filesystem::path& cwd) {
  const std::string bin = privateer_bin().string();
  std::vector<char*> argv{const_cast<char*>(bin.c_str())};
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    const int fd = ::open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || (!cwd.empty() && chdir(cwd.c_str()) != 0)) _exit(127);
    dup2(fd, 1);
    dup2(fd, 2);
    // The test may have SIGPIPE ignored (FifoWriter): the run gets the default.
    ::signal(SIGPIPE, SIG_DFL);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
}

BackgroundRun::~BackgroundRun() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    wait(10);
  }
}

void BackgroundRun::signal(int signo) const { ::kill(pid_, signo); }

bool BackgroundRun::running() {
  if (status_ >= 0) return false;
  int st = 0;
  if (waitpid(pid_, &st, WNOHANG) != pid_) return true;
  status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return false;
}

int BackgroundRun::wait(double seconds) {
  wait_until([this] { return !running(); }, seconds);
  return status_;
}

FifoWriter::FifoWriter(const std::filesystem::path& fifo) : path_(fifo) {
  if (mkfifo(fifo.c_str(), 0600) != 0) throw std::runtime_error("mkfifo " + fifo.string() + " failed");
}

FifoWriter::~FifoWriter() { close(); }

bool FifoWriter::open_when_read() {
  ::signal(SIGPIPE, SIG_IGN);
  // Without a reader a non-blocking open fails with ENXIO.
  return wait_until([this] { return (fd_ = ::open(path_.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC)) >= 0; }, 30) &&
         fcntl(fd_, F_SETFL, 0) == 0;
}

bool FifoWriter::write_part(const std::filesystem::path& file, size_t from, size_t to) {
  const std::string data = read_file(file);
  to = std::min(to, data.size());
  for (size_t off = from; off < to;) {
    const ssize_t n = ::write(fd_, data.data() + off, to - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

size_t FifoWriter::write_nowait(const std::string& data, size_t from) {
  if (fd_ < 0 || from >= data.size()) return from;
  const int flags = fcntl(fd_, F_GETFL);
  fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
  const ssize_t n = ::write(fd_, data.data() + from, data.size() - from);
  fcntl(fd_, F_SETFL, flags);
  return n > 0 ? from + static_cast<size_t>(n) : from;
}

void FifoWriter::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

uint64_t capture_packets(const std::filesystem::path& capture) {
  std::string out;
  if (run_stdout("capinfos -M -c " + quote(capture), &out) != 0) return 0;
  const size_t at = out.find("Number of packets:");
  return at == std::string::npos ? 0 : std::stoull(out.substr(at + 18));
}

uint64_t flowtuple_packets(const std::filesystem::path& dir) {
  uint64_t sum = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("flowtuple-", 0) != 0 || e.path().extension() != ".avro") continue;
    std::string out;
    if (run_stdout("avrocat " + quote(e.path()), &out) != 0) {
      throw std::runtime_error("avrocat failed on " + e.path().string());
    }
    const std::string key = "\"packet_cnt\": ";
    for (size_t at = out.find(key); at != std::string::npos; at = out.find(key, at + 1)) {
      sum += std::strtoull(out.c_str() + at + key.size(), nullptr, 10);
    }
  }
  return sum;
}

HeldRun run_and_scrape(const std::filesystem::path& cfg, const std::filesystem::path& dir) {
  HeldRun r;
  const std::filesystem::path log = dir / "run.out";
  BackgroundRun run({"-c", cfg.string(), "--hold-metrics", "60"}, log);
  auto has = [&](const std::string& s) { return read_file(log).find(s) != std::string::npos; };
  if (!wait_until([&] { return has("serving metrics for 60 s more") || !run.running(); }, 120)) {
    r.output = read_file(log);
    return r;
  }
  std::smatch m;
  const std::string text = read_file(log);
  if (std::regex_search(text, m, std::regex("metrics on (http://127\\.0\\.0\\.1:[0-9]+/metrics)"))) {
    run_stdout("curl -s " + m[1].str(), &r.metrics);
  }
  run.signal(SIGTERM);
  r.status = run.wait(10);
  r.output = read_file(log);
  return r;
}

LineListener::LineListener(const std::string& proto, int port, const std::filesystem::path& out) {
  const std::string cmd = "/usr/bin/python3 " + quote(source_root() / "tests" / "socket_listener.py") + " " + proto + " " +
                          std::to_string(port) + " " + quote(out);
  const std::filesystem::path portfile = out.string() + ".port";
  std::filesystem::remove(portfile);
  run_command("(" + cmd + " > " + quote(portfile) + " 2>&1 & echo $! > " + quote(portfile.string() + ".pid") + ")");
  wait_until([&] { return !lines_of(read_file(portfile)).empty(); }, 10);
  const auto l = lines_of(read_file(portfile));
  this->port = l.empty() ? 0 : std::atoi(l[0].c_str());
  pid = std::atoi(read_file(portfile.string() + ".pid").c_str());
}

void LineListener::stop() {
  if (pid > 0) {
    ::kill(pid, SIGTERM);
    run_command("for i in $(seq 50); do kill -0 " + std::to_string(pid) + " 2>/dev/null || break; sleep 0.1; done");
  }
  pid = -1;
}

double sample(const std::string& metrics, const std::string& name_and_labels) {
  for (const auto& l : lines_of(metrics)) {
    if (l.compare(0, name_and_labels.size() + 1, name_and_labels + " ") == 0) {
      return std::stod(l.substr(name_and_labels.size() + 1));
    }
  }
  return -1;
}

}  // namespace privateer::test
