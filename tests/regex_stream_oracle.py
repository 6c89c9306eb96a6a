#!/usr/bin/python3
"""The regex plugin's stream-mode counts for literal rules, from tshark's
fields (tests/flows_oracle.py gives each packet its flow): each direction of
a TCP flow is one byte stream, its payloads in arrival order; a rule counts
the packets in which one of its matches ends. UDP payloads, and TCP packets
of a stream that lost its state, are scanned alone. A worker keeps POOL
stream states, the least recently used taken for a new flow direction (each
such taking counted as an eviction: the flows of the captures tested stay in
the flow table).

Rules: `ID [tcp|udp|any] /LITERAL/[i]`, the literal optionally led by `^`
(the stream's or payload's start); escapes \\r \\n \\t \\xHH \\/ \\\\ \\. only.

usage: regex_stream_oracle.py CAPTURE RULES POOL IDLE ACTIVE
prints `ID COUNT` per rule, then `streams N` and `evictions N`.
"""
import collections
import re
import sys

sys.path.insert(0, __import__("os").path.dirname(__file__))
from flows_oracle import flow_packets  # noqa: E402

ESC = {"r": b"\r", "n": b"\n", "t": b"\t", "/": b"/", "\\": b"\\", ".": b"."}


def literal(text):
    out, i = b"", 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            n = text[i + 1]
            if n == "x":
                out += bytes([int(text[i + 2:i + 4], 16)])
                i += 4
                continue
            out += ESC[n]
            i += 2
            continue
        if c in ".*+?()[]{}|$^":
            raise SystemExit("not a literal: " + text)
        out += c.encode()
        i += 1
    return out


def parse(path):
    rules = []
    for line in open(path):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r"(\S+)(?:\s+(tcp|udp|any))?\s+/(.*)/(i?)", line)
        if not m:
            raise SystemExit("oracle cannot read rule: " + line)
        pat, anchored = m.group(3), False
        if pat.startswith("^"):
            pat, anchored = pat[1:], True
        lit = literal(pat)
        caseless = m.group(4) == "i"
        rules.append({"id": m.group(1), "proto": {"tcp": 6, "udp": 17}.get(m.group(2) or "any", 0),
                      "lit": lit.lower() if caseless else lit, "caseless": caseless, "anchored": anchored})
    return rules


def ends_in(rule, data, start):
    """Whether a match of `rule` in `data` ends after offset `start`."""
    hay = data.lower() if rule["caseless"] else data
    lit = rule["lit"]
    if rule["anchored"]:
        return hay.startswith(lit) and len(lit) > start
    i = hay.find(lit, max(0, start - len(lit) + 1))
    return i >= 0


def main():
    cap, rules_file, pool = sys.argv[1], sys.argv[2], int(sys.argv[3])
    idle, active = int(sys.argv[4]) * 10**9, int(sys.argv[5]) * 10**9
    rules = parse(rules_file)
    counts = collections.Counter()
    streams = {}                       # (flow, sender) -> bytes so far
    lru = collections.OrderedDict()    # stream keys with a state, least recent first
    nstreams = evictions = 0
    extra = ["tcp.payload", "tcp.reset_cause", "udp.payload", "icmp", "icmpv6"]
    for r, flow, sender in flow_packets(cap, idle, active, extra):
        if r["icmp"] or r["icmpv6"]:
            continue
        # tshark shows a RST's data as its text, tcp.reset_cause, not tcp.payload.
        tcp = r["tcp.payload"] != "" or r["tcp.reset_cause"] != ""
        if r["tcp.reset_cause"] and not r["tcp.payload"]:
            data = r["tcp.reset_cause"].encode("latin-1")
        else:
            data = bytes.fromhex((r["tcp.payload"] or r["udp.payload"]).replace(":", ""))
        if not data:
            continue
        proto = 6 if tcp else 17
        if tcp:
            key = (flow, sender)
            if key in lru:
                lru.move_to_end(key)
            else:
                if len(lru) == pool:
                    old, _ = lru.popitem(last=False)
                    streams.pop(old, None)
                    evictions += 1
                lru[key] = True
                streams[key] = b""
                nstreams += 1
            before = streams[key]
            whole = before + data
            streams[key] = whole
            start = len(before)
        else:
            whole, start = data, 0
        for rule in rules:
            if rule["proto"] in (0, proto) and ends_in(rule, whole, start):
                counts[rule["id"]] += 1
    for rule in rules:
        print(rule["id"], counts[rule["id"]])
    print("streams", nstreams)
    print("evictions", evictions)


if __name__ == "__main__":
    main()
