//! Lead use cases: create, read, change, move through the lifecycle, delete, list, and
//! the timeline of activities.

use crate::App;
use crate::admin::audit;
use crate::error::{AppError, AppResult, invalid, taken};

/// The message for a second live lead with the same external id.
pub(crate) const EXTERNAL_ID_TAKEN: &str = "another lead has this external id";
use leadline_domain::filter::LeadQuery;
use leadline_domain::lead::diff;
use leadline_domain::time::{now, to_micros};
use leadline_domain::{
    Activity, DisqualifyReason, Lead, LeadFields, NewActivity, Principal, Stage,
};
use leadline_store::history::{OwnerChange, StageChange};
use leadline_store::leads::{Page, Visibility};
use leadline_store::{DbTx, activities, history, leads, teams, users};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

/// A stage change request.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StageTransition {
    /// The stage to move to.
    pub to: Stage,
    /// Required when `to` is `disqualified`, refused otherwise.
    #[serde(default)]
    pub reason: Option<DisqualifyReason>,
    /// Free text kept in the stage history.
    #[serde(default)]
    pub note: Option<String>,
    /// With `to` = `nurture`: the day the lead comes back to sales (moved to `mql` at the
    /// first business hour of that day, with a new first-touch clock).
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "2027-03-01")]
    pub reengage_on: Option<chrono::NaiveDate>,
}

/// Where a lead came from.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Attribution {
    pub first_touch: leadline_domain::Touch,
    pub last_touch: leadline_domain::Touch,
    pub external_id: Option<String>,
    /// Who referred the lead, when recorded (capture API `referral`).
    pub referral: Option<leadline_domain::source::Referral>,
    /// `won` or `lost` for historical leads (e.g. an import's outcome column).
    pub outcome: Option<leadline_domain::lead::Outcome>,
    /// Where the outcome came from (e.g. `import <id>`).
    pub outcome_origin: Option<String>,
}

/// Everything the lead page shows.
#[derive(Debug, Clone)]
pub struct LeadDetail {
    pub lead: Lead,
    pub activities: Vec<Activity>,
    pub stages: Vec<StageChange>,
    pub owners: Vec<OwnerChange>,
    pub audit: Vec<leadline_domain::account::AuditEntry>,
    /// Who referred the lead, if recorded.
    pub referral: Option<leadline_domain::source::Referral>,
    /// The known historical outcome (e.g. from an import) and where it came from.
    pub outcome: Option<(leadline_domain::lead::Outcome, String)>,
    /// The lead's verification, when it was checked.
    pub quality: Option<leadline_domain::quality::verify::Verification>,
    /// The account the lead belongs to.
    pub account: Option<crate::accounts::LeadAccount>,
    /// Enriched values and their provenance.
    pub enrichment: Vec<crate::quality::LeadEnrichment>,
    /// Open duplicate candidates: the other lead and the confidence.
    pub duplicates: Vec<(Uuid, f64)>,
    /// Merges this lead survived, newest first.
    pub merges: Vec<crate::quality::MergeRecord>,
}

fn visibility(p: &Principal) -> Visibility {
    if p.sees_all() {
        Visibility::All
    } else {
        Visibility::OwnOrUnassigned(p.user_id)
    }
}

/// Reads a lead the principal may see; a lead they may not see does not exist for them.
pub(crate) async fn visible_lead(
    tx_or_conn: leadline_store::Conn<'_>,
    p: &Principal,
    id: Uuid,
) -> AppResult<Lead> {
    let lead = leads::get(tx_or_conn, id)
        .await?
        .ok_or(AppError::NotFound("lead"))?;
    if !p.can_see_lead(lead.fields.owner_id) {
        return Err(AppError::NotFound("lead"));
    }
    Ok(lead)
}

/// The principal may change `current`, and it is still at the version they saw.
pub(crate) fn check_writable(
    by: &Principal,
    current: &Lead,
    if_match: Option<i64>,
) -> AppResult<()> {
    if let Some(expected) = if_match
        && expected != current.version
    {
        return Err(AppError::VersionMismatch {
            expected,
            current: current.version,
        });
    }
    if !by.can_edit_lead(current.fields.owner_id) {
        return Err(AppError::Forbidden("you may not change this lead".into()));
    }
    Ok(())
}

