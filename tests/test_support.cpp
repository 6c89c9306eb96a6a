#include "tests/test_support.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <sys/wait.h>
#include <unistd.h>

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

int run_command(const std::string& cmd, std::string* output) { return run_popen(cmd + " 2>&1", output); }

int run_stdout(const std::string& cmd, std::string* output) { return run_popen(cmd, output); }

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace privateer::test
