//! `grafana/panel_series`: one point of one series of one dashboard panel. The values are
//! the world's own: a Prometheus panel evaluates its query over the same container samples
//! `kubernetes/metrics` holds, a CloudWatch panel reads the same datapoints as
//! `cloudwatch/metrics`.

use crate::config::{DashboardDef, Datasource, PanelDef, PromFunction};
use crate::error::Error;
use crate::labels::AnomalyRole;
use crate::rng::{str_key, stream};
use crate::sink::JsonLines;
use crate::sources::cloudwatch::series::panel_reads;
use crate::sources::cloudwatch::{DatapointCache, MetricSeries};
use crate::sources::kubernetes::{
    ContainerSample, container_model, container_sample, scrape_times,
};
use crate::sources::{CommonColumns, Source, Table, table_schema};
use crate::time::{HOUR, MINUTE, Micros, SECOND};
use crate::world::World;
use arrow::array::{
    ArrayRef, Float64Builder, Int32Builder, ListBuilder, StringBuilder, StructBuilder,
};
use arrow::datatypes::{DataType, Field, Fields, SchemaRef};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use std::fmt::Write;
use std::sync::Arc;

pub struct PanelSeries;

/// Prometheus's lookback: an instant query sees samples up to 5 minutes old.
const LOOKBACK: Micros = 5 * MINUTE;

fn label_fields() -> Fields {
    Fields::from(vec![
        Field::new("name", DataType::Utf8, false),
        Field::new("value", DataType::Utf8, false),
    ])
}

/// The item of `series_labels`: a non-null `{name, value}` struct (the same shape as
/// `dimensions` in cloudwatch/metrics).
fn label_item() -> Arc<Field> {
    Arc::new(Field::new("item", DataType::Struct(label_fields()), false))
}

/// Reads one Kubernetes metric from a container sample.
fn prom_value(metric: &str, x: &ContainerSample, limit_bytes: u64) -> f64 {
    match metric {
        "container_cpu_usage_seconds_total" => x.cpu_seconds,
        "container_cpu_cfs_throttled_periods_total" => x.cfs_throttled as f64,
        "container_memory_working_set_bytes" => x.working_set_bytes as f64,
        "container_spec_memory_limit_bytes" => limit_bytes as f64,
        "container_oom_events_total" => x.oom_events as f64,
        "container_network_receive_bytes_total" => x.rx_bytes as f64,
        "container_network_transmit_bytes_total" => x.tx_bytes as f64,
        "kube_pod_container_status_restarts_total" => x.restarts as f64,
        _ => f64::from(u8::from(x.ready)),
    }
}

/// One planned point: (timestamp, panel index in the flattened panel list, series key, value).
struct Point {
    ts: Micros,
    panel: u32,
    /// Pod index (Prometheus) or series index (CloudWatch).
    series: u32,
    value: f64,
    /// Ground truth of the row behind the point (`u32::MAX` / `None` when normal); its
    /// phase is the one of the point's own timestamp.
    incident: u32,
    role: AnomalyRole,
}

