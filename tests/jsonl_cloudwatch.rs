//! The CloudWatch JSON Lines export (`--format parquet,jsonl`) on a full default day of
//! `--sources cloudwatch` (generated once per test process, 2 threads):
//! - cloudwatch/metrics: every line is a `PutMetricDataInput` of the botocore service model
//!   (tests/fixtures/schemas/aws-cloudwatch-botocore-shapes-subset.json, checked by a
//!   small recursive shape checker below), one datum holding its Parquet row;
//! - cloudwatch/logs: every line is a `FilteredLogEvent` (and an `OutputLogEvent`, and the
//!   `InputLogEvent` of a `PutLogEventsRequest` to its group) holding its Parquet row, with
//!   event ids unique per hour; every Embedded Metric Format document in a Lambda group
//!   validates against the EMF schema (draft-07), declares metrics that are present as
//!   numbers, and reports the figures of its invocation (one metrics document per
//!   invocation, a ColdStart document exactly for cold starts, failure counts exactly for
//!   failed ones, times and counts of its REPORT and application lines);
//! - cloudwatch/alarms: every line is an EventBridge "CloudWatch Alarm State Change"
//!   event holding its row, with a parseable reasonData and CloudWatch's timestamp
//!   format, and each event's previousState is the state of the alarm's previous event;
//! - cloudwatch/insights_queries: every line is a Logs `QueryInfo` with statistics,
//!   holding its row;
//! - no label (key or incident id) in any payload, EMF documents included.

// Rows are read column-wise: indexing parallel columns by row is the clear way here.
#![allow(clippy::needless_range_loop)]

mod common;
mod native;

use arrow::array::{Array, AsArray, RecordBatch, StringArray};
use arrow::datatypes::{Float64Type, Int32Type, Int64Type, TimestampMicrosecondType};
use native::*;
use serde_json::{Value, json};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const HOURS: usize = 24;

/// A full default day of the CloudWatch source, both formats.
fn day() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = common::fixture_root("obsgen-jsonl-cw-").join("day");
        generate(&dir, "cloudwatch", HOURS as u32, 2);
        dir
    })
}

/// The (JSONL path, Parquet batch, parsed lines) of each hour of a table, in time order;
/// the line count equals the row count.
fn hours(table: &str) -> impl Iterator<Item = (PathBuf, RecordBatch, Vec<Value>)> {
    table_hours(day(), "cloudwatch", table, HOURS).inspect(|(j, batch, lines)| {
        assert_eq!(
            lines.len(),
            batch.num_rows(),
            "{}: lines and Parquet rows",
            j.display()
        );
    })
}

fn strs<'a>(b: &'a RecordBatch, name: &str) -> &'a StringArray {
    b.column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .as_string::<i32>()
}

fn micros<'a>(b: &'a RecordBatch, name: &str) -> &'a [i64] {
    b.column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .as_primitive::<TimestampMicrosecondType>()
        .values()
}

fn f64s<'a>(b: &'a RecordBatch, name: &str) -> &'a [f64] {
    b.column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .as_primitive::<Float64Type>()
        .values()
}

fn i32s<'a>(b: &'a RecordBatch, name: &str) -> &'a [i32] {
    b.column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .as_primitive::<Int32Type>()
        .values()
}

fn i64s<'a>(b: &'a RecordBatch, name: &str) -> &'a [i64] {
    b.column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .as_primitive::<Int64Type>()
        .values()
}

/// The (name, value) pairs of row `i` of the `dimensions` column.
fn dims_of(b: &RecordBatch, i: usize) -> Vec<(String, String)> {
    let list = b
        .column_by_name("dimensions")
        .expect("dimensions")
        .as_list::<i32>();
    let item = list.value(i);
    let s = item.as_struct();
    let (n, v) = (
        s.column(0).as_string::<i32>(),
        s.column(1).as_string::<i32>(),
    );
    (0..s.len())
        .map(|k| (n.value(k).to_string(), v.value(k).to_string()))
        .collect()
}

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    k.sort_unstable();
    k
}

fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `2026-11-23T10:22:03.090+0000`, CloudWatch's alarm timestamp format.
fn is_cw_time(s: &str) -> bool {
    let b = s.as_bytes();
    s.len() == 28
        && s.ends_with("+0000")
        && b.iter().enumerate().all(|(i, &c)| match i {
            4 | 7 => c == b'-',
            10 => c == b'T',
            13 | 16 => c == b':',
            19 => c == b'.',
            23 => c == b'+',
            _ if i < 23 => c.is_ascii_digit(),
            _ => true,
        })
}

/// Epoch microseconds of a `2026-11-23T10:22:03.090+0000` timestamp.
fn parse_cw_time(s: &str) -> i64 {
    chrono::DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.3f%z")
        .unwrap_or_else(|e| panic!("{s}: {e}"))
        .timestamp_micros()
}

// ---------------------------------------------------------------------------------------
// A checker for the AWS service-model shapes (botocore `service-2.json`): structures
// (required members, no unknown member but non-AWS keys prefixed `_`), lists and maps
// (min/max), strings (min/max length, enum, pattern, matched whole), numbers, timestamps.

