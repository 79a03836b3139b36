//! The Grafana tables in Grafana's own JSON (`--format jsonl`), read back from the very
//! batch that goes to Parquet.
//!
//! - `panel_series`: one line per panel refresh (the rows of one dashboard, panel and
//!   timestamp), as `/api/ds/query` answers it: `{"results": {"<refId>": {"status": 200,
//!   "frames": [...]}}}`, one data frame per series in the `timeseries-multi` convention
//!   (a `Time` field and a `Value` field carrying the series labels), times in epoch
//!   milliseconds. The format has no id of its own: `_record_ids` lists the rows' record
//!   ids in frame order, and `_request` gives the request context (dashboard, panel, time
//!   range, data source).
//! - `annotations`: one line per annotation, as `GET /api/annotations` returns it (the
//!   fields of Grafana's `ItemDTO`), times in epoch milliseconds.
//!
//! No label column is read.

use crate::config::Config;
use crate::error::Error;
use crate::sink::JsonLines;
use crate::sources::cloudwatch::alarm_instances;
use crate::sources::native::{Columns, opt_i32, opt_str};
use crate::world::World;
use arrow::array::StringArray;
use arrow::record_batch::RecordBatch;
use std::fmt::Write as _;

/// Writes a Go `time.Duration` string of whole seconds (`1m0s`, `30s`, `1h0m0s`), as the
/// Prometheus data source prints the step in `executedQueryString`.
fn go_duration(s: &mut String, secs: u64) {
    let (h, m, sec) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        let _ = write!(s, "{h}h{m}m{sec}s");
    } else if m > 0 {
        let _ = write!(s, "{m}m{sec}s");
    } else {
        let _ = write!(s, "{sec}s");
    }
}

/// The period in seconds of a CloudWatch panel query (`"period":"60"` in the query JSON
/// of the `query` column), if present.
fn query_period(query: &str) -> Option<u64> {
    const KEY: &str = "\"period\":\"";
    let at = query.find(KEY)? + KEY.len();
    let digits = query[at..].split('"').next()?;
    digits.parse().ok().filter(|&p| p > 0)
}

