#!/usr/bin/env python3
"""Reference implementation, in Python, of the metrics of `obsgen score`
(schemas/predictions.md), to cross-check the Rust one key by key.

Usage:
  python3 examples/baselines/reference_metrics.py OUT PREDICTIONS
          --task detect|rca|parse|cluster [--threshold T] [--split NAME] [--nested]
          [--template-accuracy loghub2|exact-group]

Prints one JSON object. Keys are flat and dotted, exactly as the spec names them
(`grid.f1`, `grid.pa_k_f1.10`, `service.ac_at_3`, ...); `--nested` prints
{"grid": {"f1": ...}} instead. Besides the metrics, detect prints `shape` (`rows` or
`windows`), `threshold` and `threshold_source` (`is_anomaly`, `given` or `best_f1`).
A metric that is undefined (no incident, no positive) is null.

Choices made where the spec leaves room (the Rust side should match these):

General
 1. Timestamps are handled as integer epoch microseconds. Strings are RFC 3339 (offsets
    allowed); naive Arrow timestamps are UTC.
 2. The grid is the minutes m = start + k x 60 s, k = 0 .. ceil((end - start) / 60 s) - 1,
    counted from the dataset's start (OUT/manifest.json; not from the epoch, in case the
    start is not on a minute); with --split, the minutes whose start m lies in one of the
    split's [a, b) intervals. Rows are in a split when their timestamp lies in [a, b).
 3. An incident is in a split when its closed signal window lies in one of the split's
    half-open intervals: a <= signal_start and signal_end < b. With --split only those
    incidents are used, for the truth grid as well as for events and RCA; without it,
    every incident of labels/incidents.parquet (including `began_before_range` ones).
 4. Truth: a minute [m, m+60 s) overlaps an incident when m <= signal_end and
    m + 60 s > signal_start (the signal window is closed), i.e. the grid minutes that
    hold signal_start ... signal_end, clamped to the grid.

detect
 5. Shape: per-row when the file has a `record_id` column (start/end then ignored), else
    per-window (needs `start` and `end`; an error otherwise). A row's table is named by
    its record_id's code (`kpl-` ...); record_ids not in the dataset (or outside the
    split) are ignored, and it is an error when none names a table of the dataset, or
    when a per-row file has neither `score` nor `is_anomaly`. A record_id listed twice
    gets its highest score (and is flagged if any line flags it). A window with
    end <= start is an error.
 6. Decision: `is_anomaly` when the column exists (a null counts as false; it wins over
    --threshold); else score >= --threshold; else the best-F1 threshold: over the
    distinct finite cell scores of the grid, the one with the highest point-wise grid F1,
    the highest such score on ties. Rows (per-row shape) then use that same threshold.
    Unlisted rows and cells without a window are never flagged.
 7. Scores: unlisted rows and cells without a window score -infinity. A window's score
    is 1.0 when the file has no `score` column or its score is null; a row's null score
    is ignored (-infinity).
 8. AUC-PR (rows and grid) is sklearn's average_precision_score over ALL rows of the
    scored tables / ALL grid cells, the -infinity scores replaced by (lowest finite
    score - 1) so they form one last threshold at which everything is flagged (tied
    scores share one threshold, as sklearn does). Null when there is no positive, and
    null when the file has no `score` column (flags only, or windows without scores).
 9. Window -> cells: a window [start, end) covers minute m when start < m + 60 s and
    end > m; a cell's score is the highest score of the windows covering it and it is
    flagged when one of them is. Windows outside the grid are clipped.
10. Service grid (windows with a `service` column holding at least one non-null value):
    one row of cells per service, the services being the union of the
    `affected_services` of every incident of the dataset (whatever the split) and of the
    file's services; a service of the dataset that neither names (`prod-us-east-1`, the
    cluster's rows) has no row. A window with a null service covers every service's row.
    A service-cell is true when it overlaps an incident whose `affected_services` holds
    the service (an incident with empty affected_services has no true cell there).
11. precision = TP/(TP+FP), 0 when nothing is flagged; recall = TP/(TP+FN), 0 when there
    is no positive; F1 = 2PR/(P+R), 0 when P+R = 0 (rows, grid, PA, PA%K, events).
12. PA / PA%K: a true segment is a maximal run of consecutive true minutes of one grid
    row (one service's row on a service grid; runs do not continue across minutes
    outside the grid). It is adjusted (all its minutes counted flagged) when
    100 * flagged > K * length, in integers (exactly K% is not "more than K%"; a float
    `flagged > K/100 * length` differs for K = 70 and lengths 90, 170, 180, ...), so
    K = 0 is PA, K = 100 none; grid.pa_f1 equals grid.pa_k_f1.0. pa_k_auc: trapezoids
    over K/100 = 0, 0.1, ..., 1 (sum of 0.1 x (F1(K) + F1(K+10)) / 2).
13. Events: an incident is detected when one of its true cells is flagged (on a service
    grid: a flagged minute of one of its affected services). A predicted event is a
    maximal run of flagged minutes of one grid row; it is correct when one of its cells
    is true (on a service grid: it overlaps an incident affecting its service).
    events.f1 = harmonic mean of events.precision and events.recall.
13b. Affiliation (grid.affiliation_*): computed by the authors' own code, `affiliation`
    (ahstat/affiliation-metrics-py, Huet et al. KDD 2022; not on PyPI, so check.sh takes
    the copy TSB-AD 1.5 ships in TSB_AD/evaluation/affiliation). Each grid row's maximal
    run of grid minutes (all of them without --split) is one series: its range is
    (0, run length) in minutes, its events `convert_vector_to_events` of its truth and
    of its flags; pr_from_events is called on each series with at least one true
    minute. Pooled over every series: precision = mean of the defined individual
    precision probabilities (null when none), recall = mean of all individual recall
    probabilities (null without a zone), f1 their harmonic mean (null when either is);
    affiliation_zones = the number of ground-truth events.
14. TTD: for a detected incident, max(0, first flagged true minute's start -
    signal_start) in seconds (float); median (mean of the two middle values for an even
    count) and mean over the detected incidents; null when none is detected.

rca
15. Candidates of a level are the file's rows of the incident whose column for the level
    is non-null (and not empty, 18), sorted by the integer `rank` (stable: ties keep the file's order),
    repeated values dropped (the first stays); AC@K looks at the first K of them by
    position (not at rank <= K); MRR uses the position of the first accepted one. A
    candidate is compared after trimming spaces. A row with a null incident_id or rank
    is an error.
16. Accepted: service = root_cause_service plus the dst of every `used_by` edge whose
    src is the root entity (service/ prefix stripped); an incident whose accepted set is
    empty (node roots, a resource without consumers) is excluded from the service level.
    entity = root_cause_entity; a candidate without '/' matches the part after the
    first '/'; a candidate with a prefix must match exactly. indicator = exact match.
    An empty entity or indicator (none in practice) excludes the incident from that level.
17. LEVEL.incidents = incidents scored (in the range or split, minus excluded);
    LEVEL.predicted = those of them with at least one candidate at that level;
    LEVEL.excluded = left out. The metrics are 0 when LEVEL.incidents is 0. Only the
    levels whose column the file has are printed (an error when it has none). Rows of
    incident ids not scored are ignored.
18. An empty string in `record_id`, `service`, `incident_id`, `entity`, `indicator`,
    `template`, `group` or `cluster` is read as null (a window with service "" covers
    every service).

parse (Loghub-2.0's evaluator, logpai/loghub-2.0 benchmark/logparser/utils/evaluator.py
and benchmark/evaluation/utils/{PA_calculator,template_level_analysis}.py, no filter)
19. Lines scored: the listed record_ids (`kpl-`, `cwl-`) that name a row of
    kubernetes/pod_logs or cloudwatch/logs in the range (split); the others are counted
    in `unmatched_record_ids`. A record_id listed twice, or a scored line without a
    predicted group (`group`, else `template`), is an error. A line's truth is the
    `template` of its `template_id` in labels/templates.parquet (the id itself when it
    has none); truth groups are those texts. Predicted groups are the `group` values
    when the column exists, else the `template` texts (Loghub-2.0 has only the latter).
    GA, PGA, RGA, FGA: get_accuracy: a truth group counts when its lines have one
    predicted group and that group has no other line; GA = its lines / lines, PGA = such
    groups / predicted groups, RGA = / truth groups, FGA their harmonic mean (0 when
    both are 0). PA: lines whose predicted text equals the truth text exactly / lines.
20. PTA, RTA, FTA (need `template`). Default (`--template-accuracy loghub2`), as
    Loghub-2.0 and TA-Eval-Rep compute them: lines are grouped by predicted template
    TEXT (whatever `group` says; a null text is ""), a predicted text is correct when
    the set of the truth texts of its lines is exactly {itself} (its truth template's
    other lines may sit under other predicted texts); PTA = correct / distinct
    predicted texts, RTA = correct / truth templates. `--template-accuracy exact-group`
    follows the spec's wording instead: a truth template counts when its group is found
    exactly (as for GA) and that group's predicted text equals it; PTA = those /
    predicted groups. The two differ when a parser splits a template's lines but names
    one part exactly right, or when two predicted groups share a text.

cluster
21. Rows clustered: the rows of labels/records of the tables the file's record_ids name
    (in the split), with a non-null incident_id; the truth cluster is the incident. A
    listed one takes its `cluster` (the last one when listed twice; a null cluster
    leaves it unlisted); the unlisted ones share one `unassigned` cluster. `listed_normal` counts the
    listing lines that name a normal row of those tables (in the split). ARI and NMI are
    scikit-learn's adjusted_rand_score and normalized_mutual_info_score (arithmetic).
    purity = sum over clusters of their largest incident count / rows; inverse purity =
    sum over incidents of their largest cluster count / rows; incident_purity: for each
    incident, the cluster holding most of its rows (ties: the cluster the file names
    first; a listed cluster before `unassigned`), the share of that
    cluster's rows that are the incident's, averaged over incidents. With no row, every
    metric is 0.
"""
import argparse
import json
import math
import os
import sys
from collections import defaultdict

