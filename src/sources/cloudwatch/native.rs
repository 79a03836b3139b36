//! The CloudWatch tables in AWS's own JSON (`--format jsonl`, `Table::write_native`), read
//! back from the very batch that goes to Parquet. No label column is read.
//!
//! - `cloudwatch/metrics`: one PutMetricData request (`PutMetricDataInput`, the AWS JSON
//!   protocol: `Timestamp` in epoch seconds) per datapoint, with one `MetricDatum` whose
//!   `Value` is the row's value; the statistic and period the value stands for, which a
//!   datum has no member for, are the non-AWS keys `_statistic` and `_period`, and the row
//!   id `_record_id`.
//! - `cloudwatch/logs`: one event as FilterLogEvents returns it (`FilteredLogEvent`:
//!   `logStreamName`, `timestamp` and `ingestionTime` in epoch ms, `message`, `eventId`)
//!   with its `logGroupName`.
//! - `cloudwatch/alarms`: the EventBridge "CloudWatch Alarm State Change" event, its `id`
//!   the `event_id` column; `previousState` is the transition that entered the state the
//!   alarm leaves (the earlier row of the same alarm, or found by evaluating the alarm
//!   backwards, see [`super::alarms::entered_previous_state`]).
//! - `cloudwatch/insights_queries`: the query as DescribeQueries lists it (`QueryInfo`,
//!   `createTime` in epoch ms) with the `statistics` of GetQueryResults; the queried range
//!   and log groups of StartQuery as `_startTime`, `_endTime` (epoch seconds) and
//!   `_logGroupNames`.

use super::alarms::{AlarmInstance, entered_previous_state, write_cw_time};
use super::series::DatapointCache;
use crate::error::Error;
use crate::sink::JsonLines;
use crate::sink::json::Json;
use crate::sources::native::{Columns, List};
use crate::time::{Micros, SECOND};
use crate::world::World;
use arrow::array::StringArray;
use arrow::record_batch::RecordBatch;

/// Writes `Dimensions` items of row `i`: `[{"Name": .., "Value": ..}]` (`upper`) or the
/// EventBridge configuration's `{"name": "value"}` object.
fn dimensions(
    j: &mut Json,
    dims: &List,
    names: &StringArray,
    values: &StringArray,
    i: usize,
    object: bool,
) {
    if object {
        j.begin_object();
        for d in dims.range(i) {
            j.field_str(names.value(d), values.value(d));
        }
        j.end_object();
    } else {
        j.begin_array();
        for d in dims.range(i) {
            j.begin_object();
            j.field_str("Name", names.value(d));
            j.field_str("Value", values.value(d));
            j.end_object();
        }
        j.end_array();
    }
}

/// `cloudwatch/metrics`: one `PutMetricDataInput` per datapoint.
pub(super) fn write_metrics(batch: &RecordBatch, out: &mut JsonLines) -> Result<(), Error> {
    let c = Columns::new(batch);
    let record_id = c.str("record_id")?;
    let ts = c.ts("timestamp")?;
    let ns = c.str("namespace")?;
    let metric = c.str("metric_name")?;
    let dims = c.list("dimensions")?;
    let dim_name = dims.field::<StringArray>("name")?;
    let dim_value = dims.field::<StringArray>("value")?;
    let stat = c.str("statistic")?;
    let value = c.f64("value")?;
    let unit = c.str("unit")?;
    let period = c.i32("period_seconds")?;
    for i in 0..c.rows() {
        let j = &mut out.json;
        j.begin_object();
        j.field_str("Namespace", ns.value(i));
        j.key("MetricData");
        j.begin_array();
        j.begin_object();
        j.field_str("MetricName", metric.value(i));
        j.key("Dimensions");
        dimensions(j, &dims, dim_name, dim_value, i, false);
        // The AWS JSON protocol's timestamps: epoch seconds (periods start on a second).
        j.field_i64("Timestamp", ts.value(i).div_euclid(SECOND));
        j.field_f64("Value", value.value(i));
        j.field_str("Unit", unit.value(i));
        // Standard resolution: every series has periods of a minute or more.
        j.field_u64("StorageResolution", 60);
        j.end_object();
        j.end_array();
        j.field_str("_statistic", stat.value(i));
        j.field_i64("_period", period.value(i) as i64);
        j.field_str("_record_id", record_id.value(i));
        j.end_object();
        out.end_line()?;
    }
    Ok(())
}

