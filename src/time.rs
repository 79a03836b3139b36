//! Time: microsecond timestamps, hour partitions and fast ISO-8601 formatting.

use std::fmt::Write as _;

/// Microseconds since the Unix epoch, UTC.
pub type Micros = i64;

pub const SECOND: Micros = 1_000_000;
pub const MINUTE: Micros = 60 * SECOND;
pub const HOUR: Micros = 60 * MINUTE;
pub const DAY: Micros = 24 * HOUR;

/// A civil date and time of day in UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Civil {
    pub year: i32,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub micros: u32,
}

/// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
pub fn civil_from_days(z: i64) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    ((if m <= 2 { y + 1 } else { y }) as i32, m, d)
}

pub fn civil(t: Micros) -> Civil {
    let days = t.div_euclid(DAY);
    let rem = t.rem_euclid(DAY);
    let (year, month, day) = civil_from_days(days);
    let secs = rem / SECOND;
    Civil {
        year,
        month,
        day,
        hour: (secs / 3600) as u32,
        minute: ((secs / 60) % 60) as u32,
        second: (secs % 60) as u32,
        micros: (rem % SECOND) as u32,
    }
}

/// Day of week, 0 = Monday.
pub fn weekday(t: Micros) -> u32 {
    // 1970-01-01 was a Thursday (3 when Monday is 0).
    ((t.div_euclid(DAY) + 3).rem_euclid(7)) as u32
}

/// Seconds-of-day fraction in hours (0.0..24.0).
pub fn hour_of_day(t: Micros) -> f64 {
    t.rem_euclid(DAY) as f64 / HOUR as f64
}

#[inline]
fn push2(out: &mut String, v: u32) {
    out.push((b'0' + (v / 10) as u8) as char);
    out.push((b'0' + (v % 10) as u8) as char);
}

/// `YYYY-MM-DDTHH:MM:SS`
pub fn write_datetime(out: &mut String, c: &Civil, sep: char) {
    let _ = write!(out, "{:04}", c.year);
    out.push('-');
    push2(out, c.month);
    out.push('-');
    push2(out, c.day);
    out.push(sep);
    push2(out, c.hour);
    out.push(':');
    push2(out, c.minute);
    out.push(':');
    push2(out, c.second);
}

/// RFC 3339 with a fractional part of `digits` (0, 3, 6 or 9 digits, 9 padding with zeros) and `Z`.
pub fn write_rfc3339(out: &mut String, t: Micros, digits: u32) {
    let c = civil(t);
    write_datetime(out, &c, 'T');
    match digits {
        0 => {}
        3 => {
            let _ = write!(out, ".{:03}", c.micros / 1000);
        }
        6 => {
            let _ = write!(out, ".{:06}", c.micros);
        }
        _ => {
            let _ = write!(out, ".{:06}000", c.micros);
        }
    }
    out.push('Z');
}

/// `2026-11-28`
pub fn date_string(t: Micros) -> String {
    let c = civil(t);
    format!("{:04}-{:02}-{:02}", c.year, c.month, c.day)
}

pub fn rfc3339_string(t: Micros) -> String {
    let mut s = String::with_capacity(32);
    write_rfc3339(&mut s, t, 0);
    s
}

/// Truncates to the hour.
pub fn floor_hour(t: Micros) -> Micros {
    t - t.rem_euclid(HOUR)
}

/// Truncates to the day.
pub fn floor_day(t: Micros) -> Micros {
    t - t.rem_euclid(DAY)
}

/// The latest of `ends[..=k]` at each k: over intervals sorted by start, the ones of the
/// first `hi` that still run after an instant `a` are those from
/// [`first_ending_after`]`(latest, hi, a)` on (the running maximum never decreases),
/// found without a scan of everything before.
pub fn latest_so_far(ends: impl Iterator<Item = Micros>) -> Vec<Micros> {
    let mut latest = Micros::MIN;
    ends.map(|e| {
        latest = latest.max(e);
        latest
    })
    .collect()
}

/// The first k < `hi` whose running maximum of ends (see [`latest_so_far`]) is after `a`;
/// every interval before it has ended by `a`.
pub fn first_ending_after(latest: &[Micros], hi: usize, a: Micros) -> usize {
    latest[..hi].partition_point(|&e| e <= a)
}

/// Parses an RFC 3339 instant (`2026-11-23T08:00:00Z`, any offset) or a plain date
/// (`2026-11-23`, midnight UTC) into microseconds.
pub fn parse_instant(s: &str) -> Option<Micros> {
    let s = s.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_micros());
    }
    if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S") {
        return Some(t.and_utc().timestamp_micros());
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_micros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_chrono() {
        let t = 1_764_318_729_123_456; // 2025-11-28T08:32:09.123456Z
        let mut s = String::new();
        write_rfc3339(&mut s, t, 6);
        assert_eq!(s, "2025-11-28T08:32:09.123456Z");
        s.clear();
        write_rfc3339(&mut s, t, 9);
        assert_eq!(s, "2025-11-28T08:32:09.123456000Z");
        s.clear();
        write_rfc3339(&mut s, t, 3);
        assert_eq!(s, "2025-11-28T08:32:09.123Z");
        for &t in &[
            0i64,
            951_782_400_000_000,
            4_107_542_400_000_000,
            1_709_164_800_000_000,
        ] {
            let c = chrono::DateTime::from_timestamp_micros(t).expect("valid");
            let mut s = String::new();
            write_rfc3339(&mut s, t, 6);
            assert_eq!(s, c.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string());
        }
        assert_eq!(weekday(1_764_318_729_123_456), 4); // a Friday
        assert_eq!(date_string(t), "2025-11-28");
    }
}
