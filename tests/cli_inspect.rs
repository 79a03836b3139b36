//! The command line as users of such tools expect: `generate --tables` (the very files of
//! a run of their sources, the other tables left out), `--quiet`, `--summary json`,
//! `obsgen head` and `obsgen stats` (checked against the files they read), and `scenario
//! --isolate` (the window's labels are its incident's alone, recorded in the manifest).

mod common;

use arrow::array::AsArray;
use assert_cmd::Command;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn obsgen() -> Command {
    Command::cargo_bin("obsgen").expect("obsgen binary")
}

const START: &str = "2026-11-23T10:00:00Z";

/// Runs obsgen; its stdout (fails the test with its stderr when it fails).
fn run(args: &[&str]) -> String {
    String::from_utf8(common::obsgen_ok(args)).expect("utf-8 stdout")
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// One hour of every source but grafana, and the same hour with `--tables` naming three
/// of its tables (its `--summary json`).
fn datasets() -> &'static (PathBuf, PathBuf, serde_json::Value) {
    static D: OnceLock<(PathBuf, PathBuf, serde_json::Value)> = OnceLock::new();
    D.get_or_init(|| {
        let root = common::fixture_root("obsgen-cli-inspect-");
        let (full, some) = (root.join("full"), root.join("some"));
        run(&[
            "generate",
            "--start",
            START,
            "--duration-hours",
            "1",
            "--sources",
            "kubernetes,sentry,cloudwatch",
            "-q",
            "-o",
            path(&full),
        ]);
        let summary = run(&[
            "generate",
            "--start",
            START,
            "--duration-hours",
            "1",
            "--tables",
            "pod_logs,sentry/errors,cloudwatch/alarms",
            "--summary",
            "json",
            "-o",
            path(&some),
        ]);
        let summary = serde_json::from_str(&summary).expect("--summary json is one JSON object");
        (full, some, summary)
    })
}

fn manifest(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("manifest.json")).expect("manifest.json");
    serde_json::from_str(&text).expect("manifest JSON")
}