import numpy as np
import polars as pl
from sklearn.metrics import average_precision_score

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as c  # noqa: E402

MIN = c.US_PER_MIN
CODES = {
    "kpl": ("kubernetes", "pod_logs"),
    "kev": ("kubernetes", "events"),
    "kmt": ("kubernetes", "metrics"),
    "ser": ("sentry", "errors"),
    "str": ("sentry", "transactions"),
    "cwl": ("cloudwatch", "logs"),
    "cwm": ("cloudwatch", "metrics"),
    "cwa": ("cloudwatch", "alarms"),
    "cwq": ("cloudwatch", "insights_queries"),
    "gan": ("grafana", "annotations"),
    "gps": ("grafana", "panel_series"),
}
KS = list(range(0, 101, 10))


# ----------------------------------------------------------------------------- reading


def read_predictions(path):
    ext = path.lower().rsplit(".", 1)[-1]
    if ext == "parquet":
        df = pl.read_parquet(path)
    elif ext == "csv":
        df = pl.read_csv(path, infer_schema_length=0)  # all strings; cast below
    elif ext in ("jsonl", "ndjson"):
        df = pl.read_ndjson(path, infer_schema_length=None)
    else:
        raise SystemExit(f"{path}: unknown extension (.parquet, .csv, .jsonl, .ndjson)")
    # An empty string is a missing value (choice 18).
    text = ["record_id", "service", "incident_id", "entity", "indicator"]
    return df.with_columns(
        [pl.col(x).replace("", None) for x in text if x in df.columns and df[x].dtype == pl.Utf8]
    )


