// The line files plugins read (the regex plugin's rules, pcapextract's
// flows): one item a line, `#` comment lines and blank lines skipped, every
// error reading FILE:LINE: why (line 0: the file as a whole).
#pragma once

#include <cstddef>
#include <functional>
#include <stdexcept>
#include <string>

namespace privateer {

class LineFileError : public std::runtime_error {
 public:
  LineFileError(const std::string& file, int line, const std::string& message)
      : std::runtime_error(file + ":" + std::to_string(line) + ": " + message) {}
};

constexpr size_t kMaxLineFileBytes = size_t{64} << 20;

// The text of `file`, a regular file (not a FIFO or a device read forever)
// of at most kMaxLineFileBytes; `what` names it in errors ("the rules file").
std::string read_line_file(const std::string& file, const std::string& what);

// Calls fn(line number, line) for every line of `text` that is neither blank
// nor a comment line (its first non-blank byte `#`); a line with a NUL byte
// throws. Returns the number of lines.
int for_each_line(const std::string& text, const std::string& file, const std::function<void(int, const std::string&)>& fn);

}  // namespace privateer
