//! The one place where core errors become Python exceptions.
//!
//! Input problems are `ictcore.InvalidInputError` (a `ValueError`), a missing column is
//! `ictcore.MissingColumnError` (a `KeyError`, so a `LookupError` as in smartmoneyconcepts),
//! a missing file `FileNotFoundError` with its path, a damaged file `ictcore.CorruptFileError`;
//! everything else is `ictcore.IctError`. The classes are defined in Python
//! (`ictcore/exceptions.py`) so that one class can be both an `IctError` and a built-in type.

use ictcore::IctError;
use pyo3::exceptions::{PyFileNotFoundError, PyOSError};
use pyo3::prelude::*;

mod base {
    pyo3::import_exception!(ictcore.exceptions, IctError);
}
use base::IctError as PyIctErrorBase;
pyo3::import_exception!(ictcore.exceptions, InvalidInputError);
pyo3::import_exception!(ictcore.exceptions, MissingColumnError);
pyo3::import_exception!(ictcore.exceptions, UnknownNameError);
pyo3::import_exception!(ictcore.exceptions, CorruptFileError);

/// Converts a core error into the matching Python exception.
pub fn to_pyerr(err: IctError) -> PyErr {
    let message = err.to_string();
    // The exception class comes from the root cause; the message keeps the series context.
    let mut root = err;
    while let IctError::InSeries { source, .. } = root {
        root = *source;
    }
    match root {
        IctError::LengthMismatch { .. }
        | IctError::NonFinite { .. }
        | IctError::NotIncreasing { .. }
        | IctError::Overlap { .. }
        | IctError::InvalidParameter { .. }
        | IctError::Parse { .. } => InvalidInputError::new_err(message),
        IctError::UnknownName { .. } => UnknownNameError::new_err(message),
        IctError::MissingColumn { .. } => MissingColumnError::new_err(message),
        IctError::NotFound { path } => PyFileNotFoundError::new_err((
            2,
            "No such file or directory",
            path.display().to_string(),
        )),
        IctError::Io { path, source } => PyOSError::new_err((
            source.raw_os_error().unwrap_or(0),
            message,
            path.display().to_string(),
        )),
        IctError::InSeries { .. }
        | IctError::Internal { .. }
        | IctError::Cancelled { .. }
        | IctError::Reentrant { .. } => PyIctErrorBase::new_err(message),
        IctError::Corrupt { .. } => CorruptFileError::new_err(message),
    }
}
