#include "plugins/common/line_file.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace privateer {

std::string read_line_file(const std::string& file, const std::string& what) {
  struct stat st{};
  if (::stat(file.c_str(), &st) != 0) throw LineFileError(file, 0, "cannot read " + what + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw LineFileError(file, 0, "cannot read " + what + " (not a regular file)");
  if (static_cast<size_t>(st.st_size) > kMaxLineFileBytes) {
    throw LineFileError(file, 0, what + " larger than " + std::to_string(kMaxLineFileBytes >> 20) + " MiB");
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) throw LineFileError(file, 0, "cannot read " + what);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

int for_each_line(const std::string& text, const std::string& file, const std::function<void(int, const std::string&)>& fn) {
  std::istringstream in(text);
  std::string s;
  int line = 0;
  while (std::getline(in, s)) {
    ++line;
    const size_t b = s.find_first_not_of(" \t\r\v\f");
    if (b == std::string::npos || s[b] == '#') continue;
    if (s.find('\0') != std::string::npos) throw LineFileError(file, line, "NUL byte in the line");
    fn(line, s);
  }
  return line;
}

}  // namespace privateer
