//! Predictive scoring: training a conversion model on the database's own history (leads
//! with a known outcome) as a background job, serving it (every lead gets a probability,
//! kept current as events arrive), explaining a lead's prediction, and the fields an admin
//! keeps out of it.

use crate::App;
use crate::admin::audit;
use crate::auth::{require_admin, require_marketing};
use crate::error::{AppError, AppResult, invalid};
use chrono::{DateTime, Utc};
use leadline_domain::custom_field::CustomFieldDef;
use leadline_domain::scoring::predict::{
    Example, PROFILE_FIELDS, Reason, Trained, TrainingReport, train,
};
use leadline_domain::time::{from_micros, now, to_micros};
use leadline_domain::{Lead, Principal};
use leadline_store::prediction::{self as store, ModelRow};
use leadline_store::scoring::{activity_counts_in_range, outcomes_in_range};
use leadline_store::{DbTx, leads, settings};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, LazyLock, Mutex};
use uuid::Uuid;

/// Where the fields kept out of prediction are stored.
const SETTINGS_KEY: &str = "prediction";

/// Leads per page of a scoring pass.
const PAGE: i64 = 5_000;

/// Reasons shown per lead.
const REASONS: usize = 5;

/// The fields an admin keeps out of every model ("not for prediction"): fields filled in
/// after the outcome is known, or ids.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PredictionSettings {
    /// Lead fields by name (`industry`), custom fields as `custom.KEY`.
    pub excluded: Vec<String>,
}

/// A field a model may learn from, as the settings page lists it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PredictionField {
    /// `industry`, `custom.KEY`.
    pub name: String,
    pub label: String,
    pub excluded: bool,
}

/// A training run: a job while it runs, then a model or the reason it failed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PredictionModel {
    pub id: Uuid,
    /// `training`, `scoring` (trained, predicting every lead), `ready` or `failed`.
    pub state: String,
    /// Serving predictions now.
    pub active: bool,
    /// Fields it did not learn from.
    pub excluded: Vec<String>,
    /// How it measured on held-out leads; present once trained.
    pub report: Option<TrainingReport>,
    pub error: Option<String>,
    /// Leads to predict in the scoring pass, and how many are done.
    pub total: i64,
    pub done: i64,
    pub started_by: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<ModelRow> for PredictionModel {
    fn from(r: ModelRow) -> Self {
        PredictionModel {
            id: r.id,
            state: r.state,
            active: r.active,
            excluded: r.excluded,
            report: r.report.and_then(|j| serde_json::from_value(j).ok()),
            error: r.error,
            total: r.total,
            done: r.done,
            started_by: r.started_by,
            started_at: from_micros(r.started_at),
            finished_at: r.finished_at.map(from_micros),
        }
    }
}

/// The predictive model's state, as `leadline model status` and the scoring page show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PredictionStatus {
    /// The model in force, if one was trained.
    pub active: Option<PredictionModel>,
    /// Leads with a probability from the model in force.
    pub predicted_leads: i64,
    /// The model in force's ten most important features with their share of its gain.
    pub top_features: Vec<FeatureShare>,
    /// The newest training runs, newest first.
    pub runs: Vec<PredictionModel>,
    pub fields: Vec<PredictionField>,
}

/// A feature's share of a model's gain.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FeatureShare {
    pub name: String,
    pub label: String,
    pub share: f32,
}

/// One reason for a lead's prediction, as shown.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ShownReason {
    /// The feature as a person reads it (custom fields by label).
    pub label: String,
    #[serde(flatten)]
    pub reason: Reason,
}

/// A lead's predicted conversion, explained.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LeadPrediction {
    pub model_id: Uuid,
    /// The probability that the lead converts (0 to 1).
    pub probability: f64,
    pub computed_at: DateTime<Utc>,
    /// The features that moved it most, strongest first.
    pub reasons: Vec<ShownReason>,
}

/// Models read back from the database, by id: reading one (a large JSON document) costs far
/// more than predicting a lead, and every event predicts one. Models are never changed, so an
/// id always means the same model.
static LOADED: LazyLock<Mutex<HashMap<Uuid, Arc<Trained>>>> = LazyLock::new(Default::default);

