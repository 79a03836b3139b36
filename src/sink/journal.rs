//! The progress journal, `OUT/_obsgen_progress.jsonl` (`_obsgen_progress.part-K-of-N.jsonl`
//! for a part): what a run in progress has completed, for `generate --resume`.
//!
//! The first line is the run's identity (seed, configuration digest, range, scale,
//! compression, formats, sources, incidents, part, version); each further line is one
//! completed partition: its table and hour, its rows, each of its files with size and
//! checksum, and the incidents its rows are labelled with (the manifest and the incident
//! tables are built from these). A line is appended, in one write, and synced once all of
//! the partition's files are renamed into place; a line cut short (the process killed while
//! writing it) is ignored. The journal is removed when the manifest is written. The
//! leading `_` hides it from dataset readers.

use crate::error::Error;
use crate::sink::manifest::{Manifest, PartInfo};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

const FORMAT_VERSION: u32 = 1;

/// The journal's file name: `_obsgen_progress.jsonl`, or `_obsgen_progress.part-K-of-N.jsonl`.
pub fn journal_name(part: Option<PartInfo>) -> String {
    match part {
        None => "_obsgen_progress.jsonl".into(),
        Some(p) => format!("_obsgen_progress.part-{}-of-{}.jsonl", p.k, p.n),
    }
}

/// Whether `name` is a journal's name (of a whole run or of a part).
pub fn is_journal_name(name: &str) -> bool {
    name.starts_with("_obsgen_progress.") && name.ends_with(".jsonl")
}

/// What makes two runs the same: the same identity gives the same files, byte for byte.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunIdentity {
    pub generator: String,
    pub version: String,
    pub seed: u64,
    pub config_digest: String,
    pub start: String,
    pub end: String,
    pub scale: f64,
    pub compression: String,
    pub formats: Vec<String>,
    pub incidents: bool,
    pub sources: Vec<String>,
    /// `--tables` (absent from the identities of runs without it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selected_tables: Option<Vec<String>>,
    pub part: Option<PartInfo>,
}

impl RunIdentity {
    /// The identity of the run that wrote `m`.
    pub fn of_manifest(m: &Manifest) -> RunIdentity {
        RunIdentity {
            generator: m.generator.clone(),
            version: m.version.clone(),
            seed: m.seed,
            config_digest: m.config_digest.clone(),
            start: m.start.clone(),
            end: m.end.clone(),
            scale: m.scale,
            compression: m.compression.clone(),
            formats: m.formats.clone(),
            incidents: m.incidents,
            sources: m.sources.clone(),
            selected_tables: m.selected_tables.clone(),
            part: m.part,
        }
    }

    /// The fields that differ, as `field: A there, B here` (`self` is "here").
    pub fn differences(&self, there: &RunIdentity) -> Vec<String> {
        let a = serde_json::to_value(self).unwrap_or_default();
        let b = serde_json::to_value(there).unwrap_or_default();
        let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
            return vec!["the identities cannot be compared".into()];
        };
        let show = |v: Option<&serde_json::Value>| match v {
            None | Some(serde_json::Value::Null) => "none".to_string(),
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
                .collect::<Vec<_>>()
                .join(","),
            Some(serde_json::Value::Object(o)) if o.contains_key("k") => {
                format!("part {} of {}", o["k"], o["n"])
            }
            Some(v) => v.to_string(),
        };
        a.keys()
            .filter(|k| a.get(*k) != b.get(*k))
            .map(|k| format!("{k} is {} there, {} here", show(b.get(k)), show(a.get(k))))
            .collect()
    }
}

/// One file of a completed partition.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct JournaledFile {
    /// Relative to the output directory, `/`-separated.
    pub path: String,
    pub bytes: u64,
    /// [`crate::sink::checksum`]: 16 hex digits.
    pub xxh64: String,
}

/// A completed partition.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Entry {
    /// `<source>/<table>`
    pub table: String,
    /// The partition's hour (RFC 3339).
    pub hour: String,
    pub rows: u64,
    pub files: Vec<JournaledFile>,
    /// Incident id → its labelled rows: first and last (µs since the epoch), and the
    /// services of its propagated rows.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub incidents: crate::labels::IncidentSpans,
}

#[derive(Serialize, Deserialize)]
struct Header {
    obsgen_progress: u32,
    identity: RunIdentity,
}

/// A journal as read back.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub identity: RunIdentity,
    /// The completed partitions, in the order they completed.
    pub entries: Vec<Entry>,
    /// Lines that could not be read (a line cut short by a kill): their partitions are
    /// rendered again.
    pub unreadable: usize,
}

