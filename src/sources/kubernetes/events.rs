//! `kubernetes/events`: core/v1 Events consistent with the pod plan (rollouts, scheduling,
//! image pulls, container starts and kills, restarts) plus the benign background noise of
//! a real cluster (probe failures, DNS and metrics warnings).

use crate::labels::Label;
use crate::rng::{Rng, str_key, stream};
use crate::sources::{CommonColumns, Source, Table, table_schema, timestamp_type};
use crate::time::{HOUR, MINUTE, Micros, SECOND};
use crate::world::{PodEnd, RestartReason, World};
use arrow::array::{ArrayRef, Int32Builder, StringBuilder, TimestampMicrosecondBuilder};
use arrow::datatypes::{DataType, Field, SchemaRef};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use std::fmt::Write;
use std::sync::Arc;

pub struct Events;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    ScaledUp { to: u32 },
    ScaledDown { to: u32 },
    SuccessfulCreate,
    SuccessfulDelete,
    Scheduled,
    Pulling,
    Pulled,
    PulledPresent,
    Created,
    Started,
    Killing,
    OomKilling,
    UnhealthyReadiness { count: u32 },
    UnhealthyLiveness,
    DnsConfigForming,
    FailedGetResourceMetric,
}

#[derive(Clone, Copy)]
struct Row {
    ts: Micros,
    kind: Kind,
    pod: u32,
    /// For rollout events: the rollout whose ReplicaSet is scaled.
    rollout: u32,
    key: u64,
}

impl Table for Events {
    fn source(&self) -> Source {
        Source::Kubernetes
    }
    fn name(&self) -> &'static str {
        "events"
    }
    fn code(&self) -> &'static str {
        "kev"
    }

    fn schema(&self) -> SchemaRef {
        table_schema(vec![
            Field::new("namespace", DataType::Utf8, false),
            Field::new("event_name", DataType::Utf8, false),
            Field::new("event_uid", DataType::Utf8, false),
            Field::new("involved_object_kind", DataType::Utf8, false),
            Field::new("involved_object_name", DataType::Utf8, false),
            Field::new("involved_object_uid", DataType::Utf8, false),
            Field::new("field_path", DataType::Utf8, true),
            Field::new("reason", DataType::Utf8, false),
            Field::new("type", DataType::Utf8, false),
            Field::new("message", DataType::Utf8, false),
            Field::new("count", DataType::Int32, false),
            Field::new("first_timestamp", timestamp_type(), false),
            Field::new("source_component", DataType::Utf8, false),
            Field::new("source_host", DataType::Utf8, true),
            Field::new("pod", DataType::Utf8, true),
            Field::new("node", DataType::Utf8, true),
            Field::new("template_id", DataType::Utf8, false),
        ])
    }

    fn render(&self, world: &World, hour: Micros) -> Result<RecordBatch, ArrowError> {
        let end = hour + HOUR;
        let mut rows = Vec::new();
        let inside = |t: Micros| t >= hour && t < end;
        for s in 0..world.topology.services.len() {
            let svc = world.service(s);
            for p in world.pods.pods_overlapping(s, hour - HOUR, end) {
                let pod = world.pod(p);
                let add = |ts: Micros, kind: Kind, rows: &mut Vec<Row>| {
                    if inside(ts) {
                        rows.push(Row {
                            ts,
                            kind,
                            pod: p as u32,
                            rollout: pod.rollout as u32,
                            key: stream(pod.key, &[ts as u64, kind_code(kind)]),
                        });
                    }
                };
                // A rollout's pods: the Deployment scales the new ReplicaSet up, one per slot.
                let ro = &world.pods.rollouts[pod.rollout];
                let in_rollout = pod.created >= ro.at
                    && pod.created - ro.at < ro.stagger * svc.replicas as i64 + SECOND;
                if in_rollout && ro.previous.is_some() {
                    add(
                        pod.created - 1_000,
                        Kind::ScaledUp { to: pod.slot + 1 },
                        &mut rows,
                    );
                }
                add(pod.created, Kind::SuccessfulCreate, &mut rows);
                add(pod.scheduled, Kind::Scheduled, &mut rows);
                add(pod.pulling, Kind::Pulling, &mut rows);
                add(pod.pulled, Kind::Pulled, &mut rows);
                add(pod.started - 250_000, Kind::Created, &mut rows);
                add(pod.started, Kind::Started, &mut rows);
                for r in &pod.restarts {
                    if r.reason == RestartReason::OomKilled {
                        add(r.at, Kind::OomKilling, &mut rows);
                    }
                    let started = r.started();
                    add(started - 600_000, Kind::PulledPresent, &mut rows);
                    add(started - 250_000, Kind::Created, &mut rows);
                    add(started, Kind::Started, &mut rows);
                }
                if let Some(d) = pod.deleted {
                    if pod.end == Some(PodEnd::Rollout) {
                        add(
                            d - 2_000,
                            Kind::ScaledDown {
                                to: svc.replicas.saturating_sub(pod.slot + 1),
                            },
                            &mut rows,
                        );
                    }
                    add(d - 1_000, Kind::SuccessfulDelete, &mut rows);
                    add(d, Kind::Killing, &mut rows);
                }
            }
        }
        // Background noise.
        let cfg = &world.config.generation.sources.kubernetes.events;
        let mut rng = Rng::derive(
            world.seed,
            &[str_key("kubernetes/events/background"), hour as u64],
        );
        let n = rng.poisson(
            cfg.background_per_hour.0
                * world.scale
                * world.traffic.global(hour + 30 * MINUTE).sqrt(),
        );
        for _ in 0..n {
            let ts = hour + rng.below(HOUR as u64) as Micros;
            let s = rng.index(world.topology.services.len());
            let Some(p) = world.pods.serving_pod(s, ts, rng.next_u64()) else {
                continue;
            };
            let x = rng.f64();
            let kind = if x < 0.7 {
                Kind::UnhealthyReadiness {
                    count: 1 + rng.below(3) as u32,
                }
            } else if x < 0.8 {
                Kind::UnhealthyLiveness
            } else if x < 0.92 {
                Kind::DnsConfigForming
            } else {
                Kind::FailedGetResourceMetric
            };
            rows.push(Row {
                ts,
                kind,
                pod: p as u32,
                rollout: world.pod(p).rollout as u32,
                key: rng.next_u64(),
            });
        }
        rows.sort_by_key(|r| (r.ts, r.pod, r.kind));
        self.write(world, hour, &rows)
    }
}

