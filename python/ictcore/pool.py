"""``DetectorPool``: the detectors over whole portfolios, in parallel, in one call.

One native call analyses every requested series with every requested detector on the pool's
own worker threads, with the GIL released: series come memory-mapped from a
:class:`~ictcore.CandleStore` (or from Candles/DataFrames in memory), the longest first, the
next one prefetched while the current one is computed; swings are computed once per series
and shared by ``bos_choch``, ``ob``, ``liquidity`` and ``retracements``; with an
:class:`~ictcore.AnalysisCache` unchanged (series, detector, parameters) are not recomputed.
A damaged file, NaN prices or a failing detector fail their own request only.

The frames are the ones ``ictcore.compat.smc`` returns for the same candles, bit for bit.
The native causal detectors run as ``"native.<name>"`` (``"native.fvg"``,
``"native.order_blocks"``, ... see :data:`NATIVE_DETECTORS`; parameters as ``ictcore.fvg``
etc.); their results are the :class:`~ictcore.EventTable` / :class:`~ictcore.ZoneTable`
those functions return.
"""

from __future__ import annotations

import concurrent.futures
import logging
import sys
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from . import _ictcore, _interop, _pyresult, _pyrun
from ._columns import TableColumns, columns_of, expanded
from ._workers import WorkerProcesses
from .cache import AnalysisCache
from .candles import Candles
from .compat._frames import arithmetic_dtypes
from .config import Config
from .detect import TABLES, EventTable, _wrap
from .exceptions import BatchError, IctError, InvalidInputError, InvalidTypeError
from .live import LiveSession
from .pydetectors import PythonDetector
from .store import CandleStore

_log = logging.getLogger("ictcore.pool")

__all__ = ["DETECTORS", "NATIVE_DETECTORS", "AnalysisResult", "DetectorPool"]

#: The detectors the pool runs by default (the ``smc`` functions), in that order.
DETECTORS: tuple[str, ...] = tuple(_ictcore.DETECTORS)
#: The native causal detectors the pool runs when named.
NATIVE_DETECTORS: tuple[str, ...] = tuple(_ictcore.NATIVE_DETECTORS)

Key = tuple[str, str, str]


def _plain(name: str, values: npt.NDArray[Any]) -> None:
    """No coded columns (compat frames)."""


