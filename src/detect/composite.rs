//! Zones built from other detectors' output, with the [`ZoneBook`] lifecycle:
//! - **BPR** (balanced price range): when an FVG forms, the newest FVG of the other direction
//!   formed within `window` bars before it whose range overlaps it; the zone is the overlap
//!   `[max of bottoms, min of tops]`, in the newer gap's direction, known at the newer gap's
//!   bar (preset "ictcore": `window` 10, the TFO variant).
//! - **rejection block**: at a confirmed swing high whose upper wick is at least
//!   `min_wick_body` x its body and at least `min_wick_share` of its range, the zone from the
//!   body's top to the high (a bearish zone); swing lows mirror with the lower wick. Known at
//!   the swing's confirmation (preset: 5 bars each side, wick >= 2 bodies and >= 50% of range).

use super::fvg::Fvg;
use super::history::History;
use super::lifecycle::State;
use super::registry::{
    self, Declaration, Detector, Inputs, NativeSpec, ParamDecl, ParamKind, Shape, TableDecl,
};
use super::swings::{SwingParams, Swings};
use super::table;
use super::zones::{zone_tables, Zone, ZoneBook};
use crate::error::Result;

/// `kind` code of a bpr row.
pub const KIND_BPR: i32 = 15;
/// `kind` code of a rejection block row.
pub const KIND_REJECTION_BLOCK: i32 = 16;

/// The BPR detector (reads `fvg` with its default parameters).
pub static BPR: Declaration = Declaration {
    name: "bpr",
    doc: "balanced price ranges: overlapping opposite FVGs",
    params: &[ParamDecl {
        name: "window",
        kind: ParamKind::Length {
            default: 10,
            min: 0,
            max: 100_000,
        },
        doc: "the older FVG formed at most this many bars before the newer one",
    }],
    tables: &[
        TableDecl {
            name: "bpr",
            columns: &[table::COMMON, &table::zone_columns("mid", BPR_QUALITY)],
        },
        TableDecl {
            name: "bpr_transitions",
            columns: &[table::TRANSITIONS],
        },
    ],
    shape: Shape::Zones,
    kinds: &[(KIND_BPR, "bpr")],
    inputs: |_| Ok(vec![NativeSpec::with("fvg", &[])?]),
    build: |v| Ok(Box::new(Bpr::new(v.length("window")?))),
};

/// The rejection block detector (reads `swings`).
pub static REJECTION_BLOCKS: Declaration = Declaration {
    name: "rejection_blocks",
    doc: "long-wick swings: the zone from the body to the extreme",
    params: &[
        registry::SWING_PARAMS[0],
        registry::SWING_PARAMS[1],
        registry::number(
            "min_wick_body",
            RejectionParams::DEFAULT.min_wick_body,
            "the wick is at least this many bodies",
        ),
        registry::number(
            "min_wick_share",
            RejectionParams::DEFAULT.min_wick_share,
            "the wick is at least this share of the candle's range",
        ),
    ],
    tables: &[
        TableDecl {
            name: "rejection_blocks",
            columns: &[
                table::COMMON,
                &table::zone_columns("mid", REJECTION_QUALITY),
            ],
        },
        TableDecl {
            name: "rejection_blocks_transitions",
            columns: &[table::TRANSITIONS],
        },
    ],
    shape: Shape::Zones,
    kinds: &[(KIND_REJECTION_BLOCK, "rejection_block")],
    inputs: |v| {
        let swings = SwingParams::from_values(v)?;
        Ok(vec![NativeSpec::with("swings", &swings.as_params())?])
    },
    build: |v| {
        Ok(Box::new(RejectionBlocks::new(RejectionParams {
            swings: SwingParams::from_values(v)?,
            min_wick_body: v.number("min_wick_body")?,
            min_wick_share: v.number("min_wick_share")?,
        })))
    },
};

impl Detector for Bpr {
    fn step(&mut self, history: &History, inputs: &Inputs<'_>) -> Result<()> {
        Bpr::step(self, history, inputs.get(0)?);
        Ok(())
    }
    fn undo(&mut self) {
        Bpr::undo(self);
    }
    zone_tables!(|_: &Self| KIND_BPR, "mid", BPR_QUALITY);
}

impl Detector for RejectionBlocks {
    fn step(&mut self, history: &History, inputs: &Inputs<'_>) -> Result<()> {
        RejectionBlocks::step(self, history, inputs.get(0)?);
        Ok(())
    }
    fn undo(&mut self) {
        RejectionBlocks::undo(self);
    }
    zone_tables!(|_: &Self| KIND_REJECTION_BLOCK, "mid", REJECTION_QUALITY);
}

/// Quality columns of a BPR: overlap height in ATR(14); the older and newer gap's ids.
pub const BPR_QUALITY: [&str; 3] = ["size_atr", "older_fvg", "newer_fvg"];

/// Streaming BPR detector (over an FVG detector).
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Bpr {
    pub window: usize,
    pub book: ZoneBook,
}

impl Bpr {
    pub fn new(window: usize) -> Self {
        Self {
            window,
            book: ZoneBook::default(),
        }
    }

    /// Processes the newest bar of `history` (`fvg` has processed it already).
    pub fn step(&mut self, history: &History, fvg: &Fvg) {
        let t = history.len() - 1;
        self.book.begin();
        self.book.advance(&history.bar(t), t);
        let zones = fvg.book.zones.as_slice();
        for newer in &zones[fvg.book.added()] {
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
        self.book.undo();
    }
}

/// Parameters of [`RejectionBlocks`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RejectionParams {
    pub swings: SwingParams,
    pub min_wick_body: f64,
    pub min_wick_share: f64,
}

impl RejectionParams {
    /// Preset "ictcore".
    pub const DEFAULT: Self = Self {
        swings: SwingParams::DEFAULT,
        min_wick_body: 2.0,
        min_wick_share: 0.5,
    };
}

impl Default for RejectionParams {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Quality columns of a rejection block: wick over body; wick share of the range; the
/// swing's id.
pub const REJECTION_QUALITY: [&str; 3] = ["wick_body", "wick_share", "swing_id"];

/// Streaming rejection-block detector (over a swings detector).
#[derive(serde::Serialize, serde::Deserialize)]
pub struct RejectionBlocks {
    pub params: RejectionParams,
    pub book: ZoneBook,
}

impl RejectionBlocks {
    pub fn new(params: RejectionParams) -> Self {
        Self {
            params,
            book: ZoneBook::default(),
        }
    }

    /// Processes the newest bar of `history` (`swings` has processed it already).
    pub fn step(&mut self, history: &History, swings: &Swings) {
        let t = history.len() - 1;
        self.book.begin();
        self.book.advance(&history.bar(t), t);
        for &s in swings.added() {
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
        self.book.undo();
    }
}
