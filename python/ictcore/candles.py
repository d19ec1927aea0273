"""``Candles``: one validated OHLCV series as numpy columns, the native input type."""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from . import _ictcore, _interop
from ._interop import TIME_COLUMNS, volume_choice
from .compat._frames import as_float64, columns, datetime_index, nanoseconds
from .exceptions import InvalidInputError

__all__ = ["Candles"]


#: Nanoseconds per unit of integer epoch times.
TIME_UNITS = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}

#: Integer epoch times by magnitude: the values a unit takes for dates from 1973-03-03 to
#: 2286-11-20 (the bands do not overlap, so no date in that span is ambiguous).
_BANDS = (
    ("s", 10**8, 10**10),
    ("ms", 10**11, 10**13),
    ("us", 10**14, 10**16),
    ("ns", 10**17, 2**63),
)


def _integer_time(array: npt.NDArray[Any], time_unit: str | None) -> npt.NDArray[np.int64]:
    """Integer epoch times as int64 nanoseconds: in ``time_unit``, else in the unit their
    magnitude says (all rows in one band); anything else is refused naming the row."""
    if array.dtype.kind == "u" and array.size and array.max() > np.iinfo(np.int64).max:
        # A cast would wrap them to negative times: refuse instead.
        row = int(np.argmax(array > np.iinfo(np.int64).max))
        raise InvalidInputError(
            f"column 'time': {int(array[row])} at row {row} is beyond int64",
            column="time",
            row=row,
            value=int(array[row]),
        )
    values = np.ascontiguousarray(array, dtype=np.int64)
    if not values.size:
        return values
    if time_unit is None:
        first = int(values[0])
        band = next(((u, lo, hi) for u, lo, hi in _BANDS if lo <= first < hi), None)
        outside = (
            np.zeros(len(values), dtype=bool)
            if band is not None
            else np.ones(len(values), dtype=bool)
        )
        if band is not None:
            outside = (values < band[1]) | (values >= band[2])
        if outside.any():
            row = int(np.argmax(outside))
            raise InvalidInputError(
                f"column 'time': the integer {int(values[row])} at row {row} is not an epoch "
                "time in seconds, milliseconds, microseconds or nanoseconds of one unit with "
                "the other rows (a date from 1973 to 2286); pass time_unit='s', 'ms', 'us' "
                "or 'ns', or datetimes",
                column="time",
                row=row,
                value=int(values[row]),
            )
        time_unit = band[0] if band is not None else "ns"
    factor = TIME_UNITS.get(time_unit)
    if factor is None:
        raise InvalidInputError(
            f"time_unit must be one of {', '.join(TIME_UNITS)}, got {time_unit!r}",
            parameter="time_unit",
            value=time_unit,
        )
    limit = np.iinfo(np.int64).max // factor
    beyond = (values > limit) | (values < -limit)
    if beyond.any():
        row = int(np.argmax(beyond))
        raise InvalidInputError(
            f"column 'time': {int(values[row])} {time_unit} at row {row} is beyond the "
            "nanosecond range (1677-2262)",
            column="time",
            row=row,
            value=int(values[row]),
        )
    return values * factor if factor != 1 else values


def _as_time(values: Any, time_unit: str | None = None) -> npt.NDArray[np.int64]:
    if isinstance(values, pd.DatetimeIndex | pd.Series) and values.dtype.kind in "iu":
        return _integer_time(np.asarray(values), time_unit)
    if isinstance(values, pd.DatetimeIndex | pd.Series) or (
        isinstance(values, np.ndarray) and values.dtype.kind == "M"
    ):
        index = pd.DatetimeIndex(values)
        if index.tz is not None:
            index = index.tz_convert("UTC").tz_localize(None)
        if index.hasnans:
            row = int(np.flatnonzero(index.isna())[0])
            raise InvalidInputError(f"column 'time' has a missing time (NaT) at row {row}")
        return nanoseconds(index)
    array = np.asarray(values)
    if array.dtype.kind not in "iu":
        raise InvalidInputError(
            f"column 'time': expected integer epoch times or datetimes, got dtype {array.dtype}",
            column="time",
        )
    return _integer_time(array, time_unit)


def _column_time(column: pd.Series, time_unit: str | None) -> npt.NDArray[np.int64]:
    """A time column: integers by magnitude (or ``time_unit``), anything else as pandas
    reads dates."""
    if column.dtype.kind in "iu":
        return _integer_time(column.to_numpy(), time_unit)
    return _as_time(pd.to_datetime(column))


