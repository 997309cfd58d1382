//! The data-quality overview: verification by source, field completeness, the review
//! backlog, and duplicates found and merged.

use super::{may_review, store};
use crate::App;
use crate::error::AppResult;
use leadline_domain::Principal;
use serde::Serialize;

/// Verification statuses of one source's leads.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct SourceQuality {
    /// The first-touch source; `null` for leads without one.
    pub source: Option<String>,
    pub verified: i64,
    pub flagged: i64,
    pub suspect: i64,
    pub invalid: i64,
}

impl SourceQuality {
    /// All checked leads of the source.
    pub fn total(&self) -> i64 {
        self.verified + self.flagged + self.suspect + self.invalid
    }

    /// Share of verified leads, in whole percent.
    pub fn verified_percent(&self) -> i64 {
        let t = self.total();
        if t == 0 {
            0
        } else {
            (self.verified * 100 + t / 2) / t
        }
    }
}

/// How many leads have a field filled.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FieldCompleteness {
    pub field: String,
    pub filled: i64,
    /// In whole percent of all live leads.
    pub percent: i64,
}

/// The data-quality overview.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct QualityOverview {
    pub leads: i64,
    pub by_source: Vec<SourceQuality>,
    pub completeness: Vec<FieldCompleteness>,
    /// Leads waiting in the review queue.
    pub waiting_for_review: i64,
    pub duplicates: DuplicateCounts,
}

/// Duplicates found and what became of them.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct DuplicateCounts {
    /// Candidate pairs of two live leads nobody decided on yet.
    pub open_pairs: i64,
    pub merged_pairs: i64,
    pub dismissed_pairs: i64,
    /// Merges in force (not undone).
    pub merges: i64,
    /// Leads merged away by those merges.
    pub leads_merged: i64,
}

impl App {
    /// Verification by source, field completeness and the review backlog.
    pub async fn quality_overview(&self, by: &Principal) -> AppResult<QualityOverview> {
        may_review(by)?;
        let mut c = self.db.acquire().await?;
        let mut by_source: Vec<SourceQuality> = Vec::new();
        for (source, status, n) in store::status_by_source(c.conn()).await? {
            if by_source.last().is_none_or(|s| s.source != source) {
                by_source.push(SourceQuality {
                    source: source.clone(),
                    ..SourceQuality::default()
                });
            }
            if let Some(s) = by_source.last_mut() {
                match status.as_str() {
                    "verified" => s.verified += n,
                    "flagged" => s.flagged += n,
                    "suspect" => s.suspect += n,
                    _ => s.invalid += n,
                }
            }
        }
        by_source.sort_by_key(|s| std::cmp::Reverse(s.total()));
        let (total, email, phone, company, title, country) = store::completeness(c.conn()).await?;
        let pct = |n: i64| {
            if total == 0 {
                0
            } else {
                (n * 100 + total / 2) / total
            }
        };
        let completeness = [
            ("email", email),
            ("phone", phone),
            ("company", company),
            ("title", title),
            ("country", country),
        ]
        .into_iter()
        .map(|(f, n)| FieldCompleteness {
            field: f.into(),
            filled: n,
            percent: pct(n),
        })
        .collect();
        let waiting_for_review = store::queue_count(c.conn()).await?;
        let (open_pairs, merged_pairs, dismissed_pairs) =
            leadline_store::duplicates::counts(c.conn()).await?;
        let (merges, leads_merged) = leadline_store::merges::counts(c.conn()).await?;
        Ok(QualityOverview {
            leads: total,
            by_source,
            completeness,
            waiting_for_review,
            duplicates: DuplicateCounts {
                open_pairs,
                merged_pairs,
                dismissed_pairs,
                merges,
                leads_merged,
            },
        })
    }
}
