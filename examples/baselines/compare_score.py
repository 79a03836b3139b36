#!/usr/bin/env python3
"""Compare `obsgen score TASK OUT PREDICTIONS --json` with reference_metrics.py, key by key.

Flattens the Rust report's nested JSON (`{"grid": {"pa_k_f1": {"10": ...}}}` ->
`grid.pa_k_f1.10`) and checks every key reference_metrics.py prints (all but `shape` and
`threshold_source`): numbers to a relative tolerance of 1e-9, nulls, strings and lists
(`tables`) exactly. For parse and cluster, whose reference prints every key of the
report, a key of the Rust report that the reference does not print (other than `task`,
`dataset`, `range`, `split`) is a difference too (detect and rca: the reference prints
the metrics, not the report's counts). Exits 1 when one differs or is missing.

Usage: python3 examples/baselines/compare_score.py OUT PREDICTIONS
       --task detect|rca|parse|cluster [--split NAME] [--threshold T]
       [--template-accuracy loghub2|exact-group] [--obsgen PATH]
       (default: $OBSGEN, else target/release/obsgen)
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def flat(d, prefix=""):
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flat(v, prefix + k + "."))
        else:
            out[prefix + k] = v
    return out


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{r.stderr}")
    return json.loads(r.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("predictions")
    ap.add_argument("--task", required=True, choices=["detect", "rca", "parse", "cluster"])
    ap.add_argument("--split")
    ap.add_argument("--threshold")
    ap.add_argument("--template-accuracy", choices=["loghub2", "exact-group"])
    ap.add_argument("--obsgen", default=os.environ.get("OBSGEN") or os.path.join(
        HERE, "..", "..", "target", "release", "obsgen"))
    a = ap.parse_args()
    extra = (["--split", a.split] if a.split else []) + (["--threshold", a.threshold] if a.threshold else [])
    ta = ["--template-accuracy", a.template_accuracy] if a.template_accuracy else []
    mine = run([sys.executable, os.path.join(HERE, "reference_metrics.py"), a.out, a.predictions,
                "--task", a.task] + extra + ta)
    rust = flat(run([a.obsgen, "score", a.task, a.out, a.predictions, "--json"] + extra))
    meta = {"task", "dataset", "range", "split", "shape", "threshold_source"}
    bad, n = [], 0
    for k, v in mine.items():
        if k in ("shape", "threshold_source"):
            continue
        if k not in rust:
            bad.append(f"{k}: reference {v}, missing in obsgen score")
            continue
        w = rust[k]
        n += 1
        num = lambda x: isinstance(x, (int, float)) and not isinstance(x, bool)  # noqa: E731
        if num(v) and num(w):
            if abs(v - w) > 1e-9 * max(1.0, abs(v)):
                bad.append(f"{k}: reference {v}, obsgen score {w}")
        elif v != w:
            bad.append(f"{k}: reference {v!r}, obsgen score {w!r}")
    # parse and cluster: the reference prints every key of the report (detect and rca:
    # the metrics, not the counts).
    for k in sorted(set(rust) - set(mine) - meta if a.task in ("parse", "cluster") else ()):
        bad.append(f"{k}: obsgen score {rust[k]!r}, not in the reference")
    print(f"{a.predictions} ({a.task}{' ' + ' '.join(extra) if extra else ''}): "
          f"{n} keys compared, {len(bad)} differ")
    for b in bad:
        print("  " + b)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
