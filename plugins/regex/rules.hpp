// The regex plugin's rules file and its Hyperscan database.
// One rule a line:  ID [tcp|udp|any] [port=N[,N..]] /PATTERN/FLAGS [alarm]
// FLAGS: i (caseless), s (dot matches newline), m (multi-line ^ and $),
// x (extended: whitespace and #-comments are stripped from the pattern here,
// Hyperscan has no such flag). `#` starts a comment line; blank lines are
// ignored. IDs are [A-Za-z0-9_.-]+ and unique. port= holds when the source or
// the destination port is one of the list. Every error reads FILE:LINE: why.
#pragma once

#include <hs/hs.h>

#include "plugins/common/line_file.hpp"

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace privateer {

struct RegexRule {
  std::string id;
  uint8_t proto = 0;             // 0: any, 6: tcp, 17: udp
  std::vector<uint16_t> ports;   // empty: any port
  std::string pattern;           // as given between the slashes
  bool caseless = false, dotall = false, multiline = false, extended = false;
  bool alarm = false;            // a match raises the flow's alarm "match"
  int line = 0;                  // 1-based line in the file

  // The pattern Hyperscan compiles (x: whitespace and comments stripped).
  std::string compiled_pattern() const;
  // The rule's flags, plus HS_FLAG_SINGLEMATCH in block mode (one report a
  // packet is all the counter needs); a stream reports every match end.
  unsigned hs_flags(bool stream = false) const;
  bool wants(uint8_t packet_proto, uint16_t sport, uint16_t dport) const {
    if (proto != 0 && proto != packet_proto) return false;
    if (ports.empty()) return true;
    for (uint16_t p : ports) {
      if (p == sport || p == dport) return true;
    }
    return false;
  }
};

// what() reads FILE:LINE: MESSAGE.
using RuleError = LineFileError;

// Whitespace and #-comments (to the end of the line) taken out of an
// extended pattern; a backslash keeps the character after it, and nothing
// is stripped inside a [...] class.
std::string strip_extended(const std::string& pattern);

// Parses the text of a rules file named `file` (for the messages).
std::vector<RegexRule> parse_rules(const std::string& text, const std::string& file);

// Reads and parses a rules file; throws RuleError (line 0 when unreadable,
// not a regular file or over kMaxLineFileBytes).
std::vector<RegexRule> read_rules_file(const std::string& file);

// The rules compiled into one database (block or stream mode): expression i
// is rules[i].
struct RegexDatabase {
  std::vector<RegexRule> rules;
  hs_database_t* db = nullptr;
  bool stream = false;
  RegexDatabase() = default;
  RegexDatabase(const RegexDatabase&) = delete;
  RegexDatabase& operator=(const RegexDatabase&) = delete;
  ~RegexDatabase() { hs_free_database(db); }
};

// Compiles `rules` (at least one). A pattern Hyperscan refuses throws
// RuleError naming the rule's line and Hyperscan's message.
std::shared_ptr<const RegexDatabase> compile_rules(std::vector<RegexRule> rules, const std::string& file,
                                                   bool stream = false);

}  // namespace privateer
