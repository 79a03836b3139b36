//! `cloudwatch/insights_queries`: Logs Insights queries engineers run against the log
//! groups of `cloudwatch/logs`.
//!
//! Queries arrive at `insights_queries_per_hour` (more in working hours, fewer at night
//! and weekends) and at `insights_queries_per_hour_in_alarm` while any alarm has been in
//! ALARM for two minutes (the on-call engineer was paged); those investigate the alarm's
//! resource, and carry the label of the alarm's episode (`symptom` of the incident that
//! made it fire; normal for a flap). Records and bytes scanned are estimated from the world's rates over the
//! queried range (the same rates that drive the logs table), records matched from the
//! query's selectivity.

use super::alarms::{AlarmState, hour_transitions};
use super::model::{Kind as ResKind, Model, write_uuid};
use super::series::DatapointCache;
use crate::config::DbEngine;
use crate::error::Error;
use crate::labels::AnomalyRole;
use crate::rng::{Rng, mix64, str_key, stream};
use crate::sink::JsonLines;
use crate::sources::{CommonColumns, Source, Table, table_schema, timestamp_type};
use crate::time::{HOUR, MINUTE, Micros, SECOND, hour_of_day, weekday};
use crate::world::World;
use arrow::array::{
    ArrayRef, Int64Builder, ListBuilder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, SchemaRef};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use std::fmt::Write;
use std::sync::Arc;

pub struct InsightsQueries;

/// What a query looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Alb(usize),
    Lambda(usize),
    Postgres(usize),
    MysqlSlow(usize),
    MysqlError(usize),
    Vpc,
    AllLambdas,
}

/// A query template: id, query text, share of scanned records it matches.
struct Query {
    id: &'static str,
    text: &'static str,
    selectivity: f64,
}

const ALB_PARSE: &str = "parse @message '* * * * * * * * * * * * \"*\" \"*\" *' as type, time, elb, client, target, request_processing_time, target_processing_time, response_processing_time, elb_status_code, target_status_code, received_bytes, sent_bytes, request, user_agent, rest\n";

const ALB_QUERIES: &[Query] = &[
    Query {
        id: "insights.alb.5xx_per_minute",
        text: "| filter elb_status_code >= 500\n| stats count(*) as errors by bin(1m)",
        selectivity: 0.006,
    },
    Query {
        id: "insights.alb.slowest_requests",
        text: "| sort target_processing_time desc\n| limit 20",
        selectivity: 1.0,
    },
    Query {
        id: "insights.alb.top_clients",
        text: "| parse client '*:*' as client_ip, client_port\n| stats count(*) as requests by client_ip\n| sort requests desc\n| limit 10",
        selectivity: 1.0,
    },
    Query {
        id: "insights.alb.status_by_target",
        text: "| filter target_status_code >= 400\n| stats count(*) as responses by target, target_status_code\n| sort responses desc",
        selectivity: 0.03,
    },
];

const LAMBDA_QUERIES: &[Query] = &[
    Query {
        id: "insights.lambda.errors",
        text: "fields @timestamp, @requestId, @message\n| filter @message like /ERROR/\n| sort @timestamp desc\n| limit 100",
        selectivity: 0.0012,
    },
    Query {
        id: "insights.lambda.duration_stats",
        text: "filter @type = \"REPORT\"\n| stats avg(@duration), max(@duration), pct(@duration, 95) by bin(5m)",
        selectivity: 0.29,
    },
    Query {
        id: "insights.lambda.cold_starts",
        text: "filter @type = \"REPORT\" and ispresent(@initDuration)\n| stats count(*) as coldStarts, avg(@initDuration) as avgInitMs by bin(15m)",
        selectivity: 0.006,
    },
    Query {
        id: "insights.lambda.memory",
        text: "filter @type = \"REPORT\"\n| stats max(@maxMemoryUsed / 1000 / 1000) as maxMemoryUsedMB, avg(@memorySize / 1000 / 1000) as provisionedMB",
        selectivity: 0.29,
    },
];

