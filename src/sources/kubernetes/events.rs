//! `kubernetes/events`: core/v1 Events consistent with the pod plan (rollouts, scheduling,
//! image pulls, container starts and kills, restarts, evictions), the events incidents
//! make Kubernetes emit (crash-loop back-off, probe failures, node conditions, evictions),
//! plus the benign background noise of a real cluster (probe failures, DNS and metrics
//! warnings).
//!
//! Each row is one occurrence of an event as an event exporter records it: when the same
//! event recurs (a probe failing every period, a container in back-off), Kubernetes
//! updates one Event object, so the rows of such a series share `event_name` and
//! `event_uid`, keep their `first_timestamp` and carry a growing `count`.
//!
//! Labels: a row an incident caused carries that incident (role from
//! [`Incident::involvement`]; `root_cause` for the root entity's own events: the bad or
//! rollback ReplicaSet and its pods, the node's own events, the leaking pod's restarts;
//! `symptom` for pods evicted from or stranded on a failing node and their replacements).
//! Routine lifecycle and background events stay normal during an incident.

use super::native::write_events;
use crate::config::IncidentType;
use crate::error::Error;
use crate::incidents::{FailureKind, Incident, RootEntity};
use crate::labels::AnomalyRole;
use crate::rng::{Rng, str_key, stream, unit};
use crate::sink::JsonLines;
use crate::sources::{CommonColumns, Source, Table, table_schema, timestamp_type};
use crate::time::{HOUR, MINUTE, Micros, SECOND};
use crate::world::pods::{Restart, RolloutCause, uuid_from};
use crate::world::{Pod, PodEnd, RestartReason, World};
use arrow::array::{ArrayRef, Int32Builder, StringBuilder, TimestampMicrosecondBuilder};
use arrow::datatypes::{DataType, Field, SchemaRef};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use std::fmt::Write;
use std::sync::Arc;

pub struct Events;

/// No pod / no incident.
const NONE: u32 = u32::MAX;

/// The kubelet's crash-loop back-off entry expires after twice its 5-minute maximum: a
/// container that crashes again within this time of its last restart is held back.
const BACKOFF_RESET: Micros = 10 * MINUTE;
/// Default probe period (periodSeconds).
const PROBE_PERIOD: Micros = 10 * SECOND;
/// Probability that a readiness probe of a pod an incident hits fails, at full intensity.
const PROBE_FAIL_AT_PEAK: f64 = 0.6;
/// Node lifecycle controller: a node that stops posting status is NotReady after the
/// node-monitor-grace-period.
const NODE_MONITOR_GRACE: Micros = 40 * SECOND;
/// The kubelet's image garbage collection period.
const IMAGE_GC_PERIOD: Micros = 5 * MINUTE;

/// Why a readiness probe fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Probe {
    /// The endpoint does not answer in time (saturation, slow dependencies).
    Timeout,
    /// Nothing listens (the container is crashing).
    Refused,
    /// The endpoint answers with an error status.
    Status(u16),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    ScaledUp {
        to: u32,
    },
    ScaledDown {
        to: u32,
    },
    SuccessfulCreate,
    SuccessfulDelete,
    Scheduled,
    Pulling,
    Pulled,
    PulledPresent,
    Created,
    Started,
    Killing,
    OomKilling,
    UnhealthyReadiness(Probe),
    UnhealthyLiveness,
    DnsConfigForming,
    FailedGetResourceMetric,
    /// The kubelet holds a crashed container back (CrashLoopBackOff).
    BackOff,
    /// The node lifecycle controller marks a pod of an unreachable node not ready.
    PodNodeNotReady,
    /// The taint eviction controller deletes a pod of a NotReady node.
    TaintManagerEviction,
    /// The kubelet evicts a pod from a node under resource pressure.
    Evicted,
    NodeNotReady,
    StartingKubelet,
    NodeReady,
    FreeDiskSpaceFailed,
    NodeHasDiskPressure,
    EvictionThresholdMet,
    NodeHasNoDiskPressure,
    /// A step of a CronJob's scheduled run (`Row::rollout` is the CronJob's index among
    /// [`cron_jobs`], `Row::first` the run's scheduled time).
    Cron(CronStep),
}

/// The events of one CronJob run, in order: the CronJob controller creates the Job, the
/// Job controller its pod, which is scheduled and runs to completion; the CronJob
/// controller then sees the Job complete and deletes the oldest Job beyond its history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum CronStep {
    JobCreated,
    PodCreated,
    Scheduled,
    ImagePresent,
    Created,
    Started,
    Completed,
    SawCompleted,
    JobDeleted,
}

impl Kind {
    /// An event about the Node object alone (no pod).
    fn node_only(self) -> bool {
        matches!(
            self,
            Kind::NodeNotReady
                | Kind::StartingKubelet
                | Kind::NodeReady
                | Kind::FreeDiskSpaceFailed
                | Kind::NodeHasDiskPressure
                | Kind::EvictionThresholdMet
                | Kind::NodeHasNoDiskPressure
        )
    }
}

#[derive(Clone, Copy)]
struct Row {
    ts: Micros,
    kind: Kind,
    /// The pod, or [`NONE`] for events about a Node alone.
    pod: u32,
    /// The node of a node-only event (else that of the pod).
    node: u32,
    /// For rollout events: the rollout whose ReplicaSet is scaled.
    rollout: u32,
    /// The Event object: shared by the occurrences of one aggregated event.
    key: u64,
    /// Occurrences so far, and when the first happened.
    count: u32,
    first: Micros,
    /// The incident that caused the event (index into the plan), or [`NONE`].
    incident: u32,
    role: AnomalyRole,
}

/// The incident behind an event and the role of the event in it.
pub(crate) type Cause = Option<(u32, AnomalyRole)>;

/// Collects the rows of one hour.
struct Collector {
    hour: Micros,
    end: Micros,
    rows: Vec<Row>,
}

impl Collector {
    fn inside(&self, t: Micros) -> bool {
        t >= self.hour && t < self.end
    }

    /// A single-occurrence event about pod `p`.
    fn pod_event(
        &mut self,
        world: &World,
        ts: Micros,
        kind: Kind,
        p: usize,
        rollout: usize,
        cause: Cause,
    ) {
        if !self.inside(ts) {
            return;
        }
        let pod = world.pod(p);
        // A Deployment's own events are keyed by it, not by the pod whose creation or
        // deletion they announce (an incident can have replaced that pod by then).
        let owner = match kind {
            Kind::ScaledUp { .. } | Kind::ScaledDown { .. } => world.service(pod.service).key,
            _ => pod.key,
        };
        self.push(
            Row {
                ts,
                kind,
                pod: p as u32,
                node: pod.node as u32,
                rollout: rollout as u32,
                key: stream(owner, &[ts as u64, kind_code(kind)]),
                count: 1,
                first: ts,
                incident: NONE,
                role: AnomalyRole::None,
            },
            cause,
        );
    }

    fn push(&mut self, mut row: Row, cause: Cause) {
        if let Some((i, role)) = cause {
            row.incident = i;
            row.role = role;
        }
        self.rows.push(row);
    }
}

fn has_effect(t: &IncidentType, name: &str) -> bool {
    t.effects.kubernetes.iter().any(|e| e.value == name)
}

