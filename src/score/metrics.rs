//! The metrics of `obsgen score`, as pure functions of truth and prediction vectors
//! (definitions and references in `schemas/predictions.md`).

/// Precision, recall and F1 from counts (0 where undefined).
pub fn prf(tp: u64, fp: u64, fn_: u64) -> (f64, f64, f64) {
    let p = ratio(tp, tp + fp);
    let r = ratio(tp, tp + fn_);
    (p, r, harmonic(p, r))
}

/// `a / b`, 0 when `b` is 0.
pub fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// The harmonic mean of `p` and `r` (0 when both are 0).
pub fn harmonic(p: f64, r: f64) -> f64 {
    if p + r == 0.0 {
        0.0
    } else {
        2.0 * p * r / (p + r)
    }
}

/// Point-wise precision, recall and F1 of `pred` against `truth`.
pub fn pointwise(truth: &[bool], pred: &[bool]) -> (f64, f64, f64) {
    let (mut tp, mut fp, mut fn_) = (0u64, 0u64, 0u64);
    for (&t, &p) in truth.iter().zip(pred) {
        match (t, p) {
            (true, true) => tp += 1,
            (false, true) => fp += 1,
            (true, false) => fn_ += 1,
            _ => {}
        }
    }
    prf(tp, fp, fn_)
}

/// Average precision of `scores` against `truth` (scikit-learn's
/// `average_precision_score`): the sum over the distinct thresholds, from the highest
/// score down, of the precision at that threshold times the recall gained there. `None`
/// when there is no positive.
pub fn average_precision(scores: &[f64], truth: &[bool]) -> Option<f64> {
    let positives = truth.iter().filter(|&&t| t).count() as u64;
    if positives == 0 {
        return None;
    }
    let (mut ap, mut last_recall) = (0.0, 0.0);
    for (_, tp, seen) in sweep(scores, truth, |_| true) {
        let recall = tp as f64 / positives as f64;
        ap += (recall - last_recall) * (tp as f64 / seen as f64);
        last_recall = recall;
    }
    Some(ap)
}

/// The distinct scores (those `keep` accepts) from the highest down, each with the true
/// positives and the elements at or above it: every element tied at a score enters at
/// the same threshold.
fn sweep(scores: &[f64], truth: &[bool], keep: impl Fn(f64) -> bool) -> Vec<(f64, u64, u64)> {
    let mut order: Vec<usize> = (0..scores.len()).filter(|&i| keep(scores[i])).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut tp, mut seen, mut out) = (0u64, 0u64, Vec::new());
    let mut i = 0;
    while i < order.len() {
        let s = scores[order[i]];
        while i < order.len() && scores[order[i]].total_cmp(&s).is_eq() {
            tp += truth[order[i]] as u64;
            seen += 1;
            i += 1;
        }
        out.push((s, tp, seen));
    }
    out
}

/// The maximal runs of `true` in `x`, as `[start, end)` index pairs.
pub fn runs(x: &[bool]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < x.len() {
        if x[i] {
            let s = i;
            while i < x.len() && x[i] {
                i += 1;
            }
            out.push((s, i));
        } else {
            i += 1;
        }
    }
    out
}

/// PA%K (Kim et al., AAAI 2022): the predictions with every true segment counted as
/// flagged in full when more than `k_percent`% of its points are flagged (compared in
/// integers: exactly K% is not more). K = 0 is the point adjustment of Xu et al. (WWW
/// 2018): one flagged point suffices; K = 100 adjusts nothing.
pub fn point_adjusted(truth: &[bool], pred: &[bool], k_percent: u32) -> Vec<bool> {
    let mut out = pred.to_vec();
    for (s, e) in runs(truth) {
        let hit = pred[s..e].iter().filter(|&&p| p).count();
        if hit > 0 && 100 * hit > k_percent as usize * (e - s) {
            out[s..e].iter_mut().for_each(|p| *p = true);
        }
    }
    out
}

/// F1 after point adjustment at each K of 0, 10, ..., 100 (%), and the area under F1(K)
/// over K in [0, 1] by trapezoids.
pub fn pa_k_curve(truth: &[bool], pred: &[bool]) -> (Vec<(u32, f64)>, f64) {
    let curve: Vec<(u32, f64)> = (0..=10)
        .map(|i| {
            let k = i * 10;
            let adjusted = point_adjusted(truth, pred, k);
            (k, pointwise(truth, &adjusted).2)
        })
        .collect();
    let area = curve
        .windows(2)
        .map(|w| 0.1 * (w[0].1 + w[1].1) / 2.0)
        .sum();
    (curve, area)
}

