//! Container log templates: each is a ground-truth log key (`template_id`) with a level and
//! a renderer that writes the line in the service's own logger layout.

use super::logfmt::{Body, Envelope, Layout, Level, write_line};
use super::vocabulary::{self, VocabCtx};
use crate::config::{Language, ServiceKind};
use crate::incidents::FailureKind;
use crate::rng::Rng;
use crate::sources::text::{self, Fixed, Hex, IsoZ, P, Pad, param};
use crate::world::{LogStyle, ServiceInfo, Visit};
use std::fmt::Write;

/// Every template obsgen writes to `pod_logs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tmpl {
    // Request-bound lines.
    Access,
    DbQuery,
    SlowQuery,
    CacheHit,
    CacheMiss,
    UpstreamCall,
    UpstreamRetry,
    UpstreamError,
    Domain,
    UnhandledError,
    ClientRejected,
    // Background lines.
    ProbeAccess,
    GcPause,
    PoolStats,
    SchedulerJob,
    FeatureFlags,
    EventLoopLag,
    RuntimeStats,
    QueuePoll,
    DeprecationWarning,
    ConnectionReset,
    // Lifecycle.
    Starting,
    Listening,
    Started,
    ShutdownSignal,
    ShutdownDone,
    CrashOom,
    CrashError,
    // Incidents.
    /// A request failed because of an incident, in the failure's own words.
    Failure(FailureKind),
    /// A line an incident makes a pod write besides its requests.
    Symptom(SymptomLine),
    /// A background or start-up line of the vocabulary (index into
    /// [`vocabulary::vocabulary`]).
    Vocab(u16),
}

/// Lines incidents add to the logs of the pods they hit (named after the effects in
/// `incident_patterns.yaml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SymptomLine {
    /// `gc_pressure_logs`: heap pressure warnings.
    GcPressure,
    /// `pool_timeout_logs`: pool exhausted.
    PoolExhausted,
    /// `consumer_lag_logs`: queue consumer falling behind.
    ConsumerLag,
    /// `disk_full_logs`: writes failing.
    DiskFull,
    /// `tls_handshake_logs`: handshakes rejected.
    TlsHandshake,
    /// `latency_logs`: slow request warnings.
    SlowRequest,
}

impl SymptomLine {
    pub const ALL: [SymptomLine; 6] = [
        SymptomLine::GcPressure,
        SymptomLine::PoolExhausted,
        SymptomLine::ConsumerLag,
        SymptomLine::DiskFull,
        SymptomLine::TlsHandshake,
        SymptomLine::SlowRequest,
    ];

    /// The line for a Kubernetes effect name, if that effect writes log lines.
    pub fn for_effect(name: &str) -> Option<SymptomLine> {
        Some(match name {
            "gc_pressure_logs" => SymptomLine::GcPressure,
            "pool_timeout_logs" => SymptomLine::PoolExhausted,
            "consumer_lag_logs" => SymptomLine::ConsumerLag,
            "disk_full_logs" => SymptomLine::DiskFull,
            "tls_handshake_logs" => SymptomLine::TlsHandshake,
            "latency_logs" => SymptomLine::SlowRequest,
            _ => return None,
        })
    }
}

