//! The pipeline: cut `[start, end)` into (source, table, hour) partitions, render each
//! from the world plan in parallel, write it as Parquet, then write the manifest.
//!
//! Submodules: [`guard`] (the checks before a run), [`output_dir`] (what a run may find
//! in its directory, what `--overwrite` removes), [`resume`] (what `--resume` keeps),
//! [`merge`] (`obsgen manifest merge`).

mod done;
mod guard;
pub use guard::{DryRun, Estimate, TablePlan, TableVolume};
mod merge;
mod output_dir;
mod render;
mod resume;
mod trace;

pub use merge::{MergeOptions, MergeReport, Stray, StrayKind, merge_parts};

use crate::config::Config;
use crate::error::Error;
use crate::incidents::report::IncidentTables;
use crate::sink::journal::{self, Journal, RunIdentity};
use crate::sink::manifest::{IncidentSignal, PartInfo};
use crate::sink::{
    Compression, FileEntry, FileSum, Formats, Manifest, ParquetStream, write_parquet,
};
use crate::sources::{Source, Table, registry};
use crate::time::{DAY, HOUR, Micros, civil, rfc3339_string};
use crate::world::{TimeRange, World};
use done::{Done, DoneLog};
use rayon::prelude::*;
use render::{Counters, Renderer};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use trace::Trace;

/// Everything a run needs.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    pub config: Config,
    pub seed: u64,
    pub range: TimeRange,
    pub scale: f64,
    pub sources: Vec<Source>,
    /// `--tables`: only these tables (`source/table`, sorted) of `sources`; `None`: all.
    pub tables: Option<Vec<String>>,
    /// A `scenario` run: the incident it is made around (recorded in the manifest).
    pub scenario: Option<crate::sink::ScenarioInfo>,
    pub compression: Compression,
    pub formats: Formats,
    /// gzip level of the JSON Lines files.
    pub jsonl_level: u32,
    pub threads: usize,
    pub output_dir: PathBuf,
    pub overwrite: bool,
    /// Render only this part's share of the partitions (`--parts N --part K`).
    pub part: Option<Part>,
    /// `--resume`: keep the partitions a previous run of the same identity completed
    /// (verified by their checksums) and render the others.
    pub resume: bool,
    /// `--trace FILE`: record when each partition and world was made (see [`trace`]).
    pub trace: Option<PathBuf>,
    /// Check the run against the machine before it starts (off: `--no-guard`).
    pub guard: bool,
}

/// One of N parts of a run (`--parts N --part K`, K from 1 to N). Part K renders the
/// (table, hour) partitions whose `(hour index + table index in the registry) % N` is
/// `K - 1`: every table's hours are dealt round-robin, so the parts get the same mix of
/// tables and of busy and quiet hours. The global tables (incidents, edges, correlation)
/// need every partition's labels: `obsgen manifest merge` writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    pub n: u32,
    pub k: u32,
}

impl Part {
    pub fn new(n: u32, k: u32) -> Result<Part, Error> {
        if n == 0 || k == 0 || k > n {
            return Err(Error::Invalid(format!(
                "--part must be between 1 and --parts ({n}), got {k}"
            )));
        }
        Ok(Part { n, k })
    }

    /// Whether this part renders the partition of registry table `table` at hour number
    /// `hour` of the range.
    pub fn owns(&self, table: usize, hour: usize) -> bool {
        (hour + table) % self.n as usize == (self.k - 1) as usize
    }

    /// `manifest.part-K-of-N.json`
    pub fn manifest_name(&self) -> String {
        format!("manifest.part-{}-of-{}.json", self.k, self.n)
    }
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// The manifest written, with its tables but no file list (`files` is empty: a long
    /// run lists hundreds of thousands; read `manifest.json` for them), except for a
    /// resumed run that was already complete (read from disk, whole).
    pub manifest: Manifest,
    pub seconds: f64,
    /// With `--resume`: what was kept and what rendered.
    pub resume: Option<ResumeReport>,
}

