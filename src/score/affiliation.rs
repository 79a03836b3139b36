//! The affiliation precision and recall of Huet, Navarro and Rossi, "Local Evaluation of
//! Time Series Anomaly Detection Algorithms" (KDD 2022), computed in closed form.
//!
//! A series holds ground-truth events `J_1 < J_2 < ...` and predicted events, each a
//! half-open interval `[start, end)` of positive length, within a range `[lo, hi)`. The
//! range is cut into one *affiliation zone* `E_j` per ground-truth event, the boundaries
//! halfway between consecutive events. In zone `j`, with `P_j` the predictions cut to
//! the zone:
//! - the *precision* of a predicted point `x` is the probability that a point drawn
//!   uniformly in `E_j` lies at least as far from `J_j` as `x` does; the zone's precision
//!   is its mean over `P_j` (undefined when `P_j` is empty);
//! - the *recall* of a true point `y` of `J_j` is the probability that a point drawn
//!   uniformly in `E_j` lies at least as far from `y` as the nearest prediction of `P_j`
//!   does; the zone's recall is its mean over `J_j` (0 when `P_j` is empty).
//!
//! The series' precision is the mean of the defined zone precisions, its recall the mean
//! of the zone recalls. The mean distances (the paper's "directed distances") come out
//! of the same integrals.

/// A half-open interval `[start, end)`.
pub type Span = (f64, f64);

/// One ground-truth event's zone.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Zone {
    /// The affiliation zone `E_j`.
    pub zone: Span,
    /// Mean precision probability over the predictions in the zone; `None` without one.
    pub precision: Option<f64>,
    /// Mean recall probability over the event (0 without a prediction in the zone).
    pub recall: f64,
    /// Mean distance from the zone's predicted points to the event; `None` without one.
    pub precision_distance: Option<f64>,
    /// Mean distance from the event's points to the nearest prediction of the zone
    /// (infinite without one).
    pub recall_distance: f64,
}

/// The zones of one series: `truth` and `pred` sorted, disjoint, of positive length and
/// inside `range`. Returns one zone per ground-truth event (none without an event).
pub fn zones(truth: &[Span], pred: &[Span], range: Span) -> Vec<Zone> {
    let (lo, hi) = range;
    (0..truth.len())
        .map(|j| {
            let left = if j == 0 {
                lo
            } else {
                (truth[j - 1].1 + truth[j].0) / 2.0
            };
            let right = match truth.get(j + 1) {
                Some(next) => (truth[j].1 + next.0) / 2.0,
                None => hi,
            };
            zone((left, right), truth[j], pred)
        })
        .collect()
}

/// Precision and recall pooled over zones (of one series or several): the mean of the
/// defined zone precisions (`None` when none is defined) and the mean of the zone
/// recalls (`None` without a zone).
pub fn pooled(zones: &[Zone]) -> (Option<f64>, Option<f64>) {
    let defined: Vec<f64> = zones.iter().filter_map(|z| z.precision).collect();
    let precision =
        (!defined.is_empty()).then(|| defined.iter().sum::<f64>() / defined.len() as f64);
    let recall = (!zones.is_empty())
        .then(|| zones.iter().map(|z| z.recall).sum::<f64>() / zones.len() as f64);
    (precision, recall)
}

/// `∫_0^d max(0, c - t) dt` for `d >= 0`.
fn ramp_down(c: f64, d: f64) -> f64 {
    let c = c.max(0.0);
    if d <= c {
        c * d - d * d / 2.0
    } else {
        c * c / 2.0
    }
}

/// `∫_u^v max(0, a + b y) dy` for `u <= v`.
fn positive_linear(a: f64, b: f64, u: f64, v: f64) -> f64 {
    let (u, v) = if b == 0.0 {
        if a > 0.0 { (u, v) } else { return 0.0 }
    } else {
        let root = -a / b;
        if b > 0.0 {
            (u.max(root), v)
        } else {
            (u, v.min(root))
        }
    };
    if v <= u {
        return 0.0;
    }
    a * (v - u) + b * (v * v - u * u) / 2.0
}