/// `grafana/panel_series`: one `/api/ds/query` response per panel refresh.
pub(super) fn write_panel_series(
    world: &World,
    batch: &RecordBatch,
    out: &mut JsonLines,
) -> Result<(), Error> {
    let c = Columns::new(batch);
    let rid = c.str("record_id")?;
    let ts = c.ts("timestamp")?;
    let uid = c.str("dashboard_uid")?;
    let pid = c.i32("panel_id")?;
    let ref_id = c.str("ref_id")?;
    let ds = c.str("datasource")?;
    let ds_uid = c.str("datasource_uid")?;
    let query = c.str("query")?;
    let name = c.str("series_name")?;
    let labels = c.list("series_labels")?;
    let lname = labels.field::<StringArray>("name")?;
    let lvalue = labels.field::<StringArray>("value")?;
    let value = c.f64("value")?;
    let unit = c.str("unit")?;
    let step = world.config.generation.sources.grafana.refresh_seconds as u64;
    let n = c.rows();
    let mut i = 0;
    while i < n {
        // The refresh: the consecutive rows of one (dashboard, panel, timestamp).
        let t = ts.value(i);
        let (d, p) = (uid.value(i), pid.value(i));
        let mut end = i + 1;
        while end < n && ts.value(end) == t && pid.value(end) == p && uid.value(end) == d {
            end += 1;
        }
        let rows = i..end;
        let r = ref_id.value(i);
        if let Some(k) = rows.clone().find(|&k| ref_id.value(k) != r) {
            return Err(Error::Other(format!(
                "grafana/panel_series: refIds {r} and {} in one panel refresh",
                ref_id.value(k)
            )));
        }
        let prom = ds.value(i) == "prometheus";
        // The interval of the points: the refresh step (Prometheus) or the CloudWatch period.
        let interval = if prom {
            step
        } else {
            query_period(query.value(i)).unwrap_or(step)
        };
        let j = &mut out.json;
        j.begin_object();
        j.key("results");
        j.begin_object();
        j.key(r);
        j.begin_object();
        j.field_u64("status", 200);
        j.key("frames");
        j.begin_array();
        for k in rows.clone() {
            j.begin_object();
            j.key("schema");
            j.begin_object();
            j.field_str("name", name.value(k));
            j.field_str("refId", ref_id.value(k));
            j.key("meta");
            j.begin_object();
            j.field_str("type", "timeseries-multi");
            j.key("typeVersion");
            j.begin_array();
            j.u64(0);
            j.u64(1);
            j.end_array();
            j.key("executedQueryString");
            if prom {
                let q = query.value(k);
                j.str_with(|s| {
                    s.push_str("Expr: ");
                    s.push_str(q);
                    s.push_str("\nStep: ");
                    go_duration(s, step);
                });
            } else {
                j.str(query.value(k));
            }
            j.end_object();
            j.key("fields");
            j.begin_array();
            // Time
            j.begin_object();
            j.field_str("name", "Time");
            j.field_str("type", "time");
            j.key("typeInfo");
            j.begin_object();
            j.field_str("frame", "time.Time");
            j.end_object();
            j.key("config");
            j.begin_object();
            j.field_u64("interval", interval * 1000);
            j.end_object();
            j.end_object();
            // Value
            j.begin_object();
            j.field_str("name", "Value");
            j.field_str("type", "number");
            j.key("typeInfo");
            j.begin_object();
            j.field_str("frame", "float64");
            if !prom {
                // The CloudWatch data source builds its values as nullable floats.
                j.field_bool("nullable", true);
            }
            j.end_object();
            j.key("labels");
            j.begin_object();
            for l in labels.range(k) {
                j.field_str(lname.value(l), lvalue.value(l));
            }
            j.end_object();
            j.key("config");
            j.begin_object();
            j.field_str("unit", unit.value(k));
            j.field_str("displayNameFromDS", name.value(k));
            j.end_object();
            j.end_object();
            j.end_array();
            j.end_object();
            j.key("data");
            j.begin_object();
            j.key("values");
            j.begin_array();
            j.begin_array();
            j.epoch_millis(ts.value(k));
            j.end_array();
            j.begin_array();
            j.f64(value.value(k));
            j.end_array();
            j.end_array();
            j.end_object();
            j.end_object();
        }
        j.end_array();
        j.end_object();
        j.end_object();
        j.key("_record_ids");
        j.begin_array();
        for k in rows {
            j.str(rid.value(k));
        }
        j.end_array();
        j.key("_request");
        j.begin_object();
        j.field_str("dashboardUID", d);
        j.field_i64("panelId", p as i64);
        let from_ms = t.div_euclid(1000);
        let to_ms = from_ms + (interval * 1000) as i64;
        j.key("from");
        j.str_fmt(format_args!("{from_ms}"));
        j.key("to");
        j.str_fmt(format_args!("{to_ms}"));
        j.key("datasource");
        j.begin_object();
        j.field_str("type", ds.value(i));
        j.field_str("uid", ds_uid.value(i));
        j.end_object();
        j.end_object();
        j.end_object();
        out.end_line()?;
        i = end;
    }
    Ok(())
}

/// The Grafana users behind the annotations' logins: (login, userId, email, avatarUrl).
/// The avatar is Grafana's `/avatar/<md5 of the email>`. Grafana alerting writes as no
/// user (userId 0, no email or avatar).
const USERS: [(&str, u64, &str, &str); 6] = [
    (
        "argocd",
        2,
        "argocd@example.com",
        "/avatar/f4c8217b8cfaa84916ba8ce8bb436b2a",
    ),
    (
        "j.martin",
        3,
        "j.martin@example.com",
        "/avatar/ef9533ef81fffee35ff312dde410b006",
    ),
    (
        "a.okafor",
        4,
        "a.okafor@example.com",
        "/avatar/8b93926f183410d84698310fdd893c45",
    ),
    (
        "s.lindqvist",
        5,
        "s.lindqvist@example.com",
        "/avatar/a4c8b1fbb085516bf29cf20d668de0d1",
    ),
    (
        "p.rao",
        6,
        "p.rao@example.com",
        "/avatar/13b79263f405aa397b6b794e4ee37941",
    ),
    ("grafana-alerting", 0, "", ""),
];

