//! Incidents in `kubernetes/events`: a default day of events, rendered once through the
//! library (the same code `obsgen generate` runs per partition) and checked against the
//! world's incident and pod plans: every labelled row belongs to a planned incident, in
//! its window and phase; each incident type produces the events real Kubernetes emits for
//! it, labelled with the right role; routine events stay normal.

use arrow::array::{Array, AsArray, StringArray};
use arrow::datatypes::{Int32Type, TimestampMicrosecondType};
use arrow::record_batch::RecordBatch;
use obsgen::config::Config;
use obsgen::incidents::Incident;
use obsgen::sources::Table;
use obsgen::sources::kubernetes::Events;
use obsgen::time::{DAY, HOUR, MINUTE, Micros, parse_instant};
use obsgen::world::pods::{RolloutCause, node_eviction_time};
use obsgen::world::{PodEnd, RestartReason, TimeRange, World};
use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

const DAY_START: &str = "2026-11-23";
/// Labelled rows may follow their incident's end by the propagation lags.
const LATE: Micros = 15 * MINUTE;

/// One event row, with the columns the checks need.
#[derive(Debug, Clone)]
struct Ev {
    ts: Micros,
    first: Micros,
    count: i32,
    service: String,
    object_kind: String,
    object_name: String,
    event_uid: String,
    reason: String,
    kind: String,
    message: String,
    source: String,
    pod: Option<String>,
    template: String,
    incident: Option<String>,
    incident_type: Option<String>,
    is_anomaly: bool,
    role: String,
    phase: String,
}

struct Fixture {
    world: World,
    start: Micros,
    rows: Vec<Ev>,
}

impl Fixture {
    fn incident(&self, id: &str) -> Option<&Incident> {
        self.world.incidents.incidents.iter().find(|i| i.id == id)
    }

    /// Incidents of `ty` that start in the day.
    fn of_type<'a>(&'a self, ty: &'a str) -> impl Iterator<Item = &'a Incident> + 'a {
        // The incidents, not the near misses (unlabelled episodes of the normal world).
        self.world
            .incidents
            .real()
            .iter()
            .filter(move |i| i.incident_type == ty && i.start >= self.start)
            .filter(move |i| i.start < self.start + DAY)
    }

    fn labelled_by<'a>(&'a self, inc: &'a Incident) -> impl Iterator<Item = &'a Ev> + 'a {
        self.rows
            .iter()
            .filter(move |r| r.incident.as_deref() == Some(inc.id.as_str()))
    }
}

/// A default day.
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| render_day(Config::defaults().expect("default configuration")))
}

/// A day whose memory leaks all last half an hour: their pods are OOM-killed twice within
/// minutes, a crash loop (a default day rarely has one).
fn leaky() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let mut config = Config::defaults().expect("default configuration");
        let leak = config
            .incidents
            .types
            .iter_mut()
            .find(|t| t.name.value == "memory_leak")
            .expect("memory_leak type");
        leak.duration_minutes.min.0 = 30.0;
        leak.duration_minutes.median.0 = 32.0;
        leak.duration_minutes.max.0 = 34.0;
        render_day(config)
    })
}

