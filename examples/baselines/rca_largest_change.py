#!/usr/bin/env python3
"""Largest-change root-cause ranking, given each incident's start time.

For every incident of labels/incidents.parquet (of the split with --split), RCA is graded
given the detection time, as RCAEval does: the only label columns read are the
incident's `incident_id` and `start` (and, with --split, `signal_start`/`signal_end` to
pick the split's incidents, as `obsgen score` does). No row label (is_anomaly,
incident_id, incident_type, ...) and no root_cause_* column is read.

Every per-minute series below is compared between the baseline B, the 30 minutes before
the incident's start minute, and the window T, its start minute and the 9 after:
z = (mean over T - mean over B) / max(sd over B, 0.25 x the series' sd over the training
minutes, a small absolute floor). Count series (log lines of a template family) count 0
in a minute without a row; gauges (rates, percentiles, metric values) skip such minutes.

- service: per service, z of its error rate (kubernetes/pod_logs lines at error or
  fatal plus sentry/errors events, over its pod_logs lines) plus z of the p95 of its
  sentry/transactions log(1 + duration_ms); ranked by that sum.
- entity: `service/<name>` with the same score, and the CloudWatch resources of
  cloudwatch/metrics (`rds/<id>`, `sqs/<id>`, `dynamodb/<id>`, `lambda/<id>`,
  `alb/<id>`, `node/<name>` for AWS/EC2 and CWAgent series) scored by the largest |z| of
  their series; ranked together by score.
- indicator: CloudWatch metric names (largest |z| over their series), kubernetes/metrics
  columns (largest |z| over the pods; counters as per-minute increases) and pod_logs
  template families (the event part of `template_id`, `net.connection_refused`; rising
  counts only), ranked together by score.

Writes the long format of schemas/predictions.md: `incident_id`, `rank` (1..5),
`service`, `entity`, `indicator` (null where a level has fewer candidates).
The training part (for the deviation floors) is the `train` split of OUT/splits.json,
else the first 24 h (the first third of the range when shorter).

Usage: python3 examples/baselines/rca_largest_change.py OUT PREDICTIONS.{parquet,csv,jsonl}
       [--split NAME] [--top 5]
"""
import argparse
import os
import sys
import time

import polars as pl

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as c  # noqa: E402

MIN = c.US_PER_MIN
BASE_MIN, TEST_MIN = 30, 10
TRAIN_SD_WEIGHT = 0.25
KIND = {
    "AWS/RDS": "rds",
    "AWS/SQS": "sqs",
    "AWS/DynamoDB": "dynamodb",
    "AWS/Lambda": "lambda",
    "AWS/ApplicationELB": "alb",
    "AWS/EC2": "node",
    "CWAgent": "node",
}
KUBE_GAUGES = ["container_memory_working_set_bytes"]
KUBE_COUNTERS = [
    "container_cpu_usage_seconds_total",
    "container_cpu_cfs_throttled_periods_total",
    "container_oom_events_total",
    "container_network_receive_bytes_total",
    "container_network_transmit_bytes_total",
    "kube_pod_container_status_restarts_total",
]


