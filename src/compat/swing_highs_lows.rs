//! `smc.swing_highs_lows` (spec §2.2): pivots over an asymmetric window, one survivor per run
//! of same-type pivots, and the forced "bookend" rows 0 and n-1.

use crate::algo::sliding::{rolling_max, rolling_min};
use crate::candles::check_finite;
use crate::candles::check_lengths;
use crate::error::Result;

/// The columns of `smc.swing_highs_lows`, both float64.
#[derive(Debug, Clone, PartialEq)]
pub struct Swings {
    /// +1 swing high, -1 swing low, NaN otherwise.
    pub high_low: Vec<f64>,
    /// high of a +1 row, low of a -1 row, NaN otherwise.
    pub level: Vec<f64>,
}

/// Swing highs and lows as `smc.swing_highs_lows(ohlc, swing_length)` computes them. O(n).
pub fn swing_highs_lows(high: &[f64], low: &[f64], swing_length: usize) -> Result<Swings> {
    check_lengths("high", high.len(), &[("low", low.len())])?;
    check_finite("high", high)?;
    check_finite("low", low)?;
    let n = high.len();
    let l = swing_length;
    let mut kind = vec![0i8; n];
    // QUIRK: the window of row i is [i-L+1, i+L] (L-1 before, L after), and pandas' rolling
    // needs 2L values counted from row 0 of the shifted series, so only rows
    // 2L-1 ..= n-1-L are candidates. L = 0 yields no candidate at all.
    if l > 0 && n >= 3 * l {
        let window = 2 * l;
        let maxes = rolling_max(high, window);
        let mins = rolling_min(low, window);
        for i in (2 * l - 1)..=(n - 1 - l) {
            // The window ending at i + L covers exactly [i-L+1, i+L]. Ties qualify; a row that
            // is both (an outside bar) is a high.
            if maxes[i + l] == high[i] {
                kind[i] = 1;
            } else if mins[i + l] == low[i] {
                kind[i] = -1;
            }
        }
    }
    keep_run_extremes(&mut kind, high, low);
    let positions: Vec<usize> = (0..n).filter(|&i| kind[i] != 0).collect();
    if let (Some(&first), Some(&last)) = (positions.first(), positions.last()) {
        // QUIRK: bookends. Row 0 opposes the first swing, row n-1 the last (spec §2.2 step 5).
        let (first_kind, last_kind) = (kind[first], kind[last]);
        kind[0] = -first_kind;
        kind[n - 1] = -last_kind;
    }
    let mut high_low = vec![f64::NAN; n];
    let mut level = vec![f64::NAN; n];
    for i in 0..n {
        match kind[i] {
            1 => (high_low[i], level[i]) = (1.0, high[i]),
            -1 => (high_low[i], level[i]) = (-1.0, low[i]),
            _ => {}
        }
    }
    Ok(Swings { high_low, level })
}

/// Keeps one row per maximal run of same-type candidates: the first row holding the run's
/// highest high (for highs) or lowest low (for lows). This is the fixed point of the
/// library's repeated pairwise elimination.
fn keep_run_extremes(kind: &mut [i8], high: &[f64], low: &[f64]) {
    let positions: Vec<usize> = (0..kind.len()).filter(|&i| kind[i] != 0).collect();
    let mut start = 0;
    while start < positions.len() {
        let run_kind = kind[positions[start]];
        let mut end = start;
        while end + 1 < positions.len() && kind[positions[end + 1]] == run_kind {
            end += 1;
        }
        let mut best = positions[start];
        for &p in &positions[start + 1..=end] {
            let better = if run_kind == 1 {
                high[p] > high[best]
            } else {
                low[p] < low[best]
            };
            if better {
                best = p;
            }
        }
        for &p in &positions[start..=end] {
            if p != best {
                kind[p] = 0;
            }
        }
        start = end + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_series_have_no_swings_and_no_bookends() {
        let v = [1.0, 2.0, 3.0, 2.0, 1.0];
        let out = swing_highs_lows(&v, &v, 2).unwrap();
        assert!(out.high_low.iter().all(|x| x.is_nan()));
    }

    // L = 1: window of row i is [i, i+1]; candidates are rows 1..=n-2.
    #[test]
    fn one_high_gets_two_bookend_lows() {
        let high = [1.0, 2.0, 5.0, 3.0, 2.0];
        let low = [0.5, 1.5, 4.0, 2.5, 1.5];
        let out = swing_highs_lows(&high, &low, 1).unwrap();
        // Row 2 (5.0 >= 3.0) is a high; row 3 (low 2.5 vs 1.5) no; row 1 (2.0 < 5.0) low? its
        // window [1,2] has min low 1.5 = low[1] -> a low at row 1, then a high at row 2.
        assert_eq!(out.high_low[1], -1.0);
        assert_eq!(out.high_low[2], 1.0);
        // bookends: row 0 opposes the first (-1) -> +1; row 4 opposes the last (+1) -> -1.
        assert_eq!(out.high_low[0], 1.0);
        assert_eq!(out.high_low[4], -1.0);
        assert_eq!(out.level[0], 1.0);
        assert_eq!(out.level[4], 1.5);
    }
}
