//! `ictcore._ictcore`: the thin PyO3 layer over the `ictcore` core crate. Bindings only convert
//! arguments, call one core function inside `run_detached`, and convert the result.

mod arrays;
mod cache;
mod candles;
mod compat;
mod convert;
mod detach;
mod detect;
mod errors;
mod live;
mod pool;
mod store;

use pyo3::prelude::*;
use pyo3::types::PyDict;

#[global_allocator]
static ALLOCATOR: ictcore::recycle::Recycling = ictcore::recycle::Recycling;

/// Test hook: panics inside `run_detached`, so the suite can check that a panic becomes
/// `ictcore.IctError` naming the function instead of crashing or escaping as a bare panic.
#[pyfunction]
#[allow(clippy::panic, reason = "the hook exists to panic on purpose")]
fn _panic_for_tests(py: Python<'_>) -> PyResult<()> {
    detach::run_detached(py, "_panic_for_tests", || -> ictcore::Result<()> {
        std::panic::panic_any("deliberate panic from the test hook")
    })
}

/// Returns the memory kept for reuse by the allocator to the system (and the free memory
/// the C allocator holds); the bytes of kept blocks released.
#[pyfunction]
fn release_memory() -> usize {
    let released = ictcore::recycle::release();
    ictcore::recycle::trim_heap();
    released
}

/// Bytes of freed result columns kept for reuse (at most 192 MiB).
#[pyfunction]
fn kept_memory() -> usize {
    ictcore::recycle::kept_bytes()
}

/// Every native detector's declaration, as plain Python data: `name`, `doc`, `shape` (the
/// Python class of its result), `params` (name, type, default, doc) and `tables` (name and
/// (column, dtype) pairs). Python derives its presets and table classes from it.
fn native_declarations(py: Python<'_>) -> PyResult<Vec<Bound<'_, PyDict>>> {
    use ictcore::detect::registry::ParamKind;
    let mut out = Vec::new();
    for d in ictcore::detect::REGISTRY {
        let item = PyDict::new(py);
        item.set_item("name", d.name)?;
        item.set_item("doc", d.doc)?;
        item.set_item("shape", d.shape.class_name())?;
        let mut params = Vec::new();
        for p in d.params {
            let default = match p.kind {
                ParamKind::Length { default, .. } => default.into_pyobject(py)?.into_any(),
                ParamKind::Number { default } => default.into_pyobject(py)?.into_any(),
                ParamKind::Choice { default, .. } | ParamKind::Text { default, .. } => {
                    default.into_pyobject(py)?.into_any()
                }
            };
            params.push((p.name, p.kind.type_name(), default, p.doc));
        }
        item.set_item("params", params)?;
        let tables: Vec<(&str, Vec<(&str, &str)>)> = d
            .tables
            .iter()
            .map(|t| (t.name, t.columns().map(|(c, dt)| (c, dt.name())).collect()))
            .collect();
        item.set_item("tables", tables)?;
        out.push(item);
    }
    Ok(out)
}

/// Sends the core's `log` records to Python's `logging` (loggers "ictcore.cache",
/// "ictcore.store"; the package gives "ictcore" a NullHandler, so nothing shows unless the
/// application configures logging). Loggers are cached but not their levels, so a level set
/// after import takes effect; records below INFO are not even formatted. The core logs only
/// rare events (a damaged entry, a recovery), and from threads that hold no GIL while others
/// wait on them, so taking the GIL to log cannot deadlock.
fn forward_logs(py: Python<'_>) {
    let installed = pyo3_log::Logger::new(py, pyo3_log::Caching::Loggers)
        .map(|logger| logger.filter(log::LevelFilter::Info).install());
    // Another extension may have installed a logger for this process: keep it.
    if let Ok(Ok(handle)) = installed {
        drop(handle);
    }
}

#[pymodule]
fn _ictcore(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", ictcore::VERSION)?;
    forward_logs(m.py());
    m.add_function(wrap_pyfunction!(candles::validate_candles, m)?)?;
    m.add_function(wrap_pyfunction!(candles::check_time_index, m)?)?;
    m.add_function(wrap_pyfunction!(convert::keyable_params, m)?)?;
    m.add_function(wrap_pyfunction!(convert::digest, m)?)?;
    m.add_function(wrap_pyfunction!(convert::result_digest, m)?)?;
    m.add_function(wrap_pyfunction!(compat::compat_run, m)?)?;
    m.add_function(wrap_pyfunction!(compat::compat_session_table, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_for_tests, m)?)?;
    m.add_function(wrap_pyfunction!(release_memory, m)?)?;
    m.add_class::<store::PyStore>()?;
    m.add_class::<store::Mapping>()?;
    m.add_function(wrap_pyfunction!(kept_memory, m)?)?;
    m.add_function(wrap_pyfunction!(store::read_csv, m)?)?;
    m.add_class::<cache::Cache>()?;
    m.add_class::<convert::CachedResult>()?;
    m.add_class::<pool::Pool>()?;
    m.add_function(wrap_pyfunction!(pool::resolved_params, m)?)?;
    m.add("DETECTORS", ictcore::pool::DETECTORS.to_vec())?;
    m.add(
        "NATIVE_DETECTORS",
        ictcore::pool::native_detectors().to_vec(),
    )?;
    m.add_function(wrap_pyfunction!(detect::native_run, m)?)?;
    m.add("NATIVE_DECLARATIONS", native_declarations(m.py())?)?;
    m.add_class::<detect::Engine>()?;
    m.add_class::<live::Live>()?;
    m.add_class::<detect::ActiveIndex>()?;
    m.add("NATIVE_KINDS", ictcore::detect::table::kinds())?;
    m.add("SWING_LABELS", ictcore::detect::table::LABELS.to_vec())?;
    m.add("ZONE_STATES", ictcore::detect::table::STATES.to_vec())?;
    Ok(())
}
