//! The label contract, checked against the counterfactual twin.
//!
//! A run with incidents and its twin (`generate --incidents off`, same seed, configuration
//! and range) render the same world except for what the incidents changed. Rows line up
//! by `record_id`, a stable key of what the row is. The contract: a row of the run carries
//! an incident label iff it does not exist in the twin or exists there with other values.
//! [`compare`] joins the two datasets table by table and counts, for each table, the rows
//! that keep and the rows that break the contract, with the columns that differ.
//!
//! One class of differences is allowed, and counted apart as `aftermath`: an incident can
//! change which pods exist for good (an eviction or a rollback creates replacement pods
//! with new names and addresses, a scheduler avoids a failing node, a container restarted
//! by an OOM kill keeps its restart count, a CPU saturation's extra seconds stay in the
//! counters). After the incident, those rows are normal behaviour of another pod than the
//! twin's, or of the same pod with the incident's offset, so they carry no label. A
//! changed, unlabelled row is aftermath when the pod it names, in the run or in the twin,
//! is one of them (`aftermath_pods`): a pod of only one of the two datasets or on
//! another node in each, a pod whose first scrape in the range already differs (a
//! pre-range incident the twin lacks), or, from its first labelled row on, a pod that
//! carries an incident label. A row names a pod by `pod`, `server_name` or a Prometheus
//! panel's `series_name`, or by an address in a `message` (a VPC flow record, an ALB
//! target, an RDS client, an access line's client) or a Sentry error's `user_ip` that was
//! the pod's `pod_ip` in kubernetes/metrics that hour. A node's own series (EC2 CPU,
//! network and disk in `cloudwatch/metrics`, and Grafana's panels of them) sum its pods:
//! a changed, unlabelled row of a node is aftermath in an hour when one of those pods ran
//! on the node (in the run or in the twin). An alarm on an EC2 instance's series (and the
//! Grafana alert annotation of that alarm) is aftermath in the same way when such a pod
//! ran on its node in the hour of the transition or in the 20 minutes its evaluation
//! reads; and a Logs Insights query is aftermath within the hour after a transition (in
//! the run or in the twin) of such a node alarm, since engineers query when paged.

use crate::error::Error;
use crate::labels::label_fields;
use crate::sink::Manifest;
use crate::time::{HOUR, MINUTE};
use arrow::array::{Array, ArrayRef, BooleanArray, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::{RecordBatch, RecordBatchReader};
use arrow::row::{RowConverter, SortField};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

/// What the join of one table with its twin found.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TableContract {
    pub source: String,
    pub table: String,
    /// Rows of the run.
    pub rows: u64,
    /// Rows of the run with an incident label.
    pub labelled: u64,
    /// Rows of the run that differ from the twin (absent there or with other values).
    pub changed: u64,
    /// Kept: labelled and changed.
    pub labelled_changed: u64,
    /// Broken: labelled, but the twin has the same row with the same values.
    pub labelled_unchanged: u64,
    /// Broken: not labelled, but absent from the twin.
    pub unlabelled_absent_in_twin: u64,
    /// Broken: not labelled, but the twin's row has other values.
    pub unlabelled_differing: u64,
    /// Allowed (see [`aftermath`](self)): unlabelled rows that differ from the twin only
    /// because they belong to a pod an incident created, replaced, moved or restarted.
    pub aftermath: u64,
    /// Rows of the twin the run does not have (an incident suppressed them; they cannot
    /// carry a label, so they do not count against the contract).
    pub only_in_twin: u64,
    /// Broken: record ids that occur more than once in the run or in the twin.
    pub duplicate_ids: u64,
    /// For the unlabelled differing rows: how many differ in each column.
    pub differing_columns: BTreeMap<String, u64>,
    /// A few record ids of each kind of breach, for a look.
    pub examples: BTreeMap<String, Vec<String>>,
}

