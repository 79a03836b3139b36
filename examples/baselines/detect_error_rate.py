#!/usr/bin/env python3
"""Error-rate detector: per-service, per-minute windows scored by a z-score.

Per (service, minute): the share of kubernetes/pod_logs lines at level `error` or
`fatal` (as benches/baselines.py counts them) and the number of sentry/errors events.
Each is turned into a z-score against the same service's training minutes (mean and
standard deviation, the deviation floored at 0.02 for the share and 0.5 events for the
count: a service that never errs in training would otherwise alarm on its first error);
the window's score is the larger of the two. Training minutes: the `train` split of
OUT/splits.json when there is one, else the first 24 h (the first third of the range
when shorter). The share is undefined in a minute without lines: only the count scores
it then; for the count, a training minute without events counts as 0.

Writes per-window predictions (schemas/predictions.md): `service`, `start`, `end`
(start + 1 min), `score`, one row per service-minute with at least one line or event and
a score of at least --min-score (default 0: below-average minutes are left out to keep
the file small; they score as -infinity, which changes no threshold above 0).

Usage: python3 examples/baselines/detect_error_rate.py OUT PREDICTIONS.{parquet,csv,jsonl}
       [--split NAME] [--min-score S]
`--split NAME` writes only the minutes of that split (OUT/splits.json); the fit is the same.
"""
import argparse
import os
import sys
import time

import polars as pl

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as c  # noqa: E402

RATE_SD_FLOOR = 0.02
COUNT_SD_FLOOR = 0.5


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("predictions")
    ap.add_argument("--split")
    ap.add_argument("--min-score", type=float, default=0.0)
    a = ap.parse_args()
    t0 = time.time()
    start, end = c.dataset_range(a.out)
    train, train_src = c.train_intervals(a.out)

    minute = (pl.col("timestamp").dt.epoch("us") // c.US_PER_MIN * c.US_PER_MIN).alias("minute")
    logs = (
        c.scan(a.out, "kubernetes", "pod_logs")
        .select(minute, "service", pl.col("level").is_in(["error", "fatal"]).alias("err"))
        .group_by("service", "minute")
        .agg(pl.len().alias("lines"), pl.col("err").sum().cast(pl.Int64).alias("errors"))
    )
    if c.has_table(a.out, "sentry", "errors"):
        sentry = (
            c.scan(a.out, "sentry", "errors")
            .select(minute, "service")
            .group_by("service", "minute")
            .agg(pl.len().alias("events"))
        )
    else:
        sentry = pl.LazyFrame(
            schema={"service": pl.Utf8, "minute": pl.Int64, "events": pl.UInt32}
        )
    df = (
        logs.join(sentry, on=["service", "minute"], how="full", coalesce=True)
        .with_columns(
            pl.col("lines").fill_null(0).cast(pl.Int64),
            pl.col("errors").fill_null(0),
            pl.col("events").fill_null(0).cast(pl.Int64),
        )
        .with_columns(
            pl.when(pl.col("lines") > 0)
            .then(pl.col("errors") / pl.col("lines"))
            .otherwise(None)
            .alias("rate")
        )
        .filter((pl.col("minute") >= start) & (pl.col("minute") < end))
        .collect()
        .sort("service", "minute")  # a canonical order: the same float sums every run
    )

    # Training statistics per service. The count's mean and deviation are over every
    # training minute (those without an event count 0), from sums, so the empty minutes
    # need no rows; the share's over the training minutes with lines.
    n_train = sum(
        len(range(max(a_, start) // c.US_PER_MIN, (min(b_, end) + c.US_PER_MIN - 1) // c.US_PER_MIN))
        for a_, b_ in train
    )
    tr = df.filter(c.in_intervals_expr("minute", train))
    stats = tr.group_by("service").agg(
        pl.col("rate").mean().alias("r_mu"),
        pl.col("rate").std(ddof=0).alias("r_sd"),
        pl.col("events").sum().cast(pl.Float64).alias("c_sum"),
        (pl.col("events").cast(pl.Float64) ** 2).sum().alias("c_sq"),
    ).with_columns(
        (pl.col("c_sum") / n_train).alias("c_mu"),
    ).with_columns(
        (pl.col("c_sq") / n_train - pl.col("c_mu") ** 2).clip(0.0).sqrt().alias("c_sd"),
    )
    df = (
        df.join(stats, on="service", how="left")
        .with_columns(
            pl.col("r_mu").fill_null(0.0),
            pl.col("r_sd").fill_null(0.0),
            pl.col("c_mu").fill_null(0.0),
            pl.col("c_sd").fill_null(0.0),
        )
        .with_columns(
            ((pl.col("rate") - pl.col("r_mu")) / pl.max_horizontal(pl.col("r_sd"), pl.lit(RATE_SD_FLOOR)))
            .alias("z_rate"),
            ((pl.col("events") - pl.col("c_mu")) / pl.max_horizontal(pl.col("c_sd"), pl.lit(COUNT_SD_FLOOR)))
            .alias("z_count"),
        )
        # max_horizontal skips nulls: a minute without lines scores by its count.
        .with_columns(pl.max_horizontal("z_rate", "z_count").alias("score"))
    )
    if a.split:
        df = df.filter(c.in_intervals_expr("minute", c.require_split(a.out, a.split)))
    pred = (
        df.filter(pl.col("score") >= a.min_score)
        .select(
            "service",
            pl.col("minute").alias("start"),
            (pl.col("minute") + c.US_PER_MIN).alias("end"),
            pl.col("score").round(6),
        )
        .sort("start", "service")
    )
    n = c.write_predictions(pred, a.predictions, time_cols=("start", "end"))
    print(
        f"detect_error_rate: fitted on {train_src} ({n_train} minutes, {len(stats)} services); "
        f"wrote {n} windows to {a.predictions} in {time.time() - t0:.1f} s",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
