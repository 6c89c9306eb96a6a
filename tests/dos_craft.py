#!/usr/bin/python3
"""Writes the dos plugin's crafted test capture (scapy): backscatter around
each threshold and each kind of ICMP quote, plus traffic that is not
backscatter.

  dos_craft.py OUT.pcap

Targets are 192.0.2.N, N naming the case (tests/test_dos.cpp knows them):
   1 rate 30 in a window, 60.25 s       2 rate 29, 60.25 s
   3 duration 60.0 s (rate 41)          4 duration 59.0 s
   5 25 packets in 1 s                  6 24 packets in 1 s
   7 port unreachable quoting UDP       8 host unreachable quoting TCP, half mismatched
   9 time exceeded quoting ICMP         10 echo replies
  11 time exceeded, quote cut short     12 timestamp and mask replies
  13 not backscatter (UDP, TCP SYN, echo requests, quoted GRE, IPv6)
  16 30 packets, an idle interval, 30 more     17 one packet a second for 180 s
  18 two first packets at the same time
  19 SYN-ACKs from 89.160.20.112 (SE in MaxMind's test database)
  20 port unreachables from router 216.160.83.56 (US) quoting UDP to .20
Attackers are 10.99.X.Y (many, so that workers split each target), ICMP
errors come from routers 198.51.100.R. Time starts at T0 = 1699999980, a
multiple of 60.
"""

import random
import sys

from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.utils import wrpcap

T0 = 1699999980
rnd = random.Random(7)
frames = []


def attacker():
    return "10.99.%d.%d" % (rnd.randrange(256), rnd.randrange(1, 255))


def emit(t, pkt):
    p = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / pkt
    p.time = t
    frames.append(p)


def tcp_reply(target, t, flags="SA"):
    emit(t, IP(src=target, dst=attacker()) / TCP(sport=rnd.choice([80, 443]), dport=rnd.randrange(1024, 65536),
                                                flags=flags))


def spread(n, start, end):
    return [start + (end - start) * i / n for i in range(n)]


# 1, 2: 30 / 29 packets in the first 30 s, one more at +61.25.
for n, target in ((30, "192.0.2.1"), (29, "192.0.2.2")):
    for t in spread(n, T0 + 1, T0 + 30):
        tcp_reply(target, t)
    tcp_reply(target, T0 + 61.25)
# 3, 4: 40 RSTs in 20 s, the last at +60.5 / +59.5 (durations 60.0 / 59.0).
for last, target in ((60.5, "192.0.2.3"), (59.5, "192.0.2.4")):
    for t in spread(40, T0 + 0.5, T0 + 20):
        tcp_reply(target, t, "R")
    tcp_reply(target, T0 + last, "RA")
# 5, 6: 25 / 24 SYN-ACKs in one second.
for n, target in ((25, "192.0.2.5"), (24, "192.0.2.6")):
    for t in spread(n, T0 + 2, T0 + 3):
        tcp_reply(target, t)


def icmp_error(t, router, outer_dst, icmp, quoted):
    emit(t, IP(src=router, dst=outer_dst) / icmp / quoted)


for i, t in enumerate(spread(30, T0 + 4, T0 + 10)):
    a = attacker()
    router = "198.51.100.%d" % (1 + i % 3)
    # 7: the victim's port unreachable for a UDP packet from a (no mismatch).
    icmp_error(t, "192.0.2.7", a, ICMP(type=3, code=3),
               IP(src=a, dst="192.0.2.7") / UDP(sport=rnd.randrange(1024, 65536), dport=53))
    # 8: a router's host unreachable for TCP to .8; every other one quotes
    # another source than the packet's destination.
    q_src = a if i % 2 else "10.99.200.1"
    icmp_error(t + 0.01, router, a, ICMP(type=3, code=1),
               IP(src=q_src, dst="192.0.2.8") / TCP(sport=rnd.randrange(1024, 65536), dport=80, flags="S"))
    # 9: time exceeded for an echo request to .9.
    icmp_error(t + 0.02, router, a, ICMP(type=11, code=0),
               IP(src=a, dst="192.0.2.9") / ICMP(type=8, id=i, seq=i))
    # 10: echo replies from .10.
    emit(t + 0.03, IP(src="192.0.2.10", dst=a) / ICMP(type=0, id=i, seq=i))
    # 11: time exceeded quoting only 12 bytes of a header.
    emit(t + 0.04, IP(src="192.0.2.11", dst=a) / ICMP(type=11, code=1) / bytes(IP(src=a, dst="192.0.2.99"))[:12])
    # 12: timestamp and address mask replies.
    emit(t + 0.05, IP(src="192.0.2.12", dst=a) / ICMP(type=14 if i % 2 else 18))
    # 13: not backscatter.
    emit(t + 0.06, IP(src="192.0.2.13", dst=a) / UDP(sport=53, dport=rnd.randrange(1024, 65536)))
    emit(t + 0.07, IP(src="192.0.2.13", dst=a) / TCP(sport=80, dport=rnd.randrange(1024, 65536), flags="S"))
    emit(t + 0.08, IP(src="192.0.2.13", dst=a) / ICMP(type=8))
    icmp_error(t + 0.09, router, a, ICMP(type=3, code=2), IP(src=a, dst="192.0.2.13", proto=47) / (b"\0" * 8))
    emit(t + 0.10, IPv6(src="2001:db8::13", dst="2001:db8::99") / TCP(sport=80, dport=4444, flags="SA"))
# 16: 30 SYN-ACKs, nothing in the next interval, 30 more.
for t in spread(30, T0 + 5, T0 + 8) + spread(30, T0 + 125, T0 + 128):
    tcp_reply("192.0.2.16", t)
# 17: one a second for 180 s.
for s in range(180):
    tcp_reply("192.0.2.17", T0 + s + 0.5)
# 18: two first packets at the same microsecond, then 25 more.
for t in [T0 + 3.25, T0 + 3.25] + spread(25, T0 + 4, T0 + 9):
    tcp_reply("192.0.2.18", t)

# 19, 20: sources MaxMind's GeoLite2-Country-Test.mmdb knows.
for i, t in enumerate(spread(30, T0 + 11, T0 + 14)):
    tcp_reply("89.160.20.112", t)
    a = attacker()
    icmp_error(t, "216.160.83.56", a, ICMP(type=3, code=3),
               IP(src=a, dst="192.0.2.20") / UDP(sport=rnd.randrange(1024, 65536), dport=123))

frames.sort(key=lambda p: p.time)
wrpcap(sys.argv[1], frames)
