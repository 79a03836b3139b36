//! The log template ground truth, `labels/templates.parquet`: one row per template id that
//! `kubernetes/pod_logs` and `cloudwatch/logs` can write in this world, with its layout,
//! event, level, logger and text (the line with `<*>` for each parameter, as Loghub-2.0
//! writes templates), so that a log parser's grouping and template accuracy (GA, PA, FGA,
//! FTA) can be computed against the `template_id` column of each line.

use crate::sources::kubernetes::templates::{TemplateDef, service_templates};
use crate::world::World;
use arrow::array::{ArrayRef, StringBuilder, UInt32Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A template and the table that writes it.
pub struct TemplateRow {
    pub source: &'static str,
    pub table: &'static str,
    pub def: TemplateDef,
}

/// Every template of the world, sorted by (source, table, id). A template id has one text:
/// services of one layout write an event alike (the tests check every line against it).
pub fn world_templates(world: &World) -> Vec<TemplateRow> {
    let mut pod_logs: BTreeMap<String, TemplateDef> = BTreeMap::new();
    let mut defs = Vec::new();
    for s in &world.topology.services {
        defs.clear();
        service_templates(s, &mut defs);
        for d in defs.drain(..) {
            pod_logs.entry(d.id.clone()).or_insert(d);
        }
    }
    let mut cloudwatch: BTreeMap<String, TemplateDef> = BTreeMap::new();
    for d in crate::sources::cloudwatch::log_templates(world) {
        cloudwatch.entry(d.id.clone()).or_insert(d);
    }
    let mut out: Vec<TemplateRow> = cloudwatch
        .into_values()
        .map(|def| TemplateRow {
            source: "cloudwatch",
            table: "logs",
            def,
        })
        .collect();
    out.extend(pod_logs.into_values().map(|def| TemplateRow {
        source: "kubernetes",
        table: "pod_logs",
        def,
    }));
    out
}

pub fn templates_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("template_id", DataType::Utf8, false),
        Field::new("source", DataType::Utf8, false),
        Field::new("table", DataType::Utf8, false),
        Field::new("layout", DataType::Utf8, false),
        Field::new("event", DataType::Utf8, false),
        Field::new("level", DataType::Utf8, false),
        Field::new("logger", DataType::Utf8, true),
        Field::new("template", DataType::Utf8, false),
        Field::new("parameters", DataType::UInt32, false),
    ]))
}

pub fn templates_batch(rows: &[TemplateRow]) -> Result<RecordBatch, ArrowError> {
    let mut cols: Vec<StringBuilder> = (0..8).map(|_| StringBuilder::new()).collect();
    let mut params = Vec::with_capacity(rows.len());
    for r in rows {
        let d = &r.def;
        cols[0].append_value(&d.id);
        cols[1].append_value(r.source);
        cols[2].append_value(r.table);
        cols[3].append_value(d.layout);
        cols[4].append_value(&d.event);
        cols[5].append_value(d.level);
        cols[6].append_option(d.logger.as_deref());
        cols[7].append_value(&d.text);
        params.push(d.text.matches("<*>").count() as u32);
    }
    let mut arrays: Vec<ArrayRef> = cols
        .into_iter()
        .map(|mut b| Arc::new(b.finish()) as ArrayRef)
        .collect();
    arrays.push(Arc::new(UInt32Array::from(params)));
    RecordBatch::try_new(templates_schema(), arrays)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_text_per_template_id() {
        let start = crate::time::parse_instant("2026-11-23T10:00:00Z").expect("instant");
        let cfg = crate::config::Config::defaults().expect("defaults");
        let range = crate::world::TimeRange {
            start,
            end: start + crate::time::HOUR,
        };
        let world = crate::world::World::plan(cfg, 42, 1.0, range);
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        let mut defs = Vec::new();
        for s in &world.topology.services {
            defs.clear();
            service_templates(s, &mut defs);
            for d in &defs {
                if let Some(t) = seen.insert(d.id.clone(), d.text.clone()) {
                    assert_eq!(t, d.text, "{} has two texts", d.id);
                }
            }
        }
        for d in crate::sources::cloudwatch::log_templates(&world) {
            if let Some(t) = seen.insert(d.id.clone(), d.text.clone()) {
                assert_eq!(t, d.text, "{} has two texts", d.id);
            }
        }
        let rows = world_templates(&world);
        assert!(rows.len() >= 200, "{} templates", rows.len());
        let batch = templates_batch(&rows).unwrap();
        assert_eq!(batch.num_rows(), rows.len());
    }
}
