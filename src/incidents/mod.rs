//! Incidents: the schedule (a pure function of seed, configuration and absolute day), each
//! incident's root cause, phases and the services it spreads to, and the queries the
//! sources use to show an incident and label the rows it causes.

mod impact;
pub mod report;

pub use impact::{FailureKind, RequestImpact};

use crate::config::{Config, IncidentType, PropagationDirection, RootCauseKind, Severity};
use crate::labels::{AnomalyRole, Phase};
use crate::rng::{Rng, str_key};
use crate::time::{DAY, MINUTE, Micros, SECOND, civil};
use crate::world::Topology;

/// The entity an incident starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootEntity {
    /// One replica slot of a service (resolved to the pod serving that slot at the start).
    Pod { service: usize, slot: u32 },
    /// A service's Deployment (a bad rollout).
    Deployment(usize),
    /// A whole service.
    Service(usize),
    /// A Kubernetes node.
    Node(usize),
    /// An AWS resource: kind (`rds`, `sqs`...) and id.
    Aws { kind: &'static str, id: String },
}

/// A service affected by an incident, and when the effect reaches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Affected {
    pub service: usize,
    /// 0 for the root cause's own service, 1 for its direct dependents...
    pub depth: u8,
    /// Delay after the incident's onset before this service shows the effect.
    pub lag: Micros,
}

#[derive(Debug, Clone)]
pub struct Incident {
    pub index: usize,
    pub id: String,
    pub type_index: usize,
    pub incident_type: String,
    pub severity: Severity,
    pub start: Micros,
    pub onset: Micros,
    pub peak: Micros,
    pub recovery: Micros,
    pub end: Micros,
    pub root: RootEntity,
    /// The service that owns the root entity, if any (none for a node or a queue with no
    /// consumer).
    pub root_service: Option<usize>,
    pub affected: Vec<Affected>,
    pub title: String,
    /// What the incident does to the requests of the services it hits.
    pub impact: RequestImpact,
    /// The effect names of its type, all sources (what the generators show).
    pub effects: Vec<String>,
    pub key: u64,
    /// How strongly it acts (1 for an incident; a near miss acts at a fraction of it).
    pub strength: f64,
    /// A near miss of the normal world (see [`IncidentPlan`]): its effects are part of the
    /// counterfactual twin too, and its rows carry no label.
    pub background: bool,
}

impl Incident {
    pub fn active_at(&self, t: Micros) -> bool {
        t >= self.start && t < self.end
    }

    /// Does a memory leak of it reach the limit (and OOM-kill the container)? An
    /// incident's does; a near miss's only when it is strong, and then once.
    pub fn reaches_limit(&self) -> bool {
        !self.background || self.strength >= NEAR_MISS_OOM_STRENGTH
    }

    /// How far towards the limit a memory leak of it drives the working set (1: all the
    /// way, where the kernel OOM-kills the container).
    pub fn leak_reach(&self) -> f64 {
        if self.reaches_limit() {
            1.0
        } else {
            0.9 * self.strength / NEAR_MISS_OOM_STRENGTH
        }
    }

    /// Does its type have this effect (in any source)?
    pub fn has_effect(&self, name: &str) -> bool {
        self.effects.iter().any(|e| e == name)
    }

    pub fn phase_at(&self, t: Micros) -> Phase {
        if t < self.start || t >= self.end {
            Phase::None
        } else if t < self.onset {
            Phase::Precursor
        } else if t < self.peak {
            Phase::Onset
        } else if t < self.recovery {
            Phase::Peak
        } else {
            Phase::Recovery
        }
    }

