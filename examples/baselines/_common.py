"""Shared helpers of the baselines in examples/baselines/ (not a script).

Reading a dataset's range and splits, choosing the training intervals, and writing a
predictions file in the format its extension names (schemas/predictions.md).
"""
import json
import os
from datetime import datetime, timedelta, timezone

import polars as pl

US_PER_MIN = 60_000_000
US_PER_H = 3_600_000_000


def parse_ts(s):
    """RFC 3339 string -> aware UTC datetime."""
    s = s.strip()
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    d = datetime.fromisoformat(s)
    if d.tzinfo is None:
        d = d.replace(tzinfo=timezone.utc)
    return d.astimezone(timezone.utc)


def to_us(d):
    """Aware datetime -> epoch microseconds (exact, no float rounding)."""
    delta = d - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(us):
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=int(us))


def fmt_ts(us):
    """Epoch microseconds -> RFC 3339 (`2026-11-03T14:05:00Z`, microseconds when needed)."""
    d = from_us(us)
    if d.microsecond:
        return d.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


def dataset_range(out):
    """[start, end) of the dataset, epoch microseconds, from OUT/manifest.json."""
    with open(os.path.join(out, "manifest.json")) as f:
        m = json.load(f)
    return to_us(parse_ts(m["start"])), to_us(parse_ts(m["end"]))


def split_intervals(out, name):
    """The intervals (list of [a, b) in epoch µs) OUT/splits.json gives to split `name`,
    or None when there is no splits.json or no such split."""
    path = os.path.join(out, "splits.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        sp = json.load(f)
    for s in sp.get("splits", []):
        if s.get("name") == name:
            return [(to_us(parse_ts(a)), to_us(parse_ts(b))) for a, b in s["intervals"]]
    return None


def require_split(out, name):
    iv = split_intervals(out, name)
    if iv is None:
        raise SystemExit(f"{out}/splits.json has no split {name!r} (run `obsgen split {out}`)")
    return iv


def train_intervals(out):
    """Where a baseline fits: the `train` split of OUT/splits.json when there is one, else
    the first 24 h of the range, or its first third when that is shorter."""
    iv = split_intervals(out, "train")
    if iv:
        return iv, "splits.json train"
    s, e = dataset_range(out)
    n = min(24 * US_PER_H, (e - s) // 3)
    return [(s, s + n)], "first %.1f h" % (n / US_PER_H)


def in_intervals_expr(col, intervals):
    """Polars expression: the µs column `col` lies in one of the [a, b) intervals."""
    e = pl.lit(False)
    for a, b in intervals:
        e = e | ((pl.col(col) >= a) & (pl.col(col) < b))
    return e


def scan(out, source, table):
    return pl.scan_parquet(f"{out}/{source}/{table}/**/*.parquet")


def has_table(out, source, table):
    d = os.path.join(out, source, table)
    if not os.path.isdir(d):
        return False
    for _, _, files in os.walk(d):
        if any(f.endswith(".parquet") for f in files):
            return True
    return False


def write_predictions(df, path, time_cols=()):
    """Write `df` to `path` in the format its extension names. `time_cols` hold epoch
    microseconds: Arrow timestamps (µs, UTC) in Parquet, RFC 3339 strings otherwise."""
    ext = path.lower().rsplit(".", 1)[-1] if "." in os.path.basename(path) else ""
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    if ext == "parquet":
        df = df.with_columns(
            [pl.col(c).cast(pl.Int64).cast(pl.Datetime("us", "UTC")) for c in time_cols]
        )
        df.write_parquet(path)
    elif ext in ("csv", "jsonl", "ndjson"):
        df = df.with_columns(
            [
                pl.col(c)
                .cast(pl.Int64)
                .cast(pl.Datetime("us", "UTC"))
                .dt.strftime("%Y-%m-%dT%H:%M:%S%.fZ")
                .alias(c)
                for c in time_cols
            ]
        )
        if ext == "csv":
            df.write_csv(path)
        else:
            df.write_ndjson(path)
    else:
        raise SystemExit(f"{path}: unknown extension (use .parquet, .csv or .jsonl)")
    return len(df)
