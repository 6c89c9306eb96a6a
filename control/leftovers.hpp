// Output files an earlier run left unfinished: `NAME.tmp` files in the
// output directory (and the directories below it that the template names)
// whose NAME this template could give, for the streams of this run (a file
// being written by another running privateer, which holds its lock, is left
// out). Logged at start with the privateer-recover hint (OutputManager).
#pragma once

#include <string>
#include <vector>

namespace privateer {

// The regular expression (ECMAScript) the paths of `tmpl`'s .tmp files match,
// relative to template_base_dir(tmpl): literal text as is, %P one of
// `streams`, %N the monitor id, %s digits, strftime conversions anything;
// then what FileNamer may add (".STREAM", ".K") before ".avro", and ".tmp".
std::string leftover_pattern(const std::string& tmpl, const std::string& monitorid,
                             const std::vector<std::string>& streams);
// The directory part of the template before its first conversion ("" for
// the current directory).
std::string template_base_dir(const std::string& tmpl);

// The leftovers, sorted, as paths the template would name them.
std::vector<std::string> find_leftovers(const std::string& tmpl, const std::string& monitorid,
                                        const std::vector<std::string>& streams);

}  // namespace privateer
