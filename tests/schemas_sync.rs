//! Keeps `schemas/<source>/<table>.yaml` in sync with the Arrow schemas of the tables in
//! `obsgen::sources::registry()` and of the ground-truth tables (`schemas/labels/records.yaml`,
//! `incidents.yaml`, `incident_edges.yaml`, `templates.yaml`): every table has a file, every file has a table,
//! and each file lists exactly the table's columns (names, order, Arrow types as printed by
//! `Display`, nullability), each with a non-empty description and example.

use arrow::datatypes::SchemaRef;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The ground-truth tables written under `OUT/labels/`, documented in `schemas/labels/`.
fn label_tables() -> Vec<(&'static str, &'static str, SchemaRef)> {
    vec![
        ("labels", "records", obsgen::labels::records_schema()),
        (
            "labels",
            "incidents",
            obsgen::incidents::report::incidents_schema(),
        ),
        (
            "labels",
            "incident_edges",
            obsgen::incidents::report::edges_schema(),
        ),
        (
            "labels",
            "templates",
            obsgen::log_templates::templates_schema(),
        ),
    ]
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TableDoc {
    source: String,
    table: String,
    description: String,
    #[serde(default)]
    jsonl: Option<JsonlDoc>,
    columns: Vec<ColumnDoc>,
}

/// How a source table is exported as JSON Lines (`--format jsonl`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonlDoc {
    /// What one line is, in the real system's terms.
    shape: String,
    /// JSON pointer to the line's record key (an array there lists several records).
    record_key: String,
    /// The column of the table holding the same values, row for row.
    joins: String,
    /// One line of a generated file (it must parse and hold `record_key`).
    example: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ColumnDoc {
    name: String,
    #[serde(rename = "type")]
    data_type: String,
    nullable: bool,
    description: String,
    example: String,
}

fn schemas_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas")
}

/// Every `*.yaml` / `*.yml` file under `dir`, recursively, sorted.
fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read directory {}: {e}", dir.display()));
    for entry in entries {
        let path = entry
            .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
            .path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            out.push(path);
        }
    }
}

/// Checks one table's yaml against its Arrow schema, pushing one message per problem.
fn check_table(source: &str, name: &str, schema: &SchemaRef, errors: &mut Vec<String>) {
    let id = format!("{source}/{name}");
    let path = schemas_dir().join(source).join(format!("{name}.yaml"));
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            errors.push(format!(
                "{id}: no schema file {} ({e}); write one listing every column",
                path.display()
            ));
            return;
        }
    };
    let doc: TableDoc = match serde_saphyr::from_str(&text) {
        Ok(d) => d,
        Err(e) => {
            errors.push(format!("{id}: cannot parse {}: {e}", path.display()));
            return;
        }
    };
    if doc.source != source {
        errors.push(format!(
            "{id}: `source` is `{}` in the yaml, expected `{source}`",
            doc.source
        ));
    }
    if doc.table != name {
        errors.push(format!(
            "{id}: `table` is `{}` in the yaml, expected `{name}`",
            doc.table
        ));
    }
    if doc.description.trim().is_empty() {
        errors.push(format!("{id}: the table description is empty"));
    }

    let fields = schema.fields();
    match (&doc.jsonl, source) {
        (None, "labels") => {}
        (Some(_), "labels") => errors.push(format!("{id}: label tables have no `jsonl` export")),
        (None, _) => errors.push(format!(
            "{id}: no `jsonl:` section (shape, record_key, joins, example of the native export)"
        )),
        (Some(j), _) => {
            if j.shape.trim().is_empty() {
                errors.push(format!("{id}: jsonl.shape is empty"));
            }
            if !fields.iter().any(|f| f.name() == &j.joins) {
                errors.push(format!("{id}: jsonl.joins `{}` is not a column", j.joins));
            }
            match serde_json::from_str::<serde_json::Value>(&j.example) {
                Ok(v) if v.pointer(&j.record_key).is_some() => {}
                Ok(_) => errors.push(format!(
                    "{id}: jsonl.example has nothing at record_key `{}`",
                    j.record_key
                )),
                Err(e) => errors.push(format!("{id}: jsonl.example is not JSON: {e}")),
            }
        }
    }
    let expected: Vec<&str> = fields.iter().map(|f| f.name().as_str()).collect();
    let documented: Vec<&str> = doc.columns.iter().map(|c| c.name.as_str()).collect();
    if expected != documented {
        let exp: BTreeSet<&str> = expected.iter().copied().collect();
        let doc_set: BTreeSet<&str> = documented.iter().copied().collect();
        for missing in exp.difference(&doc_set) {
            errors.push(format!(
                "{id}: column `{missing}` is in the schema but not in the yaml"
            ));
        }
        for extra in doc_set.difference(&exp) {
            errors.push(format!(
                "{id}: column `{extra}` is in the yaml but not in the schema"
            ));
        }
        if exp == doc_set {
            errors.push(format!(
                "{id}: columns are out of order (or repeated):\n    schema: {expected:?}\n    yaml:   {documented:?}"
            ));
        }
    }

    for col in &doc.columns {
        let Some(field) = fields.iter().find(|f| f.name() == &col.name) else {
            continue;
        };
        let c = &col.name;
        let ty = field.data_type().to_string();
        if col.data_type != ty {
            errors.push(format!(
                "{id}: column `{c}`: type is `{}` in the yaml, the schema has `{ty}`",
                col.data_type
            ));
        }
        if col.nullable != field.is_nullable() {
            errors.push(format!(
                "{id}: column `{c}`: nullable is {} in the yaml, the schema has {}",
                col.nullable,
                field.is_nullable()
            ));
        }
        if col.description.trim().is_empty() {
            errors.push(format!("{id}: column `{c}`: empty description"));
        }
        if col.example.trim().is_empty() {
            errors.push(format!("{id}: column `{c}`: empty example"));
        }
    }
}

#[test]
fn schema_files_match_table_schemas() {
    let mut errors = Vec::new();
    let registry = obsgen::sources::registry();
    assert!(!registry.is_empty(), "the registry has no tables");
    for table in &registry {
        check_table(
            table.source().as_str(),
            table.name(),
            &table.schema(),
            &mut errors,
        );
    }
    for (source, name, schema) in label_tables() {
        check_table(source, name, &schema, &mut errors);
    }

    // No yaml file may describe a table that does not exist.
    let known: BTreeSet<PathBuf> = registry
        .iter()
        .map(|t| {
            schemas_dir()
                .join(t.source().as_str())
                .join(format!("{}.yaml", t.name()))
        })
        .chain(
            label_tables()
                .into_iter()
                .map(|(source, name, _)| schemas_dir().join(source).join(format!("{name}.yaml"))),
        )
        .collect();
    let mut files = Vec::new();
    yaml_files(&schemas_dir(), &mut files);
    files.sort();
    for file in files {
        if !known.contains(&file) {
            let rel = file.strip_prefix(schemas_dir()).unwrap_or(&file);
            errors.push(format!(
                "schemas/{}: no such table in obsgen::sources::registry() \
                 nor among the label tables (expected schemas/<source>/<table>.yaml for an existing table)",
                rel.display()
            ));
        }
    }

    assert!(
        errors.is_empty(),
        "schemas/ is out of sync with the table schemas ({} problem(s)):\n  - {}",
        errors.len(),
        errors.join("\n  - ")
    );
}
