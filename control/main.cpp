// privateer: the command line.
#include <getopt.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include "control/app.hpp"
#include "control/config.hpp"
#include "control/log.hpp"
#include "control/preflight.hpp"
#include "hw/source.hpp"
#include "plugins/common/options.hpp"
#include "plugins/registry.hpp"

namespace {

void usage(FILE* out) {
  std::fprintf(out,
               "usage: privateer -c CONFIG [-l terminal|file|syslog|disabled] [--check-config]\n"
               "                 [--hold-metrics SECONDS]\n"
               "\n"
               "Reads packets from the configured source, runs the configured plugins on\n"
               "them per interval and writes their results (see README.md).\n"
               "\n"
               "  -c, --config FILE       YAML configuration (corsarotrace keys accepted)\n"
               "  -l, --log TARGET        where log lines go: terminal (stderr, default), file\n"
               "                          (the config's logfilename), syslog, disabled\n"
               "      --check-config      validate the configuration and what it points at\n"
               "                          (sources, output directory as `user`, metrics\n"
               "                          port) without starting a capture, and exit\n"
               "      --hold-metrics SEC  after the input ends, keep serving metrics for SEC\n"
               "                          seconds (or until SIGINT/SIGTERM)\n"
               "  -h, --help              this help\n"
               "  -V, --version           print the version\n"
               "\n"
               "Signals: SIGINT/SIGTERM end the run (the open interval is written as\n"
               "partial; a second one exits at once), SIGHUP reopens the log file (-l file),\n"
               "SIGUSR1 logs the counters.\n");
}

}  // namespace

int main(int argc, char** argv) {
  using namespace privateer;
  std::string config_path;
  std::string log_target = "terminal";
  bool check_only = false;
  RunOptions ropt;
  static const option longopts[] = {
      {"config", required_argument, nullptr, 'c'},
      {"log", required_argument, nullptr, 'l'},
      {"check-config", no_argument, nullptr, 'k'},
      {"hold-metrics", required_argument, nullptr, 'H'},
      {"help", no_argument, nullptr, 'h'},
      {"version", no_argument, nullptr, 'V'},
      {nullptr, 0, nullptr, 0},
  };
  int c;
  while ((c = getopt_long(argc, argv, "c:l:hV", longopts, nullptr)) != -1) {
    switch (c) {
      case 'c': config_path = optarg; break;
      case 'l': log_target = optarg; break;
      case 'k': check_only = true; break;
      case 'H': {
        char* end = nullptr;
        const unsigned long v = std::strtoul(optarg, &end, 10);
        if (!end || *end) {
          std::fprintf(stderr, "privateer: --hold-metrics needs a number of seconds\n");
          return 2;
        }
        ropt.hold_metrics_seconds = static_cast<unsigned>(v);
        break;
      }
      case 'h': usage(stdout); return 0;
      case 'V': std::printf("privateer %s\n", PRIVATEER_VERSION); return 0;
      default: usage(stderr); return 2;
    }
  }
  if (optind < argc) {
    std::fprintf(stderr, "privateer: unexpected argument '%s'\n", argv[optind]);
    usage(stderr);
    return 2;
  }
  if (config_path.empty()) {
    std::fprintf(stderr, "privateer: a configuration file is required (-c FILE)\n");
    usage(stderr);
    return 2;
  }
  LogTarget target;
  if (log_target == "terminal") target = LogTarget::terminal;
  else if (log_target == "file") target = LogTarget::file;
  else if (log_target == "syslog") target = LogTarget::syslog;
  else if (log_target == "disabled") target = LogTarget::disabled;
  else {
    std::fprintf(stderr, "privateer: unknown log target '%s' (terminal, file, syslog, disabled)\n", log_target.c_str());
    return 2;
  }

  Config cfg;
  try {
    cfg = load_config(config_path);
    // Plugin options are checked by the plugins themselves.
    for (const auto& spec : cfg.plugins) {
      const auto plugin = make_plugin(spec.name, spec.options, spec.path, cfg.interval,
                                      PluginContext{!cfg.tagproviders.maxmind.empty(), !cfg.tagproviders.pfx2as.empty(), cfg.tags.custom_names});
      for (const auto& w : plugin->config_warnings()) cfg.warnings.push_back(w);
    }
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "privateer: %s: %s\n", config_path.c_str(), e.what());
    return 1;
  }
  // What the configuration points at: the whole of it for --check-config,
  // the user and output directory before a run opens anything.
  PreflightResult pre;
  try {
    pre = preflight(cfg, check_only);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "privateer: start-up checks failed: %s\n", e.what());
    return 1;
  }
  if (check_only) {
    for (const auto& w : cfg.warnings) std::fprintf(stderr, "privateer: warning: %s\n", w.c_str());
    for (const auto& w : pre.warnings) std::fprintf(stderr, "privateer: warning: %s\n", w.c_str());
    for (const auto& e : pre.errors) std::fprintf(stderr, "privateer: %s: %s\n", config_path.c_str(), e.what());
    if (!pre.errors.empty()) return 1;
    std::printf("%s: configuration is valid\n", config_path.c_str());
    return 0;
  }
  if (!pre.errors.empty()) {
    for (const auto& e : pre.errors) std::fprintf(stderr, "privateer: %s: %s\n", config_path.c_str(), e.what());
    return 1;
  }
  try {
    if (target == LogTarget::file && cfg.logfilename.empty()) {
      std::fprintf(stderr, "privateer: -l file needs 'logfilename' in the configuration\n");
      return 2;
    }
    log_open(target, cfg.logfilename, cfg.log_level);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "privateer: %s\n", e.what());
    return 1;
  }
  for (const auto& w : cfg.warnings) log_warning(w);
  try {
    return run_appliance(cfg, ropt);
  } catch (const ConfigError& e) {
    log_error(config_path + ": " + e.what());
  } catch (const SourceError& e) {
    log_error(std::string("packet source: ") + e.what());
  } catch (const std::exception& e) {
    log_error(e.what());
  }
  return 1;
}
