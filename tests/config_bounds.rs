//! Bounds on every configuration value, semantic checks, run limits, and what the fuzzer
//! (`tests/fuzz.rs`) and issue 15 found, kept as explicit regression cases: each edits a
//! default file and expects the error to name the file, the line and column, the key path
//! and the allowed range. A few run the binary: `config check` and `generate` must refuse
//! alike, flags must be named, a FIFO must not block, `--config` must say what it read.

use obsgen::config::{BOUNDS, Config, ConfigError, DEFAULT_FILES};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const SERVICES: usize = 0;
const INCIDENTS: usize = 1;
const GENERATION: usize = 2;

/// An edit of a default file and the error it must give.
struct Regression {
    file: usize,
    /// Replaced by `replace` (every occurrence outside comments when `all`, else the
    /// first one outside comments).
    find: &'static str,
    replace: &'static str,
    all: bool,
    /// A second edit of the same file, if any.
    also: Option<(&'static str, &'static str)>,
    /// The key path the error names.
    path: &'static str,
    /// A fragment of the message.
    message: &'static str,
    /// The error's line is the first line of the edited file holding this text ("" = any).
    at: &'static str,
}

const fn r(
    file: usize,
    find: &'static str,
    replace: &'static str,
    path: &'static str,
    message: &'static str,
    at: &'static str,
) -> Regression {
    Regression {
        file,
        find,
        replace,
        all: false,
        also: None,
        path,
        message,
        at,
    }
}

const fn all(
    file: usize,
    find: &'static str,
    replace: &'static str,
    path: &'static str,
    message: &'static str,
    at: &'static str,
) -> Regression {
    Regression {
        file,
        find,
        replace,
        all: true,
        also: None,
        path,
        message,
        at,
    }
}

const fn two(
    file: usize,
    edit: (&'static str, &'static str),
    also: (&'static str, &'static str),
    path: &'static str,
    message: &'static str,
    at: &'static str,
) -> Regression {
    Regression {
        file,
        find: edit.0,
        replace: edit.1,
        all: false,
        also: Some(also),
        path,
        message,
        at,
    }
}

