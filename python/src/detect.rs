//! Bindings of `ictcore::detect`: native causal detectors (batch), the streaming `Engine`
//! and the `ActiveIndex`. Tables come back as (name, dtype, read-only array) triples over one
//! shared result (see `cache::to_arrays`); the Python layer wraps them in `EventTable`.

use crate::arrays::{column, slice, CandleColumns};
use crate::cache::{to_arrays, Out};
use crate::detach::run_detached;
use crate::errors::to_pyerr;
use ictcore::cache::table::ResultTable;
use ictcore::detect::engine::{Engine as CoreEngine, EngineParams};
use ictcore::detect::fvg::FvgParams;
use ictcore::detect::lifecycle::ActiveIndex as CoreIndex;
use ictcore::detect::structure::{BreakOn, StructureParams};
use ictcore::detect::swings::SwingParams;
use ictcore::detect::{self, Bar};
use ictcore::{Candles, IctError};
use numpy::{IntoPyArray, PyArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::sync::Arc;

type Cols<'py> = [&'py Bound<'py, PyAny>; 6];

fn break_on(value: &str) -> PyResult<BreakOn> {
    match value {
        "close" => Ok(BreakOn::Close),
        "wick" => Ok(BreakOn::Wick),
        other => Err(PyValueError::new_err(format!(
            "invalid parameter 'break_on': must be \"close\" or \"wick\", got {other:?}"
        ))),
    }
}

/// Runs a batch detector on six borrowed columns, detached.
fn batch<'py, T: Send>(
    py: Python<'py>,
    what: &str,
    cols: Cols<'py>,
    work: impl FnOnce(&Candles) -> ictcore::Result<T> + Send,
) -> PyResult<T> {
    let cols = CandleColumns::borrow(cols)?;
    let (t, [o, h, l, c, v]) = cols.slices()?;
    run_detached(py, what, || work(&Candles::new(t, o, h, l, c, v)?))
}

/// Swing points: see `ictcore.swings`.
#[pyfunction]
#[allow(clippy::too_many_arguments, reason = "six columns and the parameters")]
pub fn native_swings<'py>(
    py: Python<'py>,
    time: &'py Bound<'py, PyAny>,
    open: &'py Bound<'py, PyAny>,
    high: &'py Bound<'py, PyAny>,
    low: &'py Bound<'py, PyAny>,
    close: &'py Bound<'py, PyAny>,
    volume: &'py Bound<'py, PyAny>,
    left: usize,
    right: usize,
) -> PyResult<Out<'py>> {
    let cols = [time, open, high, low, close, volume];
    let table = batch(py, "swings", cols, |c| {
        detect::swings(c, SwingParams { left, right })
    })?;
    to_arrays(py, Arc::new(table))
}

/// BOS/CHoCH: see `ictcore.structure`.
#[pyfunction]
#[allow(clippy::too_many_arguments, reason = "six columns and the parameters")]
pub fn native_structure<'py>(
    py: Python<'py>,
    time: &'py Bound<'py, PyAny>,
    open: &'py Bound<'py, PyAny>,
    high: &'py Bound<'py, PyAny>,
    low: &'py Bound<'py, PyAny>,
    close: &'py Bound<'py, PyAny>,
    volume: &'py Bound<'py, PyAny>,
    left: usize,
    right: usize,
    break_on: &str,
) -> PyResult<Out<'py>> {
    let params = StructureParams {
        swings: SwingParams { left, right },
        break_on: self::break_on(break_on)?,
    };
    let cols = [time, open, high, low, close, volume];
    let table = batch(py, "structure", cols, |c| detect::structure(c, params))?;
    to_arrays(py, Arc::new(table))
}

