//! End-to-end checks of the CloudWatch source on three simulated hours (Monday
//! 2026-11-23 08:00-11:00 UTC, the embedded configuration), generated once per test process
//! together with Kubernetes by a `OnceLock` fixture, plus two more runs: the same window
//! with `--threads 2` and only `--sources cloudwatch` (determinism, and independence from
//! the other sources), and a run whose configuration (from `obsgen config init`, then
//! edited) lowers alarm thresholds and adds alarms of every missing-data treatment, so
//! that alarms flap and every evaluation rule is exercised.
//!
//! How root requests are found in `kubernetes/pod_logs`: every request visit writes an
//! access line (the per-framework access templates below) when it responds, and a caller
//! responds only after all its calls returned, so the root visit's access line is the
//! latest access line of its trace id. A trace whose latest access line belongs to a
//! service behind a load balancer is a root request to that load balancer.

mod common;

use common::list_files;

use arrow::array::{Array, AsArray, ListArray, StringArray, StructArray};
use arrow::datatypes::{Float64Type, Int32Type, SchemaRef, TimestampMicrosecondType};
use arrow::record_batch::RecordBatch;
use assert_cmd::Command;
use chrono::NaiveDate;
use obsgen::config::{Comparison, Config, Statistic, TreatMissingData};
use obsgen::sources::cloudwatch::{AlarmInstance, alarm_instances};
use obsgen::world::{TimeRange, World};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const START: &str = "2026-11-23T08:00:00Z";
const HOURS: i64 = 3;
const SECOND: i64 = 1_000_000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;
const CW_TABLES: [&str; 4] = ["alarms", "insights_queries", "logs", "metrics"];

/// The access-line templates of kubernetes/pod_logs (one per framework).
const ACCESS_TEMPLATES: [&str; 13] = [
    "express.access",
    "fastify.access",
    "gin.access",
    "chi.access",
    "grpc.unary_call",
    "spring.access",
    "micronaut.access",
    "django.access",
    "fastapi.access",
    "flask.access",
    "worker.message_processed",
    "worker.job_completed",
    "http.access",
];

fn start_us() -> i64 {
    chrono::DateTime::parse_from_rfc3339(START)
        .expect("START")
        .timestamp_micros()
}

fn end_us() -> i64 {
    start_us() + HOURS * HOUR
}

struct Dataset {
    root: PathBuf,
    files: Vec<Part>,
    config: Config,
}

struct Part {
    rel: String,
    source: String,
    table: String,
    hour_start: i64,
    schema: SchemaRef,
    batch: RecordBatch,
}

impl Dataset {
    fn table<'a>(&'a self, source: &'a str, table: &'a str) -> impl Iterator<Item = &'a Part> {
        self.files
            .iter()
            .filter(move |p| p.source == source && p.table == table)
    }
    fn cw(&self, table: &'static str) -> impl Iterator<Item = &Part> {
        self.table("cloudwatch", table)
    }
    fn world(&self) -> World {
        World::plan(
            self.config.clone(),
            self.config.generation.seed,
            self.config.generation.scale.0,
            TimeRange {
                start: start_us(),
                end: end_us(),
            },
        )
    }
}

fn run_generate(name: &str, sources: &str, threads: u32, config: Option<&Path>) -> PathBuf {
    let out = common::fixture_root("obsgen-cloudwatch-").join(name);
    let mut cmd = Command::cargo_bin("obsgen").expect("the obsgen binary");
    cmd.arg("generate");
    if let Some(dir) = config {
        cmd.arg("--config").arg(dir);
    }
    let output = cmd
        .args(["--overwrite", "--start", START, "--duration-hours"])
        .arg(HOURS.to_string())
        .args(["--sources", sources])
        .args(["--threads", &threads.to_string()])
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

/// Kubernetes and CloudWatch, one thread, embedded configuration.
fn dataset() -> &'static Dataset {
    static DATA: OnceLock<Dataset> = OnceLock::new();
    DATA.get_or_init(|| {
        let cfg = Config::defaults().expect("the embedded configuration is valid");
        load(run_generate("main", "kubernetes,cloudwatch", 1, None), cfg)
    })
}

/// CloudWatch only, two threads.
fn dataset_threads2() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| run_generate("cw-threads2", "cloudwatch", 2, None))
}

/// Replaces the threshold of alarm `name` in services_config.yaml text.
fn set_threshold(text: &str, name: &str, value: &str) -> String {
    let at = text
        .find(&format!("- name: {name}\n"))
        .unwrap_or_else(|| panic!("alarm {name} in services_config.yaml"));
    let rel = text[at..].find("threshold:").expect("a threshold line");
    let line_start = at + rel;
    let line_end = line_start + text[line_start..].find('\n').unwrap_or(0);
    format!(
        "{}threshold: {value}{}",
        &text[..line_start],
        &text[line_end..]
    )
}

/// Extra alarms of the flapping configuration: every missing-data treatment.
const EXTRA_ALARMS: &str = "
  - name: test-resizer-duration-missing
    description: test alarm, treat_missing_data missing
    namespace: AWS/Lambda
    metric: Duration
    resource: image-resizer
    statistic: Average
    comparison: GreaterThanThreshold
    threshold: 430
    period_seconds: 60
    evaluation_periods: 3
    datapoints_to_alarm: 2
  - name: test-pdf-invocations-ignore
    description: test alarm, treat_missing_data ignore
    namespace: AWS/Lambda
    metric: Invocations
    resource: invoice-pdf-renderer
    statistic: Sum
    comparison: LessThanThreshold
    threshold: 2
    period_seconds: 60
    evaluation_periods: 2
    datapoints_to_alarm: 2
    treat_missing_data: ignore
  - name: test-resizer-errors-breaching
    description: test alarm, treat_missing_data breaching
    namespace: AWS/Lambda
    metric: Errors
    resource: image-resizer
    statistic: Sum
    comparison: GreaterThanOrEqualToThreshold
    threshold: 1
    period_seconds: 60
    evaluation_periods: 3
    datapoints_to_alarm: 2
    treat_missing_data: breaching
  - name: test-orders-connections-max
    description: test alarm on a 5-minute Maximum
    namespace: AWS/RDS
    metric: DatabaseConnections
    resource: orders-db
    statistic: Maximum
    comparison: GreaterThanThreshold
    threshold: 68
    period_seconds: 300
    evaluation_periods: 2
    datapoints_to_alarm: 1