/// Issue 15 and the fuzzer's findings.
const REGRESSIONS: &[Regression] = &[
    // Values that killed `generate` (capacity overflow, "memory allocation of N bytes failed").
    r(
        INCIDENTS,
        "incidents_per_day: 50",
        "incidents_per_day: 1e12",
        "schedule.incidents_per_day",
        "must be between 0 and 1000, got 1000000000000",
        "incidents_per_day:",
    ),
    r(
        SERVICES,
        "deploys_per_day: 1.5",
        "deploys_per_day: 1e9",
        "services[0].deploys_per_day",
        "must be between 0 and 48, got 1000000000",
        "deploys_per_day: 1e9",
    ),
    r(
        GENERATION,
        "noise_sigma: 0.07",
        "noise_sigma: 40",
        "traffic.noise_sigma",
        "must be between 0 and 1, got 40",
        "  noise_sigma: 40",
    ),
    r(
        GENERATION,
        "service_noise_sigma: 0.05",
        "service_noise_sigma: 10",
        "traffic.service_noise_sigma",
        "must be between 0 and 1, got 10",
        "service_noise_sigma:",
    ),
    r(
        GENERATION,
        "rows_per_minute: 330",
        "rows_per_minute: 1e9",
        "sources.kubernetes.pod_logs.rows_per_minute",
        "must be between 0 and 100000",
        "rows_per_minute",
    ),
    r(
        GENERATION,
        "lambda_invocations_per_minute: 10",
        "lambda_invocations_per_minute: 1e9",
        "sources.cloudwatch.lambda_invocations_per_minute",
        "must be between 0 and 100000",
        "lambda_invocations_per_minute",
    ),
    r(
        GENERATION,
        "vpc_flow_records_per_minute: 90",
        "vpc_flow_records_per_minute: 1e9",
        "sources.cloudwatch.vpc_flow_records_per_minute",
        "must be between 0 and 100000",
        "vpc_flow_records_per_minute",
    ),
    r(
        GENERATION,
        "insights_queries_per_hour: 3",
        "insights_queries_per_hour: 1e9",
        "sources.cloudwatch.insights_queries_per_hour",
        "must be between 0 and 1000",
        "insights_queries_per_hour: 1e9",
    ),
    // Found by tests/fuzz.rs against the build before the bounds (seed 0xb56e9f02215):
    // cases 229 and 461 aborted ("memory allocation of 939524096 bytes failed": deploys a
    // week = deploys_per_day x (5 + 2 x weekend_deploy_factor)), 606 and 770 hung.
    r(
        GENERATION,
        "weekend_deploy_factor: 0.15",
        "weekend_deploy_factor: 150000",
        "world.weekend_deploy_factor",
        "must be between 0 and 10, got 150000",
        "weekend_deploy_factor: 150000",
    ),
    r(
        GENERATION,
        "weekend_deploy_factor: 0.15",
        "weekend_deploy_factor: 18446744073709551615",
        "world.weekend_deploy_factor",
        "must be between 0 and 10",
        "weekend_deploy_factor: 1844",
    ),
    r(
        GENERATION,
        "per_day: 3.0",
        "per_day: 3000000",
        "traffic.bursts.per_day",
        "must be between 0 and 100, got 3000000",
        "per_day: 3000000",
    ),
    r(
        GENERATION,
        "lambda_invocations_per_minute: 10",
        "lambda_invocations_per_minute: 1000001",
        "sources.cloudwatch.lambda_invocations_per_minute",
        "must be between 0 and 100000, got 1000001",
        "lambda_invocations_per_minute: 1000001",
    ),
    r(
        GENERATION,
        "noise_sigma: 0.07",
        "noise_sigma: 10.001000001",
        "traffic.noise_sigma",
        "must be between 0 and 1, got 10.001000001",
        "  noise_sigma: 10",
    ),
    // Products: within each value's range, too much together.
    r(
        GENERATION,
        "rows_per_minute: 330",
        "rows_per_minute: 90000",
        "sources.kubernetes.pod_logs.rows_per_minute",
        "kubernetes/pod_logs would hold about",
        "rows_per_minute",
    ),
    r(
        GENERATION,
        "vpc_flow_records_per_minute: 90",
        "vpc_flow_records_per_minute: 80000",
        "sources.cloudwatch.vpc_flow_records_per_minute",
        "cloudwatch/logs would hold about",
        "vpc_flow_records_per_minute",
    ),
    r(
        GENERATION,
        "lambda_invocations_per_minute: 10",
        "lambda_invocations_per_minute: 30000",
        "sources.cloudwatch.lambda_invocations_per_minute",
        "cloudwatch/logs would hold about",
        "lambda_invocations_per_minute",
    ),
    r(
        GENERATION,
        "scale: 1.0",
        "scale: 500",
        "sources.kubernetes.pod_logs.rows_per_minute",
        "or scale",
        "rows_per_minute",
    ),
    r(
        GENERATION,
        "per_day: 3.0\n    multiplier: { min: 1.4, max: 2.5 }\n    minutes: { min: 3, max: 25 }",
        "per_day: 100\n    multiplier: { min: 1.4, max: 10 }\n    minutes: { min: 3, max: 240 }",
        "traffic",
        "the traffic curve peaks at about",
        "traffic:",
    ),
    r(
        GENERATION,
        "weekly: [1.0, 1.02, 1.0, 0.98, 0.95, 0.7, 0.65]",
        "weekly: [0, 0, 0, 0, 0, 0, 0]",
        "traffic.weekly",
        "every weekly factor is 0",
        "weekly:",
    ),
    r(
        GENERATION,
        "night_level: 0.25\n  peaks:\n    - { hour: 10.5, width: 2.5, height: 0.95 }\n    - { hour: 14.5, width: 2.0, height: 0.85 }\n    - { hour: 20.0, width: 2.5, height: 1.0 }",
        "night_level: 0\n  peaks: []",
        "traffic.night_level",
        "the diurnal curve is 0 all day",
        "night_level: 0",
    ),
    r(
        GENERATION,
        "width: 2.5, height: 0.95",
        "width: 0.01, height: 0.95",
        "traffic.peaks[0].width",
        "must be between 0.25 and 24, got 0.01",
        "width: 0.01",
    ),
    // Semantic checks: parses, but cannot be.
    all(
        INCIDENTS,
        "weight: ",
        "weight: 0 # was ",
        "types",
        "every incident type has weight 0",
        "types:",
    ),
    r(
        SERVICES,
        "vpc_cidr_prefix: \"10.0\"",
        "vpc_cidr_prefix: \"999.999.999\"",
        "cluster.nodes.vpc_cidr_prefix",
        "is not the first two octets",
        "vpc_cidr_prefix",
    ),
    r(
        SERVICES,
        "vpc_cidr_prefix: \"10.0\"",
        "vpc_cidr_prefix: 10",
        "cluster.nodes.vpc_cidr_prefix",
        "`10` is not the first two octets",
        "vpc_cidr_prefix",
    ),
    r(
        GENERATION,
        "compression: zstd",
        "compression: snappy:3",
        "output.compression",
        "`snappy` takes no level",
        "compression:",
    ),
    r(
        GENERATION,
        "compression: zstd",
        "compression: gzip:9",
        "output.compression",
        "`gzip` takes no level",
        "compression:",
    ),
    r(
        GENERATION,
        "compression: zstd",
        "compression: zstd:99",
        "output.compression",
        "zstd level `99`",
        "compression:",
    ),
    r(
        SERVICES,
        "region: us-east-1",
        "region: us_east_1",
        "cluster.region",
        "is not an AWS region",
        "region:",
    ),
    r(
        SERVICES,
        "account_id: \"493817264051\"",
        "account_id: \"4938\"",
        "cluster.account_id",
        "12 digits",
        "account_id:",
    ),
    r(
        SERVICES,
        "cpu_request_m: 250, cpu_limit_m: 1000, memory_request_mib: 256",
        "cpu_request_m: 64000, cpu_limit_m: 64000, memory_request_mib: 256",
        "services[0].resources.cpu_request_m",
        "does not fit on a node (8 cores)",
        "cpu_request_m: 64000",
    ),
    r(
        SERVICES,
        "count: 8",
        "count: 0",
        "cluster.nodes.count",
        "must be between 1 and 250, got 0",
        "count: 0",
    ),
    two(
        SERVICES,
        ("count: 8", "count: 1"),
        ("replicas: 4", "replicas: 100"),
        "cluster.nodes.count",
        "the services run 132 replicas in all; 1 nodes hold at most 110 pods",
        "count: 1",
    ),
    r(
        SERVICES,
        "memory_mb: 1024",
        "memory_mb: 32",
        "aws.lambda[0].memory_mb",
        "must be between 128 and 10240, got 32",
        "memory_mb: 32",
    ),
    r(
        SERVICES,
        "    - id: carts\n",
        "    - id: carts\n    - id: carts\n",
        "aws.dynamodb[2].id",
        "`carts` is listed twice under aws.dynamodb",
        "    - id: carts\n  lambda:",
    ),
    r(
        SERVICES,
        "dependencies: [api-gateway]",
        "dependencies: [api-gateway, api-gateway]",
        "services[0].dependencies[1]",
        "is listed twice",
        "dependencies: [api-gateway, api-gateway]",
    ),
    r(
        SERVICES,
        "evaluation_periods: 2",
        "evaluation_periods: 100000",
        "alarms[0].evaluation_periods",
        "must be between 1 and 1440",
        "evaluation_periods: 100000",
    ),
    r(
        SERVICES,
        "period_seconds: 60\n    evaluation_periods: 2",
        "period_seconds: 300\n    evaluation_periods: 600",
        "alarms[0].evaluation_periods",
        "CloudWatch evaluates at most 86400 s",
        "evaluation_periods: 600",
    ),
    r(
        INCIDENTS,
        "max_depth: 1 }",
        "max_depth: 300 }",
        "types[0].propagation.max_depth",
        "must be between 0 and 10, got 300",
        "max_depth: 300",
    ),
    r(
        INCIDENTS,
        "lag_seconds: 20",
        "lag_seconds: 1e7",
        "types[0].propagation.lag_seconds",
        "must be between 0 and 3600",
        "lag_seconds: 1e7",
    ),
    r(
        INCIDENTS,
        "{ min: 4, median: 5, max: 180, spread: 1.5 }",
        "{ min: 4, median: 5, max: 5000, spread: 1.5 }",
        "types[0].duration_minutes.max",
        "must be between 1 and 720, got 5000",
        "max: 5000",
    ),
    r(
        INCIDENTS,
        "max_overlap: 2",
        "max_overlap: 1000",
        "schedule.max_overlap",
        "must be between 1 and 20",
        "max_overlap:",
    ),
    r(
        INCIDENTS,
        "targets: { languages: [java, python, node] }",
        "targets: { languages: [java], kinds: [worker] }",
        "types[0].targets",
        "no service matches the targets of `memory_leak`",
        "targets: { languages: [java], kinds: [worker] }",
    ),
    r(
        GENERATION,
        "refresh_seconds: 60",
        "refresh_seconds: 1",
        "sources.grafana.refresh_seconds",
        "must be between 5 and 3600, got 1",
        "refresh_seconds: 1",
    ),
    r(
        GENERATION,
        "zstd_level: 1",
        "zstd_level: 0",
        "output.zstd_level",
        "must be between 1 and 22, got 0",
        "zstd_level: 0",
    ),
    r(
        GENERATION,
        "jsonl_gzip_level: 1",
        "jsonl_gzip_level: 10",
        "output.jsonl_gzip_level",
        "must be between 0 and 9, got 10",
        "jsonl_gzip_level: 10",
    ),
    r(
        GENERATION,
        "row_group_rows: 65536",
        "row_group_rows: 1000000000000",
        "output.row_group_rows",
        "must be between 1024 and 10000000",
        "row_group_rows:",
    ),
    r(
        GENERATION,
        "default_start: 2026-11-23T00:00:00Z",
        "default_start: 0001-01-01T00:00:00Z",
        "default_start",
        "outside the years 1970 to 9999",
        "default_start:",
    ),
    r(
        GENERATION,
        "scale: 1.0",
        "scale: 5000",
        "scale",
        "must be between 0 and 1000, got 5000",
        "scale: 5000",
    ),
    r(
        GENERATION,
        "scale: 1.0",
        "scale: .nan",
        "scale",
        "must be greater than 0",
        "scale:",
    ),
    // Messages that lost their key or line.
    r(
        SERVICES,
        "    replicas: 4\n",
        "    replicas: 4\n    replicas: 5\n",
        "services[0].replicas",
        "duplicate key `replicas` (first given at line ",
        "replicas: 5",
    ),
    r(
        SERVICES,
        "    cpu_cores: 8",
        "\t  cpu_cores: 8",
        "",
        "tab",
        "\t  cpu_cores",
    ),
    r(
        SERVICES,
        "      - GET /cart\n",
        "      - GET /cartxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
        "services[0].routes[2]",
        "characters; at most 256",
        "GET /cartxxx",
    ),
];

