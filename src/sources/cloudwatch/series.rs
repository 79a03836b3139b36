//! CloudWatch metric series and their datapoints, as pure functions of the world.
//!
//! Every metric is modelled at one-minute granularity as a *statistic set* (sum, sample
//! count, minimum, maximum) per minute, the way CloudWatch stores it; a datapoint of any
//! period is the aggregation of the minutes of that period, and the requested statistic
//! is read from the aggregate. The metrics table, the alarm evaluation and Grafana panels
//! all go through [`datapoint`] (or a [`DatapointCache`]), so they agree exactly.
//!
//! Resolution: every metric is published at one minute (`period_seconds` 60), except the
//! EC2 metrics of the nodes when `ec2_detailed_monitoring` is off (five minutes, basic
//! monitoring). RDS, SQS, DynamoDB, Lambda and ALB metrics are one-minute metrics in AWS.
//! A datapoint for a period shorter than the metric's resolution, or a period start not
//! aligned to the period, is `None`. The nodes' `CWAgent` `disk_used_percent` (the
//! CloudWatch agent's disk plugin, root volume) is published every minute.
//!
//! Incidents: the ALB metrics aggregate the requests, which incidents already slow down or
//! fail, and the target health follows the pods; the other effects of
//! `incident_patterns.yaml` (`effects.cloudwatch`) act on their root resource through
//! `Effect`, at the incident's intensity (drifting in the precursor, full at the peak,
//! fading in the recovery). [`DatapointCache::datapoint_label`] gives the ground truth of a
//! datapoint: the incident that visibly changes it, `root_cause` on the incident's root
//! resource and `symptom` elsewhere (the rules are in `schemas/cloudwatch/metrics.yaml`).

use super::alarms::AlarmInstance;
use super::model::{
    AlbMinute, IncidentShare, Invocation, Kind, Model, NodeMinute, ReqMinute, invocations,
    shared_model,
};
use crate::config::{Language, Statistic};
use crate::incidents::RootEntity;
use crate::labels::{AnomalyRole, Label};
use crate::rng::{Rng, mix64, str_key, stream, unit};
use crate::time::{DAY, HOUR, MINUTE, Micros, SECOND};
use crate::world::{Visit, World};
use std::cell::{OnceCell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::sync::{Arc, OnceLock};

/// One CloudWatch metric series: a (namespace, metric, dimensions) with its unit, statistic and period.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricSeries {
    pub namespace: &'static str,
    pub metric: &'static str,
    pub unit: &'static str,
    pub statistic: crate::config::Statistic,
    pub period_seconds: u32,
    /// (name, value) pairs, e.g. [("LoadBalancer", "app/storefront-alb/50dc6c495c0c9188")] or [("DBInstanceIdentifier","orders-db")]
    pub dimensions: Vec<(&'static str, String)>,
    /// id of the aws resource (as in services_config aws:) or the node name for AWS/EC2
    pub resource: String,
}

/// The metrics we model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum M {
    AlbRequests,
    AlbTarget2xx,
    AlbTarget3xx,
    AlbTarget4xx,
    AlbTarget5xx,
    AlbElb5xx,
    AlbResponseTime,
    AlbHealthy,
    AlbUnhealthy,
    AlbActiveConns,
    AlbNewConns,
    AlbProcessedBytes,
    RdsCpu,
    RdsConnections,
    RdsFreeableMemory,
    RdsReadLatency,
    RdsWriteLatency,
    RdsReadIops,
    RdsWriteIops,
    RdsFreeStorage,
    SqsSent,
    SqsReceived,
    SqsDeleted,
    SqsVisible,
    SqsNotVisible,
    SqsOldestAge,
    SqsEmptyReceives,
    DdbReadUnits,
    DdbWriteUnits,
    DdbGetLatency,
    DdbPutLatency,
    DdbThrottled,
    LambdaInvocations,
    LambdaErrors,
    LambdaThrottles,
    LambdaDuration,
    LambdaConcurrent,
    Ec2Cpu,
    Ec2NetIn,
    Ec2NetOut,
    Ec2PacketsIn,
    Ec2PacketsOut,
    Ec2StatusFailed,
    Ec2StatusInstance,
    Ec2StatusSystem,
    Ec2EbsReadBytes,
    Ec2EbsWriteBytes,
    Ec2EbsReadOps,
    Ec2EbsWriteOps,
    AgentDiskUsed,
}

/// A catalog entry: the metric, its name and unit, and the statistic the metrics table
/// writes for it.
pub(crate) struct Def {
    pub m: M,
    pub kind: Kind,
    pub name: &'static str,
    pub unit: &'static str,
    pub stat: Statistic,
    /// Extra dimension after the resource's (DynamoDB `Operation`).
    pub operation: Option<&'static str>,
}

const fn def(m: M, kind: Kind, name: &'static str, unit: &'static str, stat: Statistic) -> Def {
    Def {
        m,
        kind,
        name,
        unit,
        stat,
        operation: None,
    }
}

use Statistic::{Average, Maximum, Sum};

/// Every metric, in the order the metrics table writes them (per resource).
pub(crate) const CATALOG: &[Def] = &[
    def(M::AlbRequests, Kind::Alb, "RequestCount", "Count", Sum),
    def(
        M::AlbTarget2xx,
        Kind::Alb,
        "HTTPCode_Target_2XX_Count",
        "Count",
        Sum,
    ),
    def(
        M::AlbTarget3xx,
        Kind::Alb,
        "HTTPCode_Target_3XX_Count",
        "Count",
        Sum,
    ),
    def(
        M::AlbTarget4xx,
        Kind::Alb,
        "HTTPCode_Target_4XX_Count",
        "Count",
        Sum,
    ),
    def(
        M::AlbTarget5xx,
        Kind::Alb,
        "HTTPCode_Target_5XX_Count",
        "Count",
        Sum,
    ),
    def(
        M::AlbElb5xx,
        Kind::Alb,
        "HTTPCode_ELB_5XX_Count",
        "Count",
        Sum,
    ),
    def(
        M::AlbResponseTime,
        Kind::Alb,
        "TargetResponseTime",
        "Seconds",
        Average,
    ),
    def(
        M::AlbHealthy,
        Kind::Alb,
        "HealthyHostCount",
        "Count",
        Average,
    ),
    def(
        M::AlbUnhealthy,
        Kind::Alb,
        "UnHealthyHostCount",
        "Count",
        Average,
    ),
    def(
        M::AlbActiveConns,
        Kind::Alb,
        "ActiveConnectionCount",
        "Count",
        Sum,
    ),
    def(
        M::AlbNewConns,
        Kind::Alb,
        "NewConnectionCount",
        "Count",
        Sum,
    ),
    def(
        M::AlbProcessedBytes,
        Kind::Alb,
        "ProcessedBytes",
        "Bytes",
        Sum,
    ),
    def(M::RdsCpu, Kind::Rds, "CPUUtilization", "Percent", Average),
    def(
        M::RdsConnections,
        Kind::Rds,
        "DatabaseConnections",
        "Count",
        Average,
    ),
    def(
        M::RdsFreeableMemory,
        Kind::Rds,
        "FreeableMemory",
        "Bytes",
        Average,
    ),
    def(
        M::RdsReadLatency,
        Kind::Rds,
        "ReadLatency",
        "Seconds",
        Average,
    ),
    def(
        M::RdsWriteLatency,
        Kind::Rds,
        "WriteLatency",
        "Seconds",
        Average,
    ),
    def(
        M::RdsReadIops,
        Kind::Rds,
        "ReadIOPS",
        "Count/Second",
        Average,
    ),
    def(
        M::RdsWriteIops,
        Kind::Rds,
        "WriteIOPS",
        "Count/Second",
        Average,
    ),
    def(
        M::RdsFreeStorage,
        Kind::Rds,
        "FreeStorageSpace",
        "Bytes",
        Average,
    ),
    def(M::SqsSent, Kind::Sqs, "NumberOfMessagesSent", "Count", Sum),
    def(
        M::SqsReceived,
        Kind::Sqs,
        "NumberOfMessagesReceived",
        "Count",
        Sum,
    ),
    def(
        M::SqsDeleted,
        Kind::Sqs,
        "NumberOfMessagesDeleted",
        "Count",
        Sum,
    ),
    def(
        M::SqsVisible,
        Kind::Sqs,
        "ApproximateNumberOfMessagesVisible",
        "Count",
        Average,
    ),
    def(
        M::SqsNotVisible,
        Kind::Sqs,
        "ApproximateNumberOfMessagesNotVisible",
        "Count",
        Average,
    ),
    def(
        M::SqsOldestAge,
        Kind::Sqs,
        "ApproximateAgeOfOldestMessage",
        "Seconds",
        Maximum,
    ),
    def(
        M::SqsEmptyReceives,
        Kind::Sqs,
        "NumberOfEmptyReceives",
        "Count",
        Sum,
    ),
    def(
        M::DdbReadUnits,
        Kind::Dynamo,
        "ConsumedReadCapacityUnits",
        "Count",
        Sum,
    ),
    def(
        M::DdbWriteUnits,
        Kind::Dynamo,
        "ConsumedWriteCapacityUnits",
        "Count",
        Sum,
    ),
    Def {
        operation: Some("GetItem"),
        ..def(
            M::DdbGetLatency,
            Kind::Dynamo,
            "SuccessfulRequestLatency",
            "Milliseconds",
            Average,
        )
    },
    Def {
        operation: Some("PutItem"),
        ..def(
            M::DdbPutLatency,
            Kind::Dynamo,
            "SuccessfulRequestLatency",
            "Milliseconds",
            Average,
        )
    },
    def(
        M::DdbThrottled,
        Kind::Dynamo,
        "ThrottledRequests",
        "Count",
        Sum,
    ),
    def(
        M::LambdaInvocations,
        Kind::Lambda,
        "Invocations",
        "Count",
        Sum,
    ),
    def(M::LambdaErrors, Kind::Lambda, "Errors", "Count", Sum),
    def(M::LambdaThrottles, Kind::Lambda, "Throttles", "Count", Sum),
    def(
        M::LambdaDuration,
        Kind::Lambda,
        "Duration",
        "Milliseconds",
        Average,
    ),
    def(
        M::LambdaConcurrent,
        Kind::Lambda,
        "ConcurrentExecutions",
        "Count",
        Maximum,
    ),
    def(M::Ec2Cpu, Kind::Node, "CPUUtilization", "Percent", Average),
    def(M::Ec2NetIn, Kind::Node, "NetworkIn", "Bytes", Sum),
    def(M::Ec2NetOut, Kind::Node, "NetworkOut", "Bytes", Sum),
    def(
        M::Ec2PacketsIn,
        Kind::Node,
        "NetworkPacketsIn",
        "Count",
        Sum,
    ),
    def(
        M::Ec2PacketsOut,
        Kind::Node,
        "NetworkPacketsOut",
        "Count",
        Sum,
    ),
    def(
        M::Ec2StatusFailed,
        Kind::Node,
        "StatusCheckFailed",
        "Count",
        Maximum,
    ),
    def(
        M::Ec2StatusInstance,
        Kind::Node,
        "StatusCheckFailed_Instance",
        "Count",
        Maximum,
    ),
    def(
        M::Ec2StatusSystem,
        Kind::Node,
        "StatusCheckFailed_System",
        "Count",
        Maximum,
    ),
    def(M::Ec2EbsReadBytes, Kind::Node, "EBSReadBytes", "Bytes", Sum),
    def(
        M::Ec2EbsWriteBytes,
        Kind::Node,
        "EBSWriteBytes",
        "Bytes",
        Sum,
    ),
    def(M::Ec2EbsReadOps, Kind::Node, "EBSReadOps", "Count", Sum),
    def(M::Ec2EbsWriteOps, Kind::Node, "EBSWriteOps", "Count", Sum),
    def(
        M::AgentDiskUsed,
        Kind::Agent,
        "disk_used_percent",
        "Percent",
        Average,
    ),
];

