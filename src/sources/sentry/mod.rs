//! The Sentry source: error events and performance transactions of every service, as
//! the Sentry SDK of each service's language and framework would have sent them.
//!
//! Both tables are views of the world's request stream: an error event belongs to a
//! visit that failed (or that captured a handled exception), a transaction to a visit of a
//! trace that head-based sampling kept. Trace ids, span ids, pods (`server_name`) and
//! releases are those of the visit, so they join with `kubernetes/pod_logs` and
//! `kubernetes/metrics`.

mod errors;
pub mod frames;
pub mod native;
mod transactions;

pub use errors::Errors;
pub use transactions::Transactions;

use crate::config::{DbEngine, Language, ServiceKind};
use crate::rng::{Rng, mix64, str_key, stream, unit};
use crate::sources::kubernetes::templates::write_path;
use crate::sources::text;
use crate::time::{MINUTE, Micros};
use crate::world::{ServiceInfo, Visit, World};
use arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, Int32Builder, ListArray, StringBuilder, StructArray,
    TimestampMicrosecondBuilder,
};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{DataType, Field, FieldRef, Fields};
use std::fmt::Write;
use std::sync::Arc;

/// Expands the request visits that can end in `[hour, hour + 1h)`: the roots of the
/// minutes `[hour - 1 min, hour + 60 min)`, exactly as `kubernetes/pod_logs` does.
pub fn expand_hour(world: &World, hour: Micros) -> Vec<Visit> {
    let mut visits = Vec::new();
    let mut minute = hour - MINUTE;
    while minute < hour + crate::time::HOUR {
        world.expand_minute(minute, &mut visits);
        minute += MINUTE;
    }
    visits
}

/// Head-based sampling: decided once per trace from its id, so either every service of a
/// trace sends its transaction or none does.
pub fn trace_sampled(world: &World, v: &Visit) -> bool {
    let rate = world.config.generation.sources.sentry.traces_sample_rate.0;
    unit(stream(
        v.trace_hi,
        &[v.trace_lo, str_key("sentry/traces_sampler")],
    )) < rate
}

/// The direct children of visit `vi` (the calls it made), in call order.
pub fn children(visits: &[Visit], vi: usize) -> impl Iterator<Item = (usize, &Visit)> {
    let depth = visits[vi].depth;
    visits[vi + 1..]
        .iter()
        .take_while(move |c| c.depth > depth)
        .enumerate()
        .filter(move |(_, c)| c.parent as usize == vi)
        .map(move |(i, c)| (vi + 1 + i, c))
}

/// Writes a Sentry event id: 32 lowercase hex digits, a UUID v4 without dashes.
pub fn write_event_id(out: &mut impl Write, key: u64) {
    let hi = (mix64(key ^ 0x5e17_e1d0_0000_0001) & 0xffff_ffff_ffff_0fff) | 0x4000;
    let lo = (mix64(key ^ 0x5e17_e1d0_0000_0002) & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    text::hex128(out, hi, lo);
}

/// Sentry span status of an HTTP status code (the SDKs' `get_span_status_from_http_code`).
pub fn http_span_status(code: u16) -> &'static str {
    match code {
        0..=399 => "ok",
        401 => "unauthenticated",
        403 => "permission_denied",
        404 => "not_found",
        409 => "already_exists",
        413 => "failed_precondition",
        429 => "resource_exhausted",
        400..=499 => "invalid_argument",
        501 => "unimplemented",
        503 => "unavailable",
        504 => "deadline_exceeded",
        _ => "internal_error",
    }
}

/// Span status of a gRPC call, from the world's status (grpc-go answers every 5xx with
/// `Unavailable`, as its access lines in `pod_logs` say).
pub fn grpc_span_status(code: u16) -> &'static str {
    match code {
        500.. => "unavailable",
        404 => "not_found",
        401 => "unauthenticated",
        400 => "invalid_argument",
        429 => "resource_exhausted",
        _ => "ok",
    }
}

/// HTTP reason phrase.
pub fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

/// How a service is called and how its SDK names its transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Http,
    Grpc,
    Queue,
}

