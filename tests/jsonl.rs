//! The JSON Lines export (`--format parquet,jsonl`) against the Parquet of the same run,
//! on three simulated hours of all sources: every table has one `.jsonl.gz` per hour
//! beside its Parquet, every line is a JSON object, the lines hold exactly the Parquet's
//! records in the same order (by the record key each table documents in
//! `schemas/<source>/<table>.yaml` under `jsonl:`), no label leaks into a payload, and the
//! files are byte-identical between 1 and 2 threads. The validation of each source's
//! payloads against the real schemas is in `tests/jsonl_<source>.rs`.

mod common;
mod native;

use native::*;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const HOURS: u32 = 3;

fn dataset(threads: u32) -> &'static Path {
    static ONE: OnceLock<PathBuf> = OnceLock::new();
    static TWO: OnceLock<PathBuf> = OnceLock::new();
    let cell = if threads == 1 { &ONE } else { &TWO };
    cell.get_or_init(|| {
        let dir = common::fixture_root("obsgen-jsonl-").join(format!("t{threads}"));
        generate(&dir, "", HOURS, threads);
        dir
    })
}

#[test]
fn every_table_has_a_jsonl_file_per_hour_beside_its_parquet() {
    let root = dataset(2);
    for t in obsgen::sources::registry() {
        let (s, n) = (t.source().as_str(), t.name());
        let pq = parquet_files(root, s, n);
        let js = jsonl_files(root, s, n);
        assert_eq!(pq.len(), HOURS as usize, "{s}/{n}: parquet files");
        assert_eq!(js.len(), HOURS as usize, "{s}/{n}: jsonl files");
        for (p, j) in pq.iter().zip(&js) {
            // .../<table>/date=D/hour=H/part-00000.parquet and .../<table>/date=D/hour=H.jsonl.gz
            let p_rel = p
                .strip_prefix(root.join(s).join(n))
                .expect("under the table");
            let j_rel = j
                .strip_prefix(root.join("jsonl").join(s).join(n))
                .expect("under jsonl/");
            let p_hour = p_rel
                .parent()
                .expect("hour dir")
                .to_string_lossy()
                .to_string();
            let j_hour = j_rel
                .to_string_lossy()
                .trim_end_matches(".jsonl.gz")
                .to_string();
            assert_eq!(p_hour, j_hour, "{s}/{n}: partition paths differ");
        }
    }
}

#[test]
fn jsonl_and_parquet_hold_the_same_records_in_the_same_order() {
    let root = dataset(2);
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("manifest.json")).expect("manifest"),
    )
    .expect("manifest JSON");
    for t in obsgen::sources::registry() {
        let (s, n) = (t.source().as_str(), t.name());
        let (pointer, column) = documented_key(s, n);
        let mut total = 0;
        for (p, j) in parquet_files(root, s, n)
            .iter()
            .zip(jsonl_files(root, s, n))
        {
            let batch = read_parquet(p);
            let expected: Vec<String> = column_text(&batch, &column)
                .into_iter()
                .map(|v| v.unwrap_or_else(|| panic!("{s}/{n}: null `{column}`")))
                .collect();
            let mut got = Vec::new();
            for (i, line) in read_lines(&j).iter().enumerate() {
                let v: serde_json::Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("{}:{}: {e}", j.display(), i + 1));
                got.extend(keys_at(&v, &pointer));
            }
            assert_eq!(
                got.len(),
                expected.len(),
                "{s}/{n} {}: {} records in JSONL, {} rows in Parquet",
                j.display(),
                got.len(),
                expected.len()
            );
            if let Some(k) = (0..got.len()).find(|&k| got[k] != expected[k]) {
                panic!(
                    "{s}/{n} {}: record {k}: JSONL key {} but Parquet `{column}` {}",
                    j.display(),
                    got[k],
                    expected[k]
                );
            }
            total += got.len();
        }
        assert!(
            total > 0 || n == "alarms",
            "{s}/{n}: no records in {HOURS} hours"
        );
        // The manifest lists the JSONL files with the same record counts.
        let rows = |format: &str| -> u64 {
            manifest["tables"]
                .as_array()
                .expect("tables")
                .iter()
                .filter(|x| x["source"] == s && x["table"] == n && x["format"] == format)
                .map(|x| x["rows"].as_u64().expect("rows"))
                .sum()
        };
        assert_eq!(rows("jsonl"), total as u64, "{s}/{n}: manifest jsonl rows");
        assert_eq!(
            rows("parquet"),
            total as u64,
            "{s}/{n}: manifest parquet rows"
        );
    }
}

/// No payload may carry the answer: none of the label columns' names, and no incident id.
#[test]
fn no_label_inside_a_payload() {
    let root = dataset(2);
    let label_keys = [
        "incident_id",
        "incident_type",
        "is_anomaly",
        "anomaly_role",
        "template_id",
    ];
    for t in obsgen::sources::registry() {
        let (s, n) = (t.source().as_str(), t.name());
        for j in jsonl_files(root, s, n) {
            for (i, line) in read_lines(&j).iter().enumerate() {
                for k in label_keys {
                    assert!(
                        !line.contains(&format!("\"{k}\"")),
                        "{}:{}: key `{k}` in a payload",
                        j.display(),
                        i + 1
                    );
                }
                assert!(
                    !line.contains("INC-"),
                    "{}:{}: an incident id in a payload",
                    j.display(),
                    i + 1
                );
            }
        }
    }
}

#[test]
fn jsonl_is_byte_identical_across_thread_counts() {
    let a = dataset(1);
    let b = dataset(2);
    let fa = files_under(&a.join("jsonl"), ".jsonl.gz");
    let fb = files_under(&b.join("jsonl"), ".jsonl.gz");
    assert_eq!(fa.len(), fb.len());
    assert!(!fa.is_empty());
    for (x, y) in fa.iter().zip(&fb) {
        assert_eq!(x.strip_prefix(a).expect("a"), y.strip_prefix(b).expect("b"));
        assert!(
            std::fs::read(x).expect("read") == std::fs::read(y).expect("read"),
            "{} differs between 1 and 2 threads",
            x.strip_prefix(a).expect("a").display()
        );
    }
}