class AnalysisResult(Mapping[Key, "pd.DataFrame | EventTable"]):
    """Results by (symbol, timeframe, detector): ``result["EURUSD", "15m", "fvg"]`` is the
    DataFrame ``smc.fvg`` gives (a writable copy, built on access); a native detector's
    is its :class:`~ictcore.EventTable` (a :class:`~ictcore.ZoneTable` for zone detectors).
    Asking again while you hold the object gives the same object; once you drop it, it is
    freed (the result stays held compact), so a loop over a whole portfolio's results holds
    one expanded frame at a time, not all of them.
    :meth:`arrays` gives the read-only columns without copying. Failed series are in
    :attr:`errors`; :attr:`stats` tells what the run did."""

    def __init__(
        self,
        columns: dict[Key, dict[str, npt.NDArray[Any]] | None],
        errors: dict[tuple[str, str], BaseException],
        stats: dict[str, Any],
        loader: Callable[[Key], dict[str, npt.NDArray[Any]]] | None = None,
        python: frozenset[str] = frozenset(),
    ) -> None:
        self._columns = columns
        self._loader = loader
        self._python = python
        # Weak: an expanded frame lives as long as the caller holds it (W1's dense compat
        # frames would be 10 GB if every one a loop asked for were kept).
        self._frames: weakref.WeakValueDictionary[Key, pd.DataFrame | EventTable] = (
            weakref.WeakValueDictionary()
        )
        self.errors = errors
        self.stats = stats

    def __getitem__(self, key: Key) -> pd.DataFrame | EventTable:
        value = self._frames.get(key)
        if value is not None:
            return value
        columns = self.arrays(*key)
        name = key[2]
        if name in self._python:
            value = _pyresult.to_frame(self._held(key))
        elif name in NATIVE_DETECTORS:
            detector = name.removeprefix("native.")
            meta = getattr(columns, "meta", {})
            value = _wrap(detector, _split_tables(detector, columns), meta=meta)
        else:
            # Expanded columns are fresh; views of a held result are copied (frames are the
            # caller's to modify).
            value = pd.DataFrame(
                {n: a if a.flags.writeable else np.array(a) for n, a in columns.items()},
                copy=False,
            )
        self._frames[key] = value
        return value

    def frame(self, symbol: str, timeframe: str, detector: str) -> pd.DataFrame:
        """The result as a DataFrame (a native table through ``to_pandas()``)."""
        value = self[symbol, timeframe, detector]
        return value.to_pandas() if isinstance(value, EventTable) else value

    def to_arrow(self, symbol: str, timeframe: str, detector: str) -> Any:
        """The result as a pyarrow Table (``pip install 'ictcore[arrow]'``): a compat
        detector's columns as they are; a native table through its ``to_arrow()``."""
        value = self[symbol, timeframe, detector]
        if isinstance(value, EventTable):
            return value.to_arrow()
        if detector in self._python:
            pyarrow = _interop.require("pyarrow", "arrow", "to_arrow()")
            return pyarrow.Table.from_pandas(value)
        return _interop.to_arrow(
            _interop.decoded_columns(self.arrays(symbol, timeframe, detector), _plain, ())
        )

    def to_polars(self, symbol: str, timeframe: str, detector: str) -> Any:
        """The result as a polars DataFrame (``pip install 'ictcore[polars]'``)."""
        value = self[symbol, timeframe, detector]
        if isinstance(value, EventTable):
            return value.to_polars()
        if detector in self._python:
            polars = _interop.require("polars", "polars", "to_polars()")
            return polars.from_pandas(
                value, include_index=not isinstance(value.index, pd.RangeIndex)
            )
        return _interop.to_polars(
            _interop.decoded_columns(self.arrays(symbol, timeframe, detector), _plain, ())
        )

    def __iter__(self) -> Iterator[Key]:
        return iter(self._columns)

    def __len__(self) -> int:
        return len(self._columns)

    def arrays(self, symbol: str, timeframe: str, detector: str) -> dict[str, npt.NDArray[Any]]:
        """The result's columns as numpy arrays. The pool holds compat frames compact (the
        rows that carry an event, runs of repeated values: a few bytes per candle instead of
        one dense row each), so their columns are expanded here, on each call, into new
        arrays; other columns are read-only views of the held result (no copy). A Python
        detector's columns come as it returned them (datetime and str columns decoded; its
        DataFrame's index is in ``result[...]``). After ``analyze(keep=False)`` results are
        fetched from the cache (or computed) on access."""
        key = (symbol, timeframe, detector)
        held = self._held(key)
        if detector in self._python:
            return _pyresult.decode(held)[0]
        return expanded(held) if isinstance(held, TableColumns) else held

    def _held(self, key: Key) -> dict[str, npt.NDArray[Any]]:
        """The columns as held (compact or encoded), loaded first if not held."""
        symbol, timeframe, detector = key
        held = self._columns[key]
        digest = held.meta.get("deferred.digest") if isinstance(held, TableColumns) else None
        if held is None or digest is not None:
            if self._loader is None:  # pragma: no cover - analyze always sets a loader
                raise KeyError(key)
            loaded = self._loader(key)
            if digest is not None and _ictcore.result_digest(list(loaded.items())) != digest:
                raise IctError(
                    f"{symbol} {timeframe} {detector}: the series changed since analyze() "
                    "ran (this result is recomputed when asked for and no longer matches the "
                    "run's); run analyze() again",
                    symbol=symbol,
                    timeframe=timeframe,
                )
            return loaded
        return held

    def held_bytes(self) -> int:
        """Bytes of result data the object holds now (compact forms as held)."""
        return sum(
            a.nbytes for cols in self._columns.values() if cols is not None for a in cols.values()
        )

    def __repr__(self) -> str:
        return (
            f"<AnalysisResult: {len(self)} results, {len(self.errors)} failed series, "
            f"{self.stats.get('wall_seconds', 0):.3f} s>"
        )


