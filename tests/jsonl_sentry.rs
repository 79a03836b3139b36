//! The native JSON export of the Sentry tables (`--format jsonl`) on a full default day of
//! `--sources sentry`, generated once per test process:
//!
//! - every error event validates against Relay's event schema
//!   (`tests/fixtures/schemas/sentry-event.schema.json`, see PROVENANCE.txt there);
//! - every transaction validates against it once `start_timestamp`, `spans` and
//!   `measurements` (which the schema omits) are removed, and those keys are checked on
//!   their own: ordering of the times, span fields and types, ids, span statuses, span
//!   times inside the transaction, measurements as `{value: number, unit: string}`;
//! - each line holds the values of its Parquet row, field by field (so a wrong mapping
//!   fails), and no label.
//!
//! Files are read one hour at a time, so a day's JSON never sits in memory at once.

// Rows are read column-wise: indexing parallel columns by row is the clear way here.
#![allow(clippy::needless_range_loop)]

mod common;
mod native;

use arrow::array::{Array, AsArray, ListArray, RecordBatch, StringArray, StructArray};
use arrow::datatypes::{Float64Type, Int32Type, TimestampMicrosecondType};
use native::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const HOURS: u32 = 24;

/// Span statuses Sentry knows (FORMATS.md, Relay's `SpanStatus`).
const SPAN_STATUSES: [&str; 17] = [
    "ok",
    "cancelled",
    "unknown",
    "invalid_argument",
    "deadline_exceeded",
    "not_found",
    "already_exists",
    "permission_denied",
    "resource_exhausted",
    "failed_precondition",
    "aborted",
    "out_of_range",
    "unimplemented",
    "internal_error",
    "unavailable",
    "data_loss",
    "unauthenticated",
];

/// Names of the label columns: none may appear as a key of a payload.
const LABEL_KEYS: [&str; 6] = [
    "incident_id",
    "incident_type",
    "is_anomaly",
    "anomaly_role",
    "phase",
    "template_id",
];

fn dataset() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = common::fixture_root("obsgen-jsonl-sentry-").join("day");
        generate(&dir, "sentry", HOURS, 2);
        dir
    })
}

/// One hour of a table: its Parquet batch and its JSON lines, parsed.
struct Hour {
    file: PathBuf,
    batch: RecordBatch,
    lines: Vec<String>,
    values: Vec<Value>,
}

/// Calls `f` for each hour of `table`, in time order; returns the number of records.
fn each_hour(table: &str, mut f: impl FnMut(&Hour)) -> usize {
    let root = dataset();
    let pq = parquet_files(root, "sentry", table);
    let js = jsonl_files(root, "sentry", table);
    assert_eq!(pq.len(), HOURS as usize, "sentry/{table}: parquet files");
    assert_eq!(js.len(), HOURS as usize, "sentry/{table}: jsonl files");
    let mut n = 0;
    for (p, j) in pq.iter().zip(&js) {
        let lines = read_lines(j);
        let values: Vec<Value> = lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("{}:{}: not JSON: {e}", j.display(), i + 1))
            })
            .collect();
        let batch = read_parquet(p);
        assert_eq!(
            values.len(),
            batch.num_rows(),
            "{}: lines vs Parquet rows",
            j.display()
        );
        n += values.len();
        f(&Hour {
            file: j.clone(),
            batch,
            lines,
            values,
        });
    }
    n
}

fn strs<'a>(b: &'a RecordBatch, name: &str) -> &'a StringArray {
    b.column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .as_string::<i32>()
}

fn opt(a: &StringArray, i: usize) -> Option<&str> {
    (!a.is_null(i)).then(|| a.value(i))
}

fn list<'a>(b: &'a RecordBatch, name: &str) -> &'a ListArray {
    b.column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .as_list::<i32>()
}

fn items(l: &ListArray) -> &StructArray {
    l.values().as_struct()
}

fn item_strs<'a>(l: &'a ListArray, name: &str) -> &'a StringArray {
    items(l)
        .column_by_name(name)
        .unwrap_or_else(|| panic!("no list field {name}"))
        .as_string::<i32>()
}

fn range(l: &ListArray, i: usize) -> std::ops::Range<usize> {
    let o = l.value_offsets();
    o[i] as usize..o[i + 1] as usize
}

