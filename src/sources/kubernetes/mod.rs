//! The Kubernetes source: container logs, cluster events and container metrics.

mod events;
pub mod logfmt;
mod metrics;
mod native;
mod pod_logs;
pub mod templates;
pub mod vocabulary;

pub use events::Events;
pub(crate) use events::{created_by, deleted_by};
pub use metrics::{
    ContainerModel, ContainerSample, Metrics, container_model, container_sample, scrape_times,
};
pub use pod_logs::PodLogs;
