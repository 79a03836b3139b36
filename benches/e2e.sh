#!/usr/bin/env bash
# End-to-end benchmark: obsgen against tpchgen-cli on this machine.
#
# Builds obsgen in release mode, then runs each scenario RUNS times (default 3), one after
# the other, interleaved with tpchgen-cli (`tpchgen-cli parquet -s 1`, installed with pip
# if missing), and prints the medians: wall seconds, rows, rows/s, peak RSS and output
# bytes, with the ratio of rows/s against tpchgen-cli, and the issue-6 targets checked.
# `tpch_zstd` runs tpchgen-cli with obsgen's default codec (zstd level 1) for reference;
# the target compares against tpchgen-cli's default (Snappy).
#
#   benches/e2e.sh                # the default scenarios, 3 runs
#   RUNS=5 benches/e2e.sh
#   SCENARIOS="day week" benches/e2e.sh
#   RUNS=1 SCENARIOS="tpch day day_t1 week year gday gyear scaling" benches/e2e.sh   # every issue-14 target
#
# Scenarios: tpch, tpch_zstd (tpchgen-cli), day, day_t1 (--threads 1), week, month (30
# days), year (every source over 365 days: about 16 minutes and 32 GB of disk), jsonl,
# scale10, gday and gyear (grafana alone over a day and over 365 days: 4 minutes, 2 GB),
# scaling (benches/scaling.py: the schedule model for 1 to 64 workers, from a 48-hour
# trace; not timed).
#
# Rows: obsgen counts its source records (the labels twin and the incident tables are
# extra files and not counted); tpchgen-cli's rows are the 8,661,245 rows of scale 1.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-3}"
SCENARIOS="${SCENARIOS:-tpch tpch_zstd day week jsonl scale10}"
WORK="${WORK:-$(mktemp -d)}"
trap 'rm -rf "$WORK"' EXIT
START=2026-11-23
TPCH_ROWS=8661245

cargo build --release --locked --bin obsgen >&2
OBSGEN="$PWD/target/release/obsgen"
if [[ " $SCENARIOS " == *" tpch"* ]] && ! command -v tpchgen-cli > /dev/null; then
    pip install --quiet tpchgen-cli >&2
fi

# run NAME CMD...: one timed run; appends "wall rss_kib bytes rows" to $WORK/NAME.runs
run() {
    local name="$1"; shift
    local out="$WORK/out"
    rm -rf "$out"
    local log="$WORK/$name.log"
    /usr/bin/time -f "%e %M" -o "$WORK/time" "$@" > "$log" 2>&1 || { cat "$log" >&2; exit 1; }
    local wall rss bytes rows
    read -r wall rss < "$WORK/time"
    bytes=$(du -sb "$out" | cut -f1)
    if [[ "$name" == tpch* ]]; then
        rows=$TPCH_ROWS
    else
        rows=$(awk '/^total \(source records\)/ {print $4}' "$log")
    fi
    echo "$wall $rss $bytes $rows" >> "$WORK/$name.runs"
}

scenario() {
    local out="$WORK/out"
    case "$1" in
        tpch) run tpch tpchgen-cli parquet -s 1 --output-dir "$out" ;;
        # Informational: tpchgen-cli with obsgen's default codec (zstd level 1).
        tpch_zstd) run tpch_zstd tpchgen-cli parquet -s 1 -c 'ZSTD(1)' --output-dir "$out" ;;
        day) run day "$OBSGEN" generate --start $START --duration-hours 24 -o "$out" ;;
        week) run week "$OBSGEN" generate --start $START --duration-hours 168 -o "$out" ;;
        jsonl) run jsonl "$OBSGEN" generate --start $START --duration-hours 24 --format parquet,jsonl -o "$out" ;;
        scale10) run scale10 "$OBSGEN" generate --start $START --duration-hours 24 --scale 10 -o "$out" ;;
        day_t1) run day_t1 "$OBSGEN" generate --start $START --duration-hours 24 --threads 1 -o "$out" ;;
        month) run month "$OBSGEN" generate --start $START --duration-hours 720 -o "$out" ;;
        year) run year "$OBSGEN" generate --start $START --duration-hours 8760 -o "$out" ;;
        gday) run gday "$OBSGEN" generate --start $START --duration-hours 24 --sources grafana -o "$out" ;;
        gyear) run gyear "$OBSGEN" generate --start $START --duration-hours 8760 --sources grafana -o "$out" ;;
    esac
}

TIMED="${SCENARIOS//scaling/}"
for i in $(seq "$RUNS"); do
    for s in $TIMED; do
        echo "run $i/$RUNS: $s" >&2
        scenario "$s"
    done