/// What `--resume` found and did.
#[derive(Debug, Clone, Default)]
pub struct ResumeReport {
    /// The run was already complete (its manifest is there): nothing was done.
    pub already_complete: bool,
    /// Partitions of the run.
    pub total: usize,
    /// Partitions the journal recorded.
    pub journaled: usize,
    /// Journaled partitions whose files are as recorded: kept.
    pub kept: usize,
    /// Journaled files that are absent or not as recorded (their partitions rendered again).
    pub failed: Vec<String>,
    /// Journal lines that could not be read (cut short by a kill).
    pub unreadable_lines: usize,
    /// Files of partitions rendered again that were on disk without a journal line
    /// (written after the last line the previous run recorded).
    pub torn: usize,
    /// Partitions rendered by this run.
    pub rendered: usize,
}

/// The incident tables of a complete run, relative to the output directory.
const INCIDENTS_PATH: &str = "labels/incidents.parquet";
const EDGES_PATH: &str = "labels/incident_edges.parquet";
const TEMPLATES_PATH: &str = "labels/templates.parquet";
const CORRELATION_PATH: &str = "correlation/incidents.json";

/// `<source>/<table>/date=YYYY-MM-DD/hour=HH/part-00000.parquet`
pub fn partition_path(source: Source, table: &str, hour: Micros) -> String {
    let c = civil(hour);
    format!(
        "{}/{}/date={:04}-{:02}-{:02}/hour={:02}/part-00000.parquet",
        source.as_str(),
        table,
        c.year,
        c.month,
        c.day,
        c.hour
    )
}

/// `jsonl/<source>/<table>/date=YYYY-MM-DD/hour=HH.jsonl.gz`
pub fn jsonl_path(source: Source, table: &str, hour: Micros) -> String {
    let c = civil(hour);
    format!(
        "jsonl/{}/{}/date={:04}-{:02}-{:02}/hour={:02}.jsonl.gz",
        source.as_str(),
        table,
        c.year,
        c.month,
        c.day,
        c.hour
    )
}

/// Checks the range: non-empty, on hour boundaries.
pub fn validate_range(range: TimeRange) -> Result<(), Error> {
    if range.end <= range.start {
        return Err(Error::Invalid(format!(
            "the time range is empty: --end {} is not after --start {}",
            rfc3339_string(range.end),
            rfc3339_string(range.start)
        )));
    }
    for (name, t) in [("start", range.start), ("end", range.end)] {
        if t.rem_euclid(HOUR) != 0 {
            return Err(Error::Invalid(format!(
                "--{name} {} is not on an hour boundary: partitions are whole hours",
                rfc3339_string(t)
            )));
        }
    }
    Ok(())
}