fn rfc3339(t: i64) -> String {
    let mut s = String::new();
    obsgen::time::write_rfc3339(&mut s, t, 6);
    s
}

/// A float of epoch seconds with microseconds, back in µs (exact: the error of the f64
/// is below 0.25 µs at these magnitudes).
fn micros(v: &Value, what: &str) -> i64 {
    let x = v
        .as_f64()
        .unwrap_or_else(|| panic!("{what} is not a number: {v}"));
    (x * 1e6).round() as i64
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn s<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

/// Panics when a label column's name is a key anywhere in `v`.
fn assert_no_label_keys(v: &Value, at: &str) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                assert!(
                    !LABEL_KEYS.contains(&k.as_str()),
                    "{at}: label key `{k}` in a payload"
                );
                assert_no_label_keys(x, at);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| assert_no_label_keys(x, at)),
        _ => {}
    }
}

/// The label values of row `i` must not appear in its line.
fn assert_no_label_values(h: &Hour, i: usize, at: &str) {
    for col in ["incident_id", "template_id"] {
        if let Some(x) = opt(strs(&h.batch, col), i) {
            assert!(
                !h.lines[i].contains(x),
                "{at}: the row's {col} `{x}` is in its payload"
            );
        }
    }
}

#[test]
fn every_error_event_validates_against_the_sentry_event_schema() {
    let validator = draft7_validator("sentry-event.schema.json");
    let mut n = 0;
    each_hour("errors", |h| {
        n += assert_all_valid(
            &validator,
            &format!("error events of {}", h.file.display()),
            &h.values,
        );
    });
    assert!(n > 1000, "only {n} error events in a day");
}

/// The schema is strict where it matters: a payload with a key it does not know, or a
/// field of the wrong type, fails it (so the validation above can fail).
#[test]
fn the_sentry_schema_rejects_a_broken_error_event() {
    let validator = draft7_validator("sentry-event.schema.json");
    let mut checked = false;
    each_hour("errors", |h| {
        if checked {
            return;
        }
        let mut v = h.values[0].clone();
        assert!(validator.is_valid(&v));
        v["incident_id"] = Value::from("inc-1");
        assert!(!validator.is_valid(&v), "an unknown root key passes");
        let mut v = h.values[0].clone();
        v["exception"]["values"][0]["mechanism"]["handled"] = Value::from("no");
        assert!(!validator.is_valid(&v), "a string `handled` passes");
        let mut v = h.values[0].clone();
        v["level"] = Value::from("critical");
        assert!(!validator.is_valid(&v), "an unknown level passes");
        checked = true;
    });
    assert!(checked);
}

