//! `obsgen validate OUT`: the physical invariants hold on a generated window, the report
//! names every rule, and the checker finds broken physics when a file is tampered with
//! (so a green run means something). The default day and every scenario type are held to
//! zero violations in tests/label_contract.rs and tests/incidents.rs.

mod common;

use arrow::array::{ArrayRef, AsArray, Int64Array, StringArray};
use arrow::datatypes::Int64Type;
use arrow::record_batch::RecordBatch;
use assert_cmd::Command;
use common::{list_files, read_parquet};
use parquet::arrow::ArrowWriter;
use std::path::Path;
use std::sync::Arc;

/// Every rule `obsgen validate` checks on a dataset of all four sources.
const RULES: [&str; 18] = [
    "throttled_within_periods",
    "periods_within_elapsed_time",
    "cpu_within_quota",
    "working_set_within_limit",
    "counters_monotonic",
    "reset_only_at_restart",
    "oom_kill_restarts",
    "status_of_http_status",
    "parent_spans_exist",
    "level_as_written",
    "access_level_of_status",
    "access_line_matches_transaction",
    "trace_and_span_exist",
    "alb_access_lines_sample_request_count",
    "incident_listed",
    "inside_signal_window",
    "phase_of_timestamp",
    "propagated_on_edges",
];

fn generate(dir: &Path) {
    let out = Command::cargo_bin("obsgen")
        .expect("binary")
        .args([
            "generate",
            "--seed",
            "11",
            "--start",
            "2026-11-02T06:00:00Z",
        ])
        .args(["--duration-hours", "3", "--threads", "2", "-o"])
        .arg(dir)
        .output()
        .expect("run obsgen");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn validate(dir: &Path, json: bool) -> (i32, String) {
    let mut cmd = Command::cargo_bin("obsgen").expect("binary");
    cmd.arg("validate").arg(dir);
    if json {
        cmd.arg("--json");
    }
    let out = cmd.output().expect("run obsgen validate");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// Rewrites one Parquet file with `edit` applied to its batch.
fn rewrite(path: &Path, edit: impl FnOnce(&RecordBatch) -> RecordBatch) {
    let batch = edit(&read_parquet(path));
    let file = std::fs::File::create(path).expect("create");
    let mut w = ArrowWriter::try_new(file, batch.schema(), None).expect("writer");
    w.write(&batch).expect("write");
    w.close().expect("close");
}

fn replace(batch: &RecordBatch, name: &str, column: ArrayRef) -> RecordBatch {
    let i = batch.schema().index_of(name).expect("column");
    let mut columns = batch.columns().to_vec();
    columns[i] = column;
    RecordBatch::try_new(batch.schema(), columns).expect("batch")
}

fn first(dir: &Path, table: &str) -> std::path::PathBuf {
    let rel = list_files(dir)
        .into_iter()
        .find(|f| f.starts_with(table) && f.ends_with(".parquet"))
        .unwrap_or_else(|| panic!("no {table} partition"));
    dir.join(rel)
}

#[test]
fn validate_checks_every_rule_and_finds_tampered_physics() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("run");
    generate(&dir);

    let (code, report) = validate(&dir, false);
    println!("{report}");
    assert_eq!(
        code, 0,
        "a generated window keeps every invariant:\n{report}"
    );
    for rule in RULES {
        assert!(report.contains(rule), "the report names {rule}:\n{report}");
    }
    assert!(report.contains("physical invariants: kept"), "{report}");
    let (code, json) = validate(&dir, true);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(json.trim()).expect("one JSON object");
    let rules = v["invariants"].as_array().expect("invariants");
    assert_eq!(rules.len(), RULES.len(), "{json}");
    // (Every rule finds rows to check, but for OOM kills: none in this window.)
    assert!(
        rules
            .iter()
            .all(|r| r["checked"].as_u64() > Some(0) || r["name"] == "oom_kill_restarts"),
        "{json}"
    );
    assert_eq!(v["violations"], 0);

    // Throttled periods beyond the periods: impossible for a kernel.
    rewrite(&first(&dir, "kubernetes/metrics/"), |b| {
        let periods = b
            .column_by_name("container_cpu_cfs_periods_total")
            .expect("periods")
            .as_primitive::<Int64Type>();
        let more: Int64Array = periods.iter().map(|v| v.map(|v| v + 7)).collect();
        replace(
            b,
            "container_cpu_cfs_throttled_periods_total",
            Arc::new(more),
        )
    });
    // Access lines whose level says nothing went wrong, whatever the status.
    rewrite(&first(&dir, "kubernetes/pod_logs/"), |b| {
        let level = b.column_by_name("level").expect("level").as_string::<i32>();
        let template = b
            .column_by_name("template_id")
            .expect("template_id")
            .as_string::<i32>();
        let quiet: StringArray = (0..b.num_rows())
            .map(|r| {
                Some(
                    if obsgen::sources::kubernetes::templates::event_of(template.value(r))
                        .ends_with(".access")
                    {
                        "debug"
                    } else {
                        level.value(r)
                    },
                )
            })
            .collect();
        replace(b, "level", Arc::new(quiet))
    });
    let (code, report) = validate(&dir, false);
    println!("{report}");
    assert_eq!(code, 1, "tampered data breaks invariants:\n{report}");
    for broken in [
        "kubernetes/metrics:throttled_within_periods",
        "kubernetes/pod_logs:access_level_of_status",
        "kubernetes/pod_logs:level_as_written",
    ] {
        let line = report
            .lines()
            .find(|l| l.starts_with(broken))
            .unwrap_or_else(|| panic!("no line for {broken}:\n{report}"));
        let violations: u64 = line
            .split_whitespace()
            .last()
            .and_then(|n| n.parse().ok())
            .expect("a count");
        assert!(violations > 0, "{line}");
    }
    assert!(report.contains("rows break them"), "{report}");
    // The untouched rules stay clean.
    let clean = report
        .lines()
        .find(|l| l.starts_with("sentry/transactions:parent_spans_exist"))
        .expect("parent_spans_exist line");
    assert!(clean.trim_end().ends_with(" 0"), "{clean}");
}

#[test]
fn validate_names_a_missing_dataset() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (code, out) = validate(&tmp.path().join("nothing-here"), false);
    assert_ne!(code, 0);
    assert!(out.contains("nothing-here"), "{out}");
    assert!(!out.contains("panicked"), "{out}");
}
