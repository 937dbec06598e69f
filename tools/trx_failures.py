#!/usr/bin/env python3
"""Prints each failed test of the given TRX reports with the first lines of its message."""
import sys
import xml.etree.ElementTree as ET

NS = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
FAILED = ("Failed", "Error", "Timeout", "Aborted")
LIMIT = 30  # failed tests named; a failed fixture set-up fails each of its tests

shown = 0
hidden = 0

for path in sys.argv[1:]:
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as error:
        print(f"(could not read {path}: {error})")
        continue
    for result in root.iterfind(".//t:UnitTestResult", NS):
        if result.get("outcome") not in FAILED:
            continue
        if shown == LIMIT:
            hidden += 1
            continue
        shown += 1
        print(f"FAILED {result.get('testName')} ({result.get('outcome')}, {result.get('duration')})")
        message = result.findtext("t:Output/t:ErrorInfo/t:Message", default="", namespaces=NS)
        for line in message.strip().splitlines()[:6]:
            print(f"    {line[:300]}")

if hidden:
    print(f"... and {hidden} more failed tests")
