//! Scoring use cases: models and their versions, scoring a lead when something happens to
//! it, full re-scores in the background, qualification by threshold, and explanations.

mod backtest;
mod models;
mod predict;
mod rescore;

pub use backtest::BacktestReport;
pub use models::{DiffLine, ModelSummary, VersionSummary};
pub use predict::{
    FeatureShare, LeadPrediction, PredictionField, PredictionModel, PredictionSettings,
    PredictionStatus, ShownReason,
};
pub use rescore::ScoringJob;

use crate::App;
use crate::error::{AppError, AppResult};
use chrono::{DateTime, Utc};
use leadline_domain::lead::Grade;
use leadline_domain::scoring::engine::{Contribution, Event, Scored, Scorer};
use leadline_domain::scoring::qualification::QualificationSettings;
use leadline_domain::scoring::rules::ModelDefinition;
use leadline_domain::time::{from_micros, now, to_micros};
use leadline_domain::{Lead, Principal, Stage};
use leadline_store::history::StageChange;
use leadline_store::scoring::{self as store, EventRow, HistoryRow, ModelRow, ScoreRow};
use leadline_store::{DbTx, leads};
use serde::Serialize;
use uuid::Uuid;

/// The key of the model a new installation starts with.
pub const DEFAULT_MODEL: &str = "default";

/// At most this many of a lead's newest activities count towards its score.
pub const MAX_EVENTS: i64 = 5_000;

/// A model in force: its stored row, active version and prepared scorer.
pub(crate) struct Active {
    pub row: ModelRow,
    pub version: i32,
    pub scorer: std::sync::Arc<Scorer>,
}

/// Creates the starter model when no model exists yet, inside the caller's transaction.
async fn ensure_models(tx: &mut DbTx, by: &str) -> AppResult<()> {
    if !store::models(tx.conn()).await?.is_empty() {
        return Ok(());
    }
    let t = to_micros(now());
    // Two first requests may race here: the one that adds the model writes its rules.
    if !store::insert_model(
        tx.conn(),
        &ModelRow {
            key: DEFAULT_MODEL.into(),
            is_default: true,
            active_version: None,
            created_at: t,
        },
    )
    .await?
    {
        return Ok(());
    }
    let def = serde_json::to_value(ModelDefinition::starter())
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let v =
        store::insert_version(tx.conn(), DEFAULT_MODEL, &def, Some("starter rules"), by, t).await?;
    store::activate(tx.conn(), DEFAULT_MODEL, v, t).await?;
    Ok(())
}

/// The models in force, the default first (creating the starter model on first use).
/// Every event scores through here, so the usual case is one read.
pub(crate) async fn active_models(tx: &mut DbTx) -> AppResult<Vec<Active>> {
    let models = models_in(tx.conn()).await?;
    if !models.is_empty() {
        return Ok(models);
    }
    ensure_models(tx, "system").await?;
    models_in(tx.conn()).await
}

/// Prepared scorers by their definition's text: preparing one (patterns compiled) costs
/// more than scoring a lead, and every event scores one. Keyed by content, so several
/// databases in one process (tests) never share a wrong scorer.
static PREPARED: std::sync::LazyLock<
    std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<Scorer>>>,
> = std::sync::LazyLock::new(Default::default);

fn prepared(
    key: &str,
    version: i32,
    definition: serde_json::Value,
) -> AppResult<std::sync::Arc<Scorer>> {
    let text = definition.to_string();
    if let Ok(cache) = PREPARED.lock()
        && let Some(s) = cache.get(&text)
    {
        return Ok(s.clone());
    }
    let def: ModelDefinition = serde_json::from_value(definition)
        .map_err(|e| AppError::Internal(format!("stored scoring model {key} v{version}: {e}")))?;
    let scorer = std::sync::Arc::new(Scorer::new(def));
    if let Ok(mut cache) = PREPARED.lock() {
        // Versions are few; a bound keeps a long-running process from growing without end.
        if cache.len() > 256 {
            cache.clear();
        }
        cache.insert(text, scorer.clone());
    }
    Ok(scorer)
}

