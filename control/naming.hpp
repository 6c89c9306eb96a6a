// Output file names from a corsaro-style template.
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

#include <cstdint>
#include <string>

namespace privateer {

std::string expand_template(const std::string& tmpl, const std::string& plugin,
                            const std::string& monitorid, uint64_t unix_time);

// True when the template has a %P conversion (a "%%P" is a literal, not one).
bool template_has_plugin(const std::string& tmpl);
// True when the template has a %N conversion.
bool template_has_monitor(const std::string& tmpl);
// True when the expansion can depend on the time: %s or any strftime conversion.
bool template_has_time(const std::string& tmpl);

}  // namespace privateer
