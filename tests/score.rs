//! `obsgen score` and `obsgen split` on a generated run: oracle predictions score 1,
//! hand-built ones score what they must, the three file formats read alike, splits
//! refuse short ranges and scope the scoring, and bad input is an error, not a panic.

mod common;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow::datatypes::TimestampMicrosecondType;
use assert_cmd::Command;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// 12 hours of kubernetes and sentry, seed 3.
fn dataset() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = common::fixture_root("obsgen-score-").join("run");
        let out = Command::cargo_bin("obsgen")
            .expect("binary")
            .args([
                "generate",
                "--seed",
                "3",
                "--start",
                "2026-11-03T06:00:00Z",
                "--duration-hours",
                "12",
                "--sources",
                "kubernetes,sentry",
                "-o",
            ])
            .arg(&dir)
            .output()
            .expect("run obsgen generate");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
}

struct Incident {
    id: String,
    kind: String,
    signal: Option<(i64, i64)>,
    service: Option<String>,
    entity: String,
    indicator: String,
}

fn incidents() -> Vec<Incident> {
    let b = common::read_parquet(&dataset().join("labels/incidents.parquet"));
    let s = |n: &str| b.column_by_name(n).expect(n).as_string::<i32>().clone();
    let t = |n: &str| {
        b.column_by_name(n)
            .expect(n)
            .as_primitive::<TimestampMicrosecondType>()
            .clone()
    };
    let (id, kind, svc, ent, ind) = (
        s("incident_id"),
        s("root_cause_kind"),
        s("root_cause_service"),
        s("root_cause_entity"),
        s("root_cause_indicator"),
    );
    let (ss, se) = (t("signal_start"), t("signal_end"));
    (0..b.num_rows())
        .map(|i| Incident {
            id: id.value(i).to_string(),
            kind: kind.value(i).to_string(),
            signal: (!ss.is_null(i)).then(|| (ss.value(i), se.value(i))),
            service: (!svc.is_null(i)).then(|| svc.value(i).to_string()),
            entity: ent.value(i).to_string(),
            indicator: ind.value(i).to_string(),
        })
        .collect()
}

fn write_parquet(path: &Path, columns: Vec<(&str, ArrayRef)>) {
    let batch = RecordBatch::try_from_iter(columns).expect("batch");
    let file = std::fs::File::create(path).expect("create");
    let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).expect("writer");
    w.write(&batch).expect("write");
    w.close().expect("close");
}

fn tmp(name: &str) -> PathBuf {
    let dir = common::fixture_root("obsgen-score-").join("preds");
    std::fs::create_dir_all(&dir).expect("preds dir");
    dir.join(name)
}

