// Reading YAML options with errors that name the key and its line. Used by
// the control plane's config and by plugins for their own options.
#pragma once

#include <yaml-cpp/yaml.h>

#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace privateer {

class ConfigError : public std::runtime_error {
 public:
  // `key` is the dotted path (e.g. "plugins.flowtuple.sort"), `line` 1-based
  // (0 where unknown). what() reads: config key 'KEY' (line N): MESSAGE
  ConfigError(const std::string& key, int line, const std::string& message);
  const std::string& key() const { return key_; }
  int line() const { return line_; }
  const std::string& message() const { return message_; }

 private:
  std::string key_;
  int line_;
  std::string message_;
};

// 1-based line of a node, 0 if it has none (undefined or invalid nodes too).
int yaml_line(const YAML::Node& n);

// Throws ConfigError for the first key of `map` not in `known` (naming the
// closest known key when one is close, see unknown_key_message), and for a
// key that appears twice in `map` (YAML would otherwise silently keep one).
void reject_unknown_keys(const YAML::Node& map, const std::string& path,
                         std::initializer_list<const char*> known);
void reject_unknown_keys(const YAML::Node& map, const std::string& path, const std::vector<std::string>& known);

// The known key nearest to `key` by edit distance (insertions, deletions,
// substitutions and swaps of two neighbours, ignoring case), or "" when none
// is within max(2, key length / 3).
std::string closest_key(const std::string& key, const std::vector<std::string>& known);
// "unknown key", plus ": did you mean 'K'?" when closest_key finds one.
std::string unknown_key_message(const std::string& key, const std::vector<std::string>& known);

// The value under `key` of `map` converted to T, or nullopt when absent.
// Throws ConfigError naming path.key and the line when it has the wrong type.
template <typename T>
std::optional<T> get_opt(const YAML::Node& map, const std::string& path, const char* key);

// A yes/no option: what get_opt<bool> accepts (yes/no, true/false, on/off,
// y/n) plus corsaro's "enabled"/"disabled". nullopt when absent.
std::optional<bool> get_onoff(const YAML::Node& map, const std::string& path, const char* key);

std::string join_key(const std::string& path, const char* key);

}  // namespace privateer
