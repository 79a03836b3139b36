//! The guard before a run: from an estimate of what the run will write and hold, a run
//! that would not fit the free disk of its output directory, whose peak memory would
//! exceed the machine's, or that asks for far more threads than cores, is refused before
//! anything is written. `--no-guard` (`GenerateOptions::guard = false`) skips it.
//!
//! The estimate: each table's mean rows per hour, measured with the default
//! configuration at scale 1 (a day from 2026-11-23, zstd level 1), scaled by the values
//! that drive the table (the scale, `rows_per_minute`, the sample rates, the replicas...);
//! bytes per row of each file (the partition, its labels twin, the JSON Lines file), with
//! a factor for the Parquet codec; memory per row of a rendered partition in its busiest
//! hour (the traffic curve's peak without bursts), for as many partitions as threads.
//! Measured against real runs, the disk figure is within about 10% for a day and the
//! memory figure 1.5 to 2 times the peak RSS; the disk check adds 20%.

use super::GenerateOptions;
use crate::config::Config;
use crate::error::Error;
use crate::sink::Compression;
use crate::sources::Table;
use crate::time::Micros;
use std::path::{Path, PathBuf};

/// The flag that skips the guard, named in its messages.
pub const FLAG: &str = "--no-guard";

/// Margin on the disk estimate.
const DISK_MARGIN: f64 = 1.2;

/// Threads per core beyond which a run is refused.
const THREADS_PER_CORE: usize = 4;

/// Memory of the process before any partition: the binary, the configuration and a
/// small world plan (the plan's growth with the range is added from the estimate).
const BASE_MEMORY: f64 = 64e6;

/// A table at scale 1 with the default configuration, per hour (means over a day), and
/// the memory one of its rows takes while its partition is rendered and written.
struct Calibration {
    table: &'static str,
    rows: f64,
    parquet: f64,
    jsonl: f64,
    labels: f64,
    memory_per_row: f64,
    /// Whether its rows follow traffic (and the scale).
    traffic: bool,
}

/// Measured from `generate --duration-hours 24 --format parquet,jsonl` (defaults).
const CALIBRATION: [Calibration; 11] = [
    cal(
        "cloudwatch/alarms",
        5.6,
        10_455.0,
        2_140.0,
        7_570.0,
        2000.0,
        false,
    ),
    cal(
        "cloudwatch/insights_queries",
        6.9,
        7_962.0,
        1_230.0,
        7_680.0,
        2000.0,
        false,
    ),
    cal(
        "cloudwatch/logs",
        13_727.0,
        888_216.0,
        1_366_019.0,
        163_812.0,
        650.0,
        true,
    ),
    cal(
        "cloudwatch/metrics",
        11_414.0,
        161_480.0,
        468_631.0,
        111_555.0,
        400.0,
        false,
    ),
    cal(
        "grafana/annotations",
        6.6,
        6_292.0,
        861.0,
        7_586.0,
        2000.0,
        false,
    ),
    cal(
        "grafana/panel_series",
        9_887.0,
        161_341.0,
        673_246.0,
        100_530.0,
        400.0,
        false,
    ),
    cal(
        "kubernetes/events",
        78.1,
        17_446.0,
        8_828.0,
        10_784.0,
        2000.0,
        true,
    ),
    cal(
        "kubernetes/metrics",
        4_319.0,
        189_492.0,
        1_786_368.0,
        60_494.0,
        800.0,
        false,
    ),
    cal(
        "kubernetes/pod_logs",
        21_066.0,
        1_165_173.0,
        3_443_759.0,
        272_839.0,
        650.0,
        true,
    ),
    cal(
        "sentry/errors",
        159.4,
        62_522.0,
        119_737.0,
        12_236.0,
        3000.0,
        true,
    ),
    cal(
        "sentry/transactions",
        3_256.0,
        424_913.0,
        906_006.0,
        49_386.0,
        1300.0,
        true,
    ),
];

const fn cal(
    table: &'static str,
    rows: f64,
    parquet: f64,
    jsonl: f64,
    labels: f64,
    memory_per_row: f64,
    traffic: bool,
) -> Calibration {
    Calibration {
        table,
        rows,
        parquet,
        jsonl,
        labels,
        memory_per_row,
        traffic,
    }
}

/// Parquet bytes relative to zstd (measured on a 6-hour run).
fn codec_factor(c: Compression) -> f64 {
    match c {
        Compression::Zstd(_) => 1.0,
        Compression::Gzip => 1.1,
        Compression::Snappy | Compression::Lz4 => 1.8,
        Compression::None => 4.0,
    }
}