/// Plans the world for the day and renders its 24 event partitions.
fn render_day(config: Config) -> Fixture {
    let start = parse_instant(DAY_START).expect("date");
    let seed = config.generation.seed;
    let world = World::plan(
        config,
        seed,
        1.0,
        TimeRange {
            start,
            end: start + DAY,
        },
    );
    let hours: Vec<Micros> = (0..24).map(|h| start + h * HOUR).collect();
    // Two threads: partitions render independently.
    let batches: Vec<RecordBatch> = std::thread::scope(|scope| {
        let handles: Vec<_> = hours
            .chunks(12)
            .map(|chunk| {
                let world = &world;
                scope.spawn(move || {
                    chunk
                        .iter()
                        .map(|&h| Events.render(world, h).expect("render events"))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("render thread"))
            .collect()
    });
    let rows = batches.iter().flat_map(read_rows).collect();
    Fixture { world, start, rows }
}

fn strings<'a>(b: &'a RecordBatch, name: &str) -> &'a StringArray {
    b.column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .as_string::<i32>()
}

fn read_rows(b: &RecordBatch) -> Vec<Ev> {
    let ts = b
        .column_by_name("timestamp")
        .expect("timestamp")
        .as_primitive::<TimestampMicrosecondType>();
    let first = b
        .column_by_name("first_timestamp")
        .expect("first_timestamp")
        .as_primitive::<TimestampMicrosecondType>();
    let count = b
        .column_by_name("count")
        .expect("count")
        .as_primitive::<Int32Type>();
    let anomaly = b
        .column_by_name("is_anomaly")
        .expect("is_anomaly")
        .as_boolean();
    let opt = |a: &StringArray, i: usize| a.is_valid(i).then(|| a.value(i).to_string());
    let s = |name: &str, i: usize| strings(b, name).value(i).to_string();
    (0..b.num_rows())
        .map(|i| Ev {
            ts: ts.value(i),
            first: first.value(i),
            count: count.value(i),
            service: s("service", i),
            object_kind: s("involved_object_kind", i),
            object_name: s("involved_object_name", i),
            event_uid: s("event_uid", i),
            reason: s("reason", i),
            kind: s("type", i),
            message: s("message", i),
            source: s("source_component", i),
            pod: opt(strings(b, "pod"), i),
            template: s("template_id", i),
            incident: opt(strings(b, "incident_id"), i),
            incident_type: opt(strings(b, "incident_type"), i),
            is_anomaly: anomaly.value(i),
            role: s("anomaly_role", i),
            phase: s("phase", i),
        })
        .collect()
}

#[test]
fn labelled_rows_lie_in_their_incident_window_and_phase() {
    let f = fixture();
    let mut labelled = 0;
    for r in &f.rows {
        let Some(id) = &r.incident else {
            assert!(
                !r.is_anomaly && r.role == "none" && r.phase == "none" && r.incident_type.is_none(),
                "normal row with label columns set: {r:?}"
            );
            continue;
        };
        labelled += 1;
        let inc = f
            .incident(id)
            .unwrap_or_else(|| panic!("{id} is not a planned incident: {r:?}"));
        assert_eq!(r.incident_type.as_deref(), Some(inc.incident_type.as_str()));
        assert!(r.is_anomaly, "{r:?}");
        assert!(
            ["root_cause", "symptom", "propagated"].contains(&r.role.as_str()),
            "{r:?}"
        );
        assert!(
            r.ts >= inc.start && r.ts < inc.end + LATE,
            "{id} [{}, {}): row at {} outside the window: {r:?}",
            inc.start,
            inc.end,
            r.ts
        );
        let want = if r.ts >= inc.end {
            "recovery"
        } else {
            inc.phase_at(r.ts).as_str()
        };
        assert_eq!(r.phase, want, "{id}: phase of {r:?}");
    }
    assert!(labelled > 100, "only {labelled} labelled events in a day");
}

#[test]
fn memory_leaks_oom_kill_the_leaking_pod() {
    let f = fixture();
    let w = &f.world;
    let mut checked = 0;
    for inc in f.of_type("memory_leak") {
        let obsgen::incidents::RootEntity::Pod { service, slot } = inc.root else {
            panic!("{}: memory_leak rooted at {:?}", inc.id, inc.root);
        };
        for &p in &w.pods.slots[service][slot as usize] {
            let pod = w.pod(p);
            for r in pod.restarts.iter().filter(|r| {
                r.reason == RestartReason::OomKilled && inc.active_at(r.at) && r.at >= f.start
            }) {
                let found = f.rows.iter().any(|e| {
                    e.reason == "OOMKilling"
                        && e.ts == r.at
                        && e.pod.as_deref() == Some(pod.name.as_str())
                        && e.incident.as_deref() == Some(inc.id.as_str())
                        && e.role == "root_cause"
                });
                assert!(
                    found,
                    "{}: no root_cause OOMKilling of {}",
                    inc.id, pod.name
                );
                checked += 1;
            }
        }
        // The restarted container's events are the leak's too.
        if checked > 0 {
            assert!(
                f.labelled_by(inc)
                    .any(|e| e.reason == "Started" && e.role == "root_cause")
                    || f.labelled_by(inc).all(|e| e.reason != "OOMKilling"),
                "{}: OOM kill without a labelled restart",
                inc.id
            );
        }
    }
    assert!(checked >= 3, "only {checked} leak OOM kills in a day");
}

#[test]
fn deployment_failures_scale_the_bad_release_and_roll_back() {
    let f = fixture();
    let w = &f.world;
    let mut checked = 0;
    for inc in f.of_type("deployment_failure") {
        let scaled = |r: usize, up: bool| {
            let ro = &w.pods.rollouts[r];
            let rs = format!("{}-{}", w.service(ro.service).name, ro.rs_hash);
            let verb = if up { "Scaled up" } else { "Scaled down" };
            f.labelled_by(inc).any(|e| {
                e.reason == "ScalingReplicaSet"
                    && e.object_kind == "Deployment"
                    && e.message
                        .starts_with(&format!("{verb} replica set {rs} to"))
                    && e.role == "root_cause"
            })
        };
        let bad = (0..w.pods.rollouts.len())
            .find(|&r| w.pods.rollouts[r].cause == RolloutCause::Bad(inc.index))
            .unwrap_or_else(|| panic!("{}: no bad release", inc.id));
        let rollback = (0..w.pods.rollouts.len())
            .find(|&r| w.pods.rollouts[r].cause == RolloutCause::Rollback(inc.index))
            .unwrap_or_else(|| panic!("{}: no rollback", inc.id));
        assert!(
            scaled(bad, true),
            "{}: bad ReplicaSet not scaled up",
            inc.id
        );
        assert!(
            scaled(rollback, true),
            "{}: rollback ReplicaSet not scaled up",
            inc.id
        );
        // The rollback scales the bad ReplicaSet down (pods of the bad release that were
        // still there when the rollback came).
        assert!(
            scaled(bad, false),
            "{}: bad ReplicaSet not scaled down",
            inc.id
        );
        // The bad release's pods are created by the incident.
        assert!(
            f.labelled_by(inc)
                .any(|e| e.reason == "SuccessfulCreate" && e.role == "root_cause"),
            "{}: no labelled SuccessfulCreate",
            inc.id
        );
        checked += 1;
    }
    assert!(checked >= 2, "only {checked} deployment failures in a day");
    // Routine rollouts stay normal.
    let mut routine = 0;
    for e in f.rows.iter().filter(|e| e.reason == "ScalingReplicaSet") {
        let hash = e
            .message
            .split(' ')
            .nth(4)
            .and_then(|rs| rs.rsplit('-').next())
            .expect("replica set in message");
        let causes: Vec<RolloutCause> = w
            .pods
            .rollouts
            .iter()
            .filter(|r| r.rs_hash == hash && w.service(r.service).name == e.service)
            .map(|r| r.cause)
            .collect();
        if causes.iter().all(|c| *c == RolloutCause::Routine) && e.message.contains("Scaled up") {
            assert_eq!(e.role, "none", "routine rollout labelled: {e:?}");
            routine += 1;
        }
    }
    assert!(routine > 10, "only {routine} routine scale-ups");
}

#[test]
fn node_failures_mark_the_node_not_ready_and_evict_its_pods() {
    let f = fixture();
    let w = &f.world;
    let mut evictions = 0;
    let mut checked = 0;
    for inc in f.of_type("node_failure") {
        let obsgen::incidents::RootEntity::Node(n) = inc.root else {
            panic!("{}: node_failure rooted at {:?}", inc.id, inc.root);
        };
        let node = &w.topology.nodes[n].name;
        let node_event = |reason: &str| {
            f.labelled_by(inc)
                .find(|e| e.reason == reason && e.object_kind == "Node" && &e.object_name == node)
        };
        let not_ready = node_event("NodeNotReady")
            .unwrap_or_else(|| panic!("{}: no NodeNotReady on {node}", inc.id));
        assert_eq!(not_ready.role, "root_cause");
        assert_eq!(not_ready.source, "node-controller");
        assert_eq!(
            not_ready.message,
            format!("Node {node} status is now: NodeNotReady")
        );
        let ready =
            node_event("NodeReady").unwrap_or_else(|| panic!("{}: no NodeReady on {node}", inc.id));
        assert!(ready.ts >= inc.recovery && ready.ts > not_ready.ts);
        let at = node_eviction_time(inc);
        for p in (0..w.pods.pods.len()).filter(|&p| {
            let pod = w.pod(p);
            pod.node == n && pod.end == Some(PodEnd::Evicted) && pod.deleted == Some(at)
        }) {
            let pod = w.pod(p);
            let e = f
                .labelled_by(inc)
                .find(|e| {
                    e.reason == "TaintManagerEviction"
                        && e.pod.as_deref() == Some(pod.name.as_str())
                })
                .unwrap_or_else(|| panic!("{}: {} not marked for deletion", inc.id, pod.name));
            assert_eq!(e.role, "symptom", "{e:?}");
            assert_eq!(
                e.message,
                format!(
                    "Marking for deletion Pod {}/{}",
                    w.service(pod.service).namespace,
                    pod.name
                )
            );
            // Its replacement is scheduled elsewhere, as part of the incident.
            let slot = &w.pods.slots[pod.service][pod.slot as usize];
            let next = slot[slot.iter().position(|&q| q == p).expect("in slot") + 1];
            let next = w.pod(next);
            assert_ne!(next.node, n);
            assert!(
                f.labelled_by(inc).any(|e| e.reason == "Scheduled"
                    && e.pod.as_deref() == Some(next.name.as_str())
                    && e.role == "symptom"),
                "{}: replacement {} not labelled",
                inc.id,
                next.name
            );
            evictions += 1;
        }
        checked += 1;
    }
    assert!(checked >= 1, "no node failure in a day");
    assert!(evictions >= 1, "no pod evicted from a failed node");
}

#[test]
fn disk_pressure_evicts_pods() {
    let f = fixture();
    let w = &f.world;
    let mut evicted = 0;
    let mut checked = 0;
    for inc in f.of_type("disk_pressure") {
        let obsgen::incidents::RootEntity::Node(n) = inc.root else {
            panic!("{}: disk_pressure rooted at {:?}", inc.id, inc.root);
        };
        let node = &w.topology.nodes[n].name;
        for reason in [
            "NodeHasDiskPressure",
            "EvictionThresholdMet",
            "NodeHasNoDiskPressure",
        ] {
            assert!(
                f.labelled_by(inc).any(|e| e.reason == reason
                    && &e.object_name == node
                    && e.role == "root_cause"),
                "{}: no {reason} on {node}",
                inc.id
            );
        }
        for pod in w.pods.pods.iter().filter(|p| {
            p.node == n
                && p.end == Some(PodEnd::Evicted)
                && p.deleted.is_some_and(|d| inc.active_at(d))
        }) {
            let e = f
                .labelled_by(inc)
                .find(|e| e.reason == "Evicted" && e.pod.as_deref() == Some(pod.name.as_str()))
                .unwrap_or_else(|| panic!("{}: no Evicted for {}", inc.id, pod.name));
            assert_eq!((e.kind.as_str(), e.role.as_str()), ("Warning", "symptom"));
            assert!(
                e.message.starts_with(
                    "The node was low on resource: ephemeral-storage. Threshold quantity: 10%, available: 3%."
                ),
                "{}",
                e.message
            );
            evicted += 1;
        }
        checked += 1;
    }
    assert!(checked >= 1, "no disk pressure in a day");
    assert!(evicted >= 1, "no pod evicted for disk pressure");
}

/// Every aggregated event (one event_uid) grows its count by one per occurrence and keeps
/// its first timestamp, across hour partitions.
fn check_series(f: &Fixture) {
    let mut series: HashMap<&str, Vec<&Ev>> = HashMap::new();
    for e in &f.rows {
        series.entry(&e.event_uid).or_default().push(e);
    }
    let mut repeated = 0;
    for rows in series.values() {
        let c0 = rows[0].count;
        for (k, e) in rows.iter().enumerate() {
            assert_eq!(e.count, c0 + k as i32, "count of {e:?}");
            assert_eq!(e.first, rows[0].first, "first_timestamp of {e:?}");
        }
        repeated += usize::from(rows.len() > 1);
    }
    assert!(repeated > 10, "only {repeated} repeated events");
}

/// A container that crashes again within ten minutes of its last start is held back: the
/// kubelet reports BackOff while it waits, and the BackOff events belong to the incident
/// that crashed it. Returns the crash loops an incident caused.
fn check_backoff(f: &Fixture) -> usize {
    let w = &f.world;
    let mut loops = 0;
    for (p, pod) in w.pods.pods.iter().enumerate() {
        for pair in pod.restarts.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            if b.at - a.started() > 10 * MINUTE || b.at < f.start || b.started() >= f.start + DAY {
                continue;
            }
            let backoffs: Vec<&Ev> = f
                .rows
                .iter()
                .filter(|e| {
                    e.reason == "BackOff"
                        && e.pod.as_deref() == Some(pod.name.as_str())
                        && e.ts >= b.at
                        && e.ts < b.started()
                })
                .collect();
            assert!(!backoffs.is_empty(), "no BackOff for pod {p} {}", pod.name);
            let svc = w.service(pod.service);
            for e in &backoffs {
                assert_eq!(
                    e.message,
                    format!(
                        "Back-off restarting failed container {} in pod {}_{}({})",
                        svc.name, pod.name, svc.namespace, pod.uid
                    )
                );
                assert_eq!((e.kind.as_str(), e.source.as_str()), ("Warning", "kubelet"));
            }
            // A crash loop of a near miss (the normal world's) carries no label.
            if let Some(inc) = w.incidents.active_at(b.at).find(|i| {
                !i.background
                    && matches!(
                        i.incident_type.as_str(),
                        "memory_leak" | "deployment_failure"
                    )
                    && i.hits_pod(&w.pods, p)
            }) {
                for e in &backoffs {
                    assert_eq!(e.incident.as_deref(), Some(inc.id.as_str()), "{e:?}");
                    assert_eq!(e.role, "root_cause", "{e:?}");
                }
                loops += 1;
            }
        }
    }
    // No BackOff without a crash loop.
    for e in f.rows.iter().filter(|e| e.reason == "BackOff") {
        let pod = w
            .pods
            .pods
            .iter()
            .find(|p| e.pod.as_deref() == Some(p.name.as_str()))
            .expect("BackOff of a planned pod");
        let i = pod
            .restarts
            .iter()
            .position(|r| e.ts >= r.at && e.ts < r.started());
        let held = i.is_some_and(|i| {
            i > 0 && pod.restarts[i].at - pod.restarts[i - 1].started() <= 10 * MINUTE
        });
        assert!(held, "BackOff outside a crash loop: {e:?}");
    }
    loops
}

