//! Scoring models and routing rules as an admin uploads them (TOML, YAML or JSON):
//! parsed, validated against the custom fields, and when valid run against sample leads
//! and activities.
#![no_main]

use chrono::Duration;
use leadline_domain::Stage;
use leadline_domain::routing::{Facts, Router, RoutingRules};
use leadline_domain::scoring::engine::{Event, Scorer};
use leadline_domain::scoring::rules::{ModelDefinition, ModelFile};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};
use uuid::Uuid;

fn score(model: ModelDefinition) {
    let defs = leadline_fuzz::custom_fields();
    if model.validate(&defs).is_err() {
        return;
    }
    let scorer = Scorer::new(model);
    let _ = (scorer.fields_used(), scorer.activity_kinds());
    let now = leadline_fuzz::now();
    let props: Map<String, Value> =
        json!({ "url": "https://acme.example/pricing", "duration": 42 })
            .as_object()
            .cloned()
            .unwrap_or_default();
    let events: Vec<Event<'_>> = [
        "page_view",
        "email_clicked",
        "webinar_attended",
        "form_submitted",
    ]
    .iter()
    .enumerate()
    .map(|(i, kind)| Event {
        id: Uuid::from_u128(i as u128),
        kind,
        occurred_at: now - Duration::days(i as i64 * 40),
        properties: &props,
    })
    .collect();
    for lead in leadline_fuzz::sample_leads() {
        let scored = scorer.score(&lead, &events, now);
        let _ = scorer.band(scored.score);
    }
}

fn route(rules: RoutingRules) {
    if rules.validate(&leadline_fuzz::custom_fields()).is_err() {
        return;
    }
    let _ = rules.references();
    let router = Router::new(rules);
    for lead in leadline_fuzz::sample_leads() {
        for stage in [Stage::New, Stage::Mql, Stage::Sql] {
            let _ = router.first_match(&Facts {
                fields: &lead,
                stage,
                score: 73,
                grade: None,
                priority: Some("high"),
            });
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    match pick % 5 {
        0 => {
            if let Ok(f) = ModelFile::from_toml(text) {
                score(f.definition);
            }
        }
        1 => {
            if let Ok(f) = ModelFile::from_yaml(text) {
                score(f.definition);
            }
        }
        2 => {
            if let Ok(m) = serde_json::from_str::<ModelDefinition>(text) {
                score(m);
            }
        }
        3 => {
            if let Ok(r) = RoutingRules::from_toml(text) {
                route(r);
            }
        }
        _ => {
            if let Ok(r) = serde_json::from_str::<RoutingRules>(text) {
                route(r);
            }
        }
    }
});
