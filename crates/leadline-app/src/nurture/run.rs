//! Running sequences: enrolling leads (by hand, in bulk, over the API, on entering a
//! stage), the worker that walks each due enrollment through its steps, exits (converted,
//! handed back to sales, unsubscribed, bounced, deleted), and unsubscribing.
//!
//! Each enrollment advances in one transaction: the message of an email step is queued
//! with the enrollment's move past that step, keyed by (enrollment, step run), so a step
//! run is queued at most once whatever crashes; the mail worker then sends sequence mail
//! at most once (see `mail.rs`).

use super::{Sequence, to_sequence};
use crate::App;
use crate::error::{AppError, AppResult};
use chrono::Duration;
use leadline_domain::nurture::sequence::{Condition, Step, next_local_time};
use leadline_domain::nurture::template::render;
use leadline_domain::time::{from_micros, now, to_micros};
use leadline_domain::{Lead, Principal, Stage};
use leadline_store::history::StageChange;
use leadline_store::mail::MessageRow;
use leadline_store::nurture::{self as store, EnrollmentRow};
use leadline_store::{DbTx, activities, leads, mail, users};
use serde::Serialize;
use uuid::Uuid;

/// How long a claimed enrollment stays with its worker.
const LEASE_SECONDS: i64 = 15;
const BATCH: i64 = 50;
/// Steps one advance runs at most before yielding (waits end an advance anyway).
const MAX_STEPS_PER_ADVANCE: usize = 50;

/// An enrollment as shown.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Enrollment {
    pub id: Uuid,
    pub sequence_id: Uuid,
    /// Filled where the sequence is at hand (a lead's enrollments).
    pub sequence_name: Option<String>,
    pub lead_id: Uuid,
    /// `active`, `finished` or `exited`.
    pub status: String,
    /// The next step (1-based) while active.
    pub next_step: Option<i32>,
    pub due_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Why it ended early: `converted`, `handed_to_sales`, `unsubscribed`, `bounced`,
    /// `do_not_email`, `no_email`, `lead_deleted`, `moved`.
    pub exit_reason: Option<String>,
    pub enrolled_by: String,
    pub enrolled_at: chrono::DateTime<chrono::Utc>,
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<EnrollmentRow> for Enrollment {
    fn from(e: EnrollmentRow) -> Self {
        let active = e.status == "active";
        Enrollment {
            id: e.id,
            sequence_id: e.sequence_id,
            sequence_name: None,
            lead_id: e.lead_id,
            next_step: active.then_some(e.step + 1),
            due_at: active.then(|| from_micros(e.due_at)),
            status: e.status,
            exit_reason: e.exit_reason,
            enrolled_by: e.enrolled_by,
            enrolled_at: from_micros(e.enrolled_at),
            finished_at: e.finished_at.map(from_micros),
        }
    }
}

/// What enrolling one lead did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EnrollResult {
    pub lead_id: Uuid,
    /// `enrolled`, `already_active`, `not_again` (finished before; no re-enrollment),
    /// `unsubscribed` (or bounced, do-not-email, no address), `no_consent` (the sequence
    /// requires consent the lead has not given), `not_found`.
    pub outcome: String,
    pub enrollment_id: Option<Uuid>,
}

/// Enrolls a lead unless it is active there, or finished it and may not come back, or
/// may not be mailed.
pub(crate) async fn enroll_in(
    tx: &mut DbTx,
    seq: &Sequence,
    lead: &Lead,
    by: &str,
) -> AppResult<(String, Option<Uuid>)> {
    if let Some(why) = blocked_in(tx, lead, seq.definition.requires_consent).await? {
        let outcome = if why == "no_consent" {
            why
        } else {
            "unsubscribed"
        };
        return Ok((outcome.into(), None));
    }
    if !seq.definition.allow_reenrollment
        && store::enrolled_before(tx.conn(), seq.id, lead.id).await?
    {
        return Ok(("not_again".into(), None));
    }
    let t = to_micros(now());
    let row = EnrollmentRow {
        id: Uuid::now_v7(),
        sequence_id: seq.id,
        lead_id: lead.id,
        status: "active".into(),
        step: 0,
        step_run: 0,
        due_at: t,
        enrolled_stage: lead.stage.as_str().into(),
        exit_reason: None,
        enrolled_by: by.into(),
        enrolled_at: t,
        finished_at: None,
    };
    if store::enroll(tx.conn(), &row).await? {
        Ok(("enrolled".into(), Some(row.id)))
    } else {
        Ok(("already_active".into(), None))
    }
}

