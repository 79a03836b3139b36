//! Physical invariants: what the data of a real platform cannot violate, checked over
//! any dataset obsgen wrote (`obsgen validate OUT`).
//!
//! Each [`Invariant`] is one rule over one table (or a join of two), with the rows it
//! checked, the rows that broke it and a few of them to look at. The rules:
//!
//! - **kubernetes/metrics**, per container (`container_id`) and per pod, scrapes in time
//!   order: CFS throttled periods never exceed the periods, in total and between two
//!   scrapes; the periods grow at most one per 100 ms (the CFS period); CPU used between
//!   two scrapes is at most the quota × the elapsed time; the working set stays within the
//!   memory limit; every counter is monotonic (CPU and CFS per container, network, OOM and
//!   restart counts per pod) and a pod's container changes exactly when its restart count
//!   grows; an OOM event comes with a restart whose reason is `OOMKilled`.
//! - **kubernetes/pod_logs**: the level a line writes in its message (logfmt, JSON, pino's
//!   numbers, Logback, gunicorn) is its `level`; an access line's level is the one its
//!   status implies (5xx error, 4xx warn, else info; gRPC codes and worker outcomes
//!   alike), and its latency is a finite, non-negative number.
//! - **kubernetes/pod_logs × sentry/transactions**: an access line and the transaction
//!   of the same span agree on the HTTP status and on the duration (to the line's
//!   precision).
//! - **sentry/transactions**: the status is the one Sentry's SDKs derive from the HTTP
//!   status; every transaction's parent span and every span's parent exist in the
//!   dataset.
//! - **sentry/errors**: every event's trace and span exist (in a transaction or in the
//!   log lines of the request).
//! - **cloudwatch/metrics × cloudwatch/logs**: an ALB's access-log lines are a uniform
//!   sample of the requests its `RequestCount` counts: never more lines than requests in a
//!   minute, and per hour the lines its share predicts, within five standard deviations.
//!
//! - **labels, on every table**: a row's incident is listed in `labels/incidents.parquet`;
//!   the row lies inside the incident's signal window (`signal_start` ..= `signal_end`);
//!   its phase is the one its timestamp falls in (`start`, `onset`, `peak`, `recovery`,
//!   `end`; a row before the start is `precursor`, one at or after the end `recovery`);
//!   a `propagated` row is on a service the incident's edges reach from its root.
//!
//! A table the dataset does not have (a run restricted to some sources) skips its rules.

use crate::contract::{partitions, read_columns};
use crate::error::Error;
use arrow::array::{
    Array, Float64Array, Int32Array, Int64Array, ListArray, StringArray, StructArray,
    TimestampMicrosecondArray,
};
use arrow::record_batch::RecordBatch;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

/// One rule over one table, and what checking it found.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Invariant {
    /// The table (`source/table`, or two joined by ` × `).
    pub table: String,
    /// Short name of the rule.
    pub name: String,
    /// The rule in words.
    pub rule: String,
    /// Rows (or row pairs, or keys) checked.
    pub checked: u64,
    /// Rows that break the rule.
    pub violations: u64,
    /// A few of them, for a look.
    pub examples: Vec<String>,
}

const EXAMPLES: usize = 5;

impl Invariant {
    fn new(table: &str, name: &str, rule: &str) -> Invariant {
        Invariant {
            table: table.to_string(),
            name: name.to_string(),
            rule: rule.to_string(),
            ..Invariant::default()
        }
    }

    /// Counts one check; on a violation keeps the example the closure describes.
    fn check(&mut self, ok: bool, example: impl FnOnce() -> String) {
        self.checked += 1;
        if !ok {
            self.violations += 1;
            if self.examples.len() < EXAMPLES {
                self.examples.push(example());
            }
        }
    }
}

/// Checks every invariant the dataset in `dir` (a complete run: `manifest.json`) has the
/// tables for.
pub fn check(dir: &Path) -> Result<Vec<Invariant>, Error> {
    let parts = partitions(dir)?;
    let files = |source: &str, table: &str| -> &[String] {
        parts
            .get(&(source.to_string(), table.to_string()))
            .map(|v| v.as_slice())
            .unwrap_or(&[])
    };
    let mut out = Vec::new();
    let k8s_metrics = files("kubernetes", "metrics");
    if !k8s_metrics.is_empty() {
        // A twin of several days renders each day from the twin of that day: its
        // counters continue within a day, and step at a midnight after a day whose
        // incidents left lasting effects (see `schemas/README.md`).
        let twin = !crate::sink::Manifest::read(&dir.join("manifest.json"))?.incidents;
        out.extend(container_counters(dir, k8s_metrics, twin)?);
    }
    let transactions = files("sentry", "transactions");
    let tx = if transactions.is_empty() {
        None
    } else {
        let (tx, mut inv) = transactions_index(dir, transactions)?;
        out.append(&mut inv);
        Some(tx)
    };
    let logs = files("kubernetes", "pod_logs");
    let mut traces = tx.as_ref().map(|t| t.traces.clone()).unwrap_or_default();
    let mut spans = tx.as_ref().map(|t| t.spans.clone()).unwrap_or_default();
    if !logs.is_empty() {
        out.extend(log_lines(dir, logs, tx.as_ref(), &mut traces, &mut spans)?);
    }
    let errors = files("sentry", "errors");
    if !errors.is_empty() && (!logs.is_empty() || tx.is_some()) {
        out.push(error_traces(dir, errors, &traces, &spans)?);
    }
    let (cw_metrics, cw_logs) = (files("cloudwatch", "metrics"), files("cloudwatch", "logs"));
    if !cw_metrics.is_empty() && !cw_logs.is_empty() {
        let m = crate::sink::Manifest::read(&dir.join("manifest.json"))?;
        let range = (parse_time(&m.start)?, parse_time(&m.end)?);
        out.push(alb_request_count(dir, cw_metrics, cw_logs, range)?);
    }
    if dir.join(INCIDENTS).exists() {
        out.extend(labels(dir, &parts)?);
    }
    Ok(out)
}

