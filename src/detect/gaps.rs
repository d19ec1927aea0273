//! Two-candle imbalances, with the [`ZoneBook`] lifecycle:
//! - **volume imbalance**: adjacent bodies do not overlap while the wicks do. Bullish when
//!   `min(open, close)[i] > max(open, close)[i-1]` and `low[i] <= high[i-1]`; the zone is
//!   `[max(open, close)[i-1], min(open, close)[i]]`. Bearish mirrors.
//! - **opening gap**: a wick gap between consecutive bars: bullish when `low[i] > high[i-1]`,
//!   zone `[high[i-1], low[i]]`; bearish mirrors. (Weekly opens, equities, after halts.)
//!
//! Both are drawn at bar i (`anchor = known_at = i`); the mean threshold is the midpoint.

use super::history::{Bar, History};
use super::lifecycle::State;
use super::registry::steps_alone;
use super::registry::{self, Declaration, Detector, Shape, TableDecl};
use super::table;
use super::zones::{zone_tables, Zone, ZoneBook};

/// `kind` code of a volume imbalance row.
pub const KIND_VOLUME_IMBALANCE: i32 = 6;
/// `kind` code of a opening gap row.
pub const KIND_OPENING_GAP: i32 = 7;

/// The volume imbalance detector.
pub static VOLUME_IMBALANCE: Declaration = Declaration {
    name: "volume_imbalance",
    doc: "adjacent bodies that do not overlap while the wicks do, with the zone lifecycle",
    params: &[],
    tables: &[
        TableDecl {
            name: "volume_imbalance",
            columns: &[table::COMMON, &table::zone_columns("mid", QUALITY)],
        },
        TableDecl {
            name: "volume_imbalance_transitions",
            columns: &[table::TRANSITIONS],
        },
    ],
    shape: Shape::Zones,
    kinds: &[(KIND_VOLUME_IMBALANCE, "volume_imbalance")],
    inputs: registry::no_inputs,
    build: |_| Ok(Box::new(Gaps::new(GapKind::VolumeImbalance))),
};

/// The opening gap detector.
pub static OPENING_GAPS: Declaration = Declaration {
    name: "opening_gaps",
    doc: "wick gaps between consecutive bars, with the zone lifecycle",
    params: &[],
    tables: &[
        TableDecl {
            name: "opening_gaps",
            columns: &[table::COMMON, &table::zone_columns("mid", QUALITY)],
        },
        TableDecl {
            name: "opening_gaps_transitions",
            columns: &[table::TRANSITIONS],
        },
    ],
    shape: Shape::Zones,
    kinds: &[(KIND_OPENING_GAP, "opening_gap")],
    inputs: registry::no_inputs,
    build: |_| Ok(Box::new(Gaps::new(GapKind::OpeningGap))),
};

impl Detector for Gaps {
    steps_alone!();
    zone_tables!(
        |g: &Self| match g.kind {
            GapKind::VolumeImbalance => KIND_VOLUME_IMBALANCE,
            GapKind::OpeningGap => KIND_OPENING_GAP,
        },
        "mid",
        QUALITY
    );
}

/// Which two-candle imbalance a [`Gaps`] detector finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum GapKind {
    VolumeImbalance,
    OpeningGap,
}

/// Quality columns: height in ATR(14) as of bar i; bar i's share of the two bars' volume;
/// seconds between the two bars' times (a weekend or a halt shows here).
pub const QUALITY: [&str; 3] = ["size_atr", "volume_share", "elapsed_seconds"];

/// Streaming detector of one [`GapKind`].
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Gaps {
    pub kind: GapKind,
    pub book: ZoneBook,
}

fn body_top(b: &Bar) -> f64 {
    b.open.max(b.close)
}

fn body_bottom(b: &Bar) -> f64 {
    b.open.min(b.close)
}

impl Gaps {
    pub fn new(kind: GapKind) -> Self {
        Self {
            kind,
            book: ZoneBook::default(),
        }
    }

    /// Processes the newest bar of `history`.
    pub fn step(&mut self, history: &History) {
        let t = history.len() - 1;
        self.book.begin();
        let bar = history.bar(t);
        self.book.advance(&bar, t);
        let Some(prev) = t.checked_sub(1).map(|p| history.bar(p)) else {
            return;
        };
        let zone = match self.kind {
            GapKind::VolumeImbalance => {
                if body_bottom(&bar) > body_top(&prev) && bar.low <= prev.high {
                    Some((1i8, body_bottom(&bar), body_top(&prev)))
                } else if body_top(&bar) < body_bottom(&prev) && bar.high >= prev.low {
                    Some((-1i8, body_bottom(&prev), body_top(&bar)))
                } else {
                    None
                }
            }
            GapKind::OpeningGap => {
                if bar.low > prev.high {
                    Some((1i8, bar.low, prev.high))
                } else if bar.high < prev.low {
                    Some((-1i8, prev.low, bar.high))
                } else {
                    None
                }
            }
        };
        let Some((direction, top, bottom)) = zone else {
            return;
        };
        let volume = prev.volume + bar.volume;
        self.book.add(Zone {
            id: 0,
            direction,
            anchor: t,
            known_at: t,
            top,
            bottom,
            mid: bottom + (top - bottom) / 2.0,
            quality: [
                (top - bottom) / history.atr(t),
                if volume > 0.0 {
                    bar.volume / volume
                } else {
                    f64::NAN
                },
                (bar.time - prev.time) as f64 / 1e9,
            ],
            state: State::Formed,
        });
    }

    /// Undoes the last [`Gaps::step`].
    pub fn undo(&mut self) {
        self.book.undo();
    }
}
