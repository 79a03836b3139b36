//! Incidents: the schedule (a pure function of seed, configuration and absolute day), each
//! incident's root cause, phases and the services it spreads to, and the queries the
//! sources use to show an incident and label the rows it causes.

mod impact;
pub mod report;

pub use impact::{FailureKind, RequestImpact};

use crate::config::{Config, IncidentType, PropagationDirection, RootCauseKind, Severity};
use crate::labels::{AnomalyRole, Phase};
use crate::rng::{Rng, str_key};
use crate::time::{DAY, HOUR, MINUTE, Micros, SECOND, civil};

/// Log-normal sigma of an incident's duration when its type gives no `spread`.
const DEFAULT_DURATION_SPREAD: f64 = 0.45;

/// How far a bad release starts from its service's routine deploys (the pod plan drops a
/// routine deploy closer than this, which the counterfactual twin would keep).
pub const BAD_RELEASE_CLEARANCE: Micros = 10 * MINUTE;
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
    /// Places it in `[start, end)`, its phases split as its type's.
    fn set_span(&mut self, start: Micros, end: Micros, ph: &crate::config::PhaseSplit) {
        let dur = (end - start) as f64;
        self.start = start;
        self.onset = start + (dur * ph.precursor.0) as Micros;
        self.peak = self.onset + (dur * ph.onset.0) as Micros;
        self.recovery = self.peak + (dur * ph.peak.0) as Micros;
        self.end = end;
    }

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
    /// How the incident acts on a visit of service `s` served by `pod` at `t`: the
    /// service's role and the intensity, when the incident acts on the pod itself (not
    /// through a dependency) with an intensity above 0.
    pub fn on_visit(
        &self,
        pods: &crate::world::PodPlan,
        s: usize,
        pod: usize,
        t: Micros,
    ) -> Option<(AnomalyRole, f64)> {
        let (role, lag) = self.involvement(s)?;
        if role == AnomalyRole::Propagated || !self.hits_pod(pods, pod) {
            return None;
        }
        let i = self.intensity(t, lag);
        (i > 0.0).then_some((role, i))
    }

    /// The multiplier of a visit's own latency at intensity `i`.
    pub fn latency_mult_at(&self, i: f64) -> f64 {
        1.0 + (self.impact.latency_mult - 1.0) * i
    }

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
        let first_day = start.div_euclid(DAY) - 1;
        let last_day = (end - 1).div_euclid(DAY);
        let mut incidents = Vec::new();
        let f = duration_scale(config);
        for day in first_day..=last_day {
            incidents.append(&mut plan_day(seed, config, topo, day, f));
        }
        let mut near = near_misses(seed, config, topo, first_day, last_day);
        near.sort_by_key(|i| (i.start, i.key));
        // One release of a deployment at a time: a near-miss bad release keeps clear of
        // the incidents' and earlier near misses' bad releases of its deployment.
        let deployment = |i: &Incident| match i.root {
            RootEntity::Deployment(d) => Some((d, i.start, i.end)),
            _ => None,
        };
        let mut releases: Vec<(usize, Micros, Micros)> =
            incidents.iter().filter_map(deployment).collect();
        near.retain(|n| {
            let Some((d, start, end)) = deployment(n) else {
                return true;
            };
            let clash = releases.iter().any(|&(other, s, e)| {
                other == d && s <= end + BAD_RELEASE_CLEARANCE && e >= start - BAD_RELEASE_CLEARANCE
            });
            if !clash {
                releases.push((d, start, end));
            }
            !clash
        });
        if let Some(iso) = &config.isolate {
            incidents
                .retain(|i| i.id == iso.incident_id || i.end <= iso.from || i.start >= iso.until);
        }
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

/// Type weights for `day`: deploy-rooted types (bad releases) are drawn less at weekends,
/// as releases are (`world.weekend_deploy_factor`).
fn day_weights(config: &Config, day: i64, weight: impl Fn(&IncidentType) -> f64) -> Vec<f64> {
    let weekend = crate::world::pods::is_weekend(day * DAY);
    config
        .incidents
        .types
        .iter()
        .map(|t| {
            let w = weight(t);
            if weekend && t.root_cause == RootCauseKind::Deployment {
                w * config.generation.world.weekend_deploy_factor.0
            } else {
                w
            }
        })
        .collect()
}

