#!/usr/bin/python3
"""Independent count of corsaro3's built-in filters over a capture, for
tests/test_filters.cpp: tshark dissects every packet (IP defragmentation
off, so each fragment stands alone), and the rules below are written from
corsaro3's libcorsaro_filtering.c filter definitions, field by field, on
tshark's values (the README's "Built-in filters" table says the same).

usage: filters_oracle.py CAPTURE
prints one line per filter, "NAME COUNT" (packets the filter is true for;
not-ip counts the packets without an outer IPv4 header), then for each
remove option "removed:OPTION COUNT" (packets corsarotrace drops for it when
it is the only one set) and "removed_ipv4:OPTION COUNT" (those of them with
an IPv4 header, which the flowtuple plugin would have counted).
"""
import subprocess
import sys

NAMES = ["spoofed", "erratic", "routed", "large-scale-scan", "abnormal-protocol", "ttl-200", "no-tcp-options",
         "tcpwin-1024", "fragmented", "last-byte-src-0", "last-byte-src-255", "same-src-dst", "udp-port-0",
         "tcp-port-0", "udp-destport-80", "rfc5735", "backscatter", "bittorrent", "udp-0x31", "sip-status",
         "udp-ip-len-96", "udp-ip-len-1500", "port-53", "tcp-port-23", "tcp-port-80", "tcp-port-5000",
         "dns-resp-non-standard", "netbios-query-name", "not-ip", "ttl-200-nonspoofed"]

FIELDS = ["frame.encap_type", "frame.protocols", "frame.cap_len", "ip.hdr_len", "ip.len", "ip.flags.rb",
          "ip.frag_offset", "ip.ttl", "ip.proto", "ip.src", "ip.dst", "tcp.srcport", "tcp.dstport", "tcp.flags",
          "tcp.window_size_value", "tcp.hdr_len", "udp.srcport", "udp.dstport", "udp.length", "udp.checksum",
          "udp.payload", "eth.padding", "eth.trailer", "icmp.type", "icmp.code"]

# Bytes of each link/encapsulation layer tshark names before the IP header.
LAYER_BYTES = {"eth": 14, "ethertype": 0, "vlan": 4, "mpls": 4, "pwethcw": 4, "null": 4, "raw": 0,
               "pppoes": 6, "ppp": 2}


def l3_offset(encap, protocols):
    layers = protocols.split(":")
    off = 0
    for name in layers:
        if name == "ip":
            return off
        if name == "ipv6":
            return None
        if name == "sll":
            off += 20 if encap == "210" else 16
        elif name == "erf":
            pass   # tshark's frame.cap_len leaves the ERF record header out
        elif name in LAYER_BYTES:
            off += LAYER_BYTES[name]
        else:
            return None   # not IP (arp, stp, ipx, ...)
    return None


def ip4(s):
    a = [int(x) for x in s.split(".")]
    return (a[0] << 24) | (a[1] << 16) | (a[2] << 8) | a[3]


def rfc5735(s):
    nets = [("0.0.0.0", 8), ("10.0.0.0", 8), ("127.0.0.0", 8), ("169.254.0.0", 16), ("172.16.0.0", 12),
            ("192.0.0.0", 24), ("192.0.2.0", 24), ("192.88.99.0", 24), ("192.168.0.0", 16), ("198.18.0.0", 15),
            ("198.51.100.0", 24), ("203.0.113.0", 24), ("224.0.0.0", 3)]   # 224/4 and 240/4
    return any((s >> (32 - n)) == (ip4(a) >> (32 - n)) for a, n in nets)


def num(v, base=10):
    return int(v, base) if v else 0


def be16(b, i):
    return (b[i] << 8) | b[i + 1]


def be32(b, i):
    return int.from_bytes(b[i:i + 4], "big")


