#!/usr/bin/env bash
# CI check of the baselines and of `obsgen score` against the Python reference.
#
# Generates a small dataset (12 h, seed 3, all sources) into a temporary directory, splits
# it (`obsgen split --min-per-type 0`: 12 h cannot hold every incident type in every
# split), runs every baseline of examples/baselines/, scores each prediction file with
# `obsgen score TASK` over the whole range and over `--split test`, and cross-checks
# every report with compare_score.py (reference_metrics.py, tolerance 1e-9). Any failure
# or disagreement exits non-zero. About a minute on 2 cores.
#
# Builds nothing. Needs:
#   - an obsgen binary: $OBSGEN (default target/release/obsgen, relative to the
#     repository root; build it first with `cargo build --release`);
#   - Python 3.10+ ($PYTHON, default python3) with polars, numpy, scikit-learn, drain3:
#       pip install polars numpy scikit-learn drain3
#   - the affiliation metrics' reference code (`import affiliation`, the authors' package,
#     not on PyPI): when Python cannot import it, the copy in the TSB-AD 1.5 wheel is
#     fetched with `pip download --no-deps TSB-AD==1.5` (nothing installed) and put on
#     PYTHONPATH.
# Environment: KEEP=1 keeps the temporary directory (its path is printed).
#
# Usage (from the repository root): examples/baselines/check.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/examples/baselines"
OBSGEN="${OBSGEN:-target/release/obsgen}"
case "$OBSGEN" in
  /*) ;;
  */*) if [ -x "$PWD/$OBSGEN" ]; then OBSGEN="$PWD/$OBSGEN"; else OBSGEN="$ROOT/$OBSGEN"; fi ;;
  *) OBSGEN="$(command -v "$OBSGEN" || echo "$OBSGEN")" ;;
esac
export OBSGEN
PY="${PYTHON:-python3}"

if [ ! -x "$OBSGEN" ]; then
  echo "check.sh: no obsgen binary at $OBSGEN (set OBSGEN, or cargo build --release)" >&2
  exit 2
fi
if ! "$PY" -c "import polars, numpy, sklearn, drain3" 2>/dev/null; then
  echo "check.sh: $PY lacks polars, numpy, scikit-learn or drain3" \
    "(pip install polars numpy scikit-learn drain3)" >&2
  exit 2
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/obsgen-baselines.XXXXXX")"
if [ "${KEEP:-0}" = 1 ]; then
  echo "keeping $WORK"
else
  trap 'rm -rf "$WORK"' EXIT
fi
OUT="$WORK/out"
LOG="$WORK/log"
T0=$SECONDS

if ! "$PY" -c "import affiliation.metrics" 2>/dev/null; then
  "$PY" -m pip download --quiet --no-deps TSB-AD==1.5 -d "$WORK/wheel" >"$WORK/log" 2>&1 ||
    { echo "check.sh: cannot fetch TSB-AD 1.5 (the affiliation reference):" >&2; cat "$WORK/log" >&2; exit 2; }
  "$PY" -m zipfile -e "$WORK"/wheel/*.whl "$WORK/wheel/x"
  export PYTHONPATH="$WORK/wheel/x/TSB_AD/evaluation${PYTHONPATH:+:$PYTHONPATH}"
  "$PY" -c "import affiliation.metrics" || { echo "check.sh: no affiliation package in the wheel" >&2; exit 2; }
fi

# step NAME CMD...: runs CMD with its output in $LOG; on failure prints it and stops.
step() {
  local name="$1"
  shift
  local t=$SECONDS
  if ! "$@" >"$LOG" 2>&1; then
    echo "FAILED: $name" >&2
    echo "  command: $*" >&2
    sed 's/^/  | /' "$LOG" >&2
    exit 1
  fi
  printf '  %-52s %3d s\n' "$name" $((SECONDS - t))
}

echo "obsgen: $OBSGEN"
echo "dataset: $OUT"
step "generate (12 h, seed 3)" "$OBSGEN" generate --seed 3 --start 2026-11-02 \
  --duration-hours 12 -o "$OUT"
step "split (--min-per-type 0)" "$OBSGEN" split "$OUT" --min-per-type 0

# Baselines: TASK FILE SCRIPT ARGS... (the formats vary to exercise the three readers).
P="$WORK/pred"
mkdir -p "$P"
RUNS=(
  "detect|$P/error_rate.csv|detect_error_rate.py"
  "detect|$P/template_pca.parquet|detect_template_pca.py"
  "rca|$P/rca_largest_change.jsonl|rca_largest_change.py"
  "parse|$P/drain.parquet|parse_drain.py --max-rows 20000"
  "parse|$P/drain_test.csv|parse_drain.py --split test --max-rows 20000"
  "cluster|$P/time_gap.csv|cluster_time_gap.py"
  "cluster|$P/time_gap_test.jsonl|cluster_time_gap.py --split test"
)
for r in "${RUNS[@]}"; do
  IFS='|' read -r task file cmd <<<"$r"
  read -r -a argv <<<"$cmd"
  step "${cmd}" "$PY" "$HERE/${argv[0]}" "$OUT" "$file" "${argv[@]:1}"
done

# Score and cross-check each file over the whole range and over the test split.
SUMMARY="$WORK/summary.tsv"
: >"$SUMMARY"
for r in "${RUNS[@]}"; do
  IFS='|' read -r task file cmd <<<"$r"
  for split in "" test; do
    sp=()
    [ -n "$split" ] && sp=(--split "$split")
    label="$(basename "$file")${split:+ --split $split}"
    json="$WORK/score.json"
    step "score $task $label" "$OBSGEN" score "$task" "$OUT" "$file" ${sp[@]+"${sp[@]}"} --json
    cp "$LOG" "$json"
    step "compare $task $label" "$PY" "$HERE/compare_score.py" "$OUT" "$file" --task "$task" \
      ${sp[@]+"${sp[@]}"} --obsgen "$OBSGEN"
    keys="$(tail -n 1 "$LOG")"
    "$PY" - "$task" "$label" "$json" "$keys" >>"$SUMMARY" <<'EOF'
import json, sys
task, label, path, keys = sys.argv[1:5]
r = json.load(open(path))
f = lambda x: "-" if x is None else f"{x:.3f}"
if task == "detect":
    m = f"grid F1 {f(r['grid']['f1'])}  AUC-PR {f(r['grid']['auc_pr'])}  PA-F1 {f(r['grid']['pa_f1'])}  aff. P/R {f(r['grid']['affiliation_precision'])}/{f(r['grid']['affiliation_recall'])}  events R {f(r['events']['recall'])}"
elif task == "rca":
    m = "  ".join(f"{lv} AC@1 {f(r[lv]['ac_at_1'])}" for lv in ("service", "entity", "indicator") if lv in r)
elif task == "parse":
    m = f"GA {f(r['ga'])}  FGA {f(r['fga'])}  PA {f(r['pa'])}  FTA {f(r['fta'])}  ({r['messages']} lines)"
else:
    m = f"ARI {f(r['ari'])}  NMI {f(r['nmi'])}  purity {f(r['purity'])}  inv. {f(r['inverse_purity'])}  ({r['rows']} rows)"
n = keys.split(": ")[-1].split(" keys")[0]
print(f"{task:8s}{label:40s}{m}   [{n} keys agree]")
EOF
  done
done

echo
echo "summary (obsgen score; every key equal to reference_metrics.py):"
sed 's/^/  /' "$SUMMARY"
echo "check.sh: OK in $((SECONDS - T0)) s"
