//! Validation behind `ictcore.Candles`: the core's checks, errors naming column and row.

use crate::arrays::{column, slice};
use crate::detach::run_detached;
use ictcore::candles::check_strictly_increasing;
use ictcore::Candles;
use pyo3::prelude::*;

/// Checks one series (equal lengths, finite prices and volume, strictly increasing time).
#[pyfunction]
pub fn validate_candles<'py>(
    py: Python<'py>,
    time: &Bound<'py, PyAny>,
    open: &Bound<'py, PyAny>,
    high: &Bound<'py, PyAny>,
    low: &Bound<'py, PyAny>,
    close: &Bound<'py, PyAny>,
    volume: &Bound<'py, PyAny>,
) -> PyResult<()> {
    let t = column::<i64>(time, "time")?;
    let cols = [
        column::<f64>(open, "open")?,
        column::<f64>(high, "high")?,
        column::<f64>(low, "low")?,
        column::<f64>(close, "close")?,
        column::<f64>(volume, "volume")?,
    ];
    let names = ["open", "high", "low", "close", "volume"];
    let ts = slice(&t, "time")?;
    let s: Vec<&[f64]> = cols
        .iter()
        .zip(names)
        .map(|(c, n)| slice(c, n))
        .collect::<PyResult<_>>()?;
    run_detached(py, "Candles", || {
        Candles::new(ts, s[0], s[1], s[2], s[3], s[4]).map(|_| ())
    })
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
