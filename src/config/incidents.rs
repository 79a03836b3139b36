//! `incident_patterns.yaml`: the incident catalogue and the arrival schedule.

use super::{
    ConfigError, Fraction, Language, NonNeg, Positive, ServiceKind, ServicesConfig, invalid_at,
};
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::path::Path;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentPatterns {
    pub schedule: IncidentSchedule,
    /// Near misses of the normal world (see `incidents::IncidentPlan`).
    #[serde(default)]
    pub background: NearMisses,
    pub types: Vec<IncidentType>,
}

/// Short, mild episodes of the incident types that the normal world lives through (an
/// isolated pool timeout, a lag blip, a lone OOM kill): part of the counterfactual twin
/// too, never labelled.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NearMisses {
    pub episodes_per_day: NonNeg,
    /// Share of an incident's strength they act with, drawn uniformly in [min, max].
    pub strength: StrengthRange,
    pub duration_minutes: DurationDist,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrengthRange {
    pub min: Fraction,
    pub max: Fraction,
}

/// None unless the configuration asks for them.
impl Default for NearMisses {
    fn default() -> Self {
        NearMisses {
            episodes_per_day: NonNeg(0.0),
            strength: StrengthRange {
                min: Fraction(0.1),
                max: Fraction(0.4),
            },
            duration_minutes: DurationDist {
                min: Positive(1.0),
                median: Positive(3.0),
                max: Positive(10.0),
                spread: None,
            },
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentSchedule {
    /// `false` renders the counterfactual twin: the same world (topology, traffic,
    /// requests, routine deploys, background noise) with no incident at all.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    pub incidents_per_day: NonNeg,
    pub target_active_fraction: Fraction,
    pub max_overlap: u32,
    /// About this share of incidents overlap another (never more than `max_overlap` at
    /// once); default 0: incidents avoid each other.
    #[serde(default)]
    pub overlap_share: Fraction,
    /// Of the incidents placed to overlap another, the share that hit the same service
    /// (where the type can); default 0.
    #[serde(default)]
    pub same_service_share: Fraction,
}

fn enabled_by_default() -> bool {
    true
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RootCauseKind {
    Pod,
    Deployment,
    Service,
    Node,
    AwsResource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Sev1,
    Sev2,
    Sev3,
    Sev4,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentType {
    #[serde(rename = "type")]
    pub name: Spanned<String>,
    pub root_cause: RootCauseKind,
    /// The metric or log template that shows the root cause best.
    pub indicator: String,
    pub weight: NonNeg,
    /// Weight among the near misses (default: `weight`; 0: never a near miss).
    #[serde(default)]
    pub background_weight: Option<NonNeg>,
    pub severities: Vec<Severity>,
    pub duration_minutes: DurationDist,
    /// Load-driven (a pool, a queue, a CPU limit gives way under load): starts follow the
    /// day's traffic curve rather than the clock. Default false.
    #[serde(default)]
    pub follows_traffic: bool,
    pub phases: PhaseSplit,
    #[serde(default)]
    pub targets: Targets,
    pub propagation: Propagation,
    pub effects: Effects,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DurationDist {
    pub min: Positive,
    pub median: Positive,
    pub max: Positive,
    /// Log-normal sigma around the median (default 0.45): above 1 the tail is long, a
    /// few incidents lasting many times the median.
    #[serde(default)]
    pub spread: Option<Positive>,
}

impl DurationDist {
    /// The log-normal sigma of the draw.
    pub fn sigma(&self, default: f64) -> f64 {
        self.spread.map_or(default, |s| s.0)
    }
}

/// Share of the incident's duration spent in each phase (must sum to 1).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhaseSplit {
    pub precursor: Fraction,
    pub onset: Fraction,
    pub peak: Fraction,
    pub recovery: Fraction,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Targets {
    #[serde(default)]
    pub languages: Vec<Language>,
    #[serde(default)]
    pub kinds: Vec<ServiceKind>,
    /// AWS resource kinds for `aws_resource` root causes: rds, sqs, dynamodb, lambda, load_balancer.
    #[serde(default)]
    pub aws: Vec<AwsKind>,
    /// Explicit service names (empty: any service matching the other filters).
    #[serde(default)]
    pub services: Vec<Spanned<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AwsKind {
    Rds,
    Sqs,
    Dynamodb,
    Lambda,
    LoadBalancer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PropagationDirection {
    /// Services that call the root cause see the failure.
    Callers,
    /// Services that consume the root-cause queue.
    Consumers,
    /// Pods resident on the root-cause node.
    Residents,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Propagation {
    pub direction: PropagationDirection,
    pub lag_seconds: NonNeg,
    pub max_depth: u32,
}

/// The effect names per source; each must be one the generators implement.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Effects {
    #[serde(default)]
    pub kubernetes: Vec<Spanned<String>>,
    #[serde(default)]
    pub sentry: Vec<Spanned<String>>,
    #[serde(default)]
    pub cloudwatch: Vec<Spanned<String>>,
    #[serde(default)]
    pub grafana: Vec<Spanned<String>>,
}

/// The effect names each source knows.
pub const KNOWN_EFFECTS: [(&str, &[&str]); 4] = [
    (
        "kubernetes",
        &[
            "memory_growth",
            "gc_pressure_logs",
            "oom_kill",
            "restart_backoff",
            "bad_rollout",
            "crash_loop",
            "probe_failures",
            "rollback",
            "pool_timeout_logs",
            "latency_logs",
            "cpu_throttling",
            "upstream_timeout_logs",
            "connection_refused_logs",
            "node_condition",
            "eviction",
            "disk_full_logs",
            "tls_handshake_logs",
            "consumer_lag_logs",
            "node_not_ready",
            "pod_rescheduling",
        ],
    ),
    (
        "sentry",
        &[
            "out_of_memory_errors",
            "new_release_regression",
            "pool_timeout_errors",
            "slow_transactions",
            "timeout_errors",
            "connection_errors",
            "io_errors",
            "ssl_errors",
            "job_timeout_errors",
        ],
    ),
    (
        "cloudwatch",
        &[
            "alb_latency",
            "alb_5xx",
            "alarm",
            "rds_connections",
            "ec2_disk",
            "sqs_backlog",
            "ec2_status_check",
        ],
    ),
    ("grafana", &["alert_annotation", "deploy_annotation"]),
];

impl IncidentPatterns {
    pub(super) fn validate(
        &self,
        file: &Path,
        services: &ServicesConfig,
    ) -> Result<(), ConfigError> {
        if self.types.is_empty() {
            return Err(invalid_at(
                file,
                "types",
                None,
                "at least one incident type is required",
            ));
        }
        if self.schedule.max_overlap == 0 {
            return Err(invalid_at(
                file,
                "schedule.max_overlap",
                None,
                "must be at least 1",
            ));
        }
        for (i, t) in self.types.iter().enumerate() {
            let p = format!("types[{i}]");
            let at = Some(&t.name.referenced);
            if self.types[..i].iter().any(|o| o.name.value == t.name.value) {
                return Err(invalid_at(
                    file,
                    format!("{p}.type"),
                    at,
                    format!("incident type `{}` is defined twice", t.name.value),
                ));
            }
            let d = t.duration_minutes;
            if !(d.min.0 <= d.median.0 && d.median.0 <= d.max.0) {
                return Err(invalid_at(
                    file,
                    format!("{p}.duration_minutes"),
                    at,
                    "needs min <= median <= max",
                ));
            }
            let ph = t.phases;
            let sum = ph.precursor.0 + ph.onset.0 + ph.peak.0 + ph.recovery.0;
            if (sum - 1.0).abs() > 1e-6 {
                return Err(invalid_at(
                    file,
                    format!("{p}.phases"),
                    at,
                    format!("phase shares must sum to 1, they sum to {sum}"),
                ));
            }
            if t.severities.is_empty() {
                return Err(invalid_at(
                    file,
                    format!("{p}.severities"),
                    at,
                    "at least one severity is required",
                ));
            }
            for (j, s) in t.targets.services.iter().enumerate() {
                if !services.services.iter().any(|x| x.name.value == s.value) {
                    return Err(invalid_at(
                        file,
                        format!("{p}.targets.services[{j}]"),
                        Some(&s.referenced),
                        format!("unknown service `{}`", s.value),
                    ));
                }
            }
            let lists = [
                ("kubernetes", &t.effects.kubernetes),
                ("sentry", &t.effects.sentry),
                ("cloudwatch", &t.effects.cloudwatch),
                ("grafana", &t.effects.grafana),
            ];
            for ((source, list), (_, known)) in lists.iter().zip(KNOWN_EFFECTS.iter()) {
                for (j, e) in list.iter().enumerate() {
                    if !known.contains(&e.value.as_str()) {
                        return Err(invalid_at(
                            file,
                            format!("{p}.effects.{source}[{j}]"),
                            Some(&e.referenced),
                            format!(
                                "unknown {source} effect `{}`; known: {}",
                                e.value,
                                known.join(", ")
                            ),
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}
