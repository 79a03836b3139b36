//! The incident ground truth written beside the sources: `labels/incidents.parquet`,
//! `correlation/incidents.json` (the same records as a JSON array) and
//! `labels/incident_edges.parquet` (the cause-effect graph of each incident).

use super::{Incident, RootEntity};
use crate::sink::manifest::IncidentSignal;
use crate::sources::timestamp_type;
use crate::time::{Micros, SECOND, write_rfc3339};
use crate::world::{TimeRange, World};
use arrow::array::{
    ArrayRef, BooleanBuilder, Int64Builder, ListBuilder, StringBuilder,
    TimestampMicrosecondBuilder, UInt64Builder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Seek, Write};
use std::sync::Arc;

/// One incident as the ground truth describes it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IncidentRecord {
    pub incident_id: String,
    pub incident_type: String,
    pub severity: String,
    pub title: String,
    pub root_cause_kind: String,
    pub root_cause_service: Option<String>,
    pub root_cause_entity: String,
    pub root_cause_indicator: String,
    /// Whether the incident began before the dataset's range (its labelled rows are in it).
    pub began_before_range: bool,
    pub start: String,
    pub onset: String,
    pub peak: String,
    pub recovery: String,
    pub end: String,
    /// The first and last labelled row of the incident in the dataset: its signal can
    /// start with a precursor and outlast `end` (lags, period-aggregated datapoints,
    /// alarm clears, the queries people run afterwards).
    pub signal_start: String,
    pub signal_end: String,
    pub affected_services: Vec<String>,
    pub sources_with_signal: Vec<String>,
    pub seed: u64,
    #[serde(skip)]
    pub times: [Micros; 7],
}

/// One cause-effect edge of an incident.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Edge {
    pub incident_id: String,
    pub src_entity: String,
    pub dst_entity: String,
    pub relation: String,
    pub lag_ms: i64,
}

/// Full-precision ISO-8601 (microseconds, UTC).
fn iso(t: Micros) -> String {
    let mut s = String::with_capacity(27);
    write_rfc3339(&mut s, t, 6);
    s
}

/// The entity name of an incident's root cause, as the sources name it.
pub fn root_entity_name(world: &World, inc: &Incident) -> String {
    match &inc.root {
        RootEntity::Pod { service, slot } => {
            let slot_pods = &world.pods.slots[*service][*slot as usize];
            slot_pods
                .iter()
                .rev()
                .map(|&p| world.pod(p))
                .find(|p| p.created <= inc.start)
                .map(|p| format!("pod/{}", p.name))
                .unwrap_or_else(|| format!("deployment/{}", world.service(*service).name))
        }
        RootEntity::Deployment(s) => format!("deployment/{}", world.service(*s).name),
        RootEntity::Service(s) => format!("service/{}", world.service(*s).name),
        RootEntity::Node(n) => format!("node/{}", world.topology.nodes[*n].name),
        RootEntity::Aws { kind, id } => format!("{kind}/{id}"),
    }
}

fn root_kind(inc: &Incident) -> &'static str {
    match inc.root {
        RootEntity::Pod { .. } => "pod",
        RootEntity::Deployment(_) => "deployment",
        RootEntity::Service(_) => "service",
        RootEntity::Node(_) => "node",
        RootEntity::Aws { .. } => "aws_resource",
    }
}

/// The incident tables of a run, built day by day: each day's world adds the incidents
/// of the days whose signal is complete, so no world of the whole range is needed. The
/// records and edges wait in an unnamed temporary file (a line per incident) until the
/// run ends: kept in memory, a year's small records scattered between the workers'
/// large transient buffers held the heap's pages (glibc cannot give back a page with one
/// live allocation) and RSS grew with the range.
#[derive(Debug)]
pub struct IncidentTables {
    spill: std::io::BufWriter<std::fs::File>,
    /// Where the spill file is (for error messages; it has no name).
    dir: std::path::PathBuf,
    /// Incidents that start before this are added.
    added_before: Option<Micros>,
}

/// A line of the spill: an incident's record (with its times, which the JSON output
/// skips) and its edges.
#[derive(Serialize, Deserialize)]
struct Spilled {
    record: IncidentRecord,
    times: [Micros; 7],
    edges: Vec<Edge>,
}

