"""Bad input: every error names the problem, has the type existing code catches, and nothing
crashes. Types are asserted against what smartmoneyconcepts raises where it raises at all."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ictcore
from ictcore.exceptions import (
    CorruptFileError,
    IctError,
    InvalidInputError,
    InvalidTypeError,
    MissingColumnError,
    UnknownNameError,
)
from ictcore.testing import synthetic_frame

from parity import compat, reference


@pytest.fixture
def frame() -> pd.DataFrame:
    return synthetic_frame(5, 80, "walk")


@pytest.mark.parametrize("column", ["open", "high", "low", "close"])
def test_missing_ohlc_column_is_a_lookup_error_naming_it(frame: pd.DataFrame, column: str) -> None:
    bad = frame.drop(columns=[column])
    with pytest.raises(LookupError):  # what smartmoneyconcepts raises
        reference.fvg(bad)
    with pytest.raises(LookupError, match=f'column named "{column}"') as info:
        compat.fvg(bad)
    assert isinstance(info.value, MissingColumnError)
    assert isinstance(info.value, IctError)


@pytest.mark.parametrize("call", ["ob", "previous_high_low"])
def test_missing_volume_is_a_clear_key_error(frame: pd.DataFrame, call: str) -> None:
    bad = frame.drop(columns=["volume"])
    swings = compat.swing_highs_lows(frame, 3)
    run = {
        "ob": lambda m, s: m.ob(bad, s),
        "previous_high_low": lambda m, s: m.previous_high_low(bad),
    }[call]
    with pytest.raises(KeyError):  # smartmoneyconcepts: a bare KeyError: 'volume'
        run(reference, reference.swing_highs_lows(frame, 3))
    with pytest.raises(KeyError, match='column named "volume"') as info:
        run(compat, swings)
    assert str(info.value).startswith("Must have")  # a sentence, not a quoted repr


def test_column_names_match_case_insensitively(frame: pd.DataFrame) -> None:
    upper = frame.rename(columns=str.upper)
    pd.testing.assert_frame_equal(compat.fvg(upper), compat.fvg(frame))


def test_two_columns_folding_to_one_name_are_rejected(frame: pd.DataFrame) -> None:
    both = frame.assign(Close=frame["close"])
    with pytest.raises(InvalidInputError, match="'close'"):
        compat.fvg(both)


@pytest.mark.parametrize("column", ["open", "high", "low", "close"])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_prices_name_column_and_row(
    frame: pd.DataFrame, column: str, value: float
) -> None:
    bad = frame.copy()
    bad.iloc[17, bad.columns.get_loc(column)] = value
    with pytest.raises(ValueError, match=f"column '{column}'.*row 17"):
        compat.fvg(bad)
    with pytest.raises(ValueError, match=f"column '{column}'.*row 17"):
        compat.swing_highs_lows(bad, 3) if column in ("high", "low") else compat.retracements(
            bad, compat.swing_highs_lows(frame, 3)
        )


def test_non_numeric_column(frame: pd.DataFrame) -> None:
    bad = frame.assign(close="x")
    with pytest.raises(ValueError, match="column 'close'"):
        compat.fvg(bad)


def test_swing_frame_of_another_length(frame: pd.DataFrame) -> None:
    swings = compat.swing_highs_lows(frame.iloc[:40], 3)
    for call in (compat.bos_choch, compat.ob, compat.liquidity, compat.retracements):
        with pytest.raises(ValueError, match=r"swing_highs_lows\.HighLow' has 40 rows"):
            call(frame, swings)


def test_swing_frame_without_its_columns(frame: pd.DataFrame) -> None:
    with pytest.raises(KeyError, match="HighLow"):
        compat.bos_choch(frame, pd.DataFrame({"Level": np.zeros(len(frame))}))


@pytest.mark.parametrize("call", ["sessions", "previous_high_low"])
@pytest.mark.parametrize(
    ("order", "word"), [([0, 1, 3, 2, 4], "earlier"), ([0, 1, 2, 2, 4], "duplicate")]
)
def test_unsorted_or_duplicate_index(
    frame: pd.DataFrame, call: str, order: list[int], word: str
) -> None:
    bad = frame.iloc[order]
    run = {
        "sessions": lambda: compat.sessions(bad, "London"),
        "previous_high_low": lambda: compat.previous_high_low(bad),
    }[call]
    with pytest.raises(ValueError, match=f"column 'index'.*row 3.*{word}"):
        run()


def test_nat_in_index(frame: pd.DataFrame) -> None:
    bad = frame.copy()
    idx = bad.index.to_series()
    idx.iloc[5] = pd.NaT
    bad.index = pd.DatetimeIndex(idx)
    with pytest.raises(ValueError, match="row 5"):
        compat.sessions(bad, "London")


def test_unknown_session_is_a_key_error_listing_the_known_ones(frame: pd.DataFrame) -> None:
    with pytest.raises(KeyError):  # smartmoneyconcepts: dict lookup
        reference.sessions(frame, "london")
    with pytest.raises(KeyError, match="known: Sydney") as info:
        compat.sessions(frame, "london")
    assert isinstance(info.value, UnknownNameError) and isinstance(info.value, ValueError)


@pytest.mark.parametrize(("start", "end"), [("", "10:00"), ("10:00", "")])
def test_custom_session_needs_both_times(frame: pd.DataFrame, start: str, end: str) -> None:
    with pytest.raises(ValueError):
        reference.sessions(frame, "Custom", start, end)
    with pytest.raises(ValueError, match="Custom session requires a start and end time"):
        compat.sessions(frame, "Custom", start, end)


@pytest.mark.parametrize("text", ["24:00", "10:60", "10", "10:00:00", "ab:cd", "1:2:3"])
def test_custom_session_bad_times(frame: pd.DataFrame, text: str) -> None:
    with pytest.raises(ValueError):
        reference.sessions(frame, "Custom", text, "12:00")
    with pytest.raises(ValueError, match="does not match format"):
        compat.sessions(frame, "Custom", text, "12:00")


@pytest.mark.parametrize("alias", ["1H", "15T", "M", "Y", "1.5h", "2W", "B", "0h", "W-FOO", "x"])
def test_bad_time_frame_alias(frame: pd.DataFrame, alias: str) -> None:
    with pytest.raises(ValueError, match=f"'{alias}'"):
        compat.previous_high_low(frame, alias)


def test_tz_aware_non_utc_index_in_previous_high_low(frame: pd.DataFrame) -> None:
    aware = frame.tz_localize("Europe/Berlin", ambiguous="NaT", nonexistent="NaT")
    with pytest.raises(ValueError, match="tz-aware"):
        compat.previous_high_low(aware)


def test_utc_index_equals_naive(frame: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        compat.previous_high_low(frame.tz_localize("UTC"), "4h"),
        reference.previous_high_low(frame, "4h"),
    )


def test_swing_length_domain(frame: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="swing_length"):
        compat.swing_highs_lows(frame, -1)
    with pytest.raises(TypeError):
        compat.swing_highs_lows(frame, 2.5)  # type: ignore[arg-type]


def test_not_a_dataframe() -> None:
    with pytest.raises(TypeError, match="DataFrame"):
        compat.fvg(np.zeros((3, 4)))  # type: ignore[arg-type]


def test_candles_errors() -> None:
    t = 1_700_000_000_000_000_000 + np.array([1, 2, 3], dtype=np.int64)
    with pytest.raises(ValueError, match="column 'low' has 2 rows"):
        ictcore.Candles(t, [1, 2, 3], [1, 2, 3], [1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="column 'close'.*row 1"):
        ictcore.Candles(t, [1, 2, 3], [1, 2, 3], [1, 2, 3], [1, np.nan, 3])
    with pytest.raises(ValueError, match="column 'time'.*row 2.*duplicate"):
        ictcore.Candles(t[[0, 1, 1]], [1, 2, 3], [1, 2, 3], [1, 2, 3], [1, 2, 3])
    # Small integers are no epoch time in any unit: refused, not read as 1970.
    with pytest.raises(ValueError, match="column 'time'.*row 0.*time_unit") as small:
        ictcore.Candles(np.array([1, 2, 3]), [1, 2, 3], [1, 2, 3], [1, 2, 3], [1, 2, 3])
    assert (small.value.column, small.value.row) == ("time", 0)
    with pytest.raises(ValueError, match="column 'time'"):
        ictcore.Candles(np.array([1.5, 2, 3]), [1, 2, 3], [1, 2, 3], [1, 2, 3], [1, 2, 3])


def test_errors_carry_structured_attributes(frame: pd.DataFrame, tmp_path: Path) -> None:
    """Every kind of error carries what a program acts on (``column``, ``row``, ``value``,
    ``parameter``, ``path``, ``symbol``, ``timeframe``), besides its message."""
    bad = frame.copy()
    bad.iloc[40, bad.columns.get_loc("high")] = np.nan
    with pytest.raises(InvalidInputError) as nan:
        ictcore.fvg(bad)
    assert (nan.value.column, nan.value.row) == ("high", 40)
    assert np.isnan(nan.value.value)

    c = ictcore.Candles.from_pandas(frame)
    time = c.time.copy()
    time[10] = time[9]
    with pytest.raises(InvalidInputError) as order:
        ictcore.Candles(time, c.open, c.high, c.low, c.close, c.volume)
    assert (order.value.column, order.value.row) == ("time", 10)

    with pytest.raises(InvalidInputError) as param:
        ictcore.swings(c, left=0)
    assert param.value.parameter == "swings.left"

    with pytest.raises(UnknownNameError) as zone:
        ictcore.sessions(c, zone="Mars/Olympus_Mons")
    assert zone.value.value == "Mars/Olympus_Mons"

    with pytest.raises(MissingColumnError) as missing:
        ictcore.compat.smc.fvg(frame.drop(columns=["close"]))
    assert missing.value.column == "close"

    with pytest.raises(InvalidInputError) as eviction:
        ictcore.AnalysisCache(eviction="fifo")
    assert isinstance(eviction.value, IctError) and eviction.value.parameter == "eviction"

    with pytest.raises(InvalidTypeError):
        ictcore.fvg([1, 2, 3])  # type: ignore[arg-type]

    # In a batch: the series it happened in, and the root cause's details.
    pool = ictcore.DetectorPool(workers=1)
    result = pool.analyze([("EURUSD", "15m", bad)], ["fvg"], progress=False)
    error = result.errors["EURUSD", "15m"]
    assert isinstance(error, InvalidInputError)
    assert (error.symbol, error.timeframe, error.column, error.row) == ("EURUSD", "15m", "high", 40)

    # A damaged file: its path.
    store = ictcore.CandleStore(tmp_path / "store")
    store.write("EURUSD", "15m", frame)
    path = store._store.path("EURUSD", "15m")
    path.write_bytes(b"not a candle file" * 100)
    with pytest.raises(CorruptFileError) as corrupt:
        store.read("EURUSD", "15m")
    assert corrupt.value.path == str(path)

    # Errors raised from Python code take the same details.
    with pytest.raises(InvalidInputError) as on_error:
        pool.analyze([("EURUSD", "15m", frame)], ["fvg"], on_error="return", progress=False)
    assert (on_error.value.parameter, on_error.value.value) == ("on_error", "return")
    assert IctError("x").column is None
