//! Incidents end to end: every type shows up, labelled, in several sources; a default day
//! has the expected schedule; the labels table mirrors the sources; labels are learnable
//! but not given away by the log level.

use arrow::array::{Array, AsArray, StringArray};
use arrow::datatypes::TimestampMicrosecondType;
use arrow::record_batch::RecordBatch;
use assert_cmd::Command;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const TYPES: [&str; 10] = [
    "memory_leak",
    "deployment_failure",
    "db_connection_pool_exhaustion",
    "cpu_saturation",
    "network_latency",
    "dependency_outage",
    "disk_pressure",
    "certificate_expiry",
    "queue_backlog",
    "node_failure",
];

fn read(path: &Path) -> Vec<RecordBatch> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    ParquetRecordBatchReaderBuilder::try_new(file)
        .expect("parquet")
        .build()
        .expect("reader")
        .map(|b| b.expect("batch"))
        .collect()
}

fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn str_col<'a>(b: &'a RecordBatch, name: &str) -> &'a StringArray {
    b.column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .as_string::<i32>()
}

/// One labelled record: (source, table, timestamp, service, incident id, role, phase).
type Labelled = (String, String, i64, String, String, String, String);

fn labelled_records(out: &Path) -> Vec<Labelled> {
    let mut rows = Vec::new();
    for f in parquet_files(&out.join("labels/records")) {
        for b in read(&f) {
            let ts = b
                .column_by_name("timestamp")
                .expect("timestamp")
                .as_primitive::<TimestampMicrosecondType>();
            let (src, tab, svc, inc, role, phase) = (
                str_col(&b, "source"),
                str_col(&b, "table"),
                str_col(&b, "service"),
                str_col(&b, "incident_id"),
                str_col(&b, "anomaly_role"),
                str_col(&b, "phase"),
            );
            for i in 0..b.num_rows() {
                if inc.is_valid(i) {
                    rows.push((
                        src.value(i).to_string(),
                        tab.value(i).to_string(),
                        ts.value(i),
                        svc.value(i).to_string(),
                        inc.value(i).to_string(),
                        role.value(i).to_string(),
                        phase.value(i).to_string(),
                    ));
                }
            }
        }
    }
    rows
}

fn incidents_json(out: &Path) -> Vec<serde_json::Value> {
    let text =
        std::fs::read_to_string(out.join("correlation/incidents.json")).expect("incidents.json");
    serde_json::from_str::<serde_json::Value>(&text)
        .expect("json")
        .as_array()
        .expect("array")
        .clone()
}

fn micros(v: &serde_json::Value) -> i64 {
    obsgen::time::parse_instant(v.as_str().expect("time string")).expect("RFC 3339")
}

fn phase_at(inc: &serde_json::Value, t: i64) -> &'static str {
    let [_, o, p, r, _] = ["start", "onset", "peak", "recovery", "end"].map(|k| micros(&inc[k]));
    // Before the start counts as the precursor, after the end as the recovery (lags).
    if t < o {
        "precursor"
    } else if t < p {
        "onset"
    } else if t < r {
        "peak"
    } else {
        "recovery"
    }
}

