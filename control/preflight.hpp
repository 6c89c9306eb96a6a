// Start-up checks of what a valid configuration points at, done before
// anything is opened: the user to run as, the output directory (as that
// user), and for --check-config also the packet sources and the metrics
// port. A run finds the same problems when it opens them; these checks find
// them at once, and --check-config without starting a capture.
#pragma once

#include <string>
#include <vector>

#include "control/config.hpp"

namespace privateer {

struct PreflightResult {
  std::vector<ConfigError> errors;     // each names the config key (and its line)
  std::vector<std::string> warnings;   // problems a run goes on with (a busy port for a file run)
};

// `full`: also the sources (exist, readable; directories not empty; live
// URIs' formats built in) and whether the metrics port can be bound. The
// checks that depend on the user run in a child process switched to
// cfg.user, so that they see what the run will see after the drop.
PreflightResult preflight(const Config& cfg, bool full);

// The directory outtemplate writes into, up to its first %-conversion ("."
// when there is none): made (with its missing parents) before root is
// dropped, the new directories owned by cfg.user. Throws ConfigError naming
// outtemplate when it cannot be made.
void make_output_directory(const Config& cfg);

// Switches to `user` (its groups, gid and uid) for good. Throws
// ConfigError("user") for an unknown user, std::runtime_error when the switch
// fails or root could be regained.
void switch_user(const std::string& user);

}  // namespace privateer
