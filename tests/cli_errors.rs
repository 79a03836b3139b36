//! The command line refuses bad input with a clear message, a non-zero exit code, and
//! without leaving a (partial) dataset behind: output directories that are not empty,
//! invalid configuration files, and invalid flags.

mod common;

use assert_cmd::Command;
use common::list_files;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

const START: &str = "2026-11-23T08:00:00Z";

fn obsgen() -> Command {
    Command::cargo_bin("obsgen").expect("the obsgen binary")
}

/// Runs `obsgen generate ARGS -o OUT`, expects a failure and returns stderr. Checks the
/// exit code, that the message is an `error:` line (not a panic), and that no manifest
/// (and no Parquet file) was written to `out`.
fn generate_fails(args: &[&str], out: &Path) -> String {
    let before = list_files(out);
    let output = obsgen()
        .arg("generate")
        .args(args)
        .arg("-o")
        .arg(out)
        .output()
        .expect("run obsgen");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        !output.status.success(),
        "obsgen generate {args:?} succeeded; stdout:\n{}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(
        output.status.code().is_some_and(|c| c != 0),
        "obsgen generate {args:?}: exit status {}",
        output.status
    );
    assert!(stderr.contains("error"), "no error message: {stderr}");
    assert!(!stderr.contains("panicked"), "obsgen panicked: {stderr}");
    assert!(
        before.iter().any(|f| f == "manifest.json") || !out.join("manifest.json").exists(),
        "a failed run wrote {}/manifest.json",
        out.display()
    );
    assert_eq!(
        list_files(out),
        before,
        "a failed run changed the files in {}",
        out.display()
    );
    stderr
}

/// A fresh temporary directory and an output directory inside it (not created).
fn scratch() -> (TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("out");
    (tmp, out)
}

/// Checks that a failing `generate ARGS` names `flag` (and each of `also`) in its message.
fn flag_error(args: &[&str], flag: &str, also: &[&str]) {
    let (_tmp, out) = scratch();
    let stderr = generate_fails(args, &out);
    assert!(
        stderr.contains(flag),
        "the error for {args:?} does not mention {flag}: {stderr}"
    );
    for a in also {
        assert!(
            stderr.contains(a),
            "the error for {args:?} does not mention {a:?}: {stderr}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Output directory.

#[test]
fn non_empty_output_dir_is_refused_without_overwrite() {
    let (_tmp, out) = scratch();
    std::fs::create_dir_all(&out).expect("mkdir");
    std::fs::write(out.join("notes.txt"), "keep me\n").expect("write");
    let stderr = generate_fails(&["--start", START, "--duration-hours", "1"], &out);
    assert!(
        stderr.contains(&out.display().to_string()),
        "the error does not name the directory {}: {stderr}",
        out.display()
    );
    assert!(stderr.contains("not empty"), "{stderr}");
    assert!(stderr.contains("--overwrite"), "{stderr}");
    assert_eq!(list_files(&out), ["notes.txt"]);
}

/// Runs `obsgen generate` for one kubernetes hour at `start` into `out` (in `cwd` if
/// given), with `--overwrite` if asked; returns whether it succeeded and its stderr.
fn generate_in(out: &Path, start: &str, overwrite: bool, cwd: Option<&Path>) -> (bool, String) {
    let mut cmd = obsgen();
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    cmd.args(["generate", "--start", start, "--duration-hours", "1"])
        .args(["--sources", "kubernetes", "--threads", "2"]);
    if overwrite {
        cmd.arg("--overwrite");
    }
    let output = cmd.arg("-o").arg(out).output().expect("run obsgen");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "obsgen panicked: {stderr}");
    (output.status.success(), stderr)
}

/// The user's files planted beside, inside and above a dataset, with their contents.
const USER_FILES: [&str; 7] = [
    "notes.txt",
    "manifest-of-my-photos.json",
    "manifest.backup.json",
    "kubernetes/kubeconfig.yaml",
    "kubernetes/pod_logs/README.md",
    "labels/my_hand_labels.csv",
    "labels/records/kubernetes/keep/me.txt",
];

fn plant(dir: &Path, rels: &[&str]) {
    for rel in rels {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, format!("the user's own {rel}\n")).expect("write");
    }
}

fn assert_planted(dir: &Path, rels: &[&str]) {
    for rel in rels {
        let text = std::fs::read_to_string(dir.join(rel))
            .unwrap_or_else(|e| panic!("the user's {rel} is gone: {e}"));
        assert_eq!(text, format!("the user's own {rel}\n"), "{rel} was changed");
    }
}

/// The paths a manifest lists.
fn manifest_paths(dir: &Path) -> Vec<String> {
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("manifest.json")).expect("manifest.json"),
    )
    .expect("JSON");
    let mut paths: Vec<String> = manifest["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f["path"].as_str().expect("path").to_string())
        .collect();
    paths.sort();
    paths
}

