//! Parquet writing: one file per (source, table, hour) partition.
//!
//! Each column is encoded once into a buffered column chunk (its pages, compressed) and
//! then spliced into the files that hold it: a partition and its `labels/records` twin
//! carry the same record ids, timestamps, services, template ids and labels, so those
//! chunks are encoded for the partition and copied as bytes into the twin. The columns of
//! a large batch are encoded in parallel. Per column, the writer settings follow the data
//! (see [`ColumnPlan`]): no dictionary and no string statistics for mostly-distinct
//! columns, no compression for chunks too small or too repetitive to gain from it.

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::{
    ArrowColumnChunk, ArrowColumnWriter, ArrowLeafColumn, ArrowWriterOptions, compute_leaves,
};
use parquet::basic::{Compression as PqCompression, GzipLevel, ZstdLevel};
use parquet::column::page_store::{PageKey, PageStore, PageStoreArgs, PageStoreFactory};
use parquet::column::writer::ColumnCloseResult;
use parquet::errors::ParquetError;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::sync::{Arc, Mutex};

use super::checksum::{FileSum, HashWriter};

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

/// How one column is written, decided from its data (an evenly spaced sample of rows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ColumnPlan {
    /// Dictionary encoding: off for mostly-distinct columns (ids, messages, timestamps,
    /// measured values), for which the writer would otherwise hash every value into a
    /// dictionary only to give up on it once the dictionary page is full.
    dictionary: bool,
    /// Min/max statistics: off for mostly-distinct free text (messages, ids other than
    /// the record id), which costs a comparison per value and prunes nothing.
    statistics: bool,
    /// The codec: off for chunks whose plain values are under [`SMALL_CHUNK_BYTES`] and for
    /// dictionary columns of at most [`FEW_DISTINCT`] values (their data pages are a few
    /// bits per row, run-length encoded), where it saves next to nothing and its set-up
    /// costs more than the encoding.
    compress: bool,
}

/// Below this many bytes of plain values a column chunk is not compressed.
const SMALL_CHUNK_BYTES: usize = 4096;
/// Dictionary columns with at most this many distinct values (in the sample) are not
/// compressed.
const FEW_DISTINCT: usize = 16;

impl ColumnPlan {
    fn of(name: &str, col: &dyn Array) -> ColumnPlan {
        const SAMPLE: usize = 512;
        let rows = col.len();
        let plain_bytes = match col.data_type() {
            DataType::Utf8 => {
                let a = col.as_string::<i32>();
                let o = a.value_offsets();
                (o[rows] - o[0]) as usize + 4 * rows
            }
            DataType::Boolean => rows / 8,
            other => other.primitive_width().unwrap_or(8) * rows,
        };
        let mut plan = ColumnPlan {
            dictionary: true,
            statistics: true,
            compress: plain_bytes >= SMALL_CHUNK_BYTES,
        };
        if rows < 256 {
            return plan;
        }
        let step = rows.div_ceil(SAMPLE).max(1);
        let picks = rows.div_ceil(step);
        let (distinct, is_string) = match col.data_type() {
            DataType::Utf8 => {
                let a = col.as_string::<i32>();
                let mut v: Vec<Option<&str>> = (0..rows)
                    .step_by(step)
                    .map(|i| (!a.is_null(i)).then(|| a.value(i)))
                    .collect();
                v.sort_unstable();
                v.dedup();
                (v.len(), true)
            }
            DataType::Int64 | DataType::Timestamp(_, _) | DataType::Float64 => {
                let data = col.to_data();
                let values: &[u64] = data.buffer::<u64>(0);
                let offset = data.offset();
                let mut v: Vec<u64> = (0..rows)
                    .step_by(step)
                    .map(|i| values[offset + i])
                    .collect();
                v.sort_unstable();
                v.dedup();
                (v.len(), false)
            }
            _ => return plan,
        };
        if distinct * 2 > picks {
            plan.dictionary = false;
            plan.statistics = !is_string || name == "record_id";
        } else if distinct <= FEW_DISTINCT {
            plan.compress = false;
        }
        plan
    }
}