pub(crate) fn namespace(kind: Kind) -> &'static str {
    match kind {
        Kind::Alb => "AWS/ApplicationELB",
        Kind::Rds => "AWS/RDS",
        Kind::Sqs => "AWS/SQS",
        Kind::Dynamo => "AWS/DynamoDB",
        Kind::Lambda => "AWS/Lambda",
        Kind::Node => "AWS/EC2",
        Kind::Agent => "CWAgent",
    }
}

/// Aggregated samples: what CloudWatch keeps per datapoint.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct StatSet {
    pub sum: f64,
    pub count: f64,
    pub min: f64,
    pub max: f64,
}

impl StatSet {
    fn one(v: f64) -> StatSet {
        StatSet {
            sum: v,
            count: 1.0,
            min: v,
            max: v,
        }
    }
    /// `n` samples of value 1 (a request counted once).
    fn ones(n: u32) -> Option<StatSet> {
        (n > 0).then_some(StatSet {
            sum: n as f64,
            count: n as f64,
            min: 1.0,
            max: 1.0,
        })
    }
    fn merge(self, o: StatSet) -> StatSet {
        StatSet {
            sum: self.sum + o.sum,
            count: self.count + o.count,
            min: self.min.min(o.min),
            max: self.max.max(o.max),
        }
    }
    pub fn get(&self, s: Statistic) -> f64 {
        match s {
            Statistic::Average => self.sum / self.count.max(1e-12),
            Statistic::Sum => self.sum,
            Statistic::Minimum => self.min,
            Statistic::Maximum => self.max,
            Statistic::SampleCount => self.count,
        }
    }
}

/// A series resolved to the model: metric, resource index, sub-resource (target group).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Resolved {
    pub m: M,
    pub kind: Kind,
    pub r: usize,
    pub sub: usize,
}

/// The invocations of one function in one minute.
type InvocationList = Rc<Vec<Invocation>>;

/// Lookback of the SQS backlog model (minutes): a backlog is rebuilt from this far back.
const SQS_LOOKBACK: i64 = 90;

/// An incident effect on the values of one AWS resource, by its name in
/// `incident_patterns.yaml` (`effects.cloudwatch`). The ALB effects (`alb_5xx`,
/// `alb_latency`) need no code here: the ALB metrics aggregate the requests, which the
/// incidents already slow down or fail, and the target health follows the pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    /// `rds_connections` (root: an RDS instance): the callers' pools fill up to their
    /// maximum, the instance's CPU and I/O latency rise.
    RdsConnections,
    /// `sqs_backlog` (root: a queue): the consumers lag, messages wait and age, then the
    /// backlog drains.
    SqsBacklog,
    /// `ec2_status_check` (root: a node): its instance fails the system status check from
    /// the onset to the recovery.
    Ec2StatusCheck,
    /// `ec2_disk` (root: a node): its root volume fills up towards 95%.
    Ec2Disk,
}

/// Smallest effect intensity that labels a datapoint (below it the change is lost in the
/// noise).
pub(crate) const LABEL_MIN_INTENSITY: f64 = 0.05;

/// Kubernetes effect names of the incident types that take pods out of service (their
/// restarts, unready pods and evictions change the target health and leave requests with
/// no target).
const POD_EFFECTS: [&str; 8] = [
    "oom_kill",
    "crash_loop",
    "probe_failures",
    "bad_rollout",
    "eviction",
    "node_not_ready",
    "pod_rescheduling",
    "restart_backoff",
];

/// Largest connection pool one pod of a service opens (the pool maxima of
/// [`pool_size`]).
fn max_pool(lang: Language) -> f64 {
    match lang {
        Language::Java => 10.0,
        Language::Python => 15.0,
        Language::Go => 10.0,
        Language::Node => 10.0,
    }
}

/// Connections RDS itself holds (rdsadmin monitoring, replication slot checks).
const RDS_SYSTEM_CONNECTIONS: f64 = 3.0;

/// The incident effects on one resource (incidents and near misses of the whole plan),
/// by start, with the latest end so far: the ones acting at a time are found without
/// going through the range's (a scan of every one made a year's run quadratic).
#[derive(Debug, Default)]
struct EffectList {
    /// (start, end, incident index, effect), by (start, index).
    items: Vec<(Micros, Micros, u32, Effect)>,
    /// `max_end[k]`: the latest end of `items[..=k]`.
    max_end: Vec<Micros>,
}

impl EffectList {
    fn sort(&mut self) {
        self.items.sort_by_key(|x| (x.0, x.2));
        self.max_end = crate::time::latest_so_far(self.items.iter().map(|x| x.1));
    }

    /// The (incident, effect) pairs whose `[start, end)` overlaps `[a, b)`.
    fn overlapping(&self, a: Micros, b: Micros) -> impl Iterator<Item = (u32, Effect)> + '_ {
        let hi = self.items.partition_point(|x| x.0 < b);
        let lo = crate::time::first_ending_after(&self.max_end, hi, a);
        self.items[lo..hi]
            .iter()
            .filter(move |x| x.1 > a)
            .map(|x| (x.2, x.3))
    }
}

/// Per (resource kind, resource index): the incidents of the plan with a CloudWatch
/// effect on it.
type EffectIndex = HashMap<(Kind, usize), EffectList>;

fn effect_index(world: &World, model: &Model) -> EffectIndex {
    let mut out: HashMap<(Kind, usize), EffectList> = HashMap::new();
    for inc in &world.incidents.incidents {
        let t = &world.config.incidents.types[inc.type_index];
        for e in &t.effects.cloudwatch {
            let (effect, target) = match (e.value.as_str(), &inc.root) {
                ("rds_connections", RootEntity::Aws { kind: "rds", id }) => (
                    Effect::RdsConnections,
                    model.find(world, Kind::Rds, id).map(|r| (Kind::Rds, r)),
                ),
                ("sqs_backlog", RootEntity::Aws { kind: "sqs", id }) => (
                    Effect::SqsBacklog,
                    model.find(world, Kind::Sqs, id).map(|r| (Kind::Sqs, r)),
                ),
                ("ec2_status_check", RootEntity::Node(n)) => {
                    (Effect::Ec2StatusCheck, Some((Kind::Node, *n)))
                }
                ("ec2_disk", RootEntity::Node(n)) => (Effect::Ec2Disk, Some((Kind::Node, *n))),
                _ => continue,
            };
            if let Some(k) = target {
                out.entry(k).or_default().items.push((
                    inc.start,
                    inc.end,
                    inc.index as u32,
                    effect,
                ));
            }
        }
    }
    for list in out.values_mut() {
        list.sort();
    }
    out
}

/// A queue at the end of one minute: its backlog (messages waiting beyond the ones the
/// consumers take as they arrive), first in, first out.
#[derive(Debug, Clone, Default)]
pub(crate) struct SqsMinute {
    /// Messages waiting at the end of the minute.
    pub backlog: f64,
    /// Waiting messages received in the minute (the backlog draining).
    pub drained: f64,
    /// Messages of the minute that lagging consumers left in the queue.
    pub held: f64,
    /// Minute the oldest waiting message was sent in.
    pub oldest: Option<Micros>,
    /// The incident whose messages wait in the backlog (the oldest such), if any.
    pub waiting_incident: Option<u32>,
    /// The incident whose messages were held or drained in the minute, if any.
    pub moved_incident: Option<u32>,
}

/// Values computed lazily, one per slot (a minute of an hour, or a minute and an entity),
/// shared by the renders of one world through [`World::shared`].
pub(crate) struct Slots<T> {
    cells: Box<[OnceLock<T>]>,
}

