//! `services_config.yaml`: cluster, AWS resources and services with their dependencies.

use super::{ConfigError, NonNeg, invalid_at};
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServicesConfig {
    pub cluster: Cluster,
    #[serde(default)]
    pub aws: AwsResources,
    pub services: Vec<Service>,
    /// CloudWatch alarms on the AWS resources.
    #[serde(default)]
    pub alarms: Vec<super::AlarmDef>,
    /// Grafana dashboards.
    #[serde(default)]
    pub dashboards: Vec<super::DashboardDef>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    pub name: String,
    pub environment: String,
    pub region: String,
    pub account_id: String,
    pub kubernetes_version: String,
    pub nodes: NodePool,
    pub registry: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodePool {
    pub count: u32,
    pub instance_type: String,
    pub cpu_cores: u32,
    pub memory_gib: u32,
    pub vpc_cidr_prefix: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsResources {
    #[serde(default)]
    pub rds: Vec<RdsInstance>,
    #[serde(default)]
    pub load_balancers: Vec<LoadBalancer>,
    #[serde(default)]
    pub sqs: Vec<SimpleResource>,
    #[serde(default)]
    pub dynamodb: Vec<SimpleResource>,
    #[serde(default)]
    pub lambda: Vec<LambdaFunction>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RdsInstance {
    pub id: String,
    pub engine: DbEngine,
    pub instance_class: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DbEngine {
    Postgres,
    Mysql,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadBalancer {
    pub id: String,
    pub scheme: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimpleResource {
    pub id: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LambdaFunction {
    pub id: String,
    pub runtime: String,
    pub memory_mb: u32,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Python,
    Node,
    Java,
    Go,
}

impl Language {
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Python => "python",
            Language::Node => "node",
            Language::Java => "java",
            Language::Go => "go",
        }
    }
}

/// What a service does: serves a web frontend, an internal API, or consumes a queue.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum ServiceKind {
    Web,
    Api,
    Worker,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub name: Spanned<String>,
    pub namespace: String,
    pub language: Language,
    pub framework: String,
    pub kind: ServiceKind,
    pub replicas: u32,
    /// Share of the platform's incoming requests (or jobs) this service receives directly;
    /// 0 for services only reached through their callers.
    #[serde(default = "zero")]
    pub traffic_share: NonNeg,
    #[serde(default)]
    pub dependencies: Vec<Spanned<String>>,
    pub resources: Resources,
    #[serde(default)]
    pub aws: ServiceAws,
    pub routes: Vec<String>,
    pub deploys_per_day: NonNeg,
}

fn zero() -> NonNeg {
    NonNeg(0.0)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    pub cpu_request_m: u32,
    pub cpu_limit_m: u32,
    pub memory_request_mib: u32,
    pub memory_limit_mib: u32,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceAws {
    #[serde(default)]
    pub load_balancer: Option<Spanned<String>>,
    #[serde(default)]
    pub rds: Vec<Spanned<String>>,
    #[serde(default)]
    pub sqs: Vec<Spanned<String>>,
    #[serde(default)]
    pub dynamodb: Vec<Spanned<String>>,
    #[serde(default)]
    pub lambda: Vec<Spanned<String>>,
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 50
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

impl ServicesConfig {
    pub(super) fn validate(&self, file: &Path) -> Result<(), ConfigError> {
        if self.services.is_empty() {
            return Err(invalid_at(
                file,
                "services",
                None,
                "at least one service is required",
            ));
        }
        let mut index: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, s) in self.services.iter().enumerate() {
            let p = format!("services[{i}]");
            if !is_dns_label(&s.name.value) {
                return Err(invalid_at(
                    file,
                    format!("{p}.name"),
                    Some(&s.name.referenced),
                    format!(
                        "`{}` is not a valid Kubernetes name (lowercase letters, digits and '-', at most 50 characters)",
                        s.name.value
                    ),
                ));
            }
            if index.insert(s.name.value.as_str(), i).is_some() {
                return Err(invalid_at(
                    file,
                    format!("{p}.name"),
                    Some(&s.name.referenced),
                    format!("service `{}` is defined twice", s.name.value),
                ));
            }
            if !is_dns_label(&s.namespace) {
                return Err(invalid_at(
                    file,
                    format!("{p}.namespace"),
                    Some(&s.name.referenced),
                    format!("`{}` is not a valid namespace name", s.namespace),
                ));
            }
            let r = &s.resources;
            if r.cpu_request_m == 0 || r.cpu_request_m > r.cpu_limit_m {
                return Err(invalid_at(
                    file,
                    format!("{p}.resources"),
                    Some(&s.name.referenced),
                    "cpu_request_m must be positive and at most cpu_limit_m",
                ));
            }
            if r.memory_request_mib == 0 || r.memory_request_mib > r.memory_limit_mib {
                return Err(invalid_at(
                    file,
                    format!("{p}.resources"),
                    Some(&s.name.referenced),
                    "memory_request_mib must be positive and at most memory_limit_mib",
                ));
            }
            if s.routes.is_empty() {
                return Err(invalid_at(
                    file,
                    format!("{p}.routes"),
                    Some(&s.name.referenced),
                    "at least one route (or task name) is required",
                ));
            }
        }
        if self.services.iter().all(|s| s.traffic_share.0 == 0.0) {
            return Err(invalid_at(
                file,
                "services",
                None,
                "no service has a traffic_share > 0: nothing would receive requests",
            ));
        }
        // References: dependencies and AWS resources must exist.
        for (i, s) in self.services.iter().enumerate() {
            for (j, d) in s.dependencies.iter().enumerate() {
                if !index.contains_key(d.value.as_str()) {
                    return Err(invalid_at(
                        file,
                        format!("services[{i}].dependencies[{j}]"),
                        Some(&d.referenced),
                        format!("unknown service `{}`", d.value),
                    ));
                }
                if d.value == s.name.value {
                    return Err(invalid_at(
                        file,
                        format!("services[{i}].dependencies[{j}]"),
                        Some(&d.referenced),
                        "a service cannot depend on itself",
                    ));
                }
            }
            let aws = &self.aws;
            let check =
                |kind: &str, list: &[Spanned<String>], known: &[&str]| -> Result<(), ConfigError> {
                    for (j, r) in list.iter().enumerate() {
                        if !known.contains(&r.value.as_str()) {
                            return Err(invalid_at(
                                file,
                                format!("services[{i}].aws.{kind}[{j}]"),
                                Some(&r.referenced),
                                format!(
                                    "unknown {kind} resource `{}` (not listed under aws.{kind})",
                                    r.value
                                ),
                            ));
                        }
                    }
                    Ok(())
                };
            check(
                "rds",
                &s.aws.rds,
                &aws.rds.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            )?;
            check(
                "sqs",
                &s.aws.sqs,
                &aws.sqs.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            )?;
            check(
                "dynamodb",
                &s.aws.dynamodb,
                &aws.dynamodb
                    .iter()
                    .map(|r| r.id.as_str())
                    .collect::<Vec<_>>(),
            )?;
            check(
                "lambda",
                &s.aws.lambda,
                &aws.lambda.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            )?;
            if let Some(lb) = &s.aws.load_balancer
                && !aws.load_balancers.iter().any(|l| l.id == lb.value)
            {
                return Err(invalid_at(
                    file,
                    format!("services[{i}].aws.load_balancer"),
                    Some(&lb.referenced),
                    format!(
                        "unknown load balancer `{}` (not listed under aws.load_balancers)",
                        lb.value
                    ),
                ));
            }
        }
        super::alarms::validate_alarms(file, &self.alarms, self)?;
        super::dashboards::validate_dashboards(file, &self.dashboards, self)?;
        // The dependency graph must be acyclic: requests flow down it.
        if let Some(cycle) = self.find_cycle(&index) {
            let (i, j) = cycle[0];
            let names: Vec<&str> = cycle
                .iter()
                .map(|&(a, _)| self.services[a].name.value.as_str())
                .collect();
            let d = &self.services[i].dependencies[j];
            return Err(invalid_at(
                file,
                format!("services[{i}].dependencies[{j}]"),
                Some(&d.referenced),
                format!("dependency cycle: {} -> {}", names.join(" -> "), names[0]),
            ));
        }
        Ok(())
    }

    /// Depth-first search for a cycle; returns its edges as (service, dependency index).
    fn find_cycle(&self, index: &BTreeMap<&str, usize>) -> Option<Vec<(usize, usize)>> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            Active,
            Done,
        }
        fn visit(
            cfg: &ServicesConfig,
            index: &BTreeMap<&str, usize>,
            v: usize,
            marks: &mut [Mark],
            stack: &mut Vec<(usize, usize)>,
        ) -> Option<Vec<(usize, usize)>> {
            marks[v] = Mark::Active;
            for (j, d) in cfg.services[v].dependencies.iter().enumerate() {
                let w = index[d.value.as_str()];
                stack.push((v, j));
                match marks[w] {
                    Mark::Active => {
                        let start = stack.iter().position(|&(a, _)| a == w).unwrap_or(0);
                        return Some(stack[start..].to_vec());
                    }
                    Mark::New => {
                        if let Some(c) = visit(cfg, index, w, marks, stack) {
                            return Some(c);
                        }
                    }
                    Mark::Done => {}
                }
                stack.pop();
            }
            marks[v] = Mark::Done;
            None
        }
        let mut marks = vec![Mark::New; self.services.len()];
        for v in 0..self.services.len() {
            if marks[v] == Mark::New {
                let mut stack = Vec::new();
                if let Some(c) = visit(self, index, v, &mut marks, &mut stack) {
                    return Some(c);
                }
            }
        }
        None
    }
}
