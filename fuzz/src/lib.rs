//! What the fuzz targets share: a few fixed leads and custom fields to run parsed input
//! against, so a target exercises the code behind the parser, not only the parser.

use chrono::{DateTime, TimeZone, Utc};
use leadline_domain::{CustomFieldDef, CustomFieldKind, LeadFields};
use uuid::Uuid;

/// A fixed instant (fuzzing must be repeatable).
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap()
}

/// One custom field of every kind.
pub fn custom_fields() -> Vec<CustomFieldDef> {
    CustomFieldKind::ALL
        .iter()
        .enumerate()
        .map(|(i, kind)| CustomFieldDef {
            id: Uuid::from_u128(i as u128 + 1),
            key: format!("{}_field", kind.as_str()),
            label: format!("{} field", kind.as_str()),
            kind: *kind,
            options: vec!["a".into(), "b".into(), "Select".into()],
            created_at: now(),
        })
        .collect()
}

/// Leads unlike each other: empty, complete, odd.
pub fn sample_leads() -> Vec<LeadFields> {
    let full = LeadFields {
        first_name: Some("Ana".into()),
        last_name: Some("Lima".into()),
        email: Some("ana@acme.example".into()),
        company: Some("Acme GmbH".into()),
        title: Some("Head of Sales".into()),
        country: Some("DE".into()),
        employees: Some(250),
        phone: Some("+49 30 1234567".into()),
        ..LeadFields::default()
    };
    let odd = LeadFields {
        last_name: Some("\u{202e}\u{0}'\"<script>".into()),
        email: Some("x@y".into()),
        employees: Some(i32::MAX),
        ..LeadFields::default()
    };
    vec![LeadFields::default(), full, odd]
}