/// The owner (active) and team a lead points to exist. Only references that changed
/// since `before` are looked up.
pub(crate) async fn check_refs(
    tx: &mut DbTx,
    f: &LeadFields,
    before: Option<&LeadFields>,
) -> AppResult<()> {
    if let Some(o) = f
        .owner_id
        .filter(|o| before.is_none_or(|b| b.owner_id != Some(*o)))
    {
        match users::get(tx.conn(), o).await? {
            Some(u) if u.active => {}
            Some(_) => {
                return Err(invalid(
                    "owner_id",
                    "inactive_user",
                    "this user is deactivated",
                ));
            }
            None => return Err(invalid("owner_id", "unknown_user", "no user with this id")),
        }
    }
    if let Some(t) = f
        .team_id
        .filter(|t| before.is_none_or(|b| b.team_id != Some(*t)))
        && !teams::exists(tx.conn(), t).await?
    {
        return Err(invalid("team_id", "unknown_team", "no team with this id"));
    }
    Ok(())
}

impl App {
    /// Creates a lead from a JSON object of [`LeadFields`]. A rep's new lead is theirs; a
    /// rep may not create a lead for someone else.
    pub async fn create_lead(&self, by: &Principal, body: Value) -> AppResult<Lead> {
        let mut fields = LeadFields::from_json(body)?;
        if by.role == leadline_domain::Role::Rep && fields.owner_id.is_none() {
            fields.owner_id = by.user_id;
        }
        if !by.can_assign(None, fields.owner_id) {
            return Err(AppError::Forbidden(
                "you may not assign leads to other users".into(),
            ));
        }
        let defs = self.custom_fields().await?;
        let fields = fields.clean(&defs)?;
        let t = now();
        let lead = Lead {
            id: Uuid::now_v7(),
            fields,
            stage: Stage::New,
            disqualify_reason: None,
            score: 0,
            grade: None,
            created_at: t,
            updated_at: t,
            version: 1,
        };
        let mut tx = self.db.begin().await?;
        check_refs(&mut tx, &lead.fields, None).await?;
        leads::insert(tx.conn(), &lead)
            .await
            .map_err(taken("external_id", EXTERNAL_ID_TAKEN))?;
        crate::events::leads_created_in(&mut tx, std::slice::from_ref(&lead)).await?;
        crate::events::stage_changed_in(
            &mut tx,
            StageChange {
                id: Uuid::now_v7(),
                lead_id: lead.id,
                from_stage: None,
                to_stage: Stage::New.as_str().into(),
                reason: None,
                note: None,
                actor: by.label.clone(),
                at: t,
            },
        )
        .await?;
        if lead.fields.owner_id.is_some() {
            record_owner(
                &mut tx,
                by,
                lead.id,
                None,
                lead.fields.owner_id,
                "set on creation",
            )
            .await?;
        }
        audit(
            &mut tx,
            by,
            "lead.created",
            "lead",
            Some(lead.id),
            Value::Null,
        )
        .await?;
        let lead = match crate::scoring::score_lead_in(&mut tx, lead.id, "created").await? {
            Some(_) => leads::get(tx.conn(), lead.id).await?.unwrap_or(lead),
            None => lead,
        };
        tx.commit().await?;
        tracing::debug!(lead_id = %lead.id, "lead created");
        Ok(lead)
    }

    /// Reads one lead.
    pub async fn get_lead(&self, by: &Principal, id: Uuid) -> AppResult<Lead> {
        let mut c = self.db.acquire().await?;
        visible_lead(c.conn(), by, id).await
    }

    /// The lead with its timeline and histories.
    pub async fn lead_detail(&self, by: &Principal, id: Uuid) -> AppResult<LeadDetail> {
        let mut c = self.db.acquire().await?;
        let lead = visible_lead(c.conn(), by, id).await?;
        Ok(LeadDetail {
            activities: activities::for_lead(c.conn(), id, None, 100).await?,
            stages: history::stages_for_lead(c.conn(), id).await?,
            owners: history::owners_for_lead(c.conn(), id).await?,
            audit: leadline_store::audit::for_entity(c.conn(), "lead", id, 50).await?,
            referral: leadline_store::capture::referral(c.conn(), id).await?,
            outcome: leadline_store::capture::outcome(c.conn(), id).await?,
            quality: leadline_store::quality::get(c.conn(), id)
                .await?
                .map(|q| q.verification),
            account: leadline_store::accounts::of_lead(c.conn(), id).await?.map(
                |(account, matched_by)| crate::accounts::LeadAccount {
                    account,
                    matched_by,
                },
            ),
            enrichment: leadline_store::enrichment::for_lead(c.conn(), id)
                .await?
                .into_iter()
                .map(|(value, applied, at)| crate::quality::LeadEnrichment {
                    value,
                    applied,
                    enriched_at: leadline_domain::time::from_micros(at),
                })
                .collect(),
            duplicates: leadline_store::duplicates::for_lead(c.conn(), id)
                .await?
                .into_iter()
                .map(|p| {
                    let other = if p.lead_a == id { p.lead_b } else { p.lead_a };
                    (other, p.confidence)
                })
                .collect(),
            merges: crate::quality::merges_of(c.conn(), id).await?,
            lead,
        })
    }

