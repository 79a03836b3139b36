//! `obsgen split`: chronological train / validation / test parts of a dataset's range,
//! with buffers between them, cuts where no incident is under way, a minimum number of
//! incidents of each type in each part and, optionally, types held out of training
//! (`OUT/splits.json`, described in `schemas/predictions.md`).

use super::truth::Truth;
use crate::error::Error;
use crate::time::{MINUTE, Micros, parse_instant, rfc3339_string};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// Disjoint, sorted `[start, end)` intervals.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Intervals(pub Vec<(Micros, Micros)>);

impl Intervals {
    /// Whether instant `t` lies in one of them.
    pub fn holds(&self, t: Micros) -> bool {
        self.0.iter().any(|&(s, e)| s <= t && t < e)
    }

    /// Whether the closed span `[s, e]` lies within one of them.
    pub fn holds_span(&self, s: Micros, e: Micros) -> bool {
        self.0.iter().any(|&(a, b)| a <= s && e < b)
    }

    /// These intervals less `[s, e)`.
    fn cut(&mut self, s: Micros, e: Micros) {
        let mut out = Vec::with_capacity(self.0.len() + 1);
        for &(a, b) in &self.0 {
            if e <= a || b <= s {
                out.push((a, b));
                continue;
            }
            if a < s {
                out.push((a, s));
            }
            if e < b {
                out.push((e, b));
            }
        }
        self.0 = out;
    }

    /// Total length.
    pub fn length(&self) -> Micros {
        self.0.iter().map(|(s, e)| e - s).sum()
    }
}

/// How to split.
#[derive(Debug, Clone)]
pub struct SplitOptions {
    /// Shares of the range for train and validation (test gets the rest).
    pub train: f64,
    pub validation: f64,
    pub buffer: Micros,
    pub min_per_type: u32,
    pub holdout_types: Vec<String>,
}

impl Default for SplitOptions {
    fn default() -> Self {
        SplitOptions {
            train: 0.6,
            validation: 0.2,
            buffer: 30 * MINUTE,
            min_per_type: 1,
            holdout_types: Vec::new(),
        }
    }
}

/// One part of a split.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    pub name: String,
    pub intervals: Intervals,
    /// Incidents whose signal window lies in the part, per type (every type of the
    /// dataset, 0 included).
    pub per_type: BTreeMap<String, u32>,
}

/// A dataset's split (`splits.json`).
#[derive(Debug, Clone, PartialEq)]
pub struct Splits {
    pub start: Micros,
    pub end: Micros,
    pub seed: u64,
    pub buffer: Micros,
    pub holdout_types: Vec<String>,
    pub parts: Vec<Part>,
}

/// The names of the parts, in time order.
pub const PARTS: [&str; 3] = ["train", "validation", "test"];

/// Splits `truth`'s range (see the module docs). Refuses, with the counts, when a part
/// would hold fewer than `min_per_type` incidents of a type the dataset has.
pub fn split(truth: &Truth, opts: &SplitOptions) -> Result<Splits, Error> {
    let ok = |x: f64| x.is_finite() && x > 0.0;
    if !ok(opts.train) || !ok(opts.validation) || opts.train + opts.validation >= 1.0 {
        return Err(Error::Invalid(format!(
            "--train {} and --validation {} must be positive and leave a share for test",
            opts.train, opts.validation
        )));
    }
    let types: Vec<&str> = {
        let mut t: Vec<&str> = truth
            .incidents
            .iter()
            .map(|i| i.incident_type.as_str())
            .collect();
        t.sort_unstable();
        t.dedup();
        t
    };
    for h in &opts.holdout_types {
        if !types.contains(&h.as_str()) {
            return Err(Error::Invalid(format!(
                "--holdout-types: no incident of type `{h}` in the dataset (types: {})",
                types.join(", ")
            )));
        }
    }
    let windows: Vec<(Micros, Micros)> = truth.incidents.iter().filter_map(|i| i.signal).collect();
    let len = truth.end - truth.start;
    // On a minute, then forward past any incident under way.
    let at = |t: Micros| {
        at_or_after(
            &windows,
            t - (t - truth.start).rem_euclid(MINUTE),
            truth.start,
        )
    };
    let c1 = at(truth.start + (len as f64 * opts.train) as Micros);
    let c2 = at(
        (truth.start + (len as f64 * (opts.train + opts.validation)) as Micros)
            .max(c1 + opts.buffer),
    );
    if c2 + opts.buffer >= truth.end || c1 + opts.buffer >= c2 {
        return Err(Error::Invalid(format!(
            "the range {} .. {} is too short to split with a {}-minute buffer",
            rfc3339_string(truth.start),
            rfc3339_string(truth.end),
            opts.buffer / MINUTE
        )));
    }
    let mut parts: Vec<Part> = [
        (truth.start, c1),
        (c1 + opts.buffer, c2),
        (c2 + opts.buffer, truth.end),
    ]
    .iter()
    .zip(PARTS)
    .map(|(&(s, e), name)| Part {
        name: name.to_string(),
        intervals: Intervals(vec![(s, e)]),
        per_type: BTreeMap::new(),
    })
    .collect();
    for inc in &truth.incidents {
        if let (Some((s, e)), true) = (inc.signal, opts.holdout_types.contains(&inc.incident_type))
        {
            for p in &mut parts[..2] {
                p.intervals.cut(s - opts.buffer, e + opts.buffer);
            }
        }
    }
    for p in &mut parts {
        for t in &types {
            p.per_type.insert(t.to_string(), 0);
        }
        for inc in truth.incidents_in(Some(&p.intervals)) {
            *p.per_type.entry(inc.incident_type.clone()).or_default() += 1;
        }
    }
    let short: Vec<String> = parts
        .iter()
        .flat_map(|p| {
            p.per_type.iter().filter_map(move |(t, &n)| {
                let held = opts.holdout_types.contains(t) && p.name != "test";
                (!held && n < opts.min_per_type).then(|| format!("{} {t}: {n}", p.name))
            })
        })
        .collect();
    if !short.is_empty() {
        return Err(Error::Invalid(format!(
            "cannot split with at least {} incident(s) of each type in each part (train {:.0}%, validation {:.0}%): {}\n{}",
            opts.min_per_type,
            100.0 * opts.train,
            100.0 * opts.validation,
            short.join(", "),
            counts_table(&parts)
        )));
    }
    Ok(Splits {
        start: truth.start,
        end: truth.end,
        seed: truth.seed,
        buffer: opts.buffer,
        holdout_types: opts.holdout_types.clone(),
        parts,
    })
}