";

/// CloudWatch with low thresholds, extra alarms and rare Lambda invocations (so that
/// some minutes have no datapoint).
fn dataset_flapping() -> &'static Dataset {
    static DATA: OnceLock<Dataset> = OnceLock::new();
    DATA.get_or_init(|| {
        let dir = common::fixture_root("obsgen-cloudwatch-").join("flapping-config");
        let output = Command::cargo_bin("obsgen")
            .expect("the obsgen binary")
            .args(["config", "init", "--overwrite"])
            .arg(&dir)
            .output()
            .expect("run obsgen config init");
        assert!(
            output.status.success(),
            "config init: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let path = dir.join("services_config.yaml");
        let mut text = std::fs::read_to_string(&path).expect("read services_config.yaml");
        for (name, value) in [
            ("storefront-alb-target-5xx", "2"),
            ("api-alb-target-5xx", "1"),
            ("api-alb-latency-high", "0.2"),
            ("orders-db-cpu-high", "38"),
            ("users-db-cpu-high", "30"),
            ("eks-node-cpu-high", "22"),
        ] {
            text = set_threshold(&text, name, value);
        }
        // The extra alarms go at the end of the `alarms:` list, before the next top-level key.
        let list = text.find("\nalarms:\n").expect("an alarms: section") + 1;
        let next = text[list + 8..]
            .find("\n\n")
            .map_or(text.len(), |k| list + 8 + k + 1);
        text.insert_str(next, EXTRA_ALARMS.trim_start_matches('\n'));
        std::fs::write(&path, text).expect("write services_config.yaml");
        let gpath = dir.join("generation_config.yaml");
        let g = std::fs::read_to_string(&gpath).expect("read generation_config.yaml");
        let key = "lambda_invocations_per_minute:";
        let line = g
            .lines()
            .find(|l| l.trim_start().starts_with(key))
            .expect("lambda_invocations_per_minute");
        let indent = &line[..line.len() - line.trim_start().len()];
        let g = g.replacen(line, &format!("{indent}{key} 0.3"), 1);
        std::fs::write(&gpath, g).expect("write generation_config.yaml");
        let cfg = Config::load(&dir).expect("the edited configuration is valid");
        load(run_generate("flapping", "cloudwatch", 2, Some(&dir)), cfg)
    })
}

fn load(root: PathBuf, config: Config) -> Dataset {
    let mut files = Vec::new();
    for rel in list_files(&root) {
        // The sources' partitions; not the manifest, the labels or the correlation files.
        let source = rel.split('/').next().unwrap_or("");
        if !["kubernetes", "sentry", "cloudwatch", "grafana"].contains(&source) {
            continue;
        }
        let parts: Vec<&str> = rel.split('/').collect();
        assert_eq!(parts.len(), 5, "unexpected path {rel}");
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
}

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

fn ints32<'a>(b: &'a RecordBatch, name: &str) -> &'a [i32] {
    b.column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .as_primitive::<Int32Type>()
        .values()
}

/// `name=value,...` of the dimensions of row `i`.
fn dims_key(b: &RecordBatch, i: usize) -> String {
    let list: &ListArray = b
        .column_by_name("dimensions")
        .expect("dimensions")
        .as_list::<i32>();
    let items = list.value(i);
    let st: &StructArray = items.as_struct();
    let names = st.column(0).as_string::<i32>();
    let values = st.column(1).as_string::<i32>();
    (0..st.len())
        .map(|k| format!("{}={}", names.value(k), values.value(k)))
        .collect::<Vec<_>>()
        .join(",")
}

fn series_key(ns: &str, metric: &str, dims: &str, stat: &str, period: i32) -> String {
    format!("{ns}|{metric}|{dims}|{stat}|{period}")
}

/// Datapoints of the metrics table: series key -> period start -> value.
fn datapoints(d: &Dataset) -> HashMap<String, BTreeMap<i64, f64>> {
    let mut out: HashMap<String, BTreeMap<i64, f64>> = HashMap::new();
    for p in d.cw("metrics") {
        let b = &p.batch;
        let ts = times(b, "timestamp");
        let (ns, metric, stat) = (
            strings(b, "namespace"),
            strings(b, "metric_name"),
            strings(b, "statistic"),
        );
        let value = floats(b, "value");
        let period = ints32(b, "period_seconds");
        for i in 0..b.num_rows() {
            let k = series_key(
                ns.value(i),
                metric.value(i),
                &dims_key(b, i),
                stat.value(i),
                period[i],
            );
            let prev = out.entry(k.clone()).or_default().insert(ts[i], value[i]);
            assert!(
                prev.is_none(),
                "{}: two datapoints of {k} at {}",
                p.rel,
                ts[i]
            );
        }
    }
    out
}

fn alarm_series_key(a: &AlarmInstance) -> String {
    let dims = a
        .series
        .dimensions
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    series_key(
        a.series.namespace,
        a.series.metric,
        &dims,
        a.series.statistic.as_str(),
        a.series.period_seconds as i32,
    )
}

