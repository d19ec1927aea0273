"""``Candles``: one validated OHLCV series as numpy columns, the native input type."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from . import _ictcore
from .compat._frames import as_float64, columns, datetime_index, nanoseconds
from .exceptions import InvalidInputError

__all__ = ["Candles"]


def _as_time(values: Any) -> npt.NDArray[np.int64]:
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
            f"column 'time': expected int64 nanoseconds or datetimes, got dtype {array.dtype}"
        )
    if array.dtype.kind == "u" and array.size and array.max() > np.iinfo(np.int64).max:
        # A cast would wrap them to negative times (1677): refuse instead.
        row = int(np.argmax(array > np.iinfo(np.int64).max))
        raise InvalidInputError(
            f"column 'time': {int(array[row])} at row {row} is beyond int64 nanoseconds (year 2262)"
        )
    return np.ascontiguousarray(array, dtype=np.int64)


#: Column names read as the time column (any case), when the frame has no DatetimeIndex.
TIME_COLUMNS = ("time", "timestamp", "date", "datetime")


def _frame_time(frame: pd.DataFrame) -> npt.NDArray[np.int64]:
    """The times of a frame, by one rule: its DatetimeIndex; else its one time column
    (``time``, ``timestamp``, ``date`` or ``datetime``, any case). A DatetimeIndex beside a
    time column that says otherwise, or two time columns, are refused naming them: a stale
    column must never win silently."""
    found = [c for c in frame.columns if str(c).lower() in TIME_COLUMNS]
    if isinstance(frame.index, pd.DatetimeIndex):
        index_time = _as_time(frame.index)
        for label in found:
            try:
                column_time = _as_time(pd.to_datetime(frame[label]))
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
        return _as_time(pd.to_datetime(frame[found[0]]))
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
    ) -> None:
        self.time = _as_time(time)
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
        open: Any,
        high: Any,
        low: Any,
        close: Any,
        volume: Any = None,
    ) -> Candles:
        """From arrays: ``time`` as int64 nanoseconds or datetime64; prices of any numeric
        dtype (converted to float64); ``volume`` optional (zeros)."""
        return cls(time, open, high, low, close, volume)

    @classmethod
    def from_pandas(cls, frame: pd.DataFrame) -> Candles:
        """From a DataFrame with open/high/low/close[/volume] columns (any case). Time comes
        from its DatetimeIndex, else from its one ``time``/``timestamp``/``date``/
        ``datetime`` column (any case); a time column that disagrees with the index, or two
        time columns, are an error naming them. Naive times are taken as UTC."""
        lookup = {str(c).lower(): c for c in frame.columns}
        time = _frame_time(frame)
        has_volume = "volume" in lookup
        cols = columns(frame, extra=("volume",) if has_volume else ())
        return cls(time, cols["open"], cols["high"], cols["low"], cols["close"], cols.get("volume"))

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

    def __repr__(self) -> str:
        if len(self) == 0:
            return "Candles(0 rows)"
        first, last = (pd.Timestamp(int(t), tz="UTC") for t in (self.time[0], self.time[-1]))
        return f"Candles({len(self)} rows, {first} .. {last})"
