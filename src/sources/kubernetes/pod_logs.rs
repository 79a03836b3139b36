//! `kubernetes/pod_logs`: container log lines of every service, from the request stream
//! (access lines, queries, upstream calls, errors), background activity (GC, pools,
//! probes, schedulers, benign warnings) and container lifecycles (startup, shutdown,
//! crashes).

use super::events::{created_by, deleted_by};
use super::logfmt::{Envelope, stream_for, write_trace};
use super::native::write_pod_logs;
use super::templates::{
    LineCtx, SymptomLine, Tmpl, USER_AGENTS, client_user_agent, domain_event, logger_for, render,
    write_template_id,
};
use super::vocabulary;
use crate::config::{Language, ServiceKind};
use crate::error::Error;
use crate::labels::{AnomalyRole, Label};
use crate::rng::{Rng, str_key, stream};
use crate::sink::JsonLines;
use crate::sources::text;
use crate::sources::{CommonColumns, Source, Table, table_schema, unlabel_unchanged};
use crate::time::{HOUR, MINUTE, Micros, SECOND};
use crate::world::{REQUEST_ROW_SHARE, RestartReason, Visit, World};
use arrow::array::{ArrayRef, StringBuilder};
use arrow::datatypes::{DataType, Field, SchemaRef};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use std::sync::Arc;

pub struct PodLogs;

/// Share of the background lines drawn from the vocabulary (the rest are probes, GC,
/// pool and runtime statistics, schedulers and flags).
const VOCABULARY_SHARE: f64 = 0.5;

/// Share of the background lines that are a lone "no space left on device" write failure.
const LONE_DISK_FULL_SHARE: f64 = 1e-4;

/// Stream tag of the lifecycle lines' record keys.
const LIFECYCLE_LINE: u64 = str_key("lifecycle");

/// A planned line, rendered after sorting.
#[derive(Clone, Copy)]
struct Row {
    ts: Micros,
    pod: u32,
    tmpl: Tmpl,
    /// Index into the hour's visits, or `u32::MAX`.
    visit: u32,
    /// Upstream service for upstream templates, or `u16::MAX`.
    upstream: u16,
    key: u64,
    /// Incident behind a symptom line (index into the plan), or `u32::MAX`.
    incident: u32,
    /// The visit whose incident label the line carries (index into the hour's visits),
    /// or `u32::MAX`.
    labelled_by: u32,
}

