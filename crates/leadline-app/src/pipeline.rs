//! Conversion and the opportunity pipeline: converting a qualified lead into a contact at
//! an account (the one its company domain matches, when there is one) and optionally an
//! opportunity; moving opportunities through the configurable stages until won or lost
//! (which records the lead's outcome for prediction and conversion rates).

use crate::error::{AppError, AppResult, invalid};
use crate::{App, admin::audit};
use chrono::{DateTime, NaiveDate, Utc};
use leadline_domain::customer_account::Account;
use leadline_domain::history::StageChange;
use leadline_domain::lead::Outcome;
use leadline_domain::pipeline::{
    Contact, ConvertInput, Opportunity, Pipeline, StageKind, parse_amount,
};
use leadline_domain::time::{from_micros, now, to_micros};
use leadline_domain::{Lead, Principal, Stage};
use leadline_store::pipeline::{self as store, OppChangeRow};
use leadline_store::{DbTx, accounts, capture, leads, settings, users};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use uuid::Uuid;

const PIPELINE_KEY: &str = "pipeline";

/// The pipeline in force (the default until one is saved).
pub(crate) async fn pipeline_in(tx: &mut DbTx) -> AppResult<Pipeline> {
    match settings::get(tx.conn(), PIPELINE_KEY).await? {
        None => Ok(Pipeline::default()),
        Some(v) => serde_json::from_value(v)
            .map_err(|e| AppError::Internal(format!("stored pipeline: {e}"))),
    }
}

/// What a conversion created.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Conversion {
    /// The lead, now `converted`.
    pub lead: Lead,
    pub contact: Contact,
    pub account: Option<Account>,
    /// How the account was found: `given`, `linked`, `domain` or `created`.
    pub account_matched_by: Option<String>,
    pub opportunity: Option<Opportunity>,
}

/// An opportunity with its stage history.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OpportunityDetail {
    pub opportunity: Opportunity,
    pub account_name: Option<String>,
    pub contact: Option<Contact>,
    pub history: Vec<OpportunityChange>,
}

/// One stage change of an opportunity.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OpportunityChange {
    pub from_stage: Option<String>,
    pub to_stage: String,
    pub reason: Option<String>,
    pub actor: String,
    pub at: DateTime<Utc>,
}

/// Moving an opportunity to a stage; closing (won or lost) needs a reason from the list.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveOpportunity {
    pub stage: String,
    #[serde(default)]
    pub reason: Option<String>,
}

/// Changing an opportunity's details (absent fields stay as they are).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpportunityPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "12500.00")]
    pub amount: Option<serde_json::Value>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "2027-03-31")]
    pub close_date: Option<NaiveDate>,
    #[serde(default)]
    pub owner_id: Option<Uuid>,
}

/// A column of the pipeline board.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BoardColumn {
    pub stage: String,
    pub label: String,
    pub probability: u8,
    pub kind: StageKind,
    pub count: i64,
    /// Total amount per currency (minor units).
    pub amounts: BTreeMap<String, i64>,
    /// Amount × probability per currency (minor units).
    pub weighted: BTreeMap<String, i64>,
    /// The newest opportunities in the stage (at most 50).
    pub opportunities: Vec<Opportunity>,
}

fn valid_currency(c: &str) -> bool {
    c.len() == 3 && c.chars().all(|x| x.is_ascii_uppercase())
}

fn change_row(o: &Opportunity, from: Option<String>, by: &str, at: DateTime<Utc>) -> OppChangeRow {
    OppChangeRow {
        id: Uuid::now_v7(),
        opportunity_id: o.id,
        from_stage: from,
        to_stage: o.stage.clone(),
        reason: o.reason.clone(),
        actor: by.into(),
        at: to_micros(at),
    }
}

impl App {
    /// The pipeline in force.
    pub async fn pipeline(&self) -> AppResult<Pipeline> {
        let mut tx = self.db.begin().await?;
        let p = pipeline_in(&mut tx).await?;
        tx.commit().await?;
        Ok(p)
    }

