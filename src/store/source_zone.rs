//! The time zone a file's naive times are in, and their conversion to UTC.
//!
//! MetaTrader 5 servers stamp bars with the server's wall clock (at most brokers EET/EEST,
//! often with New York's DST dates so that the server's midnight is 17:00 in New York).
//! A zone is one of:
//! - `UTC` (the default: naive times are UTC);
//! - a fixed offset, `+02:00`, `-0530` or `+3`;
//! - an IANA name, `Europe/Athens`, converted DST-correctly with the tz database;
//! - an IANA name shifted by a fixed offset, `America/New_York+07:00`: the wall clock of
//!   that zone moved by the offset, which is how "GMT+2/GMT+3 on New York's DST dates"
//!   servers keep time.
//!
//! Wall-clock times that do not map to one instant are handled as a server's own bar
//! history has them:
//! - a time in the hour the clocks skip (spring forward) never appears in a server's
//!   history, so it is refused: the file is not in the zone it was said to be in;
//! - a time in the hour the clocks repeat (fall back) is the earlier of its two instants,
//!   unless that is not after the previous row, in which case it is the later one: a file
//!   that holds the repeated hour twice (once per pass) converts to strictly increasing
//!   times, and one that holds it once reads it as the first pass.

use crate::error::{IctError, Result};
use chrono::{NaiveDateTime, TimeZone};
use chrono_tz::Tz;

/// Where a file's naive times are; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceZone {
    Utc,
    /// Seconds east of UTC.
    Fixed(i64),
    /// A tz database zone whose wall clock is moved by `shift` seconds.
    Named {
        zone: Tz,
        shift: i64,
    },
}

/// A wall-clock time that has no instant in the zone (inside a spring-forward gap).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SkippedTime;

const NANOS: i64 = 1_000_000_000;
const HOUR: i64 = 3600 * NANOS;

impl SourceZone {
    /// Parses a zone as the module documentation describes; anything else is an error
    /// naming the `tz` parameter.
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        let bad = |why: &str| {
            IctError::parameter(
                "tz",
                format!(
                    "{text:?} {why}: give an IANA name (\"Europe/Athens\"), a fixed offset \
                     (\"+02:00\") or an IANA name shifted by one (\"America/New_York+07:00\")"
                ),
            )
        };
        if text.eq_ignore_ascii_case("utc") || text == "Z" {
            return Ok(Self::Utc);
        }
        if text.starts_with(['+', '-']) {
            return parse_offset(text)
                .map(|s| if s == 0 { Self::Utc } else { Self::Fixed(s) })
                .ok_or_else(|| bad("is not an offset between -12:00 and +14:00"));
        }
        if let Ok(zone) = text.parse::<Tz>() {
            // Whole names first: Etc/GMT-2 is a zone (UTC+2), not Etc/GMT shifted.
            return Ok(Self::Named { zone, shift: 0 });
        }
        // "Zone+HH:MM": a zone name, then a signed offset after its last '/'.
        let tail_from = text.rfind('/').map_or(0, |at| at + 1);
        let sign_at = text
            .get(tail_from..)
            .and_then(|tail| tail.rfind(['+', '-']).map(|at| at + tail_from))
            .ok_or_else(|| bad("is not a time zone this build knows"))?;
        let zone: Tz = text
            .get(..sign_at)
            .and_then(|name| name.parse().ok())
            .ok_or_else(|| bad("is not a time zone this build knows"))?;
        let shift = text
            .get(sign_at..)
            .and_then(parse_offset)
            .ok_or_else(|| bad("has a shift that is not an offset"))?;
        Ok(Self::Named { zone, shift })
    }

    /// Whether times need converting at all.
    pub fn is_utc(&self) -> bool {
        matches!(self, Self::Utc)
    }
}

impl std::fmt::Display for SourceZone {
    /// `UTC`, `UTC+02:00`, `Europe/Athens`, `America/New_York+07:00`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let offset = |f: &mut std::fmt::Formatter<'_>, s: i64| {
            let sign = if s < 0 { '-' } else { '+' };
            write!(f, "{sign}{:02}:{:02}", s.abs() / 3600, s.abs() % 3600 / 60)
        };
        match self {
            Self::Utc => f.write_str("UTC"),
            Self::Fixed(s) => {
                f.write_str("UTC")?;
                offset(f, *s)
            }
            Self::Named { zone, shift } => {
                f.write_str(zone.name())?;
                if *shift != 0 {
                    offset(f, *shift)?;
                }
                Ok(())
            }
        }
    }
}

/// `+HH:MM`, `+HHMM` or `+H[H]` (either sign) in seconds, within real offsets.
fn parse_offset(text: &str) -> Option<i64> {
    let sign = match text.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let body = text.get(1..)?;
    if body.is_empty() || !body.bytes().all(|c| c.is_ascii_digit() || c == b':') {
        return None;
    }
    let (h, m) = match (body.split_once(':'), body.len()) {
        (Some((h, m)), _) if m.len() == 2 && !h.is_empty() && h.len() <= 2 => (h, m),
        (None, 4) => (body.get(..2)?, body.get(2..)?),
        (None, 1 | 2) => (body, "0"),
        _ => return None,
    };
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    let seconds = h * 3600 + m * 60;
    (m < 60 && seconds <= 14 * 3600).then_some(sign * seconds)
}

