//! `obsgen score parse`: a log parser's groups and templates against the template ground
//! truth (`labels/templates.parquet` and each log row's `template_id`), with the four
//! metrics of Loghub-2.0: grouping accuracy (GA), its template-level F1 (FGA), parsing
//! accuracy (PA) and template accuracy F1 (FTA). Definitions in `schemas/predictions.md`.

use super::read::{has, texts};
use super::split::Intervals;
use super::truth::{IdMap, Truth, id_hash, strings, tables_named};
use crate::error::Error;
use arrow::array::RecordBatch;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};

/// The log tables with template ground truth.
pub const LOG_TABLES: [(&str, &str); 2] = [("kubernetes", "pod_logs"), ("cloudwatch", "logs")];

#[derive(Debug, Clone, Default)]
pub struct ParseReport {
    pub predictions: usize,
    /// Listed rows scored (found among the log rows of the range or split).
    pub messages: usize,
    pub unmatched: usize,
    pub truth_templates: usize,
    pub predicted_groups: usize,
    pub ga: f64,
    pub pga: f64,
    pub rga: f64,
    pub fga: f64,
    /// With predicted template text only.
    pub pa: Option<f64>,
    pub pta: Option<f64>,
    pub rta: Option<f64>,
    pub fta: Option<f64>,
}

