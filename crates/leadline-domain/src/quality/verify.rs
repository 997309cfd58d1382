//! Verification: is this a real person who can be reached? Every finding has a code and a
//! reason people can read; the status is the worst finding.

use super::normalize;
use crate::lead::LeadFields;
use serde::{Deserialize, Serialize};

/// How trustworthy a lead's details are.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum VerificationStatus {
    /// Nothing suspicious found.
    Verified,
    /// Reachable, but something deserves a look (free mail, role address…).
    Flagged,
    /// Very likely not a real inquiry (disposable address, junk, spam signals).
    Suspect,
    /// Cannot be a lead as given (no valid way to reach them).
    Invalid,
}

impl VerificationStatus {
    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            VerificationStatus::Verified => "verified",
            VerificationStatus::Flagged => "flagged",
            VerificationStatus::Suspect => "suspect",
            VerificationStatus::Invalid => "invalid",
        }
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Finding {
    /// e.g. `disposable_email`, `role_address`, `free_mail`, `junk_name`, `invalid_phone`.
    pub code: String,
    /// Which field it is about.
    pub field: String,
    pub message: String,
    pub severity: VerificationStatus,
}

/// The result of verifying a lead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Verification {
    pub status: VerificationStatus,
    pub findings: Vec<Finding>,
}

/// Signals from capture that speak against a submission.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpamSignals {
    pub honeypot: bool,
    pub rate_limited: bool,
}

/// What verification needs besides the lead.
#[derive(Debug, Clone, Default)]
pub struct VerifyContext<'a> {
    /// Region for phone numbers without a country code (ISO 3166 alpha-2).
    pub default_region: Option<&'a str>,
    /// Disposable domains added by an admin (the bundled list is always used).
    pub extra_disposable: &'a [String],
    pub spam: SpamSignals,
}

/// Local parts of addresses that reach a team or a machine, not a person.
const ROLE_LOCAL_PARTS: &[&str] = &[
    "info",
    "sales",
    "support",
    "contact",
    "admin",
    "office",
    "hello",
    "team",
    "marketing",
    "billing",
    "accounts",
    "help",
    "service",
    "enquiries",
    "inquiries",
    "jobs",
    "careers",
    "hr",
    "noreply",
    "no-reply",
    "donotreply",
    "do-not-reply",
    "postmaster",
    "webmaster",
    "abuse",
    "mail",
    "kontakt",
    "vertrieb",
    "bureau",
    "ventas",
];

/// Consumer mail providers: the domain says nothing about the company.
pub const FREE_MAIL_DOMAINS: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "yahoo.com",
    "yahoo.co.uk",
    "yahoo.fr",
    "yahoo.de",
    "ymail.com",
    "hotmail.com",
    "hotmail.co.uk",
    "hotmail.fr",
    "hotmail.de",
    "outlook.com",
    "outlook.de",
    "live.com",
    "msn.com",
    "aol.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "gmx.de",
    "gmx.net",
    "gmx.com",
    "web.de",
    "t-online.de",
    "freenet.de",
    "mail.ru",
    "yandex.ru",
    "yandex.com",
    "proton.me",
    "protonmail.com",
    "zoho.com",
    "qq.com",
    "163.com",
    "126.com",
    "naver.com",
    "orange.fr",
    "free.fr",
    "laposte.net",
    "libero.it",
    "virgilio.it",
    "rediffmail.com",
    "comcast.net",
    "verizon.net",
    "att.net",
    "btinternet.com",
    "sky.com",
    "bluewin.ch",
    "seznam.cz",
    "wp.pl",
    "o2.pl",
    "interia.pl",
    "fastmail.com",
    "tutanota.com",
    "hey.com",
];

/// True when the domain belongs to a consumer mail provider.
pub fn is_free_mail(domain: &str) -> bool {
    FREE_MAIL_DOMAINS.contains(&domain.to_lowercase().as_str())
}

/// True when the address reaches a role or a machine (`info@`, `sales@`, `noreply@`).
pub fn is_role_address(local: &str) -> bool {
    let l = local.to_lowercase();
    let base = l.split('+').next().unwrap_or(&l);
    ROLE_LOCAL_PARTS.contains(&base)
}

/// True when the domain is a throwaway mail service (bundled list plus the admin's).
pub fn is_disposable(domain: &str, extra: &[String]) -> bool {
    let d = domain.to_lowercase();
    if extra.iter().any(|x| {
        let x = x.trim().to_lowercase();
        d == x || d.ends_with(&format!(".{x}"))
    }) {
        return true;
    }
    // The bundled list is mailchecker's; its own lookup scans the list (55,000 domains) for
    // every suffix, so it is read once into a set.
    let mut suffix = d.as_str();
    loop {
        if DISPOSABLE.contains(suffix) {
            return true;
        }
        match suffix.split_once('.') {
            Some((_, rest)) if rest.contains('.') => suffix = rest,
            _ => return false,
        }
    }
}

