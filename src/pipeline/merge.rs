//! `obsgen manifest merge`: completes a run split with `--parts` once every part is
//! written. The parts must be of one run and hold every partition exactly once; each
//! file must be on disk as its part manifest records it (size, and by default its
//! checksum and row count); files under the dataset's directories that no part records
//! (a partition of another run, a leftover temporary file, a user's file) are reported,
//! and refused when a reader would take them for table data.

use super::{
    CORRELATION_PATH, EDGES_PATH, GenerateOptions, INCIDENTS_PATH, TEMPLATES_PATH, day_world,
    finish, jsonl_path, partition_path, range_days, report_list,
};
use crate::config::Config;
use crate::error::Error;
use crate::incidents::report::IncidentTables;
use crate::sink::checksum::{hash_file, hex};
use crate::sink::manifest::IncidentSignal;
use crate::sink::{Compression, FileEntry, Manifest};
use crate::sources::{Source, registry};
use crate::time::{DAY, HOUR};
use crate::world::TimeRange;
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// How `obsgen manifest merge` checks the parts.
#[derive(Debug, Clone, Copy)]
pub struct MergeOptions {
    pub threads: usize,
    /// Re-read every file: its checksum and (Parquet footers) row count must be the
    /// part manifest's (off: `--no-verify`; presence and sizes are always checked).
    pub verify: bool,
    /// Merge although data files no part records sit in table directories
    /// (`--allow-stray`); they are still reported.
    pub allow_stray: bool,
}

/// What a file no part manifest records is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrayKind {
    /// In a table's directory, with a name readers take as data (pyarrow.dataset, Spark
    /// and polars read every file there whose name and directories do not start with `.`
    /// or `_`): it would join the table. Refused unless `allow_stray`.
    Data,
    /// In a table's directory but hidden from readers (a leftover temporary file).
    Hidden,
    /// Elsewhere under the dataset's directories (a user's file).
    Other,
}

/// A file under the dataset's directories that no part manifest records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stray {
    /// Relative to the output directory, `/`-separated.
    pub path: String,
    pub kind: StrayKind,
}

impl Stray {
    pub fn describe(&self) -> &'static str {
        match self.kind {
            StrayKind::Data => "read as part of the table: a data file in a table directory",
            StrayKind::Hidden => "hidden from readers: a leftover temporary file?",
            StrayKind::Other => "not in a table directory",
        }
    }
}

/// What `obsgen manifest merge` did.
#[derive(Debug, Clone)]
pub struct MergeReport {
    pub manifest: Manifest,
    pub parts: u32,
    /// Whether every file's checksum and row count were checked.
    pub verified: bool,
    /// Files under the dataset's directories no part records (kept, reported).
    pub strays: Vec<Stray>,
}

