//! End-to-end checks of the Grafana source on three simulated hours (Monday
//! 2026-11-23 08:00-11:00 UTC, the embedded configuration). All four sources are
//! generated once per test process by a `OnceLock` fixture, so that every Grafana value can
//! be compared with the table it shows; a second run of the same window with
//! `--sources grafana --threads 2` checks determinism and independence from the other
//! sources, and a run of the last hour alone checks that a partition does not depend on
//! the run's length.
//!
//! The rules checked are the documented semantics of schemas/grafana/*.yaml:
//! - a Prometheus `instant` point at step t for a pod is the `kubernetes/metrics` column
//!   named by the panel's metric, for that pod, at its latest scrape at or before t if
//!   that scrape is less than 5 minutes old (Prometheus's lookback), and there is no point
//!   otherwise;
//! - a Prometheus `rate` point at t over a window w is the increase between the pod's first
//!   and last scrapes in (t - w, t] (a decrease is a counter reset: the increase across it
//!   is the new value), divided by the seconds between those two scrapes; it needs two
//!   scrapes;
//! - a CloudWatch point is the `cloudwatch/metrics` row with the same namespace, metric,
//!   dimensions, statistic, period and period start. A panel plots each resource at the
//!   series' own statistic and native period, i.e. the row of `cloudwatch/metrics` that
//!   exists for the metric at its smallest period, not the extra (statistic, period)
//!   variants written for the alarms;
//! - a deploy annotation is a rollout seen by Kubernetes (ReplicaSet scaled up, pods
//!   created, pods running the image tag `v<version>`), an alert annotation is a
//!   `cloudwatch/alarms` state change.
//!
//! Points whose lookback or rate window reaches before the fixture's start cannot be
//! recomputed from the fixture and are skipped (counted, and bounded).

// Rows are read column-wise: indexing parallel columns by row is the clear way here.
#![allow(clippy::needless_range_loop)]

mod common;

use common::list_files;

use arrow::array::{Array, AsArray, ListArray, StringArray, StructArray};
use arrow::datatypes::{
    DataType, Float64Type, Int32Type, Int64Type, SchemaRef, TimestampMicrosecondType,
};
use arrow::record_batch::RecordBatch;
use assert_cmd::Command;
use chrono::NaiveDate;
use obsgen::config::{Config, Datasource, PanelDef, PromFunction};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const START: &str = "2026-11-23T08:00:00Z";
const HOURS: i64 = 3;
const SECOND: i64 = 1_000_000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;
/// Prometheus's lookback for instant queries.
const LOOKBACK: i64 = 5 * MINUTE;
const GRAFANA_TABLES: [&str; 2] = ["annotations", "panel_series"];
/// Product target: about 220K grafana rows per simulated day, nearly all panel points.
const ROWS_PER_DAY: f64 = 220_000.0;

fn start_us() -> i64 {
    chrono::DateTime::parse_from_rfc3339(START)
        .expect("START")
        .timestamp_micros()
}

fn end_us() -> i64 {
    start_us() + HOURS * HOUR
}

// ---------------------------------------------------------------------------------------
// Fixture
// ---------------------------------------------------------------------------------------

struct Part {
    rel: String,
    source: String,
    table: String,
    hour_start: i64,
    schema: SchemaRef,
    batch: RecordBatch,
}

struct Dataset {
    root: PathBuf,
    files: Vec<Part>,
    config: Config,
}

impl Dataset {
    fn table<'a>(&'a self, source: &'a str, table: &'a str) -> impl Iterator<Item = &'a Part> {
        self.files
            .iter()
            .filter(move |p| p.source == source && p.table == table)
    }
}

fn run_generate(name: &str, start: &str, hours: i64, sources: &str, threads: u32) -> PathBuf {
    run_generate_with(name, start, hours, sources, threads, &[])
}

fn run_generate_with(
    name: &str,
    start: &str,
    hours: i64,
    sources: &str,
    threads: u32,
    extra: &[&str],
) -> PathBuf {
    let out = common::fixture_root("obsgen-grafana-").join(name);
    let output = Command::cargo_bin("obsgen")
        .expect("the obsgen binary")
        .args([
            "generate",
            "--overwrite",
            "--start",
            start,
            "--duration-hours",
        ])
        .arg(hours.to_string())
        .args(["--sources", sources])
        .args(["--threads", &threads.to_string()])
        .args(extra)
        .arg("-o")
        .arg(&out)
        .output()
        .expect("run obsgen");
    assert!(
        output.status.success(),
        "obsgen generate ({name}) failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    out
}

/// The tables the checks read (pod_logs and Sentry are generated but not loaded).
const LOADED: [&str; 6] = [
    "grafana/annotations",
    "grafana/panel_series",
    "kubernetes/metrics",
    "kubernetes/events",
    "cloudwatch/metrics",
    "cloudwatch/alarms",
];

/// All sources, one thread, embedded configuration.
fn dataset() -> &'static Dataset {
    static DATA: OnceLock<Dataset> = OnceLock::new();
    DATA.get_or_init(|| {
        let config = Config::defaults().expect("the embedded configuration is valid");
        let root = run_generate(
            "main",
            START,
            HOURS,
            "kubernetes,sentry,cloudwatch,grafana",
            1,
        );
        let mut files = Vec::new();
        for rel in list_files(&root) {
            // Partitions only (not the manifest or other side files).
            let parts: Vec<&str> = rel.split('/').collect();
            if parts.len() != 5 || !rel.ends_with(".parquet") {
                continue;
            }
            if !LOADED.contains(&format!("{}/{}", parts[0], parts[1]).as_str()) {
                continue;
            }
            let date = parts[2].strip_prefix("date=").expect("date=");
            let hour: u32 = parts[3]
                .strip_prefix("hour=")
                .and_then(|h| h.parse().ok())
                .expect("hour=HH");
            let hour_start = NaiveDate::parse_from_str(date, "%Y-%m-%d")
                .expect("date")
                .and_hms_opt(hour, 0, 0)
                .expect("hour")
                .and_utc()
                .timestamp_micros();
            let batch = common::read_parquet(&root.join(&rel));
            let schema = batch.schema();
            files.push(Part {
                source: parts[0].to_string(),
                table: parts[1].to_string(),
                rel,
                hour_start,
                schema,
                batch,
            });
        }
        Dataset {
            root,
            files,
            config,
        }
    })
}

// ---------------------------------------------------------------------------------------
// Column access
// ---------------------------------------------------------------------------------------

fn strings<'a>(b: &'a RecordBatch, name: &str) -> &'a StringArray {
    b.column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .as_string::<i32>()
}

fn times<'a>(b: &'a RecordBatch, name: &str) -> &'a [i64] {
    b.column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .as_primitive::<TimestampMicrosecondType>()
        .values()
}