/// The role of events of `service` in `inc`, or `default` if the service is not among the
/// affected ones.
fn role_in(inc: &Incident, service: usize, default: AnomalyRole) -> AnomalyRole {
    inc.involvement(service).map_or(default, |(r, _)| r)
}

fn cause_of(inc: &Incident, service: usize, default: AnomalyRole) -> Cause {
    Some((inc.index as u32, role_in(inc, service, default)))
}

/// The rollout incident behind a rollout: its bad release or its rollback.
fn rollout_cause(world: &World, rollout: usize) -> Cause {
    match world.pods.rollouts[rollout].cause {
        RolloutCause::Bad(i) | RolloutCause::Rollback(i) => {
            world.incidents.incidents.get(i).and_then(|inc| {
                cause_of(
                    inc,
                    world.pods.rollouts[rollout].service,
                    AnomalyRole::RootCause,
                )
            })
        }
        RolloutCause::Routine => None,
    }
}

/// Does the incident act on the containers of pod `p` (its bad release, its leaking slot,
/// its node, or its directly affected service)?
fn acts_on_pod(world: &World, inc: &Incident, p: usize) -> bool {
    match inc.root {
        RootEntity::Deployment(_) => {
            world.pods.rollouts[world.pod(p).rollout].cause == RolloutCause::Bad(inc.index)
        }
        _ => inc.hits_pod(&world.pods, p),
    }
}

/// The node incident that evicted pod `p`, if it ended evicted.
fn eviction_incident(world: &World, p: usize) -> Option<&Incident> {
    let pod = world.pod(p);
    let d = pod.deleted?;
    if pod.end != Some(PodEnd::Evicted) {
        return None;
    }
    world
        .incidents
        .active_at(d)
        .find(|i| i.root == RootEntity::Node(pod.node))
}

/// The pods of `p`'s replica slot, and `p`'s position among them.
fn slot_position(world: &World, p: usize) -> (&[usize], usize) {
    let pod = world.pod(p);
    let slot = &world.pods.slots[pod.service][pod.slot as usize];
    let i = slot.iter().position(|&q| q == p).unwrap_or(0);
    (slot, i)
}

/// Why pod `p` was created: by a bad release or its rollback (root cause), or to replace
/// a pod a node incident evicted (symptom).
/// Was pod `p` created by its rollout (the Deployment scaling the new ReplicaSet up, one
/// pod per slot), rather than by a reschedule or an eviction later on?
fn in_rollout(world: &World, p: usize) -> bool {
    let pod = world.pod(p);
    let ro = &world.pods.rollouts[pod.rollout];
    let replicas = world.service(pod.service).replicas as i64;
    pod.created >= ro.at && pod.created - ro.at < ro.stagger * replicas + SECOND
}

/// The incident that made pod `p` exist (a bad release, its rollback, the eviction of its
/// predecessor), if any: what the pod writes as it starts is that incident's doing.
pub(crate) fn created_by(world: &World, p: usize) -> Cause {
    creation_cause(world, p, in_rollout(world, p))
}

/// The incident that deleted pod `p` (a bad release or its rollback replacing it, an
/// eviction), if any: what the pod writes as it stops is that incident's doing.
pub(crate) fn deleted_by(world: &World, p: usize) -> Cause {
    deletion_cause(world, p)
}

fn creation_cause(world: &World, p: usize, in_rollout: bool) -> Cause {
    let pod = world.pod(p);
    if in_rollout && let Some(c) = rollout_cause(world, pod.rollout) {
        return Some(c);
    }
    let (slot, i) = slot_position(world, p);
    let prev = *slot.get(i.checked_sub(1)?)?;
    let d = world.pod(prev).deleted?;
    if pod.created < d || pod.created - d > 5 * SECOND {
        return None;
    }
    let inc = eviction_incident(world, prev)?;
    cause_of(inc, pod.service, AnomalyRole::Symptom)
}

/// Why pod `p` was deleted: replaced by a bad release or its rollback, or evicted.
fn deletion_cause(world: &World, p: usize) -> Cause {
    let pod = world.pod(p);
    match pod.end? {
        PodEnd::Rollout => {
            let (slot, i) = slot_position(world, p);
            let next = *slot.get(i + 1)?;
            rollout_cause(world, world.pod(next).rollout)
        }
        PodEnd::Evicted => {
            let inc = eviction_incident(world, p)?;
            cause_of(inc, pod.service, AnomalyRole::Symptom)
        }
        PodEnd::Rescheduled => None,
    }
}

/// The incident that crashed a container (an OOM kill of the leaking pod, a crash of a bad
/// release): one acting on the pod, with a crash effect, active when it died.
fn restart_cause(world: &World, p: usize, r: &Restart) -> Cause {
    let pod = world.pod(p);
    world
        .incidents
        .active_at(r.at)
        .find(|inc| {
            let t = &world.config.incidents.types[inc.type_index];
            let crashes = has_effect(t, "oom_kill")
                || has_effect(t, "crash_loop")
                || has_effect(t, "restart_backoff");
            crashes && acts_on_pod(world, inc, p)
        })
        .and_then(|inc| cause_of(inc, pod.service, AnomalyRole::RootCause))
}

impl Table for Events {
    fn source(&self) -> Source {
        Source::Kubernetes
    }
    fn name(&self) -> &'static str {
        "events"
    }
    fn code(&self) -> &'static str {
        "kev"
    }

    fn schema(&self) -> SchemaRef {
        table_schema(vec![
            Field::new("namespace", DataType::Utf8, false),
            Field::new("event_name", DataType::Utf8, false),
            Field::new("event_uid", DataType::Utf8, false),
            Field::new("involved_object_kind", DataType::Utf8, false),
            Field::new("involved_object_name", DataType::Utf8, false),
            Field::new("involved_object_uid", DataType::Utf8, false),
            Field::new("field_path", DataType::Utf8, true),
            Field::new("reason", DataType::Utf8, false),
            Field::new("type", DataType::Utf8, false),
            Field::new("message", DataType::Utf8, false),
            Field::new("count", DataType::Int32, false),
            Field::new("first_timestamp", timestamp_type(), false),
            Field::new("source_component", DataType::Utf8, false),
            Field::new("source_host", DataType::Utf8, true),
            Field::new("pod", DataType::Utf8, true),
            Field::new("node", DataType::Utf8, true),
            Field::new("template_id", DataType::Utf8, false),
        ])
    }

    /// One core/v1 Event object per row (see `native`).
    fn write_native(
        &self,
        _world: &World,
        _hour: Micros,
        batch: &RecordBatch,
        out: &mut JsonLines,
    ) -> Result<(), Error> {
        write_events(batch, out)
    }

    fn render(&self, world: &World, hour: Micros) -> Result<RecordBatch, ArrowError> {
        let end = hour + HOUR;
        let mut c = Collector {
            hour,
            end,
            rows: Vec::new(),
        };
        for s in 0..world.topology.services.len() {
            for p in world.pods.pods_overlapping(s, hour - HOUR, end) {
                lifecycle(world, p, &mut c);
            }
        }
        probe_failures(world, &mut c);
        node_conditions(world, &mut c);
        background(world, &mut c);
        kubelet_restarts(world, &mut c);
        let crons = cron_jobs(world);
        cron_runs(world, &crons, &mut c);
        let mut rows = c.rows;
        rows.sort_by_key(|r| (r.ts, r.pod, r.node, r.kind, r.key));
        self.write(world, hour, &rows, &crons)
    }
}

