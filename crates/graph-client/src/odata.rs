//! OData `$filter` expressions built from typed parts.
//!
//! User values only ever enter a filter through [`string_literal`] or
//! [`datetime_literal`], which validate and quote them, so a value cannot
//! close its quote and add clauses of its own. The query string itself is
//! percent-encoded when the URL is built (request.rs), so `&`, `#` or `%`
//! in a value cannot start a new query parameter either.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};

/// An OData string literal: single-quoted, with embedded quotes doubled.
///
/// Control characters are rejected (replaced, since the signature returns a
/// String and callers build filters from trusted column names plus user
/// literals): Graph has no escape for them and they only appear in
/// injection attempts. They are replaced by U+FFFD so the filter simply
/// matches nothing.
pub fn string_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for ch in s.chars() {
        match ch {
            '\'' => out.push_str("''"),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// An OData DateTimeOffset literal (unquoted, UTC, `Z` suffix), as in the
/// documented `lastModifiedDateTime gt 2019-02-27T07:13:28.000z`.
pub fn datetime_literal(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A property path such as `displayName` or
/// `microsoft.graph.aadUserConversationMember/email`.
///
/// Properties come from code, not users, but they are still checked so that
/// a mistake fails loudly instead of producing a different filter.
fn checked_property(p: &str) -> Result<&str, FilterError> {
    let ok = !p.is_empty()
        && p.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '@'));
    if ok {
        Ok(p)
    } else {
        Err(FilterError(format!(
            "'{p}' is not a valid OData property path"
        )))
    }
}

/// A filter that could not be built (bad property name).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid $filter: {0}")]
pub struct FilterError(pub String);

/// A `$filter` expression. Built only through the constructors below.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter(String);

impl Filter {
    /// `prop eq 'value'`
    pub fn eq_str(property: &str, value: &str) -> Result<Filter, FilterError> {
        Ok(Filter(format!(
            "{} eq {}",
            checked_property(property)?,
            string_literal(value)
        )))
    }

    /// `prop ne 'value'`
    pub fn ne_str(property: &str, value: &str) -> Result<Filter, FilterError> {
        Ok(Filter(format!(
            "{} ne {}",
            checked_property(property)?,
            string_literal(value)
        )))
    }

    /// `startswith(prop, 'value')`
    pub fn starts_with(property: &str, value: &str) -> Result<Filter, FilterError> {
        Ok(Filter(format!(
            "startswith({}, {})",
            checked_property(property)?,
            string_literal(value)
        )))
    }

    /// `prop gt 2024-01-01T00:00:00.000Z`
    pub fn gt(property: &str, t: DateTime<Utc>) -> Result<Filter, FilterError> {
        Ok(Filter(format!(
            "{} gt {}",
            checked_property(property)?,
            datetime_literal(t)
        )))
    }

    /// `prop lt 2024-01-01T00:00:00.000Z`
    pub fn lt(property: &str, t: DateTime<Utc>) -> Result<Filter, FilterError> {
        Ok(Filter(format!(
            "{} lt {}",
            checked_property(property)?,
            datetime_literal(t)
        )))
    }

    /// `prop eq true|false`
    pub fn eq_bool(property: &str, v: bool) -> Result<Filter, FilterError> {
        Ok(Filter(format!("{} eq {v}", checked_property(property)?)))
    }

    /// `resourceProvisioningOptions/Any(x:x eq 'Team')`, the documented way
    /// to list the groups that have a team.
    pub fn groups_with_teams() -> Filter {
        Filter("resourceProvisioningOptions/Any(x:x eq 'Team')".to_string())
    }

    /// `(a) and (b)`; parenthesised so precedence never depends on the parts.
    pub fn and(self, other: Filter) -> Filter {
        Filter(format!("({}) and ({})", self.0, other.0))
    }

    /// `(a) or (b)`
    pub fn or(self, other: Filter) -> Filter {
        Filter(format!("({}) or ({})", self.0, other.0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn literal_quotes_and_escapes() {
        assert_eq!(string_literal("A"), "'A'");
        assert_eq!(string_literal("O'Brien"), "'O''Brien'");
        assert_eq!(
            string_literal("x' or 1 eq 1 or 'a"),
            "'x'' or 1 eq 1 or ''a'"
        );
        assert_eq!(string_literal("a\nb"), "'a\u{FFFD}b'");
    }

    #[test]
    fn filters_compose() {
        let t = Utc.with_ymd_and_hms(2019, 11, 1, 0, 0, 0).unwrap();
        let f = Filter::gt("lastModifiedDateTime", t)
            .unwrap()
            .and(Filter::lt("lastModifiedDateTime", t).unwrap());
        assert_eq!(
            f.as_str(),
            "(lastModifiedDateTime gt 2019-11-01T00:00:00.000Z) and (lastModifiedDateTime lt 2019-11-01T00:00:00.000Z)"
        );
        assert!(Filter::eq_str("display Name", "x").is_err());
        assert!(Filter::eq_str("x) or (y", "x").is_err());
        assert_eq!(
            Filter::eq_str("microsoft.graph.aadUserConversationMember/email", "a@b")
                .unwrap()
                .as_str(),
            "microsoft.graph.aadUserConversationMember/email eq 'a@b'"
        );
    }
}
