//! `cloudwatch/alarms`: one row per alarm state change, evaluated from the datapoints.
//!
//! The alarms come from `alarms:` in `services_config.yaml` (`resource: nodes` gives one
//! alarm per node, named `<name>-<instance id>`). An alarm is evaluated at the end of each
//! of its periods (period ends aligned to multiples of the period), over the datapoints
//! of [`super::datapoint`] for its own (statistic, period) series:
//!
//! - `notBreaching` / `breaching`: the last `evaluation_periods` (N) periods, a missing
//!   datapoint counting as good / bad; ALARM when at least `datapoints_to_alarm` (M)
//!   breach, OK otherwise.
//! - `missing`: the evaluation range is the last N + 2 periods; the most recent N
//!   datapoints present in it are evaluated; with k of them present, ALARM when at least
//!   min(M, k) breach, OK otherwise; INSUFFICIENT_DATA when none is present.
//! - `ignore`: as `missing`, but with no datapoint in the range the state is kept: it is
//!   then the state given by the latest datapoint (ALARM if it breaches), looked for up to
//!   six hours back; INSUFFICIENT_DATA beyond.
//!
//! The state at a period end is thus a pure function of the datapoints, and an hour
//! partition re-evaluates the periods before its start to know the state it begins in,
//! so transitions are seamless across partitions. A transition row is written when the
//! state at a period end differs from the state at the previous period end; its
//! timestamp is the period end plus a few seconds (the evaluation delay).
//!
//! Each row has the `event_id` of the EventBridge event that announces it (a UUID, the
//! record key of the JSON export, see `super::native`).
//!
//! Labels: a transition to ALARM is caused by an incident when its breaching datapoints
//! are labelled with it (the incident visibly changed them, see the metrics table); it
//! takes the label of the incident behind most of them. The transition that ends an
//! ALARM episode (to OK or INSUFFICIENT_DATA) takes the label of the transition that
//! started it. The role is the datapoints' (`root_cause` when the alarm watches the
//! incident's root resource, `symptom` otherwise). Other transitions are normal.

use super::insights::PAGE_DELAY;
use super::model::{Kind, Model, shared_model};
use super::series::{CATALOG, DatapointCache, MetricSeries, Resolved, StatSet, make_series};
use super::{DimensionsBuilder, dimensions_field, write_java_double};
use crate::config::{Comparison, TreatMissingData};
use crate::error::Error;
use crate::labels::{AnomalyRole, Label};
use crate::rng::{mix64, str_key, stream};
use crate::sink::JsonLines;
use crate::sources::{CommonColumns, Source, Table, table_schema};
use crate::time::{HOUR, Micros, SECOND, civil};
use crate::world::World;
use arrow::array::{ArrayRef, Float64Builder, Int32Builder, StringBuilder};
use arrow::datatypes::{DataType, Field, SchemaRef};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use std::fmt::Write;
use std::sync::Arc;

pub struct Alarms;

/// An alarm state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlarmState {
    Ok,
    Alarm,
    InsufficientData,
}

impl AlarmState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlarmState::Ok => "OK",
            AlarmState::Alarm => "ALARM",
            AlarmState::InsufficientData => "INSUFFICIENT_DATA",
        }
    }
}

/// One CloudWatch alarm: a configured alarm on one resource.
#[derive(Debug, Clone)]
pub struct AlarmInstance {
    pub name: String,
    pub arn: String,
    pub description: String,
    /// The series the alarm evaluates (its own statistic and period).
    pub series: MetricSeries,
    pub comparison: Comparison,
    pub threshold: f64,
    pub evaluation_periods: u32,
    pub datapoints_to_alarm: u32,
    pub treat_missing_data: TreatMissingData,
    /// The `service` column of its rows (see the metrics table).
    pub service: String,
    pub key: u64,
}

/// Every alarm of the configuration, one per node for `resource: nodes`. Alarms on a
/// metric obsgen does not model are left out.
pub fn alarm_instances(world: &World) -> Vec<AlarmInstance> {
    shared_alarm_instances(world).as_ref().clone()
}

