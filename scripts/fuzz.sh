#!/usr/bin/env bash
# Builds libFuzzer harnesses with clang++ and ASan/UBSan, makes their seed
# corpora and runs them:
#   reader  privateer-read's reader (tests/fuzz/fuzz_avro_reader.cpp), seeded
#           with small files of every codec (written by Privateer's own writer
#           through privateer on a generated capture, and by python3-avro for
#           corsaro3's dos/report schemas and a schema of every Avro type)
#   config  the configuration parser and the plugins' options
#           (tests/fuzz/fuzz_config.cpp), seeded with configs/*.yaml,
#           configs/corsaro3/*.yaml and the variations written below
#
# usage: scripts/fuzz.sh [SECONDS] [reader|config|all]
#   SECONDS per harness (default 60; 0: build and seed only); default all
#   (the reader, then the config parser)
# environment: BUILD (meson build dir with privateer and gen_telescope built,
#   for the reader's seeds; default build), FUZZ_DIR (default build/fuzz),
#   JOBS (parallel fuzzers, default 1)
# A crash leaves crash-* files in FUZZ_DIR (the reader's) or FUZZ_DIR/config;
# replay one with build/fuzz/fuzz_avro_reader FILE or build/fuzz/fuzz_config FILE
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SECONDS_TO_RUN=${1:-60}
WHICH=${2:-all}
case "$WHICH" in reader|config|all) ;; *) echo "usage: scripts/fuzz.sh [SECONDS] [reader|config|all]" >&2; exit 2 ;; esac
BUILD=${BUILD:-$ROOT/build}
FUZZ_DIR=${FUZZ_DIR:-$BUILD/fuzz}
CXX=${CXX_FUZZ:-clang++}
command -v "$CXX" >/dev/null || { echo "fuzz.sh: $CXX not found (apt-get install clang)" >&2; exit 1; }
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT

# build OUT SOURCES... -- LIBS...
build() {
  local out=$1; shift
  local src=() libs=()
  while [ "$1" != -- ]; do src+=("$1"); shift; done; shift
  libs=("$@")
  (cd "$ROOT" && "$CXX" -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
     -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION \
     -I. "${src[@]}" -o "$out" "${libs[@]}")
  echo "built $out"
}

# fuzz BIN DIR SEEDS [libFuzzer options...]: runs BIN on DIR/corpus and SEEDS.
fuzz() {
  local bin=$1 dir=$2 seeds=$3; shift 3
  [ "$SECONDS_TO_RUN" -gt 0 ] || return 0
  mkdir -p "$dir/corpus"
  local par=(); [ "${JOBS:-1}" -gt 1 ] && par=(-jobs="$JOBS" -workers="$JOBS")   # then logs go to fuzz-N.log
  (cd "$dir" && "$bin" -max_total_time="$SECONDS_TO_RUN" "${par[@]}" -rss_limit_mb=2048 \
     -artifact_prefix="$dir/" "$@" "$dir/corpus" "$seeds")   # libFuzzer writes its fuzz-N.log files in $dir
}

