//! Dealing ranges left by structure breaks: premium / discount / equilibrium, the OTE band,
//! and the strong and weak ends.
//!
//! At each structure break (see [`OrderBlocks`], whose leg tracking it shares) the leg that
//! broke structure spans from its origin (for an up break: the lowest low between the broken
//! swing and the break) to its far end so far (the highest high since that low, up to the
//! break bar). That is the dealing range: above `equilibrium` (50%) is premium, below is
//! discount. The **OTE** band is the 62%–79% retracement of the leg (sweet spot 70.5%): for
//! an up leg `[top - 0.79 r, top - 0.62 r]`. The origin is the **strong** end (it produced
//! the break: protected), the far end the **weak** one (a liquidity target). Down breaks
//! mirror. Everything is known at the break bar.
//!
//! The OTE band is a zone with the [`ZoneBook`] lifecycle: touched = price retraced into the
//! band, mean threshold = the 70.5% sweet spot reached, filled = the 79% edge reached,
//! inverted = a close beyond the 79% edge (the retracement failed), dead = a close back
//! beyond the 62% edge.

use super::history::History;
use super::lifecycle::State;
use super::order_blocks::OrderBlocks;
use super::structure::StructureParams;
use super::zones::{Zone, ZoneBook};
use crate::cache::table::{Column, ResultTable};

/// Fibonacci levels of the OTE band and its sweet spot.
pub const OTE: (f64, f64, f64) = (0.62, 0.705, 0.79);

/// One dealing range (the OTE band and its lifecycle are in the book, same id).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    pub top: f64,
    pub bottom: f64,
    pub strong_bar: usize,
    pub weak_bar: usize,
}

/// Streaming dealing-range detector.
pub struct DealingRanges {
    pub blocks: OrderBlocks,
    pub book: ZoneBook,
    pub ranges: Vec<Range>,
}

impl DealingRanges {
    pub fn new(params: StructureParams) -> Self {
        Self {
            blocks: OrderBlocks::new(params),
            book: ZoneBook::default(),
            ranges: Vec::new(),
        }
    }

    /// Processes the newest bar of `history`.
    pub fn step(&mut self, history: &History) {
        let t = history.len() - 1;
        self.book.begin();
        self.book.advance(&history.bar(t), t);
        let before = self.blocks.book.zones.len();
        self.blocks.step(history);
        for i in before..self.blocks.book.zones.len() {
            let block = self.blocks.book.zones[i];
            let (origin, peak) = (block.anchor, self.blocks.peaks[i]);
            let up = block.direction > 0;
            let (top, bottom) = if up {
                (history.high(peak), history.low(origin))
            } else {
                (history.high(origin), history.low(peak))
            };
            let r = top - bottom;
            let (near, sweet, far) = OTE;
            let (ote_top, ote_mid, ote_bottom) = if up {
                (top - near * r, top - sweet * r, top - far * r)
            } else {
                (bottom + far * r, bottom + sweet * r, bottom + near * r)
            };
            self.ranges.push(Range {
                top,
                bottom,
                strong_bar: origin,
                weak_bar: peak,
            });
            self.book.add(Zone {
                id: 0,
                direction: block.direction,
                anchor: origin,
                known_at: t,
                top: ote_top,
                bottom: ote_bottom,
                mid: ote_mid,
                quality: [r / history.atr(t), f64::NAN, f64::NAN],
                state: State::Formed,
            });
        }
    }

    /// Undoes the last [`DealingRanges::step`].
    pub fn undo(&mut self) {
        self.blocks.undo();
        self.book.undo();
        self.ranges.truncate(self.book.zones.len());
    }

    /// Ranges `start..`: the common columns (`anchor` = the strong end's bar, `known_at` = the
    /// break), `top`, `bottom`, `equilibrium`, the OTE band `ote_top`/`ote_bottom`/`ote_sweet`,
    /// `strong_level`/`strong_bar`, `weak_level`/`weak_bar`, `size_atr`.
    pub fn table(&self, history: &History, start: usize) -> ResultTable {
        let from = start.min(self.ranges.len());
        let zones = self.book.table(
            history,
            from,
            super::table::KIND_DEALING_RANGE,
            "ote_sweet",
            ["size_atr", "", ""],
        );
        let ranges = &self.ranges[from..];
        let book = &self.book.zones[from..];
        let mut columns: Vec<Column> = Vec::new();
        for mut c in zones.columns {
            if c.name == "top" || c.name == "bottom" {
                c.name = format!("ote_{}", c.name);
            }
            columns.push(c);
            if columns.last().is_some_and(|c| c.name == "known_at_time") {
                columns.push(Column::f64("top", ranges.iter().map(|r| r.top).collect()));
                columns.push(Column::f64(
                    "bottom",
                    ranges.iter().map(|r| r.bottom).collect(),
                ));
                columns.push(Column::f64(
                    "equilibrium",
                    ranges
                        .iter()
                        .map(|r| r.bottom + (r.top - r.bottom) / 2.0)
                        .collect(),
                ));
            }
        }
        let up = |i: usize| book[i].direction > 0;
        columns.push(Column::f64(
            "strong_level",
            (0..ranges.len())
                .map(|i| {
                    if up(i) {
                        ranges[i].bottom
                    } else {
                        ranges[i].top
                    }
                })
                .collect(),
        ));
        columns.push(Column::i64(
            "strong_bar",
            ranges.iter().map(|r| r.strong_bar as i64).collect(),
        ));
        columns.push(Column::f64(
            "weak_level",
            (0..ranges.len())
                .map(|i| {
                    if up(i) {
                        ranges[i].top
                    } else {
                        ranges[i].bottom
                    }
                })
                .collect(),
        ));
        columns.push(Column::i64(
            "weak_bar",
            ranges.iter().map(|r| r.weak_bar as i64).collect(),
        ));
        ResultTable { columns }
    }
}