    /// Strength of the effect at `t` for a service `lag` behind the root: ramps up through
    /// the precursor (0 → 0.25) and onset (→ 1), holds at the peak, decays in recovery.
    pub fn intensity(&self, t: Micros, lag: Micros) -> f64 {
        let t = t - lag;
        if t < self.start || t >= self.end {
            return 0.0;
        }
        let frac = |a: Micros, b: Micros| ((t - a) as f64 / (b - a).max(1) as f64).clamp(0.0, 1.0);
        self.strength
            * match self.phase_at(t) {
                Phase::Precursor => 0.25 * frac(self.start, self.onset),
                Phase::Onset => 0.25 + 0.75 * frac(self.onset, self.peak),
                Phase::Peak => 1.0,
                Phase::Recovery => 1.0 - frac(self.recovery, self.end),
                Phase::None => 0.0,
            }
    }

    /// Does the incident act directly on the requests served by `pod`? (The pod of the
    /// root slot, pods on the root node, pods of a bad release, or every pod of a
    /// directly affected service.)
    pub fn hits_pod(&self, pods: &crate::world::PodPlan, pod: usize) -> bool {
        let p = &pods.pods[pod];
        match &self.root {
            RootEntity::Pod { service, slot } => p.service == *service && p.slot == *slot,
            RootEntity::Node(n) => p.node == *n,
            RootEntity::Deployment(s) => {
                p.service == *s && pods.rollouts[p.rollout].at >= self.start
            }
            RootEntity::Service(_) | RootEntity::Aws { .. } => self
                .affected
                .iter()
                .any(|a| a.depth == 0 && a.service == p.service),
        }
    }

    /// How service `s` is involved: its role and lag, if it is affected.
    pub fn involvement(&self, s: usize) -> Option<(AnomalyRole, Micros)> {
        self.affected.iter().find(|a| a.service == s).map(|a| {
            let role = match (a.depth, &self.root) {
                (0, RootEntity::Node(_) | RootEntity::Aws { .. }) => AnomalyRole::Symptom,
                (0, _) => AnomalyRole::RootCause,
                _ => AnomalyRole::Propagated,
            };
            (role, a.lag)
        })
    }
}

/// The strength from which a near miss's memory leak reaches the limit (a lone OOM kill).
pub const NEAR_MISS_OOM_STRENGTH: f64 = 0.35;

/// All incidents over the planned days, then the near misses of the normal world, each
/// part sorted by start.
///
/// Near misses (`background` in `incident_patterns.yaml`) are short, mild episodes of
/// the same kinds: an isolated pool timeout, a GC warning under a burst, a lag blip that
/// recovers, a lone OOM kill. They draw from streams of their own, act through the same
/// effects at a fraction of an incident's strength, are part of the counterfactual twin
/// and carry no label, so that no symptom is an answer key. They come after the
/// incidents in every iteration, so a row an incident changes too carries its label.
#[derive(Debug, Clone, Default)]
pub struct IncidentPlan {
    pub incidents: Vec<Incident>,
    /// How many of `incidents` are incidents (the near misses follow them).
    real: usize,
    /// Longest incident and longest near miss, to bound searches.
    max_duration: [Micros; 2],
}

