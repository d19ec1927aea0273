//! Bit-for-bit ports of `smartmoneyconcepts` 0.0.27, one file per function.
//!
//! Every function takes borrowed columns and returns owned output columns with the dtypes of
//! the library (`f64`, `f32` or `i32` per column). Quirks of the library are kept on purpose
//! and marked `QUIRK` in comments, with the section of `smc-0.0.27-spec.md` they come from.
//! Algorithms are O(n) or O(n log n) in the worst case where the library is quadratic.

pub mod arith;
pub mod bos_choch;
pub mod fvg;
pub mod liquidity;
pub mod ob;
pub mod previous_high_low;
pub mod resample;
pub mod retracements;
pub mod sessions;
pub mod swing_highs_lows;

pub use arith::{Dtype, InputDtypes, Precision};
pub use bos_choch::{bos_choch, BosChoch};
pub use fvg::{fvg, Fvg};
pub use liquidity::{liquidity, Liquidity};
pub use ob::{ob, OrderBlocks};
pub use previous_high_low::{previous_high_low, PreviousHighLow};
pub use retracements::{retracements, Retracements};
pub use sessions::{session_window, sessions, Sessions};
pub use swing_highs_lows::{swing_highs_lows, Swings};

use crate::candles::check_lengths;
use crate::error::Result;

/// The swing frame the swing-based functions take, as the library's two columns.
#[derive(Debug, Clone, Copy)]
pub struct SwingsView<'a> {
    /// +1 swing high, -1 swing low, NaN none (any other value is carried as the library does).
    pub high_low: &'a [f64],
    /// The swing's price level.
    pub level: &'a [f64],
}

impl<'a> SwingsView<'a> {
    /// Checks that both swing columns have the candles' length `n`.
    pub fn checked(high_low: &'a [f64], level: &'a [f64], n: usize) -> Result<Self> {
        check_lengths(
            "open",
            n,
            &[
                ("swing_highs_lows.HighLow", high_low.len()),
                ("swing_highs_lows.Level", level.len()),
            ],
        )?;
        Ok(Self { high_low, level })
    }
}

/// Rows of swing highs (+1) and swing lows (-1), in one pass over the mostly-NaN column.
pub(crate) fn split_swing_rows(high_low: &[f64]) -> (Vec<usize>, Vec<usize>) {
    // Exact bit patterns: the same test as `== 1.0` / `== -1.0` (no other value compares
    // equal), as cheap integer compares.
    const UP: u64 = 0x3ff0_0000_0000_0000;
    const DOWN: u64 = 0xbff0_0000_0000_0000;
    let (mut highs, mut lows) = (Vec::new(), Vec::new());
    for (i, &t) in high_low.iter().enumerate() {
        match t.to_bits() {
            UP => highs.push(i),
            DOWN => lows.push(i),
            _ => {}
        }
    }
    (highs, lows)
}

/// Rounds to float32 the way numpy stores a float64 into a float32 array.
#[inline]
pub(crate) fn f32_of(x: f64) -> f32 {
    x as f32
}

/// A float32-stored value read back for a float64 comparison ("widened").
#[inline]
pub(crate) fn widened(x: f64) -> f64 {
    f64::from(x as f32)
}
