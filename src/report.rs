//! `obsgen report`: one self-contained HTML page (no script, no network) to look at a
//! dataset: the incident timeline by service and type over the range with the phases
//! shaded; for each incident, small multiples of what every source shows of its service on
//! one time axis (log error lines, Sentry errors, transaction p95, memory, CPU, and the
//! alarms, annotations and warning events); the rows per table and their label shares.
//! Charts are inline SVG.

use crate::dataset::{read_columns, read_manifest};
use crate::error::Error;
use crate::inspect::Stats;
use crate::score::truth::{micros, strings};
use crate::time::{HOUR, MINUTE, Micros, floor_hour, rfc3339_string};
use arrow::array::{Array, AsArray};
use arrow::datatypes::{Float64Type, Int64Type};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What `obsgen report` draws.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// Incidents drawn in detail (the first in time); the timeline shows them all.
    pub max_incidents: usize,
    /// Minutes shown before an incident's start and after its end.
    pub margin_minutes: i64,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            max_incidents: 100,
            margin_minutes: 30,
        }
    }
}

/// What a report holds.
#[derive(Debug, Clone, Default)]
pub struct ReportSummary {
    pub incidents: usize,
    /// Incidents drawn in detail.
    pub detailed: usize,
    /// `<svg>` charts in the page.
    pub charts: usize,
    pub bytes: usize,
}

/// One incident of `labels/incidents`.
struct Incident {
    id: String,
    kind: String,
    severity: String,
    title: String,
    root: String,
    /// The root cause's entity (a node, a resource...) for a cause outside the services.
    entity: String,
    service: Option<String>,
    affected: Vec<String>,
    sources: Vec<String>,
    /// start, onset, peak, recovery, end
    times: [Micros; 5],
}

