#!/usr/bin/python3
"""Real backscatter from a Linux stack, captured at a darknet.

  dos_backscatter.py OUT.pcap [SECONDS]

Builds three network namespaces joined by veth pairs:
  attacker (10.200.1.1) -- victim (10.200.1.2 | 10.200.2.1) -- telescope (10.200.2.2)
The victim routes the darknet 10.99.0.0/16 to the telescope. From the
attacker, scapy floods the victim with packets whose sources are spoofed in
the darknet: SYNs to a listening port (SYN-ACKs come back) and to a closed
one (RSTs), UDP to a closed port (ICMP port unreachable) and echo requests
(echo replies). The victim's answers go to the telescope, where tcpdump
captures them into OUT.pcap. Everything is removed at the end. Needs root,
ip, tcpdump and scapy; exit status 2 when one is missing.
"""

import os
import random
import shutil
import signal
import subprocess
import sys
import time

TAG = "pvd%d" % os.getpid()
ATK, VIC, TEL = TAG + "a", TAG + "v", TAG + "t"
VICTIM = "10.200.1.2"


def sh(*cmd, ns=None, check=True):
    full = (["ip", "netns", "exec", ns] if ns else []) + list(cmd)
    return subprocess.run(full, check=check, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def setup():
    for ns in (ATK, VIC, TEL):
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "set", "lo", "up", ns=ns)
    sh("ip", "link", "add", TAG + "0", "netns", ATK, "type", "veth", "peer", "name", TAG + "1", "netns", VIC)
    sh("ip", "link", "add", TAG + "2", "netns", VIC, "type", "veth", "peer", "name", TAG + "3", "netns", TEL)
    for ns, dev, addr in ((ATK, TAG + "0", "10.200.1.1/24"), (VIC, TAG + "1", "10.200.1.2/24"),
                          (VIC, TAG + "2", "10.200.2.1/24"), (TEL, TAG + "3", "10.200.2.2/24")):
        sh("ip", "addr", "add", addr, "dev", dev, ns=ns)
        sh("ip", "link", "set", dev, "up", ns=ns)
    sh("ip", "route", "add", "10.99.0.0/16", "via", "10.200.2.2", ns=VIC)
    # Take the spoofed sources, and answer every packet (no ICMP rate limit).
    for key, val in (("net.ipv4.conf.all.rp_filter", "0"), ("net.ipv4.conf.%s1.rp_filter" % TAG, "0"),
                     ("net.ipv4.icmp_ratelimit", "0"), ("net.ipv4.icmp_msgs_per_sec", "100000"),
                     ("net.ipv4.icmp_echo_ignore_all", "0")):
        sh("sysctl", "-qw", "%s=%s" % (key, val), ns=VIC)


def teardown():
    for ns in (ATK, VIC, TEL):
        sh("ip", "netns", "del", ns, check=False)


FLOOD = r"""
import random, sys, time
from scapy.all import IP, TCP, UDP, ICMP, send, conf
conf.verb = 0
rnd = random.Random(11)
seconds = float(sys.argv[1])
victim = sys.argv[2]
end = time.time() + seconds
while time.time() < end:
    batch = []
    for _ in range(10):
        src = "10.99.%d.%d" % (rnd.randrange(256), rnd.randrange(1, 255))
        sport = rnd.randrange(1024, 65536)
        batch += [IP(src=src, dst=victim) / TCP(sport=sport, dport=8080, flags="S", seq=rnd.randrange(1 << 32)),
                  IP(src=src, dst=victim) / TCP(sport=sport, dport=8081, flags="S"),
                  IP(src=src, dst=victim) / UDP(sport=sport, dport=9999) / b"x",
                  IP(src=src, dst=victim) / ICMP(type=8, id=sport & 0xffff, seq=1)]
    send(batch)
    time.sleep(0.1)
"""

LISTEN = r"""
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 8080))
s.listen(4096)
print("ready", flush=True)
time.sleep(600)
"""


def main():
    if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("tcpdump"):
        print("needs root, ip and tcpdump", file=sys.stderr)
        return 2
    try:
        import scapy.all  # noqa: F401
    except ImportError:
        print("needs python3-scapy", file=sys.stderr)
        return 2
    out = sys.argv[1]
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 8
    procs = []
    try:
        setup()
        listener = subprocess.Popen(["ip", "netns", "exec", VIC, sys.executable, "-c", LISTEN, VICTIM],
                                    stdout=subprocess.PIPE)
        procs.append(listener)
        listener.stdout.readline()
        dump = subprocess.Popen(["ip", "netns", "exec", TEL, "tcpdump", "-q", "-U", "-n", "-i", TAG + "3",
                                 "-w", out, "ip"], stderr=subprocess.PIPE)
        procs.append(dump)
        dump.stderr.readline()   # "listening on ..."
        subprocess.run(["ip", "netns", "exec", ATK, sys.executable, "-c", FLOOD, str(seconds), VICTIM], check=True)
        time.sleep(1)
        dump.send_signal(signal.SIGINT)
        dump.wait(10)
        return 0
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        teardown()


if __name__ == "__main__":
    sys.exit(main())