#[test]
fn files_and_schemas_match_the_registry() {
    let d = dataset();
    let registry = obsgen::sources::registry();
    let mut seen: BTreeSet<(String, i64)> = BTreeSet::new();
    for p in d.files.iter().filter(|p| p.source == "cloudwatch") {
        let t = registry
            .iter()
            .find(|t| t.source().as_str() == "cloudwatch" && t.name() == p.table)
            .unwrap_or_else(|| panic!("{}: no such table in the registry", p.rel));
        let want = t.schema();
        assert_eq!(p.schema.fields(), want.fields(), "{}: schema", p.rel);
        assert_eq!(p.batch.schema().fields(), want.fields(), "{}", p.rel);
        seen.insert((p.table.clone(), p.hour_start));
    }
    for t in CW_TABLES {
        for h in 0..HOURS {
            assert!(
                seen.contains(&(t.to_string(), start_us() + h * HOUR)),
                "no cloudwatch/{t} partition for hour {h}"
            );
        }
    }
    assert_eq!(seen.len(), CW_TABLES.len() * HOURS as usize);
}

#[test]
fn timestamps_are_inside_their_hour_sorted_and_record_ids_unique() {
    for d in [dataset(), dataset_flapping()] {
        let mut ids: HashSet<String> = HashSet::new();
        let mut events: HashSet<String> = HashSet::new();
        for p in d.files.iter().filter(|p| p.source == "cloudwatch") {
            let ts = times(&p.batch, "timestamp");
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
            for id in strings(&p.batch, "record_id").iter().flatten() {
                assert!(ids.insert(id.to_string()), "duplicate record_id {id}");
            }
            if p.table == "logs" {
                let b = &p.batch;
                let ing = times(b, "ingestion_time");
                let ev = strings(b, "event_id");
                for i in 0..b.num_rows() {
                    assert!(
                        ing[i] > ts[i],
                        "{} row {i}: ingested before it happened",
                        p.rel
                    );
                    let e = ev.value(i);
                    assert!(
                        e.len() == 56 && e.bytes().all(|c| c.is_ascii_digit()),
                        "{} row {i}: event_id {e:?}",
                        p.rel
                    );
                    assert!(events.insert(e.to_string()), "duplicate event_id {e}");
                }
            }
        }
        assert!(!ids.is_empty());
    }
}

#[test]
fn volumes_are_in_range() {
    let d = dataset();
    let world = d.world();
    let cw = &d.config.generation.sources.cloudwatch;
    let series = obsgen::sources::cloudwatch::all_series(&world);
    let max_per_hour: f64 = series
        .iter()
        .map(|s| 3600.0 / s.period_seconds as f64)
        .sum();
    for p in d.cw("metrics") {
        let n = p.batch.num_rows() as f64;
        assert!(
            n >= 0.85 * max_per_hour && n <= max_per_hour,
            "{}: {n} datapoints, expected at most {max_per_hour} and few missing",
            p.rel
        );
    }
    let funcs = d.config.services.aws.lambda.len() as f64;
    let base = 60.0
        * (cw.vpc_flow_records_per_minute.0 + 3.5 * cw.lambda_invocations_per_minute.0 * funcs);
    for p in d.cw("logs") {
        let n = p.batch.num_rows() as f64;
        assert!(
            n >= 0.5 * base && n <= 3.0 * base,
            "{}: {n} log events, expected about {base} at traffic 1.0",
            p.rel
        );
        let groups: BTreeSet<&str> = strings(&p.batch, "log_group")
            .iter()
            .flatten()
            .map(|g| g.split('/').nth(2).unwrap_or(""))
            .collect();
        for g in ["alb", "lambda", "rds", "vpc"] {
            assert!(groups.contains(g), "{}: no /aws/{g} events", p.rel);
        }
    }
    for p in d.cw("alarms") {
        assert!(
            p.batch.num_rows() <= 60,
            "{}: {} alarm changes",
            p.rel,
            p.batch.num_rows()
        );
    }
    let queries: usize = d.cw("insights_queries").map(|p| p.batch.num_rows()).sum();
    let max_q = HOURS as f64
        * (3.0 * cw.insights_queries_per_hour.0 + cw.insights_queries_per_hour_in_alarm.0);
    assert!(
        queries >= 1 && queries as f64 <= max_q,
        "{queries} insights queries in {HOURS} h"
    );
}

/// Splits an ALB access-log line into fields (quoted fields without their quotes).
fn alb_fields(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = line;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('"') {
            let end = r.find('"').expect("closing quote");
            out.push(&r[..end]);
            rest = r[end + 1..].trim_start_matches(' ');
        } else {
            let end = rest.find(' ').unwrap_or(rest.len());
            out.push(&rest[..end]);
            rest = rest[end..].trim_start_matches(' ');
        }
    }
    out
}

fn parse_time(s: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("time {s:?}: {e}"))
        .timestamp_micros()
}

/// One ALB access line.
struct AlbLine {
    alb: String,
    service: String,
    time: i64,
    creation: i64,
    target_time: f64,
    target_status: u16,
    trace_id: String,
}

