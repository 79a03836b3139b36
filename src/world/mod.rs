//! The simulated world: a pure function of (seed, configuration, time).
//!
//! [`World::plan`] builds the small, read-only plan of a range (topology, pod lifetimes,
//! traffic per minute, request model); every partition renderer then reads it. A run
//! plans one per day (`pipeline::day_world`): what a world renders for a time does not
//! depend on its range.

pub mod load;
pub mod memo;
pub mod pods;
pub mod requests;
pub mod topology;
pub mod traffic;

pub use memo::Memo;
pub use pods::{Pod, PodEnd, PodPlan, RestartReason, Rollout};
pub use requests::{RequestModel, Visit};
pub use topology::{LogStyle, NodeInfo, ServiceInfo, Topology};
pub use traffic::Traffic;

use crate::config::Config;
use crate::labels::{AnomalyRole, Label, Phase};
use crate::time::{DAY, Micros};

/// A half-open time range `[start, end)` in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    pub start: Micros,
    pub end: Micros,
}

/// How far back the plan reaches before the requested range, so that the pods and
/// counters alive at the start are those a longer run would have.
pub const LOOKBACK: Micros = 15 * DAY;

/// The counterfactual twin (`schedule.enabled: false`, `--incidents off`) keeps the
/// incidents that ended this long before the midnight (UTC) the range starts on: they
/// shaped the world the range starts from (pods replaced by an eviction or a rollback,
/// restart counts), and their signal is over by then. Every incident that ends later is
/// removed. [`World::twin_at`] plans the same twin for each day of a range.
pub const TWIN_MARGIN: Micros = 2 * crate::time::HOUR;

/// Midnight UTC of the day holding `t`.
fn day_start(t: Micros) -> Micros {
    t - t.rem_euclid(DAY)
}

/// Expected log rows per request visit (access line + application lines), used to turn
/// the configured log rate into a request rate.
pub const ROWS_PER_VISIT: f64 = 1.75;
/// Share of `pod_logs` rows that come from request visits (the rest is background).
pub const REQUEST_ROW_SHARE: f64 = 0.8;

pub struct World {
    pub seed: u64,
    pub incidents: crate::incidents::IncidentPlan,
    pub scale: f64,
    pub config: Config,
    pub range: TimeRange,
    pub topology: Topology,
    pub pods: PodPlan,
    pub traffic: Traffic,
    pub requests: RequestModel,
    /// Values derived from the plan that several tables share (see [`memo`]).
    pub memo: Memo,
    /// The counterfactual twins of the days of the range (and of the day before it),
    /// each planned on first use (see [`World::twin_at`]).
    twins: Vec<std::sync::OnceLock<Box<World>>>,
}

impl World {
    pub fn plan(config: Config, seed: u64, scale: f64, range: TimeRange) -> World {
        let topology = Topology::build(seed, &config.services);
        let plan_start = range.start - LOOKBACK;
        // Incidents over the whole planned window: bad releases and evictions before the
        // range shape the pods alive in it.
        let mut incidents =
            crate::incidents::IncidentPlan::plan(seed, &config, &topology, plan_start, range.end);
        if !config.incidents.schedule.enabled {
            incidents.keep_history_before(day_start(range.start) - TWIN_MARGIN);
        }
        let pods = PodPlan::plan(
            seed,
            &topology,
            &config.generation.world,
            &incidents,
            plan_start + 7 * DAY,
            range.end,
        );
        incidents.resolve_residents(&config, &topology, &pods);
        let keys: Vec<u64> = topology.services.iter().map(|s| s.key).collect();
        let ceilings: Vec<f64> = topology
            .services
            .iter()
            .map(|s| s.cpu_traffic_ceiling())
            .collect();
        let traffic = Traffic::plan(
            seed,
            &config.generation.traffic,
            &keys,
            plan_start,
            range.end,
        )
        .with_ceilings(&ceilings);
        let visits_per_minute = config
            .generation
            .sources
            .kubernetes
            .pod_logs
            .rows_per_minute
            .0
            * REQUEST_ROW_SHARE
            / ROWS_PER_VISIT;
        let requests = RequestModel::build(
            seed,
            &topology,
            visits_per_minute,
            config.generation.world.baseline_error_rate.0,
            config.generation.world.requests_per_access_line.0,
        );
        World {
            seed,
            incidents,
            scale,
            config,
            range,
            topology,
            pods,
            traffic,
            requests,
            memo: Memo::new(),
            twins: (day_start(range.start) - DAY..range.end)
                .step_by(DAY as usize)
                .map(|_| std::sync::OnceLock::new())
                .collect(),
        }
    }

