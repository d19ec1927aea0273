//! Swing points: a pivot high at bar p has `high[p] >=` each of the `left` highs before it and
//! `>` each of the `right` highs after it (lows mirror), so it is known at the close of bar
//! `p + right`. Labels compare a swing with the previous swing of its type: HH / LH / EH
//! (equal high) for highs, HL / LL / EL for lows.
//!
//! Short windows (`left + right <=` [`SCAN_MAX`]) are checked directly: at each bar the
//! candidate `p = t - right` is compared with its neighbours, nearest right ones first, so
//! almost every bar is rejected after a comparison or two and nothing needs undoing.
//!
//! Longer windows stream in amortised O(1) per bar: a monotonic stack of bars not yet beaten
//! from the right. A bar beaten by a later bar within `right` bars is popped (it cannot be a pivot);
//! when a bar is pushed, the bar below it on the stack is its nearest strictly higher bar to
//! the left, which decides the left condition. Every pop and prune is journaled, so the
//! newest bar can be undone (a revised forming candle) without copying the stack.

use super::history::History;
use super::registry::{self, Declaration, Detector, Shape, TableDecl, Values};
use super::registry::{one_table, steps_alone};
use super::table;
use crate::error::Result;
use crate::table::ResultTable;
use std::collections::VecDeque;

/// The swings detector.
pub static DECLARATION: Declaration = Declaration {
    name: "swings",
    doc: "pivot highs and lows, labelled HH/LH/EH and HL/LL/EL",
    params: &registry::SWING_PARAMS,
    tables: &[TableDecl {
        name: "swings",
        columns: &[table::COMMON, table::SWING_COLUMNS],
    }],
    shape: Shape::Events,
    kinds: &[(1, "swing_high"), (2, "swing_low")],
    inputs: registry::no_inputs,
    build: |v| Ok(Box::new(Swings::new(SwingParams::from_values(v)?))),
};

impl SwingParams {
    /// `left` and `right` of a detector's checked parameters.
    pub fn from_values(v: &Values) -> Result<Self> {
        Ok(Self {
            left: v.length("left")?,
            right: v.length("right")?,
        })
    }

    /// As parameters of the swings detector (for declaring it as an input).
    pub fn as_params(&self) -> [(&'static str, crate::param::Param); 2] {
        [
            ("left", registry::length_value(self.left)),
            ("right", registry::length_value(self.right)),
        ]
    }
}

impl Detector for Swings {
    steps_alone!();
    one_table!(events);
    fn forget(&mut self, _: usize, upto: usize) {
        self.events.forget_before(upto);
    }
}

/// Parameters of [`Swings`]. Preset "ictcore": 5 bars each side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SwingParams {
    pub left: usize,
    pub right: usize,
}

impl SwingParams {
    /// Preset "ictcore".
    pub const DEFAULT: Self = Self { left: 5, right: 5 };
}

impl Default for SwingParams {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// How a swing compares with the previous swing of its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[repr(i32)]
pub enum Label {
    /// The first swing of its type.
    First = 0,
    HigherHigh = 1,
    LowerHigh = 2,
    EqualHigh = 3,
    HigherLow = 4,
    LowerLow = 5,
    EqualLow = 6,
}

/// One confirmed swing point.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Swing {
    pub id: usize,
    /// +1 swing high, -1 swing low.
    pub direction: i8,
    /// The pivot bar.
    pub anchor: usize,
    /// The bar at whose close the pivot is confirmed (`anchor + right`).
    pub known_at: usize,
    pub level: f64,
    pub label: Label,
}

/// Windows up to this many bars in all are checked directly (bounded work per bar, no state);
/// longer ones use the monotonic stacks.
pub const SCAN_MAX: usize = 128;

/// Whether bar `q` is a pivot high (`sign` +1) or low (-1) of `p`, by direct comparison with
/// its neighbours as of bar `q + p.right` (which must be visible; `q >= p.left`).
fn is_pivot(history: &History, q: usize, p: SwingParams, sign: f64) -> bool {
    let values = if sign > 0.0 {
        history.highs()
    } else {
        history.lows()
    };
    let key = values[q] * sign;
    values[q + 1..=q + p.right].iter().all(|&v| v * sign < key)
        && values[q - p.left..q].iter().rev().all(|&v| v * sign <= key)
}

/// One side (highs, or lows as negated keys) of the pivot search.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Side {
    sign: f64,
    stack: VecDeque<usize>,
    /// Per bar (ring indexed by `bar & mask`): still unbeaten from the right, and the left
    /// condition held when it was pushed.
    alive: Vec<bool>,
    left_ok: Vec<bool>,
    /// Ring length - 1 (the length is a power of two: a mask, not a division, per access).
    mask: usize,
    /// Undo journal of the newest bar: bars popped from the back, bars pruned from the front.
    popped: Vec<usize>,
    pruned: Vec<usize>,
}

impl Side {
    fn new(sign: f64, ring: usize) -> Self {
        Self {
            sign,
            stack: VecDeque::new(),
            alive: vec![false; ring],
            left_ok: vec![false; ring],
            mask: ring - 1,
            popped: Vec::new(),
            pruned: Vec::new(),
        }
    }

    fn key(&self, history: &History, i: usize) -> f64 {
        if self.sign > 0.0 {
            history.high(i)
        } else {
            -history.low(i)
        }
    }

