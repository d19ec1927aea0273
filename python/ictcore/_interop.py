"""polars and Arrow in and out. Both packages are optional: they are imported when a call
needs them, and a missing one is a :class:`~ictcore.MissingDependencyError` naming the extra
that installs it.

Frames from polars and Arrow have no index, so time comes from their one time column
(``time``, ``timestamp``, ``date`` or ``datetime``, any case) by the rule of
:meth:`Candles.from_pandas`: datetimes (tz-aware ones converted to UTC, naive ones taken as
UTC) or integer epoch times by magnitude (or ``time_unit``)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from .exceptions import (
    InvalidInputError,
    InvalidTypeError,
    MissingColumnError,
    MissingDependencyError,
)

if TYPE_CHECKING:
    import pandas as pd

    from .candles import Candles

#: Column names read as the time column (any case).
TIME_COLUMNS = ("time", "timestamp", "date", "datetime")


def require(module: str, extra: str, what: str) -> ModuleType:
    """The optional ``module``, or an error saying which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(
            f"{what} needs {module}, which is not installed: pip install 'ictcore[{extra}]'"
        ) from None


def volume_choice(names: Sequence[str], volume_column: str | None) -> str | None:
    """The column read as volume: ``volume_column`` if given (it must exist), else
    ``volume``, else ``tick_volume`` (MetaTrader5's), else none (zeros). Any case."""
    lower = [n.lower() for n in names]
    if volume_column is not None:
        if volume_column.lower() not in lower:
            raise MissingColumnError(
                f"no volume column {volume_column!r} (the frame has {list(names)!r})",
                column=volume_column,
            )
        return volume_column.lower()
    return next((c for c in ("volume", "tick_volume") if c in lower), None)


def candles_from_columns(
    names: Sequence[str],
    get: Callable[[str], npt.NDArray[Any]],
    *,
    time_unit: str | None,
    volume_column: str | None,
    source: str,
) -> Candles:
    """Candles from a table without an index: ``get(name)`` gives a column as a numpy array
    (datetime64 for datetimes, already in UTC)."""
    from .candles import Candles, _as_time, _integer_time

    by_lower: dict[str, str] = {}
    for name in names:
        if name.lower() in by_lower:
            raise InvalidInputError(
                f"columns {by_lower[name.lower()]!r} and {name!r} of the {source} differ only "
                "in case; keep one",
                column=name,
            )
        by_lower[name.lower()] = name
    found = [n for n in names if n.lower() in TIME_COLUMNS]
    if len(found) != 1:
        has = f"several time columns ({', '.join(map(repr, found))})" if found else "no time column"
        raise InvalidInputError(
            f"the {source} has {has}; it needs exactly one of {', '.join(TIME_COLUMNS)} (any case)",
            column="time",
        )
    raw = get(found[0])
    if raw.dtype.kind == "M":
        time = _as_time(raw)
    elif raw.dtype.kind in "iu":
        time = _integer_time(raw, time_unit)
    else:
        raise InvalidInputError(
            f"column {found[0]!r}: expected datetimes or integer epoch times, got dtype "
            f"{raw.dtype}",
            column=found[0],
        )
    prices = []
    for column in ("open", "high", "low", "close"):
        if column not in by_lower:
            raise MissingColumnError(
                f'the {source} has no column "{column}" (any case; it has {list(names)!r})',
                column=column,
            )
        prices.append(get(by_lower[column]))
    chosen = volume_choice(names, volume_column)
    volume = get(by_lower[chosen]) if chosen else None
    open_, high, low, close = prices
    return Candles(time, open_, high, low, close, volume)


def _polars_column(frame: Any, name: str) -> npt.NDArray[Any]:
    # Numeric columns without nulls come out as views of polars' memory (no copy); a
    # tz-aware datetime column as its UTC instants (numpy has no zones; tested).
    array: npt.NDArray[Any] = frame.get_column(name).to_numpy()
    return array


def from_polars(frame: Any, *, time_unit: str | None, volume_column: str | None) -> Candles:
    pl = require("polars", "polars", "Candles.from_polars")
    if isinstance(frame, pl.LazyFrame):
        raise InvalidTypeError("from_polars takes a DataFrame; collect() the LazyFrame first")
    if not isinstance(frame, pl.DataFrame):
        raise InvalidTypeError(f"from_polars takes a polars DataFrame, got {type(frame).__name__}")
    return candles_from_columns(
        frame.columns,
        lambda name: _polars_column(frame, name),
        time_unit=time_unit,
        volume_column=volume_column,
        source="polars frame",
    )


