//! The AWS side of the world: the resources of `services_config.yaml` (`aws:`) with the
//! identifiers AWS would give them, and the per-minute aggregates of the request stream and
//! of the pods that every CloudWatch table reads.
//!
//! Everything here is a pure function of the world plan and the minute it is asked about.

use crate::config::{DbEngine, Language, ServiceKind};
use crate::rng::{Rng, mix64, normal_quantile, poisson_quantile, str_key, stream, unit, write_hex};
use crate::sources::kubernetes::{
    ContainerModel, container_model, container_sample, templates::route_method,
};
use crate::time::{MINUTE, Micros, SECOND};
use crate::world::requests::OWN_SIGMA;
use crate::world::{Visit, World};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// A load balancer and the target groups of the services behind it.
pub(crate) struct Alb {
    pub name: String,
    /// The `LoadBalancer` dimension value and access-log `elb` field: `app/<name>/<16 hex>`.
    pub dim: String,
    /// Services whose `load_balancer` is this ALB (one target group each).
    pub services: Vec<usize>,
    /// `targetgroup/<name>/<16 hex>` per service, in `services` order.
    pub tg_dims: Vec<String>,
    pub tg_arns: Vec<String>,
    /// Host name clients use.
    pub domain: String,
    pub key: u64,
}

pub(crate) struct Rds {
    pub id: String,
    pub engine: DbEngine,
    pub memory_bytes: f64,
    pub storage_bytes: f64,
    pub services: Vec<usize>,
    pub ip: String,
    pub db_name: String,
    pub user: String,
    /// CPU percent added per unit of load (load 1.0 = the callers' traffic at 1.0).
    pub cpu_per_load: f64,
    pub key: u64,
}

pub(crate) struct Queue {
    pub id: String,
    /// Worker services that list the queue: they receive its messages.
    pub consumers: Vec<usize>,
    pub key: u64,
}

pub(crate) struct DynamoTable {
    pub id: String,
    pub services: Vec<usize>,
    /// Provisioned write capacity units per second.
    pub wcu_per_second: f64,
    pub key: u64,
}

pub(crate) struct Function {
    pub id: String,
    pub runtime: String,
    pub memory_mb: u32,
    /// Services that list the function: they invoke it.
    pub callers: Vec<usize>,
    /// Median duration in milliseconds.
    pub median_ms: f64,
    pub key: u64,
}

/// The model of `world`, built once and shared by every table.
pub(crate) fn shared_model(world: &World) -> std::sync::Arc<Model> {
    world.shared_run("cloudwatch/model", || Model::build(world))
}

/// The AWS resources with their derived identifiers, built once per world
/// ([`shared_model`]).
pub(crate) struct Model {
    pub albs: Vec<Alb>,
    pub rds: Vec<Rds>,
    pub queues: Vec<Queue>,
    pub tables: Vec<DynamoTable>,
    pub functions: Vec<Function>,
    /// Per service: the ALB in front of it.
    pub svc_alb: Vec<Option<(usize, usize)>>,
    /// Per service: expected visits per minute at traffic 1.0 (scale included), every
    /// request counted (the sampled ones times `requests_per_access_line`).
    pub expected_visits: Vec<f64>,
    /// Per service: what a request the sample leaves out looks like on average.
    pub unsampled: Vec<UnsampledShape>,
    /// Per node: its primary network interface id.
    pub node_eni: Vec<String>,
    pub vpc_id: String,
    pub account: String,
    pub cluster: String,
}

fn hex_id(key: u64, n: usize) -> String {
    let mut s = String::with_capacity(n);
    write_hex(&mut s, mix64(key), n.min(16));
    if n > 16 {
        write_hex(&mut s, mix64(key ^ 0x5555), n - 16);
    }
    s
}

/// Memory of an RDS instance class, from its family and size (`db.r6g.xlarge`: 32 GiB).
fn class_memory_gib(class: &str) -> f64 {
    let mut parts = class.split('.');
    let _db = parts.next();
    let family = parts.next().unwrap_or("m");
    let size = parts.next().unwrap_or("large");
    let vcpus = match size {
        "micro" | "small" => 1.0,
        "medium" => 1.0,
        "large" => 2.0,
        "xlarge" => 4.0,
        s => s
            .strip_suffix("xlarge")
            .and_then(|n| n.parse::<f64>().ok())
            .map_or(2.0, |n| 4.0 * n),
    };
    let per_cpu = match family.as_bytes().first() {
        Some(b'r') | Some(b'x') => 8.0,
        Some(b't') => 2.0,
        _ => 4.0,
    };
    vcpus * per_cpu
}

