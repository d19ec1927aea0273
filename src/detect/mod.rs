//! Native causal detectors (`ict-concepts.md` §3): every event knows the bar it is drawn at
//! (`anchor`) and the first bar at whose close it exists without future data (`known_at`).
//!
//! Each detector is a streaming state machine: `step` processes the newest bar of a
//! [`History`] and `undo` takes that bar back (a revised forming candle). The batch functions
//! here are the fold of `step` over a series, so batch and streaming agree bit for bit by
//! construction, and nothing a detector emits can depend on a later bar.
//!
//! - [`swings`]: pivot highs/lows with HH/LH/HL/LL labels.
//! - [`structure`]: BOS/CHoCH at the break bar.
//! - [`fvg`]: fair value gaps, CE, and their lifecycle (touched, CE, filled, inverse, dead).
//! - [`lifecycle`]: states, the transition log, and the "alive at bar t" index.
//! - [`engine`]: several detectors over one live series (`update`, `update_last`).

pub mod engine;
pub mod fvg;
pub mod history;
pub mod lifecycle;
pub mod structure;
pub mod swings;
pub mod table;

pub use engine::{Engine, EngineParams};
pub use history::{Bar, History};

use crate::cache::table::ResultTable;
use crate::candles::Candles;
use crate::error::{IctError, Result};

/// The detectors by name, as the pool, the engine and Python name them.
pub const NATIVE_DETECTORS: &[&str] = &["swings", "structure", "fvg"];

/// Checks swing window lengths (both at least 1: a pivot needs a bar on each side).
pub fn check_swing_params(p: swings::SwingParams) -> Result<()> {
    for (name, value) in [("left", p.left), ("right", p.right)] {
        if value == 0 || value > 100_000 {
            return Err(IctError::parameter(
                name,
                format!("must be between 1 and 100000, got {value}"),
            ));
        }
    }
    Ok(())
}

/// Checks FVG parameters.
pub fn check_fvg_params(p: fvg::FvgParams) -> Result<()> {
    if !(p.min_size_atr.is_finite() && p.min_size_atr >= 0.0) {
        return Err(IctError::parameter(
            "min_size_atr",
            format!("must be a finite number >= 0, got {}", p.min_size_atr),
        ));
    }
    Ok(())
}

/// Runs `step` over every candle of a validated series.
fn fold(candles: &Candles, mut step: impl FnMut(&History)) -> History {
    let mut history = History::default();
    history.bars.reserve(candles.len());
    history.atr.reserve(candles.len());
    for i in 0..candles.len() {
        history.push_unchecked(Bar {
            time: candles.time[i],
            open: candles.open[i],
            high: candles.high[i],
            low: candles.low[i],
            close: candles.close[i],
            volume: candles.volume[i],
        });
        step(&history);
    }
    history
}

/// Swing points of a series (table columns: see [`table::swings`]).
pub fn swings(candles: &Candles, params: swings::SwingParams) -> Result<ResultTable> {
    check_swing_params(params)?;
    let mut d = swings::Swings::new(params);
    let history = fold(candles, |h| {
        d.step(h);
    });
    Ok(table::swings(&history, &d.events))
}

/// BOS/CHoCH events of a series.
pub fn structure(candles: &Candles, params: structure::StructureParams) -> Result<ResultTable> {
    check_swing_params(params.swings)?;
    let mut d = structure::Structure::new(params);
    let history = fold(candles, |h| {
        d.step(h);
    });
    Ok(table::breaks(&history, &d.events))
}

/// Fair value gaps of a series: the zone table and the transition log.
pub fn fvg(candles: &Candles, params: fvg::FvgParams) -> Result<(ResultTable, ResultTable)> {
    check_fvg_params(params)?;
    let mut d = fvg::Fvg::new(params);
    let history = fold(candles, |h| {
        d.step(h);
    });
    Ok((
        table::zones(&history, &d.zones),
        table::transitions(&history, &d.transitions),
    ))
}

#[cfg(test)]
mod tests;
