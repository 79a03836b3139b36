//! Splitting a run across machines: `generate --parts N --part K` for every K, then
//! `obsgen manifest merge`, gives the very files of a single-machine run (byte for byte,
//! the manifest and incident tables included), whatever N; the merge refuses, with a
//! report, a missing part, a missing or altered partition file, a duplicated partition and
//! parts of different runs.

mod common;

use assert_cmd::Command;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const HOURS: &str = "5";

fn obsgen() -> Command {
    Command::cargo_bin("obsgen").expect("obsgen binary")
}

fn run(args: &[&str], dir: &Path) -> String {
    let dir = dir.to_str().expect("utf-8 path");
    let mut all = args.to_vec();
    all.extend([
        "--duration-hours",
        HOURS,
        "--threads",
        "2",
        "--output-dir",
        dir,
    ]);
    String::from_utf8_lossy(&common::obsgen_ok(&all)).to_string()
}

fn merge(dir: &Path) -> std::process::Output {
    obsgen()
        .args(["manifest", "merge"])
        .arg(dir)
        .output()
        .expect("run obsgen manifest merge")
}

/// Path (relative, `/`-separated) → content, for every file under `dir` but the part
/// manifests.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    common::list_files(dir)
        .into_iter()
        .filter(|rel| !rel.starts_with("manifest.part-"))
        .map(|rel| {
            let bytes = std::fs::read(dir.join(&rel)).expect("read");
            (rel, bytes)
        })
        .collect()
}

fn single() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = common::fixture_root("obsgen-parts-").join("single");
        run(&["generate"], &dir);
        dir
    })
}

/// Runs the N parts into one directory (without merging).
fn split(name: &str, n: u32) -> PathBuf {
    let dir = common::fixture_root("obsgen-parts-").join(name);
    for k in 1..=n {
        let out = run(
            &[
                "generate",
                "--parts",
                &n.to_string(),
                "--part",
                &k.to_string(),
            ],
            &dir,
        );
        assert!(out.contains(&format!("part {k} of {n}")), "{out}");
        assert!(dir.join(format!("manifest.part-{k}-of-{n}.json")).exists());
    }
    assert!(
        !dir.join("manifest.json").exists(),
        "a part wrote manifest.json"
    );
    dir
}

fn assert_same_as_single(dir: &Path) {
    let a = tree(single());
    let b = tree(dir);
    let only_a: Vec<&String> = a.keys().filter(|k| !b.contains_key(*k)).collect();
    let only_b: Vec<&String> = b.keys().filter(|k| !a.contains_key(*k)).collect();
    assert!(
        only_a.is_empty() && only_b.is_empty(),
        "file sets differ: only in the single run {only_a:?}, only in the split {only_b:?}"
    );
    for (path, bytes) in &a {
        assert!(
            &b[path] == bytes,
            "{path} differs from the single-machine run"
        );
    }
    assert!(a.len() > 100, "{} files", a.len());
}

#[test]
fn three_and_four_parts_merge_into_the_single_machine_files() {
    for n in [3, 4] {
        let dir = split(&format!("split{n}"), n);
        let out = merge(&dir);
        assert!(
            out.status.success(),
            "merge of {n} parts failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("merged {n} parts")));
        assert_same_as_single(&dir);
    }
}

#[test]
fn parts_are_balanced() {
    let dir = split("balance", 4);
    let mut rows = Vec::new();
    for k in 1..=4 {
        let m: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(format!("manifest.part-{k}-of-4.json")))
                .expect("part manifest"),
        )
        .expect("JSON");
        assert_eq!(m["part"]["k"], k);
        let r: u64 = m["files"]
            .as_array()
            .expect("files")
            .iter()
            .filter(|f| f["source"] != "labels")
            .map(|f| f["rows"].as_u64().expect("rows"))
            .sum();
        rows.push(r);
    }
    let max = *rows.iter().max().expect("max") as f64;
    let min = *rows.iter().min().expect("min") as f64;
    // 5 hours over 4 parts: one part holds two hours of some tables.
    assert!(min > 0.0 && max / min < 2.2, "rows per part {rows:?}");
}