/// The alarms of `world` ([`alarm_instances`]), built once and shared by every table.
pub(crate) fn shared_alarm_instances(world: &World) -> Arc<Vec<AlarmInstance>> {
    world.shared_run("cloudwatch/alarm-instances", || {
        alarm_instances_with(world, &shared_model(world))
    })
}

pub(crate) fn alarm_instances_with(world: &World, model: &Model) -> Vec<AlarmInstance> {
    let cfg = &world.config.services;
    let mut out = Vec::new();
    for a in &cfg.alarms {
        let Some(kind) = Kind::of_namespace(&a.namespace) else {
            continue;
        };
        let Some(d) = CATALOG
            .iter()
            .find(|d| d.kind == kind && d.name == a.metric)
        else {
            continue;
        };
        let resources: Vec<usize> = if matches!(kind, Kind::Node | Kind::Agent) {
            (0..world.topology.nodes.len()).collect()
        } else {
            model
                .find(world, kind, &a.resource.value)
                .into_iter()
                .collect()
        };
        for r in resources {
            let series = make_series(world, model, d, r, 0, a.statistic, a.period_seconds);
            let name = if matches!(kind, Kind::Node | Kind::Agent) {
                format!("{}-{}", a.name.value, world.topology.nodes[r].instance_id)
            } else {
                a.name.value.clone()
            };
            out.push(AlarmInstance {
                arn: format!(
                    "arn:aws:cloudwatch:{}:{}:alarm:{name}",
                    cfg.cluster.region, cfg.cluster.account_id
                ),
                key: stream(world.seed, &[str_key("cw-alarm"), str_key(&name)]),
                service: model.resource_service(world, kind, r).to_string(),
                name,
                description: a.description.clone(),
                series,
                comparison: a.comparison,
                threshold: a.threshold,
                evaluation_periods: a.evaluation_periods,
                datapoints_to_alarm: a.datapoints_to_alarm,
                treat_missing_data: a.treat_missing_data,
            });
        }
    }
    out
}

/// How far back `ignore` looks for the datapoint whose state it keeps.
const IGNORE_HORIZON: Micros = 6 * HOUR;

/// How far back the end of an ALARM episode looks for the transition that started it
/// (longer episodes end with a normal label).
const EPISODE_HORIZON: Micros = 3 * HOUR;

/// An incident (index into the plan) and the role of the alarm's resource in it.
pub(crate) type IncidentLabel = Option<(u32, AnomalyRole)>;

/// The outcome of one evaluation.
#[derive(Debug, Clone)]
pub(crate) struct Evaluation {
    pub state: AlarmState,
    /// Period end the evaluation closes.
    pub end: Micros,
    /// (period start, samples) of the evaluation range, newest first.
    pub range: Vec<(Micros, Option<StatSet>)>,
    /// Indices into `range` of the datapoints evaluated, newest first.
    pub evaluated: Vec<usize>,
    /// Breaching datapoints among those evaluated (missing ones treated as breaching included).
    pub breaching: u32,
    /// Datapoints evaluated: N, or those present in `missing` / `ignore` mode.
    pub considered: u32,
    /// Breaching datapoints needed for ALARM.
    pub needed: u32,
}

/// Evaluates one alarm at period ends; its datapoints are those of the series table,
/// shared per hour with the metrics table, the Grafana panels and the other evaluations.
pub(crate) struct Evaluator<'c, 'w> {
    cache: &'c DatapointCache<'w>,
    pub inst: &'c AlarmInstance,
    /// The alarm's series in the series table.
    si: Option<usize>,
    res: Option<Resolved>,
}

impl<'c, 'w> Evaluator<'c, 'w> {
    /// The evaluator of alarm `ai` of [`DatapointCache::alarm_instances`].
    pub fn new(cache: &'c DatapointCache<'w>, ai: usize) -> Self {
        let table = cache.table();
        let inst = &table.alarms[ai];
        Evaluator {
            cache,
            inst,
            si: table.alarm_series.get(ai).copied().flatten(),
            res: cache.resolve(&inst.series),
        }
    }

    pub fn period(&self) -> Micros {
        self.inst.series.period_seconds as Micros * SECOND
    }

