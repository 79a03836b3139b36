//! The requests behind the sample.
//!
//! One request in `world.requests_per_access_line` (N) is expanded into a tree of
//! [`super::Visit`]s: those write the access lines, spans, Sentry errors and ALB log
//! lines. The metrics count every request, so the other N − 1 of each minute come from
//! here, as the expected rates of the same model: the traffic curve, the call graph and
//! its route weights, the pods that serve and the incidents and near misses acting on
//! them (their failure rates and latency multipliers at the minute's intensity), pushed
//! through the dependencies as the visits push them (a failing call turns the caller's
//! answer into a 502 three times in four; a dependency with no pod serving answers 503).
//!
//! `cloudwatch` draws counts from these rates with quantile draws whose uniforms depend
//! only on (seed, service, minute), the same in the counterfactual twin: a metric
//! differs from the twin's exactly where an incident changed a rate enough to change a
//! count, and carries that incident's label there.

use super::World;
use super::requests::{OWN_SIGMA, own_median};
use crate::incidents::Incident;
use crate::rng::{str_key, stream};
use crate::time::{MINUTE, Micros, SECOND};

/// Mean delay before a visit issues its first call, µs (`t0` of a visit).
const FIRST_CALL_US: f64 = 200.0 + 749.5;
/// Mean gap between two calls a visit issues, µs.
const CALL_GAP_US: f64 = 399.5;
/// Mean time for an answer to travel back, µs.
const ANSWER_US: f64 = 499.5;
/// Mean time a caller waits on a dependency with no pod serving, µs.
const UNAVAILABLE_US: f64 = 2_499.5;
/// Share of a dependency's 5xx answers that fail the caller (as 502).
const FAIL_THROUGH: f64 = 0.75;
/// Relative size of the own latency's minute-to-minute drift (one standard deviation).
const LATENCY_DRIFT: f64 = 0.04;
/// Own latency growth per unit of traffic above the mean.
const LATENCY_PER_LOAD: f64 = 0.06;
/// Instants of a minute (from its start) at which the serving pods are checked.
const SERVING_CHECKS: [Micros; 4] = [
    7_500 * 1_000,
    22_500 * 1_000,
    37_500 * 1_000,
    52_500 * 1_000,
];

/// What the requests the sample leaves out did at one service in one minute: expected
/// values, from which counts are drawn.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ServiceLoad {
    /// Mean root requests arriving (entry services; 0 for the others).
    pub arrivals: f64,
    /// Share of the minute some pod serves (the rest of the arrivals find none).
    pub served: f64,
    /// Mean root requests served.
    pub roots: f64,
    /// Mean visits served: root requests and calls from other services.
    pub visits: f64,
    /// Probability that a served visit answers with a 5xx status.
    pub p5xx: f64,
    /// Mean duration of a served visit, µs.
    pub duration_us: f64,
    /// Median of the visit's own latency, µs (the incidents' multiplier included).
    pub own_median_us: f64,
}

impl World {
    /// The load the unsampled requests (N − 1 per sampled one) put on every service in
    /// the minute starting at `minute`, indexed like the services.
    pub fn unsampled_load(&self, minute: Micros) -> Vec<ServiceLoad> {
        let topo = &self.topology;
        let n = topo.services.len();
        let extra = self.requests.per_access_line - 1.0;
        let mut out = vec![ServiceLoad::default(); n];
        if extra <= 0.0 {
            return out;
        }
        let mid = minute + 30 * SECOND;
        let near: Vec<&Incident> = self
            .incidents
            .overlapping(mid - 10 * MINUTE, mid + 1)
            .filter(|inc| inc.start <= mid)
            .collect();
        // Per service: the serving share, and over the pods serving at mid, the mean
        // failure probability and own-latency multiplier the incidents give a visit (as
        // `visit` applies them: one draw for all incidents, the largest multiplier from
        // 1.5 up).
        let mut direct = vec![0.0; n];
        let mut mult = vec![1.0; n];
        let mut serving: Vec<usize> = Vec::new();
        for s in 0..n {
            let serving_checks = SERVING_CHECKS
                .iter()
                .filter(|&&k| self.pods.serving_pods(s, minute + k).next().is_some())
                .count();
            out[s].served = serving_checks as f64 / SERVING_CHECKS.len() as f64;
            serving.clear();
            serving.extend(self.pods.serving_pods(s, mid));
            if serving.is_empty() {
                continue;
            }
            let (mut fail, mut m_sum) = (0.0, 0.0);
            for &p in &serving {
                let (mut f, mut m) = (0.0f64, 1.0f64);
                for inc in &near {
                    let Some((_, i)) = inc.on_visit(&self.pods, s, p, mid) else {
                        continue;
                    };
                    let mi = inc.latency_mult_at(i);
                    if mi >= 1.5 {
                        m = m.max(mi);
                    }
                    if inc.impact.failure.is_some() {
                        f = f.max((inc.impact.error_rate * i).min(1.0));
                    }
                }
                fail += f;
                m_sum += m;
            }
            direct[s] = fail / serving.len() as f64;
            mult[s] = m_sum / serving.len() as f64;
        }
        // Failure and duration, dependencies first.
        let own_error = self.requests.baseline_error_rate;
        let spread = (OWN_SIGMA * OWN_SIGMA / 2.0).exp();
        for &s in &topo.dependency_order {
            let (mut child_fail, mut calls) = (0.0, 0.0);
            for_each_route(self, s, |w, deps| {
                let mut ok = 1.0;
                let mut done = FIRST_CALL_US;
                for (j, &d) in deps.iter().enumerate() {
                    let dl = &out[d];
                    let q = dl.served * FAIL_THROUGH * dl.p5xx + (1.0 - dl.served);
                    ok *= 1.0 - q;
                    let answer = dl.served * (dl.duration_us + ANSWER_US)
                        + (1.0 - dl.served) * UNAVAILABLE_US;
                    done = f64::max(done, FIRST_CALL_US + CALL_GAP_US * j as f64 + answer);
                }
                child_fail += w * (1.0 - ok);
                calls += w * done;
            });
            // Beyond the sample's reach: latency drifts (caches, GC, noisy neighbours; an
            // AR(1) with memory) and grows with the load (queueing).
            let drift = 1.0
                + LATENCY_DRIFT
                    * crate::rng::ar1(
                        stream(self.seed, &[str_key("load-latency"), topo.services[s].key]),
                        minute.div_euclid(MINUTE),
                        0.6,
                    )
                + LATENCY_PER_LOAD * (self.traffic.service(s, minute) - 1.0);
            let l = &mut out[s];
            l.own_median_us = own_median(&topo.services[s]) * mult[s] * drift.max(0.5);
            l.duration_us = calls + l.own_median_us * spread;
            l.p5xx = 1.0 - (1.0 - direct[s]) * (1.0 - own_error) * (1.0 - child_fail);
        }
        // Visits, callers first.
        for (s, l) in out.iter_mut().enumerate() {
            let rate = self.requests.roots_per_minute[s];
            if rate > 0.0 {
                l.arrivals = rate * self.scale * self.traffic.service(s, minute) * extra;
                l.roots = l.arrivals * l.served;
                l.visits = l.roots;
            }
        }
        for &s in topo.dependency_order.iter().rev() {
            let v = out[s].visits;
            if v <= 0.0 {
                continue;
            }
            let mut calls = vec![0.0; n];
            for_each_route(self, s, |w, deps| {
                for &d in deps {
                    calls[d] += v * w;
                }
            });
            for (d, c) in calls.into_iter().enumerate() {
                out[d].visits += c * out[d].served;
            }
        }
        out
    }
}

