//! `grafana/annotations`: a deploy annotation for every rollout in the world, alert
//! annotations for every alarm state change, and the odd manual note.

use crate::error::Error;
use crate::labels::{AnomalyRole, Label};
use crate::rng::{Rng, str_key, stream};
use crate::sink::JsonLines;
use crate::sources::cloudwatch::{AlarmState, alarm_transitions};
use crate::sources::{CommonColumns, Source, Table, table_schema, timestamp_type};
use crate::time::{HOUR, Micros, SECOND};
use crate::world::World;
use crate::world::pods::RolloutCause;
use arrow::array::{
    ArrayRef, Int32Builder, Int64Builder, ListBuilder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, SchemaRef};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use std::fmt::Write;
use std::sync::Arc;

pub struct Annotations;

#[derive(Clone, Copy)]
enum Kind {
    /// Rollout index (into this run's plan, which depends on the range: never keyed by
    /// it) and the deployment's service name key.
    Deploy(u32, u64),
    /// Index into the hour's alarm transitions, and the alarm name's key.
    Alert(u32, u64),
    Note(u64),
}

impl Kind {
    /// Orders rows at one instant and keys the annotation id: a function of what the
    /// annotation is (kind, service or alarm), never of a position in the run's plan, so
    /// that the id does not depend on the day the range starts.
    fn key(self) -> (u8, u64) {
        match self {
            Kind::Deploy(_, service) => (0, service),
            Kind::Alert(_, alarm) => (1, alarm),
            Kind::Note(k) => (2, k),
        }
    }
}

const NOTES: [(&str, &str); 6] = [
    (
        "Load test against staging-mirrored traffic started",
        "loadtest",
    ),
    (
        "RDS maintenance window: minor engine version upgrade scheduled",
        "maintenance",
    ),
    (
        "Marketing email campaign sent (expect a traffic bump)",
        "marketing",
    ),
    ("Feature flag checkout_v2 ramped to 25%", "feature-flag"),
    ("On-call handover", "oncall"),
    ("CDN cache purge for static assets", "cdn"),
];

/// The item of `tags`: a non-null string.
fn tag_item() -> Arc<Field> {
    Arc::new(Field::new("item", DataType::Utf8, false))
}