/// A readable report: one line per rule, then the examples of the broken ones.
pub fn report(invariants: &[Invariant]) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let w = invariants
        .iter()
        .map(|i| i.table.len() + i.name.len() + 1)
        .max()
        .unwrap_or(0);
    let _ = writeln!(
        s,
        "{:<w$}  {:>12}  {:>10}",
        "invariant", "checked", "broken"
    );
    for i in invariants {
        let _ = writeln!(
            s,
            "{:<w$}  {:>12}  {:>10}",
            format!("{}:{}", i.table, i.name),
            i.checked,
            i.violations
        );
    }
    for i in invariants.iter().filter(|i| i.violations > 0) {
        let _ = writeln!(s, "\n{}:{}: {}", i.table, i.name, i.rule);
        for e in &i.examples {
            let _ = writeln!(s, "  {e}");
        }
    }
    s
}

fn col<'a, T: 'static>(batch: &'a RecordBatch, name: &str) -> Result<&'a T, Error> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<T>())
        .ok_or_else(|| Error::Invalid(format!("column {name} is missing or of another type")))
}

fn opt_str(a: &StringArray, r: usize) -> Option<&str> {
    a.is_valid(r).then(|| a.value(r))
}

/// A timestamp in µs as RFC 3339, for examples.
fn iso(us: i64) -> String {
    let mut s = String::with_capacity(27);
    crate::time::write_rfc3339(&mut s, us, 6);
    s
}

// ---------------------------------------------------------------------------------------
// kubernetes/metrics

/// The previous scrape of a container and of a pod.
#[derive(Clone)]
struct Scrape {
    t: i64,
    cpu: f64,
    periods: i64,
    throttled: i64,
}

#[derive(Clone)]
struct PodScrape {
    container: String,
    restarts: i64,
    oom: i64,
    rx: i64,
    tx: i64,
}

/// The counter invariants of kubernetes/metrics; with `per_day`, continuity is checked
/// within each day (a twin's).
fn container_counters(
    dir: &Path,
    files: &[String],
    per_day: bool,
) -> Result<Vec<Invariant>, Error> {
    const T: &str = "kubernetes/metrics";
    let mut throttled = Invariant::new(
        T,
        "throttled_within_periods",
        "container_cpu_cfs_throttled_periods_total <= container_cpu_cfs_periods_total, \
         in total and in growth between two scrapes of a container",
    );
    let mut periods_rate = Invariant::new(
        T,
        "periods_within_elapsed_time",
        "container_cpu_cfs_periods_total grows by at most one per 100 ms (the CFS period) \
         between two scrapes of a container",
    );
    let mut quota = Invariant::new(
        T,
        "cpu_within_quota",
        "CPU seconds used between two scrapes <= container_spec_cpu_quota / 100000 cores x \
         the seconds elapsed",
    );
    let mut memory = Invariant::new(
        T,
        "working_set_within_limit",
        "container_memory_working_set_bytes <= container_spec_memory_limit_bytes",
    );
    let mut monotonic = Invariant::new(
        T,
        "counters_monotonic",
        "CPU and CFS counters never decrease per container_id; network bytes, OOM events \
         and restarts never decrease per pod",
    );
    let mut reset = Invariant::new(
        T,
        "reset_only_at_restart",
        "a pod's container_id changes exactly when kube_pod_container_status_restarts_total \
         grows",
    );
    let mut oom = Invariant::new(
        T,
        "oom_kill_restarts",
        "container_oom_events_total grows only with a restart whose \
         kube_pod_container_status_last_terminated_reason is OOMKilled",
    );
    let names = [
        "record_id",
        "timestamp",
        "pod",
        "container_id",
        "container_cpu_usage_seconds_total",
        "container_cpu_cfs_periods_total",
        "container_cpu_cfs_throttled_periods_total",
        "container_spec_cpu_quota",
        "container_memory_working_set_bytes",
        "container_spec_memory_limit_bytes",
        "container_oom_events_total",
        "container_network_receive_bytes_total",
        "container_network_transmit_bytes_total",
        "kube_pod_container_status_restarts_total",
        "kube_pod_container_status_last_terminated_reason",
    ];
    let mut containers: HashMap<String, Scrape> = HashMap::new();
    let mut pods: HashMap<String, PodScrape> = HashMap::new();
    let mut day = "";
    for rel in files {
        let date = rel
            .split('/')
            .find(|p| p.starts_with("date="))
            .unwrap_or("");
        if per_day && date != day {
            containers.clear();
            pods.clear();
            day = date;
        }
        let b = read_columns(&dir.join(rel), &names)?;
        let id = col::<StringArray>(&b, "record_id")?;
        let ts = col::<TimestampMicrosecondArray>(&b, "timestamp")?;
        let pod = col::<StringArray>(&b, "pod")?;
        let cid = col::<StringArray>(&b, "container_id")?;
        let cpu = col::<Float64Array>(&b, "container_cpu_usage_seconds_total")?;
        let per = col::<Int64Array>(&b, "container_cpu_cfs_periods_total")?;
        let thr = col::<Int64Array>(&b, "container_cpu_cfs_throttled_periods_total")?;
        let q = col::<Int64Array>(&b, "container_spec_cpu_quota")?;
        let ws = col::<Int64Array>(&b, "container_memory_working_set_bytes")?;
        let lim = col::<Int64Array>(&b, "container_spec_memory_limit_bytes")?;
        let ooms = col::<Int64Array>(&b, "container_oom_events_total")?;
        let rx = col::<Int64Array>(&b, "container_network_receive_bytes_total")?;
        let tx = col::<Int64Array>(&b, "container_network_transmit_bytes_total")?;
        let rs = col::<Int64Array>(&b, "kube_pod_container_status_restarts_total")?;
        let reason = col::<StringArray>(&b, "kube_pod_container_status_last_terminated_reason")?;
        for r in 0..b.num_rows() {
            let now = Scrape {
                t: ts.value(r),
                cpu: cpu.value(r),
                periods: per.value(r),
                throttled: thr.value(r),
            };
            let ex = |what: String| format!("{} {}: {what}", id.value(r), iso(now.t));
            throttled.check(now.throttled <= now.periods, || {
                ex(format!(
                    "throttled {} > periods {}",
                    now.throttled, now.periods
                ))
            });
            memory.check(ws.value(r) <= lim.value(r), || {
                ex(format!(
                    "working set {} > limit {}",
                    ws.value(r),
                    lim.value(r)
                ))
            });
            if let Some(prev) = containers.get(cid.value(r)) {
                let dt = (now.t - prev.t) as f64 / 1e6;
                let (dp, dth) = (now.periods - prev.periods, now.throttled - prev.throttled);
                let dcpu = now.cpu - prev.cpu;
                throttled.check(dth <= dp, || {
                    ex(format!(
                        "throttled grew {dth} > periods grew {dp} in {dt} s"
                    ))
                });
                periods_rate.check(dp as f64 <= dt * 10.0 + 1.0, || {
                    ex(format!("periods grew {dp} in {dt} s"))
                });
                let cores = q.value(r) as f64 / 100_000.0;
                quota.check(dcpu <= cores * dt * (1.0 + 1e-9) + 1e-6, || {
                    ex(format!(
                        "{dcpu:.3} CPU s in {dt} s > {cores} cores x {dt} s"
                    ))
                });
                monotonic.check(dcpu >= 0.0 && dp >= 0 && dth >= 0, || {
                    ex(format!(
                        "container counters went back: cpu {dcpu:+}, periods {dp:+}, throttled {dth:+}"
                    ))
                });
            }
            containers.insert(cid.value(r).to_string(), now.clone());
            let p = PodScrape {
                container: cid.value(r).to_string(),
                restarts: rs.value(r),
                oom: ooms.value(r),
                rx: rx.value(r),
                tx: tx.value(r),
            };
            if let Some(prev) = pods.get(pod.value(r)) {
                monotonic.check(
                    p.restarts >= prev.restarts
                        && p.oom >= prev.oom
                        && p.rx >= prev.rx
                        && p.tx >= prev.tx,
                    || ex(format!("pod {} counters went back", pod.value(r))),
                );
                let changed = p.container != prev.container;
                let restarted = p.restarts > prev.restarts;
                reset.check(changed == restarted, || {
                    ex(format!(
                        "pod {}: container changed {changed}, restarts {} -> {}",
                        pod.value(r),
                        prev.restarts,
                        p.restarts
                    ))
                });
                if p.oom > prev.oom {
                    let why = opt_str(reason, r);
                    oom.check(restarted && why == Some("OOMKilled"), || {
                        ex(format!(
                            "pod {}: OOM events {} -> {}, restarts {} -> {}, reason {why:?}",
                            pod.value(r),
                            prev.oom,
                            p.oom,
                            prev.restarts,
                            p.restarts
                        ))
                    });
                }
            }
            pods.insert(pod.value(r).to_string(), p);
        }
    }
    Ok(vec![
        throttled,
        periods_rate,
        quota,
        memory,
        monotonic,
        reset,
        oom,
    ])
}

