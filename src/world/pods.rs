//! Pod lifetimes: rollouts (new ReplicaSet hash and image tag), container restarts and
//! rescheduling, planned per service and replica slot from seed-derived streams keyed by
//! absolute weeks and days, so a time window sees the same pods whatever range it is
//! generated in.

use super::topology::{ServiceInfo, Topology, push_k8s_suffix};
use crate::config::{Language, WorldRates};
use crate::incidents::{BAD_RELEASE_CLEARANCE, Incident, IncidentPlan, RootEntity};
use crate::rng::{Rng, mix64, str_key, stream};
use crate::time::{DAY, HOUR, MINUTE, Micros, SECOND, weekday};

/// A Deployment rollout: a new ReplicaSet with a new image tag.
#[derive(Debug, Clone)]
pub struct Rollout {
    pub service: usize,
    pub at: Micros,
    /// Semantic version, also the image tag (`v` + version) and the Sentry release.
    pub version: String,
    /// The pod-template-hash of the new ReplicaSet.
    pub rs_hash: String,
    /// Deployment revision (the `deployment.kubernetes.io/revision` annotation).
    pub revision: u64,
    /// Seconds between successive replicas of the rolling update.
    pub stagger: Micros,
    /// Index of the rollout this one replaced, if planned.
    pub previous: Option<usize>,
    /// Why it happened.
    pub cause: RolloutCause,
}

/// Why a rollout happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RolloutCause {
    /// A routine deploy.
    Routine,
    /// The bad release of a `deployment_failure` incident (index into the incident plan).
    Bad(usize),
    /// The rollback that ends that incident.
    Rollback(usize),
}

/// Why a container restarted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartReason {
    Error,
    OomKilled,
}

