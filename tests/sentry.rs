//! End-to-end checks of the Sentry tables on a two-hour `kubernetes,sentry` dataset:
//! schemas, volumes, partitions, ids, and agreement with Kubernetes (trace ids in
//! `pod_logs`, pods and image tags in `metrics`), trace structure of transactions,
//! grouping, and determinism. The dataset is generated once per test process.

// Rows are read column-wise: indexing parallel columns by row is the clear way here.
#![allow(clippy::needless_range_loop)]

mod common;

use arrow::array::{Array, AsArray, ListArray, StringArray, StructArray};
use arrow::compute::concat_batches;
use arrow::datatypes::{Float64Type, TimestampMicrosecondType};
use arrow::record_batch::RecordBatch;
use assert_cmd::Command;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const START: &str = "2026-11-23T08:00:00Z";
/// 2026-11-23T08:00:00Z and 10:00:00Z in µs.
const START_US: i64 = 1_795_420_800_000_000;
const END_US: i64 = START_US + 2 * HOUR_US;
const HOUR_US: i64 = 3_600_000_000;
const SECOND_US: i64 = 1_000_000;

/// One table, all hours concatenated in partition order, with each row's partition hour.
struct TableData {
    batch: RecordBatch,
    hours: Vec<i64>,
}

struct Dataset {
    root: PathBuf,
    errors: TableData,
    transactions: TableData,
    pod_logs: TableData,
    metrics: TableData,
}

fn generate(name: &str, threads: u32) -> PathBuf {
    let out = common::fixture_root("obsgen-sentry-").join(name);
    let output = Command::cargo_bin("obsgen")
        .expect("the obsgen binary")
        .args([
            "generate",
            "--overwrite",
            "--start",
            START,
            "--duration-hours",
            "2",
        ])
        .args([
            "--sources",
            "kubernetes,sentry",
            "--threads",
            &threads.to_string(),
        ])
        .arg("-o")
        .arg(&out)
        .output()
        .expect("run obsgen");
    assert!(
        output.status.success(),
        "obsgen generate failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    out
}

/// Reads every partition of `<source>/<table>` under `root`, in path order.
fn read_table(root: &Path, source: &str, table: &str) -> TableData {
    let dir = root.join(source).join(table);
    let mut files = Vec::new();
    for date in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let date = date.unwrap().path();
        for hour in std::fs::read_dir(&date).unwrap() {
            files.push(hour.unwrap().path().join("part-00000.parquet"));
        }
    }
    files.sort();
    assert!(!files.is_empty(), "no partitions under {}", dir.display());
    let mut batches = Vec::new();
    let mut hours = Vec::new();
    for f in &files {
        let hour_dir = f.parent().unwrap();
        let h: i64 = hour_dir.file_name().unwrap().to_str().unwrap()["hour=".len()..]
            .parse()
            .unwrap();
        let date = hour_dir
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap();
        assert_eq!(date, "date=2026-11-23", "{}", f.display());
        let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(f).unwrap())
            .unwrap()
            .build()
            .unwrap();
        for b in reader {
            let b = b.unwrap();
            hours.extend(std::iter::repeat_n(
                START_US - 8 * HOUR_US + h * HOUR_US,
                b.num_rows(),
            ));
            batches.push(b);
        }
    }
    let schema = batches[0].schema();
    TableData {
        batch: concat_batches(&schema, &batches).unwrap(),
        hours,
    }
}

fn dataset() -> &'static Dataset {
    static DATA: OnceLock<Dataset> = OnceLock::new();
    DATA.get_or_init(|| {
        let root = generate("run-a", 1);
        Dataset {
            errors: read_table(&root, "sentry", "errors"),
            transactions: read_table(&root, "sentry", "transactions"),
            pod_logs: read_table(&root, "kubernetes", "pod_logs"),
            metrics: read_table(&root, "kubernetes", "metrics"),
            root,
        }
    })
}

fn strs<'a>(b: &'a RecordBatch, name: &str) -> &'a StringArray {
    b.column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .as_string::<i32>()
}

fn times(b: &RecordBatch, name: &str) -> Vec<i64> {
    b.column_by_name(name)
        .unwrap()
        .as_primitive::<TimestampMicrosecondType>()
        .values()
        .to_vec()
}

fn opt(a: &StringArray, i: usize) -> Option<&str> {
    a.is_valid(i).then(|| a.value(i))
}