/// Calls `f(share, dependencies)` for every route of service `s`: the share of its
/// visits that take the route and the dependencies the route calls, in call order.
fn for_each_route(world: &World, s: usize, mut f: impl FnMut(f64, &[usize])) {
    let cum = &world.requests.route_weights[s];
    let total = cum.last().copied().unwrap_or(1.0).max(1e-12);
    let mut prev = 0.0;
    for (r, deps) in world.requests.route_deps[s].iter().enumerate() {
        let w = (cum[r] - prev) / total;
        prev = cum[r];
        f(w, deps);
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use crate::time::{DAY, MINUTE, parse_instant};
    use crate::world::{TimeRange, Visit, World};

    fn world(incidents: bool) -> World {
        let mut config = Config::defaults().expect("defaults");
        config.incidents.schedule.enabled = incidents;
        let start = parse_instant("2026-11-24T00:00:00Z").expect("time");
        World::plan(
            config,
            11,
            1.0,
            TimeRange {
                start,
                end: start + DAY,
            },
        )
    }

    /// The analytic load agrees with what the expanded (sampled) requests do over a day,
    /// in normal time and with the incidents: visits per sampled visit near N − 1 per
    /// service, the 5xx count within the sampling error, the mean duration within 10%.
    #[test]
    fn unsampled_load_matches_the_sampled_requests() {
        for incidents in [false, true] {
            compare_over_a_day(&world(incidents));
        }
    }

    fn compare_over_a_day(w: &World) {
        let n = w.topology.services.len();
        let extra = w.requests.per_access_line - 1.0;
        let (mut visits, mut errors, mut dur) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
        let (mut e_visits, mut e_errors, mut e_dur) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
        let mut buf: Vec<Visit> = Vec::new();
        let start = w.range.start;
        for k in 0..(DAY / MINUTE) {
            let minute = start + k * MINUTE;
            buf.clear();
            w.expand_minute(minute, &mut buf);
            for v in &buf {
                let s = v.service as usize;
                visits[s] += 1.0;
                errors[s] += (v.status >= 500) as u8 as f64;
                dur[s] += v.duration as f64;
            }
            for (s, l) in w.unsampled_load(minute).iter().enumerate() {
                e_visits[s] += l.visits / extra;
                e_errors[s] += l.visits * l.p5xx / extra;
                e_dur[s] += l.visits * l.duration_us / extra;
            }
        }
        for s in 0..n {
            let name = &w.topology.services[s].name;
            if visits[s] < 500.0 {
                continue;
            }
            let rel = (e_visits[s] - visits[s]).abs() / visits[s];
            assert!(
                rel < 0.06,
                "{name}: visits {} vs {}",
                e_visits[s],
                visits[s]
            );
            let err_tol = 4.0 * errors[s].max(4.0).sqrt() + 0.05 * errors[s];
            assert!(
                (e_errors[s] - errors[s]).abs() < err_tol,
                "{name}: 5xx {} vs {}",
                e_errors[s],
                errors[s]
            );
            let (mean, e_mean) = (dur[s] / visits[s], e_dur[s] / e_visits[s]);
            assert!(
                (e_mean - mean).abs() / mean < 0.10,
                "{name}: mean duration {e_mean:.0} µs vs {mean:.0} µs"
            );
        }
    }
}