/// Byte offsets of `find` in `text` outside comment lines.
fn occurrences(text: &str, find: &str) -> Vec<usize> {
    text.match_indices(find)
        .map(|(i, _)| i)
        .filter(|&i| {
            let line_start = text[..i].rfind('\n').map_or(0, |k| k + 1);
            !text[line_start..].trim_start().starts_with('#')
        })
        .collect()
}

fn replace(text: &str, find: &str, with: &str, all: bool) -> String {
    let at = occurrences(text, find);
    assert!(
        !at.is_empty(),
        "`{find}` is not in the default file (outside comments)"
    );
    let at = if all { at } else { at[..1].to_vec() };
    let mut out = String::new();
    let mut prev = 0;
    for i in at {
        out.push_str(&text[prev..i]);
        out.push_str(with);
        prev = i + find.len();
    }
    out.push_str(&text[prev..]);
    out
}

fn edited(rg: &Regression) -> [(PathBuf, String); 3] {
    let mut files = DEFAULT_FILES.map(|(name, text)| (PathBuf::from(name), text.to_string()));
    let t = &mut files[rg.file].1;
    *t = replace(t, rg.find, rg.replace, rg.all);
    if let Some((find, with)) = rg.also {
        *t = replace(t, find, with, false);
    }
    files
}

