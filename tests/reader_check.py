#!/usr/bin/python3
"""The independent side of tests/test_reader.cpp: Apache's python3-avro
(Debian package python3-avro) reads and writes the files, and each output
format of privateer-read is rendered here again from python3-avro's records,
from the format's description (README "Reading results"), for the test to
compare with what privateer-read printed.

  reader_check.py write SCHEMA_JSON_FILE CODEC SEED COUNT OUT [BLOCK_RECORDS]
      random records of the schema (every Avro type) written by python3-avro
  reader_check.py json FILE JSONL      privateer-read --json output JSONL,
      parsed by Python's json module, equals the records of FILE (bytes and
      fixed as hex, NaN and infinities as None); exit 1 and why otherwise
  reader_check.py text FILE            field=value lines of FILE's records
  reader_check.py ft2ascii FILE...     corsaro3's corsavro_ft2ascii.py format
  reader_check.py summary FILE         the --summary lines of FILE
  reader_check.py count FILE           the number of records of FILE

Exit status: 0 on success, 2 when python3-avro is missing, 1 otherwise.
"""

import ipaddress
import json
import math
import random
import sys
import warnings

warnings.simplefilter("ignore")   # python3-avro warns about the test schema's unknown logicalType
try:
    import avro.schema
    from avro.datafile import DataFileReader, DataFileWriter
    from avro.io import DatumReader, DatumWriter
except ImportError as e:
    print("reader_check.py: python3-avro missing: %s" % e, file=sys.stderr)
    sys.exit(2)


def records(path):
    with open(path, "rb") as f:
        reader = DataFileReader(f, DatumReader())
        try:
            schema = json.loads(reader.get_meta("avro.schema").decode("utf-8"))
            codec = reader.get_meta("avro.codec")
            codec = codec.decode() if codec else "null"
            return schema, codec, list(reader)
        finally:
            reader.close()


# ---- random records of any schema ----

STRINGS = ["", "??", "null", "a b", "x=y", 'say "hi"', "back\\slash", "tab\there", "line\nbreak",
           "\u00e9t\u00e9", "\u65e5\u672c", "\U0001f600", "ctl\x01\x1f", "overall", "traffic.protocol"]


def random_datum(s, names, rnd, depth=0):
    if isinstance(s, str):
        s = names.get(s, s)
    if isinstance(s, list):
        branches = s if depth < 4 else [b for b in s if b == "null"] or s
        return random_datum(rnd.choice(branches), names, rnd, depth + 1)
    t = s["type"] if isinstance(s, dict) else s
    if isinstance(t, (dict, list)):
        return random_datum(t, names, rnd, depth)
    if t == "null":
        return None
    if t == "boolean":
        return rnd.random() < 0.5
    if t == "int":
        return rnd.choice([0, 1, -1, 2**31 - 1, -2**31, rnd.randint(-2**31, 2**31 - 1), rnd.randint(0, 65535)])
    if t == "long":
        return rnd.choice([0, -1, 2**63 - 1, -2**63, rnd.randint(0, 2**32 - 1), rnd.randint(-2**63, 2**63 - 1),
                           rnd.randint(1700000000, 1700000600)])
    if t in ("float", "double"):
        v = rnd.choice([0.0, -0.0, 1.5, -2.25, 1e-30, 3.4e38, rnd.uniform(-1e6, 1e6), float("nan"), float("inf")])
        if t == "float":
            import struct
            v = struct.unpack("<f", struct.pack("<f", v))[0]
        return v
    if t == "bytes":
        return bytes(rnd.randrange(256) for _ in range(rnd.choice([0, 1, 5, 40])))
    if t == "string":
        return rnd.choice(STRINGS)
    if t == "fixed":
        return bytes(rnd.randrange(256) for _ in range(s["size"]))
    if t == "enum":
        return rnd.choice(s["symbols"])
    if t == "array":
        n = rnd.choice([0, 1, 3]) if depth < 4 else 0
        return [random_datum(s["items"], names, rnd, depth + 1) for _ in range(n)]
    if t == "map":
        n = rnd.choice([0, 1, 3]) if depth < 4 else 0
        return {rnd.choice(STRINGS) + str(i): random_datum(s["values"], names, rnd, depth + 1) for i in range(n)}
    if t in ("record", "error"):
        return {f["name"]: random_datum(f["type"], names, rnd, depth + 1) for f in s["fields"]}
    raise ValueError("type %r" % (t,))