impl TableContract {
    /// Rows that break the contract.
    pub fn breaches(&self) -> u64 {
        self.labelled_unchanged
            + self.unlabelled_absent_in_twin
            + self.unlabelled_differing
            + self.duplicate_ids
    }
}

/// The Parquet partitions of each (source, table) that a manifest lists, sorted by path.
pub(crate) fn partitions(dir: &Path) -> Result<BTreeMap<(String, String), Vec<String>>, Error> {
    let manifest = Manifest::read(&dir.join("manifest.json"))?;
    let mut out: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for f in manifest.files {
        if f.format == "parquet" && f.source != "labels" {
            out.entry((f.source, f.table)).or_default().push(f.path);
        }
    }
    for files in out.values_mut() {
        files.sort();
    }
    Ok(out)
}

/// Reads one Parquet file into a single batch.
fn read(path: &Path) -> Result<RecordBatch, Error> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)?;
    let schema = builder.schema().clone();
    let batches = builder
        .build()?
        .collect::<Result<Vec<RecordBatch>, arrow::error::ArrowError>>()?;
    Ok(arrow::compute::concat_batches(&schema, &batches)?)
}

/// The columns of one Parquet file that it has of `names`, as a single batch.
pub(crate) fn read_columns(path: &Path, names: &[&str]) -> Result<RecordBatch, Error> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)?;
    let fields = builder.parquet_schema().root_schema().get_fields();
    let roots: Vec<usize> = (0..fields.len())
        .filter(|&i| names.contains(&fields[i].name()))
        .collect();
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
    let reader = builder.with_projection(mask).build()?;
    let schema = reader.schema();
    let batches = reader.collect::<Result<Vec<RecordBatch>, arrow::error::ArrowError>>()?;
    Ok(arrow::compute::concat_batches(&schema, &batches)?)
}

/// One table of one dataset: every value column encoded as comparable rows, per row.
struct Loaded {
    /// `record_id` → (partition, row).
    ids: HashMap<String, (u32, u32)>,
    duplicates: Vec<String>,
    /// Per partition: the record ids, the labelled flags and, per value column, the rows.
    parts: Vec<Part>,
    columns: Vec<String>,
}

struct Part {
    ids: StringArray,
    /// `timestamp`, µs.
    ts: TimestampMicrosecondArray,
    labelled: BooleanArray,
    values: Vec<arrow::row::Rows>,
    /// The pod the row names (`pod`, `server_name` or `series_name`) and its node.
    pod: Option<StringArray>,
    node: Option<StringArray>,
    /// A pod's address (`pod_ip` of kubernetes/metrics).
    pod_ip: Option<StringArray>,
    /// Text that names pods by address: a `message` (a VPC flow record, an ALB target, an
    /// RDS client, the client of an access line), the `user_ip` of a Sentry error (the
    /// calling pod of an internal request).
    text: Option<StringArray>,
    /// The node a node-level row is about: a CloudWatch series' `resource_id`, or the
    /// resource a Grafana CloudWatch point shows (the first word of its `series_name`).
    host: Option<StringArray>,
    /// The EC2 instance a CloudWatch row is about (its `InstanceId` dimension).
    instance: Option<StringArray>,
    /// The alarm a row is about: an alarm transition's `alarm_name`, an alert
    /// annotation's `alert_name`.
    alarm: Option<StringArray>,
}

/// The columns that name a row's pod outside Grafana: the first one a table has.
const POD_COLUMNS: [&str; 2] = ["pod", "server_name"];

fn strings(batch: &RecordBatch, name: &str) -> Option<StringArray> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        .cloned()
}

/// The pod each row names: its `pod` or `server_name`, or on a Grafana panel the
/// `series_name` of Prometheus series (a CloudWatch series names no pod).
fn pod_column(batch: &RecordBatch) -> Option<StringArray> {
    panel_series_names(batch, "prometheus", |name| name)
        .or_else(|| POD_COLUMNS.iter().find_map(|c| strings(batch, c)))
}