/// The first minute at or after `t` that no window spans.
fn at_or_after(windows: &[(Micros, Micros)], mut t: Micros, origin: Micros) -> Micros {
    while let Some(e) = windows
        .iter()
        .filter(|&&(s, e)| s < t && t <= e)
        .map(|&(_, e)| e)
        .max()
    {
        t = e + MINUTE - (e - origin).rem_euclid(MINUTE);
    }
    t
}

/// Incidents per part and type, one line per type.
pub fn counts_table(parts: &[Part]) -> String {
    let mut out = format!("{:<32}", "type");
    for p in parts {
        out += &format!("{:>12}", p.name);
    }
    out.push('\n');
    let types: Vec<&String> = parts
        .first()
        .map(|p| p.per_type.keys().collect())
        .unwrap_or_default();
    for t in types {
        out += &format!("{t:<32}");
        for p in parts {
            out += &format!("{:>12}", p.per_type.get(t).copied().unwrap_or(0));
        }
        out.push('\n');
    }
    out
}

#[derive(Serialize, Deserialize)]
struct FileDataset {
    start: String,
    end: String,
    seed: u64,
}

#[derive(Serialize, Deserialize)]
struct FilePart {
    name: String,
    intervals: Vec<[String; 2]>,
    incidents: u32,
    incidents_per_type: BTreeMap<String, u32>,
}

#[derive(Serialize, Deserialize)]
struct SplitsFile {
    dataset: FileDataset,
    buffer_minutes: i64,
    holdout_types: Vec<String>,
    splits: Vec<FilePart>,
}