/// The events of one pod's life: creation (by a rollout, a reschedule or an eviction),
/// container starts, crashes and back-off, deletion.
fn lifecycle(world: &World, p: usize, c: &mut Collector) {
    let pod = world.pod(p);
    let svc = world.service(pod.service);
    let ro_i = pod.rollout;
    let ro = &world.pods.rollouts[ro_i];
    let in_rollout = in_rollout(world, p);
    let created = creation_cause(world, p, in_rollout);
    if in_rollout && ro.previous.is_some() {
        c.pod_event(
            world,
            pod.created - 1_000,
            Kind::ScaledUp { to: pod.slot + 1 },
            p,
            ro_i,
            created,
        );
    }
    c.pod_event(world, pod.created, Kind::SuccessfulCreate, p, ro_i, created);
    c.pod_event(world, pod.scheduled, Kind::Scheduled, p, ro_i, created);
    c.pod_event(world, pod.pulling, Kind::Pulling, p, ro_i, created);
    c.pod_event(world, pod.pulled, Kind::Pulled, p, ro_i, created);
    c.pod_event(
        world,
        pod.started - 250_000,
        Kind::Created,
        p,
        ro_i,
        created,
    );
    c.pod_event(world, pod.started, Kind::Started, p, ro_i, created);
    restarts(world, p, c);
    let Some(d) = pod.deleted else {
        return;
    };
    let deleted = deletion_cause(world, p);
    match pod.end {
        Some(PodEnd::Evicted) => match eviction_incident(world, p) {
            Some(inc) if has_effect(&world.config.incidents.types[inc.type_index], "eviction") => {
                // The kubelet evicts the pod (it stays Failed; the ReplicaSet replaces it).
                c.pod_event(world, d - 50_000, Kind::Evicted, p, ro_i, deleted);
                c.pod_event(world, d, Kind::Killing, p, ro_i, deleted);
            }
            Some(inc) => {
                // The node is unreachable: the taint eviction controller deletes the pod;
                // its kubelet only stops the container once the node is back.
                c.pod_event(
                    world,
                    d - 30_000,
                    Kind::TaintManagerEviction,
                    p,
                    ro_i,
                    deleted,
                );
                if d >= inc.recovery {
                    c.pod_event(world, d + 400_000, Kind::Killing, p, ro_i, deleted);
                }
            }
            None => {
                c.pod_event(world, d - 1_000, Kind::SuccessfulDelete, p, ro_i, deleted);
                c.pod_event(world, d, Kind::Killing, p, ro_i, deleted);
            }
        },
        _ => {
            if pod.end == Some(PodEnd::Rollout) {
                c.pod_event(
                    world,
                    d - 2_000,
                    Kind::ScaledDown {
                        to: svc.replicas.saturating_sub(pod.slot + 1),
                    },
                    p,
                    ro_i,
                    deleted,
                );
            }
            c.pod_event(world, d - 1_000, Kind::SuccessfulDelete, p, ro_i, deleted);
            c.pod_event(world, d, Kind::Killing, p, ro_i, deleted);
        }
    }
}

/// Container restarts: the OOM kill on the node, the kubelet's back-off while a container
/// that crashed again soon after its last restart is held back, and the new container.
fn restarts(world: &World, p: usize, c: &mut Collector) {
    let pod = world.pod(p);
    let ro_i = pod.rollout;
    // The current back-off series: its Event key, first occurrence and count.
    let mut series: Option<(u64, Micros, u32)> = None;
    let mut last_start: Option<Micros> = None;
    for r in &pod.restarts {
        let cause = restart_cause(world, p, r);
        if r.reason == RestartReason::OomKilled {
            c.pod_event(world, r.at, Kind::OomKilling, p, ro_i, cause);
        }
        let started = r.started();
        let held_back = last_start.is_some_and(|s| r.at - s <= BACKOFF_RESET);
        if !held_back {
            series = None;
        } else {
            // The kubelet syncs the pod about every 10 s while the back-off lasts.
            let mut rng = Rng::new(stream(pod.key, &[str_key("backoff"), r.at as u64]));
            let mut t = r.at + 800_000 + rng.below(700_000) as Micros;
            if t >= started {
                t = r.at + (started - r.at) / 2;
            }
            loop {
                let (key, first, n) = series.get_or_insert((
                    stream(pod.key, &[str_key("backoff-event"), t as u64]),
                    t,
                    0,
                ));
                *n += 1;
                if c.inside(t) {
                    c.push(
                        Row {
                            ts: t,
                            kind: Kind::BackOff,
                            pod: p as u32,
                            node: pod.node as u32,
                            rollout: ro_i as u32,
                            key: *key,
                            count: *n,
                            first: *first,
                            incident: NONE,
                            role: AnomalyRole::None,
                        },
                        cause,
                    );
                }
                t += PROBE_PERIOD + rng.below(2 * SECOND as u64) as Micros;
                if t >= started {
                    break;
                }
            }
        }
        c.pod_event(
            world,
            started - 600_000,
            Kind::PulledPresent,
            p,
            ro_i,
            cause,
        );
        c.pod_event(world, started - 250_000, Kind::Created, p, ro_i, cause);
        c.pod_event(world, started, Kind::Started, p, ro_i, cause);
        last_start = Some(started);
    }
}

/// The readiness probe failures of the pods an incident with `probe_failures` acts on:
/// every probe period, a failure with a probability that follows the incident's
/// intensity; the failures of one pod in one incident update one Event.
fn probe_failures(world: &World, c: &mut Collector) {
    for inc in world.incidents.overlapping(c.hour - 30 * MINUTE, c.end) {
        let t = &world.config.incidents.types[inc.type_index];
        if !has_effect(t, "probe_failures") {
            continue;
        }
        let probe = match inc.impact.failure {
            Some(FailureKind::ConnectionRefused) => Probe::Status(503),
            Some(FailureKind::Regression | FailureKind::OutOfMemory | FailureKind::Io) => {
                Probe::Status(500)
            }
            _ => Probe::Timeout,
        };
        for a in inc.affected.iter().filter(|a| a.depth == 0) {
            let stop = inc.end + a.lag;
            if stop <= c.hour || inc.start >= c.end {
                continue;
            }
            let role = role_in(inc, a.service, AnomalyRole::RootCause);
            for p in world.pods.pods_overlapping(a.service, inc.start, stop) {
                if !acts_on_pod(world, inc, p) {
                    continue;
                }
                let pod = world.pod(p);
                // Probes run from the container start, on the pod's own period phase.
                let phase = (pod.key % PROBE_PERIOD as u64) as Micros;
                let from = inc.start.max(pod.started + PROBE_PERIOD);
                let mut t = from - (from - phase).rem_euclid(PROBE_PERIOD) + PROBE_PERIOD;
                let to = stop.min(pod.deleted.unwrap_or(Micros::MAX)).min(c.end);
                let key = stream(pod.key, &[str_key("probe-event"), inc.key]);
                let mut count = 0;
                let mut first = 0;
                while t < to {
                    let running = !pod.restarts.iter().any(|r| r.down_at(t));
                    let p_fail = PROBE_FAIL_AT_PEAK * inc.intensity(t, a.lag);
                    if running && p_fail > 0.0 && unit(stream(key, &[t as u64])) < p_fail {
                        // A restarted container refuses connections until it listens.
                        let starting = pod.restarts.iter().any(|r| t >= r.started() && t < r.back);
                        let probe = if starting { Probe::Refused } else { probe };
                        count += 1;
                        if count == 1 {
                            first = t;
                        }
                        if c.inside(t) {
                            c.push(
                                Row {
                                    ts: t,
                                    kind: Kind::UnhealthyReadiness(probe),
                                    pod: p as u32,
                                    node: pod.node as u32,
                                    rollout: pod.rollout as u32,
                                    key,
                                    count,
                                    first,
                                    incident: NONE,
                                    role: AnomalyRole::None,
                                },
                                Some((inc.index as u32, role)),
                            );
                        }
                    }
                    t += PROBE_PERIOD;
                }
            }
        }
    }
}

