//! Bindings of the compat detectors: `ictcore.compat.smc` passes a detector's name, its
//! parameters and numpy columns; the core's one compat entry point (`Spec::compute_compat`,
//! which the pool uses too) computes, detached; the columns come back as writable numpy
//! arrays that own the core's vectors (no copy).

use crate::arrays::{column, slice};
use crate::convert::owned_arrays;
use crate::detach::run_detached;
use crate::errors;
use ictcore::compat::{self, Dtype, InputDtypes, SwingsView};
use ictcore::pool::{CompatInputs, Spec, DETECTORS};
use numpy::{Element, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// A borrowed input column, if the caller gave it.
fn borrowed<'py, T: Element>(
    columns: &Bound<'py, PyDict>,
    name: &str,
    label: &str,
) -> PyResult<Option<PyReadonlyArray1<'py, T>>> {
    columns
        .get_item(name)?
        .map(|array| column::<T>(&array, label))
        .transpose()
}

fn as_slice<'a, T: Element>(
    array: &'a Option<PyReadonlyArray1<'_, T>>,
    name: &str,
) -> PyResult<&'a [T]> {
    match array {
        Some(a) => slice(a, name),
        None => Ok(&[]),
    }
}

/// The input dtypes named in `dtypes` (column -> numpy dtype name; `Level` for the swings
/// frame's); unnamed columns are float64.
pub(crate) fn input_dtypes(dtypes: Option<&Bound<'_, PyDict>>) -> PyResult<InputDtypes> {
    let mut out = InputDtypes::default();
    let Some(dtypes) = dtypes else {
        return Ok(out);
    };
    for (column, dtype) in dtypes.iter() {
        let (column, dtype): (String, String) = (column.extract()?, dtype.extract()?);
        let slot = match column.as_str() {
            "open" => &mut out.open,
            "high" => &mut out.high,
            "low" => &mut out.low,
            "close" => &mut out.close,
            "volume" => &mut out.volume,
            "Level" => &mut out.level,
            _ => continue,
        };
        *slot = Dtype::from_numpy(&dtype);
    }
    Ok(out)
}

/// Compat detector `name` with `params` over `columns` (`time`, `open`, ..., `volume`: those
/// it reads, as float64) and, for the swing-based ones, `swings` = (HighLow, Level);
/// `dtypes` names the dtypes the caller's columns had, whose arithmetic the library uses.
/// Returns its columns in the library's order and dtypes.
#[pyfunction]
#[pyo3(signature = (name, params, columns, swings = None, dtypes = None))]
pub fn compat_run<'py>(
    py: Python<'py>,
    name: &str,
    params: &Bound<'py, PyDict>,
    columns: &Bound<'py, PyDict>,
    swings: Option<(Bound<'py, PyAny>, Bound<'py, PyAny>)>,
    dtypes: Option<&Bound<'py, PyDict>>,
) -> errors::Result<Vec<(String, &'static str, Bound<'py, PyAny>)>> {
    if !DETECTORS.contains(&name) {
        return Err(errors::invalid(
            "name",
            format!(
                "'{name}' is not a compat detector ({})",
                DETECTORS.join(", ")
            ),
        )
        .into());
    }
    let spec = Spec::parse(name, crate::convert::params(params)?)?;
    let time = borrowed::<i64>(columns, "time", "time")?;
    let [open, high, low, close, volume] =
        ["open", "high", "low", "close", "volume"].map(|c| borrowed::<f64>(columns, c, c));
    let (open, high, low, close, volume) = (open?, high?, low?, close?, volume?);
    let swing_cols = swings
        .map(|(hl, level)| -> PyResult<_> {
            Ok((
                column::<f64>(&hl, "swing_highs_lows.HighLow")?,
                column::<f64>(&level, "swing_highs_lows.Level")?,
            ))
        })
        .transpose()?;
    let swings = swing_cols
        .as_ref()
        .map(|(hl, level)| -> PyResult<SwingsView<'_>> {
            Ok(SwingsView {
                high_low: slice(hl, "swing_highs_lows.HighLow")?,
                level: slice(level, "swing_highs_lows.Level")?,
            })
        })
        .transpose()?;
    let inputs = CompatInputs {
        time: as_slice(&time, "time")?,
        open: as_slice(&open, "open")?,
        high: as_slice(&high, "high")?,
        low: as_slice(&low, "low")?,
        close: as_slice(&close, "close")?,
        volume: as_slice(&volume, "volume")?,
        swings,
        dtypes: input_dtypes(dtypes)?,
    };
    let table = run_detached(py, &format!("compat.{name}"), || {
        spec.compute_compat(&inputs)
    })?;
    Ok(owned_arrays(py, table))
}

/// The built-in session table: name -> (start, end) as written by the library.
#[pyfunction]
pub fn compat_session_table() -> Vec<(String, String, String)> {
    compat::sessions::SESSIONS
        .iter()
        .map(|(n, s, e)| (n.to_string(), s.to_string(), e.to_string()))
        .collect()
}