/// Fair value gaps: (zones, transitions); see `ictcore.fvg`.
#[pyfunction]
#[allow(clippy::too_many_arguments, reason = "six columns and the parameters")]
pub fn native_fvg<'py>(
    py: Python<'py>,
    time: &'py Bound<'py, PyAny>,
    open: &'py Bound<'py, PyAny>,
    high: &'py Bound<'py, PyAny>,
    low: &'py Bound<'py, PyAny>,
    close: &'py Bound<'py, PyAny>,
    volume: &'py Bound<'py, PyAny>,
    min_size_atr: f64,
) -> PyResult<(Out<'py>, Out<'py>)> {
    let cols = [time, open, high, low, close, volume];
    let (zones, log) = batch(py, "fvg", cols, |c| {
        detect::fvg(c, FvgParams { min_size_atr })
    })?;
    Ok((
        to_arrays(py, Arc::new(zones))?,
        to_arrays(py, Arc::new(log))?,
    ))
}

/// The streaming engine (see `ictcore.Engine`).
#[pyclass(module = "ictcore._ictcore")]
pub struct Engine {
    engine: CoreEngine,
}

/// Row counts before an update: (swings, structure, fvg, fvg_transitions).
type Counts = (usize, usize, usize, usize);

fn counts(c: ictcore::detect::engine::Counts) -> Counts {
    (c.swings, c.structure, c.fvg, c.fvg_transitions)
}

#[pymethods]
impl Engine {
    /// Each argument is None (detector not run) or its parameters.
    #[new]
    #[pyo3(signature = (swings, structure, fvg))]
    fn new(
        swings: Option<(usize, usize)>,
        structure: Option<(usize, usize, String)>,
        fvg: Option<f64>,
    ) -> PyResult<Self> {
        let structure = match structure {
            Some((left, right, on)) => Some(StructureParams {
                swings: SwingParams { left, right },
                break_on: break_on(&on)?,
            }),
            None => None,
        };
        let params = EngineParams {
            swings: swings.map(|(left, right)| SwingParams { left, right }),
            structure,
            fvg: fvg.map(|min_size_atr| FvgParams { min_size_atr }),
        };
        Ok(Self {
            engine: CoreEngine::new(&params).map_err(to_pyerr)?,
        })
    }

    /// Appends one bar; returns the row counts before it.
    #[allow(clippy::too_many_arguments, reason = "one bar's six fields")]
    fn update(
        &mut self,
        time: i64,
        open: f64,
        high: f64,
        low: f64,
        close: f64,
        volume: f64,
    ) -> PyResult<Counts> {
        let bar = Bar {
            time,
            open,
            high,
            low,
            close,
            volume,
        };
        self.engine.update(bar).map(counts).map_err(to_pyerr)
    }

    /// Replaces the newest bar; returns the row counts before it.
    #[allow(clippy::too_many_arguments, reason = "one bar's six fields")]
    fn update_last(
        &mut self,
        time: i64,
        open: f64,
        high: f64,
        low: f64,
        close: f64,
        volume: f64,
    ) -> PyResult<Counts> {
        let bar = Bar {
            time,
            open,
            high,
            low,
            close,
            volume,
        };
        self.engine.update_last(bar).map(counts).map_err(to_pyerr)
    }

