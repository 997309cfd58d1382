//! Demo data that looks like real B2B inbound traffic: skewed sources, real-looking people
//! and companies, weekday bursts, duplicates and typos, activities over months, and leads
//! spread over the whole lifecycle with their stage history.

use crate::App;
use crate::admin::NewUser;
use crate::error::{AppError, AppResult};
use chrono::{DateTime, Datelike, Duration, Utc};
use leadline_domain::account::Team;
use leadline_domain::time::{now, to_micros};
use leadline_domain::{
    Activity, Authority, DisqualifyReason, Grade, Lead, LeadFields, Principal, Role, Stage,
    Timeline, Touch,
};
use leadline_store::history::StageChange;
use leadline_store::{activities, leads, teams};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use uuid::Uuid;

/// Password of every demo user (documented in the README; only ever set by `--demo`).
pub const DEMO_PASSWORD: &str = "leadline-demo";
/// The demo admin's email.
pub const DEMO_ADMIN: &str = "admin@demo.leadline.test";

const FIRST: &[&str] = &[
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Daniel",
    "Nancy",
    "Matthew",
    "Lisa",
    "Anthony",
    "Betty",
    "Mark",
    "Sandra",
    "Priya",
    "Rahul",
    "Ananya",
    "Wei",
    "Li",
    "Yuki",
    "Hiroshi",
    "Sofia",
    "Lucas",
    "Emma",
    "Noah",
    "Léa",
    "Jonas",
    "Lena",
    "Mateo",
    "Valentina",
    "Ahmed",
    "Fatima",
    "Olga",
    "Dmitri",
    "Chiara",
    "Marco",
    "Ingrid",
    "Lars",
    "Aoife",
    "Seán",
    "Zoë",
    "Björn",
    "Małgorzata",
    "Tomasz",
    "Ana",
    "João",
];
const LAST: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Thompson",
    "White",
    "Harris",
    "Clark",
    "Lewis",
    "Walker",
    "Patel",
    "Sharma",
    "Chen",
    "Wang",
    "Tanaka",
    "Sato",
    "Müller",
    "Schmidt",
    "Schneider",
    "Dubois",
    "Moreau",
    "Rossi",
    "Bianchi",
    "Kowalski",
    "Nowak",
    "Johansson",
    "Andersen",
    "O'Brien",
    "Murphy",
    "Silva",
    "Santos",
    "Ivanov",
    "Kim",
    "Nguyen",
    "García-López",
    "van der Berg",
    "De Luca",
    "Fischer",
];
/// (company, domain, industry, employees)
const COMPANIES: &[(&str, &str, &str, i32)] = &[
    ("Northwind Traders", "northwind.example", "Retail", 420),
    ("Contoso Ltd", "contoso.example", "Software", 2300),
    ("Fabrikam Inc", "fabrikam.example", "Manufacturing", 5400),
    ("Globex Corporation", "globex.example", "Energy", 12000),
    ("Initech", "initech.example", "Software", 180),
    (
        "Umbrella Health",
        "umbrella-health.example",
        "Healthcare",
        8700,
    ),
    (
        "Stark Logistics",
        "starklogistics.example",
        "Logistics",
        950,
    ),
    (
        "Wayne Financial",
        "waynefinancial.example",
        "Financial Services",
        15000,
    ),
    (
        "Acme Robotics",
        "acmerobotics.example",
        "Manufacturing",
        260,
    ),
    (
        "Blue Yonder Airlines",
        "blueyonder.example",
        "Transportation",
        3100,
    ),
    ("Tailspin Toys", "tailspintoys.example", "Retail", 75),
    (
        "Woodgrove Bank",
        "woodgrove.example",
        "Financial Services",
        6400,
    ),
    ("Litware Analytics", "litware.example", "Software", 55),
    ("Proseware", "proseware.example", "Software", 32),
    (
        "Adventure Works Cycles",
        "adventure-works.example",
        "Manufacturing",
        640,
    ),
    (
        "Alpine Ski House",
        "alpineskihouse.example",
        "Hospitality",
        110,
    ),
    ("Coho Winery", "cohowinery.example", "Food & Beverage", 48),
    (
        "Fourth Coffee",
        "fourthcoffee.example",
        "Food & Beverage",
        390,
    ),
    (
        "Lucerne Publishing",
        "lucernepublishing.example",
        "Media",
        210,
    ),
    (
        "Margie's Travel",
        "margiestravel.example",
        "Hospitality",
        25,
    ),
    ("Relecloud", "relecloud.example", "Telecommunications", 4200),
    ("Trey Research", "treyresearch.example", "Biotech", 330),
    (
        "Wide World Importers",
        "wideworldimporters.example",
        "Logistics",
        1500,
    ),
    ("Datum Corporation", "datum.example", "Software", 720),
    ("Graphic Design Institute", "gdi.example", "Education", 140),
    (
        "Humongous Insurance",
        "humongousinsurance.example",
        "Insurance",
        9800,
    ),
    ("Nod Publishers", "nodpublishers.example", "Media", 60),
    (
        "School of Fine Art",
        "fineart-school.example",
        "Education",
        90,
    ),
    ("Southridge Video", "southridgevideo.example", "Media", 140),
    ("VanArsdel Ltd", "vanarsdel.example", "Manufacturing", 2100),
];
const TITLES: &[&str] = &[
    "CEO",
    "CTO",
    "CFO",
    "VP Sales",
    "VP Marketing",
    "Head of Operations",
    "Director of IT",
    "IT Manager",
    "Marketing Manager",
    "Sales Operations Manager",
    "Software Engineer",
    "Procurement Specialist",
    "Office Manager",
    "Business Analyst",
    "Consultant",
    "Founder",
    "Product Manager",
    "Data Scientist",
    "Customer Success Lead",
    "Intern",
];
/// (country code, state options, time zone, weight)
const COUNTRIES: &[(&str, &[&str], &str, u32)] = &[
    (
        "US",
        &["CA", "NY", "TX", "WA", "MA", "IL"],
        "America/New_York",
        40,
    ),
    ("GB", &[], "Europe/London", 12),
    ("DE", &[], "Europe/Berlin", 10),
    ("FR", &[], "Europe/Paris", 6),
    ("IN", &[], "Asia/Kolkata", 9),
    ("CA", &["ON", "BC", "QC"], "America/Toronto", 6),
    ("AU", &["NSW", "VIC"], "Australia/Sydney", 5),
    ("BR", &[], "America/Sao_Paulo", 4),
    ("JP", &[], "Asia/Tokyo", 3),
    ("NL", &[], "Europe/Amsterdam", 3),
    ("PL", &[], "Europe/Warsaw", 2),
];
/// (source, medium, campaigns, weight): a few channels bring most leads.
const SOURCES: &[(&str, &str, &[&str], u32)] = &[
    (
        "google",
        "cpc",
        &["brand-search", "competitor-search", "generic-crm"],
        30,
    ),
    (
        "linkedin",
        "paid-social",
        &["abm-enterprise", "thought-leadership"],
        18,
    ),
    ("direct", "none", &[], 12),
    ("organic", "organic", &[], 11),
    (
        "newsletter",
        "email",
        &["monthly-digest", "product-launch"],
        7,
    ),
    (
        "webinar",
        "event",
        &["webinar-lead-scoring-101", "webinar-pipeline-review"],
        6,
    ),
    ("referral", "referral", &["customer-referral"], 5),
    (
        "trade-show",
        "event",
        &["saastr-2026", "dreamforce-2026"],
        4,
    ),
    ("partner", "partner", &["reseller-program"], 3),
    ("facebook", "paid-social", &["retargeting"], 2),
    ("g2", "review-site", &[], 1),
];
const PRODUCTS: &[&str] = &["Scoring", "Routing", "Analytics", "Full suite"];
const PAGES: &[&str] = &[
    "/",
    "/pricing",
    "/product",
    "/features/scoring",
    "/blog/lead-scoring-guide",
    "/demo",
    "/customers",
    "/about",
];

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

