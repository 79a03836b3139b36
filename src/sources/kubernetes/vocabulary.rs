//! The background vocabulary of `pod_logs`, as data: what services write on their own
//! besides their requests (connection pools, caches, schedulers, clients, runtimes,
//! framework start-up), one entry per event in `vocabulary.yaml`, each with the
//! languages (and frameworks) that write it, its level, logger, relative rate, message and
//! fields. A `{generator}` in a message or field is a parameter of the template (`<*>` in
//! its text); everything else is constant.

use super::logfmt::{Level, write_line};
use crate::config::{Language, ServiceKind};
use crate::rng::{Rng, mix64, stream};
use crate::sources::text::{self, Text, param};
use crate::world::ServiceInfo;
use serde::Deserialize;
use std::fmt::Write;
use std::sync::OnceLock;

const VOCABULARY: &str = include_str!("vocabulary.yaml");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    event: String,
    languages: Vec<String>,
    #[serde(default)]
    frameworks: Vec<String>,
    #[serde(default)]
    needs: Vec<String>,
    level: String,
    #[serde(default)]
    logger: Option<String>,
    /// Relative rate among the background lines (ignored for start-up lines).
    #[serde(default)]
    weight: f64,
    /// Written once per container start, between its first line and its ready line.
    #[serde(default)]
    at_start: bool,
    message: String,
    #[serde(default)]
    fields: Vec<String>,
}

/// A parameter generator.
#[derive(Debug, Clone, PartialEq)]
pub enum Gen {
    /// `{int:A-B}`: uniform integer.
    Int(u64, u64),
    /// `{float:A-B:D}`: uniform decimal with D digits.
    Float(f64, f64, u32),
    /// `{ms:M}`: a log-normal duration with median M, one decimal.
    Ms(f64),
    /// `{pick:a|b|c}`: one of the words.
    Pick(Vec<String>),
    /// `{hex:N}`: N lowercase hex digits.
    Hex(usize),
    /// `{uuid}`.
    Uuid,
    /// `{ip}`: a pod address.
    Ip,
    /// `{service}`, `{peer}` (a dependency, or the service), `{db}`, `{queue}`, `{pod}`,
    /// `{version}`, `{port}`, `{user}`.
    Service,
    Peer,
    Db,
    Queue,
    Pod,
    Version,
    Port,
    User,
}

impl Gen {
    fn parse(spec: &str) -> Result<Gen, String> {
        let (name, arg) = spec.split_once(':').unwrap_or((spec, ""));
        let range = |a: &str| -> Result<(f64, f64), String> {
            let (lo, hi) = a
                .split_once('-')
                .ok_or_else(|| format!("{{{spec}}}: range A-B expected"))?;
            let p = |x: &str| x.parse::<f64>().map_err(|e| format!("{{{spec}}}: {e}"));
            Ok((p(lo)?, p(hi)?))
        };
        Ok(match name {
            "int" => {
                let (lo, hi) = range(arg)?;
                Gen::Int(lo as u64, hi.max(lo) as u64)
            }
            "float" => {
                let (r, d) = arg
                    .rsplit_once(':')
                    .ok_or_else(|| format!("{{{spec}}}: float:A-B:D expected"))?;
                let (lo, hi) = range(r)?;
                Gen::Float(lo, hi, d.parse().map_err(|e| format!("{{{spec}}}: {e}"))?)
            }
            "ms" => Gen::Ms(arg.parse().map_err(|e| format!("{{{spec}}}: {e}"))?),
            "pick" => Gen::Pick(arg.split('|').map(str::to_string).collect()),
            "hex" => Gen::Hex(arg.parse().map_err(|e| format!("{{{spec}}}: {e}"))?),
            "uuid" => Gen::Uuid,
            "ip" => Gen::Ip,
            "service" => Gen::Service,
            "peer" => Gen::Peer,
            "db" => Gen::Db,
            "queue" => Gen::Queue,
            "pod" => Gen::Pod,
            "version" => Gen::Version,
            "port" => Gen::Port,
            "user" => Gen::User,
            _ => return Err(format!("unknown generator {{{spec}}}")),
        })
    }

