"""Source time zones of CSV imports (``tz=``): DST-correct conversion to UTC across both
transitions in two zones, checked against pandas' own tz database conversion; the
repeated and skipped hours; shifted zones (MetaTrader 5 servers' New York + 7 h clock)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from ictcore import CandleStore, read_csv
from ictcore.cli import main
from ictcore.exceptions import InvalidInputError, InvalidTypeError


def write_mt5(path: Path, wall: pd.DatetimeIndex | list[str]) -> Path:
    """An MT5-style export with the given wall-clock times (prices rise by row)."""
    stamps = [pd.Timestamp(t).strftime("%Y.%m.%d %H:%M") for t in wall]
    lines = ["Date,Open,High,Low,Close,Tickvol"]
    for i, stamp in enumerate(stamps):
        base = 1.1 + i * 1e-4
        lines.append(f"{stamp},{base},{base + 2e-4},{base - 2e-4},{base + 1e-4},{i + 1}")
    path.write_text("\n".join(lines) + "\n")
    return path


def wall_clock(utc: pd.DatetimeIndex, zone: str) -> pd.DatetimeIndex:
    """What a server in ``zone`` prints for these instants (pandas, not ictcore)."""
    return utc.tz_convert(zone).tz_localize(None)


# (zone, UTC instant a little before the spring and the autumn transition of 2024)
TRANSITIONS = [
    ("Europe/Athens", "2024-03-30 20:00", "2024-10-26 20:00"),
    ("America/New_York", "2024-03-10 00:00", "2024-11-02 23:00"),
]


@pytest.mark.parametrize(("zone", "spring", "autumn"), TRANSITIONS)
@pytest.mark.parametrize("freq", ["1h", "15min"])
def test_both_transitions_round_trip(
    tmp_path: Path, zone: str, spring: str, autumn: str, freq: str
) -> None:
    for start in (spring, autumn):
        utc = pd.date_range(start, periods=12 * (4 if freq == "15min" else 1), freq=freq, tz="UTC")
        wall = wall_clock(utc, zone)
        # The autumn file holds the repeated hour twice: its wall clock repeats or goes back.
        if start == autumn:
            assert (np.diff(wall.as_unit("ns").asi8) <= 0).any()
        got = read_csv(write_mt5(tmp_path / "bars.csv", wall), tz=zone)
        assert np.array_equal(got.time, utc.as_unit("ns").asi8), (zone, start)


@pytest.mark.parametrize(("zone", "spring", "autumn"), TRANSITIONS)
def test_a_skipped_time_is_refused_naming_the_line(
    tmp_path: Path, zone: str, spring: str, autumn: str
) -> None:
    # Wall-clock hours straight through the spring gap: one of them does not exist.
    wall = pd.date_range(pd.Timestamp(spring).floor("D"), periods=36, freq="1h")
    gap = [t for t in wall if t.tz_localize(zone, nonexistent="NaT") is pd.NaT]
    assert len(gap) == 1
    line = 2 + list(wall).index(gap[0])
    with pytest.raises(InvalidInputError, match=f"does not exist in {zone}") as info:
        read_csv(write_mt5(tmp_path / "bars.csv", wall), tz=zone)
    assert info.value.row == line
    assert f"{gap[0]:%Y-%m-%d %H:%M:%S}" in str(info.value)


def test_a_repeated_hour_held_once_is_its_first_pass(tmp_path: Path) -> None:
    # A server that merged the repeated hour into one bar stamps it once.
    wall = ["2024-10-27 02:00", "2024-10-27 03:00", "2024-10-27 04:00"]
    got = read_csv(write_mt5(tmp_path / "bars.csv", wall), tz="Europe/Athens")
    expected = pd.DatetimeIndex(wall).tz_localize("Europe/Athens", ambiguous=[True, True, False])
    assert np.array_equal(got.time, expected.tz_convert("UTC").as_unit("ns").asi8)


def test_fixed_offsets_and_tzinfo_objects(tmp_path: Path) -> None:
    wall = pd.date_range("2024-06-01", periods=5, freq="1h")
    path = write_mt5(tmp_path / "bars.csv", wall)
    expected = (wall - pd.Timedelta(hours=3)).as_unit("ns").asi8
    for tz in ("+03:00", "+0300", "+3", dt.timezone(dt.timedelta(hours=3))):
        assert np.array_equal(read_csv(path, tz=tz).time, expected), tz
    athens = read_csv(path, tz=zoneinfo.ZoneInfo("Europe/Athens")).time
    assert np.array_equal(athens, expected)  # EEST in June
    assert np.array_equal(read_csv(path).time, wall.as_unit("ns").asi8)  # default: UTC
    assert np.array_equal(read_csv(path, tz="UTC").time, wall.as_unit("ns").asi8)


def test_new_york_plus_seven_is_the_usual_server_clock(tmp_path: Path) -> None:
    # Between the US (March 10) and EU (March 31) DST starts the two clocks differ by 1 h.
    utc = pd.date_range("2024-03-04", "2024-04-05", freq="4h", tz="UTC")
    server = utc.tz_convert("America/New_York").tz_localize(None) + pd.Timedelta(hours=7)
    path = write_mt5(tmp_path / "bars.csv", server)
    assert np.array_equal(read_csv(path, tz="America/New_York+07:00").time, utc.as_unit("ns").asi8)
    # Read as EET/EEST it would be an hour off for three weeks; here it is not read at all,
    # as the server stamped 03:00 on the day Athens skips it.
    with pytest.raises(InvalidInputError, match="2024-03-31 03:00:00 does not exist"):
        read_csv(path, tz="Europe/Athens")


def test_times_with_their_own_offset_refuse_a_zone(tmp_path: Path) -> None:
    path = tmp_path / "bars.csv"
    path.write_text("time,open,high,low,close\n2024-01-01T00:00:00+02:00,1,2,0.5,1.5\n")
    assert read_csv(path).time[0] == pd.Timestamp("2023-12-31 22:00", tz="UTC").as_unit("ns").value
    with pytest.raises(InvalidInputError, match="carries its own offset") as info:
        read_csv(path, tz="Europe/Athens")
    assert info.value.row == 2


@pytest.mark.parametrize("tz", ["Mars/Olympus", "+15:00", "EET+x", "Europe/Athens+99"])
def test_bad_zones_name_the_parameter(tmp_path: Path, tz: str) -> None:
    path = write_mt5(tmp_path / "bars.csv", ["2024-01-01 00:00"])
    with pytest.raises(InvalidInputError, match="tz") as info:
        read_csv(path, tz=tz)
    assert info.value.parameter == "tz"
    with pytest.raises(InvalidTypeError, match="tz"):
        read_csv(path, tz=3)  # type: ignore[arg-type]


def test_import_and_the_command_line_take_the_zone(tmp_path: Path) -> None:
    utc = pd.date_range("2024-10-26 22:00", periods=8, freq="1h", tz="UTC")
    path = write_mt5(tmp_path / "EURUSD_H1.csv", wall_clock(utc, "Europe/Athens"))
    store = CandleStore(tmp_path / "store")
    [done] = store.import_csv(path, tz="Europe/Athens")
    assert (done.rows, done.added) == (8, 8)
    assert np.array_equal(store.read("EURUSD", "1h").time, utc.as_unit("ns").asi8)
    assert main(["import", str(path), str(tmp_path / "cli"), "--tz", "Europe/Athens"]) == 0
    assert np.array_equal(
        CandleStore(tmp_path / "cli").read("EURUSD", "1h").time, utc.as_unit("ns").asi8
    )


@given(
    zone=st.sampled_from(["Europe/Athens", "America/New_York", "Australia/Sydney", "Asia/Tehran"]),
    start=st.integers(0, 60 * 24 * 365 * 40),
    minutes=st.sampled_from([1, 5, 15, 30, 60]),
    rows=st.integers(1, 400),
)
def test_any_zone_round_trips_like_pandas(
    tmp_path_factory: pytest.TempPathFactory, zone: str, start: int, minutes: int, rows: int
) -> None:
    first = (pd.Timestamp("1990-01-01", tz="UTC") + pd.Timedelta(minutes=start)).floor(
        f"{minutes}min"
    )
    # A file that starts inside the second pass of a repeated hour cannot tell which pass
    # its first row is in (it reads as the first, as the docstring says): not this test.
    first_wall = wall_clock(pd.DatetimeIndex([first]), zone)
    assume(first_wall.tz_localize(zone, ambiguous=np.array([True])).tz_convert("UTC")[0] == first)
    utc = pd.date_range(first, periods=rows, freq=f"{minutes}min")
    path = write_mt5(tmp_path_factory.mktemp("z") / "bars.csv", wall_clock(utc, zone))
    assert np.array_equal(read_csv(path, tz=zone).time, utc.as_unit("ns").asi8)
