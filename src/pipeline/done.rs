//! The partitions a run has written ([`Done`]) and where a long run keeps them until the
//! manifest is written ([`DoneLog`]: an unnamed temporary file, not the heap).

use super::{Formats, jsonl_path, partition_path};
use crate::error::Error;
use crate::sink::FileSum;
use crate::sink::journal;
use crate::sources::Table;
use crate::time::{Micros, rfc3339_string};
use std::io::{BufReader, BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};

/// A partition whose files are written: what the manifest, the progress journal and the
/// incident tables need of it. Kept small and flat: the manifest entries (paths and
/// strings) are built once all partitions are written, so that a long run does not
/// scatter small long-lived allocations between the workers' large transient buffers.
pub(super) struct Done {
    pub(super) table: usize,
    pub(super) hour: Micros,
    pub(super) rows: u64,
    pub(super) parquet: Option<FileSum>,
    pub(super) jsonl: Option<FileSum>,
    pub(super) labels: FileSum,
    /// Incident id → its labelled rows (first, last, services of propagated rows).
    pub(super) incidents: crate::labels::IncidentSpans,
}

/// `<source>/<table>`
pub(super) fn table_key(t: &dyn Table) -> String {
    format!("{}/{}", t.source().as_str(), t.name())
}

impl Done {
    /// Bytes of every file of the partition.
    pub(super) fn bytes(&self) -> u64 {
        self.parquet.map_or(0, |f| f.bytes) + self.jsonl.map_or(0, |f| f.bytes) + self.labels.bytes
    }

    /// The partition's files: path, manifest format, size and checksum.
    pub(super) fn files(&self, tables: &[Box<dyn Table>]) -> Vec<(String, &'static str, FileSum)> {
        let t = &tables[self.table];
        let rel = partition_path(t.source(), t.name(), self.hour);
        let mut out = Vec::with_capacity(3);
        if let Some(s) = self.parquet {
            out.push((rel.clone(), "parquet", s));
        }
        if let Some(s) = self.jsonl {
            out.push((jsonl_path(t.source(), t.name(), self.hour), "jsonl", s));
        }
        out.push((format!("labels/records/{rel}"), "labels", self.labels));
        out
    }

    /// The partition's line in the progress journal.
    pub(super) fn entry(&self, tables: &[Box<dyn Table>]) -> journal::Entry {
        journal::Entry {
            table: table_key(tables[self.table].as_ref()),
            hour: rfc3339_string(self.hour),
            rows: self.rows,
            files: self
                .files(tables)
                .into_iter()
                .map(|(path, _, s)| journal::JournaledFile {
                    path,
                    bytes: s.bytes,
                    xxh64: s.hex(),
                })
                .collect(),
            incidents: self.incidents.clone(),
        }
    }

    /// The partition a journal line records, if it has exactly the files this run writes
    /// for it (its formats); `None` otherwise (it is rendered again).
    pub(super) fn from_entry(
        e: &journal::Entry,
        tables: &[Box<dyn Table>],
        formats: Formats,
    ) -> Option<Done> {
        let table = tables
            .iter()
            .position(|t| table_key(t.as_ref()) == e.table)?;
        let hour = crate::time::parse_instant(&e.hour)?;
        let t = &tables[table];
        let rel = partition_path(t.source(), t.name(), hour);
        let sum = |path: &str| -> Option<FileSum> {
            let f = e.files.iter().find(|f| f.path == path)?;
            Some(FileSum {
                bytes: f.bytes,
                xxh64: u64::from_str_radix(&f.xxh64, 16).ok()?,
            })
        };
        let expected = 1 + formats.parquet as usize + formats.jsonl as usize;
        if e.files.len() != expected {
            return None;
        }
        Some(Done {
            table,
            hour,
            rows: e.rows,
            parquet: if formats.parquet {
                Some(sum(&rel)?)
            } else {
                None
            },
            jsonl: if formats.jsonl {
                Some(sum(&jsonl_path(t.source(), t.name(), hour))?)
            } else {
                None
            },
            labels: sum(&format!("labels/records/{rel}"))?,
            incidents: e.incidents.clone(),
        })
    }
}

/// The partitions a run has written, spilled to an unnamed temporary file in the output
/// directory as fixed-size records and read back once the manifest is written: a year of
/// every source writes 96 thousand partitions, 10 MB as `Done` values that grew with the
/// range and pinned the heap's pages between the workers' transient buffers.
pub(super) struct DoneLog {
    spill: BufWriter<std::fs::File>,
    /// Where the spill file is (for error messages; it has no name).
    dir: PathBuf,
    len: usize,
}