/// mailchecker's disposable domains, as a set.
static DISPOSABLE: std::sync::LazyLock<std::collections::HashSet<&'static str>> =
    std::sync::LazyLock::new(|| mailchecker::blacklist().into_iter().collect());

const KEYBOARD_ROWS: &[&str] = &[
    "qwertyuiop",
    "asdfghjkl",
    "zxcvbnm",
    "1234567890",
    "qwertzuiop",
    "azertyuiop",
];

/// True for values people type to get past a form: `test`, `asdf`, `aaaa`, `xxx`, `n/a`,
/// keyboard runs and long consonant strings.
pub fn is_junk_text(s: &str) -> bool {
    let t = s.trim().to_lowercase();
    if t.is_empty() {
        return false;
    }
    const WORDS: &[&str] = &[
        "test",
        "testing",
        "tester",
        "asdf",
        "qwerty",
        "xxx",
        "xx",
        "x",
        "n/a",
        "na",
        "none",
        "null",
        "nobody",
        "anonymous",
        "abc",
        "aaa",
        "foo",
        "bar",
        "foobar",
        "dummy",
        "fake",
        "no name",
        "noname",
        "unknown",
        "-",
        ".",
        "?",
    ];
    if WORDS.contains(&t.as_str()) {
        return true;
    }
    let letters: Vec<char> = t.chars().filter(|c| c.is_alphanumeric()).collect();
    if letters.len() >= 3 && letters.iter().all(|c| *c == letters[0]) {
        return true;
    }
    let compact: String = letters.iter().collect();
    if compact.len() >= 4 && KEYBOARD_ROWS.iter().any(|row| row.contains(&compact)) {
        return true;
    }
    // Six consonants in a row do not occur in names of Latin script.
    let mut run = 0;
    for c in t.chars() {
        if c.is_ascii_alphabetic() && !"aeiouy".contains(c) {
            run += 1;
            if run >= 6 {
                return true;
            }
        } else {
            run = 0;
        }
    }
    false
}

/// The first word of `s` that mixes scripts (Unicode TS 39: `Раypal` with a Cyrillic `Р`),
/// the trick of look-alike names and domains. Names in one script (Arabic, Japanese
/// mixing kanji and kana, Latin with accents) are fine.
pub fn look_alike_word(s: &str) -> Option<&str> {
    use unicode_security::MixedScript;
    s.split(|c: char| c.is_whitespace() || "@.-_'+,".contains(c))
        .find(|w| !w.is_empty() && !w.is_single_script())
}

