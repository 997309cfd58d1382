//! Enrichment: what can be derived about a lead from what it already holds (company and
//! website from a company email domain, country from the phone prefix, time zone from the
//! country and state), and what an outside enrichment service answered. Each value is kept
//! with its provenance; enrichment only ever fills empty fields.

use super::{normalize, verify};
use crate::lead::LeadFields;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One enriched value and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Enriched {
    /// The lead field, e.g. `company`.
    pub field: String,
    pub value: Value,
    /// `email_domain`, `phone_prefix`, `country` or `hook`.
    pub provider: String,
    /// What the value was derived from, e.g. `acme-logistics.de` or `+49`.
    pub basis: String,
}

/// Fields an enrichment service may fill.
pub const HOOK_FIELDS: [&str; 11] = [
    "company",
    "website",
    "industry",
    "employees",
    "annual_revenue",
    "title",
    "street",
    "city",
    "state",
    "postal_code",
    "country",
];

/// A company name from its domain's first label: `acme-logistics.de` → `Acme Logistics`.
pub fn company_from_domain(domain: &str) -> Option<String> {
    let label = domain.split('.').next()?;
    let words: Vec<String> = label
        .split(['-', '_'])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect())
                .unwrap_or_default()
        })
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// The principal IANA time zone of a country (one zone, or one zone most people live in),
/// or of a state where a country spans several (US, CA, AU). `None` where neither tells.
pub fn time_zone(country: &str, state: Option<&str>) -> Option<&'static str> {
    if let Some(st) = state
        && let Some((_, _, z)) = STATE_ZONES
            .iter()
            .find(|(c, s, _)| *c == country && s.eq_ignore_ascii_case(st))
    {
        return Some(z);
    }
    COUNTRY_ZONES
        .iter()
        .find(|(c, _)| *c == country)
        .map(|(_, z)| *z)
}

/// What the lead's own fields tell about its empty ones.
pub fn derive(f: &LeadFields, default_region: Option<&str>) -> Vec<Enriched> {
    let mut out = Vec::new();
    let blank = |v: &Option<String>| v.as_deref().is_none_or(|s| s.trim().is_empty());
    if let Some(e) = f.email.as_deref().and_then(normalize::email)
        && !verify::is_free_mail(&e.domain)
        && !verify::is_disposable(&e.domain, &[])
        && let Some(d) = normalize::registrable_domain(&e.domain)
    {
        if blank(&f.website) {
            out.push(Enriched {
                field: "website".into(),
                value: Value::String(format!("https://{d}")),
                provider: "email_domain".into(),
                basis: d.clone(),
            });
        }
        if blank(&f.company)
            && let Some(name) = company_from_domain(&d)
        {
            out.push(Enriched {
                field: "company".into(),
                value: Value::String(name),
                provider: "email_domain".into(),
                basis: d,
            });
        }
    }
    let mut country = f
        .country
        .as_deref()
        .and_then(normalize::country_code)
        .map(str::to_owned);
    if country.is_none() {
        let from_phone = [&f.phone, &f.mobile].into_iter().flatten().find_map(|p| {
            let e164 = normalize::phone_e164(p, default_region).ok()?;
            let region = normalize::phone_region(&e164)?;
            Some((region, e164))
        });
        if let Some((region, e164)) = from_phone {
            let code = phonenumber::parse(None, &e164)
                .map(|n| format!("+{}", n.code().value()))
                .unwrap_or(e164);
            out.push(Enriched {
                field: "country".into(),
                value: Value::String(region.clone()),
                provider: "phone_prefix".into(),
                basis: code,
            });
            country = Some(region);
        }
    }
    if blank(&f.time_zone)
        && let Some(c) = &country
        && let Some(z) = time_zone(c, f.state.as_deref())
    {
        let basis = match f.state.as_deref().filter(|s| !s.trim().is_empty()) {
            Some(s) => format!("{c}-{s}"),
            None => c.clone(),
        };
        out.push(Enriched {
            field: "time_zone".into(),
            value: Value::String(z.to_owned()),
            provider: "country".into(),
            basis,
        });
    }
    out
}

