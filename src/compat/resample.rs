//! pandas' resample bins for the frequency aliases `smc.previous_high_low` accepts.
//!
//! Explicit alias table (pandas 3 spellings; `N` is an optional positive integer):
//!
//! | alias | bins | closed / label |
//! |---|---|---|
//! | `Nns`, `Nus`, `Nms`, `Ns`, `Nmin`, `Nh`, `ND` (`Nd`) | fixed steps from midnight of the first candle's day (`origin="start_day"`) | left / left |
//! | `W`, `W-SUN` .. `W-SAT` | weeks ending on the anchor day | right / right |
//! | `ME` | calendar months, labelled by their last day | right / right |
//! | `MS` | calendar months, labelled by their first day | left / left |
//! | `QE`, `QE-JAN` .. `QE-DEC` | quarters ending in the anchor month's cycle | right / right |
//! | `QS`, `QS-JAN` .. `QS-DEC` | quarters starting in the anchor month's cycle | left / left |
//! | `YE`, `YE-JAN` .. `YE-DEC` | years ending with the anchor month | right / right |
//! | `YS`, `YS-JAN` .. `YS-DEC` | years starting with the anchor month | left / left |
//!
//! Right-closed rules put a candle in the bin of the first anchor *day* on or after its date
//! (pandas extends those bin edges to the end of the day). Anchored rules take no multiple
//! here; pandas' removed aliases (`H`, `T`, `S`, `M`, `Q`, `Y`, `A`) and compound or fractional
//! ones (`1h30min`, `1.5h`) are errors, as are business-day rules.

use crate::error::{IctError, Result};
use chrono::{DateTime, Datelike, Days, NaiveDate};

const DAY_NS: i64 = 86_400_000_000_000;

/// One parsed alias.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Fixed steps of this many nanoseconds from the first candle's midnight.
    Tick { step: i64 },
    /// Weeks ending on this weekday (0 = Monday .. 6 = Sunday).
    WeekEnd { weekday: u32 },
    /// Periods of `months` months labelled by the last day of the period, whose end months
    /// are congruent to `anchor` (1-12) modulo `months`.
    PeriodEnd { months: u32, anchor: u32 },
    /// Periods of `months` months labelled by their first day, start months congruent to
    /// `anchor` modulo `months`.
    PeriodStart { months: u32, anchor: u32 },
}

const WEEKDAYS: [&str; 7] = ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"];
const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];

/// Parses a frequency alias from the table in the module documentation.
pub fn parse_rule(alias: &str) -> Result<Rule> {
    let bad = |why: &str| IctError::parameter("time_frame", format!("'{alias}': {why}"));
    let body = alias.strip_prefix('+').unwrap_or(alias);
    let digits = body.bytes().take_while(u8::is_ascii_digit).count();
    let (count, unit) = body.split_at(digits);
    let count: i64 = if count.is_empty() {
        1
    } else {
        count
            .parse()
            .map_err(|_| bad("the multiple is too large"))?
    };
    let (base, anchor) = match unit.split_once('-') {
        Some((b, a)) => (b, Some(a)),
        None => (unit, None),
    };
    let tick = |nanos: i64| -> Result<Rule> {
        if count == 0 {
            return Err(bad("the multiple must be at least 1"));
        }
        let step = count
            .checked_mul(nanos)
            .ok_or_else(|| bad("the period is too long"))?;
        Ok(Rule::Tick { step })
    };
    let month_anchor = |default: u32| -> Result<u32> {
        match anchor {
            None => Ok(default),
            Some(a) => MONTHS
                .iter()
                .position(|m| *m == a)
                .map(|p| p as u32 + 1)
                .ok_or_else(|| bad("unknown month anchor (use JAN..DEC)")),
        }
    };
    let single = || -> Result<()> {
        if count == 1 {
            Ok(())
        } else {
            Err(bad("ictcore.compat supports anchored rules (W, ME, MS, QE, QS, YE, YS) with a multiple of 1 only"))
        }
    };
    match (base, anchor) {
        ("ns", None) => tick(1),
        ("us", None) => tick(1_000),
        ("ms", None) => tick(1_000_000),
        ("s", None) => tick(1_000_000_000),
        ("min", None) => tick(60_000_000_000),
        ("h", None) => tick(3_600_000_000_000),
        ("D" | "d", None) => tick(DAY_NS),
        ("W", _) => {
            single()?;
            let weekday = match anchor {
                None => 6,
                Some(a) => WEEKDAYS
                    .iter()
                    .position(|d| *d == a)
                    .ok_or_else(|| bad("unknown weekday anchor (use MON..SUN)"))?
                    as u32,
            };
            Ok(Rule::WeekEnd { weekday })
        }
        ("ME", None) => single().map(|_| Rule::PeriodEnd { months: 1, anchor: 1 }),
        ("MS", None) => single().map(|_| Rule::PeriodStart { months: 1, anchor: 1 }),
        ("QE", _) => single().and_then(|_| {
            Ok(Rule::PeriodEnd {
                months: 3,
                anchor: month_anchor(12)?,
            })
        }),
        ("QS", _) => single().and_then(|_| {
            Ok(Rule::PeriodStart {
                months: 3,
                anchor: month_anchor(1)?,
            })
        }),
        ("YE", _) => single().and_then(|_| {
            Ok(Rule::PeriodEnd {
                months: 12,
                anchor: month_anchor(12)?,
            })
        }),
        ("YS", _) => single().and_then(|_| {
            Ok(Rule::PeriodStart {
                months: 12,
                anchor: month_anchor(1)?,
            })
        }),
        ("H" | "T" | "S" | "L" | "U" | "N" | "M" | "Q" | "Y" | "A", None) => Err(bad(
            "this alias was removed in pandas 3 (use h, min, s, ms, us, ns, ME, QE, YE)",
        )),
        _ => Err(bad(
            "unsupported frequency; supported: [N]ns/us/ms/s/min/h/D, W[-DAY], ME, MS, QE[-MON], QS[-MON], YE[-MON], YS[-MON]",
        )),
    }
}

