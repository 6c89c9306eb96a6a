// libFuzzer harness for the regex plugin's rules file parser
// (plugins/regex/rules.cpp): parse_rules on any text. RuleError is the
// expected failure and must read "r.txt:LINE: ..."; a parsed rule must have
// an ID, a line within the text, a non-empty pattern and no duplicate ID.
// Hyperscan's compiler is not run here (its compile time on hostile patterns
// is Hyperscan's business; compile errors are covered by tests/test_regex.cpp).
// Built and run by scripts/fuzz.sh regex_rules.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>

#include "plugins/regex/rules.hpp"

using namespace privateer;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  size_t lines = 1;
  for (char c : text) lines += c == '\n';
  try {
    const auto rules = parse_rules(text, "r.txt");
    std::set<std::string> ids;
    for (const RegexRule& r : rules) {
      if (r.id.empty() || r.pattern.empty() || r.line < 1 || size_t(r.line) > lines) std::abort();
      if (!ids.insert(r.id).second) std::abort();
      if (r.extended && r.compiled_pattern().empty()) std::abort();
      (void)r.hs_flags();
    }
  } catch (const RuleError& e) {
    if (std::string(e.what()).rfind("r.txt:", 0) != 0) std::abort();
  }
  return 0;
}
