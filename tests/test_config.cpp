// The config loader and output naming: every error names its key and line;
// valid Privateer and corsarotrace-style configs parse; expand_template agrees
// with strftime on UTC time.
#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

#include "control/config.hpp"
#include "control/naming.hpp"

namespace privateer {
namespace {

// 1-based line of the first line of `text` containing `needle`.
int line_of(const std::string& text, const std::string& needle) {
  const size_t pos = text.find(needle);
  EXPECT_NE(pos, std::string::npos) << needle;
  int line = 1;
  for (size_t i = 0; i < pos; ++i) line += text[i] == '\n';
  return line;
}

// Parses `text`, expects a ConfigError for `key` at `line` whose what()
// names both, and returns what().
std::string expect_error(const std::string& text, const std::string& key, int line) {
  try {
    parse_config(text);
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_EQ(e.key(), key) << what;
    EXPECT_EQ(e.line(), line) << what;
    EXPECT_NE(what.find("'" + key + "'"), std::string::npos) << what;
    if (line > 0) {
      EXPECT_NE(what.find("(line " + std::to_string(line) + ")"), std::string::npos) << what;
    }
    return what;
  }
  ADD_FAILURE() << "no ConfigError for:\n" << text;
  return {};
}

const std::string kBase =
    "packetsource: pcapfile:quickstart/telescope.pcap\n"
    "outtemplate: /tmp/out/%N-%P-%s.avro\n"
    "monitorid: test\n"
    "plugins:\n"
    "  - flowtuple\n";

std::string with(const std::string& extra) { return kBase + extra; }

TEST(Config, MinimalHasDefaults) {
  const Config c = parse_config(kBase);
  ASSERT_EQ(c.packetsources.size(), 1u);
  EXPECT_EQ(c.packetsources[0], "pcapfile:quickstart/telescope.pcap");
  EXPECT_EQ(c.outtemplate, "/tmp/out/%N-%P-%s.avro");
  EXPECT_EQ(c.monitorid, "test");
  EXPECT_EQ(c.logfilename, "");
  EXPECT_EQ(c.interval, 60u);
  EXPECT_EQ(c.rotatefreq, 4u);
  EXPECT_EQ(c.threads, 1u);
  EXPECT_EQ(c.startboundaryts, 0u);
  EXPECT_EQ(c.endboundaryts, 0u);
  EXPECT_TRUE(c.prometheus.enabled);
  EXPECT_EQ(c.prometheus.listen, "127.0.0.1:9761");
  EXPECT_EQ(c.output.codec.codec, AvroCodec::deflate);
  EXPECT_EQ(c.output.codec.deflate_level, 1);
  EXPECT_EQ(c.output.codec.zstd_level, 3);
  EXPECT_EQ(c.output.block_size, 64u * 1024);
  EXPECT_EQ(c.output.threads, 0u);
  EXPECT_EQ(c.progress, ProgressMode::auto_detect);
  EXPECT_EQ(c.ring_size, 16u);
  EXPECT_EQ(c.max_gap_intervals, 1440u);
  EXPECT_EQ(c.log_level, LogLevel::info);
  ASSERT_EQ(c.plugins.size(), 1u);
  EXPECT_EQ(c.plugins[0].name, "flowtuple");
  EXPECT_EQ(c.plugins[0].path, "plugins.flowtuple");
  EXPECT_EQ(c.plugins[0].line, 5);
  EXPECT_TRUE(c.plugins[0].options.IsMap());
  EXPECT_EQ(c.plugins[0].options.size(), 0u);
  EXPECT_TRUE(c.warnings.empty());
  EXPECT_EQ(c.source_path, "");
}

// `avro_codec: null` unquoted is YAML's null, and means the null codec, as
// the quoted "null" does; `zstd` is accepted for zstandard.
TEST(Config, AvroCodecNames) {
  for (const char* v : {"null", "\"null\"", "~", "Null"}) {
    SCOPED_TRACE(v);
    EXPECT_EQ(parse_config(with(std::string("output:\n  avro_codec: ") + v + "\n")).output.codec.codec, AvroCodec::null);
  }
  EXPECT_EQ(parse_config(with("output:\n  avro_codec: zstd\n")).output.codec.codec, AvroCodec::zstandard);
  EXPECT_EQ(parse_config(with("output:\n  avro_codec: zstandard\n")).output.codec.codec, AvroCodec::zstandard);
  EXPECT_EQ(parse_config(with("output:\n  avro_codec: DEFLATE\n")).output.codec.codec, AvroCodec::deflate);
}

TEST(Config, FullValidConfig) {
  const std::string text =
      "packetsource:\n"
      "  - pcapfile:/data/a.pcap.gz\n"
      "  - pcapfile:/data/b.pcap.gz\n"
      "outtemplate: \"/data/out/%Y/%m/%d/%N.%P.%s.avro\"\n"
      "monitorid: telescope-1\n"
      "logfilename: /var/log/privateer.log\n"
      "interval: 300\n"
      "rotatefreq: 12\n"
      "threads: 8\n"
      "startboundaryts: 1700000000\n"
      "endboundaryts: 1700086400\n"
      "removespoofed: no\n"
      "removeerratic: no\n"
      "removerouted: false\n"
      "removenotscan: disabled\n"
      "prometheus:\n"
      "  enabled: no\n"
      "  listen: \"[::1]:9100\"\n"
      "output:\n"
      "  avro_codec: snappy\n"
      "  avro_block_size: 32768\n"
      "  deflate_level: 3\n"
      "  zstd_level: 19\n"
      "  threads: 3\n"
      "progress: no\n"
      "ring_size: 64\n"
      "max_gap_intervals: 10\n"
      "log:\n"
      "  level: debug\n"
      "plugins:\n"
      "  - flowtuple:\n"
      "      sorttuples: yes\n";
  const Config c = parse_config(text);
  ASSERT_EQ(c.packetsources.size(), 2u);
  EXPECT_EQ(c.packetsources[1], "pcapfile:/data/b.pcap.gz");
  EXPECT_EQ(c.outtemplate, "/data/out/%Y/%m/%d/%N.%P.%s.avro");
  EXPECT_EQ(c.monitorid, "telescope-1");
  EXPECT_EQ(c.logfilename, "/var/log/privateer.log");
  EXPECT_EQ(c.interval, 300u);
  EXPECT_EQ(c.rotatefreq, 12u);
  EXPECT_EQ(c.threads, 8u);
  EXPECT_EQ(c.startboundaryts, 1700000000u);
  EXPECT_EQ(c.endboundaryts, 1700086400u);
  EXPECT_FALSE(c.prometheus.enabled);
  EXPECT_EQ(c.prometheus.listen, "[::1]:9100");
  EXPECT_EQ(c.output.codec.codec, AvroCodec::snappy);
  EXPECT_EQ(c.output.block_size, 32768u);
  EXPECT_EQ(c.output.codec.deflate_level, 3);
  EXPECT_EQ(c.output.codec.zstd_level, 19);
  EXPECT_EQ(c.output.threads, 3u);
  EXPECT_EQ(c.progress, ProgressMode::no);
  EXPECT_EQ(c.ring_size, 64u);
  EXPECT_EQ(c.max_gap_intervals, 10u);
  EXPECT_EQ(c.log_level, LogLevel::debug);
  ASSERT_EQ(c.plugins.size(), 1u);
  EXPECT_EQ(c.plugins[0].name, "flowtuple");
  EXPECT_EQ(c.plugins[0].line, line_of(text, "- flowtuple"));
  ASSERT_TRUE(c.plugins[0].options.IsMap());
  EXPECT_TRUE(c.plugins[0].options["sorttuples"].as<bool>());
  // The one warning: a codec corsaro3's readers cannot read.
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_NE(c.warnings[0].find("'output.avro_codec' (line " + std::to_string(line_of(text, "avro_codec")) +
                               ") is snappy: corsaro3 readers (pyavro-stardust) read only deflate files"),
            std::string::npos)
      << c.warnings[0];
}

// Written the way corsaro3's corsarotrace documentation describes a config,
// including keys that do not apply here.
TEST(Config, CorsarotraceStyleConfigParses) {
  const std::string text =
      "# corsarotrace configuration\n"
      "outtemplate: \"/flowtuple/tmp/telescope-%s-%N.%P\"\n"
      "logfilename: \"/flowtuple/corsarotrace.log\"\n"
      "statfilename: \"/tmp/mystats\"\n"
      "packetsource: pcapfile:/traces/telescope.pcap.gz\n"
      "controlsocketname: ipc:///tmp/corsarotagger-control\n"
      "monitorid: ucsd-nt\n"
      "interval: 60\n"
      "rotatefreq: 60\n"
      "threads: 4\n"
      "startboundaryts: 1546300800\n"
      "endboundaryts: 1546304400\n"
      "removespoofed: no\n"
      "removeerratic: no\n"
      "removerouted: no\n"
      "removenotscan: no\n"
      "libtimeseriesbackends:\n"
      "  - ascii:\n"
      "      file: /tmp/ts.gz\n"
      "      compress: 1\n"
      "plugins:\n"
      " - flowtuple:\n"
      "     sorttuples: yes\n"
      "     mergethreads: 4\n"
      "     avrooutput: deflate\n";
  const Config c = parse_config(text);
  EXPECT_EQ(c.packetsources, std::vector<std::string>{"pcapfile:/traces/telescope.pcap.gz"});
  EXPECT_EQ(c.monitorid, "ucsd-nt");
  EXPECT_EQ(c.rotatefreq, 60u);
  EXPECT_EQ(c.threads, 4u);
  EXPECT_EQ(c.startboundaryts, 1546300800u);
  EXPECT_EQ(c.endboundaryts, 1546304400u);
  ASSERT_EQ(c.plugins.size(), 1u);
  EXPECT_EQ(c.plugins[0].options["mergethreads"].as<int>(), 4);
  EXPECT_EQ(c.plugins[0].options["avrooutput"].as<std::string>(), "deflate");
  ASSERT_EQ(c.warnings.size(), 2u);
  EXPECT_NE(c.warnings[0].find("'statfilename' (line 4)"), std::string::npos) << c.warnings[0];
  EXPECT_NE(c.warnings[1].find("'controlsocketname' (line 6)"), std::string::npos) << c.warnings[1];
  // libtimeseriesbackends: the ascii backend is a timeseries sink.
  ASSERT_EQ(c.timeseries.size(), 1u);
  EXPECT_EQ(c.timeseries[0].file, "/tmp/ts.gz");
  EXPECT_EQ(c.timeseries[0].compress, 1);
  // The expanded name follows corsaro's placeholders.
  EXPECT_EQ(expand_template(c.outtemplate, "flowtuple", c.monitorid, 1546300800),
            "/flowtuple/tmp/telescope-1546300800-ucsd-nt.flowtuple");
}

TEST(Config, ExampleConfigsParse) {
  const char* root = std::getenv("PRIVATEER_SOURCE_ROOT");
  const std::filesystem::path dir =
      std::filesystem::path(root ? root : ".") / "configs";
  for (const char* name : {"quickstart.yaml", "corsarotrace-flowtuple.yaml"}) {
    if (!std::filesystem::exists(dir / name)) GTEST_SKIP() << (dir / name) << " absent";
    const Config c = load_config((dir / name).string());
    EXPECT_EQ(c.source_path, (dir / name).string());
    EXPECT_EQ(c.plugins.at(0).name, "flowtuple") << name;
  }
}

TEST(ConfigErrors, UnknownTopLevelKey) {
  const std::string text = with("bogus: 1\n");
  const std::string what = expect_error(text, "bogus", line_of(text, "bogus"));
  EXPECT_NE(what.find("unknown key"), std::string::npos) << what;
}

TEST(ConfigErrors, FlowtupleOptionAtTopLevelSaysWhereItGoes) {
  for (const char* k : {"sorttuples", "mergethreads", "avrooutput", "usesnappy"}) {
    const std::string text = with(std::string(k) + ": yes\n");
    const std::string what = expect_error(text, k, line_of(text, k));
    EXPECT_NE(what.find("option of the flowtuple plugin"), std::string::npos) << what;
  }
}

TEST(ConfigErrors, UnknownKeyInPrometheus) {
  const std::string text = with("prometheus:\n  enabled: yes\n  port: 9000\n");
  expect_error(text, "prometheus.port", line_of(text, "port:"));
}

TEST(ConfigErrors, UnknownKeyInOutputAndLog) {
  std::string text = with("output:\n  codec: snappy\n");
  expect_error(text, "output.codec", line_of(text, "codec:"));
  text = with("log:\n  lvl: info\n");
  expect_error(text, "log.lvl", line_of(text, "lvl:"));
}

// inputuri is corsarotrace's older name of packetsource; older versions
// read one more input from every inputuri line.
TEST(Config, InputuriIsPacketsource) {
  const std::string tail = "outtemplate: /o/%P-%s\nplugins: [flowtuple]\n";
  Config c = parse_config("inputuri: pcapfile:x.pcap\n" + tail);
  EXPECT_EQ(c.packetsources, std::vector<std::string>{"pcapfile:x.pcap"});
  EXPECT_TRUE(c.warnings.empty());
  c = parse_config("inputuri: a.pcap\ninputuri: b.pcap\n" + tail);
  EXPECT_EQ(c.packetsources, (std::vector<std::string>{"a.pcap", "b.pcap"}));
  c = parse_config("inputuri: [a.pcap, b.pcap]\n" + tail);
  EXPECT_EQ(c.packetsources, (std::vector<std::string>{"a.pcap", "b.pcap"}));
  // Both is an error naming the two lines.
  const std::string text = with("inputuri: pcapfile:x.pcap\n");
  const std::string what = expect_error(text, "inputuri", line_of(text, "inputuri"));
  EXPECT_NE(what.find("'packetsource' (line 1)"), std::string::npos) << what;
  EXPECT_NE(what.find("not both"), std::string::npos) << what;
  // Neither.
  expect_error(tail, "packetsource", 1);
  // packetsource still may not repeat.
  expect_error("packetsource: a\npacketsource: b\n" + tail, "packetsource", 2);
}

TEST(ConfigErrors, WrongType) {
  const std::string text = with("interval: abc\n");
  const std::string what = expect_error(text, "interval", line_of(text, "interval"));
  EXPECT_NE(what.find("abc"), std::string::npos) << what;

  const std::string t2 = with("prometheus:\n  enabled: maybe\n");
  expect_error(t2, "prometheus.enabled", line_of(t2, "maybe"));
  const std::string t3 = with("prometheus: yes\n");
  expect_error(t3, "prometheus", line_of(t3, "prometheus"));
  const std::string t5 =
      "packetsource: {a: b}\nouttemplate: x-%P-%s\nplugins: [flowtuple]\n";
  expect_error(t5, "packetsource", 1);
}

TEST(ConfigErrors, Negative) {
  std::string text = with("interval: -5\n");
  std::string what = expect_error(text, "interval", line_of(text, "interval"));
  EXPECT_NE(what.find("-5"), std::string::npos) << what;
  text = with("threads: -1\n");
  expect_error(text, "threads", line_of(text, "threads"));
  text = with("startboundaryts: -100\n");
  expect_error(text, "startboundaryts", line_of(text, "startboundaryts"));
}

TEST(ConfigErrors, InvalidValues) {
  std::string text = with("interval: 0\n");
  expect_error(text, "interval", line_of(text, "interval"));
  text = with("threads: 0\n");
  expect_error(text, "threads", line_of(text, "threads"));
  text = with("threads: 65\n");
  expect_error(text, "threads", line_of(text, "threads"));
  text = with("startboundaryts: 2000\nendboundaryts: 2000\n");
  expect_error(text, "endboundaryts", line_of(text, "endboundaryts"));
  text = with("startboundaryts: 2000\nendboundaryts: 1000\n");
  expect_error(text, "endboundaryts", line_of(text, "endboundaryts"));
  text = with("ring_size: 100\n");
  expect_error(text, "ring_size", line_of(text, "ring_size"));
  text = with("ring_size: 1\n");
  expect_error(text, "ring_size", line_of(text, "ring_size"));
  text = with("output:\n  avro_codec: lz4\n");
  expect_error(text, "output.avro_codec", line_of(text, "lz4"));
  text = with("output:\n  avro_block_size: 10\n");
  expect_error(text, "output.avro_block_size", line_of(text, "avro_block_size"));
  text = with("output:\n  deflate_level: 9\n");
  expect_error(text, "output.deflate_level", line_of(text, "deflate_level"));
  text = with("output:\n  zstd_level: 0\n");
  expect_error(text, "output.zstd_level", line_of(text, "zstd_level"));
  text = with("output:\n  threads: 0\n");
  expect_error(text, "output.threads", line_of(text, "threads: 0"));
  text = with("output:\n  avro_codec: [deflate]\n");
  expect_error(text, "output.avro_codec", line_of(text, "avro_codec"));
  text = with("progress: sometimes\n");
  expect_error(text, "progress", line_of(text, "progress"));
  text = with("log:\n  level: loud\n");
  expect_error(text, "log.level", line_of(text, "loud"));
  text = with("prometheus:\n  listen: localhost\n");
  expect_error(text, "prometheus.listen", line_of(text, "listen"));
  text = with("prometheus:\n  listen: \"127.0.0.1:70000\"\n");
  expect_error(text, "prometheus.listen", line_of(text, "listen"));
  text = with("interval: 60\ninterval: 30\n");
  expect_error(text, "interval", line_of(text, "interval: 30"));
}

TEST(ConfigErrors, MissingRequired) {
  std::string text = "outtemplate: x-%P-%s\nplugins: [flowtuple]\n";
  std::string what = expect_error(text, "packetsource", 1);
  EXPECT_NE(what.find("required"), std::string::npos) << what;
  text = "packetsource: a.pcap\nplugins: [flowtuple]\n";
  expect_error(text, "outtemplate", 1);
  text = "packetsource: a.pcap\nouttemplate: x-%P-%s\n";
  expect_error(text, "plugins", 1);
  text = "packetsource: a.pcap\nouttemplate: x-%P-%s\nplugins: []\n";
  expect_error(text, "plugins", 3);
  text = "packetsource: []\nouttemplate: x-%P-%s\nplugins: [flowtuple]\n";
  expect_error(text, "packetsource", 1);
}

TEST(ConfigErrors, UnknownPlugin) {
  const std::string text = with("  - nosuchplugin:\n      x: 1\n");
  const std::string what = expect_error(text, "plugins.nosuchplugin", line_of(text, "nosuchplugin"));
  EXPECT_NE(what.find("flowtuple"), std::string::npos) << what;  // lists what exists
}

TEST(ConfigErrors, BadPluginItems) {
  std::string text = with("  - flowtuple\n");
  expect_error(text, "plugins.flowtuple", 6);  // listed twice
  text = "packetsource: a\nouttemplate: x-%P-%s\nplugins:\n  - flowtuple: 3\n";
  expect_error(text, "plugins.flowtuple", 4);
  text = "packetsource: a\nouttemplate: x-%P-%s\nplugins:\n  - {flowtuple: {}, other: {}}\n";
  expect_error(text, "plugins[0]", 4);
  text = "packetsource: a\nouttemplate: x-%P-%s\nplugins: flowtuple\n";
  expect_error(text, "plugins", 3);
}

TEST(Config, PluginNameIsCaseInsensitiveAndOptionsMayBeNull) {
  const Config c = parse_config(
      "packetsource: a\nouttemplate: x-%P-%s\nplugins:\n  - FlowTuple:\n");
  ASSERT_EQ(c.plugins.size(), 1u);
  EXPECT_EQ(c.plugins[0].name, "flowtuple");
  EXPECT_TRUE(c.plugins[0].options.IsMap());
}

TEST(ConfigErrors, YamlSyntaxErrorHasLine) {
  const std::string text =
      "packetsource: a.pcap\n"
      "outtemplate: x-%P-%s\n"
      "interval: [60\n"
      "threads: 2\n"
      "plugins: [flowtuple]\n";
  try {
    parse_config(text);
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), "(file)");
    EXPECT_GE(e.line(), 3) << e.what();
    EXPECT_NE(std::string(e.what()).find("(line " + std::to_string(e.line()) + ")"),
              std::string::npos);
  }
  // An error the parser pins to one line.
  const std::string t2 =
      "packetsource: a.pcap\n"
      "outtemplate: x-%P-%s\n"
      "interval: 60: 70\n"
      "plugins: [flowtuple]\n";
  const std::string what = expect_error(t2, "(file)", 3);
  EXPECT_NE(what.find("YAML"), std::string::npos) << what;
}

