//! `generate --resume`: what a run finds in its output directory, and which of the
//! partitions its progress journal records are still complete on disk.
//!
//! A journaled partition is kept only if each of its files is there with the recorded
//! size and checksum; any other (absent from the journal, a file missing, torn or
//! altered) is rendered again. Since partitions are pure functions of the run's identity,
//! the result is the uninterrupted run, byte for byte.

use super::output_dir::recorded_path;
use crate::error::Error;
use crate::sink::Manifest;
use crate::sink::checksum::{hash_file, hex};
use crate::sink::journal::{self, Entry, JournaledFile, Recorded, RunIdentity};
use rayon::prelude::*;
use std::path::Path;

/// Where a resumed run starts.
pub(super) enum Start {
    /// Nothing to resume: the directory is empty or missing (or, for a part, holds
    /// neither its journal nor its manifest); the run starts from the beginning.
    Fresh,
    /// The run is complete: its manifest is there, of this very run.
    Complete(Manifest),
    /// A run that did not finish, of this very run.
    Journal(Recorded),
}

/// Reads what `dir` holds for the run `identity`: its manifest (`manifest`), else its
/// progress journal (`journal_path`). Refuses a manifest or journal of another run
/// (naming the fields that differ), and a non-empty directory with neither (unless `part`:
/// the directory is shared with the other parts).
pub(super) fn load(
    dir: &Path,
    identity: &RunIdentity,
    journal_path: &Path,
    manifest: &Path,
    part: bool,
) -> Result<Start, Error> {
    let other_run = |what: &Path, diff: Vec<String>| {
        Error::Resume(format!(
            "cannot resume: {} is of another run ({}); rerun with the same arguments and \
             configuration, or use --overwrite instead of --resume to start over",
            what.display(),
            diff.join("; ")
        ))
    };
    if manifest.is_file() {
        let m = Manifest::read(manifest).map_err(|e| {
            Error::Resume(format!(
                "cannot resume: {} is not readable ({e}); use --overwrite to start over",
                manifest.display()
            ))
        })?;
        let diff = identity.differences(&RunIdentity::of_manifest(&m));
        if !diff.is_empty() {
            return Err(other_run(manifest, diff));
        }
        // Killed between the manifest and the journal's removal: complete all the same.
        let _ = std::fs::remove_file(journal_path);
        return Ok(Start::Complete(m));
    }
    match journal::read(journal_path)? {
        Some(r) => {
            let diff = identity.differences(&r.identity);
            if !diff.is_empty() {
                return Err(other_run(journal_path, diff));
            }
            Ok(Start::Journal(r))
        }
        None => {
            let empty = match std::fs::read_dir(dir) {
                Ok(mut entries) => entries.next().is_none(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
                Err(e) => return Err(Error::io(dir, e)),
            };
            if part || empty {
                return Ok(Start::Fresh);
            }
            Err(Error::Resume(format!(
                "nothing to resume in {}: it holds neither a progress journal ({}) nor a \
                 manifest (manifest.json) of an obsgen run; use --overwrite to replace a \
                 previous dataset, or choose an empty directory",
                dir.display(),
                journal_path
                    .file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default()
            )))
        }
    }
}

/// Checks every file of each of `entries` on disk, in parallel (on the current rayon
/// pool): `Ok` when all are there with the journaled size and checksum, else why not.
/// Stops early (the remaining entries fail) when a stop is requested.
pub(super) fn verify(dir: &Path, entries: &[&Entry]) -> Vec<Result<(), String>> {
    entries
        .par_iter()
        .map(|e| {
            if crate::interrupt::pending().is_some() {
                return Err("interrupted".to_string());
            }
            e.files.iter().try_for_each(|f| check_file(dir, f))
        })
        .collect()
}

/// One journaled file: present, of the recorded size, with the recorded checksum.
fn check_file(dir: &Path, f: &JournaledFile) -> Result<(), String> {
    let Some(rel) = recorded_path(&f.path) else {
        return Err(format!("{} (not a plain relative path)", f.path));
    };
    let path = dir.join(rel);
    let len = match std::fs::symlink_metadata(&path) {
        Ok(md) if md.is_file() => md.len(),
        Ok(_) => return Err(format!("{} (not a regular file)", f.path)),
        Err(_) => return Err(format!("{} (absent)", f.path)),
    };
    if len != f.bytes {
        return Err(format!("{} ({len} bytes, journaled {})", f.path, f.bytes));
    }
    match hash_file(&path) {
        Ok(sum) if hex(sum.xxh64) == f.xxh64 => Ok(()),
        Ok(sum) => Err(format!(
            "{} (checksum {}, journaled {})",
            f.path,
            hex(sum.xxh64),
            f.xxh64
        )),
        Err(e) => Err(format!("{} (unreadable: {e})", f.path)),
    }
}
