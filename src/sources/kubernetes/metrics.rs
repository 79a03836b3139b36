//! `kubernetes/metrics`: one row per container per scrape, with the cAdvisor and
//! kube-state-metrics series as columns. Counters are integrals of the service's traffic
//! since the container (or, for network, the pod) started, so they are monotonic per
//! container and continuous across partitions. The CPU a container uses is at most its
//! quota (traffic beyond what the limit serves is capped, and a CPU-saturation incident's
//! extra demand gets only the quota left); the CFS throttled periods grow by a fraction
//! below one of the periods, which grow by one per 100 ms.

use super::native::{write_container_hex, write_metrics};
use crate::config::Language;
use crate::error::Error;
use crate::labels::AnomalyRole;
use crate::rng::{Rng, mix64, str_key, stream, unit};
use crate::sink::JsonLines;
use crate::sources::{CommonColumns, Source, Table, table_schema};
use crate::time::{HOUR, MINUTE, Micros, SECOND};
use crate::world::topology::{CPU_BUSY_MAX, CPU_IDLE_MAX};
use crate::world::{Pod, RestartReason, World};
use arrow::array::{ArrayRef, BooleanBuilder, Float64Builder, Int64Builder, StringBuilder};
use arrow::datatypes::{DataType, Field, SchemaRef};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use std::fmt::Write;
use std::sync::Arc;

pub struct Metrics;

/// Per-pod constants of the resource model.
pub struct ContainerModel {
    idle_cores: f64,
    busy_cores: f64,
    /// The CPU limit, in cores (the CFS quota per 100 ms period).
    quota_cores: f64,
    base_mem: f64,
    traffic_mem: f64,
    sawtooth: f64,
    saw_period: f64,
    /// Share of the periods throttled per unit of (capped) traffic.
    throttle: f64,
    rx_per_tm: f64,
    tx_per_tm: f64,
    /// Incidents that act on this pod's resources (memory leak, CPU saturation).
    incidents: Vec<u32>,
}

/// The per-pod constants of the resource model (computed once per pod and reused).
pub fn container_model(world: &World, p: usize) -> ContainerModel {
    let pod = world.pod(p);
    let svc = world.service(pod.service);
    let incidents = world
        .incidents
        .overlapping(pod.created, pod.deleted.unwrap_or(Micros::MAX))
        .filter(|inc| {
            let effects = &world.config.incidents.types[inc.type_index]
                .effects
                .kubernetes;
            effects
                .iter()
                .any(|e| e.value == "memory_growth" || e.value == "cpu_throttling")
                && inc
                    .involvement(pod.service)
                    .is_some_and(|(r, _)| r != AnomalyRole::Propagated)
                && inc.hits_pod(&world.pods, p)
        })
        .map(|inc| inc.index as u32)
        .collect();
    let mut rng = Rng::new(pod.key ^ 0x6d65_7472);
    let req = svc.cpu_request_m as f64 / 1000.0;
    let limit = svc.memory_limit_bytes as f64;
    let (base_frac, saw) = match svc.language {
        Language::Java => (rng.range_f64(0.45, 0.55), 0.08),
        Language::Python => (rng.range_f64(0.32, 0.45), 0.02),
        Language::Node => (rng.range_f64(0.28, 0.4), 0.05),
        Language::Go => (rng.range_f64(0.18, 0.3), 0.03),
    };
    let busy = req * rng.range_f64(0.35, CPU_BUSY_MAX);
    let quota = svc.cpu_limit_m as f64 / 1000.0;
    ContainerModel {
        idle_cores: req * rng.range_f64(0.02, CPU_IDLE_MAX),
        busy_cores: busy,
        quota_cores: quota,
        base_mem: limit * base_frac,
        traffic_mem: limit * 0.05,
        sawtooth: limit * saw,
        saw_period: rng.range_f64(90.0, 600.0) * SECOND as f64,
        // At most NORMAL_THROTTLE_MAX of the periods at the traffic ceiling.
        throttle: ((busy / quota).powi(2) * 0.05)
            .min(NORMAL_THROTTLE_MAX / svc.cpu_traffic_ceiling().max(1e-9)),
        rx_per_tm: rng.range_f64(1.5e6, 4e6) / svc.replicas as f64,
        tx_per_tm: rng.range_f64(4e6, 12e6) / svc.replicas as f64,
        incidents,
    }
}

