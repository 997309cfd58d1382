//! Nurturing over the API (admins, managers, marketers): email templates with preview and
//! test sends; sequences.

use super::ApiJson;
use crate::auth::ApiAuth;
use crate::error::{ApiResult, Problem};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use leadline_app::consents::{Consent, NewConsent};
use leadline_app::mail::{LeadMessage, OutboundMessage};
use leadline_app::nurture::run::{EnrollResult, Enrollment, SequenceReport};
use leadline_app::nurture::{EmailTemplate, Sequence};
use leadline_domain::nurture::sequence::SequenceInput;
use leadline_domain::nurture::template::{Rendered, TemplateInput};
use serde::Deserialize;
use uuid::Uuid;

/// Every email template.
#[utoipa::path(get, path = "/email-templates", tag = "nurture",
    responses((status = 200, body = [EmailTemplate]), (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn list_templates(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
) -> ApiResult<Json<Vec<EmailTemplate>>> {
    Ok(Json(s.app.email_templates(&p).await?))
}

/// Add an email template. Subject and HTML body use `{{ lead.FIELD }}`,
/// `{{ lead.custom.KEY }}`, `{{ owner.name }}`, `{{ owner.signature }}` and
/// `{{ unsubscribe_url }}` (required in marketing mail), with fallbacks as
/// `{{ lead.first_name | default("there") }}`; values are HTML-escaped. Syntax errors and
/// unknown fields → 422 naming the part and the line.
#[utoipa::path(post, path = "/email-templates", tag = "nurture", request_body = TemplateInput,
    responses((status = 201, body = EmailTemplate), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn create_template(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiJson(input): ApiJson<TemplateInput>,
) -> ApiResult<(StatusCode, Json<EmailTemplate>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.save_email_template(&p, None, input).await?),
    ))
}