/// On a Grafana panel batch (it has `datasource`), what `entity` reads from the
/// `series_name` of each point of `datasource` (null on the others); `None` elsewhere.
fn panel_series_names(
    batch: &RecordBatch,
    datasource: &str,
    entity: impl Fn(&str) -> &str,
) -> Option<StringArray> {
    let ds = strings(batch, "datasource")?;
    let names = strings(batch, "series_name")?;
    Some(
        (0..names.len())
            .map(|r| (ds.value(r) == datasource).then(|| entity(names.value(r))))
            .collect(),
    )
}

/// The resource each row is about, where a node can be one: `resource_id`, or on a
/// Grafana panel the resource of a CloudWatch series (`<resource> <metric>`).
fn host_column(batch: &RecordBatch) -> Option<StringArray> {
    panel_series_names(batch, "cloudwatch", |name| {
        name.split(' ').next().unwrap_or("")
    })
    .or_else(|| strings(batch, "resource_id"))
}

/// The value of dimension `name` of each row (`dimensions`: a list of `{name, value}`),
/// null where the row has none; `None` for a table without dimensions.
fn dimension_column(batch: &RecordBatch, name: &str) -> Option<StringArray> {
    let list = batch
        .column_by_name("dimensions")?
        .as_any()
        .downcast_ref::<arrow::array::ListArray>()?;
    let items = list
        .values()
        .as_any()
        .downcast_ref::<arrow::array::StructArray>()?;
    let names = items
        .column_by_name("name")?
        .as_any()
        .downcast_ref::<StringArray>()?;
    let values = items
        .column_by_name("value")?
        .as_any()
        .downcast_ref::<StringArray>()?;
    let offsets = list.value_offsets();
    Some(
        (0..list.len())
            .map(|r| {
                (offsets[r] as usize..offsets[r + 1] as usize)
                    .find(|&i| names.value(i) == name)
                    .map(|i| values.value(i))
            })
            .collect(),
    )
}

/// The hour key of an instant, as record ids write it (`YYYYMMDDHH`).
fn hour_key(ts: i64) -> String {
    let c = crate::time::civil(ts);
    format!("{:04}{:02}{:02}{:02}", c.year, c.month, c.day, c.hour)
}

/// The hour a record id names (`<code>-<YYYYMMDDHH>-<hex>`).
fn id_hour(id: &str) -> &str {
    id.get(4..14).unwrap_or("")
}

fn value_at(a: &Option<StringArray>, r: usize) -> Option<&str> {
    a.as_ref().filter(|a| a.is_valid(r)).map(|a| a.value(r))
}

/// The value columns of a table: all but the label columns.
fn value_columns(schema: &SchemaRef) -> Vec<usize> {
    let labels: Vec<String> = label_fields().iter().map(|f| f.name().clone()).collect();
    (0..schema.fields().len())
        .filter(|&i| !labels.contains(schema.field(i).name()))
        .collect()
}

