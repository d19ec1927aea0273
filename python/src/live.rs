//! Bindings of `ictcore::live`: the `Live` handle behind `ictcore.LiveSession`. A poll runs
//! on the pool's worker threads with the GIL released; Ctrl-C stops it before the series
//! not started yet (they keep their state and are stepped by the next poll).

use crate::convert::{to_arrays, Out};
use crate::detach::run_interruptible;
use crate::errors::{self, to_pyerr};
use crate::pool::{run_specs, Pool};
use crate::store::PyStore;
use ictcore::live::{LiveSession, StateDir, Update};
use ictcore::pool::Spec;
use ictcore::store::Store;
use ictcore::{IctError, Result};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use std::path::PathBuf;
use std::sync::Arc;

/// Native detectors kept running over stored series (see `ictcore.LiveSession`).
#[pyclass(frozen, module = "ictcore._ictcore")]
pub struct Live {
    session: LiveSession,
    store: Store,
    states: Option<StateDir>,
    /// The pool whose threads poll (looked up per call: a forked child gets its own).
    pool: Py<Pool>,
}

/// Per series: None (its file did not change), the exception, or (bars stepped, reset,
/// per detector its tables' new rows).
type Polled<'py> = Vec<Bound<'py, PyAny>>;

#[pymethods]
impl Live {
    #[new]
    #[pyo3(signature = (pool, store, requests, detectors, state_dir = None))]
    fn new(
        pool: Py<Pool>,
        store: &Bound<'_, PyStore>,
        requests: Vec<(String, String)>,
        detectors: &Bound<'_, PyList>,
        state_dir: Option<PathBuf>,
    ) -> errors::Result<Self> {
        let specs = run_specs(detectors)?
            .into_iter()
            .map(|s| match s {
                Spec::Native(n) => Ok(n),
                other => Err(IctError::parameter(
                    "detectors",
                    format!(
                        "'{}' is a compat detector: those look ahead (a new bar can change \
                         earlier rows), so a live session runs native detectors only \
                         (\"native.fvg\", ...); analyze() computes compat ones",
                        other.name()
                    ),
                )),
            })
            .collect::<Result<Vec<_>>>()?;
        let store = store.get().store.clone();
        let states = state_dir.as_deref().map(StateDir::open).transpose()?;
        let threads = pool.get().pool()?;
        let session =
            LiveSession::new(specs, &requests, &store, states.as_ref(), threads.threads())?;
        Ok(Self {
            session,
            store,
            states,
            pool,
        })
    }

    /// Series that resumed from a saved state.
    #[getter]
    fn restored(&self) -> usize {
        self.session.restored()
    }

    #[getter]
    fn state_dir(&self) -> Option<PathBuf> {
        self.states.as_ref().map(|s| s.path().to_path_buf())
    }

    /// Steps every series' new rows; returns (per series, stats).
    fn poll<'py>(&self, py: Python<'py>) -> PyResult<(Polled<'py>, Bound<'py, PyDict>)> {
        let pool = self.pool.get().pool()?;
        let (updates, stats) = run_interruptible(py, "LiveSession.poll", |cancel| {
            Ok(self.session.poll(&self.store, pool.threads(), cancel))
        })?;
        let polled = updates
            .into_iter()
            .map(|u| match u {
                Ok(u) if u.tables.is_empty() => Ok(py.None().into_bound(py)),
                Ok(u) => update(py, u),
                Err(e) => Ok(to_pyerr(e).into_value(py).into_bound(py).into_any()),
            })
            .collect::<PyResult<Polled<'py>>>()?;
        let d = PyDict::new(py);
        d.set_item("series", self.session.len())?;
        d.set_item("changed", stats.changed)?;
        d.set_item("reset", stats.reset)?;
        d.set_item("rows_computed", stats.stepped)?;
        d.set_item("rows", stats.rows)?;
        d.set_item("failed", stats.failed)?;
        Ok((polled, d))
    }

    /// Saves every polled series' state in the state directory; returns (series, bytes).
    fn save(&self, py: Python<'_>) -> PyResult<(usize, u64)> {
        let Some(states) = &self.states else {
            return Err(to_pyerr(IctError::parameter(
                "state_dir",
                "this session has no state directory to save in (pass state_dir=)",
            )));
        };
        let pool = self.pool.get().pool()?;
        run_interruptible(py, "LiveSession.save", |_| {
            self.session.save(&self.store, states, pool.threads())
        })
    }
}

fn update(py: Python<'_>, u: Update) -> PyResult<Bound<'_, PyAny>> {
    let tables = u
        .tables
        .into_iter()
        .map(|detector| {
            detector
                .into_iter()
                .map(|t| to_arrays(py, Arc::new(t)))
                .collect::<PyResult<Vec<Out<'_>>>>()
        })
        .collect::<PyResult<Vec<_>>>()?;
    Ok((u.stepped, u.reset, tables).into_pyobject(py)?.into_any())
}