/// Per-service facts the Sentry SDK reports, computed once per partition.
pub struct SvcMeta {
    pub platform: &'static str,
    pub sdk_name: &'static str,
    pub sdk_version: &'static str,
    pub runtime: &'static str,
    pub runtime_name: &'static str,
    pub protocol: Protocol,
    /// `https://<public host>` for services behind an internet-facing load balancer.
    pub public_base: Option<String>,
    /// `http://<service>.<namespace>.svc.cluster.local:<port>`.
    pub internal_base: String,
    pub host: String,
    pub cluster_ip: String,
    pub port: u16,
    /// Per route: transaction name (`None` when it is the raw URL, written per event),
    /// transaction source, and the ground-truth template id.
    pub routes: Vec<RouteMeta>,
    /// The queue a worker consumes, or a service publishes to.
    pub queue: Option<String>,
}

pub struct RouteMeta {
    pub transaction: Option<String>,
    pub source: &'static str,
    pub template_id: String,
    /// Browser pageload transaction name for server-rendered pages.
    pub pageload: Option<String>,
    pub pageload_template_id: String,
}

const PY_VERSIONS: [&str; 3] = ["2.13.0", "2.14.0", "2.17.0"];
const NODE_VERSIONS: [&str; 3] = ["8.26.0", "8.30.0", "8.33.1"];
const JAVA_VERSIONS: [&str; 3] = ["7.14.0", "7.16.0", "7.16.0"];
const GO_VERSIONS: [&str; 3] = ["0.28.1", "0.29.0", "0.29.1"];

