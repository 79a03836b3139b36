//! The `obsgen` command line.

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Parser, Subcommand};
use obsgen::config::Config;
use obsgen::pipeline::{GenerateOptions, generate};
use obsgen::sink::Compression;
use obsgen::sources::Source;
use obsgen::time::{HOUR, parse_instant};
use obsgen::world::TimeRange;
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "obsgen",
    version,
    about = "Synthetic, correlated, labelled observability datasets (Kubernetes, Sentry, CloudWatch, Grafana)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a dataset as Parquet, partitioned by source, table, date and hour.
    #[command(after_help = GENERATE_EXAMPLES)]
    Generate(GenerateArgs),
    /// Generate a short window around one incident of a type (the next one in the
    /// schedule from --start, optionally with its root cause in --service).
    Scenario(ScenarioArgs),
    /// Work with configuration files.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Check a dataset: its physical invariants (counters, limits, statuses, traces,
    /// request counts, label windows and phases) and, with --twin, the label contract
    /// against its counterfactual twin (a run of the same seed, configuration and range
    /// with `--incidents off`): a row is labelled iff the twin lacks it or has it with
    /// other values. Exits 1 when a row breaks either.
    Validate {
        /// The dataset (a complete run: manifest.json).
        dir: PathBuf,
        /// Its twin, generated with `--incidents off`.
        #[arg(long)]
        twin: Option<PathBuf>,
        /// Print the result as one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Grade a model's predictions against a dataset's ground truth (formats and metrics:
    /// schemas/predictions.md).
    Score {
        #[command(subcommand)]
        task: ScoreTask,
    },
    /// Split a dataset's range into chronological train / validation / test parts with
    /// buffers between them and at least --min-per-type incidents of each type in each;
    /// writes OUT/splits.json (`score --split NAME` scores one part).
    Split {
        /// The dataset (a complete run: manifest.json).
        dir: PathBuf,
        /// Share of the range for training.
        #[arg(long, default_value_t = 0.6)]
        train: f64,
        /// Share of the range for validation (test gets the rest).
        #[arg(long, default_value_t = 0.2)]
        validation: f64,
        /// Minutes between the parts that belong to none.
        #[arg(long, default_value_t = 30)]
        buffer_minutes: u32,
        /// Fewest incidents of each type in each part.
        #[arg(long, default_value_t = 1)]
        min_per_type: u32,
        /// Incident types kept out of train and validation (comma-separated).
        #[arg(long, value_delimiter = ',')]
        holdout_types: Vec<String>,
        /// Print the split instead of writing OUT/splits.json.
        #[arg(long)]
        dry_run: bool,
    },
    /// Work with run manifests.
    Manifest {
        #[command(subcommand)]
        command: ManifestCommand,
    },
    /// Print the first rows of one table of a dataset, without writing SQL.
    #[command(
        after_help = "Examples:\n  obsgen head pod_logs out\n  obsgen head cloudwatch/metrics out -n 5 --format json"
    )]
    Head {
        /// The table: source/table (kubernetes/pod_logs, labels/incidents) or a table name
        /// only one source has (pod_logs, alarms).
        table: String,
        /// The dataset (a complete run: manifest.json).
        dir: PathBuf,
        /// Rows to print (the first in time).
        #[arg(short = 'n', long, default_value_t = 20)]
        rows: usize,
        /// `table` (aligned columns, each value cut to --width characters) or `json` (one
        /// JSON object per row, whole values).
        #[arg(long, default_value = "table", value_parser = ["table", "json"])]
        format: String,
        /// Widest a value is printed in the `table` format.
        #[arg(long, default_value_t = 40)]
        width: usize,
    },
    /// Write one self-contained HTML page (inline SVG, no script, no network) to look at a
    /// dataset: the incident timeline by service and type with the phases shaded, each
    /// incident's signals in every source on one time axis, rows and label shares per
    /// table.
    #[command(after_help = "Example:\n  obsgen report out            # writes out/report.html")]
    Report {
        /// The dataset (a complete run: manifest.json).
        dir: PathBuf,
        /// Where to write the page (default: DIR/report.html).
        #[arg(short = 'o', long)]
        output: Option<PathBuf>,
        /// Incidents drawn in detail (the first in time; the timeline shows them all).
        #[arg(long, default_value_t = 100)]
        max_incidents: usize,
        /// Minutes shown before each incident's start and after its end.
        #[arg(long, default_value_t = 30)]
        margin_minutes: u32,
    },
    /// Export a dataset to another system's format.
    Export {
        #[command(subcommand)]
        format: ExportFormat,
    },
    /// Print a dataset's rows, files and bytes per table, the share of each table's rows
    /// an incident labels, and its incidents per type.
    Stats {
        /// The dataset (a complete run: manifest.json).
        dir: PathBuf,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
}

const GENERATE_EXAMPLES: &str = "Examples:
  obsgen generate                                   # a day from the configuration's start, all sources, into ./out
  obsgen generate --start 2026-11-23 --duration-hours 168 -o week
  obsgen generate --sources kubernetes,sentry --seed 7 --overwrite
  obsgen generate --tables pod_logs,cloudwatch/metrics --scale 0.5
  obsgen generate --duration-hours 720 --dry-run    # rows, files, bytes and time, nothing written
  obsgen generate --incidents off -o twin           # the counterfactual twin of ./out
  obsgen generate --parts 4 --part 2                # one machine's share; then `obsgen manifest merge`";