fn score(args: &[&str]) -> Value {
    let out = Command::cargo_bin("obsgen")
        .expect("binary")
        .arg("score")
        .args(args)
        .arg("--json")
        .output()
        .expect("run obsgen score");
    assert!(
        out.status.success(),
        "score {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

fn f(v: &Value, path: &str) -> f64 {
    v.pointer(path)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("{path} in {v}"))
}

fn windows(path: &Path, spans: &[(i64, i64)]) {
    write_parquet(
        path,
        vec![
            (
                "start",
                Arc::new(
                    TimestampMicrosecondArray::from(spans.iter().map(|s| s.0).collect::<Vec<_>>())
                        .with_timezone("UTC"),
                ) as ArrayRef,
            ),
            (
                "end",
                Arc::new(
                    TimestampMicrosecondArray::from(
                        spans.iter().map(|s| s.1 + 1).collect::<Vec<_>>(),
                    )
                    .with_timezone("UTC"),
                ),
            ),
        ],
    );
}

#[test]
fn oracle_windows_score_one_in_every_format() {
    let incs = incidents();
    let spans: Vec<(i64, i64)> = incs.iter().filter_map(|i| i.signal).collect();
    assert!(spans.len() >= 5, "only {} incidents", spans.len());
    let p = tmp("oracle.parquet");
    windows(&p, &spans);
    let dir = dataset().to_str().expect("utf-8");
    let v = score(&["detect", dir, p.to_str().expect("utf-8")]);
    for k in [
        "/grid/precision",
        "/grid/recall",
        "/grid/f1",
        "/grid/pa_f1",
        "/grid/pa_k_auc",
        "/grid/affiliation_precision",
        "/grid/affiliation_recall",
        "/events/recall",
        "/events/precision",
    ] {
        assert!((f(&v, k) - 1.0).abs() < 1e-9, "{k}: {v}");
    }
    assert_eq!(f(&v, "/events/incidents") as usize, spans.len());
    assert_eq!(f(&v, "/events/ttd_median_s"), 0.0);
    // Without scores there is no ranking to score.
    assert!(v["grid"]["auc_pr"].is_null(), "{v}");
    // The same windows as CSV and JSON Lines (RFC 3339 text) score the same.
    let iso = |t: i64| obsgen::time::rfc3339_string(t);
    let csv = tmp("oracle.csv");
    let mut text = "start,end\n".to_string();
    let mut jsonl = String::new();
    for &(s, e) in &spans {
        text += &format!("{},{}\n", iso(s), iso(e + 1));
        jsonl += &format!("{{\"start\":\"{}\",\"end\":\"{}\"}}\n", iso(s), iso(e + 1));
    }
    std::fs::write(&csv, text).expect("csv");
    let js = tmp("oracle.jsonl");
    std::fs::write(&js, jsonl).expect("jsonl");
    for other in [&csv, &js] {
        let w = score(&["detect", dir, other.to_str().expect("utf-8")]);
        assert_eq!(w["grid"], v["grid"], "{}", other.display());
        assert_eq!(w["events"], v["events"], "{}", other.display());
    }
}

/// One incident's window flagged: one event detected of n, no false event; flagging
/// the whole range: every incident detected by one event; the inverse of the oracle
/// detects nothing.
#[test]
fn partial_predictions_score_what_they_must() {
    let incs = incidents();
    let spans: Vec<(i64, i64)> = incs.iter().filter_map(|i| i.signal).collect();
    let dir = dataset().to_str().expect("utf-8");
    let p = tmp("one.parquet");
    // The longest window, alone: an incident inside it counts as detected too.
    let &(s, e) = spans.iter().max_by_key(|(s, e)| e - s).expect("a window");
    windows(&p, &[(s, e)]);
    let v = score(&["detect", dir, p.to_str().expect("utf-8")]);
    let inside = spans
        .iter()
        .filter(|&&(a, b)| a / 60_000_000 <= e / 60_000_000 && b / 60_000_000 >= s / 60_000_000)
        .count();
    assert_eq!(f(&v, "/events/detected") as usize, inside);
    assert_eq!(f(&v, "/events/precision"), 1.0);
    assert_eq!(f(&v, "/grid/precision"), 1.0);
    assert!(f(&v, "/grid/recall") < 1.0);
    // Everything flagged.
    let start = spans.iter().map(|s| s.0).min().expect("a window") - 3_600_000_000;
    let end = spans.iter().map(|s| s.1).max().expect("a window") + 3_600_000_000;
    windows(&p, &[(start, end)]);
    let v = score(&["detect", dir, p.to_str().expect("utf-8")]);
    assert_eq!(f(&v, "/events/recall"), 1.0);
    assert_eq!(f(&v, "/events/predicted"), 1.0);
    assert_eq!(f(&v, "/grid/recall"), 1.0);
    assert!(f(&v, "/grid/precision") < 0.8);
    assert_eq!(f(&v, "/grid/affiliation_recall"), 1.0);
    assert!(f(&v, "/grid/affiliation_precision") < 0.8, "{v}");
    // The gaps between incidents only.
    let mut sorted = spans.clone();
    sorted.sort();
    let mut merged: Vec<(i64, i64)> = Vec::new();
    for (a, b) in sorted {
        match merged.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    let gaps: Vec<(i64, i64)> = merged
        .windows(2)
        .filter(|w| w[1].0 - w[0].1 > 4 * 60_000_000)
        .map(|w| (w[0].1 + 2 * 60_000_000, w[1].0 - 2 * 60_000_000))
        .collect();
    windows(&p, &gaps);
    let v = score(&["detect", dir, p.to_str().expect("utf-8")]);
    assert_eq!(f(&v, "/events/detected"), 0.0);
    assert_eq!(f(&v, "/grid/recall"), 0.0);
    assert_eq!(f(&v, "/events/precision"), 0.0);
    // Affiliation credits the near misses two minutes off each window, partly.
    let (p, r) = (
        f(&v, "/grid/affiliation_precision"),
        f(&v, "/grid/affiliation_recall"),
    );
    assert!(r > 0.5 && r < 1.0 && p > 0.0 && p < 1.0, "{v}");
}

/// Per row: the labels themselves score 1 on the rows; scores with one error below the
/// positives give an AUC-PR under 1.
#[test]
fn per_row_predictions_join_on_record_ids() {
    let files = common::list_files(&dataset().join("labels/records/kubernetes/pod_logs"));
    let (mut ids, mut flags) = (Vec::new(), Vec::new());
    for f in &files {
        let b = common::read_parquet(&dataset().join("labels/records/kubernetes/pod_logs").join(f));
        let id = b
            .column_by_name("record_id")
            .expect("ids")
            .as_string::<i32>();
        let a = b
            .column_by_name("is_anomaly")
            .expect("labels")
            .as_any()
            .downcast_ref::<BooleanArray>()
            .expect("booleans");
        for i in 0..b.num_rows() {
            ids.push(id.value(i).to_string());
            flags.push(a.value(i));
        }
    }
    assert!(flags.iter().any(|&x| x) && flags.iter().any(|&x| !x));
    let p = tmp("rows.parquet");
    write_parquet(
        &p,
        vec![
            (
                "record_id",
                Arc::new(StringArray::from(ids.clone())) as ArrayRef,
            ),
            ("is_anomaly", Arc::new(BooleanArray::from(flags.clone()))),
        ],
    );
    let dir = dataset().to_str().expect("utf-8");
    let v = score(&["detect", dir, p.to_str().expect("utf-8")]);
    assert_eq!(v["tables"], serde_json::json!(["kubernetes/pod_logs"]));
    assert_eq!(f(&v, "/rows/f1"), 1.0);
    assert_eq!(f(&v, "/unmatched_record_ids"), 0.0);
    assert_eq!(v["threshold_source"], "is_anomaly");
    // Scores: the labels, but one normal row scored above every anomaly.
    let normal = flags.iter().position(|&x| !x).expect("a normal row");
    let scores: Vec<f64> = flags
        .iter()
        .enumerate()
        .map(|(i, &x)| if i == normal { 2.0 } else { x as u8 as f64 })
        .collect();
    write_parquet(
        &p,
        vec![
            ("record_id", Arc::new(StringArray::from(ids)) as ArrayRef),
            ("score", Arc::new(Float64Array::from(scores))),
        ],
    );
    let v = score(&[
        "detect",
        dir,
        p.to_str().expect("utf-8"),
        "--threshold",
        "0.5",
    ]);
    let positives = flags.iter().filter(|&&x| x).count() as f64;
    // AP: precision 0 at the first threshold, then (n / (n + 1)) at recall 1.
    let expected = positives / (positives + 1.0);
    assert!((f(&v, "/rows/auc_pr") - expected).abs() < 1e-9, "{v}");
    assert!((f(&v, "/rows/precision") - expected).abs() < 1e-9, "{v}");
    assert_eq!(f(&v, "/rows/recall"), 1.0);
    assert_eq!(v["threshold_source"], "given");
}

#[test]
fn root_causes_are_ranked_with_every_accepted_answer() {
    let incs: Vec<Incident> = incidents()
        .into_iter()
        .filter(|i| i.signal.is_some())
        .collect();
    let nodes = incs.iter().filter(|i| i.kind == "node").count();
    let (mut id, mut rank, mut svc, mut ent, mut ind) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in &incs {
        // A wrong candidate first, the answer second.
        for (r, right) in [(1i64, false), (2, true)] {
            id.push(i.id.clone());
            rank.push(r);
            svc.push(if right {
                i.service.clone()
            } else {
                Some("no-such-service".to_string())
            });
            ent.push(Some(if right {
                i.entity.clone()
            } else {
                "service/no-such-service".to_string()
            }));
            ind.push(Some(if right {
                i.indicator.clone()
            } else {
                "no_such_metric".to_string()
            }));
        }
    }
    let p = tmp("rca.parquet");
    write_parquet(
        &p,
        vec![
            ("incident_id", Arc::new(StringArray::from(id)) as ArrayRef),
            ("rank", Arc::new(Int64Array::from(rank))),
            ("service", Arc::new(StringArray::from(svc))),
            ("entity", Arc::new(StringArray::from(ent))),
            ("indicator", Arc::new(StringArray::from(ind))),
        ],
    );
    let v = score(&[
        "rca",
        dataset().to_str().expect("utf-8"),
        p.to_str().expect("utf-8"),
    ]);
    for level in ["service", "entity", "indicator"] {
        assert_eq!(f(&v, &format!("/{level}/ac_at_1")), 0.0, "{level}");
        assert_eq!(f(&v, &format!("/{level}/ac_at_3")), 1.0, "{level}");
        assert_eq!(f(&v, &format!("/{level}/mrr")), 0.5, "{level}");
        // Avg@5: AC@1 = 0, AC@2..5 = 1.
        assert!((f(&v, &format!("/{level}/avg_at_5")) - 0.8).abs() < 1e-12);
    }
    assert_eq!(f(&v, "/service/excluded") as usize, nodes);
    assert_eq!(f(&v, "/entity/incidents") as usize, incs.len());
}

#[test]
fn splits_refuse_short_ranges_and_scope_the_scoring() {
    let dir = dataset();
    let out = Command::cargo_bin("obsgen")
        .expect("binary")
        .args(["split", "--min-per-type", "50", "--dry-run"])
        .arg(dir)
        .output()
        .expect("run obsgen split");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot split") && err.contains("validation"),
        "{err}"
    );
    assert_eq!(out.status.code(), Some(2), "{err}");
    let out = Command::cargo_bin("obsgen")
        .expect("binary")
        .args(["split", "--min-per-type", "0", "--buffer-minutes", "10"])
        .arg(dir)
        .output()
        .expect("run obsgen split");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let splits: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("splits.json")).expect("splits"))
            .expect("JSON");
    let test = &splits["splits"][2];
    assert_eq!(test["name"], "test");
    let p = tmp("split-oracle.parquet");
    let spans: Vec<(i64, i64)> = incidents().iter().filter_map(|i| i.signal).collect();
    windows(&p, &spans);
    let v = score(&[
        "detect",
        dir.to_str().expect("utf-8"),
        p.to_str().expect("utf-8"),
        "--split",
        "test",
    ]);
    assert_eq!(v["split"], "test");
    assert_eq!(
        f(&v, "/events/incidents"),
        test["incidents"].as_f64().expect("count")
    );
    assert_eq!(f(&v, "/grid/f1"), 1.0);
    // Cells: the test part's minutes only.
    let iv = &test["intervals"][0];
    let minutes = (obsgen::time::parse_instant(iv[1].as_str().expect("end")).expect("t")
        - obsgen::time::parse_instant(iv[0].as_str().expect("start")).expect("t"))
        / 60_000_000;
    assert_eq!(f(&v, "/grid/cells") as i64, minutes);
}

