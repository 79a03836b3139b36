//! The request stream: root requests per entry service per minute, each expanded into the
//! visits it makes through the dependency graph. A request's ids (trace id, span ids),
//! route, pod, timing and status are pure functions of (seed, service, minute, index), so
//! every source that looks at a request computes the same thing on its own.

use super::World;
use super::topology::Topology;
use crate::config::ServiceKind;
use crate::incidents::{FailureKind, Incident};
use crate::labels::AnomalyRole;
use crate::rng::{Rng, mix64, str_key, stream, unit};
use crate::time::{MINUTE, Micros};

/// One request handled by one service (a span of the trace).
#[derive(Debug, Clone, Copy)]
pub struct Visit {
    pub service: u16,
    pub route: u16,
    /// Pod index in the pod plan.
    pub pod: u32,
    pub depth: u8,
    /// Index of the calling visit in the same expansion (`u32::MAX` for the root).
    pub parent: u32,
    pub start: Micros,
    pub duration: Micros,
    pub status: u16,
    /// 128-bit trace id shared by the whole request.
    pub trace_hi: u64,
    pub trace_lo: u64,
    pub span_id: u64,
    pub parent_span_id: u64,
    /// Key of the root request (user, client address...).
    pub root_key: u64,
    /// Key of this visit, for any further per-visit randomness.
    pub key: u64,
    /// This visit failed on its own (not because of a dependency).
    pub own_error: bool,
    /// The incident that changed this visit's outcome (index into the incident plan),
    /// or `u32::MAX`.
    pub incident: u32,
    /// How the incident touched it (`None` when normal).
    pub role: AnomalyRole,
    /// The failure this visit suffered itself, if any: an incident's or a near miss's, or
    /// the kind of its own error when it fails as incidents make requests fail.
    pub failure: Option<FailureKind>,
    /// The failure it suffers in the twin: a near miss's or its own error's, if any.
    pub base_failure: Option<FailureKind>,
    /// Duration and status the visit has in the counterfactual twin (no incident); equal
    /// to `duration` and `status` unless an incident changed them.
    pub base_duration: Micros,
    pub base_status: u16,
    /// Whether the visit failed on its own in the twin (`own_error` is false where an
    /// incident failure took its place).
    pub base_own_error: bool,
    /// A call of this visit found no pod to serve it while the twin's call was answered:
    /// the twin has a child visit this run lacks.
    pub lost_call: bool,
}

/// The failure kind of an own error, from its otherwise unused draw `x` (shares of the
/// own errors: 6% a bug on a rare path, 4% a read timeout, 3% a refused connection, 0.5%
/// a full temp volume, 0.5% an allocation too large).
fn own_failure(x: f64) -> Option<FailureKind> {
    Some(match x {
        x if x < 0.06 => FailureKind::Regression,
        x if x < 0.10 => FailureKind::Timeout,
        x if x < 0.13 => FailureKind::ConnectionRefused,
        x if x < 0.135 => FailureKind::Io,
        x if x < 0.14 => FailureKind::OutOfMemory,
        _ => return None,
    })
}

impl Visit {
    pub fn end(&self) -> Micros {
        self.start + self.duration
    }
    pub fn is_root(&self) -> bool {
        self.parent == u32::MAX
    }
    /// Whether an incident changed the visit (its duration or status differ from the
    /// twin's); exactly the visits that carry an incident label.
    pub fn changed(&self) -> bool {
        self.incident != u32::MAX
    }
    /// Whether its duration or status differ from the twin's (an incident can also
    /// change only how it failed).
    pub fn outcome_changed(&self) -> bool {
        self.duration != self.base_duration || self.status != self.base_status
    }
    /// The visit as the counterfactual twin has it: its twin duration and status, only a
    /// near miss's failure, no label. Its calls start when they do here (the calls go out
    /// whatever the answers), so a trace's visits mapped this way are the twin's trace,
    /// except that a visit with a `lost_call` lacks the child the twin has.
    pub fn as_twin(&self) -> Visit {
        Visit {
            duration: self.base_duration,
            status: self.base_status,
            own_error: self.base_own_error,
            failure: self.base_failure,
            incident: u32::MAX,
            role: AnomalyRole::None,
            lost_call: false,
            ..*self
        }
    }
}

