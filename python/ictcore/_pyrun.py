"""One pool call's Python detectors: cache lookups in the calling process, the misses on the
pool's worker processes (or in the caller with ``processes=0``), results back and cached.

The parent reads every series itself (memory-mapped, no copy) to key it: the key holds the
detector's identity, its parameters and the exact rows read, and the worker is told those
rows, so a result is always stored under the content it was computed on.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import cloudpickle

from ._columns import TableColumns
from ._workers import (
    INLINE_BYTES,
    Done,
    Failure,
    Task,
    WorkerProcesses,
    read_results,
    run_task,
    write_candles,
)
from .cache import AnalysisCache
from .candles import Candles
from .exceptions import DetectorError, IctError, WorkerDiedError
from .pydetectors import PythonDetector
from .store import CandleStore

SeriesKey = tuple[str, str]


@dataclass
class Series:
    """A requested series: where a worker finds it (``store`` request bounds, or candles
    given in memory), and its candles as the parent read them."""

    symbol: str
    timeframe: str
    start: int | None = None
    end: int | None = None
    given: Candles | None = None
    candles: Candles | None = None


@dataclass
class Spec:
    detector: PythonDetector
    params: dict[str, Any]
    fid: str = ""
    blob: bytes = b""
    cache_params: dict[str, Any] = field(default_factory=dict)


def prepare(
    detectors: list[tuple[PythonDetector, dict[str, Any]]], cache: AnalysisCache | None
) -> list[Spec]:
    """Pickles each function once (its id is the pickle's hash, so a worker never runs a
    stale definition) and checks, before anything runs, that each can be cached."""
    specs = []
    for detector, params in detectors:
        try:
            blob = cloudpickle.dumps(detector.function)
        except Exception as e:
            raise DetectorError(
                f"detector {detector.name!r} cannot be sent to the pool's worker processes "
                f"({type(e).__name__}: {e}); define it at module level or in __main__ / a "
                "notebook cell, or run with DetectorPool(processes=0)",
                parameter=detector.name,
            ) from e
        spec = Spec(detector, params, hashlib.sha256(blob).hexdigest(), blob)
        if cache is not None:
            spec.cache_params = detector.cache_params(params)
        specs.append(spec)
    return specs


def _scratch() -> str:
    """A directory of the call's own for candles and results (shared memory if there is)."""
    shm = "/dev/shm"
    base = shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None
    return tempfile.mkdtemp(prefix="ictcore-", dir=base)


