#!/usr/bin/env python3
"""Generate an obsgen dataset with Spark: one Spark task per part.

Each of the N tasks runs ``obsgen generate --parts N --part K`` into one shared output
location (a path every executor sees: a shared filesystem such as NFS/EFS/Lustre, or a
FUSE-mounted bucket); the driver then runs ``obsgen manifest merge``, which checks that
every partition is there exactly once and writes the incident tables and
``manifest.json``. Finally the dataset is read back with Spark SQL and the row count of
every table is printed (and, with ``--expect-manifest``, compared with another run's
manifest, e.g. a single-machine run).

    spark-submit examples/spark/obsgen_spark.py --obsgen /opt/obsgen/bin/obsgen \
        --output /mnt/shared/obsgen-week --parts 16 -- --start 2026-11-23 --duration-hours 168

Arguments after ``--`` are passed to every ``obsgen generate``. The obsgen binary must be
at the same path on every executor (baked into the image, or shipped with
``--files``/``--archives`` and referenced relatively).
"""

import argparse
import json
import os
import subprocess
import sys

from pyspark.sql import SparkSession

# The source tables and their Parquet directories (OUT/<source>/<table>/date=/hour=/).
TABLES = [
    ("kubernetes", "pod_logs"),
    ("kubernetes", "events"),
    ("kubernetes", "metrics"),
    ("sentry", "errors"),
    ("sentry", "transactions"),
    ("cloudwatch", "metrics"),
    ("cloudwatch", "logs"),
    ("cloudwatch", "alarms"),
    ("cloudwatch", "insights_queries"),
    ("grafana", "panel_series"),
    ("grafana", "annotations"),
]


def run_part(obsgen, output, parts, generate_args):
    """Returns a function a Spark task runs for part K (its partition index + 1)."""

    def task(k):
        cmd = [obsgen, "generate", "--parts", str(parts), "--part", str(k),
               "--output-dir", output, "--overwrite", *generate_args]
        # One part per task: the task's cores are the part's threads.
        env = dict(os.environ)
        done = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if done.returncode != 0:
            raise RuntimeError(f"part {k} failed ({done.returncode}): {done.stderr.strip()}")
        last = done.stdout.strip().splitlines()[-1:] or [""]
        return (k, last[0])

    return task


def main():
    argv = sys.argv[1:]
    passthrough = []
    if "--" in argv:
        i = argv.index("--")
        argv, passthrough = argv[:i], argv[i + 1:]
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--obsgen", required=True, help="path of the obsgen binary on every node")
    p.add_argument("--output", required=True, help="shared output directory")
    p.add_argument("--parts", type=int, required=True, help="number of parts (Spark tasks)")
    p.add_argument("--threads-per-part", type=int, default=1,
                   help="--threads of each obsgen part (match spark.task.cpus)")
    p.add_argument("--expect-manifest",
                   help="a manifest.json whose per-table row counts Spark's must equal")
    p.add_argument("--master", help="Spark master (default: from spark-submit)")
    args = p.parse_args(argv)

    builder = SparkSession.builder.appName("obsgen-generate")
    if args.master:
        builder = builder.master(args.master)
    spark = builder.getOrCreate()
    sc = spark.sparkContext
    output = os.path.abspath(args.output)
    generate_args = ["--threads", str(args.threads_per_part), *passthrough]

    # 1. The N parts, one Spark task each.
    ks = sc.parallelize(range(1, args.parts + 1), args.parts)
    results = ks.map(run_part(args.obsgen, output, args.parts, generate_args)).collect()
    for k, line in sorted(results):
        print(f"part {k}/{args.parts}: {line}")

    # 2. Merge: checks every partition is there once, writes incident tables + manifest.
    merged = subprocess.run([args.obsgen, "manifest", "merge", output],
                            capture_output=True, text=True)
    print(merged.stdout.strip().splitlines()[-1] if merged.stdout.strip() else "")
    if merged.returncode != 0:
        print(merged.stderr, file=sys.stderr)
        sys.exit(1)

    # 3. Read the dataset back with Spark SQL.
    counts = {}
    for source, table in TABLES:
        path = os.path.join(output, source, table)
        if not os.path.isdir(path):
            continue
        name = f"{source}_{table}"
        spark.read.parquet(path).createOrReplaceTempView(name)
        counts[f"{source}/{table}"] = spark.sql(f"SELECT COUNT(*) AS n FROM {name}").first()["n"]
    labels = os.path.join(output, "labels", "incidents.parquet")
    spark.read.parquet(labels).createOrReplaceTempView("incidents")
    incidents = spark.sql("SELECT COUNT(*) AS n FROM incidents").first()["n"]
    # A join across the split: every source record has its labels row.
    # labels/records/<source>/<table>/date=/hour=/: the rows carry source and table.
    spark.read.option("recursiveFileLookup", "true").parquet(
        os.path.join(output, "labels", "records")).createOrReplaceTempView("labels")
    labelled = spark.sql(
        "SELECT l.source, COUNT(*) AS n FROM labels l WHERE l.is_anomaly GROUP BY l.source ORDER BY l.source"
    ).collect()

    print(f"{'table':<32} {'rows (Spark)':>14}")
    for t, n in counts.items():
        print(f"{t:<32} {n:>14}")
    print(f"{'labels/incidents':<32} {incidents:>14}")
    for r in labelled:
        print(f"anomalous records in {r['source']:<12} {r['n']:>14}")

    status = 0
    if args.expect_manifest:
        with open(args.expect_manifest) as f:
            expected = json.load(f)
        want = {}
        for t in expected["tables"]:
            if t.get("format", "parquet") == "parquet" and (t["source"], t["table"]) in TABLES:
                want[f"{t['source']}/{t['table']}"] = t["rows"]
        for t in sorted(set(want) | set(counts)):
            if want.get(t) != counts.get(t):
                print(f"MISMATCH {t}: Spark read {counts.get(t)}, expected {want.get(t)}",
                      file=sys.stderr)
                status = 1
        if status == 0:
            print(f"row counts of {len(counts)} tables equal {args.expect_manifest}")
    spark.stop()
    sys.exit(status)


if __name__ == "__main__":
    main()