// ---------------------------------------------------------------------------------------
// sentry/transactions

/// What the log and error checks need of the transactions.
struct Transactions {
    /// Span id → (HTTP status, duration in ms) of each transaction.
    by_span: HashMap<u64, (Option<i32>, f64)>,
    traces: HashSet<u128>,
    /// Every span id: of transactions and of their spans.
    spans: HashSet<u64>,
}

fn hex64(s: &str) -> Option<u64> {
    u64::from_str_radix(s, 16).ok()
}

fn hex128(s: &str) -> Option<u128> {
    u128::from_str_radix(s, 16).ok()
}

/// The status Sentry's SDKs give a transaction of an HTTP status
/// (`getSpanStatusFromHttpCode`).
fn span_status_of_http(code: i32) -> &'static str {
    match code {
        ..400 => "ok",
        401 => "unauthenticated",
        403 => "permission_denied",
        404 => "not_found",
        409 => "already_exists",
        413 => "failed_precondition",
        429 => "resource_exhausted",
        499 => "cancelled",
        400..=499 => "invalid_argument",
        501 => "unimplemented",
        503 => "unavailable",
        504 => "deadline_exceeded",
        _ => "internal_error",
    }
}

fn transactions_index(
    dir: &Path,
    files: &[String],
) -> Result<(Transactions, Vec<Invariant>), Error> {
    const T: &str = "sentry/transactions";
    let mut status = Invariant::new(
        T,
        "status_of_http_status",
        "status is what Sentry's SDKs derive from http_status_code (2xx/3xx ok, 404 \
         not_found, 503 unavailable, 504 deadline_exceeded, other 5xx internal_error, ...)",
    );
    let mut parents = Invariant::new(
        T,
        "parent_spans_exist",
        "every transaction's parent_span_id and every span's parent_span_id is the span_id \
         of a transaction or of a span in the dataset",
    );
    let mut tx = Transactions {
        by_span: HashMap::new(),
        traces: HashSet::new(),
        spans: HashSet::new(),
    };
    let names = [
        "record_id",
        "trace_id",
        "span_id",
        "parent_span_id",
        "status",
        "http_status_code",
        "duration_ms",
        "spans",
    ];
    // (record id, parent span) of every transaction and span, checked once all are read:
    // a parent can be in a later partition.
    let mut wanted: Vec<(String, u64)> = Vec::new();
    for rel in files {
        let b = read_columns(&dir.join(rel), &names)?;
        let id = col::<StringArray>(&b, "record_id")?;
        let trace = col::<StringArray>(&b, "trace_id")?;
        let span = col::<StringArray>(&b, "span_id")?;
        let parent = col::<StringArray>(&b, "parent_span_id")?;
        let st = col::<StringArray>(&b, "status")?;
        let code = col::<Int32Array>(&b, "http_status_code")?;
        let dur = col::<Float64Array>(&b, "duration_ms")?;
        let list = col::<ListArray>(&b, "spans")?;
        let items = list
            .values()
            .as_any()
            .downcast_ref::<StructArray>()
            .ok_or_else(|| Error::Invalid("spans is not a list of structs".into()))?;
        let item = |name: &str| {
            items
                .column_by_name(name)
                .and_then(|c| c.as_any().downcast_ref::<StringArray>())
                .ok_or_else(|| Error::Invalid(format!("spans.{name} is missing")))
        };
        let (item_span, item_parent) = (item("span_id")?, item("parent_span_id")?);
        for r in 0..b.num_rows() {
            let http = code.is_valid(r).then(|| code.value(r));
            if let Some(c) = http {
                status.check(st.value(r) == span_status_of_http(c), || {
                    format!("{}: http {c}, status {}", id.value(r), st.value(r))
                });
            }
            if let Some(t) = hex128(trace.value(r)) {
                tx.traces.insert(t);
            }
            if let Some(s) = hex64(span.value(r)) {
                tx.spans.insert(s);
                tx.by_span.insert(s, (http, dur.value(r)));
            }
            if let Some(p) = opt_str(parent, r).and_then(hex64) {
                wanted.push((id.value(r).to_string(), p));
            }
            let offsets = list.value_offsets();
            for k in offsets[r] as usize..offsets[r + 1] as usize {
                if let Some(s) = opt_str(item_span, k).and_then(hex64) {
                    tx.spans.insert(s);
                }
                if let Some(p) = opt_str(item_parent, k).and_then(hex64) {
                    wanted.push((format!("{} span {k}", id.value(r)), p));
                }
            }
        }
    }
    for (who, p) in &wanted {
        parents.check(tx.spans.contains(p), || {
            format!("{who}: parent span {p:016x} is nowhere")
        });
    }
    Ok((tx, vec![status, parents]))
}

