//! `sentry/errors`: one row per error event the services' Sentry SDKs sent.
//!
//! Events come from the request stream: every visit that failed on its own (the bug
//! `pod_logs` logs as an unhandled exception), every visit an incident made fail (the
//! exception of `failure_text`, as in the logs), most visits that answered 5xx because a
//! dependency failed (the HTTP or gRPC client's exception; Go handlers seldom capture
//! those), some dependency failures a service survived with a fallback (handled), and a
//! trickle of handled exceptions (`handled_errors_per_visit`).

use super::frames::{ErrorKind, Stack, build_stack, camel};
use super::{
    BreadcrumbsBuilder, FramesBuilder, LocalKind, LocalOp, Protocol, SvcMeta, TagsBuilder,
    all_route_names, children, client_span_id, expand_hour, grpc_span_status, http_method,
    local_ops, rds_engine, reason, service_meta, user_of, write_cache_key, write_event_id,
    write_public_ip, write_queue_url, write_request_url, write_span_id, write_sql,
    write_transaction,
};
use crate::config::{DbEngine, Language};
use crate::labels::Label;
use crate::rng::{Rng, str_key, stream};
use crate::sources::kubernetes::logfmt::write_trace;
use crate::sources::text;
use crate::sources::{CommonColumns, Source, Table, table_schema, unlabel_unchanged};
use crate::time::{HOUR, Micros, SECOND};
use crate::world::{ServiceInfo, Visit, World};
use arrow::array::{ArrayRef, BooleanBuilder, Int32Builder, StringBuilder};
use arrow::datatypes::{DataType, Field, SchemaRef};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Arc;

pub struct Errors;

/// A planned event, rendered after sorting.
#[derive(Clone, Copy)]
struct Ev {
    ts: Micros,
    visit: u32,
    kind: ErrorKind,
    /// The failed call (index into the visits) for upstream kinds, or `u32::MAX`.
    child: u32,
    key: u64,
}

/// Share of dependency failures a service's SDK reports when they fail the request: the
/// framework integration catches the client's exception, except in Go, where a handler
/// returns an error response and seldom calls `CaptureException`.
fn capture_share(lang: Language) -> f64 {
    if lang == Language::Go { 0.3 } else { 0.9 }
}

/// Share of survived dependency failures (the caller fell back) reported as handled.
fn fallback_share(lang: Language) -> f64 {
    if lang == Language::Go { 0.08 } else { 0.25 }
}