/// Writes the incident ground truth: `labels/incidents.parquet`,
/// `labels/incident_edges.parquet` and `correlation/incidents.json`, and the log template
/// ground truth `labels/templates.parquet` (see `log_templates`).
fn write_incident_tables(
    world: &World,
    opts: &GenerateOptions,
    mut incidents: IncidentTables,
) -> Result<Vec<FileEntry>, Error> {
    use crate::incidents::report::{edges_batch, edges_schema, incidents_batch, incidents_schema};
    let mut out = Vec::new();
    let rg = opts.config.generation.output.row_group_rows;
    let start = rfc3339_string(opts.range.start);
    let mut entry = |rel: &str, source: &str, format: &str, rows: u64, sum: FileSum| {
        let table = rel
            .trim_start_matches(&format!("{source}/"))
            .trim_end_matches(&format!(".{format}"));
        out.push(FileEntry {
            path: rel.into(),
            source: source.into(),
            table: table.into(),
            format: format.into(),
            hour: start.clone(),
            rows,
            bytes: sum.bytes,
            xxh64: Some(sum.hex()),
        });
    };
    let dir = &opts.output_dir;
    let (rows, sum) = stream_spilled(
        &mut incidents,
        ParquetStream::new(
            &dir.join(INCIDENTS_PATH),
            incidents_schema(),
            opts.compression,
            rg,
        ),
        |record, _, chunk| chunk.push(record),
        incidents_batch,
    )?;
    entry(INCIDENTS_PATH, "labels", "parquet", rows, sum);
    let (rows, sum) = stream_spilled(
        &mut incidents,
        ParquetStream::new(&dir.join(EDGES_PATH), edges_schema(), opts.compression, rg),
        |_, mut edges, chunk| chunk.append(&mut edges),
        edges_batch,
    )?;
    entry(EDGES_PATH, "labels", "parquet", rows, sum);

    let templates =
        crate::log_templates::templates_batch(&crate::log_templates::world_templates(world))?;
    let sum = write_parquet(&dir.join(TEMPLATES_PATH), &templates, opts.compression, rg)?;
    entry(
        TEMPLATES_PATH,
        "labels",
        "parquet",
        templates.num_rows() as u64,
        sum,
    );

    // The records as a JSON array, printed as `serde_json::to_string_pretty` prints one:
    // each record pretty-printed and indented by two spaces.
    let path = dir.join(CORRELATION_PATH);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let mut rows = 0u64;
    let mut failed = None;
    let sum = crate::sink::write_atomic_with(&path, |out| {
        let mut text = Vec::new();
        let result = incidents.read(|record, _| {
            text.clear();
            serde_json::to_writer_pretty(&mut text, &record)
                .map_err(|e| Error::Other(e.to_string()))?;
            let io = |e| Error::io(&path, e);
            out.write_all(if rows == 0 { b"[\n  " } else { b",\n  " })
                .map_err(io)?;
            for (i, line) in text.split(|&b| b == b'\n').enumerate() {
                if i > 0 {
                    out.write_all(b"\n  ").map_err(io)?;
                }
                out.write_all(line).map_err(io)?;
            }
            rows += 1;
            Ok(())
        });
        if let Err(e) = result {
            failed = Some(e);
            return Err(std::io::Error::other("incident spill"));
        }
        out.write_all(if rows == 0 { b"[]\n" } else { b"\n]\n" })
    });
    if let Some(e) = failed {
        return Err(e);
    }
    entry(CORRELATION_PATH, "correlation", "json", rows, sum?);
    Ok(out)
}

/// Streams the rows `take` gets from each spilled incident (its record, its edges) into
/// `stream` in batches of about 4,096 made by `batch`: a year's incidents and edges are
/// tens of thousands of rows. The rows written and the file's size and checksum.
fn stream_spilled<T>(
    incidents: &mut IncidentTables,
    mut stream: ParquetStream,
    mut take: impl FnMut(
        crate::incidents::report::IncidentRecord,
        Vec<crate::incidents::report::Edge>,
        &mut Vec<T>,
    ),
    batch: impl Fn(&[T]) -> Result<arrow::record_batch::RecordBatch, arrow::error::ArrowError>,
) -> Result<(u64, FileSum), Error> {
    const CHUNK: usize = 4096;
    let mut chunk = Vec::with_capacity(CHUNK);
    let mut rows = 0u64;
    incidents.read(|record, edges| {
        take(record, edges, &mut chunk);
        if chunk.len() >= CHUNK {
            stream.write(&batch(&chunk)?)?;
            rows += chunk.len() as u64;
            chunk.clear();
        }
        Ok(())
    })?;
    if !chunk.is_empty() {
        stream.write(&batch(&chunk)?)?;
        rows += chunk.len() as u64;
    }
    Ok((rows, stream.finish()?))
}

/// The identity of the run `opts` describes (what `--resume` must match).
fn run_identity(opts: &GenerateOptions) -> RunIdentity {
    let mut m = run_manifest(opts, Vec::new());
    m.part = opts.part.map(|p| PartInfo { k: p.k, n: p.n });
    RunIdentity::of_manifest(&m)
}

/// The (table, hour) partitions of the run, hour-major: the tables of an hour are
/// rendered close together in time, so that the per-hour derivations they share
/// (`World::shared`) are computed once and evicted soon after.
fn tasks(opts: &GenerateOptions, tables: &[Box<dyn Table>]) -> Vec<(usize, Micros)> {
    let mut tasks: Vec<(usize, Micros)> = Vec::new();
    let mut h = opts.range.start;
    let mut hi = 0;
    while h < opts.range.end {
        for (ti, table) in tables.iter().enumerate() {
            if selected(opts, table.as_ref()) && opts.part.is_none_or(|p| p.owns(ti, hi)) {
                tasks.push((ti, h));
            }
        }
        h += HOUR;
        hi += 1;
    }
    tasks
}

