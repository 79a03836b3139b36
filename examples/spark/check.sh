#!/usr/bin/env bash
# CI check of the Spark example: a single-machine run, then the same run as 4 Spark tasks
# in local mode (pyspark from PyPI; Java 17+ must be on the machine), and Spark's row
# counts per table must equal the single-machine run's. Usage: check.sh [OBSGEN_BINARY]
set -euo pipefail
cd "$(dirname "$0")/../.."
OBSGEN="${1:-target/release/obsgen}"
OBSGEN="$(realpath "$OBSGEN")"
PYSPARK_VERSION="${PYSPARK_VERSION:-4.0.1}"
python3 -c "import pyspark" 2>/dev/null || pip install --quiet "pyspark==${PYSPARK_VERSION}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
ARGS=(--start 2026-11-23 --duration-hours 4)
"$OBSGEN" generate "${ARGS[@]}" --output-dir "$WORK/single" > /dev/null
PYSPARK_PYTHON=python3 python3 examples/spark/obsgen_spark.py \
    --master 'local[4]' --obsgen "$OBSGEN" --output "$WORK/spark" --parts 4 \
    --expect-manifest "$WORK/single/manifest.json" -- "${ARGS[@]}"
# The merged dataset is the single-machine one, byte for byte.
cmp "$WORK/single/manifest.json" "$WORK/spark/manifest.json"
echo "spark example: 4 parts in Spark local mode equal the single-machine run"