/// Call structure and rates derived from the topology and configuration.
#[derive(Debug, Clone)]
pub struct RequestModel {
    /// Per service, per route: the dependencies a request on that route calls.
    pub route_deps: Vec<Vec<Vec<usize>>>,
    /// Per service: cumulative route weights (popular routes first).
    pub route_weights: Vec<Vec<f64>>,
    /// Per service: expected visits of one request to it, including itself.
    pub expected_visits: Vec<f64>,
    /// Per service: root requests per minute at traffic 1.0 (0 for non-entry services).
    pub roots_per_minute: Vec<f64>,
    pub baseline_error_rate: f64,
    /// Requests per expanded (sampled) request: the metrics count this many for each
    /// visit the logs show ([`super::load`]).
    pub per_access_line: f64,
}

/// Median own latency of a service's visits in microseconds (before any incident): by
/// language, longer for a service that queries a database.
pub(super) fn own_median(svc: &super::ServiceInfo) -> f64 {
    own_latency_median(svc.language) * if svc.rds.is_empty() { 1.0 } else { 1.8 }
}

/// Log-scale sigma of a visit's own latency.
pub const OWN_SIGMA: f64 = 0.55;

/// Median own latency in microseconds by language.
fn own_latency_median(lang: crate::config::Language) -> f64 {
    use crate::config::Language::*;
    match lang {
        Go => 2_500.0,
        Java => 7_000.0,
        Node => 5_000.0,
        Python => 11_000.0,
    }
}

impl RequestModel {
    /// `visit_rows_per_minute`: the log rows per minute (at traffic 1.0) that request
    /// visits should produce; `rows_per_visit` the expected rows per visit.
    pub fn build(
        seed: u64,
        topo: &Topology,
        visits_per_minute: f64,
        baseline_error_rate: f64,
        per_access_line: f64,
    ) -> RequestModel {
        let n = topo.services.len();
        let mut route_deps = vec![Vec::new(); n];
        let mut route_weights = vec![Vec::new(); n];
        for s in &topo.services {
            let weights: Vec<f64> = (0..s.routes.len())
                .map(|i| 1.0 / (i as f64 + 1.0).powf(0.8))
                .collect();
            route_weights[s.index] = crate::rng::cumulative(weights);
            let p = (2.2 / s.deps.len().max(1) as f64).clamp(0.3, 0.85);
            route_deps[s.index] = s
                .routes
                .iter()
                .enumerate()
                .map(|(r, route)| {
                    let route_l = route.to_ascii_lowercase();
                    let mut deps: Vec<usize> = s
                        .deps
                        .iter()
                        .copied()
                        .filter(|&d| {
                            let stem = topo.services[d].name.split('-').next().unwrap_or("");
                            route_l.contains(stem)
                                || unit(stream(
                                    seed,
                                    &[str_key("route-dep"), s.key, r as u64, d as u64],
                                )) < p
                        })
                        .collect();
                    if deps.is_empty() && !s.deps.is_empty() {
                        deps.push(s.deps[(mix64(s.key ^ r as u64) % s.deps.len() as u64) as usize]);
                    }
                    deps
                })
                .collect();
        }
        // Expected visits, dependencies first.
        let mut expected_visits = vec![1.0; n];
        for &s in &topo.dependency_order {
            let cum = &route_weights[s];
            let total = cum.last().copied().unwrap_or(1.0);
            let mut e = 1.0;
            let mut prev = 0.0;
            for (r, deps) in route_deps[s].iter().enumerate() {
                let w = (cum[r] - prev) / total;
                prev = cum[r];
                e += w * deps.iter().map(|&d| expected_visits[d]).sum::<f64>();
            }
            expected_visits[s] = e;
        }
        let share_total: f64 = topo.services.iter().map(|s| s.traffic_share).sum();
        let visits_per_root: f64 = topo
            .services
            .iter()
            .map(|s| s.traffic_share / share_total * expected_visits[s.index])
            .sum();
        let roots_total = visits_per_minute / visits_per_root.max(1e-9);
        let roots_per_minute = topo
            .services
            .iter()
            .map(|s| roots_total * s.traffic_share / share_total)
            .collect();
        RequestModel {
            route_deps,
            route_weights,
            expected_visits,
            roots_per_minute,
            baseline_error_rate,
            per_access_line: per_access_line.max(1.0),
        }
    }
}

