//! `obsgen export openmetrics`: the container metrics as OpenMetrics text, as promtool's
//! backfill reads it: each family whole (TYPE first, counters' samples `_total`), each
//! series' samples contiguous and in time order, `# EOF` last; one sample per row and
//! metric, with the row's value and its time in milliseconds. (CI backfills it into a real
//! Prometheus and compares the panels' PromQL: examples/prometheus/check.sh.)

mod common;

use arrow::array::AsArray;
use arrow::datatypes::{DataType, Float64Type, Int64Type, TimestampMicrosecondType};
use std::collections::{BTreeMap, BTreeSet};

#[test]
fn the_export_holds_every_sample_once_grouped_by_family_and_series() {
    let root = common::fixture_root("obsgen-export-om-");
    let data = root.join("data");
    let file = root.join("metrics.om");
    let run = common::obsgen_ok;
    let d = data.to_str().unwrap();
    run(&[
        "generate",
        "--start",
        "2026-11-23T10:00:00Z",
        "--duration-hours",
        "2",
        "--sources",
        "kubernetes",
        "-q",
        "-o",
        d,
    ]);
    run(&["export", "openmetrics", d, "-o", file.to_str().unwrap()]);
    let stdout = run(&["export", "openmetrics", d]);
    let text = std::fs::read_to_string(&file).expect("the export");
    assert_eq!(stdout, text.as_bytes(), "stdout and -o write the same text");
    assert!(text.ends_with("# EOF\n"));

    // Parse: families in order, each declared once before its samples.
    let mut families: Vec<(String, String)> = Vec::new();
    let mut samples: BTreeMap<String, Vec<(i64, String)>> = BTreeMap::new();
    let mut series_order: Vec<String> = Vec::new();
    let mut per_family: BTreeMap<String, u64> = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert!(
                !families.iter().any(|f| f.0 == name),
                "{name} declared twice"
            );
            families.push((name.to_string(), kind.to_string()));
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (fam, kind) = families.last().expect("a sample after a TYPE line");
        let (series, rest) = line.rsplit_once("} ").expect("labels then value");
        let series = format!("{series}}}");
        let name = series[..series.find('{').unwrap()].to_string();
        let want = if kind == "counter" {
            format!("{fam}_total")
        } else {
            fam.clone()
        };
        assert_eq!(name, want, "a sample of another family inside {fam}");
        let (value, ts) = rest.split_once(' ').expect("value and timestamp");
        let (secs, ms) = ts.split_once('.').expect("seconds.milliseconds");
        assert_eq!(ms.len(), 3, "{ts}");
        let t: i64 = secs.parse::<i64>().unwrap() * 1000 + ms.parse::<i64>().unwrap();
        if series_order.last() != Some(&series) {
            assert!(
                !samples.contains_key(&series),
                "the samples of {series} are not contiguous"
            );
            series_order.push(series.clone());
        }
        let v = samples.entry(series).or_default();
        if let Some(last) = v.last() {
            assert!(last.0 < t, "{line}: not after the previous sample");
        }
        v.push((t, value.to_string()));
        *per_family.entry(name).or_default() += 1;
    }
    assert_eq!(families.len(), 11);

    // Every row of kubernetes/metrics, every metric, once, with its value.
    let mut rows = 0u64;
    let mut pods = BTreeSet::new();
    let mut checked = 0;
    for f in common::list_files(&data.join("kubernetes/metrics")) {
        let b = common::read_parquet(&data.join("kubernetes/metrics").join(&f));
        rows += b.num_rows() as u64;
        let ts = b["timestamp"].as_primitive::<TimestampMicrosecondType>();
        let text_col = |n: &str| {
            arrow::compute::cast(&b[n], &DataType::Utf8)
                .unwrap()
                .as_string::<i32>()
                .clone()
        };
        let (ns, pod, container) = (
            text_col("namespace"),
            text_col("pod"),
            text_col("container"),
        );
        let cpu = b["container_cpu_usage_seconds_total"].as_primitive::<Float64Type>();
        let ws = b["container_memory_working_set_bytes"].as_primitive::<Int64Type>();
        for r in (0..b.num_rows()).step_by(97) {
            pods.insert(pod.value(r).to_string());
            let ms = ts.value(r).div_euclid(1000);
            let find = |family: &str, value: String| {
                let hit = samples.iter().any(|(s, v)| {
                    s.starts_with(&format!(
                        "{family}{{namespace=\"{}\",pod=\"{}\",container=\"{}\",",
                        ns.value(r),
                        pod.value(r),
                        container.value(r)
                    )) && v.iter().any(|(t, x)| *t == ms && *x == value)
                });
                assert!(
                    hit,
                    "{family} of {} at {ms}: {value} not exported",
                    pod.value(r)
                );
            };
            find(
                "container_cpu_usage_seconds_total",
                ryu::Buffer::new().format(cpu.value(r)).to_string(),
            );
            find(
                "container_memory_working_set_bytes",
                ws.value(r).to_string(),
            );
            checked += 1;
        }
    }
    assert!(checked > 20 && pods.len() > 10);
    for (name, n) in &per_family {
        assert_eq!(*n, rows, "{name}: one sample per row");
    }
    assert_eq!(per_family.len(), 11);
}
