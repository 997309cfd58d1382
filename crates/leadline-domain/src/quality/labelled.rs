//! A labelled set of lead pairs for measuring duplicate matching: each pair is either one
//! person written two ways (typos, nicknames, swapped fields, plus-addresses, formatting,
//! transliteration) or two different people who look alike (colleagues, namesakes, similar
//! names elsewhere). Generated from a seed, so a run is repeatable; used by the matching
//! tests and by `leadline bench`.

use super::matching::{blocking_keys, compare};
use crate::lead::LeadFields;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use std::collections::BTreeMap;

const FIRST: &[&str] = &[
    "William",
    "Elizabeth",
    "Robert",
    "James",
    "Michael",
    "David",
    "Thomas",
    "Katherine",
    "Margaret",
    "Jennifer",
    "Andrew",
    "Richard",
    "Daniel",
    "Christopher",
    "Alexander",
    "Nicholas",
    "Matthew",
    "Joseph",
    "Susan",
    "Patricia",
    "Ana",
    "João",
    "Sofía",
    "Lucía",
    "Mateo",
    "Jürgen",
    "Björn",
    "Søren",
    "Zoë",
    "Chloé",
    "François",
    "Aoife",
    "Siobhán",
    "Priya",
    "Arjun",
    "Wei",
    "Mei",
    "Hiroshi",
    "Yuki",
    "Olumide",
    "Chiamaka",
    "Fatima",
    "Omar",
    "Leila",
    "Dmitri",
    "Olga",
    "Agnieszka",
    "Tomasz",
    "Kwame",
    "Ngozi",
];

const LAST: &[&str] = &[
    "Müller",
    "Schmidt",
    "O'Brien",
    "García",
    "Fernández",
    "Silva",
    "Santos",
    "Nguyen",
    "Kowalski",
    "Nowak",
    "Rossi",
    "Bianchi",
    "Dubois",
    "Lefèvre",
    "Johansson",
    "Andersen",
    "Papadopoulos",
    "Yılmaz",
    "Kumar",
    "Sharma",
    "Tanaka",
    "Suzuki",
    "Okafor",
    "Mensah",
    "Haddad",
    "Cohen",
    "Ivanova",
    "Novak",
    "Horváth",
    "van der Berg",
    "De Luca",
    "MacLeod",
    "Walker",
    "Thompson",
    "Robinson",
    "Clarke",
    "Hughes",
    "Edwards",
    "Bennett",
    "Whitfield",
    "Castellanos",
    "Villanueva",
    "Abernathy",
    "Kristiansen",
    "Ferreira",
    "Lindqvist",
    "Okonkwo",
    "Takahashi",
    "Rasmussen",
    "Delacroix",
];

const COMPANY: &[&str] = &[
    "Acme Logistics",
    "Northwind Traders",
    "Globex",
    "Initech",
    "Umbrella Health",
    "Stark Industries",
    "Wayne Enterprises",
    "Hooli",
    "Vandelay Imports",
    "Soylent Foods",
    "Cyberdyne Systems",
    "Tyrell Robotics",
    "Wonka Confections",
    "Oceanic Freight",
    "Blue Harbor Bank",
    "Pinecrest Realty",
    "Silverline Telecom",
    "Redwood Analytics",
    "Brightpath Learning",
    "Evergreen Energy",
    "Copperleaf Software",
    "Maple Street Media",
    "Ironclad Security",
    "Sunrise Dental",
    "Atlas Engineering",
];

const SUFFIX: &[&str] = &["GmbH", "Inc.", "Ltd", "LLC", "S.A.", "AG", "BV", ""];

const NICK: &[(&str, &str)] = &[
    ("William", "Bill"),
    ("Elizabeth", "Liz"),
    ("Robert", "Bob"),
    ("James", "Jim"),
    ("Michael", "Mike"),
    ("David", "Dave"),
    ("Thomas", "Tom"),
    ("Katherine", "Kate"),
    ("Margaret", "Maggie"),
    ("Jennifer", "Jen"),
    ("Andrew", "Andy"),
    ("Richard", "Rick"),
    ("Daniel", "Dan"),
    ("Christopher", "Chris"),
    ("Alexander", "Alex"),
    ("Nicholas", "Nick"),
    ("Matthew", "Matt"),
    ("Joseph", "Joe"),
    ("Susan", "Sue"),
    ("Patricia", "Pat"),
];

