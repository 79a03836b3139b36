//! Exports of a complete dataset into other systems' formats.
//!
//! `openmetrics`: the container metrics of `kubernetes/metrics` (the cAdvisor and
//! kube-state-metrics series the Prometheus panels of `grafana/panel_series` query) as
//! OpenMetrics text with timestamps, which `promtool tsdb create-blocks-from openmetrics`
//! backfills into a Prometheus TSDB. Each metric family is written whole (every series of
//! it, each series' samples in time order) before the next, as the format requires, by
//! reading the table's files once per family (only the columns the family needs).

use crate::error::Error;
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type, Int64Type, TimestampMicrosecondType};
use std::io::Write;
use std::path::Path;

/// Which scraper exposes a family, and so the labels its series carry.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Exporter {
    /// The kubelet's cAdvisor endpoint: `namespace`, `pod`, `container`, `node`, `image`.
    Cadvisor,
    /// kube-state-metrics: `namespace`, `pod`, `container`.
    KubeStateMetrics,
}

/// One metric family: its OpenMetrics name and type, the column it comes from, and what
/// it says.
struct Family {
    /// The family name (a counter's samples add `_total`).
    name: &'static str,
    counter: bool,
    column: &'static str,
    exporter: Exporter,
    help: &'static str,
}

const FAMILIES: [Family; 11] = [
    Family {
        name: "container_cpu_usage_seconds",
        counter: true,
        column: "container_cpu_usage_seconds_total",
        exporter: Exporter::Cadvisor,
        help: "Cumulative cpu time consumed in seconds.",
    },
    Family {
        name: "container_cpu_cfs_periods",
        counter: true,
        column: "container_cpu_cfs_periods_total",
        exporter: Exporter::Cadvisor,
        help: "Number of elapsed enforcement period intervals.",
    },
    Family {
        name: "container_cpu_cfs_throttled_periods",
        counter: true,
        column: "container_cpu_cfs_throttled_periods_total",
        exporter: Exporter::Cadvisor,
        help: "Number of throttled period intervals.",
    },
    Family {
        name: "container_spec_cpu_quota",
        counter: false,
        column: "container_spec_cpu_quota",
        exporter: Exporter::Cadvisor,
        help: "CPU quota of the container.",
    },
    Family {
        name: "container_memory_working_set_bytes",
        counter: false,
        column: "container_memory_working_set_bytes",
        exporter: Exporter::Cadvisor,
        help: "Current working set in bytes.",
    },
    Family {
        name: "container_spec_memory_limit_bytes",
        counter: false,
        column: "container_spec_memory_limit_bytes",
        exporter: Exporter::Cadvisor,
        help: "Memory limit for the container.",
    },
    Family {
        name: "container_oom_events",
        counter: true,
        column: "container_oom_events_total",
        exporter: Exporter::Cadvisor,
        help: "Count of out of memory events observed for the container.",
    },
    Family {
        name: "container_network_receive_bytes",
        counter: true,
        column: "container_network_receive_bytes_total",
        exporter: Exporter::Cadvisor,
        help: "Cumulative count of bytes received.",
    },
    Family {
        name: "container_network_transmit_bytes",
        counter: true,
        column: "container_network_transmit_bytes_total",
        exporter: Exporter::Cadvisor,
        help: "Cumulative count of bytes transmitted.",
    },
    Family {
        name: "kube_pod_container_status_restarts",
        counter: true,
        column: "kube_pod_container_status_restarts_total",
        exporter: Exporter::KubeStateMetrics,
        help: "The number of container restarts per container.",
    },
    Family {
        name: "kube_pod_container_status_ready",
        counter: false,
        column: "ready",
        exporter: Exporter::KubeStateMetrics,
        help: "Describes whether the containers readiness check succeeded.",
    },
];

/// What an export wrote.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct OpenMetricsReport {
    pub families: usize,
    /// Distinct (family, labels) series.
    pub series: usize,
    pub samples: u64,
    /// The first and last sample (µs since the epoch).
    pub first: Option<i64>,
    pub last: Option<i64>,
}

