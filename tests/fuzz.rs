//! A deterministic fuzzer over the configuration files and the command line.
//!
//! Each case mutates the default YAML files (delete, duplicate, swap or re-indent lines;
//! extreme scalars, wrong types, garbage, anchors and aliases, bound edges; files that are
//! FIFOs, directories, huge or not UTF-8) or the arguments of `generate`, `scenario`,
//! `config` and `manifest merge`, and runs the binary with a timeout. Every case must end
//! in a clean error (a non-zero exit code, an `error:` message, no `panicked`, no signal)
//! or a valid run; a configuration that `config check` accepts must also give a valid
//! one-hour `generate` of one source. A panic, an abort, a signal or a timeout fails.
//!
//! The mutations come from a fixed seed, so CI is reproducible: `OBSGEN_FUZZ_SEED`
//! and `OBSGEN_FUZZ_CASES` override the seed and the number of cases; a failure prints
//! the seed, the case number, its mutation and the output. What it found is kept as
//! explicit regression cases in `tests/config_bounds.rs`.

use obsgen::config::{BOUNDS, BoundKind, DEFAULT_FILES, locate::Locations};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const DEFAULT_SEED: u64 = 0x0b56_e9f0_2215;
const DEFAULT_CASES: usize = 3000;
/// `config check` reads three small files: seconds mean a hang.
const CHECK_TIMEOUT: Duration = Duration::from_secs(20);
/// A one-hour, one-source run at the configuration's limits takes a few seconds.
const RUN_TIMEOUT: Duration = Duration::from_secs(90);
const START: &str = "2026-11-23T00:00:00Z";

/// SplitMix64.
struct Rng(u64);