/// Incidents never cross midnight, so each day is planned on its own.
impl IncidentPlan {
    pub fn plan(
        seed: u64,
        config: &Config,
        topo: &Topology,
        start: Micros,
        end: Micros,
    ) -> IncidentPlan {
        let patterns = &config.incidents;
        let types = &patterns.types;
        let cum = crate::rng::cumulative(types.iter().map(|t| t.weight.0));
        let mut incidents = Vec::new();
        let first_day = start.div_euclid(DAY) - 1;
        let last_day = (end - 1).div_euclid(DAY);
        for day in first_day..=last_day {
            let mut rng = Rng::derive(seed, &[str_key("incidents"), day as u64]);
            let n = rng.poisson(patterns.schedule.incidents_per_day.0) as usize;
            // Draw types and raw durations, then scale durations so that the day's active
            // time matches the target fraction.
            let mut drawn: Vec<(usize, f64)> = (0..n)
                .map(|_| {
                    let ti = rng.weighted(&cum);
                    let d = types[ti].duration_minutes;
                    let m = rng.lognormal(d.median.0, 0.45).clamp(d.min.0, d.max.0);
                    (ti, m)
                })
                .collect();
            let total: f64 = drawn.iter().map(|d| d.1).sum();
            if total > 0.0 {
                let target = patterns.schedule.target_active_fraction.0 * 1440.0;
                let f = (target / total).clamp(0.5, 2.0);
                for (ti, m) in drawn.iter_mut() {
                    let d = types[*ti].duration_minutes;
                    *m = (*m * f).clamp(d.min.0, d.max.0 * 1.5);
                }
            }
            // Place them: a few tries to avoid overlaps, never more than max_overlap at once.
            let mut placed: Vec<(Micros, Micros, usize)> = Vec::new();
            for (ti, minutes) in drawn {
                let dur = (minutes * MINUTE as f64) as Micros;
                let latest = DAY - dur - MINUTE;
                if latest <= 0 {
                    continue;
                }
                let mut chosen = None;
                for attempt in 0..12 {
                    let s = day * DAY + rng.below(latest as u64) as Micros;
                    let overlapping = placed
                        .iter()
                        .filter(|&&(a, b, _)| s < b && a < s + dur)
                        .count();
                    if overlapping == 0
                        || (attempt >= 8 && overlapping < patterns.schedule.max_overlap as usize)
                    {
                        chosen = Some(s);
                        break;
                    }
                }
                if let Some(s) = chosen {
                    placed.push((s, s + dur, ti));
                }
            }
            placed.sort_by_key(|p| p.0);
            for (k, (s, e, ti)) in placed.into_iter().enumerate() {
                let key = crate::rng::stream(seed, &[str_key("incident"), day as u64, k as u64]);
                if let Some(inc) = build_incident(key, &types[ti], ti, day, k, s, e, topo, config) {
                    incidents.push(inc);
                }
            }
        }
        incidents.sort_by_key(|i| (i.start, i.key));
        let mut near = near_misses(seed, config, topo, first_day, last_day);
        near.sort_by_key(|i| (i.start, i.key));
        let mut plan = IncidentPlan {
            real: incidents.len(),
            incidents,
            max_duration: [0; 2],
        };
        plan.incidents.append(&mut near);
        plan.reindex();
        plan
    }

    /// Indexes, and the longest of each part.
    fn reindex(&mut self) {
        for (i, inc) in self.incidents.iter_mut().enumerate() {
            inc.index = i;
        }
        let longest = |s: &[Incident]| s.iter().map(|i| i.end - i.start).max().unwrap_or(0);
        self.max_duration = [
            longest(&self.incidents[..self.real]),
            longest(&self.incidents[self.real..]),
        ];
    }

    /// The incidents, without the near misses.
    pub fn real(&self) -> &[Incident] {
        &self.incidents[..self.real]
    }

    /// Keeps only the incidents that ended before `t` (the counterfactual twin's
    /// history), and every near miss (the normal world has them).
    pub fn keep_history_before(&mut self, t: Micros) {
        self.incidents.retain(|inc| inc.background || inc.end <= t);
        self.real = self.incidents.iter().filter(|inc| !inc.background).count();
        self.reindex();
    }

    /// Node incidents hit the services with pods on the node at the start; their callers
    /// are affected in turn.
    pub fn resolve_residents(
        &mut self,
        config: &Config,
        topo: &Topology,
        pods: &crate::world::PodPlan,
    ) {
        for inc in self.incidents.iter_mut() {
            let RootEntity::Node(n) = inc.root else {
                continue;
            };
            let t = &config.incidents.types[inc.type_index];
            let mut residents: Vec<usize> = pods
                .pods
                .iter()
                .filter(|p| p.node == n && p.alive_at(inc.start))
                .map(|p| p.service)
                .collect();
            residents.sort_unstable();
            residents.dedup();
            inc.affected = residents
                .iter()
                .map(|&s| Affected {
                    service: s,
                    depth: 0,
                    lag: 0,
                })
                .collect();
            let mut rng = Rng::new(inc.key ^ 0x7265_7369);
            propagate_to_callers(&mut inc.affected, residents, t, topo, &mut rng);
        }
    }