impl Table for PodLogs {
    fn source(&self) -> Source {
        Source::Kubernetes
    }
    fn name(&self) -> &'static str {
        "pod_logs"
    }
    fn code(&self) -> &'static str {
        "kpl"
    }

    fn schema(&self) -> SchemaRef {
        table_schema(vec![
            Field::new("namespace", DataType::Utf8, false),
            Field::new("pod", DataType::Utf8, false),
            Field::new("container", DataType::Utf8, false),
            Field::new("node", DataType::Utf8, false),
            Field::new("stream", DataType::Utf8, false),
            Field::new("level", DataType::Utf8, false),
            Field::new("message", DataType::Utf8, false),
            Field::new("template_id", DataType::Utf8, false),
            Field::new("trace_id", DataType::Utf8, true),
            Field::new("span_id", DataType::Utf8, true),
        ])
    }

    /// One Fluent Bit record (raw CRI line and Kubernetes metadata) per row (see `native`).
    fn write_native(
        &self,
        world: &World,
        hour: Micros,
        batch: &RecordBatch,
        out: &mut JsonLines,
    ) -> Result<(), Error> {
        write_pod_logs(world, hour, batch, out)
    }

    fn render(&self, world: &World, hour: Micros) -> Result<RecordBatch, ArrowError> {
        let end = hour + HOUR;
        let mut visits: Vec<Visit> = Vec::new();
        let mut rows: Vec<Row> = Vec::new();
        let key = stream(world.seed, &[str_key("kubernetes/pod_logs"), hour as u64]);

        // 1. Request visits of the minutes that can reach into this hour.
        let mut minute = hour - MINUTE;
        while minute < end {
            let from = visits.len();
            world.expand_minute(minute, &mut visits);
            for vi in from..visits.len() {
                plan_visit_lines(world, &visits, vi, hour, end, &mut rows);
            }
            minute += MINUTE;
        }

        // 2. Background lines, per serving pod and minute.
        let cfg = &world.config.generation;
        let bg_per_minute = cfg.sources.kubernetes.pod_logs.rows_per_minute.0
            * (1.0 - REQUEST_ROW_SHARE)
            * world.scale;
        let total_pods: f64 = world
            .topology
            .services
            .iter()
            .map(|s| s.replicas as f64)
            .sum();
        let warn_rate = cfg.world.benign_warning_rate.0;
        for s in 0..world.topology.services.len() {
            let svc = world.service(s);
            let (vocab_cum, vocab) = vocabulary::background_choices(svc);
            let start_lines = vocabulary::start_entries(svc);
            for p in world.pods.pods_overlapping(s, hour, end) {
                let pod = world.pod(p);
                let mut rng = Rng::derive(key, &[str_key("background"), pod.key]);
                let mut m = hour;
                while m < end {
                    let lambda = bg_per_minute / total_pods * world.traffic.service(s, m).sqrt();
                    for _ in 0..rng.poisson(lambda) {
                        // Every draw is made whether or not the line is written, so the
                        // lines an incident does not touch stay those of the twin.
                        let ts = m + rng.below(MINUTE as u64) as Micros;
                        let tmpl = if !vocab.is_empty() && rng.chance(VOCABULARY_SHARE) {
                            Tmpl::Vocab(vocab[rng.weighted(&vocab_cum)])
                        } else {
                            background_template(svc.language, svc.kind, warn_rate, &mut rng)
                        };
                        let key = rng.next_u64();
                        if !pod.serving_at(ts) {
                            continue;
                        }
                        rows.push(Row {
                            ts,
                            pod: p as u32,
                            tmpl,
                            visit: u32::MAX,
                            upstream: vocabulary_peer(svc, tmpl, key),
                            key,
                            incident: u32::MAX,
                            labelled_by: u32::MAX,
                        });
                    }
                    m += MINUTE;
                }
                // 3. Lifecycle lines (those of a restart an incident caused carry its label).
                let lc = |ts: Micros, tmpl: Tmpl, incident: u32, rows: &mut Vec<Row>| {
                    if ts >= hour && ts < end {
                        rows.push(Row {
                            ts,
                            pod: p as u32,
                            tmpl,
                            visit: u32::MAX,
                            upstream: u16::MAX,
                            key: stream(pod.key, &[LIFECYCLE_LINE, ts as u64]),
                            incident,
                            labelled_by: u32::MAX,
                        });
                    }
                };
                // A pod an incident created or deleted writes its start or stop lines
                // because of it.
                let cause = |c: Option<(u32, AnomalyRole)>| c.map_or(u32::MAX, |c| c.0);
                let mut starts = vec![(pod.started, pod.ready, cause(created_by(world, p)))];
                for r in &pod.restarts {
                    let crash = if r.reason == RestartReason::OomKilled {
                        Tmpl::CrashOom
                    } else {
                        Tmpl::CrashError
                    };
                    lc(r.at - 2_000, crash, r.incident, &mut rows);
                    starts.push((r.started(), r.back, r.incident));
                }
                for (started, ready, inc) in starts {
                    lc(started + 150_000, Tmpl::Starting, inc, &mut rows);
                    let listening = started + (ready - started) * 3 / 4;
                    // The framework's start-up lines, spread between the two.
                    let gap = (listening - started - 150_000).max(0);
                    let n = start_lines.len() as i64 + 1;
                    for (j, &e) in start_lines.iter().enumerate() {
                        let at = started + 150_000 + gap * (j as i64 + 1) / n;
                        lc(at, Tmpl::Vocab(e), inc, &mut rows);
                    }
                    lc(listening, Tmpl::Listening, inc, &mut rows);
                    lc(ready - 5_000, Tmpl::Started, inc, &mut rows);
                }
                if let Some(d) = pod.deleted {
                    let inc = cause(deleted_by(world, p));
                    lc(d + 20_000, Tmpl::ShutdownSignal, inc, &mut rows);
                    let done = d + SECOND + (pod.key % 900_000) as Micros;
                    lc(done, Tmpl::ShutdownDone, inc, &mut rows);
                }
            }
        }

        // 4. Lines incidents make the pods they hit write.
        symptom_lines(world, hour, end, key, &mut rows);

        rows.sort_by_key(|r| (r.ts, r.pod, r.key));
        let mut labels: Vec<Label> = rows.iter().map(|r| row_label(world, &visits, r)).collect();
        let mut planned = Vec::new();
        unlabel_unchanged(
            &visits,
            &rows,
            &mut labels,
            |r| (r.visit != u32::MAX).then_some(r.visit as usize),
            |twin, r| {
                planned.clear();
                plan_visit_lines(world, twin, r.visit as usize, hour, end, &mut planned);
                planned.iter().find(|t| t.key == r.key).copied()
            },
            |visits, rows, labels| write_rows(self, world, hour, visits, rows, labels),
        )?;
        write_rows(self, world, hour, &visits, &rows, &labels)
    }
}

