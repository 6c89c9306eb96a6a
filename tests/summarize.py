#!/usr/bin/env python3
"""Counts the results of a `meson test` run in build folder BUILD and prints
one line: 'tests: N passed, N failed, N skipped'.

Every test meson has registered (meson-info/intro-tests.json) is accounted
for, from meson's own log of the run (meson-logs/testlog.json) and the XML
report each GoogleTest binary writes at exit (BUILD/NAME.xml):
- a binary's test cases are counted from its XML report;
- a binary without a report (it crashed, hung and was killed, or never
  started), or one that meson ran but whose report is older than the run,
  counts as one failure, named with meson's result (FAIL, TIMEOUT, ERROR...);
- a binary whose report shows no failure but which meson saw fail (e.g. a
  crash or sanitizer error after the report was written) counts one failure
  more;
- a registered test missing from meson's log (the run was interrupted)
  counts as one failure.
Failed tests are listed by name, skipped ones by reason.
Exit 1 on any failure or when no test ran."""
import json
import pathlib
import sys
import xml.etree.ElementTree as ET

build = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "build")
failures = []   # "binary: what"
skips = {}      # (binary, reason) -> [Suite.test, ...]
passed = 0


def registered_tests():
    intro = build / "meson-info" / "intro-tests.json"
    if not intro.exists():
        return None
    return [t["name"] for t in json.loads(intro.read_text())]


def meson_results():
    """Test name -> (meson result, return code, start time) from the last run."""
    log = build / "meson-logs" / "testlog.json"
    results = {}
    if not log.exists():
        return results
    for line in log.read_text().splitlines():
        if not line.strip():
            continue
        entry = json.loads(line)
        # "project:suite / name" when the project has several suites
        name = entry["name"].split(" / ")[-1]
        results[name] = (entry["result"], entry.get("returncode"), entry.get("starttime", 0))
    return results


def count_xml(binary, path):
    """Counts the cases of one report; returns the number of failures in it."""
    global passed
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        failures.append(f"{binary}: unreadable GoogleTest report {path.name} ({e})")
        return 1
    failed_here = 0
    for case in root.iter("testcase"):
        name = f"{case.get('classname')}.{case.get('name')}"
        if case.find("failure") is not None or case.find("error") is not None:
            failures.append(f"{binary}: {name}")
            failed_here += 1
        elif case.get("result") == "skipped" or case.find("skipped") is not None or case.get("status") == "notrun":
            s = case.find("skipped")
            # GoogleTest's message: "FILE:LINE" and the reason on the next lines
            lines = (s.get("message") or "").strip().splitlines() if s is not None else []
            reason = " ".join(l.strip() for l in lines[1:]) or "no reason given"
            reason = reason if len(reason) <= 160 else reason[:157] + "..."
            skips.setdefault((binary, reason), []).append(name)
        else:
            passed += 1
    return failed_here


names = registered_tests()
results = meson_results()
if names is None:  # not a meson build folder: count the reports there are
    names = sorted(p.stem for p in build.glob("*.xml"))
    print(f"summarize: no meson test list in {build}: counting its XML reports only", file=sys.stderr)
for name in names:
    xml = build / f"{name}.xml"
    result = results.get(name)
    if result is None and results:
        failures.append(f"{name}: not run (missing from meson's test log: the run was interrupted?)")
        continue
    res, rc, start = result if result else ("OK", 0, 0)
    # A report from an earlier run does not count for this one.
    fresh = xml.exists() and (start == 0 or xml.stat().st_mtime >= start - 1)
    if not fresh:
        failures.append(f"{name}: meson result {res} (exit status {rc}) and no GoogleTest report: "
                        "the binary crashed, was killed or timed out")
        continue
    in_report = count_xml(name, xml)
    if res not in ("OK", "SKIP") and in_report == 0:
        failures.append(f"{name}: meson result {res} (exit status {rc}) after a report without failures")

for (binary, reason), cases in sorted(skips.items()):
    more = f" and {len(cases) - 3} more" if len(cases) > 3 else ""
    print(f"  skipped {len(cases)} ({binary}: {reason}): {', '.join(cases[:3])}{more}")
for f in failures:
    print(f"  FAILED: {f}")
print(f"tests: {passed} passed, {len(failures)} failed, {sum(len(c) for c in skips.values())} skipped")
sys.exit(1 if failures or passed == 0 else 0)
