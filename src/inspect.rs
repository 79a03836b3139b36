//! Looking at a dataset without writing SQL: `obsgen head` (the first rows of a table)
//! and `obsgen stats` (rows, files and bytes per table, incidents per type, and the share
//! of each table's rows that carry an incident's label).

use crate::error::Error;
use crate::sink::Manifest;
use arrow::array::{AsArray, RecordBatch};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One table of a dataset, from its manifest.
#[derive(Debug, Clone, Serialize)]
pub struct TableStats {
    pub source: String,
    pub table: String,
    pub format: String,
    pub files: u64,
    pub rows: u64,
    pub bytes: u64,
    /// Rows that carry an incident's label (from the table's `labels/records` twin; absent
    /// for the label tables themselves and for JSON Lines, whose rows are the Parquet
    /// table's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labelled: Option<u64>,
    /// `labelled / rows`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label_share: Option<f64>,
}

/// What `obsgen stats` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    pub dataset: String,
    pub seed: u64,
    pub start: String,
    pub end: String,
    pub scale: f64,
    pub incidents_on: bool,
    pub tables: Vec<TableStats>,
    /// Source records (one per row of `labels/records`), and of them those labelled.
    pub records: u64,
    pub labelled_records: u64,
    /// Incidents of the dataset (`labels/incidents`), per type.
    pub incidents: u64,
    pub incidents_per_type: BTreeMap<String, u64>,
}

impl Stats {
    /// Reads the manifest of the dataset in `dir`, its incident table and the label
    /// columns of its `labels/records` files (in parallel).
    pub fn read(dir: &Path) -> Result<Stats, Error> {
        let manifest = crate::dataset::read_manifest(dir)?;
        // The labels twin of each (source, table): its files.
        let twins = crate::dataset::record_files(&manifest, dir);
        let files: Vec<(&(String, String), &PathBuf)> = twins
            .iter()
            .flat_map(|(k, v)| v.iter().map(move |p| (k, p)))
            .collect();
        let counts: Vec<((String, String), u64)> = files
            .par_iter()
            .map(|(k, p)| Ok(((*k).clone(), labelled_rows(p)?)))
            .collect::<Result<_, Error>>()?;
        let mut labelled: BTreeMap<(String, String), u64> = BTreeMap::new();
        for (k, n) in counts {
            *labelled.entry(k).or_default() += n;
        }
        let mut tables = Vec::new();
        let (mut records, mut labelled_records) = (0, 0);
        for t in &manifest.tables {
            let key = (t.source.clone(), t.table.clone());
            let l = (t.format == "parquet")
                .then(|| labelled.get(&key).copied())
                .flatten();
            if t.source == "labels" && t.table == "records" && t.format == "parquet" {
                records += t.rows;
                labelled_records = labelled.values().sum::<u64>();
            }
            tables.push(TableStats {
                source: t.source.clone(),
                table: t.table.clone(),
                format: t.format.clone(),
                files: t.files,
                rows: t.rows,
                bytes: t.bytes,
                labelled: l,
                label_share: l.map(|l| l as f64 / t.rows.max(1) as f64),
            });
        }
        let mut incidents_per_type = BTreeMap::new();
        let incidents_path = dir.join("labels/incidents.parquet");
        let mut incidents = 0;
        if incidents_path.exists() {
            let b = crate::score::truth::read_parquet(&incidents_path)?;
            let types = crate::score::truth::strings(&b, "incident_type")?;
            for t in types.iter().flatten() {
                *incidents_per_type.entry(t.to_string()).or_insert(0) += 1;
                incidents += 1;
            }
        }
        Ok(Stats {
            dataset: dir.display().to_string(),
            seed: manifest.seed,
            start: manifest.start,
            end: manifest.end,
            scale: manifest.scale,
            incidents_on: manifest.incidents,
            tables,
            records,
            labelled_records,
            incidents,
            incidents_per_type,
        })
    }