/// Node incidents: the node's own condition events (root cause) and the events of the
/// pods stranded on it (symptom). Evictions are planned with the pods (see [`lifecycle`]).
fn node_conditions(world: &World, c: &mut Collector) {
    for inc in world.incidents.overlapping(c.hour - 30 * MINUTE, c.end) {
        let RootEntity::Node(n) = inc.root else {
            continue;
        };
        let t = &world.config.incidents.types[inc.type_index];
        let node_key = stream(inc.key, &[str_key("node-events")]);
        let mut rng = Rng::new(node_key);
        let cause = Some((inc.index as u32, AnomalyRole::RootCause));
        // One Event (a series of `times`) about the node.
        let series = |kind: Kind, times: &[Micros], c: &mut Collector| {
            let key = stream(node_key, &[kind_code(kind)]);
            for (k, &ts) in times.iter().enumerate() {
                if c.inside(ts) {
                    c.push(
                        Row {
                            ts,
                            kind,
                            pod: NONE,
                            node: n as u32,
                            rollout: 0,
                            key,
                            count: k as u32 + 1,
                            first: times[0],
                            incident: NONE,
                            role: AnomalyRole::None,
                        },
                        cause,
                    );
                }
            }
        };
        if has_effect(t, "node_not_ready") {
            // The node stops posting status at the onset; the node lifecycle controller
            // notices after its grace period and marks the node's pods not ready.
            let detect = (inc.onset + NODE_MONITOR_GRACE).min(inc.recovery - SECOND);
            series(Kind::NodeNotReady, &[detect], c);
            for s in 0..world.topology.services.len() {
                for p in world.pods.pods_overlapping(s, detect, detect + 1) {
                    let pod = world.pod(p);
                    if pod.node == n && pod.alive_at(detect) && pod.started <= detect {
                        let ts = detect + 20_000 + (pod.key % 300_000) as Micros;
                        c.pod_event(
                            world,
                            ts,
                            Kind::PodNodeNotReady,
                            p,
                            pod.rollout,
                            cause_of(inc, s, AnomalyRole::Symptom),
                        );
                    }
                }
            }
            // The node comes back: its kubelet starts and reports Ready.
            let back = inc.recovery + rng.below(5 * SECOND as u64) as Micros;
            series(Kind::StartingKubelet, &[back], c);
            let ready = back + 4 * SECOND + rng.below(8 * SECOND as u64) as Micros;
            series(Kind::NodeReady, &[ready], c);
        }
        if has_effect(t, "node_condition") {
            // Image garbage collection cannot free enough space (every GC period from the
            // middle of the precursor), then the DiskPressure condition.
            let mut gc = Vec::new();
            let mut ts =
                inc.start + (inc.onset - inc.start) / 2 + rng.below(20 * SECOND as u64) as Micros;
            while ts < inc.recovery {
                gc.push(ts);
                ts += IMAGE_GC_PERIOD;
            }
            series(Kind::FreeDiskSpaceFailed, &gc, c);
            series(Kind::NodeHasDiskPressure, &[inc.onset], c);
            let clear = inc.recovery + rng.below(20 * SECOND as u64) as Micros;
            series(Kind::NodeHasNoDiskPressure, &[clear], c);
        }
        if has_effect(t, "eviction") {
            // The eviction manager, every sync while the threshold is met.
            let mut met = Vec::new();
            let mut ts = inc.onset + SECOND + rng.below(3 * SECOND as u64) as Micros;
            while ts < inc.recovery && met.len() < 25 {
                met.push(ts);
                ts += PROBE_PERIOD + rng.below(20 * SECOND as u64) as Micros;
            }
            series(Kind::EvictionThresholdMet, &met, c);
        }
    }
}

/// Benign background noise: probe failures (a readiness failure repeats at the probe
/// period, one to three times), DNS and HPA warnings. Draws of the previous hour may
/// repeat into this one. Each event draws from a stream of its own, so one that finds
/// no serving pod here but does in the twin (an incident took the pods out of service)
/// leaves the others as they are.
fn background(world: &World, c: &mut Collector) {
    let cfg = &world.config.generation.sources.kubernetes.events;
    for h in [c.hour - HOUR, c.hour] {
        const BACKGROUND: u64 = str_key("kubernetes/events/background");
        let mut rng = Rng::derive(world.seed, &[BACKGROUND, h as u64]);
        let n = rng.poisson(
            cfg.background_per_hour.0 * world.scale * world.traffic.global(h + 30 * MINUTE).sqrt(),
        );
        for k in 0..n {
            let mut rng = Rng::derive(world.seed, &[BACKGROUND, h as u64, k + 1]);
            let ts = h + rng.below(HOUR as u64) as Micros;
            let s = rng.index(world.topology.services.len());
            let Some(p) = world.pods.serving_pod(s, ts, rng.next_u64()) else {
                continue;
            };
            let pod = world.pod(p);
            let x = rng.f64();
            let key = rng.next_u64();
            let (kind, repeats) = if x < 0.7 {
                (
                    Kind::UnhealthyReadiness(Probe::Timeout),
                    1 + rng.below(3) as u32,
                )
            } else if x < 0.8 {
                (Kind::UnhealthyLiveness, 1)
            } else if x < 0.92 {
                (Kind::DnsConfigForming, 1)
            } else {
                (Kind::FailedGetResourceMetric, 1)
            };
            for k in 0..repeats {
                let t = ts + k as Micros * PROBE_PERIOD;
                if c.inside(t) {
                    c.rows.push(Row {
                        ts: t,
                        kind,
                        pod: p as u32,
                        node: pod.node as u32,
                        rollout: pod.rollout as u32,
                        key,
                        count: k + 1,
                        first: ts,
                        incident: NONE,
                        role: AnomalyRole::None,
                    });
                }
            }
        }
    }
}

/// Kubelet restarts per node and day on ordinary days (a configuration rollout, a
/// certificate rotation, a package update): the kubelet starts again, reports its
/// conditions and Ready within seconds, and the node's pods keep running.
const KUBELET_RESTARTS_PER_NODE_DAY: f64 = 0.3;

