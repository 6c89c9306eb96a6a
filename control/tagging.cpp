#include "control/tagging.hpp"

#include <sstream>
#include <stdexcept>

#include "control/log.hpp"
#include "dataplane/bpf.hpp"

namespace privateer {

namespace {

// One BPF expression compiled for every link type; `key` and `line` name it
// in the error (libpcap's message) and in the warning for the link types it
// does not compile for.
std::shared_ptr<const BpfProgram> compile_filter(const std::string& name, const std::string& expression,
                                                 const std::string& key, int line) {
  std::shared_ptr<const BpfProgram> prog;
  try {
    prog = std::make_shared<const BpfProgram>(name, expression);
  } catch (const std::invalid_argument& e) {
    throw ConfigError(key, line, "BPF expression '" + expression + "' does not compile: " + e.what());
  }
  if (!prog->unsupported().empty()) {
    std::string list;
    for (const auto& u : prog->unsupported()) list += (list.empty() ? "" : "; ") + u;
    log_warning("config key '" + key + "' (line " + std::to_string(line) +
                "): matches no packet of these link types, for which it does not compile: " + list);
  }
  return prog;
}

}  // namespace

std::shared_ptr<const TagTables> build_tag_tables(const Config& cfg) {
  if (cfg.tagproviders.pfx2as.empty() && cfg.tagproviders.maxmind.empty() && cfg.filters.empty() &&
      cfg.input_filter.key.empty()) {
    return nullptr;
  }
  auto t = std::make_shared<TagTables>();
  for (const auto& f : cfg.filters) t->custom.push_back(compile_filter(f.name, f.expression, "filters." + f.name, f.line));
  if (!cfg.input_filter.key.empty()) {
    const auto& in = cfg.input_filter;
    t->input = compile_filter(in.key, in.expression, in.key, in.line);
  }
  return t;
}

std::string filter_summary_lines(const Config& cfg, const Runtime& rt) {
  std::ostringstream out;
  auto total = [&](auto member) {
    uint64_t n = 0;
    for (unsigned w = 0; w < rt.workers(); ++w) {
      if (const TagCounters* c = rt.tag_counters(w)) n += member(*c).load(std::memory_order_relaxed);
    }
    return n;
  };
  if (!cfg.input_filter.key.empty()) {
    out << "  input filter (" << cfg.input_filter.key << ": \"" << cfg.input_filter.expression << "\"): "
        << total([](const TagCounters& c) -> const std::atomic<uint64_t>& { return c.input_filtered; })
        << " packets dropped\n";
  }
  for (size_t i = 0; i < cfg.filters.size(); ++i) {
    out << "  custom filter " << cfg.filters[i].name << ": "
        << total([i](const TagCounters& c) -> const std::atomic<uint64_t>& { return c.custom[i]; }) << " packets matched"
        << ((cfg.tags.remove_custom >> i) & 1 ? " (removed)" : "") << "\n";
  }
  return out.str();
}

}  // namespace privateer
