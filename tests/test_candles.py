"""ictcore.Candles: construction from numpy and pandas, round trip to pandas."""

from __future__ import annotations

import numpy as np
import pandas as pd

import ictcore
from ictcore.testing import synthetic_frame


def test_round_trip_through_pandas() -> None:
    frame = synthetic_frame(2, 500, "walk")
    candles = ictcore.Candles.from_pandas(frame)
    assert len(candles) == 500
    assert candles.time.dtype == np.int64 and candles.open.dtype == np.float64
    back = candles.to_pandas()
    assert list(back.columns) == ["open", "high", "low", "close", "volume"]
    assert str(back.index.tz) == "UTC"
    np.testing.assert_array_equal(back.index.tz_localize(None).as_unit("ns").asi8, candles.time)
    pd.testing.assert_frame_equal(
        back.reset_index(drop=True), frame.reset_index(drop=True), check_exact=True
    )


def test_from_numpy_with_datetimes_and_no_volume() -> None:
    t = np.array(["2024-01-01T00:00", "2024-01-01T00:15"], dtype="datetime64[m]")
    c = ictcore.Candles.from_numpy(t, [1, 2], [2, 3], [0, 1], [1.5, 2.5])
    assert c.time.tolist() == [1704067200000000000, 1704068100000000000]
    assert c.volume.tolist() == [0.0, 0.0]
    assert "2 rows" in repr(c)


def test_from_pandas_with_a_time_column_and_tz() -> None:
    frame = synthetic_frame(3, 10, "walk")
    aware = frame.tz_localize("Asia/Tokyo").reset_index(names="Date")
    c = ictcore.Candles.from_pandas(aware)
    expected = frame.index.tz_localize("Asia/Tokyo").tz_convert("UTC").tz_localize(None)
    assert c.time.tolist() == expected.as_unit("ns").asi8.tolist()


def test_empty() -> None:
    c = ictcore.Candles.from_numpy(np.array([], dtype=np.int64), [], [], [], [])
    assert len(c) == 0 and repr(c) == "Candles(0 rows)"


def test_portfolio_generator_is_deterministic_and_well_formed() -> None:
    from ictcore.synthetic import TIMEFRAMES, portfolio

    first = list(portfolio(days=14, symbols=2, seed=3))
    again = list(portfolio(days=14, symbols=2, seed=3))
    assert [(s, tf) for s, tf, _ in first] == [
        (f"SYM00{k}", tf) for k in range(2) for tf in TIMEFRAMES
    ]
    for (s, tf, cols), (_, _, same) in zip(first, again, strict=True):
        for name in cols:
            np.testing.assert_array_equal(cols[name], same[name])
        c = ictcore.Candles(**cols)  # validates lengths, finiteness, increasing time
        assert np.all(c.high >= np.maximum(c.open, c.close))
        assert np.all(c.low <= np.minimum(c.open, c.close))
        weekday = (c.time // 86_400_000_000_000 + 3) % 7
        assert np.all(weekday < 5), (s, tf)
    lengths = {tf: len(cols["time"]) for s, tf, cols in first if s == "SYM000"}
    assert lengths == {"1m": 14_400, "5m": 2_880, "15m": 960, "1h": 240, "4h": 60, "1d": 10}