impl Tmpl {
    /// The ground-truth log key. Stable across releases: models are graded on it.
    pub fn id(self, s: &ServiceInfo) -> &'static str {
        use Tmpl::*;
        match self {
            Access => match s.framework.as_str() {
                "express" => "express.access",
                "fastify" => "fastify.access",
                "gin" => "gin.access",
                "chi" => "chi.access",
                "grpc-go" => "grpc.unary_call",
                "spring-boot" => "spring.access",
                "micronaut" => "micronaut.access",
                "django" => "django.access",
                "fastapi" => "fastapi.access",
                "flask" => "flask.access",
                "sqs-consumer" => "worker.message_processed",
                "bullmq" => "worker.job_completed",
                _ => "http.access",
            },
            DbQuery => "db.query",
            SlowQuery => "db.slow_query",
            CacheHit => "cache.hit",
            CacheMiss => "cache.miss",
            UpstreamCall => "upstream.call",
            UpstreamRetry => "upstream.retry",
            UpstreamError => "upstream.error",
            Domain => domain_event(s).0,
            UnhandledError => match s.language {
                Language::Java => "java.unhandled_exception",
                Language::Python => "python.unhandled_exception",
                Language::Node => "node.unhandled_error",
                Language::Go => "go.handler_error",
            },
            ClientRejected => "request.rejected",
            ProbeAccess => "probe.access",
            GcPause => "jvm.gc_pause",
            PoolStats => "db.pool_stats",
            SchedulerJob => "scheduler.job_run",
            FeatureFlags => "flags.refreshed",
            EventLoopLag => "node.event_loop_lag",
            RuntimeStats => "go.runtime_stats",
            QueuePoll => "queue.poll",
            DeprecationWarning => "config.deprecation",
            ConnectionReset => "net.connection_reset",
            Starting => "lifecycle.starting",
            Listening => "lifecycle.listening",
            Started => "lifecycle.started",
            ShutdownSignal => "lifecycle.shutdown_signal",
            ShutdownDone => "lifecycle.shutdown_complete",
            CrashOom => "crash.out_of_memory",
            CrashError => "crash.fatal_error",
            Failure(f) => match f {
                FailureKind::OutOfMemory => "error.out_of_memory",
                FailureKind::Regression => "error.null_dereference",
                FailureKind::PoolTimeout => "db.pool_timeout",
                FailureKind::ConnectionRefused => "net.connection_refused",
                FailureKind::Timeout => "upstream.timeout",
                FailureKind::Tls => "tls.handshake_error",
                FailureKind::Io => "io.no_space_left",
                FailureKind::JobTimeout => "worker.job_timeout",
            },
            Symptom(l) => match l {
                SymptomLine::GcPressure => "runtime.heap_pressure",
                SymptomLine::PoolExhausted => "db.pool_exhausted",
                SymptomLine::ConsumerLag => "queue.consumer_lag",
                SymptomLine::DiskFull => "io.disk_full",
                SymptomLine::TlsHandshake => "tls.certificate_expired",
                SymptomLine::SlowRequest => "http.slow_request",
            },
            Vocab(i) => vocabulary::vocabulary()[i as usize].event.as_str(),
        }
    }

    /// The layout a service writes this template in: gunicorn's access format for the
    /// access lines of Python services with text logs, the service's logger otherwise.
    pub fn layout(self, s: &ServiceInfo) -> Layout {
        if self == Tmpl::Access && s.language == Language::Python && s.log_style == LogStyle::Text {
            Layout::Gunicorn
        } else {
            Layout::of(s.language, s.log_style)
        }
    }

    pub fn level(self, v: Option<&Visit>) -> Level {
        use Tmpl::*;
        match self {
            Access => match v.map(|v| v.status).unwrap_or(200) {
                500.. => Level::Error,
                400..=499 => Level::Warn,
                _ => Level::Info,
            },
            DbQuery | CacheHit | CacheMiss | PoolStats | RuntimeStats => Level::Debug,
            SlowQuery | UpstreamRetry | ClientRejected | EventLoopLag | DeprecationWarning
            | ConnectionReset => Level::Warn,
            UpstreamError | UnhandledError | Failure(_) => Level::Error,
            CrashOom | CrashError => Level::Fatal,
            Vocab(i) => vocabulary::vocabulary()[i as usize].level,
            Symptom(SymptomLine::DiskFull) => Level::Error,
            Symptom(_) => Level::Warn,
            _ => Level::Info,
        }
    }
}

/// The business event a service logs per request: (template id, message).
pub fn domain_event(s: &ServiceInfo) -> (&'static str, &'static str) {
    let n = s.name.as_str();
    if n.contains("checkout") {
        ("checkout.order_created", "order created")
    } else if n.contains("payment") {
        ("payment.authorized", "payment authorized")
    } else if n.contains("cart") {
        ("cart.updated", "cart updated")
    } else if n.contains("search") {
        ("search.executed", "search executed")
    } else if n.contains("recommend") {
        ("recommendation.served", "recommendations served")
    } else if n.contains("auth") {
        ("auth.token_validated", "token validated")
    } else if n.contains("inventory") {
        ("inventory.stock_checked", "stock checked")
    } else if n.contains("pricing") {
        ("pricing.quote_computed", "price quote computed")
    } else if n.contains("user") {
        ("user.profile_loaded", "user profile loaded")
    } else if n.contains("catalog") {
        ("catalog.product_loaded", "product loaded")
    } else if n.contains("notification") {
        ("notification.sent", "notification sent")
    } else if s.kind == ServiceKind::Worker {
        ("worker.event_handled", "event handled")
    } else {
        ("app.request_handled", "request handled")
    }
}

const SLUGS: [&str; 8] = [
    "trail-running-shoe",
    "merino-hoodie",
    "espresso-grinder",
    "noise-cancelling-headphones",
    "cast-iron-skillet",
    "yoga-mat-pro",
    "linen-duvet-cover",
    "usb-c-dock",
];
const TABLES: [&str; 6] = [
    "orders",
    "order_items",
    "users",
    "products",
    "inventory",
    "payments",
];
/// Browser and app user agents of end users.
pub const USER_AGENTS: [&str; 5] = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "okhttp/4.12.0",
    "ShopApp/5.14.2 (Android 14; Pixel 8)",
];

/// The user agent of a service's outgoing HTTP client.
pub fn client_user_agent(lang: Language) -> &'static str {
    match lang {
        Language::Java => "ReactorNetty/1.1.21",
        Language::Python => "python-httpx/0.27.0",
        Language::Node => "undici",
        Language::Go => "Go-http-client/1.1",
    }
}