impl<T> Slots<T> {
    fn new(n: usize) -> Self {
        Slots {
            cells: (0..n).map(|_| OnceLock::new()).collect(),
        }
    }
}

impl<T: Clone> Slots<T> {
    /// The value of slot `i`, computed by `f` if no one has (or computed without being
    /// kept if `i` is out of range).
    fn get(&self, i: usize, f: impl FnOnce() -> T) -> T {
        match self.cells.get(i) {
            Some(c) => c.get_or_init(f).clone(),
            None => f(),
        }
    }
}

/// The hour holding `t` and the index of its minute in that hour, if `t` is a whole minute.
fn minute_slot(t: Micros) -> Option<(Micros, usize)> {
    let hour = t.div_euclid(HOUR) * HOUR;
    let off = t - hour;
    (off % MINUTE == 0).then_some((hour, (off / MINUTE) as usize))
}

/// Minutes per hour: the slots of the per-minute aggregates.
const MINUTES: usize = (HOUR / MINUTE) as usize;

/// Every series the metrics table writes ([`all_series`]), resolved; built once per
/// world. A series' index in it keys its datapoints in [`HourDatapoints`].
pub(crate) struct SeriesTable {
    pub series: Vec<MetricSeries>,
    /// The first `base_len` series are [`base_series`].
    pub base_len: usize,
    pub resolved: Vec<Option<Resolved>>,
    /// Per series: whether another table reads its datapoints after the metrics table
    /// (an alarm evaluates it or a CloudWatch panel plots it); only those datapoints are
    /// kept in [`HourDatapoints`], the others are computed where they are needed.
    shared: Vec<bool>,
    /// The alarms ([`super::alarms::alarm_instances`]), and the index of each one's series.
    pub alarms: Arc<Vec<AlarmInstance>>,
    pub alarm_series: Vec<Option<usize>>,
}

/// Period starts of a period of `p` in one hour (at most).
fn starts_per_hour(p: Micros) -> usize {
    if p <= 0 {
        0
    } else {
        ((HOUR + p - 1) / p) as usize
    }
}

impl SeriesTable {
    fn build(world: &World, model: &Model) -> SeriesTable {
        let alarms = super::alarms::shared_alarm_instances(world);
        let mut series = base_series(world, model);
        let base_len = series.len();
        for a in alarms.iter() {
            if !series.contains(&a.series) {
                series.push(a.series.clone());
            }
        }
        let alarm_series: Vec<Option<usize>> = alarms
            .iter()
            .map(|a| series.iter().position(|s| *s == a.series))
            .collect();
        let resolved: Vec<Option<Resolved>> =
            series.iter().map(|s| resolve_in(world, model, s)).collect();
        let mut shared = vec![false; series.len()];
        for &si in alarm_series.iter().flatten() {
            shared[si] = true;
        }
        for panel in world
            .config
            .services
            .dashboards
            .iter()
            .flat_map(|d| &d.panels)
        {
            if panel.datasource == crate::config::Datasource::Cloudwatch {
                for (si, s) in series[..base_len].iter().enumerate() {
                    shared[si] |= panel_reads(panel, s);
                }
            }
        }
        SeriesTable {
            series,
            base_len,
            resolved,
            shared,
            alarms,
            alarm_series,
        }
    }
}

/// The datapoints of every series of the [`SeriesTable`] in one hour, and their labels,
/// each computed when first asked for (in small blocks, one per series, allocated when
/// the series is first asked for).
pub(crate) struct HourDatapoints {
    series: Box<[OnceLock<SeriesHour>]>,
}

/// The datapoints of one series in one hour and their labels, one slot per period start.
struct SeriesHour {
    values: Slots<Option<StatSet>>,
    labels: Slots<Option<(u32, AnomalyRole)>>,
}

/// The shared per-hour values a cache has used, by hour (kept alive while it lives).
type Hours<T> = RefCell<HashMap<Micros, Arc<T>>>;

/// Datapoints with per-minute aggregates cached: build one per partition render (or per
/// batch of queries); results are exactly those of [`datapoint`]. The world-wide parts
/// (the resource model, the incident effects, the series) and the per-hour aggregates
/// (requests, nodes, queues, datapoints) are shared with every other render of the
/// world through [`World::shared`]; this cache keeps the hours it used alive.
pub struct DatapointCache<'w> {
    world: &'w World,
    pub(crate) model: Arc<Model>,
    effects: Arc<EffectIndex>,
    table: OnceCell<Arc<SeriesTable>>,
    req: Hours<Slots<Arc<ReqMinute>>>,
    nodes: Hours<Slots<Arc<Vec<NodeMinute>>>>,
    lambdas: RefCell<HashMap<(usize, Micros), InvocationList>>,
    sqs: Hours<Slots<Arc<SqsMinute>>>,
    datapoints: Hours<HourDatapoints>,
    containers: RefCell<HashMap<usize, Rc<crate::sources::kubernetes::ContainerModel>>>,
    scratch: RefCell<Vec<Visit>>,
    /// The same cache over the counterfactual twin of each day (see [`World::twin_at`]),
    /// made on first use.
    twins: RefCell<HashMap<i64, Rc<DatapointCache<'w>>>>,
}

impl<'w> DatapointCache<'w> {
    pub fn new(world: &'w World) -> Self {
        let model = shared_model(world);
        let effects = world.shared_run("cloudwatch/effect-index", || effect_index(world, &model));
        DatapointCache {
            world,
            effects,
            model,
            table: OnceCell::new(),
            req: RefCell::new(HashMap::new()),
            nodes: RefCell::new(HashMap::new()),
            lambdas: RefCell::new(HashMap::new()),
            sqs: RefCell::new(HashMap::new()),
            datapoints: RefCell::new(HashMap::new()),
            containers: RefCell::new(HashMap::new()),
            scratch: RefCell::new(Vec::new()),
            twins: RefCell::new(HashMap::new()),
        }
    }

