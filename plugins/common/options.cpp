#include "plugins/common/options.hpp"

#include <cstdint>
#include <vector>

namespace privateer {

ConfigError::ConfigError(const std::string& key, int line, const std::string& message)
    : std::runtime_error("config key '" + key + "'" +
                         (line > 0 ? " (line " + std::to_string(line) + ")" : std::string()) +
                         ": " + message),
      key_(key),
      line_(line) {}

int yaml_line(const YAML::Node& n) {
  const YAML::Mark m = n.Mark();
  return m.line >= 0 ? m.line + 1 : 0;
}

std::string join_key(const std::string& path, const char* key) {
  return path.empty() ? std::string(key) : path + "." + key;
}

void reject_unknown_keys(const YAML::Node& map, const std::string& path,
                         std::initializer_list<const char*> known) {
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
    for (const char* n : known) ok = ok || k == n;
    if (!ok) throw ConfigError(join_key(path, k.c_str()), yaml_line(kv.first), "unknown key");
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
