//! `smc.previous_high_low` (spec §2.6): the high and low of a completed higher-timeframe bin
//! and whether price has traded beyond them, with the library's "two labels back" lookup.

use super::resample::{bin_labels, parse_rule};
use super::widened;
use crate::algo::sliding::{larger, smaller};
use crate::candles::{check_finite, check_lengths, check_strictly_increasing};
use crate::columns::filled;
use crate::error::Result;

/// The columns of `smc.previous_high_low`: float32 levels, int32 flags.
#[derive(Debug, Clone, PartialEq)]
pub struct PreviousHighLow {
    pub previous_high: Vec<f32>,
    pub previous_low: Vec<f32>,
    pub broken_high: Vec<i32>,
    pub broken_low: Vec<i32>,
}

/// Previous highs and lows as `smc.previous_high_low(ohlc, time_frame)` computes them, for
/// `time` in nanoseconds (naive wall clock or UTC), strictly increasing. O(n).
pub fn previous_high_low(
    time: &[i64],
    high: &[f64],
    low: &[f64],
    time_frame: &str,
) -> Result<PreviousHighLow> {
    check_lengths(
        "time",
        time.len(),
        &[("high", high.len()), ("low", low.len())],
    )?;
    check_finite("high", high)?;
    check_finite("low", low)?;
    check_strictly_increasing("time", time)?;
    let rule = parse_rule(time_frame)?;
    let n = time.len();
    let labels = bin_labels(time, rule)?;

    // Non-empty bins in order (empty ones are dropped by the library's dropna).
    let mut bins: Vec<(i64, f64, f64)> = Vec::new();
    for i in 0..n {
        match bins.last_mut() {
            Some(bin) if bin.0 == labels[i] => {
                bin.1 = larger(bin.1, high[i]);
                bin.2 = smaller(bin.2, low[i]);
            }
            _ => bins.push((labels[i], high[i], low[i])),
        }
    }
    let mut out = PreviousHighLow {
        previous_high: filled(n, f32::NAN),
        previous_low: filled(n, f32::NAN),
        broken_high: filled(n, 0),
        broken_low: filled(n, 0),
    };
    if bins.len() < 2 {
        return Ok(out);
    }
    // QUIRK: k = number of bin labels strictly before the candle, and the reference bin is
    // k - 2 (one too far back at a bin's opening candle, and for every right-labelled rule).
    let mut k = 0usize;
    let mut group: Option<usize> = None; // k of the current run; runs reset the extremes
    let (mut run_high, mut run_low) = (f64::NEG_INFINITY, f64::INFINITY);
    for i in 0..n {
        while k < bins.len() && bins[k].0 < time[i] {
            k += 1;
        }
        if group != Some(k) {
            group = Some(k);
            (run_high, run_low) = (high[i], low[i]);
        } else {
            run_high = larger(run_high, high[i]);
            run_low = smaller(run_low, low[i]);
        }
        if k >= 2 {
            let (_, h, l) = bins[k - 2];
            let (h32, l32) = (h as f32, l as f32);
            out.previous_high[i] = h32;
            out.previous_low[i] = l32;
            // QUIRK: float64 running extremes against the float32-stored levels, widened.
            out.broken_high[i] = i32::from(run_high > widened(f64::from(h32)));
            out.broken_low[i] = i32::from(run_low < widened(f64::from(l32)));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000_000_000;
    const JAN_1_2024: i64 = 1_704_067_200_000_000_000;

    // 72 hourly candles over three days; candle i has low i and high i + 1, so day 0 spans
    // [0, 24] and day 1 spans [24, 48].
    #[test]
    fn daily_levels_with_the_two_labels_back_lookup() {
        let time: Vec<i64> = (0..72).map(|i| JAN_1_2024 + i * HOUR).collect();
        let low: Vec<f64> = (0..72).map(f64::from).collect();
        let high: Vec<f64> = low.iter().map(|v| v + 1.0).collect();
        let out = previous_high_low(&time, &high, &low, "1D").unwrap();
        // Day 1 00:00: only day 0's label is strictly before it -> k = 1, no reference.
        assert!(out.previous_high[24].is_nan());
        // Day 1 01:00: labels of days 0 and 1 are before it -> reference day 0.
        assert_eq!((out.previous_high[25], out.previous_low[25]), (24.0, 0.0));
        // QUIRK: day 2 00:00 still refers to day 0 (one bin too far back).
        assert_eq!(out.previous_high[48], 24.0);
        assert_eq!(out.previous_high[49], 48.0);
        // Day 1's rising highs break day 0's high at once, never its low.
        assert_eq!((out.broken_high[25], out.broken_low[25]), (1, 0));
        assert_eq!(out.broken_high[23], 0);
    }

    #[test]
    fn fewer_than_two_bins_gives_no_levels() {
        let time: Vec<i64> = (0..10).map(|i| JAN_1_2024 + i * HOUR).collect();
        let v = vec![1.0; 10];
        let out = previous_high_low(&time, &v, &v, "1D").unwrap();
        assert!(out.previous_high.iter().all(|x| x.is_nan()));
        assert!(out.broken_high.iter().all(|&x| x == 0));
    }

    #[test]
    fn unsorted_time_is_rejected() {
        let err = previous_high_low(&[2, 1], &[1.0, 1.0], &[1.0, 1.0], "1h").unwrap_err();
        assert!(err.to_string().contains("row 1"));
    }
}
