//! `obsgen score detect`: anomaly detection, per row or per window, scored point-wise on
//! the rows, on a per-minute grid (point-adjusted, PA%K), per incident (event recall and
//! precision, time to detect), and threshold-free (AUC-PR). Definitions in
//! `schemas/predictions.md`.

use super::affiliation;
use super::metrics::{
    average_precision, best_f1_threshold, pa_k_curve, point_adjusted, pointwise, runs,
};
use super::read::{booleans, floats, has, texts};
use super::split::Intervals;
use super::truth::{IdMap, RowTruth, Truth, id_hash, tables_named};
use crate::error::Error;
use crate::time::{MINUTE, Micros};
use arrow::array::RecordBatch;
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// The result of scoring detections.
#[derive(Debug, Clone)]
pub struct DetectReport {
    /// `row` or `window`.
    pub shape: &'static str,
    pub predictions: usize,
    /// Predicted record ids not among the scored rows (unknown, or outside the split).
    pub unmatched: usize,
    /// The tables scored (row shape).
    pub tables: Vec<String>,
    /// Services of the grid (`None`: one platform-wide row).
    pub services: Option<usize>,
    pub threshold: Option<f64>,
    /// `is_anomaly`, `given` (--threshold) or `best_f1` (chosen on the grid: an oracle).
    pub threshold_source: &'static str,
    pub rows: Option<Prf>,
    pub grid: Prf,
    pub grid_cells: usize,
    pub pa_f1: f64,
    pub pa_k: Vec<(u32, f64)>,
    pub pa_k_auc: f64,
    pub affiliation: Affiliation,
    pub events: Events,
}

/// Affiliation precision and recall on the grid (Huet et al., KDD 2022), pooled over the
/// zones of every grid row.
#[derive(Debug, Clone, Copy, Default)]
pub struct Affiliation {
    /// Ground-truth events (maximal runs of true minutes of one row), one zone each.
    pub zones: usize,
    pub precision: Option<f64>,
    pub recall: Option<f64>,
    pub f1: Option<f64>,
}

/// Point-wise precision, recall, F1 and (with scores) average precision.
#[derive(Debug, Clone, Copy, Default)]
pub struct Prf {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub auc_pr: Option<f64>,
}

/// Event-wise figures.
#[derive(Debug, Clone, Default)]
pub struct Events {
    pub incidents: usize,
    pub detected: usize,
    pub recall: f64,
    pub predicted: usize,
    pub predicted_true: usize,
    pub precision: f64,
    pub f1: f64,
    pub ttd_median_s: Option<f64>,
    pub ttd_mean_s: Option<f64>,
}

/// The minute grid: `rows` rows (services, or one for the platform) of `n` minutes, each
/// row followed by one padding cell so that runs never join two rows.
struct Grid {
    n: usize,
    truth: Vec<bool>,
    score: Vec<f64>,
    flag: Vec<bool>,
    scope: Vec<bool>,
}

impl Grid {
    fn new(truth: &Truth, rows: usize, scope: Option<&Intervals>) -> Grid {
        let n = ((truth.end - truth.start + MINUTE - 1) / MINUTE).max(0) as usize;
        let len = rows * (n + 1);
        let mut in_scope = vec![false; len];
        for r in 0..rows {
            for m in 0..n {
                let t = truth.start + m as Micros * MINUTE;
                in_scope[r * (n + 1) + m] = scope.is_none_or(|s| s.holds(t));
            }
        }
        Grid {
            n,
            truth: vec![false; len],
            score: vec![f64::NEG_INFINITY; len],
            flag: vec![false; len],
            scope: in_scope,
        }
    }

    /// Minutes `[a, b]` (indices, clamped) of row `r`.
    fn cells(&self, r: usize, a: i64, b: i64) -> std::ops::Range<usize> {
        let a = a.clamp(0, self.n as i64) as usize;
        let b = (b + 1).clamp(0, self.n as i64) as usize;
        r * (self.n + 1) + a..r * (self.n + 1) + b.max(a)
    }

