//! The Kubernetes tables in the JSON their real producers emit (`--format jsonl`), read
//! back from the very batch that goes to Parquet (facts that are no column, such as a
//! pod's uid and labels or its node's IP, come from the plan).
//!
//! - `events`: one line per row, the core/v1 Event object as the API server returns it
//!   (`kind`, `apiVersion`, `metadata{name, namespace, uid, resourceVersion,
//!   creationTimestamp}`, `involvedObject`, `reason`, `message`, `source`,
//!   `firstTimestamp`, `lastTimestamp`, `count`, `type`, `reportingComponent`,
//!   `reportingInstance`; `eventTime` left out). Times are RFC 3339 in whole seconds
//!   (`metav1.Time`). The record key is `metadata.uid`.
//! - `pod_logs`: one line per row, the record Fluent Bit emits for a container log line
//!   (tail input on `/var/log/containers/*.log` without a parser, so `log` holds the raw
//!   CRI line `<RFC3339Nano> <stream> F <text>`; the kubernetes filter with `Labels On`,
//!   `Annotations Off` adds `kubernetes{pod_name, namespace_name, pod_id, labels, host,
//!   container_name, docker_id, container_image}` (its `pod_ip`, a column of kubernetes/metrics, and
//!   `container_hash`, the image digest, are left out: they would add a fifth to the
//!   bytes); the output's `json_lines` format adds `date`, the record time as float epoch
//!   seconds), plus a top-level `_record_id`.
//! - `metrics`: one line per row (a container scrape): `pod_metrics`, the
//!   metrics.k8s.io/v1beta1 PodMetrics of the pod at the scrape, with the container's CPU
//!   rate since its previous scrape (nanocores, over `window`) and its working set (Ki);
//!   `samples`, the row's cAdvisor and kube-state-metrics series as an instant-vector
//!   result of `/api/v1/query` (`{"metric": {...}, "value": [<epoch s>, "<value>"]}`);
//!   and a top-level `_record_id`.
//!
//! No label column is read. Per-pod JSON fragments (metadata, Prometheus label sets) are
//! serialized once per partition and copied into each line.

use super::metrics::{
    container_key, container_model, container_sample, scrape_interval, scrape_times,
};
use crate::error::Error;
use crate::rng::mix64;
use crate::sink::JsonLines;
use crate::sink::json::Json;
use crate::sources::native::{Columns, opt_str};
use crate::time::{HOUR, MINUTE, Micros, SECOND, write_rfc3339};
use crate::world::World;
use std::collections::HashMap;
use std::fmt::Write as _;

/// Where the synthetic etcd revisions of Event writes start counting: 2020-01-01T00:00:00Z.
const REVISION_EPOCH: Micros = 1_577_836_800 * SECOND;

/// The kube-state-metrics scrape target (`instance` of its series).
const KSM_INSTANCE: &str = "10.0.8.14:8080";

/// Finds the plan's pod of a pod name among the pods alive around a partition.
pub(super) struct PodIndex<'w> {
    world: &'w World,
    by_name: HashMap<&'w str, usize>,
}

impl<'w> PodIndex<'w> {
    pub(super) fn new(world: &'w World, hour: Micros) -> Self {
        let mut by_name = HashMap::new();
        for s in 0..world.topology.services.len() {
            for p in world.pods.pods_overlapping(s, hour - HOUR, hour + 2 * HOUR) {
                by_name.insert(world.pod(p).name.as_str(), p);
            }
        }
        PodIndex { world, by_name }
    }

    pub(super) fn find(&self, name: &str) -> Result<usize, Error> {
        if let Some(&p) = self.by_name.get(name) {
            return Ok(p);
        }
        self.world
            .pods
            .pods
            .iter()
            .position(|p| p.name == name)
            .ok_or_else(|| Error::Other(format!("kubernetes native export: no pod `{name}`")))
    }
}

/// The 64 hex digits of a container id (containerd), from the container's key.
pub(super) fn write_container_hex(out: &mut impl std::fmt::Write, cid: u64) {
    crate::sources::text::hex128(out, cid, mix64(cid ^ 1));
    crate::sources::text::hex128(out, mix64(cid ^ 2), mix64(cid ^ 3));
}