impl Table for Annotations {
    fn source(&self) -> Source {
        Source::Grafana
    }
    fn name(&self) -> &'static str {
        "annotations"
    }
    fn code(&self) -> &'static str {
        "gan"
    }

    fn schema(&self) -> SchemaRef {
        table_schema(vec![
            Field::new("annotation_id", DataType::Int64, false),
            Field::new("dashboard_uid", DataType::Utf8, true),
            Field::new("panel_id", DataType::Int32, true),
            Field::new("time_end", timestamp_type(), false),
            Field::new("tags", DataType::List(tag_item()), false),
            Field::new("text", DataType::Utf8, false),
            Field::new("kind", DataType::Utf8, false),
            Field::new("alert_name", DataType::Utf8, true),
            Field::new("new_state", DataType::Utf8, true),
            Field::new("prev_state", DataType::Utf8, true),
            Field::new("login", DataType::Utf8, false),
            Field::new("template_id", DataType::Utf8, false),
        ])
    }

    fn render(&self, world: &World, hour: Micros) -> Result<RecordBatch, ArrowError> {
        let end = hour + HOUR;
        let mut rows: Vec<(Micros, Kind)> = Vec::new();
        for r in world.pods.rollouts_in(hour, end) {
            let ro = &world.pods.rollouts[r];
            if ro.previous.is_some() {
                let service = str_key(&world.service(ro.service).name);
                rows.push((ro.at, Kind::Deploy(r as u32, service)));
            }
        }
        let transitions = alarm_transitions(world, hour, end);
        for (i, t) in transitions.iter().enumerate() {
            rows.push((t.timestamp, Kind::Alert(i as u32, str_key(&t.alarm_name))));
        }
        let per_hour = world
            .config
            .generation
            .sources
            .grafana
            .manual_notes_per_day
            .0
            / 24.0;
        let mut rng = Rng::derive(
            world.seed,
            &[str_key("grafana/annotations/notes"), hour as u64],
        );
        for _ in 0..rng.poisson(per_hour) {
            let at = hour + rng.below(HOUR as u64) as Micros;
            rows.push((at, Kind::Note(rng.next_u64())));
        }
        rows.sort_by_key(|&(t, k)| (t, k.key()));

        let n = rows.len();
        let mut common = CommonColumns::new(self.code(), hour, n);
        let mut id = Int64Builder::with_capacity(n);
        let mut dash = StringBuilder::with_capacity(n, n * 16);
        let mut panel = Int32Builder::with_capacity(n);
        let mut time_end = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
        let mut tags = ListBuilder::new(StringBuilder::new()).with_field(tag_item());
        let mut text = StringBuilder::with_capacity(n, n * 60);
        let mut kind = StringBuilder::with_capacity(n, n * 6);
        let mut alert = StringBuilder::with_capacity(n, n * 20);
        let mut new_state = StringBuilder::with_capacity(n, n * 8);
        let mut prev_state = StringBuilder::with_capacity(n, n * 8);
        let mut login = StringBuilder::with_capacity(n, n * 10);
        let mut template = StringBuilder::with_capacity(n, n * 20);
        for &(at, k) in &rows {
            // 53 bits (a JSON-safe integer), keyed by the time and the row's own key, so
            // that ids do not collide across a long dataset or between rows at one instant.
            let (kind_key, entity_key) = k.key();
            let key = stream(
                world.seed,
                &[
                    str_key("grafana/annotation"),
                    at as u64,
                    kind_key as u64,
                    entity_key,
                ],
            );
            id.append_value((key >> 11) as i64 + 1);
            match k {
                Kind::Deploy(r, _) => {
                    let ro = &world.pods.rollouts[r as usize];
                    let svc = world.service(ro.service);
                    // Done when the last replica of the new ReplicaSet is ready.
                    let done = world.pods.slots[ro.service]
                        .iter()
                        .flatten()
                        .map(|&p| world.pod(p))
                        .filter(|p| {
                            p.rollout == r as usize
                                && p.created >= ro.at
                                && p.created < ro.at + ro.stagger * svc.replicas as i64 + SECOND
                        })
                        .map(|p| p.ready)
                        .max()
                        .unwrap_or(at);
                    dash.append_null();
                    panel.append_null();
                    time_end.append_value(done);
                    for t in ["deploy", svc.name.as_str(), svc.namespace.as_str()] {
                        tags.values().append_value(t);
                    }
                    let _ = write!(tags.values(), "v{}", ro.version);
                    tags.values().append_value("");
                    tags.append(true);
                    let _ = write!(
                        text,
                        "Deploy {} v{} (revision {}, replicaset {}-{})",
                        svc.name, ro.version, ro.revision, svc.name, ro.rs_hash
                    );
                    text.append_value("");
                    kind.append_value("deploy");
                    alert.append_null();
                    new_state.append_null();
                    prev_state.append_null();
                    login.append_value("argocd");
                    template.append_value("grafana.deploy");
                    // The bad release of a deployment failure and its rollback are the root cause.
                    let label = match ro.cause {
                        RolloutCause::Bad(inc) | RolloutCause::Rollback(inc) => {
                            world.label(inc as u32, AnomalyRole::RootCause, at)
                        }
                        RolloutCause::Routine => Label::NORMAL,
                    };
                    common.append(at, key, &svc.name, &label);
                }
                Kind::Alert(i, _) => {
                    let tr = &transitions[i as usize];
                    // The annotation lands on the panel that plots the alarm's metric.
                    let target = world.config.services.dashboards.iter().find_map(|d| {
                        d.panels
                            .iter()
                            .find(|p| {
                                p.cloudwatch_namespace.as_deref() == Some(tr.namespace)
                                    && p.metric.value == tr.metric
                            })
                            .map(|p| (d.uid.value.as_str(), p.id))
                    });
                    dash.append_option(target.map(|t| t.0));
                    panel.append_option(target.map(|t| t.1 as i32));
                    time_end.append_value(at);
                    let state = tr.state.as_str();
                    for t in ["alert", "cloudwatch", tr.alarm_name.as_str(), state] {
                        tags.values().append_value(t);
                    }
                    tags.append(true);
                    let grafana_state = |s: AlarmState| match s {
                        AlarmState::Alarm => "Alerting",
                        AlarmState::Ok => "Normal",
                        AlarmState::InsufficientData => "NoData",
                    };
                    let _ = write!(
                        text,
                        "[{}] {}: {} {} (threshold {})",
                        grafana_state(tr.state),
                        tr.alarm_name,
                        tr.namespace,
                        tr.metric,
                        tr.threshold
                    );
                    text.append_value("");
                    kind.append_value("alert");
                    alert.append_value(&tr.alarm_name);
                    new_state.append_value(grafana_state(tr.state));
                    prev_state.append_value(grafana_state(tr.previous_state));
                    login.append_value("grafana-alerting");
                    template.append_value(if tr.state == AlarmState::Alarm {
                        "grafana.alert.firing"
                    } else {
                        "grafana.alert.resolved"
                    });
                    // The ground truth of the cloudwatch/alarms row of the transition.
                    let label = world.label(tr.incident, tr.role, at);
                    common.append(at, key, &tr.service, &label);
                }
                Kind::Note(nk) => {
                    let (note, tag) = NOTES[(nk % NOTES.len() as u64) as usize];
                    dash.append_null();
                    panel.append_null();
                    time_end.append_value(at + (15 + (nk >> 8) % 90) as i64 * 60 * SECOND);
                    tags.values().append_value("note");
                    tags.values().append_value(tag);
                    tags.append(true);
                    text.append_value(note);
                    kind.append_value("note");
                    alert.append_null();
                    new_state.append_null();
                    prev_state.append_null();
                    login.append_value(
                        ["j.martin", "a.okafor", "s.lindqvist", "p.rao"][((nk >> 20) % 4) as usize],
                    );
                    let _ = write!(template, "grafana.note.{tag}");
                    template.append_value("");
                    let cluster = &world.config.services.cluster.name;
                    common.append(at, key, cluster, &Label::NORMAL);
                }
            }
        }
        let own: Vec<ArrayRef> = vec![
            Arc::new(id.finish()),
            Arc::new(dash.finish()),
            Arc::new(panel.finish()),
            Arc::new(time_end.finish()),
            Arc::new(tags.finish()),
            Arc::new(text.finish()),
            Arc::new(kind.finish()),
            Arc::new(alert.finish()),
            Arc::new(new_state.finish()),
            Arc::new(prev_state.finish()),
            Arc::new(login.finish()),
            Arc::new(template.finish()),
        ];
        let batch = common.finish(self.schema(), own)?;
        // A query or an alert the twin has too (same time, same text) is not the
        // incident's doing.
        crate::sources::unlabel_as_twin(self, world, hour, batch)
    }

    /// One annotation object of `GET /api/annotations` per row (see `native`).
    fn write_native(
        &self,
        world: &World,
        _hour: Micros,
        batch: &RecordBatch,
        out: &mut JsonLines,
    ) -> Result<(), Error> {
        super::native::write_annotations(world, batch, out)
    }
}