class Run:
    """The state of one call's Python part."""

    def __init__(
        self,
        specs: list[Spec],
        store: CandleStore | None,
        cache: AnalysisCache | None,
        keep: bool,
    ) -> None:
        self.specs = specs
        self.store = store
        self.cache = cache
        self.keep = keep
        self.columns: dict[tuple[str, str, str], TableColumns | None] = {}
        self.errors: dict[SeriesKey, BaseException] = {}
        self.stats = {"python_computed": 0, "python_cached": 0, "python_seconds": 0.0}

    def read(self, series: Series) -> Candles:
        if series.given is not None:
            return series.given
        if self.store is None:  # pragma: no cover - requests were checked
            raise IctError("no store")
        return self.store.read(series.symbol, series.timeframe, series.start, series.end)

    def key(self, spec: Spec, candles: Candles) -> str | None:
        if self.cache is None:
            return None
        return self.cache.key(f"python.{spec.detector.name}", spec.cache_params, candles)

    def execute(
        self,
        series: list[Series],
        processes: WorkerProcesses | None,
        progress: Callable[[int, int], None] | None,
        cancel: threading.Event | None = None,
    ) -> None:
        """Runs every spec on every series; results in ``columns``, failures in ``errors``.
        Setting ``cancel`` stops it with ``CancelledError``."""
        started = time.perf_counter()
        scratch = _scratch()
        made: set[str] = set()  # the names of files this call had made there
        try:
            tasks, keys = self._tasks(series, scratch, made)
            total, done = len(series), len(series) - len(tasks)
            if progress:
                progress(done, total)

            def finished(task: Task, outcome: Done | str) -> None:
                nonlocal done
                self._finish(task, outcome, keys)
                done += 1
                if progress:
                    progress(done, total)

            if processes is None:
                functions = {s.fid: s.detector.function for s in self.specs}
                stores: dict[str, Any] = {}
                for task in tasks:
                    _check(cancel)
                    finished(task, run_task(task, functions, {}, stores))
            else:
                blobs = {s.fid: s.blob for s in self.specs}
                # A task's weight: its candles, plus what a round trip costs in candles.
                processes.run(blobs, tasks, finished, weight=lambda t: t.rows + 1000, cancel=cancel)
        finally:
            for name in set(os.listdir(scratch)) & made:
                _remove(os.path.join(scratch, name))
            _remove_dir(scratch)
        self.stats["python_seconds"] = time.perf_counter() - started

    def _tasks(
        self, series: list[Series], scratch: str, made: set[str]
    ) -> tuple[list[Task], dict[tuple[SeriesKey, str], str | None]]:
        """A task per series with a detector to compute, longest first; the cached results
        taken on the way."""
        tasks: list[tuple[int, Task]] = []
        keys: dict[tuple[SeriesKey, str], str | None] = {}
        for number, s in enumerate(series):
            where = (s.symbol, s.timeframe)
            try:
                candles = s.candles = self.read(s)
                todo = []
                for spec in self.specs:
                    key = keys[where, spec.detector.name] = self.key(spec, candles)
                    found = None if key is None or self.cache is None else self.cache._recall(key)
                    if found is None:
                        todo.append((spec.detector.name, spec.fid, spec.params))
                    else:
                        self.stats["python_cached"] += 1
                        self._hold(where, spec.detector.name, found)
            except Exception as e:
                _locate(e, where)
                self.errors[where] = e
                continue
            if not todo:
                continue
            out = os.path.join(scratch, f"{number}.out")
            made.add(os.path.basename(out))
            source: tuple[Any, ...]
            if s.given is not None and len(candles) * 48 <= INLINE_BYTES:
                source = ("inline", candles)
            elif s.given is not None:
                given = os.path.join(scratch, f"{number}.in")
                made.add(os.path.basename(given))
                write_candles(given, candles)
                source = ("file", given, len(candles))
            else:
                # A stored series (read above, so the pool has a store): the worker maps it
                # itself and takes exactly the rows keyed here.
                rows = len(candles)
                first = int(candles.time[0]) if rows else 0
                last = int(candles.time[-1]) if rows else 0
                path = str(self.store.path) if self.store is not None else ""
                source = (
                    "store", path, s.symbol, s.timeframe, s.start, s.end, rows, first, last,
                )  # fmt: skip
            tasks.append((len(candles), Task(source, todo, out, tag=where, rows=len(candles))))
        tasks.sort(key=lambda t: -t[0])
        return [t for _, t in tasks], keys

    def _hold(self, where: SeriesKey, name: str, columns: TableColumns) -> None:
        self.columns[where[0], where[1], name] = columns if self.keep else None

    def _finish(
        self, task: Task, outcome: Done | str, keys: Mapping[tuple[SeriesKey, str], str | None]
    ) -> None:
        where: SeriesKey = task.tag
        names = ", ".join(repr(d[0]) for d in task.detectors)
        if isinstance(outcome, str):
            self.errors[where] = WorkerDiedError(
                f"{where[0]} {where[1]}: the worker process running detector(s) {names} "
                f"died ({outcome}); the pool replaced it",
                symbol=where[0],
                timeframe=where[1],
            )
            return
        if outcome.failure is not None:
            self.errors[where] = _error(outcome.failure, where, names)
            return
        # What computing them again would cost: the detectors' time and their share of the
        # round trip to the worker (the paying rule decides disk writes on it).
        computed = [r for r in outcome.results if not isinstance(r[1], Failure)]
        trip = time.perf_counter() - task.sent_at if task.sent_at else 0.0
        share = max(0.0, trip - sum(r[2] for r in computed)) / max(1, len(computed))
        for result in outcome.results:
            name = result[0]
            if isinstance(result[1], Failure):
                self.errors[where] = _error(result[1], where, repr(name))
                continue
            _, layout, seconds = result
            seconds += share
            columns = read_results(task.out, layout, outcome.inline)
            self.stats["python_computed"] += 1
            key = keys[where, name]
            if key is not None and self.cache is not None:
                self.cache._keep(key, f"python.{name}", columns, seconds)
            table = TableColumns()
            table.update(columns)
            self._hold(where, name, table)
        if outcome.inline is None and computed:
            _remove(task.out)  # its columns stay mapped where they are held


def _check(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise concurrent.futures.CancelledError("the analyze call was cancelled")


def _locate(e: BaseException, where: SeriesKey) -> None:
    if isinstance(e, IctError) and e.symbol is None:
        e.symbol, e.timeframe = where


def _error(failure: Failure, where: SeriesKey, names: str) -> DetectorError:
    error = DetectorError(
        f"{where[0]} {where[1]}: detector {names} raised {failure.kind}: {failure.message}\n"
        f"{failure.trace.rstrip()}",
        symbol=where[0],
        timeframe=where[1],
    )
    error.__cause__ = failure.exception
    return error


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _remove_dir(path: str) -> None:
    """Removes the call's scratch directory; whatever else appeared in it is left alone."""
    try:
        os.rmdir(path)
    except OSError as e:  # pragma: no cover - only if something else wrote there
        print(f"ictcore: left {path} ({e})", file=sys.stderr)


def compute_one(
    spec: Spec,
    where: SeriesKey,
    candles: Candles,
    cache: AnalysisCache | None,
    key: str | None,
) -> TableColumns:
    """One result in the calling process (what ``keep=False`` results are fetched with)."""
    if cache is not None and key is not None:
        found = cache._recall(key)
        if found is not None:
            return found
    scratch = _scratch()
    out = os.path.join(scratch, "one.out")
    try:
        done = run_task(
            Task(("given", candles), [(spec.detector.name, spec.fid, spec.params)], out),
            {spec.fid: spec.detector.function},
            {},
            {},
        )
        result = done.results[0]
        if isinstance(result[1], Failure):
            raise _error(result[1], where, repr(spec.detector.name))
        columns = read_results(out, result[1], done.inline)
    finally:
        _remove(out)
        _remove_dir(scratch)
    if cache is not None and key is not None:
        cache._keep(key, f"python.{spec.detector.name}", columns, result[2])
    table = TableColumns()
    table.update(columns)
    return table
