//! `cloudwatch/logs`: log events of AWS service log groups.
//!
//! - `/aws/lambda/<function>`: START, END and REPORT lines of every invocation (the same
//!   invocations the `Invocations` metric counts), an application line for some, the
//!   error for failed ones, and the Embedded Metric Format documents the function's
//!   Powertools Metrics print (one per invocation with its figures, one more for a cold
//!   start), see `write_lambda_emf`.
//! - `/aws/rds/instance/<id>/postgresql` (PostgreSQL) or `.../error` and `.../slowquery`
//!   (MySQL), stream `<id>`: checkpoints every five minutes, connections opened by the
//!   callers' pools (log_connections), slow statements of the callers' slow requests
//!   (log_min_duration_statement = 1 s, long_query_time = 1), autovacuum runs (the same
//!   minutes the CPU shows them), errors of some failed requests, benign noise (among it
//!   about two connection storms a day refused at the limit, and MySQL wait_timeout aborts).
//! - `/aws/alb/<name>`: one ALB access-log line per root request to the services behind
//!   the load balancer (flag `alb_access_logs`), in the real format, plus a line per
//!   request the ALB rejected itself (503, no healthy target). ALB access logs are
//!   delivered to S3 natively; here they are in a log group as a forwarder would ship
//!   them, one stream per 5-minute delivery file.
//! - `/aws/vpc/flowlogs/<vpc>`, stream `<eni>-all`: VPC flow log records (version 2),
//!   one-minute aggregation windows, about `vpc_flow_records_per_minute` x traffic, between
//!   the pods, nodes, ALB, RDS instances and AWS endpoints of the world; an ACCEPT record
//!   follows one call of one of the minute's root requests (see `plan_flow`).
//!
//! Requests are expanded as in `kubernetes/pod_logs`: the minutes `[h - 1 min, h + 60 min)`,
//! keeping lines whose timestamps fall in the hour.
//!
//! Incidents: during a connection pool exhaustion on an instance, the connections the
//! filling pools open are logged (PostgreSQL, `log_connections`) and, once the instance
//! is full, new connections are refused (`FATAL:  remaining connection slots are reserved
//! for non-replication superuser connections`, `FATAL:  sorry, too many clients already`)
//! or, on MySQL, time out (`Aborted connection ... (Got timeout reading communication
//! packets)`): those lines are labelled `root_cause`. ALB access lines and slow
//! statements of requests an incident changed carry the request's label; the lines of
//! requests the ALB rejected while an incident kept the service's pods out of service
//! carry that incident's label. Everything else is normal.

use super::model::Kind as ResKind;
use super::model::{Invocation, Model, ReqMinute, alb_bytes, invocations};
use super::series::{DatapointCache, Effect, LABEL_MIN_INTENSITY, autovacuum_runs};
use super::{iso, write_event_id};
use crate::config::DbEngine;
use crate::error::Error;
use crate::labels::{AnomalyRole, Label};
use crate::rng::{Rng, mix64, str_key, stream};
use crate::sink::JsonLines;
use crate::sources::kubernetes::logfmt::write_trace;
use crate::sources::kubernetes::templates::TemplateDef;
use crate::sources::kubernetes::templates::{USER_AGENTS, route_method, write_path};
use crate::sources::kubernetes::{created_by, deleted_by};
use crate::sources::text::{self, Fixed, Hex, P, Pad, param};
use crate::sources::{CommonColumns, Source, Table, table_schema, timestamp_type};
use crate::time::{HOUR, MINUTE, Micros, SECOND, civil};
use crate::world::{Visit, World};
use arrow::array::{ArrayRef, StringBuilder, TimestampMicrosecondBuilder};
use arrow::datatypes::{DataType, Field, SchemaRef};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use std::fmt::Write;
use std::sync::Arc;

pub struct Logs;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    AlbAccess,
    AlbRejected,
    LambdaStart,
    LambdaApp,
    LambdaError,
    LambdaEnd,
    LambdaReport,
    PgCheckpointStart,
    PgCheckpointDone,
    PgConnReceived,
    PgConnAuthorized,
    PgDisconnect,
    PgSlow,
    PgAutovacuum,
    PgAutoanalyze,
    PgError,
    PgAuthFailed,
    PgConnReset,
    PgFatalReserved,
    PgFatalTooMany,
    MyAborted,
    MyAbortedTimeout,
    MyPageCleaner,
    MySlow,
    VpcAccept,
    VpcReject,
    VpcNoData,
    // Appended last, so that the earlier kinds keep their values (they key line RNGs).
    /// The Embedded Metric Format document Powertools flushes at the end of the handler.
    LambdaMetrics,
    /// The separate `ColdStart` EMF document of a cold start, at the handler's start.
    LambdaColdStartMetric,
}

/// A planned event, rendered after sorting.
#[derive(Clone, Copy)]
struct Row {
    ts: Micros,
    kind: Kind,
    /// Visit index, invocation index, pod index (RDS connection lines), or `u32::MAX`.
    a: u32,
    /// Resource index (ALB, function, RDS instance, node), or a service for rejected lines.
    b: u32,
    key: u64,
    /// The incident that caused a line with no request behind it (`u32::MAX` if none)
    /// and the role it gives the line.
    inc: u32,
    role: AnomalyRole,
}

const NONE: u32 = u32::MAX;

/// Connection storms an instance refuses at its limit on an ordinary day (PostgreSQL's
/// `too many clients` / `remaining connection slots` lines outside any incident).
const NORMAL_CONNECTION_STORMS_PER_DAY: f64 = 2.0;
/// MySQL `Aborted connection ... (Got timeout reading communication packets)` lines a day
/// from idle clients outside the pools.
const NORMAL_WAIT_TIMEOUTS_PER_DAY: f64 = 8.0;

/// Common first octets of residential and mobile client addresses.
const CLIENT_OCTETS: [u8; 16] = [
    24, 67, 68, 71, 73, 76, 81, 86, 92, 98, 99, 108, 174, 185, 188, 212,
];

fn write_client_ip(out: &mut impl Write, k: u64) {
    text::text(
        out,
        (
            CLIENT_OCTETS[(k % 16) as usize],
            '.',
            (k >> 8) % 256,
            '.',
            (k >> 16) % 256,
            ('.', 1 + (k >> 24) % 254),
        ),
    );
}

