//! Distribution: routing rule versions, reps' availability, routing a lead the moment
//! something happens to it (capture, a new score), manual and bulk reassignment, and
//! simulating a rule set on recent leads before it goes live.

use crate::App;
use crate::admin::audit;
use crate::error::{AppError, AppResult, invalid};
use chrono::{DateTime, Utc};
use leadline_domain::history::OwnerChange;
use leadline_domain::routing::{
    Candidate, Facts, Method, RepSettings, Router, RoutingRules, Target, choose,
};
use leadline_domain::time::{from_micros, now, to_micros};
use leadline_domain::{Lead, Principal};
use leadline_store::{DbTx, accounts, leads, routing as store, scoring, teams, users};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use uuid::Uuid;

/// A saved routing rule set.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RoutingVersion {
    pub version: i32,
    pub rules: RoutingRules,
    pub note: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub activated_at: Option<DateTime<Utc>>,
    pub in_force: bool,
}

impl TryFrom<store::VersionRow> for RoutingVersion {
    type Error = AppError;
    fn try_from(r: store::VersionRow) -> AppResult<Self> {
        Ok(RoutingVersion {
            version: r.version,
            rules: serde_json::from_value(r.rules.0)
                .map_err(|e| AppError::Internal(format!("stored routing rules: {e}")))?,
            note: r.note,
            created_by: r.created_by,
            created_at: from_micros(r.created_at),
            activated_at: r.activated_at.map(from_micros),
            in_force: r.in_force,
        })
    }
}

/// Where routing sent (or would send) a lead, and why.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Routed {
    /// The rule that matched; none when no rule did.
    pub rule_id: Option<String>,
    pub rule_name: Option<String>,
    /// The rep chosen, if any.
    pub owner_id: Option<Uuid>,
    pub owner_name: Option<String>,
    /// The team queue the lead sits in (the rule's team, or the fallback queue).
    pub team_id: Option<Uuid>,
    pub method: Option<String>,
    /// In words: "rule EMEA: round robin in team EMEA; Ana skipped: out of office".
    pub why: String,
}

/// Who would have received what under a rule set, over recent leads.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Simulation {
    pub days: i64,
    pub leads: usize,
    /// Per rule (none: no rule matched), how many leads it would have taken.
    pub by_rule: Vec<SimulatedRule>,
    /// Leads whose rule differs from the rule set in force (all, when none is in force).
    pub changed: usize,
    /// Up to 50 leads whose rule would change: (lead, rule now, rule then).
    pub examples: Vec<SimulatedLead>,
}

/// One rule's share in a simulation.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SimulatedRule {
    pub rule_id: Option<String>,
    pub rule_name: String,
    pub leads: usize,
}

/// A lead whose rule would change.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SimulatedLead {
    pub lead_id: Uuid,
    pub name: String,
    pub rule_now: Option<String>,
    pub rule_then: Option<String>,
}

/// A bulk reassignment's outcome.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BulkAssignment {
    pub assigned: Vec<Uuid>,
    /// Leads changed by someone else meanwhile, not found, or not yours to give.
    pub refused: Vec<RefusedLead>,
}

/// A lead a bulk reassignment left alone, with why.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RefusedLead {
    pub lead_id: Uuid,
    pub reason: String,
}

/// A rep's routing settings as shown.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RepRouting {
    pub user_id: Uuid,
    pub name: String,
    pub settings: RepSettings,
}

/// The manager's view of distribution: leads nobody owns, by queue, and each rep's load.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Board {
    /// Open leads with neither owner nor team queue.
    pub unassigned: i64,
    /// Open leads waiting in a team's queue without an owner.
    pub queues: Vec<QueueLoad>,
    /// Every active user's open leads and availability now.
    pub reps: Vec<RepLoad>,
}

/// A team queue's waiting leads.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct QueueLoad {
    pub team_id: Uuid,
    pub team_name: String,
    pub leads: i64,
}

/// A rep's open leads against their capacity, and whether they can take leads now.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RepLoad {
    pub user_id: Uuid,
    pub name: String,
    pub open_leads: i64,
    pub capacity: Option<u32>,
    /// `available`, or why not ("out of office until …", "outside working hours").
    pub status: String,
}

fn require_manager(by: &Principal) -> AppResult<()> {
    crate::auth::require_manager(by, "routing")
}