fn list<'a>(b: &'a RecordBatch, name: &str) -> &'a ListArray {
    b.column_by_name(name).unwrap().as_list::<i32>()
}

/// The items of row `i` of a list-of-struct column.
fn items(l: &ListArray, i: usize) -> StructArray {
    l.value(i).as_struct().clone()
}

#[test]
fn schemas_equal_the_registry() {
    let d = dataset();
    for t in obsgen::sources::registry()
        .iter()
        .filter(|t| t.source().as_str() == "sentry")
    {
        let data = match t.name() {
            "errors" => &d.errors,
            "transactions" => &d.transactions,
            other => panic!("unexpected sentry table {other}"),
        };
        assert_eq!(
            data.batch.schema().fields(),
            t.schema().fields(),
            "sentry/{}",
            t.name()
        );
    }
}

#[test]
fn volumes_are_in_range() {
    let d = dataset();
    let (e, t) = (d.errors.batch.num_rows(), d.transactions.batch.num_rows());
    // ~80K Sentry rows per default day, busier in the morning: a few thousand per hour.
    assert!((4_000..=20_000).contains(&t), "{t} transactions in 2 h");
    assert!((100..=3_000).contains(&e), "{e} errors in 2 h");
    for data in [&d.errors, &d.transactions] {
        let per_hour: HashSet<i64> = data.hours.iter().copied().collect();
        assert_eq!(per_hour.len(), 2, "both hours have rows");
    }
    let ops = strs(&d.transactions.batch, "op");
    let count = |op: &str| ops.iter().filter(|o| *o == Some(op)).count();
    for op in ["http.server", "grpc.server", "queue.process", "pageload"] {
        assert!(count(op) > 0, "no {op} transactions");
    }
    let handled = d
        .errors
        .batch
        .column_by_name("handled")
        .unwrap()
        .as_boolean();
    let n_handled = handled.true_count();
    assert!(
        n_handled > 0 && n_handled < e / 2,
        "{n_handled} handled of {e}"
    );
}

#[test]
fn timestamps_fall_in_their_partition_hour_in_order() {
    let d = dataset();
    for (name, data) in [("errors", &d.errors), ("transactions", &d.transactions)] {
        let ts = times(&data.batch, "timestamp");
        for (i, (&t, &h)) in ts.iter().zip(&data.hours).enumerate() {
            assert!(
                t >= h && t < h + HOUR_US,
                "{name} row {i}: {t} outside hour {h}"
            );
            if i > 0 && data.hours[i - 1] == h {
                assert!(ts[i - 1] <= t, "{name} row {i}: not sorted");
            }
        }
    }
    let ts = times(&d.transactions.batch, "timestamp");
    let start = times(&d.transactions.batch, "start_timestamp");
    let dur = d
        .transactions
        .batch
        .column_by_name("duration_ms")
        .unwrap()
        .as_primitive::<Float64Type>();
    for i in 0..ts.len() {
        assert!(start[i] <= ts[i]);
        assert!(
            ((ts[i] - start[i]) as f64 / 1000.0 - dur.value(i)).abs() < 1e-6,
            "row {i}: duration_ms is not timestamp - start_timestamp"
        );
    }
}

#[test]
fn record_ids_and_event_ids_are_unique() {
    let d = dataset();
    for (name, data) in [("errors", &d.errors), ("transactions", &d.transactions)] {
        for col in ["record_id", "event_id"] {
            let a = strs(&data.batch, col);
            let set: HashSet<&str> = a.iter().flatten().collect();
            assert_eq!(set.len(), a.len(), "{name}.{col} not unique");
        }
        for id in strs(&data.batch, "event_id").iter().flatten() {
            assert!(
                id.len() == 32
                    && id
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
                "{name}: event_id {id}"
            );
        }
    }
}

#[test]
fn error_traces_appear_in_pod_logs_of_the_same_service() {
    let d = dataset();
    let pl = &d.pod_logs.batch;
    let (svc, trace, ts) = (
        strs(pl, "service"),
        strs(pl, "trace_id"),
        times(pl, "timestamp"),
    );
    let mut logged: HashMap<(&str, &str), Vec<i64>> = HashMap::new();
    for i in 0..pl.num_rows() {
        if let Some(t) = opt(trace, i) {
            logged.entry((svc.value(i), t)).or_default().push(ts[i]);
        }
    }
    let e = &d.errors.batch;
    let (esvc, etrace, ets) = (
        strs(e, "service"),
        strs(e, "trace_id"),
        times(e, "timestamp"),
    );
    let found = (0..e.num_rows())
        .filter(|&i| {
            logged
                .get(&(esvc.value(i), etrace.value(i)))
                .is_some_and(|v| v.iter().any(|&t| (t - ets[i]).abs() <= 5 * SECOND_US))
        })
        .count();
    let share = found as f64 / e.num_rows() as f64;
    assert!(
        share >= 0.9,
        "only {found} of {} error trace ids in pod_logs (±5 s)",
        e.num_rows()
    );
}

