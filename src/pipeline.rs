//! The pipeline: cut `[start, end)` into (source, table, hour) partitions, render each
//! from the world plan in parallel, write it as Parquet, then write the manifest.

use crate::config::Config;
use crate::error::Error;
use crate::sink::manifest::{IncidentSignal, PartInfo};
use crate::sink::{
    Compression, FileEntry, Formats, JsonLines, Manifest, write_parquet, write_parquet_files,
};
use crate::sources::{Source, Table, registry};
use crate::time::{HOUR, Micros, civil, rfc3339_string};
use crate::world::{TimeRange, World};
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Everything a run needs.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    pub config: Config,
    pub seed: u64,
    pub range: TimeRange,
    pub scale: f64,
    pub sources: Vec<Source>,
    pub compression: Compression,
    pub formats: Formats,
    /// gzip level of the JSON Lines files.
    pub jsonl_level: u32,
    pub threads: usize,
    pub output_dir: PathBuf,
    pub overwrite: bool,
    /// Render only this part's share of the partitions (`--parts N --part K`).
    pub part: Option<Part>,
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
    pub manifest: Manifest,
    pub seconds: f64,
}

/// The incident tables of a complete run, relative to the output directory.
const INCIDENTS_PATH: &str = "labels/incidents.parquet";
const EDGES_PATH: &str = "labels/incident_edges.parquet";
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

