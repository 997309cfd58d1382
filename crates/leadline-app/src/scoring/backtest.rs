//! Back-testing a model on the database's own history before it goes live: how well it
//! separates leads that converted from leads that did not, and what it would change today.

use super::{events, qualification};
use crate::App;
use crate::error::AppResult;
use leadline_domain::scoring::backtest::{Decile, ThresholdOutcome, auc, deciles, threshold};
use leadline_domain::scoring::engine::Scorer;
use leadline_domain::scoring::rules::ModelDefinition;
use leadline_domain::time::now;
use leadline_domain::{Principal, Stage};
use leadline_store::leads;
use leadline_store::scoring::{self as store, EventRow};
use serde::Serialize;
use std::collections::HashMap;
use uuid::Uuid;

/// What a back-test found.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BacktestReport {
    pub leads: u64,
    /// Leads with a known outcome: converted (or won) against disqualified (or lost).
    pub with_outcome: u64,
    pub converted: u64,
    /// Area under the ROC curve of the score plus fit; `null` without both outcomes.
    pub auc: Option<f64>,
    /// Conversion by tenth of the leads with an outcome, best first.
    pub deciles: Vec<Decile>,
    /// The MQL threshold applied to the leads with an outcome.
    pub mql: ThresholdOutcome,
    /// Open leads (new, nurture, mql) that would become MQL under this model today…
    pub would_qualify: u64,
    /// …and MQLs that would go back to nurture.
    pub would_nurture: u64,
}

/// Whether a lead converted, when known: its recorded outcome (`won`/`lost`), else its
/// stage (converted against disqualified).
pub(crate) fn label(stage: Stage, outcome: Option<&str>) -> Option<bool> {
    match outcome {
        Some("won") => Some(true),
        Some(_) => Some(false),
        None => match stage {
            Stage::Converted => Some(true),
            Stage::Disqualified => Some(false),
            _ => None,
        },
    }
}

impl App {
    /// Back-tests a model definition (a saved version, or a draft not saved yet) against
    /// every lead: the ranking is by score plus fit, so fit-only and behaviour-only models
    /// both rank. Activities after a lead's outcome are counted too (the outcome date is
    /// not known for imported history).
    pub async fn backtest(
        &self,
        by: &Principal,
        def: ModelDefinition,
    ) -> AppResult<BacktestReport> {
        crate::auth::require_marketing(by, "back-testing scoring models")?;
        def.validate(&self.custom_fields().await?)?;
        let scorer = Scorer::new(def);
        let kinds = scorer.activity_kinds();
        let t = now();
        let mut scored: Vec<(f64, bool)> = Vec::new();
        let mut qualified: Vec<(bool, bool)> = Vec::new();
        let (mut leads_seen, mut would_qualify, mut would_nurture) = (0u64, 0u64, 0u64);
        let mut after = None;
        loop {
            let mut c = self.db.acquire().await?;
            let page = leads::page_by_id(c.conn(), after, 5_000).await?;
            let (Some(first), Some(last)) = (page.first(), page.last()) else {
                break;
            };
            let (first, last) = (first.id, last.id);
            let rows = store::events_in_range(c.conn(), first, last, &kinds).await?;
            let outcomes: HashMap<Uuid, String> = store::outcomes_in_range(c.conn(), first, last)
                .await?
                .into_iter()
                .collect();
            drop(c);
            after = Some(last);
            let mut by_lead: HashMap<Uuid, &[EventRow]> = HashMap::new();
            for chunk in rows.chunk_by(|a, b| a.0 == b.0) {
                by_lead.insert(chunk[0].0, chunk);
            }
            for lead in &page {
                leads_seen += 1;
                let evs = by_lead.get(&lead.id).map(|r| events(r)).unwrap_or_default();
                let s = scorer.score(&lead.fields, &evs, t);
                let q = scorer.model.qualification;
                let is_mql = s.score >= q.mql_score && s.grade <= q.mql_grade;
                if let Some(y) = label(lead.stage, outcomes.get(&lead.id).map(String::as_str)) {
                    scored.push((f64::from(s.score) + f64::from(s.fit), y));
                    qualified.push((is_mql, y));
                }
                match qualification(&scorer, lead.stage, &s) {
                    Some((Stage::Mql, _)) => would_qualify += 1,
                    Some((Stage::Nurture, _)) => would_nurture += 1,
                    _ => {}
                }
            }
        }
        Ok(BacktestReport {
            leads: leads_seen,
            with_outcome: scored.len() as u64,
            converted: scored.iter().filter(|(_, y)| *y).count() as u64,
            auc: auc(&scored),
            deciles: deciles(&scored),
            mql: threshold(&qualified),
            would_qualify,
            would_nurture,
        })
    }

    /// Back-tests a saved version of a model.
    pub async fn backtest_version(
        &self,
        by: &Principal,
        key: &str,
        version: i32,
    ) -> AppResult<BacktestReport> {
        crate::auth::require_marketing(by, "back-testing scoring models")?;
        let v = self.scoring_version(by, key, version).await?;
        self.backtest(by, v.definition).await
    }

    /// Back-tests the default model in force.
    pub async fn backtest_default(&self, by: &Principal) -> AppResult<BacktestReport> {
        let def = self.default_scoring_model().await?;
        self.backtest(by, def).await
    }
}
