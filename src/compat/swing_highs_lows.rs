//! `smc.swing_highs_lows` (spec §2.2): pivots over an asymmetric window, one survivor per run
//! of same-type pivots, and the forced "bookend" rows 0 and n-1.

use crate::algo::sliding::{for_each_window_extreme, larger, smaller};
use crate::candles::check_finite;
use crate::candles::check_lengths;
use crate::columns::filled;
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
    // Candidates as (row, +1 / -1), in row order.
    let mut candidates: Vec<(usize, i8)> = Vec::new();
    // QUIRK: the window of row i is [i-L+1, i+L] (L-1 before, L after), and pandas' rolling
    // needs 2L values counted from row 0 of the shifted series, so only rows
    // 2L-1 ..= n-1-L are candidates. L = 0 yields no candidate at all.
    if l > 0 && n >= 3 * l {
        let window = 2 * l;
        let first = 2 * l - 1;
        // The window ending at e = i + L covers exactly [i-L+1, i+L]. Ties qualify.
        let mut highs = Vec::new();
        for_each_window_extreme(high, window, larger, |e, max| {
            if e >= first + l && high[e - l] == max {
                highs.push(e - l);
            }
        });
        let mut lows = Vec::new();
        for_each_window_extreme(low, window, smaller, |e, min| {
            if e >= first + l && low[e - l] == min {
                lows.push(e - l);
            }
        });
        // Merge by row; a row that is both (an outside bar) is a high.
        candidates.reserve(highs.len() + lows.len());
        let (mut h, mut lo) = (highs.iter().peekable(), lows.iter().peekable());
        loop {
            match (h.peek(), lo.peek()) {
                (Some(&&a), Some(&&b)) if a <= b => {
                    candidates.push((a, 1));
                    h.next();
                    if a == b {
                        lo.next();
                    }
                }
                (_, Some(&&b)) => {
                    candidates.push((b, -1));
                    lo.next();
                }
                (Some(&&a), None) => {
                    candidates.push((a, 1));
                    h.next();
                }
                (None, None) => break,
            }
        }
    }
    let swings = keep_run_extremes(&candidates, high, low);
    let mut high_low = filled(n, f64::NAN);
    let mut level = filled(n, f64::NAN);
    let mut mark = |i: usize, kind: i8| {
        if kind == 1 {
            (high_low[i], level[i]) = (1.0, high[i]);
        } else {
            (high_low[i], level[i]) = (-1.0, low[i]);
        }
    };
    for &(i, kind) in &swings {
        mark(i, kind);
    }
    if let (Some(&(_, first_kind)), Some(&(_, last_kind))) = (swings.first(), swings.last()) {
        // QUIRK: bookends. Row 0 opposes the first swing, row n-1 the last (spec §2.2 step 5).
        mark(0, -first_kind);
        mark(n - 1, -last_kind);
    }
    Ok(Swings { high_low, level })
}

/// Keeps one row per maximal run of same-type candidates: the first row holding the run's
/// highest high (for highs) or lowest low (for lows). This is the fixed point of the
/// library's repeated pairwise elimination.
fn keep_run_extremes(candidates: &[(usize, i8)], high: &[f64], low: &[f64]) -> Vec<(usize, i8)> {
    let mut kept: Vec<(usize, i8)> = Vec::new();
    for &(row, kind) in candidates {
        match kept.last_mut() {
            Some(last) if last.1 == kind => {
                let better = if kind == 1 {
                    high[row] > high[last.0]
                } else {
                    low[row] < low[last.0]
                };
                if better {
                    last.0 = row;
                }
            }
            _ => kept.push((row, kind)),
        }
    }
    kept
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