reader() {
  local bin=$FUZZ_DIR/fuzz_avro_reader seeds=$FUZZ_DIR/seeds
  build "$bin" control/avro/codec.cpp control/avro/schema.cpp control/avro/decompress.cpp control/avro/reader.cpp \
    control/read/out.cpp control/read/records.cpp control/read/ft2ascii.cpp control/read/summary.cpp \
    tests/fuzz/fuzz_avro_reader.cpp -- -lisal -lsnappy -lzstd
  # Seeds: privateer's own files (every codec, small blocks), python3-avro's.
  if [ ! -d "$seeds" ]; then
    mkdir -p "$seeds"
    if [ -x "$BUILD/perf/gen_telescope" ] && [ -x "$BUILD/control/privateer" ]; then
      "$BUILD/perf/gen_telescope" -q -o "$W/small.pcap" -n 40 --pps 1
      for codec in null deflate snappy zstandard; do
        printf 'packetsource: "%s"\ninterval: 60\nrotatefreq: 0\nthreads: 1\nouttemplate: "%s/%s-%%P.avro"\nplugins: [flowtuple]\nprometheus: {enabled: no}\nprogress: no\noutput:\n  avro_codec: "%s"\n  avro_block_size: 1024\n' \
          "$W/small.pcap" "$seeds" "$codec" "$codec" >"$W/c.yaml"
        "$BUILD/control/privateer" -c "$W/c.yaml" >/dev/null 2>&1 || echo "fuzz.sh: privateer ($codec) failed; seeds without it" >&2
      done
      rm -f "$seeds"/*.done
    fi
    if /usr/bin/python3 -c 'import avro, snappy, zstandard' 2>/dev/null; then
      for s in corsaro_dos corsaro_report all_types; do
        for codec in null deflate snappy zstandard; do
          /usr/bin/python3 "$ROOT/tests/reader_check.py" write "$ROOT/tests/schemas/$s.avsc" "$codec" 1 12 \
            "$seeds/py-$s-$codec.avro" 4
        done
      done
    fi
    echo "seeds: $(ls "$seeds" | wc -l) files, $(du -sh "$seeds" | cut -f1)"
  fi
  fuzz "$bin" "$FUZZ_DIR" "$seeds" -max_len=65536
}

# The config harness's seeds: the shipped configs and variations reaching
# the other keys, value forms and YAML features.
config_seeds() {
  local d=$1 n=0
  mkdir -p "$d"
  cp "$ROOT"/configs/*.yaml "$d/"
  for f in "$ROOT"/configs/corsaro3/*.yaml; do cp "$f" "$d/corsaro3-$(basename "$f")"; done
  v() { n=$((n + 1)); cat >"$d/variation-$n.yaml"; }
  v <<'Y'
packetsource: [a.pcap, "pcapfile:b.pcap.gz", "erf:c.erf"]
outtemplate: "out/%Y%m%d/%H%M-%P"
plugins: [null, flowtuple]
interval: 300
rotatefreq: 0
threads: 64
startboundaryts: 1709164800
endboundaryts: 1709251200
Y
  v <<'Y'
inputuri: a.pcap
inputuri: [b.pcap, c.pcap]
outtemplate: "%N-%P-%s"
monitorid: m
plugins:
  - null:
  - FlowTuple: {avrooutput: none, ipv6: yes}
Y
  v <<'Y'
packetsource: "erf:x.erf.gz"
promisc: yes
outtemplate: "%P-%j-%%-%n-%t-%-5Ey-%_10OH-%#Z"
plugins:
  - flowtuple: {usesnappy: yes, sorttuples: no, mergethreads: 2}
removespoofed: no
tagging: disabled
Y
  v <<'Y'
packetsource: x.pcap
promisc: enabled
outtemplate: out-%P-%s
plugins: [~]
prometheus: {enabled: no, listen: "[::1]:0"}
output: {avro_codec: null, zstd_level: 22, deflate_level: 0, avro_block_size: 67108864, threads: 8}
progress: "yes"
ring_size: 65536
max_gap_intervals: 0
live_lateness: 3600
log: {level: warn}
user: nobody
libtimeseriesbackends: [ascii: {file: x}, dbats: ~]
controlsocketname: ipc:///tmp/x
tagsock: t
inputhwm: 25
statfilename: s
filter: ""
tagproviders:
Y
  v <<'Y'
packetsource: dpdk
dpdk:
  eal: [--no-huge, -m, "512"]
  ports:
    - {device: net_null0, rx_queues: 1024, rx_descriptors: 64, promiscuous: no, mtu: 0}
    - device: "0000:3b:00.1"
  mbuf_pool_size: 67108864
  burst_size: 512
promisc: yes
outtemplate: &t "%P-%s"
monitorid: *t
plugins: &p [flowtuple]
Y
  v <<'Y'
%YAML 1.2
---
packetsource: !!str a.pcap
outtemplate: 'o %P %s'
interval: 0x3c
plugins:
  - ? flowtuple
    : ipv6: off
      avrooutput: ZSTD
output: {avro_codec: Snappy}
...
Y
  v <<'Y'
{packetsource: "a.pcap", outtemplate: "o-%P-%s.avro", plugins: [{flowtuple: {avrooutput: "null"}}],
 output: {avro_codec: zstandard, zstd_level: 1}, progress: auto, log: {level: debug}}
Y
  echo "config seeds: $(ls "$d" | wc -l) files"
}

# A libFuzzer dictionary: the config's keys and words, YAML's punctuation.
config_dict() {
  local w
  for w in packetsource inputuri outtemplate monitorid logfilename interval rotatefreq threads \
      startboundaryts endboundaryts plugins promisc libtimeseriesbackends prometheus enabled listen \
      output avro_codec deflate_level zstd_level avro_block_size progress ring_size max_gap_intervals \
      live_lateness log level dpdk eal ports device rx_queues rx_descriptors promiscuous mtu \
      mbuf_pool_size burst_size user removespoofed tagging controlsocketname outputmode filter \
      tagproviders flowtuple null dos report ipv6 avrooutput usesnappy sorttuples mergethreads \
      ascii kafka dbats yes no enabled disabled none auto deflate snappy zstandard debug \
      %P %N %s %Y %9999M %-d %Ey ': ' '- ' '? ' '[' '{' '&a ' '*a' '!!str ' '---' '~' "'" '0x'; do
    printf '"%s"\n' "$w"
  done
}

config() {
  local bin=$FUZZ_DIR/fuzz_config dir=$FUZZ_DIR/config
  mkdir -p "$dir"
  # shellcheck disable=SC2046  # pkg-config's words
  build "$bin" control/config.cpp control/naming.cpp control/avro/codec.cpp hw/libtrace_source.cpp hw/file_source.cpp \
    plugins/registry.cpp plugins/common/options.cpp plugins/common/avro_encode.cpp plugins/common/flat_table.cpp \
    plugins/flowtuple/flowtuple.cpp plugins/null/null.cpp tests/fuzz/fuzz_config.cpp \
    -- $(pkg-config --libs yaml-cpp) -ltrace -lwandio -lisal -lsnappy -lzstd
  rm -rf "$dir/seeds"
  config_seeds "$dir/seeds"
  config_dict >"$dir/config.dict"
  fuzz "$bin" "$dir" "$dir/seeds" -max_len=8192 -timeout=10 -dict="$dir/config.dict"
}

mkdir -p "$FUZZ_DIR"
case "$WHICH" in
  reader) reader ;;
  config) config ;;
  all) reader; config ;;
esac
