//! Zones built from other detectors' output, with the [`ZoneBook`] lifecycle:
//! - **BPR** (balanced price range): when an FVG forms, the newest FVG of the other direction
//!   formed within `window` bars before it whose range overlaps it; the zone is the overlap
//!   `[max of bottoms, min of tops]`, in the newer gap's direction, known at the newer gap's
//!   bar (preset "ictcore": `window` 10, the TFO variant).
//! - **rejection block**: at a confirmed swing high whose upper wick is at least
//!   `min_wick_body` x its body and at least `min_wick_share` of its range, the zone from the
//!   body's top to the high (a bearish zone); swing lows mirror with the lower wick. Known at
//!   the swing's confirmation (preset: 5 bars each side, wick >= 2 bodies and >= 50% of range).

use super::fvg::{Fvg, FvgParams};
use super::history::History;
use super::lifecycle::State;
use super::swings::{SwingParams, Swings};
use super::zones::{Zone, ZoneBook};

/// Quality columns of a BPR: overlap height in ATR(14); the older and newer gap's ids.
pub const BPR_QUALITY: [&str; 3] = ["size_atr", "older_fvg", "newer_fvg"];

/// Streaming BPR detector (it owns its FVG detector).
pub struct Bpr {
    pub window: usize,
    pub fvg: Fvg,
    pub book: ZoneBook,
}

impl Bpr {
    pub fn new(window: usize) -> Self {
        Self {
            window,
            fvg: Fvg::new(FvgParams::default()),
            book: ZoneBook::default(),
        }
    }

    /// Processes the newest bar of `history`.
    pub fn step(&mut self, history: &History) {
        let t = history.len() - 1;
        self.book.begin();
        self.book.advance(&history.bar(t), t);
        let before = self.fvg.book.zones.len();
        self.fvg.step(history);
        let zones = &self.fvg.book.zones;
        for newer in zones.iter().skip(before) {
            // Gaps are in order of their bar: walk back over the window only.
            let older = zones[..newer.id]
                .iter()
                .rev()
                .take_while(|z| z.known_at + self.window >= t)
                .find(|z| {
                    z.direction != newer.direction
                        && z.bottom.max(newer.bottom) < z.top.min(newer.top)
                });
            let Some(older) = older else { continue };
            let (top, bottom) = (older.top.min(newer.top), older.bottom.max(newer.bottom));
            let zone = Zone {
                id: 0,
                direction: newer.direction,
                anchor: older.anchor,
                known_at: t,
                top,
                bottom,
                mid: bottom + (top - bottom) / 2.0,
                quality: [
                    (top - bottom) / history.atr(t),
                    older.id as f64,
                    newer.id as f64,
                ],
                state: State::Formed,
            };
            self.book.add(zone);
        }
    }

    /// Undoes the last [`Bpr::step`].
    pub fn undo(&mut self) {
        self.fvg.undo();
        self.book.undo();
    }
}

/// Parameters of [`RejectionBlocks`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RejectionParams {
    pub swings: SwingParams,
    pub min_wick_body: f64,
    pub min_wick_share: f64,
}

impl Default for RejectionParams {
    fn default() -> Self {
        Self {
            swings: SwingParams::default(),
            min_wick_body: 2.0,
            min_wick_share: 0.5,
        }
    }
}

/// Quality columns of a rejection block: wick over body; wick share of the range; the
/// swing's id.
pub const REJECTION_QUALITY: [&str; 3] = ["wick_body", "wick_share", "swing_id"];

/// Streaming rejection-block detector (it owns its swing detector).
pub struct RejectionBlocks {
    pub params: RejectionParams,
    pub swings: Swings,
    pub book: ZoneBook,
}

impl RejectionBlocks {
    pub fn new(params: RejectionParams) -> Self {
        Self {
            params,
            swings: Swings::new(params.swings),
            book: ZoneBook::default(),
        }
    }

    /// Processes the newest bar of `history`.
    pub fn step(&mut self, history: &History) {
        let t = history.len() - 1;
        self.book.begin();
        self.book.advance(&history.bar(t), t);
        let confirmed = self.swings.step(history);
        let first = self.swings.events.len() - confirmed;
        for i in first..self.swings.events.len() {
            let s = self.swings.events[i];
            let b = history.bar(s.anchor);
            let (wick, top, bottom) = if s.direction > 0 {
                let body_top = b.open.max(b.close);
                (b.high - body_top, b.high, body_top)
            } else {
                let body_bottom = b.open.min(b.close);
                (body_bottom - b.low, body_bottom, b.low)
            };
            let range = b.high - b.low;
            let body = b.body();
            let wick_body = if body > 0.0 {
                wick / body
            } else {
                f64::INFINITY
            };
            let wick_share = if range > 0.0 { wick / range } else { 0.0 };
            if wick <= 0.0
                || wick_body < self.params.min_wick_body
                || wick_share < self.params.min_wick_share
            {
                continue;
            }
            self.book.add(Zone {
                id: 0,
                // A swing high's wick rejects price from above: a bearish zone.
                direction: -s.direction,
                anchor: s.anchor,
                known_at: t,
                top,
                bottom,
                mid: bottom + (top - bottom) / 2.0,
                quality: [wick_body, wick_share, s.id as f64],
                state: State::Formed,
            });
        }
    }

    /// Undoes the last [`RejectionBlocks::step`].
    pub fn undo(&mut self) {
        self.swings.undo();
        self.book.undo();
    }
}