/// Writes a route's path with its placeholders filled from `key`.
pub fn write_path(out: &mut impl Write, route: &str, key: u64) {
    // Byte searches: routes are short, and the delimiters are ASCII.
    let find = |s: &str, c: u8| s.bytes().position(|b| b == c);
    let path = find(route, b' ').map_or(route, |i| &route[i + 1..]);
    let mut rest = path;
    let mut k = key;
    while let Some(open) = find(rest, b'{') {
        let _ = out.write_str(&rest[..open]);
        let close = find(&rest[open..], b'}')
            .map(|c| open + c)
            .unwrap_or(rest.len() - 1);
        let name = &rest[open + 1..close];
        k = crate::rng::mix64(k);
        let _ = match name {
            "slug" => out.write_str(SLUGS[(k % SLUGS.len() as u64) as usize]),
            "sku" => {
                text::text(out, ("SKU-", Pad(k % 100_000, 5)));
                Ok(())
            }
            "chunk" => {
                text::text(out, ("main.", Hex((k >> 32) as u32 as u64, 8)));
                Ok(())
            }
            _ => {
                text::uint(out, 1000 + k % 900_000);
                Ok(())
            }
        };
        rest = &rest[(close + 1).min(rest.len())..];
    }
    let _ = out.write_str(rest);
}

/// The HTTP method of a route (`GET /x` → `GET`; task names and gRPC methods → `POST`).
pub fn route_method(route: &str) -> &str {
    match route.split_once(' ') {
        Some((m, _)) => m,
        None => "POST",
    }
}

/// The ground-truth template id of a line: `<layout>/<event>`; access lines written at
/// warn or error level (the level is part of the line) end in `.client_error` or
/// `.server_error`.
pub fn write_template_id(out: &mut impl Write, layout: Layout, event: &str, t: Tmpl, level: Level) {
    let _ = out.write_str(layout.name());
    let _ = out.write_char('/');
    let _ = out.write_str(event);
    if t == Tmpl::Access {
        let _ = out.write_str(match level {
            Level::Warn => ".client_error",
            Level::Error | Level::Fatal => ".server_error",
            _ => "",
        });
    }
}

/// The event of a pod_logs template id: `<layout>/<event>` without the layout and without
/// an access line's level suffix (`zap/gin.access.server_error` → `gin.access`).
pub fn event_of(template_id: &str) -> &str {
    let e = template_id.split_once('/').map_or(template_id, |(_, e)| e);
    e.strip_suffix(".client_error")
        .or_else(|| e.strip_suffix(".server_error"))
        .unwrap_or(e)
}

/// The logger name a service uses for a template.
pub fn logger_for(s: &ServiceInfo, t: Tmpl) -> &'static str {
    use Tmpl::*;
    if let Vocab(i) = t {
        let e = &vocabulary::vocabulary()[i as usize];
        if s.language == Language::Go {
            return e.go_caller.as_str();
        }
        if let Some(l) = &e.logger {
            return l.as_str();
        }
    }
    match (s.language, t) {
        (Language::Java, Access) => "o.s.web.filter.RequestLoggingFilter",
        (Language::Java, DbQuery | SlowQuery) => "org.hibernate.SQL",
        (Language::Java, PoolStats) => "com.zaxxer.hikari.pool.HikariPool",
        (Language::Java, GcPause) => "gc",
        (Language::Java, UnhandledError) => "o.a.c.c.C.[.[.[/].[dispatcherServlet]",
        (Language::Java, Starting | Started) => "c.shop.Application",
        (Language::Java, Listening) => "o.s.b.w.embedded.tomcat.TomcatWebServer",
        (Language::Java, _) => "c.shop.service.RequestHandler",
        (Language::Python, Access) => "gunicorn.access",
        (Language::Python, DbQuery | SlowQuery) => "sqlalchemy.engine",
        (Language::Python, UnhandledError) => "app.errors",
        (Language::Python, Starting | Listening | ShutdownSignal | ShutdownDone) => {
            "gunicorn.error"
        }
        (Language::Python, _) => "app",
        (Language::Go, Access) => "middleware/logging.go:57",
        (Language::Go, DbQuery | SlowQuery) => "store/postgres.go:112",
        (Language::Go, UpstreamCall | UpstreamRetry | UpstreamError) => "client/http.go:88",
        (Language::Go, _) => "cmd/server/main.go:64",
        (Language::Node, _) => "app",
    }
}

/// Context for rendering one line.
pub struct LineCtx<'a> {
    pub env: Envelope<'a>,
    pub svc: &'a ServiceInfo,
    pub visit: Option<&'a Visit>,
    /// Name of the upstream service for upstream templates.
    pub upstream: Option<&'a str>,
    pub version: &'a str,
    pub node_ip: &'a str,
    /// Address and user agent of whoever sent the request (a browser through the load
    /// balancer for root requests, the calling pod's HTTP client otherwise).
    pub client_ip: &'a str,
    pub client_ua: &'a str,
    /// The service's business event, [`domain_event`].
    pub domain: (&'static str, &'static str),
    pub rng: Rng,
}