/// What every `obsgen score` task takes.
#[derive(Args)]
struct ScoreArgs {
    /// The dataset (a complete run: manifest.json).
    dir: PathBuf,
    /// The predictions: .parquet, .csv or .jsonl.
    predictions: PathBuf,
    /// Score only this part of OUT/splits.json (train, validation, test).
    #[arg(long)]
    split: Option<String>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum ScoreTask {
    /// Anomaly detection, per row (record_id, score and/or is_anomaly) or per window
    /// (start, end, optional service and score).
    Detect {
        #[command(flatten)]
        args: ScoreArgs,
        /// Flag score >= THRESHOLD (default: the is_anomaly column, else the best-F1
        /// threshold on the grid, reported as an oracle choice).
        #[arg(long, allow_negative_numbers = true)]
        threshold: Option<f64>,
    },
    /// Root-cause rankings: incident_id, rank and service / entity / indicator.
    Rca(ScoreArgs),
    /// Log parsing: record_id and the predicted template text and/or group (GA, FGA, PA,
    /// FTA as Loghub-2.0 computes them).
    Parse(ScoreArgs),
    /// Incident clustering: record_id and cluster, over the rows incidents caused (ARI,
    /// NMI, purity).
    Cluster(ScoreArgs),
}

#[derive(Subcommand)]
enum ExportFormat {
    /// The container metrics (kubernetes/metrics: the cAdvisor and kube-state-metrics
    /// series the Prometheus panels query) as OpenMetrics text with timestamps, for
    /// `promtool tsdb create-blocks-from openmetrics FILE DATA_DIR`.
    #[command(
        after_help = "Example:\n  obsgen export openmetrics out -o metrics.om\n  promtool tsdb create-blocks-from openmetrics metrics.om prometheus-data"
    )]
    Openmetrics {
        /// The dataset (a complete run: manifest.json).
        dir: PathBuf,
        /// Write to this file (written whole, then renamed into place) instead of stdout.
        #[arg(short = 'o', long)]
        output: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ManifestCommand {
    /// Combine the part manifests of a split run (manifest.part-K-of-N.json, from
    /// `generate --parts N --part K`) into manifest.json, after checking that every part and
    /// every partition is there exactly once; writes the incident tables.
    Merge {
        /// The output directory the parts wrote into.
        dir: PathBuf,
        /// The configuration directory the parts used (default: the embedded one).
        #[arg(long)]
        config: Option<PathBuf>,
        /// The preset the parts used, if any.
        #[arg(long, value_parser = obsgen::config::PRESETS.map(|p| p.0))]
        preset: Option<String>,
        /// Worker threads (default: all cores).
        #[arg(long, allow_negative_numbers = true)]
        threads: Option<usize>,
        /// Skip re-reading the files: check only that each is there with its recorded size
        /// (by default every file's checksum and row count are checked too).
        #[arg(long)]
        no_verify: bool,
        /// Merge even when data files that no part manifest records sit in the table
        /// directories (they are reported, and readers would take them as table data).
        #[arg(long)]
        allow_stray: bool,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Write the default configuration files into DIR, for editing.
    Init {
        dir: PathBuf,
        /// Replace files that already exist.
        #[arg(long)]
        overwrite: bool,
    },
    /// Validate the configuration in DIR (or the embedded defaults) and print its digest.
    Check {
        dir: Option<PathBuf>,
        /// Check with this preset applied on top (its digest is the run's).
        #[arg(long, value_parser = obsgen::config::PRESETS.map(|p| p.0))]
        preset: Option<String>,
    },
}

#[derive(Args)]
struct ScenarioArgs {
    /// Incident type, as in incident_patterns.yaml (memory_leak, node_failure...).
    incident_type: String,
    /// Only an incident whose root cause is in this service.
    #[arg(long)]
    service: Option<String>,
    /// Leave every other incident out of the window (and out of the 2 h before it, whose
    /// after-effects could reach it): the window's labels are this incident's alone.
    /// Near misses stay (the normal world has them). Recorded in the manifest.
    #[arg(long)]
    isolate: bool,
    #[command(flatten)]
    generate: GenerateArgs,
}

#[derive(Args)]
struct GenerateArgs {
    /// Start of the simulated range: RFC 3339 (2026-11-23T08:00:00Z) or a date (midnight UTC).
    /// Default: the configuration's `default_start` (2026-11-23T00:00:00Z embedded).
    #[arg(long)]
    start: Option<String>,
    /// End of the range (exclusive). Conflicts with --duration-hours.
    #[arg(long, conflicts_with = "duration_hours")]
    end: Option<String>,
    /// Length of the range in hours (default 24).
    #[arg(long, allow_negative_numbers = true)]
    duration_hours: Option<u32>,
    /// Output directory.
    #[arg(short = 'o', long, default_value = "out")]
    output_dir: PathBuf,
    /// Seed (default: the configuration's `seed`, 42 embedded).
    #[arg(long, allow_negative_numbers = true)]
    seed: Option<u64>,
    /// Directory holding services_config.yaml, incident_patterns.yaml, generation_config.yaml.
    /// Default: the embedded configuration (`obsgen config init DIR` writes it out).
    #[arg(long)]
    config: Option<PathBuf>,
    /// A named preset applied on top of the configuration: `low-prevalence` (two
    /// incidents a day, active about 2% of the time, longer incidents).
    #[arg(long, value_parser = obsgen::config::PRESETS.map(|p| p.0))]
    preset: Option<String>,
    /// Comma-separated sources to generate (kubernetes, sentry, cloudwatch, grafana).
    /// Default: all four.
    #[arg(long, value_delimiter = ',', conflicts_with = "tables")]
    sources: Option<Vec<String>>,
    /// Comma-separated tables to generate, as source/table (kubernetes/pod_logs) or a
    /// table name only one source has (pod_logs, transactions, alarms). Default: every
    /// table of --sources.
    #[arg(long, value_delimiter = ',')]
    tables: Option<Vec<String>>,
    /// Output formats, comma-separated: parquet, jsonl (the systems' native JSON, gzip JSON
    /// Lines under OUT/jsonl/). Default: the configuration's output.formats (parquet).
    #[arg(long, value_delimiter = ',')]
    format: Option<Vec<String>>,
    /// Parquet compression: zstd, zstd:LEVEL, snappy, lz4, gzip, none. Default: the
    /// configuration's `output.compression` and `output.zstd_level` (zstd level 1 embedded).
    #[arg(long)]
    compression: Option<String>,
    /// Worker threads (default: all cores).
    #[arg(long, allow_negative_numbers = true)]
    threads: Option<usize>,
    /// Multiplies every volume. Default: the configuration's `scale` (1.0 embedded).
    #[arg(long, allow_negative_numbers = true)]
    scale: Option<f64>,
    /// Replace a previous dataset in the output directory.
    #[arg(long, conflicts_with = "resume")]
    overwrite: bool,
    /// Complete a run that did not finish (interrupted, killed, or failed): keep the
    /// partitions its progress journal records whose files are intact (checked by
    /// checksum) and render the rest. Needs the same arguments and configuration.
    #[arg(long)]
    resume: bool,
    /// Run even when the estimate says the run will not fit the free disk or the memory,
    /// or --threads is more than 4 per core.
    #[arg(long)]
    no_guard: bool,
    /// Print what the run would write (partitions, rows, files and bytes per table), how
    /// long it would take and whether the guard would refuse it; write nothing.
    #[arg(long, conflicts_with_all = ["resume", "overwrite"])]
    dry_run: bool,
    /// `off` renders the counterfactual twin: the same world (topology, traffic, requests,
    /// routine deploys, background noise) with no incident, each day as the twin of that
    /// day (keeping what incidents that ended 2 h before its midnight left behind); its
    /// rows line up with the incident run's by `record_id`. Default: the configuration's
    /// `schedule.enabled`.
    #[arg(long, value_name = "on|off", value_parser = ["on", "off"])]
    incidents: Option<String>,
    /// Split the run into N parts (for several machines); needs --part.
    #[arg(long, requires = "part", allow_negative_numbers = true)]
    parts: Option<u32>,
    /// Which part to generate, 1..=N: a deterministic, balanced share of the partitions,
    /// with its own manifest.part-K-of-N.json. `obsgen manifest merge` completes the
    /// dataset once all parts are written.
    #[arg(long, requires = "parts", allow_negative_numbers = true)]
    part: Option<u32>,
    /// Print nothing but errors (no progress bar, no summary).
    #[arg(short = 'q', long)]
    quiet: bool,
    /// No progress bar (it is shown only when stderr is a terminal anyway).
    #[arg(long)]
    no_progress: bool,
    /// The summary printed at the end: `text` (a table per table) or `json` (one object:
    /// the manifest's header and tables, the time taken and the rate).
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    summary: String,
    /// Write a JSON line per partition and per day's world to FILE: the worker that made
    /// it and when it started and ended (microseconds from the start of rendering). For
    /// the scaling model (benches/scaling.py); the dataset is the same without it.
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
}

fn main() {
    if let Err(e) = run() {
        // A stop request (SIGINT, SIGTERM) is not a failure of the run's input: say what
        // is complete and exit as a process stopped by the signal conventionally does.
        if let Some(stop @ obsgen::Error::Interrupted { signal, .. }) =
            e.downcast_ref::<obsgen::Error>()
        {
            eprintln!("{stop}");
            std::process::exit(signal.exit_code());
        }
        eprintln!("error: {e:#}");
        std::process::exit(2);
    }
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Generate(args) => run_generate(args),
        Command::Scenario(args) => run_scenario(args),
        Command::Config {
            command: ConfigCommand::Init { dir, overwrite },
        } => {
            let written = obsgen::config::write_defaults(&dir, overwrite).with_context(|| {
                format!(
                    "cannot write the default configuration into {}",
                    dir.display()
                )
            })?;
            for p in written {
                println!("wrote {}", p.display());
            }
            Ok(())
        }
        Command::Score { task } => run_score(task),
        Command::Split {
            dir,
            train,
            validation,
            buffer_minutes,
            min_per_type,
            holdout_types,
            dry_run,
        } => {
            let truth = obsgen::score::Truth::read(&dir)
                .with_context(|| format!("reading the ground truth of {}", dir.display()))?;
            let opts = obsgen::score::SplitOptions {
                train,
                validation,
                buffer: buffer_minutes as i64 * obsgen::time::MINUTE,
                min_per_type,
                holdout_types,
            };
            let splits = obsgen::score::split::split(&truth, &opts)
                .with_context(|| format!("splitting {}", dir.display()))?;
            let text = splits.to_json();
            if dry_run {
                print!("{text}");
            } else {
                let path = dir.join("splits.json");
                std::fs::write(&path, &text)
                    .with_context(|| format!("writing {}", path.display()))?;
                for p in &splits.parts {
                    let iv: Vec<String> = p
                        .intervals
                        .0
                        .iter()
                        .map(|&(s, e)| {
                            format!(
                                "{} .. {}",
                                obsgen::time::rfc3339_string(s),
                                obsgen::time::rfc3339_string(e)
                            )
                        })
                        .collect();
                    println!(
                        "{:<11} {:>4} incidents  {}",
                        p.name,
                        p.per_type.values().sum::<u32>(),
                        iv.join(", ")
                    );
                }
                print!("\n{}", obsgen::score::split::counts_table(&splits.parts));
                println!("\nwrote {}", path.display());
            }
            Ok(())
        }
        Command::Validate { dir, twin, json } => {
            let invariants = obsgen::invariants::check(&dir)
                .with_context(|| format!("checking the invariants of {}", dir.display()))?;
            let violations: u64 = invariants.iter().map(|i| i.violations).sum();
            let tables = match &twin {
                Some(twin) => obsgen::contract::compare(&dir, twin).with_context(|| {
                    format!(
                        "comparing {} with its twin {}",
                        dir.display(),
                        twin.display()
                    )
                })?,
                None => Vec::new(),
            };
            let breaches: u64 = tables.iter().map(|t| t.breaches()).sum();
            if json {
                let mut v = serde_json::json!({
                    "invariants": invariants,
                    "violations": violations,
                });
                if twin.is_some() {
                    v["tables"] = serde_json::json!(tables);
                    v["breaches"] = serde_json::json!(breaches);
                }
                println!("{v}");
            } else {
                print!("{}", obsgen::invariants::report(&invariants));
                println!(
                    "\nphysical invariants: {}",
                    if violations == 0 {
                        "kept by every row".to_string()
                    } else {
                        format!("{violations} rows break them")
                    }
                );
                if twin.is_some() {
                    println!();
                    print!("{}", obsgen::contract::report(&tables));
                    println!(
                        "\nlabel contract: {}",
                        if breaches == 0 {
                            "kept by every row".to_string()
                        } else {
                            format!("{breaches} rows break it")
                        }
                    );
                }
            }
            if violations > 0 || breaches > 0 {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Manifest {
            command:
                ManifestCommand::Merge {
                    dir,
                    config,
                    preset,
                    threads,
                    no_verify,
                    allow_stray,
                },
        } => {
            let cfg = load_run_config(config.as_ref(), preset.as_deref())?;
            let threads = threads_or_all(threads)?;
            let started = std::time::Instant::now();
            let options = obsgen::pipeline::MergeOptions {
                threads,
                verify: !no_verify,
                allow_stray,
            };
            let merged = obsgen::pipeline::merge_parts(&dir, cfg, options)
                .with_context(|| format!("cannot merge the parts in {}", dir.display()))?;
            if !merged.strays.is_empty() {
                eprintln!(
                    "warning: {} files under the dataset directories are recorded by no part manifest (kept):",
                    merged.strays.len()
                );
                for s in merged.strays.iter().take(20) {
                    eprintln!("  {} ({})", s.path, s.describe());
                }
                if merged.strays.len() > 20 {
                    eprintln!("  and {} more", merged.strays.len() - 20);
                }
            }
            if !merged.verified {
                eprintln!("merge: --no-verify: file sizes checked, checksums and row counts not");
            }
            print_tables(&merged.manifest);
            println!(
                "merged {} parts into {} in {:.2} s",
                merged.parts,
                dir.join("manifest.json").display(),
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Head {
            table,
            dir,
            rows,
            format,
            width,
        } => {
            let batches = obsgen::inspect::head(&dir, &table, rows)
                .with_context(|| format!("reading {table} from {}", dir.display()))?;
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            let bytes = match format.as_str() {
                "json" => obsgen::inspect::format_json(&batches)?,
                _ => obsgen::inspect::format_table(&batches, width.max(2))?.into_bytes(),
            };
            out.write_all(&bytes).context("writing to stdout")?;
            Ok(())
        }
        Command::Export {
            format: ExportFormat::Openmetrics { dir, output },
        } => {
            let report = match &output {
                Some(path) => {
                    let mut report = None;
                    obsgen::sink::write_atomic_with(path, |out| {
                        report = Some(
                            obsgen::export::openmetrics(&dir, out)
                                .map_err(std::io::Error::other)?,
                        );
                        Ok(())
                    })
                    .with_context(|| {
                        format!("exporting {} to {}", dir.display(), path.display())
                    })?;
                    report
                }
                None => {
                    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
                    Some(
                        obsgen::export::openmetrics(&dir, &mut out)
                            .with_context(|| format!("exporting {}", dir.display()))?,
                    )
                }
            };
            if let (Some(r), Some(path)) = (report, &output) {
                eprintln!(
                    "{}: {} families, {} series, {} samples",
                    path.display(),
                    r.families,
                    r.series,
                    r.samples
                );
            }
            Ok(())
        }
        Command::Report {
            dir,
            output,
            max_incidents,
            margin_minutes,
        } => {
            let path = output.unwrap_or_else(|| dir.join("report.html"));
            let opts = obsgen::report::ReportOptions {
                max_incidents,
                margin_minutes: margin_minutes as i64,
            };
            let mut summary = None;
            obsgen::sink::write_atomic_with(&path, |out| {
                summary = Some(
                    obsgen::report::write_report(&dir, out, &opts)
                        .map_err(std::io::Error::other)?,
                );
                Ok(())
            })
            .with_context(|| {
                format!(
                    "writing the report of {} to {}",
                    dir.display(),
                    path.display()
                )
            })?;
            if let Some(s) = summary {
                println!(
                    "{}: {} incidents ({} drawn in detail), {} charts, {} bytes",
                    path.display(),
                    s.incidents,
                    s.detailed,
                    s.charts,
                    s.bytes
                );
            }
            Ok(())
        }
        Command::Stats { dir, json } => {
            let stats = obsgen::inspect::Stats::read(&dir)
                .with_context(|| format!("reading {}", dir.display()))?;
            if json {
                println!("{}", serde_json::to_string(&stats)?);
            } else {
                print!("{}", stats.to_text());
            }
            Ok(())
        }
        Command::Config {
            command: ConfigCommand::Check { dir, preset },
        } => {
            let cfg = load_config(dir.as_ref(), preset.as_deref())?;
            for line in cfg.origin_report() {
                println!("{line}");
            }
            let scale = cfg.generation.scale.0;
            let est = cfg.estimate(scale, 24)?;
            let busiest = est
                .peak_hour_rows
                .iter()
                .max_by(|a, b| a.rows.total_cmp(&b.rows))
                .map(|t| {
                    format!(
                        "{} about {} rows",
                        t.table,
                        obsgen::config::bounds::millions(t.rows)
                    )
                })
                .unwrap_or_default();
            println!(
                "busiest hour at scale {}: {busiest} (traffic peak {:.1}x the mean; limit {} rows per table and hour)",
                scale,
                est.traffic_peak.total(),
                obsgen::config::bounds::millions(obsgen::config::bounds::MAX_PARTITION_ROWS)
            );
            println!(
                "configuration is valid: {} services, {} incident types, digest {}",
                cfg.services.services.len(),
                cfg.incidents.types.len(),
                cfg.digest
            );
            Ok(())
        }
    }
}

/// The configuration in `dir` (or the embedded one), with `preset` applied on top.
fn load_config(dir: Option<&PathBuf>, preset: Option<&str>) -> Result<Config> {
    let mut cfg = match dir {
        Some(d) => Config::load(d)?,
        None => Config::defaults().context("the embedded default configuration is invalid")?,
    };
    if let Some(p) = preset {
        cfg.apply_preset(p)?;
    }
    Ok(cfg)
}

/// `load_config` for a run: with `--config`, says on stderr which files it read.
fn load_run_config(dir: Option<&PathBuf>, preset: Option<&str>) -> Result<Config> {
    let cfg = load_config(dir, preset)?;
    if dir.is_some() || preset.is_some() {
        for line in cfg.origin_report() {
            eprintln!("config: {line}");
        }
    }
    Ok(cfg)
}

fn run_generate(a: GenerateArgs) -> Result<()> {
    let config = load_run_config(a.config.as_ref(), a.preset.as_deref())?;
    let start = parse_start(&a, &config)?;
    let end = match (&a.end, a.duration_hours) {
        (Some(e), _) => parse_instant(e)
            .ok_or_else(|| anyhow!("--end `{e}` is not an RFC 3339 time or a date"))?,
        (None, Some(0)) => bail!("--duration-hours must be at least 1"),
        (None, Some(h)) => start + checked_hours(h)? * HOUR,
        (None, None) => start + 24 * HOUR,
    };
    let opts = options(&a, config, TimeRange { start, end })?;
    if a.dry_run {
        let d = obsgen::pipeline::dry_run(&opts).context("estimating the run")?;
        print!("{}", d.to_text());
        return Ok(());
    }
    if end - start > LONG_RUN {
        map_large_buffers();
    }
    execute(&opts, &a)
}

/// Runs longer than this map their large buffers (see [`map_large_buffers`]).
const LONG_RUN: i64 = 2 * obsgen::time::DAY;

/// Makes glibc give every buffer of 1 MiB or more its own mapping, returned to the system
/// when freed. By default glibc raises that threshold as large blocks are freed and then
/// serves them from its arenas, whose high-water marks add up across threads: over a
/// long run the peak RSS crept up with the range (30 days of every source 127 MiB, a day
/// 100 MiB; with this 100 MiB and 84 MiB). It costs about 8% of the time (fresh pages are
/// zeroed by the kernel), so a run of a day or two keeps the default.
fn map_large_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes the allocator's thresholds; no allocation is touched.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

/// `--duration-hours` within the longest run.
fn checked_hours(h: u32) -> Result<i64> {
    let max = obsgen::config::bounds::MAX_RANGE_HOURS;
    if h as i64 > max {
        bail!(
            "--duration-hours must be between 1 and {max} ({} days), got {h}",
            max / 24
        );
    }
    Ok(h as i64)
}

fn parse_start(a: &GenerateArgs, config: &Config) -> Result<i64> {
    let start_text = a
        .start
        .clone()
        .unwrap_or_else(|| config.generation.default_start.clone());
    parse_instant(&start_text).ok_or_else(|| anyhow!("--start `{start_text}` is not an RFC 3339 time (2026-11-23T08:00:00Z) or a date (2026-11-23)"))
}

/// Checks the shared options of `generate` and `scenario`.
fn options(a: &GenerateArgs, mut config: Config, range: TimeRange) -> Result<GenerateOptions> {
    if let Some(on) = &a.incidents {
        config.incidents.schedule.enabled = on == "on";
    }
    let g = &config.generation;
    let sources = obsgen::sources::select_sources(a.sources.as_deref())
        .map_err(|e| anyhow!("--sources: {e}"))?;
    let (sources, tables) = match &a.tables {
        None => (sources, None),
        Some(names) => select_tables(names)?,
    };
    let compression_text = a
        .compression
        .clone()
        .unwrap_or_else(|| g.output.compression.clone());
    obsgen::config::check_compression(&compression_text)
        .map_err(|e| anyhow!("--compression `{compression_text}`: {e}"))?;
    let compression = Compression::parse(&compression_text, g.output.zstd_level)
        .ok_or_else(|| anyhow!("--compression `{compression_text}` is not one of zstd, zstd:1..22, snappy, lz4, gzip, none"))?;
    let jsonl_level = g.output.jsonl_gzip_level;
    let formats = match &a.format {
        Some(list) => obsgen::sink::Formats::parse(list),
        None => obsgen::sink::Formats::parse(&g.output.formats),
    }
    .map_err(|e| anyhow!("--format: {e}"))?;
    let threads = threads_or_all(a.threads)?;
    let part = match (a.parts, a.part) {
        (Some(n), Some(k)) => Some(obsgen::pipeline::Part::new(n, k).map_err(|e| anyhow!("{e}"))?),
        _ => None,
    };
    let scale = a.scale.unwrap_or(g.scale.0);
    if !(scale.is_finite() && scale > 0.0) {
        bail!("--scale must be a positive number, got {scale}");
    }
    config.check_run(scale, range.start, range.end, a.scale.is_some(), true)?;
    let seed = a.seed.unwrap_or(g.seed);
    Ok(GenerateOptions {
        config,
        seed,
        range,
        scale,
        sources,
        tables,
        scenario: None,
        compression,
        formats,
        jsonl_level,
        threads,
        output_dir: a.output_dir.clone(),
        overwrite: a.overwrite,
        part,
        resume: a.resume,
        guard: !a.no_guard,
        trace: a.trace.clone(),
    })
}

/// `--tables`: the sources and the qualified names (`source/table`, sorted) of the
/// tables named.
fn select_tables(names: &[String]) -> Result<(Vec<Source>, Option<Vec<String>>)> {
    let (sources, tables) =
        obsgen::sources::select_tables(names).map_err(|e| anyhow!("--tables: {e}"))?;
    Ok((sources, Some(tables)))
}

/// Most worker threads a run starts.
const MAX_THREADS: usize = 1024;

/// `--threads`, or all cores.
fn threads_or_all(threads: Option<usize>) -> Result<usize> {
    Ok(match threads {
        Some(0) => bail!("--threads must be at least 1"),
        Some(t) if t > MAX_THREADS => {
            bail!("--threads must be between 1 and {MAX_THREADS}, got {t}")
        }
        Some(t) => t,
        None => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
    })
}

/// Runs a generation with a progress bar and prints the summary. SIGINT and SIGTERM stop
/// it between partitions (see `obsgen::interrupt`).
fn execute(opts: &GenerateOptions, a: &GenerateArgs) -> Result<()> {
    let output_dir = a.output_dir.as_path();
    obsgen::interrupt::install().context("cannot install the SIGINT/SIGTERM handler")?;
    let show_bar = std::io::stderr().is_terminal() && !a.quiet && !a.no_progress;
    let bar = show_bar.then(|| {
        let b = indicatif::ProgressBar::new(0);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} partitions, {msg}, ETA {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let progress = |p: obsgen::pipeline::Progress| {
        if let Some(b) = &bar {
            b.set_length(p.total);
            b.set_position(p.done);
            b.set_message(format!(
                "{} rows, {}",
                obsgen::config::bounds::millions(p.rows as f64),
                indicatif::HumanBytes(p.bytes)
            ));
        }
    };
    let result = generate(opts, &progress);
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let report =
        result.with_context(|| format!("generation into {} failed", output_dir.display()))?;
    if a.quiet {
        return Ok(());
    }
    if a.summary == "json" {
        println!("{}", summary_json(&report, output_dir));
        return Ok(());
    }
    if let Some(r) = &report.resume {
        print_resume(r, output_dir);
    }
    print_summary(&report);
    Ok(())
}

/// `--summary json`: the manifest's header and tables, where, how long and how fast.
fn summary_json(report: &obsgen::pipeline::RunReport, dir: &std::path::Path) -> serde_json::Value {
    let m = &report.manifest;
    let records: u64 = m
        .tables
        .iter()
        .filter(|t| t.source == "labels" && t.table == "records" && t.format == "parquet")
        .map(|t| t.rows)
        .sum();
    let mut v = serde_json::json!({
        "output_dir": dir.display().to_string(),
        "seconds": report.seconds,
        "source_records": records,
        "records_per_second": records as f64 / report.seconds.max(1e-9),
        "files": m.tables.iter().map(|t| t.files).sum::<u64>(),
        "bytes": m.tables.iter().map(|t| t.bytes).sum::<u64>(),
    });
    if let (Some(obj), Ok(serde_json::Value::Object(mut header))) =
        (v.as_object_mut(), serde_json::to_value(m))
    {
        // The file list is in manifest.json (a long run lists hundreds of thousands).
        header.remove("files");
        obj.insert("manifest".into(), serde_json::Value::Object(header));
    }
    if let (Some(obj), Some(r)) = (v.as_object_mut(), &report.resume) {
        obj.insert(
            "resume".into(),
            serde_json::json!({
                "already_complete": r.already_complete,
                "total": r.total,
                "kept": r.kept,
                "rendered": r.rendered,
                "failed": r.failed,
            }),
        );
    }
    v
}

/// What `--resume` kept and rendered, on stderr.
fn print_resume(r: &obsgen::pipeline::ResumeReport, dir: &std::path::Path) {
    if r.already_complete {
        eprintln!(
            "resume: {} is already complete ({} partitions); nothing to do",
            dir.display(),
            r.total
        );
        return;
    }
    eprintln!(
        "resume: kept {} of {} partitions (verified by checksum), rendered {}",
        r.kept, r.total, r.rendered
    );
    if !r.failed.is_empty() {
        eprintln!(
            "resume: {} journaled partitions failed verification and were rendered again:",
            r.failed.len()
        );
        for f in r.failed.iter().take(10) {
            eprintln!("  {f}");
        }
    }
    if r.torn > 0 {
        eprintln!(
            "resume: {} files on disk were not in the journal (written after its last line) and were rendered again",
            r.torn
        );
    }
    if r.unreadable_lines > 0 {
        eprintln!(
            "resume: {} journal lines cut short were ignored",
            r.unreadable_lines
        );
    }
}

fn print_summary(report: &obsgen::pipeline::RunReport) {
    let rows = print_tables(&report.manifest);
    let rate = rows as f64 / report.seconds.max(1e-9);
    println!("{:.2} s, {:.0} source records/s", report.seconds, rate);
}

/// Prints the manifest's per-table totals; returns the number of source records.
fn print_tables(m: &obsgen::sink::Manifest) -> u64 {
    let part = m
        .part
        .map(|p| format!(", part {} of {}", p.k, p.n))
        .unwrap_or_default();
    println!(
        "obsgen {}: seed {}, {} .. {}, scale {}, {}{part}",
        m.version, m.seed, m.start, m.end, m.scale, m.compression
    );
    println!(
        "{:<36} {:>12} {:>7} {:>14}",
        "table", "rows", "files", "bytes"
    );
    // Source records are counted once (the labels twin has one row per record, whatever
    // the formats); the labels and incident tables are extra files.
    let (mut rows, mut files, mut bytes) = (0u64, 0u64, 0u64);
    for t in &m.tables {
        let name = match t.format.as_str() {
            "jsonl" => format!("{}/{} (jsonl)", t.source, t.table),
            _ => format!("{}/{}", t.source, t.table),
        };
        println!("{:<36} {:>12} {:>7} {:>14}", name, t.rows, t.files, t.bytes);
        if t.source == "labels" && t.table == "records" {
            rows += t.rows;
        }
        files += t.files;
        bytes += t.bytes;
    }
    println!(
        "{:<36} {:>12} {:>7} {:>14}",
        "total (source records)", rows, files, bytes
    );
    rows
}

/// How far ahead `scenario` searches the schedule for an incident of the type.
const SCENARIO_SEARCH_DAYS: i64 = 90;

fn run_scenario(s: ScenarioArgs) -> Result<()> {
    let a = &s.generate;
    if a.end.is_some() {
        bail!("scenario takes --duration-hours, not --end");
    }
    if a.duration_hours == Some(0) {
        bail!("--duration-hours must be at least 1");
    }
    if let Some(h) = a.duration_hours {
        checked_hours(h)?;
    }
    let config = load_run_config(a.config.as_ref(), a.preset.as_deref())?;
    let types: Vec<&str> = config
        .incidents
        .types
        .iter()
        .map(|t| t.name.value.as_str())
        .collect();
    if !types.contains(&s.incident_type.as_str()) {
        bail!(
            "unknown incident type `{}` (known: {})",
            s.incident_type,
            types.join(", ")
        );
    }
    let topology =
        obsgen::world::Topology::build(a.seed.unwrap_or(config.generation.seed), &config.services);
    let service = match &s.service {
        Some(name) => Some(
            topology
                .service_index(name)
                .ok_or_else(|| anyhow!("--service: unknown service `{name}`"))?,
        ),
        None => None,
    };
    let from = parse_start(a, &config)?;
    let seed = a.seed.unwrap_or(config.generation.seed);
    // Search the schedule week by week for the next matching incident.
    let week = 7 * 24 * HOUR;
    let mut found = None;
    let mut t = from;
    while found.is_none() && t < from + SCENARIO_SEARCH_DAYS * 24 * HOUR {
        let plan = obsgen::incidents::IncidentPlan::plan(seed, &config, &topology, t, t + week);
        found = plan
            .real()
            .iter()
            .find(|i| {
                i.start >= from
                    && i.incident_type == s.incident_type
                    && (service.is_none() || i.root_service == service)
            })
            .cloned();
        t += week;
    }
    let Some(inc) = found else {
        bail!(
            "no {} incident{} in the {SCENARIO_SEARCH_DAYS} days after {}",
            s.incident_type,
            s.service
                .as_ref()
                .map(|n| format!(" rooted in {n}"))
                .unwrap_or_default(),
            obsgen::time::rfc3339_string(from)
        );
    };
    // Whole hours from the hour before the incident, long enough to see its recovery.
    let start = obsgen::time::floor_hour(inc.start)
        - if inc.start % HOUR < 15 * 60 * 1_000_000 {
            HOUR
        } else {
            0
        };
    let needed = (inc.end + 15 * 60 * 1_000_000 - start + HOUR - 1) / HOUR;
    let hours = a.duration_hours.map(|h| h as i64).unwrap_or(2).max(needed);
    let end = start + hours * HOUR;
    let mut config = config;
    if s.isolate {
        if a.parts.is_some() {
            bail!("scenario --isolate makes one run; it cannot be split with --parts");
        }
        config.isolate(&inc.id, start - obsgen::world::TWIN_MARGIN, end);
    }
    let scenario = obsgen::sink::ScenarioInfo {
        incident_id: inc.id.clone(),
        incident_type: inc.incident_type.clone(),
        root_service: inc
            .root_service
            .and_then(|i| topology.services.get(i))
            .map(|s| s.name.clone()),
        start: obsgen::time::rfc3339_string(inc.start),
        end: obsgen::time::rfc3339_string(inc.end),
        isolated: s.isolate,
    };
    if !a.quiet {
        eprintln!(
            "scenario: {} {} ({}), {} .. {}, window {} + {hours}h",
            inc.id,
            inc.incident_type,
            inc.title,
            obsgen::time::rfc3339_string(inc.start),
            obsgen::time::rfc3339_string(inc.end),
            obsgen::time::rfc3339_string(start)
        );
    }
    let mut opts = options(a, config, TimeRange { start, end })?;
    opts.scenario = Some(scenario);
    execute(&opts, a)
}

/// `obsgen score TASK`: reads the ground truth, the split and the predictions, prints the
/// report.
fn run_score(task: ScoreTask) -> Result<()> {
    let (ScoreTask::Detect { args, .. }
    | ScoreTask::Rca(args)
    | ScoreTask::Parse(args)
    | ScoreTask::Cluster(args)) = &task;
    let (dir, predictions, split, json) = (&args.dir, &args.predictions, &args.split, args.json);
    let truth = obsgen::score::Truth::read(dir)
        .with_context(|| format!("reading the ground truth of {}", dir.display()))?;
    let splits = match split {
        Some(_) => Some(obsgen::score::Splits::read(dir, &truth)?),
        None => None,
    };
    let scope = match (split, &splits) {
        (Some(name), Some(s)) => Some(&s.part(name)?.intervals),
        _ => None,
    };
    let preds = obsgen::score::read::read_predictions(predictions)
        .with_context(|| format!("reading {}", predictions.display()))?;
    let (name, body, text) = match &task {
        ScoreTask::Detect { threshold, .. } => {
            let r = obsgen::score::detect::score(&truth, &preds, scope, *threshold)
                .with_context(|| format!("scoring {}", predictions.display()))?;
            ("detect", r.to_json(), r.to_text())
        }
        ScoreTask::Rca(_) => {
            let r = obsgen::score::rca::score(&truth, &preds, scope)
                .with_context(|| format!("scoring {}", predictions.display()))?;
            ("rca", r.to_json(), r.to_text())
        }
        ScoreTask::Parse(_) => {
            let r = obsgen::score::parse::score(&truth, &preds, scope)
                .with_context(|| format!("scoring {}", predictions.display()))?;
            ("parse", r.to_json(), r.to_text())
        }
        ScoreTask::Cluster(_) => {
            let r = obsgen::score::cluster::score(&truth, &preds, scope)
                .with_context(|| format!("scoring {}", predictions.display()))?;
            ("cluster", r.to_json(), r.to_text())
        }
    };
    let range = match scope {
        Some(iv) => {
            iv.0.iter()
                .map(|&(s, e)| {
                    format!(
                        "{} .. {}",
                        obsgen::time::rfc3339_string(s),
                        obsgen::time::rfc3339_string(e)
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        }
        None => format!(
            "{} .. {}",
            obsgen::time::rfc3339_string(truth.start),
            obsgen::time::rfc3339_string(truth.end)
        ),
    };
    if json {
        let mut v = serde_json::json!({
            "task": name,
            "dataset": dir.display().to_string(),
            "split": split,
            "range": range,
        });
        if let (Some(obj), Some(extra)) = (v.as_object_mut(), body.as_object()) {
            obj.extend(extra.clone());
        }
        println!("{v}");
    } else {
        println!(
            "obsgen score {name}: {} ({}{range})",
            dir.display(),
            split
                .as_ref()
                .map(|s| format!("split {s}: "))
                .unwrap_or_default()
        );
        print!("{text}");
    }
    Ok(())
}