/// What drives a table's rows, relative to which the calibration is scaled.
fn driver(cfg: &Config, table: &str) -> Result<f64, Error> {
    let g = &cfg.generation;
    let s = &cfg.services;
    let rpm = g.sources.kubernetes.pod_logs.rows_per_minute.0;
    let replicas: f64 = s.services.iter().map(|x| x.replicas as f64).sum();
    let est = || cfg.estimate(1.0, 24).map_err(Error::from);
    let estimated = |name: &str| -> Result<f64, Error> {
        let e = est()?;
        let rows = e
            .peak_hour_rows
            .iter()
            .find(|t| t.table == name)
            .map_or(0.0, |t| {
                if t.scaled {
                    t.rows / e.traffic_peak.total()
                } else {
                    t.rows
                }
            });
        Ok(rows)
    };
    Ok(match table {
        "kubernetes/pod_logs" => rpm,
        "kubernetes/events" => g.sources.kubernetes.events.background_per_hour.0 + replicas,
        "kubernetes/metrics" => {
            replicas * 3600.0 / g.sources.kubernetes.metrics.scrape_interval_seconds as f64
        }
        "sentry/errors" => {
            rpm * (g.world.baseline_error_rate.0 + g.sources.sentry.handled_errors_per_visit.0)
        }
        "sentry/transactions" => rpm * g.sources.sentry.traces_sample_rate.0,
        "cloudwatch/metrics" => {
            let a = &s.aws;
            (a.rds.len()
                + a.load_balancers.len()
                + a.sqs.len()
                + a.dynamodb.len()
                + a.lambda.len()
                + s.cluster.nodes.count as usize) as f64
        }
        "cloudwatch/logs" => estimated("cloudwatch/logs")?,
        "cloudwatch/alarms" => s.alarms.len() as f64 + 1.0,
        "cloudwatch/insights_queries" => {
            let cw = &g.sources.cloudwatch;
            cw.insights_queries_per_hour.0 + cw.insights_queries_per_hour_in_alarm.0 / 10.0
        }
        "grafana/panel_series" => estimated("grafana/panel_series")?,
        _ => 1.0,
    })
}

/// One table's estimated volume.
#[derive(Debug, Clone)]
pub struct TableVolume {
    pub table: String,
    /// Rows in a mean hour.
    pub rows_per_hour: f64,
    /// Bytes written per hour (every format and the labels twin).
    pub bytes_per_hour: f64,
    /// Rows in the busiest hour.
    pub peak_rows: f64,
    /// Memory of one partition in the table's busiest hour.
    pub partition_memory: f64,
}

/// What a run will write and hold at most.
#[derive(Debug, Clone)]
pub struct Estimate {
    pub tables: Vec<TableVolume>,
    /// Bytes the partitions to render will take on disk (without the margin).
    pub disk: f64,
    /// Peak memory of the process.
    pub memory: f64,
    /// Partitions rendered at once.
    pub concurrent: usize,
}

