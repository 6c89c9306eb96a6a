// Log lines with time and level, to the terminal, a file, syslog, or nowhere.
#pragma once

#include <string>

namespace privateer {

enum class LogLevel { debug = 0, info, warning, error };
enum class LogTarget { terminal, file, syslog, disabled };

// Sets where lines go; `path` is used for LogTarget::file. Throws
// std::runtime_error when the file cannot be opened.
void log_open(LogTarget target, const std::string& path = "", LogLevel min_level = LogLevel::info);
void log_close();
// Logging to a file: opens `path` again (logrotate renamed the old file; a
// new one is created) and returns true; the old file stays in use when the
// new one cannot be opened (*error says why). False with *error empty when
// the lines do not go to a file.
bool log_reopen(std::string* error);
void log_line(LogLevel level, const std::string& message);
LogTarget log_target();
bool log_is_terminal();  // true when lines go to a terminal on stderr

inline void log_debug(const std::string& m) { log_line(LogLevel::debug, m); }
inline void log_info(const std::string& m) { log_line(LogLevel::info, m); }
inline void log_warning(const std::string& m) { log_line(LogLevel::warning, m); }
inline void log_error(const std::string& m) { log_line(LogLevel::error, m); }

}  // namespace privateer
