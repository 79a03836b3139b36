//! The Grafana JSON Lines export (`--format parquet,jsonl`) on a full default day of
//! `--sources grafana` (generated once per test process, 2 threads):
//! - grafana/panel_series: every line is an `/api/ds/query` response for one panel refresh,
//!   `{"results": {"A": {"status": 200, "frames": [...]}}}` plus `_record_ids` and
//!   `_request`; every data frame validates against Grafana's data frame JSON schema
//!   (draft-07, tests/fixtures/schemas/grafana-dataframe.schema.json); there is exactly one
//!   line per (dashboard, panel, timestamp); each frame holds its Parquet row (value,
//!   timestamp as epoch ms, series labels, name, unit, query);
//! - grafana/annotations: every line is an annotation object of `GET /api/annotations`,
//!   with Grafana's field names and types, holding its Parquet row;
//! - no label (key or incident id) in either payload.
//!
//! The files are processed one hour at a time (a day of parsed frames would not fit in
//! memory comfortably).

// Rows are read column-wise: indexing parallel columns by row is the clear way here.
#![allow(clippy::needless_range_loop)]

mod common;
mod native;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Float64Type, Int32Type, Int64Type, TimestampMicrosecondType};
use native::*;
use serde_json::Value;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const HOURS: usize = 24;

/// A full default day of the Grafana source, both formats.
fn day() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = common::fixture_root("obsgen-jsonl-grafana-").join("day");
        generate(&dir, "grafana", HOURS as u32, 2);
        dir
    })
}

/// The (JSONL path, Parquet batch, parsed JSON lines) of each hour of a table, in time order.
fn hours(table: &str) -> impl Iterator<Item = (PathBuf, RecordBatch, Vec<Value>)> {
    table_hours(day(), "grafana", table, HOURS)
}

fn strings(batch: &RecordBatch, name: &str) -> Vec<Option<String>> {
    column_text(batch, name)
}

fn micros(batch: &RecordBatch, name: &str) -> Vec<i64> {
    let c = batch.column_by_name(name).expect(name);
    c.as_primitive::<TimestampMicrosecondType>()
        .values()
        .to_vec()
}

/// `series_labels` (or any list of {name, value}) per row.
fn label_pairs(batch: &RecordBatch, name: &str) -> Vec<Vec<(String, String)>> {
    let list = batch.column_by_name(name).expect(name).as_list::<i32>();
    let items = list.values().as_struct();
    let (k, v) = (
        items.column(0).as_string::<i32>(),
        items.column(1).as_string::<i32>(),
    );
    (0..list.len())
        .map(|i| {
            let o = list.value_offsets();
            (o[i] as usize..o[i + 1] as usize)
                .map(|x| (k.value(x).to_string(), v.value(x).to_string()))
                .collect()
        })
        .collect()
}

/// The frames of a panel refresh line (asserting the envelope).
fn frames(line: &Value) -> &Vec<Value> {
    let results = line["results"]
        .as_object()
        .unwrap_or_else(|| panic!("no results object: {line}"));
    assert_eq!(results.len(), 1, "one query per panel: {line}");
    let (ref_id, r) = results.iter().next().expect("one result");
    assert_eq!(ref_id, "A");
    assert_eq!(keys(r), set(&["status", "frames"]), "{line}");
    assert_eq!(r["status"], 200);
    let frames = r["frames"].as_array().expect("frames array");
    assert!(!frames.is_empty(), "a refresh without frames: {line}");
    frames
}

#[test]
fn every_frame_validates_against_the_grafana_data_frame_schema() {
    let validator = draft7_validator("grafana-dataframe.schema.json");
    let mut n = 0;
    for (path, _, lines) in hours("panel_series") {
        let what = format!("frames of {}", path.display());
        n += assert_all_valid(&validator, &what, lines.iter().flat_map(frames));
    }
    // About 10K points an hour with the embedded configuration.
    assert!(n > 100_000, "only {n} frames in a day");
}

