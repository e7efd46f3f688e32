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

/// Every spelling in which a secret can come back from the network: as
/// sent (raw), form-encoded as in the token request body (`~` -> `%7E`,
/// space -> `+`), percent-encoded as in a URL (upper- and lower-case hex,
/// with and without the RFC 3986 unreserved characters kept), and as the
/// content of a JSON string (with and without `/` escaped). A server that
/// echoes our request body inside a JSON error message combines the last
/// two, which needs no extra case: percent-encoded text has nothing JSON
/// escapes.
pub(crate) fn spellings(secret: &str) -> Vec<String> {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const UNRESERVED_KEPT: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    let form: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    let strict = utf8_percent_encode(secret, NON_ALPHANUMERIC).to_string();
    let path = utf8_percent_encode(secret, UNRESERVED_KEPT).to_string();
    let json = serde_json::to_string(secret).unwrap_or_default();
    let json = json
        .strip_prefix('"')
        .and_then(|j| j.strip_suffix('"'))
        .unwrap_or(&json)
        .to_string();
    let mut out = vec![secret.to_string()];
    for encoded in [form, strict, path] {
        out.push(lower_hex(&encoded));
        out.push(encoded);
    }
    out.push(json.replace('/', "\\/"));
    out.push(json);
    out.sort();
    out.dedup();
    // Longest first, so that a spelling containing another is replaced whole.
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out
}

/// `%7E` -> `%7e`: some servers lower-case the hex digits of escapes.
fn lower_hex(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '%' {
            for _ in 0..2 {
                if let Some(h) = chars.next() {
                    out.push(h.to_ascii_lowercase());
                }
            }
        }
    }
    out
}

/// Replaces every occurrence of the given secrets in `text`, in each of
/// their [`spellings`], by `***`.
///
/// Used on any text that came from the network before it goes into an error
/// or a log line, because a misbehaving proxy or server could echo a
/// credential back, raw or in the encoding we sent it in.
pub(crate) fn redact(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_string();
    for s in secrets {
        // Very short values would blank out ordinary words; real secrets and
        // tokens are long, so a floor of 4 characters loses nothing.
        if s.len() < 4 {
            continue;
        }
        for spelling in spellings(s) {
            out = out.replace(&spelling, "***");
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

    #[test]
    fn redact_catches_every_encoding() {
        // An Azure-style secret: `~` and `.` always, `/`, `+`, `=` and a
        // quote or backslash in hostile cases.
        let secret = "Ab8Q~x.y/z+w=\\\"q é";
        let echoes = [
            secret.to_string(),
            "Ab8Q%7Ex.y%2Fz%2Bw%3D%5C%22q+%C3%A9".to_string(),
            "Ab8Q%7ex.y%2fz%2bw%3d%5c%22q+%c3%a9".to_string(),
            "Ab8Q~x.y%2Fz%2Bw%3D%5C%22q%20%C3%A9".to_string(),
            "Ab8Q%7Ex%2Ey%2Fz%2Bw%3D%5C%22q%20%C3%A9".to_string(),
            "Ab8Q~x.y/z+w=\\\\\\\"q é".to_string(),
            "Ab8Q~x.y\\/z+w=\\\\\\\"q é".to_string(),
        ];
        for echo in echoes {
            let text = format!("client_secret={echo}&grant_type=x");
            let r = redact(&text, &[secret]);
            assert_eq!(r, "client_secret=***&grant_type=x", "{echo}");
        }
    }
}