def _frame_time(frame: pd.DataFrame, time_unit: str | None = None) -> npt.NDArray[np.int64]:
    """The times of a frame, by one rule: its DatetimeIndex; else its one time column
    (``time``, ``timestamp``, ``date`` or ``datetime``, any case). A DatetimeIndex beside a
    time column that says otherwise, or two time columns, are refused naming them: a stale
    column must never win silently."""
    found = [c for c in frame.columns if str(c).lower() in TIME_COLUMNS]
    if isinstance(frame.index, pd.DatetimeIndex):
        index_time = _as_time(frame.index)
        for label in found:
            try:
                column_time = _column_time(frame[label], time_unit)
            except (TypeError, ValueError):
                column_time = None
            if column_time is None or not np.array_equal(column_time, index_time):
                raise InvalidInputError(
                    f"the frame has a DatetimeIndex and a time column {label!r} that does "
                    "not match it (first difference at row "
                    f"{_first_difference(index_time, column_time)}); drop the column or "
                    "set it as the index"
                )
        return index_time
    if len(found) > 1:
        raise InvalidInputError(
            f"the frame has several time columns ({', '.join(map(repr, found))}) and no "
            "DatetimeIndex; keep one, or set the right one as the index"
        )
    if found:
        return _column_time(frame[found[0]], time_unit)
    if frame.index.dtype.kind in "iufb" or not len(frame):  # row numbers are not times
        raise InvalidInputError(
            "the frame has no time: give it a DatetimeIndex or a time column "
            f"({', '.join(TIME_COLUMNS)}; any case)"
        )
    return _as_time(datetime_index(frame))


def _first_difference(a: npt.NDArray[np.int64], b: npt.NDArray[np.int64] | None) -> int:
    if b is None or len(a) != len(b):
        return 0
    return int(np.argmax(a != b))


