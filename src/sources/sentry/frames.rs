//! Stack traces of Sentry error events, as each language's SDK reports them.
//!
//! A stack is a pure function of (service, route, error kind): the framework frames of the
//! service's web stack or worker loop (`in_app: false`), the service's own handler and
//! service-layer frames (`in_app: true`, named after the route), then the frames of the
//! library that raised (HTTP and gRPC clients, connection pools, the runtime). Frames are
//! oldest first, the crashing frame last, as in Sentry's `exception.values[].stacktrace`.
//! Because the stack of a (service, route, kind) never changes, its fingerprint does not
//! either: the same fault at the same place groups into one issue.

use super::Protocol;
use crate::config::{Language, ServiceKind};
use crate::incidents::FailureKind;
use crate::rng::{mix64, str_key, stream};
use crate::sources::kubernetes::templates::{failure_text, unhandled_text};
use crate::world::ServiceInfo;
use std::fmt::Write;

/// One stack frame.
#[derive(Debug, Clone)]
pub struct Frame {
    pub filename: String,
    pub abs_path: Option<String>,
    pub function: String,
    pub module: String,
    pub lineno: i32,
    pub colno: Option<i32>,
    pub in_app: bool,
    pub context_line: Option<String>,
}

/// What a route is about, in the words the service's code uses.
#[derive(Debug, Clone)]
pub struct RouteNames {
    /// Plural resource (`orders`); also the Flask blueprint and the Django app.
    pub resource: String,
    /// Singular resource (`order`).
    pub singular: String,
    /// Handler / view function in snake case (`cancel_order`).
    pub handler: String,
    /// The table the resource is stored in (`checkout` → `checkouts`).
    pub table: String,
}

fn singular(w: &str) -> String {
    if let Some(stem) = w.strip_suffix("ies") {
        format!("{stem}y")
    } else if w.ends_with("sses")
        || w.ends_with("ches")
        || w.ends_with("shes")
        || w.ends_with("xes")
    {
        w[..w.len() - 2].to_string()
    } else if w.ends_with('s') && !w.ends_with("ss") && w.len() > 3 {
        w[..w.len() - 1].to_string()
    } else {
        w.to_string()
    }
}

fn snake(w: &str) -> String {
    let mut out = String::with_capacity(w.len() + 4);
    for (i, c) in w.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').to_string()
}

/// `cancel_order` → `CancelOrder`.
fn pascal(w: &str) -> String {
    let mut out = String::with_capacity(w.len());
    for part in w.split(['_', '-']).filter(|p| !p.is_empty()) {
        let mut cs = part.chars();
        if let Some(c) = cs.next() {
            out.push(c.to_ascii_uppercase());
            out.extend(cs);
        }
    }
    out
}

/// `cancel_order` → `cancelOrder`.
pub fn camel(w: &str) -> String {
    let p = pascal(w);
    let mut cs = p.chars();
    match cs.next() {
        Some(c) => c.to_ascii_lowercase().to_string() + cs.as_str(),
        None => p,
    }
}

/// The table a resource is stored in: its plural (`checkout` → `checkouts`).
fn table_name(r: &str) -> String {
    if r.ends_with('s') {
        r.to_string()
    } else if let Some(stem) = r.strip_suffix('y') {
        format!("{stem}ies")
    } else if r.ends_with("ch") || r.ends_with("sh") || r.ends_with('x') {
        format!("{r}es")
    } else {
        format!("{r}s")
    }
}

/// The resource and handler names of a route (`POST /v1/orders/{id}/cancel` →
/// `orders`, `order`, `cancel_order`).
pub fn route_names(s: &ServiceInfo, route: &str) -> RouteNames {
    if s.kind == ServiceKind::Worker {
        // Task names: `process_order_event` → resource `orders`.
        let words: Vec<&str> = route.split('_').collect();
        let noun = words.get(1).copied().unwrap_or("job");
        let one = singular(noun);
        return RouteNames {
            resource: format!("{one}s"),
            table: format!("{one}s"),
            singular: one,
            handler: snake(route),
        };
    }
    if let Some(rest) = route.strip_prefix('/').filter(|r| !r.contains(' ')) {
        // gRPC: `/inventory.v1.Inventory/GetStock`.
        let (svc, method) = rest.split_once('/').unwrap_or((rest, "Call"));
        let one = snake(svc.rsplit('.').next().unwrap_or(svc));
        return RouteNames {
            resource: one.clone(),
            table: table_name(&one),
            singular: one,
            handler: snake(method),
        };
    }
    let (method, path) = route.split_once(' ').unwrap_or(("POST", route));
    let segs: Vec<&str> = path
        .split('/')
        .filter(|p| {
            !p.is_empty()
                && *p != "api"
                && !(p.len() <= 3
                    && p.starts_with('v')
                    && p[1..].chars().all(|c| c.is_ascii_digit()))
        })
        .collect();
    let is_param = |p: &str| p.contains('{');
    let nouns: Vec<&str> = segs.iter().copied().filter(|p| !is_param(p)).collect();
    let Some(&resource) = nouns.first() else {
        return RouteNames {
            resource: "home".into(),
            singular: "home".into(),
            handler: "index".into(),
            table: "pages".into(),
        };
    };
    let resource = snake(resource);
    let last = *segs.last().unwrap_or(&"");
    let verb = match method {
        "GET" => "get",
        "PATCH" | "PUT" => "update",
        "DELETE" => "delete",
        _ => "create",
    };
    let handler = if resource == "static" {
        "serve_static".to_string()
    } else if is_param(last) {
        format!(
            "{verb}_{}",
            singular(&snake(nouns.last().unwrap_or(&"item")))
        )
    } else {
        let w = snake(last);
        let plural = w.ends_with('s') && !w.ends_with("ss");
        let after_param = segs.len() >= 2 && is_param(segs[segs.len() - 2]);
        match (method, plural, after_param) {
            ("GET", true, true) => {
                let owner = nouns.iter().rev().nth(1).map(|n| singular(&snake(n)));
                format!("list_{}_{w}", owner.unwrap_or_default())
            }
            ("GET", true, false) => format!("list_{w}"),
            ("GET", false, _) if matches!(w.as_str(), "search" | "suggest" | "introspect") => w,
            ("GET", false, _) => format!("get_{w}"),
            (_, true, _) if nouns.len() > 1 => format!("add_{}", singular(&w)),
            (_, true, _) => format!("{verb}_{}", singular(&w)),
            (_, false, true) => {
                let owner = nouns.iter().rev().nth(1).map(|n| singular(&snake(n)));
                format!("{w}_{}", owner.unwrap_or_default())
            }
            (_, false, false) => w,
        }
    };
    RouteNames {
        singular: singular(&resource),
        table: table_name(&resource),
        resource,
        handler,
    }
}

/// The kind of error an event reports; with the service and route it fixes the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The service's own bug (the visit's `own_error`): the exception `pod_logs` logs as
    /// "Unhandled exception".
    Unhandled,
    /// An incident failure, in the words of `failure_text`.
    Failure(FailureKind),
    /// A dependency (service `dep`, route `route`) answered `status`; not caught.
    Upstream { dep: u16, route: u16, status: u16 },
    /// The same, caught by the service layer and reported while it fell back.
    UpstreamHandled { dep: u16, route: u16, status: u16 },
    /// No pod of dependency `dep` could be reached.
    Unreachable { dep: u16 },
    /// One of the handled exceptions a service captures now and then (index < 3).
    Handled(u8),
}

impl ErrorKind {
    pub fn handled(self) -> bool {
        matches!(
            self,
            ErrorKind::Handled(_) | ErrorKind::UpstreamHandled { .. }
        )
    }