def _split_tables(
    detector: str, columns: Mapping[str, npt.NDArray[Any]]
) -> list[dict[str, npt.NDArray[Any]]]:
    """A native result's tables: the main table's columns, then each other table's, which
    travel as ``<table name>.<column>`` (``fvg_transitions.state``)."""
    others = TABLES[detector][1:]
    tables: list[dict[str, npt.NDArray[Any]]] = [{} for _ in range(1 + len(others))]
    for column, array in columns.items():
        table, _, rest = column.partition(".")
        at = others.index(table) + 1 if rest and table in others else 0
        tables[at][rest if at else column] = array
    return tables


class _StoppableFuture(concurrent.futures.Future[AnalysisResult]):
    """A future whose ``cancel()`` also stops its call while it runs."""

    def __init__(self, event: threading.Event) -> None:
        super().__init__()
        self._stop = event

    def cancel(self) -> bool:
        self._stop.set()
        return super().cancel()


def _cancellable(
    callback: Callable[[int, int, int], None] | None, cancel: threading.Event | None
) -> Callable[[int, int, int], None] | None:
    """The progress callback, raising CancelledError once ``cancel`` is set (the native
    run checks its callback every 50 ms and stops when it raises)."""
    if cancel is None:
        return callback

    def check(done: int, total: int, candles: int) -> None:
        if cancel.is_set():
            raise concurrent.futures.CancelledError("the analyze call was cancelled")
        if callback is not None:
            callback(done, total, candles)

    return check


def _tqdm_class() -> Any:
    """tqdm's notebook widget where ipywidgets is installed, else its text bar: in a notebook
    without ipywidgets, ``tqdm.auto`` would warn ("IProgress not found") on every call."""
    import importlib.util

    if importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.auto import tqdm
    else:
        from tqdm import tqdm
    return tqdm


def _progress_bar(
    total: int, enabled: Any, desc: str = "analyze"
) -> Callable[[int, int, int], None] | None:
    """A progress callback: the user's, a tqdm bar (terminals and notebooks), or None."""
    if callable(enabled):
        user = enabled

        def forward(done: int, total: int, candles: int) -> None:
            user(done, total)

        return forward
    if not enabled or total == 0:
        return None
    tqdm = _tqdm_class()
    bar = tqdm(total=total, unit="series", desc=desc, file=sys.stderr, leave=False)

    def update(done: int, total: int, candles: int) -> None:
        bar.update(done - bar.n)
        if candles:
            bar.set_postfix_str(f"{candles / 1e6:.1f}M candles", refresh=False)
        if done >= total:
            bar.close()

    return update


def _log_run(
    stats: Mapping[str, Any], detectors: int, errors: Mapping[tuple[str, str], BaseException]
) -> None:
    """One INFO line per call, and a WARNING per failed series (first ten, then a count)."""
    if _log.isEnabledFor(logging.INFO):
        _log.info(
            "analyzed %d series x %d detectors in %.3f s: %d cache hits, %d computed, %d failed",
            stats["requests"],
            detectors,
            stats.get("wall_seconds", 0.0),
            stats.get("memory_hits", 0) + stats.get("disk_hits", 0) + stats.get("python_cached", 0),
            stats.get("misses", 0) + stats.get("python_computed", 0),
            len(errors),
        )
    for n, ((symbol, timeframe), error) in enumerate(errors.items()):
        if n == 10:
            _log.warning("... and %d more failed series", len(errors) - 10)
            break
        _log.warning("%s %s failed: %s", symbol, timeframe, error)


