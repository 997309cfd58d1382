//! Privacy rules: what erasing a person keeps of their lead (what reports count, nothing
//! that identifies them), the lawful bases a consent record may name, and retention
//! policies (how long data is kept before it is erased or deleted).

use crate::lead::{LeadFields, Touch};
use crate::validation::ValidationErrors;
use chrono::{DateTime, Duration, Months, Utc};
use serde::{Deserialize, Serialize};

/// The lawful bases of GDPR article 6(1), as a consent record names them.
pub const LAWFUL_BASES: [&str; 6] = [
    "consent",
    "contract",
    "legal_obligation",
    "vital_interests",
    "public_task",
    "legitimate_interests",
];

/// What an erased lead keeps: the fields reports group and sum by (stage, owner and team
/// live outside the fields and stay too). Everything that names, reaches or locates the
/// person (names, addresses, phone numbers, company and website, free text, custom fields,
/// the referring and landing URLs, the id in another system) is dropped, and the lead is
/// marked as not to be emailed.
pub fn erased_fields(f: &LeadFields) -> LeadFields {
    let keep_touch = |t: &Touch| Touch {
        source: t.source.clone(),
        medium: t.medium.clone(),
        campaign: t.campaign.clone(),
        referrer: None,
        landing_page: None,
    };
    LeadFields {
        industry: f.industry.clone(),
        employees: f.employees,
        annual_revenue: f.annual_revenue,
        currency: f.currency.clone(),
        country: f.country.clone(),
        budget: f.budget,
        authority: f.authority,
        timeline: f.timeline,
        email_opt_out: true,
        first_touch: keep_touch(&f.first_touch),
        last_touch: keep_touch(&f.last_touch),
        owner_id: f.owner_id,
        team_id: f.team_id,
        ..LeadFields::default()
    }
}

/// How long Leadline keeps data before the retention job acts. Every period is optional
/// (unset: kept until someone acts). Leads are erased, not deleted, so reports keep
/// counting them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetentionPolicy {
    /// Erase leads never converted (no conversion, not won) whose last activity (or
    /// creation) is older than this many months.
    #[serde(default)]
    pub erase_unconverted_after_months: Option<u32>,
    /// Erase leads in the trash (deleted) for this many days.
    #[serde(default)]
    pub erase_deleted_after_days: Option<u32>,
    /// Delete page visits of visitors never identified as a lead after this many days.
    #[serde(default)]
    pub delete_anonymous_visits_after_days: Option<u32>,
    /// Delete rejected submissions (forms, email, API) and failed import rows after this
    /// many days.
    #[serde(default)]
    pub delete_rejected_after_days: Option<u32>,
}

/// The moments before which each kind of data is due, for one run of the retention job.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionCutoffs {
    pub unconverted_before: Option<DateTime<Utc>>,
    pub deleted_before: Option<DateTime<Utc>>,
    pub anonymous_visits_before: Option<DateTime<Utc>>,
    pub rejected_before: Option<DateTime<Utc>>,
}

impl RetentionPolicy {
    /// Longest period accepted, in days (ten years); in months, 120.
    pub const MAX_DAYS: u32 = 3_650;