#[test]
fn every_incident_type_shows_in_several_sources_with_consistent_labels() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut without_propagation = Vec::new();
    for ty in TYPES {
        let out = tmp.path().join(ty);
        let run = Command::cargo_bin("obsgen")
            .expect("binary")
            .args([
                "scenario",
                ty,
                "--start",
                "2026-11-23",
                "--threads",
                "2",
                "-o",
            ])
            .arg(&out)
            .output()
            .expect("run");
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(run.status.success(), "{ty}: {stderr}");
        // Every physical invariant and label rule of `obsgen validate` holds.
        let invariants = obsgen::invariants::check(&out).expect("check invariants");
        let broken: Vec<String> = invariants
            .iter()
            .filter(|i| i.violations > 0)
            .map(|i| format!("{}:{} {}", i.table, i.name, i.violations))
            .collect();
        assert!(
            broken.is_empty(),
            "{ty}: {broken:?}\n{}",
            obsgen::invariants::report(&invariants)
        );
        let id = stderr
            .split_whitespace()
            .find(|w| w.starts_with("INC-"))
            .unwrap_or_else(|| panic!("{ty}: no incident id in {stderr}"))
            .to_string();
        let incidents = incidents_json(&out);
        let inc = incidents
            .iter()
            .find(|i| i["incident_id"] == id.as_str())
            .unwrap_or_else(|| panic!("{id} not in incidents.json"));
        assert_eq!(inc["incident_type"], ty);
        let (start, end) = (micros(&inc["start"]), micros(&inc["end"]));
        let rows: Vec<Labelled> = labelled_records(&out)
            .into_iter()
            .filter(|r| r.4 == id)
            .collect();
        let sources: BTreeSet<&str> = rows.iter().map(|r| r.0.as_str()).collect();
        assert!(
            sources.len() >= 3,
            "{ty} {id}: labelled rows only in {sources:?}"
        );
        let signal: BTreeSet<&str> = inc["sources_with_signal"]
            .as_array()
            .expect("list")
            .iter()
            .map(|v| v.as_str().expect("str"))
            .collect();
        assert_eq!(signal, sources, "{ty}: sources_with_signal");
        for r in &rows {
            // A datapoint's timestamp is its period start (up to 5 minutes before).
            assert!(
                r.2 >= start - 5 * 60_000_000 && r.2 < end + 20 * 60_000_000,
                "{ty}: {}/{} row at {} outside [{start}, {end}]",
                r.0,
                r.1,
                r.2
            );
            // Request-level sources label at the row's instant; aggregated views
            // (datapoints over a period, panel points showing an earlier scrape) at the
            // instant of the data they show, at most 5 minutes away.
            let exact = r.0 == "kubernetes" || r.0 == "sentry";
            let tolerance: i64 = if exact { 0 } else { 5 * 60_000_000 };
            let ok = (-10..=10).any(|k: i64| r.6 == phase_at(inc, r.2 + k * tolerance / 10));
            assert!(
                ok,
                "{ty}: {}/{} phase {} at {} (expected {})",
                r.0,
                r.1,
                r.6,
                r.2,
                phase_at(inc, r.2)
            );
        }
        // Phases never go backwards in time within a source's exactly-timed rows.
        let order = |p: &str| {
            ["precursor", "onset", "peak", "recovery"]
                .iter()
                .position(|x| *x == p)
                .unwrap_or(9)
        };
        let mut exact: Vec<&Labelled> = rows
            .iter()
            .filter(|r| r.0 == "kubernetes" || r.0 == "sentry")
            .collect();
        exact.sort_by_key(|r| r.2);
        assert!(
            exact.windows(2).all(|w| order(&w[0].6) <= order(&w[1].6)),
            "{ty}: phases out of order"
        );
        let roles: BTreeSet<&str> = rows.iter().map(|r| r.5.as_str()).collect();
        let root_service = inc["root_cause_service"].as_str();
        match inc["root_cause_kind"].as_str() {
            Some("pod" | "deployment" | "service") => {
                let root = root_service.expect("root service");
                assert!(
                    rows.iter().any(|r| r.5 == "root_cause" && r.3 == root),
                    "{ty}: no root_cause row of {root}"
                );
                assert!(
                    rows.iter()
                        .filter(|r| r.5 == "root_cause")
                        .all(|r| r.3 == root || r.0 == "cloudwatch" || r.0 == "grafana"),
                    "{ty}: root_cause rows of other services"
                );
            }
            _ => assert!(
                roles.contains("symptom") || roles.contains("root_cause"),
                "{ty}: roles {roles:?}"
            ),
        }
        // Dependents of the root see the incident as propagated.
        let affected: Vec<&str> = inc["affected_services"]
            .as_array()
            .expect("list")
            .iter()
            .map(|v| v.as_str().expect("str"))
            .collect();
        if let Some(root) = root_service
            && affected.len() > 1
        {
            if !rows.iter().any(|r| r.5 == "propagated" && r.3 != root) {
                // A short window can miss the dependents' calls; most types must show them.
                without_propagation.push((
                    ty,
                    affected
                        .iter()
                        .map(|a| a.to_string())
                        .collect::<Vec<String>>(),
                ));
            }
            assert!(
                rows.iter()
                    .filter(|r| r.5 == "propagated")
                    .all(|r| r.3 != root || r.0 != "kubernetes"),
                "{ty}: root service rows labelled propagated"
            );
        }
    }
    assert!(
        without_propagation.len() <= 2,
        "no propagated rows for {without_propagation:?}"
    );
}

/// A default day, all sources, shared by the tests below.
fn day() -> PathBuf {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        Command::cargo_bin("obsgen")
            .expect("binary")
            .args([
                "generate",
                "--start",
                "2026-11-23",
                "--duration-hours",
                "24",
                "--threads",
                "2",
                "-o",
            ])
            .arg(dir.path().join("out"))
            .assert()
            .success();
        dir
    })
    .path()
    .join("out")
}