    /// Affiliation over the grid: each maximal in-scope stretch of a row is one series
    /// (its range), its true runs the ground-truth events, its flagged runs the predicted
    /// ones; a stretch without a true minute has no zone.
    fn affiliation(&self) -> Affiliation {
        let spans = |v: &[bool]| -> Vec<affiliation::Span> {
            runs(v)
                .into_iter()
                .map(|(a, b)| (a as f64, b as f64))
                .collect()
        };
        let mut zones = Vec::new();
        for (lo, hi) in runs(&self.scope) {
            let truth = spans(&self.truth[lo..hi]);
            if !truth.is_empty() {
                let pred = spans(&self.flag[lo..hi]);
                zones.extend(affiliation::zones(&truth, &pred, (0.0, (hi - lo) as f64)));
            }
        }
        let (precision, recall) = affiliation::pooled(&zones);
        Affiliation {
            zones: zones.len(),
            precision,
            recall,
            f1: precision
                .zip(recall)
                .map(|(p, r)| super::metrics::harmonic(p, r)),
        }
    }

    fn in_scope<T: Copy>(&self, v: &[T]) -> Vec<T> {
        v.iter()
            .zip(&self.scope)
            .filter(|(_, s)| **s)
            .map(|(x, _)| *x)
            .collect()
    }
}

