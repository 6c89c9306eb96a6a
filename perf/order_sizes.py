#!/usr/bin/python3
"""Compressed size of the same flowtuple records in two sort orders.

Reads avrocat's JSON lines of an org.caida.corsaro.flowtuple file on stdin,
groups them by interval (time), sorts each interval by corsaro3's order
(protocol, ttl, tcp_flags, src, dst, src_port, dst_port, ip_len) and by
address-first order (src, dst, src_port, dst_port, protocol, ttl,
tcp_flags, ip_len), encodes them in Avro binary into blocks of 64 KiB as the
container writer does, and prints the compressed bytes per codec and order.
"""
import json
import sys
import zlib

import snappy
import zstandard

FIELDS = ["time", "src_ip", "dst_ip", "src_port", "dst_port", "protocol", "ttl", "tcp_flags",
          "ip_len", "tcp_synlen", "tcp_synwinlen", "packet_cnt", "is_spoofed", "is_masscan"]
STRINGS = ["maxmind_continent", "maxmind_country", "netacq_continent", "netacq_country"]
ORDERS = {
    "corsaro3": lambda r: (r["time"], r["protocol"], r["ttl"], r["tcp_flags"], r["src_ip"], r["dst_ip"],
                           r["src_port"], r["dst_port"], r["ip_len"]),
    "address_first": lambda r: (r["time"], r["src_ip"], r["dst_ip"], r["src_port"], r["dst_port"],
                                r["protocol"], r["ttl"], r["tcp_flags"], r["ip_len"]),
}


def varint(v, out):
    z = (v << 1) ^ (v >> 63)
    while z > 0x7F:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)


def encode(r, out):
    for f in FIELDS:
        varint(r[f], out)
    for f in STRINGS:
        b = r[f].encode()
        varint(len(b), out)
        out += b
    varint(r["prefix2asn"], out)


def blocks(records, size=64 * 1024):
    cur = bytearray()
    for r in records:
        encode(r, cur)
        if len(cur) >= size:
            yield bytes(cur)
            cur = bytearray()
    if cur:
        yield bytes(cur)


def main():
    records = [json.loads(line) for line in sys.stdin if line.strip()]
    codecs = {
        "deflate1": lambda b: len(zlib.compress(b, 1)) - 6,   # raw deflate: no zlib header/trailer
        "deflate9": lambda b: len(zlib.compress(b, 9)) - 6,
        "snappy": lambda b: len(snappy.compress(b)) + 4,
        "zstd3": lambda b: len(zstandard.ZstdCompressor(level=3).compress(b)),
    }
    print(f"records={len(records)}")
    sizes = {}
    for name, key in ORDERS.items():
        ordered = sorted(records, key=key)
        bs = list(blocks(ordered))
        sizes[name] = {c: sum(fn(b) for b in bs) for c, fn in codecs.items()}
        sizes[name]["null"] = sum(len(b) for b in bs)
    for c in ["null", "deflate1", "deflate9", "snappy", "zstd3"]:
        a, b = sizes["corsaro3"][c], sizes["address_first"][c]
        print(f"{c:9s} corsaro3_order={a} address_first_order={b} ratio={a / b:.3f}")


if __name__ == "__main__":
    main()
