// Tag providers: prefix-to-AS (dataplane/pfx2as.hpp) against python3-pyasn
// and a naive longest-prefix match, MaxMind geolocation (dataplane/geo.hpp)
// against MaxMind's source data of its test databases (../shared/geo/*.json)
// and mmdblookup, both through the TagStage, and tagproviders through the
// binary (a run, --check-config, missing and corrupt files).
// The expected answers are written by tests/tagproviders_oracle.py.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "control/config.hpp"
#include "control/tagging.hpp"
#include "dataplane/geo.hpp"
#include "dataplane/pfx2as.hpp"
#include "dataplane/tags.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using namespace privateer;
using namespace privateer::test;

namespace {

const char* kPython = "/usr/bin/python3";   // Debian's, with python3-pyasn

std::string oracle(const std::string& args) {
  return std::string(kPython) + " " + quote(source_root() / "tests" / "tagproviders_oracle.py") + " " + args;
}

struct Addr {
  bool v6 = false;
  uint32_t v4 = 0;   // host order
  uint8_t b[16] = {};
};

Addr parse_addr(const std::string& s) {
  Addr a;
  if (inet_pton(AF_INET, s.c_str(), a.b) == 1) {
    a.v4 = ntohl(*reinterpret_cast<const uint32_t*>(a.b));
  } else {
    EXPECT_EQ(inet_pton(AF_INET6, s.c_str(), a.b), 1) << s;
    a.v6 = true;
  }
  return a;
}

// ADDRESS TAB FIELD... lines.
std::vector<std::vector<std::string>> read_rows(const fs::path& p) {
  std::vector<std::vector<std::string>> rows;
  std::ifstream in(p);
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> f;
    std::istringstream ls(line);
    for (std::string x; std::getline(ls, x, '\t');) f.push_back(x);
    rows.push_back(std::move(f));
  }
  return rows;
}

std::shared_ptr<const PrefixTable> load_table(const fs::path& file) {
  Config cfg;
  cfg.tagproviders.pfx2as = file.string();
  cfg.tagproviders.pfx2as_line = 1;
  auto t = build_tag_tables(cfg);
  return t ? t->pfx2as : nullptr;
}

// Counts mismatches of `table` with the rows (ADDRESS TAB ASN); prints the first few.
size_t mismatches(const PrefixTable& table, const std::vector<std::vector<std::string>>& rows) {
  size_t bad = 0;
  for (const auto& r : rows) {
    const Addr a = parse_addr(r[0]);
    const uint32_t got = a.v6 ? table.lookup_v6(a.b) : table.lookup_v4(a.v4);
    const uint32_t want = static_cast<uint32_t>(std::stoul(r[1]));
    if (got != want && ++bad <= 10) ADD_FAILURE() << r[0] << ": AS " << got << ", expected " << want;
  }
  return bad;
}

TEST(Pfx2as, AgreesWithPyasnOnAMillionAddresses) {
  PRIVATEER_REQUIRE_TOOL(std::string(kPython) + " -c 'import pyasn'", "python3-pyasn");
  TempDir d("privateer-pfx2as");
  ASSERT_EQ(run_command(oracle("pyasn " + quote(d.path) + " 1000000 100000")), 0);
  auto v4 = load_table(d.path / "v4.pfx2as.gz");   // gzip, as RouteViews publishes them
  ASSERT_TRUE(v4);
  EXPECT_GT(v4->v4_prefixes(), 500000u);
  EXPECT_EQ(v4->v6_prefixes(), 0u);
  const auto rows4 = read_rows(d.path / "v4.answers");
  ASSERT_EQ(rows4.size(), 1000000u);
  EXPECT_EQ(mismatches(*v4, rows4), 0u);

  auto v6 = load_table(d.path / "v6.pfx2as");
  ASSERT_TRUE(v6);
  EXPECT_GT(v6->v6_prefixes(), 20000u);
  const auto rows6 = read_rows(d.path / "v6.answers");
  ASSERT_EQ(rows6.size(), 100000u);
  EXPECT_EQ(mismatches(*v6, rows6), 0u);
}

