//! The UI's languages: every string a page shows comes from the catalog of
//! the reader's language (`app/locales/es.yml`, `en.yml`, compiled into the
//! binary). Spanish (Colombia) is the business's language and the default;
//! English is chosen by the browser's `Accept-Language`.

use axum::http::{HeaderMap, header};

/// A language the UI speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Lang {
    /// Spanish (Colombia).
    #[default]
    Es,
    /// English.
    En,
}

impl Lang {
    /// Every language, the default first.
    pub const ALL: [Lang; 2] = [Lang::Es, Lang::En];

    /// Its catalog's name and the page's `lang` attribute.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Es => "es",
            Lang::En => "en",
        }
    }

    /// The language whose catalog is named `code` (`es`, `en`), if the UI
    /// speaks it.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|l| l.code().eq_ignore_ascii_case(code))
    }

    /// The language of `Accept-Language`: the first listed (by weight) that
    /// the UI speaks, or Spanish.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let Some(value) = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
        else {
            return Self::default();
        };
        let mut ranges: Vec<(f32, &str)> = value
            .split(',')
            .filter_map(|part| {
                let mut it = part.split(';');
                let tag = it.next()?.trim();
                let q = it
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .and_then(|q| q.parse::<f32>().ok())
                    .unwrap_or(1.0);
                (!tag.is_empty() && q > 0.0).then_some((q, tag))
            })
            .collect();
        // Stable: equal weights keep the order the browser gave.
        ranges.sort_by(|a, b| b.0.total_cmp(&a.0));
        ranges
            .iter()
            .find_map(|(_, tag)| {
                let primary = tag.split('-').next().unwrap_or(tag);
                Self::ALL
                    .into_iter()
                    .find(|l| primary.eq_ignore_ascii_case(l.code()))
            })
            .unwrap_or_default()
    }

    /// The string `key` of this language's catalog.
    pub fn t(self, key: &str) -> String {
        rust_i18n::t!(key, locale = self.code()).into_owned()
    }

    /// The string `key` with `%{name}` replaced by `value`.
    pub fn t_with(self, key: &str, name: &str, value: &str) -> String {
        self.t(key).replace(&format!("%{{{name}}}"), value)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn accept(v: &str) -> Lang {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_LANGUAGE, v.parse().unwrap());
        Lang::from_headers(&h)
    }

    #[test]
    fn the_browsers_language_is_chosen_when_the_ui_speaks_it() {
        assert_eq!(Lang::from_headers(&HeaderMap::new()), Lang::Es);
        assert_eq!(accept("en-US,en;q=0.9"), Lang::En);
        assert_eq!(accept("es-CO,es;q=0.9,en;q=0.8"), Lang::Es);
        assert_eq!(accept("fr-FR, en;q=0.5"), Lang::En);
        assert_eq!(accept("de, fr"), Lang::Es);
        assert_eq!(accept("en;q=0.2, es;q=0.8"), Lang::Es);
        assert_eq!(accept("en;q=0"), Lang::Es);
    }

    /// The keys of a catalog file, flattened (`sign_in.title`).
    fn keys(yaml: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut path: Vec<(usize, String)> = Vec::new();
        for line in yaml.lines() {
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let indent = line.len() - trimmed.len();
            let Some((key, value)) = trimmed.split_once(':') else {
                continue;
            };
            path.retain(|(i, _)| *i < indent);
            if value.trim().is_empty() {
                path.push((indent, key.to_owned()));
            } else {
                let mut full: Vec<&str> = path.iter().map(|(_, k)| k.as_str()).collect();
                full.push(key);
                out.push(full.join("."));
            }
        }
        out.sort();
        out
    }

    #[test]
    fn both_catalogs_have_the_same_keys_and_every_key_a_page_uses() {
        let es = keys(include_str!("../../locales/es.yml"));
        let en = keys(include_str!("../../locales/en.yml"));
        assert_eq!(es, en, "es.yml and en.yml differ");
        assert!(es.len() > 20, "{es:?}");
        // Every `t("…")` of a template names a key of the catalogs.
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/templates");
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            for used in text.split(".t(\"").skip(1) {
                let key = used.split('"').next().unwrap();
                assert!(
                    es.iter().any(|k| k == key),
                    "{}: {key} is in no catalog",
                    path.display()
                );
            }
        }
        for lang in Lang::ALL {
            assert!(!lang.t("sign_in.title").is_empty());
        }
        assert_eq!(Lang::Es.t("sign_in.submit"), "Entrar");
        assert_eq!(Lang::En.t("sign_in.submit"), "Sign in");
        assert_eq!(
            Lang::Es.t_with("nav.signed_in_as", "name", "Ana"),
            "Sesión de Ana"
        );
    }
}
