#include "control/leftovers.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <regex>

namespace privateer {

namespace {

// Directory entries looked at, at most: the start-up scan stays quick on a
// directory of years of files.
constexpr size_t kMaxEntries = 1000000;

std::string escape(const std::string& s) {
  std::string out;
  for (const char c : s) {
    if (std::strchr("\\^$.|?*+()[]{}/", c) != nullptr) out += '\\';
    out += c;
  }
  return out;
}

std::string alternatives(const std::vector<std::string>& names) {
  if (names.empty()) return "[^/]+";
  std::string out = "(?:";
  for (size_t i = 0; i < names.size(); ++i) out += (i ? "|" : "") + escape(names[i]);
  return out + ")";
}

// True when another process holds the file's lock (privateer writing it).
bool locked(const std::filesystem::path& p) {
  const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return false;
  const bool busy = ::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  ::close(fd);
  return busy;
}

}  // namespace

std::string template_base_dir(const std::string& tmpl) {
  const size_t pct = tmpl.find('%');
  const size_t slash = tmpl.rfind('/', pct == std::string::npos ? std::string::npos : pct);
  if (slash == std::string::npos) return "";
  return slash == 0 ? "/" : tmpl.substr(0, slash);
}

std::string leftover_pattern(const std::string& tmpl, const std::string& monitorid,
                             const std::vector<std::string>& streams) {
  const std::string base = template_base_dir(tmpl);
  std::string rest = base.empty() ? tmpl : tmpl.substr(base == "/" ? 1 : base.size() + 1);
  bool ends_avro = false;
  if (rest.size() >= 5 && rest.compare(rest.size() - 5, 5, ".avro") == 0) {
    const size_t last_pct = rest.rfind('%');
    // ".avro" literal only when no conversion overlaps it ("%.avro" is not one).
    ends_avro = last_pct == std::string::npos || last_pct + 1 < rest.size() - 5;
    if (ends_avro) rest.resize(rest.size() - 5);
  }
  std::string re;
  for (size_t i = 0; i < rest.size(); ++i) {
    if (rest[i] != '%') {
      re += escape(std::string(1, rest[i]));
      continue;
    }
    size_t j = i + 1;   // glibc flags, a width, an E/O modifier: as expand_template
    while (j < rest.size() && std::strchr("-_0^#", rest[j]) != nullptr) ++j;
    while (j < rest.size() && rest[j] >= '0' && rest[j] <= '9') ++j;
    if (j < rest.size() && (rest[j] == 'E' || rest[j] == 'O')) ++j;
    if (j >= rest.size()) {   // kept literally
      re += escape(rest.substr(i));
      break;
    }
    switch (rest[j]) {
      case 'P': re += alternatives(streams); break;
      case 'N': re += escape(monitorid); break;
      case 's': re += "[0-9]+"; break;
      case '%': re += "%"; break;
      case 'n': re += "\n"; break;
      case 't': re += "\t"; break;
      default: re += ".*"; break;
    }
    i = j;
  }
  return re + "(?:\\." + alternatives(streams) + ")?(?:\\.[0-9]+)?\\.avro\\.tmp";
}

std::vector<std::string> find_leftovers(const std::string& tmpl, const std::string& monitorid,
                                        const std::vector<std::string>& streams) {
  namespace fs = std::filesystem;
  const std::string base = template_base_dir(tmpl);
  const fs::path dir = base.empty() ? fs::path(".") : fs::path(base);
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  const std::regex re(leftover_pattern(tmpl, monitorid, streams));
  const std::string rest = base.empty() ? tmpl : tmpl.substr(base == "/" ? 1 : base.size() + 1);
  // Directories the template names below the base, and two more for
  // strftime conversions with a '/' (%D).
  const int max_depth = static_cast<int>(std::count(rest.begin(), rest.end(), '/')) + 2;
  size_t seen = 0;
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end;
  for (; !ec && it != end && seen < kMaxEntries; it.increment(ec), ++seen) {
    if (it.depth() >= max_depth) it.disable_recursion_pending();
    std::error_code e2;
    if (!it->is_regular_file(e2)) continue;
    const std::string rel = it->path().lexically_relative(dir).string();
    if (!std::regex_match(rel, re)) continue;
    if (locked(it->path())) continue;
    out.push_back(base.empty() ? rel : (dir / rel).string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace privateer