/// One labelled pair.
#[derive(Debug, Clone)]
pub struct LabelledPair {
    pub a: LeadFields,
    pub b: LeadFields,
    /// One person?
    pub same: bool,
    /// How `b` was made from `a`, e.g. `typo`, `nickname`, `colleague`.
    pub kind: &'static str,
}

fn slug(s: &str) -> String {
    deunicode::deunicode(s)
        .to_lowercase()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect()
}

fn domain_of(company: &str) -> String {
    format!("{}.example", slug(company))
}

fn person(rng: &mut StdRng) -> LeadFields {
    let first = FIRST[rng.random_range(0..FIRST.len())];
    let last = LAST[rng.random_range(0..LAST.len())];
    let company = COMPANY[rng.random_range(0..COMPANY.len())];
    let suffix = SUFFIX[rng.random_range(0..SUFFIX.len())];
    let phone = format!(
        "+49 30 {:03} {:04}",
        rng.random_range(100..999),
        rng.random_range(0..9999)
    );
    let local = match rng.random_range(0..3) {
        0 => format!("{}.{}", slug(first), slug(last)),
        1 => format!("{}{}", &slug(first)[..1], slug(last)),
        _ => slug(first),
    };
    LeadFields {
        first_name: Some(first.to_owned()),
        last_name: Some(last.to_owned()),
        email: Some(format!("{local}@{}", domain_of(company))),
        company: Some(format!("{company} {suffix}").trim().to_owned()),
        phone: rng.random_bool(0.6).then_some(phone),
        ..LeadFields::default()
    }
}

/// One character changed, dropped, doubled or two swapped, past the first three letters.
fn typo(s: &str, rng: &mut StdRng) -> String {
    let mut c: Vec<char> = s.chars().collect();
    if c.len() < 5 {
        c.push(c[c.len() - 1]);
        return c.into_iter().collect();
    }
    let i = rng.random_range(3..c.len() - 1);
    match rng.random_range(0..4) {
        0 => {
            c.remove(i);
        }
        1 => c.swap(i, i + 1),
        2 => c.insert(i, c[i]),
        _ => c[i] = if c[i] == 'e' { 'a' } else { 'e' },
    }
    c.into_iter().collect()
}

fn variant(base: &LeadFields, kind: &'static str, rng: &mut StdRng) -> Option<LeadFields> {
    let mut b = base.clone();
    let first = base.first_name.clone().unwrap_or_default();
    let last = base.last_name.clone().unwrap_or_default();
    let email = base.email.clone().unwrap_or_default();
    let (local, domain) = email.split_once('@')?;
    match kind {
        // The same person on another form: new address at the company, name mistyped.
        "typo" => {
            b.last_name = Some(typo(&last, rng));
            b.email = Some(format!("{}@{domain}", slug(&first)));
            b.phone = None;
        }
        "nickname" => {
            let nick = NICK.iter().find(|(f, _)| *f == first)?.1;
            b.first_name = Some(nick.to_owned());
            b.email = Some(format!("{}@{domain}", slug(nick)));
        }
        "swapped" => {
            b.first_name = Some(last);
            b.last_name = Some(first);
            b.email = None;
        }
        "plus_address" => {
            b.email = Some(format!("{}+{}@{}", local.to_uppercase(), "webinar", domain));
            b.first_name = None;
            b.company = None;
        }
        "formatting" => {
            b.first_name = Some(first.to_uppercase());
            b.last_name = Some(last.to_lowercase());
            b.email = None;
            b.phone = base
                .phone
                .as_ref()
                .map(|p| p.replace("+49 ", "0").replace(' ', "-"));
            b.company = base.company.as_ref().map(|c| c.to_uppercase());
            b.phone.as_ref()?;
        }
        "transliterated" => {
            let folded = deunicode::deunicode(&last);
            if folded == last {
                return None;
            }
            b.last_name = Some(folded);
            b.first_name = Some(deunicode::deunicode(&first));
            b.email = Some(format!("{}.{}@{domain}", slug(&first), slug(&last)));
            b.phone = None;
        }
        // A private address on one form, the work address and phone on the other.
        "free_mail_phone" => {
            base.phone.as_ref()?;
            b.email = Some(format!(
                "{}{}@gmail.com",
                slug(&first),
                rng.random_range(1..99)
            ));
            b.company = None;
            b.phone = base.phone.as_ref().map(|p| p.replace(' ', ""));
        }
        "typo_nickname" => {
            let nick = NICK.iter().find(|(f, _)| *f == first)?.1;
            b.first_name = Some(nick.to_owned());
            b.last_name = Some(typo(&last, rng));
            b.email = None;
            b.phone = None;
        }
        "initial" => {
            b.first_name = Some(format!("{}.", first.chars().next()?));
            b.email = None;
            b.phone = None;
        }
        _ => return None,
    }
    Some(b)
}

