//! Fair value gaps. A bullish FVG forms at the close of bar i when `low[i] > high[i-2]`: the
//! zone is `[high[i-2], low[i]]`, drawn at the middle candle (`anchor = i-1`) and known at `i`.
//! Bearish mirrors (`high[i] < low[i-2]`, zone `[high[i], low[i-2]]`). CE (consequent
//! encroachment) is the midpoint. The lifecycle (touched, CE, filled, inverse FVG, dead) is
//! the [`ZoneBook`]'s.

use super::history::History;
use super::lifecycle::State;
use super::registry::steps_alone;
use super::registry::{self, Declaration, Detector, Shape, TableDecl};
use super::table;
use super::zones::{zone_tables, Zone, ZoneBook};

/// `kind` code of a fvg row.
pub const KIND_FVG: i32 = 5;

/// The FVG detector.
pub static DECLARATION: Declaration = Declaration {
    name: "fvg",
    doc: "fair value gaps with their lifecycle (touched, CE, filled, inverse FVG, dead)",
    params: &[registry::number(
        "min_size_atr",
        FvgParams::DEFAULT.min_size_atr,
        "gaps smaller than this many ATR(14) are skipped",
    )],
    tables: &[
        TableDecl {
            name: "fvg",
            columns: &[table::COMMON, &table::zone_columns("ce", QUALITY)],
        },
        TableDecl {
            name: "fvg_transitions",
            columns: &[table::TRANSITIONS],
        },
    ],
    shape: Shape::Zones,
    kinds: &[(KIND_FVG, "fvg")],
    inputs: registry::no_inputs,
    build: |v| {
        Ok(Box::new(Fvg::new(FvgParams {
            min_size_atr: v.number("min_size_atr")?,
        })))
    },
};

impl Detector for Fvg {
    steps_alone!();
    zone_tables!(|_: &Self| KIND_FVG, "ce", QUALITY);
}

/// Parameters of [`Fvg`]. Preset "ictcore": every gap (`min_size_atr = 0`).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FvgParams {
    /// Gaps smaller than this many ATR are not zones (with a positive value, none form before
    /// the ATR exists).
    pub min_size_atr: f64,
}

impl FvgParams {
    /// Preset "ictcore".
    pub const DEFAULT: Self = Self { min_size_atr: 0.0 };
}

impl Default for FvgParams {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Names of the quality columns: gap height in ATR(14) as of the forming bar; body of the
/// middle (displacement) candle in ATR as of the bar before it; the middle candle's share of
/// the three candles' volume.
pub const QUALITY: [&str; 3] = ["size_atr", "displacement", "volume_share"];

/// Streaming FVG detector.
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub struct Fvg {
    pub params: FvgParams,
    pub book: ZoneBook,
}

impl Fvg {
    pub fn new(params: FvgParams) -> Self {
        Self {
            params,
            book: ZoneBook::default(),
        }
    }

    /// Processes the newest bar of `history`.
    pub fn step(&mut self, history: &History) {
        let t = history.len() - 1;
        self.book.begin();
        self.book.advance(&history.bar(t), t);
        if t < 2 {
            return;
        }
        let [first, middle, last] = [history.bar(t - 2), history.bar(t - 1), history.bar(t)];
        let (direction, top, bottom) = if last.low > first.high {
            (1i8, last.low, first.high)
        } else if last.high < first.low {
            (-1i8, first.low, last.high)
        } else {
            return;
        };
        let size_atr = (top - bottom) / history.atr(t);
        // NaN (no ATR yet) is not big enough.
        let big_enough = size_atr >= self.params.min_size_atr;
        if self.params.min_size_atr > 0.0 && !big_enough {
            return;
        }
        let volume = first.volume + middle.volume + last.volume;
        self.book.add(Zone {
            id: 0,
            direction,
            anchor: t - 1,
            known_at: t,
            top,
            bottom,
            mid: bottom + (top - bottom) / 2.0,
            quality: [
                size_atr,
                middle.body() / history.atr(t - 2),
                if volume > 0.0 {
                    middle.volume / volume
                } else {
                    f64::NAN
                },
            ],
            state: State::Formed,
        });
    }

    /// Undoes the last [`Fvg::step`].
    pub fn undo(&mut self) {
        self.book.undo();
    }
}