// ---------------------------------------------------------------------------------------
// kubernetes/pod_logs

/// What an access line says: its status as the level it implies, its latency in ms, the
/// precision the latency is written with, and the HTTP status when it has one.
struct Access {
    level: &'static str,
    latency_ms: f64,
    precision_ms: f64,
    http: Option<i32>,
}

/// The value after `key` (without an opening quote) up to the next `,`, `}`, space or `"`.
fn field<'a>(msg: &'a str, key: &str) -> Option<&'a str> {
    let at = msg.find(key)? + key.len();
    let rest = msg[at..].strip_prefix('"').unwrap_or(&msg[at..]);
    let end = rest.find([',', '}', ' ', '"']).unwrap_or(rest.len());
    Some(&rest[..end])
}

/// Digits after the decimal point of a number as written, as a precision in its unit.
fn precision(s: &str) -> f64 {
    let decimals = s.split_once('.').map(|(_, d)| d.len()).unwrap_or(0);
    0.5 * 10f64.powi(-(decimals as i32))
}

fn level_of_http(code: i32) -> &'static str {
    match code {
        500.. => "error",
        400..=499 => "warn",
        _ => "info",
    }
}

fn level_of_grpc(code: &str) -> &'static str {
    match code {
        "OK" => "info",
        "NotFound" | "Unauthenticated" | "InvalidArgument" | "ResourceExhausted"
        | "PermissionDenied" | "AlreadyExists" | "FailedPrecondition" | "OutOfRange"
        | "Canceled" => "warn",
        _ => "error",
    }
}

/// Reads an access line of any of the formats obsgen writes, or `None` when `msg` is not
/// one (or is malformed: the caller counts that as a violation).
fn access(template: &str, msg: &str) -> Option<Access> {
    let number = |s: &str| s.parse::<f64>().ok().map(|v| (v, precision(s)));
    if template == "grpc.unary_call" {
        let code = field(msg, "\"grpc.code\":\"")?;
        let (ms, p) = number(field(msg, "\"grpc.time_ms\":")?)?;
        return Some(Access {
            level: level_of_grpc(code),
            latency_ms: ms,
            precision_ms: p,
            http: None,
        });
    }
    if template == "worker.message_processed" || template == "worker.job_completed" {
        let (ms, p) = number(field(msg, "\"duration_ms\":")?)?;
        let failed = field(msg, "\"status\":\"")? == "failed";
        return Some(Access {
            level: if failed { "error" } else { "info" },
            latency_ms: ms,
            precision_ms: p,
            http: None,
        });
    }
    // gunicorn's access log (Django, Flask): `"GET /x HTTP/1.1" 200 1234 "-" "ua" <µs>`.
    if let Some(at) = msg.find(" HTTP/1.1\" ") {
        let code: i32 = msg[at + 11..].split(' ').next()?.parse().ok()?;
        let us: f64 = msg.rsplit(' ').next()?.parse().ok()?;
        return Some(Access {
            level: level_of_http(code),
            latency_ms: us / 1000.0,
            precision_ms: 0.001,
            http: Some(code),
        });
    }
    let (code, (ms, p)) = if let Some(c) = field(msg, "\"status\":") {
        (c, number(field(msg, "\"duration_ms\":")?)?)
    } else {
        // Spring's RequestLoggingFilter: `status=200 duration=24ms`.
        let d = field(msg, " duration=")?.strip_suffix("ms")?;
        (field(msg, " status=")?, number(d)?)
    };
    let code: i32 = code.parse().ok()?;
    Some(Access {
        level: level_of_http(code),
        latency_ms: ms,
        precision_ms: p,
        http: Some(code),
    })
}