fn floats<'a>(b: &'a RecordBatch, name: &str) -> &'a [f64] {
    b.column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .as_primitive::<Float64Type>()
        .values()
}

fn opt_str(a: &StringArray, i: usize) -> Option<String> {
    a.is_valid(i).then(|| a.value(i).to_string())
}

/// A numeric or boolean column as f64 (the way Prometheus sees every series).
fn numbers(b: &RecordBatch, name: &str) -> Vec<f64> {
    let col = b
        .column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"));
    match col.data_type() {
        DataType::Float64 => col.as_primitive::<Float64Type>().values().to_vec(),
        DataType::Int64 => col
            .as_primitive::<Int64Type>()
            .values()
            .iter()
            .map(|&v| v as f64)
            .collect(),
        DataType::Boolean => col
            .as_boolean()
            .iter()
            .map(|v| f64::from(u8::from(v.expect("non-null"))))
            .collect(),
        t => panic!("column {name} has type {t}"),
    }
}

/// `name=value,...` of a `List<Struct{name, value}>` column at row `i`.
fn pairs_key(b: &RecordBatch, column: &str, i: usize) -> String {
    pairs(b, column, i)
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn pairs(b: &RecordBatch, column: &str, i: usize) -> Vec<(String, String)> {
    let list: &ListArray = b
        .column_by_name(column)
        .unwrap_or_else(|| panic!("no column {column}"))
        .as_list::<i32>();
    let items = list.value(i);
    let st: &StructArray = items.as_struct();
    let names = st.column(0).as_string::<i32>();
    let values = st.column(1).as_string::<i32>();
    (0..st.len())
        .map(|k| (names.value(k).to_string(), values.value(k).to_string()))
        .collect()
}

fn string_list(b: &RecordBatch, column: &str, i: usize) -> Vec<String> {
    let list: &ListArray = b
        .column_by_name(column)
        .unwrap_or_else(|| panic!("no column {column}"))
        .as_list::<i32>();
    let items = list.value(i);
    let s = items.as_string::<i32>();
    (0..s.len()).map(|k| s.value(k).to_string()).collect()
}

/// The ground-truth label columns of a row: (incident_id, anomaly_role, phase).
type Truth = (Option<String>, String, String);

fn truth(b: &RecordBatch, i: usize) -> Truth {
    (
        opt_str(strings(b, "incident_id"), i),
        strings(b, "anomaly_role").value(i).to_string(),
        strings(b, "phase").value(i).to_string(),
    )
}

fn normal() -> Truth {
    (None, "none".to_string(), "none".to_string())
}

// ---------------------------------------------------------------------------------------
// Rows of the tables, as plain structs
// ---------------------------------------------------------------------------------------

/// The value of every panel point of the counterfactual twin of the main dataset
/// (`--incidents off`), by record id.
/// The counterfactual twin of the fixture window (`--incidents off`, Grafana only).
fn twin_root() -> &'static PathBuf {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        run_generate_with("twin", START, HOURS, "grafana", 1, &["--incidents", "off"])
    })
}

/// The twin's annotations: record id → (time, text).
fn twin_annotations() -> &'static HashMap<String, (i64, String)> {
    static DATA: OnceLock<HashMap<String, (i64, String)>> = OnceLock::new();
    DATA.get_or_init(|| {
        let root = twin_root();
        let mut out = HashMap::new();
        for rel in list_files(root) {
            if rel.starts_with("grafana/annotations/") && rel.ends_with(".parquet") {
                let b = common::read_parquet(&root.join(&rel));
                let (ids, ts, text) = (
                    strings(&b, "record_id"),
                    times(&b, "timestamp"),
                    strings(&b, "text"),
                );
                for i in 0..b.num_rows() {
                    out.insert(ids.value(i).to_string(), (ts[i], text.value(i).to_string()));
                }
            }
        }
        out
    })
}

fn twin_values() -> &'static HashMap<String, f64> {
    static DATA: OnceLock<HashMap<String, f64>> = OnceLock::new();
    DATA.get_or_init(|| {
        let root = twin_root();
        let mut out = HashMap::new();
        for rel in list_files(root) {
            if rel.starts_with("grafana/panel_series/") && rel.ends_with(".parquet") {
                let b = common::read_parquet(&root.join(&rel));
                let (ids, values) = (strings(&b, "record_id"), floats(&b, "value"));
                for (i, v) in values.iter().enumerate() {
                    out.insert(ids.value(i).to_string(), *v);
                }
            }
        }
        out
    })
}

/// The label a Prometheus point carries: the label `shown` of the scrape(s) it shows, where
/// its value differs from the twin's point (a point the twin lacks differs); else normal.
fn expected_truth(pt: &Point, shown: Truth) -> Truth {
    match twin_values().get(&pt.record_id) {
        Some(&v) if v == pt.value => normal(),
        _ => shown,
    }
}

/// One point of grafana/panel_series.
struct Point {
    record_id: String,
    rel: String,
    row: usize,
    ts: i64,
    service: String,
    uid: String,
    panel_id: i32,
    datasource: String,
    query: String,
    series_name: String,
    labels: Vec<(String, String)>,
    labels_key: String,
    value: f64,
    unit: String,
    truth: Truth,
}

impl Point {
    fn label(&self, name: &str) -> &str {
        self.labels
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("{} row {}: no label {name}", self.rel, self.row))
    }
    fn at(&self) -> String {
        format!(
            "{} row {} ({}/{} {} at {})",
            self.rel, self.row, self.uid, self.panel_id, self.series_name, self.ts
        )
    }
}

fn points(d: &Dataset) -> Vec<Point> {
    let mut out = Vec::new();
    for p in d.table("grafana", "panel_series") {
        let b = &p.batch;
        let ts = times(b, "timestamp");
        let value = floats(b, "value");
        let panel_id = b
            .column_by_name("panel_id")
            .expect("panel_id")
            .as_primitive::<Int32Type>()
            .values();
        for i in 0..b.num_rows() {
            out.push(Point {
                record_id: strings(b, "record_id").value(i).to_string(),
                rel: p.rel.clone(),
                row: i,
                ts: ts[i],
                service: strings(b, "service").value(i).to_string(),
                uid: strings(b, "dashboard_uid").value(i).to_string(),
                panel_id: panel_id[i],
                datasource: strings(b, "datasource").value(i).to_string(),
                query: strings(b, "query").value(i).to_string(),
                series_name: strings(b, "series_name").value(i).to_string(),
                labels: pairs(b, "series_labels", i),
                labels_key: pairs_key(b, "series_labels", i),
                value: value[i],
                unit: strings(b, "unit").value(i).to_string(),
                truth: truth(b, i),
            });
        }
    }
    out
}

/// The panel definition of a point, from the configuration.
fn panel_def<'a>(d: &'a Dataset, uid: &str, id: i32) -> &'a PanelDef {
    d.config
        .services
        .dashboards
        .iter()
        .find(|x| x.uid.value == uid)
        .and_then(|x| x.panels.iter().find(|p| p.id as i32 == id))
        .unwrap_or_else(|| panic!("no panel {uid}/{id} in the configuration"))
}

