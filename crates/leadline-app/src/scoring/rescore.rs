//! Full re-scores: every lead under one model, page by page, in the background with
//! progress; only scores that changed are written.

use super::{active_models, events, qualification};
use crate::App;
use crate::error::{AppError, AppResult};
use chrono::{DateTime, Utc};
use leadline_domain::time::{from_micros, now, to_micros};
use leadline_domain::{Principal, Stage};
use leadline_store::history::StageChange;
use leadline_store::leads;
use leadline_store::scoring::{self as store, EventRow, JobRow, ScoreRow};
use serde::Serialize;
use std::collections::HashMap;
use uuid::Uuid;

/// Leads per page of a re-score.
const PAGE: i64 = 5_000;

/// A re-score job as shown.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ScoringJob {
    pub id: Uuid,
    pub model_key: String,
    pub version: i32,
    /// `running`, `done` or `failed`.
    pub state: String,
    pub total: i64,
    pub done: i64,
    /// Leads whose score or grade changed.
    pub changed: i64,
    pub started_by: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
}

impl From<JobRow> for ScoringJob {
    fn from(j: JobRow) -> Self {
        ScoringJob {
            id: j.id,
            model_key: j.model_key,
            version: j.version,
            state: j.state,
            total: j.total,
            done: j.done,
            changed: j.changed,
            started_by: j.started_by,
            started_at: from_micros(j.started_at),
            finished_at: j.finished_at.map(from_micros),
            error: j.error,
        }
    }
}

/// A page scored under one model: the score rows that changed and the stage moves by
/// threshold (lead, its stage now, the stage it moves to, why).
pub(crate) struct ScoredPage {
    scores: Vec<ScoreRow>,
    moves: Vec<(Uuid, Stage, Stage, String)>,
}

impl ScoredPage {
    /// Score rows to write (the scores that changed).
    fn len(&self) -> usize {
        self.scores.len()
    }
}

/// Scores a page of leads under one model (no database: the writer only writes). `stored`
/// are the page's scores as (lead, score, fit, grade, version); unchanged ones are left out.
pub(crate) fn score_page(
    m: &super::Active,
    page: &[leadline_domain::Lead],
    events_rows: &[EventRow],
    stored: Vec<(Uuid, i32, i32, String, i32)>,
    t: DateTime<Utc>,
) -> ScoredPage {
    let mut by_lead: HashMap<Uuid, &[EventRow]> = HashMap::new();
    for chunk in events_rows.chunk_by(|a, b| a.0 == b.0) {
        by_lead.insert(chunk[0].0, chunk);
    }
    let stored: HashMap<Uuid, (i32, String, i32)> = stored
        .into_iter()
        .map(|(id, score, _fit, grade, version)| (id, (score, grade, version)))
        .collect();
    let mut scores = Vec::new();
    let mut moves = Vec::new();
    for lead in page {
        let evs = by_lead.get(&lead.id).map(|r| events(r)).unwrap_or_default();
        let s = m.scorer.score(&lead.fields, &evs, t);
        let same = stored.get(&lead.id).is_some_and(|(score, grade, v)| {
            *score == s.score && grade == s.grade.as_str() && *v == m.version
        });
        if m.row.is_default
            && let Some((to, why)) = qualification(&m.scorer, lead.stage, &s)
        {
            moves.push((lead.id, lead.stage, to, why));
        }
        if !same {
            scores.push(ScoreRow {
                lead_id: lead.id,
                model_key: m.row.key.clone(),
                score: s.score,
                fit: s.fit,
                grade: s.grade.as_str().into(),
                priority: s.priority,
                version: m.version,
                computed_at: to_micros(t),
            });
        }
    }
    ScoredPage { scores, moves }
}

/// Writes a scored page inside `tx`: the score rows and the stage moves (recorded in the
/// stage history). Returns (scores changed, leads moved).
pub(crate) async fn write_scored(
    tx: &mut leadline_store::DbTx,
    m: &super::Active,
    scored: &ScoredPage,
) -> AppResult<(usize, u64)> {
    store::upsert_scores(tx.conn(), &scored.scores).await?;
    if scored.moves.is_empty() {
        return Ok((scored.len(), 0));
    }
    let at = now();
    let items: Vec<(Uuid, &str, &str)> = scored
        .moves
        .iter()
        .map(|(id, from, to, _)| (*id, from.as_str(), to.as_str()))
        .collect();
    let moved = leads::set_stages(tx.conn(), &items, to_micros(at)).await?;
    let changes: Vec<StageChange> = scored
        .moves
        .iter()
        .filter(|(id, ..)| moved.contains(id))
        .map(|(id, from, to, why)| StageChange {
            id: Uuid::now_v7(),
            lead_id: *id,
            from_stage: Some(from.as_str().into()),
            to_stage: to.as_str().into(),
            reason: None,
            note: Some(format!("{why}; model {} v{}", m.row.key, m.version)),
            actor: "scoring".into(),
            at,
        })
        .collect();
    crate::events::stages_changed_in(tx, &changes).await?;
    Ok((scored.len(), changes.len() as u64))
}