/// `cloudwatch/logs`: one `FilteredLogEvent` (with its `logGroupName`) per event.
pub(super) fn write_logs(batch: &RecordBatch, out: &mut JsonLines) -> Result<(), Error> {
    let c = Columns::new(batch);
    let group = c.str("log_group")?;
    let stream = c.str("log_stream")?;
    let ts = c.ts("timestamp")?;
    let message = c.str("message")?;
    let ingestion = c.ts("ingestion_time")?;
    let event_id = c.str("event_id")?;
    for i in 0..c.rows() {
        let j = &mut out.json;
        j.begin_object();
        j.field_str("logGroupName", group.value(i));
        j.field_str("logStreamName", stream.value(i));
        j.key("timestamp");
        j.epoch_millis(ts.value(i));
        j.field_str("message", message.value(i));
        j.key("ingestionTime");
        j.epoch_millis(ingestion.value(i));
        j.field_str("eventId", event_id.value(i));
        j.end_object();
        out.end_line()?;
    }
    Ok(())
}

/// A `state` / `previousState` object.
fn alarm_state(j: &mut Json, value: &str, reason: &str, reason_data: &str, at: Micros) {
    j.begin_object();
    j.field_str("value", value);
    j.field_str("reason", reason);
    j.field_str("reasonData", reason_data);
    j.key("timestamp");
    j.str_with(|s| write_cw_time(s, at));
    j.end_object();
}

/// `cloudwatch/alarms`: one EventBridge "CloudWatch Alarm State Change" event per
/// transition.
pub(super) fn write_alarms(
    world: &World,
    batch: &RecordBatch,
    out: &mut JsonLines,
) -> Result<(), Error> {
    let c = Columns::new(batch);
    if c.rows() == 0 {
        return Ok(());
    }
    let ts = c.ts("timestamp")?;
    let event_id = c.str("event_id")?;
    let name = c.str("alarm_name")?;
    let arn = c.str("alarm_arn")?;
    let state = c.str("state")?;
    let previous = c.str("previous_state")?;
    let reason = c.str("reason")?;
    let reason_data = c.str("reason_data")?;
    let ns = c.str("namespace")?;
    let metric = c.str("metric_name")?;
    let dims = c.list("dimensions")?;
    let dim_name = dims.field::<StringArray>("name")?;
    let dim_value = dims.field::<StringArray>("value")?;
    let stat = c.str("statistic")?;
    let period = c.i32("period_seconds")?;
    let cluster = &world.config.services.cluster;
    let cache = DatapointCache::new(world);
    let insts = cache.alarm_instances();
    let (mut prev_reason, mut prev_data) = (String::new(), String::new());
    for i in 0..c.rows() {
        let alarm = name.value(i);
        let ai = insts
            .iter()
            .position(|a| a.name == alarm)
            .ok_or_else(|| Error::Other(format!("cloudwatch/alarms: no alarm `{alarm}`")))?;
        let inst: &AlarmInstance = &insts[ai];
        // The transition that entered the previous state: the alarm's earlier row in this
        // hour, or found by evaluating it backwards.
        let earlier = (0..i).rev().find(|&k| name.value(k) == alarm);
        let prev_at = match earlier {
            Some(k) => {
                prev_reason.clear();
                prev_reason.push_str(reason.value(k));
                prev_data.clear();
                prev_data.push_str(reason_data.value(k));
                ts.value(k)
            }
            None => {
                prev_reason.clear();
                prev_data.clear();
                entered_previous_state(&cache, ai, ts.value(i), &mut prev_reason, &mut prev_data).0
            }
        };
        let t = ts.value(i);
        let j = &mut out.json;
        j.begin_object();
        j.field_str("version", "0");
        j.field_str("id", event_id.value(i));
        j.field_str("detail-type", "CloudWatch Alarm State Change");
        j.field_str("source", "aws.cloudwatch");
        j.field_str("account", &cluster.account_id);
        j.key("time");
        j.rfc3339(t - t.rem_euclid(SECOND), 0);
        j.field_str("region", &cluster.region);
        j.key("resources");
        j.begin_array();
        j.str(arn.value(i));
        j.end_array();
        j.key("detail");
        j.begin_object();
        j.field_str("alarmName", alarm);
        j.key("state");
        alarm_state(j, state.value(i), reason.value(i), reason_data.value(i), t);
        j.key("previousState");
        alarm_state(j, previous.value(i), &prev_reason, &prev_data, prev_at);
        j.key("configuration");
        j.begin_object();
        j.field_str("description", &inst.description);
        j.key("metrics");
        j.begin_array();
        j.begin_object();
        j.key("id");
        j.str_with(|s| super::model::write_uuid(s, inst.key ^ 0x6d65_7472_6963));
        j.key("metricStat");
        j.begin_object();
        j.key("metric");
        j.begin_object();
        j.field_str("namespace", ns.value(i));
        j.field_str("name", metric.value(i));
        j.key("dimensions");
        dimensions(j, &dims, dim_name, dim_value, i, true);
        j.end_object();
        j.field_i64("period", period.value(i) as i64);
        j.field_str("stat", stat.value(i));
        j.end_object();
        j.field_bool("returnData", true);
        j.end_object();
        j.end_array();
        j.end_object();
        j.end_object();
        j.end_object();
        out.end_line()?;
    }
    Ok(())
}

