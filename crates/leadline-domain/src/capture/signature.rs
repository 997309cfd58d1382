//! Best-effort contact details from an email's signature: phone, mobile, job title and
//! company. A guess, never a rule: what is found fills only empty fields.

/// What a signature revealed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Signature {
    pub phone: Option<String>,
    pub mobile: Option<String>,
    pub title: Option<String>,
    pub company: Option<String>,
}

const SIGN_OFFS: &[&str] = &[
    "best regards",
    "kind regards",
    "warm regards",
    "regards",
    "best wishes",
    "best",
    "thanks",
    "thank you",
    "many thanks",
    "cheers",
    "sincerely",
    "yours sincerely",
    "yours truly",
    "mit freundlichen grüßen",
    "viele grüße",
    "beste grüße",
    "cordialement",
    "bien cordialement",
    "saludos",
    "atentamente",
    "un saludo",
    "cordiali saluti",
    "met vriendelijke groet",
];

const TITLE_WORDS: &[&str] = &[
    "manager",
    "director",
    "head",
    "vp",
    "vice president",
    "chief",
    "ceo",
    "cto",
    "cfo",
    "coo",
    "cmo",
    "founder",
    "owner",
    "engineer",
    "consultant",
    "lead",
    "specialist",
    "officer",
    "president",
    "analyst",
    "coordinator",
    "partner",
    "executive",
    "administrator",
    "developer",
    "architect",
    "buyer",
    "purchasing",
    "procurement",
    "assistant",
    "associate",
    "representative",
    "geschäftsführer",
    "leiter",
    "directeur",
    "gerente",
];

const COMPANY_SUFFIXES: &[&str] = &[
    "inc",
    "inc.",
    "ltd",
    "ltd.",
    "llc",
    "gmbh",
    "ag",
    "corp",
    "corp.",
    "corporation",
    "co.",
    "s.a.",
    "sa",
    "plc",
    "bv",
    "b.v.",
    "group",
    "limited",
    "sarl",
    "s.l.",
    "srl",
    "oy",
    "ab",
    "kg",
    "pty",
    "company",
];

fn is_sign_off(line: &str) -> bool {
    let l = line.trim().trim_end_matches([',', '!', '.']).to_lowercase();
    l == "--" || SIGN_OFFS.contains(&l.as_str())
}

/// The digits of a phone-like text, if it is one: 7–20 digits and only phone punctuation.
fn phone_in(text: &str) -> Option<String> {
    let t = text.trim();
    let digits = t.chars().filter(char::is_ascii_digit).count();
    let ok = (7..=20).contains(&digits)
        && t.chars().all(|c| {
            c.is_ascii_digit()
                || " +-().,/".contains(c)
                || c.is_ascii_alphabetic() && "ext".contains(c.to_ascii_lowercase())
        })
        && t.starts_with(|c: char| c.is_ascii_digit() || c == '+' || c == '(');
    ok.then(|| t.trim_end_matches([',', '.']).to_owned())
}

/// Splits `label: value` when the label names a kind of phone.
fn labelled_phone(line: &str) -> Option<(bool, String)> {
    let l = line.trim();
    let (label, rest) = match l.split_once([':', '|']) {
        Some((a, b)) => (a.trim().to_lowercase(), b),
        None => {
            // "M +49 …", "Tel. +49 …"
            let (a, b) = l.split_once(' ')?;
            (a.trim_end_matches('.').to_lowercase(), b)
        }
    };
    let mobile = matches!(
        label.as_str(),
        "m" | "mobile" | "mob" | "cell" | "handy" | "mobil" | "portable" | "móvil"
    );
    let phone = matches!(
        label.as_str(),
        "t" | "p"
            | "tel"
            | "phone"
            | "telephone"
            | "office"
            | "direct"
            | "telefon"
            | "téléphone"
            | "teléfono"
            | "d"
    );
    if !(mobile || phone) {
        return None;
    }
    phone_in(rest).map(|p| (mobile, p))
}

fn looks_like_title(line: &str) -> bool {
    let l = line.to_lowercase();
    TITLE_WORDS.iter().any(|w| {
        l.split(|c: char| !c.is_alphanumeric() && c != 'ä' && c != 'ü' && c != 'ö')
            .any(|tok| tok == *w)
            || (w.contains(' ') && l.contains(w))
    })
}