    fn name(self, lang: Language) -> &'static str {
        match self {
            ErrorKind::Unhandled => "unhandled",
            ErrorKind::Failure(f) => f.as_str(),
            ErrorKind::Upstream { .. } | ErrorKind::UpstreamHandled { .. } => "upstream_error",
            ErrorKind::Unreachable { .. } => "unreachable",
            ErrorKind::Handled(k) => handled_exception(lang, k).0,
        }
    }
}

/// A stack and the exception it ends in, shared by every event of one
/// (service, route, kind).
#[derive(Debug, Clone)]
pub struct Stack {
    pub frames: Vec<Frame>,
    pub exception_type: &'static str,
    /// The exception message, or `None` when it names the request (upstream errors) and is
    /// written per event.
    pub value: Option<String>,
    pub level: &'static str,
    pub logger: Option<String>,
    pub mechanism: &'static str,
    pub handled: bool,
    /// 32 hex digits: the grouping hash (service, exception type, in-app frames).
    pub fingerprint: String,
    /// `sentry.<platform>.<exception type>.<service>`, plus the kind for generic types.
    pub template_id: String,
}

/// The names a stack's templates refer to as `{name}`.
struct Vars {
    svc: String,
    pkg: String,
    res: String,
    one: String,
    res_cap: String,
    handler: String,
    camel: String,
    pascal: String,
    dep: String,
    dep_cap: String,
    dep_camel: String,
    dop: String,
    dop_camel: String,
}

impl Vars {
    fn get(&self, k: &str) -> Option<&str> {
        Some(match k {
            "svc" => &self.svc,
            "pkg" => &self.pkg,
            "res" => &self.res,
            "one" => &self.one,
            "Res" => &self.res_cap,
            "handler" => &self.handler,
            "camel" => &self.camel,
            "Handler" => &self.pascal,
            "dep" => &self.dep,
            "Dep" => &self.dep_cap,
            "depc" => &self.dep_camel,
            "dop" => &self.dop,
            "dopc" => &self.dop_camel,
            _ => return None,
        })
    }

    /// Replaces the known `{name}`s of `t`; other braces stay as they are (code).
    fn fill(&self, t: &str) -> String {
        let mut out = String::with_capacity(t.len() + 16);
        let mut rest = t;
        while let Some(i) = rest.find('{') {
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            match after
                .find('}')
                .and_then(|j| self.get(&after[..j]).map(|v| (j, v)))
            {
                Some((j, v)) => {
                    out.push_str(v);
                    rest = &after[j + 1..];
                }
                None => {
                    out.push('{');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }
}

/// Appends frames in each language's conventions.
struct B<'a> {
    v: &'a Vars,
    key: u64,
    frames: Vec<Frame>,
}

impl B<'_> {
    /// A stable line number for an app frame.
    fn line(&self, a: &str, b: &str) -> i32 {
        14 + (stream(self.key, &[str_key(a), str_key(b)]) % 260) as i32
    }

    fn py_frame(
        &mut self,
        root: &str,
        path: &str,
        function: &str,
        lineno: Option<i32>,
        ctx: &str,
        in_app: bool,
    ) {
        let path = self.v.fill(path);
        let function = self.v.fill(function);
        let module = path
            .trim_end_matches(".py")
            .trim_end_matches("/__init__")
            .replace('/', ".");
        let lineno = lineno.unwrap_or_else(|| self.line(&path, &function));
        let ctx = self.v.fill(ctx);
        self.frames.push(Frame {
            filename: path.clone(),
            abs_path: Some(format!("{root}{path}")),
            function,
            module,
            lineno,
            colno: None,
            in_app,
            context_line: Some(ctx),
        });
    }
    /// A site-packages frame.
    fn py(&mut self, path: &str, function: &str, lineno: i32, ctx: &str) {
        self.py_frame(
            "/usr/local/lib/python3.12/site-packages/",
            path,
            function,
            Some(lineno),
            ctx,
            false,
        );
    }
    /// A standard library frame.
    fn py_std(&mut self, path: &str, function: &str, lineno: i32, ctx: &str) {
        self.py_frame(
            "/usr/local/lib/python3.12/",
            path,
            function,
            Some(lineno),
            ctx,
            false,
        );
    }
    fn py_app(&mut self, path: &str, function: &str, ctx: &str) {
        self.py_frame("/app/", path, function, None, ctx, true);
    }

    fn java_frame(
        &mut self,
        class: &str,
        method: &str,
        lineno: Option<i32>,
        ctx: Option<&str>,
        in_app: bool,
    ) {
        let class = self.v.fill(class);
        let method = self.v.fill(method);
        let simple = class.rsplit('.').next().unwrap_or(&class);
        let filename = format!("{}.java", simple.split('$').next().unwrap_or(simple));
        let lineno = lineno.unwrap_or_else(|| self.line(&class, &method));
        let ctx = ctx.map(|c| self.v.fill(c));
        self.frames.push(Frame {
            filename,
            abs_path: None,
            function: method,
            module: class,
            lineno,
            colno: None,
            in_app,
            context_line: ctx,
        });
    }
    fn java(&mut self, class: &str, method: &str, lineno: i32) {
        self.java_frame(class, method, Some(lineno), None, false);
    }
    fn java_app(&mut self, class: &str, method: &str, ctx: &str) {
        self.java_frame(class, method, None, Some(ctx), true);
    }

    fn node_frame(
        &mut self,
        path: &str,
        function: &str,
        pos: Option<(i32, i32)>,
        ctx: Option<&str>,
    ) {
        let path = self.v.fill(path);
        let function = self.v.fill(function);
        let (abs, module, in_app) = if let Some(internal) = path.strip_prefix("node:") {
            let m = internal.rsplit('/').next().unwrap_or(internal).to_string();
            (path.clone(), m, false)
        } else if let Some(dep) = path.strip_prefix("node_modules/") {
            let stem = dep.trim_end_matches(".js");
            let module = match stem.rsplit_once('/') {
                Some((dir, file)) => format!("{}:{file}", dir.replace('/', ".")),
                None => stem.to_string(),
            };
            (format!("/app/{path}"), module, false)
        } else {
            let rel = path.trim_start_matches("src/").trim_end_matches(".js");
            let module = match rel.rsplit_once('/') {
                Some((dir, file)) => format!("{}:{file}", dir.replace('/', ".")),
                None => rel.to_string(),
            };
            (format!("/app/{path}"), module, true)
        };
        let (lineno, colno) = pos.unwrap_or_else(|| {
            let l = self.line(&path, &function);
            (l, 5 + l % 27)
        });
        let ctx = ctx.map(|c| self.v.fill(c));
        self.frames.push(Frame {
            filename: abs.clone(),
            abs_path: Some(abs),
            function,
            module,
            lineno,
            colno: Some(colno),
            in_app,
            context_line: ctx,
        });
    }
    fn node(&mut self, path: &str, function: &str, lineno: i32, colno: i32, ctx: Option<&str>) {
        self.node_frame(path, function, Some((lineno, colno)), ctx);
    }
    fn node_app(&mut self, path: &str, function: &str, ctx: &str) {
        self.node_frame(path, function, None, Some(ctx));
    }
    fn ticks(&mut self) {
        self.node(
            "node:internal/process/task_queues",
            "process.processTicksAndRejections",
            95,
            5,
            None,
        );
    }

    /// A Go frame of the standard library (`net/http`) or a module (`github.com/x/y@v1`).
    fn go(&mut self, pkg: &str, function: &str, file: &str, lineno: i32) {
        let (module, abs) = match pkg.split_once('@') {
            Some((m, _)) => (m.to_string(), format!("/go/pkg/mod/{pkg}/{file}")),
            None => (pkg.to_string(), format!("/usr/local/go/src/{pkg}/{file}")),
        };
        self.frames.push(Frame {
            filename: file.to_string(),
            abs_path: Some(abs),
            function: function.to_string(),
            module,
            lineno,
            colno: None,
            in_app: false,
            context_line: None,
        });
    }
    fn go_app(&mut self, pkg: &str, function: &str, file: &str) {
        let pkg = self.v.fill(pkg);
        let pkg = pkg.as_str();
        let function = self.v.fill(function);
        let file = self.v.fill(file);
        let lineno = self.line(pkg, &function);
        let module = format!("github.com/shop/{}/{pkg}", self.v.svc);
        let abs = format!("/src/{pkg}/{file}");
        self.frames.push(Frame {
            filename: file,
            abs_path: Some(abs),
            function,
            module,
            lineno,
            colno: None,
            in_app: true,
            context_line: None,
        });
    }
}

/// Name, exception type, message and level of handled exception `k` of a language.
fn handled_exception(
    lang: Language,
    k: u8,
) -> (&'static str, &'static str, &'static str, &'static str) {
    match (lang, k % 3) {
        (Language::Python, 0) => (
            "cache_timeout",
            "redis.exceptions.TimeoutError",
            "Timeout reading from redis-master.data.svc.cluster.local:6379",
            "warning",
        ),
        (Language::Python, 1) => (
            "validation",
            "pydantic_core._pydantic_core.ValidationError",
            "1 validation error for {Res}Update\nemail\n  value is not a valid email address: An email address must have an @-sign. [type=value_error, input_value='jane.doe.example.com', input_type=str]",
            "warning",
        ),
        (Language::Python, _) => (
            "json_decode",
            "json.decoder.JSONDecodeError",
            "Expecting value: line 1 column 1 (char 0)",
            "error",
        ),
        (Language::Java, 0) => (
            "cache_timeout",
            "io.lettuce.core.RedisCommandTimeoutException",
            "Command timed out after 1 second(s)",
            "warning",
        ),
        (Language::Java, 1) => (
            "optimistic_lock",
            "org.springframework.orm.ObjectOptimisticLockingFailureException",
            "Row was updated or deleted by another transaction (or unsaved-value mapping was incorrect) : [com.shop.{pkg}.domain.{Res}]",
            "error",
        ),
        (Language::Java, _) => (
            "json_mapping",
            "com.fasterxml.jackson.databind.exc.MismatchedInputException",
            "Cannot deserialize value of type `java.math.BigDecimal` from String \"N/A\": not a valid representation",
            "warning",
        ),
        (Language::Node, 0) => (
            "validation",
            "ValidationError",
            "\"quantity\" must be less than or equal to 99",
            "warning",
        ),
        (Language::Node, 1) => (
            "cache_aborted",
            "AbortError",
            "Redis connection lost and command aborted. It might have been processed.",
            "error",
        ),
        (Language::Node, _) => (
            "json_parse",
            "SyntaxError",
            "Unexpected token '<', \"<!DOCTYPE \"... is not valid JSON",
            "error",
        ),
        (Language::Go, 0) => (
            "cache_timeout",
            "*net.OpError",
            "read tcp: i/o timeout",
            "warning",
        ),
        (Language::Go, 1) => (
            "json_decode",
            "*json.SyntaxError",
            "invalid character '<' looking for beginning of value",
            "warning",
        ),
        (Language::Go, _) => (
            "publish_timeout",
            "*fmt.wrapError",
            "publish event: context deadline exceeded",
            "error",
        ),
    }
}

/// The exception type of an upstream failure, by the caller's client and the status.
pub fn upstream_type(s: &ServiceInfo, dep: Protocol, status: u16) -> &'static str {
    match (s.language, dep == Protocol::Grpc) {
        (Language::Python, false) => "requests.exceptions.HTTPError",
        (Language::Python, true) => "grpc._channel._InactiveRpcError",
        (Language::Java, true) => "io.grpc.StatusRuntimeException",
        (Language::Java, false) if s.framework == "micronaut" => {
            "io.micronaut.http.client.exceptions.HttpClientResponseException"
        }
        (Language::Java, false) => match status {
            500 => "feign.FeignException$InternalServerError",
            502 => "feign.FeignException$BadGateway",
            503 => "feign.FeignException$ServiceUnavailable",
            504 => "feign.FeignException$GatewayTimeout",
            _ => "feign.FeignException",
        },
        (Language::Node, false) => "AxiosError",
        (Language::Node, true) => "Error",
        (Language::Go, false) => "*fmt.wrapError",
        (Language::Go, true) => "*status.Error",
    }
}

