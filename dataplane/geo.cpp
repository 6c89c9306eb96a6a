#include "dataplane/geo.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstring>

namespace privateer {

namespace {

// MMDB_aget_value paths: fixed arrays, so a lookup allocates nothing.
const char* const kContinentPath[] = {"continent", "code", nullptr};
const char* const kCountryPath[] = {"country", "iso_code", nullptr};

// A two-letter string under `path`, or nothing.
void two_letters(MMDB_entry_s& entry, const char* const* path, char out[2]) {
  MMDB_entry_data_s d{};
  if (MMDB_aget_value(&entry, &d, path) != MMDB_SUCCESS) return;
  if (!d.has_data || d.type != MMDB_DATA_TYPE_UTF8_STRING || d.data_size != 2) return;
  out[0] = d.utf8_string[0];
  out[1] = d.utf8_string[1];
}

}  // namespace

GeoDatabase::GeoDatabase(const std::string& path) : path_(path) {
  const int rc = MMDB_open(path.c_str(), MMDB_MODE_MMAP, &mmdb_);
  if (rc != MMDB_SUCCESS) {
    std::string why = MMDB_strerror(rc);
    if (rc == MMDB_IO_ERROR && errno != 0) why += std::string(": ") + std::strerror(errno);
    throw GeoError(why);
  }
  const std::string t = type();
  if (t.find("Country") == std::string::npos && t.find("City") == std::string::npos &&
      t.find("Enterprise") == std::string::npos) {
    MMDB_close(&mmdb_);
    throw GeoError("is a '" + t + "' database; geolocation needs a Country or City one (GeoLite2-Country, "
                   "GeoIP2-City ...)");
  }
}

GeoDatabase::~GeoDatabase() { MMDB_close(&mmdb_); }

GeoAnswer GeoDatabase::answer(const MMDB_lookup_result_s& r) const {
  GeoAnswer a;
  if (!r.found_entry) return a;
  MMDB_entry_s entry = r.entry;
  two_letters(entry, kContinentPath, a.continent);
  two_letters(entry, kCountryPath, a.country);
  return a;
}

GeoAnswer GeoDatabase::lookup_v4(uint32_t addr_host_order) const {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(addr_host_order);
  int err = 0;
  const MMDB_lookup_result_s r = MMDB_lookup_sockaddr(&mmdb_, reinterpret_cast<const sockaddr*>(&sa), &err);
  if (err != MMDB_SUCCESS) return {};
  return answer(r);
}

GeoAnswer GeoDatabase::lookup_v6(const uint8_t addr[16]) const {
  sockaddr_in6 sa{};
  sa.sin6_family = AF_INET6;
  std::memcpy(&sa.sin6_addr, addr, 16);
  int err = 0;
  // An IPv6 address in an IPv4-only database: an error, so unknown.
  const MMDB_lookup_result_s r = MMDB_lookup_sockaddr(&mmdb_, reinterpret_cast<const sockaddr*>(&sa), &err);
  if (err != MMDB_SUCCESS) return {};
  return answer(r);
}

}  // namespace privateer
