//! Helpers shared by the integration tests.
// Each test binary uses a subset of these helpers.
#![allow(dead_code)]

use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

/// A directory for a test binary's shared fixtures, under `CARGO_TARGET_TMPDIR`, named
/// `<prefix><random>`. Directories with the same prefix older than an hour (left by
/// interrupted runs) are removed first.
pub fn fixture_root(prefix: &'static str) -> &'static Path {
    static ROOT: OnceLock<tempfile::TempDir> = OnceLock::new();
    ROOT.get_or_init(|| {
        let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
        std::fs::create_dir_all(base).expect("create CARGO_TARGET_TMPDIR");
        if let Ok(entries) = std::fs::read_dir(base) {
            let cutoff = SystemTime::now() - Duration::from_secs(3600);
            for e in entries.flatten() {
                let stale = e.file_name().to_string_lossy().starts_with(prefix)
                    && e.metadata()
                        .and_then(|m| m.modified())
                        .is_ok_and(|t| t < cutoff);
                if stale {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in(base)
            .expect("create the fixture directory")
    })
    .path()
}

/// Every regular file under `dir`, as sorted paths relative to `dir` with `/` separators
/// (none when `dir` does not exist).
pub fn list_files(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        let entries =
            std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
        for e in entries {
            let path = e.expect("directory entry").path();
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                let rel = path.strip_prefix(base).expect("path under base");
                let parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                out.push(parts.join("/"));
            }
        }
    }
    let mut out = Vec::new();
    if dir.is_dir() {
        walk(dir, dir, &mut out);
    }
    out.sort();
    out
}

/// One Parquet file as a single batch (an empty file gives an empty batch).
pub fn read_parquet(path: &Path) -> RecordBatch {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap_or_else(|e| panic!("{} is not Parquet: {e}", path.display()));
    let schema = builder.schema().clone();
    let batches: Vec<RecordBatch> = builder
        .build()
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("decode {}: {e}", path.display()));
    arrow::compute::concat_batches(&schema, &batches).expect("concat")
}

/// Runs the obsgen binary with `args` and returns its stdout; the test fails, with the
/// command's stderr, when it fails.
pub fn obsgen_ok(args: &[&str]) -> Vec<u8> {
    let out = assert_cmd::Command::cargo_bin("obsgen")
        .expect("the obsgen binary")
        .args(args)
        .output()
        .expect("run obsgen");
    assert!(
        out.status.success(),
        "obsgen {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