impl Table for PanelSeries {
    fn source(&self) -> Source {
        Source::Grafana
    }
    fn name(&self) -> &'static str {
        "panel_series"
    }
    fn code(&self) -> &'static str {
        "gps"
    }

    fn schema(&self) -> SchemaRef {
        table_schema(vec![
            Field::new("dashboard_uid", DataType::Utf8, false),
            Field::new("dashboard_title", DataType::Utf8, false),
            Field::new("panel_id", DataType::Int32, false),
            Field::new("panel_title", DataType::Utf8, false),
            Field::new("ref_id", DataType::Utf8, false),
            Field::new("datasource", DataType::Utf8, false),
            Field::new("datasource_uid", DataType::Utf8, false),
            Field::new("query", DataType::Utf8, false),
            Field::new("series_name", DataType::Utf8, false),
            Field::new("series_labels", DataType::List(label_item()), false),
            Field::new("value", DataType::Float64, false),
            Field::new("unit", DataType::Utf8, false),
        ])
    }

    fn render(&self, world: &World, hour: Micros) -> Result<RecordBatch, ArrowError> {
        let end = hour + HOUR;
        let step = world.config.generation.sources.grafana.refresh_seconds as Micros * SECOND;
        let panels: Vec<(&DashboardDef, &PanelDef)> = world
            .config
            .services
            .dashboards
            .iter()
            .flat_map(|d| d.panels.iter().map(move |p| (d, p)))
            .collect();
        let cache = DatapointCache::new(world);
        // The series `cloudwatch/metrics` writes at each metric's own statistic and native
        // period; not the alarms' extra (statistic, period) variants, which would plot a
        // second, identically labelled series of the same resource in the panel.
        let table = cache.table().clone();
        let cw_series = &table.series[..table.base_len];
        let mut points: Vec<Point> = Vec::new();
        for (pi, (_, panel)) in panels.iter().enumerate() {
            match panel.datasource {
                Datasource::Prometheus => {
                    prometheus_points(world, panel, pi as u32, hour, end, step, &mut points)
                }
                Datasource::Cloudwatch => {
                    for (si, s) in cw_series.iter().enumerate() {
                        if !panel_reads(panel, s) {
                            continue;
                        }
                        // One datapoint per refresh, at period starts: the stride is the
                        // smallest multiple of the period not below the refresh interval
                        // (period starts are the only instants with a datapoint).
                        let period = s.period_seconds as Micros * SECOND;
                        let stride = period * ((step + period - 1) / period).max(1);
                        let mut t = hour;
                        while t < end {
                            // The datapoint and the ground truth of its cloudwatch/metrics
                            // row (the base series are the first of the series table):
                            // shared with the metrics table.
                            if let Some(value) =
                                cache.series_stat(si, t).map(|v| v.get(s.statistic))
                            {
                                let (incident, role) = cache
                                    .series_label(si, t)
                                    .unwrap_or((u32::MAX, AnomalyRole::None));
                                points.push(Point {
                                    ts: t,
                                    panel: pi as u32,
                                    series: si as u32,
                                    value,
                                    incident,
                                    role,
                                });
                            }
                            t += stride;
                        }
                    }
                }
            }
        }
        points.sort_by_key(|p| (p.ts, p.panel, p.series));
        write(self, world, hour, &panels, &cache, cw_series, &points)
    }

    /// One `/api/ds/query` response per panel refresh (see `native`).
    fn write_native(
        &self,
        world: &World,
        _hour: Micros,
        batch: &RecordBatch,
        out: &mut JsonLines,
    ) -> Result<(), Error> {
        super::native::write_panel_series(world, batch, out)
    }
}

/// What a Prometheus panel's `function` shows at time `t` of the samples in its window
/// `(t - window, t]` (their times and values, oldest first): the last value, or
/// Prometheus's `rate()`: the increase between the first and last samples (a drop starts
/// a new counter), extrapolated towards the window's edges as Prometheus extrapolates it
/// (all the way to an edge less than 1.1 average intervals away, else half an interval; not
/// below the time the counter would have been zero), per second of the window; `None` when
/// the window has fewer than two samples.
fn evaluate(
    function: PromFunction,
    t: Micros,
    window: Micros,
    times: impl DoubleEndedIterator<Item = Micros> + Clone,
    values: impl Iterator<Item = f64>,
) -> Option<f64> {
    match function {
        PromFunction::Instant => values.last(),
        PromFunction::Rate => {
            let (mut first, mut prev, mut n, mut inc) = (None, None, 0usize, 0.0);
            for v in values {
                if let Some(p) = prev {
                    inc += if v >= p { v - p } else { v };
                }
                first.get_or_insert(v);
                prev = Some(v);
                n += 1;
            }
            let (a, b) = (times.clone().next()?, times.last()?);
            let secs = |d: Micros| d as f64 / SECOND as f64;
            let sampled = secs(b - a);
            if n < 2 || sampled <= 0.0 {
                return None;
            }
            let mut to_start = secs(a - (t - window));
            let to_end = secs(t - b);
            let average = sampled / (n - 1) as f64;
            let first = first?;
            if inc > 0.0 && first >= 0.0 {
                to_start = to_start.min(sampled * (first / inc));
            }
            let threshold = average * 1.1;
            let mut interval = sampled;
            interval += if to_start < threshold {
                to_start
            } else {
                average / 2.0
            };
            interval += if to_end < threshold {
                to_end
            } else {
                average / 2.0
            };
            Some(inc * (interval / sampled) / secs(window))
        }
    }
}