/// The kubernetes/metrics column a Prometheus metric name reads.
fn metric_column(metric: &str) -> &str {
    match metric {
        "kube_pod_container_status_ready" => "ready",
        m => m,
    }
}

/// One kubernetes/metrics row.
struct Scrape {
    ts: i64,
    namespace: String,
    service: String,
    image_tag: String,
    values: HashMap<String, f64>,
    truth: Truth,
}

/// kubernetes/metrics rows per pod, by time.
fn scrapes(d: &Dataset) -> HashMap<String, Vec<Scrape>> {
    let metrics: BTreeSet<&str> = obsgen::config::PROMETHEUS_METRICS
        .iter()
        .map(|m| metric_column(m))
        .collect();
    let mut out: HashMap<String, Vec<Scrape>> = HashMap::new();
    for p in d.table("kubernetes", "metrics") {
        let b = &p.batch;
        let ts = times(b, "timestamp");
        let cols: Vec<(&str, Vec<f64>)> = metrics.iter().map(|m| (*m, numbers(b, m))).collect();
        let (pod, ns, svc, image) = (
            strings(b, "pod"),
            strings(b, "namespace"),
            strings(b, "service"),
            strings(b, "image"),
        );
        for i in 0..b.num_rows() {
            out.entry(pod.value(i).to_string())
                .or_default()
                .push(Scrape {
                    ts: ts[i],
                    namespace: ns.value(i).to_string(),
                    service: svc.value(i).to_string(),
                    image_tag: image
                        .value(i)
                        .rsplit_once(':')
                        .map(|x| x.1.to_string())
                        .unwrap_or_default(),
                    values: cols.iter().map(|(m, v)| (m.to_string(), v[i])).collect(),
                    truth: truth(b, i),
                });
        }
    }
    for v in out.values_mut() {
        v.sort_by_key(|s| s.ts);
    }
    out
}

/// The scrapes of a pod in `(from, to]`.
fn window(rows: &[Scrape], from: i64, to: i64) -> &[Scrape] {
    let lo = rows.partition_point(|s| s.ts <= from);
    let hi = rows.partition_point(|s| s.ts <= to);
    &rows[lo..hi]
}

/// Prometheus's `rate()` at `t` over `(t - window, t]`: the increase with counter resets,
/// extrapolated to the window's edges as Prometheus does; `None` under two samples.
fn prom_rate(t: i64, window: i64, samples: &[(i64, f64)]) -> Option<f64> {
    // promql/functions.go, extrapolatedRate(isCounter, isRate), on the same samples.
    if samples.len() < 2 {
        return None;
    }
    let (first, last) = (samples[0], samples[samples.len() - 1]);
    let mut result = last.1 - first.1;
    let mut last_value = 0.0;
    for s in samples {
        if s.1 < last_value {
            result += last_value;
        }
        last_value = s.1;
    }
    let secs = |us: i64| us as f64 / SECOND as f64;
    let range_start = t - window;
    let mut duration_to_start = secs(first.0 - range_start);
    let duration_to_end = secs(t - last.0);
    let sampled = secs(last.0 - first.0);
    if sampled <= 0.0 {
        return None;
    }
    let average = sampled / (samples.len() - 1) as f64;
    if result > 0.0 && first.1 >= 0.0 {
        let duration_to_zero = sampled * (first.1 / result);
        if duration_to_zero < duration_to_start {
            duration_to_start = duration_to_zero;
        }
    }
    let threshold = average * 1.1;
    let mut interval = sampled;
    interval += if duration_to_start < threshold {
        duration_to_start
    } else {
        average / 2.0
    };
    interval += if duration_to_end < threshold {
        duration_to_end
    } else {
        average / 2.0
    };
    Some(result * (interval / sampled) / secs(window))
}