/// The models in force, read on any connection.
async fn models_in(mut conn: leadline_store::Conn<'_>) -> AppResult<Vec<Active>> {
    let mut out = Vec::new();
    for row in store::models(conn.reborrow()).await? {
        let Some(v) = row.active_version else {
            continue;
        };
        let Some(ver) = store::version(conn.reborrow(), &row.key, v).await? else {
            continue;
        };
        out.push(Active {
            scorer: prepared(&row.key, v, ver.definition.0)?,
            version: v,
            row,
        });
    }
    Ok(out)
}

impl App {
    /// The models in force for reading: on a read connection, unless the starter model
    /// still has to be created (a page view should not queue behind SQLite's writer).
    async fn read_models(&self) -> AppResult<Vec<Active>> {
        {
            let mut c = self.db.acquire().await?;
            let m = models_in(c.conn()).await?;
            if !m.is_empty() {
                return Ok(m);
            }
        }
        let mut tx = self.db.begin().await?;
        let m = active_models(&mut tx).await?;
        tx.commit().await?;
        Ok(m)
    }
}

/// Events as the engine reads them, borrowing the rows.
pub(crate) fn events(rows: &[EventRow]) -> Vec<Event<'_>> {
    rows.iter()
        .map(|(_, id, kind, at, props)| Event {
            id: *id,
            kind: kind.as_str(),
            occurred_at: from_micros(*at),
            properties: &props.0,
        })
        .collect()
}

/// The stage a score moves a lead to under the model's thresholds, if any, with why.
pub(crate) fn qualification(scorer: &Scorer, stage: Stage, s: &Scored) -> Option<(Stage, String)> {
    let q = scorer.model.qualification;
    let qualifies = s.score >= q.mql_score && s.grade <= q.mql_grade;
    match stage {
        Stage::New | Stage::Nurture if qualifies => Some((
            Stage::Mql,
            format!(
                "score {} ≥ {} and grade {} (at least {})",
                s.score,
                q.mql_score,
                s.grade.as_str(),
                q.mql_grade.as_str()
            ),
        )),
        Stage::Mql => q.nurture_below.filter(|n| s.score < *n).map(|n| {
            (
                Stage::Nurture,
                format!("score decayed to {} (below {n})", s.score),
            )
        }),
        _ => None,
    }
}

/// Re-scores one lead under every model in force, inside the caller's transaction: stores
/// the scores (lists read the default model's from there), records changes in the score
/// history with `cause`, and moves the lead to `mql` or `nurture` when a threshold
/// is crossed; then routes the lead if it has no owner or queue yet (see
/// [`crate::routing`]). Returns the lead's default-model score.
pub(crate) async fn score_lead_in(
    tx: &mut DbTx,
    lead_id: Uuid,
    cause: &str,
) -> AppResult<Option<Scored>> {
    let Some(lead) = leads::get(tx.conn(), lead_id).await? else {
        return Ok(None);
    };
    let models = active_models(tx).await?;
    let previous = store::scores_of(tx.conn(), lead_id).await?;
    let t = now();
    let mut default_score = None;
    for m in &models {
        let rows =
            store::events_of(tx.conn(), lead_id, &m.scorer.activity_kinds(), MAX_EVENTS).await?;
        let s = m.scorer.score(&lead.fields, &events(&rows), t);
        let before = previous.iter().find(|p| p.model_key == m.row.key);
        let changed = before.is_none_or(|b| {
            b.score != s.score || b.grade != s.grade.as_str() || b.version != m.version
        });
        if changed {
            store::upsert_scores(
                tx.conn(),
                &[ScoreRow {
                    lead_id,
                    model_key: m.row.key.clone(),
                    score: s.score,
                    fit: s.fit,
                    grade: s.grade.as_str().into(),
                    priority: s.priority.clone(),
                    version: m.version,
                    computed_at: to_micros(t),
                }],
            )
            .await?;
            store::insert_history(
                tx.conn(),
                &HistoryRow {
                    id: Uuid::now_v7(),
                    lead_id,
                    model_key: m.row.key.clone(),
                    at: to_micros(t),
                    score: s.score,
                    grade: s.grade.as_str().into(),
                    version: m.version,
                    cause: cause.into(),
                },
            )
            .await?;
        }
        if m.row.is_default {
            if changed {
                crate::nurture::run::enroll_on_score_in(
                    tx,
                    lead_id,
                    before.map(|b| b.score),
                    s.score,
                )
                .await?;
            }
            if let Some((to, why)) = qualification(&m.scorer, lead.stage, &s) {
                auto_transition(
                    tx,
                    &lead,
                    to,
                    &format!("{why}; model {} v{}", m.row.key, m.version),
                    "scoring",
                )
                .await?;
            }
            default_score = Some(s);
        }
    }
    predict::predict_lead_in(tx, &lead).await?;
    // Event-driven distribution: scored, then routed, in the same transaction.
    crate::routing::route_lead_in(tx, lead_id, true).await?;
    // Then its follow-up clock, which needs the stage and priority just computed.
    crate::sla::follow_lead_in(tx, lead_id).await?;
    Ok(default_score)
}