/// The level a log line writes in its message, in the `level` column's words, or `None`
/// when it writes none obsgen knows.
fn written_level(msg: &str) -> Option<&'static str> {
    let word = |w: &str| -> Option<&'static str> {
        Some(match w.to_ascii_lowercase().as_str() {
            "trace" => "trace",
            "debug" => "debug",
            "info" => "info",
            "warn" | "warning" => "warn",
            "error" => "error",
            "fatal" | "critical" | "panic" => "fatal",
            _ => return None,
        })
    };
    if msg.starts_with('{') {
        // pino writes numbers (10 trace … 60 fatal); the others a word.
        let v = field(msg, "\"level\":")?;
        return match v {
            "10" => Some("trace"),
            "20" => Some("debug"),
            "30" => Some("info"),
            "40" => Some("warn"),
            "50" => Some("error"),
            "60" => Some("fatal"),
            _ => word(v),
        };
    }
    // Spring Boot's console pattern: `<time> <LEVEL> 1 --- ...` (the level right-aligned);
    // Python's logging: `<date> <time>,<ms> <LEVEL> [logger] ...`.
    let mut tokens = msg.split_whitespace();
    let first = tokens.next()?;
    let second = tokens.next()?;
    if first.contains('T') {
        word(second)
    } else {
        word(tokens.next()?)
    }
}