impl IncidentTables {
    /// Empty tables, spilled to an unnamed temporary file in `dir` (the output
    /// directory: the records go where the dataset goes, and nothing is left behind).
    pub fn new(dir: &std::path::Path) -> Result<IncidentTables, crate::Error> {
        let file = tempfile::tempfile_in(dir).map_err(|e| crate::Error::io(dir, e))?;
        Ok(IncidentTables {
            spill: std::io::BufWriter::new(file),
            dir: dir.to_path_buf(),
            added_before: None,
        })
    }

    /// Adds the incidents of `world` that start before `until` (a midnight, or
    /// `Micros::MAX`) and after the last call's `until`, and have a labelled row in
    /// `signal` (whose entries they take). Incidents never cross midnight and the plan
    /// lists them day by day, so the records come in the plan's order whichever worlds
    /// add them; the caller passes an `until` whose days' signal is complete.
    pub fn add_until(
        &mut self,
        world: &World,
        range: TimeRange,
        signal: &mut std::collections::BTreeMap<String, IncidentSignal>,
        until: Micros,
    ) -> Result<(), crate::Error> {
        let from = self.added_before.unwrap_or(Micros::MIN);
        if until <= from {
            return Ok(());
        }
        for inc in world.incidents.real() {
            if inc.start < from || inc.start >= until {
                continue;
            }
            if let Some(s) = signal.remove(&inc.id) {
                let record = incident_record(world, range, inc, &s);
                let mut edges = Vec::new();
                incident_edges(world, inc, &s, &mut edges);
                let line = Spilled {
                    times: record.times,
                    record,
                    edges,
                };
                serde_json::to_writer(&mut self.spill, &line)
                    .map_err(|e| crate::Error::Other(format!("incident spill: {e}")))?;
                self.spill
                    .write_all(b"\n")
                    .map_err(|e| crate::Error::io(&self.dir, e))?;
            }
        }
        self.added_before = Some(until);
        Ok(())
    }

    /// Reads the incidents back in the order they were added, each record with its
    /// edges, one at a time (a pass per table written: a year holds tens of thousands).
    pub fn read(
        &mut self,
        mut f: impl FnMut(IncidentRecord, Vec<Edge>) -> Result<(), crate::Error>,
    ) -> Result<(), crate::Error> {
        let dir = self.dir.clone();
        let io = |e| crate::Error::io(&dir, e);
        self.spill.flush().map_err(io)?;
        let mut file = self.spill.get_ref();
        file.rewind().map_err(io)?;
        for line in std::io::BufReader::new(file).lines() {
            let line = line.map_err(io)?;
            let mut s: Spilled = serde_json::from_str(&line)
                .map_err(|e| crate::Error::Other(format!("incident spill: {e}")))?;
            s.record.times = s.times;
            f(s.record, s.edges)?;
        }
        Ok(())
    }
}

/// The record of an incident with labelled rows `s`.
fn incident_record(
    world: &World,
    range: TimeRange,
    inc: &Incident,
    s: &IncidentSignal,
) -> IncidentRecord {
    let t = &world.config.incidents.types[inc.type_index];
    let sev = format!("{:?}", inc.severity).to_ascii_lowercase();
    IncidentRecord {
        incident_id: inc.id.clone(),
        incident_type: inc.incident_type.clone(),
        severity: sev,
        title: inc.title.clone(),
        root_cause_kind: root_kind(inc).to_string(),
        root_cause_service: inc.root_service.map(|s| world.service(s).name.clone()),
        root_cause_entity: root_entity_name(world, inc),
        root_cause_indicator: t.indicator.clone(),
        began_before_range: inc.start < range.start,
        start: iso(inc.start),
        onset: iso(inc.onset),
        peak: iso(inc.peak),
        recovery: iso(inc.recovery),
        end: iso(inc.end),
        signal_start: iso(s.first),
        signal_end: iso(s.last),
        affected_services: inc
            .affected
            .iter()
            .map(|a| a.service)
            .chain(
                call_chains(world, inc, s)
                    .into_iter()
                    .map(|(_, caller)| caller),
            )
            .map(|x| world.service(x).name.clone())
            .collect(),
        sources_with_signal: s.sources.iter().cloned().collect(),
        seed: world.seed,
        times: [
            inc.start,
            inc.onset,
            inc.peak,
            inc.recovery,
            inc.end,
            s.first,
            s.last,
        ],
    }
}