/// Whether a run of `opts` renders `table` (its source, and `--tables`).
pub(crate) fn selected(opts: &GenerateOptions, table: &dyn Table) -> bool {
    opts.sources.contains(&table.source())
        && opts.tables.as_ref().is_none_or(|names| {
            names
                .iter()
                .any(|n| n.split_once('/') == Some((table.source().as_str(), table.name())))
        })
}

/// Runs the whole generation. `progress(done, total)` is called after each partition.
///
/// Each completed partition is recorded in the progress journal (`sink::journal`); a
/// stop request ([`crate::interrupt`]) ends the run between partitions with
/// [`Error::Interrupted`], no temporary file and no manifest left; `opts.resume` keeps the
/// journaled partitions whose files are still as recorded (size and checksum) and renders
/// the others. Before anything is written, the guard ([`guard`]) refuses a run that would
/// not fit the machine, unless `opts.guard` is off.
/// What a run of `opts` would render, write and take, without writing anything
/// (`generate --dry-run`).
pub fn dry_run(opts: &GenerateOptions) -> Result<DryRun, Error> {
    check_options(opts)?;
    let tables: Vec<Box<dyn Table>> = registry();
    let tasks = tasks(opts, &tables);
    guard::dry_run(opts, &tables, &tasks)
}

fn check_options(opts: &GenerateOptions) -> Result<(), Error> {
    validate_range(opts.range)?;
    if !(opts.scale.is_finite() && opts.scale > 0.0) {
        return Err(Error::Invalid(format!(
            "--scale must be a positive number, got {}",
            opts.scale
        )));
    }
    if opts.resume && opts.overwrite {
        return Err(Error::Invalid(
            "--resume and --overwrite exclude each other: --resume keeps the partitions a \
             previous run completed, --overwrite removes them"
                .into(),
        ));
    }
    Ok(())
}

/// Where a run is, for a progress bar: partitions done of the total, and the rows and
/// bytes (every file) they hold.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    pub done: u64,
    pub total: u64,
    pub rows: u64,
    pub bytes: u64,
}

