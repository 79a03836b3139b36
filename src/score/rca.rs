//! `obsgen score rca`: root-cause rankings per incident, scored with AC@k, Avg@5 and the
//! mean reciprocal rank at the service, entity and indicator levels, every acceptable
//! answer accepted (`schemas/predictions.md`).

use super::read::{has, integers, texts};
use super::split::Intervals;
use super::truth::{IncidentTruth, Truth};
use crate::error::Error;
use arrow::array::RecordBatch;
use serde_json::{Value, json};
use std::collections::HashMap;

/// The three levels a ranking can name.
pub const LEVELS: [&str; 3] = ["service", "entity", "indicator"];

/// The figures of one level.
#[derive(Debug, Clone, Default)]
pub struct LevelScore {
    pub level: &'static str,
    /// Incidents scored at this level.
    pub incidents: usize,
    /// Of those, the ones the file ranks candidates of this level for.
    pub predicted: usize,
    /// Incidents with no answer at this level (a node incident has no service root).
    pub excluded: usize,
    /// AC@1 ... AC@5.
    pub ac: [f64; 5],
    pub avg_at_5: f64,
    pub mrr: f64,
}

#[derive(Debug, Clone)]
pub struct RcaReport {
    pub predictions: usize,
    /// Incident ids of the file that are not incidents of the scored range.
    pub unknown_incidents: usize,
    pub levels: Vec<LevelScore>,
}

/// Whether `candidate` is an accepted answer of `inc` at `level`.
pub fn accepted(inc: &IncidentTruth, level: &str, candidate: &str) -> bool {
    let c = candidate.trim();
    match level {
        "service" => inc.root_services.iter().any(|s| s == c),
        "entity" => {
            c == inc.root_entity
                || (!c.contains('/')
                    && inc
                        .root_entity
                        .split_once('/')
                        .is_some_and(|(_, name)| name == c))
        }
        _ => c == inc.root_indicator,
    }
}

/// Whether `inc` has an answer at `level`.
fn answerable(inc: &IncidentTruth, level: &str) -> bool {
    match level {
        "service" => !inc.root_services.is_empty(),
        "entity" => !inc.root_entity.is_empty(),
        _ => !inc.root_indicator.is_empty(),
    }
}

/// Scores the rankings of `preds` against the incidents of `truth` in `scope`.
pub fn score(
    truth: &Truth,
    preds: &RecordBatch,
    scope: Option<&Intervals>,
) -> Result<RcaReport, Error> {
    let ids = texts(preds, "incident_id")?;
    let ranks = integers(preds, "rank")?;
    let present: Vec<&str> = LEVELS.into_iter().filter(|l| has(preds, l)).collect();
    if present.is_empty() {
        return Err(Error::Invalid(
            "root-cause predictions need at least one of the columns service, entity, indicator"
                .into(),
        ));
    }
    let incidents: Vec<&IncidentTruth> = truth.incidents_in(scope).collect();
    let known: HashMap<&str, usize> = incidents
        .iter()
        .enumerate()
        .map(|(i, inc)| (inc.id.as_str(), i))
        .collect();
    let mut unknown: Vec<&str> = Vec::new();
    let mut levels = Vec::new();
    for level in LEVELS {
        if !present.contains(&level) {
            continue;
        }
        let cand = texts(preds, level)?;
        // Per incident: (rank, file order, candidate), then the distinct candidates.
        let mut ranked: Vec<Vec<(i64, usize, String)>> = vec![Vec::new(); incidents.len()];
        for k in 0..preds.num_rows() {
            let Some(id) = ids[k].as_deref() else {
                return Err(Error::Invalid(format!("row {}: no incident_id", k + 1)));
            };
            let Some(rank) = ranks[k] else {
                return Err(Error::Invalid(format!("row {}: no rank", k + 1)));
            };
            match known.get(id) {
                Some(&i) => {
                    if let Some(c) = &cand[k] {
                        ranked[i].push((rank, k, c.clone()));
                    }
                }
                None => {
                    if !unknown.contains(&id) {
                        unknown.push(id);
                    }
                }
            }
        }
        let mut s = LevelScore {
            level,
            ..LevelScore::default()
        };
        let mut hits = [0u64; 5];
        let mut rr = 0.0;
        for (i, inc) in incidents.iter().enumerate() {
            if !answerable(inc, level) {
                s.excluded += 1;
                continue;
            }
            s.incidents += 1;
            let list = &mut ranked[i];
            if list.is_empty() {
                continue;
            }
            s.predicted += 1;
            list.sort_by_key(|(r, k, _)| (*r, *k));
            let mut distinct: Vec<&str> = Vec::new();
            for (_, _, c) in list.iter() {
                if !distinct.contains(&c.as_str()) {
                    distinct.push(c);
                }
            }
            if let Some(pos) = distinct.iter().position(|c| accepted(inc, level, c)) {
                rr += 1.0 / (pos + 1) as f64;
                for (k, h) in hits.iter_mut().enumerate() {
                    *h += (pos <= k) as u64;
                }
            }
        }
        for (ac, &h) in s.ac.iter_mut().zip(&hits) {
            *ac = super::metrics::ratio(h, s.incidents as u64);
        }
        s.avg_at_5 = s.ac.iter().sum::<f64>() / 5.0;
        s.mrr = if s.incidents == 0 {
            0.0
        } else {
            rr / s.incidents as f64
        };
        levels.push(s);
    }
    Ok(RcaReport {
        predictions: preds.num_rows(),
        unknown_incidents: unknown.len(),
        levels,
    })
}