impl Model {
    pub fn build(world: &World) -> Model {
        let seed = world.seed;
        let cfg = &world.config.services;
        let services = &world.topology.services;
        let n = services.len();
        let users = |f: &dyn Fn(&crate::world::ServiceInfo) -> bool| -> Vec<usize> {
            services.iter().filter(|s| f(s)).map(|s| s.index).collect()
        };
        let mut svc_alb = vec![None; n];
        let albs: Vec<Alb> = cfg
            .aws
            .load_balancers
            .iter()
            .enumerate()
            .map(|(a, lb)| {
                let key = stream(seed, &[str_key("cw-alb"), str_key(&lb.id)]);
                let svcs = users(&|s| s.load_balancer.as_deref() == Some(lb.id.as_str()));
                let mut tg_dims = Vec::new();
                let mut tg_arns = Vec::new();
                for (j, &s) in svcs.iter().enumerate() {
                    svc_alb[s] = Some((a, j));
                    let svc = &services[s];
                    let tkey = stream(key, &[str_key("tg"), svc.key]);
                    // AWS Load Balancer Controller naming: k8s-<ns 8>-<svc 8>-<hash 10>.
                    let ns: String = svc.namespace.chars().take(8).collect();
                    let sn: String = svc.name.chars().take(8).collect();
                    let tg = format!(
                        "targetgroup/k8s-{ns}-{sn}-{}/{}",
                        hex_id(tkey, 10),
                        hex_id(tkey ^ 1, 16)
                    );
                    tg_arns.push(format!(
                        "arn:aws:elasticloadbalancing:{}:{}:{tg}",
                        cfg.cluster.region, cfg.cluster.account_id
                    ));
                    tg_dims.push(tg);
                }
                let stem = lb.id.strip_suffix("-alb").unwrap_or(&lb.id);
                Alb {
                    name: lb.id.clone(),
                    dim: format!("app/{}/{}", lb.id, hex_id(key, 16)),
                    services: svcs,
                    tg_dims,
                    tg_arns,
                    domain: format!("{stem}.example.com"),
                    key,
                }
            })
            .collect();
        let rds = cfg
            .aws
            .rds
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let key = stream(seed, &[str_key("cw-rds"), str_key(&r.id)]);
                let stem = r.id.strip_suffix("-db").unwrap_or(&r.id).replace('-', "_");
                Rds {
                    id: r.id.clone(),
                    engine: r.engine,
                    memory_bytes: class_memory_gib(&r.instance_class) * 1024f64.powi(3),
                    storage_bytes: (200 + 100 * (key % 4)) as f64 * 1024f64.powi(3),
                    services: users(&|s| s.rds.contains(&r.id)),
                    ip: format!(
                        "10.0.{}.{}",
                        100 + i * 3 + (key % 3) as usize,
                        10 + key % 200
                    ),
                    user: format!("{stem}_app"),
                    db_name: stem,
                    cpu_per_load: 16.0 + (mix64(key) % 1000) as f64 / 100.0,
                    key,
                }
            })
            .collect();
        let queues = cfg
            .aws
            .sqs
            .iter()
            .map(|q| Queue {
                id: q.id.clone(),
                consumers: users(&|s| s.kind == ServiceKind::Worker && s.sqs.contains(&q.id)),
                key: stream(seed, &[str_key("cw-sqs"), str_key(&q.id)]),
            })
            .collect();
        let expected_visits: Vec<f64> = expected_visits_per_minute(world)
            .into_iter()
            .map(|v| v * world.requests.per_access_line)
            .collect();
        let unsampled = (0..n).map(|s| UnsampledShape::of(world, s)).collect();
        let tables = cfg
            .aws
            .dynamodb
            .iter()
            .map(|t| {
                let svcs = users(&|s| s.dynamodb.contains(&t.id));
                // Write capacity units per second at traffic 1.0 (1.25 WCU per write).
                let wcu: f64 = svcs
                    .iter()
                    .map(|&s| expected_visits[s] * write_share(world, s))
                    .sum::<f64>()
                    * 1.25
                    / 60.0;
                DynamoTable {
                    id: t.id.clone(),
                    // Provisioned for the busiest seconds of an ordinary evening peak (the
                    // minimum is 1): the busiest seconds of a flash sale throttle.
                    wcu_per_second: (wcu * 6.0).ceil().max(1.0),
                    services: svcs,
                    key: stream(seed, &[str_key("cw-ddb"), str_key(&t.id)]),
                }
            })
            .collect();
        let functions = cfg
            .aws
            .lambda
            .iter()
            .map(|f| {
                let key = stream(seed, &[str_key("cw-lambda"), str_key(&f.id)]);
                let base = if f.runtime.starts_with("python") {
                    420.0
                } else if f.runtime.starts_with("java") {
                    650.0
                } else {
                    520.0
                };
                Function {
                    id: f.id.clone(),
                    runtime: f.runtime.clone(),
                    memory_mb: f.memory_mb,
                    callers: users(&|s| s.lambda.contains(&f.id)),
                    median_ms: base
                        * (1024.0 / f.memory_mb.max(128) as f64).sqrt()
                        * (0.7 + unit_of(key) * 0.6),
                    key,
                }
            })
            .collect();
        let node_eni = world
            .topology
            .nodes
            .iter()
            .map(|nd| format!("eni-0{}", hex_id(str_key(&nd.instance_id) ^ seed, 16)))
            .collect();
        Model {
            albs,
            rds,
            queues,
            tables,
            functions,
            svc_alb,
            expected_visits,
            unsampled,
            node_eni,
            vpc_id: format!("vpc-0{}", hex_id(stream(seed, &[str_key("cw-vpc")]), 16)),
            account: cfg.cluster.account_id.clone(),
            cluster: cfg.cluster.name.clone(),
        }
    }

    /// The service a resource is most associated with (the `service` column): the service
    /// behind a load balancer, the first service using an RDS instance or DynamoDB table, the
    /// consumer of a queue, the first caller of a function; the cluster name for nodes.
    pub fn resource_service<'w>(&'w self, world: &'w World, kind: Kind, r: usize) -> &'w str {
        let first = |v: &[usize]| v.first().map(|&s| world.service(s).name.as_str());
        match kind {
            Kind::Alb => first(&self.albs[r].services),
            Kind::Rds => first(&self.rds[r].services),
            Kind::Sqs => first(&self.queues[r].consumers).or_else(|| {
                let id = &self.queues[r].id;
                world
                    .topology
                    .services
                    .iter()
                    .find(|s| s.sqs.iter().any(|q| q == id))
                    .map(|s| s.name.as_str())
            }),
            Kind::Dynamo => first(&self.tables[r].services),
            Kind::Lambda => first(&self.functions[r].callers),
            Kind::Node | Kind::Agent => None,
        }
        .unwrap_or(&self.cluster)
    }

    /// Resource index of `id` for a resource kind (node name for nodes).
    pub fn find(&self, world: &World, kind: Kind, id: &str) -> Option<usize> {
        match kind {
            Kind::Alb => self.albs.iter().position(|x| x.name == id),
            Kind::Rds => self.rds.iter().position(|x| x.id == id),
            Kind::Sqs => self.queues.iter().position(|x| x.id == id),
            Kind::Dynamo => self.tables.iter().position(|x| x.id == id),
            Kind::Lambda => self.functions.iter().position(|x| x.id == id),
            Kind::Node | Kind::Agent => world.topology.nodes.iter().position(|x| x.name == id),
        }
    }
}