pub fn service_meta(world: &World) -> Vec<SvcMeta> {
    world
        .topology
        .services
        .iter()
        .map(|s| {
            let pick = |v: &[&'static str; 3]| v[(mix64(s.key ^ 0x5d4) % 3) as usize];
            let (platform, sdk_name, sdk_version, runtime, runtime_name) = match s.language {
                Language::Python => (
                    "python",
                    match s.framework.as_str() {
                        "django" => "sentry.python.django",
                        "fastapi" => "sentry.python.fastapi",
                        "flask" => "sentry.python.flask",
                        _ => "sentry.python",
                    },
                    pick(&PY_VERSIONS),
                    "CPython 3.12.4",
                    "CPython",
                ),
                Language::Node => (
                    "node",
                    "sentry.javascript.node",
                    pick(&NODE_VERSIONS),
                    "node v20.15.1",
                    "node",
                ),
                Language::Java => (
                    "java",
                    if s.framework == "spring-boot" {
                        "sentry.java.spring-boot.jakarta"
                    } else {
                        "sentry.java"
                    },
                    pick(&JAVA_VERSIONS),
                    "OpenJDK 21.0.4",
                    "OpenJDK",
                ),
                Language::Go => ("go", "sentry.go", pick(&GO_VERSIONS), "go go1.22.5", "go"),
            };
            let protocol = if s.kind == ServiceKind::Worker {
                Protocol::Queue
            } else if s.framework == "grpc-go" {
                Protocol::Grpc
            } else {
                Protocol::Http
            };
            let host = format!("{}.{}.svc.cluster.local", s.name, s.namespace);
            let k = mix64(s.key ^ 0xc1a5_7e41);
            let cluster_ip = format!("172.20.{}.{}", (k >> 8) % 256, 1 + k % 254);
            let public_base = s.load_balancer.as_ref().map(|lb| {
                let stem = lb.trim_end_matches("-alb").trim_end_matches("-lb");
                if matches!(stem, "storefront" | "www" | "web") {
                    "https://www.shop.example.com".to_string()
                } else {
                    format!("https://{stem}.shop.example.com")
                }
            });
            let routes = s
                .routes
                .iter()
                .map(|r| {
                    let (transaction, source) = transaction_name(s, r);
                    let norm = normalize_route(r);
                    let pageload = (s.kind == ServiceKind::Web
                        && s.language == Language::Node
                        && r.starts_with("GET ")
                        && !r.contains("/static/")
                        && !r.contains('.'))
                    .then(|| {
                        let path = r.split_once(' ').map(|x| x.1).unwrap_or(r);
                        express_path(path)
                    });
                    RouteMeta {
                        transaction,
                        source,
                        template_id: format!("sentry.transaction.{}.{norm}", s.name),
                        pageload,
                        pageload_template_id: format!(
                            "sentry.transaction.{}.pageload.{}",
                            s.name,
                            normalize_route(r.split_once(' ').map(|x| x.1).unwrap_or(r))
                        ),
                    }
                })
                .collect();
            SvcMeta {
                platform,
                sdk_name,
                sdk_version,
                runtime,
                runtime_name,
                protocol,
                public_base,
                internal_base: format!("http://{host}:{}", s.port),
                host,
                cluster_ip,
                port: s.port,
                routes,
                queue: s.sqs.first().cloned(),
            }
        })
        .collect()
}

/// `/products/{slug}` → `/products/:slug` (Express, Fastify and gin route syntax).
fn express_path(path: &str) -> String {
    path.replace('{', ":").replace('}', "")
}

/// The transaction name the service's SDK gives a route, and its `transaction_info.source`;
/// `None` when the name is the raw URL path (chi through `sentryhttp`).
fn transaction_name(s: &ServiceInfo, route: &str) -> (Option<String>, &'static str) {
    let (method, path) = route.split_once(' ').unwrap_or(("POST", route));
    if s.kind == ServiceKind::Worker {
        return (Some(route.to_string()), "task");
    }
    match s.framework.as_str() {
        "express" | "fastify" | "gin" => {
            (Some(format!("{method} {}", express_path(path))), "route")
        }
        "spring-boot" | "micronaut" => (Some(format!("{method} {path}")), "route"),
        // Django and FastAPI: `transaction_style="url"`, the route pattern.
        "django" | "fastapi" => (Some(path.to_string()), "route"),
        // Flask: `transaction_style="endpoint"`, `<blueprint>.<view function>`.
        "flask" => {
            let n = frames::route_names(s, route);
            (Some(format!("{}.{}", n.resource, n.handler)), "component")
        }
        "grpc-go" => (Some(path.to_string()), "route"),
        // sentryhttp names transactions after the raw request path.
        _ => (None, "url"),
    }
}

/// `POST /v1/orders/{id}/cancel` → `post_v1_orders_id_cancel`.
pub fn normalize_route(route: &str) -> String {
    let mut out = String::with_capacity(route.len());
    for c in route.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    if out.is_empty() {
        out.push_str("root");
    }
    out
}

/// Writes the transaction name of a visit.
pub fn write_transaction(out: &mut impl Write, meta: &SvcMeta, s: &ServiceInfo, v: &Visit) {
    let r = v.route as usize % s.routes.len();
    match &meta.routes[r].transaction {
        Some(t) => {
            let _ = out.write_str(t);
        }
        None => {
            let route = &s.routes[r];
            let method = route.split_once(' ').map(|x| x.0).unwrap_or("POST");
            text::text(out, (method, ' '));
            write_path(out, route, v.key);
        }
    }
}

/// Writes the URL of the request a visit served: the public URL for root requests of
/// services behind a load balancer, the in-cluster URL otherwise. `false` when the visit
/// has no HTTP URL (gRPC, queue workers).
pub fn write_request_url(out: &mut impl Write, meta: &SvcMeta, s: &ServiceInfo, v: &Visit) -> bool {
    if meta.protocol != Protocol::Http {
        return false;
    }
    let route = &s.routes[v.route as usize % s.routes.len()];
    match (&meta.public_base, v.is_root()) {
        (Some(base), true) => {
            let _ = out.write_str(base);
        }
        _ => {
            let _ = out.write_str(&meta.internal_base);
        }
    }
    write_path(out, route, v.key);
    true
}

/// The HTTP method of a visit's route, for HTTP services.
pub fn http_method<'a>(meta: &SvcMeta, s: &'a ServiceInfo, v: &Visit) -> Option<&'a str> {
    if meta.protocol != Protocol::Http {
        return None;
    }
    let route = &s.routes[v.route as usize % s.routes.len()];
    Some(route.split_once(' ').map(|x| x.0).unwrap_or("POST"))
}