/// The services beyond an incident's affected ones whose rows it changed through calls
/// (`propagated` rows: a request of theirs waited for, or failed with, a call the incident
/// changed), each with the dependency the change arrived from: the shortest caller
/// chains from the affected services to them, as (callee, caller) steps in order.
fn call_chains(
    world: &World,
    inc: &crate::incidents::Incident,
    s: &IncidentSignal,
) -> Vec<(usize, usize)> {
    let affected = |x: usize| inc.affected.iter().any(|a| a.service == x);
    let targets: Vec<usize> = s
        .propagated
        .iter()
        .filter_map(|name| world.topology.services.iter().position(|x| &x.name == name))
        .filter(|&x| !affected(x))
        .collect();
    if targets.is_empty() {
        return Vec::new();
    }
    // Breadth first up the callers, from every affected service at once.
    let n = world.topology.services.len();
    let mut via: Vec<Option<usize>> = vec![None; n];
    let mut seen: Vec<bool> = (0..n).map(affected).collect();
    let mut frontier: Vec<usize> = inc.affected.iter().map(|a| a.service).collect();
    while !frontier.is_empty() {
        let mut next = Vec::new();
        for &x in &frontier {
            for &c in &world.service(x).callers {
                if !seen[c] {
                    seen[c] = true;
                    via[c] = Some(x);
                    next.push(c);
                }
            }
        }
        frontier = next;
    }
    let mut steps: Vec<(usize, usize)> = Vec::new();
    for t in targets {
        let mut chain = Vec::new();
        let mut c = t;
        while let Some(callee) = via[c] {
            chain.push((callee, c));
            c = callee;
        }
        for step in chain.into_iter().rev() {
            if !steps.contains(&step) {
                steps.push(step);
            }
        }
    }
    steps
}

/// The cause-effect edges of an incident with labelled rows `s`: root entity → directly
/// affected services, then each dependency → its affected callers, with the lag at which
/// the effect arrives, then the callers its changed calls reached beyond them (lag 0: a
/// request sees its call's change at once).
fn incident_edges(world: &World, inc: &Incident, s: &IncidentSignal, out: &mut Vec<Edge>) {
    let root = root_entity_name(world, inc);
    for a in &inc.affected {
        let svc = format!("service/{}", world.service(a.service).name);
        if a.depth == 0 {
            let relation = match inc.root {
                RootEntity::Node(_) => "hosts",
                RootEntity::Aws { .. } => "used_by",
                _ => "degrades",
            };
            if svc != root {
                out.push(Edge {
                    incident_id: inc.id.clone(),
                    src_entity: root.clone(),
                    dst_entity: svc,
                    relation: relation.into(),
                    lag_ms: a.lag / 1000,
                });
            }
            continue;
        }
        for b in inc.affected.iter().filter(|b| {
            b.depth + 1 == a.depth && world.service(a.service).deps.contains(&b.service)
        }) {
            out.push(Edge {
                incident_id: inc.id.clone(),
                src_entity: format!("service/{}", world.service(b.service).name),
                dst_entity: svc.clone(),
                relation: "propagates_to".into(),
                lag_ms: (a.lag - b.lag).max(0) / 1000,
            });
        }
    }
    for (callee, caller) in call_chains(world, inc, s) {
        out.push(Edge {
            incident_id: inc.id.clone(),
            src_entity: format!("service/{}", world.service(callee).name),
            dst_entity: format!("service/{}", world.service(caller).name),
            relation: "propagates_to".into(),
            lag_ms: 0,
        });
    }
}

