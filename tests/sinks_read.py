#!/usr/bin/python3
"""Reads back what the timeseries sinks' servers hold, one line per value.

whisper ROOT FROM UNTIL: every whisper file under ROOT (carbon's storage), as
  `key value ts` lines (the key from the file's path).
influx URL DB MEASUREMENT: every point of MEASUREMENT (InfluxDB 1.x /query),
  as `class value label ts uniq_src_ip uniq_dst_ip uniq_src_asn pkt_cnt ip_len`
  lines, tabs between the parts ('-' for an absent tag).
"""
import json
import os
import sys
import urllib.parse
import urllib.request


def whisper_points(root, frm, until):
    import whisper
    for d, _, files in os.walk(root):
        for f in files:
            if not f.endswith(".wsp"):
                continue
            p = os.path.join(d, f)
            key = os.path.relpath(p, root)[:-4].replace(os.sep, ".")
            (start, _, step), values = whisper.fetch(p, frm, until)
            for i, v in enumerate(values):
                if v is not None:
                    print(key, int(v), start + i * step)


def influx_points(url, db, measurement):
    q = urllib.parse.urlencode({"db": db, "epoch": "s", "q": 'SELECT * FROM "%s"' % measurement})
    with urllib.request.urlopen(url + "/query?" + q, timeout=10) as r:
        doc = json.load(r)
    for res in doc.get("results", []):
        for s in res.get("series", []):
            cols = s["columns"]
            for row in s["values"]:
                v = dict(zip(cols, row))
                parts = [v.get("class"), v.get("value"), v.get("label"), v["time"], v.get("uniq_src_ip"),
                         v.get("uniq_dst_ip"), v.get("uniq_src_asn"), v.get("pkt_cnt"), v.get("ip_len")]
                print("\t".join("-" if x is None else str(x) for x in parts))


if __name__ == "__main__":
    if sys.argv[1] == "whisper":
        whisper_points(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        influx_points(sys.argv[2], sys.argv[3], sys.argv[4])
