//! Bindings of `ictcore::detect`: native causal detectors by name (batch), the streaming
//! `Engine` and the `ActiveIndex`. Tables come back as (name, dtype, read-only array) triples over one
//! shared result (see `cache::to_arrays`); the Python layer wraps them in `EventTable`.

use crate::arrays::{column, slice, PyCandles};
use crate::convert::{params as cache_params, to_arrays, Out};
use crate::detach::{guarded, run_detached};
use crate::errors;
use ictcore::detect::engine::Engine as CoreEngine;
use ictcore::detect::lifecycle::ActiveIndex as CoreIndex;
use ictcore::detect::{self, Bar, NativeSpec};
use ictcore::table::ResultTable;
use ictcore::Candles;
use numpy::{IntoPyArray, PyArray1};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};
use std::sync::Arc;

/// Runs native detector `name` with `params` over one series (detached); returns its tables
/// (events, or zones then their transition log).
#[pyfunction]
pub fn native_run<'py>(
    py: Python<'py>,
    name: &str,
    params: &Bound<'py, PyDict>,
    candles: PyCandles<'py>,
) -> errors::Result<Vec<Out<'py>>> {
    let spec = NativeSpec::parse(name, cache_params(params)?)?;
    let cols = candles.columns()?;
    let (t, [o, h, l, c, v]) = cols.slices()?;
    let tables = run_detached(py, name, || {
        detect::run(&spec, &Candles::new(t, o, h, l, c, v)?)
    })?;
    tables
        .into_iter()
        .map(|table| Ok(to_arrays(py, Arc::new(table))?))
        .collect()
}

/// The streaming engine (see `ictcore.Engine`).
#[pyclass(module = "ictcore._ictcore")]
pub struct Engine {
    engine: CoreEngine,
}

/// (table name, rows) of every table.
type Counts = Vec<(&'static str, usize)>;

fn bar(time: i64, open: f64, high: f64, low: f64, close: f64, volume: f64) -> Bar {
    Bar {
        time,
        open,
        high,
        low,
        close,
        volume,
    }
}

#[pymethods]
impl Engine {
    /// `specs`: (detector name, parameters) pairs.
    #[new]
    fn new(specs: &Bound<'_, PyList>) -> errors::Result<Self> {
        let mut parsed = Vec::new();
        for item in specs.iter() {
            let (name, params): (String, Bound<'_, PyDict>) = item.extract()?;
            parsed.push(NativeSpec::parse(&name, cache_params(&params)?)?);
        }
        Ok(Self {
            engine: CoreEngine::new(parsed)?,
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
    ) -> errors::Result<Counts> {
        let b = bar(time, open, high, low, close, volume);
        let engine = &mut self.engine;
        Ok(guarded("Engine.update", || engine.update(b))?)
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
    ) -> errors::Result<Counts> {
        let b = bar(time, open, high, low, close, volume);
        let engine = &mut self.engine;
        Ok(guarded("Engine.update_last", || engine.update_last(b))?)
    }

    /// Appends many bars (detached); returns the row counts before the first. On a bad bar
    /// the bars before it stay applied and the error names its row in this batch.
    fn update_many<'py>(&mut self, py: Python<'py>, candles: PyCandles<'py>) -> PyResult<Counts> {
        let cols = candles.columns()?;
        let (t, values) = cols.slices()?;
        let engine = &mut self.engine;
        run_detached(py, "Engine.update_many", || engine.update_many(t, values))
    }

    /// Row counts of every table now.
    fn counts(&self) -> Counts {
        self.engine.counts()
    }

    /// Rows `start..` of a table.
    #[pyo3(signature = (name, start = 0))]
    fn table<'py>(&self, py: Python<'py>, name: &str, start: usize) -> errors::Result<Out<'py>> {
        let engine = &self.engine;
        let table: ResultTable = guarded("Engine.table", || engine.table_from(name, start))?;
        Ok(to_arrays(py, Arc::new(table))?)
    }

    /// The engine's whole state as bytes (detached); see `ictcore.Engine.checkpoint`.
    fn checkpoint<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let engine = &self.engine;
        let bytes = run_detached(py, "Engine.checkpoint", || engine.checkpoint())?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// An engine from `checkpoint()`'s bytes (detached; no bar is stepped).
    #[staticmethod]
    fn from_checkpoint(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
        let engine = run_detached(py, "Engine.from_checkpoint", || {
            CoreEngine::from_checkpoint(data)
        })?;
        Ok(Self { engine })
    }

    /// The requested detectors and their resolved parameters.
    fn specs<'py>(&self, py: Python<'py>) -> PyResult<Vec<(&'static str, Bound<'py, PyDict>)>> {
        self.engine
            .specs()
            .map(|s| Ok((s.name(), crate::convert::param_dict(py, s.params())?)))
            .collect()
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
        let b = &self.engine.history.bars();
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
            .map_err(|e| crate::errors::invalid("ActiveIndex", e))?;
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
