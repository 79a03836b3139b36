//! Sinks: where rendered batches go. Parquet files (written under a temporary name and
//! renamed when complete) and the run manifest.

pub mod manifest;
pub mod parquet;

pub use manifest::{FileEntry, Manifest};
pub use parquet::{Compression, write_parquet};
