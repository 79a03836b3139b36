#!/usr/bin/env python3
"""Template-count PCA detector (Xu et al., SOSP 2009): platform-wide minute windows.

One vector per minute of the range: the number of kubernetes/pod_logs lines of each
`template_id`, log(1 + count), standardised with the training minutes' means and
deviations (deviation floored at 0.1, so a template rare or absent in training does not
dominate); PCA (numpy SVD) on the training minutes keeps the components that explain 95%
of their variance, and a minute's score is its squared prediction error (the squared
norm of its residual outside those components), as benches/baselines.py computes it.
Training minutes: the `train` split of OUT/splits.json when there is one, else the first
24 h (the first third of the range when shorter); minutes without a line are zero
vectors and are scored too.

Writes per-window predictions without `service` (schemas/predictions.md): `start`, `end`
(start + 1 min), `score`, one row for every minute of [start, end) of the dataset
(of the split's intervals with --split).

Usage: python3 examples/baselines/detect_template_pca.py OUT PREDICTIONS.{parquet,csv,jsonl}
       [--split NAME] [--variance 0.95]
"""
import argparse
import os
import sys
import time

import numpy as np
import polars as pl

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as c  # noqa: E402

SD_FLOOR = 0.1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("predictions")
    ap.add_argument("--split")
    ap.add_argument("--variance", type=float, default=0.95)
    a = ap.parse_args()
    t0 = time.time()
    start, end = c.dataset_range(a.out)
    train, train_src = c.train_intervals(a.out)

    counts = (
        c.scan(a.out, "kubernetes", "pod_logs")
        .select(
            (pl.col("timestamp").dt.epoch("us") // c.US_PER_MIN * c.US_PER_MIN).alias("minute"),
            "template_id",
        )
        .filter((pl.col("minute") >= start) & (pl.col("minute") < end))
        .group_by("minute", "template_id")
        .len()
        .collect()
    )
    first = start // c.US_PER_MIN
    n_min = (end + c.US_PER_MIN - 1) // c.US_PER_MIN - first
    minutes = (np.arange(n_min, dtype=np.int64) + first) * c.US_PER_MIN
    templates = sorted(counts["template_id"].unique().to_list())
    ti = {t: i for i, t in enumerate(templates)}
    x = np.zeros((n_min, len(templates)))
    rows = (counts["minute"].to_numpy() // c.US_PER_MIN - first).astype(np.int64)
    cols = np.array([ti[t] for t in counts["template_id"].to_list()], dtype=np.int64)
    x[rows, cols] = counts["len"].to_numpy()
    x = np.log1p(x)

    is_train = np.zeros(n_min, dtype=bool)
    for a_, b_ in train:
        is_train |= (minutes >= a_) & (minutes < b_)
    if is_train.sum() < 2:
        raise SystemExit("fewer than 2 training minutes")
    mu = x[is_train].mean(0)
    sd = np.maximum(x[is_train].std(0), SD_FLOOR)
    z = (x - mu) / sd
    _, s, vt = np.linalg.svd(z[is_train], full_matrices=False)
    var = np.cumsum(s**2) / np.sum(s**2)
    k = min(int(np.searchsorted(var, a.variance)) + 1, len(s))
    p = vt[:k]
    spe = ((z - z @ p.T @ p) ** 2).sum(1)

    keep = np.ones(n_min, dtype=bool)
    if a.split:
        keep[:] = False
        for a_, b_ in c.require_split(a.out, a.split):
            keep |= (minutes >= a_) & (minutes < b_)
    pred = pl.DataFrame(
        {
            "start": minutes[keep],
            "end": minutes[keep] + c.US_PER_MIN,
            "score": np.round(spe[keep], 6),
        }
    )
    n = c.write_predictions(pred, a.predictions, time_cols=("start", "end"))
    print(
        f"detect_template_pca: {len(templates)} templates, {k} components ({a.variance:.0%} "
        f"variance), fitted on {train_src} ({int(is_train.sum())} minutes); wrote {n} windows "
        f"to {a.predictions} in {time.time() - t0:.1f} s",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
