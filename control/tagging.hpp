// Builds the tag tables a config asks for (prefix-to-AS, MaxMind database,
// compiled custom filters), on the control plane: at start and on reload.
#pragma once

#include <memory>

#include "control/config.hpp"
#include "dataplane/tags.hpp"

namespace privateer {

// Null when the config has no tag provider and no custom filter. Throws
// ConfigError naming the key and its line for a file that cannot be read
// or is not valid.
std::shared_ptr<const TagTables> build_tag_tables(const Config& cfg);

}  // namespace privateer
