#!/usr/bin/env bash
# End-to-end benchmark of the Avro output: privateer (flowtuple) on generated
# telescope captures with every codec and level, 1 and 2 workers, against
# `tcpdump -r F -w /dev/null` and a bare libpcap loop run in this same
# script. For each run: packets/s, the ratios to both baselines, the output
# bytes, their ratio to zlib level 9's for the same records (the null-codec
# run's blocks recompressed with Python's zlib at level 9, raw deflate as the
# Avro spec says), and peak RSS.
#
# usage: perf/bench_output.sh [PACKETS[:PPS]...]   (default: 2M:3334 10M:100000)
#   PACKETS  packets to generate (k/M suffixes); PPS the generator's packet
#            rate, which sets how many intervals the capture spans: 2M at
#            3334 pps span 10 one-minute intervals, 10M at 100000 pps two
#            (the capture of bench_flowtuple.sh).
# environment:
#   BUILD    meson build dir (default: build); nothing is built here
#   WORKDIR  work directory (default: a fresh mktemp -d, removed unless KEEP=1);
#            captures already generated there are reused
#   REPEAT   runs per measurement, the median wall time is kept (default 3)
#   RUNS     codec settings to run, space separated CODEC[:LEVEL] (default below)
#   WORKERS  worker counts (default "1 2")
# exit status: 0 ok; 1 bad usage or a baseline failed; 2 a privateer run failed.

set -euo pipefail
export LC_ALL=C
[ -n "${EPOCHREALTIME:-}" ] || { echo "bench_output: needs bash >= 5" >&2; exit 1; }
die() { echo "bench_output: ERROR: $*" >&2; exit 1; }
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=perf/bench_lib.sh
. "$ROOT/perf/bench_lib.sh"

BUILD=$(abs_build "$ROOT")
GEN="$BUILD/perf/gen_telescope"
BASELINE="$BUILD/perf/pcap_baseline"
PRIVATEER="$BUILD/control/privateer"
for b in "$GEN" "$BASELINE" "$PRIVATEER"; do [ -x "$b" ] || die "$b not built (ninja -C $BUILD)"; done
[ -x "$TIME" ] || die "$TIME (GNU time) is required (apt-get install time)"
command -v tcpdump >/dev/null || die "tcpdump is required for the baseline"
command -v python3 >/dev/null || die "python3 is required for the zlib-9 reference size"

SIZES=${*:-2M:3334 10M:100000}
RUNS=${RUNS:-null deflate:0 deflate:1 deflate:2 deflate:3 snappy zstandard:1 zstandard:3}
WORKERS=${WORKERS:-1 2}
work_dir privateer-bench-output

# zlib9_bytes FILE: the size FILE (a null-codec container) would have with
# each block compressed by zlib at level 9 (raw deflate), same framing.
zlib9_bytes() {
  python3 - "$1" <<'PY'
import sys, zlib
d = open(sys.argv[1], "rb").read()
pos = 0
def varint():
    global pos
    shift = u = 0
    while True:
        b = d[pos]; pos += 1
        u |= (b & 0x7f) << shift; shift += 7
        if not b & 0x80:
            return (u >> 1) ^ -(u & 1)
def varint_len(v):
    u = (v << 1) ^ (v >> 63); n = 1
    while u >= 0x80:
        u >>= 7; n += 1
    return n
pos = 4
while True:                      # metadata map blocks
    n = varint()
    if n == 0: break
    if n < 0: varint(); n = -n
    for _ in range(2 * n):
        ln = varint(); pos += ln
pos += 16
total = pos - len(b"null") + len(b"deflate")   # the header, codec name changed
while pos < len(d):
    count = varint(); size = varint()
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    z = c.compress(d[pos:pos + size]) + c.flush()
    pos += size + 16
    total += varint_len(count) + varint_len(len(z)) + len(z) + 16
print(total)
PY
}

echo "== machine"
machine_info
echo "libpcap: $(tcpdump --version 2>/dev/null | grep -i libpcap | head -1)"
echo "== runs (REPEAT=${REPEAT:-3}, median wall time kept)"
STATUS=0
for spec in $SIZES; do
  size=${spec%%:*}
  gen_pps=${spec#*:}; [ "$gen_pps" = "$spec" ] && gen_pps=100000
  F="$W/telescope-$size-$gen_pps.pcap"
  [ -s "$F" ] || "$GEN" -q -o "$F" -n "$size" --pps "$gen_pps" || die "gen_telescope failed"
  echo "capture: gen_telescope -n $size --pps $gen_pps ($F)"
  cat "$F" >/dev/null
  measure_median "base-$size" "$BASELINE" "$F"
  [ "$RC" -eq 0 ] || die "pcap_baseline failed"
  N=$(sed -n 's/.*packets=\([0-9]*\).*/\1/p' "$W/base-$size.out")
  report "libpcap loop" "$N"; echo; BASE_PPS=$PPS
  measure_median "tcpdump-$size" tcpdump -r "$F" -w /dev/null
  [ "$RC" -eq 0 ] || die "tcpdump failed"
  report "tcpdump -r -w /dev/null" "$N"; echo; TCPDUMP_PPS=$PPS
  ZLIB9=""
  for workers in $WORKERS; do
    for run in $RUNS; do
      codec=${run%%:*}
      level=${run#*:}; [ "$level" = "$run" ] && level=""
      out="$W/out"
      rm -rf "$out"; mkdir -p "$out"
      cfg="$W/bench.yaml"
      {
        echo "packetsource: \"$F\""
        echo "interval: 60"
        echo "rotatefreq: 0"
        echo "threads: $workers"
        echo "outtemplate: \"$out/%P-%s.avro\""
        echo "plugins: [flowtuple]"
        echo "prometheus: {enabled: no}"
        echo "progress: no"
        echo "output:"
        echo "  avro_codec: \"$codec\""
        case "$codec" in
          deflate) [ -n "$level" ] && echo "  deflate_level: $level" ;;
          zstandard) [ -n "$level" ] && echo "  zstd_level: $level" ;;
        esac
      } >"$cfg"
      name="pvt-$size-w$workers-${codec}${level}"
      measure_median "$name" "$PRIVATEER" -c "$cfg"
      if [ "$RC" -ne 0 ]; then
        echo "bench_output: privateer failed ($name, rc=$RC):" >&2; tail -5 "$W/$name.err" >&2
        STATUS=2; continue
      fi
      obytes=$(find "$out" -name '*.avro' -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
      if [ "$codec" = null ] && [ -z "$ZLIB9" ]; then
        ZLIB9=$(zlib9_bytes "$(find "$out" -name 'flowtuple-*.avro' | head -1)")
      fi
      AS=$(sed -n 's/.*analysis (read, decode, plugins) done after \([0-9.]*\) s.*/\1/p' "$W/$name.out")
      report "$name" "$N"
      echo " vs_tcpdump=$(fmt "$(f "$PPS / $TCPDUMP_PPS")" 3) vs_libpcap=$(fmt "$(f "$PPS / $BASE_PPS")" 3)" \
           "analysis_vs_libpcap=$(fmt "$(f "$N / ${AS:-0.000001} / $BASE_PPS")" 3)" \
           "output_bytes=$obytes vs_zlib9=$( [ -n "$ZLIB9" ] && fmt "$(f "$obytes / $ZLIB9")" 3 || echo n/a)"
    done
  done
  echo "zlib9_reference_bytes($size)=${ZLIB9:-n/a}"
done
exit "$STATUS"
