//! The ground truth of a dataset as the scorer needs it: its range, its incidents (signal
//! windows, root causes and the answers accepted for them) and, per table, the label of
//! every row (`labels/records`).

use super::split::Intervals;
use crate::error::Error;
use crate::sink::manifest::Manifest;
use crate::time::{Micros, parse_instant};
use arrow::array::{Array, AsArray, BooleanArray, RecordBatch, StringArray};
use arrow::datatypes::{DataType, TimeUnit};
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::path::{Path, PathBuf};

/// One incident of the dataset.
#[derive(Debug, Clone)]
pub struct IncidentTruth {
    pub id: String,
    pub incident_type: String,
    pub start: Micros,
    /// The span of its labelled rows (`None` for an incident with none in the range).
    pub signal: Option<(Micros, Micros)>,
    pub affected_services: Vec<String>,
    /// `root_cause_kind`: pod, deployment, service, node, aws_resource.
    pub root_kind: String,
    /// Services accepted as its root: `root_cause_service` and the services a root AWS
    /// resource is `used_by`; empty for a node (no service root).
    pub root_services: Vec<String>,
    pub root_entity: String,
    pub root_indicator: String,
}

impl IncidentTruth {
    /// Its signal window, or its scheduled span when it has no labelled row.
    pub fn window(&self) -> (Micros, Micros) {
        self.signal.unwrap_or((self.start, self.start))
    }
}

/// A dataset's range and incidents.
#[derive(Debug, Clone)]
pub struct Truth {
    pub dir: PathBuf,
    pub start: Micros,
    pub end: Micros,
    pub seed: u64,
    pub manifest: Manifest,
    pub incidents: Vec<IncidentTruth>,
}

impl Truth {
    /// Reads `dir/manifest.json`, `labels/incidents.parquet` and
    /// `labels/incident_edges.parquet`.
    pub fn read(dir: &Path) -> Result<Truth, Error> {
        let manifest = Manifest::read(&dir.join("manifest.json"))?;
        let instant = |s: &str| {
            parse_instant(s)
                .ok_or_else(|| Error::Invalid(format!("manifest.json: bad instant `{s}`")))
        };
        let (start, end) = (instant(&manifest.start)?, instant(&manifest.end)?);
        let inc = read_parquet(&dir.join("labels/incidents.parquet"))?;
        let edges = read_parquet(&dir.join("labels/incident_edges.parquet"))?;
        let mut used_by: HashMap<(String, String), Vec<String>> = HashMap::new();
        {
            let id = strings(&edges, "incident_id")?;
            let src = strings(&edges, "src_entity")?;
            let dst = strings(&edges, "dst_entity")?;
            let rel = strings(&edges, "relation")?;
            for i in 0..edges.num_rows() {
                if rel.value(i) == "used_by"
                    && let Some(svc) = dst.value(i).strip_prefix("service/")
                {
                    used_by
                        .entry((id.value(i).to_string(), src.value(i).to_string()))
                        .or_default()
                        .push(svc.to_string());
                }
            }
        }
        let id = strings(&inc, "incident_id")?;
        let ty = strings(&inc, "incident_type")?;
        let kind = strings(&inc, "root_cause_kind")?;
        let service = strings(&inc, "root_cause_service")?;
        let entity = strings(&inc, "root_cause_entity")?;
        let indicator = strings(&inc, "root_cause_indicator")?;
        let starts = micros(&inc, "start")?;
        let sig_start = micros(&inc, "signal_start")?;
        let sig_end = micros(&inc, "signal_end")?;
        let affected = inc
            .column_by_name("affected_services")
            .and_then(|c| c.as_list_opt::<i32>())
            .ok_or_else(|| missing("labels/incidents.parquet", "affected_services"))?;
        let mut incidents = Vec::with_capacity(inc.num_rows());
        for i in 0..inc.num_rows() {
            let key = (id.value(i).to_string(), entity.value(i).to_string());
            let mut root_services: Vec<String> = Vec::new();
            if !service.is_null(i) && kind.value(i) != "node" {
                root_services.push(service.value(i).to_string());
            }
            for s in used_by.get(&key).into_iter().flatten() {
                if !root_services.contains(s) {
                    root_services.push(s.clone());
                }
            }
            let list = affected.value(i);
            let list = list.as_string::<i32>();
            incidents.push(IncidentTruth {
                id: key.0,
                incident_type: ty.value(i).to_string(),
                start: starts[i].unwrap_or(start),
                signal: sig_start[i].zip(sig_end[i]),
                affected_services: list.iter().flatten().map(str::to_string).collect(),
                root_kind: kind.value(i).to_string(),
                root_services,
                root_entity: key.1,
                root_indicator: indicator.value(i).to_string(),
            });
        }
        Ok(Truth {
            dir: dir.to_path_buf(),
            start,
            end,
            seed: manifest.seed,
            manifest,
            incidents,
        })
    }