    fn dp(&self, start: Micros) -> Option<StatSet> {
        match self.si {
            Some(si) => self.cache.series_stat(si, start),
            None => self.res.and_then(|r| {
                self.cache
                    .stat_set(r, self.inst.series.period_seconds, start)
            }),
        }
    }

    /// The incident and role of the datapoint for the period starting at `start`.
    fn dp_label(&self, start: Micros) -> IncidentLabel {
        match self.si {
            Some(si) => self.cache.series_label(si, start),
            None => self.res.and_then(|r| {
                self.cache
                    .period_label(r, self.inst.series.period_seconds, start)
            }),
        }
    }

    fn breaches(&self, s: &StatSet) -> bool {
        self.inst
            .comparison
            .breaches(s.get(self.inst.series.statistic), self.inst.threshold)
    }

    /// The evaluation at period end `end`.
    pub fn eval(&self, end: Micros) -> Evaluation {
        let p = self.period();
        let n = self.inst.evaluation_periods;
        let m = self.inst.datapoints_to_alarm;
        let treat = self.inst.treat_missing_data;
        let span = match treat {
            TreatMissingData::Breaching | TreatMissingData::NotBreaching => n,
            _ => n + 2,
        };
        let range: Vec<(Micros, Option<StatSet>)> = (1..=span as i64)
            .map(|j| {
                let start = end - j * p;
                (start, self.dp(start))
            })
            .collect();
        match treat {
            TreatMissingData::Breaching | TreatMissingData::NotBreaching => {
                let missing_breaches = treat == TreatMissingData::Breaching;
                let breaching = range
                    .iter()
                    .filter(|(_, v)| v.as_ref().map_or(missing_breaches, |s| self.breaches(s)))
                    .count() as u32;
                Evaluation {
                    state: if breaching >= m {
                        AlarmState::Alarm
                    } else {
                        AlarmState::Ok
                    },
                    end,
                    evaluated: (0..range.len()).collect(),
                    range,
                    breaching,
                    considered: n,
                    needed: m,
                }
            }
            TreatMissingData::Missing | TreatMissingData::Ignore => {
                let evaluated: Vec<usize> = (0..range.len())
                    .filter(|&i| range[i].1.is_some())
                    .take(n as usize)
                    .collect();
                let k = evaluated.len() as u32;
                let breaching = evaluated
                    .iter()
                    .filter(|&&i| range[i].1.as_ref().is_some_and(|s| self.breaches(s)))
                    .count() as u32;
                let needed = m.min(k);
                let state = if k == 0 {
                    if treat == TreatMissingData::Ignore {
                        self.retained(end - span as i64 * p)
                    } else {
                        AlarmState::InsufficientData
                    }
                } else if breaching >= needed {
                    AlarmState::Alarm
                } else {
                    AlarmState::Ok
                };
                Evaluation {
                    state,
                    end,
                    range,
                    evaluated,
                    breaching,
                    considered: k,
                    needed,
                }
            }
        }
    }

    /// `ignore` with no datapoint in range: the state of the latest datapoint before
    /// `before`, within the horizon.
    fn retained(&self, before: Micros) -> AlarmState {
        let p = self.period();
        let mut start = before - p;
        while start >= before - IGNORE_HORIZON {
            if let Some(s) = self.dp(start) {
                return if self.breaches(&s) {
                    AlarmState::Alarm
                } else {
                    AlarmState::Ok
                };
            }
            start -= p;
        }
        AlarmState::InsufficientData
    }

    /// The incident behind most of the breaching datapoints of an evaluation.
    pub fn label_of(&self, e: &Evaluation) -> IncidentLabel {
        self.label_among(e, true)
    }

    /// The incident behind most of the datapoints of an evaluation (breaching only, or
    /// all of them).
    fn label_among(&self, e: &Evaluation, breaching: bool) -> IncidentLabel {
        self.label_over(e, e.evaluated.iter().copied(), breaching)
    }

