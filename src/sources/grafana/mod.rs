//! The Grafana source: the points of dashboard panels (Prometheus panels over the
//! Kubernetes container metrics, CloudWatch panels over the CloudWatch datapoints) and
//! dashboard annotations (deploys, alert state changes, manual notes).

mod annotations;
mod native;
mod panel_series;

pub use annotations::Annotations;
pub use panel_series::PanelSeries;
