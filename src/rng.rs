//! Deterministic randomness.
//!
//! Every random value in obsgen comes from an [`Rng`] whose seed is derived with
//! [`stream`] from the run's `--seed` and stable keys (source, table, hour, entity...).
//! The generator (SplitMix64) and the key hashing (FNV-1a + SplitMix finaliser) are
//! written out here rather than taken from a crate, so that the same seed gives the
//! same bytes across compiler, platform and dependency upgrades.

/// SplitMix64 finaliser: a bijective 64-bit mixer with full avalanche.
#[inline]
pub const fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Stable 64-bit hash of a string (FNV-1a, then mixed).
pub const fn str_key(s: &str) -> u64 {
    let bytes = s.as_bytes();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        h ^= bytes[i] as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    mix64(h)
}

/// Derives a stream key from a parent key and a list of sub-keys.
#[inline]
pub fn stream(parent: u64, parts: &[u64]) -> u64 {
    let mut h = mix64(parent ^ 0x6a09_e667_f3bc_c909);
    for &p in parts {
        h = mix64(h ^ p.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    }
    h
}

/// A uniform value in `[0, 1)` from a key, without an RNG object.
#[inline]
pub fn unit(key: u64) -> f64 {
    (mix64(key) >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Noise with memory: the value at step `i` of stream `key` of a unit-variance AR(1)
/// process whose lag-1 autocorrelation is `phi` (0 – 0.9). Computed from the innovations
/// of the steps up to `i` whose weight `phi^k` is above 1e-4, each a uniform value from
/// the key and the step, so any step is the same whichever range asks for it, and the
/// values are near-Gaussian (bounded: at most about 4 for `phi` 0.7).
pub fn ar1(key: u64, i: i64, phi: f64) -> f64 {
    let phi = phi.clamp(0.0, 0.9);
    // sqrt(12) * (u - 0.5) has variance 1.
    let innovation = |j: i64| (unit(stream(key, &[j as u64])) - 0.5) * 12f64.sqrt();
    if phi == 0.0 {
        return innovation(i);
    }
    let mut acc = 0.0;
    let mut w = 1.0;
    let mut k = 0;
    while w > 1e-4 {
        acc += w * innovation(i - k);
        w *= phi;
        k += 1;
    }
    acc * (1.0 - phi * phi).sqrt()
}

/// The standard normal quantile of `p` in (0, 1) (Acklam's rational approximation,
/// relative error below 1.2e-9); `p` is clamped to [1e-300, 1 - 1e-16].
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let p = p.clamp(1e-300, 1.0 - 1e-16);
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// The Poisson count of mean `mean` at quantile `u` in [0, 1): exact inversion for means
/// below 100, the Cornish-Fisher expansion beyond (within one count of the exact one). Non-decreasing in `mean` and in `u`,
/// so two worlds drawing with the same `u` (a world and its counterfactual twin) get the
/// same count where their means agree and ordered counts where they do not.
pub fn poisson_quantile(mean: f64, u: f64) -> u64 {
    if mean.is_nan() || mean <= 0.0 {
        return 0;
    }
    if mean < 100.0 {
        let mut p = (-mean).exp();
        let mut cdf = p;
        let mut k = 0u64;
        while cdf <= u && k < 1000 {
            k += 1;
            p *= mean / k as f64;
            cdf += p;
        }
        k
    } else {
        let z = normal_quantile(u);
        (mean + z * mean.sqrt() + (z * z - 1.0) / 6.0 + 0.5)
            .floor()
            .max(0.0) as u64
    }
}

/// A small, fast, value-stable pseudo-random generator (SplitMix64).
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

impl Rng {
    pub fn new(key: u64) -> Self {
        Rng { state: mix64(key) }
    }

    /// A generator for the stream `parts` under `parent`.
    pub fn derive(parent: u64, parts: &[u64]) -> Self {
        Rng::new(stream(parent, parts))
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix64(self.state)
    }

    /// Uniform in `[0, 1)`.
    #[inline]
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in `[0, n)`; `n == 0` gives 0.
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Uniform index into a slice of length `n`.
    #[inline]
    pub fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// Uniform integer in `[lo, hi]`.
    #[inline]
    pub fn range_u64(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// Uniform float in `[lo, hi)`.
    #[inline]
    pub fn range_f64(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.f64()
    }

    #[inline]
    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    /// An element of a non-empty slice.
    #[inline]
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }

    /// Standard normal (rand_distr's ziggurat: 8x Box-Muller's speed, `benches/rng.rs`).
    pub fn normal(&mut self) -> f64 {
        use rand_distr::Distribution;
        rand_distr::StandardNormal.sample(self)
    }

    /// Exponential with the given mean (rand_distr's ziggurat `Exp1`, scaled).
    pub fn exp(&mut self, mean: f64) -> f64 {
        use rand_distr::Distribution;
        let e: f64 = rand_distr::Exp1.sample(self);
        mean * e
    }

    /// Log-normal whose median is `median` and whose log has standard deviation `sigma`.
    pub fn lognormal(&mut self, median: f64, sigma: f64) -> f64 {
        median * (sigma * self.normal()).exp()
    }

    /// Poisson-distributed count with mean `lambda`: inversion for small means (faster
    /// there than rand_distr's, which is built per mean), rand_distr's exact sampler for
    /// large ones.
    pub fn poisson(&mut self, lambda: f64) -> u64 {
        if lambda.is_nan() || lambda <= 0.0 {
            return 0;
        }
        if lambda < 30.0 {
            let l = (-lambda).exp();
            let mut k = 0u64;
            let mut p = self.f64();
            while p > l {
                k += 1;
                p *= self.f64();
            }
            k
        } else {
            use rand_distr::Distribution;
            match rand_distr::Poisson::new(lambda) {
                Ok(d) => d.sample(self) as u64,
                // Beyond the sampler's range (2^64 / 4): the mean itself.
                Err(_) => lambda as u64,
            }
        }
    }

    /// Index drawn from cumulative weights (last element is the total).
    pub fn weighted(&mut self, cumulative: &[f64]) -> usize {
        let total = cumulative.last().copied().unwrap_or(0.0);
        let x = self.f64() * total;
        cumulative
            .partition_point(|&c| c <= x)
            .min(cumulative.len().saturating_sub(1))
    }

    /// Lowercase hex of `n` random nibbles into `out`.
    pub fn hex_into(&mut self, out: &mut String, n: usize) {
        write_hex(out, self.next_u64(), n.min(16));
        if n > 16 {
            write_hex(out, self.next_u64(), n - 16);
        }
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// obsgen's generator as a rand generator, so that rand_distr's distributions draw from the
/// streams obsgen derives (seeding one costs a multiply and a mix: 1.5x faster per entity
/// than seeding rand_pcg's Pcg64Mcg, `benches/rng.rs`).
impl rand_core::RngCore for Rng {
    #[inline]
    fn next_u32(&mut self) -> u32 {
        (Rng::next_u64(self) >> 32) as u32
    }
    #[inline]
    fn next_u64(&mut self) -> u64 {
        Rng::next_u64(self)
    }
    fn fill_bytes(&mut self, dst: &mut [u8]) {
        rand_core::impls::fill_bytes_via_next(self, dst)
    }
}

/// Writes the low `nibbles` nibbles of `v` as lowercase hex, most significant first.
pub fn write_hex(out: &mut String, v: u64, nibbles: usize) {
    for i in (0..nibbles.min(16)).rev() {
        out.push(HEX[((v >> (i * 4)) & 0xf) as usize] as char);
    }
}

/// Hex id of 128 bits (32 chars), as Sentry event ids and W3C trace ids.
pub fn write_hex128(out: &mut String, hi: u64, lo: u64) {
    write_hex(out, hi, 16);
    write_hex(out, lo, 16);
}

/// Cumulative sums of weights, for [`Rng::weighted`].
pub fn cumulative(weights: impl IntoIterator<Item = f64>) -> Vec<f64> {
    let mut acc = 0.0;
    weights
        .into_iter()
        .map(|w| {
            acc += w.max(0.0);
            acc
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn normal_quantile_matches_known_values() {
        assert!((normal_quantile(0.5)).abs() < 1e-9);
        assert!((normal_quantile(0.975) - 1.959_963_985).abs() < 1e-6);
        assert!((normal_quantile(0.001) + 3.090_232_306).abs() < 1e-6);
        assert!((normal_quantile(0.8413447461) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn poisson_quantile_has_the_mean_and_variance_and_is_monotone() {
        for &mean in &[0.3, 4.0, 29.0, 99.0, 101.0, 400.0, 20_000.0] {
            let n = 20_000;
            let xs: Vec<f64> = (0..n)
                .map(|i| poisson_quantile(mean, (i as f64 + 0.5) / n as f64) as f64)
                .collect();
            let m = xs.iter().sum::<f64>() / n as f64;
            let v = xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n as f64;
            assert!((m - mean).abs() < 0.02 * mean + 0.02, "mean {mean}: {m}");
            assert!(
                (v - mean).abs() < 0.05 * mean + 0.05,
                "mean {mean}: variance {v}"
            );
            assert!(xs.windows(2).all(|w| w[0] <= w[1]), "monotone in u");
        }
        let u = 0.37;
        let mut last = 0;
        for i in 0..1900 {
            let k = poisson_quantile(i as f64 * 0.05, u);
            assert!(k >= last, "monotone in the mean");
            last = k;
        }
        assert_eq!(poisson_quantile(0.0, 0.9), 0);
        assert_eq!(poisson_quantile(f64::NAN, 0.9), 0);
    }

    use super::*;

    #[test]
    fn ar1_has_unit_variance_and_the_asked_memory() {
        for phi in [0.0, 0.5, 0.7, 0.9] {
            let xs: Vec<f64> = (0..200_000).map(|i| ar1(7, i, phi)).collect();
            let n = xs.len() as f64;
            let mean = xs.iter().sum::<f64>() / n;
            let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
            let lag1 = xs
                .windows(2)
                .map(|w| (w[0] - mean) * (w[1] - mean))
                .sum::<f64>()
                / (n - 1.0)
                / var;
            assert!(mean.abs() < 0.05, "phi {phi}: mean {mean}");
            assert!((var - 1.0).abs() < 0.05, "phi {phi}: variance {var}");
            assert!((lag1 - phi).abs() < 0.02, "phi {phi}: lag-1 {lag1}");
        }
        // The same step whatever else was asked before.
        assert_eq!(ar1(9, 1_000, 0.7).to_bits(), ar1(9, 1_000, 0.7).to_bits());
    }

    #[test]
    fn values_are_stable_across_releases() {
        // Pinned values: if these change, every dataset changes.
        assert_eq!(mix64(0), 0);
        assert_eq!(mix64(1), 0x5692_161d_100b_05e5);
        assert_eq!(str_key("checkout"), str_key("checkout"));
        let mut r = Rng::new(42);
        let a = r.next_u64();
        let mut r2 = Rng::new(42);
        assert_eq!(a, r2.next_u64());
        assert_ne!(stream(1, &[2, 3]), stream(1, &[3, 2]));
    }

    #[test]
    fn distributions_have_expected_moments() {
        let mut r = Rng::new(7);
        let n = 200_000;
        let mean_u: f64 = (0..n).map(|_| r.f64()).sum::<f64>() / n as f64;
        assert!((mean_u - 0.5).abs() < 0.01);
        let mean_p: f64 = (0..n).map(|_| r.poisson(3.5) as f64).sum::<f64>() / n as f64;
        assert!((mean_p - 3.5).abs() < 0.05, "{mean_p}");
        let mean_big: f64 = (0..n).map(|_| r.poisson(80.0) as f64).sum::<f64>() / n as f64;
        assert!((mean_big - 80.0).abs() < 0.3, "{mean_big}");
        let nm: f64 = (0..n).map(|_| r.normal()).sum::<f64>() / n as f64;
        assert!(nm.abs() < 0.02);
        for _ in 0..1000 {
            assert!(r.below(7) < 7);
        }
        let cum = cumulative([1.0, 0.0, 3.0]);
        let mut counts = [0usize; 3];
        for _ in 0..40_000 {
            counts[r.weighted(&cum)] += 1;
        }
        assert_eq!(counts[1], 0);
        assert!(counts[2] > counts[0] * 2);
    }
}
