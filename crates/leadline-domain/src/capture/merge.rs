//! Folding a repeat submission into the lead it belongs to.

use crate::lead::LeadFields;

/// Folds a new submission into the lead it belongs to. Values people or sales already
/// entered win: only empty fields are filled (the full submission stays on the timeline
/// activity). The last touch moves to the new one; the first touch never changes. An
/// opt-out sticks once given.
pub fn merge_submission(existing: &LeadFields, incoming: &LeadFields) -> LeadFields {
    let mut out = existing.clone();
    macro_rules! fill {
        ($($f:ident),*) => {$(
            if out.$f.is_none() {
                out.$f = incoming.$f.clone();
            }
        )*};
    }
    fill!(
        first_name,
        last_name,
        email,
        phone,
        mobile,
        title,
        company,
        website,
        industry,
        employees,
        annual_revenue,
        currency,
        street,
        city,
        state,
        postal_code,
        country,
        time_zone,
        description,
        budget,
        authority,
        need,
        timeline,
        external_id
    );
    for (k, v) in &incoming.custom {
        out.custom.entry(k.clone()).or_insert_with(|| v.clone());
    }
    out.email_opt_out = existing.email_opt_out || incoming.email_opt_out;
    if out.first_touch.is_empty() {
        out.first_touch = incoming.first_touch.clone();
    }
    let touch = if incoming.last_touch.is_empty() {
        &incoming.first_touch
    } else {
        &incoming.last_touch
    };
    if !touch.is_empty() {
        out.last_touch = touch.clone();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lead::Touch;
    use proptest::prelude::*;

    #[test]
    fn a_repeat_submission_fills_gaps_and_moves_the_last_touch() {
        let existing = LeadFields {
            email: Some("ana@acme.example".into()),
            company: Some("Acme".into()),
            email_opt_out: true,
            first_touch: Touch {
                source: Some("google".into()),
                ..Touch::default()
            },
            last_touch: Touch {
                source: Some("google".into()),
                ..Touch::default()
            },
            ..LeadFields::default()
        };
        let mut incoming = LeadFields {
            email: Some("ANA@acme.example".into()),
            company: Some("Acme Corp".into()),
            phone: Some("+49 30 1234".into()),
            first_touch: Touch {
                source: Some("linkedin".into()),
                ..Touch::default()
            },
            ..LeadFields::default()
        };
        incoming
            .custom
            .insert("product_interest".into(), "crm".into());
        let m = merge_submission(&existing, &incoming);
        assert_eq!(m.company.as_deref(), Some("Acme"), "existing values win");
        assert_eq!(m.email.as_deref(), Some("ana@acme.example"));
        assert_eq!(m.phone.as_deref(), Some("+49 30 1234"), "gaps are filled");
        assert!(m.email_opt_out, "an opt-out sticks");
        assert_eq!(m.first_touch.source.as_deref(), Some("google"));
        assert_eq!(m.last_touch.source.as_deref(), Some("linkedin"));
        assert_eq!(m.custom["product_interest"], "crm");
    }

    proptest! {
        #[test]
        fn merging_keeps_every_existing_value(a in "[a-z]{0,5}", b in "[a-z]{0,5}") {
            let opt = |s: &str| (!s.is_empty()).then(|| s.to_owned());
            let existing = LeadFields { city: opt(&a), ..LeadFields::default() };
            let incoming = LeadFields { city: opt(&b), ..LeadFields::default() };
            let m = merge_submission(&existing, &incoming);
            prop_assert_eq!(m.city, opt(&a).or(opt(&b)));
        }

    }
}