const POSTGRES_QUERIES: &[Query] = &[
    Query {
        id: "insights.rds.slow_statements",
        text: "fields @timestamp, @message\n| filter @message like /duration:/\n| parse @message \"duration: * ms\" as duration_ms\n| sort duration_ms desc\n| limit 20",
        selectivity: 0.01,
    },
    Query {
        id: "insights.rds.errors",
        text: "fields @timestamp, @message\n| filter @message like /ERROR|FATAL/\n| sort @timestamp desc\n| limit 100",
        selectivity: 0.004,
    },
    Query {
        id: "insights.rds.connections",
        text: "filter @message like /connection authorized/\n| parse @message \"user=* database=*\" as db_user, db_name\n| stats count(*) as connections by db_user, bin(5m)",
        selectivity: 0.3,
    },
];

const MYSQL_SLOW_QUERIES: &[Query] = &[Query {
    id: "insights.mysql.slow_queries",
    text: "parse @message \"Query_time: * Lock_time: * Rows_sent: * Rows_examined: *\" as query_time, lock_time, rows_sent, rows_examined\n| sort query_time desc\n| limit 20",
    selectivity: 1.0,
}];

const MYSQL_ERROR_QUERIES: &[Query] = &[Query {
    id: "insights.mysql.aborted_connections",
    text: "fields @timestamp, @message\n| filter @message like /Aborted connection/\n| stats count(*) as aborted by bin(1h)",
    selectivity: 0.9,
}];

const VPC_QUERIES: &[Query] = &[
    Query {
        id: "insights.vpc.rejected",
        text: "filter action = \"REJECT\"\n| stats count(*) as rejected by srcAddr, dstAddr, dstPort\n| sort rejected desc\n| limit 20",
        selectivity: 0.04,
    },
    Query {
        id: "insights.vpc.top_talkers",
        text: "stats sum(bytes) as bytesTransferred by srcAddr, dstAddr\n| sort bytesTransferred desc\n| limit 10",
        selectivity: 1.0,
    },
    Query {
        id: "insights.vpc.database_traffic",
        text: "filter dstPort = 5432 or dstPort = 3306\n| stats sum(bytes) as bytes, count(*) as flows by srcAddr, dstAddr\n| sort bytes desc",
        selectivity: 0.1,
    },
];

const MULTI_QUERIES: &[Query] = &[Query {
    id: "insights.errors_across_groups",
    text: "fields @timestamp, @log, @message\n| filter @message like /(?i)(error|exception|timeout)/\n| sort @timestamp desc\n| limit 200",
    selectivity: 0.0015,
}];

/// Engineers react two minutes after an alarm fires: the queries of a minute follow the
/// alarm states of two minutes before.
pub(super) const PAGE_DELAY: Micros = 2 * MINUTE;

const ENGINEERS: [&str; 10] = [
    "maria.gonzalez",
    "kenji.watanabe",
    "aisha.bello",
    "lukas.schneider",
    "priya.raman",
    "tom.oconnor",
    "chen.wei",
    "sofia.rossi",
    "daniel.kim",
    "fatima.haddad",
];

/// Query ranges (minutes) and their weights, normally and while investigating an alarm.
const RANGES: [i64; 7] = [5, 15, 30, 60, 180, 720, 1440];
const RANGE_WEIGHTS: [f64; 7] = [0.05, 0.2, 0.15, 0.3, 0.15, 0.1, 0.05];
const RANGE_WEIGHTS_ALARM: [f64; 7] = [0.15, 0.35, 0.25, 0.2, 0.05, 0.0, 0.0];

