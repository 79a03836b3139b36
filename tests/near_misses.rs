//! No symptom is an answer key: the templates, event reasons and exceptions that
//! incidents produce also occur in normal time, through the near misses of the normal
//! world (`background` in `incident_patterns.yaml`). Checked on a default day's
//! counterfactual twin (the normal world alone: every row there is normal) and on the
//! run itself (those values have normal rows among them).

mod common;

use arrow::array::{Array, BooleanArray, StringArray};
use assert_cmd::Command;
use std::collections::BTreeMap;
use std::path::Path;

/// `obsgen generate` of a default day (seed 11), with or without incidents.
fn generate(dir: &Path, incidents: &str, config: Option<&Path>) {
    let mut cmd = Command::cargo_bin("obsgen").expect("binary");
    cmd.args(["generate", "--seed", "11", "--start", "2026-11-02"])
        .args(["--threads", "2", "--incidents", incidents]);
    if let Some(c) = config {
        cmd.arg("--config").arg(c);
    }
    let out = cmd.arg("-o").arg(dir).output().expect("run obsgen");
    assert!(
        out.status.success(),
        "generate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Per value of `column` in every partition of `table`: (rows, normal rows).
fn counts(dir: &Path, table: &str, column: &str) -> BTreeMap<String, (u64, u64)> {
    let mut out: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for rel in common::list_files(&dir.join(table)) {
        if !rel.ends_with(".parquet") {
            continue;
        }
        let b = common::read_parquet(&dir.join(table).join(&rel));
        let values = b
            .column_by_name(column)
            .and_then(|c| c.as_any().downcast_ref::<StringArray>())
            .unwrap_or_else(|| panic!("{table}.{column}"));
        let anomaly = b
            .column_by_name("is_anomaly")
            .and_then(|c| c.as_any().downcast_ref::<BooleanArray>())
            .expect("is_anomaly");
        for r in 0..b.num_rows() {
            if values.is_null(r) {
                continue;
            }
            let v = values.value(r);
            // pod_logs ids are per layout: count per event.
            let key = if column == "template_id" {
                obsgen::sources::kubernetes::templates::event_of(v)
            } else {
                v
            };
            let e = out.entry(key.to_string()).or_default();
            e.0 += 1;
            e.1 += u64::from(!anomaly.value(r));
        }
    }
    out
}

/// Templates, reasons and exceptions that incidents write, which normal time must write
/// too (node-rooted effects excepted: they have no near misses, see schemas/README.md;
/// but a log volume fills up now and then, and own errors fail as incidents do).
const POD_LOG_TEMPLATES: [&str; 13] = [
    "io.disk_full",
    "error.null_dereference",
    "io.no_space_left",
    "db.pool_timeout",
    "db.pool_exhausted",
    "net.connection_refused",
    "runtime.heap_pressure",
    "queue.consumer_lag",
    "http.slow_request",
    "upstream.retry",
    "upstream.timeout",
    "tls.certificate_expired",
    "tls.handshake_error",
];
const EVENT_REASONS: [&str; 6] = [
    "OOMKilling",
    "BackOff",
    "Unhealthy",
    // A kubelet restart on an ordinary day writes what a node back from a failure writes.
    "Starting",
    "NodeHasNoDiskPressure",
    "NodeReady",
];

#[test]
fn incident_symptoms_occur_in_normal_time_too() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (run, twin) = (tmp.path().join("run"), tmp.path().join("twin"));
    generate(&run, "on", None);
    generate(&twin, "off", None);
    let twin_logs = counts(&twin, "kubernetes/pod_logs", "template_id");
    let run_logs = counts(&run, "kubernetes/pod_logs", "template_id");
    for t in POD_LOG_TEMPLATES {
        let (n, normal) = twin_logs.get(t).copied().unwrap_or_default();
        assert!(
            n > 0 && n == normal,
            "{t}: {n} rows in the twin, {normal} normal"
        );
        let (n, normal) = run_logs.get(t).copied().unwrap_or_default();
        assert!(
            normal * 10 >= n,
            "{t}: only {normal} of {n} rows of the run are normal"
        );
    }
    // The database refuses connections at its limit on ordinary days too.
    let twin_db = counts(&twin, "cloudwatch/logs", "template_id");
    let run_db = counts(&run, "cloudwatch/logs", "template_id");
    for t in [
        "rds.postgres.too_many_clients",
        "rds.postgres.connection_slots_reserved",
        "rds.mysql.aborted_connection_timeout",
    ] {
        let (n, normal) = twin_db.get(t).copied().unwrap_or_default();
        assert!(n > 0 && n == normal, "{t}: {n} lines in the twin");
        let (n, normal) = run_db.get(t).copied().unwrap_or_default();
        assert!(
            normal > 0 && normal <= n,
            "{t}: {normal} of {n} lines normal"
        );
    }
    let twin_events = counts(&twin, "kubernetes/events", "reason");
    for r in EVENT_REASONS {
        let (n, normal) = twin_events.get(r).copied().unwrap_or_default();
        assert!(n > 0 && n == normal, "{r}: {n} events in the twin");
    }
    // Most exception types the run's incidents raise are raised in normal time too.
    let run_errors = counts(&run, "sentry/errors", "exception_type");
    let twin_errors = counts(&twin, "sentry/errors", "exception_type");
    let incident_types: Vec<&String> = run_errors
        .iter()
        .filter(|(_, (n, normal))| normal < n)
        .map(|(t, _)| t)
        .collect();
    let in_twin = incident_types
        .iter()
        .filter(|t| twin_errors.contains_key(t.as_str()))
        .count();
    assert!(
        in_twin * 10 >= incident_types.len() * 7,
        "only {in_twin} of {} exception types of incidents occur without them",
        incident_types.len()
    );
}

/// With `background.episodes_per_day: 0` the normal world has no near miss: the same
/// templates are then written by incidents alone (what the near misses fix).
#[test]
fn without_near_misses_those_symptoms_are_incident_only() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = tmp.path().join("config");
    std::fs::create_dir_all(&config).expect("config dir");
    for (name, text) in obsgen::config::DEFAULT_FILES {
        let text = if name == "incident_patterns.yaml" {
            let t = text.replace("  episodes_per_day: 120\n", "  episodes_per_day: 0\n");
            assert_ne!(t, text, "the default has 120 near misses a day");
            t
        } else {
            text.to_string()
        };
        std::fs::write(config.join(name), text).expect("write config");
    }
    let twin = tmp.path().join("twin");
    generate(&twin, "off", Some(&config));
    let logs = counts(&twin, "kubernetes/pod_logs", "template_id");
    for t in [
        "db.pool_timeout",
        "runtime.heap_pressure",
        "queue.consumer_lag",
    ] {
        assert!(!logs.contains_key(t), "{t} in a world without near misses");
    }
}