pub fn generate(
    opts: &GenerateOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<RunReport, Error> {
    let started = std::time::Instant::now();
    check_options(opts)?;
    let dir = opts.output_dir.as_path();
    let tables: Vec<Box<dyn Table>> = registry();
    let tasks = tasks(opts, &tables);
    let total = tasks.len() as u64;
    let planned = PlannedFiles {
        tables: &tables,
        tasks: &tasks,
        formats: opts.formats,
    };
    let identity = run_identity(opts);
    let part_info = opts.part.map(|p| PartInfo { k: p.k, n: p.n });
    let journal_path = dir.join(journal::journal_name(part_info));
    let manifest_path = dir.join(match opts.part {
        Some(p) => p.manifest_name(),
        None => "manifest.json".into(),
    });

    // What a resumed run starts from (nothing is written yet).
    let recorded = if opts.resume {
        match resume::load(
            dir,
            &identity,
            &journal_path,
            &manifest_path,
            opts.part.is_some(),
        )? {
            resume::Start::Complete(manifest) => {
                return Ok(RunReport {
                    manifest,
                    seconds: started.elapsed().as_secs_f64(),
                    resume: Some(ResumeReport {
                        already_complete: true,
                        total: tasks.len(),
                        kept: tasks.len(),
                        ..ResumeReport::default()
                    }),
                });
            }
            resume::Start::Journal(r) => Some(r),
            resume::Start::Fresh => None,
        }
    } else {
        None
    };
    // The journal's partitions of this run (the last line of each).
    let index: BTreeMap<(usize, Micros), usize> = match recorded {
        Some(_) => tasks.iter().enumerate().map(|(i, &t)| (t, i)).collect(),
        None => BTreeMap::new(),
    };
    let mut journaled: BTreeMap<usize, (Done, journal::Entry)> = BTreeMap::new();
    for e in recorded.iter().flat_map(|r| r.entries.iter()) {
        if let Some(d) = Done::from_entry(e, &tables, opts.formats)
            && let Some(&i) = index.get(&(d.table, d.hour))
        {
            journaled.insert(i, (d, e.clone()));
        }
    }

    if opts.guard {
        let render: Vec<(usize, Micros)> = tasks
            .iter()
            .enumerate()
            .filter(|(i, _)| !journaled.contains_key(i))
            .map(|(_, &t)| t)
            .collect();
        let reclaim = if opts.overwrite && opts.part.is_none() {
            output_dir::reclaimable(dir)
        } else {
            0
        };
        guard::check(opts, &tables, &render, reclaim)?;
    }

    match (recorded.is_some(), opts.part) {
        (true, None) => {}
        (true, Some(part)) => output_dir::prepare_part_dir(dir, part, false)?,
        (false, None) => output_dir::prepare_output_dir(dir, opts.overwrite, &planned)?,
        (false, Some(part)) => output_dir::prepare_part_dir(dir, part, opts.overwrite)?,
    }
    if opts.resume {
        output_dir::remove_temp_files(dir, &planned)?;
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads.max(1))
        .build()
        .map_err(|e| Error::Other(format!("cannot start worker threads: {e}")))?;

    // Keep the journaled partitions whose files are as recorded.
    let mut keep = vec![false; tasks.len()];
    let mut kept: Vec<Done> = Vec::new();
    let mut report = ResumeReport {
        journaled: journaled.len(),
        total: tasks.len(),
        unreadable_lines: recorded.as_ref().map_or(0, |r| r.unreadable),
        ..ResumeReport::default()
    };
    let was_journaled: std::collections::BTreeSet<usize> = journaled.keys().copied().collect();
    if !journaled.is_empty() {
        let entries: Vec<&journal::Entry> = journaled.values().map(|(_, e)| e).collect();
        let checks = pool.install(|| resume::verify(dir, &entries));
        if let Some(signal) = crate::interrupt::pending() {
            // The journal is untouched: what it records is still complete.
            return Err(Error::Interrupted {
                signal,
                complete: journaled.len() as u64,
                total,
                journal: journal_path,
            });
        }
        for ((i, (d, _)), check) in journaled.into_iter().zip(checks) {
            match check {
                Ok(()) => {
                    keep[i] = true;
                    kept.push(d);
                }
                Err(why) => report.failed.push(why),
            }
        }
    }
    report.kept = kept.len();
    if opts.resume {
        // Files of partitions without a journal line that are on disk: written (renamed
        // into place) after the last line that was recorded.
        report.torn = tasks
            .iter()
            .enumerate()
            .filter(|(i, _)| !was_journaled.contains(i))
            .flat_map(|(_, &t)| partition_files(&tables, t, opts.formats))
            .filter(|rel| dir.join(rel).exists())
            .count();
    }
    let render: Vec<(usize, Micros)> = tasks
        .iter()
        .zip(&keep)
        .filter(|(_, k)| !**k)
        .map(|(&t, _)| t)
        .collect();
    report.rendered = render.len();
    let kept_entries: Vec<journal::Entry> = kept.iter().map(|d| d.entry(&tables)).collect();
    let journal = Journal::start(&journal_path, &identity, &kept_entries)?;
    drop(kept_entries);

    let counters = Counters {
        done: AtomicU64::new(kept.len() as u64),
        rows: AtomicU64::new(kept.iter().map(|d| d.rows).sum()),
        bytes: AtomicU64::new(kept.iter().map(Done::bytes).sum()),
    };
    progress(Progress {
        done: kept.len() as u64,
        total,
        rows: counters.rows.load(Ordering::Relaxed),
        bytes: counters.bytes.load(Ordering::Relaxed),
    });
    // Which sources show each incident: the signal of the partitions kept, then of each
    // day rendered. A run's incident tables are built day by day from the day's world
    // (`IncidentTables::add_until`); a part keeps all of it for its manifest.
    let mut signal: BTreeMap<String, IncidentSignal> = BTreeMap::new();
    for d in &mut kept {
        add_signal(
            &mut signal,
            tables[d.table].source(),
            std::mem::take(&mut d.incidents),
        );
    }
    let mut incidents = match opts.part {
        None => Some(IncidentTables::new(dir)?),
        Some(_) => None,
    };
    // Day by day (the tasks are hour-major), each day from a world planned for it alone
    // (`day_world`): the world is a function of absolute time, so the rows are those of a
    // world planned for the whole range, and memory does not grow with the range. The
    // days overlap on the workers (`render`: no barrier between them).
    let mut rendered = DoneLog::new(dir)?;
    let trace = opts.trace.as_deref().map(Trace::create).transpose()?;
    let renderer = Renderer {
        tables: &tables,
        opts,
        journal: &journal,
        progress,
        counters: &counters,
        total,
        trace: trace.as_ref(),
    };
    let result = renderer.render_days(&pool, &render, |world, day, written| {
        for mut d in written {
            rendered.push(&d)?;
            add_signal(
                &mut signal,
                tables[d.table].source(),
                std::mem::take(&mut d.incidents),
            );
        }
        // Incidents never cross midnight and a row is labelled by an incident that
        // ended at most a few hours before it: the signal of the days before
        // yesterday is complete.
        if let Some(t) = incidents.as_mut() {
            t.add_until(world, opts.range, &mut signal, day - DAY)?;
        }
        Ok(())
    });
    let last_world = match result {
        Ok(r) => r,
        Err(e) => {
            // Each writer removes its temporary file when it fails; this catches any other.
            let _ = output_dir::remove_temp_files(dir, &planned);
            return Err(match e {
                Error::Interrupted { signal, .. } => Error::Interrupted {
                    signal,
                    complete: counters.done.load(Ordering::Relaxed),
                    total,
                    journal: journal_path,
                },
                e => Error::Incomplete {
                    cause: Box::new(e),
                    complete: counters.done.load(Ordering::Relaxed),
                    total,
                    journal: journal_path,
                },
            });
        }
    };
    if let Some(t) = trace {
        t.finish()?;
    }
    if let Some(signal) = crate::interrupt::pending() {
        return Err(Error::Interrupted {
            signal,
            complete: total,
            total,
            journal: journal_path,
        });
    }

    // The incident tables first (a run's; a part leaves them to the merge), then the
    // manifest entries: the end of a long run holds one of them at a time.
    let mut files: Vec<FileEntry> = Vec::new();
    if opts.part.is_none() {
        let mut incidents = match incidents {
            Some(t) => t,
            None => IncidentTables::new(dir)?,
        };
        incidents.add_until(&last_world, opts.range, &mut signal, Micros::MAX)?;
        files = write_incident_tables(&last_world, opts, incidents)?;
    }
    drop(last_world);
    // The manifest, streamed: its partition entries are made one at a time from the
    // compact `Done` records, in path order (a year of every source lists 190 thousand
    // files; as `FileEntry` values they took 60 MB at the end of the run).
    let written: Vec<Done> = kept.into_iter().chain(rendered.read_all()?).collect();
    let order = manifest_order(&tables, &written, &files);
    let entry = |item: &ManifestItem| -> FileEntry {
        match *item {
            ManifestItem::Extra(i) => files[i].clone(),
            ManifestItem::File { done, kind } => {
                let d = &written[done];
                let table = &tables[d.table];
                let (path, format, sum) = d.files(&tables).swap_remove(kind);
                let (source, name, format) = match format {
                    "labels" => ("labels", "records", "parquet"),
                    f => (table.source().as_str(), table.name(), f),
                };
                FileEntry {
                    path,
                    source: source.to_string(),
                    table: name.to_string(),
                    format: format.to_string(),
                    hour: rfc3339_string(d.hour),
                    rows: d.rows,
                    bytes: sum.bytes,
                    xxh64: Some(sum.hex()),
                }
            }
        }
    };
    let mut manifest = run_manifest(opts, Vec::new());
    let mut summary = Vec::new();
    for item in &order {
        Manifest::add_to_summary(&mut summary, &entry(item));
    }
    manifest.tables = summary;
    if let Some(part) = opts.part {
        manifest.part = Some(PartInfo {
            k: part.k,
            n: part.n,
        });
        manifest.signal = signal;
    }
    manifest.write_with_files(&manifest_path, order.iter().map(entry))?;
    // The manifest is written: the run is complete.
    journal.remove()?;
    Ok(RunReport {
        manifest,
        seconds: started.elapsed().as_secs_f64(),
        resume: opts.resume.then_some(report),
    })
}

/// A file of the manifest: the `kind`-th file of a written partition (see
/// [`Done::files`]), or one of the run's other files (the incident tables).
enum ManifestItem {
    File { done: usize, kind: usize },
    Extra(usize),
}

/// The manifest's files in path order, without making their entries: the files of a
/// (format, table) share the path up to `date=` and sort by hour after it, and no other
/// path falls between two of them, so the groups sorted by that prefix, each by hour,
/// are the paths sorted.
fn manifest_order(
    tables: &[Box<dyn Table>],
    written: &[Done],
    extra: &[FileEntry],
) -> Vec<ManifestItem> {
    let mut groups: BTreeMap<String, Vec<(Micros, ManifestItem)>> = BTreeMap::new();
    for (i, d) in written.iter().enumerate() {
        for (kind, (path, _, _)) in d.files(tables).into_iter().enumerate() {
            let prefix = &path[..path.find("date=").unwrap_or(path.len())];
            let item = (d.hour, ManifestItem::File { done: i, kind });
            match groups.get_mut(prefix) {
                Some(g) => g.push(item),
                None => {
                    groups.insert(prefix.to_string(), vec![item]);
                }
            }
        }
    }
    for (i, f) in extra.iter().enumerate() {
        groups.insert(f.path.clone(), vec![(0, ManifestItem::Extra(i))]);
    }
    groups
        .into_values()
        .flat_map(|mut g| {
            g.sort_by_key(|&(hour, _)| hour);
            g.into_iter().map(|(_, item)| item)
        })
        .collect()
}

/// Gives the pages the allocator holds free back to the system, between two days: the
/// day's transient buffers were freed, but glibc keeps the pages of its arenas that any
/// small live allocation pins, and a long run's RSS crept up with the range (14 days of
/// grafana 63 -> 58 MiB, a day 50 MiB; a few milliseconds a day).
pub(super) fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases memory that is free; it takes no pointers.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Adds a partition's labelled rows to the signal of their incidents.
fn add_signal(
    signal: &mut BTreeMap<String, IncidentSignal>,
    source: Source,
    spans: crate::labels::IncidentSpans,
) {
    for (id, rows) in &spans {
        signal
            .entry(id.clone())
            .or_default()
            .add_rows(source.as_str(), rows);
    }
}

/// The files of partition `(ti, hour)` in `formats`, relative to the output directory:
/// the JSON Lines file, the labels twin, the Parquet partition.
fn partition_files(
    tables: &[Box<dyn Table>],
    (ti, hour): (usize, Micros),
    formats: Formats,
) -> Vec<String> {
    let t = &tables[ti];
    let rel = partition_path(t.source(), t.name(), hour);
    let mut out = Vec::with_capacity(3);
    if formats.jsonl {
        out.push(jsonl_path(t.source(), t.name(), hour));
    }
    out.push(format!("labels/records/{rel}"));
    if formats.parquet {
        out.push(rel);
    }
    out
}

/// Every file a whole run writes, relative to the output directory: its partitions in
/// each format with their labels twins, the incident tables and the manifest. Listed on
/// demand: a year of every source writes 193 thousand files, 20 MB as strings.
pub(super) struct PlannedFiles<'a> {
    tables: &'a [Box<dyn Table>],
    tasks: &'a [(usize, Micros)],
    formats: Formats,
}

