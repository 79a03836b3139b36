//! End-to-end checks of `obsgen generate` on a two-hour Kubernetes dataset.
//!
//! Each distinct run (seed, thread count, configuration) is generated once per test
//! process by a `OnceLock` fixture and shared by every test that needs it: the data checks
//! read the `--threads 1` run of the embedded configuration, the determinism checks compare
//! it with a `--threads 2` run of the same seed and with a run of another seed, and the
//! counter checks also read a run whose configuration restarts containers often (with the
//! default rate, a two-hour window rarely holds a restart).

mod common;

use common::list_files;

use arrow::array::{Array, AsArray, StringArray};
use arrow::datatypes::{Float64Type, Int64Type, SchemaRef, TimestampMicrosecondType};
use arrow::record_batch::RecordBatch;
use assert_cmd::Command;
use chrono::NaiveDate;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const START: &str = "2026-11-23T08:00:00Z";
const END: &str = "2026-11-23T10:00:00Z";
const HOURS: u32 = 2;
const SEED: u64 = 20_261_123;
const OTHER_SEED: u64 = 777;
const TABLES: [&str; 3] = ["events", "metrics", "pod_logs"];
const HOUR_MICROS: i64 = 3_600_000_000;

/// One generated dataset: its directory, and every Parquet file read back into memory.
struct Dataset {
    root: PathBuf,
    /// Sorted by relative path, i.e. by table, then date, then hour.
    files: Vec<Part>,
}

/// One partition file.
struct Part {
    /// Path relative to the dataset root, with `/` separators.
    rel: String,
    table: String,
    /// Start of the partition's hour (µs since the epoch), from `date=`/`hour=` in the path.
    hour_start: i64,
    size: u64,
    /// Row count from the Parquet footer.
    footer_rows: i64,
    /// The file's Arrow schema.
    schema: SchemaRef,
    /// All rows, in file order.
    batch: RecordBatch,
}

impl Dataset {
    fn table(&self, table: &str) -> impl Iterator<Item = &Part> {
        self.files.iter().filter(move |p| p.table == table)
    }
}

/// Runs `obsgen generate` for the two-hour window into `root/name`, with the
/// configuration in `config` if given.
fn run_generate(name: &str, seed: u64, threads: u32, config: Option<&Path>) -> PathBuf {
    let out = common::fixture_root("obsgen-generate-").join(name);
    let mut cmd = Command::cargo_bin("obsgen").expect("the obsgen binary");
    cmd.arg("generate");
    if let Some(dir) = config {
        cmd.arg("--config").arg(dir);
    }
    // --overwrite: a fixture whose first initialisation panicked is retried by the next test.
    let output = cmd
        .args(["--overwrite", "--start", START, "--duration-hours"])
        .arg(HOURS.to_string())
        .arg("-o")
        .arg(&out)
        .args(["--seed", &seed.to_string()])
        .args(["--threads", &threads.to_string()])
        .args(["--sources", "kubernetes"])
        .output()
        .expect("run obsgen");
    assert!(
        output.status.success(),
        "obsgen generate ({name}) failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    out
}

/// The reference dataset: `SEED`, one thread, read back into memory.
fn dataset() -> &'static Dataset {
    static DATA: OnceLock<Dataset> = OnceLock::new();
    DATA.get_or_init(|| load(run_generate("seed-threads1", SEED, 1, None)))
}

/// Same seed, two threads.
fn dataset_threads2() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| run_generate("seed-threads2", SEED, 2, None))
}

/// Another seed.
fn dataset_other_seed() -> &'static Dataset {
    static DATA: OnceLock<Dataset> = OnceLock::new();
    DATA.get_or_init(|| load(run_generate("other-seed", OTHER_SEED, 2, None)))
}

/// Restarts per pod and day in the restart-heavy configuration: about one restart per
/// pod in the two hours (the default is 0.04).
const RESTARTS_PER_POD_DAY: &str = "12";

