//! Traffic over time: a diurnal curve, a weekly shape, multiplicative noise and bursts.
//!
//! Every value is a pure function of (seed, configuration, absolute minute), so any time
//! range sees the same traffic at the same minute. The plan keeps one factor per service
//! per minute over the planned window, with prefix sums so that counters (CPU seconds,
//! network bytes) can integrate traffic between any two instants in O(1).

use crate::config::TrafficShape;
use crate::config::bounds::MAX_TRAFFIC_FACTOR as MAX_FACTOR;
use crate::rng::{Rng, ar1, str_key, stream};
use crate::time::{DAY, MINUTE, Micros, hour_of_day, weekday};

#[derive(Debug, Clone)]
pub struct Traffic {
    /// Absolute minute index (minutes since the epoch) of slot 0.
    first_minute: i64,
    minutes: usize,
    /// Platform-wide factor per minute.
    global: Vec<f32>,
    /// Per service: factor per minute (global × service jitter).
    service: Vec<Vec<f32>>,
    /// Per service: prefix sums of `service` in fixed point every [`PREFIX_STEP`] slots
    /// (entry c holds the sum of the slots < c × PREFIX_STEP; the few minutes after it
    /// are added when asked). Integers, so an integral between two instants is exactly
    /// the same whatever the planned window's start; one per 8 minutes, so they take an
    /// eighth of the memory of per-minute sums (which grow with the range).
    prefix: Vec<Vec<i64>>,
    /// Per service: the traffic factor its pods' CPU limit can serve
    /// ([`Traffic::with_ceilings`]; infinite until set).
    ceiling: Vec<f32>,
    /// Per service: prefix sums of `min(service, ceiling)`, like `prefix`.
    capped_prefix: Vec<Vec<i64>>,
}

/// Slots between two entries of the prefix sums (60 cost 20% of a day's time in the
/// sums of the minutes after an entry; 8 costs nothing measurable).
const PREFIX_STEP: usize = 8;

/// Prefix sums of `fixed(min(v, cap))` over `values` at every [`PREFIX_STEP`] slots.
fn checkpoints(values: &[f32], cap: f32) -> Vec<i64> {
    let mut out = Vec::with_capacity(values.len() / PREFIX_STEP + 2);
    let mut acc = 0i64;
    out.push(0);
    for chunk in values.chunks(PREFIX_STEP) {
        acc += chunk.iter().map(|v| fixed(v.min(cap))).sum::<i64>();
        out.push(acc);
    }
    out
}

#[derive(Debug, Clone, Copy)]
struct Burst {
    start: Micros,
    end: Micros,
    multiplier: f64,
}

fn bursts_of_day(seed: u64, shape: &TrafficShape, day: i64) -> Vec<Burst> {
    let mut rng = Rng::derive(seed, &[str_key("bursts"), day as u64]);
    let n = rng.poisson(shape.bursts.per_day.0);
    (0..n)
        .map(|_| {
            let start = day * DAY + rng.below(DAY as u64) as i64;
            let minutes = rng.range_f64(
                shape.bursts.minutes.min,
                shape.bursts.minutes.max.max(shape.bursts.minutes.min + 1.0),
            );
            let multiplier = rng.range_f64(
                shape.bursts.multiplier.min,
                shape
                    .bursts
                    .multiplier
                    .max
                    .max(shape.bursts.multiplier.min + 1e-9),
            );
            Burst {
                start,
                end: start + (minutes * MINUTE as f64) as i64,
                multiplier,
            }
        })
        .collect()
}

/// The diurnal curve at each minute of a day, as a share of its busiest minute (0 – 1).
pub fn diurnal_share(shape: &TrafficShape) -> Vec<f64> {
    let raw: Vec<f64> = (0..1440)
        .map(|m| diurnal_raw(shape, m as f64 / 60.0))
        .collect();
    let peak = raw.iter().copied().fold(0.0, f64::max);
    raw.iter()
        .map(|v| if peak > 0.0 { v / peak } else { 1.0 })
        .collect()
}

/// The diurnal curve, not normalised: night floor plus Gaussian bumps (wrapping at 24h).
fn diurnal_raw(shape: &TrafficShape, h: f64) -> f64 {
    let mut v = shape.night_level.0;
    for p in &shape.peaks {
        for shift in [-24.0, 0.0, 24.0] {
            let z = (h - p.hour.0 - shift) / p.width.0;
            v += p.height.0 * (-0.5 * z * z).exp();
        }
    }
    v
}