/// The log groups a target covers.
/// Per minute of `hour`: the alarms that have been in ALARM for `PAGE_DELAY` (the
/// on-call engineer was paged), with the incident of each one's episode (`u32::MAX` for a
/// flap).
fn paged_alarms(cache: &DatapointCache, hour: Micros) -> Vec<Vec<(usize, u32)>> {
    // The transitions of [hour - PAGE_DELAY, hour + 1 h), shared with the alarms table.
    let shared = hour_transitions(cache, hour);
    let (initial, changes) = (&shared.initial, &shared.changes);
    let mut state: Vec<AlarmState> = initial.iter().map(|e| e.state).collect();
    let mut episode: Vec<u32> = initial
        .iter()
        .map(|e| e.label.map_or(u32::MAX, |l| l.0))
        .collect();
    let mut next = 0;
    let mut out = Vec::with_capacity((HOUR / MINUTE) as usize);
    let mut minute = hour;
    while minute < hour + HOUR {
        while next < changes.len() && changes[next].ts < minute - PAGE_DELAY {
            let c = &changes[next];
            state[c.alarm] = c.eval.state;
            episode[c.alarm] = match (c.eval.state, c.label) {
                (AlarmState::Alarm, Some(l)) => l.0,
                _ => u32::MAX,
            };
            next += 1;
        }
        out.push(
            (0..state.len())
                .filter(|&i| state[i] == AlarmState::Alarm)
                .map(|i| (i, episode[i]))
                .collect(),
        );
        minute += MINUTE;
    }
    out
}

fn groups(model: &Model, t: Target) -> Vec<String> {
    match t {
        Target::Alb(a) => vec![format!("/aws/alb/{}", model.albs[a].name)],
        Target::Lambda(f) => vec![format!("/aws/lambda/{}", model.functions[f].id)],
        Target::Postgres(r) => vec![format!("/aws/rds/instance/{}/postgresql", model.rds[r].id)],
        Target::MysqlSlow(r) => vec![format!("/aws/rds/instance/{}/slowquery", model.rds[r].id)],
        Target::MysqlError(r) => vec![format!("/aws/rds/instance/{}/error", model.rds[r].id)],
        Target::Vpc => vec![format!("/aws/vpc/flowlogs/{}", model.vpc_id)],
        Target::AllLambdas => model
            .functions
            .iter()
            .map(|f| format!("/aws/lambda/{}", f.id))
            .collect(),
    }
}

fn queries(t: Target) -> &'static [Query] {
    match t {
        Target::Alb(_) => ALB_QUERIES,
        Target::Lambda(_) => LAMBDA_QUERIES,
        Target::Postgres(_) => POSTGRES_QUERIES,
        Target::MysqlSlow(_) => MYSQL_SLOW_QUERIES,
        Target::MysqlError(_) => MYSQL_ERROR_QUERIES,
        Target::Vpc => VPC_QUERIES,
        Target::AllLambdas => MULTI_QUERIES,
    }
}

/// Average traffic-minutes of the platform over `[a, b)`.
fn platform_integral(world: &World, a: Micros, b: Micros) -> f64 {
    let n = world.topology.services.len().max(1);
    (0..n).map(|s| world.traffic.integral(s, a, b)).sum::<f64>() / n as f64
}

/// Estimated (records, bytes) of a target's log groups over `[a, b)`.
fn volume(world: &World, cache: &DatapointCache, t: Target, a: Micros, b: Micros) -> (f64, f64) {
    let model = &cache.model;
    let cw = &world.config.generation.sources.cloudwatch;
    let minutes = (b - a) as f64 / MINUTE as f64;
    let rds_pool_lines = |r: usize| {
        let pods: f64 = model.rds[r]
            .services
            .iter()
            .map(|&s| world.service(s).replicas as f64)
            .sum();
        (2.0 + pods * 7.0) / 30.0 * 2.8 + 0.6
    };
    match t {
        Target::Alb(i) => {
            let recs: f64 = if cw.alb_access_logs {
                model.albs[i]
                    .services
                    .iter()
                    .map(|&s| {
                        world.requests.roots_per_minute[s]
                            * world.scale
                            * world.traffic.integral(s, a, b)
                    })
                    .sum()
            } else {
                0.0
            };
            (recs, recs * 530.0)
        }
        Target::Lambda(f) => {
            let base = cw.lambda_invocations_per_minute.0 * world.scale;
            let tm = match model.functions[f].callers.first() {
                Some(&s) => world.traffic.integral(s, a, b),
                None => platform_integral(world, a, b),
            };
            let recs = base * tm * 3.5;
            (recs, recs * 135.0)
        }
        Target::AllLambdas => (0..model.functions.len())
            .map(|f| volume(world, cache, Target::Lambda(f), a, b))
            .fold((0.0, 0.0), |x, y| (x.0 + y.0, x.1 + y.1)),
        Target::Postgres(r) => {
            let recs = rds_pool_lines(r) * minutes;
            (recs, recs * 190.0)
        }
        Target::MysqlSlow(_) => (0.025 * minutes, 0.025 * minutes * 430.0),
        Target::MysqlError(_) => (0.03 * minutes, 0.03 * minutes * 210.0),
        Target::Vpc => {
            let recs =
                cw.vpc_flow_records_per_minute.0 * world.scale * platform_integral(world, a, b);
            (recs, recs * 96.0)
        }
    }
}

