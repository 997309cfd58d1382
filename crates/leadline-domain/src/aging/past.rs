//! The aging report as of many past moments in one pass over the leads.
//!
//! As of one moment, the report probes each lead for its last activity, stage and owner
//! then. For a run of moments (every midnight of the last years) it is cheaper to walk each
//! lead's timeline once: between two of its events its stage, owner and last activity stay
//! put, and its bucket and staleness change only where its age crosses a bound, so a lead
//! adds a handful of runs of moments, whatever their number.
//!
//! The definitions are those of the report's query (leadline-store's `aging`): a lead counts
//! from its creation; its last activity is the latest at or before the moment, its creation
//! when it has none; its stage and owner are the ones the first change after the moment
//! left, or today's.

use crate::time::{DAY_MICROS, Micros};
use std::collections::HashMap;
use uuid::Uuid;

/// What a lead's aging at past moments depends on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LeadTimeline {
    pub created_at: Micros,
    /// Its stage now.
    pub stage: String,
    /// Its owner now.
    pub owner: Option<Uuid>,
    /// When its activities occurred, ascending.
    pub activities: Vec<Micros>,
    /// Its stage changes in history order: when, and the stage it left (for its first row,
    /// which left none, the stage it entered).
    pub stage_changes: Vec<(Micros, String)>,
    /// Its owner changes in history order: when, and the owner it left.
    pub owner_changes: Vec<(Micros, Option<Uuid>)>,
}

/// One count of the report: leads as of `at` in a stage, with an owner, in an age bucket,
/// stale or not.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PastCount {
    pub at: Micros,
    pub stage: String,
    pub owner: Option<Uuid>,
    /// Index of the bucket: the first bound the age is under, else the number of bounds.
    pub bucket: i32,
    pub stale: bool,
    pub leads: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    stage: usize,
    owner: Option<Uuid>,
    bucket: usize,
    stale: bool,
}

/// Counts of the aging report as of several moments, added to lead by lead.
#[derive(Debug)]
pub struct PastAging {
    moments: Vec<Micros>,
    /// Bucket bounds in microseconds, ascending.
    bounds: Vec<Micros>,
    /// Stale limits in microseconds by stage name.
    stale: Vec<(String, Micros)>,
    /// Stage names seen, indexed by `Key::stage`.
    stages: Vec<String>,
    /// Per key, the change in its count at each moment's index (summed up at the end).
    diffs: HashMap<Key, Vec<i32>>,
}

impl PastAging {
    /// Counts as of `moments` (any order; repeats ignored) under bucket `bounds` and stale
    /// limits per stage, both in days.
    pub fn new(moments: &[Micros], bounds: &[i64], stale_days: &[(&str, i64)]) -> Self {
        let mut moments = moments.to_vec();
        moments.sort_unstable();
        moments.dedup();
        let mut bounds: Vec<Micros> = bounds
            .iter()
            .map(|d| d.saturating_mul(DAY_MICROS))
            .collect();
        bounds.sort_unstable();
        PastAging {
            moments,
            bounds,
            stale: stale_days
                .iter()
                .map(|(s, d)| ((*s).to_owned(), d.saturating_mul(DAY_MICROS)))
                .collect(),
            stages: Vec::new(),
            diffs: HashMap::new(),
        }
    }

    /// The moments counted, ascending.
    pub fn moments(&self) -> &[Micros] {
        &self.moments
    }

    fn stage_index(&mut self, stage: &str) -> usize {
        match self.stages.iter().position(|s| s == stage) {
            Some(i) => i,
            None => {
                self.stages.push(stage.to_owned());
                self.stages.len() - 1
            }
        }
    }

    /// Counts `lead` at every moment from its creation on.
    pub fn add(&mut self, lead: &LeadTimeline) {
        let first = self.moments.partition_point(|m| *m < lead.created_at);
        if first == self.moments.len() {
            return;
        }
        // Its state changes at each of its events after its creation (an event at `x`
        // counts for moments from `x` on); those before are folded into the first state.
        let mut events: Vec<Micros> = lead
            .activities
            .iter()
            .chain(lead.stage_changes.iter().map(|(t, _)| t))
            .chain(lead.owner_changes.iter().map(|(t, _)| t))
            .copied()
            .filter(|t| *t > lead.created_at)
            .collect();
        events.sort_unstable();
        events.dedup();
        let ends = events.into_iter().chain(std::iter::once(Micros::MAX));
        let (mut a, mut s, mut o) = (0, 0, 0);
        let mut start = lead.created_at;
        for end in ends {
            while a < lead.activities.len() && lead.activities[a] <= start {
                a += 1;
            }
            while s < lead.stage_changes.len() && lead.stage_changes[s].0 <= start {
                s += 1;
            }
            while o < lead.owner_changes.len() && lead.owner_changes[o].0 <= start {
                o += 1;
            }
            let last = if a > 0 {
                lead.activities[a - 1]
            } else {
                lead.created_at
            };
            let stage = match lead.stage_changes.get(s) {
                Some((_, left)) => left.as_str(),
                None => lead.stage.as_str(),
            };
            let owner = match lead.owner_changes.get(o) {
                Some((_, left)) => *left,
                None => lead.owner,
            };
            self.add_stretch(start, end, last, stage, owner);
            start = end;
            if start == Micros::MAX {
                break;
            }
        }
    }

