//! Tracking codes in the UPU S10 form used by postal operators worldwide:
//! two service letters, an 8-digit serial, a check digit, and the ISO
//! country code — `PQ12345678 5CO` written without the space.
//!
//! The check digit catches every single-digit typo and most transpositions
//! at the counter, before a lookup ever reaches the store.

use std::fmt;

use serde::{Deserialize, Serialize};

/// S10 weights of the eight serial digits.
const WEIGHTS: [u32; 8] = [8, 6, 4, 2, 3, 5, 9, 7];

/// A parcel's tracking code, e.g. `PQ123456785CO`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TrackingCode(String);

/// Why a text is not a tracking code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TrackingCodeError {
    /// Not 13 characters of the form `AA00000000 0AA`.
    #[error("a tracking code has 2 letters, 9 digits and 2 letters, like PQ123456785CO")]
    Shape,
    /// The check digit does not match the serial.
    #[error("the check digit of this tracking code is wrong (a typo?)")]
    CheckDigit,
}

/// The S10 check digit of an 8-digit serial.
pub fn check_digit(serial: u32) -> u32 {
    let digits = format!("{serial:08}");
    let sum: u32 = digits
        .bytes()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    match 11 - sum % 11 {
        10 => 0,
        11 => 5,
        d => d,
    }
}

impl TrackingCode {
    /// The code of serial `serial` (below 100,000,000) for a service and
    /// country (two uppercase ASCII letters each).
    pub fn new(service: &str, serial: u32, country: &str) -> Result<Self, TrackingCodeError> {
        let two_letters = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_uppercase());
        if !two_letters(service) || !two_letters(country) || serial >= 100_000_000 {
            return Err(TrackingCodeError::Shape);
        }
        Ok(Self(format!(
            "{service}{serial:08}{}{country}",
            check_digit(serial)
        )))
    }

    /// Parses a code as typed at a counter: case and surrounding spaces are
    /// forgiven, the check digit is not.
    pub fn parse(raw: &str) -> Result<Self, TrackingCodeError> {
        let code: String = raw
            .trim()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_uppercase();
        let b = code.as_bytes();
        let shape = b.len() == 13
            && b[..2].iter().all(u8::is_ascii_uppercase)
            && b[2..11].iter().all(u8::is_ascii_digit)
            && b[11..].iter().all(u8::is_ascii_uppercase);
        if !shape {
            return Err(TrackingCodeError::Shape);
        }
        let serial: u32 = code[2..10].parse().map_err(|_| TrackingCodeError::Shape)?;
        if u32::from(b[10] - b'0') != check_digit(serial) {
            return Err(TrackingCodeError::CheckDigit);
        }
        Ok(Self(code))
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 8-digit serial.
    pub fn serial(&self) -> u32 {
        self.0[2..10].parse().unwrap_or(0)
    }
}

impl TryFrom<String> for TrackingCode {
    type Error = TrackingCodeError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<TrackingCode> for String {
    fn from(c: TrackingCode) -> Self {
        c.0
    }
}

impl fmt::Display for TrackingCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_digit_matches_the_upu_example() {
        // The S10 standard's worked example: RA 47312482 9 GB.
        assert_eq!(check_digit(47_312_482), 9);
        assert_eq!(
            TrackingCode::new("RR", 47_312_482, "CO").map(String::from),
            Ok("RR473124829CO".to_owned())
        );
    }

    #[test]
    fn parse_forgives_case_and_spaces_but_not_a_typo() {
        let code = TrackingCode::new("PQ", 1234, "CO").unwrap_or_else(|e| panic!("{e}"));
        let typed = format!(" {} ", code.as_str().to_lowercase());
        assert_eq!(TrackingCode::parse(&typed), Ok(code.clone()));
        let mut typo = code.as_str().to_owned();
        typo.replace_range(5..6, if &typo[5..6] == "9" { "8" } else { "9" });
        assert_eq!(
            TrackingCode::parse(&typo),
            Err(TrackingCodeError::CheckDigit)
        );
        assert_eq!(TrackingCode::parse("PQ12"), Err(TrackingCodeError::Shape));
    }

    #[test]
    fn every_single_digit_typo_is_caught() {
        let code = TrackingCode::new("PQ", 73_015_921, "CO").unwrap_or_else(|e| panic!("{e}"));
        for pos in 2..11 {
            for d in b'0'..=b'9' {
                let mut bytes = code.as_str().as_bytes().to_vec();
                if bytes[pos] == d {
                    continue;
                }
                bytes[pos] = d;
                let typo = String::from_utf8(bytes).unwrap_or_default();
                assert!(TrackingCode::parse(&typo).is_err(), "{typo} passed");
            }
        }
    }
}