impl PlannedFiles<'_> {
    pub(super) fn iter(&self) -> impl Iterator<Item = String> + '_ {
        self.tasks
            .iter()
            .flat_map(|&t| partition_files(self.tables, t, self.formats))
            .chain(
                [
                    INCIDENTS_PATH,
                    EDGES_PATH,
                    TEMPLATES_PATH,
                    CORRELATION_PATH,
                    "manifest.json",
                ]
                .map(String::from),
            )
    }
}

/// The manifest of a run (or part) that wrote `files`.
fn run_manifest(opts: &GenerateOptions, mut files: Vec<FileEntry>) -> Manifest {
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Manifest {
        generator: "obsgen".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        seed: opts.seed,
        config_digest: opts.config.digest.clone(),
        start: rfc3339_string(opts.range.start),
        end: rfc3339_string(opts.range.end),
        scale: opts.scale,
        compression: opts.compression.name(),
        formats: opts.formats.names(),
        incidents: opts.config.incidents.schedule.enabled,
        sources: opts
            .sources
            .iter()
            .map(|s| s.as_str().to_string())
            .collect(),
        selected_tables: opts.tables.clone(),
        scenario: opts.scenario.clone(),
        tables: Manifest::summarize(&files),
        files,
        part: None,
        signal: BTreeMap::new(),
    }
}

