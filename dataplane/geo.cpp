#include "dataplane/geo.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstring>
#include <unordered_map>

namespace privateer {

namespace {

// MMDB_aget_value paths: fixed arrays, so a lookup allocates nothing.
const char* const kContinentPath[] = {"continent", "code", nullptr};
const char* const kCountryPath[] = {"country", "iso_code", nullptr};

bool code_char(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// A two-character code (letters or digits) under `path`, or nothing.
void two_letters(MMDB_entry_s& entry, const char* const* path, char out[2]) {
  MMDB_entry_data_s d{};
  if (MMDB_aget_value(&entry, &d, path) != MMDB_SUCCESS) return;
  if (!d.has_data || d.type != MMDB_DATA_TYPE_UTF8_STRING || d.data_size != 2) return;
  if (!code_char(d.utf8_string[0]) || !code_char(d.utf8_string[1])) return;
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

GeoAnswer GeoDatabase::answer(MMDB_entry_s entry) const {
  GeoAnswer a;
  two_letters(entry, kContinentPath, a.continent);
  two_letters(entry, kCountryPath, a.country);
  return a;
}

GeoAnswer GeoDatabase::lookup_v4_tree(uint32_t addr_host_order) const {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(addr_host_order);
  int err = 0;
  const MMDB_lookup_result_s r = MMDB_lookup_sockaddr(&mmdb_, reinterpret_cast<const sockaddr*>(&sa), &err);
  if (err != MMDB_SUCCESS || !r.found_entry) return {};
  return answer(r.entry);
}

bool GeoDatabase::index_ipv4() {
  if (v4_) return true;
  const uint32_t nodes = mmdb_.metadata.node_count;
  // The IPv4 root: node 0 of an IPv4 database, 96 zero bits down (::/96) in
  // an IPv6 one; a record met on the way covers all of IPv4.
  MMDB_search_node_s root{};
  uint64_t record = 0;
  uint8_t type = MMDB_RECORD_TYPE_SEARCH_NODE;
  MMDB_entry_s entry{};
  for (int bit = 0; bit < (mmdb_.metadata.ip_version == 6 ? 96 : 0) && type == MMDB_RECORD_TYPE_SEARCH_NODE; ++bit) {
    if (MMDB_read_node(&mmdb_, static_cast<uint32_t>(record), &root) != MMDB_SUCCESS) return false;
    record = root.left_record;
    type = root.left_record_type;
    entry = root.left_record_entry;
  }

  auto table = std::make_unique<Dir24>();
  std::vector<GeoAnswer> answers(1);
  std::unordered_map<uint32_t, uint32_t> by_record, by_answer;   // data offset / packed answer -> index
  size_t networks = 0;
  auto value_of = [&](MMDB_entry_s e) {
    auto [it, fresh] = by_record.try_emplace(e.offset, 0);
    if (fresh) {
      const GeoAnswer a = answer(e);
      uint32_t packed;
      std::memcpy(&packed, &a, sizeof packed);
      if (packed != 0) {
        auto [at, new_answer] = by_answer.try_emplace(packed, static_cast<uint32_t>(answers.size()));
        if (new_answer) answers.push_back(a);
        it->second = at->second;
      }
    }
    return it->second;
  };
  // Each data record met covers prefix/depth; empty and invalid records
  // leave their addresses unknown, as a lookup through libmaxminddb does.
  auto leaf = [&](uint8_t t, MMDB_entry_s e, uint32_t prefix, unsigned depth) {
    if (t != MMDB_RECORD_TYPE_DATA) return;
    ++networks;
    if (const uint32_t v = value_of(e)) table->insert(prefix, depth, v);
  };

  if (type != MMDB_RECORD_TYPE_SEARCH_NODE) {
    leaf(type, entry, 0, 0);
  } else {
    // Depth first; a node met more often than the tree has nodes means it
    // is reached twice (a DAG or a loop), and the index could blow up.
    struct Todo {
      uint32_t node, prefix;
      unsigned depth;
    };
    std::vector<Todo> todo{{static_cast<uint32_t>(record), 0, 0}};
    uint64_t visited = 0;
    while (!todo.empty()) {
      const Todo t = todo.back();
      todo.pop_back();
      MMDB_search_node_s n{};
      if (++visited > nodes || MMDB_read_node(&mmdb_, t.node, &n) != MMDB_SUCCESS) return false;
      const uint64_t rec[2] = {n.left_record, n.right_record};
      const uint8_t types[2] = {n.left_record_type, n.right_record_type};
      const MMDB_entry_s entries[2] = {n.left_record_entry, n.right_record_entry};
      for (unsigned side = 0; side < 2; ++side) {
        const uint32_t prefix = t.prefix | side << (31 - t.depth);
        const unsigned depth = t.depth + 1;
        if (types[side] != MMDB_RECORD_TYPE_SEARCH_NODE) leaf(types[side], entries[side], prefix, depth);
        else if (depth < 32) todo.push_back({static_cast<uint32_t>(rec[side]), prefix, depth});
        // (a search node past the 32nd bit: no answer, as libmaxminddb finds none)
      }
    }
  }
  table->shrink();
  answers.shrink_to_fit();
  v4_ = std::move(table);
  answers_ = std::move(answers);
  v4_networks_ = networks;
  return true;
}

GeoAnswer GeoDatabase::lookup_v6(const uint8_t addr[16]) const {
  sockaddr_in6 sa{};
  sa.sin6_family = AF_INET6;
  std::memcpy(&sa.sin6_addr, addr, 16);
  int err = 0;
  // An IPv6 address in an IPv4-only database: an error, so unknown.
  const MMDB_lookup_result_s r = MMDB_lookup_sockaddr(&mmdb_, reinterpret_cast<const sockaddr*>(&sa), &err);
  if (err != MMDB_SUCCESS || !r.found_entry) return {};
  return answer(r.entry);
}

}  // namespace privateer