#[test]
fn regressions_name_file_line_key_and_range() {
    let mut failed = Vec::new();
    for rg in REGRESSIONS {
        let files = edited(rg);
        let text = files[rg.file].1.clone();
        let e = match Config::from_sources(files) {
            Ok(_) => {
                failed.push(format!("{} -> {}: accepted", rg.find, rg.replace));
                continue;
            }
            Err(e) => e.to_string(),
        };
        let name = DEFAULT_FILES[rg.file].0;
        let mut problems = Vec::new();
        if !e.starts_with(&format!("{name}:")) {
            problems.push("no file name".to_string());
        }
        if !rg.path.is_empty() && !e.contains(&format!("at `{}`", rg.path)) {
            problems.push(format!("no key path `{}`", rg.path));
        }
        if !e.contains(rg.message) {
            problems.push(format!("no `{}`", rg.message));
        }
        if !rg.at.is_empty() {
            let first = *occurrences(&text, rg.at)
                .first()
                .expect("`at` text in the edited file");
            let line = text[..first].matches('\n').count() + 1;
            if !e.starts_with(&format!("{name}:{line}:")) {
                problems.push(format!("not at line {line}"));
            }
        }
        if !problems.is_empty() {
            failed.push(format!(
                "{:?} -> {:?}: {}\n    {e}",
                rg.find,
                rg.replace,
                problems.join(", ")
            ));
        }
    }
    assert!(failed.is_empty(), "\n{}", failed.join("\n"));
}

