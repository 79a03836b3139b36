//! CloudWatch alarms of the platform (`alarms:` in `services_config.yaml`). Their state
//! changes are evaluated from the generated datapoints themselves.

use super::{ConfigError, invalid_at};
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
pub enum Statistic {
    Average,
    Sum,
    Minimum,
    Maximum,
    SampleCount,
}

impl Statistic {
    pub fn as_str(self) -> &'static str {
        match self {
            Statistic::Average => "Average",
            Statistic::Sum => "Sum",
            Statistic::Minimum => "Minimum",
            Statistic::Maximum => "Maximum",
            Statistic::SampleCount => "SampleCount",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
pub enum Comparison {
    GreaterThanThreshold,
    GreaterThanOrEqualToThreshold,
    LessThanThreshold,
    LessThanOrEqualToThreshold,
}

impl Comparison {
    pub fn as_str(self) -> &'static str {
        match self {
            Comparison::GreaterThanThreshold => "GreaterThanThreshold",
            Comparison::GreaterThanOrEqualToThreshold => "GreaterThanOrEqualToThreshold",
            Comparison::LessThanThreshold => "LessThanThreshold",
            Comparison::LessThanOrEqualToThreshold => "LessThanOrEqualToThreshold",
        }
    }

    /// Does `value` breach `threshold`?
    pub fn breaches(self, value: f64, threshold: f64) -> bool {
        match self {
            Comparison::GreaterThanThreshold => value > threshold,
            Comparison::GreaterThanOrEqualToThreshold => value >= threshold,
            Comparison::LessThanThreshold => value < threshold,
            Comparison::LessThanOrEqualToThreshold => value <= threshold,
        }
    }

    /// The words CloudWatch uses in a state reason ("greater than the threshold").
    pub fn phrase(self) -> &'static str {
        match self {
            Comparison::GreaterThanThreshold => "greater than",
            Comparison::GreaterThanOrEqualToThreshold => "greater than or equal to",
            Comparison::LessThanThreshold => "less than",
            Comparison::LessThanOrEqualToThreshold => "less than or equal to",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum TreatMissingData {
    #[default]
    Missing,
    NotBreaching,
    Breaching,
    Ignore,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmDef {
    pub name: Spanned<String>,
    pub description: String,
    /// CloudWatch namespace, e.g. `AWS/ApplicationELB`.
    pub namespace: String,
    pub metric: String,
    /// Id of the AWS resource (from `aws:`), or a node name pattern `nodes` for one alarm
    /// per EC2 node.
    pub resource: Spanned<String>,
    pub statistic: Statistic,
    pub comparison: Comparison,
    pub threshold: f64,
    pub period_seconds: u32,
    pub evaluation_periods: u32,
    pub datapoints_to_alarm: u32,
    #[serde(default)]
    pub treat_missing_data: TreatMissingData,
}

/// Which resource kinds each namespace's alarms refer to.
pub fn namespace_resource_kind(namespace: &str) -> Option<&'static str> {
    Some(match namespace {
        "AWS/ApplicationELB" => "load_balancers",
        "AWS/RDS" => "rds",
        "AWS/SQS" => "sqs",
        "AWS/DynamoDB" => "dynamodb",
        "AWS/Lambda" => "lambda",
        "AWS/EC2" | "CWAgent" => "nodes",
        _ => return None,
    })
}

pub(super) fn validate_alarms(
    file: &Path,
    alarms: &[AlarmDef],
    cfg: &super::ServicesConfig,
) -> Result<(), ConfigError> {
    for (i, a) in alarms.iter().enumerate() {
        let p = format!("alarms[{i}]");
        let at = Some(&a.name.referenced);
        if alarms[..i].iter().any(|o| o.name.value == a.name.value) {
            return Err(invalid_at(
                file,
                format!("{p}.name"),
                at,
                format!("alarm `{}` is defined twice", a.name.value),
            ));
        }
        let Some(kind) = namespace_resource_kind(&a.namespace) else {
            return Err(invalid_at(
                file,
                format!("{p}.namespace"),
                at,
                format!(
                    "unsupported namespace `{}` (AWS/ApplicationELB, AWS/RDS, AWS/SQS, AWS/DynamoDB, AWS/Lambda, AWS/EC2, CWAgent)",
                    a.namespace
                ),
            ));
        };
        let r = a.resource.value.as_str();
        let aws = &cfg.aws;
        let known = match kind {
            "load_balancers" => aws.load_balancers.iter().any(|x| x.id == r),
            "rds" => aws.rds.iter().any(|x| x.id == r),
            "sqs" => aws.sqs.iter().any(|x| x.id == r),
            "dynamodb" => aws.dynamodb.iter().any(|x| x.id == r),
            "lambda" => aws.lambda.iter().any(|x| x.id == r),
            _ => r == "nodes",
        };
        if !known {
            return Err(invalid_at(
                file,
                format!("{p}.resource"),
                Some(&a.resource.referenced),
                format!(
                    "unknown {kind} resource `{r}` for namespace {}",
                    a.namespace
                ),
            ));
        }
        if a.period_seconds != 60 && a.period_seconds != 300 {
            return Err(invalid_at(
                file,
                format!("{p}.period_seconds"),
                at,
                format!("must be 60 or 300, got {}", a.period_seconds),
            ));
        }
        if a.evaluation_periods == 0
            || a.datapoints_to_alarm == 0
            || a.datapoints_to_alarm > a.evaluation_periods
        {
            return Err(invalid_at(
                file,
                format!("{p}.datapoints_to_alarm"),
                at,
                "needs 1 <= datapoints_to_alarm <= evaluation_periods",
            ));
        }
        if !a.threshold.is_finite() {
            return Err(invalid_at(
                file,
                format!("{p}.threshold"),
                at,
                "must be a finite number",
            ));
        }
    }
    Ok(())
}
