//! Break of structure (BOS) and change of character (CHoCH), stamped at the **break** bar.
//!
//! The level watched on each side is the most recent confirmed swing of that side that has
//! not been broken (a newer swing replaces it; each swing breaks at most once). A break is
//! the first bar after the swing's confirmation whose close (or, with `BreakOn::Wick`, whose
//! high / low) goes beyond the level. A break in the direction of the current trend state is
//! a BOS; against it, a CHoCH, which flips the state; the very first break is a BOS marked
//! `initial`. Within one bar, breaks are checked before the swings that bar confirms (a swing
//! cannot be broken on the bar that confirms it: its pivot exceeds every later bar so far).

use super::history::History;
use super::registry::one_table;
use super::registry::{self, Declaration, Detector, Inputs, NativeSpec, Shape, TableDecl, Values};
use super::swings::{SwingParams, Swings};
use super::table;
use crate::error::Result;
use crate::param::Param;
use crate::table::{Column, ResultTable};

/// The structure detector (reads `swings`).
pub static DECLARATION: Declaration = Declaration {
    name: "structure",
    doc: "BOS and CHoCH stamped at the break bar",
    params: &STRUCTURE_PARAMS,
    tables: &[TableDecl {
        name: "structure",
        columns: &[table::COMMON, table::BREAK_COLUMNS],
    }],
    shape: Shape::Events,
    kinds: &[(3, "bos"), (4, "choch")],
    inputs: |v| Ok(vec![StructureParams::from_values(v)?.swings_spec()?]),
    build: |v| Ok(Box::new(Structure::new(StructureParams::from_values(v)?))),
};

/// `left`, `right`, `break_on`: the parameters of every structure-based detector.
pub const STRUCTURE_PARAMS: [registry::ParamDecl; 3] = [
    registry::SWING_PARAMS[0],
    registry::SWING_PARAMS[1],
    registry::BREAK_ON,
];

impl StructureParams {
    /// `left`, `right` and `break_on` of a detector's checked parameters.
    pub fn from_values(v: &Values) -> Result<Self> {
        Ok(Self {
            swings: SwingParams::from_values(v)?,
            break_on: BreakOn::parse(v.text("break_on")?),
        })
    }

    /// The swings detector it reads.
    pub fn swings_spec(&self) -> Result<NativeSpec> {
        NativeSpec::with("swings", &self.swings.as_params())
    }

    /// As parameters of the structure detector (for declaring it as an input).
    pub fn as_params(&self) -> [(&'static str, Param); 3] {
        let [left, right] = self.swings.as_params();
        [
            left,
            right,
            ("break_on", Param::Str(self.break_on.name().into())),
        ]
    }

    /// The structure detector with these parameters.
    pub fn spec(&self) -> Result<NativeSpec> {
        NativeSpec::with("structure", &self.as_params())
    }
}

impl BreakOn {
    /// A checked `break_on` value ("wick", else "close").
    fn parse(text: &str) -> Self {
        if text == "wick" {
            BreakOn::Wick
        } else {
            BreakOn::Close
        }
    }

    fn name(self) -> &'static str {
        match self {
            BreakOn::Close => "close",
            BreakOn::Wick => "wick",
        }
    }
}

impl Detector for Structure {
    fn step(&mut self, history: &History, inputs: &Inputs<'_>) -> Result<()> {
        Structure::step(self, history, inputs.get::<Swings>(0)?);
        Ok(())
    }
    fn undo(&mut self) {
        Structure::undo(self);
    }
    one_table!(events);
    fn forget(&mut self, _: usize, upto: usize) {
        self.events.forget_before(upto);
    }
    /// Reads the swings the current bar confirmed, nothing older.
    fn reads_back(&self) -> bool {
        false
    }
}

/// What counts as going beyond a level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum BreakOn {
    Close,
    Wick,
}

/// Parameters of [`Structure`]. Preset "ictcore": swings of 5 bars each side, close breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StructureParams {
    pub swings: SwingParams,
    pub break_on: BreakOn,
}

impl StructureParams {
    /// Preset "ictcore".
    pub const DEFAULT: Self = Self {
        swings: SwingParams::DEFAULT,
        break_on: BreakOn::Close,
    };
}

