//! `smc.ob` (spec §2.4): order blocks from the first close beyond the latest swing, their
//! mitigation, and the library's erase-on-break, with state shared between the two passes.
//!
//! The library walks every active block on every candle (quadratic in trends). Here each
//! block's fate is two threshold searches: within one pass blocks sit on distinct rows and
//! never touch each other's state, so mitigation time m and erase time r can be found per
//! block and applied in pass order. Creation scans each swing's trigger window once; the
//! windows are disjoint, so that part is O(n).

use super::arith::Dtype;
use super::{f32_of, split_swing_rows, widened, SwingsView};
use crate::algo::{Extreme, FirstMatch};
use crate::candles::{check_lengths, check_ohlc};
use crate::columns::filled;
use crate::error::Result;

/// The columns of `smc.ob`: OB and MitigatedIndex float64; Top, Bottom, OBVolume and
/// Percentage float32.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderBlocks {
    pub ob: Vec<f64>,
    pub top: Vec<f32>,
    pub bottom: Vec<f32>,
    pub ob_volume: Vec<f32>,
    pub mitigated_index: Vec<f64>,
    pub percentage: Vec<f32>,
}

/// One block in the library's per-row state. Blocks are few, so they are kept as a list per
/// pass rather than as the library's dense arrays.
#[derive(Debug, Clone, Copy, Default)]
struct Block {
    row: usize,
    kind: i8,
    top: f32,
    bottom: f32,
    volume: f32,
    percentage: f32,
    /// The mitigation row as the library stores it (0 = none).
    mitigated: f64,
    breaker: bool,
}

impl Block {
    /// QUIRK: erasing zeroes every field but leaves `breaker` set.
    fn erase(&mut self) {
        self.kind = 0;
        self.top = 0.0;
        self.bottom = 0.0;
        self.volume = 0.0;
        self.percentage = 0.0;
        self.mitigated = 0.0;
    }
}

/// The columns one pass reads, oriented so the bearish pass is the mirror of the bullish one.
struct Pass<'a> {
    bullish: bool,
    /// Swing rows of this pass's type (+1 highs for bullish, -1 lows for bearish).
    swings: Vec<usize>,
    /// Searches for "beyond the bottom" (bullish) / "beyond the top" (bearish) mitigation.
    mitigate: FirstMatch<'a>,
    /// Searches for the erase test of a block in breaker state.
    erase: FirstMatch<'a>,
}

/// The volume column and its dtype, whose arithmetic the block volumes follow.
#[derive(Debug, Clone, Copy)]
pub struct Volume<'a> {
    pub values: &'a [f64],
    pub dtype: Dtype,
}

/// Order blocks as `smc.ob(ohlc, swing_highs_lows, close_mitigation)` computes them.
/// O(n log n). Volumes may be NaN or infinite: the library computes with them, and so does
/// this.
pub fn ob(
    open: &[f64],
    high: &[f64],
    low: &[f64],
    close: &[f64],
    volume: Volume<'_>,
    swings: SwingsView<'_>,
    close_mitigation: bool,
) -> Result<OrderBlocks> {
    check_ohlc(open, high, low, close)?;
    check_lengths("open", open.len(), &[("volume", volume.values.len())])?;
    let n = open.len();
    let swings = SwingsView::checked(swings.high_low, swings.level, n)?;

    let body_low: Vec<f64>;
    let body_high: Vec<f64>;
    let (bull_mitigate, bear_mitigate) = if close_mitigation {
        body_low = open.iter().zip(close).map(|(o, c)| o.min(*c)).collect();
        body_high = open.iter().zip(close).map(|(o, c)| o.max(*c)).collect();
        (&body_low[..], &body_high[..])
    } else {
        (low, high)
    };
    let (swing_highs, swing_lows) = split_swing_rows(swings.high_low);

    let bullish = Pass {
        bullish: true,
        swings: swing_highs,
        mitigate: FirstMatch::new(bull_mitigate, Extreme::Min),
        erase: FirstMatch::new(high, Extreme::Max),
    };
    let bearish = Pass {
        bullish: false,
        swings: swing_lows,
        mitigate: FirstMatch::new(bear_mitigate, Extreme::Max),
        erase: FirstMatch::new(low, Extreme::Min),
    };
    let bull_blocks = run_pass(&bullish, &[], high, low, close, volume);
    let bear_blocks = run_pass(&bearish, &bull_blocks, high, low, close, volume);

    let mut out = OrderBlocks {
        ob: filled(n, f64::NAN),
        top: filled(n, f32::NAN),
        bottom: filled(n, f32::NAN),
        ob_volume: filled(n, f32::NAN),
        mitigated_index: filled(n, f64::NAN),
        percentage: filled(n, f32::NAN),
    };
    // The bearish pass ran after the bullish one: where both wrote a row, its state is final,
    // an erased block included (it blanks a row the bullish pass left filled). Most blocks are
    // erased and their rows are already blank, so only live blocks cost six writes.
    for b in bull_blocks.iter().chain(&bear_blocks) {
        let k = b.row;
        if b.kind != 0 {
            out.ob[k] = f64::from(b.kind);
            out.top[k] = b.top;
            out.bottom[k] = b.bottom;
            out.ob_volume[k] = b.volume;
            out.mitigated_index[k] = b.mitigated;
            out.percentage[k] = b.percentage;
        } else if !out.ob[k].is_nan() {
            out.ob[k] = f64::NAN;
            out.top[k] = f32::NAN;
            out.bottom[k] = f32::NAN;
            out.ob_volume[k] = f32::NAN;
            out.mitigated_index[k] = f64::NAN;
            out.percentage[k] = f32::NAN;
        }
    }
    Ok(out)
}