    /// The incidents whose signal window lies in `scope` (all of the range without one),
    /// with a signal window.
    pub fn incidents_in<'a>(
        &'a self,
        scope: Option<&'a Intervals>,
    ) -> impl Iterator<Item = &'a IncidentTruth> + 'a {
        self.incidents
            .iter()
            .filter(move |i| match (i.signal, scope) {
                (None, _) => false,
                (Some(_), None) => true,
                (Some((s, e)), Some(iv)) => iv.holds_span(s, e),
            })
    }

    /// The `labels/records` files of each (source, table), from the manifest.
    pub fn record_files(&self) -> BTreeMap<(String, String), Vec<PathBuf>> {
        crate::dataset::record_files(&self.manifest, &self.dir)
    }
}

/// The per-row ground truth of some tables: every row's id hash, label, time and
/// incident.
#[derive(Debug, Default)]
pub struct RowTruth {
    /// The (source, table) of each row.
    pub tables: Vec<(String, String)>,
    pub table: Vec<u16>,
    pub id_hash: Vec<u64>,
    pub ts: Vec<Micros>,
    pub is_anomaly: Vec<bool>,
    /// The incident's id (index into `incident_ids`), `u32::MAX` when normal.
    pub incident: Vec<u32>,
    pub incident_ids: Vec<String>,
}

/// The labelled rows of one record-label file (in scope), their incidents numbered
/// within the file.
struct FileRows {
    id_hash: Vec<u64>,
    ts: Vec<Micros>,
    is_anomaly: Vec<bool>,
    /// File-local incident (index into `incident_ids`), `u32::MAX` when normal.
    incident: Vec<u32>,
    incident_ids: Vec<String>,
}

impl FileRows {
    fn read(f: &Path, default_ts: Micros, scope: Option<&Intervals>) -> Result<FileRows, Error> {
        let b = crate::contract::read_columns(
            f,
            &["record_id", "timestamp", "is_anomaly", "incident_id"],
        )?;
        let ids = strings(&b, "record_id")?;
        let ts = micros(&b, "timestamp")?;
        let anomalous = b
            .column_by_name("is_anomaly")
            .and_then(|c| c.as_any().downcast_ref::<BooleanArray>())
            .ok_or_else(|| missing(&f.display().to_string(), "is_anomaly"))?;
        let inc = strings(&b, "incident_id")?;
        let n = b.num_rows();
        let mut out = FileRows {
            id_hash: Vec::with_capacity(n),
            ts: Vec::with_capacity(n),
            is_anomaly: Vec::with_capacity(n),
            incident: Vec::with_capacity(n),
            incident_ids: Vec::new(),
        };
        for (i, t) in ts.iter().enumerate() {
            let t = t.unwrap_or(default_ts);
            if scope.is_some_and(|s| !s.holds(t)) {
                continue;
            }
            let local = if inc.is_null(i) {
                u32::MAX
            } else {
                let id = inc.value(i);
                // Rows of one incident come in runs: look at the last one first.
                match out.incident_ids.iter().rposition(|x| x == id) {
                    Some(n) => n as u32,
                    None => {
                        out.incident_ids.push(id.to_string());
                        (out.incident_ids.len() - 1) as u32
                    }
                }
            };
            out.id_hash.push(id_hash(ids.value(i)));
            out.ts.push(t);
            out.is_anomaly.push(anomalous.value(i));
            out.incident.push(local);
        }
        Ok(out)
    }
}

/// A map keyed by [`id_hash`] values. They are uniform 64-bit hashes already, so the map
/// uses them as they are instead of hashing them again (SipHash took half the time of
/// scoring 4.7 M rows).
pub type IdMap<V> = HashMap<u64, V, BuildHasherDefault<PassThrough>>;

/// The [`Hasher`] of [`IdMap`]: a `u64` key is its own hash.
#[derive(Default)]
pub struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// The 64-bit key of a record id (XXH64, seed 0): the scorer joins on it.
pub fn id_hash(id: &str) -> u64 {
    twox_hash::XxHash64::oneshot(0, id.as_bytes())
}

/// The `record_id` prefix (`kpl`, `str`, ...) of each table with record labels: the part
/// before the first `-` of its first row.
pub fn id_prefixes(truth: &Truth) -> Result<BTreeMap<String, (String, String)>, Error> {
    let mut out = BTreeMap::new();
    for (key, files) in truth.record_files() {
        for f in &files {
            let b = crate::contract::read_columns(f, &["record_id"])?;
            if b.num_rows() == 0 {
                continue;
            }
            let ids = strings(&b, "record_id")?;
            let prefix = ids.value(0).split('-').next().unwrap_or_default();
            out.insert(prefix.to_string(), key.clone());
            break;
        }
    }
    Ok(out)
}

