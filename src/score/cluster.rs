//! `obsgen score cluster`: incident clustering of anomalous rows (alerts, log lines,
//! errors) against the incidents that caused them: adjusted Rand index, normalized mutual
//! information, purity and per-incident purity. Definitions in `schemas/predictions.md`.

use super::read::texts;
use super::split::Intervals;
use super::truth::{IdMap, RowTruth, Truth, id_hash, tables_named};
use crate::error::Error;
use arrow::array::RecordBatch;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Clone, Default)]
pub struct ClusterReport {
    pub predictions: usize,
    pub tables: Vec<String>,
    /// Rows of the scored tables that carry an incident (the rows clustered).
    pub rows: usize,
    /// Of those, the rows the file lists (the others form one `unassigned` cluster).
    pub listed: usize,
    /// Listed rows that carry no incident (left out).
    pub listed_normal: usize,
    pub incidents: usize,
    pub clusters: usize,
    pub ari: f64,
    pub nmi: f64,
    pub purity: f64,
    pub inverse_purity: f64,
    pub incident_purity: f64,
}

fn comb2(n: f64) -> f64 {
    n * (n - 1.0) / 2.0
}

/// ARI (Hubert and Arabie), NMI (arithmetic mean of the entropies, scikit-learn's
/// default), purity, inverse purity and the mean per-incident purity of labels `a` (the
/// truth) against `b` (the prediction).
pub fn clustering_metrics(a: &[u32], b: &[u32]) -> (f64, f64, f64, f64, f64) {
    let n = a.len();
    if n == 0 {
        return (0.0, 0.0, 0.0, 0.0, 0.0);
    }
    // Ordered maps: the sums run in one order, so a metric is the same on every run.
    let mut table: BTreeMap<(u32, u32), f64> = BTreeMap::new();
    let mut ca: BTreeMap<u32, f64> = BTreeMap::new();
    let mut cb: BTreeMap<u32, f64> = BTreeMap::new();
    for (&x, &y) in a.iter().zip(b) {
        *table.entry((x, y)).or_default() += 1.0;
        *ca.entry(x).or_default() += 1.0;
        *cb.entry(y).or_default() += 1.0;
    }
    let nf = n as f64;
    // ARI.
    let sum_ij: f64 = table.values().map(|&v| comb2(v)).sum();
    let sum_a: f64 = ca.values().map(|&v| comb2(v)).sum();
    let sum_b: f64 = cb.values().map(|&v| comb2(v)).sum();
    let expected = sum_a * sum_b / comb2(nf).max(1.0);
    let max = (sum_a + sum_b) / 2.0;
    let ari = if (max - expected).abs() < 1e-12 {
        // Both partitions trivial alike (scikit-learn returns 1.0).
        1.0
    } else {
        (sum_ij - expected) / (max - expected)
    };
    // NMI.
    let h =
        |c: &BTreeMap<u32, f64>| -> f64 { c.values().map(|&v| -(v / nf) * (v / nf).ln()).sum() };
    let (ha, hb) = (h(&ca), h(&cb));
    let mi: f64 = table
        .iter()
        .map(|(&(x, y), &v)| (v / nf) * ((v * nf) / (ca[&x] * cb[&y])).ln())
        .sum();
    let nmi = if ha == 0.0 && hb == 0.0 {
        1.0
    } else if ha == 0.0 || hb == 0.0 {
        0.0
    } else {
        (mi / ((ha + hb) / 2.0)).clamp(0.0, 1.0)
    };
    // Purity: each cluster's dominant incident; inverse purity: each incident's dominant
    // cluster; per-incident purity: the share of an incident's dominant cluster that is
    // the incident's, averaged over incidents.
    let mut best_of_b: BTreeMap<u32, f64> = BTreeMap::new();
    let mut best_of_a: BTreeMap<u32, (f64, u32)> = BTreeMap::new();
    for (&(x, y), &v) in &table {
        let e = best_of_b.entry(y).or_default();
        *e = e.max(v);
        let e = best_of_a.entry(x).or_insert((0.0, y));
        if v > e.0 {
            *e = (v, y);
        }
    }
    let purity = best_of_b.values().sum::<f64>() / nf;
    let inverse = best_of_a.values().map(|e| e.0).sum::<f64>() / nf;
    let incident_purity =
        best_of_a.values().map(|&(v, y)| v / cb[&y]).sum::<f64>() / best_of_a.len() as f64;
    (ari, nmi.max(0.0), purity, inverse, incident_purity)
}