    /// The counterfactual twin of this world for the day holding `t`: the same plan
    /// without the incidents that end less than [`TWIN_MARGIN`] before that day's start
    /// or later, as `generate --incidents off` renders a run that starts that day; this
    /// world itself when it is a twin already. Views that cannot tell from their own
    /// inputs whether an incident changed them (a database's load, a queue's traffic, a
    /// panel of a pod's counters, a call that found no pod) compare with it. A day's twin
    /// does not depend on where the range starts, so neither do the labels.
    pub fn twin_at(&self, t: Micros) -> &World {
        if !self.config.incidents.schedule.enabled || self.twins.is_empty() {
            return self;
        }
        let first = day_start(self.range.start) - DAY;
        let i = ((day_start(t) - first) / DAY).clamp(0, self.twins.len() as i64 - 1);
        self.twins[i as usize].get_or_init(|| {
            let mut config = self.config.clone();
            config.incidents.schedule.enabled = false;
            // The day and a margin past its end (a row of the day's last minutes can
            // look a little later): the twin's size does not grow with the range, and
            // nothing of it depends on where the range ends.
            let range = TimeRange {
                start: first + i * DAY,
                end: first + (i + 1) * DAY + TWIN_MARGIN,
            };
            Box::new(World::plan(config, self.seed, self.scale, range))
        })
    }

    /// Drops the twins of the days before the one holding `t` (planned again if asked
    /// for, the same): a run keeps at most a few days' twins, whatever its range.
    pub fn release_twins_before(&mut self, t: Micros) {
        let first = day_start(self.range.start) - DAY;
        let n = ((day_start(t) - first) / DAY).clamp(0, self.twins.len() as i64) as usize;
        for slot in &mut self.twins[..n] {
            slot.take();
        }
    }

    pub fn service(&self, s: usize) -> &ServiceInfo {
        &self.topology.services[s]
    }

    pub fn pod(&self, p: usize) -> &Pod {
        &self.pods.pods[p]
    }

    /// The label of a row at `ts` caused by incident `incident` (an index into the plan)
    /// in `role`, or the normal label.
    pub fn label(&self, incident: u32, role: AnomalyRole, ts: Micros) -> Label<'_> {
        match self.incidents.incidents.get(incident as usize) {
            Some(inc) if role != AnomalyRole::None && !inc.background => Label {
                incident_id: Some(&inc.id),
                incident_type: Some(&inc.incident_type),
                role,
                phase: match inc.phase_at(ts) {
                    // Rows caused just after the end (lags) still belong to the recovery.
                    Phase::None if ts >= inc.end => Phase::Recovery,
                    Phase::None => Phase::Precursor,
                    p => p,
                },
            },
            _ => Label::NORMAL,
        }
    }

    /// The label a caller's row carries for a call `v` that an incident changed: the
    /// call's incident, `propagated` (the row belongs to the caller's service).
    pub fn call_label(&self, v: &Visit, ts: Micros) -> Label<'_> {
        if v.incident == u32::MAX {
            return Label::NORMAL;
        }
        self.label(v.incident, AnomalyRole::Propagated, ts)
    }

    /// The label of the rows a visit produces.
    pub fn visit_label(&self, v: &Visit, ts: Micros) -> Label<'_> {
        self.label(v.incident, v.role, ts)
    }

    /// The image tag / release version a pod runs.
    pub fn pod_version(&self, p: usize) -> &str {
        &self.pods.rollouts[self.pods.pods[p].rollout].version
    }

    /// The label of a row that names the release pod `p` runs (a Sentry event's
    /// `release`): the pods of an incident's bad release run a version the twin never
    /// deploys, so such a row differs from the twin's whatever the request did (from the
    /// rollout's first pod, before the release's faults show). The incident is the root
    /// cause; other pods give no label.
    pub fn release_label(&self, p: usize, ts: Micros) -> Label<'_> {
        match self.pods.rollouts[self.pods.pods[p].rollout].cause {
            pods::RolloutCause::Bad(i) => self.label(i as u32, AnomalyRole::RootCause, ts),
            _ => Label::NORMAL,
        }
    }
}