/// A Go `time.RFC3339Nano` timestamp, as the CRI runtime writes it: nanoseconds with the
/// trailing zeros trimmed (and no fraction at all on a whole second).
pub(super) fn write_rfc3339_nano(s: &mut String, t: Micros) {
    write_rfc3339(s, t, 6);
    s.pop(); // 'Z'
    while s.ends_with('0') {
        s.pop();
    }
    if s.ends_with('.') {
        s.pop();
    }
    s.push('Z');
}

/// A Go `time.Duration` string (`30s`, `20.064s`, `1m0s`, `500ms`), as metrics-server
/// prints the `window` of a PodMetrics.
pub(super) fn write_go_duration(s: &mut String, d: Micros) {
    // Writes `v` (in units of `unit` µs) with its fraction, trailing zeros trimmed.
    fn frac(s: &mut String, v: Micros, unit: Micros) {
        let _ = write!(s, "{}", v / unit);
        let mut f = v % unit;
        if f > 0 {
            s.push('.');
            let mut u = unit / 10;
            while f > 0 {
                let _ = write!(s, "{}", f / u);
                f %= u;
                u /= 10;
            }
        }
    }
    let d = d.max(0);
    if d == 0 {
        s.push_str("0s");
    } else if d < 1000 {
        let _ = write!(s, "{d}µs");
    } else if d < SECOND {
        frac(s, d, 1000);
        s.push_str("ms");
    } else {
        let (h, m) = (d / HOUR, d % HOUR / MINUTE);
        if h > 0 {
            let _ = write!(s, "{h}h{m}m");
        } else if m > 0 {
            let _ = write!(s, "{m}m");
        }
        frac(s, d % MINUTE, SECOND);
        s.push('s');
    }
}

/// A Kubernetes `resource.Quantity` in canonical form: `value × 1000^-scale_idx` of the
/// decimal suffixes `n`, `u`, `m`, `` (`329087452n`, `250m`, `1`), reduced while the
/// value divides by 1000, as `resource.NewScaledQuantity(v, -9).String()` prints it.
pub(super) fn write_decimal_quantity(s: &mut String, nano: u64) {
    const SUFFIX: [&str; 4] = ["n", "u", "m", ""];
    if nano == 0 {
        s.push('0');
        return;
    }
    let (mut v, mut i) = (nano, 0);
    while i < 3 && v % 1000 == 0 {
        v /= 1000;
        i += 1;
    }
    let _ = write!(s, "{v}{}", SUFFIX[i]);
}

/// A binary-SI `resource.Quantity` of `kib` KiB in canonical form (`2748180Ki`, `512Mi`).
pub(super) fn write_binary_quantity(s: &mut String, kib: u64) {
    const SUFFIX: [&str; 4] = ["Ki", "Mi", "Gi", "Ti"];
    if kib == 0 {
        s.push('0');
        return;
    }
    let (mut v, mut i) = (kib, 0);
    while i < 3 && v % 1024 == 0 {
        v /= 1024;
        i += 1;
    }
    let _ = write!(s, "{v}{}", SUFFIX[i]);
}

/// A Prometheus sample time as the HTTP API writes it (`jsonutil.MarshalTimestamp`):
/// epoch seconds with the milliseconds as a fraction, none on a whole second.
pub(super) fn write_prom_time(s: &mut String, t: Micros) {
    let ms = t.div_euclid(1000);
    let _ = write!(s, "{}", ms.div_euclid(1000));
    let f = ms.rem_euclid(1000);
    if f != 0 {
        let _ = write!(s, ".{f:03}");
    }
}

/// The API group version of an involved object's kind.
fn api_version(kind: &str) -> &'static str {
    match kind {
        "Deployment" | "ReplicaSet" => "apps/v1",
        "CronJob" | "Job" => "batch/v1",
        "HorizontalPodAutoscaler" => "autoscaling/v2",
        _ => "v1",
    }
}

