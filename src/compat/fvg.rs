//! `smc.fvg` (spec §2.1): three-candle fair value gaps, optional joining of consecutive gaps,
//! and the index of the first candle that touches the gap's near edge.

use crate::algo::{Extreme, FirstMatch};
use crate::candles::check_ohlc;
use crate::columns::filled;
use crate::error::Result;

/// The columns of `smc.fvg`, all float64 as in the library.
#[derive(Debug, Clone, PartialEq)]
pub struct Fvg {
    pub fvg: Vec<f64>,
    pub top: Vec<f64>,
    pub bottom: Vec<f64>,
    pub mitigated_index: Vec<f64>,
}

/// Fair value gaps as `smc.fvg(ohlc, join_consecutive)` computes them. O(n log n).
pub fn fvg(
    open: &[f64],
    high: &[f64],
    low: &[f64],
    close: &[f64],
    join_consecutive: bool,
) -> Result<Fvg> {
    check_ohlc(open, high, low, close)?;
    let n = open.len();
    let mut dir = filled(n, f64::NAN);
    let mut top = filled(n, f64::NAN);
    let mut bottom = filled(n, f64::NAN);
    // Rows 0 and n-1 lack a neighbour and stay NaN; a doji never qualifies; all strict.
    // Written as selects rather than branches: on market data the test is a coin flip, and
    // mispredicted branches cost more than computing both sides.
    if n >= 3 {
        let rows = (1..n - 1)
            .zip(high.windows(3).zip(low.windows(3)))
            .zip(open[1..n - 1].iter().zip(&close[1..n - 1]));
        for ((i, (h, l)), (&o, &c)) in rows {
            let bull = (c > o) & (h[0] < l[2]);
            let bear = (c < o) & (l[0] > h[2]);
            dir[i] = if bull {
                1.0
            } else if bear {
                -1.0
            } else {
                f64::NAN
            };
            top[i] = if bull {
                l[2]
            } else if bear {
                l[0]
            } else {
                f64::NAN
            };
            bottom[i] = if bull {
                h[0]
            } else if bear {
                h[2]
            } else {
                f64::NAN
            };
        }
    }
    if join_consecutive {
        // QUIRK: a run of adjacent same-direction gaps folds onto its last row (max top,
        // min bottom); the earlier rows are blanked.
        for i in 0..n.saturating_sub(1) {
            if dir[i] == dir[i + 1] {
                top[i + 1] = top[i].max(top[i + 1]);
                bottom[i + 1] = bottom[i].min(bottom[i + 1]);
                (dir[i], top[i], bottom[i]) = (f64::NAN, f64::NAN, f64::NAN);
            }
        }
    }
    // QUIRK: the search starts at i + 2 (candle i + 1 never mitigates) and the touch of the
    // near edge is inclusive.
    let lows = FirstMatch::new(low, Extreme::Min);
    let highs = FirstMatch::new(high, Extreme::Max);
    let mitigated_index = (0..n)
        .map(|i| {
            let found = if dir[i] == 1.0 {
                let t = top[i];
                lows.first_from(i + 2, |v| v <= t)
            } else if dir[i] == -1.0 {
                let b = bottom[i];
                highs.first_from(i + 2, |v| v >= b)
            } else {
                return f64::NAN;
            };
            found.map_or(0.0, |j| j as f64)
        })
        .collect();
    Ok(Fvg {
        fvg: dir,
        top,
        bottom,
        mitigated_index,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // A bullish gap at row 1 (high[0] = 1.0 < low[2] = 1.2), touched at row 4 (low 1.1 <= 1.2).
    #[test]
    fn bullish_gap_and_its_mitigation() {
        let open = [1.0, 1.0, 1.3, 1.3, 1.3];
        let high = [1.0, 1.5, 1.4, 1.4, 1.4];
        let low = [0.9, 0.95, 1.2, 1.25, 1.1];
        let close = [1.0, 1.4, 1.3, 1.3, 1.3];
        let out = fvg(&open, &high, &low, &close, false).unwrap();
        assert_eq!(out.fvg[1], 1.0);
        assert_eq!((out.top[1], out.bottom[1]), (1.2, 1.0));
        assert_eq!(out.mitigated_index[1], 4.0);
        assert!(out.fvg[0].is_nan() && out.fvg[4].is_nan() && out.mitigated_index[0].is_nan());
    }

    #[test]
    fn tiny_inputs_do_not_fail() {
        for n in 0..3 {
            let v = vec![1.0; n];
            let out = fvg(&v, &v, &v, &v, true).unwrap();
            assert!(out.fvg.iter().all(|x| x.is_nan()));
        }
    }
}
