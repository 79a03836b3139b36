//! Parquet writing: one file per (source, table, hour) partition.

use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression as PqCompression, GzipLevel, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

/// Output compression codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Zstd(i32),
    Snappy,
    Lz4,
    Gzip,
    None,
}

impl Compression {
    /// Parses a codec name (`zstd`, `zstd:5`, `snappy`, `lz4`, `gzip`, `none`).
    pub fn parse(name: &str, default_zstd_level: i32) -> Option<Compression> {
        let name = name.trim().to_ascii_lowercase();
        let (codec, level) = match name.split_once(':') {
            Some((c, l)) => (c.to_string(), Some(l.parse::<i32>().ok()?)),
            None => (name, None),
        };
        let c = match codec.as_str() {
            "zstd" => {
                let l = level.unwrap_or(default_zstd_level);
                if !(1..=22).contains(&l) {
                    return None;
                }
                Compression::Zstd(l)
            }
            "snappy" => Compression::Snappy,
            "lz4" => Compression::Lz4,
            "gzip" => Compression::Gzip,
            "none" | "uncompressed" => Compression::None,
            _ => return None,
        };
        Some(c)
    }

    fn to_parquet(self) -> PqCompression {
        match self {
            Compression::Zstd(l) => PqCompression::ZSTD(ZstdLevel::try_new(l).unwrap_or_default()),
            Compression::Snappy => PqCompression::SNAPPY,
            Compression::Lz4 => PqCompression::LZ4_RAW,
            Compression::Gzip => PqCompression::GZIP(GzipLevel::default()),
            Compression::None => PqCompression::UNCOMPRESSED,
        }
    }

    pub fn name(self) -> String {
        match self {
            Compression::Zstd(l) => format!("zstd:{l}"),
            Compression::Snappy => "snappy".into(),
            Compression::Lz4 => "lz4".into(),
            Compression::Gzip => "gzip".into(),
            Compression::None => "none".into(),
        }
    }
}

/// Writes `batch` to `path` atomically: into `path.tmp`, then renamed. Returns the size in bytes.
pub fn write_parquet(
    path: &Path,
    batch: &RecordBatch,
    compression: Compression,
    row_group_rows: usize,
) -> Result<u64, crate::Error> {
    let tmp = path.with_extension("parquet.tmp");
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| crate::Error::io(dir, e))?;
    }
    let props = WriterProperties::builder()
        .set_compression(compression.to_parquet())
        .set_max_row_group_row_count(Some(row_group_rows))
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_created_by(format!("obsgen {}", env!("CARGO_PKG_VERSION")))
        .build();
    let result = (|| -> Result<(), crate::Error> {
        let file = File::create(&tmp).map_err(|e| crate::Error::io(&tmp, e))?;
        let mut writer = ArrowWriter::try_new(
            BufWriter::with_capacity(1 << 20, file),
            batch.schema(),
            Some(props),
        )?;
        writer.write(batch)?;
        let buf = writer.into_inner()?;
        buf.into_inner()
            .map_err(|e| crate::Error::io(&tmp, e.into_error()))?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path).map_err(|e| crate::Error::io(path, e))?;
    let bytes = std::fs::metadata(path)
        .map_err(|e| crate::Error::io(path, e))?
        .len();
    Ok(bytes)
}