/// Plans the symptom lines of every incident overlapping `[hour, end)`: each pod an
/// incident hits writes its effect lines at a rate that follows the incident's intensity.
fn symptom_lines(world: &World, hour: Micros, end: Micros, key: u64, rows: &mut Vec<Row>) {
    for inc in world.incidents.overlapping(hour - 10 * MINUTE, end) {
        let t = &world.config.incidents.types[inc.type_index];
        let lines: Vec<Tmpl> = t
            .effects
            .kubernetes
            .iter()
            .filter_map(|e| SymptomLine::for_effect(&e.value))
            .map(Tmpl::Symptom)
            .collect();
        if lines.is_empty() {
            continue;
        }
        for a in inc.affected.iter().filter(|a| a.depth == 0) {
            for p in world.pods.pods_overlapping(a.service, hour, end) {
                if !inc.hits_pod(&world.pods, p) {
                    continue;
                }
                let pod = world.pod(p);
                let mut rng = Rng::derive(key, &[str_key("symptoms"), inc.key, pod.key]);
                let mut m = hour.max(inc.start - inc.start.rem_euclid(MINUTE));
                while m < end.min(inc.end + a.lag + MINUTE) {
                    let intensity = inc.intensity(m + 30 * SECOND, a.lag);
                    for _ in 0..rng.poisson(4.0 * intensity) {
                        let ts = m + rng.below(MINUTE as u64) as Micros;
                        if ts >= hour
                            && ts < end
                            && pod.alive_at(ts)
                            && inc.intensity(ts, a.lag) > 0.0
                        {
                            let tmpl = *rng.pick(&lines);
                            rows.push(Row {
                                ts,
                                pod: p as u32,
                                tmpl,
                                visit: u32::MAX,
                                upstream: u16::MAX,
                                key: rng.next_u64(),
                                incident: inc.index as u32,
                                labelled_by: u32::MAX,
                            });
                        }
                    }
                    m += MINUTE;
                }
            }
        }
    }
}