/// The dashboard's numeric id (deprecated in Grafana, still returned): its 1-based
/// position in the configuration; 0 when the uid is unknown.
fn dashboard_id(config: &Config, uid: &str) -> u64 {
    config
        .services
        .dashboards
        .iter()
        .position(|d| d.uid.value == uid)
        .map_or(0, |p| p as u64 + 1)
}

/// `grafana/annotations`: one annotation object of `GET /api/annotations` per row.
pub(super) fn write_annotations(
    world: &World,
    batch: &RecordBatch,
    out: &mut JsonLines,
) -> Result<(), Error> {
    let c = Columns::new(batch);
    let ts = c.ts("timestamp")?;
    let id = c.i64("annotation_id")?;
    let dash = c.str("dashboard_uid")?;
    let panel = c.i32("panel_id")?;
    let time_end = c.ts("time_end")?;
    let tags = c.list("tags")?;
    let tag = tags.values::<StringArray>()?;
    let text = c.str("text")?;
    let kind = c.str("kind")?;
    let alert_name = c.str("alert_name")?;
    let new_state = c.str("new_state")?;
    let prev_state = c.str("prev_state")?;
    let login = c.str("login")?;
    // Alert rule ids: the 1-based position of the alarm among the configured alarm
    // instances (only built when the hour has an alert).
    let mut alarms: Option<Vec<String>> = None;
    for i in 0..c.rows() {
        let at = ts.value(i);
        let end = time_end.value(i);
        let alert = opt_str(alert_name, i);
        let alert_id = match alert {
            Some(a) => {
                let names = alarms.get_or_insert_with(|| {
                    alarm_instances(world).into_iter().map(|x| x.name).collect()
                });
                names
                    .iter()
                    .position(|x| x == a)
                    .map_or(0, |p| p as u64 + 1)
            }
            None => 0,
        };
        let who = login.value(i);
        let (user_id, email, avatar) = USERS
            .iter()
            .find(|u| u.0 == who)
            .map_or((0, "", ""), |u| (u.1, u.2, u.3));
        let d = opt_str(dash, i);
        // Created when posted (the annotated event's time); a deploy's region is closed
        // (updated) by the CD system when its rollout completes.
        let updated = if kind.value(i) == "deploy" { end } else { at };
        let j = &mut out.json;
        j.begin_object();
        j.field_i64("id", id.value(i));
        j.field_u64("alertId", alert_id);
        if let Some(a) = alert {
            j.field_str("alertName", a);
        }
        j.field_u64(
            "dashboardId",
            d.map_or(0, |d| dashboard_id(&world.config, d)),
        );
        j.field_opt_str("dashboardUID", d);
        j.field_i64("panelId", opt_i32(panel, i).unwrap_or(0) as i64);
        j.field_u64("userId", user_id);
        j.field_str("newState", opt_str(new_state, i).unwrap_or(""));
        j.field_str("prevState", opt_str(prev_state, i).unwrap_or(""));
        j.key("created");
        j.epoch_millis(at);
        j.key("updated");
        j.epoch_millis(updated);
        j.key("time");
        j.epoch_millis(at);
        j.key("timeEnd");
        j.epoch_millis(end);
        j.field_str("text", text.value(i));
        j.key("tags");
        j.begin_array();
        for t in tags.range(i) {
            j.str(tag.value(t));
        }
        j.end_array();
        j.field_str("login", who);
        j.field_str("email", email);
        j.field_str("avatarUrl", avatar);
        j.key("data");
        j.begin_object();
        j.end_object();
        j.end_object();
        out.end_line()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        let f = |n| {
            let mut s = String::new();
            go_duration(&mut s, n);
            s
        };
        assert_eq!(f(15), "15s");
        assert_eq!(f(60), "1m0s");
        assert_eq!(f(90), "1m30s");
        assert_eq!(f(3600), "1h0m0s");
    }

    #[test]
    fn cloudwatch_query_period() {
        let q = r#"{"namespace":"AWS/RDS","metricName":"CPUUtilization","dimensions":{},"statistic":"Average","period":"300","region":"us-east-1"}"#;
        assert_eq!(query_period(q), Some(300));
        assert_eq!(query_period("rate(x[120s])"), None);
    }
}
