#!/usr/bin/env bash
# Benchmark of privateer-read: a big flowtuple file (gen_telescope ->
# privateer, one file for the whole capture) read in each output format
# (default ft2ascii, --json, --summary) to /dev/null, against baselines run
# in this same script on the same file: avro-c's avrocat (JSON) and
# python3-avro on its first SLICE records (they need ~95 s and ~300 s for
# the whole 2M-record file), and `cat` of the file's bytes. Prints records/s
# for each and the ratios.
#
# usage: perf/bench_reader.sh [PACKETS[:PPS]]   (default 2M:3334, ten 60 s intervals)
# environment:
#   BUILD    meson build dir (default: build); nothing is built here
#   CODEC    the file's codec (default deflate, privateer's default)
#   SLICE    records avrocat and python3-avro read (default 100000)
#   WORKDIR  work directory (default: a fresh mktemp -d, removed unless KEEP=1)
#   REPEAT   runs per measurement, the median wall time is kept (default 3)
# exit status: 0 ok; 1 bad usage or a baseline failed; 2 privateer-read failed.

set -euo pipefail
export LC_ALL=C
[ -n "${EPOCHREALTIME:-}" ] || { echo "bench_reader: needs bash >= 5" >&2; exit 1; }
die() { echo "bench_reader: ERROR: $*" >&2; exit 1; }
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=perf/bench_lib.sh
. "$ROOT/perf/bench_lib.sh"

BUILD=$(abs_build "$ROOT")
GEN="$BUILD/perf/gen_telescope"
PRIVATEER="$BUILD/control/privateer"
READER="$BUILD/control/privateer-read"
for b in "$GEN" "$PRIVATEER" "$READER"; do [ -x "$b" ] || die "$b not built (ninja -C $BUILD)"; done
[ -x "$TIME" ] || die "$TIME (GNU time) is required (apt-get install time)"
CODEC=${CODEC:-deflate}
SLICE=${SLICE:-100000}
SPEC=${1:-2M:3334}
SIZE=${SPEC%%:*}
GEN_PPS=${SPEC#*:}; [ "$GEN_PPS" = "$SPEC" ] && GEN_PPS=100000
work_dir privateer-bench-reader

echo "== machine"
machine_info
F="$W/telescope-$SIZE-$GEN_PPS.pcap"
[ -s "$F" ] || "$GEN" -q -o "$F" -n "$SIZE" --pps "$GEN_PPS" || die "gen_telescope failed"
OUT="$W/out-$CODEC"
if ! ls "$OUT"/flowtuple-*.avro >/dev/null 2>&1; then
  rm -rf "$OUT"; mkdir -p "$OUT"
  printf 'packetsource: "%s"\ninterval: 60\nrotatefreq: 0\nthreads: 2\nouttemplate: "%s/%%P-%%s.avro"\nplugins: [flowtuple]\nprometheus: {enabled: no}\nprogress: no\noutput:\n  avro_codec: "%s"\n' \
    "$F" "$OUT" "$CODEC" >"$W/bench.yaml"
  "$PRIVATEER" -c "$W/bench.yaml" >"$W/privateer.log" 2>&1 || die "privateer failed: $(tail -3 "$W/privateer.log")"
fi
AV=$(ls "$OUT"/flowtuple-*.avro | head -1)
BYTES=$(stat -c %s "$AV")
cat "$AV" >/dev/null
measure count "$READER" --summary "$AV"
[ "$RC" -eq 0 ] || { echo "bench_reader: privateer-read failed: $(cat "$W/count.err")" >&2; exit 2; }
N=$(sed -n 's/^file=.* records=\([0-9]*\) .*/\1/p' "$W/count.out")
echo "file: $AV ($CODEC, $(mib "$BYTES") MiB, $N records; capture gen_telescope -n $SIZE --pps $GEN_PPS)"
echo "== runs (REPEAT=${REPEAT:-3}, median wall time kept)"

# line LABEL RECORDS: records/s of the run just measured; sets RPS.
line() {
  RPS=$(awk -v n="$2" -v s="$WALL_S" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }')
  printf '%-26s records=%s wall_s=%s records_per_s=%s peak_rss_mib=%s' "$1" "$2" "$(fmt "$WALL_S" 3)" "$RPS" \
    "$(fmt "$(f "$RSS_KB / 1024")" 1)"
}

measure_median cat cat "$AV"
[ "$RC" -eq 0 ] || die "cat failed"
line "cat (bytes only)" "$N"; echo " MB_per_s=$(fmt "$(f "$BYTES / $WALL_S / 1000000")" 1)"
AVROCAT_RPS=""
if command -v avrocat >/dev/null && [ "$CODEC" != zstandard ]; then
  measure avrocat sh -c "avrocat '$AV' | head -n $SLICE >/dev/null"
  [ "$RC" -eq 0 ] || die "avrocat failed"
  line "avrocat (avro-c, slice)" "$SLICE"; echo; AVROCAT_RPS=$RPS
fi
PY_RPS=""
if /usr/bin/python3 -c 'import avro.datafile' 2>/dev/null; then
  measure python /usr/bin/python3 -c "
import itertools, sys
from avro.datafile import DataFileReader
from avro.io import DatumReader
r = DataFileReader(open(sys.argv[1], 'rb'), DatumReader())
print(sum(1 for _ in itertools.islice(r, int(sys.argv[2]))))" "$AV" "$SLICE"
  [ "$RC" -eq 0 ] || die "python3-avro failed: $(tail -2 "$W/python.err")"
  line "python3-avro (slice)" "$(cat "$W/python.out")"; echo; PY_RPS=$RPS
fi
STATUS=0
for mode in default --json --summary; do
  args=(); [ "$mode" = default ] || args=("$mode")
  measure_median "read$mode" sh -c "'$READER' ${args[*]:-} '$AV' >/dev/null"
  if [ "$RC" -ne 0 ]; then
    echo "bench_reader: privateer-read $mode failed: $(tail -2 "$W/read$mode.err")" >&2; STATUS=2; continue
  fi
  line "privateer-read $mode" "$N"
  echo " vs_python3_avro=$( [ -n "$PY_RPS" ] && fmt "$(f "$RPS / $PY_RPS")" 1 || echo n/a)" \
       "vs_avrocat=$( [ -n "$AVROCAT_RPS" ] && fmt "$(f "$RPS / $AVROCAT_RPS")" 2 || echo n/a)"
done
exit "$STATUS"
