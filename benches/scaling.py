#!/usr/bin/env python3
"""How obsgen's rendering would scale to many cores: a schedule model fed with measured
work (issue 14, item 4).

    python3 benches/scaling.py [--obsgen target/release/obsgen] [--hours 48]
                               [--cores 1,2,4,8,16,32,64] [--json]

A machine with 2 cores cannot run 64 workers, but it can measure every job the pipeline
schedules: `generate --threads 1 --trace FILE` records each partition (render, encode,
write) and each day's world plan, one at a time, without contention. The pipeline's
schedule is simple enough to replay: the first day's world is planned, then for each day
its partitions (hour-major, as `par_iter` hands them out) run on the pool while one
worker plans the next day's world (`rayon::join`), and the next day starts when both are
done (the day barrier). The model replays that schedule on N workers (list scheduling:
each job to the first free worker, in order) and gives the run's wall time and rows/s.

It is checked against the machine: the model's 1- and 2-worker times are printed beside
the measured `--threads 1` and `--threads 2` runs. It is optimistic where the machine is
shared: memory bandwidth, the allocator and the per-hour derivations two partitions wait
for (`World::shared`) cost more with more workers, and the model counts none of it.

Printed: for each N the model's wall time, rows/s, speedup and efficiency, the same
without the day barrier (what overlapping days would buy), and the bounds: the largest
partition (no day can end sooner) and the largest world plan (one worker's, beside each
day).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile


def run(obsgen, hours, threads, out, trace=None):
    """One run; its own seconds (`summary.seconds`, process start excluded) and its source
    records."""
    cmd = [
        obsgen, "generate", "--start", "2026-11-23", "--duration-hours", str(hours),
        "--threads", str(threads), "-o", out, "--overwrite", "--summary", "json",
        "--no-progress",
    ]
    if trace:
        cmd += ["--trace", trace]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    summary = json.loads(done.stdout)
    return summary["seconds"], summary["source_records"]


def read_trace(path):
    worlds, parts = [], []
    with open(path) as f:
        for line in f:
            e = json.loads(line)
            d = e["end_us"] - e["start_us"]
            if e["kind"] == "world":
                worlds.append((e["hour"][:10], d))
            else:
                parts.append((e["hour"][:10], e["name"], d, e["start_us"]))
    parts.sort(key=lambda p: p[3])
    return worlds, parts


def model(worlds, parts, n, barrier=True):
    """The run's wall time (us) on n workers, replaying the pipeline's schedule; with
    `barrier=False`, the schedule without the day barrier (a day's partitions start as
    soon as a worker is free and the day's world is planned: what overlapping days would
    give, tried and rejected for its memory, see `src/pipeline/render.rs`)."""
    plan = dict(worlds)
    days = sorted(plan)
    by_day = {d: [p[2] for p in parts if p[0] == d] for d in days}
    t = plan[days[0]]
    free = [t] * n
    for i, day in enumerate(days):
        nxt = plan[days[i + 1]] if i + 1 < len(days) else 0
        if barrier:
            free = [max(free)] * n
        if n == 1:
            # rayon::join on one worker: the day, then the next world.
            free[0] += sum(by_day[day]) + nxt
            continue
        k = min(range(n), key=free.__getitem__)
        free[k] += nxt  # one worker takes the next world
        for job in by_day[day]:
            k = min(range(n), key=free.__getitem__)
            free[k] += job
    return max(free)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--obsgen", default="target/release/obsgen")
    ap.add_argument("--hours", type=int, default=48)
    ap.add_argument("--cores", default="1,2,4,8,16,32,64")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    a = ap.parse_args()
    cores = [int(c) for c in a.cores.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        trace = os.path.join(tmp, "trace.jsonl")
        out = os.path.join(tmp, "out")
        wall1, rows = run(a.obsgen, a.hours, 1, out, trace)
        worlds, parts = read_trace(trace)
        measured = {1: wall1}
        if os.cpu_count() and os.cpu_count() >= 2:
            measured[2], _ = run(a.obsgen, a.hours, 2, out)
    work = sum(p[2] for p in parts) + sum(w[1] for w in worlds)
    largest = max(parts, key=lambda p: p[2])
    plan_max = max(w[1] for w in worlds)
    # The checks before rendering and the incident tables and manifest after: measured,
    # not modelled (the 1-thread run's time minus its trace's rendering).
    rendering = max(p[3] + p[2] for p in parts) / 1e6
    fixed = max(0.0, wall1 - rendering)
    res = {
        "hours": a.hours, "rows": rows, "partitions": len(parts), "worlds": len(worlds),
        "work_s": work / 1e6, "fixed_s": fixed,
        "largest_partition": {"table": largest[1], "hour": largest[0], "s": largest[2] / 1e6},
        "world_plan_max_s": plan_max / 1e6,
        "measured": {str(k): {"s": v, "rows_per_s": rows / v} for k, v in measured.items()},
        "model": {},
    }
    for n in cores:
        s = model(worlds, parts, n) / 1e6 + fixed
        free = model(worlds, parts, n, barrier=False) / 1e6 + fixed
        res["model"][str(n)] = {"s": s, "rows_per_s": rows / s, "no_barrier_s": free}
    if a.json:
        print(json.dumps(res, indent=2))
        return
    base = res["model"][str(cores[0])]["s"] if cores[0] == 1 else None
    print(f"{a.hours} h, {rows:,} rows, {len(parts)} partitions, {len(worlds)} worlds; "
          f"work {work / 1e6:.2f} s (one worker, no contention), fixed {fixed:.2f} s")
    print(f"largest partition {largest[1]} {largest[0]}: {largest[2] / 1e6 * 1000:.0f} ms; "
          f"largest world plan {plan_max / 1e3:.0f} ms")
    print()
    print("| workers | model s | model rows/s | speedup | efficiency | measured s "
          "| no day barrier: s, efficiency |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n in cores:
        m = res["model"][str(n)]
        meas = f"{measured[n]:.2f}" if n in measured else "-"
        sp = base / m["s"] if base else float("nan")
        nb = base / m["no_barrier_s"] if base else float("nan")
        print(f"| {n} | {m['s']:.2f} | {m['rows_per_s']:,.0f} | {sp:.2f}x | {sp / n:.0%} | {meas} "
              f"| {m['no_barrier_s']:.2f}, {nb / n:.0%} |")


if __name__ == "__main__":
    sys.exit(main())