/// The model in force, if any.
async fn predictor(mut conn: leadline_store::Conn<'_>) -> AppResult<Option<(Uuid, Arc<Trained>)>> {
    let Some(id) = store::active_id(conn.reborrow()).await? else {
        return Ok(None);
    };
    if let Ok(cache) = LOADED.lock()
        && let Some(m) = cache.get(&id)
    {
        return Ok(Some((id, m.clone())));
    }
    let Some(text) = store::model_text(conn, id).await? else {
        return Ok(None);
    };
    let model = Arc::new(
        Trained::from_json(&text)
            .map_err(|e| AppError::Internal(format!("predictive model {id}: {e}")))?,
    );
    if let Ok(mut cache) = LOADED.lock() {
        if cache.len() >= 4 {
            cache.clear();
        }
        cache.insert(id, model.clone());
    }
    Ok(Some((id, model)))
}

fn counts_by_kind(rows: Vec<(String, i64)>) -> BTreeMap<String, u32> {
    rows.into_iter()
        .map(|(k, n)| (k, u32::try_from(n).unwrap_or(u32::MAX)))
        .collect()
}

/// Activities by kind of each lead with an id from `first` to `last`.
async fn counts_in_range(
    conn: leadline_store::Conn<'_>,
    first: Uuid,
    last: Uuid,
) -> AppResult<HashMap<Uuid, BTreeMap<String, u32>>> {
    let mut counts: HashMap<Uuid, BTreeMap<String, u32>> = HashMap::new();
    for (id, kind, n) in activity_counts_in_range(conn, first, last).await? {
        counts
            .entry(id)
            .or_default()
            .insert(kind, u32::try_from(n).unwrap_or(u32::MAX));
    }
    Ok(counts)
}

/// Predicts a page of leads with `model` and stores the probabilities, inside `tx`.
async fn predict_page_in(
    tx: &mut DbTx,
    model_id: Uuid,
    model: &Trained,
    page: &[Lead],
) -> AppResult<()> {
    let (Some(first), Some(last)) = (
        page.iter().map(|l| l.id).min(),
        page.iter().map(|l| l.id).max(),
    ) else {
        return Ok(());
    };
    let counts = counts_in_range(tx.conn(), first, last).await?;
    let none = BTreeMap::new();
    let input: Vec<_> = page
        .iter()
        .map(|l| (&l.fields, counts.get(&l.id).unwrap_or(&none)))
        .collect();
    let t = to_micros(now());
    let rows: Vec<store::PredictionRow> = page
        .iter()
        .zip(model.probabilities(&input))
        .map(|(l, p)| (l.id, model_id, p, t))
        .collect();
    store::upsert(tx.conn(), &rows).await?;
    Ok(())
}

/// Predicts a page of newly written leads (an import's) with the model in force, if any.
pub(crate) async fn predict_unscored_in(tx: &mut DbTx, page: &[Lead]) -> AppResult<()> {
    if let Some((id, model)) = predictor(tx.conn()).await? {
        predict_page_in(tx, id, &model, page).await?;
    }
    Ok(())
}

/// Predicts one lead again (something happened to it) with the model in force, if any.
pub(crate) async fn predict_lead_in(tx: &mut DbTx, lead: &Lead) -> AppResult<()> {
    let Some((id, model)) = predictor(tx.conn()).await? else {
        return Ok(());
    };
    let counts = counts_by_kind(store::activity_counts_of(tx.conn(), lead.id).await?);
    let p = model.probability(&lead.fields, &counts);
    store::upsert(tx.conn(), &[(lead.id, id, p, to_micros(now()))]).await?;
    Ok(())
}

/// How a feature reads to a person.
fn feature_label(name: &str, defs: &[CustomFieldDef]) -> String {
    if let Some(key) = name.strip_prefix("custom.") {
        return defs
            .iter()
            .find(|d| d.key == key)
            .map_or_else(|| key.to_owned(), |d| d.label.clone());
    }
    if let Some(kind) = name.strip_prefix("activities: ") {
        return format!("Activities: {}", kind.replace('_', " "));
    }
    if name == "first_touch.source" {
        return "First source".into();
    }
    let mut s = name.replace('_', " ");
    if let Some(c) = s.get(..1) {
        let up = c.to_uppercase();
        s.replace_range(..1, &up);
    }
    s
}

