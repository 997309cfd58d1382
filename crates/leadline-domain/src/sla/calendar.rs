//! Business time: the minutes an SLA counts are the business's working minutes (its days and
//! hours in its own time zone, minus holidays), not wall-clock minutes. A lead captured on
//! Friday evening is due on Monday morning, not on Saturday.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// The business's working days and hours in one time zone, and its holidays.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BusinessCalendar {
    /// IANA time zone, e.g. `Europe/Berlin`.
    #[serde(default = "utc")]
    pub time_zone: String,
    /// Working days, 1 = Monday … 7 = Sunday.
    #[serde(default = "weekdays")]
    pub days: Vec<u8>,
    /// Start of the working day (inclusive).
    #[serde(default = "nine")]
    #[schema(value_type = String, example = "09:00")]
    pub start: NaiveTime,
    /// End of the working day (exclusive); after the start.
    #[serde(default = "five")]
    #[schema(value_type = String, example = "17:00")]
    pub end: NaiveTime,
    /// Days off (local dates).
    #[serde(default)]
    #[schema(value_type = Vec<String>, example = json!(["2026-12-25"]))]
    pub holidays: Vec<NaiveDate>,
}

fn utc() -> String {
    "UTC".into()
}
fn weekdays() -> Vec<u8> {
    vec![1, 2, 3, 4, 5]
}
fn nine() -> NaiveTime {
    NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default()
}
fn five() -> NaiveTime {
    NaiveTime::from_hms_opt(17, 0, 0).unwrap_or_default()
}

impl Default for BusinessCalendar {
    fn default() -> Self {
        BusinessCalendar {
            time_zone: utc(),
            days: weekdays(),
            start: nine(),
            end: five(),
            holidays: Vec::new(),
        }
    }
}

/// How far ahead the calendar looks for working time before giving up (a calendar whose
/// every day is a holiday never reaches a deadline).
const HORIZON_DAYS: i64 = 3 * 366;

impl BusinessCalendar {
    /// Checks the calendar; messages by field (under `prefix`).
    pub fn validate(&self, prefix: &str, e: &mut crate::ValidationErrors) {
        if self.time_zone.parse::<chrono_tz::Tz>().is_err() {
            e.add(
                format!("{prefix}time_zone"),
                "unknown_time_zone",
                "an IANA time zone such as Europe/Berlin",
            );
        }
        if self.days.is_empty() || self.days.iter().any(|d| !(1..=7).contains(d)) {
            e.add(
                format!("{prefix}days"),
                "out_of_range",
                "days 1 (Monday) to 7 (Sunday), at least one",
            );
        }
        if self.end <= self.start {
            e.add(
                format!("{prefix}end"),
                "empty_range",
                "the working day must end after it starts",
            );
        }
    }

    fn tz(&self) -> chrono_tz::Tz {
        self.time_zone.parse().unwrap_or(chrono_tz::UTC)
    }