struct Shapes {
    shapes: serde_json::Map<String, Value>,
    patterns: RefCell<HashMap<String, jsonschema::Validator>>,
}

impl Shapes {
    /// The shapes of one service of the fixture (`cloudwatch` or `logs`).
    fn load(service: &str) -> Shapes {
        let all = fixture_schema("aws-cloudwatch-botocore-shapes-subset.json");
        let shapes = all[service]["shapes"]
            .as_object()
            .unwrap_or_else(|| panic!("no {service} shapes"))
            .clone();
        Shapes {
            shapes,
            patterns: RefCell::new(HashMap::new()),
        }
    }

    /// Whether `s` matches the whole of `pattern` (ECMA 262, through jsonschema).
    fn matches(&self, pattern: &str, s: &str) -> bool {
        let mut cache = self.patterns.borrow_mut();
        let v = cache.entry(pattern.to_string()).or_insert_with(|| {
            jsonschema::draft7::new(
                &json!({"type": "string", "pattern": format!("^(?:{pattern})$")}),
            )
            .unwrap_or_else(|e| panic!("pattern {pattern}: {e}"))
        });
        v.is_valid(&Value::String(s.to_string()))
    }

    /// Problems of `v` as shape `name`, pushed to `errs` with their JSON path.
    fn check(&self, name: &str, v: &Value, path: &str, errs: &mut Vec<String>) {
        let Some(shape) = self.shapes.get(name) else {
            errs.push(format!("{path}: unknown shape {name}"));
            return;
        };
        let ty = shape["type"].as_str().unwrap_or("");
        let min = shape["min"].as_f64();
        let max = shape["max"].as_f64();
        let mut err = |m: String| errs.push(format!("{path}: {m} ({name})"));
        let size_ok =
            |n: usize| min.is_none_or(|m| n as f64 >= m) && max.is_none_or(|m| n as f64 <= m);
        match ty {
            "structure" => {
                let Some(obj) = v.as_object() else {
                    return err(format!("not an object: {v}"));
                };
                for r in shape["required"].as_array().into_iter().flatten() {
                    let r = r.as_str().unwrap_or("");
                    if obj.get(r).is_none_or(Value::is_null) {
                        err(format!("required member {r} missing"));
                    }
                }
                for (k, x) in obj {
                    if k.starts_with('_') {
                        continue;
                    }
                    match shape["members"][k]["shape"].as_str() {
                        Some(m) => self.check(m, x, &format!("{path}.{k}"), errs),
                        None => errs.push(format!("{path}: unknown member {k} ({name})")),
                    }
                }
            }
            "list" => {
                let Some(a) = v.as_array() else {
                    return err(format!("not a list: {v}"));
                };
                if !size_ok(a.len()) {
                    err(format!("{} items, outside [{min:?}, {max:?}]", a.len()));
                }
                let m = shape["member"]["shape"].as_str().unwrap_or("");
                for (i, x) in a.iter().enumerate() {
                    self.check(m, x, &format!("{path}[{i}]"), errs);
                }
            }
            "map" => {
                let Some(o) = v.as_object() else {
                    return err(format!("not a map: {v}"));
                };
                if !size_ok(o.len()) {
                    err(format!("{} entries, outside [{min:?}, {max:?}]", o.len()));
                }
                let (ks, vs) = (
                    shape["key"]["shape"].as_str().unwrap_or(""),
                    shape["value"]["shape"].as_str().unwrap_or(""),
                );
                for (k, x) in o {
                    self.check(ks, &Value::String(k.clone()), &format!("{path}<key>"), errs);
                    self.check(vs, x, &format!("{path}.{k}"), errs);
                }
            }
            "string" => {
                let Some(s) = v.as_str() else {
                    return err(format!("not a string: {v}"));
                };
                if !size_ok(s.chars().count()) {
                    err(format!(
                        "length {} outside [{min:?}, {max:?}]",
                        s.chars().count()
                    ));
                }
                if let Some(e) = shape["enum"].as_array()
                    && !e.iter().any(|x| x == v)
                {
                    err(format!("{s:?} not in the enum"));
                }
                if let Some(p) = shape["pattern"].as_str()
                    && !self.matches(p, s)
                {
                    err(format!("{s:?} does not match {p}"));
                }
            }
            "double" | "float" => {
                if !v.is_number() {
                    err(format!("not a number: {v}"));
                }
            }
            "integer" | "long" => match v.as_i64() {
                Some(n)
                    if min.is_none_or(|m| n as f64 >= m) && max.is_none_or(|m| n as f64 <= m) => {}
                Some(n) => err(format!("{n} outside [{min:?}, {max:?}]")),
                None => err(format!("not an integer: {v}")),
            },
            "timestamp" => match v {
                // The JSON protocol's epoch seconds (checked to be seconds, not ms).
                Value::Number(n) => {
                    let s = n.as_f64().unwrap_or(-1.0);
                    if !(946_684_800.0..4_102_444_800.0).contains(&s) {
                        err(format!("{s} is not an epoch-seconds time of 2000-2100"));
                    }
                }
                Value::String(s) if chrono::DateTime::parse_from_rfc3339(s).is_ok() => {}
                _ => err(format!("not a timestamp: {v}")),
            },
            "boolean" => {
                if !v.is_boolean() {
                    err(format!("not a boolean: {v}"));
                }
            }
            other => err(format!("unsupported shape type {other}")),
        }
    }

