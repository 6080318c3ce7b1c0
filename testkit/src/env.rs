//! Settings read from a list instead of the process environment, and the
//! check that `.env.example` documents every variable a crate reads.

use std::collections::HashMap;

/// A lookup over `vars`, for a `from_lookup` constructor of settings.
pub fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |k| map.get(k).cloned()
}

/// The variables of `vars` that `example` (the text of `.env.example`) has
/// no `NAME=` line for, commented out or not.
pub fn undocumented<'a>(example: &str, vars: &[&'a str]) -> Vec<&'a str> {
    vars.iter()
        .copied()
        .filter(|var| {
            !example.lines().any(|l| {
                l.trim_start_matches(['#', ' '])
                    .strip_prefix(var)
                    .is_some_and(|rest| rest.starts_with('='))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_variable_counts_as_documented_only_with_its_own_line() {
        let example = "A=1\n# B=2\nCC=3\n# D is not a line of its own\n";
        assert_eq!(undocumented(example, &["A", "B", "C", "D"]), ["C", "D"]);
        assert_eq!(lookup(&[("A", "1")])("A").as_deref(), Some("1"));
        assert_eq!(lookup(&[("A", "1")])("B"), None);
    }
}
