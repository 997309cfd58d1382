//! Lead aging: each lead's ages and staleness, and the aging report by stage and owner.

use crate::App;
use crate::error::AppResult;
use chrono_tz::Tz;
use leadline_domain::aging::{Ages, BUCKETS, StaleAfter, ages};
use leadline_domain::analytics::period::day_start;
use leadline_domain::time::{DAY_MICROS, from_micros, now, to_micros};
use leadline_domain::{Principal, Stage};
use leadline_store::aging as store;
use serde::Serialize;
use uuid::Uuid;

/// A row of the aging report: one stage and owner.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AgingRow {
    pub stage: Stage,
    /// `null`: unassigned.
    pub owner_id: Option<Uuid>,
    pub owner_name: Option<String>,
    pub leads: i64,
    /// Open leads without activity for longer than their stage allows.
    pub stale: i64,
    /// Leads by days since their last activity, in the buckets of `AgingReport::buckets`.
    pub by_age: Vec<i64>,
}

/// The aging report.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AgingReport {
    /// Bucket labels, e.g. `1–7 days`.
    pub buckets: Vec<String>,
    pub rows: Vec<AgingRow>,
    pub total_stale: i64,
}

/// The report's bucket bounds and the stale limit of each stage that has one, in days.
fn aging_policy(policy: &StaleAfter) -> (Vec<i64>, Vec<(&'static str, i64)>) {
    let bounds = BUCKETS.iter().filter_map(|(_, b)| *b).collect();
    let stale = Stage::ALL
        .iter()
        .filter_map(|s| policy.days(*s).map(|d| (s.as_str(), i64::from(d))))
        .collect();
    (bounds, stale)
}

/// How many past UTC day ends (the dashboard's default zone) the server keeps the aging
/// report for, about three years: "as of" one of those days is read, not computed.
pub const KEPT_AGING_DAYS: i64 = 3 * 366;

/// Zones besides UTC whose day ends are kept too: the latest this many that the report was
/// asked for as of a past day in, each for [`KEPT_ZONE_DAYS`] (a quarter back).
pub const KEPT_AGING_ZONES: usize = 4;

/// How many past day ends are kept in each of the other zones.
pub const KEPT_ZONE_DAYS: i64 = 92;

/// Settings key of those zones, latest first.
const AGING_ZONES_KEY: &str = "aging_kept_zones";

/// Missing day ends of this many recent days are computed one by one (few leads changed
/// since them: quick); any older one missing makes one walk over every lead for all of them.
const RECENT_AGING_DAYS: i64 = 7;

impl App {
    /// Makes sure the aging report as of each of the last [`KEPT_AGING_DAYS`] UTC day ends
    /// is kept, and of the last [`KEPT_ZONE_DAYS`] in the zones it was asked for lately.
    /// The server runs it every ten minutes, so the day that just ended is kept within
    /// minutes and a backdated write's drops are made good again. Returns how many it kept.
    pub async fn keep_past_aging(&self) -> AppResult<usize> {
        let policy = self.qualification_settings().await?.stale_after;
        let (bounds, stale) = aging_policy(&policy);
        let t = now();
        let mut moments: Vec<i64> = Vec::new();
        let zones = self.aging_zones().await?;
        let days = std::iter::once((Tz::UTC, KEPT_AGING_DAYS))
            .chain(zones.into_iter().map(|z| (z, KEPT_ZONE_DAYS)));
        for (tz, days) in days {
            let today = t.with_timezone(&tz).date_naive();
            moments.extend(
                today
                    .iter_days()
                    .rev()
                    .take(days as usize)
                    .map(|d| to_micros(day_start(d, tz)))
                    .filter(|m| *m <= to_micros(t)),
            );
        }
        moments.sort_unstable();
        moments.dedup();
        let Some(oldest) = moments.first().copied() else {
            return Ok(0);
        };
        let kept = {
            let mut c = self.db.acquire().await?;
            store::kept_moments(c.conn(), oldest, &bounds, &stale).await?
        };
        moments.retain(|at| !kept.contains(at));
        let recent = to_micros(t) - RECENT_AGING_DAYS * DAY_MICROS;
        if moments.iter().all(|at| *at >= recent) {
            for at in &moments {
                store::report_past(&self.db, *at, &bounds, &stale).await?;
            }
            return Ok(moments.len());
        }
        Ok(store::keep_all(&self.db, &moments, &bounds, &stale).await?)
    }

    /// The zones besides UTC whose day ends are kept, latest asked for first.
    async fn aging_zones(&self) -> AppResult<Vec<Tz>> {
        let mut c = self.db.acquire().await?;
        let zones = leadline_store::settings::get(c.conn(), AGING_ZONES_KEY).await?;
        Ok(zones
            .and_then(|v| serde_json::from_value::<Vec<String>>(v).ok())
            .unwrap_or_default()
            .iter()
            .filter_map(|z| z.parse().ok())
            .take(KEPT_AGING_ZONES)
            .collect())
    }

    /// Notes that the report was asked for as of a past day in `tz`, so the server keeps
    /// that zone's day ends from now on (UTC's always are).
    pub(crate) async fn remember_aging_zone(&self, tz: Tz) -> AppResult<()> {
        if tz == Tz::UTC {
            return Ok(());
        }
        let mut zones = self.aging_zones().await?;
        if zones.first() == Some(&tz) {
            return Ok(());
        }
        zones.retain(|z| *z != tz);
        zones.insert(0, tz);
        zones.truncate(KEPT_AGING_ZONES);
        let names: Vec<&str> = zones.iter().map(|z| z.name()).collect();
        let mut c = self.db.acquire().await?;
        leadline_store::settings::put(
            c.conn(),
            AGING_ZONES_KEY,
            &serde_json::json!(names),
            to_micros(now()),
        )
        .await?;
        Ok(())
    }

    /// A lead's ages (since creation, last activity and stage change) and whether it is
    /// stale.
    pub async fn lead_ages(&self, by: &Principal, id: Uuid) -> AppResult<Ages> {
        let lead = self.get_lead(by, id).await?;
        let policy = self.qualification_settings().await?.stale_after;
        let mut c = self.db.acquire().await?;
        let (activity, stage) = store::lead_times(c.conn(), id).await?;
        Ok(ages(
            lead.stage,
            lead.created_at,
            activity.map(from_micros),
            stage.map(from_micros),
            now(),
            &policy,
        ))
    }

    /// Leads by stage and owner with their ages since the last activity and the stale ones.
    /// Reps see their own and unassigned leads' rows only.
    pub async fn aging_report(&self, by: &Principal) -> AppResult<AgingReport> {
        self.aging_report_at(by, None).await
    }

    /// [`App::aging_report`] as it stood at a past moment (stage, owner and last activity
    /// then), or now.
    pub async fn aging_report_at(
        &self,
        by: &Principal,
        past: Option<chrono::DateTime<chrono::Utc>>,
    ) -> AppResult<AgingReport> {
        let policy = self.qualification_settings().await?.stale_after;
        let (bounds, stale) = aging_policy(&policy);
        let counts = match past {
            // The past is computed once per moment, then kept (see leadline-store's aging).
            Some(at) => store::report_past(&self.db, to_micros(at), &bounds, &stale).await?,
            None => {
                let mut c = self.db.acquire().await?;
                store::report(c.conn(), to_micros(now()), &bounds, &stale, false).await?
            }
        };
        let users = self.list_users().await?;
        let mut rows: Vec<AgingRow> = Vec::new();
        for c in counts {
            let Ok(stage) = c.stage.parse::<Stage>() else {
                continue;
            };
            if !by.can_see_lead(c.owner_id) {
                continue;
            }
            if rows
                .last()
                .is_none_or(|r| r.stage != stage || r.owner_id != c.owner_id)
            {
                rows.push(AgingRow {
                    stage,
                    owner_id: c.owner_id,
                    owner_name: c
                        .owner_id
                        .and_then(|o| users.iter().find(|u| u.id == o).map(|u| u.name.clone())),
                    leads: 0,
                    stale: 0,
                    by_age: vec![0; BUCKETS.len()],
                });
            }
            if let Some(r) = rows.last_mut() {
                r.leads += c.leads;
                if c.stale == 1 {
                    r.stale += c.leads;
                }
                if let Some(b) = r.by_age.get_mut(c.bucket.max(0) as usize) {
                    *b += c.leads;
                }
            }
        }
        let order = |s: Stage| Stage::ALL.iter().position(|x| *x == s).unwrap_or(0);
        rows.sort_by_key(|r| {
            (
                order(r.stage),
                std::cmp::Reverse(r.stale),
                r.owner_name.clone(),
            )
        });
        Ok(AgingReport {
            buckets: BUCKETS.iter().map(|(l, _)| (*l).to_owned()).collect(),
            total_stale: rows.iter().map(|r| r.stale).sum(),
            rows,
        })
    }
}