/// Where an incident of type `t` lasting `dur` may start on `day`: anywhere (ending a
/// minute before midnight), or, for a bad release, in the deploy hours, when releases
/// happen.
fn start_window(config: &Config, t: &IncidentType, day: i64, dur: Micros) -> (Micros, Micros) {
    let (lo, hi) = (day * DAY, day * DAY + DAY - dur - MINUTE);
    if t.root_cause != RootCauseKind::Deployment {
        return (lo, hi);
    }
    let hours = config.generation.world.deploy_hours;
    let a = (day * DAY + hours.start as i64 * HOUR).clamp(lo, hi);
    let b = (day * DAY + hours.end as i64 * HOUR - dur).clamp(a, hi);
    (a, b.max(a + 1))
}

/// Plans the incidents of `day`: Poisson arrivals of the types by weight, long-tailed
/// durations scaled so the day is active about `target_active_fraction` of the time, and
/// placed apart, except about `overlap_share` of them that start during another one
/// (never more than `max_overlap` at once), some on the same service. A bad release starts
/// in the deploy hours and at least 10 minutes from its service's routine deploys.
fn plan_day(seed: u64, config: &Config, topo: &Topology, day: i64, f: f64) -> Vec<Incident> {
    let patterns = &config.incidents;
    let types = &patterns.types;
    let sched = &patterns.schedule;
    let weights = day_weights(config, day, |t| t.weight.0);
    if weights.iter().all(|&w| w <= 0.0) {
        return Vec::new();
    }
    let cum = crate::rng::cumulative(weights);
    let mut rng = Rng::derive(seed, &[str_key("incidents"), day as u64]);
    let n = rng.poisson(sched.incidents_per_day.0) as usize;
    // Draw types and raw durations, then scale durations so that a day is active about
    // the target fraction of the time on average (one factor for every day, so a day with
    // an hour-long incident is a busier day, as it would be).
    let mut drawn: Vec<(usize, f64)> = (0..n)
        .map(|_| {
            let ti = rng.weighted(&cum);
            let d = types[ti].duration_minutes;
            let m = rng
                .lognormal(d.median.0, d.sigma(DEFAULT_DURATION_SPREAD))
                .clamp(d.min.0, d.max.0);
            (ti, m)
        })
        .collect();
    for (ti, m) in drawn.iter_mut() {
        let d = types[*ti].duration_minutes;
        *m = (*m * f).clamp(d.min.0, d.max.0);
    }
    let max_overlap = sched.max_overlap as usize;
    // Load-driven types start where traffic is: a candidate start is kept with the
    // probability of its minute's share of the day's busiest minute.
    let busy = crate::world::traffic::diurnal_share(&config.generation.traffic);
    let mut placed: Vec<Incident> = Vec::new();
    // Deliberate overlaps owed: `overlap_share / 2` per incident drawn.
    let mut owed = rng.f64();
    for (j, (ti, minutes)) in drawn.into_iter().enumerate() {
        let t = &types[ti];
        let dur = (minutes * MINUTE as f64) as Micros;
        if DAY - dur - MINUTE <= 0 {
            continue;
        }
        // Two incidents overlapping make two overlapping incidents: place half the share,
        // each during one that overlaps nothing yet (owed until a placement succeeds).
        owed += sched.overlap_share.0 / 2.0;
        let partner = (max_overlap >= 2 && owed >= 1.0)
            .then(|| {
                let alone: Vec<usize> = (0..placed.len())
                    .filter(|&i| {
                        !placed.iter().any(|o| {
                            o.start < placed[i].end
                                && placed[i].start < o.end
                                && o.key != placed[i].key
                        })
                    })
                    .collect();
                (!alone.is_empty()).then(|| alone[rng.index(alone.len())])
            })
            .flatten();
        let prefer = partner
            .filter(|_| rng.chance(sched.same_service_share.0))
            .and_then(|p| placed[p].root_service);
        let key = crate::rng::stream(seed, &[str_key("incident"), day as u64, j as u64]);
        let Some(mut inc) = build_incident(key, t, ti, topo, config, prefer) else {
            continue;
        };
        let (lo, hi) = start_window(config, t, day, dur);
        let routine = match inc.root {
            RootEntity::Deployment(s) => crate::world::pods::routine_deploys(
                seed,
                &topo.services[s],
                &config.generation.world,
                crate::world::pods::week_of(day * DAY),
            ),
            _ => Vec::new(),
        };
        // Clear of the service's routine deploys and of its other bad releases (one
        // release at a time: a second bad release during the first has no rollback of
        // its own).
        let clear_of_deploys = |s: Micros| {
            let near = |a: Micros, b: Micros| {
                a <= s + dur + BAD_RELEASE_CLEARANCE && b >= s - BAD_RELEASE_CLEARANCE
            };
            !routine.iter().any(|&r| near(r, r))
                && !placed.iter().any(|p| {
                    matches!(inc.root, RootEntity::Deployment(_))
                        && p.root == inc.root
                        && near(p.start, p.end)
                })
        };
        let concurrent = |s: Micros| {
            placed
                .iter()
                .filter(|p| s < p.end && p.start < s + dur)
                .count()
        };
        let busy_enough = |s: Micros, rng: &mut Rng| {
            !t.follows_traffic || rng.chance(busy[(s.rem_euclid(DAY) / MINUTE) as usize % 1440])
        };
        let mut chosen = None;
        if let Some(p) = partner {
            // Start during the partner, or shortly before it.
            let (ps, pe) = (placed[p].start, placed[p].end);
            let a = (ps - dur / 2).max(lo);
            let b = (pe - MINUTE).min(hi);
            for _ in 0..12 {
                if b <= a {
                    break;
                }
                let s = a + rng.below((b - a) as u64) as Micros;
                if concurrent(s) < max_overlap && clear_of_deploys(s) && busy_enough(s, &mut rng) {
                    owed -= 1.0;
                    chosen = Some(s);
                    break;
                }
            }
        }
        if chosen.is_none() {
            // Apart from the others: a few tries, then anywhere below max_overlap.
            for attempt in 0..32 {
                let s = lo + rng.below((hi - lo).max(1) as u64) as Micros;
                let c = concurrent(s);
                if clear_of_deploys(s)
                    && (c == 0 || (attempt >= 24 && c < max_overlap))
                    && busy_enough(s, &mut rng)
                {
                    chosen = Some(s);
                    break;
                }
            }
        }
        if let Some(s) = chosen {
            inc.set_span(s, s + dur, &t.phases);
            placed.push(inc);
        }
    }
    placed.sort_by_key(|i| (i.start, i.key));
    number(&mut placed, "INC", day);
    placed
}