/// Writes template `t` as one line into `out`.
pub fn render(out: &mut impl Write, t: Tmpl, mut c: LineCtx) {
    use Tmpl::*;
    let s = c.svc;
    let json = s.log_style == LogStyle::Json;
    let rng = &mut c.rng;
    let v = c.visit;
    let route = v
        .map(|v| s.routes[v.route as usize % s.routes.len()].as_str())
        .unwrap_or("GET /");
    let dur_ms = v.map(|v| v.duration as f64 / 1000.0).unwrap_or(0.0);
    let status = v.map(|v| v.status).unwrap_or(200);
    let vkey = v.map(|v| v.key).unwrap_or(0);
    match t {
        Vocab(i) => {
            let ctx = VocabCtx {
                key: rng.next_u64(),
                svc: s,
                peer: c.upstream.unwrap_or(&s.name),
                pod: c.env.pod,
                version: c.version,
            };
            vocabulary::render(out, &vocabulary::vocabulary()[i as usize], &c.env, &ctx);
        }
        Access => {
            if !json && s.language == Language::Python {
                // gunicorn access log layout, with the request's correlation ids up front.
                let ua = c.client_ua;
                let bytes = 200 + rng.below(24_000);
                write_line(out, &c.env, (P(c.client_ip), " - - ["), |b| {
                    let o = b.out();
                    param(o, |o| {
                        let cv = crate::time::civil(c.env.ts);
                        let month = [
                            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                            "Nov", "Dec",
                        ][cv.month as usize - 1];
                        text::text(
                            o,
                            (
                                Pad(cv.day as u64, 2),
                                '/',
                                month,
                                '/',
                                Pad(cv.year as u64, 4),
                                ':',
                            ),
                        );
                        text::text(
                            o,
                            (
                                Pad(cv.hour as u64, 2),
                                ':',
                                Pad(cv.minute as u64, 2),
                                ':',
                                Pad(cv.second as u64, 2),
                            ),
                        );
                    });
                    text::text(o, (" +0000] \"", P(route_method(route)), ' '));
                    param(o, |o| write_path(o, route, vkey));
                    text::text(o, (" HTTP/1.1\" ", P(status), ' ', P(bytes), " \"-\" \""));
                    text::text(o, (P(ua), "\" ", P((dur_ms * 1000.0) as u64)));
                });
            } else if s.kind == ServiceKind::Worker {
                let queue = s.sqs.first().map(|q| q.as_str()).unwrap_or("jobs");
                let msg = if s.framework == "bullmq" {
                    "job completed"
                } else {
                    "message processed"
                };
                write_line(out, &c.env, msg, |b| {
                    b.str_field("queue", P(queue))
                        .str_field("task", P(route))
                        .field("duration_ms", P(Fixed(dur_ms, 1)));
                    b.str_field(
                        "message_id",
                        P((
                            (Hex(vkey >> 32, 8), '-', Hex(vkey & 0xffff, 4), "-4"),
                            (Hex((vkey >> 16) & 0xfff, 3), "-a"),
                            (Hex((vkey >> 28) & 0xfff, 3), '-'),
                            Hex((vkey >> 16) & 0xffff_ffff_ffff, 12),
                        )),
                    );
                    b.str_field("status", P(if status >= 500 { "failed" } else { "ok" }));
                });
            } else if s.framework == "grpc-go" {
                let method = route.rsplit('/').next().unwrap_or(route);
                let code = match status {
                    500.. => "Unavailable",
                    404 => "NotFound",
                    401 => "Unauthenticated",
                    400 => "InvalidArgument",
                    429 => "ResourceExhausted",
                    _ => "OK",
                };
                write_line(out, &c.env, "finished unary call with code", |b| {
                    b.str_field(
                        "grpc.start_time",
                        P(IsoZ(c.env.ts - (dur_ms * 1000.0) as i64)),
                    );
                    b.str_field("system", "grpc")
                        .str_field("span.kind", "server")
                        .str_field("grpc.service", "inventory.v1.Inventory")
                        .str_field("grpc.method", P(method));
                    b.str_field("grpc.code", P(code))
                        .field("grpc.time_ms", P(Fixed(dur_ms, 3)));
                });
            } else {
                let method = route_method(route);
                write_line(
                    out,
                    &c.env,
                    if s.language == Language::Java {
                        "Completed request"
                    } else {
                        "request completed"
                    },
                    |b| {
                        if b.is_json() {
                            let o = b.out();
                            text::text(o, (",\"method\":\"", P(method), "\",\"path\":\""));
                            param(o, |o| write_path(o, route, vkey));
                            let _ = o.write_char('"');
                            b.field("status", P(status))
                                .field("duration_ms", P(Fixed(dur_ms, 2)));
                            b.field("bytes", P(120 + rng.below(30_000))).str_field(
                                "remote_addr",
                                P(("10.0.", rng.below(96), '.', 2 + rng.below(250))),
                            );
                        } else {
                            let o = b.out();
                            text::text(o, (' ', P(method), ' '));
                            param(o, |o| write_path(o, route, vkey));
                            text::text(
                                o,
                                (
                                    " status=",
                                    P(status),
                                    " duration=",
                                    P(Fixed(dur_ms, 0)),
                                    "ms",
                                ),
                            );
                        }
                    },
                );
            }
        }
        DbQuery | SlowQuery => {
            let table = TABLES[(vkey % TABLES.len() as u64) as usize];
            let ms = if t == SlowQuery {
                rng.range_f64(800.0, 4_000.0)
            } else {
                rng.lognormal(1.8, 0.6)
            };
            let msg = if t == SlowQuery {
                "slow query"
            } else {
                "query executed"
            };
            write_line(out, &c.env, msg, |b| {
                b.str_field(
                    "db",
                    P(s.rds.first().map(|x| x.as_str()).unwrap_or("primary")),
                );
                b.str_field("statement", ("SELECT * FROM ", P(table), " WHERE id = $1"));
                b.field("rows", P(rng.below(40)))
                    .field("duration_ms", P(Fixed(ms, 2)));
            });
        }
        CacheHit | CacheMiss => {
            let msg = if t == CacheHit {
                "cache hit"
            } else {
                "cache miss"
            };
            write_line(out, &c.env, msg, |b| {
                b.str_field("cache", "redis").str_field(
                    "key",
                    P((
                        s.name.split('-').next().unwrap_or("k"),
                        ':',
                        1000 + vkey % 90_000,
                    )),
                );
            });
        }
        UpstreamCall | UpstreamRetry | UpstreamError => {
            let up = c.upstream.unwrap_or("upstream");
            let msg = match t {
                UpstreamCall => "calling upstream",
                UpstreamRetry => "retrying upstream request",
                _ => "upstream request failed",
            };
            write_line(out, &c.env, msg, |b| {
                b.str_field("upstream", P(up)).str_field(
                    "url",
                    P((
                        "http://",
                        up,
                        '.',
                        s.namespace.as_str(),
                        ".svc.cluster.local",
                    )),
                );
                match t {
                    UpstreamRetry => {
                        b.field("attempt", 2)
                            .field("max_attempts", 3)
                            .str_field("error", "context deadline exceeded");
                    }
                    UpstreamError => {
                        b.field("status", P(status.max(502)))
                            .field("duration_ms", P(Fixed(dur_ms, 1)));
                    }
                    _ => {}
                }
            });
        }
        Domain => {
            let (_, msg) = c.domain;
            write_line(out, &c.env, msg, |b| {
                b.str_field(
                    "user_id",
                    P(("usr_", v.map(|v| v.root_key % 250_000).unwrap_or(0))),
                );
                b.field("items", P(1 + vkey % 6))
                    .field("amount_cents", P(500 + vkey % 40_000));
            });
        }
        UnhandledError => {
            let (class, text) = unhandled_text(s.language);
            write_line(
                out,
                &c.env,
                ("Unhandled exception: ", class, ": ", text),
                |b| {
                    b.str_field("exception", class).field("status", P(status));
                },
            );
        }
        ClientRejected => {
            let reason = match status {
                401 => "invalid or expired token",
                429 => "rate limit exceeded",
                400 => "validation failed",
                _ => "not found",
            };
            write_line(out, &c.env, "request rejected", |b| {
                b.field("status", P(status)).str_field("reason", P(reason));
            });
        }
        ProbeAccess => {
            write_line(out, &c.env, "GET /healthz", |b| {
                b.field("status", 200)
                    .str_field("user_agent", "kube-probe/1.30")
                    .str_field("remote_addr", P(c.node_ip));
            });
        }
        GcPause => {
            let limit_mb = s.memory_limit_bytes / (1 << 20);
            let before = limit_mb / 2 + rng.below(limit_mb / 3 + 1);
            let after = before / 3 + rng.below(before / 4 + 1);
            write_line(
                out,
                &c.env,
                (
                    (
                        "GC(",
                        P(rng.below(90_000)),
                        ") Pause Young (Normal) (G1 Evacuation Pause) ",
                    ),
                    (P(before), "M->", P(after), "M(", P(limit_mb), "M) "),
                    (P(Fixed(rng.lognormal(6.0, 0.5), 3)), "ms"),
                ),
                |_| {},
            );
        }
        PoolStats => {
            let total = 10;
            let active = rng.below(4);
            write_line(
                out,
                &c.env,
                (
                    (
                        "HikariPool-1 - Pool stats (total=",
                        P(total),
                        ", active=",
                        P(active),
                    ),
                    (", idle=", P(total - active), ", waiting=", P(0), ")"),
                ),
                |_| {},
            );
        }
        SchedulerJob => {
            write_line(out, &c.env, "scheduled job finished", |b| {
                b.str_field(
                    "job",
                    P([
                        "refresh_exchange_rates",
                        "purge_expired_sessions",
                        "sync_catalog_index",
                        "emit_usage_metrics",
                    ][rng.index(4)]),
                );
                b.field("duration_ms", P(Fixed(rng.lognormal(120.0, 0.7), 1)));
            });
        }
        FeatureFlags => {
            write_line(out, &c.env, "feature flags refreshed", |b| {
                b.field("flags", P(40 + rng.below(30)))
                    .str_field("source", "launchdarkly")
                    .field("changed", P(rng.below(2)));
            });
        }
        EventLoopLag => {
            write_line(out, &c.env, "event loop lag detected", |b| {
                b.field("lag_ms", P(60 + rng.below(140)))
                    .field("threshold_ms", 50);
            });
        }
        RuntimeStats => {
            write_line(out, &c.env, "runtime stats", |b| {
                b.field("goroutines", P(40 + rng.below(200)))
                    .field("heap_alloc_mb", P(20 + rng.below(80)))
                    .field("gc_cycles", P(1000 + rng.below(90_000)));
            });
        }
        QueuePoll => {
            let queue = s.sqs.first().map(|q| q.as_str()).unwrap_or("jobs");
            write_line(out, &c.env, "polled queue", |b| {
                b.str_field("queue", P(queue))
                    .field("received", P(rng.below(11)))
                    .field("wait_time_seconds", 20);
            });
        }
        DeprecationWarning => {
            let (key, repl) = [
                ("spring.redis.host", "spring.data.redis.host"),
                ("DATABASE_POOL_SIZE", "DB_POOL_MAX"),
                ("legacyAuth", "auth.mode"),
                ("metrics.statsd.enabled", "otel.metrics.exporter"),
            ][rng.index(4)];
            write_line(out, &c.env, "configuration key is deprecated", |b| {
                b.str_field("key", P(key)).str_field("replacement", P(repl));
            });
        }
        ConnectionReset => {
            write_line(out, &c.env, "connection reset by peer, reconnecting", |b| {
                b.str_field(
                    "peer",
                    P(("10.0.", rng.below(96), '.', 2 + rng.below(250), ":6379")),
                )
                .field("attempt", 1);
            });
        }
        Starting => {
            let (msg, runtime) = match s.language {
                Language::Java => ("Starting application", "Java 21.0.4"),
                Language::Python => ("Starting gunicorn 22.0.0", "Python 3.12.4"),
                Language::Node => ("starting server", "Node.js v20.15.1"),
                Language::Go => ("starting server", "go1.22.5"),
            };
            write_line(out, &c.env, msg, |b| {
                b.str_field("version", P(c.version))
                    .str_field("runtime", runtime)
                    .field("pid", 1);
            });
        }
        Listening => {
            write_line(out, &c.env, "listening", |b| {
                b.str_field("addr", ("0.0.0.0:", P(s.port)));
            });
        }
        Started => {
            write_line(out, &c.env, "application ready", |b| {
                b.field("startup_seconds", P(Fixed(rng.range_f64(1.0, 30.0), 3)));
            });
        }
        ShutdownSignal => {
            write_line(
                out,
                &c.env,
                "received SIGTERM, shutting down gracefully",
                |b| {
                    b.field("in_flight", P(rng.below(5)));
                },
            );
        }
        ShutdownDone => {
            write_line(out, &c.env, "shutdown complete", |_: &mut Body<_>| {});
        }
        CrashOom => {
            let msg = match s.language {
                Language::Java => "java.lang.OutOfMemoryError: Java heap space",
                Language::Node => {
                    "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory"
                }
                Language::Python => "MemoryError: unable to allocate array",
                Language::Go => "fatal error: runtime: out of memory",
            };
            write_line(out, &c.env, msg, |_| {});
        }
        Failure(f) => {
            let (class, text): (&str, &str) = failure_text(f, s.language);
            write_line(out, &c.env, (class, ": ", text), |b| {
                b.str_field("exception", class)
                    .field("status", P(status))
                    .field("duration_ms", P(Fixed(dur_ms, 1)));
            });
        }
        Symptom(l) => {
            let limit_mb = s.memory_limit_bytes / (1 << 20);
            match l {
                SymptomLine::GcPressure => write_line(
                    out,
                    &c.env,
                    "heap usage above threshold, GC cannot keep up",
                    |b| {
                        b.field("heap_used_mb", P(limit_mb * (85 + rng.below(14)) / 100))
                            .field("heap_max_mb", P(limit_mb))
                            .field("gc_time_ratio", P(Fixed(rng.range_f64(0.2, 0.6), 2)));
                    },
                ),
                SymptomLine::PoolExhausted => {
                    write_line(out, &c.env, "connection pool exhausted", |b| {
                        b.str_field(
                            "db",
                            P(s.rds.first().map(|x| x.as_str()).unwrap_or("primary")),
                        )
                        .field("active", P(10))
                        .field("idle", P(0))
                        .field("waiting", P(5 + rng.below(60)));
                    })
                }
                SymptomLine::ConsumerLag => write_line(out, &c.env, "consumer lag growing", |b| {
                    b.str_field(
                        "queue",
                        P(s.sqs.first().map(|q| q.as_str()).unwrap_or("jobs")),
                    )
                    .field("approximate_backlog", P(500 + rng.below(20_000)))
                    .field("oldest_message_age_s", P(60 + rng.below(1200)));
                }),
                SymptomLine::DiskFull => write_line(
                    out,
                    &c.env,
                    "write /var/log/app/app.log: no space left on device",
                    |b| {
                        b.str_field("path", "/var/log/app/app.log")
                            .field("errno", 28);
                    },
                ),
                SymptomLine::TlsHandshake => write_line(
                    out,
                    &c.env,
                    "TLS handshake error: remote error: tls: bad certificate",
                    |b| {
                        b.str_field("remote_addr", P(c.client_ip))
                            .str_field("reason", "certificate has expired");
                    },
                ),
                SymptomLine::SlowRequest => write_line(out, &c.env, "slow request", |b| {
                    b.field("duration_ms", P(Fixed(rng.range_f64(1500.0, 9000.0), 0)))
                        .field("threshold_ms", 1000);
                }),
            }
        }
        CrashError => {
            let msg = match s.language {
                Language::Java => {
                    "Application run failed: org.springframework.beans.factory.BeanCreationException"
                }
                Language::Node => "uncaughtException: Error: connect ECONNREFUSED",
                Language::Python => "Worker failed to boot: ImportError",
                Language::Go => {
                    "panic: runtime error: invalid memory address or nil pointer dereference"
                }
            };
            write_line(out, &c.env, msg, |_| {});
        }
    }
}

