//! Bindings of `ictcore::store`: the `Store` handle and zero-copy, read-only numpy views of
//! stored series. Each view's base object owns the mapping (an `Arc`), so views stay valid
//! after the store is dropped or the file is replaced by growth.

use crate::arrays::{readonly_view, OwnedCandles, PyCandles};
use crate::detach::run_detached;
use crate::errors::{self, to_pyerr};
use ictcore::store::{
    parse_csv, Durability, IfExists, ImportOptions, OnOverlap, SeriesInfo, SeriesReader,
    SourceZone, Store, VolumeColumn,
};
use ictcore::Candles;
use numpy::{Element, IntoPyArray, PyArray1};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::path::PathBuf;
use std::sync::Arc;

/// Owner of a read-only file mapping; the base object of every array viewing it.
#[pyclass(frozen, module = "ictcore._ictcore")]
pub struct Mapping {
    _map: Arc<memmap2::Mmap>,
}

/// A read-only numpy view of `values` (which lie inside `owner`'s mapping).
fn view<'py, T: Element>(
    owner: &Bound<'py, Mapping>,
    values: &[T],
) -> PyResult<Bound<'py, PyArray1<T>>> {
    // SAFETY: `values` lies in the mapping that `owner` keeps alive (an `Arc<Mmap>` never
    // remapped or unmapped while referenced).
    Ok(unsafe { readonly_view(owner.as_any(), values) })
}

/// The six column views of a reader, sharing one owner of its mapping.
fn views<'py>(py: Python<'py>, reader: &SeriesReader) -> errors::Result<Columns<'py>> {
    let owner = Bound::new(
        py,
        Mapping {
            _map: Arc::clone(reader.mapping()),
        },
    )?;
    let values = |c: usize| reader.values(c);
    Ok((
        view(&owner, reader.time()?)?,
        view(&owner, values(1)?)?,
        view(&owner, values(2)?)?,
        view(&owner, values(3)?)?,
        view(&owner, values(4)?)?,
        view(&owner, values(5)?)?,
    ))
}

fn durability(text: &str) -> PyResult<Durability> {
    match text {
        "full" => Ok(Durability::Full),
        "os" => Ok(Durability::Os),
        other => Err(crate::errors::invalid(
            "durability",
            format!("must be \"full\" or \"os\", got {other:?}"),
        )),
    }
}

type Columns<'py> = (
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<f64>>,
);

/// One damaged region: (column, block or None, first row, end row).
type DamageRow = (String, Option<u64>, u64, u64);

/// A candle store directory (see `ictcore.CandleStore`).
#[pyclass(frozen, module = "ictcore._ictcore", name = "Store")]
pub struct PyStore {
    pub(crate) store: Store,
}

#[pymethods]
impl PyStore {
    #[new]
    #[pyo3(signature = (root, create = true))]
    fn new(root: PathBuf, create: bool) -> errors::Result<Self> {
        Ok(Self {
            store: Store::open(&root, create)?,
        })
    }

    /// The store directory.
    #[getter]
    fn root(&self) -> PathBuf {
        self.store.root().to_path_buf()
    }

    /// Appends a validated batch atomically (all rows or none).
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (symbol, timeframe, candles, durability = "full"))]
    fn append<'py>(
        &self,
        py: Python<'py>,
        symbol: &str,
        timeframe: &str,
        candles: PyCandles<'py>,
        durability: &str,
    ) -> PyResult<()> {
        let mode = self::durability(durability)?;
        self.with_candles(py, &candles, |c| {
            self.store.append(symbol, timeframe, c, mode)
        })
    }

    /// Writes a series anew, replacing a stored one (new file, then rename).
    fn write<'py>(
        &self,
        py: Python<'py>,
        symbol: &str,
        timeframe: &str,
        candles: PyCandles<'py>,
    ) -> PyResult<()> {
        self.with_candles(py, &candles, |c| self.store.write(symbol, timeframe, c))
    }

    /// Zero-copy, read-only views (time, open, high, low, close, volume) of a stored series.
    fn read<'py>(
        &self,
        py: Python<'py>,
        symbol: &str,
        timeframe: &str,
    ) -> errors::Result<Columns<'py>> {
        let reader: SeriesReader = run_detached(py, "CandleStore.read", || {
            self.store.read(symbol, timeframe)
        })?;
        views(py, &reader)
    }

    /// Views of many series in request order; a failed request holds its exception instead.
    fn load_batch<'py>(
        &self,
        py: Python<'py>,
        requests: Vec<(String, String)>,
    ) -> PyResult<Vec<Bound<'py, PyAny>>> {
        let readers = run_detached(py, "CandleStore.load_batch", || {
            Ok(self.store.load_batch(&requests))
        })?;
        readers
            .into_iter()
            .map(|reader| match reader {
                Ok(reader) => Ok(views(py, &reader)?.into_pyobject(py)?.into_any()),
                Err(e) => Ok(to_pyerr(e).into_value(py).into_bound(py).into_any()),
            })
            .collect()
    }

    /// Stored series as dicts (symbol, timeframe, rows, first, last, path), or the error of a
    /// file that could not be read (as a dict with "error").
    fn series<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let listed = run_detached(py, "CandleStore.series", || self.store.series())?;
        series_dicts(py, listed)
    }

    /// The series new or changed since the previous refresh (all of them the first time).
    fn refresh<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let changed = run_detached(py, "CandleStore.refresh", || self.store.refresh())?;
        series_dicts(py, changed)
    }

    /// Damaged regions of a series as (column, block or None, first row, end row).
    fn verify(&self, py: Python<'_>, symbol: &str, timeframe: &str) -> PyResult<Vec<DamageRow>> {
        let damage = run_detached(py, "CandleStore.verify", || {
            self.store.verify(symbol, timeframe)
        })?;
        Ok(damage
            .into_iter()
            .map(|d| (d.column.to_string(), d.block, d.rows.0, d.rows.1))
            .collect())
    }

    /// Imports one CSV file; returns (rows in the file, rows added, volume column or None).
    #[pyo3(signature = (csv, symbol, timeframe, volume = "auto", if_exists = "append", tz = "UTC", on_overlap = "merge"))]
    #[allow(clippy::too_many_arguments)]
    fn import_csv(
        &self,
        py: Python<'_>,
        csv: PathBuf,
        symbol: &str,
        timeframe: &str,
        volume: &str,
        if_exists: &str,
        tz: &str,
        on_overlap: &str,
    ) -> PyResult<(u64, u64, Option<String>)> {
        let if_exists = match if_exists {
            "append" => IfExists::Append,
            "replace" => IfExists::Replace,
            "error" => IfExists::Error,
            other => {
                return Err(crate::errors::invalid(
                    "if_exists",
                    format!("must be \"append\", \"replace\" or \"error\", got {other:?}"),
                ))
            }
        };
        let on_overlap = match on_overlap {
            "merge" => OnOverlap::Merge,
            "replace" => OnOverlap::Replace,
            "error" => OnOverlap::Error,
            other => {
                return Err(crate::errors::invalid(
                    "on_overlap",
                    format!("must be \"merge\", \"replace\" or \"error\", got {other:?}"),
                ))
            }
        };
        let options = ImportOptions {
            volume: volume_column(volume),
            zone: SourceZone::parse(tz).map_err(errors::to_pyerr)?,
            if_exists,
            on_overlap,
        };
        let imported = run_detached(py, "CandleStore.import_csv", || {
            self.store
                .import_csv(&csv, symbol, timeframe, &options)
                .map_err(|e| e.in_series(symbol, timeframe))
        })?;
        Ok((imported.rows, imported.added, imported.volume_column))
    }

    /// The file of a series (whether or not it exists).
    fn path(&self, symbol: &str, timeframe: &str) -> errors::Result<PathBuf> {
        Ok(self.store.series_path(symbol, timeframe)?)
    }
}