/// The refresh steps of the window (every `refresh_seconds` from the start).
fn steps(d: &Dataset) -> Vec<i64> {
    let step = d.config.generation.sources.grafana.refresh_seconds as i64 * SECOND;
    (0..)
        .map(|k| start_us() + k * step)
        .take_while(|&t| t < end_us())
        .collect()
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

#[test]
fn files_and_schemas_match_the_registry() {
    let d = dataset();
    let registry = obsgen::sources::registry();
    let mut seen: BTreeSet<(String, i64)> = BTreeSet::new();
    for p in d.files.iter().filter(|p| p.source == "grafana") {
        let t = registry
            .iter()
            .find(|t| t.source().as_str() == "grafana" && t.name() == p.table)
            .unwrap_or_else(|| panic!("{}: no such table in the registry", p.rel));
        let want = t.schema();
        assert_eq!(p.schema.fields(), want.fields(), "{}: file schema", p.rel);
        assert_eq!(p.batch.schema().fields(), want.fields(), "{}", p.rel);
        assert!(
            seen.insert((p.table.clone(), p.hour_start)),
            "{}: two files for one partition",
            p.rel
        );
    }
    for t in GRAFANA_TABLES {
        for h in 0..HOURS {
            assert!(
                seen.contains(&(t.to_string(), start_us() + h * HOUR)),
                "no grafana/{t} partition for hour {h}"
            );
        }
    }
    assert_eq!(seen.len(), GRAFANA_TABLES.len() * HOURS as usize);
}

#[test]
fn timestamps_are_inside_their_hour_sorted_and_ids_unique() {
    let d = dataset();
    let mut ids: HashSet<String> = HashSet::new();
    let mut annotation_ids: HashSet<i64> = HashSet::new();
    for p in d.files.iter().filter(|p| p.source == "grafana") {
        let b = &p.batch;
        let ts = times(b, "timestamp");
        for (i, t) in ts.iter().enumerate() {
            assert!(
                *t >= p.hour_start && *t < p.hour_start + HOUR,
                "{} row {i}: timestamp {t} outside its hour",
                p.rel
            );
        }
        assert!(
            ts.windows(2).all(|w| w[0] <= w[1]),
            "{}: rows not sorted by timestamp",
            p.rel
        );
        let code = if p.table == "panel_series" {
            "gps"
        } else {
            "gan"
        };
        let tag = chrono::DateTime::from_timestamp_micros(p.hour_start)
            .expect("hour")
            .format("%Y%m%d%H")
            .to_string();
        for (i, id) in strings(b, "record_id").iter().enumerate() {
            let id = id.expect("record_id is not null");
            let key = id
                .strip_prefix(&format!("{code}-{tag}-"))
                .unwrap_or_else(|| panic!("{}: record_id {id} is not {code}-{tag}-…", p.rel));
            assert!(
                key.len() == 16 && key.bytes().all(|b| b.is_ascii_hexdigit()),
                "{} row {i}: record_id {id} does not end in 16 hex digits",
                p.rel
            );
            assert!(ids.insert(id.to_string()), "duplicate record_id {id}");
        }
        if p.table == "annotations" {
            let end = times(b, "time_end");
            let aid = b
                .column_by_name("annotation_id")
                .expect("annotation_id")
                .as_primitive::<Int64Type>()
                .values();
            for i in 0..b.num_rows() {
                assert!(
                    end[i] >= ts[i],
                    "{} row {i}: time_end before timestamp",
                    p.rel
                );
                assert!(
                    aid[i] > 0 && aid[i] < 1 << 53,
                    "{} row {i}: annotation_id {} is not a positive JSON-safe integer",
                    p.rel,
                    aid[i]
                );
                assert!(
                    annotation_ids.insert(aid[i]),
                    "{} row {i}: duplicate annotation_id {}",
                    p.rel,
                    aid[i]
                );
            }
        }
    }
    assert!(ids.len() > 1000);
}

#[test]
fn volumes_are_in_range() {
    // Panel points are one per series per refresh, and the series are the pods and AWS
    // resources, whose number does not follow traffic (the world has fixed replica counts;
    // only the ALB 5XX series skip minutes without such responses). So the hourly count
    // is checked against the flat product target, 220K rows per day / 24, +-40%.
    let d = dataset();
    let target = ROWS_PER_DAY / 24.0;
    for p in d.table("grafana", "panel_series") {
        let n = p.batch.num_rows() as f64;
        assert!(
            n >= 0.6 * target && n <= 1.4 * target,
            "{}: {n} panel points, expected {target:.0} +-40%",
            p.rel
        );
    }
    // Every panel of the configuration has points at every refresh step.
    let pts = points(d);
    let mut per_step: BTreeMap<(String, i32), BTreeSet<i64>> = BTreeMap::new();
    for p in &pts {
        per_step
            .entry((p.uid.clone(), p.panel_id))
            .or_default()
            .insert(p.ts);
    }
    let all_steps: BTreeSet<i64> = steps(d).into_iter().collect();
    for dash in &d.config.services.dashboards {
        for panel in &dash.panels {
            let key = (dash.uid.value.clone(), panel.id as i32);
            let got = per_step
                .get(&key)
                .unwrap_or_else(|| panic!("panel {key:?} has no point"));
            // The ALB 5XX counts only exist in minutes with such a response.
            if panel.metric.value.contains("5XX") {
                continue;
            }
            match panel.datasource {
                Datasource::Prometheus => {
                    let missing: Vec<&i64> =
                        all_steps.iter().filter(|t| !got.contains(t)).collect();
                    assert!(missing.is_empty(), "panel {key:?}: no point at {missing:?}");
                }
                // Period starts only: a 5-minute series has a point every 5 minutes.
                Datasource::Cloudwatch => assert!(
                    got.len() * 5 >= all_steps.len(),
                    "panel {key:?}: points at {} steps only",
                    got.len()
                ),
            }
        }
    }
    // Annotations: a few per hour (deploys, alarm changes, notes).
    let annotations: usize = d
        .table("grafana", "annotations")
        .map(|p| p.batch.num_rows())
        .sum();
    assert!(
        (HOURS as usize..=60 * HOURS as usize).contains(&annotations),
        "{annotations} annotations in {HOURS} h"
    );
}

#[test]
fn prometheus_instant_points_equal_kubernetes_metrics() {
    let d = dataset();
    let k8s = scrapes(d);
    let pts = points(d);
    let (mut checked, mut skipped) = (0usize, 0usize);
    let mut seen: HashSet<(String, i32, String, i64)> = HashSet::new();
    let mut instant_panels: Vec<(String, &PanelDef)> = Vec::new();
    for dash in &d.config.services.dashboards {
        for p in &dash.panels {
            if p.datasource == Datasource::Prometheus && p.function == PromFunction::Instant {
                instant_panels.push((dash.uid.value.clone(), p));
            }
        }
    }
    assert!(!instant_panels.is_empty());
    for pt in pts.iter().filter(|p| p.datasource == "prometheus") {
        let def = panel_def(d, &pt.uid, pt.panel_id);
        if def.function != PromFunction::Instant {
            continue;
        }
        let metric = def.metric.value.as_str();
        let sel = match &def.namespace {
            Some(ns) => format!("{{namespace=\"{ns}\", container!=\"\"}}"),
            None => "{container!=\"\"}".to_string(),
        };
        assert_eq!(pt.query, format!("{metric}{sel}"), "{}: query", pt.at());
        assert_eq!(pt.unit, def.unit, "{}: unit", pt.at());
        let pod = pt.label("pod").to_string();
        assert_eq!(pt.series_name, pod, "{}", pt.at());
        assert!(
            seen.insert((pt.uid.clone(), pt.panel_id, pod.clone(), pt.ts)),
            "{}: two points of one pod at one step",
            pt.at()
        );
        let rows = k8s.get(&pod).map(Vec::as_slice).unwrap_or(&[]);
        let last = window(rows, pt.ts - LOOKBACK, pt.ts).last();
        let Some(s) = last else {
            assert!(
                pt.ts - LOOKBACK < start_us(),
                "{}: no scrape of {pod} within 5 minutes before the point",
                pt.at()
            );
            skipped += 1;
            continue;
        };
        assert_eq!(
            pt.value,
            s.values[metric_column(metric)],
            "{}: {metric} of {pod} at the scrape {}",
            pt.at(),
            s.ts
        );
        assert_eq!(pt.label("namespace"), s.namespace, "{}", pt.at());
        assert_eq!(pt.label("container"), s.service, "{}", pt.at());
        assert_eq!(pt.service, s.service, "{}", pt.at());
        if let Some(ns) = &def.namespace {
            assert_eq!(
                &s.namespace,
                ns,
                "{}: outside the panel's namespace",
                pt.at()
            );
        }
        // The incident and role of the scrape shown where the twin shows another value;
        // the phase is the one of the point's own time (held by `obsgen validate`'s
        // phase_of_timestamp).
        let want = expected_truth(pt, s.truth.clone());
        assert_eq!(
            (&pt.truth.0, &pt.truth.1),
            (&want.0, &want.1),
            "{}: label of the scrape shown",
            pt.at()
        );
        checked += 1;
    }
    // Completeness: every pod with a scrape in the lookback has its point.
    let mut expected = 0usize;
    for (uid, def) in &instant_panels {
        for t in steps(d) {
            if t - LOOKBACK < start_us() {
                continue;
            }
            for (pod, rows) in &k8s {
                let Some(s) = window(rows, t - LOOKBACK, t).last() else {
                    continue;
                };
                if def.namespace.as_ref().is_some_and(|ns| *ns != s.namespace) {
                    continue;
                }
                expected += 1;
                assert!(
                    seen.contains(&(uid.clone(), def.id as i32, pod.clone(), t)),
                    "{uid}/{}: no point for {pod} at {t} (scraped at {})",
                    def.id,
                    s.ts
                );
            }
        }
    }
    assert!(expected > 1000 && checked >= expected);
    assert!(
        skipped * 50 < checked,
        "{skipped} instant points skipped, {checked} checked"
    );
    let anomalous = pts
        .iter()
        .filter(|p| p.datasource == "prometheus" && p.truth != normal())
        .count();
    // The window has incidents on containers: the label check is not vacuous.
    assert!(
        anomalous > 0,
        "no Prometheus point is labelled with an incident"
    );
    println!("instant points: {checked} checked, {skipped} skipped; {anomalous} labelled");
}

#[test]
fn prometheus_rate_points_are_recomputed_from_kubernetes_metrics() {
    let d = dataset();
    let k8s = scrapes(d);
    let pts = points(d);
    let (mut checked, mut skipped, mut with_reset) = (0usize, 0usize, 0usize);
    let mut seen: HashSet<(String, i32, String, i64)> = HashSet::new();
    for pt in pts.iter().filter(|p| p.datasource == "prometheus") {
        let def = panel_def(d, &pt.uid, pt.panel_id);
        if def.function != PromFunction::Rate {
            continue;
        }
        let metric = def.metric.value.as_str();
        let w = def.window_seconds as i64 * SECOND;
        let sel = match &def.namespace {
            Some(ns) => format!("{{namespace=\"{ns}\", container!=\"\"}}"),
            None => "{container!=\"\"}".to_string(),
        };
        assert_eq!(
            pt.query,
            format!("rate({metric}{sel}[{}s])", def.window_seconds),
            "{}: query",
            pt.at()
        );
        let pod = pt.label("pod").to_string();
        seen.insert((pt.uid.clone(), pt.panel_id, pod.clone(), pt.ts));
        if pt.ts - w < start_us() {
            skipped += 1;
            continue;
        }
        let rows = window(
            k8s.get(&pod).map(Vec::as_slice).unwrap_or(&[]),
            pt.ts - w,
            pt.ts,
        );
        let samples: Vec<(i64, f64)> = rows
            .iter()
            .map(|s| (s.ts, s.values[metric_column(metric)]))
            .collect();
        let want = prom_rate(pt.ts, w, &samples).unwrap_or_else(|| {
            panic!(
                "{}: a rate point, but {} scrape(s) of {pod} in its window",
                pt.at(),
                samples.len()
            )
        });
        assert!(
            (pt.value - want).abs() <= 1e-9 * want.abs().max(pt.value.abs()) + 1e-12,
            "{}: rate {} but the scrapes give {want} ({samples:?})",
            pt.at(),
            pt.value
        );
        assert!(pt.value >= 0.0, "{}: negative rate", pt.at());
        with_reset += samples.windows(2).any(|x| x[1].1 < x[0].1) as usize;
        // The label of the latest anomalous scrape of the window where the twin shows
        // another rate, else normal.
        let want_truth = expected_truth(
            pt,
            rows.iter()
                .rev()
                .find(|s| s.truth.1 != "none")
                .map_or_else(normal, |s| s.truth.clone()),
        );
        assert_eq!(
            (&pt.truth.0, &pt.truth.1),
            (&want_truth.0, &want_truth.1),
            "{}: label",
            pt.at()
        );
        if let Some(ns) = &def.namespace {
            assert_eq!(pt.label("namespace"), ns, "{}", pt.at());
        }
        checked += 1;
    }
    // Completeness: a point wherever two scrapes of a pod fall in the window.
    let mut expected = 0usize;
    for dash in &d.config.services.dashboards {
        for def in dash
            .panels
            .iter()
            .filter(|p| p.datasource == Datasource::Prometheus && p.function == PromFunction::Rate)
        {
            let w = def.window_seconds as i64 * SECOND;
            let col = metric_column(&def.metric.value);
            for t in steps(d).into_iter().filter(|t| t - w >= start_us()) {
                for (pod, rows) in &k8s {
                    let rows = window(rows, t - w, t);
                    if def
                        .namespace
                        .as_ref()
                        .is_some_and(|ns| rows.first().is_some_and(|s| s.namespace != *ns))
                    {
                        continue;
                    }
                    let samples: Vec<(i64, f64)> =
                        rows.iter().map(|s| (s.ts, s.values[col])).collect();
                    if prom_rate(t, w, &samples).is_none() {
                        continue;
                    }
                    expected += 1;
                    assert!(
                        seen.contains(&(dash.uid.value.clone(), def.id as i32, pod.clone(), t)),
                        "{}/{}: no rate point for {pod} at {t}",
                        dash.uid.value,
                        def.id
                    );
                }
            }
        }
    }
    assert!(
        expected > 1000 && checked == expected,
        "{checked} vs {expected}"
    );
    assert!(
        skipped * 20 < checked,
        "{skipped} skipped, {checked} checked"
    );
    // The window has container restarts (CPU counters reset): the reset rule is exercised.
    assert!(with_reset > 0, "no rate window spans a counter reset");
    println!("rate points: {checked} checked, {skipped} skipped, {with_reset} across a reset");
}

#[test]
fn cloudwatch_points_equal_cloudwatch_metrics() {
    let d = dataset();
    // (namespace, metric, dims, statistic, period, period start) -> row
    type Key = (String, String, String, String, i64, i64);
    struct Row {
        value: f64,
        service: String,
        resource: String,
        truth: Truth,
    }
    let mut rows: HashMap<Key, Row> = HashMap::new();
    // (namespace, metric, dims) -> smallest period in the table
    let mut native: HashMap<(String, String, String), i64> = HashMap::new();
    for p in d.table("cloudwatch", "metrics") {
        let b = &p.batch;
        let ts = times(b, "timestamp");
        let value = floats(b, "value");
        let period = b
            .column_by_name("period_seconds")
            .expect("period_seconds")
            .as_primitive::<Int32Type>()
            .values();
        for i in 0..b.num_rows() {
            let (ns, m) = (
                strings(b, "namespace").value(i).to_string(),
                strings(b, "metric_name").value(i).to_string(),
            );
            let dims = pairs_key(b, "dimensions", i);
            let e = native
                .entry((ns.clone(), m.clone(), dims.clone()))
                .or_insert(i64::MAX);
            *e = (*e).min(period[i] as i64);
            rows.insert(
                (
                    ns,
                    m,
                    dims,
                    strings(b, "statistic").value(i).to_string(),
                    period[i] as i64,
                    ts[i],
                ),
                Row {
                    value: value[i],
                    service: strings(b, "service").value(i).to_string(),
                    resource: strings(b, "resource_id").value(i).to_string(),
                    truth: truth(b, i),
                },
            );
        }
    }
    let region = &d.config.services.cluster.region;
    let step = d.config.generation.sources.grafana.refresh_seconds as i64 * SECOND;
    let (mut checked, mut labelled) = (0usize, 0usize);
    // (uid, panel) -> (statistics, periods); (uid, panel, dims) -> timestamps
    let mut panel_stats: BTreeMap<(String, i32), (BTreeSet<String>, BTreeSet<i64>)> =
        BTreeMap::new();
    let mut plotted: HashMap<(String, i32, String), BTreeSet<i64>> = HashMap::new();
    for pt in points(d).iter().filter(|p| p.datasource == "cloudwatch") {
        let def = panel_def(d, &pt.uid, pt.panel_id);
        let q: serde_json::Value = serde_json::from_str(&pt.query)
            .unwrap_or_else(|e| panic!("{}: query is not JSON: {e}", pt.at()));
        let field = |k: &str| {
            q[k].as_str()
                .unwrap_or_else(|| panic!("{}: no {k} in the query", pt.at()))
                .to_string()
        };
        let (ns, metric, stat) = (field("namespace"), field("metricName"), field("statistic"));
        let period: i64 = field("period").parse().expect("period is a number");
        assert_eq!(Some(&ns), def.cloudwatch_namespace.as_ref(), "{}", pt.at());
        assert_eq!(metric, def.metric.value, "{}", pt.at());
        assert_eq!(&field("region"), region, "{}", pt.at());
        assert_eq!(pt.unit, def.unit, "{}: unit", pt.at());
        // The query's dimensions are the series labels.
        let qdims: Vec<String> = q["dimensions"]
            .as_object()
            .expect("dimensions object")
            .iter()
            .map(|(k, v)| format!("{k}={}", v[0].as_str().expect("dimension value")))
            .collect();
        let mut ldims: Vec<String> = pt.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        ldims.sort();
        let mut qsorted = qdims.clone();
        qsorted.sort();
        assert_eq!(
            qsorted,
            ldims,
            "{}: query dimensions vs series labels",
            pt.at()
        );
        assert_eq!(
            pt.ts.rem_euclid(period * SECOND),
            0,
            "{}: not a period start",
            pt.at()
        );
        let key = (
            ns.clone(),
            metric.clone(),
            pt.labels_key.clone(),
            stat.clone(),
            period,
            pt.ts,
        );
        let row = rows
            .get(&key)
            .unwrap_or_else(|| panic!("{}: no cloudwatch/metrics datapoint {key:?}", pt.at()));
        assert_eq!(
            pt.value,
            row.value,
            "{}: value vs cloudwatch/metrics",
            pt.at()
        );
        assert_eq!(pt.service, row.service, "{}: service", pt.at());
        assert_eq!(pt.truth, row.truth, "{}: label", pt.at());
        labelled += (pt.truth != normal()) as usize;
        assert_eq!(
            pt.series_name,
            format!("{} {metric}", row.resource),
            "{}: series name",
            pt.at()
        );
        assert_eq!(
            native.get(&(ns, metric, pt.labels_key.clone())),
            Some(&period),
            "{}: the panel does not use the series' native period",
            pt.at()
        );
        let e = panel_stats
            .entry((pt.uid.clone(), pt.panel_id))
            .or_default();
        e.0.insert(stat);
        e.1.insert(period);
        assert!(
            plotted
                .entry((pt.uid.clone(), pt.panel_id, pt.labels_key.clone()))
                .or_default()
                .insert(pt.ts),
            "{}: two points of one series at one time",
            pt.at()
        );
        checked += 1;
    }
    // One query per panel: one statistic.
    for (k, (stats, _)) in &panel_stats {
        assert_eq!(stats.len(), 1, "panel {k:?} plots statistics {stats:?}");
    }
    // Completeness: every resource of the panel's metric is plotted, at every datapoint of
    // its native series that falls on a refresh.
    let mut expected = 0usize;
    for dash in &d.config.services.dashboards {
        for def in dash
            .panels
            .iter()
            .filter(|p| p.datasource == Datasource::Cloudwatch)
        {
            let key = (dash.uid.value.clone(), def.id as i32);
            let (stats, _) = &panel_stats[&key];
            let stat = stats.iter().next().expect("a statistic");
            for ((ns, m, dims, st, period, ts), row) in &rows {
                if Some(ns) != def.cloudwatch_namespace.as_ref()
                    || *m != def.metric.value
                    || st != stat
                    || native[&(ns.clone(), m.clone(), dims.clone())] != *period
                    || !(def.resources.is_empty() || def.resources.contains(&row.resource))
                {
                    continue;
                }
                let stride = period * SECOND * ((step + period * SECOND - 1) / (period * SECOND));
                if (ts - start_us()).rem_euclid(stride) != 0 {
                    continue;
                }
                expected += 1;
                assert!(
                    plotted
                        .get(&(key.0.clone(), key.1, dims.clone()))
                        .is_some_and(|s| s.contains(ts)),
                    "panel {key:?}: datapoint {ns} {m} {dims} {st}/{period} at {ts} is not plotted"
                );
            }
        }
    }
    assert_eq!(checked, expected);
    assert!(checked > 1000, "{checked} CloudWatch points");
    println!(
        "CloudWatch points: {checked} checked, {labelled} labelled, {} panels",
        panel_stats.len()
    );
}

/// One grafana/annotations row.
struct Annotation {
    rel: String,
    row: usize,
    record_id: String,
    ts: i64,
    time_end: i64,
    service: String,
    dashboard: Option<String>,
    panel: Option<i32>,
    tags: Vec<String>,
    text: String,
    kind: String,
    alert_name: Option<String>,
    new_state: Option<String>,
    prev_state: Option<String>,
    login: String,
    template: String,
    truth: Truth,
}

fn annotations(d: &Dataset) -> Vec<Annotation> {
    let mut out = Vec::new();
    for p in d.table("grafana", "annotations") {
        let b = &p.batch;
        let ts = times(b, "timestamp");
        let end = times(b, "time_end");
        let panel = b
            .column_by_name("panel_id")
            .expect("panel_id")
            .as_primitive::<Int32Type>();
        for i in 0..b.num_rows() {
            out.push(Annotation {
                rel: p.rel.clone(),
                row: i,
                record_id: strings(b, "record_id").value(i).to_string(),
                ts: ts[i],
                time_end: end[i],
                service: strings(b, "service").value(i).to_string(),
                dashboard: opt_str(strings(b, "dashboard_uid"), i),
                panel: panel.is_valid(i).then(|| panel.value(i)),
                tags: string_list(b, "tags", i),
                text: strings(b, "text").value(i).to_string(),
                kind: strings(b, "kind").value(i).to_string(),
                alert_name: opt_str(strings(b, "alert_name"), i),
                new_state: opt_str(strings(b, "new_state"), i),
                prev_state: opt_str(strings(b, "prev_state"), i),
                login: strings(b, "login").value(i).to_string(),
                template: strings(b, "template_id").value(i).to_string(),
                truth: truth(b, i),
            });
        }
    }
    out
}

/// One kubernetes/events row.
struct Event {
    ts: i64,
    reason: String,
    object: String,
    message: String,
    pod: Option<String>,
}

fn events(d: &Dataset) -> Vec<Event> {
    let mut out = Vec::new();
    for p in d.table("kubernetes", "events") {
        let b = &p.batch;
        let ts = times(b, "timestamp");
        for i in 0..b.num_rows() {
            out.push(Event {
                ts: ts[i],
                reason: strings(b, "reason").value(i).to_string(),
                object: strings(b, "involved_object_name").value(i).to_string(),
                message: strings(b, "message").value(i).to_string(),
                pod: opt_str(strings(b, "pod"), i),
            });
        }
    }
    out
}

#[test]
fn deploy_annotations_match_rollouts_seen_by_kubernetes() {
    let d = dataset();
    let k8s = scrapes(d);
    let evs = events(d);
    let anns = annotations(d);
    let deploys: Vec<&Annotation> = anns.iter().filter(|a| a.kind == "deploy").collect();
    assert!(deploys.len() >= 2, "{} deploy annotations", deploys.len());
    let mut replicasets: HashSet<(String, i64)> = HashSet::new();
    for a in &deploys {
        let at = format!("{} row {}", a.rel, a.row);
        // Tags: deploy, service, namespace, v<version>; text names the ReplicaSet.
        assert_eq!(a.tags.len(), 4, "{at}: tags {:?}", a.tags);
        assert_eq!(a.tags[0], "deploy", "{at}");
        assert_eq!(a.tags[1], a.service, "{at}");
        let version = a.tags[3].clone();
        assert!(version.starts_with('v'), "{at}: version tag {version}");
        let rs = a
            .text
            .rsplit_once("replicaset ")
            .map(|x| x.1.trim_end_matches(')').to_string())
            .unwrap_or_else(|| panic!("{at}: no replicaset in {:?}", a.text));
        assert!(
            a.text
                .starts_with(&format!("Deploy {} {version} (revision ", a.service)),
            "{at}: text {:?}",
            a.text
        );
        assert!(rs.starts_with(&format!("{}-", a.service)), "{at}: {rs}");
        assert_eq!(
            (a.dashboard.as_deref(), a.panel, a.login.as_str()),
            (None, None, "argocd"),
            "{at}: an organisation annotation by the CD system"
        );
        assert_eq!(a.template, "grafana.deploy", "{at}");
        // A routine deploy is normal; a bad release (or its rollback) of a deployment
        // failure is that incident's root cause.
        if a.truth != normal() {
            assert_eq!(a.truth.1, "root_cause", "{at}: {:?}", a.truth);
            assert!(a.truth.0.is_some(), "{at}: {:?}", a.truth);
        }
        assert!(
            a.time_end >= a.ts && a.time_end <= a.ts + 15 * MINUTE,
            "{at}: the rollout lasts {} s",
            (a.time_end - a.ts) / SECOND
        );
        replicasets.insert((rs.clone(), a.ts));

        // Kubernetes scaled the new ReplicaSet up at the annotation time...
        assert!(
            evs.iter().any(|e| e.reason == "ScalingReplicaSet"
                && e.message == format!("Scaled up replica set {rs} to 1")
                && (e.ts - a.ts).abs() <= SECOND),
            "{at}: no ScalingReplicaSet of {rs} to 1 at the annotation time"
        );
        // ...and created its pods during the rollout, which were running by time_end.
        let created: Vec<&Event> = evs
            .iter()
            .filter(|e| {
                e.reason == "SuccessfulCreate"
                    && e.object == rs
                    && e.ts >= a.ts
                    && e.ts <= a.time_end
            })
            .collect();
        assert!(!created.is_empty(), "{at}: no SuccessfulCreate of {rs}");
        for c in &created {
            let pod = c.pod.as_deref().expect("SuccessfulCreate names its pod");
            assert!(pod.starts_with(&format!("{rs}-")), "{at}: {pod}");
            assert!(
                evs.iter().any(|e| e.reason == "Started"
                    && e.pod.as_deref() == Some(pod)
                    && e.ts <= a.time_end),
                "{at}: {pod} had not started by time_end"
            );
        }
        // The ReplicaSet's pods run image tag v<version>.
        let new_rows: Vec<&Scrape> = k8s
            .iter()
            .filter(|(pod, _)| pod.starts_with(&format!("{rs}-")))
            .flat_map(|(_, rows)| rows.iter().filter(|s| s.ts >= a.ts))
            .collect();
        if a.time_end + MINUTE < end_us() {
            assert!(!new_rows.is_empty(), "{at}: no scrape of {rs} pods");
        }
        for s in &new_rows {
            assert_eq!(s.image_tag, version, "{at}: image of a {rs} pod");
            assert_eq!(s.service, a.service, "{at}");
        }
        // Once the rollout is done and until the service's next deploy, every pod of the
        // service runs that version; just before it, the service ran another one.
        let next = deploys
            .iter()
            .filter(|b| b.service == a.service && b.ts > a.ts)
            .map(|b| b.ts)
            .min()
            .unwrap_or(end_us());
        let svc_rows: Vec<&Scrape> = k8s
            .values()
            .flatten()
            .filter(|s| s.service == a.service)
            .collect();
        let after: Vec<&&Scrape> = svc_rows
            .iter()
            .filter(|s| s.ts > a.time_end + 5 * SECOND && s.ts < next)
            .collect();
        for s in &after {
            assert_eq!(
                s.image_tag, version,
                "{at}: {} after the rollout",
                a.service
            );
        }
        if a.time_end + 2 * MINUTE < next {
            assert!(!after.is_empty(), "{at}: no scrape after the rollout");
        }
        if let Some(before) = svc_rows.iter().filter(|s| s.ts < a.ts).max_by_key(|s| s.ts) {
            assert_ne!(
                before.image_tag, version,
                "{at}: the service already ran {version} before the deploy"
            );
        }
    }
    // Every rollout Kubernetes shows (a ReplicaSet scaled up from 0 to 1) is annotated.
    for e in evs
        .iter()
        .filter(|e| e.reason == "ScalingReplicaSet" && e.message.starts_with("Scaled up"))
    {
        let Some(rs) = e
            .message
            .strip_prefix("Scaled up replica set ")
            .and_then(|m| m.strip_suffix(" to 1"))
        else {
            continue;
        };
        assert!(
            replicasets
                .iter()
                .any(|(r, t)| r == rs && (e.ts - t).abs() <= SECOND),
            "rollout of {rs} at {} has no deploy annotation",
            e.ts
        );
    }
}

#[test]
fn alert_annotations_are_the_alarm_state_changes() {
    let d = dataset();
    struct AlarmRow {
        state: String,
        previous: String,
        service: String,
        namespace: String,
        metric: String,
        truth: Truth,
    }
    let mut alarms: HashMap<(String, i64), AlarmRow> = HashMap::new();
    for p in d.table("cloudwatch", "alarms") {
        let b = &p.batch;
        let ts = times(b, "timestamp");
        for i in 0..b.num_rows() {
            alarms.insert(
                (strings(b, "alarm_name").value(i).to_string(), ts[i]),
                AlarmRow {
                    state: strings(b, "state").value(i).to_string(),
                    previous: strings(b, "previous_state").value(i).to_string(),
                    service: strings(b, "service").value(i).to_string(),
                    namespace: strings(b, "namespace").value(i).to_string(),
                    metric: strings(b, "metric_name").value(i).to_string(),
                    truth: truth(b, i),
                },
            );
        }
    }
    assert!(
        !alarms.is_empty(),
        "the fixture window has no alarm state change to compare with"
    );
    let grafana_state = |s: &str| match s {
        "ALARM" => "Alerting",
        "OK" => "Normal",
        "INSUFFICIENT_DATA" => "NoData",
        other => panic!("unknown alarm state {other}"),
    };
    let anns = annotations(d);
    let mut matched: HashSet<(String, i64)> = HashSet::new();
    for a in anns.iter().filter(|a| a.kind == "alert") {
        let at = format!("{} row {}", a.rel, a.row);
        let name = a.alert_name.clone().expect("alert_name of an alert");
        let row = alarms
            .get(&(name.clone(), a.ts))
            .unwrap_or_else(|| panic!("{at}: no cloudwatch/alarms change of {name} at {}", a.ts));
        assert!(
            matched.insert((name.clone(), a.ts)),
            "{at}: annotated twice"
        );
        assert_eq!(
            a.new_state.as_deref(),
            Some(grafana_state(&row.state)),
            "{at}"
        );
        assert_eq!(
            a.prev_state.as_deref(),
            Some(grafana_state(&row.previous)),
            "{at}"
        );
        assert_eq!(
            a.tags,
            ["alert", "cloudwatch", name.as_str(), row.state.as_str()],
            "{at}: tags"
        );
        assert_eq!(a.time_end, a.ts, "{at}: a state change is an instant");
        assert_eq!(a.service, row.service, "{at}: service");
        // The alarm's label, but where the twin writes the same annotation (the alarm
        // row itself may differ from the twin's in the datapoints it quotes).
        let twin_same = twin_annotations()
            .get(&a.record_id)
            .is_some_and(|(ts, text)| *ts == a.ts && *text == a.text);
        let want = if twin_same {
            normal()
        } else {
            row.truth.clone()
        };
        assert_eq!(a.truth, want, "{at}: label");
        assert_eq!(a.login, "grafana-alerting", "{at}");
        assert_eq!(
            a.template,
            if row.state == "ALARM" {
                "grafana.alert.firing"
            } else {
                "grafana.alert.resolved"
            },
            "{at}"
        );
        assert!(
            a.text.starts_with(&format!(
                "[{}] {name}: {} {}",
                grafana_state(&row.state),
                row.namespace,
                row.metric
            )),
            "{at}: text {:?}",
            a.text
        );
        // On the panel plotting the alarm's metric, if a dashboard has one.
        let panel = d.config.services.dashboards.iter().find_map(|x| {
            x.panels
                .iter()
                .find(|p| {
                    p.datasource == Datasource::Cloudwatch
                        && p.cloudwatch_namespace.as_deref() == Some(row.namespace.as_str())
                        && p.metric.value == row.metric
                })
                .map(|p| (x.uid.value.clone(), p.id as i32))
        });
        assert_eq!(
            a.dashboard.clone().zip(a.panel),
            panel,
            "{at}: dashboard and panel of {}/{}",
            row.namespace,
            row.metric
        );
    }
    assert_eq!(
        matched.len(),
        alarms.len(),
        "every alarm state change has its annotation"
    );
    println!(
        "alert annotations: {} ({} labelled)",
        matched.len(),
        anns.iter()
            .filter(|a| a.kind == "alert" && a.truth != normal())
            .count()
    );
    // Manual notes: a person's, lasting a while.
    for a in anns.iter().filter(|a| a.kind == "note") {
        let at = format!("{} row {}", a.rel, a.row);
        assert_eq!(a.tags.first().map(String::as_str), Some("note"), "{at}");
        assert_eq!(a.template, format!("grafana.note.{}", a.tags[1]), "{at}");
        assert!(a.time_end > a.ts && a.time_end <= a.ts + 2 * HOUR, "{at}");
        assert!(
            !a.login.starts_with("grafana") && a.login != "argocd",
            "{at}"
        );
        assert!(a.alert_name.is_none() && a.dashboard.is_none(), "{at}");
    }
    for a in &anns {
        assert!(
            ["deploy", "alert", "note"].contains(&a.kind.as_str()),
            "{} row {}: kind {}",
            a.rel,
            a.row,
            a.kind
        );
        assert_eq!(
            a.dashboard.is_some(),
            a.panel.is_some(),
            "{} row {}",
            a.rel,
            a.row
        );
    }
}

/// Grafana alone, two threads, same window.
fn dataset_grafana_only() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| run_generate("grafana-threads2", START, HOURS, "grafana", 2))
}