#[test]
fn overwrite_removes_only_what_the_previous_manifest_recorded() {
    let (tmp, out) = scratch();
    // Above the dataset: a sibling of the output directory and a file in its parent.
    plant(tmp.path(), &["above.txt", "sibling/kubernetes/x.txt"]);
    let (ok, stderr) = generate_in(&out, "2026-11-20T05:00:00Z", false, None);
    assert!(ok, "first run: {stderr}");
    let previous = manifest_paths(&out);
    plant(&out, &USER_FILES);
    let (ok, stderr) = generate_in(&out, START, true, None);
    assert!(ok, "--overwrite run: {stderr}");
    assert_planted(&out, &USER_FILES);
    assert_planted(tmp.path(), &["above.txt", "sibling/kubernetes/x.txt"]);
    let now = manifest_paths(&out);
    for p in &previous {
        assert!(
            !out.join(p).exists() || now.contains(p),
            "{p} of the previous run survived --overwrite"
        );
    }
    let mut expected: Vec<String> = now.clone();
    expected.push("manifest.json".into());
    expected.extend(USER_FILES.iter().map(|s| s.to_string()));
    expected.sort();
    assert_eq!(list_files(&out), expected, "files after --overwrite");
    // The previous run's emptied date directories are gone; the user's are kept.
    assert!(!out.join("kubernetes/events/date=2026-11-20").exists());
    assert!(out.join("kubernetes/pod_logs").is_dir());
}

#[test]
fn overwrite_in_the_current_directory_keeps_the_users_files() {
    let (tmp, out) = scratch();
    std::fs::create_dir_all(&out).expect("mkdir");
    plant(&out, &USER_FILES);
    let (ok, stderr) = generate_in(Path::new("."), START, false, Some(&out));
    assert!(!ok && stderr.contains("not empty"), "{stderr}");
    assert_planted(&out, &USER_FILES);
    // A dataset written beside them into a fresh subdirectory, then moved up, as a user
    // who ran `obsgen generate -o .` in an empty folder and added files afterwards.
    let fresh = tmp.path().join("fresh");
    let (ok, stderr) = generate_in(Path::new("."), "2026-11-20T05:00:00Z", false, {
        std::fs::create_dir_all(&fresh).expect("mkdir");
        Some(&fresh)
    });
    assert!(ok, "{stderr}");
    plant(&fresh, &USER_FILES);
    let (ok, stderr) = generate_in(Path::new("."), START, true, Some(&fresh));
    assert!(ok, "--overwrite -o .: {stderr}");
    assert_planted(&fresh, &USER_FILES);
    let mut expected = manifest_paths(&fresh);
    expected.push("manifest.json".into());
    expected.extend(USER_FILES.iter().map(|s| s.to_string()));
    expected.sort();
    assert_eq!(list_files(&fresh), expected);
}