/// Scores `preds` (per row or per window) against `truth`, within `scope`.
pub fn score(
    truth: &Truth,
    preds: &RecordBatch,
    scope: Option<&Intervals>,
    threshold: Option<f64>,
) -> Result<DetectReport, Error> {
    let minute = |t: Micros| (t - truth.start).div_euclid(MINUTE);
    let given_flags = if has(preds, "is_anomaly") {
        Some(booleans(preds, "is_anomaly")?)
    } else {
        None
    };
    let scores = if has(preds, "score") {
        Some(floats(preds, "score")?)
    } else {
        None
    };
    if given_flags.is_none() && scores.is_none() && has(preds, "record_id") {
        return Err(Error::Invalid(
            "per-row predictions need a `score` or an `is_anomaly` column".into(),
        ));
    }
    let incidents: Vec<_> = truth.incidents_in(scope).collect();
    let mut unmatched = 0;
    let mut tables = Vec::new();
    let mut row_data: Option<(Vec<bool>, Vec<f64>, Vec<bool>)> = None;
    let services: Option<Vec<String>>;
    let mut grid;
    if has(preds, "record_id") {
        // Per row: the tables the ids name, every row of theirs scored.
        let ids = texts(preds, "record_id")?;
        let wanted = tables_named(truth, &ids, |_| true, "the dataset")?;
        tables = wanted.iter().map(|(s, t)| format!("{s}/{t}")).collect();
        let rows = RowTruth::read(truth, &wanted, scope)?;
        // The predictions by record id (highest score, flagged, lines, found), probed by
        // every row: the map holds the predictions, not the rows.
        let mut by_id: IdMap<(f64, bool, usize, bool)> =
            IdMap::with_capacity_and_hasher(ids.len(), Default::default());
        for (k, id) in ids.iter().enumerate() {
            let Some(id) = id.as_deref() else {
                unmatched += 1;
                continue;
            };
            let e = by_id
                .entry(id_hash(id))
                .or_insert((f64::NEG_INFINITY, false, 0, false));
            if let Some(s) = scores.as_ref().and_then(|s| s[k]) {
                e.0 = e.0.max(s);
            }
            if let Some(f) = given_flags.as_ref().and_then(|f| f[k]) {
                e.1 |= f;
            }
            e.2 += 1;
        }
        let mut score = vec![f64::NEG_INFINITY; rows.len()];
        let mut flag = vec![false; rows.len()];
        for (i, h) in rows.id_hash.iter().enumerate() {
            if let Some(e) = by_id.get_mut(h) {
                (score[i], flag[i], e.3) = (e.0, e.1, true);
            }
        }
        // Unknown, or outside the split.
        unmatched += by_id.values().filter(|e| !e.3).map(|e| e.2).sum::<usize>();
        services = None;
        grid = Grid::new(truth, 1, scope);
        for i in 0..rows.len() {
            let c = grid.cells(0, minute(rows.ts[i]), minute(rows.ts[i]));
            for c in c {
                grid.score[c] = grid.score[c].max(score[i]);
                grid.flag[c] |= flag[i];
            }
        }
        row_data = Some((rows.is_anomaly, score, flag));
    } else if has(preds, "start") && has(preds, "end") {
        let starts = super::truth::micros(preds, "start")?;
        let ends = super::truth::micros(preds, "end")?;
        let svc = if has(preds, "service") {
            Some(texts(preds, "service")?)
        } else {
            None
        };
        let per_service = svc.as_ref().is_some_and(|s| s.iter().any(Option::is_some));
        services = per_service.then(|| {
            let mut all: Vec<String> = truth
                .incidents
                .iter()
                .flat_map(|i| i.affected_services.iter().cloned())
                .chain(svc.iter().flatten().flatten().cloned())
                .collect();
            all.sort();
            all.dedup();
            all
        });
        let nrows = services.as_ref().map_or(1, Vec::len);
        grid = Grid::new(truth, nrows, scope);
        let row_of = rows_by_name(&services);
        for k in 0..preds.num_rows() {
            let (Some(s), Some(e)) = (starts[k], ends[k]) else {
                return Err(Error::Invalid(format!(
                    "window {}: `start` and `end` are required",
                    k + 1
                )));
            };
            if e <= s {
                return Err(Error::Invalid(format!(
                    "window {}: `end` must be after `start`",
                    k + 1
                )));
            }
            let sc = scores.as_ref().map_or(Some(1.0), |v| v[k]).unwrap_or(1.0);
            let f = given_flags.as_ref().and_then(|v| v[k]).unwrap_or(false);
            let rows: Vec<usize> = match svc.as_ref().and_then(|v| v[k].as_deref()) {
                Some(name) => match row_of.get(name) {
                    Some(&r) => vec![r],
                    None => continue,
                },
                None => (0..nrows).collect(),
            };
            for r in rows {
                for c in grid.cells(r, minute(s), minute(e - 1)) {
                    grid.score[c] = grid.score[c].max(sc);
                    grid.flag[c] |= f;
                }
            }
        }
    } else {
        return Err(Error::Invalid(
            "detection predictions need `record_id` (per row) or `start` and `end` (per window)"
                .into(),
        ));
    }
    // Truth on the grid.
    let row_of = rows_by_name(&services);
    let incident_rows = |inc: &super::truth::IncidentTruth| -> Vec<usize> {
        match &services {
            None => vec![0],
            Some(_) => inc
                .affected_services
                .iter()
                .filter_map(|s| row_of.get(s.as_str()).copied())
                .collect(),
        }
    };
    for inc in &incidents {
        let (s, e) = inc.window();
        for r in incident_rows(inc) {
            for c in grid.cells(r, minute(s), minute(e)) {
                grid.truth[c] = true;
            }
        }
    }
    for c in 0..grid.truth.len() {
        if !grid.scope[c] {
            grid.truth[c] = false;
            grid.flag[c] = false;
            grid.score[c] = f64::NEG_INFINITY;
        }
    }
    // The decision.
    let (threshold, source) = if given_flags.is_some() {
        (None, "is_anomaly")
    } else if let Some(t) = threshold {
        (Some(t), "given")
    } else {
        let t = best_f1_threshold(&grid.in_scope(&grid.score), &grid.in_scope(&grid.truth))
            .map(|(t, _)| t);
        (t, "best_f1")
    };
    if given_flags.is_none() {
        let t = threshold.unwrap_or(f64::INFINITY);
        for c in 0..grid.flag.len() {
            grid.flag[c] = grid.scope[c] && grid.score[c] >= t;
        }
        if let Some((_, score, flag)) = row_data.as_mut() {
            for (f, &s) in flag.iter_mut().zip(score.iter()) {
                *f = s >= t;
            }
        }
    }
    let rows = row_data.as_ref().map(|(truth_rows, score, flag)| {
        let (precision, recall, f1) = pointwise(truth_rows, flag);
        Prf {
            precision,
            recall,
            f1,
            auc_pr: scores
                .as_ref()
                .and_then(|_| average_precision(score, truth_rows)),
        }
    });
    let (gt, gf) = (grid.in_scope(&grid.truth), grid.in_scope(&grid.flag));
    let (precision, recall, f1) = pointwise(&gt, &gf);
    let grid_prf = Prf {
        precision,
        recall,
        f1,
        auc_pr: scores
            .as_ref()
            .and_then(|_| average_precision(&grid.in_scope(&grid.score), &gt)),
    };
    let pa_f1 = pointwise(&grid.truth, &point_adjusted(&grid.truth, &grid.flag, 0)).2;
    let (pa_k, pa_k_auc) = pa_k_curve(&grid.truth, &grid.flag);
    let affiliation = grid.affiliation();
    // Events.
    let mut ttd = Vec::new();
    for inc in &incidents {
        let (s, e) = inc.window();
        let first = incident_rows(inc)
            .into_iter()
            .filter_map(|r| {
                grid.cells(r, minute(s), minute(e))
                    .find(|&c| grid.flag[c])
                    .map(|c| (c - r * (grid.n + 1)) as Micros)
            })
            .min();
        if let Some(m) = first {
            let at = truth.start + m * MINUTE;
            ttd.push(((at - s).max(0)) as f64 / 1e6);
        }
    }
    let predicted_runs = runs(&grid.flag);
    let predicted_true = predicted_runs
        .iter()
        .filter(|&&(a, b)| grid.truth[a..b].iter().any(|&t| t))
        .count();
    let recall = super::metrics::ratio(ttd.len() as u64, incidents.len() as u64);
    let precision = super::metrics::ratio(predicted_true as u64, predicted_runs.len() as u64);
    let mut sorted = ttd.clone();
    sorted.sort_by(f64::total_cmp);
    let events = Events {
        incidents: incidents.len(),
        detected: ttd.len(),
        recall,
        predicted: predicted_runs.len(),
        predicted_true,
        precision,
        f1: super::metrics::harmonic(precision, recall),
        ttd_median_s: median(&sorted),
        ttd_mean_s: (!ttd.is_empty()).then(|| ttd.iter().sum::<f64>() / ttd.len() as f64),
    };
    Ok(DetectReport {
        shape: if row_data.is_some() { "row" } else { "window" },
        predictions: preds.num_rows(),
        unmatched,
        tables,
        services: services.as_ref().map(Vec::len),
        threshold,
        threshold_source: source,
        rows,
        grid: grid_prf,
        grid_cells: gt.len(),
        pa_f1,
        pa_k,
        pa_k_auc,
        affiliation,
        events,
    })
}

