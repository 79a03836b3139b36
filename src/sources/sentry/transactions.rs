//! `sentry/transactions`: one row per performance transaction the SDKs sent.
//!
//! Head-based sampling keeps whole traces (`trace_sampled`); every visit of a kept trace
//! yields its service's server transaction (`http.server`, `grpc.server`,
//! `queue.process`) whose timing is the visit's own. Its spans are the calls it made (one
//! client span per child visit, with the child's real timing and status; the child's
//! transaction names that span as its parent) and its local work (queries, cache reads,
//! DynamoDB calls, queue publishes). Page routes of the storefront also yield the
//! browser's `pageload` transaction, which continues the trace of the server transaction
//! that rendered the page and carries the Web Vitals as measurements.

use super::{
    LocalKind, LocalOp, MeasurementsBuilder, Protocol, SpansBuilder, SvcMeta, all_route_names,
    children, client_span_id, expand_hour, grpc_span_status, http_method, http_span_status,
    local_ops, rds_engine, service_meta, trace_sampled, user_of, write_cache_key, write_event_id,
    write_request_url, write_span_id, write_sql, write_transaction,
};
use crate::config::{DbEngine, Language};
use crate::incidents::FailureKind;
use crate::labels::Label;
use crate::rng::{Rng, mix64, str_key, stream};
use crate::sources::kubernetes::logfmt::write_trace;
use crate::sources::text;
use crate::sources::{
    CommonColumns, Source, Table, table_schema, timestamp_type, unlabel_unchanged,
};
use crate::time::{HOUR, Micros};
use crate::world::{ServiceInfo, Visit, World};
use arrow::array::{
    ArrayRef, Float64Builder, Int32Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, SchemaRef};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use std::fmt::Write;
use std::sync::Arc;

pub struct Transactions;

/// A planned transaction, rendered after sorting.
#[derive(Clone, Copy)]
struct Tx {
    ts: Micros,
    visit: u32,
    pageload: bool,
}

impl Table for Transactions {
    fn source(&self) -> Source {
        Source::Sentry
    }
    fn name(&self) -> &'static str {
        "transactions"
    }
    fn code(&self) -> &'static str {
        "str"
    }

    fn schema(&self) -> SchemaRef {
        table_schema(vec![
            Field::new("event_id", DataType::Utf8, false),
            Field::new("trace_id", DataType::Utf8, false),
            Field::new("span_id", DataType::Utf8, false),
            Field::new("parent_span_id", DataType::Utf8, true),
            Field::new("transaction", DataType::Utf8, false),
            Field::new("transaction_source", DataType::Utf8, false),
            Field::new("op", DataType::Utf8, false),
            Field::new("start_timestamp", timestamp_type(), false),
            Field::new("duration_ms", DataType::Float64, false),
            Field::new("status", DataType::Utf8, false),
            Field::new("http_status_code", DataType::Int32, true),
            Field::new("server_name", DataType::Utf8, true),
            Field::new("release", DataType::Utf8, false),
            Field::new("environment", DataType::Utf8, false),
            Field::new("platform", DataType::Utf8, false),
            Field::new("spans", super::list_of(SpansBuilder::fields()), false),
            Field::new(
                "measurements",
                super::list_of(MeasurementsBuilder::fields()),
                false,
            ),
            Field::new("user_id", DataType::Utf8, true),
            Field::new("sdk_name", DataType::Utf8, false),
            Field::new("sdk_version", DataType::Utf8, false),
            Field::new("template_id", DataType::Utf8, false),
        ])
    }

    fn render(&self, world: &World, hour: Micros) -> Result<RecordBatch, ArrowError> {
        let end = hour + HOUR;
        let visits = expand_hour(world, hour);
        let metas = service_meta(world);
        let mut txs: Vec<Tx> = Vec::new();
        // Visits of a trace are contiguous, root first: decide sampling once per trace.
        let mut sampled = false;
        for (vi, v) in visits.iter().enumerate() {
            if v.is_root() {
                sampled = trace_sampled(world, v);
            }
            if !sampled {
                continue;
            }
            if v.end() >= hour && v.end() < end {
                txs.push(Tx {
                    ts: v.end(),
                    visit: vi as u32,
                    pageload: false,
                });
            }
            if has_pageload(&metas, v) {
                let ts = Pageload::of(v).end;
                if ts >= hour && ts < end {
                    txs.push(Tx {
                        ts,
                        visit: vi as u32,
                        pageload: true,
                    });
                }
            }
        }
        txs.sort_by_key(|t| {
            let v = &visits[t.visit as usize];
            (t.ts, v.service, t.pageload, v.key)
        });
        let mut labels: Vec<Label> = txs.iter().map(|t| tx_label(world, &visits, t)).collect();
        unlabel_unchanged(
            &visits,
            &txs,
            &mut labels,
            |t| Some(t.visit as usize),
            |twin, t| {
                let v = &twin[t.visit as usize];
                let ts = if t.pageload {
                    Pageload::of(v).end
                } else {
                    v.end()
                };
                (ts >= hour && ts < end).then_some(Tx { ts, ..*t })
            },
            |visits, txs, labels| write_rows(self, world, hour, visits, &metas, txs, labels),
        )?;
        // After the twin comparison, which renders the release from the same pods.
        for (t, label) in txs.iter().zip(labels.iter_mut()) {
            if label.is_normal() {
                *label = world.release_label(visits[t.visit as usize].pod as usize, t.ts);
            }
        }
        write_rows(self, world, hour, &visits, &metas, &txs, &labels)
    }

    /// One Sentry transaction event per line (see [`super::native`]).
    fn write_native(
        &self,
        world: &World,
        _hour: Micros,
        batch: &RecordBatch,
        out: &mut crate::sink::JsonLines,
    ) -> Result<(), crate::error::Error> {
        super::native::write_transactions(world, batch, out)
    }
}

