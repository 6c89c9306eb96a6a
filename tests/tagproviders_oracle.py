#!/usr/bin/python3
"""Expected answers for tests/test_tagproviders.cpp, from independent sources.

usage:
  tagproviders_oracle.py pyasn OUTDIR COUNT4 COUNT6
      python3-pyasn's RouteViews tables (IPv4 of 2014-05-13, IPv6 of
      2015-11-01) converted to CAIDA's pfx2as format (v4.pfx2as.gz,
      v6.pfx2as), and COUNT4 / COUNT6 addresses with pyasn's own lookup()
      answers (v4.answers, v6.answers: ADDRESS TAB ASN, 0 for none): half
      drawn inside random prefixes of the table, half uniformly random.
  small OUTDIR
      a small pfx2as file (small.pfx2as: nested prefixes, /0, /32,
      multi-origin, AS sets, asdot, a prefix listed twice, IPv6) and the
      answers of a naive longest-prefix match written here with the
      ipaddress module, under corsaro3's rule (an AS only when the longest
      prefix lists exactly one), at the first and last address of every
      prefix and just outside (small.answers).
  geo JSON OUTDIR
      MaxMind's source data of a test database (../shared/geo/*.json):
      continent.code and country.iso_code ("-" when absent) for the first and
      last address of every network and the addresses just outside it (geo.answers).
"""
import gzip
import ipaddress
import json
import os
import random
import socket
import sys

PYASN_DATA = "/usr/lib/python3/dist-packages/data"


def pyasn_case(out, count4, count6):
    import pyasn

    for version, name, count, pfx2as in ((4, "ipasn_20140513.dat.gz", count4, "v4.pfx2as.gz"),
                                         (6, "ipasn6_20151101.dat.gz", count6, "v6.pfx2as")):
        src = os.path.join(PYASN_DATA, name)
        prefixes = []   # the family's "a.b.c.d/len" (ipasn6 holds IPv4 prefixes too: left out)
        dest = os.path.join(out, pfx2as)
        with gzip.open(src, "rt") as f, (gzip.open(dest, "wt", compresslevel=1) if dest.endswith(".gz")
                                         else open(dest, "w")) as w:
            for line in f:
                if line.startswith(";") or not line.strip():
                    continue
                prefix, asn = line.split()
                if (":" in prefix) != (version == 6):
                    continue
                addr, length = prefix.split("/")
                w.write(f"{addr}\t{length}\t{asn}\n")
                prefixes.append(prefix)
        table = pyasn.pyasn(src)
        rnd = random.Random(version)
        make = ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address
        with open(os.path.join(out, f"v{version}.answers"), "w") as w:
            for i in range(count):
                if i % 2 == 0:
                    addr, length = prefixes[rnd.randrange(len(prefixes))].split("/")
                    family = socket.AF_INET if version == 4 else socket.AF_INET6
                    size = 4 if version == 4 else 16
                    base = int.from_bytes(socket.inet_pton(family, addr), "big")
                    x = base + rnd.getrandbits(size * 8 - int(length)) if int(length) < size * 8 else base
                    a = socket.inet_ntop(family, x.to_bytes(size, "big"))
                elif version == 4:
                    a = socket.inet_ntoa(rnd.getrandbits(32).to_bytes(4, "big"))
                else:   # uniformly random IPv6 is nearly never routed: random in 2000::/4
                    a = str(make((0x2 << 124) | rnd.getrandbits(124)))
                asn = table.lookup(a)[0]
                w.write(f"{a}\t{asn or 0}\n")


SMALL = [
    ("0.0.0.0", 0, "64496"),
    ("10.0.0.0", 8, "64497"),
    ("10.1.0.0", 16, "64498_64499"),      # multi-origin: 0
    ("10.1.2.0", 24, "1.10"),             # asdot: 65546
    ("10.1.2.128", 25, "64500,64501"),    # AS set: 0
    ("10.1.2.129", 32, "64502"),
    ("10.1.3.0", 26, "64503"),
    ("10.1.3.64", 26, "64504_64505,64506"),
    ("10.2.0.0", 15, "4200000001"),       # 4-byte private use: above 2^30
    ("192.0.2.0", 24, "64507"),
    ("192.0.2.0", 24, "64508"),           # listed twice: the last line counts
    ("192.0.2.255", 32, "64509"),
    ("203.0.113.77", 20, "64510"),        # host bits set: 203.0.112.0/20
    ("255.255.255.255", 32, "64511"),
    ("2001:db8::", 32, "3356"),
    ("2001:db8:1::", 48, "174_3356"),
    ("2001:db8:1:2::", 64, "65001"),
    ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", 128, "65002"),
    ("2002::", 16, "6939"),
    ("::", 0, "65003"),
    ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 128, "65004"),
]


def one_as(field):
    parts = field.replace(",", "_").split("_")
    if len(parts) != 1:
        return 0
    if "." in parts[0]:
        hi, lo = parts[0].split(".")
        return int(hi) << 16 | int(lo)
    return int(parts[0])


def small_case(out):
    nets = []
    with open(os.path.join(out, "small.pfx2as"), "w") as w:
        for addr, length, asn in SMALL:
            w.write(f"{addr}\t{length}\t{asn}\n")
            nets.append((ipaddress.ip_network(f"{addr}/{length}", strict=False), one_as(asn)))

    def longest(a):
        best, answer = -1, 0
        for net, asn in nets:
            if net.version == a.version and a in net and net.prefixlen >= best:
                best, answer = net.prefixlen, asn
        return answer

    with open(os.path.join(out, "small.answers"), "w") as w:
        for net, _ in nets:
            top = (1 << net.max_prefixlen) - 1
            make = ipaddress.IPv4Address if net.version == 4 else ipaddress.IPv6Address
            first, last = int(net.network_address), int(net.broadcast_address)
            for x in (first, last, first - 1, last + 1):
                if 0 <= x <= top:
                    w.write(f"{make(x)}\t{longest(make(x))}\n")


def geo_case(path, out):
    with open(path) as f:
        data = json.load(f)
    nets = []
    for entry in data:
        for prefix, record in entry.items():
            continent = record.get("continent", {}).get("code", "-")
            country = record.get("country", {}).get("iso_code", "-")
            nets.append((ipaddress.ip_network(prefix), continent, country))

    def answer(a):
        for net, continent, country in nets:
            if net.version == a.version and a in net:
                return continent, country
        return "-", "-"

    with open(os.path.join(out, "geo.answers"), "w") as w:
        for net, _, _ in nets:
            top = (1 << net.max_prefixlen) - 1
            make = ipaddress.IPv4Address if net.version == 4 else ipaddress.IPv6Address
            first, last = int(net.network_address), int(net.broadcast_address)
            for x in (first, last, first - 1, last + 1):
                if 0 <= x <= top:
                    continent, country = answer(make(x))
                    w.write(f"{make(x)}\t{continent}\t{country}\n")


if __name__ == "__main__":
    if sys.argv[1] == "pyasn":
        pyasn_case(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif sys.argv[1] == "small":
        small_case(sys.argv[2])
    elif sys.argv[1] == "geo":
        geo_case(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
