// Start-up checks (control/preflight.cpp) through the binary: --check-config
// finds what a run would trip over, without starting a capture, and names the
// key and line; a run makes its output directory before dropping root.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/test_support.hpp"

namespace fs = std::filesystem;
using namespace privateer::test;

namespace {

struct Checked {
  int rc = -1;
  std::string out;
};

// Writes CONFIG (with the capture's path for @CAP@) and runs privateer -c on
// it with ARGS.
Checked run_privateer(const TempDir& tmp, std::string body, const std::string& args) {
  const std::string cap = (tmp.path / "small.pcap").string();
  for (size_t at; (at = body.find("@CAP@")) != std::string::npos;) body.replace(at, 5, cap);
  for (size_t at; (at = body.find("@DIR@")) != std::string::npos;) body.replace(at, 5, tmp.path.string());
  const fs::path cfg = tmp.path / "c.yaml";
  std::ofstream(cfg) << body;
  Checked c;
  c.rc = run_command(quote(privateer_bin()) + " -c " + quote(cfg) + " " + args, &c.out);
  return c;
}

class Preflight : public ::testing::Test {
 protected:
  void SetUp() override {
    const fs::path gen = privateer_bin().parent_path().parent_path() / "perf" / "gen_telescope";
    if (!fs::exists(gen)) GTEST_SKIP() << "perf/gen_telescope not built";
    std::string out;
    ASSERT_EQ(run_command(quote(gen) + " -q -o " + quote(tmp.path / "small.pcap") + " -n 200 --pps 10", &out), 0) << out;
    ::chmod(tmp.path.c_str(), 0755);  // other users (nobody) may look in
  }
  TempDir tmp;
};

const char* const kBase = "outtemplate: @DIR@/out/%P-%s\nprometheus: {enabled: no}\nplugins: [flowtuple]\n";

TEST_F(Preflight, ValidConfigPasses) {
  const Checked c = run_privateer(tmp, std::string("packetsource: @CAP@\n") + kBase, "--check-config");
  EXPECT_EQ(c.rc, 0) << c.out;
  EXPECT_NE(c.out.find("configuration is valid"), std::string::npos) << c.out;
  EXPECT_FALSE(fs::exists(tmp.path / "out")) << "--check-config made the output directory";
}

// Each problem a run would meet: exit 1, the key, its line and the reason.
TEST_F(Preflight, SourceProblemsNamed) {
  fs::create_directories(tmp.path / "empty");
  const struct {
    const char* source;
    const char* reason;
  } cases[] = {
      {"@DIR@/missing.pcap", "missing.pcap: cannot open: No such file or directory"},
      {"@DIR@/empty", "empty: directory holds no capture files"},
      {"dag:/dev/dag0", "needs libtrace built with DAG support"},
      {"[@CAP@, @DIR@/missing2.pcap]", "missing2.pcap: cannot open"},
  };
  for (const auto& k : cases) {
    const Checked c = run_privateer(tmp, std::string("packetsource: ") + k.source + "\n" + kBase, "--check-config");
    EXPECT_EQ(c.rc, 1) << k.source << "\n" << c.out;
    EXPECT_NE(c.out.find("config key 'packetsource' (line 1): "), std::string::npos) << c.out;
    EXPECT_NE(c.out.find(k.reason), std::string::npos) << c.out;
  }
}

TEST_F(Preflight, UnknownUser) {
  const Checked c =
      run_privateer(tmp, std::string("packetsource: @CAP@\n") + kBase + "user: no-such-user\n", "--check-config");
  EXPECT_EQ(c.rc, 1) << c.out;
  EXPECT_NE(c.out.find("config key 'user' (line 5): no such user 'no-such-user'"), std::string::npos) << c.out;
}

// The output directory is checked as the user the run drops to; one that
// does not exist yet is made by root and given to that user.
TEST_F(Preflight, OutputDirectoryAsUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (to switch to user nobody)";
  const passwd* pw = getpwnam("nobody");
  if (!pw) GTEST_SKIP() << "no user nobody";
  fs::create_directories(tmp.path / "out");
  ::chmod((tmp.path / "out").c_str(), 0755);  // root's, not writable by nobody
  std::string body = std::string("packetsource: @CAP@\n") + kBase + "user: nobody\n";
  Checked c = run_privateer(tmp, body, "--check-config");
  EXPECT_EQ(c.rc, 1) << c.out;
  EXPECT_NE(c.out.find("config key 'outtemplate' (line 2): output directory '" + (tmp.path / "out").string() +
                       "' is not writable by user 'nobody': Permission denied"),
            std::string::npos)
      << c.out;
  // A run refuses too, before reading anything.
  c = run_privateer(tmp, body, "");
  EXPECT_EQ(c.rc, 1) << c.out;
  EXPECT_TRUE(fs::is_empty(tmp.path / "out"));

  // Not there yet: made (with the dated level below it by the run) and owned by nobody.
  fs::remove(tmp.path / "out");
  body = "packetsource: @CAP@\nouttemplate: @DIR@/out/new/%Y/%P-%s\nprometheus: {enabled: no}\n"
         "plugins: [flowtuple]\nuser: nobody\n";
  c = run_privateer(tmp, body, "--check-config");
  EXPECT_EQ(c.rc, 0) << c.out;
  c = run_privateer(tmp, body, "");
  ASSERT_EQ(c.rc, 0) << c.out;
  for (const fs::path& d : {tmp.path / "out", tmp.path / "out" / "new"}) {
    struct stat st {};
    ASSERT_EQ(::stat(d.c_str(), &st), 0) << d;
    EXPECT_EQ(st.st_uid, pw->pw_uid) << d;
  }
  size_t done = 0;
  for (const auto& e : fs::recursive_directory_iterator(tmp.path / "out" / "new")) {
    done += e.path().extension() == ".done";
  }
  EXPECT_EQ(done, 1u) << c.out;
}

// A port another program holds: a warning for a file run (which goes on
// without the endpoint), an error for a live capture.
TEST_F(Preflight, BusyMetricsPort) {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(s, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(s, 1), 0);
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  const std::string listen = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  const std::string rest = "outtemplate: @DIR@/out/%P-%s\nprometheus: {listen: \"" + listen + "\"}\nplugins: [flowtuple]\n";

  Checked c = run_privateer(tmp, "packetsource: @CAP@\n" + rest, "--check-config");
  EXPECT_EQ(c.rc, 0) << c.out;
  EXPECT_NE(c.out.find("warning: prometheus.listen (line 3): cannot serve metrics on " + listen +
                       ": Address already in use (a file run goes on without the endpoint)"),
            std::string::npos)
      << c.out;
  // The run says the same (not civetweb's "null context when constructing CivetServer").
  c = run_privateer(tmp, "packetsource: @CAP@\n" + rest, "");
  EXPECT_EQ(c.rc, 0) << c.out;
  EXPECT_NE(c.out.find("cannot serve metrics on " + listen + ": Address already in use."), std::string::npos) << c.out;

  c = run_privateer(tmp, "packetsource: int:lo\n" + rest, "--check-config");
  EXPECT_EQ(c.rc, 1) << c.out;
  EXPECT_NE(c.out.find("config key 'prometheus.listen' (line 3): cannot serve metrics on " + listen +
                       ": Address already in use (a live capture does not start without its metrics endpoint)"),
            std::string::npos)
      << c.out;
  ::close(s);
}

// Messages for two common mistakes: an unquoted [v6]:port and a number too
// large for any integer.
TEST_F(Preflight, ClearMessages) {
  Checked c = run_privateer(tmp, "packetsource: @CAP@\nouttemplate: o-%P-%s\nprometheus:\n  listen: [::1]:9100\nplugins: [flowtuple]\n",
                            "--check-config");
  EXPECT_EQ(c.rc, 1) << c.out;
  EXPECT_NE(c.out.find("YAML syntax error"), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("an IPv6 address in brackets must be quoted: \"[::1]:9100\""), std::string::npos) << c.out;

  c = run_privateer(tmp, std::string("packetsource: @CAP@\ninterval: 99999999999999999999\n") + kBase, "--check-config");
  EXPECT_EQ(c.rc, 1) << c.out;
  EXPECT_NE(c.out.find("config key 'interval' (line 2): must be 1..31622400 seconds, got 99999999999999999999 (out of range)"),
            std::string::npos)
      << c.out;
}

}  // namespace
