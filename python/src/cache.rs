//! Bindings of `ictcore::cache`: the `Cache` handle. Inputs are borrowed numpy arrays (hashed
//! without the GIL); results come back as read-only numpy views of the cached columns, whose
//! base object holds the cached table, so a memory hit copies nothing (see `convert`).

use crate::convert::{extract_arrays, params, to_arrays, AnyArray, Out};
use crate::detach::{run_detached, run_detached_py};
use crate::errors::{self, invalid, to_pyerr, wrong_type};
use ictcore::cache::{AnalysisCache, CacheConfig, DiskWrites, Eviction, Key, KeyBuilder, Source};
use ictcore::table::{Column, ResultTable};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

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

/// A result table copied from a list of (name, array) pairs.
fn result_table(columns: &Bound<'_, PyList>) -> PyResult<ResultTable> {
    let columns = extract_arrays(columns, "result column")?
        .iter()
        .map(|(name, array)| {
            let (dtype, bytes) = array.bytes(name)?;
            Ok(Column::from_bytes(name.clone(), dtype, bytes)?)
        })
        .collect::<errors::Result<Vec<Column>>>()?;
    Ok(ResultTable::new(columns))
}

/// How a result was found, as Python reads it.
fn source_name(source: Source) -> &'static str {
    match source {
        Source::Memory => "memory",
        Source::Disk => "disk",
        Source::Computed => "computed",
    }
}

/// A key as `key` gives it (32 hex digits).
fn parse_key(text: &str) -> PyResult<Key> {
    Key::from_hex(text)
        .ok_or_else(|| invalid("key", format!("must be 32 hex digits, got {text:?}")))
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
    #[pyo3(signature = (path, max_memory_bytes, max_disk_bytes, ttl_seconds, eviction, sync_writes, disk_writes = "paying", compression = true))]
    #[allow(
        clippy::too_many_arguments,
        reason = "the arguments are the Python call's; the Python layer names them"
    )]
    fn new(
        py: Python<'_>,
        path: Option<PathBuf>,
        max_memory_bytes: u64,
        max_disk_bytes: u64,
        ttl_seconds: Option<f64>,
        eviction: &str,
        sync_writes: bool,
        disk_writes: &str,
        compression: bool,
    ) -> PyResult<Self> {
        let disk_writes = match disk_writes {
            "paying" => DiskWrites::Paying,
            "all" => DiskWrites::All,
            other => {
                return Err(invalid(
                    "disk_writes",
                    format!("must be \"paying\" or \"all\", got {other:?}"),
                ))
            }
        };
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
            disk_writes,
            compression,
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
                        Ok(result_table(list)?)
                    })
                })
                .map_err(|shared| match Arc::try_unwrap(shared) {
                    Ok(ComputeError(e)) => e,
                    Err(shared) => Python::attach(|py| shared.0.clone_ref(py)),
                })
        })?;
        Ok((source_name(source), to_arrays(py, table)?))
    }

    /// The stored result of `key` (32 hex digits, from `key`), or None: a memory or disk
    /// hit is counted; a miss is not (the caller computes it elsewhere and reports it with
    /// `keep_computed`). Returns (source, [(name, dtype, array)]).
    fn lookup<'py>(
        &self,
        py: Python<'py>,
        key: &str,
    ) -> PyResult<Option<(&'static str, Out<'py>)>> {
        let key = parse_key(key)?;
        let found = py.detach(|| self.cache.lookup(&key));
        found
            .map(|(table, source)| Ok((source_name(source), to_arrays(py, table)?)))
            .transpose()
    }

    /// Stores the result of `key` that another process computed in `compute_seconds`
    /// (counted as a miss; written to disk when it pays; kept in memory).
    fn keep_computed(
        &self,
        py: Python<'_>,
        key: &str,
        detector: &str,
        columns: &Bound<'_, PyList>,
        compute_seconds: f64,
    ) -> PyResult<()> {
        let key = parse_key(key)?;
        let table = Arc::new(result_table(columns)?);
        // Saturating float-to-int conversion: a negative or NaN time counts as zero.
        let compute_ns = (compute_seconds * 1e9) as u64;
        py.detach(|| self.cache.keep_computed(key, detector, table, compute_ns));
        Ok(())
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
        d.set_item("skipped_writes", s.skipped_writes)?;
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
