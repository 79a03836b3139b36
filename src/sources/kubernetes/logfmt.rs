//! Log line envelopes: how each language's logger lays out a line (JSON or text), written
//! straight into the message column's buffer.

use crate::config::Language;
use crate::sources::text::{self, P, Pad, Text, param};
use crate::time::Micros;
use crate::world::LogStyle;
use std::fmt::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
            Level::Fatal => "fatal",
        }
    }
    fn upper(self) -> &'static str {
        match self {
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
            Level::Fatal => "FATAL",
        }
    }
    fn python(self) -> &'static str {
        match self {
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARNING",
            Level::Error => "ERROR",
            Level::Fatal => "CRITICAL",
        }
    }
    fn pino(self) -> u32 {
        match self {
            Level::Debug => 20,
            Level::Info => 30,
            Level::Warn => 40,
            Level::Error => 50,
            Level::Fatal => 60,
        }
    }
}

/// A logger layout: how a line is laid out around its message and fields. Template ids
/// are per (layout, event), `<layout>/<event>`, so one id never covers two layouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Layout {
    /// Go services: zap's production JSON encoder.
    Zap,
    /// Node services: pino's JSON.
    Pino,
    /// FastAPI services: structlog's JSON renderer.
    Structlog,
    /// Micronaut services: logstash-logback-encoder JSON.
    Logstash,
    /// Spring Boot services: the default console pattern with correlation ids.
    Spring,
    /// Django and Flask services: Python logging's text format.
    Python,
    /// Django and Flask access lines: gunicorn's access log format.
    Gunicorn,
}

impl Layout {
    pub const ALL: [Layout; 7] = [
        Layout::Zap,
        Layout::Pino,
        Layout::Structlog,
        Layout::Logstash,
        Layout::Spring,
        Layout::Python,
        Layout::Gunicorn,
    ];

    /// The layout of a service's application lines (gunicorn's is chosen per template).
    pub fn of(lang: Language, style: LogStyle) -> Layout {
        match (lang, style) {
            (Language::Go, LogStyle::Json) => Layout::Zap,
            (Language::Node, LogStyle::Json) => Layout::Pino,
            (Language::Python, LogStyle::Json) => Layout::Structlog,
            (Language::Java, LogStyle::Json) => Layout::Logstash,
            (Language::Java, LogStyle::Text) => Layout::Spring,
            (_, LogStyle::Text) => Layout::Python,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Layout::Zap => "zap",
            Layout::Pino => "pino",
            Layout::Structlog => "structlog",
            Layout::Logstash => "logstash",
            Layout::Spring => "spring",
            Layout::Python => "python",
            Layout::Gunicorn => "gunicorn",
        }
    }
}

/// Which stream a logger writes to: zap and Python's logging default to stderr.
pub fn stream_for(lang: Language, style: LogStyle, level: Level) -> &'static str {
    match (lang, style) {
        (Language::Go, _) => "stderr",
        (Language::Python, LogStyle::Text) => "stderr",
        (Language::Node, _) if level >= Level::Error => "stderr",
        _ => "stdout",
    }
}

/// Everything the envelope needs besides the body.
pub struct Envelope<'a> {
    pub lang: Language,
    pub style: LogStyle,
    pub framework: &'a str,
    pub service: &'a str,
    pub pod: &'a str,
    pub ts: Micros,
    pub level: Level,
    /// Logger / caller name for the line.
    pub logger: &'a str,
    /// Trace and span ids, if the line belongs to a request.
    pub trace: Option<(u64, u64, u64)>,
    /// A thread name seed (Java request threads).
    pub thread: u32,
}

/// Writes a 32-hex trace id (`{hi:016x}{lo:016x}`).
pub fn write_trace(out: &mut (impl Write + ?Sized), hi: u64, lo: u64) {
    text::hex128(out, hi, lo);
}

/// `YYYY-MM-DD{sep}HH:MM:SS.mmm` (`,mmm` when `comma`).
#[inline]
fn write_iso_ms<W: Write + ?Sized>(out: &mut W, ts: Micros, sep: u8, comma: bool) {
    text::timestamp(out, ts, sep, if comma { ',' } else { '.' }, 3);
}