impl RestartReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RestartReason::Error => "Error",
            RestartReason::OomKilled => "OOMKilled",
        }
    }
    pub fn exit_code(self) -> i32 {
        match self {
            RestartReason::Error => 1,
            RestartReason::OomKilled => 137,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Restart {
    /// When the container died.
    pub at: Micros,
    /// When the new container became ready again.
    pub back: Micros,
    pub reason: RestartReason,
    /// The incident that killed the container (index into the plan), or `u32::MAX` for a
    /// background restart (one the counterfactual twin has too).
    pub incident: u32,
}

impl Restart {
    /// When the replacement container started (half way between death and readiness).
    pub fn started(&self) -> Micros {
        self.back - (self.back - self.at) / 2
    }

    /// No container runs: between the death and the replacement's start.
    pub fn down_at(&self, t: Micros) -> bool {
        t >= self.at && t < self.started()
    }
}

/// Why a pod went away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodEnd {
    /// Replaced by a newer ReplicaSet.
    Rollout,
    /// Deleted and recreated elsewhere (node drain, autoscaler scale-down).
    Rescheduled,
    /// Evicted from a failing node (node failure, disk pressure) and recreated elsewhere.
    Evicted,
}

#[derive(Debug, Clone)]
pub struct Pod {
    pub service: usize,
    pub slot: u32,
    pub rollout: usize,
    pub name: String,
    pub uid: String,
    pub ip: String,
    pub node: usize,
    /// Pod object created (SuccessfulCreate).
    pub created: Micros,
    pub scheduled: Micros,
    pub pulling: Micros,
    pub pulled: Micros,
    /// Container started.
    pub started: Micros,
    /// Readiness probe passed: the pod receives traffic from here.
    pub ready: Micros,
    /// Deletion began (Killing); `None` if alive past the plan.
    pub deleted: Option<Micros>,
    pub end: Option<PodEnd>,
    pub restarts: Vec<Restart>,
    /// Windows where the container runs but is not ready (its node is unreachable).
    pub unready: Vec<(Micros, Micros)>,
    pub key: u64,
}

impl Pod {
    /// The pod exists (from creation to the end of its termination grace period).
    pub fn alive_at(&self, t: Micros) -> bool {
        t >= self.created && self.deleted.is_none_or(|d| t < d + 2 * SECOND)
    }

    /// The container is up and ready to serve at `t`.
    pub fn serving_at(&self, t: Micros) -> bool {
        t >= self.ready
            && self.deleted.is_none_or(|d| t < d)
            && !self.restarts.iter().any(|r| t >= r.at && t < r.back)
            && !self.unready.iter().any(|&(a, b)| t >= a && t < b)
    }

    /// Restarts before `t`.
    pub fn restarts_before(&self, t: Micros) -> usize {
        self.restarts.partition_point(|r| r.at <= t)
    }

    /// When the current container (at `t`) started.
    pub fn container_start(&self, t: Micros) -> Micros {
        let n = self.restarts_before(t);
        if n == 0 {
            self.started
        } else {
            self.restarts[n - 1].started().min(t)
        }
    }
}

#[derive(Debug, Clone)]
pub struct PodPlan {
    pub rollouts: Vec<Rollout>,
    pub pods: Vec<Pod>,
    /// `slots[service][slot]`: pod indices in creation order.
    pub slots: Vec<Vec<Vec<usize>>>,
    /// `serving[service][slot]`: what [`PodPlan::serving_pod`] needs of the pods of
    /// `slots[service][slot]`, in the same order, stored contiguously.
    serving: Vec<Vec<SlotIndex>>,
}

/// The pods of one replica slot, for [`PodPlan::serving_pod`].
#[derive(Debug, Clone)]
struct SlotIndex {
    pods: Vec<SlotPod>,
    /// Creation times never decrease along `pods` (they nearly always do not: a slot's
    /// pods are created in event order, up to 0.4 s of jitter).
    sorted: bool,
    /// `max_deleted[k]`: the latest deletion of `pods[..=k]` (`Micros::MAX` once one
    /// lives on), so that the pods alive in a window are found without a scan of the
    /// range's.
    max_deleted: Vec<Micros>,
}

impl SlotIndex {
    /// Number of pods created at or before `t`: `pods.partition_point(|p| p.created <= t)`.
    /// When sorted, searched from the end (the queried instants are mostly near the end of
    /// the plan), galloping back; otherwise the binary search itself, whose answer on an
    /// unsorted slice is the one the pod choice has always used.
    #[inline]
    fn created_up_to(&self, t: Micros) -> usize {
        let pods = &self.pods;
        if !self.sorted {
            return pods.partition_point(|sp| sp.created <= t);
        }
        // Invariant: every pod in pods[hi..] was created after t.
        let mut hi = pods.len();
        let mut step = 1;
        loop {
            if hi == 0 {
                return 0;
            }
            let probe = hi.saturating_sub(step);
            if pods[probe].created <= t {
                let lo = probe + 1;
                return lo + pods[lo..hi].partition_point(|sp| sp.created <= t);
            }
            hi = probe;
            step *= 2;
        }
    }
}

/// The serving window of a pod, for [`PodPlan::serving_pod`].
#[derive(Debug, Clone, Copy)]
struct SlotPod {
    created: Micros,
    ready: Micros,
    /// Deletion time, `Micros::MAX` if never deleted.
    deleted: Micros,
    pod: u32,
    /// The pod has neither restarts nor unready windows: serving in `[ready, deleted)`.
    simple: bool,
}

/// Absolute week index (weeks since the Monday 1969-12-29).
pub fn week_of(t: Micros) -> i64 {
    (t.div_euclid(DAY) + 3).div_euclid(7)
}

fn week_start(w: i64) -> Micros {
    (w * 7 - 3) * DAY
}

/// Seconds from container start to readiness, by runtime.
fn startup_time(lang: Language, rng: &mut Rng) -> Micros {
    let (lo, hi) = match lang {
        Language::Java => (18.0, 42.0),
        Language::Python => (4.0, 11.0),
        Language::Node => (2.5, 7.0),
        Language::Go => (1.0, 4.0),
    };
    (rng.range_f64(lo, hi) * SECOND as f64) as Micros
}

/// The routine deploys of `svc` in week `w`, sorted: in deploy hours, fewer at weekends,
/// at least one a week. A pure function of the seed, the service and the week (incidents
/// do not move them; the incident schedule reads them to start bad releases between them).
pub fn routine_deploys(seed: u64, svc: &ServiceInfo, rates: &WorldRates, w: i64) -> Vec<Micros> {
    let mut rng = Rng::derive(seed, &[str_key("rollouts"), svc.key, w as u64]);
    let per_week = svc.deploys_per_day * (5.0 + 2.0 * rates.weekend_deploy_factor.0);
    let n = rng.poisson(per_week).max(1);
    let day_weights: Vec<f64> = (0..7)
        .map(|d| {
            if d >= 5 {
                rates.weekend_deploy_factor.0
            } else {
                1.0
            }
        })
        .collect();
    let cum = crate::rng::cumulative(day_weights);
    let h0 = rates.deploy_hours.start as f64;
    let h1 = rates.deploy_hours.end as f64;
    let mut times: Vec<Micros> = (0..n)
        .map(|_| {
            let d = rng.weighted(&cum) as i64;
            week_start(w) + d * DAY + (rng.range_f64(h0, h1) * HOUR as f64) as Micros
        })
        .collect();
    times.sort_unstable();
    times
}

/// Weeks of 2024 onwards give the minor version, so versions grow over time.
const VERSION_EPOCH_WEEK: i64 = 2817; // the week of 2024-01-01

impl PodPlan {
    /// Plans pods for `[start, end)`: rollouts from the week before `start`'s week.
    pub fn plan(
        seed: u64,
        topo: &Topology,
        rates: &WorldRates,
        incidents: &IncidentPlan,
        start: Micros,
        end: Micros,
    ) -> PodPlan {
        let first_week = week_of(start) - 1;
        let last_week = week_of(end - 1);
        let mut rollouts: Vec<Rollout> = Vec::new();
        let mut pods: Vec<Pod> = Vec::new();
        let mut slots = Vec::with_capacity(topo.services.len());
        for svc in &topo.services {
            // Rollouts of each planned week.
            let mut svc_rollouts: Vec<usize> = Vec::new();
            // The rollout in place before the plan: from the week before the first.
            for w in (first_week - 1)..=last_week {
                // (time, cause, ordinal): a routine deploy's ordinal is its rank among the
                // week's routine deploys as drawn, so its ReplicaSet hash, version and
                // revision are those of the counterfactual twin whatever incidents add or
                // suppress around it; a bad release and its rollback sit between the
                // routine deploys before and after them (`ordinal` = routine deploys
                // drawn before it).
                let routine = routine_deploys(seed, svc, rates, w);
                let mut times: Vec<(Micros, RolloutCause, u64)> = routine
                    .iter()
                    .enumerate()
                    .map(|(k, &t)| (t, RolloutCause::Routine, k as u64))
                    .collect();
                let before = |t: Micros| routine.partition_point(|&r| r < t) as u64;
                // Bad releases and their rollbacks; no routine deploy during one.
                for inc in incidents.incidents.iter().filter(|i| {
                    i.root == RootEntity::Deployment(svc.index) && week_of(i.start) == w
                }) {
                    // Routine deploys only: another bad release's rollout and rollback
                    // stay (placement keeps bad releases of a service apart).
                    times.retain(|&(t, cause, _)| {
                        cause != RolloutCause::Routine
                            || t < inc.start - BAD_RELEASE_CLEARANCE
                            || t > inc.end + BAD_RELEASE_CLEARANCE
                    });
                    let bad = inc.start + 2 * SECOND;
                    times.push((bad, RolloutCause::Bad(inc.index), before(bad)));
                    let back = inc.recovery;
                    times.push((back, RolloutCause::Rollback(inc.index), before(bad)));
                }
                times.sort_unstable_by_key(|&(t, _, _)| t);
                let keep_from = if w == first_week - 1 {
                    times.len() - 1
                } else {
                    0
                };
                let week_base = ((w - VERSION_EPOCH_WEEK).max(0) as u64) * 1024 + 8;
                for (at, cause, k) in times.into_iter().skip(keep_from) {
                    let hkey = match cause {
                        RolloutCause::Routine => {
                            stream(seed, &[str_key("rs-hash"), svc.key, w as u64, k])
                        }
                        RolloutCause::Bad(i) | RolloutCause::Rollback(i) => stream(
                            incidents.incidents[i].key,
                            &[str_key("rs-hash-bad"), svc.key],
                        ),
                    };
                    let mut rs_hash = String::with_capacity(10);
                    push_k8s_suffix(&mut rs_hash, hkey, 10);
                    let mut version = match cause {
                        RolloutCause::Routine => {
                            format!("{}.{}.{}", svc.major_version, w - VERSION_EPOCH_WEEK, k)
                        }
                        // The next version, shipped as a release candidate by mistake.
                        _ => format!(
                            "{}.{}.{}-rc.1",
                            svc.major_version,
                            w - VERSION_EPOCH_WEEK,
                            k
                        ),
                    };
                    let revision = match cause {
                        RolloutCause::Routine => week_base + 4 * k,
                        RolloutCause::Bad(_) => week_base + 4 * k - 3,
                        RolloutCause::Rollback(_) => week_base + 4 * k - 2,
                    };
                    // A rollback returns to the ReplicaSet and version before the bad release.
                    if let RolloutCause::Rollback(i) = cause
                        && let Some(good) = svc_rollouts
                            .iter()
                            .rev()
                            .find(|&&r| rollouts[r].cause == RolloutCause::Bad(i))
                            .and_then(|&bad| rollouts[bad].previous)
                    {
                        rs_hash = rollouts[good].rs_hash.clone();
                        version = rollouts[good].version.clone();
                    }
                    let previous = svc_rollouts.last().copied();
                    let idx = rollouts.len();
                    rollouts.push(Rollout {
                        service: svc.index,
                        at,
                        version,
                        rs_hash,
                        revision,
                        stagger: (Rng::new(hkey).range_f64(8.0, 25.0) * SECOND as f64) as Micros,
                        previous,
                        cause,
                    });
                    svc_rollouts.push(idx);
                }
            }
            // Walk each replica slot through rollouts and reschedules.
            let mut svc_slots = Vec::with_capacity(svc.replicas as usize);
            for slot in 0..svc.replicas {
                let mut events: Vec<(Micros, SlotEvent)> = svc_rollouts
                    .iter()
                    .map(|&r| {
                        (
                            rollouts[r].at + slot as i64 * rollouts[r].stagger,
                            SlotEvent::Rollout(r),
                        )
                    })
                    .collect();
                for inc in &incidents.incidents {
                    if let RootEntity::Node(n) = inc.root {
                        // A near miss evicts only when the node stays unreachable for the
                        // taint-based eviction's 5 minutes, and under disk pressure one
                        // pod in eight rather than one in two.
                        let share = if inc.background { 8 } else { 2 };
                        if inc.has_effect("node_not_ready") {
                            if !inc.background || inc.onset + 5 * MINUTE < inc.recovery {
                                events.push((node_eviction_time(inc), SlotEvent::Evict(n)));
                            }
                        } else if (mix64(inc.key ^ svc.key) + slot as u64).is_multiple_of(share) {
                            events.push((inc.peak + (slot as i64) * SECOND, SlotEvent::Evict(n)));
                        }
                    }
                }
                let first_day = rollouts[svc_rollouts[0]].at.div_euclid(DAY) + 1;
                for day in first_day..=(end - 1).div_euclid(DAY) {
                    let mut rng = Rng::derive(
                        seed,
                        &[str_key("reschedule"), svc.key, slot as u64, day as u64],
                    );
                    for _ in 0..rng.poisson(rates.reschedules_per_pod_day.0) {
                        events.push((
                            day * DAY + rng.below(DAY as u64) as i64,
                            SlotEvent::Reschedule,
                        ));
                    }
                }
                events.sort_by_key(|e| e.0);
                let mut slot_pods: Vec<usize> = Vec::new();
                let mut current_rollout = svc_rollouts[0];
                for (at, ev) in events {
                    if at >= end {
                        break;
                    }
                    match ev {
                        SlotEvent::Rollout(r) => current_rollout = r,
                        SlotEvent::Evict(n) => {
                            // Only the pod on that node is evicted.
                            if slot_pods
                                .last()
                                .is_none_or(|&p| pods[p].node != n || pods[p].deleted.is_some())
                            {
                                continue;
                            }
                        }
                        SlotEvent::Reschedule => {}
                    }
                    let pod_key = stream(seed, &[str_key("pod"), svc.key, slot as u64, at as u64]);
                    let mut rng = Rng::new(pod_key);
                    let created = at + rng.below(400_000) as i64;
                    let scheduled = created + 3_000 + rng.below(40_000) as i64;
                    let pulling = scheduled + 400_000 + rng.below(900_000) as i64;
                    let pulled = pulling + (rng.range_f64(1.5, 9.0) * SECOND as f64) as Micros;
                    let started = pulled + 300_000 + rng.below(700_000) as i64;
                    let ready = started + startup_time(svc.language, &mut rng);
                    // The previous pod of this slot goes once the new one is ready.
                    if let Some(&prev) = slot_pods.last() {
                        let p: &mut Pod = &mut pods[prev];
                        if p.deleted.is_none() {
                            let (deleted, why) = match ev {
                                SlotEvent::Rollout(_) => (
                                    ready + 500_000 + rng.below(1_500_000) as i64,
                                    PodEnd::Rollout,
                                ),
                                SlotEvent::Reschedule => (at, PodEnd::Rescheduled),
                                SlotEvent::Evict(_) => (at, PodEnd::Evicted),
                            };
                            p.deleted = Some(deleted);
                            p.end = Some(why);
                        }
                    }
                    let prev_node = slot_pods.last().map(|&p| pods[p].node);
                    let mut node = (mix64(pod_key) % topo.nodes.len() as u64) as usize;
                    if Some(node) == prev_node && topo.nodes.len() > 1 {
                        node = (node + 1 + slot as usize) % topo.nodes.len();
                    }
                    // The scheduler avoids nodes that are failing.
                    for _ in 0..topo.nodes.len() {
                        if !node_blocked(incidents, node, created) {
                            break;
                        }
                        node = (node + 1) % topo.nodes.len();
                    }
                    let ro = &rollouts[current_rollout];
                    let mut name = String::with_capacity(svc.name.len() + 17);
                    name.push_str(&svc.name);
                    name.push('-');
                    name.push_str(&ro.rs_hash);
                    name.push('-');
                    push_k8s_suffix(&mut name, mix64(pod_key ^ 0x1234), 5);
                    let node_ip = &topo.nodes[node].ip;
                    let third: u32 = node_ip
                        .split('.')
                        .nth(2)
                        .and_then(|x| x.parse().ok())
                        .unwrap_or(0);
                    let ip = format!("10.0.{}.{}", third, 2 + rng.below(253));
                    pods.push(Pod {
                        service: svc.index,
                        slot,
                        rollout: current_rollout,
                        name,
                        uid: uuid_from(pod_key),
                        ip,
                        node,
                        created,
                        scheduled,
                        pulling,
                        pulled,
                        started,
                        ready,
                        deleted: None,
                        end: None,
                        restarts: Vec::new(),
                        unready: Vec::new(),
                        key: pod_key,
                    });
                    slot_pods.push(pods.len() - 1);
                }
                svc_slots.push(slot_pods);
            }
            slots.push(svc_slots);
        }
        // Background container restarts over each pod's serving life.
        let rollout_causes: Vec<RolloutCause> = rollouts.iter().map(|r| r.cause).collect();
        for p in pods.iter_mut() {
            let svc = &topo.services[p.service];
            let life_end = p.deleted.unwrap_or(end).min(end);
            let mut day = p.ready.div_euclid(DAY);
            while day * DAY < life_end {
                let mut rng = Rng::derive(p.key, &[str_key("restarts"), day as u64]);
                for _ in 0..rng.poisson(rates.container_restarts_per_pod_day.0) {
                    let at = day * DAY + rng.below(DAY as u64) as i64;
                    if at <= p.ready || at >= life_end {
                        continue;
                    }
                    let reason = if rng.chance(0.3) && svc.language != Language::Go {
                        RestartReason::OomKilled
                    } else {
                        RestartReason::Error
                    };
                    let back = at
                        + (rng.range_f64(1.0, 3.0) * SECOND as f64) as Micros
                        + startup_time(svc.language, &mut rng);
                    p.restarts.push(Restart {
                        at,
                        back,
                        reason,
                        incident: u32::MAX,
                    });
                }
                day += 1;
            }
            // Incidents: OOM kills of a leaking pod, crashes of a bad release, an
            // unreachable node.
            for inc in incidents.overlapping(p.created, life_end) {
                match inc.root {
                    RootEntity::Pod { service, slot }
                        if service == p.service && slot == p.slot && inc.reaches_limit() =>
                    {
                        let mut at = inc.peak + 5 * SECOND;
                        let mut count = 0;
                        let kills = if inc.background { 1 } else { 3 };
                        while at < inc.recovery && at < life_end && count < kills {
                            if at > p.ready {
                                let back = at
                                    + 10 * SECOND * (1 << count)
                                    + startup_time(
                                        svc.language,
                                        &mut Rng::new(inc.key ^ at as u64),
                                    );
                                p.restarts.push(Restart {
                                    at,
                                    back,
                                    reason: RestartReason::OomKilled,
                                    incident: inc.index as u32,
                                });
                            }
                            count += 1;
                            at += (inc.recovery - inc.peak) / 2;
                        }
                    }
                    RootEntity::Node(n) if n == p.node && inc.has_effect("node_not_ready") => {
                        let from = (inc.onset + 40 * SECOND).max(p.ready);
                        let to = node_eviction_time(inc).min(life_end);
                        if from < to {
                            p.unready.push((from, to));
                        }
                    }
                    _ => {}
                }
            }
            if let Some(inc) = match rollout_causes[p.rollout] {
                RolloutCause::Bad(i) => incidents.incidents.get(i),
                _ => None,
            } {
                // The regression crashes the container under load from the peak on: a
                // crash loop with the kubelet's doubling back-off (10 s .. 5 min) until
                // the rollback deletes the pod.
                let mut at = inc.peak + (p.slot as i64 + 1) * 7 * SECOND;
                let mut rng = Rng::new(p.key ^ 0xbad);
                for k in 0..12 {
                    if at >= life_end {
                        break;
                    }
                    if at > p.ready {
                        let backoff = ((10 * SECOND) << k).min(5 * MINUTE);
                        let back = at + backoff + startup_time(svc.language, &mut rng);
                        p.restarts.push(Restart {
                            at,
                            back,
                            reason: RestartReason::Error,
                            incident: inc.index as u32,
                        });
                        at = back + (rng.range_f64(2.0, 8.0) * SECOND as f64) as Micros;
                    } else {
                        at = p.ready + SECOND;
                    }
                }
            }
            p.restarts.sort_by_key(|r| r.at);
            // A restart while the container is still down merges into the first.
            p.restarts.dedup_by(|b, a| b.at < a.back + 2 * SECOND);
        }
        let serving = slots
            .iter()
            .map(|svc_slots| {
                svc_slots
                    .iter()
                    .map(|slot| {
                        let index: Vec<SlotPod> = slot
                            .iter()
                            .map(|&p| {
                                let pod = &pods[p];
                                SlotPod {
                                    created: pod.created,
                                    ready: pod.ready,
                                    deleted: pod.deleted.unwrap_or(Micros::MAX),
                                    pod: p as u32,
                                    simple: pod.restarts.is_empty() && pod.unready.is_empty(),
                                }
                            })
                            .collect();
                        SlotIndex {
                            sorted: index.windows(2).all(|w| w[0].created <= w[1].created),
                            max_deleted: crate::time::latest_so_far(
                                index.iter().map(|sp| sp.deleted),
                            ),
                            pods: index,
                        }
                    })
                    .collect()
            })
            .collect();
        PodPlan {
            rollouts,
            pods,
            slots,
            serving,
        }
    }

    /// A pod of `service` serving at `t`, chosen by `key` (load balancing), if any.
    pub fn serving_pod(&self, service: usize, t: Micros, key: u64) -> Option<usize> {
        let slots = &self.serving[service];
        let n = slots.len();
        let first = (key % n as u64) as usize;
        (0..n).find_map(|k| self.slot_serving(&slots[(first + k) % n], t))
    }

    /// The pods of `service` serving at `t`, one per replica slot at most, in slot order.
    pub fn serving_pods(&self, service: usize, t: Micros) -> impl Iterator<Item = usize> + '_ {
        self.serving[service]
            .iter()
            .filter_map(move |slot| self.slot_serving(slot, t))
    }

    /// The pod of a replica slot serving at `t`, if any.
    fn slot_serving(&self, slot: &SlotIndex, t: Micros) -> Option<usize> {
        // latest pod created at or before t
        let i = slot.created_up_to(t);
        slot.pods[..i].iter().rev().take(2).find_map(|sp| {
            // `Pod::serving_at`, without reading the pod when it never restarted nor
            // went unready (`deleted` is `Micros::MAX` only for a pod never deleted, and
            // `t < Micros::MAX` for any instant of a plan).
            let serving = if sp.simple {
                t >= sp.ready && t < sp.deleted
            } else {
                self.pods[sp.pod as usize].serving_at(t)
            };
            serving.then_some(sp.pod as usize)
        })
    }

    /// Pods of `service` that exist at some point of `[a, b)`.
    pub fn pods_overlapping(
        &self,
        service: usize,
        a: Micros,
        b: Micros,
    ) -> impl Iterator<Item = usize> + '_ {
        // A pod counts until 2 s after its deletion.
        let a = a - 2 * SECOND;
        // Per slot, in creation order: the pods created before b (all of them when the
        // slot is not sorted), from the first that may still exist after a.
        self.serving[service].iter().flat_map(move |slot| {
            let hi = if slot.sorted {
                slot.pods.partition_point(|sp| sp.created < b)
            } else {
                slot.pods.len()
            };
            let lo = crate::time::first_ending_after(&slot.max_deleted, hi, a);
            slot.pods[lo..hi]
                .iter()
                .filter(move |sp| sp.created < b && sp.deleted > a)
                .map(|sp| sp.pod as usize)
        })
    }

    /// Rollouts of any service that start in `[a, b)`.
    pub fn rollouts_in(&self, a: Micros, b: Micros) -> impl Iterator<Item = usize> + '_ {
        (0..self.rollouts.len())
            .filter(move |&r| self.rollouts[r].at >= a && self.rollouts[r].at < b)
    }
}