/// The mechanism of an exception the framework integration caught.
fn unhandled_mechanism(s: &ServiceInfo) -> &'static str {
    match (s.language, s.framework.as_str()) {
        (Language::Python, "django") => "django",
        (Language::Python, "fastapi") => "starlette",
        (Language::Python, "flask") => "flask",
        (Language::Python, _) => "celery",
        (Language::Java, "spring-boot") => "HandlerExceptionResolver",
        (Language::Java, _) => "UncaughtExceptionHandler",
        (Language::Node, "express") => "middleware",
        (Language::Node, "fastify") => "fastify",
        (Language::Node, _) => "onunhandledrejection",
        (Language::Go, _) => "generic",
    }
}

/// The logger an error event names (the logging integration's record), if any.
fn logger(s: &ServiceInfo, v: &Vars, kind: ErrorKind) -> Option<String> {
    let handled = kind.handled();
    match s.language {
        Language::Python if handled => Some(format!("app.services.{}", v.res)),
        Language::Python => Some(
            match s.framework.as_str() {
                "django" => "django.request",
                "fastapi" => "uvicorn.error",
                "flask" => "app",
                _ => "celery.app.trace",
            }
            .to_string(),
        ),
        Language::Java if handled => Some(v.fill("com.shop.{pkg}.service.{Res}Service")),
        Language::Java if s.framework == "spring-boot" => Some(
            "org.apache.catalina.core.ContainerBase.[Tomcat].[localhost].[/].[dispatcherServlet]"
                .to_string(),
        ),
        Language::Java => Some("io.micronaut.http.server.RouteExecutor".to_string()),
        Language::Node | Language::Go => None,
    }
}