/// Grid row of each service name.
fn rows_by_name(services: &Option<Vec<String>>) -> HashMap<&str, usize> {
    services
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect()
}

fn median(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

fn prf_json(p: &Prf) -> Value {
    json!({"precision": p.precision, "recall": p.recall, "f1": p.f1, "auc_pr": p.auc_pr})
}

impl DetectReport {
    /// The report as one JSON object.
    pub fn to_json(&self) -> Value {
        let mut pa = Map::new();
        for (k, f) in &self.pa_k {
            pa.insert(k.to_string(), json!(f));
        }
        json!({
            "shape": self.shape,
            "predictions": self.predictions,
            "unmatched_record_ids": self.unmatched,
            "tables": self.tables,
            "grid_services": self.services,
            "threshold": self.threshold,
            "threshold_source": self.threshold_source,
            "rows": self.rows.as_ref().map(prf_json),
            "grid": {
                "cells": self.grid_cells,
                "precision": self.grid.precision,
                "recall": self.grid.recall,
                "f1": self.grid.f1,
                "auc_pr": self.grid.auc_pr,
                "pa_f1": self.pa_f1,
                "pa_k_f1": pa,
                "pa_k_auc": self.pa_k_auc,
                "affiliation_zones": self.affiliation.zones,
                "affiliation_precision": self.affiliation.precision,
                "affiliation_recall": self.affiliation.recall,
                "affiliation_f1": self.affiliation.f1,
            },
            "events": {
                "incidents": self.events.incidents,
                "detected": self.events.detected,
                "recall": self.events.recall,
                "predicted": self.events.predicted,
                "predicted_true": self.events.predicted_true,
                "precision": self.events.precision,
                "f1": self.events.f1,
                "ttd_median_s": self.events.ttd_median_s,
                "ttd_mean_s": self.events.ttd_mean_s,
            },
        })
    }

    /// The report as a readable table.
    pub fn to_text(&self) -> String {
        let f = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.3}"));
        let mut out = String::new();
        out += &format!(
            "predictions: {} per {} ({}){}\n",
            self.predictions,
            self.shape,
            match (self.shape, self.services) {
                ("row", _) => format!("tables: {}", self.tables.join(", ")),
                (_, Some(n)) => format!("grid of {n} services"),
                _ => "platform-wide grid".to_string(),
            },
            if self.unmatched > 0 {
                format!("; {} record ids not among the scored rows", self.unmatched)
            } else {
                String::new()
            }
        );
        out += &match (self.threshold_source, self.threshold) {
            ("is_anomaly", _) => "decision: the is_anomaly column\n".to_string(),
            ("best_f1", Some(t)) => {
                format!(
                    "decision: score >= {t} (the best-F1 threshold on the grid: an oracle choice, an upper bound)\n"
                )
            }
            (_, Some(t)) => format!("decision: score >= {t}\n"),
            _ => "decision: no finite score, nothing flagged\n".to_string(),
        };
        out += &format!(
            "\n{:<28}{:>10}{:>10}{:>10}{:>10}\n",
            "", "precision", "recall", "f1", "auc_pr"
        );
        if let Some(r) = &self.rows {
            out += &format!(
                "{:<28}{:>10.3}{:>10.3}{:>10.3}{:>10}\n",
                "rows",
                r.precision,
                r.recall,
                r.f1,
                f(r.auc_pr)
            );
        }
        out += &format!(
            "{:<28}{:>10.3}{:>10.3}{:>10.3}{:>10}\n",
            format!("grid ({} cells)", self.grid_cells),
            self.grid.precision,
            self.grid.recall,
            self.grid.f1,
            f(self.grid.auc_pr)
        );
        out += &format!(
            "{:<28}{:>10.3}{:>10.3}{:>10.3}\n",
            format!(
                "events ({}/{} detected)",
                self.events.detected, self.events.incidents
            ),
            self.events.precision,
            self.events.recall,
            self.events.f1
        );
        out += &format!(
            "\npoint-adjusted F1 {:.3}; PA%K F1 at K = {}: {}; area {:.3}\n",
            self.pa_f1,
            self.pa_k
                .iter()
                .map(|(k, _)| k.to_string())
                .collect::<Vec<_>>()
                .join(","),
            self.pa_k
                .iter()
                .map(|(_, v)| format!("{v:.2}"))
                .collect::<Vec<_>>()
                .join(" "),
            self.pa_k_auc
        );
        out += &format!(
            "affiliation (Huet et al. 2022, {} zones): precision {}, recall {}, f1 {}\n",
            self.affiliation.zones,
            f(self.affiliation.precision),
            f(self.affiliation.recall),
            f(self.affiliation.f1)
        );
        out += &format!(
            "time to detect: median {} s, mean {} s ({} predicted events, {} on an incident)\n",
            f(self.events.ttd_median_s).trim_end_matches(".000"),
            f(self.events.ttd_mean_s),
            self.events.predicted,
            self.events.predicted_true
        );
        out
    }
}