    /// The cache of the twin world of `minute`'s day, `None` when this world has no
    /// incident to remove.
    pub(crate) fn twin(&self, minute: Micros) -> Option<Rc<DatapointCache<'w>>> {
        let twin = self.world.twin_at(minute);
        if std::ptr::eq(twin, self.world) {
            return None;
        }
        let day = minute.div_euclid(DAY);
        Some(
            self.twins
                .borrow_mut()
                .entry(day)
                .or_insert_with(|| Rc::new(DatapointCache::new(twin)))
                .clone(),
        )
    }

    /// Does metric `r` show another value in `minute` than in the twin?
    fn differs_from_twin(&self, r: Resolved, minute: Micros) -> bool {
        self.twin(minute)
            .is_some_and(|twin| self.minute(r, minute) != twin.minute(r, minute))
    }

    /// The incident behind a change of what `services` did in `minute`: one acting on one
    /// of them, else one that involves one of them, else any incident then.
    fn services_incident(&self, services: &[usize], minute: Micros) -> Option<u32> {
        let mid = minute + 30 * SECOND;
        let near = || {
            self.world
                .incidents
                .overlapping(minute - 10 * MINUTE, minute + MINUTE)
                .filter(|inc| !inc.background)
        };
        services
            .iter()
            .find_map(|&s| self.acting_on(s, mid, false))
            .or_else(|| {
                near()
                    .find(|inc| services.iter().any(|&s| inc.involvement(s).is_some()))
                    .map(|inc| inc.index as u32)
            })
            .or_else(|| near().next().map(|inc| inc.index as u32))
    }

    /// The series, resolved (shared, built once per world).
    pub(crate) fn table(&self) -> &Arc<SeriesTable> {
        self.table.get_or_init(|| {
            let (world, model) = (self.world, &self.model);
            world.shared_run("cloudwatch/series-table", || {
                SeriesTable::build(world, model)
            })
        })
    }

    /// The alarms (shared, built once per world).
    pub(crate) fn alarm_instances(&self) -> &Arc<Vec<AlarmInstance>> {
        &self.table().alarms
    }

    /// The slots of `hour` of a per-hour shared value, kept by this cache once used.
    fn hour_slots<T: Send + Sync + 'static>(
        &self,
        local: &Hours<T>,
        name: &'static str,
        hour: Micros,
        make: impl FnOnce() -> T,
    ) -> Arc<T> {
        if let Some(s) = local.borrow().get(&hour) {
            return s.clone();
        }
        let s = self.world.shared((name, hour), make);
        local.borrow_mut().insert(hour, s.clone());
        s
    }

    /// Whether a period of `period_s` starting at `start` can have a datapoint of a
    /// metric of `kind` (at least its resolution, a multiple of it, aligned).
    fn aligned(&self, kind: Kind, period_s: u32, start: Micros) -> bool {
        let native = self.resolution(kind);
        let period = period_s as Micros * SECOND;
        period_s >= native && period_s.is_multiple_of(native) && start.rem_euclid(period) == 0
    }

    /// Series `si` of the table resolved, its period in seconds, and whether its
    /// datapoints are shared.
    fn datapoint_slot(&self, si: usize) -> Option<(Resolved, u32, bool)> {
        let t = self.table();
        let r = (*t.resolved.get(si)?)?;
        Some((r, t.series[si].period_seconds, t.shared[si]))
    }

    /// The block of series `si` in `hour` (kept alive by the hour), or `None` for a
    /// series not in the table.
    fn series_hour<R>(
        &self,
        si: usize,
        period_s: u32,
        hour: Micros,
        read: impl FnOnce(&SeriesHour) -> R,
    ) -> Option<R> {
        let n = self.table().series.len();
        let hd = self.hour_slots(&self.datapoints, "cloudwatch/datapoints", hour, || {
            HourDatapoints {
                series: (0..n).map(|_| OnceLock::new()).collect(),
            }
        });
        let block = hd.series.get(si)?.get_or_init(|| {
            let k = starts_per_hour(period_s as Micros * SECOND);
            SeriesHour {
                values: Slots::new(k),
                labels: Slots::new(k),
            }
        });
        Some(read(block))
    }

    /// The aggregated samples of series `si` of [`Self::table`] for the period starting
    /// at `start`: [`Self::stat_set`] of the series, shared.
    pub(crate) fn series_stat(&self, si: usize, start: Micros) -> Option<StatSet> {
        let (r, period_s, shared) = self.datapoint_slot(si)?;
        if !self.aligned(r.kind, period_s, start) {
            return None;
        }
        let compute = || self.stat_set(r, period_s, start);
        if !shared {
            return compute();
        }
        let hour = start.div_euclid(HOUR) * HOUR;
        let i = ((start - hour) / (period_s as Micros * SECOND)) as usize;
        self.series_hour(si, period_s, hour, |b| b.values.get(i, compute))
            .unwrap_or_else(compute)
    }

    /// The incident and role of the datapoint of series `si` for the period starting at
    /// `start`: [`Self::period_label`] of the series, shared.
    pub(crate) fn series_label(&self, si: usize, start: Micros) -> Option<(u32, AnomalyRole)> {
        let (r, period_s, shared) = self.datapoint_slot(si)?;
        let compute = || self.period_label(r, period_s, start);
        if !shared || !self.aligned(r.kind, period_s, start) {
            return compute();
        }
        let hour = start.div_euclid(HOUR) * HOUR;
        let i = ((start - hour) / (period_s as Micros * SECOND)) as usize;
        self.series_hour(si, period_s, hour, |b| b.labels.get(i, compute))
            .unwrap_or_else(compute)
    }

    pub fn world(&self) -> &'w World {
        self.world
    }

    /// The ground truth of the datapoint of `series` for the period starting at
    /// `period_start`: the incident that visibly changes its value (see
    /// `schemas/cloudwatch/metrics.yaml`), or the normal label. The metrics table labels
    /// its rows with it; a Grafana panel reading the datapoint can too.
    pub fn datapoint_label(&self, series: &MetricSeries, period_start: Micros) -> Label<'w> {
        match self
            .resolve(series)
            .and_then(|r| self.period_label(r, series.period_seconds, period_start))
        {
            Some((i, role)) => self.world.label(i, role, period_start),
            None => Label::NORMAL,
        }
    }

    /// The incident (index into the plan) and role of the datapoint of `series` for the
    /// period starting at `period_start`, if an incident visibly changes it.
    pub fn datapoint_incident(
        &self,
        series: &MetricSeries,
        period_start: Micros,
    ) -> Option<(u32, AnomalyRole)> {
        let r = self.resolve(series)?;
        self.period_label(r, series.period_seconds, period_start)
    }

    /// The incident that changes the most minutes of a period (the earliest on a tie).
    pub(crate) fn period_label(
        &self,
        r: Resolved,
        period_s: u32,
        start: Micros,
    ) -> Option<(u32, AnomalyRole)> {
        let mut counts: Vec<((u32, AnomalyRole), u32)> = Vec::new();
        let mut t = start;
        while t < start + period_s as Micros * SECOND {
            if let Some(l) = self.minute_label(r, t) {
                match counts.iter_mut().find(|c| c.0 == l) {
                    Some(c) => c.1 += 1,
                    None => counts.push((l, 1)),
                }
            }
            t += MINUTE;
        }
        let mut best: Option<((u32, AnomalyRole), u32)> = None;
        for c in counts {
            if best.is_none_or(|b| c.1 > b.1) {
                best = Some(c);
            }
        }
        best.map(|b| b.0)
    }

    /// The incident that visibly changes the samples of metric `r` in `minute`, with the
    /// resource's role in it: `root_cause` when the resource is the incident's root (the
    /// RDS instance, the queue, the node's instance), `symptom` otherwise.
    pub(crate) fn minute_label(&self, r: Resolved, minute: Micros) -> Option<(u32, AnomalyRole)> {
        let mid = minute + 30 * SECOND;
        let strong = |e: Effect, kind: Kind| {
            self.effect(e, kind, r.r, mid)
                .filter(|x| x.1 > LABEL_MIN_INTENSITY)
                .map(|x| x.0)
        };
        let inc = match r.kind {
            // A load balancer's, a database's, a queue's and a table's values sum what
            // their clients did: labelled where they differ from the twin's, with the incident
            // acting on the resource (or changing its requests most), else the one that
            // changed its clients.
            Kind::Alb | Kind::Rds | Kind::Sqs | Kind::Dynamo => {
                if !self.differs_from_twin(r, minute) {
                    return None;
                }
                let m = &self.model;
                let (direct, clients) = match r.kind {
                    Kind::Alb => (self.alb_label(r, minute), &m.albs[r.r].services),
                    Kind::Rds => (
                        match r.m {
                            M::RdsCpu
                            | M::RdsConnections
                            | M::RdsFreeableMemory
                            | M::RdsReadLatency
                            | M::RdsWriteLatency => self
                                .effect(Effect::RdsConnections, Kind::Rds, r.r, mid)
                                .map(|x| x.0),
                            _ => None,
                        },
                        &m.rds[r.r].services,
                    ),
                    Kind::Dynamo => (None, &m.tables[r.r].services),
                    _ => (
                        match r.m {
                            M::SqsVisible | M::SqsOldestAge => {
                                self.sqs_state(r.r, minute).waiting_incident
                            }
                            M::SqsReceived | M::SqsDeleted => {
                                self.sqs_state(r.r, minute).moved_incident
                            }
                            _ => None,
                        },
                        &m.queues[r.r].consumers,
                    ),
                };
                // (A near miss acting on the resource changes the twin alike: the change
                // is another incident's.)
                direct
                    .filter(|&i| !self.world.incidents.incidents[i as usize].background)
                    .or_else(|| self.services_incident(clients, minute))
            }
            // A node's incident effects, where they change the value.
            Kind::Node => match r.m {
                M::Ec2StatusFailed | M::Ec2StatusSystem => self.status_failed(r.r, minute),
                M::Ec2EbsWriteBytes | M::Ec2EbsWriteOps => strong(Effect::Ec2Disk, Kind::Node),
                M::Ec2Cpu => self.cpu_incident(r.r, minute),
                _ => None,
            }
            .filter(|_| self.differs_from_twin(r, minute)),
            Kind::Agent => {
                strong(Effect::Ec2Disk, Kind::Node).filter(|_| self.differs_from_twin(r, minute))
            }
            Kind::Lambda => None,
        }?;
        Some((inc, self.role_on(inc, r.kind, r.r)))
    }

    /// The role of resource `r` of `kind` in incident `incident`: `root_cause` when it is
    /// the incident's root entity, `symptom` otherwise.
    pub(crate) fn role_on(&self, incident: u32, kind: Kind, r: usize) -> AnomalyRole {
        let inc = &self.world.incidents.incidents[incident as usize];
        let m = &self.model;
        let root = match (&inc.root, kind) {
            (RootEntity::Aws { kind: "rds", id }, Kind::Rds) => m.rds[r].id == *id,
            (RootEntity::Aws { kind: "sqs", id }, Kind::Sqs) => m.queues[r].id == *id,
            (
                RootEntity::Aws {
                    kind: "dynamodb",
                    id,
                },
                Kind::Dynamo,
            ) => m.tables[r].id == *id,
            (RootEntity::Aws { kind: "lambda", id }, Kind::Lambda) => m.functions[r].id == *id,
            (
                RootEntity::Aws {
                    kind: "load_balancer",
                    id,
                },
                Kind::Alb,
            ) => m.albs[r].name == *id,
            (RootEntity::Node(n), Kind::Node | Kind::Agent) => *n == r,
            _ => false,
        };
        if root {
            AnomalyRole::RootCause
        } else {
            AnomalyRole::Symptom
        }
    }

    /// The strongest effect `e` of an incident on resource `r` of `kind` at `t`:
    /// (incident, intensity), with intensity > 0.
    pub(crate) fn effect(&self, e: Effect, kind: Kind, r: usize, t: Micros) -> Option<(u32, f64)> {
        let list = self.effects.get(&(kind, r))?;
        // The strongest intensity, with the strongest incident's index; a near miss's
        // only when no incident acts (a row an incident changes carries its label). Ties
        // go to the lower index.
        let mut best: Option<(u32, f64)> = None;
        let mut real: Option<(u32, f64)> = None;
        let wins = |c: Option<(u32, f64)>, i: u32, v: f64| {
            c.is_none_or(|b| v > b.1 || (v == b.1 && i < b.0))
        };
        for (i, x) in list.overlapping(t, t + 1) {
            if x != e {
                continue;
            }
            let inc = &self.world.incidents.incidents[i as usize];
            let v = inc.intensity(t, 0);
            if v > 0.0 && wins(best, i, v) {
                best = Some((i, v));
            }
            if v > 0.0 && !inc.background && wins(real, i, v) {
                real = Some((i, v));
            }
        }
        best.map(|(i, v)| (real.map_or(i, |r| r.0), v))
    }

    /// The earliest start of the episodes (incidents or near misses) with effect `e` on
    /// resource `r` of `kind` that overlap `minute`.
    pub(crate) fn effect_start(
        &self,
        e: Effect,
        kind: Kind,
        r: usize,
        minute: Micros,
    ) -> Option<Micros> {
        self.effects
            .get(&(kind, r))?
            .overlapping(minute, minute + MINUTE)
            .filter(|&(_, x)| x == e)
            .map(|(i, _)| &self.world.incidents.incidents[i as usize])
            .filter(|inc| inc.start < minute + MINUTE && inc.end > minute)
            .map(|inc| inc.start)
            .min()
    }

    /// The node-failure incident whose instance fails its status checks during `minute`
    /// (from the onset to the recovery).
    fn status_failed(&self, n: usize, minute: Micros) -> Option<u32> {
        // The first in the plan's order, as before the list was sorted.
        self.effects
            .get(&(Kind::Node, n))?
            .overlapping(minute, minute + MINUTE)
            .filter_map(|(i, e)| {
                let inc = &self.world.incidents.incidents[i as usize];
                (e == Effect::Ec2StatusCheck
                    && inc.onset < minute + MINUTE
                    && inc.recovery > minute)
                    .then_some(i)
            })
            .min()
    }

    /// The incident acting directly on service `s` (as root cause or resident, within its
    /// lagged window) at `t`; with `pods_only`, only incident types that take pods out of
    /// service. Never a near miss: it is what a changed row is labelled with.
    pub(crate) fn acting_on(&self, s: usize, t: Micros, pods_only: bool) -> Option<u32> {
        let w = self.world;
        w.incidents
            .overlapping(t - 10 * MINUTE, t + 1)
            .find(|inc| {
                let Some((role, lag)) = inc.involvement(s) else {
                    return false;
                };
                !inc.background
                    && role != AnomalyRole::Propagated
                    && t >= inc.start
                    && t < inc.end + lag
                    && (!pods_only
                        || w.config.incidents.types[inc.type_index]
                            .effects
                            .kubernetes
                            .iter()
                            .any(|e| POD_EFFECTS.contains(&e.value.as_str())))
            })
            .map(|inc| inc.index as u32)
    }

    /// The incident taking pods of service `s` out of its target group during `minute`:
    /// at one of the six target-health samples, fewer targets are healthy than the
    /// replicas or some are unhealthy, while such an incident acts on the service.
    fn health_incident(&self, s: usize, minute: Micros) -> Option<u32> {
        let w = self.world;
        let replicas = w.service(s).replicas as usize;
        let pods: Vec<usize> = w
            .pods
            .pods_overlapping(s, minute, minute + MINUTE)
            .collect();
        for k in 0..6 {
            let t = minute + 5 * SECOND + k * 10 * SECOND;
            let healthy = pods.iter().filter(|&&p| w.pod(p).serving_at(t)).count();
            let unhealthy = pods.iter().any(|&p| {
                let pod = w.pod(p);
                !pod.serving_at(t) && t >= pod.ready && pod.deleted.is_none_or(|d| t < d)
            });
            if (healthy < replicas || unhealthy)
                && let Some(i) = self.acting_on(s, t, true)
            {
                return Some(i);
            }
        }
        None
    }

    /// The incident changing an ALB metric in `minute` from the twin's: the ELB's own 5XX
    /// (requests no target could take) and the target health while it takes pods out of
    /// service; a status class count, the response time or the bytes processed when the
    /// requests it changed change their sum (the incident changing it most).
    fn alb_label(&self, r: Resolved, minute: Micros) -> Option<u32> {
        match r.m {
            M::AlbHealthy | M::AlbUnhealthy => {
                let s = *self.model.albs[r.r].services.get(r.sub)?;
                self.health_incident(s, minute)
            }
            M::AlbElb5xx => {
                let q = self.req(minute);
                self.model.albs[r.r]
                    .services
                    .iter()
                    .filter(|&&s| q.svc_all[s].arrived > q.svc_all[s].roots)
                    .find_map(|&s| self.acting_on(s, minute + 30 * SECOND, true))
            }
            M::AlbTarget2xx
            | M::AlbTarget3xx
            | M::AlbTarget4xx
            | M::AlbTarget5xx
            | M::AlbResponseTime
            | M::AlbProcessedBytes => {
                let q = self.req(minute);
                let change = |x: &IncidentShare| -> i64 {
                    match r.m {
                        M::AlbTarget2xx => x.classes[0] as i64,
                        M::AlbTarget3xx => x.classes[1] as i64,
                        M::AlbTarget4xx => x.classes[2] as i64,
                        M::AlbTarget5xx => x.classes[3] as i64,
                        M::AlbResponseTime => x.response_time,
                        _ => x.bytes,
                    }
                };
                let shares = &q.alb_incidents[r.r];
                if shares.iter().map(change).sum::<i64>() == 0 {
                    return None;
                }
                let mut best: Option<(u32, i64)> = None;
                for x in shares {
                    let c = change(x).abs();
                    if c > 0 && best.is_none_or(|b| c > b.1) {
                        best = Some((x.incident, c));
                    }
                }
                best.map(|b| b.0)
            }
            _ => None,
        }
    }

    /// The CPU-saturation incident visibly loading node `n` in `minute`: pods it saturates
    /// run there (the same extra CPU `kubernetes/metrics` shows), at intensity above 0.1.
    fn cpu_incident(&self, n: usize, minute: Micros) -> Option<u32> {
        let w = self.world;
        let mid = minute + 30 * SECOND;
        for inc in w
            .incidents
            .overlapping(minute - 10 * MINUTE, minute + MINUTE)
        {
            let cpu = w.config.incidents.types[inc.type_index]
                .effects
                .kubernetes
                .iter()
                .any(|e| e.value == "cpu_throttling");
            if !cpu {
                continue;
            }
            for a in &inc.affected {
                let Some((role, lag)) = inc.involvement(a.service) else {
                    continue;
                };
                if role == AnomalyRole::Propagated || inc.intensity(mid, lag) <= 0.1 {
                    continue;
                }
                let hit = w
                    .pods
                    .pods_overlapping(a.service, minute, minute + MINUTE)
                    .any(|p| w.pod(p).node == n && inc.hits_pod(&w.pods, p));
                if hit {
                    return Some(inc.index as u32);
                }
            }
        }
        None
    }

    /// The datapoint of `series` for the period starting at `period_start`; see [`datapoint`].
    pub fn datapoint(&self, series: &MetricSeries, period_start: Micros) -> Option<f64> {
        let r = self.resolve(series)?;
        self.stat_set(r, series.period_seconds, period_start)
            .map(|s| s.get(series.statistic))
    }

    pub(crate) fn resolve(&self, s: &MetricSeries) -> Option<Resolved> {
        resolve_in(self.world, &self.model, s)
    }

    /// Native resolution of a metric, in seconds.
    pub(crate) fn resolution(&self, kind: Kind) -> u32 {
        if kind == Kind::Node
            && !self
                .world
                .config
                .generation
                .sources
                .cloudwatch
                .ec2_detailed_monitoring
        {
            300
        } else {
            60
        }
    }

    /// The aggregated samples of a period, or `None` when CloudWatch has no datapoint.
    pub(crate) fn stat_set(&self, r: Resolved, period_s: u32, start: Micros) -> Option<StatSet> {
        if !self.aligned(r.kind, period_s, start) {
            return None;
        }
        let period = period_s as Micros * SECOND;
        let mut acc: Option<StatSet> = None;
        let mut t = start;
        while t < start + period {
            if let Some(s) = self.minute(r, t) {
                acc = Some(match acc {
                    Some(a) => a.merge(s),
                    None => s,
                });
            }
            t += MINUTE;
        }
        acc
    }

    /// Records the aggregates of a minute the caller expanded itself (the same value
    /// [`Self::req`] would compute).
    pub(crate) fn prime(&self, minute: Micros, agg: ReqMinute) {
        if let Some((hour, i)) = minute_slot(minute) {
            let slots = self.req_hour(hour);
            if let Some(c) = slots.cells.get(i) {
                let _ = c.set(Arc::new(agg));
            }
        }
    }

    fn req_hour(&self, hour: Micros) -> Arc<Slots<Arc<ReqMinute>>> {
        self.hour_slots(&self.req, "cloudwatch/req-minutes", hour, || {
            Slots::new(MINUTES)
        })
    }

    /// The aggregates of the requests of `minute` (shared per hour).
    pub(crate) fn req(&self, minute: Micros) -> Arc<ReqMinute> {
        let compute = || {
            let mut scratch = self.scratch.borrow_mut();
            scratch.clear();
            self.world.expand_minute(minute, &mut scratch);
            Arc::new(ReqMinute::from_visits(
                self.world,
                &self.model,
                minute,
                &scratch,
            ))
        };
        match minute_slot(minute) {
            Some((hour, i)) => self.req_hour(hour).get(i, compute),
            None => compute(),
        }
    }

    /// The nodes over `minute` (shared per hour).
    fn nodes(&self, minute: Micros) -> Arc<Vec<NodeMinute>> {
        let compute = || {
            Arc::new(super::model::node_minutes(
                self.world,
                &self.containers,
                minute,
            ))
        };
        match minute_slot(minute) {
            Some((hour, i)) => self
                .hour_slots(&self.nodes, "cloudwatch/node-minutes", hour, || {
                    Slots::new(MINUTES)
                })
                .get(i, compute),
            None => compute(),
        }
    }

    pub(crate) fn invocations(&self, f: usize, minute: Micros) -> Rc<Vec<Invocation>> {
        if let Some(x) = self.lambdas.borrow().get(&(f, minute)) {
            return x.clone();
        }
        let v = Rc::new(invocations(self.world, &self.model, f, minute));
        self.lambdas.borrow_mut().insert((f, minute), v.clone());
        v
    }

    fn noise(&self, key: u64, m: M, minute: Micros) -> Rng {
        Rng::derive(key, &[str_key("cw-noise"), m as u64, minute as u64])
    }

    /// Unit-variance noise with memory (AR(1), lag-1 autocorrelation `phi`) of the
    /// series of metric `m` of the resource `key`, at `minute`: a database's CPU or free
    /// memory drifts from minute to minute rather than jumping.
    fn drift(&self, key: u64, m: M, minute: Micros, phi: f64) -> f64 {
        crate::rng::ar1(
            stream(key, &[str_key("cw-drift"), m as u64]),
            minute.div_euclid(MINUTE),
            phi,
        )
    }

    /// Samples of one metric in one minute.
    fn minute(&self, r: Resolved, minute: Micros) -> Option<StatSet> {
        match r.kind {
            Kind::Alb => self.alb_minute(r, minute),
            Kind::Rds => self.rds_minute(r, minute),
            Kind::Sqs => self.sqs_minute(r, minute),
            Kind::Dynamo => self.ddb_minute(r, minute),
            Kind::Lambda => self.lambda_minute(r, minute),
            Kind::Node => self.node_minute(r, minute),
            Kind::Agent => self.agent_minute(r, minute),
        }
    }

    fn alb_minute(&self, r: Resolved, minute: Micros) -> Option<StatSet> {
        match r.m {
            M::AlbHealthy | M::AlbUnhealthy => {
                let s = *self.model.albs[r.r].services.get(r.sub)?;
                let (healthy, unhealthy) = target_health(self.world, s, minute);
                Some(if r.m == M::AlbHealthy {
                    healthy
                } else {
                    unhealthy
                })
            }
            _ => {
                let q = self.req(minute);
                let a: &AlbMinute = &q.alb_all[r.r];
                match r.m {
                    M::AlbRequests => StatSet::ones(a.requests),
                    M::AlbTarget2xx => StatSet::ones(a.c2),
                    M::AlbTarget3xx => StatSet::ones(a.c3),
                    M::AlbTarget4xx => StatSet::ones(a.c4),
                    M::AlbTarget5xx => StatSet::ones(a.c5),
                    M::AlbElb5xx => StatSet::ones(a.rejected),
                    M::AlbResponseTime => (a.requests > 0).then_some(StatSet {
                        sum: a.rt_sum,
                        count: a.requests as f64,
                        min: a.rt_min,
                        max: a.rt_max,
                    }),
                    M::AlbActiveConns => (a.requests > 0).then(|| {
                        StatSet::one(a.new_conns as f64 + (a.requests as f64 * 0.45).round())
                    }),
                    M::AlbNewConns => (a.requests > 0).then(|| StatSet::one(a.new_conns as f64)),
                    M::AlbProcessedBytes => (a.requests > 0).then(|| StatSet::one(a.bytes)),
                    _ => None,
                }
            }
        }
    }

    fn rds_minute(&self, r: Resolved, minute: Micros) -> Option<StatSet> {
        let w = self.world;
        let rds = &self.model.rds[r.r];
        let q = self.req(minute);
        // Connection pool exhaustion: the callers' pools fill up to their maximum, the
        // backends compete for CPU and locks.
        let exhaustion = self
            .effect(Effect::RdsConnections, Kind::Rds, r.r, minute + 30 * SECOND)
            .map_or(0.0, |x| x.1);
        let (mut visits, mut writes, mut expected) = (0.0, 0.0, 0.0);
        for &s in &rds.services {
            visits += q.svc_all[s].visits as f64;
            writes += q.svc_all[s].writes as f64;
            expected += self.model.expected_visits[s];
        }
        let load = if expected > 0.0 {
            visits / expected
        } else {
            0.0
        };
        let mut rng = self.noise(rds.key, r.m, minute);
        let v = match r.m {
            M::RdsCpu => {
                let vacuum = if autovacuum_runs(rds.key, minute) {
                    4.5
                } else {
                    0.0
                };
                let checkpoint = if minute.rem_euclid(5 * MINUTE) == 0 {
                    1.5
                } else {
                    0.0
                };
                (2.6 + rds.cpu_per_load * load
                    + vacuum
                    + checkpoint
                    + 0.9 * self.drift(rds.key, r.m, minute, 0.8)
                    + 38.0 * exhaustion)
                    .clamp(0.5, 100.0)
            }
            M::RdsConnections => {
                let mut c = 2.0 + (rng.f64() < 0.3) as u32 as f64;
                let mut full = RDS_SYSTEM_CONNECTIONS;
                let mid = minute + 30 * SECOND;
                for &s in &rds.services {
                    let exp = self.model.expected_visits[s].max(1e-9);
                    let l = q.svc_all[s].visits as f64 / exp;
                    let lang = w.service(s).language;
                    let per_pod = pool_size(lang, l);
                    let pods = w
                        .pods
                        .pods_overlapping(s, minute, minute + MINUTE)
                        .filter(|&p| w.pod(p).serving_at(mid))
                        .count();
                    c += per_pod * pods as f64;
                    full += max_pool(lang) * pods as f64;
                }
                if exhaustion > 0.0 {
                    c += ((full - c).max(0.0) * exhaustion).round();
                }
                c
            }
            M::RdsFreeableMemory => {
                let day_phase =
                    (minute.rem_euclid(DAY) as f64 / DAY as f64) * std::f64::consts::TAU;
                let conns = self
                    .rds_minute(
                        Resolved {
                            m: M::RdsConnections,
                            ..r
                        },
                        minute,
                    )
                    .map_or(0.0, |s| s.sum);
                (rds.memory_bytes * (0.34 + 0.015 * day_phase.sin()) - conns * 9.5e6 - load * 120e6
                    + 40e6 * self.drift(rds.key, r.m, minute, 0.9))
                .max(rds.memory_bytes * 0.02)
                .round()
            }
            M::RdsReadLatency => {
                (0.00042 + 0.00011 * load + 0.00004 * self.drift(rds.key, r.m, minute, 0.6).abs())
                    * (1.0 + 9.0 * exhaustion)
            }
            M::RdsWriteLatency => {
                (0.00105 + 0.00028 * load + 0.00012 * self.drift(rds.key, r.m, minute, 0.6).abs())
                    * (1.0 + 6.0 * exhaustion)
            }
            M::RdsReadIops => {
                1.2 + 0.055 * visits + 0.8 * self.drift(rds.key, r.m, minute, 0.5).abs()
            }
            M::RdsWriteIops => {
                3.5 + 0.09 * writes
                    + 0.012 * visits
                    + 1.5 * self.drift(rds.key, r.m, minute, 0.5).abs()
            }
            M::RdsFreeStorage => {
                let days = minute.div_euclid(DAY);
                let within = ((days.rem_euclid(30)) as f64
                    + minute.rem_euclid(DAY) as f64 / DAY as f64)
                    / 30.0;
                (rds.storage_bytes * (0.66 - 0.06 * crate::rng::unit(rds.key))
                    - 14e9 * within
                    - 2e6 * rng.normal().abs())
                .round()
            }
            _ => return None,
        };
        Some(StatSet::one(v))
    }

    /// Messages the consumers of queue `qi` could not take in `minute` (no pod serving),
    /// and the incident acting on the consumer then, if any.
    fn sqs_dropped(&self, qi: usize, minute: Micros) -> (f64, Option<u32>) {
        let w = self.world;
        let mut dropped = 0.0;
        let mut incident = None;
        for &s in &self.model.queues[qi].consumers {
            let always = w
                .pods
                .pods_overlapping(s, minute, minute + MINUTE)
                .any(|p| {
                    let pod = w.pod(p);
                    pod.ready <= minute
                        && pod.deleted.is_none_or(|d| d >= minute + MINUTE)
                        && !pod
                            .restarts
                            .iter()
                            .any(|r| r.at < minute + MINUTE && r.back > minute)
                });
            if !always && w.requests.roots_per_minute[s] > 0.0 {
                let q = self.req(minute);
                let d = q.svc_all[s].arrived.saturating_sub(q.svc_all[s].roots) as f64;
                if d > 0.0 {
                    dropped += d;
                    incident = incident.or_else(|| self.acting_on(s, minute + 30 * SECOND, false));
                }
            }
        }
        (dropped, incident)
    }

    /// Extra messages per minute the consumers can take beyond the arrivals.
    fn sqs_capacity(&self, qi: usize, minute: Micros) -> f64 {
        let w = self.world;
        let mid = minute + 30 * SECOND;
        self.model.queues[qi]
            .consumers
            .iter()
            .map(|&s| {
                let serving = w
                    .pods
                    .pods_overlapping(s, minute, minute + MINUTE)
                    .filter(|&p| w.pod(p).serving_at(mid))
                    .count() as f64;
                let per_pod = self.model.expected_visits[s] / w.service(s).replicas.max(1) as f64;
                2.0 * per_pod * serving * w.traffic.service(s, minute).max(0.2)
            })
            .sum()
    }

    /// Messages of `minute` lagging consumers leave in queue `qi` at lag intensity `i`:
    /// each message of the minute with probability 0.9 i.
    fn sqs_held(&self, qi: usize, minute: Micros, i: f64) -> f64 {
        let queue = &self.model.queues[qi];
        let q = self.req(minute);
        let arrived: u32 = queue.consumers.iter().map(|&s| q.svc_all[s].visits).sum();
        let u = crate::rng::unit(stream(queue.key, &[str_key("sqs-held"), minute as u64]));
        crate::rng::poisson_quantile(arrived as f64 * (0.9 * i).min(1.0), u).min(arrived as u64)
            as f64
    }

    /// The backlog of queue `qi` at the end of `minute`, rebuilt from `SQS_LOOKBACK`
    /// minutes back: each minute the consumers first drain the oldest waiting messages
    /// (up to their spare capacity, which lagging consumers lack), then the messages no
    /// pod could take and those lagging consumers left join the queue.
    pub(crate) fn sqs_state(&self, qi: usize, minute: Micros) -> Arc<SqsMinute> {
        let compute = || Arc::new(self.compute_sqs_state(qi, minute));
        let queues = self.model.queues.len();
        match minute_slot(minute).filter(|_| qi < queues) {
            Some((hour, i)) => self
                .hour_slots(&self.sqs, "cloudwatch/sqs-minutes", hour, || {
                    Slots::new(MINUTES * queues)
                })
                .get(i * queues + qi, compute),
            None => compute(),
        }
    }

    fn compute_sqs_state(&self, qi: usize, minute: Micros) -> SqsMinute {
        // (minute sent, messages, incident or u32::MAX)
        let mut waiting: VecDeque<(Micros, f64, u32)> = VecDeque::new();
        let mut out = SqsMinute::default();
        for k in (0..SQS_LOOKBACK).rev() {
            let m = minute - k * MINUTE;
            let lag = self.effect(Effect::SqsBacklog, Kind::Sqs, qi, m + 30 * SECOND);
            let i = lag.map_or(0.0, |x| x.1);
            let total: f64 = waiting.iter().map(|e| e.1).sum();
            let mut drained = if total > 0.0 {
                total
                    .min(self.sqs_capacity(qi, m) * (1.0 - i).max(0.0))
                    .floor()
            } else {
                0.0
            };
            out.drained = drained;
            out.moved_incident = None;
            while drained > 0.0 {
                let Some(front) = waiting.front_mut() else {
                    break;
                };
                let take = front.1.min(drained);
                front.1 -= take;
                drained -= take;
                if front.2 != u32::MAX && out.moved_incident.is_none() {
                    out.moved_incident = Some(front.2);
                }
                if front.1 <= 0.0 {
                    waiting.pop_front();
                }
            }
            let (dropped, dropped_by) = self.sqs_dropped(qi, m);
            if dropped > 0.0 {
                waiting.push_back((m, dropped, dropped_by.unwrap_or(u32::MAX)));
            }
            out.held = 0.0;
            if let Some((inc, i)) = lag {
                let held = self.sqs_held(qi, m, i);
                if held > 0.0 {
                    // A near miss's messages are part of the normal world: untagged.
                    let by = Some(inc)
                        .filter(|&k| !self.world.incidents.incidents[k as usize].background);
                    waiting.push_back((m, held, by.unwrap_or(u32::MAX)));
                    out.held = held;
                    out.moved_incident = by;
                }
            }
        }
        out.backlog = waiting.iter().map(|e| e.1).sum();
        out.oldest = waiting.front().map(|e| e.0);
        out.waiting_incident = waiting.iter().find(|e| e.2 != u32::MAX).map(|e| e.2);
        out
    }

    fn sqs_minute(&self, r: Resolved, minute: Micros) -> Option<StatSet> {
        let w = self.world;
        let queue = &self.model.queues[r.r];
        let q = self.req(minute);
        let (mut visits, mut errors, mut sent, mut busy, mut pods) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for &s in &queue.consumers {
            let m = &q.svc_all[s];
            visits += m.visits as f64;
            errors += m.errors as f64;
            busy += m.busy_s;
            // Messages sent: every job that arrived (root arrivals, whether or not a pod
            // took it) plus the jobs enqueued by callers (non-root visits).
            sent += (m.arrived + (m.visits - m.roots)) as f64;
            pods += w
                .pods
                .pods_overlapping(s, minute, minute + MINUTE)
                .filter(|&p| w.pod(p).serving_at(minute + 30 * SECOND))
                .count() as f64;
        }
        let mut rng = self.noise(queue.key, r.m, minute);
        let v = match r.m {
            M::SqsSent => sent,
            M::SqsReceived => {
                let st = self.sqs_state(r.r, minute);
                (visits - st.held).max(0.0) + st.drained
            }
            M::SqsDeleted => {
                let st = self.sqs_state(r.r, minute);
                ((visits - st.held).max(0.0) + st.drained - errors).max(0.0)
            }
            M::SqsVisible => {
                self.sqs_state(r.r, minute).backlog + rng.poisson(visits / 60.0 * 1.2) as f64
            }
            M::SqsNotVisible => (busy / 60.0 + errors * 0.5).round() + rng.poisson(0.3) as f64,
            M::SqsOldestAge => {
                let st = self.sqs_state(r.r, minute);
                if let (true, Some(since)) = (st.backlog > 0.0, st.oldest) {
                    ((minute + MINUTE - since) / SECOND) as f64
                } else if visits > 0.0 {
                    rng.lognormal(1.6, 0.6).round()
                } else {
                    0.0
                }
            }
            M::SqsEmptyReceives => {
                let per_pod = visits / pods.max(1.0);
                (pods * 12.0 * (-per_pod / 8.0).exp()).round()
            }
            _ => return None,
        };
        Some(StatSet::one(v))
    }

    fn ddb_minute(&self, r: Resolved, minute: Micros) -> Option<StatSet> {
        let t = &self.model.tables[r.r];
        let q = self.req(minute);
        let (mut reads, mut writes, mut expected) = (0.0, 0.0, 0.0);
        for &s in &t.services {
            reads += q.svc_all[s].visits as f64;
            writes += q.svc_all[s].writes as f64;
            expected += self.model.expected_visits[s];
        }
        if reads <= 0.0 {
            return None;
        }
        let load = reads / expected.max(1e-9);
        let mut rng = self.noise(t.key, r.m, minute);
        match r.m {
            M::DdbReadUnits => Some(StatSet {
                sum: (reads * rng.range_f64(0.62, 0.74) * 2.0).round() / 2.0,
                count: reads,
                min: 0.5,
                max: 2.5,
            }),
            M::DdbWriteUnits => (writes > 0.0).then(|| StatSet {
                sum: (writes * rng.range_f64(1.15, 1.35)).round(),
                count: writes,
                min: 1.0,
                max: 3.0,
            }),
            M::DdbGetLatency | M::DdbPutLatency => {
                let n = if r.m == M::DdbGetLatency {
                    reads
                } else {
                    writes
                };
                let base = if r.m == M::DdbGetLatency { 2.6 } else { 4.9 };
                let avg = base * (1.0 + 0.04 * load) * rng.lognormal(1.0, 0.08);
                (n > 0.0).then(|| StatSet {
                    sum: avg * n,
                    count: n,
                    min: avg * rng.range_f64(0.3, 0.45),
                    max: avg * rng.range_f64(2.5, 6.0),
                })
            }
            M::DdbThrottled => {
                // Writes arrive unevenly: the busiest seconds of the minute against the
                // provisioned capacity, once the burst credit is spent.
                let wcu_per_s = writes * 1.25 / 60.0;
                let over = (wcu_per_s * rng.range_f64(1.5, 3.0) - t.wcu_per_second).max(0.0);
                Some(StatSet::one((over * rng.range_f64(10.0, 25.0)).round()))
            }
            _ => None,
        }
    }

    fn lambda_minute(&self, r: Resolved, minute: Micros) -> Option<StatSet> {
        let inv = self.invocations(r.r, minute);
        let n = inv.len() as u32;
        if n == 0 {
            return None;
        }
        match r.m {
            M::LambdaInvocations => StatSet::ones(n),
            M::LambdaErrors => {
                let e = inv.iter().filter(|i| i.error).count() as f64;
                Some(StatSet {
                    sum: e,
                    count: n as f64,
                    min: if e == n as f64 { 1.0 } else { 0.0 },
                    max: if e > 0.0 { 1.0 } else { 0.0 },
                })
            }
            M::LambdaThrottles => Some(StatSet {
                sum: 0.0,
                count: n as f64,
                min: 0.0,
                max: 0.0,
            }),
            M::LambdaDuration => {
                let mut s = StatSet {
                    sum: 0.0,
                    count: 0.0,
                    min: f64::INFINITY,
                    max: 0.0,
                };
                for i in inv.iter() {
                    s = s.merge(StatSet::one(i.duration_ms));
                }
                Some(s)
            }
            M::LambdaConcurrent => {
                let prev = self.invocations(r.r, minute - MINUTE);
                let all: Vec<&Invocation> = prev.iter().chain(inv.iter()).collect();
                let max = inv
                    .iter()
                    .map(|x| {
                        all.iter()
                            .filter(|y| y.start <= x.start && y.end() > x.start)
                            .count()
                    })
                    .max()
                    .unwrap_or(0);
                Some(StatSet::one(max as f64))
            }
            _ => None,
        }
    }

    fn node_minute(&self, r: Resolved, minute: Micros) -> Option<StatSet> {
        let cores = self.world.config.services.cluster.nodes.cpu_cores as f64;
        let nm = self.nodes(minute)[r.r];
        let v = match r.m {
            M::Ec2Cpu => (nm.cores / cores * 100.0).clamp(0.0, 100.0),
            M::Ec2NetIn => nm.net_in.round(),
            M::Ec2NetOut => nm.net_out.round(),
            M::Ec2PacketsIn => (nm.net_in / 1_180.0).round(),
            M::Ec2PacketsOut => (nm.net_out / 960.0).round(),
            M::Ec2StatusFailed | M::Ec2StatusSystem => {
                self.status_failed(r.r, minute).is_some() as u8 as f64
            }
            M::Ec2StatusInstance => 0.0,
            M::Ec2EbsReadBytes => nm.ebs_read.round(),
            M::Ec2EbsWriteBytes => (nm.ebs_write * self.disk_write_factor(r.r, minute)).round(),
            M::Ec2EbsReadOps => (nm.ebs_read / 24_576.0).round(),
            M::Ec2EbsWriteOps => {
                (nm.ebs_write * self.disk_write_factor(r.r, minute) / 32_768.0).round()
            }
            _ => return None,
        };
        Some(StatSet::one(v))
    }

    /// Disk pressure: whatever fills the root volume writes to it (up to 4x the usual).
    fn disk_write_factor(&self, n: usize, minute: Micros) -> f64 {
        1.0 + 3.0
            * self
                .effect(Effect::Ec2Disk, Kind::Node, n, minute + 30 * SECOND)
                .map_or(0.0, |x| x.1)
    }

    /// `CWAgent` `disk_used_percent` of a node's root volume: a per-node level between 38
    /// and 56%, images and container logs accumulating over a few days until the kubelet's
    /// image garbage collection and log rotation free them; under disk pressure it climbs
    /// towards 95% and falls back in the recovery (evictions, cleanup).
    fn agent_minute(&self, r: Resolved, minute: Micros) -> Option<StatSet> {
        if r.m != M::AgentDiskUsed {
            return None;
        }
        let node = self.world.topology.nodes.get(r.r)?;
        let key = mix64(str_key(&node.instance_id) ^ self.world.seed);
        let base = 38.0 + 18.0 * unit(key);
        let cycle = (2.0 + 3.0 * unit(mix64(key ^ 1))) * DAY as f64;
        let phase = ((minute as f64 + unit(mix64(key ^ 2)) * cycle) / cycle).fract();
        let mut rng = self.noise(key, r.m, minute);
        let mut v = base + 6.0 * phase + 0.04 * self.drift(key, r.m, minute, 0.9);
        if let Some((_, i)) = self.effect(Effect::Ec2Disk, Kind::Node, r.r, minute + 30 * SECOND) {
            v += (95.4 + 0.3 * rng.normal() - v) * i;
        }
        Some(StatSet::one(v.clamp(0.0, 100.0)))
    }
}