class Candles:
    """One OHLCV series: ``time`` (int64 nanoseconds, UTC) and float64 ``open``, ``high``,
    ``low``, ``close``, ``volume`` numpy arrays of one length.

    Construction checks that lengths match, prices and volume are finite and time is strictly
    increasing; errors name the column and the first offending row.
    """

    __slots__ = ("close", "high", "low", "open", "time", "volume")

    time: npt.NDArray[np.int64]
    open: npt.NDArray[np.float64]
    high: npt.NDArray[np.float64]
    low: npt.NDArray[np.float64]
    close: npt.NDArray[np.float64]
    volume: npt.NDArray[np.float64]

    def __init__(
        self,
        time: Any,
        open: Any,
        high: Any,
        low: Any,
        close: Any,
        volume: Any = None,
        *,
        time_unit: str | None = None,
    ) -> None:
        self.time = _as_time(time, time_unit)
        self.open = as_float64(open, "open")
        self.high = as_float64(high, "high")
        self.low = as_float64(low, "low")
        self.close = as_float64(close, "close")
        self.volume = (
            np.zeros(len(self.time), dtype=np.float64)
            if volume is None
            else as_float64(volume, "volume")
        )
        _ictcore.validate_candles(self)

    @classmethod
    def _trusted(
        cls,
        time: npt.NDArray[np.int64],
        open: npt.NDArray[np.float64],
        high: npt.NDArray[np.float64],
        low: npt.NDArray[np.float64],
        close: npt.NDArray[np.float64],
        volume: npt.NDArray[np.float64],
    ) -> Candles:
        """Wraps arrays that were validated when they were stored (no copy, no checks)."""
        candles = object.__new__(cls)
        candles.time, candles.open, candles.high = time, open, high
        candles.low, candles.close, candles.volume = low, close, volume
        return candles

    def _slice(self, lo: int, hi: int) -> Candles:
        return Candles._trusted(
            self.time[lo:hi],
            self.open[lo:hi],
            self.high[lo:hi],
            self.low[lo:hi],
            self.close[lo:hi],
            self.volume[lo:hi],
        )

    @classmethod
    def from_numpy(
        cls,
        time: Any,
        open: Any = None,
        high: Any = None,
        low: Any = None,
        close: Any = None,
        volume: Any = None,
        *,
        time_unit: str | None = None,
        volume_column: str | None = None,
    ) -> Candles:
        """From arrays: ``time`` as integer epoch times (see :class:`Candles`) or datetime64;
        prices of any numeric dtype (converted to float64); ``volume`` optional (zeros).
        ``time`` may instead be a structured array — a MetaTrader5 ``copy_rates_*`` result —
        read as :meth:`from_pandas` reads its DataFrame."""
        if isinstance(time, np.ndarray) and time.dtype.names is not None:
            if any(x is not None for x in (open, high, low, close, volume)):
                raise InvalidInputError(
                    "from_numpy: a structured array carries every column; pass it alone",
                    parameter="time",
                )
            frame = pd.DataFrame(time)
            return cls.from_pandas(frame, time_unit=time_unit, volume_column=volume_column)
        if open is None or high is None or low is None or close is None:
            raise InvalidInputError(
                "from_numpy needs time, open, high, low and close (or one structured array)",
                parameter="open",
            )
        return cls(time, open, high, low, close, volume, time_unit=time_unit)

    @classmethod
    def from_pandas(
        cls,
        frame: pd.DataFrame,
        *,
        time_unit: str | None = None,
        volume_column: str | None = None,
    ) -> Candles:
        """From a DataFrame with open/high/low/close columns (any case).

        Time comes from its DatetimeIndex, else from its one ``time``/``timestamp``/``date``/
        ``datetime`` column (any case); a time column that disagrees with the index, or two
        time columns, are an error naming them. Naive times are taken as UTC. Integer times
        are epoch seconds, milliseconds, microseconds or nanoseconds by magnitude (the four
        ranges of dates from 1973 to 2286 do not overlap), or in ``time_unit``.

        Volume comes from ``volume_column`` if given, else the ``volume`` column, else
        ``tick_volume`` (MetaTrader5's bars carry that one; pass
        ``volume_column="real_volume"`` for exchange volume), else zeros."""
        time = _frame_time(frame, time_unit)
        chosen = volume_choice([str(c) for c in frame.columns], volume_column)
        cols = columns(frame, extra=(chosen,) if chosen else ())
        volume = cols.get(chosen) if chosen else None
        return cls(time, cols["open"], cols["high"], cols["low"], cols["close"], volume)

    @classmethod
    def from_polars(
        cls,
        frame: Any,
        *,
        time_unit: str | None = None,
        volume_column: str | None = None,
    ) -> Candles:
        """From a polars DataFrame (``pip install 'ictcore[polars]'``): time from its one
        ``time``/``timestamp``/``date``/``datetime`` column (any case; polars frames have no
        index), datetimes (tz-aware converted to UTC, naive taken as UTC) or integer epoch
        times as in :meth:`from_pandas`; prices and volume likewise. float64 columns without
        nulls are read without a copy."""
        return _interop.from_polars(frame, time_unit=time_unit, volume_column=volume_column)

    @classmethod
    def from_arrow(
        cls,
        data: Any,
        *,
        time_unit: str | None = None,
        volume_column: str | None = None,
    ) -> Candles:
        """From anything with the Arrow PyCapsule stream interface (``__arrow_c_stream__``:
        a pyarrow Table or RecordBatch, a polars DataFrame, a DuckDB result, ...), read with
        pyarrow if installed, else polars (``pip install 'ictcore[arrow]'``). Columns as in
        :meth:`from_polars`; a float64 column in one chunk without nulls is read without a
        copy."""
        return _interop.from_arrow(data, time_unit=time_unit, volume_column=volume_column)

    def _decoded(self) -> list[tuple[str, str, npt.NDArray[Any], list[str] | None]]:
        return _interop.decoded_columns(
            {"time": self.time, "open": self.open, "high": self.high, "low": self.low,
             "close": self.close, "volume": self.volume},
            lambda name, values: None,
            ("time",),
        )  # fmt: skip

    def to_arrow(self) -> Any:
        """A pyarrow Table: ``time`` as timestamp[ns, UTC], then the five float64 columns."""
        return _interop.to_arrow(self._decoded())

    def to_polars(self) -> Any:
        """A polars DataFrame: ``time`` as Datetime(ns, UTC), then the five float64 columns."""
        return _interop.to_polars(self._decoded())

    def to_pandas(self) -> pd.DataFrame:
        """A DataFrame with a UTC DatetimeIndex named ``time`` and lower-case columns."""
        index = pd.DatetimeIndex(pd.to_datetime(self.time, unit="ns", utc=True), name="time")
        frame: pd.DataFrame = pd.DataFrame(
            {
                "open": self.open,
                "high": self.high,
                "low": self.low,
                "close": self.close,
                "volume": self.volume,
            },
            index=index,
        )
        return frame

    def __len__(self) -> int:
        return len(self.time)

    def _repr_html_(self) -> str:
        """A notebook's view: the row count and span, then the first rows."""
        return _interop.table_html(html.escape(repr(self)), self.to_pandas())

    def plot(self, *tables: Any, **options: Any) -> Any:
        """A chart of these candles and the tables given: :func:`ictcore.plot`'s arguments.
        Returns the matplotlib figure."""
        from .charts import plot

        return plot(self, *tables, **options)

    def __repr__(self) -> str:
        if len(self) == 0:
            return "Candles(0 rows)"
        first, last = (pd.Timestamp(int(t), tz="UTC") for t in (self.time[0], self.time[-1]))
        return f"Candles({len(self)} rows, {first} .. {last})"