/// The threshold on `scores` that maximises the point-wise F1 of `score >= threshold`
/// against `truth`, with that F1 (ties: the highest threshold). `None` without a finite
/// score.
pub fn best_f1_threshold(scores: &[f64], truth: &[bool]) -> Option<(f64, f64)> {
    let positives = truth.iter().filter(|&&t| t).count() as u64;
    let mut best: Option<(f64, f64)> = None;
    for (s, tp, seen) in sweep(scores, truth, f64::is_finite) {
        let f1 = prf(tp, seen - tp, positives - tp).2;
        if best.is_none_or(|(_, b)| f1 > b) {
            best = Some((s, f1));
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bools(s: &str) -> Vec<bool> {
        s.chars().map(|c| c == '1').collect()
    }

    #[test]
    fn pointwise_counts() {
        let (p, r, f) = pointwise(&bools("11100"), &bools("01110"));
        assert_eq!((p, r), (2.0 / 3.0, 2.0 / 3.0));
        assert!((f - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(pointwise(&bools("000"), &bools("000")), (0.0, 0.0, 0.0));
    }

    /// Hand-computed, and what scikit-learn's `average_precision_score` gives:
    /// `average_precision_score([1,0,1,1,0], [0.9,0.8,0.7,0.3,0.1])` = 0.8055...
    #[test]
    fn average_precision_matches_scikit_learn() {
        let t = bools("10110");
        let s = [0.9, 0.8, 0.7, 0.3, 0.1];
        // Thresholds 0.9: P 1, R 1/3; 0.8: P 1/2; 0.7: P 2/3, R 2/3; 0.3: P 3/4, R 1.
        let expected = 1.0 / 3.0 * 1.0 + 1.0 / 3.0 * (2.0 / 3.0) + 1.0 / 3.0 * 0.75;
        assert!((average_precision(&s, &t).expect("positives") - expected).abs() < 1e-12);
        // Ties enter together: [1,0] both at 0.5 -> P 1/2 at R 1.
        assert_eq!(average_precision(&[0.5, 0.5], &[true, false]), Some(0.5));
        assert_eq!(average_precision(&[0.5], &[false]), None);
        // Unscored points (-inf) come last, tied.
        let s = [1.0, f64::NEG_INFINITY, f64::NEG_INFINITY];
        let ap = average_precision(&s, &bools("101")).expect("positives");
        assert!((ap - (0.5 * 1.0 + 0.5 * (2.0 / 3.0))).abs() < 1e-12);
    }

    #[test]
    fn runs_are_maximal() {
        assert_eq!(runs(&bools("0110111")), vec![(1, 3), (4, 7)]);
        assert!(runs(&bools("000")).is_empty());
    }

    /// Xu et al.'s adjustment turns one hit into the whole segment; PA%K needs more than
    /// K% of it.
    #[test]
    fn point_adjustment_and_pa_k() {
        let t = bools("0111100110");
        let p = bools("0010000010");
        assert_eq!(point_adjusted(&t, &p, 0), bools("0111100110"));
        // Segment 1: 1 of 4 (25%); segment 2: 1 of 2 (50%, not more than 50%).
        assert_eq!(point_adjusted(&t, &p, 30), bools("0010000110"));
        assert_eq!(point_adjusted(&t, &p, 50), p);
        assert_eq!(point_adjusted(&t, &p, 100), p);
        // Exactly K% in floats would round: 63 of 90 is 70%, not more.
        let t90: Vec<bool> = vec![true; 90];
        let p63: Vec<bool> = (0..90).map(|i| i < 63).collect();
        assert_eq!(point_adjusted(&t90, &p63, 70), p63);
        assert_eq!(point_adjusted(&t90, &p63, 69), t90);
        let (curve, area) = pa_k_curve(&t, &p);
        assert_eq!(curve.len(), 11);
        assert_eq!(curve[0], (0, 1.0));
        // K = 20: segment 1 adjusted (25% > 20%), all 6 flagged; K = 30, 40: segment 2
        // only (3 of 6: P 1, R 1/2); K >= 50: the raw 2 of 6.
        assert_eq!(curve[2].1, 1.0);
        let f_half = harmonic(1.0, 0.5);
        let f_raw = harmonic(1.0, 2.0 / 6.0);
        assert!((curve[3].1 - f_half).abs() < 1e-12 && (curve[4].1 - f_half).abs() < 1e-12);
        assert!((curve[5].1 - f_raw).abs() < 1e-12 && (curve[10].1 - f_raw).abs() < 1e-12);
        let expected = 0.1 * (1.0 + 1.0) / 2.0 * 2.0
            + 0.1 * (1.0 + f_half) / 2.0
            + 0.1 * f_half
            + 0.1 * (f_half + f_raw) / 2.0
            + 0.1 * f_raw * 5.0;
        assert!((area - expected).abs() < 1e-12, "{area} vs {expected}");
    }

    #[test]
    fn best_threshold_sweeps_every_score() {
        let t = bools("1100");
        let s = [0.9, 0.2, 0.5, 0.1];
        // >= 0.9: F1 2/3; >= 0.5: P 1/2 R 1/2; >= 0.2: P 2/3 R 1 -> F1 0.8; >= 0.1: 2/3.
        let (th, f1) = best_f1_threshold(&s, &t).expect("scores");
        assert_eq!(th, 0.2);
        assert!((f1 - 0.8).abs() < 1e-12);
        assert_eq!(best_f1_threshold(&[f64::NEG_INFINITY], &[true]), None);
    }
}
