#!/usr/bin/python3
"""Checks socketsink's lines against the capture, read by tshark:
`socketsink_oracle.py CAPTURE PERIOD TOP NAME=tcp:PORT... LINES`. For each
JSON line: the packets of its period (PERIOD seconds from period_start), its top sources (the first IP
header's source, by packets, ties by address bytes) and top TCP/UDP
destination ports (ties by port), and each named filter's count (packets of
the outer protocol TCP with the port either way). Exits 1 naming the first
difference."""
import ipaddress
import json
import subprocess
import sys
from collections import Counter, defaultdict


def first(v):
    return v.split(",")[0] if v else ""


def main():
    cap, iv, top = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    filters = [a.split("=", 1) for a in sys.argv[4:-1]]
    lines = [json.loads(l) for l in open(sys.argv[-1])]
    f = ["frame.time_epoch", "ip.src", "ipv6.src", "ip.proto", "ipv6.nxt", "tcp.srcport", "tcp.dstport", "udp.dstport"]
    cmd = ["tshark", "-n", "-r", cap, "-T", "fields", "-E", "separator=\t", "-E", "occurrence=f"]
    for x in f:
        cmd += ["-e", x]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    pk, src, ports = Counter(), defaultdict(Counter), defaultdict(Counter)
    fl = defaultdict(Counter)
    for line in out.splitlines():
        r = dict(zip(f, (first(x) for x in line.split("\t"))))
        t = int(r["frame.time_epoch"].split(".")[0])
        start = t - t % iv
        pk[start] += 1
        a = r["ip.src"] or r["ipv6.src"]
        if not a:
            continue
        src[start][a] += 1
        proto = int(r["ip.proto"] or 0) if r["ip.src"] else (6 if r["tcp.dstport"] else 17 if r["udp.dstport"] else 0)
        if proto == 6 and r["tcp.dstport"]:
            ports[start][int(r["tcp.dstport"])] += 1
        if proto == 17 and r["udp.dstport"]:
            ports[start][int(r["udp.dstport"])] += 1
        for name, spec in filters:
            _, port = spec.split(":")
            if proto == 6 and port in (r["tcp.srcport"], r["tcp.dstport"]):
                fl[start][name] += 1

    def key(a):
        b = ipaddress.ip_address(a).packed
        return b + bytes(16 - len(b))

    for o in lines:
        s = o["period_start"]
        if o["period_end"] - s != iv or not o["interval_start"] <= s < o["interval_end"]:
            print("line %s: not a period of %d s in its interval" % (o, iv))
            sys.exit(1)
        want_src = sorted(src[s].items(), key=lambda kv: (-kv[1], key(kv[0])))[:top]
        want_ports = sorted(ports[s].items(), key=lambda kv: (-kv[1], kv[0]))[:top]
        got_src = [(x["address"], x["packets"]) for x in o["top_sources"]]
        got_ports = [(x["port"], x["packets"]) for x in o["top_dst_ports"]]
        for what, want, got in (("packets", pk[s], o["packets"]), ("top_sources", want_src, got_src),
                                ("top_dst_ports", want_ports, got_ports)):
            if want != got:
                print("period %d: %s: want %s, got %s" % (s, what, want, got))
                sys.exit(1)
        for name, _ in filters:
            if fl[s][name] != o["filters"].get(name):
                print("period %d: filter %s: want %d, got %s" % (s, name, fl[s][name], o["filters"].get(name)))
                sys.exit(1)
    if sum(o["packets"] for o in lines) != sum(pk.values()):
        print("packets over all lines: want %d, got %d" % (sum(pk.values()), sum(o["packets"] for o in lines)))
        sys.exit(1)
    print("ok %d lines" % len(lines))


if __name__ == "__main__":
    main()
