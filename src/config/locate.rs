//! Where each value of a YAML file is: an index from key paths (`traffic.noise_sigma`,
//! `services[3].replicas`, the format `serde_path_to_error` uses) to the line and column
//! of the value, built from the parser's events. Semantic checks that run after
//! deserialization (ranges, products of values, cross-references) use it to point at the
//! value they refuse.

use serde_saphyr::granit_parser::{Event, Parser};
use std::collections::HashMap;

/// Longest scalar (string or number) accepted anywhere in a configuration file. Names,
/// routes and descriptions are copied into many rows, so a runaway value would multiply
/// the output's size.
pub const MAX_SCALAR_CHARS: usize = 256;

/// A position in a file: line and column, both from 1.
pub type Position = (u64, u64);

/// Key path → position of the value (its first occurrence; aliases point at the `*name`;
/// a mapping or sequence under a key points at the key, where a reader looks for it).
#[derive(Debug, Clone, Default)]
pub struct Locations {
    values: HashMap<String, Position>,
    /// The first scalar longer than [`MAX_SCALAR_CHARS`]: (path, position, length).
    pub long_scalar: Option<(String, Position, usize)>,
}

enum Frame {
    /// A mapping at `path`; `key` is the key whose value comes next, with its position
    /// (`None`: a key comes next).
    Map {
        path: String,
        key: Option<(String, Position)>,
    },
    /// A sequence at `path`; `next` is the index of the next item.
    Seq { path: String, next: usize },
    /// A complex key (a mapping or sequence used as a key), skipped; its nesting depth.
    Skip(usize),
}

fn child(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

impl Locations {
    /// Indexes `text`; stops quietly at a syntax error (the deserializer reports those).
    pub fn index(text: &str) -> Locations {
        let mut loc = Locations::default();
        let mut stack: Vec<Frame> = Vec::new();
        let mut root_seen = false;
        for item in Parser::new_from_str(text) {
            let Ok((event, span)) = item else { break };
            let pos = (span.start.line() as u64, span.start.col() as u64 + 1);
            let (starts, container, scalar) = match &event {
                Event::Scalar(v, ..) => (true, None, Some(v.as_ref())),
                Event::Alias(_) => (true, None, None),
                Event::MappingStart(..) => (true, Some(true), None),
                Event::SequenceStart(..) => (true, Some(false), None),
                Event::MappingEnd | Event::SequenceEnd => (false, None, None),
                Event::DocumentEnd => {
                    if root_seen {
                        break;
                    }
                    (false, None, None)
                }
                _ => (false, None, None),
            };
            if !starts {
                if matches!(event, Event::MappingEnd | Event::SequenceEnd) {
                    match stack.last_mut() {
                        Some(Frame::Skip(d)) if *d > 1 => *d -= 1,
                        Some(Frame::Skip(_)) => {
                            stack.pop();
                            if let Some(Frame::Map { key, .. }) = stack.last_mut() {
                                *key = Some(("?".to_string(), pos));
                            }
                        }
                        _ => {
                            stack.pop();
                        }
                    }
                }
                continue;
            }
            // Where does this node go?
            let mut at = pos;
            let path = match stack.last_mut() {
                None => {
                    if root_seen {
                        break;
                    }
                    root_seen = true;
                    String::new()
                }
                Some(Frame::Skip(d)) => {
                    if container.is_some() {
                        *d += 1;
                    }
                    continue;
                }
                Some(Frame::Map { key, path }) => match key.take() {
                    None => {
                        // This node is a key.
                        match (scalar, container) {
                            (Some(k), _) => *key = Some((k.to_string(), pos)),
                            (None, Some(_)) => stack.push(Frame::Skip(1)),
                            (None, None) => *key = Some(("?".to_string(), pos)),
                        }
                        continue;
                    }
                    Some((k, key_pos)) => {
                        if container.is_some() {
                            at = key_pos;
                        }
                        child(path, &k)
                    }
                },
                Some(Frame::Seq { path, next }) => {
                    let p = format!("{path}[{next}]");
                    *next += 1;
                    p
                }
            };
            if let Some(s) = scalar {
                let chars = s.chars().count();
                if chars > MAX_SCALAR_CHARS && loc.long_scalar.is_none() {
                    loc.long_scalar = Some((path.clone(), at, chars));
                }
            }
            loc.values.entry(path.clone()).or_insert(at);
            match container {
                Some(true) => stack.push(Frame::Map { path, key: None }),
                Some(false) => stack.push(Frame::Seq { path, next: 0 }),
                None => {}
            }
        }
        loc
    }

    /// The position of the value at `path`, or of its nearest ancestor that has one (a
    /// key merged in with `<<`, or a defaulted key, points at its mapping).
    pub fn get(&self, path: &str) -> Option<Position> {
        let mut p = path;
        loop {
            if let Some(&pos) = self.values.get(p) {
                return Some(pos);
            }
            if p.is_empty() {
                return None;
            }
            p = &p[..p.rfind(['.', '[']).unwrap_or(0)];
        }
    }

    /// Every indexed key path with its position.
    pub fn paths(&self) -> impl Iterator<Item = (&str, Position)> {
        self.values.iter().map(|(k, v)| (k.as_str(), *v))
    }

    /// The position of the value at exactly `path`.
    pub fn exact(&self, path: &str) -> Option<Position> {
        self.values.get(path).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_of_block_and_flow_values() {
        let text = "a: 1\nb:\n  c: [x, {d: 2}]\n  e:\n    - f: 3\n      g: &k 4\n    - h: *k\n";
        let l = Locations::index(text);
        assert_eq!(l.exact("a"), Some((1, 4)));
        assert_eq!(l.exact("b"), Some((2, 1)));
        assert_eq!(l.exact("b.c"), Some((3, 3)));
        assert_eq!(l.exact("b.c[0]"), Some((3, 7)));
        assert_eq!(l.exact("b.c[1].d"), Some((3, 14)));
        assert_eq!(l.exact("b.e[0].f"), Some((5, 10)));
        assert_eq!(l.exact("b.e[0].g"), Some((6, 13)));
        assert_eq!(l.exact("b.e[1].h"), Some((7, 10)));
        assert_eq!(l.get("b.e[1].missing"), Some((7, 7)));
        assert_eq!(l.exact("b.e[1]"), Some((7, 7)));
        assert_eq!(l.get("zzz"), Some((1, 1)));
        assert!(l.long_scalar.is_none());
    }

    #[test]
    fn complex_keys_and_long_scalars() {
        let long = "x".repeat(MAX_SCALAR_CHARS + 1);
        let text = format!("? [a, b]\n: 1\nk: {long}\n");
        let l = Locations::index(&text);
        assert_eq!(l.exact("?"), Some((2, 3)));
        let (path, pos, n) = l.long_scalar.expect("long scalar");
        assert_eq!((path.as_str(), pos, n), ("k", (3, 4), MAX_SCALAR_CHARS + 1));
    }
}
