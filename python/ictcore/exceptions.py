"""ictcore's exception hierarchy.

Every error ictcore raises on purpose is an :class:`IctError`. Where a built-in type is what
existing code catches, the class derives from it as well, so ``except ValueError`` or
``except LookupError`` keeps working after switching from ``smartmoneyconcepts``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "BatchError",
    "CorruptFileError",
    "DetectorError",
    "IctError",
    "InvalidInputError",
    "InvalidTypeError",
    "MissingColumnError",
    "MissingDependencyError",
    "UnknownNameError",
    "WorkerDiedError",
]


class IctError(Exception):
    """Base class of every error ictcore raises on purpose (and of caught internal panics).

    Besides the message, an error carries what a program can act on, as attributes that are
    ``None`` where they do not apply: ``column`` (an input column), ``row`` (its first
    offending row, or a file's line), ``parameter`` (``"<detector>.<name>"`` or an argument),
    ``value`` (the offending value), ``path`` (a file), ``symbol`` and ``timeframe`` (the
    series of a batch it happened in).
    """

    column: str | None = None
    row: int | None = None
    parameter: str | None = None
    value: Any = None
    path: str | None = None
    symbol: str | None = None
    timeframe: str | None = None

    def __init__(self, *args: object, **details: Any) -> None:
        super().__init__(*args)
        for name, value in details.items():
            if name not in _DETAILS:
                raise TypeError(f"{type(self).__name__} has no detail {name!r}")
            setattr(self, name, value)


_DETAILS = frozenset({"column", "row", "parameter", "value", "path", "symbol", "timeframe"})


class InvalidInputError(IctError, ValueError):
    """Bad input: NaN/inf prices, mismatched lengths, an unsorted or duplicate time index,
    a parameter out of its domain. The message names the column and first offending row."""


class MissingDependencyError(IctError, ImportError):
    """An optional package a call needs is not installed (polars, pyarrow, matplotlib,
    dask); the message names the extra that installs it. An ``ImportError``."""


class InvalidTypeError(IctError, TypeError):
    """An argument of the wrong type (a list where a DataFrame is expected, a parameter that
    is not an int, float, bool or str). A ``TypeError``."""


class _PlainMessage:
    """``KeyError`` quotes its message in ``str()``; these errors read as sentences."""

    args: tuple[object, ...]

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class MissingColumnError(_PlainMessage, IctError, KeyError):
    """A required column is missing. A ``KeyError`` and so a ``LookupError``, the type
    smartmoneyconcepts raises for a missing OHLC column."""


class UnknownNameError(_PlainMessage, InvalidInputError, KeyError):
    """A name that must come from a fixed table (a session, a frequency alias) is unknown.
    Both a ``ValueError`` and a ``KeyError`` (what smartmoneyconcepts raises for an unknown
    session)."""


class CorruptFileError(IctError):
    """A file exists but is damaged, truncated, foreign or of a future format version."""


class DetectorError(IctError):
    """A Python detector raised on a series (in a pool's worker process or in the caller's):
    the message names the detector and series and holds the worker's traceback;
    ``__cause__`` is the detector's own exception when it could be carried back."""


class WorkerDiedError(DetectorError):
    """The worker process running Python detectors on a series died (a segfault,
    ``os._exit``, the out-of-memory killer): that series failed; the pool replaced the
    worker and went on with the others."""


class BatchError(IctError):
    """Some requests of a batch failed; ``errors`` maps each failed request to its exception
    (the others succeeded and are not lost: ``CandleStore.load_batch(...,
    on_error="return")`` and ``DetectorPool.analyze(..., on_error="collect")``, the pool's
    default, return them with the errors in place)."""

    def __init__(self, errors: Mapping[tuple[object, ...], BaseException]) -> None:
        self.errors = errors
        lines = [f"{len(errors)} request(s) of the batch failed:"]
        lines += [f"  {request}: {error}" for request, error in errors.items()]
        super().__init__("\n".join(lines))
