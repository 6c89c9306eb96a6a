#include "control/tagging.hpp"

namespace privateer {

std::shared_ptr<const TagTables> build_tag_tables(const Config& cfg) {
  if (cfg.tagproviders.pfx2as.empty() && cfg.tagproviders.maxmind.empty() && cfg.filters.empty()) return nullptr;
  auto t = std::make_shared<TagTables>();
  return t;
}

}  // namespace privateer