/// Reads the journal at `path`; `None` when there is none.
pub fn read(path: &Path) -> Result<Option<Recorded>, Error> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(path, e)),
    };
    let mut lines = text.split(|&b| b == b'\n');
    let header: Option<Header> = lines
        .next()
        .and_then(|l| serde_json::from_slice::<Header>(l).ok())
        .filter(|h| h.obsgen_progress == FORMAT_VERSION);
    let Some(header) = header else {
        return Err(Error::Resume(format!(
            "{} is not an obsgen progress journal (version {FORMAT_VERSION}): the run it \
             records cannot be resumed; use --overwrite to start over",
            path.display()
        )));
    };
    let mut entries = Vec::new();
    let mut unreadable = 0;
    for line in lines.filter(|l| !l.is_empty()) {
        match serde_json::from_slice::<Entry>(line) {
            Ok(e) => entries.push(e),
            Err(_) => unreadable += 1,
        }
    }
    Ok(Some(Recorded {
        identity: header.identity,
        entries,
        unreadable,
    }))
}

/// A journal being written.
pub struct Journal {
    path: PathBuf,
    file: File,
    /// One appender at a time, so that lines never interleave.
    lock: Mutex<()>,
}

impl Journal {
    /// Starts the journal at `path` for the run `identity`, recording `entries` (the
    /// partitions a resumed run keeps). Written under a temporary name and renamed, so a
    /// journal on disk always begins with its identity.
    pub fn start(path: &Path, identity: &RunIdentity, entries: &[Entry]) -> Result<Journal, Error> {
        let header = Header {
            obsgen_progress: FORMAT_VERSION,
            identity: identity.clone(),
        };
        let mut text = serde_json::to_string(&header).map_err(|e| Error::Other(e.to_string()))?;
        text.push('\n');
        for e in entries {
            text.push_str(&serde_json::to_string(e).map_err(|e| Error::Other(e.to_string()))?);
            text.push('\n');
        }
        let tmp = super::temp_path(path);
        let written = (|| -> std::io::Result<()> {
            let mut f = File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_data()
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(Error::io(&tmp, e));
        }
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        Ok(Journal {
            path: path.to_path_buf(),
            file,
            lock: Mutex::new(()),
        })
    }

    /// Records a completed partition: one line, written at once, then synced.
    pub fn append(&self, entry: &Entry) -> Result<(), Error> {
        let mut line = serde_json::to_string(entry).map_err(|e| Error::Other(e.to_string()))?;
        line.push('\n');
        {
            let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
            (&self.file)
                .write_all(line.as_bytes())
                .map_err(|e| Error::io(&self.path, e))?;
        }
        self.file.sync_data().map_err(|e| Error::io(&self.path, e))
    }

    /// Removes the journal: the run is complete (its manifest is written).
    pub fn remove(self) -> Result<(), Error> {
        std::fs::remove_file(&self.path).map_err(|e| Error::io(&self.path, e))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> RunIdentity {
        RunIdentity {
            generator: "obsgen".into(),
            version: "0.1.0".into(),
            seed: 42,
            config_digest: "abc".into(),
            start: "2026-11-23T00:00:00Z".into(),
            end: "2026-11-23T03:00:00Z".into(),
            scale: 1.0,
            compression: "zstd:1".into(),
            formats: vec!["parquet".into()],
            incidents: true,
            sources: vec!["kubernetes".into()],
            selected_tables: None,
            part: None,
        }
    }

    fn entry(hour: u32) -> Entry {
        Entry {
            table: "kubernetes/pod_logs".into(),
            hour: format!("2026-11-23T{hour:02}:00:00Z"),
            rows: 10,
            files: vec![JournaledFile {
                path: format!(
                    "kubernetes/pod_logs/date=2026-11-23/hour={hour:02}/part-00000.parquet"
                ),
                bytes: 100,
                xxh64: "0123456789abcdef".into(),
            }],
            incidents: [(
                "INC-1".to_string(),
                crate::labels::IncidentRows {
                    first: 1,
                    last: 2,
                    propagated: ["frontend".to_string()].into(),
                },
            )]
            .into(),
        }
    }

    #[test]
    fn entries_round_trip_and_a_torn_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(journal_name(None));
        let j = Journal::start(&path, &identity(), &[entry(0)]).unwrap();
        j.append(&entry(1)).unwrap();
        drop(j);
        // A kill in the middle of a line.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(br#"{"table":"kubernetes/pod_logs","hour":"2026-11-"#)
            .unwrap();
        let r = read(&path).unwrap().unwrap();
        assert_eq!(r.identity, identity());
        assert_eq!(r.entries, vec![entry(0), entry(1)]);
        assert_eq!(r.unreadable, 1);
        assert!(read(&dir.path().join("absent")).unwrap().is_none());
        std::fs::write(&path, "garbage\n").unwrap();
        assert!(read(&path).is_err());
    }

    #[test]
    fn differences_name_the_fields() {
        let a = identity();
        let mut b = identity();
        b.seed = 7;
        b.scale = 2.0;
        b.part = Some(PartInfo { k: 1, n: 2 });
        let d = a.differences(&b);
        assert_eq!(
            d,
            vec![
                "part is part 1 of 2 there, none here",
                "scale is 2.0 there, 1.0 here",
                "seed is 7 there, 42 here"
            ]
        );
        assert!(a.differences(&a).is_empty());
        assert!(is_journal_name(&journal_name(Some(PartInfo {
            k: 2,
            n: 3
        }))));
        assert!(is_journal_name("_obsgen_progress.jsonl"));
    }
}
