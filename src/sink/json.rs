//! A streaming JSON writer into a byte buffer: no `serde_json::Value`, no per-value
//! allocation. Commas are placed by the writer; callers say what comes next.
//!
//! ```
//! use obsgen::sink::json::Json;
//! let mut j = Json::default();
//! j.begin_object();
//! j.field_str("name", "a\"b");
//! j.key("values");
//! j.begin_array();
//! j.u64(1);
//! j.f64(2.5);
//! j.end_array();
//! j.end_object();
//! assert_eq!(j.as_str(), r#"{"name":"a\"b","values":[1,2.5]}"#);
//! ```

use crate::time::{Micros, SECOND, write_rfc3339};
use std::fmt::Write as _;

/// A JSON text under construction.
#[derive(Default)]
pub struct Json {
    buf: Vec<u8>,
    /// One bit per open container: set once it holds a value (the next needs a comma).
    has_value: u64,
    depth: u32,
    /// A key was just written: the next value needs no comma.
    after_key: bool,
    scratch: String,
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl Json {
    pub fn with_capacity(n: usize) -> Json {
        Json {
            buf: Vec::with_capacity(n),
            ..Json::default()
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// The text written so far (always UTF-8: only `&str` and ASCII are written).
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf).unwrap_or_default()
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Empties the buffer (keeping its capacity) and the nesting state.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.has_value = 0;
        self.depth = 0;
        self.after_key = false;
    }

    /// Ends a JSON Lines record: a newline at depth 0.
    pub fn newline(&mut self) {
        debug_assert_eq!(self.depth, 0, "newline inside a JSON container");
        self.buf.push(b'\n');
        self.has_value = 0;
        self.after_key = false;
    }

    #[inline]
    fn before_value(&mut self) {
        if self.after_key {
            self.after_key = false;
            return;
        }
        if self.depth > 0 {
            let bit = 1u64 << ((self.depth - 1) & 63);
            if self.has_value & bit != 0 {
                self.buf.push(b',');
            } else {
                self.has_value |= bit;
            }
        }
    }

    #[inline]
    fn open(&mut self, c: u8) {
        self.before_value();
        self.buf.push(c);
        self.depth += 1;
        self.has_value &= !(1u64 << ((self.depth - 1) & 63));
    }

    #[inline]
    fn close(&mut self, c: u8) {
        self.buf.push(c);
        self.depth = self.depth.saturating_sub(1);
    }

    pub fn begin_object(&mut self) {
        self.open(b'{');
    }

    pub fn end_object(&mut self) {
        self.close(b'}');
    }

    pub fn begin_array(&mut self) {
        self.open(b'[');
    }

    pub fn end_array(&mut self) {
        self.close(b']');
    }

    /// An object key (escaped as needed).
    #[inline]
    pub fn key(&mut self, k: &str) {
        self.before_value();
        self.push_escaped(k);
        self.buf.push(b':');
        self.after_key = true;
    }

    #[inline]
    pub fn str(&mut self, s: &str) {
        self.before_value();
        self.push_escaped(s);
    }

    /// A string value made by `f` (escaped as needed).
    pub fn str_with(&mut self, f: impl FnOnce(&mut String)) {
        let mut s = std::mem::take(&mut self.scratch);
        s.clear();
        f(&mut s);
        self.str(&s);
        self.scratch = s;
    }

    /// A string value from format arguments: `j.str_fmt(format_args!("{n}ms"))`.
    pub fn str_fmt(&mut self, args: std::fmt::Arguments) {
        self.str_with(|s| {
            let _ = s.write_fmt(args);
        });
    }

    /// RFC 3339 UTC with `digits` fractional digits (0, 3, 6 or 9).
    pub fn rfc3339(&mut self, t: Micros, digits: u32) {
        self.str_with(|s| write_rfc3339(s, t, digits));
    }

    pub fn u64(&mut self, v: u64) {
        self.before_value();
        let mut b = itoa::Buffer::new();
        self.buf.extend_from_slice(b.format(v).as_bytes());
    }

    pub fn i64(&mut self, v: i64) {
        self.before_value();
        let mut b = itoa::Buffer::new();
        self.buf.extend_from_slice(b.format(v).as_bytes());
    }

    /// A number; NaN and infinities (not JSON) are written as `null`.
    pub fn f64(&mut self, v: f64) {
        self.before_value();
        if !v.is_finite() {
            self.buf.extend_from_slice(b"null");
        } else if v == v.trunc() && v.abs() < 1e15 {
            // Integral values without a fraction or exponent: `3`, not `3.0`.
            let mut b = itoa::Buffer::new();
            self.buf.extend_from_slice(b.format(v as i64).as_bytes());
        } else {
            let mut b = ryu::Buffer::new();
            self.buf.extend_from_slice(b.format_finite(v).as_bytes());
        }
    }

    /// A number with a fraction always shown (`3.0`), as JSON floats that must read back
    /// as floats (epoch seconds of Sentry, Prometheus sample times).
    pub fn float(&mut self, v: f64) {
        self.before_value();
        if !v.is_finite() {
            self.buf.extend_from_slice(b"null");
        } else {
            let mut b = ryu::Buffer::new();
            self.buf.extend_from_slice(b.format_finite(v).as_bytes());
        }
    }

    /// Epoch seconds with microseconds, as a float (`1764230400.123456`), exact in decimal.
    pub fn epoch_seconds(&mut self, t: Micros) {
        self.before_value();
        let secs = t.div_euclid(SECOND);
        let micros = t.rem_euclid(SECOND);
        let mut b = itoa::Buffer::new();
        self.buf.extend_from_slice(b.format(secs).as_bytes());
        self.buf.push(b'.');
        let mut digits = [b'0'; 6];
        let mut m = micros;
        for d in digits.iter_mut().rev() {
            *d = b'0' + (m % 10) as u8;
            m /= 10;
        }
        self.buf.extend_from_slice(&digits);
    }

    /// Epoch milliseconds as an integer.
    pub fn epoch_millis(&mut self, t: Micros) {
        self.i64(t.div_euclid(1000));
    }

    pub fn bool(&mut self, v: bool) {
        self.before_value();
        self.buf
            .extend_from_slice(if v { b"true" } else { b"false" });
    }

    pub fn null(&mut self) {
        self.before_value();
        self.buf.extend_from_slice(b"null");
    }

    /// A value that is already JSON text (for example a column holding JSON). The caller
    /// vouches for it.
    pub fn raw(&mut self, json: &str) {
        self.before_value();
        self.buf.extend_from_slice(json.as_bytes());
    }

    pub fn field_str(&mut self, k: &str, v: &str) {
        self.key(k);
        self.str(v);
    }

    /// `"k":"v"`, or `"k":null` when `v` is `None`.
    pub fn field_opt_str(&mut self, k: &str, v: Option<&str>) {
        self.key(k);
        match v {
            Some(v) => self.str(v),
            None => self.null(),
        }
    }

    pub fn field_u64(&mut self, k: &str, v: u64) {
        self.key(k);
        self.u64(v);
    }

    pub fn field_i64(&mut self, k: &str, v: i64) {
        self.key(k);
        self.i64(v);
    }

    pub fn field_f64(&mut self, k: &str, v: f64) {
        self.key(k);
        self.f64(v);
    }

    pub fn field_bool(&mut self, k: &str, v: bool) {
        self.key(k);
        self.bool(v);
    }

    fn push_escaped(&mut self, s: &str) {
        self.buf.push(b'"');
        let bytes = s.as_bytes();
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            let esc: &[u8] = match b {
                b'"' => b"\\\"",
                b'\\' => b"\\\\",
                b'\n' => b"\\n",
                b'\r' => b"\\r",
                b'\t' => b"\\t",
                0..=0x1f => b"",
                _ => continue,
            };
            self.buf.extend_from_slice(&bytes[start..i]);
            if esc.is_empty() {
                self.buf.extend_from_slice(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[(b >> 4) as usize],
                    HEX[(b & 15) as usize],
                ]);
            } else {
                self.buf.extend_from_slice(esc);
            }
            start = i + 1;
        }
        self.buf.extend_from_slice(&bytes[start..]);
        self.buf.push(b'"');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_and_commas() {
        let mut j = Json::default();
        j.begin_object();
        j.key("a");
        j.begin_array();
        j.begin_object();
        j.end_object();
        j.begin_object();
        j.field_u64("x", 1);
        j.field_bool("y", false);
        j.end_object();
        j.end_array();
        j.field_opt_str("b", None);
        j.key("c");
        j.begin_object();
        j.key("d");
        j.begin_array();
        j.end_array();
        j.end_object();
        j.end_object();
        j.newline();
        j.begin_array();
        j.i64(-3);
        j.end_array();
        assert_eq!(
            j.as_str(),
            "{\"a\":[{},{\"x\":1,\"y\":false}],\"b\":null,\"c\":{\"d\":[]}}\n[-3]"
        );
    }