/// The target an engineer investigates for an alarm on resource kind `kind`, index `r`.
fn alarm_target(model: &Model, kind: ResKind, r: usize, k: u64) -> Target {
    match kind {
        ResKind::Alb => Target::Alb(r),
        ResKind::Rds => match model.rds[r].engine {
            DbEngine::Postgres => Target::Postgres(r),
            DbEngine::Mysql if k.is_multiple_of(3) => Target::MysqlError(r),
            DbEngine::Mysql => Target::MysqlSlow(r),
        },
        ResKind::Lambda => Target::Lambda(r),
        ResKind::Node | ResKind::Agent => Target::Vpc,
        ResKind::Sqs | ResKind::Dynamo => {
            if k.is_multiple_of(2) || model.functions.is_empty() {
                Target::Vpc
            } else {
                Target::AllLambdas
            }
        }
    }
}

/// A target for routine queries.
fn routine_target(model: &Model, rng: &mut Rng) -> Target {
    let mut options: Vec<Target> = Vec::new();
    for a in 0..model.albs.len() {
        options.extend([Target::Alb(a), Target::Alb(a)]);
    }
    for f in 0..model.functions.len() {
        options.push(Target::Lambda(f));
    }
    for (r, d) in model.rds.iter().enumerate() {
        match d.engine {
            DbEngine::Postgres => options.push(Target::Postgres(r)),
            DbEngine::Mysql => options.extend([Target::MysqlSlow(r), Target::MysqlError(r)]),
        }
    }
    options.extend([Target::Vpc, Target::AllLambdas]);
    *rng.pick(&options)
}

