//! Bindings of `ictcore::compat`: numpy columns in, numpy columns out, the work detached.
//! The Python class `ictcore.compat.smc` turns DataFrames into these arrays and back.

use crate::arrays::{column, slice};
use crate::detach::run_detached;
use ictcore::compat::{self, SwingsView};
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;

type F64Array<'py> = Bound<'py, PyArray1<f64>>;
type F32Array<'py> = Bound<'py, PyArray1<f32>>;
type I32Array<'py> = Bound<'py, PyArray1<i32>>;

/// The four OHLC columns, borrowed read-only for the duration of a call.
struct Ohlc<'py> {
    open: PyReadonlyArray1<'py, f64>,
    high: PyReadonlyArray1<'py, f64>,
    low: PyReadonlyArray1<'py, f64>,
    close: PyReadonlyArray1<'py, f64>,
}

impl<'py> Ohlc<'py> {
    fn borrow(
        open: &Bound<'py, PyAny>,
        high: &Bound<'py, PyAny>,
        low: &Bound<'py, PyAny>,
        close: &Bound<'py, PyAny>,
    ) -> PyResult<Self> {
        Ok(Self {
            open: column(open, "open")?,
            high: column(high, "high")?,
            low: column(low, "low")?,
            close: column(close, "close")?,
        })
    }

    fn slices(&self) -> PyResult<[&[f64]; 4]> {
        Ok([
            slice(&self.open, "open")?,
            slice(&self.high, "high")?,
            slice(&self.low, "low")?,
            slice(&self.close, "close")?,
        ])
    }
}

/// The swing frame's two columns, borrowed read-only.
struct SwingCols<'py> {
    high_low: PyReadonlyArray1<'py, f64>,
    level: PyReadonlyArray1<'py, f64>,
}

impl<'py> SwingCols<'py> {
    fn borrow(high_low: &Bound<'py, PyAny>, level: &Bound<'py, PyAny>) -> PyResult<Self> {
        Ok(Self {
            high_low: column(high_low, "swing_highs_lows.HighLow")?,
            level: column(level, "swing_highs_lows.Level")?,
        })
    }

    fn view(&self) -> PyResult<SwingsView<'_>> {
        Ok(SwingsView {
            high_low: slice(&self.high_low, "swing_highs_lows.HighLow")?,
            level: slice(&self.level, "swing_highs_lows.Level")?,
        })
    }
}

/// `smc.fvg` columns: (FVG, Top, Bottom, MitigatedIndex).
#[pyfunction]
pub fn compat_fvg<'py>(
    py: Python<'py>,
    open: &Bound<'py, PyAny>,
    high: &Bound<'py, PyAny>,
    low: &Bound<'py, PyAny>,
    close: &Bound<'py, PyAny>,
    join_consecutive: bool,
) -> PyResult<(F64Array<'py>, F64Array<'py>, F64Array<'py>, F64Array<'py>)> {
    let ohlc = Ohlc::borrow(open, high, low, close)?;
    let [o, h, l, c] = ohlc.slices()?;
    let out = run_detached(py, "compat.fvg", || {
        compat::fvg(o, h, l, c, join_consecutive)
    })?;
    Ok((
        out.fvg.into_pyarray(py),
        out.top.into_pyarray(py),
        out.bottom.into_pyarray(py),
        out.mitigated_index.into_pyarray(py),
    ))
}

/// `smc.swing_highs_lows` columns: (HighLow, Level).
#[pyfunction]
pub fn compat_swing_highs_lows<'py>(
    py: Python<'py>,
    high: &Bound<'py, PyAny>,
    low: &Bound<'py, PyAny>,
    swing_length: usize,
) -> PyResult<(F64Array<'py>, F64Array<'py>)> {
    let (high, low) = (column::<f64>(high, "high")?, column::<f64>(low, "low")?);
    let (h, l) = (slice(&high, "high")?, slice(&low, "low")?);
    let out = run_detached(py, "compat.swing_highs_lows", || {
        compat::swing_highs_lows(h, l, swing_length)
    })?;
    Ok((out.high_low.into_pyarray(py), out.level.into_pyarray(py)))
}

