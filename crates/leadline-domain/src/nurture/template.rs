//! Email templates: a subject and an HTML body written in a sandboxed template language
//! (MiniJinja: no code execution, HTML-escaped by default), personalised with the lead's
//! fields, custom fields and the owner's name and signature. Mistakes are found when the
//! template is saved — syntax errors and unknown fields, with the line — not when a lead
//! is due. Marketing mail must carry the unsubscribe link.

use crate::lead::LeadFields;
use crate::validation::ValidationErrors;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// What an author writes.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateInput {
    pub name: String,
    /// One line; personalisation allowed (`Hello {{ lead.first_name | default("there") }}`).
    pub subject: String,
    /// The HTML body. The plain-text part is made from it.
    pub html: String,
    /// Marketing mail (the default) must contain `{{ unsubscribe_url }}`; one-to-one sales
    /// mail may leave it out.
    #[serde(default)]
    pub marketing: Option<bool>,
}

/// A rendered message.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Rendered {
    pub subject: String,
    pub html: String,
    /// The plain-text alternative, made from the HTML.
    pub text: String,
}

/// Who the message is about and from: what a template can use.
#[derive(Debug, Clone, Default)]
pub struct RenderContext {
    pub lead: LeadFields,
    pub owner_name: Option<String>,
    pub owner_email: Option<String>,
    pub owner_signature: Option<String>,
    pub unsubscribe_url: String,
}

const MAX_SUBJECT: usize = 250;
const MAX_HTML: usize = 200_000;
/// Stands in for the unsubscribe link when a template is checked.
const UNSUBSCRIBE_MARK: &str = "unsubscribe-link-placeholder-7f3a";

fn env(undefined: UndefinedBehavior) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(undefined);
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html") {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    // Guards against templates that loop without end or recurse.
    env.set_fuel(Some(200_000));
    env
}

/// The template context: `lead` (every field, custom fields under `lead.custom`),
/// `owner` (`name`, `email`, `signature`) and `unsubscribe_url`. Empty values are left out,
/// so `default(…)` supplies the fallback.
fn context(c: &RenderContext) -> Value {
    let mut lead = match serde_json::to_value(&c.lead) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    lead.retain(|_, v| !v.is_null());
    if let Some(name) = c.lead.first_name.as_deref().or(c.lead.last_name.as_deref()) {
        lead.entry("first_name").or_insert_with(|| json!(name));
    }
    lead.insert("name".into(), json!(c.lead.display_name()));
    let mut owner = Map::new();
    for (k, v) in [
        ("name", &c.owner_name),
        ("email", &c.owner_email),
        ("signature", &c.owner_signature),
    ] {
        if let Some(v) = v {
            owner.insert(k.into(), json!(v));
        }
    }
    json!({ "lead": lead, "owner": owner, "unsubscribe_url": c.unsubscribe_url })
}

/// A context where every known field has a value, to find unknown ones at save time.
fn sample_context(custom_keys: &[String]) -> Value {
    let mut lead = Map::new();
    for name in LeadFields::NAMES {
        lead.insert(name.into(), json!("x"));
    }
    lead.insert("name".into(), json!("x"));
    lead.insert(
        "first_touch".into(),
        json!({"source": "x", "medium": "x", "campaign": "x", "referrer": "x", "landing_page": "x"}),
    );
    lead.insert("last_touch".into(), lead["first_touch"].clone());
    let custom: Map<String, Value> = custom_keys
        .iter()
        .map(|k| (k.clone(), json!("x")))
        .collect();
    lead.insert("custom".into(), Value::Object(custom));
    json!({
        "lead": lead,
        "owner": {"name": "x", "email": "x", "signature": "x"},
        "unsubscribe_url": UNSUBSCRIBE_MARK,
    })
}

/// "line 3: …" from a MiniJinja error.
fn describe(e: &minijinja::Error) -> String {
    let what = match e.kind() {
        minijinja::ErrorKind::UndefinedError => {
            "uses a field that does not exist (custom fields are lead.custom.KEY; \
             use `default(\"…\")` for fallbacks)"
                .to_owned()
        }
        minijinja::ErrorKind::SyntaxError => {
            format!(
                "syntax error: {}",
                e.detail().unwrap_or("not valid template syntax")
            )
        }
        _ => e
            .detail()
            .map(str::to_owned)
            .unwrap_or_else(|| e.to_string()),
    };
    match e.line() {
        Some(l) => format!("line {l}: {what}"),
        None => what,
    }
}