/// The incidents overlapping `[from - 10 min, to)`, in plan order: every incident that
/// can act on a visit starting in `[from, to)`, found once per expanded minute instead of
/// once per visit.
struct NearIncidents<'w> {
    from: Micros,
    to: Micros,
    list: Vec<&'w Incident>,
}

impl World {
    /// Number of root requests entering service `s` in the minute starting at `minute`.
    pub fn root_count(&self, s: usize, minute: Micros) -> u64 {
        let lambda =
            self.requests.roots_per_minute[s] * self.scale * self.traffic.service(s, minute);
        if lambda <= 0.0 {
            return 0;
        }
        Rng::derive(
            self.seed,
            &[
                str_key("roots"),
                self.topology.services[s].key,
                minute as u64,
            ],
        )
        .poisson(lambda)
    }

    /// Appends every visit of the root requests that start in the minute `minute`
    /// (the start of a minute), all entry services, in a fixed order.
    pub fn expand_minute(&self, minute: Micros, out: &mut Vec<Visit>) {
        let (from, to) = (minute, minute + 2 * MINUTE);
        let near = NearIncidents {
            from,
            to,
            list: self.incidents.overlapping(from - 10 * MINUTE, to).collect(),
        };
        for s in 0..self.topology.services.len() {
            if self.requests.roots_per_minute[s] <= 0.0 {
                continue;
            }
            let count = self.root_count(s, minute);
            let svc_key = self.topology.services[s].key;
            for i in 0..count {
                let root_key = stream(self.seed, &[str_key("request"), svc_key, minute as u64, i]);
                let start = minute + (root_key % MINUTE as u64) as Micros;
                let mut rng = Rng::new(root_key);
                let trace_hi = rng.next_u64();
                let trace_lo = rng.next_u64();
                let route = rng.weighted(&self.requests.route_weights[s]);
                self.visit(
                    s,
                    route,
                    start,
                    0,
                    u32::MAX,
                    0,
                    trace_hi,
                    trace_lo,
                    root_key,
                    stream(root_key, &[0]),
                    &near,
                    out,
                );
            }
        }
    }