#[test]
fn panel_refreshes_are_query_responses_one_line_per_refresh() {
    let mut seen: HashSet<(String, i64, i64)> = HashSet::new();
    let (mut lines_total, mut rows_total) = (0, 0);
    for (path, batch, lines) in hours("panel_series") {
        let ids = strings(&batch, "record_id");
        let ts = micros(&batch, "timestamp");
        let uid = strings(&batch, "dashboard_uid");
        let pid = batch
            .column_by_name("panel_id")
            .expect("panel_id")
            .as_primitive::<Int32Type>();
        let ds = strings(&batch, "datasource");
        let ds_uid = strings(&batch, "datasource_uid");
        let mut row = 0;
        for (i, line) in lines.iter().enumerate() {
            let at = format!("{}:{}", path.display(), i + 1);
            assert_eq!(
                keys(line),
                set(&["results", "_record_ids", "_request"]),
                "{at}"
            );
            let frames = frames(line);
            let rids = keys_at(line, "/_record_ids");
            assert_eq!(rids.len(), frames.len(), "{at}: one record id per frame");
            let first = row;
            for (k, rid) in rids.iter().enumerate() {
                assert_eq!(Some(rid), ids[row].as_ref(), "{at}: record id {k}");
                // Every row of the line is of the same refresh.
                assert_eq!(
                    (&uid[row], pid.value(row), ts[row]),
                    (&uid[first], pid.value(first), ts[first]),
                    "{at}: frame {k} is of another refresh"
                );
                let f = &frames[k];
                assert_eq!(f["schema"]["refId"], "A", "{at}");
                assert_eq!(f["schema"]["meta"]["type"], "timeseries-multi", "{at}");
                let fields = f["schema"]["fields"].as_array().expect("fields");
                assert_eq!(fields.len(), 2, "{at}");
                assert_eq!(
                    (&fields[0]["name"], &fields[0]["type"]),
                    (&Value::from("Time"), &Value::from("time"))
                );
                assert_eq!(fields[0]["typeInfo"]["frame"], "time.Time");
                assert!(
                    fields[0]["config"]["interval"].as_u64().unwrap_or(0) >= 1000,
                    "{at}: Time interval"
                );
                assert_eq!(
                    (&fields[1]["name"], &fields[1]["type"]),
                    (&Value::from("Value"), &Value::from("number"))
                );
                assert_eq!(fields[1]["typeInfo"]["frame"], "float64");
                let values = f["data"]["values"].as_array().expect("values");
                assert_eq!(values.len(), 2, "{at}: two columns");
                assert_eq!(values[0].as_array().map(Vec::len), Some(1), "{at}");
                assert_eq!(values[1].as_array().map(Vec::len), Some(1), "{at}");
                row += 1;
            }
            // The refresh's key appears once in the whole day.
            let key = (
                uid[first].clone().expect("uid"),
                pid.value(first) as i64,
                ts[first],
            );
            assert!(seen.insert(key.clone()), "{at}: a second line for {key:?}");
            // The rows after the line are of another refresh (the line took them all).
            if row < ids.len() {
                assert_ne!(
                    (&uid[row], pid.value(row), ts[row]),
                    (&uid[first], pid.value(first), ts[first]),
                    "{at}: the refresh continues on the next line"
                );
            }
            // The request context.
            let req = &line["_request"];
            assert_eq!(
                keys(req),
                set(&["dashboardUID", "panelId", "from", "to", "datasource"]),
                "{at}"
            );
            assert_eq!(req["dashboardUID"].as_str(), uid[first].as_deref(), "{at}");
            assert_eq!(req["panelId"].as_i64(), Some(pid.value(first) as i64));
            let from: i64 = req["from"].as_str().expect("from").parse().expect("ms");
            let to: i64 = req["to"].as_str().expect("to").parse().expect("ms");
            assert_eq!(from, ts[first] / 1000, "{at}: from");
            assert!(to > from, "{at}: to");
            assert_eq!(req["datasource"]["type"].as_str(), ds[first].as_deref());
            assert_eq!(req["datasource"]["uid"].as_str(), ds_uid[first].as_deref());
        }
        assert_eq!(row, ids.len(), "{}: rows without a frame", path.display());
        lines_total += lines.len();
        rows_total += row;
    }
    assert!(
        lines_total > 1000 && rows_total > lines_total,
        "{lines_total} lines, {rows_total} rows"
    );
}