    /// The incident behind most of the datapoints `indices` of an evaluation's range.
    fn label_over(
        &self,
        e: &Evaluation,
        indices: impl Iterator<Item = usize>,
        breaching: bool,
    ) -> IncidentLabel {
        self.res?;
        let mut counts: Vec<((u32, AnomalyRole), u32)> = Vec::new();
        for i in indices {
            let (start, s) = &e.range[i];
            let Some(s) = s else { continue };
            if breaching && !self.breaches(s) {
                continue;
            }
            if let Some(l) = self.dp_label(*start) {
                match counts.iter_mut().find(|c| c.0 == l) {
                    Some(c) => c.1 += 1,
                    None => counts.push((l, 1)),
                }
            }
        }
        let mut best: Option<((u32, AnomalyRole), u32)> = None;
        for c in counts {
            if best.is_none_or(|b| c.1 > b.1) {
                best = Some(c);
            }
        }
        best.map(|b| b.0)
    }

    /// The label of the ALARM episode the alarm is in at period end `end` (state ALARM):
    /// the label of the evaluation that started it.
    pub fn episode_label(&self, end: Micros) -> IncidentLabel {
        let p = self.period();
        let mut e = end;
        while e > end - EPISODE_HORIZON {
            if self.eval(e - p).state != AlarmState::Alarm {
                return self.label_of(&self.eval(e));
            }
            e -= p;
        }
        None
    }

    /// The incident that changed a datapoint of the ALARM episode the alarm is in at
    /// period end `end`, latest first: an episode that started without an incident (a
    /// near miss breached) and that an incident then prolonged ends when the incident
    /// lets it, not when the twin's does.
    fn episode_changed_by(&self, end: Micros) -> IncidentLabel {
        let p = self.period();
        let mut e = end;
        while e > end - EPISODE_HORIZON {
            let ev = self.eval(e);
            if ev.state != AlarmState::Alarm {
                return None;
            }
            if let Some(l) = self.label_among(&ev, false) {
                return Some(l);
            }
            e -= p;
        }
        None
    }

    /// The label of a transition to `state` at period end `end` from `previous`: the
    /// incident behind the breaching datapoints (or behind the episode it ends), else
    /// one that changed a datapoint it quotes (evaluated, or among the recent ones of its
    /// reason data: a transition the twin may lack or quote otherwise; the tables take the
    /// label off where the twin has the same row).
    fn transition_label(&self, e: &Evaluation, previous: AlarmState) -> IncidentLabel {
        if e.state == AlarmState::Alarm {
            self.label_of(e)
        } else if previous == AlarmState::Alarm {
            let before = e.end - self.period();
            self.episode_label(before)
                .or_else(|| self.episode_changed_by(before))
        } else {
            None
        }
        .or_else(|| self.label_over(e, 0..e.range.len(), false))
    }

    /// When the evaluation of the period ending at `end` is recorded.
    pub fn eval_time(&self, end: Micros) -> Micros {
        let k = mix64(self.inst.key ^ end as u64);
        end + 3 * SECOND + (k % 19_000_000) as Micros
    }
}

/// A state change of an alarm.
#[derive(Debug, Clone)]
pub(crate) struct Transition {
    pub ts: Micros,
    pub alarm: usize,
    pub previous: AlarmState,
    pub eval: Evaluation,
    /// The incident that caused it, if any (see the module documentation).
    pub label: IncidentLabel,
}

/// The state of an alarm entering a range, and the label of its ALARM episode if it is
/// in ALARM.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entering {
    pub state: AlarmState,
    pub label: IncidentLabel,
}

/// The transitions of every alarm ([`DatapointCache::alarm_instances`]) around one hour:
/// those with a timestamp in `[hour - LEAD, hour + 1 h)` and the state of each alarm just
/// before `hour - LEAD`, where `LEAD` is the insights table's paging delay. Computed once
/// per hour and shared: the alarms table and the Grafana annotations keep those from the
/// hour on, the insights table reads them all.
pub(crate) struct HourTransitions {
    pub initial: Vec<Entering>,
    pub changes: Vec<Transition>,
}

/// The shared [`HourTransitions`] of `hour`.
pub(crate) fn hour_transitions(cache: &DatapointCache, hour: Micros) -> Arc<HourTransitions> {
    cache
        .world()
        .shared(("cloudwatch/alarm-transitions", hour), || {
            let (initial, changes) = transitions(cache, hour - PAGE_DELAY, hour + HOUR);
            HourTransitions { initial, changes }
        })
}

