#!/usr/bin/python3
"""Expected rows of corsaro3's report plugin, for tests/test_report.cpp.

usage:
  report_oracle.py expect CAPTURE INTERVAL [options]
      the rows privateer's report plugin should write for CAPTURE, from
      tshark's fields: the per-interval tuples of ../shared/tools/oracle.sh
      (outermost IPv4 header: src, dst, protocol, raw ip.len; TCP/UDP ports,
      ICMP type/code, 0 for non-initial fragments) and, with --filters, each
      packet's built-in filters as tests/filters_oracle.py computes them.
      Options:
        --oracle-sh PATH         ../shared/tools/oracle.sh
        --label L                output_row_label (default "unlabeled")
        --limit a,b,...          limitmetrics groups
        --range CLASS=SPEC       CLASS one of tcp_source, tcp_dest, udp_source, udp_dest;
                                 SPEC a comma-separated list of LO-HI ranges and ports
        --partial                report the first and last interval too
        --pfx2as FILE            CAIDA pfx2as file: routing.asn by a naive
                                 longest-prefix match (an AS only when the
                                 longest prefix has exactly one origin)
        --mmdb FILE              geo.maxmind from python3-maxminddb lookups
        --filters                filter-criteria rows (needs --limit ... filter)
  report_oracle.py pfx2as CAPTURE OUT
      a CAIDA pfx2as file for the IPv4 sources of CAPTURE: each source's /8
      (AS 64512 + first byte), every third /16 (32-bit ASes) and every fifth
      /24 (multi-origin "64496_64497": no AS), so that lookups take the
      longest of nested prefixes.
  report_oracle.py read FILE...
      the rows of report Avro files, read with python3-avro.

Both print one row per line, tab separated, sorted:
  bin_timestamp source_label metric_name metric_value src_ip_cnt dest_ip_cnt pkt_cnt byte_cnt src_asn_cnt

The rules are corsaro3's report plugin (see the README's "report plugin"):
IPv4 only; each packet counts for overall, its protocol, ICMP type/code,
TCP/UDP ports within the ranges, its source's continent and country, its
origin AS and its filters; packets, bytes, source IPs and ASNs (non-zero)
from the source side, destination IPs from the destination side; zero rows
for every protocol, port of the range, the 8 continents and the (continent,
country) pairs seen so far, in intervals where the class counted a packet;
overall always; the first and last interval only with --partial.
"""
import argparse
import ipaddress
import os
import re
import subprocess
import sys
from collections import defaultdict

CONTINENTS = ["??", "AF", "AN", "AS", "EU", "NA", "OC", "SA"]
GROUPS = {"basic": {"overall", "protocol"}, "tcpports": {"tcp_source", "tcp_dest"},
          "udpports": {"udp_source", "udp_dest"}, "icmp": {"icmp"}, "maxmind": {"continent", "country"},
          "pfx2asn": {"asn"}, "filter": {"filter"}, "netacq": set()}
ALL = {"overall", "protocol", "tcp_source", "tcp_dest", "udp_source", "udp_dest", "icmp", "continent",
       "country", "asn"}
PORT_NAMES = {"tcp_source": "traffic.port.tcp.src_port", "tcp_dest": "traffic.port.tcp.dst_port",
              "udp_source": "traffic.port.udp.src_port", "udp_dest": "traffic.port.udp.dst_port"}
# corsaro3's report names of the built-in filters (filters_oracle.py's names).
FILTER_NAMES = {
    "abnormal-protocol": "non-spoofed.abnormal-protocol", "ttl-200": "non-spoofed.ttl-200",
    "no-tcp-options": "scan.no-tcp-options", "tcpwin-1024": "scan.tcp-win-1024",
    "fragmented": "non-spoofed.fragmented-v2", "last-byte-src-0": "non-spoofed.last-byte-src-0",
    "last-byte-src-255": "non-spoofed.last-byte-src-255", "same-src-dst": "non-spoofed.same-src-dst",
    "udp-port-0": "non-spoofed.udp-port-0", "tcp-port-0": "non-spoofed.tcp-port-0",
    "udp-destport-80": "non-spoofed.udp-destport-80", "rfc5735": "non-routed.rfc5735",
    "backscatter": "non-erratic.backscatter", "bittorrent": "non-erratic.bittorrent",
    "udp-0x31": "non-erratic.udp-0x31", "sip-status": "non-erratic.sip-status",
    "udp-ip-len-96": "non-erratic.udp-ip-len-96", "udp-ip-len-1500": "non-erratic.udp-ip-len-1500",
    "port-53": "non-erratic.port-53", "tcp-port-23": "non-erratic.tcp-port-23",
    "tcp-port-80": "non-erratic.tcp-port-80", "tcp-port-5000": "non-erratic.tcp-port-5000",
    "dns-resp-non-standard": "non-erratic.dns-resp-non-standard-v2",
    "netbios-query-name": "non-erratic.netbios-query-name", "not-ip": "not-ip"}