/// `SEED` with a configuration (written by `obsgen config init`, then edited) whose
/// containers restart often.
fn dataset_with_restarts() -> &'static Dataset {
    static DATA: OnceLock<Dataset> = OnceLock::new();
    DATA.get_or_init(|| {
        let dir = common::fixture_root("obsgen-generate-").join("restarts-config");
        let output = Command::cargo_bin("obsgen")
            .expect("the obsgen binary")
            .args(["config", "init", "--overwrite"])
            .arg(&dir)
            .output()
            .expect("run obsgen config init");
        assert!(
            output.status.success(),
            "config init: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let path = dir.join("generation_config.yaml");
        let text = std::fs::read_to_string(&path).expect("read generation_config.yaml");
        let key = "container_restarts_per_pod_day:";
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(key))
            .expect("generation_config.yaml sets container_restarts_per_pod_day");
        let indent = &line[..line.len() - line.trim_start().len()];
        let text = text.replacen(line, &format!("{indent}{key} {RESTARTS_PER_POD_DAY}"), 1);
        std::fs::write(&path, text).expect("write generation_config.yaml");
        load(run_generate("restarts", SEED, 2, Some(&dir)))
    })
}

/// Parses `kubernetes/<table>/date=YYYY-MM-DD/hour=HH/part-00000.parquet`.
fn parse_partition_path(rel: &str) -> (String, i64) {
    let parts: Vec<&str> = rel.split('/').collect();
    assert_eq!(parts.len(), 5, "unexpected partition path {rel}");
    assert_eq!(parts[0], "kubernetes", "{rel}");
    assert_eq!(parts[4], "part-00000.parquet", "{rel}");
    let date = parts[2]
        .strip_prefix("date=")
        .unwrap_or_else(|| panic!("no date= in {rel}"));
    let hour: u32 = parts[3]
        .strip_prefix("hour=")
        .filter(|h| h.len() == 2)
        .and_then(|h| h.parse().ok())
        .unwrap_or_else(|| panic!("no hour=HH in {rel}"));
    let ymd: Vec<&str> = date.split('-').collect();
    assert!(
        ymd.len() == 3 && ymd[0].len() == 4 && ymd[1].len() == 2 && ymd[2].len() == 2,
        "bad date in {rel}"
    );
    let day = NaiveDate::from_ymd_opt(
        ymd[0].parse().expect("year"),
        ymd[1].parse().expect("month"),
        ymd[2].parse().expect("day"),
    )
    .unwrap_or_else(|| panic!("invalid date in {rel}"));
    let start = day
        .and_hms_opt(hour, 0, 0)
        .unwrap_or_else(|| panic!("invalid hour in {rel}"))
        .and_utc()
        .timestamp_micros();
    (parts[1].to_string(), start)
}

fn load(root: PathBuf) -> Dataset {
    let mut files = Vec::new();
    for rel in list_files(&root) {
        // The ground-truth tables beside the sources are checked in tests/incidents.rs.
        if rel == "manifest.json" || rel.starts_with("labels/") || rel.starts_with("correlation/") {
            continue;
        }
        let (table, hour_start) = parse_partition_path(&rel);
        let path = root.join(&rel);
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("open {rel}: {e}"));
        let size = file.metadata().expect("file metadata").len();
        let builder = ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap_or_else(|e| panic!("{rel} is not a readable Parquet file: {e}"));
        let footer_rows = builder.metadata().file_metadata().num_rows();
        let schema = builder.schema().clone();
        let batches = builder
            .build()
            .unwrap_or_else(|e| panic!("read {rel}: {e}"))
            .collect::<Result<Vec<_>, _>>()
            .unwrap_or_else(|e| panic!("decode {rel}: {e}"));
        let batch = arrow::compute::concat_batches(&schema, &batches)
            .unwrap_or_else(|e| panic!("concat {rel}: {e}"));
        files.push(Part {
            rel,
            table,
            hour_start,
            size,
            footer_rows,
            schema,
            batch,
        });
    }
    Dataset { root, files }
}

fn strings<'a>(b: &'a RecordBatch, name: &str) -> &'a StringArray {
    b.column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .as_string::<i32>()
}

fn timestamps(b: &RecordBatch) -> &[i64] {
    b.column_by_name("timestamp")
        .expect("timestamp column")
        .as_primitive::<TimestampMicrosecondType>()
        .values()
}

fn ints<'a>(b: &'a RecordBatch, name: &str) -> &'a [i64] {
    b.column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .as_primitive::<Int64Type>()
        .values()
}

fn floats<'a>(b: &'a RecordBatch, name: &str) -> &'a [f64] {
    b.column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .as_primitive::<Float64Type>()
        .values()
}

fn defaults() -> obsgen::config::Config {
    obsgen::config::Config::defaults().expect("the embedded configuration is valid")
}

