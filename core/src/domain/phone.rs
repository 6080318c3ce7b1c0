//! A phone number in E.164 form (`+573001234567`).

use std::fmt;

use serde::{Deserialize, Serialize};

/// A phone number in E.164 form: `+`, a country code that does not start
/// with 0, and 8 to 15 digits in all.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

impl Phone {
    /// Parses an E.164 number; spaces, dashes and parentheses are dropped first.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let compact: String = raw
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.'))
            .collect();
        let Some(digits) = compact.strip_prefix('+') else {
            return Err(format!(
                "phone {raw:?} must start with + and a country code (E.164)"
            ));
        };
        if !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!("phone {raw:?} may hold only digits after +"));
        }
        if !(8..=15).contains(&digits.len()) {
            return Err(format!("phone {raw:?} must have 8 to 15 digits"));
        }
        if digits.starts_with('0') {
            return Err(format!("phone {raw:?}: a country code never starts with 0"));
        }
        Ok(Self(compact))
    }

    /// The number with its leading `+`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Phone {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Phone> for String {
    fn from(p: Phone) -> Self {
        p.0
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_e164_with_separators() {
        assert_eq!(
            Phone::parse("+57 300 123-4567").map(|p| p.0),
            Ok("+573001234567".to_owned())
        );
    }

    #[test]
    fn parse_rejects_numbers_without_country_code() {
        assert!(Phone::parse("3001234567").is_err());
        assert!(Phone::parse("+0573001234567").is_err());
        assert!(Phone::parse("+57300abc4567").is_err());
        assert!(Phone::parse("+5712").is_err());
    }
}
