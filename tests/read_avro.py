#!/usr/bin/python3
"""Print the records of a flowtuple Avro container file as TSV.

An independent reader for the tests: Apache's python3-avro (Debian package
python3-avro), nothing shared with privateer's avro-c writer.

Default columns, the corpus' expected format (../shared/corpus/README.md):
    time src_ip dst_ip src_port dst_port protocol ttl tcp_flags ip_len packet_cnt
IPv4 addresses (long) print as dotted quads, IPv6 addresses (fixed 16) as
IPv6 text. --all-fields prints every field of the writer's schema, in schema
order; --header first prints the column names. --meta prints the header's
metadata instead (KEY<TAB>VALUE, sorted by key, avro.schema left out).

Exit status: 0 on success, 2 when python3-avro is missing, 1 on a bad file.
"""

import argparse
import ipaddress
import json
import sys

DEFAULT_FIELDS = ["time", "src_ip", "dst_ip", "src_port", "dst_port", "protocol",
                  "ttl", "tcp_flags", "ip_len", "packet_cnt"]
ADDRESS_FIELDS = {"src_ip", "dst_ip"}


def fmt(name, value):
    if name in ADDRESS_FIELDS:
        if isinstance(value, int):
            return str(ipaddress.IPv4Address(value))
        if isinstance(value, (bytes, bytearray)) and len(value) == 16:
            return str(ipaddress.IPv6Address(bytes(value)))
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("file")
    ap.add_argument("--all-fields", action="store_true", help="print every field of the schema")
    ap.add_argument("--header", action="store_true", help="print the column names first")
    ap.add_argument("--meta", action="store_true", help="print the header metadata, not the records")
    args = ap.parse_args()

    try:
        from avro.datafile import DataFileReader
        from avro.io import DatumReader
    except ImportError as e:
        print("read_avro.py: python3-avro missing: %s" % e, file=sys.stderr)
        return 2

    out = sys.stdout
    with open(args.file, "rb") as f:
        reader = DataFileReader(f, DatumReader())
        try:
            if args.meta:
                for key in sorted(reader.meta):
                    if key != "avro.schema":
                        out.write("%s\t%s\n" % (key, reader.meta[key].decode("utf-8")))
                return 0
            schema = json.loads(reader.get_meta("avro.schema").decode("utf-8"))
            if args.all_fields:
                fields = [fd["name"] for fd in schema["fields"]]
            else:
                fields = DEFAULT_FIELDS
            if args.header:
                out.write("\t".join(fields) + "\n")
            for rec in reader:
                out.write("\t".join(fmt(n, rec[n]) for n in fields) + "\n")
        finally:
            reader.close()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:
        sys.exit(0)
    except Exception as e:  # a bad file: say what, exit 1
        print("read_avro.py: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        sys.exit(1)
