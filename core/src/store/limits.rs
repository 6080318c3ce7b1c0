//! How long the text a client sends may be. Every text field has a bound,
//! checked before any database work: a name of a million characters (or of
//! thousands of words, which the name search indexes in pairs) is refused
//! at once, naming the field, instead of holding the store's write lock.

use super::model::{NewCustomer, NewParcel, NewTariff};

/// A person's full name: characters.
pub const NAME_CHARS: usize = 120;
/// A person's full name: words (the name search indexes each pair).
pub const NAME_WORDS: usize = 12;
/// An address: characters.
pub const ADDRESS_CHARS: usize = 300;
/// An email address (RFC 5321's limit).
pub const EMAIL_CHARS: usize = 254;
/// An identity document number.
pub const DOCUMENT_CHARS: usize = 40;
/// A package type or a zone.
pub const CODE_CHARS: usize = 40;
/// A parcel's side, in millimetres (10 m).
pub const SIDE_MM: i64 = 10_000;
/// A tariff's free storage, in hours (a year).
pub const GRACE_HOURS: i64 = 24 * 366;

/// One field over its bound (or empty where it may not be): the field's
/// path (`sender.name`) and what is wrong.
pub type Problem = (String, String);

pub(super) fn too_long(out: &mut Vec<Problem>, field: String, value: &str, max: usize) {
    let n = value.chars().count();
    if n > max {
        out.push((field, format!("must be at most {max} characters, got {n}")));
    }
}

impl NewCustomer {
    /// What is wrong with this customer's text fields, each field named
    /// under `prefix` (`sender`, or empty for the customer alone).
    pub fn problems(&self, prefix: &str) -> Vec<Problem> {
        let at = |f: &str| {
            if prefix.is_empty() {
                f.to_owned()
            } else {
                format!("{prefix}.{f}")
            }
        };
        let mut out = Vec::new();
        if self.name.trim().is_empty() {
            out.push((at("name"), "must not be empty".to_owned()));
        }
        too_long(&mut out, at("name"), &self.name, NAME_CHARS);
        let words = self.name.split_whitespace().count();
        if words > NAME_WORDS && self.name.chars().count() <= NAME_CHARS {
            out.push((
                at("name"),
                format!("must have at most {NAME_WORDS} words, got {words}"),
            ));
        }
        too_long(&mut out, at("address"), &self.address, ADDRESS_CHARS);
        if let Some(email) = &self.email {
            too_long(&mut out, at("email"), email, EMAIL_CHARS);
        }
        if let Some(document) = &self.document {
            too_long(&mut out, at("document"), document, DOCUMENT_CHARS);
        }
        out
    }
}

impl NewParcel {
    /// What is wrong with this parcel and its customers, every field named
    /// (`recipient.name`, `zone`…): text bounds, a weight, an address for a
    /// home delivery, amounts and sizes.
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        if self.service == crate::domain::Service::HomeDelivery
            && self.delivery_address.trim().is_empty()
        {
            out.push((
                "delivery_address".to_owned(),
                "is required for home delivery".to_owned(),
            ));
        }
        out.extend(self.sender.problems("sender"));
        out.extend(self.recipient.problems("recipient"));
        too_long(
            &mut out,
            "delivery_address".to_owned(),
            &self.delivery_address,
            ADDRESS_CHARS,
        );
        too_long(
            &mut out,
            "package_type".to_owned(),
            &self.package_type,
            CODE_CHARS,
        );
        too_long(&mut out, "zone".to_owned(), &self.zone, CODE_CHARS);
        parcel_numbers(
            &mut out,
            Some(self.weight),
            Some(self.dimensions_mm),
            [
                ("declared_value", Some(self.declared_value)),
                ("cod_amount", Some(self.cod_amount)),
            ],
        );
        out
    }
}

/// The bounds of a parcel's numbers, for those given: a weight above 0,
/// each side 0 to [`SIDE_MM`], amounts not negative. Registration and
/// correction judge them alike.
pub(super) fn parcel_numbers(
    out: &mut Vec<Problem>,
    weight: Option<crate::domain::Grams>,
    dimensions_mm: Option<[i64; 3]>,
    amounts: [(&str, Option<crate::domain::Money>); 2],
) {
    if weight.is_some_and(|w| w.0 == 0) {
        out.push(("weight_grams".to_owned(), "must be above 0".to_owned()));
    }
    if dimensions_mm.is_some_and(|d| d.iter().any(|side| !(0..=SIDE_MM).contains(side))) {
        out.push((
            "dimensions_mm".to_owned(),
            format!("each side must be 0 to {SIDE_MM} mm"),
        ));
    }
    for (field, value) in amounts {
        if value.is_some_and(|v| v.0 < 0) {
            out.push((field.to_owned(), "must not be negative".to_owned()));
        }
    }
}

impl NewTariff {
    /// What is wrong with this tariff line, every field named: no negative
    /// price or fee, a weight band that is one, free storage within a year
    /// (so its hours never overflow as milliseconds), a validity that ends
    /// after it starts.
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        for (field, value) in [("package_type", &self.package_type), ("zone", &self.zone)] {
            if value.trim().is_empty() {
                out.push((field.to_owned(), "must not be empty".to_owned()));
            }
            too_long(&mut out, field.to_owned(), value, CODE_CHARS);
        }
        if self.min_grams > self.max_grams {
            out.push((
                "max_grams".to_owned(),
                "must not be below min_grams".to_owned(),
            ));
        }
        for (field, value) in [
            ("base_price", self.base_price.0),
            ("per_kg_price", self.per_kg_price.0),
            ("storage_fee_per_day", self.storage_fee_per_day.0),
            ("cod_fee", self.cod_fee.0),
        ] {
            if value < 0 {
                out.push((field.to_owned(), "must not be negative".to_owned()));
            }
        }
        if !(0..=GRACE_HOURS).contains(&self.storage_grace_hours) {
            out.push((
                "storage_grace_hours".to_owned(),
                format!("must be 0 to {GRACE_HOURS} hours"),
            ));
        }
        if self.valid_to_ms.is_some_and(|to| to <= self.valid_from_ms) {
            out.push((
                "valid_to_ms".to_owned(),
                "must be after valid_from_ms".to_owned(),
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::domain::Phone;

    fn customer(name: &str) -> NewCustomer {
        NewCustomer {
            phone: Phone::parse("+573001234567").unwrap(),
            name: name.to_owned(),
            email: None,
            document: None,
            address: String::new(),
        }
    }

    #[test]
    fn a_name_over_its_bounds_is_named_under_its_prefix() {
        assert!(
            customer("Ana María Gómez de la Torre")
                .problems("")
                .is_empty()
        );
        let long = "a".repeat(NAME_CHARS + 1);
        let p = customer(&long).problems("sender");
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].0, "sender.name");
        let many: Vec<String> = (0..13).map(|i| format!("w{i}")).collect();
        let p = customer(&many.join(" ")).problems("recipient");
        assert_eq!(p[0].0, "recipient.name");
        assert!(p[0].1.contains("words"), "{p:?}");
        assert_eq!(customer("  ").problems("")[0].1, "must not be empty");
    }
}