/// The end user behind a trace: `usr_<n>` (the id the services log), or `None` for an
/// anonymous visitor. Decided at the root, the same for every service of the trace.
pub fn user_of(world: &World, visits: &[Visit], v: &Visit) -> Option<u64> {
    let mut root = v;
    while !root.is_root() {
        root = &visits[root.parent as usize];
    }
    let svc = world.service(root.service as usize);
    let anonymous = match svc.kind {
        ServiceKind::Web if svc.language == Language::Node => 0.45,
        ServiceKind::Web => 0.12,
        ServiceKind::Api => 0.1,
        ServiceKind::Worker => 0.0,
    };
    (unit(v.root_key ^ 0x05e2_1d00) >= anonymous).then_some(v.root_key % 250_000)
}

/// A public IPv4 address of the end user of a root request (residential and mobile
/// carrier ranges), stable for the request.
pub fn write_public_ip(out: &mut impl Write, root_key: u64) {
    const FIRST: [u8; 16] = [
        24, 47, 50, 67, 71, 73, 76, 98, 99, 107, 108, 172, 174, 184, 203, 68,
    ];
    let k = mix64(root_key ^ 0x1b_ad_d2);
    let a = FIRST[(k % 16) as usize];
    // 172.16.0.0/12 is private: stay in 172.58-172.127.
    let b = if a == 172 {
        58 + (k >> 8) % 70
    } else {
        (k >> 8) % 256
    };
    text::text(
        out,
        (a, '.', b, '.', (k >> 16) % 256, ('.', 1 + (k >> 24) % 254)),
    );
}

/// The span id of the client span (`http.client`, `grpc.client`, `queue.publish`) in which
/// the caller of `child` made that call. The child's transaction and error events name it as
/// their `parent_span_id`, as the SDKs propagate it in the `sentry-trace` header.
pub fn client_span_id(child: &Visit) -> u64 {
    mix64(child.key ^ 0xc11e_4750_a4e1_d001) | 1
}

/// What a service does itself during a visit, after its calls to other services: database
/// queries, cache reads, DynamoDB calls, queue publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalKind {
    CacheGet,
    Select,
    Update,
    DynamoGet,
    DynamoPut,
    Publish,
}

/// One local operation of a visit, within `[start, start + duration]`.
#[derive(Debug, Clone, Copy)]
pub struct LocalOp {
    pub kind: LocalKind,
    pub start: Micros,
    pub duration: Micros,
}

/// The local operations of visit `vi`, in time order, all inside the visit's own time (after
/// its last call returned). Errors turn them into breadcrumbs, transactions into spans.
pub fn local_ops(svc: &ServiceInfo, visits: &[Visit], vi: usize, out: &mut Vec<LocalOp>) {
    out.clear();
    let v = &visits[vi];
    let seg_start = children(visits, vi)
        .map(|(_, c)| c.end() + 100)
        .max()
        .unwrap_or(v.start + 200)
        .min(v.end());
    let seg = v.end() - seg_start;
    if seg < 200 {
        return;
    }
    let mut rng = Rng::new(v.key ^ 0x10ca_1095);
    let route = &svc.routes[v.route as usize % svc.routes.len()];
    let write = match route.strip_prefix('/') {
        Some(grpc) => !grpc.rsplit('/').next().unwrap_or("").starts_with("Get"),
        None => !route.starts_with("GET "),
    };
    let mut t = seg_start + seg / 20;
    let end = v.end() - seg / 20;
    let push = |kind, start: Micros, duration: Micros, out: &mut Vec<LocalOp>| {
        let duration = duration.clamp(1, (end - start).max(1));
        out.push(LocalOp {
            kind,
            start,
            duration,
        });
        start + duration
    };
    if !svc.rds.is_empty() {
        if rng.chance(0.3) {
            let d = (300 + rng.below(1_200) as Micros).min((end - t) / 8);
            t = push(LocalKind::CacheGet, t, d, out) + 40;
        }
        let n = 1 + rng.below(2) as i64 + write as i64;
        let budget = ((end - t) as f64 * rng.range_f64(0.5, 0.85)) as Micros;
        let gap = ((end - t) - budget).max(0) / (n + 1);
        for i in 0..n {
            let d = (budget as f64 / n as f64 * rng.range_f64(0.6, 1.3)) as Micros;
            let kind = if write && i == n - 1 {
                LocalKind::Update
            } else {
                LocalKind::Select
            };
            if t >= end {
                break;
            }
            t = push(kind, t, d, out) + gap;
        }
    } else if !svc.dynamodb.is_empty() {
        let d = (2_000 + rng.below(6_000) as Micros).min((end - t) * 6 / 10);
        let kind = if write {
            LocalKind::DynamoPut
        } else {
            LocalKind::DynamoGet
        };
        t = push(kind, t, d, out) + 100;
    }
    if !svc.sqs.is_empty() && svc.kind != ServiceKind::Worker && write && t < end {
        let d = (3_000 + rng.below(12_000) as Micros)
            .min((end - t) / 2)
            .max(1);
        push(LocalKind::Publish, end - d, d, out);
    }
}