/// Renders the tables of the run `opts` describes in memory, nothing written: per table
/// (`source/table`, registry order) its schema and one batch per hour, in time order, as
/// `generate` would write them (`obsgen.generate` in Python). Day by day, each day's
/// partitions in parallel on `opts.threads` workers.
#[allow(clippy::type_complexity)]
pub fn render_tables(
    opts: &GenerateOptions,
) -> Result<
    Vec<(
        String,
        arrow::datatypes::SchemaRef,
        Vec<arrow::record_batch::RecordBatch>,
    )>,
    Error,
> {
    check_options(opts)?;
    let tables: Vec<Box<dyn Table>> = registry();
    let tasks = tasks(opts, &tables);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads.max(1))
        .build()
        .map_err(|e| Error::Other(format!("cannot start worker threads: {e}")))?;
    let mut out: Vec<Vec<arrow::record_batch::RecordBatch>> = vec![Vec::new(); tables.len()];
    let mut next = 0;
    for day in range_days(opts.range) {
        let first = next;
        while next < tasks.len() && tasks[next].1 < day + DAY {
            next += 1;
        }
        let world = day_world(opts, day);
        let world_of = |hour: Micros| {
            if opts.config.incidents.schedule.enabled {
                &world
            } else {
                world.twin_at(hour)
            }
        };
        let batches = pool.install(|| {
            tasks[first..next]
                .par_iter()
                .map(|&(ti, hour)| Ok((ti, tables[ti].render(world_of(hour), hour)?)))
                .collect::<Result<Vec<_>, Error>>()
        })?;
        for (ti, b) in batches {
            out[ti].push(b);
        }
    }
    Ok(tables
        .iter()
        .zip(out)
        .filter(|(t, _)| selected(opts, t.as_ref()))
        .map(|(t, batches)| {
            (
                format!("{}/{}", t.source().as_str(), t.name()),
                t.schema(),
                batches,
            )
        })
        .collect())
}