/// A page of a re-score as read and scored: how many leads, and what to write.
type ReadPage = (usize, ScoredPage);

/// Reads the leads after `after` up to `until` in pages (only the fields the rules test),
/// with the events the rules count and the stored scores, scores each page and sends it to
/// `out`, until the end, an error (sent on) or the receiver is gone.
async fn read_pages(
    db: leadline_store::Db,
    m: std::sync::Arc<super::Active>,
    t: DateTime<Utc>,
    (mut after, until): (Option<Uuid>, Option<Uuid>),
    out: tokio::sync::mpsc::Sender<AppResult<ReadPage>>,
) {
    let fields = m.scorer.fields_used();
    let kinds = m.scorer.activity_kinds();
    loop {
        let next: AppResult<Option<ReadPage>> = async {
            let mut c = db.acquire().await?;
            // Only the fields the fit rules test: the rest would only be decoded.
            let page = leads::page_by_id_with(c.conn(), after, until, PAGE, &fields).await?;
            let (Some(first), Some(last)) = (page.first(), page.last()) else {
                return Ok(None);
            };
            let (first, last) = (first.id, last.id);
            let ev = store::events_in_range(c.conn(), first, last, &kinds).await?;
            let stored = store::scores_in_range(c.conn(), &m.row.key, first, last).await?;
            drop(c);
            after = Some(last);
            Ok(Some((page.len(), score_page(&m, &page, &ev, stored, t))))
        }
        .await;
        let item = match next {
            Ok(Some(p)) => Ok(p),
            Ok(None) => break,
            Err(e) => Err(e),
        };
        let failed = item.is_err();
        if out.send(item).await.is_err() || failed {
            break;
        }
    }
}

impl App {
    /// Scores leads that were written without scoring (an import's), under every model in
    /// force, predicts and routes them, inside `tx`.
    pub(crate) async fn score_unscored_in(
        tx: &mut leadline_store::DbTx,
        page: &[leadline_domain::Lead],
    ) -> AppResult<()> {
        let (Some(first), Some(last)) = (
            page.iter().map(|l| l.id).min(),
            page.iter().map(|l| l.id).max(),
        ) else {
            return Ok(());
        };
        let t = now();
        for m in active_models(tx).await? {
            let ev =
                store::events_in_range(tx.conn(), first, last, &m.scorer.activity_kinds()).await?;
            let stored = store::scores_in_range(tx.conn(), &m.row.key, first, last).await?;
            write_scored(tx, &m, &score_page(&m, page, &ev, stored, t)).await?;
        }
        super::predict::predict_unscored_in(tx, page).await?;
        crate::routing::route_page_in(tx, page).await?;
        let ids: Vec<_> = page.iter().map(|l| l.id).collect();
        crate::sla::follow_in(tx, &ids).await?;
        Ok(())
    }

    /// Creates a re-score job for a model's version in force.
    async fn new_rescore_job(&self, by: &Principal, key: &str) -> AppResult<JobRow> {
        super::models::may_manage(by)?;
        let mut tx = self.db.begin().await?;
        let m = active_models(&mut tx)
            .await?
            .into_iter()
            .find(|m| m.row.key == key)
            .ok_or_else(|| {
                AppError::Conflict(format!("scoring model {key} has no version in force"))
            })?;
        let total = leads::count(tx.conn()).await?;
        let t = to_micros(now());
        let job = JobRow {
            id: Uuid::now_v7(),
            model_key: key.into(),
            version: m.version,
            state: "running".into(),
            total,
            done: 0,
            changed: 0,
            started_by: by.label.clone(),
            started_at: t,
            updated_at: t,
            finished_at: None,
            error: None,
        };
        store::insert_job(tx.conn(), &job).await?;
        tx.commit().await?;
        Ok(job)
    }

    /// Starts re-scoring every lead under a model in the background. Follow it with
    /// [`App::scoring_job`].
    pub async fn start_rescore(&self, by: &Principal, key: &str) -> AppResult<ScoringJob> {
        let job = self.new_rescore_job(by, key).await?;
        let app = self.clone();
        let id = job.id;
        tokio::spawn(async move {
            if let Err(e) = app.run_rescore(id, |_| {}).await {
                tracing::error!(job_id = %id, error = %e, "re-score failed");
            }
        });
        Ok(job.into())
    }

    /// Re-scores every lead under a model now (the CLI and the benchmark; the server uses
    /// [`App::start_rescore`]). `progress` gets the job after every page.
    pub async fn rescore_all(
        &self,
        by: &Principal,
        key: &str,
        progress: impl FnMut(&ScoringJob),
    ) -> AppResult<ScoringJob> {
        let job = self.new_rescore_job(by, key).await?;
        self.run_rescore(job.id, progress).await
    }