/// Writes the report of the dataset in `dir` to `out`.
pub fn write_report(
    dir: &Path,
    out: &mut dyn Write,
    opts: &ReportOptions,
) -> Result<ReportSummary, Error> {
    let m = read_manifest(dir)?;
    let start = crate::time::parse_instant(&m.start)
        .ok_or_else(|| Error::Invalid(format!("manifest: start `{}`", m.start)))?;
    let end = crate::time::parse_instant(&m.end)
        .ok_or_else(|| Error::Invalid(format!("manifest: end `{}`", m.end)))?;
    let stats = Stats::read(dir)?;
    let incidents = read_incidents(dir)?;
    let mut hours = HourFiles::new(&m, dir);
    let mut page = String::with_capacity(1 << 20);
    let mut charts = 0;
    let types: Vec<String> = {
        let mut t: Vec<String> = incidents.iter().map(|i| i.kind.clone()).collect();
        t.sort();
        t.dedup();
        t
    };
    let color =
        |kind: &str| PALETTE[types.iter().position(|t| t == kind).unwrap_or(0) % PALETTE.len()];

    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>obsgen report: {}</title><style>{CSS}</style></head><body>\n",
        esc(&dir.display().to_string())
    );
    let _ = writeln!(
        page,
        "<h1>obsgen dataset report</h1><p class=\"meta\">{} &middot; seed {} &middot; {} .. {} \
         &middot; scale {} &middot; {}{} &middot; {} source records, {} labelled ({:.2}%) \
         &middot; {} incidents</p>",
        esc(&dir.display().to_string()),
        m.seed,
        esc(&m.start),
        esc(&m.end),
        m.scale,
        esc(&m.sources.join(", ")),
        if m.incidents {
            ""
        } else {
            " &middot; twin (--incidents off)"
        },
        stats.records,
        stats.labelled_records,
        100.0 * stats.labelled_records as f64 / stats.records.max(1) as f64,
        incidents.len()
    );

    // The timeline.
    page.push_str("<h2>Incident timeline</h2>\n");
    page.push_str(&timeline(&incidents, start, end, &color));
    charts += 1;
    page.push_str("<p class=\"legend\">");
    for t in &types {
        let _ = write!(
            page,
            "<span><i style=\"background:{}\"></i>{}</span>",
            color(t),
            esc(t)
        );
    }
    page.push_str(
        "<span class=\"phases\">bars: precursor (faint), onset, peak (solid), recovery</span></p>\n",
    );

    // Volumes and label shares.
    page.push_str("<h2>Rows per table and label shares</h2>\n");
    page.push_str(&volumes(&stats));
    charts += 1;

    // Each incident.
    let detailed = incidents.len().min(opts.max_incidents);
    let _ = writeln!(
        page,
        "<h2>Incidents ({detailed} of {} drawn)</h2>",
        incidents.len()
    );
    let margin = opts.margin_minutes.max(0) * MINUTE;
    for inc in incidents.iter().take(detailed) {
        let from = (inc.times[0] - margin).max(start);
        let to = (inc.times[4] + margin).min(end);
        let service = inc
            .service
            .clone()
            .or_else(|| inc.affected.first().cloned());
        let signals = match &service {
            Some(s) => hours.signals(s, from, to)?,
            None => Signals::default(),
        };
        let _ = writeln!(
            page,
            "<section id=\"{id}\"><h3><i style=\"background:{c}\"></i>{id} &middot; {kind} &middot; {sev}</h3>\
             <p class=\"meta\">{title}. Root cause: {root}. {s} .. {e}; affected: {aff}; shows in: {src}. \
             Signals of <b>{svc}</b>.</p>",
            id = esc(&inc.id),
            c = color(&inc.kind),
            kind = esc(&inc.kind),
            sev = esc(&inc.severity),
            title = esc(&inc.title),
            root = esc(&inc.root),
            s = rfc3339_string(inc.times[0]),
            e = rfc3339_string(inc.times[4]),
            aff = esc(&inc.affected.join(", ")),
            src = esc(&inc.sources.join(", ")),
            svc = esc(service.as_deref().unwrap_or("(no service)")),
        );
        let panels: [(&str, &[(Micros, f64)]); 5] = [
            (
                "kubernetes/pod_logs: error and fatal lines per minute",
                &signals.log_errors,
            ),
            ("sentry/errors: events per minute", &signals.sentry_errors),
            ("sentry/transactions: p95 duration (ms)", &signals.p95_ms),
            (
                "kubernetes/metrics: largest pod working set (MiB)",
                &signals.memory_mib,
            ),
            (
                "kubernetes/metrics: CPU, sum over pods (cores)",
                &signals.cpu_cores,
            ),
        ];
        page.push_str("<div class=\"multiples\">");
        for (title, points) in panels {
            page.push_str(&line_chart(
                title,
                points,
                from,
                to,
                &inc.times,
                color(&inc.kind),
            ));
            charts += 1;
        }
        page.push_str(&markers_chart(&signals.markers, from, to, &inc.times));
        charts += 1;
        page.push_str("</div></section>\n");
    }
    page.push_str(
        "<p class=\"meta\">Made by obsgen report. Every chart reads the dataset's own files; \
         shaded bands are the incident's phases (labels/incidents).</p></body></html>\n",
    );
    out.write_all(page.as_bytes())
        .map_err(|e| Error::Other(format!("writing the report: {e}")))?;
    Ok(ReportSummary {
        incidents: incidents.len(),
        detailed,
        charts,
        bytes: page.len(),
    })
}

const CSS: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px;color:#222;max-width:1100px}\
h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd}h3{font-size:15px;margin:18px 0 4px}\
.meta{color:#555;font-size:13px}.legend span{display:inline-block;margin-right:14px;font-size:12px}\
i{display:inline-block;width:11px;height:11px;margin-right:5px;border-radius:2px;vertical-align:middle}\
svg{display:block;margin:2px 0}svg text{font-size:10px;fill:#444}.multiples{border-left:3px solid #eee;padding-left:8px}\
section{page-break-inside:avoid}";

const PALETTE: [&str; 12] = [
    "#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
    "#bcbd22", "#7f7f7f", "#393b79", "#ad494a",
];

/// Opacity of the phases precursor, onset, peak, recovery.
const PHASE_OPACITY: [f64; 4] = [0.25, 0.6, 1.0, 0.45];

/// HTML/XML text with `&`, `<`, `>` and `"` escaped.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            c => o.push(c),
        }
    }
    o
}