/// The engine of a service's first RDS instance.
pub fn rds_engine(world: &World, svc: &ServiceInfo) -> DbEngine {
    svc.rds
        .first()
        .and_then(|id| world.config.services.aws.rds.iter().find(|r| &r.id == id))
        .map(|r| r.engine)
        .unwrap_or(DbEngine::Postgres)
}

/// Writes the SQL a service's driver sends for a local select or update of `table`, with
/// the placeholders of that language's driver.
pub fn write_sql(
    out: &mut impl Write,
    lang: Language,
    engine: DbEngine,
    table: &str,
    update: bool,
) {
    let t = table;
    match (lang, update) {
        (Language::Python, false) => text::text(
            out,
            (
                ("SELECT ", t, ".id, ", t, ".status, ", t),
                (".updated_at FROM ", t, " WHERE ", t, ".id = %(id_1)s"),
            ),
        ),
        (Language::Python, true) => text::text(
            out,
            (
                "UPDATE ",
                t,
                " SET status=%(status)s, updated_at=now() WHERE ",
                t,
                ".id = %(id_1)s",
            ),
        ),
        (Language::Java, false) => text::text(
            out,
            (
                "select t1_0.id,t1_0.status,t1_0.updated_at,t1_0.version from ",
                t,
                " t1_0 where t1_0.id=?",
            ),
        ),
        (Language::Java, true) => text::text(
            out,
            (
                "update ",
                t,
                " set status=?,updated_at=?,version=? where id=? and version=?",
            ),
        ),
        (Language::Node, false) => {
            text::text(out, ("select * from \"", t, "\" where \"id\" = ? limit ?"))
        }
        (Language::Node, true) => text::text(
            out,
            (
                "update \"",
                t,
                "\" set \"status\" = ?, \"updated_at\" = ? where \"id\" = ?",
            ),
        ),
        (Language::Go, upd) => {
            let (a, b) = match engine {
                DbEngine::Postgres => ("$1", "$2"),
                DbEngine::Mysql => ("?", "?"),
            };
            if upd {
                text::text(
                    out,
                    (
                        "UPDATE ",
                        t,
                        " SET status = ",
                        a,
                        ", updated_at = now() WHERE id = ",
                        b,
                    ),
                )
            } else {
                text::text(
                    out,
                    ("SELECT id, status, updated_at FROM ", t, " WHERE id = ", a),
                )
            }
        }
    }
}

/// The cache key a service reads (the same shape `pod_logs` logs for cache hits).
pub fn write_cache_key(out: &mut impl Write, svc: &ServiceInfo, key: u64) {
    text::text(
        out,
        (
            svc.name.split('-').next().unwrap_or("k"),
            ':',
            1000 + key % 90_000,
        ),
    );
}

/// Route names of every service's routes, indexed `[service][route]`.
pub fn all_route_names(world: &World) -> Vec<Vec<frames::RouteNames>> {
    world
        .topology
        .services
        .iter()
        .map(|s| s.routes.iter().map(|r| frames::route_names(s, r)).collect())
        .collect()
}

/// `https://sqs.<region>.amazonaws.com/<account>/<queue>`.
pub fn write_queue_url(out: &mut impl Write, world: &World, queue: &str) {
    let c = &world.config.services.cluster;
    text::text(
        out,
        (
            "https://sqs.",
            &c.region,
            ".amazonaws.com/",
            &c.account_id,
            '/',
            queue,
        ),
    );
}