fn log_lines(
    dir: &Path,
    files: &[String],
    tx: Option<&Transactions>,
    traces: &mut HashSet<u128>,
    spans: &mut HashSet<u64>,
) -> Result<Vec<Invariant>, Error> {
    const T: &str = "kubernetes/pod_logs";
    let mut written = Invariant::new(
        T,
        "level_as_written",
        "the level a line writes in its message (JSON level, pino number, Spring or Python \
         pattern) is its level column",
    );
    let mut status_level = Invariant::new(
        T,
        "access_level_of_status",
        "an access line's level is the one its outcome implies (HTTP 5xx, a failing gRPC \
         code or a failed job: error; 4xx or a client gRPC code: warn; else info), and its \
         status and latency can be read (a latency finite and >= 0)",
    );
    let mut agree = Invariant::new(
        "kubernetes/pod_logs × sentry/transactions",
        "access_line_matches_transaction",
        "an access line and the Sentry transaction of its span agree on the HTTP status and \
         on the duration (to the precision the line writes)",
    );
    let names = [
        "record_id",
        "level",
        "template_id",
        "message",
        "trace_id",
        "span_id",
    ];
    for rel in files {
        let b = read_columns(&dir.join(rel), &names)?;
        let id = col::<StringArray>(&b, "record_id")?;
        let level = col::<StringArray>(&b, "level")?;
        let template = col::<StringArray>(&b, "template_id")?;
        let msg = col::<StringArray>(&b, "message")?;
        let trace = col::<StringArray>(&b, "trace_id")?;
        let span = col::<StringArray>(&b, "span_id")?;
        for r in 0..b.num_rows() {
            let (m, lv) = (msg.value(r), level.value(r));
            let tp = crate::sources::kubernetes::templates::event_of(template.value(r));
            if let Some(w) = written_level(m) {
                written.check(w == lv, || {
                    format!("{}: level {lv}, the line writes {w}: {m}", id.value(r))
                });
            }
            if let Some(t) = opt_str(trace, r).and_then(hex128) {
                traces.insert(t);
            }
            let sp = opt_str(span, r).and_then(hex64);
            if let Some(s) = sp {
                spans.insert(s);
            }
            let is_access = (tp.ends_with(".access") && tp != "probe.access")
                || tp == "grpc.unary_call"
                || tp == "worker.message_processed"
                || tp == "worker.job_completed";
            if !is_access {
                continue;
            }
            let a = access(tp, m);
            status_level.check(
                a.as_ref().is_some_and(|a| {
                    a.level == lv && a.latency_ms.is_finite() && a.latency_ms >= 0.0
                }),
                || format!("{}: level {lv}: {m}", id.value(r)),
            );
            let (Some(a), Some(s), Some(tx)) = (a, sp, tx) else {
                continue;
            };
            let Some(&(http, ms)) = tx.by_span.get(&s) else {
                continue;
            };
            if a.http.is_none() {
                continue;
            }
            let close = (a.latency_ms - ms).abs() <= a.precision_ms + 0.0005 + 1e-9;
            agree.check(a.http == http && close, || {
                format!(
                    "{}: line {:?} {} ms, transaction {http:?} {ms} ms",
                    id.value(r),
                    a.http,
                    a.latency_ms
                )
            });
        }
    }
    let mut out = vec![written, status_level];
    if tx.is_some() {
        out.push(agree);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// sentry/errors

fn error_traces(
    dir: &Path,
    files: &[String],
    traces: &HashSet<u128>,
    spans: &HashSet<u64>,
) -> Result<Invariant, Error> {
    let mut inv = Invariant::new(
        "sentry/errors",
        "trace_and_span_exist",
        "every error event's trace_id is a trace of a transaction or of log lines, and its \
         span_id a span of one",
    );
    for rel in files {
        let b = read_columns(&dir.join(rel), &["record_id", "trace_id", "span_id"])?;
        let id = col::<StringArray>(&b, "record_id")?;
        let trace = col::<StringArray>(&b, "trace_id")?;
        let span = col::<StringArray>(&b, "span_id")?;
        for r in 0..b.num_rows() {
            let t = opt_str(trace, r).and_then(hex128);
            let s = opt_str(span, r).and_then(hex64);
            inv.check(
                t.is_some_and(|t| traces.contains(&t)) && s.is_none_or(|s| spans.contains(&s)),
                || {
                    format!(
                        "{}: trace {:?}, span {:?}",
                        id.value(r),
                        opt_str(trace, r),
                        opt_str(span, r)
                    )
                },
            );
        }
    }
    Ok(inv)
}

// ---------------------------------------------------------------------------------------
// cloudwatch: ALB RequestCount against the ALB access logs

const MINUTE_US: i64 = 60_000_000;

fn parse_time(s: &str) -> Result<i64, Error> {
    crate::time::parse_instant(s).ok_or_else(|| Error::Invalid(format!("not a time: {s}")))
}

/// The fields of an ALB access-log line: space-separated, a quoted field kept whole.
fn alb_fields(line: &str) -> Vec<&str> {
    let mut out = Vec::with_capacity(30);
    let mut rest = line;
    while !rest.is_empty() {
        rest = rest.trim_start_matches(' ');
        let end = if let Some(q) = rest.strip_prefix('"') {
            q.find('"').map(|i| i + 2).unwrap_or(rest.len())
        } else {
            rest.find(' ').unwrap_or(rest.len())
        };
        if end > 0 {
            out.push(&rest[..end]);
        }
        rest = &rest[end..];
    }
    out
}

/// Position of `request_creation_time` in an ALB access-log line.
const ALB_CREATION_FIELD: usize = 21;

fn alb_request_count(
    dir: &Path,
    metric_files: &[String],
    log_files: &[String],
    (start, end): (i64, i64),
) -> Result<Invariant, Error> {
    let mut inv = Invariant::new(
        "cloudwatch/metrics × cloudwatch/logs",
        "alb_access_lines_sample_request_count",
        "the access-log lines of an ALB are a uniform sample of the requests its RequestCount \
         (Sum, 60 s) counts (one in `requests_per_access_line`): in each minute at most \
         RequestCount lines whose request_creation_time falls in that minute reached a target \
         (requests rejected before a target is chosen, such as a 503 with no healthy target, \
         are logged but not counted), and in each hour the lines are within five standard \
         deviations (plus 2) of RequestCount times the range's share of lines to requests \
         (the range's last minute is skipped, as its responses can be logged after the range)",
    );
    // (load balancer, minute) → (RequestCount, access lines).
    let mut counts: BTreeMap<(String, i64), (f64, u64)> = BTreeMap::new();
    for rel in metric_files {
        let b = read_columns(
            &dir.join(rel),
            &[
                "timestamp",
                "namespace",
                "metric_name",
                "statistic",
                "period_seconds",
                "dimensions",
                "value",
            ],
        )?;
        let ts = col::<TimestampMicrosecondArray>(&b, "timestamp")?;
        let ns = col::<StringArray>(&b, "namespace")?;
        let name = col::<StringArray>(&b, "metric_name")?;
        let stat = col::<StringArray>(&b, "statistic")?;
        let period = col::<Int32Array>(&b, "period_seconds")?;
        let value = col::<Float64Array>(&b, "value")?;
        let dims = col::<ListArray>(&b, "dimensions")?;
        let pairs = dims
            .values()
            .as_any()
            .downcast_ref::<StructArray>()
            .ok_or_else(|| Error::Invalid("dimensions is not a list of structs".into()))?;
        let (dn, dv) = (
            pairs
                .column(0)
                .as_any()
                .downcast_ref::<StringArray>()
                .ok_or_else(|| Error::Invalid("dimensions.name is not a string".into()))?,
            pairs
                .column(1)
                .as_any()
                .downcast_ref::<StringArray>()
                .ok_or_else(|| Error::Invalid("dimensions.value is not a string".into()))?,
        );
        for r in 0..b.num_rows() {
            if ns.value(r) != "AWS/ApplicationELB"
                || name.value(r) != "RequestCount"
                || stat.value(r) != "Sum"
                || period.value(r) != 60
            {
                continue;
            }
            let offsets = dims.value_offsets();
            let range = offsets[r] as usize..offsets[r + 1] as usize;
            // The load balancer's own series: LoadBalancer alone (not per target group or
            // zone).
            if range.len() != 1 || dn.value(range.start) != "LoadBalancer" {
                continue;
            }
            let key = (
                dv.value(range.start).to_string(),
                ts.value(r).div_euclid(MINUTE_US),
            );
            counts.entry(key).or_default().0 += value.value(r);
        }
    }
    for rel in log_files {
        let b = read_columns(&dir.join(rel), &["timestamp", "log_group", "message"])?;
        let ts = col::<TimestampMicrosecondArray>(&b, "timestamp")?;
        let group = col::<StringArray>(&b, "log_group")?;
        let msg = col::<StringArray>(&b, "message")?;
        for r in 0..b.num_rows() {
            if !group.value(r).starts_with("/aws/alb/") {
                continue;
            }
            // `<type> <time> <elb> ...`: the third field names the load balancer.
            let fields = alb_fields(msg.value(r));
            let created = fields.get(ALB_CREATION_FIELD).copied().map(parse_time);
            let (Some(lb), Some(Ok(created))) = (fields.get(2), created) else {
                // Unreadable: a count that matches no minute.
                inv.check(false, || {
                    format!("unreadable ALB line at {}", iso(ts.value(r)))
                });
                continue;
            };
            // `target:port` is `-` when no target was chosen: not in RequestCount.
            if fields.get(4) == Some(&"-") {
                continue;
            }
            let key = (lb.to_string(), created.div_euclid(MINUTE_US));
            counts.entry(key).or_default().1 += 1;
        }
    }
    let (first, last) = (start.div_euclid(MINUTE_US), (end - 1).div_euclid(MINUTE_US));
    counts.retain(|(_, minute), _| *minute >= first && *minute < last);
    // Per load balancer: (requests, lines) over the range, and per hour.
    let mut totals: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    let mut hours: BTreeMap<(&str, i64), (f64, f64)> = BTreeMap::new();
    for ((lb, minute), (metric, lines)) in &counts {
        inv.check(*metric >= *lines as f64, || {
            format!(
                "{lb} {}: RequestCount {metric}, access lines {lines}",
                iso(minute * MINUTE_US)
            )
        });
        let t = totals.entry(lb.as_str()).or_default();
        t.0 += metric;
        t.1 += *lines as f64;
        let h = hours
            .entry((lb.as_str(), minute.div_euclid(60)))
            .or_default();
        h.0 += metric;
        h.1 += *lines as f64;
    }
    for ((lb, hour), (requests, lines)) in &hours {
        let (all, sampled) = totals[lb];
        let share = if all > 0.0 { sampled / all } else { 0.0 };
        let expected = requests * share;
        let sd = (requests * share * (1.0 - share)).sqrt();
        inv.check((lines - expected).abs() <= 5.0 * sd + 2.0, || {
            format!(
                "{lb} hour {}: {lines} access lines for RequestCount {requests}, {expected:.1} \
                 expected at the range's share {share:.5}",
                iso(hour * 60 * MINUTE_US)
            )
        });
    }
    Ok(inv)
}

// ---------------------------------------------------------------------------------------
// labels

const INCIDENTS: &str = "labels/incidents.parquet";
const EDGES: &str = "labels/incident_edges.parquet";

/// An incident's times (µs) and the services its edges reach from its root.
struct Listed {
    /// The phase boundaries inside the incident: onset, peak, recovery.
    phases: [i64; 3],
    signal: (i64, i64),
    reached: HashSet<String>,
}

impl Listed {
    /// The phase a labelled row at `t` carries.
    fn phase(&self, t: i64) -> &'static str {
        // Before the start is a precursor, at or after the end the recovery.
        let [onset, peak, recovery] = self.phases;
        if t < onset {
            "precursor"
        } else if t < peak {
            "onset"
        } else if t < recovery {
            "peak"
        } else {
            "recovery"
        }
    }
}

fn listed_incidents(dir: &Path) -> Result<HashMap<String, Listed>, Error> {
    let b = read_columns(
        &dir.join(INCIDENTS),
        &[
            "incident_id",
            "root_cause_entity",
            "onset",
            "peak",
            "recovery",
            "signal_start",
            "signal_end",
        ],
    )?;
    let id = col::<StringArray>(&b, "incident_id")?;
    let root = col::<StringArray>(&b, "root_cause_entity")?;
    let time = |name: &str| col::<TimestampMicrosecondArray>(&b, name);
    let (onset, peak, recovery) = (time("onset")?, time("peak")?, time("recovery")?);
    let (s0, s1) = (time("signal_start")?, time("signal_end")?);
    // Edges: incident → (src → dsts).
    let mut edges: HashMap<String, HashMap<String, Vec<String>>> = HashMap::new();
    if dir.join(EDGES).exists() {
        let e = read_columns(
            &dir.join(EDGES),
            &["incident_id", "src_entity", "dst_entity"],
        )?;
        let (ei, src, dst) = (
            col::<StringArray>(&e, "incident_id")?,
            col::<StringArray>(&e, "src_entity")?,
            col::<StringArray>(&e, "dst_entity")?,
        );
        for r in 0..e.num_rows() {
            edges
                .entry(ei.value(r).to_string())
                .or_default()
                .entry(src.value(r).to_string())
                .or_default()
                .push(dst.value(r).to_string());
        }
    }
    let mut out = HashMap::new();
    for r in 0..b.num_rows() {
        let mut reached = HashSet::new();
        let mut stack = vec![root.value(r).to_string()];
        let graph = edges.get(id.value(r));
        while let Some(node) = stack.pop() {
            if let Some(svc) = node.strip_prefix("service/") {
                reached.insert(svc.to_string());
            }
            for next in graph.and_then(|g| g.get(&node)).into_iter().flatten() {
                if !reached.contains(next.trim_start_matches("service/")) {
                    stack.push(next.clone());
                }
            }
        }
        out.insert(
            id.value(r).to_string(),
            Listed {
                phases: [onset.value(r), peak.value(r), recovery.value(r)],
                signal: (s0.value(r), s1.value(r)),
                reached,
            },
        );
    }
    Ok(out)
}

fn labels(
    dir: &Path,
    parts: &BTreeMap<(String, String), Vec<String>>,
) -> Result<Vec<Invariant>, Error> {
    const T: &str = "every table";
    let mut listed = Invariant::new(
        T,
        "incident_listed",
        "every incident a row carries is in labels/incidents.parquet",
    );
    let mut window = Invariant::new(
        T,
        "inside_signal_window",
        "every labelled row lies inside its incident's [signal_start, signal_end]",
    );
    let mut phase = Invariant::new(
        T,
        "phase_of_timestamp",
        "a labelled row's phase is the one its timestamp falls in (start, onset, peak, \
         recovery, end; before the start precursor, at or after the end recovery)",
    );
    let mut reach = Invariant::new(
        T,
        "propagated_on_edges",
        "a propagated row is on a service the incident's edges reach from its root",
    );
    let incidents = listed_incidents(dir)?;
    let names = [
        "record_id",
        "timestamp",
        "service",
        "incident_id",
        "anomaly_role",
        "phase",
    ];
    for ((source, table), files) in parts {
        for rel in files {
            let b = read_columns(&dir.join(rel), &names)?;
            let id = col::<StringArray>(&b, "record_id")?;
            let ts = col::<TimestampMicrosecondArray>(&b, "timestamp")?;
            let service = col::<StringArray>(&b, "service")?;
            let inc = col::<StringArray>(&b, "incident_id")?;
            let role = col::<StringArray>(&b, "anomaly_role")?;
            let ph = col::<StringArray>(&b, "phase")?;
            for r in 0..b.num_rows() {
                let Some(name) = opt_str(inc, r) else {
                    continue;
                };
                let t = ts.value(r);
                let ex = |what: String| {
                    format!("{source}/{table} {} {}: {name} {what}", id.value(r), iso(t))
                };
                let found = incidents.get(name);
                listed.check(found.is_some(), || ex("is not listed".into()));
                let Some(i) = found else {
                    continue;
                };
                window.check(t >= i.signal.0 && t <= i.signal.1, || {
                    ex(format!(
                        "outside its signal window {} .. {}",
                        iso(i.signal.0),
                        iso(i.signal.1)
                    ))
                });
                let want = i.phase(t);
                phase.check(ph.value(r) == want, || {
                    ex(format!("phase {}, the timestamp says {want}", ph.value(r)))
                });
                if role.value(r) == "propagated" {
                    let svc = opt_str(service, r);
                    reach.check(svc.is_some_and(|s| i.reached.contains(s)), || {
                        ex(format!("propagated on {svc:?}, not reached by its edges"))
                    });
                }
            }
        }
    }
    Ok(vec![listed, window, phase, reach])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_access_lines_of_every_format() {
        let cases = [
            (
                "chi.access",
                r#"{"level":"error","ts":1.5,"msg":"request completed","status":503,"duration_ms":3.85,"bytes":2}"#,
                "error",
                3.85,
                Some(503),
            ),
            (
                "django.access",
                r#"2026-11-02 00:22:06,954 ERROR [gunicorn.access] [trace_id=a span_id=b] 10.0.8.44 - - [02/Nov/2026:00:22:06 +0000] "GET /v1/users/7 HTTP/1.1" 404 12161 "-" "Go-http-client/1.1" 34414"#,
                "warn",
                34.414,
                Some(404),
            ),
            (
                "spring.access",
                "2026-11-02T00:08:12.999Z  INFO 1 --- [c] [x] o.s.web.filter.RequestLoggingFilter      : Completed request GET /v2/products/385061 status=200 duration=50ms",
                "info",
                50.0,
                Some(200),
            ),
            (
                "grpc.unary_call",
                r#"{"level":"error","grpc.code":"Unavailable","grpc.time_ms":6.862}"#,
                "error",
                6.862,
                None,
            ),
            (
                "worker.job_completed",
                r#"{"level":50,"msg":"job completed","duration_ms":62.9,"message_id":"x","status":"failed"}"#,
                "error",
                62.9,
                None,
            ),
        ];
        for (tp, msg, level, ms, http) in cases {
            let a = access(tp, msg).expect(tp);
            assert_eq!(a.level, level, "{tp}");
            assert!((a.latency_ms - ms).abs() < 1e-9, "{tp}: {}", a.latency_ms);
            assert_eq!(a.http, http, "{tp}");
        }
        assert!(access("chi.access", r#"{"level":"info","status":200}"#).is_none());
    }

    #[test]
    fn reads_the_level_every_format_writes() {
        let cases = [
            (r#"{"level":50,"time":1}"#, Some("error")),
            (r#"{"level":"warn","ts":1}"#, Some("warn")),
            (
                r#"{"@timestamp":"x","level":"DEBUG","level_value":10000}"#,
                Some("debug"),
            ),
            (
                "2026-11-02T00:00:12.400Z  WARN 1 --- [p] [x] gc : GC",
                Some("warn"),
            ),
            (
                "2026-11-02 05:19:32,266 ERROR [app] [trace_id=a] x",
                Some("error"),
            ),
            ("2026-11-02 05:19:32,266 WARNING [app] x", Some("warn")),
            ("something else entirely", None),
        ];
        for (msg, level) in cases {
            assert_eq!(written_level(msg), level, "{msg}");
        }
    }

    #[test]
    fn splits_an_alb_line_and_finds_its_creation_time() {
        let line = r#"h2 2026-11-02T00:00:00.503709Z app/api-alb/13cff96e404e2ad2 86.87.129.142:15073 10.0.8.44:8080 0.001 0.031 0.000 200 200 2645 23106 "POST https://api.example.com:443/api/v1/cart/items HTTP/2.0" "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X)" TLS_AES_128_GCM_SHA256 TLSv1.3 arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/x/5 "Root=1-6ae7d280-984332b4da323a7d3e843b0d" "api.example.com" "arn:aws:acm:us-east-1:1:certificate/a" 1 2026-11-02T00:00:00.471029Z "forward" "-" "-" "10.0.8.44:8080" "200" "-" "-" TID_5d75"#;
        let f = alb_fields(line);
        assert_eq!(f[2], "app/api-alb/13cff96e404e2ad2");
        assert_eq!(
            f[13],
            r#""Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X)""#
        );
        assert_eq!(f[ALB_CREATION_FIELD], "2026-11-02T00:00:00.471029Z");
        assert_eq!(f.last(), Some(&"TID_5d75"));
    }

    #[test]
    fn sentry_span_status_follows_the_sdk_table() {
        assert_eq!(span_status_of_http(200), "ok");
        assert_eq!(span_status_of_http(304), "ok");
        assert_eq!(span_status_of_http(400), "invalid_argument");
        assert_eq!(span_status_of_http(422), "invalid_argument");
        assert_eq!(span_status_of_http(404), "not_found");
        assert_eq!(span_status_of_http(502), "internal_error");
        assert_eq!(span_status_of_http(503), "unavailable");
        assert_eq!(span_status_of_http(504), "deadline_exceeded");
    }

    #[test]
    fn an_invariant_counts_and_keeps_a_few_examples() {
        let mut i = Invariant::new("t", "n", "r");
        for k in 0..10 {
            i.check(k % 2 == 0, || format!("row {k}"));
        }
        assert_eq!((i.checked, i.violations), (10, 5));
        assert_eq!(i.examples.len(), EXAMPLES);
        assert!(report(&[i]).contains("row 1"));
    }
}
