//! Name search: the words of the sender's and recipient's names, folded so
//! that a clerk finds "Muñoz" by typing "munoz" and "Díaz" by "DIAZ".
//!
//! Every parcel keeps those words in `parcels.search_text` (written with the
//! parcel, rewritten when a customer's name changes); SQLite indexes them
//! with FTS5 (prefix indexes up to 16 characters; for several words, every
//! pair of a parcel's words in a second FTS5 table, migration 0007),
//! PostgreSQL with a GIN
//! index over every prefix of every word (migration 0006), for one
//! search word alone a B-tree of (word, parcel) kept by a trigger
//! (migration 0007), and for several words a GIN index of every pair of a
//! parcel's words (migration 0008). A search word matches a name word that
//! starts with it; every word must match.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;
use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};

/// The words of `text` as name search compares them: lower case, accents
/// dropped (á → a, ñ → n), split at anything that is not a letter or a
/// number (as SQLite's `unicode61` tokenizer splits, so that a word is
/// never split again into a phrase there).
pub fn search_words(text: &str) -> Vec<String> {
    let lower: String = text.chars().flat_map(char::to_lowercase).collect();
    let folded: String = lower.nfd().filter(|c| !is_combining_mark(*c)).collect();
    folded
        .split(|c: char| {
            !matches!(
                c.general_category_group(),
                GeneralCategoryGroup::Letter | GeneralCategoryGroup::Number
            )
        })
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// What `parcels.search_text` holds for a sender and a recipient.
pub fn parcel_search_text(sender: &str, recipient: &str) -> String {
    let mut words = search_words(sender);
    words.extend(search_words(recipient));
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_folded_and_split() {
        assert_eq!(
            search_words("Carolina DÍAZ Muñoz"),
            ["carolina", "diaz", "munoz"]
        );
        assert_eq!(
            search_words("Ana_María  O'Neill-Pérez"),
            ["ana", "maria", "o", "neill", "perez"]
        );
        assert_eq!(search_words("100% Envíos"), ["100", "envios"]);
        assert_eq!(search_words(" %_ "), Vec::<String>::new());
        // decomposed input folds the same as composed
        assert_eq!(search_words("Jose\u{301}"), ["jose"]);
        // lower case first: İ lowers to i and a combining dot
        assert_eq!(search_words("İSTANBUL"), ["istanbul"]);
        // symbols split words, as SQLite's tokenizer splits them
        assert_eq!(search_words("Ⓐna★Ruiz"), ["na", "ruiz"]);
    }

    #[test]
    fn a_parcel_keeps_both_names() {
        assert_eq!(
            parcel_search_text("Óscar Ruiz", "Ana Pérez"),
            "oscar ruiz ana perez"
        );
    }
}