impl Splits {
    /// The part called `name`.
    pub fn part(&self, name: &str) -> Result<&Part, Error> {
        self.parts.iter().find(|p| p.name == name).ok_or_else(|| {
            Error::Invalid(format!(
                "no split `{name}` in splits.json (splits: {})",
                self.parts
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
    }

    pub fn to_json(&self) -> String {
        let file = SplitsFile {
            dataset: FileDataset {
                start: rfc3339_string(self.start),
                end: rfc3339_string(self.end),
                seed: self.seed,
            },
            buffer_minutes: self.buffer / MINUTE,
            holdout_types: self.holdout_types.clone(),
            splits: self
                .parts
                .iter()
                .map(|p| FilePart {
                    name: p.name.clone(),
                    intervals: p
                        .intervals
                        .0
                        .iter()
                        .map(|&(s, e)| [rfc3339_string(s), rfc3339_string(e)])
                        .collect(),
                    incidents: p.per_type.values().sum(),
                    incidents_per_type: p.per_type.clone(),
                })
                .collect(),
        };
        // Serializing plain strings and integers cannot fail.
        serde_json::to_string_pretty(&file).unwrap_or_default() + "\n"
    }

    /// Reads `dir/splits.json` and checks that it is a split of `truth`'s dataset.
    pub fn read(dir: &Path, truth: &Truth) -> Result<Splits, Error> {
        let path = dir.join("splits.json");
        let text = std::fs::read_to_string(&path).map_err(|e| {
            Error::Invalid(format!(
                "{}: {e} (write it with `obsgen split {}`)",
                path.display(),
                dir.display()
            ))
        })?;
        Splits::parse(&text, truth, &path.display().to_string())
    }

    /// Parses the text of a `splits.json` (`path` names it in errors).
    pub fn parse(text: &str, truth: &Truth, path: &str) -> Result<Splits, Error> {
        let f: SplitsFile =
            serde_json::from_str(text).map_err(|e| Error::Invalid(format!("{path}: {e}")))?;
        let instant = |s: &str| {
            parse_instant(s).ok_or_else(|| Error::Invalid(format!("{path}: bad instant `{s}`")))
        };
        let (start, end) = (instant(&f.dataset.start)?, instant(&f.dataset.end)?);
        if (start, end, f.dataset.seed) != (truth.start, truth.end, truth.seed) {
            return Err(Error::Invalid(format!(
                "{path} splits another dataset ({} .. {}, seed {}) than {} ({} .. {}, seed {})",
                f.dataset.start,
                f.dataset.end,
                f.dataset.seed,
                truth.dir.display(),
                rfc3339_string(truth.start),
                rfc3339_string(truth.end),
                truth.seed
            )));
        }
        let mut parts = Vec::new();
        for p in f.splits {
            let mut iv = Vec::new();
            for [s, e] in &p.intervals {
                iv.push((instant(s)?, instant(e)?));
            }
            parts.push(Part {
                name: p.name,
                intervals: Intervals(iv),
                per_type: p.incidents_per_type,
            });
        }
        Ok(Splits {
            start,
            end,
            seed: f.dataset.seed,
            buffer: f.buffer_minutes * MINUTE,
            holdout_types: f.holdout_types,
            parts,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::truth::IncidentTruth;

    fn truth(windows: &[(&str, i64, i64)]) -> Truth {
        let start = 1_794_355_200_000_000; // 2026-11-12T00:00:00Z
        let manifest: crate::sink::manifest::Manifest = serde_json::from_str(
            r#"{"generator":"obsgen","version":"0","seed":5,"config_digest":"x","start":"2026-11-12T00:00:00Z","end":"2026-11-13T00:00:00Z","scale":1.0,"compression":"zstd","sources":[],"tables":[],"files":[]}"#,
        )
        .expect("manifest");
        Truth {
            dir: "/nonexistent".into(),
            start,
            end: start + 24 * 60 * MINUTE,
            seed: 5,
            manifest,
            incidents: windows
                .iter()
                .enumerate()
                .map(|(k, &(t, s, e))| IncidentTruth {
                    id: format!("INC-{k}"),
                    incident_type: t.to_string(),
                    start: start + s * MINUTE,
                    signal: Some((start + s * MINUTE, start + e * MINUTE)),
                    affected_services: vec![],
                    root_kind: "service".into(),
                    root_services: vec![],
                    root_entity: String::new(),
                    root_indicator: String::new(),
                })
                .collect(),
        }
    }

    #[test]
    fn cuts_move_past_incidents_and_leave_buffers() {
        // 60% of a day is minute 864; an incident spans 860..870.
        let t = truth(&[
            ("a", 100, 110),
            ("a", 860, 870),
            ("a", 1000, 1010),
            ("a", 1300, 1310),
        ]);
        let s = split(&t, &SplitOptions::default()).expect("split");
        let m = |x: i64| t.start + x * MINUTE;
        assert_eq!(s.parts[0].intervals.0, vec![(m(0), m(871))]);
        // 80% is minute 1152: nothing under way.
        assert_eq!(s.parts[1].intervals.0, vec![(m(901), m(1152))]);
        assert_eq!(s.parts[2].intervals.0, vec![(m(1182), m(1440))]);
        let counts: Vec<u32> = s.parts.iter().map(|p| p.per_type["a"]).collect();
        assert_eq!(counts, vec![2, 1, 1]);
        let again = Splits::parse(&s.to_json(), &t, "splits.json").expect("round trip");
        assert_eq!(again, s);
    }

    #[test]
    fn refuses_with_counts_and_holds_types_out() {
        let t = truth(&[
            ("a", 100, 110),
            ("a", 1000, 1010),
            ("a", 1300, 1310),
            ("b", 200, 205),
        ]);
        let err = split(&t, &SplitOptions::default()).expect_err("b only in train");
        let msg = err.to_string();
        assert!(
            msg.contains("validation b: 0") && msg.contains("test b: 0"),
            "{msg}"
        );
        let t = truth(&[
            ("a", 100, 110),
            ("a", 1000, 1010),
            ("a", 1300, 1310),
            ("b", 200, 205),
            ("b", 1350, 1355),
        ]);
        let opts = SplitOptions {
            holdout_types: vec!["b".into()],
            ..SplitOptions::default()
        };
        let s = split(&t, &opts).expect("held out");
        let m = |x: i64| t.start + x * MINUTE;
        // b's window (200..205) and its buffer are cut out of train.
        assert_eq!(
            s.parts[0].intervals.0,
            vec![(m(0), m(170)), (m(235), m(864))]
        );
        assert_eq!(s.parts[0].per_type["b"], 0);
        assert_eq!(s.parts[2].per_type["b"], 1);
    }
}
