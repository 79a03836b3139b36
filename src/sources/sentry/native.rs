//! The Sentry tables in Sentry's own JSON (`--format jsonl`), read back from the very
//! batch that goes to Parquet.
//!
//! - `errors`: one line per error event, the payload an SDK sends (the fields of Relay's
//!   event schema): `event_id`, `timestamp` (RFC 3339, µs), platform, level, logger,
//!   transaction, server_name, release, environment, `fingerprint` (the grouping hash as a
//!   one-element list), `tags` (an object), `user`, `request`, `sdk`, one
//!   `exception.values[]` entry (Python and Java types split into `module` and `type` as
//!   their SDKs report them; stack frames oldest first, crashing frame last),
//!   `breadcrumbs.values[]` (RFC 3339 timestamps) and `contexts` (os, runtime, trace,
//!   response).
//! - `transactions`: one line per transaction event: `type: "transaction"`, float epoch
//!   seconds for `start_timestamp`, `timestamp` and the spans' times (as the SDKs send
//!   them), `transaction_info.source`, `contexts.trace`, `spans[]` with `data` derived
//!   from their op and description, `measurements` as `{name: {value, unit}}`.
//!
//! Every value comes from the batch's columns, except per-service facts that are no
//! column (the protocol, namespace, runtime and database of a service). No label column
//! is read.

use super::{Protocol, http_span_status, rds_engine, service_meta};
use crate::config::DbEngine;
use crate::error::Error;
use crate::sink::JsonLines;
use crate::sink::json::Json;
use crate::sources::native::{Columns, opt_i32, opt_str};
use crate::time::Micros;
use crate::world::World;
use arrow::array::{
    BooleanArray, Float64Array, Int32Array, StringArray, TimestampMicrosecondArray,
};
use arrow::record_batch::RecordBatch;
use std::collections::HashMap;

/// What a service's SDK reports that is not a column: fixed per service.
struct Svc<'w> {
    protocol: Protocol,
    namespace: &'w str,
    /// `contexts.runtime` name and version (`CPython`, `3.12.4`).
    runtime_name: &'static str,
    runtime_version: &'static str,
    /// `db.system` of its relational database.
    db_system: &'static str,
}

/// The services of the world, by name.
struct Services<'w> {
    index: HashMap<&'w str, usize>,
    svcs: Vec<Svc<'w>>,
}

impl<'w> Services<'w> {
    fn new(world: &'w World) -> Services<'w> {
        let metas = service_meta(world);
        let services = &world.topology.services;
        let svcs = services
            .iter()
            .zip(&metas)
            .map(|(s, m)| Svc {
                protocol: m.protocol,
                namespace: &s.namespace,
                runtime_name: m.runtime_name,
                runtime_version: m
                    .runtime
                    .strip_prefix(m.runtime_name)
                    .unwrap_or(m.runtime)
                    .trim_start(),
                db_system: match rds_engine(world, s) {
                    DbEngine::Postgres => "postgresql",
                    DbEngine::Mysql => "mysql",
                },
            })
            .collect();
        let index = services
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.as_str(), i))
            .collect();
        Services { index, svcs }
    }

    fn get(&self, name: &str) -> Result<&Svc<'w>, Error> {
        self.index
            .get(name)
            .map(|&i| &self.svcs[i])
            .ok_or_else(|| Error::Other(format!("sentry native export: unknown service `{name}`")))
    }
}

/// The exception's `module` and `type` as the SDK reports them: Python and Java split the
/// qualified class name at its last dot (`requests.exceptions` / `HTTPError`,
/// `feign` / `FeignException$ServiceUnavailable`); Node and Go report the type alone.
pub fn split_exception_type<'a>(platform: &str, qualified: &'a str) -> (Option<&'a str>, &'a str) {
    match platform {
        "python" | "java" => match qualified.rsplit_once('.') {
            Some((module, ty)) => (Some(module), ty),
            None => (None, qualified),
        },
        _ => (None, qualified),
    }
}

/// `"k":"v"` unless `v` is null.
#[inline]
fn opt_field(j: &mut Json, k: &str, v: Option<&str>) {
    if let Some(v) = v {
        j.field_str(k, v);
    }
}

