//! Conversions between Python objects and the core's types: parameter values ([`params`]),
//! numpy input arrays ([`extract_arrays`]), and results handed back as numpy arrays — views of
//! a shared (cached) result ([`to_arrays`]) or arrays owning a fresh one's vectors
//! ([`owned_arrays`]).

use crate::arrays::readonly_view;
use crate::errors::{bad_column, wrong_type};
use ictcore::param::Param;
use ictcore::table::{Dtype, ResultTable};
use numpy::{IntoPyArray, PyReadonlyArray1, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString};
use std::sync::Arc;

/// Owner of a cached result; the base object of every array viewing it.
#[pyclass(frozen, module = "ictcore._ictcore")]
pub struct CachedResult {
    table: Arc<ResultTable>,
}

/// A 1-D numpy array of a dtype the cache handles.
#[derive(FromPyObject)]
pub(crate) enum AnyArray<'py> {
    F64(PyReadonlyArray1<'py, f64>),
    I64(PyReadonlyArray1<'py, i64>),
    F32(PyReadonlyArray1<'py, f32>),
    I32(PyReadonlyArray1<'py, i32>),
    U8(PyReadonlyArray1<'py, u8>),
    Bool(PyReadonlyArray1<'py, bool>),
}

impl AnyArray<'_> {
    /// The dtype and the exact bytes (the array must be C-contiguous).
    pub(crate) fn bytes(&self, name: &str) -> PyResult<(Dtype, &[u8])> {
        let contiguous = |ok: bool| {
            if ok {
                Ok(())
            } else {
                Err(bad_column(name, "array is not contiguous"))
            }
        };
        macro_rules! raw {
            ($a:expr, $d:expr) => {{
                contiguous($a.is_contiguous())?;
                let s = $a.as_slice().map_err(|e| bad_column(name, e.to_string()))?;
                Ok(($d, bytemuck::cast_slice(s)))
            }};
        }
        match self {
            AnyArray::F64(a) => raw!(a, Dtype::F64),
            AnyArray::I64(a) => raw!(a, Dtype::I64),
            AnyArray::F32(a) => raw!(a, Dtype::F32),
            AnyArray::I32(a) => raw!(a, Dtype::I32),
            AnyArray::U8(a) => raw!(a, Dtype::U8),
            AnyArray::Bool(a) => {
                contiguous(a.is_contiguous())?;
                let s = a.as_slice().map_err(|e| bad_column(name, e.to_string()))?;
                // SAFETY: a bool is one byte holding 0 or 1; reading it as u8 is sound.
                let bytes = unsafe { std::slice::from_raw_parts(s.as_ptr().cast::<u8>(), s.len()) };
                Ok((Dtype::Bool, bytes))
            }
        }
    }
}

pub(crate) fn extract_arrays<'py>(
    list: &Bound<'py, PyList>,
    what: &str,
) -> PyResult<Vec<(String, AnyArray<'py>)>> {
    list.iter()
        .map(|item| {
            let (name, array): (String, Bound<'py, PyAny>) = item.extract()?;
            let array = array.extract::<AnyArray<'py>>().map_err(|_| {
                wrong_type(format!(
                    "{what} '{name}': expected a 1-D numpy array of float64, int64, float32, \
                     int32, uint8 or bool"
                ))
            })?;
            Ok((name, array))
        })
        .collect()
}

/// Parameters as the cache key records them: the exact type and value (see [`Param`]).
/// A detector's resolved parameters as a dict of plain Python values (specs hold only
/// plain ones).
pub(crate) fn param_dict<'py>(
    py: Python<'py>,
    params: Vec<(&'static str, Param)>,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (name, value) in params {
        match value {
            Param::Int(v) => d.set_item(name, v)?,
            Param::Float(v) => d.set_item(name, v)?,
            Param::Bool(v) => d.set_item(name, v)?,
            Param::Str(v) => d.set_item(name, v)?,
            _ => {}
        }
    }
    Ok(d)
}

pub(crate) fn params(dict: &Bound<'_, PyDict>) -> PyResult<Vec<(String, Param)>> {
    dict.iter()
        .map(|(k, v)| {
            let name: String = k.extract()?;
            Ok((name.clone(), param(&name, &v)?))
        })
        .collect()
}

/// One parameter value: Python's plain types as themselves; numpy scalars and subclasses
/// of int, float and str (enums, say) as their type's name and their plain value; anything
/// else refused.
fn param(name: &str, v: &Bound<'_, PyAny>) -> PyResult<Param> {
    if let Some(plain) = plain_param(v)? {
        return Ok(plain);
    }
    let ty = v.get_type();
    let type_name = format!("{}.{}", ty.module()?, ty.qualname()?);
    // A numpy scalar's plain value is `.item()`; an int/float/str subclass's is itself.
    let value = if type_name.starts_with("numpy.") {
        v.call_method0("item")?
    } else if v.is_instance_of::<PyInt>() {
        v.call_method0("__index__")?
    } else if v.is_instance_of::<PyFloat>() {
        PyFloat::new(v.py(), v.extract::<f64>()?).into_any()
    } else if v.is_instance_of::<PyString>() {
        PyString::new(v.py(), &v.extract::<String>()?).into_any()
    } else {
        v.clone()
    };
    match plain_param(&value)? {
        Some(inner) => Ok(Param::Typed(type_name, Box::new(inner))),
        None => Err(wrong_type(format!(
            "parameter '{name}': {type_name} is not an int, float, bool, str or None (nor a \
             numpy scalar of one)"
        ))),
    }
}

/// The value of an object of exactly `None`, `bool`, `int`, `float` or `str` (not of a
/// subclass); None for anything else.
fn plain_param(v: &Bound<'_, PyAny>) -> PyResult<Option<Param>> {
    Ok(Some(if v.is_none() {
        Param::None
    } else if v.is_exact_instance_of::<PyBool>() {
        Param::Bool(v.is_truthy()?)
    } else if v.is_exact_instance_of::<PyInt>() {
        match v.extract::<i64>() {
            Ok(i) => Param::Int(i),
            // Beyond int64: its digits, never a rounded float.
            Err(_) => Param::BigInt(v.str()?.to_string()),
        }
    } else if v.is_exact_instance_of::<PyFloat>() {
        Param::Float(v.extract::<f64>()?)
    } else if v.is_exact_instance_of::<PyString>() {
        Param::Str(v.extract::<String>()?)
    } else {
        return Ok(None);
    }))
}

/// A digest of float64 columns (their lengths and bytes, in order): how the compat layer
/// recognises a swings frame it made, unchanged, over the same candles.
#[pyfunction]
pub fn digest(py: Python<'_>, arrays: Vec<PyReadonlyArray1<'_, f64>>) -> PyResult<String> {
    let slices = arrays
        .iter()
        .enumerate()
        .map(|(i, a)| crate::arrays::slice(a, &format!("array {i}")))
        .collect::<PyResult<Vec<&[f64]>>>()?;
    Ok(py.detach(|| {
        let mut record = Vec::with_capacity(24 * slices.len());
        for s in &slices {
            record.extend_from_slice(&(s.len() as u64).to_le_bytes());
            record.extend_from_slice(&ictcore::cache::input_hash(bytemuck::cast_slice(s)));
        }
        format!(
            "{:032x}",
            u128::from_le_bytes(ictcore::cache::input_hash(&record))
        )
    }))
}

/// The digest of a result's columns ([(name, array)], as `compute` functions return them),
/// as the pool records it for a deferred result (`ictcore::compact::digest`).
#[pyfunction]
pub fn result_digest(py: Python<'_>, columns: &Bound<'_, PyList>) -> PyResult<String> {
    let arrays = extract_arrays(columns, "result column")?;
    let parts = arrays
        .iter()
        .map(|(name, a)| Ok((name.as_str(), a.bytes(name)?)))
        .collect::<PyResult<Vec<_>>>()?;
    Ok(py.detach(|| {
        ictcore::compact::digest(
            parts
                .iter()
                .map(|(name, (dtype, bytes))| (*name, *dtype, *bytes)),
        )
    }))
}

/// Checks that `params` can be keyed (the compat layer computes without its cache rather
/// than fail when they cannot, so caching never changes what a call accepts).
#[pyfunction]
pub fn keyable_params(params: &Bound<'_, PyDict>) -> PyResult<()> {
    self::params(params).map(|_| ())
}

/// A result as (name, dtype name, read-only array) triples; bool columns come as uint8
/// arrays (the Python layer views them as bool); then (key, "meta", str) per metadata item.
pub(crate) type Out<'py> = Vec<(String, &'static str, Bound<'py, PyAny>)>;

pub(crate) fn to_arrays<'py>(py: Python<'py>, table: Arc<ResultTable>) -> PyResult<Out<'py>> {
    let owner = Bound::new(py, CachedResult { table })?;
    let table = Arc::clone(&owner.get().table);
    table
        .columns
        .iter()
        .map(|c| {
            let bytes = c.bytes();
            // SAFETY: the bytes belong to the table `owner` holds through an `Arc`; cached
            // tables are never modified.
            let array = unsafe {
                match c.dtype {
                    Dtype::F64 => {
                        readonly_view::<f64>(owner.as_any(), bytemuck::cast_slice(bytes)).into_any()
                    }
                    Dtype::I64 => {
                        readonly_view::<i64>(owner.as_any(), bytemuck::cast_slice(bytes)).into_any()
                    }
                    Dtype::F32 => {
                        readonly_view::<f32>(owner.as_any(), bytemuck::cast_slice(bytes)).into_any()
                    }
                    Dtype::I32 => {
                        readonly_view::<i32>(owner.as_any(), bytemuck::cast_slice(bytes)).into_any()
                    }
                    Dtype::U8 | Dtype::Bool => {
                        readonly_view::<u8>(owner.as_any(), bytes).into_any()
                    }
                }
            };
            Ok((c.name.clone(), c.dtype.name(), array))
        })
        .chain(table.meta.iter().map(|(key, value)| {
            // Metadata rides along as ("key", "meta", str): Python's `columns_of` splits it.
            Ok((key.clone(), "meta", PyString::new(py, value).into_any()))
        }))
        .collect()
}

/// The result's columns as (name, dtype, writable array) triples that own its vectors.
pub(crate) fn owned_arrays(
    py: Python<'_>,
    table: ResultTable,
) -> Vec<(String, &'static str, Bound<'_, PyAny>)> {
    table
        .columns
        .into_iter()
        .map(|c| {
            let (name, dtype) = (c.name.clone(), c.dtype);
            let array = match dtype {
                Dtype::F64 => c.into_vec::<f64>().into_pyarray(py).into_any(),
                Dtype::I64 => c.into_vec::<i64>().into_pyarray(py).into_any(),
                Dtype::F32 => c.into_vec::<f32>().into_pyarray(py).into_any(),
                Dtype::I32 => c.into_vec::<i32>().into_pyarray(py).into_any(),
                Dtype::U8 | Dtype::Bool => c.into_vec::<u8>().into_pyarray(py).into_any(),
            };
            (name, dtype.name(), array)
        })
        .collect()
}
