//! Log line envelopes: how each language's logger lays out a line (JSON or text), written
//! straight into the message column's buffer.

use crate::config::Language;
use crate::time::{Micros, civil};
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

/// Writes a 32-hex trace id and a 16-hex span id.
pub fn write_trace(out: &mut impl Write, hi: u64, lo: u64) {
    let _ = write!(out, "{hi:016x}{lo:016x}");
}

fn write_iso_ms(out: &mut impl Write, ts: Micros, sep: char, comma: bool) {
    let c = civil(ts);
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}{sep}{:02}:{:02}:{:02}{}{:03}",
        c.year,
        c.month,
        c.day,
        c.hour,
        c.minute,
        c.second,
        if comma { ',' } else { '.' },
        c.micros / 1000
    );
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
    pub fn field(&mut self, key: &str, value: impl std::fmt::Display) -> &mut Self {
        if self.json {
            let _ = write!(self.out, ",\"{key}\":{value}");
        } else {
            let _ = write!(self.out, " {key}={value}");
        }
        self
    }

    /// A string field (quoted in JSON).
    #[inline]
    pub fn str_field(&mut self, key: &str, value: impl std::fmt::Display) -> &mut Self {
        if self.json {
            let _ = write!(self.out, ",\"{key}\":\"{value}\"");
        } else {
            let _ = write!(self.out, " {key}={value}");
        }
        self
    }

    /// Raw text appended to the message (text style only; ignored in JSON).
    #[inline]
    pub fn text(&mut self, s: impl std::fmt::Display) -> &mut Self {
        if !self.json {
            let _ = write!(self.out, "{s}");
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
    msg: impl std::fmt::Display,
    fields: impl FnOnce(&mut Body<W>),
) {
    match env.style {
        LogStyle::Json => {
            match env.lang {
                Language::Go => {
                    let _ = write!(
                        out,
                        "{{\"level\":\"{}\",\"ts\":{}.{:06},\"caller\":\"{}\",\"msg\":\"{msg}\"",
                        env.level.as_str(),
                        env.ts.div_euclid(1_000_000),
                        env.ts.rem_euclid(1_000_000),
                        env.logger
                    );
                    if let Some((hi, lo, span)) = env.trace {
                        let _ = write!(out, ",\"trace_id\":\"");
                        write_trace(out, hi, lo);
                        let _ = write!(out, "\",\"span_id\":\"{span:016x}\"");
                    }
                }
                Language::Node => {
                    let _ = write!(
                        out,
                        "{{\"level\":{},\"time\":{},\"pid\":1,\"hostname\":\"{}\",\"name\":\"{}\",\"msg\":\"{msg}\"",
                        env.level.pino(),
                        env.ts.div_euclid(1000),
                        env.pod,
                        env.service
                    );
                    if let Some((hi, lo, span)) = env.trace {
                        let _ = write!(out, ",\"trace_id\":\"");
                        write_trace(out, hi, lo);
                        let _ =
                            write!(out, "\",\"span_id\":\"{span:016x}\",\"trace_flags\":\"01\"");
                    }
                }
                Language::Python => {
                    let _ = write!(
                        out,
                        "{{\"event\":\"{msg}\",\"level\":\"{}\",\"logger\":\"{}\",\"timestamp\":\"",
                        env.level.as_str(),
                        env.logger
                    );
                    let c = civil(env.ts);
                    let _ = write!(
                        out,
                        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z\"",
                        c.year, c.month, c.day, c.hour, c.minute, c.second, c.micros
                    );
                    if let Some((hi, lo, span)) = env.trace {
                        let _ = write!(out, ",\"trace_id\":\"");
                        write_trace(out, hi, lo);
                        let _ = write!(out, "\",\"span_id\":\"{span:016x}\"");
                    }
                }
                Language::Java => {
                    let _ = write!(out, "{{\"@timestamp\":\"");
                    write_iso_ms(out, env.ts, 'T', false);
                    let _ = write!(
                        out,
                        "Z\",\"@version\":\"1\",\"message\":\"{msg}\",\"logger_name\":\"{}\",\"thread_name\":\"default-nioEventLoopGroup-1-{}\",\"level\":\"{}\",\"level_value\":{}",
                        env.logger,
                        1 + env.thread % 8,
                        env.level.upper(),
                        10_000 + 10_000 * (env.level as u32)
                    );
                    if let Some((hi, lo, span)) = env.trace {
                        let _ = write!(out, ",\"traceId\":\"");
                        write_trace(out, hi, lo);
                        let _ = write!(out, "\",\"spanId\":\"{span:016x}\"");
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
                    write_iso_ms(out, env.ts, 'T', false);
                    let _ = write!(
                        out,
                        "Z {:>5} 1 --- [{}] [nio-8080-exec-{}] ",
                        env.level.upper(),
                        env.service,
                        1 + env.thread % 10
                    );
                    match env.trace {
                        Some((hi, lo, span)) => {
                            let _ = out.write_char('[');
                            write_trace(out, hi, lo);
                            let _ = write!(out, "-{span:016x}] ");
                        }
                        None => {
                            let _ =
                                write!(out, "[                                                 ] ");
                        }
                    }
                    let _ = write!(out, "{:<40} : {msg}", env.logger);
                }
                _ => {
                    // Python logging: "%(asctime)s %(levelname)s [%(name)s] [trace_id=... span_id=...] %(message)s"
                    write_iso_ms(out, env.ts, ' ', true);
                    let _ = write!(out, " {} [{}] ", env.level.python(), env.logger);
                    if let Some((hi, lo, span)) = env.trace {
                        let _ = write!(out, "[trace_id=");
                        write_trace(out, hi, lo);
                        let _ = write!(out, " span_id={span:016x}] ");
                    }
                    let _ = write!(out, "{msg}");
                }
            }
            let mut b = Body { out, json: false };
            fields(&mut b);
        }
    }
}