impl Table for Errors {
    fn source(&self) -> Source {
        Source::Sentry
    }
    fn name(&self) -> &'static str {
        "errors"
    }
    fn code(&self) -> &'static str {
        "ser"
    }

    fn schema(&self) -> SchemaRef {
        table_schema(vec![
            Field::new("event_id", DataType::Utf8, false),
            Field::new("platform", DataType::Utf8, false),
            Field::new("level", DataType::Utf8, false),
            Field::new("logger", DataType::Utf8, true),
            Field::new("transaction", DataType::Utf8, false),
            Field::new("server_name", DataType::Utf8, false),
            Field::new("release", DataType::Utf8, false),
            Field::new("environment", DataType::Utf8, false),
            Field::new("exception_type", DataType::Utf8, false),
            Field::new("exception_value", DataType::Utf8, false),
            Field::new(
                "stack_frames",
                super::list_of(FramesBuilder::fields()),
                false,
            ),
            Field::new(
                "breadcrumbs",
                super::list_of(BreadcrumbsBuilder::fields()),
                false,
            ),
            Field::new("user_id", DataType::Utf8, true),
            Field::new("user_ip", DataType::Utf8, true),
            Field::new("tags", super::list_of(TagsBuilder::fields()), false),
            Field::new("trace_id", DataType::Utf8, false),
            Field::new("span_id", DataType::Utf8, false),
            Field::new("parent_span_id", DataType::Utf8, true),
            Field::new("http_method", DataType::Utf8, true),
            Field::new("http_url", DataType::Utf8, true),
            Field::new("http_status_code", DataType::Int32, true),
            Field::new("handled", DataType::Boolean, false),
            Field::new("mechanism", DataType::Utf8, false),
            Field::new("fingerprint", DataType::Utf8, false),
            Field::new("sdk_name", DataType::Utf8, false),
            Field::new("sdk_version", DataType::Utf8, false),
            Field::new("template_id", DataType::Utf8, false),
        ])
    }

    fn render(&self, world: &World, hour: Micros) -> Result<RecordBatch, ArrowError> {
        let end = hour + HOUR;
        let visits = expand_hour(world, hour);
        let handled_rate = world
            .config
            .generation
            .sources
            .sentry
            .handled_errors_per_visit
            .0;
        let mut evs: Vec<Ev> = Vec::new();
        for vi in 0..visits.len() {
            plan_visit(world, &visits, vi, handled_rate, hour, end, &mut evs);
        }
        evs.sort_by_key(|e| (e.ts, visits[e.visit as usize].service, e.key));
        let mut labels: Vec<Label> = evs.iter().map(|e| event_label(world, &visits, e)).collect();
        let mut planned = Vec::new();
        unlabel_unchanged(
            &visits,
            &evs,
            &mut labels,
            |e| Some(e.visit as usize),
            |twin, e| {
                planned.clear();
                plan_visit(
                    world,
                    twin,
                    e.visit as usize,
                    handled_rate,
                    hour,
                    end,
                    &mut planned,
                );
                planned.iter().find(|t| t.key == e.key).copied()
            },
            |visits, evs, labels| write_rows(self, world, hour, visits, evs, labels),
        )?;
        // After the twin comparison, which renders the release from the same pods.
        for (e, label) in evs.iter().zip(labels.iter_mut()) {
            if label.is_normal() {
                *label = world.release_label(visits[e.visit as usize].pod as usize, e.ts);
            }
        }
        write_rows(self, world, hour, &visits, &evs, &labels)
    }

    /// One Sentry error event per line (see [`super::native`]).
    fn write_native(
        &self,
        world: &World,
        _hour: Micros,
        batch: &RecordBatch,
        out: &mut crate::sink::JsonLines,
    ) -> Result<(), crate::error::Error> {
        super::native::write_errors(world, batch, out)
    }
}

/// The dependency of visit `vi`'s route that it could not reach (no child visit for it).
fn missing_dep(world: &World, visits: &[Visit], vi: usize) -> Option<u16> {
    let v = &visits[vi];
    let deps = &world.requests.route_deps[v.service as usize][v.route as usize];
    deps.iter()
        .find(|&&d| !children(visits, vi).any(|(_, c)| c.service as usize == d))
        .map(|&d| d as u16)
}

fn plan_visit(
    world: &World,
    visits: &[Visit],
    vi: usize,
    handled_rate: f64,
    hour: Micros,
    end: Micros,
    out: &mut Vec<Ev>,
) {
    let v = &visits[vi];
    let lang = world.service(v.service as usize).language;
    // Two slots per visit, each with its own stream (the event key and every draw): the
    // outcome's event and a handled error, so that one does not shift the other between a
    // run and its counterfactual twin.
    const SLOT: u64 = str_key("sentry/errors/slot");
    let slot = |n: u64| stream(v.key, &[SLOT, n]);
    let mut push = |ts: Micros, kind: ErrorKind, child: u32, key: u64| {
        if ts >= hour && ts < end {
            out.push(Ev {
                ts,
                visit: vi as u32,
                kind,
                child,
                key,
            });
        }
    };
    let calls_end = children(visits, vi)
        .map(|(_, c)| c.end())
        .max()
        .unwrap_or(v.start);
    let key = slot(1);
    let mut rng = Rng::new(key);
    let (before_end, captured, fallback, after_call) = (
        rng.below(1_200) as Micros,
        rng.chance(capture_share(lang)),
        rng.chance(fallback_share(lang)),
        rng.below(600) as Micros,
    );
    // Captured as the request fails: after its last call returned, just before the
    // access line `pod_logs` writes at `v.end()`.
    let err_ts = (v.end() - 200 - before_end)
        .max(calls_end + 50)
        .min(v.end());
    let failed_call = children(visits, vi).find(|(_, c)| c.status >= 500);
    if let Some(f) = v.failure {
        push(err_ts, ErrorKind::Failure(f), u32::MAX, key);
    } else if v.own_error {
        push(err_ts, ErrorKind::Unhandled, u32::MAX, key);
    } else if v.status >= 500 {
        match failed_call {
            Some((ci, c)) if captured => {
                let kind = ErrorKind::Upstream {
                    dep: c.service,
                    route: c.route,
                    status: c.status,
                };
                push(err_ts, kind, ci as u32, key);
            }
            None if captured => {
                if let Some(dep) = missing_dep(world, visits, vi) {
                    push(err_ts, ErrorKind::Unreachable { dep }, u32::MAX, key);
                }
            }
            _ => {}
        }
    } else if let Some((ci, c)) = failed_call
        && fallback
    {
        let ts = (c.end() + 300 + after_call).min(v.end());
        let kind = ErrorKind::UpstreamHandled {
            dep: c.service,
            route: c.route,
            status: c.status,
        };
        push(ts, kind, ci as u32, key);
    }
    let key = slot(2);
    let mut rng = Rng::new(key);
    let (handled, at, k) = (rng.chance(handled_rate), rng.f64(), rng.below(3) as u8);
    if handled {
        // Within the twin's duration: a handled error does not move when an incident
        // slows the request down.
        let base_end = v.start + v.base_duration;
        let from = v.start.max(base_end - 3 * SECOND);
        let ts = from + ((base_end - from) as f64 * at) as Micros;
        push(ts, ErrorKind::Handled(k), u32::MAX, key);
    }
}