/// Reads an enrichment service's answer: a JSON object of lead fields. Returns the values
/// that are well-formed for their field, and the names of those ignored (unknown fields,
/// or values of the wrong type).
pub fn from_hook(answer: &Value, basis: &str) -> (Vec<Enriched>, Vec<String>) {
    let mut ok = Vec::new();
    let mut ignored = Vec::new();
    let Some(map) = answer.as_object() else {
        return (ok, vec!["(not a JSON object)".into()]);
    };
    for (k, v) in map {
        if v.is_null() {
            continue;
        }
        if !HOOK_FIELDS.contains(&k.as_str()) {
            ignored.push(k.clone());
            continue;
        }
        // The lead's own validation decides whether the value fits the field.
        let mut one = Map::new();
        one.insert(k.clone(), v.clone());
        // A stand-in identity, so the check is of this one field and not of the whole lead.
        let checked = LeadFields::from_json(Value::Object(one)).and_then(|f| {
            LeadFields {
                external_id: Some("enrichment".into()),
                ..f
            }
            .clean(&[])
        });
        match checked {
            Ok(f) => {
                let value = serde_json::to_value(&f)
                    .ok()
                    .and_then(|all| all.get(k).cloned())
                    .unwrap_or(Value::Null);
                if value.is_null() {
                    ignored.push(k.clone());
                } else {
                    ok.push(Enriched {
                        field: k.clone(),
                        value,
                        provider: "hook".into(),
                        basis: basis.to_owned(),
                    });
                }
            }
            Err(_) => ignored.push(k.clone()),
        }
    }
    (ok, ignored)
}

/// Fills the lead's empty fields with enriched values. Returns those applied; a field
/// someone filled meanwhile keeps its value.
pub fn apply(f: &LeadFields, items: &[Enriched]) -> (LeadFields, Vec<Enriched>) {
    let Ok(Value::Object(mut m)) = serde_json::to_value(f) else {
        return (f.clone(), Vec::new());
    };
    let mut applied = Vec::new();
    for e in items {
        let empty = match m.get(&e.field) {
            None | Some(Value::Null) => true,
            Some(Value::String(s)) => s.trim().is_empty(),
            _ => false,
        };
        if empty && !applied.iter().any(|a: &Enriched| a.field == e.field) {
            m.insert(e.field.clone(), e.value.clone());
            applied.push(e.clone());
        }
    }
    match serde_json::from_value(Value::Object(m)) {
        Ok(out) => (out, applied),
        Err(_) => (f.clone(), Vec::new()),
    }
}

