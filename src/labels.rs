//! Ground-truth label columns carried by every row of every table.

use arrow::array::{ArrayRef, BooleanBuilder, StringBuilder};
use arrow::datatypes::{DataType, Field};
use std::sync::Arc;

/// What a row has to do with an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnomalyRole {
    None,
    RootCause,
    Symptom,
    Propagated,
}

impl AnomalyRole {
    pub fn as_str(self) -> &'static str {
        match self {
            AnomalyRole::None => "none",
            AnomalyRole::RootCause => "root_cause",
            AnomalyRole::Symptom => "symptom",
            AnomalyRole::Propagated => "propagated",
        }
    }
}

/// Incident phase a labelled row belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    None,
    Precursor,
    Onset,
    Peak,
    Recovery,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::None => "none",
            Phase::Precursor => "precursor",
            Phase::Onset => "onset",
            Phase::Peak => "peak",
            Phase::Recovery => "recovery",
        }
    }
}

/// The label of one row.
#[derive(Debug, Clone, Copy)]
pub struct Label<'a> {
    pub incident_id: Option<&'a str>,
    pub incident_type: Option<&'a str>,
    pub role: AnomalyRole,
    pub phase: Phase,
}

impl Label<'_> {
    pub const NORMAL: Label<'static> = Label {
        incident_id: None,
        incident_type: None,
        role: AnomalyRole::None,
        phase: Phase::None,
    };

    /// Whether the row is normal (carries no incident).
    pub fn is_normal(&self) -> bool {
        self.incident_id.is_none()
    }
}

/// The label fields, in the order every table ends with.
pub fn label_fields() -> Vec<Field> {
    vec![
        Field::new("incident_id", DataType::Utf8, true),
        Field::new("incident_type", DataType::Utf8, true),
        Field::new("is_anomaly", DataType::Boolean, false),
        Field::new("anomaly_role", DataType::Utf8, false),
        Field::new("phase", DataType::Utf8, false),
    ]
}

/// Builders for the label columns.
pub struct LabelBuilders {
    incident_id: StringBuilder,
    incident_type: StringBuilder,
    is_anomaly: BooleanBuilder,
    role: StringBuilder,
    phase: StringBuilder,
}

impl LabelBuilders {
    pub fn with_capacity(rows: usize) -> Self {
        LabelBuilders {
            incident_id: StringBuilder::with_capacity(rows, rows * 4),
            incident_type: StringBuilder::with_capacity(rows, rows * 4),
            is_anomaly: BooleanBuilder::with_capacity(rows),
            role: StringBuilder::with_capacity(rows, rows * 5),
            phase: StringBuilder::with_capacity(rows, rows * 5),
        }
    }

    #[inline]
    pub fn append(&mut self, l: &Label) {
        self.incident_id.append_option(l.incident_id);
        self.incident_type.append_option(l.incident_type);
        self.is_anomaly.append_value(l.role != AnomalyRole::None);
        self.role.append_value(l.role.as_str());
        self.phase.append_value(l.phase.as_str());
    }

    pub fn finish(mut self) -> Vec<ArrayRef> {
        vec![
            Arc::new(self.incident_id.finish()),
            Arc::new(self.incident_type.finish()),
            Arc::new(self.is_anomaly.finish()),
            Arc::new(self.role.finish()),
            Arc::new(self.phase.finish()),
        ]
    }
}

/// The schema of `labels/records`: the keys of a record and its labels.
pub fn records_schema() -> arrow::datatypes::SchemaRef {
    let mut fields = vec![
        Field::new("record_id", DataType::Utf8, false),
        Field::new("source", DataType::Utf8, false),
        Field::new("table", DataType::Utf8, false),
        Field::new("timestamp", crate::sources::timestamp_type(), false),
        Field::new("service", DataType::Utf8, false),
        Field::new("template_id", DataType::Utf8, true),
    ];
    fields.extend(label_fields());
    Arc::new(arrow::datatypes::Schema::new(fields))
}

/// An incident's labelled rows in a batch: the timestamps of the first and the last, and
/// the services of its `propagated` rows (the incident edges must reach them).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IncidentRows {
    pub first: i64,
    pub last: i64,
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub propagated: std::collections::BTreeSet<String>,
}

/// Per incident id: its labelled rows in a batch.
pub type IncidentSpans = std::collections::BTreeMap<String, IncidentRows>;

/// Projects a source batch onto the labels table, and lists the incident ids it carries
/// with the timestamps of their first and last labelled row.
pub fn records_batch(
    batch: &arrow::record_batch::RecordBatch,
    source: &str,
    table: &str,
) -> Result<(arrow::record_batch::RecordBatch, IncidentSpans), arrow::error::ArrowError> {
    use arrow::array::{Array, StringArray, new_null_array};
    let n = batch.num_rows();
    let col = |name: &str| {
        batch.column_by_name(name).cloned().ok_or_else(|| {
            arrow::error::ArrowError::SchemaError(format!("{source}/{table} has no column {name}"))
        })
    };
    let constant = |v: &str| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(std::iter::repeat_n(v, n)))
    };
    let template: ArrayRef = match batch.column_by_name("template_id") {
        Some(c) => c.clone(),
        None => new_null_array(&DataType::Utf8, n),
    };
    let mut columns: Vec<ArrayRef> = vec![
        col("record_id")?,
        constant(source),
        constant(table),
        col("timestamp")?,
        col("service")?,
        template,
    ];
    for f in label_fields() {
        columns.push(col(f.name())?);
    }
    let mut incidents = IncidentSpans::new();
    let strings = |name: &str| {
        batch
            .column_by_name(name)
            .and_then(|c| c.as_any().downcast_ref::<StringArray>())
    };
    let (roles, services) = (strings("anomaly_role"), strings("service"));
    let ts = batch.column_by_name("timestamp").and_then(|c| {
        c.as_any()
            .downcast_ref::<arrow::array::TimestampMicrosecondArray>()
    });
    if let (Some(ids), Some(ts)) = (
        batch
            .column_by_name("incident_id")
            .and_then(|c| c.as_any().downcast_ref::<StringArray>()),
        ts,
    ) {
        for i in 0..ids.len() {
            if !ids.is_valid(i) {
                continue;
            }
            let t = ts.value(i);
            let rows = match incidents.get_mut(ids.value(i)) {
                Some(w) => {
                    (w.first, w.last) = (w.first.min(t), w.last.max(t));
                    w
                }
                None => incidents
                    .entry(ids.value(i).to_string())
                    .or_insert(IncidentRows {
                        first: t,
                        last: t,
                        propagated: Default::default(),
                    }),
            };
            let propagated = roles.is_some_and(|r| r.is_valid(i) && r.value(i) == "propagated");
            if let (true, Some(s)) = (propagated, services.filter(|s| s.is_valid(i)))
                && !rows.propagated.contains(s.value(i))
            {
                rows.propagated.insert(s.value(i).to_string());
            }
        }
    }
    Ok((
        arrow::record_batch::RecordBatch::try_new(records_schema(), columns)?,
        incidents,
    ))
}