/// The label of an event: the event shows the request (and its calls, as breadcrumbs),
/// so it carries the label of the failed call it reports when an incident changed that
/// call, else the request's when an incident changed the request. Where the row itself
/// came out as in the twin, [`unlabel_unchanged`] takes the label off.
fn event_label<'w>(world: &'w World, visits: &[Visit], e: &Ev) -> Label<'w> {
    let vi = e.visit as usize;
    let v = &visits[vi];
    let child = (e.child != u32::MAX).then(|| &visits[e.child as usize]);
    match (e.kind, child) {
        // Placed within the twin's duration: it changes only with the calls its
        // breadcrumbs show.
        (ErrorKind::Handled(_), _) => children(visits, vi)
            .find(|(_, c)| c.changed() && c.start < e.ts)
            .map(|(_, c)| world.call_label(c, e.ts))
            .unwrap_or(Label::NORMAL),
        (_, Some(c)) if c.changed() => world.call_label(c, e.ts),
        _ if v.changed() => world.visit_label(v, e.ts),
        _ => Label::NORMAL,
    }
}

/// A breadcrumb before the event, rendered in time order.
#[derive(Clone, Copy)]
enum Crumb {
    /// The response of a call to child visit `.0`.
    Call(usize),
    /// The error line the service logged after a failed call.
    CallFailedLog(usize),
    /// The warning it logged before retrying a slow call.
    RetryLog(usize),
    Local(LocalOp),
}

struct Ctx<'a> {
    world: &'a World,
    visits: &'a [Visit],
    metas: &'a [SvcMeta],
    names: &'a [Vec<super::frames::RouteNames>],
    engines: Vec<DbEngine>,
    /// `<Dep>Client#<method>`: the Feign client method calling each route, `[service][route]`.
    feign: Vec<Vec<String>>,
}

