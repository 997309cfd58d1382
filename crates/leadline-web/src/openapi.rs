//! The OpenAPI 3.1 document, collected from the handlers' annotations as routes register.

use crate::api::{
    accounts, admin, capture, duplicates, followup, imports, leads, mail, nurture, pipeline,
    prediction, privacy, quality, reports, routing, scoring, webhooks,
};
use crate::state::AppState;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

#[derive(OpenApi)]
#[openapi(
    info(title = "Leadline API", description = "Leads, their lifecycle and timeline, users, teams, keys and custom fields. \
Errors are RFC 9457 problem documents (`application/problem+json`) with a stable `type`."),
    servers((url = "/api/v1")),
    modifiers(&BearerAuth),
    tags((name = "leads"), (name = "activities"), (name = "capture"), (name = "quality"), (name = "scoring"), (name = "prediction"), (name = "routing"), (name = "follow-up"), (name = "pipeline"), (name = "nurture"), (name = "reports"), (name = "accounts"), (name = "webhooks"), (name = "privacy"), (name = "admin")),
    components(schemas(crate::error::Problem, leadline_domain::webhook::Envelope))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API key (`ll_…`)"))
                    .build(),
            ),
        );
    }
}

/// The `/api/v1` routes with their OpenAPI description.
pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(leads::list_leads, leads::create_lead))
        .routes(routes!(
            leads::get_lead,
            leads::update_lead,
            leads::delete_lead
        ))
        .routes(routes!(leads::transition))
        .routes(routes!(privacy::export_person))
        .routes(routes!(privacy::export_person_csv))
        .routes(routes!(privacy::erase_person))
        .routes(routes!(privacy::get_retention, privacy::put_retention))
        .routes(routes!(privacy::run_retention))
        .routes(routes!(leads::history))
        .routes(routes!(leads::attribution))
        .routes(routes!(leads::quality))
        .routes(routes!(leads::aging))
        .routes(routes!(leads::aging_report))
        .routes(routes!(quality::get_settings, quality::put_settings))
        .routes(routes!(quality::queue))
        .routes(routes!(quality::review))
        .routes(routes!(quality::overview))
        .routes(routes!(duplicates::start_scan, duplicates::scan_status))
        .routes(routes!(duplicates::pairs))
        .routes(routes!(duplicates::dismiss))
        .routes(routes!(duplicates::lead_duplicates))
        .routes(routes!(duplicates::preview))
        .routes(routes!(duplicates::merge, duplicates::list))
        .routes(routes!(duplicates::bulk))
        .routes(routes!(duplicates::get))
        .routes(routes!(duplicates::undo))
        .routes(routes!(accounts::list, accounts::create))
        .routes(routes!(accounts::get, accounts::update, accounts::delete))
        .routes(routes!(accounts::lead_account, accounts::set_lead_account))
        .routes(routes!(accounts::lead_enrichment))
        .routes(routes!(accounts::enrich))
        .routes(routes!(scoring::lead_score, scoring::rescore_lead))
        .routes(routes!(scoring::score_history))
        .routes(routes!(scoring::models))
        .routes(routes!(scoring::versions, scoring::save_version))
        .routes(routes!(scoring::version))
        .routes(routes!(scoring::activate))
        .routes(routes!(scoring::make_default))
        .routes(routes!(scoring::rescore))
        .routes(routes!(scoring::export))
        .routes(routes!(scoring::import))
        .routes(routes!(scoring::jobs))
        .routes(routes!(scoring::job))
        .routes(routes!(scoring::backtest_version))
        .routes(routes!(scoring::backtest_draft))
        .routes(routes!(scoring::diff))
        .routes(routes!(
            scoring::get_qualification,
            scoring::put_qualification
        ))
        .routes(routes!(prediction::status))
        .routes(routes!(prediction::train))
        .routes(routes!(prediction::model))
        .routes(routes!(prediction::get_settings, prediction::put_settings))
        .routes(routes!(prediction::lead_prediction))
        .routes(routes!(routing::in_force))
        .routes(routes!(routing::board))
        .routes(routes!(routing::versions, routing::save))
        .routes(routes!(routing::activate))
        .routes(routes!(routing::test))
        .routes(routes!(routing::simulate))
        .routes(routes!(routing::get_rep, routing::put_rep))
        .routes(routes!(routing::assign))
        .routes(routes!(routing::assign_many))
        .routes(routes!(followup::get_policy, followup::put_policy))
        .routes(routes!(followup::queue))
        .routes(routes!(followup::board))
        .routes(routes!(followup::sweep))
        .routes(routes!(followup::alerts))
        .routes(routes!(followup::resolve))
        .routes(routes!(followup::lead_sla))
        .routes(routes!(followup::lead_tasks, followup::create_task))
        .routes(routes!(followup::my_tasks))
        .routes(routes!(followup::outcome))
        .routes(routes!(pipeline::convert))
        .routes(routes!(pipeline::get_pipeline, pipeline::put_pipeline))
        .routes(routes!(pipeline::board))
        .routes(routes!(pipeline::list))
        .routes(routes!(pipeline::get, pipeline::update))
        .routes(routes!(pipeline::move_stage))
        .routes(routes!(leads::list_activities, leads::add_activity))
        .routes(routes!(admin::me))
        .routes(routes!(admin::list_users, admin::create_user))
        .routes(routes!(admin::update_user))
        .routes(routes!(admin::list_teams, admin::create_team))
        .routes(routes!(admin::update_team, admin::delete_team))
        .routes(routes!(admin::list_keys, admin::create_key))
        .routes(routes!(admin::revoke_key))
        .routes(routes!(admin::list_fields, admin::create_field))
        .routes(routes!(admin::update_field, admin::delete_field))
        .routes(routes!(capture::capture))
        .routes(routes!(capture::record_event))
        .routes(routes!(capture::create_link))
        .routes(routes!(capture::get_link))
        .routes(routes!(capture::list_sources, capture::create_source))
        .routes(routes!(capture::delete_source))
        .routes(routes!(capture::list_campaigns, capture::create_campaign))
        .routes(routes!(capture::delete_campaign))
        .routes(routes!(capture::list_costs, capture::add_cost))
        .routes(routes!(capture::delete_cost))
        .routes(routes!(capture::get_settings, capture::put_settings))
        .routes(routes!(capture::list_rejected))
        .routes(routes!(capture::get_rejected, capture::discard_rejected))
        .routes(
            routes!(imports::create_import, imports::list_imports).layer(
                axum::extract::DefaultBodyLimit::max(imports::MAX_IMPORT_BYTES),
            ),
        )
        .routes(routes!(imports::get_import))
        .routes(routes!(capture::list_forms, capture::create_form))
        .routes(routes!(
            capture::get_form,
            capture::update_form,
            capture::delete_form
        ))
        .routes(
            routes!(capture::inbound_email).layer(axum::extract::DefaultBodyLimit::max(
                leadline_app::capture::email::MAX_EMAIL_BYTES,
            )),
        )
        .routes(routes!(imports::resume_import))
        .routes(routes!(imports::import_errors))
        .routes(routes!(mail::outbox))
        .routes(routes!(reports::list))
        .routes(routes!(reports::get))
        .routes(routes!(reports::csv))
        .routes(routes!(nurture::list_templates, nurture::create_template))
        .routes(routes!(nurture::preview))
        .routes(routes!(
            nurture::get_template,
            nurture::update_template,
            nurture::delete_template
        ))
        .routes(routes!(nurture::test_send))
        .routes(routes!(nurture::list_sequences, nurture::create_sequence))
        .routes(routes!(
            nurture::get_sequence,
            nurture::update_sequence,
            nurture::delete_sequence
        ))
        .routes(routes!(nurture::enroll))
        .routes(routes!(nurture::report))
        .routes(routes!(nurture::lead_enrollments))
        .routes(routes!(nurture::lead_consents, nurture::record_consent))
        .routes(routes!(nurture::lead_messages))
        .routes(routes!(nurture::exit))
        .routes(routes!(webhooks::event_types))
        .routes(routes!(webhooks::list, webhooks::create))
        .routes(routes!(webhooks::get, webhooks::update, webhooks::delete))
        .routes(routes!(webhooks::rotate))
        .routes(routes!(webhooks::test))
        .routes(routes!(webhooks::deliveries))
        .routes(routes!(webhooks::delivery))
        .routes(routes!(webhooks::replay))
        .routes(routes!(webhooks::get_settings, webhooks::put_settings))
}