impl Table for Logs {
    fn source(&self) -> Source {
        Source::Cloudwatch
    }
    fn name(&self) -> &'static str {
        "logs"
    }
    fn code(&self) -> &'static str {
        "cwl"
    }

    fn schema(&self) -> SchemaRef {
        table_schema(vec![
            Field::new("log_group", DataType::Utf8, false),
            Field::new("log_stream", DataType::Utf8, false),
            Field::new("message", DataType::Utf8, false),
            Field::new("ingestion_time", timestamp_type(), false),
            Field::new("event_id", DataType::Utf8, false),
            Field::new("request_id", DataType::Utf8, true),
            Field::new("trace_id", DataType::Utf8, true),
            Field::new("template_id", DataType::Utf8, false),
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
        super::native::write_logs(batch, out)
    }

    fn render(&self, world: &World, hour: Micros) -> Result<RecordBatch, ArrowError> {
        let end = hour + HOUR;
        // Per-minute aggregates of the expanded minutes are shared with the datapoints the
        // RDS logs read (connections), so no minute is expanded twice.
        let cache = DatapointCache::new(world);
        let model = &cache.model;
        let cw = &world.config.generation.sources.cloudwatch;
        let mut visits: Vec<Visit> = Vec::new();
        // visits of minute k (k = 0 for h - 1 min): visits[bounds[k]..bounds[k + 1]]
        let mut bounds: Vec<usize> = vec![0];
        let mut rows: Vec<Row> = Vec::new();
        let inside = |ts: Micros| ts >= hour && ts < end;

        let mut minute = hour - MINUTE;
        while minute < end {
            let from = visits.len();
            world.expand_minute(minute, &mut visits);
            bounds.push(visits.len());
            let mv = &visits[from..];
            // ALB access lines.
            if cw.alb_access_logs {
                for (i, v) in mv.iter().enumerate() {
                    if !v.is_root() {
                        continue;
                    }
                    if let Some((a, _)) = model.svc_alb[v.service as usize] {
                        let t = alb_times(v);
                        if inside(t.time) {
                            rows.push(Row {
                                ts: t.time,
                                kind: Kind::AlbAccess,
                                a: (from + i) as u32,
                                b: a as u32,
                                key: mix64(v.key ^ 0xa1b),
                                inc: NONE,
                                role: AnomalyRole::None,
                            });
                        }
                    }
                }
            }
            let agg = ReqMinute::from_visits(world, model, minute, mv);
            if cw.alb_access_logs {
                for (s, m) in agg.svc.iter().enumerate() {
                    if model.svc_alb[s].is_none() {
                        continue;
                    }
                    for j in 0..m.arrived.saturating_sub(m.roots) {
                        let k = stream(
                            world.seed,
                            &[str_key("cw-alb-503"), s as u64, minute as u64, j as u64],
                        );
                        let ts = minute + (k % MINUTE as u64) as Micros + 800;
                        if inside(ts) {
                            // No target: an incident keeping the pods out of service.
                            let inc = cache.acting_on(s, ts, true).unwrap_or(NONE);
                            let role = world
                                .incidents
                                .incidents
                                .get(inc as usize)
                                .and_then(|i| i.involvement(s))
                                .map_or(AnomalyRole::None, |x| x.0);
                            rows.push(Row {
                                ts,
                                kind: Kind::AlbRejected,
                                a: NONE,
                                b: s as u32,
                                key: k,
                                inc,
                                role,
                            });
                        }
                    }
                }
            }
            cache.prime(minute, agg);
            minute += MINUTE;
        }

        // Per minute (from the one before the hour): the incident that left requests
        // without a pod, if any, and then the twin's requests of that minute, expanded
        // once for the Lambda and VPC lines. An incident that removed the calls a missing
        // pod would have answered changes what a line picks among the minute's requests:
        // where the twin's pick differs, the line is that incident's doing.
        let unserved: Vec<Option<u32>> = (0..bounds.len() - 1)
            .map(|k| {
                let minute = hour - MINUTE + k as Micros * MINUTE;
                unserved_incident(&cache, &visits[bounds[k]..bounds[k + 1]], minute)
            })
            .collect();
        let twin_minutes: Vec<Vec<Visit>> = unserved
            .iter()
            .enumerate()
            .map(|(k, u)| {
                let mut tv = Vec::new();
                if u.is_some() {
                    let minute = hour - MINUTE + k as Micros * MINUTE;
                    world.twin_at(minute).expand_minute(minute, &mut tv);
                }
                tv
            })
            .collect();

        // Lambda invocations of the same minutes.
        let mut invs: Vec<(u32, Invocation, u32)> = Vec::new();
        for f in 0..model.functions.len() {
            let func = &model.functions[f];
            // The caller's request in progress: a visit of a calling service that started
            // before the invocation, in the same minute, chosen by a hash of both.
            let caller = |vs: &[Visit], inv: &Invocation| -> Option<usize> {
                vs.iter()
                    .enumerate()
                    .filter(|(_, v)| {
                        func.callers.contains(&(v.service as usize)) && v.start <= inv.start
                    })
                    .max_by_key(|(_, v)| mix64(v.key ^ inv.key))
                    .map(|(i, _)| i)
            };
            let mut minute = hour - MINUTE;
            let mut k = 0usize;
            while minute < end {
                let mv = &visits[bounds[k]..bounds[k + 1]];
                let twin_visits = &twin_minutes[k];
                for inv in invocations(world, model, f, minute) {
                    let found = caller(mv, &inv);
                    let visit = found.map_or(NONE, |i| (bounds[k] + i) as u32);
                    let (inc, role) = match unserved[k] {
                        Some(i) => {
                            let link = |v: &Visit| (v.trace_hi, v.trace_lo, v.service);
                            let ours = found.map(|j| link(&mv[j]));
                            let twins = caller(twin_visits, &inv).map(|j| link(&twin_visits[j]));
                            if ours != twins {
                                (i, cache.role_on(i, ResKind::Lambda, f))
                            } else {
                                (NONE, AnomalyRole::None)
                            }
                        }
                        None => (NONE, AnomalyRole::None),
                    };
                    let idx = invs.len() as u32;
                    let mut rng = Rng::new(inv.key ^ 0x6c67);
                    let d = (inv.duration_ms * 1000.0) as Micros;
                    let mut push = |ts: Micros, kind: Kind| {
                        if inside(ts) {
                            rows.push(Row {
                                ts,
                                kind,
                                a: idx,
                                b: f as u32,
                                key: mix64(inv.key ^ kind as u64),
                                inc,
                                role,
                            });
                        }
                    };
                    push(inv.start, Kind::LambdaStart);
                    // Powertools (capture_cold_start_metric) flushes the ColdStart
                    // document as the handler starts.
                    if inv.init_ms.is_some() {
                        push(
                            inv.start + 120 + ((inv.key >> 7) % 400) as Micros,
                            Kind::LambdaColdStartMetric,
                        );
                    }
                    if rng.chance(0.5) {
                        push(inv.start + d / 3 + 200, Kind::LambdaApp);
                    }
                    // The handler's metrics, flushed when it returns (or raises: the
                    // runtime logs the error after the flush).
                    push(inv.start + d - d / 20 - 250, Kind::LambdaMetrics);
                    if inv.error {
                        push(inv.start + d - d / 20, Kind::LambdaError);
                    }
                    push(inv.end(), Kind::LambdaEnd);
                    push(inv.end(), Kind::LambdaReport);
                    invs.push((f as u32, inv, visit));
                }
                minute += MINUTE;
                k += 1;
            }
        }

        // RDS logs.
        for (ri, rds) in model.rds.iter().enumerate() {
            plan_rds(world, &cache, ri, rds, hour, &visits, &mut rows);
        }

        // VPC flow logs: one-minute windows starting at the minute plus the ENI's offset.
        let rate = cw.vpc_flow_records_per_minute.0 * world.scale;
        let mut minute = hour;
        let mut k = 1usize;
        let mut roots: Vec<u32> = Vec::new();
        let mut twin_roots: Vec<u32> = Vec::new();
        while minute < end {
            // The minute's root requests: the same as in the counterfactual twin, whatever
            // an incident did to their calls.
            roots.clear();
            roots.extend(
                (bounds[k]..bounds[k + 1])
                    .filter(|&i| visits[i].is_root())
                    .map(|i| i as u32),
            );
            // Where an incident left requests without a pod, each record's path is checked
            // against the twin's.
            let twin_visits = &twin_minutes[k];
            if unserved[k].is_some() {
                twin_roots.clear();
                twin_roots.extend(
                    (0..twin_visits.len())
                        .filter(|&i| twin_visits[i].is_root())
                        .map(|i| i as u32),
                );
            }
            let twin = unserved[k].map(|inc| Twin {
                world: world.twin_at(minute),
                visits: twin_visits,
                roots: &twin_roots,
                incident: inc,
            });
            let mut rng = Rng::derive(world.seed, &[str_key("cw-vpc"), minute as u64]);
            let n = rng.poisson(rate * world.traffic.global(minute));
            for j in 0..n {
                let rk = stream(world.seed, &[str_key("cw-vpc-rec"), minute as u64, j]);
                plan_flow(
                    world,
                    model,
                    &visits,
                    &roots,
                    twin.as_ref(),
                    minute,
                    rk,
                    &mut rows,
                );
            }
            minute += MINUTE;
            k += 1;
        }

        rows.sort_by_key(|r| (r.ts, r.kind, r.b, r.key));
        write_rows(self, world, model, hour, &visits, &invs, &rows)
    }
}

/// The incident that left some of `minute`'s requests (`mv`, the minute's visits) without
/// a pod to serve them, if any: a call answered 503 that the twin answers, or root
/// requests that found no pod at all (the queue jobs of a crashed worker). The visits
/// the twin has beside this minute's are then missing, so what a line picks among them
/// is checked against the twin's.
fn unserved_incident(cache: &DatapointCache, mv: &[Visit], minute: Micros) -> Option<u32> {
    mv.iter()
        .find(|v| v.status == 503 && v.base_status < 500 && v.incident != NONE)
        .map(|v| v.incident)
        .or_else(|| {
            let q = cache.req(minute);
            (0..q.svc.len())
                .filter(|&s| q.svc[s].arrived > q.svc[s].roots)
                .find_map(|s| cache.acting_on(s, minute + 30 * SECOND, true))
        })
}

/// Timing of a root request at the load balancer.
struct AlbTimes {
    /// Request received (`request_creation_time`), in the minute the request started.
    creation: Micros,
    request_processing: Micros,
    response_processing: Micros,
    /// Response sent (`time`, the event timestamp).
    time: Micros,
}

fn alb_times(v: &Visit) -> AlbTimes {
    let k = mix64(v.key ^ 0x616c_6274);
    let into_minute = v.start.rem_euclid(MINUTE);
    let request_processing = ((k % 1_400) as Micros).min(into_minute);
    let response_processing = ((k >> 16) % 600) as Micros;
    AlbTimes {
        creation: v.start - request_processing,
        request_processing,
        response_processing,
        time: v.end() + response_processing,
    }
}

#[allow(clippy::too_many_arguments)]
fn plan_rds(
    world: &World,
    cache: &DatapointCache,
    ri: usize,
    rds: &super::model::Rds,
    hour: Micros,
    visits: &[Visit],
    rows: &mut Vec<Row>,
) {
    let end = hour + HOUR;
    let inside = |ts: Micros| ts >= hour && ts < end;
    let pg = rds.engine == DbEngine::Postgres;
    let push_as = |rows: &mut Vec<Row>, ts: Micros, kind: Kind, a: u32, k: u64, inc: u32| {
        if inside(ts) {
            rows.push(Row {
                ts,
                kind,
                a,
                b: ri as u32,
                key: k,
                inc,
                role: if inc == NONE {
                    AnomalyRole::None
                } else {
                    cache.role_on(inc, super::model::Kind::Rds, ri)
                },
            });
        }
    };
    let push = |rows: &mut Vec<Row>, ts: Micros, kind: Kind, a: u32, k: u64| {
        push_as(rows, ts, kind, a, k, NONE)
    };
    // Slow statements and errors of the callers' requests (minutes h - 1 .. h + 59).
    for (i, v) in visits.iter().enumerate() {
        if !rds.services.contains(&(v.service as usize)) {
            continue;
        }
        if v.duration > SECOND {
            let k = mix64(v.key ^ 0x736c_6f77);
            let ts = v.start + v.duration * 9 / 10;
            push(
                rows,
                ts,
                if pg { Kind::PgSlow } else { Kind::MySlow },
                i as u32,
                k,
            );
        } else if pg && v.own_error && mix64(v.key ^ 0x6462_6572).is_multiple_of(4) {
            push(
                rows,
                v.end() - 900,
                Kind::PgError,
                i as u32,
                mix64(v.key ^ 0x6572),
            );
        }
    }
    let series_conns = super::series::make_series(
        world,
        &cache.model,
        super::series::CATALOG
            .iter()
            .find(|d| d.name == "DatabaseConnections")
            .expect("catalog has DatabaseConnections"),
        ri,
        0,
        crate::config::Statistic::Average,
        60,
    );
    let resolved = cache.resolve(&series_conns);
    // Per minute background: checkpoints, connections, vacuum, noise. Checkpoints run
    // every five minutes and complete 270 s later, so start five minutes back.
    let mut minute = hour - 5 * MINUTE;
    while minute < end {
        // Each kind of line draws from a stream of its own, so a line the twin writes too
        // is the same line whatever an incident adds beside it.
        let sub = |name: &str| Rng::derive(rds.key, &[str_key(name), minute as u64]);
        if pg && minute.rem_euclid(5 * MINUTE) == 0 {
            let mut rng = sub("rds-checkpoint");
            let start = minute + (rds.key % 40) as Micros * SECOND + rng.below(900_000) as Micros;
            push(rows, start, Kind::PgCheckpointStart, NONE, rng.next_u64());
            let done = start + 269 * SECOND + rng.below(1_500_000) as Micros;
            push(rows, done, Kind::PgCheckpointDone, NONE, rng.next_u64());
        }
        if minute >= hour {
            if pg {
                // A connection opens at `ts` from pod `pod` (`NONE`: one of the clients'),
                // and, for a recycled one, mostly the one it replaces closes.
                let connection = |rows: &mut Vec<Row>,
                                  ts: Micros,
                                  pod: u32,
                                  k: u64,
                                  inc: u32,
                                  recycled: bool| {
                    push_as(rows, ts, Kind::PgConnReceived, pod, k, inc);
                    let authorized = ts + 2_500 + (k >> 40) as Micros % 9_000;
                    push_as(rows, authorized, Kind::PgConnAuthorized, pod, k, inc);
                    if recycled && (k >> 8) % 10 < 8 {
                        let closed = ts - 40_000 - (k >> 20) as Micros % 90_000;
                        push_as(rows, closed, Kind::PgDisconnect, pod, mix64(k), inc);
                    }
                };
                // Pools recycle connections (max lifetime 30 min): the i-th of a minute
                // is the twin's i-th; those beyond the twin's count are the doing of the
                // incident that changes the instance's connections.
                let conns = |c: &DatapointCache| {
                    resolved
                        .and_then(|r| c.stat_set(r, 60, minute))
                        .map_or(0.0, |s| s.sum)
                };
                let recycled = sub("rds-recycled").poisson(conns(cache) / 30.0);
                let twin_recycled = cache
                    .twin(minute)
                    .map_or(recycled, |t| sub("rds-recycled").poisson(conns(&t) / 30.0));
                let extra = resolved
                    .filter(|_| recycled > twin_recycled)
                    .and_then(|r| cache.period_label(r, 60, minute))
                    .map_or(NONE, |x| x.0);
                for i in 0..recycled {
                    let k = stream(rds.key, &[str_key("rds-conn"), minute as u64, i]);
                    let ts = minute + (k % MINUTE as u64) as Micros;
                    let inc = if i < twin_recycled { NONE } else { extra };
                    connection(rows, ts, NONE, k, inc, true);
                }
                // A pod that becomes ready opens its pool (the incident's, for a pod an
                // incident created), within two seconds.
                for &s in &rds.services {
                    for p in world.pods.pods_overlapping(s, minute, minute + MINUTE) {
                        let pod = world.pod(p);
                        if pod.ready >= minute && pod.ready < minute + MINUTE {
                            let inc = created_by(world, p).map_or(NONE, |c| c.0);
                            for j in 0..2 + pod.key % 4 {
                                let k = stream(pod.key, &[str_key("rds-pool"), ri as u64, j]);
                                let ts = pod.ready + 20_000 + (k % 2_000_000) as Micros;
                                connection(rows, ts, p as u32, k, inc, false);
                            }
                        }
                    }
                }
                if autovacuum_runs(rds.key, minute) {
                    let k = stream(rds.key, &[str_key("rds-autovacuum"), minute as u64]);
                    let ts = minute + 20 * SECOND + (k % 30_000_000) as Micros;
                    push(rows, ts, Kind::PgAutovacuum, NONE, k);
                    if k.is_multiple_of(2) {
                        push(rows, ts + 400_000, Kind::PgAutoanalyze, NONE, k ^ 2);
                    }
                }
                let mut rng = sub("rds-auth-failed");
                if rng.chance(0.003) {
                    let k = rng.next_u64();
                    push(
                        rows,
                        minute + (k % MINUTE as u64) as Micros,
                        Kind::PgAuthFailed,
                        NONE,
                        k,
                    );
                }
                let mut rng = sub("rds-conn-reset");
                if rng.chance(0.015) {
                    let k = rng.next_u64();
                    push(
                        rows,
                        minute + (k % MINUTE as u64) as Micros,
                        Kind::PgConnReset,
                        NONE,
                        k,
                    );
                }
                // A connection storm on an ordinary day (a batch client, pools warming
                // up while a rollout's old pods still hold theirs): a few connections
                // refused at the limit within seconds, about twice a day per instance.
                let mut rng = sub("rds-conn-storm");
                if rng.chance(NORMAL_CONNECTION_STORMS_PER_DAY / 1440.0) {
                    let at = minute + rng.below(50 * SECOND as u64) as Micros;
                    for _ in 0..1 + rng.below(4) {
                        let k = rng.next_u64();
                        let kind = if k.is_multiple_of(3) {
                            Kind::PgFatalTooMany
                        } else {
                            Kind::PgFatalReserved
                        };
                        push(rows, at + (k % 8_000_000) as Micros, kind, NONE, k);
                    }
                }
            } else {
                // Connections cut off for no visible reason, and the pools of deleted pods
                // (the incident's, for a pod an incident deleted).
                let mut rng = sub("rds-aborted");
                for _ in 0..rng.poisson(0.012) {
                    let k = rng.next_u64();
                    let ts = minute + (k % MINUTE as u64) as Micros;
                    push(rows, ts, Kind::MyAborted, NONE, k);
                }
                // Idle connections of clients outside the pools (consoles, cron jobs)
                // closed by wait_timeout: a handful a day.
                let mut rng = sub("rds-aborted-timeout");
                for _ in 0..rng.poisson(NORMAL_WAIT_TIMEOUTS_PER_DAY / 1440.0) {
                    let k = rng.next_u64();
                    let ts = minute + (k % MINUTE as u64) as Micros;
                    push(rows, ts, Kind::MyAbortedTimeout, NONE, k);
                }
                for &s in &rds.services {
                    for p in world.pods.pods_overlapping(s, minute, minute + MINUTE) {
                        let pod = world.pod(p);
                        if pod
                            .deleted
                            .is_some_and(|d| d >= minute && d < minute + MINUTE)
                        {
                            let inc = deleted_by(world, p).map_or(NONE, |c| c.0);
                            let d = pod.deleted.unwrap_or(minute);
                            for j in 0..1 + pod.key % 3 {
                                let k = stream(pod.key, &[str_key("rds-aborted"), ri as u64, j]);
                                let ts = d + 100_000 + (k % 2_000_000) as Micros;
                                push_as(rows, ts, Kind::MyAborted, p as u32, k, inc);
                            }
                        }
                    }
                }
                let mut rng = sub("rds-page-cleaner");
                if rng.chance(0.01) {
                    let k = rng.next_u64();
                    push(
                        rows,
                        minute + (k % MINUTE as u64) as Micros,
                        Kind::MyPageCleaner,
                        NONE,
                        k,
                    );
                }
            }
            // Statements of background jobs (reports, batch updates) that run long.
            let mut rng = sub("rds-background-slow");
            if rng.chance(0.012) {
                let k = rng.next_u64();
                let kind = if pg { Kind::PgSlow } else { Kind::MySlow };
                push(rows, minute + (k % MINUTE as u64) as Micros, kind, NONE, k);
            }
            plan_exhaustion(
                world,
                cache,
                ri,
                rds,
                minute,
                resolved,
                &mut |ts, kind, k, inc| push_as(rows, ts, kind, NONE, k, inc),
            );
        }
        minute += MINUTE;
    }
}

/// The lines of a connection pool exhaustion on instance `ri` in `minute` (see
/// [`exhaustion_lines`]), labelled where the twin does not write the same line (a near
/// miss on the instance writes some of them there too).
fn plan_exhaustion(
    world: &World,
    cache: &DatapointCache,
    ri: usize,
    rds: &super::model::Rds,
    minute: Micros,
    conns_series: Option<super::series::Resolved>,
    push: &mut dyn FnMut(Micros, Kind, u64, u32),
) {
    let lines = exhaustion_lines(world, cache, ri, rds, minute, conns_series);
    if lines.is_empty() {
        return;
    }
    let twin: Vec<(Micros, Kind, u64, u32)> = match cache.twin(minute) {
        Some(t) => exhaustion_lines(t.world(), &t, ri, rds, minute, conns_series),
        None => Vec::new(),
    };
    // A line the twin lacks where only a near miss acts on the instance: another incident
    // changed its connections (a pod it replaced opening its pool).
    let changed_by = |inc: u32| {
        if world.incidents.incidents[inc as usize].background {
            conns_series
                .and_then(|r| cache.period_label(r, 60, minute))
                .map_or(NONE, |x| x.0)
        } else {
            inc
        }
    };
    for (ts, kind, k, inc) in lines {
        let shared = twin
            .iter()
            .any(|&(t2, k2, key2, _)| t2 == ts && k2 == kind && key2 == k);
        push(ts, kind, k, if shared { NONE } else { changed_by(inc) });
    }
}

/// The lines of a connection pool exhaustion (or a near miss of one) on instance `ri` in
/// `minute`: the connections the filling pools open (PostgreSQL logs them), then, once the
/// instance is full (intensity above 0.75), the connection attempts it refuses. Each line
/// draws its key from a stream of its own (kind, minute, ordinal), so the lines a near miss
/// writes in the twin are the first ones an incident on top of it writes.
fn exhaustion_lines(
    world: &World,
    cache: &DatapointCache,
    ri: usize,
    rds: &super::model::Rds,
    minute: Micros,
    conns_series: Option<super::series::Resolved>,
) -> Vec<(Micros, Kind, u64, u32)> {
    let mut out = Vec::new();
    let mid = minute + 30 * SECOND;
    let Some((inc, i)) = cache
        .effect(Effect::RdsConnections, ResKind::Rds, ri, mid)
        .filter(|x| x.1 > LABEL_MIN_INTENSITY)
    else {
        return out;
    };
    let pg = rds.engine == DbEngine::Postgres;
    let key = |name: &str, j: u64| stream(rds.key, &[str_key(name), minute as u64, j]);
    // Nothing before the first episode acting here starts (its first minute may begin
    // earlier).
    let from = cache
        .effect_start(Effect::RdsConnections, ResKind::Rds, ri, minute)
        .unwrap_or(minute);
    let mut push = |ts: Micros, kind: Kind, k: u64| {
        if ts >= from {
            out.push((ts, kind, k, inc))
        }
    };
    let conns = |m: Micros| {
        conns_series
            .and_then(|r| cache.stat_set(r, 60, m))
            .map_or(0.0, |s| s.sum)
    };
    if pg {
        let grown = (conns(minute) - conns(minute - MINUTE)).max(0.0) as u64;
        for j in 0..grown {
            let k = key("rds-exhaustion-grown", j);
            let ts = minute + (k % MINUTE as u64) as Micros;
            push(ts, Kind::PgConnReceived, k);
            push(
                ts + 2_500 + (k >> 40) as Micros % 9_000,
                Kind::PgConnAuthorized,
                k,
            );
        }
    }
    let full = ((i - 0.75) / 0.25).clamp(0.0, 1.0);
    if full <= 0.0 {
        return out;
    }
    let pods: usize = rds
        .services
        .iter()
        .map(|&s| {
            world
                .pods
                .pods_overlapping(s, minute, minute + MINUTE)
                .filter(|&p| world.pod(p).serving_at(mid))
                .count()
        })
        .sum();
    let mut rng = Rng::derive(rds.key, &[str_key("rds-exhaustion"), minute as u64]);
    for j in 0..rng.poisson(full * 1.5 * pods as f64) {
        let k = key("rds-exhaustion-refused", j);
        let ts = minute + (k % MINUTE as u64) as Micros;
        if pg {
            push(ts, Kind::PgConnReceived, k);
            let kind = if (k >> 12) % 10 < 7 {
                Kind::PgFatalReserved
            } else {
                Kind::PgFatalTooMany
            };
            push(ts + 1_200 + (k >> 40) as Micros % 3_000, kind, k);
        } else {
            push(ts, Kind::MyAbortedTimeout, k);
        }
    }
    out
}

/// ALB node address seen by the pods (the `client_ip` of root requests in pod_logs).
fn alb_private_ip(out: &mut impl Write, root_key: u64) {
    text::text(
        out,
        (
            "10.0.",
            (root_key >> 8) % 96,
            '.',
            2 + (root_key >> 16) % 250,
        ),
    );
}

/// The twin's requests of a minute where an incident left some without a pod.
struct Twin<'a> {
    /// The counterfactual twin's world (its own pods).
    world: &'a World,
    visits: &'a [Visit],
    /// Indices of the root visits in `visits`.
    roots: &'a [u32],
    incident: u32,
}