/// The values of one container scrape.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ContainerSample {
    pub cpu_seconds: f64,
    pub cfs_periods: i64,
    pub cfs_throttled: i64,
    pub working_set_bytes: i64,
    pub oom_events: i64,
    pub rx_bytes: i64,
    pub tx_bytes: i64,
    pub restarts: i64,
    pub last_terminated: Option<RestartReason>,
    pub ready: bool,
    /// Key of the container instance (changes with each restart).
    pub container_key: u64,
    /// The incident visibly changing these values (index into the plan), or `u32::MAX`.
    pub incident: u32,
    pub role: AnomalyRole,
}

/// The kubelet's scrape interval.
pub(super) fn scrape_interval(world: &World) -> Micros {
    world
        .config
        .generation
        .sources
        .kubernetes
        .metrics
        .scrape_interval_seconds as Micros
        * SECOND
}

/// Scrape instants of pod `p` in `[from, to)`: the scrape grid plus the pod's own offset,
/// skipping the gaps while its container is down.
pub fn scrape_times(
    world: &World,
    p: usize,
    from: Micros,
    to: Micros,
) -> impl Iterator<Item = Micros> + '_ {
    let interval = scrape_interval(world);
    let pod = world.pod(p);
    let offset = (mix64(pod.key) % 2_000_000) as Micros;
    let last = pod.deleted.unwrap_or(Micros::MAX).min(to);
    let first = from - from.rem_euclid(interval) + offset;
    let first = if first < from {
        first + interval
    } else {
        first
    };
    (0..)
        .map(move |i| first + i * interval)
        .take_while(move |&t| t < last)
        .filter(move |&t| {
            t >= pod.started
                && !pod.restarts.iter().any(|r| r.down_at(t))
                && !pod.unready.iter().any(|&(a, b)| t >= a && t < b)
        })
}

/// The container values of pod `p` at `t`: what cAdvisor and kube-state-metrics report.
/// Grafana's container panels read the same function, so their points equal these rows.
pub fn container_sample(
    world: &World,
    model: &ContainerModel,
    p: usize,
    t: Micros,
) -> ContainerSample {
    let pod = world.pod(p);
    let s = pod.service;
    let svc = world.service(s);
    let n_restarts = pod.restarts_before(t);
    let cstart = pod.container_start(t);
    let up = (t - cstart).max(0) as f64 / SECOND as f64;
    let tm = world.traffic.integral_capped(s, cstart, t);
    let traffic_now = world.traffic.service(s, t);
    // Memory wanders between scrapes (AR(1) over 15-second steps) rather than jumping.
    let noise = crate::rng::ar1(pod.key ^ 0x6d65_6d6e, t.div_euclid(15 * SECOND), 0.9);
    let per = (up * 10.0) as i64;
    // Working set: warm-up after start, traffic-driven part, GC sawtooth, noise.
    // Past two hours exp(-up / 180) < 2^-54, so the difference rounds to exactly 1.0.
    let warm = if up > 7_200.0 {
        1.0
    } else {
        1.0 - (-up / 180.0).exp()
    };
    let saw_phase =
        ((t as f64 + unit(pod.key) * model.saw_period) % model.saw_period) / model.saw_period;
    let ws = (model.base_mem * (0.35 + 0.65 * warm)
        + model.traffic_mem * traffic_now
        + model.sawtooth * saw_phase)
        * (1.0 + 0.01 * noise);
    let limit = svc.memory_limit_bytes as f64;
    let pod_tm = world.traffic.integral(s, pod.started, t);
    let pod_up = (t - pod.started).max(0) as f64 / SECOND as f64;
    let fx = incident_effects(world, model, pod, cstart, t);
    let ws = match fx.leak {
        // A leak: the working set climbs from its normal level to the limit, where the
        // kernel OOM-kills the container.
        Some(progress) => ws + (limit * 0.985 - ws) * progress.powf(1.4),
        None => ws,
    };
    let busy_seconds = model.busy_cores * tm * 60.0 + fx.extra_cpu_seconds;
    ContainerSample {
        cpu_seconds: model.idle_cores * up + busy_seconds,
        cfs_periods: per,
        // Throttled share of the periods: `throttle` × traffic (at most
        // NORMAL_THROTTLE_MAX) plus an incident's (at most SATURATED_THROTTLE), below one.
        cfs_throttled: ((model.throttle * tm * 600.0 + 10.0 * fx.throttled_seconds) as i64)
            .min(per),
        working_set_bytes: ws.clamp(limit * 0.05, limit * 0.99) as i64,
        oom_events: pod.restarts[..n_restarts]
            .iter()
            .filter(|r| r.reason == RestartReason::OomKilled)
            .count() as i64,
        rx_bytes: (model.rx_per_tm * pod_tm + 600.0 * pod_up) as i64,
        tx_bytes: (model.tx_per_tm * pod_tm + 900.0 * pod_up) as i64,
        restarts: n_restarts as i64,
        last_terminated: n_restarts.checked_sub(1).map(|i| pod.restarts[i].reason),
        ready: pod.serving_at(t),
        container_key: container_key(pod, n_restarts),
        incident: fx.incident,
        role: fx.role,
    }
}