#[test]
fn run_limits_allow_scale_100_and_refuse_more() {
    // The defaults sit inside every range; each bound's own edges are exercised by the
    // fuzzer. Here: the limits of the run at the defaults' scale hold with room to spare.
    let cfg = Config::defaults().expect("defaults");
    let start = obsgen::time::parse_instant("2026-11-23").expect("start");
    let est = cfg
        .check_run(100.0, start, start + 24 * obsgen::time::HOUR, true, true)
        .expect("scale 100 (a user may scale traffic 100x) is within the limits");
    assert!(est.peak_hour_rows.iter().all(|t| t.rows < 20e6));
    let e = cfg
        .check_run(300.0, start, start + 24 * obsgen::time::HOUR, true, true)
        .expect_err("scale 300 is beyond the peak-hour limit")
        .to_string();
    assert!(e.contains("--scale 300") || e.contains("scale 300"), "{e}");
    assert!(e.contains("or --scale"), "{e}");
    let e = cfg
        .check_run(
            1.0,
            start,
            start + 367 * 24 * obsgen::time::HOUR,
            true,
            true,
        )
        .expect_err("a range over a year")
        .to_string();
    assert!(e.contains("8784"), "{e}");
    // Found while measuring the plan: 1400 replicas and 1000 incidents a day planned a
    // 30-day run in 17 s, a year took over 10 minutes (node incidents x pods).
    let big = Config::from_sources({
        let mut f = DEFAULT_FILES.map(|(n, t)| (PathBuf::from(n), t.to_string()));
        f[SERVICES].1 = replace(&f[SERVICES].1, "count: 8", "count: 250", false);
        for r in ["replicas: 2\n", "replicas: 3\n", "replicas: 4\n"] {
            f[SERVICES].1 = replace(&f[SERVICES].1, r, "replicas: 100\n", true);
        }
        f[INCIDENTS].1 = replace(
            &f[INCIDENTS].1,
            "incidents_per_day: 50",
            "incidents_per_day: 1000",
            false,
        );
        f
    })
    .expect("a day of the big configuration is within the limits");
    big.check_run(1.0, start, start + 24 * 24 * obsgen::time::HOUR, true, true)
        .expect("24 days");
    let e = big
        .check_run(1.0, start, start + 8784 * obsgen::time::HOUR, true, true)
        .expect_err("a year")
        .to_string();
    assert!(
        e.contains("node incidents") && e.contains("schedule.incidents_per_day"),
        "{e}"
    );
    let e = cfg
        .check_run(1.0, -obsgen::time::HOUR, 0, true, true)
        .expect_err("before 1970")
        .to_string();
    assert!(e.contains("1970-01-01"), "{e}");
}