/// `smc.bos_choch` columns: (BOS, CHOCH, Level, BrokenIndex).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn compat_bos_choch<'py>(
    py: Python<'py>,
    open: &Bound<'py, PyAny>,
    high: &Bound<'py, PyAny>,
    low: &Bound<'py, PyAny>,
    close: &Bound<'py, PyAny>,
    swing_high_low: &Bound<'py, PyAny>,
    swing_level: &Bound<'py, PyAny>,
    close_break: bool,
) -> PyResult<(F64Array<'py>, F64Array<'py>, F32Array<'py>, F64Array<'py>)> {
    let ohlc = Ohlc::borrow(open, high, low, close)?;
    let swings = SwingCols::borrow(swing_high_low, swing_level)?;
    let [o, h, l, c] = ohlc.slices()?;
    let s = swings.view()?;
    let out = run_detached(py, "compat.bos_choch", || {
        compat::bos_choch(o, h, l, c, s, close_break)
    })?;
    Ok((
        out.bos.into_pyarray(py),
        out.choch.into_pyarray(py),
        out.level.into_pyarray(py),
        out.broken_index.into_pyarray(py),
    ))
}

/// `smc.ob` columns: (OB, Top, Bottom, OBVolume, MitigatedIndex, Percentage).
#[pyfunction]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
pub fn compat_ob<'py>(
    py: Python<'py>,
    open: &Bound<'py, PyAny>,
    high: &Bound<'py, PyAny>,
    low: &Bound<'py, PyAny>,
    close: &Bound<'py, PyAny>,
    volume: &Bound<'py, PyAny>,
    swing_high_low: &Bound<'py, PyAny>,
    swing_level: &Bound<'py, PyAny>,
    close_mitigation: bool,
) -> PyResult<(
    F64Array<'py>,
    F32Array<'py>,
    F32Array<'py>,
    F32Array<'py>,
    F64Array<'py>,
    F32Array<'py>,
)> {
    let ohlc = Ohlc::borrow(open, high, low, close)?;
    let volume = column::<f64>(volume, "volume")?;
    let swings = SwingCols::borrow(swing_high_low, swing_level)?;
    let [o, h, l, c] = ohlc.slices()?;
    let v = slice(&volume, "volume")?;
    let s = swings.view()?;
    let out = run_detached(py, "compat.ob", || {
        compat::ob(o, h, l, c, v, s, close_mitigation)
    })?;
    Ok((
        out.ob.into_pyarray(py),
        out.top.into_pyarray(py),
        out.bottom.into_pyarray(py),
        out.ob_volume.into_pyarray(py),
        out.mitigated_index.into_pyarray(py),
        out.percentage.into_pyarray(py),
    ))
}

/// `smc.liquidity` columns: (Liquidity, Level, End, Swept).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn compat_liquidity<'py>(
    py: Python<'py>,
    open: &Bound<'py, PyAny>,
    high: &Bound<'py, PyAny>,
    low: &Bound<'py, PyAny>,
    close: &Bound<'py, PyAny>,
    swing_high_low: &Bound<'py, PyAny>,
    swing_level: &Bound<'py, PyAny>,
    range_percent: f64,
) -> PyResult<(F32Array<'py>, F32Array<'py>, F32Array<'py>, F32Array<'py>)> {
    let ohlc = Ohlc::borrow(open, high, low, close)?;
    let swings = SwingCols::borrow(swing_high_low, swing_level)?;
    let [o, h, l, c] = ohlc.slices()?;
    let s = swings.view()?;
    let out = run_detached(py, "compat.liquidity", || {
        compat::liquidity(o, h, l, c, s, range_percent)
    })?;
    Ok((
        out.liquidity.into_pyarray(py),
        out.level.into_pyarray(py),
        out.end.into_pyarray(py),
        out.swept.into_pyarray(py),
    ))
}