/// Resource kinds, one per CloudWatch namespace we write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Alb,
    Rds,
    Sqs,
    Dynamo,
    Lambda,
    /// EC2 metrics of the nodes (`AWS/EC2`).
    Node,
    /// CloudWatch agent metrics of the nodes (`CWAgent`).
    Agent,
}

impl Kind {
    pub fn of_namespace(ns: &str) -> Option<Kind> {
        Some(match ns {
            "AWS/ApplicationELB" => Kind::Alb,
            "AWS/RDS" => Kind::Rds,
            "AWS/SQS" => Kind::Sqs,
            "AWS/DynamoDB" => Kind::Dynamo,
            "AWS/Lambda" => Kind::Lambda,
            "AWS/EC2" => Kind::Node,
            "CWAgent" => Kind::Agent,
            _ => return None,
        })
    }
}

fn unit_of(key: u64) -> f64 {
    crate::rng::unit(key)
}

/// Share of a service's visits on write routes (by route weight).
fn write_share(world: &World, s: usize) -> f64 {
    let svc = world.service(s);
    let cum = &world.requests.route_weights[s];
    let total = cum.last().copied().unwrap_or(1.0).max(1e-12);
    let mut prev = 0.0;
    let mut share = 0.0;
    for (r, route) in svc.routes.iter().enumerate() {
        let w = (cum[r] - prev) / total;
        prev = cum[r];
        if !matches!(route_method(route), "GET" | "HEAD" | "OPTIONS") {
            share += w;
        }
    }
    share
}