#[test]
fn error_events_hold_their_parquet_rows() {
    let mut langs = std::collections::BTreeSet::new();
    let mut with_request = 0;
    let mut handled = 0;
    let n = each_hour("errors", |h| {
        let b = &h.batch;
        let event_id = strs(b, "event_id");
        let ts = b
            .column_by_name("timestamp")
            .expect("timestamp")
            .as_primitive::<TimestampMicrosecondType>();
        let exc_type = strs(b, "exception_type");
        let exc_value = strs(b, "exception_value");
        let frames = list(b, "stack_frames");
        let crumbs = list(b, "breadcrumbs");
        let tags = list(b, "tags");
        let method = strs(b, "http_method");
        let url = strs(b, "http_url");
        let status = b
            .column_by_name("http_status_code")
            .expect("status")
            .as_primitive::<Int32Type>();
        let handled_col = b.column_by_name("handled").expect("handled").as_boolean();
        let f_file = item_strs(frames, "filename");
        let f_abs = item_strs(frames, "abs_path");
        let f_fn = item_strs(frames, "function");
        let f_mod = item_strs(frames, "module");
        let f_ctx = item_strs(frames, "context_line");
        let f_line = items(frames)
            .column_by_name("lineno")
            .expect("lineno")
            .as_primitive::<Int32Type>();
        let f_col = items(frames)
            .column_by_name("colno")
            .expect("colno")
            .as_primitive::<Int32Type>();
        let f_app = items(frames)
            .column_by_name("in_app")
            .expect("in_app")
            .as_boolean();
        let b_ts = items(crumbs)
            .column_by_name("timestamp")
            .expect("crumb ts")
            .as_primitive::<TimestampMicrosecondType>();
        let b_msg = item_strs(crumbs, "message");
        let b_data = item_strs(crumbs, "data_json");
        let t_key = item_strs(tags, "key");
        let t_val = item_strs(tags, "value");

        for (i, v) in h.values.iter().enumerate() {
            let at = format!("{}:{}", h.file.display(), i + 1);
            assert_no_label_keys(v, &at);
            assert_no_label_values(h, i, &at);
            let id = s(v, "/event_id").unwrap_or_else(|| panic!("{at}: no event_id"));
            assert_eq!(id, event_id.value(i), "{at}: event_id");
            assert!(is_hex(id, 32), "{at}: event_id {id}");
            assert_eq!(
                s(v, "/timestamp"),
                Some(rfc3339(ts.value(i)).as_str()),
                "{at}"
            );
            for (key, col) in [
                ("/platform", "platform"),
                ("/level", "level"),
                ("/logger", "logger"),
                ("/transaction", "transaction"),
                ("/server_name", "server_name"),
                ("/release", "release"),
                ("/environment", "environment"),
                ("/sdk/name", "sdk_name"),
                ("/sdk/version", "sdk_version"),
                ("/user/id", "user_id"),
                ("/user/ip_address", "user_ip"),
                ("/contexts/trace/trace_id", "trace_id"),
                ("/contexts/trace/span_id", "span_id"),
                ("/contexts/trace/parent_span_id", "parent_span_id"),
                ("/exception/values/0/value", "exception_value"),
                ("/exception/values/0/mechanism/type", "mechanism"),
            ] {
                assert_eq!(s(v, key), opt(strs(b, col), i), "{at}: {key} vs `{col}`");
            }
            langs.insert(v["platform"].as_str().unwrap_or("").to_string());
            assert!(
                is_hex(s(v, "/contexts/trace/trace_id").unwrap_or(""), 32),
                "{at}"
            );
            assert!(
                is_hex(s(v, "/contexts/trace/span_id").unwrap_or(""), 16),
                "{at}"
            );
            assert_eq!(
                v["fingerprint"],
                serde_json::json!([strs(b, "fingerprint").value(i)]),
                "{at}: fingerprint"
            );
            if v.get("user").is_some() {
                assert!(v["user"].as_object().is_some_and(|u| !u.is_empty()), "{at}");
            }

            // The exception: the qualified type back from module + type.
            let excs = v["exception"]["values"]
                .as_array()
                .expect("exception.values");
            assert_eq!(excs.len(), 1, "{at}: one exception");
            let e = &excs[0];
            let ty = e["type"].as_str().expect("type");
            let qualified = match e.get("module").and_then(Value::as_str) {
                Some(m) => format!("{m}.{ty}"),
                None => ty.to_string(),
            };
            assert_eq!(qualified, exc_type.value(i), "{at}: exception type");
            assert_eq!(exc_value.value(i), e["value"], "{at}");
            assert_eq!(
                e["mechanism"]["handled"].as_bool(),
                Some(handled_col.value(i)),
                "{at}: handled"
            );
            handled += handled_col.value(i) as usize;
            let fs = e["stacktrace"]["frames"].as_array().expect("frames");
            let fr = range(frames, i);
            assert_eq!(fs.len(), fr.len(), "{at}: frame count");
            assert!(!fs.is_empty(), "{at}: no frames");
            for (f, k) in fs.iter().zip(fr) {
                assert_eq!(f["filename"], f_file.value(k), "{at}");
                assert_eq!(s(f, "/abs_path"), opt(f_abs, k), "{at}");
                assert_eq!(f["function"], f_fn.value(k), "{at}");
                assert_eq!(f["module"], f_mod.value(k), "{at}");
                assert_eq!(f["lineno"].as_i64(), Some(f_line.value(k) as i64), "{at}");
                assert_eq!(
                    f.get("colno").and_then(Value::as_i64),
                    (!f_col.is_null(k)).then(|| f_col.value(k) as i64),
                    "{at}"
                );
                assert_eq!(f["in_app"].as_bool(), Some(f_app.value(k)), "{at}");
                assert_eq!(s(f, "/context_line"), opt(f_ctx, k), "{at}");
                // No template placeholder left in a path or module.
                for key in ["filename", "abs_path", "module"] {
                    let x = f.get(key).and_then(Value::as_str).unwrap_or("");
                    assert!(!x.contains('{'), "{at}: frame {key} `{x}`");
                }
            }
            let cs = v["breadcrumbs"]["values"].as_array().expect("breadcrumbs");
            let cr = range(crumbs, i);
            assert_eq!(cs.len(), cr.len(), "{at}: breadcrumb count");
            let event_ts = ts.value(i);
            for (c, k) in cs.iter().zip(cr) {
                assert_eq!(s(c, "/timestamp"), Some(rfc3339(b_ts.value(k)).as_str()));
                assert!(
                    b_ts.value(k) <= event_ts,
                    "{at}: breadcrumb after the event"
                );
                for key in ["type", "category", "level"] {
                    assert_eq!(c[key], item_strs(crumbs, key).value(k), "{at}: {key}");
                }
                assert_eq!(s(c, "/message"), opt(b_msg, k), "{at}");
                let data: Option<Value> =
                    opt(b_data, k).map(|d| serde_json::from_str(d).expect("data_json"));
                assert_eq!(c.get("data"), data.as_ref(), "{at}: breadcrumb data");
            }

            // Tags: an object, the pairs of the column in order.
            let tv = v["tags"].as_object().expect("tags object");
            let tr = range(tags, i);
            assert_eq!(tv.len(), tr.len(), "{at}: tag count (duplicate keys?)");
            for ((tk, tval), k) in tv.iter().zip(tr) {
                assert_eq!(tk, t_key.value(k), "{at}: tag order");
                assert_eq!(tval, t_val.value(k), "{at}: tag {tk}");
            }
            // Contexts agree with the tags Sentry derives from them.
            assert_eq!(v["contexts"]["os"]["name"], tv["os.name"], "{at}");
            assert_eq!(v["contexts"]["runtime"]["name"], tv["runtime.name"], "{at}");
            assert_eq!(
                format!(
                    "{} {}",
                    s(v, "/contexts/runtime/name").unwrap_or(""),
                    s(v, "/contexts/runtime/version").unwrap_or("")
                ),
                tv["runtime"].as_str().unwrap_or(""),
                "{at}: runtime"
            );

            // The request, and the response status.
            let m = opt(method, i);
            assert_eq!(s(v, "/request/method"), m, "{at}");
            assert_eq!(s(v, "/request/url"), opt(url, i), "{at}");
            let code = (!status.is_null(i)).then(|| status.value(i) as i64);
            assert_eq!(
                v.pointer("/contexts/response/status_code")
                    .and_then(Value::as_i64),
                code,
                "{at}"
            );
            with_request += m.is_some() as usize;
            let op = s(v, "/contexts/trace/op").unwrap_or("");
            assert!(
                ["http.server", "grpc.server", "queue.process"].contains(&op),
                "{at}: op {op}"
            );
            assert_eq!(op == "http.server", m.is_some(), "{at}: op {op} vs method");
            // An unhandled exception failed the request's span; a handled one leaves it open.
            match s(v, "/contexts/trace/status") {
                Some(st) => {
                    assert!(!handled_col.value(i), "{at}: status on a handled event");
                    assert!(SPAN_STATUSES.contains(&st) && st != "ok", "{at}: {st}");
                }
                None => assert!(handled_col.value(i), "{at}: no trace status"),
            }
        }
    });
    assert!(n > 1000, "{n} error events");
    assert!(
        with_request > 0 && with_request < n,
        "{with_request} with request"
    );
    assert!(handled > 0 && handled < n, "{handled} handled");
    for l in ["go", "java", "node", "python"] {
        assert!(langs.contains(l), "no {l} error event: {langs:?}");
    }
}