fn write_rows(
    table: &Errors,
    world: &World,
    hour: Micros,
    visits: &[Visit],
    evs: &[Ev],
    labels: &[Label],
) -> Result<RecordBatch, ArrowError> {
    let n = evs.len();
    let metas = service_meta(world);
    let protocols: Vec<Protocol> = metas.iter().map(|m| m.protocol).collect();
    let names = all_route_names(world);
    let cx = Ctx {
        world,
        visits,
        metas: &metas,
        names: &names,
        engines: world
            .topology
            .services
            .iter()
            .map(|s| rds_engine(world, s))
            .collect(),
        feign: world
            .topology
            .services
            .iter()
            .zip(&names)
            .map(|(s, routes)| {
                let dep = camel(s.name.trim_end_matches("-service"));
                let (first, rest) = dep.split_at(1.min(dep.len()));
                routes
                    .iter()
                    .map(|n| {
                        format!(
                            "{}{rest}Client#{}",
                            first.to_ascii_uppercase(),
                            camel(&n.handler)
                        )
                    })
                    .collect()
            })
            .collect(),
    };
    let environment = world.config.services.cluster.environment.as_str();
    let mut stacks: Vec<Stack> = Vec::new();
    let mut stack_of: HashMap<(u16, u16, ErrorKind), usize> = HashMap::new();

    let mut common = CommonColumns::new(table.code(), hour, n);
    let mut event_id = StringBuilder::with_capacity(n, n * 32);
    let mut platform = StringBuilder::with_capacity(n, n * 6);
    let mut level = StringBuilder::with_capacity(n, n * 6);
    let mut logger = StringBuilder::with_capacity(n, n * 30);
    let mut transaction = StringBuilder::with_capacity(n, n * 30);
    let mut server_name = StringBuilder::with_capacity(n, n * 32);
    let mut release = StringBuilder::with_capacity(n, n * 24);
    let mut env_col = StringBuilder::with_capacity(n, n * 10);
    let mut exc_type = StringBuilder::with_capacity(n, n * 30);
    let mut exc_value = StringBuilder::with_capacity(n, n * 80);
    let mut frames = FramesBuilder::with_capacity(n);
    let mut crumbs = BreadcrumbsBuilder::with_capacity(n);
    let mut user_id = StringBuilder::with_capacity(n, n * 10);
    let mut user_ip = StringBuilder::with_capacity(n, n * 14);
    let mut tags = TagsBuilder::with_capacity(n);
    let mut trace = StringBuilder::with_capacity(n, n * 32);
    let mut span = StringBuilder::with_capacity(n, n * 16);
    let mut parent_span = StringBuilder::with_capacity(n, n * 16);
    let mut method_col = StringBuilder::with_capacity(n, n * 4);
    let mut url_col = StringBuilder::with_capacity(n, n * 70);
    let mut status_col = Int32Builder::with_capacity(n);
    let mut handled_col = BooleanBuilder::with_capacity(n);
    let mut mechanism = StringBuilder::with_capacity(n, n * 10);
    let mut fingerprint = StringBuilder::with_capacity(n, n * 32);
    let mut sdk_name = StringBuilder::with_capacity(n, n * 22);
    let mut sdk_version = StringBuilder::with_capacity(n, n * 6);
    let mut template = StringBuilder::with_capacity(n, n * 40);
    let mut scratch: Vec<(Micros, Crumb)> = Vec::with_capacity(16);
    let mut ops: Vec<LocalOp> = Vec::with_capacity(6);

    for (e, label) in evs.iter().zip(labels) {
        let vi = e.visit as usize;
        let v = &visits[vi];
        let s = v.service as usize;
        let svc = world.service(s);
        let meta = &metas[s];
        let pod = world.pod(v.pod as usize);
        let route = v.route as usize % svc.routes.len();
        let si = *stack_of
            .entry((v.service, route as u16, e.kind))
            .or_insert_with(|| {
                stacks.push(build_stack(
                    &world.topology.services,
                    &protocols,
                    svc,
                    route,
                    e.kind,
                ));
                stacks.len() - 1
            });
        let st = &stacks[si];
        common.append(e.ts, e.key, &svc.name, label);
        write_event_id(&mut event_id, stream(e.key, &[str_key("sentry/errors")]));
        event_id.append_value("");
        platform.append_value(meta.platform);
        level.append_value(st.level);
        logger.append_option(st.logger.as_deref());
        write_transaction(&mut transaction, meta, svc, v);
        transaction.append_value("");
        server_name.append_value(&pod.name);
        let version = world.pod_version(v.pod as usize);
        text::text(&mut release, (&svc.name, '@', version));
        release.append_value("");
        env_col.append_value(environment);
        exc_type.append_value(st.exception_type);
        match &st.value {
            Some(text) => exc_value.append_value(text),
            None => {
                let c = &visits[e.child as usize];
                write_upstream_value(&mut exc_value, &cx, svc, c);
                exc_value.append_value("");
            }
        }
        frames.push_all(&st.frames);

        // Breadcrumbs: the calls, queries and log lines before the event.
        scratch.clear();
        for (ci, c) in children(visits, vi) {
            scratch.push((c.end() + 60, Crumb::Call(ci)));
            if c.status >= 500 {
                scratch.push((c.end() + 300, Crumb::CallFailedLog(ci)));
            } else if c.duration > 250_000 {
                scratch.push((c.end() + 200, Crumb::RetryLog(ci)));
            }
        }
        local_ops(svc, visits, vi, &mut ops);
        for op in &ops {
            if op.kind != LocalKind::CacheGet {
                scratch.push((op.start + op.duration, Crumb::Local(*op)));
            }
        }
        scratch.sort_by_key(|x| x.0);
        for &(ts, crumb) in scratch.iter().filter(|x| x.0 < e.ts) {
            write_crumb(&mut crumbs, &cx, svc, v, ts, crumb);
        }
        crumbs.end_row();

        let user = user_of(world, visits, v);
        match user {
            Some(u) => {
                text::text(&mut user_id, ("usr_", u));
                user_id.append_value("");
            }
            None => user_id.append_null(),
        }
        if meta.protocol != Protocol::Http {
            user_ip.append_null();
        } else if v.is_root() {
            write_public_ip(&mut user_ip, v.root_key);
            user_ip.append_value("");
        } else {
            user_ip.append_value(&world.pod(visits[v.parent as usize].pod as usize).ip);
        }

        // Tags, in the order Sentry lists an event's tags.
        tags.tag("environment", environment);
        tags.tag("handled", if st.handled { "yes" } else { "no" });
        tags.tag("k8s.namespace", &svc.namespace);
        tags.tag("level", st.level);
        tags.tag("mechanism", st.mechanism);
        tags.tag("os.name", "Linux");
        tags.tag_with("release", |b| {
            text::text(b, (&svc.name, '@', version));
        });
        tags.tag("runtime", meta.runtime);
        tags.tag("runtime.name", meta.runtime_name);
        tags.tag("server_name", &pod.name);
        tags.tag_with("transaction", |b| write_transaction(b, meta, svc, v));
        if meta.protocol == Protocol::Http {
            tags.tag_with("url", |b| {
                write_request_url(b, meta, svc, v);
            });
        }
        if let Some(u) = user {
            tags.tag_with("user", |b| {
                text::text(b, ("id:usr_", u));
            });
        }
        tags.end_row();

        write_trace(&mut trace, v.trace_hi, v.trace_lo);
        trace.append_value("");
        write_span_id(&mut span, v.span_id);
        span.append_value("");
        if v.is_root() {
            parent_span.append_null();
        } else {
            write_span_id(&mut parent_span, client_span_id(v));
            parent_span.append_value("");
        }
        match http_method(meta, svc, v) {
            Some(m) => {
                method_col.append_value(m);
                write_request_url(&mut url_col, meta, svc, v);
                url_col.append_value("");
                status_col.append_value(v.status as i32);
            }
            None => {
                method_col.append_null();
                url_col.append_null();
                status_col.append_null();
            }
        }
        handled_col.append_value(st.handled);
        mechanism.append_value(st.mechanism);
        fingerprint.append_value(&st.fingerprint);
        sdk_name.append_value(meta.sdk_name);
        sdk_version.append_value(meta.sdk_version);
        template.append_value(&st.template_id);
    }
    let own: Vec<ArrayRef> = vec![
        Arc::new(event_id.finish()),
        Arc::new(platform.finish()),
        Arc::new(level.finish()),
        Arc::new(logger.finish()),
        Arc::new(transaction.finish()),
        Arc::new(server_name.finish()),
        Arc::new(release.finish()),
        Arc::new(env_col.finish()),
        Arc::new(exc_type.finish()),
        Arc::new(exc_value.finish()),
        frames.finish(),
        crumbs.finish(),
        Arc::new(user_id.finish()),
        Arc::new(user_ip.finish()),
        tags.finish(),
        Arc::new(trace.finish()),
        Arc::new(span.finish()),
        Arc::new(parent_span.finish()),
        Arc::new(method_col.finish()),
        Arc::new(url_col.finish()),
        Arc::new(status_col.finish()),
        Arc::new(handled_col.finish()),
        Arc::new(mechanism.finish()),
        Arc::new(fingerprint.finish()),
        Arc::new(sdk_name.finish()),
        Arc::new(sdk_version.finish()),
        Arc::new(template.finish()),
    ];
    common.finish(table.schema(), own)
}