#[test]
fn every_table_and_hour_has_exactly_one_file() {
    let d = dataset();
    let got: BTreeSet<&str> = d.files.iter().map(|p| p.rel.as_str()).collect();
    let mut want = BTreeSet::new();
    for t in TABLES {
        for h in ["08", "09"] {
            want.insert(format!(
                "kubernetes/{t}/date=2026-11-23/hour={h}/part-00000.parquet"
            ));
        }
    }
    let want: BTreeSet<&str> = want.iter().map(|s| s.as_str()).collect();
    assert_eq!(got, want, "partition files in {}", d.root.display());
}

#[test]
fn file_schemas_equal_the_registry_schemas() {
    let d = dataset();
    let registry = obsgen::sources::registry();
    let mut names: Vec<&str> = registry
        .iter()
        .filter(|t| t.source() == obsgen::sources::Source::Kubernetes)
        .map(|t| t.name())
        .collect();
    names.sort();
    assert_eq!(names, TABLES, "registry tables");
    for part in &d.files {
        let table = registry
            .iter()
            .find(|t| t.source() == obsgen::sources::Source::Kubernetes && t.name() == part.table)
            .unwrap_or_else(|| panic!("{}: no such table in the registry", part.rel));
        let want = table.schema();
        let got = &part.schema;
        let describe = |s: &SchemaRef| {
            s.fields()
                .iter()
                .map(|f| {
                    format!(
                        "{}: {} (nullable {})",
                        f.name(),
                        f.data_type(),
                        f.is_nullable()
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(describe(got), describe(&want), "{}: schema", part.rel);
        for (g, w) in got.fields().iter().zip(want.fields()) {
            assert_eq!(g.name(), w.name(), "{}", part.rel);
            assert_eq!(g.data_type(), w.data_type(), "{}: {}", part.rel, w.name());
            assert_eq!(
                g.is_nullable(),
                w.is_nullable(),
                "{}: {}",
                part.rel,
                w.name()
            );
        }
        assert_eq!(part.batch.schema().fields(), want.fields(), "{}", part.rel);
    }
}

#[test]
fn row_counts_are_plausible() {
    let d = dataset();
    let cfg = defaults();
    let g = &cfg.generation;
    let scale = g.scale.0;

    let per_minute = g.sources.kubernetes.pod_logs.rows_per_minute.0;
    let expected_logs = f64::from(HOURS) * 60.0 * per_minute * scale;
    let logs: usize = d.table("pod_logs").map(|p| p.batch.num_rows()).sum();
    assert!(
        logs as f64 >= 0.2 * expected_logs && logs as f64 <= 2.0 * expected_logs,
        "pod_logs: {logs} rows for {HOURS} h, expected about {expected_logs}"
    );

    let replicas: u32 = cfg.services.services.iter().map(|s| s.replicas).sum();
    let interval = g.sources.kubernetes.metrics.scrape_interval_seconds;
    let expected_per_hour = f64::from(replicas) * f64::from(3600 / interval);
    for p in d.table("metrics") {
        let n = p.batch.num_rows() as f64;
        assert!(
            (0.7 * expected_per_hour..=1.3 * expected_per_hour).contains(&n),
            "{}: {n} rows, expected about {expected_per_hour} ({replicas} containers, one sample every {interval} s)",
            p.rel
        );
    }

    let events: usize = d.table("events").map(|p| p.batch.num_rows()).sum();
    assert!(events > 0, "no kubernetes events in {HOURS} h");
    for p in d.table("events") {
        let b = &p.batch;
        for i in 0..b.num_rows() {
            let ty = strings(b, "type").value(i);
            assert!(
                ty == "Normal" || ty == "Warning",
                "{}: event type {ty}",
                p.rel
            );
            assert!(!strings(b, "reason").value(i).is_empty(), "{}", p.rel);
        }
    }
}

#[test]
fn timestamps_lie_inside_their_partition_hour_and_are_sorted() {
    check_timestamps(dataset());
}

fn check_timestamps(d: &Dataset) {
    for p in &d.files {
        let ts = timestamps(&p.batch);
        let window = p.hour_start..p.hour_start + HOUR_MICROS;
        for (i, t) in ts.iter().enumerate() {
            assert!(
                window.contains(t),
                "{} row {i}: timestamp {t} outside [{}, {})",
                p.rel,
                window.start,
                window.end
            );
        }
        if let Some(i) = ts.windows(2).position(|w| w[0] > w[1]) {
            panic!(
                "{}: rows {i} and {} are out of order ({} > {})",
                p.rel,
                i + 1,
                ts[i],
                ts[i + 1]
            );
        }
    }
}

#[test]
fn record_ids_are_unique_across_the_dataset() {
    let d = dataset();
    let mut seen: HashMap<&str, &str> = HashMap::new();
    for p in &d.files {
        let ids = strings(&p.batch, "record_id");
        assert_eq!(ids.null_count(), 0, "{}", p.rel);
        for id in ids.iter().flatten() {
            assert!(!id.is_empty(), "{}: empty record_id", p.rel);
            if let Some(first) = seen.insert(id, &p.rel) {
                panic!("record_id {id} appears in {first} and {}", p.rel);
            }
        }
    }
    let rows: usize = d.files.iter().map(|p| p.batch.num_rows()).sum();
    assert_eq!(seen.len(), rows);
}

/// What [`check_counters`] saw.
#[derive(Debug, Default)]
struct CounterStats {
    containers: usize,
    pods: usize,
    /// Samples whose restart count is above the pod's previous sample's.
    restarts_seen: usize,
}

/// Checks the metrics counters of `d`: monotonic per container (CPU) and per pod
/// (network, restarts), working set below the limit, OOM and last-termination columns
/// consistent with the restart count.
fn check_counters(d: &Dataset) -> CounterStats {
    let mut stats = CounterStats::default();
    // Last (timestamp, values) seen per container and per pod, in time order: files are
    // sorted by hour, rows by timestamp.
    let mut per_container: HashMap<String, (i64, f64, i64, i64)> = HashMap::new();
    let mut per_pod: HashMap<String, (i64, [i64; 3])> = HashMap::new();
    for p in d.table("metrics") {
        let b = &p.batch;
        let ts = timestamps(b);
        let cid = strings(b, "container_id");
        let pod = strings(b, "pod");
        let cpu = floats(b, "container_cpu_usage_seconds_total");
        let periods = ints(b, "container_cpu_cfs_periods_total");
        let throttled = ints(b, "container_cpu_cfs_throttled_periods_total");
        let rx = ints(b, "container_network_receive_bytes_total");
        let tx = ints(b, "container_network_transmit_bytes_total");
        let restarts = ints(b, "kube_pod_container_status_restarts_total");
        let mem = ints(b, "container_memory_working_set_bytes");
        let limit = ints(b, "container_spec_memory_limit_bytes");
        let ooms = ints(b, "container_oom_events_total");
        let last_reason = strings(b, "kube_pod_container_status_last_terminated_reason");
        for i in 0..b.num_rows() {
            let at = format!("{} row {i} ({} {})", p.rel, pod.value(i), cid.value(i));
            assert!(cpu[i].is_finite() && cpu[i] >= 0.0, "{at}: cpu {}", cpu[i]);
            assert!(
                throttled[i] >= 0 && throttled[i] <= periods[i],
                "{at}: throttled {} > periods {}",
                throttled[i],
                periods[i]
            );
            assert!(
                mem[i] > 0 && mem[i] < limit[i],
                "{at}: working set {} not below the limit {}",
                mem[i],
                limit[i]
            );
            assert!(
                restarts[i] >= 0 && ooms[i] >= 0 && ooms[i] <= restarts[i],
                "{at}: {} OOM kills but {} restarts",
                ooms[i],
                restarts[i]
            );
            assert_eq!(
                last_reason.is_valid(i),
                restarts[i] > 0,
                "{at}: last terminated reason set iff the container restarted"
            );
            if last_reason.is_valid(i) {
                let r = last_reason.value(i);
                assert!(r == "Error" || r == "OOMKilled", "{at}: reason {r:?}");
            }
            let now = (ts[i], cpu[i], periods[i], throttled[i]);
            match per_container.insert(cid.value(i).to_string(), now) {
                None => stats.containers += 1,
                Some(prev) => {
                    assert!(prev.0 < now.0, "{at}: two samples at or before {}", prev.0);
                    assert!(prev.1 <= now.1, "{at}: cpu seconds {} -> {}", prev.1, now.1);
                    assert!(prev.2 <= now.2, "{at}: cfs periods {} -> {}", prev.2, now.2);
                    assert!(prev.3 <= now.3, "{at}: throttled {} -> {}", prev.3, now.3);
                }
            }
            let now = (ts[i], [rx[i], tx[i], restarts[i]]);
            let prev = per_pod.insert(pod.value(i).to_string(), now);
            if prev.is_none() {
                stats.pods += 1;
            }
            if let Some(prev) = prev {
                if now.1[2] > prev.1[2] {
                    stats.restarts_seen += 1;
                }
                assert!(prev.0 < now.0, "{at}: pod sampled twice at {}", now.0);
                for (k, name) in ["receive bytes", "transmit bytes", "restarts"]
                    .iter()
                    .enumerate()
                {
                    assert!(
                        prev.1[k] <= now.1[k],
                        "{at}: {name} {} -> {}",
                        prev.1[k],
                        now.1[k]
                    );
                }
            }
        }
    }
    assert!(stats.containers > 0, "no metrics rows");
    stats
}

#[test]
fn metrics_counters_never_decrease() {
    check_counters(dataset());
}

#[test]
fn metrics_counters_never_decrease_across_container_restarts() {
    let d = dataset_with_restarts();
    let stats = check_counters(d);
    assert!(
        stats.restarts_seen > 0 && stats.containers > stats.pods,
        "the restart-heavy run shows no restart inside the window: {stats:?}"
    );
    // Crash and restart lines keep the other invariants too.
    check_timestamps(d);
    check_log_pods_have_metrics(d);
}

#[test]
fn pod_log_columns_are_well_formed() {
    let d = dataset();
    let levels = ["debug", "info", "warn", "error", "fatal"];
    let mut level_counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut traced = 0usize;
    for p in d.table("pod_logs") {
        let b = &p.batch;
        let trace = strings(b, "trace_id");
        let span = strings(b, "span_id");
        let level = strings(b, "level");
        let stream = strings(b, "stream");
        let template = strings(b, "template_id");
        let message = strings(b, "message");
        for i in 0..b.num_rows() {
            let at = format!("{} row {i}", p.rel);
            if trace.is_valid(i) {
                traced += 1;
                let t = trace.value(i);
                assert!(
                    t.len() == 32 && t.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')),
                    "{at}: trace_id {t:?} is not 32 lowercase hex digits"
                );
            }
            assert_eq!(
                trace.is_valid(i),
                span.is_valid(i),
                "{at}: trace_id and span_id are not both set or both null"
            );
            let l = level.value(i);
            assert!(levels.contains(&l), "{at}: level {l:?}");
            *level_counts.entry(l.to_string()).or_default() += 1;
            let s = stream.value(i);
            assert!(s == "stdout" || s == "stderr", "{at}: stream {s:?}");
            assert!(!template.value(i).is_empty(), "{at}: empty template_id");
            assert!(!message.value(i).is_empty(), "{at}: empty message");
        }
    }
    assert!(traced > 0, "no pod log line carries a trace id");
    assert!(
        level_counts.get("info").copied().unwrap_or(0) > 0,
        "no info lines: {level_counts:?}"
    );
}

#[test]
fn every_pod_in_pod_logs_appears_in_metrics() {
    check_log_pods_have_metrics(dataset());
}

fn check_log_pods_have_metrics(d: &Dataset) {
    let metric_pods: HashSet<&str> = d
        .table("metrics")
        .flat_map(|p| strings(&p.batch, "pod").iter().flatten())
        .collect();
    let log_pods: BTreeSet<&str> = d
        .table("pod_logs")
        .flat_map(|p| strings(&p.batch, "pod").iter().flatten())
        .collect();
    assert!(!log_pods.is_empty());
    let missing: Vec<&&str> = log_pods
        .iter()
        .filter(|p| !metric_pods.contains(**p))
        .collect();
    assert!(
        missing.is_empty(),
        "pods with logs but no metrics: {missing:?}"
    );
}

#[test]
fn manifest_matches_the_files_on_disk() {
    let d = dataset();
    let text = std::fs::read_to_string(d.root.join("manifest.json")).expect("manifest.json");
    let m: serde_json::Value = serde_json::from_str(&text).expect("manifest.json is JSON");
    assert_eq!(m["seed"].as_u64(), Some(SEED));
    assert_eq!(m["start"].as_str(), Some(START));
    assert_eq!(m["end"].as_str(), Some(END));
    assert_eq!(m["sources"], serde_json::json!(["kubernetes"]));
    assert_eq!(
        m["config_digest"].as_str(),
        Some(defaults().digest.as_str()),
        "the run used the embedded configuration"
    );

    let entries = m["files"].as_array().expect("files array");
    let listed: BTreeSet<&str> = entries
        .iter()
        .map(|e| e["path"].as_str().expect("file path"))
        .collect();
    assert_eq!(listed.len(), entries.len(), "duplicate manifest entries");
    let on_disk: BTreeSet<String> = list_files(&d.root)
        .into_iter()
        .filter(|f| f != "manifest.json")
        .collect();
    let on_disk: BTreeSet<&str> = on_disk.iter().map(|s| s.as_str()).collect();
    assert_eq!(
        listed, on_disk,
        "manifest files vs files on disk (no stray .tmp files)"
    );

    let mut totals: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    for e in entries {
        let path = e["path"].as_str().expect("path");
        // Every file's checksum: XXH64 (seed 0) of its bytes, 16 hex digits.
        let bytes = std::fs::read(d.root.join(path)).expect("listed file");
        assert_eq!(
            e["xxh64"].as_str(),
            Some(format!("{:016x}", twox_hash::XxHash64::oneshot(0, &bytes)).as_str()),
            "{path}: manifest checksum"
        );
        if e["source"].as_str() != Some("kubernetes") {
            // Ground truth beside the sources: checked in tests/incidents.rs; here its size.
            let size = std::fs::metadata(d.root.join(path))
                .expect("listed file")
                .len();
            assert_eq!(
                e["bytes"].as_u64(),
                Some(size),
                "{path}: manifest bytes vs file size"
            );
            continue;
        }
        let part = d
            .files
            .iter()
            .find(|p| p.rel == path)
            .unwrap_or_else(|| panic!("{path} not read"));
        let rows = e["rows"].as_u64().expect("rows");
        let bytes = e["bytes"].as_u64().expect("bytes");
        assert_eq!(bytes, part.size, "{path}: manifest bytes vs file size");
        assert_eq!(
            rows as i64, part.footer_rows,
            "{path}: manifest rows vs footer"
        );
        assert_eq!(rows as usize, part.batch.num_rows(), "{path}: rows read");
        assert_eq!(e["source"].as_str(), Some("kubernetes"), "{path}");
        assert_eq!(e["table"].as_str(), Some(part.table.as_str()), "{path}");
        let hour = chrono::DateTime::from_timestamp_micros(part.hour_start)
            .expect("hour")
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        assert_eq!(e["hour"].as_str(), Some(hour.as_str()), "{path}");
        let t = totals.entry(part.table.clone()).or_default();
        t.0 += 1;
        t.1 += rows;
        t.2 += bytes;
    }
    let tables: Vec<&serde_json::Value> = m["tables"]
        .as_array()
        .expect("tables array")
        .iter()
        .filter(|t| t["source"].as_str() == Some("kubernetes"))
        .collect();
    assert_eq!(tables.len(), totals.len(), "table summaries");
    for t in tables {
        let name = t["table"].as_str().expect("table");
        let (files, rows, bytes) = totals[name];
        assert_eq!(t["files"].as_u64(), Some(files), "{name} files");
        assert_eq!(t["rows"].as_u64(), Some(rows), "{name} rows");
        assert_eq!(t["bytes"].as_u64(), Some(bytes), "{name} bytes");
    }
}

#[test]
fn same_seed_gives_identical_bytes_with_one_or_two_threads() {
    let a = &dataset().root;
    let b = dataset_threads2();
    let files_a = list_files(a);
    let files_b = list_files(b);
    assert_eq!(files_a, files_b, "file lists differ");
    assert!(files_a.iter().any(|f| f == "manifest.json"));
    for f in &files_a {
        let x = std::fs::read(a.join(f)).expect("read");
        let y = std::fs::read(b.join(f)).expect("read");
        assert!(
            x == y,
            "{f} differs between --threads 1 and --threads 2 ({} vs {} bytes)",
            x.len(),
            y.len()
        );
    }
}

#[test]
fn another_seed_gives_different_pod_logs() {
    let a = dataset();
    let b = dataset_other_seed();
    let rels = |d: &Dataset| d.files.iter().map(|p| p.rel.clone()).collect::<Vec<_>>();
    assert_eq!(
        rels(a),
        rels(b),
        "the partition layout does not depend on the seed"
    );
    for (x, y) in a.table("pod_logs").zip(b.table("pod_logs")) {
        let mx: Vec<Option<&str>> = strings(&x.batch, "message").iter().collect();
        let my: Vec<Option<&str>> = strings(&y.batch, "message").iter().collect();
        assert_ne!(
            mx, my,
            "{}: same messages with seeds {SEED} and {OTHER_SEED}",
            x.rel
        );
        let bytes_x = std::fs::read(a.root.join(&x.rel)).expect("read");
        let bytes_y = std::fs::read(b.root.join(&y.rel)).expect("read");
        assert_ne!(bytes_x, bytes_y, "{}: identical files", x.rel);
    }
}
