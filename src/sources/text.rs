//! Fast text writers for the hot rendering paths: integers, zero-padded integers, hex,
//! fixed-precision decimals, timestamps and UUIDs written straight into any
//! [`std::fmt::Write`] (an Arrow `StringBuilder`, a `String`) without the `core::fmt`
//! machinery. Every writer produces exactly the bytes of the `write!` it replaces (the
//! equivalent format spec is given on each); the tests check them against `format!`.

use crate::time::{Civil, Micros, civil};
use std::fmt::Write;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The two lowercase hex digits of every byte.
const HEX2: [[u8; 2]; 256] = {
    let mut t = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = [HEX[i >> 4], HEX[i & 0xf]];
        i += 1;
    }
    t
};

/// `{v:016x}` into 16 bytes.
#[inline]
fn hex16_bytes(b: &mut [u8], v: u64) {
    for (i, pair) in b.chunks_exact_mut(2).take(8).enumerate() {
        pair.copy_from_slice(&HEX2[(v >> (56 - 8 * i)) as u8 as usize]);
    }
}

/// Writes ASCII bytes (hex and decimal digits, separators this module fills in).
#[inline]
fn put<W: Write + ?Sized>(out: &mut W, b: &[u8]) {
    debug_assert!(b.is_ascii());
    if b.is_ascii() {
        // SAFETY: ASCII bytes are valid UTF-8. (`str::from_utf8` would check the same
        // thing, but out of line and a few times slower than writing the digits.)
        let _ = out.write_str(unsafe { std::str::from_utf8_unchecked(b) });
    }
}

/// A value that writes itself as text (what [`write!`] would print with `{}`).
pub trait Text {
    fn put_to<W: Write + ?Sized>(&self, out: &mut W);
}

impl Text for str {
    #[inline]
    fn put_to<W: Write + ?Sized>(&self, out: &mut W) {
        let _ = out.write_str(self);
    }
}

impl Text for String {
    #[inline]
    fn put_to<W: Write + ?Sized>(&self, out: &mut W) {
        let _ = out.write_str(self);
    }
}

impl<T: Text + ?Sized> Text for &T {
    #[inline]
    fn put_to<W: Write + ?Sized>(&self, out: &mut W) {
        (**self).put_to(out)
    }
}

impl Text for std::fmt::Arguments<'_> {
    #[inline]
    fn put_to<W: Write + ?Sized>(&self, out: &mut W) {
        let _ = out.write_fmt(*self);
    }
}

impl Text for char {
    #[inline]
    fn put_to<W: Write + ?Sized>(&self, out: &mut W) {
        let _ = out.write_char(*self);
    }
}

macro_rules! int_text {
    ($($t:ty),*) => {$(
        impl Text for $t {
            #[inline]
            fn put_to<W: Write + ?Sized>(&self, out: &mut W) {
                let mut b = itoa::Buffer::new();
                let _ = out.write_str(b.format(*self));
            }
        }
    )*};
}
int_text!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize);

macro_rules! tuple_text {
    ($($n:tt $t:ident),*) => {
        impl<$($t: Text),*> Text for ($($t,)*) {
            #[inline]
            fn put_to<W: Write + ?Sized>(&self, out: &mut W) {
                $(self.$n.put_to(out);)*
            }
        }
    };
}
tuple_text!(0 A, 1 B);
tuple_text!(0 A, 1 B, 2 C);
tuple_text!(0 A, 1 B, 2 C, 3 D);
tuple_text!(0 A, 1 B, 2 C, 3 D, 4 E);
tuple_text!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F);

/// `{:.N}` of an `f64` (`Fixed(x, N)`).
#[derive(Clone, Copy)]
pub struct Fixed(pub f64, pub u32);

impl Text for Fixed {
    #[inline]
    fn put_to<W: Write + ?Sized>(&self, out: &mut W) {
        fixed(out, self.0, self.1)
    }
}

/// `{:0W}` of an unsigned integer (`Pad(n, W)`).
#[derive(Clone, Copy)]
pub struct Pad(pub u64, pub usize);