const ENVOY_RESET: &str = "upstream connect error or disconnect/reset before headers. reset reason: connection termination";

/// Writes the URL of a call to child visit `c` (its in-cluster URL, or the SQS queue URL
/// for a worker fed by a queue); `false` for gRPC.
fn write_call_url(out: &mut impl Write, cx: &Ctx, c: &Visit) -> bool {
    let cs = cx.world.service(c.service as usize);
    let cm = &cx.metas[c.service as usize];
    match cm.protocol {
        Protocol::Http => write_request_url(out, cm, cs, c),
        Protocol::Queue => {
            write_queue_url(out, cx.world, cm.queue.as_deref().unwrap_or(&cs.name));
            true
        }
        Protocol::Grpc => false,
    }
}

fn call_method<'a>(cx: &Ctx<'a>, c: &Visit) -> &'a str {
    let cm = &cx.metas[c.service as usize];
    http_method(cm, cx.world.service(c.service as usize), c).unwrap_or("POST")
}

/// The message of an upstream client exception for the call to `c` (which answered
/// `c.status`), as the caller's client library words it.
fn write_upstream_value(out: &mut StringBuilder, cx: &Ctx, svc: &ServiceInfo, c: &Visit) {
    let status = c.status;
    let grpc = cx.metas[c.service as usize].protocol == Protocol::Grpc;
    let _ = match (svc.language, grpc) {
        (Language::Python, false) => {
            let _ = write!(out, "{status} Server Error: {} for url: ", reason(status));
            write_call_url(out, cx, c);
            Ok(())
        }
        (Language::Python, true) => {
            let cs = cx.world.service(c.service as usize);
            write!(
                out,
                "<_InactiveRpcError of RPC that terminated with:\n\tstatus = StatusCode.UNAVAILABLE\n\tdetails = \"{ENVOY_RESET}\"\n\tdebug_error_string = \"UNKNOWN:Error received from peer ipv4:{}:{} {{grpc_message:\"{ENVOY_RESET}\", grpc_status:14}}\"\n>",
                cx.world.pod(c.pod as usize).ip,
                cs.port
            )
        }
        (Language::Java, true) => write!(out, "UNAVAILABLE: {ENVOY_RESET}"),
        (Language::Java, false) if svc.framework == "micronaut" => out.write_str(reason(status)),
        (Language::Java, false) => {
            let _ = write!(
                out,
                "[{status} {}] during [{}] to [",
                reason(status),
                call_method(cx, c)
            );
            write_call_url(out, cx, c);
            let cs = cx.world.service(c.service as usize);
            let method = &cx.feign[c.service as usize][c.route as usize % cs.routes.len()];
            write!(out, "] [{method}(Request)]: []")
        }
        (Language::Node, false) => write!(out, "Request failed with status code {status}"),
        (Language::Node, true) => write!(out, "14 UNAVAILABLE: {ENVOY_RESET}"),
        (Language::Go, false) => {
            let _ = write!(out, "{} ", call_method(cx, c));
            write_call_url(out, cx, c);
            write!(out, ": unexpected status {status} {}", reason(status))
        }
        (Language::Go, true) => write!(out, "rpc error: code = Unavailable desc = {ENVOY_RESET}"),
    };
}

