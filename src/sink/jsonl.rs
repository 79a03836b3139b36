//! gzip-compressed JSON Lines files: `OUT/jsonl/<source>/<table>/date=YYYY-MM-DD/hour=HH.jsonl.gz`.
//!
//! A table writes its lines into [`JsonLines::json`] and ends each with
//! [`JsonLines::end_line`]; the text is compressed in blocks as it grows, so a partition
//! never sits whole in memory twice. The file is written under a temporary name and
//! renamed when complete. The gzip header carries no time or file name, so the bytes
//! depend on the content alone.

use crate::error::Error;
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
    out: Output,
    lines: u64,
}

enum Output {
    File {
        enc: Box<GzEncoder<BufWriter<File>>>,
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
}

impl JsonLines {
    /// Starts `path` (parents created), compressed at gzip `level` (0-9).
    pub fn create(path: &Path, level: u32) -> Result<JsonLines, Error> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let file = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        let enc = GzBuilder::new().mtime(0).write(
            BufWriter::with_capacity(BLOCK, file),
            Level::new(level.min(9)),
        );
        Ok(JsonLines {
            json: Json::with_capacity(BLOCK + BLOCK / 2),
            out: Output::File {
                enc: Box::new(enc),
                tmp,
                path: path.to_path_buf(),
            },
            lines: 0,
        })
    }

    /// Collects the uncompressed text in memory.
    pub fn memory() -> JsonLines {
        JsonLines {
            json: Json::with_capacity(BLOCK),
            out: Output::Memory(Vec::new()),
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
            Output::File { enc, tmp, .. } => enc
                .write_all(self.json.as_bytes())
                .map_err(|e| Error::io(tmp, e))?,
            Output::Memory(v) => v.extend_from_slice(self.json.as_bytes()),
        }
        self.json.clear();
        Ok(())
    }

    /// Finishes a file (renamed into place) and returns its line and byte counts.
    pub fn finish(mut self) -> Result<Written, Error> {
        self.drain()?;
        let lines = self.lines;
        match self.out {
            Output::File { enc, tmp, path } => {
                let mut w = enc.finish().map_err(|e| Error::io(&tmp, e))?;
                w.flush().map_err(|e| Error::io(&tmp, e))?;
                drop(w);
                let bytes = std::fs::metadata(&tmp)
                    .map_err(|e| Error::io(&tmp, e))?
                    .len();
                std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
                Ok(Written { lines, bytes })
            }
            Output::Memory(v) => Ok(Written {
                lines,
                bytes: v.len() as u64,
            }),
        }
    }

    /// The text of an in-memory writer (empty for a file).
    pub fn into_text(mut self) -> Result<String, Error> {
        self.drain()?;
        match self.out {
            Output::Memory(v) => String::from_utf8(v).map_err(|e| Error::Other(e.to_string())),
            Output::File { .. } => Ok(String::new()),
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
        assert!(!dir.path().join("a/x.jsonl.gz.tmp").exists());
    }
}
