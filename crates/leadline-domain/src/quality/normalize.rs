//! Normalisation: the clean form of what people typed, for display and for matching. The
//! original values stay on the lead; these are derived from them.

use unicode_normalization::UnicodeNormalization;

/// Name particles written in lower case inside a name (`Ludwig van Beethoven`).
const PARTICLES: &[&str] = &[
    "van", "von", "der", "den", "de", "da", "das", "dos", "do", "del", "della", "di", "du", "la",
    "le", "bin", "al", "ten", "ter", "zu", "y",
];

/// Bidirectional embeddings, overrides and isolates: a name written right to left needs
/// none of them, and they can make text display as something else (`U+202E`).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn collapse(s: &str) -> String {
    s.nfc()
        .filter(|c| !c.is_control() && !is_bidi_control(*c))
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn capitalise(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    let mut start = true;
    for c in word.chars() {
        // Letters whose other case is several letters (ß → SS) stay as typed.
        let other: Vec<char> = if start {
            c.to_uppercase().collect()
        } else {
            c.to_lowercase().collect()
        };
        match other.as_slice() {
            [one] => out.push(*one),
            _ => out.push(c),
        }
        // A new part starts after a hyphen or an apostrophe: Jean-Luc, O'Brien.
        start = c == '-' || c == '\'' || c == '’';
    }
    if let Some(rest) = out.strip_prefix("Mc")
        && rest.chars().next().is_some_and(char::is_lowercase)
    {
        let mut c = rest.chars();
        let first: String = c
            .next()
            .map(|f| f.to_uppercase().collect())
            .unwrap_or_default();
        return format!("Mc{first}{}", c.as_str());
    }
    out
}