/// Estimates the run of `opts` rendering the partitions `render` (indices into `tables`).
pub fn estimate(
    opts: &GenerateOptions,
    tables: &[Box<dyn Table>],
    render: &[(usize, Micros)],
) -> Result<Estimate, Error> {
    let defaults = Config::defaults()?;
    let cfg = &opts.config;
    let run_est = cfg.estimate(
        opts.scale,
        (opts.range.end - opts.range.start) / crate::time::HOUR,
    )?;
    let p = run_est.traffic_peak;
    // The busiest hour without bursts (they last minutes and are rare).
    let hour_peak = p.diurnal * p.weekly * p.noise;
    let codec = codec_factor(opts.compression);
    let mut volumes: Vec<TableVolume> = Vec::with_capacity(tables.len());
    for t in tables {
        let name = format!("{}/{}", t.source().as_str(), t.name());
        let c = CALIBRATION.iter().find(|c| c.table == name);
        let (rows, parquet, jsonl, labels, per_row, traffic) = match c {
            Some(c) => (
                c.rows,
                c.parquet,
                c.jsonl,
                c.labels,
                c.memory_per_row,
                c.traffic,
            ),
            // A table the calibration does not know: assumed large and traffic-driven.
            None => (10_000.0, 1e6, 2e6, 2e5, 1000.0, true),
        };
        let base = driver(&defaults, &name)?;
        let ratio = if base > 0.0 {
            driver(cfg, &name)? / base
        } else {
            1.0
        };
        let ratio = ratio * if traffic { opts.scale } else { 1.0 };
        let per_hour = |bytes: f64| bytes * ratio;
        let mut bytes = per_hour(labels) * codec;
        if opts.formats.parquet {
            bytes += per_hour(parquet) * codec;
        }
        if opts.formats.jsonl {
            bytes += per_hour(jsonl);
        }
        // The busiest hour: the traffic curve's peak, or a rollout doubling the pods.
        let peak_rows = rows * ratio * if traffic { hour_peak } else { 2.0 };
        volumes.push(TableVolume {
            table: name,
            rows_per_hour: rows * ratio,
            bytes_per_hour: bytes,
            peak_rows,
            partition_memory: peak_rows * per_row,
        });
    }
    let disk: f64 = render
        .iter()
        .map(|&(ti, _)| volumes[ti].bytes_per_hour)
        .sum();
    // Partitions in flight: one per thread, each table at most ceil(threads / tables)
    // times (the workers go through the hours table by table); the largest count.
    let in_run: Vec<usize> = {
        let mut v: Vec<usize> = render.iter().map(|&(ti, _)| ti).collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let concurrent = opts.threads.max(1).min(render.len().max(1));
    let per_table = concurrent.div_ceil(in_run.len().max(1));
    let mut slots: Vec<f64> = in_run
        .iter()
        .flat_map(|&ti| std::iter::repeat_n(volumes[ti].partition_memory, per_table))
        .collect();
    slots.sort_by(|a, b| b.total_cmp(a));
    let partitions: f64 = slots.iter().take(concurrent).sum();
    let plan = run_est.traffic_slots * 24.0 + run_est.pods * 400.0 + run_est.restarts * 64.0;
    let jsonl = if opts.formats.jsonl { 1.1 } else { 1.0 };
    Ok(Estimate {
        tables: volumes,
        disk,
        memory: BASE_MEMORY + plan + partitions * jsonl,
        concurrent,
    })
}

/// Rendering speed of one thread, rows a second, and planning time per simulated day
/// (the world and each day's counterfactual twin), seconds: fitted on this project's
/// 2-core machine (BENCHMARKS.md, issue 14) from a default day (1.56 M rows in 2.6 s)
/// and 28 days of grafana alone (0.9 s a day).
const ROWS_PER_SECOND_PER_THREAD: f64 = 330_000.0;
const PLAN_SECONDS_PER_DAY: f64 = 0.35;

/// What `generate --dry-run` prints: the run's partitions, rows, files and bytes per
/// table, its expected duration, and whether the guard would refuse it.
#[derive(Debug, Clone)]
pub struct DryRun {
    pub tables: Vec<TablePlan>,
    pub estimate: Estimate,
    pub seconds: f64,
    /// The guard's refusal, when it would refuse.
    pub refusal: Option<String>,
}

/// What a run writes of one table.
#[derive(Debug, Clone)]
pub struct TablePlan {
    pub table: String,
    pub partitions: u64,
    pub rows: f64,
    pub files: u64,
    pub bytes: f64,
}

/// The dry run of `opts` over the partitions `render`, nothing written.
pub fn dry_run(
    opts: &GenerateOptions,
    tables: &[Box<dyn Table>],
    render: &[(usize, Micros)],
) -> Result<DryRun, Error> {
    let estimate = estimate(opts, tables, render)?;
    let files_per_partition = 1 + opts.formats.parquet as u64 + opts.formats.jsonl as u64;
    let mut per_table: Vec<TablePlan> = Vec::new();
    for (ti, v) in estimate.tables.iter().enumerate() {
        let n = render.iter().filter(|r| r.0 == ti).count() as u64;
        if n > 0 {
            per_table.push(TablePlan {
                table: v.table.clone(),
                partitions: n,
                rows: v.rows_per_hour * n as f64,
                files: n * files_per_partition,
                bytes: v.bytes_per_hour * n as f64,
            });
        }
    }
    let rows: f64 = per_table.iter().map(|t| t.rows).sum();
    let hours: std::collections::BTreeSet<Micros> = render.iter().map(|r| r.1).collect();
    let threads = opts
        .threads
        .max(1)
        .min(Resources::measure(&opts.output_dir).cores.max(1));
    let jsonl = if opts.formats.jsonl { 2.1 } else { 1.0 };
    let seconds = hours.len() as f64 / 24.0 * PLAN_SECONDS_PER_DAY
        + rows * jsonl / (ROWS_PER_SECOND_PER_THREAD * threads as f64);
    let refusal = match refuse(opts, &estimate, render, 0) {
        Ok(()) => None,
        Err(Error::Guard(why)) => Some(why),
        Err(e) => return Err(e),
    };
    Ok(DryRun {
        tables: per_table,
        estimate,
        seconds,
        refusal,
    })
}

impl DryRun {
    /// The dry run as a table, for the terminal.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "{:<30}{:>11}{:>14}{:>8}{:>14}\n",
            "table", "partitions", "rows", "files", "bytes"
        );
        let (mut p, mut r, mut f, mut b) = (0, 0.0, 0, 0.0);
        for t in &self.tables {
            out += &format!(
                "{:<30}{:>11}{:>14}{:>8}{:>14}\n",
                t.table,
                t.partitions,
                crate::config::bounds::millions(t.rows),
                t.files,
                bytes_text(t.bytes)
            );
            (p, r, f, b) = (p + t.partitions, r + t.rows, f + t.files, b + t.bytes);
        }
        out += &format!(
            "{:<30}{p:>11}{:>14}{f:>8}{:>14}\n",
            "total",
            crate::config::bounds::millions(r),
            bytes_text(b)
        );
        out += &format!(
            "\nexpected: about {} on this machine, peak memory about {} ({} partitions at once)\n",
            duration(self.seconds),
            gb(self.estimate.memory),
            self.estimate.concurrent
        );
        out += &match &self.refusal {
            None => "the guard would let it run (disk, memory and threads fit)\n".to_string(),
            Some(why) => format!("the guard would refuse it: {why}\n"),
        };
        out
    }
}