#[test]
fn frame_values_and_labels_equal_the_parquet_rows() {
    let mut n = 0;
    for (path, batch, lines) in hours("panel_series") {
        let ts = micros(&batch, "timestamp");
        let value = batch
            .column_by_name("value")
            .expect("value")
            .as_primitive::<Float64Type>();
        let labels = label_pairs(&batch, "series_labels");
        let name = strings(&batch, "series_name");
        let unit = strings(&batch, "unit");
        let query = strings(&batch, "query");
        let ds = strings(&batch, "datasource");
        let mut row = 0;
        for (i, line) in lines.iter().enumerate() {
            let at = format!("{}:{}", path.display(), i + 1);
            for f in frames(line) {
                let fields = &f["schema"]["fields"];
                let values = &f["data"]["values"];
                // Time: epoch milliseconds of the row's timestamp.
                assert_eq!(values[0][0].as_i64(), Some(ts[row] / 1000), "{at}: time");
                // Value: the row's value (the JSON text is the shortest round trip).
                let got = values[1][0].as_f64().expect("a number");
                let want = value.value(row);
                assert!(
                    (got - want).abs() <= want.abs() * 1e-15,
                    "{at}: value {got}, Parquet {want}"
                );
                // Labels: the series labels, exactly.
                let l = fields[1]["labels"].as_object().expect("labels");
                assert_eq!(l.len(), labels[row].len(), "{at}: labels");
                for (k, v) in &labels[row] {
                    assert_eq!(l.get(k).and_then(Value::as_str), Some(v.as_str()), "{at}");
                }
                let series = name[row].as_deref();
                assert_eq!(f["schema"]["name"].as_str(), series, "{at}");
                assert_eq!(
                    fields[1]["config"]["displayNameFromDS"].as_str(),
                    series,
                    "{at}"
                );
                assert_eq!(
                    fields[1]["config"]["unit"].as_str(),
                    unit[row].as_deref(),
                    "{at}"
                );
                let executed = f["schema"]["meta"]["executedQueryString"]
                    .as_str()
                    .expect("executedQueryString");
                let q = query[row].as_deref().expect("query");
                if ds[row].as_deref() == Some("prometheus") {
                    assert_eq!(executed, format!("Expr: {q}\nStep: 1m0s"), "{at}");
                    assert!(fields[1]["typeInfo"].get("nullable").is_none());
                } else {
                    assert_eq!(executed, q, "{at}");
                    assert_eq!(fields[1]["typeInfo"]["nullable"], true, "{at}");
                    let period: u64 =
                        serde_json::from_str::<Value>(q).expect("query JSON")["period"]
                            .as_str()
                            .expect("period")
                            .parse()
                            .expect("seconds");
                    assert_eq!(
                        fields[0]["config"]["interval"].as_u64(),
                        Some(period * 1000)
                    );
                }
                row += 1;
                n += 1;
            }
        }
        assert_eq!(row, batch.num_rows(), "{}", path.display());
    }
    assert!(n > 100_000, "only {n} points in a day");
}

