"""Parity with the installed smartmoneyconcepts 0.0.27 on real EURUSD 15m data, for every
function and option, with the zero ``Volume`` column and with ``Tickvol`` as volume."""

from __future__ import annotations

import pandas as pd
import pytest

import ictcore.compat

from parity import SWING_LENGTHS, assert_same, compat, reference


@pytest.fixture(scope="module", params=SWING_LENGTHS)
def swings(request: pytest.FixtureRequest, eurusd: pd.DataFrame):  # type: ignore[no-untyped-def]
    length = request.param
    got = compat.swing_highs_lows(eurusd, length)
    expected = reference.swing_highs_lows(eurusd, length)
    return got, expected


def test_fvg(eurusd: pd.DataFrame) -> None:
    for join in (False, True):
        assert_same(compat.fvg(eurusd, join), reference.fvg(eurusd, join))


def test_swing_highs_lows(swings) -> None:  # type: ignore[no-untyped-def]
    got, expected = swings
    assert_same(got, expected)


@pytest.mark.parametrize("close_break", [True, False])
def test_bos_choch(eurusd: pd.DataFrame, swings, close_break: bool) -> None:  # type: ignore[no-untyped-def]
    got_sw, exp_sw = swings
    assert_same(
        compat.bos_choch(eurusd, got_sw, close_break),
        reference.bos_choch(eurusd, exp_sw, close_break),
    )


@pytest.mark.parametrize("close_mitigation", [False, True])
def test_ob(eurusd: pd.DataFrame, swings, close_mitigation: bool) -> None:  # type: ignore[no-untyped-def]
    got_sw, exp_sw = swings
    assert_same(
        compat.ob(eurusd, got_sw, close_mitigation),
        reference.ob(eurusd, exp_sw, close_mitigation),
    )


@pytest.mark.parametrize("range_percent", [0.0, 0.001, 0.01, 0.05, 0.3])
def test_liquidity(eurusd: pd.DataFrame, swings, range_percent: float) -> None:  # type: ignore[no-untyped-def]
    got_sw, exp_sw = swings
    assert_same(
        compat.liquidity(eurusd, got_sw, range_percent),
        reference.liquidity(eurusd, exp_sw, range_percent),
    )


def test_retracements(eurusd: pd.DataFrame, swings) -> None:  # type: ignore[no-untyped-def]
    got_sw, exp_sw = swings
    assert_same(compat.retracements(eurusd, got_sw), reference.retracements(eurusd, exp_sw))


TIME_FRAMES = [
    "1min", "15min", "45min", "1h", "h", "4h", "7h", "1D", "D", "2D", "3D", "30s",
    "W", "W-SUN", "W-MON", "W-WED", "W-FRI", "ME", "MS", "QE", "QE-JAN", "QE-NOV",
    "QS", "QS-FEB", "YE", "YE-JUN", "YS", "YS-MAR",
]  # fmt: skip


@pytest.mark.parametrize("time_frame", TIME_FRAMES)
def test_previous_high_low(eurusd_volume: pd.DataFrame, time_frame: str) -> None:
    assert_same(
        compat.previous_high_low(eurusd_volume, time_frame),
        reference.previous_high_low(eurusd_volume, time_frame),
    )


SESSIONS = list(ictcore.compat.SESSIONS)


def test_every_built_in_session_is_tested() -> None:
    assert len(SESSIONS) == 8 and "london close kill zone" in SESSIONS


@pytest.mark.parametrize("session", SESSIONS)
def test_sessions_builtin(eurusd_volume: pd.DataFrame, session: str) -> None:
    assert_same(compat.sessions(eurusd_volume, session), reference.sessions(eurusd_volume, session))


@pytest.mark.parametrize(
    ("start", "end"), [("08:30", "11:45"), ("22:00", "02:15"), ("9:5", "9:5"), ("00:00", "23:59")]
)
def test_sessions_custom(eurusd_volume: pd.DataFrame, start: str, end: str) -> None:
    assert_same(
        compat.sessions(eurusd_volume, "Custom", start, end),
        reference.sessions(eurusd_volume, "Custom", start, end),
    )


@pytest.mark.parametrize(
    "time_zone",
    ["UTC+2", "GMT+2", "UTC-5", "GMT+0", "Europe/London", "America/New_York", "Asia/Tokyo"],
)
def test_sessions_time_zones(eurusd_volume: pd.DataFrame, time_zone: str) -> None:
    frame = eurusd_volume
    if time_zone in ("Europe/London", "America/New_York"):
        # The data has no DST-ambiguous or missing wall-clock hours only in some zones; drop
        # them so pandas' localisation (identical in both) does not raise.
        zone = pd.DatetimeIndex(frame.index).tz_localize(
            time_zone, ambiguous="NaT", nonexistent="NaT"
        )
        frame = frame[~zone.isna()]
    for session in ("London", "New York", "Sydney"):
        assert_same(
            compat.sessions(frame, session, time_zone=time_zone),
            reference.sessions(frame, session, time_zone=time_zone),
        )