def filters(f):
    """The set of filter names true for one packet (tshark fields f)."""
    off = l3_offset(f["frame.encap_type"], f["frame.protocols"])
    caplen = num(f["frame.cap_len"])
    if off is None or caplen - off < 20 or not f["ip.hdr_len"]:
        return {"not-ip"}
    ihl, ip_len = num(f["ip.hdr_len"]), num(f["ip.len"])
    if ihl < 20 or (ip_len != 0 and ip_len < ihl):
        return {"not-ip"}
    after_l3 = caplen - off
    ip_p, ttl = num(f["ip.proto"]), num(f["ip.ttl"])
    src, dst = ip4(f["ip.src"]), ip4(f["ip.dst"])
    frag_off = num(f["ip.frag_offset"])   # tshark gives bytes
    rb = num(f["ip.flags.rb"])
    # Transport as libtrace hands it to corsaro3.
    proto, rem = 0, 0
    if frag_off == 0 and after_l3 >= ihl:
        proto = ip_p
        rem = after_l3 - ihl   # to the capture end: libtrace keeps Ethernet padding
    tcp, udp, icmp = proto == 6, proto == 17, proto == 1
    sport = dport = 0
    if tcp and rem >= 4:
        sport, dport = num(f["tcp.srcport"]), num(f["tcp.dstport"])
    elif udp and rem >= 4:
        sport, dport = num(f["udp.srcport"]), num(f["udp.dstport"])
    elif icmp and rem >= 2:
        sport, dport = num(f["icmp.type"]), num(f["icmp.code"])
    flags = num(f["tcp.flags"], 16) & 0xFF if tcp and rem >= 14 else 0
    window = num(f["tcp.window_size_value"]) if tcp and rem >= 16 else 0
    doff = num(f["tcp.hdr_len"]) // 4 if tcp and rem >= 13 else 0
    tcp_payload = tcp and rem >= 13 and rem >= doff * 4
    FIN, SYN, RST, PSH, ACK, URG = 1, 2, 4, 8, 16, 32

    out = set()
    ttl200 = ip_p != 1 and ttl >= 200
    syn_only = tcp and (flags & SYN) and not (flags & ACK)
    if ttl200:
        out.add("ttl-200")
    if syn_only and window == 1024:
        out.add("tcpwin-1024")
    if syn_only and doff == 5:
        out.add("no-tcp-options")
    scan = ttl200 and syn_only and window == 1024 and doff == 5
    if scan:
        out.add("large-scale-scan")
    if ttl200 and not scan:
        out.add("ttl-200-nonspoofed")
    if ip_p not in (1, 17, 41):
        if ip_p != 6:
            out.add("abnormal-protocol")
        elif tcp and tcp_payload:
            normal = {SYN, ACK, RST, FIN, SYN | FIN, SYN | ACK, FIN | ACK, ACK | PSH, FIN | ACK | PSH}
            if (flags & (FIN | SYN | RST | PSH | ACK | URG)) not in normal:
                out.add("abnormal-protocol")
    if frag_off != 0 or rb:
        out.add("fragmented")
    if src & 0xFF == 0:
        out.add("last-byte-src-0")
    if src & 0xFF == 0xFF:
        out.add("last-byte-src-255")
    if src == dst:
        out.add("same-src-dst")
    if udp and rem >= 4 and (sport == 0 or dport == 0):
        out.add("udp-port-0")
    if tcp and rem >= 4 and (sport == 0 or dport == 0):
        out.add("tcp-port-0")
    if udp and rem >= 4 and dport == 80:
        out.add("udp-destport-80")
    spoof_by = {"abnormal-protocol", "ttl-200-nonspoofed", "fragmented", "last-byte-src-0", "last-byte-src-255",
                "same-src-dst", "udp-port-0", "tcp-port-0", "udp-destport-80"}
    if out & spoof_by:
        out |= {"spoofed", "erratic"}
    if rfc5735(src):
        out |= {"rfc5735", "routed"}
    if udp:
        if sport == 53:
            out.add("backscatter")
    elif icmp:
        if rem >= 1 and num(f["icmp.type"]) in (0, 3, 4, 5, 11, 12, 14, 16, 18):
            out.add("backscatter")
    elif tcp and tcp_payload and (((flags & SYN) and (flags & ACK)) or (flags & RST)):
        out.add("backscatter")
    if udp and rem >= 8:
        plen = rem - 8
        # The payload, then what follows it up to the capture end (padding).
        p = bytes.fromhex((f["udp.payload"] + f["eth.padding"] + f["eth.trailer"]).replace(":", ""))[:plen]
        udplen = num(f["udp.length"])
        header = bytes([sport >> 8, sport & 0xFF, dport >> 8, dport & 0xFF, udplen >> 8, udplen & 0xFF]) + \
            num(f["udp.checksum"], 16).to_bytes(2, "big")
        bt = False
        if udplen >= 20 and plen >= 12:
            bt = p[0:4] in (b"d1:a", b"d1:r") and p[4:8] == b"d2:i" and p[8:12] == b"d20:"
        if not bt and udplen >= 48 and plen >= 40:
            bt = p[20:40] == b"\x13BitTorrent protocol"
        if not bt and ip_len >= 58 and plen >= 2 and be16(p, 0) in (0x4102, 0x2102, 0x3102, 0x1102) \
                and udplen >= 8 and plen >= udplen - 8:
            bt = (header + p)[-10:] == b"\x00\x08" + bytes(8)
        if not bt and ip_len == 48 and plen >= 2:
            bt = be16(p, 0) in (0x4100, 0x2100, 0x3102, 0x1100)
        if not bt and ip_len == 61 and plen >= 32:
            bt = [be32(p, i) for i in range(12, 32, 4)] == [0x7fffffff, 0xab020400, 0x01000000, 0x08000000, 0]
        if bt:
            out.add("bittorrent")
        if plen >= 10 and ip_len == 58 and p[:10] == bytes(8) + b"\x31\x00":
            out.add("udp-0x31")
        if plen >= 7 and sport == 5060 and dport == 5060 and p[:7] == b"SIP/2.0":
            out.add("sip-status")
        if ip_len > 42 and plen >= 12 and (be16(p, 2) & 0xFFF0) == 0x8180 and \
                all(be16(p, i) < 10 for i in (4, 6, 8, 10)):
            out.add("dns-resp-non-standard")
        if sport == 137 and dport == 137 and ip_len > 48 and plen >= 20 and p[12:20] == b" CKAAAAA":
            out.add("netbios-query-name")
    if ip_p == 17 and ip_len == 96:
        out.add("udp-ip-len-96")
    if ip_p == 17 and ip_len == 1500:
        out.add("udp-ip-len-1500")
    if sport == 53 or dport == 53:
        out.add("port-53")
    for port in (23, 80, 5000):
        if tcp and (sport == port or dport == port):
            out.add("tcp-port-%d" % port)
    erratic_by = {"ttl-200", "backscatter", "bittorrent", "udp-0x31", "sip-status", "udp-ip-len-96",
                  "udp-ip-len-1500", "port-53", "tcp-port-23", "tcp-port-80", "tcp-port-5000",
                  "dns-resp-non-standard", "netbios-query-name"}
    if out & erratic_by:
        out.add("erratic")
    return out


