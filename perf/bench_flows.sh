#!/usr/bin/env bash
# Cost of the flow table: privateer with the null plugin, without flows and
# with `flows: {enabled: yes}`, on the same generated capture (nearly every
# packet a new flow: the table's worst case, inserts and evictions), one
# worker, interleaved runs in this one script. Prints packets/s of both,
# their ratio, peak RSS and bytes per packet, and the flow events. See
# perf/README.md.
#
# usage: perf/bench_flows.sh [PACKETS]
#   PACKETS   packets to generate (default 5000000; k/M/G suffixes accepted)
# environment:
#   BUILD, PRIVATEER, WORKDIR, SEED, REPEAT (default 3), KEEP as the other benchmarks
#   MAXFLOWS   flows.max (default 1048576)
# exit status: 0 ok; 1 bad usage or a missing tool; 2 a run failed.

set -euo pipefail
export LC_ALL=C
[ -n "${EPOCHREALTIME:-}" ] || { echo "bench_flows: needs bash >= 5" >&2; exit 1; }
die() { echo "bench_flows: ERROR: $*" >&2; exit 1; }
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=perf/bench_lib.sh
. "$ROOT/perf/bench_lib.sh"

PACKETS_ARG=${1:-5000000}
SEED=${SEED:-1}
MAXFLOWS=${MAXFLOWS:-1048576}
PACKETS=$(count_arg "$PACKETS_ARG") || die "bad PACKETS '$PACKETS_ARG'"
find_binaries "$ROOT"

work_dir privateer-bench-flows
echo "== machine"
machine_info
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) build=$BUILD workdir=$W maxflows=$MAXFLOWS"
F="$W/telescope-$PACKETS-seed$SEED.pcap"
[ -s "$F" ] || "$GEN" -o "$F" -n "$PACKETS" --seed "$SEED" -q || die "gen_telescope failed"
echo "capture=$F packets=$PACKETS size_mib=$(mib "$(stat -c %s "$F")")"
cat "$F" >/dev/null

cfg() {   # FLOWS-LINE
  printf 'packetsource: "%s"\ninterval: 60\nthreads: 1\nouttemplate: "%s/out/%%P-%%s"\nprometheus: {enabled: no}\nprogress: no\n%s\nplugins:\n  - null\n' \
    "$F" "$W" "$1"
}
cfg "" >"$W/plain.yaml"
cfg "flows: {enabled: yes, max: $MAXFLOWS}" >"$W/flows.yaml"

declare -A WALLS RSS_OF
echo "== runs"
for ((r = 1; r <= ${REPEAT:-3}; r++)); do
  for c in plain flows; do
    measure "$c.r$r" "$PRIVATEER" -c "$W/$c.yaml"
    [ "$RC" -eq 0 ] || { tail -n 15 "$W/$c.r$r.err" "$W/$c.r$r.out" >&2; exit 2; }
    WALLS[$c]="${WALLS[$c]:-} $WALL_S"
    RSS_OF[$c]=$(( ${RSS_OF[$c]:-0} > RSS_KB ? ${RSS_OF[$c]:-0} : RSS_KB ))
  done
done
echo "== results"
declare -A PPS
for c in plain flows; do
  med=$(printf '%s\n' ${WALLS[$c]} | median)
  PPS[$c]=$(fmt "$(f "$PACKETS / $med")" 0)
  echo "privateer null $c: wall_s:${WALLS[$c]} (median $(fmt "$med" 3)) pps=${PPS[$c]} peak_rss_mib=$(fmt "$(f "${RSS_OF[$c]} / 1024")" 1) bytes_per_packet=$(fmt "$(f "${RSS_OF[$c]} * 1024 / $PACKETS")" 2)"
done
grep -h "flows:" "$W/flows.r1.out" | sed 's/^ */flow events (run 1): /'
echo "== summary"
echo "SUMMARY packets=$PACKETS threads=1 maxflows=$MAXFLOWS plain_pps=${PPS[plain]} flows_pps=${PPS[flows]} ratio=$(fmt "$(f "${PPS[flows]} / ${PPS[plain]}")" 3) table_mib=$(fmt "$(f "(${RSS_OF[flows]} - ${RSS_OF[plain]}) / 1024")" 1)"
[ "${KEEP:-0}" = 1 ] && echo "kept $W"
exit 0
