//! numpy <-> slice conversion with errors that name the column.

use crate::errors::InvalidInputError;
use numpy::{Element, PyReadonlyArray1};
use pyo3::prelude::*;

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
