#!/usr/bin/env bash
# Builds the libFuzzer harnesses of tests/fuzz/ (meson -Dfuzz=true with
# clang++ and ASan+UBSan, in build-fuzz/), makes their seed corpora and runs
# each for SECONDS:
#   capture      capture files through open_source(), every packet decoded
#                (tests/fuzz/fuzz_capture.cpp), seeded with ../shared/corpus/
#                (each file cut to its first 64 KiB), ../shared/defects/ and
#                gzip, bzip2 and xz copies of small corpus files
#   decode       the packet decoder, every link type (tests/fuzz/fuzz_decode.cpp),
#                seeded with the corpus's packets (tests/fuzz/decode_seeds.py)
#   config       the configuration parser and the plugins' options
#                (tests/fuzz/fuzz_config.cpp), seeded with configs/*.yaml,
#                configs/corsaro3/*.yaml and the variations written below
#   avro_reader  privateer-read's reader (tests/fuzz/fuzz_avro_reader.cpp),
#                seeded with small files of every codec (written by privateer
#                on a generated capture, and by python3-avro for corsaro3's
#                dos/report schemas and a schema of every Avro type)
#   salvage      privateer-recover's scan of an unclosed file
#                (tests/fuzz/fuzz_salvage.cpp), seeded like avro_reader
#   bpf          custom BPF filters: an expression compiled for every link
#                type, run over fixed packets and one fuzzed packet
#                (tests/fuzz/fuzz_bpf.cpp), seeded with the expressions below
#   pfx2as       the pfx2as parser and prefix table (tests/fuzz/fuzz_pfx2as.cpp),
#                seeded with nested, multi-origin, AS-set and asdot lines and the
#                first lines of python3-pyasn's IPv4 and IPv6 tables, converted
#   mmdb         MaxMind databases through GeoDatabase and GeoCache
#                (tests/fuzz/fuzz_mmdb.cpp), seeded with ../shared/geo/*.mmdb
#   dos          the dos plugin on one decoded packet, its workers and merge
#                (tests/fuzz/fuzz_dos.cpp), seeded like decode plus the
#                crafted backscatter of tests/dos_craft.py
#   regex_rules  the regex plugin's rules file parser
#                (tests/fuzz/fuzz_regex_rules.cpp), seeded with the lines below
#   flows_file   pcapextract's flows file parser (tests/fuzz/fuzz_flows_file.cpp),
#                seeded with the lines below
#   wdcap        wdcap's frame of a packet (ERF records, VLAN tags, snap
#                length) and the flow table's update (tests/fuzz/fuzz_wdcap.cpp),
#                seeded like decode with an options byte after the link type
#
# usage: scripts/fuzz.sh [SECONDS] [NAME|all]
#   SECONDS per harness (default 60; 0: build and seed only); default all
# Prints, per harness, the executions (libFuzzer's
# stat::number_of_executed_units) and what it found; exits 1 if any harness
# found something (a crash, a sanitizer report, a leak, an input over 10 s or
# 2 GiB). A finding is left in FUZZ_DIR/NAME/ (crash-*, leak-*, timeout-*,
# oom-*); replay it with build-fuzz/tests/fuzz/fuzz_NAME FILE.
# environment: BUILD (meson build dir with privateer and gen_telescope built,
#   for avro_reader's seeds; default build), FUZZ_BUILD (default build-fuzz),
#   FUZZ_DIR (seeds, corpora, findings; default FUZZ_BUILD/runs), SHARED
#   (default ../shared beside the checkout), LIBFUZZER_ARGS (more libFuzzer
#   options for every harness, e.g. -detect_leaks=0)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SECONDS_TO_RUN=${1:-60}
WHICH=${2:-all}
ALL=(capture decode config avro_reader salvage bpf pfx2as mmdb dos regex_rules flows_file wdcap)
case "$WHICH" in all|capture|decode|config|avro_reader|salvage|bpf|pfx2as|mmdb|dos|regex_rules|flows_file|wdcap) ;;
  *) echo "usage: scripts/fuzz.sh [SECONDS] [capture|decode|config|avro_reader|salvage|bpf|pfx2as|mmdb|dos|regex_rules|flows_file|wdcap|all]" >&2; exit 2 ;; esac
BUILD=${BUILD:-$ROOT/build}
FUZZ_BUILD=${FUZZ_BUILD:-$ROOT/build-fuzz}
FUZZ_DIR=${FUZZ_DIR:-$FUZZ_BUILD/runs}
SHARED=${SHARED:-$ROOT/../shared}
command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ not found (scripts/install-deps.sh installs clang)" >&2; exit 1; }
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT

