#!/usr/bin/python3
"""An independent oracle for the dos plugin, and a reader of its output.

  dos_oracle.py expect CAPTURE... [--interval S] [--min-packets N] [--min-duration S]
                [--min-rate N] [--window S] [--slide S] [--mmdb FILE]
      prints, one per line, the records corsaro3's dos plugin (its latest
      corsaro_dos.c, as README "dos plugin" describes it) writes for the
      captures read in order, computed packet by packet from scapy's parse;
      with --mmdb, maxmind_* are the continent and country mmdblookup (mmdb-bin)
      finds in FILE for the source of the vector's first packet.
  dos_oracle.py read AVRO...
      prints the records of dos Avro files (python3-avro) in the same format.
  dos_oracle.py stardust AVRO...
      the same, read as pyavro-stardust's AvroRsdosReader reads them
      (positionally, no maxmind_* fields: `schema: stardust`).

A line: every field of org.caida.corsaro.dos in schema order, TAB separated,
the target as a dotted quad and the initial packet in hex. Exit status 2 when
scapy or python3-avro is missing.
"""

import argparse
import ipaddress
import sys

FIELDS = ["bin_timestamp", "initial_packet_len", "target_ip", "target_protocol", "attacker_ip_cnt",
          "attack_port_cnt", "target_port_cnt", "packet_cnt", "icmp_mismatches", "byte_cnt",
          "max_ppm_interval", "start_time_sec", "start_time_usec", "latest_time_sec", "latest_time_usec",
          "first_attack_port", "first_target_port", "maxmind_continent", "maxmind_country", "initial_packet"]

BACKSCATTER_ICMP = {0, 3, 4, 5, 11, 12, 14, 16, 18}
ICMP_ERRORS = {3, 4, 5, 11, 12}
PROTO_ORDER = {6: 0, 17: 1, 1: 2}


def line(rec):
    out = []
    for f in FIELDS:
        if f not in rec:
            continue
        v = rec[f]
        if f == "target_ip":
            v = str(ipaddress.IPv4Address(v))
        elif isinstance(v, (bytes, bytearray)):
            v = bytes(v).hex()
        out.append(str(v))
    return "\t".join(out)


def classify(pkt):
    """(target, proto, attack port, target port, mismatch) of a backscatter
    packet, or None."""
    from scapy.layers.inet import IP, TCP, ICMP
    if IP not in pkt:
        return None
    ip = pkt[IP]
    if ip.frag != 0:
        return None
    outer_dst = int(ipaddress.IPv4Address(ip.dst))
    outer_src = int(ipaddress.IPv4Address(ip.src))
    raw_l4 = bytes(ip)[ip.ihl * 4:]
    if ip.proto == 6:
        # the decoder's: flags only with 16 bytes and a data offset of 5+
        if TCP not in pkt or len(raw_l4) < 16 or raw_l4[12] >> 4 < 5:
            return None
        tcp = pkt[TCP]
        flags = raw_l4[13]
        if not ((flags & 0x12) == 0x12 or flags & 0x04) or outer_src == 0:
            return None
        return outer_src, 6, tcp.dport, tcp.sport, False
    if ip.proto != 1 or ICMP not in pkt or len(raw_l4) < 2:
        return None
    icmp_type, icmp_code = raw_l4[0], raw_l4[1]
    if icmp_type not in BACKSCATTER_ICMP:
        return None
    quoted = raw_l4[8:]
    target, proto, aport, tport, qsrc = 0, 1, 0, 0, 0
    if icmp_type in ICMP_ERRORS and len(raw_l4) >= 8 and len(quoted) >= 20 and quoted[0] >> 4 == 4:
        qsrc = int.from_bytes(quoted[12:16], "big")
        target = int.from_bytes(quoted[16:20], "big")
        proto = quoted[9]
        ihl = (quoted[0] & 15) * 4
        frag = int.from_bytes(quoted[6:8], "big") & 0x1FFF
        if frag == 0 and len(quoted) >= ihl + 4:
            aport = int.from_bytes(quoted[ihl:ihl + 2], "big")
            tport = int.from_bytes(quoted[ihl + 2:ihl + 4], "big")
    else:
        aport, tport = icmp_code << 8, icmp_type << 8
    if target == 0:
        target = outer_src
    if target == 0 or proto not in (1, 6, 17):
        return None
    return target, proto, aport, tport, qsrc != 0 and qsrc != outer_dst


class Vector:
    def __init__(self):
        self.packets = self.bytes = self.mismatches = self.max_rate = 0
        self.start = self.latest = None   # integer microseconds
        self.first = None                 # (time_us, raw bytes, aport, tport)
        self.attackers, self.aports, self.tports = set(), set(), set()
        self.buckets = {}


def geo(mmdb, ip):
    import subprocess

    def get(*path):
        r = subprocess.run(["mmdblookup", "-f", mmdb, "-i", ip] + list(path), capture_output=True, text=True)
        parts = r.stdout.split('"')
        return parts[1] if r.returncode == 0 and len(parts) > 2 and len(parts[1]) == 2 else "??"
    return get("continent", "code"), get("country", "iso_code")