fn kind_code(k: Kind) -> u64 {
    match k {
        Kind::ScaledUp { to } => 100 + to as u64,
        Kind::ScaledDown { to } => 200 + to as u64,
        other => str_key(&format!("{other:?}")),
    }
}

impl Events {
    fn write(&self, world: &World, hour: Micros, rows: &[Row]) -> Result<RecordBatch, ArrowError> {
        let n = rows.len();
        let mut common = CommonColumns::new(self.code(), hour, n);
        let mut namespace = StringBuilder::with_capacity(n, n * 10);
        let mut event_name = StringBuilder::with_capacity(n, n * 48);
        let mut event_uid = StringBuilder::with_capacity(n, n * 36);
        let mut obj_kind = StringBuilder::with_capacity(n, n * 6);
        let mut obj_name = StringBuilder::with_capacity(n, n * 32);
        let mut obj_uid = StringBuilder::with_capacity(n, n * 36);
        let mut field_path = StringBuilder::with_capacity(n, n * 24);
        let mut reason = StringBuilder::with_capacity(n, n * 10);
        let mut typ = StringBuilder::with_capacity(n, n * 7);
        let mut message = StringBuilder::with_capacity(n, n * 100);
        let mut count = Int32Builder::with_capacity(n);
        let mut first = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
        let mut source = StringBuilder::with_capacity(n, n * 16);
        let mut host = StringBuilder::with_capacity(n, n * 28);
        let mut pod_col = StringBuilder::with_capacity(n, n * 32);
        let mut node_col = StringBuilder::with_capacity(n, n * 28);
        let mut template = StringBuilder::with_capacity(n, n * 24);
        let registry = &world.config.services.cluster.registry;
        for r in rows {
            let pod = world.pod(r.pod as usize);
            let svc = world.service(pod.service);
            let node = &world.topology.nodes[pod.node];
            let ro = &world.pods.rollouts[r.rollout as usize];
            let mut rng = Rng::new(r.key);
            let mut n_count = 1;
            let mut first_ts = r.ts;
            // Involved object.
            let (kind, component, on_node) = match r.kind {
                Kind::ScaledUp { .. } | Kind::ScaledDown { .. } => {
                    ("Deployment", "deployment-controller", false)
                }
                Kind::SuccessfulCreate | Kind::SuccessfulDelete => {
                    ("ReplicaSet", "replicaset-controller", false)
                }
                Kind::Scheduled => ("Pod", "default-scheduler", false),
                Kind::OomKilling => ("Node", "kernel-monitor", true),
                Kind::FailedGetResourceMetric => (
                    "HorizontalPodAutoscaler",
                    "horizontal-pod-autoscaler",
                    false,
                ),
                _ => ("Pod", "kubelet", true),
            };
            obj_kind.append_value(kind);
            match kind {
                "Deployment" | "HorizontalPodAutoscaler" => obj_name.append_value(&svc.name),
                "ReplicaSet" => {
                    let _ = write!(obj_name, "{}-{}", svc.name, ro.rs_hash);
                    obj_name.append_value("");
                }
                "Node" => obj_name.append_value(&node.name),
                _ => obj_name.append_value(&pod.name),
            }
            let obj_key = match kind {
                "Deployment" | "HorizontalPodAutoscaler" => svc.key,
                "ReplicaSet" => stream(svc.key, &[str_key(&ro.rs_hash)]),
                "Node" => str_key(&node.name),
                _ => pod.key,
            };
            obj_uid.append_value(crate::world::pods::uuid_from(obj_key));
            // event name: <object>.<16 hex>
            let name_len = match kind {
                "Node" => node.name.len(),
                "ReplicaSet" => svc.name.len() + 11,
                "Deployment" | "HorizontalPodAutoscaler" => svc.name.len(),
                _ => pod.name.len(),
            };
            let _ = write!(
                event_name,
                "{}",
                match kind {
                    "Node" => node.name.as_str(),
                    "Deployment" | "HorizontalPodAutoscaler" => svc.name.as_str(),
                    "ReplicaSet" => svc.name.as_str(),
                    _ => pod.name.as_str(),
                }
            );
            if kind == "ReplicaSet" {
                let _ = write!(event_name, "-{}", ro.rs_hash);
            }
            debug_assert!(name_len > 0);
            let _ = write!(
                event_name,
                ".{:016x}",
                (r.ts as u64).wrapping_mul(1000) ^ (r.key & 0xfff)
            );
            event_name.append_value("");
            event_uid.append_value(crate::world::pods::uuid_from(r.key));
            let container_event = matches!(
                r.kind,
                Kind::Pulling
                    | Kind::Pulled
                    | Kind::PulledPresent
                    | Kind::Created
                    | Kind::Started
                    | Kind::Killing
                    | Kind::UnhealthyReadiness { .. }
                    | Kind::UnhealthyLiveness
            );
            if container_event {
                let _ = write!(field_path, "spec.containers{{{}}}", svc.name);
                field_path.append_value("");
            } else {
                field_path.append_null();
            }
            let image = format_args!("{registry}/{}:v{}", svc.name, ro.version);
            let (reason_s, warning, tmpl) = match r.kind {
                Kind::ScaledUp { to } => {
                    let _ = write!(
                        message,
                        "Scaled up replica set {}-{} to {to}",
                        svc.name, ro.rs_hash
                    );
                    ("ScalingReplicaSet", false, "k8s.deployment.scaled_up")
                }
                Kind::ScaledDown { to } => {
                    let _ = write!(
                        message,
                        "Scaled down replica set {}-{} to {to}",
                        svc.name, ro.rs_hash
                    );
                    ("ScalingReplicaSet", false, "k8s.deployment.scaled_down")
                }
                Kind::SuccessfulCreate => {
                    let _ = write!(message, "Created pod: {}", pod.name);
                    ("SuccessfulCreate", false, "k8s.replicaset.created_pod")
                }
                Kind::SuccessfulDelete => {
                    let _ = write!(message, "Deleted pod: {}", pod.name);
                    ("SuccessfulDelete", false, "k8s.replicaset.deleted_pod")
                }
                Kind::Scheduled => {
                    let _ = write!(
                        message,
                        "Successfully assigned {}/{} to {}",
                        svc.namespace, pod.name, node.name
                    );
                    ("Scheduled", false, "k8s.pod.scheduled")
                }
                Kind::Pulling => {
                    let _ = write!(message, "Pulling image \"{image}\"");
                    ("Pulling", false, "k8s.pod.pulling")
                }
                Kind::Pulled => {
                    let secs = (pod.pulled - pod.pulling) as f64 / SECOND as f64;
                    let _ = write!(
                        message,
                        "Successfully pulled image \"{image}\" in {secs:.3}s ({secs:.3}s including waiting). Image size: {} bytes.",
                        40_000_000 + (svc.key % 300_000_000)
                    );
                    ("Pulled", false, "k8s.pod.pulled")
                }
                Kind::PulledPresent => {
                    let _ = write!(
                        message,
                        "Container image \"{image}\" already present on machine"
                    );
                    ("Pulled", false, "k8s.pod.image_present")
                }
                Kind::Created => {
                    let _ = write!(message, "Created container {}", svc.name);
                    ("Created", false, "k8s.pod.created_container")
                }
                Kind::Started => {
                    let _ = write!(message, "Started container {}", svc.name);
                    ("Started", false, "k8s.pod.started_container")
                }
                Kind::Killing => {
                    let _ = write!(message, "Stopping container {}", svc.name);
                    ("Killing", false, "k8s.pod.killing")
                }
                Kind::OomKilling => {
                    let rss_kb = svc.memory_limit_bytes / 1024;
                    let proc = match svc.language {
                        crate::config::Language::Java => "java",
                        crate::config::Language::Python => "gunicorn",
                        crate::config::Language::Node => "node",
                        crate::config::Language::Go => svc.name.as_str(),
                    };
                    let _ = write!(
                        message,
                        "Memory cgroup out of memory: Killed process {} ({proc}) total-vm:{}kB, anon-rss:{rss_kb}kB, file-rss:{}kB, shmem-rss:0kB, UID:1000 pgtables:{}kB oom_score_adj:{}",
                        1000 + rng.below(30_000),
                        rss_kb * 3 + rng.below(100_000),
                        rng.below(30_000),
                        1000 + rng.below(4000),
                        900 + rng.below(100)
                    );
                    ("OOMKilling", true, "k8s.node.oom_killing")
                }
                Kind::UnhealthyReadiness { count: c } => {
                    n_count = c as i32;
                    first_ts = r.ts - (c as i64 - 1) * 10 * SECOND;
                    let _ = write!(
                        message,
                        "Readiness probe failed: Get \"http://{}:{}/healthz\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)",
                        pod.ip, svc.port
                    );
                    ("Unhealthy", true, "k8s.pod.readiness_probe_failed")
                }
                Kind::UnhealthyLiveness => {
                    let _ = write!(
                        message,
                        "Liveness probe failed: Get \"http://{}:{}/livez\": dial tcp {}:{}: connect: connection refused",
                        pod.ip, svc.port, pod.ip, svc.port
                    );
                    ("Unhealthy", true, "k8s.pod.liveness_probe_failed")
                }
                Kind::DnsConfigForming => {
                    let _ = write!(
                        message,
                        "Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: 172.20.0.10 10.0.0.2 169.254.169.253"
                    );
                    ("DNSConfigForming", true, "k8s.pod.dns_config_forming")
                }
                Kind::FailedGetResourceMetric => {
                    let _ = write!(
                        message,
                        "failed to get cpu utilization: unable to get metrics for resource cpu: no metrics returned from resource metrics API"
                    );
                    (
                        "FailedGetResourceMetric",
                        true,
                        "k8s.hpa.failed_get_resource_metric",
                    )
                }
            };
            message.append_value("");
            reason.append_value(reason_s);
            typ.append_value(if warning { "Warning" } else { "Normal" });
            count.append_value(n_count);
            first.append_value(first_ts);
            source.append_value(component);
            if on_node {
                host.append_value(&node.name);
            } else {
                host.append_null();
            }
            namespace.append_value(if kind == "Node" {
                "default"
            } else {
                svc.namespace.as_str()
            });
            if kind == "Pod" || kind == "ReplicaSet" || r.kind == Kind::OomKilling {
                pod_col.append_value(&pod.name);
            } else {
                pod_col.append_null();
            }
            if kind == "Deployment" || kind == "HorizontalPodAutoscaler" {
                node_col.append_null();
            } else {
                node_col.append_value(&node.name);
            }
            template.append_value(tmpl);
            common.append(r.ts, &svc.name, &Label::NORMAL);
        }
        let own: Vec<ArrayRef> = vec![
            Arc::new(namespace.finish()),
            Arc::new(event_name.finish()),
            Arc::new(event_uid.finish()),
            Arc::new(obj_kind.finish()),
            Arc::new(obj_name.finish()),
            Arc::new(obj_uid.finish()),
            Arc::new(field_path.finish()),
            Arc::new(reason.finish()),
            Arc::new(typ.finish()),
            Arc::new(message.finish()),
            Arc::new(count.finish()),
            Arc::new(first.finish()),
            Arc::new(source.finish()),
            Arc::new(host.finish()),
            Arc::new(pod_col.finish()),
            Arc::new(node_col.finish()),
            Arc::new(template.finish()),
        ];
        common.finish(self.schema(), own)
    }
}