    /// Appends many bars (detached); returns the row counts before the first. On a bad bar
    /// the bars before it stay applied and the error names its row in this batch.
    #[allow(clippy::too_many_arguments, reason = "six columns")]
    fn update_many<'py>(
        &mut self,
        py: Python<'py>,
        time: &'py Bound<'py, PyAny>,
        open: &'py Bound<'py, PyAny>,
        high: &'py Bound<'py, PyAny>,
        low: &'py Bound<'py, PyAny>,
        close: &'py Bound<'py, PyAny>,
        volume: &'py Bound<'py, PyAny>,
    ) -> PyResult<Counts> {
        let cols = CandleColumns::borrow([time, open, high, low, close, volume])?;
        let (t, [o, h, l, c, v]) = cols.slices()?;
        ictcore::candles::check_lengths(
            "time",
            t.len(),
            &[
                ("open", o.len()),
                ("high", h.len()),
                ("low", l.len()),
                ("close", c.len()),
                ("volume", v.len()),
            ],
        )
        .map_err(to_pyerr)?;
        let engine = &mut self.engine;
        run_detached(py, "Engine.update_many", || {
            let before = engine.counts();
            for i in 0..t.len() {
                let bar = Bar {
                    time: t[i],
                    open: o[i],
                    high: h[i],
                    low: l[i],
                    close: c[i],
                    volume: v[i],
                };
                engine.update(bar).map_err(|e| renumber(e, i))?;
            }
            Ok(counts(before))
        })
    }

    /// Rows `start..` of a table ("swings", "structure", "fvg", "fvg_transitions").
    #[pyo3(signature = (name, start = 0))]
    fn table<'py>(&self, py: Python<'py>, name: &str, start: usize) -> PyResult<Out<'py>> {
        let table: ResultTable = self.engine.table_from(name, start).map_err(to_pyerr)?;
        to_arrays(py, Arc::new(table))
    }

    /// Row counts now: (swings, structure, fvg, fvg_transitions).
    fn counts(&self) -> Counts {
        counts(self.engine.counts())
    }

    /// Number of bars seen.
    fn __len__(&self) -> usize {
        self.engine.history.len()
    }

    /// The bars seen, as (time, open, high, low, close, volume) arrays (for pickling).
    #[allow(clippy::type_complexity, reason = "six arrays")]
    fn bars<'py>(
        &self,
        py: Python<'py>,
    ) -> (
        Bound<'py, PyArray1<i64>>,
        Bound<'py, PyArray1<f64>>,
        Bound<'py, PyArray1<f64>>,
        Bound<'py, PyArray1<f64>>,
        Bound<'py, PyArray1<f64>>,
        Bound<'py, PyArray1<f64>>,
    ) {
        let b = &self.engine.history.bars;
        let f = |get: fn(&Bar) -> f64| b.iter().map(get).collect::<Vec<f64>>().into_pyarray(py);
        (
            b.iter()
                .map(|x| x.time)
                .collect::<Vec<i64>>()
                .into_pyarray(py),
            f(|x| x.open),
            f(|x| x.high),
            f(|x| x.low),
            f(|x| x.close),
            f(|x| x.volume),
        )
    }
}

/// An error from bar `i` of an `update_many` batch names that row of the batch.
fn renumber(e: IctError, i: usize) -> IctError {
    match e {
        IctError::NonFinite { column, value, .. } => IctError::NonFinite {
            column,
            row: i,
            value,
        },
        IctError::NotIncreasing {
            column,
            value,
            previous,
            relation,
            ..
        } => IctError::NotIncreasing {
            column,
            row: i,
            previous_row: i.saturating_sub(1),
            value,
            previous,
            relation,
        },
        other => other,
    }
}

/// "Which zones are alive at bar t" (see `ictcore.detect` `ActiveIndex`).
#[pyclass(frozen, module = "ictcore._ictcore")]
pub struct ActiveIndex {
    index: CoreIndex,
}

#[pymethods]
impl ActiveIndex {
    #[new]
    fn new(starts: &Bound<'_, PyAny>, ends: &Bound<'_, PyAny>) -> PyResult<Self> {
        let s = column::<i64>(starts, "starts")?;
        let e = column::<i64>(ends, "ends")?;
        let index = CoreIndex::new(slice(&s, "starts")?.to_vec(), slice(&e, "ends")?.to_vec())
            .map_err(PyValueError::new_err)?;
        Ok(Self { index })
    }

    /// Rows alive at bar `t` (start <= t < end), ascending.
    fn query<'py>(&self, py: Python<'py>, t: i64) -> Bound<'py, PyArray1<i64>> {
        self.index
            .query(t)
            .into_iter()
            .map(|i| i as i64)
            .collect::<Vec<i64>>()
            .into_pyarray(py)
    }
}