/// Every transition with a timestamp in `[from, to)`, sorted by (time, alarm), and the
/// state of each alarm just before `from`. A transition is the same whatever `from` is
/// (its previous state and label come from the evaluations before it).
pub(crate) fn transitions(
    cache: &DatapointCache,
    from: Micros,
    to: Micros,
) -> (Vec<Entering>, Vec<Transition>) {
    let insts = cache.alarm_instances();
    let mut out = Vec::new();
    let mut initial = Vec::with_capacity(insts.len());
    for ai in 0..insts.len() {
        let ev = Evaluator::new(cache, ai);
        let p = ev.period();
        // The last period end recorded before `from` gives the state entering the range.
        let e0 = from - from.rem_euclid(p) - p;
        let mut prev = ev.eval(e0).state;
        let mut prev_end = e0;
        let mut init = None;
        let mut end = e0 + p;
        while end < to {
            let ts = ev.eval_time(end);
            if ts >= to {
                break;
            }
            let e = ev.eval(end);
            if ts >= from {
                init.get_or_insert((prev, prev_end));
                if e.state != prev {
                    out.push(Transition {
                        ts,
                        alarm: ai,
                        previous: prev,
                        label: ev.transition_label(&e, prev),
                        eval: e.clone(),
                    });
                }
            }
            prev = e.state;
            prev_end = end;
            end += p;
        }
        let (state, at) = init.unwrap_or((prev, prev_end));
        initial.push(Entering {
            state,
            label: if state == AlarmState::Alarm {
                ev.episode_label(at)
            } else {
                None
            },
        });
    }
    out.sort_by_key(|t| (t.ts, t.alarm));
    (initial, out)
}

/// How far back the JSON export looks for the transition that entered an alarm's
/// previous state (`previousState` of the EventBridge event).
pub(super) const PREVIOUS_STATE_HORIZON: Micros = 24 * HOUR;

/// The transition that entered the state an alarm leaves at its transition recorded at
/// `ts` (a row of the alarms table): writes that transition's reason and reason data into
/// `reason` and `data` and returns its time, exactly as its own row has them. The alarm
/// is evaluated backwards period by period from the row's evaluation; when the state has
/// not changed within [`PREVIOUS_STATE_HORIZON`], the oldest evaluation looked at stands
/// for it (its reason written as a transition from the opposite state) and `false` is
/// returned with its time.
pub(super) fn entered_previous_state(
    cache: &DatapointCache,
    ai: usize,
    ts: Micros,
    reason: &mut String,
    data: &mut String,
) -> (Micros, bool) {
    let ev = Evaluator::new(cache, ai);
    let inst = ev.inst;
    let p = ev.period();
    let stat = inst.series.statistic;
    let breaches = |s: &StatSet| inst.comparison.breaches(s.get(stat), inst.threshold);
    // The period end the row's evaluation closes (see `Evaluator::eval_time`).
    let end = (ts - 3 * SECOND).div_euclid(p) * p;
    let mut e = end - p;
    let mut cur = ev.eval(e);
    while e - p > end - PREVIOUS_STATE_HORIZON {
        let before = ev.eval(e - p);
        if before.state != cur.state {
            let at = ev.eval_time(e);
            write_reason(reason, inst, &cur, before.state, &breaches);
            write_reason_data(data, inst, &cur, at);
            return (at, true);
        }
        cur = before;
        e -= p;
    }
    let from = match cur.state {
        AlarmState::Ok => AlarmState::Alarm,
        _ => AlarmState::Ok,
    };
    let at = ev.eval_time(e);
    write_reason(reason, inst, &cur, from, &breaches);
    write_reason_data(data, inst, &cur, at);
    (at, false)
}

/// A state change, for other sources (Grafana alert annotations).
#[derive(Debug, Clone)]
pub struct AlarmTransition {
    pub timestamp: Micros,
    pub alarm_name: String,
    pub state: AlarmState,
    pub previous_state: AlarmState,
    /// The service of the alarm's resource (the cluster name for node alarms).
    pub service: String,
    pub namespace: &'static str,
    pub metric: &'static str,
    pub threshold: f64,
    /// The incident that caused the transition (index into the plan), or `u32::MAX`; the
    /// alarms table labels the row with it.
    pub incident: u32,
    /// The role of the alarm's resource in that incident (`None` when normal).
    pub role: AnomalyRole,
}