    /// Where a lead came from: first and last touch, who referred it, its external id and
    /// its known historical outcome.
    pub async fn lead_attribution(&self, by: &Principal, id: Uuid) -> AppResult<Attribution> {
        let mut c = self.db.acquire().await?;
        let lead = visible_lead(c.conn(), by, id).await?;
        let outcome = leadline_store::capture::outcome(c.conn(), id).await?;
        Ok(Attribution {
            first_touch: lead.fields.first_touch,
            last_touch: lead.fields.last_touch,
            external_id: lead.fields.external_id,
            referral: leadline_store::capture::referral(c.conn(), id).await?,
            outcome: outcome.as_ref().map(|o| o.0),
            outcome_origin: outcome.map(|o| o.1),
        })
    }

    /// A lead's stage and owner history, oldest first.
    pub async fn lead_history(
        &self,
        by: &Principal,
        id: Uuid,
    ) -> AppResult<(Vec<StageChange>, Vec<OwnerChange>)> {
        let mut c = self.db.acquire().await?;
        visible_lead(c.conn(), by, id).await?;
        Ok((
            history::stages_for_lead(c.conn(), id).await?,
            history::owners_for_lead(c.conn(), id).await?,
        ))
    }

    /// Applies a JSON merge patch. With `if_match` the write only happens if the lead is
    /// still at that version.
    pub async fn update_lead(
        &self,
        by: &Principal,
        id: Uuid,
        patch: Value,
        if_match: Option<i64>,
    ) -> AppResult<Lead> {
        let defs = self.custom_fields().await?;
        let mut tx = self.db.begin().await?;
        let current = visible_lead(tx.conn(), by, id).await?;
        check_writable(by, &current, if_match)?;
        let fields = current
            .fields
            .merge_patch(&patch)?
            .clean_update(&defs, Some(&current.fields))?;
        if fields.owner_id != current.fields.owner_id
            && !by.can_assign(current.fields.owner_id, fields.owner_id)
        {
            return Err(AppError::Forbidden(
                "you may not give this lead to that owner".into(),
            ));
        }
        let changes = diff(&current.fields, &fields);
        if changes.is_empty() {
            return Ok(current);
        }
        check_refs(&mut tx, &fields, Some(&current.fields)).await?;
        let mut lead = current.clone();
        lead.fields = fields;
        lead.updated_at = now();
        lead.version = current.version + 1;
        if !leads::update(tx.conn(), &lead, current.version)
            .await
            .map_err(taken("external_id", EXTERNAL_ID_TAKEN))?
        {
            return Err(AppError::VersionMismatch {
                expected: current.version,
                current: current.version + 1,
            });
        }
        crate::events::lead_updated_in(&mut tx, &lead, &changes).await?;
        if lead.fields.owner_id != current.fields.owner_id {
            record_owner(
                &mut tx,
                by,
                id,
                current.fields.owner_id,
                lead.fields.owner_id,
                "changed by edit",
            )
            .await?;
        }
        audit(
            &mut tx,
            by,
            "lead.updated",
            "lead",
            Some(id),
            serde_json::to_value(&changes).unwrap_or(Value::Null),
        )
        .await?;
        crate::scoring::score_lead_in(&mut tx, id, "edited").await?;
        tx.commit().await?;
        // Scoring may have moved the lead on (a new fit grade can qualify it).
        Ok(leads::get(self.db.acquire().await?.conn(), id)
            .await?
            .unwrap_or(lead))
    }