def collect_names(s, names, ns=""):
    """Full name -> definition, so references can be generated."""
    if isinstance(s, list):
        for b in s:
            collect_names(b, names, ns)
    elif isinstance(s, dict):
        t = s.get("type")
        if t in ("record", "error", "enum", "fixed"):
            name = s["name"]
            own_ns = s.get("namespace", ns)
            full = name if "." in name or not own_ns else own_ns + "." + name
            names[full] = s
            names[name] = s
            ns = full.rsplit(".", 1)[0] if "." in full else ""
            for f in s.get("fields", []):
                collect_names(f["type"], names, ns)
        elif t == "array":
            collect_names(s["items"], names, ns)
        elif t == "map":
            collect_names(s["values"], names, ns)
        elif isinstance(t, (dict, list)):
            collect_names(t, names, ns)


def write(schema_file, codec, seed, count, out, block_records=0):
    text = open(schema_file).read()
    js = json.loads(text)
    names = {}
    collect_names(js, names)
    rnd = random.Random(seed)
    with open(out, "wb") as f:
        w = DataFileWriter(f, DatumWriter(), avro.schema.parse(text), codec=codec)
        for i in range(count):
            w.append(random_datum(js, names, rnd))
            if block_records and (i + 1) % block_records == 0:
                w.sync()
        w.close()


# ---- what privateer-read prints ----

def jsonable(v):
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).hex()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: jsonable(x) for k, x in v.items()}
    if isinstance(v, list):
        return [jsonable(x) for x in v]
    return v