#[test]
fn a_default_day_has_about_fifty_incidents_active_a_fifth_of_the_time() {
    let out = &day();
    let incidents = incidents_json(out);
    let (a, b) = (
        obsgen::time::parse_instant("2026-11-23").expect("t"),
        obsgen::time::parse_instant("2026-11-24").expect("t"),
    );
    let in_day: Vec<&serde_json::Value> = incidents
        .iter()
        .filter(|i| micros(&i["start"]) >= a && micros(&i["start"]) < b)
        .collect();
    assert!(
        (35..=70).contains(&in_day.len()),
        "{} incidents",
        in_day.len()
    );
    let minute = 60_000_000i64;
    let active = (0..1440)
        .filter(|m| {
            let t = a + m * minute + minute / 2;
            incidents
                .iter()
                .any(|i| micros(&i["start"]) <= t && t < micros(&i["end"]))
        })
        .count() as f64
        / 1440.0;
    assert!((0.14..=0.28).contains(&active), "active fraction {active}");
    let types: BTreeSet<&str> = in_day
        .iter()
        .map(|i| i["incident_type"].as_str().expect("type"))
        .collect();
    assert!(types.len() >= 8, "types {types:?}");
    // Every incident overlapping the day shows in at least one source.
    let silent: Vec<&str> = in_day
        .iter()
        .filter(|i| {
            i["sources_with_signal"]
                .as_array()
                .is_none_or(|s| s.is_empty())
        })
        .map(|i| i["incident_id"].as_str().expect("id"))
        .collect();
    assert!(
        silent.len() * 10 <= in_day.len(),
        "incidents without signal: {silent:?}"
    );
}

#[test]
fn the_labels_table_has_one_row_per_record_and_agrees_with_the_sources() {
    let out = &day();
    let mut compared = 0usize;
    for f in parquet_files(out) {
        let rel = f
            .strip_prefix(out)
            .expect("prefix")
            .to_string_lossy()
            .to_string();
        if rel.starts_with("labels/") {
            continue;
        }
        let source = read(&f);
        let labels = read(&out.join("labels/records").join(&rel));
        let n: usize = source.iter().map(|b| b.num_rows()).sum();
        let m: usize = labels.iter().map(|b| b.num_rows()).sum();
        assert_eq!(n, m, "{rel}: rows vs labels rows");
        let cat = |bs: &[RecordBatch], name: &str| -> Vec<Option<String>> {
            bs.iter()
                .flat_map(|b| {
                    let c = b
                        .column_by_name(name)
                        .unwrap_or_else(|| panic!("{rel}: no {name}"));
                    let c = c.as_string::<i32>();
                    (0..c.len())
                        .map(|i| c.is_valid(i).then(|| c.value(i).to_string()))
                        .collect::<Vec<_>>()
                })
                .collect()
        };
        for col in [
            "record_id",
            "service",
            "incident_id",
            "incident_type",
            "anomaly_role",
            "phase",
        ] {
            assert!(
                cat(&source, col) == cat(&labels, col),
                "{rel}: column {col} differs from labels/records"
            );
        }
        compared += n;
    }
    assert!(compared > 1_000_000, "compared {compared} records");
}