/// The events of a kubelet restart: `Starting kubelet.`, the disk condition it reports
/// when it comes up (`NodeHasNoDiskPressure`) and `NodeReady`, the same events a node
/// coming back from a failure writes. Draws of the previous hour may reach into this one.
fn kubelet_restarts(world: &World, c: &mut Collector) {
    for h in [c.hour - HOUR, c.hour] {
        for (n, node) in world.topology.nodes.iter().enumerate() {
            let mut rng = Rng::derive(
                world.seed,
                &[
                    str_key("kubernetes/events/kubelet-restart"),
                    h as u64,
                    str_key(&node.name),
                ],
            );
            if !rng.chance(KUBELET_RESTARTS_PER_NODE_DAY / 24.0) {
                continue;
            }
            let start = h + rng.below(HOUR as u64) as Micros;
            let key = rng.next_u64();
            let conditions = start + 800_000 + rng.below(1_500_000) as Micros;
            let ready = start + 4 * SECOND + rng.below(8 * SECOND as u64) as Micros;
            for (kind, ts) in [
                (Kind::StartingKubelet, start),
                (Kind::NodeHasNoDiskPressure, conditions),
                (Kind::NodeReady, ready),
            ] {
                if c.inside(ts) {
                    c.rows.push(Row {
                        ts,
                        kind,
                        pod: NONE,
                        node: n as u32,
                        rollout: 0,
                        key: stream(key, &[kind_code(kind)]),
                        count: 1,
                        first: ts,
                        incident: NONE,
                        role: AnomalyRole::None,
                    });
                }
            }
        }
    }
}

/// A CronJob of the cluster: every worker service reconciles on a schedule, every
/// service with a database prunes it; their runs write most of a real cluster's Normal
/// events on an ordinary day.
struct CronJobDef {
    name: String,
    service: usize,
    /// Time between runs, and the schedule's offset within it.
    every: Micros,
    offset: Micros,
    /// Median run time of the Job's pod.
    median_run: f64,
    key: u64,
}

/// Successful Jobs a CronJob keeps (`successfulJobsHistoryLimit`, default 3): each run,
/// once complete, deletes the Job this many runs back.
const CRON_HISTORY: i64 = 3;

/// The cluster's CronJobs, in service order.
fn cron_jobs(world: &World) -> Vec<CronJobDef> {
    let mut out = Vec::new();
    for (s, svc) in world.topology.services.iter().enumerate() {
        let mut add = |suffix: &str, every: Micros, median_run: f64| {
            let name = format!("{}-{suffix}", svc.name);
            let key = stream(world.seed, &[str_key("kubernetes/cronjob"), str_key(&name)]);
            out.push(CronJobDef {
                offset: (key % (every / MINUTE) as u64) as Micros * MINUTE,
                name,
                service: s,
                every,
                median_run,
                key,
            });
        };
        if svc.kind == crate::config::ServiceKind::Worker {
            add("reconcile", 15 * MINUTE, 20.0);
        }
        if !svc.rds.is_empty() {
            add("db-cleanup", HOUR, 45.0);
        }
    }
    out
}

/// The events of the CronJob runs reaching into this hour (a run scheduled up to an hour
/// before can complete in it). A run is the same whatever the incidents do: part of the
/// normal world, in the twin alike.
fn cron_runs(world: &World, crons: &[CronJobDef], c: &mut Collector) {
    let nodes = world.topology.nodes.len().max(1) as u64;
    for (ci, cj) in crons.iter().enumerate() {
        let first = (c.hour - HOUR - cj.offset).div_euclid(cj.every) * cj.every + cj.offset;
        let mut sched = first;
        while sched < c.end {
            let key = stream(cj.key, &[sched as u64]);
            let mut rng = Rng::new(key);
            let node = (crate::rng::mix64(key ^ 0x6e6f_6465) % nodes) as u32;
            let mut t = sched + 50_000 + rng.below(900_000) as Micros;
            let mut steps = Vec::with_capacity(9);
            steps.push((CronStep::JobCreated, t));
            t += 20_000 + rng.below(60_000) as Micros;
            steps.push((CronStep::PodCreated, t));
            t += 5_000 + rng.below(40_000) as Micros;
            steps.push((CronStep::Scheduled, t));
            t += 600_000 + rng.below(1_200_000) as Micros;
            steps.push((CronStep::ImagePresent, t));
            t += 60_000 + rng.below(150_000) as Micros;
            steps.push((CronStep::Created, t));
            t += 150_000 + rng.below(400_000) as Micros;
            steps.push((CronStep::Started, t));
            t += (rng.lognormal(cj.median_run, 0.4) * SECOND as f64) as Micros;
            steps.push((CronStep::Completed, t));
            // The CronJob controller notices on its next sync (every 10 s).
            t += 200_000 + rng.below(10 * SECOND as u64) as Micros;
            steps.push((CronStep::SawCompleted, t));
            steps.push((
                CronStep::JobDeleted,
                t + 3_000 + rng.below(20_000) as Micros,
            ));
            for (step, ts) in steps {
                if c.inside(ts) {
                    c.rows.push(Row {
                        ts,
                        kind: Kind::Cron(step),
                        pod: NONE,
                        node,
                        rollout: ci as u32,
                        key: stream(key, &[step as u64]),
                        count: 1,
                        first: sched,
                        incident: NONE,
                        role: AnomalyRole::None,
                    });
                }
            }
            sched += cj.every;
        }
    }
}

/// The pod of a Job: the Job's name and five characters of Kubernetes' name alphabet.
fn cron_pod_name(job: &str, sched: Micros) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut name = String::with_capacity(job.len() + 6);
    name.push_str(job);
    name.push('-');
    let mut k = crate::rng::mix64(str_key(job) ^ sched as u64);
    for _ in 0..5 {
        name.push(ALPHABET[(k % ALPHABET.len() as u64) as usize] as char);
        k /= ALPHABET.len() as u64;
    }
    name
}

/// Writes the message of a CronJob run's event; returns the reason and the template id.
#[allow(clippy::too_many_arguments)]
fn cron_message(
    message: &mut StringBuilder,
    step: CronStep,
    cj: &CronJobDef,
    svc: &crate::world::ServiceInfo,
    (job, sched): (&str, Micros),
    pod: &str,
    node: &str,
    registry: &str,
) -> (&'static str, &'static str) {
    match step {
        CronStep::JobCreated => {
            let _ = write!(message, "Created job {job}");
            ("SuccessfulCreate", "k8s.cronjob.created_job")
        }
        CronStep::PodCreated => {
            let _ = write!(message, "Created pod: {pod}");
            ("SuccessfulCreate", "k8s.job.created_pod")
        }
        CronStep::Scheduled => {
            let _ = write!(
                message,
                "Successfully assigned {}/{pod} to {node}",
                svc.namespace
            );
            ("Scheduled", "k8s.pod.scheduled")
        }
        CronStep::ImagePresent => {
            let _ = write!(
                message,
                "Container image \"{registry}/{}-jobs:v1\" already present on machine",
                svc.name
            );
            ("Pulled", "k8s.pod.image_present")
        }
        CronStep::Created => {
            let _ = write!(message, "Created container job");
            ("Created", "k8s.pod.created_container")
        }
        CronStep::Started => {
            let _ = write!(message, "Started container job");
            ("Started", "k8s.pod.started_container")
        }
        CronStep::Completed => {
            let _ = write!(message, "Job completed");
            ("Completed", "k8s.job.completed")
        }
        CronStep::SawCompleted => {
            let _ = write!(message, "Saw completed job: {job}, condition: Complete");
            ("SawCompletedJob", "k8s.cronjob.saw_completed_job")
        }
        CronStep::JobDeleted => {
            let old = (sched - CRON_HISTORY * cj.every).div_euclid(MINUTE);
            let _ = write!(message, "Deleted job {}-{old}", cj.name);
            ("SuccessfulDelete", "k8s.cronjob.deleted_job")
        }
    }
}

