//! Training the predictive model on the database's own history (leads with a known
//! outcome). Groundwork: the model is trained and measured; storing it and scoring leads
//! with it come next.

use crate::App;
use crate::error::AppResult;
use leadline_domain::Principal;
use leadline_domain::scoring::predict::{Example, TrainingReport, train};
use leadline_store::leads;
use leadline_store::scoring as store;
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

impl App {
    /// Trains a conversion model on every lead with a known outcome (won or converted
    /// against lost or disqualified), leaving out `exclude` — lead fields by name, custom
    /// fields by key or label — and reports its held-out AUC, calibration and the features
    /// that matter.
    pub async fn train_prediction(
        &self,
        by: &Principal,
        exclude: &[String],
    ) -> AppResult<TrainingReport> {
        crate::auth::require_marketing(by, "training the predictive model")?;
        let defs = self.custom_fields().await?;
        let exclude: Vec<String> = exclude
            .iter()
            .map(|x| {
                defs.iter()
                    .find(|d| d.label.eq_ignore_ascii_case(x) || d.key.eq_ignore_ascii_case(x))
                    .map_or_else(|| x.clone(), |d| format!("custom.{}", d.key))
            })
            .collect();
        let mut history = Vec::new();
        let mut after = None;
        loop {
            let mut c = self.db.acquire().await?;
            let page = leads::page_by_id(c.conn(), after, 5_000).await?;
            let (Some(first), Some(last)) = (page.first(), page.last()) else {
                break;
            };
            let (first, last) = (first.id, last.id);
            let outcomes: HashMap<Uuid, String> = store::outcomes_in_range(c.conn(), first, last)
                .await?
                .into_iter()
                .collect();
            let mut counts: HashMap<Uuid, BTreeMap<String, u32>> = HashMap::new();
            for (id, kind, n) in store::activity_counts_in_range(c.conn(), first, last).await? {
                counts
                    .entry(id)
                    .or_default()
                    .insert(kind, u32::try_from(n).unwrap_or(u32::MAX));
            }
            after = Some(last);
            for lead in page {
                if let Some(y) =
                    super::backtest::label(lead.stage, outcomes.get(&lead.id).map(String::as_str))
                {
                    let c = counts.remove(&lead.id).unwrap_or_default();
                    history.push((lead.fields, c, y));
                }
            }
        }
        // Training is CPU work: off the async threads.
        let report = tokio::task::spawn_blocking(move || {
            let examples: Vec<Example<'_>> = history
                .iter()
                .map(|(fields, counts, y)| Example {
                    fields,
                    activity_counts: counts,
                    converted: *y,
                })
                .collect();
            train(&examples, &exclude, 42).map(|t| t.report)
        })
        .await
        .map_err(|e| crate::error::AppError::Internal(format!("training stopped: {e}")))?
        .map_err(|e| crate::error::invalid("", "cannot_train", e.to_string()))?;
        tracing::info!(
            leads = report.leads,
            auc = report.holdout_auc,
            "predictive model trained"
        );
        Ok(report)
    }
}
