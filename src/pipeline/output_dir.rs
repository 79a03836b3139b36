//! The output-directory policy: what a run may find in its directory, and what
//! `--overwrite` removes (exactly the files a previous obsgen run recorded in its
//! manifests or progress journals, nothing else).

use super::{Part, PlannedFiles, report_list};
use crate::error::Error;
use crate::sink::Manifest;
use crate::sink::journal::{self, is_journal_name};
use crate::sink::temp_path;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Makes sure `dir` can receive a dataset: created if missing; refused if it holds
/// anything unless `overwrite`. `--overwrite` removes exactly the files that a previous
/// obsgen run recorded in its manifests (`manifest.json`, `manifest.part-K-of-N.json`) or,
/// for a run that did not finish, in its progress journal (`_obsgen_progress*.jsonl`),
/// with their temporary files, then those records, then the directories this left empty;
/// nothing else. A non-empty directory without such a record is refused, and so is one
/// where a file this run will write (`planned`, relative paths) exists but is not a
/// previous run's.
pub(super) fn prepare_output_dir(
    dir: &Path,
    overwrite: bool,
    planned: &PlannedFiles,
) -> Result<(), Error> {
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
        let interrupted = dir.join(journal::journal_name(None)).exists();
        return Err(Error::Invalid(if interrupted {
            format!(
                "output directory {} holds a run that did not finish ({}): use --resume to \
                 complete it, or --overwrite to start over",
                dir.display(),
                journal::journal_name(None)
            )
        } else {
            format!(
                "output directory {} is not empty (use --overwrite to replace a previous dataset)",
                dir.display()
            )
        }));
    }
    let records = previous_records(dir)?;
    if records.is_empty() {
        return Err(Error::Invalid(format!(
            "output directory {} is not empty and holds no obsgen manifest (manifest.json or \
             manifest.part-K-of-N.json): --overwrite removes only the files a previous obsgen \
             run recorded in its manifest, so nothing here can be replaced; choose an empty \
             directory, or empty this one yourself",
            dir.display()
        )));
    }
    let recorded = recorded_files(&records)?;
    let previous: BTreeSet<PathBuf> = records
        .iter()
        .filter_map(|r| r.path.file_name().map(PathBuf::from))
        .collect();
    // Checked before anything is removed: a refusal leaves the directory as it was.
    let clashing: Vec<String> = planned
        .iter()
        .filter(|rel| {
            recorded_path(rel).is_some_and(|p| !recorded.contains(&p) && !previous.contains(&p))
                && dir.join(rel).exists()
        })
        .collect();
    if !clashing.is_empty() {
        let mut problems = Vec::new();
        report_list(
            &mut problems,
            "files this run would write exist but are not recorded in the previous manifest",
            &clashing,
        );
        let journaled = records.iter().any(|r| r.journal);
        return Err(Error::Invalid(format!(
            "output directory {}: {}; --overwrite never replaces a file obsgen did not write, move them away{}",
            dir.display(),
            problems.join(""),
            if journaled {
                " (files of a run that did not finish, written after its journal's last line: --resume completes that run)"
            } else {
                ""
            }
        )));
    }
    // Temporary files of what the previous run and this one write are ours too.
    let temps: BTreeSet<PathBuf> = recorded
        .iter()
        .cloned()
        .chain(planned.iter().filter_map(|r| recorded_path(&r)))
        .map(|p| temp_path(&p))
        .collect();
    remove_recorded(dir, &recorded, &temps, &records)
}

/// Bytes of the files a previous run recorded that are still in `dir`: what
/// `--overwrite` frees before the run writes (0 when nothing can be told).
pub fn reclaimable(dir: &Path) -> u64 {
    let Ok(records) = previous_records(dir) else {
        return 0;
    };
    let Ok(files) = recorded_files(&records) else {
        return 0;
    };
    files
        .iter()
        .filter_map(|rel| std::fs::symlink_metadata(dir.join(rel)).ok())
        .filter(|md| md.is_file())
        .map(|md| md.len())
        .sum()
}

