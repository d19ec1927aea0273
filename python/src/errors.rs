//! The one place where core errors become Python exceptions.
//!
//! Input problems are `ictcore.InvalidInputError` (a `ValueError`), a value of the wrong type
//! `ictcore.InvalidTypeError` (a `TypeError`), a missing column is
//! `ictcore.MissingColumnError` (a `KeyError`, so a `LookupError` as in smartmoneyconcepts),
//! a missing file `FileNotFoundError` with its path, a damaged file `ictcore.CorruptFileError`;
//! everything else is `ictcore.IctError`. The classes are defined in Python
//! (`ictcore/exceptions.py`) so that one class can be both an `IctError` and a built-in type.
//!
//! Bindings return [`Result`]: `?` takes core errors and Python errors alike, and a core
//! error crosses into Python only through [`to_pyerr`], which sets the structured attributes
//! (`column`, `row`, `parameter`, `value`, `path`, `symbol`, `timeframe`) users act on.

use ictcore::IctError;
use pyo3::exceptions::{PyFileNotFoundError, PyOSError};
use pyo3::prelude::*;
use std::path::Path;

mod base {
    pyo3::import_exception!(ictcore.exceptions, IctError);
}
use base::IctError as PyIctErrorBase;
pyo3::import_exception!(ictcore.exceptions, InvalidInputError);
pyo3::import_exception!(ictcore.exceptions, InvalidTypeError);
pyo3::import_exception!(ictcore.exceptions, MissingColumnError);
pyo3::import_exception!(ictcore.exceptions, UnknownNameError);
pyo3::import_exception!(ictcore.exceptions, CorruptFileError);

/// A binding's error: a core error or a Python one (the newtype that lets `?` convert core
/// errors, which this crate cannot give a `From` into `PyErr` directly).
#[derive(Debug)]
pub enum Error {
    Core(IctError),
    Py(PyErr),
}

/// What binding functions return.
pub type Result<T> = std::result::Result<T, Error>;

impl From<IctError> for Error {
    fn from(e: IctError) -> Self {
        Self::Core(e)
    }
}

impl From<PyErr> for Error {
    fn from(e: PyErr) -> Self {
        Self::Py(e)
    }
}

impl From<Error> for PyErr {
    fn from(e: Error) -> Self {
        match e {
            Error::Core(e) => to_pyerr(e),
            Error::Py(e) => e,
        }
    }
}

/// One attribute value of an exception.
enum Detail {
    Text(String),
    Count(usize),
    Number(f64),
    Int(i64),
}

fn path_text(path: &Path) -> Detail {
    Detail::Text(path.display().to_string())
}

/// The structured attributes of a core error (the series it happened in, then its root's).
fn details(err: &IctError) -> Vec<(&'static str, Detail)> {
    let text = |s: &str| Detail::Text(s.to_string());
    match err {
        IctError::InSeries {
            symbol,
            timeframe,
            source,
        } => {
            let mut out = vec![("symbol", text(symbol)), ("timeframe", text(timeframe))];
            out.extend(details(source));
            out
        }
        IctError::LengthMismatch { column, got, .. } => {
            vec![("column", text(column)), ("value", Detail::Count(*got))]
        }
        IctError::NonFinite { column, row, value } => vec![
            ("column", text(column)),
            ("row", Detail::Count(*row)),
            ("value", Detail::Number(*value)),
        ],
        IctError::NotIncreasing {
            column, row, value, ..
        } => vec![
            ("column", text(column)),
            ("row", Detail::Count(*row)),
            ("value", Detail::Int(*value)),
        ],
        IctError::Overlap { row, value, .. } => vec![
            ("column", text("time")),
            ("row", Detail::Count(*row)),
            ("value", Detail::Int(*value)),
        ],
        IctError::InvalidParameter { name, .. } => vec![("parameter", text(name))],
        IctError::UnknownName { name, .. } => vec![("value", text(name))],
        IctError::MissingColumn { column, .. } => vec![("column", text(column))],
        IctError::Parse { path, line, .. } => vec![
            ("path", path_text(path)),
            ("row", Detail::Int(i64::try_from(*line).unwrap_or(i64::MAX))),
        ],
        IctError::NotFound { path }
        | IctError::Corrupt { path, .. }
        | IctError::Io { path, .. } => {
            vec![("path", path_text(path))]
        }
        IctError::Reentrant { .. } | IctError::Cancelled { .. } | IctError::Internal { .. } => {
            Vec::new()
        }
    }
}

/// Converts a core error into the matching Python exception, with its attributes.
pub fn to_pyerr(err: IctError) -> PyErr {
    let message = err.to_string();
    let attributes = details(&err);
    // The exception class comes from the root cause; the message keeps the series context.
    let mut root = err;
    while let IctError::InSeries { source, .. } = root {
        root = *source;
    }
    let exception = match root {
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
    };
    Python::attach(|py| {
        let value = exception.value(py);
        for (name, detail) in attributes {
            // An attribute that cannot be set leaves the message, which says the same.
            let _ = match detail {
                Detail::Text(s) => value.setattr(name, s),
                Detail::Count(n) => value.setattr(name, n),
                Detail::Number(x) => value.setattr(name, x),
                Detail::Int(i) => value.setattr(name, i),
            };
        }
    });
    exception
}

/// An `ictcore.InvalidInputError` (a `ValueError`) naming `parameter`.
pub fn invalid(parameter: &str, message: impl Into<String>) -> PyErr {
    to_pyerr(IctError::parameter(parameter, message))
}

/// An `ictcore.InvalidInputError` (a `ValueError`) about input column `column`.
pub fn bad_column(column: &str, message: impl Into<String>) -> PyErr {
    let exception = InvalidInputError::new_err(format!("column '{column}': {}", message.into()));
    Python::attach(|py| {
        let _ = exception.value(py).setattr("column", column);
    });
    exception
}

/// An `ictcore.InvalidTypeError` (a `TypeError`).
pub fn wrong_type(message: impl Into<String>) -> PyErr {
    InvalidTypeError::new_err(message.into())
}
