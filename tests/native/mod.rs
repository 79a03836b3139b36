//! Helpers for the tests of the JSON Lines export (`--format jsonl`): generating a
//! dataset with both formats, reading `.jsonl.gz` and Parquet back, and validating JSON
//! against the real systems' schemas (copied under `tests/fixtures/schemas/`, see the
//! PROVENANCE.txt there).
// Each test binary uses a subset of these helpers.
#![allow(dead_code)]

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::DataType;
use assert_cmd::Command;
use serde_json::Value;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Runs `obsgen generate --format parquet,jsonl` into `dir` for `hours` hours from the
/// configuration's default start (a full default day with 24), for `sources`
/// (comma-separated, or all when empty).
pub fn generate(dir: &Path, sources: &str, hours: u32, threads: u32) {
    let mut cmd = Command::cargo_bin("obsgen").expect("obsgen binary");
    cmd.args(["generate", "--format", "parquet,jsonl", "--duration-hours"])
        .arg(hours.to_string())
        .args(["--threads", &threads.to_string(), "--output-dir"])
        .arg(dir);
    if !sources.is_empty() {
        cmd.args(["--sources", sources]);
    }
    let out = cmd.output().expect("run obsgen");
    assert!(
        out.status.success(),
        "obsgen generate failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every file under `dir` with a name ending in `suffix`, sorted by path.
pub fn files_under(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, suffix: &str, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, suffix, out);
            } else if p.to_string_lossy().ends_with(suffix) {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, suffix, &mut out);
    out.sort();
    out
}

/// The hourly `.jsonl.gz` files of a table, in time order.
pub fn jsonl_files(root: &Path, source: &str, table: &str) -> Vec<PathBuf> {
    files_under(&root.join("jsonl").join(source).join(table), ".jsonl.gz")
}

/// The hourly Parquet files of a table, in time order.
pub fn parquet_files(root: &Path, source: &str, table: &str) -> Vec<PathBuf> {
    files_under(&root.join(source).join(table), ".parquet")
}

/// The lines of a `.jsonl.gz` file.
pub fn read_lines(path: &Path) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(&bytes[..])
        .read_to_string(&mut text)
        .unwrap_or_else(|e| panic!("{}: not gzip UTF-8 text: {e}", path.display()));
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "{}: the last line is not terminated",
        path.display()
    );
    text.lines().map(str::to_string).collect()
}

/// The lines of a `.jsonl.gz` file, parsed (each must be JSON).
pub fn parse_lines(path: &Path) -> Vec<Value> {
    read_lines(path)
        .iter()
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("{}:{}: not JSON: {e}", path.display(), i + 1))
        })
        .collect()
}

/// A table's hours in time order: (JSONL path, Parquet batch, parsed lines), after checking
/// there are `hours` files of each format.
pub fn table_hours(
    root: &Path,
    source: &str,
    table: &str,
    hours: usize,
) -> impl Iterator<Item = (PathBuf, RecordBatch, Vec<Value>)> {
    let pq = parquet_files(root, source, table);
    let js = jsonl_files(root, source, table);
    assert_eq!(pq.len(), hours, "{source}/{table}: parquet files");
    assert_eq!(js.len(), hours, "{source}/{table}: jsonl files");
    pq.into_iter().zip(js).map(|(p, j)| {
        let batch = read_parquet(&p);
        let lines = parse_lines(&j);
        (j, batch, lines)
    })
}

/// Every line of a table's JSONL files, parsed, in file order.
pub fn read_values(root: &Path, source: &str, table: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for f in jsonl_files(root, source, table) {
        for (i, line) in read_lines(&f).iter().enumerate() {
            let v: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{}:{}: not JSON: {e}\n{line}", f.display(), i + 1));
            assert!(
                v.is_object(),
                "{}:{}: not a JSON object",
                f.display(),
                i + 1
            );
            out.push(v);
        }
    }
    out
}

pub use crate::common::read_parquet;