/// Whether `name` is a manifest obsgen writes: `manifest.json` or `manifest.part-K-of-N.json`.
pub(super) fn is_manifest_name(name: &str) -> bool {
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

/// A previous run's record of its files: a manifest or a progress journal.
struct Record {
    path: PathBuf,
    journal: bool,
    files: Vec<String>,
}

/// The obsgen manifests and progress journals at the top of `dir`, sorted by name. A file
/// with a manifest's or journal's name that is not obsgen's is refused: what it lists
/// cannot be trusted to be ours.
fn previous_records(dir: &Path) -> Result<Vec<Record>, Error> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let e = e.map_err(|e| Error::io(dir, e))?;
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        let path = e.path();
        if !path.is_file() {
            continue;
        }
        let not_ours = |what: &str| {
            Error::Invalid(format!(
                "{} is not an obsgen {what}: --overwrite cannot tell which files are a \
                 previous run's, so it removes nothing (move the file away or choose another \
                 output directory)",
                path.display()
            ))
        };
        if is_manifest_name(name) {
            match Manifest::read(&path) {
                Ok(m) if m.generator == "obsgen" => out.push(Record {
                    files: m.files.into_iter().map(|f| f.path).collect(),
                    path,
                    journal: false,
                }),
                Ok(_) | Err(_) => return Err(not_ours("manifest")),
            }
        } else if is_journal_name(name) {
            match journal::read(&path) {
                Ok(Some(j)) if j.identity.generator == "obsgen" => out.push(Record {
                    files: j
                        .entries
                        .into_iter()
                        .flat_map(|e| e.files.into_iter().map(|f| f.path))
                        .collect(),
                    path,
                    journal: true,
                }),
                Ok(_) | Err(_) => return Err(not_ours("progress journal")),
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// A manifest's file path as a path under the output directory: relative, `/`-separated,
/// made of plain names only (no `..`, no root, no `.`).
pub(super) fn recorded_path(rel: &str) -> Option<PathBuf> {
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

/// The files the records list, as paths under the output directory. A recorded path
/// that would leave the directory is refused, so nothing is removed.
fn recorded_files(records: &[Record]) -> Result<BTreeSet<PathBuf>, Error> {
    let mut files: BTreeSet<PathBuf> = BTreeSet::new();
    for r in records {
        for f in &r.files {
            let rel = recorded_path(f).ok_or_else(|| {
                Error::Invalid(format!(
                    "{}: recorded file `{f}` is not a plain relative path: --overwrite removes nothing",
                    r.path.display(),
                ))
            })?;
            files.insert(rel);
        }
    }
    Ok(files)
}

/// Removes the recorded `files` and the `temps` (absent ones are fine: a previous removal
/// may have been interrupted), then the records, then the directories left empty, from
/// the deepest up, never `dir` itself.
fn remove_recorded(
    dir: &Path,
    files: &BTreeSet<PathBuf>,
    temps: &BTreeSet<PathBuf>,
    records: &[Record],
) -> Result<(), Error> {
    let mut parents: BTreeSet<PathBuf> = BTreeSet::new();
    for rel in files.iter().chain(temps) {
        let path = dir.join(rel);
        match std::fs::symlink_metadata(&path) {
            Ok(md) if md.is_dir() => continue, // a directory never is a recorded file
            Ok(_) => std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(&path, e)),
        }
        let mut p = rel.parent();
        while let Some(d) = p.filter(|d| !d.as_os_str().is_empty()) {
            parents.insert(d.to_path_buf());
            p = d.parent();
        }
    }
    for r in records {
        std::fs::remove_file(&r.path).map_err(|e| Error::io(&r.path, e))?;
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

/// Removes the temporary files of `planned` (relative paths) left in `dir`: an
/// interrupted or failed run's, or a killed one's.
pub(super) fn remove_temp_files(dir: &Path, planned: &PlannedFiles) -> Result<usize, Error> {
    let mut removed = 0;
    for rel in planned.iter() {
        let Some(p) = recorded_path(&rel) else {
            continue;
        };
        let tmp = temp_path(&dir.join(p));
        match std::fs::remove_file(&tmp) {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(&tmp, e)),
        }
    }
    Ok(removed)
}

/// A part writes into a directory shared with the other parts: it is created if missing
/// and nothing in it is removed but its own manifest (with `overwrite`: the part is no
/// longer complete) and a merged `manifest.json` (the dataset is no longer complete); the
/// part is refused if its own manifest is already there, unless `overwrite` (its files
/// are then replaced one by one).
pub(super) fn prepare_part_dir(dir: &Path, part: Part, overwrite: bool) -> Result<(), Error> {
    if dir.exists() && !dir.is_dir() {
        return Err(Error::Invalid(format!(
            "output path {} exists and is not a directory",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let own = dir.join(part.manifest_name());
    if own.exists() {
        if !overwrite {
            return Err(Error::Invalid(format!(
                "{} exists: part {} of {} was already generated there (use --overwrite to redo it)",
                own.display(),
                part.k,
                part.n
            )));
        }
        std::fs::remove_file(&own).map_err(|e| Error::io(&own, e))?;
    }
    let merged = dir.join("manifest.json");
    if merged.exists() {
        // A merged dataset is being regenerated in parts: it is no longer complete.
        std::fs::remove_file(&merged).map_err(|e| Error::io(&merged, e))?;
    }
    Ok(())
}
