#!/usr/bin/env python3
"""Incident clustering by time gaps: the error-like rows a simple detector flags, cut
into clusters wherever they pause.

Candidate rows (no label column is read): sentry/errors events at level `error` or
`fatal`, kubernetes/pod_logs lines at level `error` or `fatal`, and kubernetes/events of
type `Warning`.

Flagging (the detector): the platform produces such rows all the time (a few per
minute), so taking them all would chain three days into a handful of clusters. A row is
flagged when its (service, minute) holds more candidate rows than the service's training
minutes do: more than mean + --z x sd (default 3; sd floored at 0.5) of the service's
per-minute count over the training intervals (the `train` split of OUT/splits.json, else
the first 24 h or third of the range, as the other baselines; minutes without a row
count as 0). `--all` flags every candidate row instead (the bare gap rule).

Clustering: the flagged rows in timestamp order (ties by record_id); a new cluster starts
when the gap since the previous flagged row exceeds --gap-minutes (default 5). Cluster
ids are `c0000`, `c0001`, ... in time order.

Writes the cluster format of schemas/predictions.md: `record_id`, `cluster` (the whole
range, or the rows in the intervals of --split NAME). Deterministic.

Usage: python3 examples/baselines/cluster_time_gap.py OUT PREDICTIONS.{parquet,csv,jsonl}
       [--split NAME] [--gap-minutes 5] [--z 3] [--all]
"""
import argparse
import os
import sys
import time

import polars as pl

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as c  # noqa: E402

ERROR_LEVELS = ["error", "fatal"]


def candidates(out):
    """record_id, us (µs), service of every candidate row."""
    parts = []
    sel = [
        "record_id",
        pl.col("timestamp").dt.epoch("us").alias("us"),
        pl.col("service").cast(pl.Utf8).fill_null(""),
    ]
    if c.has_table(out, "sentry", "errors"):
        parts.append(
            c.scan(out, "sentry", "errors").filter(pl.col("level").is_in(ERROR_LEVELS)).select(sel)
        )
    if c.has_table(out, "kubernetes", "pod_logs"):
        parts.append(
            c.scan(out, "kubernetes", "pod_logs")
            .filter(pl.col("level").is_in(ERROR_LEVELS))
            .select(sel)
        )
    if c.has_table(out, "kubernetes", "events"):
        parts.append(
            c.scan(out, "kubernetes", "events").filter(pl.col("type") == "Warning").select(sel)
        )
    if not parts:
        raise SystemExit(f"{out}: no sentry/errors, kubernetes/pod_logs or kubernetes/events table")
    return pl.concat(parts).collect()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("predictions")
    ap.add_argument("--split")
    ap.add_argument("--gap-minutes", type=float, default=5.0)
    ap.add_argument("--z", type=float, default=3.0)
    ap.add_argument("--all", action="store_true", help="flag every candidate row")
    a = ap.parse_args()
    t0 = time.time()
    rows = candidates(a.out)
    n_cand = len(rows)
    if not a.all:
        start, _ = c.dataset_range(a.out)
        train, train_src = c.train_intervals(a.out)
        # Training minutes: grid minutes (from the range's start) starting in a training
        # interval.
        spans = [(-(-(x - start) // c.US_PER_MIN), -(-(b - start) // c.US_PER_MIN)) for x, b in train]
        n_train_min = sum(max(0, hi - lo) for lo, hi in spans)
        rows = rows.with_columns(((pl.col("us") - start) // c.US_PER_MIN).alias("minute"))
        cells = rows.group_by("service", "minute").agg(pl.len().alias("n"))
        # Baseline per service over all training minutes (zeros included).
        base = (
            cells.filter(c.in_intervals_expr("minute", spans))
            .group_by("service")
            .agg(pl.col("n").cast(pl.Float64).sum().alias("s1"), (pl.col("n").cast(pl.Float64) ** 2).sum().alias("s2"))
            .with_columns((pl.col("s1") / n_train_min).alias("mean"))
            .with_columns(
                (pl.col("s2") / n_train_min - pl.col("mean") ** 2).clip(0).sqrt().clip(0.5).alias("sd")
            )
        )
        cells = cells.join(base.select("service", "mean", "sd"), on="service", how="left").with_columns(
            pl.col("mean").fill_null(0.0), pl.col("sd").fill_null(0.5)
        )
        hot = cells.filter(pl.col("n") > pl.col("mean") + a.z * pl.col("sd")).select("service", "minute")
        rows = rows.join(hot, on=["service", "minute"], how="semi")
    if a.split:
        rows = rows.filter(c.in_intervals_expr("us", c.require_split(a.out, a.split)))
    rows = rows.sort("us", "record_id")
    gap = int(a.gap_minutes * c.US_PER_MIN)
    rows = rows.with_columns(
        (pl.col("us").diff().fill_null(0) > gap).cum_sum().alias("k")
    ).with_columns(pl.format("c{}", pl.col("k").cast(pl.Utf8).str.zfill(4)).alias("cluster"))
    pred = rows.select("record_id", "cluster")
    n = c.write_predictions(pred, a.predictions)
    print(
        f"cluster_time_gap: {n_cand} candidate rows, {n} flagged"
        f"{'' if a.all else f' (z > {a.z:g} over {train_src})'}, "
        f"{pred['cluster'].n_unique()} clusters (gap > {a.gap_minutes:g} min); wrote "
        f"{a.predictions} in {time.time() - t0:.1f} s",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
