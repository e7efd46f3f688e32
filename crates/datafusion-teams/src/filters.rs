//! Which SQL filters the scan can use, and what they mean for the Graph requests.
//!
//! Each conjunct DataFusion offers is analysed on its own:
//! - equalities on parent ids (`team_id`, `channel_id`, `parent_message_id`, and `id` of `teams`
//!   and `channels`), as `=`, `IN` or an `OR` of equalities, literal on either side, decide which
//!   parents are read. The scan only emits rows of those parents, so these are `Exact`, which is
//!   also what lets DataFusion hand the scan its `LIMIT`.
//! - bounds on `last_modified_date_time` become server-side range filters where Graph has one
//!   (export API, delta) and a client-side check otherwise. Graph compares at its own precision, so
//!   DataFusion re-checks them (`Inexact`).
//! - `channels.membership_type` and members' `user_id` / `email` equalities become `$filter`.
//!   Graph string comparisons may ignore case, so DataFusion re-checks them too (`Inexact`).

use std::collections::BTreeSet;
use std::fmt;

use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{BinaryExpr, Expr, Operator, TableProviderFilterPushDown};

use crate::schema::Table;

/// A set of accepted values for one column; `None` in [`Pushdown`] means "any value".
pub type ValueSet = BTreeSet<String>;

/// A bound on `last_modified_date_time`, in microseconds since the epoch (UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bound {
    pub micros: i64,
    pub inclusive: bool,
}

/// Lower and upper bounds on `last_modified_date_time`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimeRange {
    pub lower: Option<Bound>,
    pub upper: Option<Bound>,
}

impl TimeRange {
    fn tighten_lower(&mut self, b: Bound) {
        match self.lower {
            Some(cur) if cur.micros > b.micros || (cur.micros == b.micros && !cur.inclusive) => {}
            _ => self.lower = Some(b),
        }
    }
    fn tighten_upper(&mut self, b: Bound) {
        match self.upper {
            Some(cur) if cur.micros < b.micros || (cur.micros == b.micros && !cur.inclusive) => {}
            _ => self.upper = Some(b),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.lower.is_none() && self.upper.is_none()
    }

    /// Whether a timestamp (µs) lies in the range; used to drop rows early while paging.
    pub fn contains(&self, micros: i64) -> bool {
        let lower_ok = self.lower.is_none_or(|b| {
            if b.inclusive {
                micros >= b.micros
            } else {
                micros > b.micros
            }
        });
        let upper_ok = self.upper.is_none_or(|b| {
            if b.inclusive {
                micros <= b.micros
            } else {
                micros < b.micros
            }
        });
        lower_ok && upper_ok
    }
}

/// Everything the scan learned from the filters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pushdown {
    /// `teams.id` / `channels.id` / `messages.id`.
    pub ids: Option<ValueSet>,
    pub team_ids: Option<ValueSet>,
    pub channel_ids: Option<ValueSet>,
    pub parent_message_ids: Option<ValueSet>,
    pub modified: TimeRange,
    pub membership_types: Option<ValueSet>,
    pub user_ids: Option<ValueSet>,
    pub emails: Option<ValueSet>,
    /// SQL text of the filters used, for EXPLAIN.
    pub used: Vec<String>,
}

impl Pushdown {
    /// A column equality set narrowed to nothing (`team_id = 'a' AND team_id = 'b'`).
    pub fn is_contradiction(&self) -> bool {
        [
            &self.ids,
            &self.team_ids,
            &self.channel_ids,
            &self.parent_message_ids,
            &self.membership_types,
            &self.user_ids,
            &self.emails,
        ]
        .iter()
        .any(|s| s.as_ref().is_some_and(|s| s.is_empty()))
    }
}

impl fmt::Display for Pushdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}]", self.used.join(", "))
    }
}

/// The column classes a table accepts pushdown on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyColumn {
    Id,
    TeamId,
    ChannelId,
    ParentMessageId,
    MembershipType,
    UserId,
    Email,
}

