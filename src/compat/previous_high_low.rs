//! `smc.previous_high_low` (spec §2.6): the high and low of a completed higher-timeframe bin
//! and whether price has traded beyond them, with the library's "two labels back" lookup.

use super::resample::{bin_labels, parse_rule};
use super::widened;
use crate::algo::sliding::{larger, smaller};
use crate::candles::{check_finite, check_lengths, check_strictly_increasing};
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
        previous_high: vec![f32::NAN; n],
        previous_low: vec![f32::NAN; n],
        broken_high: vec![0; n],
        broken_low: vec![0; n],
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