/// Hex of 64 bits (span ids).
#[inline]
pub fn write_span_id(out: &mut impl Write, id: u64) {
    text::hex16(out, id);
}

// ---------------------------------------------------------------------------------------
// Builders for list-of-struct columns, written straight into child builders.

/// Field of a list's items.
pub fn item_field(fields: Vec<Field>) -> FieldRef {
    Arc::new(Field::new(
        "item",
        DataType::Struct(Fields::from(fields)),
        false,
    ))
}

/// `List(Struct(...))` of non-null items.
pub fn list_of(fields: Vec<Field>) -> DataType {
    DataType::List(item_field(fields))
}

/// Offsets of a list column.
pub struct Offsets(Vec<i32>);

impl Offsets {
    pub fn with_capacity(n: usize) -> Self {
        let mut v = Vec::with_capacity(n + 1);
        v.push(0);
        Offsets(v)
    }
    /// Closes the current row at `len` items in total.
    pub fn push(&mut self, len: usize) {
        self.0.push(len as i32);
    }
    pub fn finish(self, fields: Vec<Field>, arrays: Vec<ArrayRef>) -> ArrayRef {
        let item = item_field(fields);
        let DataType::Struct(struct_fields) = item.data_type().clone() else {
            unreachable!("item_field builds a struct")
        };
        let values = StructArray::new(struct_fields, arrays, None);
        Arc::new(ListArray::new(
            item,
            OffsetBuffer::new(self.0.into()),
            Arc::new(values),
            None,
        ))
    }
}

/// `List(Struct(key, value))`: Sentry tags.
pub struct TagsBuilder {
    pub key: StringBuilder,
    pub value: StringBuilder,
    offsets: Offsets,
    len: usize,
}

impl TagsBuilder {
    pub fn fields() -> Vec<Field> {
        vec![
            Field::new("key", DataType::Utf8, false),
            Field::new("value", DataType::Utf8, false),
        ]
    }
    pub fn with_capacity(rows: usize) -> Self {
        TagsBuilder {
            key: StringBuilder::with_capacity(rows * 12, rows * 120),
            value: StringBuilder::with_capacity(rows * 12, rows * 300),
            offsets: Offsets::with_capacity(rows),
            len: 0,
        }
    }
    pub fn tag(&mut self, key: &str, value: &str) {
        self.key.append_value(key);
        self.value.append_value(value);
        self.len += 1;
    }
    /// A tag whose value is written by `f`.
    pub fn tag_with(&mut self, key: &str, f: impl FnOnce(&mut StringBuilder)) {
        self.key.append_value(key);
        f(&mut self.value);
        self.value.append_value("");
        self.len += 1;
    }
    pub fn end_row(&mut self) {
        self.offsets.push(self.len);
    }
    pub fn finish(mut self) -> ArrayRef {
        let arrays: Vec<ArrayRef> =
            vec![Arc::new(self.key.finish()), Arc::new(self.value.finish())];
        self.offsets.finish(Self::fields(), arrays)
    }
}

/// `List(Struct(name, value, unit))`: transaction measurements.
pub struct MeasurementsBuilder {
    name: StringBuilder,
    value: Float64Builder,
    unit: StringBuilder,
    offsets: Offsets,
    len: usize,
}

impl MeasurementsBuilder {
    pub fn fields() -> Vec<Field> {
        vec![
            Field::new("name", DataType::Utf8, false),
            Field::new("value", DataType::Float64, false),
            Field::new("unit", DataType::Utf8, false),
        ]
    }
    pub fn with_capacity(rows: usize) -> Self {
        MeasurementsBuilder {
            name: StringBuilder::with_capacity(rows * 3, rows * 30),
            value: Float64Builder::with_capacity(rows * 3),
            unit: StringBuilder::with_capacity(rows * 3, rows * 15),
            offsets: Offsets::with_capacity(rows),
            len: 0,
        }
    }
    pub fn push(&mut self, name: &str, value: f64, unit: &str) {
        self.name.append_value(name);
        self.value.append_value(value);
        self.unit.append_value(unit);
        self.len += 1;
    }
    pub fn end_row(&mut self) {
        self.offsets.push(self.len);
    }
    pub fn finish(mut self) -> ArrayRef {
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(self.name.finish()),
            Arc::new(self.value.finish()),
            Arc::new(self.unit.finish()),
        ];
        self.offsets.finish(Self::fields(), arrays)
    }
}