/// Expected visits per minute of every service at traffic 1.0: the entry services' root
/// rates pushed through the route dependency weights.
fn expected_visits_per_minute(world: &World) -> Vec<f64> {
    let topo = &world.topology;
    let req = &world.requests;
    let n = topo.services.len();
    // per_root[e][s]: expected visits to s of one request entering e.
    let mut per_root = vec![vec![0.0; n]; n];
    for &s in &topo.dependency_order {
        let mut v = vec![0.0; n];
        v[s] = 1.0;
        let cum = &req.route_weights[s];
        let total = cum.last().copied().unwrap_or(1.0).max(1e-12);
        let mut prev = 0.0;
        for (r, deps) in req.route_deps[s].iter().enumerate() {
            let w = (cum[r] - prev) / total;
            prev = cum[r];
            for &d in deps {
                for k in 0..n {
                    v[k] += w * per_root[d][k];
                }
            }
        }
        per_root[s] = v;
    }
    (0..n)
        .map(|s| {
            (0..n)
                .map(|e| req.roots_per_minute[e] * world.scale * per_root[e][s])
                .sum()
        })
        .collect()
}

/// Is the route a write (POST, PUT, PATCH, DELETE; queue tasks count as writes)?
pub(crate) fn is_write(world: &World, v: &Visit) -> bool {
    let svc = world.service(v.service as usize);
    let route = &svc.routes[v.route as usize % svc.routes.len()];
    !matches!(route_method(route), "GET" | "HEAD" | "OPTIONS")
}

/// Request and response sizes of a root request at the load balancer, in bytes.
pub(crate) fn alb_bytes(world: &World, v: &Visit) -> (u64, u64) {
    alb_bytes_at(world, v, v.status)
}

/// [`alb_bytes`] had the request answered with `status` (its twin's, for one an incident
/// changed).
fn alb_bytes_at(world: &World, v: &Visit, status: u16) -> (u64, u64) {
    let k = mix64(v.key ^ 0x616c_6262);
    let received = if is_write(world, v) {
        700 + k % 2_400
    } else {
        260 + k % 900
    };
    let sent = match status {
        304 => 180 + (k >> 20) % 120,
        400..=499 => 240 + (k >> 20) % 400,
        500.. => 150 + (k >> 20) % 200,
        _ => 900 + (k >> 20) % 48_000,
    };
    (received, sent)
}

/// Share of the root requests that open a new client connection (no keep-alive reuse).
const NEW_CONNECTION_SHARE: f64 = 0.38;

/// Did this root request open a new client connection (no keep-alive reuse)?
pub(crate) fn new_connection(v: &Visit) -> bool {
    mix64(v.root_key ^ 0x636f_6e6e) % 100 < (NEW_CONNECTION_SHARE * 100.0) as u64
}

/// Per-service counts of the visits starting in one minute.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SvcMinute {
    pub visits: u32,
    pub writes: u32,
    pub errors: u32,
    /// Sum of visit durations, seconds.
    pub busy_s: f64,
    /// Visits longer than a second (slow database statements).
    pub slow: u32,
    /// Root requests that found a pod, and root requests that arrived.
    pub roots: u32,
    pub arrived: u32,
}

/// Per-ALB aggregates of the root requests starting in one minute.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct AlbMinute {
    pub requests: u32,
    pub c2: u32,
    pub c3: u32,
    pub c4: u32,
    pub c5: u32,
    /// Root requests no target could take (the ALB answers 503 itself).
    pub rejected: u32,
    pub rt_sum: f64,
    pub rt_min: f64,
    pub rt_max: f64,
    pub bytes: f64,
    pub new_conns: u32,
}