done

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
declare -A WALL RSS BYTES ROWS RATE
for s in $TIMED; do
    f="$WORK/$s.runs"
    WALL[$s]=$(cut -d' ' -f1 "$f" | median)
    RSS[$s]=$(cut -d' ' -f2 "$f" | median)
    BYTES[$s]=$(cut -d' ' -f3 "$f" | median)
    ROWS[$s]=$(cut -d' ' -f4 "$f" | median)
    RATE[$s]=$(awk -v r="${ROWS[$s]}" -v w="${WALL[$s]}" 'BEGIN {printf "%.0f", r / w}')
done

echo
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "obsgen $("$OBSGEN" --version | cut -d' ' -f2), $(command -v tpchgen-cli > /dev/null && tpchgen-cli --version || echo 'no tpchgen-cli'); medians of $RUNS runs"
echo
printf "| %-9s | %8s | %11s | %10s | %8s | %9s | %12s | %10s |\n" scenario "wall s" rows "rows/s" "MB/s" "RSS MiB" bytes "vs tpchgen"
printf "|%s|%s|%s|%s|%s|%s|%s|%s|\n" ----------- ---------: ------------: -----------: ---------: ----------: -------------: -----------:
for s in $TIMED; do
    ratio="-"
    if [[ -n "${RATE[tpch]:-}" ]]; then
        ratio=$(awk -v a="${RATE[$s]}" -v b="${RATE[tpch]}" 'BEGIN {printf "%.2fx", a / b}')
    fi
    printf "| %-9s | %8s | %11s | %10s | %8s | %9s | %12s | %10s |\n" "$s" "${WALL[$s]}" "${ROWS[$s]}" "${RATE[$s]}" \
        "$(awk -v b="${BYTES[$s]}" -v w="${WALL[$s]}" 'BEGIN {printf "%.1f", b / w / 1e6}')" \
        "$(awk -v k="${RSS[$s]}" 'BEGIN {printf "%.0f", k / 1024}')" "${BYTES[$s]}" "$ratio"
done
echo
check() { printf "%-58s %-14s %s\n" "$1" "$2" "$3"; }
# A dry run's time (issue 14, item 3), measured once.
DRY=$( { /usr/bin/time -f "%e" "$OBSGEN" generate --start $START --duration-hours 8760 -o "$WORK/dry" --dry-run > /dev/null; } 2>&1 | tail -1)
echo "issue 14 targets:"
if [[ -n "${WALL[day]:-}" && -n "${RATE[tpch]:-}" ]]; then
    check "14.1 day rows/s >= 1.0 x tpchgen-cli rows/s" "$(awk -v a="${RATE[day]}" -v b="${RATE[tpch]}" 'BEGIN {printf "%.2fx", a/b}')" \
        "$(awk -v a="${RATE[day]}" -v b="${RATE[tpch]}" 'BEGIN {print (a >= b) ? "met" : "NOT met"}')"
    check "     day bytes/s vs tpchgen-cli bytes/s (informational)" "$(awk -v a="${BYTES[day]}" -v w="${WALL[day]}" -v b="${BYTES[tpch]}" -v v="${WALL[tpch]}" 'BEGIN {printf "%.2fx", (a/w)/(b/v)}')" ""
else
    check "14.1 day rows/s >= 1.0 x tpchgen-cli rows/s" "-" "not measured (SCENARIOS needs tpch and day)"
fi
if [[ -n "${RSS[day]:-}" && -n "${RSS[year]:-}" ]]; then
    check "14.2 365-day peak RSS <= 1.2 x a day's (all sources)" "$(awk -v a="${RSS[year]}" -v b="${RSS[day]}" 'BEGIN {printf "%.2fx", a/b}')" \
        "$(awk -v a="${RSS[year]}" -v b="${RSS[day]}" 'BEGIN {print (a <= 1.2 * b) ? "met" : "NOT met"}')"
    check "     365-day time <= 1.1 x 365 x a day's (linear)" "$(awk -v a="${WALL[year]}" -v b="${WALL[day]}" 'BEGIN {printf "%.2fx", a/(365*b)}')" \
        "$(awk -v a="${WALL[year]}" -v b="${WALL[day]}" 'BEGIN {print (a <= 1.1 * 365 * b) ? "met" : "NOT met"}')"
elif [[ -z "${RSS[gyear]:-}" ]]; then
    check "14.2 365-day peak RSS <= 1.2 x a day's" "-" "not measured (SCENARIOS needs day and year, or gday and gyear)"