fn read_incidents(dir: &Path) -> Result<Vec<Incident>, Error> {
    let path = dir.join("labels/incidents.parquet");
    if !path.exists() {
        return Ok(Vec::new());
    }
    let b = crate::score::truth::read_parquet(&path)?;
    let id = strings(&b, "incident_id")?;
    let kind = strings(&b, "incident_type")?;
    let sev = strings(&b, "severity")?;
    let title = strings(&b, "title")?;
    let root_kind = strings(&b, "root_cause_kind")?;
    let root_entity = strings(&b, "root_cause_entity")?;
    let root_service = strings(&b, "root_cause_service")?;
    let lists = |name: &str| -> Result<Vec<Vec<String>>, Error> {
        let c = b
            .column_by_name(name)
            .ok_or_else(|| Error::Invalid(format!("labels/incidents: no column `{name}`")))?;
        let l = c
            .as_list_opt::<i32>()
            .ok_or_else(|| Error::Invalid(format!("labels/incidents: `{name}` is not a list")))?;
        Ok((0..l.len())
            .map(|r| {
                let v = l.value(r);
                arrow::compute::cast(&v, &arrow::datatypes::DataType::Utf8)
                    .map(|a| {
                        a.as_string::<i32>()
                            .iter()
                            .flatten()
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default()
            })
            .collect())
    };
    let affected = lists("affected_services")?;
    let sources = lists("sources_with_signal")?;
    let times: Vec<Vec<Option<Micros>>> = ["start", "onset", "peak", "recovery", "end"]
        .iter()
        .map(|n| micros(&b, n))
        .collect::<Result<_, _>>()?;
    let mut out = Vec::new();
    for r in 0..b.num_rows() {
        let t = |i: usize| times[i][r].unwrap_or_default();
        out.push(Incident {
            id: id.value(r).to_string(),
            kind: kind.value(r).to_string(),
            severity: sev.value(r).to_string(),
            title: title.value(r).to_string(),
            root: format!("{} {}", root_kind.value(r), root_entity.value(r)),
            entity: root_entity.value(r).to_string(),
            service: (!root_service.is_null(r)).then(|| root_service.value(r).to_string()),
            affected: affected[r].clone(),
            sources: sources[r].clone(),
            times: [t(0), t(1), t(2), t(3), t(4)],
        });
    }
    out.sort_by(|a, b| (a.times[0], &a.id).cmp(&(b.times[0], &b.id)));
    Ok(out)
}

/// A point in time on a marker lane.
#[derive(Clone)]
struct Marker {
    ts: Micros,
    /// 0 alarms, 1 annotations, 2 warning events
    lane: usize,
    color: &'static str,
    text: String,
}

/// What the incident charts show of one service over a window.
#[derive(Default)]
struct Signals {
    log_errors: Vec<(Micros, f64)>,
    sentry_errors: Vec<(Micros, f64)>,
    p95_ms: Vec<(Micros, f64)>,
    memory_mib: Vec<(Micros, f64)>,
    cpu_cores: Vec<(Micros, f64)>,
    markers: Vec<Marker>,
}

/// (service, minute of the hour) -> pod -> (sum of its CPU rates, their count).
type PodRates<'a> = HashMap<(String, usize), HashMap<&'a str, (f64, f64)>>;

/// One hour's per-minute values of every service.
#[derive(Default)]
struct Hour {
    /// service -> minute of the hour -> value
    log_errors: HashMap<String, [f64; 60]>,
    sentry_errors: HashMap<String, [f64; 60]>,
    p95_ms: HashMap<String, [f64; 60]>,
    memory_mib: HashMap<String, [f64; 60]>,
    cpu_cores: HashMap<String, [f64; 60]>,
    markers: Vec<(String, Marker)>,
}

/// The dataset's files by (table, hour), and the hours read so far.
struct HourFiles {
    files: HashMap<(String, Micros), PathBuf>,
    hours: BTreeMap<Micros, Hour>,
}

impl HourFiles {
    fn new(m: &crate::sink::Manifest, dir: &Path) -> HourFiles {
        let mut files = HashMap::new();
        for f in &m.files {
            if f.format != "parquet" || f.path.starts_with("labels/") {
                continue;
            }
            if let Some(h) = crate::time::parse_instant(&f.hour) {
                files.insert((format!("{}/{}", f.source, f.table), h), dir.join(&f.path));
            }
        }
        HourFiles {
            files,
            hours: BTreeMap::new(),
        }
    }

    /// The signals of `service` in `[from, to)`.
    fn signals(&mut self, service: &str, from: Micros, to: Micros) -> Result<Signals, Error> {
        let mut s = Signals::default();
        let mut h = floor_hour(from);
        while h < to {
            if !self.hours.contains_key(&h) {
                let hour = self.read_hour(h)?;
                self.hours.insert(h, hour);
            }
            let hour = &self.hours[&h];
            for (map, out) in [
                (&hour.log_errors, &mut s.log_errors),
                (&hour.sentry_errors, &mut s.sentry_errors),
                (&hour.p95_ms, &mut s.p95_ms),
                (&hour.memory_mib, &mut s.memory_mib),
                (&hour.cpu_cores, &mut s.cpu_cores),
            ] {
                let values = map.get(service);
                for (i, t) in (0..60).map(|i| (i, h + i as i64 * MINUTE)) {
                    if t < from || t >= to {
                        continue;
                    }
                    let v = values.map_or(0.0, |v| v[i]);
                    if !v.is_nan() {
                        out.push((t, v));
                    }
                }
            }
            s.markers.extend(
                hour.markers
                    .iter()
                    .filter(|(svc, m)| svc == service && m.ts >= from && m.ts < to)
                    .map(|(_, m)| m.clone()),
            );
            h += HOUR;
        }
        Ok(s)
    }

    /// Reads the per-minute values of hour `h` of every table it needs.
    fn read_hour(&self, h: Micros) -> Result<Hour, Error> {
        let mut hour = Hour::default();
        let minute = |t: Micros| ((t - h).div_euclid(MINUTE)).clamp(0, 59) as usize;
        let file = |table: &str| self.files.get(&(table.to_string(), h));
        if let Some(p) = file("kubernetes/pod_logs") {
            let b = read_columns(p, &["timestamp", "service", "level"])?;
            let (ts, svc, level) = (
                micros(&b, "timestamp")?,
                strings(&b, "service")?,
                strings(&b, "level")?,
            );
            for (r, t) in ts.iter().enumerate() {
                if matches!(level.value(r), "error" | "fatal") {
                    let e = hour
                        .log_errors
                        .entry(svc.value(r).to_string())
                        .or_insert([0.0; 60]);
                    e[minute(t.unwrap_or(h))] += 1.0;
                }
            }
        }
        if let Some(p) = file("sentry/errors") {
            let b = read_columns(p, &["timestamp", "service"])?;
            let (ts, svc) = (micros(&b, "timestamp")?, strings(&b, "service")?);
            for (r, t) in ts.iter().enumerate() {
                let e = hour
                    .sentry_errors
                    .entry(svc.value(r).to_string())
                    .or_insert([0.0; 60]);
                e[minute(t.unwrap_or(h))] += 1.0;
            }
        }
        if let Some(p) = file("sentry/transactions") {
            let b = read_columns(p, &["timestamp", "service", "duration_ms"])?;
            let (ts, svc) = (micros(&b, "timestamp")?, strings(&b, "service")?);
            let d = b
                .column_by_name("duration_ms")
                .and_then(|c| arrow::compute::cast(c, &arrow::datatypes::DataType::Float64).ok())
                .ok_or_else(|| Error::Invalid("sentry/transactions: no duration_ms".into()))?;
            let d = d.as_primitive::<Float64Type>();
            let mut per: HashMap<(String, usize), Vec<f64>> = HashMap::new();
            for (r, t) in ts.iter().enumerate() {
                per.entry((svc.value(r).to_string(), minute(t.unwrap_or(h))))
                    .or_default()
                    .push(d.value(r));
            }
            for ((s, m), mut v) in per {
                v.sort_by(f64::total_cmp);
                let i = ((v.len() as f64 * 0.95).ceil() as usize).clamp(1, v.len()) - 1;
                hour.p95_ms.entry(s).or_insert([f64::NAN; 60])[m] = v[i];
            }
        }
        if let Some(p) = file("kubernetes/metrics") {
            let b = read_columns(
                p,
                &[
                    "timestamp",
                    "service",
                    "pod",
                    "container_memory_working_set_bytes",
                    "container_cpu_usage_seconds_total",
                ],
            )?;
            let (ts, svc, pod) = (
                micros(&b, "timestamp")?,
                strings(&b, "service")?,
                strings(&b, "pod")?,
            );
            let ws = b
                .column_by_name("container_memory_working_set_bytes")
                .and_then(|c| c.as_primitive_opt::<Int64Type>())
                .ok_or_else(|| Error::Invalid("kubernetes/metrics: no working set".into()))?;
            let cpu = b
                .column_by_name("container_cpu_usage_seconds_total")
                .and_then(|c| c.as_primitive_opt::<Float64Type>())
                .ok_or_else(|| Error::Invalid("kubernetes/metrics: no cpu".into()))?;
            let mut last: HashMap<&str, (Micros, f64)> = HashMap::new();
            // (service, minute) -> pod -> (sum of rates, samples)
            let mut rates: PodRates = HashMap::new();
            for (r, t) in ts.iter().enumerate() {
                let t = t.unwrap_or(h);
                let (s, p) = (svc.value(r), pod.value(r));
                let m = minute(t);
                let mem = hour
                    .memory_mib
                    .entry(s.to_string())
                    .or_insert([f64::NAN; 60]);
                let mib = ws.value(r) as f64 / (1u64 << 20) as f64;
                if mem[m].is_nan() || mib > mem[m] {
                    mem[m] = mib;
                }
                let c = cpu.value(r);
                if let Some((t0, c0)) = last.insert(p, (t, c))
                    && t > t0
                    && c >= c0
                {
                    let e = rates
                        .entry((s.to_string(), m))
                        .or_default()
                        .entry(p)
                        .or_insert((0.0, 0.0));
                    e.0 += (c - c0) / ((t - t0) as f64 / 1e6);
                    e.1 += 1.0;
                }
            }
            for ((s, m), pods) in rates {
                let v = hour.cpu_cores.entry(s).or_insert([f64::NAN; 60]);
                v[m] = pods.values().map(|(sum, n)| sum / n).sum();
            }
        }
        if let Some(p) = file("cloudwatch/alarms") {
            let b = read_columns(p, &["timestamp", "service", "alarm_name", "state"])?;
            let (ts, svc, name, state) = (
                micros(&b, "timestamp")?,
                strings(&b, "service")?,
                strings(&b, "alarm_name")?,
                strings(&b, "state")?,
            );
            for (r, t) in ts.iter().enumerate() {
                let alarm = state.value(r) == "ALARM";
                hour.markers.push((
                    svc.value(r).to_string(),
                    Marker {
                        ts: t.unwrap_or(h),
                        lane: 0,
                        color: if alarm { "#d62728" } else { "#2ca02c" },
                        text: format!("alarm {} -> {}", name.value(r), state.value(r)),
                    },
                ));
            }
        }
        if let Some(p) = file("grafana/annotations") {
            let b = read_columns(p, &["timestamp", "service", "text", "kind"])?;
            let (ts, svc, text, kind) = (
                micros(&b, "timestamp")?,
                strings(&b, "service")?,
                strings(&b, "text")?,
                strings(&b, "kind")?,
            );
            for (r, t) in ts.iter().enumerate() {
                hour.markers.push((
                    svc.value(r).to_string(),
                    Marker {
                        ts: t.unwrap_or(h),
                        lane: 1,
                        color: "#1f77b4",
                        text: format!("annotation ({}): {}", kind.value(r), text.value(r)),
                    },
                ));
            }
        }
        if let Some(p) = file("kubernetes/events") {
            let b = read_columns(p, &["timestamp", "service", "type", "reason", "message"])?;
            let (ts, svc, kind, reason, msg) = (
                micros(&b, "timestamp")?,
                strings(&b, "service")?,
                strings(&b, "type")?,
                strings(&b, "reason")?,
                strings(&b, "message")?,
            );
            for (r, t) in ts.iter().enumerate() {
                if kind.value(r) != "Warning" {
                    continue;
                }
                hour.markers.push((
                    svc.value(r).to_string(),
                    Marker {
                        ts: t.unwrap_or(h),
                        lane: 2,
                        color: "#ff7f0e",
                        text: format!("event {}: {}", reason.value(r), msg.value(r)),
                    },
                ));
            }
        }
        Ok(hour)
    }
}

const CHART_W: f64 = 900.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 12.0;

/// x of time `t` on a chart of `[from, to)`.
fn x_of(t: Micros, from: Micros, to: Micros) -> f64 {
    LEFT + (CHART_W - LEFT - RIGHT) * ((t - from) as f64 / (to - from).max(1) as f64)
}

/// Time ticks of `[from, to)`: a step of whole minutes, hours or days with 3 to 12 ticks.
fn ticks(from: Micros, to: Micros) -> Vec<Micros> {
    const STEPS: [i64; 12] = [5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080];
    let span = (to - from).max(1);
    let step = STEPS
        .iter()
        .map(|m| m * MINUTE)
        .find(|s| span / s <= 10)
        .unwrap_or(span / 6 + 1);
    let mut t = from.div_euclid(step) * step;
    if t < from {
        t += step;
    }
    let mut out = Vec::new();
    while t < to {
        out.push(t);
        t += step;
    }
    out
}

/// `HH:MM`, with the date at midnight or when the span is long.
fn tick_label(t: Micros, long: bool) -> String {
    let s = rfc3339_string(t);
    if long || s[11..16] == *"00:00" {
        format!("{} {}", &s[5..10], &s[11..16])
    } else {
        s[11..16].to_string()
    }
}

/// The time axis and the phase bands of an incident chart, `h` high.
fn frame(out: &mut String, from: Micros, to: Micros, times: &[Micros; 5], top: f64, h: f64) {
    for (i, w) in times.windows(2).enumerate() {
        let (a, b) = (w[0].clamp(from, to), w[1].clamp(from, to));
        if b > a {
            let _ = write!(
                out,
                "<rect x=\"{:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"#f2b8b5\" fill-opacity=\"{:.2}\"/>",
                x_of(a, from, to),
                (x_of(b, from, to) - x_of(a, from, to)).max(0.5),
                0.15 + 0.25 * PHASE_OPACITY[i]
            );
        }
    }
    let long = to - from > 2 * 24 * HOUR;
    for t in ticks(from, to) {
        let x = x_of(t, from, to);
        let _ = write!(
            out,
            "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{top:.1}\" y2=\"{:.1}\" stroke=\"#e4e4e4\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            top + h,
            top + h + 11.0,
            tick_label(t, long)
        );
    }
}

/// A compact number for an axis.
fn short(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}K", v / 1e3)
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// A small line chart of `points` over `[from, to)` with the incident's phases shaded.
fn line_chart(
    title: &str,
    points: &[(Micros, f64)],
    from: Micros,
    to: Micros,
    times: &[Micros; 5],
    color: &str,
) -> String {
    let (top, h) = (16.0, 58.0);
    let height = top + h + 16.0;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{CHART_W}\" height=\"{height}\" viewBox=\"0 0 {CHART_W} {height}\" role=\"img\" aria-label=\"{t}\"><text x=\"{LEFT}\" y=\"11\" font-weight=\"bold\">{t}</text>",
        t = esc(title)
    );
    frame(&mut s, from, to, times, top, h);
    let max = points.iter().map(|p| p.1).fold(0.0f64, f64::max);
    let ymax = if max > 0.0 { max * 1.1 } else { 1.0 };
    let y_of = |v: f64| top + h - h * (v / ymax);
    let _ = write!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">0</text>\
         <line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#999\"/>",
        LEFT - 4.0,
        top + 8.0,
        short(max),
        LEFT - 4.0,
        top + h,
        CHART_W - RIGHT,
        top + h,
        top + h
    );
    if points.is_empty() {
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\">no data</text>",
            LEFT + 8.0,
            top + h / 2.0
        );
    } else {
        s.push_str("<polyline fill=\"none\" stroke-width=\"1.5\" stroke=\"");
        s.push_str(color);
        s.push_str("\" points=\"");
        for (t, v) in points {
            let _ = write!(s, "{:.1},{:.1} ", x_of(*t, from, to), y_of(*v));
        }
        s.push_str("\"/>");
    }
    s.push_str("</svg>");
    s
}