/// Scores `preds` (`record_id`, `cluster`) over the anomalous rows of the tables they
/// name.
pub fn score(
    truth: &Truth,
    preds: &RecordBatch,
    scope: Option<&Intervals>,
) -> Result<ClusterReport, Error> {
    let ids = texts(preds, "record_id")?;
    let clusters = texts(preds, "cluster")?;
    let wanted = tables_named(truth, &ids, |_| true, "the dataset")?;
    let rows = RowTruth::read(truth, &wanted, scope)?;
    // The listed ids, probed by every row: (the row, when anomalous; listed normal).
    let hashes: Vec<Option<u64>> = ids.iter().map(|id| id.as_deref().map(id_hash)).collect();
    let mut by_id: IdMap<(Option<usize>, bool)> =
        IdMap::with_capacity_and_hasher(ids.len(), Default::default());
    for h in hashes.iter().flatten() {
        by_id.insert(*h, (None, false));
    }
    for (i, h) in rows.id_hash.iter().enumerate() {
        if let Some(e) = by_id.get_mut(h) {
            if rows.incident[i] == u32::MAX {
                e.1 = true;
            } else {
                e.0 = Some(i);
            }
        }
    }
    let mut assigned: Vec<Option<u32>> = vec![None; rows.len()];
    let mut names: HashMap<&str, u32> = HashMap::new();
    let (mut listed, mut listed_normal) = (0, 0);
    for (k, h) in hashes.iter().enumerate() {
        let Some(&(row, normal)) = h.and_then(|h| by_id.get(&h)) else {
            continue;
        };
        let Some(i) = row else {
            listed_normal += normal as usize;
            continue;
        };
        let Some(c) = clusters[k].as_deref() else {
            continue;
        };
        let n = names.len() as u32;
        if assigned[i].is_none() {
            listed += 1;
        }
        assigned[i] = Some(*names.entry(c).or_insert(n));
    }
    // Unlisted rows share one `unassigned` cluster (as scikit-learn treats a noise label).
    let unassigned = names.len() as u32;
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for (&inc, given) in rows.incident.iter().zip(&assigned) {
        if inc == u32::MAX {
            continue;
        }
        a.push(inc);
        b.push(given.unwrap_or(unassigned));
    }
    let (ari, nmi, purity, inverse_purity, incident_purity) = clustering_metrics(&a, &b);
    let mut distinct_a = a.clone();
    distinct_a.sort_unstable();
    distinct_a.dedup();
    let mut distinct_b = b.clone();
    distinct_b.sort_unstable();
    distinct_b.dedup();
    Ok(ClusterReport {
        predictions: preds.num_rows(),
        tables: wanted.iter().map(|(s, t)| format!("{s}/{t}")).collect(),
        rows: a.len(),
        listed,
        listed_normal,
        incidents: distinct_a.len(),
        clusters: distinct_b.len(),
        ari,
        nmi,
        purity,
        inverse_purity,
        incident_purity,
    })
}

impl ClusterReport {
    pub fn to_json(&self) -> Value {
        json!({
            "predictions": self.predictions,
            "tables": self.tables,
            "rows": self.rows,
            "listed": self.listed,
            "listed_normal": self.listed_normal,
            "incidents": self.incidents,
            "clusters": self.clusters,
            "ari": self.ari,
            "nmi": self.nmi,
            "purity": self.purity,
            "inverse_purity": self.inverse_purity,
            "incident_purity": self.incident_purity,
        })
    }

    pub fn to_text(&self) -> String {
        format!(
            "rows: {} anomalous rows of {} ({} listed, the rest in one unassigned cluster; {} listed rows carry no incident and are left out)\n\
             {} incidents, {} clusters\n\n\
             ARI {:.3}   NMI {:.3}   purity {:.3}   inverse purity {:.3}   per-incident purity {:.3}\n",
            self.rows,
            self.tables.join(", "),
            self.listed,
            self.listed_normal,
            self.incidents,
            self.clusters,
            self.ari,
            self.nmi,
            self.purity,
            self.inverse_purity,
            self.incident_purity
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values of scikit-learn 1.x: `adjusted_rand_score([0,0,1,1],[0,0,1,2])` = 0.5714...,
    /// `normalized_mutual_info_score` (arithmetic) = 0.8;
    /// `adjusted_rand_score([0,0,0,1,1,1],[0,0,1,1,2,2])` = 0.2424..., NMI 0.5158...
    #[test]
    fn ari_and_nmi_match_scikit_learn() {
        let (ari, nmi, purity, inverse, per) = clustering_metrics(&[0, 0, 1, 1], &[0, 0, 1, 2]);
        assert!((ari - 4.0 / 7.0).abs() < 1e-12, "{ari}");
        assert!((nmi - 0.8).abs() < 1e-12, "{nmi}");
        assert_eq!((purity, inverse), (1.0, 0.75));
        // Incident 0: its cluster is all its own (1); incident 1: cluster 1 of 1 row (1).
        assert_eq!(per, 1.0);
        let (ari, nmi, ..) = clustering_metrics(&[0, 0, 0, 1, 1, 1], &[0, 0, 1, 1, 2, 2]);
        assert!((ari - 0.242_424_242_424_242_4).abs() < 1e-12, "{ari}");
        assert!((nmi - 0.515_803_742_979_126_6).abs() < 1e-9, "{nmi}");
        let (ari, nmi, purity, ..) = clustering_metrics(&[3, 3, 5], &[1, 1, 2]);
        assert_eq!((ari, nmi, purity), (1.0, 1.0, 1.0));
        // Everything in one cluster: purity is the largest incident's share.
        let (ari, nmi, purity, inverse, per) = clustering_metrics(&[0, 0, 0, 1], &[9, 9, 9, 9]);
        assert_eq!((ari, nmi, purity, inverse), (0.0, 0.0, 0.75, 1.0));
        assert!((per - 0.5).abs() < 1e-12);
    }
}
