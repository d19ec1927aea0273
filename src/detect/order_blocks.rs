//! Order blocks, with breakers as their inverted state.
//!
//! When structure breaks up at bar t (a BOS or CHoCH through the swing high at p, see
//! [`Structure`]), the bullish order block is the candle with the lowest low in `[p, t]` —
//! the origin of the leg that broke structure (the latest such candle on ties; the
//! "extreme candle between the swing and the break" variant). Its zone is the candle's range,
//! its mean threshold 50% of its body; it is known at t. Down breaks mirror (the highest high).
//! The [`ZoneBook`] lifecycle follows: touched, mean threshold, filled (fully mitigated),
//! inverted — a close through the far edge makes it a **breaker** acting from the other side —
//! and dead on a close back through.
//!
//! The leg's extreme is kept as bars arrive (O(1) per bar); when a new swing becomes the
//! watched level, the bars from its pivot to its confirmation (`right` of them) are scanned
//! once.

use super::history::History;
use super::registry::{Declaration, Detector, Inputs, Shape, TableDecl};
use super::structure::{Structure, StructureParams, STRUCTURE_PARAMS};
use super::table;
use super::zones::{zone_tables, Zone, ZoneBook};
use crate::error::Result;

/// `kind` code of a order block row.
pub const KIND_ORDER_BLOCK: i32 = 9;

/// The order block detector (reads `structure`).
pub static DECLARATION: Declaration = Declaration {
    name: "order_blocks",
    doc: "order blocks known at the structure break, with breakers as their inverted state",
    params: &STRUCTURE_PARAMS,
    tables: &[
        TableDecl {
            name: "order_blocks",
            columns: &[
                table::COMMON,
                &table::zone_columns("mean_threshold", QUALITY),
            ],
        },
        TableDecl {
            name: "order_blocks_transitions",
            columns: &[table::TRANSITIONS],
        },
    ],
    shape: Shape::Zones,
    kinds: &[(KIND_ORDER_BLOCK, "order_block")],
    inputs: |v| Ok(vec![StructureParams::from_values(v)?.spec()?]),
    build: |_| Ok(Box::new(OrderBlocks::default())),
};

impl Detector for OrderBlocks {
    fn step(&mut self, history: &History, inputs: &Inputs<'_>) -> Result<()> {
        OrderBlocks::step(self, history, inputs.get(0)?);
        Ok(())
    }
    fn undo(&mut self) {
        OrderBlocks::undo(self);
    }
    /// Reads the breaks the current bar made and the swing watched, nothing older.
    fn reads_back(&self) -> bool {
        false
    }
    zone_tables!(|_: &Self| KIND_ORDER_BLOCK, "mean_threshold", QUALITY);
}

/// Quality columns: height in ATR(14) at the break; the candle's share of the volume from it
/// to the break; the break candle's body in ATR.
pub const QUALITY: [&str; 3] = ["size_atr", "volume_share", "break_displacement"];

/// The extreme candle of the leg since the watched swing, and the opposite extreme after it
/// (for an up leg: the lowest low, then the highest high since that low).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Leg {
    swing_id: usize,
    extreme: usize,
    peak: usize,
}

#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
struct Legs {
    /// Lowest low since the watched swing high (the origin of an up leg).
    up: Option<Leg>,
    /// Highest high since the watched swing low.
    down: Option<Leg>,
}

/// Streaming order-block detector (over a structure detector).
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub struct OrderBlocks {
    pub book: ZoneBook,
    legs: Legs,
    saved: Legs,
    /// Per zone: the leg's far end at the break (the highest high after the block's low for
    /// a bullish block) — the other end of the dealing range the break leaves.
    pub peaks: Vec<usize>,
}

impl OrderBlocks {
    /// Processes the newest bar of `history` (`structure` has processed it already).
    pub fn step(&mut self, history: &History, structure: &Structure) {
        let t = history.len() - 1;
        self.saved = self.legs;
        self.book.begin();
        self.book.advance(&history.bar(t), t);
        if let Some(leg) = self.legs.up.as_mut() {
            if history.low(t) <= history.low(leg.extreme) {
                leg.extreme = t;
                leg.peak = t;
            } else if history.high(t) >= history.high(leg.peak) {
                leg.peak = t;
            }
        }
        if let Some(leg) = self.legs.down.as_mut() {
            if history.high(t) >= history.high(leg.extreme) {
                leg.extreme = t;
                leg.peak = t;
            } else if history.low(t) <= history.low(leg.peak) {
                leg.peak = t;
            }
        }
        for b in structure.added() {
            let leg = if b.direction > 0 {
                self.legs.up
            } else {
                self.legs.down
            };
            let Some(leg) = leg.filter(|l| l.swing_id == b.swing_id) else {
                continue;
            };
            let c = leg.extreme;
            let candle = history.bar(c);
            // Summed when a block forms (rarely: 4 per 100 bars on 1m data) rather than
            // kept as running sums, which cost 8 bytes a bar for the whole series.
            let volume: f64 = history.volumes()[c..=t].iter().sum();
            let volume_share = if volume > 0.0 {
                candle.volume / volume
            } else {
                f64::NAN
            };
            let quality = [
                (candle.high - candle.low) / history.atr(t),
                volume_share,
                b.displacement,
            ];
            self.book
                .add(Zone::of_candle(&candle, b.direction, c, t, quality));
            self.peaks.push(leg.peak);
        }
        self.legs.up = follow(history, structure, 1, self.legs.up);
        self.legs.down = follow(history, structure, -1, self.legs.down);
    }

    /// Undoes the last [`OrderBlocks::step`].
    pub fn undo(&mut self) {
        self.book.undo();
        self.legs = self.saved;
        self.peaks.truncate(self.book.zones.len());
    }
}

/// The leg to track for the swing now watched on one side (a new swing: scan from its pivot
/// to now).
fn follow(
    history: &History,
    structure: &Structure,
    direction: i8,
    leg: Option<Leg>,
) -> Option<Leg> {
    let (pivot, swing_id) = structure.watched(direction)?;
    if leg.is_some_and(|l| l.swing_id == swing_id) {
        return leg;
    }
    let (mut extreme, mut peak) = (pivot, pivot);
    for i in pivot..history.len() {
        let (deeper, higher) = if direction > 0 {
            (
                history.low(i) <= history.low(extreme),
                history.high(i) >= history.high(peak),
            )
        } else {
            (
                history.high(i) >= history.high(extreme),
                history.low(i) <= history.low(peak),
            )
        };
        if deeper {
            extreme = i;
            peak = i;
        } else if higher {
            peak = i;
        }
    }
    Some(Leg {
        swing_id,
        extreme,
        peak,
    })
}