fn kind_code(k: Kind) -> u64 {
    match k {
        Kind::ScaledUp { to } => 100 + to as u64,
        Kind::ScaledDown { to } => 200 + to as u64,
        other => str_key(&format!("{other:?}")),
    }
}

impl Events {
    fn write(
        &self,
        world: &World,
        hour: Micros,
        rows: &[Row],
        crons: &[CronJobDef],
    ) -> Result<RecordBatch, ArrowError> {
        let n = rows.len();
        let mut common = CommonColumns::new(self.code(), hour, n);
        let mut namespace = StringBuilder::with_capacity(n, n * 10);
        let mut event_name = StringBuilder::with_capacity(n, n * 48);
        let mut event_uid = StringBuilder::with_capacity(n, n * 36);
        let mut obj_kind = StringBuilder::with_capacity(n, n * 6);
        let mut obj_name = StringBuilder::with_capacity(n, n * 32);
        let mut obj_uid = StringBuilder::with_capacity(n, n * 36);
        let mut field_path = StringBuilder::with_capacity(n, n * 24);
        let mut reason = StringBuilder::with_capacity(n, n * 10);
        let mut typ = StringBuilder::with_capacity(n, n * 7);
        let mut message = StringBuilder::with_capacity(n, n * 100);
        let mut count = Int32Builder::with_capacity(n);
        let mut first = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
        let mut source = StringBuilder::with_capacity(n, n * 16);
        let mut host = StringBuilder::with_capacity(n, n * 28);
        let mut pod_col = StringBuilder::with_capacity(n, n * 32);
        let mut node_col = StringBuilder::with_capacity(n, n * 28);
        let mut template = StringBuilder::with_capacity(n, n * 24);
        let registry = &world.config.services.cluster.registry;
        let cluster = &world.config.services.cluster.name;
        for r in rows {
            if let Kind::Cron(step) = r.kind {
                let cj = &crons[r.rollout as usize];
                let svc = world.service(cj.service);
                let node = &world.topology.nodes[r.node as usize];
                let job = format!("{}-{}", cj.name, r.first.div_euclid(MINUTE));
                let pod = cron_pod_name(&job, r.first);
                let (kind, component, object, obj_key) = match step {
                    CronStep::JobCreated | CronStep::SawCompleted | CronStep::JobDeleted => {
                        ("CronJob", "cronjob-controller", cj.name.clone(), cj.key)
                    }
                    CronStep::PodCreated | CronStep::Completed => (
                        "Job",
                        "job-controller",
                        job.clone(),
                        stream(cj.key, &[r.first as u64]),
                    ),
                    CronStep::Scheduled => (
                        "Pod",
                        "default-scheduler",
                        pod.clone(),
                        stream(cj.key, &[r.first as u64, 1]),
                    ),
                    _ => (
                        "Pod",
                        "kubelet",
                        pod.clone(),
                        stream(cj.key, &[r.first as u64, 1]),
                    ),
                };
                namespace.append_value(&svc.namespace);
                obj_kind.append_value(kind);
                obj_name.append_value(&object);
                obj_uid.append_value(uuid_from(obj_key));
                let _ = write!(
                    event_name,
                    "{object}.{:016x}",
                    (r.ts as u64).wrapping_mul(1000) ^ (r.key & 0xfff)
                );
                event_name.append_value("");
                event_uid.append_value(uuid_from(r.key));
                let container = matches!(
                    step,
                    CronStep::ImagePresent | CronStep::Created | CronStep::Started
                );
                if container {
                    field_path.append_value("spec.containers{job}");
                } else {
                    field_path.append_null();
                }
                let (reason_s, tmpl) = cron_message(
                    &mut message,
                    step,
                    cj,
                    svc,
                    (&job, r.first),
                    &pod,
                    &node.name,
                    registry,
                );
                message.append_value("");
                reason.append_value(reason_s);
                typ.append_value("Normal");
                count.append_value(1);
                first.append_value(r.ts);
                source.append_value(component);
                if component == "kubelet" {
                    host.append_value(&node.name);
                } else {
                    host.append_null();
                }
                if kind == "Pod" || step == CronStep::PodCreated {
                    pod_col.append_value(&pod);
                } else {
                    pod_col.append_null();
                }
                if kind == "Pod" {
                    node_col.append_value(&node.name);
                } else {
                    node_col.append_null();
                }
                template.append_value(tmpl);
                const OCCURRENCE: u64 = str_key("kubernetes/events");
                let id = stream(r.key, &[OCCURRENCE, 1]);
                common.append(
                    r.ts,
                    id,
                    &svc.name,
                    &world.label(NONE, AnomalyRole::None, r.ts),
                );
                continue;
            }
            let pod: Option<&Pod> = (r.pod != NONE).then(|| world.pod(r.pod as usize));
            let svc = pod.map(|p| world.service(p.service));
            let node = &world.topology.nodes[r.node as usize];
            let ro = &world.pods.rollouts[r.rollout as usize];
            let mut rng = Rng::new(r.key ^ r.ts as u64);
            // Involved object and reporter.
            let (kind, component, on_node) = match r.kind {
                Kind::ScaledUp { .. } | Kind::ScaledDown { .. } => {
                    ("Deployment", "deployment-controller", false)
                }
                Kind::SuccessfulCreate | Kind::SuccessfulDelete => {
                    ("ReplicaSet", "replicaset-controller", false)
                }
                Kind::Scheduled => ("Pod", "default-scheduler", false),
                Kind::OomKilling => ("Node", "kernel-monitor", true),
                Kind::FailedGetResourceMetric => (
                    "HorizontalPodAutoscaler",
                    "horizontal-pod-autoscaler",
                    false,
                ),
                Kind::PodNodeNotReady => ("Pod", "node-controller", false),
                Kind::TaintManagerEviction => ("Pod", "taint-eviction-controller", false),
                Kind::NodeNotReady => ("Node", "node-controller", false),
                k if k.node_only() => ("Node", "kubelet", true),
                _ => ("Pod", "kubelet", true),
            };
            obj_kind.append_value(kind);
            // The name and key of the involved object.
            let (name, obj_key): (&str, u64) = match (kind, pod, svc) {
                ("Node", _, _) => (&node.name, str_key(&node.name)),
                ("Deployment" | "HorizontalPodAutoscaler", _, Some(s)) => (&s.name, s.key),
                ("ReplicaSet", _, Some(s)) => (&s.name, stream(s.key, &[str_key(&ro.rs_hash)])),
                (_, Some(p), _) => (&p.name, p.key),
                _ => (&node.name, str_key(&node.name)),
            };
            let _ = write!(obj_name, "{name}");
            if kind == "ReplicaSet" {
                let _ = write!(obj_name, "-{}", ro.rs_hash);
            }
            obj_name.append_value("");
            obj_uid.append_value(uuid_from(obj_key));
            // Event name: <object>.<16 hex> (from its first occurrence: updates of an
            // aggregated event keep the name).
            let _ = write!(event_name, "{name}");
            if kind == "ReplicaSet" {
                let _ = write!(event_name, "-{}", ro.rs_hash);
            }
            let _ = write!(
                event_name,
                ".{:016x}",
                (r.first as u64).wrapping_mul(1000) ^ (r.key & 0xfff)
            );
            event_name.append_value("");
            event_uid.append_value(uuid_from(r.key));
            let container_event = matches!(
                r.kind,
                Kind::Pulling
                    | Kind::Pulled
                    | Kind::PulledPresent
                    | Kind::Created
                    | Kind::Started
                    | Kind::Killing
                    | Kind::UnhealthyReadiness(_)
                    | Kind::UnhealthyLiveness
                    | Kind::BackOff
            );
            match svc {
                Some(s) if container_event => {
                    let _ = write!(field_path, "spec.containers{{{}}}", s.name);
                    field_path.append_value("");
                }
                _ => field_path.append_null(),
            }
            let (reason_s, warning, tmpl) = match (pod, svc) {
                (Some(pod), Some(svc)) => {
                    pod_message(&mut message, r, pod, svc, node, ro, registry, &mut rng)
                }
                _ => node_message(&mut message, r.kind, &node.name),
            };
            message.append_value("");
            reason.append_value(reason_s);
            typ.append_value(if warning { "Warning" } else { "Normal" });
            count.append_value(r.count as i32);
            first.append_value(r.first);
            source.append_value(component);
            if on_node {
                host.append_value(&node.name);
            } else {
                host.append_null();
            }
            let ns = match svc {
                Some(s) if kind != "Node" => s.namespace.as_str(),
                _ => "default",
            };
            namespace.append_value(ns);
            match pod {
                Some(p) if kind == "Pod" || kind == "ReplicaSet" || kind == "Node" => {
                    pod_col.append_value(&p.name)
                }
                _ => pod_col.append_null(),
            }
            if kind == "Deployment" || kind == "HorizontalPodAutoscaler" {
                node_col.append_null();
            } else {
                node_col.append_value(&node.name);
            }
            template.append_value(tmpl);
            let service = svc.map_or(cluster.as_str(), |s| s.name.as_str());
            // An Event object and its occurrence.
            const OCCURRENCE: u64 = str_key("kubernetes/events");
            let id = stream(r.key, &[OCCURRENCE, r.count as u64]);
            common.append(r.ts, id, service, &world.label(r.incident, r.role, r.ts));
        }
        let own: Vec<ArrayRef> = vec![
            Arc::new(namespace.finish()),
            Arc::new(event_name.finish()),
            Arc::new(event_uid.finish()),
            Arc::new(obj_kind.finish()),
            Arc::new(obj_name.finish()),
            Arc::new(obj_uid.finish()),
            Arc::new(field_path.finish()),
            Arc::new(reason.finish()),
            Arc::new(typ.finish()),
            Arc::new(message.finish()),
            Arc::new(count.finish()),
            Arc::new(first.finish()),
            Arc::new(source.finish()),
            Arc::new(host.finish()),
            Arc::new(pod_col.finish()),
            Arc::new(node_col.finish()),
            Arc::new(template.finish()),
        ];
        common.finish(self.schema(), own)
    }
}

