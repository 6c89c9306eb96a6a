// Builds the tag tables a config asks for (prefix-to-AS, MaxMind database,
// compiled custom filters), on the control plane: at start and on reload.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "control/config.hpp"
#include "dataplane/tags.hpp"

namespace privateer {

// Null when the config has no tag provider and no custom filter. Throws
// ConfigError naming the key and its line for a file that cannot be read
// or is not valid (tagproviders.pfx2as.prefixfile: the file's bad line too).
// A pure function of the config and the files it names: a reload calls it
// again and publishes the result.
std::shared_ptr<const TagTables> build_tag_tables(const Config& cfg);

// One line per table, for the log: what was loaded from where.
std::vector<std::string> describe_tag_tables(const Config& cfg, const TagTables& tables);

}  // namespace privateer
