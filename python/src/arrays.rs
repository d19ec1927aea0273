//! numpy <-> slice conversion with errors that name the column.

use crate::errors::InvalidInputError;
use numpy::ndarray::ArrayView1;
use numpy::{Element, PyArray1, PyArrayMethods, PyReadonlyArray1};
use pyo3::prelude::*;

/// A read-only numpy view of `values`, with `owner` as its base object.
///
/// # Safety
/// `values` must lie in memory that `owner` keeps alive and unchanged for as long as it
/// lives (a file mapping, a cached result held by an `Arc`).
pub unsafe fn readonly_view<'py, T: Element>(
    owner: &Bound<'py, PyAny>,
    values: &[T],
) -> Bound<'py, PyArray1<T>> {
    let view = ArrayView1::from(values);
    // SAFETY: per the caller's contract the memory outlives `owner`, which becomes the
    // array's base; the array is made read-only before anyone sees it.
    let array = unsafe { PyArray1::borrow_from_array(&view, owner.clone()) };
    drop(array.readwrite().make_nonwriteable());
    array
}

/// Borrows a 1-D numpy array of `T` read-only; anything else is a `ValueError` naming the
/// column (the Python layer normalises dtype and contiguity first, so this is a guard).
pub fn column<'py, T: Element>(
    obj: &Bound<'py, PyAny>,
    name: &str,
) -> PyResult<PyReadonlyArray1<'py, T>> {
    let array = obj.extract::<PyReadonlyArray1<'py, T>>().map_err(|e| {
        InvalidInputError::new_err(format!(
            "column '{name}': expected a 1-D numpy array of {}: {e}",
            std::any::type_name::<T>()
        ))
    })?;
    if array.as_slice().is_err() {
        return Err(InvalidInputError::new_err(format!(
            "column '{name}': array is not contiguous"
        )));
    }
    Ok(array)
}

/// The slice behind a column borrowed with [`column`].
pub fn slice<'a, T: Element>(array: &'a PyReadonlyArray1<'_, T>, name: &str) -> PyResult<&'a [T]> {
    array
        .as_slice()
        .map_err(|e| InvalidInputError::new_err(format!("column '{name}': {e}")))
}

/// One series as Python passes it, one argument instead of six: an `ictcore.Candles` (or any
/// object with `time`, `open`, `high`, `low`, `close` and `volume` array attributes).
#[derive(FromPyObject)]
pub struct PyCandles<'py> {
    #[pyo3(attribute)]
    time: Bound<'py, PyAny>,
    #[pyo3(attribute)]
    open: Bound<'py, PyAny>,
    #[pyo3(attribute)]
    high: Bound<'py, PyAny>,
    #[pyo3(attribute)]
    low: Bound<'py, PyAny>,
    #[pyo3(attribute)]
    close: Bound<'py, PyAny>,
    #[pyo3(attribute)]
    volume: Bound<'py, PyAny>,
}

impl<'py> PyCandles<'py> {
    /// Its columns, borrowed read-only (errors name the column).
    pub fn columns(&self) -> PyResult<CandleColumns<'py>> {
        CandleColumns::borrow([
            &self.time,
            &self.open,
            &self.high,
            &self.low,
            &self.close,
            &self.volume,
        ])
    }
}

/// The six columns of one series, borrowed read-only: time (int64 ns) and float64 OHLCV.
pub struct CandleColumns<'py> {
    time: PyReadonlyArray1<'py, i64>,
    values: [PyReadonlyArray1<'py, f64>; 5],
}

/// Names of the five float64 columns, in `CandleColumns` order.
const VALUE_NAMES: [&str; 5] = ["open", "high", "low", "close", "volume"];

impl<'py> CandleColumns<'py> {
    /// Borrows (time, open, high, low, close, volume); errors name the column.
    pub fn borrow(cols: [&Bound<'py, PyAny>; 6]) -> PyResult<Self> {
        let [time, open, high, low, close, volume] = cols;
        Ok(Self {
            time: column(time, "time")?,
            values: [
                column(open, "open")?,
                column(high, "high")?,
                column(low, "low")?,
                column(close, "close")?,
                column(volume, "volume")?,
            ],
        })
    }

    /// The slices: (time, [open, high, low, close, volume]).
    pub fn slices(&self) -> PyResult<(&[i64], [&[f64]; 5])> {
        let v = &self.values;
        Ok((
            slice(&self.time, "time")?,
            [
                slice(&v[0], VALUE_NAMES[0])?,
                slice(&v[1], VALUE_NAMES[1])?,
                slice(&v[2], VALUE_NAMES[2])?,
                slice(&v[3], VALUE_NAMES[3])?,
                slice(&v[4], VALUE_NAMES[4])?,
            ],
        ))
    }
}

/// A copy of one series' six columns, taken while the GIL is held: work that runs without
/// the GIL (a store write, a pool run) then reads bytes no other Python thread can change,
/// so what is validated, hashed, computed and written is one and the same.
pub struct OwnedCandles {
    time: Vec<i64>,
    values: [Vec<f64>; 5],
}

impl OwnedCandles {
    /// Copies the borrowed columns (call with the GIL held).
    pub fn copy(cols: &CandleColumns<'_>) -> PyResult<Self> {
        let (t, [o, h, l, c, v]) = cols.slices()?;
        Ok(Self {
            time: t.to_vec(),
            values: [o.to_vec(), h.to_vec(), l.to_vec(), c.to_vec(), v.to_vec()],
        })
    }

    /// An unchecked view of the copy (callers validate it with `Candles::new`).
    pub fn view(&self) -> ictcore::Candles<'_> {
        let [o, h, l, c, v] = &self.values;
        ictcore::Candles {
            time: &self.time,
            open: o,
            high: h,
            low: l,
            close: c,
            volume: v,
        }
    }
}