/// The exception class and message of an incident failure, per runtime.
pub fn failure_text(f: FailureKind, lang: Language) -> (&'static str, &'static str) {
    use FailureKind::*;
    use Language::*;
    match (f, lang) {
        (OutOfMemory, Java) => ("java.lang.OutOfMemoryError", "Java heap space"),
        (OutOfMemory, Python) => ("MemoryError", "unable to allocate 64.0 MiB for an array"),
        (OutOfMemory, Node) => ("RangeError", "Array buffer allocation failed"),
        (OutOfMemory, Go) => (
            "runtime.Error",
            "out of memory: cannot allocate 67108864-byte block",
        ),
        (Regression, Java) => (
            "java.lang.NullPointerException",
            "Cannot invoke com.shop.model.Cart.getItems() because cart is null",
        ),
        (Regression, Python) => (
            "AttributeError",
            "'NoneType' object has no attribute 'currency'",
        ),
        (Regression, Node) => (
            "TypeError",
            "Cannot read properties of null (reading 'currency')",
        ),
        (Regression, Go) => ("runtime.Error", "index out of range [3] with length 3"),
        (PoolTimeout, Java) => (
            "java.sql.SQLTransientConnectionException",
            "HikariPool-1 - Connection is not available, request timed out after 30000ms.",
        ),
        (PoolTimeout, Python) => (
            "sqlalchemy.exc.TimeoutError",
            "QueuePool limit of size 10 overflow 20 reached, connection timed out, timeout 30.00",
        ),
        (PoolTimeout, Node) => (
            "KnexTimeoutError",
            "Knex: Timeout acquiring a connection. The pool is probably full.",
        ),
        (PoolTimeout, Go) => (
            "*pgconn.ConnectError",
            "failed to acquire connection: context deadline exceeded",
        ),
        (ConnectionRefused, Java) => ("java.net.ConnectException", "Connection refused"),
        (ConnectionRefused, Python) => (
            "requests.exceptions.ConnectionError",
            "[Errno 111] Connection refused",
        ),
        (ConnectionRefused, Node) => ("Error", "connect ECONNREFUSED"),
        (ConnectionRefused, Go) => ("*net.OpError", "dial tcp: connect: connection refused"),
        (Timeout, Java) => ("java.net.SocketTimeoutException", "Read timed out"),
        (Timeout, Python) => ("httpx.ReadTimeout", "timed out"),
        (Timeout, Node) => ("AbortError", "The operation was aborted due to timeout"),
        (Timeout, Go) => (
            "*url.Error",
            "context deadline exceeded (Client.Timeout exceeded while awaiting headers)",
        ),
        (Tls, Java) => (
            "javax.net.ssl.SSLHandshakeException",
            "PKIX path validation failed: validity check failed",
        ),
        (Tls, Python) => (
            "ssl.SSLCertVerificationError",
            "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate has expired",
        ),
        (Tls, Node) => ("Error", "certificate has expired (CERT_HAS_EXPIRED)"),
        (Tls, Go) => (
            "x509.CertificateInvalidError",
            "x509: certificate has expired or is not yet valid",
        ),
        (Io, Java) => ("java.io.IOException", "No space left on device"),
        (Io, Python) => ("OSError", "[Errno 28] No space left on device"),
        (Io, Node) => ("Error", "ENOSPC: no space left on device, write"),
        (Io, Go) => (
            "*fs.PathError",
            "write /var/lib/app/cache: no space left on device",
        ),
        (JobTimeout, _) => (
            "JobTimeoutError",
            "job exceeded its visibility timeout of 30s and will be redelivered",
        ),
    }
}