/// Completes a dataset whose partitions are all written: the incident tables (the
/// incidents with a labelled row, the sources each shows in), the templates (from any
/// world of the run: they depend on the configuration, not the range), then
/// `manifest.json`, last.
fn finish(
    world: &World,
    opts: &GenerateOptions,
    incidents: IncidentTables,
    mut files: Vec<FileEntry>,
) -> Result<Manifest, Error> {
    files.extend(write_incident_tables(world, opts, incidents)?);
    let manifest = run_manifest(opts, files);
    manifest.write(&opts.output_dir.join("manifest.json"))?;
    Ok(manifest)
}

/// The world a run renders the day starting at midnight `day` from (its part of the
/// range): planned with incidents (a run without them renders its twins, see
/// [`World::twin_at`]). The world is a function of absolute time, so a day's world
/// renders what a world of the whole range would, and memory does not grow with the
/// range.
fn day_world(opts: &GenerateOptions, day: Micros) -> World {
    let mut config = opts.config.clone();
    config.incidents.schedule.enabled = true;
    let range = TimeRange {
        start: day.max(opts.range.start),
        end: (day + DAY).min(opts.range.end),
    };
    World::plan(config, opts.seed, opts.scale, range)
}

/// The midnights of the days the range touches.
fn range_days(range: TimeRange) -> impl Iterator<Item = Micros> {
    let first = range.start - range.start.rem_euclid(DAY);
    (first..range.end).step_by(DAY as usize)
}

/// Adds "`what` (count): first few" to `problems` when `items` is not empty.
fn report_list(problems: &mut Vec<String>, what: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    let shown: Vec<&str> = items.iter().take(10).map(String::as_str).collect();
    let more = if items.len() > 10 {
        format!(" and {} more", items.len() - 10)
    } else {
        String::new()
    };
    problems.push(format!(
        "{what} ({}): {}{more}",
        items.len(),
        shown.join(", ")
    ));
}
