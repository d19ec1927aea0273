//! [`Engine`]: the native detectors over one live series. `update` appends a bar and returns
//! what became known at its close; `update_last` replaces the newest bar (a forming candle
//! revised by a new tick): every detector undoes that bar and processes the new one, so the
//! result equals a batch run over the revised series.

use super::fvg::{Fvg, FvgParams};
use super::history::{Bar, History};
use super::structure::{Structure, StructureParams};
use super::swings::{SwingParams, Swings};
use crate::cache::table::ResultTable;
use crate::error::{IctError, Result};

/// Which detectors an engine runs, with their parameters (`None`: not run).
#[derive(Debug, Clone, Default)]
pub struct EngineParams {
    pub swings: Option<SwingParams>,
    pub structure: Option<StructureParams>,
    pub fvg: Option<FvgParams>,
}

/// How many rows each detector's tables had before the last bar (so callers can slice out
/// what a bar added).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub swings: usize,
    pub structure: usize,
    pub fvg: usize,
    pub fvg_transitions: usize,
}

pub struct Engine {
    pub history: History,
    pub swings: Option<Swings>,
    pub structure: Option<Structure>,
    pub fvg: Option<Fvg>,
}

impl Engine {
    pub fn new(params: &EngineParams) -> Result<Self> {
        if let Some(p) = params.swings {
            super::check_swing_params(p)?;
        }
        if let Some(p) = params.structure {
            super::check_swing_params(p.swings)?;
        }
        if let Some(p) = params.fvg {
            super::check_fvg_params(p)?;
        }
        Ok(Self {
            history: History::default(),
            swings: params.swings.map(Swings::new),
            structure: params.structure.map(Structure::new),
            fvg: params.fvg.map(Fvg::new),
        })
    }

    /// Row counts of every table now.
    pub fn counts(&self) -> Counts {
        Counts {
            swings: self.swings.as_ref().map_or(0, |d| d.events.len()),
            structure: self.structure.as_ref().map_or(0, |d| d.events.len()),
            fvg: self.fvg.as_ref().map_or(0, |d| d.zones.len()),
            fvg_transitions: self.fvg.as_ref().map_or(0, |d| d.transitions.len()),
        }
    }

    /// Appends a closed (or forming) bar; returns the row counts before it.
    pub fn update(&mut self, bar: Bar) -> Result<Counts> {
        let before = self.counts();
        self.history.push(bar, self.history.len())?;
        self.step();
        Ok(before)
    }

    /// Replaces the newest bar (the first call on an empty engine appends). On a bad bar the
    /// engine keeps the bar it had.
    pub fn update_last(&mut self, bar: Bar) -> Result<Counts> {
        let Some(&old) = self.history.bars.last() else {
            return self.update(bar);
        };
        self.undo();
        self.history.pop();
        let before = self.counts();
        let row = self.history.len();
        match self.history.push(bar, row) {
            Ok(()) => {
                self.step();
                Ok(before)
            }
            Err(e) => {
                self.history.push_unchecked(old);
                self.step();
                Err(e)
            }
        }
    }

    fn step(&mut self) {
        let h = &self.history;
        if let Some(d) = self.swings.as_mut() {
            d.step(h);
        }
        if let Some(d) = self.structure.as_mut() {
            d.step(h);
        }
        if let Some(d) = self.fvg.as_mut() {
            d.step(h);
        }
    }

    fn undo(&mut self) {
        if let Some(d) = self.swings.as_mut() {
            d.undo();
        }
        if let Some(d) = self.structure.as_mut() {
            d.undo();
        }
        if let Some(d) = self.fvg.as_mut() {
            d.undo();
        }
    }

    /// The table of a detector by name ("swings", "structure", "fvg", "fvg_transitions").
    pub fn table(&self, name: &str) -> Result<ResultTable> {
        self.table_from(name, 0)
    }

    /// Rows `start..` of a table (what the last updates added, when `start` is an earlier
    /// [`Counts`] value).
    pub fn table_from(&self, name: &str, start: usize) -> Result<ResultTable> {
        let h = &self.history;
        let from = |len: usize| start.min(len);
        let missing =
            || IctError::parameter("detector", format!("'{name}' is not run by this engine"));
        Ok(match name {
            "swings" => {
                let rows = &self.swings.as_ref().ok_or_else(missing)?.events;
                super::table::swings(h, &rows[from(rows.len())..])
            }
            "structure" => {
                let rows = &self.structure.as_ref().ok_or_else(missing)?.events;
                super::table::breaks(h, &rows[from(rows.len())..])
            }
            "fvg" => {
                let rows = &self.fvg.as_ref().ok_or_else(missing)?.zones;
                super::table::zones(h, &rows[from(rows.len())..])
            }
            "fvg_transitions" => {
                let rows = &self.fvg.as_ref().ok_or_else(missing)?.transitions;
                super::table::transitions(h, &rows[from(rows.len())..])
            }
            _ => return Err(missing()),
        })
    }
}
