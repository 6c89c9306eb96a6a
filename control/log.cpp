#include "control/log.hpp"

#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>
#include <stdexcept>

namespace privateer {
namespace {

std::mutex g_mu;
LogTarget g_target = LogTarget::terminal;
LogLevel g_min = LogLevel::info;
FILE* g_file = nullptr;
std::string g_path;

const char* level_name(LogLevel l) {
  switch (l) {
    case LogLevel::debug: return "DEBUG";
    case LogLevel::info: return "INFO";
    case LogLevel::warning: return "WARNING";
    case LogLevel::error: return "ERROR";
  }
  return "?";
}

int syslog_priority(LogLevel l) {
  switch (l) {
    case LogLevel::debug: return LOG_DEBUG;
    case LogLevel::info: return LOG_INFO;
    case LogLevel::warning: return LOG_WARNING;
    case LogLevel::error: return LOG_ERR;
  }
  return LOG_INFO;
}

}  // namespace

void log_open(LogTarget target, const std::string& path, LogLevel min_level) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_file) {
    std::fclose(g_file);
    g_file = nullptr;
  }
  if (target == LogTarget::file) {
    g_file = std::fopen(path.c_str(), "a");
    if (!g_file) throw std::runtime_error("cannot open log file '" + path + "'");
    g_path = path;
  } else if (target == LogTarget::syslog) {
    openlog("privateer", LOG_PID, LOG_DAEMON);
  }
  g_target = target;
  g_min = min_level;
}

void log_close() {
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_file) std::fclose(g_file);
  g_file = nullptr;
  if (g_target == LogTarget::syslog) closelog();
  g_target = LogTarget::disabled;
}

bool log_reopen(std::string* error) {
  error->clear();
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_target != LogTarget::file) return false;
  FILE* f = std::fopen(g_path.c_str(), "a");
  if (!f) {
    *error = "cannot open log file '" + g_path + "': " + std::strerror(errno);
    return false;
  }
  std::fclose(g_file);
  g_file = f;
  return true;
}

LogTarget log_target() {
  std::lock_guard<std::mutex> lock(g_mu);
  return g_target;
}

bool log_is_terminal() { return g_target == LogTarget::terminal && isatty(STDERR_FILENO); }

void log_line(LogLevel level, const std::string& message) {
  if (level < g_min) return;
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_target == LogTarget::disabled) return;
  if (g_target == LogTarget::syslog) {
    syslog(syslog_priority(level), "%s", message.c_str());
    return;
  }
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char ts[32];
  std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
  FILE* out = g_target == LogTarget::file ? g_file : stderr;
  std::fprintf(out, "%s.%03dZ %s %s\n", ts, static_cast<int>(ms), level_name(level), message.c_str());
  std::fflush(out);
}

}  // namespace privateer