#[test]
fn bad_predictions_are_errors_not_panics() {
    let dir = dataset().to_str().expect("utf-8");
    let cases: Vec<(&str, &str, &str)> = vec![
        ("nocols.csv", "foo,bar\n1,2\n", "need `record_id`"),
        (
            "noscore.csv",
            "record_id\nkpl-1\n",
            "`score` or an `is_anomaly`",
        ),
        ("badts.csv", "start,end\nyesterday,today\n", "RFC 3339"),
        (
            "reversed.csv",
            "start,end\n2026-11-03T08:00:00Z,2026-11-03T07:00:00Z\n",
            "after `start`",
        ),
        ("p.txt", "x", "unknown predictions format"),
    ];
    for (name, text, expect) in cases {
        let p = tmp(name);
        std::fs::write(&p, text).expect("write");
        let out = Command::cargo_bin("obsgen")
            .expect("binary")
            .args(["score", "detect", dir])
            .arg(&p)
            .output()
            .expect("run obsgen score");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(err.contains(expect), "{name}: {err}");
    }
    let out = Command::cargo_bin("obsgen")
        .expect("binary")
        .args(["score", "rca", dir])
        .arg(tmp("nocols.csv"))
        .output()
        .expect("run obsgen score");
    assert_eq!(out.status.code(), Some(2));
}