fn load(dir: &Path, files: &[String]) -> Result<Loaded, Error> {
    let mut out = Loaded {
        ids: HashMap::new(),
        duplicates: Vec::new(),
        parts: Vec::new(),
        columns: Vec::new(),
    };
    let mut converters: Vec<RowConverter> = Vec::new();
    for rel in files {
        let batch = read(&dir.join(rel))?;
        let schema = batch.schema();
        let cols = value_columns(&schema);
        if converters.is_empty() {
            for &c in &cols {
                converters.push(RowConverter::new(vec![SortField::new(
                    schema.field(c).data_type().clone(),
                )])?);
                out.columns.push(schema.field(c).name().clone());
            }
        }
        let column = |name: &str| -> Result<ArrayRef, Error> {
            batch
                .column_by_name(name)
                .cloned()
                .ok_or_else(|| Error::Invalid(format!("{rel}: no column {name}")))
        };
        let ids = column("record_id")?
            .as_any()
            .downcast_ref::<StringArray>()
            .cloned()
            .ok_or_else(|| Error::Invalid(format!("{rel}: record_id is not a string")))?;
        let labelled = column("is_anomaly")?
            .as_any()
            .downcast_ref::<BooleanArray>()
            .cloned()
            .ok_or_else(|| Error::Invalid(format!("{rel}: is_anomaly is not a boolean")))?;
        let mut values = Vec::with_capacity(cols.len());
        for (k, &c) in cols.iter().enumerate() {
            values.push(converters[k].convert_columns(&[batch.column(c).clone()])?);
        }
        let p = out.parts.len() as u32;
        for r in 0..ids.len() {
            let id = ids.value(r);
            if out.ids.insert(id.to_string(), (p, r as u32)).is_some() {
                out.duplicates.push(id.to_string());
            }
        }
        let ts = column("timestamp")?
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .cloned()
            .ok_or_else(|| Error::Invalid(format!("{rel}: timestamp is not in µs")))?;
        let pod = pod_column(&batch);
        out.parts.push(Part {
            ids,
            ts,
            labelled,
            values,
            pod,
            node: strings(&batch, "node"),
            pod_ip: strings(&batch, "pod_ip"),
            text: strings(&batch, "message").or_else(|| strings(&batch, "user_ip")),
            host: host_column(&batch),
            instance: dimension_column(&batch, "InstanceId"),
            alarm: strings(&batch, "alarm_name").or_else(|| strings(&batch, "alert_name")),
        });
    }
    Ok(out)
}

const EXAMPLES: usize = 5;

fn example(t: &mut TableContract, kind: &str, id: &str) {
    let v = t.examples.entry(kind.to_string()).or_default();
    if v.len() < EXAMPLES {
        v.push(id.to_string());
    }
}

/// Joins every table of `run` with the same table of `twin` (both complete datasets,
/// Parquet) by `record_id` and checks the label contract row by row.
pub fn compare(run: &Path, twin: &Path) -> Result<Vec<TableContract>, Error> {
    let run_manifest = Manifest::read(&run.join("manifest.json"))?;
    let twin_manifest = Manifest::read(&twin.join("manifest.json"))?;
    if twin_manifest.incidents {
        return Err(Error::Invalid(format!(
            "{} is not a twin: it was generated with incidents (use `generate --incidents off`)",
            twin.display()
        )));
    }
    for (what, a, b) in [
        (
            "seed",
            run_manifest.seed.to_string(),
            twin_manifest.seed.to_string(),
        ),
        (
            "configuration digest",
            run_manifest.config_digest.clone(),
            twin_manifest.config_digest.clone(),
        ),
        (
            "start",
            run_manifest.start.clone(),
            twin_manifest.start.clone(),
        ),
        ("end", run_manifest.end.clone(), twin_manifest.end.clone()),
        (
            "scale",
            run_manifest.scale.to_string(),
            twin_manifest.scale.to_string(),
        ),
    ] {
        if a != b {
            return Err(Error::Invalid(format!(
                "the twin is not of this run: its {what} is {b}, the run's is {a}"
            )));
        }
    }
    let run_parts = partitions(run)?;
    let twin_parts = partitions(twin)?;
    let mut loaded: Vec<(String, String, Loaded, Loaded)> = Vec::new();
    for ((source, table), files) in &run_parts {
        let twin_files = twin_parts
            .get(&(source.clone(), table.clone()))
            .cloned()
            .unwrap_or_default();
        loaded.push((
            source.clone(),
            table.clone(),
            load(run, files)?,
            load(twin, &twin_files)?,
        ));
    }
    let touched = aftermath_pods(&loaded);
    let (addresses, hosts) = aftermath_places(&loaded, &touched);
    let (alarm_nodes, paged) = aftermath_alarms(&loaded, &hosts);
    let aftermath = Aftermath {
        pods: &touched,
        hosts: &hosts,
        alarm_nodes: &alarm_nodes,
        paged: &paged,
        addresses: &addresses,
    };
    let mut out = Vec::new();
    for (source, table, a, b) in &loaded {
        out.push(compare_table(source, table, a, b, &aftermath));
    }
    Ok(out)
}