/// The key of pod `pod`'s container after `restarts` restarts (its container id, in
/// [`super::native::write_container_hex`], is shared by the metrics rows and the log
/// records of that container).
pub(super) fn container_key(pod: &Pod, restarts: usize) -> u64 {
    stream(pod.key, &[str_key("container"), restarts as u64])
}

/// What incidents do to a container's resource series.
struct IncidentEffects {
    /// Progress of a memory leak towards the limit (0..1), while one is running.
    leak: Option<f64>,
    /// Extra CPU seconds used since the container started (CPU saturation), within the
    /// quota the normal load leaves.
    extra_cpu_seconds: f64,
    /// Seconds × the share of periods the saturation throttled, since the container
    /// started.
    throttled_seconds: f64,
    /// The incident visibly changing the series at this instant (label), or `u32::MAX`.
    incident: u32,
    role: AnomalyRole,
}

/// Most of the periods throttled by normal load (at the traffic ceiling).
const NORMAL_THROTTLE_MAX: f64 = 0.03;
/// Most of the periods throttled by a saturated container: with the normal share, the
/// throttled periods stay below the periods.
const SATURATED_THROTTLE: f64 = 0.95;
/// Extra CPU demand of a CPU-saturation incident at full intensity, per unit of the
/// container's busy cores.
const SATURATION_DEMAND: f64 = 2.5;

/// Share of the periods a container throttles at `load` (demand / quota): none below
/// 0.7, rising smoothly to SATURATED_THROTTLE at 1.1 and beyond.
fn saturated_throttle(load: f64) -> f64 {
    let x = ((load - 0.7) / 0.4).clamp(0.0, 1.0);
    SATURATED_THROTTLE * x * x * (3.0 - 2.0 * x)
}

impl IncidentEffects {
    const NONE: IncidentEffects = IncidentEffects {
        leak: None,
        extra_cpu_seconds: 0.0,
        throttled_seconds: 0.0,
        incident: u32::MAX,
        role: AnomalyRole::None,
    };
}

