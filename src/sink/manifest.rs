//! `OUT/manifest.json`: what a run wrote. It is written last, so its presence means the
//! dataset is complete. It holds no wall-clock time or thread count, so the same seed and
//! configuration give the same manifest byte for byte.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn incidents_on() -> bool {
    true
}

fn parquet() -> String {
    "parquet".into()
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileEntry {
    /// Path relative to the output directory, with `/` separators.
    pub path: String,
    pub source: String,
    pub table: String,
    /// `parquet`, `jsonl` (gzip JSON Lines) or `json`.
    #[serde(default = "parquet")]
    pub format: String,
    /// Partition start (RFC 3339).
    pub hour: String,
    pub rows: u64,
    pub bytes: u64,
    /// XXH64 (seed 0) of the file's bytes, 16 hex digits ([`super::checksum`]). Absent
    /// from the manifests of obsgen before 0.1.0's checksums.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xxh64: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TableSummary {
    pub source: String,
    pub table: String,
    #[serde(default = "parquet")]
    pub format: String,
    pub files: u64,
    pub rows: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub generator: String,
    pub version: String,
    pub seed: u64,
    pub config_digest: String,
    pub start: String,
    pub end: String,
    pub scale: f64,
    pub compression: String,
    #[serde(default)]
    pub formats: Vec<String>,
    /// `false` for a counterfactual twin (`--incidents off`): the world without incidents.
    #[serde(default = "incidents_on")]
    pub incidents: bool,
    pub sources: Vec<String>,
    /// `--tables`: the only tables the run rendered (`source/table`); absent: every table
    /// of `sources`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selected_tables: Option<Vec<String>>,
    /// A `scenario` run: the incident it was made around.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<ScenarioInfo>,
    pub tables: Vec<TableSummary>,
    pub files: Vec<FileEntry>,
    /// Set in a part's manifest (`manifest.part-K-of-N.json`), absent from `manifest.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part: Option<PartInfo>,
    /// A part's manifest: per incident with a labelled row in the part's partitions, the
    /// sources it shows in and its first and last labelled row (merged into
    /// `sources_with_signal`, `signal_start` and `signal_end` of the incident tables).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub signal: BTreeMap<String, IncidentSignal>,
}

/// The incident a `scenario` run was made around.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ScenarioInfo {
    pub incident_id: String,
    pub incident_type: String,
    /// The service of its root cause (absent for a cause outside the services, e.g. a node).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_service: Option<String>,
    /// Its start and end (RFC 3339).
    pub start: String,
    pub end: String,
    /// `--isolate`: every other incident that would have been active in the range, or
    /// ended less than 2 h before it, was left out of the run (near misses stay: the
    /// normal world has them).
    pub isolated: bool,
}

/// Where and when an incident's labelled rows are.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct IncidentSignal {
    pub sources: BTreeSet<String>,
    /// Timestamps (µs since the epoch) of the first and last labelled row.
    pub first: i64,
    pub last: i64,
    /// Services with `propagated` rows (the incident edges reach each of them).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub propagated: BTreeSet<String>,
}

impl IncidentSignal {
    /// Adds rows of `source` labelled between `first` and `last`.
    pub fn add(&mut self, source: &str, first: i64, last: i64) {
        if self.sources.is_empty() {
            (self.first, self.last) = (first, last);
        } else {
            self.first = self.first.min(first);
            self.last = self.last.max(last);
        }
        if !self.sources.contains(source) {
            self.sources.insert(source.to_string());
        }
    }

    /// Adds a batch's labelled rows of `source`.
    pub fn add_rows(&mut self, source: &str, rows: &crate::labels::IncidentRows) {
        self.add(source, rows.first, rows.last);
        self.propagated.extend(rows.propagated.iter().cloned());
    }

    /// Combines the signal of another part.
    pub fn merge(&mut self, other: &IncidentSignal) {
        for s in &other.sources {
            self.add(s, other.first, other.last);
        }
        self.propagated.extend(other.propagated.iter().cloned());
    }
}

/// Which part of a split run a manifest describes.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct PartInfo {
    pub k: u32,
    pub n: u32,
}

impl Manifest {
    /// Writes the manifest atomically as pretty JSON.
    pub fn write(&self, path: &Path) -> Result<(), crate::Error> {
        self.write_with_files(path, self.files.iter().cloned())
    }

    /// Writes the manifest with `files` (in order) in place of its own file list, streamed:
    /// a long run's manifest lists hundreds of thousands of files, made one at a time.
    /// The bytes are those of [`Manifest::write`] of the manifest holding them.
    pub fn write_with_files(
        &self,
        path: &Path,
        files: impl Iterator<Item = FileEntry>,
    ) -> Result<(), crate::Error> {
        let view = View {
            generator: &self.generator,
            version: &self.version,
            seed: self.seed,
            config_digest: &self.config_digest,
            start: &self.start,
            end: &self.end,
            scale: self.scale,
            compression: &self.compression,
            formats: &self.formats,
            incidents: self.incidents,
            sources: &self.sources,
            selected_tables: &self.selected_tables,
            scenario: &self.scenario,
            tables: &self.tables,
            files: Streamed(std::cell::RefCell::new(Some(files))),
            part: self.part,
            signal: &self.signal,
        };
        super::write_atomic_with(path, |out| {
            serde_json::to_writer_pretty(&mut *out, &view)?;
            out.write_all(b"\n")
        })
        .map(|_| ())
    }

