//! The library's error type.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("{0}")]
    Invalid(String),
    /// The guard refused a run before anything was written: it would not fit the disk
    /// or the memory, or asks for too many threads (`--no-guard` overrides).
    #[error("{0}")]
    Guard(String),
    /// `--resume` cannot continue what is in the output directory.
    #[error("{0}")]
    Resume(String),
    /// A run stopped by SIGINT or SIGTERM: the partitions complete are recorded in the
    /// progress journal, no manifest was written.
    #[error(
        "interrupted by {}: {complete} of {total} partitions complete (recorded in {}); rerun with --resume to render the other {}",
        signal.name(),
        journal.display(),
        total - complete
    )]
    Interrupted {
        signal: crate::interrupt::Signal,
        complete: u64,
        total: u64,
        journal: PathBuf,
    },
    /// A run that failed after some partitions were complete (a full disk, say): they are
    /// recorded in the progress journal, `--resume` continues once the cause is fixed.
    #[error(
        "{cause}\n{complete} of {total} partitions complete (recorded in {}): rerun with --resume once the cause is fixed",
        journal.display()
    )]
    Incomplete {
        /// What stopped the run (shown in full: the message holds it).
        cause: Box<Error>,
        complete: u64,
        total: u64,
        journal: PathBuf,
    },
    /// `obsgen manifest merge` found parts that do not make one complete dataset: each
    /// problem names its check (missing parts, checksum mismatch, stray data files...).
    #[error("the parts do not make one complete dataset:\n  {}", problems.join("\n  "))]
    Merge { problems: Vec<String> },
    #[error("{0}")]
    Other(String),
}

impl Error {
    pub fn io(path: &Path, source: std::io::Error) -> Error {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
