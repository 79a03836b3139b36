//! `obsgen report`: one self-contained page (no script, nothing fetched) with the
//! timeline, the volumes and a section of six charts per incident of labels/incidents.
//! (CI also opens it in headless Chromium: examples/report/check.sh.)

mod common;

use arrow::array::{Array, AsArray};
use assert_cmd::Command;
use std::path::Path;

fn obsgen(args: &[&str]) -> String {
    String::from_utf8(common::obsgen_ok(args)).expect("utf-8")
}

fn generate(dir: &Path, extra: &[&str]) {
    let d = dir.to_str().unwrap();
    let args = [
        &[
            "generate",
            "--start",
            "2026-11-23T08:00:00Z",
            "--duration-hours",
            "3",
            "-q",
            "-o",
            d,
        ][..],
        extra,
    ]
    .concat();
    obsgen(&args);
}

#[test]
fn the_report_draws_every_incident_and_fetches_nothing() {
    let root = common::fixture_root("obsgen-report-");
    let data = root.join("data");
    generate(&data, &[]);
    let said = obsgen(&["report", data.to_str().unwrap()]);
    let html = std::fs::read_to_string(data.join("report.html")).expect("DIR/report.html");
    assert!(
        said.contains("report.html") && said.contains("charts"),
        "{said}"
    );
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    for banned in [
        "<script", "<link", "<img", " src=", " href=", "url(", "@import",
    ] {
        assert!(!html.contains(banned), "the page has {banned}");
    }
    let inc = common::read_parquet(&data.join("labels/incidents.parquet"));
    let ids = arrow::compute::cast(&inc["incident_id"], &arrow::datatypes::DataType::Utf8)
        .unwrap()
        .as_string::<i32>()
        .clone();
    assert!(ids.len() >= 2, "a 3 h window with incidents");
    for id in ids.iter().flatten() {
        assert!(
            html.contains(&format!("<section id=\"{id}\">")),
            "{id} has no section"
        );
    }
    let svgs = html.matches("<svg ").count();
    assert_eq!(svgs, html.matches("</svg>").count());
    assert_eq!(
        svgs,
        2 + 6 * ids.len(),
        "timeline, volumes and 6 charts per incident"
    );
    assert!(html.contains(&format!("Incidents ({n} of {n} drawn)", n = ids.len())));
    // Every source table is in the volumes chart.
    for t in [
        "kubernetes/pod_logs",
        "sentry/errors",
        "cloudwatch/alarms",
        "grafana/panel_series",
    ] {
        assert!(
            html.contains(&format!(">{t}</text>")),
            "{t} missing from the volumes"
        );
    }
    // The incident charts have data: a line in most of them.
    assert!(html.matches("<polyline").count() >= 3 * ids.len());

    // --max-incidents bounds the sections, not the timeline.
    let out = root.join("one.html");
    obsgen(&[
        "report",
        data.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--max-incidents",
        "1",
    ]);
    let one = std::fs::read_to_string(&out).unwrap();
    assert_eq!(one.matches("<section id=").count(), 1);
    assert!(one.contains(&format!("Incidents (1 of {} drawn)", ids.len())));
}

#[test]
fn a_twin_has_a_report_without_incidents() {
    let root = common::fixture_root("obsgen-report-");
    let twin = root.join("twin");
    generate(
        &twin,
        &["--incidents", "off", "--sources", "kubernetes,sentry"],
    );
    obsgen(&["report", twin.to_str().unwrap()]);
    let html = std::fs::read_to_string(twin.join("report.html")).unwrap();
    assert!(html.contains("no incident in the range"));
    assert!(html.contains("twin (--incidents off)"));
    assert_eq!(html.matches("<section id=").count(), 0);
}

#[test]
fn a_directory_without_a_dataset_is_refused() {
    let root = common::fixture_root("obsgen-report-");
    let empty = root.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = Command::cargo_bin("obsgen")
        .unwrap()
        .args(["report", empty.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no manifest.json"));
    assert!(!empty.join("report.html").exists(), "no page left behind");
}