fn look_alike(base: &LeadFields, kind: &'static str, rng: &mut StdRng) -> Option<LeadFields> {
    let mut b = person(rng);
    let company = base.company.clone()?;
    let bare: String = company
        .trim_end_matches(|c: char| c != ' ')
        .trim()
        .to_owned();
    match kind {
        // Another person at the same company.
        "colleague" => {
            if b.first_name == base.first_name || b.last_name == base.last_name {
                return None;
            }
            b.company = Some(company);
            let d = base.email.as_deref()?.split_once('@')?.1.to_owned();
            b.email = Some(format!("{}@{d}", slug(b.first_name.as_deref()?)));
            // The company switchboard.
            b.phone = base.phone.clone();
        }
        // The same name at another company.
        "namesake" => {
            let base_keys = super::matching::company_keys(base);
            if super::matching::company_keys(&b)
                .iter()
                .any(|k| base_keys.contains(k))
            {
                return None;
            }
            b.first_name = base.first_name.clone();
            b.last_name = base.last_name.clone();
            b.phone = None;
            let d = b.email.as_deref()?.split_once('@')?.1.to_owned();
            b.email = Some(format!("{}@{d}", slug(base.first_name.as_deref()?)));
        }
        // The same name on free mail, nothing else known: not enough to call it one person.
        "namesake_free_mail" => {
            b.first_name = base.first_name.clone();
            b.last_name = base.last_name.clone();
            b.company = None;
            b.phone = None;
            b.email = Some(format!(
                "{}{}@gmail.com",
                slug(base.last_name.as_deref()?),
                rng.random_range(100..999)
            ));
        }
        // A family member sharing the surname at the same company.
        "relative" => {
            if b.first_name == base.first_name
                || NICK.iter().any(|(f, n)| {
                    (Some(*f) == base.first_name.as_deref() && Some(*n) == b.first_name.as_deref())
                        || (Some(*n) == base.first_name.as_deref()
                            && Some(*f) == b.first_name.as_deref())
                })
            {
                return None;
            }
            b.last_name = base.last_name.clone();
            b.company = Some(if bare.is_empty() { company } else { bare });
            b.email = None;
            b.phone = None;
        }
        _ => return None,
    }
    Some(b)
}

/// Variation kinds of one person.
pub const SAME_KINDS: [&str; 9] = [
    "typo",
    "typo_nickname",
    "free_mail_phone",
    "nickname",
    "swapped",
    "plus_address",
    "formatting",
    "transliterated",
    "initial",
];

/// Kinds of different people who look alike.
pub const OTHER_KINDS: [&str; 4] = ["colleague", "namesake", "namesake_free_mail", "relative"];