fn zone(e: Span, j: Span, pred: &[Span]) -> Zone {
    let (e0, e1) = e;
    let (a, b) = j;
    let width = e1 - e0;
    let (left_margin, right_margin) = (a - e0, e1 - b);
    // The predictions cut to the zone.
    let pieces: Vec<Span> = pred
        .iter()
        .map(|&(p, q)| (p.max(e0), q.min(e1)))
        .filter(|(p, q)| q > p)
        .collect();
    if pieces.is_empty() {
        return Zone {
            zone: e,
            precision: None,
            recall: 0.0,
            precision_distance: None,
            recall_distance: f64::INFINITY,
        };
    }
    // Precision: over each predicted point x at distance d from J, the survival function
    // of the distance of a uniform point of E to J, (max(0, L - d) + max(0, R - d)) / |E|
    // (1 inside J).
    let survival = |d1: f64, d2: f64| {
        (ramp_down(left_margin, d2) - ramp_down(left_margin, d1) + ramp_down(right_margin, d2)
            - ramp_down(right_margin, d1))
            / width
    };
    let (mut length, mut prob, mut dist) = (0.0, 0.0, 0.0);
    for &(p, q) in &pieces {
        length += q - p;
        if p < a {
            // Left of J: d runs from a - min(q, a) to a - p.
            let (d1, d2) = (a - q.min(a), a - p);
            prob += survival(d1, d2);
            dist += (d2 * d2 - d1 * d1) / 2.0;
        }
        let (u, v) = (p.max(a), q.min(b));
        if v > u {
            prob += v - u;
        }
        if q > b {
            let (d1, d2) = (p.max(b) - b, q - b);
            prob += survival(d1, d2);
            dist += (d2 * d2 - d1 * d1) / 2.0;
        }
    }
    let precision = prob / length;
    let precision_distance = dist / length;
    // Recall: each y of J belongs to its nearest piece (boundaries halfway between
    // pieces). At distance D from it, the survival of |X - y| for X uniform on E is
    // (max(0, y - e0 - D) + max(0, e1 - y - D)) / |E| (1 inside the piece).
    let (mut prob, mut dist) = (0.0, 0.0);
    for (i, &(p, q)) in pieces.iter().enumerate() {
        let from = if i == 0 {
            f64::NEG_INFINITY
        } else {
            (pieces[i - 1].1 + p) / 2.0
        };
        let to = pieces.get(i + 1).map_or(f64::INFINITY, |n| (q + n.0) / 2.0);
        let (u, v) = (a.max(from), b.min(to));
        if v <= u {
            continue;
        }
        // y < p, D = p - y: (2y - p - e0)^+ + (e1 - p).
        let w = v.min(p);
        if w > u {
            prob += ((e1 - p) * (w - u) + positive_linear(-p - e0, 2.0, u, w)) / width;
            dist += ((p - u) * (p - u) - (p - w) * (p - w)) / 2.0;
        }
        let (s, t) = (u.max(p), v.min(q));
        if t > s {
            prob += t - s;
        }
        // y > q, D = y - q: (q - e0) + (e1 + q - 2y)^+.
        let s = u.max(q);
        if v > s {
            prob += ((q - e0) * (v - s) + positive_linear(e1 + q, -2.0, s, v)) / width;
            dist += ((v - q) * (v - q) - (s - q) * (s - q)) / 2.0;
        }
    }
    Zone {
        zone: e,
        precision: Some(precision),
        recall: prob / (b - a),
        precision_distance: Some(precision_distance),
        recall_distance: dist / (b - a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs().max(1.0)
    }

    /// Numerical integration of the definitions, on a fine midpoint grid.
    fn brute(truth: &[Span], pred: &[Span], range: Span, steps: usize) -> Vec<(Option<f64>, f64)> {
        zones(truth, pred, range)
            .iter()
            .zip(truth)
            .map(|(z, &(a, b))| {
                let (e0, e1) = z.zone;
                let h = (e1 - e0) / steps as f64;
                let pts: Vec<f64> = (0..steps).map(|k| e0 + (k as f64 + 0.5) * h).collect();
                let in_pred = |x: f64| pred.iter().any(|&(p, q)| x >= p && x < q);
                let dist_j = |x: f64| (a - x).max(x - b).max(0.0);
                // Survival of dist(X, J), X uniform on the zone.
                let surv = |d: f64, f: &dyn Fn(f64) -> f64| {
                    if d == 0.0 {
                        return 1.0;
                    }
                    pts.iter().filter(|&&x| f(x) >= d).count() as f64 / steps as f64
                };
                let predicted: Vec<f64> = pts.iter().copied().filter(|&x| in_pred(x)).collect();
                let precision = (!predicted.is_empty()).then(|| {
                    predicted
                        .iter()
                        .map(|&x| surv(dist_j(x), &dist_j))
                        .sum::<f64>()
                        / predicted.len() as f64
                });
                let ys: Vec<f64> = pts.iter().copied().filter(|&y| y >= a && y < b).collect();
                let recall = if predicted.is_empty() {
                    0.0
                } else {
                    ys.iter()
                        .map(|&y| {
                            let d = predicted
                                .iter()
                                .map(|&x| (x - y).abs())
                                .fold(f64::INFINITY, f64::min);
                            let d = if in_pred(y) { 0.0 } else { d };
                            surv(d, &|x: f64| (x - y).abs())
                        })
                        .sum::<f64>()
                        / ys.len() as f64
                };
                (precision, recall)
            })
            .collect()
    }

    #[test]
    fn the_papers_example() {
        // Huet et al. 2022, figure 2; the values of the authors' package tests
        // (tests/test_metrics.py::test_paper, in minutes x 60).
        let m = 60.0;
        let truth = [
            (0.0, 10.0 * m),
            (50.0 * m, 70.0 * m),
            (170.0 * m, 175.0 * m),
        ];
        let pred = [
            (5.0 * m, 6.0 * m),
            (7.0 * m, 10.0 * m),
            (11.0 * m, 12.0 * m),
            (40.0 * m, 60.0 * m),
            (115.0 * m, 130.0 * m),
            (135.0 * m, 140.0 * m),
            (165.0 * m, 170.0 * m),
        ];
        let z = zones(&truth, &pred, (0.0, 180.0 * m));
        let pd: Vec<f64> = z.iter().map(|z| z.precision_distance.unwrap()).collect();
        let rd: Vec<f64> = z.iter().map(|z| z.recall_distance).collect();
        for (x, y) in pd.iter().zip([18.0, 60.0 * 11.5, 60.0 * 31.25]) {
            assert!(close(*x, y), "{pd:?}");
        }
        for (x, y) in rd.iter().zip([76.5, 60.0 * 2.5, 60.0 * 2.5]) {
            assert!(close(*x, y), "{rd:?}");
        }
        assert!((z[1].precision.unwrap() - 0.672222222).abs() < 1e-9);
        assert!((z[1].recall - 0.944444444).abs() < 1e-9);
        assert_eq!(z[1].zone, (30.0 * m, 120.0 * m));
    }

    #[test]
    fn distances_of_the_package_tests() {
        // tests/test_metrics.py::test_generic_precision_distance and
        // ::test_generic_recall_distance of the authors' package.
        let pred = [(1.0, 3.0), (6.0, 18.0), (25.0, 26.0)];
        let truth = [(1.0, 8.0), (16.0, 17.0), (25.0, 28.0), (29.0, 31.0)];
        let z = zones(&truth, &pred, (1.0, 31.0));
        let pd: Vec<Option<f64>> = z.iter().map(|z| z.precision_distance).collect();
        assert_eq!(pd, [Some(1.0), Some(8.5 / 6.0), Some(0.0), None]);
        let rd: Vec<f64> = z.iter().map(|z| z.recall_distance).collect();
        assert_eq!(rd, [2.25 / 7.0, 0.0, 2.0 / 3.0, f64::INFINITY]);
        // Coherence (test_check_coherence, range (1, 40)).
        let z = zones(&truth, &pred, (1.0, 40.0));
        assert_eq!(z[2].precision, Some(1.0));
        assert_eq!((z[3].precision, z[3].recall), (None, 0.0));
        assert_eq!(z[1].recall, 1.0);
        // Example 2.
        let z = zones(
            &[(1.0, 8.0), (16.0, 17.0)],
            &[(1.0, 3.0), (5.0, 10.0)],
            (1.0, 31.0),
        );
        assert_eq!(z[0].precision_distance, Some((0.0 + 4.0 / 2.0) / 7.0));
        assert_eq!(z[0].recall_distance, (0.5 + 0.5) / 7.0);
        let z = zones(&[(1.0, 8.0)], &[(1.0, 3.0)], (1.0, 31.0));
        assert_eq!(z[0].recall_distance, (25.0 / 2.0) / 7.0);
        // Single-event cases (test_single_ground_truth_event.py).
        let j = [(1.0, 8.0)];
        let pdist = |p: &[Span]| zones(&j, p, (-100.0, 100.0))[0].precision_distance.unwrap();
        assert_eq!(pdist(&[(1.0, 9.0)]), 0.5 / 8.0);
        assert_eq!(pdist(&[(0.0, 9.0)]), 1.0 / 9.0);
        assert_eq!(pdist(&[(7.0, 9.0)]), 0.25);
        assert_eq!(pdist(&[(9.0, 10.0)]), 1.5);
        assert_eq!(pdist(&[(1.0, 2.0), (9.0, 10.0)]), 0.75);
        let z = zones(&[(21.0, 41.0)], &[(11.0, 31.0), (86.0, 91.0)], (1.0, 91.0));
        assert!(close(z[0].recall_distance, 2.5));
        assert!(close(z[0].precision_distance.unwrap(), 11.5));
        assert!((z[0].recall - 0.944444444).abs() < 1e-9);
        assert!((z[0].precision.unwrap() - 0.672222222).abs() < 1e-9);
    }

    #[test]
    fn values_of_the_authors_package() {
        // pr_from_events of ahstat/affiliation-metrics-py (the copy in TSB-AD 1.5).
        let z = zones(
            &[(10.0, 20.0)],
            &[(0.0, 5.0), (18.0, 40.0), (90.0, 100.0)],
            (0.0, 100.0),
        );
        assert!(close(z[0].precision.unwrap(), 0.5608108108108109));
        assert!(close(z[0].recall, 0.9405000000000001));
        assert!(close(z[0].precision_distance.unwrap(), 26.68918918918919));
        assert!(close(z[0].recall_distance, 2.975));
        let z = zones(
            &[(10.0, 20.0), (60.0, 61.0)],
            &[(30.0, 31.0), (62.0, 70.0)],
            (0.0, 100.0),
        );
        assert!(close(z[0].precision.unwrap(), 0.23749999999999993));
        assert!(close(z[1].precision.unwrap(), 0.8166666666666667));
        assert!(close(z[0].recall, 0.3125));
        assert!(close(z[1].recall, 0.95));
        assert_eq!(
            pooled(&z).0.map(|p| (p * 1e12).round()),
            Some((0.5270833333333333f64 * 1e12).round())
        );
    }

    #[test]
    fn closed_forms_match_numerical_integration() {
        let cases: Vec<(Vec<Span>, Vec<Span>, Span)> = vec![
            (
                vec![(10.0, 20.0)],
                vec![(0.0, 5.0), (18.0, 40.0), (90.0, 100.0)],
                (0.0, 100.0),
            ),
            (
                vec![(10.0, 20.0), (60.0, 61.0)],
                vec![(30.0, 31.0), (62.0, 70.0)],
                (0.0, 100.0),
            ),
            (
                vec![(0.0, 3.0), (50.0, 80.0)],
                vec![(40.0, 45.0), (85.0, 86.0), (95.0, 100.0)],
                (0.0, 100.0),
            ),
            (
                vec![(40.0, 50.0)],
                vec![(41.0, 42.0), (44.0, 46.0), (48.0, 60.0)],
                (0.0, 100.0),
            ),
        ];
        for (truth, pred, range) in cases {
            let exact = zones(&truth, &pred, range);
            let approx = brute(&truth, &pred, range, 20_000);
            for (z, (p, r)) in exact.iter().zip(approx) {
                assert_eq!(z.precision.is_some(), p.is_some());
                if let (Some(x), Some(y)) = (z.precision, p) {
                    assert!(
                        (x - y).abs() < 2e-3,
                        "precision {x} vs {y} ({truth:?} {pred:?})"
                    );
                }
                assert!(
                    (z.recall - r).abs() < 2e-3,
                    "recall {} vs {r} ({truth:?} {pred:?})",
                    z.recall
                );
                assert!((0.0..=1.0).contains(&z.recall));
            }
        }
    }

    #[test]
    fn extremes_and_pooling() {
        // A perfect prediction: precision and recall 1.
        let z = zones(
            &[(10.0, 20.0), (50.0, 55.0)],
            &[(10.0, 20.0), (50.0, 55.0)],
            (0.0, 100.0),
        );
        assert_eq!(pooled(&z), (Some(1.0), Some(1.0)));
        // Nothing predicted: precision undefined, recall 0.
        let z = zones(&[(10.0, 20.0)], &[], (0.0, 100.0));
        assert_eq!(pooled(&z), (None, Some(0.0)));
        // No event: no zone.
        assert_eq!(
            pooled(&zones(&[], &[(1.0, 2.0)], (0.0, 10.0))),
            (None, None)
        );
        // A prediction at the far edge of the zone is worth nothing for precision.
        let z = zones(&[(0.0, 10.0)], &[(99.0, 100.0)], (0.0, 100.0));
        assert!(z[0].precision.unwrap() < 0.01);
        // Pooling: precision over the zones that have predictions only.
        let z = zones(&[(10.0, 20.0), (70.0, 80.0)], &[(10.0, 20.0)], (0.0, 100.0));
        assert_eq!(pooled(&z), (Some(1.0), Some(0.5)));
    }
}
