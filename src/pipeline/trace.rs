//! `generate --trace FILE`: when each partition and each day's world was made, and on
//! which worker, one JSON line each, for the scaling model (`benches/scaling.py`). The
//! clock is read only for this file; what the run writes is the same without it.

use crate::error::Error;
use crate::time::{Micros, rfc3339_string};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

pub(super) struct Trace {
    out: Mutex<BufWriter<std::fs::File>>,
    path: PathBuf,
    began: Instant,
}

impl Trace {
    pub(super) fn create(path: &Path) -> Result<Trace, Error> {
        let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
        Ok(Trace {
            out: Mutex::new(BufWriter::new(file)),
            path: path.to_path_buf(),
            began: Instant::now(),
        })
    }

    /// Runs `f` and records it: `kind` (`partition` or `world`), `name` (the table, or
    /// empty), `hour` (the partition's hour, or the world's day).
    pub(super) fn span<T>(
        trace: Option<&Trace>,
        kind: &str,
        name: &str,
        hour: Micros,
        f: impl FnOnce() -> T,
    ) -> Result<T, Error> {
        let Some(trace) = trace else {
            return Ok(f());
        };
        let start = trace.began.elapsed();
        let value = f();
        let end = trace.began.elapsed();
        let line = format!(
            "{{\"kind\":\"{kind}\",\"name\":\"{name}\",\"hour\":\"{}\",\"worker\":{},\"start_us\":{},\"end_us\":{}}}\n",
            rfc3339_string(hour),
            rayon::current_thread_index().map_or(-1, |i| i as i64),
            start.as_micros(),
            end.as_micros()
        );
        let mut out = trace
            .out
            .lock()
            .map_err(|_| Error::Other("the trace's writer panicked".into()))?;
        out.write_all(line.as_bytes())
            .map_err(|e| Error::io(&trace.path, e))?;
        Ok(value)
    }

    pub(super) fn finish(self) -> Result<(), Error> {
        let out = self
            .out
            .into_inner()
            .map_err(|_| Error::Other("the trace's writer panicked".into()))?;
        out.into_inner()
            .map_err(|e| Error::io(&self.path, e.into_error()))?
            .sync_all()
            .map_err(|e| Error::io(&self.path, e))
    }
}
