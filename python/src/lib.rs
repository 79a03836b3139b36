//! `obsgen._obsgen`: the Python extension behind `obsgen.generate` (tables rendered in
//! memory, handed to pyarrow through the Arrow C data interface without a copy) and
//! `obsgen.generate_to` (a dataset written as the CLI writes it).

use arrow::pyarrow::ToPyArrow;
use obsgen::config::Config;
use obsgen::pipeline::{GenerateOptions, generate, render_tables};
use obsgen::sink::{Compression, Formats};
use obsgen::time::{HOUR, parse_instant};
use obsgen::world::TimeRange;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::path::PathBuf;

fn value_error(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// The options of a run, as the CLI checks them.
#[allow(clippy::too_many_arguments)]
fn options(
    start: Option<&str>,
    hours: u32,
    seed: Option<u64>,
    tables: Option<Vec<String>>,
    sources: Option<Vec<String>>,
    scale: Option<f64>,
    incidents: bool,
    config: Option<PathBuf>,
    threads: Option<usize>,
    output_dir: PathBuf,
) -> PyResult<GenerateOptions> {
    let mut config = match &config {
        Some(dir) => Config::load(dir).map_err(value_error)?,
        None => Config::defaults().map_err(value_error)?,
    };
    config.incidents.schedule.enabled = incidents;
    let start_text = start
        .map(str::to_string)
        .unwrap_or_else(|| config.generation.default_start.clone());
    let start = parse_instant(&start_text).ok_or_else(|| {
        value_error(format!(
            "start `{start_text}` is not an RFC 3339 time (2026-11-23T08:00:00Z) or a date"
        ))
    })?;
    if hours == 0 || hours as i64 > obsgen::config::bounds::MAX_RANGE_HOURS {
        return Err(value_error(format!(
            "hours must be between 1 and {}, got {hours}",
            obsgen::config::bounds::MAX_RANGE_HOURS
        )));
    }
    let range = TimeRange {
        start,
        end: start + hours as i64 * HOUR,
    };
    let (sources, tables) = match (tables, sources) {
        (Some(_), Some(_)) => return Err(value_error("give tables or sources, not both")),
        (Some(names), None) => {
            let (s, t) = obsgen::sources::select_tables(&names).map_err(value_error)?;
            (s, Some(t))
        }
        (None, names) => (
            obsgen::sources::select_sources(names.as_deref()).map_err(value_error)?,
            None,
        ),
    };
    let scale_given = scale.is_some();
    let scale = scale.unwrap_or(config.generation.scale.0);
    if !(scale.is_finite() && scale > 0.0) {
        return Err(value_error(format!(
            "scale must be a positive number, got {scale}"
        )));
    }
    config
        .check_run(scale, range.start, range.end, scale_given, true)
        .map_err(value_error)?;
    let g = &config.generation;
    let compression =
        Compression::parse(&g.output.compression, g.output.zstd_level).unwrap_or(Compression::None);
    let threads = match threads {
        Some(0) => return Err(value_error("threads must be at least 1")),
        Some(t) => t,
        None => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
    };
    let seed = seed.unwrap_or(g.seed);
    let jsonl_level = g.output.jsonl_gzip_level;
    Ok(GenerateOptions {
        config,
        seed,
        range,
        scale,
        sources,
        tables,
        scenario: None,
        compression,
        formats: Formats::PARQUET,
        jsonl_level,
        threads,
        output_dir,
        overwrite: false,
        part: None,
        resume: false,
        guard: true,
        trace: None,
    })
}

/// One table rendered: its name, its pyarrow Schema and its pyarrow RecordBatches.
type Rendered<'py> = (String, Bound<'py, PyAny>, Vec<Bound<'py, PyAny>>);

/// Renders the tables in memory: `[(name, pyarrow.Schema, [pyarrow.RecordBatch])]`, the
/// batches of each table in time order (one per hour).
#[pyfunction]
#[pyo3(signature = (start=None, hours=24, seed=None, tables=None, sources=None, scale=None, incidents=true, config=None, threads=None))]
#[allow(clippy::too_many_arguments)]
fn _generate<'py>(
    py: Python<'py>,
    start: Option<String>,
    hours: u32,
    seed: Option<u64>,
    tables: Option<Vec<String>>,
    sources: Option<Vec<String>>,
    scale: Option<f64>,
    incidents: bool,
    config: Option<PathBuf>,
    threads: Option<usize>,
) -> PyResult<Vec<Rendered<'py>>> {
    let opts = options(
        start.as_deref(),
        hours,
        seed,
        tables,
        sources,
        scale,
        incidents,
        config,
        threads,
        PathBuf::new(),
    )?;
    let rendered = py
        .detach(|| render_tables(&opts))
        .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    let mut out = Vec::with_capacity(rendered.len());
    for (name, schema, batches) in rendered {
        let schema = schema.as_ref().to_pyarrow(py)?;
        let batches = batches
            .iter()
            .map(|b| b.to_pyarrow(py))
            .collect::<PyResult<Vec<_>>>()?;
        out.push((name, schema, batches));
    }
    Ok(out)
}

/// Writes a dataset into `path` as `obsgen generate` does; returns the manifest's tables
/// (`{name: {"rows", "files", "bytes"}}`) and the seconds taken.
#[pyfunction]
#[pyo3(signature = (path, start=None, hours=24, seed=None, tables=None, sources=None, scale=None, incidents=true, config=None, threads=None, overwrite=false))]
#[allow(clippy::too_many_arguments)]
fn _generate_to<'py>(
    py: Python<'py>,
    path: PathBuf,
    start: Option<String>,
    hours: u32,
    seed: Option<u64>,
    tables: Option<Vec<String>>,
    sources: Option<Vec<String>>,
    scale: Option<f64>,
    incidents: bool,
    config: Option<PathBuf>,
    threads: Option<usize>,
    overwrite: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let mut opts = options(
        start.as_deref(),
        hours,
        seed,
        tables,
        sources,
        scale,
        incidents,
        config,
        threads,
        path,
    )?;
    opts.overwrite = overwrite;
    let report = py
        .detach(|| generate(&opts, &|_| {}))
        .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    let out = PyDict::new(py);
    let tables = PyDict::new(py);
    for t in &report.manifest.tables {
        let d = PyDict::new(py);
        d.set_item("rows", t.rows)?;
        d.set_item("files", t.files)?;
        d.set_item("bytes", t.bytes)?;
        let name = match t.format.as_str() {
            "parquet" | "json" => format!("{}/{}", t.source, t.table),
            f => format!("{}/{} ({f})", t.source, t.table),
        };
        tables.set_item(name, d)?;
    }
    out.set_item("tables", tables)?;
    out.set_item("seconds", report.seconds)?;
    Ok(out)
}

/// Every table obsgen generates, as `source/table`.
#[pyfunction]
fn table_names() -> Vec<String> {
    obsgen::sources::registry()
        .iter()
        .map(|t| format!("{}/{}", t.source().as_str(), t.name()))
        .collect()
}

#[pymodule]
fn _obsgen(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(_generate, m)?)?;
    m.add_function(wrap_pyfunction!(_generate_to, m)?)?;
    m.add_function(wrap_pyfunction!(table_names, m)?)?;
    Ok(())
}