impl Traffic {
    /// Plans traffic for the minutes of `[start, end)` (both rounded out to minutes).
    pub fn plan(
        seed: u64,
        shape: &TrafficShape,
        service_keys: &[u64],
        start: Micros,
        end: Micros,
    ) -> Traffic {
        let first_minute = start.div_euclid(MINUTE);
        let last_minute = (end + MINUTE - 1).div_euclid(MINUTE);
        let minutes = (last_minute - first_minute).max(1) as usize;

        // Normalise the diurnal curve and the weekly shape to a mean of 1.
        let diurnal_mean = (0..1440)
            .map(|m| diurnal_raw(shape, m as f64 / 60.0))
            .sum::<f64>()
            / 1440.0;
        let weekly_mean = shape.weekly.iter().map(|w| w.0).sum::<f64>() / 7.0;
        let diurnal: Vec<f64> = (0..1440)
            .map(|m| diurnal_raw(shape, m as f64 / 60.0) / diurnal_mean.max(1e-9))
            .collect();

        let noise_key = stream(seed, &[str_key("traffic-noise")]);
        let wander_key = stream(seed, &[str_key("traffic-wander")]);
        let mut bursts_cache: Vec<(i64, Vec<Burst>)> = Vec::new();
        let mut global = Vec::with_capacity(minutes);
        for k in 0..minutes {
            let m = first_minute + k as i64;
            let t = m * MINUTE;
            let day = t.div_euclid(DAY);
            let minute_of_day = (m.rem_euclid(1440)) as usize;
            // Weekly factor blended over two hours around midnight to avoid steps.
            let wd = weekday(t) as usize;
            let h = hour_of_day(t);
            let w_today = shape.weekly[wd].0;
            let w = if h < 1.0 {
                let w_prev = shape.weekly[(wd + 6) % 7].0;
                w_prev + (w_today - w_prev) * (0.5 + h / 2.0)
            } else if h >= 23.0 {
                let w_next = shape.weekly[(wd + 1) % 7].0;
                w_today + (w_next - w_today) * ((h - 23.0) / 2.0)
            } else {
                w_today
            } / weekly_mean.max(1e-9);
            // Slow wander: log-normal knots every 15 minutes, linearly interpolated.
            let knot = m.div_euclid(15);
            let frac = m.rem_euclid(15) as f64 / 15.0;
            let kn = |i: i64| Rng::derive(wander_key, &[i as u64]).normal();
            let wander = (0.08 * (kn(knot) * (1.0 - frac) + kn(knot + 1) * frac)).exp();
            let noise = (shape.noise_sigma.0 * ar1(noise_key, m, shape.noise_memory.0)).exp();
            // Bursts of this day and the day before (a burst may cross midnight).
            let mut burst = 1.0;
            for d in [day - 1, day] {
                if !bursts_cache.iter().any(|(k, _)| *k == d) {
                    bursts_cache.push((d, bursts_of_day(seed, shape, d)));
                    if bursts_cache.len() > 3 {
                        bursts_cache.remove(0);
                    }
                }
                if let Some((_, bs)) = bursts_cache.iter().find(|(k, _)| *k == d) {
                    for b in bs {
                        if t >= b.start && t < b.end {
                            // ramp up over the first fifth, decay over the last two fifths
                            let p = (t - b.start) as f64 / (b.end - b.start).max(1) as f64;
                            let shape_f = if p < 0.2 {
                                p / 0.2
                            } else if p > 0.6 {
                                (1.0 - p) / 0.4
                            } else {
                                1.0
                            };
                            burst *= 1.0 + (b.multiplier - 1.0) * shape_f;
                        }
                    }
                }
            }
            // Clamped: exp() of a normal draw is unbounded, and a minute's requests are
            // sized by this factor (the defaults never come near the ceiling).
            global
                .push((diurnal[minute_of_day] * w * wander * noise * burst).min(MAX_FACTOR) as f32);
        }

        let mut service = Vec::with_capacity(service_keys.len());
        let mut prefix = Vec::with_capacity(service_keys.len());
        for &sk in service_keys {
            let key = stream(seed, &[str_key("service-traffic"), sk]);
            let f: Vec<f32> = global
                .iter()
                .enumerate()
                .map(|(k, g)| {
                    let m = first_minute + k as u64 as i64;
                    let jitter =
                        (shape.service_noise_sigma.0 * ar1(key, m, shape.noise_memory.0)).exp();
                    (*g as f64 * jitter).min(MAX_FACTOR) as f32
                })
                .collect();
            prefix.push(checkpoints(&f, f32::INFINITY));
            service.push(f);
        }
        Traffic {
            first_minute,
            minutes,
            global,
            service,
            capped_prefix: prefix.clone(),
            ceiling: vec![f32::INFINITY; service_keys.len()],
            prefix,
        }
    }

    #[inline]
    fn slot(&self, t: Micros) -> usize {
        let k = t.div_euclid(MINUTE) - self.first_minute;
        k.clamp(0, self.minutes as i64 - 1) as usize
    }

    /// Platform-wide traffic factor at `t`.
    #[inline]
    pub fn global(&self, t: Micros) -> f64 {
        self.global[self.slot(t)] as f64
    }

    /// Traffic factor of service `s` at `t` (about 1.0 on average).
    #[inline]
    pub fn service(&self, s: usize, t: Micros) -> f64 {
        self.service[s][self.slot(t)] as f64
    }