#[test]
fn alb_request_counts_equal_access_logs_and_pod_log_roots() {
    let d = dataset();
    let (start, end) = (start_us(), end_us());
    let dps = datapoints(d);
    // ALB access lines.
    let mut lines: Vec<AlbLine> = Vec::new();
    for p in d.cw("logs") {
        let b = &p.batch;
        let (tmpl, msg, group, svc, trace, req) = (
            strings(b, "template_id"),
            strings(b, "message"),
            strings(b, "log_group"),
            strings(b, "service"),
            strings(b, "trace_id"),
            strings(b, "request_id"),
        );
        let ts = times(b, "timestamp");
        for (i, &t) in ts.iter().enumerate() {
            if tmpl.value(i) != "alb.access" {
                continue;
            }
            let f = alb_fields(msg.value(i));
            assert!(
                f.len() >= 29,
                "ALB line with {} fields: {}",
                f.len(),
                msg.value(i)
            );
            let alb = group.value(i).strip_prefix("/aws/alb/").expect("ALB group");
            assert!(
                f[2].starts_with(&format!("app/{alb}/")),
                "elb field {}",
                f[2]
            );
            assert_eq!(parse_time(f[1]), t, "event timestamp is the `time` field");
            let tid = trace.value(i);
            assert_eq!(tid.len(), 32, "trace_id {tid}");
            assert_eq!(f[17], req.value(i), "request_id is the X-Amzn-Trace-Id");
            assert!(
                f[17].starts_with("Root=1-") && f[17].ends_with(&tid[8..]),
                "X-Amzn-Trace-Id {} does not end with the trace id's last 24 hex digits {tid}",
                f[17]
            );
            lines.push(AlbLine {
                alb: alb.to_string(),
                service: svc.value(i).to_string(),
                time: t,
                creation: parse_time(f[21]),
                target_time: f[6].parse().expect("target_processing_time"),
                target_status: f[9].parse().expect("target_status_code"),
                trace_id: tid.to_string(),
            });
        }
    }
    assert!(lines.len() > 100, "only {} ALB access lines", lines.len());

    // Per ALB and minute: RequestCount, 5XX and TargetResponseTime against the lines.
    let world = d.world();
    let series = obsgen::sources::cloudwatch::all_series(&world);
    let key_of = |alb: &str, metric: &str| {
        let s = series
            .iter()
            .find(|s| {
                s.namespace == "AWS/ApplicationELB" && s.resource == alb && s.metric == metric
            })
            .unwrap_or_else(|| panic!("no {metric} series for {alb}"));
        let dims = s
            .dimensions
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join(",");
        series_key(
            s.namespace,
            s.metric,
            &dims,
            s.statistic.as_str(),
            s.period_seconds as i32,
        )
    };
    let albs: BTreeSet<String> = d
        .config
        .services
        .aws
        .load_balancers
        .iter()
        .map(|l| l.id.clone())
        .collect();
    // The access lines are a 1-in-N sample of the requests the metrics count: per minute
    // never more lines than requests (nor 5xx lines than 5XX), over the run the lines, the
    // 5xx lines and the mean target time are what the sample of the counted requests
    // should show (N = `world.requests_per_access_line`).
    let n = d.config.generation.world.requests_per_access_line.0;
    assert!(n > 1.0, "the default configuration samples the requests");
    let mut checked = 0;
    for alb in &albs {
        let requests = dps
            .get(&key_of(alb, "RequestCount"))
            .cloned()
            .unwrap_or_default();
        let errors = dps
            .get(&key_of(alb, "HTTPCode_Target_5XX_Count"))
            .cloned()
            .unwrap_or_default();
        let rt = dps
            .get(&key_of(alb, "TargetResponseTime"))
            .cloned()
            .unwrap_or_default();
        let (mut all, mut all_5xx, mut rt_sum) = (0.0, 0.0, 0.0);
        let (mut sampled, mut sampled_5xx, mut target_sum) = (0.0, 0.0, 0.0);
        let mut m = start;
        // The last minute's requests may answer after the window: leave it out.
        while m < end - MINUTE {
            let mine: Vec<&AlbLine> = lines
                .iter()
                .filter(|l| &l.alb == alb && l.creation >= m && l.creation < m + MINUTE)
                .collect();
            let count = requests.get(&m).copied().unwrap_or(0.0);
            let e5 = mine.iter().filter(|l| l.target_status >= 500).count() as f64;
            let c5 = errors.get(&m).copied().unwrap_or(0.0);
            assert!(
                count >= mine.len() as f64 && c5 >= e5,
                "{alb} at minute {m}: RequestCount {count} and 5XX {c5} for {} access lines, \
                 {e5} of them 5xx",
                mine.len()
            );
            all += count;
            all_5xx += c5;
            rt_sum += rt.get(&m).copied().unwrap_or(0.0) * count;
            sampled += mine.len() as f64;
            sampled_5xx += e5;
            target_sum += mine.iter().map(|l| l.target_time).sum::<f64>();
            checked += mine.len();
            m += MINUTE;
        }
        let within = |got: f64, total: f64, what: &str| {
            let (expected, p) = (total / n, 1.0 / n);
            let sd = (total * p * (1.0 - p)).sqrt();
            assert!(
                (got - expected).abs() <= 5.0 * sd + 2.0,
                "{alb}: {got} {what} in the sample, {expected:.1} expected of {total}"
            );
        };
        within(sampled, all, "access lines");
        within(sampled_5xx, all_5xx, "5xx lines");
        let (metric_mean, line_mean) = (rt_sum / all, target_sum / sampled);
        assert!(
            (metric_mean - line_mean).abs() / line_mean < 0.2,
            "{alb}: TargetResponseTime averages {metric_mean:.4} s, the lines' target time \
             {line_mean:.4} s"
        );
    }
    assert!(checked > 100);

    // pod_logs: the latest access line of each trace is its root.
    let mut latest: HashMap<String, (i64, String)> = HashMap::new();
    let access: HashSet<&str> = ACCESS_TEMPLATES.into_iter().collect();
    for p in d.table("kubernetes", "pod_logs") {
        let b = &p.batch;
        let (tmpl, trace, svc) = (
            strings(b, "template_id"),
            strings(b, "trace_id"),
            strings(b, "service"),
        );
        let ts = times(b, "timestamp");
        for (i, &t) in ts.iter().enumerate() {
            let event = obsgen::sources::kubernetes::templates::event_of(tmpl.value(i));
            if !trace.is_valid(i) || !access.contains(event) {
                continue;
            }
            let e = latest
                .entry(trace.value(i).to_string())
                .or_insert((t, svc.value(i).to_string()));
            if t > e.0 {
                *e = (t, svc.value(i).to_string());
            }
        }
    }
    let behind: HashMap<String, String> = d
        .config
        .services
        .services
        .iter()
        .filter_map(|s| {
            s.aws
                .load_balancer
                .as_ref()
                .map(|l| (s.name.value.clone(), l.value.clone()))
        })
        .collect();
    // Every ALB request of the inner minutes is a root access line of its service in
    // pod_logs, answered just before the ALB's response; per minute, the counts agree.
    let mut per_minute: BTreeMap<(String, i64), usize> = BTreeMap::new();
    let alb_traces: HashSet<&str> = lines.iter().map(|l| l.trace_id.as_str()).collect();
    for l in lines
        .iter()
        .filter(|l| l.creation >= start && l.creation < end - MINUTE)
    {
        let (t, svc) = latest
            .get(&l.trace_id)
            .unwrap_or_else(|| panic!("ALB request {} has no access line in pod_logs", l.trace_id));
        assert_eq!(svc, &l.service, "trace {}: root service", l.trace_id);
        assert_eq!(
            behind.get(svc),
            Some(&l.alb),
            "{svc} is not behind {}",
            l.alb
        );
        assert!(
            *t <= l.time && l.time - t < 1_000,
            "trace {}: pod answered at {t}, the ALB at {}",
            l.trace_id,
            l.time
        );
        *per_minute
            .entry((l.alb.clone(), l.creation - l.creation.rem_euclid(MINUTE)))
            .or_default() += 1;
    }
    for ((alb, m), roots) in &per_minute {
        let count = dps[&key_of(alb, "RequestCount")][m];
        assert!(
            count >= *roots as f64,
            "{alb} {m}: RequestCount {count} below the {roots} pod_logs roots"
        );
    }
    // ... and every pod_logs root of a service behind an ALB is an ALB request.
    let mut roots = 0;
    for (trace, (t, svc)) in &latest {
        if behind.contains_key(svc) && *t >= start + MINUTE && *t < end - MINUTE {
            roots += 1;
            assert!(
                alb_traces.contains(trace.as_str()),
                "pod_logs root request {trace} of {svc} at {t} has no ALB access line"
            );
        }
    }
    assert!(roots > 100, "only {roots} root requests in pod_logs");
}