/// Plans the lines one visit writes, keeping those inside `[hour, end)`.
///
/// Each line has a slot of its own in the visit (query, cache, domain event, each call
/// to a dependency, outcome, access line): its record key and every draw it needs come
/// from `stream(visit key, [slot])`, so a line is the same as in the counterfactual twin
/// unless what it shows changed. In-request lines are placed within the visit's twin
/// duration. A line carries a label only when it differs from the twin's: the access and
/// outcome lines when the visit changed, a query line when it turned slow, a dependency's
/// retry or error line when that call (or, for an error line, the visit) changed.
fn plan_visit_lines(
    world: &World,
    visits: &[Visit],
    vi: usize,
    hour: Micros,
    end: Micros,
    rows: &mut Vec<Row>,
) {
    let v = &visits[vi];
    let svc = world.service(v.service as usize);
    const VISIT_LINE: u64 = str_key("kubernetes/pod_logs/visit");
    const CALL_LINE: u64 = str_key("kubernetes/pod_logs/call");
    let slot = |n: u64| stream(v.key, &[VISIT_LINE, n]);
    let push = |ts: Micros, tmpl: Tmpl, upstream: u16, key: u64, by: u32, rows: &mut Vec<Row>| {
        if ts >= hour && ts < end {
            rows.push(Row {
                ts,
                pod: v.pod,
                tmpl,
                visit: vi as u32,
                upstream,
                key,
                incident: u32::MAX,
                labelled_by: by,
            });
        }
    };
    let me = vi as u32;
    let span = v.base_duration.max(1) as u64;
    // Application lines during the request.
    let (k, mut rng) = (slot(1), Rng::new(slot(1)));
    let (query, rare, at) = (rng.chance(0.35), rng.chance(0.004), rng.below(span));
    if !svc.rds.is_empty() && query {
        let slow = v.duration > 400_000 || rare;
        let was_slow = v.base_duration > 400_000 || rare;
        let tmpl = if slow { Tmpl::SlowQuery } else { Tmpl::DbQuery };
        let by = if slow != was_slow { me } else { u32::MAX };
        push(v.start + at as Micros, tmpl, u16::MAX, k, by, rows);
    }
    let (k, mut rng) = (slot(2), Rng::new(slot(2)));
    let (cached, hit, at) = (rng.chance(0.12), rng.chance(0.7), rng.below(span / 4 + 1));
    if cached {
        let t = if hit { Tmpl::CacheHit } else { Tmpl::CacheMiss };
        push(v.start + at as Micros, t, u16::MAX, k, u32::MAX, rows);
    }
    let (k, mut rng) = (slot(3), Rng::new(slot(3)));
    let (domain, at) = (rng.chance(0.22), rng.below(span));
    if domain {
        push(
            v.start + at as Micros,
            Tmpl::Domain,
            u16::MAX,
            k,
            u32::MAX,
            rows,
        );
    }
    // Calls to dependencies: a debug line for some, errors for failed ones.
    for (ci, child) in visits[vi + 1..]
        .iter()
        .enumerate()
        .take_while(|(_, c)| c.depth > v.depth)
    {
        if child.parent as usize != vi {
            continue;
        }
        let ci = (vi + 1 + ci) as u32;
        let call = |n: u64| stream(child.key, &[CALL_LINE, n]);
        let (k, mut rng) = (call(1), Rng::new(call(1)));
        if rng.chance(0.08) {
            let t = Tmpl::UpstreamCall;
            push(child.start - 50, t, child.service, k, u32::MAX, rows);
        }
        let (k, mut rng) = (call(2), Rng::new(call(2)));
        let retry = rng.chance(0.3);
        // The line moves with the call's end and turns from retry to error with its
        // status; an error line also shows this visit's status and duration.
        let moved = child.duration != child.base_duration;
        let twin_error = child.base_status >= 500;
        if child.status >= 500 {
            // What the line shows of this visit: its status (at least 502) and duration.
            let shown_changed =
                v.status.max(502) != v.base_status.max(502) || v.duration != v.base_duration;
            let by = if moved || !twin_error {
                ci
            } else if shown_changed {
                me
            } else {
                u32::MAX
            };
            push(
                child.end() + 300,
                Tmpl::UpstreamError,
                child.service,
                k,
                by,
                rows,
            );
        } else if child.duration > 250_000 && retry {
            let by = if moved || twin_error { ci } else { u32::MAX };
            push(
                child.end() + 200,
                Tmpl::UpstreamRetry,
                child.service,
                k,
                by,
                rows,
            );
        }
    }
    let (k, mut rng) = (slot(4), Rng::new(slot(4)));
    let rejected = rng.chance(0.6);
    // The failure line shows how the visit failed, its status and its end, not its calls
    // (a call that lost its dependency's pods changes the visit but maybe not this line).
    let shown_changed =
        v.outcome_changed() || v.failure != v.base_failure || v.own_error != v.base_own_error;
    let by = if v.changed() && shown_changed {
        me
    } else {
        u32::MAX
    };
    if let Some(f) = v.failure {
        push(v.end() - 400, Tmpl::Failure(f), u16::MAX, k, by, rows);
    } else if v.own_error {
        push(v.end() - 400, Tmpl::UnhandledError, u16::MAX, k, by, rows);
    } else if matches!(v.status, 401 | 429 | 400) && rejected {
        push(v.end() - 300, Tmpl::ClientRejected, u16::MAX, k, by, rows);
    }
    // The access / completion line: it shows the status and the duration only.
    let by = if v.outcome_changed() { me } else { u32::MAX };
    push(v.end(), Tmpl::Access, u16::MAX, slot(5), by, rows);
}

