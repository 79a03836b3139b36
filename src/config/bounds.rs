//! Bounds: the plausible range of every configuration value, the semantic checks of
//! values that parse but cannot be (all weights 0, an invalid CIDR, a level on a codec
//! without levels), and the limits on the products of values that size the run's memory
//! (rates × scale × traffic peak per partition hour; services × planned minutes; pods).
//!
//! [`BOUNDS`] is the one table of per-value ranges: the checks read it, the README's
//! Configuration section documents it (a test keeps them equal), the fuzzer draws edge
//! values from it. Ranges are generous around real values (a user may scale traffic 100×);
//! the product limits, measured, keep any accepted run within a few GB of memory.

use super::locate::{Locations, Position};
use super::{
    ConfigError, GenerationConfig, IncidentPatterns, IncidentSchedule, RootCauseKind,
    ServicesConfig, TrafficShape,
};
use crate::time::{HOUR, Micros};
use std::path::Path;

/// One value's plausible range (inclusive).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bound {
    /// The file the key is in.
    pub file: &'static str,
    /// Key path; `[]` stands for every entry of a list.
    pub key: &'static str,
    pub min: f64,
    pub max: f64,
    /// `value` (a number), or `entries` (the length of a list).
    pub kind: BoundKind,
    /// What the value is, shown with the range in messages and the README.
    pub note: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoundKind {
    Value,
    Entries,
}

impl Bound {
    /// Whether the bound applies to the key path `path` (`services[3].replicas` matches
    /// `services[].replicas`; `traffic.bursts.multiplier.min` matches
    /// `traffic.bursts.multiplier`; `aws.rds` matches `aws.<kind>`).
    pub fn matches(&self, path: &str) -> bool {
        let mut norm = String::with_capacity(path.len());
        let mut chars = path.chars().peekable();
        while let Some(ch) = chars.next() {
            norm.push(ch);
            if ch == '[' {
                while chars.peek().is_some_and(|c| c.is_ascii_digit()) {
                    chars.next();
                }
            }
        }
        let mut alts = self.key.split(", ");
        let first = alts.next().unwrap_or("");
        let prefix = first.rfind('.').map_or("", |i| &first[..=i]);
        std::iter::once(first.to_string())
            .chain(alts.map(|a| format!("{prefix}{a}")))
            .any(|alt| {
                let alt = match alt.split_once("<kind>") {
                    Some((head, tail)) => {
                        let Some(rest) = norm.strip_prefix(head) else {
                            return false;
                        };
                        let seg = rest.find(['.', '[']).unwrap_or(rest.len());
                        format!("{head}{}{tail}", &rest[..seg])
                    }
                    None => alt,
                };
                norm == alt
                    || (self.kind == BoundKind::Value
                        && norm
                            .strip_prefix(alt.as_str())
                            .is_some_and(|r| matches!(r, ".min" | ".median" | ".max")))
            })
    }

    /// `0 – 1`, as the README writes it.
    pub fn range_text(&self) -> String {
        format!("{} – {}", number(self.min), number(self.max))
    }

    fn contains(&self, v: f64) -> bool {
        v >= self.min && v <= self.max
    }

    fn message(&self, v: f64) -> String {
        let note = if self.note.is_empty() {
            String::new()
        } else {
            format!(" ({})", self.note)
        };
        match self.kind {
            BoundKind::Value => format!(
                "must be between {} and {}, got {}{note}",
                number(self.min),
                number(self.max),
                number(v)
            ),
            BoundKind::Entries => format!(
                "must have between {} and {} entries, got {}{note}",
                number(self.min),
                number(self.max),
                number(v)
            ),
        }
    }
}

/// A number as the messages write it: integers without a fraction or exponent.
pub fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

const G: &str = super::GENERATION_FILE;
const S: &str = super::SERVICES_FILE;
const I: &str = super::INCIDENTS_FILE;

const fn value(
    file: &'static str,
    key: &'static str,
    min: f64,
    max: f64,
    note: &'static str,
) -> Bound {
    Bound {
        file,
        key,
        min,
        max,
        kind: BoundKind::Value,
        note,
    }
}

const fn entries(
    file: &'static str,
    key: &'static str,
    min: f64,
    max: f64,
    note: &'static str,
) -> Bound {
    Bound {
        file,
        key,
        min,
        max,
        kind: BoundKind::Entries,
        note,
    }
}

// generation_config.yaml
pub const SCALE: Bound = value(
    G,
    "scale",
    0.0,
    1000.0,
    "multiplies every volume; see the peak-hour limit",
);
pub const NIGHT_LEVEL: Bound = value(
    G,
    "traffic.night_level",
    0.0,
    10.0,
    "relative to the peaks' heights",
);
pub const PEAKS: Bound = entries(G, "traffic.peaks", 0.0, 24.0, "");
pub const PEAK_WIDTH: Bound = value(G, "traffic.peaks[].width", 0.25, 24.0, "hours");
pub const PEAK_HEIGHT: Bound = value(G, "traffic.peaks[].height", 0.0, 10.0, "");
pub const WEEKLY: Bound = value(
    G,
    "traffic.weekly[]",
    0.0,
    10.0,
    "relative factors, normalised to a mean of 1",
);
pub const NOISE_SIGMA: Bound = value(
    G,
    "traffic.noise_sigma",
    0.0,
    1.0,
    "log-normal sigma of the per-minute noise: 0.07 is about ±7%",
);
pub const SERVICE_NOISE_SIGMA: Bound = value(
    G,
    "traffic.service_noise_sigma",
    0.0,
    1.0,
    "log-scale sigma of the per-service jitter: 0.05 is about ±5%",
);
pub const NOISE_MEMORY: Bound = value(
    G,
    "traffic.noise_memory",
    0.0,
    0.9,
    "lag-1 autocorrelation of the noise and jitter (AR(1)), default 0.7; 0 is white",
);
pub const BURSTS_PER_DAY: Bound = value(G, "traffic.bursts.per_day", 0.0, 100.0, "");
pub const BURST_MULTIPLIER: Bound = value(G, "traffic.bursts.multiplier", 0.0, 10.0, "min and max");
pub const BURST_MINUTES: Bound = value(G, "traffic.bursts.minutes", 1.0, 240.0, "min and max");
pub const WEEKEND_DEPLOY_FACTOR: Bound = value(G, "world.weekend_deploy_factor", 0.0, 10.0, "");
pub const RESTARTS_PER_POD_DAY: Bound =
    value(G, "world.container_restarts_per_pod_day", 0.0, 24.0, "");
