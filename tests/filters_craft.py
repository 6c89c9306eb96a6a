#!/usr/bin/python3
"""Crafted packets for each of corsaro3's built-in filters, for
tests/test_filters.cpp: for every filter, packets that set it ("hits") and
packets that just miss it ("misses": one field off, or one of corsaro3's
quirks the filter does not cover).

usage: filters_craft.py OUTDIR
writes OUTDIR/NAME.pcap (the hits, then the misses) for each filter and
OUTDIR/all.pcap (every packet), and prints "NAME HITS MISSES" per filter.
"""
import os
import sys

from scapy.all import ARP, ICMP, IP, IPv6, TCP, UDP, Ether, Raw, wrpcap  # noqa: E402

A, B = "1.2.3.4", "5.6.7.8"
ETH = dict(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")   # no ARP lookups by scapy


def ip(**kw):
    kw.setdefault("src", A)
    kw.setdefault("dst", B)
    kw.setdefault("ttl", 64)
    return Ether(**ETH) / IP(**kw)


def syn(**kw):
    t = dict(sport=1234, dport=4321, flags="S", window=29200, options=[("MSS", 1460)])
    t.update(kw)
    return TCP(**t)


def udp(sport=1234, dport=4321, payload=b"x" * 8):
    return UDP(sport=sport, dport=dport) / Raw(payload)


def udp_len(ip_len, head=b"", tail=b"", **kw):
    """A UDP packet whose IP total length is ip_len."""
    n = ip_len - 28 - len(head) - len(tail)
    return udp(payload=head + b"z" * n + tail, **kw)


SCAN = ip(ttl=250) / syn(window=1024, options=[])
BT_WORDS = bytes(12) + bytes.fromhex("7fffffff" "ab020400" "01000000" "08000000" "00000000") + b"q"
DNS_RESP = bytes.fromhex("1234" "8180" "0001" "0001" "0000" "0000") + b"\x03www\x00\x00\x01\x00\x01"
NETBIOS = bytes.fromhex("abcd" "0110" "0001" "0000" "0000" "0000") + b" CKAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\x00"

CASES = {
    "spoofed": ([ip(src="1.2.3.0") / syn(), ip(ttl=220) / udp(), ip(proto=47) / Raw(b"g" * 8)],
                [ip() / syn()]),
    "erratic": ([ip() / syn(dport=80), ip() / udp(sport=53)], [ip() / syn(dport=8080)]),
    "routed": ([ip(src="10.1.2.3") / syn(), ip(src="240.0.0.1") / syn()],
               [ip(src="11.1.2.3") / syn(), ip(src="100.64.0.1") / syn()]),
    "large-scale-scan": ([SCAN], [ip(ttl=250) / syn(window=1025, options=[]), ip(ttl=199) / syn(window=1024, options=[]),
                                  ip(ttl=250) / syn(window=1024)]),
    # The last hit: an IP total length that ends inside the TCP options;
    # libtrace counts the bytes after it, so the header "fits".
    "abnormal-protocol": ([ip(proto=47) / Raw(b"g" * 8), ip() / syn(flags="FPU", options=[]) / Raw(b"p"),
                           ip() / syn(flags="SR"), ip(len=40) / syn(flags="SR")],
                          [ip() / syn(flags="PA"), ip() / syn(flags="FA"), ip(proto=41) / Raw(b"6" * 40), ip() / udp()]),
    "ttl-200": ([ip(ttl=200) / udp(), SCAN], [ip(ttl=199) / udp(), ip(ttl=255) / ICMP()]),
    "no-tcp-options": ([ip() / syn(options=[])], [ip() / syn(), ip() / syn(flags="SA", options=[])]),
    "tcpwin-1024": ([ip() / syn(window=1024)], [ip() / syn(window=1023), ip() / syn(flags="SA", window=1024)]),
    "fragmented": ([ip(frag=3, proto=17) / Raw(b"f" * 16), ip(flags=4) / udp()],
                   [ip(flags=1, proto=17) / Raw(b"f" * 16), ip(flags=2) / udp()]),
    "last-byte-src-0": ([ip(src="1.2.3.0") / udp()], [ip(src="1.2.3.1") / udp()]),
    "last-byte-src-255": ([ip(src="1.2.3.255") / udp()], [ip(src="1.2.3.254") / udp()]),
    "same-src-dst": ([ip(src=B, dst=B) / udp()], [ip(src=B, dst="5.6.7.9") / udp()]),
    "udp-port-0": ([ip() / udp(sport=0), ip() / udp(dport=0)], [ip() / syn(sport=0), ip() / udp(sport=1, dport=1)]),
    "tcp-port-0": ([ip() / syn(dport=0)], [ip() / udp(dport=0)]),
    "udp-destport-80": ([ip() / udp(dport=80)], [ip() / udp(sport=80), ip() / syn(dport=80)]),
    "rfc5735": ([ip(src=s) / udp() for s in ("192.168.1.1", "224.0.0.1", "198.19.255.255", "0.1.2.3")],
                [ip(src=s) / udp() for s in ("198.20.0.1", "100.64.0.1", "192.0.1.1", "172.32.0.1")]),
    "backscatter": ([ip() / udp(sport=53), ip() / ICMP(type=0), ip() / ICMP(type=11), ip() / syn(flags="SA"),
                     ip() / syn(flags="R")],
                    [ip() / ICMP(type=8), ip() / udp(dport=53), ip() / syn()]),
    "bittorrent": ([ip() / udp(payload=b"d1:ad2:id20:" + b"b" * 20),
                    ip() / udp(payload=b"b" * 20 + b"\x13BitTorrent protocol" + b"b" * 8),
                    ip() / udp_len(60, head=b"\x41\x02", tail=b"\x00\x08" + bytes(8)),
                    ip() / udp_len(48, head=b"\x21\x00"),
                    ip() / udp(payload=BT_WORDS)],
                   [ip() / udp(payload=b"d1:ad2:id21:" + b"b" * 20), ip() / udp_len(49, head=b"\x21\x00"),
                    ip() / udp_len(60, head=b"\x41\x02", tail=b"\x00\x09" + bytes(8))]),
    "udp-0x31": ([ip() / udp_len(58, head=bytes(8) + b"\x31\x00")], [ip() / udp_len(59, head=bytes(8) + b"\x31\x00")]),
    "sip-status": ([ip() / udp(5060, 5060, b"SIP/2.0 200 OK\r\n")],
                   [ip() / udp(5061, 5060, b"SIP/2.0 200 OK\r\n"), ip() / udp(5060, 5060, b"SIP/2.1 200 OK\r\n")]),
    "udp-ip-len-96": ([ip() / udp_len(96), ip(frag=8, proto=17) / Raw(b"u" * 76)], [ip() / udp_len(97)]),
    "udp-ip-len-1500": ([ip() / udp_len(1500)], [ip() / udp_len(1499), ip(proto=6) / Raw(b"t" * 1480)]),
    "port-53": ([ip() / syn(sport=53), ip() / udp(dport=53), ip() / ICMP(type=53)], [ip() / syn(sport=54)]),
    "tcp-port-23": ([ip() / syn(dport=23)], [ip() / udp(dport=23)]),
    "tcp-port-80": ([ip() / syn(sport=80)], [ip() / udp(sport=80)]),
    "tcp-port-5000": ([ip() / syn(dport=5000)], [ip() / udp(dport=5000)]),
    "dns-resp-non-standard": ([ip() / udp(payload=DNS_RESP)],
                              [ip() / udp(payload=DNS_RESP[:2] + b"\x01\x00" + DNS_RESP[4:]),
                               ip() / udp(payload=DNS_RESP[:6] + b"\x00\x0a" + DNS_RESP[8:])]),
    "netbios-query-name": ([ip() / udp(137, 137, NETBIOS)], [ip() / udp(138, 137, NETBIOS)]),
    "not-ip": ([Ether(**ETH) / IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP(), Ether(**ETH) / ARP()],
               [ip() / udp()]),
    "ttl-200-nonspoofed": ([ip(ttl=200) / udp(), ip(ttl=250) / syn(window=1024)], [SCAN]),
}


def main():
    out = sys.argv[1]
    everything = []
    for name, (hits, misses) in CASES.items():
        pkts = hits + misses
        for p in pkts:
            p.time = 1500000000
        wrpcap(os.path.join(out, name + ".pcap"), pkts)
        everything += pkts
        print(name, len(hits), len(misses))
    wrpcap(os.path.join(out, "all.pcap"), everything)


if __name__ == "__main__":
    main()