    /// Checks every value, panicking with the first problems (and how many failed).
    fn assert_all(&self, root: &str, what: &str, values: &[Value]) {
        let mut failed = 0;
        let mut shown = Vec::new();
        for v in values {
            let mut errs = Vec::new();
            self.check(root, v, "$", &mut errs);
            if !errs.is_empty() {
                failed += 1;
                if shown.len() < 3 {
                    shown.push(format!("{}\n  in {v}", errs.join("\n  ")));
                }
            }
        }
        assert!(
            failed == 0,
            "{failed} of {} {what} fail {root}:\n{}",
            values.len(),
            shown.join("\n")
        );
    }
}

/// The checker can fail: it rejects what AWS rejects.
#[test]
fn the_shape_checker_rejects_invalid_requests() {
    let cw = Shapes::load("cloudwatch");
    let logs = Shapes::load("logs");
    let errs = |s: &Shapes, root: &str, v: Value| {
        let mut e = Vec::new();
        s.check(root, &v, "$", &mut e);
        e
    };
    let good = json!({"Namespace": "AWS/RDS", "MetricData": [{"MetricName": "CPUUtilization",
        "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": "orders-db"}],
        "Timestamp": 1_795_392_000, "Value": 1.5, "Unit": "Percent", "StorageResolution": 60}],
        "_record_id": "x"});
    assert_eq!(
        errs(&cw, "PutMetricDataInput", good.clone()),
        Vec::<String>::new()
    );
    let bad = [
        json!({"MetricData": []}),
        json!({"Namespace": ":x", "MetricData": []}),
        json!({"Namespace": "A", "MetricData": [{"Value": 1}]}),
        json!({"Namespace": "A", "MetricData": [{"MetricName": "m", "Unit": "Percents"}]}),
        json!({"Namespace": "A", "MetricData": [{"MetricName": "m", "Value": "1"}]}),
        json!({"Namespace": "A", "MetricData": [{"MetricName": "m", "Timestamp": 1_795_392_000_000i64}]}),
        json!({"Namespace": "A", "MetricData": [{"MetricName": "m", "Dimensions": [{"Name": "n"}]}]}),
        json!({"Namespace": "A", "MetricData": [{"MetricName": "m", "Dimensions":
            (0..31).map(|i| json!({"Name": format!("n{i}"), "Value": "v"})).collect::<Vec<_>>()}]}),
        json!({"Namespace": "A", "MetricData": [{"MetricName": "m", "StorageResolution": 0}]}),
        json!({"Namespace": "A", "Extra": 1}),
    ];
    for b in bad {
        assert!(
            !errs(&cw, "PutMetricDataInput", b.clone()).is_empty(),
            "accepted {b}"
        );
    }
    let event = json!({"logStreamName": "s", "timestamp": 1, "message": "m", "ingestionTime": 2, "eventId": "1"});
    assert!(errs(&logs, "FilteredLogEvent", event).is_empty());
    for b in [
        json!({"logStreamName": "a:b"}),
        json!({"message": ""}),
        json!({"timestamp": -1}),
        json!({"timestamp": "1"}),
        json!({"logGroupName": "/aws/x"}),
    ] {
        assert!(
            !errs(&logs, "FilteredLogEvent", b.clone()).is_empty(),
            "accepted {b}"
        );
    }
    let put = |g: &str| json!({"logGroupName": g, "logStreamName": "s", "logEvents": [{"timestamp": 1, "message": "m"}]});
    assert!(errs(&logs, "PutLogEventsRequest", put("/aws/lambda/f")).is_empty());
    assert!(!errs(&logs, "PutLogEventsRequest", put("/aws/lambda/f g")).is_empty());
    assert!(
        !errs(
            &logs,
            "PutLogEventsRequest",
            json!({"logGroupName": "g", "logStreamName": "s", "logEvents": []})
        )
        .is_empty()
    );
}

// ---------------------------------------------------------------------------------------

