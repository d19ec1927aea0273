//! Validation behind `ictcore.Candles`: the core's checks, errors naming column and row.

use crate::arrays::{column, slice, PyCandles};
use crate::detach::run_detached;
use ictcore::candles::check_strictly_increasing;
use ictcore::Candles;
use pyo3::prelude::*;

/// Checks one series (equal lengths, finite prices and volume, strictly increasing time).
#[pyfunction]
pub fn validate_candles<'py>(py: Python<'py>, candles: PyCandles<'py>) -> PyResult<()> {
    let cols = candles.columns()?;
    let (t, [o, h, l, c, v]) = cols.slices()?;
    run_detached(py, "Candles", || Candles::new(t, o, h, l, c, v).map(|_| ()))
}

/// Checks that a time index (int64 nanoseconds) is strictly increasing; the error names the
/// first duplicate or out-of-order row.
#[pyfunction]
pub fn check_time_index<'py>(py: Python<'py>, time: &Bound<'py, PyAny>) -> PyResult<()> {
    let t = column::<i64>(time, "index")?;
    let ts = slice(&t, "index")?;
    run_detached(py, "check_time_index", || {
        check_strictly_increasing("index", ts)
    })
}
