//! `run_detached`: the single way long work runs. It releases the GIL (the thread is detached
//! from the interpreter), catches any panic and turns it into `ictcore.IctError` naming the
//! function, and maps core errors through `errors::to_pyerr`. No panic reaches Python.

use crate::errors::to_pyerr;
use ictcore::error::panic_message;
use ictcore::{IctError, Result};
use pyo3::prelude::*;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

/// Runs `work` without the GIL; `what` names the function in the error of a caught panic.
pub fn run_detached<T, F>(py: Python<'_>, what: &str, work: F) -> PyResult<T>
where
    F: FnOnce() -> Result<T> + Send,
    T: Send,
{
    run_detached_py(py, what, || work().map_err(to_pyerr))
}

/// Runs short `work` with the GIL held, catching any panic as [`run_detached`] does (an
/// engine restored from a checkpoint someone crafted could hold state its detectors never
/// make; the checksum stops every accidental damage).
pub fn guarded<T, F>(what: &str, work: F) -> PyResult<T>
where
    F: FnOnce() -> Result<T>,
{
    catch_unwind(AssertUnwindSafe(work))
        .unwrap_or_else(|payload| {
            Err(IctError::Internal {
                context: what.to_string(),
                message: format!("panic: {}", panic_message(payload.as_ref())),
            })
        })
        .map_err(to_pyerr)
}

/// [`run_detached`] for work whose errors are already Python exceptions (work that calls
/// back into Python, re-attaching to raise them).
pub fn run_detached_py<T, F>(py: Python<'_>, what: &str, work: F) -> PyResult<T>
where
    F: FnOnce() -> PyResult<T> + Send,
    T: Send,
{
    let outcome = py.detach(|| catch_unwind(AssertUnwindSafe(work)));
    outcome.unwrap_or_else(|payload| {
        Err(to_pyerr(IctError::Internal {
            context: what.to_string(),
            message: format!("panic: {}", panic_message(payload.as_ref())),
        }))
    })
}

/// [`run_detached`] for work that stops early when asked: it runs on a helper thread while
/// the calling thread wakes every 50 ms to check for Ctrl-C, which sets the flag `work`
/// watches; the KeyboardInterrupt is raised once `work` has returned (so nothing it holds
/// is dropped half-way).
pub fn run_interruptible<T, F>(py: Python<'_>, what: &str, work: F) -> PyResult<T>
where
    F: FnOnce(&AtomicBool) -> Result<T> + Send,
    T: Send,
{
    let cancel = AtomicBool::new(false);
    let mut interrupted: Option<PyErr> = None;
    let outcome = py.detach(|| {
        std::thread::scope(|scope| {
            let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
            let cancel = &cancel;
            let worker = scope.spawn(move || {
                let _done = done_tx;
                catch_unwind(AssertUnwindSafe(|| work(cancel)))
            });
            while let Err(RecvTimeoutError::Timeout) =
                done_rx.recv_timeout(Duration::from_millis(50))
            {
                if interrupted.is_none() {
                    if let Err(e) = Python::attach(|py| py.check_signals()) {
                        interrupted = Some(e);
                        cancel.store(true, Ordering::Relaxed);
                    }
                }
            }
            worker.join()
        })
    });
    if let Some(e) = interrupted {
        return Err(e);
    }
    match outcome {
        Ok(Ok(result)) => result.map_err(to_pyerr),
        Ok(Err(payload)) | Err(payload) => Err(to_pyerr(IctError::Internal {
            context: what.to_string(),
            message: format!("panic: {}", panic_message(payload.as_ref())),
        })),
    }
}
