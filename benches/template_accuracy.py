#!/usr/bin/env python3
"""Log parsing accuracy against obsgen's template ground truth.

Runs the Drain parser (the `drain3` package, default settings: depth 4, similarity 0.4)
over the raw lines of kubernetes/pod_logs and cloudwatch/logs of a generated dataset and
scores it as Loghub-2.0 does, against `template_id` (the groups) and
`labels/templates.parquet` (the template texts):

- GA: share of lines whose predicted group holds exactly the lines of their true group;
- FGA: F1 of the groups that are exactly right (precision over predicted groups, recall
  over true groups);
- PA: share of lines whose predicted template equals the true template text;
- FTA: F1 of the templates whose group is exactly right and whose text is equal.

Usage: python3 benches/template_accuracy.py OUT [--lines N, default 20000]   (needs polars and drain3)
It also prints the vocabulary of the dataset: templates and events per table and layout,
and how long-tailed their frequencies are.
"""
import argparse
import random
import re
from collections import Counter, defaultdict

import polars as pl

try:
    from drain3 import TemplateMiner
    from drain3.template_miner_config import TemplateMinerConfig
except ImportError:  # pragma: no cover
    TemplateMiner = None


def scores(truth, pred_group, pred_text, true_text):
    """GA, FGA, PA, FTA of one parse. truth/pred_group: group key per line."""
    true_groups = defaultdict(set)
    pred_groups = defaultdict(set)
    for i, (t, p) in enumerate(zip(truth, pred_group)):
        true_groups[t].add(i)
        pred_groups[p].add(i)
    correct_lines = 0
    correct_groups = 0
    correct_templates = 0
    for p, lines in pred_groups.items():
        t = truth[next(iter(lines))]
        if true_groups[t] == lines:
            correct_lines += len(lines)
            correct_groups += 1
            if norm(pred_text[p]) == norm(true_text[t]):
                correct_templates += 1
    n = len(truth)
    ga = correct_lines / n
    pga, rga = correct_groups / len(pred_groups), correct_groups / len(true_groups)
    fga = 2 * pga * rga / (pga + rga) if correct_groups else 0.0
    pa = sum(norm(pred_text[p]) == norm(true_text[t]) for t, p in zip(truth, pred_group)) / n
    pta, rta = correct_templates / len(pred_groups), correct_templates / len(true_groups)
    fta = 2 * pta * rta / (pta + rta) if correct_templates else 0.0
    return ga, fga, pa, fta


_WS = re.compile(r"\s+")


def norm(t):
    return _WS.sub(" ", t).strip()


def drain(lines):
    cfg = TemplateMinerConfig()
    cfg.profiling_enabled = False
    miner = TemplateMiner(config=cfg)
    ids = [miner.add_log_message(line)["cluster_id"] for line in lines]
    texts = {c.cluster_id: c.get_template() for c in miner.drain.clusters}
    return ids, texts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--lines", type=int, default=20_000, help="lines per table (sampled; Drain slows down with thousands of groups)")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    tmpl = pl.read_parquet(f"{a.out}/labels/templates.parquet")
    text = {(r["table"], r["template_id"]): r["template"] for r in tmpl.iter_rows(named=True)}
    print(f"labels/templates.parquet: {tmpl.height} templates")
    print(tmpl.group_by("table", "layout").len().sort("table", "layout"))
    for source, table in [("kubernetes", "pod_logs"), ("cloudwatch", "logs")]:
        df = pl.scan_parquet(f"{a.out}/{source}/{table}/**/*.parquet").select(
            "template_id", "message"
        ).collect()
        counts = Counter(df["template_id"].to_list())
        freq = sorted(counts.values(), reverse=True)
        n = sum(freq)
        top = sum(freq[: max(1, len(freq) // 10)]) / n
        rare = sum(c < n * 1e-4 for c in freq)
        events = {i.split("/", 1)[-1] for i in counts} if table == "pod_logs" else set(counts)
        print(
            f"\n{source}/{table}: {n} lines, {len(counts)} templates used ({len(events)} events); "
            f"the top tenth of templates write {top:.1%} of lines; {rare} templates under 1 in 10,000"
        )
        if TemplateMiner is None:
            print("  (pip install drain3 to score Drain)")
            continue
        rows = list(zip(df["template_id"].to_list(), df["message"].to_list()))
        random.Random(a.seed).shuffle(rows)
        rows = rows[: a.lines]
        truth = [r[0] for r in rows]
        ids, texts = drain([r[1] for r in rows])
        true_text = {t: text[(table, t)] for t in set(truth)}
        ga, fga, pa, fta = scores(truth, ids, texts, true_text)
        print(
            f"  Drain on {len(rows)} raw lines: GA {ga:.3f}  FGA {fga:.3f}  PA {pa:.3f}  FTA {fta:.3f} "
            f"({len(texts)} groups for {len(set(truth))} templates)"
        )


if __name__ == "__main__":
    main()
