#!/usr/bin/env python3
"""Signal memory audit: is the noise of the metric series white or does it drift, as
real series do? For each CloudWatch metric (and the Kubernetes working set and CPU
rate), per series (its dimensions and statistic), the residual around a smooth curve
(the value minus its centred 31-point rolling mean) on rows no incident labels, and the
lag-1 autocorrelation of that residual, pooled over the series of the metric.

Usage:

    python3 benches/signal_memory.py OUT [--json FILE]

White noise around the curve gives about -0.03 (the rolling mean takes a little of each
point); an AR(1) process with coefficient phi gives about phi less what the rolling mean
absorbs. Figures for the default configuration are in BENCHMARKS.md ("Signal memory").
"""

import argparse
import json
import sys

import polars as pl

WINDOW = 31

CLOUDWATCH = [
    ("AWS/ApplicationELB", "RequestCount", "Sum"),
    ("AWS/ApplicationELB", "TargetResponseTime", "Average"),
    ("AWS/RDS", "FreeableMemory", "Average"),
    ("AWS/RDS", "DatabaseConnections", "Average"),
    ("AWS/RDS", "CPUUtilization", "Average"),
    ("AWS/RDS", "ReadLatency", "Average"),
    ("AWS/EC2", "CPUUtilization", "Average"),
    ("AWS/Lambda", "Invocations", "Sum"),
    ("CWAgent", "disk_used_percent", "Average"),
]


def lag1(frame: pl.DataFrame, key: list[str]) -> dict:
    """Pooled lag-1 autocorrelation of the residual around a centred rolling mean."""
    f = (
        frame.sort(key + ["timestamp"])
        .with_columns(
            (
                pl.col("value")
                - pl.col("value").rolling_mean(WINDOW, center=True).over(key)
            ).alias("res")
        )
        .filter(pl.col("res").is_not_null() & ~pl.col("is_anomaly"))
        .with_columns(pl.col("res").shift(1).over(key).alias("prev"))
        .filter(pl.col("prev").is_not_null())
    )
    if f.height < 10:
        return {"points": f.height, "lag1": None}
    r = f.select(pl.corr("res", "prev")).item()
    return {"points": f.height, "series": f.select(key).n_unique(), "lag1": round(r, 3)}


def audit(out: str) -> dict:
    res = {}
    cw = pl.scan_parquet(f"{out}/cloudwatch/metrics/**/*.parquet", hive_partitioning=False)
    for ns, name, stat in CLOUDWATCH:
        f = (
            cw.filter(
                (pl.col("namespace") == ns)
                & (pl.col("metric_name") == name)
                & (pl.col("statistic") == stat)
                & (pl.col("period_seconds") == 60)
            )
            .select(
                "timestamp",
                pl.col("dimensions").cast(pl.List(pl.Struct({"name": pl.String, "value": pl.String})))
                .list.eval(pl.element().struct.field("value"))
                .list.join("|")
                .alias("series"),
                "value",
                "is_anomaly",
            )
            .collect()
        )
        if f.height:
            res[f"cloudwatch {ns} {name}"] = lag1(f, ["series"])
    k8s = pl.scan_parquet(f"{out}/kubernetes/metrics/**/*.parquet", hive_partitioning=False)
    cols = k8s.collect_schema().names()
    if "container_memory_working_set_bytes" in cols:
        f = k8s.select(
            "timestamp",
            pl.col("pod").alias("series"),
            pl.col("container_memory_working_set_bytes").cast(pl.Float64).alias("value"),
            "is_anomaly",
        ).collect()
        res["kubernetes working set"] = lag1(f, ["series"])
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", help="output directory of `obsgen generate` (Parquet)")
    ap.add_argument("--json", metavar="FILE", help="write the figures to FILE as JSON")
    a = ap.parse_args()
    r = audit(a.out)
    print(f"{'series':<48} {'series':>6} {'points':>8} {'lag-1':>7}")
    for k, v in r.items():
        lag = "-" if v["lag1"] is None else f"{v['lag1']:.3f}"
        print(f"{k:<48} {v.get('series', 0):>6} {v['points']:>8} {lag:>7}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(r, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
