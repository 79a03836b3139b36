//! Reading a complete dataset back: its manifest, the files of a table, and the columns a
//! reader needs of one Parquet file (`head`, `stats`, `export`, `report`).

use crate::error::Error;
use crate::sink::Manifest;
use arrow::array::{RecordBatch, RecordBatchReader};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::path::{Path, PathBuf};

/// The manifest of the complete dataset in `dir` (an error saying so when there is none).
pub fn read_manifest(dir: &Path) -> Result<Manifest, Error> {
    let path = dir.join("manifest.json");
    if !path.exists() {
        return Err(Error::Invalid(format!(
            "{}: no manifest.json (not an obsgen dataset, or a run that did not finish)",
            dir.display()
        )));
    }
    Manifest::read(&path)
}

/// The Parquet files of `source/table` in `m`, in time order (their paths sorted).
pub fn table_files(m: &Manifest, dir: &Path, source: &str, table: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = m
        .files
        .iter()
        .filter(|f| f.source == source && f.table == table && f.format == "parquet")
        .map(|f| dir.join(&f.path))
        .collect();
    files.sort();
    files
}

/// The `labels/records` files of each (source, table) of `m`, each list in time order.
pub fn record_files(
    m: &Manifest,
    dir: &Path,
) -> std::collections::BTreeMap<(String, String), Vec<PathBuf>> {
    let mut out: std::collections::BTreeMap<(String, String), Vec<PathBuf>> = Default::default();
    for f in &m.files {
        let Some(rest) = f.path.strip_prefix("labels/records/") else {
            continue;
        };
        if f.format != "parquet" {
            continue;
        }
        let mut parts = rest.split('/');
        if let (Some(source), Some(table)) = (parts.next(), parts.next()) {
            out.entry((source.to_string(), table.to_string()))
                .or_default()
                .push(dir.join(&f.path));
        }
    }
    for v in out.values_mut() {
        v.sort();
    }
    out
}

/// The columns `names` of the Parquet file at `path` (those it has, in the file's order)
/// as one batch.
pub fn read_columns(path: &Path, names: &[&str]) -> Result<RecordBatch, Error> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)?;
    let indices: Vec<usize> = builder
        .schema()
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| names.contains(&f.name().as_str()))
        .map(|(i, _)| i)
        .collect();
    let mask = ProjectionMask::roots(builder.parquet_schema(), indices);
    let reader = builder.with_projection(mask).build()?;
    let schema = reader.schema();
    let batches = reader.collect::<Result<Vec<_>, _>>()?;
    Ok(arrow::compute::concat_batches(&schema, &batches)?)
}