/// What makes a changed, unlabelled row aftermath (see the module documentation).
struct Aftermath<'a> {
    /// Pod → the instant from which its rows may differ unlabelled.
    pods: &'a HashMap<String, i64>,
    hosts: &'a HashSet<(String, String)>,
    /// Alarm name → the node whose series it watches (an alarm on an EC2 instance).
    alarm_nodes: &'a HashMap<String, String>,
    /// Instants of the transitions (run or twin) of node alarms evaluated over an
    /// aftermath node, sorted: the pages that send engineers to Logs Insights.
    paged: &'a [i64],
    /// Per side (run, twin): `"<hour> <address>"` of the aftermath pods.
    addresses: &'a [HashSet<String>; 2],
}

impl Aftermath<'_> {
    /// Was a node alarm over an aftermath node paging in the hour before `ts`?
    fn paged_before(&self, ts: i64) -> bool {
        let from = self.paged.partition_point(|&p| p < ts - PAGE_WINDOW);
        self.paged.get(from).is_some_and(|&p| p <= ts)
    }

    /// Is a row of `pod` at `ts` aftermath of it?
    fn pod(&self, pod: Option<&str>, ts: i64) -> bool {
        pod.is_some_and(|p| self.pods.get(p).is_some_and(|&from| ts >= from))
    }

    /// Does `text` (of a row in `hour`, on `side`) name an aftermath pod by address?
    fn addressed(&self, side: usize, hour: &str, text: Option<&str>, key: &mut String) -> bool {
        text.is_some_and(|text| {
            private_addresses(text).any(|ip| {
                key.clear();
                key.push_str(hour);
                key.push(' ');
                key.push_str(ip);
                self.addresses[side].contains(key.as_str())
            })
        })
    }
}

/// How far back an alarm's evaluation reads (three 5-minute periods, and the delay).
const ALARM_LOOKBACK: i64 = 20 * MINUTE;

/// How long after a page engineers' Logs Insights queries follow it.
const PAGE_WINDOW: i64 = HOUR;

/// The node each node alarm watches, and the instants of the alarm transitions (run and
/// twin) over a node where aftermath pods ran: an EC2 instance's CPU sums its pods', so
/// when they are not the twin's its alarms change with no incident at the time.
fn aftermath_alarms(
    loaded: &[(String, String, Loaded, Loaded)],
    hosts: &HashSet<(String, String)>,
) -> (HashMap<String, String>, Vec<i64>) {
    // Only the parts that name an instance: the EC2 series map it to their node, the
    // alarms on it name it in their dimensions.
    let parts = || {
        loaded.iter().flat_map(|(_, table, a, b)| {
            [a, b].into_iter().flat_map(move |l| {
                l.parts
                    .iter()
                    .filter(|p| p.instance.is_some())
                    .map(move |p| (table.as_str(), p))
            })
        })
    };
    let mut node_of_instance: HashMap<String, String> = HashMap::new();
    for (_, part) in parts().filter(|(table, _)| *table == "metrics") {
        for r in 0..part.ids.len() {
            if let (Some(instance), Some(host)) =
                (value_at(&part.instance, r), value_at(&part.host, r))
            {
                node_of_instance
                    .entry(instance.to_string())
                    .or_insert_with(|| host.to_string());
            }
        }
    }
    let mut alarm_nodes: HashMap<String, String> = HashMap::new();
    let mut paged = Vec::new();
    for (_, part) in parts().filter(|(_, p)| p.alarm.is_some()) {
        for r in 0..part.ids.len() {
            let (Some(alarm), Some(node)) = (
                value_at(&part.alarm, r),
                value_at(&part.instance, r).and_then(|i| node_of_instance.get(i)),
            ) else {
                continue;
            };
            alarm_nodes
                .entry(alarm.to_string())
                .or_insert_with(|| node.clone());
            let ts = part.ts.value(r);
            if hosted(hosts, node, ts) {
                paged.push(ts);
            }
        }
    }
    paged.sort_unstable();
    (alarm_nodes, paged)
}