/// Whether a visit is a page a browser loads (a root visit of a page route of a
/// server-rendered storefront).
fn has_pageload(metas: &[SvcMeta], v: &Visit) -> bool {
    let m = &metas[v.service as usize];
    v.is_root()
        && m.routes[v.route as usize % m.routes.len()]
            .pageload
            .is_some()
}

/// Browser timing of a page load around the server visit that rendered it.
struct Pageload {
    /// Navigation start (the transaction's start).
    nav: Micros,
    request_start: Micros,
    response_start: Micros,
    response_end: Micros,
    fp: Micros,
    fcp: Micros,
    lcp: Micros,
    dcl: Micros,
    script_start: Micros,
    script_end: Micros,
    end: Micros,
    cls: f64,
    span_id: u64,
}

impl Pageload {
    fn of(v: &Visit) -> Pageload {
        let mut rng = Rng::new(v.key ^ 0x9a9e_10ad);
        let request_start = v.start - 1_000 - rng.below(6_000) as Micros;
        // DNS, TCP and TLS before the request.
        let nav = request_start - 15_000 - rng.lognormal(45_000.0, 0.6).min(900_000.0) as Micros;
        let response_start = v.end() + 800 + rng.below(5_000) as Micros;
        let response_end =
            response_start + 4_000 + rng.lognormal(18_000.0, 0.7).min(400_000.0) as Micros;
        let script_start = response_end + 5_000 + rng.below(30_000) as Micros;
        let script_end = script_start + rng.lognormal(90_000.0, 0.6).min(2_000_000.0) as Micros;
        let fp = script_start + rng.lognormal(180_000.0, 0.5).min(3_000_000.0) as Micros;
        let fcp = fp + rng.below(40_000) as Micros;
        let lcp = fcp + rng.lognormal(350_000.0, 0.8).min(6_000_000.0) as Micros;
        let dcl = script_end + 2_000 + rng.below(40_000) as Micros;
        let end = lcp.max(dcl) + 100_000 + rng.below(800_000) as Micros;
        let cls = (rng.lognormal(0.03, 1.0)).min(0.6);
        Pageload {
            nav,
            request_start,
            response_start,
            response_end,
            fp,
            fcp,
            lcp,
            dcl,
            script_start,
            script_end,
            end,
            cls,
            span_id: mix64(v.key ^ 0x9a9e_5fa7) | 1,
        }
    }
}