/// Verifies a lead's contact details.
pub fn verify(f: &LeadFields, ctx: &VerifyContext<'_>) -> Verification {
    let mut findings = Vec::new();
    let mut add = |code: &str, field: &str, message: String, severity: VerificationStatus| {
        findings.push(Finding {
            code: code.into(),
            field: field.into(),
            message,
            severity,
        })
    };
    let mut reachable = false;
    if let Some(e) = &f.email {
        match normalize::email(e) {
            Some(n) if email_address::EmailAddress::is_valid(&n.address) => {
                reachable = true;
                let local = n.address.rsplit_once('@').map(|(l, _)| l).unwrap_or("");
                if is_disposable(&n.domain, ctx.extra_disposable) {
                    add(
                        "disposable_email",
                        "email",
                        format!("{} is a throwaway mail service", n.domain),
                        VerificationStatus::Suspect,
                    );
                }
                if is_role_address(local) {
                    add(
                        "role_address",
                        "email",
                        format!("{local}@ reaches a team, not a person"),
                        VerificationStatus::Flagged,
                    );
                }
                if is_free_mail(&n.domain) {
                    add(
                        "free_mail",
                        "email",
                        format!("{} is a consumer mail provider", n.domain),
                        VerificationStatus::Flagged,
                    );
                }
                if !n.domain.contains('.') {
                    add(
                        "domain_without_dot",
                        "email",
                        "the domain has no top-level part".into(),
                        VerificationStatus::Invalid,
                    );
                }
            }
            _ => add(
                "invalid_email",
                "email",
                "is not a valid email address".into(),
                VerificationStatus::Invalid,
            ),
        }
    }
    for (field, value) in [("phone", &f.phone), ("mobile", &f.mobile)] {
        if let Some(p) = value {
            match normalize::phone_e164(p, ctx.default_region) {
                Ok(_) => reachable = true,
                Err(normalize::PhoneProblem::Invalid) => add(
                    "invalid_phone",
                    field,
                    "is not a number that exists in its country".into(),
                    VerificationStatus::Flagged,
                ),
                Err(normalize::PhoneProblem::Unparsable) => add(
                    "invalid_phone",
                    field,
                    "is not a phone number".into(),
                    VerificationStatus::Flagged,
                ),
            }
        }
    }
    let first = f.first_name.as_deref().unwrap_or("").trim().to_lowercase();
    let last = f.last_name.as_deref().unwrap_or("").trim().to_lowercase();
    for (field, v) in [("first_name", &first), ("last_name", &last)] {
        if is_junk_text(v) {
            add(
                "junk_name",
                field,
                format!("'{v}' does not look like a name"),
                VerificationStatus::Suspect,
            );
        } else if v.chars().any(|c| c.is_ascii_digit()) {
            add(
                "digits_in_name",
                field,
                "names rarely contain digits".into(),
                VerificationStatus::Flagged,
            );
        }
    }
    if !first.is_empty() && first == last && first.chars().count() > 1 {
        add(
            "same_first_and_last",
            "last_name",
            "first and last name are the same".into(),
            VerificationStatus::Flagged,
        );
    }
    if let Some(c) = &f.company
        && is_junk_text(c)
    {
        add(
            "junk_company",
            "company",
            format!("'{c}' does not look like a company"),
            VerificationStatus::Suspect,
        );
    }
    for (field, value) in [
        ("first_name", &f.first_name),
        ("last_name", &f.last_name),
        ("company", &f.company),
        ("email", &f.email),
    ] {
        if let Some(v) = value
            && let Some(word) = look_alike_word(v)
        {
            add(
                "mixed_scripts",
                field,
                format!(
                    "'{word}' mixes letters of different scripts that look alike (a disguised name or address)"
                ),
                VerificationStatus::Suspect,
            );
        }
    }
    if (f.email.is_some() || f.phone.is_some() || f.mobile.is_some()) && !reachable {
        add(
            "unreachable",
            "",
            "no valid email address or phone number".into(),
            VerificationStatus::Invalid,
        );
    }
    if ctx.spam.honeypot {
        add(
            "honeypot",
            "",
            "a field hidden from people was filled in".into(),
            VerificationStatus::Suspect,
        );
    }
    if ctx.spam.rate_limited {
        add(
            "rate_limited",
            "",
            "sent in a burst from one address".into(),
            VerificationStatus::Suspect,
        );
    }
    let status = findings
        .iter()
        .map(|f| f.severity)
        .max()
        .unwrap_or(VerificationStatus::Verified);
    Verification { status, findings }
}

/// What to do with a lead of a given verification status (set per source).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Take it as it is.
    Accept,
    /// Take it and put it in the review queue.
    Review,
    /// Keep it, but do not route or email it until a person approves it.
    Quarantine,
    /// Keep it only in the rejected list, with the reason.
    Reject,
}

impl Action {
    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Accept => "accept",
            Action::Review => "review",
            Action::Quarantine => "quarantine",
            Action::Reject => "reject",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Action> {
        [
            Action::Accept,
            Action::Review,
            Action::Quarantine,
            Action::Reject,
        ]
        .into_iter()
        .find(|a| a.as_str() == s)
    }
}

/// The actions for each status; one policy per source, a default for the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    pub flagged: Action,
    pub suspect: Action,
    pub invalid: Action,
}

impl Default for Policy {
    /// What most teams want: look at the odd ones, hold the likely fakes, refuse the
    /// unreachable.
    fn default() -> Self {
        Policy {
            flagged: Action::Accept,
            suspect: Action::Quarantine,
            invalid: Action::Reject,
        }
    }
}