if [ ! -f "$FUZZ_BUILD/build.ninja" ]; then
  CXX=clang++ meson setup "$FUZZ_BUILD" -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
    -Doptimization=1 -Ddebug=true >/dev/null
fi
ninja -C "$FUZZ_BUILD" fuzz

# shared_files DIR: the plain files of ../shared/DIR, or a message.
shared_files() {
  if [ -d "$SHARED/$1" ]; then
    find "$SHARED/$1" -maxdepth 1 -type f ! -name '*.md' ! -name '*.tsv' | sort
  else
    echo "fuzz.sh: $SHARED/$1 absent: seeds without it" >&2
  fi
}

capture_seeds() {
  local d=$1 f
  mkdir -p "$d"
  for f in $(shared_files corpus) $(shared_files defects); do head -c 65536 "$f" >"$d/$(basename "$f")"; done
  # Every compression hw/ reads (gzip, bzip2, xz, zstd).
  for f in $(shared_files corpus | grep -E '__(100_packets|100_packetsns|qinq|vlan)\.pcap(ng)?$'); do
    gzip -9c "$f" >"$d/$(basename "$f").gz"
    if command -v bzip2 >/dev/null; then bzip2 -c "$f" >"$d/$(basename "$f").bz2"; fi
    if command -v xz >/dev/null; then xz -c "$f" >"$d/$(basename "$f").xz"; fi
    if command -v zstd >/dev/null; then zstd -qc "$f" >"$d/$(basename "$f").zst"; fi
  done
  echo "capture seeds: $(ls "$d" | wc -l) files"
}

# Magic numbers of the capture formats and compressors, pcapng block types.
capture_dict() {
  printf '%s\n' '"\xd4\xc3\xb2\xa1"' '"\xa1\xb2\xc3\xd4"' '"\x4d\x3c\xb2\xa1"' '"\xa1\xb2\x3c\x4d"' \
    '"\x0a\x0d\x0d\x0a"' '"\x4d\x3c\x2b\x1a"' '"\x1a\x2b\x3c\x4d"' '"\x01\x00\x00\x00"' '"\x06\x00\x00\x00"' \
    '"\x03\x00\x00\x00"' '"\x02\x00\x00\x00"' '"\x1f\x8b\x08"' '"BZh9"' '"\xfd7zXZ\x00"' '"\x28\xb5\x2f\xfd"' \
    '"\xff\xff\xff\x7f"' '"\xff\xff\xff\xff"' '"\x00\x00\x04\x00"' '"\x02\x04"' '"\x16\x04"' '"\x17\x04"' '"\x82\x04"'
}

# Ethertypes, LLC/SNAP, PPP protocols, IP version nibbles.
decode_dict() {
  printf '%s\n' '"\x08\x00"' '"\x86\xdd"' '"\x81\x00"' '"\x88\xa8"' '"\x91\x00"' '"\x88\x47"' '"\x88\x48"' \
    '"\x88\x64"' '"\xaa\xaa\x03\x00\x00\x00"' '"\x00\x21"' '"\x00\x57"' '"\x45\x00"' '"\x60\x00"' '"\x00\x00\x00\x00"'
}

