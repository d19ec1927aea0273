//! Bindings of `ictcore::pool`: the `Pool` handle. A run goes on a helper thread with the GIL
//! released; the calling thread returns as soon as the run ends, and until then wakes every
//! 50 ms, re-attaching only to report progress and to check for Ctrl-C (which cancels the
//! run: tasks not started fail as cancelled, finished ones stay valid, and the
//! KeyboardInterrupt is raised when the workers have stopped).

use crate::arrays::{OwnedCandles, PyCandles};
use crate::cache::Cache;
use crate::convert::{params, to_arrays, Out};
use crate::errors::{self, to_pyerr};
use crate::store::PyStore;
use ictcore::fork::PerProcess;
use ictcore::pool::{Control, DetectorPool, Hold, Request, Source, Spec};
use ictcore::IctError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::mpsc::RecvTimeoutError;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The detector pool (see `ictcore.DetectorPool`). Its worker threads do not survive a
/// `fork`: a child process gets a new set on first use (the parent's are left alone).
#[pyclass(frozen, module = "ictcore._ictcore")]
pub struct Pool {
    /// This process's pool: a forked child builds its own on first use and never touches
    /// (or drops) the parent's, whose threads exist only in the parent.
    current: PerProcess<OnceLock<Arc<DetectorPool>>>,
    workers: Option<usize>,
    buffer_bytes: u64,
}

impl Pool {
    /// The pool for this process, rebuilt after a fork.
    pub(crate) fn pool(&self) -> errors::Result<Arc<DetectorPool>> {
        let cell = self.current.get();
        if let Some(pool) = cell.get() {
            return Ok(Arc::clone(pool));
        }
        let fresh = Arc::new(DetectorPool::new(self.workers, self.buffer_bytes)?);
        Ok(Arc::clone(cell.get_or_init(|| fresh)))
    }
}

/// A request as Python passes it: (symbol, timeframe, start, end, columns or None).
type RawRequest<'py> = (
    String,
    String,
    Option<i64>,
    Option<i64>,
    Option<PyCandles<'py>>,
    Option<Bound<'py, PyDict>>,
);

/// Per request: a list of the detectors' columns, or the exception instance.
type RunResult<'py> = Vec<Bound<'py, PyAny>>;

#[pymethods]
impl Pool {
    #[new]
    #[pyo3(signature = (workers, buffer_bytes))]
    fn new(workers: Option<usize>, buffer_bytes: u64) -> errors::Result<Self> {
        let pool = Arc::new(DetectorPool::new(workers, buffer_bytes)?);
        let current = PerProcess::new(OnceLock::new);
        let _ = current.get().set(pool);
        Ok(Self {
            current,
            workers,
            buffer_bytes,
        })
    }

    #[getter]
    fn workers(&self) -> PyResult<usize> {
        Ok(self.pool()?.workers())
    }

