//! `smc.sessions` (spec §2.7): whether each candle's HH:MM lies in a session window (both ends
//! inclusive, overnight windows wrap), with running highs and lows over runs of active rows.
//!
//! Time-zone conversion happens before this function (the Python layer localises with
//! pandas, so zone rules and their errors are pandas' own); here `time` is nanoseconds of
//! the wall clock whose HH:MM is compared.

use super::f32_of;
use crate::candles::{check_finite, check_lengths};
use crate::columns::filled;
use crate::error::{IctError, Result};

/// The columns of `smc.sessions`: Active int32, High and Low float32 (0 when inactive).
#[derive(Debug, Clone, PartialEq)]
pub struct Sessions {
    pub active: Vec<i32>,
    pub high: Vec<f32>,
    pub low: Vec<f32>,
}

/// The library's built-in sessions (UTC, "H:MM" as written there).
pub const SESSIONS: [(&str, &str, &str); 8] = [
    ("Sydney", "21:00", "06:00"),
    ("Tokyo", "00:00", "09:00"),
    ("London", "07:00", "16:00"),
    ("New York", "13:00", "22:00"),
    ("Asian kill zone", "00:00", "04:00"),
    ("London open kill zone", "6:00", "9:00"),
    ("New York kill zone", "11:00", "14:00"),
    // QUIRK: lower-case "london" is the library's spelling; names are case-sensitive.
    ("london close kill zone", "14:00", "16:00"),
];

/// Minutes since midnight of a session's start and end: a built-in name, or "Custom" with
/// both times given as `%H:%M` (what `datetime.strptime` accepts: 1-2 digit hour 0-23, 1-2
/// digit minute 0-59).
pub fn session_window(session: &str, start_time: &str, end_time: &str) -> Result<(u32, u32)> {
    if session == "Custom" {
        if start_time.is_empty() || end_time.is_empty() {
            return Err(IctError::parameter(
                "start_time/end_time",
                "Custom session requires a start and end time",
            ));
        }
        return Ok((
            parse_hh_mm("start_time", start_time)?,
            parse_hh_mm("end_time", end_time)?,
        ));
    }
    let (_, start, end) = SESSIONS
        .iter()
        .find(|(name, _, _)| *name == session)
        .ok_or_else(|| IctError::UnknownName {
            what: "session",
            name: session.to_string(),
            known: SESSIONS
                .iter()
                .map(|(n, _, _)| n.to_string())
                .chain(["Custom".to_string()])
                .collect(),
        })?;
    Ok((parse_hh_mm("session", start)?, parse_hh_mm("session", end)?))
}

/// Parses `%H:%M` as Python's `strptime` does.
fn parse_hh_mm(name: &str, text: &str) -> Result<u32> {
    let bad = || {
        IctError::parameter(
            name,
            format!("time data '{text}' does not match format '%H:%M'"),
        )
    };
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    let field = |s: &str, max: u32| -> Option<u32> {
        let ok = (1..=2).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
        ok.then(|| s.parse::<u32>().ok())
            .flatten()
            .filter(|v| *v <= max)
    };
    match (field(h, 23), field(m, 59)) {
        (Some(h), Some(m)) => Ok(h * 60 + m),
        _ => Err(bad()),
    }
}

const NANOS_PER_MINUTE: i64 = 60_000_000_000;
const MINUTES_PER_DAY: i64 = 24 * 60;

/// Sessions as `smc.sessions` computes them, given wall-clock times in nanoseconds. O(n).
/// Wall-clock times need not increase (a DST fall-back repeats an hour); callers check the
/// order of the underlying instants.
pub fn sessions(
    time: &[i64],
    high: &[f64],
    low: &[f64],
    start_minute: u32,
    end_minute: u32,
) -> Result<Sessions> {
    check_lengths(
        "time",
        time.len(),
        &[("high", high.len()), ("low", low.len())],
    )?;
    check_finite("high", high)?;
    check_finite("low", low)?;
    let n = time.len();
    let (start, end) = (i64::from(start_minute), i64::from(end_minute));
    let mut out = Sessions {
        active: filled(n, 0),
        high: filled(n, 0.0),
        low: filled(n, 0.0),
    };
    for i in 0..n {
        // Seconds are dropped: only HH:MM is compared.
        let minute = time[i]
            .div_euclid(NANOS_PER_MINUTE)
            .rem_euclid(MINUTES_PER_DAY);
        // QUIRK: both ends inclusive; start >= end wraps midnight, start == end is all day.
        let active = if start < end {
            start <= minute && minute <= end
        } else {
            start <= minute || minute <= end
        };
        if !active {
            continue;
        }
        out.active[i] = 1;
        // QUIRK: the previous row's stored float32 value is the running state, 0 meaning
        // "none" (so a run continues across any gap in time, and zero prices break it).
        let prev_high = if i > 0 {
            f64::from(out.high[i - 1])
        } else {
            0.0
        };
        let prev_low = match i {
            0 => f64::INFINITY,
            _ if out.low[i - 1] == 0.0 => f64::INFINITY,
            _ => f64::from(out.low[i - 1]),
        };
        out.high[i] = f32_of(if prev_high > high[i] {
            prev_high
        } else {
            high[i]
        });
        out.low[i] = f32_of(if prev_low < low[i] { prev_low } else { low[i] });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_and_custom_times() {
        assert_eq!(session_window("London", "", "").unwrap(), (420, 960));
        assert_eq!(
            session_window("Custom", "9:5", "23:59").unwrap(),
            (545, 1439)
        );
        assert!(session_window("Custom", "", "10:00").is_err());
        assert!(session_window("Custom", "24:00", "10:00").is_err());
        assert!(session_window("Custom", "10:00:00", "11:00").is_err());
        let err = session_window("london", "", "").unwrap_err();
        assert!(err.to_string().contains("known: Sydney"));
    }

    #[test]
    fn overnight_window_wraps_and_runs_track_extremes() {
        let m = NANOS_PER_MINUTE;
        let time = [
            22 * 60 * m,
            23 * 60 * m,
            24 * 60 * m + 5 * 60 * m,
            24 * 60 * m + 12 * 60 * m,
        ];
        let high = [2.0, 3.0, 1.0, 9.0];
        let low = [1.0, 0.5, 0.75, 8.0];
        let (s, e) = session_window("Sydney", "", "").unwrap();
        let out = sessions(&time, &high, &low, s, e).unwrap();
        assert_eq!(out.active, vec![1, 1, 1, 0]);
        assert_eq!(out.high, vec![2.0, 3.0, 3.0, 0.0]);
        assert_eq!(out.low, vec![1.0, 0.5, 0.5, 0.0]);
    }
}