/// Builds the stack of `kind` at `route` of service `s`. `services` and `protocols` (per
/// service) describe the dependency an upstream kind names; a network failure on a route
/// that calls no service talks to the service's database or table instead.
pub fn build_stack(
    services: &[ServiceInfo],
    protocols: &[Protocol],
    s: &ServiceInfo,
    route: usize,
    kind: ErrorKind,
) -> Stack {
    let names = route_names(s, &s.routes[route % s.routes.len()]);
    // The dependency the stack's client talks to.
    let (dep_svc, dep_route) = match kind {
        ErrorKind::Upstream { dep, route, .. } | ErrorKind::UpstreamHandled { dep, route, .. } => {
            (Some(dep as usize), route as usize)
        }
        ErrorKind::Unreachable { dep } => (Some(dep as usize), 0),
        _ => (s.deps.first().copied(), 0),
    };
    let (dep, dop) = match dep_svc {
        Some(d) => {
            let ds = &services[d];
            let stem = ds.name.trim_end_matches("-service");
            let dn = route_names(ds, &ds.routes[dep_route % ds.routes.len()]);
            (snake(stem), dn.handler)
        }
        None => match (s.rds.first(), s.dynamodb.first()) {
            (Some(db), _) => (snake(db), "query".to_string()),
            (None, Some(t)) => (snake(t), "get_item".to_string()),
            _ => ("partner_api".to_string(), "call".to_string()),
        },
    };
    let dep_proto = dep_svc.map(|d| protocols[d]).unwrap_or(Protocol::Http);
    let pkg = s.name.trim_end_matches("-service").replace('-', "");
    let vars = Vars {
        svc: s.name.clone(),
        pkg,
        res_cap: pascal(&names.singular),
        one: camel(&names.singular),
        res: names.resource.clone(),
        camel: camel(&names.handler),
        pascal: pascal(&names.handler),
        handler: names.handler.clone(),
        dep_cap: pascal(&dep),
        dep_camel: camel(&dep),
        dep,
        dop_camel: camel(&dop),
        dop,
    };
    let mut b = B {
        v: &vars,
        key: stream(s.key, &[str_key("sentry/frames"), route as u64]),
        frames: Vec::with_capacity(24),
    };
    let fw = s.framework.as_str();
    let grpc_dep = dep_proto == Protocol::Grpc;
    match s.language {
        Language::Python => python(&mut b, fw, kind, grpc_dep),
        Language::Java => java(&mut b, fw, s.kind == ServiceKind::Worker, kind, grpc_dep),
        Language::Node => node(&mut b, fw, kind, grpc_dep),
        Language::Go => go(&mut b, fw, kind),
    }
    let frames = b.frames;

    let lang = s.language;
    let (exception_type, value, level): (&'static str, Option<String>, &'static str) = match kind {
        ErrorKind::Unhandled => {
            let (t, m) = unhandled_text(lang);
            (t, Some(m.to_string()), "error")
        }
        ErrorKind::Failure(f) => {
            let (t, m) = failure_text(f, lang);
            let level = if lang == Language::Go
                && matches!(f, FailureKind::Regression | FailureKind::OutOfMemory)
            {
                "fatal"
            } else {
                "error"
            };
            (t, Some(m.to_string()), level)
        }
        ErrorKind::Unreachable { .. } => {
            let (t, m) = failure_text(FailureKind::ConnectionRefused, lang);
            (t, Some(m.to_string()), "error")
        }
        ErrorKind::Upstream { status, .. } => (upstream_type(s, dep_proto, status), None, "error"),
        ErrorKind::UpstreamHandled { status, .. } => {
            (upstream_type(s, dep_proto, status), None, "warning")
        }
        ErrorKind::Handled(k) => {
            let (_, t, m, level) = handled_exception(lang, k);
            (t, Some(vars.fill(m)), level)
        }
    };
    let mechanism = if kind.handled() {
        "generic"
    } else {
        unhandled_mechanism(s)
    };

    // Grouping: the project (service), the exception type and the in-app frames.
    let mut h = stream(str_key(&s.name), &[str_key(exception_type)]);
    let any_app = frames.iter().any(|f| f.in_app);
    for f in frames.iter().filter(|f| f.in_app || !any_app) {
        h = stream(h, &[str_key(&f.module), str_key(&f.function)]);
    }
    let mut fingerprint = String::with_capacity(32);
    let _ = write!(fingerprint, "{:016x}{:016x}", h, mix64(h ^ 0xf1_9e12));

    let short = match lang {
        Language::Go => exception_type.trim_start_matches('*'),
        _ => exception_type.rsplit('.').next().unwrap_or(exception_type),
    };
    let generic = matches!(
        short,
        "Error"
            | "AbortError"
            | "TypeError"
            | "TimeoutError"
            | "runtime.Error"
            | "errors.errorString"
            | "fmt.wrapError"
            | "net.OpError"
    );
    let platform = match lang {
        Language::Python => "python",
        Language::Java => "java",
        Language::Node => "node",
        Language::Go => "go",
    };
    let template_id = if generic {
        format!("sentry.{platform}.{short}.{}.{}", kind.name(lang), s.name)
    } else {
        format!("sentry.{platform}.{short}.{}", s.name)
    };
    Stack {
        frames,
        exception_type,
        value,
        level,
        logger: logger(s, &vars, kind),
        mechanism,
        handled: kind.handled(),
        fingerprint,
        template_id,
    }
}

// ---------------------------------------------------------------------------------------
// Python: Django, FastAPI (Starlette), Flask; Celery for anything else.