/// Bytes as `850 KB`, `93.6 MB` or `2.4 GB`.
fn bytes_text(b: f64) -> String {
    if b >= 1e9 {
        format!("{:.1} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.1} MB", b / 1e6)
    } else {
        format!("{:.0} KB", b / 1e3)
    }
}

/// `s` seconds as `42 s`, `12 min` or `3.4 h`.
fn duration(s: f64) -> String {
    if s < 90.0 {
        format!("{} s", s.round().max(1.0))
    } else if s < 5400.0 {
        format!("{} min", (s / 60.0).round())
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}

/// What the machine offers.
#[derive(Debug, Clone)]
pub struct Resources {
    /// Bytes free to an unprivileged user on the output directory's filesystem, and how
    /// the figure was found.
    pub disk_free: Option<(u64, String)>,
    /// Memory the process may use, and where the figure comes from.
    pub memory: Option<(u64, String)>,
    pub cores: usize,
}

/// A cap on a figure from the environment (`OBSGEN_GUARD_DISK_GB`, `OBSGEN_GUARD_MEMORY_GB`):
/// a budget below what the machine has.
fn env_cap(name: &str) -> Option<(u64, String)> {
    let v: f64 = std::env::var(name).ok()?.trim().parse().ok()?;
    (v.is_finite() && v >= 0.0).then(|| ((v * 1e9) as u64, format!("{name}={v}")))
}

fn smaller(a: Option<(u64, String)>, b: Option<(u64, String)>) -> Option<(u64, String)> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if b.0 < a.0 { b } else { a }),
        (a, b) => a.or(b),
    }
}

/// The nearest existing directory at or above `dir` (the output directory may not exist yet).
fn existing_ancestor(dir: &Path) -> PathBuf {
    let abs = if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(dir)
    };
    let mut p = abs.as_path();
    loop {
        if p.is_dir() {
            return p.to_path_buf();
        }
        match p.parent() {
            Some(parent) => p = parent,
            None => return PathBuf::from("/"),
        }
    }
}

