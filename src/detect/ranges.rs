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
use super::registry::{Declaration, Detector, Inputs, NativeSpec, Shape, TableDecl};
use super::structure::{StructureParams, STRUCTURE_PARAMS};
use super::table;
use super::zones::{Zone, ZoneBook};
use crate::error::Result;
use crate::table::{Column, Dtype, ResultTable};

/// `kind` code of a dealing range row.
pub const KIND_DEALING_RANGE: i32 = 14;

/// The dealing range detector (reads `order_blocks`, whose legs it shares).
pub static DECLARATION: Declaration = Declaration {
    name: "dealing_ranges",
    doc: "premium/discount of the leg each structure break leaves, its OTE band, strong and weak ends",
    params: &STRUCTURE_PARAMS,
    tables: &[
        TableDecl {
            name: "dealing_ranges",
            columns: &[
                table::COMMON,
                &[
                    ("top", Dtype::F64),
                    ("bottom", Dtype::F64),
                    ("equilibrium", Dtype::F64),
                    ("ote_top", Dtype::F64),
                    ("ote_bottom", Dtype::F64),
                    ("ote_sweet", Dtype::F64),
                    ("size_atr", Dtype::F64),
                    ("strong_level", Dtype::F64),
                    ("strong_bar", Dtype::I64),
                    ("weak_level", Dtype::F64),
                    ("weak_bar", Dtype::I64),
                ],
            ],
        },
        TableDecl {
            name: "dealing_ranges_transitions",
            columns: &[table::TRANSITIONS],
        },
    ],
    shape: Shape::Zones,
    kinds: &[(KIND_DEALING_RANGE, "dealing_range")],
    inputs: |v| {
        let params = StructureParams::from_values(v)?.as_params();
        Ok(vec![NativeSpec::with("order_blocks", &params)?])
    },
    build: |_| Ok(Box::new(DealingRanges::default())),
};

impl Detector for DealingRanges {
    fn step(&mut self, history: &History, inputs: &Inputs<'_>) -> Result<()> {
        DealingRanges::step(self, history, inputs.get(0)?);
        Ok(())
    }
    fn undo(&mut self) {
        DealingRanges::undo(self);
    }
    fn rows(&self, which: usize) -> usize {
        self.book.rows(which)
    }
    fn table(&self, history: &History, which: usize, start: usize) -> ResultTable {
        if which == 0 {
            DealingRanges::table(self, history, start)
        } else {
            self.book.transitions_table(history, start)
        }
    }
}

/// Fibonacci levels of the OTE band and its sweet spot.
pub const OTE: (f64, f64, f64) = (0.62, 0.705, 0.79);

/// One dealing range (the OTE band and its lifecycle are in the book, same id).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Range {
    pub top: f64,
    pub bottom: f64,
    pub strong_bar: usize,
    pub weak_bar: usize,
}

/// Streaming dealing-range detector (over an order-block detector).
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub struct DealingRanges {
    pub book: ZoneBook,
    pub ranges: Vec<Range>,
}

impl DealingRanges {
    /// Processes the newest bar of `history` (`blocks` has processed it already).
    pub fn step(&mut self, history: &History, blocks: &OrderBlocks) {
        let t = history.len() - 1;
        self.book.begin();
        self.book.advance(&history.bar(t), t);
        for i in blocks.book.added() {
            let block = blocks.book.zones[i];
            let Some(&peak) = blocks.peaks.get(i) else {
                continue;
            };
            let origin = block.anchor;
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
            KIND_DEALING_RANGE,
            "ote_sweet",
            ["size_atr", "", ""],
        );
        let ranges = &self.ranges[from..];
        let book = self.book.zones.from(from);
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
        ResultTable::new(columns)
    }
}