    /// The report as aligned text.
    pub fn to_text(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{}: seed {}, {} .. {}, scale {}{}",
            self.dataset,
            self.seed,
            self.start,
            self.end,
            self.scale,
            if self.incidents_on {
                ""
            } else {
                " (twin: --incidents off)"
            }
        );
        let _ = writeln!(
            s,
            "{:<36} {:>12} {:>7} {:>14} {:>12} {:>8}",
            "table", "rows", "files", "bytes", "labelled", "share"
        );
        for t in &self.tables {
            let name = match t.format.as_str() {
                "parquet" | "json" => format!("{}/{}", t.source, t.table),
                f => format!("{}/{} ({f})", t.source, t.table),
            };
            let (l, share) = match (t.labelled, t.label_share) {
                (Some(l), Some(p)) => (l.to_string(), format!("{:.2}%", 100.0 * p)),
                _ => (String::new(), String::new()),
            };
            let _ = writeln!(
                s,
                "{:<36} {:>12} {:>7} {:>14} {:>12} {:>8}",
                name, t.rows, t.files, t.bytes, l, share
            );
        }
        let _ = writeln!(
            s,
            "source records: {}, labelled {} ({:.2}%)",
            self.records,
            self.labelled_records,
            100.0 * self.labelled_records as f64 / self.records.max(1) as f64
        );
        let _ = writeln!(s, "incidents: {}", self.incidents);
        for (t, n) in &self.incidents_per_type {
            let _ = writeln!(s, "  {t:<28} {n:>6}");
        }
        s
    }
}

/// Rows of a `labels/records` file with `is_anomaly` true.
fn labelled_rows(path: &Path) -> Result<u64, Error> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)?;
    let Some(i) = builder
        .schema()
        .fields()
        .iter()
        .position(|f| f.name() == "is_anomaly")
    else {
        return Err(Error::Invalid(format!(
            "{}: no is_anomaly column",
            path.display()
        )));
    };
    let mask = ProjectionMask::roots(builder.parquet_schema(), [i]);
    let mut n = 0u64;
    for batch in builder.with_projection(mask).build()? {
        let batch = batch?;
        let c = batch.column(0);
        let Some(b) = c.as_boolean_opt() else {
            return Err(Error::Invalid(format!(
                "{}: is_anomaly is not boolean",
                path.display()
            )));
        };
        n += b.true_count() as u64;
    }
    Ok(n)
}

