//! Sources and their tables. Each table renders one hour partition from the world plan.

pub mod cloudwatch;
pub mod grafana;
pub mod kubernetes;
pub mod native;
pub mod sentry;
pub mod text;

use crate::error::Error;
use crate::labels::{Label, LabelBuilders, label_fields};
use crate::sink::JsonLines;
use crate::time::{Micros, civil};
use crate::world::World;
use arrow::array::{ArrayRef, StringBuilder, TimestampMicrosecondBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use std::fmt::Write as _;
use std::sync::Arc;

/// The four observability sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    Kubernetes,
    Sentry,
    Cloudwatch,
    Grafana,
}

impl Source {
    pub const ALL: [Source; 4] = [
        Source::Kubernetes,
        Source::Sentry,
        Source::Cloudwatch,
        Source::Grafana,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Source::Kubernetes => "kubernetes",
            Source::Sentry => "sentry",
            Source::Cloudwatch => "cloudwatch",
            Source::Grafana => "grafana",
        }
    }

    pub fn parse(s: &str) -> Option<Source> {
        Source::ALL
            .into_iter()
            .find(|x| x.as_str() == s.trim().to_ascii_lowercase())
    }
}

/// One output table: its schema, and how to render an hour of it.
pub trait Table: Send + Sync {
    fn source(&self) -> Source;
    fn name(&self) -> &'static str;
    /// Short code used in record ids (`kpl` for kubernetes/pod_logs...).
    fn code(&self) -> &'static str;
    fn schema(&self) -> SchemaRef;
    /// Renders the rows whose timestamps fall in `[hour, hour + 1h)`, sorted by time.
    fn render(&self, world: &World, hour: Micros) -> Result<RecordBatch, ArrowError>;
    /// Writes `batch` (this table's render of `hour`) as the real system delivers it, in
    /// its own JSON shape, one JSON Lines record per record (or per group of records
    /// where the system groups them). No label goes into the payload; each line carries
    /// the record id as the format's own id or a top-level `_record_id`.
    fn write_native(
        &self,
        world: &World,
        hour: Micros,
        batch: &RecordBatch,
        out: &mut JsonLines,
    ) -> Result<(), Error>;
}

/// Every table obsgen knows, in a fixed order.
pub fn registry() -> Vec<Box<dyn Table>> {
    vec![
        Box::new(kubernetes::PodLogs),
        Box::new(kubernetes::Events),
        Box::new(kubernetes::Metrics),
        Box::new(sentry::Errors),
        Box::new(sentry::Transactions),
        Box::new(cloudwatch::Metrics),
        Box::new(cloudwatch::Logs),
        Box::new(cloudwatch::Alarms),
        Box::new(cloudwatch::InsightsQueries),
        Box::new(grafana::PanelSeries),
        Box::new(grafana::Annotations),
    ]
}

/// `Timestamp(Microsecond, "UTC")`.
pub fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// Builds a table schema: the common leading columns, the table's own, then the labels.
pub fn table_schema(own: Vec<Field>) -> SchemaRef {
    let mut fields = vec![
        Field::new("record_id", DataType::Utf8, false),
        Field::new("timestamp", timestamp_type(), false),
        Field::new("service", DataType::Utf8, false),
    ];
    fields.extend(own);
    fields.extend(label_fields());
    Arc::new(Schema::new(fields))
}

/// Builders for the columns every table shares (`record_id`, `timestamp`, `service`, labels).
///
/// A record id is `<code>-<YYYYMMDDHH>-<16 hex digits>`: the table's code, the partition's
/// hour and a 64-bit key of what the row is (an entity and its own sequence or time, see
/// each table's `record_id` in `schemas/`), never a row number. So a row keeps its id
/// when an incident adds or removes other rows, and the rows of a run and of its
/// counterfactual twin (`--incidents off`) line up by `record_id`.
pub struct CommonColumns {
    /// `<code>-<YYYYMMDDHH>-`, followed by the row's key in `append`.
    id: String,
    id_prefix: usize,
    record_id: StringBuilder,
    timestamp: TimestampMicrosecondBuilder,
    service: StringBuilder,
    labels: LabelBuilders,
    rows: usize,
}

impl CommonColumns {
    pub fn new(code: &'static str, hour: Micros, rows: usize) -> Self {
        let c = civil(hour);
        let mut id = String::with_capacity(32);
        let _ = write!(
            id,
            "{code}-{:04}{:02}{:02}{:02}-",
            c.year, c.month, c.day, c.hour
        );
        CommonColumns {
            id_prefix: id.len(),
            id,
            record_id: StringBuilder::with_capacity(rows, rows * 31),
            timestamp: TimestampMicrosecondBuilder::with_capacity(rows).with_timezone("UTC"),
            service: StringBuilder::with_capacity(rows, rows * 14),
            labels: LabelBuilders::with_capacity(rows),
            rows: 0,
        }
    }

    /// Appends the shared columns of the next row, whose identity is `key` (a stable
    /// key of what the row is, unique within the partition).
    #[inline]
    pub fn append(&mut self, ts: Micros, key: u64, service: &str, label: &Label) {
        self.id.truncate(self.id_prefix);
        text::hex16(&mut self.id, key);
        self.record_id.append_value(&self.id);
        self.timestamp.append_value(ts);
        self.service.append_value(service);
        self.labels.append(label);
        self.rows += 1;
    }

    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Assembles the batch: common columns, `own` columns, labels.
    pub fn finish(
        mut self,
        schema: SchemaRef,
        own: Vec<ArrayRef>,
    ) -> Result<RecordBatch, ArrowError> {
        let mut cols: Vec<ArrayRef> = vec![
            Arc::new(self.record_id.finish()),
            Arc::new(self.timestamp.finish()),
            Arc::new(self.service.finish()),
        ];
        cols.extend(own);
        cols.extend(self.labels.finish());
        RecordBatch::try_new(schema, cols)
    }
}
