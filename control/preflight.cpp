// Start-up checks. See preflight.hpp.
#include "control/preflight.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <stdexcept>

#include "control/metrics.hpp"
#include "control/tagging.hpp"
#include "hw/source.hpp"

namespace privateer {

namespace {

int line_of(const Config& cfg, const char* key) {
  const auto it = cfg.key_lines.find(key);
  return it == cfg.key_lines.end() ? 0 : it->second;
}

int source_line(const Config& cfg) {
  const int l = line_of(cfg, "packetsource");
  return l ? l : line_of(cfg, "inputuri");
}

// The fixed directory part of outtemplate: up to the first component with a
// % conversion.
std::string fixed_output_dir(const std::string& outtemplate) {
  const size_t slash = outtemplate.rfind('/');
  if (slash == std::string::npos) return ".";
  std::string dir = outtemplate.substr(0, slash);
  const size_t pct = dir.find('%');
  if (pct != std::string::npos) {
    const size_t cut = dir.rfind('/', pct);
    dir = cut == std::string::npos ? std::string(".") : dir.substr(0, cut);
  }
  if (dir.empty()) dir = "/";
  return dir;
}

// The longest existing prefix directory of `dir`.
std::string existing_ancestor(std::string dir) {
  struct stat st {};
  while (::stat(dir.c_str(), &st) != 0) {
    const size_t slash = dir.find_last_of('/');
    if (slash == std::string::npos) return ".";
    dir = slash == 0 ? "/" : dir.substr(0, slash);
  }
  return dir;
}

// A directory this identity can create files in, or why not.
std::string unwritable(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return std::strerror(errno);
  if (!S_ISDIR(st.st_mode)) return "not a directory";
  if (::access(dir.c_str(), W_OK | X_OK) != 0) return std::strerror(errno);
  return {};
}

std::string who(const Config& cfg) { return cfg.user.empty() ? std::string() : " by user '" + cfg.user + "'"; }

// The checks to make as the user the run ends up as: the output directory
// (when it exists: make_output_directory gives new ones to the user) and the
// source files opened after the drop (every file of a directory or list but
// the first, as they are opened one by one as reading goes on).
std::vector<ConfigError> user_checks(const Config& cfg, const std::vector<std::string>& later_files) {
  std::vector<ConfigError> errs;
  const std::string dir = fixed_output_dir(cfg.outtemplate);
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    if (const std::string why = unwritable(dir); !why.empty()) {
      errs.emplace_back("outtemplate", line_of(cfg, "outtemplate"),
                        "output directory '" + dir + "' is not writable" + who(cfg) + ": " + why);
    }
  }
  for (const auto& f : later_files) {
    const int fd = ::open(f.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
      errs.emplace_back("packetsource", source_line(cfg),
                        f + ": cannot be read" + who(cfg) + " (it is opened after the switch to that user): " +
                            std::strerror(errno));
      break;  // one is enough: the others are most likely alike
    }
    ::close(fd);
  }
  return errs;
}

// Runs user_checks in a child switched to cfg.user; the errors come back
// through a pipe, one per line: KEY TAB LINE TAB MESSAGE.
std::vector<ConfigError> user_checks_as(const Config& cfg, const std::vector<std::string>& later_files) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::close(p[0]);
    std::vector<ConfigError> errs;
    try {
      switch_user(cfg.user);
      errs = user_checks(cfg, later_files);
    } catch (const ConfigError& e) {
      errs.push_back(e);
    } catch (const std::exception& e) {
      errs.emplace_back("user", line_of(cfg, "user"), e.what());
    }
    std::string out;
    for (const auto& e : errs) out += e.key() + "\t" + std::to_string(e.line()) + "\t" + e.message() + "\n";
    for (size_t off = 0; off < out.size();) {
      const ssize_t w = ::write(p[1], out.data() + off, out.size() - off);
      if (w <= 0) break;
      off += static_cast<size_t>(w);
    }
    ::_exit(0);
  }
  ::close(p[1]);
  std::string text;
  char buf[4096];
  for (ssize_t r; (r = ::read(p[0], buf, sizeof buf)) != 0;) {
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) break;
    text.append(buf, static_cast<size_t>(r));
  }
  ::close(p[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  std::vector<ConfigError> errs;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    const size_t a = l.find('\t');
    const size_t b = l.find('\t', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    errs.emplace_back(l.substr(0, a), std::atoi(l.substr(a + 1, b - a - 1).c_str()), l.substr(b + 1));
  }
  return errs;
}

bool live_source(const Config& cfg) {
  if (cfg.dpdk.enabled) return true;
  for (const auto& u : cfg.packetsources) {
    if (is_live_uri(u)) return true;
  }
  return false;
}

}  // namespace