/// The alarms, annotations and warning events of the window, one lane each.
fn markers_chart(markers: &[Marker], from: Micros, to: Micros, times: &[Micros; 5]) -> String {
    let (top, lane) = (16.0, 16.0);
    let h = lane * 3.0;
    let height = top + h + 16.0;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{CHART_W}\" height=\"{height}\" viewBox=\"0 0 {CHART_W} {height}\" role=\"img\" aria-label=\"markers\"><text x=\"{LEFT}\" y=\"11\" font-weight=\"bold\">cloudwatch/alarms (red ALARM, green OK), grafana/annotations, kubernetes/events warnings ({} in the window)</text>",
        markers.len()
    );
    frame(&mut s, from, to, times, top, h);
    for (i, name) in ["alarms", "annotations", "warnings"].iter().enumerate() {
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{name}</text>",
            LEFT - 4.0,
            top + lane * i as f64 + 11.0
        );
    }
    for m in markers {
        let x = x_of(m.ts, from, to);
        let y = top + lane * m.lane as f64 + 2.0;
        let _ = write!(
            s,
            "<rect x=\"{:.1}\" y=\"{y:.1}\" width=\"3\" height=\"{:.1}\" fill=\"{}\"><title>{} {}</title></rect>",
            x - 1.5,
            lane - 4.0,
            m.color,
            rfc3339_string(m.ts),
            esc(&m.text)
        );
    }
    s.push_str("</svg>");
    s
}