/// Bin labels (nanoseconds, the way pandas labels the bins) for candle times sorted
/// ascending. Labels come out non-decreasing.
pub fn bin_labels(time: &[i64], rule: Rule) -> Result<Vec<i64>> {
    let Some(&first) = time.first() else {
        return Ok(Vec::new());
    };
    match rule {
        Rule::Tick { step } => {
            let origin = first - first.rem_euclid(DAY_NS);
            // Consecutive candles mostly share a bin: divide (slow for a runtime step) only
            // when a candle leaves the current one.
            let (mut start, mut end) = (i64::MAX, i64::MIN);
            Ok(time
                .iter()
                .map(|&t| {
                    if t < start || t >= end {
                        start = origin + (t - origin).div_euclid(step) * step;
                        end = start.saturating_add(step);
                    }
                    start
                })
                .collect())
        }
        _ => {
            // Calendar rules depend on the date only: compute once per day.
            let mut out = Vec::with_capacity(time.len());
            let mut cached: Option<(i64, i64)> = None;
            for &t in time {
                let day = t.div_euclid(DAY_NS);
                let label = match cached {
                    Some((d, l)) if d == day => l,
                    _ => {
                        let l = calendar_label(day, rule)?;
                        cached = Some((day, l));
                        l
                    }
                };
                out.push(label);
            }
            Ok(out)
        }
    }
}

fn date_of_day(day: i64) -> Result<NaiveDate> {
    DateTime::from_timestamp(day.saturating_mul(86_400), 0)
        .map(|d| d.date_naive())
        .ok_or_else(|| IctError::parameter("time", format!("day {day} is out of range")))
}

fn nanos_of(date: NaiveDate) -> Result<i64> {
    date.and_hms_opt(0, 0, 0)
        .and_then(|d| d.and_utc().timestamp_nanos_opt())
        .ok_or_else(|| IctError::parameter("time", format!("{date} is out of range")))
}

fn last_day_of_month(year: i32, month: u32) -> Option<NaiveDate> {
    let (ny, nm) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    NaiveDate::from_ymd_opt(ny, nm, 1)?.pred_opt()
}

fn calendar_label(day: i64, rule: Rule) -> Result<i64> {
    let date = date_of_day(day)?;
    let out_of_range = || IctError::parameter("time", format!("{date} is out of range"));
    let label = match rule {
        Rule::Tick { .. } => return Err(out_of_range()),
        Rule::WeekEnd { weekday } => {
            let ahead = (weekday + 7 - date.weekday().num_days_from_monday()) % 7;
            date.checked_add_days(Days::new(u64::from(ahead)))
        }
        Rule::PeriodEnd { months, anchor } => {
            // The first period-end month at or after this month.
            let ahead = (anchor + 12 - date.month()) % months;
            let total = date.month0() + ahead;
            let year = date.year() + (total / 12) as i32;
            last_day_of_month(year, total % 12 + 1)
        }
        Rule::PeriodStart { months, anchor } => {
            // The last period-start month at or before this month.
            let back = (date.month() + 12 - anchor) % months;
            let m0 = i64::from(date.month0()) - i64::from(back);
            let year = date.year() + if m0 < 0 { -1 } else { 0 };
            NaiveDate::from_ymd_opt(year, (m0.rem_euclid(12) + 1) as u32, 1)
        }
    };
    nanos_of(label.ok_or_else(out_of_range)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(y: i32, m: u32, d: u32, h: u32) -> i64 {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp_nanos_opt()
            .unwrap()
    }

    #[test]
    fn aliases() {
        assert_eq!(
            parse_rule("4h").unwrap(),
            Rule::Tick {
                step: 4 * 3_600_000_000_000
            }
        );
        assert_eq!(
            parse_rule("15min").unwrap(),
            Rule::Tick {
                step: 900_000_000_000
            }
        );
        assert_eq!(parse_rule("W").unwrap(), Rule::WeekEnd { weekday: 6 });
        assert_eq!(
            parse_rule("QE").unwrap(),
            Rule::PeriodEnd {
                months: 3,
                anchor: 12
            }
        );
        for bad in ["H", "1H", "15T", "M", "1.5h", "2W", "0h", "B", "W-XYZ", ""] {
            assert!(parse_rule(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn calendar_labels() {
        // Wednesday 2023-03-15 -> week ending Sunday 2023-03-19.
        let t = [ns(2023, 3, 15, 10)];
        assert_eq!(
            bin_labels(&t, parse_rule("W").unwrap()).unwrap(),
            vec![ns(2023, 3, 19, 0)]
        );
        assert_eq!(
            bin_labels(&t, parse_rule("ME").unwrap()).unwrap(),
            vec![ns(2023, 3, 31, 0)]
        );
        assert_eq!(
            bin_labels(&t, parse_rule("QE-JAN").unwrap()).unwrap(),
            vec![ns(2023, 4, 30, 0)]
        );
        assert_eq!(
            bin_labels(&t, parse_rule("QS-FEB").unwrap()).unwrap(),
            vec![ns(2023, 2, 1, 0)]
        );
        assert_eq!(
            bin_labels(&t, parse_rule("YE-JUN").unwrap()).unwrap(),
            vec![ns(2023, 6, 30, 0)]
        );
        assert_eq!(
            bin_labels(&t, parse_rule("YS-JUL").unwrap()).unwrap(),
            vec![ns(2022, 7, 1, 0)]
        );
    }
}