#[test]
fn labels_are_learnable_but_not_given_away_by_the_log_level() {
    let out = &day();
    let incidents = incidents_json(out);
    // Per-minute error lines in the container logs.
    let mut errors_per_minute: BTreeMap<i64, u64> = BTreeMap::new();
    let (mut tp, mut fp, mut fneg) = (0u64, 0u64, 0u64);
    for f in parquet_files(&out.join("kubernetes/pod_logs")) {
        for b in read(&f) {
            let ts = b
                .column_by_name("timestamp")
                .expect("ts")
                .as_primitive::<TimestampMicrosecondType>();
            let level = str_col(&b, "level");
            let anomaly = b
                .column_by_name("is_anomaly")
                .expect("is_anomaly")
                .as_boolean();
            for i in 0..b.num_rows() {
                let err = level.value(i) == "error" || level.value(i) == "fatal";
                if err {
                    *errors_per_minute
                        .entry(ts.value(i) / 60_000_000)
                        .or_default() += 1;
                }
                match (err, anomaly.value(i)) {
                    (true, true) => tp += 1,
                    (true, false) => fp += 1,
                    (false, true) => fneg += 1,
                    _ => {}
                }
            }
        }
    }
    let f1 = 2.0 * tp as f64 / (2 * tp + fp + fneg) as f64;
    assert!(
        f1 < 0.6,
        "the rule `level is error` reaches F1 {f1:.2} on the rows"
    );
    // A simple detector: a minute whose error count is well above the day's median.
    let mut counts: Vec<u64> = (0..1440)
        .map(|m| {
            *errors_per_minute
                .get(&(micros(&serde_json::json!("2026-11-23T00:00:00Z")) / 60_000_000 + m))
                .unwrap_or(&0)
        })
        .collect();
    let minute0 = micros(&serde_json::json!("2026-11-23T00:00:00Z")) / 60_000_000;
    let mut sorted = counts.clone();
    sorted.sort_unstable();
    let median = sorted[720] as f64;
    let threshold = (median * 2.5).max(median + 4.0);
    counts
        .iter_mut()
        .for_each(|c| *c = u64::from(*c as f64 > threshold));
    let with_errors: Vec<&serde_json::Value> = incidents
        .iter()
        .filter(|i| {
            micros(&i["start"]) >= minute0 * 60_000_000
                && micros(&i["end"]) < (minute0 + 1440) * 60_000_000
        })
        .collect();
    let found = with_errors
        .iter()
        .filter(|i| {
            let a = micros(&i["start"]) / 60_000_000 - minute0;
            let b = micros(&i["end"]) / 60_000_000 - minute0 + 3;
            (a.max(0)..b.min(1440)).any(|m| counts[m as usize] == 1)
        })
        .count();
    let recall = found as f64 / with_errors.len().max(1) as f64;
    assert!(
        recall >= 0.5,
        "a per-minute error-rate detector finds {found} of {} incidents",
        with_errors.len()
    );
    eprintln!(
        "level-is-error F1 {f1:.3}; per-minute detector recall {recall:.2} ({found}/{})",
        with_errors.len()
    );
}

#[test]
fn splitting_and_threading_do_not_change_the_schedule_or_the_labels() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let run = |name: &str, start: &str, hours: &str, threads: &str| {
        let out = tmp.path().join(name);
        Command::cargo_bin("obsgen")
            .expect("binary")
            .args([
                "generate",
                "--start",
                start,
                "--duration-hours",
                hours,
                "--threads",
                threads,
                "-o",
            ])
            .arg(&out)
            .assert()
            .success();
        out
    };
    let long = run("long", "2026-11-23T08:00:00Z", "3", "1");
    let short = run("short", "2026-11-23T09:00:00Z", "1", "2");
    // Every file of hour 09 (sources and labels) is byte-identical.
    let mut compared = 0;
    for f in parquet_files(&short) {
        let rel = f.strip_prefix(&short).expect("prefix");
        if !rel.to_string_lossy().contains("hour=09") {
            continue;
        }
        let a = std::fs::read(long.join(rel)).expect("same file in the long run");
        assert!(
            a == std::fs::read(&f).expect("read"),
            "{} differs",
            rel.display()
        );
        compared += 1;
    }
    assert!(compared >= 22, "compared {compared} files");
    // The incidents of the short window are those of the long run, with the same times,
    // root causes and spread (where their labelled rows are depends on the window).
    // (`affected_services` ends with the callers the window's rows show the incident
    // reached through calls: a subset of the long run's.)
    let affected = |dir: &Path| -> BTreeMap<String, BTreeSet<String>> {
        incidents_json(dir)
            .iter()
            .map(|i| {
                let names = i["affected_services"].as_array().expect("list");
                (
                    i["incident_id"].as_str().expect("id").to_string(),
                    names
                        .iter()
                        .map(|n| n.as_str().expect("name").to_string())
                        .collect(),
                )
            })
            .collect()
    };
    let long_affected = affected(&long);
    for (id, names) in affected(&short) {
        assert!(
            long_affected.get(&id).is_some_and(|l| names.is_subset(l)),
            "{id}: affected services {names:?} not among the long run's"
        );
    }
    let strip = |mut v: serde_json::Value| {
        let o = v.as_object_mut().expect("object");
        for k in [
            "affected_services",
            "sources_with_signal",
            "signal_start",
            "signal_end",
            "began_before_range",
        ] {
            o.remove(k);
        }
        v
    };
    let long_incidents: Vec<serde_json::Value> =
        incidents_json(&long).into_iter().map(strip).collect();
    let short_incidents: Vec<serde_json::Value> =
        incidents_json(&short).into_iter().map(strip).collect();
    assert!(!short_incidents.is_empty(), "no incident in the window");
    for i in &short_incidents {
        assert!(
            long_incidents.contains(i),
            "{} differs between the runs",
            i["incident_id"]
        );
    }
}
