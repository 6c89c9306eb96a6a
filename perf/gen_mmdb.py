#!/usr/bin/python3
"""Write a synthetic MaxMind DB (MMDB, format 2.0) of GeoLite2-City's shape.

For the tagging benchmark (perf/bench_tagging.sh): there is no MMDB writer
in Debian and MaxMind's GeoLite2 databases need a licence key, so this
writes one: an IPv6 database (IPv4 under ::/96, as GeoLite2's) with N
random IPv4 networks (/12 to /24, most /20 to /24) mapping to country
records {continent: {code}, country: {iso_code}, registered_country:
{iso_code}} over ~250 country codes, 32-bit records. Read it with
libmaxminddb's mmdblookup to check.

usage: gen_mmdb.py OUT.mmdb [--networks N] [--seed S]
"""

import argparse
import random
import struct
import sys
import time

CONTINENTS = ["AF", "AN", "AS", "EU", "NA", "OC", "SA"]


def enc_size(type_bits, size):
    if size < 29:
        return bytes([type_bits | size])
    if size < 285:
        return bytes([type_bits | 29, size - 29])
    if size < 65821:
        return bytes([type_bits | 30]) + struct.pack(">H", size - 285)
    return bytes([type_bits | 31]) + struct.pack(">I", size - 65821)[1:]


class U32(int):
    pass


class U64(int):
    pass


def enc(v):
    """MaxMind DB data section encoding of str, int (uint16; U32, U64 for
    the wider types the metadata needs), dict, list."""
    if isinstance(v, str):
        b = v.encode()
        return enc_size(2 << 5, len(b)) + b
    if isinstance(v, bool):
        return bytes([0 | int(v), 14 - 7])
    if isinstance(v, int):
        b = v.to_bytes((v.bit_length() + 7) // 8, "big") if v else b""
        if isinstance(v, U64):
            return enc_size(0, len(b)) + bytes([9 - 7]) + b
        if isinstance(v, U32):
            return enc_size(6 << 5, len(b)) + b
        assert v < 1 << 16
        return enc_size(5 << 5, len(b)) + b
    if isinstance(v, dict):
        out = enc_size(7 << 5, len(v))
        for k, x in v.items():
            out += enc(k) + enc(x)
        return out
    if isinstance(v, list):
        out = enc_size(0, len(v)) + bytes([11 - 7])
        for x in v:
            out += enc(x)
        return out
    raise TypeError(type(v))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--networks", type=int, default=1000000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    t0 = time.time()

    # Country records: two letters A-Z, a continent each.
    codes = sorted({chr(65 + rnd.randrange(26)) + chr(65 + rnd.randrange(26)) for _ in range(400)})[:250]
    data = b""
    offsets = []
    for c in codes:
        offsets.append(len(data))
        data += enc({"continent": {"code": rnd.choice(CONTINENTS)},
                     "country": {"iso_code": c}, "registered_country": {"iso_code": c}})

    # IPv4 networks, inserted shortest first so that more specifics split them.
    nets = []
    for _ in range(a.networks):
        r = rnd.random()
        plen = 24 if r < 0.55 else 22 if r < 0.75 else 20 if r < 0.9 else rnd.randint(12, 19)
        ip = rnd.getrandbits(32) & (0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF
        nets.append((plen, ip, rnd.randrange(len(codes))))
    nets.sort()

    # Tree: records are node numbers (>= 0), data refs (-1 - record index)
    # or None (no data). Node 0 is the root; nodes 0..95 the ::/96 chain.
    left, right = [], []
    for i in range(96):
        left.append(i + 1)   # the last one's left is the IPv4 root, 96
        right.append(None)
    left.append(None)
    right.append(None)
    for plen, ip, d in nets:
        node = 96
        for i in range(plen - 1):
            bit = (ip >> (31 - i)) & 1
            child = right[node] if bit else left[node]
            if child is None or child < 0:
                new = len(left)
                left.append(child)
                right.append(child)
                if bit:
                    right[node] = new
                else:
                    left[node] = new
                child = new
            node = child
        bit = (ip >> (32 - plen)) & 1
        if bit:
            right[node] = -1 - d
        else:
            left[node] = -1 - d

    n = len(left)

    def rec(v):
        if v is None:
            return n
        if v >= 0:
            return v
        return n + 16 + offsets[-1 - v]

    tree = bytearray(8 * n)
    for i in range(n):
        struct.pack_into(">II", tree, 8 * i, rec(left[i]), rec(right[i]))
    meta = enc({
        "binary_format_major_version": 2,
        "binary_format_minor_version": 0,
        "build_epoch": U64(int(time.time())),
        "database_type": "Privateer-Synthetic-City",
        "description": {"en": "synthetic GeoLite2-City-shaped database (perf/gen_mmdb.py)"},
        "ip_version": 6,
        "languages": ["en"],
        "node_count": U32(n),
        "record_size": 32,
    })
    with open(a.out, "wb") as f:
        f.write(tree)
        f.write(b"\0" * 16)
        f.write(data)
        f.write(b"\xab\xcd\xefMaxMind.com")
        f.write(meta)
    print("gen_mmdb: %d networks, %d nodes, %d countries, %.1f MiB, %.1f s"
          % (len(nets), n, len(codes), (len(tree) + 16 + len(data)) / 1048576, time.time() - t0), file=sys.stderr)


if __name__ == "__main__":
    main()