#[test]
fn metric_datums_are_put_metric_data_requests_holding_their_rows() {
    let shapes = Shapes::load("cloudwatch");
    let mut total = 0;
    for (j, b, lines) in hours("metrics") {
        shapes.assert_all("PutMetricDataInput", "metric lines", &lines);
        let (rid, ts, ns, metric, stat, value, unit, period) = (
            strs(&b, "record_id"),
            micros(&b, "timestamp"),
            strs(&b, "namespace"),
            strs(&b, "metric_name"),
            strs(&b, "statistic"),
            f64s(&b, "value"),
            strs(&b, "unit"),
            i32s(&b, "period_seconds"),
        );
        for (i, v) in lines.iter().enumerate() {
            let at = || format!("{}:{}", j.display(), i + 1);
            assert_eq!(
                keys(v),
                [
                    "MetricData",
                    "Namespace",
                    "_period",
                    "_record_id",
                    "_statistic"
                ],
                "{}",
                at()
            );
            let data = v["MetricData"].as_array().expect("MetricData");
            assert_eq!(data.len(), 1, "{}: one datum", at());
            let d = &data[0];
            assert_eq!(
                keys(d),
                [
                    "Dimensions",
                    "MetricName",
                    "StorageResolution",
                    "Timestamp",
                    "Unit",
                    "Value"
                ],
                "{}",
                at()
            );
            assert_eq!(v["_record_id"], rid.value(i), "{}", at());
            assert_eq!(v["Namespace"], ns.value(i), "{}", at());
            assert_eq!(d["MetricName"], metric.value(i), "{}", at());
            let dims: Vec<(String, String)> = d["Dimensions"]
                .as_array()
                .expect("Dimensions")
                .iter()
                .map(|x| {
                    (
                        x["Name"].as_str().unwrap().into(),
                        x["Value"].as_str().unwrap().into(),
                    )
                })
                .collect();
            assert_eq!(dims, dims_of(&b, i), "{}", at());
            assert!(!dims.is_empty(), "{}: no dimensions", at());
            assert_eq!(d["Timestamp"].as_i64(), Some(ts[i] / 1_000_000), "{}", at());
            assert_eq!(ts[i] % 1_000_000, 0, "{}: period start on a second", at());
            assert_eq!(d["Value"].as_f64(), Some(value[i]), "{}", at());
            assert_eq!(d["Unit"], unit.value(i), "{}", at());
            assert_eq!(d["StorageResolution"], 60, "{}", at());
            assert_eq!(v["_statistic"], stat.value(i), "{}", at());
            assert!(
                ["Sum", "Average", "Minimum", "Maximum", "SampleCount"].contains(&stat.value(i)),
                "{}",
                at()
            );
            assert_eq!(v["_period"].as_i64(), Some(period[i] as i64), "{}", at());
            assert_eq!(
                (ts[i] / 1_000_000) % period[i] as i64,
                0,
                "{}: period start aligned",
                at()
            );
        }
        total += lines.len();
    }
    assert!(total > 100_000, "{total} datapoints in a day");
}

#[test]
fn log_events_are_filter_log_events_holding_their_rows() {
    let shapes = Shapes::load("logs");
    let mut total = 0;
    let mut groups: HashSet<String> = HashSet::new();
    for (j, b, lines) in hours("logs") {
        let (group, stream, ts, msg, ing, eid) = (
            strs(&b, "log_group"),
            strs(&b, "log_stream"),
            micros(&b, "timestamp"),
            strs(&b, "message"),
            micros(&b, "ingestion_time"),
            strs(&b, "event_id"),
        );
        let mut filtered = Vec::with_capacity(lines.len());
        let mut output = Vec::with_capacity(lines.len());
        let mut puts = Vec::with_capacity(lines.len());
        let mut ids: HashSet<&str> = HashSet::new();
        for (i, v) in lines.iter().enumerate() {
            let at = || format!("{}:{}", j.display(), i + 1);
            assert_eq!(
                keys(v),
                [
                    "eventId",
                    "ingestionTime",
                    "logGroupName",
                    "logStreamName",
                    "message",
                    "timestamp"
                ],
                "{}",
                at()
            );
            assert_eq!(v["logGroupName"], group.value(i), "{}", at());
            assert_eq!(v["logStreamName"], stream.value(i), "{}", at());
            assert_eq!(
                v["timestamp"].as_i64(),
                Some(ts[i].div_euclid(1000)),
                "{}",
                at()
            );
            assert_eq!(v["message"], msg.value(i), "{}", at());
            assert_eq!(
                v["ingestionTime"].as_i64(),
                Some(ing[i].div_euclid(1000)),
                "{}",
                at()
            );
            assert!(
                v["ingestionTime"].as_i64() >= v["timestamp"].as_i64(),
                "{}",
                at()
            );
            let id = v["eventId"].as_str().expect("eventId");
            assert_eq!(id, eid.value(i), "{}", at());
            assert!(
                id.len() == 56 && id.bytes().all(|c| c.is_ascii_digit()),
                "{}: eventId {id}",
                at()
            );
            assert!(
                ids.insert(eid.value(i)),
                "{}: eventId {id} twice in the hour",
                at()
            );
            groups.insert(group.value(i).to_string());
            let mut ev = v.clone();
            ev.as_object_mut().unwrap().remove("logGroupName");
            output.push(json!({
                "timestamp": v["timestamp"], "message": v["message"], "ingestionTime": v["ingestionTime"]
            }));
            puts.push(json!({
                "logGroupName": v["logGroupName"], "logStreamName": v["logStreamName"],
                "logEvents": [{"timestamp": v["timestamp"], "message": v["message"]}]
            }));
            filtered.push(ev);
        }
        shapes.assert_all("FilteredLogEvent", "log events", &filtered);
        shapes.assert_all("OutputLogEvent", "log events", &output);
        // The group and stream as PutLogEvents takes them (LogGroupName's pattern).
        shapes.assert_all("PutLogEventsRequest", "log events", &puts);
        shapes.assert_all(
            "FilterLogEventsResponse",
            "log event pages",
            &[json!({ "events": filtered })],
        );
        total += lines.len();
    }
    assert!(total > 100_000, "{total} log events in a day");
    for g in ["/aws/lambda/", "/aws/rds/", "/aws/alb/", "/aws/vpc/"] {
        assert!(groups.iter().any(|x| x.starts_with(g)), "no {g} group");
    }
}

