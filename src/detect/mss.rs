//! Market structure shift (MSS), coded as `ict-concepts.md` §3.1 proposes: a CHoCH (see
//! [`Structure`]) that comes after a liquidity sweep on the opposite side within
//! `sweep_window` bars (up to and including the break bar) and whose break candle is a
//! displacement (body at least `min_displacement` x ATR(14)). For a bullish MSS: sell-side
//! liquidity swept (a wick below a swing low or pool, close back above), then a close above
//! the swing high. Known at the break bar; the sweep's bar and level are columns.

use super::history::History;
use super::liquidity::{Liquidity, LiquidityParams};
use super::structure::{Break, BreakKind, Structure, StructureParams};
use crate::cache::table::{Column, ResultTable};

/// Parameters of [`Mss`]. Preset "ictcore": structure and liquidity on 5-bar swings, sweeps
/// within 10 bars, displacement >= 1 ATR.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MssParams {
    pub structure: StructureParams,
    pub liquidity: LiquidityParams,
    pub sweep_window: usize,
    pub min_displacement: f64,
}

impl Default for MssParams {
    fn default() -> Self {
        Self {
            structure: StructureParams::default(),
            liquidity: LiquidityParams::default(),
            sweep_window: 10,
            min_displacement: 1.0,
        }
    }
}

/// One MSS: the CHoCH and the sweep before it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shift {
    pub brk: Break,
    pub sweep_bar: usize,
    pub sweep_level: f64,
}

/// Streaming MSS detector (it owns its structure and liquidity detectors).
pub struct Mss {
    pub params: MssParams,
    pub structure: Structure,
    pub liquidity: Liquidity,
    pub rows: Vec<Shift>,
    before: usize,
}

impl Mss {
    pub fn new(params: MssParams) -> Self {
        Self {
            params,
            structure: Structure::new(params.structure),
            liquidity: Liquidity::new(params.liquidity),
            rows: Vec::new(),
            before: 0,
        }
    }

    /// Processes the newest bar of `history`.
    pub fn step(&mut self, history: &History) {
        let t = history.len() - 1;
        self.before = self.rows.len();
        self.liquidity.step(history);
        let breaks = self.structure.step(history);
        let first = self.structure.events.len() - breaks;
        for i in first..self.structure.events.len() {
            let b = self.structure.events[i];
            // NaN displacement (no ATR yet) never qualifies.
            let displaced = b.displacement >= self.params.min_displacement;
            if b.kind != BreakKind::Choch || !displaced {
                continue;
            }
            // The newest sweep of the other side within the window (rows are in bar order).
            let sweep = self
                .liquidity
                .taken
                .iter()
                .rev()
                .take_while(|s| s.known_at + self.params.sweep_window >= t)
                .find(|s| !s.run && s.direction == -b.direction);
            if let Some(s) = sweep {
                self.rows.push(Shift {
                    brk: b,
                    sweep_bar: s.known_at,
                    sweep_level: s.level,
                });
            }
        }
    }

    /// Undoes the last [`Mss::step`].
    pub fn undo(&mut self) {
        self.liquidity.undo();
        self.structure.undo();
        self.rows.truncate(self.before);
    }

    /// Rows `start..`: the structure break's columns (`kind` = mss, `swing_id` in this
    /// detector's structure swings), then `sweep_bar`, `sweep_level`.
    pub fn table(&self, history: &History, start: usize) -> ResultTable {
        let from = start.min(self.rows.len());
        let rows = &self.rows[from..];
        let breaks: Vec<Break> = rows
            .iter()
            .enumerate()
            .map(|(i, r)| Break {
                id: from + i,
                ..r.brk
            })
            .collect();
        let mut t = super::table::breaks(history, &breaks);
        if let Some(kind) = t.columns.iter_mut().find(|c| c.name == "kind") {
            *kind = Column::i32("kind", &vec![super::table::KIND_MSS; rows.len()]);
        }
        t.columns.push(Column::i64(
            "sweep_bar",
            rows.iter().map(|r| r.sweep_bar as i64).collect(),
        ));
        t.columns.push(Column::f64(
            "sweep_level",
            rows.iter().map(|r| r.sweep_level).collect(),
        ));
        t
    }
}
