//! Duplicate detection: the batch scan over every lead, the fuzzy check of each new lead on
//! capture, and the list of candidate pairs people merge or dismiss.

use super::may_review;
use crate::App;
use crate::admin::audit;
use crate::error::{AppError, AppResult};
use leadline_domain::quality::QualitySettings;
use leadline_domain::quality::matching::{Profile, blocking_keys, compare};
use leadline_domain::time::{from_micros, now, to_micros};
use leadline_domain::{Lead, Principal};
use leadline_store::duplicates::{self as store, PairRow};
use leadline_store::{DbTx, leads, quality};
use serde::Serialize;
use serde_json::json;
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap, HashSet};
use uuid::Uuid;

/// Two leads that look like one person.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DuplicatePair {
    /// The older lead (created first): the default survivor of a merge.
    pub a: Uuid,
    pub b: Uuid,
    pub a_name: String,
    pub b_name: String,
    pub confidence: f64,
    /// e.g. `same_email`, `same_phone`, `similar_name`, `swapped_name`, `same_company`.
    pub reasons: Vec<String>,
    /// `scan` or `capture`.
    pub found_by: String,
    pub found_at: chrono::DateTime<chrono::Utc>,
}

/// What a duplicate search found.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DuplicateReport {
    pub leads_scanned: u64,
    /// Pairs sharing a key (email, phone or name-and-company) that were compared.
    pub candidate_pairs: u64,
    /// Pairs at or above the asked confidence.
    pub pairs_found: u64,
    /// The most certain of them (at most 1,000), most certain first.
    pub pairs: Vec<DuplicatePair>,
    /// Whether the pairs were saved for people to merge or dismiss (not in a dry run).
    pub saved: bool,
}

/// How many of the most certain pairs a scan's report lists (all are saved).
pub const REPORT_PAIRS: usize = 1_000;

/// Rows of the key index read per page by a scan.
const KEY_ROWS_PER_PAGE: i64 = 20_000;

/// A pair ordered by confidence, for the heap of the most certain ones.
struct ByConfidence(DuplicatePair);

impl PartialEq for ByConfidence {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}
impl Eq for ByConfidence {}
impl PartialOrd for ByConfidence {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for ByConfidence {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.confidence.total_cmp(&other.0.confidence)
    }
}

/// Keeps the [`REPORT_PAIRS`] most certain pairs (a min-heap: the least certain on top).
fn keep_best(best: &mut BinaryHeap<Reverse<ByConfidence>>, p: DuplicatePair) {
    if best.len() < REPORT_PAIRS {
        best.push(Reverse(ByConfidence(p)));
    } else if best
        .peek()
        .is_some_and(|Reverse(worst)| p.confidence > worst.0.confidence)
    {
        best.pop();
        best.push(Reverse(ByConfidence(p)));
    }
}

/// Leads sharing one key beyond this many are not compared (a switchboard number, a
/// common surname at a big company): they would make pairs by the thousand.
const MAX_GROUP: i64 = 50;

/// Below this, two leads are not worth a person's look.
pub const REVIEW_CONFIDENCE: f64 = 0.75;

/// Pairs ordered older lead first, as the list and the merge expect them.
fn pair(
    la: &Lead,
    lb: &Lead,
    confidence: f64,
    reasons: Vec<String>,
    found_by: &str,
    at: i64,
) -> (PairRow, DuplicatePair) {
    let (a, b) = (la.id.min(lb.id), la.id.max(lb.id));
    let row = PairRow {
        lead_a: a,
        lead_b: b,
        confidence,
        reasons: reasons.clone(),
        status: "open".into(),
        found_by: found_by.into(),
        found_at: at,
        decided_by: None,
    };
    let (older, newer) = if (la.created_at, la.id) <= (lb.created_at, lb.id) {
        (la, lb)
    } else {
        (lb, la)
    };
    let shown = DuplicatePair {
        a: older.id,
        b: newer.id,
        a_name: older.fields.display_name(),
        b_name: newer.fields.display_name(),
        confidence,
        reasons,
        found_by: found_by.into(),
        found_at: from_micros(at),
    };
    (row, shown)
}