class DetectorPool:
    """A pool of native worker threads analysing series with the compat detectors, the
    native ones and Python functions of your own (see :mod:`ictcore.pydetectors`).

    Parameters:
        workers: threads (default: ``config.workers()`` with a config, else the cores).
        cache: an :class:`AnalysisCache` to look results up in and store them to.
        store: the :class:`CandleStore` that (symbol, timeframe) requests read from.
        config: a :class:`Config` (workers, prefetch buffer size).
        processes: worker processes for Python detectors (default: as many as
            ``workers``), started on the first call that has one and kept for later calls
            (:meth:`close` stops them); ``0`` runs them in the calling process, one series
            after another.

    The pool's threads belong to the process that made them: after ``os.fork`` (e.g. a
    ``multiprocessing`` worker) the child gets its own on first use, and starts worker
    processes of its own.
    """

    def __init__(
        self,
        workers: int | None = None,
        cache: AnalysisCache | None = None,
        store: CandleStore | None = None,
        config: Config | None = None,
        processes: int | None = None,
    ) -> None:
        if workers is None and config is not None:
            workers = config.workers()
        if workers is not None and (
            isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= 1024
        ):
            raise InvalidInputError(
                f"workers must be an int from 1 to 1024 (or None), got {workers!r}"
            )
        buffer = config.max_buffer_bytes if config is not None else 64 * 2**20
        if processes is not None and (
            isinstance(processes, bool)
            or not isinstance(processes, int)
            or not 0 <= processes <= 1024
        ):
            raise InvalidInputError(
                f"processes must be an int from 0 to 1024 (or None), got {processes!r}",
                parameter="processes",
            )
        self._pool = _ictcore.Pool(workers, buffer)
        self._requested_workers = workers  # None: the receiving machine's cores
        self._requested_processes = processes
        count = self.workers if processes is None else processes
        self._processes = WorkerProcesses(count) if count else None
        # Stops the worker processes when the pool is collected (they also end with the
        # interpreter: they are daemons).
        if self._processes is not None:
            weakref.finalize(self, self._processes.close)
        self.cache = cache
        self.store = store
        self.config = config
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._last: dict[str, Any] = {}

    @property
    def workers(self) -> int:
        return int(self._pool.workers)

    def __repr__(self) -> str:
        return f"DetectorPool(workers={self.workers}, cache={self.cache!r}, store={self.store!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickles as its settings, store and cache (each by path): the receiving process
        gets a pool of its own threads over the same store and cache directory."""
        return (
            type(self),
            (
                self._requested_workers,
                self.cache,
                self.store,
                self.config,
                self._requested_processes,
            ),
        )

    def close(self) -> None:
        """Stops the worker processes of Python detectors (a later call starts new ones)."""
        if self._processes is not None:
            self._processes.close()

    def __enter__(self) -> DetectorPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def analyze(
        self,
        requests: Iterable[Any] | Mapping[Any, Any],
        detectors: Detectors = DETECTORS,
        params: Mapping[str, Mapping[str, Any]] | None = None,
        progress: bool | Callable[[int, int], None] = True,
        on_error: str = "collect",
        keep: bool = True,
        resume: bool = True,
        cancel: threading.Event | None = None,
    ) -> AnalysisResult:
        """Runs ``detectors`` on every series of ``requests``.

        Parameters:
            requests: ``(symbol, timeframe)`` or ``(symbol, timeframe, start, end)`` tuples
                read from the pool's store; ``(symbol, timeframe, candles)`` with
                :class:`Candles` or an OHLCV DataFrame (time index; compat detectors
                compute in its columns' dtypes, float32 or int32 included, as
                ``smartmoneyconcepts`` does); or a mapping ``{(symbol, timeframe): candles}``.
            detectors: names (default: the eight compat ones; the native ones are
                ``"native.swings"``, ``"native.fvg"``, ... in :data:`NATIVE_DETECTORS`) and
                Python functions ``f(candles, **params)`` of your own (they get
                :class:`Candles` and return a DataFrame or a mapping of 1-D arrays; their
                results are keyed by ``f.__name__``, and they run in the pool's worker
                processes: see :mod:`ictcore.pydetectors`), or a mapping detector ->
                parameters.
            params: parameters by detector name, e.g. ``{"ob": {"swing_length": 10}}``
                (defaults as in smartmoneyconcepts; ``sessions`` defaults to "London" and
                reads times as UTC).
            progress: a progress bar (True, default), none (False), or a callable
                ``(done, total)``.
            on_error: ``"collect"`` (failed series in ``result.errors``) or ``"raise"``
                (:class:`~ictcore.BatchError` naming every failed series, after the run).
            keep: hold the results (default): native tables as they are, compat frames
                compact (the rows with an event, runs of repeated values; a frame still
                large that way as a digest, recomputed when asked for and checked against
                it), expanded on access — W1's 6 GB of dense frames are held in ~120 MB.
                ``False`` computes (and caches) them without holding anything;
                ``result[...]`` then reads each one from the cache — or recomputes it —
                when asked for.

            resume: with a cache on disk, native detectors over whole stored series resume
                (default): each run stores its detector's state (what is still open) with
                the rows its bars added, so the next run over the series steps only the
                bars appended since, and its tables — the stored rows followed by the new
                ones — equal a full run's bit for bit. A state is used only for exactly the
                rows it was made on: a rewritten series, a damaged or evicted state runs
                from the first bar. A new process finds the newest state through a note
                the cache keeps per series and detector. A state is stored only when
                stepping to it again would cost more than reading it back, and its rows
                only when they read back faster than they recompute. ``False`` recomputes
                every run (and its tables then go through the cache as compat results do).

        A Python detector's result is a DataFrame (its index kept). A series on which one
        raises fails with :class:`~ictcore.DetectorError` (its worker's traceback in the
        message); one whose worker process dies fails with
        :class:`~ictcore.WorkerDiedError`, the worker is replaced and the others go on.
        ``stats["python_computed"]`` / ``stats["python_cached"]`` count their results
        computed / found in the cache.

        ``stats["rows_computed"]`` counts the bars native detectors stepped,
        ``stats["resumed"]`` / ``stats["recomputed"]`` their runs from a stored run state /
        from the first bar. Compat detectors look ahead (a new bar may change earlier rows),
        so they are recomputed whenever a series changed.

            cancel: an event another thread may set to stop the run: series not started are
                skipped, busy worker processes are stopped, and the call raises
                ``concurrent.futures.CancelledError`` (what ``analyze_async``'s
                ``future.cancel()`` does).

        Ctrl-C cancels the run (series not started are skipped; the cache stays valid) and
        raises KeyboardInterrupt.
        """
        if on_error not in ("collect", "raise"):
            raise InvalidInputError(
                f'on_error must be "collect" or "raise", got {on_error!r}',
                parameter="on_error",
                value=on_error,
            )
        specs, python = _split_detectors(_detector_specs(detectors, params))
        prepared = _pyrun.prepare(python, self.cache)
        native, keys, errors = self._requests(requests)
        columns: dict[Key, dict[str, npt.NDArray[Any]] | None] = {}
        stats: dict[str, Any] = {"wall_seconds": 0.0}
        if specs:
            stats = self._run_native(
                native, keys, specs, progress, keep, resume, columns, errors, cancel
            )
        if prepared:
            self._run_python(prepared, native, keys, progress, keep, columns, errors, stats, cancel)
        for key in [k for k in columns if k[:2] in errors]:
            del columns[key]  # a series that failed in one detector failed as a whole
        stats["failed"] = len(errors)
        stats["requests"] = len(keys) + sum(1 for k in errors if k not in keys)
        self._last = stats
        _log_run(stats, len(specs) + len(prepared), errors)
        if errors and on_error == "raise":
            raise BatchError(dict(errors.items()))
        by_key = dict(zip(keys, native, strict=True))
        # Each detector's parameters as the run resolved them, so one can be computed alone.
        params_by_name = dict(_ictcore.resolved_params(specs)) if specs else {}
        python_by_name = {p.detector.name: p for p in prepared}

        def load(key: Key) -> TableColumns:
            symbol, timeframe, name = key
            if name in python_by_name:
                spec = python_by_name[name]
                request = by_key[symbol, timeframe]
                series = _pyrun.Series(symbol, timeframe, request[2], request[3], request[4])
                run = _pyrun.Run(prepared, self.store, self.cache, True)
                candles = run.read(series)
                key_ = run.key(spec, candles)
                return _pyrun.compute_one(spec, (symbol, timeframe), candles, self.cache, key_)
            one, _ = self._pool.analyze(
                [by_key[symbol, timeframe]],
                [(name, params_by_name[name])],
                None if self.store is None else self.store._store,
                None if self.cache is None else self.cache._cache,
                None,
                True,
                True,
                resume=resume,
            )
            if isinstance(one[0], BaseException):
                raise one[0]
            return columns_of(one[0][0])

        return AnalysisResult(columns, errors, stats, load, frozenset(python_by_name))

    def _run_native(
        self,
        native: list[Any],
        keys: list[tuple[str, str]],
        specs: list[tuple[str, dict[str, Any]]],
        progress: Any,
        keep: bool,
        resume: bool,
        columns: dict[Key, dict[str, npt.NDArray[Any]] | None],
        errors: dict[tuple[str, str], BaseException],
        cancel: threading.Event | None,
    ) -> dict[str, Any]:
        """The built-in detectors on the pool's threads; their stats."""
        callback = _cancellable(_progress_bar(len(native), progress), cancel)
        results, stats = self._pool.analyze(
            native,
            specs,
            None if self.store is None else self.store._store,
            None if self.cache is None else self.cache._cache,
            callback,
            keep,
            resume=resume,
        )
        for (symbol, timeframe), outcome in zip(keys, results, strict=True):
            if isinstance(outcome, BaseException):
                errors[symbol, timeframe] = outcome
                continue
            if not keep:
                columns.update({(symbol, timeframe, name): None for name, _ in specs})
                continue
            for (name, _), cols in zip(specs, outcome, strict=True):
                columns[symbol, timeframe, name] = columns_of(cols)
        return dict(stats)

    def _run_python(
        self,
        prepared: list[_pyrun.Spec],
        native: list[Any],
        keys: list[tuple[str, str]],
        progress: Any,
        keep: bool,
        columns: dict[Key, dict[str, npt.NDArray[Any]] | None],
        errors: dict[tuple[str, str], BaseException],
        stats: dict[str, Any],
        cancel: threading.Event | None,
    ) -> None:
        """Python detectors on the series that have not failed; their stats added."""
        series = [
            _pyrun.Series(symbol, timeframe, request[2], request[3], request[4])
            for (symbol, timeframe), request in zip(keys, native, strict=True)
            if (symbol, timeframe) not in errors
        ]
        bar = _progress_bar(len(series), progress, desc="python detectors")
        run = _pyrun.Run(prepared, self.store, self.cache, keep)
        processes = self._processes
        started, replaced = (processes.started, processes.replaced) if processes else (0, 0)
        run.execute(series, processes, None if bar is None else lambda d, t: bar(d, t, 0), cancel)
        columns.update(run.columns)
        errors.update(run.errors)
        stats.update(run.stats)
        stats["wall_seconds"] = stats.get("wall_seconds", 0.0) + run.stats["python_seconds"]
        if processes is not None:
            stats["python_workers_started"] = processes.started - started
            stats["python_workers_replaced"] = processes.replaced - replaced

    def live(
        self,
        requests: Iterable[tuple[str, str]],
        detectors: Iterable[str] | Mapping[str, Mapping[str, Any]],
        params: Mapping[str, Mapping[str, Any]] | None = None,
        state_dir: str | Path | None = None,
    ) -> LiveSession:
        """A :class:`~ictcore.LiveSession` running the native ``detectors`` over the stored
        series ``requests`` (``(symbol, timeframe)`` tuples, read from the pool's store) on
        the pool's worker threads: each ``poll()`` steps only the bars stored since the
        previous one and returns the rows that became known. Python detectors among them
        run again, in the pool's worker processes and through its cache, on each series
        that changed, and the update holds their whole results.

        Parameters:
            requests: ``(symbol, timeframe)`` of stored series, each once.
            detectors: native detector names (``"native.fvg"``, ...) and Python functions,
                or a mapping detector -> parameters; compat detectors look ahead and are
                refused here.
            params: parameters by detector name, as for :meth:`analyze`.
            state_dir: a directory for the session's saved states (created if missing):
                ``save()`` writes them, and a session made later with the same store,
                series and detectors resumes from them instead of recomputing.
        """
        if self.store is None:
            raise InvalidInputError("a live session reads from a store, but the pool has none")
        series: list[tuple[str, str]] = []
        for item in requests:
            if not isinstance(item, tuple) or len(item) != 2:
                raise InvalidInputError(
                    f"a live request is (symbol, timeframe) of a stored series; got {item!r}"
                )
            series.append((str(item[0]), str(item[1])))
        specs, python = _split_detectors(_detector_specs(detectors, params))
        prepared = _pyrun.prepare(python, self.cache)
        runner = None
        if prepared:
            runner = ([p.detector.name for p in prepared], self._live_runner(prepared), self.store)
        return LiveSession(self._pool, self.store._store, series, specs, state_dir, runner)

    def _live_runner(
        self, prepared: list[_pyrun.Spec]
    ) -> Callable[
        [list[tuple[str, str]]],
        tuple[dict[Key, Any], dict[tuple[str, str], BaseException], dict[str, Any]],
    ]:
        """What runs a live session's Python detectors on the series that changed."""

        def run(series: list[tuple[str, str]]) -> Any:
            job = _pyrun.Run(prepared, self.store, self.cache, True)
            job.execute([_pyrun.Series(s, tf) for s, tf in series], self._processes, None)
            return job.columns, job.errors, dict(job.stats)

        return run

    def analyze_async(self, *args: Any, **kwargs: Any) -> concurrent.futures.Future[AnalysisResult]:
        """:meth:`analyze` on a background thread (the work runs without the GIL, so the
        caller stays responsive); returns a ``concurrent.futures.Future`` —
        ``await asyncio.wrap_future(fut)`` in asyncio. No progress bar unless asked for.
        ``future.cancel()`` also stops a call that is running: its ``result()`` then raises
        ``concurrent.futures.CancelledError``. Calls run one after another."""
        kwargs.setdefault("progress", False)
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(1, "ictcore-analyze")
        event = kwargs.setdefault("cancel", threading.Event())
        future: _StoppableFuture = _StoppableFuture(event)

        def work() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                result = self.analyze(*args, **kwargs)
            except BaseException as e:
                future.set_exception(e)
            else:
                future.set_result(result)

        self._executor.submit(work)
        return future

    def stats(self) -> dict[str, Any]:
        """The statistics of the last run (see ``AnalysisResult.stats``)."""
        return dict(self._last)

    def _requests(
        self, requests: Iterable[Any] | Mapping[Any, Any]
    ) -> tuple[list[Any], list[tuple[str, str]], dict[tuple[str, str], BaseException]]:
        """Native requests, their (symbol, timeframe), and errors of bad in-memory inputs
        (reported for their series alone)."""
        if isinstance(requests, Mapping):
            items: Iterable[Any] = [(*key, value) for key, value in requests.items()]
        else:
            items = requests
        native: list[Any] = []
        keys: list[tuple[str, str]] = []
        errors: dict[tuple[str, str], BaseException] = {}
        seen: set[tuple[str, str]] = set()
        for item in items:
            if not isinstance(item, tuple) or len(item) not in (2, 3, 4):
                raise InvalidInputError(
                    "a request is (symbol, timeframe), (symbol, timeframe, start, end) or "
                    f"(symbol, timeframe, candles); got {item!r}"
                )
            symbol, timeframe = str(item[0]), str(item[1])
            if (symbol, timeframe) in seen:
                # Results are keyed by (symbol, timeframe, detector): a second request for
                # the same series would silently take the first one's place.
                raise InvalidInputError(
                    f"({symbol!r}, {timeframe!r}) is requested twice; results are keyed by "
                    "(symbol, timeframe, detector), so each series may appear once per call"
                )
            seen.add((symbol, timeframe))
            if len(item) == 3:
                try:
                    c = item[2] if isinstance(item[2], Candles) else Candles.from_pandas(item[2])
                except (ValueError, KeyError, TypeError) as e:
                    if isinstance(e, IctError) and e.symbol is None:
                        e.symbol, e.timeframe = symbol, timeframe
                    errors[symbol, timeframe] = e
                    continue
                dtypes = None if isinstance(item[2], Candles) else arithmetic_dtypes(item[2])
                native.append((symbol, timeframe, None, None, c, dtypes))
            else:
                if self.store is None:
                    raise InvalidInputError(
                        f"request {item!r} reads from a store, but the pool has none"
                    )
                start, end = (item[2], item[3]) if len(item) == 4 else (None, None)
                native.append((symbol, timeframe, _nanos(start), _nanos(end), None, None))
            keys.append((symbol, timeframe))
        return native, keys, errors


