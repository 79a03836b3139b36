//! obsgen's hand-written randomness against the crates the design names (rand with a
//! value-stable generator, rand_distr, uuid), on the work obsgen does: a stream derived
//! from a key and a few draws from it (every request visit, log line and datapoint has its
//! own), the distributions it draws, and UUID-shaped ids written into a builder.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use obsgen::rng::{Rng, stream};
use rand::{Rng as _, SeedableRng};
use rand_distr::{Distribution, Exp, LogNormal, Poisson, StandardNormal};
use std::hint::black_box;

const N: u64 = 4096;

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("rng");
    g.throughput(Throughput::Elements(N));

    // A stream per entity: derive, then four uniform draws.
    g.bench_function("stream+4 draws/obsgen SplitMix64", |b| {
        b.iter(|| {
            let mut acc = 0.0;
            for i in 0..N {
                let mut r = Rng::derive(black_box(42), &[7, i]);
                acc += r.f64() + r.f64() + r.f64() + r.f64();
            }
            acc
        })
    });
    g.bench_function("stream+4 draws/rand_pcg Pcg64Mcg", |b| {
        b.iter(|| {
            let mut acc = 0.0;
            for i in 0..N {
                let mut r = rand_pcg::Pcg64Mcg::seed_from_u64(stream(black_box(42), &[7, i]));
                acc +=
                    r.random::<f64>() + r.random::<f64>() + r.random::<f64>() + r.random::<f64>();
            }
            acc
        })
    });
    g.bench_function("stream+4 draws/rand_xoshiro Xoshiro256++", |b| {
        b.iter(|| {
            let mut acc = 0.0;
            for i in 0..N {
                let mut r =
                    rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(stream(black_box(42), &[7, i]));
                acc +=
                    r.random::<f64>() + r.random::<f64>() + r.random::<f64>() + r.random::<f64>();
            }
            acc
        })
    });

    // Distributions, one long stream.
    g.bench_function("normal/obsgen Box-Muller", |b| {
        let mut r = Rng::new(1);
        b.iter(|| (0..N).map(|_| r.normal()).sum::<f64>())
    });
    g.bench_function("normal/rand_distr StandardNormal (ziggurat)", |b| {
        let mut r = rand_pcg::Pcg64Mcg::seed_from_u64(1);
        b.iter(|| {
            (0..N)
                .map(|_| -> f64 { StandardNormal.sample(&mut r) })
                .sum::<f64>()
        })
    });
    g.bench_function("exp/obsgen inversion", |b| {
        let mut r = Rng::new(1);
        b.iter(|| (0..N).map(|_| r.exp(black_box(3.0))).sum::<f64>())
    });
    g.bench_function("exp/rand_distr Exp (built per draw)", |b| {
        let mut r = rand_pcg::Pcg64Mcg::seed_from_u64(1);
        b.iter(|| {
            (0..N)
                .map(|_| Exp::new(1.0 / black_box(3.0)).map_or(0.0, |d| d.sample(&mut r)))
                .sum::<f64>()
        })
    });
    g.bench_function("lognormal/obsgen", |b| {
        let mut r = Rng::new(1);
        b.iter(|| {
            (0..N)
                .map(|_| r.lognormal(black_box(80.0), 0.4))
                .sum::<f64>()
        })
    });
    g.bench_function("lognormal/rand_distr (built per draw)", |b| {
        let mut r = rand_pcg::Pcg64Mcg::seed_from_u64(1);
        b.iter(|| {
            (0..N)
                .map(|_| {
                    LogNormal::new(black_box(80.0f64).ln(), 0.4).map_or(0.0, |d| d.sample(&mut r))
                })
                .sum::<f64>()
        })
    });
    for lambda in [3.5, 80.0] {
        g.bench_function(format!("poisson {lambda}/obsgen"), |b| {
            let mut r = Rng::new(1);
            b.iter(|| (0..N).map(|_| r.poisson(black_box(lambda))).sum::<u64>())
        });
        g.bench_function(
            format!("poisson {lambda}/rand_distr (built per draw)"),
            |b| {
                let mut r = rand_pcg::Pcg64Mcg::seed_from_u64(1);
                b.iter(|| {
                    (0..N)
                        .map(|_| {
                            Poisson::new(black_box(lambda)).map_or(0.0, |d| d.sample(&mut r)) as u64
                        })
                        .sum::<u64>()
                })
            },
        );
    }

    // UUID-shaped ids from a key, written into a String.
    g.bench_function("uuid/obsgen text::uuid_from_key", |b| {
        let mut s = String::with_capacity(40 * N as usize);
        b.iter(|| {
            s.clear();
            for i in 0..N {
                obsgen::sources::text::uuid_from_key(&mut s, black_box(i));
            }
            s.len()
        })
    });
    g.bench_function("uuid/uuid crate (Builder + hyphenated encode)", |b| {
        let mut s = String::with_capacity(40 * N as usize);
        b.iter(|| {
            s.clear();
            let mut buf = uuid::Uuid::encode_buffer();
            for i in 0..N {
                let k = black_box(i);
                let mut bytes = [0u8; 16];
                bytes[..8].copy_from_slice(&obsgen::rng::mix64(k ^ 0xa5a5_a5a5).to_be_bytes());
                bytes[8..].copy_from_slice(&obsgen::rng::mix64(k ^ 0x5a5a_5a5a).to_be_bytes());
                let u = uuid::Builder::from_random_bytes(bytes).into_uuid();
                s.push_str(u.hyphenated().encode_lower(&mut buf));
            }
            s.len()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