/// Compares a new lead with the leads sharing a blocking key with it and records the
/// likely duplicates as open pairs, inside the capture's transaction. Exact matches on
/// email or phone never get here (capture folds them into the existing lead); this finds
/// the same person typed differently (`Bill Muller` at `Acme Logistics` for `William
/// Müller`), which a person should confirm before a merge.
pub(crate) async fn fuzzy_pairs_in(
    tx: &mut DbTx,
    lead: &Lead,
    settings: &QualitySettings,
) -> AppResult<usize> {
    let keys = blocking_keys(&lead.fields, settings.default_region.as_deref());
    let ids = store::leads_with_keys(tx.conn(), &keys, lead.id, MAX_GROUP).await?;
    if ids.is_empty() {
        return Ok(0);
    }
    let others = leads::get_many(tx.conn(), &ids).await?;
    let at = to_micros(now());
    let rows: Vec<PairRow> = others
        .iter()
        .filter_map(|o| {
            let r = compare(&lead.fields, &o.fields, settings.default_region.as_deref());
            (r.confidence >= REVIEW_CONFIDENCE)
                .then(|| pair(lead, o, r.confidence, r.reasons, "capture", at).0)
        })
        .collect();
    store::upsert(tx.conn(), &rows).await?;
    Ok(rows.len())
}

impl App {
    /// Finds likely duplicates among all leads: files every lead under its matching keys
    /// (email, phones, name and company), then compares only leads that share a key, each
    /// pair once (in the group of the first key they share). Unless `dry_run`, pairs at or
    /// above 0.75 are saved as open pairs as they are found (a dismissed pair stays
    /// dismissed). Memory stays bounded: groups are read a page at a time and the report
    /// keeps the [`REPORT_PAIRS`] most certain pairs. `progress` gets the number of leads
    /// filed so far.
    pub async fn find_duplicates(
        &self,
        by: &Principal,
        min_confidence: f64,
        dry_run: bool,
        mut progress: impl FnMut(u64),
    ) -> AppResult<DuplicateReport> {
        may_review(by)?;
        if !(0.0..=1.0).contains(&min_confidence) {
            return Err(crate::error::invalid(
                "min_confidence",
                "out_of_range",
                "must be between 0 and 1",
            ));
        }
        let settings = self.quality_settings().await?;
        let region = settings.default_region.as_deref();
        let mut scanned = 0u64;
        let mut after = None;
        loop {
            let page = {
                let mut c = self.db.acquire().await?;
                leads::page_by_id(c.conn(), after, 2_000).await?
            };
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            let keys: Vec<(Uuid, Vec<String>)> = page
                .iter()
                .map(|l| (l.id, blocking_keys(&l.fields, region)))
                .collect();
            let mut tx = self.db.begin().await?;
            quality::set_keys_many(tx.conn(), &keys).await?;
            tx.commit().await?;
            scanned += page.len() as u64;
            progress(scanned);
        }
        let oversized: HashSet<String> = {
            let mut c = self.db.acquire().await?;
            quality::oversized_keys(c.conn(), MAX_GROUP)
                .await?
                .into_iter()
                .collect()
        };
        let at = to_micros(now());
        let mut candidates = 0u64;
        let mut found = 0u64;
        let mut best: BinaryHeap<Reverse<ByConfidence>> = BinaryHeap::new();
        let mut after_key = String::new();
        loop {
            let (groups, next) = {
                let mut c = self.db.acquire().await?;
                quality::shared_keys_page(
                    c.conn(),
                    MAX_GROUP as usize,
                    &after_key,
                    KEY_ROWS_PER_PAGE,
                )
                .await?
            };
            let Some(next) = next else { break };
            let done = next == after_key;
            after_key = next;
            if done {
                break;
            }
            let rows: Vec<(String, Uuid)> = groups
                .into_iter()
                .flat_map(|(k, ids)| ids.into_iter().map(move |id| (k.clone(), id)))
                .collect();
            if rows.is_empty() {
                continue;
            }
            let ids: Vec<Uuid> = rows
                .iter()
                .map(|(_, id)| *id)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            let page_leads: HashMap<Uuid, (Lead, Profile, Vec<String>)> = {
                let mut c = self.db.acquire().await?;
                leads::get_many(c.conn(), &ids)
                    .await?
                    .into_iter()
                    .map(|l| {
                        let p = Profile::of(&l.fields, region);
                        let k = p.blocking_keys();
                        (l.id, (l, p, k))
                    })
                    .collect()
            };
            let mut to_save = Vec::new();
            for group in rows.chunk_by(|x, y| x.0 == y.0) {
                let key = &group[0].0;
                for (i, (_, a)) in group.iter().enumerate() {
                    for (_, b) in &group[i + 1..] {
                        let (Some((la, pa, ka)), Some((lb, pb, kb))) =
                            (page_leads.get(a), page_leads.get(b))
                        else {
                            continue;
                        };
                        // Compared once: in the group of the first key the two share.
                        let first_shared = ka
                            .iter()
                            .filter(|k| kb.contains(k) && !oversized.contains(*k))
                            .min();
                        if first_shared.is_some_and(|k| k != key) {
                            continue;
                        }
                        candidates += 1;
                        let r = pa.compare(pb);
                        if r.confidence < min_confidence.min(REVIEW_CONFIDENCE) {
                            continue;
                        }
                        let (row, shown) = pair(la, lb, r.confidence, r.reasons, "scan", at);
                        if r.confidence >= REVIEW_CONFIDENCE {
                            to_save.push(row);
                        }
                        if r.confidence >= min_confidence {
                            found += 1;
                            keep_best(&mut best, shown);
                        }
                    }
                }
            }
            if !dry_run && !to_save.is_empty() {
                let mut tx = self.db.begin().await?;
                store::upsert(tx.conn(), &to_save).await?;
                tx.commit().await?;
            }
        }
        if !dry_run {
            let mut tx = self.db.begin().await?;
            audit(
                &mut tx,
                by,
                "duplicates.scanned",
                "lead",
                None,
                json!({ "leads": scanned, "pairs": found }),
            )
            .await?;
            tx.commit().await?;
        }
        let mut best: Vec<DuplicatePair> = best.into_iter().map(|Reverse(p)| p.0).collect();
        best.sort_by(|x, y| y.confidence.total_cmp(&x.confidence).then(x.a.cmp(&y.a)));
        Ok(DuplicateReport {
            leads_scanned: scanned,
            candidate_pairs: candidates,
            pairs_found: found,
            pairs: best,
            saved: !dry_run,
        })
    }