/// Whether a CloudWatch dashboard panel plots `s` (its namespace and metric, one of its
/// resources if it lists any).
pub(crate) fn panel_reads(panel: &crate::config::PanelDef, s: &MetricSeries) -> bool {
    panel.cloudwatch_namespace.as_deref() == Some(s.namespace)
        && panel.metric.value == s.metric
        && (panel.resources.is_empty() || panel.resources.contains(&s.resource))
}

/// A series resolved to the model (metric, resource, target group), if it is one we model.
fn resolve_in(world: &World, model: &Model, s: &MetricSeries) -> Option<Resolved> {
    let kind = Kind::of_namespace(s.namespace)?;
    let r = model.find(world, kind, &s.resource)?;
    let op = s
        .dimensions
        .iter()
        .find(|(n, _)| *n == "Operation")
        .map(|(_, v)| v.as_str());
    let d = CATALOG
        .iter()
        .find(|d| d.kind == kind && d.name == s.metric && (op.is_none() || d.operation == op))?;
    let sub = if kind == Kind::Alb {
        s.dimensions
            .iter()
            .find(|(n, _)| *n == "TargetGroup")
            .and_then(|(_, v)| model.albs[r].tg_dims.iter().position(|t| t == v))
            .unwrap_or(0)
    } else {
        0
    };
    Some(Resolved {
        m: d.m,
        kind,
        r,
        sub,
    })
}

