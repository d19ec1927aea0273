"""Re-importing overlapping exports: ``on_overlap="merge"`` (default), ``"replace"`` and
``"error"``; a differing row changes nothing (the series file stays byte-identical)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ictcore import CandleStore
from ictcore.cli import main
from ictcore.exceptions import InvalidInputError

TIMES = pd.date_range("2024-01-02", periods=40, freq="1h", tz="UTC")


def export(path: Path, rows: range, bump: dict[int, float] | None = None) -> Path:
    """An MT5 export of rows ``rows`` of one fixed hourly series (row i always has the
    same values, so two exports agree where they overlap), with ``bump`` changing the
    close of some rows."""
    bump = bump or {}
    lines = ["Date,Open,High,Low,Close,Tickvol"]
    for i in rows:
        o = 1.1 + i * 1e-4
        c = o + 1e-4 + bump.get(i, 0.0)
        lines.append(
            f"{TIMES[i]:%Y.%m.%d %H:%M},{o},{max(o, c) + 1e-4},{min(o, c) - 1e-4},{c},{10 + i}"
        )
    path.write_text("\n".join(lines) + "\n")
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def expected(rows: list[int]) -> pd.DatetimeIndex:
    return TIMES[rows]


@pytest.fixture
def store(tmp_path: Path) -> CandleStore:
    s = CandleStore(tmp_path / "store")
    s.import_csv(export(tmp_path / "first.csv", range(0, 20)), "EURUSD", "1h")
    return s


def test_merge_appends_the_new_rows_of_an_overlapping_export(
    store: CandleStore, tmp_path: Path
) -> None:
    [done] = store.import_csv(export(tmp_path / "again.csv", range(10, 30)), "EURUSD", "1h")
    assert (done.rows, done.added) == (20, 10)
    got = store.read("EURUSD", "1h")
    assert np.array_equal(got.time, TIMES[:30].as_unit("ns").asi8)
    whole = pd.read_csv(export(tmp_path / "all.csv", range(0, 30)))
    assert np.array_equal(got.close, whole["Close"].to_numpy())
    assert np.array_equal(got.volume, whole["Tickvol"].to_numpy(dtype=float))
    # An export wholly inside the series adds nothing and changes nothing.
    before = digest(store.path / "EURUSD" / "1h.ictc")
    [done] = store.import_csv(export(tmp_path / "inside.csv", range(5, 15)), "EURUSD", "1h")
    assert (done.rows, done.added) == (10, 0)
    assert digest(store.path / "EURUSD" / "1h.ictc") == before


def test_merge_fills_gaps_and_earlier_history(store: CandleStore, tmp_path: Path) -> None:
    s = CandleStore(tmp_path / "gappy")
    s.import_csv(export(tmp_path / "a.csv", [*range(5, 10), *range(15, 20)]), "EURUSD", "1h")
    [done] = s.import_csv(export(tmp_path / "b.csv", range(0, 25)), "EURUSD", "1h")
    assert (done.rows, done.added) == (25, 15)
    assert np.array_equal(s.read("EURUSD", "1h").time, TIMES[:25].as_unit("ns").asi8)


def test_a_differing_row_is_named_and_nothing_changes(store: CandleStore, tmp_path: Path) -> None:
    series = store.path / "EURUSD" / "1h.ictc"
    before = digest(series)
    bad = export(tmp_path / "bad.csv", range(15, 30), bump={17: 5e-4})
    with pytest.raises(InvalidInputError, match="differs from the stored one") as info:
        store.import_csv(bad, "EURUSD", "1h")
    err = info.value
    assert err.path == str(bad)
    assert err.row == 2 + (17 - 15)  # header, then rows 15, 16, 17
    text = str(err)
    assert f"{TIMES[17]:%Y-%m-%d %H:%M:%S}" in text
    stored_close = 1.1 + 17 * 1e-4 + 1e-4
    assert f"close={stored_close}" in text and f"close={stored_close + 5e-4}" in text
    assert digest(series) == before
    assert not [p for p in series.parent.iterdir() if "tmp" in p.name]


def test_replace_takes_the_file_over_its_range(store: CandleStore, tmp_path: Path) -> None:
    fixed = export(tmp_path / "fixed.csv", range(5, 10), bump={7: 5e-4})
    [done] = store.import_csv(fixed, "EURUSD", "1h", on_overlap="replace")
    assert done.rows == 5
    got = store.read("EURUSD", "1h")
    assert np.array_equal(got.time, TIMES[:20].as_unit("ns").asi8)
    file_close = pd.read_csv(fixed)["Close"].to_numpy()
    assert np.array_equal(got.close[5:10], file_close)
    assert got.close[7] != pd.read_csv(export(tmp_path / "orig.csv", range(7, 8)))["Close"][0]


def test_error_refuses_any_overlap(store: CandleStore, tmp_path: Path) -> None:
    before = digest(store.path / "EURUSD" / "1h.ictc")
    with pytest.raises(InvalidInputError):
        store.import_csv(
            export(tmp_path / "o.csv", range(15, 25)), "EURUSD", "1h", on_overlap="error"
        )
    assert digest(store.path / "EURUSD" / "1h.ictc") == before
    [done] = store.import_csv(
        export(tmp_path / "p.csv", range(20, 25)), "EURUSD", "1h", on_overlap="error"
    )
    assert done.added == 5


def test_bad_choice_names_the_parameter(store: CandleStore, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="on_overlap") as info:
        store.import_csv(export(tmp_path / "x.csv", range(1)), "EURUSD", "1h", on_overlap="skip")
    assert info.value.parameter == "on_overlap"


def test_the_command_line_merges_and_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "cli"
    first = export(tmp_path / "EURUSD_H1.csv", range(0, 20))
    assert main(["import", str(first), str(store)]) == 0
    export(first, range(10, 30))
    assert main(["import", str(first), str(store)]) == 0
    assert "10 rows added, 10 already stored" in capsys.readouterr().out
    export(first, range(25, 35), bump={26: 1e-3})
    assert main(["import", str(first), str(store)]) == 1
    assert "differs from the stored one" in capsys.readouterr().out
    assert main(["import", str(first), str(store), "--on-overlap", "replace"]) == 0
    assert len(CandleStore(store).read("EURUSD", "1h")) == 35