TEST(ConfigErrors, TagFiltersNeedTagging) {
  for (const char* key : {"removespoofed", "removeerratic", "removerouted", "removenotscan"}) {
    const std::string text = with(std::string(key) + ": yes\ntagging: no\n");
    const std::string what = expect_error(text, key, line_of(text, key));
    EXPECT_NE(what.find("'tagging' (line " + std::to_string(line_of(text, "tagging")) + ") is no"), std::string::npos)
        << what;
  }
}

TEST(ConfigErrors, Template) {
  // %N without monitorid.
  std::string text = "packetsource: a\nouttemplate: /out/%N-%P-%s\nplugins: [flowtuple]\n";
  expect_error(text, "outtemplate", 2);
  text = "packetsource: a\nouttemplate: ''\nplugins: [flowtuple]\n";
  expect_error(text, "outtemplate", 2);
}

// Templates corsaro3 takes but whose files would overwrite each other are
// taken too, with a warning saying how the names are kept apart.
TEST(Config, TemplateWarnings) {
  const auto warnings_of = [](const std::string& tmpl, const std::string& extra = "") {
    return parse_config("packetsource: a\nouttemplate: " + tmpl + "\n" + extra + "plugins: [flowtuple]\n").warnings;
  };
  // No %P ("%%P" is a literal, not a %P).
  for (const char* t : {"/out/%s", "/out/%%P-%s.avro"}) {
    const auto w = warnings_of(t);
    ASSERT_EQ(w.size(), 1u) << t;
    EXPECT_NE(w[0].find("'outtemplate' (line 2) has no %P"), std::string::npos) << w[0];
  }
  EXPECT_NE(warnings_of("/out/%s")[0].find("'/out/%s.<output>.avro'"), std::string::npos);
  // Rotating, but no time in the name.
  auto w = warnings_of("/out/%P.gz");
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].find("no time conversion"), std::string::npos) << w[0];
  EXPECT_NE(w[0].find("'/out/%P.gz.avro', '/out/%P.gz.1.avro', '/out/%P.gz.2.avro'"), std::string::npos) << w[0];
  // Hourly files named by day.
  w = warnings_of("/out/%P-%Y%m%d.avro", "rotatefreq: 60\n");
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].find("same name"), std::string::npos) << w[0];
  EXPECT_NE(w[0].find("'/out/%P-%Y%m%d.1.avro'"), std::string::npos) << w[0];
  // Both at once: two warnings.
  EXPECT_EQ(warnings_of("/out/x").size(), 2u);
  // One file for the whole run needs no time; daily files named by day are fine.
  EXPECT_TRUE(warnings_of("/out/%P.avro", "rotatefreq: 0\n").empty());
  EXPECT_TRUE(warnings_of("/out/%P-%Y%m%d.avro", "interval: 3600\nrotatefreq: 24\n").empty());
}

