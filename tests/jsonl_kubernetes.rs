//! The Kubernetes tables' native JSON export (`--format jsonl`) on a full default day of
//! `--sources kubernetes`, against the Parquet of the same run:
//!
//! - `events`: every line validates against the core/v1 Event definition of the Kubernetes
//!   OpenAPI (draft-04) and holds exactly its row's values in the API's fields;
//! - `pod_logs`: every Fluent Bit record's `log` is the CRI line of its row (RFC3339Nano
//!   time = the row's timestamp, stream, `F`, message), its `kubernetes` metadata the
//!   row's pod, namespace, container and node, and the pod uid, container id and image
//!   agree with kubernetes/events and kubernetes/metrics;
//! - `metrics`: every PodMetrics holds the row's pod, time, working set and a CPU rate
//!   equal to the counter's increase since the container's previous scrape (also across
//!   partitions), and every Prometheus sample the row's column value and labels.

mod common;
mod native;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::{Float64Type, Int32Type, Int64Type, TimestampMicrosecondType};
use native::*;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const HOURS: usize = 24;

/// A full default day of the Kubernetes source, in Parquet and JSONL.
fn day() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = common::fixture_root("obsgen-jsonl-k8s-").join("day");
        generate(&dir, "kubernetes", HOURS as u32, 2);
        dir
    })
}

/// The (Parquet, JSONL) file pairs of a table, hour by hour.
fn hour_files(table: &str) -> Vec<(PathBuf, PathBuf)> {
    let root = day();
    let pq = parquet_files(root, "kubernetes", table);
    let js = jsonl_files(root, "kubernetes", table);
    assert_eq!(pq.len(), HOURS, "{table}: parquet files");
    assert_eq!(js.len(), HOURS, "{table}: jsonl files");
    pq.into_iter().zip(js).collect()
}

/// One hour: the Parquet batch and the JSONL lines, parsed (as many as rows).
fn load(p: &Path, j: &Path) -> (RecordBatch, Vec<Value>) {
    let batch = read_parquet(p);
    let values = parse_lines(j);
    assert_eq!(
        values.len(),
        batch.num_rows(),
        "{}: lines vs Parquet rows",
        j.display()
    );
    (batch, values)
}

fn strs(b: &RecordBatch, name: &str) -> Vec<Option<String>> {
    column_text(b, name)
}

fn req(b: &RecordBatch, name: &str) -> Vec<String> {
    strs(b, name)
        .into_iter()
        .map(|v| v.unwrap_or_else(|| panic!("null `{name}`")))
        .collect()
}

fn times(b: &RecordBatch, name: &str) -> Vec<i64> {
    b.column_by_name(name)
        .unwrap_or_else(|| panic!("no column `{name}`"))
        .as_primitive::<TimestampMicrosecondType>()
        .values()
        .to_vec()
}

fn i64s(b: &RecordBatch, name: &str) -> Vec<i64> {
    b.column_by_name(name)
        .unwrap_or_else(|| panic!("no column `{name}`"))
        .as_primitive::<Int64Type>()
        .values()
        .to_vec()
}

fn i32s(b: &RecordBatch, name: &str) -> Vec<i32> {
    b.column_by_name(name)
        .unwrap_or_else(|| panic!("no column `{name}`"))
        .as_primitive::<Int32Type>()
        .values()
        .to_vec()
}

fn f64s(b: &RecordBatch, name: &str) -> Vec<f64> {
    b.column_by_name(name)
        .unwrap_or_else(|| panic!("no column `{name}`"))
        .as_primitive::<Float64Type>()
        .values()
        .to_vec()
}

fn bools(b: &RecordBatch, name: &str) -> Vec<bool> {
    let a = b
        .column_by_name(name)
        .unwrap_or_else(|| panic!("no column `{name}`"))
        .as_boolean();
    (0..a.len()).map(|i| a.value(i)).collect()
}

/// `metav1.Time`: RFC 3339 UTC in whole seconds, truncated.
fn rfc3339_seconds(t: i64) -> String {
    chrono::DateTime::from_timestamp_micros(t)
        .expect("valid time")
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn s<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer}: {v}"))
}

fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
        && parts.iter().all(|p| {
            p.bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        })
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
}

