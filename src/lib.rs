//! obsgen: synthetic, correlated, labelled observability datasets.
//!
//! Flow: [`config::Config`] → [`world::World::plan`] (topology, pods, traffic, requests)
//! → [`sources::Table::render`] per (source, table, hour) partition → [`sink`] (Parquet,
//! manifest), orchestrated in parallel by [`pipeline::generate`].

pub mod config;
pub mod contract;
pub mod dataset;
pub mod error;
pub mod export;
pub mod incidents;
pub mod inspect;
pub mod interrupt;
pub mod invariants;
pub mod labels;
pub mod log_templates;
pub mod pipeline;
pub mod report;
pub mod rng;
pub mod score;
pub mod sink;
pub mod sources;
pub mod time;
pub mod world;

pub use error::Error;
