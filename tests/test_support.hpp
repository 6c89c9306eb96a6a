// Helpers shared by the tests: where ../shared/ is, and the corpus manifest.
#pragma once

#include <cstdint>
#include <filesystem>
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

// Source checkout root and the built binary (from the test environment).
std::filesystem::path source_root();
std::filesystem::path privateer_bin();

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

// Reads a whole file.
std::string read_file(const std::filesystem::path& p);

}  // namespace privateer::test

// Skips the current test when ../shared/corpus is absent.
#define PRIVATEER_REQUIRE_CORPUS()                                              \
  do {                                                                          \
    if (!::privateer::test::corpus_dir()) GTEST_SKIP() << "../shared/corpus absent"; \
  } while (0)