/// An automatic stage change, recorded with the rule that fired.
/// Moves a lead on by a rule (the score crossed a threshold, a cadence ran out), when the
/// lifecycle allows it; `actor` names the rule in the stage history.
pub(crate) async fn auto_transition(
    tx: &mut DbTx,
    lead: &Lead,
    to: Stage,
    why: &str,
    actor: &str,
) -> AppResult<()> {
    let Ok(to) = lead.stage.transition(to, None) else {
        return Ok(());
    };
    let t = now();
    let next = Lead {
        stage: to,
        updated_at: t,
        version: lead.version + 1,
        ..lead.clone()
    };
    if !leads::update(tx.conn(), &next, lead.version).await? {
        return Err(AppError::Conflict(
            "the lead changed while it was scored; retry".into(),
        ));
    }
    crate::events::stage_changed_in(
        tx,
        StageChange {
            id: Uuid::now_v7(),
            lead_id: lead.id,
            from_stage: Some(lead.stage.as_str().into()),
            to_stage: to.as_str().into(),
            reason: None,
            note: Some(why.into()),
            actor: actor.into(),
            at: t,
        },
    )
    .await?;
    tracing::debug!(lead_id = %lead.id, to = to.as_str(), actor, "stage changed by rule");
    Ok(())
}

/// Why a lead is (or is not) a marketing-qualified lead under a model.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MqlExplanation {
    pub qualifies: bool,
    pub mql_score: i32,
    pub mql_grade: Grade,
    /// In words, e.g. `score 52 ≥ 40 and grade B (at least C)`.
    pub summary: String,
}

/// A lead's score under one model with every point explained.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LeadScore {
    pub model_key: String,
    pub model_name: String,
    pub is_default: bool,
    /// The version in force, which computed these figures.
    pub version: i32,
    pub score: i32,
    pub fit: i32,
    pub grade: Grade,
    pub priority: String,
    pub computed_at: DateTime<Utc>,
    /// Each point: rule, activity, date, points earned and their value today.
    pub contributions: Vec<Contribution>,
    pub mql: MqlExplanation,
}

impl App {
    /// A lead's scores under every model in force, computed now, each point explained,
    /// with why it is or is not an MQL.
    pub async fn lead_score(&self, by: &Principal, id: Uuid) -> AppResult<Vec<LeadScore>> {
        let lead = self.get_lead(by, id).await?;
        let models = self.read_models().await?;
        let mut c = self.db.acquire().await?;
        let t = now();
        let mut out = Vec::new();
        for m in models {
            let rows =
                store::events_of(c.conn(), id, &m.scorer.activity_kinds(), MAX_EVENTS).await?;
            let s = m.scorer.score(&lead.fields, &events(&rows), t);
            let q = m.scorer.model.qualification;
            let qualifies = s.score >= q.mql_score && s.grade <= q.mql_grade;
            let summary = format!(
                "score {} {} {} and grade {} {} {}",
                s.score,
                if s.score >= q.mql_score { "≥" } else { "<" },
                q.mql_score,
                s.grade.as_str(),
                if s.grade <= q.mql_grade {
                    "meets"
                } else {
                    "is below"
                },
                q.mql_grade.as_str()
            );
            out.push(LeadScore {
                model_key: m.row.key.clone(),
                model_name: m.scorer.model.name.clone(),
                is_default: m.row.is_default,
                version: m.version,
                score: s.score,
                fit: s.fit,
                grade: s.grade,
                priority: s.priority,
                computed_at: t,
                contributions: s.contributions,
                mql: MqlExplanation {
                    qualifies,
                    mql_score: q.mql_score,
                    mql_grade: q.mql_grade,
                    summary,
                },
            });
        }
        Ok(out)
    }

