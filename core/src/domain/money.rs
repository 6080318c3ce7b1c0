//! Amounts of money in integer minor units, and weights in grams.
//!
//! Never floats: a fee computed twice must be the same to the unit, and sums
//! over thousands of parcels must not drift.

use std::fmt;
use std::ops::{Add, Sub};

use serde::{Deserialize, Serialize};

/// An amount in minor units of the deployment's currency (centavos of the
/// Colombian peso by default). May be negative for refunds.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Money(pub i64);

impl Money {
    /// Zero.
    pub const ZERO: Self = Self(0);

    /// `units` whole units (pesos).
    pub fn units(units: i64) -> Self {
        Self(units.saturating_mul(100))
    }

    /// The amount in minor units.
    pub fn minor(self) -> i64 {
        self.0
    }

    /// `self × n`, saturating.
    pub fn times(self, n: i64) -> Self {
        Self(self.0.saturating_mul(n))
    }

    /// `self × num / den`, rounded half up (a per-kg price over grams).
    pub fn mul_ratio(self, num: i64, den: i64) -> Self {
        if den == 0 {
            return Self::ZERO;
        }
        let p = i128::from(self.0) * i128::from(num);
        let d = i128::from(den);
        let q = (2 * p + d) / (2 * d);
        Self(i64::try_from(q).unwrap_or(if q > 0 { i64::MAX } else { i64::MIN }))
    }
}

impl Add for Money {
    type Output = Self;
    fn add(self, rhs: Self) -> Self {
        Self(self.0.saturating_add(rhs.0))
    }
}

impl Sub for Money {
    type Output = Self;
    fn sub(self, rhs: Self) -> Self {
        Self(self.0.saturating_sub(rhs.0))
    }
}

impl std::iter::Sum for Money {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        iter.fold(Self::ZERO, Add::add)
    }
}

/// `n` with a `.` between thousands, as Colombians write it: `12.500`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push('.');
        }
        grouped.push(c);
    }
    grouped
}

impl fmt::Display for Money {
    /// `$ 12.500,50` (Colombian style: `.` thousands, `,` decimals).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let (units, cents) = (abs / 100, abs % 100);
        let grouped = thousands(units);
        if cents == 0 {
            write!(f, "{sign}$ {grouped}")
        } else {
            write!(f, "{sign}$ {grouped},{cents:02}")
        }
    }
}

/// A weight in grams.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Grams(pub u32);

impl Grams {
    /// Kilograms, rounded up to the next whole kilogram (how couriers bill).
    pub fn billable_kg(self) -> u32 {
        self.0.div_ceil(1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_prints_in_colombian_style() {
        assert_eq!(Money::units(12_500).to_string(), "$ 12.500");
        assert_eq!(Money(1_250_050).to_string(), "$ 12.500,50");
        assert_eq!(Money::units(-3).to_string(), "-$ 3");
        assert_eq!(Money::units(1_000_000).to_string(), "$ 1.000.000");
    }

    #[test]
    fn mul_ratio_rounds_half_up_without_drift() {
        // 1,500 g at $ 2.000 per kg is $ 3.000 exactly.
        assert_eq!(Money::units(2000).mul_ratio(1500, 1000), Money::units(3000));
        assert_eq!(Money(3).mul_ratio(1, 2), Money(2));
        assert_eq!(Money(1).mul_ratio(1, 0), Money::ZERO);
    }

    #[test]
    fn billable_weight_rounds_up_to_whole_kilograms() {
        assert_eq!(Grams(1).billable_kg(), 1);
        assert_eq!(Grams(1000).billable_kg(), 1);
        assert_eq!(Grams(1001).billable_kg(), 2);
        assert_eq!(Grams(0).billable_kg(), 0);
    }
}
