#include "plugins/regex/rules.hpp"

#include <cctype>
#include <set>

namespace privateer {
namespace {

bool id_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
}

bool space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

std::vector<uint16_t> parse_ports(const std::string& list, const std::string& file, int line) {
  std::vector<uint16_t> ports;
  size_t p = 0;
  for (;;) {
    const size_t comma = list.find(',', p);
    const std::string n = list.substr(p, comma == std::string::npos ? std::string::npos : comma - p);
    if (n.empty() || n.size() > 5 || n.find_first_not_of("0123456789") != std::string::npos ||
        std::stoul(n) > 65535) {
      throw RuleError(file, line, "bad port '" + n + "' in port= (a list of numbers 0..65535, comma separated)");
    }
    ports.push_back(static_cast<uint16_t>(std::stoul(n)));
    if (comma == std::string::npos) return ports;
    p = comma + 1;
  }
}

RegexRule parse_line(const std::string& s, const std::string& file, int line) {
  RegexRule r;
  r.line = line;
  size_t p = 0;
  auto skip = [&] {
    while (p < s.size() && space(s[p])) ++p;
  };
  auto word = [&] {
    const size_t b = p;
    while (p < s.size() && !space(s[p])) ++p;
    return s.substr(b, p - b);
  };
  skip();
  r.id = word();
  for (char c : r.id) {
    if (!id_char(c)) throw RuleError(file, line, "bad rule id '" + r.id + "' (letters, digits, _ . - only)");
  }
  skip();
  if (p >= s.size()) throw RuleError(file, line, "rule '" + r.id + "' has no /PATTERN/");
  bool seen_proto = false, seen_port = false;
  while (p < s.size() && s[p] != '/') {
    const std::string w = word();
    if (!seen_proto && !seen_port && (w == "tcp" || w == "udp" || w == "any")) {
      r.proto = w == "tcp" ? 6 : w == "udp" ? 17 : 0;
      seen_proto = true;
    } else if (!seen_port && w.rfind("port=", 0) == 0) {
      r.ports = parse_ports(w.substr(5), file, line);
      seen_port = true;
    } else {
      throw RuleError(file, line, "unexpected '" + w + "' (want [tcp|udp|any] [port=N[,N..]] /PATTERN/FLAGS [alarm])");
    }
    skip();
  }
  if (p >= s.size()) throw RuleError(file, line, "rule '" + r.id + "' has no /PATTERN/");
  // The pattern runs to the last slash of the line; what follows is FLAGS
  // and an optional `alarm`.
  const size_t close = s.rfind('/');
  if (close == p) throw RuleError(file, line, "pattern of rule '" + r.id + "' has no closing /");
  r.pattern = s.substr(p + 1, close - p - 1);
  if (r.pattern.empty()) throw RuleError(file, line, "empty pattern in rule '" + r.id + "'");
  p = close + 1;
  while (p < s.size() && !space(s[p])) {
    const char f = s[p++];
    bool* flag = f == 'i' ? &r.caseless : f == 's' ? &r.dotall : f == 'm' ? &r.multiline : f == 'x' ? &r.extended : nullptr;
    if (!flag) throw RuleError(file, line, std::string("unknown flag '") + f + "' (flags: i s m x)");
    if (*flag) throw RuleError(file, line, std::string("flag '") + f + "' given twice");
    *flag = true;
  }
  skip();
  if (p < s.size()) {
    const std::string w = word();
    if (w != "alarm") throw RuleError(file, line, "unexpected '" + w + "' after the pattern (only 'alarm' may follow)");
    r.alarm = true;
    skip();
    if (p < s.size()) throw RuleError(file, line, "unexpected '" + word() + "' after 'alarm'");
  }
  if (r.extended && r.compiled_pattern().empty()) {
    throw RuleError(file, line, "pattern of rule '" + r.id + "' is empty once extended whitespace and comments are stripped");
  }
  return r;
}

}  // namespace

std::string strip_extended(const std::string& pattern) {
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      out += c;
      out += pattern[++i];
    } else if (in_class) {
      if (c == ']') in_class = false;
      out += c;
    } else if (c == '[') {
      in_class = true;
      out += c;
      // A ']' right after '[' or '[^' is a member, not the end.
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') out += pattern[++i];
      if (i + 1 < pattern.size() && pattern[i + 1] == ']') out += pattern[++i];
    } else if (c == '#') {
      while (i + 1 < pattern.size() && pattern[i + 1] != '\n') ++i;
    } else if (!std::isspace(static_cast<unsigned char>(c))) {
      out += c;
    }
  }
  return out;
}

std::string RegexRule::compiled_pattern() const { return extended ? strip_extended(pattern) : pattern; }

unsigned RegexRule::hs_flags(bool stream) const {
  unsigned f = stream ? 0 : HS_FLAG_SINGLEMATCH;
  if (caseless) f |= HS_FLAG_CASELESS;
  if (dotall) f |= HS_FLAG_DOTALL;
  if (multiline) f |= HS_FLAG_MULTILINE;
  return f;
}

std::vector<RegexRule> parse_rules(const std::string& text, const std::string& file) {
  std::vector<RegexRule> rules;
  std::set<std::string> ids;
  const int lines = for_each_line(text, file, [&](int line, const std::string& s) {
    RegexRule r = parse_line(s, file, line);
    if (!ids.insert(r.id).second) throw RuleError(file, line, "duplicate rule id '" + r.id + "'");
    rules.push_back(std::move(r));
  });
  if (rules.empty()) throw RuleError(file, lines, "no rules in the file");
  return rules;
}

std::vector<RegexRule> read_rules_file(const std::string& file) { return parse_rules(read_line_file(file, "the rules file"), file); }

std::shared_ptr<const RegexDatabase> compile_rules(std::vector<RegexRule> rules, const std::string& file,
                                                   bool stream) {
  if (rules.empty()) throw RuleError(file, 0, "no rules");
  std::vector<std::string> patterns;
  std::vector<const char*> exprs;
  std::vector<unsigned> flags, ids;
  for (size_t i = 0; i < rules.size(); ++i) {
    patterns.push_back(rules[i].compiled_pattern());
    flags.push_back(rules[i].hs_flags(stream));
    ids.push_back(static_cast<unsigned>(i));
  }
  for (const auto& p : patterns) exprs.push_back(p.c_str());
  auto out = std::make_shared<RegexDatabase>();
  hs_compile_error_t* err = nullptr;
  if (hs_compile_multi(exprs.data(), flags.data(), ids.data(), static_cast<unsigned>(exprs.size()),
                       stream ? HS_MODE_STREAM : HS_MODE_BLOCK,
                       nullptr, &out->db, &err) != HS_SUCCESS) {
    const std::string msg = err && err->message ? err->message : "compile failed";
    const int e = err ? err->expression : -1;
    hs_free_compile_error(err);
    if (e >= 0 && static_cast<size_t>(e) < rules.size()) {
      throw RuleError(file, rules[e].line, "rule '" + rules[e].id + "': Hyperscan refuses /" + rules[e].pattern + "/: " + msg);
    }
    throw RuleError(file, rules.front().line, "Hyperscan refuses the rules: " + msg);
  }
  out->rules = std::move(rules);
  out->stream = stream;
  return out;
}

}  // namespace privateer