    async fn run_rescore(
        &self,
        id: Uuid,
        mut progress: impl FnMut(&ScoringJob),
    ) -> AppResult<ScoringJob> {
        let mut job = {
            let mut c = self.db.acquire().await?;
            store::job(c.conn(), id)
                .await?
                .ok_or(AppError::NotFound("scoring job"))?
        };
        let result = self.rescore_pages(&mut job, &mut progress).await;
        let t = to_micros(now());
        job.updated_at = t;
        job.finished_at = Some(t);
        match &result {
            Ok(()) => job.state = "done".into(),
            Err(e) => {
                job.state = "failed".into();
                job.error = Some(e.to_string());
            }
        }
        let mut tx = self.db.begin().await?;
        store::update_job(tx.conn(), &job).await?;
        tx.commit().await?;
        result?;
        tracing::info!(job_id = %id, leads = job.done, changed = job.changed, "re-score done");
        let out: ScoringJob = job.into();
        progress(&out);
        Ok(out)
    }

    async fn rescore_pages(
        &self,
        job: &mut JobRow,
        progress: &mut impl FnMut(&ScoringJob),
    ) -> AppResult<()> {
        let m = {
            let mut tx = self.db.begin().await?;
            let m = active_models(&mut tx)
                .await?
                .into_iter()
                .find(|m| m.row.key == job.model_key && m.version == job.version)
                .ok_or_else(|| {
                    AppError::Conflict("another version was activated meanwhile".into())
                })?;
            tx.commit().await?;
            m
        };
        let t = now();
        let m = std::sync::Arc::new(m);
        let mut job_moved = 0u64;
        // Two readers, each on half of the leads, read and score pages while the one writer
        // writes (SQLite readers do not wait for its writer; reading is most of the work).
        let split = {
            let mut c = self.db.acquire().await?;
            leads::id_at(c.conn(), job.total / 2).await?
        };
        let (pages, mut incoming) = tokio::sync::mpsc::channel(2);
        let ranges = match split {
            Some(mid) => vec![(None, Some(mid)), (Some(mid), None)],
            None => vec![(None, None)],
        };
        let readers: Vec<_> = ranges
            .into_iter()
            .map(|r| tokio::spawn(read_pages(self.db.clone(), m.clone(), t, r, pages.clone())))
            .collect();
        drop(pages);
        while let Some(next) = incoming.recv().await {
            let (read, scored) = next?;
            let mut tx = self.db.begin().await?;
            let (changed, moved) = write_scored(&mut tx, &m, &scored).await?;
            job_moved += moved;
            job.done += read as i64;
            job.changed += changed as i64;
            job.updated_at = to_micros(now());
            store::update_job(tx.conn(), job).await?;
            tx.commit().await?;
            progress(&job.clone().into());
        }
        for reader in readers {
            reader
                .await
                .map_err(|e| AppError::Internal(format!("re-score reader stopped: {e}")))?;
        }
        if job_moved > 0 {
            tracing::info!(model = %job.model_key, moved = job_moved, "stages changed by score thresholds");
        }
        Ok(())
    }

    /// Re-scores under every model in force whose last full re-score finished more than
    /// `max_age` ago (or never): decay lowers scores day by day, and thresholds (back to
    /// nurture) must see it. Runs in the caller's task; returns the jobs run.
    pub async fn rescore_if_stale(
        &self,
        by: &Principal,
        max_age: chrono::Duration,
    ) -> AppResult<Vec<ScoringJob>> {
        let models = {
            let mut tx = self.db.begin().await?;
            let m: Vec<(String, i32)> = active_models(&mut tx)
                .await?
                .into_iter()
                .map(|m| (m.row.key, m.version))
                .collect();
            tx.commit().await?;
            m
        };
        let recent = {
            let mut c = self.db.acquire().await?;
            store::recent_jobs(c.conn(), 100).await?
        };
        let cutoff = to_micros(now() - max_age);
        let mut out = Vec::new();
        for (key, _) in models {
            let fresh = recent.iter().any(|j| {
                j.model_key == key
                    && (j.state == "running" && j.updated_at >= cutoff
                        || j.finished_at.is_some_and(|f| f >= cutoff) && j.state == "done")
            });
            if !fresh {
                out.push(self.rescore_all(by, &key, |_| {}).await?);
            }
        }
        Ok(out)
    }

    /// One re-score job.
    pub async fn scoring_job(&self, _by: &Principal, id: Uuid) -> AppResult<ScoringJob> {
        let mut c = self.db.acquire().await?;
        store::job(c.conn(), id)
            .await?
            .map(Into::into)
            .ok_or(AppError::NotFound("scoring job"))
    }

    /// The newest re-score jobs.
    pub async fn scoring_jobs(&self, _by: &Principal) -> AppResult<Vec<ScoringJob>> {
        let mut c = self.db.acquire().await?;
        Ok(store::recent_jobs(c.conn(), 20)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }
}