    /// Re-scores one lead now (after something changed it outside an event).
    pub async fn rescore_lead(&self, by: &Principal, id: Uuid) -> AppResult<Vec<LeadScore>> {
        self.get_lead(by, id).await?;
        let mut tx = self.db.begin().await?;
        score_lead_in(&mut tx, id, "re-scored by hand").await?;
        tx.commit().await?;
        self.lead_score(by, id).await
    }

    /// A lead's recorded score changes under a model, oldest first.
    pub async fn score_history(
        &self,
        by: &Principal,
        id: Uuid,
        model: &str,
    ) -> AppResult<Vec<ScorePoint>> {
        self.get_lead(by, id).await?;
        let mut c = self.db.acquire().await?;
        Ok(store::history(c.conn(), id, model, 500)
            .await?
            .into_iter()
            .map(|h| ScorePoint {
                at: from_micros(h.at),
                score: h.score,
                grade: h.grade,
                version: h.version,
                cause: h.cause,
            })
            .collect())
    }
}

const QUALIFICATION_KEY: &str = "qualification";

/// The qualification settings, inside the caller's transaction.
pub(crate) async fn qualification_settings_in(tx: &mut DbTx) -> AppResult<QualificationSettings> {
    match leadline_store::settings::get(tx.conn(), QUALIFICATION_KEY).await? {
        None => Ok(QualificationSettings::default()),
        Some(v) => serde_json::from_value(v)
            .map_err(|e| AppError::Internal(format!("stored qualification settings: {e}"))),
    }
}

impl App {
    /// The qualification settings (BANT fields required for `sql`).
    pub async fn qualification_settings(&self) -> AppResult<QualificationSettings> {
        let mut tx = self.db.begin().await?;
        let s = qualification_settings_in(&mut tx).await?;
        tx.commit().await?;
        Ok(s)
    }

    /// Replaces the qualification settings (admins and managers).
    pub async fn set_qualification_settings(
        &self,
        by: &Principal,
        mut input: QualificationSettings,
    ) -> AppResult<QualificationSettings> {
        if !by.can_delete_leads() {
            return Err(AppError::Forbidden(
                "qualification rules are for admins and managers".into(),
            ));
        }
        input.sql_requires.sort_by_key(|b| b.as_str());
        input.sql_requires.dedup();
        let value = serde_json::to_value(&input).map_err(|e| AppError::Internal(e.to_string()))?;
        let mut tx = self.db.begin().await?;
        leadline_store::settings::put(tx.conn(), QUALIFICATION_KEY, &value, to_micros(now()))
            .await?;
        crate::admin::audit(
            &mut tx,
            by,
            "settings.qualification",
            "settings",
            None,
            value,
        )
        .await?;
        tx.commit().await?;
        Ok(input)
    }
}

/// A lead's default-model score at one moment.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CurvePoint {
    pub at: DateTime<Utc>,
    pub score: i32,
    pub grade: Grade,
}

impl App {
    /// The lead's default-model score over the last `days` days, computed from its
    /// activities at `points` moments (the rules in force applied to the past: how the lead
    /// warmed up and cooled down).
    pub async fn score_curve(
        &self,
        by: &Principal,
        id: Uuid,
        days: i64,
        points: i64,
    ) -> AppResult<Vec<CurvePoint>> {
        let lead = self.get_lead(by, id).await?;
        let models = self.read_models().await?;
        let Some(m) = models.into_iter().find(|m| m.row.is_default) else {
            return Ok(Vec::new());
        };
        let rows = {
            let mut c = self.db.acquire().await?;
            store::events_of(c.conn(), id, &m.scorer.activity_kinds(), MAX_EVENTS).await?
        };
        let evs = events(&rows);
        let t = now();
        let (days, points) = (days.clamp(1, 3650), points.clamp(2, 200));
        let step = chrono::Duration::seconds(days * 86_400 / (points - 1));
        Ok((0..points)
            .map(|i| {
                let at = t - step * i32::try_from(points - 1 - i).unwrap_or(0);
                let s = m.scorer.score(&lead.fields, &evs, at);
                CurvePoint {
                    at,
                    score: s.score,
                    grade: s.grade,
                }
            })
            .collect())
    }
}

/// A recorded score change.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ScorePoint {
    pub at: DateTime<Utc>,
    pub score: i32,
    pub grade: String,
    pub version: i32,
    /// What caused it, e.g. `activity page_view`.
    pub cause: String,
}