/// One Lambda invocation as its lines tell it.
#[derive(Default)]
struct Inv {
    function: String,
    start: bool,
    /// REPORT duration (ms) and whether it has an Init Duration.
    report: Option<(f64, bool)>,
    error: bool,
    app: Option<String>,
    metrics: Vec<Value>,
    cold: Vec<Value>,
}

/// A metric's value in an EMF document: a number, or a list of 1-100 numbers (one value).
fn emf_value(doc: &Value, name: &str) -> Option<f64> {
    match &doc[name] {
        Value::Number(n) => n.as_f64(),
        Value::Array(a) if a.len() == 1 => a[0].as_f64(),
        _ => None,
    }
}

#[test]
fn emf_documents_validate_and_report_their_invocations() {
    let validator = draft7_validator("aws-cloudwatch-emf.schema.json");
    let mut docs: Vec<Value> = Vec::new();
    let mut invs: HashMap<String, Inv> = HashMap::new();
    for (j, b, lines) in hours("logs") {
        let (tmpl, req) = (strs(&b, "template_id"), strs(&b, "request_id"));
        for (i, v) in lines.iter().enumerate() {
            let at = || format!("{}:{}", j.display(), i + 1);
            let group = v["logGroupName"].as_str().unwrap();
            let Some(function) = group.strip_prefix("/aws/lambda/") else {
                assert!(!tmpl.value(i).starts_with("lambda."), "{}", at());
                continue;
            };
            let m = v["message"].as_str().unwrap();
            let t = tmpl.value(i);
            let inv = invs.entry(req.value(i).to_string()).or_default();
            inv.function = function.to_string();
            // Every JSON message is an EMF document, and every EMF row is JSON.
            let emf = m.starts_with('{');
            assert_eq!(emf, t.starts_with("lambda.emf."), "{}: {t} {m}", at());
            // Application, error and metric lines have an id per runtime and function.
            let t = ["lambda.error", "lambda.app.info", "lambda.emf.cold_start"]
                .into_iter()
                .find(|p| t.starts_with(p))
                .unwrap_or(t);
            match t {
                "lambda.start" => inv.start = true,
                "lambda.error" => inv.error = true,
                "lambda.app.info" => inv.app = Some(m.to_string()),
                "lambda.report" | "lambda.report.cold_start" => {
                    let d: f64 = m
                        .split("\tDuration: ")
                        .nth(1)
                        .and_then(|x| x.split(" ms").next())
                        .and_then(|x| x.parse().ok())
                        .unwrap_or_else(|| panic!("{}: REPORT duration in {m}", at()));
                    inv.report = Some((d, m.contains("Init Duration: ")));
                }
                _ => {}
            }
            if !emf {
                continue;
            }
            let doc: Value = serde_json::from_str(m)
                .unwrap_or_else(|e| panic!("{}: EMF message is not JSON: {e}\n{m}", at()));
            assert_eq!(
                doc["_aws"]["Timestamp"],
                v["timestamp"],
                "{}: _aws.Timestamp is the event time",
                at()
            );
            // Every declared metric is present as a number (or a list of numbers), every
            // dimension as a string, and a metric is declared once.
            let mut declared = HashSet::new();
            for d in doc["_aws"]["CloudWatchMetrics"]
                .as_array()
                .expect("directives")
            {
                let ns = d["Namespace"].as_str().unwrap_or("");
                assert!(!ns.starts_with("AWS/"), "{}: reserved namespace {ns}", at());
                for set in d["Dimensions"].as_array().expect("Dimensions") {
                    for k in set.as_array().expect("DimensionSet") {
                        let k = k.as_str().expect("dimension name");
                        assert!(doc[k].is_string(), "{}: dimension {k} missing", at());
                    }
                }
                for metric in d["Metrics"].as_array().expect("Metrics") {
                    let name = metric["Name"].as_str().expect("Name");
                    assert!(declared.insert(name.to_string()), "{}: {name} twice", at());
                    match &doc[name] {
                        Value::Number(_) => {}
                        Value::Array(a) => assert!(
                            !a.is_empty() && a.len() <= 100 && a.iter().all(Value::is_number),
                            "{}: {name} values {a:?}",
                            at()
                        ),
                        other => panic!("{}: metric {name} is {other}", at()),
                    }
                }
            }
            assert!(!declared.is_empty(), "{}: no metric declared", at());
            assert_eq!(doc["service"], function, "{}: service dimension", at());
            if t == "lambda.emf.cold_start" {
                assert_eq!(doc["function_name"], function, "{}", at());
                assert_eq!(emf_value(&doc, "ColdStart"), Some(1.0), "{}", at());
                inv.cold.push(doc.clone());
            } else {
                assert!(doc.get("ColdStart").is_none(), "{}", at());
                inv.metrics.push(doc.clone());
            }
            docs.push(doc);
        }
    }
    let n = assert_all_valid(&validator, "EMF documents", &docs);
    assert!(n > 10_000, "{n} EMF documents in a day");

    // Each invocation seen whole in the day (START and REPORT) printed one metrics
    // document, a ColdStart document exactly when cold, with its own figures.
    let (mut whole, mut cold, mut failed, mut with_app) = (0, 0, 0, 0);
    for (id, inv) in &invs {
        let (true, Some((duration, init))) = (inv.start, inv.report) else {
            continue;
        };
        whole += 1;
        let f = &inv.function;
        assert_eq!(inv.metrics.len(), 1, "{f} {id}: metrics documents");
        assert_eq!(
            inv.cold.len(),
            init as usize,
            "{f} {id}: ColdStart documents"
        );
        cold += init as usize;
        let doc = &inv.metrics[0];
        let (time_metric, factor, fail, ok) = if f.contains("image") || f.contains("resize") {
            ("ProcessingTime", 0.8, "ResizeFailures", "ImagesResized")
        } else if f.contains("pdf") || f.contains("invoice") {
            ("RenderTime", 0.85, "RenderFailures", "InvoicesRendered")
        } else {
            (
                "ProcessingTime",
                0.8,
                "ProcessingErrors",
                "RecordsProcessed",
            )
        };
        let ms = emf_value(doc, time_metric).unwrap_or_else(|| panic!("{f} {id}: {time_metric}"));
        assert_eq!(
            ms,
            (duration * factor).floor(),
            "{f} {id}: {time_metric} of {duration} ms"
        );
        assert_eq!(
            emf_value(doc, fail).is_some(),
            inv.error,
            "{f} {id}: failure metric and error line"
        );
        assert_eq!(emf_value(doc, ok).is_some(), !inv.error, "{f} {id}: {ok}");
        failed += inv.error as usize;
        if let Some(app) = &inv.app {
            with_app += 1;
            // The application line reports the same figures.
            assert!(
                app.ends_with(&format!(" in {ms} ms")),
                "{f} {id}: {app} vs {ms}"
            );
            if let Some(pages) = emf_value(doc, "PagesRendered") {
                assert!(app.contains(&format!("({pages} pages)")), "{f} {id}: {app}");
            }
            if let Some(records) = emf_value(doc, "RecordsProcessed") {
                assert!(
                    app.contains(&format!("Processed {records} record")),
                    "{app}"
                );
            }
        }
    }
    assert!(whole > 10_000, "{whole} whole invocations");
    assert!(
        cold > 0 && with_app > 0,
        "cold starts {cold}, app lines {with_app}"
    );
    eprintln!("{n} EMF documents; {whole} invocations, {cold} cold, {failed} failed");
}

