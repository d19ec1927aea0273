//! Mitigation blocks: the zone a **failure swing** leaves when structure then breaks.
//!
//! Bearish: a swing high H1, a swing low L after it, a **lower** high H2 after L (price failed
//! to take H1's buy-side liquidity — no sweep), then a break of L (a close below it, or a wick
//! with `BreakOn::Wick`; the [`Structure`] detector's break). The zone is the last up-close
//! candle at or before H2's pivot, back to L's pivot — the candle price failed from. Its range
//! is the zone, its mean threshold 50% of its body; it is known at the break bar. Bullish
//! mirrors: a low L1, a high H, a **higher** low L2, a close above H; the last down-close
//! candle at or before L2.
//!
//! The same shape with H2 *above* H1 (the high swept first) is the breaker case: there the
//! order block the sweep left is the zone, and [`super::order_blocks`] reports it as that
//! block's inverted state. An equal high is neither.
//!
//! Only swings known before the break bar count (the break is checked before the swings that
//! bar confirms, as in [`Structure`]). The [`ZoneBook`] lifecycle follows (a bearish block:
//! touched when a high trades back up into it, mean threshold, filled, inverted on a close
//! above its top, dead on a close back below its bottom).
//!
//! Cost: a binary search for H1 per break, and a backward scan for the candle over bars that
//! successive breaks share at most `right` of (watched swings only move forward).

use super::history::History;
use super::registry::{Declaration, Detector, Inputs, Shape, TableDecl};
use super::structure::{Break, Structure, StructureParams, STRUCTURE_PARAMS};
use super::swings::Swings;
use super::table;
use super::zones::{zone_tables, Zone, ZoneBook};
use crate::error::Result;

/// `kind` code of a mitigation block row.
pub const KIND_MITIGATION_BLOCK: i32 = 19;

/// The mitigation block detector (reads `structure` and its `swings`).
pub static DECLARATION: Declaration = Declaration {
    name: "mitigation_blocks",
    doc: "the zone a failure swing leaves when structure then breaks",
    params: &STRUCTURE_PARAMS,
    tables: &[
        TableDecl {
            name: "mitigation_blocks",
            columns: &[
                table::COMMON,
                &table::zone_columns("mean_threshold", QUALITY),
            ],
        },
        TableDecl {
            name: "mitigation_blocks_transitions",
            columns: &[table::TRANSITIONS],
        },
    ],
    shape: Shape::Zones,
    kinds: &[(KIND_MITIGATION_BLOCK, "mitigation_block")],
    inputs: |v| {
        let p = StructureParams::from_values(v)?;
        Ok(vec![p.spec()?, p.swings_spec()?])
    },
    build: |_| Ok(Box::new(MitigationBlocks::default())),
};

impl Detector for MitigationBlocks {
    fn step(&mut self, history: &History, inputs: &Inputs<'_>) -> Result<()> {
        MitigationBlocks::step(self, history, inputs.get(0)?, inputs.get(1)?);
        Ok(())
    }
    fn undo(&mut self) {
        MitigationBlocks::undo(self);
    }
    zone_tables!(|_: &Self| KIND_MITIGATION_BLOCK, "mean_threshold", QUALITY);
}

/// Quality columns: the candle's height in ATR(14) at the break; how far the failure swing
/// fell short of the swing before it, in ATR; the break candle's body in ATR.
pub const QUALITY: [&str; 3] = ["size_atr", "shortfall_atr", "break_displacement"];

/// Streaming mitigation-block detector (over a structure detector and its swings).
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub struct MitigationBlocks {
    pub book: ZoneBook,
    /// Swing ids of the highs / lows known before the current bar, oldest first.
    highs: Vec<usize>,
    lows: Vec<usize>,
    /// Swings known before the current bar (what an undo returns to).
    swings_before: usize,
}

impl MitigationBlocks {
    /// Processes the newest bar of `history` (`structure` and `swings`, the swings it reads,
    /// have processed it already).
    pub fn step(&mut self, history: &History, structure: &Structure, swings: &Swings) {
        let t = history.len() - 1;
        self.book.begin();
        self.book.advance(&history.bar(t), t);
        let added = swings.added();
        self.swings_before = swings.events.len() - added.len();
        for b in structure.added() {
            if let Some(zone) = self.block(history, swings.events.as_slice(), b, t) {
                self.book.add(zone);
            }
        }
        for s in added {
            if s.direction > 0 {
                self.highs.push(s.id);
            } else {
                self.lows.push(s.id);
            }
        }
    }

    /// The block break `b` at `t` leaves, if the swing before it was a failure swing.
    fn block(
        &self,
        history: &History,
        swings: &[super::swings::Swing],
        b: &Break,
        t: usize,
    ) -> Option<Zone> {
        let broken = swings.get(b.swing_id)?;
        // The failure side: highs for a down break, lows for an up break.
        let failed = if b.direction < 0 {
            &self.highs
        } else {
            &self.lows
        };
        let second = swings.get(*failed.last()?)?;
        if second.anchor <= broken.anchor {
            return None;
        }
        let before = failed.partition_point(|&id| swings[id].anchor < broken.anchor);
        let first = swings.get(failed[before.checked_sub(1)?])?;
        // A down break needs a lower high (a bearish failure), an up break a higher low.
        let shortfall = (first.level - second.level) * f64::from(-b.direction);
        if shortfall <= 0.0 {
            return None;
        }
        let wanted_up = b.direction < 0;
        let c = (broken.anchor..=second.anchor).rev().find(|&i| {
            let bar = history.bar(i);
            if wanted_up {
                bar.close > bar.open
            } else {
                bar.close < bar.open
            }
        })?;
        let candle = history.bar(c);
        let atr = history.atr(t);
        let quality = [
            (candle.high - candle.low) / atr,
            shortfall / atr,
            b.displacement,
        ];
        Some(Zone::of_candle(&candle, b.direction, c, t, quality))
    }

    /// Undoes the last [`MitigationBlocks::step`].
    pub fn undo(&mut self) {
        self.book.undo();
        let known = self.swings_before;
        for side in [&mut self.highs, &mut self.lows] {
            while side.last().is_some_and(|&id| id >= known) {
                side.pop();
            }
        }
    }
}