    pub fn read(path: &Path) -> Result<Manifest, crate::Error> {
        let text = std::fs::read_to_string(path).map_err(|e| crate::Error::io(path, e))?;
        serde_json::from_str(&text)
            .map_err(|e| crate::Error::Other(format!("{}: {e}", path.display())))
    }

    /// Per-(table, format) totals from the file list, in the order tables first appear.
    pub fn summarize(files: &[FileEntry]) -> Vec<TableSummary> {
        let mut out: Vec<TableSummary> = Vec::new();
        for f in files {
            Manifest::add_to_summary(&mut out, f);
        }
        out
    }

    /// Adds file `f` to the per-(table, format) totals `out`.
    pub fn add_to_summary(out: &mut Vec<TableSummary>, f: &FileEntry) {
        match out
            .iter_mut()
            .find(|t| t.source == f.source && t.table == f.table && t.format == f.format)
        {
            Some(t) => {
                t.files += 1;
                t.rows += f.rows;
                t.bytes += f.bytes;
            }
            None => out.push(TableSummary {
                source: f.source.clone(),
                table: f.table.clone(),
                format: f.format.clone(),
                files: 1,
                rows: f.rows,
                bytes: f.bytes,
            }),
        }
    }
}

/// [`Manifest`] as it is written, field for field, with the file list streamed from an
/// iterator (a test checks that it prints as the manifest does).
#[derive(Serialize)]
#[serde(bound = "")]
struct View<'a, I: Iterator<Item = FileEntry>> {
    generator: &'a str,
    version: &'a str,
    seed: u64,
    config_digest: &'a str,
    start: &'a str,
    end: &'a str,
    scale: f64,
    compression: &'a str,
    formats: &'a [String],
    incidents: bool,
    sources: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    selected_tables: &'a Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scenario: &'a Option<ScenarioInfo>,
    tables: &'a [TableSummary],
    files: Streamed<I>,
    #[serde(skip_serializing_if = "Option::is_none")]
    part: Option<PartInfo>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    signal: &'a BTreeMap<String, IncidentSignal>,
}

/// A sequence serialized from an iterator, once.
struct Streamed<I>(std::cell::RefCell<Option<I>>);

impl<I: Iterator<Item = FileEntry>> Serialize for Streamed<I> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.borrow_mut().take().into_iter().flatten())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(files: usize, part: bool) -> Manifest {
        let files: Vec<FileEntry> = (0..files)
            .map(|i| FileEntry {
                path: format!("grafana/annotations/date=2026-11-23/hour={i:02}/part-00000.parquet"),
                source: "grafana".into(),
                table: "annotations".into(),
                format: "parquet".into(),
                hour: format!("2026-11-23T{i:02}:00:00Z"),
                rows: i as u64,
                bytes: 100 + i as u64,
                xxh64: (i % 2 == 0).then(|| format!("{i:016x}")),
            })
            .collect();
        let mut signal = BTreeMap::new();
        if part {
            signal.insert(
                "inc-1".to_string(),
                IncidentSignal {
                    sources: ["grafana".to_string()].into(),
                    first: 1,
                    last: 2,
                    propagated: BTreeSet::new(),
                },
            );
        }
        Manifest {
            generator: "obsgen".into(),
            version: "0.1.0".into(),
            seed: 42,
            config_digest: "abc".into(),
            start: "2026-11-23T00:00:00Z".into(),
            end: "2026-11-24T00:00:00Z".into(),
            scale: 1.5,
            compression: "zstd:1".into(),
            formats: vec!["parquet".into()],
            incidents: true,
            sources: vec!["grafana".into()],
            selected_tables: part.then(|| vec!["grafana/annotations".into()]),
            scenario: part.then(|| ScenarioInfo {
                incident_id: "inc-1".into(),
                incident_type: "memory_leak".into(),
                root_service: None,
                start: "2026-11-23T01:00:00Z".into(),
                end: "2026-11-23T02:00:00Z".into(),
                isolated: true,
            }),
            tables: Manifest::summarize(&files),
            files,
            part: part.then_some(PartInfo { k: 1, n: 2 }),
            signal,
        }
    }

    /// The streamed manifest is the manifest's pretty JSON byte for byte, and reads back.
    #[test]
    fn the_streamed_manifest_prints_as_serde_prints_the_manifest() {
        let dir = tempfile::tempdir().unwrap();
        for (files, part) in [(0, false), (1, false), (5, true)] {
            let m = manifest(files, part);
            let path = dir.path().join(format!("m-{files}.json"));
            let header = Manifest {
                files: Vec::new(),
                ..m.clone()
            };
            header
                .write_with_files(&path, m.files.iter().cloned())
                .unwrap();
            let mut expected = serde_json::to_string_pretty(&m).unwrap();
            expected.push('\n');
            assert_eq!(std::fs::read_to_string(&path).unwrap(), expected);
            assert_eq!(Manifest::read(&path).unwrap(), m);
        }
    }
}