/// Enrolls leads that just entered a stage in the active sequences that enroll on it.
pub(crate) async fn enroll_on_stages_in(tx: &mut DbTx, changes: &[StageChange]) -> AppResult<()> {
    let moved: Vec<&StageChange> = changes.iter().filter(|c| c.from_stage.is_some()).collect();
    if moved.is_empty() {
        return Ok(());
    }
    let sequences: Vec<Sequence> = active_sequences(tx)
        .await?
        .into_iter()
        .filter(|s| !s.definition.enroll_on_stages.is_empty())
        .collect();
    if sequences.is_empty() {
        return Ok(());
    }
    for ch in moved {
        for seq in sequences.iter().filter(|s| {
            s.definition
                .enroll_on_stages
                .iter()
                .any(|st| st.as_str() == ch.to_stage)
        }) {
            if let Some(lead) = leads::get(tx.conn(), ch.lead_id).await? {
                enroll_in(tx, seq, &lead, &format!("on entering {}", ch.to_stage)).await?;
            }
        }
    }
    Ok(())
}

/// The active sequences, read and checked.
async fn active_sequences(tx: &mut DbTx) -> AppResult<Vec<Sequence>> {
    store::sequences(tx.conn())
        .await?
        .into_iter()
        .filter(|s| s.active)
        .map(to_sequence)
        .collect()
}

/// Enrolls a lead that just submitted a form in the active sequences that enroll on it.
pub(crate) async fn enroll_on_form_in(tx: &mut DbTx, lead: &Lead, form: &str) -> AppResult<()> {
    for seq in active_sequences(tx).await? {
        if seq.definition.enroll_on_forms.iter().any(|f| f == form) {
            enroll_in(tx, &seq, lead, &format!("on submitting form {form}")).await?;
        }
    }
    Ok(())
}

/// Enrolls a lead whose score moved from `before` to `after` in the active sequences whose
/// score band it just entered.
pub(crate) async fn enroll_on_score_in(
    tx: &mut DbTx,
    lead_id: Uuid,
    before: Option<i32>,
    after: i32,
) -> AppResult<()> {
    let mut lead = None;
    for seq in active_sequences(tx).await? {
        let Some(band) = seq.definition.enroll_on_score else {
            continue;
        };
        if !band.entered(before, after) {
            continue;
        }
        if lead.is_none() {
            lead = leads::get(tx.conn(), lead_id).await?;
        }
        if let Some(l) = &lead {
            enroll_in(tx, &seq, l, &format!("on reaching score {after}")).await?;
        }
    }
    Ok(())
}

/// Why an address is suppressed, if it is: under its key, or under the key's hash when
/// its person was erased.
async fn suppression_of(tx: &mut DbTx, key: &str) -> AppResult<Option<String>> {
    if let Some(r) = store::suppressed(tx.conn(), key).await? {
        return Ok(Some(r));
    }
    Ok(store::suppressed(tx.conn(), &crate::privacy::suppression_hash(key)).await?)
}

/// Why a lead may not be mailed, if it may not: opted out, no address, suppressed, or
/// (where the sequence requires it) no marketing-email consent on record.
async fn blocked_in(
    tx: &mut DbTx,
    lead: &Lead,
    requires_consent: bool,
) -> AppResult<Option<&'static str>> {
    if lead.fields.email_opt_out {
        return Ok(Some("do_not_email"));
    }
    let Some(email) = lead
        .fields
        .email
        .as_deref()
        .and_then(leadline_domain::quality::normalize::email)
    else {
        return Ok(Some("no_email"));
    };
    let suppressed = match suppression_of(tx, &email.match_key).await? {
        Some(r) if r == "hard_bounce" => Some("bounced"),
        Some(_) => Some("unsubscribed"),
        None => None,
    };
    if suppressed.is_some() {
        return Ok(suppressed);
    }
    // A withdrawal stops every sequence at once, whether or not it asks for consent.
    let consent =
        leadline_store::consents::current(tx.conn(), lead.id, crate::consents::MARKETING_EMAIL)
            .await?;
    if consent == Some(false) || (requires_consent && consent != Some(true)) {
        return Ok(Some("no_consent"));
    }
    Ok(None)
}