fn looks_like_company(line: &str) -> bool {
    let l = line.to_lowercase();
    l.split_whitespace()
        .last()
        .is_some_and(|last| COMPANY_SUFFIXES.contains(&last.trim_end_matches(',')))
}

fn is_noise(line: &str) -> bool {
    let l = line.to_lowercase();
    l.contains('@')
        || l.contains("http")
        || l.contains("www.")
        || l.chars().filter(char::is_ascii_digit).count() >= 5
}

/// Reads the signature of a plain-text body. `sender_name` helps skip the name line.
pub fn from_body(body: &str, sender_name: Option<&str>) -> Signature {
    // Only the sender's own text: stop at the quoted message they replied to.
    let own: Vec<&str> = body
        .lines()
        .take_while(|l| {
            let t = l.trim_start();
            !(t.starts_with('>')
                || t.starts_with("-----Original Message")
                || t.starts_with("From: ")
                || (t.starts_with("On ") && t.trim_end().ends_with("wrote:")))
        })
        .collect();
    let start = own.iter().rposition(|l| is_sign_off(l)).map(|i| i + 1);
    let tail: Vec<&str> = match start {
        Some(i) => own[i..].iter().copied(),
        None => own[own.len().saturating_sub(6)..].iter().copied(),
    }
    .map(str::trim)
    .filter(|l| !l.is_empty())
    .take(10)
    .collect();
    let mut sig = Signature::default();
    let name = sender_name.map(str::to_lowercase);
    for (i, line) in tail.iter().enumerate() {
        if let Some((mobile, p)) = labelled_phone(line) {
            if mobile {
                sig.mobile.get_or_insert(p);
            } else {
                sig.phone.get_or_insert(p);
            }
            continue;
        }
        if let Some(p) = phone_in(line) {
            sig.phone.get_or_insert(p);
            continue;
        }
        // Only a signature block (after a sign-off) is trusted for words.
        if start.is_none() || is_noise(line) || line.chars().count() > 80 {
            continue;
        }
        let is_name = i == 0
            || name
                .as_deref()
                .is_some_and(|n| !n.is_empty() && line.to_lowercase() == n);
        if is_name && !looks_like_title(line) {
            continue;
        }
        for sep in [" | ", " at ", " @ ", ", "] {
            if let Some((a, b)) = line.split_once(sep)
                && looks_like_title(a)
                && sig.title.is_none()
            {
                sig.title = Some(a.trim().to_owned());
                sig.company.get_or_insert_with(|| b.trim().to_owned());
                break;
            }
        }
        if sig.title.is_none() && looks_like_title(line) {
            sig.title = Some((*line).to_owned());
        } else if sig.company.is_none()
            && (looks_like_company(line) || sig.title.is_some())
            && sig.title.as_deref() != Some(*line)
        {
            sig.company = Some((*line).to_owned());
        }
    }
    sig
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_typical_signature() {
        let body = "Hi,\n\nwe are looking for a CRM for 40 reps. Can we talk next week?\n\n\
                    Best regards,\nAna Lima\nHead of Sales Operations\nAcme Logistics GmbH\n\
                    Tel: +49 30 1234567\nMobile: +49 170 7654321\nwww.acme.example\n\n\
                    On Mon, 3 Nov 2026, Bob wrote:\n> Tel: +1 555 0100 999\n";
        let s = from_body(body, Some("Ana Lima"));
        assert_eq!(s.title.as_deref(), Some("Head of Sales Operations"));
        assert_eq!(s.company.as_deref(), Some("Acme Logistics GmbH"));
        assert_eq!(s.phone.as_deref(), Some("+49 30 1234567"));
        assert_eq!(s.mobile.as_deref(), Some("+49 170 7654321"));
    }

    #[test]
    fn title_and_company_on_one_line() {
        let s = from_body(
            "Thanks!\n--\nBo Berg\nVP Marketing | Nordwind AB\n+46 8 123 456 78",
            None,
        );
        assert_eq!(s.title.as_deref(), Some("VP Marketing"));
        assert_eq!(s.company.as_deref(), Some("Nordwind AB"));
        assert_eq!(s.phone.as_deref(), Some("+46 8 123 456 78"));
    }

    #[test]
    fn no_signature_no_guesses() {
        let s = from_body("Please send me the price list for 2027.", Some("X"));
        assert_eq!(s, Signature::default());
    }

    proptest! {
        #[test]
        fn any_body_is_read_without_panicking(body in "(?s).{0,400}") {
            let _ = from_body(&body, Some("a b"));
        }
    }
}
