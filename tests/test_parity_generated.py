"""Property tests: ictcore.compat equals the installed smartmoneyconcepts 0.0.27, cell for
cell and dtype for dtype, on generated OHLCV of every shape (see ictcore.testing)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, note
from hypothesis import strategies as st

from ictcore.testing import ohlcv_frames, synthetic_frame

from parity import SWING_LENGTHS, assert_same, compat, reference

pytestmark = pytest.mark.hypothesis

swing_lengths = st.sampled_from((*SWING_LENGTHS, 4, 7))


def _maybe_int(frame: pd.DataFrame, as_int: bool) -> pd.DataFrame:
    """Integer-valued frames also go in as int64 columns (any numeric dtype is accepted)."""
    if as_int and all(float(v).is_integer() for v in frame.to_numpy().ravel()):
        return frame.astype(np.int64)
    return frame


@given(frame=ohlcv_frames(), join=st.booleans(), as_int=st.booleans())
def test_fvg(frame: pd.DataFrame, join: bool, as_int: bool) -> None:
    frame = _maybe_int(frame, as_int)
    assert_same(compat.fvg(frame, join), reference.fvg(frame, join))


@given(
    frame=ohlcv_frames(),
    length=swing_lengths,
    close_break=st.booleans(),
    close_mitigation=st.booleans(),
    range_percent=st.sampled_from([0.0, 0.001, 0.01, 0.05, 0.25, 1.0]),
    as_int=st.booleans(),
)
def test_swing_based(
    frame: pd.DataFrame,
    length: int,
    close_break: bool,
    close_mitigation: bool,
    range_percent: float,
    as_int: bool,
) -> None:
    frame = _maybe_int(frame, as_int)
    got_sw = compat.swing_highs_lows(frame, length)
    exp_sw = reference.swing_highs_lows(frame, length)
    assert_same(got_sw, exp_sw)
    note(f"{int(exp_sw['HighLow'].notna().sum())} swings")
    assert_same(
        compat.bos_choch(frame, got_sw, close_break),
        reference.bos_choch(frame, exp_sw, close_break),
    )
    assert_same(
        compat.ob(frame, got_sw, close_mitigation),
        reference.ob(frame, exp_sw, close_mitigation),
    )
    assert_same(
        compat.liquidity(frame, got_sw, range_percent),
        reference.liquidity(frame, exp_sw, range_percent),
    )
    assert_same(compat.retracements(frame, got_sw), reference.retracements(frame, exp_sw))


TIME_FRAMES = ["15min", "1h", "4h", "1D", "D", "2D", "W", "W-WED", "ME", "MS", "QE", "YS"]


@given(frame=ohlcv_frames(), time_frame=st.sampled_from(TIME_FRAMES))
def test_previous_high_low(frame: pd.DataFrame, time_frame: str) -> None:
    assert_same(
        compat.previous_high_low(frame, time_frame),
        reference.previous_high_low(frame, time_frame),
    )


@given(
    frame=ohlcv_frames(max_size=300),
    session=st.sampled_from(
        ["Sydney", "Tokyo", "London", "New York", "Asian kill zone", "london close kill zone"]
    ),
    time_zone=st.sampled_from(["UTC", "UTC+2", "GMT-3", "Asia/Tokyo"]),
)
def test_sessions(frame: pd.DataFrame, session: str, time_zone: str) -> None:
    assert_same(
        compat.sessions(frame, session, time_zone=time_zone),
        reference.sessions(frame, session, time_zone=time_zone),
    )


@given(
    frame=ohlcv_frames(max_size=200),
    start=st.tuples(st.integers(0, 23), st.integers(0, 59)),
    end=st.tuples(st.integers(0, 23), st.integers(0, 59)),
)
def test_sessions_custom(frame: pd.DataFrame, start: tuple[int, int], end: tuple[int, int]) -> None:
    s, e = f"{start[0]}:{start[1]:02d}", f"{end[0]:02d}:{end[1]}"
    assert_same(compat.sessions(frame, "Custom", s, e), reference.sessions(frame, "Custom", s, e))


@pytest.mark.parametrize("n", [0, 1, 2, 3, 5, 14, 15, 16])
@pytest.mark.parametrize("shape", ["walk", "ties"])
def test_very_short_series(n: int, shape: str) -> None:
    """n < 3L (no swing at all), and the 0/1/2-candle edge cases, for every function."""
    frame = synthetic_frame(n * 7 + 1, n, shape)
    for length in (1, 2, 5):
        got_sw = compat.swing_highs_lows(frame, length)
        exp_sw = reference.swing_highs_lows(frame, length)
        assert_same(got_sw, exp_sw)
        assert_same(compat.bos_choch(frame, got_sw), reference.bos_choch(frame, exp_sw))
        assert_same(compat.ob(frame, got_sw), reference.ob(frame, exp_sw))
        assert_same(compat.liquidity(frame, got_sw), reference.liquidity(frame, exp_sw))
        assert_same(compat.retracements(frame, got_sw), reference.retracements(frame, exp_sw))
    assert_same(compat.fvg(frame, True), reference.fvg(frame, True))
    assert_same(compat.fvg(frame), reference.fvg(frame))
    assert_same(compat.previous_high_low(frame), reference.previous_high_low(frame))
    assert_same(compat.sessions(frame, "London"), reference.sessions(frame, "London"))


def test_swing_length_zero() -> None:
    frame = synthetic_frame(3, 50, "walk")
    assert_same(compat.swing_highs_lows(frame, 0), reference.swing_highs_lows(frame, 0))


@pytest.mark.parametrize("shape", ["walk", "trend", "btc", "ties"])
def test_long_series(shape: str) -> None:
    """One 20k-candle series per shape: long trends leave gaps/blocks open for thousands of
    candles, where the fast searches differ most from the library's scans."""
    frame = synthetic_frame(11, 20_000, shape)
    got_sw = compat.swing_highs_lows(frame, 5)
    exp_sw = reference.swing_highs_lows(frame, 5)
    assert_same(got_sw, exp_sw)
    assert_same(compat.fvg(frame), reference.fvg(frame))
    assert_same(compat.bos_choch(frame, got_sw), reference.bos_choch(frame, exp_sw))
    assert_same(compat.ob(frame, got_sw), reference.ob(frame, exp_sw))
    assert_same(compat.liquidity(frame, got_sw), reference.liquidity(frame, exp_sw))