/// The tables `name` may mean in `m`: `source/table` exactly, or a bare table name of
/// one source.
fn resolve_table(m: &Manifest, name: &str) -> Result<(String, String), Error> {
    let mut known: Vec<(String, String)> = Vec::new();
    for t in &m.tables {
        let k = (t.source.clone(), t.table.clone());
        if t.format == "parquet" && !known.contains(&k) {
            known.push(k);
        }
    }
    let matches: Vec<&(String, String)> = known
        .iter()
        .filter(|(s, t)| match name.split_once('/') {
            Some((ns, nt)) => ns == s && nt == t,
            None => name == t,
        })
        .collect();
    let list = || {
        known
            .iter()
            .map(|(s, t)| format!("{s}/{t}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match matches.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(Error::Invalid(format!(
            "no table `{name}` in this dataset (tables: {})",
            list()
        ))),
        many => Err(Error::Invalid(format!(
            "`{name}` is ambiguous: {}; name it as source/table",
            many.iter()
                .map(|(s, t)| format!("{s}/{t}"))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// The first `n` rows of table `name` (`source/table`, or a table name only one source
/// has) of the dataset in `dir`, in time order (its partitions in order), read from its
/// Parquet files until `n` rows are there.
pub fn head(dir: &Path, name: &str, n: usize) -> Result<Vec<RecordBatch>, Error> {
    let m = crate::dataset::read_manifest(dir)?;
    let (source, table) = resolve_table(&m, name)?;
    let mut files: Vec<&str> = m
        .files
        .iter()
        .filter(|f| f.source == source && f.table == table && f.format == "parquet")
        .map(|f| f.path.as_str())
        .collect();
    files.sort_unstable();
    let mut out = Vec::new();
    let mut left = n;
    for f in files {
        if left == 0 {
            break;
        }
        let path = dir.join(f);
        let file = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)?
            .with_limit(left)
            .with_batch_size(left.clamp(1, 8192))
            .build()?;
        for b in reader {
            let b = b?;
            let b = b.slice(0, b.num_rows().min(left));
            left -= b.num_rows();
            if b.num_rows() > 0 {
                out.push(b);
            }
            if left == 0 {
                break;
            }
        }
    }
    Ok(out)
}

/// `b` with its timestamps' zone named by offset (`UTC` as `+00:00`: arrow formats named
/// zones only with chrono-tz, which obsgen does not build); the values are unchanged.
fn printable(b: &RecordBatch) -> Result<RecordBatch, Error> {
    use arrow::datatypes::{DataType, Field, Schema};
    let mut fields = Vec::new();
    let mut columns = Vec::new();
    for (f, c) in b.schema().fields().iter().zip(b.columns()) {
        match f.data_type() {
            DataType::Timestamp(unit, Some(_)) => {
                let t = DataType::Timestamp(*unit, Some("+00:00".into()));
                let data = c.to_data().into_builder().data_type(t.clone()).build()?;
                columns.push(arrow::array::make_array(data));
                fields.push(Field::new(f.name(), t, f.is_nullable()));
            }
            _ => {
                columns.push(c.clone());
                fields.push(f.as_ref().clone());
            }
        }
    }
    Ok(RecordBatch::try_new(Schema::new(fields).into(), columns)?)
}

/// `batches` as an aligned text table, each value cut to `width` characters (with `…`),
/// nulls empty, one line per row.
pub fn format_table(batches: &[RecordBatch], width: usize) -> Result<String, Error> {
    let Some(first) = batches.first() else {
        return Ok("(no rows)\n".into());
    };
    let schema = first.schema();
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let mut cells: Vec<Vec<String>> = vec![names.iter().map(|n| cut(n, width)).collect()];
    let opts = FormatOptions::default().with_null("");
    for b in batches {
        let b = printable(b)?;
        let fmts = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &opts))
            .collect::<Result<Vec<_>, _>>()?;
        for r in 0..b.num_rows() {
            let row = fmts
                .iter()
                .map(|f| cut(&f.value(r).to_string(), width))
                .collect();
            cells.push(row);
        }
    }
    let widths: Vec<usize> = (0..names.len())
        .map(|c| {
            cells
                .iter()
                .map(|r| r[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut s = String::new();
    for (i, row) in cells.iter().enumerate() {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(v, w)| format!("{v:<w$}"))
            .collect();
        s.push_str(line.join(" | ").trim_end());
        s.push('\n');
        if i == 0 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            s.push_str(&rule.join("-+-"));
            s.push('\n');
        }
    }
    Ok(s)
}

/// `batches` as JSON Lines (one object per row, nulls left out, full values).
pub fn format_json(batches: &[RecordBatch]) -> Result<Vec<u8>, Error> {
    let mut w = arrow::json::LineDelimitedWriter::new(Vec::new());
    for b in batches {
        w.write(&printable(b)?)?;
    }
    w.finish()?;
    Ok(w.into_inner())
}

/// `v` on one line, at most `width` characters.
fn cut(v: &str, width: usize) -> String {
    let v = v.replace(['\n', '\r', '\t'], " ");
    if v.chars().count() <= width {
        return v;
    }
    let mut s: String = v.chars().take(width.saturating_sub(1)).collect();
    s.push('…');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, Int64Array, StringArray};
    use std::sync::Arc;

    #[test]
    fn a_table_prints_aligned_with_cut_values_and_empty_nulls() {
        let b = RecordBatch::try_from_iter([
            (
                "message",
                Arc::new(StringArray::from(vec![
                    Some("short"),
                    Some("a much longer\nmessage"),
                    None,
                ])) as Arc<dyn Array>,
            ),
            (
                "n",
                Arc::new(Int64Array::from(vec![1, 22, 333])) as Arc<dyn Array>,
            ),
        ])
        .unwrap();
        let text = format_table(&[b], 10).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "message    | n");
        assert_eq!(lines[1], "-----------+----");
        assert_eq!(lines[2], "short      | 1");
        assert_eq!(lines[3], "a much lo… | 22");
        assert_eq!(lines[4], "           | 333");
        assert_eq!(format_table(&[], 10).unwrap(), "(no rows)\n");
    }

    #[test]
    fn a_bare_table_name_must_name_one_table() {
        let mut m: Manifest = serde_json::from_str(
            r#"{"generator":"obsgen","version":"0","seed":1,"config_digest":"x","start":"a",
            "end":"b","scale":1.0,"compression":"zstd","sources":[],"tables":[],"files":[]}"#,
        )
        .unwrap();
        for (s, t) in [
            ("kubernetes", "metrics"),
            ("cloudwatch", "metrics"),
            ("sentry", "errors"),
        ] {
            m.tables.push(crate::sink::manifest::TableSummary {
                source: s.into(),
                table: t.into(),
                format: "parquet".into(),
                files: 1,
                rows: 1,
                bytes: 1,
            });
        }
        assert_eq!(
            resolve_table(&m, "errors").unwrap(),
            ("sentry".to_string(), "errors".to_string())
        );
        assert_eq!(
            resolve_table(&m, "cloudwatch/metrics").unwrap(),
            ("cloudwatch".to_string(), "metrics".to_string())
        );
        let e = resolve_table(&m, "metrics").unwrap_err().to_string();
        assert!(
            e.contains("ambiguous") && e.contains("kubernetes/metrics"),
            "{e}"
        );
        let e = resolve_table(&m, "logs").unwrap_err().to_string();
        assert!(
            e.contains("no table `logs`") && e.contains("sentry/errors"),
            "{e}"
        );
    }
}