    /// Moves a lead to another stage if the lifecycle allows it.
    pub async fn transition_lead(
        &self,
        by: &Principal,
        id: Uuid,
        t: StageTransition,
        if_match: Option<i64>,
    ) -> AppResult<Lead> {
        let note = t
            .note
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned);
        if note.as_ref().is_some_and(|n| n.chars().count() > 2000) {
            return Err(invalid(
                "note",
                "too_long",
                "must be at most 2000 characters",
            ));
        }
        if let Some(d) = t.reengage_on {
            if t.to != Stage::Nurture {
                return Err(invalid(
                    "reengage_on",
                    "not_allowed",
                    "a re-engage date goes with a move to nurture",
                ));
            }
            if d <= now().date_naive() {
                return Err(invalid(
                    "reengage_on",
                    "not_future",
                    "must be a day after today",
                ));
            }
        }
        let mut tx = self.db.begin().await?;
        let current = visible_lead(tx.conn(), by, id).await?;
        check_writable(by, &current, if_match)?;
        let to = current.stage.transition(t.to, t.reason)?;
        if to == Stage::Sql {
            crate::scoring::qualification_settings_in(&mut tx)
                .await?
                .check_sql(&current.fields)?;
        }
        let at = now();
        let mut lead = current.clone();
        lead.stage = to;
        lead.disqualify_reason = t.reason;
        lead.updated_at = at;
        lead.version += 1;
        if !leads::update(tx.conn(), &lead, current.version).await? {
            return Err(AppError::VersionMismatch {
                expected: current.version,
                current: current.version + 1,
            });
        }
        crate::events::stage_changed_in(
            &mut tx,
            StageChange {
                id: Uuid::now_v7(),
                lead_id: id,
                from_stage: Some(current.stage.as_str().into()),
                to_stage: to.as_str().into(),
                reason: t.reason.map(|r| r.as_str().into()),
                note,
                actor: by.label.clone(),
                at,
            },
        )
        .await?;
        audit(
            &mut tx,
            by,
            "lead.stage_changed",
            "lead",
            Some(id),
            json!({"from": current.stage, "to": to, "reason": t.reason}),
        )
        .await?;
        // A person's decision on the lead is a touch; its next stage may start a new clock.
        crate::sla::touch_in(&mut tx, id, &by.label).await?;
        crate::sla::follow_lead_in(&mut tx, id).await?;
        if !crate::tasks::followable(to) || to == Stage::Nurture {
            crate::tasks::cancel_open_in(&mut tx, id).await?;
        }
        crate::sla::set_reengagement_in(&mut tx, id, t.reengage_on, &by.label).await?;
        tx.commit().await?;
        Ok(lead)
    }

    /// Soft-deletes a lead (managers and admins).
    pub async fn delete_lead(&self, by: &Principal, id: Uuid) -> AppResult<()> {
        // The role first: a rep learns nothing about which ids exist.
        if !by.can_delete_leads() {
            return Err(AppError::Forbidden(
                "only managers and admins may delete leads".into(),
            ));
        }
        let mut tx = self.db.begin().await?;
        visible_lead(tx.conn(), by, id).await?;
        leads::soft_delete(tx.conn(), id, to_micros(now())).await?;
        crate::nurture::run::lead_gone_in(&mut tx, id, "lead_deleted").await?;
        audit(&mut tx, by, "lead.deleted", "lead", Some(id), Value::Null).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Parses list parameters (shared by the API, the UI and saved views).
    pub async fn parse_lead_query(&self, pairs: &[(String, String)]) -> AppResult<LeadQuery> {
        let defs = self.custom_fields().await?;
        Ok(LeadQuery::parse(pairs, &defs)?)
    }

    /// One page of the leads the principal may see.
    pub async fn list_leads(&self, by: &Principal, query: &LeadQuery) -> AppResult<Page> {
        let mut c = self.db.acquire().await?;
        Ok(leads::list(c.conn(), query, visibility(by), by.user_id).await?)
    }

    /// Appends an activity to a lead's timeline.
    pub async fn add_activity(
        &self,
        by: &Principal,
        lead_id: Uuid,
        input: NewActivity,
    ) -> AppResult<Activity> {
        let t = now();
        input.validate(t)?;
        let mut tx = self.db.begin().await?;
        visible_lead(tx.conn(), by, lead_id).await?;
        let a = Activity {
            id: Uuid::now_v7(),
            lead_id,
            kind: input.kind,
            occurred_at: input.occurred_at.unwrap_or(t),
            properties: input.properties,
            recorded_by: Some(by.label.clone()),
            created_at: t,
        };
        activities::insert(tx.conn(), &a).await?;
        if leadline_domain::sla::is_touch(&a.kind) {
            crate::sla::touch_in(&mut tx, lead_id, &by.label).await?;
        }
        crate::scoring::score_lead_in(&mut tx, lead_id, &format!("activity {}", a.kind)).await?;
        tx.commit().await?;
        Ok(a)
    }

    /// A lead's activities, newest first (at most `limit`, up to 200).
    pub async fn lead_activities(
        &self,
        by: &Principal,
        lead_id: Uuid,
        limit: u32,
    ) -> AppResult<Vec<Activity>> {
        let mut c = self.db.acquire().await?;
        visible_lead(c.conn(), by, lead_id).await?;
        Ok(activities::for_lead(c.conn(), lead_id, None, limit.clamp(1, 200)).await?)
    }
}

async fn record_owner(
    tx: &mut DbTx,
    by: &Principal,
    lead_id: Uuid,
    from: Option<Uuid>,
    to: Option<Uuid>,
    reason: &str,
) -> AppResult<()> {
    crate::events::owner_changed_in(
        tx,
        &OwnerChange {
            id: Uuid::now_v7(),
            lead_id,
            from_owner: from,
            to_owner: to,
            reason: Some(reason.to_owned()),
            actor: by.label.clone(),
            at: now(),
            team_id: None,
            rule_id: None,
            method: None,
            routing_version: None,
        },
    )
    .await?;
    Ok(())
}