/// The writer properties of a set of files: the codec, the row group size and each
/// column's [`ColumnPlan`] (by name; the first array seen under a name decides).
fn writer_properties(
    batches: &[&RecordBatch],
    compression: Compression,
    row_group_rows: usize,
) -> WriterProperties {
    let mut plans: BTreeMap<String, ColumnPlan> = BTreeMap::new();
    for batch in batches {
        for (field, col) in batch.schema().fields().iter().zip(batch.columns()) {
            if !plans.contains_key(field.name()) {
                plans.insert(field.name().clone(), ColumnPlan::of(field.name(), col));
            }
        }
    }
    let mut props = WriterProperties::builder()
        .set_compression(compression.to_parquet())
        .set_max_row_group_row_count(Some(row_group_rows))
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_created_by(format!("obsgen {}", env!("CARGO_PKG_VERSION")));
    for (name, plan) in plans {
        let path = ColumnPath::from(name);
        if !plan.dictionary {
            props = props.set_column_dictionary_enabled(path.clone(), false);
        }
        if !plan.statistics {
            props = props.set_column_statistics_enabled(path.clone(), EnabledStatistics::None);
        }
        if !plan.compress {
            props = props.set_column_compression(path, PqCompression::UNCOMPRESSED);
        }
    }
    props.build()
}

/// One encoded column chunk: its pages in file order (the dictionary page first) and the
/// metadata of the writer that produced them, ready to be spliced into any file whose
/// schema has the same leaf column.
struct EncodedColumn {
    bytes: Bytes,
    close: ColumnCloseResult,
}

/// A page store that keeps every page it is given where the encoder can read it back once
/// the chunk is closed.
#[derive(Debug, Default)]
struct RecordingStores {
    columns: Mutex<BTreeMap<usize, Arc<Mutex<Vec<Bytes>>>>>,
}

struct RecordingStore(Arc<Mutex<Vec<Bytes>>>);

fn poisoned() -> ParquetError {
    ParquetError::General("a column encoder panicked".into())
}

impl PageStore for RecordingStore {
    fn put(&mut self, value: Bytes) -> Result<PageKey, ParquetError> {
        let mut pages = self.0.lock().map_err(|_| poisoned())?;
        pages.push(value);
        Ok(PageKey::new(pages.len() as u64 - 1))
    }

    fn take(&mut self, key: PageKey) -> Result<Bytes, ParquetError> {
        let pages = self.0.lock().map_err(|_| poisoned())?;
        pages
            .get(key.get() as usize)
            .cloned()
            .ok_or_else(|| ParquetError::General(format!("invalid page key {}", key.get())))
    }
}

impl PageStoreFactory for RecordingStores {
    fn create(&self, args: &PageStoreArgs<'_>) -> Result<Box<dyn PageStore>, ParquetError> {
        let pages = Arc::new(Mutex::new(Vec::new()));
        self.columns
            .lock()
            .map_err(|_| poisoned())?
            .insert(args.column_index(), pages.clone());
        Ok(Box::new(RecordingStore(pages)))
    }
}

impl RecordingStores {
    fn take(&self, column: usize) -> Result<Vec<Bytes>, ParquetError> {
        let pages = self
            .columns
            .lock()
            .map_err(|_| poisoned())?
            .remove(&column)
            .ok_or_else(|| ParquetError::General(format!("no pages for column {column}")))?;
        let pages = std::mem::take(&mut *pages.lock().map_err(|_| poisoned())?);
        Ok(pages)
    }
}

