// libFuzzer harness for the configuration parser (the YAML config file is
// outside input): parse_config (control/config.cpp, with yaml-cpp, the
// output-template checks of control/naming.cpp and the libtrace URI test),
// then, as control/main.cpp does, every configured plugin built from its
// options with make_plugin, and its config_warnings().
// ConfigError is the expected failure; any other exception escapes and
// libFuzzer reports it, as it does a crash, a hang or a sanitizer report.
// Built with FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION, parse_config lets a
// yaml-cpp exception that got past its checks escape instead of turning it
// into a ConfigError naming no key: such an error is a bug too (it does not
// name the key and line it is about).
// Built and run by scripts/fuzz.sh config (clang++ -fsanitize=fuzzer,address,undefined).
#include <cstddef>
#include <cstdint>
#include <string>

#include "control/config.hpp"
#include "plugins/common/options.hpp"
#include "plugins/registry.hpp"

using namespace privateer;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    Config cfg = parse_config(text);
    for (const auto& spec : cfg.plugins) {
      const auto plugin = make_plugin(spec.name, spec.options, spec.path, cfg.interval);
      for (const auto& w : plugin->config_warnings()) cfg.warnings.push_back(w);
    }
  } catch (const ConfigError&) {
  }
  return 0;
}
