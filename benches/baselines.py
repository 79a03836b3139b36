#!/usr/bin/env python3
"""Classic unsupervised baselines on an obsgen dataset, per incident type.

Shows that the incidents stay learnable once no single feature gives them away: two
textbook detectors are fitted on the first day (UTC) of the range and scored on the
remaining days.

1. Template-count PCA (Xu et al., SOSP 2009): one vector per minute with the number of
   kubernetes/pod_logs lines of each template event (the template id without its layout),
   log(1 + count), standardised with day-1 means and deviations; PCA on day 1 keeps the
   components that explain 95% of the variance, and a minute is flagged when its squared
   prediction error (the residual outside those components) is above the day-1 quantile
   `--quantile` (default 0.99).
2. Error rate: per service and minute, the share of pod_logs lines at error or fatal
   level; a service-minute is flagged when its share is above its own day-1 quantile
   (`--quantile`) and it wrote at least 5 lines; a minute is flagged when one of its
   services is.

An incident counts as detected when a flagged minute falls in [start, end] (its active
window, `labels/incidents.parquet`). Reported per incident type: incidents on days 2+,
recall; overall: minute precision (flagged minutes inside some incident window) and the
number of flagged minutes.

Usage: python3 benches/baselines.py OUT [--quantile Q] [--json FILE]
(needs polars and numpy; OUT covers at least two days, e.g. 72 hours)
"""
import argparse
import json
from collections import defaultdict

import numpy as np
import polars as pl

MIN = 60_000_000  # microseconds


def load(out):
    logs = (
        pl.scan_parquet(f"{out}/kubernetes/pod_logs/**/*.parquet")
        .select(
            pl.col("timestamp").dt.epoch("us").floordiv(MIN).alias("minute"),
            "service",
            pl.col("template_id").str.split("/").list.get(-1).alias("event"),
            pl.col("level").is_in(["error", "fatal"]).alias("error"),
        )
        .collect()
    )
    inc = pl.read_parquet(f"{out}/labels/incidents.parquet")
    return logs, inc


def windows(inc):
    cols = inc.columns
    start = "start_time" if "start_time" in cols else "start"
    end = "end_time" if "end_time" in cols else "end"
    return [
        (
            r["incident_id"],
            r["incident_type"],
            int(r[start].timestamp() * 1e6) // MIN,
            int(r[end].timestamp() * 1e6) // MIN,
        )
        for r in inc.select("incident_id", "incident_type", start, end).iter_rows(named=True)
    ]


def report(name, flagged, incs, day1_end, minutes):
    scored = [i for i in incs if i[2] >= day1_end]
    per = defaultdict(lambda: [0, 0])
    for _, ty, s, e in scored:
        per[ty][0] += 1
        per[ty][1] += any(m in flagged for m in range(s, e + 1))
    inside = set()
    for _, _, s, e in scored:
        inside.update(range(s, e + 1))
    f = [m for m in flagged if m >= day1_end]
    prec = sum(m in inside for m in f) / len(f) if f else 0.0
    total = sum(v[0] for v in per.values())
    hit = sum(v[1] for v in per.values())
    print(f"\n{name}: {len(f)} of {len(minutes)} scored minutes flagged, precision {prec:.2f}, "
          f"incident recall {hit}/{total} = {hit / max(total, 1):.2f}")
    for ty in sorted(per):
        n, h = per[ty]
        print(f"  {ty:32s} {h:3d}/{n:<3d} {h / n:.2f}")
    return {"precision": prec, "recall": hit / max(total, 1), "flagged": len(f),
            "per_type": {t: {"incidents": v[0], "detected": v[1]} for t, v in per.items()}}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--quantile", type=float, default=0.99)
    ap.add_argument("--json")
    a = ap.parse_args()
    logs, inc = load(a.out)
    incs = windows(inc)
    m0 = logs["minute"].min()
    day1_end = (m0 // 1440 + 1) * 1440
    results = {}

    # 1. Template-count PCA.
    counts = logs.group_by("minute", "event").len()
    events = sorted(counts["event"].unique().to_list())
    minutes = sorted(counts["minute"].unique().to_list())
    mi = {m: i for i, m in enumerate(minutes)}
    ei = {e: i for i, e in enumerate(events)}
    x = np.zeros((len(minutes), len(events)))
    for m, e, n in counts.iter_rows():
        x[mi[m], ei[e]] = n
    x = np.log1p(x)
    train = np.array([m < day1_end for m in minutes])
    mu, sd = x[train].mean(0), x[train].std(0) + 1e-9
    z = (x - mu) / sd
    _, s, vt = np.linalg.svd(z[train], full_matrices=False)
    var = np.cumsum(s**2) / np.sum(s**2)
    k = int(np.searchsorted(var, 0.95)) + 1
    p = vt[:k]
    spe = ((z - z @ p.T @ p) ** 2).sum(1)
    thr = np.quantile(spe[train], a.quantile)
    flagged = {minutes[i] for i in np.nonzero(spe > thr)[0]}
    scored = [m for m in minutes if m >= day1_end]
    print(f"template-count PCA: {len(events)} events, {k} components (95% variance)")
    results["pca"] = report("template-count PCA", flagged, incs, day1_end, scored)

    # 2. Error rate per service.
    er = logs.group_by("service", "minute").agg(
        pl.len().alias("n"), pl.col("error").sum().alias("errors")
    ).with_columns((pl.col("errors") / pl.col("n")).alias("rate"))
    thr = (
        er.filter(pl.col("minute") < day1_end)
        .group_by("service")
        .agg(pl.col("rate").quantile(a.quantile).alias("thr"))
    )
    hits = er.join(thr, on="service").filter(
        (pl.col("rate") > pl.col("thr")) & (pl.col("n") >= 5)
    )
    flagged = set(hits["minute"].to_list())
    results["error_rate"] = report("error rate", flagged, incs, day1_end, scored)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