/// Lays out a closed chunk's pages as they go into a file: the encoder hands over the
/// dictionary page (header, then values) after the data pages it indexes, or when it
/// falls back to plain encoding; in the file it comes first.
fn encoded_column(
    chunk: ArrowColumnChunk,
    pages: Vec<Bytes>,
) -> Result<EncodedColumn, ParquetError> {
    let close = chunk.close().clone();
    drop(chunk);
    let mut dictionary = None;
    if let Some(offset) = close.metadata.dictionary_page_offset() {
        let mut at = 0i64;
        for (i, page) in pages.iter().enumerate() {
            if at == offset {
                dictionary = Some(i);
                break;
            }
            at += page.len() as i64;
        }
        if dictionary.is_none() || dictionary.is_some_and(|i| i + 1 >= pages.len()) {
            return Err(ParquetError::General(
                "dictionary page not found among the chunk's pages".into(),
            ));
        }
    }
    let total: usize = pages.iter().map(Bytes::len).sum();
    let mut buf = Vec::with_capacity(total);
    let mut dictionary_len = 0;
    if let Some(i) = dictionary {
        for page in &pages[i..i + 2] {
            buf.extend_from_slice(page);
            dictionary_len += page.len();
        }
    }
    for (j, page) in pages.iter().enumerate() {
        if dictionary.is_none_or(|i| j != i && j != i + 1) {
            buf.extend_from_slice(page);
        }
    }
    Ok(EncodedColumn {
        bytes: Bytes::from(buf),
        close: close.update_dictionary_location(dictionary_len)?,
    })
}

/// Encodes `columns` (with their `fields`) as one row group's column chunks: for each
/// column, the chunks of its leaves (one for a flat column). In parallel when there is
/// enough to share.
fn encode_columns(
    fields: Vec<Field>,
    columns: &[ArrayRef],
    props: &WriterProperties,
) -> Result<Vec<Vec<EncodedColumn>>, ParquetError> {
    if fields.is_empty() {
        return Ok(Vec::new());
    }
    let schema = Arc::new(Schema::new(fields));
    let stores = Arc::new(RecordingStores::default());
    let options = ArrowWriterOptions::new()
        .with_properties(props.clone())
        .with_skip_arrow_metadata(true)
        .with_page_store_factory(stores.clone());
    let (_scratch, factory) =
        ArrowWriter::try_new_with_options(std::io::sink(), schema.clone(), options)?
            .into_serialized_writer()?;
    let mut writers = factory.create_column_writers(0)?.into_iter().enumerate();
    // (column, leaf index, writer, leaf data), leaves in schema order.
    let mut work = Vec::with_capacity(writers.len());
    for (c, col) in columns.iter().enumerate() {
        for leaf in compute_leaves(schema.field(c), col)? {
            let (i, writer) = writers
                .next()
                .ok_or_else(|| ParquetError::General("fewer column writers than leaves".into()))?;
            work.push((c, i, writer, leaf));
        }
    }
    let encode = |(c, i, mut writer, leaf): (usize, usize, ArrowColumnWriter, ArrowLeafColumn)| {
        writer.write(&leaf)?;
        let chunk = writer.close()?;
        Ok((c, encoded_column(chunk, stores.take(i)?)?))
    };
    let rows = columns[0].len();
    let encoded: Vec<(usize, EncodedColumn)> = if rows >= PARALLEL_ROWS {
        work.into_par_iter()
            .map(encode)
            .collect::<Result<_, ParquetError>>()?
    } else {
        work.into_iter()
            .map(encode)
            .collect::<Result<_, ParquetError>>()?
    };
    let mut out: Vec<Vec<EncodedColumn>> = (0..columns.len()).map(|_| Vec::new()).collect();
    for (c, e) in encoded {
        out[c].push(e);
    }
    Ok(out)
}

/// Batches of at least this many rows encode their columns in parallel.
const PARALLEL_ROWS: usize = 8192;