/// Every parquet file of a source table of the run, read whole.
fn table_batches(source: &str, table: &str) -> Vec<RecordBatch> {
    let dir = dataset().join(source).join(table);
    common::list_files(&dir)
        .iter()
        .filter(|f| f.ends_with(".parquet"))
        .map(|f| common::read_parquet(&dir.join(f)))
        .collect()
}

/// The truth's own templates parse perfectly; one template split in two loses its group
/// and its template, not the others'.
#[test]
fn parsing_is_scored_against_the_template_table() {
    let t = common::read_parquet(&dataset().join("labels/templates.parquet"));
    let tid = t
        .column_by_name("template_id")
        .expect("ids")
        .as_string::<i32>();
    let text = t
        .column_by_name("template")
        .expect("texts")
        .as_string::<i32>();
    let text_of: std::collections::HashMap<&str, &str> = (0..t.num_rows())
        .map(|i| (tid.value(i), text.value(i)))
        .collect();
    let (mut ids, mut templates) = (Vec::new(), Vec::new());
    for b in table_batches("kubernetes", "pod_logs") {
        let id = b
            .column_by_name("record_id")
            .expect("ids")
            .as_string::<i32>();
        let tm = b
            .column_by_name("template_id")
            .expect("templates")
            .as_string::<i32>();
        for i in 0..b.num_rows() {
            ids.push(id.value(i).to_string());
            templates.push(text_of[tm.value(i)].to_string());
        }
    }
    let dir = dataset().to_str().expect("utf-8");
    let p = tmp("parse.parquet");
    write_parquet(
        &p,
        vec![
            (
                "record_id",
                Arc::new(StringArray::from(ids.clone())) as ArrayRef,
            ),
            ("template", Arc::new(StringArray::from(templates.clone()))),
        ],
    );
    let v = score(&["parse", dir, p.to_str().expect("utf-8")]);
    for k in ["/ga", "/fga", "/pa", "/fta"] {
        assert_eq!(f(&v, k), 1.0, "{k}: {v}");
    }
    assert_eq!(f(&v, "/messages") as usize, ids.len());
    // Split the most frequent template's lines into two groups with the same text.
    let mut counts: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for t in &templates {
        *counts.entry(t.as_str()).or_default() += 1;
    }
    let (&top, &n) = counts
        .iter()
        .max_by_key(|(t, n)| (**n, **t))
        .expect("a template");
    let groups: Vec<String> = templates
        .iter()
        .enumerate()
        .map(|(i, t)| {
            if t == top && i % 2 == 0 {
                format!("{t}#even")
            } else {
                t.clone()
            }
        })
        .collect();
    write_parquet(
        &p,
        vec![
            (
                "record_id",
                Arc::new(StringArray::from(ids.clone())) as ArrayRef,
            ),
            ("template", Arc::new(StringArray::from(templates.clone()))),
            ("group", Arc::new(StringArray::from(groups))),
        ],
    );
    let v = score(&["parse", dir, p.to_str().expect("utf-8")]);
    let total = ids.len() as f64;
    let truth_templates = f(&v, "/truth_templates");
    assert!(
        (f(&v, "/ga") - (total - n as f64) / total).abs() < 1e-12,
        "{v}"
    );
    assert_eq!(f(&v, "/pa"), 1.0);
    assert!((f(&v, "/rga") - (truth_templates - 1.0) / truth_templates).abs() < 1e-12);
    assert!((f(&v, "/pga") - (truth_templates - 1.0) / (truth_templates + 1.0)).abs() < 1e-12);
}