    fn numeric(&self) -> bool {
        matches!(self, Gen::Int(..) | Gen::Float(..) | Gen::Ms(_) | Gen::Port)
    }
}

/// A piece of a message or field value.
#[derive(Debug, Clone, PartialEq)]
pub enum Seg {
    Lit(String),
    Gen(Gen),
}

fn parse_segs(s: &str) -> Result<Vec<Seg>, String> {
    if s.contains(['"', '\\']) {
        return Err(format!("{s:?}: quotes and backslashes are not allowed"));
    }
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            out.push(Seg::Lit(rest[..open].to_string()));
        }
        let close = rest[open..]
            .find('}')
            .ok_or_else(|| format!("{s:?}: unclosed {{"))?;
        out.push(Seg::Gen(Gen::parse(&rest[open + 1..open + close])?));
        rest = &rest[open + close + 1..];
    }
    if !rest.is_empty() {
        out.push(Seg::Lit(rest.to_string()));
    }
    Ok(out)
}

/// One field of an entry: `key={generator}` (a JSON number when the value is one
/// numeric generator) or `key=text with {generators}` (a string).
#[derive(Debug)]
pub struct FieldSpec {
    pub key: String,
    pub value: Vec<Seg>,
    pub numeric: bool,
}

/// Which services write an entry.
#[derive(Debug, Default)]
pub struct Needs {
    pub rds: bool,
    pub sqs: bool,
    pub deps: bool,
    pub worker: bool,
    pub api: bool,
}

#[derive(Debug)]
pub struct Entry {
    pub event: String,
    /// Java, Python, Node, Go.
    pub languages: [bool; 4],
    pub frameworks: Vec<String>,
    pub needs: Needs,
    pub level: Level,
    pub logger: Option<String>,
    /// The caller zap names for the line in a Go service (`<pkg>/<file>.go:<line>`): the
    /// logger when it is one, else derived from it (`app.health` → `health/health.go:57`).
    pub go_caller: String,
    pub weight: f64,
    pub at_start: bool,
    /// Whether the entry names a dependency (`{peer}`).
    pub uses_peer: bool,
    pub message: Vec<Seg>,
    pub fields: Vec<FieldSpec>,
}

fn lang_index(l: Language) -> usize {
    match l {
        Language::Java => 0,
        Language::Python => 1,
        Language::Node => 2,
        Language::Go => 3,
    }
}

impl Entry {
    /// Whether service `s` writes this entry.
    pub fn applies(&self, s: &ServiceInfo) -> bool {
        let n = &self.needs;
        self.languages[lang_index(s.language)]
            && (self.frameworks.is_empty() || self.frameworks.contains(&s.framework))
            && (!n.rds || !s.rds.is_empty())
            && (!n.sqs || !s.sqs.is_empty())
            && (!n.deps || !s.deps.is_empty())
            && (!n.worker || s.kind == ServiceKind::Worker)
            && (!n.api || s.kind != ServiceKind::Worker)
    }
}