fn incident_effects(
    world: &World,
    model: &ContainerModel,
    pod: &Pod,
    cstart: Micros,
    t: Micros,
) -> IncidentEffects {
    // A near miss's effects count as an incident's; its label only where no incident
    // acts (the label is normal then).
    let mut fx = IncidentEffects::NONE;
    for &i in &model.incidents {
        let inc = &world.incidents.incidents[i as usize];
        if inc.start > t || inc.end + 10 * MINUTE < cstart {
            continue;
        }
        let effects = &world.config.incidents.types[inc.type_index]
            .effects
            .kubernetes;
        let has = |n: &str| effects.iter().any(|e| e.value == n);
        let Some((role, lag)) = inc.involvement(pod.service) else {
            continue;
        };
        if has("memory_growth") && t >= inc.start && t < inc.recovery {
            // Grows from the later of the incident start and the container start, up to
            // the next OOM kill (or the recovery, when the fix lands).
            let from = inc.start.max(cstart);
            let to = pod
                .restarts
                .iter()
                .find(|r| r.at > t)
                .map(|r| r.at)
                .filter(|&a| a <= inc.recovery)
                .unwrap_or(inc.recovery);
            let progress = ((t - from) as f64 / (to - from).max(1) as f64).clamp(0.0, 1.0);
            fx.leak = Some(progress * inc.leak_reach());
            if !inc.background || fx.incident == u32::MAX {
                fx.incident = inc.index as u32;
                fx.role = role;
            }
        }
        if has("cpu_throttling") {
            // Over [max(start, cstart), t], minute by minute (absolute minutes, the
            // traffic's own grid; the intensity at each minute's middle): the extra demand
            // gets the quota the normal load leaves, and the load throttles a share of the
            // periods. Every term is >= 0 and fixed per minute, so the sums only grow with t.
            let a = inc.start.max(cstart);
            let b = t.min(inc.end + lag);
            let s = pod.service;
            let mut m = a - a.rem_euclid(MINUTE);
            // The end of the latest stretch where the incident added to the counters.
            let mut latest = Micros::MIN;
            while m < b {
                let to = b.min(m + MINUTE);
                let secs = (to - a.max(m)) as f64 / SECOND as f64;
                let normal =
                    model.idle_cores + model.busy_cores * world.traffic.service_capped(s, m);
                let demand =
                    model.busy_cores * SATURATION_DEMAND * inc.intensity(m + MINUTE / 2, lag);
                let extra = demand.min(model.quota_cores - normal).max(0.0) * secs;
                let throttled = saturated_throttle((normal + demand) / model.quota_cores) * secs;
                if extra > 0.0 || throttled > 0.0 {
                    latest = to;
                }
                fx.extra_cpu_seconds += extra;
                fx.throttled_seconds += throttled;
                m += MINUTE;
            }
            // Labelled while the incident changes what the counters gained since the
            // previous scrape (afterwards they keep the offset: aftermath).
            let interval = scrape_interval(world);
            if latest > t - interval && (!inc.background || fx.incident == u32::MAX) {
                fx.incident = inc.index as u32;
                fx.role = role;
            }
        }
    }
    fx
}