    /// Checks every period is between 1 and ten years.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let mut check = |field: &str, v: Option<u32>, max: u32, unit: &str| {
            if let Some(v) = v
                && !(1..=max).contains(&v)
            {
                errors.add(field, "out_of_range", format!("between 1 and {max} {unit}"));
            }
        };
        check(
            "erase_unconverted_after_months",
            self.erase_unconverted_after_months,
            Self::MAX_DAYS / 30 - 1,
            "months",
        );
        check(
            "erase_deleted_after_days",
            self.erase_deleted_after_days,
            Self::MAX_DAYS,
            "days",
        );
        check(
            "delete_anonymous_visits_after_days",
            self.delete_anonymous_visits_after_days,
            Self::MAX_DAYS,
            "days",
        );
        check(
            "delete_rejected_after_days",
            self.delete_rejected_after_days,
            Self::MAX_DAYS,
            "days",
        );
        errors.into_result()
    }

    /// The cutoffs at `now`: data older than a cutoff is due.
    pub fn cutoffs(&self, now: DateTime<Utc>) -> RetentionCutoffs {
        let days = |d: Option<u32>| d.map(|d| now - Duration::days(i64::from(d)));
        RetentionCutoffs {
            unconverted_before: self
                .erase_unconverted_after_months
                .map(|m| now.checked_sub_months(Months::new(m)).unwrap_or(now)),
            deleted_before: days(self.erase_deleted_after_days),
            anonymous_visits_before: days(self.delete_anonymous_visits_after_days),
            rejected_before: days(self.delete_rejected_after_days),
        }
    }

    /// Whether any period is set.
    pub fn is_active(&self) -> bool {
        self.erase_unconverted_after_months.is_some()
            || self.erase_deleted_after_days.is_some()
            || self.delete_anonymous_visits_after_days.is_some()
            || self.delete_rejected_after_days.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lead::{Authority, Timeline};
    use chrono::TimeZone;
    use proptest::prelude::*;
    use uuid::Uuid;

    fn text() -> impl Strategy<Value = Option<String>> {
        proptest::option::of("[a-zA-Z0-9@. ]{1,20}")
    }

    prop_compose! {
        fn any_fields()(
            names in (text(), text(), text(), text(), text(), text(), text()),
            place in (text(), text(), text(), text(), text(), text()),
            nums in (proptest::option::of(0i32..100_000), proptest::option::of(0i64..1_000_000_000)),
            touch in (text(), text(), text(), text(), text()),
            custom in text(),
        ) -> LeadFields {
            let mut f = LeadFields {
                first_name: names.0, last_name: names.1, email: names.2, phone: names.3,
                mobile: names.4, title: names.5, company: names.6,
                website: place.0, street: place.1, city: place.2, postal_code: place.3,
                description: place.4, need: place.5.clone(), state: place.5,
                industry: touch.4.clone(), country: Some("DE".into()),
                employees: nums.0, annual_revenue: nums.1, budget: nums.1,
                authority: Some(Authority::DecisionMaker), timeline: Some(Timeline::Within3Months),
                external_id: custom.clone(), time_zone: Some("Europe/Berlin".into()),
                owner_id: Some(Uuid::nil()),
                ..LeadFields::default()
            };
            f.first_touch = Touch { source: touch.0, medium: touch.1, campaign: touch.2,
                referrer: touch.3.clone(), landing_page: touch.3 };
            f.last_touch = f.first_touch.clone();
            if let Some(c) = custom { f.custom.insert("note".into(), c.into()); }
            f
        }
    }

    proptest! {
        #[test]
        fn erasing_keeps_what_reports_count_and_nothing_that_identifies(f in any_fields()) {
            let e = erased_fields(&f);
            for (name, v) in [
                ("first_name", &e.first_name), ("last_name", &e.last_name), ("email", &e.email),
                ("phone", &e.phone), ("mobile", &e.mobile), ("title", &e.title),
                ("company", &e.company), ("website", &e.website), ("street", &e.street),
                ("city", &e.city), ("state", &e.state), ("postal_code", &e.postal_code),
                ("time_zone", &e.time_zone), ("description", &e.description),
                ("need", &e.need), ("external_id", &e.external_id),
                ("first_touch.referrer", &e.first_touch.referrer),
                ("first_touch.landing_page", &e.first_touch.landing_page),
                ("last_touch.referrer", &e.last_touch.referrer),
                ("last_touch.landing_page", &e.last_touch.landing_page),
            ] {
                prop_assert!(v.is_none(), "{} kept", name);
            }
            prop_assert!(e.custom.is_empty());
            prop_assert!(e.email_opt_out);
            prop_assert_eq!(&e.industry, &f.industry);
            prop_assert_eq!(e.employees, f.employees);
            prop_assert_eq!(e.annual_revenue, f.annual_revenue);
            prop_assert_eq!(e.budget, f.budget);
            prop_assert_eq!(&e.country, &f.country);
            prop_assert_eq!(&e.first_touch.source, &f.first_touch.source);
            prop_assert_eq!(&e.first_touch.campaign, &f.first_touch.campaign);
            prop_assert_eq!(&e.last_touch.medium, &f.last_touch.medium);
            prop_assert_eq!(e.owner_id, f.owner_id);
            // Erasing twice changes nothing more.
            prop_assert_eq!(erased_fields(&e), e);
        }
    }

    #[test]
    fn periods_out_of_range_are_named() {
        let p = RetentionPolicy {
            erase_unconverted_after_months: Some(0),
            delete_rejected_after_days: Some(4_000),
            erase_deleted_after_days: Some(30),
            ..Default::default()
        };
        let err = p.validate().unwrap_err();
        let fields: Vec<_> = err.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "erase_unconverted_after_months",
                "delete_rejected_after_days"
            ]
        );
        assert!(RetentionPolicy::default().validate().is_ok());
        assert!(!RetentionPolicy::default().is_active());
    }

    #[test]
    fn cutoffs_count_calendar_months_and_days() {
        let now = Utc.with_ymd_and_hms(2026, 3, 31, 12, 0, 0).unwrap();
        let p = RetentionPolicy {
            erase_unconverted_after_months: Some(1),
            erase_deleted_after_days: Some(30),
            ..Default::default()
        };
        let c = p.cutoffs(now);
        // 31 March minus a month is the last day of February.
        assert_eq!(
            c.unconverted_before,
            Some(Utc.with_ymd_and_hms(2026, 2, 28, 12, 0, 0).unwrap())
        );
        assert_eq!(
            c.deleted_before,
            Some(Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap())
        );
        assert_eq!(c.anonymous_visits_before, None);
        assert_eq!(c.rejected_before, None);
    }
}