/// Countries and their principal time zone, from the IANA tz database's `zone.tab` (the
/// first zone listed per country); countries spanning several zones with no principal one
/// are left out.
const COUNTRY_ZONES: &[(&str, &str)] = &[
    ("AD", "Europe/Andorra"),
    ("AE", "Asia/Dubai"),
    ("AF", "Asia/Kabul"),
    ("AG", "America/Antigua"),
    ("AI", "America/Anguilla"),
    ("AL", "Europe/Tirane"),
    ("AM", "Asia/Yerevan"),
    ("AO", "Africa/Luanda"),
    ("AR", "America/Argentina/Buenos_Aires"),
    ("AS", "Pacific/Pago_Pago"),
    ("AT", "Europe/Vienna"),
    ("AW", "America/Aruba"),
    ("AX", "Europe/Mariehamn"),
    ("AZ", "Asia/Baku"),
    ("BA", "Europe/Sarajevo"),
    ("BB", "America/Barbados"),
    ("BD", "Asia/Dhaka"),
    ("BE", "Europe/Brussels"),
    ("BF", "Africa/Ouagadougou"),
    ("BG", "Europe/Sofia"),
    ("BH", "Asia/Bahrain"),
    ("BI", "Africa/Bujumbura"),
    ("BJ", "Africa/Porto-Novo"),
    ("BL", "America/St_Barthelemy"),
    ("BM", "Atlantic/Bermuda"),
    ("BN", "Asia/Brunei"),
    ("BO", "America/La_Paz"),
    ("BQ", "America/Kralendijk"),
    ("BS", "America/Nassau"),
    ("BT", "Asia/Thimphu"),
    ("BW", "Africa/Gaborone"),
    ("BY", "Europe/Minsk"),
    ("BZ", "America/Belize"),
    ("CC", "Indian/Cocos"),
    ("CF", "Africa/Bangui"),
    ("CG", "Africa/Brazzaville"),
    ("CH", "Europe/Zurich"),
    ("CI", "Africa/Abidjan"),
    ("CK", "Pacific/Rarotonga"),
    ("CM", "Africa/Douala"),
    ("CN", "Asia/Shanghai"),
    ("CO", "America/Bogota"),
    ("CR", "America/Costa_Rica"),
    ("CU", "America/Havana"),
    ("CV", "Atlantic/Cape_Verde"),
    ("CW", "America/Curacao"),
    ("CX", "Indian/Christmas"),
    ("CY", "Asia/Nicosia"),
    ("CZ", "Europe/Prague"),
    ("DE", "Europe/Berlin"),
    ("DJ", "Africa/Djibouti"),
    ("DK", "Europe/Copenhagen"),
    ("DM", "America/Dominica"),
    ("DO", "America/Santo_Domingo"),
    ("DZ", "Africa/Algiers"),
    ("EE", "Europe/Tallinn"),
    ("EG", "Africa/Cairo"),
    ("EH", "Africa/El_Aaiun"),
    ("ER", "Africa/Asmara"),
    ("ES", "Europe/Madrid"),
    ("ET", "Africa/Addis_Ababa"),
    ("FI", "Europe/Helsinki"),
    ("FJ", "Pacific/Fiji"),
    ("FK", "Atlantic/Stanley"),
    ("FO", "Atlantic/Faroe"),
    ("FR", "Europe/Paris"),
    ("GA", "Africa/Libreville"),
    ("GB", "Europe/London"),
    ("GD", "America/Grenada"),
    ("GE", "Asia/Tbilisi"),
    ("GF", "America/Cayenne"),
    ("GG", "Europe/Guernsey"),
    ("GH", "Africa/Accra"),
    ("GI", "Europe/Gibraltar"),
    ("GM", "Africa/Banjul"),
    ("GN", "Africa/Conakry"),
    ("GP", "America/Guadeloupe"),
    ("GQ", "Africa/Malabo"),
    ("GR", "Europe/Athens"),
    ("GS", "Atlantic/South_Georgia"),
    ("GT", "America/Guatemala"),
    ("GU", "Pacific/Guam"),
    ("GW", "Africa/Bissau"),
    ("GY", "America/Guyana"),
    ("HK", "Asia/Hong_Kong"),
    ("HN", "America/Tegucigalpa"),
    ("HR", "Europe/Zagreb"),
    ("HT", "America/Port-au-Prince"),
    ("HU", "Europe/Budapest"),
    ("IE", "Europe/Dublin"),
    ("IL", "Asia/Jerusalem"),
    ("IM", "Europe/Isle_of_Man"),
    ("IN", "Asia/Kolkata"),
    ("IO", "Indian/Chagos"),
    ("IQ", "Asia/Baghdad"),
    ("IR", "Asia/Tehran"),
    ("IS", "Atlantic/Reykjavik"),
    ("IT", "Europe/Rome"),
    ("JE", "Europe/Jersey"),
    ("JM", "America/Jamaica"),
    ("JO", "Asia/Amman"),
    ("JP", "Asia/Tokyo"),
    ("KE", "Africa/Nairobi"),
    ("KG", "Asia/Bishkek"),
    ("KH", "Asia/Phnom_Penh"),
    ("KM", "Indian/Comoro"),
    ("KN", "America/St_Kitts"),
    ("KP", "Asia/Pyongyang"),
    ("KR", "Asia/Seoul"),
    ("KW", "Asia/Kuwait"),
    ("KY", "America/Cayman"),
    ("LA", "Asia/Vientiane"),
    ("LB", "Asia/Beirut"),
    ("LC", "America/St_Lucia"),
    ("LI", "Europe/Vaduz"),
    ("LK", "Asia/Colombo"),
    ("LR", "Africa/Monrovia"),
    ("LS", "Africa/Maseru"),
    ("LT", "Europe/Vilnius"),
    ("LU", "Europe/Luxembourg"),
    ("LV", "Europe/Riga"),
    ("LY", "Africa/Tripoli"),
    ("MA", "Africa/Casablanca"),
    ("MC", "Europe/Monaco"),
    ("MD", "Europe/Chisinau"),
    ("ME", "Europe/Podgorica"),
    ("MF", "America/Marigot"),
    ("MG", "Indian/Antananarivo"),
    ("MK", "Europe/Skopje"),
    ("ML", "Africa/Bamako"),
    ("MM", "Asia/Yangon"),
    ("MO", "Asia/Macau"),
    ("MP", "Pacific/Saipan"),
    ("MQ", "America/Martinique"),
    ("MR", "Africa/Nouakchott"),
    ("MS", "America/Montserrat"),
    ("MT", "Europe/Malta"),
    ("MU", "Indian/Mauritius"),
    ("MV", "Indian/Maldives"),
    ("MW", "Africa/Blantyre"),
    ("MY", "Asia/Kuala_Lumpur"),
    ("MZ", "Africa/Maputo"),
    ("NA", "Africa/Windhoek"),
    ("NC", "Pacific/Noumea"),
    ("NE", "Africa/Niamey"),
    ("NF", "Pacific/Norfolk"),
    ("NG", "Africa/Lagos"),
    ("NI", "America/Managua"),
    ("NL", "Europe/Amsterdam"),
    ("NO", "Europe/Oslo"),
    ("NP", "Asia/Kathmandu"),
    ("NR", "Pacific/Nauru"),
    ("NU", "Pacific/Niue"),
    ("NZ", "Pacific/Auckland"),
    ("OM", "Asia/Muscat"),
    ("PA", "America/Panama"),
    ("PE", "America/Lima"),
    ("PH", "Asia/Manila"),
    ("PK", "Asia/Karachi"),
    ("PL", "Europe/Warsaw"),
    ("PM", "America/Miquelon"),
    ("PN", "Pacific/Pitcairn"),
    ("PR", "America/Puerto_Rico"),
    ("PS", "Asia/Gaza"),
    ("PT", "Europe/Lisbon"),
    ("PW", "Pacific/Palau"),
    ("PY", "America/Asuncion"),
    ("QA", "Asia/Qatar"),
    ("RE", "Indian/Reunion"),
    ("RO", "Europe/Bucharest"),
    ("RS", "Europe/Belgrade"),
    ("RW", "Africa/Kigali"),
    ("SA", "Asia/Riyadh"),
    ("SB", "Pacific/Guadalcanal"),
    ("SC", "Indian/Mahe"),
    ("SD", "Africa/Khartoum"),
    ("SE", "Europe/Stockholm"),
    ("SG", "Asia/Singapore"),
    ("SH", "Atlantic/St_Helena"),
    ("SI", "Europe/Ljubljana"),
    ("SJ", "Arctic/Longyearbyen"),
    ("SK", "Europe/Bratislava"),
    ("SL", "Africa/Freetown"),
    ("SM", "Europe/San_Marino"),
    ("SN", "Africa/Dakar"),
    ("SO", "Africa/Mogadishu"),
    ("SR", "America/Paramaribo"),
    ("SS", "Africa/Juba"),
    ("ST", "Africa/Sao_Tome"),
    ("SV", "America/El_Salvador"),
    ("SX", "America/Lower_Princes"),
    ("SY", "Asia/Damascus"),
    ("SZ", "Africa/Mbabane"),
    ("TC", "America/Grand_Turk"),
    ("TD", "Africa/Ndjamena"),
    ("TF", "Indian/Kerguelen"),
    ("TG", "Africa/Lome"),
    ("TH", "Asia/Bangkok"),
    ("TJ", "Asia/Dushanbe"),
    ("TK", "Pacific/Fakaofo"),
    ("TL", "Asia/Dili"),
    ("TM", "Asia/Ashgabat"),
    ("TN", "Africa/Tunis"),
    ("TO", "Pacific/Tongatapu"),
    ("TR", "Europe/Istanbul"),
    ("TT", "America/Port_of_Spain"),
    ("TV", "Pacific/Funafuti"),
    ("TW", "Asia/Taipei"),
    ("TZ", "Africa/Dar_es_Salaam"),
    ("UA", "Europe/Simferopol"),
    ("UG", "Africa/Kampala"),
    ("UY", "America/Montevideo"),
    ("UZ", "Asia/Samarkand"),
    ("VA", "Europe/Vatican"),
    ("VC", "America/St_Vincent"),
    ("VE", "America/Caracas"),
    ("VG", "America/Tortola"),
    ("VI", "America/St_Thomas"),
    ("VN", "Asia/Ho_Chi_Minh"),
    ("VU", "Pacific/Efate"),
    ("WF", "Pacific/Wallis"),
    ("WS", "Pacific/Apia"),
    ("YE", "Asia/Aden"),
    ("YT", "Indian/Mayotte"),
    ("ZA", "Africa/Johannesburg"),
    ("ZM", "Africa/Lusaka"),
    ("ZW", "Africa/Harare"),
];