/// The label of a transaction: it shows the request and its calls (as spans), so it is
/// labelled when an incident changed the request, else when it changed one of the calls
/// (and [`unlabel_unchanged`] takes the label off where the row came out as in the twin).
fn tx_label<'w>(world: &'w World, visits: &[Visit], t: &Tx) -> Label<'w> {
    let vi = t.visit as usize;
    let v = &visits[vi];
    if t.pageload {
        // The browser's page load follows the response's end only.
        if v.end() != v.start + v.base_duration {
            world.visit_label(v, t.ts)
        } else {
            Label::NORMAL
        }
    } else if v.changed() {
        world.visit_label(v, t.ts)
    } else {
        children(visits, vi)
            .find(|(_, c)| c.changed())
            .map(|(_, c)| world.call_label(c, t.ts))
            .unwrap_or(Label::NORMAL)
    }
}

/// The span op of a language's database integration.
fn db_op(lang: Language) -> &'static str {
    match lang {
        Language::Python | Language::Node => "db",
        Language::Java => "db.query",
        Language::Go => "db.sql.query",
    }
}

fn write_rows(
    table: &Transactions,
    world: &World,
    hour: Micros,
    visits: &[Visit],
    metas: &[SvcMeta],
    txs: &[Tx],
    labels: &[Label],
) -> Result<RecordBatch, ArrowError> {
    let n = txs.len();
    let names = all_route_names(world);
    let engines: Vec<DbEngine> = world
        .topology
        .services
        .iter()
        .map(|s| rds_engine(world, s))
        .collect();
    let environment = world.config.services.cluster.environment.as_str();

    let mut common = CommonColumns::new(table.code(), hour, n);
    let mut event_id = StringBuilder::with_capacity(n, n * 32);
    let mut trace = StringBuilder::with_capacity(n, n * 32);
    let mut span = StringBuilder::with_capacity(n, n * 16);
    let mut parent_span = StringBuilder::with_capacity(n, n * 16);
    let mut transaction = StringBuilder::with_capacity(n, n * 28);
    let mut source = StringBuilder::with_capacity(n, n * 5);
    let mut op = StringBuilder::with_capacity(n, n * 11);
    let mut start_ts = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut duration = Float64Builder::with_capacity(n);
    let mut status = StringBuilder::with_capacity(n, n * 4);
    let mut http_status = Int32Builder::with_capacity(n);
    let mut server_name = StringBuilder::with_capacity(n, n * 32);
    let mut release = StringBuilder::with_capacity(n, n * 24);
    let mut env_col = StringBuilder::with_capacity(n, n * 10);
    let mut platform = StringBuilder::with_capacity(n, n * 6);
    let mut spans = SpansBuilder::with_capacity(n);
    let mut measurements = MeasurementsBuilder::with_capacity(n / 8);
    let mut user_id = StringBuilder::with_capacity(n, n * 10);
    let mut sdk_name = StringBuilder::with_capacity(n, n * 22);
    let mut sdk_version = StringBuilder::with_capacity(n, n * 6);
    let mut template = StringBuilder::with_capacity(n, n * 44);
    let mut ops: Vec<LocalOp> = Vec::with_capacity(6);

    for (t, label) in txs.iter().zip(labels) {
        let vi = t.visit as usize;
        let v = &visits[vi];
        let s = v.service as usize;
        let svc = world.service(s);
        let meta = &metas[s];
        let route = v.route as usize % svc.routes.len();
        let rm = &meta.routes[route];
        let version = world.pod_version(v.pod as usize);
        const TRANSACTION: u64 = str_key("sentry/transactions");
        let key = stream(v.key, &[TRANSACTION, t.pageload as u64]);
        common.append(t.ts, key, &svc.name, label);
        write_trace(&mut trace, v.trace_hi, v.trace_lo);
        trace.append_value("");
        text::text(&mut release, (&svc.name, '@', version));
        release.append_value("");
        env_col.append_value(environment);
        match user_of(world, visits, v) {
            Some(u) => {
                text::text(&mut user_id, ("usr_", u));
                user_id.append_value("");
            }
            None => user_id.append_null(),
        }
        sdk_version.append_value(meta.sdk_version);

        if t.pageload {
            let p = Pageload::of(v);
            write_event_id(&mut event_id, stream(v.key, &[str_key("sentry/pageload")]));
            event_id.append_value("");
            write_span_id(&mut span, p.span_id);
            span.append_value("");
            write_span_id(&mut parent_span, v.span_id);
            parent_span.append_value("");
            transaction.append_value(rm.pageload.as_deref().unwrap_or("/"));
            source.append_value("route");
            op.append_value("pageload");
            start_ts.append_value(p.nav);
            duration.append_value((p.end - p.nav) as f64 / 1000.0);
            status.append_value("ok");
            http_status.append_null();
            server_name.append_null();
            platform.append_value("javascript");
            let base = meta.public_base.as_deref().unwrap_or("");
            let pid = p.span_id;
            let sid = |i: u64| mix64(pid ^ i) | 1;
            spans.push(
                sid(1),
                pid,
                "browser",
                p.nav + 400,
                p.request_start - p.nav - 400,
                "ok",
                |b| {
                    b.write_str("connect").ok();
                },
            );
            spans.push(
                sid(2),
                pid,
                "browser",
                p.request_start,
                p.response_start - p.request_start,
                "ok",
                |b| {
                    b.write_str("request").ok();
                },
            );
            spans.push(
                sid(3),
                pid,
                "browser",
                p.response_start,
                p.response_end - p.response_start,
                "ok",
                |b| {
                    b.write_str("response").ok();
                },
            );
            spans.push(
                sid(4),
                pid,
                "resource.script",
                p.script_start,
                p.script_end - p.script_start,
                "ok",
                |b| {
                    let _ = write!(
                        b,
                        "{base}/static/js/main.{:08x}.js",
                        mix64(str_key(version)) as u32
                    );
                },
            );
            spans.push(
                sid(5),
                pid,
                "browser",
                p.script_end,
                p.dcl - p.script_end,
                "ok",
                |b| {
                    b.write_str("domContentLoadedEvent").ok();
                },
            );
            spans.end_row();
            let ms = |t: Micros| (t - p.nav) as f64 / 1000.0;
            measurements.push("cls", (p.cls * 1e4).round() / 1e4, "none");
            measurements.push("fcp", ms(p.fcp), "millisecond");
            measurements.push("fp", ms(p.fp), "millisecond");
            measurements.push("lcp", ms(p.lcp), "millisecond");
            measurements.push("ttfb", ms(p.response_start), "millisecond");
            measurements.push(
                "ttfb.requestTime",
                (p.response_start - p.request_start) as f64 / 1000.0,
                "millisecond",
            );
            measurements.end_row();
            sdk_name.append_value("sentry.javascript.browser");
            template.append_value(&rm.pageload_template_id);
            continue;
        }

        write_event_id(
            &mut event_id,
            stream(v.key, &[str_key("sentry/transactions")]),
        );
        event_id.append_value("");
        write_span_id(&mut span, v.span_id);
        span.append_value("");
        if v.is_root() {
            parent_span.append_null();
        } else {
            write_span_id(&mut parent_span, client_span_id(v));
            parent_span.append_value("");
        }
        write_transaction(&mut transaction, meta, svc, v);
        transaction.append_value("");
        source.append_value(rm.source);
        let (op_name, st) = match meta.protocol {
            Protocol::Http => ("http.server", http_span_status(v.status)),
            Protocol::Grpc => ("grpc.server", grpc_span_status(v.status)),
            Protocol::Queue => (
                "queue.process",
                if v.status >= 500 {
                    "internal_error"
                } else {
                    "ok"
                },
            ),
        };
        op.append_value(op_name);
        start_ts.append_value(v.start);
        duration.append_value(v.duration as f64 / 1000.0);
        status.append_value(st);
        match http_method(meta, svc, v) {
            Some(_) => http_status.append_value(v.status as i32),
            None => http_status.append_null(),
        }
        server_name.append_value(&world.pod(v.pod as usize).name);
        platform.append_value(meta.platform);
        write_call_spans(&mut spans, world, metas, visits, vi);
        local_ops(svc, visits, vi, &mut ops);
        write_local_spans(&mut spans, svc, v, &ops, &names[s][route].table, engines[s]);
        spans.end_row();
        measurements.end_row();
        sdk_name.append_value(meta.sdk_name);
        template.append_value(&rm.template_id);
    }
    let own: Vec<ArrayRef> = vec![
        Arc::new(event_id.finish()),
        Arc::new(trace.finish()),
        Arc::new(span.finish()),
        Arc::new(parent_span.finish()),
        Arc::new(transaction.finish()),
        Arc::new(source.finish()),
        Arc::new(op.finish()),
        Arc::new(start_ts.finish()),
        Arc::new(duration.finish()),
        Arc::new(status.finish()),
        Arc::new(http_status.finish()),
        Arc::new(server_name.finish()),
        Arc::new(release.finish()),
        Arc::new(env_col.finish()),
        Arc::new(platform.finish()),
        spans.finish(),
        measurements.finish(),
        Arc::new(user_id.finish()),
        Arc::new(sdk_name.finish()),
        Arc::new(sdk_version.finish()),
        Arc::new(template.finish()),
    ];
    common.finish(table.schema(), own)
}