    /// Expands one visit and its calls; returns (duration, status) or `None` when no pod
    /// of `s` could serve it.
    ///
    /// `key` is the visit's identity: the root request's, then `stream(parent, [call
    /// number])` down the tree. Every draw of a visit comes from its own stream, in a fixed
    /// order that no incident changes (an incident's failure draw has a stream of its
    /// own), and the calls to dependencies go out concurrently. So the visits an incident
    /// does not touch are the same, in every value, as in the counterfactual twin
    /// (`--incidents off`), whatever happens to their siblings.
    #[allow(clippy::too_many_arguments)]
    fn visit(
        &self,
        s: usize,
        route: usize,
        start: Micros,
        depth: u8,
        parent: u32,
        parent_span_id: u64,
        trace_hi: u64,
        trace_lo: u64,
        root_key: u64,
        key: u64,
        near: &NearIncidents,
        out: &mut Vec<Visit>,
    ) -> Option<(Micros, u16)> {
        let pod = self.pods.serving_pod(s, start, key)?;
        let mut rng = Rng::new(key);
        let svc = &self.topology.services[s];
        let me = out.len();
        out.push(Visit {
            service: s as u16,
            route: route as u16,
            pod: pod as u32,
            depth,
            parent,
            start,
            duration: 0,
            status: 200,
            trace_hi,
            trace_lo,
            span_id: key | 1,
            parent_span_id,
            root_key,
            key,
            own_error: false,
            incident: u32::MAX,
            role: AnomalyRole::None,
            failure: None,
            base_failure: None,
            base_duration: 0,
            base_status: 200,
            base_own_error: false,
            lost_call: false,
        });
        // Incidents acting on this pod: latency and failures, and the label they cause.
        // Near misses act the same way in the twin (`base_*`) and cause no label.
        let mut latency_mult = 1.0;
        let mut base_mult = 1.0;
        let mut failure: Option<FailureKind> = None;
        let mut base_failure: Option<FailureKind> = None;
        let mut incident = u32::MAX;
        let mut role = AnomalyRole::None;
        let mut act = |inc: &Incident| {
            let Some((r, i)) = inc.on_visit(&self.pods, s, pod, start) else {
                return;
            };
            let m = inc.latency_mult_at(i);
            let draw = unit(stream(key, &[inc.key]));
            let hits = |failure: &Option<FailureKind>| {
                failure.is_none()
                    && inc.impact.failure.is_some()
                    && draw < inc.impact.error_rate * i
            };
            let fails = hits(&failure);
            if m >= 1.5 || fails {
                latency_mult = f64::max(latency_mult, m);
                if !inc.background {
                    incident = inc.index as u32;
                    role = r;
                }
            }
            if fails {
                failure = inc.impact.failure;
            }
            if inc.background {
                let base_fails = hits(&base_failure);
                if m >= 1.5 || base_fails {
                    base_mult = f64::max(base_mult, m);
                }
                if base_fails {
                    base_failure = inc.impact.failure;
                }
            }
        };
        // `self.incidents.overlapping(start - 10 * MINUTE, start + 1)`: the same incidents
        // in the same order, from the minute's list when the visit starts in its window.
        if start >= near.from && start < near.to {
            for &inc in &near.list {
                if inc.start < start + 1 && inc.end > start - 10 * MINUTE {
                    act(inc);
                }
            }
        } else {
            for inc in self.incidents.overlapping(start - 10 * MINUTE, start + 1) {
                act(inc);
            }
        }
        // Own draws, always all of them and in this order.
        let t0 = start + 200 + rng.below(1_500) as Micros;
        let own_base = rng.lognormal(own_median(svc), OWN_SIGMA);
        let own_error = rng.chance(self.requests.baseline_error_rate);
        let server_error = rng.chance(0.7);
        let x = rng.f64();
        // Calls to the dependencies, issued one after another without waiting (each from
        // its own stream): the visit waits for the last answer. The same in the twin
        // (`base`), from the children's twin durations and statuses.
        let mut status = 200u16;
        let mut base_status = 200u16;
        let mut calls_done = t0;
        let mut base_calls_done = t0;
        let mut issued = t0;
        // The incident of the first dependency whose change reaches this visit, and
        // whether a dependency became unavailable because of an incident.
        let mut from_child = u32::MAX;
        let mut forced = false;
        for (j, &d) in self.requests.route_deps[s][route].iter().enumerate() {
            let child_key = stream(key, &[j as u64 + 1]);
            let mut call = Rng::new(child_key ^ 0x6361_6c6c);
            let droute = call.weighted(&self.requests.route_weights[d]);
            let gap = call.below(800) as Micros;
            let answer = 100 + call.below(800) as Micros;
            let unavailable = 1_000 + call.below(3_000) as Micros;
            let fail_here = call.chance(0.75);
            let child = out.len();
            match self.visit(
                d,
                droute,
                issued,
                depth + 1,
                me as u32,
                key | 1,
                trace_hi,
                trace_lo,
                root_key,
                child_key,
                near,
                out,
            ) {
                Some((dur, st)) => {
                    let c = &out[child];
                    let (base_dur, base_st) = (c.base_duration, c.base_status);
                    calls_done = calls_done.max(issued + dur + answer);
                    base_calls_done = base_calls_done.max(issued + base_dur + answer);
                    if st >= 500 && status < 500 && fail_here {
                        status = 502;
                    }
                    if base_st >= 500 && base_status < 500 && fail_here {
                        base_status = 502;
                    }
                    if from_child == u32::MAX && c.incident != u32::MAX {
                        from_child = c.incident;
                    }
                }
                None => {
                    calls_done = calls_done.max(issued + unavailable);
                    if status < 500 {
                        status = 503;
                    }
                    // No pod of the dependency can serve. The twin's call: answered if the
                    // twin has a pod to serve it (then this failure is the doing of the
                    // incident that took the pods out: a crash loop, a failed node, a bad
                    // release), else failed the same way.
                    let twin = self.twin_at(issued);
                    let answered = if std::ptr::eq(twin, self) {
                        None
                    } else {
                        let none = NearIncidents {
                            from: 0,
                            to: 0,
                            list: Vec::new(),
                        };
                        twin.visit(
                            d,
                            droute,
                            issued,
                            depth + 1,
                            me as u32,
                            key | 1,
                            trace_hi,
                            trace_lo,
                            root_key,
                            child_key,
                            &none,
                            &mut Vec::new(),
                        )
                    };
                    match answered {
                        Some((base_dur, base_st)) => {
                            base_calls_done = base_calls_done.max(issued + base_dur + answer);
                            if base_st >= 500 && base_status < 500 && fail_here {
                                base_status = 502;
                            }
                            forced = true;
                            if from_child == u32::MAX
                                && let Some(inc) = self.incidents.active_at(issued).find(|i| {
                                    i.involvement(d)
                                        .is_some_and(|(r, _)| r != AnomalyRole::Propagated)
                                })
                            {
                                from_child = inc.index as u32;
                            }
                        }
                        None => {
                            base_calls_done = base_calls_done.max(issued + unavailable);
                            if base_status < 500 {
                                base_status = 503;
                            }
                        }
                    }
                }
            }
            issued += gap;
        }
        let own = (own_base * latency_mult).min(30e6) as Micros;
        let base_own = (own_base * base_mult).min(30e6) as Micros;
        // Some of a service's own errors fail the way incidents make requests fail (a
        // null on a rare path, a read timeout, a refused connection, a full temp volume):
        // the same exception in normal time, the same in the twin. An incident's failure
        // takes precedence.
        if own_error && let Some(f) = own_failure(x) {
            failure = failure.or(Some(f));
            base_failure = base_failure.or(Some(f));
        }
        let outcome = |status: u16, failure: Option<FailureKind>| {
            if let Some(f) = failure {
                f.status()
            } else if own_error {
                if server_error { 500 } else { 503 }
            } else if status == 200 && svc.kind != ServiceKind::Worker {
                if x < 0.012 {
                    404
                } else if x < 0.018 {
                    401
                } else if x < 0.022 {
                    400
                } else if x < 0.024 {
                    429
                } else if x < 0.06 && route == 0 {
                    304
                } else {
                    200
                }
            } else {
                status
            }
        };
        let status = outcome(status, failure);
        let base_status = outcome(base_status, base_failure);
        let duration = (calls_done - start) + own;
        let base_duration = (base_calls_done - start) + base_own;
        // The label: the visit's own incident, else the incident of a dependency, but only
        // when the visit itself came out different from the twin.
        let changed = forced || duration != base_duration || status != base_status;
        if incident == u32::MAX && changed {
            incident = from_child;
            role = AnomalyRole::Propagated;
        }
        if !changed && failure == base_failure {
            incident = u32::MAX;
            role = AnomalyRole::None;
        }
        let v = &mut out[me];
        v.duration = duration;
        v.status = status;
        v.base_duration = base_duration;
        v.base_status = base_status;
        v.own_error = own_error && failure.is_none();
        v.base_own_error = own_error && base_failure.is_none();
        v.lost_call = forced;
        v.incident = incident;
        v.role = role;
        v.failure = failure;
        v.base_failure = base_failure;
        Some((duration, status))
    }
}