#[test]
fn annotations_are_http_api_items_holding_their_rows() {
    let base = [
        "id",
        "alertId",
        "dashboardId",
        "dashboardUID",
        "panelId",
        "userId",
        "newState",
        "prevState",
        "created",
        "updated",
        "time",
        "timeEnd",
        "text",
        "tags",
        "login",
        "email",
        "avatarUrl",
        "data",
    ];
    let (mut total, mut alerts, mut regions) = (0, 0, 0);
    for (path, batch, lines) in hours("annotations") {
        assert_eq!(lines.len(), batch.num_rows(), "{}", path.display());
        let id = batch
            .column_by_name("annotation_id")
            .expect("annotation_id")
            .as_primitive::<Int64Type>();
        let ts = micros(&batch, "timestamp");
        let end = micros(&batch, "time_end");
        let dash = strings(&batch, "dashboard_uid");
        let panel = strings(&batch, "panel_id");
        let text = strings(&batch, "text");
        let login = strings(&batch, "login");
        let alert = strings(&batch, "alert_name");
        let new_state = strings(&batch, "new_state");
        let prev_state = strings(&batch, "prev_state");
        let tags = batch.column_by_name("tags").expect("tags").as_list::<i32>();
        for (i, a) in lines.iter().enumerate() {
            let at = format!("{}:{}", path.display(), i + 1);
            let mut want = set(&base);
            if alert[i].is_some() {
                want.insert("alertName");
            }
            assert_eq!(keys(a), want, "{at}: fields");
            for k in [
                "id",
                "alertId",
                "dashboardId",
                "panelId",
                "userId",
                "created",
                "updated",
                "time",
                "timeEnd",
            ] {
                assert!(a[k].is_u64(), "{at}: {k} is not a non-negative integer");
            }
            for k in [
                "newState",
                "prevState",
                "text",
                "login",
                "email",
                "avatarUrl",
            ] {
                assert!(a[k].is_string(), "{at}: {k} is not a string");
            }
            assert!(a["data"].is_object(), "{at}: data");
            let aid = a["id"].as_u64().expect("id");
            assert!(aid > 0 && aid < 1 << 53, "{at}: id {aid}");
            assert_eq!(aid as i64, id.value(i), "{at}: id");
            let (t, te) = (a["time"].as_i64().expect("time"), a["timeEnd"].as_i64());
            let te = te.expect("timeEnd");
            assert_eq!(t, ts[i] / 1000, "{at}: time");
            assert_eq!(te, end[i] / 1000, "{at}: timeEnd");
            assert!(t <= te, "{at}: time after timeEnd");
            regions += usize::from(t < te);
            let (created, updated) = (a["created"].as_i64(), a["updated"].as_i64());
            assert_eq!(created, Some(t), "{at}: created");
            assert!(updated >= created && updated <= Some(te), "{at}: updated");
            assert_eq!(a["text"].as_str(), text[i].as_deref(), "{at}: text");
            assert_eq!(a["login"].as_str(), login[i].as_deref(), "{at}: login");
            let got_tags: Vec<&str> = a["tags"]
                .as_array()
                .expect("tags")
                .iter()
                .map(|t| t.as_str().expect("string tag"))
                .collect();
            let row_tags = tags.value(i);
            let row_tags = row_tags.as_string::<i32>();
            let want_tags: Vec<&str> = (0..row_tags.len()).map(|k| row_tags.value(k)).collect();
            assert_eq!(got_tags, want_tags, "{at}: tags");
            // Dashboard annotations carry the dashboard and panel; others are org-wide.
            match &dash[i] {
                Some(d) => {
                    assert_eq!(a["dashboardUID"].as_str(), Some(d.as_str()), "{at}");
                    assert!(a["dashboardId"].as_u64() > Some(0), "{at}");
                    let p: u64 = panel[i].as_deref().expect("panel").parse().expect("int");
                    assert_eq!(a["panelId"].as_u64(), Some(p), "{at}");
                }
                None => {
                    assert!(a["dashboardUID"].is_null(), "{at}: dashboardUID");
                    assert_eq!(a["dashboardId"], 0, "{at}");
                    assert_eq!(a["panelId"], 0, "{at}");
                }
            }
            // Alerts: the rule, and its state change in Grafana's terms.
            match &alert[i] {
                Some(name) => {
                    alerts += 1;
                    assert_eq!(a["alertName"].as_str(), Some(name.as_str()), "{at}");
                    assert!(a["alertId"].as_u64() > Some(0), "{at}: alertId");
                    assert_eq!(t, te, "{at}: an alert is an instant");
                    for (k, v) in [("newState", &new_state[i]), ("prevState", &prev_state[i])] {
                        let s = v.as_deref().expect("alert state");
                        assert!(matches!(s, "Alerting" | "Normal" | "NoData"), "{at}");
                        assert_eq!(a[k].as_str(), Some(s), "{at}: {k}");
                    }
                    assert_eq!(a["userId"], 0, "{at}: alerting writes as no user");
                }
                None => {
                    assert_eq!(a["alertId"], 0, "{at}");
                    assert_eq!((&a["newState"], &a["prevState"]), (&"".into(), &"".into()));
                    assert!(a["userId"].as_u64() > Some(0), "{at}: userId");
                    let email = a["email"].as_str().expect("email");
                    assert_eq!(
                        email,
                        format!("{}@example.com", login[i].as_deref().unwrap_or(""))
                    );
                    let avatar = a["avatarUrl"].as_str().expect("avatarUrl");
                    let hash = avatar.strip_prefix("/avatar/").expect("/avatar/<md5>");
                    assert!(
                        hash.len() == 32 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
                        "{at}: avatar {avatar}"
                    );
                }
            }
            total += 1;
        }
    }
    assert!(total >= 24, "only {total} annotations in a day");
    assert!(regions > 0, "no region annotation in a day");
    assert!(alerts > 0, "no alert annotation in a day");
}

/// No payload carries the answer: no label column name as a key anywhere, no incident id.
#[test]
fn no_label_in_grafana_payloads() {
    const LABELS: [&str; 6] = [
        "incident_id",
        "incident_type",
        "is_anomaly",
        "anomaly_role",
        "phase",
        "template_id",
    ];
    fn walk(v: &Value, at: &str) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    assert!(!LABELS.contains(&k.as_str()), "{at}: key `{k}`");
                    walk(x, at);
                }
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, at)),
            Value::String(s) => assert!(!s.contains("INC-"), "{at}: an incident id: {s}"),
            _ => {}
        }
    }
    for table in ["panel_series", "annotations"] {
        for (path, _, lines) in hours(table) {
            for (i, v) in lines.iter().enumerate() {
                walk(v, &format!("{}:{}", path.display(), i + 1));
            }
        }
    }
}