/// The exception pod_logs writes for a service's own bug (its `Unhandled exception` line).
pub fn unhandled_text(lang: Language) -> (&'static str, &'static str) {
    match lang {
        Language::Java => (
            "java.lang.IllegalStateException",
            "Request processing failed: order state is CANCELLED",
        ),
        Language::Python => ("KeyError", "'shipping_address'"),
        Language::Node => (
            "TypeError",
            "Cannot read properties of undefined (reading 'price')",
        ),
        Language::Go => (
            "*errors.errorString",
            "sql: transaction has already been committed or rolled back",
        ),
    }
}

/// One log template of the ground truth (`labels/templates.parquet`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateDef {
    /// `<layout>/<event>` (pod_logs) or the dotted id (cloudwatch/logs).
    pub id: String,
    pub layout: &'static str,
    pub event: String,
    pub level: &'static str,
    /// The logger or caller named in the line, if the layout writes one.
    pub logger: Option<String>,
    /// The line with `<*>` for each parameter.
    pub text: String,
}

/// Every template service `s` can write to pod_logs, with its text (rendered with every
/// parameter as `<*>`).
pub fn service_templates(s: &ServiceInfo, out: &mut Vec<TemplateDef>) {
    use Tmpl::*;
    let lang = s.language;
    let mut all: Vec<(Tmpl, u16)> = vec![(Access, 200), (Access, 404), (Access, 503)];
    let mut push = |t: Tmpl| all.push((t, 200));
    if !s.rds.is_empty() {
        push(DbQuery);
        push(SlowQuery);
    }
    push(CacheHit);
    push(CacheMiss);
    if !s.deps.is_empty() {
        push(UpstreamCall);
        push(UpstreamRetry);
        push(UpstreamError);
    }
    for t in [
        Domain,
        UnhandledError,
        ProbeAccess,
        SchedulerJob,
        FeatureFlags,
        DeprecationWarning,
        ConnectionReset,
        Starting,
        Listening,
        Started,
        ShutdownSignal,
        ShutdownDone,
        CrashOom,
        CrashError,
    ] {
        push(t);
    }
    match lang {
        Language::Java => {
            push(GcPause);
            push(PoolStats);
        }
        Language::Go => push(RuntimeStats),
        Language::Node => push(EventLoopLag),
        Language::Python => {}
    }
    if s.kind == ServiceKind::Worker {
        push(QueuePoll);
    }
    for f in FailureKind::ALL {
        push(Failure(f));
    }
    for l in SymptomLine::ALL {
        push(Symptom(l));
    }
    for (i, e) in vocabulary::vocabulary().iter().enumerate() {
        if e.applies(s) {
            push(Vocab(i as u16));
        }
    }
    all.push((ClientRejected, 429));
    for (t, status) in all {
        let request = matches!(
            t,
            Access
                | DbQuery
                | SlowQuery
                | CacheHit
                | CacheMiss
                | UpstreamCall
                | UpstreamRetry
                | UpstreamError
                | Domain
                | UnhandledError
                | ClientRejected
                | Failure(_)
        );
        let visit = request.then_some(Visit {
            service: s.index as u16,
            route: 0,
            pod: 0,
            depth: 0,
            parent: u32::MAX,
            start: 0,
            duration: 1_000,
            status,
            trace_hi: 1,
            trace_lo: 2,
            span_id: 3,
            parent_span_id: 0,
            root_key: 4,
            key: 5,
            own_error: false,
            incident: u32::MAX,
            role: crate::labels::AnomalyRole::None,
            failure: None,
            base_failure: None,
            base_duration: 1_000,
            base_status: status,
            base_own_error: false,
            lost_call: false,
        });
        let level = t.level(visit.as_ref());
        let layout = t.layout(s);
        let logger = logger_for(s, t);
        let env = Envelope {
            lang,
            style: s.log_style,
            framework: &s.framework,
            service: &s.name,
            pod: "pod",
            ts: 0,
            level,
            logger,
            trace: visit.map(|v| (v.trace_hi, v.trace_lo, v.span_id)),
            thread: 0,
        };
        let ctx = LineCtx {
            env,
            svc: s,
            visit: visit.as_ref(),
            upstream: Some("upstream"),
            version: "v1",
            node_ip: "10.0.0.1",
            client_ip: "10.0.0.2",
            client_ua: "ua",
            domain: domain_event(s),
            rng: Rng::new(1),
        };
        let mut text = String::new();
        text::as_template(|| render(&mut text, t, ctx));
        let mut id = String::new();
        write_template_id(&mut id, layout, t.id(s), t, level);
        // The event: the id without its layout (an access line's level suffix kept).
        let event = id[layout.name().len() + 1..].to_string();
        out.push(TemplateDef {
            id,
            layout: layout.name(),
            event,
            level: level.as_str(),
            logger: (layout != Layout::Pino).then(|| logger.to_string()),
            text,
        });
    }
}