    /// The working interval of one local date, in UTC, if it is a working day.
    fn window(&self, tz: chrono_tz::Tz, date: NaiveDate) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let day = date.weekday().number_from_monday() as u8;
        if !self.days.contains(&day) || self.holidays.contains(&date) {
            return None;
        }
        // Across a DST change a local time may be missing or doubled: take the earliest
        // instant that exists, so a window never vanishes.
        let at = |t: NaiveTime| {
            let local = date.and_time(t);
            tz.from_local_datetime(&local)
                .earliest()
                .or_else(|| {
                    tz.from_local_datetime(&(local + Duration::hours(1)))
                        .earliest()
                })
                .map(|d| d.with_timezone(&Utc))
        };
        let (a, b) = (at(self.start)?, at(self.end)?);
        (a < b).then_some((a, b))
    }

    /// The instant `minutes` business minutes after `from`. Zero minutes from outside
    /// working time is the next opening.
    pub fn add_minutes(&self, from: DateTime<Utc>, minutes: u32) -> DateTime<Utc> {
        let tz = self.tz();
        let mut left = Duration::minutes(i64::from(minutes));
        let first = from.with_timezone(&tz).date_naive();
        for offset in -1..HORIZON_DAYS {
            let date = first + Duration::days(offset);
            let Some((open, close)) = self.window(tz, date) else {
                continue;
            };
            if close <= from {
                continue;
            }
            let begin = open.max(from);
            if begin + left <= close {
                return begin + left;
            }
            left -= close - begin;
        }
        // No working time within the horizon: the deadline is the horizon.
        from + Duration::days(HORIZON_DAYS)
    }

    /// The first working minute on or after the start of `day` (local).
    pub fn opening_on(&self, day: NaiveDate) -> DateTime<Utc> {
        let tz = self.tz();
        let midnight = day.and_time(NaiveTime::MIN);
        let start = tz
            .from_local_datetime(&midnight)
            .earliest()
            .map_or_else(|| midnight.and_utc(), |d| d.with_timezone(&Utc));
        self.add_minutes(start, 0)
    }

    /// Business minutes between `from` and `to` (zero when `to` is not after `from`).
    pub fn minutes_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
        if to <= from {
            return 0;
        }
        let tz = self.tz();
        let mut total = Duration::zero();
        let first = from.with_timezone(&tz).date_naive();
        let last = to.with_timezone(&tz).date_naive();
        let mut date = first - Duration::days(1);
        while date <= last + Duration::days(1) {
            if let Some((open, close)) = self.window(tz, date) {
                let (a, b) = (open.max(from), close.min(to));
                if a < b {
                    total += b - a;
                }
            }
            date += Duration::days(1);
        }
        total.num_minutes()
    }

    /// Whether `at` falls in working time.
    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        let tz = self.tz();
        let date = at.with_timezone(&tz).date_naive();
        [date - Duration::days(1), date]
            .into_iter()
            .filter_map(|d| self.window(tz, d))
            .any(|(a, b)| a <= at && at < b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn berlin() -> BusinessCalendar {
        BusinessCalendar {
            time_zone: "Europe/Berlin".into(),
            holidays: vec![NaiveDate::from_ymd_opt(2026, 12, 25).unwrap()],
            ..Default::default()
        }
    }

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    #[test]
    fn minutes_count_only_inside_working_hours() {
        let c = berlin();
        // Wednesday 2026-11-25 10:00 Berlin (09:00 UTC) + 30 minutes.
        assert_eq!(
            c.add_minutes(utc(2026, 11, 25, 9, 0), 30),
            utc(2026, 11, 25, 9, 30)
        );
        // Friday 16:30 Berlin + 60 minutes: 30 on Friday, 30 on Monday from 09:00.
        assert_eq!(
            c.add_minutes(utc(2026, 11, 27, 15, 30), 60),
            utc(2026, 11, 30, 8, 30)
        );
        // Saturday: the clock starts on Monday morning.
        assert_eq!(
            c.add_minutes(utc(2026, 11, 28, 12, 0), 15),
            utc(2026, 11, 30, 8, 15)
        );
        // Christmas Day is a holiday: Thursday 24th 16:45 + 30 runs on into Monday 28th.
        assert_eq!(
            c.add_minutes(utc(2026, 12, 24, 15, 45), 30),
            utc(2026, 12, 28, 8, 15)
        );
        assert_eq!(
            c.minutes_between(utc(2026, 11, 27, 15, 30), utc(2026, 11, 30, 8, 30)),
            60
        );
        assert!(c.is_open(utc(2026, 11, 25, 9, 0)));
        assert!(!c.is_open(utc(2026, 11, 28, 9, 0)));
    }

    #[test]
    fn a_day_opens_at_its_first_working_minute() {
        let c = berlin();
        // Monday 2026-11-30 opens at 09:00 Berlin; Saturday's opening is Monday's.
        let mon = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        assert_eq!(c.opening_on(mon), utc(2026, 11, 30, 8, 0));
        assert_eq!(
            c.opening_on(mon - Duration::days(2)),
            utc(2026, 11, 30, 8, 0)
        );
    }

    #[test]
    fn daylight_saving_changes_keep_the_local_hours() {
        let c = berlin();
        // Monday 2026-03-30 after the spring change: 09:00 Berlin is 07:00 UTC.
        assert_eq!(
            c.add_minutes(utc(2026, 3, 28, 12, 0), 0),
            utc(2026, 3, 30, 7, 0)
        );
        // Monday 2026-10-26 after the autumn change: 09:00 Berlin is 08:00 UTC.
        assert_eq!(
            c.add_minutes(utc(2026, 10, 24, 12, 0), 0),
            utc(2026, 10, 26, 8, 0)
        );
    }

    #[test]
    fn a_calendar_without_working_days_reaches_the_horizon_instead_of_looping() {
        let c = BusinessCalendar {
            days: vec![1],
            holidays: (0..400)
                .map(|w| NaiveDate::from_ymd_opt(2026, 11, 30).unwrap() + Duration::weeks(w))
                .collect(),
            ..Default::default()
        };
        let from = utc(2026, 11, 25, 9, 0);
        assert_eq!(c.add_minutes(from, 10), from + Duration::days(HORIZON_DAYS));
    }

    fn any_calendar() -> impl Strategy<Value = BusinessCalendar> {
        (
            prop::sample::select(vec![
                "UTC",
                "Europe/Berlin",
                "America/New_York",
                "Asia/Kolkata",
            ]),
            prop::collection::btree_set(1u8..=7, 1..=7),
            0u32..20,
            1u32..10,
        )
            .prop_map(|(tz, days, start, len)| BusinessCalendar {
                time_zone: tz.into(),
                days: days.into_iter().collect(),
                start: NaiveTime::from_hms_opt(start, 0, 0).unwrap(),
                end: NaiveTime::from_hms_opt((start + len).min(23), 59, 0).unwrap(),
                holidays: vec![],
            })
    }

    proptest! {
        #[test]
        fn adding_then_measuring_gives_back_the_minutes(
            c in any_calendar(),
            start in 1_767_225_600i64..1_798_761_600,
            minutes in 0u32..5000,
        ) {
            let from = DateTime::from_timestamp(start, 0).unwrap();
            let due = c.add_minutes(from, minutes);
            prop_assert!(due >= from);
            prop_assert_eq!(c.minutes_between(from, due), i64::from(minutes));
            // One minute more is never due earlier.
            prop_assert!(c.add_minutes(from, minutes + 1) > due);
        }

        #[test]
        fn measured_minutes_never_exceed_wall_clock_minutes(
            c in any_calendar(),
            start in 1_767_225_600i64..1_798_761_600,
            span in 0i64..(14 * 24 * 60),
        ) {
            let from = DateTime::from_timestamp(start, 0).unwrap();
            let to = from + Duration::minutes(span);
            let m = c.minutes_between(from, to);
            prop_assert!((0..=span).contains(&m));
        }
    }
}
