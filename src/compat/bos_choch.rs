//! `smc.bos_choch` (spec §2.3): break of structure and change of character from the last four
//! swings, the first close (or wick) beyond the broken level, and the library's overlap rule.

use super::{widened, SwingsView};
use crate::algo::{Extreme, FirstMatch};
use crate::candles::check_ohlc;
use crate::columns::filled;
use crate::error::Result;

/// The columns of `smc.bos_choch`: BOS, CHOCH and BrokenIndex float64, Level float32.
#[derive(Debug, Clone, PartialEq)]
pub struct BosChoch {
    pub bos: Vec<f64>,
    pub choch: Vec<f64>,
    pub level: Vec<f32>,
    pub broken_index: Vec<f64>,
}

/// One pattern found at the row of swing b.
struct Event {
    row: usize,
    bullish: bool,
    is_bos: bool,
    level: f32,
}

/// BOS / CHoCH as `smc.bos_choch(ohlc, swing_highs_lows, close_break)` computes them.
/// O(n log n): pattern scan O(S), breaks by block-tree search, overlap removal by a suffix
/// minimum.
pub fn bos_choch(
    open: &[f64],
    high: &[f64],
    low: &[f64],
    close: &[f64],
    swings: SwingsView<'_>,
    close_break: bool,
) -> Result<BosChoch> {
    check_ohlc(open, high, low, close)?;
    let n = open.len();
    let swings = SwingsView::checked(swings.high_low, swings.level, n)?;
    let events = find_patterns(swings);

    let (up_src, down_src) = if close_break {
        (close, close)
    } else {
        (high, low)
    };
    let up = FirstMatch::new(up_src, Extreme::Max);
    let down = FirstMatch::new(down_src, Extreme::Min);
    // QUIRK: the break is searched from row + 2 against the float32-stored level, widened.
    let broken: Vec<usize> = events
        .iter()
        .map(|e| {
            let t = widened(f64::from(e.level));
            let found = if e.bullish {
                up.first_from(e.row + 2, |v| v > t)
            } else {
                down.first_from(e.row + 2, |v| v < t)
            };
            found.unwrap_or(0)
        })
        .collect();

    let mut out = BosChoch {
        bos: filled(n, f64::NAN),
        choch: filled(n, f64::NAN),
        level: filled(n, f32::NAN),
        broken_index: filled(n, f64::NAN),
    };
    // QUIRK: an event survives iff it was broken and no later event broke at or before it;
    // BrokenIndex is written for every broken event, survivors or not ("orphan" rows).
    let mut later_min = usize::MAX;
    for (e, &b) in events.iter().zip(&broken).rev() {
        if b == 0 {
            continue;
        }
        out.broken_index[e.row] = b as f64;
        if b < later_min {
            let sign = if e.bullish { 1.0 } else { -1.0 };
            if e.is_bos {
                out.bos[e.row] = sign;
            } else {
                out.choch[e.row] = sign;
            }
            // QUIRK: a level of exactly 0 is "no value" in the library's zero-as-empty arrays.
            if e.level != 0.0 {
                out.level[e.row] = e.level;
            }
        }
        later_min = later_min.min(b);
    }
    Ok(out)
}

/// Walks the swing rows (every non-NaN HighLow, whatever its value) and classifies each
/// window of four consecutive swings a, b, c, d at the row of b.
fn find_patterns(swings: SwingsView<'_>) -> Vec<Event> {
    let mut events = Vec::new();
    let mut last: Vec<(f64, f64, usize)> = Vec::with_capacity(4); // (type, level, row)
    for (row, (&t, &lv)) in swings.high_low.iter().zip(swings.level).enumerate() {
        if t.is_nan() {
            continue;
        }
        if last.len() == 4 {
            last.remove(0);
        }
        last.push((t, lv, row));
        if last.len() < 4 {
            continue;
        }
        let [(ta, a, _), (tb, b, row_b), (tc, c, _), (td, d, _)] =
            [last[0], last[1], last[2], last[3]];
        let low_high = ta == -1.0 && tb == 1.0 && tc == -1.0 && td == 1.0;
        let high_low = ta == 1.0 && tb == -1.0 && tc == 1.0 && td == -1.0;
        let found = if low_high && a < c && c < b && b < d {
            Some((true, true))
        } else if high_low && a > c && c > b && b > d {
            Some((false, true))
        } else if low_high && d > b && b > a && a > c {
            Some((true, false))
        } else if high_low && d < b && b < a && a < c {
            Some((false, false))
        } else {
            None
        };
        if let Some((bullish, is_bos)) = found {
            events.push(Event {
                row: row_b,
                bullish,
                is_bos,
                level: b as f32,
            });
        }
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    // Swings low 1.0 (row 0), high 3.0 (row 1), low 2.0 (row 2), high 4.0 (row 3): a < c < b < d
    // is a bullish BOS at row 1 with level 3.0; the first close > 3.0 from row 3 on is row 4.
    #[test]
    fn bullish_bos_is_written_at_the_broken_swing() {
        let hl = [-1.0, 1.0, -1.0, 1.0, f64::NAN, f64::NAN];
        let lv = [1.0, 3.0, 2.0, 4.0, f64::NAN, f64::NAN];
        let close = [1.0, 2.5, 2.5, 2.9, 3.5, 2.0];
        let out = bos_choch(
            &close,
            &close,
            &close,
            &close,
            SwingsView {
                high_low: &hl,
                level: &lv,
            },
            true,
        )
        .unwrap();
        assert_eq!(out.bos[1], 1.0);
        assert_eq!(out.level[1], 3.0);
        assert_eq!(out.broken_index[1], 4.0);
        assert!(out.choch.iter().all(|x| x.is_nan()));
    }
}