impl App {
    /// Enrolls leads by hand, in bulk or over the API (admins, managers, marketers; reps
    /// their own leads).
    pub async fn enroll_leads(
        &self,
        by: &Principal,
        sequence: Uuid,
        lead_ids: &[Uuid],
    ) -> AppResult<Vec<EnrollResult>> {
        if lead_ids.len() > 1000 {
            return Err(crate::error::invalid(
                "lead_ids",
                "too_many",
                "at most 1,000 leads at a time",
            ));
        }
        let mut tx = self.db.begin().await?;
        let seq = to_sequence(
            store::sequence(tx.conn(), sequence)
                .await?
                .ok_or(AppError::NotFound("sequence"))?,
        )?;
        if !seq.active {
            return Err(AppError::Conflict("the sequence is paused".into()));
        }
        let mut out = Vec::with_capacity(lead_ids.len());
        for id in lead_ids {
            let lead = leads::get(tx.conn(), *id)
                .await?
                .filter(|l| by.can_edit_lead(l.fields.owner_id));
            let (outcome, enrollment_id) = match lead {
                Some(l) => enroll_in(&mut tx, &seq, &l, &by.label).await?,
                None => ("not_found".into(), None),
            };
            out.push(EnrollResult {
                lead_id: *id,
                outcome,
                enrollment_id,
            });
        }
        tx.commit().await?;
        Ok(out)
    }

    /// A lead's enrollments.
    pub async fn lead_enrollments(&self, by: &Principal, lead: Uuid) -> AppResult<Vec<Enrollment>> {
        let mut c = self.db.acquire().await?;
        crate::leads::visible_lead(c.conn(), by, lead).await?;
        let names: std::collections::HashMap<Uuid, String> = store::sequences(c.conn())
            .await?
            .into_iter()
            .map(|s| (s.id, s.name))
            .collect();
        Ok(store::enrollments_of_lead(c.conn(), lead)
            .await?
            .into_iter()
            .map(|e| {
                let name = names.get(&e.sequence_id).cloned();
                Enrollment {
                    sequence_name: name,
                    ..Enrollment::from(e)
                }
            })
            .collect())
    }

    /// Stops a lead's enrollment by hand.
    pub async fn exit_enrollment(&self, by: &Principal, id: Uuid) -> AppResult<Enrollment> {
        let mut tx = self.db.begin().await?;
        let e = store::enrollment(tx.conn(), id)
            .await?
            .ok_or(AppError::NotFound("enrollment"))?;
        crate::leads::visible_lead(tx.conn(), by, e.lead_id).await?;
        if e.status != "active" {
            return Err(AppError::Conflict("the enrollment has ended".into()));
        }
        let e = EnrollmentRow {
            status: "exited".into(),
            exit_reason: Some(format!("stopped by {}", by.label)),
            finished_at: Some(to_micros(now())),
            ..e
        };
        store::save_enrollment(tx.conn(), &e).await?;
        tx.commit().await?;
        Ok(e.into())
    }

    /// One round of the sequence worker: advances due enrollments. Returns how many.
    pub async fn run_sequences(&self) -> AppResult<usize> {
        let t = now();
        let claimed = {
            let mut tx = self.db.begin().await?;
            let c = store::claim_due_enrollments(
                tx.conn(),
                to_micros(t),
                to_micros(t + Duration::seconds(LEASE_SECONDS)),
                BATCH,
            )
            .await?;
            tx.commit().await?;
            c
        };
        let n = claimed.len();
        for e in claimed {
            let mut tx = self.db.begin().await?;
            let id = e.id;
            match advance_in(&mut tx, e).await {
                Ok(()) => tx.commit().await?,
                Err(err) => {
                    // Left for its lease to lapse and another try; logged by id only.
                    tracing::error!(enrollment_id = %id, error = %err, "enrollment not advanced");
                }
            }
        }
        Ok(n)
    }