    /// Counts one lead at the moments in `[start, end)`, in `stage` with `owner` and last
    /// active at `last` throughout.
    fn add_stretch(
        &mut self,
        start: Micros,
        end: Micros,
        last: Micros,
        stage: &str,
        owner: Option<Uuid>,
    ) {
        let limit = self
            .stale
            .iter()
            .find(|(s, _)| s == stage)
            .map(|(_, l)| *l)
            .filter(|l| *l >= 0);
        let stage = self.stage_index(stage);
        // Where the age crosses a bound (`age < bound` turns false) or the stale limit
        // (`age > limit` turns true) inside the stretch.
        let mut cuts: Vec<Micros> = self
            .bounds
            .iter()
            .map(|b| last.saturating_add(*b))
            .chain(limit.map(|l| last.saturating_add(l).saturating_add(1)))
            .filter(|c| *c > start && *c < end)
            .collect();
        cuts.sort_unstable();
        cuts.dedup();
        let mut from = start;
        for to in cuts.into_iter().chain(std::iter::once(end)) {
            let i = self.moments.partition_point(|m| *m < from);
            let j = self.moments.partition_point(|m| *m < to);
            if i < j {
                let age = self.moments[i] - last;
                let key = Key {
                    stage,
                    owner,
                    bucket: self.bounds.partition_point(|b| *b <= age),
                    stale: limit.is_some_and(|l| age > l),
                };
                let n = self.moments.len();
                let d = self.diffs.entry(key).or_insert_with(|| vec![0; n + 1]);
                d[i] += 1;
                d[j] -= 1;
            }
            from = to;
        }
    }