#[test]
fn merge_reports_missing_duplicated_and_foreign_parts() {
    // A missing part.
    let dir = split("missing", 3);
    std::fs::remove_file(dir.join("manifest.part-2-of-3.json")).expect("rm");
    let out = merge(&dir);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("missing parts: 2 of 3"), "{err}");
    assert!(err.contains("missing partitions"), "{err}");
    assert!(!dir.join("manifest.json").exists());

    // A partition file deleted after its part finished.
    let dir = split("deleted", 2);
    let victim = "kubernetes/pod_logs/date=2026-11-23/hour=01/part-00000.parquet";
    std::fs::remove_file(dir.join(victim)).expect("rm");
    let out = merge(&dir);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains(victim) && err.contains("absent"), "{err}");

    // The same partition claimed by two parts.
    let dir = split("dup", 2);
    let p1 = dir.join("manifest.part-1-of-2.json");
    let p2 = dir.join("manifest.part-2-of-2.json");
    let mut m1: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&p1).expect("read")).expect("JSON");
    let m2: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&p2).expect("read")).expect("JSON");
    let stolen = m2["files"][0].clone();
    m1["files"]
        .as_array_mut()
        .expect("files")
        .push(stolen.clone());
    std::fs::write(&p1, serde_json::to_string(&m1).expect("json")).expect("write");
    let out = merge(&dir);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("duplicated partitions (1)"), "{err}");
    assert!(
        err.contains(stolen["path"].as_str().expect("path")),
        "{err}"
    );

    // A part of another run (another seed).
    let dir = split("foreign", 2);
    run(
        &[
            "generate",
            "--parts",
            "2",
            "--part",
            "2",
            "--seed",
            "7",
            "--overwrite",
        ],
        &dir,
    );
    let out = merge(&dir);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("seed is 7"), "{err}");
}

#[test]
fn a_part_is_refused_twice_without_overwrite_and_bad_part_numbers_are_refused() {
    let dir = common::fixture_root("obsgen-parts-").join("twice");
    run(&["generate", "--parts", "3", "--part", "3"], &dir);
    let out = obsgen()
        .args([
            "generate",
            "--parts",
            "3",
            "--part",
            "3",
            "--duration-hours",
            "1",
            "-o",
        ])
        .arg(&dir)
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("manifest.part-3-of-3.json exists"));
    for (parts, part) in [("3", "4"), ("3", "0"), ("0", "1")] {
        let out = obsgen()
            .args(["generate", "--parts", parts, "--part", part, "-o"])
            .arg(dir.join("never"))
            .output()
            .expect("run");
        assert!(
            !out.status.success(),
            "--parts {parts} --part {part} accepted"
        );
        assert!(String::from_utf8_lossy(&out.stderr).contains("--part"));
    }
    let out = obsgen()
        .args(["generate", "--parts", "3", "-o"])
        .arg(dir.join("never"))
        .output()
        .expect("run");
    assert!(!out.status.success(), "--parts without --part accepted");
}

/// Flips the byte in the middle of `path`.
fn flip_byte(path: &Path) {
    let mut bytes = std::fs::read(path).expect("read");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(path, bytes).expect("write");
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("JSON")
}

fn write_json(path: &Path, v: &serde_json::Value) {
    std::fs::write(path, serde_json::to_string_pretty(v).expect("json")).expect("write");
}

fn merge_with(dir: &Path, flags: &[&str]) -> std::process::Output {
    obsgen()
        .args(["manifest", "merge"])
        .arg(dir)
        .args(flags)
        .output()
        .expect("run obsgen manifest merge")
}

/// Expects the merge of `dir` to be refused with each of `says` in its message, and no
/// manifest.json written.
fn merge_refused(dir: &Path, flags: &[&str], says: &[&str]) -> String {
    let out = merge_with(dir, flags);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "merge {flags:?} accepted");
    assert!(err.contains("do not make one complete dataset"), "{err}");
    for s in says {
        assert!(err.contains(s), "{s:?} not in: {err}");
    }
    assert!(
        !dir.join("manifest.json").exists(),
        "a refused merge wrote manifest.json"
    );
    err
}

#[test]
fn part_manifests_record_each_files_checksum() {
    let dir = split("checksums", 2);
    let mut n = 0;
    for k in 1..=2 {
        let m = read_json(&dir.join(format!("manifest.part-{k}-of-2.json")));
        for f in m["files"].as_array().expect("files") {
            let path = f["path"].as_str().expect("path");
            let bytes = std::fs::read(dir.join(path)).expect("read");
            let sum = format!("{:016x}", twox_hash::XxHash64::oneshot(0, &bytes));
            assert_eq!(f["xxh64"].as_str(), Some(sum.as_str()), "{path}");
            n += 1;
        }
    }
    assert!(n > 100, "{n} files");
}

