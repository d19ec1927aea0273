//! Displacement: a candle with an unusually large body and small wicks — body at least
//! `min_body_atr` x ATR(14) as of the bar before (so the candle does not dilute its own
//! measure), and body at least `min_body_share` of its range. Known at its close; no ATR, no
//! displacement (the first 14 bars).

use super::history::History;
use super::registry::{self, Declaration, Detector, Shape, TableDecl};
use super::registry::{one_table, steps_alone};
use super::table;
use crate::table::{Column, Dtype, ResultTable};

/// `kind` code of a displacement row.
pub const KIND_DISPLACEMENT: i32 = 8;

/// The displacement detector.
pub static DECLARATION: Declaration = Declaration {
    name: "displacement",
    doc: "large-body, small-wick candles",
    params: &[
        registry::number(
            "min_body_atr",
            DisplacementParams::DEFAULT.min_body_atr,
            "the body is at least this many ATR(14) as of the bar before",
        ),
        registry::number(
            "min_body_share",
            DisplacementParams::DEFAULT.min_body_share,
            "the body is at least this share of the candle's range",
        ),
    ],
    tables: &[TableDecl {
        name: "displacement",
        columns: &[
            table::COMMON,
            &[
                ("top", Dtype::F64),
                ("bottom", Dtype::F64),
                ("body_atr", Dtype::F64),
                ("body_share", Dtype::F64),
            ],
        ],
    }],
    shape: Shape::Events,
    kinds: &[(KIND_DISPLACEMENT, "displacement")],
    inputs: registry::no_inputs,
    build: |v| {
        Ok(Box::new(Displacement::new(DisplacementParams {
            min_body_atr: v.number("min_body_atr")?,
            min_body_share: v.number("min_body_share")?,
        })))
    },
};

impl Detector for Displacement {
    steps_alone!();
    one_table!(events);
}

/// Parameters of [`Displacement`]. Preset "ictcore": 1.5 ATR, body >= 60% of the range.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DisplacementParams {
    pub min_body_atr: f64,
    pub min_body_share: f64,
}

impl DisplacementParams {
    /// Preset "ictcore".
    pub const DEFAULT: Self = Self {
        min_body_atr: 1.5,
        min_body_share: 0.6,
    };
}

impl Default for DisplacementParams {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// One displacement candle.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Event {
    pub bar: usize,
    pub direction: i8,
    pub body_atr: f64,
    pub body_share: f64,
}

/// Streaming displacement detector.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Displacement {
    pub params: DisplacementParams,
    pub events: Vec<Event>,
    before: usize,
}

impl Displacement {
    pub fn new(params: DisplacementParams) -> Self {
        Self {
            params,
            events: Vec::new(),
            before: 0,
        }
    }

    /// Processes the newest bar of `history`.
    pub fn step(&mut self, history: &History) {
        let t = history.len() - 1;
        self.before = self.events.len();
        let Some(atr) = t.checked_sub(1).map(|p| history.atr(p)) else {
            return;
        };
        let bar = history.bar(t);
        let range = bar.high - bar.low;
        let body_atr = bar.body() / atr;
        let body_share = if range > 0.0 { bar.body() / range } else { 0.0 };
        // NaN (no ATR yet) never passes.
        if body_atr >= self.params.min_body_atr && body_share >= self.params.min_body_share {
            self.events.push(Event {
                bar: t,
                direction: if bar.close > bar.open { 1 } else { -1 },
                body_atr,
                body_share,
            });
        }
    }

    /// Undoes the last [`Displacement::step`].
    pub fn undo(&mut self) {
        self.events.truncate(self.before);
    }

    /// Events `start..` as a table: the common columns (anchor = known_at = the candle),
    /// `top`/`bottom` (the candle's high and low), `body_atr`, `body_share`.
    pub fn table(&self, history: &History, start: usize) -> ResultTable {
        let events = &self.events[start.min(self.events.len())..];
        let bars: Vec<i64> = events.iter().map(|e| e.bar as i64).collect();
        let mut columns = super::table::common(
            history,
            (start..start + events.len()).map(|i| i as i64).collect(),
            vec![KIND_DISPLACEMENT; events.len()],
            events.iter().map(|e| i32::from(e.direction)).collect(),
            bars.clone(),
            bars,
        );
        let price = |f: fn(&super::history::Bar) -> f64| -> Vec<f64> {
            events.iter().map(|e| f(&history.bar(e.bar))).collect()
        };
        columns.push(Column::f64("top", price(|b| b.high)));
        columns.push(Column::f64("bottom", price(|b| b.low)));
        columns.push(Column::f64(
            "body_atr",
            events.iter().map(|e| e.body_atr).collect(),
        ));
        columns.push(Column::f64(
            "body_share",
            events.iter().map(|e| e.body_share).collect(),
        ));
        ResultTable::new(columns)
    }
}
