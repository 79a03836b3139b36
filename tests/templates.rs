//! The log template ground truth: `labels/templates.parquet` has one row per template id,
//! every pod_logs and cloudwatch/logs line matches the text of its template (`<*>` any
//! text), one id never covers two layouts, and a default day uses a vocabulary of
//! hundreds of templates with long-tailed frequencies.

mod common;

use arrow::array::{Array, StringArray, UInt32Array};
use assert_cmd::Command;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

fn strings<'a>(b: &'a arrow::record_batch::RecordBatch, name: &str) -> &'a StringArray {
    b.column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        .unwrap_or_else(|| panic!("column {name}"))
}

/// Whether `line` is `template` with each `<*>` replaced by some text.
fn matches(template: &str, line: &str) -> bool {
    let parts: Vec<&str> = template.split("<*>").collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if parts.len() == 1 {
        return line == template;
    }
    if !line.starts_with(first) || !line.ends_with(last) || line.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &line[first.len()..line.len() - last.len()];
    for p in &parts[1..parts.len() - 1] {
        match rest.find(p) {
            Some(i) => rest = &rest[i + p.len()..],
            None => return false,
        }
    }
    true
}

#[test]
fn the_matcher() {
    assert!(matches("a <*> b", "a x y b"));
    assert!(matches("<*> b <*>", "x b y"));
    assert!(!matches("a <*> b", "a x c"));
    assert!(matches("x", "x"));
    assert!(!matches("a<*>b<*>c", "abc-"));
    assert!(matches("a<*>b<*>c", "a1b2b3c"));
}

fn generate(dir: &Path) {
    let out = Command::cargo_bin("obsgen")
        .expect("binary")
        .args(["generate", "--seed", "11", "--start", "2026-11-02"])
        .args(["--threads", "2", "--sources", "kubernetes,cloudwatch"])
        .arg("-o")
        .arg(dir)
        .output()
        .expect("run obsgen");
    assert!(
        out.status.success(),
        "generate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_line_matches_its_template_and_the_vocabulary_is_large() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    generate(dir);
    let t = common::read_parquet(&dir.join("labels/templates.parquet"));
    let (id, source, table, layout, text) = (
        strings(&t, "template_id"),
        strings(&t, "source"),
        strings(&t, "table"),
        strings(&t, "layout"),
        strings(&t, "template"),
    );
    let params = t
        .column_by_name("parameters")
        .and_then(|c| c.as_any().downcast_ref::<UInt32Array>())
        .expect("parameters");
    let mut templates: HashMap<String, (String, String)> = HashMap::new();
    for i in 0..t.num_rows() {
        let key = format!("{}/{}:{}", source.value(i), table.value(i), id.value(i));
        assert_eq!(
            params.value(i) as usize,
            text.value(i).matches("<*>").count(),
            "{key}"
        );
        if table.value(i) == "pod_logs" {
            assert!(
                id.value(i).starts_with(&format!("{}/", layout.value(i))),
                "{key}: the id names its layout {}",
                layout.value(i)
            );
        }
        let old = templates.insert(key.clone(), (text.value(i).into(), layout.value(i).into()));
        assert!(old.is_none(), "{key} twice");
    }
    let mut used: BTreeMap<String, u64> = BTreeMap::new();
    let mut lines = 0u64;
    for (src, tbl) in [("kubernetes", "pod_logs"), ("cloudwatch", "logs")] {
        let root = dir.join(src).join(tbl);
        for rel in common::list_files(&root) {
            let b = common::read_parquet(&root.join(&rel));
            let (tid, msg) = (strings(&b, "template_id"), strings(&b, "message"));
            for r in 0..b.num_rows() {
                let key = format!("{src}/{tbl}:{}", tid.value(r));
                let (text, _) = templates
                    .get(&key)
                    .unwrap_or_else(|| panic!("{rel}: {key} is not in labels/templates.parquet"));
                assert!(
                    matches(text, msg.value(r)),
                    "{rel}: the line does not match {key}\n  template: {text:?}\n  line:     {:?}",
                    msg.value(r)
                );
                // The JSON loggers' lines are JSON objects.
                let layout = tid.value(r).split('/').next().unwrap_or("");
                if ["zap", "pino", "structlog", "logstash"].contains(&layout) {
                    let v: Result<serde_json::Value, _> = serde_json::from_str(msg.value(r));
                    assert!(
                        v.is_ok_and(|v| v.is_object()),
                        "{rel}: {key} is not a JSON object: {}",
                        msg.value(r)
                    );
                }
                *used.entry(key).or_default() += 1;
                lines += 1;
            }
        }
    }
    // The vocabulary of a day, and its long tail.
    let n = used.len();
    let mut freq: Vec<u64> = used.values().copied().collect();
    freq.sort_unstable_by(|a, b| b.cmp(a));
    let top = freq[..n / 10].iter().sum::<u64>() as f64 / lines as f64;
    let rare = freq
        .iter()
        .filter(|&&c| (c as f64) < lines as f64 * 1e-4)
        .count();
    eprintln!(
        "{n} templates used on the day ({} defined), {lines} lines; the top 10% of templates \
         write {:.1}% of the lines, {rare} templates under 1 in 10,000",
        templates.len(),
        top * 100.0
    );
    assert!(n >= 200, "{n} templates used on a day");
    assert!(
        top > 0.6,
        "the top tenth of templates writes {top:.2} of the lines"
    );
    assert!(rare * 4 >= n, "{rare} of {n} templates are rare");
}
