//! Duplicate matching: blocking keys (so checking one lead compares it with a handful of
//! candidates, never the table) and a scored comparison of two leads with its reasons.

use super::normalize;
use crate::lead::LeadFields;
use serde::Serialize;

/// Nicknames and their formal names, both ways (`Bill` ~ `William`).
const NICKNAMES: &[(&str, &str)] = &[
    ("bill", "william"),
    ("will", "william"),
    ("liz", "elizabeth"),
    ("beth", "elizabeth"),
    ("bob", "robert"),
    ("rob", "robert"),
    ("bobby", "robert"),
    ("jim", "james"),
    ("jimmy", "james"),
    ("mike", "michael"),
    ("dave", "david"),
    ("dan", "daniel"),
    ("danny", "daniel"),
    ("tom", "thomas"),
    ("tony", "anthony"),
    ("chris", "christopher"),
    ("kate", "katherine"),
    ("katie", "katherine"),
    ("cathy", "catherine"),
    ("sam", "samuel"),
    ("alex", "alexander"),
    ("alex", "alexandra"),
    ("ben", "benjamin"),
    ("nick", "nicholas"),
    ("matt", "matthew"),
    ("steve", "steven"),
    ("steve", "stephen"),
    ("joe", "joseph"),
    ("jen", "jennifer"),
    ("jenny", "jennifer"),
    ("peggy", "margaret"),
    ("maggie", "margaret"),
    ("meg", "margaret"),
    ("sue", "susan"),
    ("ted", "edward"),
    ("ed", "edward"),
    ("andy", "andrew"),
    ("drew", "andrew"),
    ("pat", "patricia"),
    ("pat", "patrick"),
    ("rick", "richard"),
    ("dick", "richard"),
    ("larry", "lawrence"),
    ("hans", "johannes"),
    ("sepp", "josef"),
    ("paco", "francisco"),
    ("pepe", "jose"),
];

/// A name folded for comparison: ASCII, lower case, letters only, and the German
/// transliterations folded too, so `Müller`, `Mueller` and `Muller` share one key
/// (`Müller-Lüdenscheidt` → `mullerludenscheidt`).
pub fn name_key(s: &str) -> String {
    let ascii: String = deunicode::deunicode(s)
        .to_lowercase()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    ascii
        .replace("ue", "u")
        .replace("oe", "o")
        .replace("ae", "a")
}

/// The nickname table folded like names, built once.
static FOLDED_NICKNAMES: std::sync::LazyLock<Vec<(String, String)>> =
    std::sync::LazyLock::new(|| {
        NICKNAMES
            .iter()
            .map(|(nick, formal)| (name_key(nick), name_key(formal)))
            .collect()
    });

/// The formal name for a folded first name (`bill` → `william`), folded the same way, so
/// `Joe` (folded `jo`) still finds `Joseph`.
fn formal(first: &str) -> &str {
    FOLDED_NICKNAMES
        .iter()
        .find(|(nick, _)| nick == first)
        .map_or(first, |(_, formal)| formal.as_str())
}

/// Whether two first names can be one person's: equal, one an initial of the other, a
/// nickname of the other, or nearly the same spelling.
fn first_names_agree(a: &str, b: &str) -> bool {
    if a.is_empty() || b.is_empty() {
        return true;
    }
    if a == b || formal(a) == formal(b) {
        return true;
    }
    if (a.len() == 1 && b.starts_with(a)) || (b.len() == 1 && a.starts_with(b)) {
        return true;
    }
    strsim::jaro_winkler(a, b) >= 0.9
}

/// The companies a lead can be recognised by, as comparable keys: its email's registrable
/// domain when the address is not free mail, its website's domain, and the folded company
/// name without legal suffixes.
pub fn company_keys(f: &LeadFields) -> Vec<String> {
    let mut keys = Vec::new();
    if let Some(e) = f.email.as_deref().and_then(normalize::email)
        && !super::verify::is_free_mail(&e.domain)
        && let Some(d) = normalize::registrable_domain(&e.domain)
    {
        keys.push(format!("d:{d}"));
    }
    if let Some(d) = f.website.as_deref().and_then(normalize::registrable_domain) {
        keys.push(format!("d:{d}"));
    }
    if let Some(company) = f.company.as_deref() {
        // Dots go first, so `S.A.` and `B.V.` read as the legal forms they are.
        let words: Vec<String> = deunicode::deunicode(company)
            .to_lowercase()
            .replace('.', "")
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| {
                !w.is_empty()
                    && !matches!(
                        *w,
                        "inc"
                            | "ltd"
                            | "llc"
                            | "gmbh"
                            | "ag"
                            | "corp"
                            | "co"
                            | "sa"
                            | "plc"
                            | "bv"
                            | "group"
                            | "limited"
                            | "the"
                            | "kg"
                            | "srl"
                            | "sl"
                            | "oy"
                            | "ab"
                    )
            })
            .map(str::to_owned)
            .collect();
        if !words.is_empty() {
            keys.push(format!("c:{}", words.join("")));
        }
        // A company name that spells its domain (`Acme Logistics` ~ `acme-logistics.de`).
        if let Some(first) = keys.iter().find(|k| k.starts_with("d:")).cloned() {
            let label: String = first[2..]
                .split('.')
                .next()
                .unwrap_or("")
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .collect();
            keys.push(format!("c:{label}"));
        }
    }
    if keys.iter().any(|k| k.starts_with("d:")) && !keys.iter().any(|k| k.starts_with("c:")) {
        // Without a company name, the domain's first label stands for it.
        let d = keys[0][2..].to_owned();
        let label: String = d
            .split('.')
            .next()
            .unwrap_or("")
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect();
        keys.push(format!("c:{label}"));
    }
    keys.sort();
    keys.dedup();
    keys
}

