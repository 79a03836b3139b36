//! Reading a predictions file: Parquet, CSV (header row, every column read as text and
//! converted by the scorer) or JSON Lines (types inferred from the values), by extension.

use crate::error::Error;
use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema};
use std::io::{BufRead, BufReader, Seek};
use std::path::Path;
use std::sync::Arc;

/// A predictions file as one batch.
pub fn read_predictions(path: &Path) -> Result<RecordBatch, Error> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let open = || std::fs::File::open(path).map_err(|e| Error::io(path, e));
    let batches: Vec<RecordBatch> = match ext.as_str() {
        "parquet" => {
            let reader =
                parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(open()?)?
                    .build()?;
            reader.collect::<Result<_, _>>()?
        }
        "csv" => {
            let mut header = String::new();
            BufReader::new(open()?)
                .read_line(&mut header)
                .map_err(|e| Error::io(path, e))?;
            let names = split_header(header.trim_end_matches(['\r', '\n']));
            if names.is_empty() || names.iter().any(String::is_empty) {
                return Err(Error::Invalid(format!(
                    "{}: the first line must name the columns",
                    path.display()
                )));
            }
            let schema = Arc::new(Schema::new(
                names
                    .iter()
                    .map(|n| Field::new(n, DataType::Utf8, true))
                    .collect::<Vec<_>>(),
            ));
            arrow::csv::ReaderBuilder::new(schema)
                .with_header(true)
                .build(open()?)?
                .collect::<Result<_, _>>()?
        }
        "jsonl" | "ndjson" | "json" => {
            let mut file = BufReader::new(open()?);
            let (schema, _) =
                arrow::json::reader::infer_json_schema_from_seekable(&mut file, None)?;
            file.rewind().map_err(|e| Error::io(path, e))?;
            arrow::json::ReaderBuilder::new(Arc::new(schema))
                .build(file)?
                .collect::<Result<_, _>>()?
        }
        _ => {
            return Err(Error::Invalid(format!(
                "{}: unknown predictions format (use .parquet, .csv or .jsonl)",
                path.display()
            )));
        }
    };
    let schema = match batches.first() {
        Some(b) => b.schema(),
        None => Arc::new(Schema::empty()),
    };
    Ok(arrow::compute::concat_batches(&schema, &batches)?)
}

/// The names of a CSV header line (RFC 4180 quoting).
fn split_header(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out.iter().map(|s| s.trim().to_string()).collect()
}

/// Whether the batch has column `name`.
pub fn has(b: &RecordBatch, name: &str) -> bool {
    b.column_by_name(name).is_some()
}

/// Column `name` cast to `to` (`what` the values must be, for the error).
fn cast_column(b: &RecordBatch, name: &str, to: &DataType, what: &str) -> Result<ArrayRef, Error> {
    arrow::compute::cast(column(b, name)?, to)
        .map_err(|e| Error::Invalid(format!("column `{name}`: not {what} ({e})")))
}

/// A numeric column as f64 (from numbers or text); nulls as `None`.
pub fn floats(b: &RecordBatch, name: &str) -> Result<Vec<Option<f64>>, Error> {
    let c = cast_column(b, name, &DataType::Float64, "numbers")?;
    Ok(c.as_primitive::<arrow::datatypes::Float64Type>()
        .iter()
        .collect())
}

/// An integer column (from numbers or text).
pub fn integers(b: &RecordBatch, name: &str) -> Result<Vec<Option<i64>>, Error> {
    let c = cast_column(b, name, &DataType::Int64, "integers")?;
    Ok(c.as_primitive::<arrow::datatypes::Int64Type>()
        .iter()
        .collect())
}

/// A boolean column (from booleans or the text `true` / `false`, `1` / `0`).
pub fn booleans(b: &RecordBatch, name: &str) -> Result<Vec<Option<bool>>, Error> {
    let c = cast_column(b, name, &DataType::Boolean, "booleans")?;
    Ok(c.as_boolean().iter().collect())
}

/// A text column; nulls and empty strings as `None`.
pub fn texts(b: &RecordBatch, name: &str) -> Result<Vec<Option<String>>, Error> {
    let c = crate::score::truth::strings(b, name)?;
    Ok(c.iter()
        .map(|v| v.filter(|s| !s.is_empty()).map(str::to_string))
        .collect())
}

fn column<'a>(b: &'a RecordBatch, name: &str) -> Result<&'a Arc<dyn Array>, Error> {
    b.column_by_name(name).ok_or_else(|| {
        Error::Invalid(format!(
            "the predictions have no column `{name}` (columns: {})",
            b.schema()
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_header_quoting() {
        assert_eq!(split_header("a,\"b,c\", d"), vec!["a", "b,c", "d"]);
        assert_eq!(split_header("\"x\"\"y\""), vec!["x\"y"]);
    }

    #[test]
    fn the_three_formats_read_alike() {
        let dir = tempfile::tempdir().expect("tempdir");
        let csv = dir.path().join("p.csv");
        std::fs::write(
            &csv,
            "record_id,score,is_anomaly\nkpl-1,0.5,true\nkpl-2,,false\n",
        )
        .expect("write");
        let json = dir.path().join("p.jsonl");
        std::fs::write(
            &json,
            "{\"record_id\":\"kpl-1\",\"score\":0.5,\"is_anomaly\":true}\n{\"record_id\":\"kpl-2\",\"is_anomaly\":false}\n",
        )
        .expect("write");
        for p in [&csv, &json] {
            let b = read_predictions(p).expect("read");
            assert_eq!(b.num_rows(), 2);
            assert_eq!(
                texts(&b, "record_id").expect("ids"),
                vec![Some("kpl-1".to_string()), Some("kpl-2".to_string())]
            );
            assert_eq!(floats(&b, "score").expect("scores"), vec![Some(0.5), None]);
            assert_eq!(
                booleans(&b, "is_anomaly").expect("flags"),
                vec![Some(true), Some(false)]
            );
            assert!(floats(&b, "nope").is_err());
        }
        let bad = dir.path().join("p.txt");
        std::fs::write(&bad, "x").expect("write");
        assert!(read_predictions(&bad).is_err());
    }
}