impl RcaReport {
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "predictions": self.predictions,
            "unknown_incidents": self.unknown_incidents,
        });
        for l in &self.levels {
            v[l.level] = json!({
                "incidents": l.incidents,
                "predicted": l.predicted,
                "excluded": l.excluded,
                "ac_at_1": l.ac[0],
                "ac_at_3": l.ac[2],
                "ac_at_5": l.ac[4],
                "avg_at_5": l.avg_at_5,
                "mrr": l.mrr,
            });
        }
        v
    }

    pub fn to_text(&self) -> String {
        let mut out = format!(
            "predictions: {} candidate rows{}\n\n{:<12}{:>10}{:>10}{:>9}{:>9}{:>9}{:>10}{:>8}\n",
            self.predictions,
            if self.unknown_incidents > 0 {
                format!(
                    "; {} incident ids not among the scored incidents",
                    self.unknown_incidents
                )
            } else {
                String::new()
            },
            "level",
            "incidents",
            "ranked",
            "AC@1",
            "AC@3",
            "AC@5",
            "Avg@5",
            "MRR"
        );
        for l in &self.levels {
            out += &format!(
                "{:<12}{:>10}{:>10}{:>9.3}{:>9.3}{:>9.3}{:>10.3}{:>8.3}{}\n",
                l.level,
                l.incidents,
                l.predicted,
                l.ac[0],
                l.ac[2],
                l.ac[4],
                l.avg_at_5,
                l.mrr,
                if l.excluded > 0 {
                    format!("  ({} without an answer at this level)", l.excluded)
                } else {
                    String::new()
                }
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inc(kind: &str, services: &[&str], entity: &str) -> IncidentTruth {
        IncidentTruth {
            id: "INC-1".into(),
            incident_type: "t".into(),
            start: 0,
            signal: Some((0, 1)),
            affected_services: vec![],
            root_kind: kind.into(),
            root_services: services.iter().map(|s| s.to_string()).collect(),
            root_entity: entity.into(),
            root_indicator: "DatabaseConnections".into(),
        }
    }

    #[test]
    fn every_acceptable_answer_counts() {
        let rds = inc(
            "aws_resource",
            &["user-service", "auth-service"],
            "rds/users-db",
        );
        assert!(accepted(&rds, "service", "auth-service"));
        assert!(accepted(&rds, "service", "user-service"));
        assert!(!accepted(&rds, "service", "api-gateway"));
        assert!(accepted(&rds, "entity", "rds/users-db"));
        assert!(accepted(&rds, "entity", "users-db"));
        assert!(!accepted(&rds, "entity", "sqs/users-db"));
        assert!(accepted(&rds, "indicator", "DatabaseConnections"));
        let node = inc("node", &[], "node/ip-10-0-1-2.ec2.internal");
        assert!(!answerable(&node, "service"));
        assert!(answerable(&node, "entity"));
    }
}