    /// Runs `detectors` ([(name, params)]) on `requests`; returns (results, stats). `keep`
    /// false holds nothing; else compat frames come compact (or deferred) unless `dense`.
    #[pyo3(signature = (requests, detectors, store, cache, progress, keep = true, dense = false, resume = false))]
    #[allow(
        clippy::too_many_arguments,
        reason = "the arguments are the Python call's; the Python layer names them"
    )]
    fn analyze<'py>(
        &self,
        py: Python<'py>,
        requests: &Bound<'py, PyList>,
        detectors: &Bound<'py, PyList>,
        store: Option<&Bound<'py, PyStore>>,
        cache: Option<&Bound<'py, Cache>>,
        progress: Option<Bound<'py, PyAny>>,
        keep: bool,
        dense: bool,
        resume: bool,
    ) -> errors::Result<(RunResult<'py>, Bound<'py, PyDict>)> {
        let hold = match (keep, dense) {
            (false, _) => Hold::Nothing,
            (true, true) => Hold::Dense,
            (true, false) => Hold::Compact,
        };
        let specs = run_specs(detectors)?;
        let raw: Vec<RawRequest<'py>> = requests
            .iter()
            .map(|r| r.extract())
            .collect::<PyResult<_>>()?;
        // In-memory columns are copied with the GIL held: the run (without the GIL) then
        // hashes, validates and computes on bytes no other Python thread can change, so a
        // cached result always belongs to its key.
        let owned: Vec<Option<OwnedCandles>> = raw
            .iter()
            .map(|(_, _, _, _, cols, _)| match cols {
                None => Ok(None),
                Some(candles) => OwnedCandles::copy(&candles.columns()?).map(Some),
            })
            .collect::<PyResult<_>>()?;
        let mut requests = Vec::with_capacity(raw.len());
        for ((symbol, timeframe, start, end, _, dtypes), cols) in raw.iter().zip(&owned) {
            // Checked by the pool on every run (a bad series fails alone).
            let source = cols
                .as_ref()
                .map_or(Source::Store, |c| Source::Candles(c.view()));
            requests.push(Request {
                symbol: symbol.clone(),
                timeframe: timeframe.clone(),
                start: *start,
                end: *end,
                source,
                dtypes: crate::compat::input_dtypes(dtypes.as_ref())?,
            });
        }
        let store = store.map(|s| &s.get().store);
        let cache = cache.map(|c| &c.get().cache);
        let total = requests.len();
        let control = Control {
            resume_native: resume,
            ..Control::default()
        };
        let mut interrupted: Option<PyErr> = None;
        let pool = self.pool()?;
        let pool = &*pool;
        let progress: Option<Py<PyAny>> = progress.map(Bound::unbind);
        let outcome = py.detach(|| {
            std::thread::scope(|scope| {
                // The run says when it is done (the sender drops as the thread ends, panic or
                // not), so a small call returns as soon as its work is done; meanwhile the
                // caller wakes every 50 ms for progress and Ctrl-C.
                let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
                let (requests, specs, control) = (&requests, &specs, &control);
                let run = scope.spawn(move || {
                    let _done = done_tx;
                    catch_unwind(AssertUnwindSafe(|| {
                        pool.analyze(requests, specs, store, cache, control, hold)
                    }))
                });
                while let Err(RecvTimeoutError::Timeout) =
                    done_rx.recv_timeout(Duration::from_millis(50))
                {
                    let stop = Python::attach(|py| {
                        if let Some(callback) = &progress {
                            let done = control.done.load(Ordering::Relaxed).min(total);
                            let candles = control.candles_done.load(Ordering::Relaxed);
                            if let Err(e) = callback.bind(py).call1((done, total, candles)) {
                                interrupted.get_or_insert(e);
                            }
                        }
                        if let Err(e) = py.check_signals() {
                            interrupted.get_or_insert(e);
                        }
                        interrupted.is_some()
                    });
                    if stop {
                        control.cancel.store(true, Ordering::Relaxed);
                    }
                }
                run.join()
            })
        });
        if let Some(e) = interrupted {
            return Err(e.into());
        }
        let outcome = match outcome {
            Ok(Ok(outcome)) => outcome,
            _ => {
                return Err(IctError::Internal {
                    context: "DetectorPool.analyze".into(),
                    message: "the run panicked outside a request".into(),
                }
                .into())
            }
        };
        if let Some(callback) = &progress {
            callback
                .bind(py)
                .call1((total, total, outcome.stats.candles))?;
        }
        let results = outcome
            .results
            .into_iter()
            .map(|r| match r {
                Ok(tables) => Ok(tables
                    .into_iter()
                    .map(|t| to_arrays(py, t))
                    .collect::<PyResult<Vec<Out<'py>>>>()?
                    .into_pyobject(py)?
                    .into_any()),
                Err(e) => Ok(to_pyerr(e).into_value(py).into_bound(py).into_any()),
            })
            .collect::<PyResult<RunResult<'py>>>()?;
        let s = &outcome.stats;
        let d = PyDict::new(py);
        d.set_item("requests", s.requests)?;
        d.set_item("failed", s.failed)?;
        d.set_item("candles", s.candles)?;
        d.set_item("memory_hits", s.memory_hits)?;
        d.set_item("disk_hits", s.disk_hits)?;
        d.set_item("misses", s.misses)?;
        d.set_item("rows_computed", s.rows_computed)?;
        d.set_item("resumed", s.resumed)?;
        d.set_item("recomputed", s.recomputed)?;
        let compute = PyDict::new(py);
        for (name, ns) in &s.compute_ns {
            compute.set_item(name, *ns as f64 / 1e9)?;
        }
        d.set_item("compute_seconds", compute)?;
        d.set_item("io_seconds", s.io_ns as f64 / 1e9)?;
        d.set_item("queue_wait_seconds", s.queue_wait_ns as f64 / 1e9)?;
        d.set_item("busy_seconds", s.busy_ns as f64 / 1e9)?;
        d.set_item("wall_seconds", s.wall_ns as f64 / 1e9)?;
        d.set_item("workers", s.workers)?;
        d.set_item("utilisation", s.utilisation())?;
        let throughput = if s.wall_ns > 0 {
            s.candles as f64 / (s.wall_ns as f64 / 1e9)
        } else {
            0.0
        };
        d.set_item("candles_per_second", throughput)?;
        d.set_item("peak_buffer_bytes", s.peak_buffer_bytes)?;
        Ok((results, d))
    }
}

/// Every parameter of each detector of a run as the pool resolves them (defaults, and
/// `swing_highs_lows`' `swing_length` for the swing readers): what one detector needs to be
/// computed alone exactly as in the run.
#[pyfunction]
pub fn resolved_params<'py>(
    py: Python<'py>,
    detectors: &Bound<'py, PyList>,
) -> errors::Result<Vec<(String, Bound<'py, PyDict>)>> {
    let mut out = Vec::new();
    for spec in run_specs(detectors)? {
        out.push((
            spec.name().to_string(),
            crate::convert::param_dict(py, spec.params())?,
        ));
    }
    Ok(out)
}

/// A run's detectors from Python's [(name, params)] list, as the pool resolves them.
pub(crate) fn run_specs(detectors: &Bound<'_, PyList>) -> errors::Result<Vec<Spec>> {
    let given = detectors
        .iter()
        .map(|item| {
            let (name, p): (String, Bound<'_, PyDict>) = item.extract()?;
            Ok((name, params(&p)?))
        })
        .collect::<PyResult<Vec<_>>>()?;
    Ok(ictcore::pool::parse_run(given)?)
}
