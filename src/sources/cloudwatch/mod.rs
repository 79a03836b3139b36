//! The CloudWatch source: metric datapoints, log events of AWS service log groups, alarm
//! state changes and Logs Insights query runs, as views of the same simulated world.
//!
//! - [`series`]: the metric series of the AWS resources in `services_config.yaml` and
//!   their datapoints, pure functions of the world ([`datapoint`]); shared with the
//!   alarms evaluation and the Grafana panels.
//! - [`Metrics`] (`cloudwatch/metrics`): one row per datapoint of [`all_series`].
//! - [`Logs`] (`cloudwatch/logs`): Lambda START/END/REPORT lines and Powertools EMF
//!   documents, RDS PostgreSQL and MySQL logs, ALB access logs (one per root request),
//!   VPC flow logs.
//! - [`Alarms`] (`cloudwatch/alarms`): state changes of the configured alarms, evaluated
//!   from [`datapoint`].
//! - [`InsightsQueries`] (`cloudwatch/insights_queries`): engineers' Logs Insights queries,
//!   many more while an alarm is in ALARM.
//! - `native`: the four tables in AWS's own JSON for `--format jsonl` (PutMetricData
//!   requests, FilterLogEvents events, EventBridge alarm state changes, QueryInfo records).
//!
//! Every row carries the ground truth of the incident that caused or changed it: datapoints
//! an incident visibly changes, the log lines of requests it changed and of its own
//! effects (a full database refusing connections), the alarm transitions its datapoints
//! caused and the queries investigating them; everything else is normal.

mod alarms;
mod insights;
mod logs;
mod metrics;
mod model;
mod native;
pub mod series;

pub use alarms::{
    AlarmInstance, AlarmState, AlarmTransition, Alarms, alarm_instances, alarm_transitions,
};
pub use insights::InsightsQueries;
pub use logs::{Logs, log_templates};
pub use metrics::Metrics;
pub use series::{DatapointCache, MetricSeries, all_series, datapoint};

use arrow::array::{ListArray, ListBuilder, StringBuilder, StructBuilder};
use arrow::datatypes::{DataType, Field, Fields};
use std::fmt::Write;
use std::sync::Arc;

fn dimension_fields() -> Fields {
    Fields::from(vec![
        Field::new("name", DataType::Utf8, false),
        Field::new("value", DataType::Utf8, false),
    ])
}

/// `dimensions`: `List<Struct{name, value}>`, CloudWatch's `Dimensions[{Name, Value}]`.
pub(crate) fn dimensions_field() -> Field {
    Field::new(
        "dimensions",
        DataType::List(Arc::new(Field::new(
            "item",
            DataType::Struct(dimension_fields()),
            false,
        ))),
        false,
    )
}

/// Builder of the `dimensions` column.
pub(crate) struct DimensionsBuilder(ListBuilder<StructBuilder>);

impl DimensionsBuilder {
    pub fn with_capacity(rows: usize) -> Self {
        let values = StructBuilder::new(
            dimension_fields(),
            vec![
                Box::new(StringBuilder::with_capacity(rows, rows * 12)),
                Box::new(StringBuilder::with_capacity(rows, rows * 24)),
            ],
        );
        let item = Field::new("item", DataType::Struct(dimension_fields()), false);
        DimensionsBuilder(ListBuilder::with_capacity(values, rows).with_field(Arc::new(item)))
    }

    pub fn append(&mut self, dims: &[(&'static str, String)]) {
        let values = self.0.values();
        for (n, v) in dims {
            if let Some(b) = values.field_builder::<StringBuilder>(0) {
                b.append_value(n);
            }
            if let Some(b) = values.field_builder::<StringBuilder>(1) {
                b.append_value(v);
            }
            values.append(true);
        }
        self.0.append(true);
    }

    pub fn finish(mut self) -> ListArray {
        self.0.finish()
    }
}

/// Writes a double the way Java's `Double.toString` does (CloudWatch reasons and
/// reason data): `15.0`, `0.0123`, `1.5E-4`, `2.5E7`.
pub(crate) fn write_java_double(out: &mut impl Write, v: f64) {
    let a = v.abs();
    if v == 0.0 {
        out.write_str("0.0").ok();
    } else if (1e-3..1e7).contains(&a) {
        let start = format!("{v}");
        out.write_str(&start).ok();
        if !start.contains('.') {
            out.write_str(".0").ok();
        }
    } else {
        let s = format!("{v:e}");
        let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
        out.write_str(mant).ok();
        if !mant.contains('.') {
            out.write_str(".0").ok();
        }
        let _ = write!(out, "E{exp}");
    }
}

/// Writes the low `nibbles` nibbles of `v` as lowercase hex into any writer.
pub(crate) fn hex(out: &mut impl Write, v: u64, nibbles: usize) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for i in (0..nibbles.min(16)).rev() {
        out.write_char(DIGITS[((v >> (i * 4)) & 0xf) as usize] as char)
            .ok();
    }
}

/// `2026-11-23T08:41:02.123456Z` (`digits` 3 or 6) into any writer.
pub(crate) fn iso(out: &mut impl Write, t: crate::time::Micros, digits: u32) {
    crate::sources::text::timestamp(out, t, b'T', '.', if digits == 3 { 3 } else { 6 });
    let _ = out.write_char('Z');
}

/// Writes a CloudWatch Logs event id: 56 decimal digits.
pub(crate) fn write_event_id(out: &mut impl Write, ts: crate::time::Micros, key: u64) {
    use crate::rng::mix64;
    use crate::sources::text::{self, Pad};
    let ms = (ts / 1000) as u64;
    let a = mix64(key ^ 0x6576_656e);
    let b = mix64(key ^ 0x7469_6473);
    text::text(
        out,
        (
            '3',
            Pad(ms.wrapping_mul(7_919) % 10_000_000_000_000_000_000, 19),
            Pad(a % 1_000_000_000_000_000_000, 18),
            Pad(b % 1_000_000_000_000_000_000, 18),
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_doubles_and_event_ids() {
        let f = |v: f64| {
            let mut s = String::new();
            write_java_double(&mut s, v);
            s
        };
        assert_eq!(f(15.0), "15.0");
        assert_eq!(f(10.0), "10.0");
        assert_eq!(f(0.0123), "0.0123");
        assert_eq!(f(0.00015), "1.5E-4");
        assert_eq!(f(25_000_000.0), "2.5E7");
        assert_eq!(f(-3.5), "-3.5");
        use crate::rng::mix64;
        for (ts, key) in [
            (1_795_420_862_123_456, 42),
            (0, 0),
            (1_795_420_862_999_999, u64::MAX),
        ] {
            let mut s = String::new();
            write_event_id(&mut s, ts, key);
            assert_eq!(s.len(), 56, "{s}");
            let ms = (ts / 1000) as u64;
            let expected = format!(
                "3{:019}{:018}{:018}",
                ms.wrapping_mul(7_919) % 10_000_000_000_000_000_000,
                mix64(key ^ 0x6576_656e) % 1_000_000_000_000_000_000,
                mix64(key ^ 0x7469_6473) % 1_000_000_000_000_000_000
            );
            assert_eq!(s, expected);
        }
        for (t, digits, expected) in [
            (1_795_420_862_123_456, 6, "2026-11-23T08:01:02.123456Z"),
            (1_795_420_862_123_456, 3, "2026-11-23T08:01:02.123Z"),
        ] {
            let mut s = String::new();
            iso(&mut s, t, digits);
            assert_eq!(s, expected);
        }
    }
}
