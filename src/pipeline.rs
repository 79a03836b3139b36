//! The pipeline: cut `[start, end)` into (source, table, hour) partitions, render each
//! from the world plan in parallel, write it as Parquet, then write the manifest.

use crate::config::Config;
use crate::error::Error;
use crate::sink::{Compression, FileEntry, Formats, JsonLines, Manifest, write_parquet};
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
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub manifest: Manifest,
    pub seconds: f64,
}

/// Names in an output directory that obsgen owns (removed by `--overwrite`).
const OWNED: [&str; 7] = [
    "kubernetes",
    "sentry",
    "cloudwatch",
    "grafana",
    "labels",
    "correlation",
    "jsonl",
];

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
/// anything unless `overwrite`, in which case obsgen's own outputs are removed first.
pub fn prepare_output_dir(dir: &Path, overwrite: bool) -> Result<(), Error> {
    if dir.exists() && !dir.is_dir() {
        return Err(Error::Invalid(format!(
            "output path {} exists and is not a directory",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok())
        .collect();
    if entries.is_empty() {
        return Ok(());
    }
    if !overwrite {
        return Err(Error::Invalid(format!(
            "output directory {} is not empty (use --overwrite to replace a previous dataset)",
            dir.display()
        )));
    }
    for e in entries {
        let name = e.file_name().to_string_lossy().to_string();
        let path = e.path();
        if OWNED.contains(&name.as_str()) && path.is_dir() {
            std::fs::remove_dir_all(&path).map_err(|e| Error::io(&path, e))?;
        } else if name.starts_with("manifest") && name.ends_with(".json") {
            std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
        }
    }
    Ok(())
}

/// Writes the incident ground truth: `labels/incidents.parquet`,
/// `labels/incident_edges.parquet` and `correlation/incidents.json`.
fn write_incident_tables(
    world: &World,
    opts: &GenerateOptions,
    signal: &BTreeMap<String, BTreeSet<String>>,
) -> Result<Vec<FileEntry>, Error> {
    use crate::incidents::report::{
        edges_batch, incident_edges, incident_records, incidents_batch,
    };
    let records = incident_records(world, opts.range, signal);
    let edges = incident_edges(world, opts.range);
    let mut out = Vec::new();
    let rg = opts.config.generation.output.row_group_rows;
    let start = rfc3339_string(opts.range.start);
    for (rel, batch) in [
        ("labels/incidents.parquet", incidents_batch(&records)?),
        ("labels/incident_edges.parquet", edges_batch(&edges)?),
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
    let json_rel = "correlation/incidents.json";
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
    prepare_output_dir(&opts.output_dir, opts.overwrite)?;
    let world = World::plan(opts.config.clone(), opts.seed, opts.scale, opts.range);
    let tables: Vec<Box<dyn Table>> = registry()
        .into_iter()
        .filter(|t| opts.sources.contains(&t.source()))
        .collect();
    let mut tasks: Vec<(usize, Micros)> = Vec::new();
    for (ti, _) in tables.iter().enumerate() {
        let mut h = opts.range.start;
        while h < opts.range.end {
            tasks.push((ti, h));
            h += HOUR;
        }
    }
    let total = tasks.len() as u64;
    let done = AtomicU64::new(0);
    let row_group_rows = opts.config.generation.output.row_group_rows;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads.max(1))
        .build()
        .map_err(|e| Error::Other(format!("cannot start worker threads: {e}")))?;
    type Rendered = (Source, Vec<FileEntry>, BTreeSet<String>);
    let rendered: Vec<Rendered> = pool.install(|| {
        tasks
            .par_iter()
            .map(|&(ti, hour)| -> Result<Rendered, Error> {
                let table = &tables[ti];
                let batch = table.render(&world, hour)?;
                let source = table.source().as_str();
                let entry =
                    |path: String, source: &str, table: &str, format: &str, bytes: u64| FileEntry {
                        path,
                        source: source.to_string(),
                        table: table.to_string(),
                        format: format.to_string(),
                        hour: rfc3339_string(hour),
                        rows: batch.num_rows() as u64,
                        bytes,
                    };
                let mut entries = Vec::with_capacity(3);
                let rel = partition_path(table.source(), table.name(), hour);
                if opts.formats.parquet {
                    let bytes = write_parquet(
                        &opts.output_dir.join(&rel),
                        &batch,
                        opts.compression,
                        row_group_rows,
                    )?;
                    entries.push(entry(rel.clone(), source, table.name(), "parquet", bytes));
                }
                if opts.formats.jsonl {
                    let jrel = jsonl_path(table.source(), table.name(), hour);
                    let mut out =
                        JsonLines::create(&opts.output_dir.join(&jrel), opts.jsonl_level)?;
                    table.write_native(&world, hour, &batch, &mut out)?;
                    let written = out.finish()?;
                    entries.push(entry(jrel, source, table.name(), "jsonl", written.bytes));
                }
                // The labels table: the same records, their keys and labels only.
                let (labels, incidents) =
                    crate::labels::records_batch(&batch, source, table.name())?;
                let labels_rel = format!("labels/records/{rel}");
                let labels_bytes = write_parquet(
                    &opts.output_dir.join(&labels_rel),
                    &labels,
                    opts.compression,
                    row_group_rows,
                )?;
                entries.push(entry(
                    labels_rel,
                    "labels",
                    "records",
                    "parquet",
                    labels_bytes,
                ));
                progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
                Ok((table.source(), entries, incidents))
            })
            .collect::<Result<Vec<_>, Error>>()
    })?;
    // Which sources show each incident.
    let mut signal: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut files: Vec<FileEntry> = Vec::new();
    for (source, entries, incidents) in rendered {
        for id in incidents {
            signal
                .entry(id)
                .or_default()
                .insert(source.as_str().to_string());
        }
        files.extend(entries);
    }
    files.extend(write_incident_tables(&world, opts, &signal)?);
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let manifest = Manifest {
        generator: "obsgen".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        seed: opts.seed,
        config_digest: opts.config.digest.clone(),
        start: rfc3339_string(opts.range.start),
        end: rfc3339_string(opts.range.end),
        scale: opts.scale,
        compression: opts.compression.name(),
        formats: opts.formats.names(),
        sources: opts
            .sources
            .iter()
            .map(|s| s.as_str().to_string())
            .collect(),
        tables: Manifest::summarize(&files),
        files,
    };
    manifest.write(&opts.output_dir.join("manifest.json"))?;
    Ok(RunReport {
        manifest,
        seconds: started.elapsed().as_secs_f64(),
    })
}