/// `List(Struct(span_id, parent_span_id, op, description, start_timestamp, duration_ms,
/// status))`: the child spans of a transaction.
pub struct SpansBuilder {
    pub span_id: StringBuilder,
    pub parent_span_id: StringBuilder,
    pub op: StringBuilder,
    pub description: StringBuilder,
    pub start: TimestampMicrosecondBuilder,
    pub duration_ms: Float64Builder,
    pub status: StringBuilder,
    offsets: Offsets,
    len: usize,
}

impl SpansBuilder {
    pub fn fields() -> Vec<Field> {
        vec![
            Field::new("span_id", DataType::Utf8, false),
            Field::new("parent_span_id", DataType::Utf8, false),
            Field::new("op", DataType::Utf8, false),
            Field::new("description", DataType::Utf8, false),
            Field::new("start_timestamp", crate::sources::timestamp_type(), false),
            Field::new("duration_ms", DataType::Float64, false),
            Field::new("status", DataType::Utf8, false),
        ]
    }
    pub fn with_capacity(rows: usize) -> Self {
        let n = rows * 5;
        SpansBuilder {
            span_id: StringBuilder::with_capacity(n, n * 16),
            parent_span_id: StringBuilder::with_capacity(n, n * 16),
            op: StringBuilder::with_capacity(n, n * 12),
            description: StringBuilder::with_capacity(n, n * 70),
            start: TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC"),
            duration_ms: Float64Builder::with_capacity(n),
            status: StringBuilder::with_capacity(n, n * 4),
            offsets: Offsets::with_capacity(rows),
            len: 0,
        }
    }
    /// Appends one span; its description is written by `desc`.
    #[allow(clippy::too_many_arguments)]
    pub fn push(
        &mut self,
        span_id: u64,
        parent: u64,
        op: &str,
        start: Micros,
        duration: Micros,
        status: &str,
        desc: impl FnOnce(&mut StringBuilder),
    ) {
        write_span_id(&mut self.span_id, span_id);
        self.span_id.append_value("");
        write_span_id(&mut self.parent_span_id, parent);
        self.parent_span_id.append_value("");
        self.op.append_value(op);
        desc(&mut self.description);
        self.description.append_value("");
        self.start.append_value(start);
        self.duration_ms.append_value(duration as f64 / 1000.0);
        self.status.append_value(status);
        self.len += 1;
    }
    pub fn end_row(&mut self) {
        self.offsets.push(self.len);
    }
    pub fn finish(mut self) -> ArrayRef {
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(self.span_id.finish()),
            Arc::new(self.parent_span_id.finish()),
            Arc::new(self.op.finish()),
            Arc::new(self.description.finish()),
            Arc::new(self.start.finish()),
            Arc::new(self.duration_ms.finish()),
            Arc::new(self.status.finish()),
        ];
        self.offsets.finish(Self::fields(), arrays)
    }
}

/// `List(Struct(filename, abs_path, function, module, lineno, colno, in_app,
/// context_line))`: an exception's stack frames, oldest first.
pub struct FramesBuilder {
    filename: StringBuilder,
    abs_path: StringBuilder,
    function: StringBuilder,
    module: StringBuilder,
    lineno: Int32Builder,
    colno: Int32Builder,
    in_app: BooleanBuilder,
    context_line: StringBuilder,
    offsets: Offsets,
    len: usize,
}

