//! Restricting a report to one source, medium, campaign, owner or team (the dashboard's
//! filters), as bound parameters appended to a report query.

use uuid::Uuid;

/// Values a report is restricted to; `None` leaves that attribute free. An empty text
/// matches leads without the attribute (no source, no campaign…).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportFilter {
    pub source: Option<String>,
    pub medium: Option<String>,
    pub campaign: Option<String>,
    pub owner: Option<Uuid>,
    pub team: Option<Uuid>,
}

/// One bound filter value.
#[derive(Debug, Clone, Copy)]
pub(crate) enum FilterValue<'a> {
    Text(&'a str),
    Id(Uuid),
}

/// The SQL expressions a filter compares against; `None` where a query has no such
/// attribute (the report refuses that filter before it gets here).
pub(crate) struct FilterColumns {
    pub source: Option<&'static str>,
    pub medium: Option<&'static str>,
    pub campaign: Option<&'static str>,
    pub owner: Option<&'static str>,
    pub team: Option<&'static str>,
}

impl FilterColumns {
    /// A lead aliased `l`; the owner as of the report's moment when it is in the past.
    pub(crate) fn lead(past: bool) -> FilterColumns {
        FilterColumns {
            source: Some("COALESCE(l.first_source, '')"),
            medium: Some("COALESCE(l.first_medium, '')"),
            campaign: Some("COALESCE(l.first_campaign, '')"),
            owner: Some(if past {
                super::OWNER_THEN
            } else {
                "l.owner_id"
            }),
            team: Some("l.team_id"),
        }
    }

    /// A deal aliased `o`: its own source and campaign, else its lead's first touch (as
    /// the deal reports group them; the medium is always the lead's), and its owner.
    pub(crate) fn deal() -> FilterColumns {
        FilterColumns {
            source: Some("COALESCE(o.source, o.lead_source, '')"),
            medium: Some("COALESCE(o.lead_medium, '')"),
            campaign: Some("COALESCE(o.campaign, o.lead_campaign, '')"),
            owner: Some("o.owner_id"),
            team: None,
        }
    }
}

impl ReportFilter {
    /// Whether nothing is restricted.
    pub fn is_empty(&self) -> bool {
        *self == ReportFilter::default()
    }

    /// The set values in a fixed order (the order [`ReportFilter::sql`] numbers them).
    pub(crate) fn values(&self) -> Vec<FilterValue<'_>> {
        let mut v = Vec::new();
        for t in [&self.source, &self.medium, &self.campaign]
            .into_iter()
            .flatten()
        {
            v.push(FilterValue::Text(t));
        }
        for id in [self.owner, self.team].into_iter().flatten() {
            v.push(FilterValue::Id(id));
        }
        v
    }

    /// ` AND col = $n …` for each set value, numbered from `first`; attributes `cols`
    /// lacks compare false (so a misuse shows as an empty report, never as unfiltered).
    pub(crate) fn sql(&self, cols: &FilterColumns, first: usize) -> String {
        let mut out = String::new();
        let mut n = first;
        let texts = [
            (&self.source, cols.source),
            (&self.medium, cols.medium),
            (&self.campaign, cols.campaign),
        ];
        for (value, col) in texts {
            if value.is_some() {
                push(&mut out, col, n);
                n += 1;
            }
        }
        for (value, col) in [(self.owner, cols.owner), (self.team, cols.team)] {
            if value.is_some() {
                push(&mut out, col, n);
                n += 1;
            }
        }
        out
    }
}

fn push(out: &mut String, col: Option<&str>, n: usize) {
    match col {
        Some(c) => out.push_str(&format!(" AND ({c}) = ${n}")),
        // Still numbered so later placeholders keep their positions.
        None => out.push_str(&format!(" AND ${n} IS NULL AND 1 = 0")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_the_set_values_in_order() {
        let f = ReportFilter {
            campaign: Some("spring".into()),
            owner: Some(Uuid::nil()),
            ..Default::default()
        };
        let sql = f.sql(&FilterColumns::deal(), 4);
        assert_eq!(
            sql,
            " AND (COALESCE(o.campaign, o.lead_campaign, '')) = $4 AND (o.owner_id) = $5"
        );
        assert_eq!(f.values().len(), 2);
        assert!(
            ReportFilter::default()
                .sql(&FilterColumns::deal(), 4)
                .is_empty()
        );
    }
}
