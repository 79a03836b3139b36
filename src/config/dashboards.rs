//! Grafana dashboards of the platform (`dashboards:` in `services_config.yaml`). Each panel
//! reads a series the world already produces: a Kubernetes container metric through
//! Prometheus, or a CloudWatch metric, so its points equal the source's values.

use super::{ConfigError, ServicesConfig, invalid_at};
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::path::Path;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DashboardDef {
    pub uid: Spanned<String>,
    pub title: String,
    #[serde(default)]
    pub tags: Vec<String>,
    pub panels: Vec<PanelDef>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Datasource {
    Prometheus,
    Cloudwatch,
}

/// How a Prometheus panel turns the samples into points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PromFunction {
    /// The latest sample at or before the step.
    #[default]
    Instant,
    /// Per-second increase between the first and last samples of the window.
    Rate,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PanelDef {
    pub id: u32,
    pub title: String,
    pub datasource: Datasource,
    /// Prometheus: a `kubernetes/metrics` column (cAdvisor / kube-state-metrics name).
    /// CloudWatch: the metric name.
    pub metric: Spanned<String>,
    #[serde(default)]
    pub function: PromFunction,
    /// Prometheus rate window in seconds.
    #[serde(default = "default_window")]
    pub window_seconds: u32,
    /// Prometheus: only pods of services in this namespace (all when absent).
    #[serde(default)]
    pub namespace: Option<String>,
    /// CloudWatch namespace (`AWS/ApplicationELB`...).
    #[serde(default)]
    pub cloudwatch_namespace: Option<String>,
    /// CloudWatch: resource ids (all of the namespace when empty).
    #[serde(default)]
    pub resources: Vec<String>,
    /// Display unit (Grafana field config), e.g. `bytes`, `percent`, `s`, `reqps`.
    pub unit: String,
}

fn default_window() -> u32 {
    120
}

/// Kubernetes metric columns a Prometheus panel can plot.
pub const PROMETHEUS_METRICS: [&str; 9] = [
    "container_cpu_usage_seconds_total",
    "container_cpu_cfs_throttled_periods_total",
    "container_memory_working_set_bytes",
    "container_spec_memory_limit_bytes",
    "container_oom_events_total",
    "container_network_receive_bytes_total",
    "container_network_transmit_bytes_total",
    "kube_pod_container_status_restarts_total",
    "kube_pod_container_status_ready",
];

pub(super) fn validate_dashboards(
    file: &Path,
    dashboards: &[DashboardDef],
    cfg: &ServicesConfig,
) -> Result<(), ConfigError> {
    for (i, d) in dashboards.iter().enumerate() {
        let at = Some(&d.uid.referenced);
        if dashboards[..i].iter().any(|o| o.uid.value == d.uid.value) {
            return Err(invalid_at(
                file,
                format!("dashboards[{i}].uid"),
                at,
                format!("dashboard uid `{}` is used twice", d.uid.value),
            ));
        }
        if d.uid.value.is_empty() || d.uid.value.len() > 40 {
            return Err(invalid_at(
                file,
                format!("dashboards[{i}].uid"),
                at,
                "a uid has 1 to 40 characters",
            ));
        }
        for (j, p) in d.panels.iter().enumerate() {
            let path = format!("dashboards[{i}].panels[{j}]");
            let mat = Some(&p.metric.referenced);
            if d.panels[..j].iter().any(|o| o.id == p.id) {
                return Err(invalid_at(
                    file,
                    format!("{path}.id"),
                    mat,
                    format!(
                        "panel id {} is used twice in dashboard `{}`",
                        p.id, d.uid.value
                    ),
                ));
            }
            match p.datasource {
                Datasource::Prometheus => {
                    if !PROMETHEUS_METRICS.contains(&p.metric.value.as_str()) {
                        return Err(invalid_at(
                            file,
                            format!("{path}.metric"),
                            mat,
                            format!(
                                "unknown Kubernetes metric `{}`; known: {}",
                                p.metric.value,
                                PROMETHEUS_METRICS.join(", ")
                            ),
                        ));
                    }
                    if let Some(ns) = &p.namespace
                        && !cfg.services.iter().any(|s| &s.namespace == ns)
                    {
                        return Err(invalid_at(
                            file,
                            format!("{path}.namespace"),
                            mat,
                            format!("no service runs in namespace `{ns}`"),
                        ));
                    }
                    if p.function == PromFunction::Rate && p.window_seconds < 60 {
                        return Err(invalid_at(
                            file,
                            format!("{path}.window_seconds"),
                            mat,
                            "a rate window needs at least 60 seconds",
                        ));
                    }
                }
                Datasource::Cloudwatch => {
                    let Some(ns) = &p.cloudwatch_namespace else {
                        return Err(invalid_at(
                            file,
                            format!("{path}.cloudwatch_namespace"),
                            mat,
                            "a CloudWatch panel needs cloudwatch_namespace",
                        ));
                    };
                    if super::namespace_resource_kind(ns).is_none() {
                        return Err(invalid_at(
                            file,
                            format!("{path}.cloudwatch_namespace"),
                            mat,
                            format!("unsupported namespace `{ns}`"),
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}