#[test]
fn alarm_events_are_eventbridge_state_changes_holding_their_rows() {
    let cfg = obsgen::config::Config::defaults().expect("default configuration");
    let cluster = &cfg.services.cluster;
    let states = ["OK", "ALARM", "INSUFFICIENT_DATA"];
    // alarm -> its previous event's state object
    let mut last: HashMap<String, Value> = HashMap::new();
    let (mut total, mut chained) = (0, 0);
    for (j, b, lines) in hours("alarms") {
        let (ts, eid, name, arn, state, prev, reason, data, ns, metric, stat, period) = (
            micros(&b, "timestamp"),
            strs(&b, "event_id"),
            strs(&b, "alarm_name"),
            strs(&b, "alarm_arn"),
            strs(&b, "state"),
            strs(&b, "previous_state"),
            strs(&b, "reason"),
            strs(&b, "reason_data"),
            strs(&b, "namespace"),
            strs(&b, "metric_name"),
            strs(&b, "statistic"),
            i32s(&b, "period_seconds"),
        );
        for (i, v) in lines.iter().enumerate() {
            let at = || format!("{}:{}", j.display(), i + 1);
            assert_eq!(
                keys(v),
                [
                    "account",
                    "detail",
                    "detail-type",
                    "id",
                    "region",
                    "resources",
                    "source",
                    "time",
                    "version"
                ],
                "{}",
                at()
            );
            assert_eq!(v["version"], "0", "{}", at());
            assert_eq!(v["id"], eid.value(i), "{}", at());
            assert!(is_uuid(eid.value(i)), "{}: id {}", at(), eid.value(i));
            assert_eq!(
                v["detail-type"],
                "CloudWatch Alarm State Change",
                "{}",
                at()
            );
            assert_eq!(v["source"], "aws.cloudwatch", "{}", at());
            assert_eq!(v["account"], cluster.account_id.as_str(), "{}", at());
            assert_eq!(v["region"], cluster.region.as_str(), "{}", at());
            let time = v["time"].as_str().expect("time");
            let t = chrono::DateTime::parse_from_rfc3339(time)
                .unwrap_or_else(|e| panic!("{}: time {time}: {e}", at()));
            assert!(time.ends_with('Z') && time.len() == 20, "{}: {time}", at());
            assert_eq!(t.timestamp(), ts[i].div_euclid(1_000_000), "{}", at());
            assert_eq!(v["resources"], json!([arn.value(i)]), "{}", at());
            assert_eq!(
                arn.value(i),
                format!(
                    "arn:aws:cloudwatch:{}:{}:alarm:{}",
                    cluster.region,
                    cluster.account_id,
                    name.value(i)
                ),
                "{}",
                at()
            );
            let d = &v["detail"];
            assert_eq!(
                keys(d),
                ["alarmName", "configuration", "previousState", "state"],
                "{}",
                at()
            );
            assert_eq!(d["alarmName"], name.value(i), "{}", at());
            for key in ["state", "previousState"] {
                let s = &d[key];
                assert_eq!(
                    keys(s),
                    ["reason", "reasonData", "timestamp", "value"],
                    "{}",
                    at()
                );
                assert!(
                    states.contains(&s["value"].as_str().unwrap_or("")),
                    "{}: {key} value {}",
                    at(),
                    s["value"]
                );
                let rd: Value = serde_json::from_str(s["reasonData"].as_str().expect("reasonData"))
                    .unwrap_or_else(|e| panic!("{}: {key}.reasonData is not JSON: {e}", at()));
                assert_eq!(rd["version"], "1.0", "{}", at());
                assert!(
                    is_cw_time(rd["queryDate"].as_str().unwrap_or("")),
                    "{}",
                    at()
                );
                assert_eq!(rd["queryDate"], s["timestamp"], "{}: {key} queryDate", at());
                assert_eq!(rd["statistic"], stat.value(i), "{}", at());
                assert_eq!(rd["period"].as_i64(), Some(period[i] as i64), "{}", at());
                assert!(rd["recentDatapoints"].is_array(), "{}", at());
                assert!(rd["evaluatedDatapoints"].is_array(), "{}", at());
                let stamp = s["timestamp"].as_str().expect("timestamp");
                assert!(is_cw_time(stamp), "{}: {key} timestamp {stamp}", at());
                let r = s["reason"].as_str().expect("reason");
                assert!(
                    r.starts_with("Threshold Crossed: ") || r.starts_with("Insufficient Data: "),
                    "{}: {key} reason {r}",
                    at()
                );
            }
            let s = &d["state"];
            assert_eq!(s["value"], state.value(i), "{}", at());
            assert_eq!(s["reason"], reason.value(i), "{}", at());
            assert_eq!(s["reasonData"], data.value(i), "{}", at());
            assert_eq!(
                parse_cw_time(s["timestamp"].as_str().unwrap()),
                ts[i] - ts[i] % 1000,
                "{}",
                at()
            );
            let p = &d["previousState"];
            assert_eq!(p["value"], prev.value(i), "{}", at());
            assert_ne!(p["value"], s["value"], "{}: a change", at());
            assert!(
                parse_cw_time(p["timestamp"].as_str().unwrap()) < ts[i],
                "{}: previous state after the change",
                at()
            );
            // The previous state is the alarm's previous event's state, exactly.
            if let Some(prev_state) = last.get(name.value(i)) {
                assert_eq!(
                    p,
                    prev_state,
                    "{}: previousState of {}",
                    at(),
                    name.value(i)
                );
                chained += 1;
            }
            last.insert(name.value(i).to_string(), s.clone());
            let c = &d["configuration"];
            assert_eq!(keys(c), ["description", "metrics"], "{}", at());
            assert!(
                !c["description"].as_str().unwrap_or("").is_empty(),
                "{}",
                at()
            );
            let ms = c["metrics"].as_array().expect("metrics");
            assert_eq!(ms.len(), 1, "{}", at());
            let m = &ms[0];
            assert_eq!(keys(m), ["id", "metricStat", "returnData"], "{}", at());
            assert!(is_uuid(m["id"].as_str().unwrap_or("")), "{}", at());
            assert_eq!(m["returnData"], true, "{}", at());
            let st = &m["metricStat"];
            assert_eq!(keys(st), ["metric", "period", "stat"], "{}", at());
            assert_eq!(st["period"].as_i64(), Some(period[i] as i64), "{}", at());
            assert_eq!(st["stat"], stat.value(i), "{}", at());
            assert_eq!(st["metric"]["namespace"], ns.value(i), "{}", at());
            assert_eq!(st["metric"]["name"], metric.value(i), "{}", at());
            let dims: BTreeMap<String, String> = dims_of(&b, i).into_iter().collect();
            let got: BTreeMap<String, String> = st["metric"]["dimensions"]
                .as_object()
                .expect("dimensions")
                .iter()
                .map(|(k, x)| (k.clone(), x.as_str().unwrap().to_string()))
                .collect();
            assert_eq!(got, dims, "{}", at());
            total += 1;
        }
    }
    assert!(total > 0, "no alarm state change in a day");
    assert!(chained > 0, "no alarm changed state twice in a day");
    eprintln!("{total} alarm events, {chained} chained to the previous one");
}

