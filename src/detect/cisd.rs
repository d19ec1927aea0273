//! CISD (change in state of delivery): after a run of opposite-colour candles that made an
//! extreme, the first close beyond the **open** of the run's first candle.
//!
//! Bullish: a run of at least `min_run` consecutive down-close candles whose lowest low is
//! the lowest low of the `lookback` bars ending with the run (it made a short-term extreme)
//! arms the level = the open of the run's first candle. The first later close above that
//! level (the candle ending the run included) is a bullish CISD, known at its close; each
//! level fires once, and a newer qualifying down run replaces a level still waiting. Bearish
//! mirrors (up-close runs making a high, a close below the first candle's open). A doji ends
//! a run and starts none.
//!
//! Cost: O(1) per bar, plus a scan of `lookback` bars when a run ends.

use super::history::History;
use super::registry::{self, Declaration, Detector, Shape, TableDecl};
use super::registry::{one_table, steps_alone};
use super::table;
use crate::table::{Column, Dtype, ResultTable};

/// `kind` code of a cisd row.
pub const KIND_CISD: i32 = 20;

/// The CISD detector.
pub static DECLARATION: Declaration = Declaration {
    name: "cisd",
    doc: "changes in state of delivery: a close beyond the open of a run that made an extreme",
    params: &[
        registry::swing_length(
            "min_run",
            CisdParams::DEFAULT.min_run,
            "the fewest same-colour candles in a run",
        ),
        registry::swing_length(
            "lookback",
            CisdParams::DEFAULT.lookback,
            "the run's extreme is the extreme of this many bars ending with it",
        ),
    ],
    tables: &[TableDecl {
        name: "cisd",
        columns: &[
            table::COMMON,
            &[
                ("level", Dtype::F64),
                ("extreme", Dtype::F64),
                ("run_length", Dtype::I64),
                ("displacement", Dtype::F64),
            ],
        ],
    }],
    shape: Shape::Events,
    kinds: &[(KIND_CISD, "cisd")],
    inputs: registry::no_inputs,
    build: |v| {
        Ok(Box::new(Cisd::new(CisdParams {
            min_run: v.length("min_run")?,
            lookback: v.length("lookback")?,
        })))
    },
};

impl Detector for Cisd {
    steps_alone!();
    one_table!(events);
}

/// Parameters of [`Cisd`]. Preset "ictcore": runs of at least 2 candles making a 10-bar
/// extreme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CisdParams {
    pub min_run: usize,
    pub lookback: usize,
}

impl CisdParams {
    /// Preset "ictcore".
    pub const DEFAULT: Self = Self {
        min_run: 2,
        lookback: 10,
    };
}

impl Default for CisdParams {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A run of same-colour candles: its colour (+1 up-close, -1 down-close), first bar, length
/// and extreme (the highest high of an up run, the lowest low of a down run).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
struct Run {
    colour: i8,
    first: usize,
    len: usize,
    extreme: f64,
}

/// A level waiting for its CISD close.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
struct Armed {
    level: f64,
    run: Run,
}

#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
struct State {
    run: Option<Run>,
    /// Waiting levels: [bullish (from a down run), bearish (from an up run)].
    armed: [Option<Armed>; 2],
}

/// One CISD.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Event {
    /// +1 bullish (a close above a down run's first open), -1 bearish.
    pub direction: i8,
    /// The run's first candle.
    pub anchor: usize,
    /// The closing candle.
    pub known_at: usize,
    pub level: f64,
    pub extreme: f64,
    pub run_length: usize,
    /// Body of the closing candle in ATR(14).
    pub displacement: f64,
}

/// Streaming CISD detector.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Cisd {
    pub params: CisdParams,
    state: State,
    saved: State,
    pub events: Vec<Event>,
    before: usize,
}

impl Cisd {
    pub fn new(params: CisdParams) -> Self {
        Self {
            params,
            state: State::default(),
            saved: State::default(),
            events: Vec::new(),
            before: 0,
        }
    }

    /// Processes the newest bar of `history`.
    pub fn step(&mut self, history: &History) {
        let t = history.len() - 1;
        self.saved = self.state;
        self.before = self.events.len();
        let bar = history.bar(t);
        let colour: i8 = if bar.close > bar.open {
            1
        } else if bar.close < bar.open {
            -1
        } else {
            0
        };
        let extreme = |c: i8| if c > 0 { bar.high } else { bar.low };
        match self.state.run {
            Some(mut run) if run.colour == colour => {
                run.len += 1;
                run.extreme = if colour > 0 {
                    run.extreme.max(bar.high)
                } else {
                    run.extreme.min(bar.low)
                };
                self.state.run = Some(run);
            }
            previous => {
                if let Some(run) = previous {
                    self.arm(history, run, t - 1);
                }
                self.state.run = (colour != 0).then(|| Run {
                    colour,
                    first: t,
                    len: 1,
                    extreme: extreme(colour),
                });
            }
        }
        for side in 0..2 {
            let Some(armed) = self.state.armed[side] else {
                continue;
            };
            let fires = if side == 0 {
                bar.close > armed.level
            } else {
                bar.close < armed.level
            };
            if fires {
                self.state.armed[side] = None;
                self.events.push(Event {
                    direction: if side == 0 { 1 } else { -1 },
                    anchor: armed.run.first,
                    known_at: t,
                    level: armed.level,
                    extreme: armed.run.extreme,
                    run_length: armed.run.len,
                    displacement: bar.body() / history.atr(t),
                });
            }
        }
    }

    /// A run ended at bar `last`: arm its first open if it is long enough and made the
    /// extreme of the `lookback` bars ending with it.
    fn arm(&mut self, history: &History, run: Run, last: usize) {
        if run.len < self.params.min_run {
            return;
        }
        let from = (last + 1).saturating_sub(self.params.lookback);
        let made_extreme = if run.colour > 0 {
            history.highs()[from..=last]
                .iter()
                .all(|&h| h <= run.extreme)
        } else {
            history.lows()[from..=last]
                .iter()
                .all(|&l| l >= run.extreme)
        };
        if made_extreme {
            // A down run arms the bullish side.
            let side = usize::from(run.colour > 0);
            self.state.armed[side] = Some(Armed {
                level: history.bar(run.first).open,
                run,
            });
        }
    }

    /// Undoes the last [`Cisd::step`].
    pub fn undo(&mut self) {
        self.state = self.saved;
        self.events.truncate(self.before);
    }

    /// Events `start..` as a table: the common columns (`anchor` = the run's first candle),
    /// `level`, `extreme`, `run_length`, `displacement`.
    pub fn table(&self, history: &History, start: usize) -> ResultTable {
        let events = &self.events[start.min(self.events.len())..];
        let mut columns = super::table::common(
            history,
            (start..start + events.len()).map(|i| i as i64).collect(),
            vec![KIND_CISD; events.len()],
            events.iter().map(|e| i32::from(e.direction)).collect(),
            events.iter().map(|e| e.anchor as i64).collect(),
            events.iter().map(|e| e.known_at as i64).collect(),
        );
        columns.push(Column::f64(
            "level",
            events.iter().map(|e| e.level).collect(),
        ));
        columns.push(Column::f64(
            "extreme",
            events.iter().map(|e| e.extreme).collect(),
        ));
        columns.push(Column::i64(
            "run_length",
            events.iter().map(|e| e.run_length as i64).collect(),
        ));
        columns.push(Column::f64(
            "displacement",
            events.iter().map(|e| e.displacement).collect(),
        ));
        ResultTable::new(columns)
    }
}