fn python(b: &mut B, fw: &str, kind: ErrorKind, grpc_dep: bool) {
    let (route_file, svc_file, client_file, handler_ctx) = match fw {
        "django" => (
            "{res}/views.py",
            "{res}/services.py",
            "common/clients/{dep}.py",
            "result = services.{handler}(request, **kwargs)",
        ),
        "fastapi" => (
            "app/api/routes/{res}.py",
            "app/services/{res}.py",
            "app/clients/{dep}.py",
            "return await {one}_service.{handler}(request, db=db)",
        ),
        "flask" => (
            "app/views/{res}.py",
            "app/services/{res}.py",
            "app/clients/{dep}.py",
            "return jsonify({one}_service.{handler}(**request.view_args))",
        ),
        _ => (
            "app/tasks/{res}.py",
            "app/services/{res}.py",
            "app/clients/{dep}.py",
            "return {one}_service.{handler}(payload)",
        ),
    };
    // A handled exception's traceback starts at the frame that caught it.
    if !kind.handled() {
        match fw {
            "django" => {
                b.py(
                    "django/core/handlers/exception.py",
                    "inner",
                    55,
                    "response = get_response(request)",
                );
                b.py(
                    "django/core/handlers/base.py",
                    "_get_response",
                    197,
                    "response = wrapped_callback(request, *callback_args, **callback_kwargs)",
                );
                b.py(
                    "django/views/decorators/csrf.py",
                    "_view_wrapper",
                    65,
                    "return view_func(request, *args, **kwargs)",
                );
                b.py(
                    "django/views/generic/base.py",
                    "view",
                    104,
                    "return self.dispatch(request, *args, **kwargs)",
                );
                b.py(
                    "rest_framework/views.py",
                    "dispatch",
                    512,
                    "response = handler(request, *args, **kwargs)",
                );
            }
            "fastapi" => {
                b.py(
                    "starlette/middleware/errors.py",
                    "__call__",
                    165,
                    "await self.app(scope, receive, _send)",
                );
                b.py(
                    "starlette/routing.py",
                    "app",
                    73,
                    "response = await f(request)",
                );
                b.py(
                    "fastapi/routing.py",
                    "app",
                    301,
                    "raw_response = await run_endpoint_function(",
                );
                b.py(
                    "fastapi/routing.py",
                    "run_endpoint_function",
                    212,
                    "return await dependant.call(**values)",
                );
            }
            "flask" => {
                b.py(
                    "flask/app.py",
                    "wsgi_app",
                    1511,
                    "response = self.full_dispatch_request()",
                );
                b.py(
                    "flask/app.py",
                    "full_dispatch_request",
                    919,
                    "rv = self.dispatch_request()",
                );
                b.py("flask/app.py", "dispatch_request", 902, "return self.ensure_sync(self.view_functions[rule.endpoint])(**view_args)  # type: ignore[no-any-return]");
            }
            _ => {
                b.py(
                    "celery/app/trace.py",
                    "trace_task",
                    453,
                    "R = retval = fun(*args, **kwargs)",
                );
                b.py(
                    "celery/app/trace.py",
                    "__protected_call__",
                    736,
                    "return self.run(*args, **kwargs)",
                );
            }
        }
        b.py_app(route_file, "{handler}", handler_ctx);
    }
    let client_call = |b: &mut B, ctx: &str| {
        b.py_app(
            svc_file,
            "{handler}",
            "resp = {dep}_client.get(path, params=params)",
        );
        b.py_app(
            client_file,
            "get",
            "return self._request(\"GET\", path, **kwargs)",
        );
        b.py_app(client_file, "_request", ctx);
    };
    let requests_send = |b: &mut B| {
        b.py(
            "requests/sessions.py",
            "request",
            589,
            "resp = self.send(prep, **send_kwargs)",
        );
        b.py(
            "requests/sessions.py",
            "send",
            703,
            "r = adapter.send(request, **kwargs)",
        );
    };
    const SESSION_REQUEST: &str = "response = self.session.request(method, self.base_url + path, timeout=self.timeout, **kwargs)";
    match kind {
        ErrorKind::Unhandled => b.py_app(
            svc_file,
            "{handler}",
            "shipping = payload[\"shipping_address\"]",
        ),
        ErrorKind::Failure(FailureKind::OutOfMemory) => b.py_app(
            svc_file,
            "{handler}",
            "scores = np.zeros((len(candidates), EMBEDDING_DIM), dtype=np.float64)",
        ),
        ErrorKind::Failure(FailureKind::Regression) => {
            b.py_app(svc_file, "{handler}", "currency = {one}.currency.upper()")
        }
        ErrorKind::Failure(FailureKind::Io) => {
            b.py_app(svc_file, "{handler}", "fh.write(document)")
        }
        ErrorKind::Failure(FailureKind::JobTimeout) => {
            b.py_app(svc_file, "{handler}", "self._check_deadline(job)");
            b.py_app(svc_file, "_check_deadline", "raise JobTimeoutError(f\"job exceeded its visibility timeout of {timeout}s and will be redelivered\")");
        }
        ErrorKind::Failure(FailureKind::PoolTimeout) => {
            b.py_app(
                svc_file,
                "{handler}",
                "{one} = session.get({Res}, {one}_id)",
            );
            b.py(
                "sqlalchemy/orm/session.py",
                "get",
                3694,
                "return self._get_impl(",
            );
            b.py(
                "sqlalchemy/orm/session.py",
                "_connection_for_bind",
                1143,
                "conn = bind.connect()",
            );
            b.py(
                "sqlalchemy/engine/base.py",
                "__init__",
                145,
                "self._dbapi_connection = engine.raw_connection()",
            );
            b.py(
                "sqlalchemy/pool/base.py",
                "checkout",
                1263,
                "fairy = _ConnectionRecord.checkout(pool)",
            );
            b.py(
                "sqlalchemy/pool/base.py",
                "checkout",
                712,
                "rec = pool._do_get()",
            );
            b.py(
                "sqlalchemy/pool/impl.py",
                "_do_get",
                168,
                "raise exc.TimeoutError(",
            );
        }
        ErrorKind::Failure(FailureKind::ConnectionRefused) | ErrorKind::Unreachable { .. } => {
            client_call(b, SESSION_REQUEST);
            requests_send(b);
            b.py(
                "requests/adapters.py",
                "send",
                700,
                "raise ConnectionError(e, request=request)",
            );
        }
        ErrorKind::Failure(FailureKind::Tls) => {
            client_call(b, SESSION_REQUEST);
            requests_send(b);
            b.py("requests/adapters.py", "send", 667, "resp = conn.urlopen(");
            b.py(
                "urllib3/connectionpool.py",
                "urlopen",
                789,
                "response = self._make_request(",
            );
            b.py(
                "urllib3/connectionpool.py",
                "_make_request",
                466,
                "self._validate_conn(conn)",
            );
            b.py(
                "urllib3/connectionpool.py",
                "_validate_conn",
                1095,
                "conn.connect()",
            );
            b.py(
                "urllib3/connection.py",
                "connect",
                730,
                "sock_and_verified = _ssl_wrap_socket_and_match_hostname(",
            );
            b.py(
                "urllib3/util/ssl_.py",
                "ssl_wrap_socket",
                471,
                "ssl_sock = _ssl_wrap_socket_impl(sock, context, tls_in_tls, server_hostname)",
            );
            b.py_std(
                "ssl.py",
                "wrap_socket",
                455,
                "return self.sslsocket_class._create(",
            );
            b.py_std(
                "ssl.py",
                "do_handshake",
                1346,
                "self._sslobj.do_handshake()",
            );
        }
        ErrorKind::Failure(FailureKind::Timeout) => {
            client_call(
                b,
                "response = self.client.request(method, path, timeout=self.timeout, **kwargs)",
            );
            b.py(
                "httpx/_client.py",
                "request",
                827,
                "return self.send(request, auth=auth, follow_redirects=follow_redirects)",
            );
            b.py(
                "httpx/_client.py",
                "send",
                914,
                "response = self._send_handling_auth(",
            );
            b.py(
                "httpx/_client.py",
                "_send_single_request",
                1015,
                "response = transport.handle_request(request)",
            );
            b.py(
                "httpx/_transports/default.py",
                "handle_request",
                232,
                "with map_httpcore_exceptions():",
            );
            b.py_std("contextlib.py", "__exit__", 158, "self.gen.throw(value)");
            b.py(
                "httpx/_transports/default.py",
                "map_httpcore_exceptions",
                86,
                "raise mapped_exc(message) from exc",
            );
        }
        ErrorKind::Upstream { .. } | ErrorKind::UpstreamHandled { .. } if grpc_dep => {
            b.py_app(
                svc_file,
                "{handler}",
                "reply = {dep}_client.call(\"{Dep}\", request)",
            );
            b.py_app(client_file, "call", "return getattr(self.stub, method)(request, timeout=self.timeout, metadata=self.metadata)");
            b.py(
                "grpc/_channel.py",
                "__call__",
                1181,
                "return _end_unary_response_blocking(state, call, False, None)",
            );
            b.py(
                "grpc/_channel.py",
                "_end_unary_response_blocking",
                1006,
                "raise _InactiveRpcError(state)  # pytype: disable=not-instantiable",
            );
        }
        ErrorKind::Upstream { .. } | ErrorKind::UpstreamHandled { .. } => {
            client_call(b, "response.raise_for_status()");
            b.py(
                "requests/models.py",
                "raise_for_status",
                1024,
                "raise HTTPError(http_error_msg, response=self)",
            );
        }
        ErrorKind::Handled(k) => match k % 3 {
            0 => {
                b.py_app(svc_file, "{handler}", "cached = cache.get(cache_key)");
                b.py(
                    "redis/commands/core.py",
                    "get",
                    1829,
                    "return self.execute_command(\"GET\", name, keys=[name])",
                );
                b.py(
                    "redis/client.py",
                    "execute_command",
                    559,
                    "return conn.retry.call_with_retry(",
                );
                b.py("redis/retry.py", "call_with_retry", 62, "return do()");
                b.py(
                    "redis/client.py",
                    "_send_command_parse_response",
                    536,
                    "return self.parse_response(conn, command_name, **options)",
                );
                b.py(
                    "redis/connection.py",
                    "read_response",
                    508,
                    "raise TimeoutError(f\"Timeout reading from {host_error}\")",
                );
            }
            1 => {
                b.py_app(
                    svc_file,
                    "{handler}",
                    "payload = {Res}Update.model_validate(data)",
                );
                b.py(
                    "pydantic/main.py",
                    "model_validate",
                    596,
                    "return cls.__pydantic_validator__.validate_python(",
                );
            }
            _ => {
                b.py_app(svc_file, "{handler}", "data = json.loads(resp.text)");
                b.py_std(
                    "json/__init__.py",
                    "loads",
                    346,
                    "return _default_decoder.decode(s)",
                );
                b.py_std(
                    "json/decoder.py",
                    "decode",
                    338,
                    "obj, end = self.raw_decode(s, idx=_w(s, 0).end())",
                );
                b.py_std(
                    "json/decoder.py",
                    "raw_decode",
                    356,
                    "raise JSONDecodeError(\"Expecting value\", s, err.value) from None",
                );
            }
        },
    }
}

// ---------------------------------------------------------------------------------------
// Java: Spring Boot on Tomcat, Micronaut on Netty; Java exceptions carry the whole stack.