/// Writes each `(path, batch)` of `files` as a Parquet file, atomically (into
/// [`super::temp_path`], `.NAME.tmp`, then renamed), and returns their sizes and
/// checksums. A column that a later file shares with an earlier one (the same field
/// holding the very same array) is encoded once and its chunk copied.
pub fn write_parquet_files(
    files: &[(&Path, &RecordBatch)],
    compression: Compression,
    row_group_rows: usize,
) -> Result<Vec<FileSum>, crate::Error> {
    let batches: Vec<&RecordBatch> = files.iter().map(|(_, b)| *b).collect();
    let rows = batches.first().map_or(0, |b| b.num_rows());
    if batches.iter().any(|b| b.num_rows() != rows) {
        return Err(crate::Error::Other(
            "files written together must have the same rows".into(),
        ));
    }
    let props = writer_properties(&batches, compression, row_group_rows.max(1));
    // Row groups of every file: for each, the encoded chunks of each file's columns.
    let mut groups: Vec<Vec<Vec<Arc<Vec<EncodedColumn>>>>> = Vec::new();
    let mut start = 0;
    while start < rows {
        let len = row_group_rows.max(1).min(rows - start);
        // The distinct (field, array) pairs to encode, in order of first appearance.
        let mut unique: Vec<(Field, ArrayRef)> = Vec::new();
        let mut index: Vec<Vec<usize>> = Vec::new();
        for batch in &batches {
            let mut of_file = Vec::new();
            for (field, col) in batch.schema().fields().iter().zip(batch.columns()) {
                let same = unique.iter().position(|(f, c)| {
                    f == field.as_ref()
                        && std::ptr::eq(Arc::as_ptr(c) as *const u8, Arc::as_ptr(col) as *const u8)
                });
                of_file.push(same.unwrap_or_else(|| {
                    unique.push((field.as_ref().clone(), col.clone()));
                    unique.len() - 1
                }));
            }
            index.push(of_file);
        }
        let (fields, columns): (Vec<Field>, Vec<ArrayRef>) = unique
            .into_iter()
            .map(|(f, c)| (f, if len == rows { c } else { c.slice(start, len) }))
            .unzip();
        let encoded: Vec<Arc<Vec<EncodedColumn>>> = encode_columns(fields, &columns, &props)?
            .into_iter()
            .map(Arc::new)
            .collect();
        groups.push(
            index
                .iter()
                .map(|cols| cols.iter().map(|&u| encoded[u].clone()).collect())
                .collect(),
        );
        start += len;
    }
    files
        .iter()
        .enumerate()
        .map(|(f, (path, batch))| {
            let chunks: Vec<&[Arc<Vec<EncodedColumn>>]> =
                groups.iter().map(|g| g[f].as_slice()).collect();
            write_file(path, batch.schema(), &props, &chunks)
        })
        .collect()
}

/// Writes one Parquet file from encoded row groups, atomically; returns its size and checksum.
fn write_file(
    path: &Path,
    schema: SchemaRef,
    props: &WriterProperties,
    row_groups: &[&[Arc<Vec<EncodedColumn>>]],
) -> Result<FileSum, crate::Error> {
    let tmp = super::temp_path(path);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| crate::Error::io(dir, e))?;
    }
    // Parquet errors name the file (a full disk shows up as one).
    let at = |e: ParquetError| crate::Error::Other(format!("{}: parquet: {e}", tmp.display()));
    let result = (|| -> Result<FileSum, crate::Error> {
        let file = File::create(&tmp).map_err(|e| crate::Error::io(&tmp, e))?;
        let options = ArrowWriterOptions::new().with_properties(props.clone());
        let mut writer = ArrowWriter::try_new_with_options(
            BufWriter::with_capacity(64 << 10, HashWriter::new(file)),
            schema,
            options,
        )
        .and_then(|w| w.into_serialized_writer())
        .map_err(at)?
        .0;
        for chunks in row_groups {
            let mut group = writer.next_row_group().map_err(at)?;
            for chunk in chunks.iter().flat_map(|column| column.iter()) {
                group
                    .append_column(&chunk.bytes, chunk.close.clone())
                    .map_err(at)?;
            }
            group.close().map_err(at)?;
        }
        let buf = writer.into_inner().map_err(at)?;
        let hashed = buf
            .into_inner()
            .map_err(|e| crate::Error::io(&tmp, e.into_error()))?;
        Ok(hashed.into_parts().1)
    })();
    super::settle(&tmp, path, result)
}

/// A Parquet file written batch by batch (atomically: into `.NAME.tmp`, renamed by
/// [`ParquetStream::finish`]), for tables too long to hold whole (a year's incidents and
/// edges). The column plans (dictionary, statistics, compression) come from the first
/// batch.
pub struct ParquetStream {
    path: std::path::PathBuf,
    schema: SchemaRef,
    compression: Compression,
    row_group_rows: usize,
    writer: Option<ArrowWriter<BufWriter<HashWriter<File>>>>,
}