#[test]
fn merge_refuses_a_flipped_byte_and_an_edited_row_count() {
    // One byte flipped in a part file: same size, another checksum.
    let dir = split("flipped", 2);
    let victim = "kubernetes/pod_logs/date=2026-11-23/hour=02/part-00000.parquet";
    flip_byte(&dir.join(victim));
    let err = merge_refused(&dir, &[], &["checksum mismatch (1)", victim, "recorded"]);
    assert!(!err.contains("row count mismatch"), "{err}");
    // --no-verify checks sizes only: the flipped byte goes through, and says so.
    let out = merge_with(&dir, &["--no-verify"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("--no-verify"));

    // A row count edited in a part manifest: the file's footer disagrees.
    let dir = split("rows", 2);
    let p1 = dir.join("manifest.part-1-of-2.json");
    let mut m = read_json(&p1);
    let files = m["files"].as_array_mut().expect("files");
    let f = files
        .iter_mut()
        .find(|f| f["source"] == "sentry")
        .expect("a sentry file");
    let path = f["path"].as_str().expect("path").to_string();
    let rows = f["rows"].as_u64().expect("rows");
    f["rows"] = (rows + 1).into();
    write_json(&p1, &m);
    merge_refused(
        &dir,
        &[],
        &[
            "row count mismatch (1)",
            &format!(
                "{path} ({rows} rows in the file, part 1 recorded {})",
                rows + 1
            ),
        ],
    );
    // A size edited: refused even without verification.
    let mut m = read_json(&p1);
    m["files"][0]["bytes"] = 1.into();
    write_json(&p1, &m);
    merge_refused(
        &dir,
        &["--no-verify"],
        &["files not on disk as recorded", "recorded 1)"],
    );
}

#[test]
fn merge_refuses_parts_whose_figures_disagree() {
    let dir = split("figures", 2);
    let p2 = dir.join("manifest.part-2-of-2.json");
    let original = read_json(&p2);
    let first = read_json(&dir.join("manifest.part-1-of-2.json"));
    let digest = first["config_digest"].as_str().expect("digest").to_string();
    for (field, value, says) in [
        (
            "scale",
            serde_json::json!(2.0),
            "scale is 2, but manifest.part-1-of-2.json has 1".to_string(),
        ),
        (
            "start",
            serde_json::json!("2026-11-22T00:00:00Z"),
            "start is 2026-11-22T00:00:00Z, but manifest.part-1-of-2.json has 2026-11-23T00:00:00Z"
                .to_string(),
        ),
        (
            "end",
            serde_json::json!("2026-11-23T06:00:00Z"),
            "end is 2026-11-23T06:00:00Z, but manifest.part-1-of-2.json has 2026-11-23T05:00:00Z"
                .to_string(),
        ),
        (
            "formats",
            serde_json::json!(["parquet", "jsonl"]),
            "formats is parquet,jsonl, but manifest.part-1-of-2.json has parquet".to_string(),
        ),
        (
            "seed",
            serde_json::json!(7),
            "seed is 7, but manifest.part-1-of-2.json has 42".to_string(),
        ),
        (
            "config_digest",
            serde_json::json!("0123"),
            format!("config_digest is 0123, but manifest.part-1-of-2.json has {digest}"),
        ),
    ] {
        let mut m = original.clone();
        m[field] = value;
        write_json(&p2, &m);
        merge_refused(&dir, &[], &[&says, "the parts are not of one run"]);
    }
    write_json(&p2, &original);
    let out = merge(&dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn merge_reports_strays_and_refuses_stray_data_in_table_directories() {
    let dir = split("stray", 2);
    // A partition of another run (another day), a leftover temporary file, a user's file.
    let foreign = "kubernetes/pod_logs/date=2026-11-25/hour=00/part-00000.parquet";
    let temp = "kubernetes/pod_logs/date=2026-11-23/hour=00/.part-00000.parquet.tmp";
    let user = "kubernetes/kubeconfig.yaml";
    std::fs::create_dir_all(dir.join(foreign).parent().expect("parent")).expect("mkdir");
    std::fs::copy(
        dir.join("kubernetes/pod_logs/date=2026-11-23/hour=00/part-00000.parquet"),
        dir.join(foreign),
    )
    .expect("copy");
    std::fs::write(dir.join(temp), b"half").expect("write");
    std::fs::write(dir.join(user), b"apiVersion: v1").expect("write");
    let err = merge_refused(
        &dir,
        &[],
        &[
            "stray data files in table directories",
            foreign,
            "--allow-stray",
        ],
    );
    assert!(
        err.contains(&format!(
            "do not stop a merge (2): {user} (not in a table directory), {temp}"
        )),
        "only data strays refuse, the others are reported: {err}"
    );
    // --allow-stray merges, and reports all three (kept).
    let out = merge_with(&dir, &["--allow-stray"]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("3 files under the dataset directories are recorded by no part manifest"),
        "{err}"
    );
    for (p, what) in [
        (foreign, "read as part of the table"),
        (temp, "hidden from readers"),
        (user, "not in a table directory"),
    ] {
        assert!(err.contains(&format!("{p} ({what}")), "{p}: {err}");
        assert!(dir.join(p).exists(), "merge removed {p}");
    }
    // Without the stray partition, the others are only reported.
    std::fs::remove_file(dir.join("manifest.json")).expect("rm");
    std::fs::remove_file(dir.join(foreign)).expect("rm");
    let out = merge(&dir);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("2 files under the dataset directories"),
        "{err}"
    );
}
