#!/bin/bash
# Installs what Privateer needs to build, run and test on Debian 12 (as root).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
build_pkgs=(g++ meson ninja-build pkg-config
  libdpdk-dev libtrace3-dev libwandio1-dev libyaml-cpp-dev prometheus-cpp-dev
  libavro-dev libisal-dev libzstd-dev libsnappy-dev libpcap-dev libgtest-dev
  zlib1g-dev libbz2-dev liblzma-dev libmaxminddb-dev libcurl4-openssl-dev librdkafka-dev
  libhyperscan-dev)
# Independent readers and servers the tests use: tshark (oracle), python3-avro
# with its snappy and zstandard codecs, and avrocat (read our Avro), prometheus (scrapes the endpoint), curl, tcpdump,
# tcpreplay and iproute2 (live capture on a veth pair in a network namespace), gzip, bzip2, xz-utils, zstd
# and lzop (compressed inputs; lzop's must be refused); for tagging: scapy (crafted packets), pyasn (its
# RIB-derived prefix tables and lookups), mmdb-bin (mmdblookup), masscan and zmap (real scanners).
test_pkgs=(python3 python3-avro python3-maxminddb python3-snappy python3-zstandard avro-bin tshark prometheus curl tcpdump tcpreplay iproute2
  gzip bzip2 xz-utils zstd lzop python3-scapy python3-pyasn mmdb-bin masscan zmap graphite-carbon python3-whisper influxdb)
# Fuzzing (scripts/fuzz.sh, CI): clang with libFuzzer and the sanitizer
# runtimes (libclang_rt.fuzzer is in libclang-rt-14-dev).
fuzz_pkgs=(clang libclang-rt-14-dev)
missing=()
for p in "${build_pkgs[@]}" "${test_pkgs[@]}" "${fuzz_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