def _nanos(value: Any) -> int | None:
    if value is None:
        return None
    ts = pd.Timestamp(value)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return int(ts.as_unit("ns").value)


Detectors = (
    Iterable[str | Callable[..., Any]] | Mapping[str | Callable[..., Any], Mapping[str, Any]]
)


def _split_detectors(
    specs: list[tuple[str | PythonDetector, dict[str, Any]]],
) -> tuple[list[tuple[str, dict[str, Any]]], list[tuple[PythonDetector, dict[str, Any]]]]:
    """(built-in detectors, Python ones)."""
    builtin = [(d, p) for d, p in specs if isinstance(d, str)]
    python = [(d, p) for d, p in specs if isinstance(d, PythonDetector)]
    return builtin, python


def _detector_specs(
    detectors: Detectors,
    params: Mapping[str, Mapping[str, Any]] | None,
) -> list[tuple[Any, dict[str, Any]]]:
    """(name or PythonDetector, parameters) of each detector, in order; a Python detector's
    parameters are found by its name."""
    if isinstance(detectors, str) or callable(detectors):
        detectors = [detectors]
    pairs = (
        [(d, dict(p)) for d, p in detectors.items()]
        if isinstance(detectors, Mapping)
        else [(d, {}) for d in detectors]
    )
    given: dict[str, tuple[Any, dict[str, Any]]] = {}
    for item, p in pairs:
        spec: str | PythonDetector
        if isinstance(item, str):
            name = spec = item
        elif isinstance(item, PythonDetector):  # identity made where it was defined
            spec, name = item, item.name
        elif callable(item):
            spec = PythonDetector.of(item)
            name = spec.name
            if name in DETECTORS or name in NATIVE_DETECTORS:
                raise InvalidInputError(
                    f"the Python detector {item!r} is named {name!r}, a built-in detector's "
                    "name; name it otherwise with @ictcore.detector(name=...)",
                    parameter=name,
                )
        else:
            raise InvalidTypeError(
                f"a detector is a built-in name (str) or a Python function, got {item!r}"
            )
        if name in given:
            raise InvalidInputError(
                f"two detectors are named {name!r}; results are keyed by name "
                "(@ictcore.detector(name=...) names a Python detector)",
                parameter=name,
            )
        given[name] = (spec, p)
    for name, extra in (params or {}).items():
        if name not in given:
            raise InvalidInputError(f"params for {name!r}, which is not among the detectors")
        given[name][1].update(extra)
    if not given:
        raise InvalidInputError("no detectors")
    return list(given.values())