    /// Incidents active at some point of `[a, b)`, by start, then the near misses.
    pub fn overlapping(&self, a: Micros, b: Micros) -> impl Iterator<Item = &Incident> {
        let (real, near) = self.incidents.split_at(self.real);
        overlapping_in(real, self.max_duration[0], a, b).chain(overlapping_in(
            near,
            self.max_duration[1],
            a,
            b,
        ))
    }

    /// Incidents active at `t`.
    pub fn active_at(&self, t: Micros) -> impl Iterator<Item = &Incident> {
        self.overlapping(t, t + 1)
    }
}

/// The incidents of `s` (sorted by start, none longer than `longest`) active at some
/// point of `[a, b)`.
fn overlapping_in(
    s: &[Incident],
    longest: Micros,
    a: Micros,
    b: Micros,
) -> impl Iterator<Item = &Incident> {
    let from = s.partition_point(|i| i.start < a - longest - 10 * MINUTE);
    s[from..]
        .iter()
        .take_while(move |i| i.start < b)
        .filter(move |i| i.end > a)
}

/// The near misses of days `first_day..=last_day`: `background.episodes_per_day` a day
/// (Poisson), of the types by `background_weight`, short (`background.duration_minutes`)
/// and mild (`background.strength`), each from a stream of its own.
fn near_misses(
    seed: u64,
    config: &Config,
    topo: &Topology,
    first_day: i64,
    last_day: i64,
) -> Vec<Incident> {
    let bg = &config.incidents.background;
    let types = &config.incidents.types;
    let weights: Vec<f64> = types
        .iter()
        .map(|t| t.background_weight.map_or(t.weight.0, |w| w.0))
        .collect();
    let mut out = Vec::new();
    if weights.iter().all(|&w| w <= 0.0) {
        return out;
    }
    let cum = crate::rng::cumulative(weights.iter().copied());
    for day in first_day..=last_day {
        let mut rng = Rng::derive(seed, &[str_key("near-misses"), day as u64]);
        let n = rng.poisson(bg.episodes_per_day.0) as usize;
        for k in 0..n {
            let ti = rng.weighted(&cum);
            let d = bg.duration_minutes;
            let minutes = rng.lognormal(d.median.0, 0.5).clamp(d.min.0, d.max.0);
            let strength =
                rng.range_f64(bg.strength.min.0, bg.strength.max.0.max(bg.strength.min.0));
            let dur = (minutes * MINUTE as f64) as Micros;
            let s = day * DAY + rng.below((DAY - dur - MINUTE).max(1) as u64) as Micros;
            let key = crate::rng::stream(seed, &[str_key("near-miss"), day as u64, k as u64]);
            if let Some(mut inc) =
                build_incident(key, &types[ti], ti, day, k, s, s + dur, topo, config)
            {
                inc.id = format!("NEAR-{}", &inc.id[4..]);
                inc.strength = strength;
                inc.background = true;
                out.push(inc);
            }
        }
    }
    out
}

/// Adds the callers of `frontier` (up the dependency graph, to the type's max depth) with
/// growing lags.
fn propagate_to_callers(
    affected: &mut Vec<Affected>,
    mut frontier: Vec<usize>,
    t: &IncidentType,
    topo: &Topology,
    rng: &mut Rng,
) {
    let lag_step = (t.propagation.lag_seconds.0 * SECOND as f64) as Micros;
    let mut depth = 0u8;
    while depth < t.propagation.max_depth as u8 {
        depth += 1;
        let mut next = Vec::new();
        for &s in &frontier {
            for &c in &topo.services[s].callers {
                if !affected.iter().any(|a| a.service == c) {
                    let jitter = rng.below((lag_step as u64 / 2).max(1)) as Micros;
                    affected.push(Affected {
                        service: c,
                        depth,
                        lag: lag_step * depth as i64 + jitter,
                    });
                    next.push(c);
                }
            }
        }
        if next.is_empty() {
            break;
        }
        frontier = next;
    }
}