/// States and provinces of countries spanning several zones, and the zone most of each
/// lives in.
const STATE_ZONES: &[(&str, &str, &str)] = &[
    ("US", "AK", "America/Anchorage"),
    ("US", "AL", "America/Chicago"),
    ("US", "AR", "America/Chicago"),
    ("US", "AZ", "America/Phoenix"),
    ("US", "CA", "America/Los_Angeles"),
    ("US", "CO", "America/Denver"),
    ("US", "CT", "America/New_York"),
    ("US", "DC", "America/New_York"),
    ("US", "DE", "America/New_York"),
    ("US", "FL", "America/New_York"),
    ("US", "GA", "America/New_York"),
    ("US", "HI", "Pacific/Honolulu"),
    ("US", "IA", "America/Chicago"),
    ("US", "ID", "America/Boise"),
    ("US", "IL", "America/Chicago"),
    ("US", "IN", "America/Indiana/Indianapolis"),
    ("US", "KS", "America/Chicago"),
    ("US", "KY", "America/New_York"),
    ("US", "LA", "America/Chicago"),
    ("US", "MA", "America/New_York"),
    ("US", "MD", "America/New_York"),
    ("US", "ME", "America/New_York"),
    ("US", "MI", "America/Detroit"),
    ("US", "MN", "America/Chicago"),
    ("US", "MO", "America/Chicago"),
    ("US", "MS", "America/Chicago"),
    ("US", "MT", "America/Denver"),
    ("US", "NC", "America/New_York"),
    ("US", "ND", "America/Chicago"),
    ("US", "NE", "America/Chicago"),
    ("US", "NH", "America/New_York"),
    ("US", "NJ", "America/New_York"),
    ("US", "NM", "America/Denver"),
    ("US", "NV", "America/Los_Angeles"),
    ("US", "NY", "America/New_York"),
    ("US", "OH", "America/New_York"),
    ("US", "OK", "America/Chicago"),
    ("US", "OR", "America/Los_Angeles"),
    ("US", "PA", "America/New_York"),
    ("US", "PR", "America/Puerto_Rico"),
    ("US", "RI", "America/New_York"),
    ("US", "SC", "America/New_York"),
    ("US", "SD", "America/Chicago"),
    ("US", "TN", "America/Chicago"),
    ("US", "TX", "America/Chicago"),
    ("US", "UT", "America/Denver"),
    ("US", "VA", "America/New_York"),
    ("US", "VT", "America/New_York"),
    ("US", "WA", "America/Los_Angeles"),
    ("US", "WI", "America/Chicago"),
    ("US", "WV", "America/New_York"),
    ("US", "WY", "America/Denver"),
    ("CA", "AB", "America/Edmonton"),
    ("CA", "BC", "America/Vancouver"),
    ("CA", "MB", "America/Winnipeg"),
    ("CA", "NB", "America/Moncton"),
    ("CA", "NL", "America/St_Johns"),
    ("CA", "NS", "America/Halifax"),
    ("CA", "NT", "America/Yellowknife"),
    ("CA", "NU", "America/Iqaluit"),
    ("CA", "ON", "America/Toronto"),
    ("CA", "PE", "America/Halifax"),
    ("CA", "QC", "America/Toronto"),
    ("CA", "SK", "America/Regina"),
    ("CA", "YT", "America/Whitehorse"),
    ("AU", "ACT", "Australia/Sydney"),
    ("AU", "NSW", "Australia/Sydney"),
    ("AU", "NT", "Australia/Darwin"),
    ("AU", "QLD", "Australia/Brisbane"),
    ("AU", "SA", "Australia/Adelaide"),
    ("AU", "TAS", "Australia/Hobart"),
    ("AU", "VIC", "Australia/Melbourne"),
    ("AU", "WA", "Australia/Perth"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn s(x: &str) -> Option<String> {
        Some(x.to_owned())
    }

    #[test]
    fn company_domain_phone_and_zone() {
        let f = LeadFields {
            email: s("w.mueller@acme-logistics.de"),
            phone: s("+49 30 1234567"),
            ..LeadFields::default()
        };
        let got = derive(&f, None);
        let by = |field: &str| got.iter().find(|e| e.field == field).cloned().unwrap();
        assert_eq!(by("company").value, "Acme Logistics");
        assert_eq!(by("website").value, "https://acme-logistics.de");
        assert_eq!(by("country").value, "DE");
        assert_eq!(by("country").basis, "+49");
        assert_eq!(by("time_zone").value, "Europe/Berlin");
        let (filled, applied) = apply(&f, &got);
        assert_eq!(filled.company.as_deref(), Some("Acme Logistics"));
        assert_eq!(applied.len(), 4);
    }

    #[test]
    fn free_mail_says_nothing_and_typed_values_win() {
        let f = LeadFields {
            email: s("ana@gmail.com"),
            country: s("US"),
            state: s("CA"),
            ..LeadFields::default()
        };
        let got = derive(&f, None);
        assert!(
            got.iter()
                .all(|e| e.field != "company" && e.field != "website")
        );
        assert_eq!(
            got.iter()
                .find(|e| e.field == "time_zone")
                .map(|e| &e.value),
            Some(&Value::from("America/Los_Angeles"))
        );
        // The US without a state has no single zone.
        assert_eq!(time_zone("US", None), None);
        let typed = LeadFields {
            company: s("Typed Inc"),
            ..LeadFields::default()
        };
        let (out, applied) = apply(
            &typed,
            &[Enriched {
                field: "company".into(),
                value: "Other".into(),
                provider: "hook".into(),
                basis: "x".into(),
            }],
        );
        assert_eq!(out.company.as_deref(), Some("Typed Inc"));
        assert!(applied.is_empty());
    }

    #[test]
    fn hook_answers_are_checked_per_field() {
        let (ok, ignored) = from_hook(
            &serde_json::json!({
                "industry": "Logistics",
                "employees": "many",
                "owner_id": "x",
                "city": null,
                "annual_revenue": 1_000_000
            }),
            "enrich.example",
        );
        let fields: Vec<&str> = ok.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["annual_revenue", "industry"]);
        assert_eq!(ignored, ["employees", "owner_id"]);
        assert_eq!(from_hook(&Value::from(3), "x").1.len(), 1);
    }

    #[test]
    fn zone_table_names_real_zones() {
        for (_, z) in COUNTRY_ZONES {
            assert!(z.parse::<chrono_tz::Tz>().is_ok(), "{z}");
        }
        for (_, _, z) in STATE_ZONES {
            assert!(z.parse::<chrono_tz::Tz>().is_ok(), "{z}");
        }
    }

    proptest! {
        #[test]
        fn derive_never_panics(email in "\\PC{0,30}", phone in "\\PC{0,20}", state in "\\PC{0,10}") {
            let f = LeadFields { email: Some(email), phone: Some(phone), state: Some(state), ..LeadFields::default() };
            let _ = apply(&f, &derive(&f, Some("DE")));
        }
    }
}
