#!/bin/bash
# File size of flowtuple output in corsaro3's record order against the
# address-first order Privateer used before: runs Privateer (null codec) on a
# generated telescope capture, and perf/order_sizes.py re-sorts the records
# both ways and compresses them in 64 KiB blocks with each codec.
#   bash perf/bench_order.sh [PACKETS | CAPTURE]   (default 300000 generated packets)
set -euo pipefail
cd "$(dirname "$0")/.."
W=${WORKDIR:-$(mktemp -d /tmp/privateer-bench-order-XXXXXX)}
mkdir -p "$W/out"
if [ -f "${1:-}" ]; then
  IN=$(realpath "$1"); WHAT="capture $1"
else
  N=${1:-300000}; IN=$W/in.pcap; WHAT="capture: $N packets (gen_telescope --pps 3334)"
  build/perf/gen_telescope -n "$N" --pps 3334 -o "$IN" >/dev/null
fi
cat >"$W/c.yaml" <<CFG
packetsource: $IN
interval: 60
rotatefreq: 0
outtemplate: $W/out/%P.avro
prometheus: {enabled: no}
progress: no
output: {avro_codec: "null"}
plugins:
  - flowtuple
CFG
build/control/privateer -c "$W/c.yaml" >/dev/null
f=$(find "$W/out" -name 'flowtuple*.avro' | head -1)
echo "$WHAT, file $f"
avrocat "$f" | /usr/bin/python3 perf/order_sizes.py
[ -n "${WORKDIR:-}" ] || rm -rf "$W"