/// The state changes of every alarm with a timestamp in `[from, to)`, by time: exactly
/// the rows of the alarms table.
pub fn alarm_transitions(world: &World, from: Micros, to: Micros) -> Vec<AlarmTransition> {
    let cache = DatapointCache::new(world);
    let insts = cache.alarm_instances();
    let convert = |t: &Transition| {
        let a = &insts[t.alarm];
        AlarmTransition {
            timestamp: t.ts,
            alarm_name: a.name.clone(),
            state: t.eval.state,
            previous_state: t.previous,
            service: a.service.clone(),
            namespace: a.series.namespace,
            metric: a.series.metric,
            threshold: a.threshold,
            incident: t.label.map_or(u32::MAX, |l| l.0),
            role: t.label.map_or(AnomalyRole::None, |l| l.1),
        }
    };
    if from.rem_euclid(HOUR) == 0 && to == from + HOUR {
        // One hour: the shared transitions of the hour.
        return hour_transitions(&cache, from)
            .changes
            .iter()
            .filter(|t| t.ts >= from)
            .map(convert)
            .collect();
    }
    let (_, ts) = transitions(&cache, from, to);
    ts.iter().map(convert).collect()
}

/// The `id` of the EventBridge event of a transition of `inst` at `ts`: a UUID (version
/// 4 form), a function of the alarm and the time.
fn write_event_uuid(out: &mut impl Write, inst: &AlarmInstance, ts: Micros) {
    super::model::write_uuid(
        out,
        stream(inst.key, &[str_key("eventbridge-id"), ts as u64]),
    );
}

/// `23/11/26 08:41:00`, as CloudWatch writes datapoint times in reasons.
fn write_reason_time(out: &mut impl Write, t: Micros) {
    let c = civil(t);
    let _ = write!(
        out,
        "{:02}/{:02}/{:02} {:02}:{:02}:{:02}",
        c.day,
        c.month,
        c.year.rem_euclid(100),
        c.hour,
        c.minute,
        c.second
    );
}

/// `2026-11-23T08:41:03.532+0000`
pub(crate) fn write_cw_time(out: &mut impl Write, t: Micros) {
    crate::sources::text::timestamp(out, t, b'T', '.', 3);
    let _ = out.write_str("+0000");
}

fn plural(n: u32, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

/// Writes the state reason CloudWatch gives for a transition, returning its template id.
fn write_reason(
    out: &mut impl Write,
    inst: &AlarmInstance,
    ev: &Evaluation,
    prev: AlarmState,
    breaches: &dyn Fn(&StatSet) -> bool,
) -> &'static str {
    let n = inst.evaluation_periods;
    let stat = inst.series.statistic;
    match ev.state {
        AlarmState::InsufficientData => {
            let _ = write!(
                out,
                "Insufficient Data: {n} {} {} unknown.",
                plural(n, "datapoint", "datapoints"),
                plural(n, "was", "were")
            );
            "cloudwatch.alarm.insufficient_data"
        }
        state => {
            let to_alarm = state == AlarmState::Alarm;
            let listed: Vec<usize> = ev
                .evaluated
                .iter()
                .copied()
                .filter(|&i| {
                    ev.range[i]
                        .1
                        .as_ref()
                        .is_some_and(|s| breaches(s) == to_alarm)
                })
                .collect();
            let count = if to_alarm {
                ev.breaching
            } else {
                ev.considered - ev.breaching
            };
            if listed.is_empty() {
                let _ = write!(
                    out,
                    "Threshold Crossed: no datapoints were received for {n} {} and {n} missing {} {} treated as [{}].",
                    plural(n, "period", "periods"),
                    plural(n, "datapoint", "datapoints"),
                    plural(n, "was", "were"),
                    if to_alarm {
                        "Breaching"
                    } else {
                        "NonBreaching"
                    }
                );
                return "cloudwatch.alarm.missing_data_treated";
            }
            let _ = write!(
                out,
                "Threshold Crossed: {count} out of the last {} datapoints [",
                ev.considered
            );
            for (j, &i) in listed.iter().enumerate() {
                if j > 0 {
                    out.write_str(", ").ok();
                }
                let (start, s) = &ev.range[i];
                write_java_double(out, s.map_or(0.0, |s| s.get(stat)));
                out.write_str(" (").ok();
                write_reason_time(out, *start);
                out.write_str(")").ok();
            }
            let minimum = if to_alarm {
                ev.needed
            } else {
                ev.considered + 1 - ev.needed.min(ev.considered)
            };
            let _ = write!(
                out,
                "] {} {}{} the threshold (",
                plural(count, "was", "were"),
                if to_alarm { "" } else { "not " },
                inst.comparison.phrase()
            );
            write_java_double(out, inst.threshold);
            let _ = write!(
                out,
                ") (minimum {minimum} {} for {} -> {} transition).",
                plural(minimum, "datapoint", "datapoints"),
                prev.as_str(),
                state.as_str()
            );
            if to_alarm {
                "cloudwatch.alarm.threshold_crossed"
            } else {
                "cloudwatch.alarm.threshold_recovered"
            }
        }
    }
}