impl Policy {
    /// The action for a status.
    pub fn action(&self, status: VerificationStatus) -> Action {
        match status {
            VerificationStatus::Verified => Action::Accept,
            VerificationStatus::Flagged => self.flagged,
            VerificationStatus::Suspect => self.suspect,
            VerificationStatus::Invalid => self.invalid,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn lead(first: &str, last: &str, email: &str) -> LeadFields {
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        LeadFields {
            first_name: opt(first),
            last_name: opt(last),
            email: opt(email),
            company: Some("Acme Logistics".into()),
            ..LeadFields::default()
        }
    }

    fn codes(v: &Verification) -> Vec<&str> {
        v.findings.iter().map(|f| f.code.as_str()).collect()
    }

    #[test]
    fn look_alike_scripts_are_suspect_and_real_names_are_not() {
        // A Cyrillic "Р" and "а" inside Latin words.
        assert_eq!(
            look_alike_word("\u{420}\u{430}ypal"),
            Some("\u{420}\u{430}ypal")
        );
        assert_eq!(
            look_alike_word("ana@\u{430}cme.example"),
            Some("\u{430}cme")
        );
        for fine in [
            "Zoë Lefèvre",
            "محمد",
            "山田 たろう",
            "Ольга",
            "O'Brien-Smith",
            "ana@acme.example",
        ] {
            assert_eq!(look_alike_word(fine), None, "{fine}");
        }
        let f = LeadFields {
            first_name: Some("\u{410}lice".into()),
            email: Some("alice@acme.example".into()),
            ..LeadFields::default()
        };
        let v = verify(&f, &VerifyContext::default());
        assert_eq!(v.status, VerificationStatus::Suspect);
        assert!(
            v.findings.iter().any(|x| x.code == "mixed_scripts"),
            "{v:?}"
        );
    }

    #[test]
    fn a_normal_business_lead_is_verified() {
        let v = verify(
            &lead("Ana", "Lima", "ana.lima@acme-logistics.de"),
            &VerifyContext::default(),
        );
        assert_eq!(v.status, VerificationStatus::Verified, "{v:?}");
    }

    #[test]
    fn findings_and_their_severity() {
        let ctx = VerifyContext::default();
        let v = verify(&lead("Ana", "Lima", "ana@mailinator.com"), &ctx);
        assert_eq!(codes(&v), ["disposable_email"]);
        assert_eq!(v.status, VerificationStatus::Suspect);
        let v = verify(&lead("Ana", "Lima", "info@acme.example"), &ctx);
        assert_eq!(codes(&v), ["role_address"]);
        let v = verify(&lead("Ana", "Lima", "ana.lima@gmail.com"), &ctx);
        assert_eq!(
            (codes(&v), v.status),
            (vec!["free_mail"], VerificationStatus::Flagged)
        );
        let v = verify(&lead("test", "test", "asdf@qwerty.example"), &ctx);
        assert!(codes(&v).contains(&"junk_name"), "{v:?}");
        assert_eq!(v.status, VerificationStatus::Suspect);
        let v = verify(&lead("Ana", "Lima", "ana@@x"), &ctx);
        assert!(codes(&v).contains(&"invalid_email") && codes(&v).contains(&"unreachable"));
        assert_eq!(v.status, VerificationStatus::Invalid);
        let extra = vec!["throwaway.example".to_owned()];
        let v = verify(
            &lead("Ana", "Lima", "ana@sub.throwaway.example"),
            &VerifyContext {
                extra_disposable: &extra,
                ..VerifyContext::default()
            },
        );
        assert_eq!(codes(&v), ["disposable_email"], "the admin's list counts");
        let v = verify(
            &lead("Ana", "Lima", "ana@acme.example"),
            &VerifyContext {
                spam: SpamSignals {
                    honeypot: true,
                    rate_limited: false,
                },
                ..VerifyContext::default()
            },
        );
        assert_eq!(v.status, VerificationStatus::Suspect);
    }

    #[test]
    fn junk_text_is_recognised_but_real_names_are_not() {
        for junk in ["test", "ASDF", "aaaa", "qwertz", "xxx", "sdfghjk", "n/a"] {
            assert!(is_junk_text(junk), "{junk}");
        }
        for name in [
            "Ng",
            "Li",
            "Lima",
            "Schmidt",
            "Nguyễn",
            "O'Brien",
            "Łukasz",
            "Strzelczyk",
        ] {
            assert!(!is_junk_text(name), "{name}");
        }
    }

    #[test]
    fn policies_map_status_to_action() {
        let p = Policy::default();
        assert_eq!(p.action(VerificationStatus::Verified), Action::Accept);
        assert_eq!(p.action(VerificationStatus::Suspect), Action::Quarantine);
        assert_eq!(p.action(VerificationStatus::Invalid), Action::Reject);
    }

    proptest! {
        #[test]
        fn any_lead_verifies_without_panicking(first in "\\PC{0,20}", last in "\\PC{0,20}", email in "\\PC{0,30}", phone in "\\PC{0,20}") {
            let mut f = lead(&first, &last, &email);
            f.phone = Some(phone);
            let v = verify(&f, &VerifyContext { default_region: Some("DE"), ..VerifyContext::default() });
            let worst = v.findings.iter().map(|x| x.severity).max().unwrap_or(VerificationStatus::Verified);
            prop_assert_eq!(v.status, worst);
        }
    }
}