/// A Go duration string (`30s`, `20.064s`, `1m0s`, `500ms`, `7µs`) in microseconds.
fn go_duration_us(d: &str) -> i64 {
    let mut total = 0.0;
    let mut rest = d;
    assert!(!rest.is_empty(), "empty duration");
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or_else(|| panic!("{d}: no unit"));
        let num: f64 = rest[..n].parse().unwrap_or_else(|e| panic!("{d}: {e}"));
        rest = &rest[n..];
        let (unit, len) = [
            ("h", 3_600e6),
            ("ms", 1e3),
            ("m", 60e6),
            ("s", 1e6),
            ("µs", 1.0),
            ("us", 1.0),
        ]
        .into_iter()
        .find(|(u, _)| rest.starts_with(u))
        .map(|(u, f)| (f, u.len()))
        .unwrap_or_else(|| panic!("{d}: unknown unit"));
        total += num * unit;
        rest = &rest[len..];
    }
    total.round() as i64
}

/// A decimal CPU quantity (`329087452n`, `250m`, `2`, `0`) in nanocores.
fn cpu_nanocores(q: &str) -> u64 {
    let (num, mult) = match q.as_bytes().last() {
        Some(b'n') => (&q[..q.len() - 1], 1),
        Some(b'u') => (&q[..q.len() - 1], 1_000),
        Some(b'm') => (&q[..q.len() - 1], 1_000_000),
        _ => (q, 1_000_000_000),
    };
    assert!(
        !num.is_empty() && num.bytes().all(|c| c.is_ascii_digit()),
        "cpu quantity `{q}`"
    );
    num.parse::<u64>().expect("digits") * mult
}

/// A binary memory quantity (`2748180Ki`, `512Mi`, `0`) in KiB.
fn memory_kib(q: &str) -> u64 {
    if q == "0" {
        return 0;
    }
    let (num, mult) = [("Ki", 1), ("Mi", 1024), ("Gi", 1024 * 1024)]
        .into_iter()
        .find(|(u, _)| q.ends_with(u))
        .map(|(u, m)| (&q[..q.len() - u.len()], m))
        .unwrap_or_else(|| panic!("memory quantity `{q}` has no binary suffix"));
    assert!(num.bytes().all(|c| c.is_ascii_digit()), "memory `{q}`");
    num.parse::<u64>().expect("digits") * mult
}

/// `ip-10-0-30-225.ec2.internal` → `10.0.30.225`.
fn node_ip(node: &str) -> String {
    node.trim_start_matches("ip-")
        .split('.')
        .next()
        .expect("node name")
        .replace('-', ".")
}

/// Pod name → uid, from the Pod events of the day's Parquet.
fn pod_uids_from_events() -> HashMap<String, String> {
    let mut out = HashMap::new();
    for p in parquet_files(day(), "kubernetes", "events") {
        let b = read_parquet(&p);
        let (kind, name, uid) = (
            req(&b, "involved_object_kind"),
            req(&b, "involved_object_name"),
            req(&b, "involved_object_uid"),
        );
        for i in 0..b.num_rows() {
            if kind[i] == "Pod" {
                out.insert(name[i].clone(), uid[i].clone());
            }
        }
    }
    assert!(!out.is_empty(), "no Pod events in a day");
    out
}

#[test]
fn every_event_validates_against_the_core_v1_event_definition() {
    let validator = k8s_event_validator();
    let mut n = 0;
    for (_, j) in hour_files("events") {
        let values = parse_lines(&j);
        n += assert_all_valid(&validator, "kubernetes Events", &values);
    }
    assert!(n > 500, "only {n} events in a day");
    // The validator is not vacuous: a wrong type fails.
    let bad = serde_json::json!({"metadata": {"name": 3}, "involvedObject": {}, "count": "x"});
    assert!(!validator.is_valid(&bad));
}