impl Table for Metrics {
    fn source(&self) -> Source {
        Source::Kubernetes
    }
    fn name(&self) -> &'static str {
        "metrics"
    }
    fn code(&self) -> &'static str {
        "kmt"
    }

    fn schema(&self) -> SchemaRef {
        table_schema(vec![
            Field::new("namespace", DataType::Utf8, false),
            Field::new("pod", DataType::Utf8, false),
            Field::new("container", DataType::Utf8, false),
            Field::new("container_id", DataType::Utf8, false),
            Field::new("node", DataType::Utf8, false),
            Field::new("pod_ip", DataType::Utf8, false),
            Field::new("image", DataType::Utf8, false),
            Field::new("pod_phase", DataType::Utf8, false),
            Field::new("ready", DataType::Boolean, false),
            Field::new(
                "container_cpu_usage_seconds_total",
                DataType::Float64,
                false,
            ),
            Field::new("container_cpu_cfs_periods_total", DataType::Int64, false),
            Field::new(
                "container_cpu_cfs_throttled_periods_total",
                DataType::Int64,
                false,
            ),
            Field::new("container_spec_cpu_quota", DataType::Int64, false),
            Field::new("container_memory_working_set_bytes", DataType::Int64, false),
            Field::new("container_spec_memory_limit_bytes", DataType::Int64, false),
            Field::new("container_oom_events_total", DataType::Int64, false),
            Field::new(
                "container_network_receive_bytes_total",
                DataType::Int64,
                false,
            ),
            Field::new(
                "container_network_transmit_bytes_total",
                DataType::Int64,
                false,
            ),
            Field::new(
                "kube_pod_container_status_restarts_total",
                DataType::Int64,
                false,
            ),
            Field::new(
                "kube_pod_container_status_last_terminated_reason",
                DataType::Utf8,
                true,
            ),
        ])
    }

    /// One PodMetrics object and the row's Prometheus samples per row (see `native`).
    fn write_native(
        &self,
        world: &World,
        hour: Micros,
        batch: &RecordBatch,
        out: &mut JsonLines,
    ) -> Result<(), Error> {
        write_metrics(world, hour, batch, out)
    }

    fn render(&self, world: &World, hour: Micros) -> Result<RecordBatch, ArrowError> {
        let end = hour + HOUR;
        // (timestamp, pod) of every sample, then sorted by time.
        let mut samples: Vec<(Micros, u32)> = Vec::new();
        for sv in 0..world.topology.services.len() {
            for p in world.pods.pods_overlapping(sv, hour, end) {
                samples.extend(scrape_times(world, p, hour, end).map(|t| (t, p as u32)));
            }
        }
        samples.sort_unstable();
        let n = samples.len();
        let mut common = CommonColumns::new(self.code(), hour, n);
        let mut namespace = StringBuilder::with_capacity(n, n * 10);
        let mut pod_col = StringBuilder::with_capacity(n, n * 32);
        let mut container = StringBuilder::with_capacity(n, n * 14);
        let mut container_id = StringBuilder::with_capacity(n, n * 77);
        let mut node_col = StringBuilder::with_capacity(n, n * 28);
        let mut pod_ip = StringBuilder::with_capacity(n, n * 11);
        let mut image = StringBuilder::with_capacity(n, n * 80);
        let mut phase = StringBuilder::with_capacity(n, n * 7);
        let mut ready = BooleanBuilder::with_capacity(n);
        let mut cpu = Float64Builder::with_capacity(n);
        let mut periods = Int64Builder::with_capacity(n);
        let mut throttled = Int64Builder::with_capacity(n);
        let mut quota = Int64Builder::with_capacity(n);
        let mut mem = Int64Builder::with_capacity(n);
        let mut mem_limit = Int64Builder::with_capacity(n);
        let mut ooms = Int64Builder::with_capacity(n);
        let mut rx = Int64Builder::with_capacity(n);
        let mut tx = Int64Builder::with_capacity(n);
        let mut restarts = Int64Builder::with_capacity(n);
        let mut last_reason = StringBuilder::with_capacity(n, n * 4);
        let registry = &world.config.services.cluster.registry;
        let mut models: Vec<Option<ContainerModel>> =
            (0..world.pods.pods.len()).map(|_| None).collect();
        for &(t, p) in &samples {
            let pod = world.pod(p as usize);
            let svc = world.service(pod.service);
            let model =
                models[p as usize].get_or_insert_with(|| container_model(world, p as usize));
            let x = container_sample(world, model, p as usize, t);
            let node = &world.topology.nodes[pod.node];
            const SCRAPE: u64 = str_key("kubernetes/metrics");
            let key = stream(pod.key, &[SCRAPE, t as u64]);
            common.append(t, key, &svc.name, &world.label(x.incident, x.role, t));
            namespace.append_value(&svc.namespace);
            pod_col.append_value(&pod.name);
            container.append_value(&svc.name);
            let _ = container_id.write_str("containerd://");
            write_container_hex(&mut container_id, x.container_key);
            container_id.append_value("");
            node_col.append_value(&node.name);
            pod_ip.append_value(&pod.ip);
            crate::sources::text::text(
                &mut image,
                (
                    registry,
                    '/',
                    &svc.name,
                    ":v",
                    world.pod_version(p as usize),
                ),
            );
            image.append_value("");
            phase.append_value("Running");
            ready.append_value(x.ready);
            cpu.append_value(x.cpu_seconds);
            periods.append_value(x.cfs_periods);
            throttled.append_value(x.cfs_throttled);
            quota.append_value(svc.cpu_limit_m as i64 * 100);
            mem.append_value(x.working_set_bytes);
            mem_limit.append_value(svc.memory_limit_bytes as i64);
            ooms.append_value(x.oom_events);
            rx.append_value(x.rx_bytes);
            tx.append_value(x.tx_bytes);
            restarts.append_value(x.restarts);
            match x.last_terminated {
                Some(r) => last_reason.append_value(r.as_str()),
                None => last_reason.append_null(),
            }
        }
        let own: Vec<ArrayRef> = vec![
            Arc::new(namespace.finish()),
            Arc::new(pod_col.finish()),
            Arc::new(container.finish()),
            Arc::new(container_id.finish()),
            Arc::new(node_col.finish()),
            Arc::new(pod_ip.finish()),
            Arc::new(image.finish()),
            Arc::new(phase.finish()),
            Arc::new(ready.finish()),
            Arc::new(cpu.finish()),
            Arc::new(periods.finish()),
            Arc::new(throttled.finish()),
            Arc::new(quota.finish()),
            Arc::new(mem.finish()),
            Arc::new(mem_limit.finish()),
            Arc::new(ooms.finish()),
            Arc::new(rx.finish()),
            Arc::new(tx.finish()),
            Arc::new(restarts.finish()),
            Arc::new(last_reason.finish()),
        ];
        common.finish(self.schema(), own)
    }
}