pub const RESCHEDULES_PER_POD_DAY: Bound = value(G, "world.reschedules_per_pod_day", 0.0, 24.0, "");
pub const BASELINE_ERROR_RATE: Bound = value(G, "world.baseline_error_rate", 0.0, 1.0, "");
pub const BENIGN_WARNING_RATE: Bound = value(G, "world.benign_warning_rate", 0.0, 1.0, "");
pub const REQUESTS_PER_ACCESS_LINE: Bound = value(
    G,
    "world.requests_per_access_line",
    1.0,
    100_000.0,
    "requests the metrics count per request the logs and traces show, default 200",
);
pub const POD_LOG_ROWS: Bound = value(
    G,
    "sources.kubernetes.pod_logs.rows_per_minute",
    0.0,
    100_000.0,
    "at traffic 1.0; see the peak-hour limit",
);
pub const EVENTS_PER_HOUR: Bound = value(
    G,
    "sources.kubernetes.events.background_per_hour",
    0.0,
    10_000.0,
    "",
);
pub const SCRAPE_INTERVAL: Bound = value(
    G,
    "sources.kubernetes.metrics.scrape_interval_seconds",
    1.0,
    3600.0,
    "and must divide an hour",
);
pub const TRACES_SAMPLE_RATE: Bound = value(G, "sources.sentry.traces_sample_rate", 0.0, 1.0, "");
pub const HANDLED_ERRORS: Bound = value(G, "sources.sentry.handled_errors_per_visit", 0.0, 1.0, "");
pub const LAMBDA_PER_MINUTE: Bound = value(
    G,
    "sources.cloudwatch.lambda_invocations_per_minute",
    0.0,
    100_000.0,
    "per function; see the peak-hour limit",
);
pub const VPC_PER_MINUTE: Bound = value(
    G,
    "sources.cloudwatch.vpc_flow_records_per_minute",
    0.0,
    100_000.0,
    "see the peak-hour limit",
);
pub const INSIGHTS_PER_HOUR: Bound = value(
    G,
    "sources.cloudwatch.insights_queries_per_hour",
    0.0,
    1000.0,
    "",
);
pub const INSIGHTS_IN_ALARM: Bound = value(
    G,
    "sources.cloudwatch.insights_queries_per_hour_in_alarm",
    0.0,
    1000.0,
    "",
);
pub const REFRESH_SECONDS: Bound = value(
    G,
    "sources.grafana.refresh_seconds",
    5.0,
    3600.0,
    "Grafana's shortest refresh is 5 s; must divide an hour",
);
pub const NOTES_PER_DAY: Bound = value(G, "sources.grafana.manual_notes_per_day", 0.0, 1000.0, "");
pub const ZSTD_LEVEL: Bound = value(G, "output.zstd_level", 1.0, 22.0, "");
pub const ROW_GROUP_ROWS: Bound = value(G, "output.row_group_rows", 1024.0, 10_000_000.0, "");
pub const JSONL_GZIP_LEVEL: Bound = value(G, "output.jsonl_gzip_level", 0.0, 9.0, "");

// services_config.yaml
pub const NODES: Bound = value(S, "cluster.nodes.count", 1.0, 250.0, "");
pub const NODE_CPU_CORES: Bound = value(
    S,
    "cluster.nodes.cpu_cores",
    1.0,
    448.0,
    "the largest EC2 instances have 448 vCPUs",
);
pub const NODE_MEMORY_GIB: Bound = value(S, "cluster.nodes.memory_gib", 1.0, 24_576.0, "");
pub const AWS_RESOURCES: Bound = entries(
    S,
    "aws.<kind>",
    0.0,
    100.0,
    "each of rds, load_balancers, sqs, dynamodb, lambda",
);
pub const LAMBDA_MEMORY_MB: Bound = value(
    S,
    "aws.lambda[].memory_mb",
    128.0,
    10_240.0,
    "AWS Lambda's limits",
);
pub const SERVICES: Bound = entries(S, "services", 1.0, 200.0, "");
pub const REPLICAS: Bound = value(S, "services[].replicas", 1.0, 100.0, "");
pub const TRAFFIC_SHARE: Bound = value(S, "services[].traffic_share", 0.0, 1000.0, "relative");
pub const ROUTES: Bound = entries(S, "services[].routes", 1.0, 100.0, "");
pub const DEPLOYS_PER_DAY: Bound = value(S, "services[].deploys_per_day", 0.0, 48.0, "");
pub const CPU_MILLICORES: Bound = value(
    S,
    "services[].resources.cpu_request_m, cpu_limit_m",
    1.0,
    448_000.0,
    "the request must also fit on a node",
);
pub const MEMORY_MIB: Bound = value(
    S,
    "services[].resources.memory_request_mib, memory_limit_mib",
    1.0,
    25_165_824.0,
    "the request must also fit on a node",
);
pub const ALARMS: Bound = entries(S, "alarms", 0.0, 500.0, "");
pub const EVALUATION_PERIODS: Bound = value(
    S,
    "alarms[].evaluation_periods",
    1.0,
    1440.0,
    "and evaluation_periods × period_seconds at most one day, as in CloudWatch",
);
pub const DASHBOARDS: Bound = entries(S, "dashboards", 0.0, 100.0, "");
pub const PANELS: Bound = entries(S, "dashboards[].panels", 0.0, 100.0, "");
pub const WINDOW_SECONDS: Bound = value(
    S,
    "dashboards[].panels[].window_seconds",
    1.0,
    86_400.0,
    "a rate window needs at least 60",
);

// incident_patterns.yaml
pub const INCIDENTS_PER_DAY: Bound = value(I, "schedule.incidents_per_day", 0.0, 1000.0, "");
pub const TARGET_ACTIVE: Bound = value(I, "schedule.target_active_fraction", 0.0, 1.0, "");
pub const MAX_OVERLAP: Bound = value(I, "schedule.max_overlap", 1.0, 20.0, "");
pub const OVERLAP_SHARE: Bound = value(
    I,
    "schedule.overlap_share",
    0.0,
    1.0,
    "default 0; only with max_overlap >= 2",
);
pub const SAME_SERVICE_SHARE: Bound = value(
    I,
    "schedule.same_service_share",
    0.0,
    1.0,
    "of the overlapping ones; default 0",
);
pub const NEAR_MISSES_PER_DAY: Bound = value(
    I,
    "background.episodes_per_day",
    0.0,
    1000.0,
    "near misses, unlabelled",
);
pub const NEAR_MISS_STRENGTH: Bound = value(
    I,
    "background.strength",
    0.0,
    1.0,
    "min and max, min <= max",
);
pub const NEAR_MISS_MINUTES: Bound = value(
    I,
    "background.duration_minutes",
    1.0,
    120.0,
    "min, median and max",
);
pub const TYPES: Bound = entries(I, "types", 1.0, 100.0, "");
pub const WEIGHT: Bound = value(I, "types[].weight", 0.0, 1000.0, "relative; not all 0");
pub const BACKGROUND_WEIGHT: Bound = value(
    I,
    "types[].background_weight",
    0.0,
    1000.0,
    "among near misses; default: weight",
);
pub const DURATION_MINUTES: Bound = value(
    I,
    "types[].duration_minutes",
    1.0,
    720.0,
    "min, median and max; incidents never cross midnight",
);
pub const DURATION_SPREAD: Bound = value(
    I,
    "types[].duration_minutes.spread",
    0.05,
    3.0,
    "log-normal sigma; default 0.45",
);
pub const LAG_SECONDS: Bound = value(I, "types[].propagation.lag_seconds", 0.0, 3600.0, "");
pub const MAX_DEPTH: Bound = value(I, "types[].propagation.max_depth", 0.0, 10.0, "");