TEST(ConfigErrors, TopLevelShape) {
  expect_error("", "(file)", 0);
  expect_error("- a\n- b\n", "(top level)", 1);
}

TEST(ConfigFile, LoadAndErrors) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("privateer_test_config_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = (dir / "c.yaml").string();
  {
    std::ofstream(path) << kBase;
  }
  const Config c = load_config(path);
  EXPECT_EQ(c.source_path, path);
  EXPECT_EQ(c.plugins.size(), 1u);
  {
    std::ofstream(path) << "packetsource: a\nouttemplate: [x\n";
  }
  try {
    load_config(path);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), "(file)");
    EXPECT_GT(e.line(), 0) << e.what();
  }
  try {
    load_config((dir / "absent.yaml").string());
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), "(file)");
    EXPECT_NE(std::string(e.what()).find("absent.yaml"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
}

// --- naming ---------------------------------------------------------------

std::string strftime_utc(const char* fmt, uint64_t t) {
  const time_t tt = static_cast<time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[256];
  const size_t n = std::strftime(buf, sizeof buf, fmt, &tm);
  return std::string(buf, n);
}

class Naming : public ::testing::Test {
 protected:
  // Run in a zone far from UTC so that any use of local time shows.
  void SetUp() override {
    const char* tz = std::getenv("TZ");
    had_tz_ = tz != nullptr;
    if (had_tz_) old_tz_ = tz;
    setenv("TZ", "Pacific/Chatham", 1);
    tzset();
  }
  void TearDown() override {
    if (had_tz_) setenv("TZ", old_tz_.c_str(), 1); else unsetenv("TZ");
    tzset();
  }
  bool had_tz_ = false;
  std::string old_tz_;
};

TEST_F(Naming, PlaceholdersAndStrftime) {
  for (uint64_t t : {uint64_t{0}, uint64_t{951782400} /* a leap day */, uint64_t{1700000123},
                     uint64_t{4102444799}}) {
    const std::string ts = std::to_string(t);
    EXPECT_EQ(expand_template("/d/%N-%P-%s.avro", "flowtuple", "mon", t),
              "/d/mon-flowtuple-" + ts + ".avro");
    EXPECT_EQ(expand_template("%Y%m%d-%H%M%S", "p", "m", t), strftime_utc("%Y%m%d-%H%M%S", t));
    EXPECT_EQ(expand_template("/x/%Y/%j/%P.%a.%b.%e.%-d.%Ey.%Od", "p", "m", t),
              "/x/" + strftime_utc("%Y/%j/", t) + "p." + strftime_utc("%a.%b.%e.%-d.%Ey.%Od", t));
    EXPECT_EQ(expand_template("%F %T %z %Z", "p", "m", t), strftime_utc("%F %T %z %Z", t));
    EXPECT_EQ(expand_template("%s-%G-W%V-%u", "p", "m", t), ts + "-" + strftime_utc("%G-W%V-%u", t));
  }
}

TEST_F(Naming, LiteralsAndEdges) {
  EXPECT_EQ(expand_template("100%%-%P", "ft", "m", 0), "100%-ft");
  EXPECT_EQ(expand_template("%%P%%s", "ft", "m", 0), "%P%s");
  EXPECT_EQ(expand_template("trailing%", "ft", "m", 0), "trailing%");
  EXPECT_EQ(expand_template("trailing%-", "ft", "m", 0), "trailing%-");
  EXPECT_EQ(expand_template("", "ft", "m", 0), "");
  // Substituted names are not templates themselves.
  EXPECT_EQ(expand_template("%N/%P", "a%Yb", "c%sd", 1700000000), "c%sd/a%Yb");
  EXPECT_EQ(expand_template("%N-%P", "ft", "", 0), "-ft");
}

TEST(NamingQueries, HasPluginMonitorTime) {
  EXPECT_TRUE(template_has_plugin("/x/%P.avro"));
  EXPECT_FALSE(template_has_plugin("/x/%%P.avro"));
  EXPECT_TRUE(template_has_plugin("/x/%%%P.avro"));
  EXPECT_FALSE(template_has_plugin("/x/P.avro"));
  EXPECT_FALSE(template_has_plugin("/x/%"));
  EXPECT_TRUE(template_has_monitor("%N"));
  EXPECT_FALSE(template_has_monitor("%%N"));
  EXPECT_TRUE(template_has_time("%P-%s"));
  EXPECT_TRUE(template_has_time("%P-%Y"));
  EXPECT_FALSE(template_has_time("%P-%N-%%-%n"));
}

TEST(NamingFiles, AvroSuffixAsCorsaro3) {
  // corsaro3 appends ".avro" to every expanded name.
  EXPECT_EQ(avro_file_name("/o/analysis-1-m.flowtuple.gz"), "/o/analysis-1-m.flowtuple.gz.avro");
  EXPECT_EQ(avro_file_name("/o/m-flowtuple-1"), "/o/m-flowtuple-1.avro");
  // Not a second time (Privateer's one difference).
  EXPECT_EQ(avro_file_name("/o/m-flowtuple-1.avro"), "/o/m-flowtuple-1.avro");
  EXPECT_EQ(avro_file_name("/o/x.AVRO"), "/o/x.AVRO.avro");
  // Extras go before the ".avro".
  EXPECT_EQ(avro_file_name("/o/x.avro", {"flowtuple", "2"}), "/o/x.flowtuple.2.avro");
  EXPECT_EQ(avro_file_name("/o/x", {"3"}), "/o/x.3.avro");
}

TEST(NamingFiles, FileNamerKeepsNamesApart) {
  // With %P and a time conversion nothing is added.
  FileNamer a("/o/%N-%P-%s", "m");
  a.set_stream_count(2);
  EXPECT_EQ(a.name("flowtuple", 60), "/o/m-flowtuple-60.avro");
  EXPECT_EQ(a.name("flowtuple6", 60), "/o/m-flowtuple6-60.avro");
  EXPECT_EQ(a.name("flowtuple", 120), "/o/m-flowtuple-120.avro");
  // No %P, one stream: corsaro3's name.
  FileNamer b("/o/%N-%s", "m");
  b.set_stream_count(1);
  EXPECT_EQ(b.name("flowtuple", 60), "/o/m-60.avro");
  // No %P, several streams: the stream's name is added.
  FileNamer c("/o/%N-%s.avro", "m");
  c.set_stream_count(2);
  EXPECT_EQ(c.name("flowtuple", 60), "/o/m-60.flowtuple.avro");
  EXPECT_EQ(c.name("flowtuple6", 60), "/o/m-60.flowtuple6.avro");
  // No time conversion: numbered in rotation order.
  FileNamer d("/o/%P", "");
  d.set_stream_count(2);
  EXPECT_EQ(d.name("flowtuple", 0), "/o/flowtuple.avro");
  EXPECT_EQ(d.name("flowtuple6", 0), "/o/flowtuple6.avro");
  EXPECT_EQ(d.name("flowtuple", 60), "/o/flowtuple.1.avro");
  EXPECT_EQ(d.name("flowtuple6", 60), "/o/flowtuple6.1.avro");
  EXPECT_EQ(d.name("flowtuple", 120), "/o/flowtuple.2.avro");
  // A name too coarse for the rotation: each name counts its own repeats.
  FileNamer e("/o/%P-%Y%m%d", "");
  e.set_stream_count(1);
  EXPECT_EQ(e.name("ft", 0), "/o/ft-19700101.avro");
  EXPECT_EQ(e.name("ft", 3600), "/o/ft-19700101.1.avro");
  EXPECT_EQ(e.name("ft", 86400), "/o/ft-19700102.avro");
  EXPECT_EQ(e.name("ft", 90000), "/o/ft-19700102.1.avro");
  // A numbered name that the template also gives literally is not reused.
  FileNamer f("/o/%P", "");
  f.set_stream_count(2);
  EXPECT_EQ(f.name("x", 0), "/o/x.avro");
  EXPECT_EQ(f.name("x.1", 0), "/o/x.1.avro");
  EXPECT_EQ(f.name("x", 60), "/o/x.2.avro");
}

// --- corsarotrace's keys, one at a time ------------------------------------

const std::string kMin = "packetsource: a.pcap\nouttemplate: /o/%N-%P-%s\nmonitorid: m\nplugins: [flowtuple]\n";

// Every key corsarotrace reads (of all its versions: corsarotrace/configparser.c
// and corsarotrace.c) is accepted as is, warned about, or refused with its reason.
TEST(Corsaro3Keys, AcceptedAsIs) {
  for (const char* line : {"logfilename: /var/log/corsarotrace.log", "interval: 300", "rotatefreq: 6",
                           "threads: 3", "startboundaryts: 0", "endboundaryts: 0", "removespoofed: no",
                           "removeerratic: no", "removerouted: no", "removenotscan: no", "tagging: no",
                           "promisc: no"}) {
    const Config c = parse_config(kMin + line + "\n");
    EXPECT_TRUE(c.warnings.empty()) << line << ": " << c.warnings.at(0);
  }
  // The keys of kMin itself (packetsource, outtemplate, monitorid, plugins).
  EXPECT_TRUE(parse_config(kMin).warnings.empty());
}

TEST(Corsaro3Keys, WarnedAndIgnored) {
  const std::pair<const char*, const char*> cases[] = {
      {"controlsocketname: ipc:///tmp/corsarotagger-control", "corsarotagger"},
      {"subqueuename: ipc:///tmp/corsarotagger", "corsarotagger"},
      {"tagsock: ipc:///tmp/corsarotagger", "corsarotagger"},
      {"inputhwm: 25", "corsarotagger"},
      {"statfilename: /tmp/corsarostats", "prometheus"},
      {"outputmode: ascii", "always Avro"},
      {"compressmethod: gzip", "output.avro_codec"},
      {"compresslevel: 1", "output.deflate_level"},
      {"mergeoutput: yes", "merged"},
      {"mergeoutput: no", "merged"},
      {"promisc: yes", "trace files"},
  };
  for (const auto& [line, why] : cases) {
    const std::string text = kMin + line + "\n";
    const Config c = parse_config(text);
    const std::string key = std::string(line).substr(0, std::string(line).find(':'));
    ASSERT_EQ(c.warnings.size(), 1u) << line;
    EXPECT_NE(c.warnings[0].find("config key '" + key + "' (line 5) is ignored: "), std::string::npos) << c.warnings[0];
    EXPECT_NE(c.warnings[0].find(why), std::string::npos) << c.warnings[0];
    EXPECT_EQ(c.warnings[0].find('\n'), std::string::npos) << c.warnings[0];
  }
}

TEST(Corsaro3Keys, RefusedWhereNotBuilt) {
  const std::pair<const char*, const char*> cases[] = {
      {"filterfile: /etc/corsaro/filters", "filter file is not implemented"},
  };
  for (const auto& [line, why] : cases) {
    const std::string text = kMin + line + "\n";
    const std::string key = std::string(line).substr(0, std::string(line).find(':'));
    const std::string what = expect_error(text, key, 5);
    EXPECT_NE(what.find(why), std::string::npos) << what;
  }
  // A DBATS backend of libtimeseries: DBATS is not packaged.
  std::string text = kMin + "libtimeseriesbackends:\n  - ascii:\n      file: /tmp/ts\n"
                            "  - dbats:\n      path: /tmp/db\n";
  std::string what = expect_error(text, "libtimeseriesbackends[1].dbats", line_of(text, "dbats"));
  EXPECT_NE(what.find("the DBATS backend is not supported"), std::string::npos) << what;
  text = kMin + "libtimeseriesbackends:\n  - influx: {}\n";
  expect_error(text, "libtimeseriesbackends[0].influx", 6);
  // promisc on a live libtrace interface.
  text = "packetsource: int:eth0\nouttemplate: /o/%P-%s\nplugins: [flowtuple]\npromisc: yes\n";
  what = expect_error(text, "promisc", 4);
  EXPECT_NE(what.find("ip link set dev IF promisc on"), std::string::npos) << what;
  // corsaro3 plugins not built here.
  for (const char* p : {"filteringstats"}) {
    text = "packetsource: a\nouttemplate: /o/%P-%s\nplugins:\n  - " + std::string(p) + ":\n";
    what = expect_error(text, "plugins." + std::string(p), 4);
    EXPECT_NE(what.find("corsaro3's " + std::string(p) + " plugin is not built in Privateer yet"), std::string::npos)
        << what;
  }
}

// A key neither program knows still stops start-up, naming the nearest
// known key where one is close, at top level, in Privateer's sections and
// in plugin options (reject_unknown_keys).
TEST(ConfigErrors, TyposNameTheClosestKey) {
  const std::pair<std::string, std::string> top[] = {
      {"intervall: 60", "interval"},
      {"rotatefrq: 4", "rotatefreq"},
      {"Threads: 2", "threads"},
      {"packetsorce: b.pcap", "packetsource"},
      {"statsfilename: x", "statfilename"},
  };
  for (const auto& [line, near] : top) {
    const std::string text = kMin + line + "\n";
    const std::string what = expect_error(text, line.substr(0, line.find(':')), 5);
    EXPECT_NE(what.find("unknown key: did you mean '" + near + "'?"), std::string::npos) << what;
  }
  std::string text = kMin + "prometheus:\n  listn: 127.0.0.1:0\n";
  std::string what = expect_error(text, "prometheus.listn", 6);
  EXPECT_NE(what.find("did you mean 'listen'?"), std::string::npos) << what;
  text = kMin + "output:\n  avro_codc: snappy\n";
  what = expect_error(text, "output.avro_codc", 6);
  EXPECT_NE(what.find("did you mean 'avro_codec'?"), std::string::npos) << what;
  text = kMin + "log:\n  levle: info\n";
  what = expect_error(text, "log.levle", 6);
  EXPECT_NE(what.find("did you mean 'level'?"), std::string::npos) << what;
  text = "packetsource: a\nouttemplate: /o/%P-%s\nplugins:\n  - flowtupel:\n";
  what = expect_error(text, "plugins.flowtupel", 4);
  EXPECT_NE(what.find("did you mean 'flowtuple'?"), std::string::npos) << what;
  // Nothing close: no suggestion.
  text = kMin + "bogus: 1\n";
  what = expect_error(text, "bogus", 5);
  EXPECT_EQ(what.find("did you mean"), std::string::npos) << what;
}

TEST(ClosestKey, DistanceBound) {
  const std::vector<std::string> known = {"interval", "rotatefreq", "threads", "log"};
  EXPECT_EQ(closest_key("intreval", known), "interval");   // a swap counts once
  EXPECT_EQ(closest_key("INTERVAL", known), "interval");   // case is ignored
  EXPECT_EQ(closest_key("lg", known), "log");
  EXPECT_EQ(closest_key("xyz", known), "");                 // 3 edits > max(2, 1)
  EXPECT_EQ(closest_key("rotation", known), "");            // 5 edits > max(2, 8 / 3)
  EXPECT_EQ(closest_key("rotationfreq", known), "rotatefreq");  // 3 edits <= 12 / 3
  EXPECT_EQ(closest_key("rotatfreqq", known), "rotatefreq");
}

TEST(Config, NullCodecUnquoted) {
  Config c = parse_config(kMin + "output:\n  avro_codec: null\n");
  EXPECT_EQ(c.output.codec.codec, AvroCodec::null);
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_NE(c.warnings[0].find("is null: corsaro3 readers (pyavro-stardust) read only deflate files"),
            std::string::npos)
      << c.warnings[0];
  c = parse_config(kMin + "output:\n  avro_codec: deflate\n");
  EXPECT_EQ(c.output.codec.codec, AvroCodec::deflate);
  EXPECT_TRUE(c.warnings.empty());
}

// Found while writing the config fuzz harness (tests/fuzz/fuzz_config.cpp,
// which reports it as an escaping YAML::InvalidNode): with packetsource's
// older name inputuri, a missing dpdk: section gave an error naming no key
// ("(file)": yaml-cpp's exception for the absent packetsource).
TEST(ConfigErrors, DpdkSectionMissingUnderInputuri) {
  expect_error("outtemplate: /o/%P-%s\ninputuri: dpdk\nplugins: [null]\n", "dpdk", 2);
  expect_error("outtemplate: /o/%P-%s\nplugins: [null]\npacketsource: dpdk\n", "dpdk", 3);
}

// A template whose file names are longer than a path can be is refused: it
// used to be taken, after the name checks had expanded it a hundred times
// (given a thousand %9999M, the config harness ran 11 s under ASan, past
// its 10 s limit).
TEST(ConfigErrors, TemplateLongerThanAPath) {
  const std::string head = "packetsource: a.pcap\nplugins: [null]\nmonitorid: m\n";
  std::string wide;
  for (int i = 0; i < 1000; ++i) wide += "%9999M";
  const std::string what = expect_error(head + "outtemplate: \"" + wide + "\"\n", "outtemplate", 4);
  EXPECT_NE(what.find("longer than a path can be (4095)"), std::string::npos) << what;
  expect_error("packetsource: a.pcap\nplugins: [null]\nmonitorid: " + std::string(5000, 'm') +
                   "\nouttemplate: /o/%N-%P-%s\n",
               "outtemplate", 4);
  // The limit is on the whole name: "/" x... "-null.avro".
  const auto with_name_of = [&](size_t bytes) { return head + "outtemplate: /" + std::string(bytes - 11, 'x') + "-%P\n"; };
  EXPECT_NO_THROW(parse_config(with_name_of(kMaxPathBytes)));
  expect_error(with_name_of(kMaxPathBytes + 1), "outtemplate", 4);
}

// A strftime conversion longer than a path can be is kept as written; one
// that fits is strftime's own result.
TEST_F(Naming, WidthsUpToAPath) {
  EXPECT_EQ(expand_template("a%4096Yb", "p", "m", 0), "a%4096Yb");
  EXPECT_EQ(expand_template("a%99999999999999999999Yb", "p", "m", 0), "a%99999999999999999999Yb");
  char buf[4200];
  const time_t t = 1700000000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  const size_t n = std::strftime(buf, sizeof buf, "%4095Y", &tm);
  ASSERT_EQ(n, 4095u);
  EXPECT_EQ(expand_template("%4095Y", "p", "m", t), std::string(buf, n));
}

}  // namespace
}  // namespace privateer

