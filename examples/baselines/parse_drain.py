#!/usr/bin/env python3
"""Drain log parsing (He et al., ICWS 2017) of kubernetes/pod_logs messages, with drain3.

drain3's TemplateMiner with its default configuration (tree depth 4, similarity
threshold 0.4, at most 100 children per node, no masking, numeric tokens parametrised),
fed the `message` of every row of the sample in timestamp order (ties by record_id).
Each row's `group` is the id of the cluster Drain put it in, and its `template` that
cluster's template once every line has been seen (parameters as `<*>`), as Loghub
evaluates parsers.

Tokens: drain3 splits on whitespace only, so a JSON line (zap, pino, structlog,
logstash) would be one token, every line its own cluster, and the run quadratic (hours
for 200k lines). As Loghub's benchmark does per dataset, the lines are pre-tokenised: the
message is split on runs of whitespace and of the JSON / key=value punctuation
`{ } [ ] " , : =`, the tokens are given to Drain joined by single spaces, and a cluster's
template is written back in the original layout: the separators of the cluster's first
line around Drain's template tokens, e.g.
`{"level":"debug","ts":<*>,"caller":"cmd/server/main.go:64","msg":"cache hit",...}`.
`--raw` feeds the raw messages instead (drain3 exactly as is; very slow on JSON lines).

Sample: whole hours from the start of the range (of the split with --split), in order,
as long as the total stays within --max-rows (default 200000; at least one hour;
0 = everything), so the sample is deterministic.

Writes the parse format of schemas/predictions.md: `record_id`, `group` (string),
`template`.

Usage: python3 examples/baselines/parse_drain.py OUT PREDICTIONS.{parquet,csv,jsonl}
       [--split NAME] [--max-rows N]
(needs drain3: pip install drain3)
"""
import argparse
import logging
import os
import re
import sys
import time

import polars as pl

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as c  # noqa: E402

SEP = re.compile(r'([\s{}\[\]",:=]+)')


def render(parts, tokens):
    """The first line's split (token, separator, token, ...) with Drain's template
    tokens in place of its tokens."""
    out, k = [], 0
    for i, p in enumerate(parts):
        if i % 2 == 0 and p:
            out.append(tokens[k] if k < len(tokens) else p)
            k += 1
        else:
            out.append(p)
    return "".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("predictions")
    ap.add_argument("--split")
    ap.add_argument("--max-rows", type=int, default=200_000)
    ap.add_argument("--raw", action="store_true", help="no pre-tokenisation")
    a = ap.parse_args()
    t0 = time.time()
    logging.getLogger("drain3").setLevel(logging.WARNING)
    from drain3 import TemplateMiner
    from drain3.template_miner_config import TemplateMinerConfig

    hour = (pl.col("timestamp").dt.epoch("us") // c.US_PER_H).alias("hour")
    lf = c.scan(a.out, "kubernetes", "pod_logs").select("record_id", "timestamp", "message")
    if a.split:
        lf = lf.with_columns(pl.col("timestamp").dt.epoch("us").alias("_us")).filter(
            c.in_intervals_expr("_us", c.require_split(a.out, a.split))
        ).drop("_us")
    per_hour = lf.group_by(hour).len().sort("hour").collect()
    hours, total = [], 0
    for h, n in per_hour.iter_rows():
        if a.max_rows and hours and total + n > a.max_rows:
            break
        hours.append(h)
        total += n
    df = (
        lf.filter(hour.is_in(hours))
        .select("record_id", "timestamp", "message")
        .collect()
        .sort("timestamp", "record_id")
    )

    cfg = TemplateMinerConfig()  # defaults: drain_depth 4, drain_sim_th 0.4
    cfg.drain_depth = 4
    cfg.drain_sim_th = 0.4
    cfg.profiling_enabled = False
    miner = TemplateMiner(config=cfg)
    ids, first = [], {}
    for m in df["message"].to_list():
        if a.raw:
            cid = miner.add_log_message(m)["cluster_id"]
        else:
            parts = SEP.split(m)
            cid = miner.add_log_message(" ".join(p for p in parts[0::2] if p))["cluster_id"]
            if cid not in first:
                first[cid] = parts
        ids.append(cid)
    templates = {}
    for cl in miner.drain.clusters:
        if a.raw:
            templates[cl.cluster_id] = cl.get_template()
        else:
            templates[cl.cluster_id] = render(first[cl.cluster_id], cl.log_template_tokens)
    pred = pl.DataFrame(
        {
            "record_id": df["record_id"],
            "group": [str(i) for i in ids],
            "template": [templates[i] for i in ids],
        }
    )
    n = c.write_predictions(pred, a.predictions)
    print(
        f"parse_drain: {len(hours)} hours, {n} lines, {len(templates)} clusters; wrote "
        f"{a.predictions} in {time.time() - t0:.1f} s",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
