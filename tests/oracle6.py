#!/usr/bin/python3
"""IPv6 flowtuple oracle from tshark: usage oracle6.py CAPTURE INTERVAL_SECONDS

The IPv6 counterpart of ../shared/tools/oracle.sh, for the flowtuple
plugin's `ipv6tuple` stream. Prints one line per (interval, tuple), tab
separated, in tests/read_avro.py's format:

  interval_start src_ip dst_ip src_port dst_port protocol ttl tcp_flags ip_len packet_count

Semantics (those of oracle.sh, for the outermost IPv6 header):
- only packets whose first network layer is IPv6 count (VLAN, MPLS, SLL,
  ... in front are fine); addresses as Python's ipaddress prints them;
- interval_start = floor(ts / INTERVAL) * INTERVAL, ts in whole seconds;
- protocol: the next header after the extension headers (hop-by-hop,
  routing, fragment, destination options, AH), read from tshark's fields of
  each extension header; a non-initial fragment: its fragment header's next
  header, ports and flags 0;
- ttl: the hop limit; ip_len: the payload length field + 40 (at most 65535);
- TCP/UDP ports from the transport header; ICMPv6 type and code as the
  ports; tcp_flags the low 8 bits; other protocols: ports and flags 0;
- fragments are not reassembled: each counts.
"""
import collections
import ipaddress
import subprocess
import sys

FIELDS = ["frame.time_epoch", "frame.protocols", "ipv6.src", "ipv6.dst", "ipv6.hlim", "ipv6.plen", "ipv6.nxt",
          "ipv6.hopopts.nxt", "ipv6.routing.nxt", "ipv6.fraghdr.nxt", "ipv6.fraghdr.offset", "ipv6.dstopts.nxt",
          "ah.next_header", "tcp.srcport", "tcp.dstport", "tcp.flags", "udp.srcport", "udp.dstport",
          "icmpv6.type", "icmpv6.code"]
# extension header -> the tshark field holding its next header
EXT = {0: "ipv6.hopopts.nxt", 43: "ipv6.routing.nxt", 44: "ipv6.fraghdr.nxt", 60: "ipv6.dstopts.nxt",
       51: "ah.next_header"}


def main():
    capture, interval = sys.argv[1], int(sys.argv[2])
    cmd = ["tshark", "-n", "-r", capture, "-o", "ipv6.defragment:FALSE", "-o", "ip.defragment:FALSE",
           "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=,"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    counts = collections.Counter()
    for line in out.splitlines():
        v = dict(zip(FIELDS, line.split("\t")))
        layers = [p for p in v["frame.protocols"].split(":") if p in ("ip", "ipv6", "arp")]
        if not layers or layers[0] != "ipv6" or not v.get("ipv6.src"):
            continue
        first = {k: (v.get(k) or "").split(",") for k in FIELDS}
        used = collections.Counter()

        def take(field):  # the next unused occurrence of a field
            vals = first[field]
            i = used[field]
            used[field] += 1
            return vals[i] if i < len(vals) else ""

        sec = int(v["frame.time_epoch"].split(".")[0])
        nh = int(take("ipv6.nxt"))
        later_fragment = False
        while nh in EXT:
            if nh == 44:
                later_fragment = int(take("ipv6.fraghdr.offset") or 0) != 0
            nh = int(take(EXT[nh]))
            if later_fragment:
                break
        sport = dport = flags = 0
        if not later_fragment:
            if nh == 6 and first["tcp.srcport"][0]:
                sport, dport = int(first["tcp.srcport"][0]), int(first["tcp.dstport"][0])
                flags = int(first["tcp.flags"][0], 16) & 0xff
            elif nh == 17 and first["udp.srcport"][0]:
                sport, dport = int(first["udp.srcport"][0]), int(first["udp.dstport"][0])
            elif nh == 58 and first["icmpv6.type"][0]:
                sport, dport = int(first["icmpv6.type"][0]), int(first["icmpv6.code"][0])
        key = (sec - sec % interval, str(ipaddress.IPv6Address(first["ipv6.src"][0])),
               str(ipaddress.IPv6Address(first["ipv6.dst"][0])), sport, dport, nh, int(first["ipv6.hlim"][0]), flags,
               min(int(first["ipv6.plen"][0]) + 40, 65535))
        counts[key] += 1
    for key in sorted(counts):
        print("\t".join(str(x) for x in key) + "\t" + str(counts[key]))


if __name__ == "__main__":
    main()
