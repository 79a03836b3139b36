#!/usr/bin/env python3
"""Incident shape audit: how many incidents a day, how much of the time they are active,
how often they overlap (on the same root service, or sharing an affected service: a
cascade with two roots), how long they last per type (the tail included), and whether
bad releases start when releases happen (inside the configured deploy hours).

Reads OUT/labels/incidents.parquet of an `obsgen generate` run (Parquet); the incidents
that began before the range are left out. Usage:

    python3 benches/incident_shape.py OUT [--deploy-hours 8 18] [--json FILE]

Figures for the default configuration are in BENCHMARKS.md ("Incident shape").
"""

import argparse
import json
import sys

import polars as pl


def quantile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    i = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[i]


def union_seconds(spans: list[tuple[int, int]]) -> float:
    total, cur_s, cur_e = 0, None, None
    for s, e in sorted(spans):
        if cur_e is None or s > cur_e:
            if cur_e is not None:
                total += cur_e - cur_s
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    if cur_e is not None:
        total += cur_e - cur_s
    return total / 1e6


def audit(out: str, deploy_hours: tuple[int, int]) -> dict:
    inc = pl.read_parquet(f"{out}/labels/incidents.parquet")
    with open(f"{out}/manifest.json") as f:
        manifest = json.load(f)
    inc = inc.filter(~pl.col("began_before_range")).sort("start")
    rows = inc.select(
        "incident_id",
        "incident_type",
        "root_cause_service",
        "affected_services",
        pl.col("start").dt.epoch("us").alias("s"),
        pl.col("end").dt.epoch("us").alias("e"),
        pl.col("start").dt.hour().alias("hour"),
        pl.col("start").dt.weekday().alias("weekday"),
    ).to_dicts()
    n = len(rows)
    range_s = range_e = None
    if manifest.get("start") and manifest.get("end"):
        bounds = pl.Series([manifest["start"], manifest["end"]]).str.to_datetime(
            time_zone="UTC"
        )
        range_s, range_e = (int(v.timestamp() * 1e6) for v in bounds.to_list())
    if range_s is None and rows:
        range_s, range_e = rows[0]["s"], rows[-1]["e"]
    days = max((range_e - range_s) / 86_400e6, 1e-9) if rows else 1.0

    overlapping, same_root, shared = set(), 0, 0
    pairs = 0
    max_conc = 0
    for i, a in enumerate(rows):
        for b in rows[i + 1 :]:
            if b["s"] >= a["e"]:
                break
            pairs += 1
            overlapping.update((a["incident_id"], b["incident_id"]))
            if a["root_cause_service"] and a["root_cause_service"] == b["root_cause_service"]:
                same_root += 1
            if set(a["affected_services"] or []) & set(b["affected_services"] or []):
                shared += 1
        # concurrency at a's start
        conc = sum(1 for b in rows if b["s"] <= a["s"] < b["e"])
        max_conc = max(max_conc, conc)

    per_type = {}
    for t in sorted({r["incident_type"] for r in rows}):
        d = sorted((r["e"] - r["s"]) / 60e6 for r in rows if r["incident_type"] == t)
        per_type[t] = {
            "count": len(d),
            "median_min": round(quantile(d, 0.5), 1),
            "p90_min": round(quantile(d, 0.9), 1),
            "max_min": round(d[-1], 1),
        }
    all_d = sorted((r["e"] - r["s"]) / 60e6 for r in rows)
    releases = [r for r in rows if r["incident_type"] == "deployment_failure"]
    in_hours = [
        r for r in releases if deploy_hours[0] <= r["hour"] < deploy_hours[1]
    ]
    return {
        "incidents": n,
        "per_day": round(n / days, 1),
        "active_fraction": round(
            union_seconds([(r["s"], r["e"]) for r in rows]) / (days * 86_400), 3
        ),
        "overlapping_incidents": len(overlapping),
        "overlapping_share": round(len(overlapping) / n, 3) if n else 0.0,
        "overlapping_pairs": pairs,
        "pairs_same_root_service": same_root,
        "pairs_sharing_an_affected_service": shared,
        "max_concurrent": max_conc,
        "duration_min": {
            "median": round(quantile(all_d, 0.5), 1),
            "p90": round(quantile(all_d, 0.9), 1),
            "p99": round(quantile(all_d, 0.99), 1),
            "max": round(all_d[-1], 1) if all_d else None,
            "over_60": sum(1 for d in all_d if d > 60),
        },
        "per_type": per_type,
        "bad_releases": len(releases),
        "bad_releases_in_deploy_hours": len(in_hours),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", help="output directory of `obsgen generate` (Parquet)")
    ap.add_argument("--deploy-hours", nargs=2, type=int, default=[8, 18],
                    metavar=("START", "END"), help="world.deploy_hours (default 8 18)")
    ap.add_argument("--json", metavar="FILE", help="write the figures to FILE as JSON")
    a = ap.parse_args()
    r = audit(a.out, (a.deploy_hours[0], a.deploy_hours[1]))
    print(f"incidents {r['incidents']} ({r['per_day']}/day), active {r['active_fraction']:.1%} of the time")
    print(
        f"overlapping another: {r['overlapping_incidents']} ({r['overlapping_share']:.1%}); "
        f"pairs {r['overlapping_pairs']}, same root service {r['pairs_same_root_service']}, "
        f"sharing an affected service {r['pairs_sharing_an_affected_service']}; "
        f"at most {r['max_concurrent']} at once"
    )
    d = r["duration_min"]
    print(f"duration (min): median {d['median']}, p90 {d['p90']}, p99 {d['p99']}, max {d['max']}, over 60 min: {d['over_60']}")
    print(f"{'type':<22} {'n':>4} {'median':>7} {'p90':>7} {'max':>7}")
    for t, v in r["per_type"].items():
        print(f"{t:<22} {v['count']:>4} {v['median_min']:>7} {v['p90_min']:>7} {v['max_min']:>7}")
    print(f"bad releases in deploy hours: {r['bad_releases_in_deploy_hours']} of {r['bad_releases']}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(r, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