TEST(Pfx2as, NestedMultiOriginAsSetsAndEdges) {
  TempDir d("privateer-pfx2as");
  ASSERT_EQ(run_command(oracle("small " + quote(d.path))), 0);
  auto t = load_table(d.path / "small.pfx2as");
  ASSERT_TRUE(t);
  const auto rows = read_rows(d.path / "small.answers");
  ASSERT_GT(rows.size(), 50u);
  EXPECT_EQ(mismatches(*t, rows), 0u);
}

TEST(Pfx2as, BadLinesNameTheLine) {
  const std::pair<const char*, const char*> cases[] = {
      {"10.0.0.0\t8\t1\n10.0.0.0\t33\t2\n", "line 2: prefix length must be 0..32"},
      {"10.0.0.0\t8\t1\n\n2001:db8::\t129\t2\n", "line 3: prefix length must be 0..128"},
      {"10.0.0.300\t8\t1\n", "line 1: not an IP address"},
      {"10.0.0.0\t8\n", "line 1: not ADDRESS<TAB>LENGTH<TAB>AS"},
      {"10.0.0.0\t8\t1\t2\n", "line 1: more than three fields"},
      {"10.0.0.0\t8\tAS1\n", "line 1: not an AS number"},
      {"10.0.0.0\t8\t1__2\n", "line 1: not an AS number"},
      {"10.0.0.0\t8\t4294967296\n", "line 1: not an AS number"},
      {"10.0.0.0\t8\t1.65536\n", "line 1: not an AS number"},
  };
  for (const auto& [text, why] : cases) {
    try {
      parse_pfx2as(text);
      ADD_FAILURE() << "parsed: " << text;
    } catch (const Pfx2asError& e) {
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
    }
  }
}

// The geolocation oracle's rows for one database's JSON, or skips.
std::vector<std::vector<std::string>> geo_rows(const TempDir& d, const fs::path& json) {
  EXPECT_EQ(run_command(oracle("geo " + quote(json) + " " + quote(d.path))), 0);
  return read_rows(d.path / "geo.answers");
}

std::string code(const char c[2]) { return c[0] ? std::string(c, 2) : "-"; }

TEST(Geo, AgreesWithMaxMindSourceData) {
  const auto shared = shared_dir();
  if (!shared || !fs::exists(*shared / "geo" / "GeoLite2-Country-Test.json")) GTEST_SKIP() << "../shared/geo absent";
  TempDir d("privateer-geo");
  const auto rows = geo_rows(d, *shared / "geo" / "GeoLite2-Country-Test.json");
  ASSERT_GT(rows.size(), 500u);
  GeoDatabase db((*shared / "geo" / "GeoLite2-Country-Test.mmdb").string());
  GeoCache cache;
  size_t v4 = 0, v6 = 0, known = 0, continent_only = 0;
  // The first two passes through libmaxminddb (the second answers from the
  // cache), the last two through the IPv4 index.
  for (int pass = 0; pass < 4; ++pass) {
    if (pass == 2) ASSERT_TRUE(db.index_ipv4());
    for (const auto& r : rows) {
      const Addr a = parse_addr(r[0]);
      const GeoAnswer direct = a.v6 ? db.lookup_v6(a.b) : db.lookup_v4(a.v4);
      const GeoAnswer cached = a.v6 ? cache.lookup_v6(db, a.b) : cache.lookup_v4(db, a.v4);
      EXPECT_EQ(code(direct.continent), r[1]) << r[0];
      EXPECT_EQ(code(direct.country), r[2]) << r[0];
      EXPECT_EQ(code(cached.continent), r[1]) << r[0];
      EXPECT_EQ(code(cached.country), r[2]) << r[0];
      if (pass == 0) {
        (a.v6 ? v6 : v4)++;
        known += r[2] != "-";
        continent_only += r[1] != "-" && r[2] == "-";
      }
    }
    if (pass % 2 == 1) cache.clear();
  }
  EXPECT_GT(v4, 20u);
  EXPECT_GT(v6, 400u);
  EXPECT_GT(known, 100u);
  EXPECT_GT(continent_only, 0u);   // records with a continent and no country: country "??"
  EXPECT_LE(cache.misses(), 4 * rows.size());
}