/// The metrics of messages whose truth group is `truth[i]` and predicted group `pred[i]`,
/// with each group's template text when given (`truth_text[g]`, `pred_text[i]`).
pub fn parsing_metrics(
    truth: &[u32],
    pred: &[u32],
    truth_text: Option<(&[String], &[Option<String>])>,
) -> ParseReport {
    let n = truth.len();
    let mut pred_size: HashMap<u32, usize> = HashMap::new();
    for &p in pred {
        *pred_size.entry(p).or_default() += 1;
    }
    let mut by_truth: HashMap<u32, Vec<usize>> = HashMap::new();
    for (i, &t) in truth.iter().enumerate() {
        by_truth.entry(t).or_default().push(i);
    }
    let (mut accurate_messages, mut accurate_groups) = (0usize, 0usize);
    for members in by_truth.values() {
        let p = pred[members[0]];
        let one = members.iter().all(|&i| pred[i] == p);
        if one && pred_size[&p] == members.len() {
            accurate_messages += members.len();
            accurate_groups += 1;
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let harm = super::metrics::harmonic;
    let (pga, rga) = (
        ratio(accurate_groups, pred_size.len()),
        ratio(accurate_groups, by_truth.len()),
    );
    let mut r = ParseReport {
        messages: n,
        truth_templates: by_truth.len(),
        predicted_groups: pred_size.len(),
        ga: ratio(accurate_messages, n),
        pga,
        rga,
        fga: harm(pga, rga),
        ..ParseReport::default()
    };
    if let Some((tt, pt)) = truth_text {
        let right = |i: usize| pt[i].as_deref() == Some(tt[truth[i] as usize].as_str());
        let correct = (0..n).filter(|&i| right(i)).count();
        // Template accuracy as Loghub-2.0 (and Khan et al.'s TA-Eval) computes it: the
        // lines grouped by predicted text; a predicted template is correct when every
        // line of it has exactly that truth template.
        let mut by_text: HashMap<Option<&str>, bool> = HashMap::new();
        for (i, t) in pt.iter().enumerate().take(n) {
            let ok = by_text.entry(t.as_deref()).or_insert(true);
            *ok &= right(i);
        }
        let accurate_templates = by_text.iter().filter(|(t, ok)| t.is_some() && **ok).count();
        let (pta, rta) = (
            ratio(accurate_templates, by_text.len()),
            ratio(accurate_templates, by_truth.len()),
        );
        r.pa = Some(ratio(correct, n));
        r.pta = Some(pta);
        r.rta = Some(rta);
        r.fta = Some(harm(pta, rta));
    }
    r
}

/// Scores the parsed rows of `preds` (`record_id` and `template` and/or `group`).
pub fn score(
    truth: &Truth,
    preds: &RecordBatch,
    scope: Option<&Intervals>,
) -> Result<ParseReport, Error> {
    let ids = texts(preds, "record_id")?;
    let templates = if has(preds, "template") {
        Some(texts(preds, "template")?)
    } else {
        None
    };
    let groups = if has(preds, "group") {
        Some(texts(preds, "group")?)
    } else {
        None
    };
    let Some(group_of) = groups.as_ref().or(templates.as_ref()) else {
        return Err(Error::Invalid(
            "parsing predictions need `record_id` and a `template` or `group` column".into(),
        ));
    };
    // The truth: template text per template id, template id per log row.
    let t = super::truth::read_parquet(&truth.dir.join("labels/templates.parquet"))?;
    let (tid, ttext) = (strings(&t, "template_id")?, strings(&t, "template")?);
    let text_of: HashMap<&str, &str> = (0..t.num_rows())
        .map(|i| (tid.value(i), ttext.value(i)))
        .collect();
    let wanted = tables_named(
        truth,
        &ids,
        |t| LOG_TABLES.contains(&(t.0.as_str(), t.1.as_str())),
        "kubernetes/pod_logs or cloudwatch/logs",
    )?;
    // Truth groups are template texts (Loghub-2.0 groups by the template).
    let mut group_texts: Vec<String> = Vec::new();
    let mut group_index: HashMap<String, u32> = HashMap::new();
    let mut row_group: IdMap<u32> = IdMap::default();
    let parts = crate::contract::partitions(&truth.dir)?;
    for tb in &wanted {
        for f in parts.get(tb).into_iter().flatten() {
            let b = crate::contract::read_columns(
                &truth.dir.join(f),
                &["record_id", "timestamp", "template_id"],
            )?;
            let (rid, tmpl) = (strings(&b, "record_id")?, strings(&b, "template_id")?);
            let ts = super::truth::micros(&b, "timestamp")?;
            for (i, t) in ts.iter().enumerate() {
                if scope.is_some_and(|s| !t.is_some_and(|t| s.holds(t))) {
                    continue;
                }
                let text = text_of.get(tmpl.value(i)).copied().unwrap_or(tmpl.value(i));
                let g = match group_index.get(text) {
                    Some(&g) => g,
                    None => {
                        let g = group_texts.len() as u32;
                        group_texts.push(text.to_string());
                        group_index.insert(text.to_string(), g);
                        g
                    }
                };
                row_group.insert(id_hash(rid.value(i)), g);
            }
        }
    }
    let mut truth_g = Vec::new();
    let mut pred_g = Vec::new();
    let mut pred_t = Vec::new();
    let mut pred_index: HashMap<&str, u32> = HashMap::new();
    let mut unmatched = 0;
    let mut seen: HashSet<u64> = HashSet::new();
    for (k, id) in ids.iter().enumerate() {
        let Some(id) = id.as_deref() else { continue };
        let h = id_hash(id);
        let Some(&g) = row_group.get(&h) else {
            unmatched += 1;
            continue;
        };
        if !seen.insert(h) {
            return Err(Error::Invalid(format!("record_id `{id}` is listed twice")));
        }
        let Some(p) = group_of[k].as_deref() else {
            return Err(Error::Invalid(format!(
                "record_id `{id}`: no predicted template or group"
            )));
        };
        let n = pred_index.len() as u32;
        pred_g.push(*pred_index.entry(p).or_insert(n));
        truth_g.push(g);
        pred_t.push(templates.as_ref().and_then(|t| t[k].clone()));
    }
    let mut r = parsing_metrics(
        &truth_g,
        &pred_g,
        templates
            .as_ref()
            .map(|_| (group_texts.as_slice(), pred_t.as_slice())),
    );
    r.predictions = preds.num_rows();
    r.unmatched = unmatched;
    Ok(r)
}

impl ParseReport {
    pub fn to_json(&self) -> Value {
        json!({
            "predictions": self.predictions,
            "messages": self.messages,
            "unmatched_record_ids": self.unmatched,
            "truth_templates": self.truth_templates,
            "predicted_groups": self.predicted_groups,
            "ga": self.ga, "pga": self.pga, "rga": self.rga, "fga": self.fga,
            "pa": self.pa, "pta": self.pta, "rta": self.rta, "fta": self.fta,
        })
    }

    pub fn to_text(&self) -> String {
        let f = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.3}"));
        format!(
            "messages: {} parsed ({} truth templates, {} predicted groups){}\n\n\
             GA  {:.3}   FGA {:.3} (PGA {:.3}, RGA {:.3})\n\
             PA  {}   FTA {} (PTA {}, RTA {})\n",
            self.messages,
            self.truth_templates,
            self.predicted_groups,
            if self.unmatched > 0 {
                format!(
                    "; {} record ids not among the scored log rows",
                    self.unmatched
                )
            } else {
                String::new()
            },
            self.ga,
            self.fga,
            self.pga,
            self.rga,
            f(self.pa),
            f(self.fta),
            f(self.pta),
            f(self.rta)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Loghub's GA counts the messages of a truth group when exactly its messages form
    /// one predicted group; FGA and FTA count groups.
    #[test]
    fn grouping_and_template_accuracy_by_hand() {
        // Truth groups 0 (3 messages), 1 (2), 2 (1).
        let truth = [0, 0, 0, 1, 1, 2];
        // Group 0 exact; 1 and 2 merged into one predicted group.
        let pred = [7, 7, 7, 8, 8, 8];
        let tt = vec!["a <*>".to_string(), "b <*>".to_string(), "c".to_string()];
        let pt: Vec<Option<String>> = ["a <*>", "a <*>", "a <*>", "b <*>", "b <*>", "<*>"]
            .iter()
            .map(|s| Some(s.to_string()))
            .collect();
        let r = parsing_metrics(&truth, &pred, Some((&tt, &pt)));
        assert_eq!(r.ga, 0.5);
        assert_eq!((r.pga, r.rga), (0.5, 1.0 / 3.0));
        assert!((r.fga - 0.4).abs() < 1e-12);
        assert_eq!(r.pa, Some(5.0 / 6.0));
        // By predicted text: "a <*>" and "b <*>" hold only lines of that template (even
        // though "b <*>"'s group is not exact), "<*>" does not.
        assert_eq!((r.pta, r.rta), (Some(2.0 / 3.0), Some(2.0 / 3.0)));
        // A right group with a wrong text: GA counts it, template accuracy does not.
        let pt2: Vec<Option<String>> = ["a", "a", "a", "b <*>", "b <*>", "<*>"]
            .iter()
            .map(|s| Some(s.to_string()))
            .collect();
        let r = parsing_metrics(&truth, &pred, Some((&tt, &pt2)));
        assert_eq!(r.ga, 0.5);
        assert_eq!((r.pta, r.rta), (Some(1.0 / 3.0), Some(1.0 / 3.0)));
        assert_eq!(r.pa, Some(2.0 / 6.0));
        // One text over lines of two templates is wrong for both.
        let pt3: Vec<Option<String>> = ["a <*>", "a <*>", "a <*>", "a <*>", "b <*>", "c"]
            .iter()
            .map(|s| Some(s.to_string()))
            .collect();
        let r = parsing_metrics(&truth, &pred, Some((&tt, &pt3)));
        assert_eq!((r.pta, r.rta), (Some(2.0 / 3.0), Some(2.0 / 3.0)));
        // Perfect.
        let r = parsing_metrics(&truth, &[1, 1, 1, 2, 2, 3], None);
        assert_eq!((r.ga, r.fga, r.pa), (1.0, 1.0, None));
    }
}