/// `cloudwatch/insights_queries`: one `QueryInfo` with its `statistics` per query.
pub(super) fn write_insights(batch: &RecordBatch, out: &mut JsonLines) -> Result<(), Error> {
    let c = Columns::new(batch);
    let ts = c.ts("timestamp")?;
    let query_id = c.str("query_id")?;
    let query = c.str("query_string")?;
    let groups = c.list("log_groups")?;
    let group = groups.values::<StringArray>()?;
    let status = c.str("status")?;
    let start = c.ts("query_start_time")?;
    let end = c.ts("query_end_time")?;
    let matched = c.i64("records_matched")?;
    let scanned = c.i64("records_scanned")?;
    let bytes = c.i64("bytes_scanned")?;
    for i in 0..c.rows() {
        let j = &mut out.json;
        let range = groups.range(i);
        j.begin_object();
        j.field_str("queryId", query_id.value(i));
        j.field_str("queryLanguage", "CWLI");
        j.field_str("queryString", query.value(i));
        j.field_str("status", status.value(i));
        j.key("createTime");
        j.epoch_millis(ts.value(i));
        // QueryInfo names one log group: the first queried.
        if let Some(first) = range.clone().next() {
            j.field_str("logGroupName", group.value(first));
        }
        j.key("statistics");
        j.begin_object();
        j.field_f64("recordsMatched", matched.value(i) as f64);
        j.field_f64("recordsScanned", scanned.value(i) as f64);
        j.field_f64("bytesScanned", bytes.value(i) as f64);
        j.field_f64("logGroupsScanned", range.len() as f64);
        j.end_object();
        j.key("_logGroupNames");
        j.begin_array();
        for g in range {
            j.str(group.value(g));
        }
        j.end_array();
        j.field_i64("_startTime", start.value(i).div_euclid(SECOND));
        j.field_i64("_endTime", end.value(i).div_euclid(SECOND));
        j.end_object();
        out.end_line()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use crate::sink::JsonLines;
    use crate::sources::Table;
    use crate::time::{HOUR, parse_instant};
    use crate::world::{TimeRange, World};
    use serde_json::Value;

    /// Each table writes one JSON object per row, with its record key.
    #[test]
    fn one_line_per_row_with_its_key() {
        let start = parse_instant("2026-11-23T10:00:00Z").expect("instant");
        let cfg = Config::defaults().expect("defaults");
        let world = World::plan(
            cfg,
            42,
            0.3,
            TimeRange {
                start,
                end: start + HOUR,
            },
        );
        let tables: [(&dyn Table, &str, &str); 4] = [
            (&super::super::Metrics, "/_record_id", "record_id"),
            (&super::super::Logs, "/eventId", "event_id"),
            (&super::super::Alarms, "/id", "event_id"),
            (&super::super::InsightsQueries, "/queryId", "query_id"),
        ];
        for (t, pointer, column) in tables {
            let batch = t.render(&world, start).expect("render");
            let mut out = JsonLines::memory();
            t.write_native(&world, start, &batch, &mut out)
                .expect("write_native");
            let text = out.into_text().expect("text");
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines.len(), batch.num_rows(), "{}", t.name());
            let keys = super::Columns::new(&batch).str(column).expect("key column");
            for (i, l) in lines.iter().enumerate() {
                let v: Value = serde_json::from_str(l).expect("JSON");
                assert_eq!(v.pointer(pointer), Some(&Value::from(keys.value(i))), "{l}");
            }
        }
    }
}
