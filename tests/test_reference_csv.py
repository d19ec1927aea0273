"""The reference outputs shipped with smartmoneyconcepts, checked the way its own test suite
checks them (read_csv, then assert_frame_equal with check_dtype=False)."""

from __future__ import annotations

import pandas as pd
import pytest

from conftest import DATA
from parity import compat


@pytest.fixture(scope="module")
def frame(eurusd_volume: pd.DataFrame) -> pd.DataFrame:
    return eurusd_volume


def expected(name: str) -> pd.DataFrame:
    return pd.read_csv(DATA / name)


def test_fvg(frame: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        compat.fvg(frame), expected("fvg_result_data.csv"), check_dtype=False
    )
    pd.testing.assert_frame_equal(
        compat.fvg(frame, join_consecutive=True),
        expected("fvg_consecutive_result_data.csv"),
        check_dtype=False,
    )


@pytest.mark.parametrize(
    ("name", "call"),
    [
        ("swing_highs_lows_result_data.csv", lambda f, s: s),
        ("bos_choch_result_data.csv", lambda f, s: compat.bos_choch(f, s)),
        ("ob_result_data.csv", lambda f, s: compat.ob(f, s)),
        ("liquidity_result_data.csv", lambda f, s: compat.liquidity(f, s)),
        ("retracements_result_data.csv", lambda f, s: compat.retracements(f, s)),
    ],
)
def test_swing_based(frame: pd.DataFrame, name: str, call) -> None:  # type: ignore[no-untyped-def]
    swings = compat.swing_highs_lows(frame, swing_length=5)
    pd.testing.assert_frame_equal(call(frame, swings), expected(name), check_dtype=False)


def test_sessions(frame: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        compat.sessions(frame, session="London"),
        expected("sessions_result_data.csv"),
        check_dtype=False,
    )


@pytest.mark.parametrize("time_frame", ["4h", "1D", "W"])
def test_previous_high_low(frame: pd.DataFrame, time_frame: str) -> None:
    pd.testing.assert_frame_equal(
        compat.previous_high_low(frame, time_frame=time_frame),
        expected(f"previous_high_low_result_data_{time_frame}.csv"),
        check_dtype=False,
    )