    #[test]
    fn strings_are_escaped_and_parse_back() {
        let nasty = "q\"b\\s\n\r\t\u{1}\u{1f} é ✓ </script>";
        let mut j = Json::default();
        j.begin_object();
        j.field_str(nasty, nasty);
        j.end_object();
        let v: serde_json::Value = serde_json::from_slice(j.as_bytes()).unwrap();
        assert_eq!(v[nasty], nasty);
    }

    #[test]
    fn numbers() {
        let mut j = Json::default();
        j.begin_array();
        j.f64(3.0);
        j.f64(0.1);
        j.f64(f64::NAN);
        j.f64(1e20);
        j.float(3.0);
        j.epoch_seconds(1_764_230_400_000_123);
        j.epoch_seconds(-1);
        j.epoch_millis(1_764_230_400_123_999);
        j.end_array();
        assert_eq!(
            j.as_str(),
            "[3,0.1,null,1e20,3.0,1764230400.000123,-1.999999,1764230400123]"
        );
        let v: serde_json::Value = serde_json::from_slice(j.as_bytes()).unwrap();
        assert_eq!(v[5].as_f64(), Some(1_764_230_400.000_123));
    }

    #[test]
    fn formatted_strings() {
        let mut j = Json::default();
        j.begin_array();
        j.str_fmt(format_args!("{}ms \"{}\"", 5, "x"));
        j.rfc3339(1_764_230_400_000_123, 3);
        j.end_array();
        assert_eq!(j.as_str(), r#"["5ms \"x\"","2025-11-27T08:00:00.000Z"]"#);
    }
}
