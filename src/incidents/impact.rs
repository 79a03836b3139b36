//! What an incident does to the requests a service handles, derived from the effect names
//! of its type in `incident_patterns.yaml` (so a new type is configuration, not code).

use crate::config::IncidentType;

/// The kind of failure a request suffers; sources render it in their own terms (a log
/// line, a Sentry exception type, a span status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureKind {
    OutOfMemory,
    Regression,
    PoolTimeout,
    ConnectionRefused,
    Timeout,
    Tls,
    Io,
    JobTimeout,
}

impl FailureKind {
    pub const ALL: [FailureKind; 8] = [
        FailureKind::OutOfMemory,
        FailureKind::Regression,
        FailureKind::PoolTimeout,
        FailureKind::ConnectionRefused,
        FailureKind::Timeout,
        FailureKind::Tls,
        FailureKind::Io,
        FailureKind::JobTimeout,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::OutOfMemory => "out_of_memory",
            FailureKind::Regression => "regression",
            FailureKind::PoolTimeout => "pool_timeout",
            FailureKind::ConnectionRefused => "connection_refused",
            FailureKind::Timeout => "timeout",
            FailureKind::Tls => "tls",
            FailureKind::Io => "io",
            FailureKind::JobTimeout => "job_timeout",
        }
    }

    /// The HTTP status a failed request of this kind ends with.
    pub fn status(self) -> u16 {
        match self {
            FailureKind::ConnectionRefused => 503,
            FailureKind::Timeout | FailureKind::PoolTimeout | FailureKind::JobTimeout => 504,
            FailureKind::Tls => 502,
            _ => 500,
        }
    }
}

/// Per-request impact at full intensity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RequestImpact {
    /// Multiplier of the service's own latency at intensity 1.
    pub latency_mult: f64,
    /// Probability that a request fails at intensity 1.
    pub error_rate: f64,
    pub failure: Option<FailureKind>,
}

impl RequestImpact {
    pub const NONE: RequestImpact = RequestImpact {
        latency_mult: 1.0,
        error_rate: 0.0,
        failure: None,
    };

    /// Derives the impact from the type's effect names (all sources).
    pub fn of(t: &IncidentType) -> RequestImpact {
        let names: Vec<&str> = t
            .effects
            .kubernetes
            .iter()
            .chain(&t.effects.sentry)
            .chain(&t.effects.cloudwatch)
            .map(|e| e.value.as_str())
            .collect();
        let has = |n: &str| names.contains(&n);
        let mut imp = RequestImpact::NONE;
        let fail = |kind: FailureKind, rate: f64, imp: &mut RequestImpact| {
            if rate > imp.error_rate {
                imp.error_rate = rate;
                imp.failure = Some(kind);
            }
        };
        if has("out_of_memory_errors") || has("oom_kill") {
            fail(FailureKind::OutOfMemory, 0.12, &mut imp);
        }
        if has("new_release_regression") {
            fail(FailureKind::Regression, 0.45, &mut imp);
        }
        if has("pool_timeout_errors") || has("pool_timeout_logs") {
            fail(FailureKind::PoolTimeout, 0.5, &mut imp);
            imp.latency_mult = imp.latency_mult.max(25.0);
        }
        if has("connection_errors") || has("connection_refused_logs") {
            fail(FailureKind::ConnectionRefused, 0.85, &mut imp);
        }
        if has("timeout_errors") || has("upstream_timeout_logs") {
            fail(FailureKind::Timeout, 0.25, &mut imp);
        }
        if has("ssl_errors") || has("tls_handshake_logs") {
            fail(FailureKind::Tls, 0.95, &mut imp);
        }
        if has("io_errors") || has("disk_full_logs") {
            fail(FailureKind::Io, 0.3, &mut imp);
        }
        if has("job_timeout_errors") || has("consumer_lag_logs") {
            fail(FailureKind::JobTimeout, 0.2, &mut imp);
        }
        if has("latency_logs") || has("slow_transactions") || has("alb_latency") {
            imp.latency_mult = imp.latency_mult.max(6.0);
        }
        if has("cpu_throttling") {
            imp.latency_mult = imp.latency_mult.max(8.0);
        }
        if has("gc_pressure_logs") || has("memory_growth") {
            imp.latency_mult = imp.latency_mult.max(3.0);
        }
        imp
    }
}
