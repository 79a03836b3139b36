//! File checksums: XXH64 (seed 0) of a file's bytes, written as 16 lowercase hex digits.
//! Computed while a file is written ([`HashWriter`]), recorded in the manifests and the
//! progress journal, and recomputed from disk ([`hash_file`]) by `generate --resume` and
//! `obsgen manifest merge` to tell a complete file from a torn or altered one.

use crate::error::Error;
use std::hash::Hasher;
use std::io::{Read, Write};
use std::path::Path;
use twox_hash::XxHash64;

/// A file's size and checksum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileSum {
    pub bytes: u64,
    pub xxh64: u64,
}

impl FileSum {
    /// The checksum as recorded: 16 lowercase hex digits.
    pub fn hex(&self) -> String {
        hex(self.xxh64)
    }

    /// The size and checksum of `data`.
    pub fn of(data: &[u8]) -> FileSum {
        FileSum {
            bytes: data.len() as u64,
            xxh64: XxHash64::oneshot(0, data),
        }
    }
}

/// `0123456789abcdef`
pub fn hex(v: u64) -> String {
    format!("{v:016x}")
}

/// A writer that counts and hashes the bytes it passes on.
pub struct HashWriter<W> {
    inner: W,
    hasher: XxHash64,
    bytes: u64,
}

impl<W: Write> HashWriter<W> {
    pub fn new(inner: W) -> HashWriter<W> {
        HashWriter {
            inner,
            hasher: XxHash64::with_seed(0),
            bytes: 0,
        }
    }

    /// The inner writer and the sum of what was written through it.
    pub fn into_parts(self) -> (W, FileSum) {
        let sum = FileSum {
            bytes: self.bytes,
            xxh64: self.hasher.finish(),
        };
        (self.inner, sum)
    }
}

impl<W: Write> Write for HashWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.write(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Reads `path` and returns its size and checksum.
pub fn hash_file(path: &Path) -> Result<FileSum, Error> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = XxHash64::with_seed(0);
    let mut buf = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(path, e)),
        };
        hasher.write(&buf[..n]);
        bytes += n as u64;
    }
    Ok(FileSum {
        bytes,
        xxh64: hasher.finish(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streamed_file_and_oneshot_sums_agree() {
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut w = HashWriter::new(Vec::new());
        for chunk in data.chunks(4097) {
            w.write_all(chunk).unwrap();
        }
        let (out, sum) = w.into_parts();
        assert_eq!(out, data);
        assert_eq!(sum, FileSum::of(&data));
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, &data).unwrap();
        assert_eq!(hash_file(&p).unwrap(), sum);
        // XXH64 of the empty input with seed 0 (the reference value).
        assert_eq!(FileSum::of(b"").hex(), "ef46db3751d8e999");
        assert_eq!(sum.hex().len(), 16);
    }
}