def same(a, b):
    """Equality with -0.0 == 0.0 kept apart (the text must keep the sign)."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) == type(b) and a == b


def check_json(path, jsonl):
    _, _, recs = records(path)
    lines = open(jsonl, encoding="utf-8").read().splitlines()
    if len(lines) != len(recs):
        print("%d JSON lines, %d records" % (len(lines), len(recs)))
        return 1
    for i, (line, rec) in enumerate(zip(lines, recs)):
        got = json.loads(line)
        if not same(got, jsonable(rec)):
            print("record %d differs:\n  privateer-read: %s\n  python3-avro:   %r" % (i, line, jsonable(rec)))
            return 1
    return 0


def logfmt_string(s):
    if s == "" or s == "null" or any(c <= " " or c in '="\\\x7f' for c in s):
        return json.dumps(s, ensure_ascii=False, separators=(",", ":"))
    return s


def text_value(name, v, ftype):
    is_ip = name == "ip" or name.endswith("_ip")
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(ipaddress.ip_address(v)) if is_ip and v >= 0 else str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return logfmt_string(v)
    if isinstance(v, (bytes, bytearray)):
        if is_ip and len(v) == 16:
            return str(ipaddress.IPv6Address(bytes(v)))
        if is_ip and len(v) == 4:
            return str(ipaddress.IPv4Address(bytes(v)))
        return bytes(v).hex()
    return json.dumps(jsonable(v), ensure_ascii=False, separators=(",", ":"))


def field_type(t):
    if isinstance(t, dict):
        return t.get("type")
    return t


def text(path):
    schema, _, recs = records(path)
    fields = [(f["name"], field_type(f["type"])) for f in schema["fields"]]
    for r in recs:
        print(" ".join("%s=%s" % (n, text_value(n, r[n], t)) for n, t in fields))


def ft_line(r):
    return "%s|%s|%u|%u|%u|%u|0x%02x|%u,%u" % (
        ipaddress.ip_address(r["src_ip"]), ipaddress.ip_address(r["dst_ip"]), r["src_port"], r["dst_port"],
        r["protocol"], r["ttl"], r["tcp_flags"], r["ip_len"], r["packet_cnt"])


def ft2ascii(paths):
    out = []
    n = 0
    cur = None   # [time, lines]

    def close():
        if cur is None:
            return
        out.extend(["START flowtuple_backscatter 0", "END flowtuple_backscatter", "START flowtuple_icmpreq 0",
                    "END flowtuple_icmpreq", "START flowtuple_other %u" % len(cur[1])])
        out.extend(cur[1])
        out.extend(["END flowtuple_other", "# CORSARO_INTERVAL_END %u %u" % (n - 1, cur[0])])

    for p in paths:
        for r in records(p)[2]:
            if cur is None or r["time"] > cur[0]:
                close()
                out.append("# CORSARO_INTERVAL_START %u %u" % (n, r["time"]))
                n += 1
                cur = [r["time"], []]
            cur[1].append(ft_line(r))
    close()
    print("\n".join(out))


def summary(path):
    schema, codec, recs = records(path)
    names = [f["name"] for f in schema["fields"]]

    def first(*cands):
        return next((c for c in cands if c in names), None)

    tf = first("time", "bin_timestamp", "timestamp")
    pf = first("packet_cnt", "packets", "pkt_cnt")
    bf = first("byte_cnt", "bytes")
    lf = "ip_len" if bf is None and pf is not None and "ip_len" in names else None
    sf = first("src_ip", "target_ip")
    df = "dst_port" if "dst_port" in names else None
    mf = "metric_name" in names
    iv = {}
    for r in recs:
        t = r[tf] if tf else 0
        s = iv.setdefault(t, {"records": 0, "packets": 0, "bytes": 0, "src": {}, "port": {}})
        s["records"] += 1
        pk = r[pf] if pf else 1
        if not mf or r["metric_name"] == "overall":
            s["packets"] += pk
            if bf:
                s["bytes"] += r[bf]
            if lf:
                s["bytes"] += r[lf] * pk
        if sf:
            k = r[sf] if isinstance(r[sf], int) else ipaddress.IPv6Address(bytes(r[sf]))
            s["src"][k] = s["src"].get(k, 0) + pk
        if df:
            s["port"][r[df]] = s["port"].get(r[df], 0) + pk

    def totals(s):
        t = " records=%d" % s["records"]
        if pf:
            t += " packets=%d" % s["packets"]
        if bf or lf:
            t += " bytes=%d" % s["bytes"]
        return t

    allt = {k: sum(s[k] for s in iv.values()) for k in ("records", "packets", "bytes")}
    out = ["file=%s schema=%s codec=%s%s intervals=%d" % (logfmt_string(path), schema["namespace"] + "." + schema["name"]
                                                         if "namespace" in schema else schema["name"], codec,
                                                         totals(allt), len(iv))]
    for t in sorted(iv):
        s = iv[t]
        out.append("interval=%s%s" % (t if tf else "all", totals(s)))
        for label, m, show in (("top_" + (sf or ""), s["src"], sf), ("top_dst_port", s["port"], df)):
            if not show:
                continue
            top = sorted(m.items(), key=lambda kv: (-kv[1], int(kv[0])))[:10]
            for rank, (k, c) in enumerate(top, 1):
                val = str(ipaddress.ip_address(k)) if isinstance(k, int) and k >= 0 and label != "top_dst_port" else str(k)
                out.append("%s rank=%d value=%s %s=%d" % (label, rank, val, "packets" if pf else "records", c))
    print("\n".join(out))


def main(argv):
    cmd = argv[1]
    if cmd == "write":
        write(argv[2], argv[3], int(argv[4]), int(argv[5]), argv[6], int(argv[7]) if len(argv) > 7 else 0)
        return 0
    if cmd == "json":
        return check_json(argv[2], argv[3])
    if cmd == "text":
        text(argv[2])
        return 0
    if cmd == "ft2ascii":
        ft2ascii(argv[2:])
        return 0
    if cmd == "summary":
        summary(argv[2])
        return 0
    if cmd == "count":
        print(len(records(argv[2])[2]))
        return 0
    print(__doc__, file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