void switch_user(const std::string& user) {
  errno = 0;
  const passwd* pw = getpwnam(user.c_str());
  if (!pw) throw ConfigError("user", 0, "no such user '" + user + "'");
  if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
    throw std::runtime_error("cannot switch to user '" + user + "': " + std::strerror(errno));
  }
  if (setuid(0) == 0 && pw->pw_uid != 0) throw std::runtime_error("switched to '" + user + "' but root could be regained");
}

PreflightResult preflight(const Config& cfg, bool full) {
  PreflightResult r;
  if (!cfg.user.empty() && !getpwnam(cfg.user.c_str())) {
    r.errors.emplace_back("user", line_of(cfg, "user"), "no such user '" + cfg.user + "'");
  }

  std::vector<std::string> later_files;  // opened after the switch to cfg.user
  if (full && !cfg.dpdk.enabled) {
    bool first = true;
    for (const auto& uri : cfg.packetsources) {
      try {
        for (const auto& f : check_source(uri)) {
          if (!first) {
            later_files.push_back(f);
            continue;
          }
          first = false;
          const int fd = ::open(f.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
          if (fd < 0) throw SourceError(f + ": cannot open: " + std::strerror(errno));
          ::close(fd);
        }
      } catch (const SourceError& e) {
        r.errors.emplace_back("packetsource", source_line(cfg), e.what());
      }
    }
  }

  // A directory that does not exist yet is made by root before the drop:
  // its nearest existing parent must take it.
  const std::string dir = fixed_output_dir(cfg.outtemplate);
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    const std::string parent = existing_ancestor(dir);
    if (const std::string why = unwritable(parent); !why.empty()) {
      r.errors.emplace_back("outtemplate", line_of(cfg, "outtemplate"),
                            "output directory '" + dir + "' cannot be made in '" + parent + "': " + why);
    }
  }
  if (cfg.user.empty() || !getpwnam(cfg.user.c_str())) {
    for (auto& e : user_checks(cfg, later_files)) r.errors.push_back(std::move(e));
  } else {
    for (auto& e : user_checks_as(cfg, later_files)) r.errors.push_back(std::move(e));
  }

  // The tag providers' files: missing, unreadable or not valid.
  if (full) {
    try {
      build_tag_tables(cfg);
    } catch (const ConfigError& e) {
      r.errors.push_back(e);
    }
  }

  if (full && cfg.prometheus.enabled) {
    if (const std::string why = listen_problem(cfg.prometheus.listen); !why.empty()) {
      const std::string msg = "cannot serve metrics on " + cfg.prometheus.listen + ": " + why;
      if (live_source(cfg)) {
        r.errors.emplace_back("prometheus.listen", cfg.prometheus.listen_line,
                              msg + " (a live capture does not start without its metrics endpoint)");
      } else {
        r.warnings.push_back("prometheus.listen (line " + std::to_string(cfg.prometheus.listen_line) + "): " + msg +
                             " (a file run goes on without the endpoint)");
      }
    }
  }
  return r;
}

void make_output_directory(const Config& cfg) {
  const std::string dir = fixed_output_dir(cfg.outtemplate);
  const passwd* pw = cfg.user.empty() ? nullptr : getpwnam(cfg.user.c_str());
  std::string path;
  size_t at = 0;
  while (at != std::string::npos) {
    const size_t slash = dir.find('/', at + 1);
    path = dir.substr(0, slash);
    at = slash;
    if (path.empty() || path == "/" || path == ".") continue;
    if (::mkdir(path.c_str(), 0755) == 0) {
      // Made by root for a run that drops to cfg.user: give it to that user.
      if (pw && ::geteuid() == 0 && ::chown(path.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
        throw ConfigError("outtemplate", line_of(cfg, "outtemplate"),
                          "cannot give output directory '" + path + "' to user '" + cfg.user + "': " + std::strerror(errno));
      }
    } else if (errno != EEXIST) {
      throw ConfigError("outtemplate", line_of(cfg, "outtemplate"),
                        "cannot make output directory '" + path + "': " + std::strerror(errno));
    }
  }
}

}  // namespace privateer