/// Points of a Prometheus panel: one per pod per step, evaluated over the pod's scrapes.
fn prometheus_points(
    world: &World,
    panel: &PanelDef,
    pi: u32,
    hour: Micros,
    end: Micros,
    step: Micros,
    out: &mut Vec<Point>,
) {
    let metric = panel.metric.value.as_str();
    let window = panel.window_seconds as Micros * SECOND;
    let reach = match panel.function {
        PromFunction::Instant => LOOKBACK,
        PromFunction::Rate => window,
    };
    for s in 0..world.topology.services.len() {
        let svc = world.service(s);
        if panel
            .namespace
            .as_ref()
            .is_some_and(|ns| *ns != svc.namespace)
        {
            continue;
        }
        for p in world.pods.pods_overlapping(s, hour - reach, end) {
            // The pod's samples that any step of this hour can see, oldest first, with the
            // incident and role of their kubernetes/metrics row.
            let model = container_model(world, p);
            let samples: Vec<(Micros, f64, u32, AnomalyRole)> =
                scrape_times(world, p, hour - reach, end)
                    .map(|t| {
                        let x = container_sample(world, &model, p, t);
                        (
                            t,
                            prom_value(metric, &x, svc.memory_limit_bytes),
                            x.incident,
                            x.role,
                        )
                    })
                    .collect();
            if samples.is_empty() {
                continue;
            }
            // What the twin's samples show (at the twin pod's own scrapes: an incident's
            // restart leaves gaps the twin does not have), for a pod an incident acts on
            // (the same pod in the twin world, if it has it): a point takes a label only
            // where its value differs from the twin's point.
            let twin: Option<Vec<(Micros, f64)>> =
                samples.iter().any(|s| s.3 != AnomalyRole::None).then(|| {
                    let tw = world.twin_at(hour);
                    let pod = world.pod(p);
                    let same = tw
                        .pods
                        .slots
                        .get(pod.service)
                        .and_then(|slots| slots.get(pod.slot as usize))
                        .and_then(|slot| slot.iter().copied().find(|&q| tw.pod(q).key == pod.key));
                    match same {
                        Some(q) => {
                            let model = container_model(tw, q);
                            scrape_times(tw, q, hour - reach, end)
                                .map(|t| {
                                    let x = container_sample(tw, &model, q, t);
                                    (t, prom_value(metric, &x, svc.memory_limit_bytes))
                                })
                                .collect()
                        }
                        // Not in the twin: every point differs.
                        None => Vec::new(),
                    }
                });
            let mut t = hour;
            while t < end {
                // samples in (t - reach, t]
                let hi = samples.partition_point(|s| s.0 <= t);
                let lo = samples.partition_point(|s| s.0 <= t - reach);
                let seen = &samples[lo..hi];
                let times = || seen.iter().map(|s| s.0);
                let value = evaluate(panel.function, t, reach, times(), seen.iter().map(|s| s.1));
                if let Some(value) = value {
                    // The label of the sample shown (instant), or of the latest anomalous
                    // sample the rate was computed over, where the twin shows another value.
                    let labelled = match panel.function {
                        PromFunction::Instant => seen.last(),
                        PromFunction::Rate => seen.iter().rev().find(|s| s.3 != AnomalyRole::None),
                    };
                    let changed = || {
                        twin.as_ref().is_none_or(|twin| {
                            let hi = twin.partition_point(|s| s.0 <= t);
                            let lo = twin.partition_point(|s| s.0 <= t - reach);
                            let seen = &twin[lo..hi];
                            evaluate(
                                panel.function,
                                t,
                                reach,
                                seen.iter().map(|s| s.0),
                                seen.iter().map(|s| s.1),
                            ) != Some(value)
                        })
                    };
                    let (incident, role) = match labelled {
                        Some(s) if s.3 != AnomalyRole::None && changed() => (s.2, s.3),
                        _ => (u32::MAX, AnomalyRole::None),
                    };
                    out.push(Point {
                        ts: t,
                        panel: pi,
                        series: p as u32,
                        value,
                        incident,
                        role,
                    });
                }
                t += step;
            }
        }
    }
}