/// One client span per call the visit made, with the callee's timing and outcome.
fn write_call_spans(
    out: &mut SpansBuilder,
    world: &World,
    metas: &[SvcMeta],
    visits: &[Visit],
    vi: usize,
) {
    let v = &visits[vi];
    for (_, c) in children(visits, vi) {
        let cs = world.service(c.service as usize);
        let cm = &metas[c.service as usize];
        let lead = 40 + (c.key % 150) as Micros;
        let start = (c.start - lead).max(v.start);
        // A publish returns once the queue took the message; the consumer runs later.
        let done = match cm.protocol {
            Protocol::Queue => c.start + 1_500 + ((c.key >> 24) % 6_000) as Micros,
            _ => c.end() + 30 + ((c.key >> 20) % 170) as Micros,
        };
        let end = done.min(v.end()).max(start);
        let croute = &cs.routes[c.route as usize % cs.routes.len()];
        match cm.protocol {
            Protocol::Http => out.push(
                client_span_id(c),
                v.span_id,
                "http.client",
                start,
                end - start,
                http_span_status(c.status),
                |b| {
                    text::text(b, (http_method(cm, cs, c).unwrap_or("GET"), ' '));
                    write_request_url(b, cm, cs, c);
                },
            ),
            Protocol::Grpc => out.push(
                client_span_id(c),
                v.span_id,
                "grpc.client",
                start,
                end - start,
                grpc_span_status(c.status),
                |b| {
                    b.write_str(croute).ok();
                },
            ),
            Protocol::Queue => {
                let st = if c.status >= 500 {
                    "internal_error"
                } else {
                    "ok"
                };
                out.push(
                    client_span_id(c),
                    v.span_id,
                    "queue.publish",
                    start,
                    end - start,
                    st,
                    |b| {
                        b.write_str(cm.queue.as_deref().unwrap_or(&cs.name)).ok();
                    },
                )
            }
        }
    }
}