    /// What an unsubscribe link is about: the address (masked) and whether it is already out.
    pub async fn unsubscribe_info(&self, token: &str) -> AppResult<(String, bool)> {
        let mut tx = self.db.begin().await?;
        let m = mail::by_unsubscribe_token(tx.conn(), token)
            .await?
            .ok_or(AppError::NotFound("unsubscribe link"))?;
        let key = leadline_domain::quality::normalize::email(&m.to_address)
            .map(|e| e.match_key)
            .unwrap_or_default();
        let done = suppression_of(&mut tx, &key).await?.is_some();
        Ok((mask(&m.to_address), done))
    }

    /// Unsubscribes the address a message went to (RFC 8058 one-click or the page's
    /// button): suppressed for good, the lead marked do-not-email, its enrollments ended,
    /// an `unsubscribed` activity on its timeline.
    pub async fn unsubscribe(&self, token: &str) -> AppResult<()> {
        let mut tx = self.db.begin().await?;
        let m = mail::by_unsubscribe_token(tx.conn(), token)
            .await?
            .ok_or(AppError::NotFound("unsubscribe link"))?;
        let key = leadline_domain::quality::normalize::email(&m.to_address)
            .map(|e| e.match_key)
            .unwrap_or_else(|| m.to_address.to_lowercase());
        // An erased message has no address left to unsubscribe.
        if m.to_address.is_empty() || suppression_of(&mut tx, &key).await?.is_some() {
            return Ok(());
        }
        let t = now();
        store::suppress(tx.conn(), &key, "unsubscribed", m.lead_id, to_micros(t)).await?;
        mail::record_engagement(
            tx.conn(),
            m.id,
            mail::Engagement::Unsubscribed,
            to_micros(t),
        )
        .await?;
        if let Some(lead_id) = m.lead_id
            && let Some(lead) = leads::get(tx.conn(), lead_id).await?
        {
            if !lead.fields.email_opt_out {
                let mut next = lead.clone();
                next.fields.email_opt_out = true;
                next.updated_at = t;
                next.version += 1;
                if leads::update(tx.conn(), &next, lead.version).await? {
                    let changes = leadline_domain::lead::diff(&lead.fields, &next.fields);
                    crate::events::lead_updated_in(&mut tx, &next, &changes).await?;
                }
            }
            store::exit_active_of_lead(tx.conn(), lead_id, "unsubscribed", to_micros(t)).await?;
            let withdrawn = crate::consents::NewConsent {
                proof: Some(format!("unsubscribe link of message {}", m.id)),
                ..crate::consents::NewConsent::new(false, "unsubscribe")
            };
            crate::consents::record_in(&mut tx, lead_id, withdrawn, "unsubscribe link").await?;
            let mut props = serde_json::Map::new();
            props.insert("message_id".into(), m.message_id.clone().into());
            activities::insert(
                tx.conn(),
                &leadline_domain::Activity {
                    id: Uuid::now_v7(),
                    lead_id,
                    kind: "email_unsubscribed".into(),
                    occurred_at: t,
                    properties: props,
                    recorded_by: Some("unsubscribe link".into()),
                    created_at: t,
                },
            )
            .await?;
            crate::events::emit_in(
                &mut tx,
                vec![crate::events::Event::lead(
                    "email.unsubscribed",
                    lead_id,
                    serde_json::json!({"lead_id": lead_id, "message_id": m.message_id}),
                    t,
                )],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// A lead was deleted or merged away: its enrollments end and its queued mail is not sent.
pub(crate) async fn lead_gone_in(tx: &mut DbTx, lead: Uuid, reason: &str) -> AppResult<()> {
    store::exit_active_of_lead(tx.conn(), lead, reason, to_micros(now())).await?;
    mail::cancel_queued_of_lead(
        tx.conn(),
        lead,
        &format!("not sent: {}", reason.replace('_', " ")),
    )
    .await?;
    Ok(())
}

/// `a***@example.com`
fn mask(address: &str) -> String {
    match address.split_once('@') {
        Some((local, domain)) => format!("{}***@{domain}", local.chars().next().unwrap_or('*')),
        None => "***".into(),
    }
}

/// A sequence message failed for good (a permanent refusal): the address is suppressed as
/// a hard bounce and the enrollment ends.
pub(crate) async fn mail_failed_in(
    tx: &mut DbTx,
    m: &MessageRow,
    error: Option<&str>,
) -> AppResult<()> {
    let t = to_micros(now());
    if let Some(e) = leadline_domain::quality::normalize::email(&m.to_address) {
        store::suppress(tx.conn(), &e.match_key, "hard_bounce", m.lead_id, t).await?;
    }
    if let Some(lead) = m.lead_id {
        store::exit_active_of_lead(tx.conn(), lead, "bounced", t).await?;
        let data = serde_json::json!({"lead_id": lead, "message_id": m.message_id,
            "enrollment_id": m.enrollment_id, "reason": error});
        crate::events::emit_in(
            tx,
            vec![crate::events::Event::lead(
                "email.bounced",
                lead,
                data,
                now(),
            )],
        )
        .await?;
    }
    Ok(())
}

/// Runs an enrollment's due steps until a wait, the end, an exit, or the send window.
async fn advance_in(tx: &mut DbTx, mut e: EnrollmentRow) -> AppResult<()> {
    let t = now();
    let finish = |e: &mut EnrollmentRow, status: &str, reason: Option<&str>| {
        e.status = status.into();
        e.exit_reason = reason.map(str::to_owned);
        e.finished_at = Some(to_micros(t));
    };
    let Some(seq) = store::sequence(tx.conn(), e.sequence_id).await? else {
        return Ok(());
    };
    let seq = to_sequence(seq)?;
    let Some(mut lead) = leads::get(tx.conn(), e.lead_id).await? else {
        finish(&mut e, "exited", Some("lead_deleted"));
        return Ok(store::save_enrollment(tx.conn(), &e).await?);
    };
    for _ in 0..MAX_STEPS_PER_ADVANCE {
        if let Some(reason) = exit_reason_in(tx, &e, &lead, seq.definition.requires_consent).await?
        {
            finish(&mut e, "exited", Some(reason));
            break;
        }
        if !seq.active {
            // Paused: look again in an hour.
            e.due_at = to_micros(t + Duration::hours(1));
            break;
        }
        let Some(step) = seq.definition.steps.get(e.step as usize) else {
            finish(&mut e, "finished", None);
            break;
        };
        match step {
            Step::Email { template_id } => {
                let at = seq
                    .definition
                    .next_send_time(t, lead.fields.time_zone.as_deref());
                if at > t {
                    e.due_at = to_micros(at);
                    break;
                }
                if seq.definition.daily_limit > 0 {
                    let day = t - Duration::hours(24);
                    if store::messages_since(tx.conn(), seq.id, to_micros(day)).await?
                        >= i64::from(seq.definition.daily_limit)
                    {
                        e.due_at = to_micros(t + Duration::hours(1));
                        break;
                    }
                }
                if seq.definition.domain_hourly_limit > 0
                    && let Some(domain) = recipient_domain(&lead)
                    && mail::domain_messages_since(
                        tx.conn(),
                        &domain,
                        to_micros(t - Duration::hours(1)),
                    )
                    .await?
                        >= i64::from(seq.definition.domain_hourly_limit)
                {
                    // Spread out: look again in a few minutes, not all at once.
                    let jitter = rand::random_range(5..=15);
                    e.due_at = to_micros(t + Duration::minutes(jitter));
                    break;
                }
                queue_step_mail_in(tx, &e, &lead, &seq, *template_id).await?;
                e.step += 1;
            }
            Step::Wait { .. } => {
                e.step += 1;
                e.step_run += 1;
                e.due_at = to_micros(t + Duration::minutes(step.wait_minutes() as i64));
                break;
            }
            Step::WaitUntil {
                weekdays,
                hour,
                minute,
            } => {
                e.step += 1;
                e.step_run += 1;
                e.due_at = to_micros(next_local_time(
                    t,
                    lead.fields.time_zone.as_deref(),
                    weekdays,
                    *hour,
                    *minute,
                ));
                break;
            }
            Step::SetField { field, value } => {
                set_field_in(tx, &mut lead, field, value, &seq.definition.name).await?;
                e.step += 1;
            }
            Step::Event { name } => {
                let data = serde_json::json!({"lead_id": lead.id, "name": name,
                    "sequence_id": seq.id, "enrollment_id": e.id, "step": e.step + 1});
                crate::events::emit_in(
                    tx,
                    vec![crate::events::Event::lead(
                        "sequence.event",
                        lead.id,
                        data,
                        t,
                    )],
                )
                .await?;
                e.step += 1;
            }
            Step::Branch {
                condition,
                then,
                otherwise,
            } => {
                let holds = match condition {
                    // Opens and clicks are recorded as activities of these kinds.
                    Condition::Opened => {
                        store::has_activity_since(tx.conn(), lead.id, "email_opened", e.enrolled_at)
                            .await?
                    }
                    Condition::Clicked => {
                        store::has_activity_since(
                            tx.conn(),
                            lead.id,
                            "email_clicked",
                            e.enrolled_at,
                        )
                        .await?
                    }
                    Condition::Replied => {
                        store::has_activity_since(
                            tx.conn(),
                            lead.id,
                            "email_replied",
                            e.enrolled_at,
                        )
                        .await?
                    }
                    Condition::ScoreAtLeast { score } => lead.score >= *score,
                    // No grade yet counts as the worst.
                    Condition::GradeAtLeast { grade } => lead.grade.is_some_and(|g| g <= *grade),
                    Condition::FieldEquals { field, value } => {
                        field_value(&lead, field).as_ref() == Some(value)
                    }
                    Condition::Activity { kind } => {
                        store::has_activity_since(tx.conn(), lead.id, kind, e.enrolled_at).await?
                    }
                };
                e.step = if holds {
                    *then as i32 - 1
                } else {
                    otherwise.map(|o| o as i32 - 1).unwrap_or(e.step + 1)
                };
            }
            Step::Task {
                kind,
                title,
                due_in_hours,
            } => {
                if let (Ok(kind), true) = (kind.parse(), crate::tasks::followable(lead.stage)) {
                    let due = t + Duration::hours(i64::from(*due_in_hours));
                    let assignee = match lead.fields.owner_id {
                        Some(o) if users::get(tx.conn(), o).await?.is_some_and(|u| u.active) => {
                            Some(o)
                        }
                        _ => None,
                    };
                    let row = crate::tasks::task_row(
                        lead.id,
                        kind,
                        title.clone(),
                        (due, due - Duration::minutes(15)),
                        assignee,
                        1,
                        &format!("sequence {}", seq.definition.name),
                    );
                    leadline_store::sla::insert_task(tx.conn(), &row).await?;
                }
                e.step += 1;
            }
            Step::Stage { to } => {
                let actor = format!("sequence {}", seq.definition.name);
                crate::scoring::auto_transition(tx, &lead, *to, "a sequence step", &actor).await?;
                if let Some(l) = leads::get(tx.conn(), lead.id).await? {
                    lead = l;
                }
                e.step += 1;
            }
            Step::MoveTo { sequence_id } => {
                finish(&mut e, "finished", Some("moved"));
                if let Some(next) = store::sequence(tx.conn(), *sequence_id).await? {
                    let next = to_sequence(next)?;
                    store::save_enrollment(tx.conn(), &e).await?;
                    enroll_in(
                        tx,
                        &next,
                        &lead,
                        &format!("from sequence {}", seq.definition.name),
                    )
                    .await?;
                    return Ok(());
                }
                break;
            }
        }
        e.step_run += 1;
    }
    store::save_enrollment(tx.conn(), &e).await?;
    Ok(())
}

/// Why an enrollment ends now, if it does.
async fn exit_reason_in(
    tx: &mut DbTx,
    e: &EnrollmentRow,
    lead: &Lead,
    requires_consent: bool,
) -> AppResult<Option<&'static str>> {
    if lead.stage == Stage::Converted {
        return Ok(Some("converted"));
    }
    if lead.stage == Stage::Disqualified {
        return Ok(Some("disqualified"));
    }
    let sales = matches!(lead.stage, Stage::Mql | Stage::Sal | Stage::Sql);
    if sales && lead.stage.as_str() != e.enrolled_stage {
        return Ok(Some("handed_to_sales"));
    }
    blocked_in(tx, lead, requires_consent).await
}

/// The lower-case domain of the lead's address.
fn recipient_domain(lead: &Lead) -> Option<String> {
    let email = lead.fields.email.as_deref()?;
    email
        .rsplit_once('@')
        .map(|(_, d)| d.trim().to_ascii_lowercase())
}

/// A lead field's value as JSON (`custom.KEY` for custom fields).
fn field_value(lead: &Lead, field: &str) -> Option<serde_json::Value> {
    if let Some(key) = field.strip_prefix("custom.") {
        return lead.fields.custom.get(key).cloned();
    }
    match serde_json::to_value(&lead.fields).ok()? {
        serde_json::Value::Object(mut m) => m.remove(field).filter(|v| !v.is_null()),
        _ => None,
    }
}

/// A set-field step: the lead's field changes as an edit by the sequence would (checked
/// like any edit; a value the field cannot hold leaves the lead as it was, logged by id).
async fn set_field_in(
    tx: &mut DbTx,
    lead: &mut Lead,
    field: &str,
    value: &serde_json::Value,
    sequence: &str,
) -> AppResult<()> {
    let patch = match field.strip_prefix("custom.") {
        Some(key) => serde_json::json!({ "custom": { key: value } }),
        None => serde_json::json!({ field: value }),
    };
    let defs = leadline_store::custom_fields::list(tx.conn()).await?;
    let fields = match lead
        .fields
        .merge_patch(&patch)
        .and_then(|f| f.clean_update(&defs, Some(&lead.fields)))
    {
        Ok(f) => f,
        Err(err) => {
            tracing::warn!(lead_id = %lead.id, field, error = %err, "sequence could not set a field");
            return Ok(());
        }
    };
    let changes = leadline_domain::lead::diff(&lead.fields, &fields);
    if changes.is_empty() {
        return Ok(());
    }
    let next = Lead {
        fields,
        updated_at: now(),
        version: lead.version + 1,
        ..lead.clone()
    };
    if !leads::update(tx.conn(), &next, lead.version).await? {
        return Err(AppError::Conflict(
            "the lead changed while a sequence set a field; retry".into(),
        ));
    }
    crate::events::lead_updated_in(tx, &next, &changes).await?;
    crate::admin::audit(
        tx,
        &Principal::system(&format!("sequence {sequence}")),
        "lead.updated",
        "lead",
        Some(next.id),
        serde_json::to_value(&changes).unwrap_or_default(),
    )
    .await?;
    crate::scoring::score_lead_in(tx, next.id, &format!("sequence {sequence}")).await?;
    *lead = leads::get(tx.conn(), next.id).await?.unwrap_or(next);
    Ok(())
}

/// 128 random bits as hex: unsubscribe and tracking tokens.
fn token() -> String {
    let mut b = [0u8; 16];
    rand::fill(&mut b);
    hex::encode(b)
}

/// Queues the message of an email step: rendered for the lead now, with tracked links and
/// an open pixel, keyed by the step run.
async fn queue_step_mail_in(
    tx: &mut DbTx,
    e: &EnrollmentRow,
    lead: &Lead,
    seq: &Sequence,
    template: Uuid,
) -> AppResult<()> {
    let Some(tpl) = store::template(tx.conn(), template).await? else {
        return Ok(());
    };
    let token = token();
    let ctx = super::render_context(
        tx.conn(),
        lead.fields.clone(),
        format!("{}/u/{token}", crate::mail::BASE),
    )
    .await?;
    let r = render(&tpl.subject, &tpl.html, &ctx)
        .map_err(|e| AppError::Internal(format!("template {}: {e}", tpl.id)))?;
    let to = lead.fields.email.clone().unwrap_or_default();
    let track_token = self::token();
    let base = crate::mail::BASE;
    let tracked = leadline_domain::nurture::tracking::track(
        &r.html,
        &format!("{base}/o/{track_token}.gif"),
        crate::tracking::random_token,
        |t| format!("{base}/r/{t}"),
    );
    // The text part follows the tracked HTML, so its links count too.
    let text = leadline_domain::nurture::plain_text::plain_text(&tracked.html);
    let mut row = crate::mail::message_row(
        &format!("sequence:{}", e.step + 1),
        &to,
        None,
        Some(lead.id),
        &r.subject,
        &text,
        Some(&tracked.html),
    );
    row.enrollment_id = Some(e.id);
    row.step_run = Some(e.step_run);
    row.unsubscribe_token = tpl.marketing.then_some(token);
    row.at_most_once = true;
    row.track_token = Some(track_token);
    row.to_domain = recipient_domain(lead);
    mail::queue(tx.conn(), std::slice::from_ref(&row)).await?;
    let created_at = row.created_at;
    for (token, url) in tracked.links {
        leadline_store::tracking::insert_link(
            tx.conn(),
            &leadline_store::tracking::LinkRow {
                token,
                url,
                lead_id: Some(lead.id),
                campaign: Some(seq.definition.name.clone()),
                label: Some(format!("{}, step {}", tpl.name, e.step + 1)),
                created_at,
                message_id: Some(row.id),
            },
        )
        .await?;
    }
    Ok(())
}

/// Runs the sequence worker for the life of the process.
pub async fn run(app: App) {
    loop {
        let pause = match app.run_sequences().await {
            Ok(n) if n as i64 >= BATCH => std::time::Duration::ZERO,
            Ok(_) => std::time::Duration::from_secs(1),
            Err(e) => {
                tracing::error!(error = %e, "sequence round failed");
                std::time::Duration::from_secs(5)
            }
        };
        tokio::time::sleep(pause).await;
    }
}

/// A sequence's numbers: enrollments by state and exit reason, messages by step and state.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SequenceReport {
    pub enrolled: i64,
    pub active: i64,
    pub finished: i64,
    /// Exits by reason (`unsubscribed`, `bounced`, `converted`, `handed_to_sales`, …).
    pub exited: std::collections::BTreeMap<String, i64>,
    pub steps: Vec<StepReport>,
}

/// The report row of a sequence message's step (its purpose is `sequence:N`, N 1-based).
fn step_of<'a>(steps: &'a mut [StepReport], purpose: &str) -> Option<&'a mut StepReport> {
    let n = purpose.strip_prefix("sequence:")?.parse::<usize>().ok()?;
    steps.iter_mut().find(|s| s.step == n)
}