/// Converts increasing wall-clock times of one zone to UTC, remembering the offset of the
/// last hour it looked up (times of a file come in order, so nearly every row reuses it).
pub struct ToUtc {
    zone: SourceZone,
    /// (hour of the wall clock, its one offset in nanoseconds when the whole hour has the
    /// same single offset).
    hour: Option<(i64, Option<i64>)>,
}

impl ToUtc {
    pub fn new(zone: SourceZone) -> Self {
        Self { zone, hour: None }
    }

    /// UTC nanoseconds of the wall-clock time `local` (nanoseconds as if it were UTC);
    /// `previous` is the converted time of the row before, which decides a repeated hour.
    pub fn convert(&mut self, local: i64, previous: Option<i64>) -> Result<i64, SkippedTime> {
        let (zone, shift) = match self.zone {
            SourceZone::Utc => return Ok(local),
            // Offsets are at most 14 h, so only times at the ends of i64 can overflow: no
            // instant there (the CSV parser's dates end in year 9999).
            SourceZone::Fixed(offset) => {
                return local.checked_sub(offset * NANOS).ok_or(SkippedTime)
            }
            SourceZone::Named { zone, shift } => (zone, shift * NANOS),
        };
        let wall = local.checked_sub(shift).ok_or(SkippedTime)?;
        let hour = wall.div_euclid(HOUR);
        let uniform = match self.hour {
            Some((h, offset)) if h == hour => offset,
            _ => {
                // An hour has one offset when its first and last nanosecond have the same
                // single one (the tz database has no transition pair within an hour).
                let start = hour.checked_mul(HOUR).ok_or(SkippedTime)?;
                let first = single_offset(zone, start);
                let last = start
                    .checked_add(HOUR - 1)
                    .and_then(|end| single_offset(zone, end));
                let offset = first.filter(|_| first == last);
                self.hour = Some((hour, offset));
                offset
            }
        };
        if let Some(offset) = uniform {
            return wall.checked_sub(offset).ok_or(SkippedTime);
        }
        let naive = naive(wall).ok_or(SkippedTime)?;
        match zone.from_local_datetime(&naive) {
            chrono::LocalResult::Single(at) => nanos(&at).ok_or(SkippedTime),
            chrono::LocalResult::Ambiguous(early, late) => {
                let early = nanos(&early).ok_or(SkippedTime)?;
                match previous {
                    Some(p) if early <= p => nanos(&late).ok_or(SkippedTime),
                    _ => Ok(early),
                }
            }
            chrono::LocalResult::None => Err(SkippedTime),
        }
    }
}

fn naive(wall: i64) -> Option<NaiveDateTime> {
    chrono::DateTime::from_timestamp(wall.div_euclid(NANOS), wall.rem_euclid(NANOS) as u32)
        .map(|t| t.naive_utc())
}

fn nanos(at: &chrono::DateTime<Tz>) -> Option<i64> {
    at.timestamp_nanos_opt()
}

