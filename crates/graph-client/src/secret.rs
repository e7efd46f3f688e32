//! A string that must never be printed: client secrets and access tokens.

use std::fmt;

/// Holds a client secret or an access token.
///
/// `Debug` and `Display` both print `***` so that a secret can sit inside
/// configuration structs, errors and log fields without leaking. The only
/// way to read it is [`Secret::expose`], which is called exactly where the
/// value goes on the wire (the token request body, the `Authorization`
/// header) and where error text is scrubbed.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value. Callers must not format or log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret(s)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret(s.to_string())
    }
}

/// Replaces every occurrence of the given secrets in `text` by `***`.
///
/// Used on any text that came from the network before it goes into an error,
/// because a misbehaving proxy or server could echo a credential back.
pub(crate) fn redact(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_string();
    for s in secrets {
        // Very short values would blank out ordinary words; real secrets and
        // tokens are long, so a floor of 4 characters loses nothing.
        if s.len() >= 4 {
            out = out.replace(s, "***");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_value() {
        let s = Secret::new("hunter2-very-secret");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(s.expose(), "hunter2-very-secret");
    }

    #[test]
    fn redact_replaces_all() {
        let r = redact("a tok123 b tok123", &["tok123"]);
        assert_eq!(r, "a *** b ***");
    }
}