/// The incidents over the range, one row per root service, bars by type with the phases
/// shaded.
fn timeline(
    incidents: &[Incident],
    from: Micros,
    to: Micros,
    color: &dyn Fn(&str) -> &'static str,
) -> String {
    let mut services: Vec<String> = incidents
        .iter()
        .map(|i| i.service.clone().unwrap_or_else(|| i.entity.clone()))
        .collect();
    services.sort();
    services.dedup();
    let row = 18.0;
    let top = 6.0;
    let h = (services.len().max(1) as f64) * row;
    let height = top + h + 18.0;
    let left = 230.0;
    let xw = |t: Micros| {
        left + (CHART_W - left - RIGHT) * ((t - from) as f64 / (to - from).max(1) as f64)
    };
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{CHART_W}\" height=\"{height}\" viewBox=\"0 0 {CHART_W} {height}\" role=\"img\" aria-label=\"incident timeline\">"
    );
    let long = to - from > 2 * 24 * HOUR;
    for t in ticks(from, to) {
        let x = xw(t);
        let _ = write!(
            s,
            "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{top}\" y2=\"{:.1}\" stroke=\"#e4e4e4\"/><text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            top + h,
            top + h + 12.0,
            tick_label(t, long)
        );
    }
    for (i, svc) in services.iter().enumerate() {
        let y = top + row * i as f64;
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text><line x1=\"{left}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#f0f0f0\"/>",
            left - 6.0,
            y + 12.0,
            esc(svc),
            CHART_W - RIGHT,
            y + row,
            y + row
        );
    }
    for inc in incidents {
        let svc = inc.service.clone().unwrap_or_else(|| inc.entity.clone());
        let i = services.iter().position(|s| *s == svc).unwrap_or(0);
        let y = top + row * i as f64 + 3.0;
        let _ = write!(
            s,
            "<g><title>{} {} ({}) {} .. {}</title>",
            esc(&inc.id),
            esc(&inc.kind),
            esc(&inc.severity),
            rfc3339_string(inc.times[0]),
            rfc3339_string(inc.times[4])
        );
        for (p, w) in inc.times.windows(2).enumerate() {
            let (a, b) = (w[0].clamp(from, to), w[1].clamp(from, to));
            if b <= a && p != 2 {
                continue;
            }
            let _ = write!(
                s,
                "<rect x=\"{:.1}\" y=\"{y:.1}\" width=\"{:.2}\" height=\"{:.1}\" fill=\"{}\" fill-opacity=\"{:.2}\"/>",
                xw(a),
                (xw(b) - xw(a)).max(1.0),
                row - 6.0,
                color(&inc.kind),
                PHASE_OPACITY[p]
            );
        }
        s.push_str("</g>");
    }
    if incidents.is_empty() {
        let _ = write!(
            s,
            "<text x=\"{left}\" y=\"{:.1}\">no incident in the range</text>",
            top + 12.0
        );
    }
    s.push_str("</svg>");
    s
}