/// Writes the message of an event about a pod (or its ReplicaSet, Deployment, HPA, or its
/// node's OOM kill); returns the reason, whether it is a Warning, and the template id.
#[allow(clippy::too_many_arguments)]
fn pod_message(
    message: &mut StringBuilder,
    r: &Row,
    pod: &Pod,
    svc: &crate::world::ServiceInfo,
    node: &crate::world::NodeInfo,
    ro: &crate::world::Rollout,
    registry: &str,
    rng: &mut Rng,
) -> (&'static str, bool, &'static str) {
    let image = format_args!("{registry}/{}:v{}", svc.name, ro.version);
    let c = &svc.name;
    match r.kind {
        Kind::ScaledUp { to } => {
            let _ = write!(message, "Scaled up replica set {c}-{} to {to}", ro.rs_hash);
            ("ScalingReplicaSet", false, "k8s.deployment.scaled_up")
        }
        Kind::ScaledDown { to } => {
            let _ = write!(
                message,
                "Scaled down replica set {c}-{} to {to}",
                ro.rs_hash
            );
            ("ScalingReplicaSet", false, "k8s.deployment.scaled_down")
        }
        Kind::SuccessfulCreate => {
            let _ = write!(message, "Created pod: {}", pod.name);
            ("SuccessfulCreate", false, "k8s.replicaset.created_pod")
        }
        Kind::SuccessfulDelete => {
            let _ = write!(message, "Deleted pod: {}", pod.name);
            ("SuccessfulDelete", false, "k8s.replicaset.deleted_pod")
        }
        Kind::Scheduled => {
            let _ = write!(
                message,
                "Successfully assigned {}/{} to {}",
                svc.namespace, pod.name, node.name
            );
            ("Scheduled", false, "k8s.pod.scheduled")
        }
        Kind::Pulling => {
            let _ = write!(message, "Pulling image \"{image}\"");
            ("Pulling", false, "k8s.pod.pulling")
        }
        Kind::Pulled => {
            let secs = (pod.pulled - pod.pulling) as f64 / SECOND as f64;
            let _ = write!(
                message,
                "Successfully pulled image \"{image}\" in {secs:.3}s ({secs:.3}s including waiting). Image size: {} bytes.",
                40_000_000 + (svc.key % 300_000_000)
            );
            ("Pulled", false, "k8s.pod.pulled")
        }
        Kind::PulledPresent => {
            let _ = write!(
                message,
                "Container image \"{image}\" already present on machine"
            );
            ("Pulled", false, "k8s.pod.image_present")
        }
        Kind::Created => {
            let _ = write!(message, "Created container {c}");
            ("Created", false, "k8s.pod.created_container")
        }
        Kind::Started => {
            let _ = write!(message, "Started container {c}");
            ("Started", false, "k8s.pod.started_container")
        }
        Kind::Killing => {
            let _ = write!(message, "Stopping container {c}");
            ("Killing", false, "k8s.pod.killing")
        }
        Kind::OomKilling => {
            let rss_kb = svc.memory_limit_bytes / 1024;
            let proc = match svc.language {
                crate::config::Language::Java => "java",
                crate::config::Language::Python => "gunicorn",
                crate::config::Language::Node => "node",
                crate::config::Language::Go => svc.name.as_str(),
            };
            let _ = write!(
                message,
                "Memory cgroup out of memory: Killed process {} ({proc}) total-vm:{}kB, anon-rss:{rss_kb}kB, file-rss:{}kB, shmem-rss:0kB, UID:1000 pgtables:{}kB oom_score_adj:{}",
                1000 + rng.below(30_000),
                rss_kb * 3 + rng.below(100_000),
                rng.below(30_000),
                1000 + rng.below(4000),
                900 + rng.below(100)
            );
            ("OOMKilling", true, "k8s.node.oom_killing")
        }
        Kind::UnhealthyReadiness(probe) => {
            let url = format_args!("http://{}:{}/healthz", pod.ip, svc.port);
            match probe {
                Probe::Timeout => {
                    let _ = write!(
                        message,
                        "Readiness probe failed: Get \"{url}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
                    );
                    ("Unhealthy", true, "k8s.pod.readiness_probe_failed")
                }
                Probe::Refused => {
                    let _ = write!(
                        message,
                        "Readiness probe failed: Get \"{url}\": dial tcp {}:{}: connect: connection refused",
                        pod.ip, svc.port
                    );
                    ("Unhealthy", true, "k8s.pod.readiness_probe_refused")
                }
                Probe::Status(code) => {
                    let _ = write!(
                        message,
                        "Readiness probe failed: HTTP probe failed with statuscode: {code}"
                    );
                    ("Unhealthy", true, "k8s.pod.readiness_probe_status")
                }
            }
        }
        Kind::UnhealthyLiveness => {
            let _ = write!(
                message,
                "Liveness probe failed: Get \"http://{}:{}/livez\": dial tcp {}:{}: connect: connection refused",
                pod.ip, svc.port, pod.ip, svc.port
            );
            ("Unhealthy", true, "k8s.pod.liveness_probe_failed")
        }
        Kind::DnsConfigForming => {
            let _ = write!(
                message,
                "Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: 172.20.0.10 10.0.0.2 169.254.169.253"
            );
            ("DNSConfigForming", true, "k8s.pod.dns_config_forming")
        }
        Kind::FailedGetResourceMetric => {
            let _ = write!(
                message,
                "failed to get cpu utilization: unable to get metrics for resource cpu: no metrics returned from resource metrics API"
            );
            (
                "FailedGetResourceMetric",
                true,
                "k8s.hpa.failed_get_resource_metric",
            )
        }
        Kind::BackOff => {
            let _ = write!(
                message,
                "Back-off restarting failed container {c} in pod {}_{}({})",
                pod.name, svc.namespace, pod.uid
            );
            ("BackOff", true, "k8s.pod.back_off")
        }
        Kind::PodNodeNotReady => {
            let _ = write!(message, "Node is not ready");
            ("NodeNotReady", true, "k8s.pod.node_not_ready")
        }
        Kind::TaintManagerEviction => {
            let _ = write!(
                message,
                "Marking for deletion Pod {}/{}",
                svc.namespace, pod.name
            );
            (
                "TaintManagerEviction",
                false,
                "k8s.pod.taint_manager_eviction",
            )
        }
        Kind::Evicted => {
            // What the container had written to its writable layer and logs.
            let used_mi = 1536 + (pod.key % 1536);
            let _ = write!(
                message,
                "The node was low on resource: ephemeral-storage. Threshold quantity: 10%, available: 3%. Container {c} was using {used_mi}Mi, request is 0, has larger consumption of ephemeral-storage. "
            );
            ("Evicted", true, "k8s.pod.evicted")
        }
        k => node_message(message, k, &node.name),
    }
}

