//! Market structure shift (MSS), coded as `ict-concepts.md` §3.1 proposes: a CHoCH (see
//! [`Structure`]) that comes after a liquidity sweep on the opposite side within
//! `sweep_window` bars (up to and including the break bar) and whose break candle is a
//! displacement (body at least `min_displacement` x ATR(14)). For a bullish MSS: sell-side
//! liquidity swept (a wick below a swing low or pool, close back above), then a close above
//! the swing high. Known at the break bar; the sweep's bar and level are columns.

use super::history::History;
use super::liquidity::{self, Liquidity, LiquidityParams};
use super::registry::one_table;
use super::registry::{self, Declaration, Detector, Inputs, Shape, TableDecl, Values};
use super::structure::{Break, BreakKind, Structure, StructureParams};
use super::table;
use crate::error::Result;
use crate::table::{Column, Dtype, ResultTable};

/// `kind` code of a mss row.
pub const KIND_MSS: i32 = 18;

/// The MSS detector (reads `structure` and `liquidity` on the same swings).
pub static DECLARATION: Declaration = Declaration {
    name: "mss",
    doc: "market structure shifts: a displaced CHoCH after a sweep of the other side",
    params: &[
        registry::SWING_PARAMS[0],
        registry::SWING_PARAMS[1],
        registry::BREAK_ON,
        liquidity::TOLERANCE_ATR,
        liquidity::TOLERANCE_PRICE,
        registry::ParamDecl {
            name: "sweep_window",
            kind: registry::ParamKind::Length {
                default: MssParams::DEFAULT.sweep_window,
                min: 0,
                max: 100_000,
            },
            doc: "the sweep is at most this many bars before the break",
        },
        registry::number(
            "min_displacement",
            MssParams::DEFAULT.min_displacement,
            "the break candle's body is at least this many ATR(14)",
        ),
    ],
    tables: &[TableDecl {
        name: "mss",
        columns: &[
            table::COMMON,
            table::BREAK_COLUMNS,
            &[("sweep_bar", Dtype::I64), ("sweep_level", Dtype::F64)],
        ],
    }],
    shape: Shape::Events,
    kinds: &[(KIND_MSS, "mss")],
    inputs: |v| {
        let p = MssParams::from_values(v)?;
        Ok(vec![p.structure.spec()?, p.liquidity.spec()?])
    },
    build: |v| Ok(Box::new(Mss::new(MssParams::from_values(v)?))),
};

impl Detector for Mss {
    fn step(&mut self, history: &History, inputs: &Inputs<'_>) -> Result<()> {
        Mss::step(self, history, inputs.get(0)?, inputs.get(1)?);
        Ok(())
    }
    fn undo(&mut self) {
        Mss::undo(self);
    }
    one_table!(rows);
}

/// Parameters of [`Mss`]. Preset "ictcore": structure and liquidity on 5-bar swings, sweeps
/// within 10 bars, displacement >= 1 ATR.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MssParams {
    pub structure: StructureParams,
    pub liquidity: LiquidityParams,
    pub sweep_window: usize,
    pub min_displacement: f64,
}

impl MssParams {
    /// Preset "ictcore".
    pub const DEFAULT: Self = Self {
        structure: StructureParams::DEFAULT,
        liquidity: LiquidityParams::DEFAULT,
        sweep_window: 10,
        min_displacement: 1.0,
    };

    /// The parameters of a detector's checked values (liquidity on the structure's swings).
    pub fn from_values(v: &Values) -> Result<Self> {
        let structure = StructureParams::from_values(v)?;
        let liquidity = LiquidityParams::from_values(v)?;
        Ok(Self {
            structure,
            liquidity,
            sweep_window: v.length("sweep_window")?,
            min_displacement: v.number("min_displacement")?,
        })
    }
}

impl Default for MssParams {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// One MSS: the CHoCH and the sweep before it.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Shift {
    pub brk: Break,
    pub sweep_bar: usize,
    pub sweep_level: f64,
}

/// Streaming MSS detector (over a structure and a liquidity detector).
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Mss {
    pub params: MssParams,
    pub rows: Vec<Shift>,
    before: usize,
}

impl Mss {
    pub fn new(params: MssParams) -> Self {
        Self {
            params,
            rows: Vec::new(),
            before: 0,
        }
    }

    /// Processes the newest bar of `history` (`structure` and `liquidity` have processed it
    /// already).
    pub fn step(&mut self, history: &History, structure: &Structure, liquidity: &Liquidity) {
        let t = history.len() - 1;
        self.before = self.rows.len();
        for &b in structure.added() {
            // NaN displacement (no ATR yet) never qualifies.
            let displaced = b.displacement >= self.params.min_displacement;
            if b.kind != BreakKind::Choch || !displaced {
                continue;
            }
            // The newest sweep of the other side within the window (rows are in bar order).
            let sweep = liquidity
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
            *kind = Column::i32("kind", &vec![KIND_MSS; rows.len()]);
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