// The other Country and City test databases, against mmdblookup, at the
// Country JSON's addresses (known to some, unknown to others).
TEST(Geo, AgreesWithMmdblookup) {
  const auto shared = shared_dir();
  if (!shared || !fs::exists(*shared / "geo" / "GeoLite2-Country-Test.json")) GTEST_SKIP() << "../shared/geo absent";
  PRIVATEER_REQUIRE_TOOL("command -v mmdblookup", "mmdblookup (mmdb-bin)");
  TempDir d("privateer-geo");
  const auto rows = geo_rows(d, *shared / "geo" / "GeoLite2-Country-Test.json");
  for (const char* name : {"GeoIP2-Country-Test.mmdb", "GeoLite2-City-Test.mmdb"}) {
    const fs::path file = *shared / "geo" / name;
    GeoDatabase db(file.string());
    ASSERT_TRUE(db.index_ipv4()) << name;
    size_t checked = 0, known = 0;
    for (size_t i = 0; i < rows.size(); i += 3) {
      const Addr a = parse_addr(rows[i][0]);
      const GeoAnswer got = a.v6 ? db.lookup_v6(a.b) : db.lookup_v4(a.v4);
      std::string want[2];
      const char* paths[2] = {"continent code", "country iso_code"};
      for (int k = 0; k < 2; ++k) {
        std::string out;
        if (run_stdout("mmdblookup -f " + quote(file) + " -i " + rows[i][0] + " " + paths[k] + " 2>/dev/null", &out) == 0) {
          const size_t q = out.find('"');
          if (q != std::string::npos) want[k] = out.substr(q + 1, 2);
        }
        if (want[k].empty()) want[k] = "-";
      }
      EXPECT_EQ(code(got.continent), want[0]) << name << " " << rows[i][0];
      EXPECT_EQ(code(got.country), want[1]) << name << " " << rows[i][0];
      ++checked;
      known += want[1] != "-";
    }
    EXPECT_GT(checked, 100u) << name;
    EXPECT_GT(known, 10u) << name;
  }
}

// The IPv4 index answers as libmaxminddb's own lookup does, at the edges
// of every network of MaxMind's test databases (/8 to /31, so both levels
// of the table) and at random addresses, and on a generated database of
// 20,000 networks.
TEST(Geo, IndexAnswersAsLibmaxminddb) {
  const auto shared = shared_dir();
  if (!shared || !fs::exists(*shared / "geo" / "GeoLite2-Country-Test.json")) GTEST_SKIP() << "../shared/geo absent";
  TempDir d("privateer-geoindex");
  const fs::path synthetic = d.path / "synthetic.mmdb";
  ASSERT_EQ(run_command(std::string(kPython) + " " + quote(source_root() / "perf" / "gen_mmdb.py") + " " +
                        quote(synthetic) + " --networks 20000 --seed 7"),
            0);
  std::vector<uint32_t> edges;
  for (const auto& r : geo_rows(d, *shared / "geo" / "GeoLite2-Country-Test.json")) {
    const Addr a = parse_addr(r[0]);
    if (a.v6) continue;
    for (uint32_t len = 8; len <= 32; ++len) {   // the edges of every network holding the address
      const uint32_t mask = len == 32 ? ~0u : ~(~0u >> len);
      const uint32_t first = a.v4 & mask, last = first | ~mask;
      for (uint32_t e : {first - 1, first, first + 1, last - 1, last, last + 1}) edges.push_back(e);
    }
  }
  ASSERT_GT(edges.size(), 1000u);
  uint64_t x = 0x9E3779B97F4A7C15ull;
  for (int i = 0; i < 300000; ++i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    edges.push_back(static_cast<uint32_t>(x));
  }
  for (const fs::path& file : {*shared / "geo" / "GeoLite2-Country-Test.mmdb", *shared / "geo" / "GeoIP2-Country-Test.mmdb",
                               *shared / "geo" / "GeoLite2-City-Test.mmdb", synthetic}) {
    GeoDatabase db(file.string());
    ASSERT_TRUE(db.index_ipv4()) << file;
    EXPECT_GT(db.v4_networks(), 10u) << file;
    size_t known = 0;
    for (uint32_t a : edges) {
      const GeoAnswer got = db.lookup_v4(a), want = db.lookup_v4_tree(a);
      ASSERT_EQ(code(got.continent) + code(got.country), code(want.continent) + code(want.country))
          << file << " " << ((a >> 24) & 255) << "." << ((a >> 16) & 255) << "." << ((a >> 8) & 255) << "." << (a & 255);
      known += want.country[0] != 0;
    }
    EXPECT_GT(known, 100u) << file;
  }
}