/// The call a flow record follows: a root request of the minute (`roots`, indices in
/// `visits`) chosen by a hash of both, then down its call tree (at each visit, stop or
/// follow one of its calls), from the record's own stream `rk`.
fn flow_path(visits: &[Visit], roots: &[u32], rk: u64) -> Option<u32> {
    let mut i = roots
        .iter()
        .copied()
        .max_by_key(|&i| mix64(visits[i as usize].key ^ rk))?;
    let mut walk = Rng::new(rk ^ 0x7761_6c6b);
    while walk.f64() >= 0.45 {
        let pick = walk.next_u64();
        let trace = visits[i as usize].root_key;
        let calls = visits[i as usize + 1..]
            .iter()
            .take_while(|v| v.root_key == trace)
            .enumerate()
            .filter(|(_, v)| v.parent == i)
            .map(|(j, _)| i + 1 + j as u32);
        let n = calls.clone().count();
        match calls.clone().nth((pick % n.max(1) as u64) as usize) {
            Some(c) if n > 0 => i = c,
            _ => break,
        }
    }
    Some(i)
}

/// The other end of the flow a record of call `v` shows (`x`: the record's first draw).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FlowPeer {
    /// A root request, from the load balancer.
    LoadBalancer,
    /// The pod's database traffic.
    Database,
    /// AWS API endpoints (SQS, DynamoDB, Lambda).
    AwsApi,
    /// DNS lookups to the VPC resolver.
    Dns,
    /// The calling pod.
    Caller,
}