    /// Replaces the pipeline (admins and managers). A stage that opportunities still sit in
    /// cannot be removed.
    pub async fn set_pipeline(&self, by: &Principal, p: Pipeline) -> AppResult<Pipeline> {
        crate::auth::require_manager(by, "the pipeline's set-up")?;
        p.validate()?;
        let mut tx = self.db.begin().await?;
        for (stage, _, count, _) in store::totals(tx.conn()).await? {
            if p.stage(&stage).is_none() {
                return Err(invalid(
                    "stages",
                    "stage_in_use",
                    format!("{count} opportunities are in stage {stage}; move them first"),
                ));
            }
        }
        let value = serde_json::to_value(&p).map_err(|e| AppError::Internal(e.to_string()))?;
        settings::put(tx.conn(), PIPELINE_KEY, &value, to_micros(now())).await?;
        audit(&mut tx, by, "settings.pipeline", "settings", None, value).await?;
        tx.commit().await?;
        Ok(p)
    }

    /// Converts a sales-qualified lead into a contact, an account and optionally an
    /// opportunity, in one transaction. The lead stays (as `converted`) with its source,
    /// attribution and history; the contact and the opportunity point back to it. A second
    /// conversion is refused (409), also when two arrive at once.
    pub async fn convert_lead(
        &self,
        by: &Principal,
        id: Uuid,
        input: ConvertInput,
        if_match: Option<i64>,
    ) -> AppResult<Conversion> {
        let mut tx = self.db.begin().await?;
        let lead = crate::leads::visible_lead(tx.conn(), by, id).await?;
        crate::leads::check_writable(by, &lead, if_match)?;
        if lead.stage == Stage::Converted {
            return Err(AppError::Conflict("the lead was already converted".into()));
        }
        let to = lead.stage.transition(Stage::Converted, None)?;
        let t = now();
        let f = &lead.fields;

        // The account: given, already linked, matched by domain, or new.
        let linked = accounts::of_lead(tx.conn(), id).await?;
        let (account, matched_by) = if let Some(a) = input.account_id {
            let a = accounts::get(tx.conn(), a).await?.ok_or_else(|| {
                invalid("account_id", "unknown_account", "no account with this id")
            })?;
            (Some(a), Some("given"))
        } else if let Some((a, _)) = linked.clone() {
            (Some(a), Some("linked"))
        } else if let Some(d) = crate::quality::company_domain(&lead)
            && let Some(a) = accounts::by_domain(tx.conn(), &d).await?
        {
            (Some(a), Some("domain"))
        } else if let Some(company) = f
            .company
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
        {
            let a = Account {
                id: Uuid::now_v7(),
                name: company.chars().take(255).collect(),
                domain: crate::quality::company_domain(&lead),
                industry: f.industry.clone(),
                owner_id: f.owner_id,
                created_at: t,
                updated_at: t,
            };
            accounts::insert(tx.conn(), &a).await?;
            (Some(a), Some("created"))
        } else {
            (None, None)
        };
        if let Some(a) = &account
            && linked.as_ref().is_none_or(|(l, _)| l.id != a.id)
        {
            if linked.is_some() {
                accounts::unlink_lead(tx.conn(), id).await?;
            }
            accounts::link_lead(tx.conn(), id, a.id, "conversion", to_micros(t)).await?;
        }

        let owner = f.owner_id.or(by.user_id);
        let contact = Contact {
            id: Uuid::now_v7(),
            lead_id: id,
            account_id: account.as_ref().map(|a| a.id),
            first_name: f.first_name.clone(),
            last_name: f.last_name.clone(),
            email: f.email.clone(),
            phone: f.phone.clone().or_else(|| f.mobile.clone()),
            title: f.title.clone(),
            owner_id: owner,
            created_at: t,
        };
        store::insert_contact(tx.conn(), &contact)
            .await
            .map_err(store::double_conversion)?;

        let opportunity = match input.opportunity {
            None => None,
            Some(o) => {
                let pipeline = pipeline_in(&mut tx).await?;
                let currency = o
                    .currency
                    .map(|c| c.trim().to_ascii_uppercase())
                    .or_else(|| f.currency.clone())
                    .unwrap_or_else(|| "EUR".into());
                if !valid_currency(&currency) {
                    return Err(invalid(
                        "opportunity.currency",
                        "invalid_currency",
                        "an ISO 4217 code such as EUR",
                    ));
                }
                let amount = match &o.amount {
                    None | Some(serde_json::Value::Null) => None,
                    Some(v) => Some(parse_amount(v, Some(&currency)).ok_or_else(|| {
                        invalid(
                            "opportunity.amount",
                            "invalid_amount",
                            "a positive amount such as 12500 or \"12,500.00\"",
                        )
                    })?),
                };
                let stage = match &o.stage {
                    Some(s) => pipeline.check_move(s, None).map_err(|mut e| {
                        for fe in &mut e.0 {
                            fe.field = format!("opportunity.{}", fe.field);
                        }
                        AppError::Validation(e)
                    })?,
                    None => pipeline.first_open().ok_or_else(|| {
                        AppError::Internal("the pipeline has no open stage".into())
                    })?,
                };
                if stage.kind != StageKind::Open {
                    return Err(invalid(
                        "opportunity.stage",
                        "closed_stage",
                        "a new opportunity starts in an open stage",
                    ));
                }
                let name = o
                    .name
                    .map(|n| n.trim().to_owned())
                    .filter(|n| !n.is_empty())
                    .unwrap_or_else(|| {
                        let who = f.display_name();
                        match account
                            .as_ref()
                            .map(|a| a.name.as_str())
                            .or(f.company.as_deref())
                        {
                            Some(c) => format!("{c} – {who}"),
                            None => who,
                        }
                    });
                if name.chars().count() > 255 {
                    return Err(invalid(
                        "opportunity.name",
                        "too_long",
                        "must be at most 255 characters",
                    ));
                }
                let opp = Opportunity {
                    id: Uuid::now_v7(),
                    name,
                    account_id: account.as_ref().map(|a| a.id),
                    contact_id: Some(contact.id),
                    lead_id: Some(id),
                    owner_id: owner,
                    amount,
                    currency: Some(currency),
                    close_date: o.close_date,
                    stage: stage.key.clone(),
                    probability: stage.probability,
                    reason: None,
                    source: f.first_touch.source.clone(),
                    campaign: f.first_touch.campaign.clone(),
                    created_at: t,
                    updated_at: t,
                    closed_at: None,
                    version: 1,
                };
                store::insert_opportunity(tx.conn(), &opp).await?;
                store::record_change(tx.conn(), &change_row(&opp, None, &by.label, t)).await?;
                Some(opp)
            }
        };

        let mut converted = lead.clone();
        converted.stage = to;
        converted.updated_at = t;
        converted.version += 1;
        if !leads::update(tx.conn(), &converted, lead.version).await? {
            return Err(AppError::Conflict(
                "the lead was changed meanwhile; reload it and try again".into(),
            ));
        }
        let note = match (&account, &opportunity) {
            (Some(a), Some(o)) => {
                format!("converted: contact at {}, opportunity {}", a.name, o.name)
            }
            (Some(a), None) => format!("converted: contact at {}", a.name),
            (None, Some(o)) => format!("converted: contact, opportunity {}", o.name),
            (None, None) => "converted: contact".to_owned(),
        };
        crate::events::stage_changed_in(
            &mut tx,
            StageChange {
                id: Uuid::now_v7(),
                lead_id: id,
                from_stage: Some(lead.stage.as_str().into()),
                to_stage: to.as_str().into(),
                reason: None,
                note: Some(note),
                actor: by.label.clone(),
                at: t,
            },
        )
        .await?;
        crate::sla::touch_in(&mut tx, id, &by.label).await?;
        crate::sla::follow_lead_in(&mut tx, id).await?;
        crate::tasks::cancel_open_in(&mut tx, id).await?;
        let data = json!({"lead": converted, "contact_id": contact.id,
            "account_id": account.as_ref().map(|a| a.id),
            "opportunity": opportunity});
        crate::events::emit_in(
            &mut tx,
            vec![crate::events::Event::lead("lead.converted", id, data, t)],
        )
        .await?;
        audit(
            &mut tx,
            by,
            "lead.converted",
            "lead",
            Some(id),
            json!({"contact": contact.id, "account": account.as_ref().map(|a| a.id),
                   "opportunity": opportunity.as_ref().map(|o| o.id)}),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(lead_id = %id, contact_id = %contact.id, "lead converted");
        Ok(Conversion {
            lead: converted,
            contact,
            account,
            account_matched_by: matched_by.map(str::to_owned),
            opportunity,
        })
    }

    /// Opportunities the principal may see (reps: their own and unowned ones), newest
    /// first, optionally of one owner or lead.
    pub async fn opportunities(
        &self,
        by: &Principal,
        owner: Option<Uuid>,
        lead: Option<Uuid>,
        limit: u32,
    ) -> AppResult<Vec<Opportunity>> {
        let mut c = self.db.acquire().await?;
        let list =
            store::opportunities(c.conn(), owner, lead, i64::from(limit.clamp(1, 500))).await?;
        Ok(list
            .into_iter()
            .filter(|o| by.can_see_lead(o.owner_id))
            .collect())
    }

    async fn visible_opportunity(
        &self,
        tx: &mut DbTx,
        by: &Principal,
        id: Uuid,
    ) -> AppResult<Opportunity> {
        store::opportunity(tx.conn(), id)
            .await?
            .filter(|o| by.can_see_lead(o.owner_id))
            .ok_or(AppError::NotFound("opportunity"))
    }

    /// One opportunity with its account, contact and stage history.
    pub async fn opportunity(&self, by: &Principal, id: Uuid) -> AppResult<OpportunityDetail> {
        let mut tx = self.db.begin().await?;
        let o = self.visible_opportunity(&mut tx, by, id).await?;
        let account_name = match o.account_id {
            Some(a) => accounts::get(tx.conn(), a).await?.map(|a| a.name),
            None => None,
        };
        let contact = match o.contact_id {
            Some(c) => store::contact_by_id(tx.conn(), c).await?,
            None => None,
        };
        let history = store::changes(tx.conn(), id)
            .await?
            .into_iter()
            .map(|h| OpportunityChange {
                from_stage: h.from_stage,
                to_stage: h.to_stage,
                reason: h.reason,
                actor: h.actor,
                at: from_micros(h.at),
            })
            .collect();
        tx.commit().await?;
        Ok(OpportunityDetail {
            opportunity: o,
            account_name,
            contact,
            history,
        })
    }

    /// Moves an opportunity to a stage (with `If-Match`); won or lost needs a reason from
    /// the pipeline's list, closes it and records the lead's outcome; moving a closed one
    /// back to an open stage reopens it.
    pub async fn move_opportunity(
        &self,
        by: &Principal,
        id: Uuid,
        m: MoveOpportunity,
        if_match: Option<i64>,
    ) -> AppResult<Opportunity> {
        let mut tx = self.db.begin().await?;
        let current = self.visible_opportunity(&mut tx, by, id).await?;
        if let Some(v) = if_match
            && v != current.version
        {
            return Err(AppError::VersionMismatch {
                expected: v,
                current: current.version,
            });
        }
        let pipeline = pipeline_in(&mut tx).await?;
        let stage = pipeline.check_move(&m.stage, m.reason.as_deref())?.clone();
        if stage.key == current.stage && m.reason == current.reason {
            return Ok(current);
        }
        let t = now();
        let next = Opportunity {
            stage: stage.key.clone(),
            probability: stage.probability,
            reason: m.reason.clone(),
            closed_at: (stage.kind != StageKind::Open).then_some(t),
            updated_at: t,
            version: current.version + 1,
            ..current.clone()
        };
        if !store::update_opportunity(tx.conn(), &next, current.version).await? {
            return Err(AppError::Conflict(
                "the opportunity was changed meanwhile; reload it".into(),
            ));
        }
        store::record_change(
            tx.conn(),
            &change_row(&next, Some(current.stage.clone()), &by.label, t),
        )
        .await?;
        if let Some(lead) = next.lead_id {
            let outcome = match stage.kind {
                StageKind::Won => Some(Outcome::Won),
                StageKind::Lost => Some(Outcome::Lost),
                StageKind::Open => None,
            };
            if let Some(o) = outcome {
                capture::set_outcomes(
                    tx.conn(),
                    &[(lead, o)],
                    &format!("opportunity {}", next.id),
                    to_micros(t),
                )
                .await?;
            }
        }
        audit(
            &mut tx,
            by,
            "opportunity.stage_changed",
            "opportunity",
            Some(id),
            json!({"from": current.stage, "to": next.stage, "reason": next.reason}),
        )
        .await?;
        tx.commit().await?;
        Ok(next)
    }

    /// Changes an opportunity's name, amount, currency, close date or owner (with
    /// `If-Match`).
    pub async fn update_opportunity(
        &self,
        by: &Principal,
        id: Uuid,
        p: OpportunityPatch,
        if_match: Option<i64>,
    ) -> AppResult<Opportunity> {
        let mut tx = self.db.begin().await?;
        let current = self.visible_opportunity(&mut tx, by, id).await?;
        if let Some(v) = if_match
            && v != current.version
        {
            return Err(AppError::VersionMismatch {
                expected: v,
                current: current.version,
            });
        }
        let mut next = current.clone();
        if let Some(n) = p.name {
            let n = n.trim().to_owned();
            if n.is_empty() || n.chars().count() > 255 {
                return Err(invalid("name", "invalid", "a name of 1 to 255 characters"));
            }
            next.name = n;
        }
        if let Some(c) = p.currency {
            let c = c.trim().to_ascii_uppercase();
            if !valid_currency(&c) {
                return Err(invalid(
                    "currency",
                    "invalid_currency",
                    "an ISO 4217 code such as EUR",
                ));
            }
            next.currency = Some(c);
        }
        if let Some(a) = p.amount {
            next.amount = match a {
                serde_json::Value::Null => None,
                v => Some(parse_amount(&v, next.currency.as_deref()).ok_or_else(|| {
                    invalid(
                        "amount",
                        "invalid_amount",
                        "a positive amount such as 12500 or \"12,500.00\"",
                    )
                })?),
            };
        }
        if let Some(d) = p.close_date {
            next.close_date = Some(d);
        }
        if let Some(o) = p.owner_id {
            if !by.can_assign(current.owner_id, Some(o)) {
                return Err(AppError::Forbidden(
                    "you may not give this opportunity to that owner".into(),
                ));
            }
            if !users::get(tx.conn(), o).await?.is_some_and(|u| u.active) {
                return Err(invalid(
                    "owner_id",
                    "unknown_user",
                    "no active user with this id",
                ));
            }
            next.owner_id = Some(o);
        }
        if next == current {
            return Ok(current);
        }
        next.updated_at = now();
        next.version += 1;
        if !store::update_opportunity(tx.conn(), &next, current.version).await? {
            return Err(AppError::Conflict(
                "the opportunity was changed meanwhile; reload it".into(),
            ));
        }
        audit(
            &mut tx,
            by,
            "opportunity.updated",
            "opportunity",
            Some(id),
            json!({"name": next.name}),
        )
        .await?;
        tx.commit().await?;
        Ok(next)
    }

    /// The pipeline board: every stage with its count, totals and weighted totals per
    /// currency, and its newest opportunities (those the principal may see).
    pub async fn pipeline_board(&self, by: &Principal) -> AppResult<Vec<BoardColumn>> {
        let mut tx = self.db.begin().await?;
        let pipeline = pipeline_in(&mut tx).await?;
        let totals = store::totals(tx.conn()).await?;
        let owner = (!by.sees_all()).then_some(by.user_id).flatten();
        let recent = store::opportunities(tx.conn(), owner, None, 500).await?;
        tx.commit().await?;
        Ok(pipeline
            .stages
            .iter()
            .map(|s| {
                let mut col = BoardColumn {
                    stage: s.key.clone(),
                    label: s.label.clone(),
                    probability: s.probability,
                    kind: s.kind,
                    count: 0,
                    amounts: BTreeMap::new(),
                    weighted: BTreeMap::new(),
                    opportunities: recent
                        .iter()
                        .filter(|o| o.stage == s.key && by.can_see_lead(o.owner_id))
                        .take(50)
                        .cloned()
                        .collect(),
                };
                for (stage, currency, count, sum) in &totals {
                    if *stage != s.key {
                        continue;
                    }
                    col.count += count;
                    if let (Some(c), Some(sum)) = (currency, sum) {
                        *col.amounts.entry(c.clone()).or_default() += sum;
                        *col.weighted.entry(c.clone()).or_default() +=
                            sum * i64::from(s.probability) / 100;
                    }
                }
                col
            })
            .collect())
    }

    /// The contact a lead was converted into.
    pub async fn lead_contact(&self, by: &Principal, lead: Uuid) -> AppResult<Option<Contact>> {
        let mut c = self.db.acquire().await?;
        crate::leads::visible_lead(c.conn(), by, lead).await?;
        Ok(store::contact_of_lead(c.conn(), lead).await?)
    }
}
