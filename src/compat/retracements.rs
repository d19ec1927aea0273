//! `smc.retracements` (spec §2.8): how much of the last swing leg the current candle has
//! retraced, then the library's roll-by-one with wrap-around and warm-up blanking.

use super::arith::{InputDtypes, Precision};
use super::SwingsView;
use crate::candles::check_ohlc;
use crate::columns::filled;
use crate::error::Result;

/// The columns of `smc.retracements`: Direction int32, the two percentages float64.
#[derive(Debug, Clone, PartialEq)]
pub struct Retracements {
    pub direction: Vec<i32>,
    pub current: Vec<f64>,
    pub deepest: Vec<f64>,
}

/// Python's two-argument `max`: the first argument unless the second is strictly greater
/// (so a NaN second argument loses and a NaN first argument wins).
fn py_max(a: f64, b: f64) -> f64 {
    if b > a {
        b
    } else {
        a
    }
}

/// The running deepest retracement carried from row i-1 if it had direction `dir`, else 0.
fn deepest_before(d: &[i32], deep: &[f64], i: usize, dir: i32) -> f64 {
    if i > 0 && d[i - 1] == dir {
        deep[i - 1]
    } else {
        0.0
    }
}

/// `round(100 - ((price - anchor) / divisor) * 100, 1)`, each operation in `p` (the
/// promotion of the price's and the swing levels' dtypes; `divisor` is already rounded in
/// the levels' precision).
fn percent(p: Precision, price: f64, anchor: f64, divisor: f64) -> f64 {
    let ratio = p.round(p.round(price - anchor) / divisor);
    p.round1(p.round(100.0 - p.round(ratio * 100.0)))
}

/// Retracements as `smc.retracements(ohlc, swing_highs_lows)` computes them, in the
/// arithmetic of the inputs' `dtypes`. O(n).
pub fn retracements(
    open: &[f64],
    high: &[f64],
    low: &[f64],
    close: &[f64],
    swings: SwingsView<'_>,
    dtypes: InputDtypes,
) -> Result<Retracements> {
    check_ohlc(open, high, low, close)?;
    let n = open.len();
    let swings = SwingsView::checked(swings.high_low, swings.level, n)?;
    let mut d = filled(n, 0i32);
    let mut cur = filled(n, 0.0f64);
    let mut deep = filled(n, 0.0f64);
    let (mut top, mut bottom) = (0.0f64, 0.0f64);
    // QUIRK: top and bottom are numpy scalars of the Level column; the formulas run in
    // their dtype promoted with the price's.
    let levels = Precision::of(&[dtypes.level]);
    let bull = levels.with(Precision::of(&[dtypes.low]));
    let bear = levels.with(Precision::of(&[dtypes.high]));
    for i in 0..n {
        let hl = swings.high_low[i];
        if hl == 1.0 {
            d[i] = 1;
            top = swings.level[i];
        } else if hl == -1.0 {
            d[i] = -1;
            bottom = swings.level[i];
        } else {
            d[i] = if i > 0 { d[i - 1] } else { 0 };
        }
        // QUIRK: the bullish formula looks at the previous row's direction, which at row 0 is
        // the last row's (Python's index -1).
        let prev = if i > 0 { d[i - 1] } else { d[n - 1] };
        if prev == 1 {
            let divisor = levels.round(top - bottom);
            cur[i] = if divisor != 0.0 {
                percent(bull, low[i], bottom, divisor)
            } else {
                0.0
            };
            deep[i] = py_max(deepest_before(&d, &deep, i, 1), cur[i]);
        }
        // QUIRK: the bearish formula looks at the current row's direction and, when both
        // apply, overwrites the bullish one.
        if d[i] == -1 {
            let divisor = levels.round(bottom - top);
            cur[i] = if divisor != 0.0 {
                percent(bear, high[i], top, divisor)
            } else {
                0.0
            };
            deep[i] = py_max(deepest_before(&d, &deep, i, -1), cur[i]);
        }
    }
    // QUIRK: np.roll by one, so row 0 receives the last row.
    d.rotate_right(1.min(n));
    cur.rotate_right(1.min(n));
    deep.rotate_right(1.min(n));
    // QUIRK: warm-up blanking up to one past the third direction change, or all but the
    // last row when there are fewer than three.
    let mut changes = 0;
    for i in 0..n.saturating_sub(1) {
        if d[i] != d[i + 1] {
            changes += 1;
        }
        (d[i], cur[i], deep[i]) = (0, 0.0, 0.0);
        if changes == 3 {
            (d[i + 1], cur[i + 1], deep[i + 1]) = (0, 0.0, 0.0);
            break;
        }
    }
    Ok(Retracements {
        direction: d,
        current: cur,
        deepest: deep,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_numpy_round_half_even() {
        assert_eq!(Precision::F64.round1(0.25), 0.2);
        assert_eq!(Precision::F64.round1(-1.25), -1.2);
    }

    #[test]
    fn empty_and_single_row() {
        let e: [f64; 0] = [];
        let out = retracements(
            &e,
            &e,
            &e,
            &e,
            SwingsView {
                high_low: &e,
                level: &e,
            },
            InputDtypes::default(),
        )
        .unwrap();
        assert!(out.direction.is_empty());
        let one = [1.0];
        let out = retracements(
            &one,
            &one,
            &one,
            &one,
            SwingsView {
                high_low: &one,
                level: &one,
            },
            InputDtypes::default(),
        )
        .unwrap();
        assert_eq!(out.direction, vec![1]);
    }
}