fn flow_peer(v: &Visit, svc: &crate::world::ServiceInfo, x: f64) -> FlowPeer {
    if v.is_root() {
        FlowPeer::LoadBalancer
    } else if x < 0.25 && !svc.rds.is_empty() {
        FlowPeer::Database
    } else if x < 0.4 && (!svc.sqs.is_empty() || !svc.dynamodb.is_empty() || !svc.lambda.is_empty())
    {
        FlowPeer::AwsApi
    } else if x < 0.5 {
        FlowPeer::Dns
    } else {
        FlowPeer::Caller
    }
}

/// What the record with key `key` of call `i` shows of it: the service, its pod's
/// address and the other end (the caller's pod's address, or the load balancer's
/// address of the request), so two calls that make the same record compare equal.
fn flow_ends<'a>(
    world: &'a World,
    visits: &[Visit],
    i: u32,
    key: u64,
) -> (u16, &'a str, &'a str, u64) {
    let v = &visits[i as usize];
    let svc = world.service(v.service as usize);
    let dst = world.pod(v.pod as usize).ip.as_str();
    match flow_peer(v, svc, Rng::new(key).f64()) {
        FlowPeer::LoadBalancer => (v.service, dst, "", v.root_key),
        FlowPeer::Caller => (
            v.service,
            dst,
            world
                .pod(visits[v.parent as usize].pod as usize)
                .ip
                .as_str(),
            0,
        ),
        _ => (v.service, dst, "", 0),
    }
}

/// Plans one VPC flow record of minute `minute` from the requests of that minute (`roots`:
/// the indices of its root visits in `visits`).
///
/// The record is the flow of one call ([`flow_path`]). The twin draws the same request
/// and the same path, so a record differs only where an incident changed the calls on
/// its path; in a minute where an incident left requests without a pod (`twin`), a record
/// whose path is not the twin's carries that incident.
#[allow(clippy::too_many_arguments)]
fn plan_flow(
    world: &World,
    model: &Model,
    visits: &[Visit],
    roots: &[u32],
    twin: Option<&Twin>,
    minute: Micros,
    rk: u64,
    rows: &mut Vec<Row>,
) {
    let mut rng = Rng::new(rk);
    let x = rng.f64();
    let key = rng.next_u64();
    let mut inc = NONE;
    let mut role = AnomalyRole::None;
    let mut pick = || -> Option<u32> {
        let i = flow_path(visits, roots, rk);
        if let Some(t) = twin {
            let theirs =
                flow_path(t.visits, t.roots, rk).map(|j| flow_ends(t.world, t.visits, j, key));
            if i.map(|i| flow_ends(world, visits, i, key)) != theirs {
                inc = t.incident;
                role = i
                    .and_then(|i| {
                        world.incidents.incidents[inc as usize]
                            .involvement(visits[i as usize].service as usize)
                    })
                    .map_or(AnomalyRole::Symptom, |x| x.0);
            }
        }
        i
    };
    // (kind, visit, node)
    let (kind, visit, node): (Kind, u32, usize) = if x < 0.02 {
        (Kind::VpcNoData, NONE, rng.index(model.node_eni.len()))
    } else if x < 0.06 {
        (Kind::VpcReject, NONE, rng.index(model.node_eni.len()))
    } else {
        match pick() {
            Some(i) => {
                // Captured on the node of the visit's pod: the ingress of a request
                // (from the load balancer or a calling pod) or the egress of the pod's
                // own database, AWS API and DNS traffic.
                let node = world.pod(visits[i as usize].pod as usize).node;
                (Kind::VpcAccept, i, node)
            }
            None => (Kind::VpcNoData, NONE, rng.index(model.node_eni.len())),
        }
    };
    let offset = (mix64(str_key(&model.node_eni[node])) % 60) as Micros * SECOND;
    rows.push(Row {
        ts: minute + offset,
        kind,
        a: visit,
        b: node as u32,
        key,
        inc,
        role,
    });
}

/// SQL text of a statement against a database of the world.
fn write_statement(out: &mut impl Write, db: &str, k: u64, pg: bool) {
    let p = |i: usize| if pg { ["$0", "$1", "$2", "$3"][i] } else { "?" };
    let _ = match (db.contains("order"), db.contains("user"), k % 3) {
        (true, _, 0) => write!(
            out,
            "SELECT o.id, o.status, o.total_cents, o.created_at FROM orders o JOIN order_items i ON i.order_id = o.id WHERE o.user_id = {} ORDER BY o.created_at DESC LIMIT 20",
            p(1)
        ),
        (true, _, 1) => write!(
            out,
            "UPDATE orders SET status = {}, updated_at = now() WHERE id = {} AND status = 'pending'",
            p(1),
            p(2)
        ),
        (true, _, _) => write!(
            out,
            "SELECT sum(amount_cents) FROM payments WHERE captured_at >= {} AND merchant_id = {} GROUP BY currency",
            p(1),
            p(2)
        ),
        (_, true, 0) => write!(
            out,
            "SELECT u.id, u.email, a.line1, a.city FROM users u LEFT JOIN addresses a ON a.user_id = u.id WHERE u.id = {}",
            p(1)
        ),
        (_, true, _) => write!(
            out,
            "SELECT id, email FROM users WHERE lower(email) LIKE {} ORDER BY created_at LIMIT 50",
            p(1)
        ),
        (_, _, 0) => write!(
            out,
            "SELECT p.id, p.sku, p.title, p.price_cents FROM products p JOIN categories c ON c.id = p.category_id WHERE c.slug = {} ORDER BY p.popularity DESC LIMIT 48",
            p(1)
        ),
        (_, _, 1) => write!(
            out,
            "SELECT sku, sum(quantity) FROM stock_movements WHERE warehouse_id = {} AND created_at > {} GROUP BY sku",
            p(1),
            p(2)
        ),
        _ => write!(
            out,
            "UPDATE inventory SET reserved = reserved + {} WHERE sku = {} AND available >= {}",
            p(1),
            p(2),
            p(3)
        ),
    };
}

/// `2026-11-23 08:41:02 UTC`
fn write_pg_time(out: &mut impl Write, t: Micros) {
    text::datetime(out, &civil(t), b' ');
    let _ = out.write_str(" UTC");
}

/// A pod address of one of the instance's callers at `t` (falls back to a node).
fn caller_ip<'w>(world: &'w World, services: &[usize], t: Micros, k: u64) -> &'w str {
    if !services.is_empty() {
        let s = services[(k % services.len() as u64) as usize];
        if let Some(p) = world.pods.serving_pod(s, t, k >> 8) {
            return &world.pod(p).ip;
        }
    }
    &world.topology.nodes[(k % world.topology.nodes.len() as u64) as usize].ip
}

