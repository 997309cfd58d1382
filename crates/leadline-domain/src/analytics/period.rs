//! Report periods in a time zone: where a local day starts as an instant (DST-safe), and
//! which day, week, month or quarter an instant falls in.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use std::str::FromStr;

/// How a report folds time into rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Day,
    /// ISO weeks, starting on Monday.
    Week,
    Month,
    Quarter,
}

impl FromStr for Period {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Ok(match s {
            "day" => Period::Day,
            "week" => Period::Week,
            "month" => Period::Month,
            "quarter" => Period::Quarter,
            _ => return Err(()),
        })
    }
}

impl Period {
    /// The first day of the period holding `d`.
    pub fn start(self, d: NaiveDate) -> NaiveDate {
        match self {
            Period::Day => d,
            Period::Week => d - Duration::days(i64::from(d.weekday().num_days_from_monday())),
            Period::Month => d.with_day(1).unwrap_or(d),
            Period::Quarter => {
                NaiveDate::from_ymd_opt(d.year(), (d.month0() / 3) * 3 + 1, 1).unwrap_or(d)
            }
        }
    }

    /// The first day of the next period after the one starting at `start`.
    pub fn next(self, start: NaiveDate) -> NaiveDate {
        match self {
            Period::Day => start + Duration::days(1),
            Period::Week => start + Duration::days(7),
            Period::Month => start
                .checked_add_months(chrono::Months::new(1))
                .unwrap_or(start),
            Period::Quarter => start
                .checked_add_months(chrono::Months::new(3))
                .unwrap_or(start),
        }
    }

    /// A label for the period starting at `start`: `2026-11-24`, `2026-W48`, `2026-11`,
    /// `2026-Q4`.
    pub fn label(self, start: NaiveDate) -> String {
        match self {
            Period::Day => start.format("%Y-%m-%d").to_string(),
            Period::Week => {
                let w = start.iso_week();
                format!("{}-W{:02}", w.year(), w.week())
            }
            Period::Month => start.format("%Y-%m").to_string(),
            Period::Quarter => format!("{}-Q{}", start.year(), start.month0() / 3 + 1),
        }
    }
}

/// The instant a local day starts in `tz` (the first existing local time when midnight is
/// skipped by a DST change).
pub fn day_start(day: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let mut t = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    for _ in 0..4 {
        if let Some(x) = tz.from_local_datetime(&t).earliest() {
            return x.with_timezone(&Utc);
        }
        t += Duration::minutes(30);
    }
    t.and_utc()
}

/// The local day an instant falls on in `tz`.
pub fn local_day(t: DateTime<Utc>, tz: Tz) -> NaiveDate {
    t.with_timezone(&tz).date_naive()
}

use crate::time::DAY_MICROS;