class Metric:
    def __init__(self):
        self.pkts = 0
        self.bytes = 0
        self.src = set()
        self.dst = set()
        self.asn = set()


def two_letters(s):
    return s if isinstance(s, str) and re.fullmatch("[A-Z]{2}", s) else "??"


def load_pfx2as(path):
    table = {}   # (network int, length) -> asn (0 for multi-origin / AS sets)
    for line in open(path):
        parts = line.split()
        if len(parts) != 3 or ":" in parts[0]:
            continue
        addr, length, asn = parts[0], int(parts[1]), parts[2]
        net = int(ipaddress.IPv4Address(addr)) & ((0xffffffff << (32 - length)) & 0xffffffff)
        if "_" in asn or "," in asn:
            value = 0
        elif "." in asn:
            hi, lo = asn.split(".")
            value = int(hi) * 65536 + int(lo)
        else:
            value = int(asn)
        key = (net, length)
        table[key] = 0 if key in table and table[key] != value else value
    return table


def lookup_asn(table, ip):
    a = int(ipaddress.IPv4Address(ip))
    for length in range(32, -1, -1):
        net = a & ((0xffffffff << (32 - length)) & 0xffffffff)
        if (net, length) in table:
            return table[(net, length)]
    return 0


def tuples(oracle_sh, capture, interval):
    out = subprocess.run(["bash", oracle_sh, capture, str(interval), "--fast"], check=True,
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        iv, src, dst, sp, dp, proto, _ttl, _flags, ip_len, count = line.split("\t")
        yield int(iv), src, dst, int(sp), int(dp), int(proto), int(ip_len), int(count)


def filter_packets(capture, interval):
    """(interval, src, dst, ip_len, set of filter names) of every IPv4 packet."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import filters_oracle as fo
    fields = fo.FIELDS + ["frame.time_epoch"]
    cmd = ["tshark", "-n", "-r", capture, "-o", "ip.defragment:FALSE", "-o", "ip.tso_support:FALSE",
           "-T", "fields", "-E", "occurrence=f", "-E", "separator=/t"]
    for x in fields:
        cmd += ["-e", x]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    for line in out.split("\n"):
        if not line:
            continue
        f = dict(zip(fields, line.split("\t")))
        if not f["frame.encap_type"]:
            continue
        names = fo.filters(f)
        if "not-ip" in names:
            continue
        sec = int(f["frame.time_epoch"].split(".")[0] or 0)
        yield sec - sec % interval, f["ip.src"], f["ip.dst"], int(f["ip.len"]), names


def expect(a):
    allowed = set()
    for g in (a.limit.split(",") if a.limit else []):
        allowed |= GROUPS[g]
    if not a.limit:
        allowed = set(ALL)
    ports = {k: set(range(65536)) for k in PORT_NAMES}
    for r in a.range:
        k, spec = r.split("=")
        ports[k] = set()
        for part in spec.split(","):
            lo, _, hi = part.partition("-")
            ports[k] |= set(range(int(lo), int(hi or lo) + 1))
    asn_table = load_pfx2as(a.pfx2as) if a.pfx2as else None
    geo_db = None
    if a.mmdb:
        import maxminddb
        geo_db = maxminddb.open_database(a.mmdb)
    geo_cache, asn_cache = {}, {}

    def geo(ip):
        if ip not in geo_cache:
            rec = geo_db.get(ip) or {}
            geo_cache[ip] = (two_letters((rec.get("continent") or {}).get("code")),
                             two_letters((rec.get("country") or {}).get("iso_code")))
        return geo_cache[ip]

    def asn(ip):
        if asn_table is None:
            return 0
        if ip not in asn_cache:
            asn_cache[ip] = lookup_asn(asn_table, ip)
        return asn_cache[ip]

    # per interval: {(class, name, value): Metric}
    intervals = defaultdict(lambda: defaultdict(Metric))

    def count(iv, key, src, dst, ip_len, n):
        m = intervals[iv][key]
        m.pkts += n
        m.bytes += ip_len * n
        m.src.add(src)
        m.dst.add(dst)
        if asn(src):
            m.asn.add(asn(src))

    # The run's first and last interval are those of its first and last packet, IPv4 or not.
    times = subprocess.run(["tshark", "-n", "-r", a.capture, "-T", "fields", "-e", "frame.time_epoch"], check=True,
                           capture_output=True, text=True).stdout.split()
    secs = [int(t.split(".")[0]) for t in times if t]
    if not secs:
        return []
    first, last = min(secs) - min(secs) % a.interval, max(secs) - max(secs) % a.interval
    for iv, src, dst, sp, dp, proto, ip_len, n in tuples(a.oracle_sh, a.capture, a.interval):
        # A packet without a time (pcapng simple packet block: 0) counts in
        # the interval open when it comes, as corsaro3's report does (the
        # corpus has such packets only inside the first interval).
        iv = max(iv, first)
        keys = [("overall", "overall", ""), ("protocol", "traffic.protocol", str(proto))]
        if proto == 1:
            keys.append(("icmp", "traffic.icmp", "type.%d.code.%d" % (sp, dp)))
        elif proto in (6, 17):
            t = "tcp" if proto == 6 else "udp"
            for cls, port in ((t + "_source", sp), (t + "_dest", dp)):
                if port in ports[cls]:
                    keys.append((cls, PORT_NAMES[cls], str(port)))
        if geo_db is not None:
            cont, country = geo(src)
            keys.append(("continent", "geo.maxmind", cont))
            keys.append(("country", "geo.maxmind." + cont, country))
        if asn_table is not None:
            keys.append(("asn", "routing.asn", str(asn(src))))
        for key in keys:
            if key[0] in allowed:
                count(iv, key, src, dst, ip_len, n)
    if a.filters and "filter" in allowed:
        for iv, src, dst, ip_len, names in filter_packets(a.capture, a.interval):
            iv = max(iv, first)
            for name in names:
                if name in FILTER_NAMES:
                    count(iv, ("filter", "filter-criteria", FILTER_NAMES[name]), src, dst, ip_len, 1)

    rows = []
    countries = set()
    for iv in range(first, last + 1, a.interval):
        metrics = intervals.get(iv, {})
        seen = {k[0] for k in metrics}
        countries |= {(k[1], k[2]) for k in metrics if k[0] == "country"}
        if iv in (first, last) and not a.partial:
            continue
        zero = []
        if "overall" in allowed:
            zero.append(("overall", "overall", ""))
        if "protocol" in allowed and "protocol" in seen:
            zero += [("protocol", "traffic.protocol", str(p)) for p in range(256)]
        for cls, name in PORT_NAMES.items():
            if cls in allowed and cls in seen:
                zero += [(cls, name, str(p)) for p in sorted(ports[cls])]
        if "continent" in allowed and "continent" in seen:
            zero += [("continent", "geo.maxmind", c) for c in CONTINENTS]
        if "country" in allowed and "country" in seen:
            zero += [("country", name, value) for name, value in countries]
        keys = set(metrics) | set(zero)
        for key in keys:
            m = metrics.get(key) or Metric()
            rows.append("\t".join(str(x) for x in (iv, a.label, key[1], key[2], len(m.src), len(m.dst), m.pkts,
                                                   m.bytes, len(m.asn))))
    return sorted(rows)


def read(files):
    from avro.datafile import DataFileReader
    from avro.io import DatumReader
    rows = []
    for path in files:
        with open(path, "rb") as f:
            for r in DataFileReader(f, DatumReader()):
                rows.append("\t".join(str(r[k]) for k in ("bin_timestamp", "source_label", "metric_name",
                                                          "metric_value", "src_ip_cnt", "dest_ip_cnt", "pkt_cnt",
                                                          "byte_cnt", "src_asn_cnt")))
    return sorted(rows)


def make_pfx2as(capture, out):
    srcs = subprocess.run(["tshark", "-n", "-r", capture, "-T", "fields", "-E", "occurrence=f", "-e", "ip.src"],
                          check=True, capture_output=True, text=True).stdout.split()
    octets = sorted({tuple(int(x) for x in s.split(".")) for s in srcs if s})
    lines = set()
    for a, b, c, _ in octets:
        lines.add("%d.0.0.0\t8\t%d" % (a, 64512 + a))
    for i, (a, b) in enumerate(sorted({o[:2] for o in octets})):
        if i % 3 == 0:
            lines.add("%d.%d.0.0\t16\t%d" % (a, b, 4200000000 + a * 256 + b))
    for i, (a, b, c) in enumerate(sorted({o[:3] for o in octets})):
        if i % 5 == 0:
            lines.add("%d.%d.%d.0\t24\t64496_64497" % (a, b, c))
    with open(out, "w") as f:
        f.write("".join(l + "\n" for l in sorted(lines)))


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "read":
        rows = read(sys.argv[2:])
    elif len(sys.argv) == 4 and sys.argv[1] == "pfx2as":
        make_pfx2as(sys.argv[2], sys.argv[3])
        return
    else:
        p = argparse.ArgumentParser()
        p.add_argument("mode", choices=["expect"])
        p.add_argument("capture")
        p.add_argument("interval", type=int)
        p.add_argument("--oracle-sh", required=True)
        p.add_argument("--label", default="unlabeled")
        p.add_argument("--limit", default="")
        p.add_argument("--range", action="append", default=[])
        p.add_argument("--partial", action="store_true")
        p.add_argument("--pfx2as")
        p.add_argument("--mmdb")
        p.add_argument("--filters", action="store_true")
        rows = expect(p.parse_args())
    sys.stdout.write("".join(r + "\n" for r in rows))


if __name__ == "__main__":
    main()