/// A column of a Parquet file as text (strings as they are, other types as displayed;
/// nulls as `None`).
pub fn column_text(batch: &RecordBatch, name: &str) -> Vec<Option<String>> {
    let col = batch
        .column_by_name(name)
        .unwrap_or_else(|| panic!("no column `{name}`"));
    match col.data_type() {
        DataType::Utf8 => col
            .as_string::<i32>()
            .iter()
            .map(|v| v.map(str::to_string))
            .collect(),
        _ => {
            let fmt =
                arrow::util::display::ArrayFormatter::try_new(col.as_ref(), &Default::default())
                    .expect("formatter");
            (0..col.len())
                .map(|i| (!col.is_null(i)).then(|| fmt.value(i).to_string()))
                .collect()
        }
    }
}

/// A table's `jsonl:` documentation in `schemas/<source>/<table>.yaml`:
/// (record_key JSON pointer, joined column).
pub fn documented_key(source: &str, table: &str) -> (String, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join(source)
        .join(format!("{table}.yaml"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc: Value =
        serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let j = &doc["jsonl"];
    let key = j["record_key"]
        .as_str()
        .unwrap_or_else(|| panic!("{}: no jsonl.record_key", path.display()));
    let joins = j["joins"]
        .as_str()
        .unwrap_or_else(|| panic!("{}: no jsonl.joins", path.display()));
    (key.to_string(), joins.to_string())
}

/// The record keys a line holds at `pointer` (a string or number, or an array of strings).
pub fn keys_at(v: &Value, pointer: &str) -> Vec<String> {
    match v.pointer(pointer) {
        Some(Value::String(s)) => vec![s.clone()],
        // Numeric ids (Grafana annotation ids) compare with the column as displayed.
        Some(Value::Number(n)) => vec![n.to_string()],
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .unwrap_or_else(|| panic!("non-string key in {pointer}"))
                    .to_string()
            })
            .collect(),
        other => panic!("line has no string key at {pointer} (found {other:?}): {v}"),
    }
}

/// A schema file of `tests/fixtures/schemas/`.
pub fn fixture_schema(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/schemas")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A draft-07 validator for a JSON Schema fixture (Sentry event, Grafana frame, EMF).
pub fn draft7_validator(name: &str) -> jsonschema::Validator {
    let schema = fixture_schema(name);
    jsonschema::draft7::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|e| panic!("{name}: not a valid schema: {e}"))
}

/// A draft-04 validator for the core/v1 Event definition of the Kubernetes OpenAPI subset.
pub fn k8s_event_validator() -> jsonschema::Validator {
    let api = fixture_schema("k8s-events-openapi-v2-subset.json");
    let schema = serde_json::json!({
        "$ref": "#/definitions/io.k8s.api.core.v1.Event",
        "definitions": api["definitions"],
    });
    jsonschema::draft4::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|e| panic!("k8s Event: not a valid schema: {e}"))
}

/// Validates every value; panics with the first few failures (and how many failed).
pub fn assert_all_valid<'a>(
    validator: &jsonschema::Validator,
    what: &str,
    values: impl IntoIterator<Item = &'a Value>,
) -> usize {
    let mut n = 0;
    let mut failures = Vec::new();
    let mut failed = 0;
    for v in values {
        n += 1;
        let errs: Vec<String> = validator
            .iter_errors(v)
            .take(5)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        if !errs.is_empty() {
            failed += 1;
            if failures.len() < 3 {
                failures.push(format!("{}\n  in {v}", errs.join("\n  ")));
            }
        }
    }
    assert!(
        failed == 0,
        "{failed} of {n} {what} fail the schema:\n{}",
        failures.join("\n")
    );
    n
}

/// The keys of a JSON object (panics on anything else).
pub fn keys(v: &Value) -> std::collections::BTreeSet<&str> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect()
}

/// A set of keys, to compare with [`keys`].
pub fn set<'a>(k: &[&'a str]) -> std::collections::BTreeSet<&'a str> {
    k.iter().copied().collect()
}