/// `kubernetes/events`: one core/v1 Event object per row.
pub(super) fn write_events(
    batch: &arrow::record_batch::RecordBatch,
    out: &mut JsonLines,
) -> Result<(), Error> {
    let c = Columns::new(batch);
    let ts = c.ts("timestamp")?;
    let namespace = c.str("namespace")?;
    let name = c.str("event_name")?;
    let uid = c.str("event_uid")?;
    let obj_kind = c.str("involved_object_kind")?;
    let obj_name = c.str("involved_object_name")?;
    let obj_uid = c.str("involved_object_uid")?;
    let field_path = c.str("field_path")?;
    let reason = c.str("reason")?;
    let typ = c.str("type")?;
    let message = c.str("message")?;
    let count = c.i32("count")?;
    let first = c.ts("first_timestamp")?;
    let component = c.str("source_component")?;
    let host = c.str("source_host")?;
    // Every write of an Event object (its creation, each count update) gets the next
    // etcd revision: one per 100 µs of cluster time since the epoch, strictly increasing.
    let mut revision: i64 = 0;
    for i in 0..c.rows() {
        let t = ts.value(i);
        revision = ((t - REVISION_EPOCH) / 100).max(revision + 1);
        let kind = obj_kind.value(i);
        let host = opt_str(host, i);
        let j = &mut out.json;
        j.begin_object();
        j.field_str("kind", "Event");
        j.field_str("apiVersion", "v1");
        j.key("metadata");
        j.begin_object();
        j.field_str("name", name.value(i));
        j.field_str("namespace", namespace.value(i));
        j.field_str("uid", uid.value(i));
        j.key("resourceVersion");
        j.str_fmt(format_args!("{revision}"));
        j.key("creationTimestamp");
        j.rfc3339(first.value(i), 0);
        j.end_object();
        j.key("involvedObject");
        j.begin_object();
        j.field_str("kind", kind);
        if kind != "Node" {
            j.field_str("namespace", namespace.value(i));
        }
        j.field_str("name", obj_name.value(i));
        j.field_str("uid", obj_uid.value(i));
        j.field_str("apiVersion", api_version(kind));
        if let Some(fp) = opt_str(field_path, i) {
            j.field_str("fieldPath", fp);
        }
        j.end_object();
        j.field_str("reason", reason.value(i));
        j.field_str("message", message.value(i));
        j.key("source");
        j.begin_object();
        j.field_str("component", component.value(i));
        if let Some(h) = host {
            j.field_str("host", h);
        }
        j.end_object();
        j.key("firstTimestamp");
        j.rfc3339(first.value(i), 0);
        j.key("lastTimestamp");
        j.rfc3339(t, 0);
        j.field_i64("count", count.value(i) as i64);
        j.field_str("type", typ.value(i));
        j.field_str("reportingComponent", component.value(i));
        j.field_str("reportingInstance", host.unwrap_or(""));
        j.end_object();
        out.end_line()?;
    }
    Ok(())
}

/// The pod's labels as its ReplicaSet's template sets them: `app` and `pod-template-hash`.
fn write_pod_labels(j: &mut Json, world: &World, p: usize) {
    let pod = world.pod(p);
    j.begin_object();
    j.field_str("app", &world.service(pod.service).name);
    j.field_str(
        "pod-template-hash",
        &world.pods.rollouts[pod.rollout].rs_hash,
    );
    j.end_object();
}

/// The `kubernetes` object the Fluent Bit kubernetes filter adds to the records of pod
/// `p`'s container after `restarts` restarts.
fn kubernetes_meta(world: &World, p: usize, restarts: usize) -> String {
    let pod = world.pod(p);
    let svc = world.service(pod.service);
    let node = &world.topology.nodes[pod.node];
    let registry = &world.config.services.cluster.registry;
    let version = world.pod_version(p);
    let mut j = Json::with_capacity(512);
    j.begin_object();
    j.field_str("pod_name", &pod.name);
    j.field_str("namespace_name", &svc.namespace);
    j.field_str("pod_id", &pod.uid);
    j.key("labels");
    write_pod_labels(&mut j, world, p);
    j.field_str("host", &node.name);
    j.field_str("container_name", &svc.name);
    j.key("docker_id");
    j.str_with(|s| write_container_hex(s, container_key(pod, restarts)));
    j.key("container_image");
    j.str_fmt(format_args!("{registry}/{}:v{version}", svc.name));
    j.end_object();
    j.as_str().to_string()
}