/// Prepared rule sets by their stored text: rules are prepared once (patterns compiled),
/// not per lead. Keyed by content rather than version number, which every database (and
/// every test database in one process) starts at 1.
static ROUTERS: LazyLock<Mutex<HashMap<String, Arc<Router>>>> = LazyLock::new(Default::default);

/// The rule set in force, prepared, with its version.
async fn router_in_force(tx: &mut DbTx) -> AppResult<Option<(i32, Arc<Router>)>> {
    let Some(row) = store::in_force(tx.conn()).await? else {
        return Ok(None);
    };
    let key = row.rules.0.to_string();
    if let Ok(cache) = ROUTERS.lock()
        && let Some(r) = cache.get(&key)
    {
        return Ok(Some((row.version, r.clone())));
    }
    let version = row.version;
    let v = RoutingVersion::try_from(row)?;
    let router = Arc::new(Router::new(v.rules));
    if let Ok(mut cache) = ROUTERS.lock() {
        if cache.len() >= 16 {
            cache.clear();
        }
        cache.insert(key, router.clone());
    }
    Ok(Some((version, router)))
}

/// A rep's settings (defaults when never set or unreadable).
fn settings_of(stored: &[(Uuid, Value)], user: Uuid) -> RepSettings {
    stored
        .iter()
        .find(|(u, _)| *u == user)
        .and_then(|(_, v)| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default()
}

/// What a pick decided: the owner (if any), the queue, and why.
struct Pick {
    owner: Option<(Uuid, String)>,
    team: Option<Uuid>,
    method: Option<Method>,
    why: String,
}

/// Picks the rep for a rule's target. With `take_turn` the team's lock is taken and the
/// chosen rep's turn counted (a real assignment); without, nothing is written (a test).
async fn pick(
    tx: &mut DbTx,
    target: &Target,
    fallback: Option<Uuid>,
    take_turn: bool,
    exclude: Option<Uuid>,
) -> AppResult<Pick> {
    let t = now();
    match target {
        Target::User { user_id } => {
            let user = users::get(tx.conn(), *user_id).await?;
            let settings = settings_of(
                &store::rep_settings(tx.conn(), &[*user_id]).await?,
                *user_id,
            );
            match user {
                Some(u) if u.active && settings.away(t).is_none() => Ok(Pick {
                    why: format!("to {}", u.name),
                    owner: Some((u.id, u.name)),
                    team: None,
                    method: None,
                }),
                Some(u) => Ok(Pick {
                    why: format!(
                        "{} skipped: {}; to the fallback queue",
                        u.name,
                        settings
                            .away(t)
                            .map_or("inactive".to_owned(), |a| a.to_string())
                    ),
                    owner: None,
                    team: fallback,
                    method: None,
                }),
                None => Ok(Pick {
                    why: "the rule's rep no longer exists; to the fallback queue".into(),
                    owner: None,
                    team: fallback,
                    method: None,
                }),
            }
        }
        Target::Team { team_id, method } => {
            let Some(team) = teams::get(tx.conn(), *team_id).await? else {
                return Ok(Pick {
                    why: "the rule's team no longer exists; to the fallback queue".into(),
                    owner: None,
                    team: fallback,
                    method: Some(*method),
                });
            };
            if take_turn {
                store::lock_team(tx.conn(), team.id).await?;
            }
            // One read of the (small) users table rather than one per member.
            let mut members: Vec<_> = users::list(tx.conn())
                .await?
                .into_iter()
                .filter(|u| team.members.contains(&u.id) && Some(u.id) != exclude)
                .collect();
            // Ties go to the first listed: by name, then id, the same in every process.
            members.sort_by(|a, b| (&a.name, a.id).cmp(&(&b.name, b.id)));
            let ids: Vec<Uuid> = members.iter().map(|u| u.id).collect();
            let stored = store::rep_settings(tx.conn(), &ids).await?;
            let mut turns: HashMap<Uuid, i64> = store::turns(tx.conn(), team.id)
                .await?
                .into_iter()
                .collect();
            // A member new to the team starts level with the least served, so that
            // joining does not hand them every lead until they catch up; their count is
            // written now, so the start does not move with later turns.
            let start = ids
                .iter()
                .filter_map(|u| turns.get(u))
                .min()
                .copied()
                .unwrap_or(0);
            for id in &ids {
                if !turns.contains_key(id) {
                    turns.insert(*id, start);
                    if take_turn {
                        store::set_turn(tx.conn(), team.id, *id, start).await?;
                    }
                }
            }
            // Open leads are counted only where they decide (load balancing, capacities):
            // a count over a rep's leads is the costliest read of a pick at a million leads.
            let counted: Vec<Uuid> = if matches!(method, Method::LoadBalanced) {
                ids.clone()
            } else {
                ids.iter()
                    .copied()
                    .filter(|id| settings_of(&stored, *id).capacity.is_some())
                    .collect()
            };
            let open: HashMap<Uuid, i64> = store::open_leads(tx.conn(), &counted)
                .await?
                .into_iter()
                .collect();
            let conversion: HashMap<Uuid, f64> = match method {
                Method::BestConversion { window_days } => {
                    let since = to_micros(t - chrono::Duration::days(i64::from(*window_days)));
                    store::decided_since(tx.conn(), &ids, since)
                        .await?
                        .into_iter()
                        .filter(|(_, _, decided)| *decided > 0)
                        .map(|(u, won, decided)| (u, won as f64 / decided as f64))
                        .collect()
                }
                _ => HashMap::new(),
            };
            let candidates: Vec<Candidate> = members
                .iter()
                .map(|u| {
                    let s = settings_of(&stored, u.id);
                    Candidate {
                        user_id: u.id,
                        name: u.name.clone(),
                        assigned: turns.get(&u.id).copied().unwrap_or(start),
                        weight: s.weight,
                        open_leads: open.get(&u.id).copied().unwrap_or(0),
                        capacity: s.capacity,
                        conversion: conversion.get(&u.id).copied(),
                        active: u.active,
                        away: s.away(t),
                        off_hours: s.off_hours(t),
                    }
                })
                .collect();
            let choice = choose(method, &team.name, &candidates);
            let owner = choice.user_id.and_then(|id| {
                candidates
                    .iter()
                    .find(|c| c.user_id == id)
                    .map(|c| (id, c.name.clone(), c.assigned))
            });
            if take_turn && let Some((id, _, assigned)) = &owner {
                store::set_turn(tx.conn(), team.id, *id, assigned + 1).await?;
            }
            let (team_queue, why) = match (&owner, fallback) {
                (Some(_), _) => (Some(team.id), choice.why),
                (None, Some(f)) => (Some(f), format!("{}; to the fallback queue", choice.why)),
                (None, None) => (
                    Some(team.id),
                    format!("{}; left in the team's queue", choice.why),
                ),
            };
            Ok(Pick {
                owner: owner.map(|(id, name, _)| (id, name)),
                team: team_queue,
                method: Some(*method),
                why,
            })
        }
    }
}

/// The rule id recorded for account-based assignments.
pub const ACCOUNT_OWNER: &str = "account_owner";

/// Where the rule set sends a lead (no writes unless `take_turn`).
async fn decide(tx: &mut DbTx, router: &Router, lead: &Lead, take_turn: bool) -> AppResult<Routed> {
    let priority = scoring::default_priorities(tx.conn(), &[lead.id])
        .await?
        .into_iter()
        .next()
        .map(|(_, p)| p);
    let facts = Facts {
        fields: &lead.fields,
        stage: lead.stage,
        score: lead.score,
        grade: lead.grade,
        priority: priority.as_deref(),
    };
    let fallback = router.rules.fallback_team;
    // Account-based routing first: the account's owner, when they can take the lead.
    let mut passed_over = String::new();
    if router.rules.account_owners
        && let Some((account, _)) = accounts::of_lead(tx.conn(), lead.id).await?
        && let Some(owner) = account.owner_id
    {
        let p = pick(tx, &Target::User { user_id: owner }, None, take_turn, None).await?;
        if let Some((id, name)) = p.owner {
            return Ok(Routed {
                rule_id: Some(ACCOUNT_OWNER.into()),
                rule_name: Some("Account owner".into()),
                owner_id: Some(id),
                owner_name: Some(name),
                team_id: None,
                method: Some("account".into()),
                why: format!("account {}: {}", account.name, p.why),
            });
        }
        passed_over = format!("account {}: owner {}; ", account.name, p.why);
    }
    let Some(rule) = router.first_match(&facts) else {
        return Ok(Routed {
            rule_id: None,
            rule_name: None,
            owner_id: None,
            owner_name: None,
            team_id: fallback,
            method: None,
            why: match fallback {
                Some(_) => format!("{passed_over}no rule matched; to the fallback queue"),
                None => format!("{passed_over}no rule matched; left unassigned"),
            },
        });
    };
    let p = pick(tx, &rule.target, fallback, take_turn, None).await?;
    Ok(Routed {
        rule_id: Some(rule.id.clone()),
        rule_name: Some(rule.name.clone()),
        owner_id: p.owner.as_ref().map(|(id, _)| *id),
        owner_name: p.owner.map(|(_, n)| n),
        team_id: p.team,
        method: p.method.map(|m| m.label().to_owned()),
        why: format!("{passed_over}rule {}: {}", rule.name, p.why),
    })
}

/// Routes a lead that has neither owner nor team queue, under the rule set in force, inside
/// the caller's transaction (right after it is captured or scored). Returns where it went;
/// none when nothing is in force or the lead is already someone's.
pub(crate) async fn route_lead_in(
    tx: &mut DbTx,
    lead_id: Uuid,
    notify: bool,
) -> AppResult<Option<Routed>> {
    let Some((version, router)) = router_in_force(tx).await? else {
        return Ok(None);
    };
    let Some(lead) = leads::get(tx.conn(), lead_id).await? else {
        return Ok(None);
    };
    if lead.fields.owner_id.is_some() || lead.fields.team_id.is_some() {
        return Ok(None);
    }
    let routed = decide(tx, &router, &lead, true).await?;
    if routed.owner_id.is_none() && routed.team_id.is_none() {
        if notify {
            crate::sla::alert_unrouted_in(tx, &lead, None, &routed.why).await?;
        }
        return Ok(Some(routed));
    }
    let at = now();
    if !store::set_owner(
        tx.conn(),
        lead.id,
        routed.owner_id,
        routed.team_id,
        lead.version,
        to_micros(at),
    )
    .await?
    {
        // Someone else changed the lead meanwhile: whatever captured or scored it must
        // not fail for that; it is routed at its next event. (The turn just counted stays
        // counted: a rare race, worth one lead of imbalance, not a failed capture.)
        tracing::warn!(lead_id = %lead.id, "lead changed while being routed; left for its next event");
        return Ok(None);
    }
    crate::events::owner_changed_in(
        tx,
        &OwnerChange {
            id: Uuid::now_v7(),
            lead_id: lead.id,
            from_owner: None,
            to_owner: routed.owner_id,
            reason: Some(routed.why.clone()),
            actor: "routing".into(),
            at,
            team_id: routed.team_id,
            rule_id: routed.rule_id.clone(),
            method: routed.method.clone(),
            routing_version: Some(version),
        },
    )
    .await?;
    match routed.owner_id {
        Some(owner) if notify => crate::sla::notify_owner_in(tx, &lead, owner, &routed.why).await?,
        None if notify => {
            crate::sla::alert_unrouted_in(tx, &lead, routed.team_id, &routed.why).await?
        }
        _ => {}
    }
    tracing::info!(lead_id = %lead.id, owner_id = ?routed.owner_id, team_id = ?routed.team_id, rule = ?routed.rule_id, "lead routed");
    Ok(Some(routed))
}

/// Gives a lead whose SLA was breached to another rep of its team (round robin, the
/// current owner passed over), recording why. Returns the new owner, or none when nobody
/// else in the team can take it (the lead stays where it is; the breach alert stands).
pub(crate) async fn reassign_breached_in(
    tx: &mut DbTx,
    lead_id: Uuid,
    team_id: Uuid,
    from: Uuid,
) -> AppResult<Option<Uuid>> {
    let Some(lead) = leads::get(tx.conn(), lead_id).await? else {
        return Ok(None);
    };
    let target = Target::Team {
        team_id,
        method: Method::RoundRobin,
    };
    let p = pick(tx, &target, None, true, Some(from)).await?;
    let Some((owner, _)) = p.owner else {
        return Ok(None);
    };
    let at = now();
    if !store::set_owner(
        tx.conn(),
        lead.id,
        Some(owner),
        Some(team_id),
        lead.version,
        to_micros(at),
    )
    .await?
    {
        return Ok(None);
    }
    crate::events::owner_changed_in(
        tx,
        &OwnerChange {
            id: Uuid::now_v7(),
            lead_id: lead.id,
            from_owner: Some(from),
            to_owner: Some(owner),
            reason: Some(format!("first-touch SLA breached; {}", p.why)),
            actor: "sla".into(),
            at,
            team_id: Some(team_id),
            rule_id: None,
            method: p.method.map(|m| m.label().to_owned()),
            routing_version: None,
        },
    )
    .await?;
    crate::sla::notify_owner_in(
        tx,
        &lead,
        owner,
        "first-touch SLA breached by its previous owner",
    )
    .await?;
    tracing::info!(lead_id = %lead.id, owner_id = %owner, "lead reassigned after SLA breach");
    Ok(Some(owner))
}

/// Routes the leads of an imported page that have neither owner nor queue (one check for
/// a rule set in force, then lead by lead).
pub(crate) async fn route_page_in(tx: &mut DbTx, page: &[Lead]) -> AppResult<()> {
    if router_in_force(tx).await?.is_none() {
        return Ok(());
    }
    for lead in page {
        if lead.fields.owner_id.is_none() && lead.fields.team_id.is_none() {
            // An import's leads are not announced one by one.
            route_lead_in(tx, lead.id, false).await?;
        }
    }
    Ok(())
}

impl App {
    /// Routing rule versions, newest first.
    pub async fn routing_versions(&self, by: &Principal) -> AppResult<Vec<RoutingVersion>> {
        require_manager(by)?;
        let mut c = self.db.acquire().await?;
        store::versions(c.conn(), 50)
            .await?
            .into_iter()
            .map(RoutingVersion::try_from)
            .collect()
    }

    /// The rule set in force, if any.
    pub async fn routing_in_force(&self, _by: &Principal) -> AppResult<Option<RoutingVersion>> {
        let mut c = self.db.acquire().await?;
        store::in_force(c.conn())
            .await?
            .map(RoutingVersion::try_from)
            .transpose()
    }

    async fn check_rules(&self, tx: &mut DbTx, rules: &RoutingRules) -> AppResult<()> {
        let defs = self.custom_fields().await?;
        rules.validate(&defs)?;
        let mut e = leadline_domain::ValidationErrors::default();
        let (user_ids, team_ids) = rules.references();
        for u in user_ids {
            if users::get(tx.conn(), u).await?.is_none() {
                e.add("rules", "unknown_user", format!("no user with id {u}"));
            }
        }
        for t in team_ids {
            if !teams::exists(tx.conn(), t).await? {
                e.add("rules", "unknown_team", format!("no team with id {t}"));
            }
        }
        Ok(e.into_result()?)
    }

    /// Saves a rule set as a new version; with `activate` it goes in force at once.
    pub async fn save_routing_version(
        &self,
        by: &Principal,
        rules: RoutingRules,
        note: Option<String>,
        activate: bool,
    ) -> AppResult<RoutingVersion> {
        require_manager(by)?;
        let mut tx = self.db.begin().await?;
        self.check_rules(&mut tx, &rules).await?;
        let at = to_micros(now());
        let doc = serde_json::to_value(&rules).map_err(|e| AppError::Internal(e.to_string()))?;
        let v = store::insert_version(tx.conn(), &doc, note.as_deref(), &by.label, at).await?;
        if activate {
            store::put_in_force(tx.conn(), v, at).await?;
        }
        audit(
            &mut tx,
            by,
            "routing.saved",
            "routing",
            None,
            json!({"version": v, "activated": activate}),
        )
        .await?;
        let row = store::version(tx.conn(), v)
            .await?
            .ok_or(AppError::NotFound("routing version"))?;
        tx.commit().await?;
        row.try_into()
    }

    /// Puts a saved version in force (also to roll back).
    pub async fn put_routing_in_force(
        &self,
        by: &Principal,
        version: i32,
    ) -> AppResult<RoutingVersion> {
        require_manager(by)?;
        let mut tx = self.db.begin().await?;
        if !store::put_in_force(tx.conn(), version, to_micros(now())).await? {
            return Err(AppError::NotFound("routing version"));
        }
        audit(
            &mut tx,
            by,
            "routing.activated",
            "routing",
            None,
            json!({"version": version}),
        )
        .await?;
        let row = store::version(tx.conn(), version)
            .await?
            .ok_or(AppError::NotFound("routing version"))?;
        tx.commit().await?;
        row.try_into()
    }

    /// Where a lead would go now under `rules` (the rule set in force when none), without
    /// assigning it or taking a team's turn: the "test this lead" simulator.
    pub async fn test_routing(
        &self,
        by: &Principal,
        lead_id: Uuid,
        rules: Option<RoutingRules>,
    ) -> AppResult<Routed> {
        require_manager(by)?;
        let mut tx = self.db.begin().await?;
        let router = match rules {
            Some(r) => {
                self.check_rules(&mut tx, &r).await?;
                Arc::new(Router::new(r))
            }
            None => router_in_force(&mut tx)
                .await?
                .map(|(_, r)| r)
                .ok_or_else(|| AppError::Conflict("no routing rules are in force".into()))?,
        };
        let lead = leads::get(tx.conn(), lead_id)
            .await?
            .ok_or(AppError::NotFound("lead"))?;
        let r = decide(&mut tx, &router, &lead, false).await?;
        // Nothing was written; dropping the transaction ends it.
        drop(tx);
        Ok(r)
    }

    /// Which rule would have taken each lead created in the last `days` days under `rules`,
    /// against the rule set in force: "who would have received what" before activating.
    pub async fn simulate_routing(
        &self,
        by: &Principal,
        rules: RoutingRules,
        days: i64,
    ) -> AppResult<Simulation> {
        require_manager(by)?;
        let days = days.clamp(1, 365);
        let mut c = self.db.acquire().await?;
        let defs = self.custom_fields().await?;
        rules.validate(&defs)?;
        let proposed = Router::new(rules);
        let current = store::in_force(c.conn())
            .await?
            .map(RoutingVersion::try_from)
            .transpose()?
            .map(|v| Router::new(v.rules));
        let since = to_micros(now() - chrono::Duration::days(days));
        let mut counts: Vec<SimulatedRule> = proposed
            .rules
            .rules
            .iter()
            .map(|r| SimulatedRule {
                rule_id: Some(r.id.clone()),
                rule_name: r.name.clone(),
                leads: 0,
            })
            .chain(std::iter::once(SimulatedRule {
                rule_id: None,
                rule_name: "no rule (fallback)".into(),
                leads: 0,
            }))
            .collect();
        let (mut total, mut changed, mut examples) = (0, 0, Vec::new());
        let mut after = None;
        loop {
            let page = leads::created_since(c.conn(), since, after, 2_000).await?;
            let Some(last) = page.last() else { break };
            after = Some((to_micros(last.created_at), last.id));
            let ids: Vec<Uuid> = page.iter().map(|l| l.id).collect();
            let priorities: HashMap<Uuid, String> = scoring::default_priorities(c.conn(), &ids)
                .await?
                .into_iter()
                .collect();
            for lead in &page {
                let facts = Facts {
                    fields: &lead.fields,
                    stage: lead.stage,
                    score: lead.score,
                    grade: lead.grade,
                    priority: priorities.get(&lead.id).map(String::as_str),
                };
                let then = proposed.first_match(&facts).map(|r| r.id.clone());
                let now_rule = current
                    .as_ref()
                    .and_then(|r| r.first_match(&facts))
                    .map(|r| r.id.clone());
                let slot = match &then {
                    Some(id) => counts.iter().position(|c| c.rule_id.as_ref() == Some(id)),
                    None => Some(counts.len() - 1),
                };
                if let Some(i) = slot {
                    counts[i].leads += 1;
                }
                total += 1;
                if current.is_none() || then != now_rule {
                    changed += 1;
                    if examples.len() < 50 {
                        examples.push(SimulatedLead {
                            lead_id: lead.id,
                            name: lead.fields.display_name(),
                            rule_now: now_rule,
                            rule_then: then,
                        });
                    }
                }
            }
        }
        Ok(Simulation {
            days,
            leads: total,
            by_rule: counts,
            changed,
            examples,
        })
    }

    /// Gives a lead to `owner` (none: unassign) by hand, if it is still at `if_match` when
    /// given. Two people reassigning one lead at once: one wins, the other gets a conflict.
    pub async fn assign_lead(
        &self,
        by: &Principal,
        lead_id: Uuid,
        owner: Option<Uuid>,
        if_match: Option<i64>,
        note: Option<String>,
    ) -> AppResult<Lead> {
        let mut tx = self.db.begin().await?;
        let lead = self
            .assign_in(&mut tx, by, lead_id, owner, if_match, note.as_deref())
            .await?;
        tx.commit().await?;
        Ok(lead)
    }

    async fn assign_in(
        &self,
        tx: &mut DbTx,
        by: &Principal,
        lead_id: Uuid,
        owner: Option<Uuid>,
        if_match: Option<i64>,
        note: Option<&str>,
    ) -> AppResult<Lead> {
        let lead = leads::get(tx.conn(), lead_id)
            .await?
            .filter(|l| by.can_see_lead(l.fields.owner_id))
            .ok_or(AppError::NotFound("lead"))?;
        if let Some(v) = if_match
            && v != lead.version
        {
            return Err(AppError::VersionMismatch {
                expected: v,
                current: lead.version,
            });
        }
        if !by.can_assign(lead.fields.owner_id, owner) {
            return Err(AppError::Forbidden(
                "you may not give this lead to that owner".into(),
            ));
        }
        let to_name = match owner {
            Some(u) => {
                let user = users::get(tx.conn(), u)
                    .await?
                    .ok_or_else(|| invalid("owner_id", "unknown_user", "no user with this id"))?;
                if !user.active {
                    return Err(AppError::Conflict(format!(
                        "{} is deactivated and cannot receive leads",
                        user.name
                    )));
                }
                Some(user.name)
            }
            None => None,
        };
        if owner == lead.fields.owner_id {
            return Ok(lead);
        }
        let at = now();
        if !store::set_owner(
            tx.conn(),
            lead.id,
            owner,
            lead.fields.team_id,
            lead.version,
            to_micros(at),
        )
        .await?
        {
            return Err(AppError::Conflict(
                "the lead was changed meanwhile; reload it and try again".into(),
            ));
        }
        let why = match (&to_name, note) {
            (Some(n), Some(note)) => format!("reassigned to {n} by {}: {note}", by.label),
            (Some(n), None) => format!("reassigned to {n} by {}", by.label),
            (None, Some(note)) => format!("unassigned by {}: {note}", by.label),
            (None, None) => format!("unassigned by {}", by.label),
        };
        crate::events::owner_changed_in(
            tx,
            &OwnerChange {
                id: Uuid::now_v7(),
                lead_id: lead.id,
                from_owner: lead.fields.owner_id,
                to_owner: owner,
                reason: Some(why),
                actor: by.label.clone(),
                at,
                team_id: None,
                rule_id: None,
                method: Some("manual".into()),
                routing_version: None,
            },
        )
        .await?;
        if let Some(o) = owner
            && by.user_id != Some(o)
        {
            crate::sla::notify_owner_in(tx, &lead, o, &format!("assigned to you by {}", by.label))
                .await?;
        }
        audit(
            tx,
            by,
            "lead.assigned",
            "lead",
            Some(lead.id),
            json!({"from": lead.fields.owner_id, "to": owner}),
        )
        .await?;
        leads::get(tx.conn(), lead.id)
            .await?
            .ok_or(AppError::NotFound("lead"))
    }

    /// Gives many leads to one owner; each lead on its own (one refused does not stop the
    /// rest), each with its history.
    pub async fn assign_leads(
        &self,
        by: &Principal,
        ids: &[Uuid],
        owner: Option<Uuid>,
        note: Option<String>,
    ) -> AppResult<BulkAssignment> {
        if ids.len() > 1_000 {
            return Err(invalid(
                "lead_ids",
                "too_many",
                "at most 1,000 leads at a time",
            ));
        }
        let mut out = BulkAssignment {
            assigned: Vec::new(),
            refused: Vec::new(),
        };
        for id in ids {
            let mut tx = self.db.begin().await?;
            match self
                .assign_in(&mut tx, by, *id, owner, None, note.as_deref())
                .await
            {
                Ok(_) => {
                    tx.commit().await?;
                    out.assigned.push(*id);
                }
                Err(e @ (AppError::Store(_) | AppError::Internal(_))) => return Err(e),
                Err(e) => out.refused.push(RefusedLead {
                    lead_id: *id,
                    reason: e.to_string(),
                }),
            }
        }
        Ok(out)
    }

    /// Leads nobody owns, by queue, and every rep's load (admins and managers).
    pub async fn routing_board(&self, by: &Principal) -> AppResult<Board> {
        require_manager(by)?;
        let mut c = self.db.acquire().await?;
        let team_names: HashMap<Uuid, String> = teams::list(c.conn())
            .await?
            .into_iter()
            .map(|t| (t.id, t.name))
            .collect();
        let mut unassigned = 0;
        let mut queues = Vec::new();
        for (team, n) in store::unowned_by_queue(c.conn()).await? {
            match team {
                None => unassigned += n,
                Some(id) => queues.push(QueueLoad {
                    team_id: id,
                    team_name: team_names.get(&id).cloned().unwrap_or_default(),
                    leads: n,
                }),
            }
        }
        queues.sort_by(|a, b| a.team_name.cmp(&b.team_name));
        let users: Vec<_> = users::list(c.conn())
            .await?
            .into_iter()
            .filter(|u| u.active)
            .collect();
        let ids: Vec<Uuid> = users.iter().map(|u| u.id).collect();
        let open: HashMap<Uuid, i64> = store::open_leads(c.conn(), &ids)
            .await?
            .into_iter()
            .collect();
        let stored = store::rep_settings(c.conn(), &ids).await?;
        let t = now();
        let reps = users
            .into_iter()
            .map(|u| {
                let s = settings_of(&stored, u.id);
                RepLoad {
                    open_leads: open.get(&u.id).copied().unwrap_or(0),
                    capacity: s.capacity,
                    status: s
                        .away(t)
                        .or_else(|| s.off_hours(t))
                        .map_or("available".to_owned(), |x| x.to_string()),
                    user_id: u.id,
                    name: u.name,
                }
            })
            .collect();
        Ok(Board {
            unassigned,
            queues,
            reps,
        })
    }

    /// Every active user's routing settings, by name (admins and managers).
    pub async fn reps_routing(&self, by: &Principal) -> AppResult<Vec<RepRouting>> {
        require_manager(by)?;
        let mut c = self.db.acquire().await?;
        let users: Vec<_> = users::list(c.conn())
            .await?
            .into_iter()
            .filter(|u| u.active)
            .collect();
        let ids: Vec<Uuid> = users.iter().map(|u| u.id).collect();
        let stored = store::rep_settings(c.conn(), &ids).await?;
        Ok(users
            .into_iter()
            .map(|u| RepRouting {
                settings: settings_of(&stored, u.id),
                user_id: u.id,
                name: u.name,
            })
            .collect())
    }

    /// A rep's routing settings.
    pub async fn rep_routing(&self, by: &Principal, user: Uuid) -> AppResult<RepRouting> {
        if by.user_id != Some(user) {
            require_manager(by)?;
        }
        let mut c = self.db.acquire().await?;
        let u = users::get(c.conn(), user)
            .await?
            .ok_or(AppError::NotFound("user"))?;
        let stored = store::rep_settings(c.conn(), &[user]).await?;
        Ok(RepRouting {
            user_id: u.id,
            name: u.name,
            settings: settings_of(&stored, user),
        })
    }

    /// Replaces a rep's routing settings (reps may set their own, e.g. an absence).
    pub async fn set_rep_routing(
        &self,
        by: &Principal,
        user: Uuid,
        settings: RepSettings,
    ) -> AppResult<RepRouting> {
        if by.user_id != Some(user) {
            require_manager(by)?;
        }
        settings.validate()?;
        let mut tx = self.db.begin().await?;
        let u = users::get(tx.conn(), user)
            .await?
            .ok_or(AppError::NotFound("user"))?;
        let doc = serde_json::to_value(&settings).map_err(|e| AppError::Internal(e.to_string()))?;
        store::set_rep_settings(tx.conn(), user, &doc, to_micros(now())).await?;
        audit(&mut tx, by, "rep.routing_set", "user", Some(user), doc).await?;
        tx.commit().await?;
        Ok(RepRouting {
            user_id: u.id,
            name: u.name,
            settings,
        })
    }
}
