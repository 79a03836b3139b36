//! Parquet writing: one file per (source, table, hour) partition.

use arrow::array::{Array, AsArray};
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression as PqCompression, GzipLevel, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
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

/// Top-level columns whose values are mostly distinct (ids, messages, timestamps, measured
/// values), judged on an evenly spaced sample of rows, and whether each is a string. The Parquet writer would otherwise
/// hash every value into a dictionary only to give up on it once the dictionary page is
/// full: for these columns plain encoding (then the codec) is as small and much faster.
fn high_cardinality_columns(batch: &RecordBatch) -> Vec<(String, bool)> {
    const SAMPLE: usize = 512;
    let rows = batch.num_rows();
    if rows < 256 {
        return Vec::new();
    }
    let step = rows.div_ceil(SAMPLE).max(1);
    let picks: Vec<usize> = (0..rows).step_by(step).collect();
    let mut out = Vec::new();
    let schema = batch.schema();
    for (field, col) in schema.fields().iter().zip(batch.columns()) {
        let (distinct, is_string) = match col.data_type() {
            DataType::Utf8 => {
                let a = col.as_string::<i32>();
                let mut v: Vec<Option<&str>> = picks
                    .iter()
                    .map(|&i| (!a.is_null(i)).then(|| a.value(i)))
                    .collect();
                v.sort_unstable();
                v.dedup();
                (v.len(), true)
            }
            DataType::Int64 | DataType::Timestamp(_, _) | DataType::Float64 => {
                let data = col.to_data();
                let values: &[u64] = data.buffer::<u64>(0);
                let mut v: Vec<u64> = picks.iter().map(|&i| values[i]).collect();
                v.sort_unstable();
                v.dedup();
                (v.len(), false)
            }
            _ => continue,
        };
        if distinct * 2 > picks.len() {
            out.push((field.name().clone(), is_string));
        }
    }
    out
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
    let mut props = WriterProperties::builder()
        .set_compression(compression.to_parquet())
        .set_max_row_group_row_count(Some(row_group_rows))
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_created_by(format!("obsgen {}", env!("CARGO_PKG_VERSION")));
    for (name, is_string) in high_cardinality_columns(batch) {
        // Min/max statistics of free text (messages, ids other than the record id) cost a
        // comparison per value and prune nothing.
        if is_string && name != "record_id" {
            props = props.set_column_statistics_enabled(
                ColumnPath::from(name.as_str()),
                EnabledStatistics::None,
            );
        }
        props = props.set_column_dictionary_enabled(ColumnPath::from(name), false);
    }
    let props = props.build();
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