/// A pod of a pod_logs partition: its index in the plan, and per container (by its
/// number of restarts before) the serialized `kubernetes` object of its records.
type PodMeta = (usize, Vec<(usize, String)>);

/// `kubernetes/pod_logs`: one Fluent Bit record per row.
pub(super) fn write_pod_logs(
    world: &World,
    hour: Micros,
    batch: &arrow::record_batch::RecordBatch,
    out: &mut JsonLines,
) -> Result<(), Error> {
    let c = Columns::new(batch);
    let rid = c.str("record_id")?;
    let ts = c.ts("timestamp")?;
    let pod = c.str("pod")?;
    let stream_col = c.str("stream")?;
    let message = c.str("message")?;
    let pods = PodIndex::new(world, hour);
    let mut meta: HashMap<&str, PodMeta> = HashMap::new();
    for i in 0..c.rows() {
        let t = ts.value(i);
        let name = pod.value(i);
        let (p, containers) = match meta.get_mut(name) {
            Some(e) => e,
            None => meta.entry(name).or_insert((pods.find(name)?, Vec::new())),
        };
        let restarts = world.pod(*p).restarts_before(t);
        let k = match containers.iter().position(|(r, _)| *r == restarts) {
            Some(k) => k,
            None => {
                containers.push((restarts, kubernetes_meta(world, *p, restarts)));
                containers.len() - 1
            }
        };
        let m = &containers[k].1;
        let j = &mut out.json;
        j.begin_object();
        j.field_str("_record_id", rid.value(i));
        j.key("date");
        j.epoch_seconds(t);
        j.key("log");
        let (st, msg) = (stream_col.value(i), message.value(i));
        j.str_with(|s| {
            write_rfc3339_nano(s, t);
            s.push(' ');
            s.push_str(st);
            // Every line is complete (`F`): messages are single lines far below the
            // runtime's 16 KiB split size.
            s.push_str(" F ");
            s.push_str(msg);
        });
        j.key("kubernetes");
        j.raw(m);
        j.end_object();
        out.end_line()?;
    }
    Ok(())
}

/// The cAdvisor series of a metrics row, in sample order (each is the column of the same
/// name), with their extra label.
const CADVISOR: [(&str, Option<(&str, &str)>); 9] = [
    ("container_cpu_usage_seconds_total", None),
    ("container_cpu_cfs_periods_total", None),
    ("container_cpu_cfs_throttled_periods_total", None),
    ("container_spec_cpu_quota", None),
    ("container_memory_working_set_bytes", None),
    ("container_spec_memory_limit_bytes", None),
    ("container_oom_events_total", None),
    (
        "container_network_receive_bytes_total",
        Some(("interface", "eth0")),
    ),
    (
        "container_network_transmit_bytes_total",
        Some(("interface", "eth0")),
    ),
];

/// What a pod's metrics lines share, serialized once per partition.
struct MetricsPod {
    p: usize,
    /// `{"app":…,"pod-template-hash":…}`: PodMetrics' `metadata.labels`.
    labels: String,
    /// The start of each fixed sample, up to its time: `{"metric":{…},"value":[`, for
    /// the [`CADVISOR`] series, then `kube_pod_container_status_restarts_total` and
    /// `kube_pod_status_ready{condition="true"}`.
    prefixes: Vec<String>,
    /// Label pairs (after `__name__`, sorted) of kube-state-metrics' container series and
    /// of its pod series.
    ksm_container: String,
    ksm_pod: String,
    /// The sample prefixes of the last termination reason and of the phase.
    reason: LabelledPrefix,
    phase: LabelledPrefix,
    /// The previous scrape of the container: time, row, CPU seconds.
    prev: Option<(Micros, usize, f64)>,
    model: Option<super::ContainerModel>,
}

/// The sample prefix of a series with one label whose value comes from the row, kept for
/// the last value seen.
#[derive(Default)]
struct LabelledPrefix {
    value: String,
    prefix: String,
}