/// How the root requests an incident changed (labelled visits) change an ALB minute from
/// the twin's: what each of its sums gains or loses.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IncidentShare {
    /// Index into the incident plan.
    pub incident: u32,
    /// Change of the 2XX, 3XX, 4XX and 5XX counts.
    pub classes: [i32; 4],
    /// Change of the summed response time, µs.
    pub response_time: i64,
    /// Change of the bytes processed.
    pub bytes: i64,
}

impl IncidentShare {
    fn new(incident: u32) -> Self {
        IncidentShare {
            incident,
            classes: [0; 4],
            response_time: 0,
            bytes: 0,
        }
    }

    /// Adds a changed root request (status and duration against the twin's).
    fn add(&mut self, world: &World, v: &Visit) {
        self.classes[status_class(v.status)] += 1;
        self.classes[status_class(v.base_status)] -= 1;
        self.response_time += v.duration - v.base_duration;
        let (rx, tx) = alb_bytes(world, v);
        let (base_rx, base_tx) = alb_bytes_at(world, v, v.base_status);
        self.bytes += (rx + tx) as i64 - (base_rx + base_tx) as i64;
    }
}

/// Index of an HTTP status's class among 2XX, 3XX, 4XX, 5XX (anything else counts as 5XX,
/// as the ALB minute does).
fn status_class(status: u16) -> usize {
    match status {
        200..=299 => 0,
        300..=399 => 1,
        400..=499 => 2,
        _ => 3,
    }
}

/// The per-request constants of a service that turn the expected load of the requests
/// the sample leaves out ([`crate::world::load`]) into metric counts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UnsampledShape {
    /// Share of the visits that write (POST, PUT, PATCH, DELETE).
    pub writes: f64,
    /// Share of the answers that are not 5xx that are 4xx, and 304 (an HTTP service's
    /// own outcomes, as `visit` draws them).
    pub c4: f64,
    pub c3: f64,
    /// Mean bytes received per request at the load balancer.
    pub received: f64,
}

impl UnsampledShape {
    fn of(world: &World, s: usize) -> Self {
        let svc = world.service(s);
        let cum = &world.requests.route_weights[s];
        let total = cum.last().copied().unwrap_or(1.0).max(1e-12);
        let first_route = cum.first().copied().unwrap_or(0.0) / total;
        let http = svc.kind != ServiceKind::Worker;
        let writes = write_share(world, s);
        UnsampledShape {
            writes,
            c4: if http { 0.024 } else { 0.0 },
            c3: if http { 0.036 * first_route } else { 0.0 },
            received: writes * (700.0 + 1_199.5) + (1.0 - writes) * (260.0 + 449.5),
        }
    }
}

/// Mean bytes sent per answer at the load balancer, by class (2XX, 3XX, 4XX, 5XX), as
/// [`alb_bytes_at`] draws them.
const SENT_BYTES: [f64; 4] = [900.0 + 23_999.5, 180.0 + 59.5, 240.0 + 199.5, 150.0 + 99.5];

/// What the request stream did in one minute.
pub(crate) struct ReqMinute {
    /// The sampled requests (the ones the logs and traces show).
    pub svc: Vec<SvcMinute>,
    /// Every request, the sampled ones and the rest: what the metrics count.
    pub svc_all: Vec<SvcMinute>,
    pub alb_all: Vec<AlbMinute>,
    /// Per ALB: the shares of the incidents that changed some of its root requests.
    pub alb_incidents: Vec<Vec<IncidentShare>>,
}

