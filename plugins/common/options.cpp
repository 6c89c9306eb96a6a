#include "plugins/common/options.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <limits>
#include <vector>

namespace privateer {

ConfigError::ConfigError(const std::string& key, int line, const std::string& message)
    : std::runtime_error("config key '" + key + "'" +
                         (line > 0 ? " (line " + std::to_string(line) + ")" : std::string()) +
                         ": " + message),
      key_(key),
      line_(line),
      message_(message) {}

int yaml_line(const YAML::Node& n) {
  try {
    if (!n.IsDefined()) return 0;
    const YAML::Mark m = n.Mark();
    return m.line >= 0 ? m.line + 1 : 0;
  } catch (const YAML::Exception&) {   // an invalid (zombie) node: no line
    return 0;
  }
}

std::string join_key(const std::string& path, const char* key) {
  return path.empty() ? std::string(key) : path + "." + key;
}

namespace {
// Optimal string alignment distance, case-insensitive.
size_t edit_distance(const std::string& a, const std::string& b) {
  auto eq = [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
  };
  const size_t n = a.size(), m = b.size();
  std::vector<std::vector<size_t>> d(n + 1, std::vector<size_t>(m + 1));
  for (size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (size_t i = 1; i <= n; ++i) {
    for (size_t j = 1; j <= m; ++j) {
      const size_t cost = eq(a[i - 1], b[j - 1]) ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && eq(a[i - 1], b[j - 2]) && eq(a[i - 2], b[j - 1])) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[n][m];
}
}  // namespace

std::string closest_key(const std::string& key, const std::vector<std::string>& known) {
  const size_t limit = std::max<size_t>(2, key.size() / 3);
  std::string best;
  size_t best_d = limit + 1;
  for (const auto& k : known) {
    const size_t d = edit_distance(key, k);
    if (d < best_d) {
      best_d = d;
      best = k;
    }
  }
  return best;
}

std::string unknown_key_message(const std::string& key, const std::vector<std::string>& known) {
  const std::string near = closest_key(key, known);
  return near.empty() ? std::string("unknown key") : "unknown key: did you mean '" + near + "'?";
}

void reject_unknown_keys(const YAML::Node& map, const std::string& path,
                         std::initializer_list<const char*> known) {
  reject_unknown_keys(map, path, std::vector<std::string>(known.begin(), known.end()));
}

void reject_unknown_keys(const YAML::Node& map, const std::string& path, const std::vector<std::string>& known) {
  if (!map.IsMap()) {
    throw ConfigError(path.empty() ? "(top level)" : path, yaml_line(map), "must be a mapping");
  }
  std::vector<std::string> seen;
  for (const auto& kv : map) {
    if (!kv.first.IsScalar()) {
      throw ConfigError(path.empty() ? "(top level)" : path, yaml_line(kv.first),
                        "a key must be a plain name");
    }
    const std::string k = kv.first.as<std::string>();
    bool ok = false;
    for (const auto& n : known) ok = ok || k == n;
    if (!ok) {
      throw ConfigError(join_key(path, k.c_str()), yaml_line(kv.first),
                        unknown_key_message(k, known));
    }
    for (const auto& s : seen) {
      if (s == k) throw ConfigError(join_key(path, k.c_str()), yaml_line(kv.first), "appears twice");
    }
    seen.push_back(k);
  }
}

namespace {
template <typename T>
const char* type_name();
template <> const char* type_name<bool>() { return "a boolean (yes/no)"; }
template <> const char* type_name<std::string>() { return "a string"; }
template <> const char* type_name<uint64_t>() { return "a non-negative integer"; }
template <> const char* type_name<uint32_t>() { return "a non-negative integer"; }
template <> const char* type_name<int64_t>() { return "an integer"; }
template <> const char* type_name<double>() { return "a number"; }
}  // namespace

template <typename T>
std::optional<T> get_opt(const YAML::Node& map, const std::string& path, const char* key) {
  const YAML::Node n = map[key];
  if (!n.IsDefined() || n.IsNull()) return std::nullopt;
  if (!n.IsScalar()) throw ConfigError(join_key(path, key), yaml_line(n), std::string("must be ") + type_name<T>());
  try {
    if constexpr (std::is_unsigned_v<T> && !std::is_same_v<T, bool>) {
      if (!n.Scalar().empty() && n.Scalar()[0] == '-') throw YAML::BadConversion(n.Mark());
    }
    return n.as<T>();
  } catch (const YAML::BadConversion&) {
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
      // Digits only: a number, just too large for the option.
      const std::string& s = n.Scalar();
      const size_t digits = s.find_first_not_of("0123456789", s[0] == '-' || s[0] == '+' ? 1 : 0);
      if (s.size() > 1 && digits == std::string::npos && s[0] != '-') {
        throw ConfigError(join_key(path, key), yaml_line(n),
                          "is out of range: at most " + std::to_string(std::numeric_limits<T>::max()) + ", got " + s);
      }
    }
    throw ConfigError(join_key(path, key), yaml_line(n),
                      std::string("must be ") + type_name<T>() + ", got '" + n.Scalar() + "'");
  }
}

std::optional<bool> get_onoff(const YAML::Node& map, const std::string& path, const char* key) {
  const YAML::Node n = map[key];
  if (n.IsDefined() && n.IsScalar()) {
    if (n.Scalar() == "enabled") return true;
    if (n.Scalar() == "disabled") return false;
  }
  return get_opt<bool>(map, path, key);
}

template std::optional<bool> get_opt<bool>(const YAML::Node&, const std::string&, const char*);
template std::optional<std::string> get_opt<std::string>(const YAML::Node&, const std::string&, const char*);
template std::optional<uint64_t> get_opt<uint64_t>(const YAML::Node&, const std::string&, const char*);
template std::optional<uint32_t> get_opt<uint32_t>(const YAML::Node&, const std::string&, const char*);
template std::optional<int64_t> get_opt<int64_t>(const YAML::Node&, const std::string&, const char*);
template std::optional<double> get_opt<double>(const YAML::Node&, const std::string&, const char*);

}  // namespace privateer
