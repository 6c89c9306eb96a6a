#!/usr/bin/env python3
"""Counts GoogleTest results from the XML reports in a folder and prints
one line: 'tests: N passed, N failed, N skipped'. Exit 1 on any failure or
when no test ran."""
import pathlib
import sys
import xml.etree.ElementTree as ET

passed = failed = skipped = 0
for f in sorted(pathlib.Path(sys.argv[1]).glob("*.xml")):
    for case in ET.parse(f).getroot().iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        elif case.get("result") == "skipped" or case.find("skipped") is not None or case.get("status") == "notrun":
            skipped += 1
        else:
            passed += 1
print(f"tests: {passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed or passed + failed == 0 else 0)
