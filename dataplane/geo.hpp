// Geolocation tagging: MaxMind GeoIP2 / GeoLite2 Country or City databases
// (.mmdb) read through libmaxminddb, and a per-worker cache of answers.
//
// The answer for an address is the continent code (continent.code) and the
// ISO 3166 code of the country the network is located in (country.iso_code),
// which is what corsaro3 tags (libipmeta's maxmind provider takes the
// location's country, not the registered or the represented one). An
// address the database lacks, or a record without one of the two codes,
// leaves that code unknown ({0,0}, written "??"), as in corsaro3.
//
// IPv4 lookups go through an index built once per database (index_ipv4):
// the IPv4 networks of the search tree walked into a DIR-24-8 table
// (dataplane/dir24.hpp) of answers, so that a packet costs one or two loads,
// not a 32-step tree walk and two map lookups in the data section. IPv6 goes
// through libmaxminddb and a worker's GeoCache.
#pragma once

#include <maxminddb.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "dataplane/dir24.hpp"

namespace privateer {

struct GeoAnswer {
  char continent[2] = {0, 0};
  char country[2] = {0, 0};
};

class GeoError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class GeoDatabase {
 public:
  // Opens an .mmdb file (MMDB_open, memory-mapped). Throws GeoError saying
  // why for a file that cannot be read or is not a MaxMind DB, and for a
  // database of another kind (ASN, ISP ...) than Country or City.
  explicit GeoDatabase(const std::string& path);
  ~GeoDatabase();
  GeoDatabase(const GeoDatabase&) = delete;
  GeoDatabase& operator=(const GeoDatabase&) = delete;

  // Builds the IPv4 index; until then (and for a database whose IPv4 part is
  // not a tree, which MaxMind's writers never make: it returns false)
  // lookup_v4 asks libmaxminddb.
  bool index_ipv4();
  bool indexed_v4() const { return v4_ != nullptr; }
  size_t v4_networks() const { return v4_networks_; }

  // None allocates (MMDB_lookup_sockaddr and MMDB_aget_value do not; the
  // varargs MMDB_get_value would).
  GeoAnswer lookup_v4(uint32_t addr_host_order) const {
    return v4_ ? answers_[v4_->lookup(addr_host_order)] : lookup_v4_tree(addr_host_order);
  }
  void prefetch_v4(uint32_t addr_host_order) const { v4_->prefetch(addr_host_order); }   // indexed only
  GeoAnswer lookup_v4_tree(uint32_t addr_host_order) const;   // through libmaxminddb, index or not
  GeoAnswer lookup_v6(const uint8_t addr[16]) const;

  const std::string& path() const { return path_; }
  std::string type() const { return mmdb_.metadata.database_type ? mmdb_.metadata.database_type : ""; }
  uint64_t build_epoch() const { return mmdb_.metadata.build_epoch; }

 private:
  GeoAnswer answer(MMDB_entry_s entry) const;
  std::string path_;
  MMDB_s mmdb_{};
  std::unique_ptr<Dir24> v4_;      // IPv4 address -> index in answers_
  std::vector<GeoAnswer> answers_;  // [0]: unknown
  size_t v4_networks_ = 0;          // IPv4 networks (data records) indexed
};

// One worker's cache of geolocation answers: direct-mapped, fixed size,
// allocated once; a slot holds the last address that hashed to it. Cleared
// when the worker picks up new tables (TagTables::generation).
class GeoCache {
 public:
  static constexpr size_t kSlots = size_t{1} << 16;
  GeoCache() : slots_(kSlots) {}

  void clear() { std::fill(slots_.begin(), slots_.end(), Slot{}); }

  GeoAnswer lookup_v4(const GeoDatabase& db, uint32_t addr) {
    Slot& s = slots_[index(0, addr)];
    if (!(s.family == 4 && s.lo == addr)) {
      s = Slot{0, addr, db.lookup_v4(addr), 4};
      ++misses_;
    }
    return s.answer;
  }
  GeoAnswer lookup_v6(const GeoDatabase& db, const uint8_t addr[16]) {
    uint64_t hi, lo;
    std::memcpy(&hi, addr, 8);
    std::memcpy(&lo, addr + 8, 8);
    Slot& s = slots_[index(hi, lo)];
    if (!(s.family == 6 && s.hi == hi && s.lo == lo)) {
      s = Slot{hi, lo, db.lookup_v6(addr), 6};
      ++misses_;
    }
    return s.answer;
  }
  uint64_t misses() const { return misses_; }

 private:
  struct Slot {
    uint64_t hi = 0, lo = 0;
    GeoAnswer answer;
    uint8_t family = 0;   // 0: empty

  };
  static size_t index(uint64_t hi, uint64_t lo) {
    const uint64_t h = (hi * 0x9E3779B97F4A7C15ull) ^ (lo * 0xC2B2AE3D27D4EB4Full);
    return static_cast<size_t>((h ^ (h >> 29)) * 0xBF58476D1CE4E5B9ull >> (64 - 16));
  }
  std::vector<Slot> slots_;
  uint64_t misses_ = 0;
};

}  // namespace privateer
