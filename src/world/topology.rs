//! Topology: services with their callers and dependencies, nodes, AWS resources.

use crate::config::{Language, ServiceKind, ServicesConfig};
use crate::rng::{Rng, str_key, stream};

/// How a service's containers write their log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStyle {
    /// One JSON object per line (structlog, pino, logback-json, zap).
    Json,
    /// Plain text in the framework's default layout.
    Text,
}

/// Most CPU a container of a service uses when idle, as a share of its CPU request (the
/// container model of `sources::kubernetes::metrics` draws each pod's share below it).
pub const CPU_IDLE_MAX: f64 = 0.05;
/// Most CPU a container uses per unit of traffic, as a share of its CPU request.
pub const CPU_BUSY_MAX: f64 = 0.6;

#[derive(Debug, Clone)]
pub struct ServiceInfo {
    pub index: usize,
    pub name: String,
    pub namespace: String,
    pub language: Language,
    pub framework: String,
    pub kind: ServiceKind,
    pub replicas: u32,
    pub traffic_share: f64,
    pub deps: Vec<usize>,
    pub callers: Vec<usize>,
    pub routes: Vec<String>,
    pub log_style: LogStyle,
    pub cpu_request_m: u32,
    pub cpu_limit_m: u32,
    pub memory_request_bytes: u64,
    pub memory_limit_bytes: u64,
    pub deploys_per_day: f64,
    /// Container port the service listens on.
    pub port: u16,
    /// Stable key for RNG streams about this service.
    pub key: u64,
    /// Major version of the service's release line.
    pub major_version: u32,
    pub rds: Vec<String>,
    pub sqs: Vec<String>,
    pub dynamodb: Vec<String>,
    pub lambda: Vec<String>,
    pub load_balancer: Option<String>,
}

impl ServiceInfo {
    /// The traffic factor at which the busiest container the model can draw for this
    /// service uses its whole CPU limit: beyond it, the CFS quota caps the CPU and the
    /// surplus shows as throttling, not as more CPU seconds.
    pub fn cpu_traffic_ceiling(&self) -> f64 {
        let (req, limit) = (self.cpu_request_m as f64, self.cpu_limit_m as f64);
        ((limit - CPU_IDLE_MAX * req) / (CPU_BUSY_MAX * req).max(1e-9)).max(0.0)
    }
}

#[derive(Debug, Clone)]
pub struct NodeInfo {
    pub name: String,
    pub ip: String,
    pub instance_id: String,
    pub zone: String,
}

#[derive(Debug, Clone)]
pub struct Topology {
    pub services: Vec<ServiceInfo>,
    pub nodes: Vec<NodeInfo>,
    /// Services in an order where every dependency comes before its callers.
    pub dependency_order: Vec<usize>,
}