/// The `os` and `runtime` contexts of a server-side SDK (inside `contexts`).
fn os_runtime(j: &mut Json, svc: &Svc) {
    j.key("os");
    j.begin_object();
    j.field_str("name", "Linux");
    j.end_object();
    j.key("runtime");
    j.begin_object();
    j.field_str("name", svc.runtime_name);
    j.field_str("version", svc.runtime_version);
    j.end_object();
}

/// The root span op of a service's server transactions.
fn server_op(p: Protocol) -> &'static str {
    match p {
        Protocol::Http => "http.server",
        Protocol::Grpc => "grpc.server",
        Protocol::Queue => "queue.process",
    }
}

/// Writes `sentry/errors` rows as Sentry error events, one per line.
pub fn write_errors(world: &World, batch: &RecordBatch, out: &mut JsonLines) -> Result<(), Error> {
    let services = Services::new(world);
    let c = Columns::new(batch);
    let service = c.str("service")?;
    let ts = c.ts("timestamp")?;
    let event_id = c.str("event_id")?;
    let platform = c.str("platform")?;
    let level = c.str("level")?;
    let logger = c.str("logger")?;
    let transaction = c.str("transaction")?;
    let server_name = c.str("server_name")?;
    let release = c.str("release")?;
    let environment = c.str("environment")?;
    let exc_type = c.str("exception_type")?;
    let exc_value = c.str("exception_value")?;
    let user_id = c.str("user_id")?;
    let user_ip = c.str("user_ip")?;
    let trace_id = c.str("trace_id")?;
    let span_id = c.str("span_id")?;
    let parent_span_id = c.str("parent_span_id")?;
    let http_method = c.str("http_method")?;
    let http_url = c.str("http_url")?;
    let http_status = c.i32("http_status_code")?;
    let handled = c.bool("handled")?;
    let mechanism = c.str("mechanism")?;
    let fingerprint = c.str("fingerprint")?;
    let sdk_name = c.str("sdk_name")?;
    let sdk_version = c.str("sdk_version")?;

    let frames = c.list("stack_frames")?;
    let f_filename = frames.field::<StringArray>("filename")?;
    let f_abs_path = frames.field::<StringArray>("abs_path")?;
    let f_function = frames.field::<StringArray>("function")?;
    let f_module = frames.field::<StringArray>("module")?;
    let f_lineno = frames.field::<Int32Array>("lineno")?;
    let f_colno = frames.field::<Int32Array>("colno")?;
    let f_in_app = frames.field::<BooleanArray>("in_app")?;
    let f_context = frames.field::<StringArray>("context_line")?;

    let crumbs = c.list("breadcrumbs")?;
    let b_ts = crumbs.field::<TimestampMicrosecondArray>("timestamp")?;
    let b_type = crumbs.field::<StringArray>("type")?;
    let b_category = crumbs.field::<StringArray>("category")?;
    let b_level = crumbs.field::<StringArray>("level")?;
    let b_message = crumbs.field::<StringArray>("message")?;
    let b_data = crumbs.field::<StringArray>("data_json")?;

    let tags = c.list("tags")?;
    let t_key = tags.field::<StringArray>("key")?;
    let t_value = tags.field::<StringArray>("value")?;

    for i in 0..c.rows() {
        let svc = services.get(service.value(i))?;
        let plat = platform.value(i);
        let j = &mut out.json;
        j.begin_object();
        j.field_str("event_id", event_id.value(i));
        j.key("timestamp");
        j.rfc3339(ts.value(i), 6);
        j.field_str("platform", plat);
        j.field_str("level", level.value(i));
        opt_field(j, "logger", opt_str(logger, i));
        j.field_str("transaction", transaction.value(i));
        j.field_str("server_name", server_name.value(i));
        j.field_str("release", release.value(i));
        j.field_str("environment", environment.value(i));
        j.key("fingerprint");
        j.begin_array();
        j.str(fingerprint.value(i));
        j.end_array();

        j.key("tags");
        j.begin_object();
        for k in tags.range(i) {
            j.field_str(t_key.value(k), t_value.value(k));
        }
        j.end_object();

        let (uid, uip) = (opt_str(user_id, i), opt_str(user_ip, i));
        if uid.is_some() || uip.is_some() {
            j.key("user");
            j.begin_object();
            opt_field(j, "id", uid);
            opt_field(j, "ip_address", uip);
            j.end_object();
        }

        if let (Some(method), Some(url)) = (opt_str(http_method, i), opt_str(http_url, i)) {
            j.key("request");
            j.begin_object();
            match url.split_once('?') {
                Some((u, q)) => {
                    j.field_str("url", u);
                    j.field_str("method", method);
                    j.field_str("query_string", q);
                }
                None => {
                    j.field_str("url", url);
                    j.field_str("method", method);
                }
            }
            j.end_object();
        }

        j.key("sdk");
        j.begin_object();
        j.field_str("name", sdk_name.value(i));
        j.field_str("version", sdk_version.value(i));
        j.end_object();

        // One exception, with its mechanism and stack trace.
        j.key("exception");
        j.begin_object();
        j.key("values");
        j.begin_array();
        j.begin_object();
        let (module, ty) = split_exception_type(plat, exc_type.value(i));
        j.field_str("type", ty);
        j.field_str("value", exc_value.value(i));
        opt_field(j, "module", module);
        j.key("mechanism");
        j.begin_object();
        j.field_str("type", mechanism.value(i));
        j.field_bool("handled", handled.value(i));
        j.end_object();
        j.key("stacktrace");
        j.begin_object();
        j.key("frames");
        j.begin_array();
        for k in frames.range(i) {
            j.begin_object();
            j.field_str("filename", f_filename.value(k));
            opt_field(j, "abs_path", opt_str(f_abs_path, k));
            j.field_str("function", f_function.value(k));
            j.field_str("module", f_module.value(k));
            j.field_i64("lineno", f_lineno.value(k) as i64);
            if let Some(col) = opt_i32(f_colno, k) {
                j.field_i64("colno", col as i64);
            }
            j.field_bool("in_app", f_in_app.value(k));
            opt_field(j, "context_line", opt_str(f_context, k));
            j.end_object();
        }
        j.end_array();
        j.end_object();
        j.end_object();
        j.end_array();
        j.end_object();

        j.key("breadcrumbs");
        j.begin_object();
        j.key("values");
        j.begin_array();
        for k in crumbs.range(i) {
            j.begin_object();
            j.key("timestamp");
            j.rfc3339(b_ts.value(k), 6);
            j.field_str("type", b_type.value(k));
            j.field_str("category", b_category.value(k));
            j.field_str("level", b_level.value(k));
            opt_field(j, "message", opt_str(b_message, k));
            if let Some(data) = opt_str(b_data, k) {
                // The column holds a JSON object, written by the renderer.
                j.key("data");
                j.raw(data);
            }
            j.end_object();
        }
        j.end_array();
        j.end_object();

        j.key("contexts");
        j.begin_object();
        os_runtime(j, svc);
        let status = opt_i32(http_status, i);
        j.key("trace");
        j.begin_object();
        j.field_str("trace_id", trace_id.value(i));
        j.field_str("span_id", span_id.value(i));
        opt_field(j, "parent_span_id", opt_str(parent_span_id, i));
        j.field_str("op", server_op(svc.protocol));
        // An unhandled exception failed the request: its span ends with the failure.
        if !handled.value(i) {
            let st = match (status, svc.protocol) {
                (Some(code), _) => http_span_status(code.clamp(0, 999) as u16),
                (None, Protocol::Grpc) => "unavailable",
                (None, _) => "internal_error",
            };
            j.field_str("status", st);
        }
        j.end_object();
        if let Some(code) = status {
            j.key("response");
            j.begin_object();
            j.field_i64("status_code", code as i64);
            j.end_object();
        }
        j.end_object();

        j.end_object();
        out.end_line()?;
    }
    Ok(())
}