impl ReqMinute {
    /// Aggregates `visits`, the expansion of `minute` (all of it, in order).
    pub fn from_visits(world: &World, model: &Model, minute: Micros, visits: &[Visit]) -> Self {
        let n = world.topology.services.len();
        let mut svc = vec![SvcMinute::default(); n];
        let mut alb = vec![
            AlbMinute {
                rt_min: f64::INFINITY,
                rt_max: 0.0,
                ..AlbMinute::default()
            };
            model.albs.len()
        ];
        let mut alb_incidents: Vec<Vec<IncidentShare>> = vec![Vec::new(); model.albs.len()];
        for v in visits {
            let s = v.service as usize;
            let m = &mut svc[s];
            m.visits += 1;
            m.writes += is_write(world, v) as u32;
            m.errors += (v.status >= 500) as u32;
            let d = v.duration as f64 / SECOND as f64;
            m.busy_s += d;
            m.slow += (v.duration > SECOND) as u32;
            if v.is_root() {
                m.roots += 1;
                if let Some((a, _)) = model.svc_alb[s] {
                    let x = &mut alb[a];
                    x.requests += 1;
                    match v.status {
                        200..=299 => x.c2 += 1,
                        300..=399 => x.c3 += 1,
                        400..=499 => x.c4 += 1,
                        _ => x.c5 += 1,
                    }
                    x.rt_sum += d;
                    x.rt_min = x.rt_min.min(d);
                    x.rt_max = x.rt_max.max(d);
                    let (rx, tx) = alb_bytes(world, v);
                    x.bytes += (rx + tx) as f64;
                    x.new_conns += new_connection(v) as u32;
                    if v.incident != u32::MAX {
                        let list = &mut alb_incidents[a];
                        let k = match list.iter().position(|x| x.incident == v.incident) {
                            Some(k) => k,
                            None => {
                                list.push(IncidentShare::new(v.incident));
                                list.len() - 1
                            }
                        };
                        list[k].add(world, v);
                    }
                }
            }
        }
        for (s, m) in svc.iter_mut().enumerate() {
            if world.requests.roots_per_minute[s] > 0.0 {
                m.arrived = world.root_count(s, minute) as u32;
            }
            if let Some((a, _)) = model.svc_alb[s] {
                alb[a].rejected += m.arrived.saturating_sub(m.roots);
            }
        }
        let (svc_all, alb_all) = with_unsampled(world, model, minute, &svc, &alb);
        ReqMinute {
            svc,
            svc_all,
            alb_all,
            alb_incidents,
        }
    }
}

/// The sampled minute `svc`, `alb` plus the requests the sample leaves out, drawn from
/// their expected load with uniforms keyed by (seed, service, minute, quantity): the
/// same draws in the counterfactual twin, so the counts differ from the twin's only
/// where an incident changed the load.
fn with_unsampled(
    world: &World,
    model: &Model,
    minute: Micros,
    svc: &[SvcMinute],
    alb: &[AlbMinute],
) -> (Vec<SvcMinute>, Vec<AlbMinute>) {
    let mut svc_all = svc.to_vec();
    let mut alb_all = alb.to_vec();
    if world.requests.per_access_line <= 1.0 {
        return (svc_all, alb_all);
    }
    let load = world.unsampled_load(minute);
    for (s, l) in load.iter().enumerate() {
        let key = stream(
            world.seed,
            &[
                str_key("cw-unsampled"),
                world.topology.services[s].key,
                minute as u64,
            ],
        );
        let u = |k: u64| unit(stream(key, &[k]));
        let shape = &model.unsampled[s];
        let roots = poisson_quantile(l.roots, u(0));
        let visits = roots + poisson_quantile(l.visits - l.roots, u(1));
        let arrived = roots + poisson_quantile(l.arrivals - l.roots, u(2));
        let errors = poisson_quantile(visits as f64 * l.p5xx, u(3)).min(visits);
        let writes = poisson_quantile(visits as f64 * shape.writes, u(4)).min(visits);
        let m = &mut svc_all[s];
        m.visits += visits as u32;
        m.errors += errors as u32;
        m.writes += writes as u32;
        m.busy_s += visits as f64 * l.duration_us / SECOND as f64;
        m.roots += roots as u32;
        m.arrived += arrived as u32;
        let Some((a, _)) = model.svc_alb[s] else {
            continue;
        };
        let x = &mut alb_all[a];
        x.rejected += (arrived - roots) as u32;
        if roots == 0 {
            continue;
        }
        let r = roots as f64;
        let c5 = poisson_quantile(r * l.p5xx, u(5)).min(roots);
        let ok = (roots - c5) as f64;
        let c4 = poisson_quantile(ok * shape.c4, u(6)).min(roots - c5);
        let c3 = poisson_quantile(ok * shape.c3, u(7)).min(roots - c5 - c4);
        let c2 = roots - c5 - c4 - c3;
        x.requests += roots as u32;
        x.c2 += c2 as u32;
        x.c3 += c3 as u32;
        x.c4 += c4 as u32;
        x.c5 += c5 as u32;
        // The mean of `roots` durations: a visit's duration varies about 0.6 of its mean.
        let noise = 1.0 + 0.6 * normal_quantile(u(10)) / r.sqrt();
        x.rt_sum += r * l.duration_us * noise.max(0.5) / SECOND as f64;
        // The fastest and the slowest of `roots` answers: the own latency's tails at the
        // expected extreme of that many log-normal draws (with a little spread).
        let z = (2.0 * (r + 1.0).ln()).sqrt();
        let calls =
            (l.duration_us - l.own_median_us * (OWN_SIGMA * OWN_SIGMA / 2.0).exp()).max(0.0);
        let jitter = 0.3 * (u(8) - 0.5);
        let slowest = calls + l.own_median_us * (OWN_SIGMA * (z + jitter)).exp();
        let fastest = 0.5 * calls + l.own_median_us * (-OWN_SIGMA * (z - jitter)).exp();
        x.rt_max = x.rt_max.max(slowest / SECOND as f64);
        x.rt_min = x.rt_min.min(fastest / SECOND as f64);
        x.bytes += r * shape.received
            + [c2, c3, c4, c5]
                .iter()
                .zip(SENT_BYTES)
                .map(|(&c, b)| c as f64 * b)
                .sum::<f64>();
        x.new_conns += poisson_quantile(r * NEW_CONNECTION_SHARE, u(9)).min(roots) as u32;
    }
    (svc_all, alb_all)
}