/// Opens a line: for JSON styles everything up to and including the message key's value
/// opening quote is NOT written; instead the caller gets `open_json`/`open_text` and
/// writes the message and fields through [`Body`].
pub struct Body<'o, W: Write> {
    out: &'o mut W,
    json: bool,
}

impl<W: Write> Body<'_, W> {
    /// A key/value field: JSON member or ` key=value` in text.
    #[inline]
    pub fn field(&mut self, key: &str, value: impl Text) -> &mut Self {
        let o = &mut *self.out;
        if self.json {
            let _ = o.write_str(",\"");
            let _ = o.write_str(key);
            let _ = o.write_str("\":");
        } else {
            let _ = o.write_char(' ');
            let _ = o.write_str(key);
            let _ = o.write_char('=');
        }
        value.put_to(o);
        self
    }

    /// A string field (quoted in JSON).
    #[inline]
    pub fn str_field(&mut self, key: &str, value: impl Text) -> &mut Self {
        let o = &mut *self.out;
        if self.json {
            let _ = o.write_str(",\"");
            let _ = o.write_str(key);
            let _ = o.write_str("\":\"");
            value.put_to(o);
            let _ = o.write_char('"');
        } else {
            let _ = o.write_char(' ');
            let _ = o.write_str(key);
            let _ = o.write_char('=');
            value.put_to(o);
        }
        self
    }

    /// Raw text appended to the message (text style only; ignored in JSON).
    #[inline]
    pub fn text(&mut self, s: impl Text) -> &mut Self {
        if !self.json {
            s.put_to(self.out);
        }
        self
    }

    pub fn is_json(&self) -> bool {
        self.json
    }

    pub fn out(&mut self) -> &mut W {
        self.out
    }
}

