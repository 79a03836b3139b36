//! gzip-compressed JSON Lines files: `OUT/jsonl/<source>/<table>/date=YYYY-MM-DD/hour=HH.jsonl.gz`.
//!
//! A table writes its lines into [`JsonLines::json`] and ends each with
//! [`JsonLines::end_line`]; the text is compressed in blocks as it grows, so a partition
//! never sits whole in memory twice. The file is written under a temporary name
//! ([`super::temp_path`]) and renamed when complete; a writer dropped unfinished removes
//! it. The gzip header carries no time or file name, so the bytes
//! depend on the content alone.

use crate::error::Error;
use crate::sink::checksum::{FileSum, HashWriter};
use crate::sink::json::Json;
use flate2::Compression as Level;
use flate2::GzBuilder;
use flate2::write::GzEncoder;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Text buffered before it is handed to the compressor.
const BLOCK: usize = 256 * 1024;

/// Where a partition's JSON lines go: a gzip file, or memory (tests, benchmarks).
pub struct JsonLines {
    /// The line being written (and any not yet compressed).
    pub json: Json,
    /// `None` once finished.
    out: Option<Output>,
    lines: u64,
}

enum Output {
    File {
        enc: Box<GzEncoder<BufWriter<HashWriter<File>>>>,
        tmp: PathBuf,
        path: PathBuf,
    },
    Memory(Vec<u8>),
}

/// What a finished file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    pub lines: u64,
    pub bytes: u64,
    /// XXH64 of the file (of the text, in memory).
    pub xxh64: u64,
}

impl JsonLines {
    /// Starts `path` (parents created), compressed at gzip `level` (0-9).
    pub fn create(path: &Path, level: u32) -> Result<JsonLines, Error> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let tmp = super::temp_path(path);
        let file = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        let enc = GzBuilder::new().mtime(0).write(
            BufWriter::with_capacity(BLOCK, HashWriter::new(file)),
            Level::new(level.min(9)),
        );
        Ok(JsonLines {
            json: Json::with_capacity(BLOCK + BLOCK / 2),
            out: Some(Output::File {
                enc: Box::new(enc),
                tmp,
                path: path.to_path_buf(),
            }),
            lines: 0,
        })
    }

    /// Collects the uncompressed text in memory.
    pub fn memory() -> JsonLines {
        JsonLines {
            json: Json::with_capacity(BLOCK),
            out: Some(Output::Memory(Vec::new())),
            lines: 0,
        }
    }

    /// Ends the current line; compresses the buffered text once a block is full.
    #[inline]
    pub fn end_line(&mut self) -> Result<(), Error> {
        self.json.newline();
        self.lines += 1;
        if self.json.len() >= BLOCK {
            self.drain()?;
        }
        Ok(())
    }

    pub fn lines(&self) -> u64 {
        self.lines
    }

    fn drain(&mut self) -> Result<(), Error> {
        match &mut self.out {
            Some(Output::File { enc, tmp, .. }) => enc
                .write_all(self.json.as_bytes())
                .map_err(|e| Error::io(tmp, e))?,
            Some(Output::Memory(v)) => v.extend_from_slice(self.json.as_bytes()),
            None => {}
        }
        self.json.clear();
        Ok(())
    }

    /// Finishes a file (renamed into place) and returns its line and byte counts and
    /// checksum.
    pub fn finish(mut self) -> Result<Written, Error> {
        self.drain()?;
        let lines = self.lines;
        match self.out.take() {
            Some(Output::File { enc, tmp, path }) => {
                let sum = (|| -> std::io::Result<FileSum> {
                    let w = enc.finish()?;
                    let hashed = w.into_inner().map_err(|e| e.into_error())?;
                    Ok(hashed.into_parts().1)
                })();
                let sum = match sum {
                    Ok(sum) => sum,
                    Err(e) => {
                        let _ = std::fs::remove_file(&tmp);
                        return Err(Error::io(&tmp, e));
                    }
                };
                std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
                Ok(Written {
                    lines,
                    bytes: sum.bytes,
                    xxh64: sum.xxh64,
                })
            }
            Some(Output::Memory(v)) => {
                let sum = FileSum::of(&v);
                Ok(Written {
                    lines,
                    bytes: sum.bytes,
                    xxh64: sum.xxh64,
                })
            }
            None => Err(Error::Other("JSON Lines writer finished twice".into())),
        }
    }

    /// The text of an in-memory writer (empty for a file).
    pub fn into_text(mut self) -> Result<String, Error> {
        self.drain()?;
        match self.out.take() {
            Some(Output::Memory(v)) => {
                String::from_utf8(v).map_err(|e| Error::Other(e.to_string()))
            }
            Some(Output::File { .. }) | None => Ok(String::new()),
        }
    }
}

impl Drop for JsonLines {
    /// An unfinished file (an error or an interruption while rendering) leaves nothing:
    /// its temporary file is removed.
    fn drop(&mut self) {
        if let Some(Output::File { tmp, .. }) = self.out.take() {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn gzip_file_round_trips_and_is_deterministic() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str| {
            let p = dir.path().join(name).join("x.jsonl.gz");
            let mut w = JsonLines::create(&p, 1).unwrap();
            for i in 0..50_000u64 {
                w.json.begin_object();
                w.json.field_u64("i", i);
                w.json.field_str("s", "hello \"world\"");
                w.json.end_object();
                w.end_line().unwrap();
            }
            let written = w.finish().unwrap();
            assert_eq!(written.lines, 50_000);
            let bytes = std::fs::read(&p).unwrap();
            assert_eq!(bytes.len() as u64, written.bytes);
            assert_eq!(FileSum::of(&bytes).xxh64, written.xxh64);
            bytes
        };
        let a = write("a");
        let b = write("b");
        assert_eq!(a, b, "same content, same bytes");
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(&a[..])
            .read_to_string(&mut text)
            .unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 50_000);
        let v: serde_json::Value = serde_json::from_str(lines[49_999]).unwrap();
        assert_eq!(v["i"], 49_999);
        assert!(!dir.path().join("a/.x.jsonl.gz.tmp").exists());
    }

    #[test]
    fn an_unfinished_file_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.jsonl.gz");
        let mut w = JsonLines::create(&p, 1).unwrap();
        w.json.begin_object();
        w.json.end_object();
        w.end_line().unwrap();
        assert!(dir.path().join(".x.jsonl.gz.tmp").exists());
        drop(w);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
