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
    return np.ascontiguousarray(array, dtype=np.int64)


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
        _ictcore.validate_candles(
            self.time, self.open, self.high, self.low, self.close, self.volume
        )

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
        """From a DataFrame with open/high/low/close[/volume] columns (any case) and either a
        DatetimeIndex or a ``time``/``date``/``datetime`` column. Naive times are taken as UTC."""
        lookup = {str(c).lower(): c for c in frame.columns}
        time_label = next((lookup[k] for k in ("time", "date", "datetime") if k in lookup), None)
        if time_label is not None:
            time = _as_time(pd.to_datetime(frame[time_label]))
        else:
            time = _as_time(datetime_index(frame))
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
