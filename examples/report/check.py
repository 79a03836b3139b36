#!/usr/bin/env python3
"""Checks an `obsgen report` page: self-contained (no script, no external resource), every
chart well-formed SVG, one incident section per incident drawn; then opens it in headless
Chromium, takes a screenshot and fails on any console message (the page has no script, so
any is an error: Chromium reports invalid SVG attributes there) or on a screenshot without
the charts' colours.

    python3 check.py REPORT.html SCREENSHOT.png [--chromium chromium]
"""

import argparse
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

from PIL import Image


def fail(msg):
    print(f"report check FAILED: {msg}")
    sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("report")
    ap.add_argument("screenshot")
    ap.add_argument("--chromium", default="chromium")
    a = ap.parse_args()
    html = open(a.report, encoding="utf-8").read()

    # Self-contained: nothing fetched, nothing run.
    # (URLs inside text, such as a probe's in an event message, are only text.)
    for pattern in (r"<script", r"<link", r"<img", r"<iframe", r"<object", r"<embed",
                    r"\bsrc=", r"\bhref=", r"url\(", r"@import"):
        if re.search(pattern, html, re.I):
            fail(f"the page has {pattern}")
    svgs = re.findall(r"<svg.*?</svg>", html, re.S)
    for i, svg in enumerate(svgs):
        try:
            ET.fromstring(svg)
        except ET.ParseError as e:
            fail(f"chart {i} is not well-formed SVG: {e}")
    sections = re.findall(r"<section id=\"([^\"]+)\">", html)
    m = re.search(r"Incidents \((\d+) of (\d+) drawn\)", html)
    if not m or int(m.group(1)) != len(sections) or not sections:
        fail(f"{len(sections)} incident sections, heading {m.group(0) if m else None}")
    if len(svgs) != 2 + 6 * len(sections):
        fail(f"{len(svgs)} charts for {len(sections)} incidents (want 2 + 6 each)")

    # Rendered by a real browser, with no console message.
    p = subprocess.run(
        [a.chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--window-size=1200,2400", f"--screenshot={a.screenshot}", "--enable-logging=stderr",
         "--log-level=0", "file://" + __import__("os").path.abspath(a.report)],
        capture_output=True, text=True, timeout=120,
    )
    console = [l for l in p.stderr.splitlines() if ":CONSOLE" in l]
    if console:
        fail("console messages:\n  " + "\n  ".join(console[:10]))
    img = Image.open(a.screenshot).convert("RGB")
    w, h = img.size
    if (w, h) != (1200, 2400):
        fail(f"screenshot is {w}x{h}")
    raw = img.resize((300, 600)).tobytes()
    px = [tuple(raw[i:i + 3]) for i in range(0, len(raw), 3)]
    ink = sum(1 for r, g, b in px if r + g + b < 600) / len(px)
    colours = set()
    for r, g, b in px:
        # The bars and lines: saturated pixels (not grey text, not white).
        if max(r, g, b) - min(r, g, b) > 80:
            colours.add((r // 32, g // 32, b // 32))
    if ink < 0.03:
        fail(f"the screenshot is nearly blank ({ink:.1%} drawn)")
    if len(colours) < 6:
        fail(f"the screenshot shows {len(colours)} colours: the charts did not render")
    print(f"report check: {len(svgs)} charts, {len(sections)} incidents, screenshot {w}x{h} "
          f"with {ink:.1%} drawn and {len(colours)} chart colours, no console message")


if __name__ == "__main__":
    main()