/// Every per-value bound, in file order.
pub const BOUNDS: &[Bound] = &[
    SCALE,
    NIGHT_LEVEL,
    PEAKS,
    PEAK_WIDTH,
    PEAK_HEIGHT,
    WEEKLY,
    NOISE_SIGMA,
    SERVICE_NOISE_SIGMA,
    NOISE_MEMORY,
    BURSTS_PER_DAY,
    BURST_MULTIPLIER,
    BURST_MINUTES,
    WEEKEND_DEPLOY_FACTOR,
    RESTARTS_PER_POD_DAY,
    RESCHEDULES_PER_POD_DAY,
    BASELINE_ERROR_RATE,
    BENIGN_WARNING_RATE,
    REQUESTS_PER_ACCESS_LINE,
    POD_LOG_ROWS,
    EVENTS_PER_HOUR,
    SCRAPE_INTERVAL,
    TRACES_SAMPLE_RATE,
    HANDLED_ERRORS,
    LAMBDA_PER_MINUTE,
    VPC_PER_MINUTE,
    INSIGHTS_PER_HOUR,
    INSIGHTS_IN_ALARM,
    REFRESH_SECONDS,
    NOTES_PER_DAY,
    ZSTD_LEVEL,
    ROW_GROUP_ROWS,
    JSONL_GZIP_LEVEL,
    NODES,
    NODE_CPU_CORES,
    NODE_MEMORY_GIB,
    AWS_RESOURCES,
    LAMBDA_MEMORY_MB,
    SERVICES,
    REPLICAS,
    TRAFFIC_SHARE,
    ROUTES,
    DEPLOYS_PER_DAY,
    CPU_MILLICORES,
    MEMORY_MIB,
    ALARMS,
    EVALUATION_PERIODS,
    DASHBOARDS,
    PANELS,
    WINDOW_SECONDS,
    INCIDENTS_PER_DAY,
    TARGET_ACTIVE,
    MAX_OVERLAP,
    OVERLAP_SHARE,
    SAME_SERVICE_SHARE,
    NEAR_MISSES_PER_DAY,
    NEAR_MISS_STRENGTH,
    NEAR_MISS_MINUTES,
    TYPES,
    WEIGHT,
    BACKGROUND_WEIGHT,
    DURATION_MINUTES,
    DURATION_SPREAD,
    LAG_SECONDS,
    MAX_DEPTH,
];

// ---------------------------------------------------------------------------------------
// Limits on products of values (per run).

/// Longest run: a year (366 days).
pub const MAX_RANGE_HOURS: i64 = 366 * 24;
/// Earliest and latest instants a run may cover: 1970-01-01 and 10000-01-01 (exclusive).
pub const EARLIEST: Micros = 0;
pub const LATEST: Micros = 253_402_300_800 * 1_000_000;
/// Estimated rows of one table in its busiest hour (one partition, rendered in memory):
/// measured, a peak hour of 5.2 M `kubernetes/pod_logs` rows (scale 200, defaults) peaks at
/// 4.9 GB with 2 threads; the estimate is conservative (about 3.6× the real peak).
pub const MAX_PARTITION_ROWS: f64 = 20_000_000.0;
/// The traffic curve's estimated peak over its mean (diurnal × weekly × bursts × noise).
pub const MAX_TRAFFIC_PEAK: f64 = 50.0;
/// Hard ceiling of the traffic factor of any minute (the mean is 1): the world clamps a
/// minute's traffic to it, so a rare draw of the log-normal noise cannot size a minute's
/// requests. The defaults never reach it: at most about 7 with every normal draw at its
/// extreme (8.6 sigma), about 45 with two full bursts overlapping as well.
pub const MAX_TRAFFIC_FACTOR: f64 = 100.0;
/// Per-service, per-minute traffic slots the world plans (range + 15 days before it).
pub const MAX_TRAFFIC_SLOTS: f64 = 30_000_000.0;
/// Pods the world plans over the range and the 8 days before it (rollouts × replicas).
pub const MAX_PODS: f64 = 1_000_000.0;
/// Background container restarts planned (pods × days × rate).
pub const MAX_RESTARTS: f64 = 5_000_000.0;
/// Node incidents × pods over the plan: each node incident looks for the pods on its node
/// (measured: 2.2e8 pairs, 1400 replicas and 1000 incidents a day over 30 days, plan in
/// 17 s; a year of that would take over 20 minutes).
pub const MAX_INCIDENT_POD_PAIRS: f64 = 300_000_000.0;
/// Pods a node holds (the kubelet's default `max-pods`).
pub const MAX_PODS_PER_NODE: u64 = 110;
/// Longest CloudWatch alarm evaluation window, in seconds (CloudWatch's own limit).
pub const MAX_ALARM_WINDOW_SECONDS: u64 = 86_400;

// ---------------------------------------------------------------------------------------
// Checking.

/// Checks values of one file, pointing at them through its [`Locations`].
pub(super) struct Checker<'a> {
    pub file: &'a Path,
    pub loc: &'a Locations,
}

impl Checker<'_> {
    pub fn at(&self, path: &str) -> Option<Position> {
        self.loc.get(path)
    }

    pub fn error(&self, path: &str, message: impl Into<String>) -> ConfigError {
        let at = self.at(path);
        ConfigError::Invalid {
            file: self.file.to_path_buf(),
            path: path.to_string(),
            line: at.map(|p| p.0),
            column: at.map(|p| p.1),
            message: message.into(),
        }
    }

    /// `v` (the value at `path`) within `b`.
    pub fn num(&self, b: &Bound, path: &str, v: f64) -> Result<(), ConfigError> {
        if b.contains(v) {
            Ok(())
        } else {
            Err(self.error(path, b.message(v)))
        }
    }

    /// The length of the list at `path` within `b`.
    pub fn len(&self, b: &Bound, path: &str, n: usize) -> Result<(), ConfigError> {
        self.num(b, path, n as f64)
    }

    /// No scalar of the file longer than [`super::locate::MAX_SCALAR_CHARS`].
    pub fn scalars(&self) -> Result<(), ConfigError> {
        if let Some((path, pos, n)) = &self.loc.long_scalar {
            return Err(ConfigError::Invalid {
                file: self.file.to_path_buf(),
                path: path.clone(),
                line: Some(pos.0),
                column: Some(pos.1),
                message: format!(
                    "a value of {n} characters; at most {} (names, routes and descriptions are copied into many rows)",
                    super::locate::MAX_SCALAR_CHARS
                ),
            });
        }
        Ok(())
    }
}

fn is_dns_label(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// `"10.0"`: the first two octets of the VPC's /16, each 0-255 in decimal.
fn is_two_octets(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.len() <= 3
                && p.bytes().all(|b| b.is_ascii_digit())
                && (p.len() == 1 || !p.starts_with('0'))
                && p.parse::<u32>().is_ok_and(|v| v <= 255)
        })
}