@st.composite
def arbitrary_swings(draw: st.DrawFn, frame: pd.DataFrame) -> pd.DataFrame:
    """A swing frame not made by swing_highs_lows: any HighLow values (NaN, +-1, 0, 2) and
    levels that need not match the candles, as an engine with its own pivots may pass."""
    n = len(frame)
    kinds = draw(st.lists(st.sampled_from([np.nan] * 6 + [1.0, -1.0, 1.0, -1.0, 0.0, 2.0]),
                          min_size=n, max_size=n))  # fmt: skip
    use_prices = draw(st.booleans())
    high, low = frame["high"].to_numpy(), frame["low"].to_numpy()
    levels = []
    for i, k in enumerate(kinds):
        if use_prices:
            levels.append(high[i] if k == 1 else low[i] if k == -1 else np.nan)
        else:
            levels.append(draw(st.sampled_from([np.nan, low[i], high[i], (low[i] + high[i]) / 2])))
    return pd.DataFrame({"HighLow": np.array(kinds), "Level": np.array(levels, dtype=np.float64)})


@given(data=st.data(), frame=ohlcv_frames(max_size=200))
def test_swing_based_on_arbitrary_swing_frames(data: st.DataObject, frame: pd.DataFrame) -> None:
    swings = data.draw(arbitrary_swings(frame))
    assert_same(compat.bos_choch(frame, swings), reference.bos_choch(frame, swings))
    assert_same(compat.ob(frame, swings), reference.ob(frame, swings))
    assert_same(compat.liquidity(frame, swings), reference.liquidity(frame, swings))
    assert_same(compat.retracements(frame, swings), reference.retracements(frame, swings))