/// Spans of the visit's own work: queries, cache reads, DynamoDB calls, publishes.
fn write_local_spans(
    out: &mut SpansBuilder,
    svc: &ServiceInfo,
    v: &Visit,
    ops: &[LocalOp],
    table: &str,
    engine: DbEngine,
) {
    let pool_timeout = v.failure == Some(FailureKind::PoolTimeout);
    let last_db = ops
        .iter()
        .rposition(|o| matches!(o.kind, LocalKind::Select | LocalKind::Update));
    for (i, o) in ops.iter().enumerate() {
        let id = mix64(v.key ^ (0x10ca_5000 + i as u64)) | 1;
        match o.kind {
            LocalKind::Select | LocalKind::Update => {
                let st = if pool_timeout && Some(i) == last_db {
                    "deadline_exceeded"
                } else {
                    "ok"
                };
                out.push(
                    id,
                    v.span_id,
                    db_op(svc.language),
                    o.start,
                    o.duration,
                    st,
                    |b| write_sql(b, svc.language, engine, table, o.kind == LocalKind::Update),
                );
            }
            LocalKind::CacheGet => {
                out.push(id, v.span_id, "cache.get", o.start, o.duration, "ok", |b| {
                    write_cache_key(b, svc, v.key)
                })
            }
            LocalKind::DynamoGet | LocalKind::DynamoPut => {
                let t = svc.dynamodb.first().map(String::as_str).unwrap_or("table");
                let verb = if o.kind == LocalKind::DynamoGet {
                    "GetItem"
                } else {
                    "PutItem"
                };
                out.push(id, v.span_id, "db", o.start, o.duration, "ok", |b| {
                    text::text(b, ("DynamoDB.", verb, ' ', t));
                });
            }
            LocalKind::Publish => {
                let q = svc.sqs.first().map(String::as_str).unwrap_or("events");
                out.push(
                    id,
                    v.span_id,
                    "queue.publish",
                    o.start,
                    o.duration,
                    "ok",
                    |b| {
                        b.write_str(q).ok();
                    },
                );
            }
        }
    }
}