/// The factor that brings the expected active time of a day to `target_active_fraction`:
/// the mean duration of the types (by weight, each a clamped log-normal) estimated from a
/// fixed sample, so it depends on the configuration only.
fn duration_scale(config: &Config) -> f64 {
    let sched = &config.incidents.schedule;
    let types = &config.incidents.types;
    let total_weight: f64 = types.iter().map(|t| t.weight.0).sum();
    if total_weight <= 0.0 || sched.incidents_per_day.0 <= 0.0 {
        return 1.0;
    }
    const DRAWS: usize = 4096;
    let mut rng = Rng::new(0x6475_7261_7469_6f6e);
    let mean: f64 = types
        .iter()
        .map(|t| {
            let d = t.duration_minutes;
            let sum: f64 = (0..DRAWS)
                .map(|_| {
                    rng.lognormal(d.median.0, d.sigma(DEFAULT_DURATION_SPREAD))
                        .clamp(d.min.0, d.max.0)
                })
                .sum();
            t.weight.0 * sum / DRAWS as f64
        })
        .sum::<f64>()
        / total_weight;
    let target = sched.target_active_fraction.0 * 1440.0 / sched.incidents_per_day.0;
    (target / mean).clamp(0.25, 4.0)
}

/// Names the incidents of `day` (sorted by start) `PREFIX-YYYYMMDD-NNN`.
fn number(incidents: &mut [Incident], prefix: &str, day: i64) {
    let c = civil(day * DAY);
    for (k, inc) in incidents.iter_mut().enumerate() {
        inc.id = format!(
            "{prefix}-{:04}{:02}{:02}-{:03}",
            c.year,
            c.month,
            c.day,
            k + 1
        );
    }
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
    let busy = crate::world::traffic::diurnal_share(&config.generation.traffic);
    let mut out = Vec::new();
    for day in first_day..=last_day {
        let weights = day_weights(config, day, |t| {
            t.background_weight.map_or(t.weight.0, |w| w.0)
        });
        if weights.iter().all(|&w| w <= 0.0) {
            continue;
        }
        let cum = crate::rng::cumulative(weights);
        let mut rng = Rng::derive(seed, &[str_key("near-misses"), day as u64]);
        let n = rng.poisson(bg.episodes_per_day.0) as usize;
        let mut today = Vec::with_capacity(n);
        for k in 0..n {
            let ti = rng.weighted(&cum);
            let d = bg.duration_minutes;
            let minutes = rng.lognormal(d.median.0, 0.5).clamp(d.min.0, d.max.0);
            let strength =
                rng.range_f64(bg.strength.min.0, bg.strength.max.0.max(bg.strength.min.0));
            let dur = (minutes * MINUTE as f64) as Micros;
            let (lo, hi) = start_window(config, &types[ti], day, dur);
            let mut s = lo + rng.below((hi - lo).max(1) as u64) as Micros;
            // Load-driven types where traffic is (see `plan_day`).
            for _ in 0..16 {
                if !types[ti].follows_traffic
                    || rng.chance(busy[(s.rem_euclid(DAY) / MINUTE) as usize % 1440])
                {
                    break;
                }
                s = lo + rng.below((hi - lo).max(1) as u64) as Micros;
            }
            let key = crate::rng::stream(seed, &[str_key("near-miss"), day as u64, k as u64]);
            if let Some(mut inc) = build_incident(key, &types[ti], ti, topo, config, None) {
                inc.set_span(s, s + dur, &types[ti].phases);
                inc.strength = strength;
                inc.background = true;
                today.push(inc);
            }
        }
        today.sort_by_key(|i| (i.start, i.key));
        number(&mut today, "NEAR", day);
        out.append(&mut today);
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
/// An incident of type `t` from its stream `key`: root cause (in `prefer`, a service,
/// when the type can start there), the services it spreads to, severity and title. Its
/// span is set by [`Incident::set_span`] and its id by the day's numbering.
fn build_incident(
    key: u64,
    t: &IncidentType,
    ti: usize,
    topo: &Topology,
    config: &Config,
    prefer: Option<usize>,
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
    let pick_service = |rng: &mut Rng| match prefer.filter(|p| candidates.contains(p)) {
        Some(p) => p,
        None => *rng.pick(&candidates),
    };
    let (root, root_service) = match t.root_cause {
        RootCauseKind::Pod => {
            let s = pick_service(&mut rng);
            let slot = rng.below(services[s].replicas as u64) as u32;
            (RootEntity::Pod { service: s, slot }, Some(s))
        }
        RootCauseKind::Deployment => {
            let s = pick_service(&mut rng);
            (RootEntity::Deployment(s), Some(s))
        }
        RootCauseKind::Service => {
            let s = pick_service(&mut rng);
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
        id: String::new(),
        type_index: ti,
        title: format!("{} on {}", name.replace('_', " "), root_name),
        incident_type: name,
        severity: *rng.pick(&t.severities),
        start: 0,
        onset: 0,
        peak: 0,
        recovery: 0,
        end: 0,
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
        let days = 28;
        let plan = IncidentPlan::plan(42, &cfg, &topo, start, start + days * DAY);
        let real: Vec<&Incident> = plan.real().iter().filter(|i| i.start >= start).collect();
        let mut active_sum = 0.0;
        for d in 0..days {
            let a = start + d * DAY;
            let active = (0..1440)
                .filter(|m| plan.active_at(a + m * MINUTE).any(|i| !i.background))
                .count() as f64
                / 1440.0;
            // A day with an hour-long incident is busier, but none is an outage day.
            assert!((0.05..=0.5).contains(&active), "day {d}: active {active}");
            active_sum += active;
        }
        let per_day = real.len() as f64 / days as f64;
        assert!(
            (42.0..=58.0).contains(&per_day),
            "{per_day} incidents a day"
        );
        let active = active_sum / days as f64;
        assert!((0.16..=0.26).contains(&active), "active {active}");
        for i in &real {
            assert!(
                i.start < i.onset && i.onset < i.peak && i.peak < i.recovery && i.recovery < i.end,
                "{}",
                i.id
            );
        }
        // Long-tailed durations: mostly minutes, a few over an hour.
        let mut minutes: Vec<f64> = real
            .iter()
            .map(|i| (i.end - i.start) as f64 / MINUTE as f64)
            .collect();
        minutes.sort_by(f64::total_cmp);
        let median = minutes[minutes.len() / 2];
        assert!((2.0..=8.0).contains(&median), "median {median} min");
        assert!(minutes.iter().any(|&m| m > 60.0), "none over an hour");
        // About a tenth overlap another, some on the same service, never more than
        // max_overlap at once.
        let mut overlapping = std::collections::BTreeSet::new();
        let mut same_service = 0;
        for (k, a) in real.iter().enumerate() {
            let others: Vec<&&Incident> = real[k + 1..]
                .iter()
                .take_while(|b| b.start < a.end)
                .collect();
            for b in &others {
                overlapping.insert(a.index);
                overlapping.insert(b.index);
                same_service +=
                    usize::from(a.root_service.is_some() && a.root_service == b.root_service);
            }
            let at_once = real
                .iter()
                .filter(|b| b.start <= a.start && a.start < b.end)
                .count();
            assert!(
                at_once <= cfg.incidents.schedule.max_overlap as usize,
                "{}",
                a.id
            );
        }
        let share = overlapping.len() as f64 / real.len() as f64;
        assert!((0.06..=0.15).contains(&share), "{share} overlap");
        assert!(same_service >= 3, "{same_service} on the same service");
        // Bad releases start when releases happen, clear of the routine deploys.
        let world = &cfg.generation.world;
        let bad: Vec<&&Incident> = real
            .iter()
            .filter(|i| matches!(i.root, RootEntity::Deployment(_)))
            .collect();
        assert!(bad.len() >= 20, "{} bad releases", bad.len());
        for i in bad {
            let RootEntity::Deployment(s) = i.root else {
                continue;
            };
            let hour = i.start.rem_euclid(DAY) / HOUR;
            assert!(
                (world.deploy_hours.start as i64..world.deploy_hours.end as i64).contains(&hour),
                "{} at hour {hour}",
                i.id
            );
            let routine = crate::world::pods::routine_deploys(
                42,
                &topo.services[s],
                world,
                crate::world::pods::week_of(i.start),
            );
            assert!(
                routine
                    .iter()
                    .all(|&r| r < i.start - BAD_RELEASE_CLEARANCE
                        || r > i.end + BAD_RELEASE_CLEARANCE),
                "{} next to a routine deploy",
                i.id
            );
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
        // Near misses as by default (but for the few bad releases that would clash with
        // an incident's on the same deployment).
        let (near, usual_near) = (
            plan.incidents.len() - plan.real().len(),
            usual.incidents.len() - usual.real().len(),
        );
        assert!(
            near.abs_diff(usual_near) * 100 <= usual_near,
            "{near} near misses, {usual_near} by default"
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
