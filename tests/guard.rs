//! The guard before a run (issue 15, item 4): a `generate` that the estimate says will
//! not fit the free disk of its output directory, whose peak memory would exceed the
//! machine's, or that asks for more than 4 threads per core, is refused before anything is
//! written, with the figures (needed and available, in GB) and the flag that overrides it
//! (`--no-guard`). The disk and memory figures can be capped by `OBSGEN_GUARD_DISK_GB` and
//! `OBSGEN_GUARD_MEMORY_GB`, which is how these tests trigger the refusals cheaply; no
//! test fills a disk or a memory.

mod common;

use assert_cmd::Command;
use common::list_files;
use std::path::Path;

const START: &str = "2026-11-23T08:00:00Z";

fn obsgen() -> Command {
    let mut c = Command::cargo_bin("obsgen").expect("the obsgen binary");
    c.env_remove("OBSGEN_GUARD_DISK_GB")
        .env_remove("OBSGEN_GUARD_MEMORY_GB");
    c
}

/// Runs `generate ARGS -o OUT` with `env`; returns (success, stderr).
fn generate(args: &[&str], env: &[(&str, &str)], out: &Path) -> (bool, String) {
    let mut c = obsgen();
    c.arg("generate").args(args).arg("-o").arg(out);
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().expect("run obsgen");
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    (o.status.success(), stderr)
}

/// Expects a refusal naming each of `names`, the GB figures and `--no-guard`, and that
/// nothing under `out` changed.
fn refused(args: &[&str], env: &[(&str, &str)], out: &Path, names: &[&str]) -> String {
    let before = list_files(out);
    let existed = out.exists();
    let (ok, stderr) = generate(args, env, out);
    assert!(!ok, "generate {args:?} {env:?} was not refused");
    assert!(stderr.contains("error:"), "{stderr}");
    assert!(
        stderr.contains("refused before writing anything"),
        "{stderr}"
    );
    assert!(
        stderr.contains("--no-guard"),
        "the flag is not named: {stderr}"
    );
    for n in names {
        assert!(stderr.contains(n), "{n:?} not in: {stderr}");
    }
    assert_eq!(
        out.exists(),
        existed,
        "the refusal created {}",
        out.display()
    );
    assert_eq!(
        list_files(out),
        before,
        "the refusal changed {}",
        out.display()
    );
    stderr
}

/// `needs about X GB ... available Y GB`: both figures, in GB.
fn figures(stderr: &str, what: &str) -> (f64, f64) {
    let line = stderr
        .lines()
        .find(|l| l.trim_start().starts_with(what))
        .unwrap_or_else(|| panic!("no `{what}` line in: {stderr}"));
    let num_before_gb = |s: &str| -> f64 {
        let head = s.split(" GB").next().expect("GB");
        head.rsplit(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no figure in {s:?}"))
    };
    let needed = num_before_gb(line.split("needs about ").nth(1).expect("needs about"));
    let available = num_before_gb(line.split("available ").nth(1).expect("available"));
    (needed, available)
}

#[test]
fn a_run_larger_than_the_free_disk_is_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("out");
    // A year at scale 200: thousands of GB, more than any test machine has free.
    let stderr = refused(
        &[
            "--start",
            START,
            "--duration-hours",
            "8784",
            "--scale",
            "200",
        ],
        &[],
        &out,
        &["disk:", "free on the filesystem of", "8784 hours"],
    );
    let (needed, available) = figures(&stderr, "disk:");
    assert!(needed > 1000.0 && needed > available, "{stderr}");
    // A day at scale 1 is about 0.1 GB (Parquet): the estimate is near what a run writes.
    let (_, stderr) = generate(
        &["--start", START, "--duration-hours", "24"],
        &[("OBSGEN_GUARD_DISK_GB", "0")],
        &out,
    );
    let (needed, _) = figures(&stderr, "disk:");
    assert!((0.08..0.2).contains(&needed), "a day: {stderr}");
}

#[test]
fn a_disk_budget_refuses_a_small_run_and_no_guard_overrides_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("out");
    let args = [
        "--start",
        START,
        "--duration-hours",
        "1",
        "--sources",
        "grafana",
    ];
    let env = [("OBSGEN_GUARD_DISK_GB", "0.00001")];
    let stderr = refused(&args, &env, &out, &["disk:", "OBSGEN_GUARD_DISK_GB"]);
    let (needed, available) = figures(&stderr, "disk:");
    assert!(needed > available, "{stderr}");
    // An existing directory with a user's file is left as it was.
    std::fs::create_dir_all(&out).expect("mkdir");
    std::fs::write(out.join("notes.txt"), "mine").expect("write");
    refused(
        &[&args[..], &["--overwrite"]].concat(),
        &env,
        &out,
        &["disk:"],
    );
    std::fs::remove_file(out.join("notes.txt")).expect("rm");
    let (ok, stderr) = generate(&[&args[..], &["--no-guard"]].concat(), &env, &out);
    assert!(ok, "--no-guard did not override the disk check: {stderr}");
    assert!(out.join("manifest.json").exists());
}