/// Writes the `reasonData` JSON of a transition.
fn write_reason_data(out: &mut impl Write, inst: &AlarmInstance, ev: &Evaluation, ts: Micros) {
    let stat = inst.series.statistic;
    out.write_str("{\"version\":\"1.0\",\"queryDate\":\"").ok();
    write_cw_time(out, ts);
    out.write_str("\",\"startDate\":\"").ok();
    write_cw_time(out, ev.range.last().map_or(ev.end, |r| r.0));
    let _ = write!(
        out,
        "\",\"statistic\":\"{}\",\"period\":{},\"recentDatapoints\":[",
        stat.as_str(),
        inst.series.period_seconds
    );
    let mut first = true;
    for (_, s) in ev.range.iter().rev() {
        if let Some(s) = s {
            if !first {
                out.write_char(',').ok();
            }
            first = false;
            write_java_double(out, s.get(stat));
        }
    }
    out.write_str("],\"threshold\":").ok();
    write_java_double(out, inst.threshold);
    out.write_str(",\"evaluatedDatapoints\":[").ok();
    for (j, &i) in ev.evaluated.iter().enumerate() {
        if j > 0 {
            out.write_char(',').ok();
        }
        let (start, s) = &ev.range[i];
        out.write_str("{\"timestamp\":\"").ok();
        write_cw_time(out, *start);
        out.write_char('"').ok();
        if let Some(s) = s {
            out.write_str(",\"sampleCount\":").ok();
            write_java_double(out, s.count);
            out.write_str(",\"value\":").ok();
            write_java_double(out, s.get(stat));
        }
        out.write_char('}').ok();
    }
    out.write_str("]}").ok();
}