fn parse_entry(r: RawEntry) -> Result<Entry, String> {
    let at = |e: String| format!("vocabulary entry {}: {e}", r.event);
    let mut languages = [false; 4];
    for l in &r.languages {
        match l.as_str() {
            "java" => languages[0] = true,
            "python" => languages[1] = true,
            "node" => languages[2] = true,
            "go" => languages[3] = true,
            "any" => languages = [true; 4],
            _ => return Err(at(format!("unknown language {l}"))),
        }
    }
    let mut needs = Needs::default();
    for n in &r.needs {
        match n.as_str() {
            "rds" => needs.rds = true,
            "sqs" => needs.sqs = true,
            "deps" => needs.deps = true,
            "worker" => needs.worker = true,
            "api" => needs.api = true,
            _ => return Err(at(format!("unknown need {n}"))),
        }
    }
    let level = match r.level.as_str() {
        "debug" => Level::Debug,
        "info" => Level::Info,
        "warn" => Level::Warn,
        "error" => Level::Error,
        _ => return Err(at(format!("unknown level {}", r.level))),
    };
    let fields = r
        .fields
        .iter()
        .map(|f| {
            let (key, value) = f
                .split_once('=')
                .ok_or_else(|| at(format!("field {f:?}: key=value expected")))?;
            let value = parse_segs(value).map_err(at)?;
            let numeric = match value.as_slice() {
                [Seg::Gen(g)] => g.numeric(),
                [Seg::Lit(l)] => l.parse::<f64>().is_ok(),
                _ => false,
            };
            Ok(FieldSpec {
                key: key.to_string(),
                value,
                numeric,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    if !r.event.contains('.') || r.event.contains(['/', ' ']) {
        return Err(at("event ids are dotted <area>.<event>".into()));
    }
    if !r.at_start && r.weight <= 0.0 {
        return Err(at("weight must be positive".into()));
    }
    let go_caller = match &r.logger {
        Some(l) if l.contains(".go:") => l.clone(),
        l => {
            let name = l.as_deref().unwrap_or(&r.event);
            let pkg = name.rsplit(['.', '/']).next().unwrap_or(name);
            format!(
                "{pkg}/{pkg}.go:{}",
                20 + crate::rng::str_key(&r.event) % 180
            )
        }
    };
    let message = parse_segs(&r.message).map_err(at)?;
    let peer = |segs: &[Seg]| segs.contains(&Seg::Gen(Gen::Peer));
    let uses_peer = peer(&message) || fields.iter().any(|f| peer(&f.value));
    Ok(Entry {
        go_caller,
        uses_peer,
        message,
        event: r.event,
        languages,
        frameworks: r.frameworks,
        needs,
        level,
        logger: r.logger,
        weight: r.weight,
        at_start: r.at_start,
        fields,
    })
}

fn parse(text: &str) -> Result<Vec<Entry>, String> {
    let raw: Vec<RawEntry> = serde_saphyr::from_str(text).map_err(|e| e.to_string())?;
    let entries = raw
        .into_iter()
        .map(parse_entry)
        .collect::<Result<Vec<_>, _>>()?;
    let mut ids: Vec<&str> = entries.iter().map(|e| e.event.as_str()).collect();
    ids.sort_unstable();
    if let Some(w) = ids.windows(2).find(|w| w[0] == w[1]) {
        return Err(format!("vocabulary event {} defined twice", w[0]));
    }
    Ok(entries)
}

/// The vocabulary (parsed once; the embedded file is checked by the tests).
pub fn vocabulary() -> &'static [Entry] {
    static V: OnceLock<Vec<Entry>> = OnceLock::new();
    V.get_or_init(|| match parse(VOCABULARY) {
        Ok(v) => v,
        // The file is part of the binary, not of the user's configuration.
        Err(e) => panic!("embedded pod_logs vocabulary: {e}"),
    })
}

/// Everything a vocabulary line's parameters draw on.
pub struct VocabCtx<'a> {
    pub key: u64,
    pub svc: &'a ServiceInfo,
    pub peer: &'a str,
    pub pod: &'a str,
    pub version: &'a str,
}

/// Segments written with their parameters drawn from `(key, salt)`.
struct Segs<'a>(&'a [Seg], &'a VocabCtx<'a>, u64);

impl Text for Segs<'_> {
    fn put_to<W: Write + ?Sized>(&self, out: &mut W) {
        let c = self.1;
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Lit(s) => {
                    let _ = out.write_str(s);
                }
                Seg::Gen(g) => param(out, |o| {
                    let k = mix64(stream(c.key, &[self.2, i as u64]));
                    write_gen(o, g, k, c)
                }),
            }
        }
    }
}