/// Every bound is documented in the README's Configuration section with its range.
#[test]
fn readme_documents_every_bound() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let section = readme
        .split("\n## Configuration")
        .nth(1)
        .expect("a Configuration section");
    let section = section.split("\n## ").next().unwrap_or(section);
    let mut missing = Vec::new();
    for b in BOUNDS {
        let key = format!("`{}`", b.key);
        let ok = section
            .lines()
            .any(|l| l.contains(&key) && l.contains(&b.range_text()) && l.contains(b.file));
        if !ok {
            missing.push(format!("| {} | {key} | {} |", b.file, b.range_text()));
        }
    }
    assert!(
        missing.is_empty(),
        "README's Configuration section lacks (file, key, range) rows:\n{}",
        missing.join("\n")
    );
}

/// Every bound is stated in the comments of its default file.
#[test]
fn default_files_comment_every_bound() {
    let mut missing = Vec::new();
    for b in BOUNDS {
        let text = DEFAULT_FILES
            .iter()
            .find(|(n, _)| *n == b.file)
            .map(|(_, t)| *t)
            .expect("file");
        let leaf = b
            .key
            .split(", ")
            .next()
            .unwrap_or(b.key)
            .trim_end_matches("[]")
            .rsplit(['.', ']'])
            .next()
            .unwrap_or(b.key);
        let ok = text
            .lines()
            .filter(|l| l.trim_start().starts_with('#'))
            .any(|l| l.contains(leaf) && l.contains(&b.range_text()));
        if !ok {
            missing.push(format!("{}: # {leaf}: {}", b.file, b.range_text()));
        }
    }
    assert!(missing.is_empty(), "\n{}", missing.join("\n"));
}

// ---------------------------------------------------------------------------------------
// The binary.

fn obsgen(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_obsgen"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run obsgen")
}

fn fails_with(out: &Output, fragments: &[&str]) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.code().is_some_and(|c| c != 0),
        "expected a failure: {stderr}"
    );
    assert!(stderr.contains("error:"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for f in fragments {
        assert!(stderr.contains(f), "no `{f}` in: {stderr}");
    }
    stderr
}

/// The regression whose key path or message is `what`.
fn regression(what: &str) -> &'static Regression {
    REGRESSIONS
        .iter()
        .find(|r| r.path == what || r.message.contains(what))
        .unwrap_or_else(|| panic!("no regression case for {what}"))
}

fn write_config(dir: &Path, rg: &Regression) {
    std::fs::create_dir_all(dir).expect("mkdir");
    for (p, t) in edited(rg) {
        std::fs::write(dir.join(p), t).expect("write");
    }
}

#[test]
fn config_check_and_generate_refuse_alike() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for rg in [
        regression("traffic.noise_sigma"),
        regression("kubernetes/pod_logs would hold"),
        regression("every incident type has weight 0"),
        regression("`snappy` takes no level"),
    ] {
        let dir = tmp.path().join("cfg");
        write_config(&dir, rg);
        let d = dir.display().to_string();
        let check = obsgen(&["config", "check", &d], tmp.path());
        let a = fails_with(&check, &[rg.path, rg.message]);
        let out = tmp.path().join("out").display().to_string();
        let generate = obsgen(
            &[
                "generate",
                "--config",
                &d,
                "--duration-hours",
                "1",
                "-o",
                &out,
            ],
            tmp.path(),
        );
        let b = fails_with(&generate, &[rg.path, rg.message]);
        let last = |s: &str| s.lines().last().unwrap_or("").to_string();
        assert_eq!(last(&a), last(&b));
        assert!(
            !tmp.path().join("out").exists(),
            "a refused run wrote output"
        );
    }
}