/// The dependency a vocabulary line names (`{peer}`), drawn from the line's key.
fn vocabulary_peer(svc: &crate::world::ServiceInfo, tmpl: Tmpl, key: u64) -> u16 {
    match tmpl {
        Tmpl::Vocab(i)
            if !svc.deps.is_empty() && vocabulary::vocabulary()[i as usize].uses_peer =>
        {
            svc.deps[(key % svc.deps.len() as u64) as usize] as u16
        }
        _ => u16::MAX,
    }
}

fn background_template(lang: Language, kind: ServiceKind, warn_rate: f64, rng: &mut Rng) -> Tmpl {
    // A log volume that fills up on an ordinary day: a lone write failing for lack of
    // space (about ten lines a day on the default platform).
    if rng.chance(LONE_DISK_FULL_SHARE) {
        return Tmpl::Symptom(SymptomLine::DiskFull);
    }
    if rng.chance(warn_rate * 3.0) {
        return *rng.pick(&[
            Tmpl::DeprecationWarning,
            Tmpl::ConnectionReset,
            Tmpl::DeprecationWarning,
        ]);
    }
    if kind == ServiceKind::Worker && rng.chance(0.5) {
        return Tmpl::QueuePoll;
    }
    let x = rng.f64();
    match lang {
        Language::Java if x < 0.35 => Tmpl::GcPause,
        Language::Java if x < 0.6 => Tmpl::PoolStats,
        Language::Go if x < 0.3 => Tmpl::RuntimeStats,
        Language::Node if x < 0.06 => Tmpl::EventLoopLag,
        _ if x < 0.75 => Tmpl::ProbeAccess,
        _ if x < 0.9 => Tmpl::SchedulerJob,
        _ => Tmpl::FeatureFlags,
    }
}

/// The label of a line: the visit's when the line shows its change, the call's when it
/// shows a changed call, the incident's for the lines an incident makes a pod write
/// (with the service's role in it). Where a visit's line came out as in the twin,
/// [`unlabel_unchanged`] takes the label off.
fn row_label<'w>(world: &'w World, visits: &[Visit], r: &Row) -> Label<'w> {
    match (r.labelled_by, r.incident) {
        (by, _) if by != u32::MAX && by == r.visit => world.visit_label(&visits[by as usize], r.ts),
        (by, _) if by != u32::MAX => world.call_label(&visits[by as usize], r.ts),
        (_, i) if i != u32::MAX => {
            let role = world.incidents.incidents[i as usize]
                .involvement(world.pod(r.pod as usize).service)
                .map(|x| x.0)
                .unwrap_or(AnomalyRole::Symptom);
            world.label(i, role, r.ts)
        }
        _ => Label::NORMAL,
    }
}