/// Runs one pass; `earlier` are the previous pass's blocks (by row), whose `mitigated` and
/// `breaker` a block created on the same row inherits. Returns this pass's blocks by row.
fn run_pass(
    pass: &Pass<'_>,
    earlier: &[Block],
    high: &[f64],
    low: &[f64],
    close: &[f64],
    volume: Volume<'_>,
) -> Vec<Block> {
    let n = close.len();
    let mut blocks = Vec::new();
    let mut p = 0; // first earlier block whose row is not below the current one
    for (w, &s) in pass.swings.iter().enumerate() {
        // The swing is "the last swing before i" for i in (s, next swing of its type].
        let window_end = pass.swings.get(w + 1).copied().unwrap_or(n - 1);
        let crossing = (s + 1..=window_end).find(|&i| {
            if pass.bullish {
                close[i] > high[s]
            } else {
                close[i] < low[s]
            }
        });
        let Some(i) = crossing else { continue };
        let mut block = create(pass.bullish, s, i, high, low, volume);
        // Blocks of a pass have increasing rows, so one forward pointer finds the earlier
        // pass's block on the same row.
        while earlier.get(p).is_some_and(|e| e.row < block.row) {
            p += 1;
        }
        if let Some(e) = earlier.get(p).filter(|e| e.row == block.row) {
            // QUIRK: mitigated and breaker are not reset, so a row inherits them across passes.
            (block.mitigated, block.breaker) = (e.mitigated, e.breaker);
        }
        settle(pass, &mut block, i);
        blocks.push(block);
    }
    blocks
}

/// The block triggered at candle `i` by swing `s` (not yet mitigated).
fn create(
    bullish: bool,
    s: usize,
    i: usize,
    high: &[f64],
    low: &[f64],
    volume: Volume<'_>,
) -> Block {
    let (k, top, bottom) = if i - s > 1 {
        // QUIRK: the extreme candle strictly between swing and crossing, last one on ties.
        let mut k = s + 1;
        for j in s + 2..i {
            let better = if bullish {
                low[j] <= low[k]
            } else {
                high[j] >= high[k]
            };
            if better {
                k = j;
            }
        }
        (k, high[k], low[k])
    } else if bullish {
        // QUIRK: with no candle in between, the bullish block has top and bottom swapped.
        (i - 1, low[i - 1], high[i - 1])
    } else {
        (i - 1, high[i - 1], low[i - 1])
    };
    // QUIRK: the sums are numpy scalar arithmetic in the volume's dtype (float32 rounding,
    // int32 wrapping); a missing third volume is Python's 0.0.
    let (v, add) = (volume.values, |a, b| volume.dtype.add(a, b));
    let recent_sum = add(v[i], v[i - 1]);
    let total = if i >= 2 {
        add(recent_sum, v[i - 2])
    } else {
        recent_sum
    };
    let recent = f32_of(recent_sum);
    let older = f32_of(if i >= 2 { v[i - 2] } else { 0.0 });
    // QUIRK: Python's max/min of (highVolume, lowVolume): the first unless the second is
    // strictly greater/smaller, so NaN volumes give what the library gives.
    let (high_volume, low_volume) = if bullish {
        (recent, older)
    } else {
        (older, recent)
    };
    let hi = if low_volume > high_volume {
        low_volume
    } else {
        high_volume
    };
    let lo = if low_volume < high_volume {
        low_volume
    } else {
        high_volume
    };
    // QUIRK: the percentage is computed in float32 arithmetic.
    let percentage = if hi != 0.0 { lo / hi * 100.0 } else { 100.0 };
    Block {
        row: k,
        kind: if bullish { 1 } else { -1 },
        top: f32_of(top),
        bottom: f32_of(bottom),
        volume: f32_of(total),
        percentage,
        mitigated: 0.0,
        breaker: false,
    }
}