    /// Open duplicate pairs of live leads, most certain first. `after` is the last pair of
    /// the previous page as (confidence, lower id, higher id).
    pub async fn duplicate_pairs(
        &self,
        by: &Principal,
        min_confidence: f64,
        after: Option<(f64, Uuid, Uuid)>,
        limit: i64,
    ) -> AppResult<Vec<DuplicatePair>> {
        may_review(by)?;
        let mut c = self.db.acquire().await?;
        let rows = store::open(c.conn(), min_confidence, after, limit.clamp(1, 500)).await?;
        self.shown(&mut c, rows).await
    }

    /// Open duplicate pairs involving one lead.
    pub async fn lead_duplicates(&self, by: &Principal, id: Uuid) -> AppResult<Vec<DuplicatePair>> {
        may_review(by)?;
        self.get_lead(by, id).await?;
        let mut c = self.db.acquire().await?;
        let rows = store::for_lead(c.conn(), id).await?;
        self.shown(&mut c, rows).await
    }

    async fn shown(
        &self,
        c: &mut leadline_store::DbConn,
        rows: Vec<PairRow>,
    ) -> AppResult<Vec<DuplicatePair>> {
        let ids: Vec<Uuid> = rows
            .iter()
            .flat_map(|r| [r.lead_a, r.lead_b])
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let by_id: HashMap<Uuid, Lead> = leads::get_many(c.conn(), &ids)
            .await?
            .into_iter()
            .map(|l| (l.id, l))
            .collect();
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                let (la, lb) = (by_id.get(&r.lead_a)?, by_id.get(&r.lead_b)?);
                Some(pair(la, lb, r.confidence, r.reasons, &r.found_by, r.found_at).1)
            })
            .collect())
    }

    /// Marks two leads as not the same person: the pair leaves the list for good.
    pub async fn dismiss_duplicate(&self, by: &Principal, a: Uuid, b: Uuid) -> AppResult<()> {
        may_review(by)?;
        let mut tx = self.db.begin().await?;
        if !store::decide(tx.conn(), a, b, "dismissed", &by.label, to_micros(now())).await? {
            return Err(AppError::NotFound("duplicate pair"));
        }
        audit(
            &mut tx,
            by,
            "duplicates.dismissed",
            "lead",
            Some(a.min(b)),
            json!({ "a": a.min(b), "b": a.max(b) }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// The state of the last background duplicate scan (kept in settings, so every server
/// process and the UI see it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ScanStatus {
    /// `idle`, `running`, `done` or `failed`.
    pub state: String,
    pub started_by: Option<String>,
    pub started_at: Option<chrono::DateTime<chrono::Utc>>,
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Leads filed so far, out of `leads_total`.
    pub leads_scanned: u64,
    pub leads_total: u64,
    pub candidate_pairs: u64,
    /// Pairs worth a look (confidence ≥ 0.75) that the scan found.
    pub pairs_found: u64,
    /// Why the scan failed.
    pub error: Option<String>,
    /// Last progress write; a running scan silent for long died with its process.
    pub updated_at: Option<chrono::DateTime<chrono::Utc>>,
}

const SCAN_KEY: &str = "duplicate_scan";

/// A running scan that wrote no progress for this long is taken for dead.
const SCAN_STALE: chrono::Duration = chrono::Duration::minutes(5);

impl App {
    /// The last background duplicate scan.
    pub async fn duplicate_scan_status(&self, by: &Principal) -> AppResult<ScanStatus> {
        may_review(by)?;
        let mut c = self.db.acquire().await?;
        Ok(
            match leadline_store::settings::get(c.conn(), SCAN_KEY).await? {
                Some(v) => serde_json::from_value(v).unwrap_or_default(),
                None => ScanStatus {
                    state: "idle".into(),
                    ..ScanStatus::default()
                },
            },
        )
    }

    async fn put_scan_status(&self, s: &ScanStatus) -> AppResult<()> {
        let v = serde_json::to_value(s).map_err(|e| AppError::Internal(e.to_string()))?;
        let mut tx = self.db.begin().await?;
        leadline_store::settings::put(tx.conn(), SCAN_KEY, &v, to_micros(now())).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Starts a duplicate scan of the whole database in the background (one at a time);
    /// progress and the result show in [`App::duplicate_scan_status`], the pairs in
    /// [`App::duplicate_pairs`].
    pub async fn start_duplicate_scan(&self, by: &Principal) -> AppResult<ScanStatus> {
        let current = self.duplicate_scan_status(by).await?;
        let t = now();
        if current.state == "running" && current.updated_at.is_some_and(|u| t - u < SCAN_STALE) {
            return Err(AppError::Conflict(
                "a duplicate scan is already running".into(),
            ));
        }
        let total = {
            let mut c = self.db.acquire().await?;
            leads::count(c.conn()).await?
        };
        let status = ScanStatus {
            state: "running".into(),
            started_by: Some(by.label.clone()),
            started_at: Some(t),
            leads_total: total.max(0) as u64,
            updated_at: Some(t),
            ..ScanStatus::default()
        };
        self.put_scan_status(&status).await?;
        let app = self.clone();
        let by = by.clone();
        let started = status.clone();
        tokio::spawn(async move {
            let scanned = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
            let writer = {
                let (app, scanned, mut s) = (app.clone(), scanned.clone(), started.clone());
                tokio::spawn(async move {
                    loop {
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                        s.leads_scanned = scanned.load(std::sync::atomic::Ordering::Relaxed);
                        s.updated_at = Some(now());
                        if let Err(e) = app.put_scan_status(&s).await {
                            tracing::warn!(error = %e, "duplicate scan progress not saved");
                        }
                    }
                })
            };
            let progress = scanned.clone();
            let result = app
                .find_duplicates(&by, REVIEW_CONFIDENCE, false, move |n| {
                    progress.store(n, std::sync::atomic::Ordering::Relaxed);
                })
                .await;
            writer.abort();
            // Wait until it is gone, so no late progress write lands after the result.
            let _ = writer.await;
            let mut s = started;
            s.finished_at = Some(now());
            s.updated_at = s.finished_at;
            match result {
                Ok(r) => {
                    s.state = "done".into();
                    s.leads_scanned = r.leads_scanned;
                    s.candidate_pairs = r.candidate_pairs;
                    s.pairs_found = r.pairs_found;
                }
                Err(e) => {
                    tracing::error!(error = %e, "duplicate scan failed");
                    s.state = "failed".into();
                    s.error = Some(e.to_string());
                }
            }
            if let Err(e) = app.put_scan_status(&s).await {
                tracing::error!(error = %e, "duplicate scan result not saved");
            }
        });
        Ok(status)
    }
}
