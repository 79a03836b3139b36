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
use crate::world::{Visit, World};
use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::compute::kernels::zip::zip;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use std::collections::HashMap;
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

/// The sources `names` name (each once, in registry order), or every source of the
/// registry when `names` is `None`; an error names an unknown source.
pub fn select_sources(names: Option<&[String]>) -> Result<Vec<Source>, String> {
    let registry = registry();
    let mut v: Vec<Source> = Vec::new();
    match names {
        None => v.extend(registry.iter().map(|t| t.source())),
        Some(names) => {
            for n in names {
                let src = Source::parse(n).ok_or_else(|| {
                    format!("unknown source `{n}` (kubernetes, sentry, cloudwatch, grafana)")
                })?;
                if !registry.iter().any(|t| t.source() == src) {
                    return Err(format!(
                        "source `{n}` is not implemented yet in this version"
                    ));
                }
                v.push(src);
            }
        }
    }
    v.sort();
    v.dedup();
    Ok(v)
}

/// The tables `names` name (`source/table`, or a table name only one source has) as their
/// sources and their qualified names (sorted); an error names the unknown or ambiguous one.
pub fn select_tables(names: &[String]) -> Result<(Vec<Source>, Vec<String>), String> {
    let registry = registry();
    let qualified = |t: &dyn Table| format!("{}/{}", t.source().as_str(), t.name());
    let mut sources = Vec::new();
    let mut tables: Vec<String> = Vec::new();
    for name in names {
        let matching: Vec<&dyn Table> = registry
            .iter()
            .map(|t| t.as_ref())
            .filter(|t| match name.split_once('/') {
                Some((s, n)) => s == t.source().as_str() && n == t.name(),
                None => name == t.name(),
            })
            .collect();
        let t = match matching.as_slice() {
            [one] => *one,
            [] => {
                let all: Vec<String> = registry.iter().map(|t| qualified(t.as_ref())).collect();
                return Err(format!(
                    "unknown table `{name}` (tables: {})",
                    all.join(", ")
                ));
            }
            many => {
                let names: Vec<String> = many.iter().map(|t| qualified(*t)).collect();
                return Err(format!(
                    "`{name}` is ambiguous ({}): name it as source/table",
                    names.join(", ")
                ));
            }
        };
        let q = qualified(t);
        if !tables.contains(&q) {
            tables.push(q);
        }
        if !sources.contains(&t.source()) {
            sources.push(t.source());
        }
    }
    sources.sort();
    tables.sort();
    Ok((sources, tables))
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

/// Whether row `i` of `a` and row `j` of `b` (batches of one table) hold the same values
/// in every column but the labels (the trailing columns): how a source that renders a
/// row as its counterfactual twin would have written it tells whether an incident
/// changed the row.
pub fn same_row(a: &RecordBatch, i: usize, b: &RecordBatch, j: usize) -> bool {
    let own = a.num_columns() - label_fields().len();
    a.columns()[..own]
        .iter()
        .zip(b.columns())
        .all(|(x, y)| x.slice(i, 1).to_data() == y.slice(j, 1).to_data())
}

/// Takes the label off the rows that the counterfactual twin writes the same: a row
/// carries an incident only where the incident changed it (the label contract), and an
/// incident can change a visit in ways a row does not show (a call's timing that ends
/// after the event, how a request failed when it failed in the twin too).
///
/// `rows` are the planned rows, `labels` theirs, `visit_of` the request visit a row shows
/// (rows of no visit keep their label); `twin_row` plans, from the visits as the twin has
/// them, the twin's row of the same identity in this partition (`None` when the twin has
/// none there), and `render` writes rows of given labels. The twin's trace is known only
/// where no call found its dependency without a pod ([`Visit::lost_call`]): those rows
/// keep their label.
pub fn unlabel_unchanged<R: Copy>(
    visits: &[Visit],
    rows: &[R],
    labels: &mut [Label],
    visit_of: impl Fn(&R) -> Option<usize>,
    mut twin_row: impl FnMut(&[Visit], &R) -> Option<R>,
    render: impl Fn(&[Visit], &[R], &[Label]) -> Result<RecordBatch, ArrowError>,
) -> Result<(), ArrowError> {
    let marked = |i: &usize| {
        !labels[*i].is_normal() && visit_of(&rows[*i]).is_some_and(|v| !visits[v].lost_call)
    };
    if !(0..rows.len()).any(|i| marked(&i)) {
        return Ok(());
    }
    let twin: Vec<Visit> = visits.iter().map(Visit::as_twin).collect();
    let (mut at, mut run, mut other) = (Vec::new(), Vec::new(), Vec::new());
    for i in (0..rows.len()).filter(marked) {
        if let Some(t) = twin_row(&twin, &rows[i]) {
            at.push(i);
            run.push(rows[i]);
            other.push(t);
        }
    }
    let normal = vec![Label::NORMAL; at.len()];
    let a = render(visits, &run, &normal)?;
    let b = render(&twin, &other, &normal)?;
    for (k, &i) in at.iter().enumerate() {
        if same_row(&a, k, &b, k) {
            labels[i] = Label::NORMAL;
        }
    }
    Ok(())
}

/// Takes the label off the rows of `batch` (rendered by `table` for `hour`) that the
/// counterfactual twin of the hour renders the same: a row of the same `record_id` with
/// every other column equal. For tables of few rows whose view of an incident cannot
/// tell on its own whether the twin wrote the row too (an alarm's transition shown
/// without its datapoints, a query paged by an alarm that the twin's background fired as
/// well), so they render the hour again in the twin world.
pub fn unlabel_as_twin(
    table: &dyn Table,
    world: &World,
    hour: Micros,
    batch: RecordBatch,
) -> Result<RecordBatch, ArrowError> {
    let twin = world.twin_at(hour);
    let Some(anomaly) = batch.column_by_name("is_anomaly").map(|c| c.as_boolean()) else {
        return Ok(batch);
    };
    if std::ptr::eq(twin, world) || anomaly.true_count() == 0 {
        return Ok(batch);
    }
    let other = table.render(twin, hour)?;
    let ids = batch.column(0).as_string::<i32>();
    let twin_ids = other.column(0).as_string::<i32>();
    let row_of: HashMap<&str, usize> = twin_ids
        .iter()
        .enumerate()
        .filter_map(|(j, id)| Some((id?, j)))
        .collect();
    let unchanged: BooleanArray = (0..batch.num_rows())
        .map(|i| {
            Some(
                anomaly.value(i)
                    && row_of
                        .get(ids.value(i))
                        .is_some_and(|&j| same_row(&batch, i, &other, j)),
            )
        })
        .collect();
    if unchanged.true_count() == 0 {
        return Ok(batch);
    }
    let mut normal = LabelBuilders::with_capacity(batch.num_rows());
    for _ in 0..batch.num_rows() {
        normal.append(&Label::NORMAL);
    }
    let own = batch.num_columns() - label_fields().len();
    let mut cols = batch.columns()[..own].to_vec();
    for (c, n) in batch.columns()[own..].iter().zip(normal.finish()) {
        cols.push(zip(&unchanged, &n, c)?);
    }
    RecordBatch::try_new(batch.schema(), cols)
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