    /// Processes bar `t`; returns the pivot confirmed at `t`, if any.
    fn step(&mut self, history: &History, t: usize, p: SwingParams) -> Option<usize> {
        self.popped.clear();
        self.pruned.clear();
        let ring = self.mask;
        let key = self.key(history, t);
        while let Some(&j) = self.stack.back() {
            if self.key(history, j) > key {
                break;
            }
            self.stack.pop_back();
            self.alive[j & ring] = false;
            self.popped.push(j);
        }
        // The bar below is the nearest strictly higher one to the left (or none within reach).
        let left_ok = t >= p.left && self.stack.back().is_none_or(|&j| t - j > p.left);
        self.stack.push_back(t);
        self.alive[t & ring] = true;
        self.left_ok[t & ring] = left_ok;
        // Bars further back than either window can no longer decide anything.
        let horizon = p.left.max(p.right) + 1;
        while let Some(&j) = self.stack.front() {
            if j + horizon >= t {
                break;
            }
            self.stack.pop_front();
            self.pruned.push(j);
        }
        let pivot = t.checked_sub(p.right)?;
        (self.alive[pivot & ring] && self.left_ok[pivot & ring]).then_some(pivot)
    }

    /// Undoes the last [`Side::step`] (bar `t`).
    fn undo(&mut self) {
        let ring = self.mask;
        for &j in self.pruned.iter().rev() {
            self.stack.push_front(j);
        }
        self.stack.pop_back();
        for &j in self.popped.iter().rev() {
            self.stack.push_back(j);
            self.alive[j & ring] = true;
        }
        self.popped.clear();
        self.pruned.clear();
    }
}

/// The small state saved before each bar.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
struct Last {
    high: Option<f64>,
    low: Option<f64>,
}

/// Streaming swing detector; [`swings`] is its fold over a series.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Swings {
    pub params: SwingParams,
    /// Direct checks (short windows) instead of the stacks.
    scan: bool,
    highs: Side,
    lows: Side,
    last: Last,
    saved: Last,
    events_before: usize,
    /// Every swing logged (the table); the oldest may be dropped once handed out.
    pub events: super::log::Log<Swing>,
}

impl Swings {
    pub fn new(params: SwingParams) -> Self {
        let mut s = Self::with_stacks(params);
        s.scan = params.left + params.right <= SCAN_MAX;
        s
    }

    /// The stack form for any window (what [`Swings::new`] uses above [`SCAN_MAX`]); tests
    /// hold the two forms to the same definition.
    pub fn with_stacks(params: SwingParams) -> Self {
        // Holds every bar from the oldest still in a window to the newest.
        let ring = (params.left.max(params.right) + 2).next_power_of_two();
        Self {
            params,
            scan: false,
            highs: Side::new(1.0, ring),
            lows: Side::new(-1.0, ring),
            last: Last {
                high: None,
                low: None,
            },
            saved: Last {
                high: None,
                low: None,
            },
            events_before: 0,
            events: super::log::Log::default(),
        }
    }

    /// Processes the newest bar of `history` (bar `t = history.len() - 1`). Returns how many
    /// swings it confirmed (the tail of `events`).
    pub fn step(&mut self, history: &History) -> usize {
        let t = history.len() - 1;
        self.saved = self.last;
        self.events_before = self.events.len();
        let p = self.params;
        let (high, low) = if self.scan {
            let q = t.checked_sub(p.right).filter(|&q| q >= p.left);
            (
                q.filter(|&q| is_pivot(history, q, p, 1.0)),
                q.filter(|&q| is_pivot(history, q, p, -1.0)),
            )
        } else {
            (
                self.highs.step(history, t, p),
                self.lows.step(history, t, p),
            )
        };
        if let Some(pivot) = high {
            let level = history.high(pivot);
            let label = match self.last.high {
                None => Label::First,
                Some(prev) if level > prev => Label::HigherHigh,
                Some(prev) if level < prev => Label::LowerHigh,
                Some(_) => Label::EqualHigh,
            };
            self.last.high = Some(level);
            self.push(1, pivot, t, level, label);
        }
        if let Some(pivot) = low {
            let level = history.low(pivot);
            let label = match self.last.low {
                None => Label::First,
                Some(prev) if level > prev => Label::HigherLow,
                Some(prev) if level < prev => Label::LowerLow,
                Some(_) => Label::EqualLow,
            };
            self.last.low = Some(level);
            self.push(-1, pivot, t, level, label);
        }
        self.events.len() - self.events_before
    }

    fn push(&mut self, direction: i8, anchor: usize, known_at: usize, level: f64, label: Label) {
        self.events.push(Swing {
            id: self.events.len(),
            direction,
            anchor,
            known_at,
            level,
            label,
        });
    }

    /// Swings `start..` as a table.
    pub fn table(&self, history: &History, start: usize) -> ResultTable {
        table::swings(history, self.events.from(start.min(self.events.len())))
    }

    /// The swings the current bar confirmed.
    pub fn added(&self) -> &[Swing] {
        self.events.from(self.events_before.min(self.events.len()))
    }

    /// Undoes the last [`Swings::step`].
    pub fn undo(&mut self) {
        if !self.scan {
            self.highs.undo();
            self.lows.undo();
        }
        self.last = self.saved;
        self.events.truncate(self.events_before);
    }
}