/// Did an aftermath pod run on `node` in the hour of the alarm transition at `ts`, or in
/// the window its evaluation reads before it?
fn hosted(hosts: &HashSet<(String, String)>, node: &str, ts: i64) -> bool {
    [ts, ts - ALARM_LOOKBACK]
        .iter()
        .any(|&t| hosts.contains(&(node.to_string(), hour_key(t))))
}

/// The VPC-private IPv4 addresses (`10.x.x.x`) a text names.
fn private_addresses(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter(|w| w.starts_with("10.") && w.bytes().filter(|&b| b == b'.').count() == 3)
}

/// Where the aftermath pods were, from the rows that name them at a time they may differ:
/// per side (run, twin), `"<hour> <address>"` of every hour a pod had a `pod_ip`
/// (kubernetes/metrics), since a log line that names that address in that hour names the
/// pod; and the (node, hour) pairs where one ran, in the run or in the twin, since what
/// the node's own series (EC2 CPU, network, disk) show there is the sum of another set of
/// pods than the twin's.
fn aftermath_places(
    loaded: &[(String, String, Loaded, Loaded)],
    touched: &HashMap<String, i64>,
) -> ([HashSet<String>; 2], HashSet<(String, String)>) {
    let mut addresses = [HashSet::new(), HashSet::new()];
    let mut hosts = HashSet::new();
    for (_, _, a, b) in loaded {
        for (side, l) in [a, b].into_iter().enumerate() {
            for part in &l.parts {
                for r in 0..part.ids.len() {
                    let Some(pod) = value_at(&part.pod, r) else {
                        continue;
                    };
                    if touched.get(pod).is_none_or(|&from| part.ts.value(r) < from) {
                        continue;
                    }
                    let hour = id_hour(part.ids.value(r));
                    if let Some(ip) = value_at(&part.pod_ip, r) {
                        addresses[side].insert(format!("{hour} {ip}"));
                    }
                    if let Some(node) = value_at(&part.node, r) {
                        let key = (node.to_string(), hour.to_string());
                        if !hosts.contains(&key) {
                            hosts.insert(key);
                        }
                    }
                }
            }
        }
    }
    (addresses, hosts)
}

/// The pods whose rows may differ from the twin's without a label, each with the instant
/// from which they may: those of only one of the two datasets and those on another node
/// in each, those whose first scrape differs (an incident before the range changed them;
/// all their rows), and those that carry an incident label in the run (from their first
/// labelled row: what an incident did to a pod, such as a restart or the CPU seconds it
/// added to the counters, lasts).
fn aftermath_pods(loaded: &[(String, String, Loaded, Loaded)]) -> HashMap<String, i64> {
    let mut nodes: [HashMap<String, HashSet<String>>; 2] = [HashMap::new(), HashMap::new()];
    let mut touched: HashMap<String, i64> = HashMap::new();
    for (_, _, a, b) in loaded {
        for (side, l) in [a, b].into_iter().enumerate() {
            for part in &l.parts {
                for r in 0..part.ids.len() {
                    let Some(pod) = value_at(&part.pod, r) else {
                        continue;
                    };
                    let node = value_at(&part.node, r).unwrap_or("");
                    let set = nodes[side].entry(pod.to_string()).or_default();
                    if !node.is_empty() && !set.contains(node) {
                        set.insert(node.to_string());
                    }
                    if side == 0 && part.labelled.value(r) {
                        let ts = part.ts.value(r);
                        match touched.get_mut(pod) {
                            Some(from) => *from = (*from).min(ts),
                            None => {
                                touched.insert(pod.to_string(), ts);
                            }
                        }
                    }
                }
            }
        }
    }
    // A pod whose first scrape in the range already differs from the twin's carries the
    // effect of an incident from before the range (one that ended less than the twin's
    // margin before it, so the twin does not have it): all its rows may differ.
    for (source, table, a, b) in loaded {
        if source != "kubernetes" || table != "metrics" {
            continue;
        }
        let mut first: HashMap<&str, (i64, usize, usize)> = HashMap::new();
        for (p, part) in a.parts.iter().enumerate() {
            for r in 0..part.ids.len() {
                let (Some(pod), ts) = (value_at(&part.pod, r), part.ts.value(r)) else {
                    continue;
                };
                let e = first.entry(pod).or_insert((ts, p, r));
                if ts < e.0 {
                    *e = (ts, p, r);
                }
            }
        }
        for (pod, (_, p, r)) in first {
            let part = &a.parts[p];
            let same = b.ids.get(part.ids.value(r)).is_some_and(|&(bp, br)| {
                let other = &b.parts[bp as usize];
                a.columns == b.columns
                    && (0..part.values.len())
                        .all(|c| part.values[c].row(r) == other.values[c].row(br as usize))
            });
            if !same && !part.labelled.value(r) {
                touched.insert(pod.to_string(), i64::MIN);
            }
        }
    }
    let [run_nodes, twin_nodes] = nodes;
    for (pod, n) in &run_nodes {
        if twin_nodes.get(pod) != Some(n) {
            touched.insert(pod.clone(), i64::MIN);
        }
    }
    for pod in twin_nodes.keys() {
        if !run_nodes.contains_key(pod) {
            touched.insert(pod.clone(), i64::MIN);
        }
    }
    touched
}