#[test]
fn overwrite_without_an_obsgen_manifest_removes_nothing() {
    for manifest in [
        None,
        Some("{}"),
        Some("not json"),
        Some(r#"{"generator":"other"}"#),
    ] {
        let (_tmp, out) = scratch();
        let stale = "kubernetes/pod_logs/date=2020-01-01/hour=00/part-00000.parquet";
        plant(&out, &USER_FILES);
        plant(&out, &[stale]);
        if let Some(text) = manifest {
            std::fs::write(out.join("manifest.json"), text).expect("write");
        }
        let stderr = generate_fails(
            &["--start", START, "--duration-hours", "1", "--overwrite"],
            &out,
        );
        assert!(
            stderr.contains("manifest") && stderr.contains(&out.display().to_string()),
            "{manifest:?}: {stderr}"
        );
        assert_planted(&out, &USER_FILES);
        assert_planted(&out, &[stale]);
    }
}

#[test]
fn overwrite_refuses_a_manifest_that_points_outside_the_directory() {
    let (tmp, out) = scratch();
    let (ok, stderr) = generate_in(&out, "2026-11-20T05:00:00Z", false, None);
    assert!(ok, "{stderr}");
    plant(tmp.path(), &["victim.txt"]);
    let path = out.join("manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("JSON");
    let files = manifest["files"].as_array_mut().expect("files");
    let mut evil = files[0].clone();
    evil["path"] = "../victim.txt".into();
    files.push(evil);
    std::fs::write(&path, serde_json::to_string(&manifest).expect("JSON")).expect("write");
    let before = list_files(&out);
    let output = obsgen()
        .args([
            "generate",
            "--start",
            START,
            "--duration-hours",
            "1",
            "--overwrite",
            "-o",
        ])
        .arg(&out)
        .output()
        .expect("run obsgen");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "accepted ../victim.txt");
    assert!(stderr.contains("../victim.txt"), "{stderr}");
    assert_planted(tmp.path(), &["victim.txt"]);
    assert_eq!(list_files(&out), before, "removed files before refusing");
}

#[test]
fn overwrite_refuses_to_replace_a_file_it_did_not_write() {
    let (_tmp, out) = scratch();
    let (ok, stderr) = generate_in(&out, "2026-11-20T05:00:00Z", false, None);
    assert!(ok, "{stderr}");
    // The user's own file where this run's partition goes.
    let clash = "kubernetes/events/date=2026-11-23/hour=08/part-00000.parquet";
    plant(&out, &[clash]);
    let before = list_files(&out);
    let manifest = std::fs::read(out.join("manifest.json")).expect("manifest");
    let (ok, stderr) = generate_in(&out, START, true, None);
    assert!(!ok, "replaced the user's {clash}");
    assert!(stderr.contains(clash), "{stderr}");
    assert_planted(&out, &[clash]);
    // Refused before anything was removed: the previous dataset is intact.
    assert_eq!(list_files(&out), before);
    assert_eq!(
        std::fs::read(out.join("manifest.json")).expect("manifest"),
        manifest
    );
}

#[test]
fn output_path_that_is_a_file_is_refused() {
    let (tmp, _) = scratch();
    let file = tmp.path().join("out");
    std::fs::write(&file, "x").expect("write");
    let stderr = generate_fails(&["--start", START, "--duration-hours", "1"], &file);
    assert!(stderr.contains(&file.display().to_string()), "{stderr}");
    assert!(stderr.contains("not a directory"), "{stderr}");
}

// ---------------------------------------------------------------------------------------
// Configuration files.

/// A config directory written by `obsgen config init`.
fn init_config() -> (TempDir, PathBuf, String) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("cfg");
    let output = obsgen()
        .args(["config", "init"])
        .arg(&dir)
        .output()
        .expect("run obsgen config init");
    assert!(
        output.status.success(),
        "config init failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    for f in [
        "services_config.yaml",
        "incident_patterns.yaml",
        "generation_config.yaml",
    ] {
        assert!(dir.join(f).is_file(), "config init did not write {f}");
    }
    let text = std::fs::read_to_string(dir.join("services_config.yaml")).expect("read");
    (tmp, dir, text)
}

/// Where a service's entry is in services_config.yaml: its index in `services` and the
/// range of (0-based) lines of its block.
fn service_block(text: &str, service: &str) -> (usize, std::ops::Range<usize>) {
    let lines: Vec<&str> = text.lines().collect();
    // The top-level `services:` section runs to the next top-level key.
    let section_start = lines
        .iter()
        .position(|l| l.trim_end() == "services:")
        .expect("a top-level `services:` key");
    let section_end = (section_start + 1..lines.len())
        .find(|&i| lines[i].starts_with(|c: char| c.is_ascii_alphanumeric()))
        .unwrap_or(lines.len());
    let headers: Vec<usize> = (section_start + 1..section_end)
        .filter(|&i| lines[i].starts_with("  - name:"))
        .collect();
    let index = headers
        .iter()
        .position(|&i| lines[i].trim_start_matches("  - name:").trim() == service)
        .unwrap_or_else(|| panic!("no service {service} in services_config.yaml"));
    let start = headers[index];
    let end = headers.get(index + 1).copied().unwrap_or(section_end);
    (index, start..end)
}

