#!/usr/bin/python3
"""The flows Privateer's flow table creates in a capture, counted from
tshark's fields (an independent reading of the packets) with the rules of
dataplane/flow_table.hpp: a bidirectional 5-tuple (the first IP header's
addresses, the transport ports or ICMP type and code, the protocol) starts a
new flow when it was idle longer than IDLE seconds, has lasted ACTIVE
seconds, or was closed (RST, or a FIN each way) and a SYN without ACK comes.
IP fragments are not reassembled: a later fragment has ports 0.

usage: flows_oracle.py CAPTURE IDLE ACTIVE   -> prints the number created
flow_packets() gives every IP packet's flow to other oracles.
"""
import subprocess
import sys

FIELDS = ["frame.time_epoch", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "ip.proto", "ipv6.nxt",
          "tcp.srcport", "tcp.dstport", "tcp.flags", "udp.srcport", "udp.dstport", "sctp.srcport", "sctp.dstport",
          "icmp.type", "icmp.code", "icmpv6.type", "icmpv6.code", "ip.frag_offset", "ipv6.fraghdr.offset"]


def first(v):
    return v.split(",")[0] if v else ""


def ns(t):
    s, _, f = t.partition(".")
    return int(s) * 1000000000 + int((f + "000000000")[:9])


def flow_packets(cap, idle, active, extra=()):
    """Yields (fields, flow, sender) for every IP packet of `cap` in order:
    its tshark fields (FIELDS and `extra`), its flow instance (a number,
    from 1) and its sender (address, port), the flow's first sender or not.
    `idle` and `active` are in nanoseconds."""
    names = FIELDS + [f for f in extra if f not in FIELDS]
    cmd = ["tshark", "-n", "-r", cap, "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE",
           "-o", "tcp.desegment_tcp_streams:FALSE", "-T", "fields", "-E", "separator=\t", "-E", "occurrence=f"]
    for f in names:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    flows = {}
    created = 0
    for line in out.splitlines():
        r = dict(zip(names, (first(x) for x in line.split("\t"))))
        if r["ip.src"]:
            src, dst, proto = r["ip.src"], r["ip.dst"], int(r["ip.proto"])
            later = int(r["ip.frag_offset"] or 0) > 0
        elif r["ipv6.src"]:
            src, dst = r["ipv6.src"], r["ipv6.dst"]
            proto = 6 if r["tcp.srcport"] else 17 if r["udp.srcport"] else 132 if r["sctp.srcport"] else \
                58 if r["icmpv6.type"] else int(r["ipv6.nxt"] or 0)
            later = int(r["ipv6.fraghdr.offset"] or 0) > 0
        else:
            continue
        sp = dp = 0
        flags = None
        if not later:
            if proto == 6 and r["tcp.srcport"]:
                sp, dp = int(r["tcp.srcport"]), int(r["tcp.dstport"])
                flags = int(r["tcp.flags"], 16) if r["tcp.flags"] else None
            elif proto == 17 and r["udp.srcport"]:
                sp, dp = int(r["udp.srcport"]), int(r["udp.dstport"])
            elif proto == 132 and r["sctp.srcport"]:
                sp, dp = int(r["sctp.srcport"]), int(r["sctp.dstport"])
            elif proto == 1 and r["icmp.type"]:
                sp, dp = int(r["icmp.type"]), int(r["icmp.code"])
            elif proto == 58 and r["icmpv6.type"]:
                sp, dp = int(r["icmpv6.type"]), int(r["icmpv6.code"])
        t = ns(r["frame.time_epoch"])
        a, b = (src, sp), (dst, dp)
        key = (proto, min(a, b), max(a, b))
        f = flows.get(key)
        syn_only = flags is not None and flags & 0x12 == 0x02
        if f is None or t > f["last"] + idle or t >= f["first"] + active or (f["closed"] and syn_only):
            f = {"first": t, "last": t, "closed": False, "fin": 0, "a": a}
            flows[key] = f
            created += 1
            f["id"] = created
        f["last"] = max(f["last"], t)
        if flags is not None:
            d = 0 if a == f["a"] else 1
            if flags & 0x01:
                f["fin"] |= 1 << d
            if flags & 0x04 or f["fin"] == 3:
                f["closed"] = True
        yield r, f["id"], a


def main():
    cap, idle, active = sys.argv[1], int(sys.argv[2]) * 10**9, int(sys.argv[3]) * 10**9
    print(max((flow for _, flow, _ in flow_packets(cap, idle, active)), default=0))


if __name__ == "__main__":
    main()