/// One email step's messages: where they are, and what the leads did with the sent ones.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct StepReport {
    /// 1-based.
    pub step: usize,
    pub queued: i64,
    pub sent: i64,
    pub failed: i64,
    /// Interrupted mid-send and not sent again (at most once).
    pub unknown: i64,
    /// Sent and not bounced.
    pub delivered: i64,
    /// Opened (the pixel loaded, or a link was clicked).
    pub opened: i64,
    /// At least one tracked link clicked.
    pub clicked: i64,
    /// A person replied (auto-replies do not count).
    pub replied: i64,
    /// A bounce report came back (permanent).
    pub bounced: i64,
    /// Unsubscribed through this message's link.
    pub unsubscribed: i64,
    /// Its lead has since been converted.
    pub converted: i64,
}

impl App {
    /// The numbers of one sequence.
    pub async fn sequence_report(&self, by: &Principal, id: Uuid) -> AppResult<SequenceReport> {
        let seq = self.sequence(by, id).await?;
        let mut c = self.db.acquire().await?;
        let mut r = SequenceReport {
            enrolled: 0,
            active: 0,
            finished: 0,
            exited: Default::default(),
            steps: Vec::new(),
        };
        for (status, reason, n) in store::enrollment_counts(c.conn(), id).await? {
            r.enrolled += n;
            match status.as_str() {
                "active" => r.active += n,
                "finished" => r.finished += n,
                _ => *r.exited.entry(reason.unwrap_or_default()).or_default() += n,
            }
        }
        let mut steps: Vec<StepReport> = seq
            .definition
            .steps
            .iter()
            .enumerate()
            .filter(|(_, s)| matches!(s, Step::Email { .. }))
            .map(|(i, _)| StepReport {
                step: i + 1,
                ..Default::default()
            })
            .collect();
        for (purpose, status, n) in store::message_counts(c.conn(), id).await? {
            if let Some(s) = step_of(&mut steps, &purpose) {
                match status.as_str() {
                    "sent" => s.sent += n,
                    "failed" => s.failed += n,
                    "unknown" => s.unknown += n,
                    _ => s.queued += n,
                }
            }
        }
        for x in store::step_engagement(c.conn(), id).await? {
            if let Some(s) = step_of(&mut steps, &x.purpose) {
                s.delivered = x.sent - x.bounced;
                s.opened = x.opened;
                s.clicked = x.clicked;
                s.replied = x.replied;
                s.bounced = x.bounced;
                s.unsubscribed = x.unsubscribed;
                s.converted = x.converted;
            }
        }
        r.steps = std::mem::take(&mut steps);
        Ok(r)
    }
}
