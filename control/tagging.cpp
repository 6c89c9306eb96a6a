#include "control/tagging.hpp"

#include <dirent.h>
#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <future>
#include <stdexcept>

#include "control/log.hpp"
#include "dataplane/bpf.hpp"
#include "dataplane/geo.hpp"
#include "dataplane/pfx2as.hpp"

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

constexpr const char* kPfx2asKey = "tagproviders.pfx2as.prefixfile";
constexpr const char* kMaxmindKey = "tagproviders.maxmind.directory";

// The whole file, gunzipped when it is gzip (zlib reads other files as they are).
std::string read_maybe_gzip(const std::string& path, int line) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw ConfigError(kPfx2asKey, line, path + ": " + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) throw ConfigError(kPfx2asKey, line, path + ": is a directory, not a pfx2as file");
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw ConfigError(kPfx2asKey, line, path + ": cannot open: " + std::strerror(errno ? errno : ENOMEM));
  gzbuffer(f, 1 << 20);
  std::string text;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
  int err = Z_OK;
  const std::string why = n < 0 ? gzerror(f, &err) : "";
  gzclose(f);
  if (n < 0) {
    throw ConfigError(kPfx2asKey, line,
                      path + ": cannot read: " + (err == Z_ERRNO ? std::string(std::strerror(errno)) : "gzip data: " + why));
  }
  return text;
}

std::shared_ptr<const PrefixTable> load_pfx2as(const std::string& path, int line) {
  const std::string text = read_maybe_gzip(path, line);
  std::vector<Pfx2asPrefix> prefixes;
  try {
    prefixes = parse_pfx2as(text);
  } catch (const Pfx2asError& e) {
    throw ConfigError(kPfx2asKey, line, path + ": not a pfx2as file: " + e.what());
  }
  if (prefixes.empty()) throw ConfigError(kPfx2asKey, line, path + ": holds no prefix");
  return std::make_shared<const PrefixTable>(prefixes);
}

bool ends_with(const std::string& s, const char* suffix) {
  const size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

// The database of a directory: a City one (as corsaro3, whose libipmeta read
// MaxMind's GeoLiteCity files) before a Country one, by file name within each.
std::shared_ptr<GeoDatabase> load_maxmind_dir(const std::string& dir, int line) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) throw ConfigError(kMaxmindKey, line, dir + ": " + std::strerror(errno));
  std::vector<std::string> names;
  while (const dirent* e = ::readdir(d)) {
    if (ends_with(e->d_name, ".mmdb")) names.emplace_back(e->d_name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  std::shared_ptr<GeoDatabase> city, country;
  std::string tried;
  for (const auto& name : names) {
    const std::string path = dir + (ends_with(dir, "/") ? "" : "/") + name;
    try {
      auto db = std::make_shared<GeoDatabase>(path);
      auto& slot = db->type().find("City") != std::string::npos ? city : country;
      if (!slot) slot = std::move(db);
    } catch (const GeoError& e) {
      tried += "; " + name + ": " + e.what();
    }
  }
  if (city) return city;
  if (country) return country;
  throw ConfigError(kMaxmindKey, line,
                    dir + ": holds no GeoIP2 or GeoLite2 Country or City .mmdb file" + tried);
}

std::shared_ptr<GeoDatabase> open_maxmind(const std::string& path, int line) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw ConfigError(kMaxmindKey, line, path + ": " + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) return load_maxmind_dir(path, line);
  try {
    return std::make_shared<GeoDatabase>(path);
  } catch (const GeoError& e) {
    throw ConfigError(kMaxmindKey, line, path + ": " + e.what());
  }
}

// The database with its IPv4 index built (dataplane/geo.hpp).
std::shared_ptr<const GeoDatabase> load_maxmind(const std::string& path, int line) {
  auto db = open_maxmind(path, line);
  if (!db->index_ipv4()) {
    log_warning("config key '" + std::string(kMaxmindKey) + "' (line " + std::to_string(line) + "): " + db->path() +
                ": its IPv4 search tree reaches a node twice; IPv4 lookups go through libmaxminddb (slower)");
  }
  return db;
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
  // The two providers' tables are built side by side (each takes a few
  // hundred ms on a full-size file); an error of either is thrown here.
  std::future<std::shared_ptr<const GeoDatabase>> geo;
  if (!cfg.tagproviders.maxmind.empty()) {
    geo = std::async(std::launch::async, load_maxmind, cfg.tagproviders.maxmind, cfg.tagproviders.maxmind_line);
  }
  if (!cfg.tagproviders.pfx2as.empty()) t->pfx2as = load_pfx2as(cfg.tagproviders.pfx2as, cfg.tagproviders.pfx2as_line);
  if (geo.valid()) t->geo = geo.get();
  return t;
}

std::vector<std::string> describe_tag_tables(const Config& cfg, const TagTables& t) {
  std::vector<std::string> out;
  if (t.pfx2as) {
    out.push_back("pfx2as: " + cfg.tagproviders.pfx2as + ": " + std::to_string(t.pfx2as->v4_prefixes()) + " IPv4 and " +
                  std::to_string(t.pfx2as->v6_prefixes()) + " IPv6 prefixes");
  }
  if (t.geo) {
    out.push_back("maxmind: " + t.geo->path() + " (" + t.geo->type() + ", built " +
                  std::to_string(t.geo->build_epoch()) + "): " +
                  (t.geo->indexed_v4() ? std::to_string(t.geo->v4_networks()) + " IPv4 networks indexed"
                                       : std::string("IPv4 not indexed")));
  }
  return out;
}

}  // namespace privateer