TEST(Geo, RefusesWhatIsNotACountryOrCityDatabase) {
  const auto shared = shared_dir();
  if (!shared || !fs::exists(*shared / "geo" / "GeoLite2-ASN-Test.mmdb")) GTEST_SKIP() << "../shared/geo absent";
  try {
    GeoDatabase db((*shared / "geo" / "GeoLite2-ASN-Test.mmdb").string());
    ADD_FAILURE() << "the ASN database was taken";
  } catch (const GeoError& e) {
    EXPECT_NE(std::string(e.what()).find("'GeoLite2-ASN' database"), std::string::npos) << e.what();
  }
  try {
    GeoDatabase db((*shared / "geo" / "README.txt").string());
    ADD_FAILURE() << "a text file was taken";
  } catch (const GeoError& e) {
    EXPECT_NE(std::string(e.what()).find("MaxMind DB"), std::string::npos) << e.what();
  }
}

// The TagStage fills asn, continent and country of every packet's source
// address, as the tables answer; other packets keep them empty.
TEST(TagStage, TagsSourceAddresses) {
  const auto shared = shared_dir();
  if (!shared || !fs::exists(*shared / "geo" / "GeoLite2-Country-Test.json")) GTEST_SKIP() << "../shared/geo absent";
  TempDir d("privateer-tagstage");
  ASSERT_EQ(run_command(oracle("small " + quote(d.path))), 0);
  const auto geo = geo_rows(d, *shared / "geo" / "GeoLite2-Country-Test.json");
  const auto asn = read_rows(d.path / "small.answers");
  Config cfg;
  cfg.tagproviders.pfx2as = (d.path / "small.pfx2as").string();
  cfg.tagproviders.maxmind = (*shared / "geo").string();   // the directory: its City database is taken
  auto tables = build_tag_tables(cfg);
  ASSERT_TRUE(tables && tables->pfx2as && tables->geo);
  EXPECT_NE(tables->geo->type().find("City"), std::string::npos) << tables->geo->type();
  cfg.tagproviders.maxmind = (*shared / "geo" / "GeoLite2-Country-Test.mmdb").string();
  tables = build_tag_tables(cfg);
  ASSERT_TRUE(tables && tables->geo);
  TagTablesHandle handle(tables, 1);
  TagSettings settings;
  TagStage stage(settings, &handle, 0);

  std::vector<std::vector<std::string>> rows = asn;
  rows.insert(rows.end(), geo.begin(), geo.end());
  std::vector<PacketView> views(rows.size() + 1);
  std::vector<const uint8_t*> data(views.size(), nullptr);
  for (size_t i = 0; i < rows.size(); ++i) {
    const Addr a = parse_addr(rows[i][0]);
    views[i].ip_version = a.v6 ? 6 : 4;
    if (a.v6) std::memcpy(views[i].src.v6, a.b, 16);
    else views[i].src.v4 = a.v4;
  }
  views.back().ip_version = 0;   // not IP
  for (int pass = 0; pass < 2; ++pass) {
    ASSERT_EQ(stage.process(views.data(), data.data(), views.size()), views.size());
    for (size_t i = 0; i < rows.size(); ++i) {
      const PacketView& v = views[i];
      const Addr a = parse_addr(rows[i][0]);
      if (i < asn.size()) {
        EXPECT_EQ(v.asn, std::stoul(rows[i][1])) << rows[i][0];
      }
      const GeoAnswer g = a.v6 ? tables->geo->lookup_v6(a.b) : tables->geo->lookup_v4(a.v4);
      EXPECT_EQ(code(v.continent), code(g.continent)) << rows[i][0];
      EXPECT_EQ(code(v.country), code(g.country)) << rows[i][0];
      if (i >= asn.size()) {
        EXPECT_EQ(code(v.continent), rows[i][1]) << rows[i][0];
        EXPECT_EQ(code(v.country), rows[i][2]) << rows[i][0];
      }
    }
    EXPECT_EQ(views.back().asn, 0u);
    EXPECT_EQ(code(views.back().country), "-");
    handle.publish(build_tag_tables(cfg));   // a new generation: the cache starts again
  }
}