/// A span's `data`, from its op and description (what the SDK integration that made the
/// span records).
fn span_data(j: &mut Json, op: &str, desc: &str, svc: &Svc) {
    j.key("data");
    j.begin_object();
    match op {
        "http.client" => {
            if let Some((method, url)) = desc.split_once(' ') {
                j.field_str("http.method", method);
                j.field_str("url", url);
            }
        }
        "grpc.client" => {
            j.field_str("rpc.system", "grpc");
            let m = desc.trim_start_matches('/');
            if let Some((service, method)) = m.split_once('/') {
                j.field_str("rpc.service", service);
                j.field_str("rpc.method", method);
            }
        }
        "queue.publish" => {
            j.field_str("messaging.system", "aws_sqs");
            j.field_str("messaging.destination.name", desc);
        }
        "db" | "db.query" | "db.sql.query" => {
            if let Some(rest) = desc.strip_prefix("DynamoDB.") {
                j.field_str("db.system", "dynamodb");
                if let Some((operation, table)) = rest.split_once(' ') {
                    j.field_str("db.operation", operation);
                    j.key("aws.dynamodb.table_names");
                    j.begin_array();
                    j.str(table);
                    j.end_array();
                }
            } else {
                j.field_str("db.system", svc.db_system);
                let verb = desc.split(' ').next().unwrap_or("");
                for v in ["SELECT", "UPDATE", "INSERT", "DELETE"] {
                    if verb.eq_ignore_ascii_case(v) {
                        j.field_str("db.operation", v);
                    }
                }
            }
        }
        "cache.get" => {
            j.field_str("db.system", "redis");
            j.field_str("cache.key", desc);
        }
        _ => {}
    }
    j.end_object();
}

