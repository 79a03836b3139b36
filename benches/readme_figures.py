#!/usr/bin/env python3
"""The README's figures, regenerated: the rows a day of every table, the rows of the quick
start's day and the time it takes.

    python3 benches/readme_figures.py [--obsgen target/release/obsgen] [--runs 3] [--check]

Runs the quick start's day (`generate --duration-hours 24`: the default seed, start and
configuration) `--runs` times and rewrites, in README.md, the `rows/day` column of the
table of tables, the day's rows and its time (median of the runs' own `seconds`, process
start excluded) and the core count. `--check` runs the day once and fails when a row
figure differs from what the README says (rows are deterministic; the time is not
checked, it depends on the machine): CI runs it.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

README = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "README.md")

TABLE_ROW = re.compile(r"^\| `(\w+/\w+)` \| ([^|]+) \|", re.M)
# The table of tables: from its header to the blank line after it.
TABLES = re.compile(r"^\| table \| rows/day \|.*?\n\n", re.M | re.S)
INTRO = re.compile(
    r"about [\d.]+M rows over the four sources, about [\d.]+ s on \w+ cores"
)
DAY_ROWS = re.compile(r"about [\d.]+ million\nrows a day with the defaults")


def approx(n):
    """`~510K`: two significant digits."""
    if n < 100:
        return f"~{n}"
    r = round(n, -(len(str(n)) - 2))
    for unit, div in (("M", 1_000_000), ("K", 1_000)):
        if r >= div:
            return f"~{r / div:g}{unit}"
    return f"~{r}"


def cores_word(n):
    words = {1: "one", 2: "two", 4: "four", 8: "eight"}
    return words.get(n, str(n))


def run_day(obsgen):
    with tempfile.TemporaryDirectory(prefix="obsgen-readme-") as out:
        p = subprocess.run(
            [obsgen, "generate", "--duration-hours", "24", "--summary", "json",
             "--no-progress", "-o", os.path.join(out, "day")],
            check=True, capture_output=True, text=True,
        )
    return json.loads(p.stdout)


def figures(summary):
    rows = {}
    for t in summary["manifest"]["tables"]:
        if t["format"] == "parquet":
            rows[f"{t['source']}/{t['table']}"] = t["rows"]
    return rows, summary["source_records"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--obsgen", default="target/release/obsgen")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args()
    text = open(README, encoding="utf-8").read()
    runs = [run_day(a.obsgen) for _ in range(1 if a.check else max(1, a.runs))]
    rows, records = figures(runs[0])
    want = {name: approx(n) for name, n in rows.items()}
    day_m = f"{records / 1e6:.2f}"

    if a.check:
        problems = []
        tables = TABLES.search(text)
        if not tables:
            problems.append("README has no table of tables (| table | rows/day |)")
        for m in TABLE_ROW.finditer(tables.group(0) if tables else ""):
            name, cell = m.group(1), m.group(2).strip()
            if name in want and cell != want[name]:
                problems.append(f"{name}: README says {cell}, the day has {rows[name]} ({want[name]})")
        intro = INTRO.search(text)
        if not intro or f"about {day_m}M rows" not in intro.group(0):
            problems.append(f"quick start: the day has {records} rows (about {day_m}M)")
        day = DAY_ROWS.search(text)
        if not day or f"about {records / 1e6:.2f} million" not in day.group(0):
            problems.append(f"table intro: the day has {records} rows")
        if problems:
            print("README figures are out of date (python3 benches/readme_figures.py rewrites them):")
            for p in problems:
                print("  " + p)
            sys.exit(1)
        print(f"README figures match the day ({records} rows, {len(want)} tables)")
        return

    seconds = statistics.median(r["seconds"] for r in runs)
    cores = os.cpu_count() or 1

    def table_cell(m):
        name = m.group(1)
        if name not in want:
            return m.group(0)
        return f"| `{name}` | {want[name]} |"

    text = TABLES.sub(lambda t: TABLE_ROW.sub(table_cell, t.group(0)), text)
    text = INTRO.sub(
        f"about {day_m}M rows over the four sources, about {seconds:.1f} s on {cores_word(cores)} cores",
        text,
    )
    text = DAY_ROWS.sub(f"about {records / 1e6:.2f} million\nrows a day with the defaults", text)
    open(README, "w", encoding="utf-8").write(text)
    print(f"README: {records} rows, median {seconds:.2f} s of {len(runs)} runs on {cores} cores")
    for name in sorted(want):
        print(f"  {name:<32} {rows[name]:>9} {want[name]}")


if __name__ == "__main__":
    main()