pub fn incidents_schema() -> SchemaRef {
    let ts = || timestamp_type();
    let list = || DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)));
    Arc::new(Schema::new(vec![
        Field::new("incident_id", DataType::Utf8, false),
        Field::new("incident_type", DataType::Utf8, false),
        Field::new("severity", DataType::Utf8, false),
        Field::new("title", DataType::Utf8, false),
        Field::new("root_cause_kind", DataType::Utf8, false),
        Field::new("root_cause_service", DataType::Utf8, true),
        Field::new("root_cause_entity", DataType::Utf8, false),
        Field::new("root_cause_indicator", DataType::Utf8, false),
        Field::new("began_before_range", DataType::Boolean, false),
        Field::new("start", ts(), false),
        Field::new("onset", ts(), false),
        Field::new("peak", ts(), false),
        Field::new("recovery", ts(), false),
        Field::new("end", ts(), false),
        Field::new("signal_start", ts(), false),
        Field::new("signal_end", ts(), false),
        Field::new("duration_seconds", DataType::Int64, false),
        Field::new("affected_services", list(), false),
        Field::new("sources_with_signal", list(), false),
        Field::new("seed", DataType::UInt64, false),
    ]))
}

pub fn incidents_batch(records: &[IncidentRecord]) -> Result<RecordBatch, ArrowError> {
    let n = records.len();
    let mut cols: Vec<StringBuilder> = (0..8)
        .map(|_| StringBuilder::with_capacity(n, n * 24))
        .collect();
    let mut before = BooleanBuilder::with_capacity(n);
    let mut times: Vec<TimestampMicrosecondBuilder> = (0..7)
        .map(|_| TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC"))
        .collect();
    let mut dur = Int64Builder::with_capacity(n);
    let mut affected = ListBuilder::new(StringBuilder::new());
    let mut signal = ListBuilder::new(StringBuilder::new());
    let mut seed = UInt64Builder::with_capacity(n);
    for r in records {
        cols[0].append_value(&r.incident_id);
        cols[1].append_value(&r.incident_type);
        cols[2].append_value(&r.severity);
        cols[3].append_value(&r.title);
        cols[4].append_value(&r.root_cause_kind);
        cols[5].append_option(r.root_cause_service.as_deref());
        cols[6].append_value(&r.root_cause_entity);
        cols[7].append_value(&r.root_cause_indicator);
        before.append_value(r.began_before_range);
        for (b, t) in times.iter_mut().zip(r.times) {
            b.append_value(t);
        }
        dur.append_value((r.times[4] - r.times[0]) / SECOND);
        for a in &r.affected_services {
            affected.values().append_value(a);
        }
        affected.append(true);
        for s in &r.sources_with_signal {
            signal.values().append_value(s);
        }
        signal.append(true);
        seed.append_value(r.seed);
    }
    let mut arrays: Vec<ArrayRef> = cols
        .into_iter()
        .map(|mut b| Arc::new(b.finish()) as ArrayRef)
        .collect();
    arrays.push(Arc::new(before.finish()));
    arrays.extend(
        times
            .into_iter()
            .map(|mut b| Arc::new(b.finish()) as ArrayRef),
    );
    arrays.push(Arc::new(dur.finish()));
    arrays.push(Arc::new(affected.finish()));
    arrays.push(Arc::new(signal.finish()));
    arrays.push(Arc::new(seed.finish()));
    RecordBatch::try_new(incidents_schema(), arrays)
}

pub fn edges_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("incident_id", DataType::Utf8, false),
        Field::new("src_entity", DataType::Utf8, false),
        Field::new("dst_entity", DataType::Utf8, false),
        Field::new("relation", DataType::Utf8, false),
        Field::new("lag_ms", DataType::Int64, false),
    ]))
}

pub fn edges_batch(edges: &[Edge]) -> Result<RecordBatch, ArrowError> {
    let n = edges.len();
    let mut cols: Vec<StringBuilder> = (0..4)
        .map(|_| StringBuilder::with_capacity(n, n * 24))
        .collect();
    let mut lag = Int64Builder::with_capacity(n);
    for e in edges {
        cols[0].append_value(&e.incident_id);
        cols[1].append_value(&e.src_entity);
        cols[2].append_value(&e.dst_entity);
        cols[3].append_value(&e.relation);
        lag.append_value(e.lag_ms);
    }
    let mut arrays: Vec<ArrayRef> = cols
        .into_iter()
        .map(|mut b| Arc::new(b.finish()) as ArrayRef)
        .collect();
    arrays.push(Arc::new(lag.finish()));
    RecordBatch::try_new(edges_schema(), arrays)
}