#[test]
fn events_hold_their_rows_in_the_api_fields() {
    let top = set(&[
        "kind",
        "apiVersion",
        "metadata",
        "involvedObject",
        "reason",
        "message",
        "source",
        "firstTimestamp",
        "lastTimestamp",
        "count",
        "type",
        "reportingComponent",
        "reportingInstance",
    ]);
    let mut last_revision = 0u64;
    let mut kinds = BTreeSet::new();
    let mut rows = 0;
    for (p, j) in hour_files("events") {
        let (b, values) = load(&p, &j);
        let ts = times(&b, "timestamp");
        let first = times(&b, "first_timestamp");
        let (ns, name, uid) = (
            req(&b, "namespace"),
            req(&b, "event_name"),
            req(&b, "event_uid"),
        );
        let (okind, oname, ouid) = (
            req(&b, "involved_object_kind"),
            req(&b, "involved_object_name"),
            req(&b, "involved_object_uid"),
        );
        let field_path = strs(&b, "field_path");
        let (reason, typ, message) = (req(&b, "reason"), req(&b, "type"), req(&b, "message"));
        let count = i32s(&b, "count");
        let component = req(&b, "source_component");
        let host = strs(&b, "source_host");
        for (i, v) in values.iter().enumerate() {
            let at = format!("{}:{}", j.display(), i + 1);
            assert_eq!(keys(v), top, "{at}: top-level keys");
            assert_eq!(s(v, "/kind"), "Event", "{at}");
            assert_eq!(s(v, "/apiVersion"), "v1", "{at}");
            assert_eq!(
                keys(&v["metadata"]),
                set(&[
                    "name",
                    "namespace",
                    "uid",
                    "resourceVersion",
                    "creationTimestamp"
                ]),
                "{at}"
            );
            assert_eq!(s(v, "/metadata/name"), name[i], "{at}");
            assert_eq!(s(v, "/metadata/namespace"), ns[i], "{at}");
            assert_eq!(s(v, "/metadata/uid"), uid[i], "{at}");
            assert!(is_uuid(&uid[i]), "{at}: uid {}", uid[i]);
            let rv: u64 = s(v, "/metadata/resourceVersion")
                .parse()
                .unwrap_or_else(|e| panic!("{at}: resourceVersion: {e}"));
            assert!(rv > last_revision, "{at}: resourceVersion not increasing");
            last_revision = rv;
            let first_s = rfc3339_seconds(first[i]);
            assert_eq!(s(v, "/metadata/creationTimestamp"), first_s, "{at}");
            assert_eq!(s(v, "/firstTimestamp"), first_s, "{at}");
            assert_eq!(s(v, "/lastTimestamp"), rfc3339_seconds(ts[i]), "{at}");

            let o = &v["involvedObject"];
            assert_eq!(s(o, "/kind"), okind[i], "{at}");
            assert_eq!(s(o, "/name"), oname[i], "{at}");
            assert_eq!(s(o, "/uid"), ouid[i], "{at}");
            let api = match okind[i].as_str() {
                "Deployment" | "ReplicaSet" => "apps/v1",
                "CronJob" | "Job" => "batch/v1",
                "HorizontalPodAutoscaler" => "autoscaling/v2",
                "Pod" | "Node" => "v1",
                k => panic!("{at}: unexpected involved kind {k}"),
            };
            assert_eq!(s(o, "/apiVersion"), api, "{at}");
            if okind[i] == "Node" {
                assert!(
                    o.get("namespace").is_none(),
                    "{at}: a Node is not namespaced"
                );
            } else {
                assert_eq!(s(o, "/namespace"), ns[i], "{at}");
            }
            match &field_path[i] {
                Some(fp) => {
                    assert_eq!(s(o, "/fieldPath"), fp, "{at}");
                    assert!(
                        fp.starts_with("spec.containers{") && fp.ends_with('}'),
                        "{at}: {fp}"
                    );
                }
                None => assert!(o.get("fieldPath").is_none(), "{at}: fieldPath"),
            }
            kinds.insert(okind[i].clone());

            assert_eq!(s(v, "/reason"), reason[i], "{at}");
            assert_eq!(s(v, "/message"), message[i], "{at}");
            assert_eq!(s(v, "/type"), typ[i], "{at}");
            assert!(typ[i] == "Normal" || typ[i] == "Warning", "{at}");
            assert_eq!(v["count"].as_i64(), Some(count[i] as i64), "{at}: count");
            assert_eq!(s(v, "/source/component"), component[i], "{at}");
            assert_eq!(s(v, "/reportingComponent"), component[i], "{at}");
            match &host[i] {
                Some(h) => {
                    assert_eq!(s(v, "/source/host"), h, "{at}");
                    assert_eq!(s(v, "/reportingInstance"), h, "{at}");
                }
                None => {
                    assert!(v["source"].get("host").is_none(), "{at}: source.host");
                    assert_eq!(s(v, "/reportingInstance"), "", "{at}");
                }
            }
            assert!(v.get("eventTime").is_none(), "{at}: eventTime");
            rows += 1;
        }
    }
    assert!(rows > 500, "only {rows} events");
    for k in ["Pod", "ReplicaSet", "Deployment"] {
        assert!(kinds.contains(k), "no {k} events in a day: {kinds:?}");
    }
}

