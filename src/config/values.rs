//! Validated scalar types: range checks happen while parsing, so the error carries the
//! key path and line of the bad value.

use serde::{Deserialize, Deserializer, de::Error as _};

/// A finite number ≥ 0.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, serde::Serialize)]
#[serde(transparent)]
pub struct NonNeg(pub f64);

impl<'de> Deserialize<'de> for NonNeg {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = f64::deserialize(d)?;
        if !v.is_finite() {
            return Err(D::Error::custom(format!("{v} is not a finite number")));
        }
        if v < 0.0 {
            return Err(D::Error::custom(format!("must not be negative, got {v}")));
        }
        Ok(NonNeg(v))
    }
}

/// A finite number in `[0, 1]` (default 0).
#[derive(Debug, Clone, Copy, Default, PartialEq, PartialOrd, serde::Serialize)]
#[serde(transparent)]
pub struct Fraction(pub f64);

impl<'de> Deserialize<'de> for Fraction {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = f64::deserialize(d)?;
        if !(0.0..=1.0).contains(&v) {
            return Err(D::Error::custom(format!(
                "must be between 0 and 1, got {v}"
            )));
        }
        Ok(Fraction(v))
    }
}

/// A finite number > 0.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, serde::Serialize)]
#[serde(transparent)]
pub struct Positive(pub f64);

impl<'de> Deserialize<'de> for Positive {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = f64::deserialize(d)?;
        if !(v.is_finite() && v > 0.0) {
            return Err(D::Error::custom(format!("must be greater than 0, got {v}")));
        }
        Ok(Positive(v))
    }
}

/// An inclusive `{min, max}` range of non-negative numbers with `min <= max`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Range {
    pub min: f64,
    pub max: f64,
}

impl<'de> Deserialize<'de> for Range {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            min: NonNeg,
            max: NonNeg,
        }
        let r = Raw::deserialize(d)?;
        if r.min.0 > r.max.0 {
            return Err(D::Error::custom(format!(
                "min ({}) is greater than max ({})",
                r.min.0, r.max.0
            )));
        }
        Ok(Range {
            min: r.min.0,
            max: r.max.0,
        })
    }
}
