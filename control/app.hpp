// The appliance run: source -> worker runtime -> interval merge -> outputs,
// with the metrics endpoint, progress line, signals and the run summary.
#pragma once

#include <string>

#include "control/config.hpp"

namespace privateer {

struct RunOptions {
  // Keep serving metrics this long after the input ended (until a signal).
  unsigned hold_metrics_seconds = 0;
};

// Runs the appliance until the input ends or SIGINT/SIGTERM arrives;
// SIGHUP reopens the log file, SIGUSR1 logs the counters.
// Returns the process exit status. Throws ConfigError / SourceError at start.
int run_appliance(const Config& cfg, const RunOptions& opt);

}  // namespace privateer