def main():
    cmd = ["tshark", "-n", "-r", sys.argv[1], "-o", "ip.defragment:FALSE", "-T", "fields",
           "-E", "occurrence=f", "-E", "separator=/t"]
    for x in FIELDS:
        cmd += ["-e", x]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    counts = dict.fromkeys(NAMES, 0)
    # corsarotrace's removal of each option alone, on the four high bits.
    removes = {"spoofed": lambda s: "spoofed" in s, "erratic": lambda s: "erratic" in s,
               "routed": lambda s: "routed" not in s, "notscan": lambda s: "large-scale-scan" not in s}
    removed = dict.fromkeys(removes, 0)
    removed4 = dict.fromkeys(removes, 0)
    for line in out.split("\n"):
        if not line:
            continue
        f = dict(zip(FIELDS, line.split("\t")))
        if not f["frame.encap_type"]:
            continue   # a pcapng block tshark lists that is not a packet
        s = filters(f)
        for n in s:
            counts[n] += 1
        for opt, drops in removes.items():
            if drops(s):
                removed[opt] += 1
                removed4[opt] += "not-ip" not in s
    for n in NAMES:
        print(n, counts[n])
    for opt in removes:
        print("removed:" + opt, removed[opt])
        print("removed_ipv4:" + opt, removed4[opt])


if __name__ == "__main__":
    main()