/// Rows per table (log scale) with each table's label share.
fn volumes(stats: &Stats) -> String {
    let tables: Vec<_> = stats
        .tables
        .iter()
        .filter(|t| t.format == "parquet" && t.source != "labels" && t.source != "correlation")
        .collect();
    let row = 18.0;
    let left = 210.0;
    let height = row * tables.len().max(1) as f64 + 8.0;
    let max = tables.iter().map(|t| t.rows).max().unwrap_or(1).max(10) as f64;
    let width = CHART_W - left - 200.0;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{CHART_W}\" height=\"{height}\" viewBox=\"0 0 {CHART_W} {height}\" role=\"img\" aria-label=\"rows per table\">"
    );
    for (i, t) in tables.iter().enumerate() {
        let y = 4.0 + row * i as f64;
        let w = width * ((t.rows as f64 + 1.0).log10() / max.log10()).max(0.0);
        let share = t
            .label_share
            .map(|p| format!(", {:.2}% labelled", 100.0 * p))
            .unwrap_or_default();
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}/{}</text>\
             <rect x=\"{left}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{:.1}\" fill=\"#4c78a8\"/>\
             <rect x=\"{left}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#d62728\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\">{} rows{share}</text>",
            left - 6.0,
            y + 12.0,
            esc(&t.source),
            esc(&t.table),
            y + 2.0,
            row - 6.0,
            y + row - 6.0,
            (w * t.label_share.unwrap_or(0.0)).max(if t.labelled.unwrap_or(0) > 0 {
                1.0
            } else {
                0.0
            }),
            2.0,
            left + w + 6.0,
            y + 12.0,
            t.rows
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_fall_on_whole_steps_inside_the_window() {
        let h = 1_795_428_000_000_000; // 2026-11-23T10:00:00Z
        let t = ticks(h + 7 * MINUTE, h + 2 * HOUR);
        assert!(t.len() >= 3 && t.len() <= 12, "{t:?}");
        assert!(t.iter().all(|x| *x >= h + 7 * MINUTE && *x < h + 2 * HOUR));
        assert!(t.iter().all(|x| x % (15 * MINUTE) == 0), "{t:?}");
        assert_eq!(tick_label(h, false), "10:00");
        assert_eq!(tick_label(h - 10 * HOUR, false), "11-23 00:00");
    }

    #[test]
    fn text_is_escaped_and_charts_are_closed() {
        assert_eq!(esc("a<b & \"c\">"), "a&lt;b &amp; &quot;c&quot;&gt;");
        let c = line_chart(
            "x<y",
            &[(0, 1.0), (MINUTE, 3.0)],
            0,
            HOUR,
            &[0, 1, 2, 3, 4],
            "#000",
        );
        assert!(c.starts_with("<svg") && c.ends_with("</svg>") && c.contains("x&lt;y"));
        assert!(c.contains("<polyline"));
        let empty = line_chart("e", &[], 0, HOUR, &[0, 1, 2, 3, 4], "#000");
        assert!(empty.contains("no data") && !empty.contains("<polyline"));
    }
}