/// Combines the part manifests of `dir` (`manifest.part-K-of-N.json`) into `manifest.json`,
/// after checking that the N parts are all there, were made with the same arguments and
/// `config`, and hold every expected partition exactly once (files present, sizes as
/// recorded and, with `verify`, checksums and row counts), and that no stray data file
/// sits in a table directory (unless `allow_stray`); then writes the incident tables from
/// the parts' combined signal. Problems are reported together, as one
/// [`Error::Merge`].
pub fn merge_parts(
    dir: &Path,
    mut config: Config,
    options: MergeOptions,
) -> Result<MergeReport, Error> {
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
            (
                "selected_tables",
                m.selected_tables.as_deref().unwrap_or_default().join(","),
                first
                    .selected_tables
                    .as_deref()
                    .unwrap_or_default()
                    .join(","),
            ),
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
        tables: first.selected_tables.clone(),
        scenario: first.scenario.clone(),
        compression: compression.unwrap_or(Compression::None),
        formats,
        jsonl_level: 1,
        threads: options.threads,
        output_dir: dir.to_path_buf(),
        overwrite: false,
        part: None,
        resume: false,
        guard: false,
        trace: None,
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
    // A JSON Lines file holds the rows of its partition's labels twin.
    let mut twin_of: BTreeMap<String, String> = BTreeMap::new();
    for table in registry()
        .iter()
        .filter(|t| super::selected(&opts, t.as_ref()))
    {
        let mut h = range.start;
        while h < range.end {
            let rel = partition_path(table.source(), table.name(), h);
            if formats.parquet {
                expected.push(rel.clone());
            }
            if formats.jsonl {
                let jrel = jsonl_path(table.source(), table.name(), h);
                twin_of.insert(jrel.clone(), format!("labels/records/{rel}"));
                expected.push(jrel);
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
    let checks = check_files(dir, &files, &twin_of, options)?;
    report_list(
        &mut problems,
        "files not on disk as recorded",
        &checks.not_on_disk,
    );
    report_list(
        &mut problems,
        "no checksum recorded (a part of an older obsgen: merge with --no-verify)",
        &checks.no_checksum,
    );
    report_list(&mut problems, "checksum mismatch", &checks.checksum);
    report_list(&mut problems, "row count mismatch", &checks.rows);
    report_list(
        &mut problems,
        "unreadable Parquet files",
        &checks.unreadable,
    );
    let mut known: BTreeSet<String> = files.keys().cloned().collect();
    known.extend([INCIDENTS_PATH, EDGES_PATH, TEMPLATES_PATH, CORRELATION_PATH].map(String::from));
    let strays = strays(dir, &known)?;
    let data: Vec<String> = strays
        .iter()
        .filter(|s| s.kind == StrayKind::Data)
        .map(|s| s.path.clone())
        .collect();
    if !options.allow_stray {
        report_list(
            &mut problems,
            "stray data files in table directories, recorded by no part manifest (readers such \
             as pyarrow.dataset, Spark and polars would read them as part of the tables: move \
             them away, or merge with --allow-stray)",
            &data,
        );
    }
    if !problems.is_empty() {
        let others: Vec<String> = strays
            .iter()
            .filter(|s| s.kind != StrayKind::Data)
            .map(|s| format!("{} ({})", s.path, s.describe()))
            .collect();
        report_list(
            &mut problems,
            "besides, files recorded by no part manifest that do not stop a merge",
            &others,
        );
        return Err(Error::Merge { problems });
    }
    let mut signal: BTreeMap<String, IncidentSignal> = BTreeMap::new();
    for m in &parts {
        for (id, s) in &m.signal {
            signal.entry(id.clone()).or_default().merge(s);
        }
    }
    // The incident tables day by day, from each day's world (as the single-machine run
    // builds them; no world of the whole range).
    let mut incidents = IncidentTables::new(&opts.output_dir)?;
    let mut world = None;
    for day in range_days(opts.range) {
        let w = day_world(&opts, day);
        incidents.add_until(&w, opts.range, &mut signal, day + DAY)?;
        world = Some(w);
    }
    let world = world.ok_or_else(|| Error::Invalid("the parts' range is empty".into()))?;
    let files: Vec<FileEntry> = files.into_values().map(|(f, _)| f).collect();
    let manifest = finish(&world, &opts, incidents, files)?;
    Ok(MergeReport {
        manifest,
        parts: n,
        verified: options.verify,
        strays,
    })
}

/// What the files on disk disagree with.
#[derive(Default)]
struct FileChecks {
    not_on_disk: Vec<String>,
    no_checksum: Vec<String>,
    checksum: Vec<String>,
    rows: Vec<String>,
    unreadable: Vec<String>,
}

/// One file's disagreement with its part manifest.
enum Finding {
    NotOnDisk(String),
    NoChecksum(String),
    Checksum(String),
    Rows(String),
    Unreadable(String),
}

/// Checks each recorded file (path → entry and part) on disk: present with the recorded
/// size; with `verify`, its checksum, and its row count (a Parquet file's footer; a JSON
/// Lines file's rows are its labels twin's, `twin_of`, whose footer is checked).
fn check_files(
    dir: &Path,
    files: &BTreeMap<String, (FileEntry, u32)>,
    twin_of: &BTreeMap<String, String>,
    options: MergeOptions,
) -> Result<FileChecks, Error> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.threads.max(1))
        .build()
        .map_err(|e| Error::Other(format!("cannot start worker threads: {e}")))?;
    let list: Vec<(&String, &(FileEntry, u32))> = files.iter().collect();
    let findings: Vec<Vec<Finding>> = pool.install(|| {
        list.par_iter()
            .map(|(path, (f, k))| {
                let mut out = Vec::new();
                let full = dir.join(path.as_str());
                match std::fs::metadata(&full) {
                    Ok(md) if md.len() == f.bytes => {}
                    Ok(md) => {
                        out.push(Finding::NotOnDisk(format!(
                            "{path} ({} bytes, part {k} recorded {})",
                            md.len(),
                            f.bytes
                        )));
                        return out;
                    }
                    Err(_) => {
                        out.push(Finding::NotOnDisk(format!("{path} (absent)")));
                        return out;
                    }
                }
                if !options.verify {
                    return out;
                }
                match &f.xxh64 {
                    None => out.push(Finding::NoChecksum(path.to_string())),
                    Some(recorded) => match hash_file(&full) {
                        Ok(sum) if hex(sum.xxh64) == *recorded => {}
                        Ok(sum) => out.push(Finding::Checksum(format!(
                            "{path} (xxh64 {}, part {k} recorded {recorded})",
                            hex(sum.xxh64)
                        ))),
                        Err(e) => out.push(Finding::Unreadable(format!("{path}: {e}"))),
                    },
                }
                // The row count: from this file's footer, or its labels twin's.
                let (counted, source) = match f.format.as_str() {
                    "parquet" => (parquet_rows(&full), "in the file"),
                    _ => match twin_of.get(path.as_str()) {
                        Some(twin) => (parquet_rows(&dir.join(twin)), "in its labels twin"),
                        None => return out,
                    },
                };
                match counted {
                    Ok(n) if n == f.rows => {}
                    Ok(n) => out.push(Finding::Rows(format!(
                        "{path} ({n} rows {source}, part {k} recorded {})",
                        f.rows
                    ))),
                    Err(e) => out.push(Finding::Unreadable(format!("{path}: {e}"))),
                }
                out
            })
            .collect()
    });
    let mut c = FileChecks::default();
    for f in findings.into_iter().flatten() {
        match f {
            Finding::NotOnDisk(m) => c.not_on_disk.push(m),
            Finding::NoChecksum(m) => c.no_checksum.push(m),
            Finding::Checksum(m) => c.checksum.push(m),
            Finding::Rows(m) => c.rows.push(m),
            Finding::Unreadable(m) => c.unreadable.push(m),
        }
    }
    c.unreadable.sort();
    c.unreadable.dedup();
    Ok(c)
}

/// The row count in a Parquet file's footer.
fn parquet_rows(path: &Path) -> Result<u64, String> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let reader = SerializedFileReader::new(file).map_err(|e| e.to_string())?;
    Ok(reader.metadata().file_metadata().num_rows().max(0) as u64)
}