/// What happens to a replica slot.
#[derive(Debug, Clone, Copy)]
enum SlotEvent {
    Rollout(usize),
    Reschedule,
    /// Pods on this node are evicted.
    Evict(usize),
}

/// When the pods of a failed node are evicted (the taint-based eviction after 5 minutes,
/// or the recovery if sooner).
pub fn node_eviction_time(inc: &Incident) -> Micros {
    (inc.onset + 5 * MINUTE).min(inc.recovery)
}

/// The scheduler does not place pods on a node under a node incident.
fn node_blocked(incidents: &IncidentPlan, node: usize, t: Micros) -> bool {
    incidents
        .active_at(t)
        .any(|i| i.root == RootEntity::Node(node))
}

/// A UUID (version 4 layout) derived from a key.
pub fn uuid_from(key: u64) -> String {
    let hi = mix64(key ^ 0xa5a5_a5a5);
    let lo = mix64(key ^ 0x5a5a_5a5a);
    let hi = (hi & 0xffff_ffff_ffff_0fff) | 0x0000_0000_0000_4000;
    let lo = (lo & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0xffff,
        lo >> 48,
        lo & 0xffff_ffff_ffff
    )
}

/// Is `t` on a weekend (Saturday or Sunday)?
pub fn is_weekend(t: Micros) -> bool {
    weekday(t) >= 5
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn pods_follow_rollouts_and_are_stable_across_ranges() {
        let cfg = Config::defaults().expect("defaults");
        let topo = Topology::build(42, &cfg.services);
        let start = 1_795_392_000_000_000; // Monday
        let plan = PodPlan::plan(
            42,
            &topo,
            &cfg.generation.world,
            &IncidentPlan::default(),
            start,
            start + DAY,
        );
        // every service has serving pods all day long
        for s in 0..topo.services.len() {
            for m in (0..1440).step_by(7) {
                let t = start + m * MINUTE;
                assert!(
                    plan.serving_pod(s, t, m as u64).is_some(),
                    "service {s} minute {m}"
                );
            }
        }
        for p in &plan.pods {
            let svc = &topo.services[p.service];
            assert!(p.name.starts_with(&format!("{}-", svc.name)));
            assert_eq!(p.name.len(), svc.name.len() + 17, "{}", p.name);
            assert!(
                p.created < p.scheduled
                    && p.scheduled < p.pulling
                    && p.pulled < p.started
                    && p.started < p.ready
            );
        }
        // A wider range sees the same pods in the shared window.
        let wide = PodPlan::plan(
            42,
            &topo,
            &cfg.generation.world,
            &IncidentPlan::default(),
            start - 3 * DAY,
            start + DAY,
        );
        let names = |pl: &PodPlan| {
            let mut v: Vec<String> = (0..topo.services.len())
                .flat_map(|s| {
                    pl.pods_overlapping(s, start + HOUR, start + 2 * HOUR)
                        .map(|p| pl.pods[p].name.clone())
                        .collect::<Vec<_>>()
                })
                .collect();
            v.sort();
            v
        };
        assert_eq!(names(&plan), names(&wide));
        assert_eq!(uuid_from(1).len(), 36);
    }

    #[test]
    fn serving_pod_index_chooses_the_pods_of_the_plain_search() {
        let cfg = Config::defaults().expect("defaults");
        let topo = Topology::build(7, &cfg.services);
        let start = 1_795_392_000_000_000; // Monday
        let plan = PodPlan::plan(
            7,
            &topo,
            &cfg.generation.world,
            &IncidentPlan::default(),
            start - 9 * DAY,
            start + DAY,
        );
        // The search over the pods themselves, as it was before the index.
        let plain = |service: usize, t: Micros, key: u64| -> Option<usize> {
            let slots = &plan.slots[service];
            let n = slots.len();
            let first = (key % n as u64) as usize;
            for k in 0..n {
                let slot = &slots[(first + k) % n];
                let i = slot.partition_point(|&p| plan.pods[p].created <= t);
                for &p in slot[..i].iter().rev().take(2) {
                    if plan.pods[p].serving_at(t) {
                        return Some(p);
                    }
                }
            }
            None
        };
        let mut rng = Rng::new(11);
        for _ in 0..200_000 {
            let s = rng.index(topo.services.len());
            let t = start - 10 * DAY + rng.below((11 * DAY) as u64) as Micros;
            let key = rng.next_u64();
            assert_eq!(plan.serving_pod(s, t, key), plain(s, t, key), "{s} {t}");
        }
        // Instants at and around pod lifecycle edges.
        for (p, pod) in plan.pods.iter().enumerate() {
            for t in [pod.created, pod.ready, pod.deleted.unwrap_or(pod.ready)] {
                for dt in [-1, 0, 1] {
                    let key = p as u64;
                    assert_eq!(
                        plan.serving_pod(pod.service, t + dt, key),
                        plain(pod.service, t + dt, key)
                    );
                }
            }
        }
        // The galloping count equals the binary search on any sorted slot.
        for svc in &plan.serving {
            for slot in svc {
                for sp in &slot.pods {
                    for t in [sp.created - 1, sp.created, sp.created + 1] {
                        assert_eq!(
                            slot.created_up_to(t),
                            slot.pods.partition_point(|x| x.created <= t)
                        );
                    }
                }
            }
        }
    }
}