def from_arrow(data: Any, *, time_unit: str | None, volume_column: str | None) -> Candles:
    """From anything with the Arrow PyCapsule stream interface (``__arrow_c_stream__``: a
    pyarrow Table or RecordBatch, a polars DataFrame, DuckDB and others), read with pyarrow
    when it is installed, else polars."""
    if not hasattr(data, "__arrow_c_stream__") and not hasattr(data, "__arrow_c_array__"):
        raise InvalidTypeError(
            "from_arrow takes an object with the Arrow PyCapsule interface "
            f"(__arrow_c_stream__), got {type(data).__name__}"
        )
    try:
        pa = importlib.import_module("pyarrow")
    except ImportError:
        pl = require("polars", "arrow", "Candles.from_arrow (with pyarrow or polars)")
        return from_polars(pl.DataFrame(data), time_unit=time_unit, volume_column=volume_column)
    table = pa.table(data)

    def column(name: str) -> npt.NDArray[Any]:
        chunked = table.column(name)
        if pa.types.is_timestamp(chunked.type) and chunked.type.tz is not None:
            # Arrow stores UTC instants; drop the zone to read them as such.
            chunked = chunked.cast(pa.timestamp(chunked.type.unit))
        # One chunk without nulls is a view (no copy); otherwise the chunks are joined.
        array: npt.NDArray[Any] = chunked.to_numpy()
        return array

    return candles_from_columns(
        table.column_names,
        column,
        time_unit=time_unit,
        volume_column=volume_column,
        source="Arrow table",
    )


def decoded_columns(
    columns: dict[str, npt.NDArray[Any]],
    categories: Callable[[str, npt.NDArray[Any]], tuple[npt.NDArray[Any], list[str]] | None],
    time_columns: Sequence[str],
) -> list[tuple[str, str, npt.NDArray[Any], list[str] | None]]:
    """A table's columns as (name, how, values, categories): ``how`` is ``"category"``
    (values are codes into categories), ``"time"`` (int64 ns UTC), ``"bool"`` or
    ``"plain"``; the one decoding that pandas, Arrow and polars outputs share."""
    out: list[tuple[str, str, npt.NDArray[Any], list[str] | None]] = []
    for name, values in columns.items():
        coded = categories(name, values)
        if coded is not None:
            out.append((name, "category", coded[0], coded[1]))
        elif name in time_columns:
            out.append((name, "time", values, None))
        elif name == "initial":
            out.append((name, "bool", values.astype(bool), None))
        else:
            out.append((name, "plain", values, None))
    return out


def to_arrow(
    decoded: list[tuple[str, str, npt.NDArray[Any], list[str] | None]],
    metadata: dict[str, str] | None = None,
) -> Any:
    pa = require("pyarrow", "arrow", "to_arrow()")
    arrays, names = [], []
    for name, how, values, cats in decoded:
        if how == "category":
            array = pa.DictionaryArray.from_arrays(
                pa.array(np.asarray(values, dtype=np.int32)), pa.array(cats or [], pa.string())
            )
        elif how == "time":
            array = pa.array(np.asarray(values, dtype=np.int64), pa.timestamp("ns", tz="UTC"))
        else:
            array = pa.array(values)
        arrays.append(array)
        names.append(name)
    return pa.table(arrays, names=names, metadata=metadata or None)


def to_polars(decoded: list[tuple[str, str, npt.NDArray[Any], list[str] | None]]) -> Any:
    pl = require("polars", "polars", "to_polars()")
    series = []
    for name, how, values, cats in decoded:
        if how == "category":
            labels = np.asarray(cats or [], dtype=object)[np.asarray(values, dtype=np.intp)]
            series.append(pl.Series(name, labels, dtype=pl.String).cast(pl.Enum(cats or [])))
        elif how == "time":
            series.append(
                pl.Series(name, np.asarray(values, dtype=np.int64))
                .cast(pl.Datetime("ns"))
                .dt.replace_time_zone("UTC")
            )
        else:
            series.append(pl.Series(name, values))
    return pl.DataFrame(series)


def table_html(title: str, frame: pd.DataFrame, rows: int = 10) -> str:
    """A notebook's HTML view of a table: a title line, then its first ``rows`` rows."""
    shown = frame.head(rows).to_html(max_cols=20, border=0)
    more = "" if len(frame) <= rows else f"<p>... {len(frame) - rows:,} more rows</p>"
    return f"<div><p>{title}</p>{shown}{more}</div>"