fn crumb_level(status: u16) -> &'static str {
    match status {
        500.. => "error",
        400.. => "warning",
        _ => "info",
    }
}

/// The logger category of a service's log breadcrumbs.
fn log_category(svc: &ServiceInfo) -> &'static str {
    match svc.language {
        Language::Python => "app.clients",
        Language::Java => "com.shop.client.UpstreamClient",
        Language::Node => "console",
        Language::Go => "log",
    }
}

fn write_crumb(
    b: &mut BreadcrumbsBuilder,
    cx: &Ctx,
    svc: &ServiceInfo,
    v: &Visit,
    ts: Micros,
    crumb: Crumb,
) {
    let lang = svc.language;
    match crumb {
        Crumb::Call(ci) => {
            let c = &cx.visits[ci];
            let cs = cx.world.service(c.service as usize);
            let cm = &cx.metas[c.service as usize];
            match cm.protocol {
                Protocol::Grpc => {
                    b.begin(ts, "default", "grpc", crumb_level(c.status));
                    b.message
                        .append_value(&cs.routes[c.route as usize % cs.routes.len()]);
                    b.data_json.write_str("{\"code\":\"").ok();
                    for ch in grpc_span_status(c.status).chars() {
                        b.data_json.write_char(ch.to_ascii_uppercase()).ok();
                    }
                    b.data_json.append_value("\"}");
                }
                Protocol::Queue => {
                    b.begin(ts, "default", "sqs", crumb_level(c.status));
                    text::text(
                        &mut b.message,
                        ("SendMessage ", cm.queue.as_deref().unwrap_or(&cs.name)),
                    );
                    b.message.append_value("");
                    b.data_json.write_str("{\"queue_url\":\"").ok();
                    write_call_url(&mut b.data_json, cx, c);
                    b.data_json.append_value("\"}");
                }
                Protocol::Http => {
                    let category = if lang == Language::Python {
                        "httplib"
                    } else {
                        "http"
                    };
                    b.begin(ts, "http", category, crumb_level(c.status));
                    b.message.append_null();
                    text::text(
                        &mut b.data_json,
                        ("{\"method\":\"", call_method(cx, c), "\",\"url\":\""),
                    );
                    write_call_url(&mut b.data_json, cx, c);
                    text::text(&mut b.data_json, ("\",\"status_code\":", c.status));
                    if lang == Language::Python {
                        text::text(&mut b.data_json, (",\"reason\":\"", reason(c.status), '"'));
                    }
                    b.data_json.append_value("}");
                }
            }
        }
        Crumb::CallFailedLog(ci) | Crumb::RetryLog(ci) => {
            let c = &cx.visits[ci];
            let up = &cx.world.service(c.service as usize).name;
            let failed = matches!(crumb, Crumb::CallFailedLog(_));
            let level = if failed { "error" } else { "warning" };
            b.begin(ts, "log", log_category(svc), level);
            b.message.append_value(if failed {
                "upstream request failed"
            } else {
                "retrying upstream request"
            });
            if failed {
                text::text(
                    &mut b.data_json,
                    (
                        "{\"upstream\":\"",
                        up,
                        "\",\"status\":",
                        c.status.max(502),
                        '}',
                    ),
                );
            } else {
                text::text(
                    &mut b.data_json,
                    (
                        "{\"upstream\":\"",
                        up,
                        "\",\"attempt\":2,\"max_attempts\":3}",
                    ),
                );
            }
            b.data_json.append_value("");
        }
        Crumb::Local(op) => {
            let s = v.service as usize;
            let table = &cx.names[s][v.route as usize % svc.routes.len()].table;
            match op.kind {
                LocalKind::Select | LocalKind::Update => {
                    b.begin(ts, "default", "query", "info");
                    write_sql(
                        &mut b.message,
                        lang,
                        cx.engines[s],
                        table,
                        op.kind == LocalKind::Update,
                    );
                    b.message.append_value("");
                    b.data_json.append_null();
                }
                LocalKind::DynamoGet | LocalKind::DynamoPut => {
                    let c = &cx.world.config.services.cluster;
                    b.begin(ts, "http", "http", "info");
                    b.message.append_null();
                    let _ = write!(
                        b.data_json,
                        "{{\"method\":\"POST\",\"url\":\"https://dynamodb.{}.amazonaws.com/\",\"status_code\":200}}",
                        c.region
                    );
                    b.data_json.append_value("");
                }
                LocalKind::Publish => {
                    let q = svc.sqs.first().map(String::as_str).unwrap_or("events");
                    b.begin(ts, "default", "sqs", "info");
                    text::text(&mut b.message, ("SendMessage ", q));
                    b.message.append_value("");
                    b.data_json.write_str("{\"queue_url\":\"").ok();
                    write_queue_url(&mut b.data_json, cx.world, q);
                    b.data_json.append_value("\"}");
                }
                LocalKind::CacheGet => {
                    b.begin(ts, "default", "redis", "info");
                    b.message.write_str("GET ").ok();
                    write_cache_key(&mut b.message, svc, v.key);
                    b.message.append_value("");
                    b.data_json.append_null();
                }
            }
        }
    }
    b.done();
}