/// Where a lead's phone numbers are read: its own country, else the default region.
fn region<'a>(f: &'a LeadFields, default_region: Option<&'a str>) -> Option<&'a str> {
    f.country
        .as_deref()
        .and_then(normalize::country_code)
        .or(default_region)
}

/// What matching looks at in a lead, normalised once (phone parsing is the expensive
/// part), so a scan that compares a lead with many others does it once per lead.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    email: Option<normalize::NormalEmail>,
    /// E.164 numbers, read in the lead's own country, else the default region.
    phones: Vec<String>,
    first: String,
    last: String,
    companies: Vec<String>,
}

impl Profile {
    /// The profile of a lead's fields.
    pub fn of(f: &LeadFields, default_region: Option<&str>) -> Profile {
        let region = region(f, default_region);
        let mut phones: Vec<String> = [&f.phone, &f.mobile]
            .into_iter()
            .flatten()
            .filter_map(|p| normalize::phone_e164(p, region).ok())
            .collect();
        phones.dedup();
        Profile {
            email: f.email.as_deref().and_then(normalize::email),
            phones,
            first: f.first_name.as_deref().map(name_key).unwrap_or_default(),
            last: f.last_name.as_deref().map(name_key).unwrap_or_default(),
            companies: company_keys(f),
        }
    }

    /// The keys under which the lead is filed for duplicate checks. Two leads are only
    /// compared when they share one.
    pub fn blocking_keys(&self) -> Vec<String> {
        let mut keys = Vec::new();
        if let Some(e) = &self.email {
            keys.push(format!("e:{}", e.match_key));
        }
        for p in &self.phones {
            keys.push(format!("p:{p}"));
        }
        if !self.last.is_empty() {
            // The first three letters of the last name absorb most typos past that point.
            let prefix: String = self.last.chars().take(3).collect();
            // Both names' prefixes in sorted order: the same key when first and last name
            // were typed into each other's fields.
            let mut both: Vec<String> = [&self.first, &self.last]
                .iter()
                .filter(|n| !n.is_empty())
                .map(|n| n.chars().take(3).collect())
                .collect();
            both.sort();
            for c in &self.companies {
                keys.push(format!("n:{prefix}|{c}"));
                if both.len() == 2 {
                    keys.push(format!("s:{}|{c}", both.join("")));
                }
            }
        }
        keys.sort();
        keys.dedup();
        keys
    }

    /// Compares two profiles. Above 0.9 they are very likely one person; 0.75–0.9 is worth
    /// a look.
    pub fn compare(&self, b: &Profile) -> MatchResult {
        let a = self;
        let mut reasons = Vec::new();
        let mut confidence: f64 = 0.0;
        if let (Some(x), Some(y)) = (&a.email, &b.email)
            && x.match_key == y.match_key
        {
            reasons.push("same_email".to_owned());
            confidence = confidence.max(0.98);
        }
        let same_phone = a.phones.iter().any(|p| b.phones.contains(p));
        if same_phone {
            reasons.push("same_phone".to_owned());
            confidence = confidence.max(0.9);
        }
        let (la, lb, fa, fb) = (&a.last, &b.last, &a.first, &b.first);
        // Swapped first and last names count as the same name.
        let swapped = !la.is_empty() && !lb.is_empty() && la == fb && lb == fa;
        let last_sim = if la.is_empty() || lb.is_empty() {
            0.0
        } else {
            strsim::jaro_winkler(la, lb)
        };
        let names_match = swapped || (last_sim >= 0.92 && first_names_agree(fa, fb));
        if names_match {
            reasons.push(
                if swapped {
                    "swapped_name"
                } else {
                    "similar_name"
                }
                .to_owned(),
            );
        }
        let same_company = a.companies.iter().any(|k| b.companies.contains(k));
        if same_company {
            reasons.push("same_company".to_owned());
        }
        if names_match && same_company {
            confidence = confidence.max(0.8 + 0.15 * last_sim.max(if swapped { 1.0 } else { 0.0 }));
        } else if names_match && same_phone {
            confidence = confidence.max(0.95);
        }
        if !reasons.iter().any(|r| r == "same_email")
            && let (Some(x), Some(y)) = (&a.email, &b.email)
            && x.domain == y.domain
            && !names_match
            && confidence > 0.0
        {
            // Two different people at one company sharing a switchboard number.
            confidence = confidence.min(0.6);
        }
        MatchResult {
            confidence: (confidence * 1000.0).round() / 1000.0,
            reasons,
        }
    }
}