#[test]
fn insights_queries_are_query_infos_holding_their_rows() {
    let statuses = [
        "Scheduled",
        "Running",
        "Complete",
        "Failed",
        "Cancelled",
        "Timeout",
        "Unknown",
    ];
    let mut total = 0;
    for (j, b, lines) in hours("insights_queries") {
        let (ts, qid, q, status, start, end, matched, scanned, bytes) = (
            micros(&b, "timestamp"),
            strs(&b, "query_id"),
            strs(&b, "query_string"),
            strs(&b, "status"),
            micros(&b, "query_start_time"),
            micros(&b, "query_end_time"),
            i64s(&b, "records_matched"),
            i64s(&b, "records_scanned"),
            i64s(&b, "bytes_scanned"),
        );
        let groups = b
            .column_by_name("log_groups")
            .expect("log_groups")
            .as_list::<i32>();
        for (i, v) in lines.iter().enumerate() {
            let at = || format!("{}:{}", j.display(), i + 1);
            assert_eq!(
                keys(v),
                [
                    "_endTime",
                    "_logGroupNames",
                    "_startTime",
                    "createTime",
                    "logGroupName",
                    "queryId",
                    "queryLanguage",
                    "queryString",
                    "statistics",
                    "status"
                ],
                "{}",
                at()
            );
            assert_eq!(v["queryId"], qid.value(i), "{}", at());
            assert!(is_uuid(qid.value(i)), "{}", at());
            assert_eq!(v["queryLanguage"], "CWLI", "{}", at());
            assert_eq!(v["queryString"], q.value(i), "{}", at());
            assert!(
                !q.value(i).is_empty() && q.value(i).len() <= 10_000,
                "{}",
                at()
            );
            assert_eq!(v["status"], status.value(i), "{}", at());
            assert!(statuses.contains(&status.value(i)), "{}", at());
            assert_eq!(
                v["createTime"].as_i64(),
                Some(ts[i].div_euclid(1000)),
                "{}",
                at()
            );
            let list = groups.value(i);
            let names: Vec<&str> = list.as_string::<i32>().iter().flatten().collect();
            assert!(!names.is_empty(), "{}", at());
            assert_eq!(v["logGroupName"], names[0], "{}", at());
            assert_eq!(v["_logGroupNames"], json!(names), "{}", at());
            let s = &v["statistics"];
            assert_eq!(
                keys(s),
                [
                    "bytesScanned",
                    "logGroupsScanned",
                    "recordsMatched",
                    "recordsScanned"
                ],
                "{}",
                at()
            );
            assert_eq!(
                s["recordsMatched"].as_f64(),
                Some(matched[i] as f64),
                "{}",
                at()
            );
            assert_eq!(
                s["recordsScanned"].as_f64(),
                Some(scanned[i] as f64),
                "{}",
                at()
            );
            assert_eq!(
                s["bytesScanned"].as_f64(),
                Some(bytes[i] as f64),
                "{}",
                at()
            );
            assert_eq!(
                s["logGroupsScanned"].as_f64(),
                Some(names.len() as f64),
                "{}",
                at()
            );
            assert!(matched[i] <= scanned[i], "{}", at());
            assert_eq!(
                v["_startTime"].as_i64(),
                Some(start[i] / 1_000_000),
                "{}",
                at()
            );
            assert_eq!(v["_endTime"].as_i64(), Some(end[i] / 1_000_000), "{}", at());
            assert!(start[i] < end[i] && end[i] <= ts[i], "{}", at());
            total += 1;
        }
    }
    assert!(total > 0, "no insights query in a day");
}