/// Per-node aggregates over one minute: what the EC2 instance's hypervisor sees.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct NodeMinute {
    /// Average cores busy over the minute (pods, system daemons, image pulls).
    pub cores: f64,
    pub net_in: f64,
    pub net_out: f64,
    pub ebs_read: f64,
    pub ebs_write: f64,
}

/// Compressed image size pulled by a runtime's containers, in bytes.
fn image_bytes(lang: Language) -> f64 {
    match lang {
        Language::Java => 310e6,
        Language::Python => 240e6,
        Language::Node => 170e6,
        Language::Go => 38e6,
    }
}

/// The nodes over `[minute, minute + 1 min)`: CPU and network of the pods scheduled there
/// (from the same container model as `kubernetes/metrics`), image pulls, system daemons.
/// `models` caches the pods' container models across minutes.
pub(crate) fn node_minutes(
    world: &World,
    models: &RefCell<HashMap<usize, Rc<ContainerModel>>>,
    minute: Micros,
) -> Vec<NodeMinute> {
    let end = minute + MINUTE;
    let mut out = vec![NodeMinute::default(); world.topology.nodes.len()];
    let mut pods_on = vec![0u32; out.len()];
    for s in 0..world.topology.services.len() {
        let lang = world.service(s).language;
        for p in world.pods.pods_overlapping(s, minute, end) {
            let pod = world.pod(p);
            let nm = &mut out[pod.node];
            // Image pull: bytes in over [pulling, pulled), extracted to disk.
            let (pa, pb) = (pod.pulling.max(minute), pod.pulled.min(end));
            if pb > pa {
                let share = (pb - pa) as f64 / (pod.pulled - pod.pulling).max(1) as f64;
                let bytes = image_bytes(lang) * share;
                nm.net_in += bytes;
                nm.ebs_write += bytes * 2.1;
                nm.cores += 0.6 * (pb - pa) as f64 / MINUTE as f64;
            }
            let a = minute.max(pod.started);
            let b = end.min(pod.deleted.map_or(end, |d| d + 2 * SECOND));
            if b <= a {
                continue;
            }
            pods_on[pod.node] += 1;
            let cm = models
                .borrow_mut()
                .entry(p)
                .or_insert_with(|| Rc::new(container_model(world, p)))
                .clone();
            let x = container_sample(world, &cm, p, a);
            let y = container_sample(world, &cm, p, b);
            let cpu = if x.container_key == y.container_key {
                (y.cpu_seconds - x.cpu_seconds).max(0.0)
            } else {
                y.cpu_seconds.max(0.0)
            };
            nm.cores += cpu / 60.0;
            let rx = (y.rx_bytes - x.rx_bytes).max(0) as f64;
            let tx = (y.tx_bytes - x.tx_bytes).max(0) as f64;
            nm.net_in += rx;
            nm.net_out += tx;
            // Container logs and temp files: a little disk per CPU second.
            nm.ebs_write += 90_000.0 * cpu + 2_000.0 * (b - a) as f64 / SECOND as f64;
        }
    }
    for (i, nm) in out.iter_mut().enumerate() {
        let mut rng = Rng::derive(world.seed, &[str_key("cw-node"), i as u64, minute as u64]);
        // kubelet, containerd, aws-node, kube-proxy, log shipper.
        nm.cores += (0.16 + 0.025 * pods_on[i] as f64 + 0.02 * rng.normal()).max(0.05);
        nm.net_in += 60.0 * (38_000.0 + 4_000.0 * rng.normal().abs());
        nm.net_out += 60.0 * (52_000.0 + 6_000.0 * rng.normal().abs());
        nm.ebs_write += 60.0 * (110_000.0 + 20_000.0 * rng.normal().abs());
        nm.ebs_read += 60.0 * (6_000.0 + 3_000.0 * rng.normal().abs());
    }
    out
}