impl Topology {
    pub fn build(seed: u64, cfg: &ServicesConfig) -> Topology {
        let names: Vec<&str> = cfg.services.iter().map(|s| s.name.value.as_str()).collect();
        let idx = |n: &str| names.iter().position(|x| *x == n).unwrap_or(0);
        let mut services: Vec<ServiceInfo> = cfg
            .services
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let key = stream(seed, &[str_key("service"), str_key(&s.name.value)]);
                let log_style = match (s.language, s.framework.as_str()) {
                    (Language::Go, _) | (Language::Node, _) => LogStyle::Json,
                    (Language::Python, "fastapi") => LogStyle::Json,
                    (Language::Java, "micronaut") => LogStyle::Json,
                    _ => LogStyle::Text,
                };
                let port = match s.language {
                    Language::Java => 8080,
                    Language::Python => 8000,
                    Language::Node => 3000,
                    Language::Go => 8080,
                };
                ServiceInfo {
                    index: i,
                    name: s.name.value.clone(),
                    namespace: s.namespace.clone(),
                    language: s.language,
                    framework: s.framework.clone(),
                    kind: s.kind,
                    replicas: s.replicas,
                    traffic_share: s.traffic_share.0,
                    deps: s.dependencies.iter().map(|d| idx(&d.value)).collect(),
                    callers: Vec::new(),
                    routes: s.routes.clone(),
                    log_style,
                    cpu_request_m: s.resources.cpu_request_m,
                    cpu_limit_m: s.resources.cpu_limit_m,
                    memory_request_bytes: s.resources.memory_request_mib as u64 * 1024 * 1024,
                    memory_limit_bytes: s.resources.memory_limit_mib as u64 * 1024 * 1024,
                    deploys_per_day: s.deploys_per_day.0,
                    port,
                    key,
                    major_version: 1 + (key % 4) as u32,
                    rds: s.aws.rds.iter().map(|r| r.value.clone()).collect(),
                    sqs: s.aws.sqs.iter().map(|r| r.value.clone()).collect(),
                    dynamodb: s.aws.dynamodb.iter().map(|r| r.value.clone()).collect(),
                    lambda: s.aws.lambda.iter().map(|r| r.value.clone()).collect(),
                    load_balancer: s.aws.load_balancer.as_ref().map(|l| l.value.clone()),
                }
            })
            .collect();
        for i in 0..services.len() {
            for d in services[i].deps.clone() {
                services[d].callers.push(i);
            }
        }
        let dependency_order = topo_order(&services);

        let nodes_cfg = &cfg.cluster.nodes;
        let zones = ["a", "b", "c"];
        let mut rng = Rng::derive(seed, &[str_key("nodes")]);
        let mut used = std::collections::BTreeSet::new();
        let nodes = (0..nodes_cfg.count)
            .map(|i| {
                let zone = zones[i as usize % zones.len()];
                // Subnets per zone: 10.0.0.0/19, 10.0.32.0/19, 10.0.64.0/19.
                let (third, fourth) = loop {
                    let third = (i as usize % zones.len()) as u64 * 32 + rng.below(32);
                    let fourth = 4 + rng.below(250);
                    if used.insert((third, fourth)) {
                        break (third, fourth);
                    }
                };
                let ip = format!("{}.{third}.{fourth}", nodes_cfg.vpc_cidr_prefix);
                let mut instance_id = String::from("i-0");
                rng.hex_into(&mut instance_id, 16);
                // EC2 private DNS: `ec2.internal` in us-east-1, `<region>.compute.internal` elsewhere.
                let domain = if cfg.cluster.region == "us-east-1" {
                    "ec2.internal".to_string()
                } else {
                    format!("{}.compute.internal", cfg.cluster.region)
                };
                NodeInfo {
                    name: format!("ip-{}.{domain}", ip.replace('.', "-")),
                    ip,
                    instance_id,
                    zone: format!("{}{}", cfg.cluster.region, zone),
                }
            })
            .collect();
        Topology {
            services,
            nodes,
            dependency_order,
        }
    }

    pub fn service_index(&self, name: &str) -> Option<usize> {
        self.services.iter().position(|s| s.name == name)
    }
}

/// Dependencies before callers (the config validation guarantees a DAG).
fn topo_order(services: &[ServiceInfo]) -> Vec<usize> {
    let mut order = Vec::with_capacity(services.len());
    let mut done = vec![false; services.len()];
    fn visit(v: usize, s: &[ServiceInfo], done: &mut [bool], order: &mut Vec<usize>) {
        if done[v] {
            return;
        }
        done[v] = true;
        for &d in &s[v].deps {
            visit(d, s, done, order);
        }
        order.push(v);
    }
    for v in 0..services.len() {
        visit(v, services, &mut done, &mut order);
    }
    order
}

/// The alphabet Kubernetes uses for generated name suffixes (no vowels, no confusables).
pub const K8S_ALPHABET: &[u8; 27] = b"bcdfghjklmnpqrstvwxz2456789";

/// Appends `n` characters of the Kubernetes suffix alphabet derived from `key`.
pub fn push_k8s_suffix(out: &mut String, mut key: u64, n: usize) {
    for _ in 0..n {
        out.push(K8S_ALPHABET[(key % 27) as usize] as char);
        key /= 27;
        if key < 27 {
            key = crate::rng::mix64(key ^ 0x5bd1_e995);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn default_topology_is_realistic() {
        let cfg = Config::defaults().expect("defaults");
        let t = Topology::build(42, &cfg.services);
        assert!(t.services.len() >= 12);
        let ns: std::collections::BTreeSet<_> = t.services.iter().map(|s| &s.namespace).collect();
        assert!(ns.len() >= 3);
        let langs: std::collections::BTreeSet<_> = t.services.iter().map(|s| s.language).collect();
        assert_eq!(langs.len(), 4);
        for n in &t.nodes {
            assert!(
                n.name.starts_with("ip-10-0-") && n.name.ends_with(".ec2.internal"),
                "{}",
                n.name
            );
            assert_eq!(n.instance_id.len(), 19);
        }
        // dependency order: deps first
        let pos: Vec<usize> = (0..t.services.len())
            .map(|s| {
                t.dependency_order
                    .iter()
                    .position(|&x| x == s)
                    .expect("present")
            })
            .collect();
        for s in &t.services {
            for &d in &s.deps {
                assert!(pos[d] < pos[s.index]);
            }
        }
    }
}
