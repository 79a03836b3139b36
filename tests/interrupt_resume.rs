//! Interrupt and resume (issue 15, item 5). SIGINT and SIGTERM stop a run within seconds,
//! with exit status 130 / 143, no temporary file and no manifest left, and a message
//! naming what is complete; `generate --resume` keeps the partitions the progress journal
//! records whose files are intact (checked by checksum), renders the others (missing,
//! altered, or written after the journal's last line), and ends byte-identical to an
//! uninterrupted run, also after SIGKILL, also for a part of a split run. `--resume`
//! refuses a directory of another run and `--overwrite`; a run that did not finish is
//! refused without `--resume` and replaced by `--overwrite`.

#![cfg(unix)]

mod common;

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Six hours of every source in both formats: 66 partitions, about a second or two.
const RUN: [&str; 7] = [
    "generate",
    "--start",
    "2026-11-23T06:00:00Z",
    "--duration-hours",
    "6",
    "--format",
    "parquet,jsonl",
];
const TOTAL: usize = 66;
const JOURNAL: &str = "_obsgen_progress.jsonl";

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_obsgen")
}

fn obsgen(args: &[&str], out: &Path) -> Output {
    Command::new(bin())
        .args(args)
        .arg("-o")
        .arg(out)
        .env_remove("OBSGEN_GUARD_DISK_GB")
        .env_remove("OBSGEN_GUARD_MEMORY_GB")
        .output()
        .expect("run obsgen")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn scratch(name: &str) -> PathBuf {
    common::fixture_root("obsgen-resume-").join(name)
}

/// The uninterrupted run every resumed one must equal.
fn reference() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = scratch("reference");
        let o = obsgen(&[&RUN[..], &["--threads", "2"]].concat(), &dir);
        assert!(o.status.success(), "reference run: {}", stderr(&o));
        dir
    })
}

/// Path → bytes of every file under `dir`, but those `skip` matches.
fn tree(dir: &Path, skip: impl Fn(&str) -> bool) -> BTreeMap<String, Vec<u8>> {
    common::list_files(dir)
        .into_iter()
        .filter(|p| !skip(p))
        .map(|p| {
            let bytes = std::fs::read(dir.join(&p)).expect("read");
            (p, bytes)
        })
        .collect()
}

/// Every file of `dir` (but `skip`) is the reference's, byte for byte, and no file is missing.
fn assert_same_as_reference(dir: &Path, skip: impl Fn(&str) -> bool + Copy) {
    let a = tree(reference(), skip);
    let b = tree(dir, skip);
    let only_a: Vec<&String> = a.keys().filter(|k| !b.contains_key(*k)).collect();
    let only_b: Vec<&String> = b.keys().filter(|k| !a.contains_key(*k)).collect();
    assert!(
        only_a.is_empty() && only_b.is_empty(),
        "file sets differ: only in the uninterrupted run {only_a:?}, only in {}: {only_b:?}",
        dir.display()
    );
    let differ: Vec<&String> = a.keys().filter(|k| a[*k] != b[*k]).collect();
    assert!(
        differ.is_empty(),
        "files differ from the uninterrupted run: {differ:?}"
    );
    assert!(a.len() > 3 * TOTAL / 2, "{} files", a.len());
}

fn journal_entries(path: &Path) -> usize {
    std::fs::read(path)
        .map(|t| t.iter().filter(|&&b| b == b'\n').count().saturating_sub(1))
        .unwrap_or(0)
}

/// Starts `obsgen ARGS -o OUT` and returns once its journal records `entries` partitions.
fn start_until_journaled(args: &[&str], out: &Path, journal: &str, entries: usize) -> Child {
    let mut child = Command::new(bin())
        .args(args)
        .arg("-o")
        .arg(out)
        .env_remove("OBSGEN_GUARD_DISK_GB")
        .env_remove("OBSGEN_GUARD_MEMORY_GB")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn obsgen");
    let deadline = Instant::now() + Duration::from_secs(120);
    while journal_entries(&out.join(journal)) < entries {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the run ended ({status}) before {entries} partitions were journaled");
        }
        assert!(Instant::now() < deadline, "no journal after 120 s");
        std::thread::sleep(Duration::from_millis(2));
    }
    child
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: kill(2) on our own child's pid.
    let rc = unsafe { libc::kill(child.id() as i32, sig) };
    assert_eq!(rc, 0, "kill");
}