/// Walks a JSON value (and the JSON text of EMF messages), failing on any label key.
fn assert_no_label(v: &Value, at: &dyn Fn() -> String) {
    const LABEL_KEYS: [&str; 6] = [
        "incident_id",
        "incident_type",
        "is_anomaly",
        "anomaly_role",
        "phase",
        "template_id",
    ];
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                assert!(!LABEL_KEYS.contains(&k.as_str()), "{}: label key {k}", at());
                assert_no_label(x, at);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| assert_no_label(x, at)),
        Value::String(s) => {
            assert!(!s.contains("INC-"), "{}: an incident id in {s}", at());
            if s.starts_with("{\"_aws\"")
                && let Ok(doc) = serde_json::from_str::<Value>(s)
            {
                assert_no_label(&doc, at);
            }
        }
        _ => {}
    }
}

#[test]
fn no_label_in_any_cloudwatch_payload() {
    let mut labelled = 0;
    for table in ["metrics", "logs", "alarms", "insights_queries"] {
        for (j, b, lines) in hours(table) {
            let inc = strs(&b, "incident_id");
            for (i, v) in lines.iter().enumerate() {
                assert_no_label(v, &|| format!("{}:{}", j.display(), i + 1));
                labelled += inc.is_valid(i) as usize;
            }
        }
    }
    // The day has incidents: labelled rows whose payloads stayed clean.
    assert!(labelled > 0, "no labelled CloudWatch row in a day");
}
