#!/usr/bin/env python3
"""Seeds for tests/fuzz/fuzz_decode.cpp from capture files.

usage: decode_seeds.py OUTDIR FILE...

Each seed is a link-type selector byte (an index into LINK_TYPES, the
kLinkTypes of tests/fuzz/fuzz_common.hpp, in the same order) and one packet. The first packets of
every pcap, pcapng and ERF file (also gzip'd) are written as they are; the
first IPv4/IPv6 packets on Ethernet are also written in every other link type
the decoder reads (raw IP, loopback, Linux cooked v1/v2, ERF). Duplicates are
written once. Files that cannot be parsed are skipped with a message.
"""
import zlib
import hashlib
import os
import struct
import sys

LINK_TYPES = [1, 113, 276, 101, 12, 14, 228, 229, 0, 108, 197, 9]
ETHERNET, ERF = 1, 197
PER_FILE = 40      # packets of each file
REWRAP = 4         # of which re-encapsulated


def pcap_packets(b):
    magic = b[:4]
    end = {b"\xd4\xc3\xb2\xa1": "<", b"\x4d\x3c\xb2\xa1": "<", b"\xa1\xb2\xc3\xd4": ">", b"\xa1\xb2\x3c\x4d": ">"}[magic]
    link = struct.unpack(end + "I", b[20:24])[0] & 0xFFFF
    off = 24
    while off + 16 <= len(b):
        caplen = struct.unpack(end + "I", b[off + 8:off + 12])[0]
        yield link, b[off + 16:off + 16 + caplen]
        off += 16 + caplen


def pcapng_packets(b):
    end, links, off = "<", [], 0
    while off + 12 <= len(b):
        btype = struct.unpack(end + "I", b[off:off + 4])[0]
        if btype == 0x0A0D0D0A:
            end = "<" if b[off + 8:off + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            links = []
        blen = struct.unpack(end + "I", b[off + 4:off + 8])[0]
        if blen < 12:
            return
        body = b[off + 8:off + blen - 4]
        if btype == 1:
            links.append(struct.unpack(end + "H", body[:2])[0])
        elif btype == 6 and len(body) >= 20:
            ifc, caplen = struct.unpack(end + "I", body[:4])[0], struct.unpack(end + "I", body[12:16])[0]
            if ifc < len(links):
                yield links[ifc], body[20:20 + caplen]
        off += blen


def erf_packets(b):
    off = 0
    while off + 16 <= len(b):
        rlen = struct.unpack(">H", b[off + 10:off + 12])[0]
        if rlen < 16:
            return
        yield ERF, b[off:off + rlen]
        off += rlen


def packets(path):
    with open(path, "rb") as f:
        b = f.read()
    if b[:2] == b"\x1f\x8b":
        b = zlib.decompressobj(wbits=31).decompress(b)  # as much as there is of a cut file
    if b[:4] == b"\x0a\x0d\x0d\x0a":
        return pcapng_packets(b)
    if b[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        return pcap_packets(b)
    if ".erf" in os.path.basename(path):
        return erf_packets(b)
    return iter(())


def rewrapped(pkt):
    """An IPv4/IPv6 packet on Ethernet in the other link types: (link, bytes)."""
    ethertype = pkt[12:14]
    if ethertype not in (b"\x08\x00", b"\x86\xdd"):
        return
    ip, v6 = pkt[14:], ethertype == b"\x86\xdd"
    for link in (101, 12, 14):
        yield link, ip
    yield (229 if v6 else 228), ip
    yield 0, struct.pack("<I", 30 if v6 else 2) + ip
    yield 108, struct.pack(">I", 24 if v6 else 2) + ip
    yield 113, struct.pack(">HHH", 0, 1, 6) + pkt[6:12] + b"\0\0" + ethertype + ip
    yield 276, ethertype + b"\0\0" + struct.pack(">IHBB", 1, 1, 0, 6) + pkt[6:12] + b"\0\0" + ip
    erf_eth = b"\0\0" + pkt
    yield ERF, struct.pack(">QBBHHH", 0, 2, 4, 16 + len(erf_eth), 0, len(pkt)) + erf_eth
    yield ERF, struct.pack(">QBBHHH", 0, 23 if v6 else 22, 4, 16 + len(ip), 0, len(ip)) + ip


def main():
    out, files = sys.argv[1], sys.argv[2:]
    os.makedirs(out, exist_ok=True)
    written = 0

    def seed(link, pkt):
        nonlocal written
        if link not in LINK_TYPES:
            return
        s = bytes([LINK_TYPES.index(link)]) + pkt
        name = os.path.join(out, hashlib.sha1(s).hexdigest())
        if not os.path.exists(name):
            with open(name, "wb") as f:
                f.write(s)
            written += 1

    for path in files:
        try:
            for i, (link, pkt) in enumerate(packets(path)):
                if i >= PER_FILE:
                    break
                seed(link, pkt)
                if link == ETHERNET and i < REWRAP:
                    for l, p in rewrapped(pkt):
                        seed(l, p)
        except (KeyError, struct.error, OSError, zlib.error) as e:
            print(f"decode_seeds.py: {path}: skipped ({e})", file=sys.stderr)
    print(f"decode seeds: {written} packets")


if __name__ == "__main__":
    main()