/// `smc.retracements` columns: (Direction, CurrentRetracement%, DeepestRetracement%).
#[pyfunction]
pub fn compat_retracements<'py>(
    py: Python<'py>,
    open: &Bound<'py, PyAny>,
    high: &Bound<'py, PyAny>,
    low: &Bound<'py, PyAny>,
    close: &Bound<'py, PyAny>,
    swing_high_low: &Bound<'py, PyAny>,
    swing_level: &Bound<'py, PyAny>,
) -> PyResult<(I32Array<'py>, F64Array<'py>, F64Array<'py>)> {
    let ohlc = Ohlc::borrow(open, high, low, close)?;
    let swings = SwingCols::borrow(swing_high_low, swing_level)?;
    let [o, h, l, c] = ohlc.slices()?;
    let s = swings.view()?;
    let out = run_detached(py, "compat.retracements", || {
        compat::retracements(o, h, l, c, s)
    })?;
    Ok((
        out.direction.into_pyarray(py),
        out.current.into_pyarray(py),
        out.deepest.into_pyarray(py),
    ))
}

/// `smc.previous_high_low` columns: (PreviousHigh, PreviousLow, BrokenHigh, BrokenLow), for
/// int64 nanosecond times.
#[pyfunction]
pub fn compat_previous_high_low<'py>(
    py: Python<'py>,
    time: &Bound<'py, PyAny>,
    high: &Bound<'py, PyAny>,
    low: &Bound<'py, PyAny>,
    time_frame: &str,
) -> PyResult<(F32Array<'py>, F32Array<'py>, I32Array<'py>, I32Array<'py>)> {
    let time = column::<i64>(time, "time")?;
    let (high, low) = (column::<f64>(high, "high")?, column::<f64>(low, "low")?);
    let (t, h, l) = (
        slice(&time, "time")?,
        slice(&high, "high")?,
        slice(&low, "low")?,
    );
    let out = run_detached(py, "compat.previous_high_low", || {
        compat::previous_high_low(t, h, l, time_frame)
    })?;
    Ok((
        out.previous_high.into_pyarray(py),
        out.previous_low.into_pyarray(py),
        out.broken_high.into_pyarray(py),
        out.broken_low.into_pyarray(py),
    ))
}

/// `smc.sessions` columns: (Active, High, Low), for int64 wall-clock nanosecond times.
#[pyfunction]
pub fn compat_sessions<'py>(
    py: Python<'py>,
    time: &Bound<'py, PyAny>,
    high: &Bound<'py, PyAny>,
    low: &Bound<'py, PyAny>,
    session: &str,
    start_time: &str,
    end_time: &str,
) -> PyResult<(I32Array<'py>, F32Array<'py>, F32Array<'py>)> {
    let time = column::<i64>(time, "time")?;
    let (high, low) = (column::<f64>(high, "high")?, column::<f64>(low, "low")?);
    let (t, h, l) = (
        slice(&time, "time")?,
        slice(&high, "high")?,
        slice(&low, "low")?,
    );
    let out = run_detached(py, "compat.sessions", || {
        let (start, end) = compat::session_window(session, start_time, end_time)?;
        compat::sessions(t, h, l, start, end)
    })?;
    Ok((
        out.active.into_pyarray(py),
        out.high.into_pyarray(py),
        out.low.into_pyarray(py),
    ))
}

/// The built-in session table: name -> (start, end) as written by the library.
#[pyfunction]
pub fn compat_session_table() -> Vec<(String, String, String)> {
    compat::sessions::SESSIONS
        .iter()
        .map(|(n, s, e)| (n.to_string(), s.to_string(), e.to_string()))
        .collect()
}