#[test]
fn a_run_needing_more_memory_than_the_machine_is_refused_and_no_guard_overrides_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("out");
    let args = [
        "--start",
        START,
        "--duration-hours",
        "1",
        "--sources",
        "grafana",
        "--threads",
        "1",
    ];
    let env = [("OBSGEN_GUARD_MEMORY_GB", "0.001")];
    let stderr = refused(
        &args,
        &env,
        &out,
        &["memory:", "at its peak", "OBSGEN_GUARD_MEMORY_GB"],
    );
    let (needed, available) = figures(&stderr, "memory:");
    assert!(needed > available, "{stderr}");
    let (ok, stderr) = generate(&[&args[..], &["--no-guard"]].concat(), &env, &out);
    assert!(ok, "--no-guard did not override the memory check: {stderr}");
    assert!(out.join("manifest.json").exists());

    // Without a budget, the machine's own figures: an ordinary run passes.
    let (ok, stderr) = generate(
        &["--start", START, "--duration-hours", "1"],
        &[],
        &tmp.path().join("small"),
    );
    assert!(ok, "a small run was refused: {stderr}");
}

#[test]
fn more_threads_than_four_per_core_are_refused_and_no_guard_overrides_it() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let too_many = 4 * cores + 1;
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("out");
    if too_many <= 1024 {
        let t = too_many.to_string();
        let args = [
            "--start",
            START,
            "--duration-hours",
            "1",
            "--sources",
            "grafana",
            "--threads",
            &t,
        ];
        let stderr = refused(&args, &[], &out, &["threads:", &format!("--threads {t}")]);
        assert!(
            stderr.contains(&format!(
                "{cores} cores available, so at most {}",
                4 * cores
            )),
            "{stderr}"
        );
        let (ok, stderr) = generate(&[&args[..], &["--no-guard"]].concat(), &[], &out);
        assert!(ok, "--no-guard did not override the thread check: {stderr}");
    }
    // Beyond 1024 threads is a bound, not a guard: --no-guard does not lift it.
    for extra in [&[][..], &["--no-guard"][..]] {
        let args = [
            &[
                "--start",
                START,
                "--duration-hours",
                "1",
                "--threads",
                "100000",
            ][..],
            extra,
        ]
        .concat();
        let dir = tmp.path().join("never");
        let (ok, stderr) = generate(&args, &[], &dir);
        assert!(!ok, "{args:?} accepted");
        assert!(stderr.contains("between 1 and 1024"), "{stderr}");
        assert!(!dir.exists(), "{args:?} created the output directory");
    }
}

/// `--dry-run` (issue 14, item 3): the partitions, rows, files and bytes per table, the
/// expected duration and the guard's verdict, in well under a second and without
/// writing anything; its figures near what the run then writes.
#[test]
fn a_dry_run_prints_the_run_and_writes_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("out");
    let args = ["--start", START, "--duration-hours", "3"];
    let t = std::time::Instant::now();
    let o = obsgen()
        .arg("generate")
        .args(args)
        .arg("--dry-run")
        .arg("-o")
        .arg(&out)
        .output()
        .expect("run obsgen");
    let dry = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Checked loosely (a debug build and a busy CI machine); BENCHMARKS.md has the figure.
    assert!(t.elapsed().as_secs_f64() < 5.0, "{:?}", t.elapsed());
    assert!(!out.exists(), "the dry run created {}", out.display());
    for t in [
        "kubernetes/pod_logs",
        "sentry/errors",
        "cloudwatch/alarms",
        "grafana/panel_series",
    ] {
        assert!(
            dry.lines().any(|l| l.starts_with(t) && l.contains(" 3 ")),
            "{t}: {dry}"
        );
    }
    assert!(dry.contains("expected: about"), "{dry}");
    assert!(dry.contains("the guard would let it run"), "{dry}");
    // Estimated rows of the whole run against the run's own count.
    let total = dry
        .lines()
        .find(|l| l.starts_with("total"))
        .expect("a total line");
    let est_rows: f64 = {
        let cells: Vec<&str> = total.split_whitespace().collect();
        let n: f64 = cells[2].parse().expect("rows");
        n * match cells[3] {
            "million" => 1e6,
            "thousand" => 1e3,
            _ => 1.0,
        }
    };
    let (ok, stderr) = generate(&args, &[], &out);
    assert!(ok, "{stderr}");
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("manifest.json")).expect("manifest"),
    )
    .expect("json");
    let rows: f64 = manifest["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter(|f| f["format"] == "parquet" && f["source"] != "labels")
        .map(|f| f["rows"].as_f64().expect("rows"))
        .sum();
    let ratio = est_rows / rows;
    assert!(
        (0.6..1.6).contains(&ratio),
        "estimated {est_rows}, wrote {rows}"
    );
    // The guard's refusal is reported, not raised.
    let o = obsgen()
        .arg("generate")
        .args(args)
        .arg("--dry-run")
        .arg("-o")
        .arg(tmp.path().join("other"))
        .env("OBSGEN_GUARD_DISK_GB", "0.00001")
        .output()
        .expect("run obsgen");
    assert!(o.status.success());
    let dry = String::from_utf8_lossy(&o.stdout);
    assert!(
        dry.contains("the guard would refuse it") && dry.contains("disk:"),
        "{dry}"
    );
}