/// Waits for the child to end (at most `limit`); its status, stderr and the time it took.
fn wait(mut child: Child, limit: Duration) -> (std::process::ExitStatus, String, Duration) {
    let t0 = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut err);
            }
            return (status, err, t0.elapsed());
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            panic!("the run did not stop within {limit:?} of the signal");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Files whose names mark them temporary.
fn temporary_files(dir: &Path) -> Vec<String> {
    common::list_files(dir)
        .into_iter()
        .filter(|p| {
            let name = p.rsplit('/').next().unwrap_or(p);
            name.ends_with(".tmp") || name.starts_with('.')
        })
        .collect()
}

/// `N of TOTAL partitions complete` in an interruption message.
fn complete_in(msg: &str) -> usize {
    let head = msg
        .split(&format!(" of {TOTAL} partitions complete"))
        .next()
        .expect("count");
    head.rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {msg:?}"))
}

/// A run stopped by `sig` after a few partitions: checks the exit status, the message,
/// that no temporary file and no manifest is left, and that the journal records what the
/// message says. Returns the number of partitions complete.
fn interrupted(out: &Path, sig: i32, name: &str, code: i32) -> usize {
    let child = start_until_journaled(&[&RUN[..], &["--threads", "1"]].concat(), out, JOURNAL, 3);
    signal(&child, sig);
    let (status, err, took) = wait(child, Duration::from_secs(20));
    assert_eq!(status.code(), Some(code), "{name}: {status}; {err}");
    assert!(
        took < Duration::from_secs(10),
        "{name}: stopped after {took:?}"
    );
    assert!(err.contains(&format!("interrupted by {name}")), "{err}");
    assert!(err.contains("rerun with --resume"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let complete = complete_in(&err);
    assert!((3..TOTAL).contains(&complete), "{err}");
    assert_eq!(journal_entries(&out.join(JOURNAL)), complete, "{err}");
    assert!(
        !out.join("manifest.json").exists(),
        "{name} left a manifest"
    );
    let temps = temporary_files(out);
    assert!(temps.is_empty(), "{name} left temporary files: {temps:?}");
    complete
}

fn resume(out: &Path, extra: &[&str]) -> String {
    let o = obsgen(&[&RUN[..], &["--resume"], extra].concat(), out);
    let err = stderr(&o);
    assert!(o.status.success(), "resume failed: {err}");
    assert!(
        !out.join(JOURNAL).exists(),
        "the journal outlived the manifest"
    );
    err
}

#[test]
fn sigint_stops_cleanly_and_resume_ends_byte_identical() {
    let out = scratch("sigint");
    let t0 = Instant::now();
    let complete = interrupted(&out, libc::SIGINT, "SIGINT", 130);
    let err = resume(&out, &["--threads", "2"]);
    let took = t0.elapsed();
    assert!(
        err.contains(&format!(
            "resume: kept {complete} of {TOTAL} partitions (verified by checksum), rendered {}",
            TOTAL - complete
        )),
        "{err}"
    );
    assert_same_as_reference(&out, |_| false);
    eprintln!("interrupted after {complete} of {TOTAL} partitions, resumed: {took:?} in all");
}

#[test]
fn sigterm_stops_cleanly_and_resume_ends_byte_identical() {
    let out = scratch("sigterm");
    let complete = interrupted(&out, libc::SIGTERM, "SIGTERM", 143);
    let err = resume(&out, &["--threads", "1"]);
    assert!(
        err.contains(&format!("kept {complete} of {TOTAL}")),
        "{err}"
    );
    assert_same_as_reference(&out, |_| false);
}

#[test]
fn resume_after_sigkill_ends_byte_identical() {
    let out = scratch("sigkill");
    let child = start_until_journaled(&[&RUN[..], &["--threads", "2"]].concat(), &out, JOURNAL, 5);
    signal(&child, libc::SIGKILL);
    let (status, _, _) = wait(child, Duration::from_secs(20));
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{status}");
    let journaled = journal_entries(&out.join(JOURNAL));
    assert!(journaled >= 5);
    // No handler ran: a file being written may be left, under a name readers skip.
    for p in common::list_files(&out) {
        let name = p.rsplit('/').next().unwrap_or(&p);
        assert!(
            !name.contains(".tmp") || name.starts_with('.'),
            "a temporary file readers would not skip: {p}"
        );
    }
    let err = resume(&out, &["--threads", "2"]);
    assert!(
        err.contains(&format!("kept {journaled} of {TOTAL}")),
        "{err}"
    );
    assert_same_as_reference(&out, |_| false);
}

#[test]
fn resume_renders_again_what_is_altered_missing_or_not_journaled() {
    let out = scratch("damaged");
    interrupted(&out, libc::SIGINT, "SIGINT", 130);
    let journal = std::fs::read_to_string(out.join(JOURNAL)).expect("journal");
    let lines: Vec<serde_json::Value> = journal
        .lines()
        .skip(1)
        .map(|l| serde_json::from_str(l).expect("journal line"))
        .collect();
    let file = |line: usize, i: usize| {
        lines[line]["files"][i]["path"]
            .as_str()
            .expect("path")
            .to_string()
    };
    // A byte flipped in one journaled file, another journaled file deleted.
    let flipped = file(0, 0);
    let mut bytes = std::fs::read(out.join(&flipped)).expect("read");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(out.join(&flipped), bytes).expect("write");
    let deleted = file(1, 1);
    std::fs::remove_file(out.join(&deleted)).expect("rm");
    // A torn file: a partition file on disk that the journal does not record, and a
    // temporary file beside it.
    let journaled: Vec<String> = (0..lines.len())
        .flat_map(|l| (0..lines[l]["files"].as_array().map_or(0, |a| a.len())).map(move |i| (l, i)))
        .map(|(l, i)| file(l, i))
        .collect();
    let torn = common::list_files(reference())
        .into_iter()
        .find(|p| p.ends_with(".parquet") && p.contains("/date=") && !journaled.contains(p))
        .expect("a partition not journaled");
    let torn_path = out.join(&torn);
    std::fs::create_dir_all(torn_path.parent().expect("parent")).expect("mkdir");
    std::fs::write(&torn_path, b"PAR1 torn").expect("write");
    let tmp = torn_path.with_file_name(".part-00000.parquet.tmp");
    std::fs::write(&tmp, b"half").expect("write");

    let err = resume(&out, &["--threads", "2"]);
    assert!(
        err.contains("failed verification and were rendered again"),
        "{err}"
    );
    assert!(err.contains(&format!("{flipped} (checksum")), "{err}");
    assert!(err.contains(&format!("{deleted} (absent)")), "{err}");
    assert!(err.contains("were not in the journal"), "{err}");
    assert!(
        err.contains(&format!("kept {} of {TOTAL}", lines.len() - 2)),
        "{err}"
    );
    assert!(!tmp.exists(), "the temporary file was left");
    assert_same_as_reference(&out, |_| false);
}

#[test]
fn resume_refuses_another_run_and_overwrite_replaces_an_unfinished_one() {
    let out = scratch("identity");
    interrupted(&out, libc::SIGINT, "SIGINT", 130);
    let before = tree(&out, |_| false);
    for (extra, says) in [
        (&["--seed", "7"][..], "seed is 42 there, 7 here"),
        (
            &["--format", "parquet"][..],
            "formats is parquet,jsonl there, parquet here",
        ),
        (&["--scale", "2"][..], "scale is 1.0 there, 2.0 here"),
        (
            &["--compression", "snappy"][..],
            "compression is zstd:1 there, snappy here",
        ),
        (
            &["--incidents", "off"][..],
            "incidents is true there, false here",
        ),
    ] {
        // RUN without its --format (a second --format would add to the first).
        let format = if extra[0] == "--format" {
            &[][..]
        } else {
            &RUN[5..]
        };
        let o = obsgen(&[&RUN[..5], format, &["--resume"], extra].concat(), &out);
        let err = stderr(&o);
        assert!(!o.status.success(), "--resume {extra:?} accepted");
        assert!(
            err.contains("cannot resume") && err.contains(says),
            "{extra:?}: {err}"
        );
        assert!(
            err.contains(JOURNAL) && err.contains("--overwrite"),
            "{err}"
        );
    }
    let o = obsgen(
        &[
            "generate",
            "--start",
            "2026-11-23T06:00:00Z",
            "--duration-hours",
            "5",
            "--format",
            "parquet,jsonl",
            "--resume",
        ],
        &out,
    );
    assert!(
        stderr(&o).contains("end is 2026-11-23T12:00:00Z there, 2026-11-23T11:00:00Z here"),
        "{}",
        stderr(&o)
    );
    // --resume and --overwrite exclude each other.
    let o = obsgen(&[&RUN[..], &["--resume", "--overwrite"]].concat(), &out);
    let err = stderr(&o);
    assert!(!o.status.success());
    assert!(
        err.contains("--resume") && err.contains("--overwrite"),
        "{err}"
    );
    // Without either, the unfinished run is refused with a hint.
    let o = obsgen(&RUN, &out);
    let err = stderr(&o);
    assert!(!o.status.success());
    assert!(
        err.contains("did not finish") && err.contains("--resume"),
        "{err}"
    );
    assert_eq!(
        tree(&out, |_| false),
        before,
        "a refusal changed the directory"
    );

    // --overwrite removes what the journal records (and temporary files), keeps the rest.
    std::fs::write(out.join("notes.txt"), "mine").expect("write");
    std::fs::create_dir_all(out.join("kubernetes")).expect("mkdir");
    std::fs::write(out.join("kubernetes/kubeconfig.yaml"), "mine").expect("write");
    let o = obsgen(&[&RUN[..], &["--overwrite"]].concat(), &out);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!out.join(JOURNAL).exists());
    let user = |p: &str| p == "notes.txt" || p == "kubernetes/kubeconfig.yaml";
    assert_same_as_reference(&out, user);
    assert_eq!(
        std::fs::read_to_string(out.join("notes.txt")).expect("kept"),
        "mine"
    );
}

#[test]
fn resume_of_a_complete_run_does_nothing_and_elsewhere_refuses_or_starts() {
    // Complete: the manifest of this very run.
    let out = scratch("complete");
    let o = obsgen(&[&RUN[..], &["--threads", "2"]].concat(), &out);
    assert!(o.status.success(), "{}", stderr(&o));
    let before = tree(&out, |_| false);
    let err = resume(&out, &[]);
    assert!(err.contains("already complete"), "{err}");
    assert_eq!(tree(&out, |_| false), before);
    // ... but not of another run.
    let o = obsgen(&[&RUN[..], &["--resume", "--seed", "7"]].concat(), &out);
    let err = stderr(&o);
    assert!(!o.status.success());
    assert!(
        err.contains("manifest.json is of another run") && err.contains("seed is 42 there, 7 here"),
        "{err}"
    );

    // A directory of someone else's files: nothing to resume.
    let foreign = scratch("foreign");
    std::fs::create_dir_all(&foreign).expect("mkdir");
    std::fs::write(foreign.join("notes.txt"), "mine").expect("write");
    let o = obsgen(&[&RUN[..], &["--resume"]].concat(), &foreign);
    let err = stderr(&o);
    assert!(!o.status.success());
    assert!(err.contains("nothing to resume"), "{err}");
    assert_eq!(common::list_files(&foreign), vec!["notes.txt"]);

    // A directory that does not exist: the run starts from the beginning.
    let fresh = scratch("fresh");
    let o = obsgen(
        &[
            "generate",
            "--start",
            "2026-11-23T06:00:00Z",
            "--duration-hours",
            "1",
            "--sources",
            "grafana",
            "--resume",
        ],
        &fresh,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(fresh.join("manifest.json").exists());
}

#[test]
fn a_part_interrupted_by_sigterm_resumes_and_merges_into_the_single_run() {
    let out = scratch("part");
    let part1 = [&RUN[..], &["--parts", "2", "--part", "1", "--threads", "1"]].concat();
    let journal = "_obsgen_progress.part-1-of-2.jsonl";
    let child = start_until_journaled(&part1, &out, journal, 2);
    signal(&child, libc::SIGTERM);
    let (status, err, _) = wait(child, Duration::from_secs(20));
    assert_eq!(status.code(), Some(143), "{err}");
    assert!(err.contains("of 33 partitions complete"), "{err}");
    assert!(!out.join("manifest.part-1-of-2.json").exists());
    assert!(
        temporary_files(&out).is_empty(),
        "{:?}",
        temporary_files(&out)
    );
    let o = obsgen(&[&part1[..], &["--resume"]].concat(), &out);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("resume: kept"), "{}", stderr(&o));
    assert!(!out.join(journal).exists());
    let o = obsgen(&[&RUN[..], &["--parts", "2", "--part", "2"]].concat(), &out);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = Command::new(bin())
        .args(["manifest", "merge"])
        .arg(&out)
        .output()
        .expect("merge");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_same_as_reference(&out, |p| p.starts_with("manifest.part-"));
}
