//! `generation_config.yaml`: seed, volumes, traffic shape, noise and output options.

use super::{ConfigError, Fraction, NonNeg, Positive, Range, invalid_at};
use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerationConfig {
    pub seed: u64,
    /// RFC 3339 start used when `--start` is not given.
    pub default_start: String,
    pub scale: Positive,
    pub traffic: TrafficShape,
    pub world: WorldRates,
    pub sources: SourceVolumes,
    pub output: OutputOptions,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrafficShape {
    pub night_level: NonNeg,
    pub peaks: Vec<TrafficPeak>,
    /// Monday first; exactly seven factors.
    pub weekly: Vec<NonNeg>,
    pub noise_sigma: NonNeg,
    pub service_noise_sigma: NonNeg,
    /// Lag-1 autocorrelation of the per-minute noise and the per-service jitter (AR(1));
    /// 0 makes them white. Default 0.7.
    #[serde(default = "default_noise_memory")]
    pub noise_memory: NonNeg,
    pub bursts: Bursts,
}

fn default_noise_memory() -> NonNeg {
    NonNeg(0.7)
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrafficPeak {
    pub hour: NonNeg,
    pub width: Positive,
    pub height: NonNeg,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bursts {
    pub per_day: NonNeg,
    pub multiplier: Range,
    pub minutes: Range,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorldRates {
    pub deploy_hours: HourWindow,
    pub weekend_deploy_factor: NonNeg,
    pub container_restarts_per_pod_day: NonNeg,
    pub reschedules_per_pod_day: NonNeg,
    pub baseline_error_rate: Fraction,
    pub benign_warning_rate: Fraction,
    /// The requests behind one sampled request: one request in N writes its access
    /// lines, spans, errors and ALB log line; the metrics count all N. Default 200.
    #[serde(default = "default_requests_per_access_line")]
    pub requests_per_access_line: NonNeg,
}

fn default_requests_per_access_line() -> NonNeg {
    NonNeg(200.0)
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HourWindow {
    pub start: u32,
    pub end: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceVolumes {
    pub kubernetes: KubernetesVolumes,
    pub sentry: SentryVolumes,
    pub cloudwatch: CloudwatchVolumes,
    pub grafana: GrafanaVolumes,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SentryVolumes {
    /// Head-based sampling: share of traces whose transactions are sent to Sentry.
    pub traces_sample_rate: Fraction,
    /// Handled errors captured (`capture_exception` in an except block) per request visit,
    /// besides the requests that failed.
    pub handled_errors_per_visit: Fraction,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudwatchVolumes {
    /// EC2 detailed monitoring (1-minute datapoints) for the nodes; 5-minute otherwise.
    pub ec2_detailed_monitoring: bool,
    /// Lambda invocations per minute per function at traffic 1.0 (each logs START, END, REPORT).
    pub lambda_invocations_per_minute: NonNeg,
    /// VPC flow log records per minute at traffic 1.0.
    pub vpc_flow_records_per_minute: NonNeg,
    /// Write an access-log line per load-balancer request.
    pub alb_access_logs: bool,
    /// Logs Insights queries per hour, normally and while an alarm is firing.
    pub insights_queries_per_hour: NonNeg,
    pub insights_queries_per_hour_in_alarm: NonNeg,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrafanaVolumes {
    /// Dashboard auto-refresh interval; each refresh yields the panels' new points.
    pub refresh_seconds: u32,
    /// Manual annotations (incident notes, maintenance) per day.
    pub manual_notes_per_day: NonNeg,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesVolumes {
    pub pod_logs: RatePerMinute,
    pub events: EventVolumes,
    pub metrics: ScrapeInterval,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatePerMinute {
    pub rows_per_minute: NonNeg,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventVolumes {
    /// Events outside pod lifecycles (probe warnings, scaling, image pulls) per hour at traffic 1.0.
    pub background_per_hour: NonNeg,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScrapeInterval {
    pub scrape_interval_seconds: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputOptions {
    pub compression: String,
    pub zstd_level: i32,
    pub row_group_rows: usize,
    /// Output formats written by default: `parquet`, `jsonl` (`--format` overrides).
    #[serde(default = "default_formats")]
    pub formats: Vec<String>,
    /// gzip level (0-9) of the JSON Lines export.
    #[serde(default = "default_jsonl_gzip_level")]
    pub jsonl_gzip_level: u32,
}

fn default_formats() -> Vec<String> {
    vec!["parquet".into()]
}

fn default_jsonl_gzip_level() -> u32 {
    1
}

impl GenerationConfig {
    pub(super) fn validate(&self, file: &Path) -> Result<(), ConfigError> {
        if crate::time::parse_instant(&self.default_start).is_none() {
            return Err(invalid_at(
                file,
                "default_start",
                None,
                format!("`{}` is not an RFC 3339 time or a date", self.default_start),
            ));
        }
        if self.traffic.weekly.len() != 7 {
            return Err(invalid_at(
                file,
                "traffic.weekly",
                None,
                format!(
                    "needs 7 factors (Monday first), got {}",
                    self.traffic.weekly.len()
                ),
            ));
        }
        for (i, p) in self.traffic.peaks.iter().enumerate() {
            if p.hour.0 >= 24.0 {
                return Err(invalid_at(
                    file,
                    format!("traffic.peaks[{i}].hour"),
                    None,
                    format!("must be below 24, got {}", p.hour.0),
                ));
            }
        }
        let w = self.world.deploy_hours;
        if w.start >= w.end || w.end > 24 {
            return Err(invalid_at(
                file,
                "world.deploy_hours",
                None,
                format!("needs 0 <= start < end <= 24, got {}..{}", w.start, w.end),
            ));
        }
        let s = self.sources.kubernetes.metrics.scrape_interval_seconds;
        if s == 0 || 3600 % s != 0 {
            return Err(invalid_at(
                file,
                "sources.kubernetes.metrics.scrape_interval_seconds",
                None,
                format!("must divide an hour (e.g. 15, 30, 60), got {s}"),
            ));
        }
        let r = self.sources.grafana.refresh_seconds;
        if r == 0 || 3600 % r != 0 {
            return Err(invalid_at(
                file,
                "sources.grafana.refresh_seconds",
                None,
                format!("must divide an hour (e.g. 30, 60), got {r}"),
            ));
        }
        if let Err(e) = crate::sink::Formats::parse(&self.output.formats) {
            return Err(invalid_at(file, "output.formats", None, e));
        }
        Ok(())
    }
}