/// Rewrites the `key:` line of `service` with `edit`. Returns the new text, the index of
/// the service and the 1-based number of the edited line.
fn edit_service(
    text: &str,
    service: &str,
    key: &str,
    edit: impl Fn(&str) -> String,
) -> (String, usize, usize) {
    let (index, block) = service_block(text, service);
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let at = block
        .clone()
        .find(|&i| lines[i].trim_start().starts_with(&format!("{key}:")))
        .unwrap_or_else(|| panic!("service {service} has no `{key}:` line"));
    let new = edit(&lines[at]);
    assert_ne!(new, lines[at], "the edit changed nothing");
    lines[at] = new;
    let mut out = lines.join("\n");
    out.push('\n');
    (out, index, at + 1)
}

/// The entries of a flow sequence line such as `    dependencies: [a, b]`.
fn flow_list(line: &str) -> Vec<String> {
    let inner = line
        .split_once('[')
        .and_then(|(_, r)| r.split_once(']'))
        .map(|(l, _)| l)
        .unwrap_or_else(|| panic!("not a flow sequence: {line}"));
    inner
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Writes `text` as services_config.yaml into `dir` and runs `generate --config dir`
/// (and `config check dir`): both must fail naming the file, `path` and `line`.
fn config_error(dir: &Path, text: &str, path: &str, line: usize) -> String {
    std::fs::write(dir.join("services_config.yaml"), text).expect("write");
    let out = dir.parent().expect("parent").join("out");
    let cfg = dir.display().to_string();
    let stderr = generate_fails(
        &["--start", START, "--duration-hours", "1", "--config", &cfg],
        &out,
    );
    let located = format!("services_config.yaml:{line}:");
    assert!(
        stderr.contains(&located),
        "the error does not point at {located}: {stderr}"
    );
    assert!(
        stderr.contains(&format!("`{path}`")),
        "the error does not name the key path `{path}`: {stderr}"
    );
    let check = obsgen()
        .args(["config", "check"])
        .arg(dir)
        .output()
        .expect("run obsgen config check");
    let check_err = String::from_utf8_lossy(&check.stderr);
    assert!(
        check.status.code().is_some_and(|c| c != 0),
        "config check accepted the file"
    );
    assert!(
        check_err.contains(&located) && check_err.contains(path),
        "config check: {check_err}"
    );
    stderr
}

#[test]
fn config_unknown_key_is_refused() {
    let (_tmp, dir, text) = init_config();
    let (text, i, line) = edit_service(&text, "api-gateway", "replicas", |l| {
        l.replacen("replicas:", "replicaz:", 1)
    });
    let stderr = config_error(&dir, &text, &format!("services[{i}].replicaz"), line);
    assert!(stderr.contains("unknown field"), "{stderr}");
}

#[test]
fn config_wrong_type_is_refused() {
    let (_tmp, dir, text) = init_config();
    let (text, i, line) = edit_service(&text, "frontend", "replicas", |_| {
        "    replicas: four".to_string()
    });
    config_error(&dir, &text, &format!("services[{i}].replicas"), line);
}

#[test]
fn config_negative_values_are_refused() {
    let (_tmp, dir, text) = init_config();
    let (edited, i, line) = edit_service(&text, "frontend", "deploys_per_day", |_| {
        "    deploys_per_day: -1.5".to_string()
    });
    let stderr = config_error(
        &dir,
        &edited,
        &format!("services[{i}].deploys_per_day"),
        line,
    );
    assert!(stderr.contains("negative"), "{stderr}");
    assert!(stderr.contains("-1.5"), "{stderr}");
    // An unsigned count.
    let (edited, i, line) = edit_service(&text, "user-service", "replicas", |_| {
        "    replicas: -2".to_string()
    });
    config_error(&dir, &edited, &format!("services[{i}].replicas"), line);
}

#[test]
fn config_unknown_dependency_is_refused() {
    let (_tmp, dir, text) = init_config();
    let (text, i, line) = edit_service(&text, "frontend", "dependencies", |_| {
        "    dependencies: [api-gatewai]".to_string()
    });
    let stderr = config_error(&dir, &text, &format!("services[{i}].dependencies[0]"), line);
    assert!(stderr.contains("api-gatewai"), "{stderr}");
}

#[test]
fn config_dependency_cycle_is_refused() {
    let (_tmp, dir, text) = init_config();
    // auth-service already depends on user-service; close the loop.
    let (a, a_block) = service_block(&text, "auth-service");
    let a_line = a_block
        .clone()
        .find(|&l| {
            text.lines()
                .nth(l)
                .is_some_and(|s| s.trim_start().starts_with("dependencies:"))
        })
        .expect("auth-service dependencies");
    let a_deps = flow_list(text.lines().nth(a_line).expect("line"));
    let a_j = a_deps
        .iter()
        .position(|d| d == "user-service")
        .expect("auth-service depends on user-service in the default configuration");
    let (text, u, u_line) = edit_service(&text, "user-service", "dependencies", |_| {
        "    dependencies: [auth-service]".to_string()
    });
    std::fs::write(dir.join("services_config.yaml"), &text).expect("write");
    let out = dir.parent().expect("parent").join("out");
    let cfg = dir.display().to_string();
    let stderr = generate_fails(
        &["--start", START, "--duration-hours", "1", "--config", &cfg],
        &out,
    );
    assert!(stderr.contains("cycle"), "{stderr}");
    assert!(
        stderr.contains("auth-service") && stderr.contains("user-service"),
        "{stderr}"
    );
    // Either edge of the cycle may be reported, with its line.
    let candidates = [
        (format!("services[{a}].dependencies[{a_j}]"), a_line + 1),
        (format!("services[{u}].dependencies[0]"), u_line),
    ];
    assert!(
        candidates.iter().any(|(path, line)| {
            stderr.contains(&format!("`{path}`"))
                && stderr.contains(&format!("services_config.yaml:{line}:"))
        }),
        "the error names neither edge of the cycle {candidates:?} with its line: {stderr}"
    );
}

// ---------------------------------------------------------------------------------------
// Flags.

#[test]
fn bad_start_is_refused() {
    flag_error(&["--start", "yesterday"], "--start", &["yesterday"]);
    flag_error(&["--start", "2026-13-45T08:00:00Z"], "--start", &[]);
}

#[test]
fn start_off_the_hour_is_refused() {
    flag_error(
        &["--start", "2026-11-23T08:30:00Z", "--duration-hours", "1"],
        "--start",
        &["hour boundary"],
    );
    flag_error(
        &["--start", START, "--end", "2026-11-23T09:30:00Z"],
        "--end",
        &["hour boundary"],
    );
}

#[test]
fn end_before_start_is_refused() {
    let (_tmp, out) = scratch();
    let stderr = generate_fails(&["--start", START, "--end", "2026-11-23T06:00:00Z"], &out);
    assert!(stderr.contains("end"), "{stderr}");
    assert!(stderr.contains("2026-11-23T06:00:00Z"), "{stderr}");
    assert!(stderr.contains(START), "{stderr}");
    let (_tmp, out) = scratch();
    generate_fails(&["--start", START, "--end", START], &out);
}

/// The message for an empty range should name the flag, like every other flag error.
#[test]
fn end_before_start_names_the_flag() {
    flag_error(
        &["--start", START, "--end", "2026-11-23T06:00:00Z"],
        "--end",
        &[],
    );
}

#[test]
fn zero_duration_is_refused() {
    flag_error(
        &["--start", START, "--duration-hours", "0"],
        "--duration-hours",
        &[],
    );
}

#[test]
fn unknown_source_is_refused() {
    flag_error(
        &[
            "--start",
            START,
            "--duration-hours",
            "1",
            "--sources",
            "prometheus",
        ],
        "--sources",
        &["prometheus"],
    );
    flag_error(
        &[
            "--start",
            START,
            "--duration-hours",
            "1",
            "--sources",
            "kubernetes,nope",
        ],
        "--sources",
        &["nope"],
    );
}

#[test]
fn bad_compression_is_refused() {
    for c in ["brotli", "zstd:99", "zstd:x"] {
        flag_error(
            &[
                "--start",
                START,
                "--duration-hours",
                "1",
                "--compression",
                c,
            ],
            "--compression",
            &[c],
        );
    }
}

#[test]
fn zero_threads_are_refused() {
    flag_error(
        &["--start", START, "--duration-hours", "1", "--threads", "0"],
        "--threads",
        &[],
    );
}

#[test]
fn non_positive_scale_is_refused() {
    for s in ["--scale=-1", "--scale=0"] {
        flag_error(
            &["--start", START, "--duration-hours", "1", s],
            "--scale",
            &[],
        );
    }
    flag_error(
        &["--start", START, "--duration-hours", "1", "--scale", "0"],
        "--scale",
        &[],
    );
}

/// `--scale -1` (with a space) is read by clap as an unknown flag `-1`, so the message
/// does not mention `--scale`.
#[test]
fn negative_scale_with_a_space_names_the_flag() {
    flag_error(
        &["--start", START, "--duration-hours", "1", "--scale", "-1"],
        "--scale",
        &[],
    );
}