#[test]
fn lambda_log_lines_match_the_invocation_metrics() {
    let d = dataset();
    let dps = datapoints(d);
    let (start, end) = (start_us(), end_us());
    // function -> request id -> (start ts, error, report duration)
    type Invocation = (Option<i64>, bool, Option<f64>);
    let mut inv: HashMap<String, HashMap<String, Invocation>> = HashMap::new();
    for p in d.cw("logs") {
        let b = &p.batch;
        let (tmpl, msg, group, req) = (
            strings(b, "template_id"),
            strings(b, "message"),
            strings(b, "log_group"),
            strings(b, "request_id"),
        );
        let ts = times(b, "timestamp");
        for (i, &t) in ts.iter().enumerate() {
            let Some(f) = group.value(i).strip_prefix("/aws/lambda/") else {
                continue;
            };
            let id = req.value(i);
            assert!(
                req.is_valid(i) && id.len() == 36,
                "Lambda line without RequestId"
            );
            let e = inv
                .entry(f.to_string())
                .or_default()
                .entry(id.to_string())
                .or_default();
            let kind = tmpl.value(i);
            // Error lines have an id per runtime and function.
            let kind = if kind.starts_with("lambda.error.") {
                "lambda.error"
            } else {
                kind
            };
            match kind {
                "lambda.start" => {
                    assert!(e.0.is_none(), "two START lines for {id}");
                    assert_eq!(
                        msg.value(i),
                        format!("START RequestId: {id} Version: $LATEST")
                    );
                    e.0 = Some(t);
                }
                "lambda.error" => e.1 = true,
                "lambda.report" | "lambda.report.cold_start" => {
                    let m = msg.value(i);
                    assert!(
                        m.starts_with(&format!("REPORT RequestId: {id}\tDuration: ")),
                        "{m}"
                    );
                    let dur: f64 = m
                        .split("Duration: ")
                        .nth(1)
                        .and_then(|x| x.split(" ms").next())
                        .and_then(|x| x.parse().ok())
                        .expect("REPORT duration");
                    assert_eq!(
                        tmpl.value(i) == "lambda.report.cold_start",
                        m.contains("Init Duration: "),
                        "{m}"
                    );
                    assert!(e.2.is_none(), "two REPORT lines for {id}");
                    e.2 = Some(dur);
                }
                _ => {}
            }
        }
    }
    assert_eq!(
        inv.len(),
        d.config.services.aws.lambda.len(),
        "functions with logs"
    );
    let mut checked = 0;
    for (f, reqs) in &inv {
        // Every START (but those too close to the end) has its REPORT and vice versa.
        for (id, (s, _, r)) in reqs {
            match (s, r) {
                (Some(s), None) => assert!(*s > end - 31 * SECOND, "{f} {id}: no REPORT"),
                (None, Some(_)) => {}
                (None, None) => panic!("{f} {id}: neither START nor REPORT"),
                _ => {}
            }
        }
        let key = |metric: &str, stat: &str| {
            series_key("AWS/Lambda", metric, &format!("FunctionName={f}"), stat, 60)
        };
        let invocations = dps
            .get(&key("Invocations", "Sum"))
            .cloned()
            .unwrap_or_default();
        let errors = dps.get(&key("Errors", "Sum")).cloned().unwrap_or_default();
        let duration = dps
            .get(&key("Duration", "Average"))
            .cloned()
            .unwrap_or_default();
        let mut m = start;
        while m < end {
            let mine: Vec<&Invocation> = reqs
                .values()
                .filter(|(s, _, _)| s.is_some_and(|s| s >= m && s < m + MINUTE))
                .collect();
            assert_eq!(
                invocations.get(&m).copied().unwrap_or(0.0),
                mine.len() as f64,
                "{f} minute {m}: Invocations vs START lines"
            );
            assert_eq!(
                errors.get(&m).copied().unwrap_or(0.0),
                mine.iter().filter(|x| x.1).count() as f64,
                "{f} minute {m}: Errors vs error lines"
            );
            if m < end - MINUTE && !mine.is_empty() {
                let mean =
                    mine.iter().map(|x| x.2.expect("REPORT")).sum::<f64>() / mine.len() as f64;
                assert!(
                    (duration[&m] - mean).abs() < 1e-6 * mean.max(1.0),
                    "{f} minute {m}: Duration {} vs REPORT mean {mean}",
                    duration[&m]
                );
            }
            checked += mine.len();
            m += MINUTE;
        }
    }
    assert!(checked > 100, "only {checked} invocations");
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum St {
    Ok,
    Alarm,
    Insufficient,
}

impl St {
    fn parse(s: &str) -> St {
        match s {
            "OK" => St::Ok,
            "ALARM" => St::Alarm,
            "INSUFFICIENT_DATA" => St::Insufficient,
            x => panic!("unknown state {x}"),
        }
    }
}

fn breaches(c: Comparison, v: f64, t: f64) -> bool {
    match c {
        Comparison::GreaterThanThreshold => v > t,
        Comparison::GreaterThanOrEqualToThreshold => v >= t,
        Comparison::LessThanThreshold => v < t,
        Comparison::LessThanOrEqualToThreshold => v <= t,
    }
}

/// The alarm's state at period end `end`, recomputed from the datapoints by the rules of
/// schemas/cloudwatch/alarms.yaml; `None` when the evaluation needs datapoints from
/// before the window.
fn state_at(a: &AlarmInstance, dps: &BTreeMap<i64, f64>, end: i64) -> Option<St> {
    let p = a.series.period_seconds as i64 * SECOND;
    let n = a.evaluation_periods as i64;
    let m = a.datapoints_to_alarm as usize;
    let brk = |v: f64| breaches(a.comparison, v, a.threshold);
    match a.treat_missing_data {
        TreatMissingData::Breaching | TreatMissingData::NotBreaching => {
            if end - n * p < start_us() {
                return None;
            }
            let b = (1..=n)
                .filter(|j| {
                    dps.get(&(end - j * p))
                        .map_or(a.treat_missing_data == TreatMissingData::Breaching, |v| {
                            brk(*v)
                        })
                })
                .count();
            Some(if b >= m { St::Alarm } else { St::Ok })
        }
        TreatMissingData::Missing | TreatMissingData::Ignore => {
            if end - (n + 2) * p < start_us() {
                return None;
            }
            let present: Vec<f64> = (1..=n + 2)
                .filter_map(|j| dps.get(&(end - j * p)).copied())
                .take(n as usize)
                .collect();
            if present.is_empty() {
                if a.treat_missing_data == TreatMissingData::Missing {
                    return Some(St::Insufficient);
                }
                // ignore: the state of the latest datapoint before the range (if the
                // window holds it).
                let before = end - (n + 2) * p;
                return dps
                    .range(..before)
                    .next_back()
                    .map(|(_, v)| if brk(*v) { St::Alarm } else { St::Ok });
            }
            let b = present.iter().filter(|v| brk(**v)).count();
            Some(if b >= m.min(present.len()) {
                St::Alarm
            } else {
                St::Ok
            })
        }
    }
}

/// Checks every alarm row of `d` against the datapoints; returns (rows checked with both
/// states recomputed, transitions recomputed).
fn check_alarms(d: &Dataset) -> (usize, usize) {
    let world = d.world();
    let insts = alarm_instances(&world);
    let dps = datapoints(d);
    let empty = BTreeMap::new();
    // alarm -> rows (ts, state, previous)
    let mut rows: BTreeMap<String, Vec<(i64, St, St)>> = BTreeMap::new();
    for p in d.cw("alarms") {
        let b = &p.batch;
        let ts = times(b, "timestamp");
        let (name, state, prev, data, reason, arn) = (
            strings(b, "alarm_name"),
            strings(b, "state"),
            strings(b, "previous_state"),
            strings(b, "reason_data"),
            strings(b, "reason"),
            strings(b, "alarm_arn"),
        );
        let thresholds = floats(b, "threshold");
        for i in 0..b.num_rows() {
            let a = insts
                .iter()
                .find(|a| a.name == name.value(i))
                .unwrap_or_else(|| panic!("unknown alarm {}", name.value(i)));
            assert_eq!(arn.value(i), a.arn);
            assert_eq!(thresholds[i], a.threshold);
            assert_eq!(strings(b, "metric_name").value(i), a.series.metric);
            assert_eq!(
                strings(b, "statistic").value(i),
                a.series.statistic.as_str()
            );
            let r = reason.value(i);
            assert!(
                r.starts_with("Threshold Crossed: ") || r.starts_with("Insufficient Data: "),
                "{r}"
            );
            // The datapoints quoted in the reason, `value (dd/mm/yy HH:MM:SS)`, are the
            // table's, exactly.
            let series = dps.get(&alarm_series_key(a)).unwrap_or(&empty);
            if let Some(list) = r.split_once(" datapoints [").map(|x| x.1) {
                let list = list.split(']').next().unwrap_or("");
                for item in list.split("), ") {
                    let (v, when) = item.split_once(" (").expect("value (time)");
                    let when = when.trim_end_matches(')');
                    let t = chrono::NaiveDateTime::parse_from_str(when, "%d/%m/%y %H:%M:%S")
                        .unwrap_or_else(|e| panic!("reason time {when:?}: {e}"))
                        .and_utc()
                        .timestamp_micros();
                    let v: f64 = v
                        .parse()
                        .unwrap_or_else(|e| panic!("reason value {v:?}: {e}"));
                    if t >= start_us() {
                        assert_eq!(Some(v), series.get(&t).copied(), "{}: reason {r}", a.name);
                    }
                }
            }
            // The datapoints quoted in reason_data are the table's.
            let json: serde_json::Value =
                serde_json::from_str(data.value(i)).expect("reason_data JSON");
            assert_eq!(json["statistic"], a.series.statistic.as_str());
            assert_eq!(json["period"], a.series.period_seconds);
            for e in json["evaluatedDatapoints"]
                .as_array()
                .expect("evaluatedDatapoints")
            {
                let t = chrono::DateTime::parse_from_str(
                    e["timestamp"].as_str().expect("timestamp"),
                    "%Y-%m-%dT%H:%M:%S%.3f%z",
                )
                .expect("reason_data timestamp")
                .timestamp_micros();
                match e.get("value") {
                    // serde_json parses floats to within an ulp; the reason text is exact.
                    Some(v) if t >= start_us() => {
                        let v = v.as_f64().expect("value");
                        let want = series.get(&t).copied().unwrap_or(f64::NAN);
                        assert!(
                            (v - want).abs() <= 1e-12 * want.abs().max(1.0),
                            "{}: datapoint {t} of reason_data {v} vs metrics {want}",
                            a.name
                        );
                    }
                    None => assert!(!series.contains_key(&t), "{}: {t} is not missing", a.name),
                    _ => {}
                }
            }
            rows.entry(a.name.clone()).or_default().push((
                ts[i],
                St::parse(state.value(i)),
                St::parse(prev.value(i)),
            ));
        }
    }
    let mut checked = 0;
    let mut recomputed = 0;
    for a in &insts {
        let series = dps.get(&alarm_series_key(a)).unwrap_or(&empty);
        let p = a.series.period_seconds as i64 * SECOND;
        let mine = rows.get(&a.name).cloned().unwrap_or_default();
        // Consecutive rows chain and never repeat a state.
        for w in mine.windows(2) {
            assert!(w[0].0 < w[1].0, "{}: rows out of order", a.name);
            assert_eq!(
                w[1].2, w[0].1,
                "{}: previous_state breaks the chain",
                a.name
            );
        }
        for &(ts, st, prev) in &mine {
            assert_ne!(st, prev, "{}: a transition to the same state", a.name);
            let e = ts - ts.rem_euclid(p);
            assert!(
                (3 * SECOND..23 * SECOND).contains(&(ts - e)),
                "{}: evaluation delay {} µs",
                a.name,
                ts - e
            );
            let now = state_at(a, series, e);
            let before = state_at(a, series, e - p);
            if let Some(now) = now {
                assert_eq!(now, st, "{} at {e}: state vs datapoints {series:?}", a.name);
            }
            if let Some(before) = before {
                assert_eq!(
                    before, prev,
                    "{} at {e}: previous state vs datapoints",
                    a.name
                );
            }
            if now.is_some() && before.is_some() {
                checked += 1;
            }
        }
        // Every recomputed transition is a row.
        let mut e = start_us() - start_us().rem_euclid(p) + p;
        while e + 23 * SECOND < end_us() {
            if let (Some(now), Some(before)) = (state_at(a, series, e), state_at(a, series, e - p))
                && now != before
            {
                recomputed += 1;
                assert!(
                    mine.iter()
                        .any(|r| r.0 - r.0.rem_euclid(p) == e && r.1 == now),
                    "{}: the datapoints change the state {before:?} -> {now:?} at {e}, no row",
                    a.name
                );
            }
            e += p;
        }
    }
    (checked, recomputed)
}

#[test]
fn alarm_transitions_agree_with_the_datapoints() {
    let (checked, recomputed) = check_alarms(dataset());
    eprintln!("default configuration: {checked} transitions checked, {recomputed} recomputed");
    let (checked2, recomputed2) = check_alarms(dataset_flapping());
    eprintln!("flapping configuration: {checked2} transitions checked, {recomputed2} recomputed");
    assert!(
        checked2 >= 10 && recomputed2 >= checked2,
        "the flapping configuration should give many checked transitions, got {checked2}"
    );
    // Every missing-data treatment and a 5-minute alarm changed state at least once.
    let d = dataset_flapping();
    let names: BTreeSet<String> = d
        .cw("alarms")
        .flat_map(|p| {
            strings(&p.batch, "alarm_name")
                .iter()
                .flatten()
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .collect();
    for n in [
        "test-resizer-duration-missing",
        "test-resizer-errors-breaching",
        "test-orders-connections-max",
        "orders-db-cpu-high",
        "api-alb-latency-high",
    ] {
        assert!(
            names.contains(n),
            "alarm {n} never changed state: {names:?}"
        );
    }
    let states: BTreeSet<String> = d
        .cw("alarms")
        .flat_map(|p| {
            strings(&p.batch, "state")
                .iter()
                .flatten()
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        states.contains("INSUFFICIENT_DATA"),
        "no INSUFFICIENT_DATA state: {states:?}"
    );
}

#[test]
fn insights_queries_are_well_formed_and_follow_alarms() {
    for d in [dataset(), dataset_flapping()] {
        let groups: HashSet<String> = d
            .cw("logs")
            .flat_map(|p| {
                strings(&p.batch, "log_group")
                    .iter()
                    .flatten()
                    .map(String::from)
                    .collect::<Vec<_>>()
            })
            .collect();
        for p in d.cw("insights_queries") {
            let b = &p.batch;
            let qs = times(b, "query_start_time");
            let qe = times(b, "query_end_time");
            let ts = times(b, "timestamp");
            let lg = b
                .column_by_name("log_groups")
                .expect("log_groups")
                .as_list::<i32>();
            let (status, query) = (strings(b, "status"), strings(b, "query_string"));
            for i in 0..b.num_rows() {
                assert!(qs[i] < qe[i] && qe[i] <= ts[i], "{}: query range", p.rel);
                let st = status.value(i);
                assert!(
                    ["Complete", "Failed", "Cancelled", "Timeout"].contains(&st),
                    "{st}"
                );
                let q = query.value(i);
                assert!(
                    q.contains('|') || q.starts_with("filter") || q.starts_with("stats"),
                    "{q}"
                );
                let list = lg.value(i);
                let list = list.as_string::<i32>();
                assert!(!list.is_empty());
                for g in list.iter().flatten() {
                    // Groups of the hour's logs, or groups that exist but were quiet.
                    assert!(g.starts_with("/aws/"), "{g}");
                    if g.starts_with("/aws/alb/")
                        || g.starts_with("/aws/lambda/")
                        || g.starts_with("/aws/vpc/")
                    {
                        assert!(groups.contains(g), "query on unknown log group {g}");
                    }
                }
            }
        }
    }
    // The flapping run has alarms in ALARM most of the time: many more queries (the
    // default run's near misses fire alarms too, and page).
    let normal: usize = dataset()
        .cw("insights_queries")
        .map(|p| p.batch.num_rows())
        .sum();
    let alarmed: usize = dataset_flapping()
        .cw("insights_queries")
        .map(|p| p.batch.num_rows())
        .sum();
    assert!(
        2 * alarmed > 3 * normal.max(1),
        "{alarmed} queries with alarms firing, {normal} without"
    );
}

#[test]
fn same_seed_gives_identical_cloudwatch_files_whatever_threads_and_sources() {
    let a = &dataset().root;
    let b = dataset_threads2();
    let files_a: Vec<String> = list_files(a)
        .into_iter()
        .filter(|f| f.starts_with("cloudwatch/"))
        .collect();
    let files_b: Vec<String> = list_files(b)
        .into_iter()
        .filter(|f| f.starts_with("cloudwatch/"))
        .collect();
    assert_eq!(files_a, files_b);
    assert_eq!(files_a.len(), CW_TABLES.len() * HOURS as usize);
    for f in &files_a {
        let x = std::fs::read(a.join(f)).expect("read");
        let y = std::fs::read(b.join(f)).expect("read");
        assert!(x == y, "{f} differs between the two runs");
    }
}

#[test]
fn datapoint_api_matches_the_metrics_table() {
    let d = dataset();
    let world = d.world();
    let dps = datapoints(d);
    let series = obsgen::sources::cloudwatch::all_series(&world);
    let cache = obsgen::sources::cloudwatch::DatapointCache::new(&world);
    let t = start_us() + HOUR + 17 * MINUTE;
    let mut seen = 0;
    for s in &series {
        let dims = s
            .dimensions
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join(",");
        let key = series_key(
            s.namespace,
            s.metric,
            &dims,
            s.statistic.as_str(),
            s.period_seconds as i32,
        );
        let p = s.period_seconds as i64 * SECOND;
        let at = t - t.rem_euclid(p);
        let want = dps.get(&key).and_then(|m| m.get(&at)).copied();
        assert_eq!(cache.datapoint(s, at), want, "{key} at {at}");
        if s.namespace == "AWS/RDS" || s.namespace == "AWS/ApplicationELB" {
            assert_eq!(
                obsgen::sources::cloudwatch::datapoint(&world, s, at),
                want,
                "{key}"
            );
        }
        seen += want.is_some() as usize;
        assert_eq!(cache.datapoint(s, at + 1), None, "unaligned period start");
    }
    assert!(seen > series.len() / 2);
    // Both statistics used by the alarms exist in the table for their series.
    let stats: BTreeSet<&str> = series.iter().map(|s| s.statistic.as_str()).collect();
    assert!(stats.contains(Statistic::Maximum.as_str()) && stats.contains(Statistic::Sum.as_str()));
}

#[test]
fn an_hour_alone_equals_the_same_hour_of_the_longer_run() {
    // The last hour of the window, generated on its own: alarms re-evaluate the periods
    // before it, the SQS backlog and the logs look back, and all of it is the same.
    let out = common::fixture_root("obsgen-cloudwatch-").join("last-hour-alone");
    let output = Command::cargo_bin("obsgen")
        .expect("the obsgen binary")
        .args(["generate", "--overwrite", "--start", "2026-11-23T10:00:00Z"])
        .args(["--duration-hours", "1", "--sources", "cloudwatch", "-o"])
        .arg(&out)
        .output()
        .expect("run obsgen");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for t in CW_TABLES {
        let rel = format!("cloudwatch/{t}/date=2026-11-23/hour=10/part-00000.parquet");
        let a = std::fs::read(dataset().root.join(&rel)).expect("file of the 3-hour run");
        let b = std::fs::read(out.join(&rel)).expect("file of the 1-hour run");
        assert!(
            a == b,
            "{rel} differs between a 3-hour run and a 1-hour run"
        );
    }
}
