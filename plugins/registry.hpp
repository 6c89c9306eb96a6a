// The plugins privateer knows, by the name used under `plugins:` in the config.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "plugins/plugin_api.hpp"

namespace privateer {

// What a plugin may need to know of the run beyond its own options: which
// tags the run computes (read-only, fixed for the run).
struct PluginContext {
  bool maxmind = false;   // tagproviders.maxmind: views carry continent and country
  bool pfx2as = false;    // tagproviders.pfx2as: views carry the origin AS
  std::vector<std::string> filters;   // the custom filters: bit i of custom_bits named filters[i]
};

// Names accepted by make_plugin(), in a stable order.
std::vector<std::string> plugin_names();

// Builds plugin `name` from its options mapping (`options` may be null or
// undefined: defaults). `path` is the options' dotted config path used in
// errors (e.g. "plugins.flowtuple"); `interval_seconds` the interval length.
// Throws ConfigError for an unknown name or bad options.
std::unique_ptr<Plugin> make_plugin(const std::string& name, const YAML::Node& options,
                                    const std::string& path, uint32_t interval_seconds,
                                    const PluginContext& context = PluginContext{});

}  // namespace privateer