/// Microseconds of a `duration_ms` value (the renderer divided whole microseconds by 1000).
#[inline]
fn micros_of_ms(ms: f64) -> Micros {
    (ms * 1000.0).round() as Micros
}

/// Writes `sentry/transactions` rows as Sentry transaction events, one per line.
pub fn write_transactions(
    world: &World,
    batch: &RecordBatch,
    out: &mut JsonLines,
) -> Result<(), Error> {
    let services = Services::new(world);
    let c = Columns::new(batch);
    let service = c.str("service")?;
    let ts = c.ts("timestamp")?;
    let event_id = c.str("event_id")?;
    let trace_id = c.str("trace_id")?;
    let span_id = c.str("span_id")?;
    let parent_span_id = c.str("parent_span_id")?;
    let transaction = c.str("transaction")?;
    let source = c.str("transaction_source")?;
    let op = c.str("op")?;
    let start = c.ts("start_timestamp")?;
    let status = c.str("status")?;
    let http_status = c.i32("http_status_code")?;
    let server_name = c.str("server_name")?;
    let release = c.str("release")?;
    let environment = c.str("environment")?;
    let platform = c.str("platform")?;
    let user_id = c.str("user_id")?;
    let sdk_name = c.str("sdk_name")?;
    let sdk_version = c.str("sdk_version")?;

    let spans = c.list("spans")?;
    let s_id = spans.field::<StringArray>("span_id")?;
    let s_parent = spans.field::<StringArray>("parent_span_id")?;
    let s_op = spans.field::<StringArray>("op")?;
    let s_desc = spans.field::<StringArray>("description")?;
    let s_start = spans.field::<TimestampMicrosecondArray>("start_timestamp")?;
    let s_dur = spans.field::<Float64Array>("duration_ms")?;
    let s_status = spans.field::<StringArray>("status")?;

    let meas = c.list("measurements")?;
    let m_name = meas.field::<StringArray>("name")?;
    let m_value = meas.field::<Float64Array>("value")?;
    let m_unit = meas.field::<StringArray>("unit")?;

    for i in 0..c.rows() {
        let svc = services.get(service.value(i))?;
        let browser = platform.value(i) == "javascript";
        let trace = trace_id.value(i);
        let j = &mut out.json;
        j.begin_object();
        j.field_str("type", "transaction");
        j.field_str("event_id", event_id.value(i));
        j.key("start_timestamp");
        j.epoch_seconds(start.value(i));
        j.key("timestamp");
        j.epoch_seconds(ts.value(i));
        j.field_str("platform", platform.value(i));
        j.field_str("transaction", transaction.value(i));
        j.key("transaction_info");
        j.begin_object();
        j.field_str("source", source.value(i));
        j.end_object();
        opt_field(j, "server_name", opt_str(server_name, i));
        j.field_str("release", release.value(i));
        j.field_str("environment", environment.value(i));
        if let Some(u) = opt_str(user_id, i) {
            j.key("user");
            j.begin_object();
            j.field_str("id", u);
            j.end_object();
        }
        j.key("sdk");
        j.begin_object();
        j.field_str("name", sdk_name.value(i));
        j.field_str("version", sdk_version.value(i));
        j.end_object();
        if !browser {
            // The tag the service sets on its SDK scope (as on its error events).
            j.key("tags");
            j.begin_object();
            j.field_str("k8s.namespace", svc.namespace);
            j.end_object();
        }

        j.key("contexts");
        j.begin_object();
        if !browser {
            os_runtime(j, svc);
        }
        j.key("trace");
        j.begin_object();
        j.field_str("trace_id", trace);
        j.field_str("span_id", span_id.value(i));
        opt_field(j, "parent_span_id", opt_str(parent_span_id, i));
        j.field_str("op", op.value(i));
        j.field_str("status", status.value(i));
        j.end_object();
        if let Some(code) = opt_i32(http_status, i) {
            j.key("response");
            j.begin_object();
            j.field_i64("status_code", code as i64);
            j.end_object();
        }
        j.end_object();

        j.key("spans");
        j.begin_array();
        for k in spans.range(i) {
            let s0 = s_start.value(k);
            let (sop, desc) = (s_op.value(k), s_desc.value(k));
            j.begin_object();
            j.field_str("span_id", s_id.value(k));
            j.field_str("parent_span_id", s_parent.value(k));
            j.field_str("trace_id", trace);
            j.field_str("op", sop);
            j.field_str("description", desc);
            j.field_str("status", s_status.value(k));
            j.key("start_timestamp");
            j.epoch_seconds(s0);
            j.key("timestamp");
            j.epoch_seconds(s0 + micros_of_ms(s_dur.value(k)));
            span_data(j, sop, desc, svc);
            j.end_object();
        }
        j.end_array();

        let ms = meas.range(i);
        if !ms.is_empty() {
            j.key("measurements");
            j.begin_object();
            for k in ms {
                j.key(m_name.value(k));
                j.begin_object();
                j.field_f64("value", m_value.value(k));
                j.field_str("unit", m_unit.value(k));
                j.end_object();
            }
            j.end_object();
        }

        j.end_object();
        out.end_line()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exception_types_split_as_the_sdks_report_them() {
        assert_eq!(
            split_exception_type("python", "requests.exceptions.HTTPError"),
            (Some("requests.exceptions"), "HTTPError")
        );
        assert_eq!(
            split_exception_type("python", "KeyError"),
            (None, "KeyError")
        );
        assert_eq!(
            split_exception_type("java", "feign.FeignException$ServiceUnavailable"),
            (Some("feign"), "FeignException$ServiceUnavailable")
        );
        assert_eq!(
            split_exception_type("go", "*fmt.wrapError"),
            (None, "*fmt.wrapError")
        );
        assert_eq!(
            split_exception_type("node", "AxiosError"),
            (None, "AxiosError")
        );
    }

    #[test]
    fn span_data_from_op_and_description() {
        let svc = Svc {
            protocol: Protocol::Http,
            namespace: "commerce",
            runtime_name: "CPython",
            runtime_version: "3.12.4",
            db_system: "mysql",
        };
        let mut j = Json::default();
        j.begin_array();
        j.begin_object();
        span_data(&mut j, "http.client", "GET http://a.b:80/x", &svc);
        span_data(&mut j, "db", "select * from \"t\" where \"id\" = ?", &svc);
        span_data(&mut j, "db", "DynamoDB.GetItem carts", &svc);
        span_data(
            &mut j,
            "grpc.client",
            "/inventory.v1.Inventory/GetStock",
            &svc,
        );
        j.end_object();
        j.end_array();
        assert_eq!(
            j.as_str(),
            concat!(
                r#"[{"data":{"http.method":"GET","url":"http://a.b:80/x"},"#,
                r#""data":{"db.system":"mysql","db.operation":"SELECT"},"#,
                r#""data":{"db.system":"dynamodb","db.operation":"GetItem","aws.dynamodb.table_names":["carts"]},"#,
                r#""data":{"rpc.system":"grpc","rpc.service":"inventory.v1.Inventory","rpc.method":"GetStock"}}]"#
            )
        );
    }

    #[test]
    fn durations_round_trip_to_microseconds() {
        for us in [0i64, 1, 999, 32_132, 1_234_567, 987_654_321] {
            assert_eq!(micros_of_ms(us as f64 / 1000.0), us);
        }
    }
}