impl LabelledPrefix {
    fn prefix(&mut self, name: &str, label: &str, value: &str, labels: &str) -> &str {
        if self.prefix.is_empty() || self.value != value {
            self.value.clear();
            self.value.push_str(value);
            self.prefix = sample_prefix(name, Some((label, value)), labels);
        }
        &self.prefix
    }
}

/// The body (without braces) of an object written by `f`.
fn object_body(f: impl FnOnce(&mut Json)) -> String {
    let mut j = Json::with_capacity(384);
    j.begin_object();
    f(&mut j);
    j.end_object();
    let s = j.as_str();
    s[1..s.len() - 1].to_string()
}

/// `{"metric":{"__name__":name,extra,labels},"value":[`
fn sample_prefix(name: &str, extra: Option<(&str, &str)>, labels: &str) -> String {
    let mut j = Json::with_capacity(400);
    j.begin_object();
    j.key("metric");
    j.begin_object();
    j.field_str("__name__", name);
    if let Some((k, v)) = extra {
        j.field_str(k, v);
    }
    j.raw(labels);
    j.end_object();
    j.key("value");
    j.begin_array();
    j.end_array();
    j.end_object();
    let s = j.as_str();
    s[..s.len() - 2].to_string()
}

impl MetricsPod {
    fn new(world: &World, p: usize, image: &str) -> Self {
        let pod = world.pod(p);
        let svc = world.service(pod.service);
        let node = &world.topology.nodes[pod.node];
        let mut j = Json::with_capacity(128);
        write_pod_labels(&mut j, world, p);
        let labels = j.as_str().to_string();
        let cadvisor = object_body(|j| {
            j.field_str("container", &svc.name);
            j.field_str("image", image);
            j.key("instance");
            j.str_fmt(format_args!("{}:10250", node.ip));
            j.field_str("job", "kubelet");
            j.field_str("namespace", &svc.namespace);
            j.field_str("node", &node.name);
            j.field_str("pod", &pod.name);
        });
        let ksm = |container: bool| {
            object_body(|j| {
                if container {
                    j.field_str("container", &svc.name);
                }
                j.field_str("instance", KSM_INSTANCE);
                j.field_str("job", "kube-state-metrics");
                j.field_str("namespace", &svc.namespace);
                j.field_str("pod", &pod.name);
                j.field_str("uid", &pod.uid);
            })
        };
        let (ksm_container, ksm_pod) = (ksm(true), ksm(false));
        let mut prefixes: Vec<String> = CADVISOR
            .iter()
            .map(|&(name, extra)| sample_prefix(name, extra, &cadvisor))
            .collect();
        prefixes.push(sample_prefix(
            "kube_pod_container_status_restarts_total",
            None,
            &ksm_container,
        ));
        prefixes.push(sample_prefix(
            "kube_pod_status_ready",
            Some(("condition", "true")),
            &ksm_pod,
        ));
        MetricsPod {
            p,
            labels,
            prefixes,
            ksm_container,
            ksm_pod,
            reason: LabelledPrefix::default(),
            phase: LabelledPrefix::default(),
            prev: None,
            model: None,
        }
    }

    /// The scrape before `t` of the container running at `t` and its CPU seconds, from
    /// the plan (for the container's first row in the partition); the container start
    /// (0 s) if it was not scraped yet.
    fn previous_from_plan(&mut self, world: &World, t: Micros) -> (Micros, f64) {
        let pod = world.pod(self.p);
        let interval = scrape_interval(world);
        let cstart = pod.container_start(t);
        let restarts = pod.restarts_before(t);
        // The last scrape in [cstart, t), searched backwards 20 intervals at a time.
        let mut prev = None;
        let mut to = t;
        while prev.is_none() && to > cstart {
            let from = (to - 20 * interval).max(cstart);
            prev = scrape_times(world, self.p, from, to).last();
            to = from;
        }
        match prev {
            Some(s) if s >= cstart && pod.restarts_before(s) == restarts => {
                let model = self
                    .model
                    .get_or_insert_with(|| container_model(world, self.p));
                (s, container_sample(world, model, self.p, s).cpu_seconds)
            }
            _ => (cstart, 0.0),
        }
    }
}

