// Output file names from a corsaro-style template.
//
// A file's name is the template's expansion with ".avro" appended, as
// corsaro3's corsaro_generate_avro_file_name does, except that an expansion
// already ending in ".avro" does not get a second one. FileNamer then keeps
// every file of a run apart (see there).
//
// Conversions:
//   %P  the output (plugin / stream) name
//   %N  the monitor id
//   %s  unix seconds (decimal, of `unix_time`)
//   %%  a literal percent sign
//   any other conversion, with its glibc flags / width / E,O modifier
//   (e.g. %Y, %m, %d, %H, %-d, %Ey) goes through strftime(3) on the UTC
//   broken-down time of `unix_time` (gmtime_r); it never sees the local zone.
// Flags or a width on %P, %N or %s are ignored (they stay plain
// substitutions). A lone '%' at the end of the template is kept as is.
// Substituted text (plugin name, monitor id) is never itself interpreted as
// a template.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace privateer {

// The longest path a file can be opened by (Linux PATH_MAX less its NUL).
// A strftime conversion whose result would be longer is kept as written;
// the config check refuses a template whose expansion is longer.
constexpr size_t kMaxPathBytes = 4095;

std::string expand_template(const std::string& tmpl, const std::string& plugin,
                            const std::string& monitorid, uint64_t unix_time);

// `expanded` + ".avro" (not added again when it ends in ".avro"), with each
// of `extras` inserted before the ".avro" after a '.':
// avro_file_name("/o/x.avro", {"flowtuple", "2"}) is "/o/x.flowtuple.2.avro".
std::string avro_file_name(const std::string& expanded, const std::vector<std::string>& extras = {});
// The same with another extension (".pcap.gz" ...) in place of ".avro": a
// template's own ".avro" (corsarotrace's templates end in it) or `ext` is
// replaced, so "/o/x.avro" gives "/o/x.pcap.gz".
std::string file_name_with(const std::string& expanded, const std::vector<std::string>& extras,
                           const std::string& ext);

// Names the output files of one run so that no two get the same name, where
// corsaro3 would let later files overwrite earlier ones:
//  - without %P in the template and with more than one output stream in the
//    run, every name gets ".STREAM" before ".avro";
//  - a name already given in this run (a template without a time
//    conversion, or one too coarse for the rotation) gets ".K" before
//    ".avro", K = 1, 2, ... for its second, third, ... file;
//  - so does a name whose NAME.tmp is on disk (left by an earlier run that
//    died: kept for privateer-recover, never truncated).
class FileNamer {
 public:
  // `ext`: what names end in (".avro"; the packet outputs' ".pcap" ...).
  FileNamer(std::string tmpl, std::string monitorid, std::string ext = ".avro");
  // The number of streams of the run; called before the first name().
  void set_stream_count(size_t streams);
  // The name of `stream`'s file whose first interval starts at `unix_time`.
  std::string name(const std::string& stream, uint64_t unix_time);
  // The same with `extra` before the extension (after the stream's name
  // where that is added): a per-flow packet file's flow.
  std::string name(const std::string& stream, uint64_t unix_time, const std::string& extra);

 private:
  std::string tmpl_;
  std::string monitorid_;
  std::string ext_;
  bool add_stream_ = false;
  std::map<std::string, unsigned> repeats_;  // plain name -> files after the first given it
  std::set<std::string> given_;
};

// True when the template has a %P conversion (a "%%P" is a literal, not one).
bool template_has_plugin(const std::string& tmpl);
// True when the template has a %N conversion.
bool template_has_monitor(const std::string& tmpl);
// True when the expansion can depend on the time: %s or any strftime conversion.
bool template_has_time(const std::string& tmpl);

}  // namespace privateer