impl ParquetStream {
    pub fn new(
        path: &Path,
        schema: SchemaRef,
        compression: Compression,
        row_group_rows: usize,
    ) -> ParquetStream {
        ParquetStream {
            path: path.to_path_buf(),
            schema,
            compression,
            row_group_rows: row_group_rows.max(1),
            writer: None,
        }
    }

    fn at(&self, e: ParquetError) -> crate::Error {
        crate::Error::Other(format!(
            "{}: parquet: {e}",
            super::temp_path(&self.path).display()
        ))
    }

    fn open(&mut self, first: &RecordBatch) -> Result<(), crate::Error> {
        let tmp = super::temp_path(&self.path);
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| crate::Error::io(dir, e))?;
        }
        let file = File::create(&tmp).map_err(|e| crate::Error::io(&tmp, e))?;
        let props = writer_properties(&[first], self.compression, self.row_group_rows);
        let writer = ArrowWriter::try_new_with_options(
            BufWriter::with_capacity(64 << 10, HashWriter::new(file)),
            self.schema.clone(),
            ArrowWriterOptions::new().with_properties(props),
        )
        .map_err(|e| self.at(e))?;
        self.writer = Some(writer);
        Ok(())
    }

    /// Appends `batch` (of the stream's schema).
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), crate::Error> {
        if self.writer.is_none() {
            self.open(batch)?;
        }
        let result = match self.writer.as_mut() {
            Some(w) => w.write(batch),
            None => return Ok(()),
        };
        result.map_err(|e| self.abort(e))
    }

    /// Removes the temporary file after a failure; the error to return.
    fn abort(&mut self, e: ParquetError) -> crate::Error {
        self.writer = None;
        let _ = std::fs::remove_file(super::temp_path(&self.path));
        self.at(e)
    }

    /// Completes the file (an empty table when nothing was written) and renames it into
    /// place; its size and checksum.
    pub fn finish(mut self) -> Result<FileSum, crate::Error> {
        if self.writer.is_none() {
            self.open(&RecordBatch::new_empty(self.schema.clone()))?;
        }
        let Some(writer) = self.writer.take() else {
            return Err(crate::Error::Other("parquet stream not open".into()));
        };
        let tmp = super::temp_path(&self.path);
        let result = writer.into_inner().map_err(|e| self.at(e)).and_then(|buf| {
            buf.into_inner()
                .map(|hashed| hashed.into_parts().1)
                .map_err(|e| crate::Error::io(&tmp, e.into_error()))
        });
        super::settle(&tmp, &self.path, result)
    }
}