impl Default for StructureParams {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// BOS or CHoCH.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[repr(i32)]
pub enum BreakKind {
    Bos = 1,
    Choch = 2,
}

/// One structure break.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Break {
    pub id: usize,
    pub kind: BreakKind,
    /// +1 up (a swing high broken), -1 down.
    pub direction: i8,
    /// The broken swing's pivot bar (where the level is drawn from).
    pub anchor: usize,
    /// The break bar.
    pub known_at: usize,
    pub level: f64,
    /// Id of the broken swing in this detector's swing table.
    pub swing_id: usize,
    /// The first break of the series (no trend state before it).
    pub initial: bool,
    /// Body of the break candle in ATR (NaN before the ATR exists).
    pub displacement: f64,
}

#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
struct Watched {
    level: f64,
    anchor: usize,
    swing_id: usize,
}

#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
struct State {
    high: Option<Watched>,
    low: Option<Watched>,
    /// +1 bullish, -1 bearish, 0 before the first break.
    trend: i8,
}

/// Streaming BOS/CHoCH detector (over a swings detector with its swing parameters).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Structure {
    pub params: StructureParams,
    state: State,
    saved: State,
    events_before: usize,
    /// Every break logged (the table); the oldest may be dropped once handed out.
    pub events: super::log::Log<Break>,
}

impl Structure {
    pub fn new(params: StructureParams) -> Self {
        let state = State {
            high: None,
            low: None,
            trend: 0,
        };
        Self {
            params,
            state,
            saved: state,
            events_before: 0,
            events: super::log::Log::default(),
        }
    }

    /// Processes the newest bar of `history` (`swings` has processed it already); returns
    /// how many breaks it produced.
    pub fn step(&mut self, history: &History, swings: &Swings) -> usize {
        let t = history.len() - 1;
        self.saved = self.state;
        self.events_before = self.events.len();
        let bar = history.bar(t);
        let (up, down) = match self.params.break_on {
            BreakOn::Close => (bar.close, bar.close),
            BreakOn::Wick => (bar.high, bar.low),
        };
        let displacement = bar.body() / history.atr(t);
        if let Some(w) = self.state.high.filter(|w| up > w.level) {
            self.record(1, w, t, displacement);
            self.state.high = None;
        }
        if let Some(w) = self.state.low.filter(|w| down < w.level) {
            self.record(-1, w, t, displacement);
            self.state.low = None;
        }
        for s in swings.added() {
            let watched = Some(Watched {
                level: s.level,
                anchor: s.anchor,
                swing_id: s.id,
            });
            if s.direction > 0 {
                self.state.high = watched;
            } else {
                self.state.low = watched;
            }
        }
        self.events.len() - self.events_before
    }

    fn record(&mut self, direction: i8, w: Watched, t: usize, displacement: f64) {
        let trend = self.state.trend;
        let kind = if trend == 0 || trend == direction {
            BreakKind::Bos
        } else {
            BreakKind::Choch
        };
        self.events.push(Break {
            id: self.events.len(),
            kind,
            direction,
            anchor: w.anchor,
            known_at: t,
            level: w.level,
            swing_id: w.swing_id,
            initial: trend == 0,
            displacement,
        });
        self.state.trend = direction;
    }

    /// The swing watched for an up (+1) or down (-1) break: (its pivot bar, its swing id).
    pub fn watched(&self, direction: i8) -> Option<(usize, usize)> {
        let w = if direction > 0 {
            self.state.high
        } else {
            self.state.low
        };
        w.map(|w| (w.anchor, w.swing_id))
    }

    /// Breaks `start..` as a table.
    pub fn table(&self, history: &History, start: usize) -> ResultTable {
        table::breaks(history, self.events.from(start.min(self.events.len())))
    }

    /// The breaks the current bar produced.
    pub fn added(&self) -> &[Break] {
        self.events.from(self.events_before.min(self.events.len()))
    }

    /// The level watched for an up (+1) or down (-1) break before the current bar.
    pub fn watched_level_before(&self, direction: i8) -> Option<f64> {
        let w = if direction > 0 {
            self.saved.high
        } else {
            self.saved.low
        };
        w.map(|w| w.level)
    }