impl Rng {
    fn new(seed: u64, case: u64) -> Rng {
        let mut r = Rng(seed ^ case.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        r.next();
        r
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// What a case runs.
#[derive(Debug, Clone)]
enum Case {
    /// Mutated files (services, incidents, generation), then `config check` and, if it
    /// passes, a one-hour `generate --sources SOURCE`.
    Files {
        texts: [Vec<u8>; 3],
        special: Option<Special>,
        source: &'static str,
    },
    /// A command line (the configuration is the default unless it names one).
    Cli { args: Vec<String>, expect_ok: bool },
}

/// A configuration path that is not an ordinary file.
#[derive(Debug, Clone, Copy)]
enum Special {
    Fifo(usize),
    Directory(usize),
    DevZeroLink(usize),
    BrokenLink(usize),
    NoFiles,
}

const SOURCES: [&str; 4] = ["kubernetes", "sentry", "cloudwatch", "grafana"];
const NAMES: [&str; 3] = [DEFAULT_FILES[0].0, DEFAULT_FILES[1].0, DEFAULT_FILES[2].0];

/// Scalars that break things: extremes, non-finite, wrong types, odd YAML.
const SCALARS: &[&str] = &[
    "0",
    "-1",
    "-0.5",
    "1e308",
    "-1e308",
    "1e-300",
    "4294967295",
    "4294967296",
    "18446744073709551615",
    "18446744073709551616",
    "9223372036854775807",
    "-9223372036854775808",
    ".nan",
    ".inf",
    "-.inf",
    "1_000",
    "0x10",
    "0o17",
    "1.5",
    "100000",
    "2.5e6",
    "''",
    "\"\"",
    "~",
    "null",
    "true",
    "false",
    "yes",
    "abc",
    "\"10\"",
    "[]",
    "[1, 2]",
    "{}",
    "{a: 1}",
    "!!binary aGVsbG8=",
    "!custom 3",
    "*nowhere",
    "&anchor 5",
    "\"\\u0000\"",
    "\"é\"",
    "'multi\n  line'",
    "|\n    block",
    "2026-11-23",
    "999.999.999",
    "snappy:3",
    "zstd:99",
];

/// Text inserted as garbage.
const GARBAGE: &[&str] = &[
    "\t",
    ":",
    ": :",
    "{",
    "}",
    "[",
    "]",
    "- ",
    "&a",
    "*a",
    "<<: *a",
    "? ",
    "!",
    "%YAML 1.2",
    "---",
    "...",
    "#",
    "\"",
    "'",
    "|",
    ">",
    "\u{feff}",
    "\u{0}",
    "\r",
    "\\",
    "@",
    "`",
    "ünïcödé",
    "\u{202e}",
];

/// The positions of the values on a line: after `: ` (up to `,`, `}` or a comment at depth
/// 0), and the items of flow sequences.
fn value_spans(line: &str) -> Vec<(usize, usize)> {
    let b = line.as_bytes();
    let mut spans = Vec::new();
    let mut i = 0;
    while i + 1 < b.len() {
        let after_colon = b[i] == b':' && b[i + 1] == b' ';
        let after_dash = i == line.len() - line.trim_start().len()
            && b[i] == b'-'
            && b[i + 1] == b' '
            && !line[i + 2..].contains(": ");
        if after_colon || after_dash {
            let mut s = i + 2;
            while s < b.len() && b[s] == b' ' {
                s += 1;
            }
            if s >= b.len() || b[s] == b'#' {
                i += 1;
                continue;
            }
            let mut e = s;
            if b[s] == b'[' || b[s] == b'{' {
                let mut depth = 0i32;
                while e < b.len() {
                    match b[e] {
                        b'[' | b'{' => depth += 1,
                        b']' | b'}' => {
                            depth -= 1;
                            if depth == 0 {
                                e += 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                    e += 1;
                }
            } else {
                while e < b.len() && !matches!(b[e], b',' | b'}' | b']') {
                    if b[e] == b' ' && e + 1 < b.len() && b[e + 1] == b'#' {
                        break;
                    }
                    e += 1;
                }
            }
            while e > s && b[e - 1] == b' ' {
                e -= 1;
            }
            if e > s {
                spans.push((s, e));
            }
            i = s;
        }
        i += 1;
    }
    spans
}

/// Replaces the value at a random span of a random line; returns a description.
fn replace_value(rng: &mut Rng, lines: &mut [String], with: &str) -> Option<String> {
    let candidates: Vec<(usize, (usize, usize))> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| !l.trim_start().starts_with('#'))
        .flat_map(|(i, l)| value_spans(l).into_iter().map(move |s| (i, s)))
        .collect();
    if candidates.is_empty() {
        return None;
    }
    let (i, (s, e)) = *rng.pick(&candidates);
    let before = lines[i][s..e].to_string();
    lines[i].replace_range(s..e, with);
    Some(format!("line {}: `{before}` -> `{with}`", i + 1))
}

/// A value just inside or outside a bound.
fn edge_values(min: f64, max: f64, integer: bool) -> Vec<String> {
    let d = if integer {
        1.0
    } else {
        (max - min).abs() * 0.001 + 1e-9
    };
    let mut v = vec![
        min,
        max,
        min - d,
        max + d,
        max * 10.0 + d,
        min + (max - min) / 2.0,
    ];
    if integer {
        v.retain(|x| x.fract() == 0.0);
    }
    v.into_iter()
        .map(|x| {
            if x.fract() == 0.0 && x.abs() < 1e15 {
                format!("{}", x as i64)
            } else {
                format!("{x}")
            }
        })
        .collect()
}

/// Sets a bounded key to one of its edge values.
fn edge_mutation(rng: &mut Rng, file: usize, text: &str, lines: &mut [String]) -> Option<String> {
    let loc = Locations::index(text);
    let mut targets: Vec<(String, (u64, u64), f64, f64)> = Vec::new();
    for (path, pos) in loc.paths() {
        for b in BOUNDS
            .iter()
            .filter(|b| b.file == NAMES[file] && b.kind == BoundKind::Value)
        {
            if b.matches(path) {
                targets.push((path.to_string(), pos, b.min, b.max));
            }
        }
    }
    if targets.is_empty() {
        return None;
    }
    targets.sort_by(|a, b| a.0.cmp(&b.0));
    let (path, (line, col), min, max) = rng.pick(&targets).clone();
    let l = &mut lines[line as usize - 1];
    let s = l
        .char_indices()
        .nth(col as usize - 1)
        .map_or(l.len(), |(i, _)| i);
    let e = l[s..].find([',', '}', ']', ' ']).map_or(l.len(), |k| s + k);
    let old = l[s..e].to_string();
    let integer = !old.contains('.') && min.fract() == 0.0 && max.fract() == 0.0;
    let values = edge_values(min, max, integer);
    let v = rng.pick(&values).clone();
    l.replace_range(s..e, &v);
    Some(format!("`{path}` (line {line}): `{old}` -> `{v}`"))
}

/// One mutation of file `file`'s text; returns the new text and a description.
fn mutate_text(rng: &mut Rng, file: usize, text: &str) -> (String, String) {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let n = lines.len();
    let kind = rng.below(15);
    let what = match kind {
        0 => {
            let i = rng.below(n);
            let l = lines.remove(i);
            format!("delete line {}: `{}`", i + 1, l.trim())
        }
        1 => {
            let i = rng.below(n);
            let l = lines[i].clone();
            lines.insert(i + 1, l.clone());
            format!("duplicate line {}: `{}`", i + 1, l.trim())
        }
        2 => {
            let (a, b) = (rng.below(n), rng.below(n));
            lines.swap(a, b);
            format!("swap lines {} and {}", a + 1, b + 1)
        }
        3 => {
            let i = rng.below(n);
            let shift = *rng.pick(&[-2i32, -1, 1, 2, 4]);
            let l = &mut lines[i];
            if shift > 0 {
                l.insert_str(0, &" ".repeat(shift as usize));
            } else {
                let k = l.len() - l.trim_start().len();
                l.drain(..k.min((-shift) as usize));
            }
            format!("re-indent line {} by {shift}", i + 1)
        }
        4..=6 => {
            let v = *rng.pick(SCALARS);
            replace_value(rng, &mut lines, v).unwrap_or_else(|| "no value".into())
        }
        7 | 8 => edge_mutation(rng, file, text, &mut lines).unwrap_or_else(|| "no bound".into()),
        9 => {
            let i = rng.below(n);
            let g = *rng.pick(GARBAGE);
            let l = &mut lines[i];
            let at = rng.below(l.chars().count() + 1);
            let byte = l.char_indices().nth(at).map_or(l.len(), |(b, _)| b);
            l.insert_str(byte, g);
            format!("insert {g:?} into line {} at {}", i + 1, at + 1)
        }
        10 => {
            // An anchor on one value and an alias in place of another.
            let a = replace_value(rng, &mut lines, "&fz 7");
            let b = replace_value(rng, &mut lines, "*fz");
            format!("anchor {a:?}, alias {b:?}")
        }
        12 | 13 => {
            // A number multiplied: products of plausible values.
            let numeric: Vec<(usize, (usize, usize))> = lines
                .iter()
                .enumerate()
                .filter(|(_, l)| !l.trim_start().starts_with('#'))
                .flat_map(|(i, l)| value_spans(l).into_iter().map(move |s| (i, s)))
                .filter(|&(i, (s, e))| lines[i][s..e].parse::<f64>().is_ok())
                .collect();
            if numeric.is_empty() {
                "no number".to_string()
            } else {
                let (i, (s, e)) = *rng.pick(&numeric);
                let old: f64 = lines[i][s..e].parse().unwrap_or(0.0);
                let f = *rng.pick(&[0.0, 0.001, 0.5, 3.0, 10.0, 100.0, 1000.0, 1e6]);
                let v = old * f;
                let new = if v.fract() == 0.0 && v.abs() < 1e15 && !lines[i][s..e].contains('.') {
                    format!("{}", v as i64)
                } else {
                    format!("{v}")
                };
                let before = lines[i][s..e].to_string();
                lines[i].replace_range(s..e, &new);
                format!("line {}: `{before}` x {f} -> `{new}`", i + 1)
            }
        }
        11 => {
            // An alias bomb or a merge key.
            let i = rng.below(n);
            let indent = lines[i].len() - lines[i].trim_start().len();
            let pad = " ".repeat(indent);
            if rng.chance(50) {
                let bomb = [
                    "fz_a: &fz_a [x, x, x, x, x, x, x, x, x, x]",
                    "fz_b: &fz_b [*fz_a, *fz_a, *fz_a, *fz_a, *fz_a, *fz_a, *fz_a, *fz_a]",
                    "fz_c: &fz_c [*fz_b, *fz_b, *fz_b, *fz_b, *fz_b, *fz_b, *fz_b, *fz_b]",
                    "fz_d: [*fz_c, *fz_c, *fz_c, *fz_c, *fz_c, *fz_c, *fz_c, *fz_c]",
                ];
                for (k, l) in bomb.iter().enumerate() {
                    lines.insert(i + k, format!("{pad}{l}"));
                }
                format!("alias bomb at line {}", i + 1)
            } else {
                lines.insert(i, format!("{pad}<<: {{night_level: 3, replicas: 2}}"));
                format!("merge key at line {}", i + 1)
            }
        }
        _ => {
            let cut = rng.below(text.len());
            let mut cut = cut;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            return (text[..cut].to_string(), format!("truncate at byte {cut}"));
        }
    };
    let mut out = lines.join("\n");
    out.push('\n');
    (out, what)
}

/// Arguments a CLI case draws from.
fn cli_case(rng: &mut Rng, out: &Path) -> (Vec<String>, String) {
    let o = out.display().to_string();
    let command = rng.below(10);
    let mut args: Vec<String> = Vec::new();
    let flag_values: &[(&str, &[&str])] = &[
        (
            "--scale",
            &[
                "0", "-1", "-0.5", "nan", "inf", "-inf", "1e308", "1001", "0.001", "1", "3",
                "1e-300", "abc", "",
            ],
        ),
        (
            "--duration-hours",
            &[
                "0",
                "1",
                "2",
                "-1",
                "-3",
                "8785",
                "100000",
                "4294967295",
                "4294967296",
                "1.5",
                "x",
                "",
            ],
        ),
        (
            "--start",
            &[
                "2026-11-23",
                START,
                "2026-11-23T08:30:00Z",
                "1969-12-31",
                "0001-01-01",
                "9999-12-31T23:00:00Z",
                "2026-13-45",
                "yesterday",
                "",
                "-1",
                "1e9",
                "2026-11-23T00:00:00+05:30",
            ],
        ),
        (
            "--end",
            &[
                "2026-11-23T01:00:00Z",
                "2026-11-22",
                "9999-12-31",
                "2026-11-23T00:30:00Z",
                "x",
                "",
            ],
        ),
        (
            "--threads",
            &["0", "1", "2", "-3", "1025", "100000", "x", ""],
        ),
        (
            "--seed",
            &[
                "0",
                "-1",
                "18446744073709551615",
                "18446744073709551616",
                "x",
            ],
        ),
        (
            "--compression",
            &[
                "zstd", "zstd:0", "zstd:22", "zstd:23", "zstd:-1", "snappy", "snappy:3", "lz4:1",
                "gzip:9", "none", "brotli", "", ":", "zstd:",
            ],
        ),
        (
            "--format",
            &[
                "parquet",
                "jsonl",
                "parquet,jsonl",
                "csv",
                "",
                ",",
                "jsonl,jsonl",
            ],
        ),
        (
            "--sources",
            &[
                "kubernetes",
                "grafana",
                "sentry",
                "cloudwatch",
                "x",
                "",
                ",",
                "grafana,grafana",
            ],
        ),
        ("--parts", &["0", "1", "2", "-1", "4294967296"]),
        ("--part", &["0", "1", "2", "3", "-1"]),
        ("--incidents", &["on", "off", "maybe", ""]),
        (
            "--config",
            &["/nonexistent", "/dev/null", "/dev", "/proc/self", ""],
        ),
        ("--bogus", &["1"]),
        ("-3", &[]),
    ];
    let describe = match command {
        0..=5 => {
            args.push("generate".into());
            args.extend(["--duration-hours", "1", "--start", START].map(String::from));
            args.extend(["--sources".into(), (*rng.pick(&SOURCES)).into()]);
            let k = 1 + rng.below(3);
            for _ in 0..k {
                let (flag, values) = rng.pick(flag_values);
                args.push(flag.to_string());
                if !values.is_empty() {
                    args.push(rng.pick(values).to_string());
                }
            }
            args.extend(["-o".into(), o]);
            "generate flags".to_string()
        }
        6 | 7 => {
            args.push("scenario".into());
            let types = [
                "memory_leak",
                "node_failure",
                "dependency_outage",
                "disk_pressure",
                "nope",
                "",
                "-1",
            ];
            args.push(rng.pick(&types).to_string());
            if rng.chance(50) {
                let services = ["frontend", "payment-service", "nope", ""];
                args.extend(["--service".into(), rng.pick(&services).to_string()]);
            }
            let durations = ["0", "1", "2", "-1", "100000", "x"];
            if rng.chance(60) {
                args.extend(["--duration-hours".into(), rng.pick(&durations).to_string()]);
            }
            if rng.chance(30) {
                args.extend(["--end".into(), "2026-11-24".into()]);
            }
            args.extend(["--sources".into(), (*rng.pick(&SOURCES)).into()]);
            args.extend(["-o".into(), o]);
            "scenario".to_string()
        }
        8 => {
            args.extend(["config".into(), "check".into()]);
            let dirs = [
                "/nonexistent",
                "/dev/null",
                "/dev",
                "/proc/self",
                "",
                "/tmp/../",
            ];
            args.push(rng.pick(&dirs).to_string());
            "config check path".to_string()
        }
        _ => {
            args.extend(["manifest".into(), "merge".into()]);
            let dirs = ["/nonexistent", "/dev/null", "", "/tmp/../"];
            args.push(rng.pick(&dirs).to_string());
            if rng.chance(50) {
                args.extend(["--threads".into(), rng.pick(&["0", "-1", "2"]).to_string()]);
            }
            "manifest merge".to_string()
        }
    };
    (args, describe)
}

/// Builds case `i`: its category, a description and what to run.
fn build_case(seed: u64, i: usize, scratch: &Path) -> (&'static str, String, Case) {
    let mut rng = Rng::new(seed, i as u64);
    let source = SOURCES[i % SOURCES.len()];
    let roll = rng.below(100);
    if roll < 18 {
        let (args, what) = cli_case(&mut rng, &scratch.join("out"));
        let what = format!("{what}: {}", args.join(" "));
        return (
            "cli",
            what,
            Case::Cli {
                args,
                expect_ok: false,
            },
        );
    }
    let mut texts: [Vec<u8>; 3] = DEFAULT_FILES.map(|(_, t)| t.as_bytes().to_vec());
    if roll < 21 {
        let f = rng.below(3);
        let special = match rng.below(5) {
            0 => Special::Fifo(f),
            1 => Special::Directory(f),
            2 => Special::DevZeroLink(f),
            3 => Special::BrokenLink(f),
            _ => Special::NoFiles,
        };
        return (
            "special file",
            format!("{special:?}"),
            Case::Files {
                texts,
                special: Some(special),
                source,
            },
        );
    }
    if roll < 24 {
        let f = rng.below(3);
        let what = match rng.below(4) {
            0 => {
                texts[f] = vec![b'#'; 1024 * 1024 + 10];
                "over 1 MiB".to_string()
            }
            1 => {
                texts[f].splice(40..40, [0xff, 0xfe, 0x80]);
                "not UTF-8".to_string()
            }
            2 => {
                texts[f].clear();
                "empty".to_string()
            }
            _ => {
                texts[f].splice(0..0, "\u{feff}".bytes());
                "byte order mark".to_string()
            }
        };
        return (
            "bytes",
            format!("{}: {what}", NAMES[f]),
            Case::Files {
                texts,
                special: None,
                source,
            },
        );
    }
    let mutations = 1 + if rng.chance(25) { rng.below(3) } else { 0 };
    let mut whats = Vec::new();
    let mut category = "yaml";
    for _ in 0..mutations {
        let f = rng.below(3);
        let text = String::from_utf8(texts[f].clone()).expect("utf-8 so far");
        let (t, what) = mutate_text(&mut rng, f, &text);
        if what.starts_with('`') {
            category = "bound edge";
        } else if what.contains("` x ") && category == "yaml" {
            category = "scaled number";
        }
        texts[f] = t.into_bytes();
        whats.push(format!("{}: {what}", NAMES[f]));
    }
    (
        category,
        whats.join("; "),
        Case::Files {
            texts,
            special: None,
            source,
        },
    )
}

/// Cases and process seconds per (category, outcome).
type Tally = BTreeMap<(&'static str, &'static str), (usize, f64)>;

/// How a process ended.
#[derive(Debug)]
struct Ran {
    code: Option<i32>,
    timed_out: bool,
    stdout: String,
    stderr: String,
    seconds: f64,
}

fn run(args: &[String], dir: &Path, timeout: Duration) -> Ran {
    let out_path = dir.join("stdout.txt");
    let err_path = dir.join("stderr.txt");
    let started = Instant::now();
    // OBSGEN_FUZZ_BIN: fuzz another build (e.g. an older one, to see what it finds).
    let bin = std::env::var_os("OBSGEN_FUZZ_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_obsgen")));
    let mut child = Command::new(bin)
        .args(args)
        .current_dir(dir)
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).expect("stdout file"))
        .stderr(std::fs::File::create(&err_path).expect("stderr file"))
        .spawn()
        .expect("start obsgen");
    let mut timed_out = false;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if started.elapsed() > timeout {
            timed_out = true;
            let _ = child.kill();
            break child.wait().expect("wait after kill");
        }
        std::thread::sleep(Duration::from_millis(3));
    };
    let read = |p: &Path| {
        let b = std::fs::read(p).unwrap_or_default();
        String::from_utf8_lossy(&b[..b.len().min(64 * 1024)]).into_owned()
    };
    Ran {
        code: status.code(),
        timed_out,
        stdout: read(&out_path),
        stderr: read(&err_path),
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// `Ok(true)`: a valid run; `Ok(false)`: a clean error; `Err`: what went wrong.
fn judge(r: &Ran) -> Result<bool, String> {
    if r.timed_out {
        return Err(format!("hang: no exit after {:.0} s", r.seconds));
    }
    let Some(code) = r.code else {
        return Err("killed by a signal (abort or crash)".into());
    };
    for bad in [
        "panicked",
        "memory allocation",
        "RUST_BACKTRACE",
        "stack overflow",
    ] {
        if r.stderr.contains(bad) {
            return Err(format!("`{bad}` in stderr"));
        }
    }
    if code == 0 {
        return Ok(true);
    }
    if code == 101 {
        return Err("exit code 101 (a panic)".into());
    }
    if !r.stderr.contains("error:") {
        return Err(format!("exit code {code} without an `error:` message"));
    }
    Ok(false)
}

fn write_files(dir: &Path, texts: &[Vec<u8>; 3], special: Option<Special>) {
    std::fs::create_dir_all(dir).expect("case dir");
    for (f, t) in texts.iter().enumerate() {
        std::fs::write(dir.join(NAMES[f]), t).expect("write config");
    }
    let Some(s) = special else { return };
    let target = |f: usize| {
        let p = dir.join(NAMES[f]);
        std::fs::remove_file(&p).expect("remove");
        p
    };
    match s {
        Special::Fifo(f) => {
            let p = target(f);
            let ok = Command::new("mkfifo")
                .arg(&p)
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                // No mkfifo: a directory stands in.
                std::fs::create_dir(&p).expect("mkdir");
            }
        }
        Special::Directory(f) => std::fs::create_dir(target(f)).expect("mkdir"),
        Special::DevZeroLink(f) => {
            #[cfg(unix)]
            std::os::unix::fs::symlink("/dev/zero", target(f)).expect("symlink");
        }
        Special::BrokenLink(f) => {
            #[cfg(unix)]
            std::os::unix::fs::symlink(dir.join("nowhere.yaml"), target(f)).expect("symlink");
        }
        Special::NoFiles => {
            for (f, name) in NAMES.iter().enumerate() {
                std::fs::rename(dir.join(name), dir.join(format!("{f}-{name}"))).expect("rename");
            }
        }
    }
}

/// Runs case `i`; returns (category, outcome) or a failure report.
fn run_case(seed: u64, i: usize, root: &Path) -> Result<(&'static str, &'static str, f64), String> {
    let dir = root.join(format!("case-{i}"));
    std::fs::create_dir_all(&dir).expect("case dir");
    let (category, what, case) = build_case(seed, i, &dir);
    let fail = |stage: &str, why: String, r: &Ran| {
        format!(
            "seed {seed:#x} case {i} [{category}] {what}\n  {stage}: {why}\n  exit {:?}\n  stderr: {}\n  stdout: {}",
            r.code,
            r.stderr.trim(),
            r.stdout.lines().take(3).collect::<Vec<_>>().join(" / ")
        )
    };
    let result = match case {
        Case::Cli { args, expect_ok } => {
            let r = run(&args, &dir, RUN_TIMEOUT);
            match judge(&r) {
                Ok(true) => Ok((category, "valid run", r.seconds)),
                Ok(false) if !expect_ok => Ok((category, "clean error", r.seconds)),
                Ok(false) => Err(fail("run", "refused".into(), &r)),
                Err(why) => Err(fail("run", why, &r)),
            }
        }
        Case::Files {
            texts,
            special,
            source,
        } => {
            let cfg = dir.join("cfg");
            write_files(&cfg, &texts, special);
            let check_args = vec!["config".into(), "check".into(), cfg.display().to_string()];
            let r = run(&check_args, &dir, CHECK_TIMEOUT);
            match judge(&r) {
                Err(why) => Err(fail("config check", why, &r)),
                Ok(false) => Ok((category, "clean error", r.seconds)),
                Ok(true) => {
                    let args: Vec<String> = [
                        "generate",
                        "--config",
                        &cfg.display().to_string(),
                        "--duration-hours",
                        "1",
                        "--sources",
                        source,
                        "--threads",
                        "1",
                        // What the configuration allows, whatever this machine's free
                        // disk and memory (the guard's refusals depend on them).
                        "--no-guard",
                        "-o",
                        &dir.join("out").display().to_string(),
                    ]
                    .map(String::from)
                    .to_vec();
                    let g = run(&args, &dir, RUN_TIMEOUT);
                    match judge(&g) {
                        Ok(true) => Ok((category, "valid run", r.seconds + g.seconds)),
                        Ok(false) => Err(fail(
                            "generate",
                            "config check accepted the configuration, generate refused it".into(),
                            &g,
                        )),
                        Err(why) => Err(fail("generate", why, &g)),
                    }
                }
            }
        }
    };
    let _ = std::fs::remove_dir_all(&dir);
    result
}

#[test]
fn fuzz_configuration_and_command_line() {
    let seed = std::env::var("OBSGEN_FUZZ_SEED")
        .ok()
        .and_then(|s| {
            let s = s.trim();
            match s.strip_prefix("0x") {
                Some(h) => u64::from_str_radix(h, 16).ok(),
                None => s.parse().ok(),
            }
        })
        .unwrap_or(DEFAULT_SEED);
    let cases = std::env::var("OBSGEN_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    let only: Option<usize> = std::env::var("OBSGEN_FUZZ_CASE")
        .ok()
        .and_then(|s| s.parse().ok());
    println!(
        "fuzz: seed {seed:#x}, {cases} cases (OBSGEN_FUZZ_SEED, OBSGEN_FUZZ_CASES, OBSGEN_FUZZ_CASE)"
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let root: PathBuf = tmp.path().to_path_buf();
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let tally: Mutex<Tally> = Mutex::new(BTreeMap::new());
    let failures: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let list: Vec<usize> = match only {
        Some(c) => vec![c],
        None => (0..cases).collect(),
    };
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(1, 4);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&i) = list.get(k) else { break };
                    match run_case(seed, i, &root) {
                        Ok((category, outcome, secs)) => {
                            let mut t = tally.lock().expect("tally");
                            let e = t.entry((category, outcome)).or_insert((0, 0.0));
                            e.0 += 1;
                            e.1 += secs;
                        }
                        Err(report) => failures.lock().expect("failures").push(report),
                    }
                }
            });
        }
    });
    let tally = tally.into_inner().expect("tally");
    let failures = failures.into_inner().expect("failures");
    println!(
        "fuzz: {} cases in {:.1} s with {workers} workers",
        list.len(),
        started.elapsed().as_secs_f64()
    );
    for ((category, outcome), (n, secs)) in &tally {
        println!("  {category:<14} {outcome:<12} {n:>5}  ({secs:.1} s of process time)");
    }
    if !failures.is_empty() {
        for f in &failures {
            println!("FAILED {f}\n");
        }
        panic!(
            "{} of {} fuzz cases failed (seed {seed:#x}); rerun one with OBSGEN_FUZZ_CASE=N",
            failures.len(),
            list.len()
        );
    }
}

#[test]
fn value_spans_find_block_and_flow_values() {
    assert_eq!(value_spans("  a: 1"), vec![(5, 6)]);
    let l = "    - { hour: 10.5, width: 2.5, height: 0.95 }";
    let spans: Vec<&str> = value_spans(l).iter().map(|&(s, e)| &l[s..e]).collect();
    assert_eq!(spans, ["10.5", "2.5", "0.95"]);
    let l = "  weekly: [1.0, 1.02] # Monday first";
    let spans: Vec<&str> = value_spans(l).iter().map(|&(s, e)| &l[s..e]).collect();
    assert_eq!(spans, ["[1.0, 1.02]"]);
    let l = "      - GET /cart";
    let spans: Vec<&str> = value_spans(l).iter().map(|&(s, e)| &l[s..e]).collect();
    assert_eq!(spans, ["GET /cart"]);
}