// packetsource: dpdk and its dpdk: section belong together; port errors
// name the port's key and line.
TEST(ConfigDpdk, SectionAndErrors) {
  using privateer::Config;
  using privateer::ConfigError;
  using privateer::parse_config;
  const std::string base = "outtemplate: /tmp/%P-%s.avro\nplugins: [flowtuple]\n";
  const Config c = parse_config(base +
                                "packetsource: dpdk\n"
                                "dpdk:\n"
                                "  eal: [--no-huge, --no-pci, --vdev, \"net_null0\"]\n"
                                "  ports:\n"
                                "    - device: net_null0\n"
                                "      rx_queues: 4\n"
                                "  burst_size: 64\n");
  ASSERT_TRUE(c.dpdk.enabled);
  ASSERT_EQ(c.dpdk.eal.size(), 4u);
  EXPECT_EQ(c.dpdk.eal[3], "net_null0");
  ASSERT_EQ(c.dpdk.ports.size(), 1u);
  EXPECT_EQ(c.dpdk.ports[0].device, "net_null0");
  EXPECT_EQ(c.dpdk.ports[0].rx_queues, 4u);
  EXPECT_TRUE(c.dpdk.ports[0].promiscuous);
  EXPECT_EQ(c.dpdk.burst_size, 64u);

  auto error_of = [&](const std::string& text) -> std::string {
    try {
      parse_config(base + text);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_NE(error_of("packetsource: dpdk\n").find("config key 'dpdk' (line 3)"), std::string::npos)
      << error_of("packetsource: dpdk\n");
  EXPECT_NE(error_of("packetsource: a.pcap\ndpdk:\n  ports: [{device: x}]\n").find("only read with 'packetsource: dpdk'"),
            std::string::npos);
  const std::string e3 = error_of("packetsource: dpdk\ndpdk:\n  ports:\n    - device: x\n      rx_queue: 2\n");
  EXPECT_NE(e3.find("'dpdk.ports[0].rx_queue' (line 7)"), std::string::npos) << e3;
  const std::string e4 = error_of("packetsource: dpdk\ndpdk:\n  ports:\n    - rx_queues: 2\n");
  EXPECT_NE(e4.find("'dpdk.ports[0].device'"), std::string::npos) << e4;
  const std::string e5 = error_of("packetsource: dpdk\ndpdk:\n  ports: []\n");
  EXPECT_NE(e5.find("'dpdk.ports' (line 5)"), std::string::npos) << e5;
}