    /// Undoes the last [`Structure::step`].
    pub fn undo(&mut self) {
        self.state = self.saved;
        self.events.truncate(self.events_before);
    }
}

/// Internal and swing structure as one table (reads two `structure` detectors).
pub static LAYERS: Declaration = Declaration {
    name: "structure_layers",
    doc: "internal and swing structure in one table",
    params: &[
        registry::swing_length("internal_left", 5, "internal layer: bars before a pivot"),
        registry::swing_length("internal_right", 5, "internal layer: bars after a pivot"),
        registry::swing_length("swing_left", 50, "swing layer: bars before a pivot"),
        registry::swing_length("swing_right", 50, "swing layer: bars after a pivot"),
        registry::BREAK_ON,
    ],
    tables: &[TableDecl {
        name: "structure_layers",
        columns: &[
            table::COMMON,
            table::BREAK_COLUMNS,
            &[("layer", crate::table::Dtype::I32)],
        ],
    }],
    shape: Shape::Events,
    kinds: &[(3, "bos"), (4, "choch")],
    inputs: |v| {
        let (internal, swing) = layer_params(v)?;
        Ok(vec![internal.spec()?, swing.spec()?])
    },
    build: |_| Ok(Box::new(StructureLayers::default())),
};

fn layer_params(v: &Values) -> Result<(StructureParams, StructureParams)> {
    let break_on = BreakOn::parse(v.text("break_on")?);
    let layer = |left: &str, right: &str| -> Result<StructureParams> {
        Ok(StructureParams {
            swings: SwingParams {
                left: v.length(left)?,
                right: v.length(right)?,
            },
            break_on,
        })
    };
    Ok((
        layer("internal_left", "internal_right")?,
        layer("swing_left", "swing_right")?,
    ))
}

/// Internal and swing structure as one table: two independent layers (short and long swing
/// lengths, LuxAlgo's 5 and 50 by default). An internal break whose level is the level the
/// swing layer was watching on that side is not reported twice: it is the swing layer's.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct StructureLayers {
    /// (layer: 0 internal, 1 swing; the break as its layer reported it).
    pub rows: Vec<(u8, Break)>,
    before: usize,
}

impl StructureLayers {
    /// Processes the newest bar of `history` (both layers have processed it already).
    pub fn step(&mut self, internal: &Structure, swing: &Structure) {
        self.before = self.rows.len();
        let swing_levels = [
            swing.watched_level_before(1),
            swing.watched_level_before(-1),
        ];
        for b in internal.added() {
            let side = usize::from(b.direction < 0);
            if swing_levels[side] != Some(b.level) {
                self.rows.push((0, *b));
            }
        }
        for b in swing.added() {
            self.rows.push((1, *b));
        }
    }

    /// Undoes the last [`StructureLayers::step`].
    pub fn undo(&mut self) {
        self.rows.truncate(self.before);
    }
}

impl Detector for StructureLayers {
    fn step(&mut self, _: &History, inputs: &Inputs<'_>) -> Result<()> {
        StructureLayers::step(self, inputs.get(0)?, inputs.get(1)?);
        Ok(())
    }
    /// Reads the breaks the current bar made and the levels watched, nothing older.
    fn reads_back(&self) -> bool {
        false
    }
    fn undo(&mut self) {
        StructureLayers::undo(self);
    }
    fn rows(&self, _: usize) -> usize {
        self.rows.len()
    }
    fn table(&self, history: &History, _: usize, start: usize) -> ResultTable {
        let from = start.min(self.rows.len());
        let rows = &self.rows[from..];
        // Row ids for the combined table; `swing_id` stays the layer's own.
        let breaks: Vec<_> = rows
            .iter()
            .enumerate()
            .map(|(i, (_, b))| Break { id: from + i, ..*b })
            .collect();
        let mut t = table::breaks(history, &breaks);
        let layers: Vec<i32> = rows.iter().map(|(l, _)| i32::from(*l)).collect();
        t.columns.push(Column::i32("layer", &layers));
        t
    }
}
