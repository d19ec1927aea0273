//! Bindings of `ictcore::cache`: the `Cache` handle. Inputs are borrowed numpy arrays (hashed
//! without the GIL); results come back as read-only numpy views of the cached columns, whose
//! base object holds the cached table, so a memory hit copies nothing.

use crate::arrays::readonly_view;
use crate::detach::{run_detached, run_detached_py};
use crate::errors::{self, bad_column, invalid, to_pyerr, wrong_type};
use ictcore::cache::{
    AnalysisCache, CacheConfig, Column, Dtype, Eviction, KeyBuilder, Param, ResultTable, Source,
};
use numpy::{PyReadonlyArray1, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Owner of a cached result; the base object of every array viewing it.
#[pyclass(frozen, module = "ictcore._ictcore")]
pub struct CachedResult {
    table: Arc<ResultTable>,
}

/// A 1-D numpy array of a dtype the cache handles.
#[derive(FromPyObject)]
enum AnyArray<'py> {
    F64(PyReadonlyArray1<'py, f64>),
    I64(PyReadonlyArray1<'py, i64>),
    F32(PyReadonlyArray1<'py, f32>),
    I32(PyReadonlyArray1<'py, i32>),
    U8(PyReadonlyArray1<'py, u8>),
    Bool(PyReadonlyArray1<'py, bool>),
}

impl AnyArray<'_> {
    /// The dtype and the exact bytes (the array must be C-contiguous).
    fn bytes(&self, name: &str) -> PyResult<(Dtype, &[u8])> {
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

fn extract_arrays<'py>(
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

/// Checks that `params` can be keyed (the compat layer computes without its cache rather
/// than fail when they cannot, so caching never changes what a call accepts).
#[pyfunction]
pub fn keyable_params(params: &Bound<'_, PyDict>) -> PyResult<()> {
    self::params(params).map(|_| ())
}

fn key_builder(
    detector: &str,
    mode: &str,
    params_dict: &Bound<'_, PyDict>,
    inputs: &[(String, AnyArray<'_>)],
) -> errors::Result<KeyBuilder> {
    let mut k = KeyBuilder::new(detector, mode);
    for (name, value) in params(params_dict)? {
        k.param(&name, value)?;
    }
    for (name, array) in inputs {
        let (dtype, bytes) = array.bytes(name)?;
        k.input(name, dtype, bytes);
    }
    Ok(k)
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

/// The error of a Python `compute`: its exception, or the cache's own refusal (a re-entrant
/// request) as one.
struct ComputeError(PyErr);

impl From<PyErr> for ComputeError {
    fn from(e: PyErr) -> Self {
        Self(e)
    }
}

impl From<ictcore::IctError> for ComputeError {
    fn from(e: ictcore::IctError) -> Self {
        Self(to_pyerr(e))
    }
}

/// The analysis cache (see `ictcore.AnalysisCache`).
#[pyclass(frozen, module = "ictcore._ictcore")]
pub struct Cache {
    pub(crate) cache: AnalysisCache,
}

#[pymethods]
impl Cache {
    #[new]
    #[pyo3(signature = (path, max_memory_bytes, max_disk_bytes, ttl_seconds, eviction, sync_writes))]
    fn new(
        py: Python<'_>,
        path: Option<PathBuf>,
        max_memory_bytes: u64,
        max_disk_bytes: u64,
        ttl_seconds: Option<f64>,
        eviction: &str,
        sync_writes: bool,
    ) -> PyResult<Self> {
        let eviction = match eviction {
            "lru" => Eviction::Lru,
            "tinylfu" => Eviction::TinyLfu,
            other => {
                return Err(invalid(
                    "eviction",
                    format!("must be \"lru\" or \"tinylfu\", got {other:?}"),
                ))
            }
        };
        let ttl = match ttl_seconds {
            None => None,
            Some(s) if s.is_finite() && s > 0.0 && s < 3.2e9 => Some(Duration::from_secs_f64(s)),
            Some(s) => {
                return Err(invalid(
                    "ttl_seconds",
                    format!("must be a positive number of seconds (at most 100 years), got {s}"),
                ))
            }
        };
        let config = CacheConfig {
            max_memory_bytes,
            max_disk_bytes,
            ttl,
            eviction,
            sync_writes,
        };
        let cache = run_detached(py, "AnalysisCache", || {
            AnalysisCache::open(path.as_deref(), config)
        })?;
        Ok(Self { cache })
    }

    /// The directory of the disk tier, or None.
    #[getter]
    fn path(&self) -> Option<PathBuf> {
        self.cache.disk().map(|d| d.root().to_path_buf())
    }

    /// The key (32 hex digits) of a (detector, mode, params, inputs) combination.
    fn key(
        &self,
        py: Python<'_>,
        detector: &str,
        mode: &str,
        params: &Bound<'_, PyDict>,
        inputs: &Bound<'_, PyList>,
    ) -> PyResult<String> {
        let inputs = extract_arrays(inputs, "input")?;
        let k = key_builder(detector, mode, params, &inputs)?;
        Ok(py.detach(|| k.key().to_string()))
    }

    /// The cached result, or `compute()`'s (a list of (name, array) pairs), cached.
    /// Returns (source, [(name, dtype, array)]).
    fn get_or_compute<'py>(
        &self,
        py: Python<'py>,
        detector: &str,
        mode: &str,
        params: &Bound<'py, PyDict>,
        inputs: &Bound<'py, PyList>,
        compute: Bound<'py, PyAny>,
    ) -> PyResult<(&'static str, Out<'py>)> {
        let inputs = extract_arrays(inputs, "input")?;
        let builder = key_builder(detector, mode, params, &inputs)?;
        let id = builder.detector_id();
        let compute = compute.unbind();
        let cache = &self.cache;
        let (table, source) = run_detached_py(py, "AnalysisCache.get_or_compute", || {
            let key = builder.key();
            cache
                .get_or_compute(key, &id, || {
                    Python::attach(|py| -> Result<ResultTable, ComputeError> {
                        let out = compute.bind(py).call0()?;
                        let list = out.cast::<PyList>().map_err(|_| {
                            wrong_type("compute() must return a list of (name, array) pairs")
                        })?;
                        let columns = extract_arrays(list, "result column")?
                            .iter()
                            .map(|(name, array)| {
                                let (dtype, bytes) = array.bytes(name)?;
                                Ok(Column::from_bytes(name.clone(), dtype, bytes)?)
                            })
                            .collect::<Result<Vec<Column>, ComputeError>>()?;
                        Ok(ResultTable::new(columns))
                    })
                })
                .map_err(|shared| match Arc::try_unwrap(shared) {
                    Ok(ComputeError(e)) => e,
                    Err(shared) => Python::attach(|py| shared.0.clone_ref(py)),
                })
        })?;
        let source = match source {
            Source::Memory => "memory",
            Source::Disk => "disk",
            Source::Computed => "computed",
        };
        Ok((source, to_arrays(py, table)?))
    }

    /// Counters and sizes (see `ictcore.AnalysisCache.stats`).
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = run_detached(py, "AnalysisCache.stats", || self.cache.stats())?;
        let d = PyDict::new(py);
        d.set_item("memory_hits", s.memory_hits)?;
        d.set_item("disk_hits", s.disk_hits)?;
        d.set_item("misses", s.misses)?;
        d.set_item("corrupt", s.corrupt)?;
        d.set_item("evictions", s.evictions)?;
        d.set_item("entries", s.entries)?;
        d.set_item("bytes_in_memory", s.bytes_in_memory)?;
        d.set_item("bytes_on_disk", s.bytes_on_disk)?;
        d.set_item("disk_writes", s.disk_writes)?;
        d.set_item("disk_write_errors", s.disk_write_errors)?;
        d.set_item("raw_bytes_written", s.raw_bytes_written)?;
        d.set_item("compressed_bytes_written", s.compressed_bytes_written)?;
        d.set_item("compression_ratio", s.compression_ratio())?;
        d.set_item("compute_seconds", s.compute_ns as f64 / 1e9)?;
        Ok(d)
    }

    /// Drops every entry of both tiers.
    fn clear(&self, py: Python<'_>) -> PyResult<()> {
        run_detached(py, "AnalysisCache.clear", || self.cache.clear())
    }

    /// Validates every disk entry; returns (file, reason) for each damaged one (quarantined).
    fn verify(&self, py: Python<'_>) -> PyResult<Vec<(PathBuf, String)>> {
        run_detached(py, "AnalysisCache.verify", || self.cache.verify())
    }

    /// Runs the disk sweep; returns what it removed and the bytes left.
    fn sweep<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = run_detached(py, "AnalysisCache.sweep", || self.cache.sweep())?;
        let d = PyDict::new(py);
        d.set_item("ran", s.ran)?;
        d.set_item("removed_entries", s.removed_entries)?;
        d.set_item("removed_temp", s.removed_temp)?;
        d.set_item("removed_corrupt", s.removed_corrupt)?;
        d.set_item("bytes_on_disk", s.bytes)?;
        Ok(d)
    }
}