/// `n` labelled pairs from `seed`: about two thirds one person, one third look-alikes.
pub fn pairs(n: usize, seed: u64) -> Vec<LabelledPair> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(n);
    let mut guard = 0;
    while out.len() < n && guard < n * 20 {
        guard += 1;
        let a = person(&mut rng);
        let same = rng.random_bool(0.66);
        let (kind, b) = if same {
            let k = SAME_KINDS[rng.random_range(0..SAME_KINDS.len())];
            (k, variant(&a, k, &mut rng))
        } else {
            let k = OTHER_KINDS[rng.random_range(0..OTHER_KINDS.len())];
            (k, look_alike(&a, k, &mut rng))
        };
        if let Some(b) = b {
            out.push(LabelledPair { a, b, same, kind });
        }
    }
    out
}

/// How matching did on a labelled set.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Evaluation {
    pub pairs: usize,
    pub true_positives: usize,
    pub false_positives: usize,
    pub false_negatives: usize,
    /// Same-person pairs that share no blocking key (a scan never compares them).
    pub missed_by_blocking: usize,
    /// Per kind: (pairs, judged the same person).
    pub by_kind: BTreeMap<&'static str, (usize, usize)>,
}

impl Evaluation {
    /// Of the pairs called duplicates, the share that are.
    pub fn precision(&self) -> f64 {
        let called = self.true_positives + self.false_positives;
        if called == 0 {
            1.0
        } else {
            self.true_positives as f64 / called as f64
        }
    }

    /// Of the real duplicates, the share found.
    pub fn recall(&self) -> f64 {
        let real = self.true_positives + self.false_negatives;
        if real == 0 {
            1.0
        } else {
            self.true_positives as f64 / real as f64
        }
    }
}

/// Runs matching as a scan does (only pairs sharing a blocking key are compared) and
/// counts what it got right at `threshold`.
pub fn evaluate(set: &[LabelledPair], threshold: f64, region: Option<&str>) -> Evaluation {
    let mut e = Evaluation {
        pairs: set.len(),
        ..Evaluation::default()
    };
    for p in set {
        let ka = blocking_keys(&p.a, region);
        let kb = blocking_keys(&p.b, region);
        let blocked = ka.iter().any(|k| kb.contains(k));
        let called = blocked && compare(&p.a, &p.b, region).confidence >= threshold;
        if p.same && !blocked {
            e.missed_by_blocking += 1;
        }
        match (p.same, called) {
            (true, true) => e.true_positives += 1,
            (false, true) => e.false_positives += 1,
            (true, false) => e.false_negatives += 1,
            (false, false) => {}
        }
        let entry = e.by_kind.entry(p.kind).or_default();
        entry.0 += 1;
        if called {
            entry.1 += 1;
        }
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The figures quoted in the docs: precision and recall of matching at 0.75 on 3,000
    /// labelled pairs. A change to matching that makes either worse fails here.
    #[test]
    fn matching_precision_and_recall_on_the_labelled_set() {
        let set = pairs(3_000, 7);
        assert!(set.len() >= 2_900, "generator made {} pairs", set.len());
        for kind in SAME_KINDS.iter().chain(OTHER_KINDS.iter()) {
            assert!(set.iter().any(|p| p.kind == *kind), "no {kind} pair");
        }
        let e = evaluate(&set, 0.75, Some("DE"));
        eprintln!(
            "precision {:.3} recall {:.3} blocking misses {} by kind {:?}",
            e.precision(),
            e.recall(),
            e.missed_by_blocking,
            e.by_kind
        );
        // Measured 1.000 and 0.991; before swapped names got their own blocking key and
        // nicknames were folded like names, recall was 0.907.
        assert!(e.precision() >= 0.98, "{e:?}");
        assert!(e.recall() >= 0.97, "{e:?}");
    }

    #[test]
    fn the_set_is_repeatable() {
        let a = pairs(50, 1);
        let b = pairs(50, 1);
        assert_eq!(
            a.iter().map(|p| (&p.a, &p.b, p.same)).collect::<Vec<_>>(),
            b.iter().map(|p| (&p.a, &p.b, p.same)).collect::<Vec<_>>()
        );
    }
}