/// Per pod: its service, scrape times, and image tags, from kubernetes/metrics.
fn pods(d: &Dataset) -> HashMap<&str, (&str, Vec<i64>, HashSet<&str>)> {
    let m = &d.metrics.batch;
    let (pod, container, image, ts) = (
        strs(m, "pod"),
        strs(m, "container"),
        strs(m, "image"),
        times(m, "timestamp"),
    );
    let mut out: HashMap<&str, (&str, Vec<i64>, HashSet<&str>)> = HashMap::new();
    for i in 0..m.num_rows() {
        let e = out
            .entry(pod.value(i))
            .or_insert_with(|| (container.value(i), Vec::new(), HashSet::new()));
        e.1.push(ts[i]);
        let tag = image.value(i).rsplit_once(':').map(|x| x.1).unwrap_or("");
        e.2.insert(tag);
    }
    out
}

#[test]
fn server_names_are_pods_of_the_service_alive_then() {
    let d = dataset();
    let pods = pods(d);
    for (name, data) in [("errors", &d.errors), ("transactions", &d.transactions)] {
        let b = &data.batch;
        let (svc, server, ts) = (
            strs(b, "service"),
            strs(b, "server_name"),
            times(b, "timestamp"),
        );
        let mut checked = 0;
        for i in 0..b.num_rows() {
            let Some(pod) = opt(server, i) else { continue };
            let (psvc, scrapes, _) = pods
                .get(pod)
                .unwrap_or_else(|| panic!("{name} row {i}: pod {pod} not in metrics"));
            assert_eq!(
                *psvc,
                svc.value(i),
                "{name} row {i}: pod {pod} of another service"
            );
            assert!(
                scrapes
                    .iter()
                    .any(|&t| (t - ts[i]).abs() <= 2 * 60 * SECOND_US),
                "{name} row {i}: pod {pod} not scraped within 2 min of the event"
            );
            checked += 1;
        }
        assert!(checked > 0);
    }
}

#[test]
fn releases_are_the_image_tags_of_the_pods() {
    let d = dataset();
    let pods = pods(d);
    for (name, data) in [("errors", &d.errors), ("transactions", &d.transactions)] {
        let b = &data.batch;
        let (svc, server, release) = (
            strs(b, "service"),
            strs(b, "server_name"),
            strs(b, "release"),
        );
        let deployed: HashSet<(&str, &str)> = pods
            .values()
            .flat_map(|(s, _, tags)| tags.iter().map(move |t| (*s, *t)))
            .collect();
        for i in 0..b.num_rows() {
            let (rs, version) = release
                .value(i)
                .split_once('@')
                .expect("release is <service>@<version>");
            assert_eq!(rs, svc.value(i), "{name} row {i}");
            let tag = format!("v{version}");
            assert!(
                deployed.contains(&(rs, tag.as_str())),
                "{name} row {i}: {rs}:{tag} never deployed"
            );
            if let Some(pod) = opt(server, i) {
                assert!(
                    pods[pod].2.contains(tag.as_str()),
                    "{name} row {i}: pod {pod} does not run {tag}"
                );
            }
        }
    }
}