/// Connections a pod's pool holds at relative load `l` (1.0 = normal traffic).
fn pool_size(lang: Language, l: f64) -> f64 {
    match lang {
        // HikariCP: minimumIdle defaults to maximumPoolSize (10).
        Language::Java => 10.0,
        // SQLAlchemy: pool_size 5, max_overflow 10.
        Language::Python => 5.0 + (4.0 * (l - 0.6)).clamp(0.0, 10.0).round(),
        // database/sql: 2 idle, more under load.
        Language::Go => 2.0 + (3.0 * l).clamp(0.0, 8.0).round(),
        // node-postgres: grows on demand, idle connections close after 10 s.
        Language::Node => 1.0 + (4.0 * l).clamp(0.0, 9.0).round(),
    }
}

/// Does an autovacuum worker run on the instance during `minute`?
pub(crate) fn autovacuum_runs(key: u64, minute: Micros) -> bool {
    crate::rng::unit(crate::rng::stream(
        key,
        &[str_key("autovacuum"), minute as u64],
    )) < 0.06
}

/// Target health of service `s`'s pods, sampled every 10 s of the minute: (healthy,
/// unhealthy). Pods still starting are in the `initial` state and counted in neither.
fn target_health(world: &World, s: usize, minute: Micros) -> (StatSet, StatSet) {
    let pods: Vec<usize> = world
        .pods
        .pods_overlapping(s, minute, minute + MINUTE)
        .collect();
    let mut h: Option<StatSet> = None;
    let mut u: Option<StatSet> = None;
    for k in 0..6 {
        let t = minute + 5 * SECOND + k * 10 * SECOND;
        let mut healthy = 0.0;
        let mut unhealthy = 0.0;
        for &p in &pods {
            let pod = world.pod(p);
            if pod.serving_at(t) {
                healthy += 1.0;
            } else if t >= pod.ready && pod.deleted.is_none_or(|d| t < d) {
                unhealthy += 1.0;
            }
        }
        h = Some(h.map_or(StatSet::one(healthy), |x| x.merge(StatSet::one(healthy))));
        u = Some(u.map_or(StatSet::one(unhealthy), |x| {
            x.merge(StatSet::one(unhealthy))
        }));
    }
    (
        h.unwrap_or(StatSet::one(0.0)),
        u.unwrap_or(StatSet::one(0.0)),
    )
}