/// A person's name: Unicode NFC, control characters removed, spaces collapsed, and — only
/// when typed all in upper or all in lower case — sensible capitals (`ANA DE LIMA` → `Ana de
/// Lima`). Names typed in mixed case are kept as written (`McDonald`, `DeShawn`). Scripts
/// without case (Arabic, Chinese…) are unchanged.
pub fn person_name(s: &str) -> String {
    let s = collapse(s);
    let letters: Vec<char> = s.chars().filter(|c| c.is_alphabetic()).collect();
    let has_case = letters.iter().any(|c| c.is_uppercase() || c.is_lowercase());
    let all_upper = letters.iter().all(|c| !c.is_lowercase());
    let all_lower = letters.iter().all(|c| !c.is_uppercase());
    if !has_case || !(all_upper || all_lower) {
        return s;
    }
    s.split(' ')
        .enumerate()
        .map(|(i, w)| {
            let lower = w.to_lowercase();
            if i > 0 && PARTICLES.contains(&lower.as_str()) {
                lower
            } else {
                capitalise(w)
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// An email address, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalEmail {
    /// The address with its domain in lower case (the local part is kept: some servers care).
    pub address: String,
    /// The domain, lower case (IDN in its Unicode form as typed, lower-cased).
    pub domain: String,
    /// What two addresses of one person share: lower case, `+tag` removed, and for Gmail the
    /// dots of the local part removed (`Ana.Lima+news@googlemail.com` → `analima@gmail.com`).
    pub match_key: String,
}

/// Normalises an email address; `None` when it has no `local@domain` shape.
pub fn email(s: &str) -> Option<NormalEmail> {
    let s = collapse(s);
    let s = s.trim_matches(|c: char| c == '<' || c == '>' || c.is_whitespace());
    let (local, domain) = s.rsplit_once('@')?;
    if local.is_empty() || domain.is_empty() || domain.contains(' ') || local.contains(' ') {
        return None;
    }
    let domain = domain.trim_end_matches('.').to_lowercase();
    let mut key_local = local.to_lowercase();
    if let Some((base, _tag)) = key_local.split_once('+')
        && !base.is_empty()
    {
        key_local = base.to_owned();
    }
    let key_domain = match domain.as_str() {
        "googlemail.com" => "gmail.com".to_owned(),
        d => d.to_owned(),
    };
    if key_domain == "gmail.com" {
        key_local.retain(|c| c != '.');
    }
    Some(NormalEmail {
        address: format!("{local}@{domain}"),
        match_key: format!("{key_local}@{key_domain}"),
        domain,
    })
}

/// Why a phone number could not be normalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhoneProblem {
    /// Not a phone number at all.
    Unparsable,
    /// A number, but not one that exists in its country's numbering plan.
    Invalid,
}

/// A phone number in E.164 (`+493012345678`), read with `default_region` (ISO 3166 alpha-2)
/// when it has no `+` country code. Extensions are dropped from the E.164 form.
pub fn phone_e164(s: &str, default_region: Option<&str>) -> Result<String, PhoneProblem> {
    let region = default_region.and_then(|r| {
        r.trim()
            .to_ascii_uppercase()
            .parse::<phonenumber::country::Id>()
            .ok()
    });
    let n = phonenumber::parse(region, s.trim()).map_err(|_| PhoneProblem::Unparsable)?;
    if !phonenumber::is_valid(&n) {
        return Err(PhoneProblem::Invalid);
    }
    Ok(n.format().mode(phonenumber::Mode::E164).to_string())
}

/// The region (ISO 3166 alpha-2) a phone number in E.164 belongs to.
pub fn phone_region(e164: &str) -> Option<String> {
    let n = phonenumber::parse(None, e164).ok()?;
    n.country().id().map(|id| id.as_ref().to_owned())
}

/// Country names people type that are not the ISO short name.
const COUNTRY_ALIASES: &[(&str, &str)] = &[
    ("usa", "US"),
    ("u.s.a.", "US"),
    ("u.s.", "US"),
    ("united states", "US"),
    ("america", "US"),
    ("uk", "GB"),
    ("u.k.", "GB"),
    ("united kingdom", "GB"),
    ("great britain", "GB"),
    ("england", "GB"),
    ("scotland", "GB"),
    ("wales", "GB"),
    ("deutschland", "DE"),
    ("germany", "DE"),
    ("österreich", "AT"),
    ("schweiz", "CH"),
    ("suisse", "CH"),
    ("españa", "ES"),
    ("espana", "ES"),
    ("italia", "IT"),
    ("nederland", "NL"),
    ("holland", "NL"),
    ("the netherlands", "NL"),
    ("netherlands", "NL"),
    ("brasil", "BR"),
    ("méxico", "MX"),
    ("russia", "RU"),
    ("south korea", "KR"),
    ("korea", "KR"),
    ("north korea", "KP"),
    ("iran", "IR"),
    ("vietnam", "VN"),
    ("viet nam", "VN"),
    ("czech republic", "CZ"),
    ("czechia", "CZ"),
    ("turkey", "TR"),
    ("türkiye", "TR"),
    ("uae", "AE"),
    ("united arab emirates", "AE"),
    ("taiwan", "TW"),
    ("bolivia", "BO"),
    ("venezuela", "VE"),
    ("tanzania", "TZ"),
    ("syria", "SY"),
    ("laos", "LA"),
    ("moldova", "MD"),
    ("ivory coast", "CI"),
    ("côte d'ivoire", "CI"),
];

/// A country as ISO 3166 alpha-2: from the code itself (`de`, `DEU`), the English short
/// name (`Germany`), or a common alias (`USA`, `UK`, `Deutschland`).
pub fn country_code(s: &str) -> Option<&'static str> {
    let t = collapse(s);
    let lower = t.to_lowercase();
    if lower.is_empty() {
        return None;
    }
    if let Some((_, code)) = COUNTRY_ALIASES.iter().find(|(a, _)| *a == lower) {
        return rust_iso3166::from_alpha2(code).map(|c| c.alpha2);
    }
    let upper = t.to_ascii_uppercase();
    if upper.len() == 2
        && let Some(c) = rust_iso3166::from_alpha2(&upper)
    {
        return Some(c.alpha2);
    }
    if upper.len() == 3
        && let Some(c) = rust_iso3166::from_alpha3(&upper)
    {
        return Some(c.alpha2);
    }
    rust_iso3166::ALL
        .iter()
        .find(|c| {
            let name = c.name.to_lowercase();
            // "Germany" for "Germany", "Bolivia, Plurinational State of" for "bolivia".
            name == lower
                || name
                    .split(',')
                    .next()
                    .is_some_and(|first| first.trim() == lower)
        })
        .map(|c| c.alpha2)
}

/// A state or province as its ISO 3166-2 subdivision code within `country` (`California`
/// or `ca` in `US` → `CA`, `Bayern` in `DE` → `BY`); `None` when not recognised.
pub fn state_code(country: &str, s: &str) -> Option<&'static str> {
    let c = rust_iso3166::from_alpha2(country)?;
    let subs = c.subdivisions()?;
    let t = collapse(s);
    let upper = t.to_ascii_uppercase();
    let folded = deunicode::deunicode(&t).to_lowercase();
    subs.iter()
        .find(|d| d.region_code == upper || d.code == upper)
        .or_else(|| {
            subs.iter()
                .find(|d| deunicode::deunicode(d.name).to_lowercase() == folded)
        })
        .map(|d| d.region_code)
}

