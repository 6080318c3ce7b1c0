//! The password policy, applied wherever a password is set (a new user, a
//! change of one's own, an admin's reset, the first admin at start-up): at
//! least [`PASSWORD_MIN_CHARS`] characters, at most [`PASSWORD_MAX_CHARS`],
//! and not one of the common passwords shipped in `common-passwords.txt`
//! (compared in lower case), which attackers try first.

use std::collections::HashSet;
use std::sync::OnceLock;

/// The shortest password accepted.
pub const PASSWORD_MIN_CHARS: usize = 10;
/// The longest password accepted (a bound on what is hashed).
pub const PASSWORD_MAX_CHARS: usize = 128;

/// The common passwords, one a line, lower case; `#` starts a comment line.
static COMMON_PASSWORDS: &str = include_str!("common-passwords.txt");

fn common_passwords() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        COMMON_PASSWORDS
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect()
    })
}

/// Whether `password` is on the list of common passwords (any case).
pub fn is_common_password(password: &str) -> bool {
    common_passwords().contains(password.to_lowercase().as_str())
}

/// What is wrong with `password` as a new password, if anything.
pub fn password_problem(password: &str) -> Option<String> {
    let n = password.chars().count();
    if n < PASSWORD_MIN_CHARS {
        Some(format!(
            "must have at least {PASSWORD_MIN_CHARS} characters, got {n}"
        ))
    } else if n > PASSWORD_MAX_CHARS {
        Some(format!(
            "must have at most {PASSWORD_MAX_CHARS} characters, got {n}"
        ))
    } else if is_common_password(password) {
        Some("is one of the most common passwords; choose another".to_owned())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_long_and_common_passwords_are_refused() {
        assert!(password_problem("correct horse battery").is_none());
        assert!(
            password_problem("short1").is_some_and(|m| m.contains("at least 10")),
            "too short"
        );
        assert!(password_problem(&"x".repeat(PASSWORD_MAX_CHARS + 1)).is_some());
        for common in [
            "1234567890",
            "Password123",
            "qwertyuiop",
            "contraseña123",
            "CONTRASENA123",
            "TeAmoMucho",
        ] {
            assert!(
                password_problem(common).is_some_and(|m| m.contains("common")),
                "{common} is common"
            );
        }
    }

    #[test]
    fn the_list_is_lower_case_and_only_holds_passwords_the_length_allows() {
        let set = common_passwords();
        assert!(set.len() > 2_000, "{}", set.len());
        for p in set {
            assert_eq!(p.to_lowercase(), *p, "{p:?} is not lower case");
            assert!(p.chars().count() >= PASSWORD_MIN_CHARS, "{p:?} is short");
            assert_eq!(p.trim(), *p, "{p:?} has blanks around it");
        }
    }
}
