"""``AnalysisCache``: detector results cached in memory and, optionally, compressed on disk.

Entries are found by a content hash of everything that decides a result — the detector and
its mode, its parameters (typed, order-free), the exact bytes, dtype and length of every
input column, and the ictcore and entry-format versions — so a stale entry can never be
found. A damaged disk entry (bit rot, truncation, another version, a crashed writer) is
never returned: it is counted in ``stats()["corrupt"]``, moved aside as ``<key>.corrupt``
and the result recomputed. Several threads and processes may share one cache directory;
identical concurrent requests in one process compute once.

Use it directly with :meth:`AnalysisCache.get_or_compute`, or let ``ictcore.compat.smc``
cache its results with :func:`ictcore.compat.set_cache` / :func:`ictcore.compat.caching`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from . import _ictcore
from ._columns import TableColumns, columns_of
from .candles import Candles
from .config import Config
from .exceptions import InvalidInputError, InvalidTypeError

__all__ = ["AnalysisCache"]

#: Parameter values a key can hold.
ParamValue = int | float | bool | str | None

_DTYPES = frozenset({"float64", "int64", "float32", "int32", "uint8", "bool"})
_COLUMNS = ("time", "open", "high", "low", "close", "volume")


def _arrays(what: str, values: Any) -> list[tuple[str, npt.NDArray[Any]]]:
    """(name, contiguous 1-D array) pairs from a mapping, a DataFrame or Candles."""
    if isinstance(values, Candles):
        values = {name: getattr(values, name) for name in _COLUMNS}
    elif isinstance(values, pd.DataFrame):
        if not isinstance(values.index, pd.RangeIndex):
            raise InvalidInputError(
                f"{what}: a DataFrame must have a RangeIndex (its index is not cached); "
                "pass a dict of columns instead"
            )
        values = {str(name): values[name].to_numpy() for name in values.columns}
    elif not isinstance(values, Mapping):
        raise InvalidTypeError(
            f"{what} must be a dict of name -> 1-D numpy array, a DataFrame or Candles, "
            f"got {type(values).__name__}"
        )
    out = []
    for name, array in values.items():
        if not isinstance(name, str):
            raise InvalidTypeError(f"{what}: column names must be str, got {name!r}")
        a = np.ascontiguousarray(array)
        if a.ndim != 1:
            raise InvalidInputError(
                f"{what} '{name}': expected a 1-D array, got {a.ndim} dimensions"
            )
        if a.dtype.name not in _DTYPES:
            raise InvalidTypeError(
                f"{what} '{name}': dtype {a.dtype} is not cached; use one of "
                f"{', '.join(sorted(_DTYPES))} (datetime64 columns: .view('int64'))"
            )
        if not a.dtype.isnative:
            a = a.astype(a.dtype.newbyteorder("="))
        out.append((name, a))
    return out


class AnalysisCache:
    """A two-tier cache of detector results.

    Parameters:
        path: directory of the disk tier (created if needed), or None for memory only.
            It must be new, empty or an ictcore cache (marked by a ``.ictcore-cache``
            file): a directory holding anything else is refused with ``ValueError``, since
            the cache removes files of its own there. Inside it the cache touches only its
            own files and never follows a link.
        max_memory_bytes: budget of the memory tier (column bytes plus 512 per entry).
        max_disk_bytes: budget of the disk tier, enforced by :meth:`sweep` (run when the
            cache opens, and whenever you call it).
        ttl_seconds: drop entries this long after they were stored (memory) or last used
            (disk); None keeps them until they are evicted.
        eviction: ``"tinylfu"`` (default: frequency-based admission, which resists the
            repeated long scans of portfolio analysis; on the replay in BENCHMARKS.md it kept
            68-79% hits where LRU kept 60% at small budgets) or ``"lru"`` (least recently
            used; better when each result is used right after it is computed and rarely
            again).
        sync_writes: fdatasync every entry file (off: a lost entry is only a recompute).
        disk_writes: which computed results go to disk: ``"paying"`` (default) only those
            that took longer to compute than reading them back would take (about 50 us plus
            3 ns per column byte, measured), so a cold scan does not pay for writing dense
            frames that recompute faster than they decode. Those are not kept in the memory
            tier either (they would crowd out what pays), so a later call recomputes them;
            ``"all"`` writes every one.
        compression: compress disk entries (default; lz4 with a filter per column, several
            times smaller: ``ictcore bench`` reports the ratio). ``False`` writes the
            columns as they are: faster to write and read, more disk. Entries of either kind
            are read by any cache.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        max_memory_bytes: int = 512 * 2**20,
        max_disk_bytes: int = 4 * 2**30,
        ttl_seconds: float | None = None,
        eviction: str = "tinylfu",
        sync_writes: bool = False,
        disk_writes: str = "paying",
        compression: bool = True,
    ) -> None:
        for name, value in (
            ("max_memory_bytes", max_memory_bytes),
            ("max_disk_bytes", max_disk_bytes),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidInputError(f"{name} must be a non-negative int, got {value!r}")
            if value > 2**63:
                raise InvalidInputError(f"{name} must be at most 2**63 bytes, got {value!r}")
        self._cache = _ictcore.Cache(
            None if path is None else os.fspath(path),
            max_memory_bytes,
            max_disk_bytes,
            None if ttl_seconds is None else float(ttl_seconds),
            eviction,
            bool(sync_writes),
            disk_writes,
            bool(compression),
        )
        # What a pickle reopens it with (the directory as an absolute path).
        self._settings = (
            max_memory_bytes,
            max_disk_bytes,
            ttl_seconds,
            eviction,
            sync_writes,
            disk_writes,
            compression,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickles by directory and settings: the receiving process (a ``multiprocessing``
        or ``concurrent.futures`` worker, a Dask task) opens the same directory, so what is
        on disk is shared; the memory tier is that process's own (a memory-only cache
        arrives empty)."""
        path = None if self.path is None else os.path.abspath(self.path)
        return (type(self), (path, *self._settings))

    @classmethod
    def from_config(
        cls,
        config: Config,
        path: str | os.PathLike[str] | None = None,
        disk_writes: str = "paying",
    ) -> AnalysisCache:
        """A cache sized by a :class:`~ictcore.Config`: ``max_cache_size`` for the memory
        tier (and, 10x, the disk tier), ``cache_ttl_seconds`` and ``compression_enabled``."""
        return cls(
            path,
            max_memory_bytes=config.cache_max_bytes,
            max_disk_bytes=config.cache_max_bytes * 10,
            ttl_seconds=config.cache_ttl_seconds,
            disk_writes=disk_writes,
            compression=config.compression_enabled,
        )

    @property
    def path(self) -> Path | None:
        """The disk tier's directory, or None for a memory-only cache."""
        return self._cache.path

    def __repr__(self) -> str:
        return f"AnalysisCache({str(self.path) if self.path else None!r})"

    def key(
        self,
        detector: str,
        params: Mapping[str, ParamValue],
        inputs: Any,
        mode: str = "native",
    ) -> str:
        """The key (32 hex digits) a request would be cached under."""
        return self._cache.key(detector, mode, dict(params), _arrays("input", inputs))

    def get_or_compute(
        self,
        detector: str,
        params: Mapping[str, ParamValue],
        inputs: Any,
        compute: Callable[[], Any],
        mode: str = "native",
        as_frame: bool = False,
    ) -> Any:
        """The cached result of ``detector`` on ``inputs`` with ``params``, or ``compute()``'s.

        Parameters:
            detector: a name for the computation (part of the key).
            params: its parameters: int, float, bool, str or None values, or numpy
                scalars of them. The key records each value's exact type and value
                (``1``, ``1.0``, ``True`` and ``numpy.True_`` are four keys; ints of any
                size are exact; floats by their bits).
            inputs: the arrays it reads: a dict of 1-D numpy arrays, a DataFrame with a
                RangeIndex, or :class:`~ictcore.Candles`. Everything the result depends on
                must be here or in ``params``.
            compute: called without arguments on a miss; returns a dict of 1-D arrays or a
                DataFrame with a RangeIndex. If it asks this cache for the same key (on the
                same thread), that request raises :class:`~ictcore.IctError` naming the key
                instead of waiting for itself.
            mode: ``"native"`` or ``"compat"`` (part of the key).
            as_frame: return a DataFrame (writable copies) instead of a dict of read-only
                arrays (zero-copy views of the cached columns).

        An exception from ``compute`` propagates and nothing is cached.
        """
        _, columns = self._lookup(detector, params, inputs, compute, mode)
        if as_frame:
            return pd.DataFrame({name: np.array(a) for name, a in columns.items()})
        return columns

    def _lookup(
        self,
        detector: str,
        params: Mapping[str, ParamValue],
        inputs: Any,
        compute: Callable[[], Any],
        mode: str,
    ) -> tuple[str, dict[str, npt.NDArray[Any]]]:
        """(where it came from: memory/disk/computed, the read-only columns)."""

        def columns() -> list[tuple[str, npt.NDArray[Any]]]:
            return _arrays("result column", compute())

        source, out = self._cache.get_or_compute(
            detector, mode, dict(params), _arrays("input", inputs), columns
        )
        return source, dict(columns_of(out))

    def _recall(self, key: str) -> TableColumns | None:
        """The stored result of ``key`` (from :meth:`key`), or None (a miss, not counted:
        the caller computes it elsewhere and stores it with :meth:`_keep`)."""
        found = self._cache.lookup(key)
        return None if found is None else columns_of(found[1])

    def _keep(
        self, key: str, detector: str, columns: Mapping[str, npt.NDArray[Any]], seconds: float
    ) -> None:
        """Stores a result computed elsewhere (a worker process) in ``seconds``: a miss, on
        disk when it pays, and in memory (recomputing it costs a round trip as well)."""
        self._cache.keep_computed(key, detector, list(columns.items()), float(seconds))

    def stats(self) -> dict[str, int | float]:
        """Counters since this object was created, and current sizes.

        ``memory_hits``, ``disk_hits`` and ``misses`` (computed) count
        :meth:`get_or_compute` calls, each exactly one of them (a call that waited for
        another thread computing the same key is a memory hit); ``corrupt`` counts disk
        entries that failed validation (each recomputed); ``evictions`` memory entries
        dropped for room or age; ``entries``, ``bytes_in_memory`` and ``bytes_on_disk`` the
        sizes now; ``compression_ratio`` raw over compressed column bytes of the entries
        this object wrote; ``compute_seconds`` time spent computing misses;
        ``skipped_writes`` computed results not written to disk because recomputing them
        costs less than reading them back (``disk_writes="paying"``).
        """
        return dict(self._cache.stats())

    def clear(self) -> None:
        """Removes every entry from memory and disk."""
        self._cache.clear()

    def sweep(self) -> dict[str, int | bool]:
        """Removes temp files of crashed writers, old quarantined entries and entries past
        the TTL, then least recently used entries until the disk tier fits
        ``max_disk_bytes``. Skipped (``ran`` False) while another process sweeps."""
        return dict(self._cache.sweep())

    def verify(self) -> list[tuple[Path, str]]:
        """Reads every disk entry back and validates it (checksums, lengths, its key); each
        damaged one is moved aside as ``<key>.corrupt``, counted in ``stats()["corrupt"]``
        and listed as (file, reason). Empty when all is well or there is no disk tier."""
        return [(Path(p), reason) for p, reason in self._cache.verify()]
