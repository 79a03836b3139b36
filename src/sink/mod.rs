//! Sinks: where rendered batches go. Parquet files and gzip JSON Lines files (each
//! written under a temporary name and renamed when complete), and the run manifest.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

pub mod checksum;
pub mod journal;
pub mod json;
pub mod jsonl;
pub mod manifest;
pub mod parquet;

pub use checksum::FileSum;
pub use jsonl::JsonLines;
pub use manifest::{FileEntry, Manifest, ScenarioInfo};
pub use parquet::{Compression, ParquetStream, write_parquet, write_parquet_files};

/// The temporary name `path` is written under before it is renamed into place:
/// `.NAME.tmp` in the same directory. The leading `.` hides it from every dataset reader
/// (pyarrow.dataset, Spark and polars skip file names starting with `.` or `_`; a
/// `*.parquet` glob does not match it), so an interrupted write never shows up as part of
/// a table.
pub fn temp_path(path: &Path) -> PathBuf {
    let mut name = OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(".tmp");
    path.with_file_name(name)
}

/// Writes `data` to `path` atomically (into [`temp_path`], then renamed; the temporary
/// file is removed when the write fails); returns its size and checksum.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<FileSum, crate::Error> {
    let tmp = temp_path(path);
    if let Err(e) = std::fs::write(&tmp, data) {
        let _ = std::fs::remove_file(&tmp);
        return Err(crate::Error::io(&tmp, e));
    }
    std::fs::rename(&tmp, path).map_err(|e| crate::Error::io(path, e))?;
    Ok(FileSum::of(data))
}

/// Writes `path` atomically from `write`, which streams into the writer it is given
/// (buffered; into [`temp_path`], renamed once complete, removed when anything fails);
/// returns the file's size and checksum. Nothing of the file is held in memory.
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> Result<FileSum, crate::Error> {
    use std::io::Write;
    let tmp = temp_path(path);
    let result = (|| -> std::io::Result<FileSum> {
        let file = std::fs::File::create(&tmp)?;
        let mut out = std::io::BufWriter::with_capacity(64 << 10, checksum::HashWriter::new(file));
        write(&mut out)?;
        out.flush()?;
        let (_, sum) = out.into_inner().map_err(|e| e.into_error())?.into_parts();
        Ok(sum)
    })();
    settle(&tmp, path, result.map_err(|e| crate::Error::io(&tmp, e)))
}

/// Completes an atomic write into `tmp`: renamed to `path` when `result` is a success,
/// removed otherwise.
pub(crate) fn settle<T>(
    tmp: &Path,
    path: &Path,
    result: Result<T, crate::Error>,
) -> Result<T, crate::Error> {
    match result {
        Ok(v) => {
            std::fs::rename(tmp, path).map_err(|e| crate::Error::io(path, e))?;
            Ok(v)
        }
        Err(e) => {
            let _ = std::fs::remove_file(tmp);
            Err(e)
        }
    }
}

/// Whether `name` is a temporary name of [`temp_path`].
pub fn is_temp_name(name: &str) -> bool {
    name.len() > 5 && name.starts_with('.') && name.ends_with(".tmp")
}

/// Which output formats a run writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Formats {
    /// `OUT/<source>/<table>/date=/hour=/part-00000.parquet`
    pub parquet: bool,
    /// `OUT/jsonl/<source>/<table>/date=/hour=HH.jsonl.gz`, the systems' native JSON.
    pub jsonl: bool,
}

impl Formats {
    pub const PARQUET: Formats = Formats {
        parquet: true,
        jsonl: false,
    };

    /// Parses names such as `["parquet", "jsonl"]`; at least one, no unknown names.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<Formats, String> {
        let mut f = Formats {
            parquet: false,
            jsonl: false,
        };
        for n in names {
            match n.as_ref().trim().to_ascii_lowercase().as_str() {
                "parquet" => f.parquet = true,
                "jsonl" | "json" => f.jsonl = true,
                other => return Err(format!("unknown format `{other}` (parquet, jsonl)")),
            }
        }
        if !(f.parquet || f.jsonl) {
            return Err("needs at least one format (parquet, jsonl)".into());
        }
        Ok(f)
    }

    /// `parquet,jsonl`
    pub fn names(&self) -> Vec<String> {
        let mut v = Vec::new();
        if self.parquet {
            v.push("parquet".to_string());
        }
        if self.jsonl {
            v.push("jsonl".to_string());
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_are_hidden_beside_the_file() {
        let t = temp_path(Path::new(
            "out/k/t/date=2026-11-23/hour=00/part-00000.parquet",
        ));
        assert_eq!(
            t,
            Path::new("out/k/t/date=2026-11-23/hour=00/.part-00000.parquet.tmp")
        );
        assert_eq!(
            temp_path(Path::new("manifest.json")),
            Path::new(".manifest.json.tmp")
        );
        assert!(is_temp_name(".part-00000.parquet.tmp"));
        assert!(!is_temp_name("part-00000.parquet.tmp") && !is_temp_name(".tmp"));
    }

    #[test]
    fn formats_parse() {
        assert_eq!(Formats::parse(&["parquet"]), Ok(Formats::PARQUET));
        let both = Formats::parse(&["jsonl", " Parquet"]).unwrap();
        assert!(both.parquet && both.jsonl);
        assert_eq!(both.names(), vec!["parquet", "jsonl"]);
        assert!(Formats::parse(&["csv"]).unwrap_err().contains("csv"));
        assert!(Formats::parse::<&str>(&[]).is_err());
    }
}
