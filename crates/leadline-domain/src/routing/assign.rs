//! Picking the rep within a team, with the reasons written down: who was passed over and
//! why, and by which method the rep was chosen.

use super::availability::Unavailable;
use super::rules::Method;
use uuid::Uuid;

/// A member of the team as routing sees them at this moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub user_id: Uuid,
    pub name: String,
    /// Leads this team has routed to them so far (the round robin's turn).
    pub assigned: i64,
    /// Weighted round robin share (≥ 1).
    pub weight: u32,
    /// Open leads they hold now, and the most they may hold.
    pub open_leads: i64,
    pub capacity: Option<u32>,
    /// Converted ÷ decided leads over the method's window (best conversion).
    pub conversion: Option<f64>,
    /// Deactivated users are never chosen.
    pub active: bool,
    /// Away now, if so.
    pub away: Option<Unavailable>,
    /// Outside working hours now, if so.
    pub off_hours: Option<Unavailable>,
}

/// The outcome of a pick.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    /// The rep, or none when nobody could take the lead.
    pub user_id: Option<Uuid>,
    /// Why, in words: "round robin in team EMEA; Ana skipped: out of office".
    pub why: String,
}

/// Picks the rep in `team` by `method`. Reps who are inactive, away or at capacity are
/// skipped; reps outside their working hours too, unless nobody in the team is working
/// now (then the lead still goes to someone not away, rather than waiting for morning in
/// the fallback queue). Ties go to the rep listed first.
pub fn choose(method: &Method, team: &str, candidates: &[Candidate]) -> Choice {
    let mut skipped = Vec::new();
    let mut able = Vec::new();
    for c in candidates {
        let reason = if !c.active {
            Some("inactive".to_owned())
        } else if let Some(a) = &c.away {
            Some(a.to_string())
        } else {
            c.capacity
                .filter(|cap| c.open_leads >= i64::from(*cap))
                .map(|cap| format!("at capacity ({} of {cap} open leads)", c.open_leads))
        };
        match reason {
            Some(r) => skipped.push(format!("{} skipped: {r}", c.name)),
            None => able.push(c),
        }
    }
    let working: Vec<&Candidate> = able
        .iter()
        .copied()
        .filter(|c| c.off_hours.is_none())
        .collect();
    let mut note = None;
    let pool = if working.is_empty() {
        if !able.is_empty() {
            note = Some("nobody is within working hours".to_owned());
        }
        able
    } else {
        for c in able.iter().filter(|c| c.off_hours.is_some()) {
            skipped.push(format!("{} skipped: outside working hours", c.name));
        }
        working
    };
    // The best by the method's key; ties by the order given (the first wins).
    let key = |c: &Candidate| -> (f64, i64) {
        match method {
            Method::RoundRobin => (c.assigned as f64, 0),
            // Whose share would stay lowest after one more.
            Method::Weighted => ((c.assigned + 1) as f64 / f64::from(c.weight.max(1)), 0),
            Method::LoadBalanced => {
                let load = match c.capacity {
                    Some(cap) => c.open_leads as f64 / f64::from(cap.max(1)),
                    None => c.open_leads as f64,
                };
                (load, c.assigned)
            }
            Method::BestConversion { .. } => (-c.conversion.unwrap_or(0.0), c.assigned),
        }
    };
    let chosen = pool
        .iter()
        .copied()
        .fold(None::<&Candidate>, |best, c| match best {
            Some(b) if key(b) <= key(c) => Some(b),
            _ => Some(c),
        });
    let mut why = format!("{} in team {team}", method.label());
    if let Some(c) = chosen {
        match method {
            Method::BestConversion { window_days } => why.push_str(&format!(
                ": {} converts {:.0} % over {window_days} days",
                c.name,
                c.conversion.unwrap_or(0.0) * 100.0
            )),
            Method::LoadBalanced => {
                why.push_str(&format!(": {} holds {} open leads", c.name, c.open_leads))
            }
            _ => {}
        }
    } else {
        why.push_str(": nobody available");
    }
    for s in note.into_iter().chain(skipped) {
        why.push_str("; ");
        why.push_str(&s);
    }
    Choice {
        user_id: chosen.map(|c| c.user_id),
        why,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rep(name: &str, assigned: i64) -> Candidate {
        Candidate {
            user_id: Uuid::now_v7(),
            name: name.into(),
            assigned,
            weight: 1,
            open_leads: 0,
            capacity: None,
            conversion: None,
            active: true,
            away: None,
            off_hours: None,
        }
    }

    #[test]
    fn round_robin_takes_turns_and_explains_skips() {
        let mut team = vec![rep("Ana", 3), rep("Ben", 2), rep("Cy", 2)];
        team[1].away = Some(Unavailable::Away(None));
        let c = choose(&Method::RoundRobin, "EMEA", &team);
        assert_eq!(c.user_id, Some(team[2].user_id));
        assert_eq!(
            c.why,
            "round robin in team EMEA; Ben skipped: out of office"
        );
    }

    #[test]
    fn off_hours_only_matter_while_someone_works() {
        let mut team = vec![rep("Ana", 5), rep("Ben", 0)];
        team[1].off_hours = Some(Unavailable::OffHours);
        let c = choose(&Method::RoundRobin, "T", &team);
        assert_eq!(c.user_id, Some(team[0].user_id));
        assert!(
            c.why.ends_with("Ben skipped: outside working hours"),
            "{}",
            c.why
        );
        team[0].off_hours = Some(Unavailable::OffHours);
        let c = choose(&Method::RoundRobin, "T", &team);
        assert_eq!(c.user_id, Some(team[1].user_id));
        assert!(
            c.why.contains("nobody is within working hours"),
            "{}",
            c.why
        );
    }

    #[test]
    fn nobody_available_is_said() {
        let mut team = vec![rep("Ana", 0)];
        team[0].capacity = Some(2);
        team[0].open_leads = 2;
        let c = choose(&Method::LoadBalanced, "T", &team);
        assert_eq!(c.user_id, None);
        assert_eq!(
            c.why,
            "load balanced in team T: nobody available; Ana skipped: at capacity (2 of 2 open leads)"
        );
        assert_eq!(choose(&Method::RoundRobin, "T", &[]).user_id, None);
    }

    #[test]
    fn load_balancing_and_best_conversion() {
        let mut team = vec![rep("Ana", 0), rep("Ben", 9)];
        team[0].open_leads = 8;
        team[0].capacity = Some(10);
        team[1].open_leads = 12;
        team[1].capacity = Some(40);
        assert_eq!(
            choose(&Method::LoadBalanced, "T", &team).user_id,
            Some(team[1].user_id)
        );
        team[0].conversion = Some(0.31);
        team[1].conversion = Some(0.12);
        let c = choose(&Method::BestConversion { window_days: 90 }, "T", &team);
        assert_eq!(c.user_id, Some(team[0].user_id));
        assert_eq!(
            c.why,
            "best conversion rate in team T: Ana converts 31 % over 90 days"
        );
    }

    /// Routes `n` leads one by one through `choose`, as the store does (the chosen rep's
    /// count goes up), and returns the counts.
    fn simulate(method: Method, weights: &[u32], n: usize) -> Vec<i64> {
        let mut team: Vec<Candidate> = weights
            .iter()
            .enumerate()
            .map(|(i, w)| Candidate {
                weight: *w,
                ..rep(&format!("r{i}"), 0)
            })
            .collect();
        for _ in 0..n {
            let id = choose(&method, "T", &team).user_id.unwrap();
            team.iter_mut().find(|c| c.user_id == id).unwrap().assigned += 1;
        }
        team.iter().map(|c| c.assigned).collect()
    }

    proptest! {
        #[test]
        fn round_robin_is_fair_to_within_one(reps in 1usize..12, n in 0usize..500) {
            let counts = simulate(Method::RoundRobin, &vec![1; reps], n);
            let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
            prop_assert!(max - min <= 1, "{counts:?}");
            prop_assert_eq!(counts.iter().sum::<i64>(), n as i64);
        }

        #[test]
        fn weighted_shares_follow_weights(weights in prop::collection::vec(1u32..6, 1..6),
                                          rounds in 1usize..20) {
            let total: u32 = weights.iter().sum();
            let n = total as usize * rounds;
            let counts = simulate(Method::Weighted, &weights, n);
            // After whole rounds every rep has exactly weight × rounds.
            for (c, w) in counts.iter().zip(&weights) {
                prop_assert_eq!(*c, i64::from(*w) * rounds as i64, "{:?}", counts);
            }
        }
    }
}