/// Writes the container metrics of the dataset in `dir` to `out` as OpenMetrics text
/// (ending with `# EOF`).
pub fn openmetrics(dir: &Path, out: &mut dyn Write) -> Result<OpenMetricsReport, Error> {
    let m = crate::dataset::read_manifest(dir)?;
    let files = crate::dataset::table_files(&m, dir, "kubernetes", "metrics");
    if files.is_empty() {
        return Err(Error::Invalid(format!(
            "{}: the dataset has no kubernetes/metrics (generate it with the kubernetes source)",
            dir.display()
        )));
    }
    let err = |e: std::io::Error| Error::Other(format!("writing the export: {e}"));
    let mut report = OpenMetricsReport {
        families: FAMILIES.len(),
        ..Default::default()
    };
    let mut series = std::collections::HashSet::new();
    let mut line = Vec::with_capacity(256);
    for fam in &FAMILIES {
        writeln!(
            out,
            "# TYPE {} {}\n# HELP {} {}",
            fam.name,
            if fam.counter { "counter" } else { "gauge" },
            fam.name,
            fam.help
        )
        .map_err(err)?;
        if fam.name.ends_with("_bytes") {
            writeln!(out, "# UNIT {} bytes", fam.name).map_err(err)?;
        } else if fam.name == "container_cpu_usage_seconds" {
            writeln!(out, "# UNIT {} seconds", fam.name).map_err(err)?;
        }
        // Every series of the family, each in time order: the files are in time order and
        // rows within a file too; a series' samples in later files come later.
        let mut by_series: std::collections::BTreeMap<Vec<u8>, Vec<u8>> = Default::default();
        for path in &files {
            let b = read_columns(path, fam)?;
            let ts = b
                .column_by_name("timestamp")
                .and_then(|c| c.as_primitive_opt::<TimestampMicrosecondType>())
                .ok_or_else(|| bad(path, "timestamp"))?;
            let text = |name: &str| -> Result<arrow::array::StringArray, Error> {
                let c = b.column_by_name(name).ok_or_else(|| bad(path, name))?;
                Ok(arrow::compute::cast(c, &DataType::Utf8)?
                    .as_string::<i32>()
                    .clone())
            };
            let (ns, pod, container) = (text("namespace")?, text("pod")?, text("container")?);
            let (node, image) = match fam.exporter {
                Exporter::Cadvisor => (Some(text("node")?), Some(text("image")?)),
                Exporter::KubeStateMetrics => (None, None),
            };
            let col = b
                .column_by_name(fam.column)
                .ok_or_else(|| bad(path, fam.column))?;
            for r in 0..b.num_rows() {
                if col.is_null(r) || ts.is_null(r) {
                    continue;
                }
                let mut key = Vec::with_capacity(128);
                key.extend_from_slice(fam.name.as_bytes());
                if fam.counter {
                    key.extend_from_slice(b"_total");
                }
                key.push(b'{');
                let mut labels: Vec<(&str, &str)> = vec![
                    ("namespace", ns.value(r)),
                    ("pod", pod.value(r)),
                    ("container", container.value(r)),
                ];
                if let (Some(node), Some(image)) = (&node, &image) {
                    labels.push(("node", node.value(r)));
                    labels.push(("image", image.value(r)));
                    labels.push(("job", "kubelet"));
                } else {
                    labels.push(("job", "kube-state-metrics"));
                }
                for (i, (k, v)) in labels.iter().enumerate() {
                    if i > 0 {
                        key.push(b',');
                    }
                    key.extend_from_slice(k.as_bytes());
                    key.extend_from_slice(b"=\"");
                    escape_label(v, &mut key);
                    key.push(b'"');
                }
                key.push(b'}');
                line.clear();
                line.push(b' ');
                write_value(col.as_ref(), r, &mut line)?;
                line.push(b' ');
                write_seconds(ts.value(r), &mut line);
                line.push(b'\n');
                report.samples += 1;
                let t = ts.value(r);
                report.first = Some(report.first.map_or(t, |f| f.min(t)));
                report.last = Some(report.last.map_or(t, |l| l.max(t)));
                match by_series.get_mut(&key) {
                    Some(lines) => {
                        lines.extend_from_slice(&key);
                        lines.extend_from_slice(&line);
                    }
                    None => {
                        let mut lines = key.clone();
                        lines.extend_from_slice(&line);
                        by_series.insert(key, lines);
                    }
                }
            }
        }
        for (key, lines) in by_series {
            series.insert(key);
            out.write_all(&lines).map_err(err)?;
        }
    }
    out.write_all(b"# EOF\n").map_err(err)?;
    out.flush().map_err(err)?;
    report.series = series.len();
    Ok(report)
}

fn bad(path: &Path, column: &str) -> Error {
    Error::Invalid(format!(
        "{}: no column `{column}` of the expected type",
        path.display()
    ))
}

/// The columns family `fam` needs of one `kubernetes/metrics` file.
fn read_columns(path: &Path, fam: &Family) -> Result<RecordBatch, Error> {
    let mut want = vec!["timestamp", "namespace", "pod", "container", fam.column];
    if fam.exporter == Exporter::Cadvisor {
        want.extend(["node", "image"]);
    }
    crate::dataset::read_columns(path, &want)
}

/// A sample's value: floats as the shortest text that reads back exactly, integers as
/// integers, booleans as 1 and 0.
fn write_value(col: &dyn Array, r: usize, out: &mut Vec<u8>) -> Result<(), Error> {
    match col.data_type() {
        DataType::Float64 => {
            let v = col.as_primitive::<Float64Type>().value(r);
            out.extend_from_slice(ryu::Buffer::new().format(v).as_bytes());
        }
        DataType::Int64 => {
            let v = col.as_primitive::<Int64Type>().value(r);
            out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
        }
        DataType::Boolean => out.push(if col.as_boolean().value(r) {
            b'1'
        } else {
            b'0'
        }),
        other => {
            return Err(Error::Invalid(format!(
                "kubernetes/metrics: a metric column of type {other}"
            )));
        }
    }
    Ok(())
}

/// µs since the epoch as seconds with millisecond precision (Prometheus keeps
/// milliseconds), e.g. `1795428001.010`.
fn write_seconds(us: i64, out: &mut Vec<u8>) {
    let ms = us.div_euclid(1000);
    out.extend_from_slice(itoa::Buffer::new().format(ms.div_euclid(1000)).as_bytes());
    let frac = ms.rem_euclid(1000);
    out.push(b'.');
    out.push(b'0' + (frac / 100) as u8);
    out.push(b'0' + (frac / 10 % 10) as u8);
    out.push(b'0' + (frac % 10) as u8);
}

/// A label value with `\`, `"` and newlines escaped.
fn escape_label(v: &str, out: &mut Vec<u8>) {
    for b in v.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            b => out.push(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_seconds_with_milliseconds() {
        let mut v = Vec::new();
        write_seconds(1_795_428_001_010_379, &mut v);
        assert_eq!(v, b"1795428001.010");
        v.clear();
        write_seconds(1_795_428_001_000_999, &mut v);
        assert_eq!(v, b"1795428001.000");
    }

    #[test]
    fn label_values_are_escaped() {
        let mut v = Vec::new();
        escape_label("a\"b\\c\nd", &mut v);
        assert_eq!(v, b"a\\\"b\\\\c\\nd");
    }
}
