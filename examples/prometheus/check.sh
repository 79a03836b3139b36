#!/usr/bin/env bash
# CI check of `obsgen export openmetrics`: a few hours of the kubernetes and grafana
# sources, their container metrics exported as OpenMetrics and backfilled with `promtool
# tsdb create-blocks-from openmetrics`, a Prometheus server started on the loopback
# address over that TSDB, and every Prometheus panel's PromQL of grafana/panel_series run
# through the HTTP API and compared, point by point, with the panel (compare.py). The
# server is stopped at the end. Needs `prometheus` and `promtool` on the PATH (Debian's
# `prometheus` package) and polars. Usage: check.sh [OBSGEN_BINARY]
set -euo pipefail
cd "$(dirname "$0")/../.."
OBSGEN="$(realpath "${1:-target/release/obsgen}")"
PORT="${PROMETHEUS_PORT:-19090}"
WORK="$(mktemp -d)"
PROM_PID=""
cleanup() {
    if [ -n "$PROM_PID" ]; then
        kill "$PROM_PID" 2>/dev/null || true
        wait "$PROM_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
"$OBSGEN" generate --start "${START:-2026-11-23T10:00:00Z}" --duration-hours "${HOURS:-4}" \
    --sources kubernetes,grafana -q --output-dir "$WORK/data"
"$OBSGEN" export openmetrics "$WORK/data" -o "$WORK/metrics.om"
promtool tsdb create-blocks-from openmetrics "$WORK/metrics.om" "$WORK/tsdb" > "$WORK/promtool.log"
printf 'global:\n  scrape_interval: 1h\nscrape_configs: []\n' > "$WORK/prometheus.yml"
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
    --storage.tsdb.retention.time=36500d --web.listen-address="127.0.0.1:$PORT" \
    > "$WORK/prometheus.log" 2>&1 &
PROM_PID=$!
for _ in $(seq 1 120); do
    if curl -sf "http://127.0.0.1:$PORT/-/ready" > /dev/null; then
        break
    fi
    if ! kill -0 "$PROM_PID" 2>/dev/null; then
        cat "$WORK/prometheus.log"
        exit 1
    fi
    sleep 0.5
done
python3 examples/prometheus/compare.py "$WORK/data" "http://127.0.0.1:$PORT"
echo "prometheus example: every Prometheus panel point equals Prometheus's answer"