/// Writes one line: envelope, message `msg`, then the fields written by `fields`.
pub fn write_line<W: Write>(
    out: &mut W,
    env: &Envelope,
    msg: impl Text,
    fields: impl FnOnce(&mut Body<W>),
) {
    match env.style {
        LogStyle::Json => {
            match env.lang {
                Language::Go => {
                    // {"level":"..","ts":<s>.<us>,"caller":"..","msg":".."
                    text::text(out, ("{\"level\":\"", env.level.as_str(), "\",\"ts\":"));
                    text::text(
                        out,
                        P((
                            env.ts.div_euclid(1_000_000),
                            '.',
                            Pad(env.ts.rem_euclid(1_000_000) as u64, 6),
                        )),
                    );
                    text::text(out, (",\"caller\":\"", env.logger, "\",\"msg\":\""));
                    msg.put_to(out);
                    let _ = out.write_char('"');
                    if let Some((hi, lo, span)) = env.trace {
                        let _ = out.write_str(",\"trace_id\":\"");
                        param(out, |o| write_trace(o, hi, lo));
                        let _ = out.write_str("\",\"span_id\":\"");
                        param(out, |o| text::hex16(o, span));
                        let _ = out.write_char('"');
                    }
                }
                Language::Node => {
                    text::text(
                        out,
                        (
                            "{\"level\":",
                            env.level.pino(),
                            ",\"time\":",
                            P(env.ts.div_euclid(1000)),
                            ",\"pid\":1,\"hostname\":\"",
                            P(env.pod),
                        ),
                    );
                    text::text(out, ("\",\"name\":\"", P(env.service), "\",\"msg\":\""));
                    msg.put_to(out);
                    let _ = out.write_char('"');
                    if let Some((hi, lo, span)) = env.trace {
                        let _ = out.write_str(",\"trace_id\":\"");
                        param(out, |o| write_trace(o, hi, lo));
                        let _ = out.write_str("\",\"span_id\":\"");
                        param(out, |o| text::hex16(o, span));
                        let _ = out.write_str("\",\"trace_flags\":\"01\"");
                    }
                }
                Language::Python => {
                    let _ = out.write_str("{\"event\":\"");
                    msg.put_to(out);
                    text::text(
                        out,
                        (
                            "\",\"level\":\"",
                            env.level.as_str(),
                            "\",\"logger\":\"",
                            env.logger,
                            "\",\"timestamp\":\"",
                        ),
                    );
                    param(out, |o| {
                        text::timestamp(o, env.ts, b'T', '.', 6);
                        let _ = o.write_char('Z');
                    });
                    let _ = out.write_char('"');
                    if let Some((hi, lo, span)) = env.trace {
                        let _ = out.write_str(",\"trace_id\":\"");
                        param(out, |o| write_trace(o, hi, lo));
                        let _ = out.write_str("\",\"span_id\":\"");
                        param(out, |o| text::hex16(o, span));
                        let _ = out.write_char('"');
                    }
                }
                Language::Java => {
                    let _ = out.write_str("{\"@timestamp\":\"");
                    param(out, |o| {
                        write_iso_ms(o, env.ts, b'T', false);
                        let _ = o.write_char('Z');
                    });
                    let _ = out.write_str("\",\"@version\":\"1\",\"message\":\"");
                    msg.put_to(out);
                    text::text(
                        out,
                        (
                            "\",\"logger_name\":\"",
                            env.logger,
                            "\",\"thread_name\":\"default-nioEventLoopGroup-1-",
                            P(1 + env.thread % 8),
                            "\",\"level\":\"",
                            env.level.upper(),
                        ),
                    );
                    text::text(
                        out,
                        ("\",\"level_value\":", 10_000 + 10_000 * (env.level as u32)),
                    );
                    if let Some((hi, lo, span)) = env.trace {
                        let _ = out.write_str(",\"traceId\":\"");
                        param(out, |o| write_trace(o, hi, lo));
                        let _ = out.write_str("\",\"spanId\":\"");
                        param(out, |o| text::hex16(o, span));
                        let _ = out.write_char('"');
                    }
                }
            }
            let mut b = Body { out, json: true };
            fields(&mut b);
            let _ = b.out.write_char('}');
        }
        LogStyle::Text => {
            match env.lang {
                Language::Java => {
                    // Spring Boot 3 console layout with correlation ids.
                    param(out, |o| {
                        write_iso_ms(o, env.ts, b'T', false);
                        let _ = o.write_char('Z');
                    });
                    // `{:>5}` of the level.
                    let upper = env.level.upper();
                    let _ = out.write_str(&"      "[..1 + 5usize.saturating_sub(upper.len())]);
                    text::text(
                        out,
                        (
                            upper,
                            " 1 --- [",
                            P(env.service),
                            "] [nio-8080-exec-",
                            P(1 + env.thread % 10),
                            "] ",
                        ),
                    );
                    match env.trace {
                        Some((hi, lo, span)) => {
                            let _ = out.write_char('[');
                            param(out, |o| write_trace(o, hi, lo));
                            let _ = out.write_char('-');
                            param(out, |o| text::hex16(o, span));
                            let _ = out.write_str("] ");
                        }
                        None => {
                            let _ = out
                                .write_str("[                                                 ] ");
                        }
                    }
                    // `{:<40}` of the logger (ASCII).
                    let _ = out.write_str(env.logger);
                    let mut pad = 40usize.saturating_sub(env.logger.chars().count());
                    const SPACES: &str = "                                        ";
                    while pad > 0 {
                        let k = pad.min(SPACES.len());
                        let _ = out.write_str(&SPACES[..k]);
                        pad -= k;
                    }
                    let _ = out.write_str(" : ");
                    msg.put_to(out);
                }
                _ => {
                    // Python logging: "%(asctime)s %(levelname)s [%(name)s] [trace_id=... span_id=...] %(message)s"
                    param(out, |o| write_iso_ms(o, env.ts, b' ', true));
                    text::text(out, (' ', env.level.python(), " [", env.logger, "] "));
                    if let Some((hi, lo, span)) = env.trace {
                        let _ = out.write_str("[trace_id=");
                        param(out, |o| write_trace(o, hi, lo));
                        let _ = out.write_str(" span_id=");
                        param(out, |o| text::hex16(o, span));
                        let _ = out.write_str("] ");
                    }
                    msg.put_to(out);
                }
            }
            let mut b = Body { out, json: false };
            fields(&mut b);
        }
    }
}