#[test]
fn same_seed_gives_identical_grafana_files_whatever_threads_and_sources() {
    let a = &dataset().root;
    let b = dataset_grafana_only();
    let files_a: Vec<String> = list_files(a)
        .into_iter()
        .filter(|f| f.starts_with("grafana/"))
        .collect();
    let files_b: Vec<String> = list_files(b)
        .into_iter()
        .filter(|f| f.starts_with("grafana/"))
        .collect();
    assert_eq!(files_a, files_b);
    assert_eq!(files_a.len(), GRAFANA_TABLES.len() * HOURS as usize);
    for f in &files_a {
        let x = std::fs::read(a.join(f)).expect("read");
        let y = std::fs::read(b.join(f)).expect("read");
        assert!(x == y, "{f} differs between the two runs");
    }
}

#[test]
fn an_hour_alone_equals_the_same_hour_of_the_longer_run() {
    // Lookbacks and rate windows reach into the previous hour; the partition is the same.
    let out = run_generate("last-hour-alone", "2026-11-23T10:00:00Z", 1, "grafana", 1);
    for t in GRAFANA_TABLES {
        let rel = format!("grafana/{t}/date=2026-11-23/hour=10/part-00000.parquet");
        let a = std::fs::read(dataset().root.join(&rel)).expect("file of the 3-hour run");
        let b = std::fs::read(out.join(&rel)).expect("file of the 1-hour run");
        assert!(
            a == b,
            "{rel} differs between a 3-hour run and a 1-hour run"
        );
    }
}