/// Transactions against Relay's schema, without the keys it omits.
#[test]
fn every_transaction_validates_without_start_timestamp_spans_and_measurements() {
    let validator = draft7_validator("sentry-event.schema.json");
    let mut n = 0;
    each_hour("transactions", |h| {
        let stripped: Vec<Value> = h
            .values
            .iter()
            .map(|v| {
                let mut v = v.clone();
                let o = v.as_object_mut().expect("object");
                assert!(o.remove("start_timestamp").is_some(), "no start_timestamp");
                assert!(o.remove("spans").is_some(), "no spans");
                o.remove("measurements");
                v
            })
            .collect();
        n += assert_all_valid(
            &validator,
            &format!("transactions of {}", h.file.display()),
            &stripped,
        );
    });
    assert!(n > 10_000, "only {n} transactions in a day");
}

/// `start_timestamp`, `spans` and `measurements`, which the schema leaves out, checked on
/// their own.
#[test]
fn transaction_times_spans_and_measurements_are_well_formed() {
    let mut spans_seen = 0;
    let mut with_measurements = 0;
    let mut ops = std::collections::BTreeSet::new();
    let n = each_hour("transactions", |h| {
        for (i, v) in h.values.iter().enumerate() {
            let at = format!("{}:{}", h.file.display(), i + 1);
            assert_eq!(v["type"], "transaction", "{at}");
            let start = micros(&v["start_timestamp"], "start_timestamp");
            let end = micros(&v["timestamp"], "timestamp");
            assert!(start <= end, "{at}: start_timestamp after timestamp");
            let trace = s(v, "/contexts/trace/trace_id").unwrap_or("");
            let root = s(v, "/contexts/trace/span_id").unwrap_or("");
            assert!(is_hex(trace, 32), "{at}: trace_id {trace}");
            assert!(is_hex(root, 16), "{at}: span_id {root}");
            if let Some(p) = v.pointer("/contexts/trace/parent_span_id") {
                assert!(is_hex(p.as_str().unwrap_or(""), 16), "{at}: parent {p}");
            }
            let st = s(v, "/contexts/trace/status").unwrap_or("");
            assert!(SPAN_STATUSES.contains(&st), "{at}: status {st}");

            let spans = v["spans"]
                .as_array()
                .unwrap_or_else(|| panic!("{at}: spans"));
            let mut ids: Vec<&str> = vec![root];
            ids.extend(spans.iter().filter_map(|x| x["span_id"].as_str()));
            for sp in spans {
                spans_seen += 1;
                let o = sp.as_object().unwrap_or_else(|| panic!("{at}: span {sp}"));
                for key in [
                    "span_id",
                    "parent_span_id",
                    "trace_id",
                    "op",
                    "description",
                    "status",
                ] {
                    assert!(
                        o.get(key).is_some_and(Value::is_string),
                        "{at}: span `{key}` missing or not a string: {sp}"
                    );
                }
                assert!(
                    o.get("data").is_some_and(Value::is_object),
                    "{at}: span data"
                );
                assert!(is_hex(s(sp, "/span_id").unwrap_or(""), 16), "{at}: {sp}");
                let parent = s(sp, "/parent_span_id").unwrap_or("");
                assert!(is_hex(parent, 16), "{at}: {sp}");
                assert!(ids.contains(&parent), "{at}: span parent outside the tree");
                assert_eq!(s(sp, "/trace_id"), Some(trace), "{at}: span trace_id");
                let sst = s(sp, "/status").unwrap_or("");
                assert!(SPAN_STATUSES.contains(&sst), "{at}: span status {sst}");
                let s0 = micros(&sp["start_timestamp"], "span start_timestamp");
                let s1 = micros(&sp["timestamp"], "span timestamp");
                assert!(s0 <= s1, "{at}: span ends before it starts: {sp}");
                assert!(
                    start <= s0 && s1 <= end,
                    "{at}: span [{s0}, {s1}] outside the transaction [{start}, {end}]"
                );
                ops.insert(s(sp, "/op").unwrap_or("").to_string());
            }
            if let Some(m) = v.get("measurements") {
                with_measurements += 1;
                let m = m
                    .as_object()
                    .unwrap_or_else(|| panic!("{at}: measurements"));
                assert!(!m.is_empty(), "{at}: empty measurements");
                for (name, x) in m {
                    assert!(x["value"].is_number(), "{at}: measurement {name}: {x}");
                    assert!(x["unit"].is_string(), "{at}: measurement {name}: {x}");
                    assert_eq!(x.as_object().map(|o| o.len()), Some(2), "{at}: {x}");
                }
                assert_eq!(v["contexts"]["trace"]["op"], "pageload", "{at}");
            }
        }
    });
    assert!(
        n > 10_000 && spans_seen > n,
        "{n} transactions, {spans_seen} spans"
    );
    assert!(with_measurements > 0, "no pageload with measurements");
    for op in ["http.client", "db", "cache.get", "browser"] {
        assert!(ops.contains(op), "no `{op}` span: {ops:?}");
    }
}

