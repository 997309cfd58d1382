//! When a rep can take leads: working hours in their own time zone, and time away.

use chrono::{DateTime, Datelike, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

/// A rep's routing settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RepSettings {
    /// IANA time zone of the working hours, e.g. `Europe/Berlin`.
    #[serde(default = "utc")]
    pub time_zone: String,
    /// Days (1 = Monday … 7 = Sunday) and hours the rep works; none means always.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_hours: Option<WorkingHours>,
    /// Away (out of office) from … until; no leads are routed to them meanwhile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub away_from: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub away_until: Option<DateTime<Utc>>,
    /// Share of a weighted round robin (default 1).
    #[serde(default = "one")]
    pub weight: u32,
    /// Most open leads the rep holds before routing passes them by; none means no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<u32>,
}

fn utc() -> String {
    "UTC".into()
}

fn one() -> u32 {
    1
}

impl Default for RepSettings {
    fn default() -> Self {
        RepSettings {
            time_zone: utc(),
            working_hours: None,
            away_from: None,
            away_until: None,
            weight: 1,
            capacity: None,
        }
    }
}

/// Working days and hours (start inclusive, end exclusive; an end before the start runs
/// past midnight).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkingHours {
    pub days: Vec<u8>,
    #[schema(value_type = String, example = "09:00")]
    pub start: NaiveTime,
    #[schema(value_type = String, example = "17:30")]
    pub end: NaiveTime,
}

/// Why a rep cannot take a lead now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unavailable {
    /// Out of office until then (if known).
    Away(Option<DateTime<Utc>>),
    /// Outside their working hours.
    OffHours,
}

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unavailable::Away(Some(until)) => {
                write!(
                    f,
                    "out of office until {}",
                    until.format("%Y-%m-%d %H:%M UTC")
                )
            }
            Unavailable::Away(None) => f.write_str("out of office"),
            Unavailable::OffHours => f.write_str("outside working hours"),
        }
    }
}

impl RepSettings {
    /// Checks the settings; messages by field.
    pub fn validate(&self) -> Result<(), crate::ValidationErrors> {
        let mut e = crate::ValidationErrors::default();
        if self.time_zone.parse::<chrono_tz::Tz>().is_err() {
            e.add(
                "time_zone",
                "unknown_time_zone",
                "an IANA time zone such as Europe/Berlin",
            );
        }
        if let Some(h) = &self.working_hours {
            if h.days.is_empty() || h.days.iter().any(|d| !(1..=7).contains(d)) {
                e.add(
                    "working_hours.days",
                    "out_of_range",
                    "days 1 (Monday) to 7 (Sunday), at least one",
                );
            }
            if h.start == h.end {
                e.add(
                    "working_hours.end",
                    "empty_range",
                    "the end must differ from the start",
                );
            }
        }
        if let (Some(a), Some(b)) = (self.away_from, self.away_until)
            && b <= a
        {
            e.add(
                "away_until",
                "empty_range",
                "the return must come after the start of the absence",
            );
        }
        if self.weight == 0 || self.weight > 100 {
            e.add("weight", "out_of_range", "a weight of 1 to 100");
        }
        e.into_result()
    }

    /// Whether the rep is away at `now`.
    pub fn away(&self, now: DateTime<Utc>) -> Option<Unavailable> {
        let started = self.away_from.is_some_and(|a| a <= now);
        let ongoing = self.away_until.is_none_or(|u| now < u);
        (started && ongoing).then_some(Unavailable::Away(self.away_until))
    }

    /// Whether `now` falls outside the rep's working hours (in their time zone).
    pub fn off_hours(&self, now: DateTime<Utc>) -> Option<Unavailable> {
        let h = self.working_hours.as_ref()?;
        let tz: chrono_tz::Tz = self.time_zone.parse().unwrap_or(chrono_tz::UTC);
        let local = now.with_timezone(&tz);
        let time = local.time();
        let day = local.weekday().number_from_monday() as u8;
        let prev_day = if day == 1 { 7 } else { day - 1 };
        let working = if h.start < h.end {
            h.days.contains(&day) && time >= h.start && time < h.end
        } else {
            // A night shift: the evening belongs to today, the small hours to yesterday.
            (h.days.contains(&day) && time >= h.start)
                || (h.days.contains(&prev_day) && time < h.end)
        };
        (!working).then_some(Unavailable::OffHours)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn office(tz: &str) -> RepSettings {
        RepSettings {
            time_zone: tz.into(),
            working_hours: Some(WorkingHours {
                days: vec![1, 2, 3, 4, 5],
                start: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
                end: NaiveTime::from_hms_opt(17, 0, 0).unwrap(),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn working_hours_are_the_reps_own() {
        // Wednesday 2026-11-25 08:30 UTC: 09:30 in Berlin, 03:30 in New York.
        let t = Utc.with_ymd_and_hms(2026, 11, 25, 8, 30, 0).unwrap();
        assert_eq!(office("Europe/Berlin").off_hours(t), None);
        assert_eq!(
            office("America/New_York").off_hours(t),
            Some(Unavailable::OffHours)
        );
        // Saturday.
        let sat = Utc.with_ymd_and_hms(2026, 11, 28, 10, 0, 0).unwrap();
        assert!(office("Europe/Berlin").off_hours(sat).is_some());
        // No hours set: always working.
        assert_eq!(RepSettings::default().off_hours(sat), None);
    }

    #[test]
    fn night_shifts_run_past_midnight() {
        let mut s = office("UTC");
        let h = s.working_hours.as_mut().unwrap();
        h.start = NaiveTime::from_hms_opt(22, 0, 0).unwrap();
        h.end = NaiveTime::from_hms_opt(6, 0, 0).unwrap();
        // Friday 23:00 works; Saturday 02:00 belongs to Friday's shift; Sunday 02:00 not.
        let fri = Utc.with_ymd_and_hms(2026, 11, 27, 23, 0, 0).unwrap();
        let sat = Utc.with_ymd_and_hms(2026, 11, 28, 2, 0, 0).unwrap();
        let sun = Utc.with_ymd_and_hms(2026, 11, 29, 2, 0, 0).unwrap();
        assert_eq!(s.off_hours(fri), None);
        assert_eq!(s.off_hours(sat), None);
        assert!(s.off_hours(sun).is_some());
    }

    #[test]
    fn absences_have_a_start_and_maybe_an_end() {
        let t = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
        let until = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
        let s = RepSettings {
            away_from: Some(t - chrono::Duration::days(1)),
            away_until: Some(until),
            ..Default::default()
        };
        assert_eq!(s.away(t), Some(Unavailable::Away(Some(until))));
        assert_eq!(s.away(until), None);
        assert_eq!(s.away(t - chrono::Duration::days(2)), None);
        assert_eq!(
            s.away(t).unwrap().to_string(),
            "out of office until 2026-12-01 00:00 UTC"
        );
    }

    #[test]
    fn bad_settings_are_refused() {
        let s = RepSettings {
            time_zone: "Mars/Olympus".into(),
            weight: 0,
            away_from: Some(Utc::now()),
            away_until: Some(Utc::now() - chrono::Duration::days(1)),
            ..office("UTC")
        };
        let e = s.validate().unwrap_err();
        let fields: Vec<&str> = e.0.iter().map(|x| x.field.as_str()).collect();
        assert_eq!(fields, ["time_zone", "away_until", "weight"]);
    }
}