fn write_rows(
    table: &Logs,
    world: &World,
    model: &Model,
    hour: Micros,
    visits: &[Visit],
    invs: &[(u32, Invocation, u32)],
    rows: &[Row],
) -> Result<RecordBatch, ArrowError> {
    let n = rows.len();
    let cfg = &world.config.services.cluster;
    let mut common = CommonColumns::new(table.code(), hour, n);
    let mut group = StringBuilder::with_capacity(n, n * 30);
    let mut stream_col = StringBuilder::with_capacity(n, n * 40);
    let mut message = StringBuilder::with_capacity(n, n * 200);
    let mut ingestion = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut event_id = StringBuilder::with_capacity(n, n * 56);
    let mut request_id = StringBuilder::with_capacity(n, n * 30);
    let mut trace_id = StringBuilder::with_capacity(n, n * 20);
    let mut template = StringBuilder::with_capacity(n, n * 20);
    for r in rows {
        let mut rng = Rng::new(r.key);
        let ingest: Micros;
        let service: &str;
        let tmpl: &'static str;
        let mut suffix: [&'static str; 3] = ["", "", ""];
        let mut trace: Option<(u64, u64)> = None;
        match r.kind {
            Kind::AlbAccess => {
                let v = &visits[r.a as usize];
                let alb = &model.albs[r.b as usize];
                let svc = world.service(v.service as usize);
                let (_, tg) = model.svc_alb[v.service as usize].unwrap_or((0, 0));
                let pod = world.pod(v.pod as usize);
                let t = alb_times(v);
                let (rx, tx) = alb_bytes(world, v);
                let h2 = mix64(v.root_key) % 10 < 6;
                let tls13 = mix64(v.root_key ^ 7) % 10 < 7;
                let route = &svc.routes[v.route as usize % svc.routes.len()];
                service = &svc.name;
                tmpl = "alb.access";
                trace = Some((v.trace_hi, v.trace_lo));
                let m = &mut message;
                m.write_str(if h2 { "h2 " } else { "https " }).ok();
                iso(m, t.time, 6);
                text::text(m, (' ', &alb.dim, ' '));
                write_client_ip(m, v.root_key);
                text::text(
                    m,
                    (
                        ':',
                        1024 + (v.root_key >> 33) % 64_000,
                        ' ',
                        &pod.ip,
                        ':',
                        svc.port,
                    ),
                );
                text::text(
                    m,
                    (
                        (' ', Fixed(t.request_processing as f64 / 1e6, 3)),
                        (' ', Fixed(v.duration as f64 / 1e6, 3)),
                        (' ', Fixed(t.response_processing as f64 / 1e6, 3)),
                        (' ', v.status, ' ', v.status),
                        (' ', rx, ' ', tx),
                    ),
                );
                text::text(
                    m,
                    (" \"", route_method(route), " https://", &alb.domain, ":443"),
                );
                write_path(m, route, v.key);
                text::text(
                    m,
                    (
                        " HTTP/",
                        if h2 { "2.0" } else { "1.1" },
                        "\" \"",
                        USER_AGENTS[(v.root_key % USER_AGENTS.len() as u64) as usize],
                        "\" ",
                    ),
                );
                text::text(
                    m,
                    (
                        if tls13 {
                            "TLS_AES_128_GCM_SHA256"
                        } else {
                            "ECDHE-RSA-AES128-GCM-SHA256"
                        },
                        ' ',
                        if tls13 { "TLSv1.3" } else { "TLSv1.2" },
                        ' ',
                        alb.tg_arns.get(tg).map_or("-", |s| s.as_str()),
                        " \"",
                    ),
                );
                write_amzn_trace(m, t.creation, v.trace_hi, v.trace_lo);
                text::text(
                    m,
                    (
                        "\" \"",
                        &alb.domain,
                        "\" \"arn:aws:acm:",
                        &cfg.region,
                        ':',
                        (&cfg.account_id, ":certificate/"),
                    ),
                );
                text::uuid_from_key(m, alb.key);
                text::text(m, ("\" ", 1 + tg, ' '));
                iso(m, t.creation, 6);
                text::text(
                    m,
                    (
                        " \"forward\" \"-\" \"-\" \"",
                        &pod.ip,
                        ':',
                        svc.port,
                        "\" \"",
                        (v.status, "\" \"-\" \"-\" TID_"),
                    ),
                );
                text::hex128(
                    m,
                    mix64(v.root_key ^ 0x0074_6964),
                    mix64(v.root_key ^ 0x0074_6965),
                );
                message.append_value("");
                write_amzn_trace(&mut request_id, t.creation, v.trace_hi, v.trace_lo);
                request_id.append_value("");
                write_alb_stream(&mut stream_col, cfg, alb, t.time);
                text::text(&mut group, ("/aws/alb/", &alb.name));
                ingest = (t.time - t.time.rem_euclid(5 * MINUTE))
                    + 5 * MINUTE
                    + 20 * SECOND
                    + rng.below(120_000_000) as Micros;
            }
            Kind::AlbRejected => {
                let s = r.b as usize;
                let svc = world.service(s);
                let (a, tg) = model.svc_alb[s].unwrap_or((0, 0));
                let alb = &model.albs[a];
                service = &svc.name;
                tmpl = "alb.access.no_target";
                let route = &svc.routes[(r.key % svc.routes.len() as u64) as usize];
                let m = &mut message;
                m.write_str("https ").ok();
                iso(m, r.ts + 400, 6);
                text::text(m, (' ', &alb.dim, ' '));
                write_client_ip(m, r.key);
                let _ = write!(
                    m,
                    ":{} - -1 -1 -1 503 - {} 306 \"{} https://{}:443",
                    1024 + (r.key >> 33) % 64_000,
                    240 + (r.key >> 7) % 600,
                    route_method(route),
                    alb.domain
                );
                write_path(m, route, r.key);
                let _ = write!(
                    m,
                    " HTTP/1.1\" \"{}\" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 {} \"",
                    USER_AGENTS[(r.key % USER_AGENTS.len() as u64) as usize],
                    alb.tg_arns.get(tg).map_or("-", |s| s.as_str())
                );
                write_amzn_trace(m, r.ts, r.key, mix64(r.key));
                let _ = write!(
                    m,
                    "\" \"{}\" \"arn:aws:acm:{}:{}:certificate/",
                    alb.domain, cfg.region, cfg.account_id
                );
                text::uuid_from_key(m, alb.key);
                text::text(m, ("\" ", 1 + tg, ' '));
                iso(m, r.ts, 6);
                m.write_str(" \"forward\" \"-\" \"-\" \"-\" \"-\" \"-\" \"-\" TID_")
                    .ok();
                text::hex128(m, mix64(r.key ^ 0x0074_6964), mix64(r.key ^ 0x0074_6965));
                message.append_value("");
                write_amzn_trace(&mut request_id, r.ts, r.key, mix64(r.key));
                request_id.append_value("");
                write_alb_stream(&mut stream_col, cfg, alb, r.ts);
                text::text(&mut group, ("/aws/alb/", &alb.name));
                ingest = (r.ts - r.ts.rem_euclid(5 * MINUTE))
                    + 5 * MINUTE
                    + 20 * SECOND
                    + rng.below(120_000_000) as Micros;
            }
            Kind::LambdaStart
            | Kind::LambdaApp
            | Kind::LambdaError
            | Kind::LambdaEnd
            | Kind::LambdaReport
            | Kind::LambdaMetrics
            | Kind::LambdaColdStartMetric => {
                let (f, inv, vi) = &invs[r.a as usize];
                let func = &model.functions[*f as usize];
                let visit = (*vi != NONE).then(|| &visits[*vi as usize]);
                service = match visit {
                    Some(v) => &world.service(v.service as usize).name,
                    None => model.resource_service(world, super::model::Kind::Lambda, *f as usize),
                };
                trace = visit.map(|v| (v.trace_hi, v.trace_lo));
                let python = func.runtime.starts_with("python");
                suffix = lambda_id_suffix(r.kind, python, LambdaWork::of(&func.id), inv.error);
                let m = &mut message;
                tmpl = match r.kind {
                    Kind::LambdaStart => {
                        m.write_str("START RequestId: ").ok();
                        text::uuid_from_key(m, inv.key);
                        m.write_str(" Version: $LATEST").ok();
                        "lambda.start"
                    }
                    Kind::LambdaEnd => {
                        m.write_str("END RequestId: ").ok();
                        text::uuid_from_key(m, inv.key);
                        "lambda.end"
                    }
                    Kind::LambdaReport => {
                        m.write_str("REPORT RequestId: ").ok();
                        text::uuid_from_key(m, inv.key);
                        text::text(
                            m,
                            (
                                ("\tDuration: ", Fixed(inv.duration_ms, 2)),
                                (" ms\tBilled Duration: ", inv.billed_ms()),
                                (" ms\tMemory Size: ", func.memory_mb),
                                (" MB\tMax Memory Used: ", inv.max_memory_mb, " MB\t"),
                            ),
                        );
                        if let Some(init) = inv.init_ms {
                            text::text(m, ("Init Duration: ", Fixed(init, 2), " ms\t"));
                            "lambda.report.cold_start"
                        } else {
                            "lambda.report"
                        }
                    }
                    Kind::LambdaApp => {
                        write_lambda_prefix(m, python, "INFO", r.ts, inv.key);
                        write_lambda_app(m, &func.id, inv, &mut rng);
                        "lambda.app.info"
                    }
                    Kind::LambdaMetrics => {
                        write_lambda_emf(m, world, func, inv, r.ts, false);
                        "lambda.emf.metrics"
                    }
                    Kind::LambdaColdStartMetric => {
                        write_lambda_emf(m, world, func, inv, r.ts, true);
                        "lambda.emf.cold_start"
                    }
                    _ => {
                        write_lambda_error(m, &func.id, python, r.ts, inv.key, &mut rng);
                        "lambda.error"
                    }
                };
                message.append_value("");
                text::uuid_from_key(&mut request_id, inv.key);
                request_id.append_value("");
                text::text(&mut group, ("/aws/lambda/", &func.id));
                write_lambda_stream(&mut stream_col, func.key, inv);
                ingest = r.ts + 150_000 + rng.below(1_600_000) as Micros;
            }
            Kind::VpcAccept | Kind::VpcReject | Kind::VpcNoData => {
                let node = r.b as usize;
                let eni = &model.node_eni[node];
                let start_s = r.ts / SECOND;
                let m = &mut message;
                text::text(m, ("2 ", &cfg.account_id, ' ', eni, ' '));
                let v = (r.a != NONE).then(|| &visits[r.a as usize]);
                service = v.map_or(model.cluster.as_str(), |v| {
                    &world.service(v.service as usize).name
                });
                tmpl = match (r.kind, v) {
                    (Kind::VpcAccept, Some(v)) => {
                        let svc = world.service(v.service as usize);
                        let dst = &world.pod(v.pod as usize).ip;
                        let x = rng.f64();
                        let packets = (rng.lognormal(14.0, 1.0) as u64).max(1);
                        let bytes = packets * (120 + rng.below(1_300));
                        let sport = 32_768 + rng.below(28_000);
                        let peer = flow_peer(v, svc, x);
                        if peer == FlowPeer::LoadBalancer {
                            alb_private_ip(m, v.root_key);
                            text::text(m, (' ', dst, ' ', sport, ' ', (svc.port, " 6")));
                        } else if peer == FlowPeer::Database {
                            // The pod's database traffic.
                            let ri = model
                                .rds
                                .iter()
                                .position(|d| svc.rds.contains(&d.id))
                                .unwrap_or(0);
                            let d = &model.rds[ri];
                            let port = if d.engine == DbEngine::Postgres {
                                5432
                            } else {
                                3306
                            };
                            text::text(m, (dst, ' ', &d.ip, ' ', sport, (' ', port, " 6")));
                        } else if peer == FlowPeer::AwsApi {
                            // AWS API endpoints (through the NAT gateway / VPC endpoints).
                            let _ = write!(
                                m,
                                "{dst} {}.{}.{}.{} {sport} 443 6",
                                [52u64, 54, 3, 18][(r.key % 4) as usize],
                                94 + (r.key >> 8) % 40,
                                (r.key >> 16) % 256,
                                1 + (r.key >> 24) % 254
                            );
                        } else if peer == FlowPeer::Dns {
                            // DNS lookups to the VPC resolver.
                            text::text(m, (dst, " 10.0.0.2 ", sport, " 53 17"));
                        } else {
                            let src = &world.pod(visits[v.parent as usize].pod as usize).ip;
                            text::text(m, (src, ' ', dst, ' ', sport, (' ', svc.port, " 6")));
                        }
                        text::text(
                            m,
                            (
                                (' ', packets, ' ', bytes),
                                (' ', start_s, ' ', start_s + 60, " ACCEPT OK"),
                            ),
                        );
                        "vpc.flow.accept"
                    }
                    (Kind::VpcReject, _) => {
                        let node_ip = &world.topology.nodes[node].ip;
                        let port = [22u64, 10255, 2379, 3389, 9100][(r.key % 5) as usize];
                        let _ = write!(
                            m,
                            "10.0.{}.{} {node_ip} {} {port} 6 {} {} {start_s} {} REJECT OK",
                            (r.key >> 8) % 96,
                            2 + (r.key >> 16) % 250,
                            32_768 + (r.key >> 24) % 28_000,
                            1 + (r.key >> 40) % 3,
                            44 + (r.key >> 44) % 80,
                            start_s + 60
                        );
                        "vpc.flow.reject"
                    }
                    _ => {
                        text::text(
                            m,
                            ("- - - - - - - ", start_s, ' ', start_s + 60, " - NODATA"),
                        );
                        "vpc.flow.nodata"
                    }
                };
                message.append_value("");
                request_id.append_null();
                text::text(&mut group, ("/aws/vpc/flowlogs/", &model.vpc_id));
                text::text(&mut stream_col, (eni, "-all"));
                ingest = r.ts + MINUTE + 60 * SECOND + rng.below(480_000_000) as Micros;
            }
            _ => {
                // RDS
                let rds = &model.rds[r.b as usize];
                service = model.resource_service(world, super::model::Kind::Rds, r.b as usize);
                // `a`: the request of a statement line, the pod of a connection line.
                let (v, pod) = match r.kind {
                    Kind::PgConnReceived
                    | Kind::PgConnAuthorized
                    | Kind::PgDisconnect
                    | Kind::MyAborted => (None, (r.a != NONE).then_some(r.a as usize)),
                    _ => ((r.a != NONE).then(|| &visits[r.a as usize]), None),
                };
                trace = v.map(|v| (v.trace_hi, v.trace_lo));
                let pg = rds.engine == DbEngine::Postgres;
                tmpl = write_rds(&mut message, world, rds, r, v, pod, &mut rng);
                message.append_value("");
                request_id.append_null();
                let suffix = match (pg, r.kind) {
                    (true, _) => "postgresql",
                    (false, Kind::MySlow) => "slowquery",
                    _ => "error",
                };
                text::text(&mut group, ("/aws/rds/instance/", &rds.id, '/', suffix));
                let _ = stream_col.write_str(&rds.id);
                ingest = r.ts + 800_000 + rng.below(4_000_000) as Micros;
            }
        }
        group.append_value("");
        stream_col.append_value("");
        let label = match r.kind {
            // The line shows the request's timing and status only: an incident that
            // changed how it failed (not whether, nor when) leaves the line as it was.
            Kind::AlbAccess => {
                let v = &visits[r.a as usize];
                if v.outcome_changed() {
                    world.visit_label(v, r.ts)
                } else {
                    Label::NORMAL
                }
            }
            Kind::PgSlow | Kind::MySlow if r.a != NONE => {
                world.visit_label(&visits[r.a as usize], r.ts)
            }
            _ if r.inc != NONE => world.label(r.inc, r.role, r.ts),
            _ => Label::NORMAL,
        };
        // The line's identity: what it is about (its key: a request, an invocation, a
        // connection, a flow record) and which line of it.
        let id = stream(r.key, &[r.kind as u64]);
        common.append(r.ts, id, service, &label);
        ingestion.append_value(ingest);
        write_event_id(&mut event_id, r.ts, id);
        event_id.append_value("");
        match trace {
            Some((hi, lo)) => {
                write_trace(&mut trace_id, hi, lo);
                trace_id.append_value("");
            }
            None => trace_id.append_null(),
        }
        template.write_str(tmpl).ok();
        for x in suffix {
            template.write_str(x).ok();
        }
        template.append_value("");
    }
    let own: Vec<ArrayRef> = vec![
        Arc::new(group.finish()),
        Arc::new(stream_col.finish()),
        Arc::new(message.finish()),
        Arc::new(ingestion.finish()),
        Arc::new(event_id.finish()),
        Arc::new(request_id.finish()),
        Arc::new(trace_id.finish()),
        Arc::new(template.finish()),
    ];
    common.finish(table.schema(), own)
}

/// `Root=1-<8 hex epoch seconds>-<24 hex>`: the X-Amzn-Trace-Id the ALB adds; its last 24
/// hex digits are the last 24 of the request's trace id in the other sources.
fn write_amzn_trace(out: &mut impl Write, at: Micros, hi: u64, lo: u64) {
    text::text(out, ("Root=1-", Hex((at / SECOND) as u32 as u64, 8), '-'));
    text::hex(out, hi, 8);
    text::hex16(out, lo);
}

/// `<account>_elasticloadbalancing_<region>_app.<name>.<id>_<YYYYMMDDTHHMMZ>`: the
/// 5-minute delivery file the line belongs to.
fn write_alb_stream(
    out: &mut impl Write,
    cfg: &crate::config::Cluster,
    alb: &super::model::Alb,
    t: Micros,
) {
    let end = t - t.rem_euclid(5 * MINUTE) + 5 * MINUTE;
    let c = civil(end);
    let id = alb.dim.rsplit('/').next().unwrap_or("");
    text::text(
        out,
        (
            &cfg.account_id,
            "_elasticloadbalancing_",
            &cfg.region,
            "_app.",
            &alb.name,
            ('.', id, '_'),
        ),
    );
    text::text(
        out,
        (
            Pad(c.year as u64, 4),
            Pad(c.month as u64, 2),
            Pad(c.day as u64, 2),
            'T',
            Pad(c.hour as u64, 2),
            (Pad(c.minute as u64, 2), 'Z'),
        ),
    );
}

/// `2026/11/23/[$LATEST]<32 hex>`: the execution environment's stream. Environments are
/// recycled every 40 minutes or so; concurrent invocations use parallel ones.
fn write_lambda_stream(out: &mut impl Write, fkey: u64, inv: &Invocation) {
    let slot = mix64(inv.key) % 3;
    let life = 40 * MINUTE;
    let shift = (mix64(fkey ^ slot) % life as u64) as Micros;
    let epoch = (inv.start + shift).div_euclid(life);
    let env = stream(fkey, &[slot, epoch as u64]);
    let born = epoch * life - shift;
    let c = civil(born);
    text::text(
        out,
        (
            Pad(c.year as u64, 4),
            '/',
            Pad(c.month as u64, 2),
            '/',
            Pad(c.day as u64, 2),
            "/[$LATEST]",
        ),
    );
    text::hex128(out, env, mix64(env));
}

fn write_lambda_prefix(out: &mut impl Write, python: bool, level: &str, t: Micros, key: u64) {
    if python {
        text::text(out, ('[', level, "]\t"));
        param(out, |o| iso(o, t, 3));
        out.write_char('\t').ok();
        param(out, |o| text::uuid_from_key(o, key));
        out.write_char('\t').ok();
    } else {
        param(out, |o| iso(o, t, 3));
        out.write_char('\t').ok();
        param(out, |o| text::uuid_from_key(o, key));
        text::text(out, ('\t', level, '\t'));
    }
}

/// What a Lambda function does, from its name: its application line, error and metrics.
#[derive(Clone, Copy, PartialEq, Eq)]
enum LambdaWork {
    ResizeImage,
    RenderInvoice,
    ProcessRecords,
}

impl LambdaWork {
    fn of(fid: &str) -> LambdaWork {
        if fid.contains("image") || fid.contains("resize") {
            LambdaWork::ResizeImage
        } else if fid.contains("pdf") || fid.contains("invoice") {
            LambdaWork::RenderInvoice
        } else {
            LambdaWork::ProcessRecords
        }
    }
}

/// The template id suffixes of a Lambda line: the runtime's layout and, for application,
/// error and metric lines, what the function does (their text depends on both).
fn lambda_id_suffix(kind: Kind, python: bool, work: LambdaWork, error: bool) -> [&'static str; 3] {
    let rt = if python { ".python" } else { ".nodejs" };
    let w = match work {
        LambdaWork::ResizeImage => ".image",
        LambdaWork::RenderInvoice => ".invoice",
        LambdaWork::ProcessRecords => ".records",
    };
    match kind {
        Kind::LambdaApp => [rt, w, ""],
        Kind::LambdaError => [
            rt,
            match (python, work) {
                (true, LambdaWork::ResizeImage) => ".unidentified_image",
                (true, _) => ".client_error",
                (false, LambdaWork::RenderInvoice) => ".timeout",
                (false, _) => ".socket_hang_up",
            },
            "",
        ],
        Kind::LambdaMetrics => [rt, w, if error { ".failed" } else { "" }],
        Kind::LambdaColdStartMetric => [rt, "", ""],
        _ => ["", "", ""],
    }
}

fn write_lambda_app(out: &mut impl Write, fid: &str, inv: &Invocation, rng: &mut Rng) {
    let k = rng.next_u64();
    match LambdaWork::of(fid) {
        LambdaWork::ResizeImage => text::text(
            out,
            (
                "Resized s3://media-uploads-prod/products/",
                P(Hex((k >> 32) as u32 as u64, 8)),
                ".jpg into 3 variants (1600, 800, 320 px) in ",
                P((inv.duration_ms * 0.8) as u64),
                " ms",
            ),
        ),
        LambdaWork::RenderInvoice => text::text(
            out,
            (
                ("Rendered invoice INV-2026-", P(Pad(k % 1_000_000, 6))),
                (" (", P(1 + (k >> 20) % 4), " pages)"),
                " to s3://billing-documents-prod/invoices/ in ",
                P((inv.duration_ms * 0.85) as u64),
                " ms",
            ),
        ),
        LambdaWork::ProcessRecords => text::text(
            out,
            (
                "Processed ",
                P(1 + k % 10),
                " record(s) in ",
                P((inv.duration_ms * 0.8) as u64),
                " ms",
            ),
        ),
    }
}

/// The metrics namespace of a function's Powertools (`POWERTOOLS_METRICS_NAMESPACE`): the
/// Kubernetes namespace of the first service invoking it (the team's application).
fn lambda_namespace<'w>(world: &'w World, func: &super::model::Function) -> &'w str {
    func.callers
        .first()
        .map_or("serverless", |&s| world.service(s).namespace.as_str())
}