fn java(b: &mut B, fw: &str, worker: bool, kind: ErrorKind, grpc_dep: bool) {
    b.java("java.lang.Thread", "run", 1583);
    if worker {
        b.java("java.util.concurrent.ThreadPoolExecutor$Worker", "run", 642);
        b.java("java.util.concurrent.ThreadPoolExecutor", "runWorker", 1144);
        b.java_app(
            "com.shop.{pkg}.jobs.{Handler}Job",
            "run",
            "{one}Service.{camel}(message);",
        );
    } else if fw == "micronaut" {
        b.java(
            "io.netty.util.concurrent.FastThreadLocalRunnable",
            "run",
            30,
        );
        b.java("io.netty.util.internal.ThreadExecutorMap$2", "run", 74);
        b.java(
            "io.netty.util.concurrent.SingleThreadEventExecutor$4",
            "run",
            997,
        );
        b.java("io.netty.channel.nio.NioEventLoop", "run", 569);
        b.java(
            "io.netty.channel.AbstractChannelHandlerContext",
            "fireChannelRead",
            412,
        );
        b.java(
            "io.micronaut.http.server.netty.handler.PipeliningServerHandler$MessageInboundHandler",
            "read",
            416,
        );
        b.java(
            "io.micronaut.http.server.netty.RoutingInBoundHandler",
            "accept",
            222,
        );
        b.java(
            "io.micronaut.http.server.RouteExecutor",
            "executeRoute",
            676,
        );
        b.java(
            "io.micronaut.context.AbstractExecutableMethodsDefinition$DispatchedExecutableMethod",
            "invoke",
            456,
        );
        b.java_app(
            "com.shop.{pkg}.web.{Res}Controller",
            "{camel}",
            "return {one}Service.{camel}(request);",
        );
    } else {
        b.java(
            "org.apache.tomcat.util.threads.TaskThread$WrappingRunnable",
            "run",
            63,
        );
        b.java(
            "org.apache.tomcat.util.threads.ThreadPoolExecutor$Worker",
            "run",
            659,
        );
        b.java("org.apache.tomcat.util.net.SocketProcessorBase", "run", 52);
        b.java(
            "org.apache.tomcat.util.net.NioEndpoint$SocketProcessor",
            "doRun",
            1744,
        );
        b.java(
            "org.apache.coyote.AbstractProtocol$ConnectionHandler",
            "process",
            904,
        );
        b.java("org.apache.coyote.http11.Http11Processor", "service", 393);
        b.java(
            "org.apache.catalina.connector.CoyoteAdapter",
            "service",
            344,
        );
        b.java("org.apache.catalina.core.StandardEngineValve", "invoke", 74);
        b.java(
            "org.apache.catalina.core.StandardWrapperValve",
            "invoke",
            166,
        );
        b.java(
            "org.apache.catalina.core.ApplicationFilterChain",
            "doFilter",
            140,
        );
        b.java(
            "org.springframework.web.filter.OncePerRequestFilter",
            "doFilter",
            116,
        );
        b.java("jakarta.servlet.http.HttpServlet", "service", 658);
        b.java(
            "org.springframework.web.servlet.FrameworkServlet",
            "service",
            885,
        );
        b.java(
            "org.springframework.web.servlet.DispatcherServlet",
            "doDispatch",
            1089,
        );
        b.java(
            "org.springframework.web.servlet.mvc.method.annotation.RequestMappingHandlerAdapter",
            "invokeHandlerMethod",
            925,
        );
        b.java(
            "org.springframework.web.servlet.mvc.method.annotation.ServletInvocableHandlerMethod",
            "invokeAndHandle",
            118,
        );
        b.java(
            "org.springframework.web.method.support.InvocableHandlerMethod",
            "doInvoke",
            255,
        );
        b.java_app(
            "com.shop.{pkg}.web.{Res}Controller",
            "{camel}",
            "return {one}Service.{camel}(request);",
        );
    }
    const SVC: &str = "com.shop.{pkg}.service.{Res}Service";
    let feign = |b: &mut B| {
        b.java_app(SVC, "{camel}", "var reply = {depc}Client.{dopc}(request);");
        b.java(
            "feign.ReflectiveFeign$FeignInvocationHandler",
            "invoke",
            103,
        );
        b.java("feign.SynchronousMethodHandler", "invoke", 99);
        b.java("feign.SynchronousMethodHandler", "executeAndDecode", 141);
    };
    let feign_connect = |b: &mut B| {
        feign(b);
        b.java("feign.Client$Default", "execute", 100);
        b.java("feign.Client$Default", "convertAndSend", 202);
        b.java(
            "sun.net.www.protocol.http.HttpURLConnection",
            "getOutputStream",
            1418,
        );
        b.java(
            "sun.net.www.protocol.http.HttpURLConnection",
            "connect",
            1055,
        );
        b.java("sun.net.www.http.HttpClient", "openServer", 532);
        b.java("java.net.Socket", "connect", 751);
    };
    match kind {
        ErrorKind::Unhandled => {
            b.java_app(SVC, "{camel}", "{one}.assertModifiable();");
            b.java_app("com.shop.{pkg}.domain.{Res}", "assertModifiable", "throw new IllegalStateException(\"Request processing failed: order state is \" + state);");
        }
        ErrorKind::Failure(FailureKind::OutOfMemory) => {
            b.java_app(
                SVC,
                "{camel}",
                "List<{Res}> rows = {one}Repository.findAllBySpec(spec);",
            );
            b.java("java.util.ArrayList", "add", 467);
            b.java("java.util.ArrayList", "grow", 237);
            b.java("java.util.Arrays", "copyOf", 3513);
        }
        ErrorKind::Failure(FailureKind::Regression) => {
            b.java_app(
                SVC,
                "{camel}",
                "BigDecimal total = pricingPolicy.total(cart.getItems());",
            );
        }
        ErrorKind::Failure(FailureKind::PoolTimeout) => {
            b.java_app(
                SVC,
                "{camel}",
                "{Res} {one} = {one}Repository.findById({one}Id).orElseThrow();",
            );
            b.java(
                "org.hibernate.engine.jdbc.connections.internal.DatasourceConnectionProviderImpl",
                "getConnection",
                122,
            );
            b.java("com.zaxxer.hikari.HikariDataSource", "getConnection", 100);
            b.java("com.zaxxer.hikari.pool.HikariPool", "getConnection", 181);
            b.java(
                "com.zaxxer.hikari.pool.HikariPool",
                "createTimeoutException",
                709,
            );
        }
        ErrorKind::Failure(FailureKind::ConnectionRefused) | ErrorKind::Unreachable { .. } => {
            feign_connect(b);
            b.java("sun.nio.ch.NioSocketImpl", "connect", 592);
            b.java("sun.nio.ch.NioSocketImpl", "timedFinishConnect", 542);
        }
        ErrorKind::Failure(FailureKind::Timeout) => {
            feign(b);
            b.java("feign.Client$Default", "execute", 105);
            b.java("feign.Client$Default", "convertResponse", 147);
            b.java(
                "sun.net.www.protocol.http.HttpURLConnection",
                "getInputStream0",
                1714,
            );
            b.java("java.io.BufferedInputStream", "fill", 291);
            b.java("java.net.Socket$SocketInputStream", "read", 1099);
            b.java("sun.nio.ch.NioSocketImpl", "read", 346);
            b.java("sun.nio.ch.NioSocketImpl", "timedRead", 288);
        }
        ErrorKind::Failure(FailureKind::Tls) => {
            feign_connect(b);
            b.java(
                "sun.net.www.protocol.https.HttpsClient",
                "afterConnect",
                580,
            );
            b.java("sun.security.ssl.SSLSocketImpl", "startHandshake", 456);
            b.java("sun.security.ssl.TransportContext", "dispatch", 204);
            b.java(
                "sun.security.ssl.CertificateMessage$T13CertificateConsumer",
                "checkServerCerts",
                1341,
            );
            b.java("sun.security.ssl.TransportContext", "fatal", 378);
            b.java("sun.security.ssl.Alert", "createSSLException", 130);
        }
        ErrorKind::Failure(FailureKind::Io) => {
            b.java_app(SVC, "{camel}", "out.write(document);");
            b.java("java.io.BufferedOutputStream", "write", 137);
            b.java("java.io.BufferedOutputStream", "flushBuffer", 125);
            b.java("java.io.FileOutputStream", "write", 367);
        }
        ErrorKind::Failure(FailureKind::JobTimeout) => {
            b.java_app(SVC, "{camel}", "throw new JobTimeoutError(\"job exceeded its visibility timeout of \" + timeout + \"s and will be redelivered\");");
        }
        ErrorKind::Upstream { .. } | ErrorKind::UpstreamHandled { .. } if grpc_dep => {
            b.java_app(SVC, "{camel}", "var reply = {depc}Stub.{dopc}(request);");
            b.java_app(
                "com.shop.{dep}.v1.{Dep}Grpc${Dep}BlockingStub",
                "{dopc}",
                "return io.grpc.stub.ClientCalls.blockingUnaryCall(",
            );
            b.java("io.grpc.stub.ClientCalls", "blockingUnaryCall", 167);
            b.java("io.grpc.stub.ClientCalls", "getUnchecked", 249);
            b.java("io.grpc.stub.ClientCalls", "toStatusRuntimeException", 268);
        }
        ErrorKind::Upstream { .. } | ErrorKind::UpstreamHandled { .. } if fw == "micronaut" => {
            b.java_app(SVC, "{camel}", "var reply = {depc}Client.{dopc}(request);");
            b.java(
                "io.micronaut.http.client.interceptor.HttpClientIntroductionAdvice",
                "intercept",
                312,
            );
            b.java(
                "io.micronaut.http.client.netty.DefaultHttpClient",
                "lambda$exchange$16",
                1043,
            );
            b.java(
                "io.micronaut.http.client.netty.DefaultHttpClient",
                "handleResponse",
                2144,
            );
        }
        ErrorKind::Upstream { .. } | ErrorKind::UpstreamHandled { .. } => {
            feign(b);
            b.java("feign.ResponseHandler", "handleResponse", 63);
            b.java("feign.ResponseHandler", "decodeError", 122);
            b.java("feign.codec.ErrorDecoder$Default", "decode", 103);
            b.java("feign.FeignException", "errorStatus", 243);
        }
        ErrorKind::Handled(k) => {
            match k % 3 {
                0 => {
                    b.java_app(
                        SVC,
                        "{camel}",
                        "String cached = redis.opsForValue().get(cacheKey);",
                    );
                    b.java(
                        "org.springframework.data.redis.core.DefaultValueOperations",
                        "get",
                        58,
                    );
                    b.java("io.lettuce.core.internal.Futures", "awaitOrCancel", 86);
                    b.java(
                        "io.lettuce.core.internal.ExceptionFactory",
                        "createTimeoutException",
                        59,
                    );
                }
                1 => {
                    b.java_app(SVC, "{camel}", "{one}Repository.saveAndFlush({one});");
                    b.java("org.springframework.dao.support.PersistenceExceptionTranslationInterceptor", "invoke", 152);
                    b.java(
                        "org.springframework.orm.jpa.vendor.HibernateJpaDialect",
                        "convertHibernateAccessException",
                        325,
                    );
                }
                _ => {
                    b.java_app(
                        SVC,
                        "{camel}",
                        "Quote quote = objectMapper.readValue(body, Quote.class);",
                    );
                    b.java(
                        "com.fasterxml.jackson.databind.ObjectMapper",
                        "readValue",
                        3738,
                    );
                    b.java(
                        "com.fasterxml.jackson.databind.DeserializationContext",
                        "handleWeirdStringValue",
                        1999,
                    );
                    b.java(
                        "com.fasterxml.jackson.databind.exc.MismatchedInputException",
                        "from",
                        63,
                    );
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Node: async stacks (the awaiting frames first), Express, Fastify, BullMQ workers.

fn node(b: &mut B, fw: &str, kind: ErrorKind, grpc_dep: bool) {
    if fw == "bullmq" {
        b.node(
            "node_modules/bullmq/dist/cjs/classes/worker.js",
            "async Worker.processJob",
            518,
            28,
            Some("const result = await this.callProcessJob(job, token);"),
        );
        b.node_app(
            "src/jobs/{camel}.js",
            "async Object.{camel}",
            "await {one}Service.{camel}(job.data);",
        );
    } else {
        b.node_app(
            "src/routes/{res}.js",
            "async {camel}",
            "const result = await {one}Service.{camel}(req.params, req.body);",
        );
    }
    const SVC: &str = "src/services/{one}Service.js";
    let client = |b: &mut B| {
        b.node_app(
            SVC,
            "async {Res}Service.{camel}",
            "const res = await {depc}Client.get(path);",
        );
        b.node_app(
            "src/clients/{depc}Client.js",
            "async {Dep}Client.get",
            "const res = await this.http.get(path, { headers: this.headers(ctx) });",
        );
    };
    match kind {
        ErrorKind::Unhandled => b.node_app(SVC, "{Res}Service.{camel}", "const total = item.price * item.quantity;"),
        ErrorKind::Failure(FailureKind::Regression) => b.node_app(SVC, "{Res}Service.{camel}", "const currency = {one}.currency.toUpperCase();"),
        ErrorKind::Failure(FailureKind::OutOfMemory) => {
            b.node_app(SVC, "{Res}Service.{camel}", "const buffer = Buffer.alloc(size);");
            b.node("node:buffer", "Function.alloc", 389, 3, None);
        }
        ErrorKind::Failure(FailureKind::Io) => b.node_app(SVC, "async {Res}Service.{camel}", "await fs.promises.writeFile(path, document);"),
        ErrorKind::Failure(FailureKind::JobTimeout) => b.node_app(SVC, "{Res}Service.{camel}", "throw new JobTimeoutError(`job exceeded its visibility timeout of ${timeout}s and will be redelivered`);"),
        ErrorKind::Failure(FailureKind::PoolTimeout) => {
            b.node_app(SVC, "async {Res}Service.{camel}", "const row = await db('{res}').where({ id }).first();");
            b.node("node_modules/knex/lib/execution/runner.js", "async Runner.ensureConnection", 300, 28, Some("const acquiredConnection = await this.client.acquireConnection();"));
            b.node("node_modules/knex/lib/client.js", "Client.acquireConnection", 312, 26, Some("const convertedError = new KnexTimeoutError("));
        }
        ErrorKind::Failure(FailureKind::ConnectionRefused) | ErrorKind::Unreachable { .. } => {
            client(b);
            b.ticks();
            b.node("node:net", "TCPConnectWrap.afterConnect [as oncomplete]", 1607, 16, None);
        }
        ErrorKind::Failure(FailureKind::Timeout) => {
            client(b);
            b.node("node:internal/timers", "listOnTimeout", 581, 17, None);
            b.node("node:internal/abort_controller", "Timeout._onTimeout", 137, 31, None);
            b.node("node:internal/per_context/domexception", "new DOMException", 53, 5, None);
        }
        ErrorKind::Failure(FailureKind::Tls) => {
            client(b);
            b.node("node:_tls_wrap", "ssl.onhandshakedone", 871, 12, None);
            b.node("node:_tls_wrap", "TLSSocket._finishInit", 1085, 8, None);
            b.node("node:events", "TLSSocket.emit", 519, 28, None);
            b.node("node:_tls_wrap", "TLSSocket.onConnectSecure", 1674, 34, None);
        }
        ErrorKind::Upstream { .. } | ErrorKind::UpstreamHandled { .. } if grpc_dep => {
            b.node_app(SVC, "async {Res}Service.{camel}", "const reply = await {depc}Client.{dopc}(request);");
            b.ticks();
            b.node("node_modules/@grpc/grpc-js/build/src/resolving-call.js", "ResolvingCall.outputStatus", 99, 24, Some("this.listener?.onReceiveStatus(filteredStatus);"));
            b.node("node_modules/@grpc/grpc-js/build/src/client.js", "Object.onReceiveStatus", 193, 76, Some("callProperties.callback((0, call_1.callErrorFromStatus)(status, callerStack));"));
            b.node("node_modules/@grpc/grpc-js/build/src/call.js", "callErrorFromStatus", 31, 19, Some("const error = new Error(message);"));
        }
        ErrorKind::Upstream { .. } | ErrorKind::UpstreamHandled { .. } => {
            client(b);
            b.node("node_modules/axios/lib/core/Axios.js", "Axios.request", 45, 41, Some("throw error;"));
            b.ticks();
            b.node("node:internal/streams/readable", "endReadableNT", 1696, 12, None);
            b.node("node:events", "IncomingMessage.emit", 531, 35, None);
            b.node("node_modules/axios/lib/adapters/http.js", "IncomingMessage.handleStreamEnd", 599, 11, Some("settle(resolve, reject, response);"));
            b.node("node_modules/axios/lib/core/settle.js", "settle", 19, 12, Some("reject(new AxiosError("));
        }
        ErrorKind::Handled(k) => match k % 3 {
            0 => {
                b.node_app(SVC, "async {Res}Service.{camel}", "const value = await schema.validateAsync(body, { abortEarly: false });");
                b.node("node_modules/joi/lib/validator.js", "exports.entryAsync", 77, 19, Some("throw error;"));
            }
            1 => {
                b.node_app(SVC, "async {Res}Service.{camel}", "const cached = await redis.get(cacheKey);");
                b.ticks();
                b.node("node_modules/ioredis/built/redis/event_handler.js", "Socket.<anonymous>", 182, 37, Some("self.flushQueue(new errors_1.AbortError(\"Redis connection lost and command aborted. It might have been processed.\"));"));
            }
            _ => b.node_app(SVC, "{Res}Service.{camel}", "const data = JSON.parse(body);"),
        },
    }
}

// ---------------------------------------------------------------------------------------
// Go: errors are captured where the handler reports them (`hub.CaptureException(err)`),
// so their stack ends in the handler; panics recovered by the middleware go deeper.

fn go(b: &mut B, fw: &str, kind: ErrorKind) {
    match fw {
        "grpc-go" => {
            b.go(
                "google.golang.org/grpc@v1.64.0",
                "(*Server).serveStreams.func2.1",
                "server.go",
                1029,
            );
            b.go(
                "google.golang.org/grpc@v1.64.0",
                "(*Server).handleStream",
                "server.go",
                1770,
            );
            b.go(
                "google.golang.org/grpc@v1.64.0",
                "(*Server).processUnaryRPC",
                "server.go",
                1369,
            );
            b.go_app(
                "gen/{res}/v1",
                "_{Res}_{Handler}_Handler",
                "{res}_grpc.pb.go",
            );
            b.go_app("internal/server", "(*{Res}Server).{Handler}", "server.go");
        }
        "sqs-consumer" => {
            b.go("runtime", "goexit", "asm_amd64.s", 1695);
            b.go_app("internal/consumer", "(*Consumer).Run.func1", "consumer.go");
            b.go_app("internal/consumer", "(*Consumer).handle", "consumer.go");
            b.go_app("internal/jobs", "{Handler}", "{handler}.go");
        }
        "chi" => {
            b.go("net/http", "(*conn).serve", "server.go", 2039);
            b.go("net/http", "serverHandler.ServeHTTP", "server.go", 3142);
            b.go(
                "github.com/go-chi/chi/v5@v5.0.12",
                "(*Mux).ServeHTTP",
                "mux.go",
                90,
            );
            b.go(
                "github.com/getsentry/sentry-go/http@v0.29.0",
                "(*Handler).handle.func1",
                "sentryhttp.go",
                119,
            );
            b.go("net/http", "HandlerFunc.ServeHTTP", "server.go", 2171);
            b.go(
                "github.com/go-chi/chi/v5@v5.0.12",
                "(*Mux).routeHTTP",
                "mux.go",
                459,
            );
            b.go("net/http", "HandlerFunc.ServeHTTP", "server.go", 2171);
            b.go_app("internal/handlers", "(*{Res}Handler).{Handler}", "{res}.go");
        }
        _ => {
            b.go("net/http", "(*conn).serve", "server.go", 2039);
            b.go("net/http", "serverHandler.ServeHTTP", "server.go", 3142);
            b.go(
                "github.com/gin-gonic/gin@v1.10.0",
                "(*Engine).ServeHTTP",
                "gin.go",
                589,
            );
            b.go(
                "github.com/gin-gonic/gin@v1.10.0",
                "(*Engine).handleHTTPRequest",
                "gin.go",
                633,
            );
            b.go(
                "github.com/gin-gonic/gin@v1.10.0",
                "(*Context).Next",
                "context.go",
                185,
            );
            b.go(
                "github.com/getsentry/sentry-go/gin@v0.29.0",
                "(*handler).handle",
                "sentrygin.go",
                80,
            );
            b.go(
                "github.com/gin-gonic/gin@v1.10.0",
                "(*Context).Next",
                "context.go",
                185,
            );
            b.go_app("internal/handlers", "(*{Res}Handler).{Handler}", "{res}.go");
        }
    }
    match kind {
        ErrorKind::Failure(FailureKind::Regression) => {
            b.go_app("internal/service", "(*{Res}Service).{Handler}", "{res}.go");
            b.go("runtime", "goPanicIndex", "panic.go", 115);
            b.go("runtime", "gopanic", "panic.go", 770);
        }
        ErrorKind::Failure(FailureKind::OutOfMemory) => {
            b.go_app("internal/service", "(*{Res}Service).{Handler}", "{res}.go");
            b.go("runtime", "makeslice", "slice.go", 103);
            b.go("runtime", "mallocgc", "malloc.go", 1057);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(kind: ServiceKind, routes: &[&str]) -> ServiceInfo {
        ServiceInfo {
            index: 0,
            name: "checkout-service".into(),
            namespace: "commerce".into(),
            language: Language::Python,
            framework: "fastapi".into(),
            kind,
            replicas: 1,
            traffic_share: 1.0,
            deps: vec![],
            callers: vec![],
            routes: routes.iter().map(|r| r.to_string()).collect(),
            log_style: crate::world::LogStyle::Json,
            cpu_request_m: 1,
            cpu_limit_m: 1,
            memory_request_bytes: 1,
            memory_limit_bytes: 1,
            deploys_per_day: 1.0,
            port: 8000,
            key: 7,
            major_version: 1,
            rds: vec![],
            sqs: vec![],
            dynamodb: vec![],
            lambda: vec![],
            load_balancer: None,
        }
    }

    #[test]
    fn route_names_read_like_code() {
        let s = svc(ServiceKind::Api, &[]);
        let h = |r: &str| route_names(&s, r).handler;
        assert_eq!(h("POST /v1/orders/{id}/cancel"), "cancel_order");
        assert_eq!(h("GET /v1/orders/{id}"), "get_order");
        assert_eq!(h("PATCH /v1/users/{id}"), "update_user");
        assert_eq!(h("GET /v1/users/{id}/addresses"), "list_user_addresses");
        assert_eq!(h("POST /carts/{id}/items"), "add_item");
        assert_eq!(h("DELETE /carts/{id}/items/{sku}"), "delete_item");
        assert_eq!(h("GET /api/v1/products"), "list_products");
        assert_eq!(h("POST /v1/checkout"), "checkout");
        assert_eq!(h("GET /"), "index");
        assert_eq!(h("/inventory.v1.Inventory/GetStock"), "get_stock");
        assert_eq!(
            route_names(&s, "GET /v2/categories/{id}/products").resource,
            "categories"
        );
        let w = svc(ServiceKind::Worker, &[]);
        let n = route_names(&w, "process_order_event");
        assert_eq!(
            (n.resource.as_str(), n.handler.as_str()),
            ("orders", "process_order_event")
        );
    }
}