/// Field names as given (name, key or label) to the names models use.
fn canonical(names: &[String], defs: &[CustomFieldDef]) -> Vec<String> {
    let mut out: Vec<String> = names
        .iter()
        .map(|x| x.trim())
        .filter(|x| !x.is_empty())
        .map(|x| {
            let bare = x.strip_prefix("custom.").unwrap_or(x);
            defs.iter()
                .find(|d| d.label.eq_ignore_ascii_case(bare) || d.key.eq_ignore_ascii_case(bare))
                .map_or_else(|| x.to_lowercase(), |d| format!("custom.{}", d.key))
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Refuses names (canonical, see `canonical`) that are no field a model learns from.
fn learnable(names: &[String], defs: &[CustomFieldDef], field: &str) -> AppResult<()> {
    match names.iter().find(|n| {
        !PROFILE_FIELDS.contains(&n.as_str())
            && !n
                .strip_prefix("custom.")
                .is_some_and(|k| defs.iter().any(|d| d.key == k))
    }) {
        Some(unknown) => Err(invalid(
            field,
            "unknown_field",
            format!("{unknown} is not a field a model learns from"),
        )),
        None => Ok(()),
    }
}

impl App {
    /// The fields kept out of prediction.
    pub async fn prediction_settings(&self) -> AppResult<PredictionSettings> {
        let mut c = self.db.acquire().await?;
        Ok(settings::get(c.conn(), SETTINGS_KEY)
            .await?
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default())
    }

    /// Marks the fields kept out of prediction (admins). Names are lead fields or custom
    /// fields by key or label; an unknown name is an error. Takes effect at the next training.
    pub async fn set_prediction_settings(
        &self,
        by: &Principal,
        input: PredictionSettings,
    ) -> AppResult<PredictionSettings> {
        require_admin(by)?;
        let defs = self.custom_fields().await?;
        let excluded = canonical(&input.excluded, &defs);
        learnable(&excluded, &defs, "excluded")?;
        let out = PredictionSettings { excluded };
        let value = serde_json::to_value(&out).map_err(|e| AppError::Internal(e.to_string()))?;
        let mut tx = self.db.begin().await?;
        settings::put(tx.conn(), SETTINGS_KEY, &value, to_micros(now())).await?;
        audit(&mut tx, by, "settings.prediction", "settings", None, value).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// The model in force, the newest training runs and the fields a model may learn from.
    pub async fn prediction_status(&self, _by: &Principal) -> AppResult<PredictionStatus> {
        let defs = self.custom_fields().await?;
        let settings = self.prediction_settings().await?;
        let mut c = self.db.acquire().await?;
        let active = store::active(c.conn()).await?;
        let predicted_leads = match &active {
            Some(a) => store::count_by_model(c.conn(), a.id).await?,
            None => 0,
        };
        let runs = store::recent(c.conn(), 10).await?;
        let fields = PROFILE_FIELDS
            .iter()
            .map(|n| (*n).to_owned())
            .chain(defs.iter().map(|d| format!("custom.{}", d.key)))
            .map(|name| PredictionField {
                label: feature_label(&name, &defs),
                excluded: settings.excluded.contains(&name),
                name,
            })
            .collect();
        let active: Option<PredictionModel> = active.map(Into::into);
        let top_features = active
            .as_ref()
            .and_then(|m| m.report.as_ref())
            .map(|r| {
                r.importance
                    .iter()
                    .take(10)
                    .map(|(name, share)| FeatureShare {
                        label: feature_label(name, &defs),
                        name: name.clone(),
                        share: *share,
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(PredictionStatus {
            top_features,
            active,
            predicted_leads,
            runs: runs.into_iter().map(Into::into).collect(),
            fields,
        })
    }

    /// One training run.
    pub async fn prediction_model(&self, _by: &Principal, id: Uuid) -> AppResult<PredictionModel> {
        let mut c = self.db.acquire().await?;
        store::get(c.conn(), id)
            .await?
            .map(Into::into)
            .ok_or(AppError::NotFound("predictive model"))
    }

    async fn new_training(&self, by: &Principal, extra: &[String]) -> AppResult<ModelRow> {
        require_marketing(by, "training the predictive model")?;
        let defs = self.custom_fields().await?;
        let mut excluded = self.prediction_settings().await?.excluded;
        // Names matching no learnable field (an import column mapped to a lead id, say)
        // leave nothing out and are harmless here; the settings refuse them.
        excluded.extend(canonical(extra, &defs));
        excluded.sort();
        excluded.dedup();
        let t = to_micros(now());
        let row = ModelRow {
            id: Uuid::now_v7(),
            state: "training".into(),
            active: false,
            excluded,
            report: None,
            error: None,
            total: 0,
            done: 0,
            started_by: by.label.clone(),
            started_at: t,
            updated_at: t,
            finished_at: None,
        };
        let mut tx = self.db.begin().await?;
        store::insert(tx.conn(), &row).await?;
        tx.commit().await?;
        Ok(row)
    }

    /// Starts training a conversion model in the background, leaving out the fields marked
    /// "not for prediction" and `extra` (names, keys or labels). Follow it with
    /// [`App::prediction_model`]; once trained, it replaces the model in force and every
    /// lead is predicted again.
    pub async fn start_training(
        &self,
        by: &Principal,
        extra: &[String],
    ) -> AppResult<PredictionModel> {
        let row = self.new_training(by, extra).await?;
        let app = self.clone();
        let id = row.id;
        tokio::spawn(async move {
            if let Err(e) = app.run_training(id, |_| {}).await {
                tracing::warn!(model_id = %id, error = %e, "training failed");
            }
        });
        Ok(row.into())
    }

    /// Trains a conversion model now (the CLI; the server uses [`App::start_training`]).
    /// `progress` gets the run after each step. A run that cannot train (too few outcomes)
    /// is recorded as failed and returned as a validation error; the model in force stays.
    pub async fn train_prediction(
        &self,
        by: &Principal,
        extra: &[String],
        progress: impl FnMut(&PredictionModel),
    ) -> AppResult<PredictionModel> {
        let row = self.new_training(by, extra).await?;
        self.run_training(row.id, progress).await
    }

    /// Trains again when the model in force is older than `max_age` (new outcomes keep
    /// arriving); nothing when no model was ever trained (training is opted into).
    pub async fn retrain_if_stale(
        &self,
        by: &Principal,
        max_age: chrono::Duration,
    ) -> AppResult<Option<PredictionModel>> {
        let (active, runs) = {
            let mut c = self.db.acquire().await?;
            (
                store::active(c.conn()).await?,
                store::recent(c.conn(), 10).await?,
            )
        };
        let cutoff = to_micros(now() - max_age);
        let Some(active) = active else {
            return Ok(None);
        };
        let busy = runs
            .iter()
            .any(|r| matches!(r.state.as_str(), "training" | "scoring") && r.updated_at >= cutoff);
        if busy || active.started_at >= cutoff {
            return Ok(None);
        }
        self.train_prediction(by, &[], |_| {}).await.map(Some)
    }

    /// Marks training runs a stopped process left unfinished as failed (at start, before
    /// anything can be training), so no page waits on them.
    pub async fn fail_interrupted_training(&self) -> AppResult<usize> {
        let runs = {
            let mut c = self.db.acquire().await?;
            store::recent(c.conn(), 50).await?
        };
        let mut n = 0;
        for mut r in runs
            .into_iter()
            .filter(|r| matches!(r.state.as_str(), "training" | "scoring"))
        {
            let t = to_micros(now());
            // A model that was trained and put in force stays; only its pass was cut short.
            r.state = if r.active { "ready" } else { "failed" }.into();
            r.error = Some("interrupted: the server stopped during this run".into());
            r.updated_at = t;
            r.finished_at = Some(t);
            let mut tx = self.db.begin().await?;
            store::update(tx.conn(), &r).await?;
            tx.commit().await?;
            n += 1;
        }
        Ok(n)
    }

    async fn run_training(
        &self,
        id: Uuid,
        mut progress: impl FnMut(&PredictionModel),
    ) -> AppResult<PredictionModel> {
        let mut row = {
            let mut c = self.db.acquire().await?;
            store::get(c.conn(), id)
                .await?
                .ok_or(AppError::NotFound("predictive model"))?
        };
        let result = self.train_and_serve(&mut row, &mut progress).await;
        let t = to_micros(now());
        row.updated_at = t;
        row.finished_at = Some(t);
        match &result {
            Ok(()) => row.state = "ready".into(),
            Err(e) => {
                row.state = "failed".into();
                row.error = Some(e.to_string());
            }
        }
        let mut tx = self.db.begin().await?;
        store::update(tx.conn(), &row).await?;
        tx.commit().await?;
        result?;
        tracing::info!(model_id = %id, leads = row.done, "predictive model in force");
        let out: PredictionModel = row.into();
        progress(&out);
        Ok(out)
    }

    async fn train_and_serve(
        &self,
        row: &mut ModelRow,
        progress: &mut impl FnMut(&PredictionModel),
    ) -> AppResult<()> {
        let history = self.outcome_history().await?;
        let exclude = row.excluded.clone();
        // Training is CPU work: off the async threads.
        let trained = tokio::task::spawn_blocking(move || {
            let examples: Vec<Example<'_>> = history
                .iter()
                .map(|(fields, counts, y)| Example {
                    fields,
                    activity_counts: counts,
                    converted: *y,
                })
                .collect();
            train(&examples, &exclude, 42)
        })
        .await
        .map_err(|e| AppError::Internal(format!("training stopped: {e}")))?
        .map_err(|e| invalid("", "cannot_train", e.to_string()))?;
        let text = trained
            .to_json()
            .map_err(|e| AppError::Internal(e.to_string()))?;
        row.report = Some(
            serde_json::to_value(&trained.report).map_err(|e| AppError::Internal(e.to_string()))?,
        );
        row.state = "scoring".into();
        row.updated_at = to_micros(now());
        {
            let mut tx = self.db.begin().await?;
            row.total = leads::count(tx.conn()).await?;
            store::set_model(tx.conn(), row.id, &text).await?;
            store::update(tx.conn(), row).await?;
            store::activate(tx.conn(), row.id).await?;
            tx.commit().await?;
        }
        row.active = true;
        tracing::info!(
            model_id = %row.id,
            leads = trained.report.leads,
            auc = trained.report.holdout_auc,
            "predictive model trained"
        );
        progress(&row.clone().into());
        let mut after = None;
        loop {
            let page = {
                let mut c = self.db.acquire().await?;
                leads::page_by_id(c.conn(), after, PAGE).await?
            };
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            let mut tx = self.db.begin().await?;
            predict_page_in(&mut tx, row.id, &trained, &page).await?;
            row.done += page.len() as i64;
            row.updated_at = to_micros(now());
            store::update(tx.conn(), row).await?;
            tx.commit().await?;
            progress(&row.clone().into());
        }
        Ok(())
    }

    /// Every lead with a known outcome: its fields, activities by kind and whether it
    /// converted.
    async fn outcome_history(
        &self,
    ) -> AppResult<Vec<(leadline_domain::LeadFields, BTreeMap<String, u32>, bool)>> {
        let mut history = Vec::new();
        let mut after = None;
        loop {
            let mut c = self.db.acquire().await?;
            let page = leads::page_by_id(c.conn(), after, PAGE).await?;
            let (Some(first), Some(last)) = (page.first(), page.last()) else {
                break;
            };
            let (first, last) = (first.id, last.id);
            let outcomes: HashMap<Uuid, String> = outcomes_in_range(c.conn(), first, last)
                .await?
                .into_iter()
                .collect();
            let mut counts = counts_in_range(c.conn(), first, last).await?;
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
        Ok(history)
    }

    /// A lead's predicted conversion with the features that moved it most; `None` when no
    /// model was trained.
    pub async fn lead_prediction(
        &self,
        by: &Principal,
        id: Uuid,
    ) -> AppResult<Option<LeadPrediction>> {
        let lead = self.get_lead(by, id).await?;
        let defs = self.custom_fields().await?;
        let mut c = self.db.acquire().await?;
        let Some((model_id, model)) = predictor(c.conn()).await? else {
            return Ok(None);
        };
        let counts = counts_by_kind(store::activity_counts_of(c.conn(), id).await?);
        let stored = store::of_lead(c.conn(), id)
            .await?
            .filter(|(_, m, _, _)| *m == model_id);
        // A lead the model has not reached yet (a scoring pass still running) is predicted
        // now.
        let (probability, computed_at) = match stored {
            Some((_, _, p, at)) => (p, from_micros(at)),
            None => (model.probability(&lead.fields, &counts), now()),
        };
        let reasons = model
            .reasons(&lead.fields, &counts, REASONS)
            .into_iter()
            .map(|r| ShownReason {
                label: feature_label(&r.feature, &defs),
                reason: r,
            })
            .collect();
        Ok(Some(LeadPrediction {
            model_id,
            probability,
            computed_at,
            reasons,
        }))
    }

    /// The predicted conversion of these leads (those that have one).
    pub async fn predictions_of(&self, ids: &[Uuid]) -> AppResult<HashMap<Uuid, f64>> {
        let mut c = self.db.acquire().await?;
        Ok(store::of_leads(c.conn(), ids).await?.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_read_as_people_name_them() {
        assert_eq!(feature_label("industry", &[]), "Industry");
        assert_eq!(feature_label("annual_revenue", &[]), "Annual revenue");
        assert_eq!(feature_label("first_touch.source", &[]), "First source");
        assert_eq!(
            feature_label("activities: page_view", &[]),
            "Activities: page view"
        );
        assert_eq!(feature_label("custom.tags", &[]), "tags");
    }

    #[test]
    fn names_are_canonical_and_deduplicated() {
        let got = canonical(
            &["Industry".into(), " industry ".into(), String::new()],
            &[],
        );
        assert_eq!(got, vec!["industry".to_owned()]);
    }
}
