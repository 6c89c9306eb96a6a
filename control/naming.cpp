#include "control/naming.hpp"

#include <cstring>
#include <ctime>
#include <filesystem>
#include <optional>
#include <utility>
#include <vector>

namespace privateer {

namespace {

// One conversion of the template: tmpl[begin, end) is the whole "%...X".
struct Conversion {
  size_t begin = 0;
  size_t end = 0;
  char conv = 0;
};

// Parses the conversion starting at tmpl[i] == '%': glibc flags, a width and
// an E/O modifier, then the conversion character. nullopt when the template
// ends before the conversion character.
std::optional<Conversion> parse_conversion(const std::string& tmpl, size_t i) {
  size_t j = i + 1;
  const size_t n = tmpl.size();
  while (j < n && std::strchr("-_0^#", tmpl[j]) != nullptr && tmpl[j] != '\0') ++j;
  while (j < n && tmpl[j] >= '0' && tmpl[j] <= '9') ++j;
  if (j < n && (tmpl[j] == 'E' || tmpl[j] == 'O')) ++j;
  if (j >= n) return std::nullopt;
  return Conversion{i, j + 1, tmpl[j]};
}

std::string strftime_one(const std::string& spec, const std::tm& tm) {
  // A leading character keeps a legitimately empty result (e.g. %p in some
  // locales) apart from strftime's "did not fit" return of 0.
  const std::string fmt = "x" + spec;
  for (const size_t size : {size_t{128}, kMaxPathBytes + 2}) {
    std::vector<char> buf(size);
    const size_t len = std::strftime(buf.data(), buf.size(), fmt.c_str(), &tm);
    if (len > 0) return std::string(buf.data() + 1, len - 1);
  }
  return spec;  // longer than a path can be (a huge width): keep the conversion as written
}

// Calls f(conv) for every conversion character in the template.
template <typename F>
bool any_conversion(const std::string& tmpl, F f) {
  for (size_t i = 0; i < tmpl.size(); ++i) {
    if (tmpl[i] != '%') continue;
    const auto c = parse_conversion(tmpl, i);
    if (!c) return false;
    if (f(c->conv)) return true;
    i = c->end - 1;
  }
  return false;
}

}  // namespace

std::string expand_template(const std::string& tmpl, const std::string& plugin,
                            const std::string& monitorid, uint64_t unix_time) {
  std::tm tm{};
  bool have_tm = false;
  std::string out;
  out.reserve(tmpl.size() + plugin.size() + monitorid.size() + 16);
  for (size_t i = 0; i < tmpl.size(); ++i) {
    if (tmpl[i] != '%') {
      out.push_back(tmpl[i]);
      continue;
    }
    const auto c = parse_conversion(tmpl, i);
    if (!c) {  // template ends inside a conversion: keep the rest literally
      out.append(tmpl, i, std::string::npos);
      break;
    }
    switch (c->conv) {
      case 'P': out += plugin; break;
      case 'N': out += monitorid; break;
      case 's': out += std::to_string(unix_time); break;
      case '%': out.push_back('%'); break;
      default: {
        if (!have_tm) {
          const time_t t = static_cast<time_t>(unix_time);
          gmtime_r(&t, &tm);
          have_tm = true;
        }
        out += strftime_one(tmpl.substr(c->begin, c->end - c->begin), tm);
      }
    }
    i = c->end - 1;
  }
  return out;
}

std::string avro_file_name(const std::string& expanded, const std::vector<std::string>& extras) {
  return file_name_with(expanded, extras, ".avro");
}

std::string file_name_with(const std::string& expanded, const std::vector<std::string>& extras,
                           const std::string& ext) {
  auto ends_with = [&](const std::string& e) {
    return expanded.size() >= e.size() && expanded.compare(expanded.size() - e.size(), e.size(), e) == 0;
  };
  const size_t cut = ends_with(ext) ? ext.size() : ends_with(".avro") ? 5 : 0;
  std::string out = expanded.substr(0, expanded.size() - cut);
  for (const auto& e : extras) out += "." + e;
  return out + ext;
}

FileNamer::FileNamer(std::string tmpl, std::string monitorid, std::string ext)
    : tmpl_(std::move(tmpl)), monitorid_(std::move(monitorid)), ext_(std::move(ext)) {}

void FileNamer::set_stream_count(size_t streams) {
  add_stream_ = streams > 1 && !template_has_plugin(tmpl_);
}

std::string FileNamer::name(const std::string& stream, uint64_t unix_time) { return name(stream, unix_time, ""); }

std::string FileNamer::name(const std::string& stream, uint64_t unix_time, const std::string& extra) {
  const std::string expanded = expand_template(tmpl_, stream, monitorid_, unix_time);
  std::vector<std::string> extras;
  if (add_stream_) extras.push_back(stream);
  if (!extra.empty()) extras.push_back(extra);
  const std::string plain = file_name_with(expanded, extras, ext_);
  std::string out = plain;
  unsigned& k = repeats_[plain];
  auto taken = [this](const std::string& n) {
    std::error_code ec;
    return given_.count(n) != 0 || std::filesystem::exists(n + ".tmp", ec);
  };
  while (taken(out)) {
    auto numbered = extras;
    numbered.push_back(std::to_string(++k));
    out = file_name_with(expanded, numbered, ext_);
  }
  given_.insert(out);
  return out;
}

bool template_has_plugin(const std::string& tmpl) {
  return any_conversion(tmpl, [](char c) { return c == 'P'; });
}

bool template_has_monitor(const std::string& tmpl) {
  return any_conversion(tmpl, [](char c) { return c == 'N'; });
}

bool template_has_time(const std::string& tmpl) {
  // %n and %t are a newline and a tab: constant, like %%.
  return any_conversion(tmpl, [](char c) {
    return c != 'P' && c != 'N' && c != '%' && c != 'n' && c != 't';
  });
}

}  // namespace privateer