fn write(
    table: &PanelSeries,
    world: &World,
    hour: Micros,
    panels: &[(&DashboardDef, &PanelDef)],
    cache: &DatapointCache,
    cw_series: &[MetricSeries],
    points: &[Point],
) -> Result<RecordBatch, ArrowError> {
    let n = points.len();
    // Record-id keys of each panel's dashboard and each CloudWatch series, hashed once.
    let dash_keys: Vec<u64> = panels.iter().map(|(d, _)| str_key(&d.uid.value)).collect();
    let series_keys: Vec<(u64, u64)> = cw_series
        .iter()
        .map(|s| (str_key(&s.resource), str_key(s.metric)))
        .collect();
    let mut common = CommonColumns::new(table.code(), hour, n);
    let mut uid = StringBuilder::with_capacity(n, n * 16);
    let mut title = StringBuilder::with_capacity(n, n * 32);
    let mut panel_id = Int32Builder::with_capacity(n);
    let mut panel_title = StringBuilder::with_capacity(n, n * 24);
    let mut ref_id = StringBuilder::with_capacity(n, n);
    let mut ds = StringBuilder::with_capacity(n, n * 10);
    let mut ds_uid = StringBuilder::with_capacity(n, n * 17);
    let mut query = StringBuilder::with_capacity(n, n * 90);
    let mut series_name = StringBuilder::with_capacity(n, n * 30);
    let mut labels = ListBuilder::new(StructBuilder::from_fields(label_fields(), n * 3))
        .with_field(label_item());
    let mut value = Float64Builder::with_capacity(n);
    let mut unit = StringBuilder::with_capacity(n, n * 6);
    let cluster = &world.config.services.cluster.name;
    for pt in points {
        let (dash, panel) = panels[pt.panel as usize];
        uid.append_value(&dash.uid.value);
        title.append_value(&dash.title);
        panel_id.append_value(panel.id as i32);
        panel_title.append_value(&panel.title);
        ref_id.append_value("A");
        value.append_value(pt.value);
        unit.append_value(&panel.unit);
        let lb = labels.values();
        match panel.datasource {
            Datasource::Prometheus => {
                let pod = world.pod(pt.series as usize);
                let svc = world.service(pod.service);
                ds.append_value("prometheus");
                ds_uid.append_value("prometheus-eks");
                let metric = panel.metric.value.as_str();
                let sel = match &panel.namespace {
                    Some(ns) => format!("{{namespace=\"{ns}\", container!=\"\"}}"),
                    None => "{container!=\"\"}".to_string(),
                };
                match panel.function {
                    PromFunction::Instant => {
                        let _ = write!(query, "{metric}{sel}");
                    }
                    PromFunction::Rate => {
                        let _ = write!(query, "rate({metric}{sel}[{}s])", panel.window_seconds);
                    }
                }
                query.append_value("");
                series_name.append_value(&pod.name);
                for (k, v) in [
                    ("namespace", svc.namespace.as_str()),
                    ("pod", pod.name.as_str()),
                    ("container", svc.name.as_str()),
                    ("cluster", cluster.as_str()),
                ] {
                    append_label(lb, k, v);
                }
                labels.append(true);
                // A panel, its series (the pod) and the point's time.
                let key = stream(
                    pod.key,
                    &[dash_keys[pt.panel as usize], panel.id as u64, pt.ts as u64],
                );
                common.append(
                    pt.ts,
                    key,
                    &svc.name,
                    &world.label(pt.incident, pt.role, pt.ts),
                );
            }
            Datasource::Cloudwatch => {
                let s = &cw_series[pt.series as usize];
                ds.append_value("cloudwatch");
                ds_uid.append_value("cloudwatch-prod");
                let _ = write!(
                    query,
                    "{{\"namespace\":\"{}\",\"metricName\":\"{}\",\"dimensions\":{{",
                    s.namespace, s.metric
                );
                for (i, (k, v)) in s.dimensions.iter().enumerate() {
                    let _ = write!(query, "{}\"{k}\":[\"{v}\"]", if i > 0 { "," } else { "" });
                }
                let _ = write!(
                    query,
                    "}},\"statistic\":\"{}\",\"period\":\"{}\",\"region\":\"{}\"}}",
                    s.statistic.as_str(),
                    s.period_seconds,
                    world.config.services.cluster.region
                );
                query.append_value("");
                let _ = write!(series_name, "{} {}", s.resource, s.metric);
                series_name.append_value("");
                for (k, v) in &s.dimensions {
                    append_label(lb, k, v);
                }
                labels.append(true);
                // The same service as the series' rows in cloudwatch/metrics.
                let service = match cache.resolve(s) {
                    Some(r) => cache.model.resource_service(world, r.kind, r.r),
                    None => cluster.as_str(),
                };
                let (resource_key, metric_key) = series_keys[pt.series as usize];
                let key = stream(
                    dash_keys[pt.panel as usize],
                    &[panel.id as u64, resource_key, metric_key, pt.ts as u64],
                );
                common.append(
                    pt.ts,
                    key,
                    service,
                    &world.label(pt.incident, pt.role, pt.ts),
                );
            }
        }
    }
    let own: Vec<ArrayRef> = vec![
        Arc::new(uid.finish()),
        Arc::new(title.finish()),
        Arc::new(panel_id.finish()),
        Arc::new(panel_title.finish()),
        Arc::new(ref_id.finish()),
        Arc::new(ds.finish()),
        Arc::new(ds_uid.finish()),
        Arc::new(query.finish()),
        Arc::new(series_name.finish()),
        Arc::new(labels.finish()),
        Arc::new(value.finish()),
        Arc::new(unit.finish()),
    ];
    common.finish(table.schema(), own)
}

