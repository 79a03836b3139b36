//! The label contract, checked against the counterfactual twin: two default-configuration
//! days (the second labelled against the twin of its own day, which keeps the first
//! day's incidents) and the same days with `--incidents off`, joined table by table on
//! `record_id` (`obsgen::contract::compare`), and the window of every `scenario` type.
//! A row is labelled iff the twin lacks it or has it with other values; differences
//! confined to pods an incident replaced are counted apart. No row may break it, in any
//! table, and record ids are unique everywhere.

use assert_cmd::Command;
use obsgen::contract::{TableContract, compare};
use std::path::Path;

const START: &str = "2026-11-02";
const HOURS: &str = "48";

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
    for t in &tables {
        let name = format!("{}/{}", t.source, t.table);
        assert_eq!(t.duplicate_ids, 0, "{name}: duplicate record ids\n{report}");
        assert!(t.rows > 0, "{name}: no rows");
        assert_eq!(
            t.labelled_changed + t.labelled_unchanged,
            t.labelled,
            "{name}: every labelled row is either changed or not"
        );
    }
    // The incidents change rows, and those rows are labelled.
    let labelled: u64 = tables.iter().map(|t| t.labelled_changed).sum();
    assert!(labelled > 20_000, "only {labelled} labelled changed rows");
    let broken: Vec<String> = tables
        .iter()
        .filter(|t| t.breaches() > 0)
        .map(|t| format!("{}/{}: {}", t.source, t.table, t.breaches()))
        .collect();
    assert!(
        broken.is_empty(),
        "rows break the label contract:\n  {}\n{report}",
        broken.join("\n  ")
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

#[test]
fn every_scenario_type_keeps_the_contract_against_its_twin() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut broken = Vec::new();
    let mut reports = String::new();
    // Every incident type of the default configuration.
    let config = obsgen::config::Config::defaults().expect("defaults");
    let types: Vec<String> = config
        .incidents
        .types
        .iter()
        .map(|t| t.name.value.clone())
        .collect();
    assert_eq!(types.len(), 10, "{types:?}");
    for ty in &types {
        let scenario = |incidents: &str| {
            let dir = tmp.path().join(format!("{ty}-{incidents}"));
            let output = Command::cargo_bin("obsgen")
                .expect("binary")
                .args([
                    "scenario",
                    ty.as_str(),
                    "--start",
                    "2026-11-23",
                    "--threads",
                    "2",
                ])
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
        if breaches > 0 {
            broken.push(format!("{ty}: {breaches}"));
            reports.push_str(&format!("{ty}:\n{}\n", obsgen::contract::report(&tables)));
        }
    }
    assert!(
        broken.is_empty(),
        "rows break the label contract:\n  {}\n{reports}",
        broken.join("\n  ")
    );
}