#[test]
fn transaction_parents_are_spans_of_the_same_trace() {
    let d = dataset();
    let b = &d.transactions.batch;
    let (trace, span, parent, op) = (
        strs(b, "trace_id"),
        strs(b, "span_id"),
        strs(b, "parent_span_id"),
        strs(b, "op"),
    );
    let (ts, start) = (times(b, "timestamp"), times(b, "start_timestamp"));
    let spans = list(b, "spans");
    // Every span of every transaction: (trace, span id) → (start, end, op).
    let mut known: HashMap<(&str, String), (i64, i64, String)> = HashMap::new();
    for i in 0..b.num_rows() {
        known.insert(
            (trace.value(i), span.value(i).to_string()),
            (start[i], ts[i], op.value(i).to_string()),
        );
        let s = items(spans, i);
        let (sid, pid, sop) = (
            s.column(0).as_string::<i32>(),
            s.column(1).as_string::<i32>(),
            s.column(2).as_string::<i32>(),
        );
        let sstart = s.column(4).as_primitive::<TimestampMicrosecondType>();
        let sdur = s.column(5).as_primitive::<Float64Type>();
        for j in 0..s.len() {
            assert_eq!(
                pid.value(j),
                span.value(i),
                "row {i}: span {j} not a child of the root span"
            );
            let st = sstart.value(j);
            let en = st + (sdur.value(j) * 1000.0).round() as i64;
            assert!(
                st >= start[i] && en <= ts[i],
                "row {i}: span {j} outside its transaction"
            );
            known.insert(
                (trace.value(i), sid.value(j).to_string()),
                (st, en, sop.value(j).to_string()),
            );
        }
    }
    let (mut with_parent, mut resolved) = (0, 0);
    for i in 0..b.num_rows() {
        let Some(p) = opt(parent, i) else { continue };
        // The caller's transaction ends after this one; it may fall after the window.
        if ts[i] > END_US - 60 * SECOND_US {
            continue;
        }
        with_parent += 1;
        let (ps, pe, pop) = known
            .get(&(trace.value(i), p.to_string()))
            .unwrap_or_else(|| {
                panic!(
                    "row {i} ({}): parent span {p} is no span of trace {}",
                    op.value(i),
                    trace.value(i)
                )
            });
        resolved += 1;
        // A call's client span wraps the callee's server transaction.
        if pop.ends_with(".client") {
            assert!(
                *ps <= start[i] && ts[i] <= *pe,
                "row {i}: transaction outside its client span"
            );
        }
    }
    assert!(with_parent > 1000 && resolved == with_parent);
}

#[test]
fn fingerprints_group_the_same_fault_at_the_same_place() {
    let d = dataset();
    let b = &d.errors.batch;
    let (fp, ty, svc) = (
        strs(b, "fingerprint"),
        strs(b, "exception_type"),
        strs(b, "service"),
    );
    let frames = list(b, "stack_frames");
    let mut groups: BTreeMap<&str, (String, Vec<String>)> = BTreeMap::new();
    for i in 0..b.num_rows() {
        let f = items(frames, i);
        assert!(f.len() > 0, "row {i}: no frames");
        let (func, module, in_app) = (
            f.column(2).as_string::<i32>(),
            f.column(3).as_string::<i32>(),
            f.column(6).as_boolean(),
        );
        let app: Vec<String> = (0..f.len())
            .filter(|&j| in_app.value(j))
            .map(|j| format!("{}:{}", module.value(j), func.value(j)))
            .collect();
        let key = (format!("{}|{}", svc.value(i), ty.value(i)), app);
        match groups.get(fp.value(i)) {
            Some(g) => assert_eq!(
                g,
                &key,
                "row {i}: fingerprint {} groups different faults",
                fp.value(i)
            ),
            None => {
                groups.insert(fp.value(i), key);
            }
        }
    }
    // Issues recur: far fewer groups than events.
    assert!(
        groups.len() * 2 < b.num_rows(),
        "{} groups for {} events",
        groups.len(),
        b.num_rows()
    );
}

#[test]
fn breadcrumbs_come_before_the_event_oldest_first() {
    let d = dataset();
    let b = &d.errors.batch;
    let ts = times(b, "timestamp");
    let crumbs = list(b, "breadcrumbs");
    let mut any = 0;
    for i in 0..b.num_rows() {
        let c = items(crumbs, i);
        let t = c
            .column(0)
            .as_primitive::<TimestampMicrosecondType>()
            .values();
        assert!(
            t.windows(2).all(|w| w[0] <= w[1]),
            "row {i}: breadcrumbs out of order"
        );
        assert!(
            t.iter().all(|&x| x < ts[i]),
            "row {i}: breadcrumb after the event"
        );
        any += (c.len() > 0) as usize;
    }
    assert!(any * 2 > b.num_rows(), "most events have breadcrumbs");
}

#[test]
fn two_runs_are_identical() {
    let d = dataset();
    let other = generate("run-b", 2);
    for table in ["errors", "transactions"] {
        let a = read_table(&d.root, "sentry", table);
        let b = read_table(&other, "sentry", table);
        assert_eq!(a.hours, b.hours, "sentry/{table}");
        assert!(a.batch == b.batch, "sentry/{table} differs between runs");
    }
}