// ---- through the binary ----------------------------------------------------

struct TagRun {
  TempDir dir{"privateer-tagrun"};
  fs::path config(const std::string& tagproviders) const {
    const fs::path p = dir.path / "c.yaml";
    std::ofstream(p) << "packetsource: " << (source_root() / "configs" / "quickstart" / "telescope.pcap").string()
                     << "\nouttemplate: " << (dir.path / "out" / "%P-%s").string()
                     << "\nmonitorid: m\nplugins: [flowtuple]\nprometheus: {enabled: no}\n"
                     << tagproviders;
    return p;
  }
  int run(const fs::path& cfg, const std::string& args, std::string* out) const {
    return run_command(quote(privateer_bin()) + " -c " + quote(cfg) + " " + args, out);
  }
};

TEST(TagProvidersConfig, RunsWithBothProviders) {
  const auto shared = shared_dir();
  if (!shared || !fs::exists(*shared / "geo" / "GeoLite2-Country-Test.mmdb")) GTEST_SKIP() << "../shared/geo absent";
  TagRun r;
  ASSERT_EQ(run_command(oracle("small " + quote(r.dir.path))), 0);
  ASSERT_EQ(run_command("gzip -k " + quote(r.dir.path / "small.pfx2as")), 0);
  const fs::path cfg = r.config("tagproviders:\n  - pfx2as:\n      prefixfile: " + (r.dir.path / "small.pfx2as.gz").string() +
                                "\n  - maxmind: {directory: " + (*shared / "geo" / "GeoLite2-Country-Test.mmdb").string() + "}\n");
  std::string out;
  EXPECT_EQ(r.run(cfg, "--check-config", &out), 0) << out;
  EXPECT_EQ(r.run(cfg, "", &out), 0) << out;
  EXPECT_NE(out.find("pfx2as: " + (r.dir.path / "small.pfx2as.gz").string() + ": 14 IPv4 and 7 IPv6 prefixes"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("(GeoLite2-Country, built"), std::string::npos) << out;
}

TEST(TagProvidersConfig, MissingAndCorruptFilesNameTheKey) {
  TagRun r;
  std::ofstream(r.dir.path / "bad.pfx2as") << "10.0.0.0\t8\t1\n10.1.0.0\t16\t2\n10.2.0.0/16\t3\n";
  std::ofstream(r.dir.path / "notmmdb.mmdb") << "not a MaxMind database\n";
  fs::create_directories(r.dir.path / "empty");
  struct Case {
    std::string providers;
    std::string want;
  } cases[] = {
      {"tagproviders:\n  - pfx2as: {prefixfile: " + (r.dir.path / "absent.gz").string() + "}\n",
       "config key 'tagproviders.pfx2as.prefixfile' (line 7): " + (r.dir.path / "absent.gz").string() +
           ": No such file or directory"},
      {"tagproviders:\n  - pfx2as:\n      prefixfile: " + (r.dir.path / "bad.pfx2as").string() + "\n",
       "config key 'tagproviders.pfx2as.prefixfile' (line 8): " + (r.dir.path / "bad.pfx2as").string() +
           ": not a pfx2as file: line 3: not ADDRESS<TAB>LENGTH<TAB>AS"},
      {"tagproviders:\n  - maxmind: {directory: " + (r.dir.path / "notmmdb.mmdb").string() + "}\n",
       "config key 'tagproviders.maxmind.directory' (line 7): " + (r.dir.path / "notmmdb.mmdb").string() + ": "},
      {"tagproviders:\n  - maxmind: {directory: " + (r.dir.path / "empty").string() + "}\n",
       "config key 'tagproviders.maxmind.directory' (line 7): " + (r.dir.path / "empty").string() +
           ": holds no GeoIP2 or GeoLite2 Country or City .mmdb file"},
  };
  for (const auto& c : cases) {
    const fs::path cfg = r.config(c.providers);
    for (const char* args : {"--check-config", ""}) {
      std::string out;
      EXPECT_NE(r.run(cfg, args, &out), 0) << c.providers << out;
      EXPECT_NE(out.find(c.want), std::string::npos) << args << "\n" << out;
    }
  }
}

TEST(TagProvidersConfig, ShapeErrors) {
  const std::string kMin = "packetsource: a.pcap\nouttemplate: o-%P-%s\nplugins: [flowtuple]\n";
  const std::tuple<std::string, std::string, int, std::string> cases[] = {
      {"tagproviders:\n  - netacq-edge:\n      blocksfile: b\n", "tagproviders.netacq-edge", 5, "is not built"},
      {"tagproviders:\n  - pfx2asn: {prefixfile: f}\n", "tagproviders.pfx2asn", 5, "did you mean 'pfx2as'"},
      {"tagproviders:\n  - pfx2as: {prefixfle: f}\n", "tagproviders.pfx2as.prefixfle", 5, "did you mean 'prefixfile'"},
      {"tagproviders:\n  - pfx2as: {}\n", "tagproviders.pfx2as.prefixfile", 5, "is required"},
      {"tagproviders:\n  - pfx2as: {prefixfile: a}\n  - pfx2as: {prefixfile: b}\n", "tagproviders.pfx2as", 6, "appears twice"},
      {"tagproviders:\n  - maxmind:\n      blocksfile: b\n      locationsfile: l\n", "tagproviders.maxmind.blocksfile", 6,
       "CSV files"},
      {"tagproviders: {pfx2as: {prefixfile: f}}\n", "tagproviders", 4, "must be a list"},
      {"tagproviders:\n  - pfx2as: f\n", "tagproviders.pfx2as", 5, "must be a map"},
  };
  for (const auto& [text, key, line, why] : cases) {
    try {
      parse_config(kMin + text);
      ADD_FAILURE() << "accepted: " << text;
    } catch (const ConfigError& e) {
      EXPECT_EQ(e.key(), key) << text;
      EXPECT_EQ(e.line(), line) << text;
      EXPECT_NE(e.message().find(why), std::string::npos) << e.what();
    }
  }
  const Config cfg = parse_config(kMin + "tagproviders:\n  - pfx2as:\n      prefixfile: /p.gz\n  - maxmind:\n      directory: /geo\n");
  EXPECT_EQ(cfg.tagproviders.pfx2as, "/p.gz");
  EXPECT_EQ(cfg.tagproviders.pfx2as_line, 6);
  EXPECT_EQ(cfg.tagproviders.maxmind, "/geo");
  EXPECT_EQ(cfg.tagproviders.maxmind_line, 8);
}

}  // namespace
