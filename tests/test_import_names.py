"""Series names from CSV file names (MetaTrader5's period codes, its "Export bars" names,
minutes and words), and explicit names on the API and the command line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ictcore import CandleStore
from ictcore.cli import main
from ictcore.exceptions import InvalidInputError
from ictcore.store import infer_series

DATA = Path(__file__).parent / "data" / "smc-eurusd" / "EURUSD_15M.csv"

# Every MetaTrader5 period code, and what ictcore calls it.
MT5_PERIODS = {
    "M1": "1m", "M2": "2m", "M3": "3m", "M4": "4m", "M5": "5m", "M6": "6m", "M10": "10m",
    "M12": "12m", "M15": "15m", "M20": "20m", "M30": "30m", "H1": "1h", "H2": "2h",
    "H3": "3h", "H4": "4h", "H6": "6h", "H8": "8h", "H12": "12h", "D1": "1d", "W1": "1w",
    "MN1": "1mo",
}  # fmt: skip


@pytest.mark.parametrize(("code", "timeframe"), MT5_PERIODS.items())
def test_mt5_period_codes_and_export_names(code: str, timeframe: str) -> None:
    assert infer_series(Path(f"EURUSD_{code}.csv")) == ("EURUSD", timeframe)
    export = Path(f"EURUSD_{code}_201704190900_201802021400.csv")
    assert infer_series(export) == ("EURUSD", timeframe)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("EURUSD_60.csv", ("EURUSD", "1h")),
        ("EURUSD_240.csv", ("EURUSD", "4h")),
        ("EURUSD_1440.csv", ("EURUSD", "1d")),
        ("EURUSD_15.csv", ("EURUSD", "15m")),
        ("GOOG_Daily.csv", ("GOOG", "1d")),
        ("GOOG_Weekly.csv", ("GOOG", "1w")),
        ("BTC-USD_1h.csv", ("BTC-USD", "1h")),
        ("EURUSD_15M.csv", ("EURUSD", "15m")),
        ("US_30_H1.csv", ("US_30", "1h")),
    ],
)
def test_common_variants(name: str, expected: tuple[str, str]) -> None:
    assert infer_series(Path(name)) == expected


@pytest.mark.parametrize("name", ["H1.csv", "EURUSD_ZZ.csv", "EURUSD_0.csv", "_H1.csv"])
def test_unreadable_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidInputError, match="symbol=|timeframe="):
        infer_series(Path(name))


def test_explicit_names_on_the_api_and_the_command_line(tmp_path: Path) -> None:
    plain = tmp_path / "bars.csv"
    shutil.copy(DATA, plain)
    with pytest.raises(InvalidInputError):
        CandleStore(tmp_path / "a").import_csv(plain)
    [done] = CandleStore(tmp_path / "a").import_csv(plain, symbol="EURUSD", timeframe="15m")
    assert (done.symbol, done.timeframe) == ("EURUSD", "15m")
    store = tmp_path / "b"
    assert main(["import", str(plain), str(store), "--symbol", "EU", "--timeframe", "15m"]) == 0
    assert [(s.symbol, s.timeframe) for s in CandleStore(store).series()] == [("EU", "15m")]


def test_bars_that_do_not_match_the_named_timeframe_are_refused(tmp_path: Path) -> None:
    """A file named W1 holding 15-minute bars is not stored as weekly: nothing is stored and
    the error names the file and the spacing found."""
    weekly = tmp_path / "EURUSD_W1.csv"
    shutil.copy(DATA, weekly)
    store = CandleStore(tmp_path / "store")
    with pytest.raises(InvalidInputError, match="15m apart.*1w") as info:
        store.import_csv(weekly)
    assert str(weekly) in str(info.value)
    assert store.series() == []
    [done] = store.import_csv(weekly, timeframe="15m")
    assert (done.symbol, done.timeframe) == ("EURUSD", "15m")