/// Bytes of a spilled record: table (u32), hour, rows, which files (u8), three sums.
const RECORD: usize = 4 + 8 + 8 + 1 + 3 * 16;

impl DoneLog {
    pub(super) fn new(dir: &Path) -> Result<DoneLog, Error> {
        let file = tempfile::tempfile_in(dir).map_err(|e| Error::io(dir, e))?;
        Ok(DoneLog {
            spill: BufWriter::new(file),
            dir: dir.to_path_buf(),
            len: 0,
        })
    }

    /// Records `d` (its incident spans are not kept: the run's signal has them).
    pub(super) fn push(&mut self, d: &Done) -> Result<(), Error> {
        let mut r = [0u8; RECORD];
        let table = u32::try_from(d.table).map_err(|_| Error::Other("table index".into()))?;
        r[0..4].copy_from_slice(&table.to_le_bytes());
        r[4..12].copy_from_slice(&d.hour.to_le_bytes());
        r[12..20].copy_from_slice(&d.rows.to_le_bytes());
        r[20] = u8::from(d.parquet.is_some()) | (u8::from(d.jsonl.is_some()) << 1);
        let sums = [
            d.parquet.unwrap_or_default(),
            d.jsonl.unwrap_or_default(),
            d.labels,
        ];
        for (i, s) in sums.iter().enumerate() {
            let at = 21 + 16 * i;
            r[at..at + 8].copy_from_slice(&s.bytes.to_le_bytes());
            r[at + 8..at + 16].copy_from_slice(&s.xxh64.to_le_bytes());
        }
        self.spill
            .write_all(&r)
            .map_err(|e| Error::io(&self.dir, e))?;
        self.len += 1;
        Ok(())
    }

    /// Every record, in the order they were pushed.
    pub(super) fn read_all(self) -> Result<Vec<Done>, Error> {
        let dir = self.dir;
        let mut file = self
            .spill
            .into_inner()
            .map_err(|e| Error::io(&dir, e.into_error()))?;
        file.rewind().map_err(|e| Error::io(&dir, e))?;
        let mut reader = BufReader::new(file);
        let mut out = Vec::with_capacity(self.len);
        let mut r = [0u8; RECORD];
        let u64_at = |r: &[u8; RECORD], at: usize| {
            u64::from_le_bytes(r[at..at + 8].try_into().unwrap_or_default())
        };
        for _ in 0..self.len {
            reader.read_exact(&mut r).map_err(|e| Error::io(&dir, e))?;
            let sum = |i: usize| FileSum {
                bytes: u64_at(&r, 21 + 16 * i),
                xxh64: u64_at(&r, 29 + 16 * i),
            };
            out.push(Done {
                table: u32::from_le_bytes([r[0], r[1], r[2], r[3]]) as usize,
                hour: u64_at(&r, 4) as i64,
                rows: u64_at(&r, 12),
                parquet: (r[20] & 1 != 0).then(|| sum(0)),
                jsonl: (r[20] & 2 != 0).then(|| sum(1)),
                labels: sum(2),
                incidents: Default::default(),
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_come_back_as_pushed() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = DoneLog::new(dir.path()).unwrap();
        let sum = |b: u64| FileSum {
            bytes: b,
            xxh64: u64::MAX - b,
        };
        let all = [
            Done {
                table: 3,
                hour: -7_200_000_000,
                rows: 12,
                parquet: Some(sum(1)),
                jsonl: None,
                labels: sum(2),
                incidents: Default::default(),
            },
            Done {
                table: 0,
                hour: 1_764_000_000_000_000,
                rows: u64::MAX,
                parquet: None,
                jsonl: Some(sum(3)),
                labels: sum(4),
                incidents: Default::default(),
            },
        ];
        for d in &all {
            log.push(d).unwrap();
        }
        let back = log.read_all().unwrap();
        assert_eq!(back.len(), 2);
        for (a, b) in all.iter().zip(&back) {
            assert_eq!(
                (a.table, a.hour, a.rows, a.parquet, a.jsonl, a.labels),
                (b.table, b.hour, b.rows, b.parquet, b.jsonl, b.labels)
            );
        }
        // Nothing is left in the directory: the spill has no name.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
