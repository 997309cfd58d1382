//! Salesforce-compatible Web-to-Lead: the field names a generated Salesforce form posts.

use crate::lead::{LeadFields, Touch};
use crate::money;
use serde_json::{Map, Value};

/// Form fields that steer the submission rather than describe the lead.
const CONTROL: &[&str] = &[
    "oid",
    "retURL",
    "debug",
    "debugEmail",
    "encoding",
    "captcha_settings",
    "g-recaptcha-response",
];

/// A web-to-lead post, mapped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WebToLead {
    /// The lead fields the post maps to (not yet cleaned or validated).
    pub fields: LeadFields,
    /// Where to send the browser afterwards, as the form asked (`retURL`); unchecked.
    pub ret_url: Option<String>,
    /// Fields with no lead counterpart (salutation, fax, rating, unknown custom ids…),
    /// kept verbatim with the submission.
    pub unmapped: Map<String, Value>,
}

/// Maps Salesforce Web-to-Lead field names (the ones a generated Salesforce form posts) to
/// Leadline's fields. `aliases` maps custom field ids such as `00N5e00000XXXXX` to custom
/// field keys. Values are trimmed; empty values are ignored.
pub fn web_to_lead(pairs: &[(String, String)], aliases: &[(String, String)]) -> WebToLead {
    let mut out = WebToLead::default();
    let mut touch = Touch::default();
    let mut revenue_text = None;
    for (name, raw) in pairs {
        let v = raw.trim();
        if name == "retURL" && !v.is_empty() {
            out.ret_url = Some(v.to_owned());
        }
        if v.is_empty() || CONTROL.contains(&name.as_str()) {
            continue;
        }
        let text = Some(v.to_owned());
        let f = &mut out.fields;
        match name.as_str() {
            "first_name" => f.first_name = text,
            "last_name" => f.last_name = text,
            "email" => f.email = text,
            "company" => f.company = text,
            "title" => f.title = text,
            "phone" => f.phone = text,
            "mobile" => f.mobile = text,
            "url" => f.website = text,
            "street" => f.street = text,
            "city" => f.city = text,
            "state" => f.state = text,
            "zip" => f.postal_code = text,
            "country" => f.country = text,
            "description" => f.description = text,
            "industry" => f.industry = text,
            "lead_source" | "utm_source" => touch.source = touch.source.take().or(text),
            "utm_medium" => touch.medium = text,
            "Campaign_ID" | "utm_campaign" => touch.campaign = touch.campaign.take().or(text),
            "employees" => match v.replace([',', ' '], "").parse::<i32>() {
                Ok(n) => f.employees = Some(n),
                Err(_) => {
                    out.unmapped
                        .insert(name.clone(), Value::String(v.to_owned()));
                }
            },
            "revenue" => revenue_text = Some(v.to_owned()),
            "emailOptOut" => {
                f.email_opt_out =
                    matches!(v.to_ascii_lowercase().as_str(), "1" | "on" | "true" | "yes")
            }
            other => match aliases.iter().find(|(id, _)| id == other) {
                Some((_, key)) => {
                    f.custom.insert(key.clone(), Value::String(v.to_owned()));
                }
                None => {
                    out.unmapped
                        .insert(other.to_owned(), Value::String(v.to_owned()));
                }
            },
        }
    }
    if let Some(r) = revenue_text {
        // Salesforce revenue is in whole currency units.
        match money::parse_major(
            &r.replace(['$', '€', '£'], ""),
            out.fields.currency.as_deref(),
        ) {
            Some(minor) => out.fields.annual_revenue = Some(minor),
            None => {
                out.unmapped.insert("revenue".into(), Value::String(r));
            }
        }
    }
    out.fields.last_touch = touch.clone();
    out.fields.first_touch = touch;
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn maps_a_generated_salesforce_form() {
        let w = web_to_lead(
            &pairs(&[
                ("oid", "00D000000000062"),
                ("retURL", "https://www.example.com/thanks"),
                ("first_name", " Ana "),
                ("last_name", "Lima"),
                ("email", "ana@acme.example"),
                ("company", "Acme"),
                ("zip", "10115"),
                ("url", "acme.example"),
                ("lead_source", "Web"),
                ("Campaign_ID", "701000000000001"),
                ("employees", "1,200"),
                ("revenue", "$2,500,000"),
                ("emailOptOut", "1"),
                ("salutation", "Ms."),
                ("00N5e00000ABCDE", "Scoring"),
                ("00N5e00000ZZZZZ", "kept"),
                ("g-recaptcha-response", "token"),
                ("fax", ""),
            ]),
            &[("00N5e00000ABCDE".into(), "product_interest".into())],
        );
        let f = &w.fields;
        assert_eq!(f.first_name.as_deref(), Some("Ana"));
        assert_eq!(f.postal_code.as_deref(), Some("10115"));
        assert_eq!(f.website.as_deref(), Some("acme.example"));
        assert_eq!(f.employees, Some(1200));
        assert_eq!(f.annual_revenue, Some(250_000_000));
        assert!(f.email_opt_out);
        assert_eq!(f.first_touch.source.as_deref(), Some("Web"));
        assert_eq!(f.first_touch.campaign.as_deref(), Some("701000000000001"));
        assert_eq!(f.last_touch, f.first_touch);
        assert_eq!(f.custom["product_interest"], "Scoring");
        assert_eq!(w.ret_url.as_deref(), Some("https://www.example.com/thanks"));
        assert_eq!(w.unmapped.get("salutation"), Some(&Value::from("Ms.")));
        assert_eq!(
            w.unmapped.get("00N5e00000ZZZZZ"),
            Some(&Value::from("kept"))
        );
        assert!(
            !w.unmapped.contains_key("g-recaptcha-response"),
            "captcha tokens are not kept"
        );
        assert!(!w.unmapped.contains_key("fax"), "empty values are ignored");
    }

    #[test]
    fn unparsable_numbers_are_kept_not_lost() {
        let w = web_to_lead(
            &pairs(&[
                ("last_name", "X"),
                ("employees", "lots"),
                ("revenue", "a few"),
            ]),
            &[],
        );
        assert_eq!(w.fields.employees, None);
        assert_eq!(w.unmapped.get("employees"), Some(&Value::from("lots")));
        assert_eq!(w.unmapped.get("revenue"), Some(&Value::from("a few")));
    }

    proptest! {
        #[test]
        fn any_post_maps_without_panicking(list in prop::collection::vec(("[a-zA-Z_0-9]{0,16}", ".{0,40}"), 0..30)) {
            let p: Vec<(String, String)> = list;
            let _ = web_to_lead(&p, &[]);
        }
    }
}
