//! Grading models on a dataset: `obsgen score` (detection, root-cause, log-parsing and
//! incident-clustering predictions against the ground truth) and `obsgen split` (chronological train / validation / test
//! parts). Formats and metric definitions: `schemas/predictions.md`.
//!
//! The scorer reads the dataset with the parquet crate's Arrow reader (the crates the
//! generator builds anyway) and joins predictions to rows on a 64-bit hash of the
//! `record_id`.

pub mod affiliation;
pub mod cluster;
pub mod detect;
pub mod metrics;
pub mod parse;
pub mod rca;
pub mod read;
pub mod split;
pub mod truth;

pub use split::{Intervals, SplitOptions, Splits};
pub use truth::Truth;