/// The files under the dataset's top directories (every source's, `labels`, `jsonl`,
/// `correlation`) that are not `known`, sorted, with what each is.
fn strays(dir: &Path, known: &BTreeSet<String>) -> Result<Vec<Stray>, Error> {
    let tables: BTreeSet<(String, String)> = registry()
        .iter()
        .map(|t| (t.source().as_str().to_string(), t.name().to_string()))
        .collect();
    let mut roots: BTreeSet<String> = tables.iter().map(|(s, _)| s.clone()).collect();
    roots.extend(["labels", "jsonl", "correlation"].map(String::from));
    let mut out = Vec::new();
    for root in roots {
        let mut stack = vec![PathBuf::from(&root)];
        while let Some(rel) = stack.pop() {
            let full = dir.join(&rel);
            let entries = match std::fs::read_dir(&full) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e)
                    if rel.as_os_str() == root.as_str()
                        && e.kind() == std::io::ErrorKind::NotADirectory =>
                {
                    continue;
                }
                Err(e) => return Err(Error::io(&full, e)),
            };
            for e in entries {
                let e = e.map_err(|e| Error::io(&full, e))?;
                let child = rel.join(e.file_name());
                let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
                if is_dir {
                    stack.push(child);
                    continue;
                }
                let parts: Vec<String> = child
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                let path = parts.join("/");
                if known.contains(&path) {
                    continue;
                }
                out.push(Stray {
                    kind: stray_kind(&parts, &tables),
                    path,
                });
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// What a stray file at `parts` (path components) is.
fn stray_kind(parts: &[String], tables: &BTreeSet<(String, String)>) -> StrayKind {
    let in_table = |at: usize| {
        parts.len() > at + 2 && tables.contains(&(parts[at].clone(), parts[at + 1].clone()))
    };
    let below = if in_table(0) {
        Some(2)
    } else if parts.first().is_some_and(|p| p == "jsonl") && in_table(1) {
        Some(3)
    } else if parts.first().is_some_and(|p| p == "labels")
        && parts.get(1).is_some_and(|p| p == "records")
        && in_table(2)
    {
        Some(4)
    } else {
        None
    };
    let hidden = |p: &String| p.starts_with('.') || p.starts_with('_');
    match below {
        Some(at) if parts[at..].iter().any(hidden) => StrayKind::Hidden,
        Some(_) => StrayKind::Data,
        None => StrayKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strays_are_told_apart_by_where_readers_look() {
        let tables: BTreeSet<(String, String)> = [("kubernetes", "pod_logs"), ("sentry", "errors")]
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .into();
        let kind = |p: &str| {
            let parts: Vec<String> = p.split('/').map(String::from).collect();
            stray_kind(&parts, &tables)
        };
        let data = "kubernetes/pod_logs/date=2026-11-25/hour=00/part-00000.parquet";
        assert_eq!(kind(data), StrayKind::Data);
        assert_eq!(kind(&format!("labels/records/{data}")), StrayKind::Data);
        assert_eq!(
            kind("jsonl/sentry/errors/date=2026-11-25/hour=00.jsonl.gz"),
            StrayKind::Data
        );
        assert_eq!(
            kind("kubernetes/pod_logs/date=2026-11-23/hour=00/.part-00000.parquet.tmp"),
            StrayKind::Hidden
        );
        assert_eq!(kind("kubernetes/pod_logs/_SUCCESS"), StrayKind::Hidden);
        assert_eq!(kind("kubernetes/kubeconfig.yaml"), StrayKind::Other);
        assert_eq!(kind("labels/my_hand_labels.csv"), StrayKind::Other);
        assert_eq!(kind("kubernetes/other_table/x.parquet"), StrayKind::Other);
    }
}