/// Writes the Embedded Metric Format document AWS Lambda Powertools (`Metrics` with
/// `log_metrics`) prints for an invocation: the handler's own metrics, flushed when it
/// returns or raises (`cold` false), or the separate `ColdStart` document of a cold start
/// with the `function_name` dimension (`cold` true). `_aws.Timestamp` is the flush time
/// `t` in epoch ms, the dimension `service` is the function (`POWERTOOLS_SERVICE_NAME`).
/// Python Powertools writes each metric value as a list (`[812.0]`), the TypeScript one
/// a number. The values are those of the invocation: its application line's figures
/// (records, pages, the ProcessingTime / RenderTime it reports), a failure count for
/// failed invocations.
fn write_lambda_emf(
    out: &mut impl Write,
    world: &World,
    func: &super::model::Function,
    inv: &Invocation,
    t: Micros,
    cold: bool,
) {
    type Metric = (&'static str, &'static str, f64);
    let python = func.runtime.starts_with("python");
    let fid = func.id.as_str();
    // The figures of the invocation's application line (the same draw).
    let k = Rng::new(mix64(inv.key ^ Kind::LambdaApp as u64)).next_u64();
    let mut list: [Metric; 4] = [("", "", 0.0); 4];
    let mut n = 0;
    let mut add = |m: Metric| {
        list[n] = m;
        n += 1;
    };
    if cold {
        add(("ColdStart", "Count", 1.0));
    } else if fid.contains("image") || fid.contains("resize") {
        if inv.error {
            add(("ResizeFailures", "Count", 1.0));
        } else {
            add(("ImagesResized", "Count", 1.0));
            add(("VariantsWritten", "Count", 3.0));
            let bytes = 150_000 + mix64(k) % 4_800_000;
            add(("SourceImageBytes", "Bytes", bytes as f64));
        }
        add((
            "ProcessingTime",
            "Milliseconds",
            (inv.duration_ms * 0.8) as u64 as f64,
        ));
    } else if fid.contains("pdf") || fid.contains("invoice") {
        if inv.error {
            add(("RenderFailures", "Count", 1.0));
        } else {
            let pages = 1 + (k >> 20) % 4;
            add(("InvoicesRendered", "Count", 1.0));
            add(("PagesRendered", "Count", pages as f64));
            let bytes = pages * (38_000 + mix64(k) % 60_000);
            add(("PdfBytes", "Bytes", bytes as f64));
        }
        add((
            "RenderTime",
            "Milliseconds",
            (inv.duration_ms * 0.85) as u64 as f64,
        ));
    } else {
        if inv.error {
            add(("ProcessingErrors", "Count", 1.0));
        } else {
            add(("RecordsProcessed", "Count", (1 + k % 10) as f64));
        }
        add((
            "ProcessingTime",
            "Milliseconds",
            (inv.duration_ms * 0.8) as u64 as f64,
        ));
    }
    let metrics = &list[..n];
    let ns = lambda_namespace(world, func);
    text::text(
        out,
        (
            "{\"_aws\":{\"Timestamp\":",
            P(t.div_euclid(1000)),
            ",\"CloudWatchMetrics\":[{\"Namespace\":\"",
            P(ns),
            "\",\"Dimensions\":[[",
        ),
    );
    // Python: ["function_name","service"]; TypeScript: ["service","function_name"].
    out.write_str(match (cold, python) {
        (false, _) => "\"service\"",
        (true, true) => "\"function_name\",\"service\"",
        (true, false) => "\"service\",\"function_name\"",
    })
    .ok();
    out.write_str("]],\"Metrics\":[").ok();
    for (i, (name, unit, _)) in metrics.iter().enumerate() {
        if i > 0 {
            out.write_char(',').ok();
        }
        let _ = write!(out, "{{\"Name\":\"{name}\",\"Unit\":\"{unit}\"}}");
    }
    out.write_str("]}]}").ok();
    if cold && python {
        text::text(out, (",\"function_name\":\"", P(fid), '"'));
    }
    text::text(out, (",\"service\":\"", P(fid), '"'));
    if cold && !python {
        text::text(out, (",\"function_name\":\"", P(fid), '"'));
    }
    for (name, _, v) in metrics {
        // Python json.dumps writes floats with a fraction, in a list; JSON.stringify
        // writes integral numbers bare.
        text::text(out, (",\"", *name, "\":"));
        if python {
            let _ = out.write_char('[');
            param(out, |o| {
                let _ = write!(o, "{v:?}");
            });
            let _ = out.write_char(']');
        } else {
            param(out, |o| {
                let _ = write!(o, "{v}");
            });
        }
    }
    out.write_char('}').ok();
}