fn compare_table(
    source: &str,
    table: &str,
    a: &Loaded,
    b: &Loaded,
    aftermath: &Aftermath,
) -> TableContract {
    let mut t = TableContract {
        source: source.to_string(),
        table: table.to_string(),
        duplicate_ids: (a.duplicates.len() + b.duplicates.len()) as u64,
        ..TableContract::default()
    };
    for id in a.duplicates.iter().chain(&b.duplicates) {
        example(&mut t, "duplicate_id", id);
    }
    let same_columns = a.columns == b.columns;
    let mut key = String::new();
    for part in &a.parts {
        for r in 0..part.ids.len() {
            let id = part.ids.value(r);
            let labelled = part.labelled.value(r);
            t.rows += 1;
            t.labelled += labelled as u64;
            let twin_row = b
                .ids
                .get(id)
                .map(|&(bp, br)| (&b.parts[bp as usize], br as usize));
            let differing: Vec<usize> = match twin_row {
                None => (0..part.values.len()).collect(),
                Some((other, br)) => (0..part.values.len())
                    .filter(|&c| !same_columns || part.values[c].row(r) != other.values[c].row(br))
                    .collect(),
            };
            if differing.is_empty() {
                if labelled {
                    t.labelled_unchanged += 1;
                    example(&mut t, "labelled_unchanged", id);
                }
                continue;
            }
            t.changed += 1;
            if labelled {
                t.labelled_changed += 1;
                continue;
            }
            let hour = id_hour(id);
            let twin_pod = twin_row.and_then(|(other, br)| value_at(&other.pod, br));
            let twin_text = twin_row.and_then(|(other, br)| value_at(&other.text, br));
            let ts = part.ts.value(r);
            let host = value_at(&part.host, r)
                .is_some_and(|h| aftermath.hosts.contains(&(h.to_string(), hour.to_string())))
                || value_at(&part.alarm, r)
                    .and_then(|a| aftermath.alarm_nodes.get(a))
                    .is_some_and(|n| hosted(aftermath.hosts, n, ts))
                || (table == "insights_queries" && aftermath.paged_before(ts));
            if aftermath.pod(value_at(&part.pod, r), ts)
                || aftermath.pod(twin_pod, ts)
                || host
                || aftermath.addressed(0, hour, value_at(&part.text, r), &mut key)
                || aftermath.addressed(1, hour, twin_text, &mut key)
            {
                t.aftermath += 1;
            } else if twin_row.is_none() {
                t.unlabelled_absent_in_twin += 1;
                example(&mut t, "unlabelled_absent_in_twin", id);
            } else {
                t.unlabelled_differing += 1;
                example(&mut t, "unlabelled_differing", id);
                for c in differing {
                    *t.differing_columns.entry(a.columns[c].clone()).or_default() += 1;
                }
            }
        }
    }
    t.only_in_twin = b.ids.keys().filter(|id| !a.ids.contains_key(*id)).count() as u64;
    t
}

