#!/usr/bin/env python3
"""Runs every Prometheus panel's PromQL of a dataset's `grafana/panel_series` against a
Prometheus server holding the dataset's backfilled container metrics, and compares the
answers with the panel's points.

    python3 compare.py DATASET http://127.0.0.1:9090 [--json REPORT]

For each distinct (dashboard, panel, query) it asks `/api/v1/query_range` over the
dataset's range at the panels' refresh step and matches the answer's series (by `pod`)
and timestamps with the panel's points: a point matches when Prometheus answers for that
pod at that time with the same value (relative difference <= 1e-4: Prometheus keeps
millisecond timestamps, the dataset microseconds). Points whose window (the rate's range,
or the 5 min lookback of an instant query) reaches before the dataset's start are left
out: they read samples from before the range, which the dataset does not hold. Exits 1 unless every point of every
panel matches and Prometheus answers nothing the panel lacks.
"""

import argparse
import json
import re
import sys
import urllib.parse
import urllib.request
from datetime import datetime, timezone

import polars as pl

REL = 1e-4


def query_range(base, q, start, end, step):
    params = urllib.parse.urlencode(
        {"query": q, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step}s"}
    )
    with urllib.request.urlopen(f"{base}/api/v1/query_range?{params}", timeout=60) as r:
        body = json.load(r)
    if body.get("status") != "success":
        raise RuntimeError(f"{q}: {body}")
    return body["data"]["result"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset")
    ap.add_argument("prometheus")
    ap.add_argument("--json")
    a = ap.parse_args()
    manifest = json.load(open(f"{a.dataset}/manifest.json"))
    start = datetime.fromisoformat(manifest["start"].replace("Z", "+00:00")).timestamp()
    end = datetime.fromisoformat(manifest["end"].replace("Z", "+00:00")).timestamp()
    ps = pl.read_parquet(f"{a.dataset}/grafana/panel_series/**/*.parquet", hive_partitioning=False)
    ps = ps.filter(pl.col("datasource") == "prometheus")
    if ps.height == 0:
        sys.exit("no Prometheus panel points in the dataset")
    ps = ps.with_columns((pl.col("timestamp").dt.epoch("ms")).alias("ms"))
    times = sorted(set(ps["ms"].to_list()))
    step = min(b - a for a, b in zip(times, times[1:])) // 1000
    panels = []
    total = {"points": 0, "matched": 0, "different": 0, "missing": 0, "extra": 0}
    for (uid, pid, q), g in ps.group_by(["dashboard_uid", "panel_id", "query"], maintain_order=True):
        result = query_range(a.prometheus, q, start, end - step, step)
        answer = {}
        for s in result:
            pod = s["metric"].get("pod")
            for t, v in s["values"]:
                answer[(pod, round(float(t) * 1000))] = float(v)
        # A point whose window (the rate's range, or the 5 min lookback) reaches before
        # the range needs samples the dataset does not hold: not compared.
        m = re.search(r"\[(\d+)s\]", q)
        reach_ms = (int(m.group(1)) if m else 300) * 1000
        first_ms = round(start * 1000) + reach_ms
        answer = {k: v for k, v in answer.items() if k[1] >= first_ms}
        g = g.filter(pl.col("ms") >= first_ms)
        matched = different = missing = 0
        examples = []
        seen = set()
        for pod, ms, value in g.select(["series_name", "ms", "value"]).iter_rows():
            key = (pod, ms)
            seen.add(key)
            got = answer.get(key)
            if got is None:
                missing += 1
                ok = False
            elif abs(got - value) <= REL * max(1.0, abs(value)):
                matched += 1
                ok = True
            else:
                different += 1
                ok = False
            if not ok and len(examples) < 3:
                examples.append({"pod": pod, "time": ms / 1000, "panel": value, "prometheus": got})
        extra = sum(1 for k in answer if k not in seen)
        panels.append({
            "dashboard": uid, "panel": pid, "query": q, "points": g.height,
            "matched": matched, "different": different, "missing": missing, "extra": extra,
            "examples": examples,
        })
        for k, v in (("points", g.height), ("matched", matched), ("different", different),
                     ("missing", missing), ("extra", extra)):
            total[k] += v
    for p in panels:
        status = "ok" if p["matched"] == p["points"] and p["extra"] == 0 else "DIFFERS"
        print(f"{p['dashboard']:>24} #{p['panel']:<2} {p['points']:>7} points, {p['matched']:>7} matched, "
              f"{p['different']} different, {p['missing']} missing, {p['extra']} extra  {status}  {p['query']}")
        for e in p["examples"]:
            print(f"      e.g. {e}")
    print(f"{len(panels)} panels, {total['points']} points: {total['matched']} matched, "
          f"{total['different']} different, {total['missing']} missing, {total['extra']} extra "
          f"(step {step} s)")
    if a.json:
        json.dump({"step": step, "total": total, "panels": panels}, open(a.json, "w"), indent=1)
    if total["matched"] != total["points"] or total["extra"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
