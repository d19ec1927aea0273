"""Store round trip against a pure-Python model (promises S3 and S8): random sequences of
writes and appends, good and bad (overlapping, duplicate or unsorted times, NaN prices,
high below low, empty batches); after every step the stored series equals the model, and a
rejected batch changes nothing."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ictcore import Candles, CandleStore

pytestmark = pytest.mark.hypothesis

MINUTE = 60_000_000_000


@st.composite
def batches(draw: st.DrawFn) -> tuple[str, np.ndarray, np.ndarray, np.ndarray]:
    """(kind, time, price, spread) where kind is write|append and the rows may be bad."""
    kind = draw(st.sampled_from(["append", "append", "append", "write"]))
    n = draw(st.integers(0, 40))
    start = draw(st.integers(-50, 400))
    steps = draw(st.lists(st.sampled_from([1, 1, 1, 2, 5, 0, -1]), min_size=n, max_size=n))
    time = (start + np.cumsum(np.array(steps, dtype=np.int64))) * MINUTE if n else np.zeros(0)
    price = np.array(draw(st.lists(st.integers(1, 9), min_size=n, max_size=n)), dtype=float)
    spread = np.array(
        draw(st.lists(st.sampled_from([0.0, 0.5, 1.0, -1.0]), min_size=n, max_size=n))
    )
    if n and draw(st.booleans()) and draw(st.booleans()):
        price[draw(st.integers(0, n - 1))] = np.nan
    return kind, time.astype(np.int64), price, spread


def _valid(time: np.ndarray, price: np.ndarray, spread: np.ndarray, last: int | None) -> bool:
    if len(time) and last is not None and time[0] <= last:
        return False
    return bool(np.all(np.diff(time) > 0) and np.all(np.isfinite(price)) and np.all(spread >= 0))


@given(st.lists(batches(), min_size=1, max_size=12))
def test_store_equals_the_model(
    steps: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]],
) -> None:
    with tempfile.TemporaryDirectory() as root:
        store = CandleStore(Path(root))
        model_time: list[int] = []
        model_price: list[float] = []
        for kind, time, price, spread in steps:
            # open = close = price; high = price + spread; low = price (spread < 0 breaks rules)
            high = price + spread
            last = model_time[-1] if (kind == "append" and model_time) else None
            ok = _valid(time, price, spread, last)
            try:
                candles = Candles._trusted(time, price, high, price, price, np.zeros(len(time)))
                if kind == "write":
                    store.write("X", "1m", candles)
                else:
                    store.append("X", "1m", candles, durability="os")
            except ValueError:
                assert not ok, "a valid batch was refused"
            else:
                assert ok, "an invalid batch was accepted"
                if kind == "write":
                    model_time, model_price = list(time), list(price)
                else:
                    model_time += list(time)
                    model_price += list(price)
            if model_time or (kind == "write" and ok):
                got = store.read("X", "1m")
                np.testing.assert_array_equal(got.time, np.array(model_time, dtype=np.int64))
                np.testing.assert_array_equal(got.close, np.array(model_price))
        assert store.verify()