def as_us(s):
    """A timestamp column (Arrow timestamp of any unit, or RFC 3339 strings) -> µs Int64."""
    if s.dtype == pl.Datetime or isinstance(s.dtype, pl.Datetime):
        if s.dtype.time_zone is None:
            s = s.dt.replace_time_zone("UTC")
        return s.dt.epoch("us")
    s = s.cast(pl.Utf8)
    try:
        return s.str.to_datetime(time_zone="UTC", time_unit="us").dt.epoch("us")
    except Exception:
        return pl.Series(s.name, [None if v is None else c.to_us(c.parse_ts(v)) for v in s],
                         dtype=pl.Int64)


def as_bool(s):
    if s.dtype == pl.Boolean:
        return s.fill_null(False)
    return (
        s.cast(pl.Utf8).str.strip_chars().str.to_lowercase().is_in(["true", "1", "t", "yes"])
        .fill_null(False)
    )


def as_float(s):
    if s.dtype == pl.Utf8:
        s = s.str.strip_chars().replace("", None)
    return s.cast(pl.Float64)


def load_incidents(out, split_iv):
    inc = pl.read_parquet(os.path.join(out, "labels", "incidents.parquet")).with_columns(
        pl.col("start").dt.epoch("us").alias("start_us"),
        pl.col("signal_start").dt.epoch("us").alias("ss"),
        pl.col("signal_end").dt.epoch("us").alias("se"),
    )
    if split_iv is not None:
        keep = pl.lit(False)
        for a, b in split_iv:
            keep = keep | ((pl.col("ss") >= a) & (pl.col("se") < b))
        inc = inc.filter(keep)
    return inc


# ----------------------------------------------------------------------------- metrics


def prf(tp, fp, fn):
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def auc_pr(y, score):
    y = np.asarray(y, dtype=bool)
    if not y.any():
        return None
    s = np.asarray(score, dtype=float).copy()
    fin = np.isfinite(s)
    low = (s[fin].min() - 1.0) if fin.any() else 0.0
    s[~fin] = low
    return float(average_precision_score(y, s))


def best_f1_threshold(truth, score, mask):
    """The finite cell score maximising the grid's point-wise F1 (highest on ties)."""
    s = score[mask]
    t = truth[mask]
    fin = np.isfinite(s)
    s, t = s[fin], t[fin]
    if len(s) == 0:
        return None
    P = int(truth[mask].sum())
    order = np.argsort(-s, kind="stable")
    s, t = s[order], t[order]
    tp = np.cumsum(t)
    n = np.arange(1, len(s) + 1)
    last = np.r_[s[1:] != s[:-1], True]  # the last index of each distinct score
    tp, n, thr = tp[last], n[last], s[last]
    prec = tp / n
    rec = tp / P if P else np.zeros_like(prec, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(prec + rec > 0, 2 * prec * rec / (prec + rec), 0.0)
    i = int(np.argmax(f1))  # first maximum = highest threshold
    return float(thr[i])


def runs(row):
    """Maximal runs of True in a 1-d bool array: list of (lo, hi) inclusive."""
    if not row.any():
        return []
    d = np.diff(np.r_[0, row.astype(np.int8), 0])
    lo = np.nonzero(d == 1)[0]
    hi = np.nonzero(d == -1)[0] - 1
    return list(zip(lo.tolist(), hi.tolist()))


def grid_metrics(truth, flagged, score, mask):
    """truth/flagged/score: (rows, minutes) arrays; mask: (minutes,) bool, the grid."""
    m2 = np.broadcast_to(mask, truth.shape)
    t = truth & m2
    f = flagged & m2
    res = {}
    tp = int((t & f).sum())
    fp = int((~t & f).sum())
    fn = int((t & ~f).sum())
    res["grid.precision"], res["grid.recall"], res["grid.f1"] = prf(tp, fp, fn)
    res["grid.auc_pr"] = auc_pr(t[m2], score[m2])
    segs = [(i, lo, hi) for i in range(t.shape[0]) for lo, hi in runs(t[i])]
    f1k = {}
    for k in KS:
        adj = f.copy()
        for i, lo, hi in segs:
            nflag = int(f[i, lo : hi + 1].sum())
            if 100 * nflag > k * (hi - lo + 1):
                adj[i, lo : hi + 1] = True
        tp = int((t & adj).sum())
        fp = int((~t & adj).sum())
        fn = int((t & ~adj).sum())
        f1k[k] = prf(tp, fp, fn)[2]
    res["grid.pa_f1"] = f1k[0]
    for k in KS:
        res[f"grid.pa_k_f1.{k}"] = f1k[k]
    ys = [f1k[k] for k in KS]
    res["grid.pa_k_auc"] = float(sum((ys[i] + ys[i + 1]) / 2 * 0.1 for i in range(len(KS) - 1)))
    return res


def events_metrics(inc_cells, truth, flagged, mask, minute0, ss_list):
    """inc_cells: per incident, a list of (row, lo, hi) minute index ranges (its true cells)."""
    f = flagged & np.broadcast_to(mask, flagged.shape)
    t = truth & np.broadcast_to(mask, truth.shape)
    detected, ttd = 0, []  # minute0: the grid's start, µs
    for cells, ss in zip(inc_cells, ss_list):
        first = None
        for i, lo, hi in cells:
            idx = np.nonzero(f[i, lo : hi + 1])[0]
            if len(idx):
                m = lo + int(idx[0])
                first = m if first is None else min(first, m)
        if first is not None:
            detected += 1
            ttd.append(max(0.0, (minute0 + first * MIN - ss) / 1e6))
    n_inc = len(inc_cells)
    recall = detected / n_inc if n_inc else 0.0
    ev_total, ev_ok = 0, 0
    for i in range(f.shape[0]):
        for lo, hi in runs(f[i]):
            ev_total += 1
            ev_ok += bool(t[i, lo : hi + 1].any())
    precision = ev_ok / ev_total if ev_total else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "events.precision": precision,
        "events.recall": recall,
        "events.f1": f1,
        "events.ttd_median_s": float(np.median(ttd)) if ttd else None,
        "events.ttd_mean_s": float(np.mean(ttd)) if ttd else None,
    }