/// path -> xxh64 of every file of the manifest.
fn checksums(m: &serde_json::Value) -> BTreeMap<String, String> {
    m["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap_or_default().to_string(),
                f["xxh64"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[test]
fn tables_renders_the_named_tables_as_a_run_of_their_sources_does_and_no_other() {
    let (full, some, summary) = datasets();
    let (mf, ms) = (manifest(full), manifest(some));
    assert_eq!(
        ms["selected_tables"],
        serde_json::json!(["cloudwatch/alarms", "kubernetes/pod_logs", "sentry/errors"])
    );
    assert_eq!(
        ms["sources"],
        serde_json::json!(["kubernetes", "sentry", "cloudwatch"])
    );
    assert!(
        mf.get("selected_tables").is_none(),
        "a run without --tables records none"
    );
    let (cf, cs) = (checksums(&mf), checksums(&ms));
    let mut source_files = 0;
    for (p, sum) in &cs {
        let table = p
            .strip_prefix("labels/records/")
            .unwrap_or(p)
            .split('/')
            .take(2)
            .collect::<Vec<_>>()
            .join("/");
        if ["kubernetes/pod_logs", "sentry/errors", "cloudwatch/alarms"].contains(&table.as_str()) {
            source_files += 1;
            assert_eq!(
                cf.get(p),
                Some(sum),
                "{p} differs from the run of all its sources"
            );
        } else {
            assert!(
                p.starts_with("labels/") || p.starts_with("correlation/"),
                "{p}: a table --tables did not name"
            );
        }
    }
    assert_eq!(source_files, 6, "3 tables and their labels twins, one hour");
    for dir in [
        "kubernetes/metrics",
        "kubernetes/events",
        "sentry/transactions",
        "cloudwatch/logs",
    ] {
        assert!(!some.join(dir).exists(), "{dir} was written");
    }
    // The summary is the manifest's header with the run's totals.
    assert_eq!(
        summary["manifest"]["selected_tables"],
        ms["selected_tables"]
    );
    assert!(summary["manifest"].get("files").is_none());
    let records: u64 = ms["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .filter(|t| t["source"] == "labels" && t["table"] == "records")
        .map(|t| t["rows"].as_u64().unwrap_or(0))
        .sum();
    assert!(records > 1000);
    assert_eq!(summary["source_records"].as_u64(), Some(records));
    assert!(summary["seconds"].as_f64().is_some_and(|s| s > 0.0));
}

#[test]
fn tables_refuses_unknown_and_ambiguous_names() {
    for (name, says) in [
        (
            "metrics",
            "ambiguous (kubernetes/metrics, cloudwatch/metrics)",
        ),
        ("pod_log", "unknown table `pod_log`"),
        ("sentry/pod_logs", "unknown table `sentry/pod_logs`"),
    ] {
        let out = obsgen()
            .args(["generate", "--dry-run", "--tables", name])
            .output()
            .expect("run obsgen");
        assert!(!out.status.success(), "--tables {name} was accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "--tables {name}: {err}");
    }
}

#[test]
fn quiet_prints_nothing() {
    let dir = common::fixture_root("obsgen-cli-inspect-").join("quiet");
    let out = obsgen()
        .args([
            "generate",
            "--start",
            START,
            "--duration-hours",
            "1",
            "--tables",
        ])
        .args(["annotations", "-q", "-o", path(&dir)])
        .output()
        .expect("run obsgen");
    assert!(out.status.success());
    assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");
    assert!(dir.join("manifest.json").exists());
}

#[test]
fn stats_counts_what_the_files_hold() {
    let (full, _, _) = datasets();
    let s: serde_json::Value =
        serde_json::from_str(&run(&["stats", path(full), "--json"])).expect("stats --json");
    let m = manifest(full);
    // Labelled rows per table, counted here from the labels twins' is_anomaly.
    let mut labelled: BTreeMap<String, u64> = BTreeMap::new();
    for f in m["files"].as_array().expect("files") {
        let p = f["path"].as_str().unwrap_or_default();
        let Some(rest) = p.strip_prefix("labels/records/") else {
            continue;
        };
        let table = rest.split('/').take(2).collect::<Vec<_>>().join("/");
        let b = common::read_parquet(&full.join(p));
        let col = b.column_by_name("is_anomaly").expect("is_anomaly");
        *labelled.entry(table).or_default() += col.as_boolean().true_count() as u64;
    }
    let tables = s["tables"].as_array().expect("tables");
    let mut checked = 0;
    for t in tables {
        let name = format!(
            "{}/{}",
            t["source"].as_str().unwrap(),
            t["table"].as_str().unwrap()
        );
        let rows = t["rows"].as_u64().unwrap();
        let listed = m["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["source"] == t["source"] && x["table"] == t["table"])
            .expect("a table of the manifest");
        assert_eq!(listed["rows"].as_u64(), Some(rows), "{name}");
        assert_eq!(listed["bytes"], t["bytes"], "{name}");
        if let Some(l) = labelled.get(&name) {
            checked += 1;
            assert_eq!(t["labelled"].as_u64(), Some(*l), "{name}");
            let share = t["label_share"].as_f64().unwrap();
            assert!((share - *l as f64 / rows as f64).abs() < 1e-12, "{name}");
        }
    }
    assert_eq!(checked, 9, "every source table of three sources");
    assert_eq!(
        s["labelled_records"].as_u64(),
        Some(labelled.values().sum())
    );
    assert!(
        s["labelled_records"].as_u64().unwrap() > 0,
        "an hour with an incident"
    );
    // Incidents per type, from labels/incidents.
    let inc = common::read_parquet(&full.join("labels/incidents.parquet"));
    let types = inc.column_by_name("incident_type").expect("incident_type");
    let types = arrow::compute::cast(types, &arrow::datatypes::DataType::Utf8).unwrap();
    let mut per_type: BTreeMap<String, u64> = BTreeMap::new();
    for t in types.as_string::<i32>().iter().flatten() {
        *per_type.entry(t.to_string()).or_default() += 1;
    }
    assert_eq!(s["incidents"].as_u64(), Some(inc.num_rows() as u64));
    assert_eq!(
        s["incidents_per_type"],
        serde_json::to_value(&per_type).unwrap()
    );
    let text = run(&["stats", path(full)]);
    assert!(
        text.contains("kubernetes/pod_logs") && text.contains("incidents: "),
        "{text}"
    );
}

#[test]
fn head_prints_the_first_rows_in_time_order() {
    let (full, _, _) = datasets();
    let json = run(&[
        "head",
        "pod_logs",
        path(full),
        "-n",
        "5",
        "--format",
        "json",
    ]);
    let rows: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON object per line"))
        .collect();
    assert_eq!(rows.len(), 5);
    let m = manifest(full);
    let first = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap_or_default())
        .filter(|p| p.starts_with("kubernetes/pod_logs/"))
        .min()
        .expect("a pod_logs file");
    let b = common::read_parquet(&full.join(first));
    let ids = b.column_by_name("record_id").expect("record_id");
    let ids = arrow::compute::cast(ids, &arrow::datatypes::DataType::Utf8).unwrap();
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(
            r["record_id"].as_str(),
            Some(ids.as_string::<i32>().value(i))
        );
        assert!(
            r["timestamp"]
                .as_str()
                .is_some_and(|t| t.starts_with("2026-11-23T10:"))
        );
    }
    let table = run(&[
        "head",
        "kubernetes/pod_logs",
        path(full),
        "-n",
        "3",
        "--width",
        "12",
    ]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 5, "header, rule and 3 rows: {table}");
    assert!(lines[0].starts_with("record_id"));
    assert!(
        lines[1].chars().all(|c| c == '-' || c == '+'),
        "the rule: {table}"
    );
    for l in [lines[0], lines[2], lines[3], lines[4]] {
        assert!(
            l.split(" | ").all(|v| v.trim_end().chars().count() <= 12),
            "{l}"
        );
    }
    let out = obsgen()
        .args(["head", "metrics", path(full)])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("ambiguous"));
    let out = obsgen()
        .args(["head", "pod_logs", "/nonexistent"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no manifest.json"));
}

/// The incident ids of the labelled rows of every labels twin of `dir`.
fn labelled_incidents(dir: &Path) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for f in common::list_files(&dir.join("labels/records")) {
        let b = common::read_parquet(&dir.join("labels/records").join(&f));
        let ids = b.column_by_name("incident_id").expect("incident_id");
        let ids = arrow::compute::cast(ids, &arrow::datatypes::DataType::Utf8).unwrap();
        for id in ids.as_string::<i32>().iter().flatten() {
            *out.entry(id.to_string()).or_default() += 1;
        }
    }
    out
}

#[test]
fn scenario_isolate_keeps_its_incident_alone_and_records_it() {
    let root = common::fixture_root("obsgen-cli-inspect-");
    let (plain, alone) = (root.join("scenario"), root.join("isolated"));
    // The first queue backlog of 2026-11-23 shares its window with other incidents.
    let args = [
        "scenario",
        "queue_backlog",
        "--start",
        "2026-11-23",
        "--duration-hours",
        "3",
    ];
    run(&[&args[..], &["-q", "-o", path(&plain)]].concat());
    run(&[&args[..], &["--isolate", "-q", "-o", path(&alone)]].concat());
    let (mp, ma) = (manifest(&plain), manifest(&alone));
    let id = ma["scenario"]["incident_id"]
        .as_str()
        .expect("the scenario's incident");
    assert_eq!(ma["scenario"]["incident_type"], "queue_backlog");
    assert_eq!(ma["scenario"]["isolated"], true);
    assert_eq!(mp["scenario"]["incident_id"].as_str(), Some(id));
    assert_eq!(mp["scenario"]["isolated"], false);
    let (lp, la) = (labelled_incidents(&plain), labelled_incidents(&alone));
    assert!(lp.contains_key(id), "{lp:?}");
    assert!(
        lp.len() > 1,
        "the window has other incidents to leave out: {lp:?}"
    );
    assert_eq!(la.keys().collect::<Vec<_>>(), vec![id], "{la:?}");
    assert_eq!(
        la[id], lp[id],
        "the incident's own rows are labelled as before"
    );
    let inc = common::read_parquet(&alone.join("labels/incidents.parquet"));
    assert_eq!(inc.num_rows(), 1);
    assert_ne!(
        ma["config_digest"], mp["config_digest"],
        "the digest covers the isolation"
    );
}

/// `generate --trace FILE`: a line per partition and per day's world, in the schema
/// `benches/scaling.py` reads, and the dataset the same as without it.
#[test]
fn trace_records_every_partition_and_world_and_changes_nothing() {
    let root = common::fixture_root("obsgen-trace-");
    let (plain, traced) = (root.join("plain"), root.join("traced"));
    let trace = root.join("trace.jsonl");
    // Two hours across midnight: two days, two worlds.
    let args = |out: &Path| {
        vec![
            "generate".to_string(),
            "--start".into(),
            "2026-11-23T23:00:00Z".into(),
            "--duration-hours".into(),
            "2".into(),
            "--sources".into(),
            "kubernetes".into(),
            "-q".into(),
            "-o".into(),
            path(out).into(),
        ]
    };
    let plain_args = args(&plain);
    run(&plain_args.iter().map(String::as_str).collect::<Vec<_>>());
    let mut traced_args = args(&traced);
    traced_args.extend(["--trace".to_string(), path(&trace).to_string()]);
    run(&traced_args.iter().map(String::as_str).collect::<Vec<_>>());

    let sums = |dir: &Path| -> BTreeMap<String, String> {
        let m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).expect("manifest"))
                .expect("manifest json");
        m["files"]
            .as_array()
            .expect("files")
            .iter()
            .map(|f| {
                (
                    f["path"].as_str().expect("path").to_string(),
                    f["xxh64"].as_str().expect("xxh64").to_string(),
                )
            })
            .collect()
    };
    assert_eq!(sums(&plain), sums(&traced), "--trace changed the dataset");

    let text = std::fs::read_to_string(&trace).expect("trace file");
    let mut partitions = Vec::new();
    let mut worlds = Vec::new();
    for line in text.lines() {
        let e: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        let (start, end) = (
            e["start_us"].as_u64().expect("start_us"),
            e["end_us"].as_u64().expect("end_us"),
        );
        assert!(start <= end, "{line}");
        assert!(e["worker"].as_i64().is_some(), "{line}");
        let hour = e["hour"].as_str().expect("hour").to_string();
        match e["kind"].as_str() {
            Some("partition") => {
                partitions.push((e["name"].as_str().expect("name").to_string(), hour))
            }
            Some("world") => worlds.push(hour),
            other => panic!("unknown kind {other:?}: {line}"),
        }
    }
    partitions.sort();
    let tables = [
        "kubernetes/events",
        "kubernetes/metrics",
        "kubernetes/pod_logs",
    ];
    let hours = ["2026-11-23T23:00:00Z", "2026-11-24T00:00:00Z"];
    let expected: Vec<(String, String)> = tables
        .iter()
        .flat_map(|t| hours.iter().map(move |h| (t.to_string(), h.to_string())))
        .collect();
    assert_eq!(partitions, expected);
    worlds.sort();
    assert_eq!(worlds, ["2026-11-23T00:00:00Z", "2026-11-24T00:00:00Z"]);
}