/// The OpenAPI document as served at `/api/v1/openapi.json`.
pub fn api_doc() -> serde_json::Value {
    finish(api_router().split_for_parts().1)
}

/// The generated document as served: the webhook events described, closed compositions
/// merged (see [`merge_closed_all_of`]), the report names listed. Done on the JSON, which
/// utoipa cannot read back into its own types.
pub fn finish(mut doc: utoipa::openapi::OpenApi) -> serde_json::Value {
    webhooks::describe_events(&mut doc);
    let mut v = serde_json::to_value(&doc).unwrap_or_default();
    merge_closed_all_of(&mut v);
    name_the_reports(&mut v);
    v
}

/// `/reports/{name}` takes the catalogue's names only; `aging` has its own operation with
/// its own shape (`/reports/aging` is matched first), so it is not one of them there.
fn name_the_reports(doc: &mut serde_json::Value) {
    use leadline_app::analytics::REPORTS;
    use serde_json::{Value, json};
    for (path, skip) in [("/reports/{name}", "aging"), ("/reports/{name}/csv", "")] {
        let names: Vec<Value> = REPORTS
            .iter()
            .filter(|r| r.name != skip)
            .map(|r| Value::from(r.name))
            .collect();
        let pointer = format!("/paths/{}/get/parameters", path.replace('/', "~1"));
        for p in doc
            .pointer_mut(&pointer)
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            if p.get("name") == Some(&json!("name")) && p.get("in") == Some(&json!("path")) {
                p["schema"] = json!({ "type": "string", "enum": names });
            }
        }
    }
}