fn key_column(table: Table, name: &str) -> Option<KeyColumn> {
    use KeyColumn::*;
    match (table, name) {
        (Table::Teams | Table::Channels | Table::Messages, "id") => Some(Id),
        (Table::Teams, _) => None,
        (_, "team_id") => Some(TeamId),
        (Table::Messages | Table::MessageReplies, "channel_id") => Some(ChannelId),
        (Table::MessageReplies, "parent_message_id") => Some(ParentMessageId),
        (Table::Channels, "membership_type") => Some(MembershipType),
        (Table::Members, "user_id") => Some(UserId),
        (Table::Members, "email") => Some(Email),
        _ => None,
    }
}

impl KeyColumn {
    /// Parent ids are enforced by construction: rows only come from those parents.
    fn exact(self) -> bool {
        matches!(
            self,
            KeyColumn::Id | KeyColumn::TeamId | KeyColumn::ChannelId | KeyColumn::ParentMessageId
        )
    }
}

/// What one conjunct contributes.
enum Analysed {
    Values(KeyColumn, ValueSet),
    Time(TimeRange),
}

fn column_name(e: &Expr) -> Option<&str> {
    match e {
        Expr::Column(c) => Some(c.name.as_str()),
        // Casting a timestamp column to another unit or zone keeps its order.
        Expr::Cast(c) if matches!(c.field.data_type(), DataType::Timestamp(_, _)) => {
            column_name(&c.expr)
        }
        _ => None,
    }
}

fn string_literal(e: &Expr) -> Option<String> {
    match e {
        Expr::Literal(ScalarValue::Utf8(Some(s)), _)
        | Expr::Literal(ScalarValue::Utf8View(Some(s)), _)
        | Expr::Literal(ScalarValue::LargeUtf8(Some(s)), _) => Some(s.clone()),
        _ => None,
    }
}

/// A timestamp literal in µs; zone-less timestamps are taken as UTC, as Graph's are.
fn timestamp_literal(e: &Expr) -> Option<i64> {
    let Expr::Literal(v, _) = e else { return None };
    let (value, unit) = match v {
        ScalarValue::TimestampSecond(Some(x), _) => (*x, TimeUnit::Second),
        ScalarValue::TimestampMillisecond(Some(x), _) => (*x, TimeUnit::Millisecond),
        ScalarValue::TimestampMicrosecond(Some(x), _) => (*x, TimeUnit::Microsecond),
        ScalarValue::TimestampNanosecond(Some(x), _) => (*x, TimeUnit::Nanosecond),
        _ => return None,
    };
    Some(match unit {
        TimeUnit::Second => value.saturating_mul(1_000_000),
        TimeUnit::Millisecond => value.saturating_mul(1_000),
        TimeUnit::Microsecond => value,
        // Rounding down a lower bound or up an upper bound would widen the range; the scan's
        // server-side filters widen further anyway and DataFusion re-checks time filters.
        TimeUnit::Nanosecond => value.div_euclid(1_000),
    })
}

fn analyse_equalities(table: Table, e: &Expr) -> Option<(KeyColumn, ValueSet)> {
    match e {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Eq,
            right,
        }) => {
            let (col, lit) = match (column_name(left), column_name(right)) {
                (Some(c), None) => (c, string_literal(right)?),
                (None, Some(c)) => (c, string_literal(left)?),
                _ => return None,
            };
            Some((key_column(table, col)?, BTreeSet::from([lit])))
        }
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Or,
            right,
        }) => {
            let (a, mut sa) = analyse_equalities(table, left)?;
            let (b, sb) = analyse_equalities(table, right)?;
            if a != b {
                return None;
            }
            sa.extend(sb);
            Some((a, sa))
        }
        Expr::InList(list) if !list.negated => {
            let col = key_column(table, column_name(&list.expr)?)?;
            let values = list
                .list
                .iter()
                .map(string_literal)
                .collect::<Option<ValueSet>>()?;
            Some((col, values))
        }
        _ => None,
    }
}

