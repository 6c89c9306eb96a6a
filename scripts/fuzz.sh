#!/usr/bin/env bash
# Builds the libFuzzer harness of privateer-read's reader
# (tests/fuzz/fuzz_avro_reader.cpp) with clang++ and ASan/UBSan, makes a seed
# corpus of small files of every codec (written by Privateer's own writer
# through privateer on a generated capture, and by python3-avro for
# corsaro3's dos/report schemas and a schema of every Avro type), and runs it.
#
# usage: scripts/fuzz.sh [SECONDS]   (default 60; 0: build and seed only)
# environment: BUILD (meson build dir with privateer and gen_telescope built,
#   default build), FUZZ_DIR (default build/fuzz), JOBS (parallel fuzzers, default 1)
# A crash leaves crash-* files in FUZZ_DIR; replay one with
#   build/fuzz/fuzz_avro_reader FILE
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SECONDS_TO_RUN=${1:-60}
BUILD=${BUILD:-$ROOT/build}
FUZZ_DIR=${FUZZ_DIR:-$BUILD/fuzz}
CXX=${CXX_FUZZ:-clang++}
command -v "$CXX" >/dev/null || { echo "fuzz.sh: $CXX not found (apt-get install clang)" >&2; exit 1; }
mkdir -p "$FUZZ_DIR/corpus"

SRC=(control/avro/codec.cpp control/avro/schema.cpp control/avro/decompress.cpp control/avro/reader.cpp
     control/read/out.cpp control/read/records.cpp control/read/ft2ascii.cpp control/read/summary.cpp
     tests/fuzz/fuzz_avro_reader.cpp)
BIN=$FUZZ_DIR/fuzz_avro_reader
(cd "$ROOT" && "$CXX" -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
   -I. "${SRC[@]}" -o "$BIN" -lisal -lsnappy -lzstd)
echo "built $BIN"

# Seeds: privateer's own files (every codec, small blocks), python3-avro's.
SEEDS=$FUZZ_DIR/seeds
if [ ! -d "$SEEDS" ]; then
  mkdir -p "$SEEDS"
  W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
  if [ -x "$BUILD/perf/gen_telescope" ] && [ -x "$BUILD/control/privateer" ]; then
    "$BUILD/perf/gen_telescope" -q -o "$W/small.pcap" -n 40 --pps 1
    for codec in null deflate snappy zstandard; do
      printf 'packetsource: "%s"\ninterval: 60\nrotatefreq: 0\nthreads: 1\nouttemplate: "%s/%s-%%P.avro"\nplugins: [flowtuple]\nprometheus: {enabled: no}\nprogress: no\noutput:\n  avro_codec: "%s"\n  avro_block_size: 1024\n' \
        "$W/small.pcap" "$SEEDS" "$codec" "$codec" >"$W/c.yaml"
      "$BUILD/control/privateer" -c "$W/c.yaml" >/dev/null 2>&1 || echo "fuzz.sh: privateer ($codec) failed; seeds without it" >&2
    done
    rm -f "$SEEDS"/*.done
  fi
  if /usr/bin/python3 -c 'import avro, snappy, zstandard' 2>/dev/null; then
    for s in corsaro_dos corsaro_report all_types; do
      for codec in null deflate snappy zstandard; do
        /usr/bin/python3 "$ROOT/tests/reader_check.py" write "$ROOT/tests/schemas/$s.avsc" "$codec" 1 12 \
          "$SEEDS/py-$s-$codec.avro" 4
      done
    done
  fi
  echo "seeds: $(ls "$SEEDS" | wc -l) files, $(du -sh "$SEEDS" | cut -f1)"
fi
[ "$SECONDS_TO_RUN" -gt 0 ] || exit 0
cd "$FUZZ_DIR"   # libFuzzer writes its fuzz-N.log files here
PAR=(); [ "${JOBS:-1}" -gt 1 ] && PAR=(-jobs="$JOBS" -workers="$JOBS")   # then logs go to fuzz-N.log
"$BIN" -max_total_time="$SECONDS_TO_RUN" "${PAR[@]}" -rss_limit_mb=2048 \
  -max_len=65536 -artifact_prefix="$FUZZ_DIR/" "$FUZZ_DIR/corpus" "$SEEDS"