def expect(args):
    from scapy.layers.inet import IP
    from scapy.utils import PcapReader
    vectors = {}
    out = []
    interval = args.interval
    current = None   # start of the open interval

    def close(start):
        keep = (args.window // args.slide - 1) * args.slide
        prune = max(start - keep, 0)
        for key in sorted(vectors, key=lambda k: (PROTO_ORDER[k[1]], k[0])):
            v = vectors[key]
            if v.latest // 1000000 < start:
                del vectors[key]
                continue
            v.buckets = {b: c for b, c in v.buckets.items() if b >= prune}
            for b in v.buckets:
                v.max_rate = max(v.max_rate, sum(c for k2, c in v.buckets.items() if b <= k2 < b + args.window))
            if (v.max_rate >= args.min_rate and v.packets >= args.min_packets
                    and v.latest - v.start >= args.min_duration * 1000000):
                raw = v.first[1]
                continent, country = geo(args.mmdb, v.first[4]) if args.mmdb else ("??", "??")
                out.append({
                    "bin_timestamp": start, "initial_packet_len": len(raw), "target_ip": key[0],
                    "target_protocol": key[1], "attacker_ip_cnt": len(v.attackers),
                    "attack_port_cnt": len(v.aports), "target_port_cnt": len(v.tports),
                    "packet_cnt": v.packets, "icmp_mismatches": v.mismatches, "byte_cnt": v.bytes,
                    "max_ppm_interval": v.max_rate, "start_time_sec": v.start // 1000000,
                    "start_time_usec": v.start % 1000000, "latest_time_sec": v.latest // 1000000,
                    "latest_time_usec": v.latest % 1000000, "first_attack_port": v.first[2],
                    "first_target_port": v.first[3], "maxmind_continent": continent, "maxmind_country": country,
                    "initial_packet": raw})

    for capture in args.captures:
        for pkt in PcapReader(capture):
            us = int(pkt.time * 1000000)
            sec = us // 1000000
            if current is None:
                current = sec - sec % interval
            while sec >= current + interval:
                close(current)
                current += interval
            raw = bytes(pkt)
            c = classify(pkt)
            if c is None or len(raw) > 10000:
                continue
            target, proto, aport, tport, mismatch = c
            v = vectors.setdefault((target, proto), Vector())
            first = (us, raw, aport, tport, pkt[IP].src)
            if v.first is None or (first[0], first[1]) < (v.first[0], v.first[1]):
                v.first = first
            v.start = v.first[0]
            v.latest = us if v.latest is None else max(v.latest, us)
            v.packets += 1
            v.bytes += pkt[IP].len
            v.mismatches += mismatch
            v.attackers.add(pkt[IP].dst)
            v.aports.add(aport)
            v.tports.add(tport)
            b = sec - sec % args.slide
            v.buckets[b] = v.buckets.get(b, 0) + 1
    if current is not None:
        close(current)
    for rec in out:
        print(line(rec))


def read(args):
    from avro.datafile import DataFileReader
    from avro.io import DatumReader
    for path in args.files:
        with open(path, "rb") as f:
            for rec in DataFileReader(f, DatumReader()):
                print(line(rec))


def stardust(args):
    """Reads dos files the way pyavro-stardust's AvroRsdosReader does (its
    schema version 2): no schema resolution, each record taken as the 17
    numbers in order, then the packet, and every block must end with its
    last record."""
    import json
    import zlib

    def varint(buf, pos):
        shift = n = 0
        while True:
            b = buf[pos]
            pos += 1
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return (n >> 1) ^ -(n & 1), pos

    numbers = [f for f in FIELDS if not f.startswith("maxmind_") and f != "initial_packet"]
    for path in args.files:
        buf = open(path, "rb").read()
        assert buf[:4] == b"Obj\x01", path
        pos, meta = 4, {}
        while True:
            count, pos = varint(buf, pos)
            if count == 0:
                break
            if count < 0:
                count = -count
                _, pos = varint(buf, pos)
            for _ in range(count):
                klen, pos = varint(buf, pos)
                key = buf[pos:pos + klen].decode()
                pos += klen
                vlen, pos = varint(buf, pos)
                meta[key] = buf[pos:pos + vlen]
                pos += vlen
        names = [f["name"] for f in json.loads(meta["avro.schema"])["fields"]]
        if "first_attack_port" not in names:
            raise SystemExit("%s: pyavro-stardust would take it for schema version 1" % path)
        codec = meta.get("avro.codec", b"null").decode()
        pos += 16
        while pos < len(buf):
            count, pos = varint(buf, pos)
            size, pos = varint(buf, pos)
            data = buf[pos:pos + size]
            pos += size + 16
            if codec == "deflate":
                data = zlib.decompress(data, -15)
            elif codec != "null":
                raise SystemExit("%s: pyavro-stardust reads no %s blocks" % (path, codec))
            at = 0
            for _ in range(count):
                rec = {}
                for f in numbers:
                    rec[f], at = varint(data, at)
                n, at = varint(data, at)
                rec["initial_packet"] = data[at:at + n]
                at += n
                print(line(rec))
            if at != len(data):
                raise SystemExit("%s: %d bytes left after a block's records" % (path, len(data) - at))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("expect")
    e.add_argument("captures", nargs="+")
    e.add_argument("--interval", type=int, default=60)
    e.add_argument("--min-packets", type=int, default=25)
    e.add_argument("--min-duration", type=int, default=60)
    e.add_argument("--min-rate", type=int, default=30)
    e.add_argument("--window", type=int, default=60)
    e.add_argument("--slide", type=int, default=10)
    e.add_argument("--mmdb")
    r = sub.add_parser("read")
    r.add_argument("files", nargs="*")
    st = sub.add_parser("stardust")
    st.add_argument("files", nargs="*")
    args = ap.parse_args()
    try:
        if args.cmd == "expect":
            import scapy.all  # noqa: F401
            expect(args)
        elif args.cmd == "stardust":
            stardust(args)
        else:
            import avro.datafile  # noqa: F401
            read(args)
    except ImportError as e:
        print("missing: %s" % e, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