#[test]
fn transactions_hold_their_parquet_rows() {
    let n = each_hour("transactions", |h| {
        let b = &h.batch;
        let ts = |name: &str| {
            b.column_by_name(name)
                .expect("ts")
                .as_primitive::<TimestampMicrosecondType>()
        };
        let (end, start) = (ts("timestamp"), ts("start_timestamp"));
        let status = b
            .column_by_name("http_status_code")
            .expect("status")
            .as_primitive::<Int32Type>();
        let spans = list(b, "spans");
        let sp_start = items(spans)
            .column_by_name("start_timestamp")
            .expect("span start")
            .as_primitive::<TimestampMicrosecondType>();
        let sp_dur = items(spans)
            .column_by_name("duration_ms")
            .expect("span duration")
            .as_primitive::<Float64Type>();
        let meas = list(b, "measurements");
        let m_name = item_strs(meas, "name");
        let m_unit = item_strs(meas, "unit");
        let m_value = items(meas)
            .column_by_name("value")
            .expect("value")
            .as_primitive::<Float64Type>();
        for (i, v) in h.values.iter().enumerate() {
            let at = format!("{}:{}", h.file.display(), i + 1);
            assert_no_label_keys(v, &at);
            assert_no_label_values(h, i, &at);
            for (key, col) in [
                ("/event_id", "event_id"),
                ("/transaction", "transaction"),
                ("/transaction_info/source", "transaction_source"),
                ("/platform", "platform"),
                ("/server_name", "server_name"),
                ("/release", "release"),
                ("/environment", "environment"),
                ("/user/id", "user_id"),
                ("/sdk/name", "sdk_name"),
                ("/sdk/version", "sdk_version"),
                ("/contexts/trace/trace_id", "trace_id"),
                ("/contexts/trace/span_id", "span_id"),
                ("/contexts/trace/parent_span_id", "parent_span_id"),
                ("/contexts/trace/op", "op"),
                ("/contexts/trace/status", "status"),
            ] {
                assert_eq!(s(v, key), opt(strs(b, col), i), "{at}: {key} vs `{col}`");
            }
            assert_eq!(micros(&v["timestamp"], "timestamp"), end.value(i), "{at}");
            assert_eq!(
                micros(&v["start_timestamp"], "start_timestamp"),
                start.value(i),
                "{at}"
            );
            let code = (!status.is_null(i)).then(|| status.value(i) as i64);
            assert_eq!(
                v.pointer("/contexts/response/status_code")
                    .and_then(Value::as_i64),
                code,
                "{at}"
            );
            let browser = v["platform"] == "javascript";
            assert_eq!(v.get("tags").is_none(), browser, "{at}: tags");
            assert_eq!(v.pointer("/contexts/runtime").is_none(), browser, "{at}");

            let sv = v["spans"].as_array().expect("spans");
            let sr = range(spans, i);
            assert_eq!(sv.len(), sr.len(), "{at}: span count");
            for (x, k) in sv.iter().zip(sr) {
                for key in ["span_id", "parent_span_id", "op", "description", "status"] {
                    assert_eq!(x[key], item_strs(spans, key).value(k), "{at}: span {key}");
                }
                let s0 = micros(&x["start_timestamp"], "span start");
                assert_eq!(s0, sp_start.value(k), "{at}: span start");
                assert_eq!(
                    micros(&x["timestamp"], "span end") - s0,
                    (sp_dur.value(k) * 1000.0).round() as i64,
                    "{at}: span duration"
                );
            }
            let mr = range(meas, i);
            match v.get("measurements").and_then(Value::as_object) {
                None => assert!(mr.is_empty(), "{at}: measurements dropped"),
                Some(m) => {
                    assert_eq!(m.len(), mr.len(), "{at}: measurement count");
                    for ((name, x), k) in m.iter().zip(mr) {
                        assert_eq!(name, m_name.value(k), "{at}");
                        assert_eq!(x["value"].as_f64(), Some(m_value.value(k)), "{at}");
                        assert_eq!(x["unit"], m_unit.value(k), "{at}");
                    }
                }
            }
        }
    });
    assert!(n > 10_000, "{n} transactions");
}