#[allow(clippy::too_many_arguments)]
fn build_incident(
    key: u64,
    t: &IncidentType,
    ti: usize,
    day: i64,
    k: usize,
    start: Micros,
    end: Micros,
    topo: &Topology,
    config: &Config,
) -> Option<Incident> {
    let mut rng = Rng::new(key);
    let services = &topo.services;
    let matches = |s: &crate::world::ServiceInfo| {
        (t.targets.languages.is_empty() || t.targets.languages.contains(&s.language))
            && (t.targets.kinds.is_empty() || t.targets.kinds.contains(&s.kind))
            && (t.targets.services.is_empty()
                || t.targets.services.iter().any(|n| n.value == s.name))
    };
    let candidates: Vec<usize> = services
        .iter()
        .filter(|s| matches(s))
        .map(|s| s.index)
        .collect();
    let needs_service = matches!(
        t.root_cause,
        RootCauseKind::Pod | RootCauseKind::Deployment | RootCauseKind::Service
    );
    if needs_service && candidates.is_empty() {
        return None;
    }
    let (root, root_service) = match t.root_cause {
        RootCauseKind::Pod => {
            let s = *rng.pick(&candidates);
            let slot = rng.below(services[s].replicas as u64) as u32;
            (RootEntity::Pod { service: s, slot }, Some(s))
        }
        RootCauseKind::Deployment => {
            let s = *rng.pick(&candidates);
            (RootEntity::Deployment(s), Some(s))
        }
        RootCauseKind::Service => {
            let s = *rng.pick(&candidates);
            (RootEntity::Service(s), Some(s))
        }
        RootCauseKind::Node => (RootEntity::Node(rng.index(topo.nodes.len().max(1))), None),
        RootCauseKind::AwsResource => {
            let aws = &config.services.aws;
            let mut pool: Vec<(&'static str, &str)> = Vec::new();
            for kind in &t.targets.aws {
                use crate::config::AwsKind::*;
                match kind {
                    Rds => pool.extend(aws.rds.iter().map(|r| ("rds", r.id.as_str()))),
                    Sqs => pool.extend(aws.sqs.iter().map(|r| ("sqs", r.id.as_str()))),
                    Dynamodb => {
                        pool.extend(aws.dynamodb.iter().map(|r| ("dynamodb", r.id.as_str())))
                    }
                    Lambda => pool.extend(aws.lambda.iter().map(|r| ("lambda", r.id.as_str()))),
                    LoadBalancer => pool.extend(
                        aws.load_balancers
                            .iter()
                            .map(|r| ("load_balancer", r.id.as_str())),
                    ),
                }
            }
            if pool.is_empty() {
                return None;
            }
            let (kind, id) = *rng.pick(&pool);
            let users: Vec<usize> = services
                .iter()
                .filter(|s| match kind {
                    "rds" => s.rds.iter().any(|r| r == id),
                    "sqs" => {
                        s.sqs.iter().any(|r| r == id)
                            && s.kind == crate::config::ServiceKind::Worker
                    }
                    "dynamodb" => s.dynamodb.iter().any(|r| r == id),
                    "lambda" => s.lambda.iter().any(|r| r == id),
                    _ => s.load_balancer.as_deref() == Some(id),
                })
                .map(|s| s.index)
                .collect();
            let owner = users.first().copied();
            (
                RootEntity::Aws {
                    kind,
                    id: id.to_string(),
                },
                owner,
            )
        }
    };
    // Propagation: the first affected services, then up the callers graph.
    let mut affected: Vec<Affected> = Vec::new();
    let mut frontier: Vec<usize> = Vec::new();
    match (&root, t.propagation.direction) {
        (RootEntity::Node(_), _) | (_, PropagationDirection::Residents) => {
            // Resolved against pod placement by the sources; services with pods on the
            // node are found at render time. Their callers are propagated here.
        }
        (RootEntity::Aws { kind, id }, _) => {
            for s in services {
                let uses = match *kind {
                    "rds" => s.rds.iter().any(|r| r == id),
                    "sqs" => s.sqs.iter().any(|r| r == id),
                    "dynamodb" => s.dynamodb.iter().any(|r| r == id),
                    "lambda" => s.lambda.iter().any(|r| r == id),
                    _ => s.load_balancer.as_deref() == Some(id.as_str()),
                };
                if uses {
                    affected.push(Affected {
                        service: s.index,
                        depth: 0,
                        lag: 0,
                    });
                    frontier.push(s.index);
                }
            }
        }
        _ => {
            if let Some(s) = root_service {
                affected.push(Affected {
                    service: s,
                    depth: 0,
                    lag: 0,
                });
                frontier.push(s);
            }
        }
    }
    propagate_to_callers(&mut affected, frontier, t, topo, &mut rng);
    let ph = t.phases;
    let dur = (end - start) as f64;
    let onset = start + (dur * ph.precursor.0) as Micros;
    let peak = onset + (dur * ph.onset.0) as Micros;
    let recovery = peak + (dur * ph.peak.0) as Micros;
    let c = civil(day * DAY);
    let root_name = match &root {
        RootEntity::Pod { service, .. }
        | RootEntity::Deployment(service)
        | RootEntity::Service(service) => services[*service].name.clone(),
        RootEntity::Node(n) => topo
            .nodes
            .get(*n)
            .map(|n| n.name.clone())
            .unwrap_or_default(),
        RootEntity::Aws { id, .. } => id.clone(),
    };
    let name = t.name.value.clone();
    Some(Incident {
        index: 0,
        id: format!("INC-{:04}{:02}{:02}-{:03}", c.year, c.month, c.day, k + 1),
        type_index: ti,
        title: format!("{} on {}", name.replace('_', " "), root_name),
        incident_type: name,
        severity: *rng.pick(&t.severities),
        start,
        onset,
        peak,
        recovery,
        end,
        root,
        root_service,
        affected,
        impact: RequestImpact::of(t),
        effects: t
            .effects
            .kubernetes
            .iter()
            .chain(&t.effects.sentry)
            .chain(&t.effects.cloudwatch)
            .chain(&t.effects.grafana)
            .map(|e| e.value.clone())
            .collect(),
        key,
        strength: 1.0,
        background: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_instant;

    #[test]
    fn a_default_day_has_about_fifty_incidents_active_a_fifth_of_the_time() {
        let cfg = Config::defaults().expect("defaults");
        let topo = Topology::build(42, &cfg.services);
        let start = parse_instant("2026-11-23").expect("date");
        let plan = IncidentPlan::plan(42, &cfg, &topo, start, start + 7 * DAY);
        for d in 0..7 {
            let a = start + d * DAY;
            let day: Vec<&Incident> = plan
                .real()
                .iter()
                .filter(|i| i.start >= a && i.start < a + DAY)
                .collect();
            assert!(
                (30..=75).contains(&day.len()),
                "day {d}: {} incidents",
                day.len()
            );
            let active = (0..1440)
                .filter(|m| plan.active_at(a + m * MINUTE).any(|i| !i.background))
                .count() as f64
                / 1440.0;
            assert!((0.12..=0.3).contains(&active), "day {d}: active {active}");
            for i in &day {
                assert!(
                    i.start < i.onset
                        && i.onset < i.peak
                        && i.peak < i.recovery
                        && i.recovery < i.end,
                    "{}",
                    i.id
                );
            }
        }
        // The same day planned inside another range is the same.
        let other = IncidentPlan::plan(42, &cfg, &topo, start + 2 * DAY, start + 3 * DAY);
        let ids = |p: &IncidentPlan, a: Micros| {
            p.incidents
                .iter()
                .filter(|i| i.start >= a && i.start < a + DAY)
                .map(|i| (i.id.clone(), i.start, i.end))
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&plan, start + 2 * DAY), ids(&other, start + 2 * DAY));
    }

    /// The low-prevalence preset: a couple of incidents a day, active about 2% of the
    /// time, each lasting longer than by default; near misses as by default.
    #[test]
    fn the_low_prevalence_preset_plans_rare_long_incidents() {
        let mut cfg = Config::defaults().expect("defaults");
        cfg.apply_preset("low-prevalence").expect("preset");
        let topo = Topology::build(42, &cfg.services);
        let start = parse_instant("2026-11-23").expect("date");
        let days = 56;
        let plan = IncidentPlan::plan(42, &cfg, &topo, start, start + days * DAY);
        let real: Vec<&Incident> = plan.real().iter().filter(|i| i.start >= start).collect();
        let per_day = real.len() as f64 / days as f64;
        assert!((1.4..=2.7).contains(&per_day), "{per_day} a day");
        let active =
            real.iter().map(|i| (i.end - i.start) as f64).sum::<f64>() / (days * DAY) as f64;
        assert!((0.01..=0.035).contains(&active), "active {active}");
        let mean = real
            .iter()
            .map(|i| (i.end - i.start) as f64 / MINUTE as f64)
            .sum::<f64>()
            / real.len() as f64;
        let default = Config::defaults().expect("defaults");
        let usual = IncidentPlan::plan(42, &default, &topo, start, start + days * DAY);
        let usual_mean = usual
            .real()
            .iter()
            .map(|i| (i.end - i.start) as f64 / MINUTE as f64)
            .sum::<f64>()
            / usual.real().len() as f64;
        assert!(
            mean >= 1.5 * usual_mean,
            "mean {mean} min, {usual_mean} by default"
        );
        assert_eq!(
            plan.incidents.len() - plan.real().len(),
            usual.incidents.len() - usual.real().len(),
            "near misses as by default"
        );
    }

    /// Near misses: about `episodes_per_day` a day, short and mild, after the incidents in
    /// every iteration; the twin's history keeps all of them and none of the incidents
    /// that end after its cut.
    #[test]
    fn near_misses_are_short_mild_and_part_of_the_twin() {
        let mut cfg = Config::defaults().expect("defaults");
        cfg.incidents.background.episodes_per_day = crate::config::NonNeg(80.0);
        let topo = Topology::build(42, &cfg.services);
        let start = parse_instant("2026-11-23").expect("date");
        let mut plan = IncidentPlan::plan(42, &cfg, &topo, start, start + 3 * DAY);
        let real = plan.real().len();
        let near: Vec<&Incident> = plan.incidents[real..].iter().collect();
        assert!(
            plan.real()
                .iter()
                .all(|i| !i.background && i.strength == 1.0)
        );
        let per_day = near.len() as f64 / 4.0; // the day before the range is planned too
        let bg = &cfg.incidents.background;
        assert!(
            (per_day - bg.episodes_per_day.0).abs() < 0.2 * bg.episodes_per_day.0,
            "{per_day} near misses a day"
        );
        for i in &near {
            assert!(i.background && i.id.starts_with("NEAR-"), "{}", i.id);
            assert!((bg.strength.min.0..=bg.strength.max.0).contains(&i.strength));
            let minutes = (i.end - i.start) as f64 / MINUTE as f64;
            assert!(minutes <= bg.duration_minutes.max.0 + 0.01, "{minutes}");
            assert!(i.intensity(i.peak, 0) <= i.strength + 1e-9);
        }
        // Several kinds, and incidents first wherever both act.
        let kinds: std::collections::BTreeSet<&str> =
            near.iter().map(|i| i.incident_type.as_str()).collect();
        assert!(kinds.len() >= 6, "{kinds:?}");
        let mut seen_near = false;
        for i in plan.overlapping(start, start + 3 * DAY) {
            assert!(!seen_near || i.background, "an incident after a near miss");
            seen_near |= i.background;
        }
        let n_near = near.len();
        let cut = start + DAY;
        plan.keep_history_before(cut);
        assert!(plan.real().iter().all(|i| i.end <= cut));
        assert_eq!(plan.incidents.len() - plan.real().len(), n_near);
        assert!(plan.incidents.iter().enumerate().all(|(k, i)| i.index == k));
    }
}
