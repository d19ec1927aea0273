"""Where time and volume come from, by one rule, for the inputs MetaTrader5 users hold:
integer epoch times in any unit, a ``copy_rates_*`` structured array and its DataFrame
(``tick_volume``), a RangeIndex with a time column, a stale column beside a DatetimeIndex."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import ictcore
from ictcore import Candles, CandleStore
from ictcore.exceptions import InvalidInputError, MissingColumnError

START = pd.Timestamp("2024-03-01 00:00", tz="UTC")


def _rates(n: int = 50) -> np.ndarray:
    """What ``mt5.copy_rates_from_pos`` returns: a structured array, time in epoch seconds."""
    dtype = [
        ("time", "<i8"),
        ("open", "<f8"),
        ("high", "<f8"),
        ("low", "<f8"),
        ("close", "<f8"),
        ("tick_volume", "<u8"),
        ("spread", "<i4"),
        ("real_volume", "<u8"),
    ]
    rates = np.zeros(n, dtype=dtype)
    rates["time"] = START.value // 10**9 + 60 * np.arange(n)
    price = 1.08 + np.cumsum(np.sin(np.arange(n))) * 1e-4
    rates["open"], rates["close"] = price, price + 1e-5
    rates["high"], rates["low"] = price + 3e-4, price - 3e-4
    rates["tick_volume"] = 100 + np.arange(n)
    rates["real_volume"] = 7 * np.arange(n)
    return rates


def _expected_time(n: int) -> np.ndarray:
    return START.value + 60_000_000_000 * np.arange(n, dtype=np.int64)


def test_mt5_rates_array_and_frame_read_as_seconds_with_tick_volume(tmp_path) -> None:
    rates = _rates()
    for candles in (
        Candles.from_numpy(rates),
        Candles.from_pandas(pd.DataFrame(rates)),
    ):
        np.testing.assert_array_equal(candles.time, _expected_time(50))
        np.testing.assert_array_equal(candles.volume, rates["tick_volume"].astype(float))
    real = Candles.from_pandas(pd.DataFrame(rates), volume_column="real_volume")
    np.testing.assert_array_equal(real.volume, rates["real_volume"].astype(float))
    with pytest.raises(MissingColumnError) as missing:
        Candles.from_pandas(pd.DataFrame(rates), volume_column="turnover")
    assert missing.value.column == "turnover"
    # The store and the detectors take the array as it comes.
    store = CandleStore(tmp_path / "store")
    store.write("EURUSD", "1m", rates)
    np.testing.assert_array_equal(store.read("EURUSD", "1m").time, _expected_time(50))
    assert len(ictcore.fvg(rates)) >= 0


@pytest.mark.parametrize(
    ("unit", "factor"), [("s", 10**9), ("ms", 10**6), ("us", 10**3), ("ns", 1)]
)
def test_integer_times_in_every_unit_by_magnitude_or_by_name(unit: str, factor: int) -> None:
    n = 20
    ticks = _expected_time(n) // factor
    c = Candles.from_numpy(ticks, *([np.ones(n)] * 4))
    np.testing.assert_array_equal(c.time, _expected_time(n))
    frame = pd.DataFrame({"Timestamp": ticks, "open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0})
    np.testing.assert_array_equal(Candles.from_pandas(frame).time, _expected_time(n))
    named = Candles.from_numpy(ticks, *([np.ones(n)] * 4), time_unit=unit)
    np.testing.assert_array_equal(named.time, _expected_time(n))


def test_integer_times_that_fit_no_unit_are_refused_naming_the_row() -> None:
    ones = [np.ones(3)] * 4
    seconds = START.value // 10**9
    # Row 2 is in milliseconds while rows 0-1 are seconds.
    with pytest.raises(InvalidInputError, match="row 2") as mixed:
        Candles.from_numpy(np.array([seconds, seconds + 60, (seconds + 120) * 1000]), *ones)
    assert (mixed.value.column, mixed.value.row) == ("time", 2)
    # Between the bands (1970-01-01 + 3e10 s is past 2286): no unit fits.
    with pytest.raises(InvalidInputError, match="time_unit"):
        Candles.from_numpy(np.array([3 * 10**10, 3 * 10**10 + 1, 3 * 10**10 + 2]), *ones)
    # A named unit whose values overflow nanoseconds.
    with pytest.raises(InvalidInputError, match="nanosecond range") as overflow:
        Candles.from_numpy(np.array([10**15, 10**15 + 1, 10**15 + 2]), *ones, time_unit="s")
    assert overflow.value.row == 0
    with pytest.raises(InvalidInputError, match="time_unit must be"):
        Candles.from_numpy(np.array([seconds]), *[np.ones(1)] * 4, time_unit="minutes")


def test_a_range_index_with_a_time_column_takes_the_column() -> None:
    rates = pd.DataFrame(_rates(10))
    assert isinstance(rates.index, pd.RangeIndex)
    frame = rates.rename(columns={"time": "timestamp"})
    np.testing.assert_array_equal(Candles.from_pandas(frame).time, _expected_time(10))
    # Without a time column, row numbers are never times.
    with pytest.raises(InvalidInputError, match="no time"):
        Candles.from_pandas(rates.drop(columns=["time"]))


def test_a_stale_time_column_beside_a_datetime_index_is_refused() -> None:
    frame = pd.DataFrame(_rates(10))
    frame.index = pd.to_datetime(frame["time"], unit="s", utc=True)
    frame.index.name = None
    # An integer column in seconds that agrees with the index is fine.
    np.testing.assert_array_equal(Candles.from_pandas(frame).time, _expected_time(10))
    stale = frame.copy()
    stale["time"] = stale["time"] - 3600
    with pytest.raises(InvalidInputError, match="does not match"):
        Candles.from_pandas(stale)


def test_the_store_takes_time_unit_and_volume_column(tmp_path) -> None:
    rates = pd.DataFrame(_rates(30))
    store = CandleStore(tmp_path / "store")
    store.write("X", "1m", rates.iloc[:20], volume_column="real_volume")
    more = rates.iloc[20:].copy()
    more["time"] = more["time"] * 1000  # milliseconds, named
    store.append("X", "1m", more, time_unit="ms", volume_column="real_volume")
    back = store.read("X", "1m")
    np.testing.assert_array_equal(back.time, _expected_time(30))
    np.testing.assert_array_equal(back.volume, rates["real_volume"].to_numpy(dtype=float))
