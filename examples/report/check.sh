#!/usr/bin/env bash
# CI check of `obsgen report`: six hours of every source, the report written and checked
# (self-contained, well-formed SVG), then opened in headless Chromium (Debian's package),
# whose screenshot must show the charts and whose console must stay silent (check.py).
# Usage: check.sh [OBSGEN_BINARY]
set -euo pipefail
cd "$(dirname "$0")/../.."
OBSGEN="$(realpath "${1:-target/release/obsgen}")"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
"$OBSGEN" generate --start 2026-11-23T08:00:00Z --duration-hours 6 -q --output-dir "$WORK/data"
"$OBSGEN" report "$WORK/data" -o "$WORK/report.html"
python3 examples/report/check.py "$WORK/report.html" "$WORK/screenshot.png"