#[test]
fn flags_are_bounded_and_named() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cwd = tmp.path();
    let o = ["-o", "out"];
    let cases: &[(&[&str], &[&str])] = &[
        (&["generate", "--threads", "-3"], &["--threads", "-3"]),
        (
            &["generate", "--duration-hours", "-3"],
            &["--duration-hours", "-3"],
        ),
        (&["generate", "--seed", "-1"], &["--seed"]),
        (&["generate", "--parts", "-1", "--part", "1"], &["--parts"]),
        (&["generate", "--threads", "100000"], &["--threads", "1024"]),
        (
            &["generate", "--duration-hours", "100000"],
            &["--duration-hours", "8784"],
        ),
        (
            &["generate", "--duration-hours", "4294967295"],
            &["--duration-hours", "8784"],
        ),
        (&["generate", "--end", "2030-01-01"], &["8784"]),
        (&["generate", "--start", "0001-01-01"], &["1970-01-01"]),
        (
            &["generate", "--scale", "900"],
            &["--scale 900", "kubernetes/pod_logs", "or --scale"],
        ),
        (
            &["generate", "--scale", "5000"],
            &["--scale must be between 0 and 1000"],
        ),
        (
            &["generate", "--compression", "snappy:3"],
            &["--compression", "takes no level"],
        ),
        (
            &["generate", "--compression", "lz4:1"],
            &["--compression", "takes no level"],
        ),
        (
            &["scenario", "memory_leak", "--duration-hours", "0"],
            &["--duration-hours must be at least 1"],
        ),
        (
            &["scenario", "memory_leak", "--duration-hours", "9000"],
            &["--duration-hours", "8784"],
        ),
    ];
    for (args, fragments) in cases {
        let mut a = args.to_vec();
        a.extend(o);
        fails_with(&obsgen(&a, cwd), fragments);
    }
    assert!(!cwd.join("out").exists());
}

#[cfg(unix)]
#[test]
fn a_fifo_device_or_directory_is_refused_without_blocking() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("cfg");
    std::fs::create_dir(&dir).expect("mkdir");
    let fifo = dir.join("generation_config.yaml");
    let made = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success());
    if made {
        let started = Instant::now();
        let d = dir.display().to_string();
        let out = obsgen(&["config", "check", &d], tmp.path());
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "config check blocked"
        );
        fails_with(
            &out,
            &["generation_config.yaml", "not a regular file", "FIFO"],
        );
        std::fs::remove_file(&fifo).expect("rm fifo");
    }
    std::os::unix::fs::symlink("/dev/zero", dir.join("services_config.yaml")).expect("symlink");
    let d = dir.display().to_string();
    fails_with(
        &obsgen(&["config", "check", &d], tmp.path()),
        &["services_config.yaml", "character device"],
    );
    std::fs::remove_file(dir.join("services_config.yaml")).expect("rm");
    std::fs::create_dir(dir.join("incident_patterns.yaml")).expect("mkdir");
    fails_with(
        &obsgen(&["config", "check", &d], tmp.path()),
        &["incident_patterns.yaml", "directory"],
    );
    std::fs::remove_dir(dir.join("incident_patterns.yaml")).expect("rmdir");
    std::fs::write(dir.join("services_config.yaml"), vec![b'#'; 2 << 20]).expect("big");
    fails_with(
        &obsgen(&["config", "check", &d], tmp.path()),
        &["services_config.yaml", "at most 1048576"],
    );
}

#[test]
fn config_dir_says_what_it_read_and_what_defaulted() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("cfg");
    std::fs::create_dir(&dir).expect("mkdir");
    // Misnamed files only: refused, naming what is there.
    std::fs::write(dir.join("services.yaml"), DEFAULT_FILES[0].1).expect("write");
    let d = dir.display().to_string();
    fails_with(
        &obsgen(&["config", "check", &d], tmp.path()),
        &[
            "holds none of the configuration files",
            "services.yaml",
            "config init",
        ],
    );
    // One real file: read; the others default; the misnamed one is ignored, and said so.
    std::fs::write(dir.join("generation_config.yaml"), DEFAULT_FILES[2].1).expect("write");
    let out = obsgen(&["config", "check", &d], tmp.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in [
        "read ",
        "generation_config.yaml",
        "default services_config.yaml (no ",
        "default incident_patterns.yaml (no ",
        "ignored ",
        "services.yaml",
        "configuration is valid",
    ] {
        assert!(stdout.contains(f), "no `{f}` in: {stdout}");
    }
    let o = tmp.path().join("out").display().to_string();
    let run = obsgen(
        &[
            "generate",
            "--config",
            &d,
            "--duration-hours",
            "1",
            "--sources",
            "grafana",
            "-o",
            &o,
        ],
        tmp.path(),
    );
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(
        stderr.contains("config: read ") && stderr.contains("config: default services_config.yaml"),
        "{stderr}"
    );
    // Without --config nothing is said on stderr.
    let o2 = tmp.path().join("out2").display().to_string();
    let run = obsgen(
        &[
            "generate",
            "--duration-hours",
            "1",
            "--sources",
            "grafana",
            "-o",
            &o2,
        ],
        tmp.path(),
    );
    assert!(run.status.success());
    assert!(!String::from_utf8_lossy(&run.stderr).contains("config:"));
}

