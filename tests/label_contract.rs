//! The label contract, checked against the counterfactual twin: a default-configuration
//! day and the same day with `--incidents off`, joined table by table on `record_id`
//! (`obsgen::contract::compare`). A row is labelled iff the twin lacks it or has it with
//! other values; differences confined to pods an incident replaced are counted apart.
//!
//! Record ids must be unique everywhere. Every table's breaches are held to the figures
//! reached so far (`CEILINGS`): a change that breaks the contract for more rows fails
//! here; lower a ceiling whenever a fix lowers the count, down to 0.

use assert_cmd::Command;
use obsgen::contract::{TableContract, compare};
use std::path::Path;

const START: &str = "2026-11-02";
const HOURS: &str = "24";

/// `obsgen generate --seed SEED --start START --duration-hours HOURS --incidents on|off`.
fn generate(dir: &Path, seed: &str, start: &str, hours: &str, incidents: &str) {
    let output = Command::cargo_bin("obsgen")
        .expect("binary")
        .args(["generate", "--seed", seed, "--start", start])
        .args(["--duration-hours", hours, "--threads", "2"])
        .args(["--incidents", incidents, "-o"])
        .arg(dir)
        .output()
        .expect("run obsgen");
    assert!(
        output.status.success(),
        "generate --seed {seed} --incidents {incidents}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Most rows that may break the contract, per table, on this day (`obsgen validate`
/// prints the same figures).
const CEILINGS: [(&str, u64); 11] = [
    ("kubernetes/pod_logs", 0),
    ("kubernetes/events", 0),
    ("kubernetes/metrics", 0),
    ("sentry/errors", 3),
    ("sentry/transactions", 1),
    ("cloudwatch/metrics", 0),
    ("cloudwatch/logs", 1),
    ("cloudwatch/alarms", 0),
    ("cloudwatch/insights_queries", 0),
    ("grafana/panel_series", 0),
    ("grafana/annotations", 0),
];

#[test]
fn every_row_is_labelled_iff_the_twin_lacks_it_or_differs() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (run, twin) = (tmp.path().join("run"), tmp.path().join("twin"));
    generate(&run, "11", START, HOURS, "on");
    generate(&twin, "11", START, HOURS, "off");
    // The physical invariants and label rules hold on both.
    for dir in [&run, &twin] {
        let invariants = obsgen::invariants::check(dir).expect("check invariants");
        let report = obsgen::invariants::report(&invariants);
        println!("{report}");
        assert!(invariants.len() >= 18, "{report}");
        let broken: u64 = invariants.iter().map(|i| i.violations).sum();
        assert_eq!(broken, 0, "{}:\n{report}", dir.display());
    }
    let tables: Vec<TableContract> = compare(&run, &twin).expect("compare");
    let report = obsgen::contract::report(&tables);
    println!("{report}");
    assert_eq!(tables.len(), 11, "{report}");
    let mut over = Vec::new();
    for t in &tables {
        let name = format!("{}/{}", t.source, t.table);
        assert_eq!(t.duplicate_ids, 0, "{name}: duplicate record ids\n{report}");
        assert!(t.rows > 0, "{name}: no rows");
        assert_eq!(
            t.labelled_changed + t.labelled_unchanged,
            t.labelled,
            "{name}: every labelled row is either changed or not"
        );
        let ceiling = CEILINGS
            .iter()
            .find(|c| c.0 == name)
            .unwrap_or_else(|| panic!("no ceiling for {name}"))
            .1;
        if t.breaches() > ceiling {
            over.push(format!("{name}: {} > {ceiling}", t.breaches()));
        }
    }
    // The incidents change rows, and those rows are labelled.
    let labelled: u64 = tables.iter().map(|t| t.labelled_changed).sum();
    assert!(labelled > 10_000, "only {labelled} labelled changed rows");
    assert!(
        over.is_empty(),
        "the label contract broke for more rows than before:\n  {}\n{report}",
        over.join("\n  ")
    );
}

#[test]
fn a_twin_has_no_label_and_only_a_twin_of_the_same_run_is_accepted() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let run2 = |name: &str, seed: &str, incidents: &str| {
        let dir = tmp.path().join(name);
        generate(&dir, seed, "2026-11-02T08:00:00Z", "2", incidents);
        dir
    };
    let run = run2("run", "11", "on");
    let twin = run2("twin", "11", "off");
    let other = run2("other", "12", "off");
    let incidents =
        std::fs::read_to_string(twin.join("correlation/incidents.json")).expect("incidents.json");
    assert_eq!(incidents.trim(), "[]", "a twin lists no incident");
    let itself = compare(&twin, &twin).expect("a twin against itself");
    assert!(itself.iter().all(|t| t.labelled == 0 && t.breaches() == 0));
    let err = |a: &Path, b: &Path| compare(a, b).expect_err("refused").to_string();
    assert!(err(&run, &run).contains("not a twin"));
    assert!(err(&run, &other).contains("seed"));
    let validate = |twin: &Path| {
        Command::cargo_bin("obsgen")
            .expect("binary")
            .arg("validate")
            .arg(&run)
            .arg("--twin")
            .arg(twin)
            .output()
            .expect("run obsgen validate")
    };
    let out = validate(&other);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("seed") && !stderr.contains("panicked"),
        "{stderr}"
    );
}

/// Rows that may break the contract in the window `obsgen scenario TYPE --start
/// 2026-11-23` renders around one incident of each type, against its twin.
const SCENARIO_CEILINGS: [(&str, u64); 10] = [
    ("memory_leak", 0),
    ("deployment_failure", 0),
    ("db_connection_pool_exhaustion", 0),
    ("cpu_saturation", 0),
    ("network_latency", 0),
    ("dependency_outage", 0),
    ("disk_pressure", 0),
    ("certificate_expiry", 1),
    ("queue_backlog", 0),
    ("node_failure", 0),
];

#[test]
fn every_scenario_type_keeps_the_contract_against_its_twin() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut over = Vec::new();
    let mut reports = String::new();
    for (ty, ceiling) in SCENARIO_CEILINGS {
        let scenario = |incidents: &str| {
            let dir = tmp.path().join(format!("{ty}-{incidents}"));
            let output = Command::cargo_bin("obsgen")
                .expect("binary")
                .args(["scenario", ty, "--start", "2026-11-23", "--threads", "2"])
                .args(["--incidents", incidents, "-o"])
                .arg(&dir)
                .output()
                .expect("run obsgen scenario");
            assert!(
                output.status.success(),
                "scenario {ty} --incidents {incidents}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            dir
        };
        let (run, twin) = (scenario("on"), scenario("off"));
        let tables = compare(&run, &twin).expect("compare");
        let labelled: u64 = tables.iter().map(|t| t.labelled_changed).sum();
        assert!(labelled > 0, "{ty}: no labelled row changed");
        let breaches: u64 = tables.iter().map(|t| t.breaches()).sum();
        if breaches > ceiling {
            over.push(format!("{ty}: {breaches} > {ceiling}"));
            reports.push_str(&format!("{ty}:\n{}\n", obsgen::contract::report(&tables)));
        }
    }
    assert!(
        over.is_empty(),
        "the label contract broke for more rows than before:\n  {}\n{reports}",
        over.join("\n  ")
    );
}