/// One Lambda invocation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Invocation {
    pub start: Micros,
    pub duration_ms: f64,
    pub max_memory_mb: u32,
    pub init_ms: Option<f64>,
    pub error: bool,
    pub key: u64,
}

impl Invocation {
    pub fn end(&self) -> Micros {
        self.start + (self.duration_ms * 1000.0) as Micros
    }
    pub fn billed_ms(&self) -> u64 {
        self.duration_ms.ceil() as u64
    }
}

/// Expected invocations per minute of function `f` at `minute`: the configured rate times
/// the traffic of its first caller.
pub(crate) fn lambda_rate(world: &World, model: &Model, f: usize, minute: Micros) -> f64 {
    let base = world
        .config
        .generation
        .sources
        .cloudwatch
        .lambda_invocations_per_minute
        .0
        * world.scale;
    let traffic = match model.functions[f].callers.first() {
        Some(&s) => world.traffic.service(s, minute),
        None => world.traffic.global(minute),
    };
    base * traffic
}

/// Function timeout: no invocation runs longer.
pub(crate) const LAMBDA_TIMEOUT_MS: f64 = 30_000.0;

/// The invocations of function `f` starting in `[minute, minute + 1 min)`, by start time.
pub(crate) fn invocations(
    world: &World,
    model: &Model,
    f: usize,
    minute: Micros,
) -> Vec<Invocation> {
    let func = &model.functions[f];
    let lambda = lambda_rate(world, model, f, minute);
    let n = Rng::derive(
        world.seed,
        &[str_key("cw-lambda-n"), func.key, minute as u64],
    )
    .poisson(lambda);
    let cold_p = 0.008 + 0.35 * (-lambda / 3.0).exp();
    let mut out: Vec<Invocation> = (0..n)
        .map(|i| {
            let key = stream(
                world.seed,
                &[str_key("cw-lambda-inv"), func.key, minute as u64, i],
            );
            let mut rng = Rng::new(key);
            let start = minute + rng.below(MINUTE as u64) as Micros;
            let cold = rng.chance(cold_p);
            let error = rng.chance(0.004);
            let mut d = rng.lognormal(func.median_ms, 0.42);
            if error {
                d *= rng.range_f64(0.05, 0.6);
            }
            let d = (d * 100.0).round() / 100.0;
            let init = cold.then(|| {
                let base = if func.runtime.starts_with("java") {
                    2_400.0
                } else if func.runtime.starts_with("python") {
                    520.0
                } else {
                    310.0
                };
                (rng.lognormal(base, 0.25) * 100.0).round() / 100.0
            });
            let frac = rng.range_f64(0.16, 0.42) * if cold { 0.9 } else { 1.0 };
            Invocation {
                start,
                duration_ms: d.clamp(1.0, LAMBDA_TIMEOUT_MS),
                max_memory_mb: ((func.memory_mb as f64 * frac) as u32).clamp(48, func.memory_mb),
                init_ms: init,
                error,
                key,
            }
        })
        .collect();
    out.sort_by_key(|v| (v.start, v.key));
    out
}

/// Appends the 32-hex-digit Lambda request id (a UUID) of an invocation.
pub(crate) fn write_uuid(out: &mut impl std::fmt::Write, key: u64) {
    let hi = mix64(key ^ 0xa5a5_a5a5);
    let lo = mix64(key ^ 0x5a5a_5a5a);
    let hi = (hi & 0xffff_ffff_ffff_0fff) | 0x0000_0000_0000_4000;
    let lo = (lo & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    let _ = write!(
        out,
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0xffff,
        lo >> 48,
        lo & 0xffff_ffff_ffff
    );
}