#[test]
fn an_empty_file_says_so() {
    let mut files = DEFAULT_FILES.map(|(n, t)| (PathBuf::from(n), t.to_string()));
    files[INCIDENTS].1 = "# nothing here\n\n".into();
    let e = Config::from_sources(files).expect_err("empty").to_string();
    assert!(e.starts_with("incident_patterns.yaml"), "{e}");
    assert!(e.contains("holds no settings"), "{e}");
}

#[test]
fn errors_are_config_errors_with_positions() {
    let rg = regression("traffic.noise_sigma");
    match Config::from_sources(edited(rg)) {
        Err(ConfigError::Invalid {
            path, line, column, ..
        }) => {
            assert_eq!(path, "traffic.noise_sigma");
            assert!(line.is_some() && column.is_some());
        }
        other => panic!("{other:?}"),
    }
}

/// `--preset low-prevalence`: checked, said, part of the digest; a run with it lists about
/// two incidents a day; an unknown preset is refused with the list.
#[test]
fn the_low_prevalence_preset_is_checked_said_and_used() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let digest = |out: &Output| {
        let s = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        s.rsplit("digest ")
            .next()
            .map(|d| d.trim().to_string())
            .expect("digest")
    };
    let plain = obsgen(&["config", "check"], tmp.path());
    let preset = obsgen(
        &["config", "check", "--preset", "low-prevalence"],
        tmp.path(),
    );
    let stdout = String::from_utf8_lossy(&preset.stdout).into_owned();
    assert!(stdout.contains("preset low-prevalence"), "{stdout}");
    assert_ne!(digest(&plain), digest(&preset));
    let refused = obsgen(&["config", "check", "--preset", "busy"], tmp.path());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && stderr.contains("low-prevalence"),
        "{stderr}"
    );
    // Three days of Grafana only: the annotations name the incidents.
    let o = tmp.path().join("out").display().to_string();
    let run = obsgen(
        &[
            "generate",
            "--preset",
            "low-prevalence",
            "--start",
            "2026-11-02",
            "--duration-hours",
            "72",
            "--sources",
            "grafana",
            "-o",
            &o,
        ],
        tmp.path(),
    );
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(stderr.contains("preset low-prevalence"), "{stderr}");
    let manifest = std::fs::read_to_string(tmp.path().join("out/manifest.json")).expect("manifest");
    let v: serde_json::Value = serde_json::from_str(&manifest).expect("json");
    assert_eq!(v["config_digest"].as_str(), Some(digest(&preset).as_str()));
    let file = std::fs::File::open(tmp.path().join("out/labels/incidents.parquet")).expect("open");
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .expect("parquet")
        .build()
        .expect("reader");
    let mut minutes = Vec::new();
    for batch in reader {
        let batch = batch.expect("batch");
        let col = |n: &str| batch.column(batch.schema().index_of(n).expect(n)).clone();
        let before = col("began_before_range");
        let before = before
            .as_any()
            .downcast_ref::<arrow::array::BooleanArray>()
            .expect("bool");
        let secs = col("duration_seconds");
        let secs = secs
            .as_any()
            .downcast_ref::<arrow::array::Int64Array>()
            .expect("i64");
        for i in 0..batch.num_rows() {
            if !before.value(i) {
                minutes.push(secs.value(i) as f64 / 60.0);
            }
        }
    }
    // About two a day (Poisson: 6 expected in three days), about 14 minutes on average.
    assert!(
        (2..=12).contains(&minutes.len()),
        "{} incidents",
        minutes.len()
    );
    let mean = minutes.iter().sum::<f64>() / minutes.len() as f64;
    assert!(mean >= 7.0, "mean {mean} min: {minutes:?}");
}
