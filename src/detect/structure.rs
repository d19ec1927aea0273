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
use super::swings::{SwingParams, Swings};

/// What counts as going beyond a level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakOn {
    Close,
    Wick,
}

/// Parameters of [`Structure`]. Preset "ictcore": swings of 5 bars each side, close breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StructureParams {
    pub swings: SwingParams,
    pub break_on: BreakOn,
}

impl Default for StructureParams {
    fn default() -> Self {
        Self {
            swings: SwingParams::default(),
            break_on: BreakOn::Close,
        }
    }
}

/// BOS or CHoCH.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum BreakKind {
    Bos = 1,
    Choch = 2,
}

/// One structure break.
#[derive(Debug, Clone, Copy, PartialEq)]
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

#[derive(Debug, Clone, Copy)]
struct Watched {
    level: f64,
    anchor: usize,
    swing_id: usize,
}

#[derive(Debug, Clone, Copy)]
struct State {
    high: Option<Watched>,
    low: Option<Watched>,
    /// +1 bullish, -1 bearish, 0 before the first break.
    trend: i8,
}

/// Streaming BOS/CHoCH detector (it owns its swing detector).
#[derive(Debug, Clone)]
pub struct Structure {
    pub params: StructureParams,
    pub swings: Swings,
    state: State,
    saved: State,
    events_before: usize,
    pub events: Vec<Break>,
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
            swings: Swings::new(params.swings),
            state,
            saved: state,
            events_before: 0,
            events: Vec::new(),
        }
    }

    /// Processes the newest bar of `history`; returns how many breaks it produced.
    pub fn step(&mut self, history: &History) -> usize {
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
        let confirmed = self.swings.step(history);
        let start = self.swings.events.len() - confirmed;
        for s in &self.swings.events[start..] {
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

    /// Undoes the last [`Structure::step`].
    pub fn undo(&mut self) {
        self.swings.undo();
        self.state = self.saved;
        self.events.truncate(self.events_before);
    }
}

/// Internal and swing structure as one table: two independent layers (short and long swing
/// lengths, LuxAlgo's 5 and 50 by default). An internal break whose level is the level the
/// swing layer was watching on that side is not reported twice: it is the swing layer's.
pub struct StructureLayers {
    pub internal: Structure,
    pub swing: Structure,
    /// (layer: 0 internal, 1 swing; the break as its layer reported it).
    pub rows: Vec<(u8, Break)>,
    before: usize,
}

impl StructureLayers {
    pub fn new(internal: StructureParams, swing: StructureParams) -> Self {
        Self {
            internal: Structure::new(internal),
            swing: Structure::new(swing),
            rows: Vec::new(),
            before: 0,
        }
    }

    fn watched_level(&self, direction: i8) -> Option<f64> {
        let (_, id) = self.swing.watched(direction)?;
        self.swing.swings.events.get(id).map(|s| s.level)
    }

    /// Processes the newest bar of `history`.
    pub fn step(&mut self, history: &History) {
        self.before = self.rows.len();
        let swing_levels = [self.watched_level(1), self.watched_level(-1)];
        let internal = self.internal.step(history);
        let swing = self.swing.step(history);
        let first = self.internal.events.len() - internal;
        for i in first..self.internal.events.len() {
            let b = self.internal.events[i];
            let side = usize::from(b.direction < 0);
            if swing_levels[side] != Some(b.level) {
                self.rows.push((0, b));
            }
        }
        let first = self.swing.events.len() - swing;
        for i in first..self.swing.events.len() {
            self.rows.push((1, self.swing.events[i]));
        }
    }

    /// Undoes the last [`StructureLayers::step`].
    pub fn undo(&mut self) {
        self.internal.undo();
        self.swing.undo();
        self.rows.truncate(self.before);
    }
}
