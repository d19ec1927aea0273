//! `run_detached`: the single way long work runs. It releases the GIL (the thread is detached
//! from the interpreter), catches any panic and turns it into `ictcore.IctError` naming the
//! function, and maps core errors through `errors::to_pyerr`. No panic reaches Python.

use crate::errors::to_pyerr;
use ictcore::error::panic_message;
use ictcore::{IctError, Result};
use pyo3::prelude::*;
use std::panic::{catch_unwind, AssertUnwindSafe};

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
