//! `cloudwatch/metrics`: one row per datapoint of every series of [`all_series`], for the
//! periods starting in the hour. Values come from [`super::datapoint`] (through a
//! per-partition [`DatapointCache`]), so the alarms and Grafana see the same numbers.
//! Each row carries the label of [`DatapointCache::datapoint_label`]: the incident that
//! visibly changes the datapoint, if any.
//!
//! [`all_series`]: super::all_series

use super::series::DatapointCache;
use super::{DimensionsBuilder, dimensions_field};
use crate::error::Error;
use crate::labels::{AnomalyRole, Label};
use crate::rng::{str_key, stream};
use crate::sink::JsonLines;
use crate::sources::{CommonColumns, Source, Table, table_schema};
use crate::time::{HOUR, Micros, SECOND};
use crate::world::World;
use arrow::array::{ArrayRef, Float64Builder, Int32Builder, StringBuilder};
use arrow::datatypes::{DataType, Field, SchemaRef};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use std::sync::Arc;

pub struct Metrics;

impl Table for Metrics {
    fn source(&self) -> Source {
        Source::Cloudwatch
    }
    fn name(&self) -> &'static str {
        "metrics"
    }
    fn code(&self) -> &'static str {
        "cwm"
    }

    fn schema(&self) -> SchemaRef {
        table_schema(vec![
            Field::new("namespace", DataType::Utf8, false),
            Field::new("metric_name", DataType::Utf8, false),
            dimensions_field(),
            Field::new("statistic", DataType::Utf8, false),
            Field::new("value", DataType::Float64, false),
            Field::new("unit", DataType::Utf8, false),
            Field::new("period_seconds", DataType::Int32, false),
            Field::new("resource_id", DataType::Utf8, false),
        ])
    }

    /// The native JSON of the rows (see `super::native`).
    fn write_native(
        &self,
        _world: &World,
        _hour: Micros,
        batch: &RecordBatch,
        out: &mut JsonLines,
    ) -> Result<(), Error> {
        super::native::write_metrics(batch, out)
    }

    fn render(&self, world: &World, hour: Micros) -> Result<RecordBatch, ArrowError> {
        let cache = DatapointCache::new(world);
        let table = cache.table().clone();
        let series = &table.series;
        let services: Vec<&str> = series
            .iter()
            .map(|s| {
                let kind = super::model::Kind::of_namespace(s.namespace);
                match kind.and_then(|k| cache.model.find(world, k, &s.resource).map(|r| (k, r))) {
                    Some((k, r)) => cache.model.resource_service(world, k, r),
                    None => cache.model.cluster.as_str(),
                }
            })
            .collect();
        // A series' identity: namespace, metric, statistic, period and dimensions.
        let series_keys: Vec<u64> = series
            .iter()
            .map(|s| {
                let mut parts = vec![
                    str_key(s.namespace),
                    str_key(s.metric),
                    str_key(&format!("{:?}", s.statistic)),
                    s.period_seconds as u64,
                ];
                for (name, value) in &s.dimensions {
                    parts.push(str_key(name));
                    parts.push(str_key(value));
                }
                stream(str_key("cloudwatch/metrics"), &parts)
            })
            .collect();
        // (period start, series index, value, incident and role)
        type Row = (Micros, u32, f64, Option<(u32, AnomalyRole)>);
        let mut rows: Vec<Row> = Vec::new();
        for (si, s) in series.iter().enumerate() {
            if table.resolved[si].is_none() {
                continue;
            }
            let p = s.period_seconds as Micros * SECOND;
            let mut t = hour;
            while t < hour + HOUR {
                // Shared with the alarms and the Grafana panels.
                if let Some(v) = cache.series_stat(si, t) {
                    let label = cache.series_label(si, t);
                    rows.push((t, si as u32, v.get(s.statistic), label));
                }
                t += p;
            }
        }
        rows.sort_unstable_by_key(|r| (r.0, r.1));
        let n = rows.len();
        let mut common = CommonColumns::new(self.code(), hour, n);
        let mut ns = StringBuilder::with_capacity(n, n * 12);
        let mut metric = StringBuilder::with_capacity(n, n * 16);
        let mut dims = DimensionsBuilder::with_capacity(n);
        let mut stat = StringBuilder::with_capacity(n, n * 6);
        let mut value = Float64Builder::with_capacity(n);
        let mut unit = StringBuilder::with_capacity(n, n * 6);
        let mut period = Int32Builder::with_capacity(n);
        let mut resource = StringBuilder::with_capacity(n, n * 20);
        for &(t, si, v, label) in &rows {
            let s = &series[si as usize];
            let label = match label {
                Some((i, role)) => world.label(i, role, t),
                None => Label::NORMAL,
            };
            let key = stream(series_keys[si as usize], &[t as u64]);
            common.append(t, key, services[si as usize], &label);
            ns.append_value(s.namespace);
            metric.append_value(s.metric);
            dims.append(&s.dimensions);
            stat.append_value(s.statistic.as_str());
            value.append_value(v);
            unit.append_value(s.unit);
            period.append_value(s.period_seconds as i32);
            resource.append_value(&s.resource);
        }
        let own: Vec<ArrayRef> = vec![
            Arc::new(ns.finish()),
            Arc::new(metric.finish()),
            Arc::new(dims.finish()),
            Arc::new(stat.finish()),
            Arc::new(value.finish()),
            Arc::new(unit.finish()),
            Arc::new(period.finish()),
            Arc::new(resource.finish()),
        ];
        common.finish(self.schema(), own)
    }
}