    /// The counts, by moment, stage, owner, bucket and staleness; none of zero.
    pub fn counts(self) -> Vec<PastCount> {
        let mut out = Vec::new();
        for (key, diff) in self.diffs {
            let mut n: i64 = 0;
            for (i, at) in self.moments.iter().enumerate() {
                n += i64::from(diff[i]);
                if n != 0 {
                    out.push(PastCount {
                        at: *at,
                        stage: self.stages[key.stage].clone(),
                        owner: key.owner,
                        bucket: key.bucket as i32,
                        stale: key.stale,
                        leads: n,
                    });
                }
            }
        }
        out.sort_unstable();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    const BOUNDS: [i64; 3] = [1, 7, 30];
    const STALE: [(&str, i64); 2] = [("new", 2), ("mql", 0)];

    /// The report's definition moment by moment, lead by lead.
    fn reference(leads: &[LeadTimeline], moments: &[Micros]) -> Vec<PastCount> {
        let mut counts: BTreeMap<(Micros, String, Option<Uuid>, i32, bool), i64> = BTreeMap::new();
        for &t in moments {
            for l in leads.iter().filter(|l| l.created_at <= t) {
                let last = l
                    .activities
                    .iter()
                    .filter(|a| **a <= t)
                    .max()
                    .copied()
                    .unwrap_or(l.created_at);
                let stage = l
                    .stage_changes
                    .iter()
                    .find(|(at, _)| *at > t)
                    .map_or(l.stage.clone(), |(_, s)| s.clone());
                let owner = l
                    .owner_changes
                    .iter()
                    .find(|(at, _)| *at > t)
                    .map_or(l.owner, |(_, o)| *o);
                let age = t - last;
                let bucket = BOUNDS
                    .iter()
                    .position(|b| age < b * DAY_MICROS)
                    .unwrap_or(BOUNDS.len()) as i32;
                let stale = STALE
                    .iter()
                    .find(|(s, _)| *s == stage)
                    .is_some_and(|(_, d)| age > d * DAY_MICROS);
                *counts.entry((t, stage, owner, bucket, stale)).or_default() += 1;
            }
        }
        counts
            .into_iter()
            .map(|((at, stage, owner, bucket, stale), leads)| PastCount {
                at,
                stage,
                owner,
                bucket,
                stale,
                leads,
            })
            .collect()
    }

    fn counted(leads: &[LeadTimeline], moments: &[Micros]) -> Vec<PastCount> {
        let mut p = PastAging::new(moments, &BOUNDS, &STALE);
        for l in leads {
            p.add(l);
        }
        p.counts()
    }

    const H: Micros = 3_600_000_000;

    #[test]
    fn a_lead_walks_through_the_buckets() {
        let d = DAY_MICROS;
        let l = LeadTimeline {
            created_at: 0,
            stage: "mql".into(),
            owner: None,
            activities: vec![10 * d],
            stage_changes: vec![(0, "new".into()), (5 * d, "new".into())],
            owner_changes: vec![],
        };
        let moments: Vec<Micros> = (0..50).map(|i| i * d).collect();
        let c = counted(std::slice::from_ref(&l), &moments);
        assert_eq!(c, reference(std::slice::from_ref(&l), &moments));
        // Day 3: new, untouched since creation, over the two-day limit.
        let at3 = c.iter().find(|x| x.at == 3 * d).unwrap();
        assert_eq!(
            (at3.stage.as_str(), at3.bucket, at3.stale),
            ("new", 1, true)
        );
        // Day 10: an MQL active that very moment (age 0: the MQL limit of 0 is not passed).
        let at10 = c.iter().find(|x| x.at == 10 * d).unwrap();
        assert_eq!(
            (at10.stage.as_str(), at10.bucket, at10.stale),
            ("mql", 0, false)
        );
        // Day 45: 35 days since the activity, the open bucket.
        assert_eq!(c.iter().find(|x| x.at == 45 * d).unwrap().bucket, 3);
        // One lead, counted once at every moment.
        assert!(c.iter().all(|x| x.leads == 1));
        assert_eq!(c.len(), moments.len());
    }

    #[test]
    fn nothing_before_creation_and_activity_before_it_counts() {
        let l = LeadTimeline {
            created_at: 10 * H,
            stage: "new".into(),
            activities: vec![2 * H],
            ..Default::default()
        };
        let moments = [0, 5 * H, 10 * H, 40 * H];
        let c = counted(std::slice::from_ref(&l), &moments);
        assert_eq!(c, reference(std::slice::from_ref(&l), &moments));
        assert_eq!(c.first().map(|x| x.at), Some(10 * H));
        // The activity before its creation is its last one (as the report's query reads it).
        assert_eq!(c[0].bucket, 0);
        assert_eq!(c[1].bucket, 1);
    }

    fn timeline() -> impl Strategy<Value = LeadTimeline> {
        let t = 0..(60 * DAY_MICROS / H);
        let stage = prop::sample::select(vec!["new", "mql", "sql", "disqualified"]);
        let owner = prop::option::of(prop::sample::select(vec![
            Uuid::from_u128(1),
            Uuid::from_u128(2),
        ]));
        (
            t.clone(),
            stage.clone(),
            owner.clone(),
            prop::collection::vec(t.clone(), 0..6),
            prop::collection::vec((t.clone(), stage), 0..4),
            prop::collection::vec((t, owner), 0..3),
        )
            .prop_map(|(c, stage, owner, mut acts, mut sc, mut oc)| {
                acts.sort_unstable();
                // History order is by time (ties by row id: kept as generated).
                sc.sort_by_key(|x| x.0);
                oc.sort_by_key(|x| x.0);
                LeadTimeline {
                    created_at: c * H,
                    stage: stage.into(),
                    owner,
                    activities: acts.into_iter().map(|a| a * H).collect(),
                    stage_changes: sc.into_iter().map(|(a, s)| (a * H, s.into())).collect(),
                    owner_changes: oc.into_iter().map(|(a, o)| (a * H, o)).collect(),
                }
            })
    }

    proptest! {
        #[test]
        fn counts_match_the_definition_at_every_moment(
            leads in prop::collection::vec(timeline(), 0..12),
            moments in prop::collection::vec(0..(70 * DAY_MICROS / H), 1..40),
            offset in 0..H,
        ) {
            // Moments on and off the hours the events fall on.
            let moments: Vec<Micros> = moments
                .into_iter()
                .enumerate()
                .map(|(i, m)| m * H + if i % 2 == 0 { 0 } else { offset })
                .collect();
            let mut sorted = moments.clone();
            sorted.sort_unstable();
            sorted.dedup();
            prop_assert_eq!(counted(&leads, &moments), reference(&leads, &sorted));
        }
    }
}