/// A numeric column of the metrics batch: a float counter or an integer.
enum Num<'a> {
    F(&'a arrow::array::Float64Array),
    I(&'a arrow::array::Int64Array),
}

/// Appends a sample's time and value and closes it: `<t>,"<v>"]}`.
fn close_sample(buf: &mut String, time: &str, value: impl std::fmt::Display) {
    buf.push_str(time);
    let _ = write!(buf, ",\"{value}\"]}}");
}

/// `kubernetes/metrics`: one PodMetrics object and the row's Prometheus samples per row.
pub(super) fn write_metrics(
    world: &World,
    hour: Micros,
    batch: &arrow::record_batch::RecordBatch,
    out: &mut JsonLines,
) -> Result<(), Error> {
    let c = Columns::new(batch);
    let rid = c.str("record_id")?;
    let ts = c.ts("timestamp")?;
    let namespace = c.str("namespace")?;
    let pod = c.str("pod")?;
    let container = c.str("container")?;
    let container_id = c.str("container_id")?;
    let image = c.str("image")?;
    let phase = c.str("pod_phase")?;
    let ready = c.bool("ready")?;
    let cpu = c.f64("container_cpu_usage_seconds_total")?;
    let mem = c.i64("container_memory_working_set_bytes")?;
    let restarts = c.i64("kube_pod_container_status_restarts_total")?;
    let last_reason = c.str("kube_pod_container_status_last_terminated_reason")?;
    let mut cadvisor = Vec::with_capacity(CADVISOR.len());
    for &(col, _) in &CADVISOR {
        cadvisor.push(match c.f64(col) {
            Ok(a) => Num::F(a),
            Err(_) => Num::I(c.i64(col)?),
        });
    }
    let pods = PodIndex::new(world, hour);
    let mut slots: Vec<MetricsPod> = Vec::new();
    let mut slot_of: HashMap<&str, usize> = HashMap::new();
    let mut time = String::with_capacity(24);
    let mut samples = String::with_capacity(8192);
    for i in 0..c.rows() {
        let t = ts.value(i);
        let name = pod.value(i);
        let k = match slot_of.get(name) {
            Some(&k) => k,
            None => {
                let p = pods.find(name)?;
                slots.push(MetricsPod::new(world, p, image.value(i)));
                slot_of.insert(name, slots.len() - 1);
                slots.len() - 1
            }
        };
        let mp = &mut slots[k];
        // The CPU rate since the container's previous scrape, as metrics-server computes
        // it from two cumulative samples.
        let cpu_now = cpu.value(i);
        let (t0, cpu0) = match mp.prev {
            Some((t0, row, c0)) if container_id.value(row) == container_id.value(i) => (t0, c0),
            _ => mp.previous_from_plan(world, t),
        };
        mp.prev = Some((t, i, cpu_now));
        let window = t - t0;
        let nanocores = if window > 0 {
            ((cpu_now - cpu0).max(0.0) / (window as f64 / SECOND as f64) * 1e9).round() as u64
        } else {
            0
        };
        time.clear();
        write_prom_time(&mut time, t);

        // The samples, as the text of their array.
        samples.clear();
        samples.push('[');
        for (k, num) in cadvisor.iter().enumerate() {
            if k > 0 {
                samples.push(',');
            }
            samples.push_str(&mp.prefixes[k]);
            match num {
                Num::F(a) => close_sample(&mut samples, &time, a.value(i)),
                Num::I(a) => close_sample(&mut samples, &time, a.value(i)),
            }
        }
        samples.push(',');
        samples.push_str(&mp.prefixes[CADVISOR.len()]);
        close_sample(&mut samples, &time, restarts.value(i));
        // The series whose labels come from the row: the last termination reason (a series
        // exists once the container restarted) and the phase.
        if let Some(r) = opt_str(last_reason, i) {
            samples.push(',');
            let prefix = mp.reason.prefix(
                "kube_pod_container_status_last_terminated_reason",
                "reason",
                r,
                &mp.ksm_container,
            );
            samples.push_str(prefix);
            close_sample(&mut samples, &time, 1);
        }
        samples.push(',');
        let prefix = mp.phase.prefix(
            "kube_pod_status_phase",
            "phase",
            phase.value(i),
            &mp.ksm_pod,
        );
        samples.push_str(prefix);
        close_sample(&mut samples, &time, 1);
        samples.push(',');
        samples.push_str(&mp.prefixes[CADVISOR.len() + 1]);
        close_sample(&mut samples, &time, ready.value(i) as u8);
        samples.push(']');

        let j = &mut out.json;
        j.begin_object();
        j.field_str("_record_id", rid.value(i));
        j.key("pod_metrics");
        j.begin_object();
        j.field_str("kind", "PodMetrics");
        j.field_str("apiVersion", "metrics.k8s.io/v1beta1");
        j.key("metadata");
        j.begin_object();
        j.field_str("name", name);
        j.field_str("namespace", namespace.value(i));
        j.key("creationTimestamp");
        j.rfc3339(t, 0);
        j.key("labels");
        j.raw(&mp.labels);
        j.end_object();
        j.key("timestamp");
        j.rfc3339(t, 0);
        j.key("window");
        j.str_with(|s| write_go_duration(s, window));
        j.key("containers");
        j.begin_array();
        j.begin_object();
        j.field_str("name", container.value(i));
        j.key("usage");
        j.begin_object();
        j.key("cpu");
        j.str_with(|s| write_decimal_quantity(s, nanocores));
        j.key("memory");
        j.str_with(|s| write_binary_quantity(s, mem.value(i).max(0) as u64 / 1024));
        j.end_object();
        j.end_object();
        j.end_array();
        j.end_object();
        j.key("samples");
        j.raw(&samples);
        j.end_object();
        out.end_line()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(f: impl FnOnce(&mut String)) -> String {
        let mut s = String::new();
        f(&mut s);
        s
    }

    #[test]
    fn go_formats() {
        let t = 1_795_392_002_922_114; // 2026-11-23T00:00:02.922114Z
        assert_eq!(
            with(|s| write_rfc3339_nano(s, t)),
            "2026-11-23T00:00:02.922114Z"
        );
        assert_eq!(
            with(|s| write_rfc3339_nano(s, t - 922_114 + 500_000)),
            "2026-11-23T00:00:02.5Z"
        );
        assert_eq!(
            with(|s| write_rfc3339_nano(s, t - 922_114)),
            "2026-11-23T00:00:02Z"
        );
        assert_eq!(with(|s| write_go_duration(s, 30 * SECOND)), "30s");
        assert_eq!(with(|s| write_go_duration(s, 20_064_000)), "20.064s");
        assert_eq!(with(|s| write_go_duration(s, MINUTE)), "1m0s");
        assert_eq!(
            with(|s| write_go_duration(s, 5 * MINUTE + 30_500_000)),
            "5m30.5s"
        );
        assert_eq!(with(|s| write_go_duration(s, HOUR + 1)), "1h0m0.000001s");
        assert_eq!(with(|s| write_go_duration(s, 1_500)), "1.5ms");
        assert_eq!(with(|s| write_go_duration(s, 7)), "7µs");
        assert_eq!(with(|s| write_go_duration(s, 0)), "0s");
    }

    #[test]
    fn quantities_and_prometheus_times() {
        assert_eq!(
            with(|s| write_decimal_quantity(s, 329_087_452)),
            "329087452n"
        );
        assert_eq!(with(|s| write_decimal_quantity(s, 250_000_000)), "250m");
        assert_eq!(with(|s| write_decimal_quantity(s, 2_000_000_000)), "2");
        assert_eq!(with(|s| write_decimal_quantity(s, 0)), "0");
        assert_eq!(with(|s| write_binary_quantity(s, 2_748_180)), "2748180Ki");
        assert_eq!(with(|s| write_binary_quantity(s, 512 * 1024)), "512Mi");
        assert_eq!(
            with(|s| write_prom_time(s, 1_435_781_451_781_999)),
            "1435781451.781"
        );
        assert_eq!(
            with(|s| write_prom_time(s, 1_435_781_451_070_000)),
            "1435781451.070"
        );
        assert_eq!(
            with(|s| write_prom_time(s, 1_435_781_451_000_500)),
            "1435781451"
        );
    }
}