/// The instants (microseconds since 1970) at which a period of `tz` starts between `first`
/// and `last`, other than at UTC midnight: where a report keyed by UTC day must split a
/// day. `None` when there are more than `max`.
pub fn off_midnight_starts(
    period: Period,
    tz: Tz,
    first: DateTime<Utc>,
    last: DateTime<Utc>,
    max: usize,
) -> Option<Vec<i64>> {
    let mut starts = Vec::new();
    let mut start = period.start(local_day(first, tz));
    loop {
        let t = day_start(start, tz);
        if t > last {
            return Some(starts);
        }
        let m = t.timestamp_micros();
        if m.rem_euclid(DAY_MICROS) != 0 {
            if starts.len() == max {
                return None;
            }
            starts.push(m);
        }
        let next = period.next(start);
        if next <= start {
            return Some(starts);
        }
        start = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn periods_start_label_and_follow() {
        assert_eq!(Period::Week.start(d("2026-11-26")), d("2026-11-23"));
        assert_eq!(Period::Week.label(d("2026-11-23")), "2026-W48");
        assert_eq!(Period::Month.start(d("2026-11-26")), d("2026-11-01"));
        assert_eq!(Period::Quarter.start(d("2026-11-26")), d("2026-10-01"));
        assert_eq!(Period::Quarter.label(d("2026-10-01")), "2026-Q4");
        assert_eq!(Period::Month.next(d("2026-12-01")), d("2027-01-01"));
        assert_eq!(Period::Week.label(d("2026-12-28")), "2026-W53");
    }

    #[test]
    fn days_start_at_local_midnight_across_dst() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        assert_eq!(
            day_start(d("2026-03-29"), berlin).to_rfc3339(),
            "2026-03-28T23:00:00+00:00"
        );
        assert_eq!(
            day_start(d("2026-03-30"), berlin).to_rfc3339(),
            "2026-03-29T22:00:00+00:00"
        );
        // Midnight does not exist in Santiago on the day clocks go forward.
        let scl: Tz = "America/Santiago".parse().unwrap();
        let t = day_start(d("2026-09-06"), scl);
        assert_eq!(local_day(t, scl), d("2026-09-06"));
        // 23:30 UTC on the 31st is already the 1st in Kolkata (+05:30).
        let kol: Tz = "Asia/Kolkata".parse().unwrap();
        let t = "2026-10-31T23:30:00Z".parse::<DateTime<Utc>>().unwrap();
        assert_eq!(local_day(t, kol), d("2026-11-01"));
        assert_eq!(local_day(t, Tz::UTC), d("2026-10-31"));
    }

    #[test]
    fn period_starts_off_utc_midnight() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let m = |s: &str| t(s).timestamp_micros();
        // Berlin months start at 23:00 or 22:00 UTC the evening before; the period holding
        // `first` counts too (its start may share a UTC day with `first`).
        let starts = off_midnight_starts(
            Period::Month,
            berlin,
            t("2026-02-10T00:00:00Z"),
            t("2026-04-15T00:00:00Z"),
            10,
        );
        assert_eq!(
            starts,
            Some(vec![
                m("2026-01-31T23:00:00Z"),
                m("2026-02-28T23:00:00Z"),
                m("2026-03-31T22:00:00Z")
            ])
        );
        // UTC has none; daily periods in Berlin start every day, past a small limit.
        let (a, b) = (t("2020-01-01T00:00:00Z"), t("2026-01-01T00:00:00Z"));
        assert_eq!(
            off_midnight_starts(Period::Day, Tz::UTC, a, b, 0),
            Some(vec![])
        );
        assert_eq!(off_midnight_starts(Period::Day, berlin, a, b, 100), None);
        assert_eq!(
            off_midnight_starts(Period::Quarter, berlin, a, b, 100).map(|c| c.len()),
            Some(25)
        );
    }

    proptest! {
        #[test]
        fn a_day_is_cut_exactly_when_a_period_starts_inside_it(
            day in 18_000i64..21_000, p in 0usize..4, z in 0usize..3,
        ) {
            let period = [Period::Day, Period::Week, Period::Month, Period::Quarter][p];
            let tz: Tz = ["Europe/Berlin", "Asia/Kolkata", "America/New_York"][z].parse().unwrap();
            let at = |m: i64| DateTime::from_timestamp_micros(m).unwrap();
            let (a, b) = (day * DAY_MICROS, (day + 1) * DAY_MICROS - 1);
            let cut = off_midnight_starts(period, tz, at(a - 400 * DAY_MICROS), at(b + 400 * DAY_MICROS), 10_000)
                .unwrap()
                .iter()
                .any(|m| m.div_euclid(DAY_MICROS) == day);
            // A period starting exactly at midnight leaves the whole day in one period.
            let split = period.start(local_day(at(a), tz)) != period.start(local_day(at(b), tz));
            prop_assert_eq!(cut, split);
        }
    }

    proptest! {
        #[test]
        fn an_instant_falls_in_the_period_it_is_labelled(secs in 0i64..4_000_000_000, p in 0usize..4) {
            let period = [Period::Day, Period::Week, Period::Month, Period::Quarter][p];
            let tz: Tz = "America/New_York".parse().unwrap();
            let t = DateTime::from_timestamp(secs, 0).unwrap();
            let start = period.start(local_day(t, tz));
            prop_assert!(day_start(start, tz) <= t);
            prop_assert!(t < day_start(period.next(start), tz));
        }
    }
}