impl Table for Alarms {
    fn source(&self) -> Source {
        Source::Cloudwatch
    }
    fn name(&self) -> &'static str {
        "alarms"
    }
    fn code(&self) -> &'static str {
        "cwa"
    }

    fn schema(&self) -> SchemaRef {
        table_schema(vec![
            Field::new("event_id", DataType::Utf8, false),
            Field::new("alarm_name", DataType::Utf8, false),
            Field::new("alarm_arn", DataType::Utf8, false),
            Field::new("state", DataType::Utf8, false),
            Field::new("previous_state", DataType::Utf8, false),
            Field::new("reason", DataType::Utf8, false),
            Field::new("reason_data", DataType::Utf8, false),
            Field::new("namespace", DataType::Utf8, false),
            Field::new("metric_name", DataType::Utf8, false),
            dimensions_field(),
            Field::new("statistic", DataType::Utf8, false),
            Field::new("threshold", DataType::Float64, false),
            Field::new("comparison", DataType::Utf8, false),
            Field::new("period_seconds", DataType::Int32, false),
            Field::new("evaluation_periods", DataType::Int32, false),
            Field::new("datapoints_to_alarm", DataType::Int32, false),
            Field::new("template_id", DataType::Utf8, false),
        ])
    }

    /// The native JSON of the rows (see `super::native`).
    fn write_native(
        &self,
        world: &World,
        _hour: Micros,
        batch: &RecordBatch,
        out: &mut JsonLines,
    ) -> Result<(), Error> {
        super::native::write_alarms(world, batch, out)
    }

    fn render(&self, world: &World, hour: Micros) -> Result<RecordBatch, ArrowError> {
        let cache = DatapointCache::new(world);
        let insts = cache.alarm_instances();
        let shared = hour_transitions(&cache, hour);
        let rows: Vec<&Transition> = shared.changes.iter().filter(|t| t.ts >= hour).collect();
        let n = rows.len();
        let mut common = CommonColumns::new(self.code(), hour, n);
        let mut event_id = StringBuilder::with_capacity(n, n * 36);
        let mut name = StringBuilder::with_capacity(n, n * 24);
        let mut arn = StringBuilder::with_capacity(n, n * 80);
        let mut state = StringBuilder::with_capacity(n, n * 5);
        let mut previous = StringBuilder::with_capacity(n, n * 5);
        let mut reason = StringBuilder::with_capacity(n, n * 200);
        let mut reason_data = StringBuilder::with_capacity(n, n * 400);
        let mut ns = StringBuilder::with_capacity(n, n * 18);
        let mut metric = StringBuilder::with_capacity(n, n * 20);
        let mut dims = DimensionsBuilder::with_capacity(n);
        let mut statistic = StringBuilder::with_capacity(n, n * 7);
        let mut threshold = Float64Builder::with_capacity(n);
        let mut comparison = StringBuilder::with_capacity(n, n * 24);
        let mut period = Int32Builder::with_capacity(n);
        let mut evals = Int32Builder::with_capacity(n);
        let mut to_alarm = Int32Builder::with_capacity(n);
        let mut template = StringBuilder::with_capacity(n, n * 32);
        for &t in &rows {
            let inst = &insts[t.alarm];
            let stat = inst.series.statistic;
            let cmp = inst.comparison;
            let thr = inst.threshold;
            let breaches = |s: &StatSet| cmp.breaches(s.get(stat), thr);
            let label = match t.label {
                Some((i, role)) => world.label(i, role, t.ts),
                None => Label::NORMAL,
            };
            // An alarm and the instant of its state change.
            let key = stream(
                str_key(&inst.name),
                &[str_key("cloudwatch/alarms"), t.ts as u64],
            );
            common.append(t.ts, key, &inst.service, &label);
            write_event_uuid(&mut event_id, inst, t.ts);
            event_id.append_value("");
            name.append_value(&inst.name);
            arn.append_value(&inst.arn);
            state.append_value(t.eval.state.as_str());
            previous.append_value(t.previous.as_str());
            let tmpl = write_reason(&mut reason, inst, &t.eval, t.previous, &breaches);
            reason.append_value("");
            write_reason_data(&mut reason_data, inst, &t.eval, t.ts);
            reason_data.append_value("");
            ns.append_value(inst.series.namespace);
            metric.append_value(inst.series.metric);
            dims.append(&inst.series.dimensions);
            statistic.append_value(stat.as_str());
            threshold.append_value(thr);
            comparison.append_value(cmp.as_str());
            period.append_value(inst.series.period_seconds as i32);
            evals.append_value(inst.evaluation_periods as i32);
            to_alarm.append_value(inst.datapoints_to_alarm as i32);
            template.append_value(tmpl);
        }
        let own: Vec<ArrayRef> = vec![
            Arc::new(event_id.finish()),
            Arc::new(name.finish()),
            Arc::new(arn.finish()),
            Arc::new(state.finish()),
            Arc::new(previous.finish()),
            Arc::new(reason.finish()),
            Arc::new(reason_data.finish()),
            Arc::new(ns.finish()),
            Arc::new(metric.finish()),
            Arc::new(dims.finish()),
            Arc::new(statistic.finish()),
            Arc::new(threshold.finish()),
            Arc::new(comparison.finish()),
            Arc::new(period.finish()),
            Arc::new(evals.finish()),
            Arc::new(to_alarm.finish()),
            Arc::new(template.finish()),
        ];
        let batch = common.finish(self.schema(), own)?;
        // A transition the twin makes too, with the same datapoints, is not the
        // incident's doing.
        crate::sources::unlabel_as_twin(self, world, hour, batch)
    }
}