#[cfg(unix)]
fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: `c` is a valid NUL-terminated path; `st` is written by statvfs before it is
    // read, and only when the call succeeds.
    let st = unsafe {
        let mut st: libc::statvfs = std::mem::zeroed();
        if libc::statvfs(c.as_ptr(), &mut st) != 0 {
            return None;
        }
        st
    };
    Some((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}

#[cfg(not(unix))]
fn free_bytes(_dir: &Path) -> Option<u64> {
    None
}

/// `MemTotal` of /proc/meminfo, in bytes.
fn mem_total() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The cgroup (v2) memory limit of the process, when it has one.
fn cgroup_limit() -> Option<u64> {
    let cg = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let rel = cg.lines().find_map(|l| l.strip_prefix("0::"))?.trim();
    for p in [
        format!("/sys/fs/cgroup{rel}/memory.max"),
        "/sys/fs/cgroup/memory.max".to_string(),
    ] {
        if let Some(v) = std::fs::read_to_string(&p)
            .ok()
            .and_then(|t| t.trim().parse::<u64>().ok())
        {
            return Some(v);
        }
    }
    None
}

impl Resources {
    /// Measures the machine for a run writing into `dir`.
    pub fn measure(dir: &Path) -> Resources {
        let at = existing_ancestor(dir);
        let disk =
            free_bytes(&at).map(|b| (b, format!("free on the filesystem of {}", at.display())));
        let memory = smaller(
            mem_total().map(|b| (b, "MemTotal in /proc/meminfo".to_string())),
            cgroup_limit().map(|b| (b, "the cgroup's memory.max".to_string())),
        );
        Resources {
            disk_free: smaller(disk, env_cap("OBSGEN_GUARD_DISK_GB")),
            memory: smaller(memory, env_cap("OBSGEN_GUARD_MEMORY_GB")),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// `12.3 GB`, `0.0042 GB`, `0.0000100 GB`: one decimal from 0.1 GB, else three
/// significant digits.
pub fn gb(bytes: f64) -> String {
    let g = bytes / 1e9;
    if g >= 0.1 {
        format!("{g:.1} GB")
    } else if g > 0.0 {
        let decimals = (2.0 - g.log10().floor()).clamp(2.0, 12.0) as usize;
        format!("{g:.decimals$} GB")
    } else {
        "0 GB".to_string()
    }
}

/// Checks the run of `opts` (rendering `render`) against the machine. `reclaim`: bytes of
/// a previous dataset that `--overwrite` removes first. Every failed check is reported.
pub fn check(
    opts: &GenerateOptions,
    tables: &[Box<dyn Table>],
    render: &[(usize, Micros)],
    reclaim: u64,
) -> Result<Estimate, Error> {
    let est = estimate(opts, tables, render)?;
    refuse(opts, &est, render, reclaim)?;
    Ok(est)
}

/// The refusal of the run `est` estimates, when it does not fit the machine.
fn refuse(
    opts: &GenerateOptions,
    est: &Estimate,
    render: &[(usize, Micros)],
    reclaim: u64,
) -> Result<(), Error> {
    let res = Resources::measure(&opts.output_dir);
    let mut problems = Vec::new();
    let max_threads = THREADS_PER_CORE * res.cores;
    if opts.threads > max_threads {
        problems.push(format!(
            "threads: --threads {} is more than {THREADS_PER_CORE} per core ({} cores available, so at most {max_threads})",
            opts.threads, res.cores
        ));
    }
    if let Some((mem, source)) = &res.memory
        && est.memory > *mem as f64
    {
        let biggest = est
            .tables
            .iter()
            .max_by(|a, b| a.partition_memory.total_cmp(&b.partition_memory))
            .map(|t| {
                format!(
                    "; the largest partition, {}, about {} rows in its busiest hour",
                    t.table,
                    crate::config::bounds::millions(t.peak_rows)
                )
            })
            .unwrap_or_default();
        problems.push(format!(
            "memory: needs about {} at its peak ({} partitions rendered at once by {} threads{biggest}), available {} ({source}); lower --threads or --scale",
            gb(est.memory),
            est.concurrent,
            opts.threads,
            gb(*mem as f64),
        ));
    }
    if let Some((free, source)) = &res.disk_free {
        let needed = est.disk * DISK_MARGIN;
        let available = *free as f64 + reclaim as f64;
        if needed > available {
            let hours: std::collections::BTreeSet<Micros> = render.iter().map(|t| t.1).collect();
            let reclaimed = if reclaim > 0 {
                format!(
                    " + {} of the previous dataset that --overwrite removes",
                    gb(reclaim as f64)
                )
            } else {
                String::new()
            };
            problems.push(format!(
                "disk: needs about {} ({} partitions over {} hour{} at scale {}, {}{}; the estimate + 20%), available {} ({source}){reclaimed}; shorten the range, lower --scale, or write to a larger disk",
                gb(needed),
                render.len(),
                hours.len(),
                if hours.len() == 1 { "" } else { "s" },
                crate::config::bounds::number(opts.scale),
                opts.formats.names().join(" and "),
                if opts.formats.parquet {
                    format!(" ({})", opts.compression.name())
                } else {
                    String::new()
                },
                gb(*free as f64),
            ));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(Error::Guard(format!(
        "refused before writing anything ({FLAG} runs it anyway):\n  {}",
        problems.join("\n  ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gigabytes_keep_three_significant_digits_below_a_tenth() {
        assert_eq!(gb(12.34e9), "12.3 GB");
        assert_eq!(gb(0.1e9), "0.1 GB");
        assert_eq!(gb(4.2e6), "0.00420 GB");
        assert_eq!(gb(1e4), "0.0000100 GB");
        assert_eq!(gb(0.0), "0 GB");
    }
}