fn weighted<'a, T>(rng: &mut StdRng, items: &'a [T], weight: impl Fn(&T) -> u32) -> &'a T {
    let total: u32 = items.iter().map(&weight).sum();
    let mut x = rng.random_range(0..total);
    for it in items {
        let w = weight(it);
        if x < w {
            return it;
        }
        x -= w;
    }
    &items[0]
}

fn typo(rng: &mut StdRng, s: &str) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    if chars.len() > 3 {
        let i = rng.random_range(1..chars.len() - 1);
        match rng.random_range(0..3) {
            0 => chars.swap(i, i - 1),
            1 => {
                chars.remove(i);
            }
            _ => chars.insert(i, chars[i]),
        }
    }
    chars.into_iter().collect()
}

fn ascii_local(s: &str) -> String {
    s.chars()
        .filter_map(|c| match c {
            'é' | 'è' => Some('e'),
            'ü' => Some('u'),
            'ö' | 'ó' => Some('o'),
            'ł' => Some('l'),
            'ä' | 'á' | 'ã' => Some('a'),
            'ë' => Some('e'),
            'ß' => Some('s'),
            c if c.is_ascii_alphanumeric() => Some(c.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

/// The users the demo creates: (email, name, role).
const DEMO_USERS: &[(&str, &str, Role)] = &[
    (DEMO_ADMIN, "Alex Admin", Role::Admin),
    (
        "maria.manager@demo.leadline.test",
        "Maria Manager",
        Role::Manager,
    ),
    (
        "mark.marketer@demo.leadline.test",
        "Mark Marketer",
        Role::Marketer,
    ),
    ("ana.rep@demo.leadline.test", "Ana Rep", Role::Rep),
    ("ben.rep@demo.leadline.test", "Ben Rep", Role::Rep),
    ("chloe.rep@demo.leadline.test", "Chloé Rep", Role::Rep),
    ("dev.rep@demo.leadline.test", "Dev Rep", Role::Rep),
];

/// What [`App::load_demo`] created.
#[derive(Debug, Clone, Default)]
pub struct DemoSummary {
    pub users: usize,
    pub leads: usize,
    pub activities: usize,
}

impl App {
    /// Defines the custom fields demo leads use, if missing.
    pub async fn ensure_demo_fields(&self) -> AppResult<()> {
        if !self
            .custom_fields()
            .await?
            .iter()
            .any(|d| d.key == "product_interest")
        {
            self.create_custom_field(
                &Principal::system("demo"),
                leadline_domain::custom_field::NewCustomField {
                    key: "product_interest".into(),
                    label: "Product interest".into(),
                    kind: leadline_domain::CustomFieldKind::Choice,
                    options: PRODUCTS.iter().map(|p| (*p).to_owned()).collect(),
                },
            )
            .await?;
        }
        Ok(())
    }

    /// Creates demo users and teams (once) and `n` leads with activities and history.
    /// Deterministic for a given `seed`.
    pub async fn load_demo(&self, n: usize, seed: u64) -> AppResult<DemoSummary> {
        let system = Principal::system("demo");
        let mut summary = DemoSummary::default();
        let mut reps = Vec::new();
        let existing = self.list_users().await?;
        for (email, name, role) in DEMO_USERS {
            let user = match existing.iter().find(|u| u.email == *email) {
                Some(u) => u.clone(),
                None => {
                    summary.users += 1;
                    self.create_user(
                        &system,
                        NewUser {
                            email: (*email).into(),
                            name: (*name).into(),
                            role: *role,
                            password: Some(DEMO_PASSWORD.into()),
                            sees_all_leads: false,
                        },
                    )
                    .await?
                }
            };
            if user.role == Role::Rep {
                reps.push(user.id);
            }
        }
        if self.list_teams().await?.is_empty() {
            let mut tx = self.db.begin().await?;
            for (name, members) in [("Americas", &reps[..2]), ("EMEA", &reps[2..])] {
                let team = Team {
                    id: Uuid::now_v7(),
                    name: name.into(),
                    members: members.to_vec(),
                    created_at: now(),
                };
                teams::insert(tx.conn(), &team).await?;
                teams::set_members(tx.conn(), team.id, members).await?;
            }
            tx.commit().await?;
        }
        self.ensure_demo_fields().await?;
        let mut generator = LeadGenerator::new(seed, reps);
        let mut batch_leads = Vec::with_capacity(1000);
        let mut batch_acts = Vec::new();
        let mut batch_stages = Vec::new();
        for i in 0..n {
            let (lead, acts, stages) = generator.next_lead();
            batch_leads.push(lead);
            batch_acts.extend(acts);
            batch_stages.extend(stages);
            if batch_leads.len() == 1000 || i + 1 == n {
                summary.leads += batch_leads.len();
                summary.activities += batch_acts.len();
                let mut tx = self.db.begin().await?;
                leads::insert_many(tx.conn(), &batch_leads).await?;
                crate::events::leads_created_in(&mut tx, &batch_leads).await?;
                activities::insert_many(tx.conn(), &batch_acts).await?;
                crate::events::stages_changed_in(&mut tx, &batch_stages).await?;
                tx.commit().await?;
                batch_leads.clear();
                batch_acts.clear();
                batch_stages.clear();
            }
        }
        // Scores and grades from the rules in force, not the generator's dice.
        self.rescore_all(&system, crate::scoring::DEFAULT_MODEL, |_| {})
            .await?;
        // A predictive model from the demo's own history, when it holds enough outcomes. The
        // generator fills BANT in only for leads sales qualified: a leak by construction, so
        // the demo marks those fields not for prediction, as an admin would.
        self.set_prediction_settings(
            &system,
            crate::scoring::PredictionSettings {
                excluded: vec!["budget".into(), "authority".into(), "timeline".into()],
            },
        )
        .await?;
        match self.train_prediction(&system, &[], |_| {}).await {
            Ok(_) | Err(AppError::Validation(_)) => {}
            Err(e) => return Err(e),
        }
        self.seed_followup(&system).await?;
        self.seed_nurture(&system).await?;
        Ok(summary)
    }

    /// Nurture for the demo: two templates and a sequence for recycled leads, with the
    /// newest nurture leads enrolled. Without an SMTP relay their first messages wait in the
    /// outbox, as they would on a fresh install.
    async fn seed_nurture(&self, system: &Principal) -> AppResult<()> {
        use leadline_domain::nurture::sequence::{Condition, SequenceInput, Step};
        use leadline_domain::nurture::template::TemplateInput;
        if !self.sequences(system).await?.is_empty() {
            return Ok(());
        }
        let template = |name: &str, subject: &str, body: &str| TemplateInput {
            name: name.into(),
            subject: subject.into(),
            html: format!(
                "<p>Hi {{{{ lead.first_name | default(\"there\") }}}},</p>\n{body}\n\
                 <p>{{{{ owner.signature }}}}</p>\n\
                 <p><small><a href=\"{{{{ unsubscribe_url }}}}\">Unsubscribe</a></small></p>"
            ),
            marketing: None,
        };
        let welcome = self
            .save_email_template(
                system,
                None,
                template(
                    "Still looking?",
                    "{{ lead.company | default(\"Your team\") }} and lead management",
                    "<p>A while ago you asked about managing leads. Here is how teams like yours \
                     answer every inquiry within the hour: \
                     <a href=\"https://www.example.com/guide\">the five-minute guide</a>.</p>",
                ),
            )
            .await?;
        let case = self
            .save_email_template(
                system,
                None,
                template(
                    "Case study",
                    "How a {{ lead.industry | default(\"growing\") }} company doubled its replies",
                    "<p>One customer's story, with numbers: \
                     <a href=\"https://www.example.com/case-study\">read it</a>.</p>",
                ),
            )
            .await?;
        let seq = self
            .save_sequence(
                system,
                None,
                SequenceInput {
                    name: "Recycled leads".into(),
                    description: Some("For leads sales handed back to marketing.".into()),
                    steps: vec![
                        Step::Email {
                            template_id: welcome.id,
                        },
                        Step::Wait {
                            days: 4,
                            hours: 0,
                            minutes: 0,
                        },
                        // Clicked: a call for the owner and back to sales; else the case study.
                        Step::Branch {
                            condition: Condition::Clicked,
                            then: 4,
                            otherwise: Some(6),
                        },
                        Step::Task {
                            kind: "call".into(),
                            title: "Engaged with nurture mail: call back".into(),
                            due_in_hours: 24,
                        },
                        Step::Stage {
                            to: leadline_domain::Stage::Mql,
                        },
                        Step::Email {
                            template_id: case.id,
                        },
                    ],
                    enroll_on_stages: vec![leadline_domain::Stage::Nurture],
                    send_days: vec![1, 2, 3, 4, 5],
                    send_from_hour: Some(0),
                    send_until_hour: Some(24),
                    daily_limit: 500,
                    domain_hourly_limit: 20,
                    ..Default::default()
                },
            )
            .await?;
        let q = self
            .parse_lead_query(&[
                ("stage".to_owned(), "nurture".to_owned()),
                ("sort".to_owned(), "-created_at".to_owned()),
                ("limit".to_owned(), "40".to_owned()),
            ])
            .await?;
        let ids: Vec<Uuid> = self
            .list_leads(system, &q)
            .await?
            .leads
            .into_iter()
            .map(|l| l.id)
            .collect();
        self.enroll_leads(system, seq.id, &ids).await?;
        self.run_sequences().await?;
        Ok(())
    }

    /// Follow-up and pipeline for the demo: first-touch clocks on the newest open leads,
    /// started when each was captured (so some are overdue and alerted), a call task on
    /// each, and the sales-qualified leads converted into deals spread over the pipeline.
    async fn seed_followup(&self, system: &Principal) -> AppResult<()> {
        let newest = |stage: &str, limit: &str| {
            [
                ("stage".to_owned(), stage.to_owned()),
                ("sort".to_owned(), "-created_at".to_owned()),
                ("limit".to_owned(), limit.to_owned()),
            ]
        };
        let q = self.parse_lead_query(&newest("new", "30")).await?;
        let open = self.list_leads(system, &q).await?.leads;
        let policy = self.sla_policy().await?;
        let mut tx = self.db.begin().await?;
        let ids: Vec<Uuid> = open.iter().map(|l| l.id).collect();
        let priorities: std::collections::HashMap<Uuid, String> =
            leadline_store::scoring::default_priorities(tx.conn(), &ids)
                .await?
                .into_iter()
                .collect();
        let clocks: Vec<_> = open
            .iter()
            .filter_map(|l| {
                let target =
                    policy.target_for(l.stage, priorities.get(&l.id).map(String::as_str))?;
                let d = policy.deadlines(l.created_at, target.minutes);
                Some(leadline_store::sla::ClockRow {
                    lead_id: l.id,
                    stage: l.stage.as_str().into(),
                    target: target.name.clone(),
                    minutes: target.minutes as i32,
                    started_at: to_micros(l.created_at),
                    warn_at: to_micros(d.warn_at),
                    due_at: to_micros(d.due_at),
                    touched_at: None,
                    warned_at: None,
                    breached_at: None,
                    reassigned: 0,
                })
            })
            .collect();
        leadline_store::sla::put_clocks(tx.conn(), &clocks).await?;
        tx.commit().await?;
        for (i, l) in open
            .iter()
            .filter(|l| l.fields.owner_id.is_some())
            .take(12)
            .enumerate()
        {
            let task = leadline_domain::sla::NewTask {
                kind: leadline_domain::sla::TaskKind::Call,
                title: Some(format!("First call ({})", l.fields.display_name())),
                due_at: now() + Duration::hours(i as i64 - 3),
                remind_at: None,
                assignee_id: None,
            };
            self.create_task(system, l.id, task).await?;
        }
        self.sweep_sla(now()).await?;

        let q = self.parse_lead_query(&newest("sql", "12")).await?;
        let open_stages = ["qualification", "discovery", "proposal", "negotiation"];
        for (i, l) in self
            .list_leads(system, &q)
            .await?
            .leads
            .into_iter()
            .enumerate()
        {
            let input = leadline_domain::pipeline::ConvertInput {
                account_id: None,
                opportunity: Some(leadline_domain::pipeline::NewOpportunity {
                    name: None,
                    amount: Some(json!(5_000 + 2_500 * (i % 7))),
                    currency: None,
                    close_date: Some((now() + Duration::days(15 * (i as i64 + 1))).date_naive()),
                    stage: Some(open_stages[i % open_stages.len()].into()),
                }),
            };
            let Some(opp) = self
                .convert_lead(system, l.id, input, None)
                .await?
                .opportunity
            else {
                continue;
            };
            let close = match i % 6 {
                4 => Some(("won", "product fit")),
                5 => Some(("lost", "competitor")),
                _ => None,
            };
            if let Some((stage, reason)) = close {
                let m = crate::pipeline::MoveOpportunity {
                    stage: stage.into(),
                    reason: Some(reason.into()),
                };
                self.move_opportunity(system, opp.id, m, None).await?;
            }
        }
        Ok(())
    }
}

/// An endless, deterministic stream of demo leads with their activities and stage history
/// (also the benchmark's data).
pub struct LeadGenerator {
    rng: StdRng,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    reps: Vec<Uuid>,
    recent: Vec<LeadFields>,
    i: usize,
}

impl LeadGenerator {
    /// Leads created over the last 180 days, owned (when owned) by one of `reps`.
    pub fn new(seed: u64, reps: Vec<Uuid>) -> LeadGenerator {
        let end = now();
        LeadGenerator {
            rng: StdRng::seed_from_u64(seed),
            start: end - Duration::days(180),
            end,
            reps,
            recent: Vec::new(),
            i: 0,
        }
    }

    /// The next lead.
    pub fn next_lead(&mut self) -> (Lead, Vec<Activity>, Vec<StageChange>) {
        let created = demo_time(&mut self.rng, self.start, self.end);
        self.i += 1;
        demo_lead(
            &mut self.rng,
            created,
            self.end,
            &self.reps,
            &mut self.recent,
            self.i,
        )
    }
}

/// A creation time: more on weekdays and office hours, with the occasional burst.
fn demo_time(rng: &mut StdRng, start: DateTime<Utc>, end: DateTime<Utc>) -> DateTime<Utc> {
    let span = (end - start).num_seconds().max(1);
    loop {
        let t = start + Duration::seconds(rng.random_range(0..span));
        let weekday = t.weekday().number_from_monday() <= 5;
        let keep = if weekday { 1.0 } else { 0.35 };
        // Bursts: the first days of each month (campaign launches) get extra traffic.
        let burst = if t.day() <= 3 { 1.0 } else { 0.7 };
        if rng.random_bool(keep * burst) {
            return leadline_domain::time::from_micros(leadline_domain::time::to_micros(t));
        }
    }
}

fn demo_lead(
    rng: &mut StdRng,
    created: DateTime<Utc>,
    end: DateTime<Utc>,
    reps: &[Uuid],
    recent: &mut Vec<LeadFields>,
    i: usize,
) -> (Lead, Vec<Activity>, Vec<StageChange>) {
    // About 4 % are the same person again, often with a typo or different casing.
    let fields = if !recent.is_empty() && rng.random_bool(0.04) {
        let mut f = pick(rng, recent).clone();
        match rng.random_range(0..3) {
            0 => f.email = f.email.map(|e| e.to_uppercase()),
            1 => f.last_name = f.last_name.map(|n| typo(rng, &n)),
            _ => f.first_name = f.first_name.map(|n| typo(rng, &n)),
        }
        f
    } else {
        let first = *pick(rng, FIRST);
        let last = *pick(rng, LAST);
        let (company, domain, industry, employees) = *pick(rng, COMPANIES);
        let free_mail = rng.random_bool(0.18);
        let email_domain = if free_mail {
            *pick(rng, &["gmail.example", "outlook.example", "yahoo.example"])
        } else {
            domain
        };
        let email = match rng.random_range(0..4) {
            0 => format!(
                "{}.{}@{email_domain}",
                ascii_local(first),
                ascii_local(last)
            ),
            1 => format!(
                "{}{}@{email_domain}",
                &ascii_local(first)[..1],
                ascii_local(last)
            ),
            2 => format!("{}@{email_domain}", ascii_local(first)),
            _ => format!(
                "{}.{}{}@{email_domain}",
                ascii_local(first),
                ascii_local(last),
                i % 97
            ),
        };
        let (country, states, tz, _) = *weighted(rng, COUNTRIES, |c| c.3);
        let (source, medium, campaigns, _) = *weighted(rng, SOURCES, |s| s.3);
        let campaign = (!campaigns.is_empty()).then(|| (*pick(rng, campaigns)).to_owned());
        let landing = format!("https://www.leadline.example{}", pick(rng, PAGES));
        let touch = Touch {
            source: Some(source.into()),
            medium: Some(medium.into()),
            campaign: campaign.clone(),
            referrer: match source {
                "google" => Some("https://www.google.com/".into()),
                "linkedin" => Some("https://www.linkedin.com/".into()),
                _ => None,
            },
            landing_page: Some(landing),
        };
        let last_touch = if rng.random_bool(0.3) {
            let (s, m, c, _) = *weighted(rng, SOURCES, |s| s.3);
            Touch {
                source: Some(s.into()),
                medium: Some(m.into()),
                campaign: c.first().map(|x| (*x).to_owned()),
                ..Default::default()
            }
        } else {
            touch.clone()
        };
        let mut custom = serde_json::Map::new();
        if rng.random_bool(0.6) {
            custom.insert("product_interest".into(), json!(pick(rng, PRODUCTS)));
        }
        LeadFields {
            first_name: (!rng.random_bool(0.03)).then(|| first.to_owned()),
            last_name: Some(last.to_owned()),
            email: (!rng.random_bool(0.02)).then_some(email),
            phone: rng.random_bool(0.55).then(|| {
                format!(
                    "+1 555 {:03} {:04}",
                    rng.random_range(100..999),
                    rng.random_range(0..9999)
                )
            }),
            title: rng
                .random_bool(0.8)
                .then(|| (*pick(rng, TITLES)).to_owned()),
            company: (!free_mail || rng.random_bool(0.5)).then(|| company.to_owned()),
            website: (!free_mail).then(|| format!("https://{domain}")),
            industry: rng.random_bool(0.7).then(|| industry.to_owned()),
            employees: rng.random_bool(0.6).then_some(employees),
            annual_revenue: rng
                .random_bool(0.3)
                .then(|| i64::from(employees) * rng.random_range(80_000..250_000) * 100),
            currency: Some("USD".into()),
            country: Some(country.into()),
            state: (!states.is_empty()).then(|| (*pick(rng, states)).to_owned()),
            time_zone: Some(tz.into()),
            description: rng
                .random_bool(0.25)
                .then(|| "Interested in a demo for our sales team.".to_owned()),
            first_touch: touch,
            last_touch,
            email_opt_out: rng.random_bool(0.03),
            custom,
            ..Default::default()
        }
    };
    if recent.len() < 500 {
        recent.push(fields.clone());
    } else {
        let k = rng.random_range(0..recent.len());
        recent[k] = fields.clone();
    }
    let id = Uuid::now_v7();
    let age_days = (end - created).num_days();
    // Older leads have had time to move; most recent ones are still new.
    let stage = if age_days < 3 {
        Stage::New
    } else {
        weighted(
            rng,
            &[
                (Stage::New, 30),
                (Stage::Mql, 14),
                (Stage::Sal, 8),
                (Stage::Sql, 6),
                (Stage::Converted, 5),
                (Stage::Nurture, 20),
                (Stage::Disqualified, 17),
            ],
            |s| s.1,
        )
        .0
    };
    let path: &[Stage] = match stage {
        Stage::New => &[Stage::New],
        Stage::Mql => &[Stage::New, Stage::Mql],
        Stage::Sal => &[Stage::New, Stage::Mql, Stage::Sal],
        Stage::Sql => &[Stage::New, Stage::Mql, Stage::Sal, Stage::Sql],
        Stage::Converted => &[
            Stage::New,
            Stage::Mql,
            Stage::Sal,
            Stage::Sql,
            Stage::Converted,
        ],
        Stage::Nurture => &[Stage::New, Stage::Mql, Stage::Nurture],
        Stage::Disqualified => &[Stage::New, Stage::Disqualified],
    };
    let mut stages = Vec::new();
    let mut t = created;
    let mut prev: Option<Stage> = None;
    for s in path {
        stages.push(StageChange {
            id: Uuid::now_v7(),
            lead_id: id,
            from_stage: prev.map(|p| p.as_str().into()),
            to_stage: s.as_str().into(),
            reason: (*s == Stage::Disqualified).then(|| "not_a_fit".into()),
            note: None,
            actor: "demo".into(),
            at: t,
        });
        prev = Some(*s);
        t = (t + Duration::hours(rng.random_range(2..24 * 7))).min(end);
    }
    let owned =
        matches!(stage, Stage::Sal | Stage::Sql | Stage::Converted) || rng.random_bool(0.35);
    let owner = (owned && !reps.is_empty()).then(|| *pick(rng, reps));
    let mut fields = fields;
    fields.owner_id = owner;
    if matches!(stage, Stage::Sql | Stage::Converted) {
        fields.budget = Some(rng.random_range(5..200) * 100_000);
        fields.authority = Some(*pick(
            rng,
            &[Authority::DecisionMaker, Authority::Influencer],
        ));
        fields.need = Some("Replace spreadsheets for lead follow-up".into());
        fields.timeline = Some(*pick(
            rng,
            &[
                Timeline::Within1Month,
                Timeline::Within3Months,
                Timeline::Within6Months,
            ],
        ));
    }
    let base = match stage {
        Stage::New => 5,
        Stage::Nurture | Stage::Disqualified => 15,
        Stage::Mql => 45,
        _ => 65,
    };
    let score = (base + rng.random_range(0..35)).min(100);
    let grade = *weighted(
        rng,
        &[
            (Grade::A, 15),
            (Grade::B, 25),
            (Grade::C, 30),
            (Grade::D, 20),
            (Grade::F, 10),
        ],
        |g| g.1,
    );
    let n_acts = rng.random_range(0..=6) + if base > 40 { 3 } else { 0 };
    let mut acts = Vec::with_capacity(n_acts);
    for _ in 0..n_acts {
        let span = (end - created).num_seconds().max(1);
        let at = created + Duration::seconds(rng.random_range(0..span));
        let (kind, props) = match rng.random_range(0..10) {
            0..=4 => (
                "page_view",
                json!({"url": format!("https://www.leadline.example{}", pick(rng, PAGES))}),
            ),
            5 | 6 => (
                "email_opened",
                json!({"subject": "Your lead-scoring checklist"}),
            ),
            7 => (
                "email_clicked",
                json!({"url": "https://www.leadline.example/demo"}),
            ),
            8 => ("form_submitted", json!({"form": "contact-sales"})),
            _ => ("webinar_attended", json!({"webinar": "Lead scoring 101"})),
        };
        acts.push(Activity {
            id: Uuid::now_v7(),
            lead_id: id,
            kind: kind.into(),
            occurred_at: leadline_domain::time::from_micros(leadline_domain::time::to_micros(at)),
            properties: props.as_object().cloned().unwrap_or_default(),
            recorded_by: Some("demo".into()),
            created_at: at,
        });
    }
    let updated = stages.last().map_or(created, |s| s.at);
    let lead = Lead {
        id,
        fields,
        stage,
        disqualify_reason: (stage == Stage::Disqualified).then_some(DisqualifyReason::NotAFit),
        score,
        grade: Some(grade.0),
        created_at: created,
        updated_at: updated,
        version: 1,
    };
    (lead, acts, stages)
}