/// The comparison as a readable table, one line per table, then the breaches in detail.
pub fn report(tables: &[TableContract]) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<32} {:>9} {:>9} {:>9} {:>9} {:>10} {:>10} {:>10} {:>9} {:>6}",
        "table",
        "rows",
        "labelled",
        "changed",
        "aftermath",
        "lab_same",
        "unl_new",
        "unl_diff",
        "twin_only",
        "dup_id"
    );
    for t in tables {
        let _ = writeln!(
            s,
            "{:<32} {:>9} {:>9} {:>9} {:>9} {:>10} {:>10} {:>10} {:>9} {:>6}",
            format!("{}/{}", t.source, t.table),
            t.rows,
            t.labelled,
            t.changed,
            t.aftermath,
            t.labelled_unchanged,
            t.unlabelled_absent_in_twin,
            t.unlabelled_differing,
            t.only_in_twin,
            t.duplicate_ids
        );
    }
    for t in tables.iter().filter(|t| t.breaches() > 0) {
        let _ = writeln!(s, "\n{}/{}: {} breaches", t.source, t.table, t.breaches());
        if !t.differing_columns.is_empty() {
            let cols: Vec<String> = t
                .differing_columns
                .iter()
                .map(|(c, n)| format!("{c} {n}"))
                .collect();
            let _ = writeln!(s, "  unlabelled rows differ in: {}", cols.join(", "));
        }
        for (kind, ids) in &t.examples {
            let _ = writeln!(s, "  {kind}: {}", ids.join(" "));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{ListBuilder, StringBuilder, StructBuilder};
    use arrow::datatypes::{DataType, Field, Fields, Schema};
    use std::sync::Arc;

    #[test]
    fn dimension_column_finds_the_named_dimension_of_each_row() {
        let fields = Fields::from(vec![
            Field::new("name", DataType::Utf8, false),
            Field::new("value", DataType::Utf8, false),
        ]);
        let mut b = ListBuilder::new(StructBuilder::from_fields(fields.clone(), 4));
        for dims in [
            vec![("InstanceId", "i-1")],
            vec![("LoadBalancer", "app/x"), ("InstanceId", "i-2")],
            vec![("DBInstanceIdentifier", "orders-db")],
        ] {
            for (n, v) in dims {
                let s = b.values();
                s.field_builder::<StringBuilder>(0)
                    .expect("name")
                    .append_value(n);
                s.field_builder::<StringBuilder>(1)
                    .expect("value")
                    .append_value(v);
                s.append(true);
            }
            b.append(true);
        }
        let list = b.finish();
        let schema = Schema::new(vec![Field::new(
            "dimensions",
            list.data_type().clone(),
            false,
        )]);
        let batch = RecordBatch::try_new(Arc::new(schema), vec![Arc::new(list)]).expect("batch");
        let col = dimension_column(&batch, "InstanceId").expect("dimensions");
        let got: Vec<Option<&str>> = (0..3)
            .map(|r| col.is_valid(r).then(|| col.value(r)))
            .collect();
        assert_eq!(got, [Some("i-1"), Some("i-2"), None]);
        // The hour keys record ids use.
        let t = crate::time::parse_instant("2026-11-03T10:59:59Z").expect("time");
        assert_eq!(hour_key(t), "2026110310");
        assert_eq!(hour_key(t - ALARM_LOOKBACK), "2026110310");
        assert_eq!(hour_key(t + 1_000_000), "2026110311");
    }
}
