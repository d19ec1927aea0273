"""``LiveSession``: native detectors kept running over stored series, for an engine that
re-analyses every time new bars arrive.

``pool.live(requests, detectors)`` keeps each series' detectors in memory. Each
:meth:`LiveSession.poll` re-reads the store (another process may be appending: readers take
no lock and see whole commits only), steps just the bars committed since the previous poll —
read from the store's mapping, not copied — and returns the rows every table gained: new
events and zones, and the zone transitions and liquidity sweeps that happened in those bars.
The native detectors are causal, so the rows polled over a session's life add up to the
batch tables of the whole series, bit for bit; a poll costs what the new bars cost, not the
history.

The first poll of a series computes its whole history and returns its whole tables (once
they are dropped, ``ictcore.release_memory()`` hands the memory they held back to the
system: the C allocator keeps freed memory of worker threads otherwise). A
series that was rewritten instead of appended (an import that filled a gap, a replaced file)
is recomputed from its first bar and listed in :attr:`LiveUpdate.reset`: its tables in that
update are whole, and replace what the caller held for it.

With ``state_dir=``, :meth:`LiveSession.save` (and leaving a ``with`` block) writes each
series' state there; a session made later over the same store, series and detectors resumes
from them — checked against the stored rows first — without stepping a bar again, and its
first poll returns only what became known after the save.

Compat detectors look ahead (a new bar can change earlier rows), so a live session runs
native ones only; ``DetectorPool.analyze`` recomputes compat results of changed series.

Python detectors of your own (see :mod:`ictcore.pydetectors`) are not stepped bar by bar:
each poll runs them again on every series whose stored rows changed since the previous poll,
on the pool's worker processes and through its cache, and the update holds each one's
whole result on the series as it is now (a DataFrame), not only new rows.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from . import _ictcore, _pyresult
from ._columns import columns_of
from .detect import EventTable, _wrap

__all__ = ["LiveSession", "LiveUpdate"]

Key = tuple[str, str, str]


class LiveUpdate(Mapping[Key, "EventTable | pd.DataFrame"]):
    """What one poll made known: ``update["EURUSD", "1m", "native.fvg"]`` is the
    :class:`~ictcore.EventTable` (a :class:`~ictcore.ZoneTable` for zone detectors, with the
    new ``transitions``) of the rows that became known since the previous poll. Only
    (series, detector) pairs with new rows are present. :attr:`reset` lists the series whose
    tables here are whole (first poll, or recomputed after a rewrite); :attr:`errors` the
    series that failed (each alone); :attr:`stats` counts series changed and reset, bars
    stepped (``rows_computed``) and rows reported. A Python detector's entry is its whole
    result (a DataFrame) on each series that changed; if it fails there, the series is in
    :attr:`errors` and its native tables of this poll are still here (they are not polled
    again)."""

    def __init__(
        self,
        tables: dict[Key, EventTable | pd.DataFrame],
        reset: set[tuple[str, str]],
        errors: dict[tuple[str, str], BaseException],
        stats: dict[str, Any],
    ) -> None:
        self._tables = tables
        self.reset = reset
        self.errors = errors
        self.stats = stats

    def __getitem__(self, key: Key) -> EventTable | pd.DataFrame:
        return self._tables[key]

    def __iter__(self) -> Iterator[Key]:
        return iter(self._tables)

    def __len__(self) -> int:
        return len(self._tables)

    def __repr__(self) -> str:
        rows = self.stats.get("rows", 0)
        return (
            f"<LiveUpdate: {len(self)} tables with {rows} new rows, "
            f"{len(self.reset)} reset, {len(self.errors)} errors>"
        )


def _has_rows(table: EventTable) -> bool:
    """Whether the table or its log (zone transitions, liquidity sweeps) has rows."""
    logs = [getattr(table, name, None) for name in ("transitions", "sweeps")]
    return len(table) > 0 or any(log is not None and len(log) > 0 for log in logs)


#: Runs the session's Python detectors on some series: (columns by key, errors, stats).
PythonRunner = Callable[
    [list[tuple[str, str]]],
    tuple[dict[Key, Any], dict[tuple[str, str], BaseException], dict[str, Any]],
]


class LiveSession:
    """Native detectors kept running over stored series, and Python ones rerun where the
    series changed; made by :meth:`ictcore.DetectorPool.live` (see the module
    documentation).

    Thread-safe: polls of one session are serialised, and the store may be appended to by
    other threads or processes meanwhile."""

    def __init__(
        self,
        pool: Any,
        store: Any,
        requests: list[tuple[str, str]],
        specs: list[tuple[str, dict[str, Any]]],
        state_dir: str | Path | None,
        python: tuple[list[str], PythonRunner, Any] | None = None,
    ) -> None:
        self._native = (
            _ictcore.Live(
                pool, store, requests, specs, None if state_dir is None else Path(state_dir)
            )
            if specs
            else None
        )
        self._state_dir = None if state_dir is None else Path(state_dir)
        self._requests = requests
        self._detectors = [name for name, _ in specs]
        # Python detectors: their names, what runs them, the store to see changes in, and
        # each series' (rows, first time, last time) when they last ran.
        self._python = python
        self._seen: dict[tuple[str, str], tuple[int, int, int]] = {}
        self._lock = threading.Lock()

    @property
    def detectors(self) -> list[str]:
        return list(self._detectors) + (list(self._python[0]) if self._python else [])

    @property
    def series(self) -> list[tuple[str, str]]:
        return list(self._requests)

    @property
    def restored(self) -> int:
        """Series that resumed from a saved state when the session was made."""
        return 0 if self._native is None else int(self._native.restored)

    @property
    def state_dir(self) -> Path | None:
        if self._native is None:
            return self._state_dir
        path = self._native.state_dir
        return None if path is None else Path(path)

    def __repr__(self) -> str:
        return (
            f"LiveSession({len(self._requests)} series, detectors {self._detectors}, "
            f"state_dir={self.state_dir})"
        )

    def poll(self) -> LiveUpdate:
        """Steps the bars stored since the previous poll in every series; returns the rows
        that became known (see :class:`LiveUpdate`). Ctrl-C stops before the series not
        started yet (they are stepped by the next poll) and raises KeyboardInterrupt."""
        with self._lock:
            started = time.perf_counter()
            if self._native is not None:
                polled, stats = self._native.poll()
            else:
                polled, stats = [None] * len(self._requests), {}
            python = self._poll_python()
        tables: dict[Key, EventTable | pd.DataFrame] = {}
        reset: set[tuple[str, str]] = set()
        errors: dict[tuple[str, str], BaseException] = {}
        for (symbol, timeframe), outcome in zip(self._requests, polled, strict=True):
            if outcome is None:
                continue
            if isinstance(outcome, BaseException):
                errors[symbol, timeframe] = outcome
                continue
            _, was_reset, per_detector = outcome
            if was_reset:
                reset.add((symbol, timeframe))
            for name, parts in zip(self._detectors, per_detector, strict=True):
                if not parts:
                    continue  # nothing new for this detector
                table = _wrap(name.removeprefix("native."), [columns_of(p) for p in parts])
                if was_reset or _has_rows(table):
                    tables[symbol, timeframe, name] = table
        if python is not None:
            columns, failed, python_stats = python
            tables.update({key: _pyresult.to_frame(cols) for key, cols in columns.items()})
            for series, error in failed.items():
                errors.setdefault(series, error)
            stats.update(python_stats)
        stats["wall_seconds"] = time.perf_counter() - started
        return LiveUpdate(tables, reset, errors, stats)

    def _poll_python(
        self,
    ) -> tuple[dict[Key, Any], dict[tuple[str, str], BaseException], dict[str, Any]] | None:
        """Runs the Python detectors on the series whose stored rows changed."""
        if self._python is None:
            return None
        _, runner, store = self._python
        changed: list[tuple[str, str]] = []
        now: dict[tuple[str, str], tuple[int, int, int]] = {}
        for series in self._requests:
            try:
                candles = store.read(*series)
            except Exception:
                changed.append(series)  # the run reports the error
                continue
            n = len(candles)
            now[series] = (n, int(candles.time[0]), int(candles.time[-1])) if n else (0, 0, 0)
            if self._seen.get(series) != now[series]:
                changed.append(series)
        if not changed:
            return {}, {}, {"python_computed": 0, "python_cached": 0}
        columns, errors, stats = runner(changed)
        # A series that failed runs again at the next poll.
        self._seen.update({s: v for s, v in now.items() if s in changed and s not in errors})
        return columns, errors, stats

    def updates(
        self, interval: float = 1.0, stop: threading.Event | None = None
    ) -> Iterator[LiveUpdate]:
        """Polls every ``interval`` seconds and yields each update that holds new rows or
        errors, until ``stop`` is set (or forever): ``for update in session.updates(60):``."""
        if interval < 0:
            raise ValueError(f"interval must be >= 0 seconds, got {interval!r}")
        stop = stop or threading.Event()
        while not stop.is_set():
            update = self.poll()
            if len(update) or update.errors or update.reset:
                yield update
            stop.wait(interval)

    def run(
        self,
        callback: Callable[[LiveUpdate], Any],
        interval: float = 1.0,
        stop: threading.Event | None = None,
    ) -> None:
        """Push style: calls ``callback(update)`` for each update :meth:`updates` yields,
        until ``stop`` is set (an exception in the callback ends the loop and propagates)."""
        for update in self.updates(interval, stop):
            callback(update)

    def save(self) -> dict[str, int]:
        """Writes every polled series' state to the session's ``state_dir`` (a temp file
        renamed over the previous state, so a kill mid-save loses nothing); returns the
        series saved and their bytes."""
        if self._native is None:
            return {"series": 0, "bytes": 0}
        with self._lock:
            count, size = self._native.save()
        return {"series": int(count), "bytes": int(size)}

    def close(self) -> None:
        """Saves the states (when the session has a ``state_dir``); the session stays
        usable."""
        if self.state_dir is not None:
            self.save()

    def __enter__(self) -> LiveSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