/// The keys under which a lead is filed for duplicate checks (see [`Profile::blocking_keys`]).
pub fn blocking_keys(f: &LeadFields, default_region: Option<&str>) -> Vec<String> {
    Profile::of(f, default_region).blocking_keys()
}

/// Why two leads look like one person.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct MatchResult {
    /// 0 to 1.
    pub confidence: f64,
    /// e.g. `same_email`, `same_phone`, `similar_name`, `same_company`.
    pub reasons: Vec<String>,
}

/// Compares two leads (see [`Profile::compare`]). Each lead's phone numbers are read in its
/// own country, else in `default_region`.
pub fn compare(a: &LeadFields, b: &LeadFields, default_region: Option<&str>) -> MatchResult {
    Profile::of(a, default_region).compare(&Profile::of(b, default_region))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn l(first: &str, last: &str, email: &str, company: &str, phone: &str) -> LeadFields {
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        LeadFields {
            first_name: opt(first),
            last_name: opt(last),
            email: opt(email),
            company: opt(company),
            phone: opt(phone),
            ..LeadFields::default()
        }
    }

    #[test]
    fn realistic_variations_match() {
        let base = l(
            "William",
            "Müller",
            "w.mueller@acme-logistics.de",
            "Acme Logistics GmbH",
            "030 1234567",
        );
        for (variant, why) in [
            (
                l(
                    "Bill",
                    "Muller",
                    "bill@acme-logistics.de",
                    "Acme Logistics",
                    "",
                ),
                "nickname, folded umlaut, same domain",
            ),
            (
                l(
                    "William",
                    "Mueller",
                    "W.Mueller+news@Acme-Logistics.de",
                    "",
                    "",
                ),
                "plus address, case",
            ),
            (
                l("Müller", "William", "", "Acme Logistics GmbH", ""),
                "swapped fields",
            ),
            (
                l("W.", "Müler", "", "ACME LOGISTICS", ""),
                "initial and a typo",
            ),
            (l("", "", "", "", "+49 30 1234567"), "the same phone"),
        ] {
            let r = compare(&base, &variant, Some("DE"));
            assert!(r.confidence >= 0.75, "{why}: {r:?}");
        }
    }

    #[test]
    fn different_people_do_not_match() {
        let a = l("Ana", "Lima", "ana@acme.example", "Acme", "");
        for (other, why) in [
            (
                l("Bruno", "Costa", "bruno@acme.example", "Acme", ""),
                "colleague",
            ),
            (
                l("Ana", "Lima", "ana.lima@gmail.com", "Other Corp", ""),
                "namesake elsewhere",
            ),
            (
                l("Anna", "Linde", "anna@beta.example", "Beta", ""),
                "similar name, other company",
            ),
        ] {
            let r = compare(&a, &other, None);
            assert!(r.confidence < 0.75, "{why}: {r:?}");
        }
    }

    #[test]
    fn variations_share_a_blocking_key() {
        let a = l(
            "William",
            "Müller",
            "w.mueller@acme-logistics.de",
            "",
            "030 1234567",
        );
        let b = l("Bill", "Mueller", "bill@acme-logistics.de", "", "");
        let ka = blocking_keys(&a, Some("DE"));
        let kb = blocking_keys(&b, Some("DE"));
        assert!(ka.iter().any(|k| kb.contains(k)), "{ka:?} {kb:?}");
        assert!(ka.contains(&"p:+49301234567".to_owned()));
        // Free mail says nothing about the company; the company name does.
        let c = l("Ana", "Lima", "ana@gmail.com", "Acme Inc.", "");
        assert!(blocking_keys(&c, None).contains(&"n:lim|c:acme".to_owned()));
    }

    proptest! {
        #[test]
        fn comparing_is_symmetric_and_bounded(a in "\\PC{0,12}", b in "\\PC{0,12}", c in "\\PC{0,12}") {
            let x = l(&a, &b, &format!("{c}@x.example"), &c, "");
            let y = l(&b, &a, &format!("{a}@x.example"), &a, "");
            let r1 = compare(&x, &y, None);
            let r2 = compare(&y, &x, None);
            prop_assert!((0.0..=1.0).contains(&r1.confidence));
            prop_assert!((r1.confidence - r2.confidence).abs() < 1e-9);
        }
    }
}