fn append_label(b: &mut StructBuilder, k: &str, v: &str) {
    if let Some(f) = b.field_builder::<StringBuilder>(0) {
        f.append_value(k);
    }
    if let Some(f) = b.field_builder::<StringBuilder>(1) {
        f.append_value(v);
    }
    b.append(true);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(t: Micros, window: Micros, samples: &[(Micros, f64)]) -> Option<f64> {
        evaluate(
            PromFunction::Rate,
            t,
            window,
            samples.iter().map(|s| s.0),
            samples.iter().map(|s| s.1),
        )
    }

    /// Prometheus's `rate()` (promql/functions.go, extrapolatedRate) on the same samples.
    #[test]
    fn rate_extrapolates_as_prometheus_does() {
        let s = SECOND;
        // Scrapes every 30 s, 10 s after the window's edges: extrapolated all the way, the
        // slope (1 per second).
        let steady = [
            (-110 * s, 1000.0),
            (-80 * s, 1030.0),
            (-50 * s, 1060.0),
            (-20 * s, 1090.0),
        ];
        let r = rate(0, 120 * s, &steady).unwrap();
        assert!((r - 1.0).abs() < 1e-12, "{r}");
        // A series that starts in the window (first sample 70 s after its start, more
        // than 1.1 intervals): extrapolated half an interval at the start, 90 + 15 + 20 s.
        let late = [(-50 * s, 1000.0), (-20 * s, 1030.0)];
        let r = rate(0, 120 * s, &late).unwrap();
        assert!(
            (r - 30.0 * (30.0 + 15.0 + 20.0) / 30.0 / 120.0).abs() < 1e-12,
            "{r}"
        );
        // A new counter (first value 3 after 30 s of increase 30): not extrapolated to
        // before its zero, 3 s before the first sample.
        let fresh = [
            (-110 * s, 3.0),
            (-80 * s, 33.0),
            (-50 * s, 63.0),
            (-20 * s, 93.0),
        ];
        let r = rate(0, 120 * s, &fresh).unwrap();
        assert!(
            (r - 90.0 * (90.0 + 3.0 + 20.0) / 90.0 / 120.0).abs() < 1e-12,
            "{r}"
        );
        // A reset: the increase counts the new counter from zero.
        let reset = [
            (-110 * s, 1000.0),
            (-80 * s, 1030.0),
            (-50 * s, 20.0),
            (-20 * s, 50.0),
        ];
        let r = rate(0, 120 * s, &reset).unwrap();
        assert!(
            (r - 80.0 * (90.0 + 10.0 + 20.0) / 90.0 / 120.0).abs() < 1e-12,
            "{r}"
        );
        assert_eq!(rate(0, 120 * s, &steady[..1]), None);
    }
}