fn write_lambda_error(
    out: &mut impl Write,
    fid: &str,
    python: bool,
    t: Micros,
    key: u64,
    rng: &mut Rng,
) {
    let k = rng.next_u64();
    let work = LambdaWork::of(fid);
    if python {
        let ty = if work == LambdaWork::ResizeImage {
            text::text(
                out,
                (
                    "[ERROR] UnidentifiedImageError: cannot identify image file '/tmp/",
                    P(Hex(k as u32 as u64, 8)),
                    ".jpg'",
                ),
            );
            "UnidentifiedImageError"
        } else {
            out.write_str("[ERROR] ClientError: An error occurred (SlowDown) when calling the PutObject operation (reached max retries: 4): Please reduce your request rate.").ok();
            "ClientError"
        };
        text::text(
            out,
            (
                "\nTraceback (most recent call last):\n  File \"/var/task/handler.py\", line ",
                P(20 + k % 30),
                ", in handler\n    result = process(event[\"Records\"][0])\n  File \"/var/task/handler.py\", line ",
                P(60 + (k >> 8) % 80),
                ", in process\n    raise ",
                (ty, "(msg)"),
            ),
        );
    } else {
        write_lambda_prefix(out, false, "ERROR", t, key);
        let (ty, msg) = if work == LambdaWork::RenderInvoice {
            ("TimeoutError", "Navigation timeout of 20000 ms exceeded")
        } else {
            ("Error", "socket hang up")
        };
        let _ = write!(
            out,
            "Invoke Error \t{{\"errorType\":\"{ty}\",\"errorMessage\":\"{msg}\",\"stack\":[\"{ty}: {msg}\",\"    at /var/task/index.js:"
        );
        text::text(out, (P(30 + k % 90), ':', P(9 + (k >> 8) % 20)));
        out.write_str("\",\"    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)\"]}").ok();
    }
}

/// Writes an RDS log event, returning its template id.
fn write_rds(
    m: &mut StringBuilder,
    world: &World,
    rds: &super::model::Rds,
    r: &Row,
    v: Option<&Visit>,
    pod: Option<usize>,
    rng: &mut Rng,
) -> &'static str {
    let t = r.ts;
    let k = r.key;
    let ip = match (v, pod) {
        (Some(v), _) => world.pod(v.pod as usize).ip.as_str(),
        (None, Some(p)) => world.pod(p).ip.as_str(),
        (None, None) => caller_ip(world, &rds.services, t, k),
    };
    let pid = 1_000 + k % 60_000;
    let port = 32_768 + (k >> 16) % 28_000;
    // log_line_prefix '%t:%r:%u@%d:[%p]:'
    let client_prefix = |m: &mut StringBuilder| {
        write_pg_time(m, t);
        text::text(
            m,
            (
                (':', ip, '(', port, "):"),
                &rds.user,
                '@',
                &rds.db_name,
                ":[",
                (pid, "]:"),
            ),
        );
    };
    let background_prefix = |m: &mut StringBuilder, pid: u64| {
        write_pg_time(m, t);
        text::text(m, ("::@:[", pid, "]:"));
    };
    match r.kind {
        Kind::PgCheckpointStart => {
            background_prefix(m, 400 + rds.key % 500);
            m.write_str("LOG:  checkpoint starting: time").ok();
            "rds.postgres.checkpoint_starting"
        }
        Kind::PgCheckpointDone => {
            background_prefix(m, 400 + rds.key % 500);
            let buffers = 800 + rng.below(9_000);
            let write_s = 269.0 + rng.f64() * 0.95;
            let sync = rng.f64() * 0.01;
            let files = 20 + rng.below(60);
            let dist = 8_000 + rng.below(60_000);
            let _ = write!(
                m,
                "LOG:  checkpoint complete: wrote {buffers} buffers ({:.1}%); 0 WAL file(s) added, 0 removed, {} recycled; write={write_s:.3} s, sync={sync:.3} s, total={:.3} s; sync files={files}, longest=0.00{} s, average=0.001 s; distance={dist} kB, estimate={} kB",
                buffers as f64 / 1310.72,
                1 + rng.below(3),
                write_s + sync + 0.004,
                1 + rng.below(8),
                dist + rng.below(4_000)
            );
            "rds.postgres.checkpoint_complete"
        }
        Kind::PgConnReceived => {
            write_pg_time(m, t);
            text::text(
                m,
                (
                    (':', ip, '(', port, "):[unknown]@[unknown]:["),
                    (
                        pid,
                        "]:LOG:  connection received: host=",
                        ip,
                        " port=",
                        port,
                    ),
                ),
            );
            "rds.postgres.connection_received"
        }
        Kind::PgConnAuthorized => {
            client_prefix(m);
            text::text(
                m,
                (
                    "LOG:  connection authorized: user=",
                    &rds.user,
                    " database=",
                    &rds.db_name,
                    " SSL enabled (protocol=TLSv1.3, cipher=TLS_AES_256_GCM_SHA384, bits=256)",
                ),
            );
            "rds.postgres.connection_authorized"
        }
        Kind::PgDisconnect => {
            client_prefix(m);
            let secs = 1_790 + rng.below(20);
            text::text(
                m,
                (
                    "LOG:  disconnection: session time: 0:",
                    Pad(secs / 60, 2),
                    ':',
                    Pad(secs % 60, 2),
                    '.',
                    Pad(rng.below(1000), 3),
                ),
            );
            text::text(
                m,
                (
                    (" user=", &rds.user, " database=", &rds.db_name),
                    (" host=", ip, " port=", port),
                ),
            );
            "rds.postgres.disconnection"
        }
        Kind::PgSlow => {
            client_prefix(m);
            // Above log_min_duration_statement (1 s), within the request.
            let ms = match v {
                Some(v) => {
                    1_000.0 + (v.duration as f64 / 1000.0 - 1_000.0) * rng.range_f64(0.3, 0.95)
                }
                None => rng.range_f64(1_050.0, 9_000.0),
            };
            text::text(
                m,
                ("LOG:  duration: ", Fixed(ms, 3), " ms  execute <unnamed>: "),
            );
            write_statement(m, &rds.db_name, k, true);
            "rds.postgres.slow_statement"
        }
        Kind::PgAutovacuum | Kind::PgAutoanalyze => {
            background_prefix(m, 20_000 + k % 40_000);
            let table = match rds.db_name.as_str() {
                d if d.contains("order") => ["orders", "order_items", "payments"][(k % 3) as usize],
                d if d.contains("user") => ["users", "addresses", "sessions"][(k % 3) as usize],
                _ => ["products", "inventory", "stock_movements"][(k % 3) as usize],
            };
            if r.kind == Kind::PgAutovacuum {
                let pages = 2_000 + rng.below(80_000);
                let removed = rng.below(5_000);
                let _ = write!(
                    m,
                    "LOG:  automatic vacuum of table \"{}.public.{table}\": index scans: 1\n\tpages: 0 removed, {pages} remain, {} scanned ({:.2}% of total)\n\ttuples: {removed} removed, {} remain, 0 are dead but not yet removable\n\tsystem usage: CPU: user: {:.2} s, system: {:.2} s, elapsed: {:.2} s",
                    rds.db_name,
                    pages / 20,
                    5.0,
                    pages * 40,
                    rng.f64() * 0.5,
                    rng.f64() * 0.05,
                    0.5 + rng.f64() * 4.0
                );
                "rds.postgres.autovacuum"
            } else {
                let _ = write!(
                    m,
                    "LOG:  automatic analyze of table \"{}.public.{table}\"\n\tsystem usage: CPU: user: {:.2} s, system: {:.2} s, elapsed: {:.2} s",
                    rds.db_name,
                    rng.f64() * 0.3,
                    rng.f64() * 0.02,
                    0.2 + rng.f64() * 1.5
                );
                "rds.postgres.autoanalyze"
            }
        }
        Kind::PgError => {
            client_prefix(m);
            let (msg, id) = PG_STATEMENT_ERRORS[(k % 3) as usize];
            let _ = writeln!(m, "ERROR:  {msg}");
            client_prefix(m);
            m.write_str("STATEMENT:  ").ok();
            write_statement(m, &rds.db_name, k >> 3, true);
            id
        }
        Kind::PgAuthFailed => {
            write_pg_time(m, t);
            let _ = write!(
                m,
                ":{ip}({port}):readonly@{}:[{pid}]:FATAL:  password authentication failed for user \"readonly\"",
                rds.db_name
            );
            "rds.postgres.auth_failed"
        }
        Kind::PgConnReset => {
            client_prefix(m);
            m.write_str("LOG:  could not receive data from client: Connection reset by peer")
                .ok();
            "rds.postgres.connection_reset"
        }
        Kind::PgFatalReserved => {
            client_prefix(m);
            m.write_str("FATAL:  remaining connection slots are reserved for non-replication superuser connections").ok();
            "rds.postgres.connection_slots_reserved"
        }
        Kind::PgFatalTooMany => {
            client_prefix(m);
            m.write_str("FATAL:  sorry, too many clients already").ok();
            "rds.postgres.too_many_clients"
        }
        Kind::MyAborted | Kind::MyAbortedTimeout => {
            let id = 10_000 + k % 900_000;
            let (why, tmpl) = if r.kind == Kind::MyAborted {
                (
                    "Got an error reading communication packets",
                    "rds.mysql.aborted_connection",
                )
            } else {
                (
                    "Got timeout reading communication packets",
                    "rds.mysql.aborted_connection_timeout",
                )
            };
            iso(m, t, 6);
            let _ = write!(
                m,
                " {id} [Note] [MY-010914] [Server] Aborted connection {id} to db: '{}' user: '{}' host: '{ip}' ({why}).",
                rds.db_name, rds.user
            );
            tmpl
        }
        Kind::MyPageCleaner => {
            iso(m, t, 6);
            let _ = write!(
                m,
                " 0 [Note] [MY-011953] [InnoDB] Page cleaner took {}ms to flush {} and evict 0 pages",
                4_000 + rng.below(3_000),
                100 + rng.below(900)
            );
            "rds.mysql.page_cleaner"
        }
        _ => {
            // MySQL slow query log entry.
            // Above long_query_time (1 s), within the request.
            let secs = match v {
                Some(v) => 1.0 + (v.duration as f64 / 1e6 - 1.0) * rng.range_f64(0.3, 0.95),
                None => rng.range_f64(1.05, 12.0),
            };
            let _ = m.write_str("# Time: ");
            iso(m, t, 6);
            let _ = write!(
                m,
                "\n# User@Host: {}[{}] @  [{ip}]  Id: {}\n# Query_time: {secs:.6}  Lock_time: 0.{:06} Rows_sent: {}  Rows_examined: {}\nSET timestamp={};\n",
                rds.user,
                rds.user,
                10_000 + k % 900_000,
                rng.below(300),
                rng.below(200),
                20_000 + rng.below(900_000),
                t / SECOND
            );
            write_statement(m, &rds.db_name, k, false);
            m.write_char(';').ok();
            "rds.mysql.slow_query"
        }
    }
}

