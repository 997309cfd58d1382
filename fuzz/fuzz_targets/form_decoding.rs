//! A public form post: the urlencoded body in any charset, mapped as web-to-lead and as a
//! hosted form with every kind of field, then validated as a lead; `retURL` checked.
#![no_main]

use leadline_domain::capture::body::decode_form;
use leadline_domain::capture::form::{FormDefinition, FormField, map_submission};
use leadline_domain::capture::{CaptureSettings, web_to_lead};
use libfuzzer_sys::fuzz_target;

const CHARSETS: [Option<&str>; 5] = [
    None,
    Some("ISO-8859-1"),
    Some("Shift_JIS"),
    Some("UTF-8"),
    Some("bogus"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let pairs = decode_form(body, CHARSETS[pick as usize % CHARSETS.len()], None);
    let defs = leadline_fuzz::custom_fields();
    let settings = CaptureSettings {
        allowed_redirect_hosts: vec!["*.example.com".into(), "www.acme.example".into()],
        field_aliases: [("00N5e00000XXXXX".to_owned(), "text_field".to_owned())].into(),
        ..CaptureSettings::default()
    };
    let mapped = web_to_lead(&pairs, &settings.alias_pairs());
    if let Some(r) = &mapped.ret_url {
        let _ = settings.redirect_allowed(r);
    }
    let _ = mapped.fields.clean(&defs);

    let mut form = FormDefinition {
        consent_text: Some("Yes, email me".into()),
        consent_required: pick & 1 == 1,
        ..FormDefinition::default()
    };
    for d in &defs {
        form.fields.push(FormField {
            target: format!("custom.{}", d.key),
            label: d.label.clone(),
            required: pick & 2 == 2,
            hidden: false,
            value: None,
        });
    }
    if let Ok(s) = map_submission(&form, &pairs, &defs) {
        let _ = s.fields.clean(&defs);
    }
});
