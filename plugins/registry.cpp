#include "plugins/registry.hpp"

#include "plugins/common/options.hpp"
#include "plugins/dos/dos.hpp"
#include "plugins/flowtuple/flowtuple.hpp"
#include "plugins/null/null.hpp"
#include "plugins/pcapextract/pcapextract.hpp"
#include "plugins/regex/regex.hpp"
#include "plugins/report/report.hpp"
#include "plugins/socketsink/socketsink.hpp"
#include "plugins/wdcap/wdcap.hpp"

namespace privateer {
namespace {

struct Entry {
  const char* name;
  std::unique_ptr<Plugin> (*make)(const YAML::Node&, const std::string&, uint32_t);
  // Instead of make, for a plugin that needs the run's context.
  std::unique_ptr<Plugin> (*make_in)(const YAML::Node&, const std::string&, uint32_t,
                                     const PluginContext&) = nullptr;
};

const Entry kPlugins[] = {
    {"dos",
     [](const YAML::Node& o, const std::string& p, uint32_t) -> std::unique_ptr<Plugin> {
       return std::make_unique<DosPlugin>(o, p);
     }},
    {"flowtuple",
     [](const YAML::Node& o, const std::string& p, uint32_t iv) -> std::unique_ptr<Plugin> {
       return std::make_unique<FlowtuplePlugin>(o, p, iv);
     }},
    {"null",
     [](const YAML::Node& o, const std::string& p, uint32_t) -> std::unique_ptr<Plugin> {
       return std::make_unique<NullPlugin>(o, p);
     }},
    {"pcapextract", nullptr,
     [](const YAML::Node& o, const std::string& p, uint32_t iv, const PluginContext& c) -> std::unique_ptr<Plugin> {
       return std::make_unique<PcapExtractPlugin>(o, p, c.filters, iv);
     }},
    {"regex",
     [](const YAML::Node& o, const std::string& p, uint32_t) -> std::unique_ptr<Plugin> {
       return std::make_unique<RegexPlugin>(o, p);
     }},
    {"report", nullptr,
     [](const YAML::Node& o, const std::string& p, uint32_t iv, const PluginContext& c) -> std::unique_ptr<Plugin> {
       return std::make_unique<ReportPlugin>(o, p, iv, c);
     }},
    {"socketsink", nullptr,
     [](const YAML::Node& o, const std::string& p, uint32_t iv, const PluginContext& c) -> std::unique_ptr<Plugin> {
       return std::make_unique<SocketSinkPlugin>(o, p, c.filters, iv);
     }},
    {"wdcap",
     [](const YAML::Node& o, const std::string& p, uint32_t iv) -> std::unique_ptr<Plugin> {
       return std::make_unique<WdcapPlugin>(o, p, iv);
     }},
};

}  // namespace

std::vector<std::string> plugin_names() {
  std::vector<std::string> v;
  for (const Entry& e : kPlugins) v.emplace_back(e.name);
  return v;
}

std::unique_ptr<Plugin> make_plugin(const std::string& name, const YAML::Node& options,
                                    const std::string& path, uint32_t interval_seconds,
                                    const PluginContext& context) {
  const std::string p = path.empty() ? "plugins." + name : path;
  for (const Entry& e : kPlugins) {
    if (name == e.name) return e.make_in ? e.make_in(options, p, interval_seconds, context)
                                         : e.make(options, p, interval_seconds);
  }
  std::string known;
  for (const Entry& e : kPlugins) known += (known.empty() ? "" : ", ") + std::string(e.name);
  throw ConfigError(p, yaml_line(options), "unknown plugin '" + name + "' (known: " + known + ")");
}

}  // namespace privateer