impl TemplateInput {
    /// Checks a template against the lead fields and these custom field keys: syntax,
    /// unknown fields (with the line), lengths, and the unsubscribe link in marketing mail.
    pub fn clean(mut self, custom_keys: &[String]) -> Result<TemplateInput, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        self.name = self.name.trim().to_owned();
        if self.name.is_empty() {
            errors.add("name", "required", "a template needs a name");
        } else if self.name.chars().count() > 120 {
            errors.add("name", "too_long", "at most 120 characters");
        }
        self.subject = self.subject.trim().to_owned();
        if self.subject.is_empty() {
            errors.add("subject", "required", "a message needs a subject");
        } else if self.subject.contains(['\r', '\n']) {
            errors.add("subject", "invalid", "one line only");
        } else if self.subject.chars().count() > MAX_SUBJECT {
            errors.add(
                "subject",
                "too_long",
                format!("at most {MAX_SUBJECT} characters"),
            );
        }
        if self.html.trim().is_empty() {
            errors.add("html", "required", "a message needs a body");
        } else if self.html.len() > MAX_HTML {
            errors.add("html", "too_long", format!("at most {MAX_HTML} bytes"));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let env = env(UndefinedBehavior::Strict);
        let ctx = minijinja::Value::from(minijinja::value::Serde(sample_context(custom_keys)));
        let subject = env
            .render_named_str("subject.txt", &self.subject, &ctx)
            .map_err(|e| errors.add("subject", "template_error", describe(&e)));
        let html = env
            .render_named_str("body.html", &self.html, &ctx)
            .map_err(|e| errors.add("html", "template_error", describe(&e)));
        if let (Ok(_), Ok(html)) = (subject, html)
            && self.marketing.unwrap_or(true)
            && !html.contains(UNSUBSCRIBE_MARK)
        {
            errors.add(
                "html",
                "unsubscribe_missing",
                "marketing mail must contain the unsubscribe link: {{ unsubscribe_url }}",
            );
        }
        errors.into_result().map(|()| self)
    }
}

/// Renders a checked template for one lead. Missing values print as empty (or their
/// `default`); a template that still fails (e.g. it ran out of fuel) is an error.
pub fn render(subject: &str, html: &str, c: &RenderContext) -> Result<Rendered, String> {
    let env = env(UndefinedBehavior::Chainable);
    let ctx = minijinja::Value::from(minijinja::value::Serde(context(c)));
    let subject = env
        .render_named_str("subject.txt", subject, &ctx)
        .map_err(|e| describe(&e))?
        .replace(['\r', '\n'], " ");
    let html = env
        .render_named_str("body.html", html, &ctx)
        .map_err(|e| describe(&e))?;
    let text = super::plain_text::plain_text(&html);
    Ok(Rendered {
        subject: subject.trim().to_owned(),
        html,
        text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(subject: &str, html: &str) -> TemplateInput {
        TemplateInput {
            name: "Welcome".into(),
            subject: subject.into(),
            html: html.into(),
            marketing: None,
        }
    }

    const FOOTER: &str = "<p><a href=\"{{ unsubscribe_url }}\">Unsubscribe</a></p>";

    #[test]
    fn unknown_fields_and_syntax_errors_name_the_line() {
        let e = input(
            "Hi",
            &format!("<p>Hello</p>\n<p>{{{{ lead.frist_name }}}}</p>\n{FOOTER}"),
        )
        .clean(&[])
        .unwrap_err();
        assert_eq!(e.0[0].field, "html");
        assert!(
            e.0[0]
                .message
                .starts_with("line 2: uses a field that does not exist"),
            "{}",
            e.0[0].message
        );
        let e = input("Hi {{ lead.first_name", FOOTER)
            .clean(&[])
            .unwrap_err();
        assert_eq!(
            (e.0[0].field.as_str(), e.0[0].code.as_str()),
            ("subject", "template_error")
        );
        assert!(
            e.0[0].message.contains("syntax error"),
            "{}",
            e.0[0].message
        );
        let e = input("Hi", "<p>{% if lead.company %}x</p>\n\n{FOOTER}")
            .clean(&[])
            .unwrap_err();
        assert!(
            e.0[0].message.contains("syntax error"),
            "{}",
            e.0[0].message
        );
    }

    #[test]
    fn custom_fields_owner_and_unsubscribe() {
        let ok = input(
            "{{ lead.first_name | default(\"Hello\") }}, about {{ lead.custom.product }}",
            &format!("<p>{{{{ owner.signature }}}}</p>{FOOTER}"),
        );
        assert!(ok.clone().clean(&["product".into()]).is_ok());
        assert!(ok.clean(&[]).is_err());
        let e = input("Hi", "<p>no link</p>").clean(&[]).unwrap_err();
        assert_eq!(e.0[0].code, "unsubscribe_missing");
        let sales = TemplateInput {
            marketing: Some(false),
            ..input("Hi", "<p>no link</p>")
        };
        assert!(sales.clean(&[]).is_ok());
    }

    #[test]
    fn rendering_escapes_falls_back_and_makes_text() {
        let c = RenderContext {
            lead: LeadFields {
                first_name: Some("<Ada>".into()),
                company: None,
                ..Default::default()
            },
            owner_name: Some("Ana".into()),
            unsubscribe_url: "https://x.example/u/abc".into(),
            ..Default::default()
        };
        let r = render(
            "Hi {{ lead.first_name }}",
            "<p>Hello {{ lead.first_name }} from {{ lead.company | default(\"your company\") }}.</p>\
             <p>{{ owner.name }}</p><a href=\"{{ unsubscribe_url }}\">Unsubscribe</a>",
            &c,
        )
        .unwrap();
        assert_eq!(r.subject, "Hi <Ada>");
        assert!(
            r.html.contains("Hello &lt;Ada&gt; from your company."),
            "{}",
            r.html
        );
        assert!(
            r.text.contains("Hello <Ada> from your company."),
            "{}",
            r.text
        );
        assert!(r.text.contains("https://x.example/u/abc"), "{}", r.text);
    }

    #[test]
    fn a_runaway_loop_is_stopped() {
        let r = render(
            "x",
            "{% for i in range(100000) %}{% for j in range(100000) %}.{% endfor %}{% endfor %}",
            &RenderContext::default(),
        );
        assert!(r.is_err());
    }
}