/// One email template.
#[utoipa::path(get, path = "/email-templates/{id}", tag = "nurture", params(("id" = Uuid, Path)),
    responses((status = 200, body = EmailTemplate), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get_template(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<EmailTemplate>> {
    Ok(Json(s.app.email_template(&p, id).await?))
}

/// Replace an email template (checked as on creation).
#[utoipa::path(put, path = "/email-templates/{id}", tag = "nurture", params(("id" = Uuid, Path)), request_body = TemplateInput,
    responses((status = 200, body = EmailTemplate), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn update_template(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
    ApiJson(input): ApiJson<TemplateInput>,
) -> ApiResult<Json<EmailTemplate>> {
    Ok(Json(s.app.save_email_template(&p, Some(id), input).await?))
}

/// Delete an email template no sequence sends (409 otherwise).
#[utoipa::path(delete, path = "/email-templates/{id}", tag = "nurture", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn delete_template(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    s.app.delete_email_template(&p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A template to preview, saved or not, and the lead to render it for.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewInput {
    pub template: TemplateInput,
    /// The lead whose fields fill the template (a sample lead when left out).
    #[serde(default)]
    pub lead_id: Option<Uuid>,
}

/// Check and render a template for a lead: subject, HTML and the plain-text part.
#[utoipa::path(post, path = "/email-templates/preview", tag = "nurture", request_body = PreviewInput,
    responses((status = 200, body = Rendered), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn preview(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiJson(input): ApiJson<PreviewInput>,
) -> ApiResult<Json<Rendered>> {
    Ok(Json(
        s.app
            .preview_email_template(&p, input.template, input.lead_id)
            .await?,
    ))
}

/// Where a test send goes.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestSendInput {
    pub to: String,
    #[serde(default)]
    pub lead_id: Option<Uuid>,
}

/// Send a saved template to an address, rendered for a lead (or the sample lead); the
/// subject starts with `[test]`. It goes out through the SMTP relay, or waits in the outbox.
#[utoipa::path(post, path = "/email-templates/{id}/test", tag = "nurture", params(("id" = Uuid, Path)), request_body = TestSendInput,
    responses((status = 202, body = OutboundMessage), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn test_send(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
    ApiJson(input): ApiJson<TestSendInput>,
) -> ApiResult<(StatusCode, Json<OutboundMessage>)> {
    Ok((
        StatusCode::ACCEPTED,
        Json(
            s.app
                .test_send_email_template(&p, id, &input.to, input.lead_id)
                .await?,
        ),
    ))
}

/// Every sequence.
#[utoipa::path(get, path = "/sequences", tag = "nurture",
    responses((status = 200, body = [Sequence]), (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn list_sequences(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
) -> ApiResult<Json<Vec<Sequence>>> {
    Ok(Json(s.app.sequences(&p).await?))
}

/// Add a sequence: steps `email`, `wait`, `branch` (on `opened`, `clicked`,
/// `score_at_least`, `activity`; jumps by 1-based step number), `task`, `stage`,
/// `move_to`. Unknown templates, jumps outside the sequence and loops that never wait →
/// 422 naming the step.
#[utoipa::path(post, path = "/sequences", tag = "nurture", request_body = SequenceInput,
    responses((status = 201, body = Sequence), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn create_sequence(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiJson(input): ApiJson<SequenceInput>,
) -> ApiResult<(StatusCode, Json<Sequence>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.save_sequence(&p, None, input).await?),
    ))
}

/// One sequence.
#[utoipa::path(get, path = "/sequences/{id}", tag = "nurture", params(("id" = Uuid, Path)),
    responses((status = 200, body = Sequence), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get_sequence(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Sequence>> {
    Ok(Json(s.app.sequence(&p, id).await?))
}

/// Replace a sequence (checked as on creation).
#[utoipa::path(put, path = "/sequences/{id}", tag = "nurture", params(("id" = Uuid, Path)), request_body = SequenceInput,
    responses((status = 200, body = Sequence), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn update_sequence(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
    ApiJson(input): ApiJson<SequenceInput>,
) -> ApiResult<Json<Sequence>> {
    Ok(Json(s.app.save_sequence(&p, Some(id), input).await?))
}

/// Delete a sequence.
#[utoipa::path(delete, path = "/sequences/{id}", tag = "nurture", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn delete_sequence(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    s.app.delete_sequence(&p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Leads to enroll.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrollInput {
    /// At most 1,000.
    pub lead_ids: Vec<Uuid>,
}

/// Enroll leads (one or in bulk). Each gets an outcome: `enrolled`, `already_active`,
/// `not_again` (finished before and the sequence does not re-enroll), `unsubscribed`
/// (may not be mailed), `not_found`. A paused sequence → 409.
#[utoipa::path(post, path = "/sequences/{id}/enrollments", tag = "nurture", params(("id" = Uuid, Path)), request_body = EnrollInput,
    responses((status = 200, body = [EnrollResult]), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn enroll(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
    ApiJson(input): ApiJson<EnrollInput>,
) -> ApiResult<Json<Vec<EnrollResult>>> {
    Ok(Json(s.app.enroll_leads(&p, id, &input.lead_ids).await?))
}

/// A sequence's numbers: enrollments by state and exit reason; per email step, messages
/// queued, sent, failed and interrupted.
#[utoipa::path(get, path = "/sequences/{id}/report", tag = "nurture", params(("id" = Uuid, Path)),
    responses((status = 200, body = SequenceReport), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn report(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<SequenceReport>> {
    Ok(Json(s.app.sequence_report(&p, id).await?))
}

/// A lead's enrollments.
#[utoipa::path(get, path = "/leads/{id}/enrollments", tag = "nurture", params(("id" = Uuid, Path)),
    responses((status = 200, body = [Enrollment]), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn lead_enrollments(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Vec<Enrollment>>> {
    Ok(Json(s.app.lead_enrollments(&p, id).await?))
}

/// The messages written to a lead (sequence mail, test sends aside), newest first, with
/// the first open, click, reply, bounce and unsubscribe of each.
#[utoipa::path(get, path = "/leads/{id}/messages", tag = "nurture", params(("id" = Uuid, Path)),
    responses((status = 200, body = [LeadMessage]), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn lead_messages(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Vec<LeadMessage>>> {
    Ok(Json(s.app.lead_messages(&p, id).await?))
}

/// A lead's consent records (given and withdrawn), oldest first. Sequences that require
/// consent mail a lead only while its latest `marketing_email` record grants it.
#[utoipa::path(get, path = "/leads/{id}/consents", tag = "nurture", params(("id" = Uuid, Path)),
    responses((status = 200, body = [Consent]), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn lead_consents(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Vec<Consent>>> {
    Ok(Json(s.app.lead_consents(&p, id).await?))
}

/// Record consent given (or withdrawn, `granted: false`) for a lead, e.g. brought over
/// from another system. Forms with a consent box record it themselves; an unsubscribe
/// records the withdrawal.
#[utoipa::path(post, path = "/leads/{id}/consents", tag = "nurture", params(("id" = Uuid, Path)), request_body = NewConsent,
    responses((status = 201, body = Consent), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn record_consent(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<NewConsent>,
) -> ApiResult<(StatusCode, Json<Consent>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.record_consent(&p, id, body).await?),
    ))
}

/// Stop an enrollment by hand. Already ended → 409.
#[utoipa::path(post, path = "/enrollments/{id}/exit", tag = "nurture", params(("id" = Uuid, Path)),
    responses((status = 200, body = Enrollment), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn exit(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Enrollment>> {
    Ok(Json(s.app.exit_enrollment(&p, id).await?))
}