/// The series of catalog entry `d` on resource `r` (sub-resource `sub`), with the given
/// statistic and period.
pub(crate) fn make_series(
    world: &World,
    model: &Model,
    d: &Def,
    r: usize,
    sub: usize,
    statistic: Statistic,
    period_seconds: u32,
) -> MetricSeries {
    let (resource, dimensions): (String, Vec<(&'static str, String)>) = match d.kind {
        Kind::Alb => {
            let a = &model.albs[r];
            let dims = if matches!(d.m, M::AlbHealthy | M::AlbUnhealthy) {
                vec![
                    (
                        "TargetGroup",
                        a.tg_dims.get(sub).cloned().unwrap_or_default(),
                    ),
                    ("LoadBalancer", a.dim.clone()),
                ]
            } else {
                vec![("LoadBalancer", a.dim.clone())]
            };
            (a.name.clone(), dims)
        }
        Kind::Rds => {
            let id = model.rds[r].id.clone();
            (id.clone(), vec![("DBInstanceIdentifier", id)])
        }
        Kind::Sqs => {
            let id = model.queues[r].id.clone();
            (id.clone(), vec![("QueueName", id)])
        }
        Kind::Dynamo => {
            let id = model.tables[r].id.clone();
            let mut dims = vec![("TableName", id.clone())];
            if let Some(op) = d.operation {
                dims.push(("Operation", op.to_string()));
            }
            (id, dims)
        }
        Kind::Lambda => {
            let id = model.functions[r].id.clone();
            (id.clone(), vec![("FunctionName", id)])
        }
        Kind::Node => {
            let n = &world.topology.nodes[r];
            (n.name.clone(), vec![("InstanceId", n.instance_id.clone())])
        }
        Kind::Agent => {
            // The CloudWatch agent's `disk` plugin on the root volume of an EKS node.
            let n = &world.topology.nodes[r];
            (
                n.name.clone(),
                vec![
                    ("InstanceId", n.instance_id.clone()),
                    ("device", "nvme0n1p1".to_string()),
                    ("fstype", "xfs".to_string()),
                    ("path", "/".to_string()),
                ],
            )
        }
    };
    MetricSeries {
        namespace: namespace(d.kind),
        metric: d.name,
        unit: d.unit,
        statistic,
        period_seconds,
        dimensions,
        resource,
    }
}

/// The base series (each catalog metric on each resource, at its native resolution with
/// its usual statistic), then the series the alarms evaluate that are not among them.
pub(crate) fn base_series(world: &World, model: &Model) -> Vec<MetricSeries> {
    let ec2_period = if world
        .config
        .generation
        .sources
        .cloudwatch
        .ec2_detailed_monitoring
    {
        60
    } else {
        300
    };
    let mut out = Vec::new();
    let count = |k: Kind| match k {
        Kind::Alb => model.albs.len(),
        Kind::Rds => model.rds.len(),
        Kind::Sqs => model.queues.len(),
        Kind::Dynamo => model.tables.len(),
        Kind::Lambda => model.functions.len(),
        Kind::Node | Kind::Agent => world.topology.nodes.len(),
    };
    for kind in [
        Kind::Alb,
        Kind::Rds,
        Kind::Sqs,
        Kind::Dynamo,
        Kind::Lambda,
        Kind::Node,
        Kind::Agent,
    ] {
        for r in 0..count(kind) {
            for d in CATALOG.iter().filter(|d| d.kind == kind) {
                let period = if kind == Kind::Node { ec2_period } else { 60 };
                let subs = if matches!(d.m, M::AlbHealthy | M::AlbUnhealthy) {
                    model.albs[r].tg_dims.len()
                } else {
                    1
                };
                for sub in 0..subs {
                    out.push(make_series(world, model, d, r, sub, d.stat, period));
                }
            }
        }
    }
    out
}

/// Every series the metrics table writes, in a fixed order: every catalog metric of every
/// resource (ALBs, RDS instances, queues, DynamoDB tables, Lambda functions, nodes), then
/// the (statistic, period) variants the configured alarms evaluate, when they differ.
pub fn all_series(world: &World) -> Vec<MetricSeries> {
    DatapointCache::new(world).table().series.clone()
}

/// The datapoint of `series` for the period starting at `period_start` (aligned to its period), or None when
/// CloudWatch has no datapoint (e.g. Lambda with no invocations). A pure function of the world: the metrics
/// table, the alarms evaluation and Grafana panels all call it, so they agree exactly.
pub fn datapoint(world: &World, series: &MetricSeries, period_start: Micros) -> Option<f64> {
    DatapointCache::new(world).datapoint(series, period_start)
}