/// Makes sure `dir` can receive a dataset: created if missing; refused if it holds
/// anything unless `overwrite`. `--overwrite` removes exactly the files that a previous
/// obsgen run recorded in its manifests (`manifest.json`, `manifest.part-K-of-N.json`),
/// then those manifests, then the directories this left empty; nothing else. A non-empty
/// directory without an obsgen manifest is refused, and so is one where a file this run
/// will write (`planned`, relative paths) exists but is not a previous run's.
pub fn prepare_output_dir(dir: &Path, overwrite: bool, planned: &[String]) -> Result<(), Error> {
    if dir.exists() && !dir.is_dir() {
        return Err(Error::Invalid(format!(
            "output path {} exists and is not a directory",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    if entries.next().is_none() {
        return Ok(());
    }
    if !overwrite {
        return Err(Error::Invalid(format!(
            "output directory {} is not empty (use --overwrite to replace a previous dataset)",
            dir.display()
        )));
    }
    let manifests = previous_manifests(dir)?;
    if manifests.is_empty() {
        return Err(Error::Invalid(format!(
            "output directory {} is not empty and holds no obsgen manifest (manifest.json or \
             manifest.part-K-of-N.json): --overwrite removes only the files a previous obsgen \
             run recorded in its manifest, so nothing here can be replaced; choose an empty \
             directory, or empty this one yourself",
            dir.display()
        )));
    }
    let recorded = recorded_files(&manifests)?;
    let previous: BTreeSet<PathBuf> = manifests
        .iter()
        .filter_map(|(p, _)| p.file_name().map(PathBuf::from))
        .collect();
    // Checked before anything is removed: a refusal leaves the directory as it was.
    let clashing: Vec<String> = planned
        .iter()
        .filter(|rel| {
            recorded_path(rel).is_some_and(|p| !recorded.contains(&p) && !previous.contains(&p))
                && dir.join(rel).exists()
        })
        .cloned()
        .collect();
    if !clashing.is_empty() {
        let mut problems = Vec::new();
        report_list(
            &mut problems,
            "files this run would write exist but are not recorded in the previous manifest",
            &clashing,
        );
        return Err(Error::Invalid(format!(
            "output directory {}: {}; --overwrite never replaces a file obsgen did not write, move them away",
            dir.display(),
            problems.join("")
        )));
    }
    remove_recorded(dir, &recorded, &manifests)
}

/// Whether `name` is a manifest obsgen writes: `manifest.json` or `manifest.part-K-of-N.json`.
fn is_manifest_name(name: &str) -> bool {
    if name == "manifest.json" {
        return true;
    }
    let Some(rest) = name
        .strip_prefix("manifest.part-")
        .and_then(|r| r.strip_suffix(".json"))
    else {
        return false;
    };
    let Some((k, n)) = rest.split_once("-of-") else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(k) && digits(n)
}

/// The obsgen manifests at the top of `dir` (path and content), sorted by name. A file
/// with a manifest's name that is not an obsgen manifest is refused: what it lists cannot
/// be trusted to be ours.
fn previous_manifests(dir: &Path) -> Result<Vec<(PathBuf, Manifest)>, Error> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let e = e.map_err(|e| Error::io(dir, e))?;
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if !is_manifest_name(name) || !e.path().is_file() {
            continue;
        }
        let path = e.path();
        match Manifest::read(&path) {
            Ok(m) if m.generator == "obsgen" => out.push((path, m)),
            Ok(_) | Err(_) => {
                return Err(Error::Invalid(format!(
                    "{} is not an obsgen manifest: --overwrite cannot tell which files are a \
                     previous run's, so it removes nothing (move the file away or choose another \
                     output directory)",
                    path.display()
                )));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// A manifest's file path as a path under the output directory: relative, `/`-separated,
/// made of plain names only (no `..`, no root, no `.`).
fn recorded_path(rel: &str) -> Option<PathBuf> {
    if rel.is_empty() || rel.starts_with('/') || rel.contains('\\') {
        return None;
    }
    let mut out = PathBuf::new();
    for part in rel.split('/') {
        if part.is_empty() || part == "." || part == ".." || part.contains('\0') {
            return None;
        }
        out.push(part);
    }
    Some(out)
}

/// The files the manifests record, as paths under the output directory. A recorded path
/// that would leave the directory is refused, so nothing is removed.
fn recorded_files(manifests: &[(PathBuf, Manifest)]) -> Result<BTreeSet<PathBuf>, Error> {
    let mut files: BTreeSet<PathBuf> = BTreeSet::new();
    for (path, m) in manifests {
        for f in &m.files {
            let rel = recorded_path(&f.path).ok_or_else(|| {
                Error::Invalid(format!(
                    "{}: recorded file `{}` is not a plain relative path: --overwrite removes nothing",
                    path.display(),
                    f.path
                ))
            })?;
            files.insert(rel);
        }
    }
    Ok(files)
}

/// Removes the recorded `files` (absent ones are fine: a previous removal may have been
/// interrupted), then the manifests, then the directories left empty, from the deepest
/// up, never `dir` itself.
fn remove_recorded(
    dir: &Path,
    files: &BTreeSet<PathBuf>,
    manifests: &[(PathBuf, Manifest)],
) -> Result<(), Error> {
    let mut parents: BTreeSet<PathBuf> = BTreeSet::new();
    for rel in files {
        let path = dir.join(rel);
        match std::fs::symlink_metadata(&path) {
            Ok(md) if md.is_dir() => continue, // a directory never is a recorded file
            Ok(_) => std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(&path, e)),
        }
        let mut p = rel.parent();
        while let Some(d) = p.filter(|d| !d.as_os_str().is_empty()) {
            parents.insert(d.to_path_buf());
            p = d.parent();
        }
    }
    for (path, _) in manifests {
        std::fs::remove_file(path).map_err(|e| Error::io(path, e))?;
    }
    // Deepest first: a directory is removed only once its subdirectories were tried.
    let mut parents: Vec<PathBuf> = parents.into_iter().collect();
    parents.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for rel in parents {
        // Fails (and is kept) when something else is inside: the user's files.
        let _ = std::fs::remove_dir(dir.join(rel));
    }
    Ok(())
}

/// A part writes into a directory shared with the other parts: it is created if missing
/// and nothing in it is removed; the part is refused if its own manifest is already there,
/// unless `overwrite` (its files are then replaced one by one).
fn prepare_part_dir(dir: &Path, part: Part, overwrite: bool) -> Result<(), Error> {
    if dir.exists() && !dir.is_dir() {
        return Err(Error::Invalid(format!(
            "output path {} exists and is not a directory",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let own = dir.join(part.manifest_name());
    if own.exists() && !overwrite {
        return Err(Error::Invalid(format!(
            "{} exists: part {} of {} was already generated there (use --overwrite to redo it)",
            own.display(),
            part.k,
            part.n
        )));
    }
    let merged = dir.join("manifest.json");
    if merged.exists() {
        // A merged dataset is being regenerated in parts: it is no longer complete.
        std::fs::remove_file(&merged).map_err(|e| Error::io(&merged, e))?;
    }
    Ok(())
}

/// Writes the incident ground truth: `labels/incidents.parquet`,
/// `labels/incident_edges.parquet` and `correlation/incidents.json`.
fn write_incident_tables(
    world: &World,
    opts: &GenerateOptions,
    signal: &BTreeMap<String, IncidentSignal>,
) -> Result<Vec<FileEntry>, Error> {
    use crate::incidents::report::{
        edges_batch, incident_edges, incident_records, incidents_batch,
    };
    let records = incident_records(world, opts.range, signal);
    let edges = incident_edges(world, signal);
    let mut out = Vec::new();
    let rg = opts.config.generation.output.row_group_rows;
    let start = rfc3339_string(opts.range.start);
    for (rel, batch) in [
        (INCIDENTS_PATH, incidents_batch(&records)?),
        (EDGES_PATH, edges_batch(&edges)?),
    ] {
        let bytes = write_parquet(&opts.output_dir.join(rel), &batch, opts.compression, rg)?;
        let table = rel
            .trim_start_matches("labels/")
            .trim_end_matches(".parquet");
        out.push(FileEntry {
            path: rel.into(),
            source: "labels".into(),
            table: table.into(),
            format: "parquet".into(),
            hour: start.clone(),
            rows: batch.num_rows() as u64,
            bytes,
        });
    }
    let json_rel = CORRELATION_PATH;
    let path = opts.output_dir.join(json_rel);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let mut text =
        serde_json::to_string_pretty(&records).map_err(|e| Error::Other(e.to_string()))?;
    text.push('\n');
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, &text).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
    out.push(FileEntry {
        path: json_rel.into(),
        source: "correlation".into(),
        table: "incidents".into(),
        format: "json".into(),
        hour: start,
        rows: records.len() as u64,
        bytes: text.len() as u64,
    });
    Ok(out)
}

/// Runs the whole generation. `progress(done, total)` is called after each partition.
pub fn generate(
    opts: &GenerateOptions,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<RunReport, Error> {
    let started = std::time::Instant::now();
    validate_range(opts.range)?;
    if !(opts.scale.is_finite() && opts.scale > 0.0) {
        return Err(Error::Invalid(format!(
            "--scale must be a positive number, got {}",
            opts.scale
        )));
    }
    let tables: Vec<Box<dyn Table>> = registry();
    // Hour-major: the tables of an hour are rendered close together in time, so that the
    // per-hour derivations they share (`World::shared`) are computed once and evicted
    // soon after.
    let mut tasks: Vec<(usize, Micros)> = Vec::new();
    let mut h = opts.range.start;
    let mut hi = 0;
    while h < opts.range.end {
        for (ti, table) in tables.iter().enumerate() {
            if opts.sources.contains(&table.source()) && opts.part.is_none_or(|p| p.owns(ti, hi)) {
                tasks.push((ti, h));
            }
        }
        h += HOUR;
        hi += 1;
    }
    match opts.part {
        None => prepare_output_dir(
            &opts.output_dir,
            opts.overwrite,
            &planned_files(&tables, &tasks, opts.formats),
        )?,
        Some(part) => prepare_part_dir(&opts.output_dir, part, opts.overwrite)?,
    }
    let world = World::plan(opts.config.clone(), opts.seed, opts.scale, opts.range);
    let total = tasks.len() as u64;
    let done = AtomicU64::new(0);
    let row_group_rows = opts.config.generation.output.row_group_rows;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads.max(1))
        .build()
        .map_err(|e| Error::Other(format!("cannot start worker threads: {e}")))?;
    // What a task wrote, kept small and flat: the manifest entries (paths and strings) are
    // built once all partitions are written, so that a long run does not scatter small
    // long-lived allocations between the workers' large transient buffers.
    struct Written {
        table: usize,
        hour: Micros,
        rows: u64,
        parquet_bytes: u64,
        jsonl_bytes: u64,
        labels_bytes: u64,
        incidents: crate::labels::IncidentSpans,
    }
    let written: Vec<Written> = pool.install(|| {
        tasks
            .par_iter()
            .map(|&(ti, hour)| -> Result<Written, Error> {
                let table = &tables[ti];
                let batch = table.render(&world, hour)?;
                let rel = partition_path(table.source(), table.name(), hour);
                // The labels table: the same records, their keys and labels only; the
                // columns it shares with the partition are encoded once for both files.
                let (labels, incidents) =
                    crate::labels::records_batch(&batch, table.source().as_str(), table.name())?;
                let path = opts.output_dir.join(&rel);
                let labels_path = opts.output_dir.join(format!("labels/records/{rel}"));
                let mut files = Vec::with_capacity(2);
                if opts.formats.parquet {
                    files.push((path.as_path(), &batch));
                }
                files.push((labels_path.as_path(), &labels));
                let bytes = write_parquet_files(&files, opts.compression, row_group_rows)?;
                let mut jsonl_bytes = 0;
                if opts.formats.jsonl {
                    let jrel = jsonl_path(table.source(), table.name(), hour);
                    let mut out =
                        JsonLines::create(&opts.output_dir.join(&jrel), opts.jsonl_level)?;
                    table.write_native(&world, hour, &batch, &mut out)?;
                    jsonl_bytes = out.finish()?.bytes;
                }
                progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
                Ok(Written {
                    table: ti,
                    hour,
                    rows: batch.num_rows() as u64,
                    parquet_bytes: if opts.formats.parquet { bytes[0] } else { 0 },
                    jsonl_bytes,
                    labels_bytes: bytes[bytes.len() - 1],
                    incidents,
                })
            })
            .collect::<Result<Vec<_>, Error>>()
    })?;
    // The manifest entries, and which sources show each incident.
    let mut signal: BTreeMap<String, IncidentSignal> = BTreeMap::new();
    let mut files: Vec<FileEntry> = Vec::with_capacity(written.len() * 3);
    for w in written {
        let table = &tables[w.table];
        let source = table.source().as_str();
        for (id, rows) in &w.incidents {
            signal.entry(id.clone()).or_default().add_rows(source, rows);
        }
        let entry = |path: String, source: &str, table: &str, format: &str, bytes: u64| FileEntry {
            path,
            source: source.to_string(),
            table: table.to_string(),
            format: format.to_string(),
            hour: rfc3339_string(w.hour),
            rows: w.rows,
            bytes,
        };
        let rel = partition_path(table.source(), table.name(), w.hour);
        if opts.formats.parquet {
            files.push(entry(
                rel.clone(),
                source,
                table.name(),
                "parquet",
                w.parquet_bytes,
            ));
        }
        if opts.formats.jsonl {
            let jrel = jsonl_path(table.source(), table.name(), w.hour);
            files.push(entry(jrel, source, table.name(), "jsonl", w.jsonl_bytes));
        }
        files.push(entry(
            format!("labels/records/{rel}"),
            "labels",
            "records",
            "parquet",
            w.labels_bytes,
        ));
    }
    let manifest = match opts.part {
        Some(part) => {
            let mut m = run_manifest(opts, files);
            m.part = Some(PartInfo {
                k: part.k,
                n: part.n,
            });
            m.signal = signal;
            m.write(&opts.output_dir.join(part.manifest_name()))?;
            m
        }
        None => finish(&world, opts, &signal, files)?,
    };
    Ok(RunReport {
        manifest,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Every file a whole run writes, relative to the output directory: its partitions in
/// each format with their labels twins, the incident tables and the manifest.
fn planned_files(
    tables: &[Box<dyn Table>],
    tasks: &[(usize, Micros)],
    formats: Formats,
) -> Vec<String> {
    let mut out = Vec::with_capacity(tasks.len() * 3 + 4);
    for &(ti, hour) in tasks {
        let t = &tables[ti];
        let rel = partition_path(t.source(), t.name(), hour);
        if formats.jsonl {
            out.push(jsonl_path(t.source(), t.name(), hour));
        }
        out.push(format!("labels/records/{rel}"));
        if formats.parquet {
            out.push(rel);
        }
    }
    out.extend(
        [
            INCIDENTS_PATH,
            EDGES_PATH,
            CORRELATION_PATH,
            "manifest.json",
        ]
        .map(String::from),
    );
    out
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
        tables: Manifest::summarize(&files),
        files,
        part: None,
        signal: BTreeMap::new(),
    }
}

/// Completes a dataset whose partitions are all written: the incident tables (from the
/// sources each incident shows in), then `manifest.json`, last.
fn finish(
    world: &World,
    opts: &GenerateOptions,
    signal: &BTreeMap<String, IncidentSignal>,
    mut files: Vec<FileEntry>,
) -> Result<Manifest, Error> {
    files.extend(write_incident_tables(world, opts, signal)?);
    let manifest = run_manifest(opts, files);
    manifest.write(&opts.output_dir.join("manifest.json"))?;
    Ok(manifest)
}

/// What `obsgen manifest merge` did.
#[derive(Debug, Clone)]
pub struct MergeReport {
    pub manifest: Manifest,
    pub parts: u32,
}

/// Combines the part manifests of `dir` (`manifest.part-K-of-N.json`) into `manifest.json`,
/// after checking that the N parts are all there, were made with the same arguments and
/// `config`, and hold every expected partition exactly once (files present, sizes as
/// recorded); then writes the incident tables from the parts' combined signal. Problems are
/// reported together, as one error.
pub fn merge_parts(dir: &Path, mut config: Config, threads: usize) -> Result<MergeReport, Error> {
    let mut parts: Vec<Manifest> = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut names: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("manifest.part-") && n.ends_with(".json"))
        })
        .collect();
    names.sort();
    for p in &names {
        parts.push(Manifest::read(p)?);
    }
    let Some(first) = parts.first().cloned() else {
        return Err(Error::Invalid(format!(
            "no part manifests (manifest.part-K-of-N.json) in {}",
            dir.display()
        )));
    };
    let mut problems: Vec<String> = Vec::new();
    let n = first.part.map(|p| p.n).unwrap_or(0);
    let mut seen: BTreeMap<u32, usize> = BTreeMap::new();
    for (m, path) in parts.iter().zip(&names) {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        match m.part {
            None => problems.push(format!("{name}: not a part manifest (no `part`)")),
            Some(p) if p.n != n => problems.push(format!(
                "{name}: part of {} parts, but {} is of {n}",
                p.n,
                names[0].display()
            )),
            Some(p) => *seen.entry(p.k).or_default() += 1,
        }
        for (field, a, b) in [
            ("seed", m.seed.to_string(), first.seed.to_string()),
            (
                "config_digest",
                m.config_digest.clone(),
                first.config_digest.clone(),
            ),
            ("start", m.start.clone(), first.start.clone()),
            ("end", m.end.clone(), first.end.clone()),
            ("scale", m.scale.to_string(), first.scale.to_string()),
            (
                "compression",
                m.compression.clone(),
                first.compression.clone(),
            ),
            ("formats", m.formats.join(","), first.formats.join(",")),
            (
                "incidents",
                m.incidents.to_string(),
                first.incidents.to_string(),
            ),
            ("sources", m.sources.join(","), first.sources.join(",")),
            ("version", m.version.clone(), first.version.clone()),
        ] {
            if a != b {
                problems.push(format!(
                    "{name}: {field} is {a}, but {} has {b}: the parts are not of one run",
                    names[0]
                        .file_name()
                        .map(|n| n.to_string_lossy())
                        .unwrap_or_default()
                ));
            }
        }
    }
    let missing: Vec<String> = (1..=n)
        .filter(|k| !seen.contains_key(k))
        .map(|k| k.to_string())
        .collect();
    if !missing.is_empty() {
        problems.push(format!("missing parts: {} of {n}", missing.join(", ")));
    }
    if config.digest != first.config_digest {
        problems.push(format!(
            "the parts were made with configuration digest {}, this configuration is {}: pass the same --config",
            first.config_digest, config.digest
        ));
    }
    let parse = |what: &str, r: Option<()>| {
        r.ok_or_else(|| Error::Invalid(format!("part manifests: cannot read `{what}`")))
    };
    let start = crate::time::parse_instant(&first.start);
    let end = crate::time::parse_instant(&first.end);
    parse("start/end", start.zip(end).map(|_| ()))?;
    let range = TimeRange {
        start: start.unwrap_or_default(),
        end: end.unwrap_or_default(),
    };
    let sources: Vec<Source> = first
        .sources
        .iter()
        .filter_map(|s| Source::parse(s))
        .collect();
    let formats = crate::sink::Formats::parse(&first.formats).map_err(Error::Invalid)?;
    let compression = Compression::parse(&first.compression, 3);
    parse("compression", compression.map(|_| ()))?;
    // A twin's parts (`--incidents off`) merge into a twin.
    config.incidents.schedule.enabled = first.incidents;
    let opts = GenerateOptions {
        config,
        seed: first.seed,
        range,
        scale: first.scale,
        sources,
        compression: compression.unwrap_or(Compression::None),
        formats,
        jsonl_level: 1,
        threads,
        output_dir: dir.to_path_buf(),
        overwrite: false,
        part: None,
    };

    // Every partition exactly once, on disk as recorded.
    let mut files: BTreeMap<String, (FileEntry, u32)> = BTreeMap::new();
    let mut duplicated = Vec::new();
    for m in &parts {
        let k = m.part.map(|p| p.k).unwrap_or(0);
        for f in &m.files {
            if let Some((_, other)) = files.get(&f.path) {
                duplicated.push(format!("{} (parts {other} and {k})", f.path));
            } else {
                files.insert(f.path.clone(), (f.clone(), k));
            }
        }
    }
    report_list(&mut problems, "duplicated partitions", &duplicated);
    let mut expected: Vec<String> = Vec::new();
    for table in registry()
        .iter()
        .filter(|t| opts.sources.contains(&t.source()))
    {
        let mut h = range.start;
        while h < range.end {
            let rel = partition_path(table.source(), table.name(), h);
            if formats.parquet {
                expected.push(rel.clone());
            }
            if formats.jsonl {
                expected.push(jsonl_path(table.source(), table.name(), h));
            }
            expected.push(format!("labels/records/{rel}"));
            h += HOUR;
        }
    }
    let absent: Vec<String> = expected
        .iter()
        .filter(|p| !files.contains_key(*p))
        .cloned()
        .collect();
    report_list(&mut problems, "missing partitions", &absent);
    let expected_set: BTreeSet<&String> = expected.iter().collect();
    let unexpected: Vec<String> = files
        .keys()
        .filter(|p| !expected_set.contains(p))
        .cloned()
        .collect();
    report_list(
        &mut problems,
        "unexpected files in the part manifests",
        &unexpected,
    );
    let mut not_on_disk = Vec::new();
    for (path, (f, _)) in &files {
        match std::fs::metadata(dir.join(path)) {
            Ok(md) if md.len() == f.bytes => {}
            Ok(md) => {
                not_on_disk.push(format!("{path} ({} bytes, recorded {})", md.len(), f.bytes))
            }
            Err(_) => not_on_disk.push(format!("{path} (absent)")),
        }
    }
    report_list(&mut problems, "files not on disk as recorded", &not_on_disk);
    if !problems.is_empty() {
        return Err(Error::Invalid(format!(
            "the parts do not make one complete dataset:\n  {}",
            problems.join("\n  ")
        )));
    }
    let mut signal: BTreeMap<String, IncidentSignal> = BTreeMap::new();
    for m in &parts {
        for (id, s) in &m.signal {
            signal.entry(id.clone()).or_default().merge(s);
        }
    }
    let world = World::plan(opts.config.clone(), opts.seed, opts.scale, opts.range);
    let files: Vec<FileEntry> = files.into_values().map(|(f, _)| f).collect();
    let manifest = finish(&world, &opts, &signal, files)?;
    Ok(MergeReport { manifest, parts: n })
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