fn write_rows(
    table: &PodLogs,
    world: &World,
    hour: Micros,
    visits: &[Visit],
    rows: &[Row],
    labels: &[Label],
) -> Result<RecordBatch, ArrowError> {
    let n = rows.len();
    let mut common = CommonColumns::new(table.code(), hour, n);
    let mut namespace = StringBuilder::with_capacity(n, n * 10);
    let mut pod_col = StringBuilder::with_capacity(n, n * 32);
    let mut container = StringBuilder::with_capacity(n, n * 14);
    let mut node = StringBuilder::with_capacity(n, n * 28);
    let mut stream_col = StringBuilder::with_capacity(n, n * 6);
    let mut level = StringBuilder::with_capacity(n, n * 5);
    let mut message = StringBuilder::with_capacity(n, n * 220);
    let mut template = StringBuilder::with_capacity(n, n * 24);
    let mut trace = StringBuilder::with_capacity(n, n * 32);
    let mut span = StringBuilder::with_capacity(n, n * 16);
    let mut client_buf = String::with_capacity(16);
    // Per service: the template ids of the access and domain lines, and the domain
    // line's message (string matches on the framework and name, done once).
    let per_svc: Vec<(&'static str, (&'static str, &'static str))> = world
        .topology
        .services
        .iter()
        .map(|s| (Tmpl::Access.id(s), domain_event(s)))
        .collect();
    for (r, label) in rows.iter().zip(labels) {
        let pod = world.pod(r.pod as usize);
        let svc = world.service(pod.service);
        let node_info = &world.topology.nodes[pod.node];
        let visit = (r.visit != u32::MAX).then(|| &visits[r.visit as usize]);
        let lvl = r.tmpl.level(visit);
        let trace_ids = visit.map(|v| (v.trace_hi, v.trace_lo, v.span_id));
        let env = Envelope {
            lang: svc.language,
            style: svc.log_style,
            framework: &svc.framework,
            service: &svc.name,
            pod: &pod.name,
            ts: r.ts,
            level: lvl,
            logger: logger_for(svc, r.tmpl),
            trace: trace_ids,
            thread: (r.key >> 40) as u32,
        };
        // Who sent the request: the caller's pod, or an end user through the load balancer.
        let caller = visit
            .filter(|v| !v.is_root())
            .map(|v| &visits[v.parent as usize]);
        let (client_ip, client_ua): (&str, &str) = match caller {
            Some(cv) => (
                &world.pod(cv.pod as usize).ip,
                client_user_agent(world.service(cv.service as usize).language),
            ),
            None => {
                let rk = visit.map(|v| v.root_key).unwrap_or(r.key);
                client_buf.clear();
                text::text(
                    &mut client_buf,
                    ("10.0.", (rk >> 8) % 96, '.', 2 + (rk >> 16) % 250),
                );
                (
                    client_buf.as_str(),
                    USER_AGENTS[(rk % USER_AGENTS.len() as u64) as usize],
                )
            }
        };
        let ctx = LineCtx {
            env,
            svc,
            visit,
            upstream: (r.upstream != u16::MAX)
                .then(|| world.service(r.upstream as usize).name.as_str()),
            version: world.pod_version(r.pod as usize),
            node_ip: &node_info.ip,
            client_ip,
            client_ua,
            domain: per_svc[pod.service].1,
            rng: Rng::new(r.key),
        };
        render(&mut message, r.tmpl, ctx);
        message.append_value("");
        common.append(r.ts, r.key, &svc.name, label);
        namespace.append_value(&svc.namespace);
        pod_col.append_value(&pod.name);
        container.append_value(&svc.name);
        node.append_value(&node_info.name);
        stream_col.append_value(stream_for(svc.language, svc.log_style, lvl));
        level.append_value(lvl.as_str());
        let event = match r.tmpl {
            Tmpl::Access => per_svc[pod.service].0,
            Tmpl::Domain => per_svc[pod.service].1.0,
            t => t.id(svc),
        };
        write_template_id(&mut template, r.tmpl.layout(svc), event, r.tmpl, lvl);
        template.append_value("");
        match trace_ids {
            Some((hi, lo, sp)) => {
                write_trace(&mut trace, hi, lo);
                trace.append_value("");
                text::hex16(&mut span, sp);
                span.append_value("");
            }
            None => {
                trace.append_null();
                span.append_null();
            }
        }
    }
    let own: Vec<ArrayRef> = vec![
        Arc::new(namespace.finish()),
        Arc::new(pod_col.finish()),
        Arc::new(container.finish()),
        Arc::new(node.finish()),
        Arc::new(stream_col.finish()),
        Arc::new(level.finish()),
        Arc::new(message.finish()),
        Arc::new(template.finish()),
        Arc::new(trace.finish()),
        Arc::new(span.finish()),
    ];
    common.finish(table.schema(), own)
}