/// `us-east-1`, `ap-southeast-2`, `us-gov-west-1`.
fn is_aws_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[0].bytes().all(|b| b.is_ascii_lowercase())
        && parts[1..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts
            .last()
            .is_some_and(|p| !p.is_empty() && p.len() <= 2 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// An AWS resource id as the configuration names it: 1-64 of `A-Z a-z 0-9 - _ .`.
fn is_resource_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// Checks a Parquet compression setting: a codec, and a level only for zstd (1..=22).
pub fn check_compression(text: &str) -> Result<(), String> {
    let name = text.trim().to_ascii_lowercase();
    let (codec, level) = match name.split_once(':') {
        Some((c, l)) => (c.to_string(), Some(l.to_string())),
        None => (name, None),
    };
    match codec.as_str() {
        "zstd" => {
            if let Some(l) = level {
                match l.parse::<i32>() {
                    Ok(v) if (1..=22).contains(&v) => {}
                    _ => {
                        return Err(format!(
                            "zstd level `{l}` is not a whole number from 1 to 22"
                        ));
                    }
                }
            }
            Ok(())
        }
        "snappy" | "lz4" | "gzip" | "none" | "uncompressed" => match level {
            Some(l) => Err(format!(
                "`{codec}` takes no level (`:{l}`): only zstd has one (zstd:1..22)"
            )),
            None => Ok(()),
        },
        _ => Err(format!(
            "unknown codec `{codec}` (zstd, zstd:1..22, snappy, lz4, gzip, none)"
        )),
    }
}

pub(super) fn check_services(c: &Checker, cfg: &ServicesConfig) -> Result<(), ConfigError> {
    c.scalars()?;
    let cl = &cfg.cluster;
    if !is_dns_label(&cl.name, 63) {
        return Err(c.error(
            "cluster.name",
            format!(
                "`{}` is not a valid cluster name (lowercase letters, digits and '-', at most 63 characters)",
                cl.name
            ),
        ));
    }
    if cl.environment.is_empty()
        || cl.environment.len() > 63
        || cl
            .environment
            .chars()
            .any(|ch| ch.is_whitespace() || ch.is_control())
    {
        return Err(c.error(
            "cluster.environment",
            "needs 1 to 63 characters without spaces",
        ));
    }
    if !is_aws_region(&cl.region) {
        return Err(c.error(
            "cluster.region",
            format!("`{}` is not an AWS region name (e.g. us-east-1)", cl.region),
        ));
    }
    if cl.account_id.len() != 12 || !cl.account_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(c.error(
            "cluster.account_id",
            format!(
                "`{}` is not an AWS account id (12 digits, quoted)",
                cl.account_id
            ),
        ));
    }
    if cl.registry.is_empty() || cl.registry.chars().any(|ch| ch.is_whitespace()) {
        return Err(c.error("cluster.registry", "needs a registry host without spaces"));
    }
    let n = &cl.nodes;
    c.num(&NODES, "cluster.nodes.count", n.count as f64)?;
    c.num(
        &NODE_CPU_CORES,
        "cluster.nodes.cpu_cores",
        n.cpu_cores as f64,
    )?;
    c.num(
        &NODE_MEMORY_GIB,
        "cluster.nodes.memory_gib",
        n.memory_gib as f64,
    )?;
    if !is_two_octets(&n.vpc_cidr_prefix) {
        return Err(c.error(
            "cluster.nodes.vpc_cidr_prefix",
            format!(
                "`{}` is not the first two octets of a /16 network (two numbers 0-255, e.g. \"10.0\" for 10.0.0.0/16)",
                n.vpc_cidr_prefix
            ),
        ));
    }
    // AWS resources: counts, ids, Lambda memory.
    let aws = &cfg.aws;
    let kinds: [(&str, Vec<&str>); 5] = [
        ("rds", aws.rds.iter().map(|r| r.id.as_str()).collect()),
        (
            "load_balancers",
            aws.load_balancers.iter().map(|r| r.id.as_str()).collect(),
        ),
        ("sqs", aws.sqs.iter().map(|r| r.id.as_str()).collect()),
        (
            "dynamodb",
            aws.dynamodb.iter().map(|r| r.id.as_str()).collect(),
        ),
        ("lambda", aws.lambda.iter().map(|r| r.id.as_str()).collect()),
    ];
    for (kind, ids) in &kinds {
        c.len(&AWS_RESOURCES, &format!("aws.{kind}"), ids.len())?;
        for (j, id) in ids.iter().enumerate() {
            let p = format!("aws.{kind}[{j}].id");
            if !is_resource_id(id) {
                return Err(c.error(
                    &p,
                    format!(
                        "`{id}` is not a resource id (1 to 64 letters, digits, '-', '_' or '.')"
                    ),
                ));
            }
            if ids[..j].contains(id) {
                return Err(c.error(&p, format!("`{id}` is listed twice under aws.{kind}")));
            }
        }
    }
    for (j, f) in aws.lambda.iter().enumerate() {
        c.num(
            &LAMBDA_MEMORY_MB,
            &format!("aws.lambda[{j}].memory_mb"),
            f.memory_mb as f64,
        )?;
    }
    // Services.
    c.len(&SERVICES, "services", cfg.services.len())?;
    let mut total_replicas = 0u64;
    for (i, s) in cfg.services.iter().enumerate() {
        let p = format!("services[{i}]");
        c.num(&REPLICAS, &format!("{p}.replicas"), s.replicas as f64)?;
        total_replicas += s.replicas as u64;
        c.num(
            &TRAFFIC_SHARE,
            &format!("{p}.traffic_share"),
            s.traffic_share.0,
        )?;
        c.len(&ROUTES, &format!("{p}.routes"), s.routes.len())?;
        for (j, r) in s.routes.iter().enumerate() {
            if r.trim().is_empty() {
                return Err(c.error(&format!("{p}.routes[{j}]"), "a route cannot be empty"));
            }
        }
        c.num(
            &DEPLOYS_PER_DAY,
            &format!("{p}.deploys_per_day"),
            s.deploys_per_day.0,
        )?;
        for (j, d) in s.dependencies.iter().enumerate() {
            if s.dependencies[..j].iter().any(|o| o.value == d.value) {
                return Err(c.error(
                    &format!("{p}.dependencies[{j}]"),
                    format!("`{}` is listed twice", d.value),
                ));
            }
        }
        let r = &s.resources;
        for (k, v) in [
            ("cpu_request_m", r.cpu_request_m),
            ("cpu_limit_m", r.cpu_limit_m),
        ] {
            c.num(&CPU_MILLICORES, &format!("{p}.resources.{k}"), v as f64)?;
        }
        for (k, v) in [
            ("memory_request_mib", r.memory_request_mib),
            ("memory_limit_mib", r.memory_limit_mib),
        ] {
            c.num(&MEMORY_MIB, &format!("{p}.resources.{k}"), v as f64)?;
        }
        if r.cpu_request_m as u64 > n.cpu_cores as u64 * 1000 {
            return Err(c.error(
                &format!("{p}.resources.cpu_request_m"),
                format!(
                    "{} m does not fit on a node ({} cores): the pod would never be scheduled",
                    r.cpu_request_m, n.cpu_cores
                ),
            ));
        }
        if r.memory_request_mib as u64 > n.memory_gib as u64 * 1024 {
            return Err(c.error(
                &format!("{p}.resources.memory_request_mib"),
                format!(
                    "{} MiB does not fit on a node ({} GiB): the pod would never be scheduled",
                    r.memory_request_mib, n.memory_gib
                ),
            ));
        }
    }
    let capacity = n.count as u64 * MAX_PODS_PER_NODE;
    if total_replicas > capacity {
        return Err(c.error(
            "cluster.nodes.count",
            format!(
                "the services run {total_replicas} replicas in all; {} nodes hold at most {capacity} pods ({MAX_PODS_PER_NODE} per node, the kubelet's default): add nodes or lower replicas",
                n.count
            ),
        ));
    }
    // Alarms and dashboards.
    c.len(&ALARMS, "alarms", cfg.alarms.len())?;
    for (i, a) in cfg.alarms.iter().enumerate() {
        let p = format!("alarms[{i}].evaluation_periods");
        c.num(&EVALUATION_PERIODS, &p, a.evaluation_periods as f64)?;
        let window = a.evaluation_periods as u64 * a.period_seconds as u64;
        if window > MAX_ALARM_WINDOW_SECONDS {
            return Err(c.error(
                &p,
                format!(
                    "{} periods of {} s is {window} s; CloudWatch evaluates at most {MAX_ALARM_WINDOW_SECONDS} s (one day)",
                    a.evaluation_periods, a.period_seconds
                ),
            ));
        }
    }
    c.len(&DASHBOARDS, "dashboards", cfg.dashboards.len())?;
    for (i, d) in cfg.dashboards.iter().enumerate() {
        c.len(&PANELS, &format!("dashboards[{i}].panels"), d.panels.len())?;
        for (j, panel) in d.panels.iter().enumerate() {
            c.num(
                &WINDOW_SECONDS,
                &format!("dashboards[{i}].panels[{j}].window_seconds"),
                panel.window_seconds as f64,
            )?;
        }
    }
    Ok(())
}

/// The `schedule` section (of incident_patterns.yaml, or of a preset).
pub(super) fn check_schedule(c: &Checker, s: &IncidentSchedule) -> Result<(), ConfigError> {
    c.num(
        &INCIDENTS_PER_DAY,
        "schedule.incidents_per_day",
        s.incidents_per_day.0,
    )?;
    c.num(
        &TARGET_ACTIVE,
        "schedule.target_active_fraction",
        s.target_active_fraction.0,
    )?;
    c.num(&MAX_OVERLAP, "schedule.max_overlap", s.max_overlap as f64)?;
    c.num(&OVERLAP_SHARE, "schedule.overlap_share", s.overlap_share.0)?;
    c.num(
        &SAME_SERVICE_SHARE,
        "schedule.same_service_share",
        s.same_service_share.0,
    )?;
    Ok(())
}

pub(super) fn check_incidents(
    c: &Checker,
    cfg: &IncidentPatterns,
    services: &ServicesConfig,
) -> Result<(), ConfigError> {
    c.scalars()?;
    check_schedule(c, &cfg.schedule)?;
    let bg = &cfg.background;
    c.num(
        &NEAR_MISSES_PER_DAY,
        "background.episodes_per_day",
        bg.episodes_per_day.0,
    )?;
    for (k, v) in [("min", bg.strength.min.0), ("max", bg.strength.max.0)] {
        c.num(&NEAR_MISS_STRENGTH, &format!("background.strength.{k}"), v)?;
    }
    if bg.strength.min.0 > bg.strength.max.0 {
        return Err(c.error(
            "background.strength",
            format!(
                "min {} is above max {}",
                bg.strength.min.0, bg.strength.max.0
            ),
        ));
    }
    let d = bg.duration_minutes;
    for (k, v) in [("min", d.min.0), ("median", d.median.0), ("max", d.max.0)] {
        c.num(
            &NEAR_MISS_MINUTES,
            &format!("background.duration_minutes.{k}"),
            v,
        )?;
    }
    if !(d.min.0 <= d.median.0 && d.median.0 <= d.max.0) {
        return Err(c.error("background.duration_minutes", "needs min <= median <= max"));
    }
    c.len(&TYPES, "types", cfg.types.len())?;
    for (i, t) in cfg.types.iter().enumerate() {
        let p = format!("types[{i}]");
        c.num(&WEIGHT, &format!("{p}.weight"), t.weight.0)?;
        if let Some(w) = t.background_weight {
            c.num(&BACKGROUND_WEIGHT, &format!("{p}.background_weight"), w.0)?;
        }
        let d = t.duration_minutes;
        for (k, v) in [("min", d.min.0), ("median", d.median.0), ("max", d.max.0)] {
            c.num(&DURATION_MINUTES, &format!("{p}.duration_minutes.{k}"), v)?;
        }
        if let Some(sp) = d.spread {
            c.num(
                &DURATION_SPREAD,
                &format!("{p}.duration_minutes.spread"),
                sp.0,
            )?;
        }
        c.num(
            &LAG_SECONDS,
            &format!("{p}.propagation.lag_seconds"),
            t.propagation.lag_seconds.0,
        )?;
        c.num(
            &MAX_DEPTH,
            &format!("{p}.propagation.max_depth"),
            t.propagation.max_depth as f64,
        )?;
        // A type no entity matches is never placed.
        let tg = &t.targets;
        match t.root_cause {
            RootCauseKind::Pod | RootCauseKind::Deployment | RootCauseKind::Service => {
                let any = services.services.iter().any(|svc| {
                    (tg.languages.is_empty() || tg.languages.contains(&svc.language))
                        && (tg.kinds.is_empty() || tg.kinds.contains(&svc.kind))
                        && (tg.services.is_empty()
                            || tg.services.iter().any(|n| n.value == svc.name.value))
                });
                if !any {
                    return Err(c.error(
                        &format!("{p}.targets"),
                        format!(
                            "no service matches the targets of `{}` (languages, kinds and services together): it could never happen",
                            t.name.value
                        ),
                    ));
                }
            }
            RootCauseKind::AwsResource => {
                let aws = &services.aws;
                let any = tg.aws.iter().any(|k| {
                    use super::AwsKind::*;
                    match k {
                        Rds => !aws.rds.is_empty(),
                        Sqs => !aws.sqs.is_empty(),
                        Dynamodb => !aws.dynamodb.is_empty(),
                        Lambda => !aws.lambda.is_empty(),
                        LoadBalancer => !aws.load_balancers.is_empty(),
                    }
                });
                if !any {
                    return Err(c.error(
                        &format!("{p}.targets.aws"),
                        format!(
                            "`{}` has an aws_resource root cause but no resource of its targets.aws kinds exists: it could never happen",
                            t.name.value
                        ),
                    ));
                }
            }
            RootCauseKind::Node => {}
        }
    }
    if cfg.types.iter().all(|t| t.weight.0 == 0.0) {
        return Err(c.error(
            "types",
            "every incident type has weight 0, so none can be drawn; for a run without incidents set schedule.enabled: false (or incidents_per_day: 0)",
        ));
    }
    Ok(())
}

pub(super) fn check_generation(c: &Checker, g: &GenerationConfig) -> Result<(), ConfigError> {
    c.scalars()?;
    c.num(&SCALE, "scale", g.scale.0)?;
    if let Some(t) = crate::time::parse_instant(&g.default_start)
        && !(EARLIEST..LATEST).contains(&t)
    {
        return Err(c.error(
            "default_start",
            format!("`{}` is outside the years 1970 to 9999", g.default_start),
        ));
    }
    let t = &g.traffic;
    c.num(&NIGHT_LEVEL, "traffic.night_level", t.night_level.0)?;
    c.len(&PEAKS, "traffic.peaks", t.peaks.len())?;
    for (i, p) in t.peaks.iter().enumerate() {
        c.num(&PEAK_WIDTH, &format!("traffic.peaks[{i}].width"), p.width.0)?;
        c.num(
            &PEAK_HEIGHT,
            &format!("traffic.peaks[{i}].height"),
            p.height.0,
        )?;
    }
    for (i, w) in t.weekly.iter().enumerate() {
        c.num(&WEEKLY, &format!("traffic.weekly[{i}]"), w.0)?;
    }
    c.num(&NOISE_SIGMA, "traffic.noise_sigma", t.noise_sigma.0)?;
    c.num(
        &SERVICE_NOISE_SIGMA,
        "traffic.service_noise_sigma",
        t.service_noise_sigma.0,
    )?;
    c.num(&NOISE_MEMORY, "traffic.noise_memory", t.noise_memory.0)?;
    let b = &t.bursts;
    c.num(&BURSTS_PER_DAY, "traffic.bursts.per_day", b.per_day.0)?;
    for (k, v) in [("min", b.multiplier.min), ("max", b.multiplier.max)] {
        c.num(
            &BURST_MULTIPLIER,
            &format!("traffic.bursts.multiplier.{k}"),
            v,
        )?;
    }
    for (k, v) in [("min", b.minutes.min), ("max", b.minutes.max)] {
        c.num(&BURST_MINUTES, &format!("traffic.bursts.minutes.{k}"), v)?;
    }
    let w = &g.world;
    c.num(
        &WEEKEND_DEPLOY_FACTOR,
        "world.weekend_deploy_factor",
        w.weekend_deploy_factor.0,
    )?;
    c.num(
        &RESTARTS_PER_POD_DAY,
        "world.container_restarts_per_pod_day",
        w.container_restarts_per_pod_day.0,
    )?;
    c.num(
        &RESCHEDULES_PER_POD_DAY,
        "world.reschedules_per_pod_day",
        w.reschedules_per_pod_day.0,
    )?;
    c.num(
        &REQUESTS_PER_ACCESS_LINE,
        "world.requests_per_access_line",
        w.requests_per_access_line.0,
    )?;
    let s = &g.sources;
    c.num(
        &POD_LOG_ROWS,
        "sources.kubernetes.pod_logs.rows_per_minute",
        s.kubernetes.pod_logs.rows_per_minute.0,
    )?;
    c.num(
        &EVENTS_PER_HOUR,
        "sources.kubernetes.events.background_per_hour",
        s.kubernetes.events.background_per_hour.0,
    )?;
    c.num(
        &SCRAPE_INTERVAL,
        "sources.kubernetes.metrics.scrape_interval_seconds",
        s.kubernetes.metrics.scrape_interval_seconds as f64,
    )?;
    let cw = &s.cloudwatch;
    c.num(
        &LAMBDA_PER_MINUTE,
        "sources.cloudwatch.lambda_invocations_per_minute",
        cw.lambda_invocations_per_minute.0,
    )?;
    c.num(
        &VPC_PER_MINUTE,
        "sources.cloudwatch.vpc_flow_records_per_minute",
        cw.vpc_flow_records_per_minute.0,
    )?;
    c.num(
        &INSIGHTS_PER_HOUR,
        "sources.cloudwatch.insights_queries_per_hour",
        cw.insights_queries_per_hour.0,
    )?;
    c.num(
        &INSIGHTS_IN_ALARM,
        "sources.cloudwatch.insights_queries_per_hour_in_alarm",
        cw.insights_queries_per_hour_in_alarm.0,
    )?;
    c.num(
        &REFRESH_SECONDS,
        "sources.grafana.refresh_seconds",
        s.grafana.refresh_seconds as f64,
    )?;
    c.num(
        &NOTES_PER_DAY,
        "sources.grafana.manual_notes_per_day",
        s.grafana.manual_notes_per_day.0,
    )?;
    let o = &g.output;
    if let Err(e) = check_compression(&o.compression) {
        return Err(c.error("output.compression", e));
    }
    c.num(&ZSTD_LEVEL, "output.zstd_level", o.zstd_level as f64)?;
    c.num(
        &ROW_GROUP_ROWS,
        "output.row_group_rows",
        o.row_group_rows as f64,
    )?;
    c.num(
        &JSONL_GZIP_LEVEL,
        "output.jsonl_gzip_level",
        o.jsonl_gzip_level as f64,
    )?;
    traffic_peak(c, t).map(|_| ())
}

// ---------------------------------------------------------------------------------------
// Traffic peak and run estimates.

/// The traffic curve's estimated peak over its mean, and its factors.
#[derive(Debug, Clone, Copy)]
pub struct TrafficPeak {
    /// Busiest minute of the diurnal curve over its daily mean.
    pub diurnal: f64,
    /// Busiest weekday over the weekly mean.
    pub weekly: f64,
    /// Bursts: the largest multiplier, compounded by their expected overlap.
    pub bursts: f64,
    /// Mean of the log-normal noise, the service jitter and the slow wander.
    pub noise: f64,
}

impl TrafficPeak {
    pub fn total(&self) -> f64 {
        self.diurnal * self.weekly * self.bursts * self.noise
    }
}

/// The diurnal curve as `world::traffic` computes it (night floor plus Gaussian bumps,
/// wrapping at 24 h), not normalised.
fn diurnal_raw(shape: &TrafficShape, h: f64) -> f64 {
    let mut v = shape.night_level.0;
    for p in &shape.peaks {
        for shift in [-24.0, 0.0, 24.0] {
            let z = (h - p.hour.0 - shift) / p.width.0;
            v += p.height.0 * (-0.5 * z * z).exp();
        }
    }
    v
}

/// Estimates the traffic peak; refuses a curve that is zero everywhere or peaks above
/// [`MAX_TRAFFIC_PEAK`].
pub(super) fn traffic_peak(c: &Checker, t: &TrafficShape) -> Result<TrafficPeak, ConfigError> {
    let samples: Vec<f64> = (0..1440).map(|m| diurnal_raw(t, m as f64 / 60.0)).collect();
    let mean = samples.iter().sum::<f64>() / 1440.0;
    if mean <= 0.0 {
        return Err(c.error(
            "traffic.night_level",
            "the diurnal curve is 0 all day (night_level and every peak height are 0): there would be no traffic",
        ));
    }
    let diurnal = samples.iter().copied().fold(0.0, f64::max) / mean;
    let wmean = t.weekly.iter().map(|w| w.0).sum::<f64>() / 7.0;
    if wmean <= 0.0 {
        return Err(c.error(
            "traffic.weekly",
            "every weekly factor is 0: there would be no traffic",
        ));
    }
    let weekly = t.weekly.iter().map(|w| w.0).fold(0.0, f64::max) / wmean;
    let b = &t.bursts;
    let bursts = if b.per_day.0 > 0.0 {
        b.multiplier
            .max
            .max(1.0)
            .powf(1.0 + b.per_day.0 * b.minutes.max / 1440.0)
    } else {
        1.0
    };
    // The jitter is log-normal now (AR(1) with unit variance), as the noise is.
    let jitter = (t.service_noise_sigma.0.powi(2) / 2.0).exp();
    let noise = (t.noise_sigma.0.powi(2) / 2.0).exp() * jitter * (0.08f64.powi(2) / 2.0).exp();
    let peak = TrafficPeak {
        diurnal,
        weekly,
        bursts,
        noise,
    };
    if peak.total().is_nan() || peak.total() > MAX_TRAFFIC_PEAK {
        return Err(c.error(
            "traffic",
            format!(
                "the traffic curve peaks at about {} times its mean (diurnal {} × weekly {} × bursts {} × noise {}); at most {}: widen or lower the peaks, raise night_level, flatten the weekly factors, or make bursts rarer or smaller",
                short(peak.total()),
                short(peak.diurnal),
                short(peak.weekly),
                short(peak.bursts),
                short(peak.noise),
                number(MAX_TRAFFIC_PEAK)
            ),
        ));
    }
    Ok(peak)
}

/// One table's estimated rows in its busiest hour.
#[derive(Debug, Clone)]
pub struct TableEstimate {
    pub table: &'static str,
    pub rows: f64,
    /// The key whose value drives it most.
    pub key: &'static str,
    /// How the estimate is made, with the values.
    pub detail: String,
    /// Whether the scale multiplies it.
    pub scaled: bool,
}

/// The sizes a run would reach, estimated from the configuration.
#[derive(Debug, Clone)]
pub struct RunEstimate {
    pub scale: f64,
    pub hours: i64,
    pub traffic_peak: TrafficPeak,
    /// The tables whose partitions grow with the configuration.
    pub peak_hour_rows: Vec<TableEstimate>,
    pub traffic_slots: f64,
    pub pods: f64,
    pub restarts: f64,
    /// Node incidents planned (at most `incidents_per_day` a day) × pods.
    pub incident_pod_pairs: f64,
}

impl super::Config {
    /// Estimates a run of `hours` hours at `scale`.
    pub fn estimate(&self, scale: f64, hours: i64) -> Result<RunEstimate, ConfigError> {
        let g = &self.generation;
        let svc = &self.services;
        let c = self.checker(2);
        let peak = traffic_peak(&c, &g.traffic)?;
        let p = peak.total();
        let k8s = &g.sources.kubernetes;
        let cw = &g.sources.cloudwatch;
        let rows_per_minute = k8s.pod_logs.rows_per_minute.0;
        let visits_per_minute =
            rows_per_minute * crate::world::REQUEST_ROW_SHARE / crate::world::ROWS_PER_VISIT;
        let replicas: f64 = svc.services.iter().map(|s| s.replicas as f64).sum();
        let traffic_hour = 60.0 * scale * p;
        let per_hour = format!(
            "× scale {} × traffic peak {p:.1} × 60 minutes",
            number(scale)
        );
        let mut tables = Vec::new();
        tables.push(TableEstimate {
            table: "kubernetes/pod_logs",
            rows: rows_per_minute * traffic_hour,
            key: "sources.kubernetes.pod_logs.rows_per_minute",
            detail: format!("{} rows a minute {per_hour}", number(rows_per_minute)),
            scaled: true,
        });
        let alb = if cw.alb_access_logs {
            visits_per_minute
        } else {
            0.0
        };
        let vpc = cw.vpc_flow_records_per_minute.0;
        let lambda = 3.5 * cw.lambda_invocations_per_minute.0 * svc.aws.lambda.len() as f64;
        tables.push(TableEstimate {
            table: "cloudwatch/logs",
            rows: (vpc + lambda + alb) * traffic_hour,
            key: if lambda > vpc && lambda > alb {
                "sources.cloudwatch.lambda_invocations_per_minute"
            } else if alb > vpc {
                "sources.kubernetes.pod_logs.rows_per_minute"
            } else {
                "sources.cloudwatch.vpc_flow_records_per_minute"
            },
            detail: format!(
                "({} VPC flow records + {} Lambda log lines + {:.0} ALB access lines) a minute {per_hour}",
                number(vpc),
                number(lambda),
                alb
            ),
            scaled: true,
        });
        // Containers are sampled every scrape; a rollout briefly doubles them.
        let scrape = k8s.metrics.scrape_interval_seconds as f64;
        tables.push(TableEstimate {
            table: "kubernetes/metrics",
            rows: 2.0 * replicas * 3600.0 / scrape,
            key: "sources.kubernetes.metrics.scrape_interval_seconds",
            detail: format!(
                "2 × {replicas} containers × a sample every {} s",
                number(scrape)
            ),
            scaled: false,
        });
        let series: f64 = svc
            .dashboards
            .iter()
            .flat_map(|d| d.panels.iter())
            .map(|panel| match panel.datasource {
                super::Datasource::Prometheus => 2.0 * replicas,
                super::Datasource::Cloudwatch => {
                    let aws = &svc.aws;
                    let n = match panel
                        .cloudwatch_namespace
                        .as_deref()
                        .and_then(super::namespace_resource_kind)
                    {
                        Some("load_balancers") => aws.load_balancers.len(),
                        Some("rds") => aws.rds.len(),
                        Some("sqs") => aws.sqs.len(),
                        Some("dynamodb") => aws.dynamodb.len(),
                        Some("lambda") => aws.lambda.len(),
                        _ => svc.cluster.nodes.count as usize,
                    };
                    n.max(1) as f64
                }
            })
            .sum();
        let refresh = g.sources.grafana.refresh_seconds as f64;
        tables.push(TableEstimate {
            table: "grafana/panel_series",
            rows: series * 3600.0 / refresh,
            key: "sources.grafana.refresh_seconds",
            detail: format!(
                "{series} panel series × a point every {} s",
                number(refresh)
            ),
            scaled: false,
        });
        let background = k8s.events.background_per_hour.0;
        tables.push(TableEstimate {
            table: "kubernetes/events",
            rows: background * scale * p.sqrt() + 20.0 * replicas,
            key: "sources.kubernetes.events.background_per_hour",
            detail: format!(
                "{} an hour × scale {} × √(traffic peak {p:.1}), and the pods' own events",
                number(background),
                number(scale)
            ),
            scaled: true,
        });
        let peak_hour_rows = tables;
        // The plan: traffic per service and minute over the range and the 15 days before;
        // pods over the range and the 8 days before (whole weeks, one more each side).
        let planned_days = hours as f64 / 24.0 + 16.0;
        let traffic_slots = svc.services.len() as f64 * planned_days * 1440.0;
        let weeks = ((hours as f64 / 24.0 + 8.0) / 7.0).ceil() + 2.0;
        let wdf = g.world.weekend_deploy_factor.0;
        let pods: f64 = svc
            .services
            .iter()
            .map(|s| {
                let rollouts = (s.deploys_per_day.0 * (5.0 + 2.0 * wdf)).max(1.0) * weeks;
                let reschedules = g.world.reschedules_per_pod_day.0 * planned_days;
                s.replicas as f64 * (rollouts + reschedules + 1.0)
            })
            .sum();
        let restarts = replicas * planned_days * g.world.container_restarts_per_pod_day.0;
        let inc = &self.incidents;
        let total_weight: f64 = inc.types.iter().map(|t| t.weight.0).sum();
        let node_weight: f64 = inc
            .types
            .iter()
            .filter(|t| t.root_cause == RootCauseKind::Node)
            .map(|t| t.weight.0)
            .sum();
        let node_incidents = if inc.schedule.enabled && total_weight > 0.0 {
            inc.schedule.incidents_per_day.0 * planned_days * node_weight / total_weight
        } else {
            0.0
        };
        let incident_pod_pairs = node_incidents * pods;
        Ok(RunEstimate {
            scale,
            hours,
            traffic_peak: peak,
            peak_hour_rows,
            traffic_slots,
            pods,
            restarts,
            incident_pod_pairs,
        })
    }

    /// Checks that a run of `[start, end)` at `scale` stays within the limits.
    /// `scale_flag`: the scale came from `--scale` (else from the file); `range_flags`: the
    /// range came from the command line (else a day from `default_start`). For messages.
    pub fn check_run(
        &self,
        scale: f64,
        start: Micros,
        end: Micros,
        scale_flag: bool,
        range_flags: bool,
    ) -> Result<RunEstimate, ConfigError> {
        let scale_src = if scale_flag { "--scale" } else { "scale" };
        let range_src = if range_flags {
            "--start/--end/--duration-hours"
        } else {
            "a day from default_start"
        };
        let run = |m: String| ConfigError::Run { message: m };
        if !(scale.is_finite() && scale > 0.0) {
            return Err(run(format!(
                "{scale_src} must be a positive number, got {scale}"
            )));
        }
        if scale > SCALE.max {
            return Err(run(format!(
                "{scale_src} must be between 0 and {}, got {}",
                number(SCALE.max),
                number(scale)
            )));
        }
        if start < EARLIEST || end > LATEST {
            return Err(run(format!(
                "{range_src}: the range must lie between 1970-01-01 and 9999-12-31, got {} .. {}",
                crate::time::rfc3339_string(start.clamp(i64::MIN / 4, i64::MAX / 4)),
                crate::time::rfc3339_string(end.clamp(i64::MIN / 4, i64::MAX / 4))
            )));
        }
        let hours = (end - start).div_euclid(HOUR).max(0);
        if hours > MAX_RANGE_HOURS {
            return Err(run(format!(
                "{range_src}: the range is {hours} hours; at most {MAX_RANGE_HOURS} ({} days)",
                MAX_RANGE_HOURS / 24
            )));
        }
        let est = self.estimate(scale, hours)?;
        let g = self.checker(2);
        let s = self.checker(0);
        for t in &est.peak_hour_rows {
            if t.rows > MAX_PARTITION_ROWS {
                let detail = t.detail.replace("× scale ", &format!("× {scale_src} "));
                return Err(g.error(
                    t.key,
                    format!(
                        "{} would hold about {} rows in its busiest hour ({}); at most {}: lower the rate{}",
                        t.table,
                        millions(t.rows),
                        detail,
                        millions(MAX_PARTITION_ROWS),
                        if t.scaled {
                            format!(" or {scale_src}")
                        } else {
                            String::new()
                        }
                    ),
                ));
            }
        }
        if est.traffic_slots > MAX_TRAFFIC_SLOTS {
            return Err(s.error(
                "services",
                format!(
                    "{} services over {hours} hours (and the 15 days planned before them) are {} per-minute traffic slots; at most {}: shorten the range ({range_src}) or use fewer services",
                    self.services.services.len(),
                    millions(est.traffic_slots),
                    millions(MAX_TRAFFIC_SLOTS)
                ),
            ));
        }
        if est.pods > MAX_PODS {
            return Err(s.error(
                "services",
                format!(
                    "the replicas, deploys_per_day and reschedules over {hours} hours plan about {} pods; at most {}: lower deploys_per_day or replicas, or shorten the range ({range_src})",
                    millions(est.pods),
                    millions(MAX_PODS)
                ),
            ));
        }
        if est.incident_pod_pairs > MAX_INCIDENT_POD_PAIRS {
            let c = self.checker(1);
            return Err(c.error(
                "schedule.incidents_per_day",
                format!(
                    "over {hours} hours (and the 16 days planned around them) about {} node incidents would each look through about {} pods ({} pairs); at most {}: lower incidents_per_day, the replicas or their deploys_per_day, or shorten the range ({range_src})",
                    millions(est.incident_pod_pairs / est.pods.max(1.0)),
                    millions(est.pods),
                    millions(est.incident_pod_pairs),
                    millions(MAX_INCIDENT_POD_PAIRS)
                ),
            ));
        }
        if est.restarts > MAX_RESTARTS {
            return Err(g.error(
                "world.container_restarts_per_pod_day",
                format!(
                    "about {} container restarts over {hours} hours (replicas × days × rate); at most {}: lower the rate or shorten the range ({range_src})",
                    millions(est.restarts),
                    millions(MAX_RESTARTS)
                ),
            ));
        }
        Ok(est)
    }
}

/// `4.8`, `12`, `3.1e17`: a factor, short.
fn short(v: f64) -> String {
    if v >= 1e4 {
        format!("{v:.1e}")
    } else if v >= 10.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// `12.6 billion`, `20 million`, `1.5 million`, `94 thousand`, `730`.
pub fn millions(v: f64) -> String {
    if v >= 1e9 {
        let b = format!("{:.1}", v / 1e9);
        format!("{} billion", b.strip_suffix(".0").unwrap_or(&b))
    } else if v >= 1e6 {
        let m = format!("{:.1}", v / 1e6);
        format!("{} million", m.strip_suffix(".0").unwrap_or(&m))
    } else if v >= 1e4 {
        format!("{:.0} thousand", v / 1e3)
    } else {
        format!("{:.0}", v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octets_regions_and_codecs() {
        assert!(is_two_octets("10.0") && is_two_octets("172.31") && is_two_octets("0.0"));
        for bad in [
            "999.999", "10", "10.0.0", "10.", ".1", "010.0", "a.b", "256.1", "1.-1",
        ] {
            assert!(!is_two_octets(bad), "{bad}");
        }
        assert!(is_aws_region("us-east-1") && is_aws_region("us-gov-west-1"));
        assert!(
            !is_aws_region("useast1") && !is_aws_region("us-east-") && !is_aws_region("US-EAST-1")
        );
        assert!(check_compression("zstd").is_ok() && check_compression("ZSTD:9").is_ok());
        assert!(check_compression("zstd:0").is_err() && check_compression("zstd:x").is_err());
        let e = check_compression("snappy:3").expect_err("level on snappy");
        assert!(e.contains("snappy") && e.contains("no level"), "{e}");
        assert!(check_compression("brotli").is_err());
    }

    #[test]
    fn default_traffic_peak_is_far_below_the_clamp() {
        let cfg = super::super::Config::defaults().expect("defaults");
        let est = cfg.estimate(1.0, 24).expect("estimate");
        let p = est.traffic_peak.total();
        assert!(p > 3.0 && p < 10.0, "{p}");
        const { assert!(MAX_TRAFFIC_PEAK < MAX_TRAFFIC_FACTOR) };
    }

    #[test]
    fn bounds_match_concrete_paths() {
        assert!(REPLICAS.matches("services[12].replicas"));
        assert!(!REPLICAS.matches("services[12].replicas_x"));
        assert!(CPU_MILLICORES.matches("services[0].resources.cpu_limit_m"));
        assert!(BURST_MULTIPLIER.matches("traffic.bursts.multiplier.max"));
        assert!(DURATION_MINUTES.matches("types[3].duration_minutes.median"));
        assert!(AWS_RESOURCES.matches("aws.lambda") && !AWS_RESOURCES.matches("aws.lambda[0].id"));
        assert!(WEEKLY.matches("traffic.weekly[6]") && !WEEKLY.matches("traffic.weekly"));
    }

    #[test]
    fn bounds_are_ordered_and_unique() {
        for (i, b) in BOUNDS.iter().enumerate() {
            assert!(b.min <= b.max, "{}", b.key);
            assert!(
                !BOUNDS[..i]
                    .iter()
                    .any(|o| o.file == b.file && o.key == b.key),
                "{} twice",
                b.key
            );
        }
    }
}
