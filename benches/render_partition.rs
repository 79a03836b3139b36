//! Renders one hour partition of every table from a planned world (no I/O), and
//! writes one pod_logs partition and its labels twin as Parquet.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use obsgen::config::Config;
use obsgen::sources::registry;
use obsgen::time::{HOUR, parse_instant};
use obsgen::world::{TimeRange, World};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let config = Config::defaults().expect("defaults");
    let start = parse_instant("2026-11-23T00:00:00Z").expect("time");
    let world = World::plan(
        config,
        42,
        1.0,
        TimeRange {
            start,
            end: start + 24 * HOUR,
        },
    );
    // A busy daytime hour.
    let hour = start + 14 * HOUR;
    let mut group = c.benchmark_group("render_partition");
    group.sample_size(20);
    for table in registry() {
        let rows = table.render(&world, hour).expect("render").num_rows() as u64;
        group.throughput(Throughput::Elements(rows));
        group.bench_function(
            format!("{}/{}", table.source().as_str(), table.name()),
            |b| b.iter(|| black_box(table.render(&world, black_box(hour)).expect("render"))),
        );
    }
    let tables = registry();
    let pod_logs = tables
        .iter()
        .find(|t| t.name() == "pod_logs")
        .expect("pod_logs");
    let batch = pod_logs.render(&world, hour).expect("render");
    group.throughput(Throughput::Elements(batch.num_rows() as u64));
    // The partition and its labels twin, as the pipeline writes them (shared columns
    // encoded once, zstd level 1), into a temporary directory.
    let (labels, _) =
        obsgen::labels::records_batch(&batch, "kubernetes", "pod_logs").expect("labels");
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, l) = (dir.path().join("a.parquet"), dir.path().join("l.parquet"));
    group.bench_function("kubernetes/pod_logs/parquet_with_labels", |b| {
        b.iter(|| {
            black_box(
                obsgen::sink::write_parquet_files(
                    &[(&a, &batch), (&l, &labels)],
                    obsgen::sink::Compression::Zstd(1),
                    65536,
                )
                .expect("write"),
            )
        })
    });
    group.finish();

    c.bench_function("world_plan_one_day", |b| {
        b.iter(|| {
            let config = Config::defaults().expect("defaults");
            black_box(
                World::plan(
                    config,
                    42,
                    1.0,
                    TimeRange {
                        start,
                        end: start + 24 * HOUR,
                    },
                )
                .pods
                .pods
                .len(),
            )
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