avro_reader_seeds() {
  local seeds=$1
  mkdir -p "$seeds"
  if [ -x "$BUILD/perf/gen_telescope" ] && [ -x "$BUILD/control/privateer" ]; then
    "$BUILD/perf/gen_telescope" -q -o "$W/small.pcap" -n 40 --pps 1
    for codec in null deflate snappy zstandard; do
      printf 'packetsource: "%s"\ninterval: 60\nrotatefreq: 0\nthreads: 1\nouttemplate: "%s/%s-%%P.avro"\nplugins: [flowtuple]\nprometheus: {enabled: no}\nprogress: no\noutput:\n  avro_codec: "%s"\n  avro_block_size: 1024\n' \
        "$W/small.pcap" "$seeds" "$codec" "$codec" >"$W/c.yaml"
      "$BUILD/control/privateer" -c "$W/c.yaml" >/dev/null 2>&1 || echo "fuzz.sh: privateer ($codec) failed; seeds without it" >&2
    done
    rm -f "$seeds"/*.done
  else
    echo "fuzz.sh: no $BUILD/control/privateer or $BUILD/perf/gen_telescope: seeds without privateer's files" >&2
  fi
  if /usr/bin/python3 -c 'import avro, snappy, zstandard' 2>/dev/null; then
    for s in corsaro_dos corsaro_report all_types; do
      for codec in null deflate snappy zstandard; do
        /usr/bin/python3 "$ROOT/tests/reader_check.py" write "$ROOT/tests/schemas/$s.avsc" "$codec" 1 12 \
          "$seeds/py-$s-$codec.avro" 4
      done
    done
  else
    echo "fuzz.sh: python3-avro with snappy and zstandard not installed: seeds without its files" >&2
  fi
  echo "avro_reader seeds: $(ls "$seeds" | wc -l) files"
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
packetsource: a.pcap
outtemplate: o-%P-%s
filters:
  syn: "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn"
  dns_53: udp port 53
  tagged: vlan and ip6
remove: [dns_53]
basicfilter: "not net 10.0.0.0/8"
plugins:
  - flowtuple: {filter: syn, sorttuples: no}
  - null: {filter: tagged}
Y
  v <<'Y'
{packetsource: "a.pcap", outtemplate: "o-%P-%s.avro", plugins: [{flowtuple: {avrooutput: "null"}}],
 output: {avro_codec: zstandard, zstd_level: 1}, progress: auto, log: {level: debug}}
Y
  v <<'Y'
packetsource: a.pcap
outtemplate: o-%P-%s
plugins: [flowtuple]
tagproviders:
  - pfx2as:
      prefixfile: /data/routeviews-rv2-20240101-1200.pfx2as.gz
  - maxmind: {directory: /data/maxmind}
  - netacq-edge: {blocksfile: b, locationsfile: l, polygontablefile: t}
Y
  v <<'Y'
packetsource: a.pcap
outtemplate: o-%P-%s
plugins: [flowtuple]
libtimeseriesbackends:
  - ascii: {file: ts.gz, compress: 9, queue_points: 1, flush_timeout: 0}
  - graphite: {host: "::1", port: 2003}
  - influxdb: {url: "https://h:8086/", database: "d b", measurement: "m,x"}
  - kafka: {brokeruri: "a:1,b:2", channelname: c, compresscodec: Uncompressed, topicprefix: p, measurement: m}
  - kafka: {brokeruri: x, flush_timeout: 3600}
Y
  echo "config seeds: $(ls "$d" | wc -l) files"
}

# pfx2as seeds: CAIDA's format (ADDRESS TAB LENGTH TAB AS) by hand, and the
# head of python3-pyasn's tables (a.b.c.d/len TAB AS) turned into it.
pfx2as_seeds() {
  local d=$1; mkdir -p "$d"
  printf '0.0.0.0\t0\t1\n10.0.0.0\t8\t64512\n10.1.0.0\t16\t64513_64514\n10.1.2.0\t24\t1.10\n10.1.2.128\t25\t7,8\n10.1.2.129\t32\t9\n' >"$d/nested"
  printf '2001:db8::\t32\t3356\n2001:db8:1::\t48\t174_3356\n::\t0\t4200000000\n2001:db8:1::1\t128\t65000\n' >"$d/v6"
  printf '192.0.2.0\t24\t64496\r\n192.0.2.0\t24\t64497\n\n198.51.100.7\t30\t4294967295\n' >"$d/dup_crlf"
  local t
  for t in /usr/lib/python3/dist-packages/data/ipasn_20140513.dat.gz /usr/lib/python3/dist-packages/data/ipasn6_20151101.dat.gz; do
    [ -f "$t" ] || { echo "fuzz.sh: $t absent: pfx2as seeds without it" >&2; continue; }
    # awk reads the whole table: a reader stopping early would fail the pipe (pipefail)
    zcat "$t" | awk -F'[/\t]' -v OFS='\t' '!/^;/ && n++ < 300 {print $1, $2, $3}' >"$d/$(basename "$t" .dat.gz)"
  done
}

# A libFuzzer dictionary: the config's keys and words, YAML's punctuation.
config_dict() {
  local w
  for w in packetsource inputuri outtemplate monitorid logfilename interval rotatefreq threads \
      startboundaryts endboundaryts plugins promisc libtimeseriesbackends prometheus enabled listen \
      output avro_codec deflate_level zstd_level avro_block_size progress ring_size max_gap_intervals \
      live_lateness log level dpdk eal ports device rx_queues rx_descriptors promiscuous mtu \
      mbuf_pool_size burst_size user removespoofed tagging controlsocketname outputmode filter \
      tagproviders pfx2as prefixfile maxmind directory blocksfile locationsfile netacq-edge flowtuple null dos report ipv6 avrooutput usesnappy sorttuples mergethreads \
      filters remove basicfilter spoofed 'tcp port 80' 'udp and vlan' \
      ascii kafka dbats yes no enabled disabled none auto deflate snappy zstandard debug \
      %P %N %s %Y %9999M %-d %Ey ': ' '- ' '? ' '[' '{' '&a ' '*a' '!!str ' '---' '~' "'" '0x'; do
    printf '"%s"\n' "$w"
  done
}

# The bpf harness's seeds: expressions of the kinds configs use, each
# followed by a newline and a packet (link-type byte, then the bytes).
bpf_seeds() {
  local d=$1 n=0 e
  mkdir -p "$d"
  for e in 'tcp' 'udp port 53' 'tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn' 'ip and len > 100' \
      'net 10.0.0.0/8 or src host 192.168.1.2' 'vlan and ip6' 'ether broadcast' 'icmp[icmptype] == icmp-echo' \
      'ip[8] < 64 and not ip[6:2] & 0x1fff != 0' 'ip6 and udp and (port 53 or portrange 5000-6000)' \
      'mpls and ip' 'greater 1500 or less 60' 'ip proto \sctp' 'ether[12:2] = 0x0800'; do
    n=$((n + 1))
    printf '%s\n\001\105\000\000\050\000\001\000\000\100\006\000\000\012\000\000\001\300\250\001\002\004\322\000\120' \
      "$e" >"$d/expr-$n"
  done
  echo "bpf seeds: $(ls "$d" | wc -l) files"
}

bpf_dict() {
  local w
  for w in ip ip6 tcp udp icmp icmp6 sctp arp vlan mpls pppoes ether host net port portrange src dst \
      proto len greater less and or not broadcast multicast tcpflags tcp-syn tcp-ack icmptype \
      '[' ']' '(' ')' ' & ' ' == ' ' != ' ' > ' ':2' '0x' '/8' '\\'; do
    printf '"%s"\n' "$w"
  done
}

# The regex_rules harness's seeds: one file of every rule form, and lines
# one each.
regex_rules_seeds() {
  local d=$1 i=0 l
  mkdir -p "$d"
  local lines=('# comment' 'get tcp /^GET /' 'ok /HTTP\/1\.[01] 200/' 'host any /host:/i alarm'
    'user port=21,2121 /USER /' 'dns udp port=53 /^..\x01\x00/s' 'ext tcp /a b # c/smx'
    'bad port=99999 /x/' 'x //' 'x /a/q' 'dup /a/')
  printf '%s\n' "${lines[@]}" >"$d/all"
  for l in "${lines[@]}"; do printf '%s\n' "$l" >"$d/line-$i"; i=$((i + 1)); done
}

# The flows_file harness's seeds: one file of every line form, and lines
# one each.
flows_file_seeds() {
  local d=$1 i=0 l
  mkdir -p "$d"
  local lines=('# comment' 'tcp 10.0.0.1 1000 10.0.0.2 80' 'udp 2001:db8::1 53 2001:db8::2 5353  # dns'
    'icmp 192.0.2.1 8 192.0.2.2 0' '17 ::ffff:10.0.0.1 1 ::1 2' 'sctp 10.0.0.2 80 10.0.0.1 1000'
    'tcp 10.0.0.1 1000 10.0.0.2' 'tcp 10.0.0.1 1000 ::1 80' 'gre 10.0.0.1 0 10.0.0.2 0' 'tcp 10.0.0.1 70000 10.0.0.2 80')
  printf '%s\n' "${lines[@]}" >"$d/all"
  for l in "${lines[@]}"; do printf '%s\n' "$l" >"$d/line-$i"; i=$((i + 1)); done
}

# run NAME [libFuzzer options...]: seeds, then NAME's harness for SECONDS
# on FUZZ_DIR/NAME/corpus (kept between runs) and the fresh seeds.
FOUND=()
run() {
  local name=$1; shift
  local dir=$FUZZ_DIR/$name bin=$FUZZ_BUILD/tests/fuzz/fuzz_$name
  mkdir -p "$dir/corpus"
  rm -rf "$dir/seeds"
  case "$name" in
    capture) capture_seeds "$dir/seeds"; capture_dict >"$dir/dict" ;;
    decode) python3 "$ROOT/tests/fuzz/decode_seeds.py" "$dir/seeds" $(shared_files corpus) $(shared_files defects)
            decode_dict >"$dir/dict" ;;
    config) config_seeds "$dir/seeds"; config_dict >"$dir/dict" ;;
    avro_reader|salvage) avro_reader_seeds "$dir/seeds" ;;
    bpf) bpf_seeds "$dir/seeds"; bpf_dict >"$dir/dict" ;;
    pfx2as) pfx2as_seeds "$dir/seeds" ;;
    mmdb) mkdir -p "$dir/seeds"; for f in $(shared_files geo); do case "$f" in *.mmdb) cp "$f" "$dir/seeds/" ;; esac; done ;;
    dos) /usr/bin/python3 "$ROOT/tests/dos_craft.py" "$dir/crafted.pcap"
         python3 "$ROOT/tests/fuzz/decode_seeds.py" "$dir/seeds" "$dir/crafted.pcap" $(shared_files corpus)
         decode_dict >"$dir/dict" ;;
    regex_rules) regex_rules_seeds "$dir/seeds" ;;
    flows_file) flows_file_seeds "$dir/seeds" ;;
    wdcap) python3 "$ROOT/tests/fuzz/decode_seeds.py" "$dir/raw" $(shared_files corpus)
           mkdir -p "$dir/seeds"
           # Each decode seed with an options byte after its link type byte:
           # nothing, strip VLANs, FCS 3 and a 9-byte snap length, all set.
           for f in "$dir"/raw/*; do
             [ -f "$f" ] || continue
             for o in 00 01 8f ff; do
               { head -c 1 "$f"; printf "\\x$o"; tail -c +2 "$f"; } >"$dir/seeds/$(basename "$f")-$o"
             done
           done
           rm -rf "$dir/raw"
           decode_dict >"$dir/dict" ;;
  esac
  [ "$SECONDS_TO_RUN" -gt 0 ] || return 0
  local dict=(); [ -f "$dir/dict" ] && dict=(-dict="$dir/dict")
  local rc=0
  (cd "$dir" && "$bin" -max_total_time="$SECONDS_TO_RUN" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
     -artifact_prefix="$dir/" "${dict[@]}" "$@" ${LIBFUZZER_ARGS:-} "$dir/corpus" "$dir/seeds") >"$dir/log" 2>&1 || rc=$?
  local execs what forked
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
  what=$(sed -n 's/.*Test unit written to //p' "$dir/log" | tr '\n' ' ')
  # -fork=N (in LIBFUZZER_ARGS) prints no final stats: its last status line
  # counts the executions and, with -ignore_crashes=1, what was found.
  forked=$(grep -E '^#[0-9]+: .*oom/timeout/crash: ' "$dir/log" | tail -1 || true)
  if [ -n "$forked" ]; then
    [ -n "$execs" ] || execs=$(sed -E 's/^#([0-9]+):.*/\1/' <<<"$forked")
    if ! grep -q 'oom/timeout/crash: 0/0/0 ' <<<"$forked"; then
      [ "$rc" -ne 0 ] || rc=1
      what="$what$(sed -E 's/.*(oom\/timeout\/crash: [0-9/]+).*/\1/' <<<"$forked") (inputs in $dir) "
    fi
  fi
  if [ "$rc" -ne 0 ]; then
    [ -n "$what" ] || what="libFuzzer exit status $rc, no input written"
    FOUND+=("$name")
    tail -n 60 "$dir/log"
    echo "fuzz $name: ${execs:-?} executions in ${SECONDS_TO_RUN} s: FOUND $what(log: $dir/log; replay: $bin FILE)"
  else
    echo "fuzz $name: ${execs:-?} executions in ${SECONDS_TO_RUN} s, corpus $(ls "$dir/corpus" | wc -l) inputs: nothing found"
  fi
}

mkdir -p "$FUZZ_DIR"
names=("$WHICH"); [ "$WHICH" = all ] && names=("${ALL[@]}")
for n in "${names[@]}"; do
  case "$n" in
    capture) run capture -max_len=65536 ;;
    decode) run decode -max_len=70000 ;;
    config) run config -max_len=8192 ;;
    avro_reader) run avro_reader -max_len=65536 ;;
    salvage) run salvage -max_len=65536 ;;
    bpf) run bpf -max_len=4096 ;;
    pfx2as) run pfx2as -max_len=16384 ;;
    mmdb) LSAN_OPTIONS=suppressions=$ROOT/tests/fuzz/mmdb.lsan.supp run mmdb -max_len=32768 ;;
    dos) run dos -max_len=70000 ;;
    regex_rules) run regex_rules -max_len=4096 ;;
    flows_file) run flows_file -max_len=4096 ;;
    wdcap) run wdcap -max_len=70000 ;;
  esac
done
if [ ${#FOUND[@]} -gt 0 ]; then
  echo "fuzz: found something in: ${FOUND[*]}"
  exit 1
fi