/// The (source, table) of each table the record ids name (by their prefix), sorted;
/// only those `keep` accepts. An error when none is named.
pub fn tables_named(
    truth: &Truth,
    ids: &[Option<String>],
    keep: impl Fn(&(String, String)) -> bool,
    what: &str,
) -> Result<Vec<(String, String)>, Error> {
    let prefixes = id_prefixes(truth)?;
    let mut wanted: Vec<(String, String)> = Vec::new();
    for id in ids.iter().flatten() {
        let p = id.split('-').next().unwrap_or_default();
        if let Some(t) = prefixes.get(p)
            && keep(t)
            && !wanted.contains(t)
        {
            wanted.push(t.clone());
        }
    }
    wanted.sort();
    if wanted.is_empty() {
        return Err(Error::Invalid(format!(
            "no predicted record_id names a row of {what}"
        )));
    }
    Ok(wanted)
}

impl RowTruth {
    /// Reads the record labels of `tables` (rows in `scope` only, when given).
    pub fn read(
        truth: &Truth,
        tables: &[(String, String)],
        scope: Option<&Intervals>,
    ) -> Result<RowTruth, Error> {
        use rayon::prelude::*;
        let files = truth.record_files();
        // Every file read in parallel, merged in (table, file) order: the same rows in
        // the same order on every run.
        let jobs: Vec<(u16, &PathBuf)> = tables
            .iter()
            .enumerate()
            .flat_map(|(ti, key)| {
                files
                    .get(key)
                    .into_iter()
                    .flatten()
                    .map(move |f| (ti as u16, f))
            })
            .collect();
        let parts = jobs
            .par_iter()
            .map(|&(ti, f)| Ok((ti, FileRows::read(f, truth.start, scope)?)))
            .collect::<Result<Vec<(u16, FileRows)>, Error>>()?;
        let n = parts.iter().map(|p| p.1.ts.len()).sum();
        let mut out = RowTruth {
            tables: tables.to_vec(),
            table: Vec::with_capacity(n),
            id_hash: Vec::with_capacity(n),
            ts: Vec::with_capacity(n),
            is_anomaly: Vec::with_capacity(n),
            incident: Vec::with_capacity(n),
            incident_ids: Vec::new(),
        };
        let mut incident_index: HashMap<String, u32> = HashMap::new();
        for (table, part) in parts {
            // The file's incidents, numbered in order of first appearance.
            let global: Vec<u32> = part
                .incident_ids
                .into_iter()
                .map(|id| match incident_index.get(&id) {
                    Some(&n) => n,
                    None => {
                        let n = out.incident_ids.len() as u32;
                        incident_index.insert(id.clone(), n);
                        out.incident_ids.push(id);
                        n
                    }
                })
                .collect();
            out.table.resize(out.table.len() + part.ts.len(), table);
            out.id_hash.extend_from_slice(&part.id_hash);
            out.ts.extend_from_slice(&part.ts);
            out.is_anomaly.extend_from_slice(&part.is_anomaly);
            out.incident.extend(part.incident.iter().map(|&inc| {
                if inc == u32::MAX {
                    inc
                } else {
                    global[inc as usize]
                }
            }));
        }
        Ok(out)
    }

    pub fn len(&self) -> usize {
        self.id_hash.len()
    }

    pub fn is_empty(&self) -> bool {
        self.id_hash.is_empty()
    }
}

/// One whole Parquet file as a batch (an error naming it when it does not exist).
pub(crate) fn read_parquet(path: &Path) -> Result<RecordBatch, Error> {
    if !path.exists() {
        return Err(Error::Invalid(format!(
            "{}: not found (is this an obsgen dataset?)",
            path.display()
        )));
    }
    use arrow::array::RecordBatchReader;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)?.build()?;
    let schema = reader.schema();
    let batches = reader.collect::<Result<Vec<RecordBatch>, arrow::error::ArrowError>>()?;
    Ok(arrow::compute::concat_batches(&schema, &batches)?)
}

fn missing(what: &str, column: &str) -> Error {
    Error::Invalid(format!("{what}: no column `{column}` of the expected type"))
}

/// A string column (cast from any string type).
pub(crate) fn strings(b: &RecordBatch, name: &str) -> Result<StringArray, Error> {
    let c = b
        .column_by_name(name)
        .ok_or_else(|| missing("table", name))?;
    let c = arrow::compute::cast(c, &DataType::Utf8)?;
    Ok(c.as_string::<i32>().clone())
}

/// A timestamp column as µs since the epoch (UTC), from any timestamp type or RFC 3339
/// strings.
pub(crate) fn micros(b: &RecordBatch, name: &str) -> Result<Vec<Option<Micros>>, Error> {
    let c = b
        .column_by_name(name)
        .ok_or_else(|| missing("table", name))?;
    let target = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let c = match c.data_type() {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let s = arrow::compute::cast(c, &DataType::Utf8)?;
            let s = s.as_string::<i32>();
            return s
                .iter()
                .map(|v| match v {
                    None => Ok(None),
                    Some(v) => parse_instant(v).map(Some).ok_or_else(|| {
                        Error::Invalid(format!("column `{name}`: not an RFC 3339 instant: `{v}`"))
                    }),
                })
                .collect();
        }
        _ => arrow::compute::cast(c, &target)?,
    };
    let c = c.as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
    Ok(c.iter().collect())
}