/// Rows clustered by their incident score 1; everything in one cluster does not.
#[test]
fn incident_clustering_is_scored_against_incidents() {
    let dir = dataset().to_str().expect("utf-8");
    let (mut ids, mut clusters) = (Vec::new(), Vec::new());
    for b in table_batches("sentry", "errors") {
        let id = b
            .column_by_name("record_id")
            .expect("ids")
            .as_string::<i32>();
        let inc = b
            .column_by_name("incident_id")
            .expect("incidents")
            .as_string::<i32>();
        for i in 0..b.num_rows() {
            if !inc.is_null(i) {
                ids.push(id.value(i).to_string());
                clusters.push(inc.value(i).to_string());
            }
        }
    }
    let incidents: std::collections::BTreeSet<&String> = clusters.iter().collect();
    assert!(
        incidents.len() >= 3,
        "{} incidents with Sentry errors",
        incidents.len()
    );
    let p = tmp("cluster.parquet");
    write_parquet(
        &p,
        vec![
            (
                "record_id",
                Arc::new(StringArray::from(ids.clone())) as ArrayRef,
            ),
            ("cluster", Arc::new(StringArray::from(clusters.clone()))),
        ],
    );
    let v = score(&["cluster", dir, p.to_str().expect("utf-8")]);
    for k in [
        "/ari",
        "/nmi",
        "/purity",
        "/inverse_purity",
        "/incident_purity",
    ] {
        assert!((f(&v, k) - 1.0).abs() < 1e-12, "{k}: {v}");
    }
    assert_eq!(f(&v, "/rows") as usize, ids.len());
    assert_eq!(f(&v, "/incidents") as usize, incidents.len());
    let one = vec!["all".to_string(); ids.len()];
    write_parquet(
        &p,
        vec![
            ("record_id", Arc::new(StringArray::from(ids)) as ArrayRef),
            ("cluster", Arc::new(StringArray::from(one))),
        ],
    );
    let v = score(&["cluster", dir, p.to_str().expect("utf-8")]);
    assert_eq!(f(&v, "/ari"), 0.0);
    assert_eq!(f(&v, "/nmi"), 0.0);
    assert_eq!(f(&v, "/inverse_purity"), 1.0);
    assert!(f(&v, "/purity") < 1.0);
}