/// The offset (east of UTC, nanoseconds) of the wall-clock time `wall` when it maps to
/// exactly one instant.
fn single_offset(zone: Tz, wall: i64) -> Option<i64> {
    match zone.from_local_datetime(&naive(wall)?) {
        chrono::LocalResult::Single(at) => Some(wall - nanos(&at)?),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> i64 {
        crate::store::csv_import::parse_datetime(text).unwrap_or(i64::MIN)
    }

    #[test]
    fn zones_parse_or_name_the_parameter() {
        assert_eq!(SourceZone::parse("UTC").ok(), Some(SourceZone::Utc));
        assert_eq!(
            SourceZone::parse("+02:00").ok(),
            Some(SourceZone::Fixed(7200))
        );
        assert_eq!(
            SourceZone::parse("-0530").ok(),
            Some(SourceZone::Fixed(-19800))
        );
        assert_eq!(SourceZone::parse("+3").ok(), Some(SourceZone::Fixed(10800)));
        for (text, shown) in [
            ("UTC", "UTC"),
            ("+02:00", "UTC+02:00"),
            ("-00:30", "UTC-00:30"),
            ("Europe/Athens", "Europe/Athens"),
            ("America/New_York+07:00", "America/New_York+07:00"),
        ] {
            let zone = SourceZone::parse(text).map(|z| z.to_string());
            assert_eq!(zone.ok().as_deref(), Some(shown), "{text}");
        }
        assert_eq!(
            SourceZone::parse("Europe/Athens").ok(),
            Some(SourceZone::Named {
                zone: chrono_tz::Europe::Athens,
                shift: 0
            })
        );
        assert_eq!(
            SourceZone::parse("America/New_York+07:00").ok(),
            Some(SourceZone::Named {
                zone: chrono_tz::America::New_York,
                shift: 7 * 3600
            })
        );
        // IANA names with '-' in them stay names; Etc/GMT-2 is an IANA name too.
        assert!(matches!(
            SourceZone::parse("America/Port-au-Prince"),
            Ok(SourceZone::Named { shift: 0, .. })
        ));
        assert!(matches!(
            SourceZone::parse("Etc/GMT-2"),
            Ok(SourceZone::Named { shift: 0, .. })
        ));
        for bad in [
            "Mars/Olympus",
            "+15:00",
            "+02:60",
            "",
            "EET+x",
            "Europe/Athens+99",
        ] {
            let err = SourceZone::parse(bad).err().map(|e| e.to_string());
            assert!(err.is_some_and(|e| e.contains("tz")), "{bad:?}");
        }
    }

    #[test]
    fn dst_transitions_in_athens() {
        let zone = SourceZone::parse("Europe/Athens").unwrap_or(SourceZone::Utc);
        let mut to = ToUtc::new(zone);
        // Winter: UTC+2; summer: UTC+3.
        assert_eq!(
            to.convert(utc("2024-01-15 10:00"), None),
            Ok(utc("2024-01-15 08:00"))
        );
        assert_eq!(
            to.convert(utc("2024-07-15 10:00"), None),
            Ok(utc("2024-07-15 07:00"))
        );
        // 2024-03-31: 03:00 local becomes 04:00; 03:30 does not exist.
        assert_eq!(to.convert(utc("2024-03-31 03:30"), None), Err(SkippedTime));
        assert_eq!(
            to.convert(utc("2024-03-31 02:59"), None),
            Ok(utc("2024-03-31 00:59"))
        );
        assert_eq!(
            to.convert(utc("2024-03-31 04:00"), None),
            Ok(utc("2024-03-31 01:00"))
        );
        // 2024-10-27: 04:00 local goes back to 03:00; 03:30 happens twice.
        let first = to.convert(utc("2024-10-27 03:30"), Some(utc("2024-10-27 00:00")));
        assert_eq!(first, Ok(utc("2024-10-27 00:30")));
        let second = to.convert(utc("2024-10-27 03:30"), first.ok());
        assert_eq!(second, Ok(utc("2024-10-27 01:30")));
    }

    #[test]
    fn new_york_plus_seven_is_the_common_server_clock() {
        let zone = SourceZone::parse("America/New_York+07:00").unwrap_or(SourceZone::Utc);
        let mut to = ToUtc::new(zone);
        // New York winter (UTC-5): server = UTC+2; summer (UTC-4): server = UTC+3.
        assert_eq!(
            to.convert(utc("2024-01-15 00:00"), None),
            Ok(utc("2024-01-14 22:00"))
        );
        assert_eq!(
            to.convert(utc("2024-07-15 00:00"), None),
            Ok(utc("2024-07-14 21:00"))
        );
        // US DST began 2024-03-10 (EU's on 03-31): on 03-20 the server is already UTC+3.
        assert_eq!(
            to.convert(utc("2024-03-20 12:00"), None),
            Ok(utc("2024-03-20 09:00"))
        );
    }

    proptest::proptest! {
        #[test]
        fn any_zone_text_parses_or_is_refused(text in "\\PC{0,40}") {
            if let Ok(zone) = SourceZone::parse(&text) {
                let mut to = ToUtc::new(zone);
                let _ = to.convert(i64::MAX, None);
                let _ = to.convert(i64::MIN, Some(0));
            }
        }

        #[test]
        fn extreme_times_never_panic(local in proptest::num::i64::ANY, offset in -50_400i64..=50_400) {
            for zone in [
                SourceZone::Fixed(offset),
                SourceZone::Named { zone: chrono_tz::Europe::Athens, shift: offset },
            ] {
                let _ = ToUtc::new(zone).convert(local, Some(local));
                let _ = ToUtc::new(zone).convert(i64::MAX, None);
                let _ = ToUtc::new(zone).convert(i64::MIN, None);
            }
        }

        #[test]
        fn the_hour_cache_agrees_with_the_tz_database(
            start in 0i64..2_000_000_000, steps in proptest::collection::vec(1i64..7200, 1..200)
        ) {
            let zone = SourceZone::Named { zone: chrono_tz::Europe::Athens, shift: 0 };
            let mut cached = ToUtc::new(zone);
            let mut local = start * NANOS;
            for step in steps {
                local += step * NANOS * 60;
                let got = cached.convert(local, None);
                let want = match naive(local).map(|n| chrono_tz::Europe::Athens.from_local_datetime(&n)) {
                    Some(chrono::LocalResult::Single(at)) => nanos(&at).ok_or(SkippedTime),
                    Some(chrono::LocalResult::Ambiguous(early, _)) => nanos(&early).ok_or(SkippedTime),
                    _ => Err(SkippedTime),
                };
                proptest::prop_assert_eq!(got, want);
            }
        }
    }
}