/// Applies what happens to block `k` after its creation at candle `i`: mitigation (unless it
/// inherited the breaker flag) and then erasure.
fn settle(pass: &Pass<'_>, block: &mut Block, i: usize) {
    let top = widened(f64::from(block.top));
    let bottom = widened(f64::from(block.bottom));
    let mut erase_from = i + 1;
    if !block.breaker {
        let mitigation = if pass.bullish {
            pass.mitigate.first_from(i + 1, |v| v < bottom)
        } else {
            pass.mitigate.first_from(i + 1, |v| v > top)
        };
        let Some(m) = mitigation else { return };
        block.breaker = true;
        // QUIRK: bullish blocks record the candle before the mitigating one.
        block.mitigated = (if pass.bullish { m - 1 } else { m }) as f64;
        erase_from = m + 1;
    }
    let erased = if pass.bullish {
        pass.erase.first_from(erase_from, |v| v > top)
    } else {
        pass.erase.first_from(erase_from, |v| v < bottom)
    };
    if erased.is_some() {
        block.erase();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // One swing high (row 2, high 5.0). The first close above it is row 5, so the block is the
    // lowest-low candle strictly between: row 3 (high 4.0, low 2.5). Row 7's low 2.0 < 2.5
    // mitigates it; bullish blocks record the candle before (6). Nothing later trades above
    // the top (4.0), so it is not erased. Volumes: 30 + 20 + 10 = 60, and the percentage is
    // min(10, 50) / max(10, 50) * 100 = 20.
    const OPEN: [f64; 10] = [2.5, 3.5, 4.5, 3.0, 3.2, 4.0, 5.5, 3.0, 3.0, 3.0];
    const HIGH: [f64; 10] = [3.0, 4.0, 5.0, 4.0, 3.5, 6.0, 6.0, 3.0, 3.9, 3.9];
    const LOW: [f64; 10] = [2.0, 3.0, 4.0, 2.5, 3.0, 3.9, 5.0, 2.0, 2.8, 2.8];
    const CLOSE: [f64; 10] = [3.0, 4.0, 4.8, 2.8, 3.4, 5.5, 5.6, 2.5, 3.5, 3.5];
    const VOLUME: [f64; 10] = [10.0, 10.0, 10.0, 10.0, 20.0, 30.0, 10.0, 10.0, 10.0, 10.0];

    fn vol() -> Volume<'static> {
        Volume {
            values: &VOLUME,
            dtype: Dtype::Float64,
        }
    }

    fn swings() -> ([f64; 10], [f64; 10]) {
        let mut hl = [f64::NAN; 10];
        let mut lv = [f64::NAN; 10];
        (hl[2], lv[2]) = (1.0, 5.0);
        (hl, lv)
    }

    #[test]
    fn bullish_block_mitigated_not_erased() {
        let (hl, lv) = swings();
        let s = SwingsView {
            high_low: &hl,
            level: &lv,
        };
        let out = ob(&OPEN, &HIGH, &LOW, &CLOSE, vol(), s, false).unwrap();
        assert_eq!(out.ob[3], 1.0);
        assert_eq!((out.top[3], out.bottom[3]), (4.0, 2.5));
        assert_eq!(out.ob_volume[3], 60.0);
        assert_eq!(out.percentage[3], 20.0);
        assert_eq!(out.mitigated_index[3], 6.0);
        assert_eq!(out.ob.iter().filter(|v| !v.is_nan()).count(), 1);
    }

    #[test]
    fn body_mitigation_needs_the_body_below_the_bottom() {
        // With close_mitigation the test is min(open, close) < 2.5: row 7's body bottom is
        // 2.5 (not below), so the block stays unmitigated (0).
        let (hl, lv) = swings();
        let s = SwingsView {
            high_low: &hl,
            level: &lv,
        };
        let out = ob(&OPEN, &HIGH, &LOW, &CLOSE, vol(), s, true).unwrap();
        assert_eq!(out.mitigated_index[3], 0.0);
    }

    #[test]
    fn a_mitigated_block_traded_through_is_erased() {
        // Row 9 trades above the top (4.5 > 4.0) after the mitigation: the library erases it.
        let (hl, lv) = swings();
        let mut high = HIGH;
        high[9] = 4.5;
        let s = SwingsView {
            high_low: &hl,
            level: &lv,
        };
        let out = ob(&OPEN, &high, &LOW, &CLOSE, vol(), s, false).unwrap();
        assert!(out.ob.iter().all(|v| v.is_nan()));
        assert!(out.top.iter().all(|v| v.is_nan()));
    }
}