/// Writes the message of an event about a Node alone.
fn node_message(
    message: &mut StringBuilder,
    kind: Kind,
    node: &str,
) -> (&'static str, bool, &'static str) {
    let status = |message: &mut StringBuilder, s: &str| {
        let _ = write!(message, "Node {node} status is now: {s}");
    };
    match kind {
        Kind::NodeNotReady => {
            status(message, "NodeNotReady");
            ("NodeNotReady", false, "k8s.node.not_ready")
        }
        Kind::StartingKubelet => {
            let _ = write!(message, "Starting kubelet.");
            ("Starting", false, "k8s.node.starting_kubelet")
        }
        Kind::NodeReady => {
            status(message, "NodeReady");
            ("NodeReady", false, "k8s.node.ready")
        }
        Kind::FreeDiskSpaceFailed => {
            let want = 2_000_000_000 + (str_key(node) % 3_000_000_000);
            let _ = write!(
                message,
                "Failed to garbage collect required amount of images. Attempted to free {want} bytes, but only found 0 bytes eligible to free."
            );
            (
                "FreeDiskSpaceFailed",
                true,
                "k8s.node.free_disk_space_failed",
            )
        }
        Kind::NodeHasDiskPressure => {
            status(message, "NodeHasDiskPressure");
            ("NodeHasDiskPressure", false, "k8s.node.disk_pressure")
        }
        Kind::EvictionThresholdMet => {
            let _ = write!(message, "Attempting to reclaim ephemeral-storage");
            (
                "EvictionThresholdMet",
                true,
                "k8s.node.eviction_threshold_met",
            )
        }
        Kind::NodeHasNoDiskPressure => {
            status(message, "NodeHasNoDiskPressure");
            ("NodeHasNoDiskPressure", false, "k8s.node.no_disk_pressure")
        }
        other => unreachable!("{other:?} is not a node event"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::time::parse_instant;
    use crate::world::TimeRange;
    use arrow::array::{Array, StringArray};

    /// Each CronJob run of an hour writes its nine events in order, normal, on its
    /// service; the Job deleted is the one three runs back.
    #[test]
    fn cron_runs_write_their_events_in_order() {
        let start = parse_instant("2026-11-23T10:00:00Z").expect("instant");
        let world = World::plan(
            Config::defaults().expect("defaults"),
            11,
            1.0,
            TimeRange {
                start,
                end: start + HOUR,
            },
        );
        let crons = cron_jobs(&world);
        assert!(crons.len() >= 4, "{} CronJobs", crons.len());
        let batch = Events.render(&world, start).expect("render");
        let col = |name: &str| {
            batch
                .column_by_name(name)
                .and_then(|c| c.as_any().downcast_ref::<StringArray>())
                .unwrap_or_else(|| panic!("column {name}"))
                .clone()
        };
        let (tmpl, msg, obj) = (
            col("template_id"),
            col("message"),
            col("involved_object_name"),
        );
        let anomaly = batch
            .column_by_name("is_anomaly")
            .expect("is_anomaly")
            .as_any()
            .downcast_ref::<arrow::array::BooleanArray>()
            .expect("bool")
            .clone();
        let reconcile = crons
            .iter()
            .find(|c| c.name.ends_with("-reconcile"))
            .expect("a worker's reconcile CronJob");
        // The runs scheduled in the hour's first 45 minutes complete inside it.
        let mut runs = 0;
        let mut sched = start + reconcile.offset;
        while sched < start + 45 * MINUTE {
            let job = format!("{}-{}", reconcile.name, sched.div_euclid(MINUTE));
            let rows: Vec<usize> = (0..batch.num_rows())
                .filter(|&i| {
                    let m = msg.value(i);
                    !m.starts_with("Deleted job")
                        && (obj.value(i).starts_with(&job) || m.contains(&job))
                })
                .collect();
            let ids: Vec<&str> = rows.iter().map(|&i| tmpl.value(i)).collect();
            assert_eq!(
                ids,
                [
                    "k8s.cronjob.created_job",
                    "k8s.job.created_pod",
                    "k8s.pod.scheduled",
                    "k8s.pod.image_present",
                    "k8s.pod.created_container",
                    "k8s.pod.started_container",
                    "k8s.job.completed",
                    "k8s.cronjob.saw_completed_job",
                ],
                "run {job}"
            );
            assert!(rows.iter().all(|&i| !anomaly.value(i)));
            let old = format!(
                "Deleted job {}-{}",
                reconcile.name,
                sched.div_euclid(MINUTE) - CRON_HISTORY * 15
            );
            assert!(
                (0..batch.num_rows()).any(|i| msg.value(i) == old),
                "run {job}: no '{old}'"
            );
            runs += 1;
            sched += reconcile.every;
        }
        assert!(runs >= 2, "{runs} runs");
    }
}