# ----------------------------------------------------------------------------- detect


def incident_services(out):
    inc = pl.read_parquet(os.path.join(out, "labels", "incidents.parquet"), columns=["affected_services"])
    return {s for s in inc["affected_services"].explode().to_list() if s is not None}


def detect(a):
    start, end = c.dataset_range(a.out)
    split_iv = c.require_split(a.out, a.split) if a.split else None
    inc = load_incidents(a.out, split_iv)
    pred = read_predictions(a.predictions)
    cols = set(pred.columns)
    # Minute k of the grid is [start + k min, start + (k+1) min); `minute0` and the
    # helpers below count in minutes from `start` (anything // MIN is taken relative).
    n_min = -(-(end - start) // MIN)
    minutes_us = start + np.arange(n_min, dtype=np.int64) * MIN
    minute0 = 0
    if split_iv is None:
        mask = (minutes_us >= start) & (minutes_us < end)
    else:
        mask = np.zeros(n_min, dtype=bool)
        for lo, hi in split_iv:
            mask |= (minutes_us >= lo) & (minutes_us < hi)
        mask &= (minutes_us >= start) & (minutes_us < end)

    has_flag = "is_anomaly" in cols
    has_score = "score" in cols
    res = {}
    if "record_id" in cols:
        shape = "rows"
        if not (has_score or has_flag):
            raise SystemExit("per-row predictions need a `score` or an `is_anomaly` column")
        p = pred.select(
            pl.col("record_id").cast(pl.Utf8),
            (as_float(pred["score"]) if has_score else pl.lit(None, pl.Float64)).alias("score"),
            (as_bool(pred["is_anomaly"]) if has_flag else pl.lit(False)).alias("flag"),
        ).filter(pl.col("record_id").is_not_null())
        p = p.with_columns(pl.col("score").fill_null(-math.inf))
        p = p.group_by("record_id").agg(pl.col("score").max(), pl.col("flag").any())
        codes = sorted(
            code for code in set(p["record_id"].str.split("-").list.get(0).unique().to_list()) & set(CODES)
            if c.has_table(a.out, *CODES[code])
        )
        if not codes:
            raise SystemExit("no predicted record_id names a row of the dataset")
        frames = []
        for code in codes:
            src, tab = CODES[code]
            frames.append(
                c.scan(a.out, src, tab)
                .select("record_id", pl.col("timestamp").dt.epoch("us").alias("ts"), "is_anomaly")
                .collect()
            )
        rows = pl.concat(frames) if frames else pl.DataFrame(
            schema={"record_id": pl.Utf8, "ts": pl.Int64, "is_anomaly": pl.Boolean})
        if split_iv is not None:
            rows = rows.filter(c.in_intervals_expr("ts", split_iv))
        rows = rows.join(p, on="record_id", how="left").with_columns(
            pl.col("score").fill_null(-math.inf), pl.col("flag").fill_null(False)
        )
        y_rows = rows["is_anomaly"].to_numpy().astype(bool)
        s_rows = rows["score"].to_numpy().astype(float)
        f_rows_given = rows["flag"].to_numpy().astype(bool)
        # cells: (1, minutes) from the rows
        idx = ((rows["ts"].to_numpy() - start) // MIN).astype(np.int64)
        ok = (idx >= 0) & (idx < n_min)
        score = np.full((1, n_min), -math.inf)
        np.maximum.at(score[0], idx[ok], s_rows[ok])
        cflag = np.zeros((1, n_min), dtype=bool)
        np.logical_or.at(cflag[0], idx[ok], f_rows_given[ok])
        services = None
    else:
        shape = "windows"
        if "start" not in cols or "end" not in cols:
            raise SystemExit("predictions have neither record_id nor start/end")
        by_service = "service" in cols and pred["service"].cast(pl.Utf8).is_not_null().any()
        w = pl.DataFrame(
            {
                "ws": as_us(pred["start"]),
                "we": as_us(pred["end"]),
                "score": (as_float(pred["score"]) if has_score else pl.Series([1.0] * len(pred))),
                "flag": (as_bool(pred["is_anomaly"]) if has_flag else pl.Series([False] * len(pred))),
                "service": (pred["service"].cast(pl.Utf8) if by_service else pl.Series([""] * len(pred))),
            }
        )
        if w["ws"].is_null().any() or w["we"].is_null().any():
            raise SystemExit("every window needs `start` and `end`")
        if (w["we"] <= w["ws"]).any():
            raise SystemExit("a window's `end` must be after its `start`")
        w = w.with_columns(pl.col("score").fill_null(1.0))
        if by_service:
            services = sorted(incident_services(a.out) | set(w["service"].drop_nulls().to_list()))
            # A window without a service covers every service's row.
            w = pl.concat([
                w.filter(pl.col("service").is_not_null()),
                w.filter(pl.col("service").is_null()).drop("service")
                .join(pl.DataFrame({"service": services}), how="cross").select(w.columns),
            ])
        else:
            services = [""]
        si = {s: i for i, s in enumerate(services)}
        w = w.with_columns(
            ((pl.col("ws") - start) // MIN).clip(0, n_min).alias("lo"),
            ((pl.col("we") - 1 - start) // MIN).clip(-1, n_min - 1).alias("hi"),
        ).filter(pl.col("hi") >= pl.col("lo"))
        cells = (
            w.with_columns(pl.int_ranges("lo", pl.col("hi") + 1).alias("m"))
            .explode("m")
            .group_by("service", "m")
            .agg(pl.col("score").max(), pl.col("flag").any())
        )
        score = np.full((len(services), n_min), -math.inf)
        cflag = np.zeros((len(services), n_min), dtype=bool)
        if len(cells):
            ri = np.array([si[s] for s in cells["service"].to_list()], dtype=np.int64)
            mi = cells["m"].to_numpy().astype(np.int64)
            score[ri, mi] = cells["score"].to_numpy()
            cflag[ri, mi] = cells["flag"].to_numpy()

    # Truth.
    truth = np.zeros(score.shape, dtype=bool)
    inc_cells, ss_list = [], []
    idx_s = {s: i for i, s in enumerate(services or [])}
    for r in inc.iter_rows(named=True):
        lo = (r["ss"] - start) // MIN
        hi = (r["se"] - start) // MIN
        lo, hi = max(lo, 0), min(hi, n_min - 1)
        ss_list.append(r["ss"])
        if hi < lo:
            inc_cells.append([])
            continue
        if services is None or services == [""]:
            rows_i = [0]
        else:
            rows_i = sorted({idx_s[s] for s in (r["affected_services"] or []) if s in idx_s})
        cells_i = []
        for i in rows_i:
            truth[i, lo : hi + 1] = True
            cells_i.append((i, lo, hi))
        inc_cells.append(cells_i)

    # Decision.
    if has_flag:
        flagged, thr, src = cflag, None, "is_anomaly"
    else:
        if a.threshold is not None:
            thr, src = a.threshold, "given"
        else:
            thr, src = best_f1_threshold(truth, score, np.broadcast_to(mask, score.shape)), "best_f1"
        flagged = score >= thr if thr is not None else np.zeros(score.shape, dtype=bool)

    res["shape"] = shape
    res["threshold"] = thr
    res["threshold_source"] = src
    if shape == "rows":
        f_rows = f_rows_given if has_flag else (s_rows >= thr if thr is not None else np.zeros(len(s_rows), bool))
        tp = int((y_rows & f_rows).sum())
        fp = int((~y_rows & f_rows).sum())
        fn = int((y_rows & ~f_rows).sum())
        res["rows.precision"], res["rows.recall"], res["rows.f1"] = prf(tp, fp, fn)
        res["rows.auc_pr"] = auc_pr(y_rows, s_rows) if has_score else None
    res.update(grid_metrics(truth, flagged, score, mask))
    if not has_score:
        res["grid.auc_pr"] = None
    res.update(events_metrics(inc_cells, truth, flagged, mask, start, ss_list))
    res.update(affiliation_metrics(truth, flagged, mask))
    return res


def affiliation_metrics(truth, flagged, mask):
    """Choice 13b: the authors' pr_from_events on every series of the grid, pooled."""
    from affiliation.generics import convert_vector_to_events
    from affiliation.metrics import pr_from_events

    prec, rec = [], []
    for i in range(truth.shape[0]):
        for lo, hi in runs(mask):
            t = truth[i, lo : hi + 1].astype(int).tolist()
            if not any(t):
                continue
            f = flagged[i, lo : hi + 1].astype(int).tolist()
            r = pr_from_events(convert_vector_to_events(f), convert_vector_to_events(t),
                               (0, hi + 1 - lo))
            prec += [p for p in r["individual_precision_probabilities"] if not math.isnan(p)]
            rec += r["individual_recall_probabilities"]
    p = sum(prec) / len(prec) if prec else None
    r = sum(rec) / len(rec) if rec else None
    f1 = None if p is None or r is None else (0.0 if p + r == 0 else 2 * p * r / (p + r))
    return {"grid.affiliation_zones": len(rec), "grid.affiliation_precision": p,
            "grid.affiliation_recall": r, "grid.affiliation_f1": f1}


# ----------------------------------------------------------------------------- rca


def rca(a):
    split_iv = c.require_split(a.out, a.split) if a.split else None
    inc = load_incidents(a.out, split_iv)
    edges = pl.read_parquet(os.path.join(a.out, "labels", "incident_edges.parquet"))
    used_by = defaultdict(set)
    for r in edges.filter(pl.col("relation") == "used_by").iter_rows(named=True):
        used_by[(r["incident_id"], r["src_entity"])].add(r["dst_entity"].split("/", 1)[-1])
    pred = read_predictions(a.predictions)
    if "incident_id" not in pred.columns or "rank" not in pred.columns:
        raise SystemExit("rca predictions need incident_id and rank")
    levels = [lv for lv in ("service", "entity", "indicator") if lv in pred.columns]
    if not levels:
        raise SystemExit("rca predictions need at least one of service, entity, indicator")
    rank = pred["rank"]
    if rank.dtype == pl.Utf8:
        rank = rank.str.strip_chars()
    pred = pred.with_columns(
        pl.col("incident_id").cast(pl.Utf8),
        rank.cast(pl.Int64, strict=True).alias("rank"),
        pl.int_range(pl.len()).alias("_order"),
    )
    if pred["incident_id"].is_null().any() or pred["rank"].is_null().any():
        raise SystemExit("every row needs an incident_id and a rank")
    pred = pred.sort(["incident_id", "rank", "_order"])
    cand = {}
    for level in levels:
        d = defaultdict(list)
        for iid, v in zip(pred["incident_id"].to_list(), pred[level].cast(pl.Utf8).to_list()):
            if v is not None and v not in d[iid]:
                d[iid].append(v)
        cand[level] = d

    def ent_ok(cnd, truth):
        cnd = cnd.strip()
        if cnd == truth:
            return True
        return "/" not in cnd and "/" in truth and cnd == truth.split("/", 1)[1]

    res = {}
    for level in levels:
        n, predicted, excluded = 0, 0, 0
        ac = {k: 0 for k in range(1, 6)}
        rr = 0.0
        for r in inc.iter_rows(named=True):
            iid = r["incident_id"]
            if level == "service":
                acc = set()
                if r["root_cause_service"]:
                    acc.add(r["root_cause_service"])
                acc |= used_by.get((iid, r["root_cause_entity"]), set())
                if not acc:
                    excluded += 1
                    continue
                ok = lambda x, acc=acc: x.strip() in acc  # noqa: E731
            elif level == "entity":
                if not r["root_cause_entity"]:
                    excluded += 1
                    continue
                ok = lambda x, t=r["root_cause_entity"]: ent_ok(x, t)  # noqa: E731
            else:
                if not r["root_cause_indicator"]:
                    excluded += 1
                    continue
                ok = lambda x, t=r["root_cause_indicator"]: x.strip() == t  # noqa: E731
            n += 1
            cands = cand[level].get(iid, [])
            predicted += bool(cands)
            pos = next((i + 1 for i, x in enumerate(cands) if ok(x)), None)
            if pos is not None:
                rr += 1.0 / pos
                for k in range(1, 6):
                    ac[k] += pos <= k
        for k in (1, 3, 5):
            res[f"{level}.ac_at_{k}"] = ac[k] / n if n else 0.0
        res[f"{level}.avg_at_5"] = sum(ac[k] / n if n else 0.0 for k in range(1, 6)) / 5
        res[f"{level}.mrr"] = rr / n if n else 0.0
        res[f"{level}.incidents"] = n
        res[f"{level}.predicted"] = predicted
        res[f"{level}.excluded"] = excluded
    return res


# ----------------------------------------------------------------------------- parse


LOG_CODES = ("kpl", "cwl")  # kubernetes/pod_logs, cloudwatch/logs


def _text_col(pred, name):
    """A text column of the predictions as Utf8, "" read as null (choice 18)."""
    return pred[name].cast(pl.Utf8).replace("", None)


def loghub_grouping(truth, pred):
    """Loghub-2.0's get_accuracy (benchmark/logparser/utils/evaluator.py), no filter:
    truth / pred are lists of group labels per line. Returns (GA, PGA, RGA, FGA, number
    of truth groups, number of predicted groups)."""
    df = pl.DataFrame({"t": truth, "p": pred})
    pred_size = df.group_by("p").len(name="psize")
    g = df.group_by("t").agg(pl.len().alias("n"), pl.col("p").n_unique().alias("k"), pl.col("p").first())
    g = g.join(pred_size, on="p", how="left")
    ok = g.filter((pl.col("k") == 1) & (pl.col("n") == pl.col("psize")))
    accurate_events = int(ok["n"].sum()) if len(ok) else 0
    accurate_templates = len(ok)
    n, n_truth, n_pred = len(df), len(g), len(pred_size)
    ga = accurate_events / n if n else 0.0
    pga = accurate_templates / n_pred if n_pred else 0.0
    rga = accurate_templates / n_truth if n_truth else 0.0
    fga = 2 * pga * rga / (pga + rga) if pga + rga else 0.0
    return ga, pga, rga, fga, n_truth, n_pred


def loghub_template_level(truth_text, pred_text):
    """Loghub-2.0's evaluate_template_level (benchmark/evaluation/utils/
    template_level_analysis.py, as TA-Eval-Rep, Khan et al. 2022), no filter: lines are
    grouped by their predicted template text; a predicted template is correct when the set
    of the truth templates of its lines is exactly {itself}. PTA = correct / predicted
    templates, RTA = correct / truth templates."""
    df = pl.DataFrame({"t": truth_text, "p": [x if x is not None else "" for x in pred_text]})
    g = df.group_by("p").agg(pl.col("t").unique().alias("ts"))
    correct = sum(1 for p, ts in g.iter_rows() if len(ts) == 1 and ts[0] == p)
    n_pred, n_truth = len(g), df["t"].n_unique()
    pta = correct / n_pred if n_pred else 0.0
    rta = correct / n_truth if n_truth else 0.0
    fta = 2 * pta * rta / (pta + rta) if pta + rta else 0.0
    return pta, rta, fta


def exact_group_template_level(truth_text, pred_group, pred_text):
    """The spec's wording (schemas/predictions.md): a truth template is found when its
    group is found exactly (as for GA) and that group's predicted text equals it; PTA =
    found / predicted groups, RTA = found / truth templates."""
    df = pl.DataFrame({"t": truth_text, "p": pred_group, "x": pred_text})
    pred_size = df.group_by("p").len(name="psize")
    g = df.group_by("t").agg(
        pl.len().alias("n"), pl.col("p").n_unique().alias("k"), pl.col("p").first(),
        pl.col("x").first(),
    ).join(pred_size, on="p", how="left")
    found = g.filter(
        (pl.col("k") == 1) & (pl.col("n") == pl.col("psize")) & (pl.col("x") == pl.col("t"))
    )
    n_pred, n_truth = len(pred_size), len(g)
    pta = len(found) / n_pred if n_pred else 0.0
    rta = len(found) / n_truth if n_truth else 0.0
    fta = 2 * pta * rta / (pta + rta) if pta + rta else 0.0
    return pta, rta, fta


def parse(a):
    split_iv = c.require_split(a.out, a.split) if a.split else None
    pred = read_predictions(a.predictions)
    n_pred_rows = len(pred)
    if "record_id" not in pred.columns:
        raise SystemExit("parsing predictions need a `record_id` column")
    has_t, has_g = "template" in pred.columns, "group" in pred.columns
    if not (has_t or has_g):
        raise SystemExit("parsing predictions need a `template` or `group` column")
    p = pl.DataFrame({
        "record_id": _text_col(pred, "record_id"),
        "template": _text_col(pred, "template") if has_t else pl.Series([None] * len(pred), dtype=pl.Utf8),
        "group": _text_col(pred, "group") if has_g else pl.Series([None] * len(pred), dtype=pl.Utf8),
    }).filter(pl.col("record_id").is_not_null())
    codes = sorted(
        code for code in set(p["record_id"].str.split("-").list.get(0).unique().to_list())
        if code in LOG_CODES and c.has_table(a.out, *CODES[code])
    )
    if not codes:
        raise SystemExit("no predicted record_id names a row of kubernetes/pod_logs or cloudwatch/logs")
    tmpl = pl.read_parquet(os.path.join(a.out, "labels", "templates.parquet"),
                           columns=["template_id", "template"]).rename({"template": "truth"})
    frames = []
    for code in codes:
        f = c.scan(a.out, *CODES[code]).select(
            "record_id", pl.col("timestamp").dt.epoch("us").alias("ts"), "template_id")
        if split_iv is not None:
            f = f.filter(c.in_intervals_expr("ts", split_iv))
        frames.append(f.collect())
    rows = pl.concat(frames).join(tmpl, on="template_id", how="left").with_columns(
        # A template id without a text stands for itself (none in practice).
        pl.col("truth").fill_null(pl.col("template_id"))
    ).select("record_id", "truth")
    m = p.join(rows, on="record_id", how="inner")
    if m["record_id"].is_duplicated().any():
        raise SystemExit(f"record_id `{m.filter(pl.col('record_id').is_duplicated())['record_id'][0]}` is listed twice")
    gcol = "group" if has_g else "template"
    if m[gcol].is_null().any():
        raise SystemExit("a scored line has no predicted template or group")
    truth = m["truth"].to_list()
    groups = m[gcol].to_list()
    ga, pga, rga, fga, n_truth, n_groups = loghub_grouping(truth, groups)
    res = {
        "predictions": n_pred_rows,
        "messages": len(m),
        "unmatched_record_ids": len(p) - len(m),
        "truth_templates": n_truth,
        "predicted_groups": n_groups,
        "ga": ga, "pga": pga, "rga": rga, "fga": fga,
        "pa": None, "pta": None, "rta": None, "fta": None,
    }
    if has_t:
        texts = m["template"].to_list()
        res["pa"] = (sum(1 for x, t in zip(texts, truth) if x == t) / len(m)) if len(m) else 0.0
        if a.template_accuracy == "loghub2":
            res["pta"], res["rta"], res["fta"] = loghub_template_level(truth, texts)
        else:
            res["pta"], res["rta"], res["fta"] = exact_group_template_level(truth, groups, texts)
    return res


# ----------------------------------------------------------------------------- cluster


def cluster(a):
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    split_iv = c.require_split(a.out, a.split) if a.split else None
    pred = read_predictions(a.predictions)
    for col in ("record_id", "cluster"):
        if col not in pred.columns:
            raise SystemExit(f"cluster predictions need a `{col}` column")
    p = pl.DataFrame({
        "record_id": _text_col(pred, "record_id"),
        "cluster": _text_col(pred, "cluster"),
    }).with_row_index("line").filter(pl.col("record_id").is_not_null())
    codes = sorted(
        (code for code in set(p["record_id"].str.split("-").list.get(0).unique().to_list())
         if code in CODES and os.path.isdir(os.path.join(a.out, "labels", "records", *CODES[code]))),
        key=lambda k: CODES[k],
    )
    if not codes:
        raise SystemExit("no predicted record_id names a row of the dataset")
    frames = []
    for code in codes:
        src, tab = CODES[code]
        f = pl.scan_parquet(f"{a.out}/labels/records/{src}/{tab}/**/*.parquet").select(
            "record_id", pl.col("timestamp").dt.epoch("us").alias("ts"),
            pl.col("incident_id").cast(pl.Utf8))
        if split_iv is not None:
            f = f.filter(c.in_intervals_expr("ts", split_iv))
        frames.append(f.collect().with_columns(pl.lit(len(frames)).alias("tab")))
    # Rows in table order, then file order (the order the scorer reads them).
    rows = pl.concat(frames).with_row_index("row")
    inc_rows = rows.filter(pl.col("incident_id").is_not_null())
    normal_ids = rows.filter(pl.col("incident_id").is_null()).select("record_id")
    listed_normal = len(p.join(normal_ids, on="record_id", how="semi"))
    # Listed incident rows with a cluster; a row listed twice keeps its last cluster.
    lp = p.join(inc_rows.select("record_id"), on="record_id", how="semi")
    # Cluster order: first appearance among the listed incident rows (for ties, choice 21).
    order = {}
    for cl in lp["cluster"].to_list():
        if cl is not None and cl not in order:
            order[cl] = len(order)
    last = lp.filter(pl.col("cluster").is_not_null()).group_by("record_id").agg(
        pl.col("cluster").sort_by("line").last())
    j = inc_rows.join(last, on="record_id", how="left").sort("row")
    listed = int(j["cluster"].is_not_null().sum())
    # Unlisted rows: one shared `unassigned` cluster, after the file's clusters.
    b = [len(order) if cl is None else order[cl] for cl in j["cluster"].to_list()]
    ainc = j["incident_id"].to_list()
    n = len(b)
    res = {
        "predictions": len(pred),
        "tables": ["/".join(CODES[k]) for k in codes],
        "rows": n,
        "listed": listed,
        "listed_normal": listed_normal,
        "incidents": len(set(ainc)),
        "clusters": len(set(b)),
    }
    if n == 0:
        res.update({"ari": 0.0, "nmi": 0.0, "purity": 0.0, "inverse_purity": 0.0, "incident_purity": 0.0})
        return res
    res["ari"] = float(adjusted_rand_score(ainc, b))
    res["nmi"] = float(normalized_mutual_info_score(ainc, b))
    ct = pl.DataFrame({"a": ainc, "b": b}).group_by("a", "b").len(name="v")
    res["purity"] = int(ct.group_by("b").agg(pl.col("v").max())["v"].sum()) / n
    res["inverse_purity"] = int(ct.group_by("a").agg(pl.col("v").max())["v"].sum()) / n
    size_b = dict(pl.DataFrame({"b": b}).group_by("b").len().iter_rows())
    # Each incident's dominant cluster; ties to the cluster first named in the file.
    dom = ct.sort("a", pl.col("v"), "b", descending=[False, True, False]).group_by(
        "a", maintain_order=True).first()
    res["incident_purity"] = float(np.mean([v / size_b[bb] for bb, v in zip(dom["b"], dom["v"])]))
    return res


def nest(flat):
    out = {}
    for k, v in flat.items():
        parts = k.split(".")
        d = out
        for p in parts[:-1]:
            d = d.setdefault(p, {})
        d[parts[-1]] = v
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("predictions")
    ap.add_argument("--task", required=True, choices=["detect", "rca", "parse", "cluster"])
    ap.add_argument("--threshold", type=float)
    ap.add_argument("--split")
    ap.add_argument("--nested", action="store_true")
    ap.add_argument("--template-accuracy", choices=["loghub2", "exact-group"], default="loghub2",
                    help="parse: PTA/RTA/FTA as Loghub-2.0 computes them (default) or as the "
                         "spec words them (choice 20)")
    a = ap.parse_args()
    res = {"detect": detect, "rca": rca, "parse": parse, "cluster": cluster}[a.task](a)
    print(json.dumps(nest(res) if a.nested else res, indent=1))


if __name__ == "__main__":
    main()