/// The statement errors PostgreSQL logs for failed requests: message and template id.
const PG_STATEMENT_ERRORS: [(&str, &str); 3] = [
    (
        "canceling statement due to statement timeout",
        "rds.postgres.statement_timeout",
    ),
    (
        "could not serialize access due to concurrent update",
        "rds.postgres.serialization_failure",
    ),
    ("deadlock detected", "rds.postgres.deadlock_detected"),
];

/// `%t:%r:%u@%d:[%p]:` of a client backend, as a template.
const PG_CLIENT: &str = "<*> UTC:<*>(<*>):<*>@<*>:[<*>]:";
/// `%t:%r:%u@%d:[%p]:` of a background process (no client), as a template.
const PG_BACKGROUND: &str = "<*> UTC::@:[<*>]:";

/// The templates of the lines whose layout has no per-resource variation: (id, layout,
/// level, text). Resource names, addresses, ids, times and figures are parameters.
const FIXED_TEMPLATES: &[(&str, &str, &str, &str)] = &[
    (
        "alb.access",
        "alb",
        "info",
        "<*> <*> <*> <*>:<*> <*>:<*> <*> <*> <*> <*> <*> <*> <*> \"<*> https://<*>:443<*> HTTP/<*>\" \"<*>\" <*> <*> <*> \"<*>\" \"<*>\" \"arn:aws:acm:<*>:<*>:certificate/<*>\" <*> <*> \"forward\" \"-\" \"-\" \"<*>:<*>\" \"<*>\" \"-\" \"-\" TID_<*>",
    ),
    (
        "alb.access.no_target",
        "alb",
        "error",
        "https <*> <*> <*>:<*> - -1 -1 -1 503 - <*> 306 \"<*> https://<*>:443<*> HTTP/1.1\" \"<*>\" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 <*> \"<*>\" \"<*>\" \"arn:aws:acm:<*>:<*>:certificate/<*>\" <*> <*> \"forward\" \"-\" \"-\" \"-\" \"-\" \"-\" \"-\" TID_<*>",
    ),
    (
        "lambda.start",
        "lambda",
        "info",
        "START RequestId: <*> Version: $LATEST",
    ),
    ("lambda.end", "lambda", "info", "END RequestId: <*>"),
    (
        "lambda.report",
        "lambda",
        "info",
        "REPORT RequestId: <*>\tDuration: <*> ms\tBilled Duration: <*> ms\tMemory Size: <*> MB\tMax Memory Used: <*> MB\t",
    ),
    (
        "lambda.report.cold_start",
        "lambda",
        "info",
        "REPORT RequestId: <*>\tDuration: <*> ms\tBilled Duration: <*> ms\tMemory Size: <*> MB\tMax Memory Used: <*> MB\tInit Duration: <*> ms\t",
    ),
    (
        "vpc.flow.accept",
        "vpc-flow",
        "info",
        "2 <*> <*> <*> <*> <*> <*> <*> <*> <*> <*> <*> ACCEPT OK",
    ),
    (
        "vpc.flow.reject",
        "vpc-flow",
        "info",
        "2 <*> <*> <*> <*> <*> <*> <*> <*> <*> <*> <*> REJECT OK",
    ),
    (
        "vpc.flow.nodata",
        "vpc-flow",
        "info",
        "2 <*> <*> - - - - - - - <*> <*> - NODATA",
    ),
];

/// Every template `cloudwatch/logs` can write in this world, with its text: the fixed
/// ones, the Lambda lines of each function (rendered by the writers with their parameters
/// as `<*>`) and the database lines of each engine.
pub fn log_templates(world: &World) -> Vec<TemplateDef> {
    let model = super::model::shared_model(world);
    let mut out = Vec::new();
    let mut def = |id: String, layout: &'static str, level: &'static str, text: String| {
        out.push(TemplateDef {
            event: id.clone(),
            id,
            layout,
            level,
            logger: None,
            text,
        });
    };
    for &(id, layout, level, t) in FIXED_TEMPLATES {
        def(id.into(), layout, level, t.into());
    }
    for f in &model.functions {
        let python = f.runtime.starts_with("python");
        let work = LambdaWork::of(&f.id);
        let layout = if python {
            "lambda-python"
        } else {
            "lambda-nodejs"
        };
        let id = |base: &str, kind: Kind, error: bool| {
            let mut s = base.to_string();
            for x in lambda_id_suffix(kind, python, work, error) {
                s.push_str(x);
            }
            s
        };
        let render = |f2: &dyn Fn(&mut String)| {
            let mut m = String::new();
            text::as_template(|| f2(&mut m));
            m
        };
        let inv = |error: bool| Invocation {
            start: 0,
            duration_ms: 100.0,
            max_memory_mb: 128,
            init_ms: None,
            error,
            key: 1,
        };
        let app = render(&|m| {
            write_lambda_prefix(m, python, "INFO", 0, 1);
            write_lambda_app(m, &f.id, &inv(false), &mut Rng::new(1));
        });
        def(
            id("lambda.app.info", Kind::LambdaApp, false),
            layout,
            "info",
            app,
        );
        let err = render(&|m| write_lambda_error(m, &f.id, python, 0, 1, &mut Rng::new(1)));
        def(
            id("lambda.error", Kind::LambdaError, true),
            layout,
            "error",
            err,
        );
        for error in [false, true] {
            let emf = render(&|m| write_lambda_emf(m, world, f, &inv(error), 0, false));
            let kind = Kind::LambdaMetrics;
            def(id("lambda.emf.metrics", kind, error), layout, "info", emf);
        }
        let cold = render(&|m| write_lambda_emf(m, world, f, &inv(false), 0, true));
        let kind = Kind::LambdaColdStartMetric;
        def(
            id("lambda.emf.cold_start", kind, false),
            layout,
            "info",
            cold,
        );
    }
    let (pg, my) = (
        model.rds.iter().any(|r| r.engine == DbEngine::Postgres),
        model.rds.iter().any(|r| r.engine != DbEngine::Postgres),
    );
    if pg {
        let c = PG_CLIENT;
        let b = PG_BACKGROUND;
        let lines: Vec<(&str, &str, String)> = vec![
            ("rds.postgres.checkpoint_starting", "info", format!("{b}LOG:  checkpoint starting: time")),
            ("rds.postgres.checkpoint_complete", "info", format!("{b}LOG:  checkpoint complete: wrote <*> buffers (<*>%); 0 WAL file(s) added, 0 removed, <*> recycled; write=<*> s, sync=<*> s, total=<*> s; sync files=<*>, longest=0.00<*> s, average=0.001 s; distance=<*> kB, estimate=<*> kB")),
            ("rds.postgres.connection_received", "info", "<*> UTC:<*>(<*>):[unknown]@[unknown]:[<*>]:LOG:  connection received: host=<*> port=<*>".into()),
            ("rds.postgres.connection_authorized", "info", format!("{c}LOG:  connection authorized: user=<*> database=<*> SSL enabled (protocol=TLSv1.3, cipher=TLS_AES_256_GCM_SHA384, bits=256)")),
            ("rds.postgres.disconnection", "info", format!("{c}LOG:  disconnection: session time: <*> user=<*> database=<*> host=<*> port=<*>")),
            ("rds.postgres.slow_statement", "warn", format!("{c}LOG:  duration: <*> ms  execute <unnamed>: <*>")),
            ("rds.postgres.autovacuum", "info", format!("{b}LOG:  automatic vacuum of table \"<*>\": index scans: 1\n\tpages: 0 removed, <*> remain, <*> scanned (<*>% of total)\n\ttuples: <*> removed, <*> remain, 0 are dead but not yet removable\n\tsystem usage: CPU: user: <*> s, system: <*> s, elapsed: <*> s")),
            ("rds.postgres.autoanalyze", "info", format!("{b}LOG:  automatic analyze of table \"<*>\"\n\tsystem usage: CPU: user: <*> s, system: <*> s, elapsed: <*> s")),
            ("rds.postgres.auth_failed", "error", "<*> UTC:<*>(<*>):readonly@<*>:[<*>]:FATAL:  password authentication failed for user \"readonly\"".into()),
            ("rds.postgres.connection_reset", "info", format!("{c}LOG:  could not receive data from client: Connection reset by peer")),
            ("rds.postgres.connection_slots_reserved", "error", format!("{c}FATAL:  remaining connection slots are reserved for non-replication superuser connections")),
            ("rds.postgres.too_many_clients", "error", format!("{c}FATAL:  sorry, too many clients already")),
        ];
        for (id, level, t) in lines {
            def(id.into(), "postgresql", level, t);
        }
        for (msg, id) in PG_STATEMENT_ERRORS {
            def(
                id.into(),
                "postgresql",
                "error",
                format!("{c}ERROR:  {msg}\n{c}STATEMENT:  <*>"),
            );
        }
    }
    if my {
        let aborted = |why: &str| {
            format!(
                "<*> <*> [Note] [MY-010914] [Server] Aborted connection <*> to db: '<*>' user: '<*>' host: '<*>' ({why})."
            )
        };
        def(
            "rds.mysql.aborted_connection".into(),
            "mysql",
            "info",
            aborted("Got an error reading communication packets"),
        );
        def(
            "rds.mysql.aborted_connection_timeout".into(),
            "mysql",
            "info",
            aborted("Got timeout reading communication packets"),
        );
        def("rds.mysql.page_cleaner".into(), "mysql", "info", "<*> 0 [Note] [MY-011953] [InnoDB] Page cleaner took <*>ms to flush <*> and evict 0 pages".into());
        def("rds.mysql.slow_query".into(), "mysql-slowquery", "warn", "# Time: <*>\n# User@Host: <*>[<*>] @  [<*>]  Id: <*>\n# Query_time: <*>  Lock_time: 0.<*> Rows_sent: <*>  Rows_examined: <*>\nSET timestamp=<*>;\n<*>;".into());
    }
    out
}