impl Text for Pad {
    #[inline]
    fn put_to<W: Write + ?Sized>(&self, out: &mut W) {
        zpad(out, self.0, self.1)
    }
}

/// `{:0Nx}` of the low `N` nibbles (`Hex(v, N)`; the value must fit in `N` nibbles for
/// the two to agree).
#[derive(Clone, Copy)]
pub struct Hex(pub u64, pub usize);

impl Text for Hex {
    #[inline]
    fn put_to<W: Write + ?Sized>(&self, out: &mut W) {
        hex(out, self.0, self.1)
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` (`time::write_rfc3339(out, t, 0)`).
#[derive(Clone, Copy)]
pub struct IsoZ(pub Micros);

impl Text for IsoZ {
    #[inline]
    fn put_to<W: Write + ?Sized>(&self, out: &mut W) {
        datetime(out, &civil(self.0), b'T');
        let _ = out.write_char('Z');
    }
}

/// A parameter of a log template: written as its value, or as `<*>` (Loghub's variable
/// marker) while [`as_template`] renders the template's text. Everything a line writes
/// outside a `P` (or [`param`]) is the template's constant text.
#[derive(Clone, Copy)]
pub struct P<T>(pub T);

impl<T: Text> Text for P<T> {
    #[inline]
    fn put_to<W: Write + ?Sized>(&self, out: &mut W) {
        if templating() {
            let _ = out.write_str("<*>");
        } else {
            self.0.put_to(out)
        }
    }
}

thread_local! {
    static TEMPLATING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether this thread is rendering template text (see [`P`]).
#[inline]
pub fn templating() -> bool {
    TEMPLATING.with(|t| t.get())
}

/// Runs `f` with every parameter written as `<*>`: renderers called inside write the
/// template text of the line they would write.
pub fn as_template<R>(f: impl FnOnce() -> R) -> R {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            TEMPLATING.with(|t| t.set(self.0));
        }
    }
    let _reset = Reset(TEMPLATING.with(|t| t.replace(true)));
    f()
}

/// Writes a parameter with `write` (or `<*>` while templating).
#[inline]
pub fn param<W: Write + ?Sized>(out: &mut W, write: impl FnOnce(&mut W)) {
    if templating() {
        let _ = out.write_str("<*>");
    } else {
        write(out)
    }
}

/// Writes `s`.
#[inline]
pub fn text<W: Write + ?Sized>(out: &mut W, s: impl Text) {
    s.put_to(out)
}

/// `{}` of an integer.
#[inline]
pub fn uint<W: Write + ?Sized>(out: &mut W, n: impl itoa::Integer) {
    let mut b = itoa::Buffer::new();
    let _ = out.write_str(b.format(n));
}

/// The low `nibbles` (at most 16) nibbles of `v` as lowercase hex, most significant
/// first: `{:0Nx}` when `v < 16^N`.
#[inline]
pub fn hex<W: Write + ?Sized>(out: &mut W, v: u64, nibbles: usize) {
    let n = nibbles.min(16);
    let mut b = [0u8; 16];
    for (i, d) in b[..n].iter_mut().enumerate() {
        *d = HEX[((v >> ((n - 1 - i) * 4)) & 0xf) as usize];
    }
    put(out, &b[..n]);
}

/// `{v:016x}`.
#[inline]
pub fn hex16<W: Write + ?Sized>(out: &mut W, v: u64) {
    let mut b = [0u8; 16];
    hex16_bytes(&mut b, v);
    put(out, &b);
}

/// `{hi:016x}{lo:016x}`.
#[inline]
pub fn hex128<W: Write + ?Sized>(out: &mut W, hi: u64, lo: u64) {
    let mut b = [0u8; 32];
    hex16_bytes(&mut b[..16], hi);
    hex16_bytes(&mut b[16..], lo);
    put(out, &b);
}

/// `{n:0W}` for an unsigned integer: at least `width` digits, zero padded.
#[inline]
pub fn zpad<W: Write + ?Sized>(out: &mut W, n: u64, width: usize) {
    let mut b = itoa::Buffer::new();
    let s = b.format(n);
    const ZEROS: &str = "00000000000000000000000000000000";
    let mut pad = width.saturating_sub(s.len());
    while pad > 0 {
        let k = pad.min(ZEROS.len());
        let _ = out.write_str(&ZEROS[..k]);
        pad -= k;
    }
    let _ = out.write_str(s);
}

/// Two digits `{v:02}` for `v < 100`.
#[inline]
fn two(b: &mut [u8], v: u32) {
    b[0] = b'0' + (v / 10 % 10) as u8;
    b[1] = b'0' + (v % 10) as u8;
}

const POW10: [u64; 10] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
];

/// `{x:.prec}` of an `f64` (`prec` up to 9). Values whose correctly rounded result
/// cannot be decided from the product `x * 10^prec` (a near tie, a negative value, a
/// huge or non-finite one) go through `write!`, so the output is always the same.
#[inline]
pub fn fixed<W: Write + ?Sized>(out: &mut W, x: f64, prec: u32) {
    if prec as usize <= 9 && x.is_sign_positive() && x < 1e15 {
        let scale = POW10[prec as usize];
        let y = x * scale as f64;
        if y < 4e15 {
            let fl = y.floor();
            let frac = y - fl;
            // |y - x * 10^prec| <= y * 2^-53: the rounding of the exact product is the
            // rounding of y unless y is that close to a tie.
            let eps = y * (4.0 * f64::EPSILON) + 1e-300;
            if (frac - 0.5).abs() > eps {
                let r = if frac > 0.5 { fl as u64 + 1 } else { fl as u64 };
                let mut b = itoa::Buffer::new();
                let _ = out.write_str(b.format(r / scale));
                if prec > 0 {
                    let _ = out.write_char('.');
                    zpad(out, r % scale, prec as usize);
                }
                return;
            }
        }
    }
    let _ = write!(out, "{x:.*}", prec as usize);
}

/// `{:04}-{:02}-{:02}{sep}{:02}:{:02}:{:02}` of a civil time (years 0 to 9999).
#[inline]
pub fn datetime<W: Write + ?Sized>(out: &mut W, c: &Civil, sep: u8) {
    if !(0..=9999).contains(&c.year) {
        let _ = write!(
            out,
            "{:04}-{:02}-{:02}{}{:02}:{:02}:{:02}",
            c.year, c.month, c.day, sep as char, c.hour, c.minute, c.second
        );
        return;
    }
    let mut b = *b"0000-00-00T00:00:00";
    let y = c.year as u32;
    two(&mut b[0..2], y / 100);
    two(&mut b[2..4], y % 100);
    two(&mut b[5..7], c.month);
    two(&mut b[8..10], c.day);
    b[10] = sep;
    two(&mut b[11..13], c.hour);
    two(&mut b[14..16], c.minute);
    two(&mut b[17..19], c.second);
    put(out, &b);
}

/// `YYYY-MM-DD{sep}HH:MM:SS` then `{frac_sep}` and the fraction of the second in
/// `digits` digits (3: milliseconds, 6: microseconds; 0: none, no separator).
#[inline]
pub fn timestamp<W: Write + ?Sized>(out: &mut W, t: Micros, sep: u8, frac_sep: char, digits: u32) {
    let c = civil(t);
    datetime(out, &c, sep);
    match digits {
        0 => {}
        3 => {
            let _ = out.write_char(frac_sep);
            zpad(out, (c.micros / 1000) as u64, 3);
        }
        _ => {
            let _ = out.write_char(frac_sep);
            zpad(out, c.micros as u64, 6);
        }
    }
}

/// `{:08x}-{:04x}-{:04x}-{:04x}-{:012x}` of a 128-bit value, the UUID layout.
#[inline]
pub fn uuid_parts<W: Write + ?Sized>(out: &mut W, hi: u64, lo: u64) {
    let mut b = [b'-'; 36];
    let mut w = |at: usize, v: u64, n: usize| {
        for i in 0..n {
            b[at + i] = HEX[((v >> ((n - 1 - i) * 4)) & 0xf) as usize];
        }
    };
    w(0, hi >> 32, 8);
    w(9, (hi >> 16) & 0xffff, 4);
    w(14, hi & 0xffff, 4);
    w(19, lo >> 48, 4);
    w(24, lo & 0xffff_ffff_ffff, 12);
    put(out, &b);
}

/// The version-4 UUID derived from a key, as `world::pods::uuid_from` and the Lambda
/// request ids (`cloudwatch::model::write_uuid`) write it.
#[inline]
pub fn uuid_from_key<W: Write + ?Sized>(out: &mut W, key: u64) {
    use crate::rng::mix64;
    let hi = mix64(key ^ 0xa5a5_a5a5);
    let lo = mix64(key ^ 0x5a5a_5a5a);
    let hi = (hi & 0xffff_ffff_ffff_0fff) | 0x0000_0000_0000_4000;
    let lo = (lo & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    uuid_parts(out, hi, lo)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    fn s(f: impl FnOnce(&mut String)) -> String {
        let mut o = String::new();
        f(&mut o);
        o
    }

    #[test]
    fn fixed_matches_format() {
        let mut r = Rng::new(3);
        let mut vals: Vec<f64> = vec![
            0.0,
            -0.0,
            0.5,
            1.5,
            2.5,
            0.125,
            0.375,
            1e-9,
            0.05,
            0.15,
            0.25,
            0.35,
            1.005,
            2.675,
            1e14,
            9.999_999_9e14,
            1e15,
            1e300,
            -1.25,
            f64::NAN,
            f64::INFINITY,
            0.0005,
            0.0015,
            123.4565,
            999.9995,
        ];
        for _ in 0..200_000 {
            let e = r.range_f64(-6.0, 9.0);
            vals.push(10f64.powf(e) * r.f64());
            vals.push(r.lognormal(120.0, 0.7));
            vals.push((r.below(1_000_000) as f64) / 1000.0);
            vals.push((r.below(1_000_000) as f64) / 1e6);
            vals.push(r.below(100_000) as f64 / 8.0);
        }
        for &x in &vals {
            for p in 0..=6u32 {
                let want = format!("{x:.*}", p as usize);
                assert_eq!(s(|o| fixed(o, x, p)), want, "{x:e} .{p}");
            }
        }
    }

    #[test]
    fn integers_hex_and_times_match_format() {
        let mut r = Rng::new(5);
        for _ in 0..100_000 {
            let v = r.next_u64() >> r.below(64);
            let w = r.index(22);
            assert_eq!(s(|o| zpad(o, v, w)), format!("{v:0w$}"));
            assert_eq!(s(|o| uint(o, v)), v.to_string());
            assert_eq!(s(|o| hex16(o, v)), format!("{v:016x}"));
            let n = 1 + r.index(16);
            let m = if n == 16 {
                v
            } else {
                v & ((1u64 << (4 * n)) - 1)
            };
            assert_eq!(s(|o| hex(o, m, n)), format!("{m:0n$x}"));
            let lo = r.next_u64();
            assert_eq!(s(|o| hex128(o, v, lo)), format!("{v:016x}{lo:016x}"));
            let t = (r.below(4_000_000_000) as i64) * 1_000_000 + r.below(1_000_000) as i64;
            let c = civil(t);
            assert_eq!(
                s(|o| timestamp(o, t, b'T', '.', 6)),
                format!(
                    "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}",
                    c.year, c.month, c.day, c.hour, c.minute, c.second, c.micros
                )
            );
            assert_eq!(
                s(|o| timestamp(o, t, b' ', ',', 3)),
                format!(
                    "{:04}-{:02}-{:02} {:02}:{:02}:{:02},{:03}",
                    c.year,
                    c.month,
                    c.day,
                    c.hour,
                    c.minute,
                    c.second,
                    c.micros / 1000
                )
            );
            assert_eq!(s(|o| text(o, IsoZ(t))), crate::time::rfc3339_string(t));
            assert_eq!(s(|o| uuid_from_key(o, v)), crate::world::pods::uuid_from(v));
        }
        assert_eq!(
            s(|o| text(o, ("a", 1u32, Fixed(2.25, 1), Pad(7, 3), Hex(255, 4)))),
            format!("a{}{:.1}{:03}{:04x}", 1, 2.25, 7, 255)
        );
    }
}