/// An output type that flattens an input type (`Lead` = `LeadFields` + id, stage, …)
/// becomes `allOf: [LeadFields, {id, stage, …}]`; the input type denies unknown fields
/// (`additionalProperties: false`), so no response could ever validate against the
/// composition (schemathesis found it). Such a composition is merged into one object
/// holding every property.
fn merge_closed_all_of(doc: &mut serde_json::Value) {
    use serde_json::{Map, Value};
    let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let resolve = |schemas: &Map<String, Value>, part: &Value| -> Option<Value> {
        match part.get("$ref").and_then(Value::as_str) {
            Some(r) => schemas
                .get(r.strip_prefix("#/components/schemas/")?)
                .cloned(),
            None => Some(part.clone()),
        }
    };
    let closed = |s: &Value| s.get("additionalProperties") == Some(&Value::Bool(false));
    let mut merged = Vec::new();
    for (name, schema) in schemas.iter() {
        let Some(parts) = schema.get("allOf").and_then(Value::as_array) else {
            continue;
        };
        let resolved: Option<Vec<Value>> = parts.iter().map(|p| resolve(schemas, p)).collect();
        let Some(resolved) = resolved else { continue };
        let objects = resolved
            .iter()
            .all(|p| p.get("properties").is_some_and(Value::is_object));
        if !objects || !resolved.iter().any(closed) {
            continue;
        }
        let (mut properties, mut required) = (Map::new(), Vec::<Value>::new());
        for p in &resolved {
            if let Some(props) = p.get("properties").and_then(Value::as_object) {
                properties.extend(props.clone());
            }
            for r in p
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if !required.contains(r) {
                    required.push(r.clone());
                }
            }
        }
        let mut out = Map::new();
        out.insert("type".into(), Value::String("object".into()));
        if let Some(d) = schema.get("description") {
            out.insert("description".into(), d.clone());
        }
        out.insert("properties".into(), Value::Object(properties));
        out.insert("required".into(), Value::Array(required));
        merged.push((name.clone(), Value::Object(out)));
    }
    for (name, schema) in merged {
        schemas.insert(name, schema);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_types_that_flatten_closed_inputs_are_satisfiable() {
        let doc = api_doc();
        for name in ["Lead", "Sequence"] {
            let s = &doc["components"]["schemas"][name];
            assert!(s.get("allOf").is_none(), "{name}: {s}");
            for field in ["id", "created_at"] {
                assert!(s["properties"].get(field).is_some(), "{name}.{field}");
            }
        }
        assert!(doc["components"]["schemas"]["Lead"]["properties"]["email"].is_object());
    }

    #[test]
    fn the_report_operation_names_its_reports_but_not_aging() {
        let doc = api_doc();
        let params = &doc["paths"]["/reports/{name}"]["get"]["parameters"];
        let name = params
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "name")
            .unwrap();
        let names = name["schema"]["enum"].as_array().unwrap();
        assert!(names.contains(&"funnel".into()));
        assert!(!names.contains(&"aging".into()));
    }
}