/// A log record's `log`: `<RFC3339Nano> <stream> <P|F> <text>` → (µs, stream, tag, text).
fn parse_cri(line: &str) -> (i64, &str, &str, &str) {
    let mut it = line.splitn(4, ' ');
    let (t, stream, tag, text) = (
        it.next().expect("time"),
        it.next().expect("stream"),
        it.next().expect("tag"),
        it.next().expect("text"),
    );
    // Go's RFC3339Nano: UTC `Z`, a fraction of 1..9 digits without trailing zeros, or none.
    assert!(t.ends_with('Z'), "CRI time `{t}`");
    if let Some((_, frac)) = t.trim_end_matches('Z').split_once('.') {
        assert!(
            (1..=9).contains(&frac.len())
                && !frac.ends_with('0')
                && frac.bytes().all(|c| c.is_ascii_digit()),
            "CRI time `{t}`: not RFC3339Nano"
        );
    }
    let parsed =
        chrono::DateTime::parse_from_rfc3339(t).unwrap_or_else(|e| panic!("CRI time `{t}`: {e}"));
    (parsed.timestamp_micros(), stream, tag, text)
}

#[test]
fn pod_log_records_are_cri_lines_with_their_pod_metadata() {
    // The metrics rows of each pod: (time, container id without the runtime prefix), and
    // its image and KSM uid.
    let mut scrapes: HashMap<String, Vec<(i64, String)>> = HashMap::new();
    let mut images: HashMap<String, String> = HashMap::new();
    for p in parquet_files(day(), "kubernetes", "metrics") {
        let b = read_parquet(&p);
        let (ts, pod, cid, image) = (
            times(&b, "timestamp"),
            req(&b, "pod"),
            req(&b, "container_id"),
            req(&b, "image"),
        );
        for i in 0..b.num_rows() {
            let id = cid[i]
                .strip_prefix("containerd://")
                .expect("containerd id")
                .to_string();
            scrapes.entry(pod[i].clone()).or_default().push((ts[i], id));
            images.insert(pod[i].clone(), image[i].clone());
        }
    }
    let uids = pod_uids_from_events();

    let kube_keys = set(&[
        "pod_name",
        "namespace_name",
        "pod_id",
        "labels",
        "host",
        "container_name",
        "docker_id",
        "container_image",
    ]);
    let (mut rows, mut id_checked, mut uid_checked, mut restarted_ids) = (0, 0, 0, 0);
    let mut streams = BTreeSet::new();
    for (p, j) in hour_files("pod_logs") {
        let (b, values) = load(&p, &j);
        let rid = req(&b, "record_id");
        let ts = times(&b, "timestamp");
        let (service, ns, pod, container, node) = (
            req(&b, "service"),
            req(&b, "namespace"),
            req(&b, "pod"),
            req(&b, "container"),
            req(&b, "node"),
        );
        let (stream, message) = (req(&b, "stream"), req(&b, "message"));
        for (i, v) in values.iter().enumerate() {
            let at = format!("{}:{}", j.display(), i + 1);
            assert_eq!(
                keys(v),
                set(&["_record_id", "date", "log", "kubernetes"]),
                "{at}"
            );
            assert_eq!(s(v, "/_record_id"), rid[i], "{at}");
            let date = v["date"].as_f64().expect("date");
            assert!(
                ((date * 1e6).round() as i64 - ts[i]).abs() <= 1,
                "{at}: date {date} vs {}",
                ts[i]
            );
            let (t, st, tag, text) = parse_cri(s(v, "/log"));
            assert_eq!(t, ts[i], "{at}: CRI time vs timestamp");
            assert_eq!(st, stream[i], "{at}: stream");
            assert!(st == "stdout" || st == "stderr", "{at}");
            assert_eq!(tag, "F", "{at}: a complete line");
            assert_eq!(text, message[i], "{at}: text vs message");
            assert!(!text.contains('\n'), "{at}: a multi-line message");
            streams.insert(st.to_string());

            let k = &v["kubernetes"];
            assert_eq!(keys(k), kube_keys, "{at}: kubernetes keys");
            assert_eq!(s(k, "/pod_name"), pod[i], "{at}");
            assert_eq!(s(k, "/namespace_name"), ns[i], "{at}");
            assert_eq!(s(k, "/container_name"), container[i], "{at}");
            assert_eq!(s(k, "/host"), node[i], "{at}");
            assert_eq!(
                keys(&k["labels"]),
                set(&["app", "pod-template-hash"]),
                "{at}"
            );
            assert_eq!(s(k, "/labels/app"), service[i], "{at}");
            let hash = s(k, "/labels/pod-template-hash");
            let prefix = format!("{}-{hash}-", service[i]);
            assert!(
                pod[i].starts_with(&prefix) && pod[i].len() == prefix.len() + 5,
                "{at}: pod {} vs pod-template-hash {hash}",
                pod[i]
            );
            let pod_id = s(k, "/pod_id");
            assert!(is_uuid(pod_id), "{at}: pod_id {pod_id}");
            if let Some(u) = uids.get(&pod[i]) {
                assert_eq!(pod_id, u, "{at}: pod_id vs the Pod's events");
                uid_checked += 1;
            }
            let image = s(k, "/container_image");
            if let Some(im) = images.get(&pod[i]) {
                assert_eq!(image, im, "{at}: container_image vs metrics image");
            }
            // The container id: that of the metrics scrapes around the line when both
            // scraped the same container.
            let docker_id = s(k, "/docker_id");
            assert!(is_hex64(docker_id), "{at}: docker_id {docker_id}");
            if let Some(sc) = scrapes.get(&pod[i]) {
                let n = sc.partition_point(|x| x.0 <= ts[i]);
                if n > 0 && n < sc.len() && sc[n - 1].1 == sc[n].1 {
                    assert_eq!(
                        docker_id, sc[n].1,
                        "{at}: docker_id vs metrics container_id"
                    );
                    id_checked += 1;
                    if sc[0].1 != sc[n].1 {
                        restarted_ids += 1;
                    }
                }
            }
            rows += 1;
        }
    }
    assert!(rows > 100_000, "only {rows} log lines in a day");
    assert_eq!(streams.len(), 2, "{streams:?}");
    assert!(
        id_checked * 10 > rows * 9,
        "docker_id checked on {id_checked} of {rows} lines"
    );
    assert!(
        restarted_ids > 0,
        "no line of a restarted container checked"
    );
    assert!(uid_checked > 0, "no pod uid checked against events");
}