def minute_expr():
    return (pl.col("timestamp").dt.epoch("us") // MIN).alias("minute")


def change(long, keys, win, train, dense, abs_floor):
    """z per (incident, keys) of the series in `long` (keys + minute + value).

    win: (incident_id, minute, part) rows, part "B" or "T", only minutes in the range;
    train: minute indices of the training part (a polars Series)."""
    # Sums in a canonical row order, so the floats (and the ranks of near-ties) are the
    # same from run to run whatever order the parallel group-bys and joins leave.
    long = long.sort(keys + ["minute"])
    n_part = win.group_by("incident_id", "part").agg(pl.len().alias("n"))
    j = win.join(long, on="minute", how="inner").sort(["incident_id", "part"] + keys + ["minute"])
    if dense:
        g = (
            j.group_by(["incident_id", "part"] + keys)
            .agg(pl.col("value").sum().alias("s"), (pl.col("value") ** 2).sum().alias("q"))
            .join(n_part, on=["incident_id", "part"])
            .with_columns((pl.col("s") / pl.col("n")).alias("mean"))
            .with_columns((pl.col("q") / pl.col("n") - pl.col("mean") ** 2).clip(0).sqrt().alias("sd"))
        )
        tr = long.filter(pl.col("minute").is_in(train.implode()))
        nt = max(len(train), 1)
        tsd = (
            tr.group_by(keys)
            .agg(pl.col("value").sum().alias("s"), (pl.col("value") ** 2).sum().alias("q"))
            .with_columns(
                ((pl.col("q") / nt - (pl.col("s") / nt) ** 2).clip(0).sqrt()).alias("tsd")
            )
            .select(keys + ["tsd"])
        )
    else:
        g = j.group_by(["incident_id", "part"] + keys).agg(
            pl.col("value").mean().alias("mean"),
            pl.col("value").std(ddof=0).alias("sd"),
            pl.len().alias("n"),
        )
        tsd = (
            long.filter(pl.col("minute").is_in(train.implode()))
            .group_by(keys)
            .agg(pl.col("value").std(ddof=0).alias("tsd"))
        )
    b = g.filter(pl.col("part") == "B").select(
        ["incident_id"] + keys + [pl.col("mean").alias("mb"), pl.col("sd").alias("sb"), pl.col("n").alias("nb")]
    )
    t = g.filter(pl.col("part") == "T").select(["incident_id"] + keys + [pl.col("mean").alias("mt")])
    if dense:
        # A series absent from B or T has mean 0 there (no rows at all).
        z = b.join(t, on=["incident_id"] + keys, how="full", coalesce=True).with_columns(
            pl.col("mb").fill_null(0.0), pl.col("sb").fill_null(0.0), pl.col("mt").fill_null(0.0)
        )
    else:
        z = b.filter(pl.col("nb") >= 2).join(t, on=["incident_id"] + keys, how="inner")
    z = z.join(tsd, on=keys, how="left").with_columns(pl.col("tsd").fill_null(0.0))
    floor = pl.max_horizontal(
        pl.col("sb"),
        TRAIN_SD_WEIGHT * pl.col("tsd"),
        pl.lit(abs_floor) * pl.max_horizontal(pl.lit(1.0), pl.col("mb").abs()),
    )
    return z.with_columns(((pl.col("mt") - pl.col("mb")) / floor).round(9).alias("z")).select(
        ["incident_id"] + keys + ["z"]
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("predictions")
    ap.add_argument("--split")
    ap.add_argument("--top", type=int, default=5)
    a = ap.parse_args()
    t0 = time.time()
    out = a.out
    start, end = c.dataset_range(out)
    train_iv, train_src = c.train_intervals(out)
    m0, m1 = start // MIN, -(-end // MIN)
    train = pl.Series(
        "minute",
        [m for m in range(m0, m1) if any(x <= m * MIN < y for x, y in train_iv)],
        dtype=pl.Int64,
    )

    # Incidents: id and start only (signal window only to pick a split's incidents).
    inc = pl.read_parquet(f"{out}/labels/incidents.parquet").with_columns(
        pl.col("start").dt.epoch("us").alias("s_us")
    )
    if a.split:
        iv = c.require_split(out, a.split)
        keep = pl.lit(False)
        for x, y in iv:
            keep = keep | (
                (pl.col("signal_start").dt.epoch("us") >= x) & (pl.col("signal_end").dt.epoch("us") <= y)
            )
        inc = inc.filter(keep)
    inc = inc.select("incident_id", "s_us")
    win = (
        inc.with_columns((pl.col("s_us") // MIN).alias("sm"))
        .with_columns(pl.int_ranges(pl.col("sm") - BASE_MIN, pl.col("sm") + TEST_MIN).alias("minute"))
        .explode("minute")
        .with_columns(pl.when(pl.col("minute") < pl.col("sm")).then(pl.lit("B")).otherwise(pl.lit("T")).alias("part"))
        .filter((pl.col("minute") >= m0) & (pl.col("minute") < m1))
        .select("incident_id", pl.col("minute").cast(pl.Int64), "part")
    )

    # Services: error rate and p95 latency per minute.
    logs = (
        c.scan(out, "kubernetes", "pod_logs")
        .select(
            minute_expr(),
            "service",
            pl.col("level").is_in(["error", "fatal"]).alias("err"),
            pl.col("template_id").str.split("/").list.get(-1).alias("family"),
        )
        .collect()
    )
    svc = logs.group_by("service", "minute").agg(
        pl.len().alias("lines"), pl.col("err").sum().cast(pl.Int64).alias("errors")
    )
    if c.has_table(out, "sentry", "errors"):
        se = (
            c.scan(out, "sentry", "errors").select(minute_expr(), "service")
            .group_by("service", "minute").agg(pl.len().cast(pl.Int64).alias("sentry"))
            .collect()
        )
        svc = svc.join(se, on=["service", "minute"], how="left").with_columns(pl.col("sentry").fill_null(0))
    else:
        svc = svc.with_columns(pl.lit(0).alias("sentry"))
    err = svc.select(
        "service", "minute", ((pl.col("errors") + pl.col("sentry")) / pl.col("lines")).alias("value")
    )
    z_err = change(err, ["service"], win, train, dense=False, abs_floor=0.02)
    parts = [z_err.rename({"z": "z_err"})]
    if c.has_table(out, "sentry", "transactions"):
        p95 = (
            c.scan(out, "sentry", "transactions")
            .select(minute_expr(), "service", pl.col("duration_ms").log1p().alias("d"))
            .group_by("service", "minute")
            .agg(pl.col("d").quantile(0.95, interpolation="linear").alias("value"))
            .collect()
        )
        parts.append(change(p95, ["service"], win, train, dense=False, abs_floor=0.05).rename({"z": "z_lat"}))
    sz = parts[0]
    for p in parts[1:]:
        sz = sz.join(p, on=["incident_id", "service"], how="full", coalesce=True)
    sz = sz.with_columns(
        pl.sum_horizontal([pl.col(x).fill_null(0.0) for x in sz.columns if x.startswith("z_")]).alias("score")
    ).select("incident_id", pl.col("service").alias("name"), "score")

    # Template families (rising counts).
    fam = logs.group_by("family", "minute").agg(pl.len().cast(pl.Float64).alias("value"))
    fz = (
        change(fam, ["family"], win, train, dense=True, abs_floor=0.1)
        .select("incident_id", pl.col("family").alias("name"), pl.col("z").alias("score"))
    )
    del logs

    # CloudWatch metrics: resources and metric names.
    ind_parts = [fz]
    ent_parts = [sz.with_columns(("service/" + pl.col("name")).alias("name"))]
    if c.has_table(out, "cloudwatch", "metrics"):
        cw = (
            c.scan(out, "cloudwatch", "metrics")
            .select(
                minute_expr(),
                (pl.col("namespace").replace_strict(KIND, default="aws") + "/" + pl.col("resource_id")).alias("entity"),
                "metric_name",
                pl.concat_str(
                    "namespace", "statistic", pl.col("period_seconds").cast(pl.Utf8),
                    pl.col("dimensions").list.eval(pl.element().struct.field("value")).list.join(","),
                    separator="|",
                ).alias("series"),
                pl.col("value"),
            )
            .collect()
        )
        cz = change(cw, ["entity", "metric_name", "series"], win, train, dense=False, abs_floor=1e-3)
        cz = cz.with_columns(pl.col("z").abs())
        ent_parts.append(cz.group_by("incident_id", pl.col("entity").alias("name")).agg(pl.col("z").max().alias("score")))
        ind_parts.append(cz.group_by("incident_id", pl.col("metric_name").alias("name")).agg(pl.col("z").max().alias("score")))
        del cw

    # Kubernetes metrics: per pod, gauges per minute and counters' per-minute increase.
    if c.has_table(out, "kubernetes", "metrics"):
        km = (
            c.scan(out, "kubernetes", "metrics")
            .select(["timestamp", "pod"] + KUBE_GAUGES + KUBE_COUNTERS)
            .collect()
            .sort("pod", "timestamp")
            .with_columns(
                [pl.col(x).cast(pl.Float64).diff().over("pod").clip(0).alias(x) for x in KUBE_COUNTERS]
            )
            .with_columns(minute_expr())
        )
        long = km.unpivot(index=["pod", "minute"], on=KUBE_GAUGES + KUBE_COUNTERS, variable_name="metric").filter(
            pl.col("value").is_not_null()
        )
        long = long.group_by("pod", "metric", "minute").agg(
            pl.when(pl.col("metric").first().is_in(KUBE_COUNTERS))
            .then(pl.col("value").sum())
            .otherwise(pl.col("value").mean())
            .alias("value")
        )
        kz = change(long, ["pod", "metric"], win, train, dense=False, abs_floor=1e-3).with_columns(pl.col("z").abs())
        ind_parts.append(kz.group_by("incident_id", pl.col("metric").alias("name")).agg(pl.col("z").max().alias("score")))

    def top(parts, col):
        df = pl.concat([p.select("incident_id", "name", pl.col("score").cast(pl.Float64)) for p in parts])
        df = (
            df.filter(pl.col("score").is_finite())
            .group_by("incident_id", "name").agg(pl.col("score").max())
            .sort(["incident_id", "score", "name"], descending=[False, True, False])
            .with_columns(pl.int_range(1, pl.len() + 1).over("incident_id").alias("rank"))
            .filter(pl.col("rank") <= a.top)
        )
        return df.select("incident_id", pl.col("rank").cast(pl.Int64), pl.col("name").alias(col))

    grid = inc.select("incident_id").join(
        pl.DataFrame({"rank": list(range(1, a.top + 1))}, schema={"rank": pl.Int64}), how="cross"
    )
    res = (
        grid.join(top([sz], "service"), on=["incident_id", "rank"], how="left")
        .join(top(ent_parts, "entity"), on=["incident_id", "rank"], how="left")
        .join(top(ind_parts, "indicator"), on=["incident_id", "rank"], how="left")
        .filter(pl.any_horizontal(pl.col("service", "entity", "indicator").is_not_null()))
        .sort("incident_id", "rank")
    )
    n = c.write_predictions(res, a.predictions)
    print(
        f"rca_largest_change: {len(inc)} incidents, deviation floors from {train_src}; "
        f"wrote {n} rows to {a.predictions} in {time.time() - t0:.1f} s",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