    /// Whole minutes before `t` as (slot, fraction of the minute at `t`), clamped to the plan.
    #[inline]
    fn position(&self, t: Micros) -> (usize, f64) {
        let k = t.div_euclid(MINUTE) - self.first_minute;
        if k < 0 {
            (0, 0.0)
        } else if k as usize >= self.minutes {
            (self.minutes, 0.0)
        } else {
            (k as usize, t.rem_euclid(MINUTE) as f64 / MINUTE as f64)
        }
    }

    /// Caps each service's traffic at a ceiling for [`Traffic::service_capped`] and
    /// [`Traffic::integral_capped`]: the factor a service's pods can serve with the CPU
    /// their limit allows (the rest waits: a saturated container uses its quota, no more).
    pub fn with_ceilings(mut self, ceilings: &[f64]) -> Traffic {
        for (s, &c) in ceilings.iter().enumerate().take(self.service.len()) {
            let c = c.max(0.0) as f32;
            self.capped_prefix[s] = checkpoints(&self.service[s], c);
            self.ceiling[s] = c;
        }
        self
    }

    /// Traffic factor of service `s` at `t`, at most its ceiling.
    #[inline]
    pub fn service_capped(&self, s: usize, t: Micros) -> f64 {
        self.service[s][self.slot(t)].min(self.ceiling[s]) as f64
    }

    /// ∫ traffic of service `s` over `[a, b)` in traffic-minutes.
    #[inline]
    pub fn integral(&self, s: usize, a: Micros, b: Micros) -> f64 {
        self.integral_of(s, &self.prefix[s], f32::INFINITY, a, b)
    }

    /// ∫ min(traffic, ceiling) of service `s` over `[a, b)` in traffic-minutes.
    #[inline]
    pub fn integral_capped(&self, s: usize, a: Micros, b: Micros) -> f64 {
        self.integral_of(s, &self.capped_prefix[s], self.ceiling[s], a, b)
    }

    #[inline]
    fn integral_of(&self, s: usize, prefix: &[i64], cap: f32, a: Micros, b: Micros) -> f64 {
        if b <= a {
            return 0.0;
        }
        let (ka, fa) = self.position(a);
        let (kb, fb) = self.position(b);
        // The sum of the slots < k: the checkpoint before k and the minutes after it.
        let sum_before = |k: usize| -> i64 {
            let c = k / PREFIX_STEP;
            prefix[c]
                + self.service[s][c * PREFIX_STEP..k]
                    .iter()
                    .map(|v| fixed(v.min(cap)))
                    .sum::<i64>()
        };
        let whole = (sum_before(kb) - sum_before(ka)) as f64 / FIXED_ONE;
        let part = |k: usize, f: f64| {
            if k < self.minutes {
                self.service[s][k].min(cap) as f64 * f
            } else {
                0.0
            }
        };
        (whole + part(kb, fb) - part(ka, fa)).max(0.0)
    }
}

const FIXED_ONE: f64 = (1u64 << 24) as f64;

/// A minute's traffic in fixed point.
fn fixed(v: f32) -> i64 {
    (v as f64 * FIXED_ONE).round() as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::time::HOUR;

    #[test]
    fn traffic_has_diurnal_and_weekly_shape_and_mean_near_one() {
        let cfg = Config::defaults().expect("defaults");
        let start = 1_795_392_000_000_000; // 2026-11-23T00:00:00Z, a Monday
        let t = Traffic::plan(7, &cfg.generation.traffic, &[1, 2], start, start + 7 * DAY);
        let mean: f64 = (0..7 * 1440)
            .map(|m| t.global(start + m * MINUTE))
            .sum::<f64>()
            / (7.0 * 1440.0);
        assert!((mean - 1.0).abs() < 0.1, "weekly mean {mean}");
        let night = t.global(start + 4 * HOUR);
        let day = t.global(start + 11 * HOUR);
        assert!(day > 1.8 * night, "day {day} night {night}");
        let weekday_sum: f64 = (0..1440)
            .map(|m| t.global(start + 2 * DAY + m * MINUTE))
            .sum();
        let sunday_sum: f64 = (0..1440)
            .map(|m| t.global(start + 6 * DAY + m * MINUTE))
            .sum();
        assert!(sunday_sum < 0.85 * weekday_sum);
        // same minute, different planned windows: same value
        let t2 = Traffic::plan(
            7,
            &cfg.generation.traffic,
            &[1, 2],
            start + DAY,
            start + 2 * DAY,
        );
        assert_eq!(
            t.service(1, start + DAY + 123 * MINUTE),
            t2.service(1, start + DAY + 123 * MINUTE)
        );
        // integral is monotonic and additive
        let a = t.integral(0, start, start + HOUR);
        let b = t.integral(0, start + HOUR, start + 2 * HOUR);
        assert!((t.integral(0, start, start + 2 * HOUR) - a - b).abs() < 1e-6);
    }
}
