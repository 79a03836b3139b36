//! The world is a function of absolute time: an hour generated alone is byte-identical to
//! the same hour generated inside a longer run that starts earlier, in every table and both
//! formats (Parquet and the native JSON Lines).

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