#[test]
fn aggregated_events_count_their_occurrences() {
    check_series(fixture());
    check_series(leaky());
}

#[test]
fn crash_loops_back_off() {
    check_backoff(fixture());
    let loops = check_backoff(leaky());
    assert!(
        loops >= 3,
        "only {loops} leak crash loops in a day of long leaks"
    );
    let f = leaky();
    let labelled = f
        .rows
        .iter()
        .filter(|e| e.reason == "BackOff" && e.incident_type.is_some())
        .count();
    eprintln!("long leaks: {loops} crash loops, {labelled} labelled BackOff events");
    assert!(labelled >= loops, "{labelled} labelled BackOff events");
}

#[test]
fn probe_failures_follow_incidents_and_routine_noise_stays_normal() {
    let f = fixture();
    let w = &f.world;
    for e in &f.rows {
        if matches!(
            e.reason.as_str(),
            "DNSConfigForming" | "FailedGetResourceMetric"
        ) || e.template == "k8s.pod.liveness_probe_failed"
        {
            assert_eq!(e.role, "none", "background noise labelled: {e:?}");
        }
        if e.reason == "Unhealthy"
            && let Some(ty) = &e.incident_type
        {
            let t = w
                .config
                .incidents
                .types
                .iter()
                .find(|t| &t.name.value == ty)
                .expect("type");
            assert!(
                t.effects
                    .kubernetes
                    .iter()
                    .any(|x| x.value == "probe_failures"),
                "Unhealthy labelled with {ty}, which has no probe_failures"
            );
        }
    }
    let unlabelled = f
        .rows
        .iter()
        .filter(|e| e.reason == "Unhealthy" && e.incident.is_none())
        .count();
    assert!(unlabelled > 0, "no background probe failures");
    let mut with = 0;
    let mut total = 0;
    for ty in ["cpu_saturation", "dependency_outage", "deployment_failure"] {
        for inc in f.of_type(ty) {
            total += 1;
            if f.labelled_by(inc).any(|e| e.reason == "Unhealthy") {
                with += 1;
            }
        }
    }
    assert!(
        total > 0 && with * 10 >= total * 9,
        "{with} of {total} probe-failure incidents have Unhealthy events"
    );
}

/// Counts of labelled events per incident type and reason (run with `--nocapture`).
#[test]
fn summary_of_labelled_events() {
    let f = fixture();
    let mut by_type: BTreeMap<&str, (usize, BTreeMap<&str, usize>)> = BTreeMap::new();
    for e in &f.rows {
        if let Some(ty) = &e.incident_type {
            let entry = by_type.entry(ty).or_default();
            entry.0 += 1;
            *entry.1.entry(&e.reason).or_default() += 1;
        }
    }
    let incidents = f
        .world
        .incidents
        .incidents
        .iter()
        .filter(|i| i.start >= f.start && i.start < f.start + DAY)
        .count();
    eprintln!(
        "{} events, {} labelled, {incidents} incidents",
        f.rows.len(),
        f.rows.iter().filter(|e| e.incident.is_some()).count()
    );
    for (ty, (n, reasons)) in &by_type {
        let n_inc = f.of_type(ty).count();
        eprintln!("{ty:30} {n_inc:3} incidents {n:6} events {reasons:?}");
    }
    assert!(by_type.contains_key("memory_leak") && by_type.contains_key("node_failure"));
}