fi
if [[ -n "${RSS[gday]:-}" && -n "${RSS[gyear]:-}" ]]; then
    check "14.2 365-day peak RSS <= 1.2 x a day's (grafana)" "$(awk -v a="${RSS[gyear]}" -v b="${RSS[gday]}" 'BEGIN {printf "%.2fx", a/b}')" \
        "$(awk -v a="${RSS[gyear]}" -v b="${RSS[gday]}" 'BEGIN {print (a <= 1.2 * b) ? "met" : "NOT met"}')"
    check "     365-day time <= 1.1 x 365 x a day's (linear)" "$(awk -v a="${WALL[gyear]}" -v b="${WALL[gday]}" 'BEGIN {printf "%.2fx", a/(365*b)}')" \
        "$(awk -v a="${WALL[gyear]}" -v b="${WALL[gday]}" 'BEGIN {print (a <= 1.1 * 365 * b) ? "met" : "NOT met"}')"
fi
check "14.3 dry run of a year < 1 s" "${DRY} s" "$(awk -v a="$DRY" 'BEGIN {print (a < 1) ? "met" : "NOT met"}')"
if [[ -n "${RATE[day]:-}" && -n "${RATE[day_t1]:-}" ]]; then
    check "14.4 rows/s with 2 threads / with 1 (informational)" "$(awk -v a="${RATE[day]}" -v b="${RATE[day_t1]}" 'BEGIN {printf "%.2fx", a/b}')" \
        "($(nproc) cores; 1 thread ${RATE[day_t1]} rows/s)"
else
    check "14.4 rows/s with 2 threads / with 1" "-" "not measured (SCENARIOS needs day and day_t1)"
fi
if [[ " $SCENARIOS " == *" scaling "* ]]; then
    python3 benches/scaling.py --obsgen "$OBSGEN" --hours 48 --json > "$WORK/scaling.json"
    for n in 16 32 64; do
        check "     model, $n workers: efficiency, rows/s (informational)" \
            "$(python3 -c "import json; m = json.load(open('$WORK/scaling.json'))['model']; print(f\"{m['1']['s'] / m['$n']['s'] / $n:.0%}\")")" \
            "$(python3 -c "import json; m = json.load(open('$WORK/scaling.json'))['model']; print(f\"{m['$n']['rows_per_s']:,.0f} rows/s\")")"
    done
fi
echo
echo "earlier targets (issue 6):"

if [[ -n "${WALL[day]:-}" && -n "${RATE[tpch]:-}" ]]; then
    check "1. day rows/s >= tpchgen-cli rows/s" "$(awk -v a="${RATE[day]}" -v b="${RATE[tpch]}" 'BEGIN {printf "%.2fx", a/b}')" \
        "$(awk -v a="${RATE[day]}" -v b="${RATE[tpch]}" 'BEGIN {print (a >= b) ? "met" : "NOT met"}')"
fi
if [[ -n "${RATE[day]:-}" && -n "${RATE[tpch_zstd]:-}" ]]; then
    check "   (same codec: tpchgen-cli -c 'ZSTD(1)', informational)" "$(awk -v a="${RATE[day]}" -v b="${RATE[tpch_zstd]}" 'BEGIN {printf "%.2fx", a/b}')" ""
fi
if [[ -n "${WALL[day]:-}" && -n "${WALL[week]:-}" ]]; then
    check "2. week wall <= 7.5 x day wall" "$(awk -v a="${WALL[week]}" -v b="${WALL[day]}" 'BEGIN {printf "%.2fx", a/b}')" \
        "$(awk -v a="${WALL[week]}" -v b="${WALL[day]}" 'BEGIN {print (a <= 7.5 * b) ? "met" : "NOT met"}')"
    check "3. week peak RSS <= 1.15 x day, < 512 MiB" "$(awk -v a="${RSS[week]}" -v b="${RSS[day]}" 'BEGIN {printf "%.2fx", a/b}')" \
        "$(awk -v a="${RSS[week]}" -v b="${RSS[day]}" 'BEGIN {print (a <= 1.15 * b && a < 512 * 1024) ? "met" : "NOT met"}')"
fi
if [[ -n "${WALL[day]:-}" && -n "${WALL[jsonl]:-}" ]]; then
    check "4. JSONL adds <= 2 x the Parquet-only time" "$(awk -v a="${WALL[jsonl]}" -v b="${WALL[day]}" 'BEGIN {printf "+%.2fx", (a-b)/b}')" \
        "$(awk -v a="${WALL[jsonl]}" -v b="${WALL[day]}" 'BEGIN {print (a - b <= 2 * b) ? "met" : "NOT met"}')"
fi
if [[ -n "${WALL[day]:-}" && -n "${WALL[scale10]:-}" ]]; then
    check "5. --scale 10 rows/s >= day rows/s" "$(awk -v a="${RATE[scale10]}" -v b="${RATE[day]}" 'BEGIN {printf "%.2fx", a/b}')" \
        "$(awk -v a="${RATE[scale10]}" -v b="${RATE[day]}" 'BEGIN {print (a >= b) ? "met" : "NOT met"}')"
fi