/// Writes `batch` to `path` atomically: into `.NAME.tmp`, then renamed. Returns the size
/// and checksum of the file.
pub fn write_parquet(
    path: &Path,
    batch: &RecordBatch,
    compression: Compression,
    row_group_rows: usize,
) -> Result<FileSum, crate::Error> {
    Ok(write_parquet_files(&[(path, batch)], compression, row_group_rows)?[0])
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{
        BooleanArray, Int64Array, ListBuilder, StringArray, StringBuilder, new_null_array,
    };
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use parquet::file::reader::{FileReader, SerializedFileReader};

    fn read(path: &Path) -> RecordBatch {
        let file = File::open(path).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .with_batch_size(1 << 20)
            .build()
            .unwrap();
        let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
        arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap()
    }

    /// A batch with the kinds of columns the tables have: unique ids, low-cardinality and
    /// nullable strings, a column that overflows its dictionary page half-way (the
    /// encoder falls back to plain encoding), numbers, booleans and a list.
    fn sample(rows: usize) -> RecordBatch {
        let ids =
            StringArray::from_iter_values((0..rows).map(|i| format!("kpl-2026112302-{i:07}")));
        let level =
            StringArray::from_iter_values((0..rows).map(|i| ["info", "warn", "error"][i % 3]));
        let incident = StringArray::from_iter(
            (0..rows).map(|i| (i % 7 == 0).then(|| format!("inc-{:03}", i % 5))),
        );
        // One row in three is distinct and 100 bytes long: the dictionary keeps it (the
        // sample is not mostly distinct) until the dictionary page (1 MiB) is full.
        let mixed = StringArray::from_iter_values((0..rows).map(|i| {
            if i % 3 == 0 {
                format!("{i:0100}")
            } else {
                "same".to_string()
            }
        }));
        let value = Int64Array::from_iter_values((0..rows as i64).map(|i| i * 7919 % 1000));
        let flag = BooleanArray::from_iter((0..rows).map(|i| Some(i % 11 == 0)));
        let mut tags = ListBuilder::new(StringBuilder::new());
        for i in 0..rows {
            for t in 0..(i % 3) {
                tags.values().append_value(format!("t{t}"));
            }
            tags.append(i % 13 != 0);
        }
        RecordBatch::try_from_iter_with_nullable(vec![
            ("record_id", Arc::new(ids) as ArrayRef, false),
            ("level", Arc::new(level) as ArrayRef, false),
            ("incident_id", Arc::new(incident) as ArrayRef, true),
            ("mixed", Arc::new(mixed) as ArrayRef, false),
            ("value", Arc::new(value) as ArrayRef, false),
            ("is_anomaly", Arc::new(flag) as ArrayRef, false),
            ("tags", Arc::new(tags.finish()) as ArrayRef, true),
        ])
        .unwrap()
    }

    /// A projection of `batch` that shares three of its arrays and adds two of its own,
    /// like a partition's labels twin.
    fn twin(batch: &RecordBatch) -> RecordBatch {
        let n = batch.num_rows();
        RecordBatch::try_from_iter_with_nullable(vec![
            ("record_id", batch.column(0).clone(), false),
            (
                "source",
                Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
                    "kubernetes",
                    n,
                ))) as ArrayRef,
                false,
            ),
            ("incident_id", batch.column(2).clone(), true),
            ("template_id", new_null_array(&DataType::Utf8, n), true),
            ("tags", batch.column(6).clone(), true),
        ])
        .unwrap()
    }

    #[test]
    fn files_written_together_read_back_equal_to_their_batches() {
        let dir = tempfile::tempdir().unwrap();
        for (rows, row_group_rows) in [(0, 65536), (100, 65536), (50_000, 65536), (50_000, 16_384)]
        {
            let batch = sample(rows);
            let labels = twin(&batch);
            let a = dir
                .path()
                .join(format!("a-{rows}-{row_group_rows}.parquet"));
            let b = dir
                .path()
                .join(format!("b-{rows}-{row_group_rows}.parquet"));
            let sizes = write_parquet_files(
                &[(&a, &batch), (&b, &labels)],
                Compression::Zstd(1),
                row_group_rows,
            )
            .unwrap();
            assert_eq!(sizes[0].bytes, std::fs::metadata(&a).unwrap().len());
            assert_eq!(sizes[0], super::super::checksum::hash_file(&a).unwrap());
            assert_eq!(sizes[1], super::super::checksum::hash_file(&b).unwrap());
            if rows == 0 {
                continue;
            }
            assert_eq!(read(&a), batch, "{rows} rows");
            assert_eq!(read(&b), labels, "{rows} rows");
            let meta = SerializedFileReader::new(File::open(&a).unwrap()).unwrap();
            assert_eq!(
                meta.metadata().num_row_groups(),
                rows.div_ceil(row_group_rows)
            );
            if row_group_rows == 65536 && rows == 50_000 {
                // 16.7K distinct values of 100 bytes overflow the dictionary: its page is
                // written mid-chunk and the rest of the chunk is plain.
                use parquet::column::page::Page;
                let pages: Vec<Page> = meta
                    .get_row_group(0)
                    .unwrap()
                    .get_column_page_reader(3)
                    .unwrap()
                    .map(|p| p.unwrap())
                    .collect();
                assert!(matches!(pages[0], Page::DictionaryPage { .. }));
                let encodings: Vec<_> = pages.iter().map(|p| p.encoding()).collect();
                assert!(encodings.contains(&parquet::basic::Encoding::RLE_DICTIONARY));
                assert!(encodings[1..].contains(&parquet::basic::Encoding::PLAIN));
                let mixed = meta.metadata().row_group(0).column(3);
                assert!(mixed.dictionary_page_offset().is_some());
            }
        }
    }

    #[test]
    fn a_shared_column_is_the_same_bytes_in_both_files_and_single_writes_match() {
        let dir = tempfile::tempdir().unwrap();
        let batch = sample(30_000);
        let labels = twin(&batch);
        let a = dir.path().join("a.parquet");
        let b = dir.path().join("b.parquet");
        write_parquet_files(&[(&a, &batch), (&b, &labels)], Compression::Zstd(1), 65536).unwrap();
        let chunk = |path: &Path, column: usize| {
            let reader = SerializedFileReader::new(File::open(path).unwrap()).unwrap();
            let meta = reader.metadata().row_group(0).column(column).clone();
            let (start, len) = meta.byte_range();
            let bytes = std::fs::read(path).unwrap();
            (
                bytes[start as usize..(start + len) as usize].to_vec(),
                meta.compression(),
                meta.statistics().cloned(),
            )
        };
        assert_eq!(chunk(&a, 0), chunk(&b, 0), "record_id");
        assert_eq!(chunk(&a, 2), chunk(&b, 2), "incident_id");
        // Written alone, each file decodes to the same batch.
        let c = dir.path().join("c.parquet");
        write_parquet(&c, &labels, Compression::Zstd(1), 65536).unwrap();
        assert_eq!(read(&c), read(&b));
        // Written twice, the bytes are identical (parallel encoding is deterministic).
        let d = dir.path().join("d.parquet");
        write_parquet(&d, &batch, Compression::Zstd(1), 65536).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&d).unwrap());
    }

    #[test]
    fn column_plans_follow_the_data() {
        let batch = sample(30_000);
        let plan = |c: usize| ColumnPlan::of(batch.schema().field(c).name(), batch.column(c));
        // Unique ids: plain, statistics kept for the record id, compressed.
        assert_eq!(
            plan(0),
            ColumnPlan {
                dictionary: false,
                statistics: true,
                compress: true
            }
        );
        // Three levels: dictionary, no codec.
        assert_eq!(
            plan(1),
            ColumnPlan {
                dictionary: true,
                statistics: true,
                compress: false
            }
        );
        // A small batch: nothing to sample, too small to compress.
        let small = sample(100);
        assert!(!ColumnPlan::of("level", small.column(1)).compress);
    }

    #[test]
    fn a_stream_reads_back_as_its_batches_in_row_groups_of_the_configured_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stream.parquet");
        let whole = sample(10_000);
        let mut stream = ParquetStream::new(&path, whole.schema(), Compression::Zstd(1), 4096);
        for (start, len) in [(0, 3000), (3000, 5000), (8000, 2000)] {
            stream.write(&whole.slice(start, len)).unwrap();
        }
        assert!(super::super::temp_path(&path).exists(), "written aside");
        assert!(!path.exists(), "renamed only when finished");
        let sum = stream.finish().unwrap();
        assert!(!super::super::temp_path(&path).exists());
        assert_eq!(sum, super::super::checksum::hash_file(&path).unwrap());
        assert_eq!(read(&path), whole);
        let reader = SerializedFileReader::new(File::open(&path).unwrap()).unwrap();
        let groups: Vec<i64> = reader
            .metadata()
            .row_groups()
            .iter()
            .map(|g| g.num_rows())
            .collect();
        assert_eq!(groups, [4096, 4096, 1808]);
        // A single batch streamed is the file write_parquet writes.
        let one = dir.path().join("one.parquet");
        let mut stream = ParquetStream::new(&one, whole.schema(), Compression::Zstd(1), 65536);
        stream.write(&whole).unwrap();
        let streamed = stream.finish().unwrap();
        let whole_file = dir.path().join("whole.parquet");
        assert_eq!(
            streamed,
            write_parquet(&whole_file, &whole, Compression::Zstd(1), 65536).unwrap()
        );
    }

    #[test]
    fn an_empty_stream_is_an_empty_table_of_its_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.parquet");
        let schema = sample(10).schema();
        ParquetStream::new(&path, schema.clone(), Compression::Zstd(1), 4096)
            .finish()
            .unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap()).unwrap();
        assert_eq!(reader.schema().fields(), schema.fields());
        let rows: usize = reader.build().unwrap().map(|b| b.unwrap().num_rows()).sum();
        assert_eq!(rows, 0);
    }
}