/// The sample of `name` in a metrics line (with `label=value` when given), if any.
fn find_sample<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    v["samples"]
        .as_array()
        .expect("samples")
        .iter()
        .find(|x| x["metric"]["__name__"] == name)
}

#[test]
fn metrics_lines_hold_pod_metrics_and_the_rows_samples() {
    let cadvisor_int = [
        "container_cpu_cfs_periods_total",
        "container_cpu_cfs_throttled_periods_total",
        "container_spec_cpu_quota",
        "container_memory_working_set_bytes",
        "container_spec_memory_limit_bytes",
        "container_oom_events_total",
        "container_network_receive_bytes_total",
        "container_network_transmit_bytes_total",
    ];
    let uids = pod_uids_from_events();
    // Per container id: its previous scrape (time, CPU seconds), across the day.
    let mut prev: HashMap<String, (i64, f64)> = HashMap::new();
    let (mut rows, mut rated, mut first_seen, mut with_reason) = (0, 0, 0, 0);
    for (h, (p, j)) in hour_files("metrics").into_iter().enumerate() {
        let (b, values) = load(&p, &j);
        let rid = req(&b, "record_id");
        let ts = times(&b, "timestamp");
        let (ns, pod, container, cid, node, image, phase) = (
            req(&b, "namespace"),
            req(&b, "pod"),
            req(&b, "container"),
            req(&b, "container_id"),
            req(&b, "node"),
            req(&b, "image"),
            req(&b, "pod_phase"),
        );
        let ready = bools(&b, "ready");
        let cpu = f64s(&b, "container_cpu_usage_seconds_total");
        let ints: Vec<Vec<i64>> = cadvisor_int.iter().map(|c| i64s(&b, c)).collect();
        let mem = i64s(&b, "container_memory_working_set_bytes");
        let restarts = i64s(&b, "kube_pod_container_status_restarts_total");
        let reason = strs(&b, "kube_pod_container_status_last_terminated_reason");
        for (i, v) in values.iter().enumerate() {
            let at = format!("{}:{}", j.display(), i + 1);
            assert_eq!(
                keys(v),
                set(&["_record_id", "pod_metrics", "samples"]),
                "{at}"
            );
            assert_eq!(s(v, "/_record_id"), rid[i], "{at}");

            // PodMetrics.
            let pm = &v["pod_metrics"];
            assert_eq!(s(pm, "/kind"), "PodMetrics", "{at}");
            assert_eq!(s(pm, "/apiVersion"), "metrics.k8s.io/v1beta1", "{at}");
            assert_eq!(s(pm, "/metadata/name"), pod[i], "{at}");
            assert_eq!(s(pm, "/metadata/namespace"), ns[i], "{at}");
            let t_s = rfc3339_seconds(ts[i]);
            assert_eq!(s(pm, "/timestamp"), t_s, "{at}");
            assert_eq!(s(pm, "/metadata/creationTimestamp"), t_s, "{at}");
            assert_eq!(s(pm, "/metadata/labels/app"), container[i], "{at}");
            let hash = s(pm, "/metadata/labels/pod-template-hash");
            assert!(
                pod[i].starts_with(&format!("{}-{hash}-", container[i])),
                "{at}"
            );
            let cs = pm["containers"].as_array().expect("containers");
            assert_eq!(cs.len(), 1, "{at}: one container per pod");
            assert_eq!(s(&cs[0], "/name"), container[i], "{at}");
            let mem_q = s(&cs[0], "/usage/memory");
            assert_eq!(
                memory_kib(mem_q),
                (mem[i] / 1024) as u64,
                "{at}: memory {mem_q} vs working set {}",
                mem[i]
            );
            let cpu_q = s(&cs[0], "/usage/cpu");
            let nanocores = cpu_nanocores(cpu_q);
            let window = go_duration_us(s(pm, "/window"));
            assert!(window > 0, "{at}: window");
            // The CPU rate: the counter's increase since the container's previous scrape.
            match prev.get(&cid[i]) {
                Some(&(t0, c0)) => {
                    assert_eq!(window, ts[i] - t0, "{at}: window vs previous scrape");
                    let want = ((cpu[i] - c0).max(0.0) / (window as f64 / 1e6) * 1e9).round();
                    assert!(
                        (nanocores as f64 - want).abs() <= 1.0,
                        "{at}: cpu {cpu_q} vs counter rate {want}n"
                    );
                    rated += 1;
                }
                None if h > 0 => {
                    // A new container: its rate since it started, the counter from 0.
                    let want = (cpu[i] / (window as f64 / 1e6) * 1e9).round();
                    assert!(
                        (nanocores as f64 - want).abs() <= 1.0,
                        "{at}: first scrape cpu {cpu_q} vs {want}n over {window} µs"
                    );
                    first_seen += 1;
                }
                // A container of the first hour: its previous scrape is before the day.
                None => {}
            }
            prev.insert(cid[i].clone(), (ts[i], cpu[i]));

            // Samples.
            let samples = v["samples"].as_array().expect("samples");
            let names: Vec<&str> = samples
                .iter()
                .map(|x| x["metric"]["__name__"].as_str().expect("__name__"))
                .collect();
            let mut want: Vec<&str> = vec!["container_cpu_usage_seconds_total"];
            want.extend(cadvisor_int);
            want.push("kube_pod_container_status_restarts_total");
            if reason[i].is_some() {
                want.push("kube_pod_container_status_last_terminated_reason");
                with_reason += 1;
            }
            want.extend(["kube_pod_status_phase", "kube_pod_status_ready"]);
            assert_eq!(names, want, "{at}: sample names");
            let ms = ts[i].div_euclid(1000);
            for x in samples {
                let name = x["metric"]["__name__"].as_str().expect("name");
                let val = x["value"].as_array().expect("value");
                assert_eq!(val.len(), 2, "{at}: {name} value");
                let t = val[0].as_f64().expect("sample time");
                assert_eq!((t * 1000.0).round() as i64, ms, "{at}: {name} time");
                assert!(val[1].is_string(), "{at}: {name} value not a string");
                let m = &x["metric"];
                assert_eq!(s(m, "/namespace"), ns[i], "{at}: {name}");
                assert_eq!(s(m, "/pod"), pod[i], "{at}: {name}");
                if name.starts_with("container_") {
                    assert_eq!(s(m, "/job"), "kubelet", "{at}: {name}");
                    assert_eq!(s(m, "/container"), container[i], "{at}: {name}");
                    assert_eq!(s(m, "/image"), image[i], "{at}: {name}");
                    assert_eq!(s(m, "/node"), node[i], "{at}: {name}");
                    assert_eq!(
                        s(m, "/instance"),
                        format!("{}:10250", node_ip(&node[i])),
                        "{at}: {name}"
                    );
                } else {
                    assert_eq!(s(m, "/job"), "kube-state-metrics", "{at}: {name}");
                    let uid = s(m, "/uid");
                    assert!(is_uuid(uid), "{at}: {name} uid");
                    if let Some(u) = uids.get(&pod[i]) {
                        assert_eq!(uid, u, "{at}: {name} uid vs the Pod's events");
                    }
                    let is_container = name.starts_with("kube_pod_container_");
                    assert_eq!(
                        m.get("container").and_then(Value::as_str),
                        is_container.then_some(container[i].as_str()),
                        "{at}: {name} container label"
                    );
                }
            }
            let value = |name: &str| -> &str {
                find_sample(v, name).expect("sample")["value"][1]
                    .as_str()
                    .expect("string")
            };
            let cpu_v: f64 = value("container_cpu_usage_seconds_total")
                .parse()
                .expect("float");
            assert_eq!(cpu_v, cpu[i], "{at}: container_cpu_usage_seconds_total");
            for (k, c) in cadvisor_int.iter().enumerate() {
                assert_eq!(value(c), ints[k][i].to_string(), "{at}: {c}");
            }
            for c in [
                "container_network_receive_bytes_total",
                "container_network_transmit_bytes_total",
            ] {
                assert_eq!(
                    find_sample(v, c).expect("network")["metric"]["interface"],
                    "eth0",
                    "{at}"
                );
            }
            assert_eq!(
                value("kube_pod_container_status_restarts_total"),
                restarts[i].to_string(),
                "{at}"
            );
            if let Some(r) = &reason[i] {
                let x = find_sample(v, "kube_pod_container_status_last_terminated_reason")
                    .expect("reason");
                assert_eq!(s(x, "/metric/reason"), r, "{at}");
                assert_eq!(x["value"][1], "1", "{at}");
            }
            let phase_s = find_sample(v, "kube_pod_status_phase").expect("phase");
            assert_eq!(s(phase_s, "/metric/phase"), phase[i], "{at}");
            assert_eq!(phase_s["value"][1], "1", "{at}");
            let ready_s = find_sample(v, "kube_pod_status_ready").expect("ready");
            assert_eq!(s(ready_s, "/metric/condition"), "true", "{at}");
            assert_eq!(
                ready_s["value"][1],
                if ready[i] { "1" } else { "0" },
                "{at}: ready"
            );
            rows += 1;
        }
    }
    assert!(rows > 50_000, "only {rows} metrics rows in a day");
    assert!(rated * 10 > rows * 9, "rate checked on {rated} of {rows}");
    assert!(first_seen > 0, "no new container in a day");
    assert!(with_reason > 0, "no restarted container in a day");
}
