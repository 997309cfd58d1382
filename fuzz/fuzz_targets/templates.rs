//! An email template as a marketer writes it: subject and HTML (minijinja with fuel),
//! checked, rendered for sample leads, and turned into the plain-text part.
#![no_main]

use leadline_domain::nurture::plain_text::plain_text;
use leadline_domain::nurture::template::{RenderContext, TemplateInput, render};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (subject, html) = text.split_once('\n').unwrap_or(("Hello", text));
    let _ = plain_text(html);
    let input = TemplateInput {
        name: "fuzz".into(),
        subject: subject.into(),
        html: html.into(),
        marketing: None,
    };
    let keys: Vec<String> = leadline_fuzz::custom_fields()
        .into_iter()
        .map(|d| d.key)
        .collect();
    let _ = input.clean(&keys);
    for lead in leadline_fuzz::sample_leads() {
        let _ = render(
            subject,
            html,
            &RenderContext {
                lead,
                owner_name: Some("Rita Rep".into()),
                owner_email: Some("rita@leadline.example".into()),
                owner_signature: Some("Rita <b>Rep</b>".into()),
                unsubscribe_url: "https://leadline.example/u/tok".into(),
            },
        );
    }
});