impl FramesBuilder {
    pub fn fields() -> Vec<Field> {
        vec![
            Field::new("filename", DataType::Utf8, false),
            Field::new("abs_path", DataType::Utf8, true),
            Field::new("function", DataType::Utf8, false),
            Field::new("module", DataType::Utf8, false),
            Field::new("lineno", DataType::Int32, false),
            Field::new("colno", DataType::Int32, true),
            Field::new("in_app", DataType::Boolean, false),
            Field::new("context_line", DataType::Utf8, true),
        ]
    }
    pub fn with_capacity(rows: usize) -> Self {
        let n = rows * 25;
        FramesBuilder {
            filename: StringBuilder::with_capacity(n, n * 30),
            abs_path: StringBuilder::with_capacity(n, n * 50),
            function: StringBuilder::with_capacity(n, n * 20),
            module: StringBuilder::with_capacity(n, n * 40),
            lineno: Int32Builder::with_capacity(n),
            colno: Int32Builder::with_capacity(n),
            in_app: BooleanBuilder::with_capacity(n),
            context_line: StringBuilder::with_capacity(n, n * 50),
            offsets: Offsets::with_capacity(rows),
            len: 0,
        }
    }
    pub fn push_all(&mut self, frames: &[frames::Frame]) {
        for f in frames {
            self.filename.append_value(&f.filename);
            self.abs_path.append_option(f.abs_path.as_deref());
            self.function.append_value(&f.function);
            self.module.append_value(&f.module);
            self.lineno.append_value(f.lineno);
            self.colno.append_option(f.colno);
            self.in_app.append_value(f.in_app);
            self.context_line.append_option(f.context_line.as_deref());
        }
        self.len += frames.len();
        self.offsets.push(self.len);
    }
    pub fn finish(mut self) -> ArrayRef {
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(self.filename.finish()),
            Arc::new(self.abs_path.finish()),
            Arc::new(self.function.finish()),
            Arc::new(self.module.finish()),
            Arc::new(self.lineno.finish()),
            Arc::new(self.colno.finish()),
            Arc::new(self.in_app.finish()),
            Arc::new(self.context_line.finish()),
        ];
        self.offsets.finish(Self::fields(), arrays)
    }
}

/// `List(Struct(timestamp, type, category, level, message, data_json))`: breadcrumbs,
/// oldest first.
pub struct BreadcrumbsBuilder {
    pub timestamp: TimestampMicrosecondBuilder,
    pub kind: StringBuilder,
    pub category: StringBuilder,
    pub level: StringBuilder,
    pub message: StringBuilder,
    pub data_json: StringBuilder,
    offsets: Offsets,
    len: usize,
}

impl BreadcrumbsBuilder {
    pub fn fields() -> Vec<Field> {
        vec![
            Field::new("timestamp", crate::sources::timestamp_type(), false),
            Field::new("type", DataType::Utf8, false),
            Field::new("category", DataType::Utf8, false),
            Field::new("level", DataType::Utf8, false),
            Field::new("message", DataType::Utf8, true),
            Field::new("data_json", DataType::Utf8, true),
        ]
    }
    pub fn with_capacity(rows: usize) -> Self {
        let n = rows * 4;
        BreadcrumbsBuilder {
            timestamp: TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC"),
            kind: StringBuilder::with_capacity(n, n * 6),
            category: StringBuilder::with_capacity(n, n * 12),
            level: StringBuilder::with_capacity(n, n * 5),
            message: StringBuilder::with_capacity(n, n * 60),
            data_json: StringBuilder::with_capacity(n, n * 100),
            offsets: Offsets::with_capacity(rows),
            len: 0,
        }
    }
    /// Starts a breadcrumb; the caller then appends `message` and `data_json` (value or
    /// null) and calls [`BreadcrumbsBuilder::done`].
    pub fn begin(&mut self, ts: Micros, kind: &str, category: &str, level: &str) {
        self.timestamp.append_value(ts);
        self.kind.append_value(kind);
        self.category.append_value(category);
        self.level.append_value(level);
    }
    pub fn done(&mut self) {
        self.len += 1;
    }
    pub fn end_row(&mut self) {
        self.offsets.push(self.len);
    }
    pub fn finish(mut self) -> ArrayRef {
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(self.timestamp.finish()),
            Arc::new(self.kind.finish()),
            Arc::new(self.category.finish()),
            Arc::new(self.level.finish()),
            Arc::new(self.message.finish()),
            Arc::new(self.data_json.finish()),
        ];
        self.offsets.finish(Self::fields(), arrays)
    }
}
