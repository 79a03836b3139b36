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
