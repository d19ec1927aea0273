//! The check that a series' bars are as far apart as its timeframe says: a file named `W1`
//! holding hourly bars must not be stored as weekly. Timeframes in ictcore's spelling
//! (`15m`, `4h`, `1d`, `1w`, `1mo`) are checked against the median spacing of the bars
//! (gaps such as weekends do not move a median); other names are not timeframes ictcore
//! knows and are stored unchecked.

use crate::error::{IctError, Result};

const MINUTE: i64 = 60_000_000_000;
const DAY: i64 = 1440 * MINUTE;

/// The range of spacings (ns) a timeframe allows, or None for a name that is not one.
pub fn spacing_of(timeframe: &str) -> Option<(i64, i64)> {
    let digits = timeframe.chars().take_while(char::is_ascii_digit).count();
    let (count, unit) = timeframe.split_at(digits);
    let n: i64 = count.parse().ok().filter(|&n| n > 0)?;
    let exact = |step: i64| n.checked_mul(step).map(|d| (d, d));
    match unit {
        "m" => exact(MINUTE),
        "h" => exact(60 * MINUTE),
        "d" => exact(DAY),
        "w" => exact(7 * DAY),
        "mo" => Some((n.checked_mul(28 * DAY)?, n.checked_mul(31 * DAY)?)),
        _ => None,
    }
}

fn show(ns: i64) -> String {
    let minutes = ns / MINUTE;
    if ns % MINUTE != 0 {
        format!("{}s", ns / 1_000_000_000)
    } else if minutes % 1440 == 0 {
        format!("{}d", minutes / 1440)
    } else if minutes % 60 == 0 {
        format!("{}h", minutes / 60)
    } else {
        format!("{minutes}m")
    }
}

/// Refuses bars whose median spacing is not the one `timeframe` names (`what` names the
/// source in the message: a file, a call).
pub fn check_spacing(time: &[i64], timeframe: &str, what: &str) -> Result<()> {
    let Some((low, high)) = spacing_of(timeframe) else {
        return Ok(());
    };
    if time.len() < 3 {
        return Ok(());
    }
    let mut gaps: Vec<i64> = time.windows(2).map(|w| w[1].saturating_sub(w[0])).collect();
    let middle = gaps.len() / 2;
    let (_, &mut median, _) = gaps.select_nth_unstable(middle);
    if (low..=high).contains(&median) {
        return Ok(());
    }
    Err(IctError::parameter(
        "timeframe",
        format!(
            "{what}: the bars are {} apart (median), not the {timeframe} the name says; \
             pass the right timeframe",
            show(median)
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spacings_of_timeframes() {
        assert_eq!(spacing_of("15m"), Some((15 * MINUTE, 15 * MINUTE)));
        assert_eq!(spacing_of("4h"), Some((240 * MINUTE, 240 * MINUTE)));
        assert_eq!(spacing_of("1mo"), Some((28 * DAY, 31 * DAY)));
        assert_eq!(spacing_of("tick"), None);
        assert_eq!(spacing_of("0m"), None);
        assert_eq!(spacing_of("M15"), None);
    }

    #[test]
    fn hourly_bars_named_weekly_are_refused_and_weekends_are_not_a_problem() {
        let hourly: Vec<i64> = (0..500).map(|i| i * 60 * MINUTE).collect();
        let err = check_spacing(&hourly, "1w", "EURUSD_W1.csv").unwrap_err();
        assert!(err.to_string().contains("1h apart"), "{err}");
        assert!(check_spacing(&hourly, "1h", "x").is_ok());
        // Daily bars with weekend gaps: the median is a day.
        let daily: Vec<i64> = (0..300i64).filter(|d| d % 7 < 5).map(|d| d * DAY).collect();
        assert!(check_spacing(&daily, "1d", "x").is_ok());
        assert!(check_spacing(&daily, "1h", "x").is_err());
    }
}