fn is_modified_column(table: Table, e: &Expr) -> bool {
    table.is_message_table() && column_name(e) == Some("last_modified_date_time")
}

fn analyse_time(table: Table, e: &Expr) -> Option<TimeRange> {
    let mut range = TimeRange::default();
    match e {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            // Normalise to `column op literal`.
            let (op, lit) = if is_modified_column(table, left) {
                (*op, timestamp_literal(right)?)
            } else if is_modified_column(table, right) {
                (op.swap()?, timestamp_literal(left)?)
            } else if *op == Operator::And {
                let a = analyse_time(table, left)?;
                let b = analyse_time(table, right)?;
                for bound in [a.lower, b.lower].into_iter().flatten() {
                    range.tighten_lower(bound);
                }
                for bound in [a.upper, b.upper].into_iter().flatten() {
                    range.tighten_upper(bound);
                }
                return Some(range);
            } else {
                return None;
            };
            match op {
                Operator::Gt => {
                    range.lower = Some(Bound {
                        micros: lit,
                        inclusive: false,
                    })
                }
                Operator::GtEq => {
                    range.lower = Some(Bound {
                        micros: lit,
                        inclusive: true,
                    })
                }
                Operator::Lt => {
                    range.upper = Some(Bound {
                        micros: lit,
                        inclusive: false,
                    })
                }
                Operator::LtEq => {
                    range.upper = Some(Bound {
                        micros: lit,
                        inclusive: true,
                    })
                }
                _ => return None,
            }
        }
        Expr::Between(b) if !b.negated && is_modified_column(table, &b.expr) => {
            range.lower = Some(Bound {
                micros: timestamp_literal(&b.low)?,
                inclusive: true,
            });
            range.upper = Some(Bound {
                micros: timestamp_literal(&b.high)?,
                inclusive: true,
            });
        }
        _ => return None,
    }
    Some(range)
}

fn analyse(table: Table, e: &Expr) -> Option<Analysed> {
    if let Some((col, values)) = analyse_equalities(table, e) {
        return Some(Analysed::Values(col, values));
    }
    analyse_time(table, e).map(Analysed::Time)
}

/// The answer to `supports_filters_pushdown` for one filter.
pub fn classify(table: Table, e: &Expr) -> TableProviderFilterPushDown {
    match analyse(table, e) {
        Some(Analysed::Values(col, _)) if col.exact() => TableProviderFilterPushDown::Exact,
        Some(_) => TableProviderFilterPushDown::Inexact,
        None => TableProviderFilterPushDown::Unsupported,
    }
}