/// One dict per listed series: its fields, or `error` for a file that cannot be read.
fn series_dicts<'py>(
    py: Python<'py>,
    listed: Vec<Result<SeriesInfo, ictcore::IctError>>,
) -> PyResult<Vec<Bound<'py, PyDict>>> {
    listed
        .into_iter()
        .map(|item| {
            let d = PyDict::new(py);
            match item {
                Ok(s) => {
                    d.set_item("symbol", s.symbol)?;
                    d.set_item("timeframe", s.timeframe)?;
                    d.set_item("rows", s.rows)?;
                    d.set_item("first", s.first_ts)?;
                    d.set_item("last", s.last_ts)?;
                    d.set_item("path", s.path)?;
                }
                Err(e) => d.set_item("error", e.to_string())?,
            }
            Ok(d)
        })
        .collect()
}

fn volume_column(name: &str) -> VolumeColumn {
    match name {
        "auto" => VolumeColumn::Auto,
        "none" => VolumeColumn::Zero,
        name => VolumeColumn::Named(name.to_string()),
    }
}

/// The six columns of a parsed candle file.
type ParsedColumns<'py> = (
    Bound<'py, PyArray1<i64>>,
    (
        Bound<'py, PyArray1<f64>>,
        Bound<'py, PyArray1<f64>>,
        Bound<'py, PyArray1<f64>>,
        Bound<'py, PyArray1<f64>>,
        Bound<'py, PyArray1<f64>>,
    ),
    Option<String>,
);

/// Parses and checks one CSV file of candles (as `import_csv` does, without storing it);
/// returns the columns (owned arrays) and the volume column used.
#[pyfunction]
#[pyo3(signature = (csv, volume = "auto", tz = "UTC"))]
pub fn read_csv<'py>(
    py: Python<'py>,
    csv: PathBuf,
    volume: &str,
    tz: &str,
) -> PyResult<ParsedColumns<'py>> {
    let volume = volume_column(volume);
    let zone = SourceZone::parse(tz).map_err(errors::to_pyerr)?;
    let parsed = run_detached(py, "read_csv", || parse_csv(&csv, &volume, zone))?;
    Ok((
        parsed.time.into_pyarray(py),
        (
            parsed.open.into_pyarray(py),
            parsed.high.into_pyarray(py),
            parsed.low.into_pyarray(py),
            parsed.close.into_pyarray(py),
            parsed.volume.into_pyarray(py),
        ),
        parsed.volume_column,
    ))
}

impl PyStore {
    fn with_candles<'py>(
        &self,
        py: Python<'py>,
        candles: &PyCandles<'py>,
        work: impl FnOnce(&Candles<'_>) -> ictcore::Result<()> + Send,
    ) -> PyResult<()> {
        // Copied with the GIL held: another thread changing the arrays during the write
        // cannot make the store persist values that skipped validation.
        let owned = OwnedCandles::copy(&candles.columns()?)?;
        run_detached(py, "CandleStore", || {
            let c = owned.view();
            let candles = Candles::new(c.time, c.open, c.high, c.low, c.close, c.volume)?;
            work(&candles)
        })
    }
}