fn write_gen<W: Write + ?Sized>(o: &mut W, g: &Gen, k: u64, c: &VocabCtx) {
    let mut rng = Rng::new(k);
    match g {
        Gen::Int(lo, hi) => text::uint(o, rng.range_u64(*lo, *hi)),
        Gen::Float(lo, hi, d) => text::fixed(o, rng.range_f64(*lo, *hi), *d),
        Gen::Ms(m) => text::fixed(o, rng.lognormal(*m, 0.6), 1),
        Gen::Pick(words) => {
            let word: &String = rng.pick(words);
            let _ = o.write_str(word);
        }
        Gen::Hex(n) => {
            for part in [n.saturating_sub(16), (*n).min(16)] {
                if part > 0 {
                    text::hex(o, rng.next_u64() >> (64 - 4 * part), part);
                }
            }
        }
        Gen::Uuid => text::uuid_from_key(o, k),
        Gen::Ip => text::text(o, ("10.0.", (k >> 8) % 96, '.', 2 + (k >> 16) % 250)),
        Gen::Service => {
            let _ = o.write_str(&c.svc.name);
        }
        Gen::Peer => {
            let _ = o.write_str(c.peer);
        }
        Gen::Db => {
            let _ = o.write_str(c.svc.rds.first().map_or("primary", |d| d.as_str()));
        }
        Gen::Queue => {
            let _ = o.write_str(c.svc.sqs.first().map_or("jobs", |q| q.as_str()));
        }
        Gen::Pod => {
            let _ = o.write_str(c.pod);
        }
        Gen::Version => {
            let _ = o.write_str(c.version);
        }
        Gen::Port => text::uint(o, c.svc.port),
        Gen::User => text::text(o, ("usr_", k % 250_000)),
    }
}

/// Writes entry `e` as one line in the service's layout.
pub fn render(out: &mut impl Write, e: &Entry, env: &super::logfmt::Envelope, c: &VocabCtx) {
    write_line(out, env, Segs(&e.message, c, u64::MAX), |b| {
        for (i, f) in e.fields.iter().enumerate() {
            let v = Segs(&f.value, c, i as u64);
            if f.numeric {
                b.field(&f.key, v);
            } else {
                b.str_field(&f.key, v);
            }
        }
    });
}

/// Per service, the cumulative weights of the background entries it writes and their
/// indices in [`vocabulary`].
pub fn background_choices(s: &ServiceInfo) -> (Vec<f64>, Vec<u16>) {
    let v = vocabulary();
    let idx: Vec<u16> = (0..v.len())
        .filter(|&i| !v[i].at_start && v[i].applies(s))
        .map(|i| i as u16)
        .collect();
    let cum = crate::rng::cumulative(idx.iter().map(|&i| v[i as usize].weight));
    (cum, idx)
}

/// The start-up entries service `s` writes, in order.
pub fn start_entries(s: &ServiceInfo) -> Vec<u16> {
    let v = vocabulary();
    (0..v.len())
        .filter(|&i| v[i].at_start && v[i].applies(s))
        .map(|i| i as u16)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_vocabulary_parses_and_is_large() {
        let v = parse(VOCABULARY).unwrap_or_else(|e| panic!("{e}"));
        assert!(v.len() >= 150, "{} entries", v.len());
        for e in &v {
            assert!(
                e.go_caller.contains(".go:"),
                "{}: caller {}",
                e.event,
                e.go_caller
            );
        }
        for l in 0..4 {
            assert!(
                v.iter().filter(|e| e.languages[l] && !e.at_start).count() >= 25,
                "language {l} has too few background entries"
            );
        }
    }

    #[test]
    fn generators_and_errors() {
        assert_eq!(
            parse_segs("a {int:1-5} b").unwrap(),
            vec![
                Seg::Lit("a ".into()),
                Seg::Gen(Gen::Int(1, 5)),
                Seg::Lit(" b".into())
            ]
        );
        assert_eq!(
            Gen::parse("float:0.5-2:3").unwrap(),
            Gen::Float(0.5, 2.0, 3)
        );
        assert!(parse_segs("a {int:1}").is_err());
        assert!(parse_segs("a {nope}").is_err());
        assert!(parse_segs("a \"quoted\"").is_err());
        assert!(parse_segs("a {int:1-2").is_err());
        let dup = "- {event: a.b, languages: [go], level: info, weight: 1, message: x}\n\
                   - {event: a.b, languages: [go], level: info, weight: 1, message: y}\n";
        assert!(parse(dup).unwrap_err().contains("twice"));
        let bad = "- {event: a.b, languages: [cobol], level: info, weight: 1, message: x}\n";
        assert!(parse(bad).is_err());
    }
}