/// Folds the filters DataFusion passed to `scan` into a [`Pushdown`].
pub fn pushdown(table: Table, filters: &[Expr]) -> Pushdown {
    let mut p = Pushdown::default();
    for e in filters {
        let Some(a) = analyse(table, e) else { continue };
        match a {
            Analysed::Values(col, mut values) => {
                if col.exact() {
                    // Graph ids are never empty, `.` or `..` (they could not be one URL path
                    // segment): such a value matches no row, and must not fail the query.
                    values.retain(|v| !matches!(v.as_str(), "" | "." | ".."));
                }
                let slot = match col {
                    KeyColumn::Id => &mut p.ids,
                    KeyColumn::TeamId => &mut p.team_ids,
                    KeyColumn::ChannelId => &mut p.channel_ids,
                    KeyColumn::ParentMessageId => &mut p.parent_message_ids,
                    KeyColumn::MembershipType => &mut p.membership_types,
                    KeyColumn::UserId => &mut p.user_ids,
                    KeyColumn::Email => &mut p.emails,
                };
                *slot = Some(match slot.take() {
                    Some(cur) => cur.intersection(&values).cloned().collect(),
                    None => values,
                });
            }
            Analysed::Time(r) => {
                if let Some(b) = r.lower {
                    p.modified.tighten_lower(b);
                }
                if let Some(b) = r.upper {
                    p.modified.tighten_upper(b);
                }
            }
        }
        p.used.push(e.to_string());
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::{col, lit};

    fn ts(micros: i64) -> Expr {
        Expr::Literal(
            ScalarValue::TimestampNanosecond(Some(micros * 1000), Some("+00:00".into())),
            None,
        )
    }

    #[test]
    fn impossible_ids_match_nothing() {
        let p = pushdown(Table::Messages, &[col("team_id").eq(lit(".."))]);
        assert!(p.is_contradiction());
        let p = pushdown(
            Table::Messages,
            &[col("channel_id").in_list(vec![lit(""), lit("c"), lit(".")], false)],
        );
        assert_eq!(p.channel_ids, Some(ValueSet::from(["c".to_string()])));
    }

    #[test]
    fn parent_equalities_are_exact_in_every_form() {
        let t = Table::Messages;
        let forms = [
            col("team_id").eq(lit("a")),
            lit("a").eq(col("team_id")),
            col("team_id").in_list(vec![lit("a"), lit("b")], false),
            col("team_id").eq(lit("a")).or(lit("b").eq(col("team_id"))),
        ];
        for f in &forms {
            assert_eq!(classify(t, f), TableProviderFilterPushDown::Exact, "{f}");
        }
        let p = pushdown(t, &forms);
        assert_eq!(p.team_ids, Some(BTreeSet::from(["a".to_string()])));
    }

    #[test]
    fn unusable_filters_are_unsupported() {
        let t = Table::Messages;
        for f in [
            col("team_id").in_list(vec![lit("a")], true),
            col("team_id")
                .eq(lit("a"))
                .or(col("channel_id").eq(lit("b"))),
            col("team_id").not_eq(lit("a")),
            col("subject").eq(lit("x")),
        ] {
            assert_eq!(
                classify(t, &f),
                TableProviderFilterPushDown::Unsupported,
                "{f}"
            );
        }
        // `id` is pushed for teams, channels and root messages; reply ids are not.
        assert_eq!(
            classify(Table::MessageReplies, &col("id").eq(lit("x"))),
            TableProviderFilterPushDown::Unsupported
        );
        assert_eq!(
            classify(Table::Teams, &col("id").eq(lit("x"))),
            TableProviderFilterPushDown::Exact
        );
        assert_eq!(
            classify(Table::Teams, &col("team_id").eq(lit("x"))),
            TableProviderFilterPushDown::Unsupported
        );
    }

    #[test]
    fn time_bounds_are_inexact_and_tightened() {
        let t = Table::MessageReplies;
        let c = || col("last_modified_date_time");
        let filters = [
            c().gt(ts(10)),
            ts(20).lt_eq(c()),
            c().between(ts(5), ts(100)),
            c().lt(ts(90)),
        ];
        for f in &filters {
            assert_eq!(classify(t, f), TableProviderFilterPushDown::Inexact, "{f}");
        }
        let p = pushdown(t, &filters);
        assert_eq!(
            p.modified.lower,
            Some(Bound {
                micros: 20,
                inclusive: true
            })
        );
        assert_eq!(
            p.modified.upper,
            Some(Bound {
                micros: 90,
                inclusive: false
            })
        );
        assert!(p.modified.contains(20) && p.modified.contains(89));
        assert!(!p.modified.contains(19) && !p.modified.contains(90));
        assert_eq!(
            classify(Table::Members, &col("last_modified_date_time").gt(ts(1))),
            TableProviderFilterPushDown::Unsupported
        );
    }

    #[test]
    fn contradictions_are_detected() {
        let p = pushdown(
            Table::Channels,
            &[col("team_id").eq(lit("a")), col("team_id").eq(lit("b"))],
        );
        assert!(p.is_contradiction());
    }

    #[test]
    fn server_side_string_filters_are_inexact() {
        assert_eq!(
            classify(Table::Members, &col("email").eq(lit("a@b"))),
            TableProviderFilterPushDown::Inexact
        );
        assert_eq!(
            classify(Table::Channels, &col("membership_type").eq(lit("private"))),
            TableProviderFilterPushDown::Inexact
        );
    }
}