/// The registrable domain of a website or host (`https://www.shop.acme.co.uk/x` →
/// `acme.co.uk`), by the public suffix list.
pub fn registrable_domain(s: &str) -> Option<String> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    let with_scheme = if t.contains("://") {
        t.to_owned()
    } else {
        format!("http://{t}")
    };
    let host = url::Url::parse(&with_scheme)
        .ok()?
        .host_str()?
        .to_lowercase();
    if host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[') {
        return None;
    }
    psl::domain_str(&host).map(str::to_owned)
}

/// How senior a job title is.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Seniority {
    Owner,
    CLevel,
    Vp,
    Director,
    Manager,
    Individual,
}

/// The business function of a job title.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Function {
    Executive,
    Sales,
    Marketing,
    Engineering,
    It,
    Finance,
    Hr,
    Operations,
    Purchasing,
    Support,
    Legal,
}

fn words(s: &str) -> Vec<String> {
    s.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Seniority and function of a job title where recognisable (English, with a few German,
/// French and Spanish words).
pub fn title_profile(title: &str) -> (Option<Seniority>, Option<Function>) {
    let w = words(title);
    let has = |k: &str| w.iter().any(|x| x == k);
    let phrase = |p: &str| title.to_lowercase().contains(p);
    let seniority = if has("owner")
        || has("founder")
        || has("cofounder")
        || has("inhaber")
        || phrase("co-founder")
    {
        Some(Seniority::Owner)
    } else if has("ceo")
        || has("cfo")
        || has("cto")
        || has("coo")
        || has("cmo")
        || has("cio")
        || has("cro")
        || has("chief")
        || has("president")
        || has("geschäftsführer")
        || has("gf")
        || phrase("managing director")
    {
        Some(Seniority::CLevel)
    } else if has("vp") || has("svp") || has("evp") || phrase("vice president") {
        Some(Seniority::Vp)
    } else if has("director")
        || has("head")
        || has("directeur")
        || has("directora")
        || has("director")
        || has("leiter")
        || has("leiterin")
    {
        Some(Seniority::Director)
    } else if has("manager")
        || has("lead")
        || has("supervisor")
        || has("teamleiter")
        || has("gerente")
        || has("responsable")
    {
        Some(Seniority::Manager)
    } else if has("engineer")
        || has("developer")
        || has("analyst")
        || has("specialist")
        || has("consultant")
        || has("associate")
        || has("representative")
        || has("rep")
        || has("coordinator")
        || has("assistant")
        || has("executive")
        || has("intern")
        || has("designer")
        || has("accountant")
        || has("administrator")
        || has("architect")
        || has("scientist")
    {
        Some(Seniority::Individual)
    } else {
        None
    };
    let function = if has("sales")
        || has("account")
        || has("business") && has("development")
        || has("vertrieb")
        || has("ventas")
        || has("cro")
    {
        Some(Function::Sales)
    } else if has("marketing")
        || has("brand")
        || has("growth")
        || has("demand")
        || has("cmo")
        || has("seo")
        || has("content")
    {
        Some(Function::Marketing)
    } else if has("engineer")
        || has("engineering")
        || has("developer")
        || has("software")
        || has("cto")
        || has("architect")
        || has("devops")
    {
        Some(Function::Engineering)
    } else if has("it")
        || has("cio")
        || has("infrastructure")
        || has("systems")
        || has("administrator")
        || has("security")
    {
        Some(Function::It)
    } else if has("finance")
        || has("financial")
        || has("cfo")
        || has("accountant")
        || has("accounting")
        || has("controller")
        || has("treasurer")
    {
        Some(Function::Finance)
    } else if has("hr")
        || has("people")
        || has("talent")
        || has("recruiter")
        || has("recruiting")
        || phrase("human resources")
    {
        Some(Function::Hr)
    } else if has("operations") || has("ops") || has("coo") || has("logistics") || has("supply") {
        Some(Function::Operations)
    } else if has("purchasing")
        || has("procurement")
        || has("buyer")
        || has("einkauf")
        || has("compras")
    {
        Some(Function::Purchasing)
    } else if has("support") || has("success") || has("service") {
        Some(Function::Support)
    } else if has("legal") || has("counsel") || has("compliance") || has("lawyer") {
        Some(Function::Legal)
    } else if matches!(seniority, Some(Seniority::Owner | Seniority::CLevel)) {
        Some(Function::Executive)
    } else {
        None
    };
    (seniority, function)
}

/// The normalised form of a lead's fields, as capture stores them: names with sensible
/// capitals, the email's domain in lower case, phone numbers in E.164 (read in the lead's
/// country, else `default_region`; numbers that do not parse stay as typed), the country as
/// an ISO 3166 alpha-2 code when recognised. What was typed is kept on the capture's
/// timeline entry.
pub fn lead_fields(
    mut f: crate::lead::LeadFields,
    default_region: Option<&str>,
) -> crate::lead::LeadFields {
    f.first_name = f
        .first_name
        .map(|n| person_name(&n))
        .filter(|n| !n.is_empty());
    f.last_name = f
        .last_name
        .map(|n| person_name(&n))
        .filter(|n| !n.is_empty());
    if let Some(e) = f.email.as_deref().and_then(email) {
        f.email = Some(e.address);
    }
    if let Some(code) = f.country.as_deref().and_then(country_code) {
        f.country = Some(code.to_owned());
        if let Some(st) = f.state.as_deref().and_then(|st| state_code(code, st)) {
            f.state = Some(st.to_owned());
        }
    }
    let region = f
        .country
        .as_deref()
        .filter(|c| c.len() == 2)
        .or(default_region);
    for p in [&mut f.phone, &mut f.mobile] {
        if let Some(n) = p.as_deref()
            && let Ok(e164) = phone_e164(n, region)
        {
            *p = Some(e164);
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_get_capitals_only_when_typed_in_one_case() {
        assert_eq!(person_name("  ANA   DE LIMA "), "Ana de Lima");
        assert_eq!(person_name("jean-luc o'brien"), "Jean-Luc O'Brien");
        assert_eq!(person_name("MCDONALD"), "McDonald");
        assert_eq!(person_name("DeShawn"), "DeShawn", "mixed case is kept");
        assert_eq!(person_name("ludwig VAN beethoven"), "ludwig VAN beethoven");
        assert_eq!(person_name("محمد"), "محمد", "no case, unchanged");
        assert_eq!(
            person_name("\u{202E}anA"),
            "anA",
            "a right-to-left override is dropped"
        );
        assert_eq!(
            person_name("שרה כהן"),
            "שרה כהן",
            "right-to-left names stay"
        );
        // A decomposed é (e + combining acute) becomes the composed one.
        assert_eq!(person_name("JOSE\u{301}"), "Jos\u{e9}");
    }

    #[test]
    fn states_become_iso_subdivision_codes() {
        assert_eq!(state_code("US", "California"), Some("CA"));
        assert_eq!(state_code("US", " ca "), Some("CA"));
        assert_eq!(state_code("DE", "Bayern"), Some("BY"));
        assert_eq!(state_code("US", "Atlantis"), None);
        assert_eq!(state_code("XX", "CA"), None);
    }

    #[test]
    fn emails_match_across_case_tags_and_gmail_dots() {
        let a = email(" Ana.Lima+news@GoogleMail.com ").unwrap();
        assert_eq!(a.address, "Ana.Lima+news@googlemail.com");
        assert_eq!(a.match_key, "analima@gmail.com");
        let b = email("ana.lima@ACME.example").unwrap();
        assert_eq!(
            b.match_key, "ana.lima@acme.example",
            "dots matter outside Gmail"
        );
        assert_eq!(email("not an email"), None);
        assert_eq!(email("@x.example"), None);
    }

    #[test]
    fn phones_become_e164() {
        assert_eq!(
            phone_e164("030 1234567", Some("de")).unwrap(),
            "+49301234567"
        );
        assert_eq!(
            phone_e164("+1 (415) 555-2671", None).unwrap(),
            "+14155552671"
        );
        assert_eq!(
            phone_e164("hello", Some("DE")),
            Err(PhoneProblem::Unparsable)
        );
        assert!(
            phone_e164("+1 200 555 0100", None).is_err(),
            "area code 200 does not exist"
        );
        assert_eq!(phone_region("+49301234567").as_deref(), Some("DE"));
    }

    #[test]
    fn countries_and_domains() {
        for (input, code) in [
            ("Germany", "DE"),
            ("deu", "DE"),
            ("de", "DE"),
            ("USA", "US"),
            ("U.K.", "GB"),
            ("Bolivia", "BO"),
            ("  india ", "IN"),
        ] {
            assert_eq!(country_code(input), Some(code), "{input}");
        }
        assert_eq!(country_code("Atlantis"), None);
        assert_eq!(
            registrable_domain("https://www.shop.acme.co.uk/pricing").as_deref(),
            Some("acme.co.uk")
        );
        assert_eq!(registrable_domain("acme.com").as_deref(), Some("acme.com"));
        assert_eq!(registrable_domain("http://127.0.0.1/"), None);
    }

    #[test]
    fn lead_fields_are_normalised() {
        let f = lead_fields(
            crate::lead::LeadFields {
                first_name: Some("ANA".into()),
                last_name: Some("de lima".into()),
                email: Some("Ana@ACME.Example".into()),
                phone: Some("030 1234567".into()),
                mobile: Some("call me maybe".into()),
                country: Some("Germany".into()),
                ..Default::default()
            },
            None,
        );
        assert_eq!(f.first_name.as_deref(), Some("Ana"));
        assert_eq!(f.last_name.as_deref(), Some("De Lima"));
        assert_eq!(f.email.as_deref(), Some("Ana@acme.example"));
        assert_eq!(
            f.phone.as_deref(),
            Some("+49301234567"),
            "read in the lead's country"
        );
        assert_eq!(
            f.mobile.as_deref(),
            Some("call me maybe"),
            "kept when not a number"
        );
        assert_eq!(f.country.as_deref(), Some("DE"));
    }

    #[test]
    fn titles_have_a_seniority_and_function() {
        assert_eq!(
            title_profile("VP of Sales"),
            (Some(Seniority::Vp), Some(Function::Sales))
        );
        assert_eq!(
            title_profile("Head of Marketing Operations"),
            (Some(Seniority::Director), Some(Function::Marketing))
        );
        assert_eq!(
            title_profile("Chief Financial Officer"),
            (Some(Seniority::CLevel), Some(Function::Finance))
        );
        assert_eq!(
            title_profile("CEO & Co-Founder"),
            (Some(Seniority::Owner), Some(Function::Executive))
        );
        assert_eq!(
            title_profile("Senior Software Engineer"),
            (Some(Seniority::Individual), Some(Function::Engineering))
        );
        assert_eq!(
            title_profile("Leiterin Einkauf"),
            (Some(Seniority::Director), Some(Function::Purchasing))
        );
        assert_eq!(title_profile("Astronaut"), (None, None));
    }

    proptest! {
        #[test]
        fn name_normalising_is_stable(s in "[A-Za-zÀ-ÿ' -]{0,30}") {
            let once = person_name(&s);
            prop_assert_eq!(person_name(&once), once.clone());
        }

        #[test]
        fn normalising_never_panics(s in "\\PC{0,40}") {
            let _ = person_name(&s);
            let _ = email(&s);
            let _ = phone_e164(&s, Some("US"));
            let _ = country_code(&s);
            let _ = registrable_domain(&s);
            let _ = title_profile(&s);
        }
    }
}