impl Table for InsightsQueries {
    fn source(&self) -> Source {
        Source::Cloudwatch
    }
    fn name(&self) -> &'static str {
        "insights_queries"
    }
    fn code(&self) -> &'static str {
        "cwq"
    }

    fn schema(&self) -> SchemaRef {
        table_schema(vec![
            Field::new("query_id", DataType::Utf8, false),
            Field::new("query_string", DataType::Utf8, false),
            Field::new(
                "log_groups",
                DataType::List(Arc::new(Field::new("item", DataType::Utf8, false))),
                false,
            ),
            Field::new("status", DataType::Utf8, false),
            Field::new("query_start_time", timestamp_type(), false),
            Field::new("query_end_time", timestamp_type(), false),
            Field::new("records_matched", DataType::Int64, false),
            Field::new("records_scanned", DataType::Int64, false),
            Field::new("bytes_scanned", DataType::Int64, false),
            Field::new("duration_ms", DataType::Int64, false),
            Field::new("user", DataType::Utf8, false),
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
        super::native::write_insights(batch, out)
    }

    fn render(&self, world: &World, hour: Micros) -> Result<RecordBatch, ArrowError> {
        let cache = DatapointCache::new(world);
        let model = &cache.model;
        let cw = &world.config.generation.sources.cloudwatch;
        let insts = cache.alarm_instances();
        let paged = paged_alarms(&cache, hour);
        // The twin's pages: where they differ, the minute's queries (their number, the
        // alarms they investigate) are an incident's doing even when the alarm they pick
        // fired in the twin too.
        let twin_paged = cache.twin(hour).map(|t| paged_alarms(&t, hour));
        struct Planned {
            ts: Micros,
            target: Target,
            key: u64,
            alarm: bool,
            /// The incident whose alarm the query investigates, or `u32::MAX`.
            incident: u32,
        }
        let mut planned: Vec<Planned> = Vec::new();
        for (mi, now) in paged.iter().enumerate() {
            let minute = hour + mi as Micros * MINUTE;
            let firing: Vec<usize> = now.iter().map(|&(a, _)| a).collect();
            let changed_by = match &twin_paged {
                Some(t) if !t[mi].iter().map(|x| x.0).eq(firing.iter().copied()) => now
                    .iter()
                    .map(|&(_, e)| e)
                    .find(|&e| e != u32::MAX)
                    .or_else(|| {
                        world
                            .incidents
                            .overlapping(minute - HOUR, minute + MINUTE)
                            .filter(|inc| !inc.background)
                            .max_by_key(|inc| inc.start)
                            .map(|inc| inc.index as u32)
                    })
                    .unwrap_or(u32::MAX),
                _ => u32::MAX,
            };
            let working = weekday(minute) < 5 && (8.0..18.0).contains(&hour_of_day(minute));
            let rate = if firing.is_empty() {
                cw.insights_queries_per_hour.0 / 60.0 * if working { 2.2 } else { 0.35 }
            } else {
                cw.insights_queries_per_hour_in_alarm.0 / 60.0
            } * world.scale;
            let mut rng = Rng::derive(world.seed, &[str_key("cw-insights"), minute as u64]);
            for _ in 0..rng.poisson(rate) {
                let key = rng.next_u64();
                let mut qr = Rng::new(key);
                let ts = minute + qr.below(MINUTE as u64) as Micros;
                let (target, incident) = if firing.is_empty() {
                    (routine_target(model, &mut qr), u32::MAX)
                } else {
                    let (ai, episode) = now[(key % now.len() as u64) as usize];
                    let a = &insts[ai];
                    let kind = ResKind::of_namespace(a.series.namespace).unwrap_or(ResKind::Node);
                    let r = model.find(world, kind, &a.series.resource).unwrap_or(0);
                    (alarm_target(model, kind, r, key >> 7), episode)
                };
                let incident = if incident == u32::MAX {
                    changed_by
                } else {
                    incident
                };
                planned.push(Planned {
                    ts,
                    target,
                    key,
                    alarm: !firing.is_empty(),
                    incident,
                });
            }
        }
        planned.sort_by_key(|p| (p.ts, p.key));

        let n = planned.len();
        let mut common = CommonColumns::new(self.code(), hour, n);
        let mut query_id = StringBuilder::with_capacity(n, n * 36);
        let mut query = StringBuilder::with_capacity(n, n * 200);
        let mut log_groups = ListBuilder::new(StringBuilder::new())
            .with_field(Arc::new(Field::new("item", DataType::Utf8, false)));
        let mut status = StringBuilder::with_capacity(n, n * 8);
        let mut q_start = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
        let mut q_end = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
        let mut matched = Int64Builder::with_capacity(n);
        let mut scanned = Int64Builder::with_capacity(n);
        let mut bytes = Int64Builder::with_capacity(n);
        let mut duration = Int64Builder::with_capacity(n);
        let mut user = StringBuilder::with_capacity(n, n * 110);
        let mut template = StringBuilder::with_capacity(n, n * 28);
        let week = hour.div_euclid(7 * 24 * HOUR) as usize;
        for p in &planned {
            let mut rng = Rng::new(p.key ^ 0x7175_6572);
            let qs = queries(p.target);
            let q = &qs[rng.index(qs.len())];
            let weights = if p.alarm {
                &RANGE_WEIGHTS_ALARM
            } else {
                &RANGE_WEIGHTS
            };
            let range = RANGES[rng.weighted(&crate::rng::cumulative(weights.iter().copied()))];
            let end = p.ts - p.ts.rem_euclid(SECOND);
            let start = end - range * MINUTE;
            let (recs, byts) = volume(world, &cache, p.target, start, end);
            let jitter = rng.range_f64(0.97, 1.03);
            let (mut recs, mut byts) = ((recs * jitter).round(), (byts * jitter).round());
            let x = rng.f64();
            let (st, dur_ms) = if x < 0.012 {
                recs = 0.0;
                byts = 0.0;
                ("Failed", 60.0 + rng.below(400) as f64)
            } else if x < 0.037 {
                let done = rng.range_f64(0.05, 0.7);
                recs = (recs * done).round();
                byts = (byts * done).round();
                ("Cancelled", 800.0 + rng.below(20_000) as f64)
            } else if x < 0.045 && range >= 180 {
                let done = rng.range_f64(0.3, 0.8);
                recs = (recs * done).round();
                byts = (byts * done).round();
                ("Timeout", 3_600_000.0)
            } else {
                let d = (350.0 + byts / 55e6 * 1000.0) * rng.lognormal(1.0, 0.25);
                ("Complete", d.round())
            };
            let m = if st == "Failed" {
                0.0
            } else {
                (recs * q.selectivity * rng.lognormal(1.0, 0.3))
                    .round()
                    .min(recs)
            };
            let service = match p.target {
                Target::Alb(a) => model.resource_service(world, ResKind::Alb, a),
                Target::Lambda(f) => model.resource_service(world, ResKind::Lambda, f),
                Target::Postgres(r) | Target::MysqlSlow(r) | Target::MysqlError(r) => {
                    model.resource_service(world, ResKind::Rds, r)
                }
                Target::Vpc | Target::AllLambdas => model.cluster.as_str(),
            };
            common.append(
                p.ts,
                p.key,
                service,
                &world.label(p.incident, AnomalyRole::Symptom, p.ts),
            );
            write_uuid(&mut query_id, mix64(p.key ^ 0x7169));
            query_id.append_value("");
            if matches!(p.target, Target::Alb(_)) {
                query.write_str(ALB_PARSE).ok();
            }
            query.write_str(q.text).ok();
            query.append_value("");
            for g in groups(model, p.target) {
                log_groups.values().append_value(g);
            }
            log_groups.append(true);
            status.append_value(st);
            q_start.append_value(start);
            q_end.append_value(end);
            matched.append_value(m as i64);
            scanned.append_value(recs as i64);
            bytes.append_value(byts as i64);
            duration.append_value(dur_ms as i64);
            // The on-call engineer of the week runs most investigations.
            let who = if p.alarm && rng.chance(0.7) {
                ENGINEERS[week % ENGINEERS.len()]
            } else {
                ENGINEERS[rng.index(ENGINEERS.len())]
            };
            let role = if rng.chance(0.8) {
                "PlatformEngineer"
            } else {
                "ReadOnlyAccess"
            };
            let _ = write!(
                user,
                "arn:aws:sts::{}:assumed-role/AWSReservedSSO_{role}_",
                model.account
            );
            super::hex(&mut user, stream(world.seed, &[str_key(role)]), 16);
            let _ = write!(user, "/{who}@example.com");
            user.append_value("");
            template.append_value(q.id);
        }
        let own: Vec<ArrayRef> = vec![
            Arc::new(query_id.finish()),
            Arc::new(query.finish()),
            Arc::new(log_groups.finish()),
            Arc::new(status.finish()),
            Arc::new(q_start.finish()),
            Arc::new(q_end.finish()),
            Arc::new(matched.finish()),
            Arc::new(scanned.finish()),
            Arc::new(bytes.finish()),
            Arc::new(duration.finish()),
            Arc::new(user.finish()),
            Arc::new(template.finish()),
        ];
        let batch = common.finish(self.schema(), own)?;
        // A query or an alert the twin has too (same time, same text) is not the
        // incident's doing.
        crate::sources::unlabel_as_twin(self, world, hour, batch)
    }
}
