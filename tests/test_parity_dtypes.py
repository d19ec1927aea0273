"""compat == smartmoneyconcepts 0.0.27 in every input dtype users hold: float64, float32,
int64 and int32, per column and mixed. The library computes in its input's dtypes
(float32 arithmetic and float32 result columns, int32 volume sums that wrap), so the
comparison is against the library run on the very same frame."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ictcore import AnalysisCache, DetectorPool
from ictcore.compat import caching
from ictcore.testing import ohlcv_frames

from conftest import load_eurusd
from parity import assert_same, compat, reference

pytestmark = pytest.mark.hypothesis

DTYPES = ("float64", "float32", "int64", "int32")
PRICES = ("open", "high", "low", "close")


def in_dtypes(frame: pd.DataFrame, dtypes: dict[str, str], scale: float = 1e5) -> pd.DataFrame:
    """``frame`` with each named column in its dtype; prices are scaled to whole numbers
    first (all four, so candles stay candles) when any price column is an integer one."""
    out = frame.copy()
    if any(dtypes.get(c, "float64").startswith("int") for c in PRICES):
        out[list(PRICES)] = (out[list(PRICES)] * scale).round()
    for column, dtype in dtypes.items():
        out[column] = out[column].astype(dtype)
    return out


Calls = dict[str, Callable[[pd.DataFrame, pd.DataFrame], pd.DataFrame]]
CALLS: Calls = {
    "fvg": lambda lib, f: lib.fvg(f, True),
    "fvg_plain": lambda lib, f: lib.fvg(f),
    "swing_highs_lows": lambda lib, f: lib.swing_highs_lows(f, 5),
    "bos_choch": lambda lib, f: lib.bos_choch(f, lib.swing_highs_lows(f, 5)),
    "ob": lambda lib, f: lib.ob(f, lib.swing_highs_lows(f, 5)),
    "ob_close": lambda lib, f: lib.ob(f, lib.swing_highs_lows(f, 5), close_mitigation=True),
    "liquidity": lambda lib, f: lib.liquidity(f, lib.swing_highs_lows(f, 5)),
    "retracements": lambda lib, f: lib.retracements(f, lib.swing_highs_lows(f, 5)),
    "previous_high_low": lambda lib, f: lib.previous_high_low(f, "4h"),
    "sessions": lambda lib, f: lib.sessions(f, "London", time_zone="UTC+1"),
}


def assert_all_equal(frame: pd.DataFrame, names: tuple[str, ...] = tuple(CALLS)) -> None:
    for name in names:
        expected = CALLS[name](reference, frame)
        got = CALLS[name](compat, frame)
        assert_same(got, expected)
    # The library's own swings frame (float32 Level from float32 prices) fed to compat.
    swings = reference.swing_highs_lows(frame, 5)
    for call in (compat.liquidity, compat.retracements, compat.bos_choch, compat.ob):
        assert_same(call(frame, swings), getattr(reference, call.__name__)(frame, swings))


@pytest.fixture(scope="module")
def eurusd() -> pd.DataFrame:
    return load_eurusd("Tickvol").rename(columns=str.lower)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", tuple(CALLS))
def test_eurusd_in_one_dtype(eurusd: pd.DataFrame, dtype: str, name: str) -> None:
    frame = in_dtypes(eurusd, dict.fromkeys((*PRICES, "volume"), dtype))
    assert_same(CALLS[name](compat, frame), CALLS[name](reference, frame))


MIXES = [
    {"high": "float32"},
    {"low": "float32"},
    {"high": "float32", "low": "float32"},
    {"open": "float32", "close": "float32"},
    {"high": "float32", "low": "float64", "volume": "int32"},
    {"high": "float32", "low": "float32", "volume": "float32"},
    {"high": "int64", "low": "int32", "open": "float32", "close": "float64"},
    {"high": "int32", "low": "int32", "volume": "int64"},
    {"high": "float32", "low": "float32", "open": "int32", "close": "int32", "volume": "int32"},
]


@pytest.mark.parametrize("mix", MIXES, ids=lambda m: ",".join(f"{k}={v}" for k, v in m.items()))
def test_eurusd_mixed_per_column(eurusd: pd.DataFrame, mix: dict[str, str]) -> None:
    assert_all_equal(in_dtypes(eurusd, mix))


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize("dtype", ["int32", "float32", "uint32"])
def test_large_volumes_wrap_or_round_as_the_library_does(eurusd: pd.DataFrame, dtype: str) -> None:
    frame = eurusd.copy()
    frame["volume"] = (frame["volume"] * 1_000_000).astype(dtype)
    swings = reference.swing_highs_lows(frame, 5)
    expected = reference.ob(frame, swings)
    assert_same(compat.ob(frame, swings), expected)
    # The case is real: float64 arithmetic on the same values gives other volumes.
    wide = frame.astype({"volume": "float64"})
    assert not expected["OBVolume"].equals(reference.ob(wide, swings)["OBVolume"])


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_nan_and_infinite_volumes_in_ob(eurusd: pd.DataFrame) -> None:
    frame = eurusd.copy()
    rng = np.random.default_rng(3)
    frame.loc[frame.index[rng.integers(0, len(frame), 2000)], "volume"] = np.nan
    frame.loc[frame.index[rng.integers(0, len(frame), 50)], "volume"] = np.inf
    swings = reference.swing_highs_lows(frame, 5)
    expected = reference.ob(frame, swings)
    assert expected["OBVolume"].isna().sum() > expected["OB"].isna().sum()  # NaN volumes used
    assert_same(compat.ob(frame, swings), expected)


def test_nat_stays_an_error(eurusd: pd.DataFrame) -> None:
    # A deliberate difference (README): a missing time is refused, not computed on.
    frame = eurusd.iloc[:50].copy()
    index = frame.index.to_series()
    index.iloc[10] = pd.NaT
    frame.index = pd.DatetimeIndex(index)
    with pytest.raises(ValueError, match="NaT"):
        compat.sessions(frame, "London")


column_dtypes = st.fixed_dictionaries({c: st.sampled_from(DTYPES) for c in (*PRICES, "volume")})


@given(frame=ohlcv_frames(max_size=300), dtypes=column_dtypes)
def test_generated_frames_in_any_dtypes(frame: pd.DataFrame, dtypes: dict[str, str]) -> None:
    assert_all_equal(in_dtypes(frame, dtypes, scale=100.0))


def test_cached_results_keep_their_dtypes_apart(tmp_path: Path, eurusd: pd.DataFrame) -> None:
    # The same values in float64 and float32 are different computations: a cache must not
    # serve one for the other.
    wide = eurusd.iloc[:3000]
    narrow = in_dtypes(wide, dict.fromkeys(PRICES, "float32"))
    with caching(AnalysisCache(tmp_path / "cache")):
        for frame in (wide, narrow, wide, narrow):
            swings = compat.swing_highs_lows(frame, 5)
            assert_same(swings, reference.swing_highs_lows(frame, 5))
            assert_same(compat.retracements(frame, swings), reference.retracements(frame, swings))
            assert_same(compat.liquidity(frame, swings), reference.liquidity(frame, swings))


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_the_pool_computes_in_the_frames_dtypes(tmp_path: Path, eurusd: pd.DataFrame) -> None:
    # parallel == serial in every dtype: the pool's compat results for an in-memory frame
    # are the library's on that frame, and a cache keeps float64 and float32 apart.
    wide = eurusd.iloc[:4000].copy()
    wide["volume"] = wide["volume"] * 1_000_000
    narrow = in_dtypes(wide, {"high": "float32", "low": "float32", "volume": "int32"})
    pool = DetectorPool(workers=2, cache=AnalysisCache(tmp_path / "cache"))
    for frame in (wide, narrow, narrow):
        result = pool.analyze([("EURUSD", "15m", frame)], progress=False)
        assert not result.errors
        sw = reference.swing_highs_lows(frame, 50)
        expected = {
            "fvg": reference.fvg(frame),
            "swing_highs_lows": sw,
            "bos_choch": reference.bos_choch(frame, sw),
            "ob": reference.ob(frame, sw),
            "liquidity": reference.liquidity(frame, sw),
            "retracements": reference.retracements(frame, sw),
        }
        for name, want in expected.items():
            assert_same(result.frame("EURUSD", "15m", name), want)
