//! The world is a function of absolute time: an hour (or a day) generated alone is
//! byte-identical to the same hour (day) generated inside a longer run that starts earlier,
//! on another day, in every table, both formats (Parquet and the native JSON Lines) and the
//! labels twins.

mod common;

use assert_cmd::Command;
use std::path::Path;

fn generate(dir: &Path, start: &str, hours: u32) {
    Command::cargo_bin("obsgen")
        .expect("binary")
        .args([
            "generate",
            "--start",
            start,
            "--duration-hours",
            &hours.to_string(),
            "--threads",
            "2",
            "--format",
            "parquet,jsonl",
            "-o",
        ])
        .arg(dir)
        .assert()
        .success();
}

#[test]
fn an_hour_alone_equals_the_same_hour_in_a_longer_run() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let long = tmp.path().join("long");
    let short = tmp.path().join("short");
    generate(&long, "2026-11-23T20:00:00Z", 6);
    generate(&short, "2026-11-24T01:00:00Z", 1);
    let mut compared = 0;
    for t in obsgen::sources::registry() {
        let (source, table) = (t.source().as_str(), t.name());
        for rel in [
            format!("{source}/{table}/date=2026-11-24/hour=01/part-00000.parquet"),
            format!("jsonl/{source}/{table}/date=2026-11-24/hour=01.jsonl.gz"),
        ] {
            let a = std::fs::read(long.join(&rel)).expect("long run file");
            let b = std::fs::read(short.join(&rel)).expect("short run file");
            assert!(
                a == b,
                "{rel} differs between a 6-hour run and a 1-hour run"
            );
            compared += 1;
        }
    }
    assert_eq!(compared, 22);
}

/// Every file of 2026-11-24 (all tables and hours, Parquet, JSON Lines and labels) from a
/// run of that day alone and from a 48-hour run starting the day before.
#[test]
fn a_day_alone_equals_the_same_day_in_a_run_starting_the_day_before() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let long = tmp.path().join("long");
    let short = tmp.path().join("short");
    generate(&long, "2026-11-23", 48);
    generate(&short, "2026-11-24", 24);
    let day_files = |dir: &Path| -> Vec<String> {
        common::list_files(dir)
            .into_iter()
            .filter(|f| f.contains("date=2026-11-24/"))
            .collect()
    };
    let files = day_files(&short);
    assert_eq!(files, day_files(&long), "the day's files differ in name");
    // 11 tables x 24 hours, each in Parquet, JSON Lines and the labels twin.
    assert_eq!(files.len(), 11 * 24 * 3, "{files:?}");
    let differing: Vec<&String> = files
        .iter()
        .filter(|rel| {
            std::fs::read(long.join(rel)).expect("long run file")
                != std::fs::read(short.join(rel)).expect("short run file")
        })
        .collect();
    assert!(
        differing.is_empty(),
        "{} files of 2026-11-24 differ between the day alone and a run from 2026-11-23: {differing:?}",
        differing.len()
    );
}
