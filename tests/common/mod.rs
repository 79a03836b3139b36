//! Helpers shared by the integration tests.

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
