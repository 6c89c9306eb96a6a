// privateer-read: prints the records of Avro object container files
// (Privateer's outputs, corsaro3's too) as text, JSON lines or a summary.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "control/avro/reader.hpp"
#include "control/read/printers.hpp"

namespace privateer::read {
namespace {

constexpr int kExitOk = 0, kExitUnreadable = 1, kExitDamaged = 3;

const char kUsage[] =
    "usage: privateer-read [--json | --summary] FILE...\n"
    "\n"
    "Prints the records of Avro object container files (Privateer's outputs,\n"
    "corsaro3's too; codecs null, deflate, snappy, zstandard). FILE - is stdin.\n"
    "\n"
    "  (default)   org.caida.corsaro.flowtuple files in corsaro3's corsavro_ft2ascii.py\n"
    "              format (per interval a header, the tuples, a footer; dotted IPs);\n"
    "              other files one line per record of field=value pairs (logfmt),\n"
    "              addresses (fields named *_ip) as IP text, bytes as hex\n"
    "  --json      one JSON object per record, fields in schema order; bytes and\n"
    "              fixed as lowercase hex strings, NaN and infinities as null\n"
    "  --summary   per file and interval: records, packets, bytes, the top 10 sources\n"
    "              and destination ports by packets\n"
    "  -h, --help  this text\n"
    "  --version   the version\n"
    "\n"
    "Exit status:\n"
    "  0  every file read to its end\n"
    "  1  bad usage, or a file that cannot be read, is not an Avro container\n"
    "     file or uses an unsupported codec\n"
    "  3  a file is damaged (cut short or corrupt): every record before the damage\n"
    "     is printed, then an error on stderr names the file, the byte offset and why\n"
    "With several files, each is read and the highest status is returned.\n";

enum class Mode { text, json, summary };

void error(const std::string& path, const std::string& what) {
  std::fprintf(stderr, "privateer-read: %s: %s\n", path.c_str(), what.c_str());
}

class Reader {
 public:
  explicit Reader(Mode mode)
      : mode_(mode), out_(stdout), text_(make_text_printer(out_)), json_(make_json_printer(out_)),
        ft2ascii_(make_ft2ascii_printer(out_)), summary_(make_summary_printer(out_)) {}

  int read_file(const std::string& path) {
    int fd = 0;
    if (path != "-" && (fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC)) < 0) {
      error(path, std::string("cannot open: ") + std::strerror(errno));
      return kExitUnreadable;
    }
    uint64_t got = 0;
    auto read_fd = [fd, &got](uint8_t* buf, size_t n) -> size_t {
      for (;;) {
        const ssize_t r = ::read(fd, buf, n);
        if (r >= 0) {
          got += static_cast<uint64_t>(r);
          return static_cast<size_t>(r);
        }
        if (errno != EINTR) {
          throw AvroReadError(AvroReadError::Kind::unreadable, got, std::string("read error: ") + std::strerror(errno));
        }
      }
    };
    const int status = read_stream(path, read_fd);
    if (fd > 0) ::close(fd);
    return status;
  }

  // Writes what is pending; 1 if the output could not be written.
  int finish() {
    ft2ascii_->finish();
    out_.flush();
    if (out_.failed()) {
      std::fprintf(stderr, "privateer-read: cannot write the output: %s\n", std::strerror(out_.write_errno()));
      return kExitUnreadable;
    }
    return kExitOk;
  }

 private:
  Printer& printer_for(const RecordDecoder& dec) {
    if (mode_ == Mode::json) return *json_;
    if (mode_ == Mode::summary) return *summary_;
    if (is_flowtuple(dec)) return *ft2ascii_;
    ft2ascii_->finish();   // the flowtuples before this file are written first
    return *text_;
  }

  int read_stream(const std::string& path, const AvroReadFn& read) {
    std::unique_ptr<AvroContainerReader> r;
    try {
      r = std::make_unique<AvroContainerReader>(read);
    } catch (const AvroReadError& e) {
      return fail(path, e);
    }
    RecordDecoder dec(r->schema());
    Printer& p = printer_for(dec);
    std::vector<AvroValue> values(dec.fields());
    p.begin_file(path, r->codec(), dec);
    try {
      AvroBlock b;
      while (r->next_block(b)) {
        const uint8_t* at = b.data;
        const uint8_t* end = b.data + b.size;
        for (int64_t i = 0; i < b.records; ++i) {
          const uint8_t* next = dec.decode(at, end, values.data());
          if (!next) throw decode_damage(r->codec(), b, i, dec.error());
          p.record(values.data());
          at = next;
        }
        if (at != end) {
          throw AvroReadError(AvroReadError::Kind::damaged, b.data_offset,
                              "block " + std::to_string(b.index) + ": " + std::to_string(end - at) +
                                  " bytes left after its " + std::to_string(b.records) + " records");
        }
      }
    } catch (const AvroReadError& e) {
      p.end_file();
      if (&p == ft2ascii_.get()) ft2ascii_->finish();   // the records before the damage
      return fail(path, e);
    }
    p.end_file();
    return kExitOk;
  }

  static AvroReadError decode_damage(AvroCodec codec, const AvroBlock& b, int64_t record, const AvroDecodeError& e) {
    const auto pos = static_cast<uint64_t>(e.at - b.data);
    std::string why = "block " + std::to_string(b.index) + ", record " + std::to_string(record) + ": " + e.why;
    if (codec == AvroCodec::null) return AvroReadError(AvroReadError::Kind::damaged, b.data_offset + pos, why);
    return AvroReadError(AvroReadError::Kind::damaged, b.data_offset,
                         why + " (byte " + std::to_string(pos) + " of the block's decompressed data)");
  }

  int fail(const std::string& path, const AvroReadError& e) {
    out_.flush();   // every record before the damage, then the error
    error(path, "byte " + std::to_string(e.offset) + ": " + e.what());
    return e.kind == AvroReadError::Kind::damaged ? kExitDamaged : kExitUnreadable;
  }

  Mode mode_;
  Out out_;
  std::unique_ptr<Printer> text_, json_, ft2ascii_, summary_;
};

int run(int argc, char** argv) {
  Mode mode = Mode::text;
  bool mode_set = false;
  std::vector<std::string> files;
  bool options = true;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (options && a == "--") {
      options = false;
    } else if (options && (a == "-h" || a == "--help")) {
      std::fputs(kUsage, stdout);
      return kExitOk;
    } else if (options && a == "--version") {
      std::printf("privateer-read %s\n", PRIVATEER_VERSION);
      return kExitOk;
    } else if (options && (a == "--json" || a == "--summary")) {
      const Mode m = a == "--json" ? Mode::json : Mode::summary;
      if (mode_set && m != mode) {
        std::fputs("privateer-read: --json and --summary exclude each other\n", stderr);
        return kExitUnreadable;
      }
      mode = m;
      mode_set = true;
    } else if (options && a.size() > 1 && a[0] == '-') {
      std::fprintf(stderr, "privateer-read: unknown option %s\n%s", a.c_str(), kUsage);
      return kExitUnreadable;
    } else {
      files.push_back(a);
    }
  }
  if (files.empty()) {
    std::fputs(kUsage, stderr);
    return kExitUnreadable;
  }
  Reader reader(mode);
  int status = kExitOk;
  for (const std::string& f : files) status = std::max(status, reader.read_file(f));
  return std::max(status, reader.finish());
}

}  // namespace
}  // namespace privateer::read

int main(int argc, char** argv) { return privateer::read::run(argc, argv); }
